//! The web console's side of the API: its page and bundle, sign-in
//! sessions (extension and SIP password, API key, operator token) as a
//! cookie the API takes as it takes a key — same tenant scoping, same
//! roles — with a CSRF token and an Origin check on changes; and what the
//! agent panel saves and plays: wrap-ups and the agent's own recordings.

mod common;

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use common::{Env, OPERATOR};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use switchyard_store::{CdrRepo, FileRecord, FileRepo};
use tower::ServiceExt;

/// One request with exactly these headers.
async fn call(
    env: &Env,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Value) {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = match body {
        Some(v) => {
            req = req.header("content-type", "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let resp = env
        .app
        .clone()
        .oneshot(req.body(body).unwrap())
        .await
        .unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, headers, v)
}

/// A signed-in session: the cookie header to send and the CSRF token.
struct Session {
    cookie: String,
    csrf: String,
    view: Value,
    set_cookie: String,
}

async fn sign_in(env: &Env, body: Value) -> Result<Session, (StatusCode, Value)> {
    let (s, h, v) = call(env, Method::POST, "/console/session", &[], Some(body)).await;
    if s != StatusCode::CREATED {
        return Err((s, v));
    }
    let set_cookie = h["set-cookie"].to_str().unwrap().to_string();
    let pair = set_cookie.split(';').next().unwrap().to_string();
    Ok(Session {
        cookie: pair,
        csrf: v["csrf"].as_str().unwrap().to_string(),
        view: v,
        set_cookie,
    })
}

impl Session {
    async fn get(&self, env: &Env, path: &str) -> (StatusCode, Value) {
        let (s, _, v) = call(env, Method::GET, path, &[("cookie", &self.cookie)], None).await;
        (s, v)
    }

    /// A change as the console sends it: cookie, CSRF token, this host's
    /// origin.
    async fn send(
        &self,
        env: &Env,
        m: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let headers = [
            ("cookie", self.cookie.as_str()),
            ("x-csrf-token", self.csrf.as_str()),
            ("host", "pbx.example"),
            ("origin", "https://pbx.example"),
        ];
        let (s, _, v) = call(env, m, path, &headers, body).await;
        (s, v)
    }
}

async fn extension(env: &Env, number: &str, password: &str) {
    let (s, v) = env
        .json(
            Method::POST,
            "/api/tenants/acme/extensions",
            OPERATOR,
            json!({"number": number, "password": password}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

#[tokio::test]
async fn the_page_and_its_bundle_are_served_under_a_strict_policy() {
    let env = Env::new().await;
    let (s, h, page) = call(&env, Method::GET, "/", &[], None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(page.as_str().unwrap().contains("/console/console.js"));
    let (s, h, js) = call(&env, Method::GET, "/console/console.js", &[], None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        h["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    // Chart.js and JsSIP are in the bundle: nothing is fetched elsewhere.
    let js = js.as_str().unwrap();
    assert!(js.len() > 100_000, "{} bytes", js.len());
    assert!(!js.contains("cdn.jsdelivr") && !js.contains("unpkg.com"));
    let (s, h, _) = call(&env, Method::GET, "/console/console.css", &[], None).await;
    assert_eq!(s, StatusCode::OK);
    let etag = h["etag"].to_str().unwrap().to_string();
    let (s, _, _) = call(
        &env,
        Method::GET,
        "/console/console.css",
        &[("if-none-match", &etag)],
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn an_agent_signs_in_with_the_extension_and_has_an_agents_rights_only() {
    let env = Env::new().await;
    extension(&env, "1005", "correct horse 5").await;
    let wrong = sign_in(
        &env,
        json!({"method": "extension", "tenant": "acme", "extension": "1005", "password": "nope nope"}),
    )
    .await;
    assert_eq!(wrong.err().unwrap().0, StatusCode::UNAUTHORIZED);
    // By the tenant's SIP domain, as a phone is set up.
    let s = sign_in(
        &env,
        json!({"method": "extension", "tenant": "ACME.example", "extension": "1005",
               "password": "correct horse 5"}),
    )
    .await
    .unwrap();
    let c = &s.set_cookie;
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(c.contains(attr), "{attr} in {c}");
    }
    assert!(!c.contains("Secure"), "plain HTTP here: {c}");
    assert_eq!(s.view["role"], "agent");
    assert_eq!(s.view["tenant"], "acme");
    assert_eq!(s.view["extension"], "1005");
    assert_eq!(s.view["domain"], "acme.example");
    assert_eq!(s.csrf.len(), 48);

    let (st, _) = s.get(&env, "/api/tenants/acme/cdrs").await;
    assert_eq!(st, StatusCode::OK);
    let (st, v) = s.get(&env, "/api/tenants/acme/extensions").await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    let (st, v) = s.get(&env, "/api/tenants/bolt/cdrs").await;
    assert_eq!(
        (st, v["message"].as_str()),
        (StatusCode::NOT_FOUND, Some("no tenant \"bolt\""))
    );
    let (st, _) = s.get(&env, "/api/tenants").await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, v) = s.get(&env, "/console/session").await;
    assert_eq!((st, v["role"].as_str()), (StatusCode::OK, Some("agent")));

    // A new password ends the session.
    let (st, _) = env
        .json(
            Method::PATCH,
            "/api/tenants/acme/extensions/1005",
            OPERATOR,
            json!({"password": "another horse 5"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = s.get(&env, "/api/tenants/acme/cdrs").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn wrong_passwords_lock_one_extension_for_a_while() {
    let env = Env::new().await;
    extension(&env, "1006", "correct horse 6").await;
    let try_with = |pw: &'static str| json!({"method": "extension", "tenant": "acme", "extension": "1006", "password": pw});
    for _ in 0..10 {
        let (st, _) = sign_in(&env, try_with("guess guess")).await.err().unwrap();
        assert_eq!(st, StatusCode::UNAUTHORIZED);
    }
    let (st, v) = sign_in(&env, try_with("correct horse 6"))
        .await
        .err()
        .unwrap();
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "{v}");
    // Another extension is not locked.
    extension(&env, "1007", "correct horse 7").await;
    sign_in(
        &env,
        json!({"method": "extension", "tenant": "acme", "extension": "1007",
               "password": "correct horse 7"}),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn changes_need_the_csrf_token_and_this_hosts_origin() {
    let env = Env::new().await;
    let s = sign_in(
        &env,
        json!({"method": "key", "key": env.key("acme", "admin")}),
    )
    .await
    .unwrap();
    assert_eq!(s.view["role"], "admin");
    let path = "/api/tenants/acme/notices";
    let body = json!({"missed_calls": ["team@acme.example"]});
    // The cookie alone, as another site's form would send it.
    let (st, _, v) = call(
        &env,
        Method::PUT,
        path,
        &[("cookie", &s.cookie)],
        Some(body.clone()),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(
        v["message"].as_str().unwrap().contains("X-CSRF-Token"),
        "{v}"
    );
    // The token, but from another site's page.
    let (st, _, v) = call(
        &env,
        Method::PUT,
        path,
        &[
            ("cookie", &s.cookie),
            ("x-csrf-token", &s.csrf),
            ("host", "pbx.example"),
            ("origin", "https://evil.example"),
        ],
        Some(body.clone()),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    let (_, v) = env.get(path, OPERATOR).await;
    assert_eq!(v["missed_calls"], json!([]), "nothing changed");
    // As the console sends it.
    let (st, v) = s.send(&env, Method::PUT, path, Some(body)).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    // Reads need no token.
    let (st, v) = s.get(&env, path).await;
    assert_eq!(
        (st, v["missed_calls"][0].as_str()),
        (StatusCode::OK, Some("team@acme.example"))
    );
}

#[tokio::test]
async fn a_revoked_key_and_signing_out_end_the_session() {
    let env = Env::new().await;
    let (st, k) = env
        .json(
            Method::POST,
            "/api/tenants/acme/api-keys",
            OPERATOR,
            json!({"name": "sup-console", "role": "supervisor"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{k}");
    let s = sign_in(&env, json!({"method": "key", "key": k["token"]}))
        .await
        .unwrap();
    assert_eq!(s.view["role"], "supervisor");
    assert_eq!(
        s.get(&env, "/api/tenants/acme/extensions").await.0,
        StatusCode::OK
    );
    let id = k["key"]["id"].as_str().unwrap();
    let (st, _) = env
        .json(
            Method::DELETE,
            &format!("/api/tenants/acme/api-keys/{id}"),
            OPERATOR,
            Value::Null,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(
        s.get(&env, "/api/tenants/acme/extensions").await.0,
        StatusCode::UNAUTHORIZED
    );

    let op = sign_in(&env, json!({"method": "operator", "token": OPERATOR}))
        .await
        .unwrap();
    assert_eq!(op.view["role"], "operator");
    let (st, v) = op.get(&env, "/api/system").await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["tenants"], 2);
    assert!(v["console_sessions"].as_u64().unwrap() >= 1, "{v}");
    // Signing out needs the token too, then the cookie is worthless.
    let (st, _, _) = call(
        &env,
        Method::DELETE,
        "/console/session",
        &[("cookie", &op.cookie)],
        None,
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = op
        .send(&env, Method::DELETE, "/console/session", None)
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(
        op.get(&env, "/api/system").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        op.get(&env, "/console/session").await.0,
        StatusCode::NO_CONTENT,
        "nobody is signed in"
    );
    let bad = sign_in(&env, json!({"method": "operator", "token": "guess"})).await;
    assert_eq!(bad.err().unwrap().0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_agent_wraps_up_its_own_calls_only_and_the_record_shows_it() {
    let env = Env::new().await;
    let now = switchyard_clock::unix_ms();
    let mut mine = common::cdr("acme", "w1", now - 60_000, "+15551234", "600", Some("1002"));
    mine.queue = Some("support".into());
    let theirs = common::cdr("acme", "w2", now - 30_000, "+15554321", "600", Some("1001"));
    env.store.insert_cdr(&mine).unwrap();
    env.store.insert_cdr(&theirs).unwrap();
    let agent = env.key("acme", "agent");
    let (st, codes) = env.get("/api/tenants/acme/dispositions", &agent).await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        codes.as_array().unwrap().contains(&json!("resolved")),
        "{codes}"
    );

    let put = |id: &str| format!("/api/tenants/acme/cdrs/{id}/wrap-up");
    let (st, v) = env
        .json(
            Method::PUT,
            &put("sip-w2"),
            &agent,
            json!({"code": "resolved"}),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "another agent's call: {v}");
    let (st, v) = env
        .json(
            Method::PUT,
            &put("sip-w1"),
            &agent,
            json!({"code": "bought-a-boat"}),
        )
        .await;
    assert_eq!(
        (st, v["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("code")),
        "{v}"
    );
    let (st, v) = env
        .json(
            Method::PUT,
            &put("sip-w1"),
            &agent,
            json!({"code": "sale", "notes": "2 seats"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        (v["code"].as_str(), v["agent"].as_str()),
        (Some("sale"), Some("1002"))
    );

    let (_, page) = env.get("/api/tenants/acme/cdrs", &agent).await;
    let row = page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["call_id"] == "sip-w1")
        .unwrap();
    assert_eq!(row["wrap_up"]["notes"], "2 seats");
    assert_eq!(
        row["agent"], "1002",
        "the record's own fields are still there"
    );
    // The tenant's own codes.
    let admin = env.key("acme", "admin");
    let (st, _) = env
        .json(
            Method::PUT,
            "/api/tenants/acme/dispositions",
            &admin,
            json!(["upsell"]),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = env
        .json(
            Method::PUT,
            "/api/tenants/acme/dispositions",
            &agent,
            json!(["x"]),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (_, codes) = env.get("/api/tenants/acme/dispositions", &agent).await;
    assert_eq!(codes, json!(["upsell"]));
}

#[tokio::test]
async fn an_agent_plays_the_recordings_of_its_calls_and_no_others() {
    let env = Env::new().await;
    env.store
        .put_file(
            &FileRecord {
                tenant: "acme".into(),
                kind: "recording".into(),
                id: "rec-mine".into(),
                name: "rec-mine.wav".into(),
                content_type: "audio/wav".into(),
                size: 0,
                created_at_ms: 5,
                meta: BTreeMap::from([("agent".to_string(), "1002".to_string())]),
            },
            b"RIFF-mine",
        )
        .unwrap();
    let agent = env.key("acme", "agent");
    let r = env
        .send(
            Method::GET,
            "/api/tenants/acme/recordings/rec-mine",
            Some(&agent),
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(&r.body[..], b"RIFF-mine");
    // rec1 was another call's (no agent of theirs): as missing as none.
    let (st, v) = env.get("/api/tenants/acme/recordings/rec1", &agent).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
    let (st, _) = env.get("/api/tenants/acme/recordings", &agent).await;
    assert_eq!(
        st,
        StatusCode::FORBIDDEN,
        "agents do not list the tenant's recordings"
    );
    let sup = env.key("acme", "supervisor");
    let r = env
        .send(
            Method::GET,
            "/api/tenants/acme/recordings/rec1",
            Some(&sup),
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn a_garbled_sign_in_is_told_what_is_wrong_and_signs_nobody_in() {
    let env = Env::new().await;
    for (body, content_type, want) in [
        ("{\"method\": \"magic\"}", "application/json", "method"),
        (
            "{\"method\": \"extension\", \"tenant\": \"acme\"}",
            "application/json",
            "extension",
        ),
        ("not json at all", "application/json", "JSON"),
    ] {
        let req = Request::builder()
            .method(Method::POST)
            .uri("/console/session")
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap();
        let resp = env.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        assert!(resp.headers().get("set-cookie").is_none(), "{body}");
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert!(v["message"].as_str().unwrap().contains(want), "{body}: {v}");
    }
    // A tenant that does not exist reads like a wrong password.
    let (st, v) = sign_in(
        &env,
        json!({"method": "extension", "tenant": "nobody.example", "extension": "1002",
               "password": "whatever it is"}),
    )
    .await
    .err()
    .unwrap();
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(v["message"], "wrong tenant, extension or password");
    // A cookie nobody issued is no session.
    let (st, _, _) = call(
        &env,
        Method::GET,
        "/api/tenants/acme/cdrs",
        &[("cookie", "switchyard_session=0123456789abcdef")],
        None,
    )
    .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn every_role_reads_the_directory_an_agent_transfers_with() {
    let env = Env::new().await;
    let (st, d) = env
        .get("/api/tenants/acme/directory", &env.key("acme", "agent"))
        .await;
    assert_eq!(st, StatusCode::OK, "{d}");
    let numbers: Vec<&str> = d["extensions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["number"].as_str())
        .collect();
    assert!(numbers.contains(&"1002"), "{d}");
    assert!(d["queues"].is_array(), "{d}");
}
