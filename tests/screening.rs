//! Screening as an officer does it, against real nodes: a partner's denial
//! found from another member's node, explained, in its amended version;
//! the saved result verified offline and against the node; a batch with a
//! progress-free output file; a stopped node's store screened; and each
//! class of bad input refused with a clear error.

use std::time::Duration;

use concord_scenarios::process::Concord;
use concord_scenarios::records;
use concord_scenarios::testnet::{Testnet, TestnetSpec};
use concord_scenarios::wait::wait_until;
use serde_json::Value;

/// The sample application, whose consignee is the consignee of mx's
/// thiodiglycol denial spelt without accents.
fn application_path() -> String {
    records::dir()
        .join("applications/co-2026-thiodiglycol.json")
        .to_str()
        .expect("a UTF-8 path")
        .to_owned()
}

fn concord() -> Concord {
    Concord::isolated(env!("CARGO_BIN_EXE_concord"))
}

fn sample_denial(name: &str, state: &str) -> Value {
    let sample = records::denials()
        .into_iter()
        .find(|r| r.name == name)
        .expect("the sample");
    serde_json::from_slice(&sample.stated_by(state)).expect("JSON")
}

fn body(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("serialises")
}

fn application() -> Value {
    serde_json::from_slice(&std::fs::read(application_path()).expect("the sample application"))
        .expect("JSON")
}

fn hits(result: &Value) -> Vec<(String, u64)> {
    result["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| {
            (
                h["entry"]["origin"].as_str().expect("origin").to_owned(),
                h["entry"]["index"].as_u64().expect("index"),
            )
        })
        .collect()
}

