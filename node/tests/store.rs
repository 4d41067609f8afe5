//! The store's verified paths: own-log group commit, replica ingest and each
//! class of bad entry, checkpoints, reopen checks. Real sled files in temp
//! dirs, real signatures, a real roster made by `testnet::build`.

mod common;

use std::path::Path;

use concord_node::home::Home;
use concord_node::publish::{self, OwnEntry};
use concord_node::store::{
    CheckpointOutcome, FORMAT_VERSION, Rejected, Store, StoreError, keys, open_sled,
};
use concord_protocol::checkpoint::{Checkpoint, SignedCheckpoint};
use concord_protocol::entry::{self, EntryError, NewEntry, SignedEntry, Visibility};
use concord_protocol::equivocation::{EquivocationProof, KeyLookup, KeyRefusal};
use concord_protocol::ledger::{DenialState, LedgerError};
use concord_protocol::merkle;
use concord_protocol::origin::Origin;
use concord_protocol::record::{Country, Kind, Record};

use common::Fed;

/// The sample denials as the member of `state` would publish them.
fn sample_denials(state: &str) -> Vec<Record> {
    concord_scenarios::records::denials_of(state)
        .iter()
        .map(|bytes| Record::parse(Kind::Denial, bytes).expect("sample validates"))
        .collect()
}

fn own(record: &Record) -> OwnEntry {
    OwnEntry {
        record: record.clone(),
        visibility: Visibility::Federation,
        refers_to: None,
    }
}

/// Signs entries `start..start+n` of `id`'s log as that member would.
fn signed_entries(fed: &Fed, id: &str, start: u64, n: u64) -> Vec<(SignedEntry, Option<Vec<u8>>)> {
    let key = fed.identity(id).log_key.clone();
    let origin = fed.origin(id);
    let member = fed
        .roster
        .member_by_origin(origin.as_str())
        .expect("in the roster");
    let records = sample_denials(member.country.as_str());
    (start..start + n)
        .map(|index| {
            let payload = records[index as usize % records.len()].to_canonical_bytes();
            let signed = common::signed_denial(&origin, &key, index, &payload);
            (signed, Some(payload))
        })
        .collect()
}

/// The root of a log of `entries`.
fn root_of(entries: &[(SignedEntry, Option<Vec<u8>>)]) -> merkle::Hash {
    let mut tree = merkle::RootBuilder::default();
    for (entry, _) in entries {
        tree.push(entry.leaf_hash());
    }
    tree.root()
}

#[test]
fn own_log_group_commit_signs_a_checkpoint_of_the_new_tree() {
    let fed = Fed::new(&["un1540:US"]);
    let store = fed.store("mx");
    let origin = fed.origin("mx");
    let records = sample_denials("MX");
    let group: Vec<OwnEntry> = records.iter().map(own).collect();
    let (outcomes, checkpoint) = publish::append_own(
        &store,
        &origin,
        Country::new("MX").expect("a country"),
        &fed.identity("mx").log_key,
        1_763_935_200,
        &group,
    )
    .expect("append");
    assert!(outcomes.iter().all(Result::is_ok));
    let checkpoint = checkpoint.expect("the group went in");
    store.flush_blocking().expect("flush");
    let head = store.head(&origin).expect("head");
    assert_eq!(head.size, records.len() as u64);
    assert_eq!(checkpoint.checkpoint.size, head.size);
    assert_eq!(checkpoint.checkpoint.root, head.root);
    checkpoint
        .verify(&origin, &fed.roster.checkpoint_verifiers(&origin))
        .expect("checkpoint verifies under the roster");
    // The root matches a recomputation from the entries alone.
    let leaves: Vec<_> = store
        .entries(&origin, 0, 1000)
        .expect("entries")
        .iter()
        .map(SignedEntry::leaf_hash)
        .collect();
    let mut builder = merkle::RootBuilder::default();
    for leaf in leaves {
        builder.push(leaf);
    }
    assert_eq!(builder.root(), head.root);
}

/// An amendment of `denial` (with the same content) and a revocation.
fn amend_and_revoke(denial: &Record) -> (Record, Record) {
    let Record::Denial(denial) = denial.clone() else {
        panic!("sample is a denial")
    };
    let amend_json = serde_json::json!({ "reason": "end user corrected", "denial": denial });
    let amend = Record::parse(Kind::DenialAmend, amend_json.to_string().as_bytes())
        .expect("amendment validates");
    let revoke_json =
        serde_json::json!({ "reason": "licence appeal upheld", "date": "2026-06-01" });
    let revoke = Record::parse(Kind::DenialRevoke, revoke_json.to_string().as_bytes())
        .expect("revocation validates");
    (amend, revoke)
}

#[test]
fn amend_and_revoke_follow_the_denial_and_refuse_nonsense() {
    let fed = Fed::new(&["un1540:US"]);
    let store = fed.store("mx");
    let origin = fed.origin("mx");
    let key = fed.identity("mx").log_key.clone();
    let records = sample_denials("MX");
    publish::append_own(
        &store,
        &origin,
        Country::new("MX").expect("a country"),
        &key,
        1,
        &[own(&records[0]), own(&records[1])],
    )
    .expect("append");
    let (amend, revoke) = amend_and_revoke(&records[0]);
    let group = [
        OwnEntry {
            record: amend.clone(),
            visibility: Visibility::Federation,
            refers_to: Some(0),
        },
        OwnEntry {
            record: revoke.clone(),
            visibility: Visibility::Federation,
            refers_to: Some(0),
        },
        // Revoked denials cannot change again; a reference past the log fails.
        OwnEntry {
            record: amend.clone(),
            visibility: Visibility::Federation,
            refers_to: Some(0),
        },
        OwnEntry {
            record: revoke,
            visibility: Visibility::Federation,
            refers_to: Some(99),
        },
        // A notice or an amendment cannot refer to something that is not a denial.
        OwnEntry {
            record: amend,
            visibility: Visibility::Federation,
            refers_to: Some(2),
        },
    ];
    let (outcomes, _) = publish::append_own(
        &store,
        &origin,
        Country::new("MX").expect("a country"),
        &key,
        2,
        &group,
    )
    .expect("append");
    assert_eq!(outcomes[0].as_ref().map(|o| o.index), Ok(2));
    assert_eq!(outcomes[1].as_ref().map(|o| o.index), Ok(3));
    assert_eq!(
        outcomes[2].as_ref().err(),
        Some(&Rejected::Ledger(LedgerError::AlreadyRevoked(0)))
    );
    assert!(matches!(
        outcomes[3],
        Err(Rejected::Ledger(LedgerError::BadReference {
            index: 99,
            ..
        }))
    ));
    assert!(matches!(
        outcomes[4],
        Err(Rejected::Ledger(LedgerError::BadReference { index: 2, .. }))
    ));
    let status = store
        .denial_status(&origin, 0)
        .expect("read")
        .expect("status kept");
    assert_eq!(status.state, DenialState::Revoked);
    assert_eq!(status.latest_index, 3);
    let untouched = store
        .denial_status(&origin, 1)
        .expect("read")
        .expect("status kept");
    assert_eq!(untouched.state, DenialState::Active);
    assert_eq!(store.head(&origin).expect("head").size, 4);
}

