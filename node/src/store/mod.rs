//! The node's sled database: a verified replica of every member's log.
//!
//! Only this module touches sled. It holds, in one `data` tree (layout in
//! [`keys`]), the entries of every log verbatim, the Merkle hashes that answer
//! any root or proof in O(log n) reads, verified checkpoints with their
//! cosignatures, payloads by digest, denial status and search indexes. Beside
//! it: `meta` (format version, log ids), `pending` (entries that arrived ahead
//! of a gap), `evidence` (equivocation proofs), `quarantine` and `decisions`.
//!
//! Invariants, each enforced where the write happens:
//! - an entry is written only after it verified, in the same atomic batch as
//!   its Merkle hashes and the new head of its log;
//! - a stored index is never overwritten: other bytes for it become evidence;
//! - a checkpoint is stored only if its root is the root of the stored tree at
//!   its size, or it is kept aside as the target that sync must reach;
//! - nothing is acknowledged before `flush` returned.

mod alerts;
mod checkpoints;
pub mod keys;
mod migrate;
mod missing;
mod own;
mod page;
mod pending;
mod query;
mod replica;
mod screen;
mod staging;

pub use checkpoints::CheckpointOutcome;
pub use own::OwnGroup;
pub use query::{EvidenceRecord, PurgeRecord, QuarantineRecord};
pub use replica::IngestOutcome;
pub use screen::{Chain, Indexed, Screened, ScreeningIndex};
pub use staging::{AppendOutcome, Rejected};

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use concord_protocol::checkpoint::SignedCheckpoint;
use concord_protocol::entry::SignedEntry;
use concord_protocol::merkle::{self, Hash, HashReader, MerkleError};
use concord_protocol::origin::Origin;

use keys::{log_item_key, log_key};

/// The store format this code writes. A store of a newer format is refused;
/// one of an older format is upgraded on open.
pub const FORMAT_VERSION: u32 = 2;
/// Most entries held aside per log while a gap before them is open.
pub const MAX_PENDING_PER_LOG: usize = 4096;

/// What can go wrong with the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the store at {0} is in use by another process (is a node already running with this home?)"
    )]
    Locked(String),
    #[error(
        "the store was written by a newer Concord (format {found}, this build reads up to {FORMAT_VERSION}); upgrade before opening it"
    )]
    NewerFormat { found: u32 },
    #[error("the store is corrupt: {0}")]
    Corrupt(String),
    #[error("storage I/O failed: {0}")]
    Io(String),
    #[error("log {0} is not known to this store")]
    UnknownLog(Origin),
    #[error("index {index} is beyond the {size} entries of {origin}")]
    OutOfRange {
        origin: Origin,
        index: u64,
        size: u64,
    },
    #[error("merkle: {0}")]
    Merkle(#[from] MerkleError),
    #[error("the checkpoint of size {size} to commit is not of the staged tree (size {staged})")]
    CheckpointNotStaged { size: u64, staged: u64 },
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        match e {
            sled::Error::Corruption { .. } => StoreError::Corrupt(e.to_string()),
            other => StoreError::Io(other.to_string()),
        }
    }
}

/// Size and root of one log as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogHead {
    pub size: u64,
    pub root: Hash,
}

impl LogHead {
    pub const EMPTY: LogHead = LogHead {
        size: 0,
        root: merkle::EMPTY_ROOT,
    };

    fn encode(&self) -> [u8; 40] {
        let mut out = [0u8; 40];
        out[..8].copy_from_slice(&self.size.to_be_bytes());
        out[8..].copy_from_slice(&self.root);
        out
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        let size = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
        let root: Hash = bytes.get(8..40)?.try_into().ok()?;
        (bytes.len() == 40).then_some(Self { size, root })
    }
}

/// One checkpoint as the store holds it.
#[derive(Debug, Clone)]
pub struct StoredCheckpoint {
    /// The tree size its key files it under.
    pub size: u64,
    /// The signed note, or why its bytes do not parse as one.
    pub note: Result<SignedCheckpoint, String>,
}

