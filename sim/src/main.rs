//! `simulate`: runs the deterministic simulator and prints one JSON line per run.
//!
//! ```text
//! simulate --nodes 20 --seed 7 --steps 500
//! simulate --nodes 100 --seeds 0..1000 --steps 200
//! ```
//!
//! Exits 1 if any run breaks an invariant, naming its seed: `--seed S` replays it.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Parser;
use fed_sim::{Options, Sim};

/// Runs N in-process federation nodes over a seeded, faulty network and checks the
/// invariants after each run.
#[derive(Parser, Debug)]
#[command(name = "simulate", version)]
struct Args {
    /// Platforms in the federation (each runs a node).
    #[arg(long, default_value_t = 10)]
    nodes: usize,
    /// The seed of one run.
    #[arg(long, conflicts_with = "seeds")]
    seed: Option<u64>,
    /// A range of seeds, `FIRST..END` (END excluded): one run each.
    #[arg(long)]
    seeds: Option<String>,
    /// Workload steps per run.
    #[arg(long, default_value_t = 1000)]
    steps: usize,
}

/// `FIRST..END` as a range.
fn parse_range(text: &str) -> anyhow::Result<std::ops::Range<u64>> {
    let (first, end) = text
        .split_once("..")
        .with_context(|| format!("--seeds {text}: expected FIRST..END, like 0..1000"))?;
    let first: u64 = first
        .parse()
        .with_context(|| format!("--seeds {text}: FIRST is not a number"))?;
    let end: u64 = end
        .parse()
        .with_context(|| format!("--seeds {text}: END is not a number"))?;
    if end <= first {
        bail!("--seeds {text}: END must be above FIRST");
    }
    Ok(first..end)
}

fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    if args.nodes < 2 {
        bail!("--nodes {}: at least 2 platforms are needed", args.nodes);
    }
    let seeds = match (&args.seeds, args.seed) {
        (Some(range), _) => parse_range(range)?,
        (None, Some(seed)) => seed..seed + 1,
        (None, None) => 0..1,
    };
    let mut failed = Vec::new();
    for seed in seeds {
        let started = Instant::now();
        let report = Sim::new(Options {
            nodes: args.nodes,
            seed,
            steps: args.steps,
        })
        .run();
        let mut line = serde_json::to_value(&report)?;
        line["wall_ms"] = serde_json::json!(started.elapsed().as_millis());
        println!("{line}");
        if report.violations > 0 {
            failed.push(seed);
        }
    }
    if failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let first = Options {
        nodes: args.nodes,
        seed: failed[0],
        steps: args.steps,
    };
    if let Some(shortest) = Sim::shortest_failing(first) {
        eprintln!(
            "the shortest run of seed {} that breaks an invariant has {} steps; its trace:",
            shortest.seed, shortest.steps
        );
        for line in &shortest.trace {
            eprintln!("  {line}");
        }
        for violation in &shortest.first_violations {
            eprintln!("violation: {violation}");
        }
    }
    eprintln!(
        "invariants broken with seeds {failed:?}; replay one with: simulate --nodes {} --steps {} --seed {}",
        args.nodes, args.steps, failed[0]
    );
    Ok(ExitCode::FAILURE)
}
