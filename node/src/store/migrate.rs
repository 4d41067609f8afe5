//! Upgrades of older store formats, run by opening the store.

use super::{StoreError, keys, page};

/// Pages written per sled batch while upgrading; each batch is flushed, so
/// an upgrade cut short keeps what it did.
const PAGES_PER_BATCH: usize = 256;

/// Format 1 to 2: moves every entry and every denial status from a key of
/// its own into its page.
pub(super) fn into_pages(data: &sled::Tree) -> Result<(), StoreError> {
    move_into_pages(data, keys::LEGACY_ENTRY, keys::ENTRY_PAGE, Holes::Refused)?;
    move_into_pages(data, keys::LEGACY_STATUS, keys::STATUS_PAGE, Holes::Empty)
}

/// What a slot with no record in format 1 becomes in a page.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Holes {
    /// Entry pages are dense: an entry missing inside a page stops the
    /// upgrade.
    Refused,
    /// A status page holds an empty record for an entry that is no denial.
    Empty,
}

/// Moves the records under keys (`legacy`, log id, index) into pages under
/// (`paged`, log id, page number). Each page is written in the same batch
/// that removes its records' old keys, and batches hold whole pages, so an
/// upgrade cut short by a crash loses nothing and resumes where it stopped.
/// Stopped by a refused hole, it leaves that page's records under their old
/// keys.
fn move_into_pages(
    data: &sled::Tree,
    legacy: u8,
    paged: u8,
    holes: Holes,
) -> Result<(), StoreError> {
    let mut batch = sled::Batch::default();
    let mut pages = 0;
    // (log id, page number, next index, records) of the page being built.
    let mut open: Option<(u32, u64, u64, Vec<u8>)> = None;
    for item in data.scan_prefix([legacy]) {
        let (key, record) = item?;
        let (log_id, index) = keys::log_item_of(&key).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "a format-1 key is malformed: {}",
                hex::encode(&key)
            ))
        })?;
        let (number, _) = page::locate(index);
        let continues = open
            .as_ref()
            .is_some_and(|&(log, n, _, _)| log == log_id && n == number);
        if !continues {
            if let Some((log, n, _, records)) = open.take() {
                batch.insert(&keys::log_item_key(paged, log, n)[..], records);
                pages += 1;
                if pages % PAGES_PER_BATCH == 0 {
                    data.apply_batch(std::mem::take(&mut batch))?;
                    data.flush()?;
                }
            }
            open = Some((log_id, number, number * page::ENTRIES, Vec::new()));
        }
        let (_, _, next, records) = open.as_mut().expect("a page is open");
        while *next < index && holes == Holes::Empty {
            page::push(records, |_| {});
            *next += 1;
        }
        if index != *next {
            return Err(StoreError::Corrupt(format!(
                "entry {next} of log {log_id} is missing below entry {index}, so the store \
                 cannot be upgraded to format 2; no entry was lost: those not moved keep \
                 their format-1 keys"
            )));
        }
        page::push(records, |buf| buf.extend_from_slice(&record));
        batch.remove(key);
        *next += 1;
    }
    if let Some((log, n, _, records)) = open {
        batch.insert(&keys::log_item_key(paged, log, n)[..], records);
    }
    data.apply_batch(batch)?;
    Ok(())
}
