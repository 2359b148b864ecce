//! The network layer on loopback: members connect, gossip and answer requests; a peer
//! that is not allowed never gets a connection; removing a peer disconnects it; a
//! chain-only peer connects and asks, but gossip never reaches it nor comes from it.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use fed_crdt::ids::FederationId;
use fednode::net::protocol::{federation_topic, SyncRequest, SyncResponse};
use fednode::net::{self, NetClient, NetConfig, NetEvent, NetEvents};
use libp2p::gossipsub::MessageAcceptance;
use libp2p::identity::Keypair;
use libp2p::{Multiaddr, PeerId};
use tokio_util::sync::CancellationToken;

struct TestNode {
    client: NetClient,
    events: NetEvents,
    peer: PeerId,
    address: Multiaddr,
    shutdown: CancellationToken,
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn spawn_node(seed: u8) -> TestNode {
    spawn_node_with(seed, NetConfig::default()).await
}

async fn spawn_node_with(seed: u8, mut config: NetConfig) -> TestNode {
    let key = Keypair::ed25519_from_bytes([seed; 32]).expect("key");
    let peer = key.public().to_peer_id();
    let shutdown = CancellationToken::new();
    config.behaviour.gossip_heartbeat = Duration::from_millis(100);
    let (client, events, event_loop) = net::new(key, config, shutdown.clone()).expect("network");
    tokio::spawn(event_loop.run());
    let address = client
        .listen("/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr"))
        .await
        .expect("listen");
    TestNode {
        client,
        events,
        peer,
        address,
        shutdown,
    }
}

async fn allow(node: &TestNode, peers: &[PeerId]) {
    allow_chain_only(node, peers, &[]).await;
}

async fn allow_chain_only(node: &TestNode, members: &[PeerId], chain_only: &[PeerId]) {
    node.client
        .set_allowed_peers(
            members.iter().copied().collect::<HashSet<_>>(),
            chain_only.iter().copied().collect::<HashSet<_>>(),
        )
        .await
        .expect("allow");
}

