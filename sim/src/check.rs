//! The invariants, checked once the network has healed, every node has restarted and
//! anti-entropy has run:
//!
//! 1. **Convergence**: every running node in a document's audience (every member for the
//!    platforms registry; for a private document, the platforms all its readers count)
//!    holds it with the same heads, hence the same content (Automerge is
//!    deterministic). Revoked platforms are left out: they keep their past only.
//! 2. **Privacy**: no node holds a private document it was never in the audience of.
//! 3. **Membership**: the outsider, admitted to no federation, holds nothing, and every
//!    request it sent was refused.
//! 4. **Agreement**: no honest node holds a change another honest node refused, nor any
//!    change the misbehaving member forged.
//! 5. **Durability**: every change acknowledged to an operator is held by the node that
//!    acknowledged it and by its whole audience, unless its author was later revoked
//!    (a revocation refuses what no active member built on, at the revoked node too).

use std::collections::{BTreeMap, BTreeSet};

use fed_crdt::ids::{ChangeHash, DocId, DocKind};

use crate::Sim;

/// Records a broken invariant.
fn violation(sim: &mut Sim, what: String) {
    sim.violations.push(what);
}

/// Checks every invariant, recording each violation and whether the nodes converged.
pub(crate) fn check(sim: &mut Sim) {
    let federation = sim.world.chain.federation();
    let members: Vec<usize> = (0..sim.options.nodes)
        .filter(|i| !sim.revoked.contains(i))
        .collect();
    // What each node holds.
    let mut held: BTreeMap<DocId, BTreeMap<usize, Vec<ChangeHash>>> = BTreeMap::new();
    for i in 0..sim.options.nodes {
        let Some(engine) = sim.nodes[i].engine.as_ref() else {
            violation(sim, format!("node {i} is not running at the end"));
            continue;
        };
        for (doc, heads) in engine.documents_of(&federation) {
            held.entry(doc).or_default().insert(i, heads);
        }
    }
    let mut converged = true;
    for (doc, holders) in &held {
        let audience: BTreeSet<usize> = if doc.kind == DocKind::Platforms {
            members.iter().copied().collect()
        } else {
            // As the nodes that read it say (they agree once converged).
            // The platforms every reader agrees are in it. A revoked platform's own
            // reading is left out: it learns nothing after its revocation. A platform
            // only some readers count is one that was unshared and has not received the
            // change that removed it: counted apart (`unshared_unaware`). A platform
            // that holds a version without itself in the audience has left it: what it
            // reads there says nothing of the audience now.
            let mut agreed: Option<BTreeSet<usize>> = None;
            let mut named = BTreeSet::new();
            for i in holders.keys().filter(|i| !sim.revoked.contains(i)) {
                if let Some(engine) = sim.nodes[*i].engine.as_ref() {
                    let reading: BTreeSet<usize> = engine
                        .audience_of(doc)
                        .iter()
                        .filter_map(|p| sim.index.get(p).copied())
                        .collect();
                    if !reading.contains(i) {
                        continue;
                    }
                    named.extend(reading.iter().copied());
                    agreed = Some(match agreed {
                        None => reading,
                        Some(a) => a.intersection(&reading).copied().collect(),
                    });
                }
            }
            let mut audience = agreed.unwrap_or_default();
            audience.retain(|i| !sim.revoked.contains(i));

            // A revoked platform may stay among a project's shares; it is out anyway.
            named.retain(|i| !sim.revoked.contains(i));
            // Nor is a platform a revoked owner shared it with: no key reaches it. Nor one
            // it shared with before, whose grant had not arrived when the platform learnt
            // of the revocation (grants are judged at the receiver's chain head).
            let owner_revoked = sim
                .projects
                .iter()
                .any(|(owner, id)| id == doc && sim.revoked.contains(owner));
            let keyed = |i: &usize| {
                let never_keyed = owner_revoked
                    && sim.nodes[*i]
                        .engine
                        .as_ref()
                        .is_some_and(|e| !e.holds_key_of(doc));
                !never_keyed && !sim.keyless.contains(&(*doc, sim.nodes[*i].id))
            };
            audience.retain(keyed);
            named.retain(keyed);
            sim.report.unshared_unaware += named.difference(&audience).count() as u64;
            audience
        };
        let mut heads_seen: BTreeSet<&Vec<ChangeHash>> = BTreeSet::new();
        for i in &audience {
            match holders.get(i) {
                Some(heads) => {
                    heads_seen.insert(heads);
                }
                None => {
                    converged = false;
                    sim.violations.push(format!(
                        "node {i} is in the audience of {doc} and does not hold it"
                    ));
                }
            }
        }
        if heads_seen.len() > 1 {
            converged = false;
            let by_node: Vec<String> = audience
                .iter()
                .filter_map(|i| {
                    holders.get(i).map(|h| {
                        let short: Vec<String> =
                            h.iter().map(|c| c.to_string()[..8].to_string()).collect();
                        format!("node {i}: {}", short.join(" "))
                    })
                })
                .collect();
            sim.violations.push(format!(
                "the audience of {doc} holds {} different sets of heads ({})",
                heads_seen.len(),
                by_node.join(", ")
            ));
        }
        if doc.kind != DocKind::Platforms {
            let ever = sim.ever_in_audience(doc);
            if !ever.is_empty() {
                for i in holders.keys() {
                    if !ever.contains(&sim.nodes[*i].id) {
                        sim.violations.push(format!(
                            "node {i} holds {doc}, whose audience it was never in"
                        ));
                    }
                }
            }
        }
    }
    check_outsider(sim);
    check_agreement(sim, &held);
    check_durability(sim, &held);
    sim.report.converged = converged;
}

