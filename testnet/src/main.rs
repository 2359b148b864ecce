//! `testnet`: a local federation of N nodes on loopback, from nothing to converged.
//!
//! It creates an administrator key and a federation, initialises N platforms in one
//! temporary directory, admits them all, starts them with OS-chosen ports, has every
//! platform write, waits until every node holds the same state, then has the first
//! platform share a project with the second and take an export request from it through
//! to delivery (see `scenario`), prints what each node sees and ends with one JSON line. It stops exactly the processes it started, also
//! when interrupted. `testnet/run` builds the binaries and calls it.

mod cluster;
mod scenario;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;

use cluster::Cluster;

/// How long to wait for convergence before reporting failure.
const CONVERGENCE_TIMEOUT: Duration = Duration::from_secs(60);
/// Most nodes a testnet may run (each is a process with its own store).
const MAX_NODES: usize = 32;

/// Runs a local multi-node federation on loopback.
#[derive(Debug, Parser)]
#[command(name = "testnet", about)]
struct Args {
    /// How many platforms (nodes) to run.
    #[arg(long, default_value_t = 4)]
    nodes: usize,
    /// Add a relay: it stores and forwards the sealed project and export request, and the
    /// final line counts the sensitive markers found in its files (`relay_plaintext_hits`).
    #[arg(long)]
    relay: bool,
    /// Leave the nodes running and their directory in place at the end.
    #[arg(long)]
    keep: bool,
    /// Where the fednode and fedctl binaries are.
    #[arg(long, default_value = "target/debug")]
    bin_dir: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("testnet: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> anyhow::Result<bool> {
    anyhow::ensure!(
        (1..=MAX_NODES).contains(&args.nodes),
        "--nodes must be between 1 and {MAX_NODES}"
    );
    let root = std::env::temp_dir().join(format!(
        "fednet-testnet-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    ));
    std::fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
    eprintln!("testnet: working in {}", root.display());
    let mut cluster = Cluster::new(root.clone(), args.bin_dir.clone())?;
    cluster.install_interrupt_handler()?;

    cluster.create_federation(args.nodes, args.relay)?;
    cluster.start_nodes()?;
    cluster.join_all()?;

    // Every platform writes its own registry entry; the clock starts at the last write.
    cluster.write_profiles()?;
    let last_write = Instant::now();
    let converged = cluster.wait_converged(CONVERGENCE_TIMEOUT)?;
    let convergence_ms = last_write.elapsed().as_millis();

    let outcome = scenario::run(&cluster, CONVERGENCE_TIMEOUT)?;
    let relayed = cluster.relayed_documents();
    cluster.print_table()?;
    if args.keep {
        eprintln!(
            "testnet: nodes left running (pids {}); files in {}",
            cluster.pids().join(" "),
            root.display()
        );
        cluster.forget_processes();
    }
    let mut summary = serde_json::json!({
        "nodes": args.nodes,
        "converged": converged,
        "convergence_ms": convergence_ms,
        "projects_visible": outcome.projects_visible,
        "exports_delivered": outcome.exports_delivered,
        "markers_read_back": outcome.markers_read_back,
    });
    if args.relay {
        summary["relayed_documents"] = serde_json::json!(relayed);
    }
    if !args.keep {
        cluster.stop_all();
        if args.relay {
            summary["relay_plaintext_hits"] =
                serde_json::json!(cluster.relay_hits(&scenario::MARKERS));
        }
        let _ = std::fs::remove_dir_all(&root);
    } else if args.relay {
        summary["relay_plaintext_hits"] = serde_json::json!(cluster.relay_hits(&scenario::MARKERS));
    }
    println!("{summary}");
    let relay_clean = summary["relay_plaintext_hits"]
        .as_u64()
        .is_none_or(|h| h == 0);
    Ok(converged
        && relay_clean
        && (args.nodes < 2 || (outcome.exports_delivered == 1 && outcome.markers_read_back)))
}
