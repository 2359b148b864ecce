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
    fn init_requires_a_name() {
        assert!(Cli::try_parse_from(["fednode", "init", "--data-dir", "d"]).is_err());
    }
}
