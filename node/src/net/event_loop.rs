//! The network task: the one owner of the swarm.
//!
//! It turns commands from [`NetHandle`](super::NetHandle)s into swarm calls
//! and swarm events into [`NetEvent`]s, and ties the two together with
//! `pending_*` maps: an outbound request's id to its caller's `oneshot`, an
//! inbound request's id to the `ResponseChannel` the node core's answer
//! must go through (it can only be used here, where the swarm is).
//! Nothing a peer sends can make it panic: malformed input is logged and
//! dropped, or rejected.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use concord_protocol::wire::{self, Gossip, MAX_GOSSIP_BYTES, SyncRequest, SyncResponse};
use libp2p::futures::StreamExt;
use libp2p::futures::future::BoxFuture;
use libp2p::futures::stream::FuturesUnordered;
use libp2p::gossipsub::{self, MessageAcceptance, MessageId, PublishError};
use libp2p::request_response::{
    self, InboundRequestId, OutboundFailure, OutboundRequestId, ResponseChannel,
};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, DialError, ListenError, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, allow_block_list, identify, mdns, ping};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::behaviour::{ConcordBehaviour, ConcordBehaviourEvent, Topics};
use super::redial::Redial;
use libp2p::metrics::Recorder as _;

use super::{Command, NetConfig, NetError, NetEvent, PeerInfo, ReplyHandle, Topic, Verdict};

/// Events decoded but not yet taken by the node core. When this many wait,
/// the task stops reading the swarm until the core catches up.
const OUTBOX_LIMIT: usize = 256;

/// How often the redial schedule is checked.
const REDIAL_TICK: Duration = Duration::from_millis(250);

type PendingReply = BoxFuture<
    'static,
    (
        InboundRequestId,
        Result<SyncResponse, oneshot::error::RecvError>,
    ),
>;

/// A connected peer's open connections.
struct Connected {
    since: SystemTime,
    connections: HashMap<ConnectionId, Multiaddr>,
}

pub(crate) struct EventLoop {
    swarm: Swarm<ConcordBehaviour>,
    topics: Topics,
    allowed: HashMap<PeerId, String>,
    redial: Redial,
    connected: HashMap<PeerId, Connected>,
    commands: mpsc::Receiver<Command>,
    commands_open: bool,
    events: mpsc::Sender<NetEvent>,
    outbox: VecDeque<NetEvent>,
    shutdown: CancellationToken,
    pending_requests: HashMap<OutboundRequestId, oneshot::Sender<Result<SyncResponse, NetError>>>,
    pending_replies: HashMap<InboundRequestId, ResponseChannel<SyncResponse>>,
    replies: FuturesUnordered<PendingReply>,
    /// libp2p's own metrics of the swarm and its protocols.
    metrics: libp2p::metrics::Metrics,
}

impl EventLoop {
    pub(crate) fn new(
        swarm: Swarm<ConcordBehaviour>,
        config: &NetConfig,
        commands: mpsc::Receiver<Command>,
        events: mpsc::Sender<NetEvent>,
        shutdown: CancellationToken,
        metrics: libp2p::metrics::Metrics,
    ) -> Self {
        Self {
            swarm,
            topics: Topics::new(&config.federation),
            allowed: config.allowed.clone(),
            redial: Redial::new(&config.bootstrap, Instant::now()),
            connected: HashMap::new(),
            commands,
            commands_open: true,
            events,
            outbox: VecDeque::new(),
            shutdown,
            pending_requests: HashMap::new(),
            pending_replies: HashMap::new(),
            replies: FuturesUnordered::new(),
            metrics,
        }
    }

