//! The keys of private documents: the grants this node has seen, the epoch keys it could
//! unwrap, and the [`Sealing`] its documents open payloads with.
//!
//! A grant is the epoch key of one document epoch wrapped for some platforms (see
//! [`fed_crdt::seal::KeyGrant`]). Grants are stored as received (each slot is readable
//! only with its recipient's private key) and replicated with the document's envelopes,
//! so a relay can hold and forward them. Unwrapped epoch keys live in memory only; they
//! are unwrapped again from the stored grants at start, with the platform's own key.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use ed25519_dalek::SigningKey;
use fed_crdt::chain::Chain;
use fed_crdt::envelope::{ChangeEnvelope, Refusal, RefusalCheck};
use fed_crdt::ids::{ChangeHash, DocId, EncryptionKey, PlatformId};
use fed_crdt::registry::document::Sealing;
use fed_crdt::seal::{open_payload, sealed_epoch, superseded_epoch, EpochKey, KeyGrant};
use sha2::{Digest, Sha256};
use tracing::warn;

use crate::store::{Store, Tree, WriteBatch};
use crate::EngineError;

/// Most grants kept for one document (one per epoch and per extension to a new share).
pub const MAX_GRANTS_PER_DOCUMENT: usize = 4_096;

/// What the documents and the engine share: epoch keys and grants, by document.
/// The keys of one epoch, each with the author of the grant that carried it.
type EpochKeys = Vec<(PlatformId, EpochKey)>;

#[derive(Default)]
struct KeyState {
    /// Unwrapped epoch keys, by document and epoch.
    keys: RwLock<HashMap<(DocId, u32), EpochKeys>>,
    grants: RwLock<HashMap<DocId, Vec<KeyGrant>>>,
    /// Each readable document's controller (project owner, export requester): only its
    /// grants decide which key this platform writes with and which epochs supersede
    /// others. Another member's grant (a platform removed from the document, say) is
    /// kept but never trusted for that.
    controllers: RwLock<HashMap<DocId, PlatformId>>,
}

impl KeyState {
    fn controller(&self, document: &DocId) -> Option<PlatformId> {
        self.controllers
            .read()
            .ok()
            .and_then(|c| c.get(document).copied())
    }

    /// The grants of a document that count: its controller's once it is known.
    fn trusted_grants(&self, document: &DocId) -> Vec<KeyGrant> {
        let controller = self.controller(document);
        self.grants
            .read()
            .map(|g| g.get(document).cloned().unwrap_or_default())
            .unwrap_or_default()
            .into_iter()
            .filter(|g| controller.is_none_or(|c| g.author == c))
            .collect()
    }
}

/// This platform's keys for private documents.
pub struct Keyring {
    me: PlatformId,
    /// The current encryption secret, then the retired ones still kept (see
    /// `fednode rotate-encryption-key`), each with its public key and file.
    secrets: RwLock<Vec<Secret>>,
    store: Arc<dyn Store>,
    /// A grant was written since [`Keyring::take_written`]: it awaits the next sync.
    written: std::sync::atomic::AtomicBool,
    state: Arc<KeyState>,
    max_grants: usize,
}

/// One of this platform's encryption secrets.
struct Secret {
    public: EncryptionKey,
    secret: [u8; 32],
    /// Where a retired secret is kept (none for the current one).
    file: Option<PathBuf>,
}

/// A grant's store key: document, epoch, then a hash of the grant, so that extensions
/// of one epoch to new platforms sit side by side.
fn grant_key(grant: &KeyGrant) -> Vec<u8> {
    let mut key = format!("{}/", grant.document).into_bytes();
    key.extend_from_slice(&grant.epoch.to_be_bytes());
    key.extend_from_slice(&grant_hash(grant));
    key
}

/// SHA-256 of a grant's signed bytes: its identity in refusals and in the store.
pub fn grant_hash(grant: &KeyGrant) -> [u8; 32] {
    Sha256::digest(grant.signing_bytes()).into()
}

/// What became of a grant.
#[derive(Debug, PartialEq, Eq)]
pub enum GrantOutcome {
    /// Stored; `unwrapped` if it carried a key for this platform.
    Stored {
        /// Whether this platform can now read the epoch.
        unwrapped: bool,
    },
    /// Already held.
    Known,
}

