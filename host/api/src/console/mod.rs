//! The web console (`web/console`), served at `/` on the HTTP port, and the
//! sessions it signs in with.
//!
//! * `GET /` — the page; `GET /console/console.js`, `/console/console.css`
//!   — its script (Chart.js, JsSIP and the pages, bundled by esbuild when
//!   this crate was built) and style. Nothing is loaded from elsewhere.
//!   With `SWITCHYARD_CONSOLE_DIR` set, they are read from that directory
//!   at every request instead (`node build.mjs DIR` in `web/console`), to
//!   work on the console without rebuilding the host.
//! * `POST /console/session` — sign in with an extension and its SIP
//!   password (`{"method": "extension", "tenant": "demo.localhost",
//!   "extension": "1002", "password": "…"}`: role `agent`, or
//!   `supervisor` for an extension with the supervisor flag), a tenant API
//!   key (`{"method": "key", "key": "…"}`: the key's role), or the
//!   operator token (`{"method": "operator", "token": "…"}`). The answer
//!   sets the cookie `switchyard_session` (`HttpOnly`, `SameSite=Strict`,
//!   `Path=/`, `Secure` over HTTPS, `Max-Age` of a shift) and tells the
//!   page who it is and its CSRF token.
//! * `GET /console/session` — the same, for a page that is reloaded (204
//!   without a live session). `DELETE /console/session` signs out.
//!
//! With the cookie, every `/api` route takes the session as it takes a
//! bearer key ([`crate::auth`]): same tenant scoping, same roles. A
//! request that changes something (any method but GET, HEAD and OPTIONS)
//! must also carry the session's token in `X-CSRF-Token`, and, when it
//! has an `Origin`, come from this host: a page of another site can make
//! the browser send the cookie (SameSite aside) but can neither read the
//! token nor forge its origin.

pub mod sessions;

use std::sync::OnceLock;

use axum::Json;
use axum::extract::State;
use axum::http::header::{COOKIE, HOST, ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use switchyard_store::{ApiKey, ApiKeyRepo, ExtensionRepo, Role, TenantRepo};

use crate::ApiState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::phone::Asset;
use sessions::{ABSOLUTE_MS, Credential, Session};

/// The cookie's name.
pub const COOKIE_NAME: &str = "switchyard_session";

/// Marks a request that came in over TLS (the server's HTTPS listener adds
/// it), so the session cookie is `Secure` there.
#[derive(Debug, Clone, Copy)]
pub struct OverTls;

/// The page, its script and its style, built into `OUT_DIR/console`.
const INDEX_HTML: &str = include_str!(concat!(env!("OUT_DIR"), "/console/index.html"));
const CONSOLE_JS: &str = include_str!(concat!(env!("OUT_DIR"), "/console/console.js"));
const CONSOLE_CSS: &str = include_str!(concat!(env!("OUT_DIR"), "/console/console.css"));

/// Scripts and styles from this host only, no inline ones; recordings and
/// prompts play from the API (`media-src 'self'`), the browser phone's
/// audio from WebRTC streams; SIP over WebSocket to this host.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self' ws: wss:; media-src 'self' blob: mediastream:; img-src 'self' data:; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub(crate) fn router() -> axum::Router<ApiState> {
    axum::Router::new()
        .route("/", get(index))
        .route("/console/console.js", get(script))
        .route("/console/console.css", get(style))
        .route("/console/session", get(who).post(sign_in).delete(sign_out))
}

/// A file of the console: from `SWITCHYARD_CONSOLE_DIR` when set, else
/// the one built in.
fn serve(
    cell: &'static OnceLock<Asset>,
    name: &str,
    built: &'static str,
    ty: &'static str,
    headers: &HeaderMap,
) -> Response {
    if let Some(dir) = std::env::var_os("SWITCHYARD_CONSOLE_DIR") {
        return match std::fs::read(std::path::Path::new(&dir).join(name)) {
            Ok(body) => Asset::with_csp(body.into(), ty, CSP).reply(headers),
            Err(e) => {
                ApiError::not_found(format!("SWITCHYARD_CONSOLE_DIR/{name}: {e}")).into_response()
            }
        };
    }
    cell.get_or_init(|| Asset::with_csp(built.as_bytes().into(), ty, CSP))
        .reply(headers)
}

async fn index(headers: HeaderMap) -> Response {
    static A: OnceLock<Asset> = OnceLock::new();
    serve(
        &A,
        "index.html",
        INDEX_HTML,
        "text/html; charset=utf-8",
        &headers,
    )
}

async fn script(headers: HeaderMap) -> Response {
    static A: OnceLock<Asset> = OnceLock::new();
    let ty = "text/javascript; charset=utf-8";
    serve(&A, "console.js", CONSOLE_JS, ty, &headers)
}

