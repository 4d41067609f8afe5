//! The federation network: libp2p between the agencies' nodes.
//!
//! One task owns the [`Swarm`](libp2p::Swarm) (see `event_loop`); the rest of
//! the node holds a cloneable [`NetHandle`] and receives [`NetEvent`]s, both
//! over bounded channels. The network task never touches storage: inbound
//! gossip and sync requests leave it as events and the node core decides.
//!
//! - Transports: TCP + Noise + Yamux, and QUIC (`/quic-v1`); identify, ping,
//!   and mDNS only when [`NetConfig::mdns`] is set (local demos).
//! - Roster gating: a connection from or to a peer id outside
//!   [`NetConfig::allowed`] is refused once the handshake has proven the
//!   remote's id, and logged with its remote address.
//! - Gossip (gossipsub, signed, strict validation) on two topics,
//!   `concord/<federation>/entries/v1` and
//!   `concord/<federation>/checkpoints/v1`, carrying
//!   [`Gossip`] messages as JSON (see `concord_protocol::wire`). A message is
//!   forwarded only after the node core reports [`Verdict::Accept`]; a
//!   [`Verdict::Reject`] lowers the forwarder's peer score. The message id is
//!   the SHA-256 of the message bytes, so one entry relayed by two peers is
//!   delivered once.
//! - Sync (request-response, protocol [`SYNC_PROTOCOL`] = `/concord/sync/1`):
//!   one request then one response per stream, each framed as a 4-byte
//!   big-endian length followed by that many bytes of JSON. The length is
//!   checked against `MAX_SYNC_REQUEST_BYTES` / `MAX_SYNC_RESPONSE_BYTES`
//!   before anything is read or decoded.
//! - Bootstrap: the roster addresses are dialed at start; a roster peer that
//!   disconnects or cannot be reached is redialed after 1 s, doubling up to
//!   30 s.

mod behaviour;
pub mod codec;
mod event_loop;
mod redial;

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use concord_protocol::wire::{Gossip, SyncRequest, SyncResponse};
use libp2p::gossipsub::MessageId;
use libp2p::identity::Keypair;
use libp2p::metrics::Registry;
use libp2p::{Multiaddr, PeerId};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use codec::{SYNC_PROTOCOL, SyncCodec};

/// How long an outbound sync request may wait for its response.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Commands waiting for the network task; callers wait when it is full.
const COMMAND_CAPACITY: usize = 64;

/// Everything the network task needs to start.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// The node's transport identity, from the agency's transport seed
    /// (`Keypair::ed25519_from_bytes`).
    pub keypair: Keypair,
    /// Addresses to listen on, e.g. `/ip4/127.0.0.1/tcp/0` and
    /// `/ip4/127.0.0.1/udp/0/quic-v1`.
    pub listen: Vec<Multiaddr>,
    /// Roster peers and their addresses, dialed at start and redialed when
    /// they drop. A peer may appear once per address.
    pub bootstrap: Vec<(PeerId, Multiaddr)>,
    /// Roster peer ids, each with its member's id (for the log lines): a
    /// connection with any other peer is refused.
    pub allowed: HashMap<PeerId, String>,
    /// The federation name, part of every topic name; no `/` or whitespace.
    pub federation: String,
    /// Discover peers on the local network with mDNS (local demos only);
    /// discovered peers are still gated by [`NetConfig::allowed`].
    pub mdns: bool,
}

/// A gossip topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// New entries: `concord/<federation>/entries/v1`.
    Entries,
    /// Checkpoints, cosignatures and equivocation proofs:
    /// `concord/<federation>/checkpoints/v1`.
    Checkpoints,
}

impl Topic {
    /// Both topics, in a fixed order.
    pub const ALL: [Topic; 2] = [Topic::Entries, Topic::Checkpoints];

