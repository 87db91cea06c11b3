//! Plans: the operator defines them and puts tenants on them; what a plan
//! leaves out is refused to the tenant's keys (`not_in_plan`), what it
//! caps is refused past the cap (`over_limit`), and a change to the plan
//! reloads every tenant on it.

mod common;

use axum::http::{Method, StatusCode};
use common::{Env, OPERATOR};
use serde_json::{Value, json};

/// Plan `basic`: extension dialling only; at most 4 extensions (acme
/// has 3) and 2 numbers (it has 1).
async fn on_basic(env: &Env) {
    let (s, v) = env
        .json(
            Method::POST,
            "/api/plans",
            OPERATOR,
            json!({
                "name": "basic",
                "description": "extensions, ring groups, voicemail",
                "features": {},
                "limits": {"max_extensions": 4, "max_numbers": 2, "max_concurrent_calls": 3}
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["tenants"], json!([]));
    env.changes.take();
    let (s, v) = env
        .json(
            Method::PATCH,
            "/api/tenants/acme",
            OPERATOR,
            json!({"plan": "basic"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["plan"], "basic");
    // The view shows what applies: the plan's.
    assert_eq!(v["features"]["queues"], false);
    assert_eq!(v["features"]["crm"], false);
    assert_eq!(v["limits"]["max_extensions"], 4);
    assert_eq!(v["limits"]["max_concurrent_calls"], 3);
    assert_eq!(env.changes.take(), ["acme"]);
}

fn refused(s: StatusCode, v: &Value, kind: &str, words: &[&str]) {
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"], kind, "{v}");
    let m = v["message"].as_str().unwrap();
    for w in words {
        assert!(m.contains(w), "{w:?} not in {m:?}");
    }
}

#[tokio::test]
async fn every_feature_the_plan_leaves_out_is_refused_with_a_reason() {
    let env = Env::new().await;
    on_basic(&env).await;
    let admin = env.key("acme", "admin");
    let base = "/api/tenants/acme";

    // Queues: the queue and agent routes, and a queue strategy plugin.
    let (s, v) = env.get(&format!("{base}/queues"), &admin).await;
    refused(s, &v, "not_in_plan", &["\"queues\"", "plan \"basic\""]);
    let (s, v) = env
        .json(
            Method::POST,
            &format!("{base}/queues"),
            &admin,
            json!({"name": "sales"}),
        )
        .await;
    refused(s, &v, "not_in_plan", &["\"queues\""]);
    let (s, v) = env.get(&format!("{base}/agents"), &admin).await;
    refused(s, &v, "not_in_plan", &["\"queues\""]);
    // A plugin of each world may be uploaded (it is only stored); giving
    // it the role the plan leaves out is what is refused.
    for name in ["fewest-calls", "call-stats", "crm-rest"] {
        let (s, v) = env
            .send(
                Method::POST,
                &format!("{base}/plugins/{name}"),
                Some(&admin),
                Some("application/wasm"),
                axum::body::Body::from(switchyard_artifacts::get(name).expect(name)),
            )
            .await
            .json();
        assert!(s.is_success(), "{name}: {s} {v}");
    }
    let roles = format!("{base}/plugin-roles");
    let (s, v) = env
        .json(
            Method::PUT,
            &roles,
            &admin,
            json!({"strategies": {"fewest": "fewest-calls"}}),
        )
        .await;
    refused(s, &v, "not_in_plan", &["\"queues\""]);

    // Conferences.
    let (s, v) = env.get(&format!("{base}/conferences"), &admin).await;
    refused(s, &v, "not_in_plan", &["\"conferences\""]);
    let (s, v) = env
        .json(
            Method::PUT,
            &format!("{base}/conferences/board"),
            &admin,
            json!({}),
        )
        .await;
    refused(s, &v, "not_in_plan", &["\"conferences\""]);

    // Reporting: the reports, and reporter plugins.
    for r in ["reports/queues", "reports/agents", "queue-log"] {
        let (s, v) = env.get(&format!("{base}/{r}"), &admin).await;
        refused(s, &v, "not_in_plan", &["\"reporting\""]);
    }
    let (s, v) = env
        .json(
            Method::PUT,
            &roles,
            &admin,
            json!({"reporters": ["call-stats"]}),
        )
        .await;
    refused(s, &v, "not_in_plan", &["\"reporting\""]);

    // Advanced IVR: a number to a flow other than `extensions`, and flow
    // plugins for such flows. The `extensions` flow stays the tenant's.
    let (s, v) = env
        .json(
            Method::POST,
            &format!("{base}/numbers"),
            &admin,
            json!({"number": "+15550142", "flow": "ivr"}),
        )
        .await;
    refused(s, &v, "not_in_plan", &["\"advanced_ivr\""]);
    let (s, v) = env
        .json(
            Method::PUT,
            &format!("{base}/numbers/700"),
            &admin,
            json!({"flow": "night-menu"}),
        )
        .await;
    refused(s, &v, "not_in_plan", &["\"advanced_ivr\""]);
    let (s, v) = env
        .json(
            Method::PUT,
            &roles,
            &admin,
            json!({"flows": {"ivr": "router"}}),
        )
        .await;
    refused(s, &v, "not_in_plan", &["\"advanced_ivr\""]);
    let (s, v) = env
        .json(
            Method::PUT,
            &roles,
            &admin,
            json!({"flows": {"extensions": "router"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = env
        .json(
            Method::PUT,
            &format!("{base}/numbers/700"),
            &admin,
            json!({"flow": "extensions"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // CRM: no connector.
    let (s, v) = env
        .json(Method::PUT, &roles, &admin, json!({"crm": "crm-rest"}))
        .await;
    refused(s, &v, "not_in_plan", &["\"crm\""]);

    // The other tenant, on no plan, is untouched.
    let bolt = env.key("bolt", "admin");
    let (s, v) = env.get("/api/tenants/bolt/queues", &bolt).await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn caps_refuse_one_more_extension_or_number() {
    let env = Env::new().await;
    on_basic(&env).await;
    let admin = env.key("acme", "admin");
    let base = "/api/tenants/acme";
    let ext = |n: &str| json!({"number": n, "password": "correct horse"});
    let (s, v) = env
        .json(
            Method::POST,
            &format!("{base}/extensions"),
            &admin,
            ext("1004"),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "the 4th of 4: {v}");
    let (s, v) = env
        .json(
            Method::POST,
            &format!("{base}/extensions"),
            &admin,
            ext("1005"),
        )
        .await;
    refused(
        s,
        &v,
        "over_limit",
        &["plan \"basic\"", "4 extensions", "max_extensions", "has 4"],
    );
    let num = |n: &str| json!({"number": n, "flow": "extensions"});
    let (s, v) = env
        .json(
            Method::POST,
            &format!("{base}/numbers"),
            &admin,
            num("+15550101"),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "the 2nd of 2: {v}");
    let (s, v) = env
        .json(
            Method::POST,
            &format!("{base}/numbers"),
            &admin,
            num("+15550102"),
        )
        .await;
    refused(s, &v, "over_limit", &["2 numbers", "max_numbers"]);

    // Deleting one makes room again.
    let (s, _) = env
        .json(
            Method::DELETE,
            &format!("{base}/extensions/1004"),
            &admin,
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = env
        .json(
            Method::POST,
            &format!("{base}/extensions"),
            &admin,
            ext("1005"),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    // What the tenant sees of it.
    let (s, v) = env.get(&format!("{base}/entitlements"), &admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["plan"], "basic");
    assert_eq!(v["limits"]["max_extensions"], 4);
    assert_eq!(v["usage"]["extensions"], 4);
    assert_eq!(v["usage"]["numbers"], 2);
    // The env stored one recording of 20 bytes ("acme-recording-bytes").
    assert_eq!(v["usage"]["recording_storage_bytes"], 20);
    let agent = env.key("acme", "agent");
    let (s, _) = env.get(&format!("{base}/entitlements"), &agent).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn changing_the_plan_changes_its_tenants_at_once() {
    let env = Env::new().await;
    on_basic(&env).await;
    let admin = env.key("acme", "admin");
    let (s, v) = env
        .json(
            Method::PUT,
            "/api/plans/basic",
            OPERATOR,
            json!({"features": {"queues": true, "recording": true}, "limits": {"max_extensions": 0}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["tenants"], json!(["acme"]));
    // The server is told to rebuild the tenant: its calls follow.
    assert_eq!(env.changes.take(), ["acme"]);
    let (s, v) = env.get("/api/tenants/acme/queues", &admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = env
        .json(
            Method::POST,
            "/api/tenants/acme/extensions",
            &admin,
            json!({"number": "1009", "password": "correct horse"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "no cap any more: {v}");
    // Conferences are still out, so is recording a room.
    let (s, v) = env
        .json(
            Method::PUT,
            "/api/tenants/acme/conferences/board",
            &admin,
            json!({"record": true}),
        )
        .await;
    refused(s, &v, "not_in_plan", &["\"conferences\""]);
}

#[tokio::test]
async fn a_room_is_recorded_only_with_the_recording_feature() {
    let env = Env::new().await;
    let (s, v) = env
        .json(
            Method::POST,
            "/api/plans",
            OPERATOR,
            json!({"name": "rooms", "features": {"conferences": true}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, _) = env
        .json(
            Method::PATCH,
            "/api/tenants/acme",
            OPERATOR,
            json!({"plan": "rooms"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let admin = env.key("acme", "admin");
    let room = "/api/tenants/acme/conferences/board";
    let (s, v) = env
        .json(Method::PUT, room, &admin, json!({"record": true}))
        .await;
    refused(s, &v, "not_in_plan", &["\"recording\"", "plan \"rooms\""]);
    let (s, v) = env
        .json(Method::PUT, room, &admin, json!({"record": false}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn a_tenant_on_a_plan_takes_no_limits_of_its_own_until_it_leaves() {
    let env = Env::new().await;
    on_basic(&env).await;
    let (s, v) = env
        .json(
            Method::PATCH,
            "/api/tenants/acme",
            OPERATOR,
            json!({"limits": {"max_concurrent_calls": 100}}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("\"plan\": null"),
        "{v}"
    );

    // Off the plan: the plan's features and limits stay, as its own.
    let (s, v) = env
        .json(
            Method::PATCH,
            "/api/tenants/acme",
            OPERATOR,
            json!({"plan": null}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["plan"], Value::Null);
    assert_eq!(v["features"]["queues"], false);
    assert_eq!(v["limits"]["max_extensions"], 4);
    let (s, v) = env
        .json(
            Method::PATCH,
            "/api/tenants/acme",
            OPERATOR,
            json!({"features": {"queues": true}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["features"]["queues"], true);

    // A plan that does not exist, and one being used, are refused.
    let (s, v) = env
        .json(
            Method::PATCH,
            "/api/tenants/acme",
            OPERATOR,
            json!({"plan": "gold"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["field"], "plan");
    let (s, v) = env
        .json(
            Method::POST,
            "/api/tenants",
            OPERATOR,
            json!({"id": "zeta", "name": "Z", "domains": ["zeta.example"], "plan": "basic",
                "features": {"crm": true}}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "plan and own features: {v}");
    let (s, v) = env
        .json(
            Method::POST,
            "/api/tenants",
            OPERATOR,
            json!({"id": "zeta", "name": "Z", "domains": ["zeta.example"], "plan": "basic"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["limits"]["max_numbers"], 2);
    let (s, v) = env
        .json(Method::DELETE, "/api/plans/basic", OPERATOR, Value::Null)
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(v["message"].as_str().unwrap().contains("zeta"), "{v}");
}

#[tokio::test]
async fn plans_are_the_operators() {
    let env = Env::new().await;
    on_basic(&env).await;
    let admin = env.key("acme", "admin");
    let (s, _) = env.get("/api/plans", &admin).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = env
        .json(
            Method::PUT,
            "/api/plans/basic",
            &admin,
            json!({"features": {"crm": true}}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = env
        .json(
            Method::PATCH,
            "/api/tenants/acme",
            &admin,
            json!({"plan": null}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a tenant cannot leave its plan");
    let (s, v) = env.get("/api/plans", OPERATOR).await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["basic", "standard"]);
}
