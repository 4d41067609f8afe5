//! The network task between real swarms in one process, on 127.0.0.1.
//!
//! Every wait polls with a deadline; "nothing arrives" is asserted over a
//! bounded window after the event that would have caused it.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::time::Duration;

use concord_node::net::{
    self, NetConfig, NetError, NetEvent, NetHandle, SYNC_PROTOCOL, SyncCodec, Topic, Verdict,
};
use concord_protocol::entry::WireEntry;
use concord_protocol::origin::Origin;
use concord_protocol::wire::{
    Gossip, MAX_SYNC_REQUEST_BYTES, MAX_SYNC_RESPONSE_BYTES, SyncRequest, SyncResponse,
};
use libp2p::futures::io::Cursor;
use libp2p::identity::Keypair;
use libp2p::multiaddr::Protocol;
use libp2p::request_response::Codec;
use libp2p::{Multiaddr, PeerId, StreamProtocol};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Longest wait for something that should happen.
const DEADLINE: Duration = Duration::from_secs(30);
/// How long something that must not happen is watched for.
const QUIET_WINDOW: Duration = Duration::from_secs(3);
const POLL: Duration = Duration::from_millis(50);

struct Node {
    peer: PeerId,
    handle: NetHandle,
    events: mpsc::Receiver<NetEvent>,
    shutdown: CancellationToken,
    join: JoinHandle<()>,
    addrs: Vec<Multiaddr>,
}

impl Node {
    fn addr(&self, transport: Transport) -> (PeerId, Multiaddr) {
        let addr = self
            .addrs
            .iter()
            .find(|addr| transport.matches(addr))
            .expect("every node listens on TCP and QUIC")
            .clone();
        (self.peer, addr)
    }
}

#[derive(Debug, Clone, Copy)]
enum Transport {
    Tcp,
    Quic,
}

impl Transport {
    fn matches(self, addr: &Multiaddr) -> bool {
        addr.iter().any(|p| match self {
            Transport::Tcp => matches!(p, Protocol::Tcp(_)),
            Transport::Quic => matches!(p, Protocol::QuicV1),
        })
    }
}

fn keypair(seed: u8) -> Keypair {
    Keypair::ed25519_from_bytes([seed; 32]).expect("any 32 bytes are an ed25519 seed")
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Starts a node on loopback ports chosen by the OS and waits until it
/// listens on both transports.
async fn start(keypair: Keypair, allowed: &[PeerId], bootstrap: Vec<(PeerId, Multiaddr)>) -> Node {
    init_tracing();
    let peer = keypair.public().to_peer_id();
    let config = NetConfig {
        keypair,
        listen: vec![
            "/ip4/127.0.0.1/tcp/0".parse().expect("valid multiaddr"),
            "/ip4/127.0.0.1/udp/0/quic-v1"
                .parse()
                .expect("valid multiaddr"),
        ],
        bootstrap,
        allowed: allowed
            .iter()
            .map(|peer| (*peer, peer.to_string()))
            .collect::<HashMap<_, _>>(),
        federation: "latam".into(),
        mdns: false,
    };
    let (event_tx, events) = mpsc::channel(64);
    let shutdown = CancellationToken::new();
    let mut registry = prometheus_client::registry::Registry::default();
    let (handle, join) =
        net::spawn(config, event_tx, shutdown.clone(), &mut registry).expect("network starts");
    let addrs = eventually("both listeners", || async {
        let addrs = handle.listen_addrs().await;
        let both = [Transport::Tcp, Transport::Quic]
            .iter()
            .all(|t| addrs.iter().any(|a| t.matches(a)));
        both.then_some(addrs)
    })
    .await;
    Node {
        peer,
        handle,
        events,
        shutdown,
        join,
        addrs,
    }
}

/// Polls `probe` until it yields a value, failing after [`DEADLINE`].
async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + DEADLINE;
    let mut tick = tokio::time::interval(POLL);
    loop {
        tick.tick().await;
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
    }
}

