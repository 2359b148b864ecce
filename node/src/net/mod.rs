//! Networking: one [`EventLoop`] owns the libp2p swarm; everything else talks to it
//! through a cloneable [`NetClient`] and hears from it through [`NetEvent`]s.
//!
//! Every `NetClient` method sends a [`NetCommand`] with a oneshot `reply` and awaits it;
//! the loop answers when the matching swarm event arrives, success or failure. Nobody
//! else touches the swarm, so there is no lock around it. When every `NetClient` is
//! dropped, or the cancellation token fires, the loop returns.

pub mod behaviour;
mod client;
mod gossip_gate;
pub mod protocol;

pub use client::{NetClient, NetCommand, NetError, NetEvent, NetEvents, NetStats};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use libp2p::gossipsub;
use libp2p::identity::Keypair;
use libp2p::request_response::{self, OutboundRequestId};
use libp2p::swarm::dial_opts::DialOpts;
use libp2p::swarm::{DialError, SwarmEvent};
use libp2p::{core::transport::ListenerId, noise, tcp, yamux, Multiaddr, PeerId, Swarm};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, trace, warn};

use behaviour::{Behaviour, BehaviourConfig, BehaviourEvent};
use protocol::{federation_topic, SyncRequest, SyncResponse, MAX_FEDERATIONS};

/// How many gossip messages and requests may wait for the engine; beyond it the loop
/// drops gossip and answers requests [`SyncResponse::Busy`] rather than wait.
pub const DEFAULT_EVENT_QUEUE: usize = 1024;

/// Network settings.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// Behaviour tunables.
    pub behaviour: BehaviourConfig,
    /// How long an idle connection stays open.
    pub idle_timeout: Duration,
    /// Gossip messages and requests that may wait for the engine
    /// ([`DEFAULT_EVENT_QUEUE`]).
    pub event_queue: usize,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            behaviour: BehaviourConfig::default(),
            idle_timeout: Duration::from_secs(60),
            event_queue: DEFAULT_EVENT_QUEUE,
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
) -> Result<(NetClient, NetEvents, EventLoop), NetError> {
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
            Behaviour::new(key, &behaviour_config)
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
        })
        .map_err(|e| NetError::Config(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(config.idle_timeout))
        .build();
    let (sender, commands) = mpsc::unbounded_channel();
    let (connection_events, connections) = mpsc::unbounded_channel();
    let (message_events, messages) = mpsc::channel(config.event_queue.max(1));
    let stats = Arc::new(NetStats::default());
    Ok((
        NetClient {
            sender,
            stats: stats.clone(),
        },
        NetEvents {
            connections,
            messages,
        },
        EventLoop {
            swarm,
            commands,
            connection_events,
            message_events,
            stats,
            shutdown,
            pending_listen: HashMap::new(),
            pending_dial: HashMap::new(),
            pending_request: HashMap::new(),
            dialled: HashMap::new(),
            reopen: HashMap::new(),
        },
    ))
}