    /// The gossipsub topic name within `federation`.
    pub fn name(self, federation: &str) -> String {
        match self {
            Topic::Entries => format!("concord/{federation}/entries/v1"),
            Topic::Checkpoints => format!("concord/{federation}/checkpoints/v1"),
        }
    }

    /// The topic a message belongs on.
    pub fn of(message: &Gossip) -> Topic {
        match message {
            Gossip::Entry { .. } => Topic::Entries,
            Gossip::Checkpoint { .. } | Gossip::Equivocation { .. } => Topic::Checkpoints,
        }
    }
}

impl std::fmt::Display for Topic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Topic::Entries => "entries",
            Topic::Checkpoints => "checkpoints",
        })
    }
}

/// The node core's decision on a gossip message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Valid: forward it to the mesh.
    Accept,
    /// Invalid: drop it and lower the forwarder's score.
    Reject,
    /// Not worth forwarding (e.g. already held), no penalty.
    Ignore,
}

/// Something the network saw, for the node core to act on.
#[derive(Debug)]
pub enum NetEvent {
    /// A gossip message, size-checked, decoded and on its proper topic.
    /// Report a [`Verdict`] with [`NetHandle::report`] using `message_id`
    /// and `source`; until then it is not forwarded.
    Gossip {
        /// The peer that forwarded the message to us.
        source: PeerId,
        /// The peer that signed (published) the message.
        author: PeerId,
        /// Gossipsub's id for the message: the SHA-256 of its bytes.
        message_id: MessageId,
        /// The topic it arrived on.
        topic: Topic,
        /// The message, boxed: it is by far the largest event.
        message: Box<Gossip>,
    },
    /// A roster peer asks for state; answer through `reply`.
    SyncRequest {
        /// The asking peer.
        peer: PeerId,
        /// The request, already checked with [`SyncRequest::check`].
        request: SyncRequest,
        /// Where the answer goes.
        reply: ReplyHandle,
    },
    /// The first connection with a peer was established.
    PeerConnected {
        /// The peer.
        peer: PeerId,
        /// The remote address of that connection.
        addr: Multiaddr,
    },
    /// The last connection with a peer closed.
    PeerDisconnected {
        /// The peer.
        peer: PeerId,
    },
    /// A peer outside the roster tried to connect, or was dialed, and was
    /// refused.
    PeerRefused {
        /// The refused peer.
        peer: PeerId,
        /// Its remote address.
        addr: Option<Multiaddr>,
    },
    /// The node listens on a new address.
    Listening {
        /// The address.
        addr: Multiaddr,
    },
}

/// The way back to a peer that sent a [`NetEvent::SyncRequest`].
///
/// Dropping it sends nothing: the peer's stream closes and its request fails.
#[derive(Debug)]
pub struct ReplyHandle {
    sender: oneshot::Sender<SyncResponse>,
}

impl ReplyHandle {
    /// Sends the answer.
    ///
    /// # Errors
    /// Gives the response back when the network task has stopped or the
    /// request already failed (timeout, connection closed).
    pub fn send(self, response: SyncResponse) -> Result<(), SyncResponse> {
        self.sender.send(response)
    }
}

/// A connected peer.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerInfo {
    /// The peer.
    pub peer: PeerId,
    /// The remote address of each open connection.
    pub addrs: Vec<Multiaddr>,
    /// When the first of the open connections was established.
    pub connected_since: SystemTime,
    /// Its gossipsub score as seen by this node (negative after rejected
    /// messages), when known.
    pub score: Option<f64>,
}

