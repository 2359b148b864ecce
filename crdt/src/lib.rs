//! The federation's data model, as pure logic: no network, no storage, no clock.
//!
//! Health data platforms share registries inside *federations*. This crate holds what
//! every node must agree on, so it can be read first and tested without a network:
//!
//! - [`ids`]: platform ids (libp2p PeerIds of ed25519 keys), admin keys, federation ids,
//!   record hashes, with one strict text form each.
//! - [`card`]: the self-signed *identity card* a platform hands to the administrator.
//! - [`chain`]: the *membership chain*: records signed by administrators, linked by
//!   hash, folded into a [`chain::state::MembershipState`] (members, roles, rights,
//!   expiry, revocations, administrators, catalog). Forks are refused, never resolved.
//! - [`chain::file`]: the human-readable JSON chain file that `fedctl` edits.
//! - [`keys`]: the text form of secret key files.
//! - [`canon`]: the canonical bytes that signatures and hashes cover.
//!
//! Times come in as arguments ([`Timestamp`]); so do keys. Nothing here reads a clock or
//! draws a random number.
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
//! ```

#![deny(missing_docs)]

pub mod canon;
pub mod card;
pub mod chain;
pub mod error;
pub mod ids;
pub mod keys;
pub mod limits;
mod timestamp;

pub use timestamp::Timestamp;
