//! The entry signature rule against signatures made to tell the cofactored
//! and cofactorless equations apart (PROTOCOL.md §3.2).

mod common;

use concord_protocol::signature::{self, Signed};
use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::{Signer as _, SigningKey};

use common::{add_le, sign_with_r};

/// L = 2^252 + 27742317777372353535851937790883648493, little-endian.
const GROUP_ORDER_LE: &str = "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010";

/// A signature by `key` whose `R` carries the small-order point
/// `torsion`: valid under the cofactored equation, not under the
/// cofactorless one.
fn with_torsion(key: &SigningKey, message: &[u8], torsion: EdwardsPoint) -> [u8; 64] {
    let r = Scalar::from(0x1234_5678_9abc_def0_u64);
    let big_r = (ED25519_BASEPOINT_POINT * r + torsion).compress();
    sign_with_r(key, message, big_r.to_bytes(), r)
}

fn honest(key: &SigningKey, n: usize) -> Vec<(Vec<u8>, [u8; 64])> {
    (0..n)
        .map(|i| {
            let message = format!("message {i}").into_bytes();
            let signature = key.sign(&message).to_bytes();
            (message, signature)
        })
        .collect()
}

/// The reason for the cofactor: a batch answers for each signature in
/// it the same whatever the others are, as the single check does, also
/// for signatures made to tell the two equations apart.
#[test]
fn a_small_order_component_in_r_gets_one_answer_in_every_batch() {
    let key = SigningKey::from_bytes(&[9; 32]);
    let verifying = key.verifying_key();
    let message = b"crafted";
    for torsion in &EIGHT_TORSION[1..] {
        let crafted = with_torsion(&key, message, *torsion);
        // The cofactorless check refuses it; this one accepts it.
        let cofactorless = ed25519_dalek::Signature::from_bytes(&crafted);
        assert!(verifying.verify_strict(message, &cofactorless).is_err());
        assert!(signature::verify((message, &crafted, &verifying)));
        for others in 0..24 {
            let honest = honest(&key, others);
            let mut batch: Vec<Signed<'_>> = honest
                .iter()
                .map(|(m, s)| (&m[..], s, &verifying))
                .collect();
            batch.insert(others / 2, (message, &crafted, &verifying));
            assert!(signature::verify_batch(&batch), "with {others} others");
        }
    }
}

/// What `protocol::signature` avoids: the cofactorless batch of
/// `ed25519-dalek` accepts a signature whose `R` has an order-2 component
/// in some batches and refuses it in others.
#[test]
fn a_cofactorless_batch_answers_by_its_company() {
    let key = SigningKey::from_bytes(&[9; 32]);
    let verifying = key.verifying_key();
    let message = b"crafted";
    let crafted = with_torsion(&key, message, EIGHT_TORSION[4]);
    let accepted = (0..24)
        .filter(|&others| {
            let honest = honest(&key, others);
            let mut messages: Vec<&[u8]> = honest.iter().map(|(m, _)| &m[..]).collect();
            let mut signatures: Vec<ed25519_dalek::Signature> = honest
                .iter()
                .map(|(_, s)| ed25519_dalek::Signature::from_bytes(s))
                .collect();
            messages.push(message);
            signatures.push(ed25519_dalek::Signature::from_bytes(&crafted));
            let keys = vec![verifying; messages.len()];
            ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok()
        })
        .count();
    assert!(
        0 < accepted && accepted < 24,
        "accepted in {accepted} of 24"
    );
}

#[test]
fn s_at_or_above_the_group_order_is_refused() {
    let key = SigningKey::from_bytes(&[5; 32]);
    let message = b"malleable";
    let mut signature = key.sign(message).to_bytes();
    // S + L, still below 2^256: the same scalar mod L, another encoding.
    let order = hex::decode(GROUP_ORDER_LE).expect("hex");
    let past_order = add_le(&signature[32..], &order).expect("below 2^256");
    signature[32..].copy_from_slice(&past_order);
    let verifying = key.verifying_key();
    assert!(!signature::verify((message, &signature, &verifying)));
    assert!(!signature::verify_batch(&[(
        message, &signature, &verifying
    )]));
}
