//! C2SP verifier-key strings: interoperability vector, round trips and the
//! rejection table.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use concord_keys::VerifierKey;
use concord_keys::vkey::VkeyError;
use concord_protocol::note::{ALG_COSIGNATURE_V1, ALG_ED25519, key_id};
use ed25519_dalek::{SigningKey, VerifyingKey};
use proptest::prelude::*;

const NAME: &str = "pacific-alliance.concord/mx-se";

fn public_key(seed: u8) -> VerifyingKey {
    SigningKey::from_bytes(&[seed; 32]).verifying_key()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `name+hex(id)+base64(alg || key)` built by hand, with the id computed
/// for exactly these parts.
fn assemble(name: &str, alg: u8, key: &[u8]) -> String {
    let mut material = vec![alg];
    material.extend_from_slice(key);
    format!(
        "{name}+{}+{}",
        hex(&key_id(name, alg, key)),
        BASE64.encode(material)
    )
}

#[test]
fn go_sumdb_note_vector() {
    // The verifier key of the example in golang.org/x/mod/sumdb/note.
    let text = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    let vkey: VerifierKey = text.parse().expect("Go's example key parses");
    assert_eq!(vkey.name(), "PeterNeumann");
    assert_eq!(vkey.alg(), ALG_ED25519);
    assert_eq!(hex(&vkey.key_id()), "c74f20a3");
    assert_eq!(vkey.to_string(), text);
    let verifier = vkey.note_verifier().expect("a note key");
    assert_eq!(verifier.to_vkey(), text);
}

#[test]
fn note_and_witness_round_trip() {
    let note = VerifierKey::note(NAME, public_key(3)).expect("valid");
    let witness = VerifierKey::witness(NAME, public_key(3)).expect("valid");
    assert_eq!(note.alg(), ALG_ED25519);
    assert_eq!(witness.alg(), ALG_COSIGNATURE_V1);
    assert_ne!(note.key_id(), witness.key_id());
    assert_eq!(note.to_witness(), witness);
    for vkey in [&note, &witness] {
        let text = vkey.to_string();
        assert_eq!(text, assemble(NAME, vkey.alg(), vkey.key().as_bytes()));
        assert_eq!(VerifierKey::parse(&text).as_ref(), Ok(vkey));
        let json = serde_json::to_string(vkey).expect("serialises");
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(
            &serde_json::from_str::<VerifierKey>(&json).expect("parses"),
            vkey
        );
    }
    assert!(note.note_verifier().is_some());
    assert!(witness.note_verifier().is_none());
    assert!(note.cosignature_verifier().is_none());
    let cosignature = witness.cosignature_verifier().expect("a witness key");
    assert_eq!(cosignature.key_id(), witness.key_id());
    assert_eq!(
        note.note_verifier().map(|v| v.to_vkey()),
        Some(note.to_string())
    );
}

fn invalid_point() -> [u8; 32] {
    // About half of all y coordinates are not on the curve; take the first.
    (2u8..=255)
        .map(|y| {
            let mut bytes = [0u8; 32];
            bytes[0] = y;
            bytes
        })
        .find(|bytes| VerifyingKey::from_bytes(bytes).is_err())
        .expect("some small y is off the curve")
}

#[test]
fn rejection_table() {
    let good = VerifierKey::note(NAME, public_key(3))
        .expect("valid")
        .to_string();
    let (_, rest) = good.split_once('+').expect("three parts");
    let (good_id, good_material) = rest.split_once('+').expect("three parts");
    let key = public_key(3).to_bytes();
    let mut identity_point = [0u8; 32];
    identity_point[0] = 1;

    let check = |input: String, expected: VkeyError| {
        assert_eq!(VerifierKey::parse(&input), Err(expected), "{input:?}");
    };
    check(String::new(), VkeyError::Shape);
    check(format!("{NAME}+{good_id}"), VkeyError::Shape);
    check(
        format!("+{good_id}+{good_material}"),
        VkeyError::BadName(String::new()),
    );
    check(
        format!("mx se+{good_id}+{good_material}"),
        VkeyError::BadName("mx se".into()),
    );
    // A '+' in a name ends the name early: what follows is no key id.
    check(
        format!("mx+se+{good_id}+{good_material}"),
        VkeyError::BadKeyIdHex("se".into()),
    );
    check(
        format!("{NAME}+{}+{good_material}", good_id.to_uppercase()),
        VkeyError::BadKeyIdHex(good_id.to_uppercase()),
    );
    check(
        format!("{NAME}+{}+{good_material}", &good_id[..7]),
        VkeyError::BadKeyIdHex(good_id[..7].into()),
    );
    check(
        format!("{NAME}+zzzzzzzz+{good_material}"),
        VkeyError::BadKeyIdHex("zzzzzzzz".into()),
    );
    check(
        format!("{NAME}+{good_id}0+{good_material}"),
        VkeyError::BadKeyIdHex(format!("{good_id}0")),
    );
    let wrong_id = if good_id == "00000000" {
        "00000001"
    } else {
        "00000000"
    };
    check(
        format!("{NAME}+{wrong_id}+{good_material}"),
        VkeyError::KeyIdMismatch {
            found: wrong_id.into(),
            expected: good_id.into(),
        },
    );
    // The key id of the same key under another name.
    let other = assemble("other", ALG_ED25519, &key);
    let (_, other_rest) = other.split_once('+').expect("three parts");
    let other_id = other_rest.split_once('+').expect("three parts").0;
    check(
        format!("{NAME}+{other_id}+{good_material}"),
        VkeyError::KeyIdMismatch {
            found: other_id.into(),
            expected: good_id.into(),
        },
    );
    check(
        format!("{NAME}+{good_id}+not base64!"),
        VkeyError::BadBase64,
    );
    check(
        format!(
            "{NAME}+{good_id}+{}",
            &good_material[..good_material.len() - 1]
        ),
        VkeyError::BadBase64,
    );
    // 33 bytes need no padding, so padding after them is not canonical.
    check(
        format!("{NAME}+{good_id}+{good_material}="),
        VkeyError::BadBase64,
    );
    check(format!("{NAME}+{good_id}+"), VkeyError::BadLength(0));
    check(
        format!("{NAME}+{good_id}+{}", BASE64.encode([1u8; 32])),
        VkeyError::BadLength(32),
    );
    check(
        format!("{NAME}+{good_id}+{}", BASE64.encode([1u8; 34])),
        VkeyError::BadLength(34),
    );
    for alg in [0x00, 0x02, 0x03, 0x05, 0xff] {
        check(assemble(NAME, alg, &key), VkeyError::UnknownAlgorithm(alg));
    }
    check(
        assemble(NAME, ALG_ED25519, &invalid_point()),
        VkeyError::BadPoint,
    );
    check(
        assemble(NAME, ALG_ED25519, &identity_point),
        VkeyError::WeakKey,
    );
}

#[test]
fn constructors_check_the_name_and_the_key() {
    assert_eq!(
        VerifierKey::note("a+b", public_key(1)),
        Err(VkeyError::BadName("a+b".into()))
    );
    assert_eq!(
        VerifierKey::witness("", public_key(1)),
        Err(VkeyError::BadName(String::new()))
    );
    let mut identity_point = [0u8; 32];
    identity_point[0] = 1;
    let weak = VerifyingKey::from_bytes(&identity_point).expect("the identity is a point");
    assert_eq!(VerifierKey::note(NAME, weak), Err(VkeyError::WeakKey));
}

proptest! {
    #[test]
    fn any_key_and_name_round_trip(
        seed in any::<[u8; 32]>(),
        name in "[!-*,-~]{1,64}",
        witness in any::<bool>(),
    ) {
        let key = SigningKey::from_bytes(&seed).verifying_key();
        let vkey = if witness { VerifierKey::witness(&name, key) } else { VerifierKey::note(&name, key) };
        let vkey = vkey.expect("printable names without '+' are valid");
        prop_assert_eq!(VerifierKey::parse(&vkey.to_string()), Ok(vkey));
    }

    #[test]
    fn parse_never_panics(text in "\\PC{0,120}") {
        let _ = VerifierKey::parse(&text);
    }
}
