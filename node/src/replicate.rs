//! The node core: turns network events into verified store writes, gossips
//! what this node committed, witnesses checkpoints, and runs anti-entropy.
//!
//! Two tasks share the store: the event task (gossip verdicts, serving sync
//! requests, gossiping own commits) and the anti-entropy task (asking peers
//! for their checkpoints and fetching what is missing). Anti-entropy runs on
//! its own so that awaiting a peer's answer never stalls the event queue.

use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use concord_keys::roster::{Role, Roster};
use concord_protocol::checkpoint::{self, SignedCheckpoint};
use concord_protocol::entry::{EntryHeader, SignedEntry, Visibility, WireEntry};
use concord_protocol::equivocation::EquivocationProof;
use concord_protocol::ledger::LedgerError;
use concord_protocol::origin::Origin;
use concord_protocol::record::Country;
use concord_protocol::wire::{
    self, Gossip, MAX_PROOFS, MAX_RANGE_ENTRIES, MAX_SYNC_RESPONSE_BYTES, SyncRequest, SyncResponse,
};
use ed25519_dalek::SigningKey;
use libp2p::PeerId;
use libp2p::gossipsub::MessageId;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::net::{NetError, NetEvent, NetHandle, Topic, Verdict};
use crate::own_log::OwnLog;
use crate::parallel::par_map;
use crate::publish::Committed;
use crate::store::{CheckpointOutcome, IngestOutcome, Rejected, Store, StoreError};

/// A witness identity: cosigns checkpoints this node verified.
#[derive(Clone)]
pub struct Witness {
    pub name: String,
    pub key: SigningKey,
}

/// What the node core needs, shared by its tasks.
#[derive(Clone)]
pub struct Core {
    pub store: Store,
    pub roster: Arc<Roster>,
    pub net: NetHandle,
    pub witness: Option<Witness>,
    pub clock: fn() -> u64,
    pub sync_interval: Duration,
    pub state: Arc<Mutex<SyncState>>,
    /// Work for the anti-entropy task that the event task noticed.
    pub hints: Hints,
    /// Days after a denial's validity ends before its payloads are purged;
    /// `None`: never.
    pub purge_after_days: Option<u32>,
    /// Drop every payload of other logs before storing (headers-only node).
    pub headers_only: bool,
    /// A member's own log, confirmed with peers after a start; `None` on
    /// an observer.
    pub own_log: Option<OwnLog>,
    /// This node's participant (its role and country): which payloads it
    /// may read, and so fetches until it holds them.
    pub reader: (Role, Country),
    /// Where ingest is timed and counted.
    pub metrics: crate::metrics::NodeMetrics,
}

/// How often the retention policy runs.
const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);

/// Sync work the event task hands to the anti-entropy task.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Hint {
    /// Fetch what this node lacks of `origin` off `peer`.
    CatchUp { peer: PeerId, origin: Origin },
    /// `peer` showed a checkpoint of `size` the stored tree contradicts.
    Diverged {
        peer: PeerId,
        origin: Origin,
        size: u64,
    },
    /// Fetch the payloads of `origin` this node may read and lacks, such as
    /// one that gossip carried a header without.
    Payloads { origin: Origin },
    /// Sync with `peer`, which just connected, at once: the own log awaits
    /// a peer's answer before anything is published.
    Confirm { peer: PeerId },
}

/// Capacity of the hint queue; when full, the next round finds the work anyway.
pub const HINT_QUEUE: usize = 1024;

/// The hint queue's sending end. A hint already waiting is not queued
/// again: a burst of gossip past one gap, or checkpoints ahead of the
/// stored tree, showed the same work hundreds of times, and each copy cost
/// the anti-entropy task a look at the store, or a request, before the
/// work it stood for got its turn.
#[derive(Debug, Clone)]
pub struct Hints {
    sender: mpsc::Sender<Hint>,
    waiting: Arc<Mutex<HashSet<Hint>>>,
}

impl Hints {
    /// A queue of [`HINT_QUEUE`] and its receiving end, whose every hint
    /// goes back through [`Hints::taken`].
    pub fn channel() -> (Hints, mpsc::Receiver<Hint>) {
        let (sender, receiver) = mpsc::channel(HINT_QUEUE);
        let hints = Hints {
            sender,
            waiting: Arc::default(),
        };
        (hints, receiver)
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, HashSet<Hint>> {
        self.waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues `hint` unless it is waiting already; returns whether it was
    /// queued.
    fn send(&self, hint: Hint) -> bool {
        let mut waiting = self.waiting();
        if waiting.contains(&hint) {
            return false;
        }
        match self.sender.try_send(hint.clone()) {
            Ok(()) => {
                waiting.insert(hint);
                true
            }
            Err(_) => {
                tracing::debug!("sync hint queue full; the next anti-entropy round will catch up");
                false
            }
        }
    }

    /// `hint` left the queue: the same work may be queued again.
    fn taken(&self, hint: &Hint) {
        self.waiting().remove(hint);
    }
}

/// What peers told this node, for `status`.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct SyncState {
    /// Largest verified checkpoint size seen per log, from any peer.
    pub seen_sizes: HashMap<String, u64>,
    /// Entries received by gossip and stored.
    pub gossip_appended: u64,
    /// Gossip messages rejected as invalid.
    pub gossip_rejected: u64,
    /// Entries fetched by anti-entropy and stored.
    pub synced_appended: u64,
    /// Payloads kept after their entries' headers, whichever path brought
    /// them.
    pub payloads_filled: u64,
    /// Entries that catch-up ranges brought which this node had already
    /// stored: bandwidth and verification spent for nothing. Catching up
    /// asks only from the stored head, so this grows only when gossip
    /// stored an entry of a range while the range was on its way.
    pub synced_duplicates: u64,
}

impl Core {
    fn now(&self) -> u64 {
        (self.clock)()
    }

    fn note_seen(&self, origin: &Origin, size: u64) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let seen = state.seen_sizes.entry(origin.to_string()).or_default();
        *seen = (*seen).max(size);
    }

    fn hint(&self, hint: Hint) {
        self.hints.send(hint);
    }

