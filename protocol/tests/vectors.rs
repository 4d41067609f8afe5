//! The test vectors of PROTOCOL.md (`tests/data/vectors.json`), recomputed.
//! Ed25519 is deterministic, so every signature is fixed by its seed.

mod common;

use base64::Engine as _;
use concord_protocol::canonical;
use concord_protocol::checkpoint::{Checkpoint, CosignatureVerifier, SignedCheckpoint, cosign};
use concord_protocol::entry::{
    Digest256, ENTRY_SIGNATURE_DOMAIN, NewEntry, SignedEntry, Visibility, sign_entry,
};
use concord_protocol::merkle::{self, Hash};
use concord_protocol::note::NoteVerifier;
use concord_protocol::origin::Origin;
use concord_protocol::proof::Proof;
use concord_protocol::record::Kind;
use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::CompressedEdwardsY;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity as _;
use ed25519_dalek::SigningKey;

use common::{add_le, sign_with_r};

fn vectors() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/vectors.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("vectors file"))
        .expect("vectors parse")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn seed(v: &serde_json::Value) -> SigningKey {
    SigningKey::from_bytes(
        &unhex(v.as_str().expect("seed"))
            .try_into()
            .expect("32 bytes"),
    )
}

#[test]
fn keys_and_verifier_key_string() {
    let v = vectors();
    let key = seed(&v["log_key_seed"]);
    assert_eq!(hex(key.verifying_key().as_bytes()), v["log_public_key"]);
    assert_eq!(
        hex(seed(&v["witness_key_seed"]).verifying_key().as_bytes()),
        v["witness_public_key"]
    );
    let origin = v["origin"].as_str().expect("origin");
    assert_eq!(
        NoteVerifier::new(origin, key.verifying_key())
            .expect("name")
            .to_vkey(),
        v["vkey"]
    );
}

#[test]
fn entry_header_signature_and_leaf_hash() {
    let v = vectors();
    let e = &v["entry"];
    let key = seed(&v["log_key_seed"]);
    let origin = Origin::new(v["origin"].as_str().expect("origin")).expect("valid");
    let payload = e["payload"].as_str().expect("payload").as_bytes();
    assert_eq!(hex(&Digest256::of(payload).0), e["payload_sha256"]);
    let new = NewEntry {
        origin: &origin,
        index: 0,
        time: 1_763_935_200,
        kind: Kind::Notice,
        refers_to: None,
        payload,
        visibility: Visibility::Federation,
    };
    let signed = sign_entry(&new, &key).expect("signs");
    assert_eq!(
        String::from_utf8(signed.header_bytes.clone()).expect("utf-8"),
        e["header"]
    );
    assert_eq!(
        hex(&[ENTRY_SIGNATURE_DOMAIN, &signed.header_bytes].concat()),
        e["signing_message_hex"]
    );
    assert_eq!(hex(&signed.signature), e["signature"]);
    assert_eq!(hex(&signed.leaf_hash()), e["leaf_hash"]);
    // A verifier works from the bytes alone.
    let received = SignedEntry::from_parts(
        e["header"].as_str().expect("header").as_bytes().to_vec(),
        &unhex(e["signature"].as_str().expect("sig")),
    )
    .expect("parts");
    received.verify(&key.verifying_key()).expect("verifies");
}

#[test]
fn merkle_roots_and_proofs() {
    let v = vectors();
    let m = &v["merkle"];
    assert_eq!(hex(&merkle::EMPTY_ROOT), m["empty_root"]);
    assert_eq!(hex(&merkle::leaf_hash(b"")), m["leaf_hash_of_empty"]);
    let mut stored: Vec<Hash> = Vec::new();
    let leaves: Vec<Hash> = m["leaves_hex"]
        .as_array()
        .expect("leaves")
        .iter()
        .map(|l| merkle::leaf_hash(&unhex(l.as_str().expect("hex"))))
        .collect();
    for (i, leaf) in leaves.iter().enumerate() {
        let new = merkle::stored_hashes_for_record(i as u64, *leaf, &stored).expect("hashes");
        stored.extend(new);
    }
    let root7 = merkle::tree_hash(7, &stored).expect("root");
    let root3 = merkle::tree_hash(3, &stored).expect("root");
    assert_eq!(hex(&root7), m["root_7"]);
    assert_eq!(hex(&root3), m["root_3"]);
    let inclusion = merkle::inclusion_proof(7, 3, &stored).expect("proof");
    let expected: Vec<String> =
        serde_json::from_value(m["inclusion_index_3_size_7"].clone()).expect("list");
    assert_eq!(
        inclusion.iter().map(|h| hex(h)).collect::<Vec<_>>(),
        expected
    );
    merkle::verify_inclusion(&inclusion, 7, &root7, 3, &leaves[3]).expect("verifies");
    let consistency = merkle::consistency_proof(7, 3, &stored).expect("proof");
    let expected: Vec<String> =
        serde_json::from_value(m["consistency_3_to_7"].clone()).expect("list");
    assert_eq!(
        consistency.iter().map(|h| hex(h)).collect::<Vec<_>>(),
        expected
    );
    merkle::verify_consistency(&consistency, 7, &root7, 3, &root3).expect("verifies");
}

