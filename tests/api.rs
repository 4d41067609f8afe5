//! The API as an agency's systems meet it: tokens with scopes (made,
//! listed, revoked from the command line while the node runs), refusals
//! with a JSON error on every path, health without a token, metrics with
//! one.

use std::time::Duration;

use concord_scenarios::process::Concord;
use concord_scenarios::records;
use concord_scenarios::testnet::{Testnet, TestnetSpec};
use concord_scenarios::wait::wait_until;
use serde_json::Value;

fn concord() -> Concord {
    Concord::isolated(env!("CARGO_BIN_EXE_concord"))
}

fn denial() -> Vec<u8> {
    let sample = records::denials()
        .into_iter()
        .find(|r| r.name == "mx-2025-thiodiglycol.json")
        .expect("the sample");
    sample.stated_by("MX")
}

fn application() -> Vec<u8> {
    std::fs::read(records::dir().join("applications/co-2026-thiodiglycol.json"))
        .expect("the sample application")
}

#[test]
fn tokens_hold_scopes_and_every_refusal_is_json() {
    let mut net = Testnet::create_with(
        &concord(),
        &TestnetSpec::new(&["mx", "co"], &["un1540:US"]).sync_interval_ms(300),
    );
    net.start("mx");
    net.start("co");
    let api = net.api("mx");
    wait_until(Duration::from_secs(60), "mx is ready", || {
        api.with_token(None)
            .try_get("/v1/health/ready")
            .is_ok_and(|r| r.status == 200)
    });

    // A token for a licensing desk: it reads and screens, nothing more.
    let made = net
        .cli(
            "mx",
            [
                "--json",
                "token",
                "create",
                "--name",
                "licensing desk",
                "--scope",
                "read,screen",
            ],
        )
        .ok()
        .json();
    let secret = made["secret"].as_str().expect("a secret").to_owned();
    assert_eq!(secret.len(), 64);
    let desk = api.with_token(Some(&secret));
    assert_eq!(desk.try_get("/v1/status").expect("reachable").status, 200);
    let screened = desk
        .try_post("/v1/screen", &application())
        .expect("reachable");
    assert_eq!(screened.status, 200, "{}", screened.body);
    let refused = desk
        .try_post("/v1/records/denial", &denial())
        .expect("reachable");
    assert_eq!(
        (refused.status, refused.code().as_str()),
        (403, "insufficient_scope"),
        "{}",
        refused.body
    );
    assert!(
        refused.message().contains("licensing desk"),
        "{}",
        refused.message()
    );
    let clear = desk
        .try_post(
            "/v1/quarantine/co/clear",
            br#"{"operator": "x", "reason": "y"}"#,
        )
        .expect("reachable");
    assert_eq!(clear.status, 403, "{}", clear.body);

    // The file keeps hashes only.
    let listed = net.cli("mx", ["--json", "token", "list"]).ok().json();
    let listed = listed.as_array().expect("tokens");
    assert_eq!(
        listed.len(),
        2,
        "the migrated api.token and the desk's: {listed:?}"
    );
    let text = std::fs::read_to_string(net.home("mx").join("tokens.json")).expect("tokens.json");
    assert!(!text.contains(&secret), "the secret is not kept");
    assert!(listed.iter().all(|t| t.get("secret").is_none()));

    // Without a token, with a wrong one, with a revoked one: 401.
    let none = api
        .with_token(None)
        .try_get("/v1/status")
        .expect("reachable");
    assert_eq!((none.status, none.code().as_str()), (401, "unauthorized"));
    let wrong = api
        .with_token(Some(&"0".repeat(64)))
        .try_get("/v1/status")
        .expect("reachable");
    assert_eq!(wrong.status, 401);
    net.cli("mx", ["token", "revoke", "licensing desk"]).ok();
    let revoked = desk.try_get("/v1/status").expect("reachable");
    assert_eq!(revoked.status, 401, "a revoked token is refused at once");
    net.cli("mx", ["token", "revoke", "licensing desk"])
        .fails_with(4, "no active token");

    // Bad scopes, and an observer that would issue a publish token.
    net.cli("mx", ["token", "create", "--name", "x", "--scope", "write"])
        .fails_with(3, "unknown scope \"write\"");
    net.cli(
        "un1540",
        ["token", "create", "--name", "x", "--scope", "read,publish"],
    )
    .fails_with(3, "observer");

    // Unknown paths and methods: JSON errors too.
    let missing = api.try_get("/v1/nothing").expect("reachable");
    assert_eq!(
        (missing.status, missing.code().as_str()),
        (404, "no_such_route")
    );
    // `/` is the web page; any other path outside /v1/ is not found.
    let missing = api.try_get("/nothing").expect("reachable");
    assert_eq!(
        (missing.status, missing.code().as_str()),
        (404, "no_such_route")
    );
    let method = api.try_method("DELETE", "/v1/status").expect("reachable");
    assert_eq!(
        (method.status, method.code().as_str()),
        (405, "method_not_allowed"),
        "{}",
        method.body
    );

    // Health needs no token; metrics needs a read token.
    let health = api
        .with_token(None)
        .try_get("/v1/health")
        .expect("reachable");
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["live"], Value::Bool(true));
    assert_eq!(health.json()["ready"], Value::Bool(true));
    let metrics = api.with_token(None).try_get("/metrics").expect("reachable");
    assert_eq!(metrics.status, 401);
    api.publish("denial", &denial());
    let metrics = api.try_get("/metrics").expect("reachable");
    assert_eq!(metrics.status, 200);
    for expected in [
        "# HELP concord_log_size Entries of each log this node holds",
        "# TYPE concord_log_size gauge",
        &format!("concord_log_size{{origin=\"{}\"}}", net.origin_of("mx")),
        "# TYPE concord_log_behind gauge",
        "# TYPE concord_log_payloads_missing gauge",
        "# TYPE concord_api_requests counter",
        "concord_api_requests_total{route=\"/v1/status\",method=\"GET\",status=\"401\"}",
        "concord_api_requests_total{route=\"/v1/records/{kind}\",method=\"POST\",status=\"403\"}",
        "# TYPE concord_api_request_duration_seconds histogram",
        "concord_api_request_duration_seconds_bucket{",
        "# TYPE concord_own_log_confirmed gauge",
        "concord_own_log_confirmed 1",
        "# TYPE concord_gossip_appended counter",
        "libp2p_bandwidth_bytes_total",
        "libp2p_swarm_",
        "libp2p_identify_",
    ] {
        assert!(
            metrics.body.contains(expected),
            "{expected} in:\n{}",
            metrics.body
        );
    }
    assert!(
        metrics.body.ends_with("# EOF\n"),
        "one end marker, at the end"
    );
    assert_eq!(metrics.body.matches("# EOF").count(), 1);

    // The API manages tokens for an admin token.
    let made = api
        .try_post("/v1/tokens", br#"{"name": "customs", "scopes": ["read"]}"#)
        .expect("reachable");
    assert_eq!(made.status, 201, "{}", made.body);
    let id = made.json()["id"].as_str().expect("an id").to_owned();
    let customs = api.with_token(made.json()["secret"].as_str());
    assert_eq!(
        customs.try_get("/v1/status").expect("reachable").status,
        200
    );
    assert_eq!(
        customs.try_get("/v1/tokens").expect("reachable").status,
        403,
        "listing tokens takes admin"
    );
    let gone = api
        .try_post(&format!("/v1/tokens/{id}/revoke"), b"")
        .expect("reachable");
    assert_eq!(gone.status, 200, "{}", gone.body);
    assert_eq!(
        customs.try_get("/v1/status").expect("reachable").status,
        401
    );
    let unknown = api
        .try_post(
            "/v1/tokens",
            br#"{"name": "n", "scopes": ["read"], "ttl": 3}"#,
        )
        .expect("reachable");
    assert_eq!(unknown.status, 400, "{}", unknown.body);
}