    fn count(&self, f: impl FnOnce(&mut SyncState)) {
        f(&mut self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner));
    }

    /// The own log, when `origin` is it.
    fn own_log_of(&self, origin: &Origin) -> Option<&OwnLog> {
        self.own_log.as_ref().filter(|own| own.origin() == origin)
    }

    /// Whether this node keeps payloads of this visibility: it may read
    /// them and is not a headers-only node.
    fn wants_payload(&self, visibility: &Visibility) -> bool {
        !self.headers_only && visibility.may_read(self.reader.0, &self.reader.1)
    }

    /// Whether the roster participant behind `peer` may read a payload.
    fn peer_may_read(&self, peer: &PeerId, visibility: &Visibility) -> bool {
        let peer_text = peer.to_string();
        self.roster
            .members
            .iter()
            .find(|m| m.peer_id == peer_text)
            .is_some_and(|m| visibility.may_read(m.role, &m.country))
    }
}

/// Starts the event task and the anti-entropy task; `hints` is the receiving
/// end of `core.hints`.
pub fn spawn(
    core: Core,
    events: mpsc::Receiver<NetEvent>,
    committed: mpsc::Receiver<Committed>,
    hints: mpsc::Receiver<Hint>,
    shutdown: CancellationToken,
) -> Vec<JoinHandle<()>> {
    let events_task = tokio::spawn(event_loop(
        core.clone(),
        events,
        committed,
        shutdown.clone(),
    ));
    let sync_task = tokio::spawn(anti_entropy_loop(core, hints, shutdown));
    vec![events_task, sync_task]
}

async fn event_loop(
    core: Core,
    mut events: mpsc::Receiver<NetEvent>,
    mut committed: mpsc::Receiver<Committed>,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            Some(done) = committed.recv() => gossip_committed(&core, done).await,
            event = events.recv() => match event {
                Some(event) => {
                    // What queued up while the last events were handled goes
                    // together: its gossiped entries reach the store in one
                    // call per log, at the pace of the store's pipeline
                    // rather than of one call per entry.
                    let mut queued = vec![event];
                    while queued.len() < CATCH_UP_BATCH
                        && let Ok(event) = events.try_recv()
                    {
                        queued.push(event);
                    }
                    handle_events(&core, queued).await;
                }
                None => break,
            },
        }
    }
}

async fn gossip_committed(core: &Core, done: Committed) {
    for appended in &done.entries {
        // Gossip reaches every roster participant, observers included, so it
        // carries only payloads they may all read; others are fetched by sync.
        let payload = match appended.header.payload.visibility {
            Visibility::Public | Visibility::Federation => Some(appended.payload.as_slice()),
            Visibility::Members | Visibility::Bilateral { .. } => None,
        };
        let message = Gossip::Entry {
            entry: appended.entry.to_wire(payload),
        };
        if let Err(e) = core.net.publish(Topic::Entries, &message).await {
            tracing::warn!(error = %e, index = appended.index, "could not gossip entry; sync will carry it");
        }
    }
    let note = String::from_utf8_lossy(&done.checkpoint.to_bytes()).into_owned();
    if let Err(e) = core
        .net
        .publish(Topic::Checkpoints, &Gossip::Checkpoint { note })
        .await
    {
        tracing::warn!(error = %e, "could not gossip checkpoint; sync will carry it");
    }
}

/// Handles `events` in order, except that gossiped entries wait for the
/// next event of another kind (or the end) and then go to the store
/// together ([`take_gossiped`]).
async fn handle_events(core: &Core, events: Vec<NetEvent>) {
    let mut gossiped = Vec::new();
    for event in events {
        match event {
            NetEvent::Gossip {
                source,
                message_id,
                message,
                ..
            } if matches!(*message, Gossip::Entry { .. }) => {
                if let Gossip::Entry { entry } = *message {
                    gossiped.push((source, message_id, entry));
                }
            }
            other => {
                take_gossiped(core, std::mem::take(&mut gossiped)).await;
                if let Err(e) = handle_event(core, other).await {
                    tracing::error!(error = %e, "store failure while handling a network event");
                }
            }
        }
    }
    take_gossiped(core, gossiped).await;
}

async fn handle_event(core: &Core, event: NetEvent) -> Result<(), StoreError> {
    match event {
        NetEvent::Gossip {
            source,
            message_id,
            message,
            ..
        } => {
            let verdict = match *message {
                Gossip::Entry { entry } => {
                    take_gossiped(core, vec![(source, message_id, entry)]).await;
                    return Ok(());
                }
                Gossip::Checkpoint { note } => {
                    take_checkpoint(core, source, note.as_bytes()).await?
                }
                Gossip::Equivocation { proof } => take_proof(core, source, proof).await?,
            };
            if verdict == Verdict::Reject {
                core.count(|s| s.gossip_rejected += 1);
                tracing::warn!(%source, "rejected an invalid gossip message");
            }
            core.net.report(message_id, source, verdict).await;
        }
        NetEvent::SyncRequest {
            peer,
            request,
            reply,
        } => {
            let response = serve(core, &peer, request).unwrap_or_else(|e| SyncResponse::Refused {
                reason: e.to_string(),
            });
            if reply.send(response).is_err() {
                tracing::debug!(%peer, "sync answer not delivered: the request already ended");
            }
        }
        NetEvent::PeerConnected { peer, .. } => {
            if core.own_log.as_ref().is_some_and(OwnLog::awaits_peers) {
                core.hint(Hint::Confirm { peer });
            }
        }
        // The network task already logs connections, refusals and listeners.
        NetEvent::PeerDisconnected { .. }
        | NetEvent::PeerRefused { .. }
        | NetEvent::Listening { .. } => {}
    }
    Ok(())
}

/// A gossiped entry, decoded, on its way to the store with others.
struct Gossiped {
    source: PeerId,
    message_id: MessageId,
    index: u64,
    /// Whether this node wants the payload the message came without (it
    /// may read it, and is not headers-only): sync then fetches it.
    fetch_payload: bool,
}

/// Gossiped entries of one log for one ingest call: at most one per index,
/// so that each refusal the store names by index names one message.
struct GossipedRun {
    origin: Origin,
    messages: Vec<Gossiped>,
    items: Vec<(SignedEntry, Option<Vec<u8>>)>,
    indexes: HashSet<u64>,
}

