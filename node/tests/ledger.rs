//! The ledger's rules hold the same on every path that writes or judges a
//! log: an amendment of a denial after its revocation is refused by the own
//! log's writer and by replica ingest with the same error, and found by the
//! store audit and the bundle audit under the same code, and an import of a
//! bundle holding it stores nothing; records in another state's name and
//! times out of order are refused by the writer and by replica ingest (by
//! the ingesting node's clock), and so are consultations that break the
//! consultation rules, with or after their headers. In process: real sled stores in temp
//! dirs, real signatures, a real roster made by `testnet::build`.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use clap::Parser as _;
use concord_keys::roster::Roster;
use concord_node::audit::{self, Finding, Progress};
use concord_node::bundle::{self, BundleWriter, FORMAT, Head};
use concord_node::cli::{self, Cli, exit};
use concord_node::home::Home;
use concord_node::publish::{self, OwnEntry};
use concord_node::store::{LogHead, Rejected, Store, keys, open_sled};
use concord_node::testnet::{self, Plan};
use concord_protocol::checkpoint::{Checkpoint, SignedCheckpoint};
use concord_protocol::entry::{Digest256, EntryRef, NewEntry, SignedEntry, Visibility, sign_entry};
use concord_protocol::ledger::LedgerError;
use concord_protocol::merkle::RootBuilder;
use concord_protocol::origin::Origin;
use concord_protocol::record::{Country, Kind, Record};
use ed25519_dalek::SigningKey;

const FEDERATION: &str = "pacific-alliance";

/// What every path refuses entry 2 of the log below for.
fn refused() -> LedgerError {
    LedgerError::AlreadyRevoked(0)
}

/// A federation of mx and cl in a temp dir.
struct Fed {
    dir: tempfile::TempDir,
    roster: Roster,
}

impl Fed {
    fn new() -> Fed {
        let dir = tempfile::tempdir().expect("temp dir");
        testnet::build(&Plan {
            dir: dir.path().to_path_buf(),
            members: vec!["mx".into(), "cl".into()],
            observers: vec![],
            federation: FEDERATION.into(),
            sync_interval_ms: 1000,
        })
        .expect("testnet builds");
        let roster = Home::new(&dir.path().join("mx"))
            .roster()
            .expect("roster installed");
        Fed { dir, roster }
    }

    fn home(&self, id: &str) -> PathBuf {
        self.dir.path().join(id)
    }

    fn mx_key(&self) -> SigningKey {
        let identity = Home::new(&self.home("mx")).identity().expect("identity");
        identity.log_key.clone()
    }

    fn store(&self, id: &str) -> Store {
        Store::open(&Home::new(&self.home(id)).db_path()).expect("store opens")
    }
}

fn mx() -> Origin {
    Origin::for_member(FEDERATION, "mx").expect("origin")
}

/// A denial, its revocation, then an amendment of it, each with the index
/// of the denial it refers to.
fn records() -> [(Record, Option<u64>); 3] {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/records/denials/mx-2025-thiodiglycol.json");
    let denial_bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let denial = Record::parse(Kind::Denial, &denial_bytes).expect("the sample validates");
    let denial_json: serde_json::Value = serde_json::from_slice(&denial_bytes).expect("json");
    let revoke = serde_json::json!({ "reason": "licence appeal upheld", "date": "2026-06-01" });
    let amend = serde_json::json!({ "reason": "end user renamed", "denial": denial_json });
    let parse = |kind, json: serde_json::Value| {
        Record::parse(kind, json.to_string().as_bytes()).expect("the record validates")
    };
    [
        (denial, None),
        (parse(Kind::DenialRevoke, revoke), Some(0)),
        (parse(Kind::DenialAmend, amend), Some(0)),
    ]
}