/// What a feed connection has received so far.
struct Feed {
    stream: std::net::TcpStream,
    text: String,
}

impl Feed {
    fn open(api: &concord_scenarios::api::Api, query: &str, last_event_id: Option<&str>) -> Feed {
        use std::io::Write as _;
        let mut stream = std::net::TcpStream::connect(api.address()).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let resume = last_event_id.map_or(String::new(), |id| format!("Last-Event-ID: {id}\r\n"));
        write!(
            stream,
            "GET /v1/feed{query} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nAccept: text/event-stream\r\n{resume}\r\n",
            api.address(),
            api.token()
        )
        .expect("send");
        Feed {
            stream,
            text: String::new(),
        }
    }

    /// Reads until `done` holds of what arrived, for up to 30 s.
    fn until(&mut self, what: &str, done: impl Fn(&str) -> bool) -> &str {
        use std::io::Read as _;
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let mut buf = [0u8; 4096];
        while !done(&self.text) {
            assert!(
                std::time::Instant::now() < deadline,
                "the feed did not show {what}:\n{}",
                self.text
            );
            match self.stream.read(&mut buf) {
                Ok(0) => panic!("the feed closed:\n{}", self.text),
                Ok(n) => self.text.push_str(&String::from_utf8_lossy(&buf[..n])),
                Err(_) => {}
            }
        }
        &self.text
    }
}

