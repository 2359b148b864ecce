//! The handle side of the engine: [`EngineHandle`], its commands and errors.

use fed_crdt::chain::body::{Rights, Role};
use fed_crdt::chain::file::ChainFile;
use fed_crdt::chain::state::{Catalog, MemberStatus};
use fed_crdt::envelope::Refusal;
use fed_crdt::ids::{ChangeHash, DocId, FederationId, PlatformId};
use fed_crdt::registry::platforms::PlatformProfile;
use serde::Serialize;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::engine::documents::ChangeEvent;
use crate::engine::exports::{ExportAnswer, ExportOp};
use crate::engine::federations::{FederationSummary, ReceiveOutcome};
use crate::engine::projects::{ProjectAnswer, ProjectOp};
use crate::store::StoreError;

/// Why the engine refused a command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The engine has stopped.
    #[error("the node is shutting down")]
    Shutdown,
    /// A chain file that does not verify.
    #[error("invalid chain: {0}")]
    InvalidChain(String),
    /// Joining a federation this platform is not a member of.
    #[error("platform {platform} is not an active member of federation {federation}; ask its administrator to admit this node's identity card")]
    NotAMember {
        /// This platform.
        platform: PlatformId,
        /// The federation.
        federation: FederationId,
    },
    /// One federation more than the node may join.
    #[error("this node is in {limit} federations already, the most it may join")]
    TooManyFederations {
        /// The limit.
        limit: usize,
    },
    /// A federation this node does not belong to.
    #[error("this node is not in federation {0}")]
    UnknownFederation(FederationId),
    /// A profile the registry's rules would refuse.
    #[error("invalid profile: {0}")]
    InvalidProfile(String),
    /// The node's own change was refused by its own checks (e.g. rights changed).
    #[error("change refused: {0}")]
    Refused(String),
    /// Input that breaks a limit or a rule, said before anything is signed.
    #[error("{0}")]
    Invalid(String),
    /// Nothing of that id that this platform may see.
    #[error("no {0} visible to this platform")]
    NotFound(String),
    /// This platform may see it but not do that.
    #[error("{0}")]
    Forbidden(String),
    /// It would clash with what exists (a project code already used, say).
    #[error("{0}")]
    Conflict(String),
    /// This platform's membership has ended (revoked or expired): it may read what it
    /// holds, not write.
    #[error("{0}")]
    MembershipEnded(String),
    /// The document is deleted: nothing more may be written to it.
    #[error("{0}")]
    Deleted(String),
    /// Storage failed; nothing was acknowledged.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store holds changes of a document whose dependencies it does not hold: part of
    /// an accepted history is lost, and starting would serve an older document as if it
    /// were whole.
    #[error("document {document}: {missing} of its {stored} stored changes depend on changes the store does not hold (first: {first}); the store is incomplete, restore it from a backup or move it aside to resynchronise from peers")]
    IncompleteHistory {
        /// The document.
        document: DocId,
        /// Envelopes stored for it.
        stored: usize,
        /// Stored changes that cannot be placed.
        missing: usize,
        /// The first of them.
        first: ChangeHash,
    },
}

impl<T> From<mpsc::error::SendError<T>> for EngineError {
    fn from(_: mpsc::error::SendError<T>) -> Self {
        EngineError::Shutdown
    }
}

impl From<oneshot::error::RecvError> for EngineError {
    fn from(_: oneshot::error::RecvError) -> Self {
        EngineError::Shutdown
    }
}

/// The node's state as the status endpoint shows it.
#[derive(Clone, Debug, Serialize)]
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
    /// Gossip messages the network dropped because the engine was behind (anti-entropy
    /// makes up for them).
    pub gossip_dropped: u64,
    /// Peers' requests answered "busy" because the engine was behind.
    pub requests_busy: u64,
}

/// One platform as the registry and the chain describe it.
#[derive(Clone, Debug, Serialize)]
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

/// Commands to the engine; each carries its `reply`.
#[derive(Debug)]
pub enum EngineCommand {
    /// Join a federation (or merge its records) from a chain file.
    Join {
        /// The chain file.
        file: Box<ChainFile>,
        /// The federation and what happened.
        reply: oneshot::Sender<Result<(FederationId, ReceiveOutcome), EngineError>>,
    },
    /// Newer records of a federation we are in, to verify, store and spread.
    Publish {
        /// The chain file holding them.
        file: Box<ChainFile>,
        /// What happened.
        reply: oneshot::Sender<Result<(FederationId, ReceiveOutcome), EngineError>>,
    },
    /// The node's status.
    Status {
        /// The answer.
        reply: oneshot::Sender<NodeStatus>,
    },
    /// Set this platform's own entry in a federation's platforms registry.
    SetProfile {
        /// The federation.
        federation: FederationId,
        /// The new profile.
        profile: PlatformProfile,
        /// The accepted change, if anything changed.
        reply: oneshot::Sender<Result<Option<ChangeHash>, EngineError>>,
    },
    /// A federation's platforms registry, with what the chain says of each platform.
    Platforms {
        /// The federation.
        federation: FederationId,
        /// The answer.
        reply: oneshot::Sender<Result<Vec<PlatformEntry>, EngineError>>,
    },
    /// Recorded refusals.
    Refusals {
        /// Only this federation's, if given.
        federation: Option<FederationId>,
        /// The answer.
        reply: oneshot::Sender<Result<Vec<Refusal>, EngineError>>,
    },
    /// An operation on a federation's projects.
    Projects {
        /// The federation.
        federation: FederationId,
        /// What to do.
        op: ProjectOp,
        /// The answer.
        reply: oneshot::Sender<Result<ProjectAnswer, EngineError>>,
    },
    /// An operation on a federation's export requests.
    Exports {
        /// The federation.
        federation: FederationId,
        /// What to do.
        op: ExportOp,
        /// The answer.
        reply: oneshot::Sender<Result<ExportAnswer, EngineError>>,
    },
    /// A federation's catalog (frameworks, entity types, entities) at its chain's head.
    Catalog {
        /// The federation.
        federation: FederationId,
        /// The answer.
        reply: oneshot::Sender<Result<Catalog, EngineError>>,
    },
    /// A federation's chain as a chain file.
    Chain {
        /// The federation.
        federation: FederationId,
        /// The answer.
        reply: oneshot::Sender<Result<ChainFile, EngineError>>,
    },
}

