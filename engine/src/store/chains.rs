//! Membership chains in the store: one record per key in [`Tree::Chains`], and an index
//! of the federations in [`Tree::Meta`].
//!
//! A record's key is the federation id followed by its seq in big-endian, so a prefix
//! scan returns one federation's chain in seq order. The value is the record's JSON.
//! These helpers store what they are given; verifying a record against its chain is the
//! caller's work ([`fed_crdt::chain`]) and happens before saving.

use fed_crdt::chain::record::Record;
use fed_crdt::ids::FederationId;

use super::{Store, StoreError, Tree, WriteBatch};

/// Most records loaded for one federation. A longer chain is refused rather than cut,
/// since a truncated chain would be folded into a wrong membership state.
pub const MAX_CHAIN_RECORDS: usize = 100_000;

/// Most federations listed by [`federations`].
pub const MAX_FEDERATIONS: usize = 4_096;

/// Prefix of the [`Tree::Meta`] keys that list the federations with stored records.
const FEDERATION_INDEX_PREFIX: &[u8] = b"chains/federation/";

/// Length of a federation id in a key.
const FEDERATION_LEN: usize = 32;

/// Length of a [`Tree::Chains`] key: federation id and big-endian seq.
const CHAIN_KEY_LEN: usize = FEDERATION_LEN + 8;

/// The [`Tree::Chains`] key of record `seq` of `federation`.
pub fn chain_key(federation: &FederationId, seq: u64) -> [u8; CHAIN_KEY_LEN] {
    let mut key = [0u8; CHAIN_KEY_LEN];
    key[..FEDERATION_LEN].copy_from_slice(federation.as_bytes());
    key[FEDERATION_LEN..].copy_from_slice(&seq.to_be_bytes());
    key
}

/// The federation a record belongs to: the one it names, or for a genesis record the
/// one it founds.
fn record_federation(record: &Record) -> FederationId {
    record
        .federation
        .unwrap_or_else(|| record.genesis_federation_id())
}

/// Saves `record` under `federation` and lists the federation in the index, in one
/// atomic, flushed batch. A record already stored at that seq is replaced.
///
/// # Errors
///
/// [`StoreError::WrongFederation`] if the record belongs to another federation,
/// [`StoreError::Encode`] if it cannot be encoded, [`StoreError::Backend`] if the write
/// fails.
pub fn save_chain_record<S: Store + ?Sized>(
    store: &S,
    federation: &FederationId,
    record: &Record,
) -> Result<(), StoreError> {
    let found = record_federation(record);
    if found != *federation {
        return Err(StoreError::WrongFederation {
            federation: *federation,
            seq: record.seq,
            found,
        });
    }
    let value = serde_json::to_vec(record).map_err(|source| StoreError::Encode {
        federation: *federation,
        seq: record.seq,
        source,
    })?;
    let mut batch = WriteBatch::new();
    batch
        .put(Tree::Chains, chain_key(federation, record.seq), value)
        .put(Tree::Meta, federation_index_key(federation), Vec::new());
    store.apply(batch)
}

/// The records stored for `federation`, in seq order (gaps are not filled or reported;
/// chain verification finds them).
///
/// # Errors
///
/// [`StoreError::CorruptRecord`] or [`StoreError::MisplacedRecord`] naming the
/// federation and seq of a bad value, [`StoreError::CorruptKey`] for a key of the wrong
/// length, [`StoreError::TooMany`] past [`MAX_CHAIN_RECORDS`], [`StoreError::Backend`]
/// if the read fails.
pub fn load_chain_records<S: Store + ?Sized>(
    store: &S,
    federation: &FederationId,
) -> Result<Vec<Record>, StoreError> {
    let entries = store.scan_prefix(
        Tree::Chains,
        federation.as_bytes(),
        MAX_CHAIN_RECORDS.saturating_add(1),
    )?;
    if entries.len() > MAX_CHAIN_RECORDS {
        return Err(StoreError::TooMany {
            tree: Tree::Chains,
            what: "records for one federation",
            limit: MAX_CHAIN_RECORDS,
            limit_name: "MAX_CHAIN_RECORDS",
        });
    }
    entries
        .into_iter()
        .map(|(key, value)| decode_record(federation, &key, &value))
        .collect()
}

/// Decodes one stored record and checks that it is filed under its own federation and seq.
fn decode_record(
    federation: &FederationId,
    key: &[u8],
    value: &[u8],
) -> Result<Record, StoreError> {
    let seq_bytes: [u8; 8] = key
        .get(FEDERATION_LEN..)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| StoreError::CorruptKey {
            tree: Tree::Chains,
            key: key.to_vec(),
            reason: "expected 32 bytes of federation id and 8 bytes of seq",
        })?;
    let seq = u64::from_be_bytes(seq_bytes);
    let record: Record =
        serde_json::from_slice(value).map_err(|source| StoreError::CorruptRecord {
            federation: *federation,
            seq,
            source,
        })?;
    let found_federation = record_federation(&record);
    if record.seq != seq || found_federation != *federation {
        return Err(StoreError::MisplacedRecord {
            federation: *federation,
            seq,
            found_federation,
            found_seq: record.seq,
        });
    }
    Ok(record)
}

/// The federations that have records stored, in id order.
///
/// # Errors
///
/// [`StoreError::CorruptKey`] for a bad index key, [`StoreError::TooMany`] past
/// [`MAX_FEDERATIONS`], [`StoreError::Backend`] if the read fails.
pub fn federations<S: Store + ?Sized>(store: &S) -> Result<Vec<FederationId>, StoreError> {
    let entries = store.scan_prefix(
        Tree::Meta,
        FEDERATION_INDEX_PREFIX,
        MAX_FEDERATIONS.saturating_add(1),
    )?;
    if entries.len() > MAX_FEDERATIONS {
        return Err(StoreError::TooMany {
            tree: Tree::Meta,
            what: "federations",
            limit: MAX_FEDERATIONS,
            limit_name: "MAX_FEDERATIONS",
        });
    }
    entries
        .into_iter()
        .map(|(key, _)| {
            key.get(FEDERATION_INDEX_PREFIX.len()..)
                .and_then(|id| <[u8; FEDERATION_LEN]>::try_from(id).ok())
                .map(FederationId)
                .ok_or_else(|| StoreError::CorruptKey {
                    tree: Tree::Meta,
                    key,
                    reason: "expected the federation index prefix and 32 bytes of federation id",
                })
        })
        .collect()
}

/// The [`Tree::Meta`] key that lists `federation` in the index.
fn federation_index_key(federation: &FederationId) -> Vec<u8> {
    let mut key = Vec::with_capacity(FEDERATION_INDEX_PREFIX.len() + FEDERATION_LEN);
    key.extend_from_slice(FEDERATION_INDEX_PREFIX);
    key.extend_from_slice(federation.as_bytes());
    key
}
