//! The platform's identity in its data directory: signing key, encryption key and the
//! public identity card.
//!
//! The card is what the operator hands to the federation administrator, like a
//! certificate signing request; the keys never leave the directory.

use std::fs;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use fed_crdt::card::{CardFields, IdentityCard};
use fed_crdt::error::CardError;
use fed_crdt::ids::{EncryptionKey, PlatformId};
use fed_crdt::keys::{encode_key_file, KeyKind};
use x25519_dalek::{PublicKey, StaticSecret};

use crate::keyfile::{self, KeyFileIoError};

/// The signing key file, in the data directory.
pub const SIGNING_KEY_FILE: &str = "platform.key";
/// The encryption key file, in the data directory.
pub const ENCRYPTION_KEY_FILE: &str = "encryption.key";
/// Where replaced encryption keys wait until nothing needs them, in the data directory.
pub const RETIRED_DIR: &str = "retired-keys";
/// The public identity card, in the data directory.
pub const CARD_FILE: &str = "identity.card.json";

/// An identity that cannot be created or loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// `init` on a directory that already has an identity.
    #[error("{dir} already holds a platform identity ({file}); refusing to overwrite it (use another --data-dir)")]
    AlreadyInitialised {
        /// The data directory.
        dir: PathBuf,
        /// The file found.
        file: &'static str,
    },
    /// No identity in the directory.
    #[error("{dir} holds no platform identity; create one with `fednode init --data-dir {dir} --name NAME`")]
    NotInitialised {
        /// The data directory.
        dir: PathBuf,
    },
    /// A multiaddr that does not parse.
    #[error("invalid --address `{address}`: {reason} (expected a multiaddr like /ip4/203.0.113.5/tcp/4001)")]
    BadAddress {
        /// The address given.
        address: String,
        /// The parser's complaint.
        reason: String,
    },
    /// A card field is invalid.
    #[error(transparent)]
    Card(#[from] CardError),
    /// The card on disk does not belong to the keys on disk.
    #[error("{path} does not match the keys in its directory: {reason}")]
    CardMismatch {
        /// The card file.
        path: PathBuf,
        /// What differs.
        reason: String,
    },
    /// The card file is not a card.
    #[error("{path} is not an identity card: {reason}")]
    BadCard {
        /// The card file.
        path: PathBuf,
        /// The parser's complaint.
        reason: String,
    },
    /// A key file problem.
    #[error(transparent)]
    Key(#[from] KeyFileIoError),
    /// A file of the identity cannot be read or replaced.
    #[error("cannot update the identity files: {0}")]
    Io(#[from] std::io::Error),
    /// The directory cannot be created.
    #[error("cannot create data directory {dir}: {error}")]
    Dir {
        /// The data directory.
        dir: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
}

/// What `fednode init` needs to know.
#[derive(Clone, Debug)]
pub struct InitOptions {
    /// Display name of the platform.
    pub name: String,
    /// Who runs it.
    pub operator: String,
    /// Multiaddrs where it can be reached.
    pub addresses: Vec<String>,
}

/// A platform's loaded identity.
pub struct PlatformIdentity {
    /// The ed25519 key: identity, libp2p key and signer of changes.
    pub signing: SigningKey,
    /// The X25519 secret for unwrapping document keys.
    pub encryption: StaticSecret,
    /// Secrets of encryption keys replaced by [`PlatformIdentity::rotate_encryption`],
    /// kept (in `RETIRED_DIR`) while document keys wrapped for them are still needed.
    pub retired: Vec<(PathBuf, StaticSecret)>,
    /// The public card.
    pub card: IdentityCard,
}

impl std::fmt::Debug for PlatformIdentity {
    /// Shows the public card only: secrets never reach logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformIdentity")
            .field("card", &self.card)
            .finish_non_exhaustive()
    }
}

impl PlatformIdentity {
    /// The platform id.
    pub fn platform_id(&self) -> PlatformId {
        self.card.platform_id
    }

    /// Creates a new identity in `dir` (created with mode 0700 if missing).
    ///
    /// Nothing is written unless every input is valid, and nothing existing is
    /// overwritten.
    ///
    /// # Errors
    ///
    /// [`IdentityError`] naming the bad input or the file in the way.
    pub fn init(dir: &Path, options: InitOptions) -> Result<PlatformIdentity, IdentityError> {
        for address in &options.addresses {
            address
                .parse::<libp2p::Multiaddr>()
                .map_err(|e| IdentityError::BadAddress {
                    address: address.clone(),
                    reason: e.to_string(),
                })?;
        }
        let signing = SigningKey::from_bytes(&keyfile::random_secret());
        let encryption = StaticSecret::from(keyfile::random_secret());
        let card = IdentityCard::sign(
            &signing,
            CardFields {
                encryption_key: EncryptionKey(PublicKey::from(&encryption).to_bytes()),
                name: options.name,
                operator: options.operator,
                addresses: options.addresses,
            },
        )?;
        for file in [SIGNING_KEY_FILE, ENCRYPTION_KEY_FILE, CARD_FILE] {
            if dir.join(file).exists() {
                return Err(IdentityError::AlreadyInitialised {
                    dir: dir.to_path_buf(),
                    file,
                });
            }
        }
        create_private_dir(dir)?;
        let card_text = card_json(&card);
        let written = [
            (
                SIGNING_KEY_FILE,
                encode_key_file(KeyKind::Ed25519Secret, &signing.to_bytes()),
            ),
            (
                ENCRYPTION_KEY_FILE,
                encode_key_file(KeyKind::X25519Secret, &encryption.to_bytes()),
            ),
            (CARD_FILE, card_text),
        ];
        let mut done = Vec::new();
        for (file, contents) in &written {
            let path = dir.join(file);
            if let Err(e) = keyfile::write_new_private(&path, contents.as_bytes()) {
                // All or nothing: a half identity would block the next `init`.
                for p in done {
                    let _ = fs::remove_file(p);
                }
                return Err(e.into());
            }
            done.push(path);
        }
        Ok(PlatformIdentity {
            signing,
            encryption,
            retired: Vec::new(),
            card,
        })
    }

    /// Replaces this platform's encryption key: the current secret moves to
    /// `RETIRED_DIR`, a new one takes its place, and the identity card is signed again
    /// with the new public key. The administrator then signs the new card into the chain
    /// (`fedctl membership update --card`); until then, and until every document key
    /// wrapped for the old key has been granted again for the new one, the node keeps
    /// using the retired secret to read.
    ///
    /// # Errors
    ///
    /// [`IdentityError`] if the directory holds no identity or a file cannot be written.
    pub fn rotate_encryption(dir: &Path) -> Result<PlatformIdentity, IdentityError> {
        let old = PlatformIdentity::load(dir)?;
        let encryption = StaticSecret::from(keyfile::random_secret());
        let card = IdentityCard::sign(
            &old.signing,
            CardFields {
                encryption_key: EncryptionKey(PublicKey::from(&encryption).to_bytes()),
                name: old.card.name.clone(),
                operator: old.card.operator.clone(),
                addresses: old.card.addresses.clone(),
            },
        )?;
        create_private_dir(&dir.join(RETIRED_DIR))?;
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let retired = dir
            .join(RETIRED_DIR)
            .join(format!("encryption-{stamp}.key"));
        keyfile::write_secret(&retired, KeyKind::X25519Secret, &old.encryption.to_bytes())?;
        // The new key and the new card replace the old ones; a crash in between leaves
        // the retired copy of the old key, from which the operator can restore it.
        let fresh = dir.join(format!("{ENCRYPTION_KEY_FILE}.new"));
        let _ = fs::remove_file(&fresh);
        keyfile::write_secret(&fresh, KeyKind::X25519Secret, &encryption.to_bytes())?;
        fs::rename(&fresh, dir.join(ENCRYPTION_KEY_FILE))?;
        crate::fsutil::replace_file(&dir.join(CARD_FILE), card_json(&card).as_bytes())?;
        PlatformIdentity::load(dir)
    }

    /// Loads the identity in `dir`, checking that the card belongs to the keys.
    ///
    /// # Errors
    ///
    /// [`IdentityError::NotInitialised`] if there is none; other variants if a file is
    /// unreadable or the files do not belong together.
    pub fn load(dir: &Path) -> Result<PlatformIdentity, IdentityError> {
        if !dir.join(SIGNING_KEY_FILE).exists() {
            return Err(IdentityError::NotInitialised {
                dir: dir.to_path_buf(),
            });
        }
        let signing = SigningKey::from_bytes(&keyfile::read_secret(
            &dir.join(SIGNING_KEY_FILE),
            KeyKind::Ed25519Secret,
        )?);
        let encryption = StaticSecret::from(keyfile::read_secret(
            &dir.join(ENCRYPTION_KEY_FILE),
            KeyKind::X25519Secret,
        )?);
        let path = dir.join(CARD_FILE);
        let card = read_card(&path)?;
        let mismatch = |reason: &str| IdentityError::CardMismatch {
            path: path.clone(),
            reason: reason.to_string(),
        };
        if card.platform_id != PlatformId::from(&signing) {
            return Err(mismatch(
                "its platform_id is not this directory's signing key",
            ));
        }
        if card.encryption_key.0 != PublicKey::from(&encryption).to_bytes() {
            return Err(mismatch(
                "its encryption_key is not this directory's encryption key",
            ));
        }
        let retired = load_retired(dir)?;
        Ok(PlatformIdentity {
            signing,
            encryption,
            retired,
            card,
        })
    }
}

/// The retired encryption secrets in `dir`, oldest first.
fn load_retired(dir: &Path) -> Result<Vec<(PathBuf, StaticSecret)>, IdentityError> {
    let mut paths: Vec<PathBuf> = match fs::read_dir(dir.join(RETIRED_DIR)) {
        Ok(entries) => entries.flatten().map(|e| e.path()).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let secret = keyfile::read_secret(&path, KeyKind::X25519Secret)?;
        out.push((path, StaticSecret::from(secret)));
    }
    Ok(out)
}

/// Reads and verifies an identity card file.
///
/// # Errors
///
/// [`IdentityError::BadCard`] if the file is unreadable, not a card, or not signed by the
/// platform it names.
pub fn read_card(path: &Path) -> Result<IdentityCard, IdentityError> {
    let bad = |reason: String| IdentityError::BadCard {
        path: path.to_path_buf(),
        reason,
    };
    let text = fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let card: IdentityCard = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    card.verify().map_err(|e| bad(e.to_string()))?;
    Ok(card)
}

/// The card as pretty JSON with a final newline.
pub fn card_json(card: &IdentityCard) -> String {
    let mut text = serde_json::to_string_pretty(card).unwrap_or_default();
    text.push('\n');
    text
}

fn create_private_dir(dir: &Path) -> Result<(), IdentityError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|error| IdentityError::Dir {
        dir: dir.to_path_buf(),
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> InitOptions {
        InitOptions {
            name: "AP-HP".into(),
            operator: "EDS".into(),
            addresses: vec!["/ip4/127.0.0.1/tcp/4001".into()],
        }
    }

    #[test]
    fn platform_id_is_the_libp2p_peer_id() {
        let dir = tempfile::tempdir().unwrap();
        let id = PlatformIdentity::init(dir.path(), options()).unwrap();
        let mut secret = id.signing.to_bytes();
        let keypair = libp2p::identity::Keypair::ed25519_from_bytes(&mut secret).unwrap();
        assert_eq!(
            keypair.public().to_peer_id().to_string(),
            id.platform_id().to_string()
        );
    }

    #[test]
    fn load_returns_what_init_made() {
        let dir = tempfile::tempdir().unwrap();
        let made = PlatformIdentity::init(dir.path(), options()).unwrap();
        let loaded = PlatformIdentity::load(dir.path()).unwrap();
        assert_eq!(made.card, loaded.card);
        assert_eq!(made.signing.to_bytes(), loaded.signing.to_bytes());
    }

    #[test]
    fn second_init_refuses_and_keeps_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let first = PlatformIdentity::init(dir.path(), options()).unwrap();
        let err = PlatformIdentity::init(dir.path(), options()).unwrap_err();
        assert!(
            matches!(err, IdentityError::AlreadyInitialised { .. }),
            "{err}"
        );
        let loaded = PlatformIdentity::load(dir.path()).unwrap();
        assert_eq!(loaded.card, first.card);
    }

    #[test]
    fn bad_address_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = options();
        o.addresses.push("localhost:4001".into());
        let err = PlatformIdentity::init(dir.path(), o).unwrap_err();
        assert!(err.to_string().contains("localhost:4001"), "{err}");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn swapped_card_is_detected_on_load() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        PlatformIdentity::init(a.path(), options()).unwrap();
        PlatformIdentity::init(b.path(), options()).unwrap();
        fs::copy(b.path().join(CARD_FILE), a.path().join(CARD_FILE)).unwrap();
        let err = PlatformIdentity::load(a.path()).err().unwrap();
        assert!(matches!(err, IdentityError::CardMismatch { .. }), "{err}");
    }
}
