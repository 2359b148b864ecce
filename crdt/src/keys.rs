//! The text form of secret key files.
//!
//! A key file is a small JSON object naming its kind, so that handing the wrong file to
//! a command (an encryption key where a signing key is needed, an identity card where a
//! key is needed) fails with a message that says so. Reading and writing the files, with
//! their permissions, is the caller's business: this module only converts text.

use serde::{Deserialize, Serialize};

use crate::error::KeyFileError;

/// The kinds of secret key the project keeps in files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// An ed25519 signing key: a platform's identity or an administrator's key.
    Ed25519Secret,
    /// An X25519 secret: a platform's key for receiving wrapped document keys.
    X25519Secret,
}

impl KeyKind {
    /// The `type` written in the file.
    pub fn type_name(self) -> &'static str {
        match self {
            KeyKind::Ed25519Secret => "ed25519-secret-key",
            KeyKind::X25519Secret => "x25519-secret-key",
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileJson {
    #[serde(rename = "type")]
    kind: String,
    key: String,
}

/// Writes a key file's text for 32 secret bytes.
pub fn encode_key_file(kind: KeyKind, secret: &[u8; 32]) -> String {
    let json = KeyFileJson {
        kind: kind.type_name().to_string(),
        key: hex::encode(secret),
    };
    // Serialising two strings cannot fail.
    let mut text = serde_json::to_string_pretty(&json).unwrap_or_default();
    text.push('\n');
    text
}

/// Reads a key file's text, insisting on the expected kind.
///
/// # Errors
///
/// [`KeyFileError::Malformed`] if the text is not a key file, [`KeyFileError::WrongType`]
/// if it holds another kind of key.
pub fn decode_key_file(expected: KeyKind, text: &str) -> Result<[u8; 32], KeyFileError> {
    let malformed = |detail: String| KeyFileError::Malformed {
        expected: expected.type_name(),
        detail,
    };
    let json: KeyFileJson = serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
    if json.kind != expected.type_name() {
        return Err(KeyFileError::WrongType {
            expected: expected.type_name(),
            found: json.kind.chars().take(64).collect(),
        });
    }
    let mut out = [0u8; 32];
    if json.key.len() != 64 {
        return Err(malformed("`key` must be 64 hex characters".into()));
    }
    hex::decode_to_slice(&json.key, &mut out)
        .map_err(|_| malformed("`key` must be 64 hex characters".into()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let text = encode_key_file(KeyKind::Ed25519Secret, &[9; 32]);
        assert_eq!(decode_key_file(KeyKind::Ed25519Secret, &text), Ok([9; 32]));
    }

    #[test]
    fn wrong_kind_is_named() {
        let text = encode_key_file(KeyKind::X25519Secret, &[9; 32]);
        let err = decode_key_file(KeyKind::Ed25519Secret, &text).unwrap_err();
        assert!(matches!(err, KeyFileError::WrongType { .. }));
        assert!(err.to_string().contains("x25519-secret-key"), "{err}");
    }

    #[test]
    fn an_identity_card_is_not_a_key() {
        let err = decode_key_file(KeyKind::Ed25519Secret, r#"{"platform_id": "x"}"#).unwrap_err();
        assert!(matches!(err, KeyFileError::Malformed { .. }), "{err}");
        let err = decode_key_file(
            KeyKind::Ed25519Secret,
            r#"{"type": "ed25519-secret-key", "key": "zz"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("64 hex"), "{err}");
    }
}
