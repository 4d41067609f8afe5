//! RFC 6962 / RFC 9162 Merkle trees over a store of hashes.
//!
//! Hashing: a leaf is SHA-256(0x00 || data); an interior node is
//! SHA-256(0x01 || left || right); the root of the empty tree is SHA-256("").
//! The tree of n leaves splits at k, the largest power of two smaller than n:
//! MTH(D[n]) = H(0x01 || MTH(D[0:k]) || MTH(D[k:n])).
//!
//! Storage: every complete subtree's hash is stored exactly once, at a
//! *stored-hash index* (the numbering of Go's `golang.org/x/mod/sumdb/tlog`).
//! Hashes are written in the order a log appends them: appending leaf n writes
//! its leaf hash, then the hash of every complete subtree that leaf closes
//! (one per trailing 1 bit of n). The hash of the n-th subtree of 2^level
//! leaves is at
//!
//! ```text
//! stored_hash_index(level, n) = i(n * 2^level + 2^level - 1 ... as level-0 position m) + level
//! where m = ((n << level) + (1 << level) - 1) and i(m) = m + m/2 + m/4 + ... (integer halving until 0)
//! ```
//!
//! so a store holds `stored_hash_count(n)` hashes after n leaves, and any root
//! or proof needs O(log n) of them, read through [`HashReader`] in one call.
//! Proofs are the RFC 9162 §2.1.3 inclusion path and §2.1.4 consistency
//! proof, the same lists Go's `tlog.ProveRecord` and `tlog.ProveTree` give.

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];
/// Length of a [`Hash`].
pub const HASH_SIZE: usize = 32;
/// Root of the empty tree: SHA-256 of no bytes.
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// Why a tree operation or a proof failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    #[error("index {index} is not below tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("old size {old} is larger than new size {new}")]
    SizesOutOfOrder { old: u64, new: u64 },
    #[error("proof has {got} hashes, a proof for these sizes has {want}")]
    ProofLength { got: usize, want: usize },
    #[error("inclusion proof does not match root")]
    InclusionMismatch,
    #[error("consistency proof does not match roots")]
    ConsistencyMismatch,
    #[error("hash {0} not found in store")]
    HashNotFound(u64),
}

/// SHA-256(0x00 || data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    Sha256::new()
        .chain_update([0x00])
        .chain_update(data)
        .finalize()
        .into()
}

/// SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Sha256::new()
        .chain_update([0x01])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// Where the hash of the `n`-th subtree of 2^`level` leaves is stored.
pub fn stored_hash_index(level: u8, n: u64) -> u64 {
    // The subtree is written right after the leaf that closes it, the last
    // leaf of the subtree, m; leaf m is written after m + m/2 + m/4 + ...
    // earlier hashes, and each closed level below this one adds one more.
    let mut m = n;
    for _ in 0..level {
        m = 2 * m + 1;
    }
    let mut index = 0u64;
    while m > 0 {
        index += m;
        m >>= 1;
    }
    index + u64::from(level)
}

/// The (level, n) of a stored-hash index: the inverse of
/// [`stored_hash_index`].
pub fn split_stored_hash_index(index: u64) -> (u8, u64) {
    // Find the leaf m whose writes cover `index`: leaf m's hash is at
    // stored_hash_index(0, m), followed by trailing_ones(m) subtree hashes.
    let mut lo = 0u64;
    let mut hi = index + 1;
    // Largest m with stored_hash_index(0, m) <= index.
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if stored_hash_index(0, mid) <= index {
            lo = mid
        } else {
            hi = mid
        }
    }
    let m = lo;
    let level = (index - stored_hash_index(0, m)) as u8;
    (level, m >> level)
}

/// Number of hashes stored for a tree of `n` leaves.
pub fn stored_hash_count(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    let last = n - 1;
    stored_hash_index(0, last) + 1 + u64::from(last.trailing_ones())
}

/// Reads stored hashes by stored-hash index. The only way the tree code
/// reaches storage.
pub trait HashReader {
    /// The hashes at `indexes`, in the same order.
    ///
    /// # Errors
    /// [`MerkleError::HashNotFound`] for an index the store does not hold.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, MerkleError>;
}

impl HashReader for [Hash] {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, MerkleError> {
        indexes
            .iter()
            .map(|i| {
                usize::try_from(*i)
                    .ok()
                    .and_then(|i| self.get(i))
                    .copied()
                    .ok_or(MerkleError::HashNotFound(*i))
            })
            .collect()
    }
}

impl HashReader for Vec<Hash> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, MerkleError> {
        self.as_slice().read_hashes(indexes)
    }
}

