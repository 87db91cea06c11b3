//! Web widgets: a "call me back" form a tenant puts on its web site, and
//! a "call us" button when it names a number. Each names the queue its
//! callbacks wait in and the web origins allowed to use it
//! (`https://www.example.com`); the host serves the snippet and takes the
//! requests (`switchyard_api`'s `widget` module).

use serde::{Deserialize, Serialize};

use crate::keys::{key, prefix, validate_name, validate_tenant_id, validate_text};
use crate::{Store, StoreError, get_json, list_json};

/// Origins one widget may name.
pub const MAX_WIDGET_ORIGINS: usize = 20;

/// One widget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Widget {
    pub tenant: String,
    pub name: String,
    /// The queue whose callback list the visitor's number joins.
    pub queue: String,
    /// `scheme://host[:port]` of the pages that may use it, exactly as a
    /// browser sends `Origin`.
    pub allowed_origins: Vec<String>,
    /// The form's heading, e.g. "Call me back".
    pub title: String,
    /// Off: the snippet says the service is closed and requests are
    /// refused.
    pub enabled: bool,
    /// The tenant's number a visitor's browser calls with "call us"
    /// (its flow answers, as for a call from outside); `None`: no button.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_to: Option<String>,
}

/// `scheme://host[:port]`, http or https, nothing after.
pub fn validate_origin(origin: &str) -> Result<(), StoreError> {
    let bad = |why: &str| {
        Err(StoreError::invalid(
            "allowed_origins",
            format!("{origin:?} {why} (e.g. https://www.example.com)"),
        ))
    };
    let Some((scheme, rest)) = origin.split_once("://") else {
        return bad("is not an origin");
    };
    if scheme != "http" && scheme != "https" {
        return bad("is not http or https");
    }
    let host_ok = !rest.is_empty()
        && rest.len() <= 253
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    if !host_ok {
        return bad("is not scheme://host[:port] with nothing after");
    }
    Ok(())
}

pub trait WidgetRepo {
    /// Create or replace a widget; the tenant must exist.
    fn put_widget(&self, widget: &Widget) -> Result<(), StoreError>;
    fn get_widget(&self, tenant: &str, name: &str) -> Result<Option<Widget>, StoreError>;
    fn list_widgets(&self, tenant: &str) -> Result<Vec<Widget>, StoreError>;
    fn delete_widget(&self, tenant: &str, name: &str) -> Result<bool, StoreError>;
}

impl WidgetRepo for Store {
    fn put_widget(&self, w: &Widget) -> Result<(), StoreError> {
        validate_tenant_id(&w.tenant)?;
        validate_name("name", &w.name)?;
        validate_name("queue", &w.queue)?;
        validate_text("title", &w.title, 100)?;
        if w.allowed_origins.len() > MAX_WIDGET_ORIGINS {
            return Err(StoreError::invalid(
                "allowed_origins",
                format!("more than {MAX_WIDGET_ORIGINS}"),
            ));
        }
        w.allowed_origins
            .iter()
            .try_for_each(|o| validate_origin(o))?;
        self.require_tenant(&w.tenant)?;
        self.put_durable(
            &self.t().widgets,
            key(&[w.tenant.as_bytes(), w.name.as_bytes()]),
            w,
        )
    }

    fn get_widget(&self, tenant: &str, name: &str) -> Result<Option<Widget>, StoreError> {
        validate_tenant_id(tenant)?;
        validate_name("name", name)?;
        get_json(
            &self.t().widgets,
            &key(&[tenant.as_bytes(), name.as_bytes()]),
        )
    }

    fn list_widgets(&self, tenant: &str) -> Result<Vec<Widget>, StoreError> {
        validate_tenant_id(tenant)?;
        list_json(&self.t().widgets, &prefix(&[tenant.as_bytes()]))
    }

    fn delete_widget(&self, tenant: &str, name: &str) -> Result<bool, StoreError> {
        validate_tenant_id(tenant)?;
        validate_name("name", name)?;
        self.delete_durable(
            &self.t().widgets,
            key(&[tenant.as_bytes(), name.as_bytes()]),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::validate_origin;

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        for ok in [
            "https://www.example.com",
            "http://127.0.0.1:8080",
            "http://[::1]:3000",
        ] {
            assert!(validate_origin(ok).is_ok(), "{ok}");
        }
        for bad in [
            "www.example.com",
            "ftp://example.com",
            "https://example.com/",
            "https://example.com/page",
            "https://",
            "https://exa mple.com",
        ] {
            assert!(validate_origin(bad).is_err(), "{bad}");
        }
    }
}
