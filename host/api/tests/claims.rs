//! One tenant cannot claim another's traffic through the API (issue 11,
//! item 3): a trunk's inbound address is one tenant's, and not where
//! another tenant's phone is registered; a DID is one tenant's; loopback
//! and private addresses are the operator's to hand out.

mod common;

use axum::http::{Method, StatusCode};
use common::{Env, OPERATOR, host};
use serde_json::{Value, json};
use switchyard_store::{Binding, RegistrationRepo};

/// Public addresses (not documentation ranges, which count as non-public).
const CARRIER: &str = "93.184.216.34";
const PHONE: &str = "93.184.216.40";

async fn add_trunk(env: &Env, tenant: &str, token: &str, body: Value) -> (StatusCode, Value) {
    env.json(
        Method::POST,
        &format!("/api/tenants/{tenant}/trunks"),
        token,
        body,
    )
    .await
}

fn conflict(r: &(StatusCode, Value), what: &str) {
    assert_eq!(r.0, StatusCode::CONFLICT, "{}", r.1);
    assert_eq!(r.1["error"], "conflict", "{}", r.1);
    let msg = r.1["message"].as_str().unwrap_or_default();
    assert!(msg.contains(what), "{msg}");
}

#[tokio::test]
async fn an_inbound_address_of_another_tenants_trunk_is_a_409() {
    let env = Env::new().await;
    let (acme, bolt) = (env.key("acme", "admin"), env.key("bolt", "admin"));
    let r = add_trunk(
        &env,
        "acme",
        &acme,
        json!({"name": "main", "host": "sip.carrier.example", "inbound_addresses": [CARRIER]}),
    )
    .await;
    assert_eq!(r.0, StatusCode::CREATED, "{}", r.1);
    // bolt may not name it, not even one port of it, on a new trunk…
    for clash in [CARRIER.to_string(), format!("{CARRIER}:5060")] {
        let r = add_trunk(
            &env,
            "bolt",
            &bolt,
            json!({"name": "grab", "host": "sip.carrier.example", "inbound_addresses": [clash]}),
        )
        .await;
        conflict(&r, "another tenant's trunk");
    }
    // …nor on the trunk it has.
    let r = env
        .json(
            Method::PUT,
            "/api/tenants/bolt/trunks/carrier",
            &bolt,
            json!({"host": "sip.carrier.example", "inbound_addresses": [CARRIER]}),
        )
        .await;
    conflict(&r, "another tenant's trunk");
    // The operator is held to it too: the address is acme's.
    let r = add_trunk(
        &env,
        "bolt",
        OPERATOR,
        json!({"name": "grab", "host": "sip.carrier.example", "inbound_addresses": [CARRIER]}),
    )
    .await;
    conflict(&r, "another tenant's trunk");
    // acme itself may use it on a second trunk.
    let r = add_trunk(
        &env,
        "acme",
        &acme,
        json!({"name": "backup", "host": "sip.carrier.example", "inbound_addresses": [CARRIER]}),
    )
    .await;
    assert_eq!(r.0, StatusCode::CREATED, "{}", r.1);
}

#[tokio::test]
async fn an_inbound_address_where_another_tenants_phone_is_registered_is_a_409() {
    let env = Env::new().await;
    let binding = |source: &str, expires_at_ms: u64| Binding {
        tenant: "bolt".into(),
        extension: "1001".into(),
        contact: format!("sip:1001@{source}"),
        expires_at_ms,
        q: None,
        call_id: "reg-1".into(),
        cseq: 1,
        source: source.into(),
        transport: "UDP".into(),
        user_agent: None,
    };
    env.store
        .put_binding(&binding(&format!("{PHONE}:5060"), u64::MAX))
        .unwrap();
    // An expired registration does not hold its address.
    env.store
        .put_binding(&binding("93.184.216.41:5060", 1))
        .unwrap();
    let acme = env.key("acme", "admin");
    let r = add_trunk(
        &env,
        "acme",
        &acme,
        json!({"name": "grab", "host": "sip.carrier.example", "inbound_addresses": [PHONE]}),
    )
    .await;
    conflict(&r, "registered phone of another tenant");
    let r = add_trunk(
        &env,
        "acme",
        &acme,
        json!({"name": "old", "host": "sip.carrier.example", "inbound_addresses": ["93.184.216.41"]}),
    )
    .await;
    assert_eq!(r.0, StatusCode::CREATED, "{}", r.1);
    // bolt's own phone is no obstacle to bolt's trunk.
    let r = add_trunk(
        &env,
        "bolt",
        &env.key("bolt", "admin"),
        json!({"name": "own", "host": "sip.carrier.example", "inbound_addresses": [PHONE]}),
    )
    .await;
    assert_eq!(r.0, StatusCode::CREATED, "{}", r.1);
}