#[test]
fn replica_accepts_good_entries_and_rejects_each_class_of_bad_one() {
    let fed = Fed::new(&["un1540:US"]);
    let store = fed.store("pe");
    let cl = fed.origin("cl");
    let good = signed_entries(&fed, "cl", 0, 4);
    let outcome = store
        .ingest(
            &cl,
            good[..2].to_vec(),
            &fed.roster,
            concord_node::clock::now(),
        )
        .expect("ingest");
    assert_eq!((outcome.appended, outcome.rejected.len()), (2, 0));

    // Forged signature.
    let mut forged = good[2].clone();
    forged.0.signature[3] ^= 0x40;
    let outcome = store
        .ingest(&cl, vec![forged], &fed.roster, concord_node::clock::now())
        .expect("ingest");
    assert!(
        matches!(
            outcome.rejected[..],
            [(2, Rejected::Entry(EntryError::BadSignature { .. }))]
        ),
        "{outcome:?}"
    );

    // Signed by another member's key for this log.
    let other_key = fed.identity("mx").log_key.clone();
    let payload = good[2].1.clone().expect("payload");
    let header = good[2].0.decode_header().expect("header");
    let wrong_key = entry::sign_entry(
        &NewEntry {
            origin: &cl,
            index: 2,
            time: header.time,
            kind: Kind::Denial,
            refers_to: None,
            payload: &payload,
            visibility: Visibility::Federation,
        },
        &other_key,
    )
    .expect("signs");
    let outcome = store
        .ingest(
            &cl,
            vec![(wrong_key, Some(payload.clone()))],
            &fed.roster,
            concord_node::clock::now(),
        )
        .expect("ingest");
    assert!(
        matches!(
            outcome.rejected[..],
            [(2, Rejected::Entry(EntryError::WrongKey { .. }))]
        ),
        "{outcome:?}"
    );

    // Payload that is not the one the header commits to.
    let mut swapped = good[2].clone();
    swapped.1 = good[3].1.clone();
    let outcome = store
        .ingest(&cl, vec![swapped], &fed.roster, concord_node::clock::now())
        .expect("ingest");
    assert!(
        matches!(
            outcome.rejected[..],
            [(
                2,
                Rejected::Entry(EntryError::PayloadDigest | EntryError::PayloadSize { .. })
            )]
        ),
        "{outcome:?}"
    );

    // Oversized header.
    let mut oversize = good[2].clone();
    oversize.0.header_bytes = vec![b' '; entry::MAX_HEADER_BYTES + 1];
    let outcome = store
        .ingest(&cl, vec![oversize], &fed.roster, concord_node::clock::now())
        .expect("ingest");
    assert!(
        matches!(
            outcome.rejected[..],
            [(_, Rejected::Entry(EntryError::HeaderTooLarge(_)))]
        ),
        "{outcome:?}"
    );

    // A skipped index is held, not stored, until the gap fills.
    let outcome = store
        .ingest(
            &cl,
            vec![good[3].clone()],
            &fed.roster,
            concord_node::clock::now(),
        )
        .expect("ingest");
    assert_eq!((outcome.appended, outcome.held), (0, 1));
    assert_eq!(store.head(&cl).expect("head").size, 2);
    let outcome = store
        .ingest(
            &cl,
            vec![good[2].clone()],
            &fed.roster,
            concord_node::clock::now(),
        )
        .expect("ingest");
    assert_eq!(outcome.appended, 2, "{outcome:?}");

    // A replay of the same bytes is a no-op.
    let outcome = store
        .ingest(&cl, good.clone(), &fed.roster, concord_node::clock::now())
        .expect("ingest");
    assert_eq!(
        (outcome.appended, outcome.duplicates, outcome.rejected.len()),
        (0, 4, 0)
    );

    // Other signed bytes for a stored index: evidence, never stored over it.
    let mut other = signed_entries(&fed, "cl", 1, 1);
    let header = other[0].0.decode_header().expect("header");
    let resigned = entry::sign_entry(
        &NewEntry {
            origin: &cl,
            index: 1,
            time: header.time + 7,
            kind: Kind::Denial,
            refers_to: None,
            payload: other[0].1.as_deref().expect("payload"),
            visibility: Visibility::Members,
        },
        &fed.identity("cl").log_key,
    )
    .expect("signs");
    other[0].0 = resigned;
    let outcome = store
        .ingest(&cl, other, &fed.roster, concord_node::clock::now())
        .expect("ingest");
    assert!(
        matches!(
            outcome.rejected[..],
            [(1, Rejected::Equivocation { index: 1 })]
        ),
        "{outcome:?}"
    );
    let proof = outcome.equivocations.first().expect("a proof");
    let found = proof
        .verify(&fed.roster)
        .expect("the proof verifies with the roster alone");
    assert_eq!((found.origin, found.position), (cl.clone(), 1));
    assert_eq!(
        store.entry(&cl, 1).expect("read").expect("kept"),
        good[1].0,
        "the original stays"
    );
    assert_eq!(store.head(&cl).expect("head").size, 4);
}

