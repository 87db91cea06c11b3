//! Bearer tokens, tenant scoping and roles.
//!
//! The order of checks is what keeps tenants apart: first "is this the
//! caller's tenant at all" (no → 404, exactly as for a tenant that does not
//! exist), only then "may this role do this" (no → 403). A key of tenant A
//! therefore learns nothing about tenant B, not even that it exists.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use switchyard_store::{ApiKey, ApiKeyRepo, Role, StoreError, Tenant, TenantRepo};

use crate::ApiState;
use crate::error::{ApiError, ApiResult};

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Caller {
    /// The operator token: everything.
    Operator,
    /// A tenant API key.
    Key(ApiKey),
}

/// Equal in time independent of where the inputs differ, so the operator
/// token cannot be guessed byte by byte from response times.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token of an `Authorization` header value with the Bearer scheme.
///
/// RFC 7235 2.1: `credentials = auth-scheme [ 1*SP token68 ]`, and the
/// scheme is case-insensitive, so `bearer`, `BEARER` and several spaces
/// are all the same header; clients and proxies do send them. A token68
/// has no whitespace inside, so anything after a second word is refused
/// rather than silently cut off.
pub fn bearer_token(value: &str) -> Option<&str> {
    let value = value.trim_matches([' ', '\t']);
    let (scheme, rest) = value.split_once([' ', '\t'])?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = rest.trim_start_matches([' ', '\t']);
    if token.is_empty() || token.contains([' ', '\t']) {
        return None;
    }
    Some(token)
}

/// Whether `token` is the operator token; an empty operator token never
/// matches.
pub(crate) fn is_operator_token(token: &str, operator_token: &str) -> bool {
    !operator_token.is_empty() && constant_time_eq(token.as_bytes(), operator_token.as_bytes())
}

/// Whether a request's headers carry the operator token, for routes the
/// server serves beside the API (`/metrics`) that only the operator may
/// read.
pub fn is_operator(headers: &axum::http::HeaderMap, operator_token: &str) -> bool {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .is_some_and(|t| is_operator_token(t, operator_token))
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> ApiResult<Caller> {
        // Already authenticated by `guard` for this request.
        if let Some(c) = parts.extensions.get::<Caller>() {
            return Ok(c.clone());
        }
        let Some(header) = parts.headers.get(AUTHORIZATION) else {
            // The console's session cookie stands in for a key.
            return crate::console::caller_from_cookie(state, &parts.method, &parts.headers)
                .unwrap_or_else(|| {
                    Err(ApiError::unauthorized(
                        "missing Authorization: Bearer <token> header (or a console session)",
                    ))
                });
        };
        let token = header.to_str().ok().and_then(bearer_token).ok_or_else(|| {
            ApiError::unauthorized("the Authorization header must be `Bearer <token>`")
        })?;
        if is_operator_token(token, &state.operator_token) {
            return Ok(Caller::Operator);
        }
        match state.store.authenticate(token)? {
            Some(key) => Ok(Caller::Key(key)),
            None => Err(ApiError::unauthorized("invalid or revoked token")),
        }
    }
}

/// Middleware on every route but the OpenAPI document: authenticates
/// (401), and refuses a tenant key anything under another tenant's path
/// with the 404 of a missing tenant. It runs before the handler's
/// extractors, so a request into another tenant learns nothing from body
/// validation either (no 400 or 415 before the 404).
pub(crate) async fn guard(State(s): State<ApiState>, req: Request, next: Next) -> Response {
    if req.uri().path() == "/api/openapi.json" {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let caller = match Caller::from_request_parts(&mut parts, &s).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    if let Caller::Key(k) = &caller
        && let Some(rest) = parts.uri.path().strip_prefix("/api/tenants/")
    {
        // The raw segment: tenant ids are slugs, so a percent-encoded
        // segment never equals one (a spurious 404, never a way in).
        let segment = rest.split('/').next().unwrap_or_default();
        if segment != k.tenant {
            return no_tenant(segment).into_response();
        }
    }
    parts.extensions.insert(caller);
    next.run(Request::from_parts(parts, body)).await
}

/// What a tenant route needs from the caller's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Read configuration, recordings, all calls: admin, supervisor.
    Read,
    /// Change configuration: admin.
    Write,
    /// Act on live calls (hang up): admin, supervisor.
    Operate,
    /// Call records and live calls, filtered to the agent's own for agents:
    /// every role.
    OwnCalls,
}

