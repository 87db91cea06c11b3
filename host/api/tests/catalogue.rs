//! The plugin catalogue: the operator publishes and describes a partner's
//! component; tenants list it and install it with their own settings
//! (checked against its schema, the field named) and allowlist (within its
//! hosts); an upgrade keeps those settings; a tenant's own uploads never
//! show in the catalogue; an entry that cannot start in the tenant's
//! plugin memory is not installed.

mod common;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::{Env, OPERATOR};
use serde_json::{Value, json};
use switchyard_store::PluginRepo;

async fn publish(env: &Env, name: &str, component: &str) -> Value {
    let (s, v) = env
        .send(
            Method::POST,
            &format!("/api/catalogue/{name}"),
            Some(OPERATOR),
            Some("application/wasm"),
            Body::from(switchyard_artifacts::get(component).unwrap()),
        )
        .await
        .json();
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

fn schema(required: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": {
            "base-url": {"type": "string", "pattern": "^https://"},
            "timeout-ms": {"type": "integer", "minimum": 100},
            "region": {"type": "string"}
        },
        "required": required,
        "additionalProperties": false
    })
}

#[tokio::test]
async fn a_tenant_installs_a_catalogue_plugin_with_checked_settings_and_upgrades_it() {
    let env = Env::new().await;
    // The env published crm-rest v1; describe it.
    let (s, v) = env
        .json(
            Method::PUT,
            "/api/catalogue/crm-rest/1",
            OPERATOR,
            json!({"description": "A REST CRM: screen pop and call logging",
                "config_schema": schema(&["base-url"]),
                "hosts": ["api.crm.example", "*.crm.example"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = env
        .json(
            Method::PUT,
            "/api/catalogue/crm-rest/1",
            OPERATOR,
            json!({"config_schema": {"type": 12}}),
        )
        .await;
    assert_eq!(
        (s, &v["field"]),
        (StatusCode::BAD_REQUEST, &json!("config_schema"))
    );

    let admin = env.key("acme", "admin");
    let (s, v) = env.get("/api/catalogue", &admin).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v[0]["name"], "crm-rest");
    assert_eq!(v[0]["world"], "crm-connector");
    let (s, _) = env.get("/api/catalogue", &env.key("acme", "agent")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = env
        .send(
            Method::POST,
            "/api/catalogue/mine",
            Some(&admin),
            Some("application/wasm"),
            Body::from(switchyard_artifacts::get("router").unwrap()),
        )
        .await
        .json();
    assert_eq!(s, StatusCode::FORBIDDEN, "the operator publishes");

    let install = "/api/tenants/acme/catalogue/crm-rest/install";
    let (s, v) = env
        .json(
            Method::POST,
            install,
            &admin,
            json!({"config": {"base-url": "http://insecure", "timeout-ms": 5}}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let field = v["field"].as_str().unwrap();
    assert!(
        field == "config/base-url" || field == "config/timeout-ms",
        "{v}"
    );
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("(at config/timeout-ms)"),
        "{v}"
    );
    let (s, v) = env
        .json(
            Method::POST,
            install,
            &admin,
            json!({"config": {"base-url": "https://acme.crm.example"},
                "http_allowlist": ["evil.example"]}),
        )
        .await;
    assert_eq!(
        (s, &v["field"]),
        (StatusCode::BAD_REQUEST, &json!("http_allowlist"))
    );
    let (s, v) = env
        .json(
            Method::POST,
            install,
            &admin,
            json!({"config": {"base-url": "https://acme.crm.example", "timeout-ms": 800},
                "http_allowlist": ["api.crm.example"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["number"], 1);
    let (_, c) = env
        .get("/api/tenants/acme/plugins/crm-rest/config", &admin)
        .await;
    assert_eq!(
        c,
        json!({"base-url": "https://acme.crm.example", "timeout-ms": "800"})
    );
    let (_, hosts) = env
        .get("/api/tenants/acme/plugins/crm-rest/http-allowlist", &admin)
        .await;
    assert_eq!(hosts["hosts"], json!(["api.crm.example"]));

    // Nothing newer yet.
    let upgrade = "/api/tenants/acme/plugins/crm-rest/upgrade";
    let (s, _) = env.json(Method::POST, upgrade, &admin, json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    // Version 2 wants a region the tenant never gave: the upgrade says so.
    publish(&env, "crm-rest", "crm-rest").await;
    let (s, _) = env
        .json(
            Method::PUT,
            "/api/catalogue/crm-rest/2",
            OPERATOR,
            json!({"config_schema": schema(&["base-url", "region"]),
                "hosts": ["api.crm.example"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = env.json(Method::POST, upgrade, &admin, json!({})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["message"].as_str().unwrap().contains("region"), "{v}");
    // Version 3 asks nothing new: upgraded, settings and allowlist kept.
    let v3 = publish(&env, "crm-rest", "crm-rest").await;
    assert_eq!(
        v3["config_schema"],
        schema(&["base-url", "region"]),
        "described as v2"
    );
    let (s, _) = env
        .json(
            Method::PUT,
            "/api/catalogue/crm-rest/3",
            OPERATOR,
            json!({"config_schema": schema(&["base-url"]), "hosts": ["api.crm.example"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = env.json(Method::POST, upgrade, &admin, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (&v["number"], &v["active"]),
        (&json!(2), &json!(true)),
        "{v}"
    );
    let (_, c) = env
        .get("/api/tenants/acme/plugins/crm-rest/config", &admin)
        .await;
    assert_eq!(c["base-url"], "https://acme.crm.example");
    let (_, hosts) = env
        .get("/api/tenants/acme/plugins/crm-rest/http-allowlist", &admin)
        .await;
    assert_eq!(hosts["hosts"], json!(["api.crm.example"]));

    // A tenant's own upload is not catalogue material: no upgrade, and
    // the catalogue lists only what the operator published.
    let (s, _) = env
        .json(
            Method::POST,
            "/api/tenants/acme/plugins/router/upgrade",
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (_, all) = env.get("/api/catalogue", &env.key("bolt", "admin")).await;
    let names: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(names.iter().all(|n| *n == "crm-rest"), "{names:?}");
}

#[tokio::test]
async fn an_entry_that_cannot_start_in_the_tenants_plugin_memory_is_not_installed() {
    let env = Env::new().await;
    publish(&env, "greeter", "router").await;
    // A Rust component starts with 1.0625 MiB of linear memory.
    let (s, v) = env
        .json(
            Method::PATCH,
            "/api/tenants/acme",
            OPERATOR,
            json!({"limits": {"plugin_memory_mib": 1}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = env
        .json(
            Method::POST,
            "/api/tenants/acme/catalogue/greeter/install",
            &env.key("acme", "admin"),
            json!({"config": {}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("needs 1.1 MiB (1114112 bytes) of linear memory to start"),
        "{v}"
    );
    assert!(
        env.store
            .all_versions("acme")
            .unwrap()
            .iter()
            .all(|v| v.name != "greeter"),
        "nothing installed"
    );
}
