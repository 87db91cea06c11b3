//! Conference rooms: each tenant's rooms and how they behave. Who is in a
//! room right now is the call engine's, not stored.

use serde::{Deserialize, Serialize};

use crate::keys::{key, prefix, validate_extension_field, validate_name, validate_tenant_id};
use crate::{Store, StoreError, get_json, list_json};

/// A conference room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConferenceRoom {
    pub tenant: String,
    pub name: String,
    /// Digits a participant keys in to join (`#` ends); `None`: none.
    /// Moderators (below) join without it.
    #[serde(default)]
    pub pin: Option<String>,
    /// Extensions that join as moderators (so does a caller the flow's
    /// `conference` action makes one).
    #[serde(default)]
    pub moderators: Vec<String>,
    /// Most participants at once; 0: no limit but the host's.
    #[serde(default)]
    pub max_participants: u32,
    /// Participants other than moderators join muted.
    #[serde(default)]
    pub muted_on_join: bool,
    /// Until a moderator is in, the others hear music and not each other.
    #[serde(default)]
    pub wait_for_moderator: bool,
    /// When the last moderator leaves, everybody is hung up.
    #[serde(default)]
    pub end_when_moderator_leaves: bool,
    /// A joining participant hears how many are in the room.
    #[serde(default = "yes")]
    pub announce_count: bool,
    /// A tone when somebody joins or leaves.
    #[serde(default = "yes")]
    pub tones: bool,
    /// Recorded as one mixed file (with the tenant's recording feature).
    #[serde(default = "yes")]
    pub record: bool,
}

fn yes() -> bool {
    true
}

impl ConferenceRoom {
    /// A room with the defaults: no PIN, no moderators, no limit, join
    /// unmuted, no waiting, count announced, tones, recorded.
    pub fn new(tenant: impl Into<String>, name: impl Into<String>) -> ConferenceRoom {
        ConferenceRoom {
            tenant: tenant.into(),
            name: name.into(),
            pin: None,
            moderators: Vec::new(),
            max_participants: 0,
            muted_on_join: false,
            wait_for_moderator: false,
            end_when_moderator_leaves: false,
            announce_count: true,
            tones: true,
            record: true,
        }
    }
}

pub trait ConferenceRepo {
    /// Create or replace; the tenant must exist.
    fn put_conference(&self, room: &ConferenceRoom) -> Result<(), StoreError>;
    fn get_conference(
        &self,
        tenant: &str,
        name: &str,
    ) -> Result<Option<ConferenceRoom>, StoreError>;
    /// One tenant's rooms, by name.
    fn list_conferences(&self, tenant: &str) -> Result<Vec<ConferenceRoom>, StoreError>;
    /// Whether it existed.
    fn delete_conference(&self, tenant: &str, name: &str) -> Result<bool, StoreError>;
}

impl ConferenceRepo for Store {
    fn put_conference(&self, r: &ConferenceRoom) -> Result<(), StoreError> {
        validate_name("name", &r.name)?;
        if let Some(pin) = &r.pin
            && (!(1..=12).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(StoreError::invalid("pin", "must be 1 to 12 digits"));
        }
        for m in &r.moderators {
            validate_extension_field("moderators", m)?;
        }
        self.require_tenant(&r.tenant)?;
        let k = key(&[r.tenant.as_bytes(), r.name.as_bytes()]);
        self.put_durable(&self.t().conferences, k, r)
    }

    fn get_conference(
        &self,
        tenant: &str,
        name: &str,
    ) -> Result<Option<ConferenceRoom>, StoreError> {
        validate_tenant_id(tenant)?;
        get_json(
            &self.t().conferences,
            &key(&[tenant.as_bytes(), name.as_bytes()]),
        )
    }

    fn list_conferences(&self, tenant: &str) -> Result<Vec<ConferenceRoom>, StoreError> {
        validate_tenant_id(tenant)?;
        list_json(&self.t().conferences, &prefix(&[tenant.as_bytes()]))
    }

    fn delete_conference(&self, tenant: &str, name: &str) -> Result<bool, StoreError> {
        validate_tenant_id(tenant)?;
        validate_name("name", name)?;
        self.delete_durable(
            &self.t().conferences,
            key(&[tenant.as_bytes(), name.as_bytes()]),
        )
    }
}
