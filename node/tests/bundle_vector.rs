//! The bundle test vectors of PROTOCOL.md §10 (`tests/data/vector.bundle`,
//! v1, and `tests/data/vector-v2.bundle`): rebuilt byte for byte from fixed
//! seeds, and audited clean; a payload or a cosignature stripped from the
//! v2 vector is found; and bundles of
//! the same federation longer than the chunks an audit checks side by side;
//! and the audit engine itself, fed one chunk in memory.
//!
//! Set `CONCORD_WRITE_VECTORS=1` to rewrite the file after a deliberate
//! format change.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use concord_keys::roster::{LogKey, Member, Policy, Role, Roster, Threshold};
use concord_keys::{AgencyIdentity, MemberId, SignedRoster, VerifierKey};
use concord_node::audit::{CHUNK, Progress};
use concord_node::bundle::{self, BundleWriter, FORMAT, Head, Version};
use concord_node::store::LogHead;
use concord_protocol::checkpoint::{Checkpoint, SignedCheckpoint, cosign};
use concord_protocol::entry::{NewEntry, Visibility, sign_entry};
use concord_protocol::merkle::RootBuilder;
use concord_protocol::origin::Origin;
use concord_protocol::record::{Country, Kind};

mod common;

const FEDERATION: &str = "pacific-alliance";

fn participant(id: &str, seed: u8, country: &str, role: Role) -> (AgencyIdentity, Member) {
    let identity = AgencyIdentity::from_secrets(
        MemberId::new(id).expect("id"),
        &[seed; 32],
        &[seed.wrapping_add(100); 32],
    )
    .expect("distinct seeds");
    let origin = Origin::for_member(FEDERATION, id).expect("origin");
    let peer_id = libp2p::identity::Keypair::ed25519_from_bytes([seed.wrapping_add(100); 32])
        .expect("seed")
        .public()
        .to_peer_id()
        .to_string();
    let vkey = VerifierKey::note(origin.as_str(), identity.log_public_key()).expect("vkey");
    let member = Member {
        id: identity.id.clone(),
        name: format!("Vector agency {id}"),
        country: Country::new(country).expect("country"),
        role,
        origin: origin.to_string(),
        keys: vec![LogKey::open(vkey, 0)],
        peer_id,
        addrs: vec!["/ip4/127.0.0.1/tcp/4001".into()],
    };
    (identity, member)
}

/// The federation of the vector: mx (log key seed 07) and the observer
/// un1540 (seed 09), and its genesis roster signed by mx.
fn federation() -> (AgencyIdentity, AgencyIdentity, SignedRoster) {
    let (mx, mx_member) = participant("mx", 7, "MX", Role::Member);
    let (un, un_member) = participant("un1540", 9, "US", Role::Observer);
    let roster = Roster {
        federation: FEDERATION.into(),
        version: 1,
        policy: Policy {
            threshold: Threshold::Majority,
        },
        members: vec![mx_member, un_member],
    };
    let mut signed_roster = SignedRoster::new(&roster).expect("roster");
    signed_roster.sign(&mx);
    (mx, un, signed_roster)
}

/// The head of a bundle exported by mx.
fn head(roster: &SignedRoster, headers_only: bool) -> Head {
    Head {
        audience: None,
        created: 1_763_935_400,
        exporter: Origin::for_member(FEDERATION, "mx")
            .expect("origin")
            .to_string(),
        federation: FEDERATION.into(),
        format: FORMAT.into(),
        headers_only,
        rosters: vec![BASE64.encode(roster.to_bytes())],
    }
}

/// mx publishes entry 0 of §10; un1540 cosigns the checkpoint of size 1;
/// mx exports a bundle: in v1 headers-only, in v2 for mx itself, so that
/// it carries the entry's payload.
fn vector(version: Version) -> Vec<u8> {
    let (_, _, signed_roster) = federation();
    vector_carrying(version, vec![BASE64.encode(signed_roster.to_bytes())])
}

