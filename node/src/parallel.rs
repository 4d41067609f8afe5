//! Pure work spread over every core with scoped threads: header decoding,
//! record validation and signature batches during ingest and audit.

/// Below this many items per core, threads cost more than they save.
const PARALLEL_MIN: usize = 32;

pub fn n_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// `items.iter().map(f).collect()`, in order, with the items split across
/// every core.
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    par_parts(items, |part| part.iter().map(&f).collect::<Vec<R>>())
        .into_iter()
        .flatten()
        .collect()
}

/// `f` of one contiguous part of `items` per core, in order; one part
/// when there are too few items to be worth the threads.
pub fn par_parts<T: Sync, R: Send>(items: &[T], f: impl Fn(&[T]) -> R + Sync) -> Vec<R> {
    if n_threads() < 2 || items.len() < 2 * PARALLEL_MIN {
        return vec![f(items)];
    }
    on_every_core(items, f)
}

/// `f` of one contiguous part of `items` per core, in order.
fn on_every_core<T: Sync, R: Send>(items: &[T], f: impl Fn(&[T]) -> R + Sync) -> Vec<R> {
    let chunk = items.len().div_ceil(n_threads()).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| f(part)))
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a worker of pure functions does not panic"))
            .collect()
    })
}
