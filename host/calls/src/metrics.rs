//! Prometheus metrics of the call engine, per tenant: calls in progress,
//! call setups, calls that ended unanswered (by disposition), successful
//! registrations, plugin decisions with their latency, plugin failures.
//! Rendered in the text exposition format at the server's `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantLabel {
    pub tenant: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub tenant: String,
    pub disposition: String,
}

/// One queue of a tenant.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabel {
    pub tenant: String,
    pub queue: String,
}

/// Agents of a queue in one state.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueStateLabel {
    pub tenant: String,
    pub queue: String,
    pub state: String,
}

/// Which kind of task panicked.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskLabel {
    pub task: String,
}

/// The per-message and per-call tasks whose panics are caught and counted.
pub const TASKS: [&str; 5] = [
    "sip-message",
    "dispatch",
    "call",
    "registrar",
    "click-to-call",
];

pub struct Metrics {
    registry: Registry,
    pub active_calls: Family<TenantLabel, Gauge>,
    pub call_setups: Family<TenantLabel, Counter>,
    pub call_failures: Family<OutcomeLabel, Counter>,
    pub registrations: Family<TenantLabel, Counter>,
    pub plugin_invocations: Family<TenantLabel, Counter>,
    pub plugin_errors: Family<TenantLabel, Counter>,
    pub plugin_latency: Family<TenantLabel, Histogram>,
    /// Queue-strategy rankings, and those that failed (trap, timeout,
    /// nonsense, not installed) and were answered by longest idle.
    pub strategy_latency: Family<TenantLabel, Histogram>,
    pub strategy_fallbacks: Family<TenantLabel, Counter>,
    /// Each queue now (set when rendered): callers waiting, the longest
    /// wait, agents by state, today's service level.
    pub queue_waiting: Family<QueueLabel, Gauge>,
    pub queue_longest_wait: Family<QueueLabel, Gauge>,
    pub queue_agents: Family<QueueStateLabel, Gauge>,
    pub queue_service_level: Family<QueueLabel, Gauge<f64, std::sync::atomic::AtomicU64>>,
    /// Authenticated requests refused as replays (nonce and nc used before).
    pub auth_replays: Family<TenantLabel, Counter>,
    /// Tasks that panicked: the request was answered or its call ended,
    /// and what it held was released, but it is a bug to fix.
    pub task_panics: Family<TaskLabel, Counter>,
    /// Read from the port pool when rendered.
    pub rtp_ports_in_use: Gauge,
    /// New INVITEs and REGISTERs refused with 503 because the host was
    /// behind (overload control), by method.
    pub overload_refused: Family<MethodLabel, Counter>,
    /// 1 while new requests are shed, else 0 (set when rendered).
    pub overload_shedding: Gauge,
    /// E-mail by outcome (`sent`, `rate-limited`, `invalid`, `failed`).
    pub mails: Family<MailLabel, Counter>,
    /// Calls a caller rule decided, by action.
    pub caller_rule_calls: Family<ActionLabel, Counter>,
    /// Calls and rooms the tenant records that were not recorded, by
    /// reason (`storage-full`: the plan's recording storage is used up).
    pub recordings_skipped: Family<ReasonLabel, Counter>,
    /// Prepaid balances that fell below their threshold (the notice).
    pub low_balance_notices: Family<TenantLabel, Counter>,
    /// Trunk calls refused because a prepaid balance ran out (402).
    pub calls_refused_unpaid: Family<TenantLabel, Counter>,
    /// Calls in progress ended because they spent a prepaid balance.
    pub calls_ended_unpaid: Family<TenantLabel, Counter>,
    /// Flow decisions per plugin version, by outcome (`ok`, `failed`): a
    /// canary beside its stable version.
    pub plugin_version_decisions: Family<VersionLabel, Counter>,
    /// Time of a flow decision per plugin version (its percentiles beside
    /// the stable version's during a canary).
    pub plugin_version_latency: Family<PluginVersionLabel, Histogram>,
}

/// A SIP method.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabel {
    pub method: String,
}

/// One plugin version.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PluginVersionLabel {
    pub tenant: String,
    pub plugin: String,
    pub version: String,
}

/// One plugin version's decisions of one outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VersionLabel {
    pub tenant: String,
    pub plugin: String,
    pub version: String,
    pub outcome: String,
}

/// One tenant's events of one reason.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub tenant: String,
    pub reason: String,
}