#[test]
fn the_feed_streams_new_entries_and_resumes_where_it_stopped() {
    let mut net = Testnet::create_with(
        &concord(),
        &TestnetSpec::new(&["mx", "co"], &["un1540:US"]).sync_interval_ms(300),
    );
    net.start("mx");
    net.start("co");
    net.start("un1540");
    let co = net.api("co");
    let mut feed = Feed::open(&co, "", None);
    feed.until("the event stream's headers", |t| {
        t.contains("text/event-stream")
    });
    net.api("mx").publish("denial", &denial());
    let mx = net.origin_of("mx");
    let first = format!("\"origin\":\"{mx}\",\"index\":0");
    let text = feed
        .until("mx's first entry", |t| t.contains(&first))
        .to_owned();
    assert!(text.contains("event: entry"), "{text}");
    let id = text
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .expect("an event id")
        .trim()
        .to_owned();
    assert!(id.contains(&format!("{mx}=1")), "{id}");

    // Reconnecting from that id brings what came since, and nothing before.
    let mut sample: Value = serde_json::from_slice(&denial()).expect("JSON");
    sample["reference"] = "SE-DGCE-DEN-2025-0099".into();
    net.api("mx")
        .publish("denial", &serde_json::to_vec(&sample).expect("JSON"));
    let mut resumed = Feed::open(&co, "", Some(&id));
    let second = format!("\"origin\":\"{mx}\",\"index\":1");
    let text = resumed
        .until("mx's second entry", |t| t.contains(&second))
        .to_owned();
    assert!(!text.contains(&first), "{text}");
    let mut from_start = Feed::open(&co, "?from=start&log=mx", None);
    from_start.until("both entries", |t| {
        t.contains(&first) && t.contains(&second)
    });

    // Each node says what happened, one line per event, naming members.
    for (id, says) in [
        ("mx", "published on the own log"),
        ("mx", "peer connected member=co"),
        ("co", "stored entries of a member's log member=mx"),
        ("un1540", "cosigned a checkpoint as witness member=mx"),
    ] {
        wait_until(Duration::from_secs(30), says, || {
            net.node_log(id).contains(says)
        });
    }

    let bad = co.try_get("/v1/feed?from=yesterday").expect("reachable");
    assert_eq!(bad.status, 400, "{}", bad.body);
    let unknown = co.try_get("/v1/feed?since=0").expect("reachable");
    assert_eq!(unknown.status, 400, "{}", unknown.body);
}

/// The routes `node/src/api/mod.rs`'s table lists: (method, path) and the
/// scope each asks for (`none` without a token).
fn route_table() -> std::collections::BTreeMap<(String, String), String> {
    let source = include_str!("../node/src/api/mod.rs");
    source
        .lines()
        .filter_map(|line| line.strip_prefix("//! | "))
        .filter(|row| row.starts_with("GET") || row.starts_with("POST"))
        .map(|row| {
            let cells: Vec<&str> = row.split(" | ").map(str::trim).collect();
            let path = cells[1]
                .split(['?', ' '])
                .next()
                .expect("a path")
                .to_owned();
            let scope = cells[2]
                .split([',', ' '])
                .next()
                .expect("a scope")
                .to_owned();
            ((cells[0].to_owned(), path), scope)
        })
        .collect()
}

