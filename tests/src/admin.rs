//! The administrator's side of the end-to-end tests: a key, a chain file, and the
//! `fedctl` commands that sign and publish it.

use std::path::{Path, PathBuf};

use crate::{run, wait_until, TestNode};

/// The administrator's side of a test: a key (`admin.key`) and a chain file in `root`.
pub struct Admin {
    /// Where the key and the chain file are.
    pub root: PathBuf,
    /// The chain file's name in `root`.
    pub chain: String,
}

impl Admin {
    /// Creates the key (once per `root`) and a new federation in `chain`.
    pub fn new(root: &Path, chain: &str) -> Admin {
        if !root.join("admin.key").exists() {
            let key = run("fedctl", root, &["key", "new", "--out", "admin.key"]);
            assert_eq!(key.code, 0, "{}", key.stderr);
        }
        let fed = run(
            "fedctl",
            root,
            &[
                "federation",
                "new",
                "--name",
                chain,
                "--admin-key",
                "admin.key",
                "--out",
                chain,
            ],
        );
        assert_eq!(fed.code, 0, "{}", fed.stderr);
        Admin {
            root: root.to_path_buf(),
            chain: chain.to_string(),
        }
    }

    /// Runs a signing `fedctl` command on the chain file; it must succeed.
    pub fn sign(&self, args: &[&str]) {
        let mut all = args.to_vec();
        all.extend(["--chain", &self.chain, "--admin-key", "admin.key"]);
        let out = run("fedctl", &self.root, &all);
        assert_eq!(out.code, 0, "fedctl {args:?}: {}", out.stderr);
    }

    /// Admits the platform initialised in `dir`, with extra `membership add` flags.
    pub fn admit(&self, dir: &Path, extra: &[&str]) {
        let card = dir.join("identity.card.json").display().to_string();
        let mut args = vec!["membership", "add", "--card", card.as_str()];
        args.extend_from_slice(extra);
        self.sign(&args);
    }

    /// The chain file, verified.
    pub fn chain(&self) -> fed_crdt::chain::Chain {
        let text = std::fs::read_to_string(self.root.join(&self.chain)).expect("chain file");
        fed_crdt::chain::file::ChainFile::parse(&text)
            .expect("chain file")
            .verify()
            .expect("valid chain")
            .chain
    }

    /// The federation id.
    pub fn federation(&self) -> String {
        self.chain().federation().to_string()
    }

    /// The head record's seq.
    pub fn head(&self) -> u64 {
        self.chain().state().seq
    }

    /// Has `node` join the federation through `fedctl`.
    pub fn join(&self, node: &TestNode) {
        let out = node.fedctl(&self.root, &["federation", "join", "--chain", &self.chain]);
        assert_eq!(out.code, 0, "join: {}", out.stderr);
    }

    /// Initialises, admits and starts one node per name (each bootstrapping from the ones
    /// before it), has them all join, and waits until they are all connected.
    pub fn start_members(&self, names: &[&str]) -> (Vec<PathBuf>, Vec<TestNode>) {
        let dirs: Vec<PathBuf> = names
            .iter()
            .map(|n| TestNode::init(&self.root, n))
            .collect();
        for d in &dirs {
            self.admit(d, &[]);
        }
        let mut nodes: Vec<TestNode> = Vec::new();
        for d in &dirs {
            let earlier: Vec<&str> = nodes.iter().map(|n| n.bootstrap.as_str()).collect();
            let node = TestNode::start(d, &earlier);
            nodes.push(node);
        }
        for n in &nodes {
            self.join(n);
        }
        wait_until("every member is connected to every other", || {
            nodes.iter().all(|n| n.peers().len() == nodes.len() - 1)
        });
        (dirs, nodes)
    }

    /// Publishes the chain file's records at `node`.
    pub fn publish(&self, node: &TestNode) {
        let out = node.fedctl(
            &self.root,
            &["membership", "publish", "--chain", &self.chain],
        );
        assert_eq!(out.code, 0, "publish: {}", out.stderr);
    }
}
