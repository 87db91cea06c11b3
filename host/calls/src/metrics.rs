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

pub struct Metrics {
    registry: Registry,
    pub active_calls: Family<TenantLabel, Gauge>,
    pub call_setups: Family<TenantLabel, Counter>,
    pub call_failures: Family<OutcomeLabel, Counter>,
    pub registrations: Family<TenantLabel, Counter>,
    pub plugin_invocations: Family<TenantLabel, Counter>,
    pub plugin_errors: Family<TenantLabel, Counter>,
    pub plugin_latency: Family<TenantLabel, Histogram>,
    /// Read from the port pool when rendered.
    pub rtp_ports_in_use: Gauge,
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
        let rtp_ports_in_use = Gauge::default();
        registry.register(
            "rtp_port_pairs_in_use",
            "RTP/RTCP port pairs held by calls",
            rtp_ports_in_use.clone(),
        );
        Metrics {
            registry,
            rtp_ports_in_use,
            active_calls,
            call_setups,
            call_failures,
            registrations,
            plugin_invocations,
            plugin_errors,
            plugin_latency,
        }
    }
}

impl Metrics {
    pub fn tenant(t: &str) -> TenantLabel {
        TenantLabel {
            tenant: t.to_string(),
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}
