//! The federations this node belongs to: their verified membership chains, kept in memory
//! and in the store, and what follows from them (who may connect, whom to dial).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use fed_crdt::chain::file::ChainFile;
use fed_crdt::chain::record::Record;
use fed_crdt::chain::{Chain, Received};
use fed_crdt::error::ChainError;
use fed_crdt::ids::{FederationId, PlatformId};
use fed_crdt::Timestamp;
use serde::{Deserialize, Serialize};
use tracing::{error, info, warn};

use crate::protocol::MAX_FEDERATIONS;
use crate::store::{self, Store, Tree, WriteBatch};
use crate::EngineError;

/// Meta-tree key under which the rival record of a detected fork is kept, so that a
/// restart does not forget the fork.
fn fork_key(federation: &FederationId) -> Vec<u8> {
    let mut k = b"fork/".to_vec();
    k.extend_from_slice(federation.as_bytes());
    k
}

/// What happened to the records handed to [`Federations::receive`].
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ReceiveOutcome {
    /// Records that extended the chain.
    pub appended: usize,
    /// Records the chain already had.
    pub already_had: usize,
    /// The first refusal, if any (later records are not looked at).
    pub refused: Option<String>,
    /// Set when the records revealed a fork.
    pub fork: bool,
}

/// One federation as listed by the API.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FederationSummary {
    /// The federation id.
    pub federation: FederationId,
    /// Its name.
    pub name: String,
    /// The head's seq.
    pub head_seq: u64,
    /// The head's hash.
    pub head: fed_crdt::ids::RecordHash,
    /// Active members now.
    pub members: usize,
    /// Whether a fork froze the chain.
    pub forked: bool,
    /// This platform's own membership now: `active`, or why it ended (`revoked by
    /// record N issued at T`, `expired at T`), in which case it may read, not write.
    pub membership: String,
}

/// The chains of every federation we belong to.
pub struct Federations {
    me: PlatformId,
    chains: BTreeMap<FederationId, Chain>,
    store: Arc<dyn Store>,
}

impl Federations {
    /// Loads every stored chain, re-verifying it, and re-detects stored forks.
    ///
    /// # Errors
    ///
    /// [`EngineError::Store`] if the store cannot be read. A stored chain that no longer
    /// verifies is logged and skipped, not fatal: the node still serves the others.
    pub fn load(me: PlatformId, store: Arc<dyn Store>) -> Result<Federations, EngineError> {
        let mut chains = BTreeMap::new();
        for federation in store::federations(store.as_ref())? {
            let records = store::load_chain_records(store.as_ref(), &federation)?;
            let mut chain = match Chain::from_records(records) {
                Ok(c) => c,
                Err(e) => {
                    error!(fed = %federation.fmt_short(), error = %e, "stored chain does not verify; skipped");
                    continue;
                }
            };
            if let Some(bytes) = store.get(Tree::Meta, &fork_key(&federation))? {
                if let Ok(rival) = serde_json::from_slice::<Record>(&bytes) {
                    let _ = chain.receive(rival);
                }
            }
            chains.insert(federation, chain);
        }
        Ok(Federations { me, chains, store })
    }

    /// This platform.
    pub fn me(&self) -> PlatformId {
        self.me
    }

    /// The chain of a federation, if we belong to it.
    pub fn get(&self, federation: &FederationId) -> Option<&Chain> {
        self.chains.get(federation)
    }

    /// Every federation, by id.
    pub fn iter(&self) -> impl Iterator<Item = (&FederationId, &Chain)> {
        self.chains.iter()
    }

    /// Summaries for the API.
    pub fn summaries(&self, now: Timestamp) -> Vec<FederationSummary> {
        self.chains
            .iter()
            .map(|(id, chain)| FederationSummary {
                federation: *id,
                name: chain.state().name.clone(),
                head_seq: chain.state().seq,
                head: chain.head(),
                members: chain.state().active_members(now).count(),
                forked: chain.fork().is_some(),
                membership: match chain.state().members.get(&self.me) {
                    None => "not a member".into(),
                    Some(m) => match (&m.revoked, m.expires_at) {
                        (Some(r), _) => {
                            format!("revoked by record {} issued at {}", r.seq, r.at)
                        }
                        (None, Some(at)) if now >= at => format!("expired at {at}"),
                        _ => "active".into(),
                    },
                },
            })
            .collect()
    }

