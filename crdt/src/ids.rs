//! Identifiers: platforms, administrators, federations, records, documents, changes,
//! and the keys and signatures that travel in JSON.
//!
//! Each is a newtype over fixed-size bytes with one text form, parsed strictly: a text
//! that decodes to the same bytes but is spelled differently (upper-case hex, say) is
//! refused, so that one value never has two spellings in a signed file.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ParseIdError;

/// Most decompressed platform keys kept in memory (see [`PlatformId::verifying_key`]).
pub const MAX_CACHED_PLATFORM_KEYS: usize = 4096;

/// Decodes exactly `N` bytes of lower-case hex.
fn parse_hex<const N: usize>(what: &'static str, s: &str) -> Result<[u8; N], ParseIdError> {
    let lower_hex = s
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if s.len() != 2 * N || !lower_hex {
        return Err(ParseIdError::Hex {
            what,
            expected_chars: 2 * N,
            found: s.chars().take(80).collect(),
        });
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).map_err(|_| ParseIdError::Hex {
        what,
        expected_chars: 2 * N,
        found: s.chars().take(80).collect(),
    })?;
    Ok(out)
}

/// Declares a newtype over `[u8; N]` whose text form is lower-case hex.
macro_rules! hex_id {
    ($(#[$doc:meta])* $name:ident, $len:expr, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// The first 12 hex characters, for logs and tables.
            pub fn fmt_short(&self) -> String {
                hex::encode(&self.0[..6])
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.fmt_short())
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_hex::<$len>($what, s).map($name)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

hex_id!(
    /// A federation's identity: the hash of its genesis record.
    FederationId,
    32,
    "federation id"
);
hex_id!(
    /// The hash of a membership record's signed content; `prev` links use it.
    RecordHash,
    32,
    "record hash"
);
hex_id!(
    /// A platform's X25519 public key, to which document keys are wrapped.
    EncryptionKey,
    32,
    "encryption key"
);
hex_id!(
    /// An ed25519 signature.
    Signature,
    64,
    "signature"
);
hex_id!(
    /// The hash of a document change (an Automerge change hash).
    ChangeHash,
    32,
    "change hash"
);
hex_id!(
    /// An administrator's ed25519 public key.
    AdminKey,
    32,
    "admin public key"
);

impl AdminKey {
    /// The verifying key, or an error if the bytes are not a valid curve point.
    pub fn verifying_key(&self) -> Result<VerifyingKey, ParseIdError> {
        VerifyingKey::from_bytes(&self.0).map_err(|_| ParseIdError::NotAKey {
            what: "admin public key",
        })
    }
}

impl From<&ed25519_dalek::SigningKey> for AdminKey {
    fn from(key: &ed25519_dalek::SigningKey) -> Self {
        AdminKey(key.verifying_key().to_bytes())
    }
}

/// A platform's identity: its ed25519 public key, written as a libp2p PeerId.
///
/// The text form is the one libp2p prints (`12D3KooW...`): base58 of the identity
/// multihash of the protobuf-encoded public key. Computing it here keeps `crdt` free of
/// libp2p while letting operators copy ids between `fedctl`, logs and libp2p tools.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PlatformId(pub [u8; 32]);

/// Identity multihash (code 0, length 36) of the protobuf `PublicKey { Type: Ed25519, Data }`.
const PEER_ID_PREFIX: [u8; 6] = [0x00, 0x24, 0x08, 0x01, 0x12, 0x20];

impl PlatformId {
    /// The raw ed25519 public key.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The verifying key, or an error if the bytes are not a valid curve point.
    ///
    /// Decompressing the key is most of what parsing an id or checking a signature
    /// costs besides the signature itself, and a node meets the same few hundred
    /// platforms over and over: the keys it decompressed are kept (at most
    /// [`MAX_CACHED_PLATFORM_KEYS`]; past that, the cache starts afresh).
    pub fn verifying_key(&self) -> Result<VerifyingKey, ParseIdError> {
        static KEYS: OnceLock<Mutex<HashMap<[u8; 32], VerifyingKey>>> = OnceLock::new();
        let keys = KEYS.get_or_init(|| Mutex::new(HashMap::new()));
        if let Some(key) = keys.lock().ok().and_then(|k| k.get(&self.0).copied()) {
            return Ok(key);
        }
        let key = VerifyingKey::from_bytes(&self.0).map_err(|_| ParseIdError::NotAKey {
            what: "platform id",
        })?;
        if let Ok(mut keys) = keys.lock() {
            if keys.len() >= MAX_CACHED_PLATFORM_KEYS {
                keys.clear();
            }
            keys.insert(self.0, key);
        }
        Ok(key)
    }

    /// The last 8 characters (all PeerIds of ed25519 keys share their first 8).
    pub fn fmt_short(&self) -> String {
        let s = self.to_string();
        s[s.len() - 8..].to_string()
    }
}

impl From<&ed25519_dalek::SigningKey> for PlatformId {
    fn from(key: &ed25519_dalek::SigningKey) -> Self {
        PlatformId(key.verifying_key().to_bytes())
    }
}

impl fmt::Display for PlatformId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = Vec::with_capacity(38);
        raw.extend_from_slice(&PEER_ID_PREFIX);
        raw.extend_from_slice(&self.0);
        f.write_str(&bs58::encode(raw).into_string())
    }
}

impl fmt::Debug for PlatformId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PlatformId({})", self.fmt_short())
    }
}

