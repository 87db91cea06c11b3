//! The role × tenant matrix: the operator and acme's admin, supervisor and
//! agent keys against every route, on acme's and on bolt's resources.
//! A key of acme gets 404 for everything of bolt (and bolt is unchanged
//! afterwards); within acme, each role gets exactly what its access allows.

mod common;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::{Access, Env, OPERATOR, routes};
use serde_json::Value;

/// Everything a client can read about bolt, as the operator sees it.
async fn snapshot(env: &Env) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for r in routes() {
        if r.method != Method::GET || !r.path.contains("{tenant}") || r.path.ends_with("/events") {
            continue;
        }
        let path = r.concrete(env, "bolt");
        let resp = env
            .send(Method::GET, &path, Some(OPERATOR), None, Body::empty())
            .await;
        assert_eq!(resp.status, StatusCode::OK, "{path}: {}", resp.text());
        out.push((path, Value::String(resp.text())));
    }
    out
}

fn allowed(access: Access, role: &str) -> bool {
    match (access, role) {
        (_, "operator") | (Access::Public, _) | (Access::OwnCalls, _) => true,
        (Access::Operator, _) => false,
        (Access::Read | Access::Operate, r) => r != "agent",
        (Access::Write, r) => r == "admin",
    }
}

async fn request(env: &Env, r: &common::Route, tenant: &str, token: &str) -> (StatusCode, Value) {
    let body = r.body.map_or_else(Body::empty, |b| b());
    env.send(
        r.method.clone(),
        &r.concrete(env, tenant),
        Some(token),
        r.content_type,
        body,
    )
    .await
    .status_json()
}

fn is_no_tenant(status: StatusCode, v: &Value) -> bool {
    status == StatusCode::NOT_FOUND
        && v["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("no tenant"))
}

#[tokio::test]
async fn every_route_keeps_tenants_apart_and_roles_in_their_lane() {
    let env = Env::new().await;
    let before = snapshot(&env).await;
    let bolt_calls = env.live.calls.lock().unwrap()["bolt"].len();

    let mut checked = 0;
    for role in ["agent", "supervisor", "admin"] {
        let token = env.key("acme", role);
        for r in routes() {
            if r.path.contains("{tenant}") {
                // bolt's resources: 404, the same as a tenant that does
                // not exist, with nothing of bolt in the body.
                let (s, v) = request(&env, &r, "bolt", &token).await;
                assert!(
                    is_no_tenant(s, &v),
                    "{role} of acme: {} {} on bolt gave {s} {v}",
                    r.method,
                    r.path
                );
                assert_eq!(v["error"], "not_found");
                assert_eq!(v["message"], "no tenant \"bolt\"");
                checked += 1;
            }
            // Own tenant (or a route about no tenant): the role decides.
            let (s, v) = request(&env, &r, "acme", &token).await;
            if allowed(r.access, role) {
                assert!(
                    !matches!(s, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
                        && !is_no_tenant(s, &v),
                    "{role}: {} {} should be allowed, got {s} {v}",
                    r.method,
                    r.path
                );
            } else {
                assert_eq!(
                    s,
                    StatusCode::FORBIDDEN,
                    "{role}: {} {}: {v}",
                    r.method,
                    r.path
                );
                assert_eq!(v["error"], "forbidden");
            }
            checked += 1;
        }
    }
    assert!(checked > 150, "{checked}");

    // Nothing acme's keys did reached bolt.
    assert_eq!(snapshot(&env).await, before);
    assert_eq!(env.live.calls.lock().unwrap()["bolt"].len(), bolt_calls);
    assert!(
        env.live
            .clicks
            .lock()
            .unwrap()
            .iter()
            .all(|(t, _, _)| t == "acme")
    );
    assert!(env.changes.take().iter().all(|t| t == "acme"));

    // The operator may do everything, to both tenants (the route list ends
    // with deleting the tenant).
    for tenant in ["bolt", "acme"] {
        for r in routes() {
            let (s, v) = request(&env, &r, tenant, OPERATOR).await;
            assert!(
                !matches!(s, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
                    && !is_no_tenant(s, &v),
                "operator: {} {} on {tenant}: {s} {v}",
                r.method,
                r.path
            );
        }
    }
}

#[tokio::test]
async fn unknown_tenant_and_bad_tokens() {
    let env = Env::new().await;
    // The operator gets 404 for a tenant that does not exist; a key gets
    // the very same answer for one that does.
    let (s, v) = env.get("/api/tenants/nope/extensions", OPERATOR).await;
    assert_eq!(
        (s, v["message"].as_str()),
        (StatusCode::NOT_FOUND, Some("no tenant \"nope\""))
    );
    let (s2, v2) = env
        .get("/api/tenants/nope/extensions", &env.key("acme", "admin"))
        .await;
    assert_eq!((s2, &v2), (s, &v));

    // No token, a malformed header, a wrong token: 401.
    let resp = env
        .send(
            Method::GET,
            "/api/tenants/acme/extensions",
            None,
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
    let (s, v) = env
        .get("/api/tenants/acme/extensions", "sy_0000000000000000_00")
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(v["error"], "unauthorized");
    let (s, _) = env.get("/api/tenants", "operator-secret-tokeN").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // A revoked key stops working at once.
    let admin = env.key("acme", "admin");
    let (s, v) = env
        .json(
            Method::POST,
            "/api/tenants/acme/api-keys",
            &admin,
            serde_json::json!({"role": "admin"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let token = v["token"].as_str().unwrap().to_string();
    assert_eq!(
        env.get("/api/tenants/acme/extensions", &token).await.0,
        StatusCode::OK
    );
    let id = v["key"]["id"].as_str().unwrap();
    let resp = env
        .send(
            Method::DELETE,
            &format!("/api/tenants/acme/api-keys/{id}"),
            Some(&admin),
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(resp.status, StatusCode::NO_CONTENT);
    assert_eq!(
        env.get("/api/tenants/acme/extensions", &token).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Another tenant's key id cannot be deleted through one's own tenant.
    let bolt_spare = env.keys["bolt"].spare_id.clone();
    let resp = env
        .send(
            Method::DELETE,
            &format!("/api/tenants/acme/api-keys/{bolt_spare}"),
            Some(&admin),
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    assert_eq!(
        env.get("/api/tenants/bolt/api-keys", OPERATOR)
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        4
    );

    // A body into another tenant is not even parsed: 404 before 400/415.
    let resp = env
        .send(
            Method::POST,
            "/api/tenants/bolt/extensions",
            Some(&admin),
            Some("text/plain"),
            Body::from("{"),
        )
        .await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
}