/// The hashes to store when leaf `n` (with hash `leaf`) is appended, starting
/// at index `stored_hash_count(n)`.
///
/// # Errors
/// A read failure of the left siblings it needs.
pub fn stored_hashes_for_record(
    n: u64,
    leaf: Hash,
    r: &(impl HashReader + ?Sized),
) -> Result<Vec<Hash>, MerkleError> {
    let closed = n.trailing_ones() as u8;
    // Left siblings: the subtrees of 2^level leaves just before, in
    // increasing stored order (largest subtree first).
    let indexes: Vec<u64> = (0..closed)
        .rev()
        .map(|level| stored_hash_index(level, (n >> level) - 1))
        .collect();
    let siblings = r.read_hashes(&indexes)?;
    let mut hashes = Vec::with_capacity(1 + usize::from(closed));
    let mut hash = leaf;
    hashes.push(hash);
    for sibling in siblings.iter().rev() {
        hash = node_hash(sibling, &hash);
        hashes.push(hash);
    }
    Ok(hashes)
}

/// Largest power of two strictly smaller than `n` (n >= 2), and its log2.
fn split_point(n: u64) -> (u64, u8) {
    debug_assert!(n >= 2);
    let level = 63 - (n - 1).leading_zeros() as u8;
    (1 << level, level)
}

/// Stored-hash indexes of the complete subtrees that make up leaves
/// `lo..hi`, left to right.
fn subtree_indexes(mut lo: u64, hi: u64, out: &mut Vec<u64>) {
    while lo < hi {
        // The largest aligned power of two that starts at lo and fits.
        let span = hi - lo;
        let mut level = 63 - span.leading_zeros() as u8;
        if lo != 0 {
            level = level.min(lo.trailing_zeros() as u8);
        }
        out.push(stored_hash_index(level, lo >> level));
        lo += 1 << level;
    }
}

/// Folds the complete-subtree hashes of one range (left to right) into the
/// range's MTH. Complete subtrees of a range that starts at a split point are
/// in decreasing size, so the fold is right to left.
fn fold_range(hashes: &[Hash]) -> Hash {
    let mut iter = hashes.iter().rev();
    let mut hash = *iter
        .next()
        .expect("a non-empty range has at least one subtree");
    for left in iter {
        hash = node_hash(left, &hash);
    }
    hash
}

/// Reads and folds the MTH of each range in `ranges`, in one read.
fn range_hashes(
    ranges: &[(u64, u64)],
    r: &(impl HashReader + ?Sized),
) -> Result<Vec<Hash>, MerkleError> {
    let mut indexes = Vec::with_capacity(ranges.len() * 2);
    let mut counts = Vec::with_capacity(ranges.len());
    for (lo, hi) in ranges {
        let before = indexes.len();
        subtree_indexes(*lo, *hi, &mut indexes);
        counts.push(indexes.len() - before);
    }
    let hashes = r.read_hashes(&indexes)?;
    let mut out = Vec::with_capacity(ranges.len());
    let mut at = 0;
    for count in counts {
        out.push(fold_range(&hashes[at..at + count]));
        at += count;
    }
    Ok(out)
}

/// Root of the tree of the first `size` leaves.
///
/// # Errors
/// A read failure.
pub fn tree_hash(size: u64, r: &(impl HashReader + ?Sized)) -> Result<Hash, MerkleError> {
    if size == 0 {
        return Ok(EMPTY_ROOT);
    }
    Ok(range_hashes(&[(0, size)], r)?[0])
}

/// The ranges whose MTHs form the inclusion path of `index` in `lo..hi`,
/// deepest first (RFC 9162 PATH).
fn path_ranges(mut index: u64, mut lo: u64, mut hi: u64) -> Vec<(u64, u64)> {
    let mut ranges = Vec::new();
    while hi - lo > 1 {
        let (k, _) = split_point(hi - lo);
        if index < k {
            ranges.push((lo + k, hi));
            hi = lo + k;
        } else {
            ranges.push((lo, lo + k));
            lo += k;
            index -= k;
        }
    }
    ranges.reverse();
    ranges
}

/// Inclusion proof of leaf `index` in the tree of `size` leaves.
///
/// # Errors
/// [`MerkleError::IndexOutOfRange`], or a read failure.
pub fn inclusion_proof(
    size: u64,
    index: u64,
    r: &(impl HashReader + ?Sized),
) -> Result<Vec<Hash>, MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    range_hashes(&path_ranges(index, 0, size), r)
}

