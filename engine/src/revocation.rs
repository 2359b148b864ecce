//! What a node does when it learns that a platform was revoked: it acknowledges, in
//! every document it holds where that platform has changes and it is in the audience,
//! the heads it holds then, so
//! that what it accepted of the revoked platform stays accepted everywhere (see
//! `docs/membership.md`).

use fed_crdt::ids::{FederationId, PlatformId};
use tracing::{info, warn};

use super::{is_relay_in, Engine};

impl Engine {
    /// On learning of revocations (in the last `appended` records), writes one
    /// acknowledgement in each document held where a revoked platform has changes,
    /// depending on the heads held now: what this node accepted of the revoked platform
    /// stays accepted on every node (see `docs/membership.md`). Relays hold no document
    /// they could write in.
    pub(super) fn acknowledge_revocations(&mut self, federation: &FederationId, appended: usize) {
        let me = self.me();
        let Some(chain) = self.federations.get(federation) else {
            return;
        };
        if is_relay_in(chain, &me) || self.check_may_write(federation).is_err() {
            return;
        }
        let state = chain.state();
        let since = state.seq.saturating_sub(appended as u64);
        let revoked: Vec<PlatformId> = state
            .members
            .iter()
            .filter(|(_, m)| m.revoked.as_ref().is_some_and(|r| r.seq > since))
            .map(|(p, _)| *p)
            .collect();
        if revoked.is_empty() {
            return;
        }
        let now_ms = self.clock.millis;
        let mut outside = Vec::new();
        let acks: Vec<fed_crdt::registry::OwnChange> = self
            .documents
            .authored_by(federation, &revoked)
            .into_iter()
            .filter_map(|id| {
                if !self.documents.audience_includes(&id, &me, chain) {
                    // A private document this platform was removed from is no longer its
                    // to write in (every node would refuse the change): it keeps what it
                    // holds by vouching for it here alone.
                    outside.push(id);
                    return None;
                }
                let doc = self.documents.get(&id)?;
                fed_crdt::registry::acknowledge_revocation(
                    doc.automerge(),
                    chain,
                    id,
                    &self.signing,
                    now_ms,
                )
            })
            .collect();
        for id in outside {
            if let Err(e) = self.documents.vouch(&id) {
                warn!(fed = %federation.fmt_short(), doc = %id.fmt_short(), error = %e, "cannot vouch for a document's heads");
            }
        }
        for ack in acks {
            let doc = ack.envelope().document;
            let committed = match self.seal_local(ack) {
                Ok(sealed) => self.commit_local(sealed, Vec::new()).map(|_| ()),
                Err(e) => Err(e),
            };
            match committed {
                Ok(()) => {
                    info!(fed = %federation.fmt_short(), doc = %doc.fmt_short(), "revocation acknowledged")
                }
                Err(e) => {
                    warn!(fed = %federation.fmt_short(), doc = %doc.fmt_short(), error = %e, "cannot acknowledge a revocation")
                }
            }
        }
    }
}