#[test]
fn observers_cannot_publish_and_revoked_keys_sign_nothing() {
    let fed = Fed::new(&["un1540:US"]);
    let store = fed.store("pe");
    let un = fed.origin("un1540");
    let observer_entries = signed_entries(&fed, "un1540", 0, 1);
    let outcome = store
        .ingest(
            &un,
            observer_entries,
            &fed.roster,
            concord_node::clock::now(),
        )
        .expect("ingest");
    assert!(
        matches!(
            outcome.rejected[..],
            [(
                0,
                Rejected::Ledger(LedgerError::Key(KeyRefusal::Observer(_)))
            )]
        ),
        "{outcome:?}"
    );
    let leaf = signed_entries(&fed, "un1540", 0, 1)[0].0.leaf_hash();
    let observer_checkpoint = SignedCheckpoint::sign(
        Checkpoint::new(un.clone(), 1, leaf),
        &fed.identity("un1540").log_key,
    );
    assert!(matches!(
        store
            .accept_checkpoint(&observer_checkpoint.to_bytes(), &fed.roster)
            .expect("io"),
        Err(Rejected::Ledger(LedgerError::Key(KeyRefusal::Observer(_))))
    ));
    assert_eq!(store.head(&un).expect("head").size, 0);
    assert!(store.target(&un).expect("read").is_none());

    let cl = fed.origin("cl");
    let mut revoked = fed.roster.next();
    let cl_id = concord_keys::MemberId::new("cl").expect("id");
    let key_id = fed.roster.member(&cl_id).expect("member").keys[0]
        .vkey
        .key_id();
    revoked
        .revoke_key(&cl_id, key_id, 1)
        .expect("revoke from index 1");
    let entries = signed_entries(&fed, "cl", 0, 3);
    let outcome = store
        .ingest(&cl, entries, &revoked, concord_node::clock::now())
        .expect("ingest");
    assert_eq!(outcome.appended, 1, "entry 0 predates the revocation");
    assert!(
        matches!(
            outcome.rejected[..],
            [(1, Rejected::Ledger(LedgerError::Key(_)))]
        ),
        "{outcome:?}"
    );
}

#[test]
fn checkpoints_are_checked_against_the_stored_tree() {
    let fed = Fed::new(&["un1540:US"]);
    let store = fed.store("pe");
    let cl = fed.origin("cl");
    let key = fed.identity("cl").log_key.clone();
    let entries = signed_entries(&fed, "cl", 0, 6);
    let leaves: Vec<_> = entries.iter().map(|(e, _)| e.leaf_hash()).collect();
    let root_of = |n: usize| {
        let mut b = merkle::RootBuilder::default();
        leaves[..n].iter().for_each(|l| b.push(*l));
        b.root()
    };
    store
        .ingest(
            &cl,
            entries[..3].to_vec(),
            &fed.roster,
            concord_node::clock::now(),
        )
        .expect("ingest");

    let good = SignedCheckpoint::sign(Checkpoint::new(cl.clone(), 3, root_of(3)), &key);
    assert!(matches!(
        store
            .accept_checkpoint(&good.to_bytes(), &fed.roster)
            .expect("io"),
        Ok(CheckpointOutcome::Stored { .. })
    ));
    let ahead = SignedCheckpoint::sign(Checkpoint::new(cl.clone(), 6, root_of(6)), &key);
    assert_eq!(
        store
            .accept_checkpoint(&ahead.to_bytes(), &fed.roster)
            .expect("io"),
        Ok(CheckpointOutcome::Ahead { have: 3, want: 6 })
    );
    // Validly signed entries that do not reach the target's root (another
    // entry 4 than the one the checkpoint covers) are refused as a group.
    let mut other_tail = entries[3..].to_vec();
    let header = other_tail[1].0.decode_header().expect("header");
    other_tail[1].0 = entry::sign_entry(
        &NewEntry {
            origin: &cl,
            index: 4,
            time: header.time + 1,
            kind: Kind::Denial,
            refers_to: None,
            payload: other_tail[1].1.as_deref().expect("payload"),
            visibility: Visibility::Federation,
        },
        &key,
    )
    .expect("signs");
    let outcome = store
        .ingest(&cl, other_tail, &fed.roster, concord_node::clock::now())
        .expect("ingest");
    assert_eq!(outcome.appended, 0, "{outcome:?}");
    assert!(
        matches!(
            outcome.rejected[..],
            [(_, Rejected::CheckpointMismatch { size: 6, .. })]
        ),
        "{outcome:?}"
    );
    assert_eq!(store.head(&cl).expect("head").size, 3);
    let outcome = store
        .ingest(
            &cl,
            entries[3..].to_vec(),
            &fed.roster,
            concord_node::clock::now(),
        )
        .expect("ingest");
    assert_eq!(store.head(&cl).expect("head").size, 6, "{outcome:?}");
    assert_eq!(
        store
            .checkpoint(&cl)
            .expect("read")
            .map(|c| c.checkpoint.size),
        Some(6)
    );

    // A forged checkpoint and a signed one with another root.
    let forged = SignedCheckpoint::sign(
        Checkpoint::new(cl.clone(), 6, [7; 32]),
        &fed.identity("mx").log_key,
    );
    assert!(
        store
            .accept_checkpoint(&forged.to_bytes(), &fed.roster)
            .expect("io")
            .is_err()
    );
    let split = SignedCheckpoint::sign(Checkpoint::new(cl.clone(), 6, [7; 32]), &key);
    match store
        .accept_checkpoint(&split.to_bytes(), &fed.roster)
        .expect("io")
    {
        Ok(CheckpointOutcome::Inconsistent {
            size: 6,
            proof: Some(proof),
        }) => {
            assert!(matches!(proof, EquivocationProof::Checkpoints { .. }));
            proof.verify(&fed.roster).expect("verifies offline");
        }
        other => panic!("expected a proof of split view, got {other:?}"),
    }
}

#[test]
fn reopen_checks_and_refusals() {
    let fed = Fed::new(&["un1540:US"]);
    let path = Home::new(&fed.root.join("mx")).db_path();
    {
        let store = Store::open(&path).expect("opens");
        let origin = fed.origin("mx");
        publish::append_own(
            &store,
            &origin,
            Country::new("MX").expect("a country"),
            &fed.identity("mx").log_key,
            1,
            &[own(&sample_denials("MX")[0])],
        )
        .expect("append");
        store.flush_blocking().expect("flush");
        // A second open while the first is held fails clearly.
        assert!(matches!(Store::open(&path), Err(StoreError::Locked(_))));
    }
    let store = Store::open(&path).expect("reopens");
    assert_eq!(store.head(&fed.origin("mx")).expect("head").size, 1);
    drop(store);

    // A store from a newer format is refused, and left as it is.
    {
        let db = open_sled(&path).expect("raw open");
        db.open_tree("meta")
            .expect("meta")
            .insert("format", &99u32.to_be_bytes())
            .expect("write");
        db.flush().expect("flush");
    }
    assert!(matches!(
        Store::open(&path),
        Err(StoreError::NewerFormat { found: 99 })
    ));
    {
        let db = open_sled(&path).expect("raw open");
        db.open_tree("meta")
            .expect("meta")
            .insert("format", &FORMAT_VERSION.to_be_bytes())
            .expect("write");
        // Remove the last entry behind the head's back (with its page, the
        // only one): corruption on open.
        let data = db.open_tree("data").expect("data");
        data.remove(keys::entry_page_key(0, 0))
            .expect("remove")
            .expect("the page was there");
        db.flush().expect("flush");
    }
    assert!(matches!(Store::open(&path), Err(StoreError::Corrupt(m)) if m.contains("missing")));
}