/// Checks an inclusion proof (RFC 9162 §2.1.3.2).
///
/// # Errors
/// [`MerkleError::IndexOutOfRange`], [`MerkleError::ProofLength`] or
/// [`MerkleError::InclusionMismatch`].
pub fn verify_inclusion(
    proof: &[Hash],
    size: u64,
    root: &Hash,
    index: u64,
    leaf: &Hash,
) -> Result<(), MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    let want = path_ranges(index, 0, size).len();
    if proof.len() != want {
        return Err(MerkleError::ProofLength {
            got: proof.len(),
            want,
        });
    }
    let mut f_n = index;
    let mut s_n = size - 1;
    let mut hash = *leaf;
    for p in proof {
        if s_n == 0 {
            return Err(MerkleError::InclusionMismatch);
        }
        if f_n & 1 == 1 || f_n == s_n {
            hash = node_hash(p, &hash);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            hash = node_hash(&hash, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n == 0 && &hash == root {
        Ok(())
    } else {
        Err(MerkleError::InclusionMismatch)
    }
}

/// The ranges whose MTHs form the consistency proof from `old` to `new`,
/// in proof order (RFC 9162 SUBPROOF).
fn consistency_ranges(old: u64, new: u64) -> Vec<(u64, u64)> {
    // Walk down as SUBPROOF does, collecting the sibling ranges; they come
    // out deepest last, so the list is reversed at the end.
    let mut ranges = Vec::new();
    let (mut m, mut lo, mut hi) = (old, 0u64, new);
    let mut whole = true;
    loop {
        let n = hi - lo;
        if m == n {
            if !whole {
                ranges.push((lo, hi));
            }
            break;
        }
        let (k, _) = split_point(n);
        if m <= k {
            ranges.push((lo + k, hi));
            hi = lo + k;
        } else {
            ranges.push((lo, lo + k));
            lo += k;
            m -= k;
            whole = false;
        }
    }
    ranges.reverse();
    ranges
}

/// Consistency proof that the tree of `old_size` leaves is a prefix of the
/// tree of `new_size` leaves.
///
/// # Errors
/// [`MerkleError::SizesOutOfOrder`], or a read failure.
pub fn consistency_proof(
    new_size: u64,
    old_size: u64,
    r: &(impl HashReader + ?Sized),
) -> Result<Vec<Hash>, MerkleError> {
    if old_size > new_size {
        return Err(MerkleError::SizesOutOfOrder {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == 0 || old_size == new_size {
        return Ok(Vec::new());
    }
    range_hashes(&consistency_ranges(old_size, new_size), r)
}

/// Checks a consistency proof (RFC 9162 §2.1.4.2).
///
/// # Errors
/// [`MerkleError::SizesOutOfOrder`], [`MerkleError::ProofLength`] or
/// [`MerkleError::ConsistencyMismatch`].
pub fn verify_consistency(
    proof: &[Hash],
    new_size: u64,
    new_root: &Hash,
    old_size: u64,
    old_root: &Hash,
) -> Result<(), MerkleError> {
    if old_size > new_size {
        return Err(MerkleError::SizesOutOfOrder {
            old: old_size,
            new: new_size,
        });
    }
    // Every tree extends the empty one, whose root is H("") (RFC 9162
    // §2.1.1); a size-0 tree claimed with any other root is no tree.
    if old_size == 0 && *old_root != EMPTY_ROOT {
        return Err(MerkleError::ConsistencyMismatch);
    }
    if old_size == new_size || old_size == 0 {
        if !proof.is_empty() {
            return Err(MerkleError::ProofLength {
                got: proof.len(),
                want: 0,
            });
        }
        return if old_size != new_size || old_root == new_root {
            Ok(())
        } else {
            Err(MerkleError::ConsistencyMismatch)
        };
    }
    let want = consistency_ranges(old_size, new_size).len();
    if proof.len() != want {
        return Err(MerkleError::ProofLength {
            got: proof.len(),
            want,
        });
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let mut f_n = old_size - 1;
    let mut s_n = new_size - 1;
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let mut f_r = path[0];
    let mut s_r = path[0];
    for c in &path[1..] {
        if s_n == 0 {
            return Err(MerkleError::ConsistencyMismatch);
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if &f_r == old_root && &s_r == new_root && s_n == 0 {
        Ok(())
    } else {
        Err(MerkleError::ConsistencyMismatch)
    }
}

/// The root of a growing tree in O(log n) memory: the hashes of the complete
/// subtrees so far (a compact range from 0). Used to verify a log streamed
/// in order without storing it.
#[derive(Debug, Clone, Default)]
pub struct RootBuilder {
    size: u64,
    /// Complete subtree hashes, largest (leftmost) first.
    stack: Vec<Hash>,
}

impl RootBuilder {
    /// Appends the next leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut hash = leaf;
        // Each trailing 1 bit of the old size is a subtree this leaf closes.
        for _ in 0..self.size.trailing_ones() {
            let left = self
                .stack
                .pop()
                .expect("one stacked subtree per set bit of the size");
            hash = node_hash(&left, &hash);
        }
        self.stack.push(hash);
        self.size += 1;
    }

    /// Leaves pushed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Root of the leaves pushed so far.
    pub fn root(&self) -> Hash {
        match self.stack.split_last() {
            None => EMPTY_ROOT,
            Some((last, rest)) => rest
                .iter()
                .rev()
                .fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_hash_numbering_matches_append_order() {
        // After each leaf, the count equals the next free index, and every
        // index splits back into the (level, n) that produced it.
        let mut next = 0u64;
        for n in 0..300u64 {
            assert_eq!(stored_hash_index(0, n), next, "leaf {n}");
            next += 1;
            for level in 1..=n.trailing_ones() as u8 {
                assert_eq!(
                    stored_hash_index(level, n >> level),
                    next,
                    "leaf {n} level {level}"
                );
                next += 1;
            }
            assert_eq!(stored_hash_count(n + 1), next);
        }
        for index in 0..next {
            let (level, n) = split_stored_hash_index(index);
            assert_eq!(stored_hash_index(level, n), index);
        }
    }
}