/// Why a network operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    /// The configuration cannot be used.
    #[error("invalid network configuration: {0}")]
    Config(String),
    /// Building the transports or behaviours failed.
    #[error("building the network stack failed: {0}")]
    Transport(String),
    /// A listen address was refused.
    #[error("cannot listen on {addr}: {reason}")]
    Listen {
        /// The address.
        addr: Multiaddr,
        /// Why.
        reason: String,
    },
    /// The message exceeds the gossip bound.
    #[error("gossip message is {size} bytes, more than the {max} allowed")]
    TooLarge {
        /// Its encoded size.
        size: usize,
        /// The bound.
        max: usize,
    },
    /// The message was published on a topic it does not belong on.
    #[error("a message for the {expected} topic cannot be published on {topic}")]
    WrongTopic {
        /// The topic asked for.
        topic: Topic,
        /// The topic the message belongs on.
        expected: Topic,
    },
    /// Gossipsub refused to publish.
    #[error("publishing failed: {0}")]
    Publish(String),
    /// The peer is not in the roster.
    #[error("peer {0} is not in the roster")]
    NotAllowed(PeerId),
    /// The peer could not be dialed.
    #[error("peer is unreachable")]
    Unreachable,
    /// No response within [`REQUEST_TIMEOUT`].
    #[error("request timed out")]
    Timeout,
    /// The peer does not speak the sync protocol.
    #[error("peer refused the request: {0}")]
    Refused(String),
    /// The connection closed before the response arrived.
    #[error("connection closed before the response arrived")]
    ConnectionClosed,
    /// The sync stream failed: a frame too large or malformed, or cut short.
    #[error("sync stream failed: {0}")]
    Stream(String),
    /// The network task has stopped.
    #[error("the network task has stopped")]
    Stopped,
}

/// A request for the network task; each that expects an answer carries
/// its `oneshot` sender.
#[derive(Debug)]
enum Command {
    Publish {
        topic: Topic,
        data: Vec<u8>,
        reply: oneshot::Sender<Result<(), NetError>>,
    },
    Report {
        message_id: MessageId,
        source: PeerId,
        verdict: Verdict,
    },
    Request {
        peer: PeerId,
        request: SyncRequest,
        reply: oneshot::Sender<Result<SyncResponse, NetError>>,
    },
    Peers {
        reply: oneshot::Sender<Vec<PeerInfo>>,
    },
    ListenAddrs {
        reply: oneshot::Sender<Vec<Multiaddr>>,
    },
    MeshPeers {
        topic: Topic,
        reply: oneshot::Sender<Vec<PeerId>>,
    },
}

/// The rest of the node's way to the network task. Cheap to clone.
#[derive(Debug, Clone)]
pub struct NetHandle {
    commands: mpsc::Sender<Command>,
}

impl NetHandle {
    /// Publishes `message` on `topic`.
    ///
    /// Having no peer subscribed yet is not an error (gossip is the fast
    /// path; anti-entropy delivers later), nor is publishing the same bytes
    /// twice.
    ///
    /// # Errors
    /// [`NetError::WrongTopic`], [`NetError::TooLarge`] before anything is
    /// sent; [`NetError::Publish`] when gossipsub refuses;
    /// [`NetError::Stopped`].
    pub async fn publish(&self, topic: Topic, message: &Gossip) -> Result<(), NetError> {
        let expected = Topic::of(message);
        if expected != topic {
            return Err(NetError::WrongTopic { topic, expected });
        }
        let data = concord_protocol::wire::encode(message);
        let max = concord_protocol::wire::MAX_GOSSIP_BYTES;
        if data.len() > max {
            return Err(NetError::TooLarge {
                size: data.len(),
                max,
            });
        }
        let (reply, answer) = oneshot::channel();
        self.send(Command::Publish { topic, data, reply }).await?;
        answer.await.map_err(|_| NetError::Stopped)?
    }

    /// Reports the node core's verdict on a [`NetEvent::Gossip`]: accepted
    /// messages are forwarded, rejected ones lower `source`'s score.
    /// Does nothing once the network task has stopped.
    pub async fn report(&self, message_id: MessageId, source: PeerId, verdict: Verdict) {
        let command = Command::Report {
            message_id,
            source,
            verdict,
        };
        if self.send(command).await.is_err() {
            tracing::debug!("verdict dropped: the network task has stopped");
        }
    }

