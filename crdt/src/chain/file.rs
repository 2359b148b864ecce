//! The chain file: the human-readable JSON in which administrators keep and exchange a
//! chain.
//!
//! Every signed field is visible as plain JSON, so anyone can read what was granted.
//! Unknown fields are refused (they would not be signed), and every value has exactly
//! one spelling, so any edit of a signed field makes verification fail.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::chain::record::Record;
use crate::chain::Chain;
use crate::error::{ChainError, ChainFileError, RecordError};
use crate::ids::FederationId;
use crate::limits::MAX_CHAIN_FILE_BYTES;

/// The `format` of chain files this version writes and reads.
pub const CHAIN_FILE_FORMAT: &str = "fednet-membership-chain/1";

/// A chain file as stored on disk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainFile {
    /// Always [`CHAIN_FILE_FORMAT`].
    pub format: String,
    /// The federation id; must equal the genesis record's hash.
    pub federation: FederationId,
    /// Every record, genesis first; the last may be waiting for co-signatures.
    pub records: Vec<Record>,
}

/// A record that is valid except that it lacks co-signatures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingRecord {
    /// The record.
    pub record: Record,
    /// Valid admin signatures it has.
    pub have: usize,
    /// Signatures it needs.
    pub need: usize,
}

/// The result of verifying a chain file.
#[derive(Clone, Debug)]
pub struct VerifiedChain {
    /// Every record that is in effect.
    pub chain: Chain,
    /// The last record, if it is still collecting co-signatures.
    pub pending: Option<PendingRecord>,
}

/// Why a chain file is refused: unreadable, or a record in it is invalid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The file could not be parsed.
    #[error(transparent)]
    File(#[from] ChainFileError),
    /// A record is invalid.
    #[error(transparent)]
    Chain(#[from] ChainError),
}

impl ChainFile {
    /// Parses a chain file's text (without verifying signatures: see [`ChainFile::verify`]).
    ///
    /// # Errors
    ///
    /// [`ChainFileError`] if the text is too large, not JSON of a chain file, or of
    /// another format.
    pub fn parse(text: &str) -> Result<ChainFile, ChainFileError> {
        if text.len() > MAX_CHAIN_FILE_BYTES {
            return Err(ChainFileError::TooLarge {
                size: text.len(),
                limit: MAX_CHAIN_FILE_BYTES,
            });
        }
        // Read the outer object first, then each record on its own, so that a malformed
        // record is named by its position rather than by a line and column. Records stay
        // raw text until then: a parsed `Value` would silently keep the last of two
        // duplicated keys, and let an unsigned value shadow a signed one.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw<'a> {
            format: Option<String>,
            #[serde(borrow)]
            federation: Option<&'a RawValue>,
            #[serde(borrow)]
            records: Option<Vec<&'a RawValue>>,
        }
        let raw: Raw = serde_json::from_str(text)?;
        let found = raw.format.unwrap_or_default();
        if found != CHAIN_FILE_FORMAT {
            return Err(ChainFileError::Format {
                expected: CHAIN_FILE_FORMAT,
                found,
            });
        }
        let federation = serde_json::from_str(raw.federation.map_or("null", RawValue::get))
            .map_err(ChainFileError::Federation)?;
        let records = raw
            .records
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(index, raw)| {
                serde_json::from_str(raw.get())
                    .map_err(|error| ChainFileError::Record { index, error })
            })
            .collect::<Result<_, _>>()?;
        Ok(ChainFile {
            format: found,
            federation,
            records,
        })
    }

    /// The file for a chain, with a pending record after it if there is one.
    pub fn new(chain: &Chain, pending: Option<&Record>) -> ChainFile {
        let mut records = chain.records().to_vec();
        records.extend(pending.cloned());
        ChainFile {
            format: CHAIN_FILE_FORMAT.to_string(),
            federation: chain.federation(),
            records,
        }
    }

    /// Pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        // A ChainFile holds only strings, numbers and lists: serialising cannot fail.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Verifies every record. The last record may lack co-signatures: it is then
    /// returned as pending rather than refused.
    ///
    /// # Errors
    ///
    /// [`VerifyError::Chain`] naming the first invalid record, or [`VerifyError::File`]
    /// if the file's federation id is not its genesis hash.
    pub fn verify(&self) -> Result<VerifiedChain, VerifyError> {
        let Some((last, rest)) = self.records.split_last() else {
            return Err(ChainError::Empty.into());
        };
        let chain = if rest.is_empty() {
            Chain::from_genesis(last.clone())?
        } else {
            Chain::from_records(rest.iter().cloned())?
        };
        if chain.federation() != self.federation {
            return Err(ChainFileError::FederationMismatch {
                expected: chain.federation().to_string(),
                found: self.federation.to_string(),
            }
            .into());
        }
        if rest.is_empty() {
            return Ok(VerifiedChain {
                chain,
                pending: None,
            });
        }
        let invalid = |reason| ChainError::Record {
            index: rest.len(),
            seq: last.seq,
            reason,
        };
        match chain.check_next(last) {
            Ok(()) => {
                let mut chain = chain;
                chain.append(last.clone())?;
                Ok(VerifiedChain {
                    chain,
                    pending: None,
                })
            }
            Err(RecordError::NotEnoughSignatures { have, need }) => {
                // Everything but the count holds (check_pending re-checks it all).
                chain.check_pending(last).map_err(invalid)?;
                Ok(VerifiedChain {
                    chain,
                    pending: Some(PendingRecord {
                        record: last.clone(),
                        have,
                        need,
                    }),
                })
            }
            Err(reason) => Err(invalid(reason).into()),
        }
    }
}
