//! When to dial each roster peer again.
//!
//! A roster peer (one with bootstrap addresses) that is not connected is
//! dialed at start; after a failed dial or a lost connection it waits
//! 1 s, then 2 s, 4 s, ... up to 30 s between attempts. Only a connection
//! that lasted [`STABLE_CONNECTION`] resets the wait, so a peer that accepts
//! and at once drops us (e.g. one whose roster lacks us) is not redialed
//! every second. Time is passed in, so the schedule is tested without a
//! clock.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use libp2p::{Multiaddr, PeerId};

/// The first wait after a failure.
pub(crate) const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between two attempts.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long a connection must last to count as a success.
pub(crate) const STABLE_CONNECTION: Duration = Duration::from_secs(30);

/// The wait before attempt `failures + 1`, after `failures` failures in a row.
pub(crate) fn backoff(failures: u32) -> Duration {
    // 2^5 s already exceeds the cap, so larger shifts are not needed.
    FIRST_BACKOFF
        .saturating_mul(1 << failures.min(5))
        .min(MAX_BACKOFF)
}

#[derive(Debug, PartialEq, Eq)]
enum State {
    Connected {
        since: Instant,
    },
    /// A dial is under way; its outcome is a connection or a failure.
    Dialing,
    /// The next dial is due at `due`.
    Waiting {
        due: Instant,
    },
}

#[derive(Debug)]
struct RosterPeer {
    addrs: Vec<Multiaddr>,
    failures: u32,
    state: State,
}

/// The redial schedule of the roster peers.
#[derive(Debug, Default)]
pub(crate) struct Redial {
    peers: HashMap<PeerId, RosterPeer>,
}

impl Redial {
    /// Every bootstrap peer, due at `now`.
    pub(crate) fn new(bootstrap: &[(PeerId, Multiaddr)], now: Instant) -> Self {
        let mut peers: HashMap<PeerId, RosterPeer> = HashMap::new();
        for (peer, addr) in bootstrap {
            let roster_peer = peers.entry(*peer).or_insert_with(|| RosterPeer {
                addrs: Vec::new(),
                failures: 0,
                state: State::Waiting { due: now },
            });
            if !roster_peer.addrs.contains(addr) {
                roster_peer.addrs.push(addr.clone());
            }
        }
        Self { peers }
    }

    /// The bootstrap addresses of `peer`; empty for a peer without any.
    pub(crate) fn addrs(&self, peer: &PeerId) -> Vec<Multiaddr> {
        self.peers
            .get(peer)
            .map(|p| p.addrs.clone())
            .unwrap_or_default()
    }

    /// The peers whose dial is due at `now`, now marked as dialing.
    pub(crate) fn take_due(&mut self, now: Instant) -> Vec<(PeerId, Vec<Multiaddr>)> {
        let mut due_peers = Vec::new();
        for (peer, roster_peer) in &mut self.peers {
            if matches!(roster_peer.state, State::Waiting { due } if due <= now) {
                roster_peer.state = State::Dialing;
                due_peers.push((*peer, roster_peer.addrs.clone()));
            }
        }
        due_peers
    }

    /// A connection with `peer` is established.
    pub(crate) fn connected(&mut self, peer: &PeerId, now: Instant) {
        if let Some(roster_peer) = self.peers.get_mut(peer)
            && !matches!(roster_peer.state, State::Connected { .. })
        {
            roster_peer.state = State::Connected { since: now };
        }
    }

    /// The last connection with `peer` closed: dial it again after a wait,
    /// the first one if the connection was stable.
    pub(crate) fn disconnected(&mut self, peer: &PeerId, now: Instant) {
        if let Some(roster_peer) = self.peers.get_mut(peer) {
            if let State::Connected { since } = roster_peer.state
                && now.saturating_duration_since(since) >= STABLE_CONNECTION
            {
                roster_peer.failures = 0;
            }
            Self::schedule(roster_peer, now);
        }
    }

    /// A dial of `peer` failed. Ignored when another connection is up or a
    /// wait is already scheduled.
    pub(crate) fn dial_failed(&mut self, peer: &PeerId, now: Instant) {
        if let Some(roster_peer) = self.peers.get_mut(peer)
            && roster_peer.state == State::Dialing
        {
            Self::schedule(roster_peer, now);
        }
    }

    /// When `peer`'s next dial is due, if one is scheduled.
    #[cfg(test)]
    fn due(&self, peer: &PeerId) -> Option<Instant> {
        match self.peers.get(peer)?.state {
            State::Waiting { due } => Some(due),
            State::Connected { .. } | State::Dialing => None,
        }
    }

    fn schedule(roster_peer: &mut RosterPeer, now: Instant) {
        roster_peer.state = State::Waiting {
            due: now + backoff(roster_peer.failures),
        };
        roster_peer.failures = roster_peer.failures.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_up_to_thirty() {
        let expected = [1, 2, 4, 8, 16, 30, 30, 30];
        for (failures, seconds) in expected.into_iter().enumerate() {
            let failures = u32::try_from(failures).expect("small index");
            assert_eq!(
                backoff(failures),
                Duration::from_secs(seconds),
                "after {failures} failures"
            );
        }
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn failures_push_the_next_dial_back_until_a_stable_connection() {
        let peer = PeerId::random();
        let addr: Multiaddr = "/ip4/127.0.0.1/tcp/1".parse().expect("valid multiaddr");
        let start = Instant::now();
        let mut redial = Redial::new(&[(peer, addr.clone())], start);
        assert_eq!(redial.take_due(start), vec![(peer, vec![addr])]);
        assert!(
            redial.take_due(start).is_empty(),
            "a dial under way is not repeated"
        );

        let mut now = start;
        for seconds in [1, 2, 4, 8, 16, 30, 30] {
            redial.dial_failed(&peer, now);
            let due = now + Duration::from_secs(seconds);
            assert_eq!(redial.due(&peer), Some(due));
            assert!(redial.take_due(due - Duration::from_millis(1)).is_empty());
            assert_eq!(redial.take_due(due).len(), 1);
            now = due;
        }

        // A connection that drops at once is no success: the wait keeps
        // its length.
        redial.connected(&peer, now);
        redial.dial_failed(&peer, now);
        assert_eq!(
            redial.due(&peer),
            None,
            "a failed second dial is moot while connected"
        );
        redial.disconnected(&peer, now + Duration::from_secs(1));
        assert_eq!(
            redial.due(&peer),
            Some(now + Duration::from_secs(1) + MAX_BACKOFF)
        );

        // A stable one resets it.
        let now = now + MAX_BACKOFF + Duration::from_secs(1);
        assert_eq!(redial.take_due(now).len(), 1);
        redial.connected(&peer, now);
        let later = now + STABLE_CONNECTION;
        redial.connected(&peer, later - Duration::from_secs(1));
        redial.disconnected(&peer, later);
        assert_eq!(
            redial.due(&peer),
            Some(later + FIRST_BACKOFF),
            "a second connection keeps the first's start"
        );
    }

    #[test]
    fn peers_without_bootstrap_addresses_are_never_scheduled() {
        let now = Instant::now();
        let mut redial = Redial::new(&[], now);
        let stranger = PeerId::random();
        redial.disconnected(&stranger, now);
        redial.dial_failed(&stranger, now);
        assert!(redial.take_due(now + MAX_BACKOFF).is_empty());
        assert!(redial.addrs(&stranger).is_empty());
    }
}
