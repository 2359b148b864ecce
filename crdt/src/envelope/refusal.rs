//! Refusals: a change that a node will not apply, with the check that failed and why.
//!
//! A refusal is recorded (the node keeps a refusal log) and never applied. It names the
//! envelope's ids so that an operator can find the change, its author and its document.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{ChangeHash, DocId, FederationId, PlatformId};

/// Which check refused a change, in the order the checks run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RefusalCheck {
    /// The envelope is for another document than the one receiving it.
    Document,
    /// Payload or dependency list over its limit (check 1).
    Size,
    /// The author's signature does not verify (check 2).
    Signature,
    /// Wrong federation, or the cited record is not the one in our chain (check 3).
    Citation,
    /// The author is not a platform member at the cited record (check 4).
    Membership,
    /// The author lacks the right the document kind needs (check 4).
    Right,
    /// The author was revoked at the cited record (check 4).
    Revoked,
    /// The change is dated before the record it cites (check 4).
    Time,
    /// The author's membership had expired at the change's time (check 4).
    Expired,
    /// The author is revoked and the change is outside its revocation frontier (check 5).
    Frontier,
    /// The sealed payload of a private document does not open under the key of its
    /// epoch, or is left in the clear (check 6, before decoding).
    Decrypt,
    /// The payload is not one uncompressed Automerge change (check 6).
    Decode,
    /// The payload's hash is not the envelope's `change_hash` (check 6).
    HashMismatch,
    /// The payload's dependencies are not the envelope's `deps` (check 6).
    DepsMismatch,
    /// The change's actor id is not the author's key (check 6).
    ActorBinding,
    /// Automerge cannot apply the change's operations on its own history (they name
    /// objects or predecessors that are not there), although the payload decodes.
    Malformed,
    /// A dependency of the change was refused (check 7).
    Dependency,
    /// The payload is sealed under an epoch that a later epoch had superseded by the time
    /// of the change's dependencies, or under an epoch the document never had (check 7).
    Epoch,
    /// The author's changes do not follow each other (its sequence number skips or
    /// repeats one in the change's own history).
    Sequence,
    /// A field-level rule of the document kind refuses the change (check 8).
    Rule,
    /// The author made two different changes with one sequence number; both are refused.
    Equivocation,
    /// The key grant of the payload's epoch is unsigned or forged, or wraps the key for a
    /// substituted encryption key or for a platform that is not a member.
    Grant,
}

impl RefusalCheck {
    /// The check's name, as written in refusal logs.
    pub fn name(self) -> &'static str {
        match self {
            RefusalCheck::Document => "document",
            RefusalCheck::Size => "size",
            RefusalCheck::Signature => "signature",
            RefusalCheck::Citation => "citation",
            RefusalCheck::Membership => "membership",
            RefusalCheck::Right => "right",
            RefusalCheck::Revoked => "revoked",
            RefusalCheck::Time => "time",
            RefusalCheck::Expired => "expired",
            RefusalCheck::Frontier => "frontier",
            RefusalCheck::Decrypt => "decrypt",
            RefusalCheck::Decode => "decode",
            RefusalCheck::HashMismatch => "hash_mismatch",
            RefusalCheck::DepsMismatch => "deps_mismatch",
            RefusalCheck::ActorBinding => "actor_binding",
            RefusalCheck::Malformed => "malformed",
            RefusalCheck::Dependency => "dependency",
            RefusalCheck::Epoch => "epoch",
            RefusalCheck::Sequence => "sequence",
            RefusalCheck::Rule => "rule",
            RefusalCheck::Equivocation => "equivocation",
            RefusalCheck::Grant => "grant",
        }
    }

    /// Whether every envelope of the same change would be refused alike, so that the
    /// change itself (and every change that depends on it) is refused for good.
    ///
    /// The other checks judge one envelope: another envelope of the same change, citing
    /// another record say, may pass them. That holds for the sealing checks too
    /// (`decrypt`, `epoch`, `grant`): the payload and its epoch belong to the envelope,
    /// not to the change, and the change may arrive again sealed properly. A refusal that holds for the change is only
    /// recorded against its hash once the payload is known to be that change by that
    /// author, so nobody can get someone else's change refused by wrapping its hash.
    pub fn refuses_the_change(self) -> bool {
        matches!(
            self,
            RefusalCheck::Frontier
                | RefusalCheck::Malformed
                | RefusalCheck::Dependency
                | RefusalCheck::Sequence
                | RefusalCheck::Rule
                | RefusalCheck::Equivocation
        )
    }
}

impl fmt::Display for RefusalCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A refused change: the envelope's ids, the check that failed, and a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refusal {
    /// The federation the envelope names.
    pub federation: FederationId,
    /// The document the envelope names.
    pub document: DocId,
    /// The change hash the envelope names.
    pub change_hash: ChangeHash,
    /// The author the envelope names.
    pub author: PlatformId,
    /// The check that failed.
    pub check: RefusalCheck,
    /// Why, naming the offending value.
    pub reason: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "change {} by {} in {} (federation {}) refused by check `{}`: {}",
            self.change_hash,
            self.author,
            self.document,
            self.federation.fmt_short(),
            self.check,
            self.reason
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_ids() {
        let r = Refusal {
            federation: FederationId([1; 32]),
            document: DocId::platforms_registry(&FederationId([1; 32])),
            change_hash: ChangeHash([2; 32]),
            author: PlatformId::from(&ed25519_dalek::SigningKey::from_bytes(&[3; 32])),
            check: RefusalCheck::Rule,
            reason: "edits another platform's entry".into(),
        };
        let text = r.to_string();
        for needle in [
            r.change_hash.to_string(),
            r.author.to_string(),
            r.document.to_string(),
            r.federation.fmt_short(),
            "`rule`".to_string(),
        ] {
            assert!(text.contains(&needle), "{text} lacks {needle}");
        }
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["check"], "rule");
    }

    #[test]
    fn names_match_serde() {
        for check in [
            RefusalCheck::HashMismatch,
            RefusalCheck::ActorBinding,
            RefusalCheck::Equivocation,
            RefusalCheck::Decrypt,
            RefusalCheck::Epoch,
            RefusalCheck::Grant,
        ] {
            let json = serde_json::to_value(check).unwrap();
            assert_eq!(json, check.name());
            let back: RefusalCheck = serde_json::from_value(json).unwrap();
            assert_eq!(back, check);
        }
    }

    #[test]
    fn sealing_checks_judge_the_envelope_only() {
        for check in [
            RefusalCheck::Decrypt,
            RefusalCheck::Epoch,
            RefusalCheck::Grant,
        ] {
            assert!(!check.refuses_the_change(), "{check}");
        }
    }
}
