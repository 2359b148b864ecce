//! What a platform's own tools get from the API when they write: latency of sequential
//! project creates and patches, and acknowledged writes per second from 1 and from 8
//! concurrent clients, on a node replicating to 4 peers. Printed next to the cost of one
//! durable store flush and the API's floor (`GET /v1/status`), measured in the same run,
//! with the load average. Run: `cargo bench -p fed-e2e --bench api_writes`;
//! `FED_BENCH_SECONDS` sets the length of each throughput run (default 20).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fed_e2e::{minimal_project, Admin, TestNode};
use fednode::store::{SledStore, Store, StoreConfig, Tree, WriteBatch};

/// Sequential calls timed per latency figure.
const SEQUENTIAL: usize = 200;
/// Concurrent clients of the second throughput run.
const CLIENTS: usize = 8;
/// How long the peers are given to catch up with the writer once a throughput run ends.
const CATCH_UP: Duration = Duration::from_secs(120);

/// One client with its own keep-alive connection, as an integrator's tool would hold.
struct Client {
    agent: ureq::Agent,
    api: String,
    auth: String,
}

impl Client {
    fn new(node: &TestNode) -> Client {
        Client {
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into(),
            api: node.api.clone(),
            auth: format!("Bearer {}", node.token),
        }
    }

    /// Sends one write; its status.
    fn write(&self, method: &str, path: &str, body: &str) -> u16 {
        self.write_answer(method, path, body).0
    }

    /// Sends one write; its status and body.
    fn write_answer(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let url = format!("{}{path}", self.api);
        let request = match method {
            "POST" => self.agent.post(&url),
            _ => self.agent.patch(&url),
        };
        match request
            .header("Authorization", &self.auth)
            .content_type("application/json")
            .send(body)
        {
            Ok(mut r) => {
                let answer = r.body_mut().read_to_string().unwrap_or_default();
                (r.status().as_u16(), answer)
            }
            Err(e) => (0, e.to_string()),
        }
    }