/// Opens sled, waiting up to [`LOCK_WAIT`] for a lock that is being
/// released: sled's background threads let go of the file a moment after
/// the last handle in this process dropped it. Public for tests that
/// damage a store behind its back.
///
/// # Errors
/// [`StoreError::Locked`] when the lock is still held after the wait.
pub fn open_sled(path: &Path) -> Result<sled::Db, StoreError> {
    // sled would create the directory with the umask's mode (0755,
    // typically): made first, it is private, since it holds members-only
    // payloads.
    crate::home::create_private_dir(path)
        .map_err(|e| StoreError::Io(format!("creating {}: {e}", path.display())))?;
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match sled::Config::new().path(path).open() {
            Ok(db) => return Ok(db),
            Err(sled::Error::Io(io))
                if io.kind() == std::io::ErrorKind::WouldBlock
                    || io.to_string().contains("lock") =>
            {
                if std::time::Instant::now() >= deadline {
                    return Err(StoreError::Locked(path.display().to_string()));
                }
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
            Err(other) => return Err(other.into()),
        }
    }
}

/// How long opening waits for a lock to be released.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// A handle on the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: sled::Db,
    data: sled::Tree,
    meta: sled::Tree,
    pending: sled::Tree,
    evidence: sled::Tree,
    quarantine: sled::Tree,
    decisions: sled::Tree,
    /// Log ids by origin, and the reverse; loaded on open.
    log_ids: Mutex<LogIds>,
    /// Serialise the appends to each log so that its head only moves
    /// forward. Logs map onto them by id, so a long replica ingest does not
    /// hold up publishing to the own log.
    write: [Mutex<()>; WRITE_LOCKS],
    /// Each log's stored hashes in memory; see [`HashCache`].
    hashes: Mutex<HashCache>,
    /// Set only by [`Store::skip_screening_index`], a benchmark's baseline.
    screening_skipped: AtomicBool,
    /// The screening index in memory (see `screen.rs`).
    screen: screen::Shared,
}

/// Append locks; logs beyond this many share them.
const WRITE_LOCKS: usize = 16;

/// Bound on cached hashes over all logs, counted as allocated: 128 MiB,
/// the hashes of two million entries.
const MAX_CACHED_HASHES: usize = 1 << 22;

/// Each log's stored hashes from its first on, as far as they are filled:
/// 32 bytes each, about two per entry.
///
/// A proof needs about two hashes per level of the tree. Read from sled,
/// each is a read of the entry that closed its subtree, and between one in
/// ten and one in a hundred such reads stalls for 100–300 µs while sled
/// moves a batch of recent accesses to the front of its cache's LRU list. So proofs read hashes
/// from here; a hash never changes once its entry is committed, so nothing
/// is ever invalidated. A log's hashes are filled from sled by the first
/// read that needs them, and extended by each group once sled applied it.
#[derive(Default)]
struct HashCache {
    logs: HashMap<u32, Vec<Hash>>,
    total: usize,
}

impl HashCache {
    /// How many of the log's stored hashes are cached.
    fn len(&self, log_id: u32) -> u64 {
        self.logs.get(&log_id).map_or(0, |l| l.len() as u64)
    }

    fn get(&self, log_id: u32, idx: u64) -> Option<Hash> {
        let log = self.logs.get(&log_id)?;
        log.get(usize::try_from(idx).ok()?).copied()
    }

    /// Appends `hashes`, stored from index `first` on, if they continue what
    /// is cached of the log and fit the bound; says whether they did. The
    /// bound counts what the vectors hold allocated, not just their hashes.
    fn extend(&mut self, log_id: u32, first: u64, mut hashes: Vec<Hash>) -> bool {
        if self.len(log_id) != first || hashes.is_empty() {
            return false;
        }
        let log = self.logs.entry(log_id).or_default();
        let old = log.capacity();
        let others = self.total - old;
        let need = log.len() + hashes.len();
        let fits = |capacity: usize| others + capacity <= MAX_CACHED_HASHES;
        if log.is_empty() {
            hashes.shrink_to_fit();
            if !fits(hashes.capacity()) {
                return false;
            }
            *log = hashes;
        } else {
            let grown = if need <= old { old } else { need.max(2 * old) };
            let capacity = match (fits(grown), fits(need)) {
                (true, _) => grown,
                (false, true) => need,
                (false, false) => return false,
            };
            log.reserve_exact(capacity - log.len());
            log.extend_from_slice(&hashes);
        }
        self.total = others + log.capacity();
        true
    }