/// Stores gossiped entries with one ingest call per log (per run of
/// distinct indexes), and reports each message's verdict: accepted
/// (forwarded) if its entry was appended, ignored if it was already held,
/// is held past a gap (its relay is then asked for the gap) or came after
/// a refused entry, refused (its relay penalised) if the store refused it
/// for anything but a time ahead of this node's clock.
async fn take_gossiped(core: &Core, messages: Vec<(PeerId, MessageId, WireEntry)>) {
    let mut runs: Vec<GossipedRun> = Vec::new();
    for (source, message_id, entry) in messages {
        let decoded = entry.decode().ok().and_then(|(signed, payload)| {
            let header = signed.decode_header().ok()?;
            Some((signed, header, payload))
        });
        let Some((signed, header, payload)) = decoded else {
            core.count(|s| s.gossip_rejected += 1);
            tracing::warn!(%source, "rejected an undecodable gossiped entry");
            core.net.report(message_id, source, Verdict::Reject).await;
            continue;
        };
        let gossiped = Gossiped {
            source,
            message_id,
            index: header.index,
            fetch_payload: payload.is_none() && core.wants_payload(&header.payload.visibility),
        };
        let run = match runs.iter().rposition(|run| run.origin == header.origin) {
            Some(at) if !runs[at].indexes.contains(&header.index) => &mut runs[at],
            _ => {
                runs.push(GossipedRun {
                    origin: header.origin,
                    messages: Vec::new(),
                    items: Vec::new(),
                    indexes: HashSet::new(),
                });
                runs.last_mut().expect("just pushed")
            }
        };
        run.indexes.insert(gossiped.index);
        run.messages.push(gossiped);
        run.items.push((signed, payload));
    }
    for run in runs {
        if let Err(e) = take_run(core, run).await {
            tracing::error!(error = %e, "store failure while storing gossiped entries");
        }
    }
}

async fn take_run(core: &Core, run: GossipedRun) -> Result<(), StoreError> {
    let GossipedRun {
        origin,
        messages,
        items,
        ..
    } = run;
    let before = core.store.head(&origin)?.size;
    let outcome = ingest(core, &origin, move || items).await?;
    let after = core.store.head(&origin)?.size;
    core.count(|s| s.gossip_appended += outcome.appended);
    if outcome.appended > 0 {
        log_growth(core, &origin);
    }
    let refusals: HashMap<u64, &Rejected> = outcome.rejected.iter().map(|(i, r)| (*i, r)).collect();
    // A refusal of the whole call (a quarantined log) names no message's
    // index of its own: it holds for every message not otherwise placed.
    let whole_call = outcome
        .rejected
        .iter()
        .find(|(index, _)| !messages.iter().any(|m| m.index == *index))
        .map(|(_, rejected)| rejected);
    let mut asked_gap = HashSet::new();
    for message in messages {
        let appended = (before..after).contains(&message.index);
        let verdict = match refusals.get(&message.index).copied().or(whole_call) {
            // A time ahead of this node's clock may be this clock lagging,
            // not the sender lying: not forwarded, not punished; sync
            // brings the entry once the clock reaches it.
            Some(Rejected::Ledger(LedgerError::TimeAhead { .. })) => Verdict::Ignore,
            Some(_) if !appended => Verdict::Reject,
            _ if appended => Verdict::Accept,
            _ => Verdict::Ignore,
        };
        if message.index >= after && outcome.held > 0 && asked_gap.insert(message.source) {
            // A gap before it: fetch the missing range from the relay.
            core.hint(Hint::CatchUp {
                peer: message.source,
                origin: origin.clone(),
            });
        }
        if verdict == Verdict::Accept && message.fetch_payload {
            core.hint(Hint::Payloads {
                origin: origin.clone(),
            });
        }
        if verdict == Verdict::Reject {
            core.count(|s| s.gossip_rejected += 1);
            tracing::warn!(source = %message.source, "rejected an invalid gossip message");
        }
        core.net
            .report(message.message_id, message.source, verdict)
            .await;
    }
    Ok(())
}

/// The verdict on a gossiped equivocation proof: forwarded if it is valid
/// and new, ignored if its log is already quarantined.
async fn take_proof(
    core: &Core,
    source: PeerId,
    proof: EquivocationProof,
) -> Result<Verdict, StoreError> {
    match proof.verify(core.roster.as_ref()) {
        Ok(found) => {
            let known = core.store.quarantined(&found.origin)?.is_some();
            record_equivocation(core, proof, false).await?;
            Ok(if known {
                Verdict::Ignore
            } else {
                Verdict::Accept
            })
        }
        Err(e) => {
            tracing::warn!(%source, error = %e, "equivocation proof does not verify");
            Ok(Verdict::Reject)
        }
    }
}

/// Stores the entries `items` gives (verification happens in the store),
/// and turns any equivocation found into evidence. `items` runs with the
/// store's work, off the async threads: decoding a catch-up batch takes
/// milliseconds.
async fn ingest(
    core: &Core,
    origin: &Origin,
    items: impl FnOnce() -> Vec<(SignedEntry, Option<Vec<u8>>)> + Send + 'static,
) -> Result<IngestOutcome, StoreError> {
    let store = core.store.clone();
    let roster = core.roster.clone();
    let origin_owned = origin.clone();
    let headers_only = core.headers_only;
    let now = (core.clock)();
    let started = std::time::Instant::now();
    let outcome = tokio::task::spawn_blocking(move || {
        let mut items = items();
        if headers_only {
            items.iter_mut().for_each(|(_, payload)| *payload = None);
        }
        store.ingest(&origin_owned, items, roster.as_ref(), now)
    })
    .await
    .map_err(|e| StoreError::Io(format!("ingest task failed: {e}")))??;
    core.metrics
        .ingest_seconds
        .observe(started.elapsed().as_secs_f64());
    core.metrics.ingested.inc_by(outcome.appended);
    if outcome.appended > 0 {
        tracing::info!(
            member = %member_of(core, origin),
            entries = outcome.appended,
            size = core.store.head(origin)?.size,
            "stored entries of a member's log"
        );
    }
    for (index, rejected) in &outcome.rejected {
        tracing::warn!(%origin, index, reason = %rejected, "entry refused");
    }
    for proof in &outcome.equivocations {
        record_equivocation(core, proof.clone(), true).await?;
    }
    core.count(|s| s.payloads_filled += outcome.payloads_filled);
    if outcome.appended > 0 {
        maybe_cosign(core, origin).await?;
    }
    Ok(outcome)
}

