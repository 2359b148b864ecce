//! The same checks run against both implementations, so they cannot drift apart.

use std::path::Path;

use fed_crdt::ids::FederationId;

use fed_engine::store::chains::chain_key;
use fed_engine::testing::sample_chain;

use super::*;

fn open_sled(dir: &Path) -> SledStore {
    SledStore::open(
        dir,
        StoreConfig {
            cache_bytes: 8 * 1024 * 1024,
            ..StoreConfig::default()
        },
    )
    .expect("open sled store")
}

fn put(store: &impl Store, tree: Tree, key: &[u8], value: &[u8]) {
    let mut batch = WriteBatch::new();
    batch.put(tree, key.to_vec(), value.to_vec());
    store.apply(batch).expect("apply one put");
}

fn check_round_trip(store: &impl Store) {
    assert_eq!(store.get(Tree::Keys, b"doc-1").expect("get"), None);
    put(store, Tree::Keys, b"doc-1", b"key material");
    assert_eq!(
        store.get(Tree::Keys, b"doc-1").expect("get"),
        Some(b"key material".to_vec())
    );
    // Trees are separate namespaces.
    assert_eq!(store.get(Tree::Snapshots, b"doc-1").expect("get"), None);
    put(store, Tree::Keys, b"doc-1", b"rotated");
    assert_eq!(
        store.get(Tree::Keys, b"doc-1").expect("get"),
        Some(b"rotated".to_vec())
    );
    let mut batch = WriteBatch::new();
    batch.delete(Tree::Keys, b"doc-1".to_vec());
    batch.delete(Tree::Keys, b"never-there".to_vec());
    store.apply(batch).expect("apply deletes");
    assert_eq!(store.get(Tree::Keys, b"doc-1").expect("get"), None);
    store.apply(WriteBatch::new()).expect("empty batch");
    store.flush().expect("flush");
}

fn check_prefix_scan_with_limit(store: &impl Store) {
    for (k, v) in [
        (&b"peer-a/doc-2"[..], &b"2"[..]),
        (b"peer-a/doc-1", b"1"),
        (b"peer-a/doc-3", b"3"),
        (b"peer-b/doc-1", b"b1"),
        (b"peer-", b"bare"),
    ] {
        put(store, Tree::SyncState, k, v);
    }
    put(store, Tree::Refusals, b"peer-a/doc-0", b"other tree");

    let all = store
        .scan_prefix(Tree::SyncState, b"peer-a/", 100)
        .expect("scan");
    let keys: Vec<&[u8]> = all.iter().map(|(k, _)| k.as_slice()).collect();
    assert_eq!(
        keys,
        [&b"peer-a/doc-1"[..], b"peer-a/doc-2", b"peer-a/doc-3"],
        "key order, prefix only, this tree only"
    );
    assert_eq!(all[1].1, b"2");

    let first_two = store
        .scan_prefix(Tree::SyncState, b"peer-a/", 2)
        .expect("scan");
    assert_eq!(first_two, all[..2]);
    assert!(store
        .scan_prefix(Tree::SyncState, b"peer-a/", 0)
        .expect("scan")
        .is_empty());
    assert_eq!(
        store
            .scan_prefix(Tree::SyncState, b"", 100)
            .expect("scan")
            .len(),
        5
    );
    assert!(store
        .scan_prefix(Tree::SyncState, b"peer-c/", 100)
        .expect("scan")
        .is_empty());
}

fn check_atomic_batch_across_trees(store: &impl Store) {
    put(store, Tree::Envelopes, b"stale", b"x");
    let mut batch = WriteBatch::new();
    batch
        .put(Tree::Envelopes, b"change-1".to_vec(), b"envelope".to_vec())
        .put(Tree::Snapshots, b"doc-1".to_vec(), b"snapshot".to_vec())
        .delete(Tree::Envelopes, b"stale".to_vec())
        .put(Tree::Snapshots, b"doc-1".to_vec(), b"snapshot v2".to_vec());
    assert_eq!(batch.len(), 4);
    assert_eq!(batch.trees(), [Tree::Envelopes, Tree::Snapshots]);
    store.apply(batch).expect("apply");
    assert_eq!(
        store.get(Tree::Envelopes, b"change-1").expect("get"),
        Some(b"envelope".to_vec())
    );
    assert_eq!(
        store.get(Tree::Snapshots, b"doc-1").expect("get"),
        Some(b"snapshot v2".to_vec()),
        "the later put on the same key wins"
    );
    assert_eq!(store.get(Tree::Envelopes, b"stale").expect("get"), None);
}

