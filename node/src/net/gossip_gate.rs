//! Gossip for members only, on connections that other protocols share with peers that
//! may fetch the chain and nothing else.
//!
//! A revoked platform must be able to learn its revocation (see `docs/membership.md`),
//! so its connections are allowed; but gossipsub forwards every announcement of a topic
//! to whoever is subscribed, and has no per-peer control. Such a peer's connections are
//! therefore given no gossip handler at all: gossipsub never hears of them, so it never
//! sends them anything nor takes anything from them. What the peer may ask over the sync
//! protocol the engine decides (the chain only).

use std::collections::HashSet;
use std::task::{Context, Poll};

use either::Either;
use libp2p::core::transport::PortUse;
use libp2p::core::Endpoint;
use libp2p::swarm::{
    dummy, ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent,
    THandlerOutEvent, ToSwarm,
};
use libp2p::{gossipsub, Multiaddr, PeerId};

use crate::net::protocol::SubscriptionFilter;

/// The gossipsub behaviour of a node.
pub type Gossipsub = gossipsub::Behaviour<gossipsub::IdentityTransform, SubscriptionFilter>;

/// Gossipsub, withheld from the connections of chain-only peers.
pub struct GossipGate {
    gossip: Gossipsub,
    /// Peers whose new connections get no gossip.
    chain_only: HashSet<PeerId>,
    /// The connections that were given no gossip, so that their events are not passed
    /// on to gossipsub, which never saw them open.
    without_gossip: HashSet<ConnectionId>,
}

impl GossipGate {
    /// Wraps `gossip`; nobody is chain-only at first.
    pub fn new(gossip: Gossipsub) -> GossipGate {
        GossipGate {
            gossip,
            chain_only: HashSet::new(),
            without_gossip: HashSet::new(),
        }
    }

    /// The gossipsub behaviour.
    pub fn gossip(&self) -> &Gossipsub {
        &self.gossip
    }

    /// The gossipsub behaviour, to publish, subscribe and report.
    pub fn gossip_mut(&mut self) -> &mut Gossipsub {
        &mut self.gossip
    }

    /// Replaces the chain-only peers; returns the peers that moved in or out of the set,
    /// whose open connections were made under the other rule and must be reopened.
    pub fn set_chain_only(&mut self, peers: HashSet<PeerId>) -> Vec<PeerId> {
        let moved = self
            .chain_only
            .symmetric_difference(&peers)
            .copied()
            .collect();
        self.chain_only = peers;
        moved
    }

    /// The handler of a new connection with `peer`: none for a chain-only peer.
    fn handler_for(
        &mut self,
        connection: ConnectionId,
        peer: PeerId,
        gossip: impl FnOnce(&mut Gossipsub) -> Result<THandler<Gossipsub>, ConnectionDenied>,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        if self.chain_only.contains(&peer) {
            self.without_gossip.insert(connection);
            return Ok(Either::Right(dummy::ConnectionHandler));
        }
        gossip(&mut self.gossip).map(Either::Left)
    }

    /// Whether a swarm event concerns a connection gossipsub never saw.
    fn is_without_gossip(&mut self, event: &FromSwarm) -> bool {
        match event {
            FromSwarm::ConnectionEstablished(e) => self.without_gossip.contains(&e.connection_id),
            FromSwarm::ConnectionClosed(e) => self.without_gossip.remove(&e.connection_id),
            FromSwarm::AddressChange(e) => self.without_gossip.contains(&e.connection_id),
            _ => false,
        }
    }
}

impl NetworkBehaviour for GossipGate {
    type ConnectionHandler = Either<THandler<Gossipsub>, dummy::ConnectionHandler>;
    type ToSwarm = gossipsub::Event;

    fn handle_pending_inbound_connection(
        &mut self,
        connection: ConnectionId,
        local: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        self.gossip
            .handle_pending_inbound_connection(connection, local, remote)
    }

    fn handle_established_inbound_connection(
        &mut self,
        connection: ConnectionId,
        peer: PeerId,
        local: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.handler_for(connection, peer, |g| {
            g.handle_established_inbound_connection(connection, peer, local, remote)
        })
    }

    fn handle_pending_outbound_connection(
        &mut self,
        connection: ConnectionId,
        peer: Option<PeerId>,
        addresses: &[Multiaddr],
        role: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        self.gossip
            .handle_pending_outbound_connection(connection, peer, addresses, role)
    }

    fn handle_established_outbound_connection(
        &mut self,
        connection: ConnectionId,
        peer: PeerId,
        address: &Multiaddr,
        role: Endpoint,
        port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.handler_for(connection, peer, |g| {
            g.handle_established_outbound_connection(connection, peer, address, role, port_use)
        })
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        if !self.is_without_gossip(&event) {
            self.gossip.on_swarm_event(event);
        }
    }

    fn on_connection_handler_event(
        &mut self,
        peer: PeerId,
        connection: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {
            Either::Left(e) => self.gossip.on_connection_handler_event(peer, connection, e),
            Either::Right(never) => match never {},
        }
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        self.gossip.poll(cx).map(|e| e.map_in(Either::Left))
    }
}
