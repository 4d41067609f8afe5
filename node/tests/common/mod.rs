//! Fixtures of the node's formats for tests that reach its internals:
//! signed entries, bundle sections, and a store's sled database opened raw
//! (to tamper with it, or to turn it back into an older format). Shared by
//! the in-process tests here and, by path, by the black-box tests under the
//! top-level `tests/` that inspect a stopped node's store; process handling
//! is not here but in the harness, `concord-scenarios`.
#![allow(
    dead_code,
    reason = "each test file uses a different part of these fixtures"
)]

use std::path::Path;
use std::time::{Duration, Instant};

use concord_protocol::entry::{NewEntry, SignedEntry, Visibility, sign_entry};
use concord_protocol::origin::Origin;
use concord_protocol::record::Kind;

/// Entry `index` of `origin`'s log: a denial of `payload` visible to the
/// federation, signed by `key`, stamped a second per index after a fixed
/// time.
pub fn signed_denial(
    origin: &Origin,
    key: &ed25519_dalek::SigningKey,
    index: u64,
    payload: &[u8],
) -> SignedEntry {
    let new = NewEntry {
        origin,
        index,
        time: 1_763_935_200 + index,
        kind: Kind::Denial,
        refers_to: None,
        payload,
        visibility: Visibility::Federation,
    };
    sign_entry(&new, key).expect("signs")
}

/// Entries `0..n` of `id`'s log in the testnet under `dir`: denials of
/// `payload`, signed by its log key.
pub fn signed_denials(
    dir: &Path,
    id: &str,
    n: u64,
    payload: &[u8],
) -> Vec<concord_protocol::entry::SignedEntry> {
    let key = concord_node::home::Home::new(&dir.join(id))
        .identity()
        .expect("identity")
        .log_key
        .clone();
    let origin =
        concord_protocol::origin::Origin::for_member("pacific-alliance", id).expect("origin");
    (0..n)
        .map(|index| signed_denial(&origin, &key, index, payload))
        .collect()
}

/// The head of a bundle with payloads that the member of `home`, whose log
/// is `exporter`, exports: the home's roster files, a fixed creation time.
pub fn exporter_head(
    home: &concord_node::home::Home,
    exporter: &Origin,
) -> concord_node::bundle::Head {
    use base64::Engine as _;
    concord_node::bundle::Head {
        audience: None,
        created: 1_763_935_400,
        exporter: exporter.to_string(),
        federation: "pacific-alliance".into(),
        format: concord_node::bundle::FORMAT.into(),
        headers_only: false,
        rosters: home
            .roster_files()
            .expect("roster files")
            .iter()
            .map(|r| base64::engine::general_purpose::STANDARD.encode(r))
            .collect(),
    }
}

/// Begins `origin`'s section of a bundle: its head of `size` entries with
/// `root`, and a checkpoint of that tree signed by `key`.
pub fn begin_log<W: std::io::Write>(
    writer: &mut concord_node::bundle::BundleWriter<W>,
    origin: &Origin,
    size: u64,
    root: concord_protocol::merkle::Hash,
    key: &ed25519_dalek::SigningKey,
) {
    use concord_protocol::checkpoint::{Checkpoint, SignedCheckpoint};
    writer
        .log(origin, concord_node::store::LogHead { size, root })
        .expect("log");
    writer
        .checkpoint(&SignedCheckpoint::sign(
            Checkpoint::new(origin.clone(), size, root),
            key,
        ))
        .expect("checkpoint");
}

/// Opens a store's sled database raw, behind the store's back. A store
/// this process just dropped is released a moment later.
pub fn raw_sled(path: &Path) -> sled::Db {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match sled::open(path) {
            Ok(db) => return db,
            Err(e) if Instant::now() > deadline => panic!("raw open: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(25)),
        }
    }
}

