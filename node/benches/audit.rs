//! Bundle audit benchmark; prints numbers and ratios, asserts nothing.
//!
//! `cargo bench -p concord-node --bench audit` (scale the entry count with
//! `CONCORD_BENCH_SCALE`, default 1.0 = 1,000,000 entries):
//! - time to audit a bundle of one log (`concord audit --bundle`'s code:
//!   read, decode, strict header check, signatures, tree, checkpoint), headers
//!   only and with the sample records as payloads (their digests checked);
//!   then the same bundle audited with `--records`, each payload also
//!   validated as a record;
//! - beside it, raw Ed25519 batch verification of the same signatures on
//!   every core, measured in the same run just before and just after the
//!   audit, as a ratio to the mean of the two: ed25519-dalek's
//!   `verify_batch`, and the cofactored batches the audit itself uses.

mod common;

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use concord_node::audit::Progress;
use concord_node::bundle::{self, BundleWriter, FORMAT, Head};
use concord_node::home::Home;
use concord_node::parallel::par_parts;
use concord_node::store::LogHead;
use concord_protocol::checkpoint::{Checkpoint, SignedCheckpoint};
use concord_protocol::entry::SignedEntry;
use concord_protocol::merkle::RootBuilder;
use concord_protocol::origin::Origin;
use concord_protocol::signature;
use ed25519_dalek::SigningKey;
use sha2::Digest as _;

use common::{cores, dalek_verify_batch, sample_payloads, scale, sign_range, signed_messages};

const CHUNK: usize = 4096;

/// Raw baselines, measured after the bundle is written and synced, so that
/// no writing back to disk competes with them.
#[derive(Default, Clone, Copy)]
struct Raw {
    /// ed25519-dalek's batch verification of every signature on every core.
    verify: Duration,
    /// The same with the node's own (cofactored) batches.
    own_verify: Duration,
    /// Base64 decoding and SHA-256 of every payload on every core: work no
    /// audit of a bundle with payloads can skip.
    payloads: Duration,
}

/// Writes a bundle of `n` entries of one log.
fn write_bundle(
    path: &Path,
    head: &Head,
    key: &SigningKey,
    origin: &Origin,
    n: usize,
    with_payloads: bool,
) {
    let payloads = sample_payloads("CL");
    // The checkpoint comes before the entries, so the root is computed first.
    let mut tree = RootBuilder::default();
    for start in (0..n).step_by(CHUNK) {
        for signed in sign_range(key, origin, &payloads, start..(start + CHUNK).min(n)) {
            tree.push(signed.leaf_hash());
        }
    }
    let root = tree.root();
    let file = File::create(path).expect("bundle file");
    let mut writer =
        BundleWriter::new(BufWriter::with_capacity(1 << 20, file), head).expect("head");
    writer
        .log(
            origin,
            LogHead {
                size: n as u64,
                root,
            },
        )
        .expect("log");
    writer
        .checkpoint(&SignedCheckpoint::sign(
            Checkpoint::new(origin.clone(), n as u64, root),
            key,
        ))
        .expect("checkpoint");
    for start in (0..n).step_by(CHUNK) {
        let signed = sign_range(key, origin, &payloads, start..(start + CHUNK).min(n));
        for (offset, entry) in signed.iter().enumerate() {
            let payload = &payloads[(start + offset) % payloads.len()].1;
            writer
                .entry(entry, with_payloads.then_some(payload.as_slice()))
                .expect("entry");
        }
    }
    writer.finish(key, origin.as_str()).expect("end");
}

/// The raw baselines for the bundle [`write_bundle`] wrote, its entries
/// signed again (untimed) chunk by chunk rather than held in memory.
fn measure_raw(key: &SigningKey, origin: &Origin, n: usize, with_payloads: bool) -> Raw {
    let payloads = sample_payloads("CL");
    let public = key.verifying_key();
    let encoded: Vec<String> = payloads
        .iter()
        .map(|(_, p)| base64::engine::general_purpose::STANDARD.encode(p))
        .collect();
    let mut raw = Raw::default();
    for start in (0..n).step_by(CHUNK) {
        let signed = sign_range(key, origin, &payloads, start..(start + CHUNK).min(n));
        let (dalek, own) = raw_verify(&signed, public);
        raw.verify += dalek;
        raw.own_verify += own;
        if with_payloads {
            let chunk: Vec<&str> = (start..start + signed.len())
                .map(|i| encoded[i % encoded.len()].as_str())
                .collect();
            raw.payloads += raw_payload_digests(&chunk);
        }
    }
    raw
}