/// mx's log of [`records`] as a member that ignored the rule would sign it.
fn forged_log(fed: &Fed) -> Vec<(SignedEntry, Vec<u8>)> {
    let key = fed.mx_key();
    let origin = mx();
    let mut log: Vec<(SignedEntry, Vec<u8>)> = Vec::new();
    for (index, (record, refers_to)) in (0..).zip(records()) {
        let payload = record.to_canonical_bytes();
        let new = NewEntry {
            origin: &origin,
            index,
            time: 1_763_935_200 + index,
            kind: record.kind(),
            refers_to: refers_to.map(|denial| EntryRef {
                index: denial,
                leaf_hash: Digest256(log[0].0.leaf_hash()),
            }),
            payload: &payload,
            visibility: Visibility::Federation,
        };
        log.push((sign_entry(&new, &key).expect("signs"), payload));
    }
    log
}

fn replica_items(log: &[(SignedEntry, Vec<u8>)]) -> Vec<(SignedEntry, Option<Vec<u8>>)> {
    log.iter()
        .map(|(entry, payload)| (entry.clone(), Some(payload.clone())))
        .collect()
}

/// The findings as (code, index).
fn located(findings: &[Finding]) -> Vec<(&str, Option<u64>)> {
    findings.iter().map(|f| (&*f.what, f.index)).collect()
}

#[test]
fn the_own_log_writer_refuses_an_amendment_after_a_revocation() {
    let fed = Fed::new();
    let store = fed.store("mx");
    let key = fed.mx_key();
    let group: Vec<OwnEntry> = records()
        .into_iter()
        .map(|(record, refers_to)| OwnEntry {
            record,
            visibility: Visibility::Federation,
            refers_to,
        })
        .collect();
    let (outcomes, checkpoint) = publish::append_own(
        &store,
        &mx(),
        Country::new("MX").expect("a country"),
        &key,
        1_763_935_200,
        &group,
    )
    .expect("append");
    assert!(outcomes[..2].iter().all(Result::is_ok), "{outcomes:?}");
    assert_eq!(outcomes[2], Err(Rejected::Ledger(refused())));
    assert_eq!(store.head(&mx()).expect("head").size, 2);
    assert_eq!(checkpoint.expect("two went in").checkpoint.size, 2);
}

#[test]
fn replica_ingest_refuses_an_amendment_after_a_revocation() {
    let fed = Fed::new();
    let store = fed.store("cl");
    let log = forged_log(&fed);
    let outcome = store
        .ingest(
            &mx(),
            replica_items(&log),
            &fed.roster,
            concord_node::clock::now(),
        )
        .expect("ingest");
    assert_eq!(outcome.appended, 2);
    assert_eq!(outcome.rejected, [(2, Rejected::Ledger(refused()))]);
    assert_eq!(store.head(&mx()).expect("head").size, 2);
}

/// A store whose status page was rewritten behind its back takes the
/// amendment; the audit replays the log from its headers, not from the
/// stored statuses, and finds it.
#[test]
fn the_store_audit_finds_an_amendment_after_a_revocation() {
    let fed = Fed::new();
    let log = forged_log(&fed);
    let path = Home::new(&fed.home("cl")).db_path();
    {
        let store = fed.store("cl");
        let outcome = store
            .ingest(
                &mx(),
                replica_items(&log[..2]),
                &fed.roster,
                concord_node::clock::now(),
            )
            .expect("ingest");
        assert_eq!(outcome.appended, 2);
        store.flush_blocking().expect("flush");
    }
    {
        let db = open_sled(&path).expect("raw open");
        let data = db.open_tree("data").expect("data");
        let mut rewritten = 0;
        for item in data.scan_prefix([keys::STATUS_PAGE]) {
            let (key, page) = item.expect("status page");
            let text = String::from_utf8(page.to_vec()).expect("a status page of JSON records");
            // Same length, so the page's record bounds still hold.
            let changed = text.replace("\"revoked\"", "\"amended\"");
            if changed != text {
                data.insert(key, changed.as_bytes()).expect("write");
                rewritten += 1;
            }
        }
        assert_eq!(rewritten, 1);
        db.flush().expect("flush");
    }
    let store = fed.store("cl");
    let outcome = store
        .ingest(
            &mx(),
            replica_items(&log[2..]),
            &fed.roster,
            concord_node::clock::now(),
        )
        .expect("ingest");
    assert_eq!(outcome.appended, 1, "{:?}", outcome.rejected);
    let report = audit::audit_store(
        &store,
        &fed.roster,
        "store",
        "home",
        true,
        concord_node::clock::now(),
        &Progress::new(false),
    )
    .expect("audit");
    assert_eq!(
        located(&report.findings),
        [(refused().code(), Some(2))],
        "{:#?}",
        report.findings
    );
    assert_eq!(report.findings[0].why, refused().to_string());
}