#[tokio::test]
async fn a_did_of_another_tenant_is_a_409() {
    let env = Env::new().await;
    let number = |tenant: &str, token: String, n: &str| {
        let env = &env;
        let tenant = tenant.to_string();
        let n = n.to_string();
        async move {
            env.json(
                Method::POST,
                &format!("/api/tenants/{tenant}/numbers"),
                &token,
                json!({"number": n, "flow": "main"}),
            )
            .await
        }
    };
    let r = number("acme", env.key("acme", "admin"), "+15550100").await;
    assert_eq!(r.0, StatusCode::CREATED, "{}", r.1);
    let r = number("bolt", env.key("bolt", "admin"), "+15550100").await;
    conflict(&r, "+15550100");
    let r = number("bolt", OPERATOR.into(), "+15550100").await;
    conflict(&r, "+15550100");
    // Short numbers are each tenant's own (both have 700 already):
    // extension-like numbers route only within a tenant's own domain.
    let r = number("bolt", env.key("bolt", "admin"), "1002").await;
    assert_eq!(r.0, StatusCode::CREATED, "{}", r.1);
}

/// The grab of issue 11 and its variants: every loopback, private,
/// link-local or unspecified host or inbound address.
fn private_trunks() -> Vec<Value> {
    let mut out = vec![json!({
        "name": "grab", "host": "127.0.0.1:9", "transport": "udp",
        "inbound_addresses": ["127.0.0.11"]
    })];
    for host in [
        "10.0.0.1",
        "192.168.1.10:5060",
        "localhost:5060",
        "[::1]:5060",
    ] {
        out.push(json!({"name": "grab", "host": host}));
    }
    for inbound in ["169.254.169.254", "0.0.0.0", "172.16.0.1:5060", "fd00::1"] {
        out.push(json!({
            "name": "grab", "host": "sip.carrier.example", "inbound_addresses": [inbound]
        }));
    }
    out
}

#[tokio::test]
async fn private_trunk_addresses_are_the_operators_to_allow() {
    let env = Env::new().await;
    let acme = env.key("acme", "admin");
    for body in private_trunks() {
        let r = add_trunk(&env, "acme", &acme, body.clone()).await;
        assert_eq!(r.0, StatusCode::FORBIDDEN, "{body}: {}", r.1);
        assert!(
            r.1["message"]
                .as_str()
                .unwrap_or_default()
                .contains("allow-private-trunks"),
            "{}",
            r.1
        );
    }
    assert!(
        env.get("/api/tenants/acme/trunks/grab", &acme)
            .await
            .0
            .is_client_error()
    );
    // The operator may set one up for the tenant…
    let grab = private_trunks().remove(0);
    let r = add_trunk(&env, "acme", OPERATOR, grab).await;
    assert_eq!(r.0, StatusCode::CREATED, "{}", r.1);
    // …which the tenant may then edit, keeping those addresses…
    let r = env
        .json(
            Method::PUT,
            "/api/tenants/acme/trunks/grab",
            &acme,
            json!({"host": "127.0.0.1:9", "inbound_addresses": ["127.0.0.11"], "max_concurrent_calls": 4}),
        )
        .await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    // …but not extend to other private ones.
    let r = env
        .json(
            Method::PUT,
            "/api/tenants/acme/trunks/grab",
            &acme,
            json!({"host": "127.0.0.1:9", "inbound_addresses": ["127.0.0.11", "127.0.0.12"]}),
        )
        .await;
    assert_eq!(r.0, StatusCode::FORBIDDEN, "{}", r.1);
}

#[tokio::test]
async fn the_operator_setting_lets_tenants_use_private_trunk_addresses() {
    let env = Env::with_options(host(), true).await;
    let acme = env.key("acme", "admin");
    let r = add_trunk(&env, "acme", &acme, private_trunks().remove(0)).await;
    assert_eq!(r.0, StatusCode::CREATED, "{}", r.1);
}
