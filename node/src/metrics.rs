//! The node's Prometheus metrics, in one `prometheus-client` registry with
//! libp2p's own (transports' bytes, swarm, gossipsub, identify, ping).
//!
//! What changes as the node works is counted where it happens
//! ([`NodeMetrics`]: API requests by route, method and status and their
//! durations, replica ingest's entries and durations). What the node's
//! state says — log sizes, lag behind peers, payloads held back,
//! cosignature ages, quarantines, peers, the own log's confirmation — is
//! read when `/metrics` is scraped ([`state_metrics`]), so it is never
//! stale.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::own_log::OwnLogState;
use crate::query::StatusView;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route's pattern, `/v1/logs/{log}/entries`, not the path asked.
    pub route: String,
    pub method: String,
    pub status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
    pub method: String,
}

fn seconds_histogram() -> Histogram {
    // 100 µs to about 26 s.
    Histogram::new(exponential_buckets(0.0001, 4.0, 10))
}

/// The counters and histograms of the node's work.
#[derive(Debug, Clone)]
pub struct NodeMetrics {
    pub requests: Family<RequestLabels, Counter>,
    /// Publish latency is that of `POST /v1/records/{kind}` (durable before
    /// answered), screening latency that of `POST /v1/screen`.
    pub request_seconds: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub ingest_seconds: Histogram,
    pub ingested: Counter,
}

impl NodeMetrics {
    pub fn register(registry: &mut Registry) -> NodeMetrics {
        let metrics = NodeMetrics {
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(seconds_histogram),
            ingest_seconds: seconds_histogram(),
            ingested: Counter::default(),
        };
        registry.register(
            "concord_api_requests",
            "API requests answered, by route, method and status",
            metrics.requests.clone(),
        );
        registry.register_with_unit(
            "concord_api_request_duration",
            "Time to answer an API request, by route and method (publish: until durable)",
            Unit::Seconds,
            metrics.request_seconds.clone(),
        );
        registry.register_with_unit(
            "concord_ingest_duration",
            "Time of one replica ingest call (verification, staging, the sled batch)",
            Unit::Seconds,
            metrics.ingest_seconds.clone(),
        );
        registry.register(
            "concord_ingested_entries",
            "Entries of other logs stored by gossip, sync or catch-up",
            metrics.ingested.clone(),
        );
        metrics
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LogLabels {
    origin: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WitnessLabels {
    origin: String,
    witness: String,
}

/// A registry of what `status` says now, at `now` (seconds).
pub fn state_metrics(status: &StatusView, alerts: usize, now: u64) -> Registry {
    let mut registry = Registry::default();
    let per_log = |registry: &mut Registry,
                   name: &str,
                   help: &str,
                   value: &dyn Fn(&crate::query::LogView) -> i64| {
        let family = Family::<LogLabels, Gauge>::default();
        for log in &status.logs {
            family
                .get_or_create(&LogLabels {
                    origin: log.origin.clone(),
                })
                .set(value(log));
        }
        registry.register(name, help, family);
    };
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    per_log(
        &mut registry,
        "concord_log_size",
        "Entries of each log this node holds",
        &|l| count(l.size),
    );
    per_log(
        &mut registry,
        "concord_log_checkpoint_size",
        "Tree size of each log's latest checkpoint held (0: none)",
        &|l| count(l.checkpoint_size.unwrap_or(0)),
    );
    per_log(
        &mut registry,
        "concord_log_behind",
        "Entries a peer's verified checkpoint showed beyond what this node holds (lag)",
        &|l| count(l.behind_by),
    );
    per_log(
        &mut registry,
        "concord_log_payloads_missing",
        "Payloads this node may read but does not hold yet (held back)",
        &|l| count(l.payloads_missing),
    );
    per_log(
        &mut registry,
        "concord_log_quarantined",
        "1 while a log is quarantined after equivocation",
        &|l| i64::from(l.quarantined),
    );
    let ages = Family::<WitnessLabels, Gauge>::default();
    for log in &status.logs {
        for cosigner in &log.cosigned_by {
            ages.get_or_create(&WitnessLabels {
                origin: log.origin.clone(),
                witness: cosigner.witness.clone(),
            })
            .set(count(now.saturating_sub(cosigner.time)));
        }
    }
    registry.register_with_unit(
        "concord_cosignature_age",
        "Age of each witness's cosignature on each log's latest checkpoint",
        Unit::Seconds,
        ages,
    );
    let gauge = |value: i64| {
        let gauge = Gauge::<i64>::default();
        gauge.set(value);
        gauge
    };
    registry.register(
        "concord_quarantined_logs",
        "Logs quarantined after equivocation",
        gauge(count(status.quarantined.len() as u64)),
    );
    registry.register(
        "concord_equivocation_proofs",
        "Proofs of equivocation held",
        gauge(count(status.evidence as u64)),
    );
    registry.register(
        "concord_peers",
        "Peers connected",
        gauge(count(status.peers.len() as u64)),
    );
    registry.register(
        "concord_alerts",
        "Alerts raised: denials that met an application screened before they arrived",
        gauge(count(alerts as u64)),
    );
    if let Some(own_log) = &status.own_log {
        registry.register(
            "concord_own_log_confirmed",
            "1 once peers confirmed how far the own log goes (publishing open)",
            gauge(i64::from(matches!(own_log, OwnLogState::Confirmed { .. }))),
        );
    }
    for (name, help) in [
        ("gossip_appended", "Entries received by gossip and stored"),
        ("gossip_rejected", "Gossip messages refused as invalid"),
        (
            "synced_appended",
            "Entries fetched by anti-entropy and stored",
        ),
        (
            "synced_duplicates",
            "Entries a catch-up range brought that were stored already",
        ),
        (
            "payloads_filled",
            "Payloads kept after their entries' headers",
        ),
    ] {
        let value = status
            .sync
            .get(name)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        registry.register(format!("concord_{name}"), help, ConstCounter::new(value));
    }
    registry
}
