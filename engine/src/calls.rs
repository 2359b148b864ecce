//! An operator's [`Command`], carried out.

use crate::command::{Answer, Command, NodeStatus};
use crate::protocol::SyncRequest;
use crate::{CallId, Effect, Engine, EngineError};

impl Engine {
    /// Carries out `command`; its reply leaves once what it wrote is durable.
    pub(crate) fn call(&mut self, id: CallId, command: Command) {
        // Resuming reopens the store, which a full disk may refuse, and reads fail until
        // it succeeds: only a write tries it.
        if command.writes() {
            self.resume_if_halted();
        }
        let answer = self.carry_out(command);
        self.reply(id, answer);
    }

    fn carry_out(&mut self, command: Command) -> Result<Answer, EngineError> {
        match command {
            Command::Join(file) => {
                let (federation, outcome) = self.federations.join(&file, self.clock.timestamp())?;
                self.effects.push(Effect::Subscribe(federation));
                self.after_chain_change(&federation, &outcome);
                Ok(Answer::Chain(federation, outcome))
            }
            Command::Publish(file) => {
                let verified = file
                    .verify()
                    .map_err(|e| EngineError::InvalidChain(e.to_string()))?;
                let federation = verified.chain.federation();
                let outcome = self
                    .federations
                    .receive(&federation, verified.chain.records().to_vec())?;
                self.after_chain_change(&federation, &outcome);
                Ok(Answer::Chain(federation, outcome))
            }
            Command::Status => Ok(Answer::Status(Box::new(self.status()))),
            Command::SetProfile {
                federation,
                profile,
            } => {
                self.check_may_write(&federation)?;
                self.set_profile(federation, &profile).map(Answer::Profile)
            }
            Command::Platforms(federation) => self.platforms(&federation).map(Answer::Platforms),
            Command::Refusals(federation) => self
                .documents
                .refusals(federation.as_ref())
                .map(Answer::Refusals),
            Command::ListProjects(federation) => self
                .federations
                .get(&federation)
                .ok_or(EngineError::UnknownFederation(federation))
                .map(|_| Answer::Projects(self.list_projects(federation))),
            Command::ListExports {
                federation,
                state,
                role,
            } => self
                .federations
                .get(&federation)
                .ok_or(EngineError::UnknownFederation(federation))
                .map(|_| {
                    let list = self
                        .list_exports(federation)
                        .into_iter()
                        .filter(|e| state.is_none_or(|s| e.state == s))
                        .filter(|e| role.is_none_or(|r| e.role == r))
                        .collect();
                    Answer::Exports(list)
                }),
            Command::Projects { federation, op } => {
                if op.writes() {
                    self.check_may_write(&federation)?;
                }
                self.projects(federation, op).map(Answer::Project)
            }
            Command::Exports { federation, op } => {
                if op.writes() {
                    self.check_may_write(&federation)?;
                }
                self.exports(federation, op).map(Answer::Export)
            }
            Command::Catalog(federation) => self
                .federations
                .get(&federation)
                .map(|c| Answer::Catalog(Box::new(c.state().catalog.clone())))
                .ok_or(EngineError::UnknownFederation(federation)),
            Command::Chain(federation) => self
                .chain_file(&federation)
                .map(|f| Answer::ChainFile(Box::new(f))),
        }
    }

    /// The node's state as the engine knows it; the executor adds the network's and the
    /// feed's counters.
    fn status(&self) -> NodeStatus {
        let now = self.clock.timestamp();
        let chain_only = self.federations.chain_only_peers(now);
        let (revoked_peers, peers): (Vec<_>, Vec<_>) =
            self.connected.iter().partition(|p| chain_only.contains(p));
        let names = |peers: Vec<&fed_crdt::ids::PlatformId>| {
            peers.iter().map(ToString::to_string).collect()
        };
        let federations = self.federation_ids();
        let relayed_documents = federations
            .iter()
            .map(|f| self.relay.documents(*f).count())
            .sum();
        let relayed_changes = federations.iter().map(|f| self.relay.changes(*f)).sum();
        NodeStatus {
            platform_id: self.me(),
            federations: self.federations.summaries(now),
            peers: names(peers),
            revoked_peers: names(revoked_peers),
            relayed_documents,
            relayed_changes,
            event_readers: 0,
            gossip_dropped: 0,
            pushes_dropped: self.pushes.dropped(),
            requests_busy: 0,
        }
    }

    /// Sends a request; what it is for decides what its answer does.
    pub(crate) fn send_request(
        &mut self,
        peer: fed_crdt::ids::PlatformId,
        request: SyncRequest,
        purpose: crate::Purpose,
        when_durable: bool,
    ) {
        self.next_request += 1;
        let id = crate::RequestId(self.next_request);
        self.requests.insert(id, purpose);
        let effect = Effect::Request { id, peer, request };
        if when_durable {
            self.when_durable(effect);
        } else {
            self.effects.push(effect);
        }
    }
}
