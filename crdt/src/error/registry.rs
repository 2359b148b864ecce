//! Errors of the local changes to registry documents: platform profiles, projects and
//! export requests. Each names the field or the transition at fault, so that an API can
//! say why before anything is signed.

use crate::ids::{DocId, PlatformId};
use crate::registry::exports::ExportState;

/// A platform profile that cannot be written to the platforms registry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// A field is malformed or over its limit.
    #[error("profile field `{field}` {problem}")]
    Field {
        /// The field's name in the registry.
        field: String,
        /// What is wrong, and what is allowed.
        problem: String,
    },
    /// The document is not a platforms registry.
    #[error("{document} is not a platforms registry")]
    NotPlatformsRegistry {
        /// The document given.
        document: DocId,
    },
    /// The local clock is behind the membership record the change would cite.
    #[error("the clock says {now_ms} ms since the epoch, before the head membership record seq {seq} issued at {issued_at}; check the system clock")]
    ClockBehind {
        /// The time given.
        now_ms: i64,
        /// The cited record.
        seq: u64,
        /// When it was issued.
        issued_at: crate::Timestamp,
    },
    /// Automerge refused to build the change.
    #[error(transparent)]
    Automerge(#[from] automerge::AutomergeError),
}

/// A project that cannot be written, or a project change that cannot be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectError {
    /// A field is malformed, over its limit, or names an id missing from the catalog.
    #[error("project field `{field}` {problem}")]
    Field {
        /// The field's name in the document.
        field: String,
        /// What is wrong, and what is allowed.
        problem: String,
    },
    /// The document is not a project.
    #[error("{document} is not a project document")]
    NotProject {
        /// The document given.
        document: DocId,
    },
    /// The document does not hold a readable project (not created yet, or contested).
    #[error("{document} holds no readable project")]
    Unreadable {
        /// The document given.
        document: DocId,
    },
    /// The local clock is behind the membership record the change would cite.
    #[error("the clock says {now_ms} ms since the epoch, before the head membership record seq {seq} issued at {issued_at}; check the system clock")]
    ClockBehind {
        /// The time given.
        now_ms: i64,
        /// The cited record.
        seq: u64,
        /// When it was issued.
        issued_at: crate::Timestamp,
    },
    /// Automerge refused to build the change.
    #[error(transparent)]
    Automerge(#[from] automerge::AutomergeError),
}

/// An export request that cannot be written, or an export change that cannot be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// A field is malformed, missing or over its limit.
    #[error("export request field `{field}` {problem}")]
    Field {
        /// The field's name in the document.
        field: String,
        /// What is wrong, and what is allowed.
        problem: String,
    },
    /// The workflow does not let this platform make this transition now.
    #[error("cannot move the export request from {from} to {to}: {reason}")]
    IllegalTransition {
        /// The request's state now.
        from: ExportState,
        /// The state asked for.
        to: ExportState,
        /// Who may make it, if anyone, and why this platform may not.
        reason: String,
    },
    /// The request's details cannot be edited by this platform, or not in this state.
    #[error("the export request cannot be edited: {reason}")]
    NotEditable {
        /// Who may edit it, and when.
        reason: String,
    },
    /// The platform a request would go to is not a platform that can answer it.
    #[error("platform {provider} cannot receive the export request: {reason}")]
    BadProvider {
        /// The platform named.
        provider: PlatformId,
        /// Why it cannot.
        reason: String,
    },
    /// The document is not an export request.
    #[error("{document} is not an export request document")]
    NotExport {
        /// The document given.
        document: DocId,
    },
    /// The document does not hold a readable export request (not created yet, or invalid).
    #[error("{document} holds no readable export request")]
    Unreadable {
        /// The document given.
        document: DocId,
    },
    /// The local clock is behind the membership record the change would cite.
    #[error("the clock says {now_ms} ms since the epoch, before the head membership record seq {seq} issued at {issued_at}; check the system clock")]
    ClockBehind {
        /// The time given.
        now_ms: i64,
        /// The cited record.
        seq: u64,
        /// When it was issued.
        issued_at: crate::Timestamp,
    },
    /// Automerge refused to build the change.
    #[error(transparent)]
    Automerge(#[from] automerge::AutomergeError),
}
