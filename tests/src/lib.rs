//! Helpers shared by the end-to-end tests: locating the workspace's binaries and running
//! them.
//!
//! The tests drive the real `fednode` and `fedctl` executables, as an operator and an
//! administrator would. Cargo only builds a package's own binaries for its tests, so the
//! first call builds them all (a no-op when they are fresh), which also guarantees that a
//! test never runs a stale binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The result of running a binary.
#[derive(Debug)]
pub struct Run {
    /// Exit code (-1 if killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Standard output parsed as one JSON value.
    ///
    /// # Panics
    ///
    /// If stdout is not JSON (the test fails with the output shown).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The directory holding this build's binaries (`target/debug`, or `target/release` for
/// benchmarks), built with the same profile as the running test or benchmark.
fn bin_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        // The test executable lives in target/<profile>/deps/.
        let exe = std::env::current_exe().unwrap_or_default();
        let release = exe
            .parent()
            .and_then(Path::parent)
            .and_then(Path::file_name)
            .is_some_and(|p| p == "release");
        let mut args = vec![
            "build", "--quiet", "-p", "fednode", "-p", "fedctl", "-p", "testnet", "--bins",
        ];
        if release {
            args.push("--release");
        }
        let status = Command::new(cargo)
            .args(args)
            .current_dir(workspace_root())
            .status();
        assert!(
            status.as_ref().is_ok_and(|s| s.success()),
            "building fednode, fedctl and testnet failed: {status:?}"
        );
        exe.parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default()
    })
    .clone()
}