    /// How many more hashes the bound leaves room for.
    fn room(&self) -> usize {
        MAX_CACHED_HASHES - self.total
    }
}

#[derive(Default)]
struct LogIds {
    by_origin: HashMap<Origin, u32>,
    by_id: HashMap<u32, Origin>,
}

impl Store {
    /// Opens (or creates) the store at `path` and checks what it reads.
    ///
    /// # Errors
    /// [`StoreError::Locked`] when another process holds it,
    /// [`StoreError::NewerFormat`], or [`StoreError::Corrupt`] naming the log
    /// whose tail does not match its head or checkpoint.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let store = Self::open_for_audit(path)?;
        store.check_tails()?;
        store.index_for_screening()?;
        Ok(store)
    }

    /// Opens the store without checking the logs' tails, so that an audit can
    /// report everything wrong with a store that [`Store::open`] refuses.
    ///
    /// # Errors
    /// [`StoreError::Locked`], [`StoreError::NewerFormat`], or a store whose
    /// metadata cannot be read.
    pub fn open_for_audit(path: &Path) -> Result<Store, StoreError> {
        let db = open_sled(path)?;
        let meta = db.open_tree("meta")?;
        let data = db.open_tree("data")?;
        let found = match meta.get("format")? {
            None => FORMAT_VERSION,
            Some(raw) => u32::from_be_bytes(
                raw.as_ref()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("format version is not 4 bytes".into()))?,
            ),
        };
        if found > FORMAT_VERSION {
            return Err(StoreError::NewerFormat { found });
        }
        if found < 2 {
            tracing::info!(
                from = found,
                to = FORMAT_VERSION,
                "upgrading the store: entries and statuses into pages (about 30 s per million entries)"
            );
            let started = std::time::Instant::now();
            migrate::into_pages(&data)?;
            tracing::info!(seconds = started.elapsed().as_secs_f64(), "store upgraded");
        }
        if meta.get("format")?.as_deref() != Some(&FORMAT_VERSION.to_be_bytes()[..]) {
            meta.insert("format", &FORMAT_VERSION.to_be_bytes())?;
            db.flush()?;
        }
        let store = Store {
            inner: Arc::new(Inner {
                data,
                pending: db.open_tree("pending")?,
                evidence: db.open_tree("evidence")?,
                quarantine: db.open_tree("quarantine")?,
                decisions: db.open_tree("decisions")?,
                meta,
                db,
                log_ids: Mutex::new(LogIds::default()),
                write: std::array::from_fn(|_| Mutex::new(())),
                hashes: Mutex::new(HashCache::default()),
                screening_skipped: AtomicBool::new(false),
                screen: screen::Shared::default(),
            }),
        };
        store.load_log_ids()?;
        Ok(store)
    }

    fn load_log_ids(&self) -> Result<(), StoreError> {
        let mut ids = self.lock_ids();
        for item in self.inner.meta.scan_prefix(b"log:") {
            let (key, value) = item?;
            let origin = std::str::from_utf8(&key[4..])
                .ok()
                .and_then(|s| Origin::new(s).ok())
                .ok_or_else(|| {
                    StoreError::Corrupt("a log id is registered under an invalid origin".into())
                })?;
            let id =
                u32::from_be_bytes(value.as_ref().try_into().map_err(|_| {
                    StoreError::Corrupt(format!("log id of {origin} is not 4 bytes"))
                })?);
            ids.by_id.insert(id, origin.clone());
            ids.by_origin.insert(origin, id);
        }
        Ok(())
    }

    /// On open: every log's head must match its last entry, its stored hashes
    /// and its latest checkpoint. Reading is cheap (O(log n) per log).
    fn check_tails(&self) -> Result<(), StoreError> {
        for (origin, log_id) in self.log_ids() {
            let head = self.head_of(log_id)?;
            let reader = self.uncached_reader(log_id);
            if head.size > 0 {
                let last = self.entry_by_id(log_id, head.size - 1)?.ok_or_else(|| {
                    StoreError::Corrupt(format!("{origin}: entry {} is missing", head.size - 1))
                })?;
                let stored_leaf =
                    reader.read_hashes(&[merkle::stored_hash_index(0, head.size - 1)])?;
                if stored_leaf.first() != Some(&last.leaf_hash()) {
                    return Err(StoreError::Corrupt(format!(
                        "{origin}: entry {} does not match its stored leaf hash",
                        head.size - 1
                    )));
                }
            }
            if self.stored_entries(log_id)? > head.size {
                return Err(StoreError::Corrupt(format!(
                    "{origin}: an entry is stored past the head ({})",
                    head.size
                )));
            }
            let root = merkle::tree_hash(head.size, &reader)?;
            if root != head.root {
                return Err(StoreError::Corrupt(format!(
                    "{origin}: stored hashes do not give the head's root"
                )));
            }
            if let Some(checkpoint) = self.checkpoint_by_id(log_id)? {
                let cp = &checkpoint.checkpoint;
                if cp.size > head.size || merkle::tree_hash(cp.size, &reader)? != cp.root {
                    return Err(StoreError::Corrupt(format!(
                        "{origin}: latest checkpoint (size {}) does not match the stored tree",
                        cp.size
                    )));
                }
            }
        }
        Ok(())
    }

    fn lock_ids(&self) -> std::sync::MutexGuard<'_, LogIds> {
        lock(&self.inner.log_ids)
    }

    fn lock_log(&self, log_id: u32) -> std::sync::MutexGuard<'_, ()> {
        lock(&self.inner.write[log_id as usize % WRITE_LOCKS])
    }

    /// Every log this store knows, with its id.
    fn log_ids(&self) -> Vec<(Origin, u32)> {
        let ids = self.lock_ids();
        let mut logs: Vec<_> = ids
            .by_origin
            .iter()
            .map(|(o, id)| (o.clone(), *id))
            .collect();
        logs.sort();
        logs
    }

    fn log_id(&self, origin: &Origin) -> Option<u32> {
        self.lock_ids().by_origin.get(origin).copied()
    }

    fn origin_of(&self, log_id: u32) -> Option<Origin> {
        self.lock_ids().by_id.get(&log_id).cloned()
    }

    /// The id of `origin`, registering it (durably) on first use.
    fn ensure_log_id(&self, origin: &Origin) -> Result<u32, StoreError> {
        let mut ids = self.lock_ids();
        if let Some(id) = ids.by_origin.get(origin) {
            return Ok(*id);
        }
        let id = u32::try_from(ids.by_origin.len())
            .map_err(|_| StoreError::Corrupt("too many logs".into()))?;
        let mut key = b"log:".to_vec();
        key.extend_from_slice(origin.as_str().as_bytes());
        self.inner.meta.insert(key, &id.to_be_bytes())?;
        ids.by_id.insert(id, origin.clone());
        ids.by_origin.insert(origin.clone(), id);
        Ok(id)
    }

    fn head_of(&self, log_id: u32) -> Result<LogHead, StoreError> {
        match self.inner.data.get(log_key(keys::HEAD, log_id))? {
            None => Ok(LogHead::EMPTY),
            Some(raw) => LogHead::decode(&raw)
                .ok_or_else(|| StoreError::Corrupt(format!("head of log {log_id} is malformed"))),
        }
    }

    /// Size and root of `origin`'s log (empty if unknown).
    ///
    /// # Errors
    /// [`StoreError`] on a read failure or a malformed head.
    pub fn head(&self, origin: &Origin) -> Result<LogHead, StoreError> {
        match self.log_id(origin) {
            Some(id) => self.head_of(id),
            None => Ok(LogHead::EMPTY),
        }
    }

    /// Every known log and its head, ordered by origin.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure.
    pub fn logs(&self) -> Result<Vec<(Origin, LogHead)>, StoreError> {
        self.log_ids()
            .into_iter()
            .map(|(origin, id)| Ok((origin, self.head_of(id)?)))
            .collect()
    }

    /// What `read` takes from entry `index`'s stored record, if the entry is
    /// stored; a record `read` cannot take apart is corrupt.
    fn with_entry<T>(
        &self,
        log_id: u32,
        index: u64,
        read: impl FnOnce(&[u8]) -> Option<T>,
    ) -> Result<Option<T>, StoreError> {
        let (number, slot) = page::locate(index);
        let Some(raw) = self.inner.data.get(keys::entry_page_key(log_id, number))? else {
            return Ok(None);
        };
        match page::records(&raw).nth(slot) {
            None => Ok(None),
            Some(record) => record.ok().and_then(read).map(Some).ok_or_else(|| {
                StoreError::Corrupt(format!("entry {index} of log {log_id} is malformed"))
            }),
        }
    }

    /// Visits the stored records of entries `from..=to` of a log in order
    /// while `visit` returns true, and stops before the first entry that is
    /// not stored.
    fn scan_entries(
        &self,
        log_id: u32,
        from: u64,
        to: u64,
        mut visit: impl FnMut(u64, &[u8]) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        if from > to {
            return Ok(());
        }
        let range = keys::entry_page_key(log_id, page::locate(from).0)
            ..=keys::entry_page_key(log_id, page::locate(to).0);
        let mut next = from;
        for item in self.inner.data.range(range) {
            let (key, raw) = item?;
            let number = keys::item_of(&key).unwrap_or(u64::MAX);
            if number != page::locate(next).0 {
                return Ok(());
            }
            for (index, record) in (number * page::ENTRIES..).zip(page::records(&raw)) {
                let record = record.map_err(|_| {
                    StoreError::Corrupt(format!("entry {index} of log {log_id} is malformed"))
                })?;
                if index < next {
                    continue;
                }
                if index > to || !visit(index, record)? {
                    return Ok(());
                }
                next = index + 1;
            }
            if page::locate(next).1 != 0 {
                return Ok(());
            }
        }
        Ok(())
    }

    /// How many entries of a log are stored, counted up to the end of its
    /// last page.
    fn stored_entries(&self, log_id: u32) -> Result<u64, StoreError> {
        let Some(last) = self
            .inner
            .data
            .scan_prefix(log_key(keys::ENTRY_PAGE, log_id))
            .next_back()
        else {
            return Ok(0);
        };
        let (key, raw) = last?;
        let number = keys::item_of(&key).unwrap_or(u64::MAX);
        let count = page::count(&raw).map_err(|_| {
            StoreError::Corrupt(format!("entry page {number} of log {log_id} is malformed"))
        })?;
        Ok(number.saturating_mul(page::ENTRIES).saturating_add(count))
    }

    fn entry_by_id(&self, log_id: u32, index: u64) -> Result<Option<SignedEntry>, StoreError> {
        self.with_entry(log_id, index, decode_entry)
    }

    /// The `time` of stored entry `index`, below the head: the time the
    /// next entry may not go back from.
    fn entry_time(&self, log_id: u32, index: u64) -> Result<u64, StoreError> {
        let entry = self.entry_by_id(log_id, index)?;
        let header = entry.and_then(|entry| entry.decode_header().ok());
        header.map(|header| header.time).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "entry {index} of log {log_id}, below the head, is missing or malformed"
            ))
        })
    }

    /// Entry `index` of `origin`, verbatim.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure or a malformed record.
    pub fn entry(&self, origin: &Origin, index: u64) -> Result<Option<SignedEntry>, StoreError> {
        match self.log_id(origin) {
            Some(id) => self.entry_by_id(id, index),
            None => Ok(None),
        }
    }

    /// Up to `limit` consecutive entries of `origin` from `start`.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure or a malformed record.
    pub fn entries(
        &self,
        origin: &Origin,
        start: u64,
        limit: u64,
    ) -> Result<Vec<SignedEntry>, StoreError> {
        let Some(log_id) = self.log_id(origin) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        self.scan_entries(
            log_id,
            start,
            start.saturating_add(limit - 1),
            |index, raw| {
                out.push(decode_entry(raw).ok_or_else(|| {
                    StoreError::Corrupt(format!("entry {index} of {origin} is malformed"))
                })?);
                Ok(true)
            },
        )?;
        Ok(out)
    }

    /// The payload with this digest, unless absent or purged.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure.
    pub fn payload(&self, digest: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .inner
            .data
            .get(keys::payload_key(digest))?
            .map(|v| v.to_vec()))
    }

    fn checkpoint_by_id(&self, log_id: u32) -> Result<Option<SignedCheckpoint>, StoreError> {
        let prefix = log_key(keys::CHECKPOINT, log_id);
        match self.inner.data.scan_prefix(prefix).next_back() {
            None => Ok(None),
            Some(item) => {
                let (_, raw) = item?;
                SignedCheckpoint::parse(&raw).map(Some).map_err(|e| {
                    StoreError::Corrupt(format!("stored checkpoint of log {log_id}: {e}"))
                })
            }
        }
    }

    /// The latest verified checkpoint of `origin` that the stored tree matches.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure or a malformed note.
    pub fn checkpoint(&self, origin: &Origin) -> Result<Option<SignedCheckpoint>, StoreError> {
        match self.log_id(origin) {
            Some(id) => self.checkpoint_by_id(id),
            None => Ok(None),
        }
    }

    /// The stored checkpoint of `origin` at tree size `size`, if any.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure or a malformed note.
    pub fn checkpoint_at(
        &self,
        origin: &Origin,
        size: u64,
    ) -> Result<Option<SignedCheckpoint>, StoreError> {
        let Some(log_id) = self.log_id(origin) else {
            return Ok(None);
        };
        let Some(raw) = self
            .inner
            .data
            .get(log_item_key(keys::CHECKPOINT, log_id, size))?
        else {
            return Ok(None);
        };
        SignedCheckpoint::parse(&raw)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("stored checkpoint {size} of {origin}: {e}")))
    }

    /// Every stored checkpoint of `origin`, oldest first, each with the size
    /// its key names and the note as parsed, or why it does not parse: an
    /// auditor reports a damaged note rather than stopping at it.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure.
    pub fn checkpoints(&self, origin: &Origin) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let Some(log_id) = self.log_id(origin) else {
            return Ok(Vec::new());
        };
        self.inner
            .data
            .scan_prefix(log_key(keys::CHECKPOINT, log_id))
            .map(|item| {
                let (key, raw) = item?;
                let size = keys::item_of(&key)
                    .ok_or_else(|| StoreError::Corrupt("checkpoint key of bad length".into()))?;
                Ok(StoredCheckpoint {
                    size,
                    note: SignedCheckpoint::parse(&raw).map_err(|e| e.to_string()),
                })
            })
            .collect()
    }

    /// Makes every write so far durable.
    ///
    /// # Errors
    /// [`StoreError::Io`] when the disk refuses (full, failing).
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.inner.db.flush_async().await?;
        Ok(())
    }

    /// Makes every write so far durable, blocking the caller.
    ///
    /// # Errors
    /// [`StoreError::Io`] when the disk refuses (full, failing).
    pub fn flush_blocking(&self) -> Result<(), StoreError> {
        self.inner.db.flush()?;
        Ok(())
    }

    /// Caches every log's stored hashes now (up to the bound), so that the
    /// first proof of each log does not wait while they are read: about 2 s
    /// for a log of a million entries.
    ///
    /// # Errors
    /// [`StoreError`] when a log's head cannot be read.
    pub fn cache_hashes(&self) -> Result<(), StoreError> {
        for (_, log_id) in self.log_ids() {
            let head = self.head_of(log_id)?;
            if head.size > 0 {
                // Reading the last leaf fills everything before it; what cannot
                // be read is reported by the reads that need it.
                let _ = self
                    .hash_reader(log_id)
                    .read_hashes(&[merkle::stored_hash_index(0, head.size - 1)]);
            }
        }
        Ok(())
    }

    /// Caches the hashes a group stored from index `first` on, once sled
    /// applied it.
    fn remember_hashes(&self, log_id: u32, first: u64, hashes: Vec<Hash>) {
        lock(&self.inner.hashes).extend(log_id, first, hashes);
    }

    fn hash_reader(&self, log_id: u32) -> TreeReader<'_> {
        TreeReader {
            store: self,
            log_id,
            fill: true,
        }
    }

    /// A reader that uses what is cached but caches nothing more. Opening
    /// the store checks every log's tail with it, so that a command that
    /// only opens the store does not read every entry of every log.
    fn uncached_reader(&self, log_id: u32) -> TreeReader<'_> {
        TreeReader {
            store: self,
            log_id,
            fill: false,
        }
    }

    /// Root of `origin`'s tree at `size` (at most the stored size).
    ///
    /// # Errors
    /// [`StoreError::OutOfRange`] past the stored size.
    pub fn root_at(&self, origin: &Origin, size: u64) -> Result<Hash, StoreError> {
        let log_id = self
            .log_id(origin)
            .ok_or_else(|| StoreError::UnknownLog(origin.clone()))?;
        let head = self.head_of(log_id)?;
        if size > head.size {
            return Err(StoreError::OutOfRange {
                origin: origin.clone(),
                index: size,
                size: head.size,
            });
        }
        Ok(merkle::tree_hash(size, &self.hash_reader(log_id))?)
    }

    /// Inclusion proof of entry `index` in the tree of `size` leaves.
    ///
    /// # Errors
    /// [`StoreError::OutOfRange`] when `size` exceeds the stored log or
    /// `index` is not below `size`.
    pub fn inclusion_proof(
        &self,
        origin: &Origin,
        index: u64,
        size: u64,
    ) -> Result<Vec<Hash>, StoreError> {
        let log_id = self
            .log_id(origin)
            .ok_or_else(|| StoreError::UnknownLog(origin.clone()))?;
        let head = self.head_of(log_id)?;
        if size > head.size || index >= size {
            return Err(StoreError::OutOfRange {
                origin: origin.clone(),
                index,
                size: head.size.min(size),
            });
        }
        Ok(merkle::inclusion_proof(
            size,
            index,
            &self.hash_reader(log_id),
        )?)
    }

    /// Consistency proof from the tree of `old_size` leaves to `new_size`.
    ///
    /// # Errors
    /// [`StoreError::OutOfRange`] when `new_size` exceeds the stored log.
    pub fn consistency_proof(
        &self,
        origin: &Origin,
        old_size: u64,
        new_size: u64,
    ) -> Result<Vec<Hash>, StoreError> {
        let log_id = self
            .log_id(origin)
            .ok_or_else(|| StoreError::UnknownLog(origin.clone()))?;
        let head = self.head_of(log_id)?;
        if new_size > head.size {
            return Err(StoreError::OutOfRange {
                origin: origin.clone(),
                index: new_size,
                size: head.size,
            });
        }
        Ok(merkle::consistency_proof(
            new_size,
            old_size,
            &self.hash_reader(log_id),
        )?)
    }
}

