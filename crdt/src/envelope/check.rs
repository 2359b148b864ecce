//! The checks every node runs on an envelope before its change may touch a document.
//!
//! They run in this order, cheapest first, and the first that fails names the refusal:
//!
//! 1. **Sizes**, before anything is decoded: payload at most
//!    [`MAX_CHANGE_BYTES`], at most [`MAX_CHANGE_DEPS`] dependencies.
//! 2. **Signature** of the author over the canonical bytes (`verify_strict`).
//! 3. **Citation**: our federation; the cited seq is a record of our chain with the cited
//!    hash. A record we do not have yet is waited for, not refused.
//! 4. **Membership at the cited record**: a member, with role platform, not revoked there,
//!    holding the right the document kind needs.
//! 5. **Revocation frontier**: if the author is revoked anywhere in our chain, the change
//!    must be a frontier head for this document or an ancestor of one. Ancestry needs the
//!    document's history, which the caller provides as a [`FrontierHistory`]; when it
//!    cannot tell yet, the envelope waits.
//! 6. **Decoding and binding**: the payload is one uncompressed Automerge change whose
//!    hash, dependencies and actor id are the envelope's `change_hash`, `deps` and
//!    author's key.
//!
//! Then the rest of check 4: the change's own time (its Automerge timestamp, in
//! milliseconds) must not be earlier than the cited record's, and the author must not have
//! expired at that time. It comes last because that time is only authentic once check 6
//! has bound the payload to the signed hash.
//!
//! Checks 7 (dependencies present) and 8 (field-level rules) need the document and live
//! in [`crate::registry::document`].

use std::borrow::Cow;

use automerge::Change;

use crate::chain::body::{Right, Role};
use crate::chain::state::{Member, MembershipState};
use crate::chain::Chain;
pub(crate) use crate::envelope::decode::{decode, decode_bytes};
use crate::envelope::frontier::{FrontierHistory, FrontierStatus};
use crate::envelope::{ChangeEnvelope, Refusal, RefusalCheck};
use crate::ids::{ChangeHash, DocKind};
use crate::limits::{MAX_CHANGE_BYTES, MAX_CHANGE_DEPS};
use crate::timestamp::Timestamp;

/// What an envelope that is not refused yet waits for.
#[derive(Clone, Debug, PartialEq)]
pub enum Wait {
    /// It cites a record beyond our chain's head: the chain must catch up first.
    Chain {
        /// The seq it cites.
        cited_seq: u64,
        /// Our chain's head seq.
        head_seq: u64,
    },
    /// Its author is revoked and the history behind the frontier is not all known yet.
    /// Every other check has passed; this is the decoded change.
    Frontier {
        /// The decoded, bound change.
        change: Box<Change>,
    },
}

/// Why an envelope did not pass the checks.
#[derive(Clone, Debug, PartialEq)]
pub enum Rejection {
    /// Refused for good, for the reason given.
    Refused(Refusal),
    /// Not decided yet.
    Waiting(Wait),
}

impl From<Refusal> for Rejection {
    fn from(r: Refusal) -> Self {
        Rejection::Refused(r)
    }
}

/// Runs checks 1 to 6 (and the time part of check 4) on `env` against `chain`, in order.
///
/// # Errors
///
/// [`Rejection::Refused`] naming the first failed check, or [`Rejection::Waiting`] when
/// the envelope cannot be decided until the chain or the document's history catch up.
pub fn check_envelope(
    chain: &Chain,
    env: &ChangeEnvelope,
    history: &dyn FrontierHistory,
) -> Result<Change, Rejection> {
    check_sizes(env)?;
    check_signature(env)?;
    check_against_chain(chain, env, history, || decode(env))
}

/// What a relay checks of an envelope it cannot open: sizes, the author's signature over
/// the sealed payload, the citation, and that the author is a member with the right for
/// the document's kind at the cited record. The rest (revocation frontier, decoding,
/// time, rules) needs the plaintext and is left to the platforms that read it.
///
/// # Errors
///
/// [`Rejection::Refused`] naming the first failed check, or [`Rejection::Waiting`] when
/// the chain does not hold the cited record yet.
pub fn check_relayed(chain: &Chain, env: &ChangeEnvelope) -> Result<(), Rejection> {
    check_sizes(env)?;
    check_signature(env)?;
    let state = check_citation(chain, env)?;
    check_member(&state, env)?;
    Ok(())
}

