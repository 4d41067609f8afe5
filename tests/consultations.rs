//! Consultations between two states about a denial, on real nodes: Mexico
//! denies, Colombia consults it about the denial on the command line, the
//! request reaches Mexico's node, which lists it as incoming and pending
//! and objects; Colombia then sees it answered. Peru, a third state, holds
//! the entries but reads neither payload and may not reply. Bad references,
//! a second reply, a reply or request in another state's name, an unknown
//! answer and unknown fields in the API's JSON are refused and say why.

use std::ffi::OsStr;
use std::time::Duration;

use concord_node::consultation::ConsultationView;
use concord_node::home::Home;
use concord_node::query::Queries;
use concord_node::store::Store;
use concord_protocol::origin::Origin;
use concord_scenarios::process::{Concord, Run};
use concord_scenarios::records;
use concord_scenarios::testnet::{Testnet, TestnetSpec};
use concord_scenarios::wait::wait_until;
use serde_json::Value;

/// How long an entry may take to travel: a few sync rounds.
const TRAVEL: Duration = Duration::from_secs(60);

/// Input refused (`concord --help`).
const INVALID_INPUT: i32 = 3;

fn concord() -> Concord {
    Concord::isolated(env!("CARGO_BIN_EXE_concord"))
}

fn origin(id: &str) -> String {
    format!("pacific-alliance.concord/{id}")
}

fn sample(kind: &str, name: &str, state: &str) -> Vec<u8> {
    records::samples()
        .into_iter()
        .find(|r| r.kind == kind && r.name == name)
        .unwrap_or_else(|| panic!("the sample {name}"))
        .stated_by(state)
}

/// `concord ARGS --home HOME(id)`.
fn cli(net: &Testnet, id: &str, args: &[&str]) -> Run {
    net.cli(id, args.iter().map(OsStr::new))
}

/// `id`'s consultations as `consult list --json ARGS` prints them.
fn listed(net: &Testnet, id: &str, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["consult", "list", "--json"];
    all.extend_from_slice(args);
    let list = cli(net, id, &all).ok().json();
    list.as_array().expect("a list").clone()
}

/// Whether `id` holds entry `index` of `log`, in whatever form it may.
fn holds(net: &Testnet, id: &str, log: &str, index: u64) -> bool {
    net.api(id).entry(log, index).is_some()
}