/// A panic while holding one of the store's locks leaves what it guards
/// valid (each change is a single map operation), so poison is ignored.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reads a log's stored hashes: the hash of subtree (level, n) is kept in
/// the record of the entry that closed it, and in the hash cache.
struct TreeReader<'a> {
    store: &'a Store,
    log_id: u32,
    /// Whether reads fill the log's cached hashes.
    fill: bool,
}

impl TreeReader<'_> {
    /// Extends the log's cached hashes from sled until they hold stored
    /// hash `last`. Best effort: it stops at the bound, or at an entry it
    /// cannot read, which the direct read then reports. Sled is read without
    /// the cache's lock, so proofs and appends of every log go on meanwhile;
    /// what was read goes in only if it still continues the cache.
    fn fill_to(&self, last: u64) {
        let (have, room) = {
            let cache = lock(&self.store.inner.hashes);
            (cache.len(self.log_id), cache.room())
        };
        if have > last {
            return;
        }
        // What is cached always ends with a whole entry's hashes, so `have`
        // is the index of the next entry's leaf hash.
        let (_, from) = merkle::split_stored_hash_index(have);
        let (_, to) = closing_leaf(last);
        let mut hashes = Vec::new();
        // A read error ends the fill like a missing entry does.
        let _ = self.store.scan_entries(self.log_id, from, to, |_, raw| {
            let Some(stored) = entry_hashes(raw) else {
                return Ok(false);
            };
            if hashes.len() + stored.len() > room {
                return Ok(false);
            }
            hashes.extend(stored);
            Ok(true)
        });
        lock(&self.store.inner.hashes).extend(self.log_id, have, hashes);
    }

    /// Stored hash `idx`, read from the entry that closed its subtree.
    fn read_stored(&self, idx: u64) -> Result<Hash, MerkleError> {
        let (level, leaf) = closing_leaf(idx);
        self.store
            .with_entry(self.log_id, leaf, |raw| {
                entry_hashes(raw)?.nth(usize::from(level))
            })
            .ok()
            .flatten()
            .ok_or(MerkleError::HashNotFound(idx))
    }
}

