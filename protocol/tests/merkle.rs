//! The tree code against a naive RFC 6962 reference: roots, inclusion and
//! consistency proofs for every index and every older size, and refusal of
//! any altered proof.

use concord_protocol::merkle::{self, Hash, MerkleError, RootBuilder};
use proptest::prelude::*;

/// MTH(D[n]) straight from RFC 6962 §2.1.
fn naive_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => merkle::EMPTY_ROOT,
        1 => leaves[0],
        n => {
            let k = split(n);
            merkle::node_hash(&naive_root(&leaves[..k]), &naive_root(&leaves[k..]))
        }
    }
}

fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// PATH(m, D[n]), RFC 6962 §2.1.1.
fn naive_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split(n);
    if m < k {
        let mut path = naive_path(m, &leaves[..k]);
        path.push(naive_root(&leaves[k..]));
        path
    } else {
        let mut path = naive_path(m - k, &leaves[k..]);
        path.push(naive_root(&leaves[..k]));
        path
    }
}

/// SUBPROOF(m, D[n], b), RFC 6962 §2.1.2.
fn naive_subproof(m: usize, leaves: &[Hash], whole: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if whole {
            Vec::new()
        } else {
            vec![naive_root(leaves)]
        };
    }
    let k = split(n);
    if m <= k {
        let mut proof = naive_subproof(m, &leaves[..k], whole);
        proof.push(naive_root(&leaves[k..]));
        proof
    } else {
        let mut proof = naive_subproof(m - k, &leaves[k..], false);
        proof.push(naive_root(&leaves[..k]));
        proof
    }
}

fn leaves(n: usize, salt: u64) -> Vec<Hash> {
    (0..n)
        .map(|i| merkle::leaf_hash(&[salt.to_be_bytes(), (i as u64).to_be_bytes()].concat()))
        .collect()
}

fn stored(leaves: &[Hash]) -> Vec<Hash> {
    let mut stored = Vec::new();
    for (i, leaf) in leaves.iter().enumerate() {
        let new = merkle::stored_hashes_for_record(i as u64, *leaf, &stored)
            .expect("reads what it stored");
        stored.extend(new);
    }
    assert_eq!(
        stored.len() as u64,
        merkle::stored_hash_count(leaves.len() as u64)
    );
    stored
}

#[test]
fn every_index_and_every_older_size_up_to_130_leaves() {
    let all = leaves(130, 1);
    let store = stored(&all);
    let mut builder = RootBuilder::default();
    for n in 0..=all.len() {
        let root = naive_root(&all[..n]);
        assert_eq!(merkle::tree_hash(n as u64, &store), Ok(root), "root of {n}");
        assert_eq!(builder.root(), root, "builder root of {n}");
        if let Some(leaf) = all.get(n) {
            builder.push(*leaf);
        }
        for m in 0..n {
            let proof = merkle::inclusion_proof(n as u64, m as u64, &store).expect("proof");
            assert_eq!(proof, naive_path(m, &all[..n]), "path of {m} in {n}");
            assert_eq!(
                merkle::verify_inclusion(&proof, n as u64, &root, m as u64, &all[m]),
                Ok(())
            );
        }
        for old in 0..=n {
            let proof = merkle::consistency_proof(n as u64, old as u64, &store).expect("proof");
            let expected = if old == 0 {
                Vec::new()
            } else {
                naive_subproof(old, &all[..n], true)
            };
            assert_eq!(proof, expected, "consistency {old} -> {n}");
            let old_root = naive_root(&all[..old]);
            assert_eq!(
                merkle::verify_consistency(&proof, n as u64, &root, old as u64, &old_root),
                Ok(())
            );
        }
    }
}

#[test]
fn bad_positions_are_errors() {
    let store = stored(&leaves(10, 2));
    assert_eq!(
        merkle::inclusion_proof(10, 10, &store),
        Err(MerkleError::IndexOutOfRange {
            index: 10,
            size: 10
        })
    );
    assert_eq!(
        merkle::consistency_proof(5, 6, &store),
        Err(MerkleError::SizesOutOfOrder { old: 6, new: 5 })
    );
    assert!(matches!(
        merkle::tree_hash(11, &store),
        Err(MerkleError::HashNotFound(_))
    ));
}