#[test]
fn retention_purges_expired_payloads_and_keeps_the_log_verifiable() {
    let fed = Fed::new(&["un1540:US"]);
    let store = fed.store("mx");
    let origin = fed.origin("mx");
    let key = fed.identity("mx").log_key.clone();
    let Record::Denial(current) = sample_denials("MX")[0].clone() else {
        panic!("sample is a denial")
    };
    let mut old = serde_json::to_value(&current).expect("serialises");
    old["decision_date"] = serde_json::json!("2020-01-15");
    old["valid_until"] = serde_json::json!("2023-01-15");
    let expired =
        Record::parse(Kind::Denial, old.to_string().as_bytes()).expect("an old denial validates");
    let group = [own(&expired), own(&sample_denials("MX")[1])];
    let (_, checkpoint) = publish::append_own(
        &store,
        &origin,
        Country::new("MX").expect("a country"),
        &key,
        1,
        &group,
    )
    .expect("append");
    let checkpoint = checkpoint.expect("the group went in");
    store.flush_blocking().expect("flush");

    let today = concord_protocol::record::Date::parse("2026-11-23").expect("date");
    let found = store.expired_denials(&today, 30).expect("scan");
    assert_eq!(found, vec![(origin.clone(), vec![0])]);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    assert_eq!(
        runtime
            .block_on(store.purge_expired(&today, 30, 1_795_000_000))
            .expect("purge"),
        1
    );

    let entry = store
        .entry(&origin, 0)
        .expect("read")
        .expect("the entry stays");
    let header = entry.decode_header().expect("header");
    assert_eq!(store.payload(&header.payload.sha256.0).expect("read"), None);
    let purge = store
        .purge_record(&origin, 0)
        .expect("read")
        .expect("the purge is recorded");
    assert_eq!(purge.purged_at, 1_795_000_000);
    let other = store
        .entry(&origin, 1)
        .expect("read")
        .expect("kept")
        .decode_header()
        .expect("header");
    assert!(
        store
            .payload(&other.payload.sha256.0)
            .expect("read")
            .is_some(),
        "a valid denial keeps its payload"
    );
    let proof = store.inclusion_proof(&origin, 0, 2).expect("proof");
    merkle::verify_inclusion(
        &proof,
        2,
        &checkpoint.checkpoint.root,
        0,
        &entry.leaf_hash(),
    )
    .expect("still proves");
}

#[test]
fn a_quarantined_log_accepts_nothing_until_an_operator_clears_it() {
    let fed = Fed::new(&["un1540:US"]);
    let store = fed.store("pe");
    let cl = fed.origin("cl");
    let entries = signed_entries(&fed, "cl", 0, 3);
    store
        .ingest(
            &cl,
            entries[..1].to_vec(),
            &fed.roster,
            concord_node::clock::now(),
        )
        .expect("ingest");
    let mut conflicting = signed_entries(&fed, "cl", 0, 1);
    let header = conflicting[0].0.decode_header().expect("header");
    conflicting[0].0 = entry::sign_entry(
        &NewEntry {
            origin: &cl,
            index: 0,
            time: header.time + 1,
            kind: Kind::Denial,
            refers_to: None,
            payload: conflicting[0].1.as_deref().expect("payload"),
            visibility: Visibility::Federation,
        },
        &fed.identity("cl").log_key,
    )
    .expect("signs");
    let outcome = store
        .ingest(&cl, conflicting, &fed.roster, concord_node::clock::now())
        .expect("ingest");
    let proof = outcome.equivocations.into_iter().next().expect("a proof");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let found = runtime
        .block_on(store.record_equivocation(proof, &fed.roster, 5))
        .expect("recorded")
        .expect("the proof verifies");
    assert_eq!((&found.origin, found.position), (&cl, 0));
    assert!(store.quarantined(&cl).expect("read").is_some());

    let outcome = store
        .ingest(
            &cl,
            entries[1..].to_vec(),
            &fed.roster,
            concord_node::clock::now(),
        )
        .expect("ingest");
    assert_eq!(outcome.appended, 0);
    assert!(
        outcome
            .rejected
            .iter()
            .all(|(_, r)| matches!(r, Rejected::Ledger(LedgerError::Quarantined(_)))),
        "{outcome:?}"
    );
    let checkpoint = SignedCheckpoint::sign(
        Checkpoint::new(cl.clone(), 1, entries[0].0.leaf_hash()),
        &fed.identity("cl").log_key,
    );
    assert!(matches!(
        store
            .accept_checkpoint(&checkpoint.to_bytes(), &fed.roster)
            .expect("io"),
        Err(Rejected::Ledger(LedgerError::Quarantined(_)))
    ));

    let cleared = runtime
        .block_on(store.clear_quarantine(
            &cl,
            "Ana Pérez, operations lead",
            "members confirmed the key was stolen and rotated",
            9,
        ))
        .expect("cleared");
    assert!(cleared);
    let decisions = store.decisions().expect("read");
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0]["operator"], "Ana Pérez, operations lead");
    let outcome = store
        .ingest(
            &cl,
            entries[1..].to_vec(),
            &fed.roster,
            concord_node::clock::now(),
        )
        .expect("ingest");
    assert_eq!(outcome.appended, 2, "{outcome:?}");
    assert_eq!(
        store.evidence().expect("read").len(),
        1,
        "the evidence is kept"
    );
}

#[test]
fn screening_indexes_find_entries_by_party_country_control_entry_and_kind() {
    let fed = Fed::new(&["un1540:US"]);
    let store = fed.store("mx");
    let origin = fed.origin("mx");
    let records = sample_denials("MX");
    let group: Vec<OwnEntry> = records.iter().map(own).collect();
    publish::append_own(
        &store,
        &origin,
        Country::new("MX").expect("a country"),
        &fed.identity("mx").log_key,
        1,
        &group,
    )
    .expect("append");
    // A second group keeps postings of the first.
    publish::append_own(
        &store,
        &origin,
        Country::new("MX").expect("a country"),
        &fed.identity("mx").log_key,
        2,
        &group[..1],
    )
    .expect("append");
    let n = records.len() as u64;
    use concord_node::store::keys::IndexKind;
    let denials = store.lookup(IndexKind::Kind, "denial").expect("lookup");
    assert_eq!(denials.len() as u64, n + 1);
    for (index, record) in records.iter().enumerate() {
        let terms = record.index_terms();
        let index = index as u64;
        let name = terms.party_names.first().expect("a denial names a party");
        assert!(
            store
                .lookup(IndexKind::Party, name)
                .expect("lookup")
                .contains(&(origin.clone(), index)),
            "{name}"
        );
        let country = terms.countries.first().expect("a party has a country");
        assert!(
            store
                .lookup(IndexKind::Country, country.as_str())
                .expect("lookup")
                .contains(&(origin.clone(), index))
        );
        let control = terms
            .control_entries
            .first()
            .expect("a denial lists control entries");
        assert!(
            store
                .lookup(IndexKind::ControlEntry, control.as_str())
                .expect("lookup")
                .contains(&(origin.clone(), index))
        );
    }
    assert!(
        store
            .lookup(IndexKind::Party, "no such party")
            .expect("lookup")
            .is_empty()
    );
    let first_name = records[0].index_terms().party_names[0].clone();
    assert!(
        store
            .lookup(IndexKind::Party, &first_name)
            .expect("lookup")
            .contains(&(origin.clone(), n))
    );
}

