//! Whether this member may sign on its own log (PROTOCOL.md §8,
//! "Confirming the own log").
//!
//! A store restored from a backup lacks the entries signed after the
//! backup, and a writer that went on from its head would sign a second
//! entry for an index its peers already hold: a fork. So after a start the
//! own log is *unconfirmed*: the writer signs nothing until a peer or
//! witness answered with its checkpoints (verified with this member's own
//! keys, as any checkpoint is) and the store holds the log at least up to
//! the largest of them, what was missing recovered through the verified
//! replica path. [`OwnLog`] is that one state: the anti-entropy task feeds
//! it, the writer asks it before signing, `status` shows it.

use std::sync::{Arc, Mutex, PoisonError};

use concord_keys::roster::Roster;
use concord_protocol::origin::Origin;
use serde::{Deserialize, Serialize};

use crate::store::{Store, StoreError};

/// Why the own log may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The roster has no other participant: nobody else can hold the log.
    Alone,
    /// The operator accepted the risk of a fork (`--accept-fork-risk`).
    AcceptedRisk,
    /// A peer answered with its checkpoints, and the store holds the log at
    /// least up to the largest a peer holds.
    Peers,
}

/// Whether the operator accepts signing without asking peers first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForkRisk {
    /// Wait for a peer (the default).
    #[default]
    Refused,
    /// Sign from the store's head at once: for a federation whose peers
    /// cannot be reached, where the store is known to be the newest.
    Accepted,
}

/// The own log's confirmation as it is now; `size` is the store's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum OwnLogState {
    /// Publishing is open.
    Confirmed { by: Basis, size: u64 },
    /// No peer has answered with its checkpoints since the node started.
    AwaitingPeers { size: u64 },
    /// The node is not running, so it cannot ask its peers.
    NotRunning { size: u64 },
    /// A peer holds a checkpoint of the log at `peers_hold`, beyond the
    /// store: the missing entries are being recovered.
    Recovering { size: u64, peers_hold: u64 },
    /// A peer holds a checkpoint of the log at `at`, signed by this
    /// member's key, that the store contradicts: the log already forked.
    Forked { size: u64, at: u64 },
}

impl std::fmt::Display for OwnLogState {
    /// One line for `concord status`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Confirmed { by, .. } => {
                let by = match by {
                    Basis::Alone => "no other participant",
                    Basis::AcceptedRisk => "fork risk accepted at start",
                    Basis::Peers => "peers",
                };
                write!(f, "confirmed ({by})")
            }
            Self::AwaitingPeers { .. } => write!(f, "waiting for a peer's checkpoints"),
            Self::NotRunning { .. } => write!(f, "not confirmed (node stopped)"),
            Self::Recovering { size, peers_hold } => {
                write!(f, "recovering from peers ({size} of {peers_hold})")
            }
            Self::Forked { at, .. } => write!(f, "FORKED (a peer's checkpoint at {at})"),
        }
    }
}

/// Why the writer refused to sign: the state, with its stable code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unconfirmed(pub OwnLogState);

impl Unconfirmed {
    /// The API's and the documentation's name for it.
    pub fn code(&self) -> crate::api::Code {
        match self.0 {
            OwnLogState::Forked { .. } => crate::api::Code::OwnLogForked,
            _ => crate::api::Code::OwnLogUnconfirmed,
        }
    }
}