/// The next event matching `wanted`, and the events skipped on the way.
async fn next_event(
    events: &mut mpsc::Receiver<NetEvent>,
    what: &str,
    mut wanted: impl FnMut(&NetEvent) -> bool,
) -> (NetEvent, Vec<NetEvent>) {
    let deadline = Instant::now() + DEADLINE;
    let mut skipped = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(event)) if wanted(&event) => return (event, skipped),
            Ok(Some(event)) => skipped.push(event),
            Ok(None) => panic!("event channel closed while waiting for {what}"),
            Err(_) => panic!("timed out waiting for {what}; saw {skipped:?}"),
        }
    }
}

/// Every event that arrives within `window`.
async fn events_within(events: &mut mpsc::Receiver<NetEvent>, window: Duration) -> Vec<NetEvent> {
    let deadline = Instant::now() + window;
    let mut seen = Vec::new();
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.recv()).await {
        seen.push(event);
    }
    seen
}

fn entry(header: &str) -> Gossip {
    Gossip::Entry {
        entry: WireEntry {
            header: header.into(),
            signature: "c2lnbmF0dXJl".into(),
            payload: None,
        },
    }
}

async fn mesh_contains(handle: &NetHandle, peers: &[PeerId]) -> bool {
    let mesh = handle.mesh_peers(Topic::Entries).await;
    peers.iter().all(|peer| mesh.contains(peer))
}

#[tokio::test]
async fn gossip_is_forwarded_after_accept_and_not_after_reject() {
    let (key_a, key_b, key_c) = (keypair(1), keypair(2), keypair(3));
    let (id_a, id_b, id_c) = (
        key_a.public().to_peer_id(),
        key_b.public().to_peer_id(),
        key_c.public().to_peer_id(),
    );
    // B reaches A over QUIC and C reaches B over TCP; A and C never connect.
    let a = start(key_a, &[id_b, id_c], vec![]).await;
    let mut b = start(key_b, &[id_a, id_c], vec![a.addr(Transport::Quic)]).await;
    let mut c = start(key_c, &[id_a, id_b], vec![b.addr(Transport::Tcp)]).await;
    eventually("the A-B-C mesh", || async {
        let meshed = mesh_contains(&a.handle, &[id_b]).await
            && mesh_contains(&b.handle, &[id_a, id_c]).await
            && mesh_contains(&c.handle, &[id_b]).await;
        meshed.then_some(())
    })
    .await;
    assert!(
        a.handle.peers().await.iter().all(|info| info.peer != id_c),
        "A and C are not connected"
    );

    let first = entry("Zmlyc3Q=");
    a.handle
        .publish(Topic::Entries, &first)
        .await
        .expect("publish the first entry");
    let (event, _) = next_event(&mut b.events, "the first entry at B", |e| {
        matches!(e, NetEvent::Gossip { .. })
    })
    .await;
    let NetEvent::Gossip {
        source,
        author,
        message_id,
        topic,
        message,
    } = event
    else {
        unreachable!("matched above")
    };
    assert_eq!(
        (source, author, topic, &*message),
        (id_a, id_a, Topic::Entries, &first)
    );
    b.handle.report(message_id, source, Verdict::Accept).await;

    let (event, _) = next_event(&mut c.events, "the first entry at C", |e| {
        matches!(e, NetEvent::Gossip { .. })
    })
    .await;
    let NetEvent::Gossip {
        source,
        author,
        message_id,
        message,
        ..
    } = event
    else {
        unreachable!("matched above")
    };
    assert_eq!(
        (source, author, &*message),
        (id_b, id_a, &first),
        "B forwarded A's entry"
    );
    c.handle.report(message_id, source, Verdict::Accept).await;

    let second = entry("c2Vjb25k");
    a.handle
        .publish(Topic::Entries, &second)
        .await
        .expect("publish the second entry");
    let (event, _) = next_event(&mut b.events, "the second entry at B", |e| {
        matches!(e, NetEvent::Gossip { .. })
    })
    .await;
    let NetEvent::Gossip {
        source,
        message_id,
        message,
        ..
    } = event
    else {
        unreachable!("matched above")
    };
    assert_eq!(
        (source, &*message),
        (id_a, &second),
        "the second entry reached B"
    );
    b.handle.report(message_id, source, Verdict::Reject).await;

    let at_c = events_within(&mut c.events, QUIET_WINDOW).await;
    assert!(
        !at_c.iter().any(|e| matches!(e, NetEvent::Gossip { .. })),
        "a rejected message must not be forwarded: {at_c:?}"
    );
    let score = eventually("A's score at B", || async {
        b.handle
            .peers()
            .await
            .into_iter()
            .find(|info| info.peer == id_a)
            .and_then(|info| info.score)
    })
    .await;
    assert!(
        score < 0.0,
        "a rejected message lowers its forwarder's score, got {score}"
    );
}