#[test]
fn a_checkpoint_is_final_once_it_has_the_required_cosignatures() {
    let fed = Fed::new(&["un1540:US"]);
    let store = fed.store("pe");
    let cl = fed.origin("cl");
    let entries = signed_entries(&fed, "cl", 0, 2);
    store
        .ingest(
            &cl,
            entries.clone(),
            &fed.roster,
            concord_node::clock::now(),
        )
        .expect("ingest");
    let mut builder = merkle::RootBuilder::default();
    entries
        .iter()
        .for_each(|(e, _)| builder.push(e.leaf_hash()));
    let mut checkpoint = SignedCheckpoint::sign(
        Checkpoint::new(cl.clone(), 2, builder.root()),
        &fed.identity("cl").log_key,
    );
    store
        .accept_checkpoint(&checkpoint.to_bytes(), &fed.roster)
        .expect("io")
        .expect("stored");
    let seen = std::collections::HashMap::new();
    let view = |required| {
        concord_node::query::logs(&store, &fed.roster, required, &seen)
            .expect("views")
            .into_iter()
            .find(|l| l.origin == cl.as_str())
            .expect("cl's log")
    };
    assert!(!view(1).is_final, "no witness has cosigned yet");
    let witness = fed.identity("un1540");
    let line = concord_protocol::checkpoint::cosign(
        &checkpoint,
        "pacific-alliance.concord/un1540",
        &witness.log_key,
        1_795_000_000,
    );
    checkpoint.add_cosignature(line).expect("room");
    assert_eq!(
        store
            .accept_checkpoint(&checkpoint.to_bytes(), &fed.roster)
            .expect("io"),
        Ok(CheckpointOutcome::Stored {
            new_cosignatures: 1
        })
    );
    let log = view(1);
    assert!(log.is_final);
    assert_eq!(log.cosigned_by.len(), 1);
    assert_eq!(
        log.cosigned_by[0].witness,
        "pacific-alliance.concord/un1540"
    );
    assert!(!view(2).is_final, "two cosignatures were required");
}

/// Proofs read stored hashes, which the store caches; as two logs grow in
/// uneven groups, every proof still equals one computed from the
/// leaves alone, before and after the store is reopened.
#[test]
fn proofs_from_the_store_equal_proofs_from_the_leaves_as_the_log_grows() {
    let fed = Fed::new(&["un1540:US"]);
    let mut store = fed.store("mx");
    let mut logs = ["cl", "pe"].map(|id| ExpectedLog::new(&fed, id));
    for (round, group) in [37u64, 1, 90, 128, 300, 5].into_iter().enumerate() {
        for log in &mut logs {
            log.grow(&fed, &store, group);
        }
        if round == 3 {
            drop(store);
            store = fed.store("mx");
        }
        for log in &logs {
            let (origin, size) = (&log.origin, log.size);
            for old in [1, size / 3, size / 2, size - 1, size] {
                for index in [0, old / 2, old.saturating_sub(1)] {
                    log.assert_proof(&store, index, old);
                }
                assert_eq!(
                    store.consistency_proof(origin, old, size).expect("proof"),
                    merkle::consistency_proof(size, old, &log.hashes).expect("reference"),
                    "{origin}: consistency {old} -> {size}"
                );
            }
            assert_eq!(
                store.root_at(origin, size).expect("root"),
                merkle::tree_hash(size, &log.hashes).expect("root")
            );
        }
    }
}

/// A member's log as the tests compute it from its leaves: its size and
/// the hashes its entries store, what the store's proofs must equal.
struct ExpectedLog {
    id: &'static str,
    origin: Origin,
    size: u64,
    hashes: Vec<merkle::Hash>,
}

impl ExpectedLog {
    fn new(fed: &Fed, id: &'static str) -> Self {
        Self {
            id,
            origin: fed.origin(id),
            size: 0,
            hashes: Vec::new(),
        }
    }

    /// The log's next `count` entries, signed; the size and the hashes
    /// move past them.
    fn next_entries(&mut self, fed: &Fed, count: u64) -> Vec<(SignedEntry, Option<Vec<u8>>)> {
        let items = signed_entries(fed, self.id, self.size, count);
        for (entry, _) in &items {
            let new = merkle::stored_hashes_for_record(self.size, entry.leaf_hash(), &self.hashes)
                .expect("hashes");
            self.hashes.extend(new);
            self.size += 1;
        }
        items
    }

    /// Appends the log's next `count` entries to `store`.
    fn grow(&mut self, fed: &Fed, store: &Store, count: u64) {
        let items = self.next_entries(fed, count);
        let outcome = store
            .ingest(&self.origin, items, &fed.roster, concord_node::clock::now())
            .expect("ingest");
        assert_eq!(outcome.appended, count);
    }

    /// The store's inclusion proof of `index` in the first `size` entries
    /// equals the one computed from the leaves.
    fn assert_proof(&self, store: &Store, index: u64, size: u64) {
        assert_eq!(
            store
                .inclusion_proof(&self.origin, index, size)
                .expect("proof"),
            merkle::inclusion_proof(size, index, &self.hashes).expect("reference"),
            "{}: inclusion of {index} in {size}",
            self.origin
        );
    }
}

/// After reopening, the store caches a log's hashes as reads need them: a
/// proof over the first entries, then appends (which read the tree's right
/// edge), then proofs anywhere; each equals one computed from the leaves.
#[test]
fn proofs_stay_right_as_hashes_are_cached_again_after_reopening() {
    let fed = Fed::new(&["un1540:US"]);
    let origin = fed.origin("cl");
    let mut log = ExpectedLog::new(&fed, "cl");
    let store = fed.store("mx");
    log.grow(&fed, &store, 300);
    drop(store);
    let store = fed.store("mx");
    log.assert_proof(&store, 3, 7);
    log.grow(&fed, &store, 600);
    log.grow(&fed, &store, 3);
    for (index, size) in [(0, 900), (299, 901), (450, 903), (902, 903), (17, 64)] {
        log.assert_proof(&store, index, size);
    }
    log.grow(&fed, &store, 40);
    for index in [0, 500, 942] {
        log.assert_proof(&store, index, 943);
    }
    assert_eq!(
        store.root_at(&origin, 943).expect("root"),
        merkle::tree_hash(943, &log.hashes).expect("root")
    );
    // Cached whole right after opening, as a running node does.
    drop(store);
    let store = fed.store("mx");
    store.cache_hashes().expect("cache");
    for (index, size) in [(0, 943), (942, 943), (600, 701)] {
        log.assert_proof(&store, index, size);
    }
}

