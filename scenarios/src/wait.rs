//! Waiting: poll a condition until it holds or its deadline passes. The
//! harness never sleeps for a fixed time hoping something happened; a wait
//! ends as soon as its condition holds, and names what it waited for when
//! it does not.

use std::time::{Duration, Instant};

use crate::Error;

/// The longest pause between two polls: short beside any deadline here.
const MAX_PAUSE: Duration = Duration::from_millis(100);

/// Polls `step` until it answers `true`, starting with short pauses and
/// growing them to a tenth of a second.
///
/// # Errors
/// [`Error::Timeout`] naming `what` once `limit` passed, or the first error
/// `step` returns (e.g. a process that exited while it was waited for).
pub fn poll(
    limit: Duration,
    what: &str,
    mut step: impl FnMut() -> Result<bool, Error>,
) -> Result<(), Error> {
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(5);
    loop {
        if step()? {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::Timeout {
                what: what.to_owned(),
                after: limit,
            });
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// Polls `condition` until it holds; panics naming `what` after `limit`.
#[track_caller]
pub fn wait_until(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    if let Err(e) = poll(limit, what, || Ok(condition())) {
        panic!("{e}");
    }
}