fn check_concurrent_batches_are_atomic(store: &(impl Store + Clone)) {
    // Writers put the same value into two trees in one batch; batches are serialised, so
    // once all are done both trees hold the value of the same, last, batch.
    let writers: Vec<_> = (0..4u8)
        .map(|w| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..25u8 {
                    let mut batch = WriteBatch::new();
                    batch
                        .put(Tree::Envelopes, b"pair".to_vec(), vec![w, i])
                        .put(Tree::Snapshots, b"pair".to_vec(), vec![w, i]);
                    store.apply(batch).expect("apply");
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer thread");
    }
    let envelope = store.get(Tree::Envelopes, b"pair").expect("get");
    assert!(envelope.is_some());
    assert_eq!(envelope, store.get(Tree::Snapshots, b"pair").expect("get"));
}

fn check_chain_helpers(store: &impl Store) {
    assert!(federations(store).expect("federations").is_empty());
    let chain_a = sample_chain(1);
    let chain_b = sample_chain(2);
    let fed_a = chain_a[0].genesis_federation_id();
    let fed_b = chain_b[0].genesis_federation_id();

    // Out of order on purpose: loading sorts by seq.
    for i in [2, 0, 1] {
        save_chain_record(store, &fed_a, &chain_a[i]).expect("save a");
    }
    save_chain_record(store, &fed_b, &chain_b[0]).expect("save b");

    assert_eq!(load_chain_records(store, &fed_a).expect("load a"), chain_a);
    assert_eq!(
        load_chain_records(store, &fed_b).expect("load b"),
        chain_b[..1]
    );
    assert!(load_chain_records(store, &FederationId([9; 32]))
        .expect("load unknown")
        .is_empty());
    let mut expected = vec![fed_a, fed_b];
    expected.sort();
    assert_eq!(federations(store).expect("federations"), expected);

    let err = save_chain_record(store, &fed_b, &chain_a[1]).expect_err("wrong federation");
    assert!(
        matches!(err, StoreError::WrongFederation { seq: 1, .. }),
        "{err}"
    );
}

fn check_corrupt_record_names_federation_and_seq(store: &impl Store) {
    let chain = sample_chain(3);
    let fed = chain[0].genesis_federation_id();
    save_chain_record(store, &fed, &chain[0]).expect("save");
    put(store, Tree::Chains, &chain_key(&fed, 1), b"{not json");
    let err = load_chain_records(store, &fed).expect_err("corrupt");
    assert!(
        matches!(&err, StoreError::CorruptRecord { federation, seq: 1, .. } if *federation == fed),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains(&fed.to_string()), "{message}");
    assert!(message.contains("record 1 "), "{message}");

    // Valid JSON filed under the wrong seq.
    let value = serde_json::to_vec(&chain[2]).expect("encode");
    put(store, Tree::Chains, &chain_key(&fed, 1), &value);
    let err = load_chain_records(store, &fed).expect_err("misplaced");
    assert!(
        matches!(
            err,
            StoreError::MisplacedRecord {
                seq: 1,
                found_seq: 2,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn memory_round_trip() {
    check_round_trip(&MemoryStore::new());
}

#[test]
fn sled_round_trip() {
    let dir = tempfile::tempdir().expect("temp dir");
    check_round_trip(&open_sled(dir.path()));
}

#[test]
fn memory_prefix_scan_with_limit() {
    check_prefix_scan_with_limit(&MemoryStore::new());
}

#[test]
fn sled_prefix_scan_with_limit() {
    let dir = tempfile::tempdir().expect("temp dir");
    check_prefix_scan_with_limit(&open_sled(dir.path()));
}

#[test]
fn memory_atomic_batch_across_trees() {
    let store = MemoryStore::new();
    check_atomic_batch_across_trees(&store);
    check_concurrent_batches_are_atomic(&store);
}

#[test]
fn sled_atomic_batch_across_trees() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_sled(dir.path());
    check_atomic_batch_across_trees(&store);
    check_concurrent_batches_are_atomic(&store);
}

#[test]
fn memory_chain_helpers() {
    check_chain_helpers(&MemoryStore::new());
    check_corrupt_record_names_federation_and_seq(&MemoryStore::new());
}

#[test]
fn sled_chain_helpers() {
    let dir = tempfile::tempdir().expect("temp dir");
    check_chain_helpers(&open_sled(dir.path()));
    let dir = tempfile::tempdir().expect("temp dir");
    check_corrupt_record_names_federation_and_seq(&open_sled(dir.path()));
}

#[test]
fn memory_data_outlives_a_dropped_handle() {
    let store = MemoryStore::new();
    let other = store.clone();
    put(&store, Tree::Meta, b"schema", b"1");
    drop(store);
    assert_eq!(
        other.get(Tree::Meta, b"schema").expect("get"),
        Some(b"1".to_vec())
    );
    assert_eq!(other.size_on_disk().expect("size"), 7);
}

#[test]
fn sled_reopen_after_drop_keeps_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    let chain = sample_chain(4);
    let fed = chain[0].genesis_federation_id();
    {
        let store = open_sled(dir.path());
        let mut batch = WriteBatch::new();
        batch
            .put(Tree::Envelopes, b"e".to_vec(), b"1".to_vec())
            .put(Tree::Refusals, b"r".to_vec(), b"2".to_vec());
        store.apply(batch).expect("apply");
        for record in &chain {
            save_chain_record(&store, &fed, record).expect("save");
        }
        assert!(store.size_on_disk().expect("size") > 0);
    }
    let store = open_sled(dir.path());
    assert_eq!(
        store.get(Tree::Envelopes, b"e").expect("get"),
        Some(b"1".to_vec())
    );
    assert_eq!(
        store.get(Tree::Refusals, b"r").expect("get"),
        Some(b"2".to_vec())
    );
    assert_eq!(load_chain_records(&store, &fed).expect("load"), chain);
    assert_eq!(federations(&store).expect("federations"), [fed]);
}

#[test]
fn sled_second_open_of_a_directory_is_refused_clearly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let _first = open_sled(dir.path());
    let start = std::time::Instant::now();
    let err = SledStore::open(dir.path(), StoreConfig::default()).expect_err("locked");
    assert!(
        start.elapsed() >= super::sled_store::LOCK_RELEASE_WAIT,
        "a held lock is refused only once the release wait is over"
    );
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&dir.path().display().to_string()),
        "{err}"
    );
}

