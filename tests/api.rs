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
    let metrics = api.try_get("/metrics").expect("reachable");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.body.contains("concord_log_size"),
        "{}",
        metrics.body
    );

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
