//! Networking: one [`EventLoop`] owns the libp2p swarm; everything else talks to it
//! through a cloneable [`NetClient`] and hears from it through [`NetEvent`]s.
//!
//! Every `NetClient` method sends a [`NetCommand`] with a oneshot `reply` and awaits it;
//! the loop answers when the matching swarm event arrives, success or failure. Nobody
//! else touches the swarm, so there is no lock around it. When every `NetClient` is
//! dropped, or the cancellation token fires, the loop returns.

pub mod behaviour;
pub mod protocol;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use fed_crdt::ids::FederationId;
use futures::StreamExt;
use libp2p::gossipsub::{self, MessageAcceptance, MessageId, TopicHash};
use libp2p::identity::Keypair;
use libp2p::request_response::{self, OutboundRequestId, ResponseChannel};
use libp2p::swarm::dial_opts::DialOpts;
use libp2p::swarm::{ConnectionId, DialError, SwarmEvent};
use libp2p::{core::transport::ListenerId, noise, tcp, yamux, Multiaddr, PeerId, Swarm};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, trace, warn};

use behaviour::{Behaviour, BehaviourConfig, BehaviourEvent};
use protocol::{federation_topic, FederationTopics, SyncRequest, SyncResponse};

/// How many commands may wait for the loop before senders wait.
const COMMAND_QUEUE: usize = 256;
/// How many events may wait for the engine before the loop waits.
const EVENT_QUEUE: usize = 1024;

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
        /// The new set.
        peers: HashSet<PeerId>,
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
    /// The peers connected now.
    ConnectedPeers {
        /// The answer.
        reply: oneshot::Sender<Vec<PeerId>>,
    },
}

/// A cloneable handle to the event loop.
#[derive(Clone, Debug)]
pub struct NetClient {
    sender: mpsc::Sender<NetCommand>,
}

