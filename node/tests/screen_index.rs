//! Screening over a real store: the index the store keeps in the same
//! batches as its entries, the versions in force, restricted denials, the
//! saved result's proofs, and the store indexed again when it opens.

mod common;

use concord_node::alerts;
use concord_node::publish::{self, OwnEntry};
use concord_node::query::Queries;
use concord_node::screening::{self, Request, ScreeningResult, verify};
use concord_node::store::{Store, open_sled};
use concord_protocol::entry::Visibility;
use concord_protocol::origin::Origin;
use concord_protocol::record::{Country, Date, Kind, Record};
use concord_screening::{Application, Index};

/// The sample consultation's application: its consignee is the consignee
/// of mx's thiodiglycol denial, spelt without accents.
const APPLICATION: &str =
    include_str!("../../scenarios/records/applications/co-2026-thiodiglycol.json");

/// 2026-12-02, a day every sample denial of 2025 and 2026 is in force.
const TODAY: u64 = 1_796_212_800;

use common::Fed;

fn queries_of(fed: &Fed, store: &Store, id: &str) -> Queries {
    Queries::of_home(store.clone(), &fed.home(id)).expect("queries")
}

fn mx() -> Origin {
    Origin::for_member("pacific-alliance", "mx").expect("origin")
}

fn sample(name: &str) -> Record {
    let sample = concord_scenarios::records::denials()
        .into_iter()
        .find(|r| r.name == name)
        .expect("the sample");
    Record::parse(Kind::Denial, &sample.stated_by("MX")).expect("sample validates")
}

fn entry(record: &Record, visibility: Visibility, refers_to: Option<u64>) -> OwnEntry {
    OwnEntry {
        record: record.clone(),
        visibility,
        refers_to,
    }
}

fn amendment(denial: &Record, name: &str) -> Record {
    let Record::Denial(mut denial) = denial.clone() else {
        panic!("a denial")
    };
    let mut parties = serde_json::to_value(&denial.parties).expect("parties");
    parties[0]["name"] = name.into();
    parties[0]["aliases"] = serde_json::json!([]);
    denial.parties = serde_json::from_value(parties).expect("parties");
    let json = serde_json::json!({"reason": "consignee corrected", "denial": denial});
    Record::parse(Kind::DenialAmend, json.to_string().as_bytes()).expect("amendment validates")
}

fn revocation() -> Record {
    let json = serde_json::json!({"reason": "appeal upheld", "date": "2026-06-01"});
    Record::parse(Kind::DenialRevoke, json.to_string().as_bytes()).expect("revocation")
}

/// mx's log: 0 thiodiglycol (federation), 1 machine tools (bilateral
/// MX–CL), 2 UAV airframes, 3 its revocation, 4 thiodiglycol again with
/// another consignee, 5 its amendment back to the sample's consignee.
fn publish_mx(fed: &Fed, store: &Store) {
    let key = fed.home("mx").identity().expect("identity").log_key.clone();
    let thiodiglycol = sample("mx-2025-thiodiglycol.json");
    let five_axis = sample("mx-2025-five-axis.json");
    let uav = sample("mx-2026-uav-airframes.json");
    let other = amendment(&thiodiglycol, "Laboratorios Río Bravo S.A. de C.V.");
    let Record::DenialAmend(other) = other else {
        unreachable!("an amendment")
    };
    let other = Record::Denial(other.denial);
    let group = [
        entry(&thiodiglycol, Visibility::Federation, None),
        entry(
            &five_axis,
            Visibility::Bilateral {
                states: [Country::new("MX").unwrap(), Country::new("CL").unwrap()],
            },
            None,
        ),
        entry(&uav, Visibility::Federation, None),
        entry(&revocation(), Visibility::Federation, Some(2)),
        entry(&other, Visibility::Federation, None),
        entry(
            &amendment(&thiodiglycol, "Química Andina del Pacífico S.A.C."),
            Visibility::Federation,
            Some(4),
        ),
    ];
    publish::append_own(
        store,
        &mx(),
        Country::new("MX").unwrap(),
        &key,
        1,
        &group[..3],
    )
    .expect("append");
    publish::append_own(
        store,
        &mx(),
        Country::new("MX").unwrap(),
        &key,
        2,
        &group[3..],
    )
    .expect("append");
}

