//! Writes a Concord log's checkpoint, its verifier key and inclusion and
//! consistency proofs, plus tampered copies of each, into a directory, for
//! an independent verifier (`interop/verify.go`, built on Go's
//! `golang.org/x/mod/sumdb/note` and `sumdb/tlog`) to check. Also the log's
//! entry signatures, and the edge cases of PROTOCOL.md's test vectors, for
//! Go's `crypto/ed25519` and `filippo.io/edwards25519`.
//!
//! Usage: `cargo run -p concord-protocol --example interop -- OUTDIR`

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use concord_protocol::checkpoint::{Checkpoint, SignedCheckpoint, cosign};
use concord_protocol::entry::{
    Digest256, ENTRY_SIGNATURE_DOMAIN, NewEntry, SignedEntry, Visibility, sign_entry,
};
use concord_protocol::merkle::{self, Hash};
use concord_protocol::note::NoteVerifier;
use concord_protocol::origin::Origin;
use concord_protocol::proof::Proof;
use concord_protocol::record::Kind;
use ed25519_dalek::SigningKey;

const N_ENTRIES: u64 = 37;
const OLD_SIZE: u64 = 13;
const INDEX: u64 = 29;

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).unwrap_or_else(|e| panic!("writing {name}: {e}"));
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: interop OUTDIR");
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir).expect("creating OUTDIR");
    let origin = Origin::new("pacific-alliance.concord/mx").expect("valid origin");
    let log_key = SigningKey::from_bytes(&[7; 32]);
    let witness_key = SigningKey::from_bytes(&[9; 32]);

    let mut stored: Vec<Hash> = Vec::new();
    let mut leaves = Vec::new();
    let mut entries = Vec::new();
    for index in 0..N_ENTRIES {
        let payload = format!("{{\"sample\":{index}}}");
        let new = NewEntry {
            origin: &origin,
            index,
            time: 1_763_935_200 + index,
            kind: Kind::Notice,
            refers_to: None,
            payload: payload.as_bytes(),
            visibility: Visibility::Federation,
        };
        let entry = sign_entry(&new, &log_key).expect("entry signs");
        let leaf = entry.leaf_hash();
        entries.push(entry);
        let new_hashes = merkle::stored_hashes_for_record(index, leaf, &stored).expect("hashes");
        stored.extend(new_hashes);
        leaves.push(leaf);
    }
    let root = merkle::tree_hash(N_ENTRIES, &stored).expect("root");
    let old_root = merkle::tree_hash(OLD_SIZE, &stored).expect("old root");

    let mut checkpoint =
        SignedCheckpoint::sign(Checkpoint::new(origin.clone(), N_ENTRIES, root), &log_key);
    let line = cosign(
        &checkpoint,
        "pacific-alliance.concord/un1540",
        &witness_key,
        1_763_935_300,
    );
    checkpoint
        .add_cosignature(line)
        .expect("room for a cosignature");
    let note = checkpoint.to_bytes();
    write(dir, "checkpoint.txt", &note);
    let vkey = NoteVerifier::new(origin.as_str(), log_key.verifying_key())
        .expect("valid name")
        .to_vkey();
    write(dir, "vkey.txt", vkey.as_bytes());

    let inclusion = merkle::inclusion_proof(N_ENTRIES, INDEX, &stored).expect("inclusion proof");
    let consistency =
        merkle::consistency_proof(N_ENTRIES, OLD_SIZE, &stored).expect("consistency proof");
    // The proof documents of PROTOCOL.md §4.1, as `concord proof` prints
    // them, each carrying the checkpoint.
    let note_text = String::from_utf8(note.clone()).expect("a note is UTF-8");
    let digests = |hashes: &[Hash]| hashes.iter().copied().map(Digest256).collect::<Vec<_>>();
    let inclusion_json = |index: u64, hashes: &[Hash]| {
        serde_json::to_string(&Proof::Inclusion {
            origin: origin.clone(),
            index,
            leaf_hash: Digest256(leaves[INDEX as usize]),
            tree_size: N_ENTRIES,
            root: Digest256(root),
            hashes: digests(hashes),
            checkpoint: Some(note_text.clone()),
        })
        .expect("serialises")
    };
    let consistency_json = |hashes: &[Hash]| {
        serde_json::to_string(&Proof::Consistency {
            origin: origin.clone(),
            old_size: OLD_SIZE,
            old_root: Digest256(old_root),
            tree_size: N_ENTRIES,
            root: Digest256(root),
            hashes: digests(hashes),
            checkpoint: Some(note_text.clone()),
        })
        .expect("serialises")
    };
    write(
        dir,
        "inclusion.json",
        inclusion_json(INDEX, &inclusion).as_bytes(),
    );
    write(
        dir,
        "consistency.json",
        consistency_json(&consistency).as_bytes(),
    );

    // Tampered copies: each must be refused.
    let mut bad_note = note.clone();
    let root_line_at = format!("{origin}\n{N_ENTRIES}\n").len();
    bad_note[root_line_at + 2] ^= 0x01;
    write(dir, "tampered-checkpoint.txt", &bad_note);
    let mut bad_inclusion = inclusion.clone();
    bad_inclusion[1][0] ^= 0x80;
    write(
        dir,
        "tampered-inclusion.json",
        inclusion_json(INDEX, &bad_inclusion).as_bytes(),
    );
    write(
        dir,
        "tampered-inclusion-index.json",
        inclusion_json(INDEX - 1, &inclusion).as_bytes(),
    );
    let mut bad_consistency = consistency.clone();
    let last = bad_consistency.len() - 1;
    bad_consistency[last][31] ^= 0x01;
    write(
        dir,
        "tampered-consistency.json",
        consistency_json(&bad_consistency).as_bytes(),
    );
    write_signatures(dir, &log_key, &entries);
    println!(
        "wrote a {N_ENTRIES}-entry log's checkpoint, proofs and signatures to {}",
        dir.display()
    );
}

