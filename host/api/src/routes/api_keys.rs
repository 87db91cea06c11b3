//! `/api/tenants/{tenant}/api-keys`: the operator and the tenant's admins
//! create and revoke keys; the secret is returned once, at creation.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchyard_store::{ApiKey, ApiKeyRepo, ExtensionRepo, Role};
use utoipa::ToSchema;

use super::{IdP, TenantP};
use crate::ApiState;
use crate::auth::{Caller, Need};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult, ErrorBody};

/// A key's role within its tenant.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoleBody {
    /// Configures everything of the tenant.
    Admin,
    /// Reads everything of the tenant, changes no configuration.
    Supervisor,
    /// Sees its own calls; click-to-call from its own extension.
    Agent,
}

impl From<RoleBody> for Role {
    fn from(r: RoleBody) -> Role {
        match r {
            RoleBody::Admin => Role::Admin,
            RoleBody::Supervisor => Role::Supervisor,
            RoleBody::Agent => Role::Agent,
        }
    }
}

impl From<Role> for RoleBody {
    fn from(r: Role) -> RoleBody {
        match r {
            Role::Admin => RoleBody::Admin,
            Role::Supervisor => RoleBody::Supervisor,
            Role::Agent => RoleBody::Agent,
        }
    }
}

/// An API key without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    pub id: String,
    pub role: RoleBody,
    pub extension: Option<String>,
    pub name: String,
    pub created_at_ms: u64,
}

impl From<ApiKey> for ApiKeyView {
    fn from(k: ApiKey) -> ApiKeyView {
        ApiKeyView {
            id: k.id,
            role: k.role.into(),
            extension: k.extension,
            name: k.name,
            created_at_ms: k.created_at_ms,
        }
    }
}

/// A new key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyCreate {
    pub role: RoleBody,
    /// Required for agents: the extension the key acts as.
    pub extension: Option<String>,
    /// What the key is for (a label).
    #[serde(default)]
    pub name: String,
}

/// A created key and its secret token, shown only this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyCreated {
    pub key: ApiKeyView,
    /// `Authorization: Bearer <token>`. Not stored: keep it now.
    pub token: String,
}

/// List the tenant's API keys (no secrets).
#[utoipa::path(get, path = "/api/tenants/{tenant}/api-keys", tag = "api-keys", params(TenantP),
    responses((status = 200, body = [ApiKeyView]), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
) -> ApiResult<Json<Vec<ApiKeyView>>> {
    let scope = caller.scope(&s, &p.tenant, Need::Read)?;
    let keys = s.store.list_api_keys(scope.id())?;
    Ok(Json(keys.into_iter().map(ApiKeyView::from).collect()))
}

/// Create an API key; the response holds its secret, once.
#[utoipa::path(post, path = "/api/tenants/{tenant}/api-keys", tag = "api-keys", params(TenantP),
    request_body = ApiKeyCreate,
    responses((status = 201, body = ApiKeyCreated), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn create(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
    ApiJson(body): ApiJson<ApiKeyCreate>,
) -> ApiResult<(StatusCode, Json<ApiKeyCreated>)> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    if let Some(ext) = &body.extension {
        if s.store.get_extension(scope.id(), ext)?.is_none() {
            return Err(ApiError::validation(
                "extension",
                format!("{ext:?} is not an extension of this tenant"),
            ));
        }
    } else if matches!(body.role, RoleBody::Agent) {
        return Err(ApiError::validation(
            "extension",
            "an agent key acts as an extension: give one",
        ));
    }
    let (key, token) = s.store.create_api_key(
        scope.id(),
        body.role.into(),
        body.extension.as_deref(),
        &body.name,
    )?;
    Ok((
        StatusCode::CREATED,
        Json(ApiKeyCreated {
            key: key.into(),
            token,
        }),
    ))
}

/// Revoke an API key: its token stops working at once.
#[utoipa::path(delete, path = "/api/tenants/{tenant}/api-keys/{id}", tag = "api-keys",
    params(IdP),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<IdP>,
) -> ApiResult<StatusCode> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    if s.store.delete_api_key(scope.id(), &p.id)? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no API key {:?}", p.id)))
    }
}