fn check_outsider(sim: &mut Sim) {
    let outsider = sim.outsider();
    if let Some(engine) = sim.nodes[outsider].engine.as_ref() {
        if !engine.federation_ids().is_empty() {
            let n = engine.federation_ids().len();
            violation(sim, format!("the outsider is in {n} federations"));
        }
    }
    if sim.outsider_answers > 0 {
        let n = sim.outsider_answers;
        violation(
            sim,
            format!("the outsider got {n} answers that were not refusals"),
        );
    }
}

fn check_agreement(sim: &mut Sim, held: &BTreeMap<DocId, BTreeMap<usize, Vec<ChangeHash>>>) {
    let mallory = crate::workload::mallory(sim);
    // Revoked platforms are left out too: they run the same checks, but what active
    // members built on their last changes after the revocation never reaches them.
    let honest: Vec<usize> = (0..sim.options.nodes)
        .filter(|i| *i != mallory && !sim.revoked.contains(i))
        .collect();
    let mut refused: BTreeSet<(DocId, ChangeHash, Option<usize>)> =
        sim.forged.iter().map(|(d, c)| (*d, *c, None)).collect();
    for i in &honest {
        if let Some(engine) = sim.nodes[*i].engine.as_ref() {
            match engine.refusals() {
                Ok(list) => {
                    refused.extend(list.iter().map(|r| (r.document, r.change_hash, Some(*i))));
                }
                Err(e) => sim
                    .violations
                    .push(format!("node {i} cannot list its refusals: {e}")),
            }
        }
    }
    for (doc, change, refuser) in refused {
        if !held.contains_key(&doc) {
            continue;
        }
        // A refusal record whose change its node later accepted (an active member built
        // on a revoked platform's change) is stale, not a disagreement.
        if refuser.is_some_and(|r| {
            sim.nodes[r]
                .engine
                .as_ref()
                .is_some_and(|e| e.holds_change(&doc, &change))
        }) {
            continue;
        }
        for i in &honest {
            let holds = sim.nodes[*i]
                .engine
                .as_ref()
                .is_some_and(|e| e.holds_change(&doc, &change));
            if holds {
                sim.violations.push(format!(
                    "node {i} holds change {change} of {doc}, which an honest node refused or the misbehaving member forged"
                ));
            }
        }
    }
}

fn check_durability(sim: &mut Sim, held: &BTreeMap<DocId, BTreeMap<usize, Vec<ChangeHash>>>) {
    let acknowledged = std::mem::take(&mut sim.acknowledged);
    for (writer, doc, change) in &acknowledged {
        // A revocation with an empty frontier refuses, everywhere and at the revoked
        // node too, its changes that no active member built on (docs/membership.md).
        if sim.revoked.contains(writer) {
            continue;
        }
        let holds = |i: usize| {
            sim.nodes[i]
                .engine
                .as_ref()
                .is_some_and(|e| e.holds_change(doc, change))
        };
        if !holds(*writer) {
            sim.violations.push(format!(
                "node {writer} acknowledged change {change} of {doc} and no longer holds it"
            ));
            continue;
        }
        let Some(holders) = held.get(doc) else {
            continue;
        };
        for i in holders.keys() {
            if !sim.revoked.contains(i) && !holds(*i) && sim.audience_reads(*writer, doc, *i) {
                sim.violations.push(format!(
                    "node {i}, in the audience of {doc}, lacks change {change} acknowledged by node {writer}"
                ));
            }
        }
    }
    sim.acknowledged = acknowledged;
}

impl Sim {
    /// Whether node `i` is in the audience of `doc` as the writer reads it.
    fn audience_reads(&self, writer: usize, doc: &DocId, i: usize) -> bool {
        if doc.kind == DocKind::Platforms {
            return true;
        }
        self.nodes[writer]
            .engine
            .as_ref()
            .is_some_and(|e| e.audience_of(doc).contains(&self.nodes[i].id))
    }
}
