//! The one writer of the node's own log, with group commit.
//!
//! Publishers hold a cloneable [`Publisher`] and send requests over a bounded
//! channel; the writer task takes every request waiting (up to
//! [`MAX_GROUP`]), signs each entry and hands it to the store, which checks
//! it by the ledger's rules and stages it; the writer then signs the
//! checkpoint of the new tree, which goes in the same sled batch, flushes,
//! and only then answers each request. One flush per group is what keeps
//! durable publishing fast under load. The signing key lives here only: the
//! store receives signed bytes.
//!
//! Each group is stamped once with the writer's clock, or with the log's
//! last time if the clock reads earlier (it went back, say across a
//! restart): a log's times never decrease (PROTOCOL.md §3.1). A clock more
//! than the ledger's tolerance behind the log's last time makes every
//! publish refused until it is set right, rather than signing a time ahead
//! of it.

use std::sync::Arc;

use concord_keys::roster::Roster;
use concord_protocol::checkpoint::SignedCheckpoint;
use concord_protocol::entry::{self, NewEntry, Visibility};
use concord_protocol::ledger;
use concord_protocol::origin::Origin;
use concord_protocol::record::{Country, Record};
use ed25519_dalek::SigningKey;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::own_log::{OwnLog, Unconfirmed};
use crate::store::{AppendOutcome, OwnGroup, Rejected, Store, StoreError};

/// Most publishes committed by one flush.
pub const MAX_GROUP: usize = 1024;
/// Publishes waiting for the writer before senders wait too.
const QUEUE: usize = 4096;

/// One record to append to the node's own log.
#[derive(Debug, Clone)]
pub struct OwnEntry {
    pub record: Record,
    pub visibility: Visibility,
    /// For amendments and revocations: the index of the denial they change.
    pub refers_to: Option<u64>,
}

/// Why a publish was not acknowledged.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PublishError {
    // Not `#[from]`: that would make the refusal the error's source too,
    // and an error chain would print it twice.
    #[error("refused: {0}")]
    Rejected(Rejected),
    /// The own log's head is not confirmed with peers: nothing was signed.
    #[error("{0}")]
    Unconfirmed(Unconfirmed),
    /// The disk refused; the entry may or may not survive a restart, and was
    /// not acknowledged.
    #[error("not stored durably: {0}")]
    Storage(String),
    #[error("the node is shutting down")]
    ShuttingDown,
}

impl From<Rejected> for PublishError {
    fn from(rejected: Rejected) -> Self {
        Self::Rejected(rejected)
    }
}

/// A committed group: what the node gossips after the flush.
#[derive(Debug, Clone)]
pub struct Committed {
    pub entries: Vec<AppendOutcome>,
    pub checkpoint: SignedCheckpoint,
}

struct Request {
    entry: OwnEntry,
    reply: oneshot::Sender<Result<AppendOutcome, PublishError>>,
}

/// A handle to publish on the own log; cheap to clone.
#[derive(Clone)]
pub struct Publisher {
    tx: mpsc::Sender<Request>,
}

impl Publisher {
    /// Publishes one record and waits until it is durable.
    ///
    /// # Errors
    /// [`PublishError`] when it was refused or could not be made durable.
    pub async fn publish(&self, entry: OwnEntry) -> Result<AppendOutcome, PublishError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Request { entry, reply })
            .await
            .map_err(|_| PublishError::ShuttingDown)?;
        answer.await.map_err(|_| PublishError::ShuttingDown)?
    }
}

/// The writer's fixed inputs.
pub struct Writer {
    pub store: Store,
    pub origin: Origin,
    /// The member's roster country: the only state it publishes in the name of.
    pub country: Country,
    pub key: SigningKey,
    /// Seconds since the Unix epoch; passed in so tests can fix time.
    pub clock: fn() -> u64,
    /// Whether the log's head is confirmed with peers, asked before signing.
    pub own_log: OwnLog,
    /// The roster, which says the state of the log a consultation request
    /// is about.
    pub roster: Arc<Roster>,
}

