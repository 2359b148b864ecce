//! Export requests under concurrency: steps the two parties take at once resolve the
//! same way on every node whatever the delivery order, and the stopping step wins.

mod common;
mod export_support;
mod support;

use fed_crdt::chain::Chain;
use fed_crdt::envelope::{ChangeEnvelope, RefusalCheck};
use fed_crdt::registry::exports::{ExportState, ExportView};
use fed_crdt::registry::Document;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use common::{P1, P2};
use export_support::*;
use ExportState::*;

/// Delivers `envs` to fresh documents in both plain orders and in shuffled orders, and
/// returns every resulting view.
fn in_every_order(chain: &Chain, envs: &[ChangeEnvelope]) -> Vec<ExportView> {
    let mut orders = vec![envs.to_vec(), envs.iter().rev().cloned().collect()];
    for seed in 1..=4 {
        let mut order = envs.to_vec();
        order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        orders.push(order);
    }
    orders
        .into_iter()
        .map(|order| {
            let mut doc = Document::new(export_id(), chain);
            for env in order {
                doc.receive(chain, env);
            }
            assert_eq!(doc.accepted().len(), envs.len());
            view(&doc)
        })
        .collect()
}

#[test]
fn a_cancellation_concurrent_with_an_approval_wins_everywhere() {
    let chain = chain();
    let (doc, mut envs) = submitted(&chain);
    let cancel = step(&doc, &chain, P1, Cancelled, NOW + 20);
    let approve = step(&doc, &chain, P2, Approved, NOW + 20);
    envs.extend([cancel, approve]);
    let views = in_every_order(&chain, &envs);
    for v in &views {
        assert_eq!(v, &views[0]);
        assert_eq!(v.state, Cancelled);
        let applied = |to| v.history.iter().find(|h| h.to == to).map(|h| h.applied);
        assert_eq!(applied(Cancelled), Some(true));
        assert_eq!(applied(Approved), Some(false));
    }
}

#[test]
fn a_rejection_concurrent_with_an_answer_wins_everywhere() {
    let chain = chain();
    let (mut doc, mut envs) = submitted(&chain);
    envs.extend(advance(&mut doc, &chain, &[(P2, InformationRequested)]));
    let answer = step(&doc, &chain, P1, Submitted, NOW + 20);
    let reject = step(&doc, &chain, P2, Rejected, NOW + 20);
    envs.extend([answer, reject]);
    let views = in_every_order(&chain, &envs);
    for v in &views {
        assert_eq!(v, &views[0]);
        assert_eq!(v.state, Rejected);
        assert_eq!(v.history.len(), 5);
        assert!(!v
            .history
            .iter()
            .any(|h| h.to == Submitted && h.from == Some(InformationRequested) && h.applied));
    }
}

#[test]
fn a_provider_approving_and_rejecting_at_once_gets_both_refused() {
    let chain = chain();
    let (doc, envs) = submitted(&chain);
    let approve = step(&doc, &chain, P2, Approved, NOW + 20);
    let reject = step(&doc, &chain, P2, Rejected, NOW + 20);
    for pair in [
        [approve.clone(), reject.clone()],
        [reject.clone(), approve.clone()],
    ] {
        let mut doc = Document::new(export_id(), &chain);
        for env in envs.iter().chain(&pair) {
            doc.receive(&chain, env.clone());
        }
        let refused: Vec<_> = doc.refusals().cloned().collect();
        assert_eq!(refused.len(), 2);
        assert!(refused
            .iter()
            .all(|r| r.check == RefusalCheck::Equivocation));
        assert_eq!(view(&doc).state, Submitted);
    }
}