impl NetClient {
    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> NetCommand,
    ) -> Result<T, NetError> {
        let (reply, answer) = oneshot::channel();
        self.sender.send(make(reply)).await?;
        Ok(answer.await?)
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
    ///
    /// # Errors
    ///
    /// [`NetError::Shutdown`] if the loop has stopped.
    pub async fn set_allowed_peers(&self, peers: HashSet<PeerId>) -> Result<(), NetError> {
        self.ask(|reply| NetCommand::SetAllowedPeers { peers, reply })
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

    /// Reports the engine's verdict on a gossip message.
    ///
    /// # Errors
    ///
    /// [`NetError::Shutdown`] if the loop has stopped.
    pub async fn report_gossip(
        &self,
        message_id: MessageId,
        source: PeerId,
        acceptance: MessageAcceptance,
    ) -> Result<(), NetError> {
        Ok(self
            .sender
            .send(NetCommand::ReportGossip {
                message_id,
                source,
                acceptance,
            })
            .await?)
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

    /// Answers an inbound request.
    ///
    /// # Errors
    ///
    /// [`NetError::Shutdown`] if the loop has stopped.
    pub async fn respond(
        &self,
        channel: ResponseChannel<SyncResponse>,
        response: SyncResponse,
    ) -> Result<(), NetError> {
        Ok(self
            .sender
            .send(NetCommand::Respond { channel, response })
            .await?)
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

/// Network settings.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// Behaviour tunables.
    pub behaviour: BehaviourConfig,
    /// How long an idle connection stays open.
    pub idle_timeout: Duration,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            behaviour: BehaviourConfig::default(),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// Builds the swarm and returns the client handle, the event stream and the loop to spawn.
///
/// # Errors
///
/// [`NetError::Config`] if a transport or the behaviour cannot be built.
pub fn new(
    key: Keypair,
    config: NetConfig,
    shutdown: CancellationToken,
) -> Result<(NetClient, mpsc::Receiver<NetEvent>, EventLoop), NetError> {
    let topics = FederationTopics::default();
    let behaviour_topics = topics.clone();
    let behaviour_config = config.behaviour.clone();
    let swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| NetError::Config(e.to_string()))?
        .with_quic()
        .with_behaviour(|key| {
            Behaviour::new(key, behaviour_topics, &behaviour_config)
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
        })
        .map_err(|e| NetError::Config(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(config.idle_timeout))
        .build();
    let (sender, commands) = mpsc::channel(COMMAND_QUEUE);
    let (events, event_receiver) = mpsc::channel(EVENT_QUEUE);
    Ok((
        NetClient { sender },
        event_receiver,
        EventLoop {
            swarm,
            commands,
            events,
            topics,
            shutdown,
            pending_listen: HashMap::new(),
            pending_dial: HashMap::new(),
            pending_request: HashMap::new(),
        },
    ))
}

/// Owns the swarm; run it with [`EventLoop::run`].
pub struct EventLoop {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<NetCommand>,
    events: mpsc::Sender<NetEvent>,
    /// Shared with gossipsub's subscription filter.
    topics: FederationTopics,
    shutdown: CancellationToken,
    pending_listen: HashMap<ListenerId, (Multiaddr, oneshot::Sender<Result<Multiaddr, NetError>>)>,
    pending_dial: HashMap<PeerId, Vec<oneshot::Sender<Result<(), NetError>>>>,
    pending_request: HashMap<OutboundRequestId, oneshot::Sender<Result<SyncResponse, NetError>>>,
}

impl EventLoop {
    /// Runs until shutdown or until every [`NetClient`] is dropped.
    pub async fn run(mut self) {
        info!(me = %self.swarm.local_peer_id(), "network started");
        loop {
            tokio::select! {
                biased;
                _ = self.shutdown.cancelled() => break,
                command = self.commands.recv() => match command {
                    Some(c) => self.handle_command(c),
                    None => break,
                },
                event = self.swarm.select_next_some() => self.handle_event(event).await,
            }
        }
        info!("network stopped");
    }

    fn handle_command(&mut self, command: NetCommand) {
        match command {
            NetCommand::Listen { address, reply } => match self.swarm.listen_on(address.clone()) {
                Ok(id) => {
                    self.pending_listen.insert(id, (address, reply));
                }
                Err(e) => {
                    let _ = reply.send(Err(NetError::Listen {
                        address,
                        reason: e.to_string(),
                    }));
                }
            },
            NetCommand::Dial {
                peer,
                address,
                reply,
            } => {
                if self.swarm.is_connected(&peer) {
                    let _ = reply.send(Ok(()));
                    return;
                }
                let opts = DialOpts::peer_id(peer).addresses(vec![address]).build();
                match self.swarm.dial(opts) {
                    Ok(()) => self.pending_dial.entry(peer).or_default().push(reply),
                    Err(e) => {
                        let _ = reply.send(Err(NetError::Dial {
                            peer,
                            reason: dial_reason(&e),
                        }));
                    }
                }
            }
            NetCommand::SetAllowedPeers { peers, reply } => {
                let allowed = &mut self.swarm.behaviour_mut().allowed;
                let current: Vec<PeerId> = allowed.allowed_peers().iter().copied().collect();
                for p in current.iter().filter(|p| !peers.contains(p)) {
                    // Closes existing connections with that peer.
                    allowed.disallow_peer(*p);
                }
                for p in peers {
                    allowed.allow_peer(p);
                }
                let _ = reply.send(());
            }
            NetCommand::Join { federation, reply } => {
                let topic = federation_topic(&federation);
                self.topics.insert(topic.hash());
                let result = self
                    .swarm
                    .behaviour_mut()
                    .gossip
                    .subscribe(&topic)
                    .map(|_| ())
                    .map_err(|e| NetError::Config(e.to_string()));
                let _ = reply.send(result);
            }
            NetCommand::Publish {
                federation,
                data,
                reply,
            } => {
                let topic = federation_topic(&federation);
                let result = self
                    .swarm
                    .behaviour_mut()
                    .gossip
                    .publish(topic, data)
                    .map(|_| ())
                    .map_err(|e| NetError::Publish {
                        federation: federation.fmt_short(),
                        reason: e.to_string(),
                    });
                let _ = reply.send(result);
            }
            NetCommand::ReportGossip {
                message_id,
                source,
                acceptance,
            } => {
                self.swarm
                    .behaviour_mut()
                    .gossip
                    .report_message_validation_result(&message_id, &source, acceptance);
            }
            NetCommand::Request {
                peer,
                request,
                reply,
            } => {
                let id = self.swarm.behaviour_mut().sync.send_request(&peer, request);
                self.pending_request.insert(id, reply);
            }
            NetCommand::Respond { channel, response } => {
                if self
                    .swarm
                    .behaviour_mut()
                    .sync
                    .send_response(channel, response)
                    .is_err()
                {
                    debug!("response not sent: the requester has gone");
                }
            }
            NetCommand::ConnectedPeers { reply } => {
                let _ = reply.send(self.swarm.connected_peers().copied().collect());
            }
        }
    }

    async fn emit(&mut self, event: NetEvent) {
        // A closed receiver means the node is shutting down; nothing to deliver to.
        let _ = self.events.send(event).await;
    }

    async fn handle_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr {
                listener_id,
                address,
            } => {
                info!(%address, "listening");
                if let Some((_, reply)) = self.pending_listen.remove(&listener_id) {
                    let _ = reply.send(Ok(address));
                }
            }
            SwarmEvent::ListenerClosed {
                listener_id,
                reason,
                ..
            } => {
                if let Some((address, reply)) = self.pending_listen.remove(&listener_id) {
                    let reason = match reason {
                        Ok(()) => "listener closed".to_string(),
                        Err(e) => e.to_string(),
                    };
                    let _ = reply.send(Err(NetError::Listen { address, reason }));
                }
            }
            SwarmEvent::ListenerError { listener_id, error } => {
                if let Some((address, reply)) = self.pending_listen.remove(&listener_id) {
                    let _ = reply.send(Err(NetError::Listen {
                        address,
                        reason: error.to_string(),
                    }));
                }
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                num_established,
                ..
            } => {
                for reply in self.pending_dial.remove(&peer_id).unwrap_or_default() {
                    let _ = reply.send(Ok(()));
                }
                if num_established.get() == 1 {
                    debug!(peer = %peer_id, "peer connected");
                    self.emit(NetEvent::PeerConnected(peer_id)).await;
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established,
                ..
            } => {
                if num_established == 0 {
                    debug!(peer = %peer_id, "peer disconnected");
                    self.emit(NetEvent::PeerDisconnected(peer_id)).await;
                }
            }
            SwarmEvent::OutgoingConnectionError {
                peer_id: Some(peer),
                error,
                ..
            } => {
                for reply in self.pending_dial.remove(&peer).unwrap_or_default() {
                    let _ = reply.send(Err(NetError::Dial {
                        peer,
                        reason: dial_reason(&error),
                    }));
                }
            }
            SwarmEvent::IncomingConnectionError { error, .. } => {
                debug!(error = %error, "incoming connection refused");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossip(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => {
                self.emit(NetEvent::Gossip {
                    topic: message.topic,
                    source: propagation_source,
                    message_id,
                    data: message.data,
                })
                .await;
            }
            SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => self.handle_sync(event).await,
            other => trace!(event = ?other, "unhandled swarm event"),
        }
    }

    async fn handle_sync(&mut self, event: request_response::Event<SyncRequest, SyncResponse>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    self.emit(NetEvent::Request {
                        peer,
                        request,
                        channel,
                    })
                    .await;
                }
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    if let Some(reply) = self.pending_request.remove(&request_id) {
                        let _ = reply.send(Ok(response));
                    }
                }
            },
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                if let Some(reply) = self.pending_request.remove(&request_id) {
                    let _ = reply.send(Err(NetError::Request {
                        peer,
                        reason: error.to_string(),
                    }));
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                warn!(peer = %peer, error = %error, "inbound sync request failed");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }
}

fn dial_reason(e: &DialError) -> String {
    match e {
        DialError::Denied { .. } => "not a member of any federation we share".to_string(),
        other => other.to_string(),
    }
}

/// The connection id type, re-exported for callers that log it.
pub type Connection = ConnectionId;