/// Starts the writer task. It ends when `shutdown` fires or every
/// [`Publisher`] is dropped, after answering what it already took.
///
/// A write the disk refused stops the writer and cancels `shutdown`, so the
/// whole node stops: sled keeps what it applied before the failure in memory,
/// and a node that went on serving that state could hand peers a signed
/// checkpoint of entries that never reached the disk. The task then returns
/// the storage error; a restart recovers from what is on disk.
pub fn spawn(
    writer: Writer,
    committed: Option<mpsc::Sender<Committed>>,
    shutdown: CancellationToken,
) -> (Publisher, JoinHandle<Result<(), String>>) {
    let (tx, rx) = mpsc::channel(QUEUE);
    let task = tokio::spawn(run(writer, rx, committed, shutdown));
    (Publisher { tx }, task)
}

async fn run(
    writer: Writer,
    mut rx: mpsc::Receiver<Request>,
    committed: Option<mpsc::Sender<Committed>>,
    shutdown: CancellationToken,
) -> Result<(), String> {
    let mut result = Ok(());
    loop {
        let first = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            request = rx.recv() => match request {
                Some(r) => r,
                None => break,
            },
        };
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(request) => group.push(request),
                Err(_) => break,
            }
        }
        match commit_group(&writer, group).await {
            Ok(Some(done)) => {
                if let Some(tx) = &committed {
                    // The node core may lag; gossip is only the fast path, so
                    // a full queue costs latency, never correctness.
                    let _ = tx.send(done).await;
                }
            }
            Ok(None) => {}
            Err(why) => {
                tracing::error!(error = %why, "the disk refused a write; stopping the node (restart once there is room)");
                shutdown.cancel();
                result = Err(why);
                break;
            }
        }
    }
    rx.close();
    while let Ok(request) = rx.try_recv() {
        let _ = request.reply.send(Err(match &result {
            Ok(()) => PublishError::ShuttingDown,
            Err(why) => PublishError::Storage(why.clone()),
        }));
    }
    result
}

/// Commits one group. `Err` is a storage failure: every request of the group
/// was answered with it, and the writer must stop.
async fn commit_group(writer: &Writer, group: Vec<Request>) -> Result<Option<Committed>, String> {
    let (entries, replies): (Vec<OwnEntry>, Vec<_>) =
        group.into_iter().map(|r| (r.entry, r.reply)).unzip();
    // Nothing is signed before the head is confirmed: a store restored from
    // a backup would sign indexes its peers already hold. Recovery may grow
    // the head after this check, never shrink it, and the group is staged
    // from the head it has then.
    match writer.own_log.check(&writer.store) {
        Ok(Ok(())) => {}
        Ok(Err(unconfirmed)) => {
            for reply in replies {
                let _ = reply.send(Err(PublishError::Unconfirmed(unconfirmed.clone())));
            }
            return Ok(None);
        }
        Err(e) => return fail_all(replies, e.to_string()),
    }
    // A request's denying state is judged by the roster, which the store
    // does not hold: before anything is signed, as the store's rules are.
    let verdicts: Vec<Result<(), Rejected>> = entries
        .iter()
        .map(|own| {
            ledger::check_denying_state(&*writer.roster, &own.record).map_err(Rejected::from)
        })
        .collect();
    let entries: Vec<OwnEntry> = entries
        .into_iter()
        .zip(&verdicts)
        .filter(|(_, verdict)| verdict.is_ok())
        .map(|(own, _)| own)
        .collect();
    let store = writer.store.clone();
    let origin = writer.origin.clone();
    let country = writer.country;
    let key = writer.key.clone();
    let time = (writer.clock)();
    let staged = tokio::task::spawn_blocking(move || {
        append_own(&store, &origin, country, &key, time, &entries)
    })
    .await;
    let (outcomes, checkpoint) = match staged {
        Ok(Ok(done)) => done,
        Ok(Err(e)) => return fail_all(replies, e.to_string()),
        Err(join) => return fail_all(replies, format!("writer task failed: {join}")),
    };
    // The entries and the checkpoint covering them are flushed before anyone
    // hears they exist.
    if let Err(e) = writer.store.flush().await {
        return fail_all(replies, e.to_string());
    }
    let mut staged = outcomes.into_iter();
    let outcomes = verdicts.into_iter().map(|verdict| match verdict {
        Ok(()) => staged
            .next()
            .expect("one outcome for each entry that was staged"),
        Err(refused) => Err(refused),
    });
    let mut appended = Vec::with_capacity(replies.len());
    for (outcome, reply) in outcomes.zip(replies) {
        if let Ok(done) = &outcome {
            appended.push(done.clone());
        }
        let _ = reply.send(outcome.map_err(PublishError::from));
    }
    // One line per group: a burst of publishes is a few lines, not thousands.
    if let (Some(first), Some(last)) = (appended.first(), appended.last()) {
        tracing::info!(
            log = %writer.origin,
            first = first.index,
            last = last.index,
            entries = appended.len(),
            kind = %first.header.kind,
            "published on the own log"
        );
    }
    Ok(checkpoint.map(|checkpoint| Committed {
        entries: appended,
        checkpoint,
    }))
}

