//! Group commit's failure path on a real full disk: once a sync fails, the store takes no
//! write until it is resumed, and resuming undoes every write since the last successful
//! sync while keeping everything synced before it.
//!
//! The store sits on a small tmpfs, which needs root (CI runs as root); where mounting is
//! refused the test says so and does nothing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use fednode::store::{SledStore, Store, StoreConfig, StoreError, Tree, WriteBatch};

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

fn batch(i: usize) -> WriteBatch {
    let mut batch = WriteBatch::new();
    batch.put(Tree::Envelopes, key(i), vec![b'x'; 4096]);
    batch
}

fn key(i: usize) -> Vec<u8> {
    format!("k{i:08}").into_bytes()
}

#[test]
fn a_failed_sync_halts_writes_and_resume_undoes_exactly_the_unsynced_ones() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(disk) = SmallDisk::mount(&tmp.path().join("disk"), "16m") else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root); the test did not run");
        return;
    };
    let store = SledStore::open(&disk.0.join("db"), StoreConfig::default()).expect("open");
    // Synced one by one, then several written per sync, until the disk is full.
    let mut synced = 0;
    for i in 0..4 {
        store.write(batch(i)).expect("write");
        store.sync().expect("sync");
        synced = i + 1;
    }
    let filler = disk.0.join("filler");
    {
        let mut file = std::fs::File::create(&filler).expect("filler");
        let chunk = vec![0u8; 64 * 1024];
        while file.write_all(&chunk).is_ok() {}
        let _ = file.sync_all();
    }
    let mut written = synced;
    let failure = loop {
        let attempt = (0..3)
            .try_for_each(|j| store.write(batch(written + j)))
            .and_then(|()| store.sync());
        match attempt {
            Ok(()) => {
                written += 3;
                synced = written;
            }
            Err(e) => break e,
        }
        assert!(written < 10_000, "the disk never filled");
    };
    assert!(failure.is_storage_full(), "{failure}");
    // Halted: nothing more is taken, not even a tiny write.
    assert!(matches!(
        store.write(batch(99_999)),
        Err(StoreError::Halted)
    ));
    assert!(matches!(store.sync(), Err(StoreError::Halted)));

    std::fs::remove_file(&filler).expect("free the space");
    store.resume().expect("resume once there is space");
    for i in 0..synced {
        assert!(
            store.get(Tree::Envelopes, &key(i)).expect("get").is_some(),
            "synced write {i} lost"
        );
    }
    for i in synced..written + 3 {
        assert!(
            store.get(Tree::Envelopes, &key(i)).expect("get").is_none(),
            "unsynced write {i} kept"
        );
    }
    store.write(batch(50_000)).expect("writes are taken again");
    store.sync().expect("and made durable");
    drop(store);
    let reopened = SledStore::open(&disk.0.join("db"), StoreConfig::default()).expect("reopen");
    assert!(reopened
        .get(Tree::Envelopes, &key(50_000))
        .expect("get")
        .is_some());
    assert!(reopened
        .get(Tree::Envelopes, &key(synced))
        .expect("get")
        .is_none());
}
