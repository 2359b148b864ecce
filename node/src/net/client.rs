//! The handle side of the network: [`NetClient`] and the commands, events and errors
//! that cross between it and the [`super::EventLoop`].

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use fed_crdt::ids::FederationId;
use libp2p::gossipsub::{MessageAcceptance, MessageId, TopicHash};
use libp2p::request_response::ResponseChannel;
use libp2p::{Multiaddr, PeerId};
use tokio::sync::{mpsc, oneshot};

use super::protocol::{SyncRequest, SyncResponse};

/// A networking failure, as seen by a [`NetClient`] caller.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The event loop has stopped (shutdown).
    #[error("the network event loop has stopped")]
    Shutdown,
    /// The swarm could not be built.
    #[error("network configuration: {0}")]
    Config(String),
    /// Listening on an address failed.
    #[error("cannot listen on {address}: {reason}")]
    Listen {
        /// The address.
        address: Multiaddr,
        /// Why.
        reason: String,
    },
    /// Dialling a peer failed (including: the peer is not allowed).
    #[error("cannot dial {peer}: {reason}")]
    Dial {
        /// The peer.
        peer: PeerId,
        /// Why.
        reason: String,
    },
    /// A request failed (timeout, connection closed, unsupported protocol).
    #[error("request to {peer} failed: {reason}")]
    Request {
        /// The peer.
        peer: PeerId,
        /// Why.
        reason: String,
    },
    /// Joining one federation more than [`super::protocol::MAX_FEDERATIONS`].
    #[error("this node is in {limit} federations already, the most it may join")]
    TooManyFederations {
        /// The limit.
        limit: usize,
    },
    /// Publishing a gossip message failed.
    #[error("cannot publish on federation {federation}: {reason}")]
    Publish {
        /// The federation (short form).
        federation: String,
        /// Why.
        reason: String,
    },
}

impl<T> From<mpsc::error::SendError<T>> for NetError {
    fn from(_: mpsc::error::SendError<T>) -> Self {
        NetError::Shutdown
    }
}

impl From<oneshot::error::RecvError> for NetError {
    fn from(_: oneshot::error::RecvError) -> Self {
        NetError::Shutdown
    }
}

/// What the network tells the rest of the node.
#[derive(Debug)]
pub enum NetEvent {
    /// A connection with an allowed peer is up (first connection only).
    PeerConnected(PeerId),
    /// The last connection with a peer closed.
    PeerDisconnected(PeerId),
    /// A gossip message arrived; it is forwarded only once the engine reports it valid
    /// with [`NetClient::report_gossip`].
    Gossip {
        /// The topic it came on.
        topic: TopicHash,
        /// The peer that forwarded it.
        source: PeerId,
        /// Its id, for the validation report.
        message_id: MessageId,
        /// Its bytes.
        data: Vec<u8>,
    },
    /// A peer asks something; answer with [`NetClient::respond`].
    Request {
        /// The asking peer.
        peer: PeerId,
        /// The request.
        request: SyncRequest,
        /// Where the answer goes.
        channel: ResponseChannel<SyncResponse>,
    },
}

/// Instructions to the event loop; each carries its `reply` when the caller waits.
#[derive(Debug)]
pub enum NetCommand {
    /// Start listening; replies with the actual address (port 0 resolved).
    Listen {
        /// Where.
        address: Multiaddr,
        /// The answer.
        reply: oneshot::Sender<Result<Multiaddr, NetError>>,
    },
    /// Connect to a peer at an address.
    Dial {
        /// The peer.
        peer: PeerId,
        /// Its address.
        address: Multiaddr,
        /// The answer, once connected or failed.
        reply: oneshot::Sender<Result<(), NetError>>,
    },
    /// Replace the set of peers allowed to connect; connections to removed peers close.
    SetAllowedPeers {
        /// Members of a federation we share: every protocol.
        members: HashSet<PeerId>,
        /// Peers that may only fetch a chain: no gossip.
        chain_only: HashSet<PeerId>,
        /// Done.
        reply: oneshot::Sender<()>,
    },
    /// Subscribe to a federation's topic.
    Join {
        /// The federation.
        federation: FederationId,
        /// Done.
        reply: oneshot::Sender<Result<(), NetError>>,
    },
    /// Publish on a federation's topic.
    Publish {
        /// The federation.
        federation: FederationId,
        /// The bytes.
        data: Vec<u8>,
        /// Done.
        reply: oneshot::Sender<Result<(), NetError>>,
    },
    /// Report whether a gossip message is valid (fire and forget).
    ReportGossip {
        /// The message.
        message_id: MessageId,
        /// Who forwarded it.
        source: PeerId,
        /// The verdict.
        acceptance: MessageAcceptance,
    },
    /// Send a sync request and wait for the answer.
    Request {
        /// The peer.
        peer: PeerId,
        /// The request.
        request: SyncRequest,
        /// The answer.
        reply: oneshot::Sender<Result<SyncResponse, NetError>>,
    },
    /// Answer an inbound request (fire and forget).
    Respond {
        /// The channel from [`NetEvent::Request`].
        channel: ResponseChannel<SyncResponse>,
        /// The answer.
        response: SyncResponse,
    },
    /// The addresses we listen on.
    ListenAddrs {
        /// The answer.
        reply: oneshot::Sender<Vec<Multiaddr>>,
    },
    /// The peers connected now.
    ConnectedPeers {
        /// The answer.
        reply: oneshot::Sender<Vec<PeerId>>,
    },
}