    /// Runs until the shutdown token is cancelled; dropping the swarm on the
    /// way out closes every connection and listener.
    pub(crate) async fn run(mut self) {
        tracing::info!(peer = %self.swarm.local_peer_id(), "network task started");
        self.dial_due(Instant::now());
        // A second sender, so that a reserved permit borrows a local rather
        // than `self` while the other branches need `&mut self`.
        let events = self.events.clone();
        let mut redial_tick = tokio::time::interval(REDIAL_TICK);
        redial_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                () = self.shutdown.cancelled() => break,
                permit = events.reserve(), if !self.outbox.is_empty() => match permit {
                    Ok(permit) => {
                        if let Some(event) = self.outbox.pop_front() {
                            permit.send(event);
                        }
                    }
                    Err(_) => {
                        tracing::debug!(n_events = self.outbox.len(), "events dropped: the node core stopped listening");
                        self.outbox.clear();
                    }
                },
                command = self.commands.recv(), if self.commands_open => match command {
                    Some(command) => self.on_command(command),
                    // Every handle is gone; keep serving the swarm until shutdown.
                    None => self.commands_open = false,
                },
                Some((request_id, answer)) = self.replies.next(), if !self.replies.is_empty() => {
                    self.on_reply(request_id, answer);
                }
                event = self.swarm.select_next_some(), if self.outbox.len() < OUTBOX_LIMIT => {
                    self.on_swarm_event(event);
                }
                _ = redial_tick.tick() => self.dial_due(Instant::now()),
            }
        }
        tracing::info!(peer = %self.swarm.local_peer_id(), "network task stopped");
    }

    fn emit(&mut self, event: NetEvent) {
        if self.events.is_closed() {
            tracing::debug!(?event, "event dropped: the node core stopped listening");
            return;
        }
        self.outbox.push_back(event);
    }

    fn dial_due(&mut self, now: Instant) {
        for (peer, addrs) in self.redial.take_due(now) {
            let opts = DialOpts::peer_id(peer)
                .addresses(addrs)
                .extend_addresses_through_behaviour()
                .condition(PeerCondition::DisconnectedAndNotDialing)
                .build();
            match self.swarm.dial(opts) {
                Ok(()) => tracing::debug!(%peer, "dialing roster peer"),
                Err(DialError::DialPeerConditionFalse(_)) => {
                    // Already connected or dialing: that connection's fate
                    // drives the schedule.
                    if self.connected.contains_key(&peer) {
                        self.redial.connected(&peer, now);
                    }
                }
                Err(error) => {
                    tracing::warn!(%peer, %error, "cannot dial roster peer");
                    self.redial.dial_failed(&peer, now);
                }
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish { topic, data, reply } => {
                let result = match self
                    .swarm
                    .behaviour_mut()
                    .gossipsub
                    .publish(self.topics.get(topic).clone(), data)
                {
                    Ok(message_id) => {
                        tracing::debug!(%topic, %message_id, "published");
                        Ok(())
                    }
                    Err(PublishError::NoPeersSubscribedToTopic) => {
                        tracing::debug!(%topic, "published with no peer subscribed yet");
                        Ok(())
                    }
                    Err(PublishError::Duplicate) => {
                        tracing::debug!(%topic, "the same message was already published");
                        Ok(())
                    }
                    Err(error) => Err(NetError::Publish(error.to_string())),
                };
                // The caller may have given up waiting; nothing to undo.
                let _ = reply.send(result);
            }
            Command::Report {
                message_id,
                source,
                verdict,
            } => {
                let acceptance = match verdict {
                    Verdict::Accept => MessageAcceptance::Accept,
                    Verdict::Reject => MessageAcceptance::Reject,
                    Verdict::Ignore => MessageAcceptance::Ignore,
                };
                let known = self
                    .swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(&message_id, &source, acceptance);
                if !known {
                    tracing::debug!(%message_id, ?verdict, "verdict on a message no longer cached");
                }
            }
            Command::Request {
                peer,
                request,
                reply,
            } => {
                if !self.allowed.contains_key(&peer) {
                    let _ = reply.send(Err(NetError::NotAllowed(peer)));
                    return;
                }
                let addrs = self.redial.addrs(&peer);
                let request_id = self
                    .swarm
                    .behaviour_mut()
                    .sync
                    .send_request_with_addresses(&peer, request, addrs);
                self.pending_requests.insert(request_id, reply);
            }
            Command::Peers { reply } => {
                let _ = reply.send(self.peer_infos());
            }
            Command::ListenAddrs { reply } => {
                let _ = reply.send(self.swarm.listeners().cloned().collect());
            }
            Command::MeshPeers { topic, reply } => {
                let hash = self.topics.get(topic).hash();
                let _ = reply.send(
                    self.swarm
                        .behaviour()
                        .gossipsub
                        .mesh_peers(&hash)
                        .copied()
                        .collect(),
                );
            }
        }
    }

    fn peer_infos(&self) -> Vec<PeerInfo> {
        let gossipsub = &self.swarm.behaviour().gossipsub;
        let mut peers: Vec<PeerInfo> = self
            .connected
            .iter()
            .map(|(peer, connected)| PeerInfo {
                peer: *peer,
                addrs: connected.connections.values().cloned().collect(),
                connected_since: connected.since,
                score: gossipsub.peer_score(peer),
            })
            .collect();
        peers.sort_by_key(|info| info.peer);
        peers
    }

    /// The node core answered (or dropped) an inbound request.
    fn on_reply(
        &mut self,
        request_id: InboundRequestId,
        answer: Result<SyncResponse, oneshot::error::RecvError>,
    ) {
        let Some(channel) = self.pending_replies.remove(&request_id) else {
            tracing::debug!(%request_id, "answer to a request that already failed");
            return;
        };
        match answer {
            Ok(response) => {
                if self
                    .swarm
                    .behaviour_mut()
                    .sync
                    .send_response(channel, response)
                    .is_err()
                {
                    tracing::debug!(%request_id, "requester gone before the answer");
                }
            }
            // Dropping the channel closes the stream without a response.
            Err(_) => tracing::debug!(%request_id, "request dropped unanswered"),
        }
    }

    /// The roster member id of `peer`, for log lines.
    fn member(&self, peer: &PeerId) -> &str {
        self.allowed.get(peer).map_or("unknown", String::as_str)
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<ConcordBehaviourEvent>) {
        self.metrics.record(&event);
        match event {
            SwarmEvent::Behaviour(event) => self.on_behaviour_event(event),
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                num_established,
                ..
            } => {
                let addr = endpoint.get_remote_address().clone();
                self.redial.connected(&peer_id, Instant::now());
                self.connected
                    .entry(peer_id)
                    .or_insert_with(|| Connected {
                        since: SystemTime::now(),
                        connections: HashMap::new(),
                    })
                    .connections
                    .insert(connection_id, addr.clone());
                if num_established.get() == 1 {
                    tracing::info!(member = %self.member(&peer_id), peer = %peer_id, %addr, "peer connected");
                    self.emit(NetEvent::PeerConnected {
                        peer: peer_id,
                        addr,
                    });
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                num_established,
                cause,
                ..
            } => {
                if let Some(connected) = self.connected.get_mut(&peer_id) {
                    connected.connections.remove(&connection_id);
                }
                if num_established == 0 {
                    self.connected.remove(&peer_id);
                    match &cause {
                        Some(error) => {
                            tracing::info!(member = %self.member(&peer_id), peer = %peer_id, %error, "peer disconnected")
                        }
                        None => {
                            tracing::info!(member = %self.member(&peer_id), peer = %peer_id, "peer disconnected")
                        }
                    }
                    self.redial.disconnected(&peer_id, Instant::now());
                    self.emit(NetEvent::PeerDisconnected { peer: peer_id });
                }
            }
            SwarmEvent::IncomingConnectionError {
                send_back_addr,
                error,
                peer_id,
                ..
            } => match error {
                ListenError::Denied { cause } => {
                    match cause.downcast::<allow_block_list::NotAllowed>() {
                        Ok(_) => {
                            let peer = peer_id.map(|p| p.to_string()).unwrap_or_default();
                            tracing::warn!(%peer, remote_addr = %send_back_addr, "refused connection from a peer outside the roster");
                            if let Some(peer) = peer_id {
                                self.emit(NetEvent::PeerRefused {
                                    peer,
                                    addr: Some(send_back_addr),
                                });
                            }
                        }
                        Err(cause) => {
                            tracing::debug!(remote_addr = %send_back_addr, %cause, "inbound connection denied")
                        }
                    }
                }
                error => {
                    tracing::debug!(remote_addr = %send_back_addr, %error, "inbound connection failed")
                }
            },
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                let now = Instant::now();
                match error {
                    DialError::Denied { cause } => {
                        match cause.downcast::<allow_block_list::NotAllowed>() {
                            Ok(_) => {
                                tracing::warn!(peer = ?peer_id, "refused to dial a peer outside the roster");
                                if let Some(peer) = peer_id {
                                    self.emit(NetEvent::PeerRefused { peer, addr: None });
                                }
                            }
                            Err(cause) => {
                                tracing::debug!(peer = ?peer_id, %cause, "outbound connection denied")
                            }
                        }
                    }
                    error => tracing::debug!(peer = ?peer_id, %error, "dial failed"),
                }
                if let Some(peer) = peer_id
                    && !self.connected.contains_key(&peer)
                {
                    self.redial.dial_failed(&peer, now);
                }
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(addr = %address, "listening");
                self.emit(NetEvent::Listening { addr: address });
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                tracing::info!(addr = %address, "no longer listening")
            }
            SwarmEvent::ListenerError { error, .. } => tracing::warn!(%error, "listener failed"),
            SwarmEvent::ListenerClosed {
                addresses, reason, ..
            } => {
                tracing::warn!(?addresses, ?reason, "listener closed");
            }
            other => tracing::trace!(event = ?other, "swarm event"),
        }
    }

    fn on_behaviour_event(&mut self, event: ConcordBehaviourEvent) {
        match &event {
            ConcordBehaviourEvent::Gossipsub(event) => self.metrics.record(event),
            ConcordBehaviourEvent::Identify(event) => self.metrics.record(event),
            ConcordBehaviourEvent::Ping(event) => self.metrics.record(event),
            _ => {}
        }
        match event {
            ConcordBehaviourEvent::Roster(never) => match never {},
            ConcordBehaviourEvent::Gossipsub(event) => self.on_gossipsub_event(event),
            ConcordBehaviourEvent::Sync(event) => self.on_sync_event(event),
            ConcordBehaviourEvent::Identify(event) => self.on_identify_event(event),
            ConcordBehaviourEvent::Ping(ping::Event { peer, result, .. }) => {
                if let Err(error) = result {
                    tracing::debug!(%peer, %error, "ping failed");
                }
            }
            ConcordBehaviourEvent::Mdns(event) => self.on_mdns_event(event),
        }
    }

    fn on_gossipsub_event(&mut self, event: gossipsub::Event) {
        match event {
            gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            } => match self.check_gossip(&message) {
                Ok((topic, author, gossip)) => self.emit(NetEvent::Gossip {
                    source: propagation_source,
                    author,
                    message_id,
                    topic,
                    message: Box::new(gossip),
                }),
                Err(reason) => {
                    tracing::warn!(peer = %propagation_source, %message_id, %reason, "rejecting gossip");
                    self.reject(&message_id, &propagation_source);
                }
            },
            gossipsub::Event::Subscribed { peer_id, topic } => {
                tracing::debug!(peer = %peer_id, %topic, "subscribed")
            }
            gossipsub::Event::Unsubscribed { peer_id, topic } => {
                tracing::debug!(peer = %peer_id, %topic, "unsubscribed");
            }
            gossipsub::Event::GossipsubNotSupported { peer_id } => {
                tracing::warn!(peer = %peer_id, "peer does not speak gossipsub");
            }
            gossipsub::Event::SlowPeer {
                peer_id,
                failed_messages,
            } => {
                tracing::warn!(peer = %peer_id, ?failed_messages, "peer is too slow to receive gossip");
            }
        }
    }

    /// The topic, author and decoded body of a gossip message, or why it is
    /// rejected.
    fn check_gossip(
        &self,
        message: &gossipsub::Message,
    ) -> Result<(Topic, PeerId, Gossip), String> {
        let topic = self
            .topics
            .find(&message.topic)
            .ok_or_else(|| format!("unknown topic {}", message.topic))?;
        // Strict validation guarantees a signed source; refuse rather than
        // trust that.
        let author = message.source.ok_or("message has no author")?;
        let gossip: Gossip =
            wire::decode(&message.data, MAX_GOSSIP_BYTES).map_err(|e| e.to_string())?;
        let expected = Topic::of(&gossip);
        if expected != topic {
            return Err(format!(
                "a message for the {expected} topic arrived on {topic}"
            ));
        }
        Ok((topic, author, gossip))
    }

    fn reject(&mut self, message_id: &MessageId, source: &PeerId) {
        self.swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(message_id, source, MessageAcceptance::Reject);
    }

    fn on_sync_event(&mut self, event: request_response::Event<SyncRequest, SyncResponse>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request_id,
                    request,
                    channel,
                } => {
                    self.on_inbound_request(peer, request_id, request, channel);
                }
                request_response::Message::Response {
                    request_id,
                    response,
                } => match self.pending_requests.remove(&request_id) {
                    Some(reply) => {
                        let _ = reply.send(Ok(response));
                    }
                    None => tracing::debug!(%peer, %request_id, "response to an unknown request"),
                },
            },
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                tracing::debug!(%peer, %request_id, %error, "sync request failed");
                if let Some(reply) = self.pending_requests.remove(&request_id) {
                    let _ = reply.send(Err(outbound_error(error)));
                }
            }
            request_response::Event::InboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                // Its ResponseChannel is dead; the node core's answer, if any,
                // will find nothing to go to.
                self.pending_replies.remove(&request_id);
                match error {
                    // A frame over its bound or malformed, either way.
                    request_response::InboundFailure::Io(error) => {
                        tracing::warn!(%peer, %request_id, %error, "sync stream failed");
                    }
                    error => {
                        tracing::debug!(%peer, %request_id, %error, "inbound sync request failed")
                    }
                }
            }
            request_response::Event::ResponseSent {
                peer, request_id, ..
            } => {
                tracing::trace!(%peer, %request_id, "sync response sent");
            }
        }
    }

    fn on_inbound_request(
        &mut self,
        peer: PeerId,
        request_id: InboundRequestId,
        request: SyncRequest,
        channel: ResponseChannel<SyncResponse>,
    ) {
        // A request that breaks the wire bounds is answered here; the node
        // core only sees well-formed ones.
        if let Err(error) = request.check() {
            tracing::debug!(%peer, %request_id, %error, "refusing sync request");
            let refused = SyncResponse::Refused {
                reason: error.to_string(),
            };
            if self
                .swarm
                .behaviour_mut()
                .sync
                .send_response(channel, refused)
                .is_err()
            {
                tracing::debug!(%peer, %request_id, "requester gone before the refusal");
            }
            return;
        }
        let (sender, answer) = oneshot::channel();
        self.pending_replies.insert(request_id, channel);
        self.replies
            .push(Box::pin(async move { (request_id, answer.await) }));
        self.emit(NetEvent::SyncRequest {
            peer,
            request,
            reply: ReplyHandle { sender },
        });
    }

    fn on_identify_event(&mut self, event: identify::Event) {
        match event {
            identify::Event::Received { peer_id, info, .. } => {
                tracing::debug!(peer = %peer_id, agent = %info.agent_version, "identified");
                // Only roster peers get this far; their announced addresses
                // help later dials and requests.
                if self.allowed.contains_key(&peer_id) {
                    for addr in info.listen_addrs {
                        self.swarm.add_peer_address(peer_id, addr);
                    }
                }
            }
            identify::Event::Error { peer_id, error, .. } => {
                tracing::debug!(peer = %peer_id, %error, "identify failed");
            }
            identify::Event::Sent { .. } | identify::Event::Pushed { .. } => {}
        }
    }

    fn on_mdns_event(&mut self, event: mdns::Event) {
        match event {
            mdns::Event::Discovered(found) => {
                for (peer, addr) in found {
                    if !self.allowed.contains_key(&peer) {
                        tracing::debug!(%peer, %addr, "ignoring a discovered peer outside the roster");
                        continue;
                    }
                    self.swarm.add_peer_address(peer, addr.clone());
                    let opts = DialOpts::peer_id(peer)
                        .addresses(vec![addr])
                        .condition(PeerCondition::DisconnectedAndNotDialing)
                        .build();
                    if let Err(error) = self.swarm.dial(opts)
                        && !matches!(error, DialError::DialPeerConditionFalse(_))
                    {
                        tracing::debug!(%peer, %error, "cannot dial discovered peer");
                    }
                }
            }
            mdns::Event::Expired(gone) => tracing::debug!(?gone, "mdns records expired"),
        }
    }
}

fn outbound_error(error: OutboundFailure) -> NetError {
    match error {
        OutboundFailure::DialFailure => NetError::Unreachable,
        OutboundFailure::Timeout => NetError::Timeout,
        OutboundFailure::ConnectionClosed => NetError::ConnectionClosed,
        OutboundFailure::UnsupportedProtocols => {
            NetError::Refused("peer does not support /concord/sync/1".into())
        }
        OutboundFailure::Io(error) => NetError::Stream(error.to_string()),
    }
}
