//! Entry signature verification: Ed25519 with the cofactored equation
//! `[8][S]B = [8]R + [8][k]A` (the form RFC 8032 §5.1.7 states first, and
//! the rule of Zcash's ZIP 215), alone or in batches.
//!
//! Why cofactored: with the cofactorless equation `[S]B = R + [k]A` (what
//! `verify_strict` and most libraries check one at a time), a key holder
//! can put a small-order component into `R` so that a random-weight batch
//! accepts the signature or not depending on the other signatures in it.
//! Nodes batch differently, so they would disagree about the same entry.
//! Multiplying by the cofactor removes every small-order component: a
//! batch then accepts exactly when each signature in it verifies alone,
//! whatever else the batch holds (up to the 2^-128 chance of the weights).
//! Every signature an RFC 8032 signer makes verifies under both equations.

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity as _, VartimeMultiscalarMul as _};
use ed25519_dalek::VerifyingKey;
use sha2::{Digest as _, Sha512};

/// A signature to check: the signed message, the 64 signature bytes
/// (`R ‖ S`), and the key.
pub type Signed<'a> = (&'a [u8], &'a [u8; 64], &'a VerifyingKey);

/// What the equation needs of one signature.
struct Parts {
    r: EdwardsPoint,
    s: Scalar,
    /// `k = SHA-512(R ‖ A ‖ message)` as a scalar.
    k: Scalar,
}

/// `None` when `R` is not a point or `S` is not below the group order.
fn parts((message, signature, key): Signed<'_>) -> Option<Parts> {
    let (r_bytes, s_bytes) = signature.split_first_chunk::<32>()?;
    let r = CompressedEdwardsY(*r_bytes).decompress()?;
    let s = Option::from(Scalar::from_canonical_bytes(*s_bytes.first_chunk::<32>()?))?;
    let hash: [u8; 64] = Sha512::new()
        .chain_update(r_bytes)
        .chain_update(key.as_bytes())
        .chain_update(message)
        .finalize()
        .into();
    Some(Parts {
        r,
        s,
        k: Scalar::from_bytes_mod_order_wide(&hash),
    })
}

/// Whether one signature verifies.
pub fn verify(signed: Signed<'_>) -> bool {
    let key = signed.2.to_edwards();
    parts(signed).is_some_and(|p| {
        let check = EdwardsPoint::vartime_double_scalar_mul_basepoint(&p.k, &-key, &p.s) - p.r;
        check.mul_by_cofactor().is_identity()
    })
}

/// Whether every signature of `batch` verifies; `true` for an empty one.
///
/// One multiscalar multiplication checks
/// `[8](Σ zᵢRᵢ + Σ (zᵢkᵢ)Aᵢ − (Σ zᵢSᵢ)B) = 0` with 128-bit weights `zᵢ`
/// drawn from a hash of the whole batch, so no signer can choose them.
/// Consecutive signatures under the same key share one term for it, which
/// makes a batch of one log's entries cheaper than one term per signature.
pub fn verify_batch(batch: &[Signed<'_>]) -> bool {
    let Some(parts) = batch.iter().map(|&s| parts(s)).collect::<Option<Vec<_>>>() else {
        return false;
    };
    let mut seed = Sha512::new();
    for p in &parts {
        // k binds R, A and the message; S is the rest.
        seed.update(p.k.as_bytes());
        seed.update(p.s.as_bytes());
    }
    let seed: [u8; 64] = seed.finalize().into();
    let weights: Vec<Scalar> = (0..parts.len() as u64)
        .map(|i| {
            let h: [u8; 64] = Sha512::new()
                .chain_update(seed)
                .chain_update(i.to_be_bytes())
                .finalize()
                .into();
            let low: [u8; 16] = *h.first_chunk().expect("64 bytes");
            Scalar::from(u128::from_le_bytes(low))
        })
        .collect();
    let base: Scalar = parts.iter().zip(&weights).map(|(p, z)| p.s * z).sum();
    let mut key_terms: Vec<(Scalar, EdwardsPoint)> = Vec::new();
    let mut last_key: Option<&VerifyingKey> = None;
    for ((_, _, key), (p, z)) in batch.iter().zip(parts.iter().zip(&weights)) {
        let coefficient = p.k * z;
        match key_terms.last_mut() {
            Some((sum, _)) if last_key == Some(*key) => *sum += coefficient,
            _ => key_terms.push((coefficient, key.to_edwards())),
        }
        last_key = Some(key);
    }
    let scalars = std::iter::once(-base)
        .chain(weights.iter().copied())
        .chain(key_terms.iter().map(|(c, _)| *c));
    let points = std::iter::once(ED25519_BASEPOINT_POINT)
        .chain(parts.iter().map(|p| p.r))
        .chain(key_terms.iter().map(|(_, a)| *a));
    EdwardsPoint::vartime_multiscalar_mul(scalars, points)
        .mul_by_cofactor()
        .is_identity()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer as _, SigningKey};

    #[test]
    fn rfc_8032_signatures_verify_alone_and_in_batches_of_any_keys() {
        let keys: Vec<SigningKey> = (1..=3).map(|i| SigningKey::from_bytes(&[i; 32])).collect();
        let signed: Vec<(Vec<u8>, [u8; 64], VerifyingKey)> = (0..20)
            .map(|i| {
                let key = &keys[i % 7 % 3];
                let message = format!("entry {i}").into_bytes();
                let signature = key.sign(&message).to_bytes();
                (message, signature, key.verifying_key())
            })
            .collect();
        let batch: Vec<Signed<'_>> = signed.iter().map(|(m, s, k)| (&m[..], s, k)).collect();
        assert!(batch.iter().all(|&s| verify(s)));
        assert!(verify_batch(&batch));
        assert!(verify_batch(&[]));
        for bad in 0..batch.len() {
            let mut signature = *batch[bad].1;
            signature[40] ^= 0x01;
            let mut damaged = batch.clone();
            damaged[bad].1 = &signature;
            assert!(!verify(damaged[bad]));
            assert!(!verify_batch(&damaged), "signature {bad} changed");
            let other = VerifyingKey::from(&keys[(bad + 1) % 3]);
            let mut wrong_key = batch.clone();
            wrong_key[bad].2 = &other;
            assert!(!verify_batch(&wrong_key) || batch[bad].2 == &other);
        }
    }

    /// PROTOCOL.md §3.2's decoding of `R`: y ≥ p is taken mod p, and
    /// x = 0 with the sign bit set is x = 0.
    #[test]
    fn r_decodes_as_the_protocol_says() {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut negative_zero = identity;
        negative_zero[31] = 0x80;
        // p + 1 = 2^255 − 18.
        let mut above_p = [0xff; 32];
        above_p[0] = 0xee;
        above_p[31] = 0x7f;
        for bytes in [identity, negative_zero, above_p] {
            let point = CompressedEdwardsY(bytes).decompress();
            assert!(point.is_some_and(|p| p.is_identity()), "{bytes:02x?}");
        }
    }
}
