//! Registries: Automerge documents materialised from accepted change envelopes.
//!
//! Each registry document (the platforms registry of a federation, each project, each
//! export request) is a [`Document`]: it takes envelopes in any order, runs every check
//! on them, buffers those whose dependencies have not arrived, applies the field-level
//! rules of its kind on a fork, and keeps the Automerge document built from the accepted
//! envelopes only. The same envelopes and the same chain give the same document on
//! every node, whatever the arrival order.
//!
//! - [`document`]: the state machine ([`Document::receive`], [`Document::rebuild`]).
//! - [`platforms`]: the platforms registry: profiles, and the local change that sets one.
//! - [`projects`]: project documents: details, owner, shares, and the local changes.
//! - [`exports`]: export requests: the dataset asked for, the workflow folded from the
//!   history, and the local changes.
//! - `rules/`: the field-level rules, one file per document kind.

mod as_of;
pub mod document;
pub mod exports;
mod local;
pub mod platforms;
pub mod projects;
mod rules;

pub use document::{Document, Loaded, Outcome};
pub use local::{acknowledge_revocation, OwnChange};
