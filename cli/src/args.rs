//! Every flag of `fedctl`, defined in one place. Values arrive as typed as clap can make
//! them; checks that need files or the chain happen in `cmd/`.

mod exports;
mod projects;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use exports::*;
pub use projects::*;

const EXIT_CODES: &str = "Operator commands (status, peers, federation join|list, membership publish, platforms, projects, exports, events, refusals) talk to a running fednode: give --data-dir DIR (its API address and token are read from there) or --api URL --token-file FILE.\n\nExit codes: 0 success; 1 refused (an invalid chain, a record the chain rules refuse, a request the node refuses); 2 usage, file, key or connection error.";

/// Administrator and operator commands for federation nodes.
///
/// Administrator commands work offline on files: keys, the membership chain (a
/// human-readable JSON file of signed records) and identity cards.
#[derive(Debug, Parser)]
#[command(name = "fedctl", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// Print one JSON object on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Operator commands: the node's data directory, where its API address and token are.
    #[arg(long, global = true, value_name = "DIR", env = "FEDNODE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Operator commands: the node's API URL, for a node whose data directory is elsewhere.
    #[arg(long, global = true, value_name = "URL", env = "FEDCTL_API")]
    pub api: Option<String>,
    /// Operator commands: a file holding the API's bearer token (with --api).
    #[arg(long, global = true, value_name = "FILE", env = "FEDCTL_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Administrator keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Create a federation (its genesis record).
    #[command(subcommand)]
    Federation(FederationCommand),
    /// Admit, update, revoke platforms; rotate administrators; co-sign; show; verify.
    #[command(subcommand)]
    Membership(MembershipCommand),
    /// Reference data in a chain file: regulatory frameworks, entity types, entities (the
    /// node's copy: `fedctl projects frameworks|entity-types|entities`).
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// The platforms registry of a federation (node API).
    #[command(subcommand)]
    Platforms(PlatformsCommand),
    /// Changes refused by the node, with their reasons (node API).
    Refusals(RefusalsArgs),
    /// The node's status: platform id, federations and chain heads, peers (node API).
    Status,
    /// Peers connected to the node (node API).
    Peers,
    /// Projects shared between platforms, and the catalog entries they name (node API).
    #[command(subcommand)]
    Projects(ProjectsCommand),
    /// Export requests: ask a platform for a dataset, answer such requests (node API).
    #[command(subcommand)]
    Exports(ExportsCommand),
    /// Print each change the node accepts, one line each, as it happens (node API).
    Events(EventsArgs),
}

/// `fedctl key ...`
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create an administrator's ed25519 secret key (mode 0600) and print its public key.
    New(KeyNewArgs),
    /// Print the public key of an existing administrator key file.
    Public(KeyPublicArgs),
}

/// Arguments of `fedctl key new`.
#[derive(Debug, Args)]
pub struct KeyNewArgs {
    /// Where to write the secret key; an existing file is never overwritten.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// Arguments of `fedctl key public`.
#[derive(Debug, Args)]
pub struct KeyPublicArgs {
    /// The secret key file.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
}

/// `fedctl federation ...`
#[derive(Debug, Subcommand)]
pub enum FederationCommand {
    /// Create a new federation: write its chain file with a signed genesis record.
    New(FederationNewArgs),
    /// Make the node join a federation, from the chain file the administrator sent (node API).
    Join(ChainArgs),
    /// The federations the node belongs to (node API).
    List,
}

/// Arguments of `fedctl federation new`.
#[derive(Debug, Args)]
pub struct FederationNewArgs {
    /// The federation's display name.
    #[arg(long)]
    pub name: String,
    /// Your administrator key (it signs the genesis record and is always an admin).
    #[arg(long, value_name = "FILE")]
    pub admin_key: PathBuf,
    /// Where to write the chain file; an existing file is never overwritten.
    #[arg(long, value_name = "CHAIN.json")]
    pub out: PathBuf,
    /// Other administrators' public keys (64 hex), comma-separated, for k-of-n administration.
    #[arg(long, value_name = "PUBKEY,...", value_delimiter = ',')]
    pub admins: Vec<String>,
    /// How many admin signatures each later record needs.
    #[arg(long, default_value_t = 1)]
    pub threshold: u32,
}

/// The chain file and the administrator key that signs a new record.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The chain file; it is rewritten only if the new record is valid.
    #[arg(long, value_name = "CHAIN.json")]
    pub chain: PathBuf,
    /// Your administrator key.
    #[arg(long, value_name = "FILE")]
    pub admin_key: PathBuf,
}