#[tokio::test]
async fn a_peer_outside_the_roster_is_refused() {
    let (key_a, key_d) = (keypair(11), keypair(14));
    let (id_a, id_d) = (key_a.public().to_peer_id(), key_d.public().to_peer_id());
    let member = keypair(12).public().to_peer_id();
    let mut a = start(key_a, &[member], vec![]).await;
    // D believes A is a roster peer; A does not know D.
    let mut d = start(key_d, &[id_a], vec![a.addr(Transport::Tcp)]).await;

    let (refused, skipped) = next_event(
        &mut a.events,
        "A refusing D",
        |e| matches!(e, NetEvent::PeerRefused { peer, .. } if *peer == id_d),
    )
    .await;
    let NetEvent::PeerRefused { addr, .. } = refused else {
        unreachable!("matched above")
    };
    let addr = addr.expect("an inbound refusal names the remote address");
    assert!(
        addr.iter()
            .any(|p| p == Protocol::Ip4([127, 0, 0, 1].into())),
        "refused from {addr}"
    );

    // D keeps redialing with backoff; A refuses every time.
    let later = events_within(&mut a.events, QUIET_WINDOW).await;
    for event in skipped.iter().chain(&later) {
        assert!(
            !matches!(event, NetEvent::PeerConnected { peer, .. } if *peer == id_d),
            "A must never report D as connected: {event:?}"
        );
    }
    assert!(
        a.handle.peers().await.is_empty(),
        "A holds no connection to D"
    );

    // D sees the connection closed, never a lasting one.
    eventually("D without a connection to A", || async {
        d.handle.peers().await.is_empty().then_some(())
    })
    .await;
    let at_d: Vec<NetEvent> = events_within(&mut d.events, Duration::ZERO).await;
    let n_connected = at_d
        .iter()
        .filter(|e| matches!(e, NetEvent::PeerConnected { .. }))
        .count();
    let n_disconnected = at_d
        .iter()
        .filter(|e| matches!(e, NetEvent::PeerDisconnected { .. }))
        .count();
    assert!(
        n_connected <= n_disconnected + 1,
        "every connection D saw was closed: {at_d:?}"
    );

    // Nor will A ask anything of a peer outside its roster.
    assert_eq!(
        a.handle.request(id_d, SyncRequest::Checkpoints).await,
        Err(NetError::NotAllowed(id_d))
    );
}

/// Answers the next sync request `events` carries with `response`.
async fn answer_next(events: &mut mpsc::Receiver<NetEvent>, from: PeerId, response: SyncResponse) {
    let (event, _) = next_event(events, "a sync request", |e| {
        matches!(e, NetEvent::SyncRequest { .. })
    })
    .await;
    let NetEvent::SyncRequest {
        peer,
        request,
        reply,
    } = event
    else {
        unreachable!("matched above")
    };
    assert_eq!((peer, request), (from, SyncRequest::Checkpoints));
    reply
        .send(response)
        .expect("the network task waits for the answer");
}

