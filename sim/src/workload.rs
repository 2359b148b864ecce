//! What happens at each step: an operator writes (profiles, projects, shares and
//! unshares, export requests), a node crashes, the network splits, the administrator
//! revokes a platform, or the misbehaving member sends what the rules forbid.

use std::collections::BTreeSet;

use fed_crdt::envelope::ChangeEnvelope;
use fed_crdt::ids::{DocId, DocKind};
use fed_crdt::registry::platforms::{profile_change, PlatformProfile};
use fed_crdt::registry::projects::{create_project, Access, Project};
use fed_engine::exports::ExportOp;
use fed_engine::projects::{ProjectOp, ProjectPatch};
use fed_engine::protocol::{topic_name, Announcement};
use fed_engine::{Answer, Command, EngineError};
use rand::Rng;

use crate::{Expect, Sim};

/// The misbehaving member: the last platform. It runs the honest engine, and the
/// workload sends forged changes in its name.
pub(crate) fn mallory(sim: &Sim) -> usize {
    sim.options.nodes - 1
}

impl Sim {
    /// One workload step.
    pub(crate) fn step(&mut self, step: usize) {
        let roll = self.below(1000);
        let i = self.below(self.options.nodes);
        match roll {
            0..=1 => self.crash(i),
            2 => self.partition(),
            3..=5 if self.revoked.is_empty() && step > self.options.steps / 3 => self.revoke(i),
            6..=11 => self.attack(),
            12..=99 => self.set_profile(i, step),
            100..=349 => self.create_project(i, step),
            350..=799 => self.update_project(step),
            800..=899 => self.share_project(true),
            900..=939 => self.share_project(false),
            _ => self.create_export(),
        }
    }

    fn federation(&self) -> fed_crdt::ids::FederationId {
        self.world.chain.federation()
    }

    fn set_profile(&mut self, i: usize, step: usize) {
        let profile = PlatformProfile {
            display_name: format!("Platform {i}"),
            description: format!("step {step}"),
            ..PlatformProfile::default()
        };
        let federation = self.federation();
        let expect = self.expect_of(
            i,
            Expect::Write(Some(DocId::platforms_registry(&federation))),
        );
        self.note(format!("node {i} sets its profile"));
        self.call(
            i,
            Command::SetProfile {
                federation,
                profile,
            },
            expect,
        );
    }

    /// A write by a platform that knows it was revoked must be refused (one that has not
    /// heard yet writes, and the others refuse what no active member built on).
    fn expect_of(&self, i: usize, expect: Expect) -> Expect {
        let federation = self.federation();
        let me = self.nodes[i].id;
        let knows = self.nodes[i].engine.as_ref().is_some_and(|e| {
            e.chain(&federation)
                .and_then(|c| c.state().members.get(&me))
                .is_some_and(|m| m.revoked.is_some())
        });
        if knows {
            Expect::Refusal
        } else {
            expect
        }
    }

    fn create_project(&mut self, i: usize, step: usize) {
        let project = Project {
            code: format!("P{step}"),
            name: format!("Project {step}"),
            ..Project::default()
        };
        let expect = self.expect_of(i, Expect::Create);
        self.note(format!("node {i} creates project P{step}"));
        let federation = self.federation();
        self.call(
            i,
            Command::Projects {
                federation,
                op: ProjectOp::Create(Box::new(project)),
            },
            expect,
        );
    }

    fn update_project(&mut self, step: usize) {
        if self.projects.is_empty() {
            return;
        }
        let pick = self.below(self.projects.len());
        let (owner, id) = self.projects[pick];
        let patch = ProjectPatch {
            description: Some(format!("revision {step}")),
            ..ProjectPatch::default()
        };
        let expect = self.expect_of(owner, Expect::Write(Some(id)));
        self.note(format!("node {owner} patches {id}"));
        let federation = self.federation();
        self.call(
            owner,
            Command::Projects {
                federation,
                op: ProjectOp::Update(id, Box::new(patch)),
            },
            expect,
        );
    }

