//! Cross-tenant claims (issue 11, item 3): a tenant names another
//! tenant's phone address as its "carrier" and the other tenant's
//! extension number as its own number, hoping to receive (or black-hole)
//! that tenant's calls.

use std::sync::Arc;

use serde_json::{Value, json};
use switchyard_sipp::Sipp;
use switchyard_store::{CdrFilter, CdrRepo};

use crate::common::{LIMIT, blocking, pbx};

/// Where demo's 1003 calls from: the address acme names for its trunk.
/// (Every 127.0.0.0/8 address is loopback on Linux; SIPp binds it.)
const PHONE_IP: &str = "127.0.0.11";

/// A blocking JSON call to the API: status and body.
fn http(method: &str, url: &str, token: &str, body: Value) -> (u16, Value) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let auth = format!("Bearer {token}");
    let mut resp = match method {
        "PUT" => agent
            .put(url)
            .header("Authorization", &auth)
            .send_json(&body),
        _ => agent
            .post(url)
            .header("Authorization", &auth)
            .send_json(&body),
    }
    .expect("HTTP request");
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn created(r: (u16, Value)) -> Value {
    assert_eq!(r.0, 201, "{}", r.1);
    r.1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_naming_another_tenants_phone_as_its_trunk_gets_none_of_its_calls() {
    let pbx = Arc::new(pbx().await);
    let p = pbx.clone();
    let (caller, callee) = blocking(move || {
        let base = format!("http://{}/api", p.running.http);
        let op = p.running.operator_token.clone();
        created(http(
            "POST",
            &format!("{base}/tenants"),
            &op,
            json!({"id": "acme", "name": "Acme", "domains": ["acme.example"], "time_zone": "UTC"}),
        ));
        let key = created(http(
            "POST",
            &format!("{base}/tenants/acme/api-keys"),
            &op,
            json!({"role": "admin", "name": "acme admin"}),
        ));
        let acme = key["token"].as_str().expect("token").to_string();
        let grab = json!({
            "name": "grab", "host": "127.0.0.1:9", "transport": "udp",
            "inbound_addresses": [PHONE_IP]
        });
        let trunks = format!("{base}/tenants/acme/trunks");

        // The grab as the prober made it, with acme's own key: refused.
        let (status, body) = http("POST", &trunks, &acme, grab.clone());
        assert_eq!(status, 403, "{body}");

        // Where a demo phone is registered, not even the operator can
        // give the address to acme.
        // (Nobody calls 1001 here: its SIPp registers and leaves.)
        Sipp::new("register")
            .remote(p.addr())
            .user("1001")
            .auth("1001", &p.password("1001"))
            .arg("-i")
            .arg("127.0.0.12")
            .timeout(LIMIT)
            .run()
            .assert_ok();
        let (status, body) = http(
            "POST",
            &trunks,
            &op,
            json!({"name": "grab2", "host": "127.0.0.1:9", "inbound_addresses": ["127.0.0.12"]}),
        );
        assert_eq!(status, 409, "{body}");

        // The worst case left: the operator approved the address for acme
        // before any demo phone used it, and acme claims demo's extension
        // number as one of its own numbers.
        created(http("POST", &trunks, &op, grab));
        created(http(
            "POST",
            &format!("{base}/tenants/acme/numbers"),
            &acme,
            json!({"number": "1002", "flow": "extensions"}),
        ));

        // demo's 1003 calls its own 1002 from that address: challenged by
        // demo, authenticated, and answered by 1002's phone.
        let callee = p.phone("1002", "uas_answer", &[]);
        let caller = Sipp::new("uac_call")
            .remote(p.addr())
            .user("1002")
            .auth("1003", &p.password("1003"))
            .set("caller", "1003")
            .set("pause_ms", "200")
            .arg("-i")
            .arg(PHONE_IP)
            .timeout(LIMIT)
            .run();
        (caller, callee.wait())
    })
    .await;
    caller.assert_ok();
    callee.assert_ok();
    // The call really came from acme's trunk address, and demo challenged
    // it (a trunk call is never challenged).
    assert!(
        caller
            .messages
            .contains(&format!("Via: SIP/2.0/UDP {PHONE_IP}:")),
        "{}",
        caller.report()
    );
    assert!(
        caller.messages.contains("SIP/2.0 407"),
        "{}",
        caller.report()
    );
    let c = &pbx.cdrs(1).await[0];
    assert_eq!(
        (
            c.direction.as_str(),
            c.caller.as_str(),
            c.dialled.as_str(),
            c.agent.as_deref()
        ),
        ("internal", "1003", "1002", Some("1002"))
    );
    let acme = pbx
        .running
        .store
        .query_cdrs("acme", &CdrFilter::default())
        .expect("acme's records");
    assert!(acme.rows.is_empty(), "acme saw {:?}", acme.rows);
}
