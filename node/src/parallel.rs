//! Pure work spread over every core: header decoding, record validation and
//! signature batches during ingest and audit. Runs on rayon's pool, whose
//! threads (and their allocator caches) live as long as the process.

use rayon::prelude::*;

/// Below this many items per core, splitting costs more than it saves.
const PARALLEL_MIN: usize = 32;

/// `items.iter().map(f).collect()`, in order, with the items split across
/// every core.
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    par_parts(items, |part| part.iter().map(&f).collect::<Vec<R>>())
        .into_iter()
        .flatten()
        .collect()
}

/// `f` of one contiguous part of `items` per core, in order; one part
/// when there are too few items to be worth splitting.
pub fn par_parts<T: Sync, R: Send>(items: &[T], f: impl Fn(&[T]) -> R + Sync) -> Vec<R> {
    let cores = rayon::current_num_threads();
    if cores < 2 || items.len() < 2 * PARALLEL_MIN {
        return vec![f(items)];
    }
    items
        .par_chunks(items.len().div_ceil(cores))
        .map(&f)
        .collect()
}
