//! The federation a test or a simulated run starts from: an administrator, the platforms' keys and cards,
//! and the signed chain that admits them all.

use ed25519_dalek::SigningKey;
use fed_crdt::card::{CardFields, IdentityCard};
use fed_crdt::chain::body::{CatalogEntries, RecordBody, Rights, Role};
use fed_crdt::chain::{genesis_record, Chain};
use fed_crdt::ids::{AdminKey, EncryptionKey, PlatformId};
use fed_crdt::Timestamp;

/// When the chain is issued; virtual time starts a second later.
pub const ISSUED_AT: Timestamp = Timestamp(1_800_000_000);

/// One platform's secrets.
pub struct Platform {
    /// Signs its changes.
    pub signing: SigningKey,
    /// Opens the keys granted to it.
    pub encryption_secret: [u8; 32],
    /// Its id.
    pub id: PlatformId,
}

/// The administrator and the platforms of one federation.
pub struct World {
    /// Signs membership records.
    pub admin: SigningKey,
    /// Every platform, by index.
    pub platforms: Vec<Platform>,
    /// A platform with keys and a card but admitted to no federation.
    pub outsider: Platform,
    /// The chain admitting them all.
    pub chain: Chain,
}

/// 32 bytes that name a platform's key of one kind; keys are fixed by index, the run's
/// seed varies everything else.
fn key_bytes(kind: u8, index: usize) -> [u8; 32] {
    let mut bytes = [kind; 32];
    bytes[..8].copy_from_slice(&(index as u64).to_be_bytes());
    bytes
}

impl Platform {
    /// The keys of the platform of this index.
    fn new(index: usize) -> Platform {
        let signing = SigningKey::from_bytes(&key_bytes(1, index));
        Platform {
            id: PlatformId::from(&signing),
            signing,
            encryption_secret: key_bytes(2, index),
        }
    }
}

impl World {
    /// A federation of `nodes` platforms, all active, with every right.
    ///
    /// # Panics
    ///
    /// Never for keys made here: signing and appending records the code itself built.
    pub fn new(nodes: usize) -> World {
        let admin = SigningKey::from_bytes(&[200; 32]);
        let mut genesis = genesis_record(
            ISSUED_AT,
            AdminKey::from(&admin),
            RecordBody::Genesis {
                name: "simulated".into(),
                admins: vec![AdminKey::from(&admin)],
                threshold: 1,
                catalog: CatalogEntries::default(),
            },
        );
        genesis.sign(&admin).expect("the genesis record signs");
        let mut chain = Chain::from_genesis(genesis).expect("a fresh genesis is valid");
        let mut platforms = Vec::new();
        for index in 0..nodes {
            let platform = Platform::new(index);
            let public = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(
                platform.encryption_secret,
            ));
            let card = IdentityCard::sign(
                &platform.signing,
                CardFields {
                    encryption_key: EncryptionKey(public.to_bytes()),
                    name: format!("platform-{index}"),
                    operator: String::new(),
                    addresses: Vec::new(),
                },
            )
            .expect("a card within its limits signs");
            let body = RecordBody::AddPlatform {
                card,
                role: Role::Platform,
                rights: Rights::all(),
                expires_at: None,
            };
            let mut record = chain.next_record(ISSUED_AT, AdminKey::from(&admin), body);
            record.sign(&admin).expect("the record signs");
            chain
                .append(record)
                .expect("each admission follows the last");
            platforms.push(platform);
        }
        World {
            admin,
            platforms,
            outsider: Platform::new(nodes),
            chain,
        }
    }

    /// The chain with one more record revoking `platform`, as the administrator signs it.
    ///
    /// # Panics
    ///
    /// Never for a platform of this world.
    pub fn revoke(&mut self, platform: PlatformId) -> Chain {
        let body = RecordBody::RevokePlatform {
            platform,
            frontier: Vec::new(),
            reason: Some("simulated revocation".into()),
        };
        let issued = Timestamp(ISSUED_AT.as_secs() + 1);
        let mut record = self
            .chain
            .next_record(issued, AdminKey::from(&self.admin), body);
        record.sign(&self.admin).expect("the record signs");
        self.chain
            .append(record)
            .expect("a revocation of a member follows the last record");
        self.chain.clone()
    }
}
