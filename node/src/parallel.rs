//! Pure work spread over every core with scoped threads: header decoding,
//! record validation and signature batches during ingest and audit.

/// Below this many items per core, threads cost more than they save.
const PARALLEL_MIN: usize = 32;

/// Cores this process may use.
pub fn cores() -> usize {
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
    if cores() < 2 || items.len() < 2 * PARALLEL_MIN {
        return vec![f(items)];
    }
    on_every_core(items, f)
}

/// `f` of one contiguous part of `items` per core, in order.
fn on_every_core<T: Sync, R: Send>(items: &[T], f: impl Fn(&[T]) -> R + Sync) -> Vec<R> {
    let chunk = items.len().div_ceil(cores()).max(1);
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

/// Jobs on threads of their own, at most one more than there are cores,
/// whose results come back in the order the jobs were started: the caller
/// reads the next input and applies the oldest result while the others
/// run. The extra job keeps a core busy when a newer job ends before the
/// oldest, which the caller waits for.
pub struct InOrder<'s, 'e, T> {
    scope: &'s std::thread::Scope<'s, 'e>,
    running: std::collections::VecDeque<std::thread::ScopedJoinHandle<'s, T>>,
}

impl<'s, 'e, T: Send + 's> InOrder<'s, 'e, T> {
    pub fn new(scope: &'s std::thread::Scope<'s, 'e>) -> Self {
        Self {
            scope,
            running: std::collections::VecDeque::new(),
        }
    }

    /// Starts `job`, first taking the oldest result if as many jobs as
    /// [`InOrder`] allows are running already.
    pub fn start(&mut self, job: impl FnOnce() -> T + Send + 's) -> Option<T> {
        let oldest = if self.running.len() > cores() {
            self.oldest()
        } else {
            None
        };
        self.running.push_back(self.scope.spawn(job));
        oldest
    }

    /// Whether no job runs.
    pub fn is_idle(&self) -> bool {
        self.running.is_empty()
    }

    /// The oldest result, once its job is done; `None` when none runs.
    pub fn oldest(&mut self) -> Option<T> {
        let job = self.running.pop_front()?;
        // Jobs return their errors; a panic is a bug, and is passed on.
        Some(
            job.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        )
    }
}