impl std::fmt::Display for Unconfirmed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const WHY: &str = "a store restored from a backup may lack entries this node signed, and \
                           signing from its head would fork the log";
        match &self.0 {
            OwnLogState::AwaitingPeers { size } => write!(
                f,
                "own log not confirmed: no peer or witness has answered with its checkpoints of \
                 this log since the node started (the store holds {size} entries); {WHY}. \
                 Publishing opens once a peer answers and what it holds is recovered; if no \
                 peer can be reached, restart the node with --accept-fork-risk"
            ),
            OwnLogState::NotRunning { size } => write!(
                f,
                "own log not confirmed: the node is not running, so it cannot ask its peers how \
                 far its log goes (the store holds {size} entries); {WHY}. Start the node and \
                 publish through it, or pass --accept-fork-risk if this store is known to be \
                 the newest"
            ),
            OwnLogState::Recovering { size, peers_hold } => write!(
                f,
                "own log not confirmed: a peer holds this log up to {peers_hold} entries and the \
                 store only {size}; the missing entries are being recovered from peers, and \
                 publishing opens once they are"
            ),
            OwnLogState::Forked { size, at } => write!(
                f,
                "own log forked: a peer holds a checkpoint of this log at size {at}, signed by \
                 this member's key, that the store ({size} entries) contradicts; nothing more \
                 is signed on it. See the evidence (`concord status`, GET /v1/evidence) and \
                 restore the store the federation holds"
            ),
            OwnLogState::Confirmed { .. } => write!(f, "own log confirmed"),
        }
    }
}

impl std::error::Error for Unconfirmed {}

/// What confirms the own log of `me` without asking a peer, if anything.
fn preset(roster: &Roster, me: &str, risk: ForkRisk) -> Option<Basis> {
    if roster.members.iter().all(|m| m.id.as_str() == me) {
        Some(Basis::Alone)
    } else if risk == ForkRisk::Accepted {
        Some(Basis::AcceptedRisk)
    } else {
        None
    }
}

/// The own log's confirmation, shared by the writer, the anti-entropy task
/// and the API; cheap to clone.
#[derive(Debug, Clone)]
pub struct OwnLog {
    origin: Origin,
    knowledge: Arc<Mutex<Knowledge>>,
}

#[derive(Debug)]
struct Knowledge {
    /// Confirmed without asking: alone in the roster, or the risk accepted.
    preset: Option<Basis>,
    /// Whether this process can ask peers (a running node).
    running: bool,
    /// A peer answered with its checkpoints (and was probed for more).
    answered: bool,
    /// Largest size of a verified checkpoint of the log any peer showed.
    peers_hold: u64,
    /// Size of a verified checkpoint of the log the store contradicts.
    forked_at: Option<u64>,
}

impl OwnLog {
    /// The own log `origin` of member `me` in a running node.
    pub fn running(origin: Origin, roster: &Roster, me: &str, risk: ForkRisk) -> Self {
        Self::new(origin, preset(roster, me, risk), true)
    }

    /// The own log of a stopped node's store, written by the command line:
    /// no peer can be asked.
    pub fn stopped(origin: Origin, roster: &Roster, me: &str, risk: ForkRisk) -> Self {
        Self::new(origin, preset(roster, me, risk), false)
    }

    fn new(origin: Origin, preset: Option<Basis>, running: bool) -> Self {
        Self {
            origin,
            knowledge: Arc::new(Mutex::new(Knowledge {
                preset,
                running,
                answered: false,
                peers_hold: 0,
                forked_at: None,
            })),
        }
    }

    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    fn knowledge(&self) -> std::sync::MutexGuard<'_, Knowledge> {
        self.knowledge
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether no peer has answered yet, so the next one is asked at once.
    pub fn awaits_peers(&self) -> bool {
        !self.knowledge().answered
    }

    /// A peer showed a verified checkpoint of the log of `size`.
    pub fn peer_holds(&self, size: u64) {
        let mut knowledge = self.knowledge();
        knowledge.peers_hold = knowledge.peers_hold.max(size);
    }

    /// A peer answered with its checkpoints, and what it held beyond the
    /// store was fetched.
    pub fn peer_answered(&self) {
        self.knowledge().answered = true;
    }

    /// A peer showed a verified checkpoint of the log of `size` that the
    /// store contradicts.
    pub fn contradicted(&self, size: u64) {
        self.knowledge().forked_at.get_or_insert(size);
    }