fn screen(queries: &Queries, application: &str, at: Option<&str>) -> ScreeningResult {
    let request = Request {
        application: Application::parse(application.as_bytes()).expect("application"),
        at: at.map(|d| Date::parse(d).expect("date")),
        threshold: None,
    };
    screening::screen(queries, &request, TODAY).expect("screens")
}

fn hit_entries(result: &ScreeningResult) -> Vec<u64> {
    result.hits.iter().map(|h| h.entry.index).collect()
}

#[test]
fn a_screening_finds_the_denials_in_force_in_their_current_version() {
    let fed = Fed::new(&[]);
    let store = Store::open(&fed.home("mx").db_path()).expect("store");
    publish_mx(&fed, &store);
    let result = screen(&queries_of(&fed, &store, "mx"), APPLICATION, None);
    // 0 and the amended 4 meet; 4's original consignee alone would not.
    assert_eq!(hit_entries(&result), vec![0, 4], "{:#?}", result.hits);
    let amended = &result.hits[1];
    assert_eq!(amended.current.index, 5);
    assert_eq!(
        amended.entries.iter().map(|e| e.index).collect::<Vec<_>>(),
        vec![4, 5]
    );
    let hit = &result.hits[0];
    assert!(hit.score >= concord_screening::DEFAULT_THRESHOLD);
    assert_eq!(hit.denying_state.as_str(), "MX");
    let field = &hit.explanation.parties[0].fields[0];
    assert!(!field.how.is_empty(), "{field:?}");
    assert!(
        !hit.explanation.adjustments.is_empty(),
        "country, destination and items are explained"
    );
    let log = result
        .logs
        .iter()
        .find(|l| l.origin == mx())
        .expect("mx screened");
    assert_eq!((log.size, log.unscreened), (6, 0));
    assert!(log.checkpoint.is_some());

    // The revoked UAV denial never meets, however close the name.
    let Record::Denial(uav) = sample("mx-2026-uav-airframes.json") else {
        unreachable!("a denial")
    };
    let mut uav_application: serde_json::Value = serde_json::from_str(APPLICATION).expect("JSON");
    uav_application["parties"][0]["name"] = uav.parties[0].name.as_str().into();
    uav_application["parties"][0]["aliases"] = serde_json::json!([]);
    uav_application["parties"][0]["country"] = uav.parties[0].country.as_str().into();
    let uav_result = screen(
        &queries_of(&fed, &store, "mx"),
        &uav_application.to_string(),
        None,
    );
    assert!(
        !hit_entries(&uav_result).contains(&2),
        "{:?}",
        uav_result.hits
    );

    // Long after every validity ran out, nothing is in force; before the
    // entries were published, nothing was known.
    assert!(
        screen(
            &queries_of(&fed, &store, "mx"),
            APPLICATION,
            Some("2045-01-01")
        )
        .hits
        .is_empty()
    );
    assert!(
        screen(
            &queries_of(&fed, &store, "mx"),
            APPLICATION,
            Some("1969-12-31")
        )
        .hits
        .is_empty()
    );
}

