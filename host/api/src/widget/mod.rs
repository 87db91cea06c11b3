//! The public side of web widgets: what a visitor's browser reaches, with
//! no API key.
//!
//! * `GET /widget/{tenant}/{name}/widget.js` — the snippet a tenant puts on
//!   its pages: a "call me back" form.
//! * `POST /widget/{tenant}/{name}/token` — a token for the page's origin,
//!   good once for 10 minutes.
//! * `POST /widget/{tenant}/{name}/callback` — `{"number": "+44…",
//!   "token": "…"}`: the number joins the widget's queue as a callback
//!   that waits its turn (202).
//! * `POST /widget/{tenant}/{name}/call` — `{"token": "…"}`: "call us": a
//!   ticket for one browser call to the widget's number, with where to
//!   send it (the SIP WebSocket and domain); the INVITE carries it.
//! * `GET /widget/call.js` — the browser side of "call us" (JsSIP,
//!   bundled at build time with the browser phone), loaded by the snippet
//!   when the visitor presses the button.
//!
//! The POSTs answer only pages of the widget's allowed origins (their
//! `Origin`, with CORS headers for them alone; a preflight `OPTIONS` is
//! answered the same way) and are counted ([`guard`]): per visitor
//! address, per tenant, per number. Errors are the API's JSON errors.

pub mod guard;

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, CACHE_CONTROL, CONTENT_TYPE, ORIGIN, VARY,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use switchyard_store::{Feature, StoreError, TenantRepo, Widget, WidgetRepo};

use crate::error::ApiError;
use crate::{ApiState, CallActionError, plan_gate};

/// The tokens and counts of this host's widgets.
pub struct WidgetGuard(Mutex<guard::Guard>);

impl WidgetGuard {
    /// With a fresh random key: tokens do not outlive the process (they
    /// last minutes anyway).
    pub fn new() -> WidgetGuard {
        WidgetGuard(Mutex::new(guard::Guard::new(
            rand::random(),
            Instant::now(),
        )))
    }
}

impl Default for WidgetGuard {
    fn default() -> WidgetGuard {
        WidgetGuard::new()
    }
}

/// The public routes.
pub(crate) fn router() -> axum::Router<ApiState> {
    axum::Router::new()
        .route("/widget/{tenant}/{name}/widget.js", get(snippet))
        .route(
            "/widget/{tenant}/{name}/token",
            post(token).options(preflight),
        )
        .route(
            "/widget/{tenant}/{name}/callback",
            post(callback).options(preflight),
        )
        .route(
            "/widget/{tenant}/{name}/call",
            post(call).options(preflight),
        )
        .route("/widget/call.js", get(call_script))
}

/// The browser side of "call us": JsSIP and a few lines, built with the
/// browser phone (`web/phone/src/webcall.js`).
async fn call_script() -> Response {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=300"),
        ],
        crate::phone::WEBCALL_JS,
    )
        .into_response()
}

/// A POST from a visitor's page: the widget, the page's origin, the
/// visitor's address and the JSON body — or the answer already made
/// (404, 403 for another origin, 413, 400).
struct Posted<T> {
    widget: Widget,
    origin: String,
    from: String,
    body: T,
}

async fn posted<T: serde::de::DeserializeOwned>(
    s: &ApiState,
    p: &WidgetP,
    req: Request,
) -> Result<Posted<T>, Response> {
    let from = address(req.extensions().get::<ConnectInfo<SocketAddr>>());
    let (widget, origin) = widget_for(s, p, req.headers()).map_err(IntoResponse::into_response)?;
    let bytes = axum::body::to_bytes(req.into_body(), 4096)
        .await
        .map_err(|_| cors(&origin, ApiError::too_large("the request is too large")))?;
    let body = serde_json::from_slice(&bytes)
        .map_err(|e| cors(&origin, ApiError::invalid_json(e.to_string())))?;
    Ok(Posted {
        widget,
        origin,
        from,
        body,
    })
}

/// Spend the page's `token` for this widget and origin, then count the
/// request under each `(key, limit, window, what)`; the answer to send
/// when either refuses (403 saying why, 429 naming `what`), `None` when
/// the request may go on.
fn spend_and_count(
    s: &ApiState,
    w: &Widget,
    origin: &str,
    from: &str,
    token: &str,
    checks: &[(String, u32, Duration, &str)],
) -> Option<Response> {
    let now = Instant::now();
    let mut g = s.widgets.0.lock().expect("widget guard lock");
    let scope = format!("{}/{}", w.tenant, w.name);
    if let Err(e) = g.spend(token, &scope, origin, now) {
        let why = match e {
            guard::TokenError::Expired => "the form has expired: please try again",
            guard::TokenError::Spent => "this form was sent already",
            _ => "the form's token is not valid",
        };
        return Some(cors(origin, ApiError::forbidden(why)));
    }
    for (key, limit, window, what) in checks {
        if !g.windows.allow(key, *limit, *window, now) {
            tracing::warn!(tenant = %w.tenant, widget = %w.name, %from, "widget request refused: {what}");
            return Some(cors(origin, too_many(what)));
        }
    }
    None
}

