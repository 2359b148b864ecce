//! Errors of sealed payloads and key grants. The ones about decryption say only that it
//! failed: which byte or which key was wrong would help an attacker, not an operator.

use crate::ids::PlatformId;

/// A sealed payload that does not open, or a key grant that is refused or not for us.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// Not a sealed payload, or a header or a wrapped key of the wrong length.
    #[error("malformed sealed data: {0}")]
    Malformed(String),
    /// The payload does not open under the key of its epoch with this envelope's fields.
    #[error("the sealed payload does not open under the key of its epoch for this envelope")]
    Decrypt,
    /// The platform's slot of a key grant does not open with its secret key.
    #[error("the key wrapped for {platform} does not open with its encryption secret")]
    Unwrap {
        /// The platform whose slot failed.
        platform: PlatformId,
    },
    /// The grant wraps no key for this platform.
    #[error("the key grant wraps no key for {platform}")]
    NotForMe {
        /// The platform that looked for its slot.
        platform: PlatformId,
    },
    /// The grant's signature is not its author's over these exact fields.
    #[error("the key grant's signature is not its author's over these fields")]
    Signature,
    /// The author or a recipient is not an active platform member at the chain's head.
    #[error("{platform} {reason}; key grants are made by and for active platform members only")]
    NotMember {
        /// The author or recipient at fault.
        platform: PlatformId,
        /// Why it is not a member that may take part.
        reason: String,
    },
    /// A key wrapped for another encryption key than the one on the recipient's card.
    #[error("the key for {platform} is wrapped for another encryption key than the one its identity card in the chain carries")]
    KeySubstituted {
        /// The recipient whose key was substituted.
        platform: PlatformId,
    },
    /// More recipients than [`crate::limits::MAX_GRANT_RECIPIENTS`].
    #[error("the key grant has {count} recipients, at most {max} allowed")]
    TooManyRecipients {
        /// How many the grant lists.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// One platform listed twice.
    #[error("the key grant lists {platform} more than once; each recipient gets one slot")]
    DuplicateRecipient {
        /// The repeated platform.
        platform: PlatformId,
    },
    /// The HPKE library refused a key or an operation.
    #[error("HPKE: {0}")]
    Hpke(String),
}