impl FromStr for PlatformId {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ParseIdError::PlatformId {
            found: s.chars().take(80).collect(),
        };
        let raw = bs58::decode(s).into_vec().map_err(|_| bad())?;
        if raw.len() != 38 || raw[..6] != PEER_ID_PREFIX {
            return Err(bad());
        }
        let mut key = [0u8; 32];
        key.copy_from_slice(&raw[6..]);
        let id = PlatformId(key);
        // No need to encode it back to see that `s` was its one spelling: base58 spells
        // each leading zero byte as one `1` and the rest as a number without leading
        // zeros, so two spellings of these 38 bytes (one leading zero) cannot exist.
        id.verifying_key()?;
        Ok(id)
    }
}

impl Serialize for PlatformId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PlatformId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl From<automerge::ChangeHash> for ChangeHash {
    fn from(h: automerge::ChangeHash) -> Self {
        ChangeHash(h.0)
    }
}

impl From<ChangeHash> for automerge::ChangeHash {
    fn from(h: ChangeHash) -> Self {
        automerge::ChangeHash(h.0)
    }
}

/// What a document is, and so which rules apply to its changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    /// The platforms registry: one per federation.
    Platforms,
    /// One shared project.
    Project,
    /// One export request.
    Export,
}

impl DocKind {
    /// Every kind.
    pub const ALL: [DocKind; 3] = [DocKind::Platforms, DocKind::Project, DocKind::Export];

    /// The kind as written in a document id (`platforms`, `project`, `export`).
    pub fn name(self) -> &'static str {
        match self {
            DocKind::Platforms => "platforms",
            DocKind::Project => "project",
            DocKind::Export => "export",
        }
    }
}

impl fmt::Display for DocKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Domain tag hashed with a federation id to derive its platforms registry's id.
const PLATFORMS_REGISTRY_DOMAIN: &[u8] = b"fednet/platforms-registry/v1";
/// Domain tag hashed with a kind, a creator and a nonce to derive a private document's id.
const DOCUMENT_ID_DOMAIN: &[u8] = b"fednet/document-id/v1";

/// The first 16 bytes of SHA-256 over `parts`, in order.
fn digest16(parts: &[&[u8]]) -> [u8; 16] {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    let digest: [u8; 32] = hasher.finalize().into();
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    id
}

/// A creation nonce as written in a document: exactly 32 lower-case hex characters.
pub(crate) fn parse_nonce(s: &str) -> Option<[u8; 16]> {
    parse_hex::<16>("nonce", s).ok()
}

/// A document's identity: its kind and 16 bytes, written `<kind>:<32 lower-case hex>`.
///
/// The kind is part of the id so that every node knows which rules apply to a change
/// before it reads anything else.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DocId {
    /// Which rules apply.
    pub kind: DocKind,
    /// The id proper: derived from the federation for the platforms registry, from the
    /// creator and a nonce for projects and export requests.
    pub id: [u8; 16],
}

impl DocId {
    /// The fixed id of a federation's platforms registry: the first 16 bytes of
    /// SHA-256(`fednet/platforms-registry/v1` ‖ federation id), so every member derives
    /// it without being told.
    pub fn platforms_registry(federation: &FederationId) -> DocId {
        DocId {
            kind: DocKind::Platforms,
            id: digest16(&[PLATFORMS_REGISTRY_DOMAIN, federation.as_bytes()]),
        }
    }

    /// The id of a private document created by `creator`: the first 16 bytes of
    /// SHA-256(`fednet/document-id/v1` ‖ kind name ‖ creator's public key ‖ nonce).
    ///
    /// Binding the id to its creator lets every node check that the change creating a
    /// document comes from the platform the id names: a member who learns the id of
    /// someone else's document cannot create a rival version of it. The creator draws the
    /// nonce at random and writes it in the creating change, so that anyone can recompute
    /// the id.
    pub fn derive(kind: DocKind, creator: &PlatformId, nonce: [u8; 16]) -> DocId {
        DocId {
            kind,
            id: digest16(&[
                DOCUMENT_ID_DOMAIN,
                kind.name().as_bytes(),
                creator.as_bytes(),
                &nonce,
            ]),
        }
    }

    /// A document id from 16 random bytes drawn by the caller (this crate draws none).
    pub fn random(kind: DocKind, bytes: [u8; 16]) -> DocId {
        DocId { kind, id: bytes }
    }

    /// The kind and the first 12 hex characters, for logs and tables.
    pub fn fmt_short(&self) -> String {
        format!("{}:{}", self.kind, hex::encode(&self.id[..6]))
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, hex::encode(self.id))
    }
}

impl fmt::Debug for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocId({})", self.fmt_short())
    }
}

impl FromStr for DocId {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ParseIdError::DocId {
            found: s.chars().take(80).collect(),
        };
        let (kind, id) = s.split_once(':').ok_or_else(bad)?;
        let kind = DocKind::ALL
            .into_iter()
            .find(|k| k.name() == kind)
            .ok_or_else(bad)?;
        let id = parse_hex::<16>("document id", id)?;
        Ok(DocId { kind, id })
    }
}

impl Serialize for DocId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DocId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