/// What the index kept as entries arrived is what it reads from its rows
/// when the store opens again; a purged payload is no longer screened,
/// then or after a restart.
#[test]
fn the_index_read_from_its_rows_screens_as_the_one_kept_live() {
    let fed = Fed::new(&[]);
    let path = fed.home("mx").db_path();
    let scores = |result: &ScreeningResult| {
        result
            .hits
            .iter()
            .map(|h| (h.entry.index, h.current.index, h.score.to_bits()))
            .collect::<Vec<_>>()
    };
    let live = {
        let store = Store::open(&path).expect("store");
        publish_mx(&fed, &store);
        scores(&screen(&queries_of(&fed, &store, "mx"), APPLICATION, None))
    };
    assert_eq!(live.len(), 2, "{live:?}");
    let store = Store::open(&path).expect("store");
    let (_, denials) = store.screening_memory().expect("index");
    assert_eq!(
        denials, 4,
        "every denial, the revoked and the restricted included"
    );
    let read = scores(&screen(&queries_of(&fed, &store, "mx"), APPLICATION, None));
    assert_eq!(read, live);
    assert_eq!(
        store.warm_screening().expect("warm"),
        3,
        "versions not scored yet"
    );
    assert_eq!(store.warm_screening().expect("warm"), 0);

    // The amendment holding denial 4's current version loses its payload.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    assert!(
        runtime
            .block_on(store.purge_payload(&mx(), 5, "test", TODAY))
            .expect("purge")
    );
    let purged = hit_entries(&screen(&queries_of(&fed, &store, "mx"), APPLICATION, None));
    assert_eq!(purged, vec![0]);
    drop(store);
    let store = Store::open(&path).expect("store");
    assert_eq!(
        hit_entries(&screen(&queries_of(&fed, &store, "mx"), APPLICATION, None)),
        purged
    );
}

#[test]
fn a_saved_result_verifies_and_a_changed_one_does_not() {
    let fed = Fed::new(&[]);
    let store = Store::open(&fed.home("mx").db_path()).expect("store");
    publish_mx(&fed, &store);
    let queries = queries_of(&fed, &store, "mx");
    let result = screen(&queries, APPLICATION, None);
    let text = serde_json::to_string(&result).expect("serialises");
    let saved: ScreeningResult = serde_json::from_str(&text).expect("parses back");

    let alone = verify::verify(&saved, None, None);
    assert!(alone.ok(), "{:?}", alone.findings);
    assert!(
        alone.roster.contains("carried by the result"),
        "{}",
        alone.roster
    );
    assert!(alone.absent_hits.starts_with("not proven"));
    let trusted = (fed.roster.clone(), "trusted".to_owned());
    let with_store = verify::verify(&saved, Some(trusted.clone()), Some(&store));
    assert!(with_store.ok(), "{:?}", with_store.findings);
    assert!(with_store.absent_hits.starts_with("proven"));

    let mut higher = saved.clone();
    higher.hits[0].score = 0.99;
    assert!(!verify::verify(&higher, None, None).ok());
    let mut proof = saved.clone();
    proof.hits[0].entries[0].proof[0].0[0] ^= 1;
    assert!(!verify::verify(&proof, None, None).ok());
    let mut dropped = saved.clone();
    dropped.hits.remove(1);
    assert!(
        verify::verify(&dropped, None, None).ok(),
        "the hits a result carries prove themselves"
    );
    let checked = verify::verify(&dropped, Some(trusted), Some(&store));
    assert!(!checked.ok(), "but a store shows the one left out");
    assert!(
        checked.findings[0].contains("hit set"),
        "{:?}",
        checked.findings
    );
    let mut denial = saved;
    denial.hits[0].current.denial.reference = "X-1".parse().expect("a name");
    assert!(!verify::verify(&denial, None, None).ok());
}

