//! The public side of the web widget, through the router: the snippet,
//! tokens bound to the page's origin and the widget, call-back requests
//! with their checks and counts, CORS for the allowed origins alone.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{Env, OPERATOR};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

struct Reply {
    status: StatusCode,
    cors: Option<String>,
    json: Value,
    text: String,
}

async fn send(env: &Env, method: Method, path: &str, origin: Option<&str>, body: Value) -> Reply {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    let body = if body.is_null() {
        Body::empty()
    } else {
        req = req.header("content-type", "application/json");
        Body::from(body.to_string())
    };
    let resp = env
        .app
        .clone()
        .oneshot(req.body(body).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let cors = resp
        .headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Reply {
        status,
        cors,
        json: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

const SITE: &str = "https://www.acme.example";

async fn token(env: &Env, widget: &str, origin: &str) -> String {
    let r = send(
        env,
        Method::POST,
        &format!("/widget/{widget}/token"),
        Some(origin),
        Value::Null,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.cors.as_deref(), Some(origin));
    r.json["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_snippet_is_public_and_names_its_widget() {
    let env = Env::new().await;
    let r = send(
        &env,
        Method::GET,
        "/widget/acme/site/widget.js",
        None,
        Value::Null,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("\"/widget/acme/site\""), "{}", r.text);
    assert!(
        r.text.contains("\"Call me back\""),
        "the title, as a JS string"
    );
    let r = send(
        &env,
        Method::GET,
        "/widget/acme/nope/widget.js",
        None,
        Value::Null,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn only_pages_of_the_allowed_origins_get_tokens_and_cors() {
    let env = Env::new().await;
    for origin in [
        None,
        Some("https://evil.example"),
        Some("https://www.bolt.example"),
    ] {
        let r = send(
            &env,
            Method::POST,
            "/widget/acme/site/token",
            origin,
            Value::Null,
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{origin:?}");
        assert_eq!(r.cors, None, "no CORS for {origin:?}");
    }
    let r = send(
        &env,
        Method::OPTIONS,
        "/widget/acme/site/callback",
        Some(SITE),
        Value::Null,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(r.cors.as_deref(), Some(SITE));
    let r = send(
        &env,
        Method::OPTIONS,
        "/widget/acme/site/callback",
        Some("https://evil.example"),
        Value::Null,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    token(&env, "acme/site", SITE).await;
}

#[tokio::test]
async fn a_call_back_needs_a_fresh_token_a_real_number_and_stays_within_its_counts() {
    let env = Env::new().await;
    let path = "/widget/acme/site/callback";
    let ask = |number: &str, token: &str| json!({"number": number, "token": token});

    let t = token(&env, "acme/site", SITE).await;
    let r = send(
        &env,
        Method::POST,
        path,
        Some(SITE),
        ask("0207 946 0000", &t),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.json["field"], "number");
    assert_eq!(r.cors.as_deref(), Some(SITE), "the page can read why");

    // A token of another widget (bolt's, from bolt's site) is no good here.
    let other = token(&env, "bolt/site", "https://www.bolt.example").await;
    let r = send(
        &env,
        Method::POST,
        path,
        Some(SITE),
        ask("+44 20 7946 0000", &other),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);

    let r = send(
        &env,
        Method::POST,
        path,
        Some(SITE),
        ask("+44 20 7946 0000", &t),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert!(
        r.json["message"]
            .as_str()
            .unwrap()
            .contains("+442079460000")
    );
    assert_eq!(
        env.centre.callbacks.lock().unwrap().clone(),
        [(
            "acme".to_string(),
            "support".to_string(),
            "+442079460000".to_string(),
            "web".to_string()
        )]
    );
    // The same form again: spent.
    let r = send(
        &env,
        Method::POST,
        path,
        Some(SITE),
        ask("+44 20 7946 0000", &t),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.json["message"].as_str().unwrap().contains("sent already"));
    // A new form for a number already waiting: told so, not queued twice.
    let t = token(&env, "acme/site", SITE).await;
    let r = send(
        &env,
        Method::POST,
        path,
        Some(SITE),
        ask("+442079460000", &t),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    // A third request from the same address is the last one allowed…
    let t = token(&env, "acme/site", SITE).await;
    let r = send(
        &env,
        Method::POST,
        path,
        Some(SITE),
        ask("+15550100142", &t),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    // …the fourth waits.
    let t = token(&env, "acme/site", SITE).await;
    let r = send(
        &env,
        Method::POST,
        path,
        Some(SITE),
        ask("+15550100143", &t),
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert_eq!(env.centre.callbacks.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_widget_switched_off_or_of_a_suspended_tenant_takes_nothing() {
    let env = Env::new().await;
    let (s, v) = env
        .json(
            Method::PUT,
            "/api/tenants/acme/widgets/site",
            OPERATOR,
            json!({"queue": "support", "allowed_origins": [SITE], "enabled": false}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["script"], "/widget/acme/site/widget.js");
    let r = send(
        &env,
        Method::GET,
        "/widget/acme/site/widget.js",
        None,
        Value::Null,
    )
    .await;
    assert!(r.text.contains("closed"), "{}", r.text);
    let r = send(
        &env,
        Method::POST,
        "/widget/acme/site/token",
        Some(SITE),
        Value::Null,
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);

    let (s, _) = env
        .json(
            Method::POST,
            "/api/tenants/bolt/suspend",
            OPERATOR,
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let r = send(
        &env,
        Method::GET,
        "/widget/bolt/site/widget.js",
        None,
        Value::Null,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // A widget names a queue the tenant has, and origins that are origins.
    let (s, v) = env
        .json(
            Method::PUT,
            "/api/tenants/acme/widgets/w2",
            OPERATOR,
            json!({"queue": "nope", "allowed_origins": [SITE]}),
        )
        .await;
    assert_eq!((s, &v["field"]), (StatusCode::BAD_REQUEST, &json!("queue")));
    let (s, v) = env
        .json(
            Method::PUT,
            "/api/tenants/acme/widgets/w2",
            OPERATOR,
            json!({"queue": "support", "allowed_origins": ["www.acme.example/page"]}),
        )
        .await;
    assert_eq!(
        (s, &v["field"]),
        (StatusCode::BAD_REQUEST, &json!("allowed_origins"))
    );
}
