//! `fednode`: the federation node daemon. Wiring only; the work is in the library.

mod args;

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use fednode::engine::EngineConfig;
use fednode::identity::{card_json, InitOptions, PlatformIdentity, CARD_FILE};
use fednode::run::RunOptions;
use fednode::store::StoreConfig;
use tokio_util::sync::CancellationToken;

use args::{Cli, Command, RunArgs};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("fednode: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Init(args) => {
            let dir = args.dir.data_dir;
            let identity = PlatformIdentity::init(
                &dir,
                InitOptions {
                    name: args.name,
                    operator: args.operator,
                    addresses: args.addresses,
                },
            )?;
            print_stdout(&card_json(&identity.card))?;
            eprintln!(
                "fednode: platform {} created in {}; hand {} to the federation administrator",
                identity.platform_id(),
                dir.display(),
                dir.join(CARD_FILE).display()
            );
        }
        Command::Id(args) => {
            let identity = PlatformIdentity::load(&args.data_dir)?;
            print_stdout(&card_json(&identity.card))?;
        }
        Command::RotateEncryptionKey(args) => {
            let identity = PlatformIdentity::rotate_encryption(&args.data_dir)?;
            print_stdout(&card_json(&identity.card))?;
            eprintln!(
                "fednode: new encryption key for {}; have the administrator sign {} into the chain (fedctl membership update --platform {} --card ...)",
                identity.platform_id(),
                args.data_dir.join(CARD_FILE).display(),
                identity.platform_id()
            );
        }
        Command::Run(args) => run_node(args)?,
    }
    Ok(())
}

fn run_node(args: RunArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let parse_addrs = |flag: &str, list: &[String]| -> anyhow::Result<Vec<libp2p::Multiaddr>> {
        list.iter()
            .map(|a| {
                a.parse()
                    .with_context(|| format!("{flag} `{a}` is not a multiaddr"))
            })
            .collect()
    };
    let options = RunOptions {
        data_dir: args.dir.data_dir,
        listen: parse_addrs("--listen", &args.listen)?,
        api: args.api.parse().with_context(|| {
            format!("--api `{}` is not an address like 127.0.0.1:7700", args.api)
        })?,
        bootstrap: parse_addrs("--bootstrap", &args.bootstrap)?,
        store: StoreConfig::default(),
        max_api_connections: args
            .max_api_connections
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        engine: EngineConfig {
            anti_entropy_interval: std::time::Duration::from_secs(args.sync_interval.max(1)),
            ..EngineConfig::default()
        },
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let result = runtime.block_on(fednode::run::run(options, CancellationToken::new()));
    // A task stuck in a blocking call (a store write on a failing disk) must not keep
    // the process alive once the node has stopped.
    runtime.shutdown_timeout(fednode::run::STOP_TIMEOUT);
    result
}

/// Prints to stdout; a closed pipe (`fednode id | head`) is not an error.
fn print_stdout(text: &str) -> anyhow::Result<()> {
    match std::io::stdout().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
