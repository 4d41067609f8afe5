//! What the benchmarks share: the scale knob, the sample records, a
//! two-member federation's homes and entries signed on every core.
#![allow(
    dead_code,
    reason = "each benchmark uses a different part of this module"
)]

use std::ops::Range;
use std::path::Path;

use concord_node::testnet::{self, Plan};
use concord_protocol::entry::{self, NewEntry, SignedEntry, Visibility};
use concord_protocol::origin::Origin;
use concord_protocol::record::{Kind, Name, Record, Text};
use ed25519_dalek::SigningKey;

/// `n` scaled by `CONCORD_BENCH_SCALE` (default 1.0), at least 1.
pub fn scale(n: f64) -> usize {
    let factor: f64 = std::env::var("CONCORD_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    ((n * factor) as usize).max(1)
}

/// Cores this machine offers, as the benchmarks print beside each figure.
pub use concord_node::parallel::cores;

/// The sample records of `scenarios/records/`, denials then notices, each
/// in file-name order, validated, as the member of `state` would publish
/// them.
pub fn sample_records(state: &str) -> Vec<Record> {
    concord_scenarios::records::samples()
        .iter()
        .map(|sample| {
            let kind = match sample.kind {
                "denial" => Kind::Denial,
                _ => Kind::Notice,
            };
            Record::parse(kind, &sample.stated_by(state)).expect("sample validates")
        })
        .collect()
}

/// Records as (kind, canonical bytes): what entries carry.
pub fn payloads_of(records: &[Record]) -> Vec<(Kind, Vec<u8>)> {
    records
        .iter()
        .map(|r| (r.kind(), r.to_canonical_bytes()))
        .collect()
}

/// Payloads for entries `0..n`, each different: entry `i` carries sample
/// record `i` modulo their number with `i` appended to its reference (or
/// summary) and to every party's name, as a log of real denials would
/// differ from entry to entry.
pub fn distinct_payloads(records: &[Record], n: usize) -> Vec<(Kind, Vec<u8>)> {
    let indexes: Vec<usize> = (0..n).collect();
    concord_node::parallel::par_map(&indexes, |&i| {
        let mut record = records[i % records.len()].clone();
        let tag = |name: &Name| Name::new(&format!("{name} {i}")).expect("still a name");
        match &mut record {
            Record::Denial(denial) => {
                denial.reference = tag(&denial.reference);
                for party in &mut denial.parties {
                    party.name = tag(&party.name);
                }
            }
            Record::Notice(notice) => {
                notice.summary = Text::new(&format!("{} ({i})", notice.summary)).expect("text");
                for party in &mut notice.parties {
                    party.name = tag(&party.name);
                }
            }
            _ => unreachable!("the samples are denials and notices"),
        }
        (record.kind(), record.to_canonical_bytes())
    })
}

/// The sample records as entries of a member of `state` carry them.
pub fn sample_payloads(state: &str) -> Vec<(Kind, Vec<u8>)> {
    payloads_of(&sample_records(state))
}

/// Homes of members `cl` and `mx` of the federation `pacific-alliance`
/// under `dir`.
pub fn two_members(dir: &Path) {
    testnet::build(&Plan {
        dir: dir.to_path_buf(),
        members: vec!["cl".into(), "mx".into()],
        observers: vec![],
        federation: "pacific-alliance".into(),
        sync_interval_ms: 1000,
    })
    .expect("testnet");
}

/// Entries `range` of `origin`'s log, signed on every core; entry `i`
/// carries sample payload `i` modulo their number.
pub fn sign_range(
    key: &SigningKey,
    origin: &Origin,
    payloads: &[(Kind, Vec<u8>)],
    range: Range<usize>,
) -> Vec<SignedEntry> {
    let indexes: Vec<usize> = range.collect();
    concord_node::parallel::par_map(&indexes, |&i| {
        let (kind, payload) = &payloads[i % payloads.len()];
        let new = NewEntry {
            origin,
            index: i as u64,
            time: 1_763_935_200 + i as u64,
            kind: *kind,
            refers_to: None,
            payload,
            visibility: Visibility::Federation,
        };
        entry::sign_entry(&new, key).expect("signs")
    })
}

/// When a timed ingest flushes the store.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Flush {
    /// After every call, as a node that acknowledges each call would.
    EachCall,
    /// Once, after the last call.
    AtEnd,
}

/// Entries per second `store` takes `items` of `origin`'s log in calls of
/// `call` entries. Each call's items are built before the clock starts:
/// they stand for what decoding a sync answer hands over.
pub fn ingest_rate(
    store: &concord_node::store::Store,
    origin: &Origin,
    roster: &concord_keys::roster::Roster,
    items: &[(SignedEntry, Option<Vec<u8>>)],
    call: usize,
    flush: Flush,
) -> f64 {
    let calls: Vec<Vec<_>> = items.chunks(call).map(<[_]>::to_vec).collect();
    let start = std::time::Instant::now();
    for items in calls {
        let len = items.len() as u64;
        let outcome = store
            .ingest(origin, items, roster, concord_node::clock::now())
            .expect("ingest");
        assert_eq!(outcome.appended, len);
        if flush == Flush::EachCall {
            store.flush_blocking().expect("flush");
        }
    }
    if flush == Flush::AtEnd {
        store.flush_blocking().expect("flush");
    }
    items.len() as f64 / start.elapsed().as_secs_f64()
}

/// The value at fraction `p` of `sorted` (nearest rank).
pub fn percentile<T: Copy>(sorted: &[T], p: f64) -> T {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Each entry's signed message (domain ‖ header bytes) beside its
/// signature: what a raw verification baseline checks.
pub fn signed_messages<'a>(
    entries: impl IntoIterator<Item = &'a SignedEntry>,
) -> Vec<(Vec<u8>, [u8; 64])> {
    entries
        .into_iter()
        .map(|e| {
            (
                [entry::ENTRY_SIGNATURE_DOMAIN, &e.header_bytes].concat(),
                e.signature,
            )
        })
        .collect()
}

/// ed25519-dalek's `verify_batch` of `batch`, every signature under `key`:
/// the library's baseline beside the node's own cofactored batches.
pub fn dalek_verify_batch(batch: &[(Vec<u8>, [u8; 64])], key: ed25519_dalek::VerifyingKey) {
    let messages: Vec<&[u8]> = batch.iter().map(|(m, _)| m.as_slice()).collect();
    let signatures: Vec<_> = batch
        .iter()
        .map(|(_, s)| ed25519_dalek::Signature::from_bytes(s))
        .collect();
    ed25519_dalek::verify_batch(&messages, &signatures, &vec![key; batch.len()])
        .expect("valid signatures");
}
