//! A private document reaches its audience and nobody else; a non-member gets nothing.

use fed_crdt::ids::DocId;
use fed_crdt::registry::projects::Access;
use fed_engine::protocol::{SyncRequest, SyncResponse};

use crate::Cluster;

#[test]
fn a_private_document_reaches_its_audience_only() {
    let mut c = Cluster::new(3);
    c.connect_all();
    let id = c.create_project(0, "PRIVATE");
    assert!(c.nodes[1].engine.heads_of(&id).is_none());
    c.share(0, id, 1, Some(Access::Read)).expect("share");
    c.tick();
    assert_eq!(
        c.nodes[1].engine.heads_of(&id),
        c.nodes[0].engine.heads_of(&id)
    );
    assert!(c.nodes[2].engine.heads_of(&id).is_none());
    // Node 2 asks for it by name: the answer is that of a document that does not exist.
    let federation = c.federation();
    let asked = c.request(
        0,
        c.id(2),
        SyncRequest::Document {
            federation,
            document: id,
            heads: Vec::new(),
            have: Vec::new(),
        },
    );
    assert!(
        matches!(&asked, Some(SyncResponse::Refused { reason }) if reason == "not a shared document"),
        "{asked:?}"
    );
}

#[test]
fn a_platform_unshared_gets_no_later_change() {
    let mut c = Cluster::new(2);
    c.connect(0, 1);
    let id = c.create_project(0, "UNSHARE");
    c.share(0, id, 1, Some(Access::Read)).expect("share");
    c.tick();
    let seen = c.nodes[1].engine.heads_of(&id);
    assert!(seen.is_some());
    c.share(0, id, 1, None).expect("unshare");
    c.describe(0, id, "after the unshare").expect("write");
    c.tick();
    let owner = c.nodes[0].engine.heads_of(&id);
    assert_ne!(c.nodes[1].engine.heads_of(&id), owner);
    assert!(!c.nodes[0].engine.audience_of(&id).contains(&c.id(1)));
}

#[test]
fn a_platform_whose_removal_push_was_lost_learns_of_it_by_anti_entropy() {
    let mut c = Cluster::new(3);
    c.connect_all();
    let id = c.create_project(0, "DEPART");
    let created = c.nodes[0].engine.heads_of(&id).expect("held");
    c.share(0, id, 1, Some(Access::Read)).expect("share");
    c.tick();
    assert!(c.nodes[1].engine.audience_of(&id).contains(&c.id(1)));
    // The unshare is made while node 1 is away: its push is never sent.
    c.disconnect(0, 1);
    c.share(0, id, 1, None).expect("unshare");
    let removal = c.nodes[0].engine.heads_of(&id).expect("held");
    c.describe(0, id, "after the unshare").expect("write");
    c.connect(0, 1);
    c.tick();
    // Node 1 got the change that removed it, and nothing after it.
    assert_eq!(c.nodes[1].engine.heads_of(&id), Some(removal));
    assert!(!c.nodes[1].engine.audience_of(&id).contains(&c.id(1)));
    assert_ne!(
        c.nodes[1].engine.heads_of(&id),
        c.nodes[0].engine.heads_of(&id)
    );

    // A platform that never was in the audience, naming the document with heads it
    // should not know (or that do not exist), learns nothing from the same path: no
    // change was made while it was in the audience.
    let federation = c.federation();
    for named in [created, vec![fed_crdt::ids::ChangeHash([7; 32])]] {
        let asked = c.request(
            0,
            c.id(2),
            SyncRequest::Documents {
                federation,
                after: None,
                until: None,
                documents: vec![(id, named)],
                grants_held: Vec::new(),
                have: Vec::new(),
            },
        );
        assert!(
            matches!(&asked, Some(SyncResponse::Envelopes { envelopes, grants }) if envelopes.is_empty() && grants.is_empty()),
            "{asked:?}"
        );
    }
}

#[test]
fn a_non_member_is_refused_the_chain_and_every_document() {
    let mut c = Cluster::new(1);
    let federation = c.federation();
    let outsider = c.world.outsider.id;
    let head = c.world.chain.records()[0].hash();
    let requests = [
        SyncRequest::Chain {
            federation,
            after_seq: 0,
            head,
        },
        SyncRequest::Document {
            federation,
            document: DocId::platforms_registry(&federation),
            heads: Vec::new(),
            have: Vec::new(),
        },
    ];
    for request in requests {
        let answer = c.request(0, outsider, request);
        assert!(
            matches!(answer, Some(SyncResponse::Refused { .. })),
            "{answer:?}"
        );
    }
}
