//! # crm-rest: a generic REST CRM connector
//!
//! Looks contacts up by phone number (for screen pops and routing) and logs
//! every finished call, against any CRM with a JSON REST API.
//!
//! | setting | default | meaning |
//! |---|---|---|
//! | `base-url` | — (required) | e.g. `https://crm.example.com/api` |
//! | `token` | none | sent as `Authorization: Bearer <token>` |
//! | `lookup-path` | `/contacts?phone={number}` | `{number}` is percent-encoded |
//! | `log-path` | `/calls` | where call records are POSTed |
//! | `fields` | see below | JSON: which response keys hold the contact's fields |
//! | `timeout-ms` | `3000` | per request |
//!
//! A look-up answer may be the contact object itself, an array of contacts
//! (the first is taken), or an object whose `results`, `data`, `contacts` or
//! `items` array holds them; an empty answer or `404` means "unknown
//! number". Any other status is an error that names it.
//!
//! `fields` maps contact fields to response keys (dots reach into nested
//! objects); defaults: `{"id": "id", "name": "name", "company": "company",
//! "email": "email", "owner": "owner", "url": "url", "tags": "tags"}`. When
//! there is no `name`, `first_name` + `last_name` are joined.
//!
//! The host only lets the connector reach the hosts the tenant allowed, and
//! caps time and response size.

use serde::Deserialize;
use serde_json::{Value, json};
use switchyard_sdk::{CallRecord, Contact, CrmConnector, Direction, Disposition, config, http};

/// Where the contact's fields are in a response.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FieldMap {
    pub id: String,
    pub name: String,
    pub company: String,
    pub email: String,
    pub owner: String,
    pub url: String,
    pub tags: String,
}

impl Default for FieldMap {
    fn default() -> Self {
        FieldMap {
            id: "id".into(),
            name: "name".into(),
            company: "company".into(),
            email: "email".into(),
            owner: "owner".into(),
            url: "url".into(),
            tags: "tags".into(),
        }
    }
}

fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, k| v.get(k))
}

fn text(v: &Value, path: &str) -> Option<String> {
    match at(v, path)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The contact object inside a look-up answer, if any.
pub fn first_contact(body: &Value) -> Option<&Value> {
    match body {
        Value::Array(items) => items.first(),
        Value::Object(map) => {
            for key in ["results", "data", "contacts", "items"] {
                if let Some(Value::Array(items)) = map.get(key) {
                    return items.first();
                }
            }
            (!map.is_empty()).then_some(body)
        }
        _ => None,
    }
}

/// Read a contact out of one contact object.
pub fn contact_from(v: &Value, f: &FieldMap) -> Option<Contact> {
    let id = text(v, &f.id)?;
    let name = text(v, &f.name).or_else(|| {
        let parts: Vec<String> = ["first_name", "last_name"]
            .iter()
            .filter_map(|k| text(v, k))
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    })?;
    let tags = match at(v, &f.tags) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|t| t.as_str().map(String::from))
            .collect(),
        Some(Value::String(s)) => s.split(',').map(|t| t.trim().to_string()).collect(),
        _ => Vec::new(),
    };
    let used = [
        &f.id, &f.name, &f.company, &f.email, &f.owner, &f.url, &f.tags,
    ];
    let fields = match v {
        Value::Object(map) => map
            .iter()
            .filter(|(k, _)| !used.iter().any(|u| u.as_str() == k.as_str()))
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k.clone(), s.clone())),
                Value::Number(n) => Some((k.clone(), n.to_string())),
                Value::Bool(b) => Some((k.clone(), b.to_string())),
                _ => None,
            })
            .take(20)
            .collect(),
        _ => Vec::new(),
    };
    Some(Contact {
        id,
        name,
        company: text(v, &f.company),
        email: text(v, &f.email),
        owner: text(v, &f.owner),
        url: text(v, &f.url),
        tags,
        fields,
    })
}

/// `base` + `path` with `{number}` percent-encoded.
pub fn lookup_url(base: &str, path: &str, number: &str) -> String {
    format!(
        "{}{}",
        base.trim_end_matches('/'),
        path.replace("{number}", &http::encode_query_value(number))
    )
}

/// The JSON a call record is logged as.
pub fn call_json(c: &CallRecord) -> Value {
    let direction = match c.direction {
        Direction::Inbound => "inbound",
        Direction::Outbound => "outbound",
        Direction::Internal => "internal",
    };
    let disposition = match c.disposition {
        Disposition::Answered => "answered",
        Disposition::NoAnswer => "no-answer",
        Disposition::Busy => "busy",
        Disposition::Failed => "failed",
        Disposition::Cancelled => "abandoned",
        Disposition::Voicemail => "voicemail",
        Disposition::Rejected => "rejected",
    };
    let talk = c
        .answer_time
        .map(|a| c.end_time.saturating_sub(a) / 1000)
        .unwrap_or(0);
    json!({
        "call_id": c.call_id,
        "direction": direction,
        "from": c.caller.number,
        "from_name": c.caller.display_name,
        "to": c.callee.number,
        "dialled": c.dialled,
        "started_at_ms": c.start_time,
        "answered_at_ms": c.answer_time,
        "ended_at_ms": c.end_time,
        "duration_seconds": c.end_time.saturating_sub(c.start_time) / 1000,
        "talk_seconds": talk,
        "disposition": disposition,
        "agent": c.agent,
        "queue": c.queue,
        "tags": c.tags,
        "recording": c.recording,
    })
}