#[derive(Deserialize)]
struct CallBody {
    token: String,
}

/// "Call us": spend the page's token, count, and hand back a ticket for
/// one browser call to the widget's number.
async fn call(State(s): State<ApiState>, Path(p): Path<WidgetP>, req: Request) -> Response {
    let Posted {
        widget: w,
        origin,
        from,
        body,
    } = match posted::<CallBody>(&s, &p, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(number) = w.call_to.clone().filter(|_| w.enabled) else {
        return cors(
            &origin,
            ApiError::conflict("calls are closed at the moment"),
        );
    };
    let tenant = match s.store.get_tenant(&w.tenant) {
        Ok(Some(t)) => t,
        _ => return cors(&origin, ApiError::not_found("no such widget")),
    };
    if plan_gate::require(&s, &tenant, Feature::BrowserPhones).is_err() {
        return cors(
            &origin,
            ApiError::conflict("calls are closed at the moment"),
        );
    }
    let checks = [
        (
            format!("call {from}"),
            guard::CALLS_PER_ADDRESS,
            Duration::from_secs(600),
            "calls from your address",
        ),
        (
            format!("calls {}", w.tenant),
            guard::CALLS_PER_TENANT_PER_HOUR,
            Duration::from_secs(3600),
            "calls at the moment",
        ),
    ];
    if let Some(r) = spend_and_count(&s, &w, &origin, &from, &body.token, &checks) {
        return r;
    }
    match s.centre.web_call_ticket(&w.tenant, &w.name, &number) {
        Ok(ticket) => cors(
            &origin,
            Json(serde_json::json!({
                "ticket": ticket,
                "number": number,
                "domain": tenant.domains.first().cloned().unwrap_or_default(),
                "websocket_path": "/ws",
            })),
        ),
        Err(e) => {
            tracing::error!(tenant = %w.tenant, widget = %w.name, error = ?e, "web call not started");
            cors(
                &origin,
                ApiError::unavailable("calls cannot be taken at the moment"),
            )
        }
    }
}

#[derive(Deserialize)]
struct WidgetP {
    tenant: String,
    name: String,
}

/// The widget, if it exists, is on and its tenant may use it; a 404
/// otherwise (a visitor learns nothing about which).
fn widget(s: &ApiState, p: &WidgetP) -> Result<Widget, ApiError> {
    let none = || ApiError::not_found("no such widget");
    let w = match s.store.get_widget(&p.tenant, &p.name) {
        Ok(Some(w)) => w,
        Ok(None) | Err(StoreError::Invalid { .. }) => return Err(none()),
        Err(e) => return Err(e.into()),
    };
    let tenant = s.store.get_tenant(&p.tenant)?.ok_or_else(none)?;
    if tenant.suspended || plan_gate::require(s, &tenant, Feature::Queues).is_err() {
        return Err(none());
    }
    Ok(w)
}

/// The page's origin when the widget allows it.
fn allowed_origin(w: &Widget, headers: &HeaderMap) -> Result<String, ApiError> {
    let origin = headers
        .get(ORIGIN)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if w.allowed_origins.iter().any(|o| o == origin) {
        Ok(origin.to_string())
    } else {
        Err(ApiError::forbidden(format!(
            "this widget does not serve pages of {:?}",
            if origin.is_empty() {
                "no origin"
            } else {
                origin
            }
        )))
    }
}

/// The widget and the page's origin, when the widget serves it.
fn widget_for(
    s: &ApiState,
    p: &WidgetP,
    headers: &HeaderMap,
) -> Result<(Widget, String), ApiError> {
    let w = widget(s, p)?;
    let origin = allowed_origin(&w, headers)?;
    Ok((w, origin))
}

/// `response` with the CORS headers that let `origin`'s pages read it.
fn cors(origin: &str, response: impl IntoResponse) -> Response {
    let mut r = response.into_response();
    if let Ok(v) = HeaderValue::from_str(origin) {
        let h = r.headers_mut();
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, v);
        h.insert(VARY, HeaderValue::from_static("Origin"));
    }
    r
}