/// Owns the swarm; run it with [`EventLoop::run`].
pub struct EventLoop {
    swarm: Swarm<Behaviour>,
    commands: mpsc::UnboundedReceiver<NetCommand>,
    connection_events: mpsc::UnboundedSender<NetEvent>,
    message_events: mpsc::Sender<NetEvent>,
    stats: Arc<NetStats>,
    shutdown: CancellationToken,
    pending_listen: HashMap<ListenerId, (Multiaddr, oneshot::Sender<Result<Multiaddr, NetError>>)>,
    pending_dial: HashMap<PeerId, Vec<oneshot::Sender<Result<(), NetError>>>>,
    pending_request: HashMap<OutboundRequestId, oneshot::Sender<Result<SyncResponse, NetError>>>,
    /// The address of the last connection we dialled to each connected peer.
    dialled: HashMap<PeerId, Multiaddr>,
    /// Peers disconnected because their gossip rule changed, to dial again at that
    /// address once their last connection has closed.
    reopen: HashMap<PeerId, Multiaddr>,
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
            NetCommand::SetAllowedPeers {
                members,
                chain_only,
                reply,
            } => {
                let allowed = &mut self.swarm.behaviour_mut().allowed;
                let current: Vec<PeerId> = allowed.allowed_peers().iter().copied().collect();
                for p in current
                    .iter()
                    .filter(|p| !members.contains(p) && !chain_only.contains(p))
                {
                    // Closes existing connections with that peer.
                    allowed.disallow_peer(*p);
                }
                for p in members.iter().chain(&chain_only) {
                    allowed.allow_peer(*p);
                }
                let moved = self.swarm.behaviour_mut().gossip.set_chain_only(chain_only);
                for peer in moved {
                    // Its connections were opened under the other rule: they close and
                    // reopen under the new one. If we dialled it we dial again; if it
                    // dialled us, it does.
                    if self.swarm.disconnect_peer_id(peer).is_ok() {
                        debug!(peer = %peer, "connections reopened under a new gossip rule");
                        if let Some(address) = self.dialled.get(&peer) {
                            self.reopen.insert(peer, address.clone());
                        }
                    }
                }
                let _ = reply.send(());
            }
            NetCommand::Join { federation, reply } => {
                let topic = federation_topic(&federation);
                let gossip = self.swarm.behaviour().gossip.gossip();
                let joined = gossip.topics().any(|t| *t == topic.hash());
                if !joined && gossip.topics().count() >= MAX_FEDERATIONS {
                    let _ = reply.send(Err(NetError::TooManyFederations {
                        limit: MAX_FEDERATIONS,
                    }));
                    return;
                }
                let gossip = self.swarm.behaviour_mut().gossip.gossip_mut();
                let result = gossip
                    .set_topic_params(topic.clone(), behaviour::topic_score_params())
                    .map_err(|e| NetError::Config(e.to_string()))
                    .and_then(|()| {
                        gossip
                            .subscribe(&topic)
                            .map(|_| ())
                            .map_err(|e| NetError::Config(e.to_string()))
                    });
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
                    .gossip_mut()
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
                    .gossip_mut()
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
            NetCommand::ListenAddrs { reply } => {
                let _ = reply.send(self.swarm.listeners().cloned().collect());
            }
            NetCommand::ConnectedPeers { reply } => {
                let _ = reply.send(self.swarm.connected_peers().copied().collect());
            }
        }
    }

    /// Hands an event to the engine without ever waiting for it: connection events
    /// always (their queue is unbounded), gossip and requests if their queue has room;
    /// otherwise gossip is reported ignored and a request answered busy, and counted.
    fn emit(&mut self, event: NetEvent) {
        let event = match event {
            e @ (NetEvent::PeerConnected(_) | NetEvent::PeerDisconnected(_)) => {
                // A closed receiver means the node is shutting down.
                let _ = self.connection_events.send(e);
                return;
            }
            e => e,
        };
        let Err(mpsc::error::TrySendError::Full(event)) = self.message_events.try_send(event)
        else {
            return;
        };
        match event {
            NetEvent::Gossip {
                source, message_id, ..
            } => {
                self.stats.count_gossip_dropped();
                debug!(peer = %source, "engine busy: gossip dropped");
                self.swarm
                    .behaviour_mut()
                    .gossip
                    .gossip_mut()
                    .report_message_validation_result(
                        &message_id,
                        &source,
                        gossipsub::MessageAcceptance::Ignore,
                    );
            }
            NetEvent::Request { peer, channel, .. } => {
                self.stats.count_request_busy();
                debug!(peer = %peer, "engine busy: request answered busy");
                let _ = self
                    .swarm
                    .behaviour_mut()
                    .sync
                    .send_response(channel, SyncResponse::Busy);
            }
            NetEvent::PeerConnected(_) | NetEvent::PeerDisconnected(_) => {}
        }
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
                endpoint,
                ..
            } => {
                if let libp2p::core::ConnectedPoint::Dialer { address, .. } = endpoint {
                    self.dialled.insert(peer_id, address);
                }
                for reply in self.pending_dial.remove(&peer_id).unwrap_or_default() {
                    let _ = reply.send(Ok(()));
                }
                if num_established.get() == 1 {
                    debug!(peer = %peer_id, "peer connected");
                    self.emit(NetEvent::PeerConnected(peer_id));
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established,
                ..
            } => {
                if num_established == 0 {
                    debug!(peer = %peer_id, "peer disconnected");
                    self.dialled.remove(&peer_id);
                    if let Some(address) = self.reopen.remove(&peer_id) {
                        let opts = DialOpts::peer_id(peer_id).addresses(vec![address]).build();
                        if let Err(e) = self.swarm.dial(opts) {
                            debug!(peer = %peer_id, error = %dial_reason(&e), "cannot reopen");
                        }
                    }
                    self.emit(NetEvent::PeerDisconnected(peer_id));
                }
            }
            SwarmEvent::OutgoingConnectionError {
                peer_id: Some(peer),
                error,
                ..
            } => {
                debug!(peer = %peer, reason = %dial_reason(&error), "dial failed");
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
                });
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
                    });
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
