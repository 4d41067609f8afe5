//! Hostile input against every decoder a peer or a file can reach: random
//! bytes, and valid encodings with bytes flipped, cut, inserted or removed.
//! Each must end in a value or an error, never a panic; and no change to a
//! signed encoding may yield something that still verifies but says other
//! than what was signed.

use concord_protocol::checkpoint::{Checkpoint, SignedCheckpoint};
use concord_protocol::entry::{self, NewEntry, SignedEntry, Visibility, WireEntry};
use concord_protocol::equivocation::{EquivocationProof, KeyLookup, KeyRefusal};
use concord_protocol::merkle;
use concord_protocol::note::NoteVerifier;
use concord_protocol::origin::Origin;
use concord_protocol::record::{Country, Kind, Record};
use concord_protocol::wire::{
    self, Gossip, MAX_GOSSIP_BYTES, MAX_PROOFS, MAX_SYNC_REQUEST_BYTES, MAX_SYNC_RESPONSE_BYTES,
    SyncRequest, SyncResponse,
};
use ed25519_dalek::{SigningKey, VerifyingKey};
use proptest::prelude::*;

const ORIGIN: &str = "pacific-alliance.concord/pe";

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

fn origin() -> Origin {
    Origin::new(ORIGIN).expect("valid origin")
}

/// One key for one log, as a roster with a single member would answer.
struct OneLog(VerifyingKey);

impl KeyLookup for OneLog {
    fn entry_key(&self, origin: &Origin, _index: u64) -> Result<VerifyingKey, KeyRefusal> {
        if origin.as_str() == ORIGIN {
            Ok(self.0)
        } else {
            Err(KeyRefusal::UnknownOrigin(origin.clone()))
        }
    }

    fn member_country(&self, origin: &Origin) -> Result<Country, KeyRefusal> {
        if origin.as_str() == ORIGIN {
            Ok(Country::new("PE").expect("a country"))
        } else {
            Err(KeyRefusal::UnknownOrigin(origin.clone()))
        }
    }

    fn checkpoint_verifiers(&self, origin: &Origin) -> Vec<NoteVerifier> {
        NoteVerifier::new(origin.as_str(), self.0)
            .into_iter()
            .collect()
    }

    fn witnesses(&self, _log: &Origin) -> Vec<concord_protocol::checkpoint::CosignatureVerifier> {
        Vec::new()
    }
}

fn notice_payload() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/records/notices/br-2025-santos-seizure.json"
    );
    std::fs::read(path).expect("a sample notice")
}

fn signed_entry(index: u64) -> (SignedEntry, Vec<u8>) {
    let payload = notice_payload();
    let origin = origin();
    let new = NewEntry {
        origin: &origin,
        index,
        time: 1_763_935_200 + index,
        kind: Kind::Notice,
        refers_to: None,
        payload: &payload,
        visibility: Visibility::Federation,
    };
    (entry::sign_entry(&new, &key()).expect("signs"), payload)
}

fn signed_checkpoint(size: u64, salt: u8) -> SignedCheckpoint {
    SignedCheckpoint::sign(Checkpoint::new(origin(), size, [salt; 32]), &key())
}

/// What a mutation does to a valid encoding.
#[derive(Debug, Clone)]
enum Mutation {
    Set { at: usize, byte: u8 },
    Cut { at: usize },
    Insert { at: usize, byte: u8 },
    Remove { at: usize },
}

/// Mostly printable ASCII, so that damaged JSON and note text often still
/// parse and the damage reaches the checks behind the parser.
fn byte() -> impl Strategy<Value = u8> {
    prop_oneof![3 => 0x20u8..0x7f, 1 => any::<u8>()]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), byte()).prop_map(|(at, byte)| Mutation::Set { at, byte }),
        1 => any::<usize>().prop_map(|at| Mutation::Cut { at }),
        2 => (any::<usize>(), byte()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        2 => any::<usize>().prop_map(|at| Mutation::Remove { at }),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        if bytes.is_empty() {
            break;
        }
        let len = bytes.len();
        match *m {
            Mutation::Set { at, byte } => bytes[at % len] = byte,
            Mutation::Cut { at } => bytes.truncate(at % len),
            Mutation::Insert { at, byte } => bytes.insert(at % (len + 1), byte),
            Mutation::Remove { at } => {
                bytes.remove(at % len);
            }
        }
    }
    bytes
}