async fn take_checkpoint(core: &Core, source: PeerId, note: &[u8]) -> Result<Verdict, StoreError> {
    match core.store.accept_checkpoint(note, core.roster.as_ref())? {
        Err(rejected) => {
            tracing::warn!(%source, reason = %rejected, "checkpoint refused");
            Ok(Verdict::Reject)
        }
        Ok(outcome) => {
            let Ok(signed) = SignedCheckpoint::parse(note) else {
                return Ok(Verdict::Reject);
            };
            let origin = signed.checkpoint.origin.clone();
            core.note_seen(&origin, signed.checkpoint.size);
            // A checkpoint of the own log, signed by this member's key, is
            // how far this node signed; one the store contradicts is a fork.
            if let Some(own_log) = core.own_log_of(&origin) {
                match outcome {
                    CheckpointOutcome::Inconsistent { size, .. } => own_log.contradicted(size),
                    _ => own_log.peer_holds(signed.checkpoint.size),
                }
            }
            match outcome {
                CheckpointOutcome::Stored { .. } => {
                    maybe_cosign(core, &origin).await?;
                    Ok(Verdict::Accept)
                }
                CheckpointOutcome::Known | CheckpointOutcome::Older => Ok(Verdict::Ignore),
                CheckpointOutcome::Ahead { .. } => {
                    core.hint(Hint::CatchUp {
                        peer: source,
                        origin,
                    });
                    Ok(Verdict::Accept)
                }
                CheckpointOutcome::Inconsistent { size, proof } => {
                    tracing::error!(%origin, size, "checkpoint inconsistent with the stored tree");
                    match proof {
                        Some(proof) => record_equivocation(core, proof, true).await?,
                        // The peer's entries below that size that differ from
                        // ours become an entry proof.
                        None => core.hint(Hint::Diverged {
                            peer: source,
                            origin,
                            size,
                        }),
                    }
                    Ok(Verdict::Reject)
                }
            }
        }
    }
}

/// Keeps `proof` and quarantines its log (the store's one step for every
/// path that finds a proof), then, with `gossip`, tells the peers.
async fn record_equivocation(
    core: &Core,
    proof: EquivocationProof,
    gossip: bool,
) -> Result<(), StoreError> {
    let Ok(found) = core
        .store
        .record_equivocation(proof.clone(), core.roster.as_ref(), core.now())
        .await?
    else {
        return Ok(());
    };
    tracing::error!(
        member = %member_of(core, &found.origin),
        origin = %found.origin,
        position = found.position,
        "equivocation proven; log quarantined"
    );
    if gossip
        && let Err(e) = core
            .net
            .publish(Topic::Checkpoints, &Gossip::Equivocation { proof })
            .await
    {
        tracing::warn!(error = %e, "could not gossip equivocation proof");
    }
    Ok(())
}

/// Cosigns the latest stored checkpoint of `origin` if this node witnesses
/// and has not cosigned it yet; the stored tree already matched it.
async fn maybe_cosign(core: &Core, origin: &Origin) -> Result<(), StoreError> {
    let Some(witness) = &core.witness else {
        return Ok(());
    };
    // A log's own member is no witness of it (PROTOCOL.md §5).
    if witness.name == origin.as_str() {
        return Ok(());
    }
    let Some(mut latest) = core.store.checkpoint(origin)? else {
        return Ok(());
    };
    let verifier = checkpoint::CosignatureVerifier::new(&witness.name, witness.key.verifying_key())
        .expect("a witness name from the roster is a valid key name");
    if matches!(verifier.verify(&latest), Ok(Some(_))) {
        return Ok(());
    }
    let line = checkpoint::cosign(&latest, &witness.name, &witness.key, core.now());
    if latest.add_cosignature(line).is_err() {
        return Ok(());
    }
    let bytes = latest.to_bytes();
    core.store
        .accept_checkpoint(&bytes, core.roster.as_ref())?
        .ok();
    tracing::info!(
        member = %member_of(core, origin),
        size = latest.checkpoint.size,
        "cosigned a checkpoint as witness"
    );
    let note = String::from_utf8_lossy(&bytes).into_owned();
    if let Err(e) = core
        .net
        .publish(Topic::Checkpoints, &Gossip::Checkpoint { note })
        .await
    {
        tracing::debug!(error = %e, "could not gossip cosignature");
    }
    Ok(())
}

/// Answers a peer's sync request from the store, payloads as visibility allows.
fn serve(core: &Core, peer: &PeerId, request: SyncRequest) -> Result<SyncResponse, StoreError> {
    if request.check().is_err() {
        return Ok(SyncResponse::Refused {
            reason: "range is empty or too long".into(),
        });
    }
    match request {
        SyncRequest::Checkpoints => {
            let mut notes = Vec::new();
            for (origin, _) in core.store.logs()? {
                if let Some(cp) = core.store.checkpoint(&origin)? {
                    notes.push(String::from_utf8_lossy(&cp.to_bytes()).into_owned());
                }
            }
            Ok(SyncResponse::Checkpoints { notes })
        }
        SyncRequest::Entries { origin, start, end } => {
            let entries = core.store.entries(&origin, start, end - start)?;
            let mut wire = Vec::with_capacity(entries.len());
            for entry in entries {
                let Ok(header) = entry.decode_header() else {
                    break;
                };
                let payload = if core.peer_may_read(peer, &header.payload.visibility) {
                    core.store.payload(&header.payload.sha256.0)?
                } else {
                    None
                };
                wire.push(entry.to_wire(payload.as_deref()));
            }
            Ok(SyncResponse::Entries {
                origin,
                start,
                entries: wire,
            })
        }
        SyncRequest::Equivocations => Ok(SyncResponse::Equivocations {
            proofs: proofs_to_serve(core)?,
        }),
    }
}

/// Room in an answer for everything but its proofs: `{"type":…,"proofs":[]}`
/// and the commas between proofs.
const PROOFS_FRAME_BYTES: usize = 64;

