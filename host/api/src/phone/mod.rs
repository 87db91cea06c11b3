//! The browser phone: a page that registers an extension over SIP
//! WebSocket (RFC 7118, the host's `/ws`) and makes and takes calls with
//! WebRTC audio. Public — no API key; the extension's SIP credentials are
//! the phone's login.
//!
//! * `GET /phone` — the page (`web/phone/index.html`).
//! * `GET /phone/phone.js` — JsSIP and the page's code, bundled by
//!   esbuild when this crate was built (`build.rs`); nothing is loaded
//!   from elsewhere at run time.
//! * `GET /phone/phone.css` — its style.
//!
//! Every reply carries a strict `Content-Security-Policy` (scripts and
//! styles from this host only, no inline ones; connections to this host
//! and to `ws:`/`wss:` SIP servers) and an `ETag`; `Cache-Control:
//! no-cache` makes browsers revalidate, so a new build is never hidden
//! behind a stale bundle and an unchanged one costs a 304.

use std::sync::OnceLock;

use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use crate::ApiState;

/// The page.
pub const INDEX_HTML: &str = include_str!("../../../../web/phone/index.html");
/// Its style.
pub const PHONE_CSS: &str = include_str!("../../../../web/phone/phone.css");
/// JsSIP and `web/phone/src/phone.js`, bundled at build time.
pub const PHONE_JS: &str = include_str!(concat!(env!("OUT_DIR"), "/phone.js"));
/// The web widget's "call us" (`web/phone/src/webcall.js` with JsSIP),
/// served at `/widget/call.js`.
pub const WEBCALL_JS: &str = include_str!(concat!(env!("OUT_DIR"), "/webcall.js"));

/// What the page may load and reach: only this host, plus SIP over
/// WebSocket anywhere the user points it (`ws:`/`wss:`). No inline
/// scripts or styles, no frames, no plugins.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self' ws: wss:; media-src 'self' blob: mediastream:; img-src 'self' data:; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The public routes.
pub(crate) fn router() -> axum::Router<ApiState> {
    axum::Router::new()
        .route("/phone", get(index))
        .route("/phone/", get(index))
        .route("/phone/phone.js", get(script))
        .route("/phone/phone.css", get(style))
}

/// A file served to browsers, with its `ETag` and `Content-Security-Policy`
/// (the console's files are served the same way).
pub(crate) struct Asset {
    body: axum::body::Bytes,
    content_type: &'static str,
    etag: String,
    csp: &'static str,
}

impl Asset {
    pub(crate) fn new(body: &'static str, content_type: &'static str) -> Asset {
        Asset::with_csp(
            axum::body::Bytes::from_static(body.as_bytes()),
            content_type,
            CSP,
        )
    }

    pub(crate) fn with_csp(
        body: axum::body::Bytes,
        content_type: &'static str,
        csp: &'static str,
    ) -> Asset {
        let hash = Sha256::digest(&body);
        Asset {
            body,
            content_type,
            etag: format!("\"{}\"", hex::encode(&hash[..12])),
            csp,
        }
    }

    pub(crate) fn reply(&self, headers: &HeaderMap) -> Response {
        let fresh = headers
            .get_all(IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == self.etag || t == "*");
        let common = [
            (CACHE_CONTROL, "no-cache"),
            (CONTENT_SECURITY_POLICY, self.csp),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (REFERRER_POLICY, "no-referrer"),
        ];
        let etag = [(ETAG, self.etag.clone())];
        if fresh {
            (StatusCode::NOT_MODIFIED, common, etag).into_response()
        } else {
            (
                common,
                etag,
                [(CONTENT_TYPE, self.content_type)],
                self.body.clone(),
            )
                .into_response()
        }
    }
}

fn asset(cell: &'static OnceLock<Asset>, body: &'static str, ty: &'static str) -> &'static Asset {
    cell.get_or_init(|| Asset::new(body, ty))
}

async fn index(headers: HeaderMap) -> Response {
    static A: OnceLock<Asset> = OnceLock::new();
    asset(&A, INDEX_HTML, "text/html; charset=utf-8").reply(&headers)
}

async fn script(headers: HeaderMap) -> Response {
    static A: OnceLock<Asset> = OnceLock::new();
    asset(&A, PHONE_JS, "text/javascript; charset=utf-8").reply(&headers)
}

async fn style(headers: HeaderMap) -> Response {
    static A: OnceLock<Asset> = OnceLock::new();
    asset(&A, PHONE_CSS, "text/css; charset=utf-8").reply(&headers)
}