fn messages() -> Vec<Vec<u8>> {
    let (entry, payload) = signed_entry(3);
    let (other, _) = signed_entry(4);
    let checkpoint = signed_checkpoint(5, 1);
    let note = String::from_utf8(checkpoint.to_bytes()).expect("a note is UTF-8");
    let proof = EquivocationProof::Checkpoints {
        a: note.clone(),
        b: String::from_utf8(signed_checkpoint(5, 2).to_bytes()).expect("UTF-8"),
    };
    vec![
        wire::encode(&Gossip::Entry {
            entry: entry.to_wire(Some(&payload)),
        }),
        wire::encode(&Gossip::Checkpoint { note: note.clone() }),
        wire::encode(&Gossip::Equivocation {
            proof: proof.clone(),
        }),
        wire::encode(&SyncRequest::Entries {
            origin: origin(),
            start: 0,
            end: 16,
        }),
        wire::encode(&SyncRequest::Checkpoints),
        wire::encode(&SyncRequest::Equivocations),
        wire::encode(&SyncResponse::Equivocations {
            proofs: vec![proof],
        }),
        wire::encode(&SyncResponse::Checkpoints { notes: vec![note] }),
        wire::encode(&SyncResponse::Entries {
            origin: origin(),
            start: 3,
            entries: vec![entry.to_wire(Some(&payload)), other.to_wire(None)],
        }),
        wire::encode(&SyncResponse::Refused {
            reason: "busy".into(),
        }),
    ]
}

/// Decodes `bytes` as each message type a peer may send, and follows every
/// entry and note it carries through its decoders, as a node would.
fn decode_everything(bytes: &[u8]) {
    let lookup = OneLog(key().verifying_key());
    if let Ok(gossip) = wire::decode::<Gossip>(bytes, MAX_GOSSIP_BYTES) {
        match gossip {
            Gossip::Entry { entry } => follow_entry(&entry, &lookup),
            Gossip::Checkpoint { note } => follow_note(note.as_bytes(), &lookup),
            Gossip::Equivocation { proof } => {
                let _ = proof.verify(&lookup);
            }
        }
    }
    if let Ok(request) = wire::decode::<SyncRequest>(bytes, MAX_SYNC_REQUEST_BYTES) {
        let _ = request.check();
    }
    if let Ok(response) = wire::decode::<SyncResponse>(bytes, MAX_GOSSIP_BYTES)
        && response.check().is_ok()
    {
        match response {
            SyncResponse::Checkpoints { notes } => {
                for note in notes {
                    follow_note(note.as_bytes(), &lookup);
                }
            }
            SyncResponse::Entries { entries, .. } => {
                for entry in &entries {
                    follow_entry(entry, &lookup);
                }
            }
            SyncResponse::Equivocations { proofs } => {
                for proof in proofs {
                    let _ = proof.verify(&lookup);
                }
            }
            SyncResponse::Refused { .. } => {}
        }
    }
}

fn follow_entry(wire: &WireEntry, lookup: &OneLog) {
    let Ok((signed, payload)) = wire.decode() else {
        return;
    };
    let Ok(header) = signed.decode_header() else {
        return;
    };
    let _ = header.check();
    let _ = signed.leaf_hash();
    if let Ok(key) = lookup.entry_key(&header.origin, header.index) {
        let _ = signed.verify(&key);
        let _ = entry::verify_batch(&[(&signed, &header, key)]);
    }
    if let Some(payload) = payload {
        let _ = header.check_payload(&payload);
        let _ = Record::parse(header.kind, &payload);
    }
}