/// The proofs an `equivocations` answer carries: one per log (one proof is
/// enough to quarantine it), at most [`MAX_PROOFS`], and no more than fit
/// the response bound; a proof too large to fit is left out, and another
/// proof of the same log may take its place.
fn proofs_to_serve(core: &Core) -> Result<Vec<EquivocationProof>, StoreError> {
    let mut origins = std::collections::HashSet::new();
    let mut proofs = Vec::new();
    let mut n_bytes = PROOFS_FRAME_BYTES;
    for record in core.store.evidence()? {
        if proofs.len() == MAX_PROOFS {
            break;
        }
        if origins.contains(&record.origin) {
            continue;
        }
        let size = wire::encode(&record.proof).len() + 1;
        if n_bytes + size > MAX_SYNC_RESPONSE_BYTES {
            continue;
        }
        n_bytes += size;
        origins.insert(record.origin);
        proofs.push(record.proof);
    }
    Ok(proofs)
}

/// Asks `peer` for the proofs it holds and records each valid one this node
/// lacks, for a log it does not already quarantine, before any entry of
/// this round is fetched: a node that joined or rebuilt its store after a
/// fork quarantines the log before it takes a single entry of it.
async fn fetch_evidence(core: &Core, peer: PeerId) -> Result<(), StoreError> {
    let proofs = match core.net.request(peer, SyncRequest::Equivocations).await {
        Ok(response @ SyncResponse::Equivocations { .. }) if response.check().is_err() => {
            tracing::warn!(%peer, "refused an equivocations answer with too many proofs");
            return Ok(());
        }
        Ok(SyncResponse::Equivocations { proofs }) => proofs,
        Ok(_) => return Ok(()),
        Err(e) => {
            // An older peer does not know the request and closes the stream.
            tracing::debug!(%peer, error = %e, "equivocations request failed");
            return Ok(());
        }
    };
    for proof in proofs {
        if core.store.holds_evidence(&proof)? {
            continue;
        }
        match proof.verify(core.roster.as_ref()) {
            Ok(found) if core.store.quarantined(&found.origin)?.is_some() => {}
            Ok(_) => record_equivocation(core, proof, false).await?,
            Err(e) => {
                tracing::warn!(%peer, error = %e, "synced equivocation proof does not verify");
            }
        }
    }
    Ok(())
}

fn decode_all(entries: &[WireEntry]) -> Vec<(SignedEntry, Option<Vec<u8>>)> {
    par_map(entries, |w| w.decode().ok())
        .into_iter()
        .flatten()
        .collect()
}

/// Ranges asked for beyond the one awaited. Their answers travel while this
/// node verifies, and those that arrived meanwhile go into one ingest call,
/// which keeps the store's check-stage-write pipeline full. At most
/// `RANGES_AHEAD + 1` answers, each bounded by `MAX_SYNC_RESPONSE_BYTES`,
/// are held at once.
pub const RANGES_AHEAD: usize = 3;

/// Most entries catching up hands to one ingest call.
pub const CATCH_UP_BATCH: usize = (RANGES_AHEAD + 1) * MAX_RANGE_ENTRIES as usize;

/// Range requests to one peer for one log, in flight in order.
struct Prefetch<'a> {
    core: &'a Core,
    peer: PeerId,
    origin: &'a Origin,
    asked: VecDeque<Asked>,
}

/// One range request in flight.
struct Asked {
    start: u64,
    end: u64,
    answer: JoinHandle<Result<SyncResponse, NetError>>,
}

impl<'a> Prefetch<'a> {
    fn new(core: &'a Core, peer: PeerId, origin: &'a Origin) -> Self {
        Self {
            core,
            peer,
            origin,
            asked: VecDeque::new(),
        }
    }

    /// Keeps up to [`RANGES_AHEAD`] + 1 ranges asked for, of the entries
    /// below `limit` that the store holds neither stored nor aside: never
    /// one it holds. A range asked for whose entries all arrived otherwise
    /// meanwhile (by gossip, or held entries a gap's filling stored) is no
    /// longer awaited; when an entry below the last range asked is missing
    /// and no range covers it (an ingest stopped at a bad entry), every
    /// range is asked for again from the stored head.
    fn fill(&mut self, limit: u64) -> Result<(), StoreError> {
        let missing = self.core.store.missing(self.origin, limit)?;
        let needed = |asked: &Asked| {
            missing
                .iter()
                .any(|gap| gap.start < asked.end && asked.start < gap.end)
        };
        self.asked.retain(|asked| {
            let keep = needed(asked);
            if !keep {
                asked.answer.abort();
            }
            keep
        });
        let asked_end = self.asked.back().map_or(0, |asked| asked.end);
        if missing
            .iter()
            .any(|gap| !covered(&self.asked, gap.start..gap.end.min(asked_end)))
        {
            self.clear();
        }
        let asked_end = self.asked.back().map_or(0, |asked| asked.end);
        for gap in &missing {
            let mut next = gap.start.max(asked_end);
            while self.asked.len() <= RANGES_AHEAD && next < gap.end {
                let end = gap.end.min(next + MAX_RANGE_ENTRIES);
                self.ask(next, end);
                next = end;
            }
        }
        Ok(())
    }

    fn ask(&mut self, start: u64, end: u64) {
        let request = SyncRequest::Entries {
            origin: self.origin.clone(),
            start,
            end,
        };
        let (net, peer) = (self.core.net.clone(), self.peer);
        let answer = tokio::spawn(async move { net.request(peer, request).await });
        self.asked.push_back(Asked { start, end, answer });
    }

    /// Waits for the first range asked, and takes with it the following
    /// ones that already arrived, up to the first that came back short.
    /// Returns the entries; `None` when the peer failed or had nothing.
    async fn take(&mut self) -> Option<Vec<WireEntry>> {
        let mut entries = Vec::new();
        let mut taken = false;
        while let Some(front) = self.asked.front() {
            if taken && !front.answer.is_finished() {
                break;
            }
            let Asked { start, end, answer } = self.asked.pop_front().expect("front exists");
            let more = match answer.await {
                Ok(Ok(SyncResponse::Entries { entries, .. })) if !entries.is_empty() => entries,
                Ok(Ok(_)) => break,
                Ok(Err(e)) => {
                    tracing::debug!(peer = %self.peer, origin = %self.origin, error = %e, "range request failed");
                    break;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "range request task failed");
                    break;
                }
            };
            let short = (more.len() as u64) < end - start;
            entries.extend(more);
            taken = true;
            if short {
                self.clear();
                break;
            }
        }
        taken.then_some(entries)
    }

    fn clear(&mut self) {
        for asked in self.asked.drain(..) {
            asked.answer.abort();
        }
    }
}

