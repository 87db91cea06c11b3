//! The operator and tenant HTTP API of Switchyard (issue #5, items 2–4).
//!
//! [`app`] builds an axum [`Router`](axum::Router) from an [`ApiState`]; the
//! server mounts it, tests drive it with `tower::ServiceExt::oneshot`.
//!
//! # Who may do what
//! Every request carries `Authorization: Bearer <token>` ([`auth`]):
//! * the **operator token** may do everything, including `/api/tenants*`;
//! * a **tenant API key** (`ApiKeyRepo::authenticate`) reaches only
//!   `/api/tenants/{its tenant}/…`. Anything under another tenant is 404,
//!   never 403, so a key cannot even learn which tenants exist. Within its
//!   tenant: `admin` configures everything, `supervisor` reads everything
//!   (configuration, call records, recordings, live calls, events) and may
//!   hang up calls but changes no configuration, `agent` sees only its own
//!   calls and may click-to-call from its own extension. A role that may
//!   not do something in its own tenant gets 403.
//! * Contact centre: every role reads a queue's live view; agents see and
//!   change (log in/out, pause) only their own agent and read only their
//!   own agent figures; the queue figures and the raw queue log are for
//!   admins and supervisors, who see and change every agent of the tenant.
//!
//! # Module map
//! * [`error`] — [`ApiError`], the one error type, and extractors whose
//!   rejections render as it (JSON bodies, raw uploads).
//! * [`auth`] — bearer token → [`auth::Caller`]; tenant scoping and roles.
//! * `plan_gate` — what the tenant's plan allows (features, caps).
//! * [`server_hooks`] — [`LiveCalls`], [`ConfigChanged`] and
//!   [`ContactCentre`], what the server provides, with no-op
//!   implementations for tests.
//! * `routes::*` — one module per resource.
//! * [`openapi`] — the document at `/api/openapi.json`.
//! * [`names`] — the rule for names that become keys and file names.
//! * `wav` — the prompt format check.
//! * `trunk_policy` — which addresses a trunk may use (private ones,
//!   another tenant's phones).
//! * [`widget`] — the public side of web widgets (snippet, tokens,
//!   call-back requests), outside `/api`.
//! * [`phone`] — the browser phone page at `/phone` (JsSIP, bundled at
//!   build time), outside `/api`.
//! * [`console`] — the web console at `/` and its sign-in sessions (a
//!   cookie that the API takes as it takes a key).

pub mod auth;
pub mod console;
pub mod error;
pub mod names;
pub mod openapi;
pub mod phone;
mod plan_gate;
mod routes;
pub mod server_hooks;
mod trunk_policy;
mod wav;
pub mod widget;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use switchyard_plugins::PluginHost;
use switchyard_store::Store;

pub use error::ApiError;
pub use routes::catalogue::plugin_settings;
/// For the server: where a plugin version's HTTP allowlist is kept in its
/// config, and the JSON shape of `PluginRepo::roles` written by this API.
pub use routes::plugins::{HTTP_ALLOWLIST_KEY, RolesBody as PluginRoles};
pub use server_hooks::{
    AgentChange, AgentLive, CallActionError, CallEvent, ConfigChanged, ContactCentre, LiveCall,
    LiveCalls, LiveMonitor, LiveParticipant, LiveRoom, NoChanges, NoContactCentre, NoLiveCalls,
    QueueLive,
};

/// Largest JSON body accepted. Configuration documents are small; the cap
/// keeps a client from making the server buffer megabytes per request.
pub const JSON_BODY_LIMIT: usize = 1 << 20;

/// Largest prompt upload (a few minutes of 8 kHz 16-bit audio).
pub const PROMPT_BODY_LIMIT: usize = 16 << 20;

/// What the API works on. Cheap to clone (handles and `Arc`s).
#[derive(Clone)]
pub struct ApiState {
    pub store: Store,
    /// Validates and compiles uploads; its `HostConfig::max_component_bytes`
    /// is the plugin upload cap (413 beyond it).
    pub plugins: PluginHost,
    /// Compared in constant time; an empty token never matches.
    pub operator_token: String,
    pub live: Arc<dyn LiveCalls>,
    pub changes: Arc<dyn ConfigChanged>,
    /// The live queues and agents ([`NoContactCentre`] without a call
    /// engine).
    pub centre: Arc<dyn ContactCentre>,
    /// Let tenant keys point trunks at loopback, private, link-local or
    /// unspecified addresses (host or inbound). The operator token may
    /// always.
    pub allow_private_trunks: bool,
    /// Web widgets' tokens and request counts.
    pub widgets: Arc<widget::WidgetGuard>,
    /// The console's signed-in sessions.
    pub sessions: Arc<console::sessions::Sessions>,
}

/// The plugin interface (`wit/`) as one page, rendered at build time from
/// the WIT's own comments (`build.rs`).
pub const WIT_DOCS: &str = include_str!(concat!(env!("OUT_DIR"), "/wit.html"));

async fn wit_docs() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
        WIT_DOCS,
    )
}

/// The API router: every route under `/api`, plus `/api/openapi.json`.
pub fn app(state: ApiState) -> axum::Router {
    routes::system::mark_start();
    let (router, doc) = routes::router().split_for_parts();
    let doc = Arc::new(doc);
    router
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::guard,
        ))
        // Public: what visitors' browsers reach, with no key.
        .merge(widget::router())
        // Public: the browser phone; its SIP credentials are its login.
        .merge(phone::router())
        // Public: the console's page and its sign-in.
        .merge(console::router())
        // Public: the plugin interface, as partners read it.
        .route("/docs/wit", axum::routing::get(wit_docs))
        .layer(axum::Extension(doc))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        // Raw uploads read their body themselves with their own cap (see
        // `error::RawBody`); this limit is for the JSON extractor.
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .with_state(state)
}