    /// The state, for a store that holds `size` entries of the log.
    pub fn state(&self, size: u64) -> OwnLogState {
        let knowledge = self.knowledge();
        if let Some(at) = knowledge.forked_at {
            return OwnLogState::Forked { size, at };
        }
        // Even with the risk accepted, a log a peer holds further than the
        // store is one this node signed further: it recovers first.
        if knowledge.peers_hold > size {
            return OwnLogState::Recovering {
                size,
                peers_hold: knowledge.peers_hold,
            };
        }
        if let Some(by) = knowledge.preset {
            return OwnLogState::Confirmed { by, size };
        }
        match (knowledge.running, knowledge.answered) {
            (_, true) => OwnLogState::Confirmed {
                by: Basis::Peers,
                size,
            },
            (true, false) => OwnLogState::AwaitingPeers { size },
            (false, false) => OwnLogState::NotRunning { size },
        }
    }

    /// The state, for the log as `store` holds it now.
    ///
    /// # Errors
    /// [`StoreError`] when the log's head cannot be read.
    pub fn state_in(&self, store: &Store) -> Result<OwnLogState, StoreError> {
        Ok(self.state(store.head(&self.origin)?.size))
    }

    /// Whether the writer may sign the entry after those `store` holds,
    /// as far as confirmation goes. A quarantined log is left to the
    /// ledger's rule, which the writer asks next: that refusal is final
    /// until an operator clears it, and says how.
    ///
    /// # Errors
    /// [`StoreError`] when the log cannot be read; `Ok(Err(..))` with the
    /// state when it may not sign.
    pub fn check(&self, store: &Store) -> Result<Result<(), Unconfirmed>, StoreError> {
        if store.quarantined(&self.origin)?.is_some() {
            return Ok(Ok(()));
        }
        Ok(match self.state_in(store)? {
            OwnLogState::Confirmed { .. } => Ok(()),
            state => Err(Unconfirmed(state)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the anti-entropy task tells the state.
    enum Heard {
        Holds(u64),
        Answered,
        Contradicted(u64),
    }

    /// The state of a log started with `preset`, in a running node or not,
    /// after `heard`, for a store of `size` entries.
    fn check(
        preset: Option<Basis>,
        running: bool,
        heard: &[Heard],
        size: u64,
        expected: OwnLogState,
    ) {
        let origin = Origin::new("pacific-alliance.concord/cl").expect("an origin");
        let own_log = OwnLog::new(origin, preset, running);
        for event in heard {
            match event {
                Heard::Holds(size) => own_log.peer_holds(*size),
                Heard::Answered => own_log.peer_answered(),
                Heard::Contradicted(size) => own_log.contradicted(*size),
            }
        }
        assert_eq!(own_log.state(size), expected);
    }

    #[test]
    fn the_own_log_is_confirmed_only_once_the_store_holds_what_peers_hold() {
        use Heard::{Answered, Contradicted, Holds};
        use OwnLogState::{AwaitingPeers, Confirmed, Forked, NotRunning, Recovering};
        let by = |by| Confirmed { by, size: 3 };
        check(None, true, &[], 3, AwaitingPeers { size: 3 });
        check(None, false, &[], 3, NotRunning { size: 3 });
        // A checkpoint seen by gossip is no answer.
        check(None, true, &[Holds(2)], 3, AwaitingPeers { size: 3 });
        check(None, true, &[Answered], 3, by(Basis::Peers));
        check(None, true, &[Holds(3), Answered], 3, by(Basis::Peers));
        let recovering = Recovering {
            size: 3,
            peers_hold: 5,
        };
        check(None, true, &[Holds(5), Answered], 3, recovering.clone());
        check(Some(Basis::Alone), false, &[], 3, by(Basis::Alone));
        check(
            Some(Basis::AcceptedRisk),
            true,
            &[],
            3,
            by(Basis::AcceptedRisk),
        );
        // Even with the risk accepted, what a peer holds is recovered first.
        check(Some(Basis::AcceptedRisk), true, &[Holds(5)], 3, recovering);
        // A contradiction stays, whatever is heard after it.
        let forked = Forked { size: 3, at: 2 };
        check(None, true, &[Contradicted(2), Answered], 3, forked.clone());
        check(
            Some(Basis::AcceptedRisk),
            true,
            &[Contradicted(2), Contradicted(3)],
            3,
            forked,
        );
    }
}
