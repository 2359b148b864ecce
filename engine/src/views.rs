//! What a private document reads as, and who may receive it.
//!
//! A project or an export request has an **audience**: the platforms it concerns, plus the
//! federation's relays (which store and forward without reading). The node sends a
//! private document, and even its id, only to its audience; the audience is read from
//! the document itself, so every holder computes the same one.

use std::collections::BTreeSet;

use automerge::Automerge;
use fed_crdt::chain::body::Role;
use fed_crdt::chain::Chain;
use fed_crdt::envelope::ChangeEnvelope;
use fed_crdt::ids::{ChangeHash, DocId, DocKind, PlatformId};
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
            DocKind::Project => doc.project_view().map(View::Project),
            _ => View::of(doc.id(), doc.automerge()),
        }
    }

    /// Reads document `id` as `automerge` holds it (an older version, say).
    fn of(id: DocId, automerge: &Automerge) -> Option<View> {
        match id.kind {
            DocKind::Platforms => None,
            DocKind::Project => read_project(id, automerge).map(View::Project),
            DocKind::Export => read_export(id, automerge).map(View::Export),
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

    /// Whether `platform` is in the audience: a party, or a relay of the federation.
    /// What anti-entropy asks of every document for every peer, so it builds no set.
    pub fn includes(&self, chain: &Chain, platform: &PlatformId) -> bool {
        let party = match self {
            View::Project(p) => p.owner == *platform || p.shares.contains_key(platform),
            View::Export(e) => e.requester == *platform || e.provider == *platform,
        };
        party
            || chain
                .state()
                .members
                .get(platform)
                .is_some_and(|m| m.role == Role::Relay)
    }

    /// The parties and every relay of the federation that is a member now.
    pub fn audience(&self, chain: &Chain) -> BTreeSet<PlatformId> {
        let mut audience = self.parties();
        audience.extend(relays(chain));
        audience
    }
}

/// What a platform no longer in a document's audience may still be sent: the changes
/// missing from `their_heads` that were made while it was in the audience (read at each
/// change's dependencies) and that build only on what it holds or is sent, in causal
/// order. A push would have carried exactly these, the change that removed it among
/// them; anti-entropy sends them to a platform whose push was lost, so that it learns
/// of its removal. At most `limit` changes are examined, since each costs a read of an
/// older version; the next round goes on from the asker's new heads.
pub fn departure(
    doc: &Document,
    platform: &PlatformId,
    their_heads: &[ChangeHash],
    chain: &Chain,
    limit: usize,
) -> Vec<ChangeEnvelope> {
    // Only a platform that held some version of the document, named by its heads (it
    // may also hold changes of its own that were refused here).
    if !their_heads.iter().any(|h| doc.is_accepted(h)) {
        return Vec::new();
    }
    let missing = doc.envelopes_missing_from(their_heads, &[], usize::MAX);
    let unsent: BTreeSet<ChangeHash> = missing.iter().map(|e| e.change_hash).collect();
    let mut sent = BTreeSet::new();
    let mut out = Vec::new();
    for env in missing.into_iter().take(limit) {
        let builds_on_theirs = env
            .deps
            .iter()
            .all(|d| !unsent.contains(d) || sent.contains(d));
        if !builds_on_theirs {
            continue;
        }
        let deps: Vec<automerge::ChangeHash> = env.deps.iter().map(|d| (*d).into()).collect();
        let seen = doc
            .automerge()
            .fork_at(&deps)
            .ok()
            .and_then(|before| View::of(doc.id(), &before))
            .is_some_and(|v| v.includes(chain, platform));
        if seen {
            sent.insert(env.change_hash);
            out.push(env);
        }
    }
    out
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
