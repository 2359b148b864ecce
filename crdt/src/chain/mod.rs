//! The membership chain: a linear, hash-linked list of records signed by administrators.
//!
//! Administrators act rarely and are few, so membership is not a CRDT: every record
//! names its predecessor and must be signed by the administrators of the state it builds
//! on. Two valid records on one predecessor are a fork, which is refused and reported,
//! never resolved by picking one.

pub mod body;
pub mod file;
pub mod record;
mod rules;
pub mod state;

use crate::error::{ChainError, RecordError};
use crate::ids::{FederationId, RecordHash};
use body::RecordBody;
use record::Record;
use rules::{check_record, SignaturePolicy};
use state::MembershipState;

/// Two valid records that extend the same predecessor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fork {
    /// The contested seq.
    pub seq: u64,
    /// The record this chain held at that seq.
    pub ours: Record,
    /// The conflicting record.
    pub theirs: Record,
}

/// What [`Chain::receive`] did with a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Received {
    /// The record extended the chain.
    Appended,
    /// The chain already had this record.
    AlreadyHad,
}

/// How many records apart the states kept for [`Chain::state_at`] are: a change citing
/// an older record costs at most this many records folded, not the whole chain.
pub const STATE_CHECKPOINT_EVERY: usize = 64;

/// A verified membership chain and the state it folds to.
#[derive(Clone, Debug)]
pub struct Chain {
    records: Vec<Record>,
    /// The hash of each record, computed once.
    hashes: Vec<RecordHash>,
    /// The state after every [`STATE_CHECKPOINT_EVERY`]-th record (seq 0, 64, ...).
    checkpoints: Vec<MembershipState>,
    state: MembershipState,
    fork: Option<Fork>,
}

impl Chain {
    /// Verifies every record in order.
    ///
    /// # Errors
    ///
    /// [`ChainError::Empty`] for no record, [`ChainError::Record`] naming the first
    /// invalid record and why.
    pub fn from_records(records: impl IntoIterator<Item = Record>) -> Result<Chain, ChainError> {
        let mut records = records.into_iter();
        let genesis = records.next().ok_or(ChainError::Empty)?;
        let mut chain = Chain::from_genesis(genesis)?;
        for record in records {
            chain.append(record)?;
        }
        Ok(chain)
    }

    /// Starts a chain from its genesis record.
    ///
    /// # Errors
    ///
    /// [`ChainError::Record`] if the record is not a valid genesis record.
    pub fn from_genesis(genesis: Record) -> Result<Chain, ChainError> {
        let invalid = |reason| ChainError::Record {
            index: 0,
            seq: genesis.seq,
            reason,
        };
        check_record(None, &genesis, SignaturePolicy::Complete).map_err(invalid)?;
        let state = MembershipState::from_genesis(&genesis).ok_or_else(|| {
            invalid(RecordError::FirstNotGenesis {
                found: genesis.body.kind(),
            })
        })?;
        Ok(Chain {
            hashes: vec![state.head],
            checkpoints: vec![state.clone()],
            records: vec![genesis],
            state,
            fork: None,
        })
    }

    /// Appends the next record after checking it against the current state.
    ///
    /// # Errors
    ///
    /// [`ChainError::Record`] if the record is invalid as the successor of the head;
    /// [`ChainError::Forked`] once a fork has been seen.
    pub fn append(&mut self, record: Record) -> Result<(), ChainError> {
        if let Some(fork) = &self.fork {
            return Err(ChainError::Forked { seq: fork.seq });
        }
        self.check_next(&record)
            .map_err(|reason| ChainError::Record {
                index: self.records.len(),
                seq: record.seq,
                reason,
            })?;
        self.state.apply(&record);
        self.hashes.push(self.state.head);
        self.records.push(record);
        if (self.records.len() - 1).is_multiple_of(STATE_CHECKPOINT_EVERY) {
            self.checkpoints.push(self.state.clone());
        }
        Ok(())
    }

    /// Checks that `record` would be a valid successor of the head, without appending it.
    ///
    /// # Errors
    ///
    /// The [`RecordError`] that [`Chain::append`] would report.
    pub fn check_next(&self, record: &Record) -> Result<(), RecordError> {
        check_record(Some(&self.state), record, SignaturePolicy::Complete).map(|_| ())
    }

    /// Like [`Chain::check_next`] but accepts fewer admin signatures than the threshold,
    /// for a record still collecting co-signatures. Returns how many valid ones it has.
    ///
    /// # Errors
    ///
    /// Any [`RecordError`] other than a short count of signatures.
    pub fn check_pending(&self, record: &Record) -> Result<usize, RecordError> {
        check_record(Some(&self.state), record, SignaturePolicy::Pending)
    }

