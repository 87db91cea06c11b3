//! The sandbox holds: every hostile component fails the right typed way
//! within its budget, and the host keeps serving good plugins afterwards.

mod common;

use std::time::{Duration, Instant};

use common::*;
use switchyard_plugins::flow_types::{Action, Event, Gathered, Prompt};
use switchyard_plugins::{LoadError, PluginFailure, TenantLimits, TenantRuntime};

async fn echo_works(t: &TenantRuntime) {
    let pinned = t.pin("echo").expect("echo installed");
    let d = t
        .invoke_flow(
            &pinned,
            &call(t.id(), "+15550100", "100"),
            &Event::CallStarted,
            None,
        )
        .await
        .expect("echo-flow answers after a failure");
    assert_eq!(d.actions[0], Action::Answer);
}

fn digits(d: &str) -> Event {
    Event::Digits(Gathered {
        digits: d.into(),
        finished_by_key: false,
    })
}

async fn with_echo(t: &TenantRuntime) {
    t.install("echo", wasm("echo-flow"), config(&[])).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_flow_uses_config_kv_log_and_stdout() {
    let host = host();
    let t = tenant(&host, "acme", limits());
    t.install(
        "echo",
        wasm("echo-flow"),
        config(&[("greeting", "welcome")]),
    )
    .unwrap();
    t.set_flow("main", "echo").unwrap();
    let pinned = t.pin_flow("main").unwrap();
    let snap = call("acme", "+15550100", "100");

    let d = t
        .invoke_flow(&pinned, &snap, &Event::CallStarted, None)
        .await
        .unwrap();
    assert_eq!(
        d.actions,
        vec![
            Action::Answer,
            Action::Play(vec![Prompt::File("welcome".into())]),
            Action::SetTag("+15550100".into()),
            Action::SetTag("calls=1".into()),
        ]
    );
    assert_eq!(d.state, Some(vec![1]));

    // kv persists across invocations (fresh stores), state round-trips.
    let d2 = t
        .invoke_flow(&pinned, &snap, &Event::CallStarted, None)
        .await
        .unwrap();
    assert_eq!(d2.actions[3], Action::SetTag("calls=2".into()));
    let d3 = t
        .invoke_flow(&pinned, &snap, &Event::PlayFinished, Some(vec![1]))
        .await
        .unwrap();
    assert_eq!(d3.state, Some(vec![1, 1]));

    let logs = t.recent_logs();
    assert!(
        logs.iter()
            .any(|l| l.message == "call call-1 from +15550100" && l.plugin == "echo")
    );
    assert!(logs.iter().any(|l| l.message == "stdout works"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_loop_is_stopped_by_the_cpu_budget() {
    let host = host();
    let t = tenant(
        &host,
        "acme",
        TenantLimits {
            cpu: Duration::from_millis(20),
            ..limits()
        },
    );
    with_echo(&t).await;
    t.install("spin", wasm("spin-flow"), config(&[])).unwrap();
    let pinned = t.pin("spin").unwrap();
    let started = Instant::now();
    let r = t
        .invoke_flow(&pinned, &call("acme", "1", "2"), &Event::CallStarted, None)
        .await;
    assert_eq!(r, Err(PluginFailure::CpuBudgetExceeded));
    // 20 ms of CPU; generous bound for a loaded 2-core machine, far below
    // the 5 s wall clock.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    echo_works(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wall_clock_limit_gives_timeout() {
    let host = host();
    let t = tenant(
        &host,
        "acme",
        TenantLimits {
            cpu: Duration::from_secs(30),
            wall_clock: Duration::from_millis(100),
            ..limits()
        },
    );
    with_echo(&t).await;
    t.install("spin", wasm("spin-flow"), config(&[])).unwrap();
    let pinned = t.pin("spin").unwrap();
    let r = t
        .invoke_flow(&pinned, &call("acme", "1", "2"), &Event::CallStarted, None)
        .await;
    assert_eq!(r, Err(PluginFailure::Timeout));
    echo_works(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_bomb_runs_out_of_memory() {
    let host = host();
    let t = tenant(&host, "acme", limits());
    with_echo(&t).await;
    t.install("bomb", wasm("memory-bomb"), config(&[])).unwrap();
    let pinned = t.pin("bomb").unwrap();
    let r = t
        .invoke_flow(&pinned, &call("acme", "1", "2"), &Event::CallStarted, None)
        .await;
    assert_eq!(r, Err(PluginFailure::OutOfMemory));
    echo_works(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_is_a_trap_and_its_message_is_logged() {
    let host = host();
    let t = tenant(&host, "acme", limits());
    with_echo(&t).await;
    t.install("trap", wasm("trap-flow"), config(&[])).unwrap();
    let pinned = t.pin("trap").unwrap();
    let r = t
        .invoke_flow(&pinned, &call("acme", "1", "2"), &Event::CallStarted, None)
        .await;
    assert!(
        matches!(&r, Err(PluginFailure::Trap(m)) if m.contains("unreachable")),
        "{r:?}"
    );
    assert!(
        t.recent_logs()
            .iter()
            .any(|l| l.message.contains("trap-flow refuses call call-1")),
        "{:?}",
        t.recent_logs()
    );
    // The caller's fallback is the tenant's safe default.
    assert!(t.fallback_decision().actions.contains(&Action::Reject(
        switchyard_plugins::flow_types::RejectReason::Unavailable
    )));
    echo_works(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_outputs_are_refused() {
    let host = host();
    let t = tenant(&host, "acme", limits());
    with_echo(&t).await;
    t.install("big", wasm("oversized-flow"), config(&[]))
        .unwrap();
    let pinned = t.pin("big").unwrap();
    let snap = call("acme", "1", "2");

    let r = t
        .invoke_flow(&pinned, &snap, &Event::CallStarted, None)
        .await;
    assert!(
        matches!(&r, Err(PluginFailure::InvalidOutput(m)) if m.contains("10000 actions")),
        "{r:?}"
    );
    // A 1 MiB state is more than the hostcall fuel (the default 1 MiB) lets
    // through, so it is refused while being copied out…
    let r = t.invoke_flow(&pinned, &snap, &digits("state"), None).await;
    assert!(
        matches!(&r, Err(PluginFailure::InvalidOutput(m)) if m.contains("more than 1048576 bytes in one call")),
        "{r:?}"
    );
    // …and with more fuel, by the state size check.
    let roomy = tenant(
        &host,
        "roomy",
        TenantLimits {
            hostcall_fuel: 4 << 20,
            ..limits()
        },
    );
    roomy
        .install("big", wasm("oversized-flow"), config(&[]))
        .unwrap();
    let big = roomy.pin("big").unwrap();
    let r = roomy.invoke_flow(&big, &snap, &digits("state"), None).await;
    assert!(
        matches!(&r, Err(PluginFailure::InvalidOutput(m)) if m.starts_with("state is 1048576 bytes")),
        "{r:?}"
    );
    let r = t.invoke_flow(&pinned, &snap, &digits("string"), None).await;
    assert!(
        matches!(&r, Err(PluginFailure::InvalidOutput(m)) if m.starts_with("a tag is 100000 bytes")),
        "{r:?}"
    );
    echo_works(&t).await;
}

/// A tenant with one place for plugin invocations, waiting up to
/// `queue_wait` for it, and the result of a second invocation made while
/// a spinning plugin holds the place (until its CPU budget stops it).
async fn second_invocation_at_the_cap(
    queue_wait: Duration,
) -> (Result<(), PluginFailure>, TenantRuntime) {
    let host = host();
    let t = tenant(
        &host,
        "acme",
        TenantLimits {
            max_concurrent: 1,
            max_queue_wait: queue_wait,
            cpu: Duration::from_millis(300),
            ..limits()
        },
    );
    with_echo(&t).await;
    t.install("spin", wasm("spin-flow"), config(&[])).unwrap();
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
        .await
        .map(|_| ());
    assert_eq!(busy.await.unwrap(), Err(PluginFailure::CpuBudgetExceeded));
    (r, t)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_concurrent_invocations_are_refused() {
    let (r, t) = second_invocation_at_the_cap(Duration::from_millis(50)).await;
    assert_eq!(r, Err(PluginFailure::Overloaded));
    echo_works(&t).await;
}

/// At the cap a burst waits in line instead of failing: with one place
/// and a plugin holding it for a while, the next invocation runs as soon
/// as the place is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_an_invocation_waits_for_a_free_place() {
    let (r, _) = second_invocation_at_the_cap(Duration::from_secs(3)).await;
    assert_eq!(r, Ok(()), "waited for the spinning plugin's place");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_and_plugins_cannot_read_each_others_keys() {
    let host = host();
    let a = tenant(&host, "tenant-a", limits());
    let b = tenant(&host, "tenant-b", limits());
    a.install("snoop", wasm("kv-snoop"), config(&[])).unwrap();
    a.install("other", wasm("kv-snoop"), config(&[])).unwrap();
    b.install("snoop", wasm("kv-snoop"), config(&[])).unwrap();

    async fn tags(t: &TenantRuntime, plugin: &str, cmd: &str) -> Vec<String> {
        let p = t.pin(plugin).unwrap();
        let d = t
            .invoke_flow(&p, &call(t.id(), "1", cmd), &Event::CallStarted, None)
            .await
            .unwrap();
        d.actions
            .into_iter()
            .map(|a| match a {
                Action::SetTag(s) => s,
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    assert_eq!(
        tags(&a, "snoop", "write:secret=a-only").await,
        vec!["written"]
    );
    assert_eq!(tags(&a, "snoop", "read:secret").await, vec!["found:a-only"]);
    // Same component, other tenant: nothing.
    assert_eq!(tags(&b, "snoop", "read:secret").await, vec!["missing"]);
    assert_eq!(
        tags(&b, "snoop", "snoop:tenant-a:snoop:secret").await,
        vec!["missing"]
    );
    assert!(tags(&b, "snoop", "list").await.is_empty());
    // Same tenant, other plugin: nothing either.
    assert_eq!(tags(&a, "other", "read:secret").await, vec!["missing"]);
    assert_eq!(
        tags(&a, "other", "snoop:tenant-a:snoop:secret").await,
        vec!["missing"]
    );
    assert_eq!(tags(&a, "snoop", "list").await, vec!["listed:secret"]);
}

#[test]
fn unknown_world_is_refused_naming_what_it_exports() {
    let host = host();
    let e = host.load(wasm("unknown-world")).unwrap_err();
    assert!(matches!(e, LoadError::UnknownWorld { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("exports no Switchyard plugin interface"),
        "{msg}"
    );
    assert!(msg.contains("acme:other/thing"), "{msg}");
}

#[test]
fn forbidden_imports_are_refused_naming_the_import() {
    let host = host();
    let e = host.load(wasm("forbidden-http-flow")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "a call-flow plugin may not import wasi:http/outgoing-handler@0.2.12 (HTTP is for crm-connector and reporter plugins, and only outgoing)"
    );
    // The same refusal through install.
    let t = tenant(&host, "acme", limits());
    assert!(
        t.install("bad", wasm("forbidden-http-flow"), config(&[]))
            .is_err()
    );
    assert!(t.versions("bad").is_empty());
}

/// wasi:sockets imports are accepted — CPython's libc has them, so every
/// Python component does — but nothing can use them: the invocation's
/// WASI context allows no TCP, UDP or name lookup.
#[tokio::test]
async fn sockets_are_linked_but_every_connection_is_refused() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let host = host();
    let t = tenant(&host, "acme", limits());
    t.install("sockets", wasm("sockets-flow"), config(&[]))
        .unwrap();
    t.set_flow("main", "sockets").unwrap();
    let pinned = t.pin_flow("main").unwrap();
    // The flow connects to the number dialled.
    match t
        .invoke_flow(
            &pinned,
            &call("acme", "1", &addr),
            &Event::CallStarted,
            None,
        )
        .await
    {
        Err(PluginFailure::PluginError(msg)) => {
            assert!(msg.to_lowercase().contains("denied"), "{msg}")
        }
        other => panic!("expected the connection to be refused, got {other:?}"),
    }
    assert!(
        listener.accept().is_err(),
        "nothing connected to the listener"
    );
}

#[test]
fn non_components_are_refused() {
    let host = host();
    let e = host.load(b"hello, world").unwrap_err();
    assert!(matches!(e, LoadError::NotAComponent(_)), "{e:?}");
    assert!(e.to_string().contains("magic bytes"));
    // The smallest core module: header only.
    let e = host.load(b"\0asm\x01\0\0\0").unwrap_err();
    assert!(matches!(e, LoadError::CoreModule), "{e:?}");
    assert!(
        e.to_string()
            .contains("core WebAssembly module, not a component")
    );
    // A component header with garbage after it: the compiler refuses it.
    let e = host.load(b"\0asm\x0d\0\x01\0garbage").unwrap_err();
    assert!(matches!(e, LoadError::Compile(_)), "{e:?}");
    let small = switchyard_plugins::PluginHost::new(switchyard_plugins::HostConfig {
        max_instances: 4,
        max_component_bytes: 1000,
        ..Default::default()
    })
    .unwrap();
    let e = small.load(wasm("echo-flow")).unwrap_err();
    assert!(matches!(e, LoadError::TooLarge { max: 1000, .. }), "{e:?}");
}

#[test]
fn load_detects_worlds_and_caches_by_hash() {
    let host = host();
    let a = host.load(wasm("echo-flow")).unwrap();
    assert_eq!(a.world(), switchyard_plugins::World::CallFlow);
    let b = host.load(wasm("echo-flow")).unwrap();
    assert!(std::sync::Arc::ptr_eq(&a, &b));
    assert_eq!(a.sha256_hex().len(), 64);
    let crm = host.load(wasm("http-crm")).unwrap();
    assert_eq!(crm.world(), switchyard_plugins::World::CrmConnector);
}

#[test]
fn on_disk_cache_reuses_only_files_this_host_wrote() {
    let dir = std::env::temp_dir().join(format!("switchyard-cache-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cfg = || switchyard_plugins::HostConfig {
        max_instances: 4,
        cache_dir: Some(dir.clone()),
        ..Default::default()
    };
    let first = switchyard_plugins::PluginHost::new(cfg()).unwrap();
    first.load(wasm("echo-flow")).unwrap();
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    assert_eq!(files.len(), 1);
    // Tamper with the file: the next host must not deserialize it, but
    // recompile and still work.
    let mut bytes = std::fs::read(&files[0]).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&files[0], &bytes).unwrap();
    let second = switchyard_plugins::PluginHost::new(cfg()).unwrap();
    let loaded = second.load(wasm("echo-flow")).unwrap();
    assert_eq!(loaded.world(), switchyard_plugins::World::CallFlow);
    // The tampered file was refused and replaced by a fresh compilation.
    assert_ne!(std::fs::read(&files[0]).unwrap(), bytes);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flooding_stdout_is_cut_not_fatal() {
    let host = host();
    let t = tenant(&host, "acme", limits());
    with_echo(&t).await;
    let echo = t.pin("echo").unwrap();
    let d = t
        .invoke_flow(&echo, &call("acme", "1", "2"), &digits("chatty"), None)
        .await
        .unwrap();
    assert_eq!(d.actions, vec![Action::SetTag("chatted".into())]);
    let logs = t.recent_logs();
    assert_eq!(logs.len(), limits().log_lines_per_invocation as usize);
    assert!(logs[0].message.starts_with("chatty line 0000"));
}