    /// Shares a project with another platform (read or write), or unshares it.
    fn share_project(&mut self, share: bool) {
        if self.projects.is_empty() {
            return;
        }
        let pick = self.below(self.projects.len());
        let (owner, id) = self.projects[pick];
        let other = self.below(self.options.nodes);
        if other == owner {
            return;
        }
        let platform = self.nodes[other].id;
        let access = if !share {
            None
        } else if self.rng.random_bool(0.5) {
            Some(Access::Read)
        } else {
            Some(Access::Write)
        };
        if share {
            let shared = self.ever_shared.entry(id).or_default();
            // A share the owner writes after its revocation may still count (an active
            // member builds on it), but no grant of a revoked owner does: the platform
            // is named and never keyed (docs/encryption.md).
            if self.revoked.contains(&owner) && !shared.contains(&platform) {
                self.keyless.insert((id, platform));
            }
            shared.insert(platform);
        }
        let expect = self.expect_of(owner, Expect::Write(Some(id)));
        self.note(match access {
            Some(access) => format!("node {owner} shares {id} with node {other} ({access:?})"),
            None => format!("node {owner} unshares {id} from node {other}"),
        });
        let federation = self.federation();
        self.call(
            owner,
            Command::Projects {
                federation,
                op: ProjectOp::Share(id, vec![(platform, access)]),
            },
            expect,
        );
    }

    /// An export request from a project's owner to a platform it shares the project with.
    fn create_export(&mut self) {
        if self.projects.is_empty() {
            return;
        }
        let pick = self.below(self.projects.len());
        let (owner, project) = self.projects[pick];
        let owner_id = self.nodes[owner].id;
        let shared: Vec<_> = self
            .ever_in_audience(&project)
            .into_iter()
            .filter(|p| *p != owner_id)
            .collect();
        if shared.is_empty() {
            return;
        }
        let provider = shared[self.below(shared.len())];
        let from = self.index.get(&provider).copied().unwrap_or(usize::MAX);
        self.note(format!(
            "node {owner} requests an export of {project} from node {from}"
        ));
        let federation = self.federation();
        self.call(
            owner,
            Command::Exports {
                federation,
                op: ExportOp::Create {
                    provider,
                    project,
                    request: Box::new(fed_crdt::registry::exports::ExportRequest {
                        title: format!("Export of {project}"),
                        dataset: "cohort".into(),
                        purpose: "research".into(),
                        ..Default::default()
                    }),
                },
            },
            Expect::Export,
        );
    }

    /// The administrator revokes platform `i` and hands the record to one node; the
    /// chain spreads from there.
    fn revoke(&mut self, i: usize) {
        if i == crate::workload::mallory(self) {
            return;
        }
        self.report.revocations += 1;
        self.revoked.insert(i);
        let platform = self.nodes[i].id;
        let chain = self.world.revoke(platform);
        let file = fed_crdt::chain::file::ChainFile::new(&chain, None);
        let to = (i + 1) % self.options.nodes;
        self.note(format!(
            "the administrator revokes node {i} (record {}), handed to node {to}",
            chain.state().seq
        ));
        self.call(to, Command::Publish(Box::new(file)), Expect::Other);
    }

    /// The misbehaving member sends, by gossip to every node it is connected to, a change
    /// that must be refused: a registry change whose author is another platform (its
    /// signature then does not check), or a private document's change, which never
    /// travels by gossip.
    fn attack(&mut self) {
        let m = mallory(self);
        let federation = self.federation();
        let chain = self.world.chain.clone();
        let signing = self.world.platforms[m].signing.clone();
        let now = self.now;
        let forged: Option<ChangeEnvelope> = if self.rng.random_bool(0.5) {
            let pick = self.below(m.max(1));
            let victim = self.nodes[pick].id;
            let doc =
                fed_crdt::registry::Document::new(DocId::platforms_registry(&federation), &chain);
            let profile = PlatformProfile {
                display_name: "forged".into(),
                description: "forged".into(),
                ..PlatformProfile::default()
            };
            profile_change(&doc, &chain, &signing, &profile, now)
                .ok()
                .flatten()
                .map(|own| {
                    let mut env = own.into_envelope();
                    env.author = victim;
                    env
                })
        } else {
            let nonce: [u8; 16] = self.rng.random();
            let project = Project {
                code: "GOSSIPED".into(),
                name: "gossiped".into(),
                ..Project::default()
            };
            create_project(&chain, &signing, nonce, &project, now)
                .ok()
                .map(|(_, own)| own.into_envelope())
        };
        self.probe_from_outsider();
        let Some(env) = forged else {
            return;
        };
        self.report.attacks += 1;
        self.note(format!(
            "node {m} gossips forged change {} of {}",
            env.change_hash, env.document
        ));
        self.forged.push((env.document, env.change_hash));
        let data = Announcement::Change {
            envelope: Box::new(env),
        }
        .to_bytes();
        let topic = topic_name(&federation);
        let from = self.nodes[m].id;
        for j in 0..self.nodes.len() {
            if j != m && self.linked(m, j) {
                self.send_gossip(j, from, &topic, &data);
            }
        }
    }