/// Filling a log's cached hashes reads sled without the cache's lock, so
/// appends go on meanwhile and offer their hashes as the fill runs; in
/// whatever order the two meet, every proof equals the one computed from
/// the leaves.
#[test]
fn proofs_stay_right_while_hashes_are_cached_beside_appends() {
    let fed = Fed::new(&["un1540:US"]);
    let origin = fed.origin("cl");
    let mut log = ExpectedLog::new(&fed, "cl");
    let store = fed.store("mx");
    log.grow(&fed, &store, 2000);
    drop(store);
    let before = log.size;
    let calls: Vec<_> = (0..10).map(|_| log.next_entries(&fed, 100)).collect();
    let store = fed.store("mx");
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for items in calls {
                let outcome = store
                    .ingest(&origin, items, &fed.roster, concord_node::clock::now())
                    .expect("ingest");
                assert_eq!(outcome.appended, 100);
            }
        });
        for round in 0..200 {
            let index = round * 37 % before;
            log.assert_proof(&store, index, before);
        }
    });
    for index in [0, before - 1, before, log.size - 1] {
        log.assert_proof(&store, index, log.size);
    }
}

/// Entries lost below the head (a page of them) are corruption that opening
/// does not see (it checks each log's tail). The cached hashes stop short of
/// them: a proof that needs their hashes fails, and one that does not still
/// equals the proof computed from the leaves, never one built from hashes
/// cached out of place.
#[test]
fn lost_entries_below_the_head_fail_only_the_proofs_that_need_them() {
    let fed = Fed::new(&["un1540:US"]);
    let origin = fed.origin("cl");
    let mut log = ExpectedLog::new(&fed, "cl");
    let store = fed.store("mx");
    log.grow(&fed, &store, 100);
    drop(store);
    let db = common::raw_sled(&Home::new(&fed.root.join("mx")).db_path());
    let data = db.open_tree("data").expect("data");
    // cl's log is the only one, id 0; page 2 holds entries 32 to 47.
    data.remove(keys::entry_page_key(0, 2))
        .expect("remove")
        .expect("the page was there");
    db.flush().expect("flush");
    drop((data, db));

    let store = fed.store("mx");
    log.assert_proof(&store, 90, 100);
    assert!(
        store.inclusion_proof(&origin, 41, 100).is_err(),
        "the proof of 41 needs the lost entries' leaf hashes"
    );
}

/// A long run goes in slice by slice; a bad entry deep in it keeps
/// everything before it, reports itself, and drops what follows until it
/// is sent again.
#[test]
fn a_bad_entry_deep_in_a_long_run_keeps_what_came_before_it() {
    let fed = Fed::new(&["un1540:US"]);
    let store = fed.store("pe");
    let cl = fed.origin("cl");
    let good = signed_entries(&fed, "cl", 0, 1_000);
    for (bad_index, damage) in [(700usize, "signature"), (900, "payload")] {
        let start = store.head(&cl).expect("head").size as usize;
        let mut items = good[start..].to_vec();
        let bad = &mut items[bad_index - start];
        match damage {
            "signature" => bad.0.signature[10] ^= 0x01,
            // The next entry's payload: another sample record.
            _ => bad.1 = good[bad_index + 1].1.clone(),
        }
        let outcome = store
            .ingest(&cl, items, &fed.roster, concord_node::clock::now())
            .expect("ingest");
        assert_eq!(outcome.appended, (bad_index - start) as u64, "{damage}");
        assert_eq!(outcome.rejected.len(), 1, "{outcome:?}");
        assert_eq!(outcome.rejected[0].0, bad_index as u64, "{outcome:?}");
        let head = store.head(&cl).expect("head");
        assert_eq!(head.size, bad_index as u64);
        assert_eq!(head.root, root_of(&good[..bad_index]), "{damage}");
    }
    let outcome = store
        .ingest(
            &cl,
            good[900..].to_vec(),
            &fed.roster,
            concord_node::clock::now(),
        )
        .expect("ingest");
    assert_eq!((outcome.appended, outcome.rejected.len()), (100, 0));
}

/// Entries in order from the head go straight in; from the first that is
/// not the log's next one on, the call is sorted: a replay, an entry of
/// another log and entries past a gap each take their own path, and the
/// entries that continue the log after them still go in.
#[test]
fn a_call_in_order_up_to_a_point_is_sorted_from_there() {
    let fed = Fed::new(&["un1540:US"]);
    let store = fed.store("pe");
    let cl = fed.origin("cl");
    let good = signed_entries(&fed, "cl", 0, 1_200);
    let outcome = store
        .ingest(
            &cl,
            good[..100].to_vec(),
            &fed.roster,
            concord_node::clock::now(),
        )
        .expect("ingest");
    assert_eq!(outcome.appended, 100);

    let mut items = good[100..700].to_vec();
    items.push(good[50].clone());
    items.push(signed_entries(&fed, "mx", 0, 1).remove(0));
    items.extend_from_slice(&good[700..1_000]);
    items.extend_from_slice(&good[1_100..]);
    let outcome = store
        .ingest(&cl, items, &fed.roster, concord_node::clock::now())
        .expect("ingest");
    assert_eq!(
        (outcome.appended, outcome.duplicates, outcome.held),
        (900, 1, 100),
        "{outcome:?}"
    );
    assert!(
        matches!(
            outcome.rejected[..],
            [(0, Rejected::Ledger(LedgerError::WrongLog { .. }))]
        ),
        "{outcome:?}"
    );
    let head = store.head(&cl).expect("head");
    assert_eq!((head.size, head.root), (1_000, root_of(&good[..1_000])));

    // The gap fills, and what was held behind it follows.
    let outcome = store
        .ingest(
            &cl,
            good[1_000..1_100].to_vec(),
            &fed.roster,
            concord_node::clock::now(),
        )
        .expect("ingest");
    assert_eq!((outcome.appended, outcome.held), (200, 0), "{outcome:?}");
    assert_eq!(store.head(&cl).expect("head").size, 1_200);
}