/// A chain file to read.
#[derive(Debug, Args)]
pub struct ChainArgs {
    /// The chain file.
    #[arg(long, value_name = "CHAIN.json")]
    pub chain: PathBuf,
}

/// `fedctl membership ...`
#[derive(Debug, Subcommand)]
pub enum MembershipCommand {
    /// Admit a platform (or a relay) from its identity card.
    Add(AddArgs),
    /// Change a member's rights, expiry or identity card.
    Update(UpdateArgs),
    /// Revoke a member for good.
    Revoke(RevokeArgs),
    /// Add or remove administrators, or change the threshold.
    RotateAdmin(RotateAdminArgs),
    /// Add your signature to the last record, which waits for k of n admins.
    Cosign(SignArgs),
    /// Who is in, with which rights, until when.
    Show(ShowArgs),
    /// Check every record; exit 0 when the whole chain is valid.
    Verify(ChainArgs),
    /// Hand newer records to the node, which verifies them and spreads them to every
    /// member (node API).
    Publish(ChainArgs),
}

/// Arguments of `fedctl membership add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub sign: SignArgs,
    /// The platform's identity card (from `fednode init`).
    #[arg(long, value_name = "CARD.json")]
    pub card: PathBuf,
    /// `platform` or `relay` (a relay stores and forwards ciphertext and has no rights).
    #[arg(long, default_value = "platform")]
    pub role: String,
    /// Comma-separated rights: read, write_projects, request_exports, answer_exports; or
    /// `all` / `none`. Default: all for a platform, none for a relay.
    #[arg(long, value_name = "LIST")]
    pub rights: Option<String>,
    /// When the membership ends (RFC 3339 UTC, e.g. 2027-12-31T00:00:00Z).
    #[arg(long, value_name = "TIME")]
    pub expires: Option<String>,
}

/// Arguments of `fedctl membership update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub sign: SignArgs,
    /// The member's platform id (12D3KooW...).
    #[arg(long, value_name = "ID")]
    pub platform: String,
    /// New rights (as for `add`).
    #[arg(long, value_name = "LIST")]
    pub rights: Option<String>,
    /// New expiry (RFC 3339 UTC), or `never`.
    #[arg(long, value_name = "TIME|never")]
    pub expires: Option<String>,
    /// A new identity card of the same platform (new addresses or encryption key).
    #[arg(long, value_name = "CARD.json")]
    pub card: Option<PathBuf>,
}

/// Arguments of `fedctl membership revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub sign: SignArgs,
    /// The member's platform id (12D3KooW...).
    #[arg(long, value_name = "ID")]
    pub platform: String,
    /// A JSON file listing the platform's last accepted changes per document:
    /// `[{"document": "...", "heads": ["<64 hex>", ...]}, ...]`.
    #[arg(long, value_name = "FILE")]
    pub frontier: Option<PathBuf>,
    /// Why, for the record.
    #[arg(long)]
    pub reason: Option<String>,
}

/// Arguments of `fedctl membership rotate-admin`.
#[derive(Debug, Args)]
pub struct RotateAdminArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub sign: SignArgs,
    /// Public key (64 hex) of an administrator to add; repeat for several.
    #[arg(long = "add", value_name = "PUBKEY")]
    pub add: Vec<String>,
    /// Public key (64 hex) of an administrator to remove; repeat for several.
    #[arg(long = "remove", value_name = "PUBKEY")]
    pub remove: Vec<String>,
    /// The new threshold (default: unchanged).
    #[arg(long)]
    pub threshold: Option<u32>,
}

/// Arguments of `fedctl membership show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub chain: ChainArgs,
    /// Evaluate membership at this time (RFC 3339 UTC) instead of now.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
}

/// `fedctl platforms ...`
#[derive(Debug, Subcommand)]
pub enum PlatformsCommand {
    /// Every member with its role, rights, status and self-written profile.
    List(FederationArg),
    /// Set this platform's own profile; fields not given keep their current value.
    SetProfile(SetProfileArgs),
}

/// A federation id.
#[derive(Debug, Args)]
pub struct FederationArg {
    /// The federation id (64 hex; see `fedctl federation list`).
    #[arg(long, value_name = "ID")]
    pub federation: String,
}

