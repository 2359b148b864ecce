//! [`Command`]: what an operator asks of the engine, and [`Answer`]: one reply type per
//! operation, shared by the node's API and its command-line client.

use fed_crdt::chain::body::{Rights, Role};
use fed_crdt::chain::file::ChainFile;
use fed_crdt::chain::state::{Catalog, MemberStatus};
use fed_crdt::envelope::Refusal;
use fed_crdt::ids::{ChangeHash, FederationId, PlatformId};
use fed_crdt::registry::exports::{ExportState, Party};
use fed_crdt::registry::platforms::PlatformProfile;
use serde::{Deserialize, Serialize};

use crate::exports::{ExportEntry, ExportOp};
use crate::federations::{FederationSummary, ReceiveOutcome};
use crate::projects::{ProjectEntry, ProjectOp};

/// The node's state as the status endpoint shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeStatus {
    /// This platform.
    pub platform_id: PlatformId,
    /// Federations and their chain heads.
    pub federations: Vec<FederationSummary>,
    /// Members connected now.
    pub peers: Vec<String>,
    /// Revoked platforms connected now, which may fetch the chain and nothing else.
    pub revoked_peers: Vec<String>,
    /// Sealed private documents held as a relay (0 on a platform).
    pub relayed_documents: usize,
    /// The sealed changes of those documents.
    pub relayed_changes: usize,
    /// Readers of the change feed (`GET /v1/events`) now.
    pub event_readers: usize,
    /// Gossip messages the network dropped because the engine was behind (anti-entropy
    /// makes up for them).
    pub gossip_dropped: u64,
    /// Peers' requests answered "busy" because the engine was behind.
    pub requests_busy: u64,
    /// Our changes not pushed because a peer's push queue was full (anti-entropy carries
    /// them; see `MAX_QUEUED_PUSH_ENVELOPES`).
    #[serde(default)]
    pub pushes_dropped: u64,
}

/// One platform as the registry and the chain describe it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlatformEntry {
    /// The platform.
    pub platform_id: PlatformId,
    /// Its name on the identity card the administrator signed.
    pub name: String,
    /// Platform or relay.
    pub role: Role,
    /// Its rights.
    pub rights: Rights,
    /// Active, expired or revoked, now.
    pub status: MemberStatus,
    /// What the platform says of itself in the registry, if it has written.
    pub profile: Option<PlatformProfile>,
}

/// What an operator asks of the engine.
#[derive(Debug)]
pub enum Command {
    /// Join a federation (or merge its records) from a chain file.
    Join(Box<ChainFile>),
    /// Newer records of a federation we are in, to verify, store and spread.
    Publish(Box<ChainFile>),
    /// The node's status.
    Status,
    /// Set this platform's own entry in a federation's platforms registry.
    SetProfile {
        /// The federation.
        federation: FederationId,
        /// The new profile.
        profile: PlatformProfile,
    },
    /// A federation's platforms registry, with what the chain says of each platform.
    Platforms(FederationId),
    /// Recorded refusals, of one federation if given.
    Refusals(Option<FederationId>),
    /// The projects of a federation this platform owns or that are shared with it.
    ListProjects(FederationId),
    /// An operation on one of a federation's projects.
    Projects {
        /// The federation.
        federation: FederationId,
        /// What to do.
        op: ProjectOp,
    },
    /// The export requests of a federation this platform makes or serves, optionally
    /// only in one state or one role.
    ListExports {
        /// The federation.
        federation: FederationId,
        /// Only requests in this state.
        state: Option<ExportState>,
        /// Only requests where this platform has this role.
        role: Option<Party>,
    },
    /// An operation on one of a federation's export requests.
    Exports {
        /// The federation.
        federation: FederationId,
        /// What to do.
        op: ExportOp,
    },
    /// A federation's catalog (frameworks, entity types, entities) at its chain's head.
    Catalog(FederationId),
    /// A federation's chain as a chain file.
    Chain(FederationId),
}

impl Command {
    /// Whether it may write: only those resume a store halted by a failed sync (reads go
    /// on without it).
    pub fn writes(&self) -> bool {
        match self {
            Command::Join(_) | Command::Publish(_) | Command::SetProfile { .. } => true,
            Command::Projects { op, .. } => op.writes(),
            Command::Exports { op, .. } => op.writes(),
            _ => false,
        }
    }
}

/// The engine's reply to a [`Command`], one variant per kind of command.
#[derive(Debug)]
pub enum Answer {
    /// [`Command::Join`], [`Command::Publish`]: the federation and what happened.
    Chain(FederationId, ReceiveOutcome),
    /// [`Command::Status`].
    Status(Box<NodeStatus>),
    /// [`Command::SetProfile`]: the accepted change, if anything changed.
    Profile(Option<ChangeHash>),
    /// [`Command::Platforms`].
    Platforms(Vec<PlatformEntry>),
    /// [`Command::Refusals`].
    Refusals(Vec<Refusal>),
    /// [`Command::ListProjects`].
    Projects(Vec<ProjectEntry>),
    /// [`Command::Projects`]: the project as the operation left it.
    Project(Box<ProjectEntry>),
    /// [`Command::ListExports`].
    Exports(Vec<ExportEntry>),
    /// [`Command::Exports`]: the request as the operation left it.
    Export(Box<ExportEntry>),
    /// [`Command::Catalog`].
    Catalog(Box<Catalog>),
    /// [`Command::Chain`].
    ChainFile(Box<ChainFile>),
}
