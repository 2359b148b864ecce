//! `fednode`: the federation node daemon. Wiring only; the work is in the library.

mod args;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use fednode::identity::{card_json, InitOptions, PlatformIdentity, CARD_FILE};

use args::{Cli, Command};

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
    }
    Ok(())
}

/// Prints to stdout; a closed pipe (`fednode id | head`) is not an error.
fn print_stdout(text: &str) -> anyhow::Result<()> {
    match std::io::stdout().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