fn follow_note(bytes: &[u8], lookup: &OneLog) {
    if let Ok(checkpoint) = SignedCheckpoint::parse(bytes) {
        let verifiers = lookup.checkpoint_verifiers(&checkpoint.checkpoint.origin);
        let _ = checkpoint.verify(&origin(), &verifiers);
        let _ = checkpoint.to_bytes();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic_a_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        decode_everything(&bytes);
        follow_note(&bytes, &OneLog(key().verifying_key()));
        for kind in [Kind::Denial, Kind::DenialAmend, Kind::DenialRevoke, Kind::Notice] {
            let _ = Record::parse(kind, &bytes);
        }
        let _ = SignedEntry::from_parts(bytes.clone(), &bytes).map(|e| e.decode_header());
    }

    #[test]
    fn damaged_messages_never_panic_a_decoder(
        which in any::<prop::sample::Index>(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let messages = messages();
        let message = messages[which.index(messages.len())].clone();
        decode_everything(&mutate(message, &mutations));
    }

    /// A damaged wire entry either fails to decode or verify, or still
    /// carries the very header and signature that were signed (the damage
    /// fell on JSON whitespace or on base64 padding bits that decode alike).
    #[test]
    fn a_damaged_entry_that_verifies_is_the_signed_one(
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let (signed, payload) = signed_entry(9);
        let bytes = serde_json::to_vec(&signed.to_wire(Some(&payload))).expect("encodes");
        let damaged = mutate(bytes, &mutations);
        let Ok(wire) = serde_json::from_slice::<WireEntry>(&damaged) else {
            return Ok(());
        };
        let Ok((decoded, decoded_payload)) = wire.decode() else {
            return Ok(());
        };
        if decoded.verify(&key().verifying_key()).is_ok() {
            prop_assert_eq!(&decoded.header_bytes, &signed.header_bytes);
            prop_assert_eq!(decoded.leaf_hash(), signed.leaf_hash());
            let header = decoded.decode_header().expect("it verified");
            if let Some(p) = decoded_payload
                && header.check_payload(&p).is_ok()
            {
                prop_assert_eq!(p, payload);
            }
        }
    }

    /// The same for a checkpoint note: whatever still verifies states the
    /// signed origin, size and root.
    #[test]
    fn a_damaged_checkpoint_that_verifies_states_what_was_signed(
        size in 0u64..1_000_000,
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let signed = signed_checkpoint(size, 3);
        let damaged = mutate(signed.to_bytes(), &mutations);
        let Ok(parsed) = SignedCheckpoint::parse(&damaged) else {
            return Ok(());
        };
        let verifiers = OneLog(key().verifying_key()).checkpoint_verifiers(&origin());
        if parsed.verify(&origin(), &verifiers).is_ok() {
            prop_assert_eq!(parsed.checkpoint, signed.checkpoint);
        }
    }

    /// Proof checks take any sizes, indexes and hashes a peer may send and
    /// answer with an error, never a panic or an overflow. (That a valid
    /// proof with any hash changed fails is `tests/merkle.rs`'s.)
    #[test]
    fn proofs_with_any_sizes_and_indexes_are_answered(
        size in any::<u64>(),
        index in any::<u64>(),
        near_end in 0u64..70,
        proof in proptest::collection::vec(any::<[u8; 32]>(), 0..70),
        root in any::<[u8; 32]>(),
        leaf in any::<[u8; 32]>(),
    ) {
        for (size, index) in [(size, index), (u64::MAX - near_end, u64::MAX - near_end / 2), (size, size / 2)] {
            let _ = merkle::verify_inclusion(&proof, size, &root, index, &leaf);
            let _ = merkle::verify_consistency(&proof, size, &root, index, &leaf);
            let _ = merkle::verify_consistency(&proof, index, &root, size, &leaf);
        }
    }
}

#[test]
fn oversized_messages_are_refused_before_they_are_parsed() {
    let big = vec![b' '; MAX_GOSSIP_BYTES + 1];
    assert!(matches!(
        wire::decode::<Gossip>(&big, MAX_GOSSIP_BYTES),
        Err(wire::WireError::TooLarge { .. })
    ));
    let request = vec![b' '; MAX_SYNC_REQUEST_BYTES + 1];
    assert!(matches!(
        wire::decode::<SyncRequest>(&request, MAX_SYNC_REQUEST_BYTES),
        Err(wire::WireError::TooLarge { .. })
    ));
}

#[test]
fn an_equivocations_answer_is_bounded() {
    let note = String::from_utf8(signed_checkpoint(5, 1).to_bytes()).expect("UTF-8");
    let proof = EquivocationProof::Checkpoints {
        a: note,
        b: String::from_utf8(signed_checkpoint(5, 2).to_bytes()).expect("UTF-8"),
    };
    let answer = |n_proofs: usize| {
        let bytes = wire::encode(&SyncResponse::Equivocations {
            proofs: vec![proof.clone(); n_proofs],
        });
        wire::decode::<SyncResponse>(&bytes, MAX_SYNC_RESPONSE_BYTES).expect("decodes")
    };
    assert_eq!(answer(0).check(), Ok(()));
    assert_eq!(answer(MAX_PROOFS).check(), Ok(()));
    assert_eq!(
        answer(MAX_PROOFS + 1).check(),
        Err(wire::WireError::TooManyProofs {
            n_proofs: MAX_PROOFS + 1
        })
    );
    // An answer longer than the response bound is refused unread.
    let big = vec![b' '; MAX_SYNC_RESPONSE_BYTES + 1];
    assert!(matches!(
        wire::decode::<SyncResponse>(&big, MAX_SYNC_RESPONSE_BYTES),
        Err(wire::WireError::TooLarge { .. })
    ));
    // A kind this node does not know is no request: the serving node
    // cannot decode it and answers nothing.
    assert!(matches!(
        wire::decode::<SyncRequest>(br#"{"type":"equivocation"}"#, MAX_SYNC_REQUEST_BYTES),
        Err(wire::WireError::Malformed(_))
    ));
}

/// Texts that decode to `text`'s bytes under a lenient decoder but are not
/// canonical base64: a line break inside (Go's `encoding/base64` skips it),
/// and, when `text` is padded, the padding dropped and the last
/// character's padding bits set.
fn non_canonical(text: &str) -> Vec<String> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let middle = text.len() / 2;
    let mut variants = vec![format!("{}\n{}", &text[..middle], &text[middle..])];
    let data = text.trim_end_matches('=');
    if let Some(&last) = data.as_bytes().last()
        && data.len() < text.len()
    {
        variants.push(data.to_owned());
        let value = ALPHABET
            .iter()
            .position(|&c| c == last)
            .expect("a base64 character");
        // Padded text ends in 2 or 4 padding bits; the lowest is one.
        let changed = char::from(ALPHABET[value ^ 1]);
        variants.push(format!(
            "{}{changed}{}",
            &data[..data.len() - 1],
            &text[data.len()..]
        ));
    }
    variants
}

#[test]
fn non_canonical_base64_is_refused_in_every_field_of_an_entry() {
    let (signed, payload) = signed_entry(0);
    let wire = signed.to_wire(Some(&payload));
    assert!(wire.decode().is_ok());
    let padded = |field: &str| field.ends_with('=');
    assert!(padded(&wire.signature), "64 bytes always end in padding");
    for field in ["header", "signature", "payload"] {
        let text = match field {
            "header" => &wire.header,
            "signature" => &wire.signature,
            _ => wire.payload.as_ref().expect("a payload"),
        };
        for variant in non_canonical(text) {
            let mut changed = wire.clone();
            match field {
                "header" => changed.header = variant.clone(),
                "signature" => changed.signature = variant.clone(),
                _ => changed.payload = Some(variant.clone()),
            }
            assert!(
                matches!(changed.decode(), Err(entry::EntryError::Base64(f)) if f == field),
                "{field} {variant:?}: {:?}",
                changed.decode()
            );
        }
    }
}

#[test]
fn non_canonical_base64_is_refused_in_a_checkpoint_root_and_signature() {
    let signed = signed_checkpoint(7, 1);
    let text = String::from_utf8(signed.to_bytes()).expect("utf-8");
    assert!(SignedCheckpoint::parse(text.as_bytes()).is_ok());
    let lines: Vec<&str> = text.lines().collect();
    let root = lines[2];
    let signature = lines.last().expect("a signature line");
    let (prefix, signature_b64) = signature.rsplit_once(' ').expect("name and signature");
    assert!(root.ends_with('=') && signature_b64.ends_with('='));
    for variant in non_canonical(root) {
        let changed = text.replacen(root, &variant, 1);
        assert!(
            SignedCheckpoint::parse(changed.as_bytes()).is_err(),
            "{changed}"
        );
    }
    for variant in non_canonical(signature_b64) {
        let changed = text.replacen(signature, &format!("{prefix} {variant}"), 1);
        assert!(
            SignedCheckpoint::parse(changed.as_bytes()).is_err(),
            "{changed}"
        );
    }
}

/// An entries proof holds headers only (PROTOCOL.md §6): a payload beside
/// either header, however valid, refuses the proof rather than riding
/// along unchecked.
#[test]
fn an_entries_proof_that_carries_a_payload_is_refused() {
    let (first, payload) = signed_entry(2);
    let origin = origin();
    let second = entry::sign_entry(
        &NewEntry {
            origin: &origin,
            index: 2,
            time: 1_763_935_999,
            kind: Kind::Notice,
            refers_to: None,
            payload: &payload,
            visibility: Visibility::Federation,
        },
        &key(),
    )
    .expect("signs");
    let lookup = OneLog(key().verifying_key());
    let proof = |a: Option<&[u8]>, b: Option<&[u8]>| EquivocationProof::Entries {
        a: first.to_wire(a),
        b: second.to_wire(b),
    };
    assert!(proof(None, None).verify(&lookup).is_ok());
    assert_eq!(
        proof(Some(&payload), None).verify(&lookup),
        Err(concord_protocol::equivocation::ProofError::Payload("a"))
    );
    assert_eq!(
        proof(None, Some(&payload)).verify(&lookup),
        Err(concord_protocol::equivocation::ProofError::Payload("b"))
    );
}
