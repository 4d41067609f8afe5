//! `/metrics`: log sizes, replication counters, quarantines and the bytes
//! the network transports carried, in the Prometheus text format.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::ApiState;

pub(super) async fn metrics(State(state): State<ApiState>) -> Response {
    let store = &state.queries.store;
    let mut out = String::new();
    let _ = writeln!(out, "# TYPE concord_log_size gauge");
    if let Ok(logs) = store.logs() {
        for (origin, head) in logs {
            let _ = writeln!(out, "concord_log_size{{origin=\"{origin}\"}} {}", head.size);
        }
    }
    let sync = state.sync();
    let counters = [
        ("concord_gossip_appended_total", sync.gossip_appended),
        ("concord_gossip_rejected_total", sync.gossip_rejected),
        ("concord_synced_appended_total", sync.synced_appended),
        ("concord_synced_duplicates_total", sync.synced_duplicates),
    ];
    for (name, value) in counters {
        let _ = writeln!(out, "# TYPE {name} counter");
        let _ = writeln!(out, "{name} {value}");
    }
    let quarantined = store.quarantines().map(|q| q.len()).unwrap_or(0);
    let _ = writeln!(out, "# TYPE concord_quarantined_logs gauge");
    let _ = writeln!(out, "concord_quarantined_logs {quarantined}");
    if let Some(net) = &state.net {
        out.push_str(&net.transport_metrics());
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
