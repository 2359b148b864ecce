//! The processes of a testnet and the commands run against them.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::Value;

/// One node of the testnet.
pub struct Node {
    /// Its name (and its platform's name on the identity card).
    pub name: String,
    dir: PathBuf,
    child: Option<Child>,
    /// Its platform id.
    pub platform_id: String,
    api: String,
    bootstrap: String,
    /// A relay (stores and forwards sealed documents; writes no registry entry).
    pub relay: bool,
}

/// The testnet: a directory, an administrator, and the nodes it started.
pub struct Cluster {
    root: PathBuf,
    bin_dir: PathBuf,
    nodes: Vec<Node>,
    /// PIDs of running children, shared with the interrupt handler.
    pids: Arc<Mutex<Vec<u32>>>,
}

impl Cluster {
    /// A cluster working in `root`, using the binaries in `bin_dir`.
    pub fn new(root: PathBuf, bin_dir: PathBuf) -> anyhow::Result<Cluster> {
        for bin in ["fednode", "fedctl"] {
            anyhow::ensure!(
                bin_dir.join(bin).exists(),
                "{} not found; build with `cargo build -p fednode -p fedctl` or use testnet/run",
                bin_dir.join(bin).display()
            );
        }
        let bin_dir = bin_dir
            .canonicalize()
            .with_context(|| format!("cannot resolve {}", bin_dir.display()))?;
        Ok(Cluster {
            root,
            bin_dir,
            nodes: Vec::new(),
            pids: Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// On SIGINT/SIGTERM, stops exactly the processes this cluster started.
    pub fn install_interrupt_handler(&self) -> anyhow::Result<()> {
        let pids = self.pids.clone();
        ctrlc::set_handler(move || {
            if let Ok(pids) = pids.lock() {
                for pid in pids.iter() {
                    let _ = Command::new("kill")
                        .args(["-TERM", &pid.to_string()])
                        .status();
                }
            }
            eprintln!("testnet: interrupted; stopped the nodes it started");
            std::process::exit(130);
        })
        .context("cannot install the interrupt handler")
    }

    fn tool(&self, bin: &str, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new(self.bin_dir.join(bin))
            .args(args)
            .current_dir(&self.root)
            .output()
            .with_context(|| format!("cannot run {bin}"))?;
        anyhow::ensure!(
            out.status.success(),
            "{bin} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Administrator key, federation, N platforms initialised and admitted.
    pub fn create_federation(&mut self, nodes: usize, relay: bool) -> anyhow::Result<()> {
        self.tool("fedctl", &["key", "new", "--out", "admin.key"])?;
        self.tool(
            "fedctl",
            &[
                "federation",
                "new",
                "--name",
                "testnet",
                "--admin-key",
                "admin.key",
                "--out",
                "chain.json",
            ],
        )?;
        let names = (1..=nodes)
            .map(|i| (format!("platform-{i}"), false))
            .chain(relay.then(|| ("relay".to_string(), true)));
        for (name, relay) in names {
            self.tool("fednode", &["init", "--data-dir", &name, "--name", &name])?;
            let card = format!("{name}/identity.card.json");
            let role = if relay { "relay" } else { "platform" };
            self.tool(
                "fedctl",
                &[
                    "membership",
                    "add",
                    "--chain",
                    "chain.json",
                    "--admin-key",
                    "admin.key",
                    "--card",
                    &card,
                    "--role",
                    role,
                ],
            )?;
            self.nodes.push(Node {
                dir: self.root.join(&name),
                name,
                child: None,
                platform_id: String::new(),
                api: String::new(),
                bootstrap: String::new(),
                relay,
            });
        }
        Ok(())
    }

    /// Starts every node on loopback; each bootstraps from the ones started before it.
    pub fn start_nodes(&mut self) -> anyhow::Result<()> {
        for i in 0..self.nodes.len() {
            let earlier: Vec<String> = self.nodes[..i]
                .iter()
                .map(|n| n.bootstrap.clone())
                .collect();
            let node = &mut self.nodes[i];
            let _ = std::fs::remove_file(node.dir.join("api.addr"));
            let log = std::fs::File::create(self.root.join(format!("{}.log", node.name)))?;
            let mut cmd = Command::new(self.bin_dir.join("fednode"));
            cmd.args([
                "run",
                "--listen",
                "/ip4/127.0.0.1/tcp/0",
                "--api",
                "127.0.0.1:0",
                "--sync-interval",
                "1",
                "--data-dir",
            ])
            .arg(&node.dir)
            .stdout(Stdio::null())
            .stderr(log);
            for b in &earlier {
                cmd.args(["--bootstrap", b]);
            }
            let child = cmd.spawn().context("cannot start fednode")?;
            if let Ok(mut pids) = self.pids.lock() {
                pids.push(child.id());
            }
            node.child = Some(child);
            let addr_file = node.dir.join("api.addr");
            wait_for(Duration::from_secs(20), || addr_file.exists())
                .with_context(|| format!("{} did not start; see {}.log", node.name, node.name))?;
            node.api = std::fs::read_to_string(&addr_file)?.trim().to_string();
            let status = get(node, "/v1/status")?;
            node.platform_id = status["platform_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let listen = status["listen"][0].as_str().unwrap_or_default();
            node.bootstrap = format!("{listen}/p2p/{}", node.platform_id);
        }
        Ok(())
    }

    fn fedctl_at(&self, node: &Node, args: &[&str]) -> anyhow::Result<String> {
        let dir = node.dir.display().to_string();
        let mut all = vec!["--data-dir", dir.as_str()];
        all.extend_from_slice(args);
        self.tool("fedctl", &all)
    }

    /// Every node joins the federation through its API.
    pub fn join_all(&self) -> anyhow::Result<()> {
        for node in &self.nodes {
            self.fedctl_at(node, &["federation", "join", "--chain", "chain.json"])?;
        }
        Ok(())
    }

    /// Every platform writes its own entry in the platforms registry, through its node.
    pub fn write_profiles(&self) -> anyhow::Result<()> {
        let federation = self.federation()?;
        for node in self.nodes.iter().filter(|n| !n.relay) {
            let description = format!("{} on loopback", node.name);
            self.fedctl_at(
                node,
                &[
                    "platforms",
                    "set-profile",
                    "--federation",
                    &federation,
                    "--display-name",
                    &node.name,
                    "--description",
                    &description,
                    "--address",
                    &node.bootstrap,
                ],
            )?;
        }
        Ok(())
    }

    /// Occurrences of each of `needles` in every file of the relay's data directory and
    /// in its log, read after the nodes stopped.
    pub fn relay_hits(&self, needles: &[&str]) -> usize {
        let Some(relay) = self.nodes.iter().find(|n| n.relay) else {
            return 0;
        };
        let mut files = vec![self.root.join(format!("{}.log", relay.name))];
        let mut stack = vec![relay.dir.clone()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    files.push(path);
                }
            }
        }
        files
            .iter()
            .filter_map(|f| std::fs::read(f).ok())
            .map(|bytes| {
                needles
                    .iter()
                    .map(|n| {
                        bytes
                            .windows(n.len())
                            .filter(|w| *w == n.as_bytes())
                            .count()
                    })
                    .sum::<usize>()
            })
            .sum()
    }

    /// How many sealed private documents the relay holds (as its status says).
    pub fn relayed_documents(&self) -> u64 {
        self.nodes
            .iter()
            .filter(|n| n.relay)
            .filter_map(|n| get(n, "/v1/status").ok())
            .filter_map(|s| s["relayed_documents"].as_u64())
            .sum()
    }

    /// The nodes, in start order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The federation id.
    pub fn federation(&self) -> anyhow::Result<String> {
        let chain: Value =
            serde_json::from_str(&std::fs::read_to_string(self.root.join("chain.json"))?)?;
        Ok(chain["federation"].as_str().unwrap_or_default().to_string())
    }

    /// Waits until every node's registry holds every platform's profile, identically.
    pub fn wait_converged(&self, timeout: Duration) -> anyhow::Result<bool> {
        let federation = self.federation()?;
        let path = format!("/v1/federations/{federation}/platforms");
        let n = self.nodes.iter().filter(|n| !n.relay).count();
        Ok(wait_for(timeout, || {
            let views: Vec<Value> = self
                .nodes
                .iter()
                .map(|node| {
                    get(node, &path)
                        .map(|v| v["platforms"].clone())
                        .unwrap_or(Value::Null)
                })
                .collect();
            views.iter().all(|v| profiles_written(v) == n) && views.windows(2).all(|w| w[0] == w[1])
        })
        .is_ok())
    }

    /// Prints node, platform id, API URL and what each node sees.
    pub fn print_table(&self) -> anyhow::Result<()> {
        let federation = self.federation()?;
        eprintln!(
            "\n{:<12}  {:<52}  {:<24}  {:<8}  {:<8}  export requests",
            "NODE", "PLATFORM ID", "API", "PROFILES", "PROJECTS"
        );
        for node in &self.nodes {
            let seen = get(node, &format!("/v1/federations/{federation}/platforms"))
                .map(|v| profiles_written(&v["platforms"]))
                .unwrap_or(0);
            let projects = get(node, &format!("/v1/federations/{federation}/projects"))
                .ok()
                .and_then(|v| v.as_array().map(Vec::len))
                .unwrap_or(0);
            let exports: Vec<String> = get(node, &format!("/v1/federations/{federation}/exports"))
                .ok()
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default()
                .iter()
                .map(|e| {
                    format!(
                        "{} ({})",
                        e["state"].as_str().unwrap_or("?"),
                        e["role"].as_str().unwrap_or("?")
                    )
                })
                .collect();
            eprintln!(
                "{:<12}  {:<52}  {:<24}  {seen:<8}  {projects:<8}  {}",
                node.name,
                node.platform_id,
                node.api,
                if exports.is_empty() {
                    "-".to_string()
                } else {
                    exports.join(", ")
                }
            );
        }
        Ok(())
    }

    /// The PIDs of the running nodes.
    pub fn pids(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter_map(|n| n.child.as_ref().map(|c| c.id().to_string()))
            .collect()
    }

    /// Leaves the nodes running (for `--keep`).
    pub fn forget_processes(&mut self) {
        for node in &mut self.nodes {
            node.child = None;
        }
        if let Ok(mut pids) = self.pids.lock() {
            pids.clear();
        }
    }

    /// Stops every node with SIGTERM and waits for it.
    pub fn stop_all(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = Command::new("kill")
                    .args(["-TERM", &child.id().to_string()])
                    .status();
                let _ = child.wait();
            }
        }
        if let Ok(mut pids) = self.pids.lock() {
            pids.clear();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// How many platforms of a registry view have written their profile.
fn profiles_written(platforms: &Value) -> usize {
    platforms.as_object().map_or(0, |o| {
        o.values()
            .filter(|p| p["profile"]["display_name"].is_string())
            .count()
    })
}

/// `GET path` at a node's API.
pub fn get(node: &Node, path: &str) -> anyhow::Result<Value> {
    call(node, "GET", path, None)
}

/// A call to a node's API; anything but a 2xx answer is an error carrying its message.
pub fn call(node: &Node, method: &str, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
    let token = std::fs::read_to_string(node.dir.join("api.token"))?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let url = format!("{}{path}", node.api);
    let auth = format!("Bearer {}", token.trim());
    let response = match body {
        None => agent.get(&url).header("Authorization", &auth).call(),
        Some(body) => agent
            .post(&url)
            .header("Authorization", &auth)
            .content_type("application/json")
            .send(body.to_string()),
    };
    let mut response = response.with_context(|| format!("{}: {method} {path}", node.name))?;
    let status = response.status();
    let value: Value = response.body_mut().read_json().unwrap_or(Value::Null);
    anyhow::ensure!(
        status.is_success(),
        "{}: {method} {path}: {status}: {}",
        node.name,
        value["error"]["message"]
    );
    Ok(value)
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes.
pub fn wait_for(timeout: Duration, mut condition: impl FnMut() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    anyhow::bail!("timed out after {timeout:?}")
}
