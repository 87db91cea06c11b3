//! Conventions a client may rely on (issue 11, item 8): the bearer scheme
//! is case-insensitive, and names that become keys or file names follow
//! one documented rule, refused with a 422 that states it.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{Env, OPERATOR, wav_pcm16};
use serde_json::json;
use switchyard_store::FileRepo;
use tower::ServiceExt;

/// `GET path` with the `Authorization` header exactly as given.
async fn get_with(env: &Env, path: &str, authorization: &str) -> (StatusCode, Option<String>) {
    let req = Request::get(path)
        .header("authorization", authorization)
        .body(Body::empty())
        .unwrap();
    let resp = env.app.clone().oneshot(req).await.unwrap();
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    (resp.status(), challenge)
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let env = Env::new().await;
    let admin = env.key("acme", "admin");
    for (token, path) in [
        (OPERATOR, "/api/tenants"),
        (admin.as_str(), "/api/tenants/acme/extensions"),
    ] {
        for header in [
            format!("bearer {token}"),
            format!("BEARER {token}"),
            format!("bEaReR {token}"),
            format!("Bearer    {token}"),
        ] {
            let (s, _) = get_with(&env, path, &header).await;
            assert_eq!(s, StatusCode::OK, "{header:?} on {path}");
        }
    }
    // Other schemes and a token split by a space stay refused, and a 401
    // names the scheme to use.
    for header in [
        format!("Basic {OPERATOR}"),
        format!("Bearer{OPERATOR}"),
        format!("Bearer {OPERATOR} x"),
    ] {
        let (s, challenge) = get_with(&env, "/api/tenants", &header).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{header:?}");
        assert_eq!(challenge.as_deref(), Some("Bearer"), "{header:?}");
    }
}

#[tokio::test]
async fn prompt_names_follow_the_name_rule() {
    let env = Env::new().await;
    let admin = env.key("acme", "admin");
    let put = |name: &str| {
        let path = format!("/api/tenants/acme/prompts/{name}");
        let env = &env;
        let admin = admin.clone();
        async move {
            env.send(
                Method::PUT,
                &path,
                Some(&admin),
                Some("audio/wav"),
                Body::from(wav_pcm16(800)),
            )
            .await
        }
    };
    let stored = || env.store.list_files("acme", "prompt").unwrap().len();
    let before = stored();
    // The router decodes a path segment once: `%252e` arrives as `%2e`,
    // which used to be stored as the prompt's literal name.
    for name in [
        "%252e%252e%252f",
        "%2e%2e",
        "a..b",
        "-x",
        "x%20y",
        &"x".repeat(65),
    ] {
        let (s, v) = put(name).await.json();
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{name:?}: {v}");
        assert_eq!(v["field"], "name", "{v}");
        let message = v["message"].as_str().unwrap();
        assert!(
            message.contains("[A-Za-z0-9][A-Za-z0-9._-]{0,63}"),
            "the message states the rule: {message}"
        );
    }
    assert_eq!(stored(), before, "nothing of the refused uploads is stored");

    for name in ["greeting-1001", "Main_IVR.v2", &"x".repeat(64)] {
        let (s, v) = put(name).await.json();
        assert_eq!(s, StatusCode::CREATED, "{name:?}: {v}");
    }
}

#[tokio::test]
async fn other_names_that_become_keys_follow_the_same_rule() {
    let env = Env::new().await;
    let admin = env.key("acme", "admin");
    let t = "/api/tenants/acme";
    for (path, body) in [
        ("trunks", json!({"host": "sip.carrier.example"})),
        ("ring-groups", json!({"members": []})),
        ("queues", json!({})),
        ("schedules", json!({})),
    ] {
        for (name, want) in [
            ("%2e%2e%2f", StatusCode::UNPROCESSABLE_ENTITY),
            ("a b", StatusCode::UNPROCESSABLE_ENTITY),
            ("..", StatusCode::UNPROCESSABLE_ENTITY),
            ("night-shift.2", StatusCode::CREATED),
        ] {
            let mut body = body.clone();
            body["name"] = json!(name);
            let (s, v) = env
                .json(Method::POST, &format!("{t}/{path}"), &admin, body)
                .await;
            assert_eq!(s, want, "{path} {name:?}: {v}");
            if want == StatusCode::UNPROCESSABLE_ENTITY {
                assert_eq!(v["field"], "name", "{v}");
            }
        }
    }
    // Plugin names: the same rule, in lower case.
    for name in ["..", "Router"] {
        let resp = env
            .send(
                Method::POST,
                &format!("{t}/plugins/{name}"),
                Some(&admin),
                Some("application/wasm"),
                Body::from(vec![0u8; 8]),
            )
            .await;
        assert_eq!(
            resp.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name:?}: {}",
            resp.text()
        );
    }
}
