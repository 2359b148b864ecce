//! Command-line arguments of `fednode`, defined in one place.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// A federation node for health data platforms.
#[derive(Debug, Parser)]
#[command(name = "fednode", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The node's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create this platform's keys and identity card in a new data directory.
    ///
    /// Prints the identity card (JSON), which the operator hands to the federation
    /// administrator to be admitted.
    Init(InitArgs),
    /// Print this platform's identity card again.
    Id(DataDirArgs),
    /// Replace this platform's encryption key, with the node stopped.
    ///
    /// Writes a new key and a new identity card (printed), and keeps the old key in
    /// `DIR/retired-keys/` while document keys wrapped for it are still needed. Hand the
    /// new card to the administrator: `fedctl membership update --platform ID --card
    /// CARD.json`; once the chain holds it, the owners of shared documents grant their
    /// keys again for the new key, and the node deletes the retired key.
    RotateEncryptionKey(DataDirArgs),
    /// Run the node: replicate the federations it has joined and serve the local API.
    ///
    /// Logs go to stderr (filter with RUST_LOG, default `info`). The API URL is written to
    /// `DIR/api.addr` and its bearer token is in `DIR/api.token`. Stops cleanly on SIGINT
    /// and SIGTERM.
    Run(RunArgs),
}

/// Arguments of `fednode run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    /// The data directory (made by `fednode init`).
    pub dir: DataDirArgs,
    /// Where to listen for peers; repeat for several. Port 0 lets the OS choose.
    #[arg(long, value_name = "MULTIADDR", default_values_t = [
        "/ip4/0.0.0.0/tcp/4001".to_string(),
        "/ip4/0.0.0.0/udp/4001/quic-v1".to_string(),
    ])]
    pub listen: Vec<String>,
    /// The local API's address; loopback only. Port 0 lets the OS choose.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7700")]
    pub api: String,
    /// A peer to dial at start, as a multiaddr ending in /p2p/<platform id>; repeat for several.
    #[arg(long, value_name = "MULTIADDR")]
    pub bootstrap: Vec<String>,
    /// Seconds between two anti-entropy rounds with every connected member.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub sync_interval: u64,
    /// Most API connections served at once; one more is closed at once and logged.
    /// Default: a quarter of the open-file limit (raised to its hard limit at start), at
    /// most 512.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub max_api_connections: Option<u64>,
}

/// Where the node keeps its state.
#[derive(Debug, Args)]
pub struct DataDirArgs {
    /// The node's data directory (keys, identity card, store).
    #[arg(long, value_name = "DIR", env = "FEDNODE_DATA_DIR")]
    pub data_dir: PathBuf,
}

/// Arguments of `fednode init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    /// The data directory to create.
    pub dir: DataDirArgs,
    /// Display name of the platform (e.g. "AP-HP EDS").
    #[arg(long)]
    pub name: String,
    /// Who runs the platform (organisation, contact).
    #[arg(long, default_value = "")]
    pub operator: String,
    /// A multiaddr where other nodes can reach this one; repeat for several.
    #[arg(long = "address", value_name = "MULTIADDR")]
    pub addresses: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn init_takes_repeated_addresses() {
        let cli = Cli::try_parse_from([
            "fednode",
            "init",
            "--data-dir",
            "d",
            "--name",
            "n",
            "--address",
            "/ip4/1.2.3.4/tcp/1",
            "--address",
            "/ip4/1.2.3.4/udp/1/quic-v1",
        ])
        .unwrap();
        let Command::Init(args) = cli.command else {
            panic!("expected init");
        };
        assert_eq!(args.addresses.len(), 2);
    }

    #[test]
    fn run_has_defaults_for_everything_but_the_data_dir() {
        let cli = Cli::try_parse_from(["fednode", "run", "--data-dir", "d"]).unwrap();
        let Command::Run(args) = cli.command else {
            panic!("expected run");
        };
        assert_eq!(args.api, "127.0.0.1:7700");
        assert_eq!(args.listen.len(), 2);
        assert!(args.bootstrap.is_empty());
    }

    #[test]
    fn init_requires_a_name() {
        assert!(Cli::try_parse_from(["fednode", "init", "--data-dir", "d"]).is_err());
    }
}
