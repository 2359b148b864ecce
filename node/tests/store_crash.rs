//! Durability under `kill -9`: every write that [`Store::apply`] acknowledged is present
//! after the writing process is killed with SIGKILL and the store is reopened, again and
//! again on the same directory.
//!
//! The test re-executes its own binary as the writer: the child runs only
//! [`store_crash_writer_child`] with [`WRITER_DIR_ENV`] set, writes one batch per key
//! over two trees, and prints `ack <i>` after each `apply` returns. The parent kills it
//! after a varying number of acks, reopens the store and checks every acknowledged key.
//! Set [`SEED_ENV`] to replay a run; the seed is printed in the summary and on failure.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fednode::store::{SledStore, Store, StoreConfig, Tree, WriteBatch};

/// Set in the child only: the store directory it writes to.
const WRITER_DIR_ENV: &str = "FEDNODE_STORE_CRASH_WRITER_DIR";
/// Set in the child only: the first key index it writes.
const WRITER_START_ENV: &str = "FEDNODE_STORE_CRASH_WRITER_START";
/// Optional: the seed that picks how many acks each iteration waits for.
const SEED_ENV: &str = "FEDNODE_STORE_CRASH_SEED";

const CHILD_TEST: &str = "store_crash_writer_child";
const ITERATIONS: usize = 20;
/// Acks to wait for before the kill: `MIN_ACKS..MAX_ACKS`, varied per iteration.
const MIN_ACKS: u64 = 5;
const MAX_ACKS: u64 = 200;
/// A child that runs on by itself (parent gone) stops after this many writes or this long.
const CHILD_MAX_WRITES: u64 = 100_000;
const CHILD_MAX_RUN: Duration = Duration::from_secs(60);
/// How far past the last ack the parent looks for unacknowledged, possibly written keys.
const UNACKED_PROBE: u64 = 1_000;

const CACHE_BYTES: u64 = 8 * 1024 * 1024;

fn key(i: u64) -> [u8; 8] {
    i.to_be_bytes()
}

/// A deterministic value of `i` for `tree`, of varying length so that sled's pages and
/// log segments see records of many sizes.
fn value(tree: Tree, i: u64) -> Vec<u8> {
    let unit = format!("{}:{i};", tree.name());
    unit.repeat(1 + usize::try_from(i % 61).expect("small"))
        .into_bytes()
}

/// The writer. A no-op in a normal test run; the parent runs it in a child process.
#[test]
fn store_crash_writer_child() {
    let Some(dir) = std::env::var_os(WRITER_DIR_ENV) else {
        return;
    };
    let start: u64 = std::env::var(WRITER_START_ENV)
        .expect("start index set by the parent")
        .parse()
        .expect("start index is a number");
    let store = SledStore::open(
        Path::new(&dir),
        StoreConfig {
            cache_bytes: CACHE_BYTES,
            ..StoreConfig::default()
        },
    )
    .expect("child opens the store");
    let began = Instant::now();
    let mut stdout = std::io::stdout().lock();
    // The harness has printed `test <name> ... ` without a newline; end that line so
    // every ack starts one.
    writeln!(stdout).expect("write newline");
    for i in start..start + CHILD_MAX_WRITES {
        let mut batch = WriteBatch::new();
        batch
            .put(Tree::Envelopes, key(i), value(Tree::Envelopes, i))
            .put(Tree::Snapshots, key(i), value(Tree::Snapshots, i));
        store.apply(batch).expect("child applies a batch");
        writeln!(stdout, "ack {i}").expect("write ack");
        stdout.flush().expect("flush ack");
        if began.elapsed() > CHILD_MAX_RUN {
            break;
        }
    }
}

/// Kills and reaps the child if the parent fails before doing so itself.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// SplitMix64: a few varied numbers from one printed seed, without a dependency.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// What one child run acknowledged.
struct Run {
    /// The highest key index acknowledged, if any.
    last_ack: Option<u64>,
    acks: u64,
}

