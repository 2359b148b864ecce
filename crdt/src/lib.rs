//! The federation's data model, as pure logic: no network, no storage, no clock.
//!
//! Health data platforms share registries inside *federations*. This crate holds what
//! every node must agree on, so it can be read first and tested without a network:
//!
//! - [`ids`]: platform ids (libp2p PeerIds of ed25519 keys), admin keys, federation ids,
//!   record hashes, document ids (`platforms:…`, `project:…`, `export:…`) and change
//!   hashes, with one strict text form each.
//! - [`card`]: the self-signed *identity card* a platform hands to the administrator.
//! - [`chain`]: the *membership chain*: records signed by administrators, linked by
//!   hash, folded into a [`chain::state::MembershipState`] (members, roles, rights,
//!   expiry, revocations, administrators, catalog). Forks are refused, never resolved.
//! - [`chain::file`]: the human-readable JSON chain file that `fedctl` edits.
//! - [`envelope`]: the signed [`envelope::ChangeEnvelope`] in which every Automerge change
//!   travels, and the ordered checks every node runs on it (sizes, signature, citation
//!   of a chain record, membership and rights, revocation frontier, decoding and actor
//!   binding), ending in a [`envelope::Refusal`] that names the check that failed.
//! - [`registry`]: registry documents as state machines
//!   ([`registry::Document::receive`]): dependency buffering, field-level rules on a fork,
//!   rebuilds when the chain changes; the platforms registry ([`registry::platforms`]),
//!   project documents ([`registry::projects`]) and export requests
//!   ([`registry::exports`]).
//! - [`seal`]: private documents' payloads sealed under epoch keys, and the signed key
//!   grants that wrap those keys for each recipient platform's encryption key.
//! - [`keys`]: the text form of secret key files.
//! - [`canon`]: the canonical bytes that signatures and hashes cover.
//!
//! Times come in as arguments ([`Timestamp`] for the chain, milliseconds for changes); so
//! do keys and the random nonces from which document ids derive. Nothing here reads a
//! clock or draws a random number of its own.
//!
//! # A two-member federation
//!
//! ```
//! use ed25519_dalek::SigningKey;
//! use fed_crdt::card::{CardFields, IdentityCard};
//! use fed_crdt::chain::body::{CatalogEntries, RecordBody, Rights, Role};
//! use fed_crdt::chain::{genesis_record, Chain};
//! use fed_crdt::ids::{AdminKey, EncryptionKey};
//! use fed_crdt::Timestamp;
//!
//! let admin = SigningKey::from_bytes(&[1; 32]);
//! let now = Timestamp(1_800_000_000);
//! let mut genesis = genesis_record(now, AdminKey::from(&admin), RecordBody::Genesis {
//!     name: "cancer-registry".into(),
//!     admins: vec![AdminKey::from(&admin)],
//!     threshold: 1,
//!     catalog: CatalogEntries::default(),
//! });
//! genesis.sign(&admin).unwrap();
//! let mut chain = Chain::from_genesis(genesis).unwrap();
//!
//! for (seed, name) in [(2u8, "AP-HP"), (3, "HCL")] {
//!     let platform = SigningKey::from_bytes(&[seed; 32]);
//!     let card = IdentityCard::sign(&platform, CardFields {
//!         encryption_key: EncryptionKey([seed; 32]),
//!         name: name.into(),
//!         operator: String::new(),
//!         addresses: vec![],
//!     }).unwrap();
//!     let body = RecordBody::AddPlatform {
//!         card, role: Role::Platform, rights: Rights::all(), expires_at: None,
//!     };
//!     let mut record = chain.next_record(now, AdminKey::from(&admin), body);
//!     record.sign(&admin).unwrap();
//!     chain.append(record).unwrap();
//! }
//! assert_eq!(chain.state().active_members(now).count(), 2);
//!
//! // AP-HP writes its profile in the platforms registry; every node checks the signed
//! // envelope before the change touches its copy of the document.
//! use fed_crdt::ids::{DocId, PlatformId};
//! use fed_crdt::registry::platforms::{profile_change, read_profiles, PlatformProfile};
//! use fed_crdt::registry::{Document, Outcome};
//!
//! let aphp = SigningKey::from_bytes(&[2; 32]);
//! let mut registry = Document::new(DocId::platforms_registry(&chain.federation()), &chain);
//! let profile = PlatformProfile {
//!     display_name: "AP-HP".into(),
//!     description: "Entrepôt de données de santé".into(),
//!     contact: "edsaphp@example.org".into(),
//!     addresses: vec!["/ip4/10.0.0.2/tcp/4001".into()],
//! };
//! let now_ms = 1_800_000_060_000;
//! let own = profile_change(&registry, &chain, &aphp, &profile, now_ms)
//!     .unwrap()
//!     .expect("the profile changes");
//! // The writer runs every node's checks on its own change first, then receives it.
//! let envelope = registry.check_own(&chain, own).expect("AP-HP may write its profile");
//! let outcomes = registry.receive(&chain, envelope.clone());
//! assert_eq!(outcomes, vec![Outcome::Accepted(envelope)]);
//! assert_eq!(read_profiles(registry.automerge())[&PlatformId::from(&aphp)], profile);
//! ```

#![deny(missing_docs)]
// A refusal carries an envelope's ids by value (144 bytes). Refusing is the expected
// answer to hostile input, not a rare error path, so it is returned as is, unboxed.
#![allow(clippy::result_large_err)]

pub mod canon;
pub mod card;
pub mod chain;
pub mod envelope;
pub mod error;
pub mod ids;
pub mod keys;
pub mod limits;
pub mod registry;
pub mod seal;
mod timestamp;

pub use timestamp::Timestamp;
