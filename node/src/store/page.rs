//! Pages: what the store keeps per entry of a log (the entry itself, a
//! denial's status) is stored sixteen entries to a sled value.
//!
//! sled 0.34 spends most of a write on the key, not on the bytes: one key
//! per entry cost about 9 µs of an append, a page of sixteen about 2 µs per
//! entry. Records are still read by (log, index): the page of entry `i` is
//! `i / 16` and its slot `i % 16`.
//!
//! A page's value is its records in slot order from slot 0, each a length
//! (u32, big-endian) followed by that many bytes. An entry page holds every
//! entry of its sixteen (only a log's last page may hold fewer); a status
//! page holds an empty record for an entry that is not a denial, and none
//! after the last denial.

/// Entries per page.
pub const ENTRIES: u64 = 16;

/// The page holding entry `index` and the entry's slot in it.
pub fn locate(index: u64) -> (u64, usize) {
    (index / ENTRIES, (index % ENTRIES) as usize)
}

/// Appends a record to `page`, written by `write` into the page's buffer.
pub fn push(page: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) {
    let at = page.len();
    page.extend_from_slice(&[0; 4]);
    write(page);
    let len = u32::try_from(page.len() - at - 4).expect("an entry record is far below 4 GiB");
    page[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

/// The records of a page in slot order; the first `Err` ends it: the page
/// is malformed from that slot on (a record cut short, or more than
/// [`ENTRIES`]).
pub fn records(page: &[u8]) -> Records<'_> {
    Records {
        rest: page,
        slot: 0,
    }
}

pub struct Records<'a> {
    rest: &'a [u8],
    slot: u64,
}

/// A page whose bytes do not split into records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

impl<'a> Iterator for Records<'a> {
    type Item = Result<&'a [u8], Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let record = (self.slot < ENTRIES)
            .then_some(self.rest)
            .and_then(<[u8]>::split_first_chunk::<4>)
            .and_then(|(len, rest)| {
                let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
                (len <= rest.len()).then(|| rest.split_at(len))
            })
            .map(|(record, rest)| {
                self.rest = rest;
                self.slot += 1;
                record
            })
            .ok_or(Malformed);
        if record.is_err() {
            self.rest = &[];
        }
        Some(record)
    }
}

/// Puts `record` in `slot` of `page`: the records before it kept (empty
/// ones added up to it), the one in it replaced, those after it kept. A
/// slot past the last record is appended in place; only a replacement
/// rewrites the page.
pub fn set_record(page: &mut Vec<u8>, slot: usize, record: &[u8]) -> Result<(), Malformed> {
    let count = usize::try_from(count(page)?).expect("at most sixteen");
    if slot >= count {
        for _ in count..slot {
            push(page, |_| {});
        }
        push(page, |buf| buf.extend_from_slice(record));
        return Ok(());
    }
    let mut new = Vec::with_capacity(page.len() + record.len());
    for (at, old) in records(page).enumerate() {
        let bytes = if at == slot { record } else { old? };
        push(&mut new, |buf| buf.extend_from_slice(bytes));
    }
    *page = new;
    Ok(())
}

/// How many records `page` holds, if it is well formed.
pub fn count(page: &[u8]) -> Result<u64, Malformed> {
    records(page).try_fold(0, |n, record| record.map(|_| n + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_back_in_slot_order_and_a_cut_page_is_malformed() {
        let mut page = Vec::new();
        for record in [&b"first"[..], b"", b"third record"] {
            push(&mut page, |buf| buf.extend_from_slice(record));
        }
        let back: Vec<_> = records(&page).collect();
        assert_eq!(back, [Ok(&b"first"[..]), Ok(b""), Ok(b"third record")]);
        assert_eq!(count(&page), Ok(3));

        for cut in [1, 4, 8, page.len() - 1] {
            assert_eq!(count(&page[..cut]), Err(Malformed), "cut at {cut}");
        }
        let mut full = Vec::new();
        for _ in 0..=ENTRIES {
            push(&mut full, |buf| buf.push(1));
        }
        assert_eq!(count(&full), Err(Malformed), "more than a page holds");
        assert_eq!(locate(35), (2, 3));
    }

    #[test]
    fn a_record_set_in_a_slot_keeps_the_others_and_fills_the_gap_with_empty_ones() {
        let mut page = Vec::new();
        set_record(&mut page, 2, b"c").expect("empty page");
        let back: Vec<_> = records(&page).collect();
        assert_eq!(back, [Ok(&b""[..]), Ok(b""), Ok(b"c")]);
        set_record(&mut page, 0, b"a").expect("well formed");
        set_record(&mut page, 2, b"changed").expect("well formed");
        let back: Vec<_> = records(&page).collect();
        assert_eq!(back, [Ok(&b"a"[..]), Ok(b""), Ok(b"changed")]);
        let mut cut = page[..7].to_vec();
        assert_eq!(set_record(&mut cut, 0, b"x"), Err(Malformed));
        assert_eq!(cut, page[..7], "a malformed page is left as it was");
    }

    proptest::proptest! {
        /// A page built record by record, or slot by slot, reads back as the
        /// list it models; bytes cut anywhere but between records do not read.
        #[test]
        fn pages_read_back_as_written(
            list in proptest::collection::vec(proptest::collection::vec(0u8..=255, 0..40), 0..=16),
            slot in 0usize..16,
            record in proptest::collection::vec(0u8..=255, 0..40),
            cut in 0usize..800,
        ) {
            let mut page = Vec::new();
            let mut ends = vec![0];
            for r in &list {
                push(&mut page, |buf| buf.extend_from_slice(r));
                ends.push(page.len());
            }
            let back: Vec<&[u8]> = records(&page).collect::<Result<_, _>>().expect("reads");
            proptest::prop_assert_eq!(&back, &list.iter().map(Vec::as_slice).collect::<Vec<_>>());

            let mut model = list.clone();
            if model.len() <= slot {
                model.resize(slot + 1, Vec::new());
            }
            model[slot].clone_from(&record);
            let mut set = page.clone();
            set_record(&mut set, slot, &record).expect("well formed");
            let back: Vec<&[u8]> = records(&set).collect::<Result<_, _>>().expect("reads");
            proptest::prop_assert_eq!(&back, &model.iter().map(Vec::as_slice).collect::<Vec<_>>());

            let cut = cut.min(page.len());
            let counted = count(&page[..cut]);
            match ends.iter().position(|&end| end == cut) {
                Some(n) => proptest::prop_assert_eq!(counted, Ok(n as u64)),
                None => proptest::prop_assert_eq!(counted, Err(Malformed)),
            }
        }
    }
}
