//! Helpers shared by the end-to-end tests: locating the workspace's binaries and running
//! them.
//!
//! The tests drive the real `fednode` and `fedctl` executables, as an operator and an
//! administrator would. Cargo only builds a package's own binaries for its tests, so the
//! first call builds both (a no-op when they are fresh), which also guarantees that a
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

/// The directory holding this build's binaries (`target/debug`).
fn bin_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build", "--quiet", "-p", "fednode", "-p", "fedctl", "--bins",
            ])
            .current_dir(workspace_root())
            .status();
        assert!(
            status.as_ref().is_ok_and(|s| s.success()),
            "building fednode and fedctl failed: {status:?}"
        );
        // The test executable lives in target/<profile>/deps/.
        let exe = std::env::current_exe().unwrap_or_default();
        exe.parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default()
    })
    .clone()
}

/// Path of a workspace binary (`fednode` or `fedctl`), built if needed.
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
