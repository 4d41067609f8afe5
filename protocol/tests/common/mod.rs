//! Ed25519 signatures made by hand, for the tests of the entry signature
//! rule's edges (PROTOCOL.md §3.2).

use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::SigningKey;
use sha2::{Digest as _, Sha512};

/// A signature of `message` by `key` with the given `R` encoding and its
/// nonce `r`: `S = r + k·a`, `k = SHA-512(R ‖ A ‖ message)`.
pub fn sign_with_r(key: &SigningKey, message: &[u8], r_bytes: [u8; 32], r: Scalar) -> [u8; 64] {
    let k: [u8; 64] = Sha512::new()
        .chain_update(r_bytes)
        .chain_update(key.verifying_key().as_bytes())
        .chain_update(message)
        .finalize()
        .into();
    let s = r + Scalar::from_bytes_mod_order_wide(&k) * key.to_scalar();
    let mut signature = [0u8; 64];
    signature[..32].copy_from_slice(&r_bytes);
    signature[32..].copy_from_slice(s.as_bytes());
    signature
}

/// `a + b` for two little-endian numbers of the same length, `None` past
/// that length: how a test puts `S + L` into a signature.
pub fn add_le(a: &[u8], b: &[u8]) -> Option<Vec<u8>> {
    let mut carry = 0u16;
    let sum = a
        .iter()
        .zip(b)
        .map(|(x, y)| {
            let t = u16::from(*x) + u16::from(*y) + carry;
            carry = t >> 8;
            t as u8
        })
        .collect();
    (carry == 0).then_some(sum)
}
