//! What gossip does with a message: a member's valid change is accepted and forwarded;
//! a forged, malformed, misplaced or private one is rejected and recorded; a replay is
//! dropped quietly.

use fed_crdt::envelope::{ChangeEnvelope, RefusalCheck};
use fed_crdt::ids::DocId;
use fed_crdt::registry::platforms::{profile_change, PlatformProfile};
use fed_crdt::registry::projects::{create_project, Project};
use fed_crdt::registry::Document;
use fed_engine::protocol::Announcement;
use fed_engine::{GossipId, Input, Verdict};

use crate::Cluster;

/// A registry change signed by platform `signer` of `c`, at the cluster's time.
fn profile_by(c: &Cluster, signer: usize, text: &str) -> ChangeEnvelope {
    let federation = c.federation();
    let doc = Document::new(DocId::platforms_registry(&federation), &c.world.chain);
    let profile = PlatformProfile {
        display_name: text.into(),
        description: text.into(),
        ..PlatformProfile::default()
    };
    profile_change(
        &doc,
        &c.world.chain,
        &c.world.platforms[signer].signing,
        &profile,
        c.now.millis,
    )
    .expect("a profile change")
    .expect("something changes")
    .into_envelope()
}

fn announce(env: &ChangeEnvelope) -> Vec<u8> {
    Announcement::Change {
        envelope: Box::new(env.clone()),
    }
    .to_bytes()
}

fn refused_by(c: &Cluster, node: usize, env: &ChangeEnvelope) -> Option<RefusalCheck> {
    c.nodes[node]
        .engine
        .refusals()
        .expect("refusals")
        .into_iter()
        .find(|r| r.change_hash == env.change_hash)
        .map(|r| r.check)
}

#[test]
fn a_members_valid_change_is_accepted_and_held() {
    let mut c = Cluster::new(2);
    let env = profile_by(&c, 1, "honest");
    assert_eq!(c.gossip(0, c.id(1), announce(&env)), Some(Verdict::Accept));
    assert!(c.nodes[0]
        .engine
        .holds_change(&env.document, &env.change_hash));
}

#[test]
fn the_same_change_again_is_ignored() {
    let mut c = Cluster::new(2);
    let env = profile_by(&c, 1, "once");
    assert_eq!(c.gossip(0, c.id(1), announce(&env)), Some(Verdict::Accept));
    assert_eq!(c.gossip(0, c.id(1), announce(&env)), Some(Verdict::Ignore));
}

#[test]
fn a_forged_author_is_rejected_and_recorded() {
    let mut c = Cluster::new(3);
    // Platform 2 signs; the envelope names platform 1 as its author.
    let mut env = profile_by(&c, 2, "forged");
    env.author = c.id(1);
    assert_eq!(c.gossip(0, c.id(2), announce(&env)), Some(Verdict::Reject));
    assert!(!c.nodes[0]
        .engine
        .holds_change(&env.document, &env.change_hash));
    assert_eq!(refused_by(&c, 0, &env), Some(RefusalCheck::Signature));
}

#[test]
fn a_tampered_signature_is_rejected() {
    let mut c = Cluster::new(2);
    let mut env = profile_by(&c, 1, "tampered");
    env.signature.0[0] ^= 1;
    assert_eq!(c.gossip(0, c.id(1), announce(&env)), Some(Verdict::Reject));
    assert_eq!(refused_by(&c, 0, &env), Some(RefusalCheck::Signature));
}

#[test]
fn bytes_that_are_no_announcement_are_rejected() {
    let mut c = Cluster::new(2);
    let garbage = b"{\"not\": \"an announcement\"".to_vec();
    assert_eq!(c.gossip(0, c.id(1), garbage), Some(Verdict::Reject));
    let oversized = vec![b' '; fed_engine::protocol::MAX_GOSSIP_BYTES + 1];
    assert_eq!(c.gossip(0, c.id(1), oversized), Some(Verdict::Reject));
}

#[test]
fn a_private_documents_change_never_travels_by_gossip() {
    let mut c = Cluster::new(2);
    let project = Project {
        code: "GOSSIPED".into(),
        name: "gossiped".into(),
        ..Project::default()
    };
    let (_, env) = create_project(
        &c.world.chain,
        &c.world.platforms[1].signing,
        [7; 16],
        &project,
        c.now.millis,
    )
    .map(|(id, own)| (id, own.into_envelope()))
    .expect("a project");
    assert_eq!(c.gossip(0, c.id(1), announce(&env)), Some(Verdict::Reject));
    assert!(!c.nodes[0]
        .engine
        .holds_change(&env.document, &env.change_hash));
}

/// A member of two federations must not carry one's data into the other's topic.
#[test]
fn an_announcement_on_another_federations_topic_is_rejected() {
    let mut c = Cluster::new(2);
    let env = profile_by(&c, 1, "elsewhere");
    let id = GossipId(999_999);
    c.input(
        0,
        Input::Gossip {
            id,
            source: c.id(1),
            topic: "some-other-topic".into(),
            data: announce(&env),
        },
    );
    c.run();
    assert_eq!(c.nodes[0].verdicts.get(&id), Some(&Verdict::Reject));
    assert!(!c.nodes[0]
        .engine
        .holds_change(&env.document, &env.change_hash));
}

#[test]
fn gossip_from_a_platform_of_no_federation_is_rejected() {
    let mut c = Cluster::new(2);
    let env = profile_by(&c, 1, "relayed by an outsider");
    let outsider = c.world.outsider.id;
    assert_eq!(c.gossip(0, outsider, announce(&env)), Some(Verdict::Reject));
}