/// Plain Ed25519 batch verification of the entries' signatures, split over
/// every core: the baselines, ed25519-dalek's and the node's own.
fn raw_verify(entries: &[SignedEntry], key: ed25519_dalek::VerifyingKey) -> (Duration, Duration) {
    let signed = signed_messages(entries);
    let start = Instant::now();
    par_parts(&signed, |part| dalek_verify_batch(part, key));
    let dalek = start.elapsed();
    let start = Instant::now();
    par_parts(&signed, |part| {
        let batch: Vec<signature::Signed<'_>> =
            part.iter().map(|(m, s)| (m.as_slice(), s, &key)).collect();
        assert!(signature::verify_batch(&batch), "valid signatures");
    });
    (dalek, start.elapsed())
}

/// Base64 decoding and SHA-256 of each payload, split over every core.
fn raw_payload_digests(encoded: &[&str]) -> Duration {
    let start = Instant::now();
    par_parts(encoded, |part| {
        for text in part {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text)
                .expect("base64");
            std::hint::black_box(sha2::Sha256::digest(&bytes));
        }
    });
    start.elapsed()
}

fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

/// Prints one audit's figures beside the raw verification.
fn print_audit(what: &str, n: usize, bytes: u64, took: Duration, raw: Raw, cores: usize) {
    println!(
        "bundle audit, {what}: {n} entries, {:.0} MiB, {:.2} s ({:.0} entries/s) | raw Ed25519 batch verify on {cores} cores: {:.2} s (the node's own batches {:.2} s) | ratio audit/raw {:.2} (to the own batches {:.2}; target <= 1.5) | peak RSS so far {} MiB",
        bytes as f64 / (1 << 20) as f64,
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        raw.verify.as_secs_f64(),
        raw.own_verify.as_secs_f64(),
        took.as_secs_f64() / raw.verify.as_secs_f64(),
        took.as_secs_f64() / raw.own_verify.as_secs_f64(),
        peak_rss_mib().unwrap_or(0)
    );
}

/// Audits the bundle at `path`, expecting it clean; how long it took.
fn audit(path: &Path, records: bool) -> Duration {
    let start = Instant::now();
    let audit = bundle::audit_file(
        path,
        None,
        records,
        concord_node::clock::now(),
        &Progress::new(false),
    )
    .expect("audit runs");
    let took = start.elapsed();
    assert!(
        audit.report.findings.is_empty(),
        "{:?}",
        &audit.report.findings[..1]
    );
    took
}

fn main() {
    // As `concord audit` does.
    concord_node::cli::heap::keep_free_top();
    let dir = tempfile::tempdir().expect("temp dir");
    common::two_members(dir.path());
    let home = Home::new(&dir.path().join("cl"));
    let key = home.identity().expect("identity").log_key.clone();
    let origin = Origin::new("pacific-alliance.concord/cl").expect("origin");
    let rosters = home.roster_files().expect("roster files");
    let n = scale(1_000_000.0);
    let cores = cores();
    println!("machine: {cores} cores (nproc); one log of {n} entries");
    for with_payloads in [false, true] {
        let head = Head {
            audience: None,
            created: 1_763_935_200,
            exporter: origin.to_string(),
            federation: "pacific-alliance".into(),
            format: FORMAT.into(),
            headers_only: !with_payloads,
            rosters: rosters
                .iter()
                .map(|r| base64::engine::general_purpose::STANDARD.encode(r))
                .collect(),
        };
        let path = dir.path().join("bench.bundle");
        write_bundle(&path, &head, &key, &origin, n, with_payloads);
        // The audit reads a bundle at rest, not one the kernel is still
        // writing back to disk.
        File::open(&path)
            .and_then(|f| f.sync_all())
            .expect("bundle synced");
        let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
        // The baselines are measured just before and just after the audit,
        // and their mean taken, so that the machine's drift during the run
        // weighs on both sides of the ratio alike.
        let before = measure_raw(&key, &origin, n, with_payloads);
        let took = audit(&path, false);
        let with_records = with_payloads.then(|| audit(&path, true));
        let after = measure_raw(&key, &origin, n, with_payloads);
        let raw = Raw {
            verify: (before.verify + after.verify) / 2,
            own_verify: (before.own_verify + after.own_verify) / 2,
            payloads: (before.payloads + after.payloads) / 2,
        };
        println!(
            "raw Ed25519 batch verify on {cores} cores: {:.2} s before the audits, {:.2} s after",
            before.verify.as_secs_f64(),
            after.verify.as_secs_f64()
        );
        let what = if with_payloads {
            "with payloads"
        } else {
            "headers only"
        };
        print_audit(what, n, bytes, took, raw, cores);
        if let Some(with_records) = with_records {
            print_audit(
                "with payloads and --records",
                n,
                bytes,
                with_records,
                raw,
                cores,
            );
            let floor = raw.verify + raw.payloads;
            println!(
                "  raw base64 decode + SHA-256 of every payload on {cores} cores: {:.2} s | raw verify + payload digests: {:.2} s | ratio audit/that {:.2}",
                raw.payloads.as_secs_f64(),
                floor.as_secs_f64(),
                took.as_secs_f64() / floor.as_secs_f64()
            );
        }
        std::fs::remove_file(&path).expect("remove");
    }
}