/// Whether `condition` holds at every poll for `window`.
async fn holds_for<F, Fut>(window: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let end = tokio::time::Instant::now() + window;
    while tokio::time::Instant::now() < end {
        if !condition().await {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

/// Polls `condition` until it holds or the deadline passes.
async fn wait_until<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        if condition().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

/// Publishes as soon as a peer's subscription to the federation has arrived (gossipsub
/// refuses to publish to nobody); false if none arrives within the deadline.
async fn publish_when_subscribed(node: &TestNode, fed: FederationId, data: &[u8]) -> bool {
    for _ in 0..100 {
        if node.client.publish(fed, data.to_vec()).await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The next event matching `pick`, skipping others, within a deadline.
async fn next_event<T>(node: &mut TestNode, mut pick: impl FnMut(NetEvent) -> Option<T>) -> T {
    let deadline = Duration::from_secs(10);
    tokio::time::timeout(deadline, async {
        loop {
            match node.events.recv().await {
                Some(e) => {
                    if let Some(t) = pick(e) {
                        return t;
                    }
                }
                None => panic!("event stream closed"),
            }
        }
    })
    .await
    .expect("event within the deadline")
}

#[tokio::test]
async fn members_connect_and_answer_requests() {
    let a = spawn_node(1).await;
    let mut b = spawn_node(2).await;
    allow(&a, &[b.peer]).await;
    allow(&b, &[a.peer]).await;
    a.client
        .dial(b.peer, b.address.clone())
        .await
        .expect("dial");
    let fed = FederationId([9; 32]);
    let request = SyncRequest::Chain {
        federation: fed,
        after_seq: 3,
        head: fed_crdt::ids::RecordHash([4; 32]),
    };

    let answer = tokio::spawn({
        let client_a = a.client.clone();
        let (peer_b, request) = (b.peer, request.clone());
        async move { client_a.request(peer_b, request).await }
    });
    let (received, channel) = next_event(&mut b, |e| match e {
        NetEvent::Request {
            request, channel, ..
        } => Some((request, channel)),
        _ => None,
    })
    .await;
    assert_eq!(received, request);
    b.client
        .respond(channel, SyncResponse::Chain { records: vec![] });
    let response = answer.await.expect("task").expect("response");
    assert_eq!(response, SyncResponse::Chain { records: vec![] });
}

#[tokio::test]
async fn a_peer_that_is_not_allowed_never_gets_a_connection() {
    let mut a = spawn_node(1).await;
    let b = spawn_node(2).await;
    let outsider = spawn_node(3).await;
    allow(&a, &[b.peer]).await;
    // The outsider would accept a; a does not accept the outsider.
    allow(&outsider, &[a.peer]).await;

    // Dialling out to a peer we do not allow fails before any connection is made.
    let err = a
        .client
        .dial(outsider.peer, outsider.address.clone())
        .await
        .expect_err("dial to a non-member must fail");
    assert!(err.to_string().contains("not a member"), "{err}");

    // Its inbound connection is closed as soon as it is authenticated.
    let _ = outsider.client.dial(a.peer, a.address.clone()).await;
    let never = holds_for(Duration::from_millis(500), || async {
        !a.client
            .connected_peers()
            .await
            .unwrap_or_default()
            .contains(&outsider.peer)
    })
    .await;
    assert!(never, "the outsider was connected");
    wait_until("the outsider sees no connection", || async {
        !outsider
            .client
            .connected_peers()
            .await
            .unwrap_or_default()
            .contains(&a.peer)
    })
    .await;
    while let Some(event) = a.events.try_recv() {
        if let NetEvent::PeerConnected(p) = event {
            assert_ne!(p, outsider.peer, "the outsider was reported connected");
        }
    }
}

#[tokio::test]
async fn gossip_reaches_members_of_the_federation() {
    let a = spawn_node(1).await;
    let mut b = spawn_node(2).await;
    allow(&a, &[b.peer]).await;
    allow(&b, &[a.peer]).await;
    let fed = FederationId([5; 32]);
    a.client.join(fed).await.expect("join a");
    b.client.join(fed).await.expect("join b");
    a.client
        .dial(b.peer, b.address.clone())
        .await
        .expect("dial");

    // Publishing succeeds once b's subscription has reached a.
    assert!(
        publish_when_subscribed(&a, fed, b"new head").await,
        "publish never found a subscribed peer"
    );
    let (topic, source, id, data) = next_event(&mut b, |e| match e {
        NetEvent::Gossip {
            topic,
            source,
            message_id,
            data,
        } => Some((topic, source, message_id, data)),
        _ => None,
    })
    .await;
    assert_eq!(topic, federation_topic(&fed).hash());
    assert_eq!(source, a.peer);
    assert_eq!(data, b"new head");
    b.client
        .report_gossip(id, source, MessageAcceptance::Accept);
}

#[tokio::test]
async fn a_chain_only_peer_may_ask_but_gets_no_gossip() {
    let a = spawn_node(1).await;
    let mut revoked = spawn_node(2).await;
    allow_chain_only(&a, &[], &[revoked.peer]).await;
    // The revoked peer does not know yet: to it, `a` is a member.
    allow(&revoked, &[a.peer]).await;
    let fed = FederationId([6; 32]);
    a.client.join(fed).await.expect("join a");
    revoked.client.join(fed).await.expect("join revoked");
    let mut a = a;
    a.client
        .dial(revoked.peer, revoked.address.clone())
        .await
        .expect("a chain-only peer may connect");
    next_event(&mut revoked, |e| match e {
        NetEvent::PeerConnected(p) if p == a.peer => Some(()),
        _ => None,
    })
    .await;

    // It may ask (the engine decides what it answers).
    let request = SyncRequest::Chain {
        federation: fed,
        after_seq: 0,
        head: fed_crdt::ids::RecordHash([1; 32]),
    };
    let answer = tokio::spawn({
        let (client, peer, request) = (revoked.client.clone(), a.peer, request.clone());
        async move { client.request(peer, request).await }
    });
    let channel = next_event(&mut a, |e| match e {
        NetEvent::Request { channel, .. } => Some(channel),
        _ => None,
    })
    .await;
    a.client
        .respond(channel, SyncResponse::Chain { records: vec![] });
    assert!(answer.await.expect("task").is_ok());

    // Neither side's gossipsub sees the other: nothing can be published to it, and what
    // it publishes finds nobody. Between members, subscriptions cross in milliseconds.
    let apart = holds_for(Duration::from_secs(2), || async {
        a.client.publish(fed, b"head".to_vec()).await.is_err()
            && revoked
                .client
                .publish(fed, b"forged".to_vec())
                .await
                .is_err()
    })
    .await;
    assert!(apart, "gossip crossed a chain-only connection");

    // Made a member again, it is disconnected and, as `a` had dialled it, redialled
    // with gossip.
    allow(&a, &[revoked.peer]).await;
    next_event(&mut revoked, |e| match e {
        NetEvent::PeerDisconnected(p) if p == a.peer => Some(()),
        _ => None,
    })
    .await;
    next_event(&mut revoked, |e| match e {
        NetEvent::PeerConnected(p) if p == a.peer => Some(()),
        _ => None,
    })
    .await;
    assert!(
        publish_when_subscribed(&a, fed, b"head").await,
        "gossip never resumed"
    );
    let data = next_event(&mut revoked, |e| match e {
        NetEvent::Gossip { data, .. } => Some(data),
        _ => None,
    })
    .await;
    assert_eq!(data, b"head");
}

#[tokio::test]
async fn a_full_event_queue_answers_busy_and_drops_gossip_without_stalling() {
    let a = spawn_node(1).await;
    // b's engine reads nothing for now; two gossip messages or requests fill its queue.
    let mut b = spawn_node_with(
        2,
        NetConfig {
            event_queue: 2,
            ..NetConfig::default()
        },
    )
    .await;
    allow(&a, &[b.peer]).await;
    allow(&b, &[a.peer]).await;
    let fed = FederationId([7; 32]);
    a.client.join(fed).await.expect("join a");
    b.client.join(fed).await.expect("join b");
    a.client
        .dial(b.peer, b.address.clone())
        .await
        .expect("dial");

    let request = SyncRequest::Chain {
        federation: fed,
        after_seq: 0,
        head: fed_crdt::ids::RecordHash([1; 32]),
    };
    let (done, mut answers) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..6 {
        let (client, peer, request, done) =
            (a.client.clone(), b.peer, request.clone(), done.clone());
        tokio::spawn(async move {
            let _ = done.send(client.request(peer, request).await);
        });
    }
    // Two wait in b's queue; the four others are answered busy at once.
    for _ in 0..4 {
        let answer = tokio::time::timeout(Duration::from_secs(10), answers.recv())
            .await
            .expect("an answer within the deadline");
        assert!(matches!(answer, Some(Ok(SyncResponse::Busy))), "{answer:?}");
    }
    assert_eq!(b.client.stats().requests_busy(), 4);
    // The loop still serves its own commands while the queue is full.
    let peers = b.client.connected_peers().await.expect("the loop answers");
    assert!(peers.contains(&a.peer));

    // Gossip that finds the queue full is dropped (and reported ignored), not waited on.
    assert!(publish_when_subscribed(&a, fed, b"one").await);
    for data in [b"two".as_slice(), b"three"] {
        a.client.publish(fed, data.to_vec()).await.expect("publish");
    }
    wait_until("b counts the dropped gossip", || async {
        b.client.stats().gossip_dropped() >= 3
    })
    .await;

    // Once b's engine reads, the two queued requests get real answers.
    for _ in 0..2 {
        let channel = next_event(&mut b, |e| match e {
            NetEvent::Request { channel, .. } => Some(channel),
            _ => None,
        })
        .await;
        b.client
            .respond(channel, SyncResponse::Chain { records: vec![] });
    }
    for _ in 0..2 {
        let answer = tokio::time::timeout(Duration::from_secs(10), answers.recv())
            .await
            .expect("an answer within the deadline");
        assert!(
            matches!(answer, Some(Ok(SyncResponse::Chain { .. }))),
            "{answer:?}"
        );
    }
}

#[tokio::test]
async fn removing_a_peer_disconnects_it() {
    let a = spawn_node(1).await;
    let mut b = spawn_node(2).await;
    allow(&a, &[b.peer]).await;
    allow(&b, &[a.peer]).await;
    a.client
        .dial(b.peer, b.address.clone())
        .await
        .expect("dial");
    next_event(&mut b, |e| match e {
        NetEvent::PeerConnected(p) if p == a.peer => Some(()),
        _ => None,
    })
    .await;

    allow(&a, &[]).await;
    next_event(&mut b, |e| match e {
        NetEvent::PeerDisconnected(p) if p == a.peer => Some(()),
        _ => None,
    })
    .await;
    let err = a
        .client
        .dial(b.peer, b.address.clone())
        .await
        .expect_err("no longer allowed");
    assert!(err.to_string().contains("not a member"), "{err}");
}

#[tokio::test]
async fn listen_reports_the_port_the_os_chose() {
    let a = spawn_node(1).await;
    let text = a.address.to_string();
    assert!(text.starts_with("/ip4/127.0.0.1/tcp/"), "{text}");
    assert!(!text.ends_with("/tcp/0"), "{text}");
    let bad = a
        .client
        .listen("/ip4/203.0.113.1/tcp/0".parse().expect("multiaddr"))
        .await;
    assert!(bad.is_err(), "listening on a foreign address must fail");
}

#[tokio::test]
async fn gossip_reaches_a_member_that_joined_before_we_did() {
    let a = spawn_node(1).await;
    let mut b = spawn_node(2).await;
    allow(&a, &[b.peer]).await;
    allow(&b, &[a.peer]).await;
    a.client
        .dial(b.peer, b.address.clone())
        .await
        .expect("dial");
    let fed = FederationId([6; 32]);
    // b subscribes while a is not yet in the federation; a joins afterwards.
    b.client.join(fed).await.expect("join b");
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.client.join(fed).await.expect("join a");
    assert!(
        publish_when_subscribed(&a, fed, b"late").await,
        "a never learnt that b is subscribed"
    );
    let data = next_event(&mut b, |e| match e {
        NetEvent::Gossip { data, .. } => Some(data),
        _ => None,
    })
    .await;
    assert_eq!(data, b"late");
}

#[tokio::test]
async fn a_node_joins_at_most_max_federations() {
    use fednode::net::protocol::MAX_FEDERATIONS;
    let a = spawn_node(1).await;
    for i in 0..MAX_FEDERATIONS {
        let mut id = [0u8; 32];
        id[..8].copy_from_slice(&(i as u64).to_be_bytes());
        a.client
            .join(FederationId(id))
            .await
            .expect("within the limit");
    }
    let err = a
        .client
        .join(FederationId([0xff; 32]))
        .await
        .expect_err("one federation over the limit");
    assert!(err.to_string().contains("the most it may join"), "{err}");
}
