//! A full disk: a write that cannot be stored is answered 507 `storage_full`, is not
//! applied (not then, not after a restart), is never recorded as a refusal; once space is
//! freed, writes succeed again without a restart, and SIGTERM still stops the node.
//!
//! The node's data directory sits on a small tmpfs, which needs root (CI runs as root);
//! where mounting is refused the test says so and does nothing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use fed_e2e::{minimal_project, Admin, TestNode};
use serde_json::json;

/// A tmpfs mounted for the test, unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(at: &Path, size: &str) -> Option<SmallDisk> {
        std::fs::create_dir_all(at).ok()?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .stderr(std::process::Stdio::null())
            .status()
            .ok()?;
        status.success().then(|| SmallDisk(at.to_path_buf()))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the disk with one file until it is full; returns the file.
fn fill(disk: &Path) -> PathBuf {
    let path = disk.join("filler");
    let mut file = std::fs::File::create(&path).expect("filler");
    let chunk = vec![0u8; 64 * 1024];
    while file.write_all(&chunk).is_ok() {}
    let _ = file.sync_all();
    path
}

fn name_of(node: &TestNode, path: &str) -> String {
    node.get(path)["name"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_full_disk_answers_507_changes_nothing_and_recovers_without_a_restart() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(disk) = SmallDisk::mount(&tmp.path().join("disk"), "24m") else {
        eprintln!(
            "skipped: cannot mount a tmpfs here (needs root); the full-disk test did not run"
        );
        return;
    };
    let admin = Admin::new(tmp.path(), "chain.json");
    let dir = TestNode::init(&disk.0, "n1");
    admin.admit(&dir, &[]);
    let mut node = TestNode::start(&dir, &[]);
    admin.join(&node);
    let federation = admin.federation();
    let body = minimal_project("FULL", "before");
    let project = node.create_project(&federation, &body);
    let path = format!("/v1/federations/{federation}/projects/{project}");
    let refusals = format!("/v1/refusals?federation={federation}");

    let filler = fill(&disk.0);
    let mut acknowledged = "before".to_string();
    let mut failed = None;
    for i in 0..5_000 {
        let name = format!("full-{i}");
        let (status, answer) = node.call(
            "PATCH",
            &path,
            Some(&json!({ "name": name }).to_string()),
            true,
        );
        match status {
            200 => acknowledged = name,
            507 => {
                assert_eq!(answer["error"]["code"], "storage_full", "{answer}");
                failed = Some(name);
                break;
            }
            other => panic!("a write on a full disk answered {other}: {answer}"),
        }
    }
    let failed = failed.expect("some write fails once the disk is full");
    assert_eq!(
        name_of(&node, &path),
        acknowledged,
        "the write answered 507 is not applied"
    );
    assert_eq!(
        node.get(&refusals),
        json!([]),
        "a storage failure is no refusal"
    );

    // Space comes back: the next write succeeds, without a restart.
    std::fs::remove_file(&filler).expect("free the disk");
    let (status, answer) = node.call("PATCH", &path, Some(r#"{"name": "after"}"#), true);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(name_of(&node, &path), "after");

    assert_eq!(
        node.stop_within(Duration::from_secs(10)),
        Some(0),
        "SIGTERM stops it"
    );
    let node = TestNode::start(&dir, &[]);
    assert_eq!(
        name_of(&node, &path),
        "after",
        "acknowledged writes survive"
    );
    let trail = node.get(&path);
    assert!(
        !trail.to_string().contains(&failed),
        "the write answered 507 is absent after a restart"
    );
    assert_eq!(node.get(&refusals), json!([]));
}