#[test]
fn checkpoint_note_with_cosignature() {
    let v = vectors();
    let key = seed(&v["log_key_seed"]);
    let witness = seed(&v["witness_key_seed"]);
    let origin = Origin::new(v["origin"].as_str().expect("origin")).expect("valid");
    let root: Hash = unhex(v["merkle"]["root_7"].as_str().expect("root"))
        .try_into()
        .expect("32 bytes");
    let mut signed = SignedCheckpoint::sign(Checkpoint::new(origin.clone(), 7, root), &key);
    let line = cosign(
        &signed,
        "pacific-alliance.concord/un1540",
        &witness,
        1_763_935_300,
    );
    signed.add_cosignature(line).expect("room");
    let note = String::from_utf8(signed.to_bytes()).expect("utf-8");
    assert_eq!(note, v["checkpoint_note"]);
    let parsed = SignedCheckpoint::parse(note.as_bytes()).expect("parses");
    parsed
        .verify(
            &origin,
            &[NoteVerifier::new(origin.as_str(), key.verifying_key()).expect("name")],
        )
        .expect("verifies");
    let cosigner =
        CosignatureVerifier::new("pacific-alliance.concord/un1540", witness.verifying_key())
            .expect("name");
    assert_eq!(cosigner.verify(&parsed), Ok(Some(1_763_935_300)));
}

#[test]
fn canonical_json() {
    let v = vectors();
    let input: serde_json::Value =
        serde_json::from_str(v["canonical"]["input"].as_str().expect("input")).expect("json");
    let output = canonical::to_canonical_vec(&input).expect("canonical");
    assert_eq!(
        String::from_utf8(output).expect("utf-8"),
        v["canonical"]["output"]
    );
}

/// The entry signature of §3.2 at its edges: `R` with a small-order
/// component, and `R` a non-canonical encoding of the identity (valid
/// under the cofactored equation, not under the cofactorless one), and `S`
/// past the group order (never valid).
#[test]
fn entry_signature_edge_cases() {
    let v = vectors();
    let e = &v["entry"];
    let key = seed(&v["log_key_seed"]);
    let verifying = key.verifying_key();
    let header = e["header"].as_str().expect("header").as_bytes().to_vec();
    let message = [ENTRY_SIGNATURE_DOMAIN, &header].concat();
    let point = |name: &str| -> [u8; 32] {
        unhex(e[name].as_str().expect("point"))
            .try_into()
            .expect("32 bytes")
    };

    // R = [42]B + (0, −1), the point of order 2.
    let order_two = CompressedEdwardsY(point("order_two_point"))
        .decompress()
        .expect("a point");
    assert!(order_two.is_small_order() && !order_two.is_identity());
    let r = Scalar::from(42u8);
    let big_r = (ED25519_BASEPOINT_POINT * r + order_two).compress();
    let crafted = sign_with_r(&key, &message, big_r.to_bytes(), r);
    assert_eq!(hex(&crafted), e["signature_with_order_two_r"]);
    // R = the identity encoded with y = p + 1, and r = 0.
    let identity = point("noncanonical_identity");
    assert!(
        CompressedEdwardsY(identity)
            .decompress()
            .is_some_and(|p| p.is_identity())
    );
    assert_ne!(
        identity,
        curve25519_dalek::EdwardsPoint::default()
            .compress()
            .to_bytes()
    );
    let noncanonical = sign_with_r(&key, &message, identity, Scalar::ZERO);
    assert_eq!(
        hex(&noncanonical),
        e["signature_with_noncanonical_identity_r"]
    );
    for signature in [&crafted, &noncanonical] {
        let entry = SignedEntry::from_parts(header.clone(), signature).expect("parts");
        entry
            .verify(&verifying)
            .expect("valid under the cofactored equation");
        let cofactorless = ed25519_dalek::Signature::from_bytes(&entry.signature);
        assert!(verifying.verify_strict(&message, &cofactorless).is_err());
    }

    // The vector's own signature with L added to S.
    let honest = unhex(e["signature"].as_str().expect("sig"));
    let past_order = unhex(e["signature_with_s_plus_l"].as_str().expect("sig"));
    assert_eq!(honest[..32], past_order[..32]);
    let order = unhex(v["group_order_le"].as_str().expect("L"));
    assert_eq!(
        add_le(&honest[32..], &order).expect("below 2^256"),
        past_order[32..]
    );
    let entry = SignedEntry::from_parts(header, &past_order).expect("parts");
    assert!(entry.verify(&verifying).is_err());
}