/// Arguments of `fedctl platforms set-profile`.
#[derive(Debug, Args)]
pub struct SetProfileArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub federation: FederationArg,
    /// The name shown to other platforms.
    #[arg(long)]
    pub display_name: Option<String>,
    /// Free text about the platform.
    #[arg(long)]
    pub description: Option<String>,
    /// How to reach the platform's team.
    #[arg(long)]
    pub contact: Option<String>,
    /// A multiaddr where the node can be reached; repeat for several (replaces the list).
    #[arg(long = "address", value_name = "MULTIADDR")]
    pub addresses: Vec<String>,
}

/// Arguments of `fedctl refusals`.
#[derive(Debug, Args)]
pub struct RefusalsArgs {
    /// Only this federation's refusals.
    #[arg(long, value_name = "ID")]
    pub federation: Option<String>,
}

/// `fedctl catalog ...`
#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Add a regulatory framework.
    AddFramework(AddFrameworkArgs),
    /// Add an entity type.
    AddEntityType(AddEntityTypeArgs),
    /// Add an entity (an organisation involved in projects).
    AddEntity(AddEntityArgs),
    /// List the catalog.
    Show(ChainArgs),
}

/// Options shared by the catalog additions.
#[derive(Debug, Args)]
pub struct CatalogEntryArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub sign: SignArgs,
    /// Display name.
    #[arg(long)]
    pub name: String,
    /// Stable id (a-z, 0-9, '.', '_', '-'); default: derived from the name.
    #[arg(long)]
    pub id: Option<String>,
    /// Replace the entry if the id exists (otherwise an existing id is refused).
    #[arg(long)]
    pub replace: bool,
}

/// Arguments of `fedctl catalog add-framework`.
#[derive(Debug, Args)]
pub struct AddFrameworkArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub entry: CatalogEntryArgs,
    /// Where the framework is described.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
}

/// Arguments of `fedctl catalog add-entity-type`.
#[derive(Debug, Args)]
pub struct AddEntityTypeArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub entry: CatalogEntryArgs,
}

/// Arguments of `fedctl catalog add-entity`.
#[derive(Debug, Args)]
pub struct AddEntityArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub entry: CatalogEntryArgs,
    /// The id of the entity's type (see `fedctl catalog show`).
    #[arg(long = "type", value_name = "TYPE_ID")]
    pub entity_type: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("fedctl").chain(args.iter().copied()))
    }

    #[test]
    fn json_is_accepted_anywhere() {
        let cli = parse(&["membership", "verify", "--chain", "c.json", "--json"]).unwrap();
        assert!(cli.json);
        let cli = parse(&["--json", "key", "new", "--out", "k"]).unwrap();
        assert!(cli.json);
    }

    #[test]
    fn admins_split_on_commas() {
        let cli = parse(&[
            "federation",
            "new",
            "--name",
            "n",
            "--admin-key",
            "k",
            "--out",
            "c",
            "--admins",
            "aa,bb",
            "--threshold",
            "2",
        ])
        .unwrap();
        let Command::Federation(FederationCommand::New(a)) = cli.command else {
            panic!("expected federation new");
        };
        assert_eq!(a.admins, ["aa", "bb"]);
        assert_eq!(a.threshold, 2);
    }

    #[test]
    fn add_needs_chain_key_and_card() {
        assert!(parse(&["membership", "add", "--chain", "c", "--admin-key", "k"]).is_err());
        assert!(parse(&[
            "membership",
            "add",
            "--chain",
            "c",
            "--admin-key",
            "k",
            "--card",
            "x"
        ])
        .is_ok());
    }

    #[test]
    fn rotate_admin_takes_repeated_keys() {
        let cli = parse(&[
            "membership",
            "rotate-admin",
            "--chain",
            "c",
            "--admin-key",
            "k",
            "--add",
            "a",
            "--add",
            "b",
            "--remove",
            "c",
        ])
        .unwrap();
        let Command::Membership(MembershipCommand::RotateAdmin(a)) = cli.command else {
            panic!("expected rotate-admin");
        };
        assert_eq!((a.add.len(), a.remove.len()), (2, 1));
    }

    #[test]
    fn catalog_entity_needs_a_type() {
        assert!(parse(&[
            "catalog",
            "add-entity",
            "--chain",
            "c",
            "--admin-key",
            "k",
            "--name",
            "n"
        ])
        .is_err());
    }
}