    /// Takes a record from a peer, which may be old, new, or a rival of one we hold.
    ///
    /// A valid record on a predecessor that already has another valid successor is a
    /// fork: both are refused, the chain falls back to the last record before the fork,
    /// and it accepts nothing more until the administrators resolve the fork.
    ///
    /// # Errors
    ///
    /// [`ChainError::Fork`] when this record reveals a fork, [`ChainError::Forked`] after
    /// one, [`ChainError::Gap`] when records in between are missing, and
    /// [`ChainError::Record`] for an invalid record.
    pub fn receive(&mut self, record: Record) -> Result<Received, ChainError> {
        if let Some(fork) = &self.fork {
            return Err(ChainError::Forked { seq: fork.seq });
        }
        let head = self.state.seq;
        if record.seq == head + 1 {
            self.append(record)?;
            return Ok(Received::Appended);
        }
        if record.seq > head + 1 {
            return Err(ChainError::Gap {
                head,
                found: record.seq,
            });
        }
        let index = record.seq as usize;
        let ours = &self.records[index];
        if self.hashes[index] == record.hash() {
            return Ok(Received::AlreadyHad);
        }
        let invalid = |reason| ChainError::Record {
            index,
            seq: record.seq,
            reason,
        };
        if index == 0 {
            // Another genesis is another federation, not a fork of this one.
            return Err(invalid(RecordError::WrongFederation {
                expected: self.federation().to_string(),
                found: record.genesis_federation_id().to_string(),
            }));
        }
        let before = self.fold_to(record.seq - 1).ok_or(ChainError::Empty)?;
        check_record(Some(&before), &record, SignaturePolicy::Complete).map_err(invalid)?;
        let fork = Fork {
            seq: record.seq,
            ours: ours.clone(),
            theirs: record,
        };
        let err = ChainError::Fork {
            seq: fork.seq,
            ours: fork.ours.hash(),
            theirs: fork.theirs.hash(),
            prev: before.head,
            kept_seq: before.seq,
        };
        self.records.truncate(index);
        self.hashes.truncate(index);
        self.checkpoints
            .truncate((index - 1) / STATE_CHECKPOINT_EVERY + 1);
        self.state = before;
        self.fork = Some(fork);
        Err(err)
    }

    /// The federation's id (the hash of its genesis record).
    pub fn federation(&self) -> FederationId {
        self.state.federation
    }

    /// The state at the head.
    pub fn state(&self) -> &MembershipState {
        &self.state
    }

    /// The hash of the head record.
    pub fn head(&self) -> RecordHash {
        self.state.head
    }

    /// The records, genesis first.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// The fork seen, if any.
    pub fn fork(&self) -> Option<&Fork> {
        self.fork.as_ref()
    }

    /// The state right after the record at `seq`: the current state for the head
    /// (what nearly every change cites), otherwise by folding the chain up to it.
    pub fn state_at(&self, seq: u64) -> Option<std::borrow::Cow<'_, MembershipState>> {
        if seq == self.state.seq && !self.records.is_empty() {
            return Some(std::borrow::Cow::Borrowed(&self.state));
        }
        self.fold_to(seq).map(std::borrow::Cow::Owned)
    }

    /// The state right after the record at `seq`, by folding the records after the
    /// nearest checkpoint.
    fn fold_to(&self, seq: u64) -> Option<MembershipState> {
        let last = usize::try_from(seq).ok()?;
        let records = self.records.get(..=last)?;
        let from = last / STATE_CHECKPOINT_EVERY * STATE_CHECKPOINT_EVERY;
        let mut state = self.checkpoints.get(from / STATE_CHECKPOINT_EVERY)?.clone();
        for (record, hash) in records[from + 1..].iter().zip(&self.hashes[from + 1..]) {
            state.apply_hashed(record, *hash);
        }
        Some(state)
    }

    /// The hash of the record at `seq`, if the chain has it.
    pub fn record_hash(&self, seq: u64) -> Option<RecordHash> {
        self.hashes.get(usize::try_from(seq).ok()?).copied()
    }

    /// Builds the next unsigned record on the head (the caller signs it).
    pub fn next_record(
        &self,
        issued_at: crate::timestamp::Timestamp,
        issuer: crate::ids::AdminKey,
        body: RecordBody,
    ) -> Record {
        Record {
            federation: Some(self.federation()),
            seq: self.state.seq + 1,
            prev: Some(self.state.head),
            issued_at,
            issuer,
            body,
            signatures: Vec::new(),
        }
    }
}

/// Builds an unsigned genesis record (the caller signs it).
pub fn genesis_record(
    issued_at: crate::timestamp::Timestamp,
    issuer: crate::ids::AdminKey,
    body: RecordBody,
) -> Record {
    Record {
        federation: None,
        seq: 0,
        prev: None,
        issued_at,
        issuer,
        body,
        signatures: Vec::new(),
    }
}