/// What sync still lacks of a log, up to a limit: every index neither
/// stored nor held ahead of a gap, as ranges in order.
#[test]
fn what_sync_lacks_is_neither_stored_nor_held() {
    let fed = Fed::new(&["un1540:US"]);
    let store = fed.store("pe");
    let cl = fed.origin("cl");
    // As (start, end) pairs: what sync would ask for.
    let missing = |limit| -> Vec<(u64, u64)> {
        let ranges = store.missing(&cl, limit).expect("missing");
        ranges.into_iter().map(|r| (r.start, r.end)).collect()
    };
    assert_eq!(missing(0), []);
    assert_eq!(
        missing(100),
        [(0, 100)],
        "a log never seen lacks everything"
    );

    let good = signed_entries(&fed, "cl", 0, 40);
    let ingest = |items: Vec<_>| {
        store
            .ingest(&cl, items, &fed.roster, concord_node::clock::now())
            .expect("ingest")
    };
    ingest(good[..10].to_vec());
    let mut held = good[20..25].to_vec();
    held.push(good[30].clone());
    assert_eq!(ingest(held).held, 6);
    assert_eq!(missing(40), [(10, 20), (25, 30), (31, 40)]);
    assert_eq!(missing(22), [(10, 20)], "nothing at or past the limit");
    assert_eq!(missing(31), [(10, 20), (25, 30)]);
    assert_eq!(missing(5), [], "a limit below the head lacks nothing");

    // The gap fills, and what was held behind it follows.
    assert_eq!(ingest(good[10..20].to_vec()).appended, 15);
    assert_eq!(missing(40), [(25, 30), (31, 40)]);
}

/// A checkpoint target reached in the middle of a long run: commit groups
/// (at least 2,048 entries each) sealed before the one that reaches it go
/// in whatever happens; the group that reaches it goes in only if the
/// entries give the signed root, and then the checkpoint is stored with it.
#[test]
fn a_target_deep_in_a_long_run_decides_the_group_that_reaches_it() {
    let fed = Fed::new(&["un1540:US"]);
    let cl = fed.origin("cl");
    let key = fed.identity("cl").log_key.clone();
    let entries = signed_entries(&fed, "cl", 0, 5_000);
    let root_with = |n: usize, replace: Option<usize>| {
        let mut b = merkle::RootBuilder::default();
        for (i, (e, _)) in entries[..n].iter().enumerate() {
            b.push(if replace == Some(i) {
                [7u8; 32]
            } else {
                e.leaf_hash()
            });
        }
        b.root()
    };
    for (id, forked) in [("pe", true), ("mx", false)] {
        let store = fed.store(id);
        let root = root_with(4_500, forked.then_some(4_400));
        let target = SignedCheckpoint::sign(Checkpoint::new(cl.clone(), 4_500, root), &key);
        assert_eq!(
            store
                .accept_checkpoint(&target.to_bytes(), &fed.roster)
                .expect("io"),
            Ok(CheckpointOutcome::Ahead {
                have: 0,
                want: 4_500
            })
        );
        let outcome = store
            .ingest(
                &cl,
                entries.clone(),
                &fed.roster,
                concord_node::clock::now(),
            )
            .expect("ingest");
        let head = store.head(&cl).expect("head");
        if forked {
            assert!(
                matches!(
                    outcome.rejected[..],
                    [(_, Rejected::CheckpointMismatch { size: 4_500, .. })]
                ),
                "{outcome:?}"
            );
            // At least the first group went in, and none that holds 4,500.
            assert!((2_048..4_500).contains(&head.size), "{head:?}");
            assert_eq!(outcome.appended, head.size);
            assert_eq!(head.root, root_with(head.size as usize, None));
        } else {
            assert_eq!((outcome.appended, outcome.rejected.len()), (5_000, 0));
            assert_eq!(head.size, 5_000);
            let stored = store.checkpoint(&cl).expect("read").expect("stored");
            assert_eq!(stored.checkpoint.size, 4_500);
        }
    }
}