/// What [`append_own`] did with each record of a group, in order, and the
/// checkpoint it signed of the new tree: `None` when nothing went in.
pub type AppendedGroup = (
    Vec<Result<AppendOutcome, Rejected>>,
    Option<SignedCheckpoint>,
);

/// Signs `group` as the next entries of the own log `origin`, of a member
/// of `country`, each stamped `time` (the writer's clock) or the log's last
/// time if that is later, and stages them in `store`; then signs the
/// checkpoint of the new tree and commits entries and checkpoint in one
/// batch. Records the ledger refuses are reported one by one; the rest go
/// in. A group of which none goes in signs no checkpoint and changes
/// nothing (`None`), so the stored checkpoint keeps the cosignatures
/// witnesses added. Blocking: the writer runs it off the async threads.
///
/// The caller must [`Store::flush`] before acknowledging any of them: the
/// entries and the checkpoint covering them become durable together.
///
/// # Errors
/// [`StoreError`] when the store cannot be read or written; nothing is
/// applied.
pub fn append_own(
    store: &Store,
    origin: &Origin,
    country: Country,
    key: &SigningKey,
    time: u64,
    group: &[OwnEntry],
) -> Result<AppendedGroup, StoreError> {
    let mut staging = store.own_group(origin, country)?;
    // Checked before anything is signed: a quarantined log gets no new
    // signature, entry or checkpoint, that its peers would hold as more of
    // a fork.
    let open = staging.check_open()?;
    let mut outcomes = Vec::with_capacity(group.len());
    for own in group {
        outcomes.push(match &open {
            Ok(()) => sign_and_stage(&mut staging, origin, key, time, own)?,
            Err(closed) => Err(closed.clone()),
        });
    }
    if outcomes.iter().all(Result::is_err) {
        return Ok((outcomes, None));
    }
    let checkpoint = SignedCheckpoint::sign(staging.checkpoint()?, key);
    staging.commit(&checkpoint)?;
    Ok((outcomes, Some(checkpoint)))
}

/// Signs `own` as the group's next entry and stages it; `now` is the
/// writer's clock.
fn sign_and_stage(
    staging: &mut OwnGroup<'_>,
    origin: &Origin,
    key: &SigningKey,
    now: u64,
    own: &OwnEntry,
) -> Result<Result<AppendOutcome, Rejected>, StoreError> {
    let kind = own.record.kind();
    // The reference is checked before anything is signed: a refused entry
    // leaves no signature behind.
    let refers_to = match own.refers_to {
        None => None,
        Some(index) => match staging.refer_to(kind, index)? {
            Ok(reference) => Some(reference),
            Err(rejected) => return Ok(Err(rejected)),
        },
    };
    let payload = own.record.to_canonical_bytes();
    // A clock that went back never makes the log's time go back.
    let time = staging.last_time().map_or(now, |last| last.max(now));
    let new = NewEntry {
        origin,
        index: staging.next_index(),
        time,
        kind,
        refers_to,
        payload: &payload,
        visibility: own.visibility.clone(),
    };
    let signed = match entry::sign_entry(&new, key) {
        Ok(signed) => signed,
        Err(e) => return Ok(Err(e.into())),
    };
    staging.push(signed, payload, &own.record, now)
}

fn fail_all(
    replies: Vec<oneshot::Sender<Result<AppendOutcome, PublishError>>>,
    why: String,
) -> Result<Option<Committed>, String> {
    for reply in replies {
        let _ = reply.send(Err(PublishError::Storage(why.clone())));
    }
    Err(why)
}