/// Every `$ref` in `value` points at something in `document`.
fn check_refs(document: &Value, value: &Value) {
    match value {
        Value::Object(map) => {
            if let Some(target) = map.get("$ref") {
                let target = target.as_str().expect("a $ref is a string");
                let pointer = target
                    .strip_prefix('#')
                    .unwrap_or_else(|| panic!("{target} points outside the document"));
                assert!(
                    document.pointer(pointer).is_some(),
                    "{target} resolves to nothing"
                );
            }
            map.values().for_each(|v| check_refs(document, v));
        }
        Value::Array(items) => items.iter().for_each(|v| check_refs(document, v)),
        _ => {}
    }
}

/// `value` is what the document's schema `name` describes: the document
/// is the root schema, so `$ref`s into it resolve.
fn check_against(document: &Value, name: &str, value: &Value) {
    let mut schema = document.clone();
    schema["$ref"] = Value::String(format!("#/components/schemas/{name}"));
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&schema)
        .unwrap_or_else(|e| panic!("the schema {name}: {e}"));
    if let Err(e) = validator.validate(value) {
        panic!("{value} is no {name}: {e}");
    }
}

/// A path of the document with its parameters filled in.
fn concrete(path: &str) -> String {
    path.replace("{log}", "mx")
        .replace("{index}", "0")
        .replace("{kind}", "denial")
        .replace("{id}", "nobody")
}

