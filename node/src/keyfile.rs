//! Secret key files on disk: created once, readable only by their owner.
//!
//! Files are created with `O_EXCL` and mode 0600 in a single step, so a key is never
//! briefly readable by others and an existing key is never overwritten.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use fed_crdt::error::KeyFileError;
use fed_crdt::keys::{decode_key_file, encode_key_file, KeyKind};

/// A key file that cannot be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileIoError {
    /// The file exists; keys are never overwritten.
    #[error(
        "{path} already exists; refusing to overwrite a key (choose another path or remove it)"
    )]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// The file cannot be read or written.
    #[error("cannot {action} {path}: {error}")]
    Io {
        /// What was attempted.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        error: io::Error,
    },
    /// The file is not a key of the expected kind.
    #[error("{path}: {error}")]
    Content {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        error: KeyFileError,
    },
}

/// Creates `path` holding a secret key, mode 0600; fails if it exists.
///
/// # Errors
///
/// [`KeyFileIoError::Exists`] if the file exists, [`KeyFileIoError::Io`] otherwise.
pub fn write_secret(path: &Path, kind: KeyKind, secret: &[u8; 32]) -> Result<(), KeyFileIoError> {
    let text = encode_key_file(kind, secret);
    write_new_private(path, text.as_bytes())
}

/// Creates `path` with `contents`, mode 0600; fails if it exists.
///
/// # Errors
///
/// [`KeyFileIoError::Exists`] if the file exists, [`KeyFileIoError::Io`] otherwise.
pub fn write_new_private(path: &Path, contents: &[u8]) -> Result<(), KeyFileIoError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|error| {
        if error.kind() == io::ErrorKind::AlreadyExists {
            KeyFileIoError::Exists {
                path: path.to_path_buf(),
            }
        } else {
            KeyFileIoError::Io {
                action: "create",
                path: path.to_path_buf(),
                error,
            }
        }
    })?;
    let written = file.write_all(contents).and_then(|()| file.sync_all());
    if let Err(error) = written {
        // Leave no half-written key behind.
        let _ = fs::remove_file(path);
        return Err(KeyFileIoError::Io {
            action: "write",
            path: path.to_path_buf(),
            error,
        });
    }
    Ok(())
}

/// Reads a secret key of the given kind from `path`.
///
/// # Errors
///
/// [`KeyFileIoError::Io`] if unreadable, [`KeyFileIoError::Content`] if it is not a key
/// of that kind.
pub fn read_secret(path: &Path, kind: KeyKind) -> Result<[u8; 32], KeyFileIoError> {
    let text = fs::read_to_string(path).map_err(|error| KeyFileIoError::Io {
        action: "read",
        path: path.to_path_buf(),
        error,
    })?;
    decode_key_file(kind, &text).map_err(|error| KeyFileIoError::Content {
        path: path.to_path_buf(),
        error,
    })
}

/// Draws 32 random bytes for a new secret key from the operating system.
pub fn random_secret() -> [u8; 32] {
    rand::random()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_key_is_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        write_secret(&path, KeyKind::Ed25519Secret, &[5; 32]).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let before = fs::read(&path).unwrap();
        let err = write_secret(&path, KeyKind::Ed25519Secret, &[6; 32]).unwrap_err();
        assert!(matches!(err, KeyFileIoError::Exists { .. }), "{err}");
        assert_eq!(fs::read(&path).unwrap(), before);
        assert_eq!(read_secret(&path, KeyKind::Ed25519Secret).unwrap(), [5; 32]);
    }

    #[test]
    fn wrong_kind_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("enc.key");
        write_secret(&path, KeyKind::X25519Secret, &[5; 32]).unwrap();
        let err = read_secret(&path, KeyKind::Ed25519Secret)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("enc.key") && err.contains("wrong key type"),
            "{err}"
        );
    }
}