    /// The outsider, a platform of no federation, asks a member for the chain and the
    /// registry as if it had a connection; both must be refused.
    fn probe_from_outsider(&mut self) {
        let outsider = self.outsider();
        let to = self.below(self.options.nodes);
        let federation = self.federation();
        let requests = [
            fed_engine::protocol::SyncRequest::Chain {
                federation,
                after_seq: 0,
                head: self.world.chain.records()[0].hash(),
            },
            fed_engine::protocol::SyncRequest::Document {
                federation,
                document: DocId::platforms_registry(&federation),
                heads: Vec::new(),
                have: Vec::new(),
            },
        ];
        for request in requests {
            self.next_number += 1;
            let number = self.next_number;
            self.inbound
                .insert((to, number), (outsider, fed_engine::RequestId(number)));
            let peer = self.nodes[outsider].id;
            self.feed(
                to,
                fed_engine::Input::Request {
                    id: fed_engine::InboundId(number),
                    peer,
                    request,
                },
            );
        }
    }

    pub(crate) fn workload_replied(
        &mut self,
        i: usize,
        expect: Expect,
        answer: Result<Answer, EngineError>,
    ) {
        match (expect, answer) {
            (Expect::Refusal, Ok(_)) => self.violations.push(format!(
                "node {i}: a write of a revoked platform was acknowledged"
            )),
            (Expect::Refusal, Err(_)) | (Expect::Other, _) => {}
            (_, Err(e)) => {
                self.report.writes_refused += 1;
                self.note(format!("node {i} refuses the write: {e}"));
                if std::env::var_os("SIMULATE_SHOW_REFUSALS").is_some() {
                    eprintln!("node {i}: write refused: {e}");
                }
            }
            (Expect::Create, Ok(Answer::Project(entry))) => {
                self.report.writes_acknowledged += 1;
                self.projects.push((i, entry.id));
                self.ever_shared
                    .entry(entry.id)
                    .or_default()
                    .insert(self.nodes[i].id);
                self.acknowledge(i, entry.id, &entry.heads);
            }
            (Expect::Export, Ok(Answer::Export(entry))) => {
                self.report.writes_acknowledged += 1;
                let parties = self.ever_shared.entry(entry.id).or_default();
                parties.insert(entry.requester);
                parties.insert(entry.provider);
                self.acknowledge(i, entry.id, &entry.heads);
            }
            (Expect::Write(Some(doc)), Ok(answer)) => {
                self.report.writes_acknowledged += 1;
                let heads = match answer {
                    Answer::Project(entry) => entry.heads,
                    Answer::Export(entry) => entry.heads,
                    Answer::Profile(Some(change)) => vec![change],
                    _ => Vec::new(),
                };
                self.acknowledge(i, doc, &heads);
            }
            (_, Ok(_)) => self.report.writes_acknowledged += 1,
        }
    }

    fn acknowledge(&mut self, i: usize, doc: DocId, heads: &[fed_crdt::ids::ChangeHash]) {
        let shown: Vec<String> = heads.iter().map(|h| h.fmt_short()).collect();
        self.note(format!(
            "node {i} acknowledges {doc} at [{}]",
            shown.join(", ")
        ));
        if doc.kind == DocKind::Platforms || !heads.is_empty() {
            for head in heads {
                self.acknowledged.push((i, doc, *head));
            }
        }
    }

    /// Platforms that may ever have held a document: its owner and whoever it was shared
    /// with (an unshared platform keeps what it had).
    pub(crate) fn ever_in_audience(&self, doc: &DocId) -> BTreeSet<fed_crdt::ids::PlatformId> {
        self.ever_shared.get(doc).cloned().unwrap_or_default()
    }
}