#[test]
fn sled_reopens_at_once_after_a_drop() {
    // The dropped database's flusher may still hold the lock for a moment.
    let dir = tempfile::tempdir().expect("temp dir");
    for i in 0..20u32 {
        let store = open_sled(dir.path());
        let mut batch = WriteBatch::new();
        batch.put(Tree::Envelopes, i.to_be_bytes().to_vec(), b"x".to_vec());
        store.apply(batch).expect("apply");
        drop(store);
    }
    let store = open_sled(dir.path());
    assert!(store
        .get(Tree::Envelopes, &19u32.to_be_bytes())
        .expect("get")
        .is_some());
}

#[test]
fn errors_name_tree_key_and_operation() {
    let err = StoreError::Backend {
        op: Operation::Get,
        trees: vec![Tree::SyncState],
        key: Some(vec![0xab; 60]),
        source: "disk on fire".into(),
    };
    let message = err.to_string();
    assert!(message.starts_with("store get failed on tree `sync_state`, key abab"));
    assert!(message.contains("..."), "{message}");
    assert!(message.ends_with(": disk on fire"), "{message}");

    let err = StoreError::Backend {
        op: Operation::Apply,
        trees: vec![Tree::Chains, Tree::Meta],
        key: None,
        source: "no space".into(),
    };
    assert_eq!(
        err.to_string(),
        "store apply batch failed on trees `chains`, `meta`: no space"
    );
}

#[test]
fn tree_names_are_distinct_and_stable() {
    let names: Vec<&str> = Tree::ALL.iter().map(|t| t.name()).collect();
    assert_eq!(
        names,
        [
            "chains",
            "envelopes",
            "snapshots",
            "keys",
            "sync_state",
            "refusals",
            "meta"
        ]
    );
    for (i, tree) in Tree::ALL.into_iter().enumerate() {
        assert_eq!(tree.index(), i);
    }
    assert_eq!(DEFAULT_CACHE_BYTES, 64 * 1024 * 1024);
    assert_eq!(StoreConfig::default().cache_bytes, DEFAULT_CACHE_BYTES);
}

#[test]
fn sled_open_of_an_unusable_directory_names_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").expect("write file");
    let err = SledStore::open(&file, StoreConfig::default()).expect_err("a file, not a dir");
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(err.to_string().contains("not-a-dir"), "{err}");
}