fn excerpt(body: &[u8]) -> String {
    let t = String::from_utf8_lossy(body);
    let t = t.trim();
    if t.chars().count() > 200 {
        format!("{}…", t.chars().take(200).collect::<String>())
    } else {
        t.to_string()
    }
}

struct Settings {
    base: String,
    token: Option<String>,
    timeout_ms: u32,
}

fn settings() -> Result<Settings, String> {
    Ok(Settings {
        base: config::get("base-url").ok_or("setting `base-url` is not set")?,
        token: config::get("token"),
        timeout_ms: config::parse("timeout-ms")?.unwrap_or(3_000),
    })
}

fn request(s: &Settings, r: http::Request) -> http::Request {
    let r = r
        .timeout_ms(s.timeout_ms)
        .header("accept", "application/json");
    match &s.token {
        Some(t) => r.header("authorization", format!("Bearer {t}")),
        None => r,
    }
}

/// The plugin.
pub struct CrmRest;

impl CrmConnector for CrmRest {
    fn lookup(number: String) -> Result<Option<Contact>, String> {
        let s = settings()?;
        let path = config::get_or("lookup-path", "/contacts?phone={number}");
        let fields: FieldMap = config::json("fields")?.unwrap_or_default();
        let url = lookup_url(&s.base, &path, &number);
        let resp = request(&s, http::get(&url))
            .send()
            .map_err(|e| format!("CRM look-up {url}: {e}"))?;
        match resp.status {
            200..=299 => {
                if resp.body.iter().all(u8::is_ascii_whitespace) {
                    return Ok(None);
                }
                let body: Value = resp.json().map_err(|e| format!("CRM look-up {url}: {e}"))?;
                Ok(first_contact(&body).and_then(|c| contact_from(c, &fields)))
            }
            404 => Ok(None),
            status => Err(format!(
                "CRM answered {status} to the look-up: {}",
                excerpt(&resp.body)
            )),
        }
    }

    fn log_call(call: CallRecord) -> Result<(), String> {
        let s = settings()?;
        let url = format!(
            "{}{}",
            s.base.trim_end_matches('/'),
            config::get_or("log-path", "/calls")
        );
        let req = request(&s, http::post(&url))
            .json(&call_json(&call))
            .map_err(|e| e.to_string())?;
        let resp = req.send().map_err(|e| format!("CRM call log {url}: {e}"))?;
        if (200..300).contains(&resp.status) {
            Ok(())
        } else {
            Err(format!(
                "CRM answered {} to the call log: {}",
                resp.status,
                excerpt(&resp.body)
            ))
        }
    }
}

switchyard_sdk::export_crm_connector!(CrmRest);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_in_common_shapes_give_the_contact() {
        let f = FieldMap::default();
        let one = json!({"id": 7, "name": "Ada Lovelace", "company": "Analytical",
                         "tags": ["vip"], "plan": "gold"});
        for body in [
            one.clone(),
            json!([one.clone()]),
            json!({"results": [one.clone()]}),
            json!({"data": [one.clone()], "total": 1}),
        ] {
            let c = contact_from(first_contact(&body).unwrap(), &f).unwrap();
            assert_eq!(c.id, "7");
            assert_eq!(c.name, "Ada Lovelace");
            assert_eq!(c.company.as_deref(), Some("Analytical"));
            assert_eq!(c.tags, vec!["vip"]);
            assert_eq!(c.fields, vec![("plan".to_string(), "gold".to_string())]);
        }
        assert!(first_contact(&json!([])).is_none());
        assert!(first_contact(&json!({"results": []})).is_none());
    }

    #[test]
    fn field_mapping_reaches_nested_keys_and_joins_names() {
        let f: FieldMap = serde_json::from_str(
            r#"{"id": "contact.uid", "email": "contact.mail", "name": "contact.fullname"}"#,
        )
        .unwrap();
        let v = json!({"contact": {"uid": "u1", "mail": "a@b.c", "fullname": "Grace Hopper"}});
        let c = contact_from(&v, &f).unwrap();
        assert_eq!((c.id.as_str(), c.name.as_str()), ("u1", "Grace Hopper"));
        assert_eq!(c.email.as_deref(), Some("a@b.c"));
        let v = json!({"id": "9", "first_name": "Alan", "last_name": "Turing"});
        assert_eq!(
            contact_from(&v, &FieldMap::default()).unwrap().name,
            "Alan Turing"
        );
        assert!(contact_from(&json!({"name": "no id"}), &FieldMap::default()).is_none());
    }

    #[test]
    fn lookup_urls_encode_the_number() {
        assert_eq!(
            lookup_url(
                "http://127.0.0.1:9000/api/",
                "/contacts?phone={number}",
                "+1 555"
            ),
            "http://127.0.0.1:9000/api/contacts?phone=%2B1%20555"
        );
    }
}