#[test]
fn a_state_consults_the_denying_state_which_answers_once() {
    let mut net = Testnet::create_with(
        &concord(),
        &TestnetSpec::new(&["mx", "co", "pe"], &[]).sync_interval_ms(300),
    );
    for id in ["mx", "co", "pe"] {
        net.start(id);
    }
    let mx = net.api("mx");
    let denial = mx.publish(
        "denial",
        &sample("denial", "mx-2025-thiodiglycol.json", "MX"),
    );
    assert_eq!(denial.index, 0);
    let notice = mx.publish(
        "notice",
        &sample("notice", "mx-2025-manzanillo-seizure.json", "MX"),
    );
    wait_until(TRAVEL, "co holds mx's denial and notice", || {
        holds(&net, "co", "mx", notice.index)
    });

    // Colombia asks; names with accents are data like any other.
    let question = "¿Mantiene México la denegación SE-DGCE-DEN-2025-0031?";
    let request = cli(
        &net,
        "co",
        &[
            "consult",
            "request",
            "--denial",
            "mx#0",
            "--application",
            "MINCIT-DCE-SOL-2026-0187",
            "--question",
            question,
            "--items-summary",
            "Tiodiglicol, 3200 kg (1C350.1)",
            "--json",
        ],
    )
    .ok()
    .json();
    assert_eq!(request["origin"], origin("co"));
    let request_ref = format!("{}#{}", origin("co"), request["index"]);

    // Only a denial this node holds, of another state, can be consulted.
    let consult = |denial: &str| {
        cli(
            &net,
            "co",
            &[
                "consult",
                "request",
                "--denial",
                denial,
                "--application",
                "MINCIT-1",
                "--question",
                "same end user?",
            ],
        )
    };
    consult("mx#1").fails_with(INVALID_INPUT, "is a notice entry, not a denial");
    consult("mx#99").fails_with(INVALID_INPUT, "this node holds no such entry");
    consult("xx#0").fails_with(INVALID_INPUT, "is neither a member id nor a log origin");
    consult("mx").fails_with(INVALID_INPUT, "expected ORIGIN#INDEX");

    // Mexico's node receives it: incoming, pending.
    wait_until(TRAVEL, "mx lists the request as incoming", || {
        !listed(&net, "mx", &["--incoming", "--state", "pending"]).is_empty()
    });
    let incoming = listed(&net, "mx", &["--incoming"]);
    assert_eq!(incoming.len(), 1, "{incoming:?}");
    let seen = &incoming[0];
    assert_eq!(seen["request"], request_ref.as_str());
    assert_eq!(seen["denial"], format!("{}#0", origin("mx")));
    assert_eq!(seen["requesting_state"], "CO");
    assert_eq!(seen["denying_state"], "MX");
    assert_eq!(seen["direction"], "incoming");
    assert_eq!(seen["application_reference"], "MINCIT-DCE-SOL-2026-0187");
    assert_eq!(seen["question"], question);
    assert_eq!(seen["state"], "pending");
    assert!(
        seen["requested_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{seen}"
    );
    assert!(listed(&net, "mx", &["--outgoing"]).is_empty());
    assert!(listed(&net, "mx", &["--state", "answered"]).is_empty());

    // Peru holds the request's header, not its payload, and may not reply.
    wait_until(TRAVEL, "pe holds co's request", || {
        holds(&net, "pe", "co", 0)
    });
    let at_peru = net.api("pe").entry("co", 0).expect("the request");
    assert_ne!(at_peru["payload_state"], "present", "{at_peru}");
    assert!(at_peru["payload"].is_null(), "{at_peru}");
    assert!(listed(&net, "pe", &[]).is_empty());
    let reply = |id: &str, answer: &str| {
        cli(
            &net,
            id,
            &[
                "consult",
                "reply",
                "--request",
                &request_ref,
                "--answer",
                answer,
                "--comment",
                "México mantiene la denegación.",
                "--json",
            ],
        )
    };
    reply("pe", "agree").fails_with(INVALID_INPUT, "this node cannot read it");
    reply("mx", "maybe").fails_with(INVALID_INPUT, "answer");

    // Mexico objects, once.
    let answered = reply("mx", "object").ok().json();
    assert_eq!(answered["origin"], origin("mx"));
    let reply_ref = format!("{}#{}", origin("mx"), answered["index"]);
    reply("mx", "agree").fails_with(
        INVALID_INPUT,
        &format!("was already answered by entry {}", answered["index"]),
    );

    // Colombia sees the answer.
    wait_until(TRAVEL, "co sees the request answered", || {
        listed(&net, "co", &["--outgoing", "--state", "answered"]).len() == 1
    });
    let outgoing = listed(&net, "co", &["--outgoing"]);
    let view = &outgoing[0];
    assert_eq!(view["state"], "answered");
    assert_eq!(view["direction"], "outgoing");
    assert_eq!(view["reply"]["answer"], "object");
    assert_eq!(view["reply"]["comment"], "México mantiene la denegación.");
    assert_eq!(view["reply"]["entry"], reply_ref.as_str());
    assert!(listed(&net, "co", &["--state", "pending"]).is_empty());
    assert!(listed(&net, "co", &["--incoming"]).is_empty());

    // The writer holds the ledger's rules whatever the path: a reply from
    // the requesting state itself, a request naming a third state as the
    // denying one.
    let write = |name: &str, value: &Value| {
        let path = net.root().join(name);
        std::fs::write(&path, serde_json::to_vec(value).expect("JSON")).expect("write");
        path.display().to_string()
    };
    let own_reply = write(
        "own-reply.json",
        &serde_json::json!({
            "request": {"origin": origin("co"), "index": 0},
            "answer": "agree",
            "comment": "self-answered",
        }),
    );
    cli(
        &net,
        "co",
        &[
            "publish",
            "consultation.reply",
            "--file",
            &own_reply,
            "--visibility",
            "bilateral:CO,MX",
        ],
    )
    .fails_with(
        INVALID_INPUT,
        "only its denying state \"MX\" may reply, not \"CO\"",
    );
    let third_state = write(
        "third-state.json",
        &serde_json::json!({
            "denial": {"origin": origin("mx"), "index": 0},
            "requesting_state": "CO",
            "denying_state": "PE",
            "application_reference": "MINCIT-2",
            "question": "same end user?",
        }),
    );
    cli(
        &net,
        "co",
        &[
            "publish",
            "consultation.request",
            "--file",
            &third_state,
            "--visibility",
            "bilateral:CO,PE",
        ],
    )
    .fails_with(
        INVALID_INPUT,
        "denying_state \"PE\" is not the country \"MX\" of the denial's log",
    );

    // Peru's writer cannot tell whose request co#0 is (it cannot read it)
    // and signs a reply; Colombia, which reads both, refuses its payload
    // on ingest, while Mexico, which cannot read the reply (bilateral
    // between Peru and Colombia), stores its header.
    let foreign_reply = write(
        "foreign-reply.json",
        &serde_json::json!({
            "request": {"origin": origin("co"), "index": 0},
            "answer": "agree",
            "comment": "Perú no tiene objeción.",
        }),
    );
    let signed = cli(
        &net,
        "pe",
        &[
            "publish",
            "consultation.reply",
            "--file",
            &foreign_reply,
            "--visibility",
            "bilateral:PE,CO",
            "--json",
        ],
    )
    .ok()
    .json();
    assert_eq!(signed["index"], 0);
    wait_until(TRAVEL, "mx holds pe's reply", || holds(&net, "mx", "pe", 0));
    let refused = "only its denying state \"MX\" may reply, not \"PE\"";
    wait_until(TRAVEL, "co refused pe's reply", || {
        net.node_log("co").contains(refused)
    });
    // Its header came first, by gossip, and stays (a header cannot say
    // what it answers); its payload is not kept, so it answers nothing.
    let at_colombia = net.api("co").entry("pe", 0).expect("the header");
    assert_ne!(at_colombia["payload_state"], "present", "{at_colombia}");

    // The API refuses what it does not know, as its other routes do.
    let co = net.api("co");
    for (path, body) in [
        (
            "/v1/consultations",
            serde_json::json!({"denial": "mx#0", "application_reference": "A", "question": "Q", "urgency": "high"}),
        ),
        (
            "/v1/consultations/reply",
            serde_json::json!({"request": "co#0", "answer": "agree", "comment": "C", "signed_by": "x"}),
        ),
    ] {
        let answer = co.post(path, &serde_json::to_vec(&body).expect("JSON"));
        assert_eq!(answer.status, 400, "{path}: {}", answer.body);
        assert_eq!(answer.code(), "bad_request", "{path}");
        assert!(
            answer.message().contains("unknown field"),
            "{path}: {}",
            answer.body
        );
    }
    for query in ["colour=red", "state=late", "direction=sideways"] {
        let answer = co.get(&format!("/v1/consultations?{query}"));
        assert_eq!(answer.status, 400, "{query}: {}", answer.body);
        assert_eq!(answer.code(), "bad_request", "{query}");
    }
    let listed_by_api = co.get("/v1/consultations?direction=outgoing&state=answered");
    assert_eq!(listed_by_api.status, 200, "{}", listed_by_api.body);
    assert_eq!(listed_by_api.json(), Value::Array(outgoing.clone()));

    // A revoked denial, and one of the asking state's own, are not
    // consulted about.
    let second = mx.publish(
        "denial",
        &sample("denial", "mx-2026-uav-airframes.json", "MX"),
    );
    let revocation = std::fs::read(records::dir().join("revocations/mx-2025-thiodiglycol.json"))
        .expect("the sample revocation");
    let revoked = mx.publish(
        &format!("denial.revoke?refers_to={}", second.index),
        &revocation,
    );
    wait_until(TRAVEL, "co holds the revocation", || {
        holds(&net, "co", "mx", revoked.index)
    });
    consult(&format!("mx#{}", second.index)).fails_with(INVALID_INPUT, "was revoked");
    let own = co.publish("denial", &sample("denial", "co-2025-crypto.json", "CO"));
    consult(&format!("co#{}", own.index)).fails_with(INVALID_INPUT, "own state's");

    // A second request about mx#0, never answered, is overdue once it
    // waited longer than `[consultations] overdue_days` says.
    let pending = consult("mx#0").ok();
    assert!(
        pending.stdout.contains("published consultation request"),
        "{}",
        pending.stdout
    );
    let human = cli(&net, "co", &["consult", "list"]).ok().stdout;
    assert!(
        human.contains("object") && human.contains("pending"),
        "{human}"
    );
    net.stop("co");
    let config = net.home("co").join("config.toml");
    let text = std::fs::read_to_string(&config).expect("config.toml");
    assert!(text.contains("overdue_days = 30"), "{text}");
    std::fs::write(
        &config,
        text.replace("overdue_days = 30", "overdue_days = 0"),
    )
    .expect("config.toml");
    wait_until(TRAVEL, "the unanswered request shows overdue", || {
        listed(&net, "co", &["--state", "overdue"]).len() == 1
    });
    let everything = listed(&net, "co", &[]);
    assert_eq!(everything.len(), 2, "{everything:?}");
    assert_eq!(everything[0]["state"], "answered");

    // What screening will ask of a denial is what `consult list` shows.
    let home = Home::new(&net.home("co"));
    let store = Store::open(&home.db_path()).expect("co's store");
    let queries = Queries::of_home(store, &home).expect("co's queries");
    let mx_origin = Origin::new(&origin("mx")).expect("origin");
    let about: Vec<ConsultationView> = queries
        .consultations_about(&mx_origin, 0)
        .expect("consultations about mx#0");
    assert_eq!(
        serde_json::to_value(&about).expect("JSON"),
        Value::Array(everything)
    );
    for index in [notice.index, second.index] {
        assert!(
            queries
                .consultations_about(&mx_origin, index)
                .expect("none about the notice or the revoked denial")
                .is_empty()
        );
    }
}