/// Path of a workspace binary (`fednode`, `fedctl` or `testnet`), built if needed.
pub fn bin(name: &str) -> PathBuf {
    bin_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// Runs a workspace binary with `args` in `dir`.
pub fn run(name: &str, dir: &Path, args: &[&str]) -> Run {
    Command::new(bin(name))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {name}: {e}"))
        .into()
}

/// A running `fednode` process with its data directory; killed when dropped.
pub struct TestNode {
    /// The data directory.
    pub dir: PathBuf,
    /// The platform id (libp2p PeerId).
    pub platform_id: String,
    /// The API base URL.
    pub api: String,
    /// The API token.
    pub token: String,
    /// The first listen address, with `/p2p/<id>` appended, for `--bootstrap`.
    pub bootstrap: String,
    child: Option<std::process::Child>,
}

impl TestNode {
    /// Initialises a node named `name` under `root` (no process started yet).
    pub fn init(root: &Path, name: &str) -> PathBuf {
        let out = run(
            "fednode",
            root,
            &["init", "--data-dir", name, "--name", name],
        );
        assert_eq!(out.code, 0, "init {name}: {}", out.stderr);
        root.join(name)
    }

    /// Starts `fednode run` on an initialised directory, on loopback with OS-chosen
    /// ports, and waits until its API answers.
    pub fn start(dir: &Path, bootstrap: &[&str]) -> TestNode {
        TestNode::start_with(dir, bootstrap, &[])
    }

    /// Like [`TestNode::start`], with more `fednode run` flags.
    pub fn start_with(dir: &Path, bootstrap: &[&str], extra: &[&str]) -> TestNode {
        TestNode::start_within(dir, bootstrap, extra, std::time::Duration::from_secs(30))
    }

    /// Like [`TestNode::start_with`], waiting up to `deadline` for the API (a node with a
    /// large store takes longer to load it).
    pub fn start_within(
        dir: &Path,
        bootstrap: &[&str],
        extra: &[&str],
        deadline: std::time::Duration,
    ) -> TestNode {
        let _ = std::fs::remove_file(dir.join("api.addr"));
        let mut args: Vec<String> = [
            "run",
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
            "--api",
            "127.0.0.1:0",
            "--sync-interval",
            "1",
            "--data-dir",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(dir.display().to_string());
        for b in bootstrap {
            args.push("--bootstrap".into());
            args.push(b.to_string());
        }
        args.extend(extra.iter().map(|a| a.to_string()));
        let log = std::fs::File::create(dir.with_extension("log")).expect("log file");
        let child = Command::new(bin("fednode"))
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn fednode");
        let addr_file = dir.join("api.addr");
        wait_until_within("the node writes api.addr", deadline, || addr_file.exists());
        let api = std::fs::read_to_string(&addr_file)
            .expect("api.addr")
            .trim()
            .to_string();
        let token = std::fs::read_to_string(dir.join("api.token"))
            .expect("api.token")
            .trim()
            .to_string();
        let mut node = TestNode {
            dir: dir.to_path_buf(),
            platform_id: String::new(),
            api,
            token,
            bootstrap: String::new(),
            child: Some(child),
        };
        let status = node.get("/v1/status");
        node.platform_id = status["platform_id"]
            .as_str()
            .expect("platform_id")
            .to_string();
        let listen = status["listen"][0]
            .as_str()
            .expect("a listen address")
            .to_string();
        node.bootstrap = format!("{listen}/p2p/{}", node.platform_id);
        node
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        token: bool,
    ) -> Result<(u16, serde_json::Value), String> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let url = format!("{}{path}", self.api);
        let auth = format!("Bearer {}", self.token);
        let with_auth = |r: ureq::RequestBuilder<ureq::typestate::WithoutBody>| {
            if token {
                r.header("Authorization", &auth)
            } else {
                r
            }
        };
        let with_auth_body = |r: ureq::RequestBuilder<ureq::typestate::WithBody>| {
            let r = r.content_type("application/json");
            if token {
                r.header("Authorization", &auth)
            } else {
                r
            }
        };
        let payload = body.unwrap_or("");
        let response = match method {
            "GET" => with_auth(agent.get(&url)).call(),
            "DELETE" => with_auth(agent.delete(&url)).call(),
            "PUT" => with_auth_body(agent.put(&url)).send(payload),
            "PATCH" => with_auth_body(agent.patch(&url)).send(payload),
            _ => with_auth_body(agent.post(&url)).send(payload),
        };
        let mut response = match response {
            Ok(r) => r,
            Err(e) => return Err(format!("{method} {url}: {e}")),
        };
        let status = response.status().as_u16();
        let value = response
            .body_mut()
            .read_json()
            .unwrap_or(serde_json::Value::Null);
        Ok((status, value))
    }

    /// `GET path` with the token; panics unless 200.
    pub fn get(&self, path: &str) -> serde_json::Value {
        let (status, value) = self
            .request("GET", path, None, true)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(status, 200, "GET {path}: {value}");
        value
    }

    /// A request with full control, returning (status, body).
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        token: bool,
    ) -> (u16, serde_json::Value) {
        self.request(method, path, body, token)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`TestNode::call`], but a transport error (the server closed the connection
    /// while the body was still being sent, say) is returned instead of failing.
    pub fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<(u16, serde_json::Value), String> {
        self.request(method, path, body, true)
    }

    /// Runs `fedctl --data-dir <this node> args...`.
    pub fn fedctl(&self, cwd: &Path, args: &[&str]) -> Run {
        let dir = self.dir.display().to_string();
        let mut all = vec!["--data-dir", dir.as_str()];
        all.extend_from_slice(args);
        run("fedctl", cwd, &all)
    }

    /// The chain head seq of a federation as this node sees it (None if not joined).
    pub fn head_seq(&self, federation: &str) -> Option<u64> {
        let list = self.get("/v1/federations");
        list.as_array()?
            .iter()
            .find(|f| f["federation"] == federation)
            .and_then(|f| f["head_seq"].as_u64())
    }

    /// The peers connected now.
    pub fn peers(&self) -> Vec<String> {
        self.get("/v1/peers")
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Kills the process with SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits at most `deadline` for the process to exit: its exit
    /// code, or `None` if it is still running (it is then killed).
    pub fn stop_within(&mut self, deadline: std::time::Duration) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let mut code = None;
        let exited = holds_within(deadline, || match child.try_wait() {
            Ok(Some(status)) => {
                code = Some(status.code().unwrap_or(-1));
                true
            }
            _ => false,
        });
        if !exited {
            let _ = child.kill();
            let _ = child.wait();
        }
        code
    }

    /// Stops the process with SIGTERM and waits for a clean exit.
    pub fn stop(&mut self) -> i32 {
        let Some(mut child) = self.child.take() else {
            return -1;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        child.wait().map(|s| s.code().unwrap_or(-1)).unwrap_or(-1)
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Polls `condition` every 50 ms for up to 30 s; panics naming `what` on timeout.
pub fn wait_until(what: &str, condition: impl FnMut() -> bool) {
    wait_until_within(what, std::time::Duration::from_secs(30), condition);
}

/// Like [`wait_until`], for up to `deadline`.
pub fn wait_until_within(
    what: &str,
    deadline: std::time::Duration,
    condition: impl FnMut() -> bool,
) {
    if !holds_within(deadline, condition) {
        panic!("timed out waiting until {what}");
    }
}

/// Polls `condition` every 20 ms for up to `deadline`; whether it came to hold.
pub fn holds_within(deadline: std::time::Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + deadline;
    while std::time::Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    condition()
}

/// Polls `condition` every 20 ms for `window`; whether it held at every poll (for what
/// must not happen, given the time it would take to happen).
pub fn holds_throughout(window: std::time::Duration, mut condition: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + window;
    while std::time::Instant::now() < end {
        if !condition() {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    condition()
}

mod admin;
pub use admin::Admin;

impl TestNode {
    /// Sets this platform's display name (and description) in a federation's registry.
    pub fn set_profile(&self, cwd: &Path, federation: &str, display_name: &str) {
        let out = self.fedctl(
            cwd,
            &[
                "platforms",
                "set-profile",
                "--federation",
                federation,
                "--display-name",
                display_name,
                "--description",
                &format!("{display_name} description"),
            ],
        );
        assert_eq!(out.code, 0, "set-profile: {}", out.stderr);
    }

    /// The display names in a federation's registry as this node sees them, by platform.
    pub fn display_names(&self, federation: &str) -> std::collections::BTreeMap<String, String> {
        let v = self.get(&format!("/v1/federations/{federation}/platforms"));
        v["platforms"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(id, p)| {
                p["profile"]["display_name"]
                    .as_str()
                    .map(|n| (id.clone(), n.to_string()))
            })
            .collect()
    }
}

/// How many times `needle` occurs, as raw bytes, in `files` and in every file under `dirs`.
pub fn occurrences(dirs: &[&Path], files: &[&Path], needle: &str) -> usize {
    let mut all: Vec<PathBuf> = files.iter().map(|p| p.to_path_buf()).collect();
    let mut stack: Vec<PathBuf> = dirs.iter().map(|d| d.to_path_buf()).collect();
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                all.push(path);
            }
        }
    }
    all.iter()
        .filter_map(|f| std::fs::read(f).ok())
        .map(|bytes| {
            bytes
                .windows(needle.len())
                .filter(|w| *w == needle.as_bytes())
                .count()
        })
        .sum()
}

/// The smallest valid project body: a code, a name, dates, and nothing else.
pub fn minimal_project(code: &str, name: &str) -> serde_json::Value {
    serde_json::json!({
        "code": code, "name": name, "description": "",
        "start_date": "2027-01-01", "end_date": "2028-12-31",
        "regulatory_frameworks": [], "entities": [], "members": []
    })
}

impl TestNode {
    /// Creates a project through the API (it must answer 201) and returns its id.
    pub fn create_project(&self, federation: &str, body: &serde_json::Value) -> String {
        let (status, created) = self.call(
            "POST",
            &format!("/v1/federations/{federation}/projects"),
            Some(&body.to_string()),
            true,
        );
        assert_eq!(status, 201, "create: {created}");
        created["id"].as_str().expect("project id").to_string()
    }

    /// Shares a project with `platform` (`read` or `write`); returns the API's answer.
    pub fn share(
        &self,
        federation: &str,
        project: &str,
        platform: &str,
        access: &str,
    ) -> (u16, serde_json::Value) {
        let body = serde_json::json!({"recipients": [{"platform_id": platform, "access": access}]});
        self.call(
            "POST",
            &format!("/v1/federations/{federation}/projects/{project}/share"),
            Some(&body.to_string()),
            true,
        )
    }
}