#[tokio::test]
async fn sync_requests_are_answered_and_oversized_responses_refused() {
    let (key_a, key_b) = (keypair(21), keypair(22));
    let (id_a, id_b) = (key_a.public().to_peer_id(), key_b.public().to_peer_id());
    let mut a = start(key_a, &[id_b], vec![]).await;
    let b = start(key_b, &[id_a], vec![a.addr(Transport::Tcp)]).await;

    let checkpoints = SyncResponse::Checkpoints {
        notes: vec!["concord.example/chile\n7\nAAAA\n".into()],
    };
    let (response, ()) = tokio::join!(
        b.handle.request(id_a, SyncRequest::Checkpoints),
        answer_next(&mut a.events, id_b, checkpoints.clone())
    );
    assert_eq!(response, Ok(checkpoints.clone()));

    // A's codec refuses to write a response over the bound; B gets an error.
    let oversized = SyncResponse::Checkpoints {
        notes: vec!["x".repeat(MAX_SYNC_RESPONSE_BYTES)],
    };
    let (response, ()) = tokio::join!(
        b.handle.request(id_a, SyncRequest::Checkpoints),
        answer_next(&mut a.events, id_b, oversized)
    );
    assert!(
        matches!(response, Err(NetError::Stream(_))),
        "an oversized response fails the request: {response:?}"
    );

    // The failure was confined to that stream.
    let (response, ()) = tokio::join!(
        b.handle.request(id_a, SyncRequest::Checkpoints),
        answer_next(&mut a.events, id_b, checkpoints.clone())
    );
    assert_eq!(response, Ok(checkpoints));

    // A request out of the wire bounds is refused by A's network task; the
    // node core never sees it.
    let origin = Origin::new("concord.example/chile").expect("valid origin");
    let empty_range = SyncRequest::Entries {
        origin,
        start: 5,
        end: 5,
    };
    let response = b.handle.request(id_a, empty_range).await;
    assert!(
        matches!(response, Ok(SyncResponse::Refused { .. })),
        "got {response:?}"
    );
    let at_a = events_within(&mut a.events, Duration::ZERO).await;
    assert!(
        !at_a
            .iter()
            .any(|e| matches!(e, NetEvent::SyncRequest { .. })),
        "{at_a:?}"
    );
}

/// What reading `frame` as a response gives: the decoded message or the
/// error kind and message.
async fn read_response(frame: Vec<u8>) -> Result<SyncResponse, (io::ErrorKind, String)> {
    let protocol = StreamProtocol::new(SYNC_PROTOCOL);
    SyncCodec
        .read_response(&protocol, &mut Cursor::new(frame))
        .await
        .map_err(|e| (e.kind(), e.to_string()))
}

fn frame(declared_len: usize, body: &[u8]) -> Vec<u8> {
    let mut frame = u32::try_from(declared_len)
        .expect("test lengths fit u32")
        .to_be_bytes()
        .to_vec();
    frame.extend_from_slice(body);
    frame
}

