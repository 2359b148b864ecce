//! Who may connect and whom to dial.

use std::collections::HashMap;

use fed_crdt::ids::PlatformId;

use crate::{Effect, Engine, DIAL_BACKOFF_MS};

impl Engine {
    /// Allows exactly the active members of our federations (and, for the chain only,
    /// the platforms they revoked), and dials the members with known addresses that are
    /// not connected.
    pub(crate) fn refresh_peers(&mut self) {
        let now = self.clock.timestamp();
        let members = self.federations.allowed_peers(now);
        let chain_only = self.federations.chain_only_peers(now);
        let mut targets: HashMap<PlatformId, Vec<String>> = HashMap::new();
        for (peer, addresses) in self.federations.member_addresses(now) {
            targets.entry(peer).or_default().extend(addresses);
        }
        for (peer, addresses) in &self.bootstrap {
            if members.contains(peer) {
                targets
                    .entry(*peer)
                    .or_default()
                    .extend(addresses.iter().cloned());
            }
        }
        self.effects.push(Effect::AllowPeers {
            members,
            chain_only,
        });
        let mut targets: Vec<(PlatformId, Vec<String>)> = targets.into_iter().collect();
        // In a stable order, so that a run is the same given the same inputs.
        targets.sort_by_key(|(peer, _)| *peer);
        for (peer, addresses) in targets {
            if self.connected.contains(&peer) {
                continue;
            }
            // An unreachable member is retried, but not on every tick.
            if self
                .last_dial
                .get(&peer)
                .is_some_and(|t| self.clock.millis.saturating_sub(*t) < DIAL_BACKOFF_MS)
            {
                continue;
            }
            self.last_dial.insert(peer, self.clock.millis);
            self.effects.push(Effect::Dial { peer, addresses });
        }
    }
}
