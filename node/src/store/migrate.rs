//! Upgrades of older store formats, run by opening the store.

use super::{StoreError, keys, page};

/// Pages written per sled batch while upgrading.
const PAGES_PER_BATCH: usize = 1024;

/// Format 1 to 2: moves every entry from a key of its own into its page.
///
/// Each page is written in the same batch that removes its entries' old
/// keys, and batches hold whole pages, so an upgrade cut short by a crash
/// loses nothing and resumes where it stopped. An entry missing inside a
/// page cannot be represented; the upgrade then stops with an error and
/// leaves that page's entries under their old keys.
pub(super) fn entries_into_pages(data: &sled::Tree) -> Result<(), StoreError> {
    let mut batch = sled::Batch::default();
    let mut pages = 0;
    // (log id, page number, next index, records) of the page being built.
    let mut open: Option<(u32, u64, u64, Vec<u8>)> = None;
    for item in data.scan_prefix([keys::LEGACY_ENTRY]) {
        let (key, record) = item?;
        let (log_id, index) = legacy_key(&key).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "a format-1 entry key is malformed: {}",
                hex::encode(&key)
            ))
        })?;
        let (number, slot) = page::locate(index);
        let continues = open
            .as_ref()
            .is_some_and(|&(log, n, _, _)| log == log_id && n == number);
        if !continues {
            if let Some((log, n, _, records)) = open.take() {
                batch.insert(&keys::page_key(log, n)[..], records);
                pages += 1;
                if pages % PAGES_PER_BATCH == 0 {
                    data.apply_batch(std::mem::take(&mut batch))?;
                }
            }
            open = Some((log_id, number, index - slot as u64, Vec::new()));
        }
        let (_, _, next, records) = open.as_mut().expect("a page is open");
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
        batch.insert(&keys::page_key(log, n)[..], records);
    }
    data.apply_batch(batch)?;
    Ok(())
}

/// The log id and index of a format-1 entry key.
fn legacy_key(key: &[u8]) -> Option<(u32, u64)> {
    (key.len() == 13).then_some(())?;
    let log_id = u32::from_be_bytes(key[1..5].try_into().ok()?);
    Some((log_id, keys::item_of(key)?))
}
