//! The browser phone through the router: public (no key), the page and
//! the JsSIP bundle built into the crate, with their content types, a
//! strict CSP and revalidation by ETag.

mod common;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use common::Env;
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn get(env: &Env, path: &str, etag: Option<&str>) -> (StatusCode, HeaderMap, String) {
    let mut req = Request::get(path);
    if let Some(e) = etag {
        req = req.header("if-none-match", e);
    }
    let resp = env
        .app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

fn assert_strict_csp(h: &HeaderMap) {
    let csp = header(h, "content-security-policy");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(csp.contains("connect-src 'self' ws: wss:;"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(!csp.contains("unsafe-eval"), "{csp}");
    assert_eq!(header(h, "x-content-type-options"), "nosniff");
}

#[tokio::test]
async fn the_page_is_public_html_that_loads_the_bundle() {
    let env = Env::new().await;
    for path in ["/phone", "/phone/"] {
        let (status, h, body) = get(&env, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(header(&h, "content-type"), "text/html; charset=utf-8");
        assert_eq!(header(&h, "cache-control"), "no-cache");
        assert_strict_csp(&h);
        assert!(body.contains(r#"<script src="/phone/phone.js""#), "{body}");
        assert!(body.contains(r#"href="/phone/phone.css""#), "{body}");
        // No inline scripts (the CSP would block them anyway).
        assert_eq!(body.matches("<script").count(), 1, "{body}");
        for id in [
            "status",
            "reg-state",
            "call-state",
            "remote-audio",
            "user",
            "domain",
            "password",
            "ws-url",
            "register",
            "unregister",
            "dial-number",
            "call",
            "answer",
            "decline",
            "hangup",
            "hold",
            "resume",
            "transfer-target",
            "transfer",
            "keypad",
        ] {
            assert!(body.contains(&format!(r#"id="{id}""#)), "no #{id}");
        }
        assert!(body.contains(r#"<audio id="remote-audio" autoplay>"#));
    }
}

#[tokio::test]
async fn the_bundle_is_jssip_built_in() {
    let env = Env::new().await;
    let (status, h, js) = get(&env, "/phone/phone.js", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&h, "content-type"), "text/javascript; charset=utf-8");
    assert_eq!(header(&h, "cache-control"), "no-cache");
    assert_strict_csp(&h);
    // JsSIP itself: its name, its SIP methods and its grammar's errors,
    // and the page's code around it.
    for needle in [
        "JsSIP",
        "REGISTER",
        "WebSocketInterface",
        "RFC2833",
        "switchyardPhone",
        "demo.localhost",
        "rtcpMuxPolicy",
    ] {
        assert!(js.contains(needle), "the bundle lacks {needle:?}");
    }
    // Bundled, not loaded: no module imports or CDN left in it.
    assert!(!js.contains("require(\"jssip\")"));
    assert!(!js.contains("cdn."));
    assert!(js.len() > 100_000, "a JsSIP bundle is large: {}", js.len());

    let (status, h, css) = get(&env, "/phone/phone.css", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&h, "content-type"), "text/css; charset=utf-8");
    assert!(css.contains("#call-state") || css.contains("data-state"));
}

#[tokio::test]
async fn an_unchanged_asset_is_a_304() {
    let env = Env::new().await;
    for path in ["/phone", "/phone/phone.js", "/phone/phone.css"] {
        let (_, h, _) = get(&env, path, None).await;
        let etag = header(&h, "etag").to_string();
        let (status, h2, body) = get(&env, path, Some(&etag)).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(header(&h2, "etag"), etag);
        assert!(body.is_empty());
        let (status, _, _) = get(&env, path, Some("\"something-else\"")).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn only_get_and_only_the_phone_files() {
    let env = Env::new().await;
    let (status, _, _) = get(&env, "/phone/other.js", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let resp = env
        .app
        .clone()
        .oneshot(
            Request::post("/phone/phone.js")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
}
