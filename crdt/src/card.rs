//! The identity card: what a platform hands to the administrator to be admitted.
//!
//! Like a certificate signing request, the card is signed by the platform's own key. This
//! proves that whoever asks for admission holds the key, and lets the administrator (and
//! every node later) detect a card whose encryption key or name was swapped on the way.

use ed25519_dalek::{Signer, SigningKey};
use serde::{Deserialize, Serialize};

use crate::canon::CanonWriter;
use crate::error::CardError;
use crate::ids::{EncryptionKey, PlatformId, Signature};
use crate::limits::{MAX_ADDRESS_BYTES, MAX_CARD_ADDRESSES, MAX_NAME_BYTES, MAX_OPERATOR_BYTES};

const CARD_DOMAIN: &str = "fednet/identity-card/v1";

/// A platform's public identity card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityCard {
    /// The platform's ed25519 key, as a libp2p PeerId.
    pub platform_id: PlatformId,
    /// The platform's X25519 key for receiving wrapped document keys.
    pub encryption_key: EncryptionKey,
    /// Display name of the platform.
    pub name: String,
    /// Who runs the platform (organisation, contact).
    pub operator: String,
    /// libp2p multiaddrs where the node can be reached.
    pub addresses: Vec<String>,
    /// The platform's signature over all the fields above.
    pub signature: Signature,
}

/// The unsigned content of a card, as given to [`IdentityCard::sign`].
#[derive(Clone, Debug)]
pub struct CardFields {
    /// The platform's X25519 public key.
    pub encryption_key: EncryptionKey,
    /// Display name.
    pub name: String,
    /// Operator text.
    pub operator: String,
    /// Multiaddrs (checked for syntax by the node, which knows multiaddrs).
    pub addresses: Vec<String>,
}

/// Checks a display text: not blank, no control characters, within `max` bytes.
pub(crate) fn check_text(value: &str, max: usize, allow_empty: bool) -> Result<(), String> {
    if !allow_empty && value.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if value.len() > max {
        return Err(format!("is {} bytes, at most {max} allowed", value.len()));
    }
    if value.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    check_invisible(value)
}

/// Characters that change how text reads without showing themselves: bidirectional
/// overrides, embeddings and isolates (which can make `evil.exe` read `exe.live`), marks,
/// zero-width characters and the byte-order mark.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

fn check_invisible(value: &str) -> Result<(), String> {
    match value.chars().find(|c| is_invisible(*c)) {
        Some(c) => Err(format!(
            "must not contain invisible formatting characters (found U+{:04X})",
            u32::from(c)
        )),
        None => Ok(()),
    }
}

/// Checks a free text that may span lines: within `max` bytes, no control characters but
/// line breaks and tabs.
pub(crate) fn check_multiline_text(value: &str, max: usize) -> Result<(), String> {
    if value.len() > max {
        return Err(format!("is {} bytes, at most {max} allowed", value.len()));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err("must not contain control characters other than line breaks and tabs".into());
    }
    check_invisible(value)
}

impl IdentityCard {
    /// Builds and signs a card for the platform whose signing key is given.
    ///
    /// # Errors
    ///
    /// [`CardError::Field`] if a field is empty or over its limit.
    pub fn sign(key: &SigningKey, fields: CardFields) -> Result<IdentityCard, CardError> {
        let mut card = IdentityCard {
            platform_id: PlatformId::from(key),
            encryption_key: fields.encryption_key,
            name: fields.name,
            operator: fields.operator,
            addresses: fields.addresses,
            signature: Signature([0; 64]),
        };
        card.check_fields()?;
        card.signature = Signature(key.sign(&card.signing_bytes()).to_bytes());
        Ok(card)
    }

    /// Checks the fields and the platform's signature.
    ///
    /// # Errors
    ///
    /// [`CardError::Field`] for a malformed field, [`CardError::BadSignature`] if the
    /// signature is not the platform's over these exact fields.
    pub fn verify(&self) -> Result<(), CardError> {
        self.check_fields()?;
        let bad = || CardError::BadSignature {
            platform: self.platform_id,
        };
        let key = self.platform_id.verifying_key().map_err(|_| bad())?;
        let sig = ed25519_dalek::Signature::from_bytes(&self.signature.0);
        key.verify_strict(&self.signing_bytes(), &sig)
            .map_err(|_| bad())
    }