/// A cloneable handle to the engine.
#[derive(Clone, Debug)]
pub struct EngineHandle {
    pub(super) sender: mpsc::Sender<EngineCommand>,
    pub(super) events: broadcast::Sender<ChangeEvent>,
}

impl EngineHandle {
    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> EngineCommand,
    ) -> Result<T, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.sender.send(make(reply)).await?;
        Ok(answer.await?)
    }

    /// Joins a federation from its chain file.
    ///
    /// # Errors
    ///
    /// See [`EngineError`].
    pub async fn join(
        &self,
        file: ChainFile,
    ) -> Result<(FederationId, ReceiveOutcome), EngineError> {
        self.ask(|reply| EngineCommand::Join {
            file: Box::new(file),
            reply,
        })
        .await?
    }

    /// Publishes newer records of a federation we are in.
    ///
    /// # Errors
    ///
    /// See [`EngineError`].
    pub async fn publish(
        &self,
        file: ChainFile,
    ) -> Result<(FederationId, ReceiveOutcome), EngineError> {
        self.ask(|reply| EngineCommand::Publish {
            file: Box::new(file),
            reply,
        })
        .await?
    }

    /// The node's status.
    ///
    /// # Errors
    ///
    /// [`EngineError::Shutdown`] if the engine has stopped.
    pub async fn status(&self) -> Result<NodeStatus, EngineError> {
        self.ask(|reply| EngineCommand::Status { reply }).await
    }

    /// Sets this platform's profile in a federation's platforms registry.
    ///
    /// # Errors
    ///
    /// [`EngineError::InvalidProfile`] for a profile over its limits, and the others.
    pub async fn set_profile(
        &self,
        federation: FederationId,
        profile: PlatformProfile,
    ) -> Result<Option<ChangeHash>, EngineError> {
        self.ask(|reply| EngineCommand::SetProfile {
            federation,
            profile,
            reply,
        })
        .await?
    }

    /// A federation's platforms registry.
    ///
    /// # Errors
    ///
    /// [`EngineError::UnknownFederation`] if the node is not in it.
    pub async fn platforms(
        &self,
        federation: FederationId,
    ) -> Result<Vec<PlatformEntry>, EngineError> {
        self.ask(|reply| EngineCommand::Platforms { federation, reply })
            .await?
    }

    /// Recorded refusals.
    ///
    /// # Errors
    ///
    /// [`EngineError::Store`] if they cannot be read.
    pub async fn refusals(
        &self,
        federation: Option<FederationId>,
    ) -> Result<Vec<Refusal>, EngineError> {
        self.ask(|reply| EngineCommand::Refusals { federation, reply })
            .await?
    }

    /// A subscription to the live feed of accepted changes.
    pub fn subscribe(&self) -> broadcast::Receiver<ChangeEvent> {
        self.events.subscribe()
    }

    /// Runs an operation on a federation's projects.
    ///
    /// # Errors
    ///
    /// [`EngineError::NotFound`], [`EngineError::Forbidden`], [`EngineError::Invalid`],
    /// [`EngineError::Conflict`], and the others.
    pub async fn projects(
        &self,
        federation: FederationId,
        op: ProjectOp,
    ) -> Result<ProjectAnswer, EngineError> {
        self.ask(|reply| EngineCommand::Projects {
            federation,
            op,
            reply,
        })
        .await?
    }

    /// Runs an operation on a federation's export requests.
    ///
    /// # Errors
    ///
    /// As [`EngineHandle::projects`].
    pub async fn exports(
        &self,
        federation: FederationId,
        op: ExportOp,
    ) -> Result<ExportAnswer, EngineError> {
        self.ask(|reply| EngineCommand::Exports {
            federation,
            op,
            reply,
        })
        .await?
    }

    /// A federation's catalog.
    ///
    /// # Errors
    ///
    /// [`EngineError::UnknownFederation`] if the node is not in it.
    pub async fn catalog(&self, federation: FederationId) -> Result<Catalog, EngineError> {
        self.ask(|reply| EngineCommand::Catalog { federation, reply })
            .await?
    }

    /// A federation's chain.
    ///
    /// # Errors
    ///
    /// [`EngineError::UnknownFederation`] if the node is not in it.
    pub async fn chain(&self, federation: FederationId) -> Result<ChainFile, EngineError> {
        self.ask(|reply| EngineCommand::Chain { federation, reply })
            .await?
    }
}
