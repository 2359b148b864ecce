//! What a private document reads as, and who may receive it.
//!
//! A project or an export request has an **audience**: the platforms it concerns, plus the
//! federation's relays (which store and forward without reading). The node sends a
//! private document, and even its id, only to its audience; the audience is read from
//! the document itself, so every holder computes the same one.

use std::collections::BTreeSet;

use fed_crdt::chain::body::Role;
use fed_crdt::chain::Chain;
use fed_crdt::ids::{DocKind, PlatformId};
use fed_crdt::registry::exports::{read_export, ExportView};
use fed_crdt::registry::projects::{read_project, ProjectView};
use fed_crdt::registry::Document;

/// A readable private document.
#[derive(Clone, Debug)]
pub enum View {
    /// A project.
    Project(ProjectView),
    /// An export request.
    Export(ExportView),
}

impl View {
    /// Reads a private document; `None` for the platforms registry, or a document that
    /// does not read as its kind yet (nothing accepted, say).
    pub fn read(doc: &Document) -> Option<View> {
        match doc.id().kind {
            DocKind::Platforms => None,
            DocKind::Project => read_project(doc.id(), doc.automerge()).map(View::Project),
            DocKind::Export => read_export(doc.id(), doc.automerge()).map(View::Export),
        }
    }

    /// The platform that draws the document's keys: a project's owner, an export
    /// request's requester.
    pub fn controller(&self) -> PlatformId {
        match self {
            View::Project(p) => p.owner,
            View::Export(e) => e.requester,
        }
    }

    /// The platforms the document concerns (without relays).
    pub fn parties(&self) -> BTreeSet<PlatformId> {
        match self {
            View::Project(p) => std::iter::once(p.owner)
                .chain(p.shares.keys().copied())
                .collect(),
            View::Export(e) => [e.requester, e.provider].into_iter().collect(),
        }
    }

    /// The parties and every relay of the federation that is a member now.
    pub fn audience(&self, chain: &Chain) -> BTreeSet<PlatformId> {
        let mut audience = self.parties();
        audience.extend(relays(chain));
        audience
    }
}

/// The relays of a federation (revoked or not: the caller checks membership).
pub fn relays(chain: &Chain) -> impl Iterator<Item = PlatformId> + '_ {
    chain
        .state()
        .members
        .iter()
        .filter(|(_, m)| m.role == Role::Relay)
        .map(|(id, _)| *id)
}
