//! [`EngineError`]: why the engine refused a command.

use fed_crdt::ids::{ChangeHash, DocId, FederationId, PlatformId};

use crate::store::StoreError;

/// Why the engine refused a command.
///
/// Not `non_exhaustive`: the API maps every variant to a status, and a new one must be
/// mapped too.
#[derive(Debug, thiserror::Error)]
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