    /// Sends a sync request to a roster peer, dialing it if needed, and
    /// waits for its response.
    ///
    /// # Errors
    /// [`NetError::NotAllowed`] for a peer outside the roster,
    /// [`NetError::Timeout`] after [`REQUEST_TIMEOUT`],
    /// [`NetError::Unreachable`], [`NetError::Refused`],
    /// [`NetError::ConnectionClosed`], [`NetError::Stream`] (e.g. a response
    /// over `MAX_SYNC_RESPONSE_BYTES`), [`NetError::Stopped`].
    pub async fn request(
        &self,
        peer: PeerId,
        request: SyncRequest,
    ) -> Result<SyncResponse, NetError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Request {
            peer,
            request,
            reply,
        })
        .await?;
        // request-response enforces REQUEST_TIMEOUT itself; this margin only
        // guards against an answer that never comes back from the task.
        match tokio::time::timeout(REQUEST_TIMEOUT + Duration::from_secs(5), answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(NetError::Stopped),
            Err(_) => Err(NetError::Timeout),
        }
    }

    /// The connected peers; empty once the network task has stopped.
    pub async fn peers(&self) -> Vec<PeerInfo> {
        self.ask(|reply| Command::Peers { reply })
            .await
            .unwrap_or_default()
    }

    /// The addresses the node listens on; empty once the task has stopped.
    pub async fn listen_addrs(&self) -> Vec<Multiaddr> {
        self.ask(|reply| Command::ListenAddrs { reply })
            .await
            .unwrap_or_default()
    }

    /// The peers in this node's gossip mesh for `topic`: those it forwards
    /// accepted messages to.
    pub async fn mesh_peers(&self, topic: Topic) -> Vec<PeerId> {
        self.ask(|reply| Command::MeshPeers { topic, reply })
            .await
            .unwrap_or_default()
    }

    async fn ask<T>(&self, command: impl FnOnce(oneshot::Sender<T>) -> Command) -> Option<T> {
        let (reply, answer) = oneshot::channel();
        self.send(command(reply)).await.ok()?;
        answer.await.ok()
    }

    async fn send(&self, command: Command) -> Result<(), NetError> {
        self.commands
            .send(command)
            .await
            .map_err(|_| NetError::Stopped)
    }
}

/// Starts the network task: builds the swarm, listens, dials the roster.
///
/// Events go to `events` (bounded: when the node core falls behind, the task
/// stops reading from the network rather than drop events). The task ends
/// when `shutdown` is cancelled, closing every connection; the returned
/// [`JoinHandle`] completes then.
///
/// # Errors
/// [`NetError::Config`] for a bad federation name or when called outside a
/// Tokio runtime, [`NetError::Transport`], [`NetError::Listen`].
pub fn spawn(
    config: NetConfig,
    events: mpsc::Sender<NetEvent>,
    shutdown: CancellationToken,
    registry: &mut Registry,
) -> Result<(NetHandle, JoinHandle<()>), NetError> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
        NetError::Config("the network must be started inside a Tokio runtime".into())
    })?;
    let federation = &config.federation;
    if federation.is_empty() || federation.contains('/') || federation.contains(char::is_whitespace)
    {
        return Err(NetError::Config(format!(
            "federation name {federation:?} must be non-empty, without '/' or whitespace"
        )));
    }
    let mut swarm = behaviour::build_swarm(&config, registry)?;
    for addr in &config.listen {
        swarm
            .listen_on(addr.clone())
            .map_err(|e| NetError::Listen {
                addr: addr.clone(),
                reason: e.to_string(),
            })?;
    }
    let (commands, command_rx) = mpsc::channel(COMMAND_CAPACITY);
    let metrics = libp2p::metrics::Metrics::new(registry);
    let event_loop =
        event_loop::EventLoop::new(swarm, &config, command_rx, events, shutdown, metrics);
    let join = runtime.spawn(event_loop.run());
    Ok((NetHandle { commands }, join))
}