#[test]
fn an_officer_screens_an_application_against_a_partners_denials() {
    let app = application_path();
    let app = app.as_str();
    let mut net = Testnet::create_with(
        &concord(),
        &TestnetSpec::new(&["mx", "co", "pe"], &[]).sync_interval_ms(300),
    );
    for id in ["mx", "co", "pe"] {
        net.start(id);
    }
    let mx = net.api("mx");
    let denial = sample_denial("mx-2025-thiodiglycol.json", "MX");
    mx.publish("denial", &body(&denial));
    let amendment = serde_json::json!({"reason": "quantity corrected", "denial": denial});
    mx.publish("denial.amend?refers_to=0", &body(&amendment));
    mx.publish(
        "denial?visibility=bilateral:MX,PE",
        &body(&sample_denial("mx-2025-five-axis.json", "MX")),
    );
    let mx_origin = net.origin_of("mx");
    wait_until(
        Duration::from_secs(60),
        "co screens mx's log up to a checkpoint of all three entries",
        || {
            let result = net
                .cli("co", ["screen", "--json", "--file", app])
                .ok()
                .json();
            result["logs"]
                .as_array()
                .expect("logs")
                .iter()
                .any(|l| l["origin"] == mx_origin.as_str() && l["size"] == 3)
        },
    );

    // The human report names the denial, the state, the evidence and how to
    // consult; saved, the result holds the same hit.
    let saved = net.root().join("result.json");
    let run = net
        .cli(
            "co",
            [
                "screen".as_ref(),
                "--file".as_ref(),
                app.as_ref(),
                "--out".as_ref(),
                saved.as_os_str(),
            ],
        )
        .ok();
    for expected in [
        "score",
        "denial mx#0 of MX",
        "as amended by entry 1",
        "Química Andina del Pacífico",
        "Consult MX: concord consult request --denial mx#0",
        "verify-screening",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected:?} in\n{}",
            run.stdout
        );
    }
    let result: Value =
        serde_json::from_slice(&std::fs::read(&saved).expect("saved")).expect("JSON");
    assert_eq!(hits(&result), vec![(mx_origin.clone(), 0)]);
    let hit = &result["hits"][0];
    assert!(hit["score"].as_f64().expect("score") >= 0.8);
    assert_eq!(hit["denying_state"], "MX");
    assert_eq!(hit["current"]["index"], 1);
    assert_eq!(hit["entries"].as_array().expect("entries").len(), 2);
    assert!(
        !hit["explanation"]["parties"][0]["fields"][0]["how"]
            .as_array()
            .expect("how")
            .is_empty()
    );
    // co reads the bilateral MX–PE denial no more than its contents say:
    // it is named, its state to consult.
    assert_eq!(result["restricted"][0]["state"], "MX");
    assert_eq!(result["restricted"][0]["entries"], serde_json::json!([2]));
    // pe may read it: nothing restricted there.
    let pe = net
        .cli("pe", ["screen", "--json", "--file", app])
        .ok()
        .json();
    assert_eq!(pe["restricted"], serde_json::json!([]));

    // Verified offline against the roster it carries, then against the
    // node, which also screens the same logs again.
    let offline = concord()
        .run(["verify-screening".as_ref(), saved.as_os_str()])
        .ok();
    assert!(
        offline.stdout.contains("carried by the result"),
        "{}",
        offline.stdout
    );
    assert!(
        offline.stdout.contains("absent hits: not proven"),
        "{}",
        offline.stdout
    );
    let home = net.home("co");
    let checked = concord()
        .run([
            "verify-screening".as_ref(),
            saved.as_os_str(),
            "--home".as_ref(),
            home.as_os_str(),
        ])
        .ok();
    assert!(
        checked.stdout.contains("absent hits: proven"),
        "{}",
        checked.stdout
    );
    let mut changed = result.clone();
    changed["hits"][0]["score"] = 0.99.into();
    let forged = net.root().join("forged.json");
    std::fs::write(&forged, body(&changed)).expect("write");
    concord()
        .run(["verify-screening".as_ref(), forged.as_os_str()])
        .fails_with(6, "finding");

    // A batch: one result line per application, in order.
    let batch = net.root().join("applications.jsonl");
    let mut other = application();
    other["reference"] = "MINCIT-DCE-SOL-2026-0200".into();
    other["parties"] = serde_json::json!([{"role": "consignee", "name": "Panadería Central Ltda.", "country": "CO"}]);
    let lines = format!("{}\n{}\n", application(), other);
    std::fs::write(&batch, lines).expect("write");
    let out = net.root().join("results.jsonl");
    net.cli(
        "co",
        [
            "screen".as_ref(),
            "--batch".as_ref(),
            batch.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ],
    )
    .ok();
    let results: Vec<Value> = std::fs::read_to_string(&out)
        .expect("results")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a result line"))
        .collect();
    assert_eq!(results.len(), 2);
    assert_eq!(hits(&results[0]), vec![(mx_origin.clone(), 0)]);
    assert!(hits(&results[1]).is_empty());
    assert_eq!(
        results[1]["application"]["reference"],
        "MINCIT-DCE-SOL-2026-0200"
    );

    // The API: one application, a batch, and what it refuses.
    let co = net.api("co");
    let reply = co
        .try_post("/v1/screen", &body(&application()))
        .expect("reachable");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(hits(&reply.json()), vec![(mx_origin.clone(), 0)]);
    let reply = co
        .try_post("/v1/screen?at=2045-01-01", &body(&application()))
        .expect("reachable");
    assert!(hits(&reply.json()).is_empty(), "expired by 2045");
    let reply = co
        .try_post(
            "/v1/screen/batch",
            &body(&serde_json::json!([application(), other])),
        )
        .expect("reachable");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json()["results"].as_array().expect("results").len(),
        2
    );
    let mut unknown = application();
    unknown["parties"][0]["nickname"] = "Q".into();
    let reply = co
        .try_post("/v1/screen", &body(&unknown))
        .expect("reachable");
    assert_eq!((reply.status, reply.code().as_str()), (400, "bad_request"));
    assert!(reply.message().contains("nickname"), "{}", reply.message());
    let reply = co
        .try_post("/v1/screen", b"{\"reference\": ")
        .expect("reachable");
    assert_eq!(reply.status, 400, "{}", reply.body);
    let many: Vec<Value> = (0..1001)
        .map(|_| serde_json::json!({"reference": "R", "parties": [], "items": [], "destination": "PE"}))
        .collect();
    let reply = co
        .try_post("/v1/screen/batch", &body(&Value::Array(many)))
        .expect("reachable");
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (413, "batch_too_large"),
        "{}",
        reply.body
    );
    let reply = co
        .try_post("/v1/screen?at=yesterday", &body(&application()))
        .expect("reachable");
    assert_eq!(reply.status, 400, "{}", reply.body);

    // The command line refuses what the API refuses, with exit 3.
    let bad = net.root().join("unknown-field.json");
    std::fs::write(&bad, body(&unknown)).expect("write");
    net.cli(
        "co",
        ["screen".as_ref(), "--file".as_ref(), bad.as_os_str()],
    )
    .fails_with(3, "nickname");
    let broken = net.root().join("broken.jsonl");
    std::fs::write(&broken, format!("{}\nnot json\n", application())).expect("write");
    net.cli(
        "co",
        [
            "screen".as_ref(),
            "--batch".as_ref(),
            broken.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ],
    )
    .fails_with(3, "line 2");
    net.cli("co", ["screen", "--file", app, "--at", "2026-02-30"])
        .fails_with(3, "--at");

    // From the hit, a consultation; the next screening lists it under
    // the hit, and so does the report.
    let mx0 = format!("{mx_origin}#0");
    net.cli(
        "co",
        [
            "consult",
            "request",
            "--denial",
            "mx#0",
            "--application",
            "MINCIT-DCE-SOL-2026-0187",
            "--question",
            "¿Sigue vigente la denegación para este consignatario?",
        ],
    )
    .ok();
    let consulted = net
        .cli("co", ["screen", "--json", "--file", app])
        .ok()
        .json();
    let held = &consulted["hits"][0]["consultations"];
    assert_eq!(held.as_array().map(Vec::len), Some(1), "{held}");
    assert_eq!(held[0]["denial"], mx0.as_str());
    assert_eq!(held[0]["state"], "pending");
    let report = net.cli("co", ["screen", "--file", app]).ok().stdout;
    assert!(
        report.contains("Consulted: CO asked MX") && report.contains("pending"),
        "{report}"
    );

    // A stopped node's store screens the same.
    net.stop("co");
    let stopped = net
        .cli("co", ["screen", "--json", "--file", app])
        .ok()
        .json();
    assert_eq!(hits(&stopped), vec![(mx_origin, 0)]);
}

