//! API keys: a role within a tenant; only the token's SHA-256 is stored.
//!
//! A token is `sy_<id>_<64 hex: 32 random bytes>`. The id finds the key
//! (global index id → tenant); the SHA-256 of the whole token is compared
//! in constant time.

use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sled::Transactional;

use crate::keys::{key, prefix, validate_extension, validate_tenant_id, validate_text};
use crate::{Store, StoreError, decode, encode};
use switchyard_clock::unix_ms;

/// What an API key may do within its tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Supervisor,
    Agent,
}

/// An API key, without its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    /// 16 lower-case hex characters, unique across tenants.
    pub id: String,
    pub tenant: String,
    pub role: Role,
    /// The agent's extension, for keys acting as one.
    pub extension: Option<String>,
    pub name: String,
    pub created_at_ms: u64,
}

#[derive(Serialize, Deserialize)]
struct StoredKey {
    key: ApiKey,
    token_sha256: String,
}

pub trait ApiKeyRepo {
    /// Create a key; returns it and its secret token, which is not stored
    /// and cannot be shown again. The tenant must exist.
    fn create_api_key(
        &self,
        tenant: &str,
        role: Role,
        extension: Option<&str>,
        name: &str,
    ) -> Result<(ApiKey, String), StoreError>;
    /// The key a token belongs to; `None` for an unknown, malformed or
    /// deleted token.
    fn authenticate(&self, token: &str) -> Result<Option<ApiKey>, StoreError>;
    fn list_api_keys(&self, tenant: &str) -> Result<Vec<ApiKey>, StoreError>;
    /// Whether it existed; its token stops authenticating at once.
    fn delete_api_key(&self, tenant: &str, id: &str) -> Result<bool, StoreError>;
}

/// Equal in time independent of where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn token_id(token: &str) -> Option<&str> {
    let rest = token.strip_prefix("sy_")?;
    let (id, secret) = rest.split_once('_')?;
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(id, 16) && hex(secret, 64)).then_some(id)
}

impl ApiKeyRepo for Store {
    fn create_api_key(
        &self,
        tenant: &str,
        role: Role,
        extension: Option<&str>,
        name: &str,
    ) -> Result<(ApiKey, String), StoreError> {
        if let Some(ext) = extension {
            validate_extension(ext)?;
        }
        validate_text("name", name, 200)?;
        self.require_tenant(tenant)?;
        let mut rng = rand::rng();
        let id = hex::encode(rng.random::<[u8; 8]>());
        let token = format!("sy_{id}_{}", hex::encode(rng.random::<[u8; 32]>()));
        let key_rec = ApiKey {
            id: id.clone(),
            tenant: tenant.to_string(),
            role,
            extension: extension.map(str::to_string),
            name: name.to_string(),
            created_at_ms: unix_ms(),
        };
        let stored = encode(&StoredKey {
            key: key_rec.clone(),
            token_sha256: hex::encode(Sha256::digest(token.as_bytes())),
        });
        let k = key(&[tenant.as_bytes(), id.as_bytes()]);
        let t = self.t();
        (&t.api_keys, &t.api_key_ids).transaction(|(keys, ids)| {
            keys.insert(k.as_slice(), stored.as_slice())?;
            ids.insert(id.as_bytes(), tenant.as_bytes())?;
            Ok(())
        })?;
        self.durable()?;
        Ok((key_rec, token))
    }

    fn authenticate(&self, token: &str) -> Result<Option<ApiKey>, StoreError> {
        let Some(id) = token_id(token) else {
            return Ok(None);
        };
        let Some(tenant) = self.t().api_key_ids.get(id.as_bytes())? else {
            return Ok(None);
        };
        let Some(v) = self.t().api_keys.get(key(&[&tenant, id.as_bytes()]))? else {
            return Ok(None);
        };
        let stored: StoredKey = decode(&v)?;
        let want = hex::decode(&stored.token_sha256)
            .map_err(|_| StoreError::Corrupt(format!("API key {id}: hash is not hex")))?;
        let got = Sha256::digest(token.as_bytes());
        Ok(constant_time_eq(&got, &want).then_some(stored.key))
    }

    fn list_api_keys(&self, tenant: &str) -> Result<Vec<ApiKey>, StoreError> {
        validate_tenant_id(tenant)?;
        self.t()
            .api_keys
            .scan_prefix(prefix(&[tenant.as_bytes()]))
            .map(|kv| Ok(decode::<StoredKey>(&kv?.1)?.key))
            .collect()
    }

    fn delete_api_key(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
        validate_tenant_id(tenant)?;
        let k = key(&[tenant.as_bytes(), id.as_bytes()]);
        let t = self.t();
        let existed = (&t.api_keys, &t.api_key_ids).transaction(|(keys, ids)| {
            let existed = keys.remove(k.as_slice())?.is_some();
            if existed {
                ids.remove(id.as_bytes())?;
            }
            Ok(existed)
        })?;
        self.durable()?;
        Ok(existed)
    }
}

#[cfg(test)]
mod tests {
    use super::{constant_time_eq, token_id};

    #[test]
    fn token_shape_is_checked_before_any_lookup() {
        let good = format!("sy_{}_{}", "0123456789abcdef", "a".repeat(64));
        assert_eq!(token_id(&good), Some("0123456789abcdef"));
        assert_eq!(token_id("sy_0123456789abcdef"), None);
        assert_eq!(token_id(&good.replace("sy_", "xx_")), None);
        assert_eq!(token_id(&format!("{good}0")), None);
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