/// Where each record of a page's value lies: records are sixteen entries
/// to a page (key `store::keys::entry_page_key(log, index / 16)` for
/// entries), each after its length (u32, big-endian).
pub fn page_records(page: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut records = Vec::new();
    let mut at = 0;
    while at < page.len() {
        let len = u32::from_be_bytes(page[at..at + 4].try_into().expect("length")) as usize;
        records.push(at + 4..at + 4 + len);
        at += 4 + len;
    }
    records
}

/// Where entry `index`'s record starts in the value of its page.
pub fn entry_in_page(page: &[u8], index: u64) -> usize {
    page_records(page)[(index % 16) as usize].start
}

/// Turns pages `first_page` and later of the store at `path` back into
/// format 1's keys (one per entry and one per denial status: `E` or `T`,
/// log id, index) and marks the store format 1, as an upgrade cut short
/// after `first_page` pages would leave it.
pub fn to_format_1(path: &Path, first_page: u64) {
    let db = raw_sled(path);
    let data = db.open_tree("data").expect("data");
    for (paged, legacy) in [(b'B', b'E'), (b'D', b'T')] {
        for item in data.scan_prefix([paged]) {
            let (key, page) = item.expect("page");
            let number = u64::from_be_bytes(key[5..13].try_into().expect("page number"));
            if number < first_page {
                continue;
            }
            for (index, record) in (number * 16..).zip(page_records(&page)) {
                // A status page's empty record stands for an entry that is no denial.
                if !record.is_empty() {
                    let mut key_1 = key[..5].to_vec();
                    key_1[0] = legacy;
                    key_1.extend_from_slice(&index.to_be_bytes());
                    data.insert(key_1, &page[record]).expect("write");
                }
            }
            data.remove(key).expect("remove");
        }
    }
    db.open_tree("meta")
        .expect("meta")
        .insert("format", &1u32.to_be_bytes())
        .expect("write");
    db.flush().expect("flush");
}

/// The last base64 character before the padding of the text that begins at
/// `at` in `line`, with one padding bit set: a lenient decoder reads the
/// same bytes, so only the canonical-base64 rule can see the change.
pub fn set_padding_bit(line: &mut String, at: usize) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let padding = at + line[at..].find('=').expect("padded base64");
    let last = padding - 1;
    let value = ALPHABET
        .iter()
        .position(|&c| c == line.as_bytes()[last])
        .expect("a base64 character");
    let changed = char::from(ALPHABET[value ^ 1]).to_string();
    line.replace_range(last..padding, &changed);
}

/// A federation of cl, mx and pe (and `observers`, `id:CC`) under a temp
/// dir, each home with the roster every member signed; no node runs.
pub struct Fed {
    _dir: tempfile::TempDir,
    pub root: std::path::PathBuf,
    pub roster: concord_keys::roster::Roster,
}

impl Fed {
    pub fn new(observers: &[&str]) -> Fed {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().to_path_buf();
        concord_node::testnet::build(&concord_node::testnet::Plan {
            dir: root.clone(),
            members: vec!["cl".into(), "mx".into(), "pe".into()],
            observers: observers.iter().map(|o| (*o).to_owned()).collect(),
            federation: "pacific-alliance".into(),
            sync_interval_ms: 1000,
        })
        .expect("testnet builds");
        let roster = concord_node::home::Home::new(&root.join("mx"))
            .roster()
            .expect("roster installed");
        Fed {
            _dir: dir,
            root,
            roster,
        }
    }

    pub fn home(&self, id: &str) -> concord_node::home::Home {
        concord_node::home::Home::new(&self.root.join(id))
    }

    pub fn identity(&self, id: &str) -> concord_keys::AgencyIdentity {
        self.home(id).identity().expect("identity")
    }

    pub fn origin(&self, id: &str) -> Origin {
        Origin::for_member("pacific-alliance", id).expect("origin")
    }

    pub fn store(&self, id: &str) -> concord_node::store::Store {
        concord_node::store::Store::open(&self.home(id).db_path()).expect("store opens")
    }
}