impl Drop for Prefetch<'_> {
    fn drop(&mut self) {
        self.clear();
    }
}

/// Whether the ranges `asked` (in order, disjoint) cover every index of `range`.
fn covered(asked: &VecDeque<Asked>, range: Range<u64>) -> bool {
    let mut next = range.start;
    for asked in asked {
        if next >= range.end {
            break;
        }
        if asked.end <= next {
            continue;
        }
        if asked.start > next {
            return false;
        }
        next = asked.end;
    }
    next >= range.end
}

/// Fetches off `peer` what the stored log of `origin` lacks below the sync
/// target and `due` until the stored log reaches the lower of the two or
/// the peer has nothing more, asking only for
/// entries this node holds neither stored nor aside: the stored head is
/// read again before every request, so gossip, hints queued earlier and
/// other peers' catch-ups never make it ask for an entry twice. Up to
/// [`RANGES_AHEAD`] more ranges are asked for while the store works.
async fn catch_up(core: &Core, peer: PeerId, origin: &Origin, due: u64) {
    let mut prefetch = Prefetch::new(core, peer, origin);
    // A bar only for a node run on a terminal, far behind.
    let progress = crate::progress::Progress::new(true);
    let mut started = false;
    loop {
        let Ok(head) = core.store.head(origin) else {
            return;
        };
        // The target is gone once the stored tree reached it.
        let Ok(Some(target)) = core.store.target(origin) else {
            return;
        };
        let limit = target.checkpoint.size.min(due);
        if limit <= head.size {
            progress.finish();
            return;
        }
        if !started {
            progress.start(
                &format!("catching up {}", member_of(core, origin)),
                limit - head.size,
            );
            started = true;
        }
        if let Err(e) = prefetch.fill(limit) {
            tracing::error!(error = %e, "store failure while catching up");
            return;
        }
        let Some(entries) = prefetch.take().await else {
            return;
        };
        let outcome = match ingest(core, origin, move || decode_all(&entries)).await {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::error!(error = %e, "store failure while catching up");
                return;
            }
        };
        core.count(|s| {
            s.synced_appended += outcome.appended;
            s.synced_duplicates += outcome.duplicates;
        });
        if outcome.appended > 0 {
            progress.advance(outcome.appended);
            log_growth(core, origin);
            continue;
        }
        progress.finish();
        // Signed entries that extend our tree to another root than the
        // log's signed checkpoint: the log forked below what we hold. The
        // peer's older entries show where.
        let forked = outcome.rejected.iter().find_map(|(_, r)| match r {
            Rejected::CheckpointMismatch { size, .. } => Some(*size),
            _ => None,
        });
        if let Some(size) = forked {
            find_divergence(core, peer, origin, size).await;
        }
        return;
    }
}

/// Fetches from `peer` the entries of `origin` past the stored head, one
/// range at a time until the peer has no more, each verified as any
/// replica entry. A peer may hold entries of the own log beyond its latest
/// checkpoint of it (the checkpoint's gossip lost, say), and a store
/// restored from a backup must not sign those indexes again; no target
/// announces them, so catch-up alone would not ask.
async fn fetch_past_checkpoint(core: &Core, peer: PeerId, origin: &Origin) {
    loop {
        let Ok(head) = core.store.head(origin) else {
            return;
        };
        let request = SyncRequest::Entries {
            origin: origin.clone(),
            start: head.size,
            end: head.size + MAX_RANGE_ENTRIES,
        };
        let entries = match core.net.request(peer, request).await {
            Ok(SyncResponse::Entries { entries, .. }) if !entries.is_empty() => entries,
            _ => return,
        };
        match ingest(core, origin, move || decode_all(&entries)).await {
            Ok(outcome) if outcome.appended > 0 => {
                core.count(|s| s.synced_appended += outcome.appended);
            }
            Ok(_) => return,
            Err(e) => {
                tracing::error!(error = %e, "store failure while fetching the own log");
                return;
            }
        }
    }
}

/// The roster member id of the log `origin`, for log lines.
fn member_of(core: &Core, origin: &Origin) -> String {
    core.roster
        .member_by_origin(origin.as_str())
        .map_or_else(|| origin.to_string(), |m| m.id.to_string())
}

/// Reports a replica's new size (for operators following a catch-up, and
/// for measuring propagation); returns it.
fn log_growth(core: &Core, origin: &Origin) -> Option<u64> {
    let size = core.store.head(origin).ok()?.size;
    tracing::debug!(%origin, size, "replica grew");
    Some(size)
}

/// Fetches `peer`'s entries of `origin` below `size`, newest range first, so
/// that an entry differing from the stored one turns into evidence.
async fn find_divergence(core: &Core, peer: PeerId, origin: &Origin, size: u64) {
    let mut end = size;
    while end > 0 {
        let start = end.saturating_sub(MAX_RANGE_ENTRIES);
        let request = SyncRequest::Entries {
            origin: origin.clone(),
            start,
            end,
        };
        let Ok(SyncResponse::Entries { entries, .. }) = core.net.request(peer, request).await
        else {
            return;
        };
        match ingest(core, origin, move || decode_all(&entries)).await {
            Ok(outcome) if !outcome.equivocations.is_empty() => return,
            Ok(_) => end = start,
            Err(_) => return,
        }
    }
}

/// Most missing payloads one fetch from one peer looks for: as many as the
/// ranges a catch-up keeps in flight hold.
const PAYLOADS_PER_FETCH: usize = CATCH_UP_BATCH;