#[test]
fn a_denial_this_node_may_not_read_is_named_without_contents() {
    let fed = Fed::new(&[]);
    let mx_store = Store::open(&fed.home("mx").db_path()).expect("store");
    publish_mx(&fed, &mx_store);
    // pe's replica holds mx's log; the bilateral MX–CL payload it may not
    // read is not sent to it, so it holds the header alone.
    let pe_store = Store::open(&fed.home("pe").db_path()).expect("store");
    let items: Vec<_> = mx_store
        .entries(&mx(), 0, 6)
        .expect("entries")
        .into_iter()
        .map(|entry| {
            let header = entry.decode_header().expect("header");
            let readable = header.index != 1;
            let payload = readable
                .then(|| mx_store.payload(&header.payload.sha256.0).expect("read"))
                .flatten();
            (entry, payload)
        })
        .collect();
    let outcome = pe_store
        .ingest(&mx(), items, &fed.roster, TODAY)
        .expect("ingest");
    assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);
    let checkpoint = mx_store.checkpoint(&mx()).expect("read").expect("one");
    pe_store
        .accept_checkpoint(&checkpoint.to_bytes(), &fed.roster)
        .expect("store")
        .expect("the checkpoint of the stored tree");
    let result = screen(&queries_of(&fed, &pe_store, "pe"), APPLICATION, None);
    assert_eq!(hit_entries(&result), vec![0, 4]);
    assert_eq!(result.restricted.len(), 1, "{:?}", result.restricted);
    assert_eq!(result.restricted[0].state.as_str(), "MX");
    assert_eq!(result.restricted[0].entries, vec![1]);
    // mx reads its own bilateral denial: nothing restricted.
    assert!(
        screen(&queries_of(&fed, &mx_store, "mx"), APPLICATION, None)
            .restricted
            .is_empty()
    );
}

#[test]
fn a_store_without_its_screening_index_is_indexed_again_on_open() {
    let fed = Fed::new(&[]);
    let path = fed.home("mx").db_path();
    let expected = {
        let store = Store::open(&path).expect("store");
        publish_mx(&fed, &store);
        hit_entries(&screen(&queries_of(&fed, &store, "mx"), APPLICATION, None))
    };
    // As a store of an earlier build: no screening rows and no state, but
    // the per-term postings and the state that build wrote.
    let legacy_posting = b"Isw:pacifico\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00";
    {
        let db = open_sled(&path).expect("raw");
        let data = db.open_tree("data").expect("data");
        for key in data.scan_prefix(b"Q").keys() {
            data.remove(key.expect("key")).expect("remove");
        }
        data.insert(&legacy_posting[..], &0u64.to_be_bytes())
            .expect("posting");
        let meta = db.open_tree("meta").expect("meta");
        meta.remove("screen-rows").expect("remove");
        meta.insert("screen-index", &[0, 0, 0, 1, 1])
            .expect("state");
        db.flush().expect("flush");
    }
    {
        let store = Store::open_for_audit(&path).expect("store");
        assert!(
            hit_entries(&screen(&queries_of(&fed, &store, "mx"), APPLICATION, None)).is_empty(),
            "the rows are gone"
        );
    }
    let store = Store::open(&path).expect("store");
    assert_eq!(
        hit_entries(&screen(&queries_of(&fed, &store, "mx"), APPLICATION, None)),
        expected
    );
    drop(store);
    {
        let db = open_sled(&path).expect("raw");
        let data = db.open_tree("data").expect("data");
        assert!(!data.contains_key(&legacy_posting[..]).expect("read"));
        let meta = db.open_tree("meta").expect("meta");
        assert!(meta.get("screen-index").expect("read").is_none());
    }

    // Interrupted after the first entries: it resumes from its cursor.
    {
        let db = open_sled(&path).expect("raw");
        let data = db.open_tree("data").expect("data");
        for key in data.scan_prefix(b"Q").keys() {
            data.remove(key.expect("key")).expect("remove");
        }
        let mut state = concord_screening::TERMS_VERSION.to_be_bytes().to_vec();
        state.push(0);
        db.open_tree("meta")
            .expect("meta")
            .insert("screen-rows", state)
            .expect("state");
        // mx is log id 1 or 2; a cursor past entry 0 on every log.
        for id in 0u32..4 {
            let mut key = vec![b'X'];
            key.extend_from_slice(&id.to_be_bytes());
            data.insert(key, &1u64.to_be_bytes()).expect("cursor");
        }
        db.flush().expect("flush");
    }
    let store = Store::open(&path).expect("store");
    assert_eq!(
        hit_entries(&screen(&queries_of(&fed, &store, "mx"), APPLICATION, None)),
        vec![4],
        "entry 0 was below the cursor, so it stays unindexed: the cursor was honoured"
    );
}