/// One tenant's calls decided by one action.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabel {
    pub tenant: String,
    pub action: String,
}

/// One tenant's e-mail of one outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MailLabel {
    pub tenant: String,
    pub outcome: String,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("switchyard");
        let active_calls = Family::<TenantLabel, Gauge>::default();
        let call_setups = Family::<TenantLabel, Counter>::default();
        let call_failures = Family::<OutcomeLabel, Counter>::default();
        let registrations = Family::<TenantLabel, Counter>::default();
        let plugin_invocations = Family::<TenantLabel, Counter>::default();
        let plugin_errors = Family::<TenantLabel, Counter>::default();
        // 10 µs … ~80 ms: plugin decisions are tens of microseconds.
        let plugin_latency = Family::<TenantLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_01, 2.0, 14))
        });
        let strategy_latency = Family::<TenantLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_01, 2.0, 14))
        });
        let strategy_fallbacks = Family::<TenantLabel, Counter>::default();
        registry.register(
            "strategy_latency_seconds",
            "Time of one queue-strategy ranking",
            strategy_latency.clone(),
        );
        registry.register(
            "strategy_fallbacks",
            "Queue-strategy rankings that failed and were ordered longest idle first",
            strategy_fallbacks.clone(),
        );
        let queue_waiting = Family::<QueueLabel, Gauge>::default();
        let queue_longest_wait = Family::<QueueLabel, Gauge>::default();
        let queue_agents = Family::<QueueStateLabel, Gauge>::default();
        let queue_service_level =
            Family::<QueueLabel, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        registry.register(
            "queue_waiting",
            "Callers waiting in the queue now (callback placeholders included)",
            queue_waiting.clone(),
        );
        registry.register(
            "queue_longest_wait_seconds",
            "How long the longest-waiting caller of the queue has waited",
            queue_longest_wait.clone(),
        );
        registry.register(
            "queue_agents",
            "Agents of the queue by state",
            queue_agents.clone(),
        );
        registry.register(
            "queue_service_level",
            "Answered within the queue's threshold / answered, today (absent before the first answer)",
            queue_service_level.clone(),
        );
        let auth_replays = Family::<TenantLabel, Counter>::default();
        let task_panics = Family::<TaskLabel, Counter>::default();
        // Present at zero from the start, so an alert on any increase works
        // before the first panic.
        for task in TASKS {
            let _ = task_panics.get_or_create(&TaskLabel { task: task.into() });
        }
        registry.register(
            "auth_replays",
            "Digest credentials refused because their nonce and count were used before",
            auth_replays.clone(),
        );
        registry.register(
            "task_panics",
            "Per-message or per-call tasks that panicked (answered, state released)",
            task_panics.clone(),
        );
        registry.register("active_calls", "Calls in progress", active_calls.clone());
        registry.register(
            "call_setups",
            "Calls that reached a flow",
            call_setups.clone(),
        );
        registry.register(
            "call_failures",
            "Calls that ended without an answer, by disposition",
            call_failures.clone(),
        );
        registry.register(
            "registrations",
            "Successful REGISTER requests",
            registrations.clone(),
        );
        registry.register(
            "plugin_invocations",
            "Call-flow plugin decisions",
            plugin_invocations.clone(),
        );
        registry.register(
            "plugin_errors",
            "Call-flow plugin decisions that failed (fallback used)",
            plugin_errors.clone(),
        );
        registry.register(
            "plugin_latency_seconds",
            "Time of one call-flow plugin decision",
            plugin_latency.clone(),
        );
        let mails = Family::<MailLabel, Counter>::default();
        registry.register(
            "mails",
            "E-mail the host sent for a tenant (voicemail, missed calls), by outcome",
            mails.clone(),
        );
        let caller_rule_calls = Family::<ActionLabel, Counter>::default();
        registry.register(
            "caller_rule_calls",
            "Calls from outside a caller rule decided before the flow, by action (reject, message, voicemail, allow)",
            caller_rule_calls.clone(),
        );
        let recordings_skipped = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "recordings_skipped",
            "Calls and rooms of a recording tenant left unrecorded, by reason (storage-full)",
            recordings_skipped.clone(),
        );
        let low_balance_notices = Family::<TenantLabel, Counter>::default();
        registry.register(
            "low_balance_notices",
            "Prepaid balances that fell below the tenant's low-balance threshold",
            low_balance_notices.clone(),
        );
        let calls_refused_unpaid = Family::<TenantLabel, Counter>::default();
        registry.register(
            "calls_refused_unpaid",
            "Trunk calls refused (402) because the tenant's prepaid balance ran out",
            calls_refused_unpaid.clone(),
        );
        let calls_ended_unpaid = Family::<TenantLabel, Counter>::default();
        registry.register(
            "calls_ended_unpaid",
            "Calls in progress hung up after their grace because they spent the tenant's prepaid balance",
            calls_ended_unpaid.clone(),
        );
        let plugin_version_latency =
            Family::<PluginVersionLabel, Histogram>::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.000_01, 2.0, 14))
            });
        registry.register(
            "plugin_version_latency_seconds",
            "Time of one call-flow decision per plugin version",
            plugin_version_latency.clone(),
        );
        let plugin_version_decisions = Family::<VersionLabel, Counter>::default();
        registry.register(
            "plugin_version_decisions",
            "Call-flow decisions per plugin version, by outcome (ok, failed): a canary beside its stable version",
            plugin_version_decisions.clone(),
        );
        let rtp_ports_in_use = Gauge::default();
        registry.register(
            "rtp_port_pairs_in_use",
            "RTP/RTCP port pairs held by calls",
            rtp_ports_in_use.clone(),
        );
        let overload_refused = Family::<MethodLabel, Counter>::default();
        registry.register(
            "sip_overload_refused",
            "New INVITEs and REGISTERs answered 503 with Retry-After because the host was behind",
            overload_refused.clone(),
        );
        for method in ["INVITE", "REGISTER"] {
            let _ = overload_refused.get_or_create(&MethodLabel {
                method: method.into(),
            });
        }
        let overload_shedding = Gauge::default();
        registry.register(
            "sip_overload_shedding",
            "1 while the host sheds new INVITEs and REGISTERs (it is behind), else 0",
            overload_shedding.clone(),
        );
        Metrics {
            registry,
            rtp_ports_in_use,
            overload_refused,
            overload_shedding,
            active_calls,
            call_setups,
            call_failures,
            registrations,
            plugin_invocations,
            plugin_errors,
            plugin_latency,
            strategy_latency,
            strategy_fallbacks,
            queue_waiting,
            queue_longest_wait,
            queue_agents,
            queue_service_level,
            auth_replays,
            task_panics,
            mails,
            caller_rule_calls,
            recordings_skipped,
            low_balance_notices,
            calls_refused_unpaid,
            calls_ended_unpaid,
            plugin_version_decisions,
            plugin_version_latency,
        }
    }
}

