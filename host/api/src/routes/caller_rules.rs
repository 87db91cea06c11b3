//! `/api/tenants/{tenant}/caller-rules`: block and allow lists by the
//! caller's number or a prefix, applied to calls from outside before the
//! flow plugin. The list is read and replaced whole.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use switchyard_store::{CallerAction, CallerRule, CallerRuleRepo};
use utoipa::ToSchema;

use super::{NumberP, TenantP, changed};
use crate::ApiState;
use crate::auth::{Caller, Need};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult, ErrorBody};

/// One rule. The most specific pattern matching a caller decides: a whole
/// number over a prefix, a longer prefix over a shorter one.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallerRuleBody {
    /// The caller's number as the carrier presents it (`+15550100`), a
    /// prefix ending in `*` (`+1900*`), or `anonymous` (withheld numbers).
    pub pattern: String,
    /// `reject` (486 Busy Here; 603 Decline with `decline`), `message`
    /// (answer, play `prompt`, hang up), `voicemail` (straight to
    /// `mailbox`), or `allow` (past the IVR straight to extension or ring
    /// group `to`, then its voicemail).
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mailbox: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

impl From<CallerRule> for CallerRuleBody {
    fn from(r: CallerRule) -> CallerRuleBody {
        let mut b = CallerRuleBody {
            pattern: r.pattern,
            action: String::new(),
            decline: None,
            prompt: None,
            mailbox: None,
            to: None,
        };
        match r.action {
            CallerAction::Reject { decline } => {
                b.action = "reject".into();
                b.decline = Some(decline);
            }
            CallerAction::Message { prompt } => {
                b.action = "message".into();
                b.prompt = Some(prompt);
            }
            CallerAction::Voicemail { mailbox } => {
                b.action = "voicemail".into();
                b.mailbox = Some(mailbox);
            }
            CallerAction::Allow { to } => {
                b.action = "allow".into();
                b.to = Some(to);
            }
        }
        b
    }
}

fn rule(b: CallerRuleBody) -> ApiResult<CallerRule> {
    let need = |v: Option<String>, field: &'static str| {
        v.ok_or_else(|| ApiError::validation(field, format!("is required with `{}`", b.action)))
    };
    let action = match b.action.as_str() {
        "reject" => CallerAction::Reject {
            decline: b.decline.unwrap_or(false),
        },
        "message" => CallerAction::Message {
            prompt: need(b.prompt.clone(), "prompt")?,
        },
        "voicemail" => CallerAction::Voicemail {
            mailbox: need(b.mailbox.clone(), "mailbox")?,
        },
        "allow" => CallerAction::Allow {
            to: need(b.to.clone(), "to")?,
        },
        other => {
            return Err(ApiError::validation(
                "action",
                format!("{other:?} is not one of reject, message, voicemail, allow"),
            ));
        }
    };
    Ok(CallerRule {
        pattern: b.pattern,
        action,
    })
}

/// The tenant's caller rules.
#[utoipa::path(get, path = "/api/tenants/{tenant}/caller-rules", tag = "caller-rules",
    params(TenantP),
    responses((status = 200, body = [CallerRuleBody]), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
) -> ApiResult<Json<Vec<CallerRuleBody>>> {
    let scope = caller.scope(&s, &p.tenant, Need::Read)?;
    let rules = s.store.caller_rules(scope.id())?;
    Ok(Json(rules.into_iter().map(CallerRuleBody::from).collect()))
}

/// Replace the tenant's caller rules (an empty list removes them all).
#[utoipa::path(put, path = "/api/tenants/{tenant}/caller-rules", tag = "caller-rules",
    params(TenantP), request_body = [CallerRuleBody],
    responses((status = 200, body = [CallerRuleBody]), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn put(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<TenantP>,
    ApiJson(body): ApiJson<Vec<CallerRuleBody>>,
) -> ApiResult<Json<Vec<CallerRuleBody>>> {
    let scope = caller.scope(&s, &p.tenant, Need::Write)?;
    let rules = body.into_iter().map(rule).collect::<ApiResult<Vec<_>>>()?;
    s.store.put_caller_rules(scope.id(), &rules)?;
    changed(&s, scope.id());
    Ok(Json(rules.into_iter().map(CallerRuleBody::from).collect()))
}

/// Who may read or change extension `number`'s own rules: the tenant's
/// admin (both), its supervisors (read), and an agent key of that very
/// extension (both: a person keeps their own block and allow lists).
fn own_list(
    s: &ApiState,
    caller: &Caller,
    tenant: &str,
    number: &str,
    write: bool,
) -> ApiResult<crate::auth::Scope> {
    use switchyard_store::{ExtensionRepo, Role};
    let scope = caller.scope(s, tenant, Need::OwnCalls)?;
    let allowed = match scope.role {
        None | Some(Role::Admin) => true,
        Some(Role::Supervisor) => !write,
        Some(Role::Agent) => scope.extension.as_deref() == Some(number),
    };
    if !allowed {
        return Err(ApiError::forbidden(
            "an extension's caller rules are its own agent key's and the admin's to change \
             (supervisors read them)",
        ));
    }
    super::found(s.store.get_extension(scope.id(), number), || {
        format!("extension {number:?}")
    })?;
    Ok(scope)
}

/// Extension `number`'s own caller rules: `reject` (its block list) and
/// `allow` (its allow list: with any, only the callers it names ring it).
#[utoipa::path(get, path = "/api/tenants/{tenant}/extensions/{number}/caller-rules",
    tag = "caller-rules", params(NumberP),
    responses((status = 200, body = [CallerRuleBody]), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn list_own(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NumberP>,
) -> ApiResult<Json<Vec<CallerRuleBody>>> {
    let scope = own_list(&s, &caller, &p.tenant, &p.number, false)?;
    let rules = s.store.extension_rules(scope.id(), &p.number)?;
    Ok(Json(rules.into_iter().map(CallerRuleBody::from).collect()))
}

/// Replace extension `number`'s own caller rules. They screen calls from
/// outside that would ring it: a caller they keep out is not rung there
/// (alone, the call goes where an unanswered one goes; in a ring group or
/// queue, the others still ring).
#[utoipa::path(put, path = "/api/tenants/{tenant}/extensions/{number}/caller-rules",
    tag = "caller-rules", params(NumberP), request_body = [CallerRuleBody],
    responses((status = 200, body = [CallerRuleBody]), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn put_own(
    caller: Caller,
    State(s): State<ApiState>,
    ApiPath(p): ApiPath<NumberP>,
    ApiJson(body): ApiJson<Vec<CallerRuleBody>>,
) -> ApiResult<Json<Vec<CallerRuleBody>>> {
    let scope = own_list(&s, &caller, &p.tenant, &p.number, true)?;
    // An allow rule here names no destination: the extension is it.
    let body = body
        .into_iter()
        .map(|mut b| {
            if b.action == "allow" && b.to.is_none() {
                b.to = Some(p.number.clone());
            }
            b
        })
        .collect::<Vec<_>>();
    let rules = body.into_iter().map(rule).collect::<ApiResult<Vec<_>>>()?;
    s.store.put_extension_rules(scope.id(), &p.number, &rules)?;
    Ok(Json(rules.into_iter().map(CallerRuleBody::from).collect()))
}