/// The store's postings select what the in-memory index selects: every
/// labelled pair of the screening set is a hit in one exactly when it is
/// in the other.
#[test]
fn the_store_screens_as_the_in_memory_index_does() {
    let fed = Fed::new(&[]);
    let store = Store::open(&fed.home("mx").db_path()).expect("store");
    let key = fed.home("mx").identity().expect("identity").log_key.clone();
    let Record::Denial(template) = sample("mx-2025-thiodiglycol.json") else {
        unreachable!("a denial")
    };
    let pairs: Vec<serde_json::Value> = include_str!("../../scenarios/screening/pairs.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a pair"))
        .collect();
    let mut index = Index::new();
    let mut group = Vec::new();
    for (n, pair) in pairs.iter().enumerate() {
        let mut denial = serde_json::to_value(&template).expect("denial");
        denial["reference"] = format!("SE-PAIR-{n}").into();
        let mut party = pair["denied"].clone();
        party["role"] = "consignee".into();
        denial["parties"] = serde_json::json!([party]);
        let record =
            Record::parse(Kind::Denial, denial.to_string().as_bytes()).expect("pair denial");
        let Record::Denial(parsed) = &record else {
            unreachable!("a denial")
        };
        index.insert(n as u64, parsed);
        group.push(entry(&record, Visibility::Federation, None));
    }
    for chunk in group.chunks(100) {
        publish::append_own(&store, &mx(), Country::new("MX").unwrap(), &key, 1, chunk)
            .expect("append");
    }
    let queries = queries_of(&fed, &store, "mx");
    for (n, pair) in pairs.iter().enumerate() {
        let mut party = pair["application"].clone();
        party["role"] = "consignee".into();
        let application = serde_json::json!({
            "reference": format!("APP-{n}"),
            "parties": [party],
            "items": [{"control_entries": ["1C350"]}],
            "destination": "PE",
        })
        .to_string();
        let parsed = Application::parse(application.as_bytes()).expect("application");
        let in_memory: Vec<u64> = index
            .screen(&parsed, concord_screening::DEFAULT_THRESHOLD)
            .iter()
            .map(|h| h.denial)
            .collect();
        let stored = hit_entries(&screen(&queries, &application, None));
        assert_eq!(stored, in_memory, "pair {n}: {pair}");
    }
}

