//! Records: the sample files under `scenarios/records/`, tables for the
//! validated building blocks, and properties of parsing and canonical bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::path::{Path, PathBuf};

use concord_protocol::record::{
    ControlEntry, Country, Date, Denial, HsCode, Kind, MAX_PAYLOAD_BYTES, N_COUNTRIES, Record,
    RecordError, Regime, normalise_name,
};
use proptest::prelude::*;

fn records_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/records")
}

fn json_files(dir: &str) -> Vec<(String, Vec<u8>)> {
    let dir = records_dir().join(dir);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let name = path
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            let bytes = std::fs::read(&path).expect("reading sample");
            (name, bytes)
        })
        .collect();
    files.sort();
    files
}

fn sample(path: &str) -> Vec<u8> {
    std::fs::read(records_dir().join(path)).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// Asserts `f(input) == expected` for every case.
fn check<I: Debug, T: PartialEq + Debug>(f: impl Fn(&I) -> T, cases: &[(I, T)]) {
    for (input, expected) in cases {
        assert_eq!(&f(input), expected, "input {input:?}");
    }
}

fn check_sample(kind: Kind, name: &str, bytes: &[u8]) -> Record {
    let record = Record::parse(kind, bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(record.kind(), kind, "{name}");
    let canonical = record.to_canonical_bytes();
    let reparsed =
        Record::parse(kind, &canonical).unwrap_or_else(|e| panic!("{name} canonical: {e}"));
    assert_eq!(
        reparsed, record,
        "{name}: canonical bytes parse to a different record"
    );
    assert_eq!(
        reparsed.to_canonical_bytes(),
        canonical,
        "{name}: canonical bytes not stable"
    );
    assert!(
        concord_protocol::canonical::is_canonical(&canonical),
        "{name}"
    );
    record
}

#[test]
fn sample_denials_parse_and_round_trip() {
    let files = json_files("denials");
    assert!(files.len() >= 12, "only {} sample denials", files.len());
    let mut states = BTreeSet::new();
    let mut n_defaulted = 0;
    for (name, bytes) in &files {
        let Record::Denial(denial) = check_sample(Kind::Denial, name, bytes) else {
            panic!("{name}: not a denial");
        };
        states.insert(denial.denying_state.to_string());
        let valid_until = denial
            .valid_until
            .unwrap_or_else(|| panic!("{name}: valid_until not filled"));
        assert!(valid_until > denial.decision_date, "{name}");
        let raw: serde_json::Value = serde_json::from_slice(bytes).expect("sample is JSON");
        if raw.get("valid_until").is_none() {
            n_defaulted += 1;
            assert_eq!(
                Some(valid_until),
                denial.decision_date.add_years(3),
                "{name}: default validity"
            );
        }
    }
    assert!(n_defaulted > 0, "no sample exercises the default validity");
    assert_eq!(
        states.into_iter().collect::<Vec<_>>(),
        ["BR", "CL", "CO", "MX", "PE"]
    );
}

#[test]
fn sample_notices_parse_and_round_trip() {
    let files = json_files("notices");
    assert!(files.len() >= 6, "only {} sample notices", files.len());
    for (name, bytes) in &files {
        let record = check_sample(Kind::Notice, name, bytes);
        let terms = record.index_terms();
        assert!(!terms.hs_codes.is_empty(), "{name}: no HS code indexed");
        assert_eq!(terms.valid_until, None, "{name}");
    }
}

#[test]
fn samples_share_parties_across_states() {
    // Screening needs the same party denied by more than one state, under
    // different spellings.
    let mut states_by_name: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, bytes) in json_files("denials") {
        let record = Record::parse(Kind::Denial, &bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let Record::Denial(denial) = &record else {
            panic!("{name}: not a denial")
        };
        for party_name in record.index_terms().party_names {
            states_by_name
                .entry(party_name)
                .or_default()
                .insert(denial.denying_state.to_string());
        }
    }
    let shared = states_by_name
        .get("quimica andina del pacifico")
        .expect("QAP indexed");
    assert!(shared.contains("MX") && shared.contains("CL"), "{shared:?}");
    let n_shared = states_by_name
        .values()
        .filter(|states| states.len() >= 2)
        .count();
    assert!(n_shared >= 5, "only {n_shared} names shared across states");
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    kind: Kind,
    error_contains: String,
}

#[test]
fn invalid_samples_fail_with_their_expected_error() {
    let expected: BTreeMap<String, Expected> =
        serde_json::from_slice(&sample("invalid/expected.json"))
            .expect("expected.json is a map of expectations");
    let files: Vec<(String, Vec<u8>)> = json_files("invalid")
        .into_iter()
        .filter(|(name, _)| name != "expected.json")
        .collect();
    assert!(files.len() >= 8, "only {} invalid samples", files.len());
    assert_eq!(
        files
            .iter()
            .map(|(name, _)| name.clone())
            .collect::<Vec<_>>(),
        expected.keys().cloned().collect::<Vec<_>>(),
        "every invalid file has an expectation and every expectation a file"
    );
    for (name, bytes) in &files {
        let want = &expected[name];
        match Record::parse(want.kind, bytes) {
            Ok(record) => panic!("{name}: accepted as {:?}", record.kind()),
            Err(e) => {
                let message = e.to_string();
                assert!(
                    message.contains(&want.error_contains),
                    "{name}: error {message:?} does not contain {:?}",
                    want.error_contains
                );
                assert!(
                    !message.ends_with('.'),
                    "{name}: trailing period in {message:?}"
                );
            }
        }
    }
}

#[test]
fn error_variants() {
    let denial = sample("denials/mx-2025-thiodiglycol.json");
    assert_eq!(
        Record::parse(Kind::EquivocationProof, &denial),
        Err(RecordError::NotARecordKind(Kind::EquivocationProof))
    );
    let oversized = vec![b' '; MAX_PAYLOAD_BYTES + 1];
    assert_eq!(
        Record::parse(Kind::Denial, &oversized),
        Err(RecordError::TooLarge {
            size: MAX_PAYLOAD_BYTES + 1,
            max: MAX_PAYLOAD_BYTES
        })
    );
    assert_eq!(
        Record::parse(Kind::Denial, b"{\"a\":\"\xff\"}"),
        Err(RecordError::NotUtf8 { offset: 6 })
    );
    assert!(matches!(
        Record::parse(Kind::Denial, b"{"),
        Err(RecordError::NotJson { line: 1, .. })
    ));
    assert!(matches!(
        Record::parse(Kind::Denial, b"{\"reason\" \"x\"}"),
        Err(RecordError::NotJson { .. })
    ));
    assert!(matches!(
        Record::parse(Kind::Denial, b"[]"),
        Err(RecordError::Schema { ref path, .. }) if path == "payload"
    ));

    let text = String::from_utf8(denial).expect("UTF-8");
    let duplicate = format!(
        "{},\"reason\":\"again\"}}",
        text.trim_end().trim_end_matches('}')
    );
    match Record::parse(Kind::Denial, duplicate.as_bytes()) {
        Err(RecordError::Schema { path, message, .. }) => {
            assert_eq!(path, "reason");
            assert!(message.contains("duplicate field `reason`"), "{message}");
        }
        other => panic!("duplicate field accepted: {other:?}"),
    }
    let error = Record::parse(Kind::Denial, text.replace("\"PE\"", "\"XX\"").as_bytes())
        .expect_err("unknown country");
    assert_eq!(error.path(), Some("parties[0].country"));
    assert!(error.to_string().contains("at line"), "{error}");
}

#[test]
fn error_paths() {
    // serde reports a rejected value either just after it or just after the
    // bracket that closes its container; the path must name the value in
    // both cases.
    let revoke = |body: &str| Record::parse(Kind::DenialRevoke, body.as_bytes());
    let request = |body: &str| Record::parse(Kind::ConsultationRequest, body.as_bytes());
    let link = r#""denial":{"origin":"pacific-alliance.concord/mx-se","index":1}"#;
    let cases: Vec<(Result<Record, RecordError>, &str)> = vec![
        (revoke(r#"{"date":"2025-02-30","reason":"x"}"#), "date"),
        (revoke(r#"{"reason":"x","date":"2025-02-30"}"#), "date"),
        (
            revoke("{\"reason\":\"x\",\n  \"date\":\"2025-02-30\"\n}\n"),
            "date",
        ),
        (revoke(r#"{"reason":"","date":"2025-01-01"}"#), "reason"),
        (
            revoke(r#"{"reason":"x","date":"2025-01-01","extra":1}"#),
            "extra",
        ),
        (revoke(r#"{"reason":"x"}"#), "date"),
        (revoke(r#"{"reason":"x","date":20250101}"#), "date"),
        (revoke(r#"{"reason":["x"],"date":"2025-01-01"}"#), "reason"),
        (
            revoke(r#"{"reason":"x","date":"2025-01-01","reason":"y"}"#),
            "reason",
        ),
        (revoke("[]"), "payload"),
        (
            request(&format!(
                r#"{{{link},"requesting_state":"CL","denying_state":"MX","application_reference":"A","question":"q","items_summary":"s\u0001"}}"#
            )),
            "items_summary",
        ),
        (
            request(r#"{"denial":{"origin":"a b","index":1},"requesting_state":"CL"}"#),
            "denial.origin",
        ),
        (
            request(r#"{"denial":{"index":1,"origin":"a b"}}"#),
            "denial.origin",
        ),
        (request(r#"{"denial":{"index":1}}"#), "denial.origin"),
        (
            request(r#"{"denial":{"origin":"o","index":-1}}"#),
            "denial.index",
        ),
        (
            request(
                r#"{"denial":{"origin":"o","index":9007199254740992},"requesting_state":"CL","denying_state":"MX","application_reference":"A","question":"q"}"#,
            ),
            "denial.index",
        ),
    ];
    for (result, path) in cases {
        match result {
            Err(error) => assert_eq!(error.path(), Some(path), "{error}"),
            Ok(record) => panic!("accepted {record:?}, expected an error at {path}"),
        }
    }

    let mut denial: serde_json::Value =
        serde_json::from_slice(&sample("denials/mx-2025-thiodiglycol.json")).expect("sample");
    denial["regimes"] = serde_json::json!(["cwc", "cwc"]);
    let error = Record::parse(Kind::Denial, denial.to_string().as_bytes()).expect_err("twice");
    assert_eq!(error.to_string(), "regimes[1]: cwc is listed twice");
    denial["regimes"] = serde_json::json!(["cwc"]);
    denial["items"][0]["control_entries"] = serde_json::json!(["1C350.1", "1c350"]);
    let error = Record::parse(Kind::Denial, denial.to_string().as_bytes()).expect_err("entry");
    assert_eq!(error.path(), Some("items[0].control_entries[1]"));
    denial["items"][0]["control_entries"] = serde_json::json!(["1C350.1"]);
    denial["parties"][1]["identifiers"] = serde_json::json!([{"scheme": "ssn", "value": "1"}]);
    let error = Record::parse(Kind::Denial, denial.to_string().as_bytes()).expect_err("scheme");
    assert_eq!(error.path(), Some("parties[1].identifiers[0].scheme"));
    denial["parties"][1]["identifiers"] = serde_json::json!([]);
    denial["items"][0]["value"] = serde_json::json!({"amount": "1.5", "currency": "usd"});
    let error = Record::parse(Kind::Denial, denial.to_string().as_bytes()).expect_err("currency");
    assert_eq!(error.path(), Some("items[0].value.currency"));
}

#[test]
fn kinds() {
    for kind in Kind::ALL {
        assert_eq!(kind.as_str().parse::<Kind>(), Ok(kind));
        assert_eq!(
            serde_json::to_string(&kind).expect("kind"),
            format!("\"{kind}\"")
        );
        assert_eq!(
            serde_json::from_str::<Kind>(&format!("\"{kind}\"")).expect("kind"),
            kind
        );
    }
    assert!(matches!(
        "denial.delete".parse::<Kind>(),
        Err(RecordError::UnknownKind(_))
    ));
    assert!("Denial".parse::<Kind>().is_err());
}

#[test]
fn other_kinds_parse() {
    let cases: &[(Kind, &str)] = &[
        (
            Kind::DenialRevoke,
            r#"{"reason":"Licence granted after review","date":"2026-01-05"}"#,
        ),
        (
            Kind::ConsultationRequest,
            r#"{"denial":{"origin":"pacific-alliance.concord/mx-se","index":1},"requesting_state":"CL","denying_state":"MX","application_reference":"SUBREI-LIC-2025-0091","question":"Is the consignee\nthe same entity?"}"#,
        ),
        (
            Kind::ConsultationReply,
            r#"{"request":{"origin":"pacific-alliance.concord/cl-subrei","index":3},"answer":"need_more_information","comment":"Please send the end-user statement."}"#,
        ),
        (
            Kind::RosterUpdate,
            r#"{"version":4,"signed_roster":"eyJtZW1iZXJzIjpbXX0="}"#,
        ),
        (
            Kind::KeyRotate,
            r#"{"new_key":"pacific-alliance.concord/mx-se+1a2b3c4d+AeGz5Qp3bWUy8n1P0AB0mfeuP2V0Ax3yLY+ck2N9mYQ=","reason":"Scheduled rotation"}"#,
        ),
        (
            Kind::KeyRevoke,
            r#"{"key_id":"1a2b3c4d","from_index":120,"reason":"Key compromised"}"#,
        ),
    ];
    for (kind, json) in cases {
        let record =
            Record::parse(*kind, json.as_bytes()).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(record.kind(), *kind);
        assert_eq!(
            Record::parse(*kind, &record.to_canonical_bytes()).as_ref(),
            Ok(&record)
        );
    }

    let denial = String::from_utf8(sample("denials/cl-2024-pocl3.json")).expect("UTF-8");
    let amend = format!(r#"{{"reason":"Corrected the consignee's address","denial":{denial}}}"#);
    let record = Record::parse(Kind::DenialAmend, amend.as_bytes()).expect("amendment");
    let Record::DenialAmend(amend) = &record else {
        panic!("not an amendment")
    };
    assert!(
        amend.denial.valid_until.is_some(),
        "amended denial normalised"
    );
    assert_eq!(record.index_terms().countries[0].as_str(), "CL");

    let bad_amend = r#"{"reason":"x","denial":{"denying_state":"CL"}}"#;
    let error = Record::parse(Kind::DenialAmend, bad_amend.as_bytes()).expect_err("incomplete");
    assert!(matches!(error, RecordError::Schema { .. }), "{error:?}");
    assert_eq!(error.path(), Some("denial.authority"));

    let bad_key = r#"{"new_key":"name+1a2b3c4d","reason":"x"}"#;
    let error = Record::parse(Kind::KeyRotate, bad_key.as_bytes()).expect_err("two parts");
    assert_eq!(error.path(), Some("new_key"));

    let bad_roster = r#"{"version":1,"signed_roster":"not base64!"}"#;
    let error = Record::parse(Kind::RosterUpdate, bad_roster.as_bytes()).expect_err("base64");
    assert_eq!(error.path(), Some("signed_roster"));

    let bad_reply = r#"{"request":{"origin":"o","index":1},"answer":"maybe","comment":"x"}"#;
    let error = Record::parse(Kind::ConsultationReply, bad_reply.as_bytes()).expect_err("answer");
    assert_eq!(error.path(), Some("answer"));
}

#[test]
fn countries() {
    assert_eq!(N_COUNTRIES, 249);
    check(
        |s: &&str| Country::new(s).is_ok(),
        &[
            ("CL", true),
            ("CO", true),
            ("MX", true),
            ("PE", true),
            ("BR", true),
            ("SS", true),
            ("AX", true),
            ("BQ", true),
            ("ZW", true),
            ("AD", true),
            ("XK", false), // user-assigned, not official
            ("EU", false),
            ("UK", false),
            ("AN", false), // withdrawn
            ("ZZ", false),
            ("XX", false),
            ("mx", false),
            ("Mx", false),
            ("MEX", false),
            ("M", false),
            ("", false),
            ("M\u{0}", false),
        ],
    );
    let peru = Country::new("PE").expect("PE");
    assert_eq!(serde_json::to_string(&peru).expect("json"), "\"PE\"");
    assert!(serde_json::from_str::<Country>("\"QQ\"").is_err());
}

#[test]
fn dates() {
    check(
        |s: &&str| Date::parse(s).map(|d| d.to_string()).map_err(|e| e.reason().to_owned()),
        &[
            ("2025-03-14", Ok("2025-03-14".to_owned())),
            ("2024-02-29", Ok("2024-02-29".to_owned())),
            ("2000-02-29", Ok("2000-02-29".to_owned())),
            ("0001-01-01", Ok("0001-01-01".to_owned())),
            ("9999-12-31", Ok("9999-12-31".to_owned())),
            ("2025-04-30", Ok("2025-04-30".to_owned())),
            (
                "2025-02-29",
                Err("\"2025-02-29\" is not a valid date: day 29 does not exist in 2025-02, which has 28 days"
                    .to_owned()),
            ),
            (
                "2025-13-01",
                Err("\"2025-13-01\" is not a valid date: month 13 does not exist".to_owned()),
            ),
        ],
    );
    for bad in [
        "1900-02-29", // divisible by 100, not by 400
        "2100-02-29",
        "2025-04-31",
        "2025-06-31",
        "2025-00-10",
        "2025-01-00",
        "2025-01-32",
        "0000-01-01",
        "2025-1-01",
        "2025/01/01",
        "25-01-01",
        "2025-01-01T00:00:00Z",
        "+025-01-01",
        "２０２５-01-01",
        "",
    ] {
        assert!(Date::parse(bad).is_err(), "{bad:?} accepted");
    }
    let date = |s: &str| Date::parse(s).expect("date");
    check(
        |(d, n): &(&str, u16)| date(d).add_years(*n).map(|d| d.to_string()),
        &[
            (("2024-02-29", 3), Some("2027-02-28".to_owned())),
            (("2024-02-29", 4), Some("2028-02-29".to_owned())),
            (("2025-03-14", 3), Some("2028-03-14".to_owned())),
            (("9998-06-01", 2), None),
        ],
    );
    check(
        |secs: &i64| Date::from_unix_seconds(*secs).map(|d| d.to_string()),
        &[
            (0, Some("1970-01-01".to_owned())),
            (86_399, Some("1970-01-01".to_owned())),
            (-1, Some("1969-12-31".to_owned())),
            (951_782_400, Some("2000-02-29".to_owned())),
            (1_735_689_600, Some("2025-01-01".to_owned())),
            (253_402_300_799, Some("9999-12-31".to_owned())),
            (-62_135_596_800, Some("0001-01-01".to_owned())),
            (-62_135_596_801, None),
            (253_402_300_800, None),
            (i64::MIN, None),
            (i64::MAX, None),
        ],
    );
    assert!(date("2025-01-31") < date("2025-02-01"));
    assert!(date("2024-12-31") < date("2025-01-01"));
    assert_eq!(date("1970-01-01").unix_days(), 0);
    assert_eq!(date("2025-03-01").add_days(-1), Some(date("2025-02-28")));
    assert_eq!(date("2024-03-01").add_days(-1), Some(date("2024-02-29")));
}

proptest! {
    #[test]
    fn dates_round_trip_through_day_numbers(days in -719_162i64..2_932_896) {
        let date = Date::from_unix_days(days);
        prop_assert!(date.is_some());
        let date = date.expect("checked");
        prop_assert_eq!(date.unix_days(), days);
        prop_assert_eq!(Date::parse(&date.to_string()), Ok(date));
    }
}

#[test]
fn control_entries() {
    check(
        |s: &&str| ControlEntry::new(s).is_ok(),
        &[
            ("1C350", true),
            ("1C350.1", true),
            ("1C350.d.13", true),
            ("5A002", true),
            ("5A002.a.1", true),
            ("2B001.b.2.c", true),
            ("9A012", true),
            ("0B001.b.13", true),
            ("ML1", true),
            ("ML8", true),
            ("ML10.a", true),
            ("ML22", true),
            ("MX:SE-ANX3-12", true),
            ("BR:MSB-2.1", true),
            ("CL:A", true),
            ("1C35", false),
            ("1C3500", false),
            ("1F350", false),
            ("1c350", false),
            ("1C350.", false),
            ("1C350.A", false),
            ("1C350..a", false),
            ("1C350.a.b", false),
            ("1C350.1.2", false),
            ("1C350.abc", false),
            ("1C350.1234", false),
            ("5A002.a.1.a.1.a.1.a", false), // seven levels deep
            ("ML0", false),
            ("ML23", false),
            ("ML08", false),
            ("ML", false),
            ("ML10a", false),
            ("XX:SE-1", false),
            ("mx:SE-1", false),
            ("MX:", false),
            ("MX:-SE", false),
            ("MX:SE 1", false),
            ("MX:SE_1", false),
            ("MX:ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456", false), // 33 characters
            (" 1C350", false),
            ("", false),
        ],
    );
    assert_eq!(
        ControlEntry::new("5A002.a.1").expect("entry").heading(),
        "5A002"
    );
    assert_eq!(
        ControlEntry::new("ML10.c").expect("entry").heading(),
        "ML10"
    );
    assert_eq!(
        ControlEntry::new("BR:MSB-2.1").expect("entry").heading(),
        "BR:MSB-2.1"
    );
}

#[test]
fn hs_codes() {
    check(
        |s: &&str| HsCode::new(s).is_ok(),
        &[
            ("2812.10", true),
            ("8457.10.01", true),
            ("880690", true),
            ("2812.14.00.00", true),
            ("8457100199", true),
            ("28121", false),
            ("28.12", false),
            ("84571001991", false),
            ("2812..10", false),
            (".281210", false),
            ("281210.", false),
            ("2812-10", false),
            ("2812 10", false),
            ("", false),
        ],
    );
    assert_eq!(
        HsCode::new("8457.10.01").expect("hs").subheading(),
        "845710"
    );
}

#[test]
fn regimes() {
    for regime in Regime::ALL {
        assert_eq!(regime.as_str().parse::<Regime>(), Ok(regime));
        assert_eq!(
            serde_json::to_string(&regime).expect("json"),
            format!("\"{regime}\"")
        );
    }
    assert!("Wassenaar".parse::<Regime>().is_err());
}

#[test]
fn normalised_names() {
    check(
        |s: &&str| normalise_name(s),
        &[
            (
                "Química Andina del Pacífico S.A.C.",
                "quimica andina del pacifico".to_owned(),
            ),
            (
                "QUIMICA ANDINA DEL PACIFICO SAC",
                "quimica andina del pacifico".to_owned(),
            ),
            (
                "Tecnologías Aeroespaciales Vértice S.A. de C.V.",
                "tecnologias aeroespaciales vertice".to_owned(),
            ),
            (
                "Tecnologias Aeroespaciales Vertice, SA de CV",
                "tecnologias aeroespaciales vertice".to_owned(),
            ),
            (
                "Indústria Metalúrgica São Caetano Ltda.",
                "industria metalurgica sao caetano".to_owned(),
            ),
            (
                "Nordhafen Handelsgesellschaft GmbH",
                "nordhafen handelsgesellschaft".to_owned(),
            ),
            ("Straße & Söhne GmbH & Co. KG", "strasse sohne".to_owned()),
            (
                "Harbin Eastern Machinery Import & Export Co., Ltd.",
                "harbin eastern machinery import export".to_owned(),
            ),
            (
                "Precision Rotors Trading LLC",
                "precision rotors trading".to_owned(),
            ),
            (
                "Sistemas Criptográficos del Caribe S.A.S.",
                "sistemas criptograficos del caribe".to_owned(),
            ),
            (
                "Explosivos Técnicos del Norte S.R.L.",
                "explosivos tecnicos del norte".to_owned(),
            ),
            ("Øresund Façade Ltd", "oresund facade".to_owned()),
            ("Müller-Lüdenscheidt AG", "muller ludenscheidt".to_owned()),
            (
                "Compañía Minera Río Seco Ltda.",
                "compania minera rio seco".to_owned(),
            ),
            (
                "O'Higgins  Importaciones\tE.I.R.L.",
                "ohiggins importaciones".to_owned(),
            ),
            ("Pérez y Cía. Ltda.", "perez".to_owned()),
            ("Jose\u{301} Nun\u{303}ez S.A.", "jose nunez".to_owned()),
            ("ＡＣＭＥ Ｉｎｃ", "acme".to_owned()),
            ("S.A.", "sa".to_owned()),
            ("Inc", "inc".to_owned()),
            ("Orion Dual-Tech", "orion dual tech".to_owned()),
            ("  ", String::new()),
            ("...", String::new()),
        ],
    );
}

#[test]
fn index_terms_of_a_denial() {
    let record = Record::parse(Kind::Denial, &sample("denials/mx-2025-five-axis.json"))
        .expect("sample denial");
    let terms = record.index_terms();
    assert!(
        terms
            .party_names
            .contains(&"harbin eastern machinery import export".to_owned())
    );
    assert!(
        terms.party_names.contains(&"nordhafen trading".to_owned()),
        "aliases indexed"
    );
    assert_eq!(terms.countries.first().map(Country::as_str), Some("MX"));
    assert!(terms.countries.iter().any(|c| c.as_str() == "DE"));
    assert!(
        terms
            .control_entries
            .iter()
            .any(|e| e.as_str() == "2B001.b.2.c")
    );
    assert!(terms.hs_codes.iter().any(|h| h.as_str() == "8457.10.01"));
    assert_eq!(terms.valid_until, Date::parse("2030-05-06").ok());
}

/// A valid denial built from generated parts.
fn denial_strategy() -> impl Strategy<Value = Denial> {
    let name = "[A-Za-zÀ-ÿ0-9][A-Za-zÀ-ÿ0-9 .,&'-]{0,40}";
    let text = "[A-Za-zÀ-ÿ0-9][A-Za-zÀ-ÿ0-9 .,;:%()\n\"\\\\/€-]{0,120}";
    let country = prop::sample::select(vec!["CL", "CO", "MX", "PE", "BR", "DE", "CN", "AE", "HK"]);
    let entry = prop::sample::select(vec![
        "1C350.1",
        "2B001.b.2.c",
        "5A002.a",
        "9A012",
        "ML10.c",
        "0B001.b.13",
        "MX:SE-ANX3-12",
    ]);
    let hs = prop::option::of(prop::sample::select(vec![
        "2930.90",
        "8457.10.01",
        "880690",
    ]));
    let role = prop::sample::select(vec!["consignee", "end_user", "intermediary"]);
    let party = (
        role,
        name,
        prop::collection::vec(name, 0..4),
        country.clone(),
    );
    let item = (
        text,
        prop::collection::vec(entry, 1..4),
        hs,
        prop::option::of(0u32..100_000),
    );
    (
        country,
        name,
        (2024u16..2027, 1u8..13, 1u8..29),
        prop::collection::vec(item, 1..4),
        prop::collection::vec(party, 0..4),
        text,
        prop::option::of(1u16..6),
    )
        .prop_map(
            |(state, authority, (y, m, d), items, parties, reason, years)| {
                let items: Vec<serde_json::Value> = items
                    .into_iter()
                    .map(|(description, entries, hs, amount)| {
                        let mut item = serde_json::json!({
                            "description": description, "control_entries": entries,
                        });
                        if let Some(hs) = hs {
                            item["hs_code"] = hs.into();
                        }
                        if let Some(amount) = amount {
                            item["quantity"] =
                                serde_json::json!({"amount": amount.to_string(), "unit": "kg"});
                        }
                        item
                    })
                    .collect();
                let mut parties: Vec<serde_json::Value> = parties
                    .into_iter()
                    .map(|(role, name, aliases, country)| {
                        serde_json::json!({
                            "role": role, "name": name, "aliases": aliases, "country": country,
                        })
                    })
                    .collect();
                parties.push(serde_json::json!({
                "role": "consignee", "name": "Química Andina del Pacífico S.A.C.", "country": "PE",
            }));
                let date = format!("{y:04}-{m:02}-{d:02}");
                let mut denial = serde_json::json!({
                    "denying_state": state, "authority": authority, "reference": "REF-1",
                    "decision_date": date, "regimes": ["wassenaar"], "items": items,
                    "parties": parties, "reason": reason,
                });
                if let Some(years) = years {
                    let valid_until = Date::parse(&date)
                        .expect("generated date")
                        .add_years(years)
                        .expect("in range");
                    denial["valid_until"] = valid_until.to_string().into();
                }
                serde_json::from_value(denial).expect("generated denial fits the schema")
            },
        )
}

proptest! {
    /// ASCII names take a shortcut; their fullwidth forms (U+FF01..U+FF5E)
    /// take the general path, and both must give one key.
    #[test]
    fn ascii_names_normalise_as_their_fullwidth_forms(name in "[ -~]{0,40}") {
        let fullwidth: String = name
            .chars()
            .map(|c| match c {
                ' ' => ' ',
                c => char::from_u32(u32::from(c) + 0xFEE0).expect("fullwidth form"),
            })
            .collect();
        prop_assert_eq!(normalise_name(&name), normalise_name(&fullwidth));
    }

    /// A key is its own key: its words are joined by single spaces, and
    /// no legal form is left to strip but a name's only word.
    #[test]
    fn a_key_normalises_to_itself(
        words in proptest::collection::vec(
            prop_oneof![
                "[a-zA-Z0-9.,'&()\u{00C0}-\u{017F}-]{1,8}",
                proptest::sample::select(&["S.A.", "de", "C.V.", "Cía.", "Ltda.", "GmbH & Co. KG"][..])
                    .prop_map(str::to_owned),
            ],
            0..7,
        ),
        separator in "[ ,\t]{1,3}",
    ) {
        let key = normalise_name(&words.join(&separator));
        prop_assert!(
            !key.starts_with(' ') && !key.ends_with(' ') && !key.contains("  "),
            "{:?}",
            key
        );
        prop_assert_eq!(normalise_name(&key), key);
    }

    #[test]
    fn canonical_bytes_are_stable(denial in denial_strategy()) {
        let record = Record::Denial(denial).validated();
        prop_assert!(record.is_ok(), "{:?}", record);
        let record = record.expect("checked");
        let canonical = record.to_canonical_bytes();
        let reparsed = Record::parse(Kind::Denial, &canonical);
        prop_assert_eq!(reparsed.as_ref(), Ok(&record));
        prop_assert_eq!(reparsed.expect("checked").to_canonical_bytes(), canonical);
    }

    #[test]
    fn parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512), kind_idx in 0usize..10) {
        let _ = Record::parse(Kind::ALL[kind_idx], &bytes);
    }

    #[test]
    fn parse_never_panics_on_mutated_samples(
        file_idx in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let files = json_files("denials");
        let (_, bytes) = &files[file_idx.index(files.len())];
        let mut bytes = bytes.clone();
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        if let Err(e) = Record::parse(Kind::Denial, &bytes) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn parse_never_panics_on_json_shaped_input(
        json in r#"\{("[a-z_]{1,12}":("[^"\\]{0,8}"|[0-9]{1,20}|\[\]|\{\}|null|true),?){0,8}\}"#,
    ) {
        for kind in Kind::ALL {
            let _ = Record::parse(kind, json.as_bytes());
        }
    }
}