/// mx's forged log as a bundle exported by mx, with a checkpoint of it.
fn forged_bundle(fed: &Fed) -> PathBuf {
    let home = Home::new(&fed.home("mx"));
    let key = fed.mx_key();
    let log = forged_log(fed);
    let mut tree = RootBuilder::default();
    for (entry, _) in &log {
        tree.push(entry.leaf_hash());
    }
    let size = log.len() as u64;
    let head = Head {
        audience: None,
        created: 1_763_935_400,
        exporter: mx().to_string(),
        federation: FEDERATION.into(),
        format: FORMAT.into(),
        headers_only: false,
        rosters: home
            .roster_files()
            .expect("roster files")
            .iter()
            .map(|file| BASE64.encode(file))
            .collect(),
    };
    let mut writer = BundleWriter::new(Vec::new(), &head).expect("head");
    writer
        .log(
            &mx(),
            LogHead {
                size,
                root: tree.root(),
            },
        )
        .expect("log");
    writer
        .checkpoint(&SignedCheckpoint::sign(
            Checkpoint::new(mx(), size, tree.root()),
            &key,
        ))
        .expect("checkpoint");
    for (entry, payload) in &log {
        writer.entry(entry, Some(payload)).expect("entry");
    }
    let bytes = writer.finish(&key, mx().as_str()).expect("end");
    let path = fed.dir.path().join("forged.bundle");
    std::fs::write(&path, bytes).expect("write bundle");
    path
}

#[test]
fn the_bundle_audit_finds_an_amendment_after_a_revocation_and_import_stores_nothing() {
    let fed = Fed::new();
    let path = forged_bundle(&fed);
    let audited = bundle::audit_file(
        &path,
        Some((fed.roster.clone(), "home".into())),
        true,
        concord_node::clock::now(),
        &Progress::new(false),
    )
    .expect("the bundle reads");
    let findings = &audited.report.findings;
    assert_eq!(
        located(findings),
        [(refused().code(), Some(2))],
        "{findings:#?}"
    );
    assert_eq!(findings[0].why, refused().to_string());

    let home = fed.home("cl");
    let import = Cli::try_parse_from([
        "concord".as_ref(),
        "import".as_ref(),
        "--json".as_ref(),
        "--home".as_ref(),
        home.as_os_str(),
        path.as_os_str(),
    ])
    .expect("the command line parses");
    let imported = cli::dispatch(import);
    assert_eq!(imported.err().map(|e| e.code), Some(exit::AUDIT_FINDINGS));
    let store = fed.store("cl");
    assert_eq!(store.head(&mx()).expect("head").size, 0);
    assert!(store.checkpoints(&mx()).expect("checkpoints").is_empty());
}

