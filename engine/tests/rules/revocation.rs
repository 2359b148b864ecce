//! A revoked platform keeps its past in everyone's documents, writes no more, and may
//! fetch the chain (to learn it was revoked) and nothing else.

use fed_crdt::ids::DocId;
use fed_crdt::registry::projects::Access;
use fed_engine::protocol::{SyncRequest, SyncResponse};

use crate::Cluster;

#[test]
fn a_revoked_platforms_past_stays_and_its_new_writes_are_refused() {
    let mut c = Cluster::new(3);
    c.connect_all();
    let past = c.set_profile(1, "before").expect("write").expect("change");
    let doc = DocId::platforms_registry(&c.federation());
    c.revoke(1, 0).expect("the revocation is accepted");
    c.tick();
    for node in [0, 2] {
        assert!(
            c.nodes[node].engine.holds_change(&doc, &past),
            "node {node}"
        );
        assert!(!c.nodes[node].members.contains(&c.id(1)));
        assert!(c.nodes[node].chain_only.contains(&c.id(1)));
    }
    // It learnt of its revocation from the chain, and writes no more.
    assert!(c.set_profile(1, "after").is_err());
    assert!(c.nodes[0].engine.holds_change(&doc, &past));
}

#[test]
fn a_revoked_platform_may_fetch_the_chain_only() {
    let mut c = Cluster::new(2);
    c.revoke(1, 0).expect("the revocation is accepted");
    let federation = c.federation();
    let head = c.world.chain.records()[0].hash();
    let chain = c.request(
        0,
        c.id(1),
        SyncRequest::Chain {
            federation,
            after_seq: 0,
            head,
        },
    );
    assert!(
        !matches!(chain, Some(SyncResponse::Refused { .. }) | None),
        "{chain:?}"
    );
    let document = c.request(
        0,
        c.id(1),
        SyncRequest::Document {
            federation,
            document: DocId::platforms_registry(&federation),
            heads: Vec::new(),
            have: Vec::new(),
        },
    );
    assert!(
        matches!(document, Some(SyncResponse::Refused { .. })),
        "{document:?}"
    );
}

/// When a project's owner is revoked, its audience acknowledges the project's heads; a
/// platform the project was unshared from writes nothing there (every node would refuse
/// the change), and keeps what it held, across a restart too.
#[test]
fn a_platform_unshared_from_a_project_writes_nothing_there_and_keeps_what_it_held() {
    let mut c = Cluster::new(3);
    c.connect_all();
    let project = c.create_project(0, "P1");
    for j in [1, 2] {
        c.share(0, project, j, Some(Access::Write)).expect("shared");
    }
    c.share(0, project, 2, None).expect("unshared");
    c.run();
    let removed = c.nodes[2]
        .engine
        .heads_of(&project)
        .expect("node 2 keeps its copy");
    let audience = c.nodes[1]
        .engine
        .heads_of(&project)
        .expect("node 1 holds it");
    c.revoke(0, 1).expect("the revocation is accepted");
    c.tick();
    assert_eq!(c.nodes[2].engine.heads_of(&project), Some(removed.clone()));
    c.restart(2);
    assert_eq!(c.nodes[2].engine.heads_of(&project), Some(removed));
    let acknowledged = c.nodes[1].engine.heads_of(&project).expect("still held");
    assert_ne!(
        acknowledged, audience,
        "node 1 acknowledged the owner's revocation"
    );
    for node in [1, 2] {
        let refusals = c.nodes[node].engine.refusals().expect("readable");
        assert!(refusals.is_empty(), "node {node}: {refusals:?}");
    }
}

/// A share its owner writes after its revocation, before learning of it, counts once an
/// active member builds on it; but a revoked owner's key grant counts nowhere, so the
/// platform it named is in the project's shares and never holds the project
/// (`docs/encryption.md`, "Decisions and known limits").
#[test]
fn a_platform_shared_by_a_revoked_owner_is_named_and_never_keyed() {
    let mut c = Cluster::new(3);
    c.connect_all();
    let project = c.create_project(0, "P1");
    c.share(0, project, 1, Some(Access::Read)).expect("shared");
    c.disconnect(0, 2);
    c.disconnect(1, 2);
    c.revoke(0, 2).expect("node 2 holds the revocation");
    c.share(0, project, 2, Some(Access::Read))
        .expect("node 0 does not know yet");
    c.connect_all();
    c.tick();
    assert!(
        c.nodes[1].engine.audience_of(&project).contains(&c.id(2)),
        "node 1 vouched for the share"
    );
    assert_eq!(c.nodes[2].engine.heads_of(&project), None);
}
