//! Sealed payloads: private documents travel encrypted end to end.
//!
//! A private document's changes are readable by its recipient platforms only, yet they
//! cross relays and are stored by nodes that must still check who wrote them. So only
//! the payload (the Automerge change) is encrypted, and the envelope is signed over the
//! ciphertext: a relay checks the signature, the citation and the membership of the
//! author without any key, and learns nothing of the content.
//!
//! - [`payload`]: sealing and opening a payload under a document epoch's key
//!   ([`seal_envelope`], [`open_payload`]). The ciphertext is bound to the envelope's
//!   identifying fields, so it cannot be moved to another change, document or epoch.
//! - [`grant`]: the [`KeyGrant`] that hands an epoch's key to each recipient platform,
//!   wrapped with HPKE to the encryption key the administrator signed into the chain on
//!   the platform's identity card, so that nobody can slip in a key of their own.
//! - [`epoch`]: the epoch rule ([`superseded_epoch`]): once a change (an unshare, say)
//!   starts a new epoch, whatever builds on it must use the new key, which the platforms
//!   left out never receive.
//!
//! Keys and nonces come in as arguments; this module draws no random number of its own
//! but the ephemeral HPKE keys, from the caller's generator.

pub mod epoch;
pub mod grant;
pub mod payload;

use std::fmt;

pub use epoch::superseded_epoch;
pub use grant::{KeyGrant, WrappedKey};
pub use payload::{is_sealed, open_payload, seal_envelope, sealed_epoch, SEALED_MAGIC};

/// A document epoch's symmetric key: 32 random bytes drawn by the caller.
///
/// Every change of the epoch is sealed under it; platforms receive it in a [`KeyGrant`].
#[derive(Clone, PartialEq, Eq)]
pub struct EpochKey(pub [u8; 32]);

impl fmt::Debug for EpochKey {
    /// Prints nothing of the key, so that it never ends up in a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EpochKey(<secret>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_key() {
        let text = format!("{:?}", EpochKey([0xab; 32]));
        assert!(!text.contains("ab"), "{text}");
        assert!(!text.contains("171"), "{text}");
    }
}
