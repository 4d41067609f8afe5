//! The libp2p behaviours a Concord node runs, and the swarm that drives them.
//!
//! Gossipsub is configured so that nothing is forwarded before the node core
//! has validated it (`validate_messages`), every message is signed by its
//! publisher and checked (`ValidationMode::Strict`), a message's id is the
//! SHA-256 of its bytes, and peer scoring turns each rejected message into a
//! penalty for the peer that forwarded it.

use std::time::Duration;

use concord_protocol::wire::MAX_GOSSIP_BYTES;
use libp2p::gossipsub::{
    self, IdentTopic, MessageAuthenticity, MessageId, PeerScoreParams, PeerScoreThresholds,
    TopicScoreParams, ValidationMode, score_parameter_decay,
};
use libp2p::metrics::Registry;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::NetworkBehaviour;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::{
    StreamProtocol, Swarm, allow_block_list, identify, identity, mdns, noise, ping, tcp, yamux,
};
use sha2::{Digest, Sha256};

use super::codec::{SYNC_PROTOCOL, SyncCodec};
use super::{NetConfig, NetError, REQUEST_TIMEOUT, Topic};

/// The identify protocol version every node announces.
const IDENTIFY_PROTOCOL: &str = "/concord/id/1";

/// Room for gossipsub's envelope (signature, key, topic, sequence number,
/// protobuf framing) on top of the largest message body: the transmit bound
/// applies to the whole RPC frame, not to the message alone.
const GOSSIP_ENVELOPE_BYTES: usize = 4 * 1024;

/// Federation peers stay connected while idle: gossip is sporadic, and a
/// dropped roster connection would only be redialed.
const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(3600);

/// Everything a node runs on each connection. The allow-list comes first so
/// that a refused peer never reaches the others.
#[derive(NetworkBehaviour)]
pub(crate) struct ConcordBehaviour {
    pub(crate) roster: allow_block_list::Behaviour<allow_block_list::AllowedPeers>,
    pub(crate) identify: identify::Behaviour,
    pub(crate) ping: ping::Behaviour,
    pub(crate) gossipsub: gossipsub::Behaviour,
    pub(crate) sync: request_response::Behaviour<SyncCodec>,
    pub(crate) mdns: Toggle<mdns::tokio::Behaviour>,
}

/// The gossipsub topic of each [`Topic`] in one federation.
#[derive(Debug, Clone)]
pub(crate) struct Topics {
    entries: IdentTopic,
    checkpoints: IdentTopic,
}

impl Topics {
    pub(crate) fn new(federation: &str) -> Self {
        Self {
            entries: IdentTopic::new(Topic::Entries.name(federation)),
            checkpoints: IdentTopic::new(Topic::Checkpoints.name(federation)),
        }
    }

    pub(crate) fn get(&self, topic: Topic) -> &IdentTopic {
        match topic {
            Topic::Entries => &self.entries,
            Topic::Checkpoints => &self.checkpoints,
        }
    }

    /// The [`Topic`] with this hash, if it is one of ours.
    pub(crate) fn find(&self, hash: &gossipsub::TopicHash) -> Option<Topic> {
        Topic::ALL
            .into_iter()
            .find(|topic| self.get(*topic).hash() == *hash)
    }
}

/// Builds the swarm: transports, behaviours, topic subscriptions; the
/// transports count the bytes they carry into `metrics`.
///
/// # Errors
/// [`NetError::Transport`] when a transport or behaviour cannot be built.
pub(crate) fn build_swarm(
    config: &NetConfig,
    metrics: &mut Registry,
) -> Result<Swarm<ConcordBehaviour>, NetError> {
    let topics = Topics::new(&config.federation);
    let swarm = libp2p::SwarmBuilder::with_existing_identity(config.keypair.clone())
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| NetError::Transport(format!("tcp: {e}")))?
        .with_quic()
        .with_bandwidth_metrics(metrics)
        .with_behaviour(|key| build_behaviour(key, config, &topics))
        .map_err(|e| NetError::Transport(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT))
        .build();
    Ok(swarm)
}