/// The vector of `version` with `rosters` as its head's roster chain.
fn vector_carrying(version: Version, rosters: Vec<String>) -> Vec<u8> {
    let (mx, un, signed_roster) = federation();
    let origin = Origin::for_member(FEDERATION, "mx").expect("origin");
    let entry = sign_entry(
        &NewEntry {
            origin: &origin,
            index: 0,
            time: 1_763_935_200,
            kind: Kind::Notice,
            refers_to: None,
            payload: br#"{"sample":0}"#,
            visibility: Visibility::Federation,
        },
        &mx.log_key,
    )
    .expect("entry");
    let mut tree = RootBuilder::default();
    tree.push(entry.leaf_hash());
    let mut checkpoint =
        SignedCheckpoint::sign(Checkpoint::new(origin.clone(), 1, tree.root()), &mx.log_key);
    let witness = Origin::for_member(FEDERATION, "un1540").expect("origin");
    checkpoint
        .add_cosignature(cosign(
            &checkpoint,
            witness.as_str(),
            &un.log_key,
            1_763_935_300,
        ))
        .expect("room");
    let (head, payload) = match version {
        Version::V1 => (
            Head {
                format: Version::V1.format().into(),
                rosters,
                ..head(&signed_roster, true)
            },
            None,
        ),
        Version::V2 => (
            Head {
                audience: Some("mx".into()),
                rosters,
                ..head(&signed_roster, false)
            },
            Some(br#"{"sample":0}"#.as_slice()),
        ),
    };
    let mut writer = BundleWriter::new(Vec::new(), &head).expect("head");
    writer
        .log(
            &origin,
            LogHead {
                size: 1,
                root: tree.root(),
            },
        )
        .expect("log");
    writer.checkpoint(&checkpoint).expect("checkpoint");
    writer.entry(&entry, payload).expect("entry");
    writer.finish(&mx.log_key, origin.as_str()).expect("end")
}

/// Each vector with the file that holds it.
fn vectors() -> [(Version, &'static str); 2] {
    [
        (
            Version::V1,
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/vector.bundle"),
        ),
        (
            Version::V2,
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/vector-v2.bundle"),
        ),
    ]
}

/// PROTOCOL.md §10 quotes the vector whole, with the roster file and the
/// roster body inside its head, so that a verifier can check (and rebuild)
/// it from the document alone.
#[test]
fn protocol_md_quotes_the_bundle_vector_and_its_roster() {
    let protocol = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../PROTOCOL.md"))
        .expect("PROTOCOL.md");
    let (_, _, roster) = federation();
    let file = String::from_utf8(roster.to_bytes()).expect("a roster file is text");
    let body: serde_json::Value = serde_json::from_str(&file).expect("a roster file is JSON");
    let body = BASE64
        .decode(body["roster"].as_str().expect("its body"))
        .expect("base64");
    let body = String::from_utf8(body).expect("a roster body is text");
    let quoted = |what: &str, text: &str| {
        assert!(
            protocol.contains(text),
            "PROTOCOL.md §10 does not quote {what} verbatim:\n{text}"
        );
    };
    for (version, _) in vectors() {
        let bundle = String::from_utf8(vector(version)).expect("a bundle is text");
        quoted(version.format(), &bundle);
        // What its end line signs: the line without its signature member.
        let end = bundle.lines().last().expect("an end line");
        let at = end.find(",\"signature\":\"").expect("a signature member");
        let until = at + end[at + 14..].find('"').expect("its end") + 15;
        let signed = format!("{}{}", &end[..at], &end[until..]);
        quoted("the bytes its end line signs", &format!("\n{signed}\n"));
    }
    quoted("the roster file", &file);
    quoted("the roster body", &body);
}

/// Both vectors audit clean; a v1 bundle's audit says what v1 leaves
/// unsigned.
#[test]
fn the_bundle_vectors_are_rebuilt_exactly_and_audit_clean() {
    for (version, path) in vectors() {
        let built = vector(version);
        if std::env::var_os("CONCORD_WRITE_VECTORS").is_some() {
            std::fs::write(path, &built).expect("write vector");
        }
        let stored = std::fs::read(path).expect("the vector file");
        assert!(
            built == stored,
            "the bundle format changed; if on purpose, rewrite the vector and PROTOCOL.md §10"
        );
        let audit = audit_in_memory(&stored[..]);
        let report = &audit.report;
        assert!(report.findings.is_empty(), "{:#?}", report.findings);
        assert_eq!(report.logs[0].cosigners.len(), 1);
        match version {
            Version::V1 => {
                assert_eq!(report.notes.len(), 1, "{:?}", report.notes);
                assert!(report.notes[0].starts_with("concord-bundle/v1: "));
            }
            Version::V2 => {
                assert!(report.notes.is_empty(), "{:?}", report.notes);
                assert_eq!(report.logs[0].payloads_checked, 1);
            }
        }
    }
}

/// Audited under a pinned roster, a bundle whose carried roster chain
/// does not verify has no finding for it (PROTOCOL.md §9), but the report
/// says so; without a pinned roster it fails at line 1.
#[test]
fn a_bad_roster_chain_is_noted_under_a_pinned_roster() {
    let (_, _, signed_roster) = federation();
    let roster = SignedRoster::verify_chain(&[signed_roster.to_bytes()]).expect("valid roster");
    let bundle = vector_carrying(Version::V2, vec![BASE64.encode(b"not a roster")]);
    let audit = bundle::audit_reader(
        &bundle[..],
        "in memory",
        Some((roster, "pinned".into())),
        false,
        concord_node::clock::now(),
        &Progress::new(false),
    )
    .expect("in memory");
    assert!(
        audit.report.findings.is_empty(),
        "{:#?}",
        audit.report.findings
    );
    assert_eq!(audit.report.notes.len(), 1, "{:?}", audit.report.notes);
    assert!(
        audit.report.notes[0].starts_with("the roster chain the bundle carries does not verify"),
        "{:?}",
        audit.report.notes
    );
    assert_eq!(findings_of(&bundle), owned(&[("roster_invalid", Some(1))]));
}

/// The v2 vector with its entry's payload removed, or its checkpoint's
/// cosignature line: every remaining signature of the entry and the
/// checkpoint still verifies, but the end line signed what was removed.
#[test]
fn a_payload_or_a_cosignature_stripped_from_a_v2_bundle_is_found() {
    let text = String::from_utf8(vector(Version::V2)).expect("ascii");
    let payload = text
        .split("\"payload\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the vector carries a payload");
    let stripped_payload = text.replacen(&format!(",\"payload\":\"{payload}\""), "", 1);
    let cosignature = text
        .split("\\n— pacific-alliance.concord/un1540 ")
        .nth(1)
        .and_then(|rest| rest.split("\\n").next())
        .expect("the vector's checkpoint is cosigned");
    let stripped_cosignature = text.replacen(
        &format!("— pacific-alliance.concord/un1540 {cosignature}\\n"),
        "",
        1,
    );
    for (stripped, what) in [
        (stripped_payload, "payload_missing"),
        (stripped_cosignature, "checkpoints_changed"),
    ] {
        assert_ne!(stripped, text, "{what}: nothing stripped");
        // Found at the log line of the section.
        assert_eq!(
            findings_of(stripped.as_bytes()),
            owned(&[(what, Some(2))]),
            "{stripped}"
        );
    }
}

/// A headers-only bundle of mx's log with `n` entries and its checkpoint.
fn long_bundle(n: usize) -> Vec<u8> {
    let (mx, _, signed_roster) = federation();
    let origin = Origin::for_member(FEDERATION, "mx").expect("origin");
    let entries: Vec<_> = (0..n)
        .map(|i| {
            sign_entry(
                &NewEntry {
                    origin: &origin,
                    index: i as u64,
                    time: 1_763_935_200 + i as u64,
                    kind: Kind::Notice,
                    refers_to: None,
                    payload: format!("{{\"sample\":{i}}}").as_bytes(),
                    visibility: Visibility::Federation,
                },
                &mx.log_key,
            )
            .expect("entry")
        })
        .collect();
    let mut tree = RootBuilder::default();
    for entry in &entries {
        tree.push(entry.leaf_hash());
    }
    let mut writer = BundleWriter::new(Vec::new(), &head(&signed_roster, true)).expect("head");
    common::begin_log(&mut writer, &origin, n as u64, tree.root(), &mx.log_key);
    for entry in &entries {
        writer.entry(entry, None).expect("entry");
    }
    writer.finish(&mx.log_key, origin.as_str()).expect("end")
}

/// The audit checks several chunks of entries at once and applies them in
/// order. A bad signature in the first chunk and an unreadable line in the
/// third are each found at their own index and line; the tree stops at
/// the unreadable line, so nothing after it is reported, and the chunks
/// checked meanwhile do not count.
#[test]
fn an_audit_of_many_chunks_finds_each_problem_where_it_is() {
    let n = 3 * CHUNK + 5;
    let bundle = long_bundle(n);
    let clean = audit_in_memory(&bundle[..]);
    assert!(
        clean.report.findings.is_empty(),
        "{:#?}",
        clean.report.findings
    );
    assert_eq!(clean.report.logs[0].size, n as u64);

    let text = String::from_utf8(bundle).expect("ascii");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let first_entry = lines
        .iter()
        .position(|l| l.starts_with("{\"entry\":"))
        .expect("entry lines");
    let (forged, unreadable) = (5, 2 * CHUNK + 7);
    // The signature's first base64 character, changed to another valid one.
    let line = &mut lines[first_entry + forged];
    let at = line.find("\"signature\":\"").expect("signature") + 13;
    let replacement = if &line[at..=at] == "A" { "B" } else { "A" };
    line.replace_range(at..=at, replacement);
    lines[first_entry + unreadable] = "{\"entry\":{\"header\":\"!\"}}".into();
    let changed = lines.join("\n") + "\n";

    let audit = audit_in_memory(changed.as_bytes());
    let findings = &audit.report.findings;
    let located = |what: &str| -> Vec<_> {
        findings
            .iter()
            .filter(|f| f.what == what)
            .map(|f| (f.index, f.line))
            .collect()
    };
    let at = |index: usize| (Some(index as u64), Some((first_entry + index + 1) as u64));
    assert_eq!(located("bad_signature"), [at(forged)], "{findings:#?}");
    assert_eq!(
        located("entry_malformed"),
        [at(unreadable)],
        "{findings:#?}"
    );
    // Besides those two, only the checkpoint the stopped tree cannot reach.
    assert_eq!(findings.len(), 3, "{findings:#?}");
    assert!(
        findings.iter().any(|f| f.what == "checkpoint_beyond_log"),
        "{findings:#?}"
    );
    assert_eq!(audit.report.logs[0].size, unreadable as u64);
}

/// The audit engine over one chunk of 200 entries, one signature batch: a
/// forged signature is named at its own index and nowhere else, and a
/// log of an observer, whose key signs no entries, is unauthorised at
/// every index.
#[test]
fn the_audit_engine_names_each_bad_signature_and_each_unauthorised_key_where_it_is() {
    use concord_node::audit::{CheckedChunk, Item, LogAudit};
    use concord_node::store::LogHead;
    use concord_node::testnet::{self, Plan};
    use concord_protocol::merkle::RootBuilder;
    use concord_protocol::origin::Origin;

    let dir = tempfile::tempdir().expect("temp dir");
    testnet::build(&Plan {
        dir: dir.path().to_path_buf(),
        members: vec!["cl".into()],
        observers: vec!["un1540:US".into()],
        federation: "pacific-alliance".into(),
        sync_interval_ms: 1000,
    })
    .expect("testnet");
    let roster = concord_node::home::Home::new(&dir.path().join("cl"))
        .roster()
        .expect("roster");
    let payload = concord_scenarios::records::denials_of("CL").swap_remove(0);
    for (id, forged) in [("cl", Some(77u64)), ("un1540", None)] {
        let origin = Origin::for_member("pacific-alliance", id).expect("origin");
        let mut tree = RootBuilder::default();
        let items: Vec<Item> = common::signed_denials(dir.path(), id, 200, &payload)
            .into_iter()
            .zip(0u64..)
            .map(|(mut signed, index)| {
                if forged == Some(index) {
                    signed.signature[5] ^= 0x10;
                }
                tree.push(signed.leaf_hash());
                Item {
                    entry: signed,
                    header: None,
                    payload: None,
                    purge: None,
                    line: Some(index + 1),
                }
            })
            .collect();
        let chunk = CheckedChunk::new(&origin, &roster, 0, items, false);
        let mut audit = LogAudit::new(&roster, origin, concord_node::clock::now());
        audit.apply(chunk);
        let (_, findings) = audit.finish(
            LogHead {
                size: 200,
                root: tree.root(),
            },
            None,
        );
        let found: Vec<(&str, Option<u64>)> =
            findings.iter().map(|f| (&*f.what, f.index)).collect();
        match forged {
            Some(index) => assert_eq!(found, [("bad_signature", Some(index))]),
            None => {
                assert_eq!(found.len(), 200, "{found:?}");
                for (position, (what, index)) in found.iter().enumerate() {
                    assert_eq!((*what, *index), ("unauthorised_key", Some(position as u64)));
                }
            }
        }
    }
}

/// Entry and checkpoint lines are not under the end line's digests: a
/// signature whose last character changes only padding bits must still be
/// found, at its line, by the canonical-base64 rule (PROTOCOL.md §1).
#[test]
fn a_signature_changed_only_in_its_padding_bits_is_found_at_its_line() {
    for (version, _) in vectors() {
        signature_padding_bits_are_found_at_their_line(version);
    }
}

fn signature_padding_bits_are_found_at_their_line(version: Version) {
    let text = String::from_utf8(vector(version)).expect("ascii");
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let checkpoint_line = lines
        .iter()
        .position(|l| l.starts_with("{\"note\":"))
        .expect("a checkpoint line");
    let entry_line = lines
        .iter()
        .position(|l| l.starts_with("{\"entry\":"))
        .expect("an entry line");
    let log_signature = "— pacific-alliance.concord/mx ";
    let cosignature = "— pacific-alliance.concord/un1540 ";
    for (line_idx, marker, what) in [
        (entry_line, "\"signature\":\"", "entry_malformed"),
        (checkpoint_line, log_signature, "checkpoint_malformed"),
        (checkpoint_line, cosignature, "checkpoint_malformed"),
    ] {
        let mut changed = lines.clone();
        let at = changed[line_idx].find(marker).expect("the field") + marker.len();
        common::set_padding_bit(&mut changed[line_idx], at);
        let bundle = changed.join("\n") + "\n";
        let audit = audit_in_memory(bundle.as_bytes());
        let findings = &audit.report.findings;
        assert!(
            findings
                .iter()
                .any(|f| f.what == what && f.line == Some(line_idx as u64 + 1)),
            "{marker}: {findings:#?}"
        );
    }
}

/// The end line's `signer.key_id` is lowercase hex like every key id: the
/// exporter's own signature over an uppercase spelling does not make it
/// valid.
#[test]
fn an_end_line_signed_over_an_uppercase_key_id_is_refused() {
    let bundle = resigned(Version::V1, |fields| {
        fields["signer"]["key_id"] = "8F55B1EC".into();
    });
    let end_line = 5;
    let audit = audit_in_memory(bundle.as_bytes());
    let findings = &audit.report.findings;
    assert!(
        findings.iter().any(|f| f.what == "bundle_signature"
            && f.line == Some(end_line)
            && f.why.contains("not 8 lowercase hex digits")),
        "{findings:#?}"
    );
}

/// A v2 end line without `sections`, or a v1 end line with one, is
/// refused even when the exporter signed it so.
#[test]
fn an_end_line_with_sections_in_v1_or_without_them_in_v2_is_refused() {
    let without = resigned(Version::V2, |fields| {
        fields.remove("sections");
    });
    assert_eq!(
        findings_of(without.as_bytes()),
        owned(&[("malformed_line", Some(5))])
    );
    let with = resigned(Version::V1, |fields| {
        fields.insert("sections".into(), serde_json::json!([]));
    });
    assert_eq!(
        findings_of(with.as_bytes()),
        owned(&[("malformed_line", Some(5))])
    );
}

/// The vector of `version` whose end line `change` rewrote and mx signed
/// again.
fn resigned(
    version: Version,
    change: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) -> String {
    use ed25519_dalek::Signer as _;
    let (mx, _, _) = federation();
    let text = String::from_utf8(vector(version)).expect("ascii");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let end = lines.last_mut().expect("an end line");
    let mut body: serde_json::Value = serde_json::from_str(end).expect("json");
    let fields = body.as_object_mut().expect("an object");
    fields.remove("signature");
    change(fields);
    // serde_json's map is sorted, and the line holds ASCII strings and small
    // integers only, so this is its RFC 8785 form.
    let context = match version {
        Version::V1 => b"concord/bundle/v1\n",
        Version::V2 => b"concord/bundle/v2\n",
    };
    let mut message = context.to_vec();
    message.extend(serde_json::to_vec(&body).expect("json"));
    let signature = mx.log_key.sign(&message);
    body["signature"] = BASE64.encode(signature.to_bytes()).into();
    *end = serde_json::to_string(&body).expect("json");
    lines.join("\n") + "\n"
}

/// An audit of `bundle`, held in memory, against the roster it carries and
/// this machine's clock.
fn audit_in_memory(bundle: &[u8]) -> bundle::BundleAudit {
    bundle::audit_reader(
        bundle,
        "in memory",
        None,
        false,
        concord_node::clock::now(),
        &Progress::new(false),
    )
    .expect("in memory")
}

/// What an audit of `bundle` finds, as (code, line).
fn findings_of(bundle: &[u8]) -> Vec<(String, Option<u64>)> {
    let audit = audit_in_memory(bundle);
    audit
        .report
        .findings
        .iter()
        .map(|f| (f.what.to_string(), f.line))
        .collect()
}

/// `findings` as [`findings_of`] returns them.
fn owned(findings: &[(&str, Option<u64>)]) -> Vec<(String, Option<u64>)> {
    findings
        .iter()
        .map(|(what, line)| ((*what).to_owned(), *line))
        .collect()
}

/// A bundle of mx's log of three entries whose checkpoint lines are, in
/// this order, of `sizes`; a size marked `true` is signed over a wrong root.
/// Its checkpoint lines are lines 3, 4, ...
fn bundle_with_checkpoints(sizes: &[(u64, bool)]) -> Vec<u8> {
    bundle_of_three(sizes, &[])
}

/// A headers-only bundle of mx's log of three denials, with checkpoint
/// lines of `sizes` (as [`bundle_with_checkpoints`]) and then purge lines
/// of the entries `purged`, in this order, each purged in 2028 of a denial
/// valid until 2025.
fn bundle_of_three(sizes: &[(u64, bool)], purged: &[u64]) -> Vec<u8> {
    let (mx, _, signed_roster) = federation();
    let origin = Origin::for_member(FEDERATION, "mx").expect("origin");
    let entries: Vec<_> = (0..3)
        .map(|index| common::signed_denial(&origin, &mx.log_key, index, b"{}"))
        .collect();
    let mut roots = vec![RootBuilder::default().root()];
    let mut tree = RootBuilder::default();
    for entry in &entries {
        tree.push(entry.leaf_hash());
        roots.push(tree.root());
    }
    let mut writer = BundleWriter::new(Vec::new(), &head(&signed_roster, true)).expect("head");
    writer
        .log(
            &origin,
            LogHead {
                size: 3,
                root: tree.root(),
            },
        )
        .expect("log");
    for &(size, forked) in sizes {
        let root = if forked {
            [9; 32]
        } else {
            roots[size as usize]
        };
        let checkpoint = Checkpoint::new(origin.clone(), size, root);
        writer
            .checkpoint(&SignedCheckpoint::sign(checkpoint, &mx.log_key))
            .expect("checkpoint");
    }
    for &index in purged {
        writer
            .purge(&bundle::PurgeLine {
                denial_valid_until: Some("2025-01-01".into()),
                index,
                purged_at: 1_843_430_400,
                reason: "retention".into(),
            })
            .expect("purge");
    }
    for entry in &entries {
        writer.entry(entry, None).expect("entry");
    }
    writer.finish(&mx.log_key, origin.as_str()).expect("end")
}

/// Checkpoint lines ascend strictly in size; a log may have none, and its
/// last need not be of the log's size (PROTOCOL.md §9).
#[test]
fn checkpoint_lines_ascend_strictly() {
    let check = |sizes: &[(u64, bool)], expected: &[(&str, Option<u64>)]| {
        assert_eq!(
            findings_of(&bundle_with_checkpoints(sizes)),
            owned(expected),
            "{sizes:?}"
        );
    };
    check(&[], &[]);
    check(&[(1, false)], &[]);
    check(&[(0, false), (1, false), (3, false)], &[]);
    check(&[(2, false), (1, false)], &[("checkpoint_order", Some(4))]);
    check(
        &[(1, false), (2, false), (2, false)],
        &[("duplicate_checkpoint", Some(5))],
    );
    check(
        &[(2, false), (2, true)],
        &[("checkpoint_conflict", Some(4))],
    );
}

/// Purge lines ascend strictly by index (PROTOCOL.md §9).
#[test]
fn purge_lines_ascend_strictly() {
    let check = |purged: &[u64], expected: &[(&str, Option<u64>)]| {
        assert_eq!(
            findings_of(&bundle_of_three(&[], purged)),
            owned(expected),
            "{purged:?}"
        );
    };
    check(&[0, 2], &[]);
    check(&[2, 0], &[("purge_order", Some(4))]);
    check(&[0, 0], &[("duplicate_purge", Some(4))]);
}

/// Log sections come in ascending order of origin, as the exporter writes
/// them.
#[test]
fn log_sections_ascend_by_origin() {
    let (mx, mx_member) = participant("mx", 7, "MX", Role::Member);
    let (cl, cl_member) = participant("cl", 11, "CL", Role::Member);
    let roster = Roster {
        federation: FEDERATION.into(),
        version: 1,
        policy: Policy {
            threshold: Threshold::AtLeast(1),
        },
        members: vec![mx_member, cl_member],
    };
    let mut signed_roster = SignedRoster::new(&roster).expect("roster");
    signed_roster.sign(&mx);
    let bundle_of = |ids: &[&AgencyIdentity]| {
        let mut writer = BundleWriter::new(Vec::new(), &head(&signed_roster, true)).expect("head");
        for identity in ids {
            let origin = Origin::for_member(FEDERATION, identity.id.as_str()).expect("origin");
            writer
                .log(
                    &origin,
                    LogHead {
                        size: 0,
                        root: RootBuilder::default().root(),
                    },
                )
                .expect("log");
        }
        let mx_origin = Origin::for_member(FEDERATION, "mx").expect("origin");
        writer.finish(&mx.log_key, mx_origin.as_str()).expect("end")
    };
    assert_eq!(findings_of(&bundle_of(&[&cl, &mx])), owned(&[]));
    assert_eq!(
        findings_of(&bundle_of(&[&mx, &cl])),
        owned(&[("log_order", Some(3))])
    );
}