/// The visitor's address (unknown in tests that call the router directly:
/// they share one count).
fn address(req_ext: Option<&ConnectInfo<SocketAddr>>) -> String {
    req_ext
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn too_many(what: &str) -> ApiError {
    ApiError {
        status: StatusCode::TOO_MANY_REQUESTS,
        kind: "too_many_requests",
        message: format!("too many {what}; please try again later"),
        field: None,
    }
}

async fn snippet(State(s): State<ApiState>, Path(p): Path<WidgetP>) -> Response {
    let w = match widget(&s, &p) {
        Ok(w) => w,
        Err(e) => return e.into_response(),
    };
    let title = if w.enabled {
        w.title.clone()
    } else {
        "Call-backs are closed at the moment".to_string()
    };
    let js = include_str!("widget.js")
        .replace("__TENANT__", &w.tenant)
        .replace("__NAME__", &w.name)
        .replace(
            "__CALL__",
            if w.call_to.is_some() && w.enabled {
                "true"
            } else {
                "false"
            },
        )
        .replace(
            "__TITLE__",
            &serde_json::to_string(&title).expect("a string serialises"),
        );
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=300"),
        ],
        js,
    )
        .into_response()
}

async fn preflight(
    State(s): State<ApiState>,
    Path(p): Path<WidgetP>,
    headers: HeaderMap,
) -> Response {
    match widget_for(&s, &p, &headers) {
        Ok((_, origin)) => {
            let mut r = cors(&origin, StatusCode::NO_CONTENT);
            let h = r.headers_mut();
            h.insert(
                ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("POST"),
            );
            h.insert(
                ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("content-type"),
            );
            h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
            r
        }
        Err(e) => e.into_response(),
    }
}

async fn token(State(s): State<ApiState>, Path(p): Path<WidgetP>, req: Request) -> Response {
    let from = address(req.extensions().get::<ConnectInfo<SocketAddr>>());
    let (w, origin) = match widget_for(&s, &p, req.headers()) {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    if !w.enabled {
        return cors(
            &origin,
            ApiError::conflict("call-backs are closed at the moment"),
        );
    }
    let now = Instant::now();
    let mut g = s.widgets.0.lock().expect("widget guard lock");
    if !g.windows.allow(
        &format!("token {from}"),
        guard::TOKENS_PER_ADDRESS_PER_MINUTE,
        Duration::from_secs(60),
        now,
    ) {
        return cors(&origin, too_many("requests from your address"));
    }
    let nonce = hex::encode(rand::random::<[u8; 12]>());
    let t = g.issue(&format!("{}/{}", w.tenant, w.name), &origin, &nonce, now);
    cors(
        &origin,
        Json(serde_json::json!({
            "token": t,
            "expires_in": guard::TOKEN_LIFETIME.as_secs(),
        })),
    )
}

#[derive(Deserialize)]
struct CallbackBody {
    number: String,
    token: String,
}

async fn callback(State(s): State<ApiState>, Path(p): Path<WidgetP>, req: Request) -> Response {
    let Posted {
        widget: w,
        origin,
        from,
        body,
    } = match posted::<CallbackBody>(&s, &p, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(number) = guard::callback_number(&body.number) else {
        return cors(
            &origin,
            ApiError::validation(
                "number",
                "please give your number in international form, starting with + and the country code",
            ),
        );
    };
    if !w.enabled {
        return cors(
            &origin,
            ApiError::conflict("call-backs are closed at the moment"),
        );
    }
    let hour = Duration::from_secs(3600);
    let checks = [
        (
            format!("callback {from}"),
            guard::CALLBACKS_PER_ADDRESS,
            Duration::from_secs(600),
            "requests from your address",
        ),
        (
            format!("tenant {}", w.tenant),
            guard::CALLBACKS_PER_TENANT_PER_HOUR,
            hour,
            "call-back requests at the moment",
        ),
        (
            format!("number {number}"),
            guard::CALLBACKS_PER_NUMBER_PER_HOUR,
            hour,
            "call-back requests for this number",
        ),
    ];
    if let Some(r) = spend_and_count(&s, &w, &origin, &from, &body.token, &checks) {
        return r;
    }
    match s
        .centre
        .request_callback(&w.tenant, &w.queue, &number, "web")
    {
        Ok(id) => {
            tracing::info!(tenant = %w.tenant, widget = %w.name, placeholder = %id, "web call-back queued");
            cors(
                &origin,
                (
                    StatusCode::ACCEPTED,
                    Json(serde_json::json!({
                        "message": format!("Thank you: we will call you back on {number} in your turn."),
                    })),
                ),
            )
        }
        Err(CallActionError::Conflict(_)) => cors(
            &origin,
            ApiError::conflict(format!(
                "{number} is already waiting for a call back: we will call in your turn"
            )),
        ),
        Err(e) => {
            tracing::error!(tenant = %w.tenant, widget = %w.name, error = ?e, "web call-back not queued");
            cors(
                &origin,
                ApiError::unavailable("call-backs cannot be taken at the moment"),
            )
        }
    }
}
