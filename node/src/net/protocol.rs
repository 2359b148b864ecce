//! The libp2p side of what nodes say to each other: the stream protocol, the gossip topic
//! of a federation and gossipsub's subscription filter. The messages and their limits are
//! the engine's (`fed_engine::protocol`).

use fed_crdt::ids::FederationId;
use libp2p::gossipsub::{self, IdentTopic};
use libp2p::StreamProtocol;

pub use fed_engine::protocol::*;

/// The request-response protocol for anti-entropy and catch-up.
pub const SYNC_PROTOCOL: StreamProtocol = StreamProtocol::new("/fednet/sync/1");

/// The gossip topic of a federation, named by [`topic_name`].
pub fn federation_topic(federation: &FederationId) -> IdentTopic {
    IdentTopic::new(topic_name(federation))
}
/// The subscription filter given to gossipsub: counts capped by our own limits.
///
/// Remote subscriptions are tracked whatever their topic (within the caps): gossipsub never
/// re-announces a peer's subscriptions, so a node that joins a federation after
/// connecting to a fellow member must already know that the member subscribed. Only
/// members ever connect, and topics are hashes, so nothing is learnt from this. Our own
/// subscriptions are decided by the engine (one per federation joined).
pub type SubscriptionFilter =
    gossipsub::MaxCountSubscriptionFilter<gossipsub::AllowAllSubscriptionFilter>;

/// Our subscription filter with its limits.
pub fn subscription_filter() -> SubscriptionFilter {
    gossipsub::MaxCountSubscriptionFilter {
        filter: gossipsub::AllowAllSubscriptionFilter {},
        max_subscribed_topics: MAX_FEDERATIONS,
        max_subscriptions_per_request: MAX_REMOTE_TOPICS,
    }
}
