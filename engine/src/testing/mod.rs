//! Sample data and a lossless cluster of engines, for tests of the engine and of the
//! crates built on it (feature `testing`).

pub mod cluster;
pub mod world;

pub use cluster::Cluster;
pub use world::World;

use ed25519_dalek::SigningKey;
use fed_crdt::card::{CardFields, IdentityCard};
use fed_crdt::chain::body::{CatalogEntries, RecordBody, Rights, Role};
use fed_crdt::chain::record::Record;
use fed_crdt::chain::{genesis_record, Chain};
use fed_crdt::ids::{AdminKey, EncryptionKey};
use fed_crdt::Timestamp;

/// The time the sample chains are issued at.
pub const NOW: Timestamp = Timestamp(1_800_000_000);

/// A signed genesis and two signed AddPlatform records, as the node will store them.
pub fn sample_chain(admin_seed: u8) -> Vec<Record> {
    let admin = SigningKey::from_bytes(&[admin_seed; 32]);
    let mut genesis = genesis_record(
        NOW,
        AdminKey::from(&admin),
        RecordBody::Genesis {
            name: format!("registry-{admin_seed}"),
            admins: vec![AdminKey::from(&admin)],
            threshold: 1,
            catalog: CatalogEntries::default(),
        },
    );
    genesis.sign(&admin).expect("sign genesis");
    let mut chain = Chain::from_genesis(genesis).expect("genesis");
    for seed in [admin_seed.wrapping_add(100), admin_seed.wrapping_add(101)] {
        let platform = SigningKey::from_bytes(&[seed; 32]);
        let card = IdentityCard::sign(
            &platform,
            CardFields {
                encryption_key: EncryptionKey([seed; 32]),
                name: format!("platform-{seed}"),
                operator: String::new(),
                addresses: vec![],
            },
        )
        .expect("card");
        let body = RecordBody::AddPlatform {
            card,
            role: Role::Platform,
            rights: Rights::all(),
            expires_at: None,
        };
        let mut record = chain.next_record(NOW, AdminKey::from(&admin), body);
        record.sign(&admin).expect("sign");
        chain.append(record).expect("append");
    }
    chain.records().to_vec()
}
