//! A progress bar on stderr for long work — an audit, an import or export,
//! a catch-up of a large log, a store indexed again — drawn only when
//! stderr is a terminal and the work is large: nothing reaches a log file
//! or a pipe.

/// A progress bar on stderr for large inputs, when stderr is a terminal.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    /// Inputs below this many entries finish too fast to need a bar.
    const MIN_ENTRIES: u64 = 10_000;

    pub fn new(wanted: bool) -> Self {
        use std::io::IsTerminal as _;
        let bar = (wanted && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::hidden();
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg:32} [{bar:40}] {pos}/{len} entries ({per_sec}, {eta} left)",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            bar
        });
        Self { bar }
    }

    /// A new log of `total` entries begins.
    pub fn start(&self, what: &str, total: u64) {
        if let Some(bar) = &self.bar {
            if total >= Self::MIN_ENTRIES {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            }
            bar.set_message(what.to_owned());
            bar.set_length(total);
            bar.set_position(0);
        }
    }

    pub fn advance(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A bar left behind by an early return is cleared all the same.
impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
