//! Host capabilities end to end: outbound HTTP policy against a real local
//! HTTP server, contacts through the tenant's crm-connector, directory.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use switchyard_plugins::directory::Extension;
use switchyard_plugins::flow_types::{Action, DialTarget, Event, Gathered};
use switchyard_plugins::{HttpPolicyConfig, InMemoryDirectory, PluginFailure, TenantLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A real HTTP/1.1 server on 127.0.0.1 answering every request with `body`
/// after `delay`. Returns its base URL.
async fn serve(body: Vec<u8>, delay: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let body = body.clone();
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                tokio::time::sleep(delay).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(&body).await;
            });
        }
    });
    format!("http://{addr}")
}

fn loopback_allowed() -> HttpPolicyConfig {
    HttpPolicyConfig {
        allow_private_addresses: true,
        ..HttpPolicyConfig::default()
    }
}

fn crm_limits(allow: &[&str]) -> TenantLimits {
    TenantLimits {
        http_allowlist: allow.iter().map(|s| s.to_string()).collect(),
        ..limits()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_lookup_over_allowed_http() {
    let url = serve(b"c-42|Alice Example".to_vec(), Duration::ZERO).await;
    let host = host_with_http(loopback_allowed());
    let t = tenant(&host, "acme", crm_limits(&["127.0.0.1"]));
    t.install("crm", wasm("http-crm"), config(&[])).unwrap();
    t.set_crm("crm").unwrap();
    let c = t
        .try_crm_lookup(&format!("{url}/contacts"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((c.id.as_str(), c.name.as_str()), ("c-42", "Alice Example"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_outside_the_allowlist_is_denied() {
    let url = serve(b"c-1|Bob".to_vec(), Duration::ZERO).await;
    let host = host_with_http(loopback_allowed());
    let t = tenant(&host, "acme", crm_limits(&["api.crm.example"]));
    t.install("crm", wasm("http-crm"), config(&[])).unwrap();
    t.set_crm("crm").unwrap();
    let r = t.try_crm_lookup(&format!("{url}/contacts")).await;
    assert!(
        matches!(&r, Err(PluginFailure::PluginError(m)) if m.contains("HttpRequestDenied")),
        "{r:?}"
    );
    // The lenient form is `None`, and a flow asking through `contacts` gets
    // `unknown`.
    assert_eq!(t.crm_lookup(&url).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_addresses_are_refused_unless_the_operator_allows_them() {
    let url = serve(b"c-1|Bob".to_vec(), Duration::ZERO).await;
    // Allowlisted by the tenant, but loopback: refused by the operator rule.
    let host = host_with_http(HttpPolicyConfig::default());
    let t = tenant(&host, "acme", crm_limits(&["127.0.0.1", "localhost"]));
    t.install("crm", wasm("http-crm"), config(&[])).unwrap();
    t.set_crm("crm").unwrap();
    let r = t.try_crm_lookup(&format!("{url}/c")).await;
    assert!(
        matches!(&r, Err(PluginFailure::PluginError(m)) if m.contains("DestinationIpProhibited")),
        "{r:?}"
    );
    // A name resolving to loopback is refused the same way (checked after
    // DNS resolution).
    let port = url.rsplit(':').next().unwrap();
    let r = t
        .try_crm_lookup(&format!("http://localhost:{port}/c"))
        .await;
    assert!(
        matches!(&r, Err(PluginFailure::PluginError(m)) if m.contains("DestinationIpProhibited")),
        "{r:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_bodies_are_capped() {
    let url = serve(vec![b'x'; 64 << 10], Duration::ZERO).await;
    let host = host_with_http(HttpPolicyConfig {
        max_response_bytes: 1024,
        ..loopback_allowed()
    });
    let t = tenant(&host, "acme", crm_limits(&["127.0.0.1"]));
    t.install("crm", wasm("http-crm"), config(&[])).unwrap();
    t.set_crm("crm").unwrap();
    let r = t.try_crm_lookup(&format!("{url}/big")).await;
    assert!(
        matches!(&r, Err(PluginFailure::PluginError(m)) if m.starts_with("body:")),
        "{r:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_first_byte_is_cut_by_the_operator_cap() {
    let url = serve(b"c-1|Bob".to_vec(), Duration::from_secs(3)).await;
    let host = host_with_http(HttpPolicyConfig {
        first_byte_timeout: Duration::from_millis(200),
        ..loopback_allowed()
    });
    let t = tenant(&host, "acme", crm_limits(&["127.0.0.1"]));
    t.install("crm", wasm("http-crm"), config(&[])).unwrap();
    t.set_crm("crm").unwrap();
    let started = std::time::Instant::now();
    let r = t.try_crm_lookup(&format!("{url}/slow")).await;
    assert!(matches!(&r, Err(PluginFailure::PluginError(_))), "{r:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

/// The flow's CPU budget (20 ms) is far below the time the CRM takes to
/// answer (300 ms): time blocked in `contacts.lookup` is not guest CPU.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_asks_contacts_through_the_crm_and_host_time_is_not_cpu() {
    let url = serve(b"c-7|Carol VIP".to_vec(), Duration::from_millis(300)).await;
    let host = host_with_http(loopback_allowed());
    let t = tenant(
        &host,
        "acme",
        TenantLimits {
            cpu: Duration::from_millis(20),
            http_allowlist: vec!["127.0.0.1".into()],
            ..limits()
        },
    );
    t.install("crm", wasm("http-crm"), config(&[])).unwrap();
    t.install("echo", wasm("echo-flow"), config(&[])).unwrap();
    t.set_crm("crm").unwrap();
    let echo = t.pin("echo").unwrap();
    let who = Event::Digits(Gathered {
        digits: "who".into(),
        finished_by_key: false,
    });
    // echo-flow looks up the caller's number; http-crm fetches it as a URL.
    let d = t
        .invoke_flow(&echo, &call("acme", &format!("{url}/c"), "100"), &who, None)
        .await
        .unwrap();
    assert_eq!(d.actions, vec![Action::SetTag("Carol VIP".into())]);

    // Without a connector the flow simply gets nobody.
    let other = tenant(&host, "other", limits());
    other
        .install("echo", wasm("echo-flow"), config(&[]))
        .unwrap();
    let echo = other.pin("echo").unwrap();
    let d = other
        .invoke_flow(&echo, &call("other", "+1555", "100"), &who, None)
        .await
        .unwrap();
    assert_eq!(d.actions, vec![Action::SetTag("unknown".into())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_answers_for_the_tenant() {
    let host = host();
    let dir = Arc::new(InMemoryDirectory::new());
    dir.put_extension(Extension {
        number: "1001".into(),
        display_name: Some("Dana".into()),
        registered: true,
        has_voicemail: true,
    });
    dir.put_extension(Extension {
        number: "1002".into(),
        display_name: None,
        registered: false,
        has_voicemail: true,
    });
    let t = tenant_with_directory(&host, "acme", limits(), dir);
    t.install("echo", wasm("echo-flow"), config(&[])).unwrap();
    let echo = t.pin("echo").unwrap();
    let ext = |n: &str| {
        Event::Digits(Gathered {
            digits: format!("ext:{n}"),
            finished_by_key: false,
        })
    };
    let d = t
        .invoke_flow(&echo, &call("acme", "1", "2"), &ext("1001"), None)
        .await
        .unwrap();
    assert!(
        matches!(&d.actions[0], Action::Dial(dial) if dial.targets == vec![DialTarget::Extension("1001".into())])
    );
    let d = t
        .invoke_flow(&echo, &call("acme", "1", "2"), &ext("1002"), None)
        .await
        .unwrap();
    assert!(matches!(&d.actions[0], Action::Voicemail(v) if v.mailbox == "1002"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_lookups_run_on_spare_instances_made_ahead() {
    let url = serve(b"c-42|Alice Example".to_vec(), Duration::ZERO).await;
    let host = host_with_http(loopback_allowed());
    let t = tenant(&host, "acme", crm_limits(&["127.0.0.1"]));
    t.install("crm", wasm("http-crm"), config(&[])).unwrap();
    t.set_crm("crm").unwrap();
    let crm = t.pin("crm").unwrap();
    for _ in 0..4 {
        let c = t.try_crm_lookup(&format!("{url}/c")).await.unwrap();
        assert_eq!(c.map(|c| c.name).as_deref(), Some("Alice Example"));
        // The spare thread makes the next ones within a tick or so.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while crm.spare_instances() == 0 {
            assert!(std::time::Instant::now() < deadline, "no spare made");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    assert!(
        crm.decisions_on_spares() >= 3,
        "{}",
        crm.decisions_on_spares()
    );
}