    fn check_fields(&self) -> Result<(), CardError> {
        let field = |field: &'static str, r: Result<(), String>| {
            r.map_err(|problem| CardError::Field { field, problem })
        };
        field("name", check_text(&self.name, MAX_NAME_BYTES, false))?;
        field(
            "operator",
            check_text(&self.operator, MAX_OPERATOR_BYTES, true),
        )?;
        if self.addresses.len() > MAX_CARD_ADDRESSES {
            return Err(CardError::Field {
                field: "addresses",
                problem: format!(
                    "lists {} addresses, at most {MAX_CARD_ADDRESSES} allowed",
                    self.addresses.len()
                ),
            });
        }
        for a in &self.addresses {
            field("addresses", check_text(a, MAX_ADDRESS_BYTES, false))?;
        }
        Ok(())
    }

    /// The bytes the platform signs.
    fn signing_bytes(&self) -> Vec<u8> {
        let mut w = CanonWriter::with_domain(CARD_DOMAIN);
        self.encode_fields(&mut w);
        w.finish()
    }

    fn encode_fields(&self, w: &mut CanonWriter) {
        w.bytes(self.platform_id.as_bytes())
            .bytes(self.encryption_key.as_bytes())
            .str(&self.name)
            .str(&self.operator)
            .list(&self.addresses, |w, a| {
                w.str(a);
            });
    }

    /// Writes the whole card, signature included, into a membership record's bytes.
    pub(crate) fn encode(&self, w: &mut CanonWriter) {
        self.encode_fields(w);
        w.bytes(self.signature.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_refuse_invisible_formatting_characters() {
        for c in [
            '\u{202E}', '\u{200E}', '\u{200B}', '\u{2066}', '\u{FEFF}', '\u{061C}',
        ] {
            let text = format!("Projet{c}exe.txt");
            let refused = check_text(&text, 100, false).unwrap_err();
            assert!(
                refused.contains(&format!("U+{:04X}", u32::from(c))),
                "{refused}"
            );
            assert!(check_multiline_text(&text, 100).is_err());
        }
        // Letters of right-to-left scripts and line breaks in free text stay allowed.
        assert!(check_text("مستشفى", 100, false).is_ok());
        assert!(check_multiline_text("line one\nline two\twith a tab", 100).is_ok());
    }

    fn card() -> (SigningKey, IdentityCard) {
        let key = SigningKey::from_bytes(&[3; 32]);
        let card = IdentityCard::sign(
            &key,
            CardFields {
                encryption_key: EncryptionKey([4; 32]),
                name: "AP-HP".into(),
                operator: "EDS team".into(),
                addresses: vec!["/ip4/127.0.0.1/tcp/4001".into()],
            },
        )
        .unwrap();
        (key, card)
    }

    #[test]
    fn signed_card_verifies() {
        let (key, card) = card();
        assert_eq!(card.platform_id, PlatformId::from(&key));
        card.verify().unwrap();
    }

    #[test]
    fn swapped_encryption_key_is_detected() {
        let (_, mut card) = card();
        card.encryption_key = EncryptionKey([5; 32]);
        assert!(matches!(card.verify(), Err(CardError::BadSignature { .. })));
    }

    #[test]
    fn card_of_another_key_is_detected() {
        let (_, mut card) = card();
        card.platform_id = PlatformId::from(&SigningKey::from_bytes(&[8; 32]));
        assert!(matches!(card.verify(), Err(CardError::BadSignature { .. })));
    }

    #[test]
    fn blank_name_is_refused_with_the_field_named() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let err = IdentityCard::sign(
            &key,
            CardFields {
                encryption_key: EncryptionKey([4; 32]),
                name: "  ".into(),
                operator: String::new(),
                addresses: vec![],
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("`name`"), "{err}");
    }
}
