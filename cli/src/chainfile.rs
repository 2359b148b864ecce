//! Reading and writing chain files and admin keys, for the administrator commands.
//!
//! A chain file is replaced atomically (write a sibling, sync, rename), so a command
//! that fails, or a machine that crashes, leaves the previous file whole.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use ed25519_dalek::SigningKey;
use fed_crdt::chain::file::{ChainFile, PendingRecord, VerifiedChain, VerifyError};
use fed_crdt::chain::record::Record;
use fed_crdt::chain::Chain;
use fed_crdt::keys::KeyKind;
use fed_crdt::Timestamp;
use fednode::keyfile::read_secret;
use serde_json::json;

use crate::report::Refused;

/// The current time, whole seconds.
pub fn now() -> anyhow::Result<Timestamp> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the system clock is before 1970")?
        .as_secs();
    Ok(Timestamp(secs))
}

/// Loads an administrator's signing key.
pub fn load_admin_key(path: &Path) -> anyhow::Result<SigningKey> {
    let secret = read_secret(path, KeyKind::Ed25519Secret).context("admin key")?;
    Ok(SigningKey::from_bytes(&secret))
}

/// Reads and parses a chain file (no verification).
pub fn read(path: &Path) -> anyhow::Result<ChainFile> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("cannot read chain file {}", path.display()))?;
    ChainFile::parse(&text).with_context(|| format!("chain file {}", path.display()))
}

/// Reads, parses and verifies a chain file; an invalid record is a [`Refused`].
pub fn load(path: &Path) -> anyhow::Result<VerifiedChain> {
    let file = read(path)?;
    file.verify().map_err(|e| refusal(path, e).into())
}

/// Loads a chain to build a new record on: it must have no pending record.
pub fn load_for_new_record(path: &Path) -> anyhow::Result<Chain> {
    let verified = load(path)?;
    if let Some(p) = verified.pending {
        return Err(pending_in_the_way(path, &p).into());
    }
    Ok(verified.chain)
}

fn pending_in_the_way(path: &Path, p: &PendingRecord) -> Refused {
    Refused {
        message: format!(
            "{}: record seq {} ({}) is waiting for co-signatures ({} of {}); co-sign it with `fedctl membership cosign` before adding another",
            path.display(),
            p.record.seq,
            p.record.body.kind(),
            p.have,
            p.need
        ),
        detail: json!({"pending_seq": p.record.seq, "signatures": p.have, "threshold": p.need}),
    }
}

/// Turns a verification failure into a refusal naming the file and the record.
pub fn refusal(path: &Path, err: VerifyError) -> Refused {
    let detail = match &err {
        VerifyError::Chain(fed_crdt::error::ChainError::Record { index, seq, reason }) => {
            json!({"first_bad_record": {"index": index, "seq": seq}, "reason": reason.to_string()})
        }
        other => json!({"reason": other.to_string()}),
    };
    Refused {
        message: format!("{}: {err}", path.display()),
        detail,
    }
}

/// Writes a chain (and a pending record after it) over `path`, atomically.
pub fn save(path: &Path, chain: &Chain, pending: Option<&Record>) -> anyhow::Result<()> {
    let text = ChainFile::new(chain, pending).to_json();
    replace_atomically(path, text.as_bytes())
}

/// Writes a new file; refuses to overwrite.
pub fn create(path: &Path, chain: &Chain) -> anyhow::Result<()> {
    let text = ChainFile::new(chain, None).to_json();
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                anyhow::anyhow!(
                    "{} already exists; refusing to overwrite it (choose another --out)",
                    path.display()
                )
            } else {
                anyhow::anyhow!("cannot create {}: {e}", path.display())
            }
        })?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn replace_atomically(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let tmp = sibling(path);
    let result = (|| -> std::io::Result<()> {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}

fn sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}
