//! The node's surfaces to local users and clients: the HTTP API holds up
//! against clients that hold connections open, send half a request or
//! publish in a loop (timeouts, a connection cap, a per-token publish rate
//! with 429 and `Retry-After`, JSON bodies only); a home, its store, its
//! token and exported bundles are private to the node's user, and a node
//! refuses to run on a home others can write; a command whose output pipe
//! closes early (`concord list | head`) ends quietly.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use concord_node::home::Home;
use concord_scenarios::process::{Concord, Run};
use concord_scenarios::records;
use concord_scenarios::testnet::Testnet;
use concord_scenarios::wait::wait_until;
use serde_json::Value;

const NODE: &str = "cl";

/// How long anything here may take that should take well under a second.
const PROMPTLY: Duration = Duration::from_secs(15);

fn concord() -> Concord {
    Concord::isolated(env!("CARGO_BIN_EXE_concord"))
}

fn api_addr(net: &Testnet, id: &str) -> SocketAddr {
    Home::new(&net.home(id))
        .config()
        .expect("config")
        .api
        .listen
}

fn token(net: &Testnet, id: &str) -> String {
    Home::new(&net.home(id)).token().expect("token")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// The first sample denial as cl, the node these tests publish on, states
/// it.
fn first_denial() -> Vec<u8> {
    records::denials().remove(0).stated_by("CL")
}

/// An HTTP answer with the headers these tests look at.
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Value,
}

/// `POST /v1/records/denial` with `content_type` (none if `None`).
fn post_denial(net: &Testnet, content_type: Option<&str>, body: &[u8]) -> Answer {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(PROMPTLY))
        .build()
        .into();
    let mut request = agent
        .post(format!("http://{}/v1/records/denial", api_addr(net, NODE)))
        .header("Authorization", format!("Bearer {}", token(net, NODE)));
    if let Some(content_type) = content_type {
        request = request.header("Content-Type", content_type);
    }
    let mut response = request.send(body).expect("the node answers");
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().expect("ASCII").to_owned());
    let text = response.body_mut().read_to_string().expect("a body");
    Answer {
        status: response.status().as_u16(),
        retry_after,
        body: serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")),
    }
}

/// Reads from `stream` until the server closes it, or panics after
/// `limit`; returns what it sent before closing.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> String {
    stream
        .set_read_timeout(Some(limit))
        .expect("a read timeout");
    let mut received = Vec::new();
    match stream.read_to_end(&mut received) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!(
            "the server did not close a half-sent request within {limit:?}: {e} (got {:?})",
            String::from_utf8_lossy(&received)
        ),
    }
    String::from_utf8_lossy(&received).into_owned()
}

#[test]
fn half_sent_requests_are_dropped_and_the_api_still_answers() {
    const HELD: usize = 24;
    let mut net = Testnet::create(&concord(), &[NODE], &[]);
    net.set_api_limits(
        NODE,
        &[
            ("header_timeout_ms", 1_000),
            ("body_timeout_ms", 1_000),
            ("max_connections", 8),
        ],
    );
    net.start(NODE);
    let addr = api_addr(&net, NODE);
    // More connections than the cap, each stopped halfway through its
    // headers, and one stopped halfway through a publish's body.
    let mut headers_held: Vec<TcpStream> = (0..HELD)
        .map(|_| {
            let mut stream = TcpStream::connect(addr).expect("connect");
            stream
                .write_all(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                .expect("half the headers");
            stream
        })
        .collect();
    let mut body_held = TcpStream::connect(addr).expect("connect");
    write!(
        body_held,
        "POST /v1/records/denial HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"reference\":",
        token(&net, NODE)
    )
    .expect("half a body");

    // A client that sends whole requests is answered, at the latest once
    // the header timeout freed a place under the cap.
    let api = net.api(NODE);
    wait_until(PROMPTLY, "a whole request is answered", || api.health());

    let answer = read_until_closed(&mut body_held, PROMPTLY);
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "a body that stops arriving gets 408, then the connection closes: {answer:?}"
    );
    assert!(answer.contains("body_timeout"), "{answer}");
    for stream in &mut headers_held {
        let answer = read_until_closed(stream, PROMPTLY);
        assert!(
            !answer.contains("200 OK"),
            "half a request was answered as whole: {answer:?}"
        );
    }
    assert!(api.health(), "the node still answers once they are gone");
}

#[test]
fn a_token_publishing_past_its_rate_gets_429_with_retry_after() {
    let mut net = Testnet::create(&concord(), &[NODE], &[]);
    net.set_api_limits(NODE, &[("publish_per_second", 1), ("publish_burst", 3)]);
    net.start(NODE);
    let denial = first_denial();
    // The bucket refills one a second while these run, so on a slow
    // machine more than the burst may pass: no more than the burst and
    // what elapsed time refilled, though, and then a 429.
    let started = std::time::Instant::now();
    let mut accepted = 0u64;
    let refused = loop {
        let answer = post_denial(&net, Some("application/json"), &denial);
        if answer.status != 201 {
            break answer;
        }
        accepted += 1;
        assert!(accepted <= 60, "sixty publishes and no 429");
    };
    let refilled = started.elapsed().as_secs() + 1;
    assert!(
        (3..=3 + refilled).contains(&accepted),
        "{accepted} publishes passed in {:?} with a burst of 3 at 1/s",
        started.elapsed()
    );
    assert_eq!(refused.status, 429, "past the burst: {}", refused.body);
    assert_eq!(refused.body["error"], "rate_limited", "{}", refused.body);
    let retry_after: u64 = refused
        .retry_after
        .as_deref()
        .expect("a 429 says when to retry")
        .parse()
        .expect("Retry-After in seconds");
    assert!(
        (1..=2).contains(&retry_after),
        "one publish a second: retry within a second or two, not {retry_after}"
    );
    assert_eq!(
        net.log_size(NODE, NODE),
        3,
        "the refused publish was not stored"
    );
    // Reading is not publishing.
    assert_eq!(net.api(NODE).get("/v1/status").status, 200);
    // Once the rate allows it again, the token publishes.
    wait_until(PROMPTLY, "the rate lets a publish through again", || {
        post_denial(&net, Some("application/json"), &denial).status == 201
    });
}

