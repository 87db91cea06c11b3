//! The instance pool's limit is a typed `Overloaded`.

mod common;

use std::time::Duration;

use common::*;
use switchyard_plugins::flow_types::Event;
use switchyard_plugins::{HostConfig, PluginFailure, PluginHost, TenantLimits};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_instance_pool_is_overloaded_not_a_trap() {
    let host = PluginHost::new(HostConfig {
        max_instances: 1,
        ..HostConfig::default()
    })
    .unwrap();
    let t = tenant(
        &host,
        "acme",
        TenantLimits {
            cpu: Duration::from_millis(400),
            ..limits()
        },
    );
    t.install("spin", wasm("spin-flow"), config(&[])).unwrap();
    t.install("echo", wasm("echo-flow"), config(&[])).unwrap();
    let spin = t.pin("spin").unwrap();
    let busy = {
        let t = t.clone();
        tokio::spawn(async move {
            t.invoke_flow(&spin, &call("acme", "1", "2"), &Event::CallStarted, None)
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let echo = t.pin("echo").unwrap();
    let r = t
        .invoke_flow(&echo, &call("acme", "1", "2"), &Event::CallStarted, None)
        .await;
    assert_eq!(r, Err(PluginFailure::Overloaded));
    assert_eq!(busy.await.unwrap(), Err(PluginFailure::CpuBudgetExceeded));
    // The slot is free again.
    t.invoke_flow(&echo, &call("acme", "1", "2"), &Event::CallStarted, None)
        .await
        .unwrap();
}
