//! The libp2p behaviour of a node: who may connect, gossip per federation, and sync.

use std::time::Duration;

use libp2p::swarm::NetworkBehaviour;
use libp2p::{allow_block_list, gossipsub, identity::Keypair, ping, request_response};

use crate::net::gossip_gate::GossipGate;
use crate::net::protocol::{
    subscription_filter, SyncRequest, SyncResponse, MAX_GOSSIP_BYTES, MAX_SYNC_REQUEST_BYTES,
    MAX_SYNC_RESPONSE_BYTES, SYNC_PROTOCOL,
};
use crate::net::NetError;

/// Everything the node's swarm does.
#[derive(NetworkBehaviour)]
pub struct Behaviour {
    /// Connection gating: only peers that share a federation with us, or that may still
    /// fetch its chain, are allowed; a connection with anyone else is denied as soon as
    /// the peer is authenticated.
    pub allowed: allow_block_list::Behaviour<allow_block_list::AllowedPeers>,
    /// One topic per federation, messages validated by the engine before forwarding;
    /// none on the connections of chain-only peers.
    pub gossip: GossipGate,
    /// Anti-entropy and catch-up.
    pub sync: request_response::cbor::Behaviour<SyncRequest, SyncResponse>,
    /// Keeps idle connections alive and notices dead ones.
    pub ping: ping::Behaviour,
}

/// Tunables of the behaviour, with defaults for production.
#[derive(Clone, Debug)]
pub struct BehaviourConfig {
    /// Gossipsub heartbeat (mesh maintenance).
    pub gossip_heartbeat: Duration,
    /// How long a sync request may take.
    pub request_timeout: Duration,
}

impl Default for BehaviourConfig {
    fn default() -> Self {
        BehaviourConfig {
            gossip_heartbeat: Duration::from_secs(1),
            request_timeout: Duration::from_secs(30),
        }
    }
}

impl Behaviour {
    /// Builds the behaviour for a node with `key`.
    ///
    /// # Errors
    ///
    /// [`NetError::Config`] if gossipsub refuses the configuration.
    pub fn new(key: &Keypair, config: &BehaviourConfig) -> Result<Behaviour, NetError> {
        let gossip_config = gossipsub::ConfigBuilder::default()
            .heartbeat_interval(config.gossip_heartbeat)
            .max_transmit_size(MAX_GOSSIP_BYTES)
            .validation_mode(gossipsub::ValidationMode::Strict)
            // The engine checks every message before it is forwarded.
            .validate_messages()
            .build()
            .map_err(|e| NetError::Config(e.to_string()))?;
        let mut gossip = gossipsub::Behaviour::new_with_subscription_filter(
            gossipsub::MessageAuthenticity::Signed(key.clone()),
            gossip_config,
            subscription_filter(),
        )
        .map_err(|e| NetError::Config(e.to_string()))?;
        gossip
            .with_peer_score(
                peer_score_params(),
                gossipsub::PeerScoreThresholds::default(),
            )
            .map_err(NetError::Config)?;
        let codec = request_response::cbor::codec::Codec::default()
            .set_request_size_maximum(MAX_SYNC_REQUEST_BYTES)
            .set_response_size_maximum(MAX_SYNC_RESPONSE_BYTES);
        let sync = request_response::Behaviour::with_codec(
            codec,
            [(SYNC_PROTOCOL, request_response::ProtocolSupport::Full)],
            request_response::Config::default().with_request_timeout(config.request_timeout),
        );
        Ok(Behaviour {
            allowed: allow_block_list::Behaviour::default(),
            gossip: GossipGate::new(gossip),
            sync,
            ping: ping::Behaviour::default(),
        })
    }
}

/// Penalty, per topic, of each message the engine rejects (squared over the messages
/// rejected, decaying): two in quick succession take a peer below gossipsub's graylist
/// threshold (-80), so that its gossip is ignored for a while.
pub const INVALID_MESSAGE_WEIGHT: f64 = -40.0;

/// Peer scoring limited to what the engine decides: only rejected messages count.
/// Mesh-delivery and colocation scores are off: federations are small, quiet and often
/// behind shared addresses (NAT, one cloud), where those scores punish honest members.
fn peer_score_params() -> gossipsub::PeerScoreParams {
    gossipsub::PeerScoreParams {
        ip_colocation_factor_weight: 0.0,
        slow_peer_weight: 0.0,
        ..gossipsub::PeerScoreParams::default()
    }
}

/// The scoring of one federation's topic: a rejected message costs
/// [`INVALID_MESSAGE_WEIGHT`]; nothing else scores.
pub fn topic_score_params() -> gossipsub::TopicScoreParams {
    gossipsub::TopicScoreParams {
        topic_weight: 1.0,
        time_in_mesh_weight: 0.0,
        first_message_deliveries_weight: 0.0,
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        invalid_message_deliveries_weight: INVALID_MESSAGE_WEIGHT,
        invalid_message_deliveries_decay: 0.5,
        ..gossipsub::TopicScoreParams::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scoring_parameters_are_valid() {
        assert!(peer_score_params().validate().is_ok());
        assert!(topic_score_params().validate().is_ok());
        // One rejected message leaves the peer above the graylist threshold, two do not.
        let graylist = gossipsub::PeerScoreThresholds::default().graylist_threshold;
        assert!(INVALID_MESSAGE_WEIGHT > graylist);
        assert!(INVALID_MESSAGE_WEIGHT * 4.0 < graylist);
    }
}
