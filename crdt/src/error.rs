//! Errors of the data model. Each names the offending value and says what is allowed.

mod registry;
mod seal;

pub use registry::{ExportError, ProfileError, ProjectError};
pub use seal::SealError;

use crate::ids::{AdminKey, PlatformId, RecordHash};

/// A text that is not a valid identifier, key, signature or time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseIdError {
    /// Not lower-case hex of the right length.
    #[error("invalid {what} `{found}`: expected {expected_chars} lower-case hex characters")]
    Hex {
        /// What was being parsed.
        what: &'static str,
        /// How many hex characters the value has.
        expected_chars: usize,
        /// The text found (truncated).
        found: String,
    },
    /// Not a libp2p PeerId of an ed25519 key.
    #[error(
        "invalid platform id `{found}`: expected a libp2p PeerId of an ed25519 key (12D3KooW...)"
    )]
    PlatformId {
        /// The text found (truncated).
        found: String,
    },
    /// Bytes of the right length that are not a point on the curve.
    #[error("invalid {what}: not an ed25519 public key")]
    NotAKey {
        /// What was being parsed.
        what: &'static str,
    },
    /// Not a document id `<kind>:<32 lower-case hex>`.
    #[error("invalid document id `{found}`: expected platforms:, project: or export: followed by 32 lower-case hex characters")]
    DocId {
        /// The text found (truncated).
        found: String,
    },
    /// Not an RFC 3339 UTC time in whole seconds.
    #[error("invalid time `{found}`: expected RFC 3339 in UTC with whole seconds, like 2027-01-31T00:00:00Z")]
    Timestamp {
        /// The text found (truncated).
        found: String,
    },
}

/// An identity card that is malformed or not signed by the key it names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CardError {
    /// A text field is empty, too long or holds control characters.
    #[error("identity card field `{field}` {problem}")]
    Field {
        /// The field's name in the card's JSON.
        field: &'static str,
        /// What is wrong, and what is allowed.
        problem: String,
    },
    /// The card's signature does not verify with its own platform key.
    #[error("identity card of {platform} is not signed by that platform's key")]
    BadSignature {
        /// The platform the card claims to be.
        platform: PlatformId,
    },
}