async fn style(headers: HeaderMap) -> Response {
    static A: OnceLock<Asset> = OnceLock::new();
    serve(
        &A,
        "console.css",
        CONSOLE_CSS,
        "text/css; charset=utf-8",
        &headers,
    )
}

/// How the page signs in.
#[derive(Debug, Deserialize)]
#[serde(tag = "method", rename_all = "kebab-case")]
enum SignIn {
    Extension {
        /// The tenant's id or one of its SIP domains.
        tenant: String,
        extension: String,
        password: String,
    },
    Key {
        key: String,
    },
    Operator {
        token: String,
    },
}

/// Who the session is, as the page needs it.
#[derive(Debug, Serialize)]
pub struct SessionView {
    /// `operator`, `admin`, `supervisor` or `agent`.
    pub role: &'static str,
    /// `None` for the operator.
    pub tenant: Option<String>,
    /// The agent's (or supervisor's) extension.
    pub extension: Option<String>,
    /// The key's name or the extension's display name.
    pub name: Option<String>,
    /// The tenant's SIP domain, for the browser phone.
    pub domain: Option<String>,
    /// The tenant's IANA time zone: "today" on the wallboard and in
    /// reports is the tenant's day.
    pub time_zone: Option<String>,
    /// The tenant's pause reasons, for the agents' Pause menus.
    pub pause_reasons: Vec<String>,
    /// Send it back in `X-CSRF-Token`.
    pub csrf: String,
    /// ms since the Unix epoch; later with use, never past a shift.
    pub expires_ms: u64,
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Admin => "admin",
        Role::Supervisor => "supervisor",
        Role::Agent => "agent",
    }
}

fn view(state: &ApiState, caller: &Caller, session: &Session) -> SessionView {
    let (role, tenant, extension, name) = match caller {
        Caller::Operator => ("operator", None, None, None),
        Caller::Key(k) => (
            role_name(k.role),
            Some(k.tenant.clone()),
            k.extension.clone(),
            Some(k.name.clone()),
        ),
    };
    let t = tenant
        .as_deref()
        .and_then(|t| state.store.get_tenant(t).ok().flatten());
    SessionView {
        role,
        tenant,
        extension,
        name,
        domain: t.as_ref().and_then(|t| t.domains.first().cloned()),
        time_zone: t.as_ref().map(|t| t.time_zone.clone()),
        pause_reasons: t.map(|t| t.pause_reasons).unwrap_or_default(),
        csrf: session.csrf.clone(),
        expires_ms: session.expires_ms(),
    }
}

fn cookie_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE_NAME)
        .map(|c| c.value().to_string())
}

fn set_cookie(value: &str, max_age_secs: i64, secure: bool) -> String {
    cookie::Cookie::build((COOKIE_NAME, value.to_string()))
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .path("/")
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(max_age_secs))
        .build()
        .to_string()
}

fn unauthorized(why: &str) -> ApiError {
    ApiError::unauthorized(why.to_string())
}

/// The caller a session stands for, checked again against the store: a
/// revoked key or a changed password ends it.
fn resolve(state: &ApiState, credential: &Credential) -> ApiResult<Caller> {
    match credential {
        Credential::Operator => Ok(Caller::Operator),
        Credential::Key { token } => match state.store.authenticate(token)? {
            Some(k) => Ok(Caller::Key(k)),
            None => Err(unauthorized(
                "the key this session signed in with was revoked",
            )),
        },
        Credential::Extension {
            tenant,
            number,
            ha1_md5,
        } => match state.store.get_extension(tenant, number)? {
            Some(e) if crate::auth::constant_time_eq(e.ha1_md5.as_bytes(), ha1_md5.as_bytes()) => {
                Ok(Caller::Key(ApiKey {
                    id: "session".into(),
                    tenant: tenant.clone(),
                    role: if e.supervisor {
                        Role::Supervisor
                    } else {
                        Role::Agent
                    },
                    extension: Some(number.clone()),
                    name: e.display_name.unwrap_or_else(|| number.clone()),
                    created_at_ms: e.created_at_ms,
                }))
            }
            _ => Err(unauthorized(
                "the extension's password changed or it was deleted: sign in again",
            )),
        },
    }
}

/// The caller of a request that carries the session cookie and no
/// `Authorization` header: `None` without the cookie. A request that
/// changes something needs the CSRF token and, with an `Origin`, this
/// host's.
pub(crate) fn caller_from_cookie(
    state: &ApiState,
    method: &Method,
    headers: &HeaderMap,
) -> Option<ApiResult<Caller>> {
    let id = cookie_id(headers)?;
    let now = switchyard_clock::unix_ms();
    let Some(session) = state.sessions.get(&id, now) else {
        return Some(Err(unauthorized(
            "the session has ended (signed out or expired): sign in again",
        )));
    };
    if !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        && let Err(e) = csrf_ok(headers, &session)
    {
        return Some(Err(e));
    }
    Some(resolve(state, &session.credential))
}