/// PROTOCOL.md quotes every vector verbatim, so that the document a
/// verifier reads cannot drift from the values these tests check; only
/// values it states another way are exempt.
#[test]
fn protocol_md_quotes_every_vector() {
    // Stated in words: the seeds as "07 × 32" (and "0b × 32"), the signed message as the
    // domain and the header, L in decimal, the order-2 point as "ecff…ff7f".
    const STATED_OTHERWISE: [&str; 6] = [
        "log_key_seed",
        "rotated_log_key_seed",
        "witness_key_seed",
        "signing_message_hex",
        "group_order_le",
        "order_two_point",
    ];
    fn strings<'a>(value: &'a serde_json::Value, key: &'a str, out: &mut Vec<(&'a str, &'a str)>) {
        match value {
            serde_json::Value::String(s) => out.push((key, s)),
            serde_json::Value::Array(items) => items.iter().for_each(|v| strings(v, key, out)),
            serde_json::Value::Object(fields) => {
                fields.iter().for_each(|(k, v)| strings(v, k, out));
            }
            _ => {}
        }
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../PROTOCOL.md");
    let document = std::fs::read_to_string(path).expect("PROTOCOL.md");
    let v = vectors();
    let mut all = Vec::new();
    strings(&v, "", &mut all);
    let missing: Vec<_> = all
        .iter()
        .filter(|(key, value)| !STATED_OTHERWISE.contains(key) && !document.contains(*value))
        .collect();
    assert!(missing.is_empty(), "not quoted in PROTOCOL.md: {missing:?}");
}

/// The ledger's rules of §3.3 and §3.5, on the vectors' times and on the
/// sample records under the vectors' visibilities.
#[test]
fn times_and_the_publishing_state() {
    use concord_protocol::entry::{EntryHeader, KeyId, PayloadCommitment};
    use concord_protocol::ledger::{self, MAX_TIME_AHEAD};
    use concord_protocol::record::{Country, Record};

    let v = &vectors()["ledger"];
    assert_eq!(v["max_time_ahead"], MAX_TIME_AHEAD);
    let now = v["now"].as_u64().expect("now");
    let header = |time: u64, kind: Kind, visibility: Visibility| EntryHeader {
        index: 1,
        key_id: KeyId([0; 4]),
        kind,
        origin: Origin::new("pacific-alliance.concord/mx").expect("origin"),
        payload: PayloadCommitment {
            sha256: Digest256([0; 32]),
            size: 0,
            visibility,
        },
        refers_to: None,
        time,
        v: 1,
    };
    for case in v["times"].as_array().expect("times") {
        let time = case["time"].as_u64().expect("time");
        let verdict = ledger::check_time(
            case["previous"].as_u64(),
            &header(time, Kind::Notice, Visibility::Federation),
            now,
        );
        assert_eq!(
            verdict.err().map(|e| e.code()),
            case["refusal"].as_str(),
            "{case}"
        );
    }
    let country = Country::new(v["country"].as_str().expect("country")).expect("a country");
    for case in v["names"].as_array().expect("names") {
        let path = format!(
            "{}/../scenarios/records/{}",
            env!("CARGO_MANIFEST_DIR"),
            case["record"].as_str().expect("record")
        );
        let kind = Kind::parse(case["kind"].as_str().expect("kind")).expect("a kind");
        let record = Record::parse(kind, &std::fs::read(&path).expect("a sample record"))
            .expect("a valid record");
        let visibility: Visibility =
            serde_json::from_value(case["visibility"].clone()).expect("a visibility");
        let verdict = ledger::check_names(&country, &header(now, kind, visibility), Some(&record));
        assert_eq!(
            verdict.err().map(|e| e.to_string()).as_deref(),
            case["refusal"].as_str(),
            "{case}"
        );
    }
}