/// Runs a writer from `start`, kills it with SIGKILL after `kill_after` acks, and returns
/// every ack it printed, including those still in the pipe when it died.
fn run_writer(dir: &Path, start: u64, kill_after: u64) -> Run {
    let exe = std::env::current_exe().expect("path of the test binary");
    let child = Command::new(exe)
        .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
        .env(WRITER_DIR_ENV, dir)
        .env(WRITER_START_ENV, start.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the writer");
    let mut child = KillOnDrop(child);
    let mut stdout = BufReader::new(child.0.stdout.take().expect("piped stdout"));
    let mut run = Run {
        last_ack: None,
        acks: 0,
    };
    let mut other = Vec::new();
    let record = |line: &str, run: &mut Run, other: &mut Vec<String>| {
        if let Some(i) = line.strip_prefix("ack ") {
            let i: u64 = i.parse().expect("ack line holds a number");
            let expected = run.last_ack.map_or(start, |last| last + 1);
            assert_eq!(i, expected, "acks arrive in order");
            run.last_ack = Some(i);
            run.acks += 1;
        } else {
            other.push(line.to_string());
        }
    };
    while run.acks < kill_after {
        match complete_line(&mut stdout) {
            Some(line) => record(&line, &mut run, &mut other),
            None => {
                let status = child.0.wait().expect("wait for the writer");
                panic!(
                    "writer exited ({status}) after {} acks, before being killed; its output:\n{}",
                    run.acks,
                    other.join("\n")
                );
            }
        }
    }
    child.0.kill().expect("SIGKILL the writer");
    // Acks already in the pipe were acknowledged too: read to end of file.
    while let Some(line) = complete_line(&mut stdout) {
        record(&line, &mut run, &mut other);
    }
    let status = child.0.wait().expect("reap the writer");
    assert!(!status.success(), "writer was killed, not finished");
    run
}

/// The next line that ends in a newline, without it; `None` at end of file. A last line
/// cut short by the kill is not a complete ack and is dropped.
fn complete_line(reader: &mut impl BufRead) -> Option<String> {
    let mut line = String::new();
    let n = reader.read_line(&mut line).expect("read child stdout");
    if n == 0 || !line.ends_with('\n') {
        return None;
    }
    line.pop();
    Some(line)
}

/// Reopens the store and checks keys `0..=last_ack` in both trees; returns how many keys
/// were checked. Keys past the last ack may or may not be there, but each batch is all
/// or nothing: both trees have such a key or neither does.
fn verify(dir: &Path, last_ack: Option<u64>, context: &str) -> u64 {
    let store = SledStore::open(
        dir,
        StoreConfig {
            cache_bytes: CACHE_BYTES,
            ..StoreConfig::default()
        },
    )
    .unwrap_or_else(|e| panic!("{context}: store does not reopen after SIGKILL: {e}"));
    let acked_end = last_ack.map_or(0, |last| last + 1);
    for i in 0..acked_end {
        for tree in [Tree::Envelopes, Tree::Snapshots] {
            let got = store
                .get(tree, &key(i))
                .unwrap_or_else(|e| panic!("{context}: reading key {i} of `{tree}`: {e}"));
            assert!(
                got.as_deref() == Some(value(tree, i).as_slice()),
                "{context}: acknowledged key {i} of tree `{tree}` is {}",
                if got.is_some() { "wrong" } else { "missing" }
            );
        }
    }
    for i in acked_end..acked_end + UNACKED_PROBE {
        let envelope = store.get(Tree::Envelopes, &key(i)).expect("read");
        let snapshot = store.get(Tree::Snapshots, &key(i)).expect("read");
        assert_eq!(
            envelope.is_some(),
            snapshot.is_some(),
            "{context}: unacknowledged batch {i} is in one tree only"
        );
        if envelope.is_none() {
            break;
        }
        assert_eq!(
            envelope,
            Some(value(Tree::Envelopes, i)),
            "{context}: key {i}"
        );
        assert_eq!(
            snapshot,
            Some(value(Tree::Snapshots, i)),
            "{context}: key {i}"
        );
    }
    acked_end
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let began = Instant::now();
    let seed = match std::env::var(SEED_ENV) {
        Ok(s) => s.parse().expect("seed is a number"),
        Err(_) => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_nanos() as u64,
    };
    let mut rng = SplitMix(seed);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut last_ack: Option<u64> = None;
    let mut total_acks = 0u64;
    let mut checked = 0u64;
    for iteration in 1..=ITERATIONS {
        let kill_after = MIN_ACKS + rng.next() % (MAX_ACKS - MIN_ACKS);
        let start = last_ack.map_or(0, |last| last + 1);
        let run = run_writer(dir.path(), start, kill_after);
        assert!(run.acks >= kill_after);
        total_acks += run.acks;
        last_ack = run.last_ack.or(last_ack);
        let context = format!(
            "iteration {iteration}, seed {seed} ({SEED_ENV}), killed after {} acks",
            run.acks
        );
        checked += verify(dir.path(), last_ack, &context);
    }
    println!(
        "store_crash: {ITERATIONS} SIGKILL iterations, {total_acks} acknowledged writes (x2 trees), \
         {checked} acknowledged keys re-checked across reopens, seed {seed}, {:.1?}",
        began.elapsed()
    );
}
