//! What an acknowledged write costs in the store: sled's own flush (`sync_file_range`,
//! which survives `kill -9`) against the same flush followed by `fdatasync` of the
//! database's files (which survives a power cut too), measured in the same run on the
//! same disk. Run: `cargo bench -p fednode --bench store_flush`.

use std::time::{Duration, Instant};

use fednode::store::{SledStore, Store, StoreConfig, Tree, WriteBatch};

/// Writes timed per configuration; the median and the 90th percentile are reported.
const WRITES: usize = 300;
/// Bytes of each write (a signed change envelope is about this size).
const VALUE_BYTES: usize = 1024;

fn timings(sync_data: bool) -> Vec<Duration> {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SledStore::open(
        dir.path(),
        StoreConfig {
            sync_data,
            ..StoreConfig::default()
        },
    )
    .expect("open the store");
    let mut times: Vec<Duration> = (0..WRITES)
        .map(|i| {
            let mut batch = WriteBatch::new();
            batch.put(
                Tree::Envelopes,
                format!("doc/{i:08}").into_bytes(),
                vec![b'x'; VALUE_BYTES],
            );
            let start = Instant::now();
            store.apply(batch).expect("apply");
            start.elapsed()
        })
        .collect();
    times.sort();
    times
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    // Alternate the two so that a burst of load on this shared machine hits both.
    let mut medians = [Vec::new(), Vec::new()];
    let mut p90s = [Vec::new(), Vec::new()];
    for _round in 0..3 {
        for (i, sync_data) in [false, true].into_iter().enumerate() {
            let times = timings(sync_data);
            medians[i].push(times[times.len() / 2]);
            p90s[i].push(times[times.len() * 9 / 10]);
        }
    }
    for m in &mut medians {
        m.sort();
    }
    for p in &mut p90s {
        p.sort();
    }
    let (bare, synced) = (medians[0][1], medians[1][1]);
    println!(
        "sled flush only:        median {:.3} ms, p90 {:.3} ms per acknowledged write",
        ms(bare),
        ms(p90s[0][1])
    );
    println!(
        "flush + fdatasync:      median {:.3} ms, p90 {:.3} ms per acknowledged write",
        ms(synced),
        ms(p90s[1][1])
    );
    println!(
        "cost of power-loss durability: {:.2}x the bare flush ({:+.3} ms)",
        ms(synced) / ms(bare).max(1e-6),
        ms(synced) - ms(bare)
    );
}
