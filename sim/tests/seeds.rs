//! Many seeded runs of the simulator: each must keep every invariant. A seed that once
//! broke one stays here as a regression test, named for what it caught.

use fed_sim::{Options, Report, Sim};

fn run(nodes: usize, seed: u64, steps: usize) -> Report {
    Sim::new(Options { nodes, seed, steps }).run()
}

fn assert_holds(report: &Report) {
    assert_eq!(
        report.violations, 0,
        "seed {} broke {} invariants, first: {:#?}; replay: testnet/simulate --nodes {} --steps {} --seed {}",
        report.seed, report.violations, report.first_violations, report.nodes, report.steps, report.seed
    );
    assert!(report.converged, "seed {} did not converge", report.seed);
    assert_eq!(
        report.unshared_unaware, 0,
        "seed {}: an unshared platform never learnt of its removal",
        report.seed
    );
}

#[test]
fn small_federations_keep_every_invariant_over_many_seeds() {
    for seed in 0..12 {
        let report = run(6, seed, 250);
        assert_holds(&report);
        assert!(
            report.writes_acknowledged > 0,
            "seed {seed}: the workload wrote nothing"
        );
    }
}

#[test]
fn a_run_is_a_function_of_its_seed() {
    let a = run(5, 42, 150);
    let b = run(5, 42, 150);
    assert_eq!(
        serde_json::to_string(&a).expect("json"),
        serde_json::to_string(&b).expect("json"),
    );
    let c = run(5, 43, 150);
    assert_ne!(a.messages, c.messages, "another seed, another run");
}

#[test]
fn faults_and_attacks_happen_and_are_survived() {
    // Over these seeds the workload crashes nodes, revokes a
    // platform and sends forged changes; the invariants hold through all of it.
    let reports: Vec<Report> = (100..105).map(|seed| run(6, seed, 400)).collect();
    for report in &reports {
        assert_holds(report);
    }
    let total = |f: fn(&Report) -> u64| reports.iter().map(f).sum::<u64>();
    assert!(total(|r| r.crashes) > 0, "no crash");
    assert!(total(|r| r.revocations) > 0, "no revocation");
    assert!(total(|r| r.attacks) > 0, "no attack");
    assert!(
        total(|r| r.rejected_gossip) > 0,
        "no forged change was rejected"
    );
    assert!(total(|r| r.dropped) > 0, "the network dropped nothing");
}

/// An unshared platform whose removal push was lost kept reading an older version in
/// which it was still in the audience: anti-entropy no longer named the document to it.
/// Now the platform it asks answers with the changes up to its removal.
#[test]
fn seed_10_an_unshared_platform_learns_of_its_removal() {
    let report = run(6, 10, 250);
    assert_eq!(report.unshared_unaware, 0);
    assert_holds(&report);
}

/// After a revocation, one honest node refused a project change that another accepted.
#[test]
fn seed_105_honest_nodes_agree_on_every_change_after_a_revocation() {
    assert_holds(&run(6, 105, 400));
}

/// A node accepted a change while another write was still waiting for its flush; a write
/// applied at once in between made the memory store undo the waiting one (its `resume`
/// undid unsynced writes even though no sync had failed), and the node could not start
/// again from a store holding changes whose dependency was gone.
#[test]
fn seed_78_a_write_applied_at_once_keeps_the_ones_waiting_for_their_flush() {
    assert_holds(&run(10, 78, 300));
}

/// A platform unshared from a project acknowledged its owner's revocation there, sealed
/// under the epoch it still held: the project's audience refused the change by the epoch
/// rule and the unshared platform kept it. Only the audience may write a change that
/// edits nothing, and a platform outside it vouches for what it holds without one.
#[test]
fn seed_212_an_unshared_platform_writes_nothing_in_the_project_it_left() {
    assert_holds(&run(10, 212, 300));
}

/// The revoked owner of a project shared it before it learned of its revocation; an
/// active member built on the share, so it counts, but no key of a revoked owner reaches
/// the platform it names: it is counted out of the audience, and asking for the grant it
/// will never get no longer loops.
#[test]
fn seed_27_a_platform_shared_by_a_revoked_owner_is_never_keyed() {
    assert_holds(&run(10, 27, 300));
}

/// The owner of a project shared it with a platform that was down; the platform came back
/// as the owner was revoked, learnt of the revocation first, and refused the grant (grants
/// are judged at the receiver's chain head): it never holds a key of the project, and is
/// counted out of the audience rather than reported as missing it.
#[test]
fn seed_73_a_platform_keyed_by_an_owner_revoked_before_the_grant_arrived_is_never_keyed() {
    assert_holds(&run(10, 73, 300));
}
