//! `fedctl key new` and `fedctl key public`.

use std::fmt;

use ed25519_dalek::SigningKey;
use fed_crdt::ids::AdminKey;
use fed_crdt::keys::KeyKind;
use fednode::keyfile::{random_secret, write_secret};
use serde::Serialize;

use crate::args::{KeyNewArgs, KeyPublicArgs};
use crate::chainfile::load_admin_key;
use crate::report::Report;

/// An administrator key's public half.
#[derive(Serialize)]
struct KeyOutput {
    public_key: AdminKey,
    file: String,
}

impl fmt::Display for KeyOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}  ({})", self.public_key, self.file)
    }
}

/// Creates a new secret key file and prints its public key.
pub fn new(args: &KeyNewArgs) -> anyhow::Result<Report> {
    let secret = random_secret();
    write_secret(&args.out, KeyKind::Ed25519Secret, &secret)?;
    let key = SigningKey::from_bytes(&secret);
    Ok(Report::new(&KeyOutput {
        public_key: AdminKey::from(&key),
        file: args.out.display().to_string(),
    }))
}

/// Prints the public key of a secret key file.
pub fn public(args: &KeyPublicArgs) -> anyhow::Result<Report> {
    let key = load_admin_key(&args.key)?;
    Ok(Report::new(&KeyOutput {
        public_key: AdminKey::from(&key),
        file: args.key.display().to_string(),
    }))
}