#[test]
fn the_openapi_document_holds_every_route_and_is_valid_openapi_3_1() {
    let mut net = Testnet::create(&concord(), &["mx"], &[]);
    net.start("mx");
    let api = net.api("mx");
    let anonymous = api.with_token(None);
    wait_until(Duration::from_secs(60), "mx is ready", || {
        anonymous
            .try_get("/v1/health/ready")
            .is_ok_and(|r| r.status == 200)
    });

    // Served without a token, and valid as OpenAPI 3.1 reads it.
    let served = anonymous.try_get("/v1/openapi.json").expect("reachable");
    assert_eq!(served.status, 200, "{}", served.body);
    let document = served.json();
    let spec = oas3::from_json(&served.body).expect("an OpenAPI 3.1 document");
    let version = spec.validate_version().expect("a 3.1 version");
    assert_eq!((version.major, version.minor), (3, 1));
    check_refs(&document, &document);
    // Every error code the API answers is listed, for clients to switch on.
    let codes = document["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("the error codes");
    for code in [
        "not_found",
        "insufficient_scope",
        "own_log_unconfirmed",
        "batch_too_large",
    ] {
        assert!(codes.iter().any(|c| c == code), "{code} in {codes:?}");
    }
    let mut operations = std::collections::BTreeMap::new();
    let mut ids = std::collections::BTreeSet::new();
    for (path, method, operation) in spec.operations() {
        let id = operation.operation_id.clone().expect("an operationId");
        assert!(ids.insert(id.clone()), "{id} names one operation");
        assert!(
            !operation.responses(&spec).is_empty(),
            "{method} {path} says what it answers"
        );
        let declared: Vec<String> = operation
            .parameters(&spec)
            .expect("parameters resolve")
            .into_iter()
            .filter(|p| p.location == oas3::spec::ParameterIn::Path)
            .map(|p| p.name)
            .collect();
        let templated: Vec<String> = path
            .split('/')
            .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
            .map(str::to_owned)
            .collect();
        assert_eq!(declared, templated, "{method} {path}: its path parameters");
        let scope = match operation.security.as_slice() {
            [] => "none".to_owned(),
            [requirement] => requirement.0["bearer"].join(","),
            more => panic!("{method} {path}: one scope, not {more:?}"),
        };
        operations.insert((method.to_string(), path), scope);
    }
    // The record schemas are embedded, each `$ref` between files rewritten.
    let schemas = &document["components"]["schemas"];
    for name in ["defs", "denial", "notice", "application", "record"] {
        assert!(schemas[name].is_object(), "{name} is embedded");
    }
    assert_eq!(
        document["paths"]["/v1/records/{kind}"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"]["$ref"],
        "#/components/schemas/record"
    );

    // The samples and the node's answers are what the schemas describe.
    let sample = serde_json::from_slice(&denial()).expect("JSON");
    check_against(&document, "record", &sample);
    check_against(&document, "denial", &sample);
    let sample = serde_json::from_slice(&application()).expect("JSON");
    check_against(&document, "application", &sample);
    let published = api
        .try_post("/v1/records/denial", &denial())
        .expect("reachable");
    assert_eq!(published.status, 201, "{}", published.body);
    check_against(&document, "Published", &published.json());
    for (path, name) in [
        ("/v1/health", "Health"),
        ("/v1/status", "StatusView"),
        ("/v1/logs/mx/entries/0", "EntryView"),
    ] {
        check_against(&document, name, &api.get(path).json());
    }
    let screened = api.post("/v1/screen", &application()).json();
    check_against(&document, "ScreeningResult", &screened);
    check_against(
        &document,
        "Verdict",
        &api.post("/v1/screen/verify", screened.to_string().as_bytes())
            .json(),
    );
    let batch = format!("[{}]", String::from_utf8(application()).expect("UTF-8"));
    check_against(
        &document,
        "BatchResults",
        &api.post("/v1/screen/batch", batch.as_bytes()).json(),
    );
    for (path, name) in [
        ("/v1/logs/mx/entries", "EntryLine"),
        ("/v1/tokens", "TokenRecord"),
    ] {
        let items = api.get(path).json();
        let items = items.as_array().expect("an array");
        assert!(!items.is_empty(), "{path}");
        for item in items {
            check_against(&document, name, item);
        }
    }

    // The table in node/src/api/mod.rs lists the same routes and scopes;
    // the reference page is HTML, not an operation of the document.
    let mut table = route_table();
    assert_eq!(
        table.remove(&("GET".to_owned(), "/v1/docs/".to_owned())),
        Some("none".to_owned()),
        "the table lists the reference page"
    );
    assert_eq!(table, operations, "the table and the document");

    // Each operation is served, with the scope the document states: without
    // a token, 401 if it asks for one; with a token of another scope, 403.
    let mut tokens = Vec::new();
    for scope in ["read", "screen", "publish", "admin"] {
        let made = net
            .cli(
                "mx",
                [
                    "--json", "token", "create", "--name", scope, "--scope", scope,
                ],
            )
            .ok()
            .json();
        let secret = made["secret"].as_str().expect("a secret").to_owned();
        tokens.push((scope, api.with_token(Some(&secret))));
    }
    for ((method, path), scope) in &operations {
        let url = concrete(path);
        let answer = anonymous.try_method(method, &url).expect("reachable");
        assert!(
            answer.status != 405 && answer.code() != "no_such_route",
            "{method} {path} is served: {}",
            answer.body
        );
        assert_eq!(
            answer.status == 401,
            scope != "none",
            "{method} {path} without a token: {}",
            answer.body
        );
        for (held, client) in tokens.iter().filter(|(held, _)| held != scope) {
            if scope == "none" {
                continue;
            }
            let answer = client.try_method(method, &url).expect("reachable");
            assert_eq!(
                (answer.status, answer.code().as_str()),
                (403, "insufficient_scope"),
                "{method} {path} with a {held} token: {}",
                answer.body
            );
        }
    }

    // The reference page: HTML, every asset it names served by the node
    // itself, and a CSP that keeps it there.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let base = format!("http://{}", api.address());
    let mut page = agent
        .get(format!("{base}/v1/docs/"))
        .call()
        .expect("the page");
    assert_eq!(page.status(), 200);
    let header = |response: &ureq::http::Response<ureq::Body>, name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(header(&page, "content-type").starts_with("text/html"));
    let csp = header(&page, "content-security-policy");
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    let html = page.body_mut().read_to_string().expect("the page's text");
    let assets: Vec<&str> = html
        .split(['"', '\''])
        .filter(|part| part.ends_with(".js") || part.ends_with(".css") || part.ends_with(".png"))
        .collect();
    assert!(assets.len() >= 4, "the page's assets: {html}");
    for asset in assets {
        assert!(
            !asset.contains("//"),
            "{asset}: the page loads nothing from elsewhere"
        );
        let url = format!("{base}/v1/docs/{}", asset.trim_start_matches("./"));
        let mut answer = agent.get(&url).call().expect("the asset");
        assert_eq!(answer.status(), 200, "{url}");
        if asset.ends_with("swagger-initializer.js") {
            let script = answer.body_mut().read_to_string().expect("the script");
            assert!(script.contains("\"/v1/openapi.json\""), "{script}");
            assert!(!script.contains("http"), "{script}");
        }
    }
}