fn csrf_ok(headers: &HeaderMap, session: &Session) -> ApiResult<()> {
    let token = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !crate::auth::constant_time_eq(token.as_bytes(), session.csrf.as_bytes()) {
        return Err(ApiError::forbidden(
            "a change made with the session cookie needs the session's X-CSRF-Token header",
        ));
    }
    if let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = headers
            .get(HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or(origin);
        if origin_host != host {
            return Err(ApiError::forbidden(format!(
                "a change made with the session cookie must come from this host's pages, \
                 not from {origin}"
            )));
        }
    }
    Ok(())
}

/// The extension sign-in: the tenant by id or SIP domain, the password
/// against the stored HA1 (the registrar's), at most
/// [`sessions::MAX_FAILURES`] wrong ones per extension per window.
fn extension_credential(
    state: &ApiState,
    tenant: &str,
    number: &str,
    password: &str,
    now: u64,
) -> ApiResult<Credential> {
    let wrong = || unauthorized("wrong tenant, extension or password");
    let tenant = tenant.trim().to_ascii_lowercase();
    let t = match state.store.get_tenant(&tenant) {
        Ok(Some(t)) => Some(t),
        _ => state.store.tenant_by_domain(&tenant).ok().flatten(),
    }
    .ok_or_else(wrong)?;
    let account = format!("ext:{}:{number}", t.id);
    if !state.sessions.may_try(&account, now) {
        return Err(ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            kind: "too_many_requests",
            message: format!(
                "too many wrong passwords for this extension: try again in {} minutes",
                sessions::FAILURE_WINDOW_MS / 60_000
            ),
            field: None,
        });
    }
    let realm = t.domains.first().ok_or_else(wrong)?;
    let ext = match state.store.get_extension(&t.id, number) {
        Ok(Some(e)) => e,
        _ => {
            state.sessions.failed(&account, now);
            return Err(wrong());
        }
    };
    let given = switchyard_sip::auth::StoredCredentials::from_password(number, realm, password);
    if !crate::auth::constant_time_eq(given.ha1_md5.as_bytes(), ext.ha1_md5.as_bytes()) {
        state.sessions.failed(&account, now);
        return Err(wrong());
    }
    state.sessions.succeeded(&account);
    Ok(Credential::Extension {
        tenant: t.id,
        number: number.to_string(),
        ha1_md5: ext.ha1_md5,
    })
}

async fn sign_in(
    State(s): State<ApiState>,
    tls: Option<axum::Extension<OverTls>>,
    crate::error::ApiJson(body): crate::error::ApiJson<SignIn>,
) -> ApiResult<Response> {
    let now = switchyard_clock::unix_ms();
    let credential = match body {
        SignIn::Extension {
            tenant,
            extension,
            password,
        } => extension_credential(&s, &tenant, &extension, &password, now)?,
        SignIn::Key { key } => {
            if s.store.authenticate(&key)?.is_none() {
                return Err(unauthorized("invalid or revoked API key"));
            }
            Credential::Key { token: key }
        }
        SignIn::Operator { token } => {
            if !crate::auth::is_operator_token(&token, &s.operator_token) {
                return Err(unauthorized("that is not the operator token"));
            }
            Credential::Operator
        }
    };
    let caller = resolve(&s, &credential)?;
    let (id, session) = s.sessions.create(credential, now);
    let cookie = set_cookie(&id, (ABSOLUTE_MS / 1000) as i64, tls.is_some());
    Ok((
        StatusCode::CREATED,
        [(SET_COOKIE, cookie)],
        Json(view(&s, &caller, &session)),
    )
        .into_response())
}

/// Who is signed in: 204 for nobody (not an error: the page asks before
/// anybody signed in, and a browser logs every 4xx as an error).
async fn who(State(s): State<ApiState>, headers: HeaderMap) -> ApiResult<Response> {
    let session =
        cookie_id(&headers).and_then(|id| s.sessions.get(&id, switchyard_clock::unix_ms()));
    let Some(session) = session else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    match resolve(&s, &session.credential) {
        Ok(caller) => Ok(Json(view(&s, &caller, &session)).into_response()),
        Err(_) => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

async fn sign_out(
    State(s): State<ApiState>,
    tls: Option<axum::Extension<OverTls>>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if let Some(id) = cookie_id(&headers)
        && let Some(session) = s.sessions.get(&id, switchyard_clock::unix_ms())
    {
        csrf_ok(&headers, &session)?;
        s.sessions.remove(&id);
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(SET_COOKIE, set_cookie("", 0, tls.is_some()))],
    )
        .into_response())
}
