//! The engine's epoch ticker lives exactly as long as the host. (Alone in
//! its test binary: it counts the process's threads.)

use switchyard_plugins::{HostConfig, PluginHost};

fn ticker_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim() == "sy-epoch")
        .count()
}

#[test]
fn epoch_ticker_stops_when_the_host_is_dropped() {
    let before = ticker_threads();
    let host = PluginHost::new(HostConfig {
        max_instances: 2,
        ..HostConfig::default()
    })
    .unwrap();
    let clone = host.clone();
    assert_eq!(ticker_threads(), before + 1);
    drop(host);
    // A clone keeps it alive.
    assert_eq!(ticker_threads(), before + 1);
    drop(clone);
    assert_eq!(ticker_threads(), before);
}