impl Keyring {
    /// Loads every stored grant and unwraps the keys addressed to this platform.
    ///
    /// # Errors
    ///
    /// [`EngineError::Store`] if the store cannot be read.
    pub fn load(
        me: PlatformId,
        secret: [u8; 32],
        retired: Vec<(PathBuf, [u8; 32])>,
        store: Arc<dyn Store>,
    ) -> Result<Keyring, EngineError> {
        let public = |s: &[u8; 32]| {
            EncryptionKey(
                x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(*s)).to_bytes(),
            )
        };
        let mut secrets = vec![Secret {
            public: public(&secret),
            secret,
            file: None,
        }];
        secrets.extend(retired.into_iter().map(|(file, s)| Secret {
            public: public(&s),
            secret: s,
            file: Some(file),
        }));
        let ring = Keyring {
            me,
            secrets: RwLock::new(secrets),
            store,
            written: std::sync::atomic::AtomicBool::new(false),
            state: Arc::new(KeyState::default()),
            max_grants: MAX_GRANTS_PER_DOCUMENT,
        };
        for (key, value) in ring.store.scan_prefix(Tree::Keys, b"", usize::MAX)? {
            match serde_json::from_slice::<KeyGrant>(&value) {
                Ok(grant) => {
                    ring.remember(grant);
                }
                Err(e) => {
                    warn!(key = %hex::encode(&key), error = %e, "unreadable stored grant skipped");
                }
            }
        }
        Ok(ring)
    }

    /// The same keyring, keeping at most `max` grants per document.
    pub fn with_max_grants(mut self, max: usize) -> Keyring {
        self.max_grants = max;
        self
    }

    /// The [`Sealing`] that private documents open their payloads with.
    /// Whether a grant was written since the last call (it awaits the engine's sync).
    pub fn take_written(&self) -> bool {
        self.written
            .swap(false, std::sync::atomic::Ordering::Relaxed)
    }

    pub fn sealing(&self) -> Arc<dyn Sealing> {
        Arc::new(NodeSealing(self.state.clone()))
    }

    /// Keeps a grant in memory, unwrapping it if it is for us; true if it was.
    fn remember(&self, grant: KeyGrant) -> bool {
        let mut unwrapped = false;
        let slot = grant
            .wrapped
            .iter()
            .find(|w| w.platform == self.me)
            .map(|w| w.encryption_key);
        let secret = slot.and_then(|key| {
            self.secrets
                .read()
                .ok()
                .and_then(|s| s.iter().find(|s| s.public == key).map(|s| s.secret))
        });
        if let (Some(_), None) = (slot, secret) {
            warn!(doc = %grant.document.fmt_short(), epoch = grant.epoch, "a key granted to this platform is wrapped for an encryption key it no longer holds");
        }
        if let Some(secret) = secret {
            match grant.unwrap(&self.me, &secret) {
                Ok(key) => {
                    if let Ok(mut keys) = self.state.keys.write() {
                        let slot = keys.entry((grant.document, grant.epoch)).or_default();
                        if !slot.iter().any(|(a, _)| *a == grant.author) {
                            slot.push((grant.author, key));
                        }
                        unwrapped = true;
                    }
                }
                Err(e) => {
                    warn!(doc = %grant.document.fmt_short(), epoch = grant.epoch, error = %e, "a key granted to this platform does not unwrap")
                }
            }
        }
        if let Ok(mut grants) = self.state.grants.write() {
            grants.entry(grant.document).or_default().push(grant);
        }
        unwrapped
    }

    /// Checks a grant against the chain, stores it (flushed) and unwraps it if it is for
    /// this platform.
    ///
    /// # Errors
    ///
    /// [`GrantError::Refused`] with the refusal to record (check `grant`) for a grant
    /// that does not check; [`GrantError::Store`] if it cannot be stored, which is no
    /// fault of the grant and is never recorded as a refusal.
    pub fn receive(&self, chain: &Chain, grant: KeyGrant) -> Result<GrantOutcome, GrantError> {
        let hash = grant_hash(&grant);
        let known = self.grants_of(&grant.document);
        if known.iter().any(|g| grant_hash(g) == hash) {
            return Ok(GrantOutcome::Known);
        }
        let refusal = |reason: String| {
            Box::new(Refusal {
                federation: grant.federation,
                document: grant.document,
                change_hash: ChangeHash(hash),
                author: grant.author,
                check: RefusalCheck::Grant,
                reason,
            })
        };
        if grant.federation != chain.federation() {
            return Err(GrantError::Refused(refusal(
                "the grant is for another federation".into(),
            )));
        }
        if known.len() >= self.max_grants {
            return Err(GrantError::Refused(refusal(format!(
                "the document has {} grants, the most kept ({})",
                known.len(),
                self.max_grants
            ))));
        }
        grant
            .check(chain)
            .map_err(|e| GrantError::Refused(refusal(e.to_string())))?;
        let mut batch = WriteBatch::new();
        batch.put(
            Tree::Keys,
            grant_key(&grant),
            serde_json::to_vec(&grant).unwrap_or_default(),
        );
        // Durable with the change it comes with, at the engine's next sync.
        self.store.write(batch).map_err(GrantError::Store)?;
        self.written
            .store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(GrantOutcome::Stored {
            unwrapped: self.remember(grant),
        })
    }

    /// Forgets the retired encryption secrets nothing needs any more: none is the key the
    /// chains hold for this platform (`current_keys`), and every epoch key granted for it
    /// is also granted for the current key. Returns the files that hold them, for the
    /// node to delete (a file it fails to delete is read again, and pruned again, at the
    /// next start).
    pub fn prune_retired(&self, current_keys: &[EncryptionKey]) -> Vec<PathBuf> {
        let grants: Vec<KeyGrant> = self
            .state
            .grants
            .read()
            .map(|g| g.values().flatten().cloned().collect())
            .unwrap_or_default();
        let Ok(mut secrets) = self.secrets.write() else {
            return Vec::new();
        };
        let Some(current) = secrets.first().map(|s| s.public) else {
            return Vec::new();
        };
        let mine = |g: &KeyGrant, key: EncryptionKey| {
            g.wrapped
                .iter()
                .any(|w| w.platform == self.me && w.encryption_key == key)
        };
        let needed = |key: EncryptionKey| {
            current_keys.contains(&key)
                || grants.iter().filter(|g| mine(g, key)).any(|old| {
                    !grants.iter().any(|g| {
                        g.document == old.document && g.epoch == old.epoch && mine(g, current)
                    })
                })
        };
        let mut retired = Vec::new();
        secrets.retain(|s| match &s.file {
            Some(file) if !needed(s.public) => {
                retired.push(file.clone());
                false
            }
            _ => true,
        });
        retired
    }

    /// Every grant held for a document.
    pub fn grants_of(&self, document: &DocId) -> Vec<KeyGrant> {
        self.state
            .grants
            .read()
            .map(|g| g.get(document).cloned().unwrap_or_default())
            .unwrap_or_default()
    }

    /// How many grants of a document name `platform` among their recipients (what
    /// anti-entropy digests count, without copying the grants).
    pub fn grants_naming(&self, document: &DocId, platform: &PlatformId) -> usize {
        self.state.grants.read().map_or(0, |g| {
            g.get(document).map_or(0, |grants| {
                grants
                    .iter()
                    .filter(|g| g.recipients().any(|r| r == platform))
                    .count()
            })
        })
    }

    /// Records a document's controller, read from the document itself.
    pub fn set_controller(&self, document: DocId, controller: PlatformId) {
        if let Ok(mut c) = self.state.controllers.write() {
            c.insert(document, controller);
        }
    }

    /// Whether this platform holds a key of an epoch (from any grant).
    pub fn has_key(&self, document: &DocId, epoch: u32) -> bool {
        self.state
            .keys
            .read()
            .is_ok_and(|k| k.get(&(*document, epoch)).is_some_and(|v| !v.is_empty()))
    }

    /// The epoch keys of a document from trusted grants (see [`KeyState::trusted_grants`]).
    pub fn epochs(&self, document: &DocId) -> BTreeMap<u32, EpochKey> {
        let controller = self.state.controller(document);
        self.state
            .keys
            .read()
            .map(|k| {
                k.iter()
                    .filter(|((d, _), _)| d == document)
                    .filter_map(|((_, e), keys)| {
                        keys.iter()
                            .find(|(author, _)| controller.is_none_or(|c| *author == c))
                            .map(|(_, key)| (*e, key.clone()))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The newest trusted epoch of a document this platform holds the key of: the one it
    /// writes with.
    pub fn current(&self, document: &DocId) -> Option<(u32, EpochKey)> {
        self.epochs(document).into_iter().next_back()
    }

    /// The newest epoch a trusted grant of the document names (held or not).
    pub fn newest_epoch(&self, document: &DocId) -> Option<u32> {
        self.state
            .trusted_grants(document)
            .iter()
            .map(|g| g.epoch)
            .max()
    }

    /// The platforms the newest epoch's key is granted to: who may receive the document,
    /// as a relay (which reads no document) knows it.
    pub fn granted_to(&self, document: &DocId) -> Vec<PlatformId> {
        let grants = self.state.trusted_grants(document);
        let Some(newest) = grants.iter().map(|g| g.epoch).max() else {
            return Vec::new();
        };
        let mut out: Vec<PlatformId> = grants
            .iter()
            .filter(|g| g.epoch == newest)
            .flat_map(|g| g.recipients().copied())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Makes, stores and returns a grant of `key` for `epoch` (started by `started_by`)
    /// to `recipients`.
    ///
    /// # Errors
    ///
    /// [`EngineError::Invalid`] if the grant cannot be made or the chain refuses it.
    pub fn grant(
        &self,
        chain: &Chain,
        signing: &SigningKey,
        document: DocId,
        (epoch, started_by, key): (u32, Option<ChangeHash>, &EpochKey),
        recipients: &[(PlatformId, EncryptionKey)],
        rng: &mut impl rand_core::CryptoRng,
    ) -> Result<KeyGrant, EngineError> {
        let grant = KeyGrant::new(
            signing,
            chain.federation(),
            document,
            epoch,
            started_by,
            key,
            recipients,
            rng,
        )
        .map_err(|e| EngineError::Invalid(format!("cannot grant the document's key: {e}")))?;
        match self.receive(chain, grant.clone()) {
            Ok(_) => Ok(grant),
            Err(GrantError::Refused(r)) => Err(EngineError::Refused(r.reason)),
            Err(GrantError::Store(e)) => Err(EngineError::Store(e)),
        }
    }
}

/// Why a key grant was not taken.
#[derive(Debug)]
pub enum GrantError {
    /// It does not check: record the refusal.
    Refused(Box<Refusal>),
    /// It could not be stored (a full disk, say): nothing to record, it will come again.
    Store(crate::store::StoreError),
}

/// Opens payloads with the keys held, and applies the epoch rule with the grants held.
struct NodeSealing(Arc<KeyState>);

impl Sealing for NodeSealing {
    fn open(&self, env: &ChangeEnvelope) -> Result<Vec<u8>, Refusal> {
        let Some(epoch) = sealed_epoch(&env.payload) else {
            return Err(env.refusal(RefusalCheck::Decrypt, "the sealed payload is malformed"));
        };
        let keys = self
            .0
            .keys
            .read()
            .ok()
            .and_then(|k| k.get(&(env.document, epoch)).cloned())
            .unwrap_or_default();
        if keys.is_empty() {
            return Err(env.refusal(
                RefusalCheck::Epoch,
                format!("sealed under epoch {epoch}, for which this platform holds no key"),
            ));
        }
        // More than one key for an epoch only if some member granted its own: whichever
        // opens the payload, the envelope's signature and the rules decide the rest.
        keys.iter()
            .find_map(|(_, key)| open_payload(env, key).ok())
            .ok_or_else(|| {
                env.refusal(
                    RefusalCheck::Decrypt,
                    format!("the payload does not open under the key of epoch {epoch}"),
                )
            })
    }

    fn check_epoch(
        &self,
        env: &ChangeEnvelope,
        depends_on: &dyn Fn(&ChangeHash) -> bool,
        creator: Option<PlatformId>,
    ) -> Result<(), Refusal> {
        let Some(epoch) = sealed_epoch(&env.payload) else {
            return Ok(());
        };
        if let Some(creator) = creator {
            if let Ok(mut c) = self.0.controllers.write() {
                c.insert(env.document, creator);
            }
        }
        let grants = self.0.trusted_grants(&env.document);
        match superseded_epoch(epoch, &grants, depends_on) {
            Some(reason) => Err(env.refusal(RefusalCheck::Epoch, reason)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
