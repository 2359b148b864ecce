//! What goes into the engine and what comes out: [`Input`], [`Effect`], the [`Clock`].

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use fed_crdt::ids::{FederationId, PlatformId};
use fed_crdt::Timestamp;

use crate::command::{Answer, Command};
use crate::documents::ChangeEvent;
use crate::protocol::{SyncRequest, SyncResponse};
use crate::store::{StoreError, WriteBatch};
use crate::EngineError;

/// The time an input is handled at: the wall clock, in milliseconds since the epoch.
/// The executor reads it; the simulator makes it up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Clock {
    /// Milliseconds since 1970-01-01 UTC.
    pub millis: i64,
}

impl Clock {
    /// The time `millis` milliseconds after the epoch.
    pub fn at_millis(millis: i64) -> Clock {
        Clock { millis }
    }

    /// Whole seconds, as membership records state their times.
    pub fn timestamp(&self) -> Timestamp {
        Timestamp(u64::try_from(self.millis / 1000).unwrap_or(0))
    }
}

/// An operator's command, numbered by the executor so that its reply finds its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub u64);

/// A gossip message received, numbered by the executor to report its verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GossipId(pub u64);

/// A peer's request, numbered by the executor to send the answer back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InboundId(pub u64);

/// One of our requests, numbered by the engine to match its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// What gossip should do with a message: forward it, drop it, or drop it and count it
/// against its sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Valid and new: forward it.
    Accept,
    /// Not for us, or nothing new: drop it silently.
    Ignore,
    /// Breaks a rule: drop it and penalise the peer that sent it.
    Reject,
}

/// Something that happened, for the engine to handle.
#[derive(Debug)]
pub enum Input {
    /// The node starts: it subscribes to its federations' topics, allows and dials its
    /// fellow members.
    Start,
    /// The periodic timer: dial who is missing, reconcile with everyone connected.
    Tick,
    /// A peer connected (its first connection).
    Connected(PlatformId),
    /// A peer disconnected (its last connection).
    Disconnected(PlatformId),
    /// A gossip message on a topic.
    Gossip {
        /// Its number, for the verdict.
        id: GossipId,
        /// The member that published it.
        source: PlatformId,
        /// The topic's name.
        topic: String,
        /// The message.
        data: Vec<u8>,
    },
    /// A peer's request.
    Request {
        /// Its number, for the answer.
        id: InboundId,
        /// The peer.
        peer: PlatformId,
        /// What it asks.
        request: SyncRequest,
    },
    /// The answer to one of our requests, or why there is none.
    Response {
        /// The request's number.
        id: RequestId,
        /// The answer, or the failure in words.
        response: Result<SyncResponse, String>,
    },
    /// An operator's command.
    Call {
        /// Its number, for the reply.
        id: CallId,
        /// What to do.
        command: Command,
    },
    /// Every batch up to this ticket is durable.
    Durable {
        /// The last durable ticket.
        up_to: u64,
    },
    /// A batch could not be written or made durable: every batch not yet durable is
    /// lost (the store undoes them when it is resumed).
    PersistFailed {
        /// The failure, shared by every caller it fails.
        error: Arc<StoreError>,
    },
}

/// Something for the executor to do.
#[derive(Debug)]
pub enum Effect {
    /// Subscribe to a federation's gossip topic.
    Subscribe(FederationId),
    /// Publish on a federation's gossip topic.
    Publish {
        /// The federation.
        federation: FederationId,
        /// The announcement's bytes.
        data: Vec<u8>,
    },
    /// Send a request; its answer (or failure) must come back as [`Input::Response`].
    Request {
        /// Its number.
        id: RequestId,
        /// To whom.
        peer: PlatformId,
        /// What.
        request: SyncRequest,
    },
    /// Answer a peer's request.
    Respond {
        /// The request's number.
        id: InboundId,
        /// The answer.
        response: SyncResponse,
    },
    /// Tell gossip what to do with a message.
    Verdict {
        /// The message's number.
        id: GossipId,
        /// Who published it.
        source: PlatformId,
        /// The verdict.
        verdict: Verdict,
    },
    /// Let exactly these peers connect: `members` fully, `chain_only` to fetch a chain
    /// and nothing else (platforms revoked from a federation we hold).
    AllowPeers {
        /// Active members of our federations.
        members: HashSet<PlatformId>,
        /// Revoked platforms active in none.
        chain_only: HashSet<PlatformId>,
    },
    /// Dial a member that is not connected.
    Dial {
        /// The member.
        peer: PlatformId,
        /// Its addresses as its card or the configuration gives them (unparsed).
        addresses: Vec<String>,
    },
    /// An accepted change, for the live feed.
    Feed(ChangeEvent),
    /// Write this batch atomically, then make it durable; say so with
    /// [`Input::Durable`] (or [`Input::PersistFailed`]). Tickets grow by one.
    Persist {
        /// The batch's ticket.
        ticket: u64,
        /// Everything one input wrote.
        batch: WriteBatch,
    },
    /// Answer an operator's command.
    Reply {
        /// The command's number.
        id: CallId,
        /// The answer.
        answer: Result<Answer, EngineError>,
    },
    /// Delete a retired encryption secret's file: nothing needs it any more.
    DeleteRetiredKey {
        /// The file.
        file: PathBuf,
    },
}