/// A caller admitted to one tenant.
#[derive(Debug, Clone)]
pub struct Scope {
    pub tenant: Tenant,
    /// `None` for the operator.
    pub role: Option<Role>,
    /// The key's extension (agents act as it).
    pub extension: Option<String>,
}

impl Scope {
    pub fn id(&self) -> &str {
        &self.tenant.id
    }

    /// For an agent key, the extension its view is limited to; `None` for
    /// every other caller (who see everything of the tenant).
    pub fn agent_filter(&self) -> ApiResult<Option<&str>> {
        match self.role {
            Some(Role::Agent) => self.extension.as_deref().map(Some).ok_or_else(|| {
                ApiError::forbidden("this agent key has no extension, so it has no calls")
            }),
            _ => Ok(None),
        }
    }
}

fn no_tenant(id: &str) -> ApiError {
    ApiError::not_found(format!("no tenant {id:?}"))
}

/// Load the tenant, mapping an id that cannot exist to the same 404 as one
/// that does not.
fn load_tenant(state: &ApiState, id: &str) -> ApiResult<Tenant> {
    match state.store.get_tenant(id) {
        Ok(Some(t)) => Ok(t),
        Ok(None) | Err(StoreError::Invalid { .. }) => Err(no_tenant(id)),
        Err(e) => Err(e.into()),
    }
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Admin => "admin",
        Role::Supervisor => "supervisor",
        Role::Agent => "agent",
    }
}

impl Caller {
    /// Admit the caller to `tenant` for `need`: 404 for another tenant's
    /// key (checked before anything else), 403 for a role short of `need`.
    pub fn scope(&self, state: &ApiState, tenant: &str, need: Need) -> ApiResult<Scope> {
        let (role, extension) = match self {
            Caller::Operator => (None, None),
            Caller::Key(k) if k.tenant != tenant => return Err(no_tenant(tenant)),
            Caller::Key(k) => (Some(k.role), k.extension.clone()),
        };
        let t = load_tenant(state, tenant)?;
        if let Some(r) = role {
            let allowed = match need {
                Need::Write => r == Role::Admin,
                Need::Read | Need::Operate => r != Role::Agent,
                Need::OwnCalls => true,
            };
            if !allowed {
                let what = match need {
                    Need::Write => "change configuration",
                    Need::Read => "read this (agents see only their own calls)",
                    Need::Operate => "act on calls",
                    Need::OwnCalls => unreachable!("every role may"),
                };
                return Err(ApiError::forbidden(format!(
                    "a key with role {} may not {what}",
                    role_name(r)
                )));
            }
        }
        Ok(Scope {
            tenant: t,
            role,
            extension,
        })
    }

    /// Operator-only routes that are not about one tenant (`/api/tenants`).
    pub fn require_operator(&self) -> ApiResult<()> {
        match self {
            Caller::Operator => Ok(()),
            Caller::Key(_) => Err(ApiError::forbidden(
                "only the operator token may do this (tenants and plans are the operator's)",
            )),
        }
    }

    /// Operator-only routes about one tenant: another tenant's key gets the
    /// 404 of a missing tenant, the tenant's own keys a 403.
    pub fn require_operator_for(&self, state: &ApiState, tenant: &str) -> ApiResult<Tenant> {
        match self {
            Caller::Key(k) if k.tenant != tenant => Err(no_tenant(tenant)),
            Caller::Key(_) => Err(ApiError::forbidden(
                "only the operator token may do this (tenants and plans are the operator's)",
            )),
            Caller::Operator => load_tenant(state, tenant),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_spaces_are_free() {
        for v in [
            "Bearer tok",
            "bearer tok",
            "BEARER tok",
            "bEaReR   tok",
            "Bearer\ttok",
            " Bearer tok ",
        ] {
            assert_eq!(bearer_token(v), Some("tok"), "{v:?}");
        }
        for v in [
            "Bearer",
            "Bearer ",
            "Basic dG9rOg==",
            "Bearertok",
            "Bearer tok extra",
            "",
        ] {
            assert_eq!(bearer_token(v), None, "{v:?}");
        }
    }
}