/// A sample record, as its file holds it.
fn sample(path: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/records")
        .join(path);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Entry `index` of mx's log: a denial of `payload` stamped `time`.
fn mx_denial(fed: &Fed, index: u64, time: u64, payload: &[u8]) -> SignedEntry {
    let new = NewEntry {
        origin: &mx(),
        index,
        time,
        kind: Kind::Denial,
        refers_to: None,
        payload,
        visibility: Visibility::Federation,
    };
    sign_entry(&new, &fed.mx_key()).expect("signs")
}

const T0: u64 = 1_763_935_200;

#[test]
fn replica_ingest_refuses_other_states_names_and_times_out_of_order_by_its_clock() {
    let fed = Fed::new();
    let mx_body = sample("denials/mx-2025-thiodiglycol.json");
    let pe_body = sample("denials/pe-2025-machine-tools.json");
    let foreign = Rejected::Ledger(LedgerError::ForeignState {
        field: "denying_state",
        found: "\"PE\"".into(),
        country: Country::new("MX").expect("a country"),
    });
    // (entries 0.. of mx's log with their payloads, the clock, what is
    // appended, what is refused)
    type Case = (Vec<(u64, Vec<u8>)>, u64, u64, Vec<(u64, Rejected)>);
    let cases: Vec<Case> = vec![
        (
            vec![(T0, mx_body.clone()), (T0, pe_body.clone())],
            T0,
            1,
            vec![(1, foreign.clone())],
        ),
        (
            vec![(T0, mx_body.clone()), (T0 - 1, mx_body.clone())],
            T0,
            1,
            vec![(
                1,
                Rejected::Ledger(LedgerError::TimeBackwards {
                    time: T0 - 1,
                    previous: T0,
                }),
            )],
        ),
        (
            vec![(T0, mx_body.clone()), (T0 + 601, mx_body.clone())],
            T0,
            1,
            vec![(
                1,
                Rejected::Ledger(LedgerError::TimeAhead {
                    time: T0 + 601,
                    now: T0,
                }),
            )],
        ),
        (
            vec![(T0, mx_body.clone()), (T0 + 600, mx_body.clone())],
            T0,
            2,
            vec![],
        ),
    ];
    for (entries, now, appended, rejected) in cases {
        let store = fed.store("cl");
        let items = (0..)
            .zip(&entries)
            .map(|(index, (time, body))| (mx_denial(&fed, index, *time, body), Some(body.clone())))
            .collect();
        let outcome = store
            .ingest(&mx(), items, &fed.roster, now)
            .expect("ingest");
        assert_eq!(
            (outcome.appended, &outcome.rejected),
            (appended, &rejected),
            "{entries:?}"
        );
        drop(store);
        std::fs::remove_dir_all(Home::new(&fed.home("cl")).db_path()).expect("a fresh store");
    }

    // A header taken alone cannot be judged by its record; the payload is,
    // when it comes later.
    let store = fed.store("cl");
    let entry = mx_denial(&fed, 0, T0, &pe_body);
    let outcome = store
        .ingest(&mx(), vec![(entry.clone(), None)], &fed.roster, T0)
        .expect("ingest");
    assert_eq!(outcome.appended, 1);
    let outcome = store
        .ingest(&mx(), vec![(entry, Some(pe_body.clone()))], &fed.roster, T0)
        .expect("ingest");
    assert_eq!(
        (outcome.payloads_filled, outcome.rejected),
        (0, vec![(0, foreign)])
    );
    assert_eq!(
        store.payload(&Digest256::of(&pe_body).0).expect("read"),
        None
    );
    // And the time a late entry was refused for passes with the clock.
    let late = mx_denial(&fed, 1, T0 + 3_600, &mx_body);
    let ahead = store
        .ingest(
            &mx(),
            vec![(late.clone(), Some(mx_body.clone()))],
            &fed.roster,
            T0,
        )
        .expect("ingest");
    assert_eq!(ahead.appended, 0);
    let later = store
        .ingest(&mx(), vec![(late, Some(mx_body))], &fed.roster, T0 + 3_600)
        .expect("ingest");
    assert_eq!(later.appended, 1, "{:?}", later.rejected);
}

#[test]
fn the_own_log_writer_publishes_in_its_state_name_and_never_back_in_time() {
    let fed = Fed::new();
    let store = fed.store("mx");
    let key = fed.mx_key();
    let mexico = Country::new("MX").expect("a country");
    let own = |path: &str| OwnEntry {
        record: Record::parse(Kind::Denial, &sample(path)).expect("a sample"),
        visibility: Visibility::Federation,
        refers_to: None,
    };
    let mx_denial = own("denials/mx-2025-thiodiglycol.json");
    let append = |now: u64, entry: &OwnEntry| {
        let (outcomes, _) = publish::append_own(
            &store,
            &mx(),
            mexico,
            &key,
            now,
            std::slice::from_ref(entry),
        )
        .expect("append");
        outcomes.into_iter().next().expect("one outcome")
    };
    let refused = append(T0, &own("denials/pe-2025-machine-tools.json")).expect_err("foreign");
    assert_eq!(
        refused.to_string(),
        "denying_state \"PE\" is not this member's country \"MX\""
    );
    // The clock goes back five minutes after the first publish, say across
    // a restart: the log's time stays where it was.
    let first = append(T0, &mx_denial).expect("published");
    let second = append(T0 - 300, &mx_denial).expect("published");
    assert_eq!((first.header.time, second.header.time), (T0, T0));
    let third = append(T0 + 5, &mx_denial).expect("published");
    assert_eq!(third.header.time, T0 + 5);
    // A clock further behind than the tolerance refuses, rather than sign
    // a time ahead of itself.
    assert_eq!(
        append(T0 - 3_600, &mx_denial),
        Err(Rejected::Ledger(LedgerError::TimeAhead {
            time: T0 + 5,
            now: T0 - 3_600
        }))
    );
    assert_eq!(store.head(&mx()).expect("head").size, 3);
}

fn cl() -> Origin {
    Origin::for_member(FEDERATION, "cl").expect("origin")
}

/// Entry `index` of `id`'s log holding `record`, bilateral between CL and
/// MX, signed by `id`'s key.
fn signed(fed: &Fed, id: &str, index: u64, record: &Record) -> (SignedEntry, Vec<u8>) {
    let key = Home::new(&fed.home(id))
        .identity()
        .expect("identity")
        .log_key
        .clone();
    let origin = Origin::for_member(FEDERATION, id).expect("origin");
    let payload = record.to_canonical_bytes();
    let country = |code: &str| Country::new(code).expect("a country");
    let new = NewEntry {
        origin: &origin,
        index,
        time: T0 + index,
        kind: record.kind(),
        refers_to: None,
        payload: &payload,
        visibility: Visibility::Bilateral {
            states: [country("CL"), country("MX")],
        },
    };
    (sign_entry(&new, &key).expect("signs"), payload)
}

/// Chile's request about mx#0, asking `denying`.
fn request(denying: &str) -> Record {
    let json = serde_json::json!({
        "denial": {"origin": mx().as_str(), "index": 0},
        "requesting_state": "CL",
        "denying_state": denying,
        "application_reference": "SUBREI-LIC-2026-0001",
        "question": "¿Mismo usuario final?",
    });
    Record::parse(Kind::ConsultationRequest, json.to_string().as_bytes()).expect("a request")
}

/// Mexico's `answer` to entry `index` of Chile's log.
fn reply(index: u64, answer: &str) -> Record {
    let json = serde_json::json!({
        "request": {"origin": cl().as_str(), "index": index},
        "answer": answer,
        "comment": "Se mantiene la denegación.",
    });
    Record::parse(Kind::ConsultationReply, json.to_string().as_bytes()).expect("a reply")
}

/// Chile's log: a request to Mexico (0), one naming Peru as the state
/// that denied Mexico's denial (1), a notice (2).
fn chile_log(fed: &Fed) -> Vec<(SignedEntry, Vec<u8>)> {
    let notice = Record::parse(
        Kind::Notice,
        &sample("notices/cl-2024-valparaiso-alert.json"),
    )
    .expect("the sample validates");
    [request("MX"), request("PE"), notice]
        .iter()
        .zip(0..)
        .map(|(record, index)| signed(fed, "cl", index, record))
        .collect()
}

#[test]
fn replica_ingest_refuses_a_request_that_consults_another_state_than_the_denial_log() {
    let fed = Fed::new();
    let store = fed.store("mx");
    let outcome = store
        .ingest(
            &cl(),
            replica_items(&chile_log(&fed)),
            &fed.roster,
            concord_node::clock::now(),
        )
        .expect("ingest");
    assert_eq!(outcome.appended, 1);
    let Rejected::Ledger(refused) = &outcome.rejected[0].1 else {
        panic!("{:?}", outcome.rejected)
    };
    assert_eq!(outcome.rejected[0].0, 1);
    assert_eq!(refused.code(), "consultation_denying_state");
    assert_eq!(
        refused.to_string(),
        "denying_state \"PE\" is not the country \"MX\" of the denial's log \
         pacific-alliance.concord/mx"
    );
}

/// Chile's node holds its log (the request to Peru went in unchecked, as
/// a writer that ignored the rule would sign it) and judges Mexico's
/// replies, with their payloads and after their headers alike.
#[test]
fn replica_ingest_takes_one_reply_per_request_and_only_from_its_denying_state() {
    let fed = Fed::new();
    let store = fed.store("cl");
    let chile: Vec<OwnEntry> = [request("MX"), request("PE")]
        .into_iter()
        .map(|record| OwnEntry {
            record,
            visibility: Visibility::Members,
            refers_to: None,
        })
        .collect();
    let cl_key = Home::new(&fed.home("cl"))
        .identity()
        .expect("identity")
        .log_key
        .clone();
    let (outcomes, _) = publish::append_own(
        &store,
        &cl(),
        Country::new("CL").expect("a country"),
        &cl_key,
        T0,
        &chile,
    )
    .expect("append");
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");

    let ingest = |items: Vec<(SignedEntry, Option<Vec<u8>>)>| {
        store
            .ingest(&mx(), items, &fed.roster, concord_node::clock::now())
            .expect("ingest")
    };
    let first = signed(&fed, "mx", 0, &reply(0, "object"));
    assert_eq!(
        ingest(replica_items(std::slice::from_ref(&first))).appended,
        1
    );
    let refused = |record: &Record, expected: LedgerError| {
        let outcome = ingest(replica_items(&[signed(&fed, "mx", 1, record)]));
        assert_eq!(outcome.appended, 0, "{record:?}");
        assert_eq!(
            outcome.rejected,
            [(1, Rejected::Ledger(expected.clone()))],
            "{record:?}"
        );
        expected
    };
    let request_ref = |index| concord_protocol::record::EntryRef {
        origin: cl(),
        index,
    };
    let twice = refused(
        &reply(0, "object"),
        LedgerError::AlreadyReplied {
            request: request_ref(0),
            index: 0,
        },
    );
    assert_eq!(twice.code(), "consultation_replied");
    let wrong = refused(
        &reply(1, "object"),
        LedgerError::ReplyFromWrongState {
            request: request_ref(1),
            denying_state: Country::new("PE").expect("a country"),
            country: Country::new("MX").expect("a country"),
        },
    );
    assert_eq!(wrong.code(), "consultation_wrong_state");
    // An entry this node does not hold cannot be judged.
    assert_eq!(
        ingest(replica_items(&[signed(&fed, "mx", 1, &reply(9, "object"))])).appended,
        1
    );

    // A second reply whose header came alone: its payload is not kept.
    // (Another answer: payloads are kept by digest, and the same bytes
    // would already be held.)
    let (header_only, payload) = signed(&fed, "mx", 2, &reply(0, "agree"));
    assert_eq!(ingest(vec![(header_only.clone(), None)]).appended, 1);
    let late = ingest(vec![(header_only, Some(payload))]);
    assert_eq!(late.payloads_filled, 0);
    assert_eq!(
        late.rejected,
        [(
            2,
            Rejected::Ledger(LedgerError::AlreadyReplied {
                request: request_ref(0),
                index: 0,
            })
        )]
    );
}