/// Appends to different logs do not wait for each other: a publish to the
/// own log goes in while a long replica ingest is still under way.
#[test]
fn publishing_to_the_own_log_does_not_wait_for_a_replica_ingest() {
    let fed = Fed::new(&["un1540:US"]);
    let store = fed.store("mx");
    let (cl, mx) = (fed.origin("cl"), fed.origin("mx"));
    let n = 20_000;
    let items = signed_entries(&fed, "cl", 0, n);
    let record = &sample_denials("MX")[0];
    std::thread::scope(|scope| {
        let (store, roster, cl) = (&store, &fed.roster, &cl);
        let ingest = scope.spawn(move || {
            store
                .ingest(cl, items, roster, concord_node::clock::now())
                .expect("ingest")
        });
        // The first slice of the run shows in the head well before the last.
        while store.head(cl).expect("head").size == 0 {
            assert!(!ingest.is_finished(), "the ingest ended without appending");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let (outcomes, _) = publish::append_own(
            store,
            &mx,
            Country::new("MX").expect("a country"),
            &fed.identity("mx").log_key,
            1_763_935_200,
            &[own(record)],
        )
        .expect("append");
        assert!(outcomes[0].is_ok(), "{outcomes:?}");
        let during = store.head(cl).expect("head").size;
        assert!(
            during < n,
            "the publish waited for the whole ingest ({during} of {n} entries were in)"
        );
        assert_eq!(ingest.join().expect("ingest").appended, n);
    });
    assert_eq!(store.head(&mx).expect("head").size, 1);
}

/// A store of format 1 (one key per entry and per denial status) is
/// upgraded on open: every entry, status, root and proof is as before, and
/// appends go on. An upgrade cut short resumes; one that meets an entry
/// missing inside a page stops with an error and loses no entry.
#[test]
fn a_format_1_store_is_upgraded_on_open_and_loses_nothing() {
    let fed = Fed::new(&["un1540:US"]);
    let origin = fed.origin("cl");
    let mut log = ExpectedLog::new(&fed, "cl");
    let store = fed.store("mx");
    log.grow(&fed, &store, 100);
    let entries = store.entries(&origin, 0, 100).expect("entries");
    // The own log: denials 0 and 2; 1 amends 0 and 3 revokes it, and have
    // no status of their own.
    let own_log = fed.origin("mx");
    let key = fed.identity("mx").log_key.clone();
    let records = sample_denials("MX");
    let (amend, revoke) = amend_and_revoke(&records[0]);
    let refer = |record: Record| OwnEntry {
        refers_to: Some(0),
        ..own(&record)
    };
    let group = [
        own(&records[0]),
        refer(amend),
        own(&records[1]),
        refer(revoke),
    ];
    let (outcomes, _) = publish::append_own(
        &store,
        &own_log,
        Country::new("MX").expect("a country"),
        &key,
        1,
        &group,
    )
    .expect("append");
    assert!(outcomes.iter().all(Result::is_ok));
    let statuses = |store: &Store| {
        let own = (0..4).map(|i| store.denial_status(&own_log, i).expect("status"));
        let replica = [0, 41, 99].map(|i| store.denial_status(&origin, i).expect("status"));
        own.chain(replica).collect::<Vec<_>>()
    };
    let before = statuses(&store);
    assert_eq!(before.iter().filter(|s| s.is_none()).count(), 2);
    drop(store);
    let path = Home::new(&fed.root.join("mx")).db_path();
    let legacy_keys = |path: &Path| {
        let db = common::raw_sled(path);
        let data = db.open_tree("data").expect("data");
        (
            data.scan_prefix(b"E").count(),
            data.scan_prefix(b"T").count(),
        )
    };

    // All of it, then cut short after two pages.
    for first_page in [0, 2] {
        common::to_format_1(&path, first_page);
        let store = fed.store("mx");
        assert_eq!(store.entries(&origin, 0, 100).expect("entries"), entries);
        assert_eq!(statuses(&store), before);
        log.assert_proof(&store, 41, log.size);
        log.grow(&fed, &store, 5);
        assert_eq!(
            store.head(&origin).expect("head").root,
            merkle::tree_hash(log.size, &log.hashes).expect("root")
        );
        drop(store);
        assert_eq!(legacy_keys(&path), (0, 0));
    }

    common::to_format_1(&path, 2);
    {
        let db = common::raw_sled(&path);
        let mut lost = b"E".to_vec();
        lost.extend_from_slice(&0u32.to_be_bytes());
        lost.extend_from_slice(&40u64.to_be_bytes());
        db.open_tree("data")
            .expect("data")
            .remove(lost)
            .expect("remove")
            .expect("entry 40 was there");
        db.flush().expect("flush");
    }
    match Store::open(&path) {
        Err(StoreError::Corrupt(m)) => assert!(m.contains("cannot be upgraded"), "{m}"),
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("a store with a hole inside a page opened"),
    }
    assert_eq!(legacy_keys(&path).0, log.size as usize - 32 - 1);
}

/// A payload that came ahead of a gap (a gossiped entry held until the log
/// reaches it) is kept when the log reaches that index by entries without
/// payloads (a range from a peer that holds none); a payload that comes
/// later still gives its denial its validity and posts its terms; and the
/// payloads still missing are the ones listed.
#[test]
fn payloads_that_come_before_or_after_their_headers_are_kept_with_what_they_index() {
    let fed = Fed::new(&["un1540:US"]);
    let store = fed.store("pe");
    let cl = fed.origin("cl");
    let entries = signed_entries(&fed, "cl", 0, 2);
    let headers_only: Vec<_> = entries.iter().map(|(e, _)| (e.clone(), None)).collect();
    let now = concord_node::clock::now();
    let outcome = store
        .ingest(&cl, vec![entries[1].clone()], &fed.roster, now)
        .expect("ingest");
    assert_eq!(outcome.held, 1, "{outcome:?}");
    let outcome = store
        .ingest(&cl, headers_only, &fed.roster, now)
        .expect("ingest");
    assert_eq!(outcome.appended, 2, "{outcome:?}");
    let record = |index: usize| {
        let payload = entries[index].1.as_deref().expect("a payload");
        Record::parse(Kind::Denial, payload).expect("valid")
    };
    let digest = |index: usize| {
        entries[index]
            .0
            .decode_header()
            .expect("header")
            .payload
            .sha256
            .0
    };
    let valid_until = |index: u64| {
        store
            .denial_status(&cl, index)
            .expect("read")
            .expect("a denial")
            .valid_until
    };
    assert!(store.holds_payload(&digest(1)).expect("read"), "held ahead");
    let until = |index: usize| {
        record(index)
            .index_terms()
            .valid_until
            .map(|d| d.to_string())
    };
    assert_eq!(valid_until(1), until(1));
    assert_eq!(valid_until(0), None, "entry 0 came without its payload");

    store
        .mark_missing_payloads(&cl, |_| true)
        .expect("mark missing");
    let missing = store.missing_payloads(&cl, 16).expect("read");
    assert_eq!(
        missing.iter().map(|h| h.index).collect::<Vec<_>>(),
        [0],
        "only entry 0 lacks its payload"
    );

    let outcome = store
        .ingest(&cl, vec![entries[0].clone()], &fed.roster, now)
        .expect("ingest");
    assert_eq!(outcome.payloads_filled, 1, "{outcome:?}");
    assert!(store.holds_payload(&digest(0)).expect("read"));
    assert_eq!(valid_until(0), until(0));
    let terms = record(0).index_terms();
    let country = terms.countries.first().expect("a party country");
    assert!(
        store
            .lookup(keys::IndexKind::Country, country.as_str())
            .expect("read")
            .contains(&(cl.clone(), 0)),
        "entry 0 is posted under its record's terms"
    );
    assert!(store.missing_payloads(&cl, 16).expect("read").is_empty());

    // Two entries committing to the same bytes, both come without them:
    // the one the bytes did not come with still lacks its record, and
    // takes it when they come for it.
    let key = fed.identity("cl").log_key.clone();
    let payload = sample_denials("CL")[5].to_canonical_bytes();
    let twins: Vec<_> = [2, 3]
        .into_iter()
        .map(|index| common::signed_denial(&cl, &key, index, &payload))
        .collect();
    let outcome = store
        .ingest(
            &cl,
            twins.iter().map(|e| (e.clone(), None)).collect(),
            &fed.roster,
            now,
        )
        .expect("ingest");
    assert_eq!(outcome.appended, 2, "{outcome:?}");
    store
        .mark_missing_payloads(&cl, |_| true)
        .expect("mark missing");
    assert_eq!(store.missing_payload_count(&cl).expect("read"), 2);
    let twin_until = || {
        Record::parse(Kind::Denial, &payload)
            .expect("valid")
            .index_terms()
    };
    for (twin, left) in [(0, 1), (1, 0)] {
        let outcome = store
            .ingest(
                &cl,
                vec![(twins[twin].clone(), Some(payload.clone()))],
                &fed.roster,
                now,
            )
            .expect("ingest");
        assert_eq!(outcome.payloads_filled, 1, "twin {twin}: {outcome:?}");
        assert_eq!(store.missing_payload_count(&cl).expect("read"), left);
        assert_eq!(
            valid_until(2 + twin as u64),
            twin_until().valid_until.map(|d| d.to_string())
        );
    }
}