/// Why one membership record is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The first record must be a genesis record.
    #[error("the first record must be a genesis record, found `{found}`")]
    FirstNotGenesis {
        /// The kind of record found.
        found: &'static str,
    },
    /// A genesis record may only be first.
    #[error("a genesis record may only be the first record")]
    GenesisNotFirst,
    /// A genesis record names no federation and no previous record.
    #[error("a genesis record must have seq 0, no federation and no prev")]
    MalformedGenesis,
    /// The record belongs to another federation (or names none).
    #[error("record is for federation {found}, this chain is federation {expected}")]
    WrongFederation {
        /// This chain's federation.
        expected: String,
        /// The federation the record names.
        found: String,
    },
    /// `seq` is not one more than the previous record's.
    #[error("seq is {found}, expected {expected}")]
    BadSeq {
        /// The seq that follows the previous record.
        expected: u64,
        /// The seq the record claims.
        found: u64,
    },
    /// `prev` is not the hash of the previous record.
    #[error("prev is {found}, expected the previous record's hash {expected}")]
    BadPrev {
        /// The previous record's hash.
        expected: String,
        /// The prev the record claims.
        found: String,
    },
    /// `issued_at` is earlier than the previous record's.
    #[error("issued_at {found} is earlier than the previous record's {previous}")]
    TimeWentBackwards {
        /// The previous record's time.
        previous: String,
        /// This record's time.
        found: String,
    },
    /// A signature does not verify.
    #[error("signature of admin {admin} does not verify")]
    BadSignature {
        /// The admin whose signature fails.
        admin: AdminKey,
    },
    /// A signer is not an administrator of the state the record builds on.
    #[error("{admin} is not an administrator of this federation at this record")]
    NotAnAdmin {
        /// The key that signed.
        admin: AdminKey,
    },
    /// One admin signed twice.
    #[error("admin {admin} signed more than once")]
    DuplicateSigner {
        /// The repeated admin.
        admin: AdminKey,
    },
    /// The issuer named in the record did not sign it.
    #[error("the issuer {issuer} has not signed the record")]
    IssuerDidNotSign {
        /// The issuer.
        issuer: AdminKey,
    },
    /// Fewer valid admin signatures than the threshold.
    #[error(
        "{have} of {need} required admin signatures (co-sign with `fedctl membership cosign`)"
    )]
    NotEnoughSignatures {
        /// Valid admin signatures present.
        have: usize,
        /// The threshold.
        need: usize,
    },
    /// An admin set or threshold that cannot work.
    #[error("threshold {threshold} is impossible with {admins} admins (allowed: 1 to the number of admins, at most {max} admins)")]
    BadThreshold {
        /// The threshold asked for.
        threshold: u32,
        /// How many admins there would be.
        admins: usize,
        /// The most admins a federation may have.
        max: usize,
    },
    /// An admin key that is not a valid ed25519 key, or listed twice.
    #[error("admin list: {problem}")]
    BadAdmins {
        /// What is wrong.
        problem: String,
    },
    /// An identity card inside the record is invalid.
    #[error(transparent)]
    Card(#[from] CardError),
    /// The platform is already a member (or was, and was revoked).
    #[error("platform {platform} is already in the chain (added at seq {seq})")]
    AlreadyAdded {
        /// The platform.
        platform: PlatformId,
        /// Where it was added.
        seq: u64,
    },
    /// The record names a platform that was never added.
    #[error("platform {platform} is not in this federation")]
    UnknownPlatform {
        /// The platform.
        platform: PlatformId,
    },
    /// The record changes a platform that has been revoked.
    #[error("platform {platform} was revoked at seq {seq}")]
    PlatformRevoked {
        /// The platform.
        platform: PlatformId,
        /// Where it was revoked.
        seq: u64,
    },
    /// An update whose card names another platform.
    #[error("the updated card is for {found}, not for {platform}")]
    CardForAnotherPlatform {
        /// The platform being updated.
        platform: PlatformId,
        /// The platform the card names.
        found: PlatformId,
    },
    /// An update that changes nothing.
    #[error("an update must change the rights, the expiry or the card")]
    EmptyUpdate,
    /// Rights given to a relay, which only stores and forwards.
    #[error("a relay has no rights; found {rights}")]
    RelayWithRights {
        /// The rights asked for.
        rights: String,
    },
    /// A field of the record is malformed or over a limit.
    #[error("field `{field}` {problem}")]
    Field {
        /// The field.
        field: String,
        /// What is wrong, and what is allowed.
        problem: String,
    },
    /// A catalog entity names an entity type that does not exist.
    #[error("entity `{entity}` has entity type `{entity_type}`, which is not in the catalog")]
    UnknownEntityType {
        /// The entity.
        entity: String,
        /// The missing type.
        entity_type: String,
    },
    /// The canonical encoding is over [`crate::limits::MAX_RECORD_BYTES`].
    #[error("record is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// The record's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

/// A chain that cannot be accepted, naming the first bad record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// A record is invalid.
    #[error("record #{index} (seq {seq}) is invalid: {reason}")]
    Record {
        /// Position in the chain (0 for genesis).
        index: usize,
        /// The seq the record claims.
        seq: u64,
        /// Why.
        reason: RecordError,
    },
    /// The chain has no records.
    #[error("the chain has no records")]
    Empty,
    /// Two valid records on one `prev`: nothing is chosen.
    #[error("fork at seq {seq}: records {ours} and {theirs} both extend {prev}; both refused, the chain stays at seq {kept_seq}")]
    Fork {
        /// The contested seq.
        seq: u64,
        /// The record this chain held.
        ours: RecordHash,
        /// The conflicting record.
        theirs: RecordHash,
        /// The record both extend.
        prev: RecordHash,
        /// The seq of the last good record kept.
        kept_seq: u64,
    },
    /// The chain was forked earlier; it takes nothing until the administrators resolve it.
    #[error("the chain is forked at seq {seq}; no record is accepted until the administrators resolve the fork")]
    Forked {
        /// The contested seq.
        seq: u64,
    },
    /// A record that skips ahead; the records between are needed first.
    #[error("record seq {found} skips ahead: the chain is at seq {head}")]
    Gap {
        /// This chain's head seq.
        head: u64,
        /// The record's seq.
        found: u64,
    },
}

/// A key file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// Not a key file at all.
    #[error("not a key file ({detail}); expected JSON like {{\"type\": \"{expected}\", \"key\": \"<64 hex>\"}}")]
    Malformed {
        /// The kind of key expected.
        expected: &'static str,
        /// The parser's complaint.
        detail: String,
    },
    /// A key file of another kind (an encryption key where a signing key is needed, say).
    #[error("wrong key type: found `{found}`, expected `{expected}`")]
    WrongType {
        /// The kind expected.
        expected: &'static str,
        /// The kind found.
        found: String,
    },
}

/// A chain file that cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChainFileError {
    /// Not valid JSON of a chain file.
    #[error("malformed chain file: {0}")]
    Json(serde_json::Error),
    /// The `federation` field is missing or not a federation id.
    #[error("field `federation`: {0}")]
    Federation(serde_json::Error),
    /// One record is not valid JSON of a record.
    #[error("record #{index} is malformed: {error}")]
    Record {
        /// Position in the file.
        index: usize,
        /// The parser's complaint.
        error: serde_json::Error,
    },
    /// A format this version does not read.
    #[error("unsupported chain file format `{found}`, expected `{expected}`")]
    Format {
        /// The format this version reads.
        expected: &'static str,
        /// The format found.
        found: String,
    },
    /// Over [`crate::limits::MAX_CHAIN_FILE_BYTES`].
    #[error("chain file is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// The file's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The file's `federation` field is not its genesis hash.
    #[error("the file says federation {found}, but its genesis record is federation {expected}")]
    FederationMismatch {
        /// The genesis hash.
        expected: String,
        /// What the file says.
        found: String,
    },
}

// Written by hand rather than with `#[from]`, which would make the parser's error a
// `source` as well as part of the message, and print it twice in error chains.
impl From<serde_json::Error> for ChainFileError {
    fn from(e: serde_json::Error) -> Self {
        ChainFileError::Json(e)
    }
}