/// The first [`PAYLOADS_PER_FETCH`] payloads of `origin` this node wants
/// ([`Core::wants_payload`]) and does not hold, once every entry stored
/// since the last look was looked at (the store keeps what it found, so a
/// restart forgets nothing).
async fn missing_payloads(core: &Core, origin: &Origin) -> Result<Vec<EntryHeader>, StoreError> {
    if core.headers_only {
        return Ok(Vec::new());
    }
    let (store, origin, (role, country)) = (core.store.clone(), origin.clone(), core.reader);
    tokio::task::spawn_blocking(move || {
        store.mark_missing_payloads(&origin, |visibility| visibility.may_read(role, &country))?;
        store.missing_payloads(&origin, PAYLOADS_PER_FETCH)
    })
    .await
    .map_err(|e| StoreError::Io(format!("missing-payload task failed: {e}")))?
}

/// Fetches the payloads of `origin` this node lacks from `peers`, in
/// order, until none is missing; with no peer, only finds which are.
async fn fetch_missing_payloads(
    core: &Core,
    origin: &Origin,
    peers: &[PeerId],
) -> Result<(), StoreError> {
    for &peer in peers {
        let missing = missing_payloads(core, origin).await?;
        if missing.is_empty() {
            return Ok(());
        }
        fetch_payloads(core, peer, origin, &missing).await?;
    }
    missing_payloads(core, origin).await.map(drop)
}

/// Asks `peer` for those of the `missing` payloads of `origin` it may read
/// (a peer serves no other), each run of consecutive indexes as one range
/// of at most [`MAX_RANGE_ENTRIES`], so that no payload held is fetched
/// again. A peer that may read a payload but does not hold it sends the
/// header alone; another peer is asked later.
async fn fetch_payloads(
    core: &Core,
    peer: PeerId,
    origin: &Origin,
    missing: &[EntryHeader],
) -> Result<(), StoreError> {
    let servable: Vec<u64> = missing
        .iter()
        .filter(|header| core.peer_may_read(&peer, &header.payload.visibility))
        .map(|header| header.index)
        .collect();
    for (start, end) in index_runs(&servable, MAX_RANGE_ENTRIES) {
        let request = SyncRequest::Entries {
            origin: origin.clone(),
            start,
            end,
        };
        let entries = match core.net.request(peer, request).await {
            Ok(SyncResponse::Entries { entries, .. }) => entries,
            Ok(_) => return Ok(()),
            Err(e) => {
                tracing::debug!(%peer, %origin, error = %e, "payload request failed");
                return Ok(());
            }
        };
        ingest(core, origin, move || decode_all(&entries)).await?;
    }
    Ok(())
}

/// `indexes` (ascending) as half-open ranges of consecutive indexes, each
/// at most `longest` long.
fn index_runs(indexes: &[u64], longest: u64) -> Vec<(u64, u64)> {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for &index in indexes {
        match runs.last_mut() {
            Some((start, end)) if *end == index && index - *start < longest => *end += 1,
            _ => runs.push((index, index + 1)),
        }
    }
    runs
}

/// Fetches the payloads of `origin` this node lacks from every connected
/// peer that may serve them, the log's own member first (it published
/// them): the fast path after gossip brought a header without its payload.
async fn fetch_payloads_anywhere(core: &Core, origin: &Origin) {
    let publisher = core
        .roster
        .member_by_origin(origin.as_str())
        .map(|member| member.peer_id.clone());
    let mut peers: Vec<PeerId> = core.net.peers().await.into_iter().map(|p| p.peer).collect();
    peers.sort_by_key(|peer| Some(peer.to_string()) != publisher);
    if let Err(e) = fetch_missing_payloads(core, origin, &peers).await {
        tracing::error!(error = %e, "store failure while fetching payloads");
    }
}

async fn anti_entropy_loop(
    core: Core,
    mut hints: mpsc::Receiver<Hint>,
    shutdown: CancellationToken,
) {
    let mut ticker = tokio::time::interval(core.sync_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut retention = tokio::time::interval(RETENTION_INTERVAL);
    let mut round = 0u64;
    let mut due = Due::new();
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            _ = retention.tick(), if core.purge_after_days.is_some() => apply_retention(&core).await,
            Some(hint) = hints.recv() => {
                core.hints.taken(&hint);
                match hint {
                    Hint::CatchUp { peer, origin } => {
                        if let Some(&limit) = due.get(&origin) {
                            catch_up(&core, peer, &origin, limit).await;
                        }
                    }
                    Hint::Diverged { peer, origin, size } => find_divergence(&core, peer, &origin, size).await,
                    Hint::Payloads { origin } => fetch_payloads_anywhere(&core, &origin).await,
                    Hint::Confirm { peer } => confirm_with(&core, peer).await,
                }
            }
            _ = ticker.tick() => {
                anti_entropy_round(&core, round).await;
                due = targets(&core);
                round += 1;
            }
        }
    }
}

/// How far a hint's catch-up may fetch each log: its sync target as it
/// stood at the end of the last round. Hints come from gossip (an entry
/// past a gap, a checkpoint ahead of the stored tree) while gossip may
/// still be carrying what they point at, and asking for it would fetch it
/// twice; what gossip has not delivered within a round, a hint fetches, and
/// every round fetches up to the target it finds.
type Due = HashMap<Origin, u64>;

/// The sync target of every log the stored tree has not reached.
fn targets(core: &Core) -> Due {
    let Ok(logs) = core.store.logs() else {
        return Due::new();
    };
    logs.into_iter()
        .filter_map(|(origin, head)| {
            let size = core.store.target(&origin).ok()??.checkpoint.size;
            (size > head.size).then_some((origin, size))
        })
        .collect()
}

async fn apply_retention(core: &Core) {
    let Some(grace_days) = core.purge_after_days else {
        return;
    };
    let now = core.now();
    let Some(today) = concord_protocol::record::Date::from_unix_seconds(now as i64) else {
        return;
    };
    match core.store.purge_expired(&today, grace_days, now).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(purged = n, "retention: purged payloads of expired denials"),
        Err(e) => tracing::error!(error = %e, "retention: purge failed"),
    }
}

/// Peers asked per anti-entropy round. Asking every peer every round costs
/// each node a checkpoint list per peer per interval, which at 30 nodes
/// saturates two cores; a rotating few still reach every peer within
/// ⌈peers / fanout⌉ rounds, and gossip carries the rest.
const ANTI_ENTROPY_FANOUT: usize = 3;