    /// Joins a federation from a chain file, or merges it into one we already have.
    ///
    /// # Errors
    ///
    /// [`EngineError::InvalidChain`] if the file does not verify,
    /// [`EngineError::NotAMember`] if this platform is not an active member of it.
    pub fn join(
        &mut self,
        file: &ChainFile,
        now: Timestamp,
    ) -> Result<(FederationId, ReceiveOutcome), EngineError> {
        let verified = file
            .verify()
            .map_err(|e| EngineError::InvalidChain(e.to_string()))?;
        let federation = verified.chain.federation();
        if self.chains.contains_key(&federation) {
            let outcome = self.receive(&federation, verified.chain.records().to_vec())?;
            return Ok((federation, outcome));
        }
        if self.chains.len() >= MAX_FEDERATIONS {
            return Err(EngineError::TooManyFederations {
                limit: MAX_FEDERATIONS,
            });
        }
        if !verified.chain.state().is_member(&self.me, now) {
            return Err(EngineError::NotAMember {
                platform: self.me,
                federation,
            });
        }
        for record in verified.chain.records() {
            store::save_chain_record(self.store.as_ref(), &federation, record)?;
        }
        info!(fed = %federation.fmt_short(), seq = verified.chain.state().seq, "joined federation");
        let appended = verified.chain.records().len();
        self.chains.insert(federation, verified.chain);
        Ok((
            federation,
            ReceiveOutcome {
                appended,
                ..ReceiveOutcome::default()
            },
        ))
    }

    /// Takes records of a federation we belong to (from a peer or an operator), in order.
    /// Each appended record is stored (flushed) before the chain in memory moves.
    ///
    /// # Errors
    ///
    /// [`EngineError::UnknownFederation`] if we do not belong to it, [`EngineError::Store`]
    /// if a record cannot be stored. Invalid records are reported in the outcome.
    pub fn receive(
        &mut self,
        federation: &FederationId,
        records: Vec<Record>,
    ) -> Result<ReceiveOutcome, EngineError> {
        let chain = self
            .chains
            .get_mut(federation)
            .ok_or(EngineError::UnknownFederation(*federation))?;
        let mut outcome = ReceiveOutcome::default();
        for record in records {
            // Check on a copy first: the store must hold a record before memory does.
            let mut next = chain.clone();
            match next.receive(record.clone()) {
                Ok(Received::AlreadyHad) => outcome.already_had += 1,
                Ok(Received::Appended) => {
                    store::save_chain_record(self.store.as_ref(), federation, &record)?;
                    *chain = next;
                    outcome.appended += 1;
                }
                Err(e @ ChainError::Fork { .. }) => {
                    error!(fed = %federation.fmt_short(), error = %e, "FORK in the membership chain: both records refused; administrators must resolve it");
                    let mut batch = WriteBatch::new();
                    let rival = serde_json::to_vec(&record).unwrap_or_default();
                    batch.put(Tree::Meta, fork_key(federation), rival);
                    self.store.apply(batch)?;
                    *chain = next;
                    outcome.fork = true;
                    outcome.refused = Some(e.to_string());
                    break;
                }
                Err(e) => {
                    warn!(fed = %federation.fmt_short(), seq = record.seq, error = %e, "chain record refused");
                    outcome.refused = Some(e.to_string());
                    break;
                }
            }
        }
        Ok(outcome)
    }

    /// Peers allowed to connect: every active member of every federation, but us.
    pub fn allowed_peers(&self, now: Timestamp) -> HashSet<PlatformId> {
        self.chains
            .values()
            .flat_map(|c| c.state().active_members(now).map(|(id, _)| *id))
            .filter(|id| *id != self.me)
            .collect()
    }

    /// Peers that may connect to fetch a chain and nothing else: platforms revoked from a
    /// federation we hold (so that they learn it, see `docs/membership.md`) and active in
    /// none.
    pub fn chain_only_peers(&self, now: Timestamp) -> HashSet<PlatformId> {
        let members = self.allowed_peers(now);
        self.chains
            .values()
            .flat_map(|c| c.state().members.iter())
            .filter(|(id, m)| m.revoked.is_some() && **id != self.me)
            .map(|(id, _)| *id)
            .filter(|p| !members.contains(p))
            .collect()
    }

    /// Whether `peer` may fetch the chain of `federation`: it is a member, or was until
    /// a record revoked it.
    pub fn may_fetch_chain(
        &self,
        federation: &FederationId,
        peer: &PlatformId,
        now: Timestamp,
    ) -> bool {
        self.is_member(federation, peer, now)
            || self.chains.get(federation).is_some_and(|c| {
                c.state()
                    .members
                    .get(peer)
                    .is_some_and(|m| m.revoked.is_some())
            })
    }

    /// Whether `peer` is an active member of `federation`.
    pub fn is_member(&self, federation: &FederationId, peer: &PlatformId, now: Timestamp) -> bool {
        self.chains
            .get(federation)
            .is_some_and(|c| c.state().is_member(peer, now))
    }

    /// The federations `peer` shares with us.
    pub fn shared_with(&self, peer: &PlatformId, now: Timestamp) -> Vec<FederationId> {
        self.chains
            .keys()
            .filter(|f| self.is_member(f, peer, now))
            .copied()
            .collect()
    }

    /// Addresses from the identity cards of active members, to dial.
    pub fn member_addresses(&self, now: Timestamp) -> Vec<(PlatformId, Vec<String>)> {
        let mut out = Vec::new();
        for chain in self.chains.values() {
            for (id, member) in chain.state().active_members(now) {
                if *id == self.me {
                    continue;
                }
                out.push((*id, member.card.addresses.clone()));
            }
        }
        out
    }
}
