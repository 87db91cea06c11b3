//! Every route's behaviour through `app()`, the error format, and the
//! OpenAPI document.

mod common;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::{Env, OPERATOR, cdr, routes, wav_pcm16};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use switchyard_api::CallEvent;
use switchyard_sip::auth::StoredCredentials;
use switchyard_store::{CdrRepo, ExtensionRepo, TrunkRepo};
use tower::ServiceExt;

#[tokio::test]
async fn openapi_lists_exactly_the_routes() {
    let env = Env::new().await;
    let resp = env
        .send(Method::GET, "/api/openapi.json", None, None, Body::empty())
        .await;
    assert_eq!(resp.status, StatusCode::OK);
    let doc: Value = serde_json::from_slice(&resp.body).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let tested: BTreeSet<_> = routes()
        .iter()
        .map(|r| (r.method.to_string(), r.template.to_string()))
        .collect();
    assert_eq!(documented, tested);

    // Every listed route is served: none answers the router's 404/405.
    for r in routes() {
        let resp = env
            .send(
                r.method.clone(),
                &r.concrete(&env, "acme"),
                None,
                None,
                Body::empty(),
            )
            .await;
        if r.path == "/api/openapi.json" {
            assert_eq!(resp.status, StatusCode::OK);
        } else {
            assert_eq!(
                resp.status,
                StatusCode::UNAUTHORIZED,
                "{} {}",
                r.method,
                r.path
            );
        }
    }
    // And something not listed is a JSON 404 / 405.
    let (s, v) = env.get("/api/nothing-here", OPERATOR).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let resp = env
        .send(
            Method::PATCH,
            "/api/tenants/acme/trunks",
            Some(OPERATOR),
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(resp.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn tenants_create_update_suspend_delete() {
    let env = Env::new().await;
    let (s, v) = env.get("/api/tenants", OPERATOR).await;
    assert_eq!(s, StatusCode::OK);
    let ids: Vec<_> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].clone())
        .collect();
    assert_eq!(ids, [json!("acme"), json!("bolt")]);

    let (s, v) = env
        .json(Method::POST, "/api/tenants", OPERATOR, json!({
            "id": "cato", "name": "Cato", "domains": ["cato.example"], "time_zone": "America/New_York",
            "limits": {"max_concurrent_calls": 3}, "features": {"recording": true}
        }))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["limits"]["max_concurrent_calls"], 3);
    assert_eq!(v["limits"]["max_calls_per_second"], 5);
    assert_eq!(v["features"]["recording"], true);
    assert_eq!(v["suspended"], false);
    assert_eq!(env.changes.take(), ["cato"]);

    // Conflicts: the same id, a domain of another tenant (any case).
    let (s, _) = env
        .json(
            Method::POST,
            "/api/tenants",
            OPERATOR,
            json!({"id": "cato", "name": "x", "domains": ["x.example"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, v) = env
        .json(
            Method::POST,
            "/api/tenants",
            OPERATOR,
            json!({"id": "dora", "name": "x", "domains": ["ACME.example"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(v["message"].as_str().unwrap().contains("acme.example"));

    // Validation names the field.
    for (body, field) in [
        (
            json!({"id": "Bad Id", "name": "x", "domains": ["b.example"]}),
            "id",
        ),
        (json!({"id": "ok", "name": "x", "domains": []}), "domains"),
        (
            json!({"id": "ok", "name": " ", "domains": ["b.example"]}),
            "name",
        ),
        (
            json!({"id": "ok", "name": "x", "domains": ["b.example"], "time_zone": "+02:00"}),
            "time_zone",
        ),
        (
            json!({"id": "ok", "name": "x", "domains": ["not a domain"]}),
            "domains",
        ),
    ] {
        let (s, v) = env.json(Method::POST, "/api/tenants", OPERATOR, body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(v["error"], "validation");
        assert_eq!(v["field"], field, "{v}");
        assert!(v["message"].as_str().unwrap().starts_with(field), "{v}");
    }

    // Partial update.
    let (s, v) = env
        .json(
            Method::PATCH,
            "/api/tenants/cato",
            OPERATOR,
            json!({"name": "Cato Inc", "domains": ["cato.example", "cato.test"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["name"], "Cato Inc");
    assert_eq!(v["time_zone"], "America/New_York");
    // Changing the realm under existing extensions would break every phone.
    let (s, v) = env
        .json(
            Method::PATCH,
            "/api/tenants/acme",
            OPERATOR,
            json!({"domains": ["new.example"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");

    let (s, v) = env
        .json(
            Method::POST,
            "/api/tenants/cato/suspend",
            OPERATOR,
            json!({}),
        )
        .await;
    assert_eq!((s, &v["suspended"]), (StatusCode::OK, &json!(true)));
    let (s, v) = env
        .json(
            Method::POST,
            "/api/tenants/cato/resume",
            OPERATOR,
            json!({}),
        )
        .await;
    assert_eq!((s, &v["suspended"]), (StatusCode::OK, &json!(false)));
    let (s, v) = env.get("/api/tenants/cato", OPERATOR).await;
    assert_eq!((s, &v["name"]), (StatusCode::OK, &json!("Cato Inc")));

    let resp = env
        .send(
            Method::DELETE,
            "/api/tenants/cato",
            Some(OPERATOR),
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(resp.status, StatusCode::NO_CONTENT);
    assert_eq!(
        env.get("/api/tenants/cato", OPERATOR).await.0,
        StatusCode::NOT_FOUND
    );
    // The domain is free again.
    let (s, _) = env
        .json(
            Method::POST,
            "/api/tenants",
            OPERATOR,
            json!({"id": "dora", "name": "x", "domains": ["cato.example"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
}

#[tokio::test]
async fn malformed_bodies_are_json_errors() {
    let env = Env::new().await;
    let admin = env.key("acme", "admin");
    let path = "/api/tenants/acme/extensions";
    let send = |ct: &'static str, body: &'static str| {
        env.send(Method::POST, path, Some(&admin), Some(ct), Body::from(body))
    };
    // Not JSON at all.
    let (s, v) = send("application/json", "{\"number\": ").await.json();
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"], "invalid_json");
    assert!(!v["message"].as_str().unwrap().is_empty());
    // JSON of the wrong shape: serde's message names the field.
    let (s, v) = send("application/json", r#"{"number": 1001, "password": "x"}"#)
        .await
        .json();
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().contains("number"), "{v}");
    let (s, v) = send("application/json", r#"{"number": "1009"}"#)
        .await
        .json();
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().contains("password"), "{v}");
    let (s, v) = send(
        "application/json",
        r#"{"number": "1009", "password": "long enough", "pin": 1}"#,
    )
    .await
    .json();
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().contains("pin"), "{v}");
    // Not declared as JSON.
    let (s, v) = send("text/plain", "{}").await.json();
    assert_eq!(
        (s, v["error"].as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("unsupported_media_type")
        )
    );
    // Too large.
    let big = format!(
        r#"{{"number": "1009", "password": "{}"}}"#,
        "x".repeat(2 << 20)
    );
    let (s, v) = env
        .send(
            Method::POST,
            path,
            Some(&admin),
            Some("application/json"),
            Body::from(big),
        )
        .await
        .json();
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large"))
    );
}

#[tokio::test]
async fn extensions_store_only_hashes() {
    let env = Env::new().await;
    let admin = env.key("acme", "admin");
    let (s, v) = env
        .json(
            Method::POST,
            "/api/tenants/acme/extensions",
            &admin,
            json!({"number": "2001", "password": "s3cret-pass", "voicemail": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(
        v.as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "created_at_ms",
            "display_name",
            "email",
            "missed_call_email",
            "number",
            "pickup_group",
            "srtp",
            "supervisor",
            "voicemail"
        ]
    );
    let want = StoredCredentials::from_password("2001", "acme.example", "s3cret-pass");
    let stored = env.store.get_extension("acme", "2001").unwrap().unwrap();
    assert_eq!(
        (stored.ha1_md5.as_str(), stored.ha1_sha256.as_str()),
        (want.ha1_md5.as_str(), want.ha1_sha256.as_str())
    );
    assert_eq!(env.changes.take(), ["acme"]);

    let (s, v) = env.get("/api/tenants/acme/extensions", &admin).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v.as_array().unwrap().len(), 4);
    assert!(!v.to_string().contains(&want.ha1_md5));

    let (s, v) = env
        .json(
            Method::POST,
            "/api/tenants/acme/extensions",
            &admin,
            json!({"number": "2001", "password": "s3cret-pass"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    for (body, field) in [
        (json!({"number": "2002", "password": "short"}), "password"),
        (
            json!({"number": "2x", "password": "long enough"}),
            "extension",
        ),
    ] {
        let (s, v) = env
            .json(Method::POST, "/api/tenants/acme/extensions", &admin, body)
            .await;
        assert_eq!(
            (s, v["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{v}"
        );
    }

    let (s, v) = env
        .json(
            Method::PATCH,
            "/api/tenants/acme/extensions/2001",
            &admin,
            json!({"password": "new-password", "display_name": "Desk"}),
        )
        .await;
    assert_eq!((s, &v["display_name"]), (StatusCode::OK, &json!("Desk")));
    let want = StoredCredentials::from_password("2001", "acme.example", "new-password");
    assert_eq!(
        env.store
            .get_extension("acme", "2001")
            .unwrap()
            .unwrap()
            .ha1_md5,
        want.ha1_md5
    );
    let (s, v) = env.get("/api/tenants/acme/extensions/2001", &admin).await;
    assert_eq!((s, &v["voicemail"]), (StatusCode::OK, &json!(true)));

    // Pickup group: set, kept by other changes, left with "".
    let patch = |body: Value| {
        env.json(
            Method::PATCH,
            "/api/tenants/acme/extensions/2001",
            &admin,
            body,
        )
    };
    let (s, v) = patch(json!({"pickup_group": "front-desk"})).await;
    assert_eq!(
        (s, &v["pickup_group"]),
        (StatusCode::OK, &json!("front-desk"))
    );
    let (_, v) = patch(json!({"display_name": "Desk 2"})).await;
    assert_eq!(v["pickup_group"], "front-desk");
    let (s, v) = patch(json!({"pickup_group": "a/b"})).await;
    assert_eq!(
        (s, v["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("pickup_group")),
        "{v}"
    );
    let (_, v) = patch(json!({"pickup_group": ""})).await;
    assert_eq!(v["pickup_group"], Value::Null);

    // SRTP: off by default, set, a value that is not a policy refused.
    assert_eq!(v["srtp"], "off");
    let (s, v) = patch(json!({"srtp": "optional"})).await;
    assert_eq!((s, &v["srtp"]), (StatusCode::OK, &json!("optional")));
    let (s, v) = patch(json!({"srtp": "on"})).await;
    assert_eq!(
        (s, v["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("srtp")),
        "{v}"
    );
    assert_eq!(
        env.store
            .get_extension("acme", "2001")
            .unwrap()
            .unwrap()
            .srtp,
        "optional"
    );

    let del = |p: &'static str| env.send(Method::DELETE, p, Some(&admin), None, Body::empty());
    assert_eq!(
        del("/api/tenants/acme/extensions/2001").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        del("/api/tenants/acme/extensions/2001").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        env.get("/api/tenants/acme/extensions/2001", &admin).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn numbers_trunks_groups_queues() {
    let env = Env::new().await;
    let admin = env.key("acme", "admin");
    let t = "/api/tenants/acme";

    // Numbers: a DID is unique across tenants.
    let (s, _) = env
        .json(
            Method::POST,
            &format!("{t}/numbers"),
            &admin,
            json!({"number": "+15550100", "flow": "main"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, v) = env
        .json(
            Method::POST,
            "/api/tenants/bolt/numbers",
            &env.key("bolt", "admin"),
            json!({"number": "+15550100", "flow": "main"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, v) = env
        .json(
            Method::PUT,
            &format!("{t}/numbers/+15550100"),
            &admin,
            json!({"flow": "sales"}),
        )
        .await;
    assert_eq!((s, &v["flow"]), (StatusCode::OK, &json!("sales")));
    let (s, v) = env.get(&format!("{t}/numbers/+15550100"), &admin).await;
    assert_eq!((s, &v["flow"]), (StatusCode::OK, &json!("sales")));
    let (s, v) = env
        .json(
            Method::POST,
            &format!("{t}/numbers"),
            &admin,
            json!({"number": "+1555abc", "flow": "x"}),
        )
        .await;
    assert_eq!(
        (s, v["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("number")),
        "{v}"
    );
    let (s, v) = env
        .json(
            Method::PUT,
            &format!("{t}/numbers/+15550100"),
            &admin,
            json!({"flow": ""}),
        )
        .await;
    assert_eq!(
        (s, v["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("flow")),
        "{v}"
    );

    // Trunks: the password goes in and never comes out.
    let (s, v) = env.get(&format!("{t}/trunks/carrier"), &admin).await;
    assert_eq!((s, &v["has_password"]), (StatusCode::OK, &json!(true)));
    assert!(!v.to_string().contains("trunk-secret"));
    assert!(v.get("password").is_none());
    let (s, v) = env
        .json(
            Method::PUT,
            &format!("{t}/trunks/carrier"),
            &admin,
            json!({"host": "sip2.carrier.example", "transport": "tcp"}),
        )
        .await;
    assert_eq!((s, &v["transport"]), (StatusCode::OK, &json!("tcp")));
    // Absent password on PUT: kept.
    let stored = env.store.get_trunk("acme", "carrier").unwrap().unwrap();
    assert_eq!(stored.password.as_deref(), Some("trunk-secret"));
    assert_eq!(v["srtp"], "off", "SRTP is off unless asked for");
    let (s, v) = env
        .json(
            Method::PUT,
            &format!("{t}/trunks/carrier"),
            &admin,
            json!({"host": "sip2.carrier.example", "srtp": "required"}),
        )
        .await;
    assert_eq!((s, &v["srtp"]), (StatusCode::OK, &json!("required")));
    let stored = env.store.get_trunk("acme", "carrier").unwrap().unwrap();
    assert_eq!(stored.srtp, "required");
    let (s, v) = env
        .json(
            Method::PUT,
            &format!("{t}/trunks/carrier"),
            &admin,
            json!({"host": "sip2.carrier.example", "srtp": "sometimes"}),
        )
        .await;
    assert_eq!(
        (s, v["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("srtp")),
        "{v}"
    );
    assert!(v.to_string().contains("optional"), "{v}");
    let (s, v) = env.get(&format!("{t}/trunks"), &admin).await;
    assert_eq!(s, StatusCode::OK);
    assert!(!v.to_string().contains("trunk-secret"));
    for (body, field) in [
        (
            json!({"name": "x", "host": "h", "transport": "sctp"}),
            "transport",
        ),
        (
            json!({"name": "x", "host": "h", "inbound_addresses": ["not-an-ip"]}),
            "inbound_addresses",
        ),
        (json!({"host": "h"}), "name"),
    ] {
        let (s, v) = env
            .json(Method::POST, &format!("{t}/trunks"), &admin, body)
            .await;
        assert_eq!(
            (s, v["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{v}"
        );
    }

    // Ring groups: members must be extensions of the tenant.
    let (s, v) = env
        .json(
            Method::POST,
            &format!("{t}/ring-groups"),
            &admin,
            json!({"name": "g", "members": ["1001", "4040"]}),
        )
        .await;
    assert_eq!(
        (s, v["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("members")),
        "{v}"
    );
    let (s, v) = env
        .json(
            Method::PUT,
            &format!("{t}/ring-groups/sales"),
            &admin,
            json!({"members": ["1003"], "strategy": "round"}),
        )
        .await;
    assert_eq!(
        (s, v["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("strategy")),
        "{v}"
    );
    let (s, v) = env
        .json(
            Method::PUT,
            &format!("{t}/ring-groups/sales"),
            &admin,
            json!({"members": ["1003"], "strategy": "sequential"}),
        )
        .await;
    assert_eq!((s, &v["members"]), (StatusCode::OK, &json!(["1003"])));
    let (s, v) = env
        .json(
            Method::POST,
            &format!("{t}/ring-groups"),
            &admin,
            json!({"name": "sales", "members": []}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");

    // Schedules: weekdays and intervals are checked.
    for (body, field) in [
        (
            json!({"name": "x", "open": {"funday": ["09:00-10:00"]}}),
            "open",
        ),
        (json!({"name": "x", "open": {"monday": ["9-5"]}}), "open"),
        (
            json!({"name": "x", "open": {"monday": ["9:00-17:00"]}}),
            "open",
        ),
        (
            json!({"name": "x", "holidays": [{"date": "25/12"}]}),
            "holidays",
        ),
        (
            json!({"name": "x", "holidays": [{"date": "2026-02-30"}]}),
            "holidays",
        ),
        (json!({"name": "x", "time_zone": "+01:00"}), "time_zone"),
        (json!({"open": {}}), "name"),
    ] {
        let (s, v) = env
            .json(Method::POST, &format!("{t}/schedules"), &admin, body)
            .await;
        assert_eq!(
            (s, v["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{v}"
        );
    }
    let (s, v) = env.get(&format!("{t}/schedules/office"), &admin).await;
    assert_eq!(
        (s, &v["open"]["monday"]),
        (StatusCode::OK, &json!(["09:00-17:00"]))
    );
    // A bad replacement is refused the same way and changes nothing.
    let (s, v) = env
        .json(
            Method::PUT,
            &format!("{t}/schedules/office"),
            &admin,
            json!({"open": {"monday": ["17:00-17:00"]}}),
        )
        .await;
    assert_eq!(
        (s, v["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("open")),
        "{v}"
    );
    assert!(
        v["message"].as_str().unwrap().contains("17:00-17:00"),
        "{v}"
    );
    let (s, v) = env
        .json(
            Method::PUT,
            &format!("{t}/schedules/office"),
            &admin,
            json!({"name": "other", "open": {}}),
        )
        .await;
    assert_eq!(
        (s, v["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("name")),
        "{v}"
    );
    let (s, v) = env.get(&format!("{t}/schedules/office"), &admin).await;
    assert_eq!(
        (s, &v["open"], &v["time_zone"]),
        (
            StatusCode::OK,
            &json!({"monday": ["09:00-17:00"]}),
            &Value::Null
        )
    );
    assert_eq!(
        env.get(&format!("{t}/schedules"), &admin)
            .await
            .1
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // Queues and their agents.
    let (s, v) = env.get(&format!("{t}/queues/support"), &admin).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v["agents"],
        json!([{"extension": "1002", "skills": {"english": 80}, "logged_in": true, "penalty": 0}])
    );
    let (s, v) = env
        .json(
            Method::PUT,
            &format!("{t}/queues/support/agents/1001"),
            &admin,
            json!({"skills": {"french": 60}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["agents"].as_array().unwrap().len(), 2);
    let (s, v) = env
        .json(
            Method::PUT,
            &format!("{t}/queues/support/agents/1001"),
            &admin,
            json!({"skills": {"french": 160}}),
        )
        .await;
    assert_eq!(
        (s, v["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("skills")),
        "{v}"
    );
    let (s, v) = env
        .json(
            Method::PUT,
            &format!("{t}/queues/support/agents/5555"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(
        (s, v["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("agents")),
        "{v}"
    );
    let resp = env
        .send(
            Method::DELETE,
            &format!("{t}/queues/support/agents/1002"),
            Some(&admin),
            None,
            Body::empty(),
        )
        .await;
    let (s, v) = resp.json();
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["agents"][0]["extension"], "1001");
    let resp = env
        .send(
            Method::DELETE,
            &format!("{t}/queues/support/agents/1002"),
            Some(&admin),
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    let (s, v) = env
        .json(
            Method::PUT,
            &format!("{t}/queues/support"),
            &admin,
            json!({"max_waiting": 3, "strategy_plugin": "skills"}),
        )
        .await;
    assert_eq!(
        (s, &v["max_waiting"], &v["agents"]),
        (StatusCode::OK, &json!(3), &json!([]))
    );
    let (s, v) = env
        .get(&format!("{t}/queues"), &env.key("acme", "supervisor"))
        .await;
    assert_eq!((s, v.as_array().unwrap().len()), (StatusCode::OK, 1));
    assert!(env.changes.take().iter().all(|t| t == "acme"));
}

#[tokio::test]
async fn api_keys_are_shown_once() {
    let env = Env::new().await;
    let admin = env.key("acme", "admin");
    let (s, v) = env
        .json(
            Method::POST,
            "/api/tenants/acme/api-keys",
            OPERATOR,
            json!({"role": "agent", "extension": "1001", "name": "desk"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let token = v["token"].as_str().unwrap().to_string();
    assert_eq!(v["key"]["role"], "agent");
    let (s, list) = env.get("/api/tenants/acme/api-keys", &admin).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 5);
    assert!(!list.to_string().contains(&token));
    // The new agent key works and sees its own calls only.
    let (s, v) = env.get("/api/tenants/acme/cdrs", &token).await;
    assert_eq!(s, StatusCode::OK);
    let ids: Vec<_> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(ids, [json!("r1")]);

    for (body, field) in [
        (json!({"role": "agent"}), "extension"),
        (json!({"role": "admin", "extension": "9999"}), "extension"),
    ] {
        let (s, v) = env
            .json(Method::POST, "/api/tenants/acme/api-keys", &admin, body)
            .await;
        assert_eq!(
            (s, v["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{v}"
        );
    }
    let (s, v) = env
        .json(
            Method::POST,
            "/api/tenants/acme/api-keys",
            &admin,
            json!({"role": "root"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().contains("role"), "{v}");
}

#[tokio::test]
async fn cdrs_filter_page_and_export() {
    let env = Env::new().await;
    for i in 0..5u64 {
        env.store
            .insert_cdr(&cdr(
                "acme",
                &format!("q{i}"),
                10_000 + i,
                "+15557777",
                "700",
                Some("1003"),
            ))
            .unwrap();
    }
    let sup = env.key("acme", "supervisor");
    let (s, v) = env.get("/api/tenants/acme/cdrs", &sup).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["rows"].as_array().unwrap().len(), 8);
    assert_eq!(v["rows"][0]["id"], "q4", "newest first");
    assert!(v["next"].is_null());

    let (_, v) = env
        .get(
            "/api/tenants/acme/cdrs?agent=1003&from=10001&to=10004",
            &sup,
        )
        .await;
    let ids: Vec<_> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["q3", "q2", "q1"]);
    let (_, v) = env
        .get("/api/tenants/acme/cdrs?number=%2B15551234", &sup)
        .await;
    assert_eq!(v["rows"][0]["id"], "r1");
    assert_eq!(v["rows"].as_array().unwrap().len(), 1);
    let (_, v) = env
        .get("/api/tenants/acme/cdrs?disposition=busy", &sup)
        .await;
    assert!(v["rows"].as_array().unwrap().is_empty());

    // Paging walks every row once.
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let path = match &next {
            Some(n) => format!("/api/tenants/acme/cdrs?limit=3&after={n}"),
            None => "/api/tenants/acme/cdrs?limit=3".into(),
        };
        let (s, v) = env.get(&path, &sup).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        seen.extend(
            v["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_string()),
        );
        match v["next"].as_str() {
            Some(n) => next = Some(n.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ["q4", "q3", "q2", "q1", "q0", "r3", "r2", "r1"]);

    // An agent (1003) sees the calls it took part in, paged the same way.
    let (_, key) = switchyard_store::ApiKeyRepo::create_api_key(
        &env.store,
        "acme",
        switchyard_store::Role::Agent,
        Some("1003"),
        "a3",
    )
    .unwrap();
    let (_, v) = env.get("/api/tenants/acme/cdrs?limit=4", &key).await;
    let ids: Vec<_> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["q4", "q3", "q2", "q1"]);
    let n = v["next"].as_str().unwrap().to_string();
    let (_, v) = env
        .get(&format!("/api/tenants/acme/cdrs?limit=4&after={n}"), &key)
        .await;
    let ids: Vec<_> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["q0", "r3"], "r3: 1003 is the caller");
    assert!(v["next"].is_null());
    // Asking for someone else's calls by filter still yields only its own.
    let (_, v) = env.get("/api/tenants/acme/cdrs?agent=1002", &key).await;
    assert!(v["rows"].as_array().unwrap().is_empty());

    for (q, field) in [
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("from=yesterday", "from"),
        ("after=zzz", "after"),
    ] {
        let (s, v) = env.get(&format!("/api/tenants/acme/cdrs?{q}"), &sup).await;
        assert_eq!(
            (s, v["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{q}: {v}"
        );
    }

    let resp = env
        .send(
            Method::GET,
            "/api/tenants/acme/cdrs.csv?agent=1003",
            Some(&sup),
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert!(
        resp.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        resp.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("cdrs-acme.csv")
    );
    let text = resp.text();
    let lines: Vec<_> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(
        lines[0].starts_with("id,call_id,direction,caller"),
        "{}",
        lines[0]
    );
    assert_eq!(lines.len(), 6);
    assert!(lines[1].starts_with("q4,"));
    // Agents export their own calls only.
    let resp = env
        .send(
            Method::GET,
            "/api/tenants/acme/cdrs.csv",
            Some(&env.key("acme", "agent")),
            None,
            Body::empty(),
        )
        .await;
    let text = resp.text();
    assert_eq!(
        text.split("\r\n").filter(|l| !l.is_empty()).count(),
        2,
        "{text}"
    );
    assert!(text.contains("\r\nr2,"));
}

#[tokio::test]
async fn recordings_voicemails_prompts() {
    let env = Env::new().await;
    let sup = env.key("acme", "supervisor");
    let admin = env.key("acme", "admin");
    let (s, v) = env.get("/api/tenants/acme/recordings", &sup).await;
    assert_eq!((s, &v[0]["id"]), (StatusCode::OK, &json!("rec1")));
    let resp = env
        .send(
            Method::GET,
            "/api/tenants/acme/recordings/rec1",
            Some(&sup),
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.headers["content-type"], "audio/wav");
    assert_eq!(resp.text(), "acme-recording-bytes");
    let resp = env
        .send(
            Method::GET,
            "/api/tenants/acme/voicemails/vm1",
            Some(&sup),
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(resp.text(), "acme-voicemail-bytes");
    let (s, v) = env.get("/api/tenants/acme/voicemails", &sup).await;
    assert_eq!((s, v.as_array().unwrap().len()), (StatusCode::OK, 1));
    for p in [
        "/api/tenants/acme/recordings/rec1",
        "/api/tenants/acme/voicemails/vm1",
    ] {
        let del = env
            .send(Method::DELETE, p, Some(&admin), None, Body::empty())
            .await;
        assert_eq!(del.status, StatusCode::NO_CONTENT);
        let again = env
            .send(Method::GET, p, Some(&admin), None, Body::empty())
            .await;
        assert_eq!(again.status, StatusCode::NOT_FOUND);
    }
    let resp = env
        .send(
            Method::GET,
            "/api/tenants/acme/recordings/..",
            Some(&admin),
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);

    // Prompts: the provisioned one, a replacement, refusals.
    let (s, v) = env.get("/api/tenants/acme/prompts", &sup).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v[0]["meta"],
        json!({"encoding": "pcm16", "duration_ms": "100"})
    );
    let put = |body: Vec<u8>| {
        env.send(
            Method::PUT,
            "/api/tenants/acme/prompts/welcome",
            Some(&admin),
            Some("audio/wav"),
            Body::from(body),
        )
    };
    let (s, v) = put(wav_pcm16(1600)).await.json();
    assert_eq!(
        (s, &v["meta"]["duration_ms"]),
        (StatusCode::OK, &json!("200"))
    );
    let mut stereo = wav_pcm16(100);
    stereo[22] = 2;
    for bad in [b"ID3 mp3 data".to_vec(), stereo] {
        let (s, v) = put(bad).await.json();
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .contains("8000 Hz mono, 16-bit PCM or 8-bit mu-law"),
            "{v}"
        );
    }
    let too_big = vec![0u8; switchyard_api::PROMPT_BODY_LIMIT + 1];
    let (s, v) = put(too_big).await.json();
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large"))
    );
    let resp = env
        .send(
            Method::GET,
            "/api/tenants/acme/prompts/welcome",
            Some(&sup),
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(resp.body.len(), 44 + 3200);
    let del = env
        .send(
            Method::DELETE,
            "/api/tenants/acme/prompts/welcome",
            Some(&admin),
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    assert_eq!(
        env.get("/api/tenants/acme/prompts", &sup).await.1,
        json!([])
    );
}

#[tokio::test]
async fn live_calls_click_to_call_and_hangup() {
    let env = Env::new().await;
    let sup = env.key("acme", "supervisor");
    let agent = env.key("acme", "agent"); // extension 1002
    let (s, v) = env.get("/api/tenants/acme/calls", &sup).await;
    assert_eq!((s, v.as_array().unwrap().len()), (StatusCode::OK, 2));
    let (_, v) = env.get("/api/tenants/acme/calls", &agent).await;
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["call_id"], "call-2");

    let (s, v) = env
        .json(
            Method::POST,
            "/api/tenants/acme/calls",
            &agent,
            json!({"from_extension": "1002", "to": "+15550111"}),
        )
        .await;
    assert_eq!(
        (s, &v["call_id"]),
        (StatusCode::ACCEPTED, &json!("c2c-1002-+15550111"))
    );
    let (s, v) = env
        .json(
            Method::POST,
            "/api/tenants/acme/calls",
            &agent,
            json!({"from_extension": "1001", "to": "+15550111"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    for (body, field) in [
        (json!({"from_extension": "1002", "to": "sip:evil@x"}), "to"),
        (
            json!({"from_extension": "4444", "to": "100"}),
            "from_extension",
        ),
    ] {
        let (s, v) = env
            .json(Method::POST, "/api/tenants/acme/calls", &sup, body)
            .await;
        assert_eq!(
            (s, v["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{v}"
        );
    }
    assert_eq!(env.live.clicks.lock().unwrap().len(), 1);

    for (key, want) in [
        (&agent, StatusCode::FORBIDDEN),
        (&sup, StatusCode::NO_CONTENT),
        (&sup, StatusCode::NOT_FOUND),
    ] {
        let resp = env
            .send(
                Method::DELETE,
                "/api/tenants/acme/calls/call-1",
                Some(key),
                None,
                Body::empty(),
            )
            .await;
        assert_eq!(resp.status, want);
    }
    assert_eq!(env.live.calls.lock().unwrap()["bolt"].len(), 2);
}

#[tokio::test]
async fn events_stream_as_sse() {
    let env = Env::new().await;
    let req = axum::http::Request::get("/api/tenants/acme/events")
        .header(
            "authorization",
            format!("Bearer {}", env.key("acme", "supervisor")),
        )
        .body(Body::empty())
        .unwrap();
    let resp = env.app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut body = resp.into_body();
    // A bolt event must not reach acme's stream; acme's must.
    // (No one listens to bolt's channel: the send may find no receiver.)
    let _ = env.live.events["bolt"].send(CallEvent {
        kind: "started".into(),
        call_id: "bolt-call".into(),
        at_ms: 1,
        detail: None,
    });
    env.live.events["acme"]
        .send(CallEvent {
            kind: "answered".into(),
            call_id: "acme-call".into(),
            at_ms: 2,
            detail: Some("1002".into()),
        })
        .unwrap();
    let frame = tokio::time::timeout(std::time::Duration::from_secs(5), body.frame())
        .await
        .expect("an event in time")
        .unwrap()
        .unwrap();
    let text = String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap();
    assert!(text.contains("event: answered"), "{text}");
    assert!(text.contains(r#""call_id":"acme-call""#), "{text}");
    assert!(!text.contains("bolt-call"));
}

/// The plugin interface as partners read it: public, rendered from the
/// WIT this host was built with — every world and interface, a function's
/// signature with its own comment, and the versioning policy.
#[tokio::test]
async fn the_wit_docs_are_served_from_the_wit_itself() {
    let env = Env::new().await;
    let r = env
        .send(Method::GET, "/docs/wit", None, None, Body::empty())
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = r.text();
    let wit = include_str!("../../../wit/switchyard.wit");
    let version = wit
        .lines()
        .find_map(|l| l.strip_prefix("package switchyard:plugin@"))
        .unwrap()
        .trim_end_matches(';');
    assert!(
        page.contains(&format!("switchyard:plugin@{version}")),
        "{version}"
    );
    for world in [
        "call-flow",
        "queue-strategy",
        "crm-connector",
        "reporter",
        "billing-reporter",
    ] {
        assert!(
            page.contains(&format!("world <code>{world}</code>")),
            "{world}"
        );
    }
    assert!(page.contains("send: func(message: mail-message) -&gt; result&lt;_, mail-error&gt;"));
    assert!(
        page.contains("E-mail through the operator's SMTP relay"),
        "a doc comment"
    );
    assert!(page.contains("kept verbatim"), "the versioning policy");
}
