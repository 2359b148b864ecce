//! The newcomer's command: the local testnet converges and reports it in one JSON line.

use fed_e2e::bin;

#[test]
fn testnet_converges_and_ends_with_one_json_line() {
    let bin_dir = bin("fednode").parent().expect("bin dir").to_path_buf();
    let out = std::process::Command::new(bin("testnet"))
        .args(["--nodes", "3", "--bin-dir"])
        .arg(&bin_dir)
        .output()
        .expect("run testnet");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "testnet failed: {stderr}");
    let last = stdout.lines().last().expect("a JSON line");
    let v: serde_json::Value = serde_json::from_str(last).expect("JSON");
    assert_eq!(v["nodes"], 3);
    assert_eq!(v["converged"], true);
    assert!(v["convergence_ms"].is_u64(), "{v}");
    assert_eq!(v["exports_delivered"], 1, "{v}");
    assert_eq!(v["markers_read_back"], true, "{v}");
    assert_eq!(
        v["projects_visible"],
        serde_json::json!({"platform-1": 1, "platform-2": 1, "platform-3": 0}),
        "only the two platforms of the project read it"
    );
    // The table names every node, and the nodes are gone afterwards.
    for i in 1..=3 {
        assert!(stderr.contains(&format!("platform-{i}")), "{stderr}");
    }
    let root = stderr
        .lines()
        .find_map(|l| l.strip_prefix("testnet: working in "))
        .expect("working directory line");
    assert!(!std::path::Path::new(root).exists(), "{root} left behind");
}

#[test]
fn with_a_relay_the_relay_carries_the_documents_and_holds_no_plaintext() {
    let bin_dir = bin("fednode").parent().expect("bin dir").to_path_buf();
    let out = std::process::Command::new(bin("testnet"))
        .args(["--nodes", "2", "--relay", "--bin-dir"])
        .arg(&bin_dir)
        .output()
        .expect("run testnet");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "testnet failed: {stderr}");
    let last = stdout.lines().last().expect("a JSON line");
    let v: serde_json::Value = serde_json::from_str(last).expect("JSON");
    assert_eq!(v["relayed_documents"], 2, "{v}");
    assert_eq!(v["relay_plaintext_hits"], 0, "{v}");
    assert_eq!(v["markers_read_back"], true, "{v}");
    assert_eq!(v["projects_visible"]["relay"], 0, "{v}");
}
