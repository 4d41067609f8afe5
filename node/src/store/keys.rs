//! Key layout of the `data` tree.
//!
//! Everything that must change together lives in one sled tree so that one
//! `apply_batch` makes it durable together: entries with their Merkle hashes, the head of
//! each log, verified checkpoints, payloads, denial status and search indexes.
//! The first byte of a key says what it holds; integers are big-endian so
//! that sled's byte order is numeric order.
//!
//! | prefix | rest of key                       | value                              |
//! |--------|-----------------------------------|------------------------------------|
//! | `B`    | log id u32, page u64 (index / 16) | the page's entry records (see `page.rs`), each: signature (64) ‖ header bytes ‖ the stored hashes its append closed (32 each, leaf first) ‖ their count (u8) |
//! | `S`    | log id u32                        | size u64 ‖ root (32)               |
//! | `C`    | log id u32, tree size u64         | checkpoint note, cosignatures incl. |
//! | `G`    | log id u32                        | verified checkpoint ahead of us    |
//! | `P`    | payload SHA-256 (32)              | payload bytes                      |
//! | `D`    | log id u32, page u64 (index / 16) | the page's denial statuses (JSON), an empty record for an entry that is no denial (see `page.rs`) |
//! | `R`    | log id u32, index u64             | purge record (JSON)                |
//! | `I`    | index kind u8, term, 0x00, log id, first index u64 | the indexes (u64 each) of one commit group's entries with that term (a consultation's kinds `q` and `r` have an entry reference `origin#index` as term) |
//! | `M`    | log id u32, index u64             | empty: the entry's payload is one this node may read and does not hold |
//! | `W`    | log id u32                        | u64: the entries below it were looked at for missing payloads |
//! | `Q`    | log id u32, index u64             | a denial's, amendment's or revocation's screening row (see `screen.rs`) |
//! | `X`    | log id u32                        | u64: the entries below it were indexed for screening, while a store is indexed again (see `screen.rs`) |
//!
//! Format 1 stored each entry and each denial status under a key of its own
//! (`E` or `T`, log id, index); opening such a store moves them into pages.

pub const ENTRY_PAGE: u8 = b'B';
/// Format 1's key of one entry.
pub const LEGACY_ENTRY: u8 = b'E';
pub const HEAD: u8 = b'S';
pub const CHECKPOINT: u8 = b'C';
pub const TARGET: u8 = b'G';
pub const PAYLOAD: u8 = b'P';
pub const STATUS_PAGE: u8 = b'D';
/// Format 1's key of one denial status.
pub const LEGACY_STATUS: u8 = b'T';
pub const PURGE: u8 = b'R';
pub const INDEX: u8 = b'I';
pub const MISSING: u8 = b'M';
pub const MISSING_SCANNED: u8 = b'W';
pub const SCREEN_ROW: u8 = b'Q';
pub const SCREEN_CURSOR: u8 = b'X';

/// The search indexes a screening query can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum IndexKind {
    Kind = b'k',
    Party = b'p',
    Country = b'c',
    ControlEntry = b'x',
    HsCode = b'h',
    /// Consultation requests by the denial they are about.
    ConsultedDenial = b'q',
    /// Consultation replies by the request they answer.
    AnsweredRequest = b'r',
}

pub fn log_key(prefix: u8, log_id: u32) -> [u8; 5] {
    let mut key = [0u8; 5];
    key[0] = prefix;
    key[1..5].copy_from_slice(&log_id.to_be_bytes());
    key
}

pub fn log_item_key(prefix: u8, log_id: u32, n: u64) -> [u8; 13] {
    let mut key = [0u8; 13];
    key[0] = prefix;
    key[1..5].copy_from_slice(&log_id.to_be_bytes());
    key[5..13].copy_from_slice(&n.to_be_bytes());
    key
}

/// The key of a log's entry page `number`.
pub fn entry_page_key(log_id: u32, number: u64) -> [u8; 13] {
    log_item_key(ENTRY_PAGE, log_id, number)
}

/// The key of a log's status page `number`.
pub fn status_page_key(log_id: u32, number: u64) -> [u8; 13] {
    log_item_key(STATUS_PAGE, log_id, number)
}

/// The log id and the u64 of a `log_item_key`.
pub fn log_item_of(key: &[u8]) -> Option<(u32, u64)> {
    let key: &[u8; 13] = key.try_into().ok()?;
    let log_id = u32::from_be_bytes(key[1..5].try_into().ok()?);
    Some((log_id, item_of(key)?))
}

/// The u64 at the end of a `log_item_key`.
pub fn item_of(key: &[u8]) -> Option<u64> {
    let tail: [u8; 8] = key.get(key.len().checked_sub(8)?..)?.try_into().ok()?;
    Some(u64::from_be_bytes(tail))
}

pub fn payload_key(digest: &[u8; 32]) -> [u8; 33] {
    let mut key = [0u8; 33];
    key[0] = PAYLOAD;
    key[1..].copy_from_slice(digest);
    key
}

/// Prefix of every index key for one term; terms never hold 0x00.
pub fn index_prefix(kind: IndexKind, term: &str) -> Vec<u8> {
    index_prefix_raw(kind as u8, term)
}

fn index_prefix_raw(kind: u8, term: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(3 + term.len());
    key.push(INDEX);
    key.push(kind);
    key.extend(term.bytes().filter(|b| *b != 0));
    key.push(0);
    key
}

pub fn index_key(kind: u8, term: &str, log_id: u32, first_index: u64) -> Vec<u8> {
    let mut key = index_prefix_raw(kind, term);
    key.extend_from_slice(&log_id.to_be_bytes());
    key.extend_from_slice(&first_index.to_be_bytes());
    key
}

/// The log id at the end of an index key.
pub fn index_log(key: &[u8]) -> Option<u32> {
    let n = key.len().checked_sub(12)?;
    Some(u32::from_be_bytes(key.get(n..n + 4)?.try_into().ok()?))
}