/// Check 1: sizes, before anything is decoded.
pub(crate) fn check_sizes(env: &ChangeEnvelope) -> Result<(), Refusal> {
    if env.payload.len() > MAX_CHANGE_BYTES {
        return Err(env.refusal(
            RefusalCheck::Size,
            format!(
                "payload is {} bytes, at most {MAX_CHANGE_BYTES} allowed",
                env.payload.len()
            ),
        ));
    }
    if env.deps.len() > MAX_CHANGE_DEPS {
        return Err(env.refusal(
            RefusalCheck::Size,
            format!(
                "{} dependencies, at most {MAX_CHANGE_DEPS} allowed",
                env.deps.len()
            ),
        ));
    }
    Ok(())
}

/// Check 2: the author's signature.
pub(crate) fn check_signature(env: &ChangeEnvelope) -> Result<(), Refusal> {
    if env.signature_valid() {
        Ok(())
    } else {
        Err(env.refusal(
            RefusalCheck::Signature,
            format!("signature does not verify with the key of {}", env.author),
        ))
    }
}

/// Checks 3, 4, 5, 6 and the time part of 4, with check 6 supplied by `decode` (so that a
/// change decoded once need not be decoded again when the chain changes).
pub(crate) fn check_against_chain(
    chain: &Chain,
    env: &ChangeEnvelope,
    history: &dyn FrontierHistory,
    decode: impl FnOnce() -> Result<Change, Refusal>,
) -> Result<Change, Rejection> {
    let state = check_citation(chain, env)?;
    let member = check_member(&state, env)?;
    let frontier = check_frontier(chain, env, history)?;
    let change = decode()?;
    check_time(&state, member, env, &change)?;
    match frontier {
        FrontierStatus::Within => Ok(change),
        _ => Err(Rejection::Waiting(Wait::Frontier {
            change: Box::new(change),
        })),
    }
}

/// Check 3: the envelope cites a record of our chain, by seq and hash.
fn check_citation<'c>(
    chain: &'c Chain,
    env: &ChangeEnvelope,
) -> Result<Cow<'c, MembershipState>, Rejection> {
    let refuse = |reason: String| Rejection::Refused(env.refusal(RefusalCheck::Citation, reason));
    if env.federation != chain.federation() {
        return Err(refuse(format!(
            "envelope is for federation {}, this chain is federation {}",
            env.federation,
            chain.federation()
        )));
    }
    if env.document.kind == DocKind::Platforms
        && env.document != crate::ids::DocId::platforms_registry(&env.federation)
    {
        return Err(refuse(format!(
            "{} is not the platforms registry of federation {}",
            env.document, env.federation
        )));
    }
    let head_seq = chain.state().seq;
    if env.cited_seq > head_seq {
        return Err(Rejection::Waiting(Wait::Chain {
            cited_seq: env.cited_seq,
            head_seq,
        }));
    }
    let record = usize::try_from(env.cited_seq)
        .ok()
        .and_then(|i| chain.records().get(i));
    let Some(record) = record else {
        return Err(Rejection::Waiting(Wait::Chain {
            cited_seq: env.cited_seq,
            head_seq,
        }));
    };
    let hash = chain
        .record_hash(env.cited_seq)
        .unwrap_or_else(|| record.hash());
    if hash != env.cited_record {
        return Err(refuse(format!(
            "cites record {} at seq {}, but our record at that seq is {}",
            env.cited_record, env.cited_seq, hash
        )));
    }
    chain
        .state_at(env.cited_seq)
        .ok_or(Rejection::Waiting(Wait::Chain {
            cited_seq: env.cited_seq,
            head_seq,
        }))
}

/// The right a document kind asks of its writers, beyond being an active platform.
fn has_kind_right(kind: DocKind, member: &Member) -> Result<(), &'static str> {
    match kind {
        DocKind::Platforms => Ok(()),
        DocKind::Project if member.rights.contains(Right::WriteProjects) => Ok(()),
        DocKind::Project => Err("write_projects"),
        DocKind::Export
            if member.rights.contains(Right::RequestExports)
                || member.rights.contains(Right::AnswerExports) =>
        {
            Ok(())
        }
        DocKind::Export => Err("request_exports or answer_exports"),
    }
}

