//! Plugin uploads (good, malformed, unknown world, other world, oversized,
//! too large for the tenant's plugin memory), activation, rollback, config
//! and allowlist versions, roles.

mod common;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::{Env, OPERATOR};
use serde_json::{Value, json};
use switchyard_plugins::{HostConfig, PluginHost};
use switchyard_store::PluginRepo;

fn component(name: &str) -> &'static [u8] {
    switchyard_artifacts::get(name).unwrap_or_else(|| panic!("no component {name}"))
}

async fn upload(env: &Env, name: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    env.send(
        Method::POST,
        &format!("/api/tenants/acme/plugins/{name}"),
        Some(&env.key("acme", "admin")),
        Some("application/wasm"),
        Body::from(bytes),
    )
    .await
    .json()
}

fn message(v: &Value) -> &str {
    v["message"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn upload_activate_rollback() {
    let env = Env::new().await;
    let admin = env.key("acme", "admin");
    let router = component("router");

    // The provisioned version 1 is active.
    let (s, v) = env.get("/api/tenants/acme/plugins/router", &admin).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (&v["world"], &v["active"]),
        (&json!("call-flow"), &json!(1))
    );
    let sha = v["versions"][0]["sha256"].as_str().unwrap().to_string();
    assert_eq!(v["versions"][0]["size"], router.len());
    assert_eq!(env.store.plugin_bytes(&sha).unwrap(), router);

    // A second upload is version 2, stored but not active.
    let (s, v) = upload(&env, "router", router.to_vec()).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!((&v["number"], &v["active"]), (&json!(2), &json!(false)));
    assert_eq!(env.changes.take(), ["acme"]);

    let (s, v) = env
        .json(
            Method::POST,
            "/api/tenants/acme/plugins/router/activate",
            &admin,
            json!({"version": 2}),
        )
        .await;
    assert_eq!((s, &v["active"]), (StatusCode::OK, &json!(2)), "{v}");
    assert_eq!(env.store.active("acme", "router").unwrap(), Some(2));
    let (s, _) = env
        .json(
            Method::POST,
            "/api/tenants/acme/plugins/router/activate",
            &admin,
            json!({"version": 9}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (s, v) = env
        .json(
            Method::POST,
            "/api/tenants/acme/plugins/router/rollback",
            &admin,
            json!({}),
        )
        .await;
    assert_eq!((s, &v["active"]), (StatusCode::OK, &json!(1)), "{v}");
    assert_eq!(env.store.active("acme", "router").unwrap(), Some(1));
    let (s, v) = env
        .json(
            Method::POST,
            "/api/tenants/acme/plugins/router/rollback",
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(message(&v).contains("nothing to roll back to"));

    // Another plugin in the list.
    let (s, _) = upload(&env, "stats", component("call-stats").to_vec()).await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, v) = env
        .get("/api/tenants/acme/plugins", &env.key("acme", "supervisor"))
        .await;
    let names: Vec<_> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].clone(), p["world"].clone()))
        .collect();
    assert_eq!(
        names,
        [
            (json!("router"), json!("call-flow")),
            (json!("stats"), json!("reporter"))
        ]
    );
    assert_eq!(
        env.get("/api/tenants/acme/plugins/nope", &admin).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn bad_uploads_are_refused_with_a_clear_message() {
    let env = Env::new().await;

    let (s, v) = upload(&env, "junk", b"this is not wasm at all".to_vec()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(message(&v).contains("not a WebAssembly component"), "{v}");

    // A core module, not a component.
    let (s, v) = upload(&env, "core", b"\0asm\x01\0\0\0".to_vec()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(message(&v).contains("core WebAssembly module"), "{v}");

    let (s, v) = upload(&env, "mystery", component("unknown-world").to_vec()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        message(&v).contains("Accepted worlds: call-flow, queue-strategy, crm-connector, reporter"),
        "{v}"
    );

    // A component of another world than the plugin's earlier versions.
    let (s, v) = upload(&env, "router", component("fewest-calls").to_vec()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        message(&v).contains("is a call-flow plugin and this component is a queue-strategy plugin"),
        "{v}"
    );

    // Imports its world may not use.
    let (s, v) = upload(&env, "net", component("forbidden-http-flow").to_vec()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(message(&v).contains("may not import wasi:http"), "{v}");

    // Wrong content type, bad name.
    let resp = env
        .send(
            Method::POST,
            "/api/tenants/acme/plugins/x",
            Some(&env.key("acme", "admin")),
            Some("application/json"),
            Body::from("{}"),
        )
        .await;
    assert_eq!(resp.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (s, v) = upload(&env, "Bad%20Name", component("router").to_vec()).await;
    assert_eq!(
        (s, v["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("name")),
        "{v}"
    );

    // Nothing of the refused uploads was stored.
    let names: Vec<_> = env
        .store
        .all_versions("acme")
        .unwrap()
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert_eq!(names, ["router"]);
}

#[tokio::test]
async fn oversized_uploads_are_413() {
    let router = component("router");
    let host = PluginHost::new(HostConfig {
        max_instances: 4,
        max_component_bytes: router.len() - 1,
        ..HostConfig::default()
    })
    .unwrap();
    // (Provisioning skips the router upload this host would refuse.)
    let env = Env::with_host(host).await;
    let (s, v) = upload(&env, "router2", router.to_vec()).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert_eq!(v["error"], "too_large");
    assert!(
        message(&v).contains(&format!(
            "larger than the {} bytes allowed",
            router.len() - 1
        )),
        "{v}"
    );
    // Far over the cap: refused while reading, never buffered whole.
    let (s, v) = upload(&env, "router2", vec![0u8; 64 << 20]).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert!(
        env.store
            .all_versions("acme")
            .unwrap()
            .iter()
            .all(|v| v.name != "router2")
    );
}

#[tokio::test]
async fn a_component_that_cannot_start_in_the_tenants_plugin_memory_is_422() {
    let env = Env::new().await;
    // A Rust component starts with 17 pages (1.0625 MiB) of linear memory:
    // more than a tenant allowed 1 MiB per plugin instance could give it.
    let (s, v) = env
        .json(
            Method::PATCH,
            "/api/tenants/acme",
            OPERATOR,
            json!({"limits": {"plugin_memory_mib": 1}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = upload(&env, "router2", component("router").to_vec()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let msg = message(&v);
    assert!(
        msg.contains("needs 1.1 MiB (1114112 bytes) of linear memory to start")
            && msg.contains("more than the 1 MiB (1048576 bytes)")
            && msg.contains("plugin-memory-mib) to at least 2 MiB"),
        "{v}"
    );
    assert!(
        env.store
            .all_versions("acme")
            .unwrap()
            .iter()
            .all(|v| v.name != "router2"),
        "nothing stored"
    );
    // With room, the same upload is taken.
    env.json(
        Method::PATCH,
        "/api/tenants/acme",
        OPERATOR,
        json!({"limits": {"plugin_memory_mib": 2}}),
    )
    .await;
    let (s, v) = upload(&env, "router2", component("router").to_vec()).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

#[tokio::test]
async fn config_and_allowlist_are_new_versions() {
    let env = Env::new().await;
    let admin = env.key("acme", "admin");
    let base = "/api/tenants/acme/plugins/router";

    let (s, v) = env
        .json(
            Method::PUT,
            &format!("{base}/config"),
            &admin,
            json!({"greeting": "hi", "lang": "en"}),
        )
        .await;
    assert_eq!(
        (s, &v["number"], &v["active"]),
        (StatusCode::OK, &json!(2), &json!(true)),
        "{v}"
    );
    let (s, v) = env.get(&format!("{base}/config"), &admin).await;
    assert_eq!(
        (s, v),
        (StatusCode::OK, json!({"greeting": "hi", "lang": "en"}))
    );
    // Supervisors cannot read settings (they may hold credentials).
    assert_eq!(
        env.get(&format!("{base}/config"), &env.key("acme", "supervisor"))
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    let (s, v) = env
        .json(
            Method::PUT,
            &format!("{base}/http-allowlist"),
            &admin,
            json!({"hosts": ["API.crm.example", "*.hooks.example"]}),
        )
        .await;
    assert_eq!((s, &v["number"]), (StatusCode::OK, &json!(3)), "{v}");
    let (_, v) = env.get(&format!("{base}/http-allowlist"), &admin).await;
    assert_eq!(v, json!({"hosts": ["*.hooks.example", "api.crm.example"]}));
    // The same component, the settings carried along.
    let rec = env.store.version("acme", "router", 3).unwrap().unwrap();
    assert_eq!(rec.config["greeting"], "hi");
    assert_eq!(
        rec.config["switchyard.http-allowlist"],
        "*.hooks.example,api.crm.example"
    );
    assert_eq!(
        rec.sha256,
        env.store
            .version("acme", "router", 1)
            .unwrap()
            .unwrap()
            .sha256
    );

    // A config change keeps the allowlist, and it stays out of the config view.
    let (s, _) = env
        .json(
            Method::PUT,
            &format!("{base}/config"),
            &admin,
            json!({"greeting": "hello"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, v) = env.get(&format!("{base}/config"), &admin).await;
    assert_eq!(v, json!({"greeting": "hello"}));
    let (_, v) = env.get(&format!("{base}/http-allowlist"), &admin).await;
    assert_eq!(v["hosts"].as_array().unwrap().len(), 2);

    // Rolling back undoes the last settings change.
    let (_, v) = env
        .json(Method::POST, &format!("{base}/rollback"), &admin, json!({}))
        .await;
    assert_eq!(v["active"], 3);
    let (_, v) = env.get(&format!("{base}/config"), &admin).await;
    assert_eq!(v, json!({"greeting": "hi", "lang": "en"}));

    // A new upload starts from the active settings.
    let (s, v) = upload(&env, "router", component("router").to_vec()).await;
    assert_eq!((s, &v["number"]), (StatusCode::CREATED, &json!(5)));
    assert_eq!(
        env.store
            .version("acme", "router", 5)
            .unwrap()
            .unwrap()
            .config["greeting"],
        "hi"
    );

    for (path, body, field) in [
        (
            "config",
            json!({"switchyard.http-allowlist": "evil.example"}),
            "config",
        ),
        ("http-allowlist", json!({"hosts": ["10.0.0.1:80"]}), "hosts"),
        ("http-allowlist", json!({"hosts": ["*"]}), "hosts"),
    ] {
        let (s, v) = env
            .json(Method::PUT, &format!("{base}/{path}"), &admin, body)
            .await;
        assert_eq!(
            (s, v["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{v}"
        );
    }
    let (s, _) = env
        .json(
            Method::PUT,
            "/api/tenants/acme/plugins/nope/config",
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn roles_name_installed_plugins_of_the_right_world() {
    let env = Env::new().await;
    let admin = env.key("acme", "admin");
    let (s, _) = upload(&env, "stats", component("call-stats").to_vec()).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, v) = env.get("/api/tenants/acme/plugin-roles", &admin).await;
    assert_eq!((s, &v["flows"]), (StatusCode::OK, &json!({})));

    let roles = json!({"flows": {"main": "router"}, "reporters": ["stats"]});
    let (s, v) = env
        .json(
            Method::PUT,
            "/api/tenants/acme/plugin-roles",
            &admin,
            roles.clone(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, v) = env
        .get(
            "/api/tenants/acme/plugin-roles",
            &env.key("acme", "supervisor"),
        )
        .await;
    assert_eq!(v["flows"], roles["flows"]);
    assert_eq!(v["reporters"], roles["reporters"]);

    for (body, field) in [
        (json!({"flows": {"main": "stats"}}), "flows"),
        (json!({"crm": "router"}), "crm"),
        (json!({"reporters": ["missing"]}), "reporters"),
        (json!({"strategies": {"s": "router"}}), "strategies"),
    ] {
        let (s, v) = env
            .json(Method::PUT, "/api/tenants/acme/plugin-roles", &admin, body)
            .await;
        assert_eq!(
            (s, v["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{v}"
        );
    }
    // The operator may use any tenant route too.
    let (s, _) = env.get("/api/tenants/acme/plugin-roles", OPERATOR).await;
    assert_eq!(s, StatusCode::OK);
}