/// The level of stored hash `idx` and the entry whose append stored it: the
/// last leaf of its subtree.
fn closing_leaf(idx: u64) -> (u8, u64) {
    let (level, n) = merkle::split_stored_hash_index(idx);
    (level, ((n + 1) << level) - 1)
}

impl HashReader for TreeReader<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, MerkleError> {
        if self.fill
            && let Some(&last) = indexes.iter().max()
        {
            self.fill_to(last);
        }
        let cached: Vec<Option<Hash>> = {
            let cache = lock(&self.store.inner.hashes);
            indexes
                .iter()
                .map(|&idx| cache.get(self.log_id, idx))
                .collect()
        };
        indexes
            .iter()
            .zip(cached)
            .map(|(&idx, hash)| hash.map_or_else(|| self.read_stored(idx), Ok))
            .collect()
    }
}

/// Writes an entry's record: signature (64) ‖ header bytes ‖ the stored
/// hashes its append produced (leaf hash first, 32 bytes each) ‖ their count
/// (1 byte). Keeping the hashes with the entry makes an append one write,
/// not three.
fn encode_entry(value: &mut Vec<u8>, entry: &SignedEntry, hashes: &[Hash]) {
    value.extend_from_slice(&entry.signature);
    value.extend_from_slice(&entry.header_bytes);
    for hash in hashes {
        value.extend_from_slice(hash);
    }
    value.push(u8::try_from(hashes.len()).expect("an append stores at most 65 hashes"));
}