/// One round: ask the next few connected peers, in rotation, for their
/// equivocation proofs and their checkpoints, catch up on whatever a peer
/// holds beyond the stored logs, then ask them for the payloads this node
/// may read and lacks.
async fn anti_entropy_round(core: &Core, round: u64) {
    let mut peers = core.net.peers().await;
    peers.sort_by_key(|p| p.peer);
    let first = (round as usize).wrapping_mul(ANTI_ENTROPY_FANOUT) % peers.len().max(1);
    peers.rotate_left(first);
    peers.truncate(ANTI_ENTROPY_FANOUT);
    let asked: Vec<PeerId> = peers.iter().map(|p| p.peer).collect();
    for peer in peers {
        sync_with(core, peer.peer).await;
    }
    // Gossip carries no payload but a `public` or `federation` one, a range
    // comes with only the payloads its sender may serve and holds, and a
    // fetch asked for on gossip may fail or be lost in a restart: this is
    // what brings each payload in the end, from whichever peer serves it.
    if let Ok(logs) = core.store.logs() {
        for (origin, _) in logs {
            if let Err(e) = fetch_missing_payloads(core, &origin, &asked).await {
                tracing::error!(error = %e, "store failure while fetching payloads");
                return;
            }
        }
    }
}

/// Syncs with `peer`, which just connected, if the own log still awaits a
/// peer's answer. One answer is enough: peers that connected meanwhile wait
/// for the rounds, so a start among many peers costs one sync, not one each.
async fn confirm_with(core: &Core, peer: PeerId) {
    if core.own_log.as_ref().is_some_and(OwnLog::awaits_peers) {
        sync_with(core, peer).await;
    }
}

/// Asks `peer` for its equivocation proofs and its checkpoints, and
/// catches up on whatever it holds beyond the stored logs. Until a peer
/// answered, the own log is fetched from `peer` past its checkpoint too,
/// as far as the peer holds it: the answer confirms the own log only once
/// the store holds everything that peer has of it.
async fn sync_with(core: &Core, peer: PeerId) {
    if let Err(e) = fetch_evidence(core, peer).await {
        tracing::error!(error = %e, "store failure while fetching evidence");
    }
    let notes = match core.net.request(peer, SyncRequest::Checkpoints).await {
        Ok(SyncResponse::Checkpoints { notes }) => notes,
        Ok(_) => return,
        Err(e) => {
            tracing::debug!(%peer, error = %e, "checkpoint request failed");
            return;
        }
    };
    for note in notes {
        match take_checkpoint(core, peer, note.as_bytes()).await {
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "store failure during anti-entropy"),
        }
    }
    // Catch up inline too: spawned catch-ups from take_checkpoint may race
    // this, and the store's write lock keeps them consistent.
    if let Ok(logs) = core.store.logs() {
        for (origin, head) in logs {
            if let Ok(Some(target)) = core.store.target(&origin)
                && target.checkpoint.size > head.size
            {
                catch_up(core, peer, &origin, target.checkpoint.size).await;
            }
        }
    }
    if let Some(own_log) = core.own_log.as_ref().filter(|own| own.awaits_peers()) {
        let origin = own_log.origin().clone();
        match core.store.head(&origin) {
            Ok(_) => {
                // As far as the peer's checkpoint of the own log goes (that
                // checkpoint, verified, is the sync target), then whatever
                // the peer holds past it.
                catch_up(core, peer, &origin, u64::MAX).await;
                fetch_past_checkpoint(core, peer, &origin).await;
                own_log.peer_answered();
                match own_log.state_in(&core.store) {
                    Ok(state) => tracing::info!(%peer, ?state, "own log checked with a peer"),
                    Err(e) => tracing::error!(error = %e, "store failure reading the own log"),
                }
            }
            Err(e) => tracing::error!(error = %e, "store failure while confirming the own log"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{HINT_QUEUE, Hint, Hints, index_runs};
    use concord_protocol::origin::Origin;

    #[test]
    fn a_hint_waiting_is_not_queued_again() {
        let (hints, mut receiver) = Hints::channel();
        let peer = libp2p::PeerId::random();
        let catch_up = |member: &str| Hint::CatchUp {
            peer,
            origin: Origin::for_member("pacific-alliance", member).expect("origin"),
        };
        assert!(hints.send(catch_up("mx")));
        for _ in 0..10 {
            assert!(!hints.send(catch_up("mx")));
        }
        assert!(hints.send(catch_up("cl")), "other work is queued");
        let first = receiver.try_recv().expect("queued");
        assert_eq!(first, catch_up("mx"));
        assert!(!hints.send(catch_up("mx")), "not taken yet");
        hints.taken(&first);
        assert!(hints.send(catch_up("mx")), "queued again once taken");
        assert_eq!(receiver.try_recv().expect("queued"), catch_up("cl"));
        assert_eq!(receiver.try_recv().expect("queued"), catch_up("mx"));
        assert!(receiver.try_recv().is_err(), "one of each");

        // A full queue drops a hint without remembering it as waiting.
        for n in 0..HINT_QUEUE as u64 {
            let diverged = Hint::Diverged {
                peer,
                origin: Origin::for_member("pacific-alliance", "pe").expect("origin"),
                size: n,
            };
            assert!(hints.send(diverged));
        }
        assert!(!hints.send(catch_up("br")));
        receiver.try_recv().expect("queued");
        assert!(hints.send(catch_up("br")), "not remembered while full");
    }

    #[test]
    fn missing_indexes_are_asked_for_in_runs_of_consecutive_ones() {
        let check = |indexes: &[u64], longest, expected: &[(u64, u64)]| {
            assert_eq!(index_runs(indexes, longest), expected, "{indexes:?}");
        };
        check(&[], 4, &[]);
        check(&[7], 4, &[(7, 8)]);
        check(&[0, 1, 2, 5, 6, 9], 4, &[(0, 3), (5, 7), (9, 10)]);
        check(&[0, 1, 2, 3, 4, 5], 4, &[(0, 4), (4, 6)]);
        check(&[3, 4, 5, 6], 1, &[(3, 4), (4, 5), (5, 6), (6, 7)]);
    }
}