    fn get(&self, path: &str) -> u16 {
        let url = format!("{}{path}", self.api);
        match self
            .agent
            .get(&url)
            .header("Authorization", &self.auth)
            .call()
        {
            Ok(mut r) => {
                let _ = r.body_mut().read_to_string();
                r.status().as_u16()
            }
            Err(_) => 0,
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(times: &mut [Duration], p: usize) -> Duration {
    times.sort();
    times[(times.len() * p / 100).min(times.len() - 1)]
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The median cost of one durable flush of a 1 KiB batch, on the same disk.
fn one_flush() -> Duration {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SledStore::open(dir.path(), StoreConfig::default()).expect("store");
    let mut times: Vec<Duration> = (0..SEQUENTIAL)
        .map(|i| {
            let mut batch = WriteBatch::new();
            batch.put(
                Tree::Envelopes,
                format!("k{i:08}").into_bytes(),
                vec![b'x'; 1024],
            );
            let start = Instant::now();
            store.apply(batch).expect("apply");
            start.elapsed()
        })
        .collect();
    percentile(&mut times, 50)
}

/// What one throughput run got: acknowledged writes in each quarter of the run, and the
/// last acknowledged description of each project.
struct Run {
    quarters: [u64; 4],
    last: Vec<(String, String)>,
}

/// Patches from `clients` threads, each on its own project, for `length`.
fn throughput(node: &TestNode, fed: &str, projects: &[String], length: Duration) -> Run {
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let threads: Vec<_> = projects
        .iter()
        .map(|id| {
            let client = Client::new(node);
            let path = format!("/v1/federations/{fed}/projects/{id}");
            let stop = stop.clone();
            let id = id.clone();
            std::thread::spawn(move || {
                let mut quarters = [0u64; 4];
                let mut last = String::new();
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let body = format!(r#"{{"description": "rev-{i}"}}"#);
                    if client.write("PATCH", &path, &body) == 200 {
                        last = format!("rev-{i}");
                        let q =
                            (start.elapsed().as_secs_f64() / length.as_secs_f64() * 4.0) as usize;
                        quarters[q.min(3)] += 1;
                    }
                    i += 1;
                }
                (quarters, (id, last))
            })
        })
        .collect();
    std::thread::sleep(length);
    stop.store(true, Ordering::Relaxed);
    let mut run = Run {
        quarters: [0; 4],
        last: Vec::new(),
    };
    for t in threads {
        let (q, last) = t.join().expect("client thread");
        for (sum, n) in run.quarters.iter_mut().zip(q) {
            *sum += n;
        }
        run.last.push(last);
    }
    run
}

/// How long after the load stopped every peer read each project's last acknowledged
/// description: how far replication lagged behind the writer. `None` past `deadline`.
fn caught_up(peers: &[TestNode], fed: &str, last: &[(String, String)]) -> Option<Duration> {
    let start = Instant::now();
    let holds = |peer: &TestNode| {
        last.iter().all(|(id, description)| {
            // A peer that does not hold the project yet answers 404: not caught up.
            match peer.try_call("GET", &format!("/v1/federations/{fed}/projects/{id}"), None) {
                Ok((200, project)) => project["description"].as_str() == Some(description),
                _ => false,
            }
        })
    };
    fed_e2e::holds_within(CATCH_UP, || peers.iter().all(holds)).then(|| start.elapsed())
}

fn main() {
    let seconds: u64 = std::env::var("FED_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let length = Duration::from_secs(seconds);
    println!("load average at start: {}", load_average());
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let admin = Admin::new(root, "chain.json");
    let (_, nodes) = admin.start_members(&["writer", "peer-1", "peer-2", "peer-3", "peer-4"]);
    let node = &nodes[0];
    let fed = admin.federation();
    let client = Client::new(node);
    let list = format!("/v1/federations/{fed}/projects");

    let mut floor: Vec<Duration> = (0..SEQUENTIAL)
        .map(|_| {
            let start = Instant::now();
            assert_eq!(client.get("/v1/status"), 200);
            start.elapsed()
        })
        .collect();
    let floor = percentile(&mut floor, 50);
    let flush = one_flush();
    println!("one durable store flush: {:.3} ms (median)", ms(flush));
    println!("api floor (GET /v1/status): {:.3} ms (median)", ms(floor));

    let mut creates = Vec::new();
    let mut ids = Vec::new();
    for i in 0..SEQUENTIAL {
        let body = minimal_project(&format!("B-{i:04}"), &format!("Bench {i}")).to_string();
        let start = Instant::now();
        let (status, answer) = client.write_answer("POST", &list, &body);
        creates.push(start.elapsed());
        assert_eq!(status, 201, "{answer}");
        if ids.len() < CLIENTS {
            let created: serde_json::Value = serde_json::from_str(&answer).expect("json");
            ids.push(created["id"].as_str().expect("project id").to_string());
        }
    }
    // The throughput projects are shared with the four peers, so that every write is
    // sealed, sent and checked four times over, as on a real federation.
    for id in &ids {
        for peer in &nodes[1..] {
            let (status, answer) = node.share(&fed, id, &peer.platform_id, "read");
            assert_eq!(status, 200, "share: {answer}");
        }
    }
    let patch_path = format!("{list}/{}", ids[0]);
    let mut patches: Vec<Duration> = (0..SEQUENTIAL)
        .map(|i| {
            let body = format!(r#"{{"description": "sequential {i}"}}"#);
            let start = Instant::now();
            assert_eq!(client.write("PATCH", &patch_path, &body), 200);
            start.elapsed()
        })
        .collect();
    let (c50, c90) = (percentile(&mut creates, 50), percentile(&mut creates, 90));
    let (p50, p90) = (percentile(&mut patches, 50), percentile(&mut patches, 90));
    println!(
        "project create, sequential: p50 {:.3} ms, p90 {:.3} ms ({:.1} flushes)",
        ms(c50),
        ms(c90),
        ms(c50) / ms(flush).max(0.001)
    );
    println!(
        "project patch, sequential:  p50 {:.3} ms, p90 {:.3} ms ({:.1} flushes)",
        ms(p50),
        ms(p90),
        ms(p50) / ms(flush).max(0.001)
    );

    for clients in [1, CLIENTS] {
        let run = throughput(node, &fed, &ids[..clients], length);
        let quarters = run.quarters;
        let total: u64 = quarters.iter().sum();
        let per_quarter = length.as_secs_f64() / 4.0;
        println!(
            "{clients} client(s), {seconds} s: {:.0} acknowledged writes/s; by quarter {:?}/s; last quarter / first = {:.2}",
            total as f64 / length.as_secs_f64(),
            quarters.map(|q| (q as f64 / per_quarter).round() as u64),
            quarters[3] as f64 / (quarters[0] as f64).max(1.0)
        );
        match caught_up(&nodes[1..], &fed, &run.last) {
            Some(lag) => println!(
                "  the 4 peers read every last write {:.2} s after the load stopped",
                lag.as_secs_f64()
            ),
            None => println!(
                "  the 4 peers had not read every last write {} s after the load stopped",
                CATCH_UP.as_secs()
            ),
        }
    }
    println!("load average at end: {}", load_average());
}
