//! The API against slow, lying and too many clients, and a stop that no client holds up.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use fed_e2e::{wait_until, TestNode};

fn address(node: &TestNode) -> String {
    node.api.trim_start_matches("http://").to_string()
}

/// A connection that has sent `bytes` and nothing more.
fn half_sent(node: &TestNode, bytes: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address(node)).expect("connect to the API");
    stream.write_all(bytes.as_bytes()).expect("send");
    stream
}

/// Whether the server closed `stream` (a read returns end of file or a reset) within
/// `deadline`; what it sent before closing is returned.
fn closed_within(stream: &mut TcpStream, deadline: Duration) -> Option<String> {
    let until = Instant::now() + deadline;
    let mut received = Vec::new();
    while Instant::now() < until {
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("read timeout");
        let mut buf = [0u8; 4096];
        match stream.read(&mut buf) {
            Ok(0) => return Some(String::from_utf8_lossy(&received).into_owned()),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some(String::from_utf8_lossy(&received).into_owned()),
        }
    }
    None
}

fn log_of(node: &TestNode) -> String {
    std::fs::read_to_string(node.dir.with_extension("log")).unwrap_or_default()
}

#[test]
fn the_node_stops_within_five_seconds_whatever_clients_are_connected() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = TestNode::init(tmp.path(), "n1");
    let mut node = TestNode::start(&dir, &[]);
    // A live feed, read until its headers came back: it is streaming.
    let mut feed = half_sent(
        &node,
        &format!(
            "GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
            node.token
        ),
    );
    feed.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let mut head = [0u8; 12];
    feed.read_exact(&mut head).expect("the feed answers");
    assert_eq!(&head, b"HTTP/1.1 200");
    // A request whose head is half sent, and one whose body never comes.
    let _half_head = half_sent(&node, "GET /v1/status HTTP/1.1\r\nHost: x\r\n");
    let _half_body = half_sent(
        &node,
        &format!(
            "POST /v1/federations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: 1000\r\n\r\n{{",
            node.token
        ),
    );
    let code = node.stop_within(Duration::from_secs(5));
    assert_eq!(code, Some(0), "the node exits 0 within 5 s");
    assert!(
        closed_within(&mut feed, Duration::from_secs(1)).is_some(),
        "the feed ends"
    );
}

#[test]
fn a_half_sent_head_is_closed_after_the_header_timeout() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = TestNode::init(tmp.path(), "n1");
    let node = TestNode::start(&dir, &[]);
    let mut idle: Vec<TcpStream> = (0..50)
        .map(|_| half_sent(&node, "GET /v1/status HTTP/1.1\r\nHost: x\r\n"))
        .collect();
    // The API still answers meanwhile.
    node.get("/v1/status");
    // fednode's API_HEADER_READ_TIMEOUT is 10 s.
    for stream in &mut idle {
        assert!(
            closed_within(stream, Duration::from_secs(30)).is_some(),
            "a connection holding a partial head is closed"
        );
    }
    node.get("/v1/status");
}

#[test]
fn connections_over_the_bound_are_refused_and_logged() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = TestNode::init(tmp.path(), "n1");
    let node = TestNode::start_with(&dir, &[], &["--max-api-connections", "8"]);
    let idle: Vec<TcpStream> = (0..8)
        .map(|_| half_sent(&node, "GET /v1/status HTTP/1.1\r\nHost: x\r\n"))
        .collect();
    let mut extra = half_sent(&node, "GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n");
    let answer = closed_within(&mut extra, Duration::from_secs(5));
    assert_eq!(
        answer.as_deref(),
        Some(""),
        "one connection over the bound is closed at once, unanswered"
    );
    wait_until("the refusal is logged", || {
        log_of(&node).contains("API connection refused")
    });
    drop(idle);
    wait_until("the API answers again once connections close", || {
        node.try_call("GET", "/v1/status", None)
            .is_ok_and(|(status, _)| status == 200)
    });
}

#[test]
fn a_declared_length_over_the_limit_is_answered_413_at_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = TestNode::init(tmp.path(), "n1");
    let node = TestNode::start(&dir, &[]);
    let mut stream = half_sent(
        &node,
        &format!(
            "POST /v1/federations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 99999999999\r\n\r\nab",
            node.token
        ),
    );
    let answer = closed_within(&mut stream, Duration::from_secs(5))
        .expect("answered and closed without waiting for the body");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"too_large\""), "{answer}");
}