/// What the event loop had to drop because the engine was behind: it never waits for
/// the engine, so a full event queue costs gossip (which anti-entropy makes up for) or an
/// answer "busy" (the asker asks again next round), never a stalled loop.
#[derive(Debug, Default)]
pub struct NetStats {
    gossip_dropped: AtomicU64,
    requests_busy: AtomicU64,
}

impl NetStats {
    /// Gossip messages dropped (reported to gossipsub as ignored) on a full queue.
    pub fn gossip_dropped(&self) -> u64 {
        self.gossip_dropped.load(Ordering::Relaxed)
    }

    /// Requests answered [`SyncResponse::Busy`] on a full queue.
    pub fn requests_busy(&self) -> u64 {
        self.requests_busy.load(Ordering::Relaxed)
    }

    pub(super) fn count_gossip_dropped(&self) {
        self.gossip_dropped.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn count_request_busy(&self) {
        self.requests_busy.fetch_add(1, Ordering::Relaxed);
    }
}

/// The events of the network, as two queues: connections come and go on a queue of
/// their own, never dropped (the engine's list of connected peers is built from them;
/// there are at most as many as allowed peers' connections), while gossip and requests
/// share a bounded one.
#[derive(Debug)]
pub struct NetEvents {
    pub(super) connections: mpsc::UnboundedReceiver<NetEvent>,
    pub(super) messages: mpsc::Receiver<NetEvent>,
}

impl NetEvents {
    /// The next event, connection events first; `None` once the loop has stopped and
    /// every event was read.
    pub async fn recv(&mut self) -> Option<NetEvent> {
        tokio::select! {
            biased;
            Some(e) = self.connections.recv() => Some(e),
            Some(e) = self.messages.recv() => Some(e),
            else => None,
        }
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<NetEvent> {
        self.connections
            .try_recv()
            .or_else(|_| self.messages.try_recv())
            .ok()
    }
}

/// A cloneable handle to the event loop.
///
/// Commands go on an unbounded queue: the loop never waits for anyone, so it drains the
/// queue as fast as commands come. The `async` methods wait for the loop's answer (for
/// the API and tests); the others (`announce`, `subscribe`, `allow_peers`, `connect`,
/// `report_gossip`, `respond`) return at once, for the engine, which must never wait on
/// the network.
#[derive(Clone, Debug)]
pub struct NetClient {
    pub(super) sender: mpsc::UnboundedSender<NetCommand>,
    pub(super) stats: Arc<NetStats>,
}

impl NetClient {
    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> NetCommand,
    ) -> Result<T, NetError> {
        let (reply, answer) = oneshot::channel();
        self.sender.send(make(reply))?;
        Ok(answer.await?)
    }

    /// Sends a command whose answer nobody waits for (the loop logs failures).
    fn post<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> NetCommand) {
        let (reply, _) = oneshot::channel();
        // A closed queue means shutdown: nothing left to do.
        let _ = self.sender.send(make(reply));
    }

    /// What the loop dropped because the engine was behind.
    pub fn stats(&self) -> &NetStats {
        &self.stats
    }

    /// Publishes `data` on a federation's topic, without waiting.
    pub fn announce(&self, federation: FederationId, data: Vec<u8>) {
        self.post(|reply| NetCommand::Publish {
            federation,
            data,
            reply,
        });
    }

