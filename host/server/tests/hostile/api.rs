//! The HTTP side as an outsider sees it (issue 11, item 8): `/metrics`
//! names every tenant, so it is the operator's alone unless the operator
//! serves it on an address of its own; and its families are there from
//! the start, not after the first call.

use std::net::SocketAddr;

use serde_json::{Value, json};
use switchyard_server::{Config, Running, start};

use crate::common::{Pbx, pbx};

struct Got {
    status: u16,
    challenge: Option<String>,
    body: String,
}

/// `method url` with `Authorization: <authorization>` when given; off the
/// runtime the server lives on (ureq blocks).
async fn http(
    method: &'static str,
    url: String,
    authorization: Option<String>,
    body: Option<Value>,
) -> Got {
    tokio::task::spawn_blocking(move || {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let auth = authorization.unwrap_or_default();
        let resp = match (method, body) {
            ("GET", _) if auth.is_empty() => agent.get(&url).call(),
            ("GET", _) => agent.get(&url).header("Authorization", &auth).call(),
            (_, Some(b)) => agent
                .post(&url)
                .header("Authorization", &auth)
                .send_json(&b),
            (_, None) => agent.post(&url).header("Authorization", &auth).send_empty(),
        };
        let mut resp = resp.expect("HTTP request");
        let challenge = resp
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_string());
        Got {
            status: resp.status().as_u16(),
            challenge,
            body: resp.body_mut().read_to_string().unwrap_or_default(),
        }
    })
    .await
    .expect("HTTP task")
}

fn bearer(token: &str) -> Option<String> {
    Some(format!("Bearer {token}"))
}

async fn metrics_of(running: &Running) -> String {
    let got = http(
        "GET",
        format!("http://{}/metrics", running.http),
        bearer(&running.operator_token),
        None,
    )
    .await;
    assert_eq!(got.status, 200, "{}", got.body);
    got.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_for_the_operator_token_only() {
    let Pbx { running, _dir } = pbx().await;
    let url = format!("http://{}/metrics", running.http);
    let op = running.operator_token.clone();
    let key = http(
        "POST",
        format!("http://{}/api/tenants/demo/api-keys", running.http),
        bearer(&op),
        Some(json!({"role": "admin", "name": "prober"})),
    )
    .await;
    assert_eq!(key.status, 201, "{}", key.body);
    let key: Value = serde_json::from_str(&key.body).unwrap();
    let tenant_key = key["token"].as_str().unwrap().to_string();

    for auth in [
        None,
        bearer("not-the-token"),
        // A tenant's own admin key: metrics list the other tenants.
        bearer(&tenant_key),
        Some(format!("Basic {op}")),
    ] {
        let got = http("GET", url.clone(), auth.clone(), None).await;
        assert_eq!(got.status, 401, "{auth:?}: {}", got.body);
        assert_eq!(got.challenge.as_deref(), Some("Bearer"), "{auth:?}");
        assert!(!got.body.contains("demo"), "{auth:?}: {}", got.body);
    }
    // The scheme in any case.
    let got = http("GET", url, Some(format!("bearer {op}")), None).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert!(got.body.contains("tenant=\"demo\""), "{}", got.body);
    // No unauthenticated address unless configured.
    assert_eq!(running.metrics, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_listen_serves_them_without_a_token_on_its_own_address() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(Config {
        data_dir: dir.path().to_path_buf(),
        sip_listen: "127.0.0.1:0".parse().unwrap(),
        http_listen: "127.0.0.1:0".parse().unwrap(),
        metrics_listen: Some("127.0.0.1:0".parse().unwrap()),
        ..Config::default()
    })
    .await
    .expect("server starts");
    let metrics: SocketAddr = running.metrics.expect("the metrics address");
    assert_ne!(metrics, running.http);
    let got = http("GET", format!("http://{metrics}/metrics"), None, None).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert!(got.body.contains("switchyard_call_setups"), "{}", got.body);
    // Only the metrics there: the API is not reachable through it.
    let got = http(
        "GET",
        format!("http://{metrics}/api/tenants"),
        bearer(&running.operator_token),
        None,
    )
    .await;
    assert_eq!(got.status, 404, "{}", got.body);
    // The API port still wants the token.
    let got = http(
        "GET",
        format!("http://{}/metrics", running.http),
        None,
        None,
    )
    .await;
    assert_eq!(got.status, 401, "{}", got.body);
}

/// Every family of the call engine, as its `# TYPE` line.
const FAMILIES: [&str; 7] = [
    "# TYPE switchyard_active_calls gauge",
    "# TYPE switchyard_call_setups counter",
    "# TYPE switchyard_call_failures counter",
    "# TYPE switchyard_registrations counter",
    "# TYPE switchyard_plugin_invocations counter",
    "# TYPE switchyard_plugin_errors counter",
    "# TYPE switchyard_plugin_latency_seconds histogram",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metric_families_exist_before_the_first_call() {
    let Pbx { running, _dir } = pbx().await;
    let text = metrics_of(&running).await;
    for family in FAMILIES {
        assert!(text.contains(family), "{family:?} missing:\n{text}");
    }
    assert!(
        text.contains("switchyard_call_setups_total{tenant=\"demo\"} 0"),
        "{text}"
    );
    assert!(
        text.contains("switchyard_call_failures_total{tenant=\"demo\",disposition=\"busy\"} 0"),
        "{text}"
    );

    // A tenant added later has its series at zero as soon as it exists.
    let got = http(
        "POST",
        format!("http://{}/api/tenants", running.http),
        bearer(&running.operator_token),
        Some(json!({"id": "acme", "name": "Acme", "domains": ["acme.test"], "time_zone": "UTC"})),
    )
    .await;
    assert_eq!(got.status, 201, "{}", got.body);
    let text = metrics_of(&running).await;
    assert!(
        text.contains("switchyard_active_calls{tenant=\"acme\"} 0"),
        "{text}"
    );
}
