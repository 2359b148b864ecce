//! Replies and our own messages wait for the batch; one input is one batch; a failed
//! batch fails its callers and changes nothing; a crash loses only what was not durable.

use fed_crdt::ids::DocId;
use fed_engine::{Answer, Command};

use crate::Cluster;

fn profile_command(cluster: &Cluster, description: &str) -> Command {
    Command::SetProfile {
        federation: cluster.federation(),
        profile: fed_crdt::registry::platforms::PlatformProfile {
            display_name: "Platform 0".into(),
            description: description.into(),
            ..Default::default()
        },
    }
}

fn registry(cluster: &Cluster) -> DocId {
    DocId::platforms_registry(&cluster.federation())
}

#[test]
fn a_write_is_answered_and_gossiped_only_once_its_batch_is_durable() {
    let mut c = Cluster::new(2);
    c.connect(0, 1);
    c.nodes[0].hold = true;
    let published = c.nodes[0].published;
    let id = c.call_held(0, profile_command(&c, "held"));
    assert!(
        c.reply(0, id).is_none(),
        "answered before its batch is durable"
    );
    assert_eq!(c.nodes[0].published, published, "gossiped before durable");
    assert_eq!(c.nodes[0].unsynced.len(), 1);
    let doc = registry(&c);
    let before = c.nodes[1].engine.heads_of(&doc);

    c.sync(0);
    let change = match c.reply(0, id) {
        Some(Ok(Answer::Profile(Some(change)))) => change,
        other => panic!("no accepted change once durable: {other:?}"),
    };
    assert!(c.nodes[0].published > published);
    assert!(c.nodes[1].engine.holds_change(&doc, &change));
    assert_ne!(c.nodes[1].engine.heads_of(&doc), before);
}

#[test]
fn what_one_input_writes_is_one_batch() {
    let mut c = Cluster::new(2);
    c.nodes[0].hold = true;
    let project = fed_crdt::registry::projects::Project {
        code: "ONE".into(),
        name: "One batch".into(),
        ..Default::default()
    };
    let federation = c.federation();
    // A create writes the change and the key grant: together, in one batch.
    let id = c.call_held(
        0,
        Command::Projects {
            federation,
            op: fed_engine::projects::ProjectOp::Create(Box::new(project)),
        },
    );
    assert_eq!(c.nodes[0].unsynced.len(), 1);
    c.sync(0);
    assert!(matches!(c.reply(0, id), Some(Ok(_))));
}

#[test]
fn a_failed_batch_fails_every_waiting_caller_and_the_document_reads_as_before() {
    let mut c = Cluster::new(1);
    c.set_profile(0, "durable").expect("first write");
    let doc = registry(&c);
    let before = c.nodes[0].engine.heads_of(&doc);
    c.nodes[0].hold = true;
    let first = c.call_held(0, profile_command(&c, "lost one"));
    let second = c.call_held(0, profile_command(&c, "lost two"));
    assert_ne!(c.nodes[0].engine.heads_of(&doc), before, "visible at once");

    c.nodes[0].store.fail_syncs(true);
    c.sync(0);
    for id in [first, second] {
        match c.reply(0, id) {
            Some(Err(e)) => assert!(e.to_string().contains("no space"), "{e}"),
            other => panic!("a caller of a failed batch is told: {other:?}"),
        }
    }
    assert_eq!(c.nodes[0].engine.heads_of(&doc), before);

    // Writes go on once the store resumes, and survive a restart.
    c.nodes[0].store.fail_syncs(false);
    c.nodes[0].hold = false;
    let change = c.set_profile(0, "after").expect("write after the failure");
    c.restart(0);
    assert!(c.nodes[0]
        .engine
        .holds_change(&doc, &change.expect("a change")));
}

#[test]
fn a_crash_loses_only_what_was_never_acknowledged() {
    let mut c = Cluster::new(1);
    let doc = registry(&c);
    let acknowledged = c.set_profile(0, "kept").expect("write").expect("change");
    c.nodes[0].hold = true;
    let pending = c.call_held(0, profile_command(&c, "never durable"));
    let held = c.nodes[0].engine.heads_of(&doc).expect("heads");
    assert!(c.reply(0, pending).is_none());

    c.restart(0);
    let heads = c.nodes[0].engine.heads_of(&doc).expect("heads");
    assert_eq!(heads, vec![acknowledged]);
    assert_ne!(heads, held);
    // The same sequence number is free again: the next write is accepted.
    c.nodes[0].hold = false;
    assert!(c
        .set_profile(0, "after the crash")
        .expect("write")
        .is_some());
}
