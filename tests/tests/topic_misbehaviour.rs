//! A member of two federations cannot carry one federation's data into the other's
//! gossip topic: honest nodes reject such a message (and gossipsub penalises the peer
//! that sent it), so it is neither accepted nor forwarded to members of the other
//! federation alone.

// Only part of the attacker's helpers serve here.
#[allow(dead_code)]
#[path = "misbehaviour/support.rs"]
mod support;

use support::*;

use fed_crdt::ids::DocId;
use fed_crdt::registry::Document;
use fed_e2e::{wait_until, Admin, TestNode};

#[test]
fn another_federations_change_on_a_topic_is_rejected() {
    debug_logs();
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let hub_dir = TestNode::init(root, "hub");
    let only_a_dir = TestNode::init(root, "only-a");
    let mallory_dir = TestNode::init(root, "mallory");
    let admin_a = Admin::new(root, "a.json");
    let admin_b = Admin::new(root, "b.json");
    for dir in [&hub_dir, &only_a_dir, &mallory_dir] {
        admin_a.admit(dir, &[]);
    }
    for dir in [&hub_dir, &mallory_dir] {
        admin_b.admit(dir, &[]);
    }
    let nodes = start_honest(&admin_a, &[hub_dir.clone(), only_a_dir.clone()]);
    let hub = &nodes[0];
    admin_b.join(hub);
    let (chain_b, fed_a, fed_b) = (
        admin_b.chain(),
        admin_a.chain().federation(),
        admin_b.chain().federation(),
    );
    let mallory = connect_mallory(&mallory_dir, fed_a, &[hub]);

    // Mallory's own profile in federation B, valid there, gossiped on A's topic.
    let registry_b = Document::new(DocId::platforms_registry(&fed_b), &chain_b);
    let env = own_profile(&registry_b, &chain_b, &mallory.key, "Mallory in B");
    let data = announce(&env);
    let rejected = "it names a federation that is not its topic's";
    mallory.gossip_until("the hub rejects B's change on A's topic", &data, || {
        log_of(hub).contains(rejected)
    });
    let mallory_id = mallory.id.to_string();
    let has_profile = |node: &TestNode| {
        profiles(node, &fed_b)
            .get(&mallory_id)
            .is_some_and(|p| !p.is_null())
    };
    assert!(
        !has_profile(hub),
        "a change that came on the wrong topic is not accepted"
    );

    // The same change on B's own topic is accepted: only the topic was wrong.
    mallory
        .rt
        .block_on(mallory.net.join(fed_b))
        .expect("join B's topic");
    // Gossip is lossy and B's subscription may not be known yet: publish until it lands.
    wait_until("the hub accepts the change on B's topic", || {
        let _ = mallory
            .rt
            .block_on(mallory.net.publish(fed_b, data.clone()));
        has_profile(hub)
    });
}