fn build_behaviour(
    key: &identity::Keypair,
    config: &NetConfig,
    topics: &Topics,
) -> Result<ConcordBehaviour, Box<dyn std::error::Error + Send + Sync>> {
    let mut roster = allow_block_list::Behaviour::<allow_block_list::AllowedPeers>::default();
    for peer in config.allowed.keys() {
        roster.allow_peer(*peer);
    }

    let gossipsub_config = gossipsub::ConfigBuilder::default()
        .validate_messages()
        .validation_mode(ValidationMode::Strict)
        .max_transmit_size(MAX_GOSSIP_BYTES + GOSSIP_ENVELOPE_BYTES)
        .message_id_fn(|message: &gossipsub::Message| {
            MessageId::new(&Sha256::digest(&message.data))
        })
        .build()
        .map_err(|e| format!("gossipsub configuration: {e}"))?;
    let mut gossipsub =
        gossipsub::Behaviour::new(MessageAuthenticity::Signed(key.clone()), gossipsub_config)
            .map_err(|e| format!("gossipsub: {e}"))?;
    gossipsub
        .with_peer_score(score_params(topics), PeerScoreThresholds::default())
        .map_err(|e| format!("gossipsub peer scoring: {e}"))?;
    for topic in Topic::ALL {
        gossipsub
            .subscribe(topics.get(topic))
            .map_err(|e| format!("subscribing to {topic}: {e}"))?;
    }

    let sync = request_response::Behaviour::new(
        [(StreamProtocol::new(SYNC_PROTOCOL), ProtocolSupport::Full)],
        request_response::Config::default().with_request_timeout(REQUEST_TIMEOUT),
    );

    let mdns = if config.mdns {
        Some(mdns::tokio::Behaviour::new(
            mdns::Config::default(),
            key.public().to_peer_id(),
        )?)
    } else {
        None
    };

    Ok(ConcordBehaviour {
        roster,
        identify: identify::Behaviour::new(identify::Config::new(
            IDENTIFY_PROTOCOL.into(),
            key.public(),
        )),
        ping: ping::Behaviour::default(),
        gossipsub,
        sync,
        mdns: Toggle::from(mdns),
    })
}

/// Peer scoring: gossipsub's defaults for the peer-wide terms, and for each
/// topic a penalty on invalid messages that outweighs any credit an honest
/// peer can earn.
fn score_params(topics: &Topics) -> PeerScoreParams {
    let mut params = PeerScoreParams {
        // P6 (many peers behind one IP) defends open networks against
        // Sybils; here only roster members may connect at all, and a local
        // federation puts every node on 127.0.0.1: past ten nodes the
        // penalty would silence gossip between them.
        ip_colocation_factor_weight: 0.0,
        ..PeerScoreParams::default()
    };
    for topic in Topic::ALL {
        params
            .topics
            .insert(topics.get(topic).hash(), topic_score_params());
    }
    params
}

fn topic_score_params() -> TopicScoreParams {
    TopicScoreParams {
        topic_weight: 1.0,
        // P1: at most +10 for time in the mesh (0.01 a second, capped).
        time_in_mesh_weight: 0.01,
        time_in_mesh_quantum: Duration::from_secs(1),
        time_in_mesh_cap: 1000.0,
        // P2: at most +20 for being first to deliver valid messages.
        first_message_deliveries_weight: 1.0,
        first_message_deliveries_decay: score_parameter_decay(Duration::from_secs(3600)),
        first_message_deliveries_cap: 20.0,
        // P3 and P3b off: a federation publishes sporadically, so a quiet
        // mesh peer is not a sign of misbehaviour.
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        // P4: -10 × (rejected messages)², remembered for about an hour: one
        // reject costs 10, two 40, three 90, which takes even a peer holding
        // the full +30 credit under the publish threshold (-50 by default).
        invalid_message_deliveries_weight: -10.0,
        invalid_message_deliveries_decay: score_parameter_decay(Duration::from_secs(3600)),
        ..TopicScoreParams::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_parameters_are_valid() {
        let topics = Topics::new("latam");
        assert_eq!(score_params(&topics).validate(), Ok(()));
        assert_eq!(PeerScoreThresholds::default().validate(), Ok(()));
        assert_eq!(
            topics.find(&topics.get(Topic::Checkpoints).hash()),
            Some(Topic::Checkpoints)
        );
        assert_eq!(
            topics.find(&IdentTopic::new("concord/other/entries/v1").hash()),
            None
        );
    }
}
