//! Private documents travel sealed: their payloads are encrypted under the document's
//! epoch key (see [`crate::seal`]). A document that knows how to open them is given a
//! [`Sealing`]; it then refuses any payload that is not sealed, opens the others before
//! decoding, and refuses a change sealed under an epoch its own history had superseded.
//! The keys themselves stay with the caller (the node): this crate holds none.

use std::fmt;
use std::sync::Arc;

use automerge::Change;

use super::{Document, Entry};
use crate::envelope::check::{decode, decode_bytes};
use crate::envelope::{ChangeEnvelope, Refusal, RefusalCheck};
use crate::ids::{ChangeHash, PlatformId};
use crate::seal::is_sealed;

/// What a document needs of whoever holds the keys.
pub trait Sealing: Send + Sync {
    /// The plaintext of a sealed payload, or the refusal (check `decrypt`) of an envelope
    /// whose payload does not open under the key of its epoch.
    ///
    /// # Errors
    ///
    /// The refusal to record.
    fn open(&self, env: &ChangeEnvelope) -> Result<Vec<u8>, Refusal>;

    /// Refuses (check `epoch`) a change sealed under an epoch that a later epoch had
    /// replaced by the time of its dependencies; `depends_on` says whether a change is
    /// among them (or their ancestors). `creator` is the author of the document's
    /// accepted first change (its controller), whose key grants alone count.
    ///
    /// # Errors
    ///
    /// The refusal to record.
    fn check_epoch(
        &self,
        env: &ChangeEnvelope,
        depends_on: &dyn Fn(&ChangeHash) -> bool,
        creator: Option<PlatformId>,
    ) -> Result<(), Refusal>;
}

/// A shared [`Sealing`], printable so that [`Document`] stays `Debug`.
#[derive(Clone)]
pub(super) struct SealingRef(pub(super) Arc<dyn Sealing>);

impl fmt::Debug for SealingRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealing")
    }
}

impl Document {
    /// From now on, payloads must be sealed and are opened with `sealing`.
    pub fn set_sealing(&mut self, sealing: Arc<dyn Sealing>) {
        self.sealing = Some(SealingRef(sealing));
    }

    /// Whether the document's payloads are sealed.
    pub fn is_sealed(&self) -> bool {
        self.sealing.is_some()
    }

    /// Check 6 for this document: opens a sealed payload first when the document is
    /// sealed, and refuses a payload left in the clear.
    pub(super) fn decode(&self, env: &ChangeEnvelope) -> Result<Change, Refusal> {
        let Some(SealingRef(sealing)) = &self.sealing else {
            return decode(env);
        };
        self.check_form(env)?;
        let plaintext = sealing.open(env)?;
        decode_bytes(env, &plaintext)
    }

    /// Refuses a payload left in the clear in a sealed document.
    pub(super) fn check_form(&self, env: &ChangeEnvelope) -> Result<(), Refusal> {
        if self.sealing.is_some() && !is_sealed(&env.payload) {
            return Err(env.refusal(
                RefusalCheck::Decrypt,
                "the payload of a private document is in the clear; it must be sealed under the document's epoch key",
            ));
        }
        Ok(())
    }

    /// The epoch check, for a change whose dependencies are all accepted.
    pub(super) fn check_epoch(&self, entry: &Entry) -> Result<(), Refusal> {
        let Some(SealingRef(sealing)) = &self.sealing else {
            return Ok(());
        };
        if self.builds_on_everything(&entry.env.deps) {
            return sealing.check_epoch(
                &entry.env,
                &|h| self.index.contains_key(h),
                self.creator(),
            );
        }
        let past = self.past_of(&entry.env.deps);
        sealing.check_epoch(&entry.env, &|h| past.contains(h), self.creator())
    }

    /// The author of the document's accepted first change (the one without
    /// dependencies), which the rules made its owner or requester.
    pub fn creator(&self) -> Option<PlatformId> {
        self.accepted
            .iter()
            .find(|e| e.env.deps.is_empty())
            .map(|e| e.env.author)
    }
}