impl Metrics {
    pub fn tenant(t: &str) -> TenantLabel {
        TenantLabel {
            tenant: t.to_string(),
        }
    }

    /// Count a call or room of `tenant` not recorded for `reason`.
    pub fn recording_refused(&self, tenant: &str, reason: &str) {
        self.recordings_skipped
            .get_or_create(&ReasonLabel {
                tenant: tenant.into(),
                reason: reason.into(),
            })
            .inc();
    }

    /// Count a caught panic of a `task` (one of [`TASKS`]).
    pub fn task_panicked(&self, task: &str) {
        self.task_panics
            .get_or_create(&TaskLabel { task: task.into() })
            .inc();
    }

    /// Create `tenant`'s series at zero. prometheus-client leaves a family
    /// without series out of the exposition entirely (no HELP or TYPE),
    /// so without this `/metrics` is empty until the first call and a
    /// scraper cannot tell "no calls" from "no such metric". `unanswered`
    /// are the dispositions `call_failures` counts.
    pub fn add_tenant<'a>(&self, tenant: &str, unanswered: impl IntoIterator<Item = &'a str>) {
        let label = Metrics::tenant(tenant);
        // Each guard is dropped at once: only the series' creation counts.
        let _ = self.active_calls.get_or_create(&label);
        let _ = self.call_setups.get_or_create(&label);
        let _ = self.registrations.get_or_create(&label);
        let _ = self.plugin_invocations.get_or_create(&label);
        let _ = self.plugin_errors.get_or_create(&label);
        let _ = self.plugin_latency.get_or_create(&label);
        for d in unanswered {
            let _ = self.call_failures.get_or_create(&OutcomeLabel {
                tenant: tenant.to_string(),
                disposition: d.to_string(),
            });
        }
    }

    /// The call metrics, the SIP transport's TCP connection counts and the
    /// plugin host's instance figures.
    pub fn for_server(
        tcp: std::sync::Arc<switchyard_transport::TcpStats>,
        plugins: switchyard_plugins::PluginHost,
    ) -> Metrics {
        let mut m = Metrics::default();
        m.registry.register_collector(Box::new(TcpCollector(tcp)));
        m.registry
            .register_collector(Box::new(PluginHostCollector(plugins)));
        m
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

/// Gauges read at scrape time: (name, help, value) each.
fn encode_gauges(
    encoder: &mut prometheus_client::encoding::DescriptorEncoder,
    gauges: &[(&str, &str, i64)],
) -> Result<(), std::fmt::Error> {
    use prometheus_client::encoding::EncodeMetric;
    for &(name, help, v) in gauges {
        let g = prometheus_client::metrics::gauge::ConstGauge::new(v);
        g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)?;
    }
    Ok(())
}