/// Check 4 (without time): the author's membership at the cited record.
fn check_member<'s>(
    state: &'s MembershipState,
    env: &ChangeEnvelope,
) -> Result<&'s Member, Refusal> {
    let Some(member) = state.members.get(&env.author) else {
        return Err(env.refusal(
            RefusalCheck::Membership,
            format!(
                "{} is not a member of the federation at record seq {}",
                env.author, env.cited_seq
            ),
        ));
    };
    if member.role != Role::Platform {
        return Err(env.refusal(
            RefusalCheck::Membership,
            format!(
                "{} is a {} at record seq {}; only platforms author changes",
                env.author,
                member.role.name(),
                env.cited_seq
            ),
        ));
    }
    if let Some(revocation) = &member.revoked {
        return Err(env.refusal(
            RefusalCheck::Revoked,
            format!(
                "{} was revoked at seq {}, at or before the cited record seq {}",
                env.author, revocation.seq, env.cited_seq
            ),
        ));
    }
    has_kind_right(env.document.kind, member).map_err(|needed| {
        env.refusal(
            RefusalCheck::Right,
            format!(
                "{} lacks the right {needed} that {} documents need (has {})",
                env.author, env.document.kind, member.rights
            ),
        )
    })?;
    Ok(member)
}

/// Check 5: a revoked author's change must lie within its frontier for this document.
fn check_frontier(
    chain: &Chain,
    env: &ChangeEnvelope,
    history: &dyn FrontierHistory,
) -> Result<FrontierStatus, Refusal> {
    let revocation = chain
        .state()
        .members
        .get(&env.author)
        .and_then(|m| m.revoked.as_ref());
    let Some(revocation) = revocation else {
        return Ok(FrontierStatus::Within);
    };
    let document = env.document.to_string();
    let heads: &[ChangeHash] = revocation
        .frontier
        .iter()
        .find(|entry| entry.document == document)
        .map_or(&[], |entry| &entry.heads);
    // Revocation ends a platform's future, not its past: a change of the revoked
    // platform counts if it is within the record's frontier, or if a still-active member
    // built on it (each node acknowledges the heads it held when it learned of the
    // revocation, so everything an active member had accepted by then counts). Anything
    // else waits, never applied, in case such a change arrives.
    match history.frontier_status(&env.change_hash, heads) {
        FrontierStatus::Within => Ok(FrontierStatus::Within),
        _ if history.vouched(&env.change_hash, chain) => Ok(FrontierStatus::Within),
        _ => Ok(FrontierStatus::Unknown),
    }
}

/// The rest of check 4: the change's own time against the cited record and the
/// author's expiry.
fn check_time(
    state: &MembershipState,
    member: &Member,
    env: &ChangeEnvelope,
    change: &Change,
) -> Result<(), Refusal> {
    let time_ms = i128::from(change.timestamp());
    let secs_to_ms = |t: Timestamp| i128::from(t.as_secs()) * 1000;
    if time_ms < secs_to_ms(state.issued_at) {
        return Err(env.refusal(
            RefusalCheck::Time,
            format!(
                "change is dated {}, before the cited record seq {} issued at {}",
                fmt_ms(change.timestamp()),
                env.cited_seq,
                state.issued_at
            ),
        ));
    }
    if let Some(expires_at) = member.expires_at {
        if time_ms >= secs_to_ms(expires_at) {
            return Err(env.refusal(
                RefusalCheck::Expired,
                format!(
                    "membership of {} expired at {}; change is dated {}",
                    env.author,
                    expires_at,
                    fmt_ms(change.timestamp())
                ),
            ));
        }
    }
    Ok(())
}

/// A change time in milliseconds, readable.
fn fmt_ms(ms: i64) -> String {
    match u64::try_from(ms.div_euclid(1000)) {
        Ok(secs) => format!("{} (+{} ms)", Timestamp(secs), ms.rem_euclid(1000)),
        Err(_) => format!("{ms} ms since the epoch"),
    }
}
