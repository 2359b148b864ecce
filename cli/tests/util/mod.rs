//! Helpers for running `fedctl` against files in a temporary directory.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fednode::identity::{InitOptions, PlatformIdentity, CARD_FILE};
use serde_json::Value;

/// A scratch directory with an admin key and a federation chain.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

/// The result of one `fedctl` run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stdout parsed as the one JSON object `--json` promises.
    pub fn json(&self) -> Value {
        let lines: Vec<&str> = self.stdout.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "expected one JSON line, got: {}",
            self.stdout
        );
        serde_json::from_str(lines[0]).expect("stdout is JSON")
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

impl Workspace {
    pub fn new() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs fedctl with the arguments, in the workspace directory.
    pub fn fedctl(&self, args: &[&str]) -> Run {
        Command::new(env!("CARGO_BIN_EXE_fedctl"))
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("run fedctl")
            .into()
    }

    /// Runs fedctl and insists that it succeeds.
    pub fn ok(&self, args: &[&str]) -> Run {
        let run = self.fedctl(args);
        assert_eq!(run.code, 0, "fedctl {args:?} failed: {}", run.stderr);
        run
    }

    /// Runs fedctl with `--chain chain.json --admin-key KEY` after `args`.
    pub fn signed(&self, key: &str, args: &[&str]) -> Run {
        let mut all = args.to_vec();
        all.extend(["--chain", "chain.json", "--admin-key", key]);
        self.fedctl(&all)
    }

    /// Like [`Workspace::signed`], and insists that it succeeds.
    pub fn signed_ok(&self, key: &str, args: &[&str]) -> Run {
        let run = self.signed(key, args);
        assert_eq!(run.code, 0, "fedctl {args:?} failed: {}", run.stderr);
        run
    }

    /// Creates an admin key file and returns its public key.
    pub fn admin_key(&self, file: &str) -> String {
        let run = self.ok(&["key", "new", "--out", file, "--json"]);
        run.json()["public_key"]
            .as_str()
            .expect("public_key")
            .to_string()
    }

    /// Creates a federation `chain.json` signed by `admin.key`.
    pub fn federation(&self) -> String {
        self.admin_key("admin.key");
        let run = self.ok(&[
            "federation",
            "new",
            "--name",
            "Test federation",
            "--admin-key",
            "admin.key",
            "--out",
            "chain.json",
            "--json",
        ]);
        run.json()["federation"]
            .as_str()
            .expect("federation")
            .to_string()
    }

    /// Initialises a platform in `<name>/` and returns (card path, platform id).
    pub fn platform(&self, name: &str) -> (String, String) {
        let dir = self.path(name);
        let id = PlatformIdentity::init(
            &dir,
            InitOptions {
                name: name.to_string(),
                operator: format!("{name} operator"),
                addresses: vec!["/ip4/127.0.0.1/tcp/4001".into()],
            },
        )
        .expect("init platform");
        (
            Path::new(name).join(CARD_FILE).display().to_string(),
            id.platform_id().to_string(),
        )
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).expect("read file")
    }

    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text).expect("write file");
    }

    /// The chain file as JSON.
    pub fn chain(&self) -> Value {
        serde_json::from_str(&self.read("chain.json")).expect("chain is JSON")
    }

    pub fn set_chain(&self, v: &Value) {
        self.write(
            "chain.json",
            &serde_json::to_string_pretty(v).expect("json"),
        );
    }
}