/// A counter family read at scrape time: one counter per value of `label`.
fn encode_counter_family(
    encoder: &mut prometheus_client::encoding::DescriptorEncoder,
    name: &str,
    help: &str,
    label: &str,
    counters: &[(&str, u64)],
) -> Result<(), std::fmt::Error> {
    use prometheus_client::encoding::EncodeMetric;
    let mut family = encoder.encode_descriptor(
        name,
        help,
        None,
        prometheus_client::metrics::MetricType::Counter,
    )?;
    for &(value, v) in counters {
        prometheus_client::metrics::counter::ConstCounter::new(v)
            .encode(family.encode_family(&[(label, value)])?)?;
    }
    Ok(())
}

/// The transport's TCP counters, read at scrape time (the transport keeps
/// plain atomics and knows nothing of Prometheus).
#[derive(Debug)]
struct TcpCollector(std::sync::Arc<switchyard_transport::TcpStats>);

impl prometheus_client::collector::Collector for TcpCollector {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::DescriptorEncoder,
    ) -> Result<(), std::fmt::Error> {
        use prometheus_client::encoding::EncodeMetric;
        use prometheus_client::metrics::counter::ConstCounter;
        let s = self.0.snapshot();
        encode_gauges(
            &mut encoder,
            &[
                ("tcp_connections", "TCP SIP connections open", s.open as i64),
                (
                    "tcp_connections_max",
                    "Cap on TCP SIP connections in all",
                    s.max_connections as i64,
                ),
                (
                    "tcp_connections_per_ip_max",
                    "Cap on TCP SIP connections from one source address",
                    s.max_connections_per_ip as i64,
                ),
            ],
        )?;
        let accepted = ConstCounter::new(s.accepted);
        accepted.encode(encoder.encode_descriptor(
            "tcp_connections_accepted",
            "TCP SIP connections accepted",
            None,
            accepted.metric_type(),
        )?)?;
        encode_counter_family(
            &mut encoder,
            "tcp_connections_refused",
            "TCP SIP connections closed at once because a cap was reached, by cap",
            "cap",
            &[("total", s.refused_total), ("per_ip", s.refused_per_ip)],
        )?;
        encode_counter_family(
            &mut encoder,
            "tcp_connections_closed",
            "TCP SIP connections closed by a deadline, by reason",
            "reason",
            &[
                ("message_timeout", s.closed_message_timeout),
                ("idle_timeout", s.closed_idle),
                ("write_stalled", s.closed_write_stalled),
            ],
        )
    }
}

/// The plugin host's kept instances, read at scrape time.
struct PluginHostCollector(switchyard_plugins::PluginHost);

impl std::fmt::Debug for PluginHostCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PluginHostCollector")
    }
}

impl prometheus_client::collector::Collector for PluginHostCollector {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::DescriptorEncoder,
    ) -> Result<(), std::fmt::Error> {
        let spares = self.0.spare_stats();
        encode_gauges(
            &mut encoder,
            &[
                (
                    "plugin_spare_instances",
                    "Never-used plugin instances made ahead for flow decisions and CRM look-ups",
                    i64::from(spares.ready),
                ),
                (
                    "plugin_warm_instances",
                    "Agent-ranking plugin instances kept between decisions",
                    i64::from(self.0.warm_instances()),
                ),
            ],
        )?;
        encode_counter_family(
            &mut encoder,
            "plugin_spare_decisions",
            "Flow decisions and CRM look-ups by whether a spare instance was ready (found) or the instance was made on the call's path (missed)",
            "spare",
            &[("found", spares.taken), ("missed", spares.missed)],
        )
    }
}