/// A partner's denial that arrives after an application was screened
/// raises one alert, for applications screened within the window only,
/// and never twice.
#[test]
fn a_denial_that_arrives_after_a_screening_raises_one_alert() {
    let fed = Fed::new(&[]);
    let store = Store::open(&fed.home("mx").db_path()).expect("store");
    // pe's view of the store: mx's log is a partner's.
    let queries = queries_of(&fed, &store, "pe");
    assert!(
        alerts::sweep(&queries, TODAY, 90)
            .expect("sweep")
            .is_empty()
    );
    let request = |at: Option<&str>| Request {
        application: Application::parse(APPLICATION.as_bytes()).expect("application"),
        at: at.map(|d| Date::parse(d).expect("date")),
        threshold: None,
    };
    let old = TODAY - 100 * 86_400;
    assert!(
        screening::screen(&queries, &request(None), old)
            .expect("screens")
            .hits
            .is_empty()
    );
    assert!(
        screening::screen(&queries, &request(None), TODAY)
            .expect("screens")
            .hits
            .is_empty()
    );
    // A screening of another day is not one of today's: not kept.
    screening::screen(&queries, &request(Some("2026-11-01")), TODAY).expect("screens");

    let key = fed.home("mx").identity().expect("identity").log_key.clone();
    let denial = sample("mx-2025-thiodiglycol.json");
    publish::append_own(
        &store,
        &mx(),
        Country::new("MX").unwrap(),
        &key,
        1,
        &[entry(&denial, Visibility::Federation, None)],
    )
    .expect("append");
    let raised = alerts::sweep(&queries, TODAY, 90).expect("sweep");
    assert_eq!(raised.len(), 1, "{raised:?}");
    let alert = &raised[0];
    assert_eq!(alert.application_reference, "MINCIT-DCE-SOL-2026-0187");
    assert_eq!((alert.denial.origin.clone(), alert.denial.index), (mx(), 0));
    assert_eq!(alert.denying_state.as_str(), "MX");
    assert!(alert.score >= concord_screening::DEFAULT_THRESHOLD);
    assert!(!alert.explanation.parties.is_empty());
    assert!(
        alerts::sweep(&queries, TODAY, 90)
            .expect("sweep")
            .is_empty(),
        "raised once"
    );

    // An amendment of a denial the application already met is no news.
    let amend = amendment(&denial, "Química Andina del Pacífico S.A.C.");
    publish::append_own(
        &store,
        &mx(),
        Country::new("MX").unwrap(),
        &key,
        2,
        &[entry(&amend, Visibility::Federation, Some(0))],
    )
    .expect("append");
    assert!(
        alerts::sweep(&queries, TODAY, 90)
            .expect("sweep")
            .is_empty()
    );
    let kept: Vec<alerts::Alert> = store.alerts().expect("alerts");
    assert_eq!(kept.len(), 1);
    // mx's own denials raise nothing on mx's node.
    assert!(
        alerts::sweep(&queries_of(&fed, &store, "mx"), TODAY, 90)
            .expect("sweep")
            .is_empty()
    );
}

/// Indexing a large store again shows a bar on a terminal, and nothing
/// where stderr is no terminal (a log file, a pipe).
#[test]
fn indexing_a_large_store_again_shows_progress_on_a_terminal_only() {
    let fed = Fed::new(&[]);
    let path = fed.home("mx").db_path();
    {
        let store = Store::open(&path).expect("store");
        let key = fed.identity("mx").log_key.clone();
        let Record::Denial(template) = sample("mx-2025-thiodiglycol.json") else {
            unreachable!("a denial")
        };
        let mut denial = serde_json::to_value(&template).expect("denial");
        for chunk in 0..11 {
            let group: Vec<OwnEntry> = (0..1000)
                .map(|n| {
                    denial["reference"] = format!("SE-{chunk}-{n}").into();
                    let record =
                        Record::parse(Kind::Denial, denial.to_string().as_bytes()).expect("denial");
                    entry(&record, Visibility::Federation, None)
                })
                .collect();
            publish::append_own(&store, &mx(), Country::new("MX").unwrap(), &key, 1, &group)
                .expect("append");
        }
    }
    let forget_the_index = || {
        let db = open_sled(&path).expect("raw");
        db.open_tree("meta")
            .expect("meta")
            .remove("screen-rows")
            .expect("remove");
        db.flush().expect("flush");
    };
    let status = |home: &std::path::Path| {
        format!(
            "{} status --home {}",
            env!("CARGO_BIN_EXE_concord"),
            home.display()
        )
    };
    let home = fed.root.join("mx");
    forget_the_index();
    // `script` gives the command a terminal, and copies what it drew.
    let on_terminal = std::process::Command::new("script")
        .args(["-qec", &status(&home), "/dev/null"])
        .env("CONCORD_LOG", "warn")
        .output()
        .expect("script runs");
    let drawn = String::from_utf8_lossy(&on_terminal.stdout);
    assert!(on_terminal.status.success(), "{drawn}");
    assert!(
        drawn.contains("for screening") && drawn.contains("entries"),
        "{drawn}"
    );
    forget_the_index();
    let piped = std::process::Command::new(env!("CARGO_BIN_EXE_concord"))
        .args(["status", "--home"])
        .arg(&home)
        .env("CONCORD_LOG", "warn")
        .output()
        .expect("concord runs");
    assert!(piped.status.success());
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(!stderr.contains("for screening"), "{stderr}");
}