/// Splits an entry's value into (signature and header, hashes).
fn split_entry(raw: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&count, rest) = raw.split_last()?;
    let hashes_len = 32 * usize::from(count);
    let header_end = rest.len().checked_sub(hashes_len)?;
    (header_end > 64).then(|| rest.split_at(header_end))
}

/// The stored hashes in an entry's record, leaf hash first.
fn entry_hashes(raw: &[u8]) -> Option<impl ExactSizeIterator<Item = Hash> + '_> {
    let (_, hashes) = split_entry(raw)?;
    Some(
        hashes
            .chunks_exact(32)
            .map(|h| h.try_into().expect("chunks of 32 bytes")),
    )
}

fn decode_entry(raw: &[u8]) -> Option<SignedEntry> {
    let (signed, _) = split_entry(raw)?;
    SignedEntry::from_parts(signed[64..].to_vec(), &signed[..64]).ok()
}

#[cfg(test)]
mod tests {
    use super::{HashCache, MAX_CACHED_HASHES};

    /// Only hashes that continue a log's cached prefix go in, so a hash is
    /// never cached at another index than its own.
    #[test]
    fn the_hash_cache_takes_only_what_continues_a_log() {
        let mut cache = HashCache::default();
        assert!(!cache.extend(1, 3, vec![[3; 32]]), "a gap before index 3");
        assert!(cache.extend(1, 0, vec![[0; 32], [1; 32]]));
        assert!(
            !cache.extend(1, 1, vec![[9; 32]]),
            "index 1 is cached already"
        );
        assert!(cache.extend(2, 0, vec![[7; 32]]), "logs are apart");
        assert!(cache.extend(1, 2, vec![[2; 32]]));
        assert_eq!(cache.len(1), 3);
        assert_eq!(cache.get(1, 1), Some([1; 32]));
        assert_eq!(cache.get(1, 3), None);
        assert_eq!(cache.get(2, 0), Some([7; 32]));
        let held: usize = cache.logs.values().map(Vec::capacity).sum();
        assert_eq!(cache.total, held, "the bound counts what is allocated");
    }

    /// The bound holds for what the vectors hold allocated: a log that would
    /// pass it is not cached, and one that grows towards it grows only by
    /// what fits.
    #[test]
    fn the_hash_cache_stays_within_its_bound() {
        let mut cache = HashCache::default();
        assert!(cache.extend(1, 0, vec![[1; 32]; 16]));
        assert!(
            !cache.extend(2, 0, vec![[2; 32]; MAX_CACHED_HASHES]),
            "past the bound"
        );
        assert_eq!(cache.len(2), 0);
        let rest = cache.room() - 1;
        assert!(cache.extend(3, 0, vec![[3; 32]; rest]));
        assert_eq!(cache.room(), 1);
        // Doubling log 1 would pass the bound; growing it by one fits.
        assert!(cache.extend(1, 16, vec![[1; 32]]));
        assert_eq!((cache.len(1), cache.room()), (17, 0));
        assert!(!cache.extend(1, 17, vec![[1; 32]]), "full");
    }
}