/// A partner's denial published after an application was screened raises
/// an alert on the screening node: in `concord alerts`, the API and the
/// node's log, once, across a restart.
#[test]
fn a_denial_published_after_a_screening_raises_an_alert() {
    let app = application_path();
    let app = app.as_str();
    let mut net = Testnet::create_with(
        &concord(),
        &TestnetSpec::new(&["mx", "co"], &[]).sync_interval_ms(300),
    );
    net.start("mx");
    net.start("co");
    let before = net
        .cli("co", ["screen", "--json", "--file", app])
        .ok()
        .json();
    assert!(hits(&before).is_empty());
    let none = net.cli("co", ["alerts"]).ok().stdout;
    assert!(none.contains("no alerts"), "{none}");

    net.api("mx").publish(
        "denial",
        &body(&sample_denial("mx-2025-thiodiglycol.json", "MX")),
    );
    let mx_origin = net.origin_of("mx");
    wait_until(Duration::from_secs(60), "co raises an alert", || {
        !net.cli("co", ["alerts", "--json"])
            .ok()
            .json()
            .as_array()
            .expect("alerts")
            .is_empty()
    });
    let alerts = net.api("co").get("/v1/alerts").json();
    let alerts = alerts.as_array().expect("alerts");
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(
        alerts[0]["application_reference"],
        "MINCIT-DCE-SOL-2026-0187"
    );
    assert_eq!(alerts[0]["denial"]["origin"], mx_origin.as_str());
    assert_eq!(alerts[0]["denial"]["index"], 0);
    assert_eq!(alerts[0]["denying_state"], "MX");
    let text = net.cli("co", ["alerts"]).ok().stdout;
    assert!(
        text.contains("MINCIT-DCE-SOL-2026-0187") && text.contains("now meets denial mx#0 of MX"),
        "{text}"
    );
    wait_until(Duration::from_secs(10), "the alert in co's log", || {
        net.node_log("co").contains("alert:")
    });

    net.stop("co");
    net.start("co");
    std::thread::sleep(Duration::from_secs(3));
    let after = net.api("co").get("/v1/alerts").json();
    assert_eq!(
        after.as_array().expect("alerts").len(),
        1,
        "raised once: {after}"
    );
}
