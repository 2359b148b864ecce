//! What gossip misses, anti-entropy makes up: on connecting, and at each tick.

use fed_crdt::ids::DocId;

use crate::Cluster;

#[test]
fn a_node_that_was_away_catches_up_when_it_connects() {
    let mut c = Cluster::new(2);
    let change = c
        .set_profile(0, "written alone")
        .expect("write")
        .expect("change");
    let id = c.create_project(0, "AWAY");
    c.share(0, id, 1, Some(fed_crdt::registry::projects::Access::Read))
        .expect("share");
    let doc = DocId::platforms_registry(&c.federation());
    assert!(!c.nodes[1].engine.holds_change(&doc, &change));

    c.connect(0, 1);
    assert!(c.nodes[1].engine.holds_change(&doc, &change));
    assert_eq!(
        c.nodes[1].engine.heads_of(&id),
        c.nodes[0].engine.heads_of(&id),
        "the shared project comes with the registry"
    );
}

#[test]
fn a_tick_reconciles_what_gossip_did_not_bring() {
    let mut c = Cluster::new(3);
    c.connect(0, 1);
    c.connect(0, 2);
    // Node 2's change reaches node 0 by gossip; the harness does not forward it, so
    // node 1 learns of it only by reconciling with node 0.
    let change = c
        .set_profile(2, "far away")
        .expect("write")
        .expect("change");
    let doc = DocId::platforms_registry(&c.federation());
    assert!(c.nodes[0].engine.holds_change(&doc, &change));
    assert!(!c.nodes[1].engine.holds_change(&doc, &change));

    c.tick();
    assert!(c.nodes[1].engine.holds_change(&doc, &change));
}

#[test]
fn a_tick_between_nodes_in_sync_writes_nothing() {
    let mut c = Cluster::new(2);
    c.connect(0, 1);
    c.set_profile(0, "shared").expect("write");
    c.tick();
    c.nodes[1].hold = true;
    c.tick();
    assert!(
        c.nodes[1].unsynced.is_empty(),
        "a tick in sync wrote a batch"
    );
}

#[test]
fn a_restarted_node_reads_what_it_stored_and_converges() {
    let mut c = Cluster::new(2);
    c.connect(0, 1);
    let id = c.create_project(0, "RESTART");
    c.share(0, id, 1, Some(fed_crdt::registry::projects::Access::Write))
        .expect("share");
    c.describe(1, id, "from one").expect("write by the share");
    c.restart(1);
    assert_eq!(
        c.nodes[1].engine.heads_of(&id),
        c.nodes[0].engine.heads_of(&id)
    );
    c.connect(0, 1);
    c.describe(0, id, "after the restart").expect("write");
    assert_eq!(
        c.nodes[1].engine.heads_of(&id),
        c.nodes[0].engine.heads_of(&id)
    );
}

/// A fetch whose answer never came (the connection closed under it) does not block the
/// next: once the peer disconnects, what was in flight to it is forgotten.
#[test]
fn a_fetch_lost_with_its_connection_is_asked_again_after_reconnecting() {
    use fed_engine::{Effect, Input};
    let mut c = Cluster::new(2);
    c.connect_all();
    let peer = c.id(1);
    let now = c.now;
    let fetches = |effects: &[Effect]| {
        effects
            .iter()
            .filter(|e| matches!(e, Effect::Request { peer: p, .. } if *p == peer))
            .count()
    };
    // A tick's requests are taken and never answered.
    let first = c.nodes[0].engine.handle(Input::Tick, now);
    assert!(fetches(&first) > 0, "a tick fetches from the peer");
    let blocked = c.nodes[0].engine.handle(Input::Tick, now);
    assert_eq!(
        fetches(&blocked),
        0,
        "nothing is asked twice while in flight"
    );
    c.nodes[0].engine.handle(Input::Disconnected(peer), now);
    // Reconnecting (or the tick after it) asks again.
    let mut again = c.nodes[0].engine.handle(Input::Connected(peer), now);
    again.extend(c.nodes[0].engine.handle(Input::Tick, now));
    assert_eq!(fetches(&again), fetches(&first));
}

#[test]
fn two_nodes_that_each_wrote_apart_after_a_long_shared_history_converge() {
    // More shared changes than one answer holds: a peer that does not know the asker's
    // newest change must still find what the asker holds, or it sends the oldest page
    // of the history again at every round and neither side ever gets the other's news.
    let mut c = Cluster::new(2);
    c.connect(0, 1);
    for i in 0..3 * fed_engine::protocol::MAX_ENVELOPES_PER_RESPONSE {
        c.set_profile(i % 2, &format!("shared {i}"))
            .expect("write")
            .expect("change");
    }
    let doc = DocId::platforms_registry(&c.federation());
    assert_eq!(
        c.nodes[0].engine.heads_of(&doc),
        c.nodes[1].engine.heads_of(&doc)
    );
    c.disconnect(0, 1);
    let mine = c.set_profile(0, "apart 0").expect("write").expect("change");
    let theirs = c.set_profile(1, "apart 1").expect("write").expect("change");

    c.connect(0, 1);
    c.tick();
    assert!(c.nodes[0].engine.holds_change(&doc, &theirs));
    assert!(c.nodes[1].engine.holds_change(&doc, &mine));
    assert_eq!(
        c.nodes[0].engine.heads_of(&doc),
        c.nodes[1].engine.heads_of(&doc)
    );
}

#[test]
fn two_nodes_that_each_wrote_much_apart_converge_past_pages_they_both_hold() {
    // Each side writes more apart than one answer holds: the samples of the asker's
    // history then land among what it wrote alone, the first answers bring only what
    // it held already, and it must go on naming those pages until the news comes.
    let page = fed_engine::protocol::MAX_ENVELOPES_PER_RESPONSE;
    let mut c = Cluster::new(2);
    c.connect(0, 1);
    for i in 0..page {
        c.set_profile(i % 2, &format!("shared {i}")).expect("write");
    }
    c.disconnect(0, 1);
    let mut last = [None, None];
    for i in 0..3 * page {
        for (node, slot) in last.iter_mut().enumerate() {
            *slot = c
                .set_profile(node, &format!("apart {node} {i}"))
                .expect("write");
        }
    }
    c.connect(0, 1);
    c.tick();
    let doc = DocId::platforms_registry(&c.federation());
    for (node, change) in last.iter().enumerate() {
        let change = change.expect("a change");
        assert!(
            c.nodes[1 - node].engine.holds_change(&doc, &change),
            "node {node}'s last"
        );
    }
    assert_eq!(
        c.nodes[0].engine.heads_of(&doc),
        c.nodes[1].engine.heads_of(&doc)
    );
}