#[tokio::test]
async fn the_sync_codec_checks_bounds_before_decoding() {
    let protocol = StreamProtocol::new(SYNC_PROTOCOL);
    let refused = SyncResponse::Refused {
        reason: "not served".into(),
    };
    let body = concord_protocol::wire::encode(&refused);

    let mut written = Cursor::new(Vec::new());
    SyncCodec
        .write_response(&protocol, &mut written, refused.clone())
        .await
        .expect("write a small response");
    assert_eq!(written.into_inner(), frame(body.len(), &body));

    let cases: Vec<(&str, Vec<u8>, Result<SyncResponse, io::ErrorKind>)> = vec![
        (
            "a well-formed frame",
            frame(body.len(), &body),
            Ok(refused.clone()),
        ),
        (
            "a declared length over the bound, no body",
            frame(MAX_SYNC_RESPONSE_BYTES + 1, b""),
            Err(io::ErrorKind::InvalidData),
        ),
        (
            "a body cut short",
            frame(body.len(), &body[..body.len() - 1]),
            Err(io::ErrorKind::UnexpectedEof),
        ),
        (
            "a prefix cut short",
            vec![0, 0],
            Err(io::ErrorKind::UnexpectedEof),
        ),
        (
            "a body that is not a response",
            frame(2, b"{}"),
            Err(io::ErrorKind::InvalidData),
        ),
    ];
    for (what, frame, expected) in cases {
        let got = read_response(frame).await;
        assert_eq!(
            got.clone().map_err(|(kind, _)| kind),
            expected,
            "{what}: {got:?}"
        );
    }
    let too_large = read_response(frame(MAX_SYNC_RESPONSE_BYTES + 1, b"")).await;
    assert!(
        matches!(too_large, Err((_, m)) if m.contains("more than")),
        "the error says why"
    );

    // Nothing over the bound is written, not even the length.
    let oversized = SyncResponse::Checkpoints {
        notes: vec!["x".repeat(MAX_SYNC_RESPONSE_BYTES)],
    };
    let mut written = Cursor::new(Vec::new());
    let error = SyncCodec
        .write_response(&protocol, &mut written, oversized)
        .await
        .expect_err("oversized");
    assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    assert!(written.into_inner().is_empty());

    // Requests have their own, smaller bound.
    let request_frame = frame(MAX_SYNC_REQUEST_BYTES + 1, b"");
    let error = SyncCodec
        .read_request(&protocol, &mut Cursor::new(request_frame))
        .await
        .expect_err("oversized");
    assert_eq!(error.kind(), io::ErrorKind::InvalidData);
}

#[tokio::test]
async fn cancelling_the_token_stops_the_task_and_closes_connections() {
    let (key_a, key_b) = (keypair(31), keypair(32));
    let (id_a, id_b) = (key_a.public().to_peer_id(), key_b.public().to_peer_id());
    let mut a = start(key_a, &[id_b], vec![]).await;
    let b = start(key_b, &[id_a], vec![a.addr(Transport::Tcp)]).await;
    next_event(
        &mut a.events,
        "B connecting to A",
        |e| matches!(e, NetEvent::PeerConnected { peer, .. } if *peer == id_b),
    )
    .await;

    b.shutdown.cancel();
    tokio::time::timeout(DEADLINE, b.join)
        .await
        .expect("the task ends in time")
        .expect("the task did not panic");
    next_event(
        &mut a.events,
        "B's connection closing",
        |e| matches!(e, NetEvent::PeerDisconnected { peer } if *peer == id_b),
    )
    .await;
    assert_eq!(
        b.handle.request(id_a, SyncRequest::Checkpoints).await,
        Err(NetError::Stopped)
    );
    assert!(b.handle.peers().await.is_empty());
    assert_eq!(
        b.handle.publish(Topic::Entries, &entry("bGF0ZQ==")).await,
        Err(NetError::Stopped)
    );

    a.shutdown.cancel();
    tokio::time::timeout(DEADLINE, a.join)
        .await
        .expect("the task ends in time")
        .expect("the task did not panic");
}

#[tokio::test]
async fn publishing_checks_topic_and_size_first() {
    let key_a = keypair(41);
    let a = start(key_a, &[], vec![]).await;
    let checkpoint = Gossip::Checkpoint {
        note: "note".into(),
    };
    assert_eq!(
        a.handle.publish(Topic::Entries, &checkpoint).await,
        Err(NetError::WrongTopic {
            topic: Topic::Entries,
            expected: Topic::Checkpoints
        })
    );
    // No peer yet: gossip is the fast path, so this is not an error.
    assert_eq!(
        a.handle.publish(Topic::Checkpoints, &checkpoint).await,
        Ok(())
    );
    let huge = Gossip::Checkpoint {
        note: "x".repeat(concord_protocol::wire::MAX_GOSSIP_BYTES),
    };
    assert!(matches!(
        a.handle.publish(Topic::Checkpoints, &huge).await,
        Err(NetError::TooLarge { .. })
    ));
}