/// `signatures.json`: the log's public key, every entry's header and
/// signature (all valid), and the edge cases of PROTOCOL.md §10 over entry
/// 0 (the vectors' entry) with the verdict each equation must give.
fn write_signatures(dir: &Path, log_key: &SigningKey, entries: &[SignedEntry]) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/vectors.json");
    let vectors: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("vectors file"))
            .expect("vectors parse");
    let vector = &vectors["entry"];
    assert_eq!(
        vector["header"].as_str().map(str::as_bytes),
        Some(&entries[0].header_bytes[..]),
        "entry 0 is the vectors' entry"
    );
    let mut flipped = entries[0].signature;
    flipped[40] ^= 0x01;
    let edge = |name: &str, signature: String, cofactored: bool, cofactorless: bool| {
        serde_json::json!({
            "name": name, "signature": signature,
            "cofactored": cofactored, "cofactorless": cofactorless,
        })
    };
    let cases = serde_json::json!({
        "domain": BASE64.encode(ENTRY_SIGNATURE_DOMAIN),
        "public_key": BASE64.encode(log_key.verifying_key().as_bytes()),
        "entries": entries.iter().map(|e| serde_json::json!({
            "header": BASE64.encode(&e.header_bytes),
            "signature": hex::encode(e.signature),
        })).collect::<Vec<_>>(),
        "edges": [
            edge("S + L", vector["signature_with_s_plus_l"].as_str().expect("vector").into(), false, false),
            edge("R with an order-2 component", vector["signature_with_order_two_r"].as_str().expect("vector").into(), true, false),
            edge("R the identity, y = p + 1", vector["signature_with_noncanonical_identity_r"].as_str().expect("vector").into(), true, false),
            edge("one bit of S flipped", hex::encode(flipped), false, false),
        ],
    });
    write(dir, "signatures.json", cases.to_string().as_bytes());
}