/// From the empty tree: exactly the empty proof, and only from the empty
/// tree's root H(""); between two empty trees, both roots H("").
#[test]
fn consistency_from_size_0_needs_the_empty_root() {
    let all = leaves(5, 3);
    let root = naive_root(&all);
    let empty = merkle::EMPTY_ROOT;
    let other = [7; 32];
    let check = |proof: &[Hash], new: (u64, Hash), old_root: Hash, expected| {
        assert_eq!(
            merkle::verify_consistency(proof, new.0, &new.1, 0, &old_root),
            expected,
            "0 -> {}",
            new.0
        );
    };
    check(&[], (5, root), empty, Ok(()));
    check(&[], (5, root), other, Err(MerkleError::ConsistencyMismatch));
    check(&[], (5, root), root, Err(MerkleError::ConsistencyMismatch));
    check(
        &[root],
        (5, root),
        other,
        Err(MerkleError::ConsistencyMismatch),
    );
    check(
        &[root],
        (5, root),
        empty,
        Err(MerkleError::ProofLength { got: 1, want: 0 }),
    );
    check(&[], (0, empty), empty, Ok(()));
    check(
        &[],
        (0, other),
        other,
        Err(MerkleError::ConsistencyMismatch),
    );
    check(
        &[],
        (0, other),
        empty,
        Err(MerkleError::ConsistencyMismatch),
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Random trees up to a few thousand leaves: sampled indexes and older
    /// sizes match the reference, and any flipped bit or wrong position is
    /// refused.
    #[test]
    fn large_random_trees(n in 1usize..3000, salt in any::<u64>(), picks in prop::collection::vec(any::<u64>(), 8)) {
        let all = leaves(n, salt);
        let store = stored(&all);
        let root = naive_root(&all);
        prop_assert_eq!(merkle::tree_hash(n as u64, &store), Ok(root));
        for pick in picks {
            let m = (pick % n as u64) as usize;
            let proof = merkle::inclusion_proof(n as u64, m as u64, &store).expect("proof");
            prop_assert_eq!(&proof, &naive_path(m, &all));
            prop_assert!(merkle::verify_inclusion(&proof, n as u64, &root, m as u64, &all[m]).is_ok());
            if n > 1 {
                let wrong = (m + 1) % n;
                prop_assert!(merkle::verify_inclusion(&proof, n as u64, &root, wrong as u64, &all[m]).is_err());
            }
            for (hash_idx, bit) in [(0usize, 0u8), (proof.len().saturating_sub(1), 7)] {
                if let Some(h) = proof.get(hash_idx) {
                    let mut bad = proof.clone();
                    bad[hash_idx][(pick % 32) as usize] ^= 1 << bit;
                    prop_assert_ne!(bad[hash_idx], *h);
                    prop_assert!(merkle::verify_inclusion(&bad, n as u64, &root, m as u64, &all[m]).is_err());
                }
            }
            let old = (pick % (n as u64 + 1)) as usize;
            let old_root = naive_root(&all[..old]);
            let proof = merkle::consistency_proof(n as u64, old as u64, &store).expect("proof");
            let expected = if old == 0 { Vec::new() } else { naive_subproof(old, &all, true) };
            prop_assert_eq!(&proof, &expected);
            prop_assert!(merkle::verify_consistency(&proof, n as u64, &root, old as u64, &old_root).is_ok());
            if !proof.is_empty() {
                let mut bad = proof.clone();
                bad[0][0] ^= 1;
                prop_assert!(merkle::verify_consistency(&bad, n as u64, &root, old as u64, &old_root).is_err());
            }
            if old > 0 && old < n {
                let mut other_root = old_root;
                other_root[31] ^= 1;
                prop_assert!(merkle::verify_consistency(&proof, n as u64, &root, old as u64, &other_root).is_err());
            }
        }
    }
}