/// The entry signature in base64 (§1): its canonical text decodes to the
/// signature; the same text with a padding bit set in its last character
/// decodes to the same bytes under a lenient decoder and is refused here,
/// alone and as an entry's `signature` field.
#[test]
fn entry_signature_base64_only_in_its_canonical_form() {
    let v = vectors();
    let e = &v["entry"];
    let signature = unhex(e["signature"].as_str().expect("sig"));
    let canonical = e["signature_base64"].as_str().expect("base64");
    let padding_bit = e["signature_base64_padding_bit_set"]
        .as_str()
        .expect("base64");
    assert_eq!(
        concord_protocol::base64::decode(canonical).as_deref(),
        Ok(&signature[..])
    );
    assert!(concord_protocol::base64::decode(padding_bit).is_err());
    let wire = |signature: &str| concord_protocol::entry::WireEntry {
        header: base64::engine::general_purpose::STANDARD.encode(e["header"].as_str().expect("h")),
        signature: signature.to_owned(),
        payload: None,
    };
    assert!(wire(canonical).decode().is_ok());
    assert_eq!(
        wire(padding_bit).decode().map(|_| ()),
        Err(concord_protocol::entry::EntryError::Base64("signature"))
    );
}

/// A proof document (PROTOCOL.md §4.1): the inclusion of leaf 3 in the
/// 7-leaf tree, carrying the vectors' checkpoint of that tree.
#[test]
fn inclusion_proof_document() {
    let v = vectors();
    let m = &v["merkle"];
    let digest = |h: &serde_json::Value| {
        Digest256(
            unhex(h.as_str().expect("hex"))
                .try_into()
                .expect("32 bytes"),
        )
    };
    let proof = Proof::Inclusion {
        origin: Origin::new(v["origin"].as_str().expect("origin")).expect("valid"),
        index: 3,
        leaf_hash: Digest256(merkle::leaf_hash(&[3])),
        tree_size: 7,
        root: digest(&m["root_7"]),
        hashes: m["inclusion_index_3_size_7"]
            .as_array()
            .expect("hashes")
            .iter()
            .map(digest)
            .collect(),
        checkpoint: Some(v["checkpoint_note"].as_str().expect("note").to_owned()),
    };
    let text =
        String::from_utf8(canonical::to_canonical_vec(&proof).expect("canonical")).expect("UTF-8");
    assert_eq!(text, v["proof_document"]);
    let parsed: Proof = serde_json::from_str(&text).expect("parses");
    let carried = parsed.verify().expect("verifies").expect("a checkpoint");
    assert_eq!(carried.checkpoint.size, 7);
}

/// The checkpoint of the vectors with a second line by another key of the
/// same log (seed `0b` × 32, a key the roster lists after a rotation) made
/// over another text: the good line by the first key does not save it
/// (PROTOCOL.md §5, as C2SP `signed-note` says).
#[test]
fn a_checkpoint_with_a_bad_line_by_another_log_key_is_refused() {
    let v = vectors();
    let key = seed(&v["log_key_seed"]);
    let rotated = seed(&v["rotated_log_key_seed"]);
    let origin = Origin::new(v["origin"].as_str().expect("origin")).expect("valid");
    let root: Hash = unhex(v["merkle"]["root_7"].as_str().expect("root"))
        .try_into()
        .expect("32 bytes");
    let mut signed = SignedCheckpoint::sign(Checkpoint::new(origin.clone(), 7, root), &key);
    let root3: Hash = unhex(v["merkle"]["root_3"].as_str().expect("root"))
        .try_into()
        .expect("32 bytes");
    let other = SignedCheckpoint::sign(Checkpoint::new(origin.clone(), 3, root3), &rotated);
    signed
        .note
        .push_signature(other.note.signatures()[0].clone())
        .expect("room");
    let note = String::from_utf8(signed.to_bytes()).expect("UTF-8");
    assert_eq!(note, v["checkpoint_note_bad_rotated_line"]);
    let keys = [&key, &rotated]
        .map(|k| NoteVerifier::new(origin.as_str(), k.verifying_key()).expect("name"));
    let parsed = SignedCheckpoint::parse(note.as_bytes()).expect("parses");
    assert!(parsed.verify(&origin, &keys).is_err());
    // A verifier that knows only the first key accepts it.
    assert!(parsed.verify(&origin, &keys[..1]).is_ok());
}