#[test]
fn publishing_takes_json_only() {
    let mut net = Testnet::create(&concord(), &[NODE], &[]);
    net.start(NODE);
    let denial = first_denial();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let answer = post_denial(&net, content_type, &denial);
        assert_eq!(
            answer.status, 415,
            "Content-Type {content_type:?}: {}",
            answer.body
        );
        assert_eq!(
            answer.body["error"], "unsupported_media_type",
            "{}",
            answer.body
        );
        assert!(
            answer.body["message"]
                .as_str()
                .is_some_and(|m| m.contains("application/json")),
            "{}",
            answer.body
        );
    }
    assert_eq!(net.log_size(NODE, NODE), 0, "nothing refused was stored");
    let answer = post_denial(&net, Some("application/json; charset=utf-8"), &denial);
    assert_eq!(answer.status, 201, "{}", answer.body);
}

#[test]
fn homes_stores_tokens_and_bundles_are_private_to_the_node_user() {
    let net = Testnet::create(&concord(), &[NODE, "mx"], &[]);
    let home = Home::new(&net.home(NODE));
    // A store made by a stopped node's first publish, as by a running one.
    let mut command = net.concord().command();
    command
        .args([
            "publish",
            "denial",
            "--accept-fork-risk",
            "--file",
            "-",
            "--home",
        ])
        .arg(&home.dir);
    Run::with_input(command, &first_denial()).ok();
    for (path, want) in [
        (net.root().to_path_buf(), 0o700),
        (home.dir.clone(), 0o700),
        (home.roster_dir(), 0o700),
        (home.db_path(), 0o700),
        (home.token_path(), 0o600),
        (home.key_path(), 0o600),
    ] {
        assert_eq!(mode(&path), want, "{}: {:o}", path.display(), mode(&path));
    }
    let bundle = net.root().join("cl.bundle");
    let mut command = net.concord().command();
    command
        .args(["export", "--home"])
        .arg(&home.dir)
        .arg("--out")
        .arg(&bundle);
    Run::of(command).ok();
    assert_eq!(
        mode(&bundle),
        0o600,
        "{}: {:o}",
        bundle.display(),
        mode(&bundle)
    );
}

#[test]
fn a_node_refuses_to_run_on_a_home_others_can_write() {
    let mut net = Testnet::create(&concord(), &[NODE], &[]);
    let home = Home::new(&net.home(NODE));
    let chmod = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    };
    for (path, loose, fixed) in [
        (home.dir.clone(), 0o777, 0o700),
        (home.config_path(), 0o666, 0o644),
        (home.roster_dir(), 0o775, 0o700),
    ] {
        chmod(&path, loose);
        let mut command = net.concord().command();
        command.args(["run", "--home"]).arg(&home.dir);
        let run = Run::with_timeout(command, PROMPTLY);
        assert_eq!(
            run.code,
            Some(1),
            "run on a loose {}: {}",
            path.display(),
            run.stderr
        );
        let named = format!("{} is writable by other local users", path.display());
        let fix = format!("chmod go-w {}", path.display());
        assert!(
            run.stderr.contains(&named) && run.stderr.contains(&fix),
            "the refusal names {} and the fix: {}",
            path.display(),
            run.stderr
        );
        chmod(&path, fixed);
    }
    // Fixed as the error said, the home runs.
    net.start(NODE);
}

#[test]
fn a_closed_stdout_ends_a_command_quietly() {
    let net = Testnet::create(&concord(), &[NODE], &[]);
    let home = net.home(NODE);
    let mut command = net.concord().command();
    command
        .args(["publish", "denial", "--file", "-", "--home"])
        .arg(&home);
    Run::with_input(command, &first_denial()).ok();
    let commands: [&[&str]; 4] = [
        &["list", "--log", NODE],
        &["list", "--json"],
        &["status"],
        &["roster", "show"],
    ];
    for args in commands {
        // `concord … | head -c0`: the reader is gone before the first line.
        let mut child = net
            .concord()
            .command()
            .args(args)
            .arg("--home")
            .arg(&home)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn concord");
        drop(child.stdout.take());
        wait_until(PROMPTLY, &format!("concord {args:?} exits"), || {
            child.try_wait().expect("try_wait").is_some()
        });
        let output = child.wait_with_output().expect("its output");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(0),
            "concord {args:?} with its stdout closed: {stderr}"
        );
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "concord {args:?} says nothing of the closed pipe: {stderr}"
        );
    }
}