    /// Subscribes to a federation's topic, without waiting.
    pub fn subscribe(&self, federation: FederationId) {
        self.post(|reply| NetCommand::Join { federation, reply });
    }

    /// Replaces the allowed peers (see [`NetClient::set_allowed_peers`]), without waiting.
    pub fn allow_peers(&self, members: HashSet<PeerId>, chain_only: HashSet<PeerId>) {
        self.post(|reply| NetCommand::SetAllowedPeers {
            members,
            chain_only,
            reply,
        });
    }

    /// Dials `peer` at each of `addresses`, without waiting.
    pub fn connect(&self, peer: PeerId, addresses: Vec<Multiaddr>) {
        for address in addresses {
            self.post(|reply| NetCommand::Dial {
                peer,
                address,
                reply,
            });
        }
    }

    /// Listens on `address`; returns the address actually bound.
    ///
    /// # Errors
    ///
    /// [`NetError::Listen`] if the address cannot be bound.
    pub async fn listen(&self, address: Multiaddr) -> Result<Multiaddr, NetError> {
        self.ask(|reply| NetCommand::Listen { address, reply })
            .await?
    }

    /// Connects to `peer` at `address`.
    ///
    /// # Errors
    ///
    /// [`NetError::Dial`] if the peer is not allowed or cannot be reached.
    pub async fn dial(&self, peer: PeerId, address: Multiaddr) -> Result<(), NetError> {
        self.ask(|reply| NetCommand::Dial {
            peer,
            address,
            reply,
        })
        .await?
    }

    /// Replaces the set of peers that may connect; others are disconnected at once.
    /// `chain_only` peers get no gossip; a peer that moves between the two sets is
    /// disconnected, to reconnect under its new rule.
    ///
    /// # Errors
    ///
    /// [`NetError::Shutdown`] if the loop has stopped.
    pub async fn set_allowed_peers(
        &self,
        members: HashSet<PeerId>,
        chain_only: HashSet<PeerId>,
    ) -> Result<(), NetError> {
        self.ask(|reply| NetCommand::SetAllowedPeers {
            members,
            chain_only,
            reply,
        })
        .await
    }

    /// Subscribes to a federation's gossip topic.
    ///
    /// # Errors
    ///
    /// [`NetError::Config`] if gossipsub refuses the subscription.
    pub async fn join(&self, federation: FederationId) -> Result<(), NetError> {
        self.ask(|reply| NetCommand::Join { federation, reply })
            .await?
    }

    /// Publishes `data` on a federation's topic.
    ///
    /// # Errors
    ///
    /// [`NetError::Publish`] if no peer is subscribed, the message is too large or was
    /// already published.
    pub async fn publish(&self, federation: FederationId, data: Vec<u8>) -> Result<(), NetError> {
        self.ask(|reply| NetCommand::Publish {
            federation,
            data,
            reply,
        })
        .await?
    }

    /// Reports the engine's verdict on a gossip message, without waiting.
    pub fn report_gossip(
        &self,
        message_id: MessageId,
        source: PeerId,
        acceptance: MessageAcceptance,
    ) {
        let _ = self.sender.send(NetCommand::ReportGossip {
            message_id,
            source,
            acceptance,
        });
    }

    /// Sends a sync request and waits for the answer.
    ///
    /// # Errors
    ///
    /// [`NetError::Request`] if the request fails or times out.
    pub async fn request(
        &self,
        peer: PeerId,
        request: SyncRequest,
    ) -> Result<SyncResponse, NetError> {
        self.ask(|reply| NetCommand::Request {
            peer,
            request,
            reply,
        })
        .await?
    }

    /// Answers an inbound request, without waiting.
    pub fn respond(&self, channel: ResponseChannel<SyncResponse>, response: SyncResponse) {
        let _ = self.sender.send(NetCommand::Respond { channel, response });
    }

    /// The addresses we listen on.
    ///
    /// # Errors
    ///
    /// [`NetError::Shutdown`] if the loop has stopped.
    pub async fn listen_addrs(&self) -> Result<Vec<Multiaddr>, NetError> {
        self.ask(|reply| NetCommand::ListenAddrs { reply }).await
    }

    /// The peers connected now.
    ///
    /// # Errors
    ///
    /// [`NetError::Shutdown`] if the loop has stopped.
    pub async fn connected_peers(&self) -> Result<Vec<PeerId>, NetError> {
        self.ask(|reply| NetCommand::ConnectedPeers { reply }).await
    }
}
