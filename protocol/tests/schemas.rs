//! The JSON Schemas of `protocol/schemas/` held to `Record::parse`, in both
//! directions: every sample record the project ships is valid by both; every
//! case below, one per rule, gets the same verdict from both, and so do
//! mutations of the samples and the values of each shared definition;
//! only the rules that PROTOCOL.md §3.3 lists as beyond JSON Schema are
//! refused by the code alone, and those are held to exactly that.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use base64::Engine as _;
use concord_protocol::origin::Origin;
use concord_protocol::record::{
    ASSIGNED_COUNTRIES, ControlEntry, Country, Currency, Date, Decimal, HsCode, KeyId, Kind,
    MAX_PAYLOAD_BYTES, Name, Party, Record, SignedRoster, Text, VerifierKey, normalise_name,
};
use concord_protocol::schemas::{self, Schema};
use jsonschema::{Draft, Registry, Resource, Validator};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Every schema file, given to each validator so that `$ref`s between the
/// files resolve from memory; nothing is fetched (the crate is built
/// without its resolvers).
static REGISTRY: LazyLock<Registry<'static>> = LazyLock::new(|| {
    Registry::new()
        .extend(schemas::ALL.iter().map(|schema| {
            let contents: Value = serde_json::from_str(schema.json).expect("a schema is JSON");
            (schema.id(), Resource::from_contents(contents))
        }))
        .expect("schema ids are URIs")
        .prepare()
        .expect("the schemas' references resolve among themselves")
});

fn validator_for(schema: &Value) -> Validator {
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .with_registry(&REGISTRY)
        .build(schema)
        .unwrap_or_else(|e| panic!("schema {schema}: {e}"))
}

/// One validator per record kind, and one for the application.
static VALIDATORS: LazyLock<BTreeMap<&'static str, Validator>> = LazyLock::new(|| {
    schemas::ALL
        .iter()
        .filter(|schema| schema.file != schemas::DEFS.file)
        .map(|schema| (schema.file, validator_for(&json!({"$ref": schema.id()}))))
        .collect()
});

fn schema_of(kind: Kind) -> Schema {
    schemas::of_kind(kind).unwrap_or_else(|| panic!("{kind} has no schema"))
}

fn schema_accepts(schema: Schema, payload: &Value) -> bool {
    VALIDATORS[schema.file].is_valid(payload)
}

fn records_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/records")
}

/// The `.json` files of `scenarios/records/<folder>`, sorted by name.
fn json_files(folder: &str) -> Vec<(String, Vec<u8>)> {
    let dir = records_dir().join(folder);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let name = path.file_name().expect("a file name");
            let bytes = std::fs::read(&path).expect("reading a sample");
            (name.to_string_lossy().into_owned(), bytes)
        })
        .collect();
    files.sort();
    files
}

fn sample(path: &str) -> Value {
    let bytes = std::fs::read(records_dir().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The folders of `scenarios/records/` that hold valid records, with the
/// kind each is published as.
const SAMPLE_FOLDERS: [(&str, Kind); 6] = [
    ("denials", Kind::Denial),
    ("amendments", Kind::DenialAmend),
    ("revocations", Kind::DenialRevoke),
    ("notices", Kind::Notice),
    ("consultation-requests", Kind::ConsultationRequest),
    ("consultation-replies", Kind::ConsultationReply),
];

/// Folders of `scenarios/records/` that hold no valid record.
const OTHER_FOLDERS: [&str; 2] = ["applications", "invalid"];

#[test]
fn every_file_is_a_2020_12_schema_with_its_id_and_every_record_kind_has_one() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("protocol/schemas/")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    on_disk.sort();
    let mut compiled: Vec<String> = schemas::ALL.iter().map(|s| s.file.to_owned()).collect();
    compiled.sort();
    assert_eq!(on_disk, compiled, "every file is compiled in, and no other");

    for schema in schemas::ALL {
        let value: Value = serde_json::from_str(schema.json).expect("JSON");
        if let Err(e) = jsonschema::meta::validate(&value) {
            panic!("{}: not a valid schema: {e}", schema.file);
        }
        assert_eq!(
            value["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{}",
            schema.file
        );
        assert_eq!(value["$id"], schema.id(), "{}", schema.file);
        assert!(value["description"].is_string(), "{}", schema.file);
    }
    for kind in Kind::ALL {
        match schemas::of_kind(kind) {
            Some(schema) => {
                assert_eq!(schema.file, format!("{kind}.schema.json"));
                let value: Value = serde_json::from_str(schema.json).expect("JSON");
                assert_eq!(value["title"], kind.as_str());
            }
            None => assert_eq!(kind, Kind::EquivocationProof),
        }
    }
}

#[test]
fn every_sample_record_is_valid_by_the_schema_and_the_code() {
    let mut folders: Vec<String> = std::fs::read_dir(records_dir())
        .expect("scenarios/records/")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.is_dir())
        .map(|path| {
            path.file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    folders.sort();
    let mut known: Vec<String> = SAMPLE_FOLDERS
        .iter()
        .map(|(folder, _)| (*folder).to_owned())
        .chain(OTHER_FOLDERS.map(str::to_owned))
        .collect();
    known.sort();
    assert_eq!(
        folders, known,
        "a new folder of samples needs its kind here"
    );

    let mut n_samples = 0;
    for (folder, kind) in SAMPLE_FOLDERS {
        let files = json_files(folder);
        assert!(!files.is_empty(), "no sample in {folder}");
        for (name, bytes) in files {
            let payload: Value = serde_json::from_slice(&bytes).expect("JSON");
            let validator = &VALIDATORS[schema_of(kind).file];
            let errors: Vec<String> = validator
                .iter_errors(&payload)
                .map(|e| format!("{}: {e}", e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{folder}/{name}: {errors:#?}");
            let record =
                Record::parse(kind, &bytes).unwrap_or_else(|e| panic!("{folder}/{name}: {e}"));
            // What a publisher signs is valid by the schema too.
            let canonical: Value =
                serde_json::from_slice(&record.to_canonical_bytes()).expect("JSON");
            assert!(schema_accepts(schema_of(kind), &canonical), "{name}");
            n_samples += 1;
        }
    }
    assert!(n_samples >= 24, "only {n_samples} samples");
}

/// The invalid samples, each named for its fault, are refused by the
/// schema as by the code, but for the two whose rule is beyond JSON Schema
/// and the one that is not JSON at all.
#[test]
fn invalid_samples_are_refused_by_the_schema_too() {
    #[derive(serde::Deserialize)]
    struct Expected {
        kind: Kind,
    }
    let expected: BTreeMap<String, Expected> =
        serde_json::from_value(sample("invalid/expected.json"))
            .expect("expected.json maps file names to kinds");
    let code_only = [
        "denial-expiry-before-decision.json",
        "consultation-request-same-state.json",
    ];
    let mut n_refused = 0;
    for (name, bytes) in json_files("invalid") {
        let Some(want) = expected.get(&name) else {
            assert_eq!(name, "expected.json");
            continue;
        };
        assert!(Record::parse(want.kind, &bytes).is_err(), "{name}");
        let Ok(payload) = serde_json::from_slice::<Value>(&bytes) else {
            assert_eq!(name, "denial-truncated.json", "not JSON");
            continue;
        };
        let accepted = schema_accepts(schema_of(want.kind), &payload);
        assert_eq!(accepted, code_only.contains(&name.as_str()), "{name}");
        n_refused += usize::from(!accepted);
    }
    assert!(n_refused >= 15, "only {n_refused} refused by the schema");
}

/// What both sides say of one payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Valid by the schema and the code.
    Valid,
    /// Refused by both.
    Invalid,
    /// Valid by the schema, refused by the code with an error containing
    /// this: a rule JSON Schema cannot express (PROTOCOL.md §3.3).
    CodeOnly(&'static str),
}

/// The substrings of the code's refusals for the rules no schema states.
const BEYOND_SCHEMA: [&str; 5] = [
    "is not after decision_date",
    "is also the requesting_state",
    "invalid type: floating point",
    "duplicate field",
    "bytes, more than the 262144 allowed",
];

fn check_verdict(label: &str, kind: Kind, text: &str, want: Verdict) {
    let code = Record::parse(kind, text.as_bytes());
    let schema = match serde_json::from_str::<Value>(text) {
        Ok(payload) => schema_accepts(schema_of(kind), &payload),
        Err(e) => panic!("{label}: cases are JSON: {e}"),
    };
    match want {
        Verdict::Valid => {
            assert!(schema, "{label}: refused by the schema");
            if let Err(e) = code {
                panic!("{label}: refused by the code: {e}");
            }
        }
        Verdict::Invalid => {
            assert!(!schema, "{label}: accepted by the schema");
            assert!(code.is_err(), "{label}: accepted by the code");
        }
        Verdict::CodeOnly(why) => {
            assert!(BEYOND_SCHEMA.contains(&why), "{label}: {why} is not listed");
            assert!(schema, "{label}: refused by the schema");
            match code {
                Ok(_) => panic!("{label}: accepted by the code"),
                Err(e) => assert!(e.to_string().contains(why), "{label}: {e}"),
            }
        }
    }
}

/// `base` with the value at JSON pointer `pointer` set to `value`; the
/// last step of the pointer may name a new member.
fn with(base: &Value, pointer: &str, value: Value) -> Value {
    let mut changed = base.clone();
    let (parent, last) = pointer.rsplit_once('/').expect("a pointer");
    match changed.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.insert(last.to_owned(), value);
        }
        Some(Value::Array(list)) => {
            list[last.parse::<usize>().expect("an index")] = value;
        }
        _ => panic!("{pointer}: no object or array at {parent}"),
    }
    changed
}

/// `base` without the member at `pointer`.
fn without(base: &Value, pointer: &str) -> Value {
    let mut changed = base.clone();
    let (parent, last) = pointer.rsplit_once('/').expect("a pointer");
    let map = changed
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("{pointer}: no object at {parent}"));
    assert!(map.remove(last).is_some(), "{pointer}: no such member");
    changed
}

fn repeated(value: &Value, n: usize) -> Value {
    Value::Array(vec![value.clone(); n])
}

struct Case {
    label: String,
    kind: Kind,
    text: String,
    want: Verdict,
}

fn case(label: &str, kind: Kind, payload: Value, want: Verdict) -> Case {
    Case {
        label: label.to_owned(),
        kind,
        text: payload.to_string(),
        want,
    }
}

fn denial_cases() -> Vec<Case> {
    use Verdict::{CodeOnly, Invalid, Valid};
    let base = sample("denials/mx-2025-thiodiglycol.json");
    let party = base["parties"][0].clone();
    let item = base["items"][0].clone();
    let d = |label: &str, payload: Value, want: Verdict| case(label, Kind::Denial, payload, want);
    let at = |pointer: &str, value: Value| with(&base, pointer, value);
    let mut cases = vec![
        d("the sample", base.clone(), Valid),
        // Unknown and missing fields.
        d("unknown field", at("/nickname", json!("x")), Invalid),
        d(
            "unknown party field",
            at("/parties/0/nickname", json!("x")),
            Invalid,
        ),
        d(
            "unknown item field",
            at("/items/0/cas", json!("111-48-8")),
            Invalid,
        ),
        d(
            "unknown quantity field",
            at("/items/0/quantity/net", json!("1")),
            Invalid,
        ),
        d("missing reason", without(&base, "/reason"), Invalid),
        d("missing authority", without(&base, "/authority"), Invalid),
        d(
            "missing party country",
            without(&base, "/parties/0/country"),
            Invalid,
        ),
        d(
            "missing item description",
            without(&base, "/items/0/description"),
            Invalid,
        ),
        d(
            "missing unit",
            without(&base, "/items/0/quantity/unit"),
            Invalid,
        ),
        d(
            "missing currency",
            without(&base, "/items/0/value/currency"),
            Invalid,
        ),
        d(
            "missing identifier value",
            without(&base, "/parties/0/identifiers/0/value"),
            Invalid,
        ),
        d("no aliases", without(&base, "/parties/0/aliases"), Valid),
        d("no end use", without(&base, "/end_use"), Valid),
        d("no hs code", without(&base, "/items/0/hs_code"), Valid),
        // Null is an absent optional field, and no list.
        d("null end use", at("/end_use", Value::Null), Valid),
        d("null address", at("/parties/0/address", Value::Null), Valid),
        d("null hs code", at("/items/0/hs_code", Value::Null), Valid),
        d("null value", at("/items/0/value", Value::Null), Valid),
        d("null valid_until", at("/valid_until", Value::Null), Valid),
        d(
            "null aliases",
            at("/parties/0/aliases", Value::Null),
            Invalid,
        ),
        d(
            "null control entries",
            at("/items/0/control_entries", Value::Null),
            Invalid,
        ),
        d("null reason", at("/reason", Value::Null), Invalid),
        // Wrong JSON types.
        d("parties an object", at("/parties", party.clone()), Invalid),
        d("reason a number", at("/reason", json!(4)), Invalid),
        d(
            "amount a number",
            at("/items/0/quantity/amount", json!(4000)),
            Invalid,
        ),
        // An object is never spelt as the array of its fields.
        d(
            "item an array",
            at("/items/0", json!(["Thiodiglycol", ["1C350.1"]])),
            Invalid,
        ),
        d(
            "party an array",
            at("/parties/1", json!(["end_user", "Levante", [], null, "LB"])),
            Invalid,
        ),
        d(
            "payload an array",
            json!([
                "MX",
                "SEDENA",
                "SE-1",
                "2025-02-11",
                ["cwc"],
                base["items"],
                base["parties"],
                null,
                "x",
            ]),
            Invalid,
        ),
        // Countries.
        d("country XX", at("/denying_state", json!("XX")), Invalid),
        d(
            "country lowercase",
            at("/denying_state", json!("mx")),
            Invalid,
        ),
        d("country EU", at("/parties/0/country", json!("EU")), Invalid),
        d("country UK", at("/parties/0/country", json!("UK")), Invalid),
        d(
            "country with a space",
            at("/parties/0/country", json!("MX ")),
            Invalid,
        ),
        d("country GB", at("/parties/0/country", json!("GB")), Valid),
        // Names and free text.
        d(
            "name of 256",
            at("/parties/0/name", json!("Ж".repeat(256))),
            Valid,
        ),
        d(
            "name of 257",
            at("/parties/0/name", json!("É".repeat(257))),
            Invalid,
        ),
        d(
            "name of 256 astral",
            at("/parties/0/name", json!("𝔄".repeat(256))),
            Valid,
        ),
        d("empty name", at("/parties/0/name", json!("")), Invalid),
        d("blank name", at("/parties/0/name", json!(" \t ")), Invalid),
        d(
            "ideographic blank",
            at("/parties/0/name", json!("\u{3000}\u{a0}")),
            Invalid,
        ),
        d(
            "name with BEL",
            at("/parties/1/name", json!("Levante\u{7}")),
            Invalid,
        ),
        d(
            "name with NEL",
            at("/parties/1/name", json!("Levante\u{85}SAL")),
            Invalid,
        ),
        d(
            "name with newline",
            at("/parties/1/name", json!("Levante\nSAL")),
            Invalid,
        ),
        d(
            "name with BOM",
            at("/parties/1/name", json!("\u{feff}")),
            Valid,
        ),
        d(
            "Arabic name",
            at("/parties/1/name", json!("مختبر ليفانت الصيدلاني")),
            Valid,
        ),
        d(
            "Chinese alias",
            at("/parties/0/aliases/0", json!("安第斯化学")),
            Valid,
        ),
        d(
            "text with newline",
            at("/reason", json!("Línea uno\nlínea dos")),
            Valid,
        ),
        d("text with tab", at("/reason", json!("a\tb")), Invalid),
        d("text with DEL", at("/reason", json!("a\u{7f}")), Invalid),
        d(
            "text of 4096",
            at("/reason", json!("ñ".repeat(4096))),
            Valid,
        ),
        d(
            "text of 4097",
            at("/reason", json!("ñ".repeat(4097))),
            Invalid,
        ),
        d("blank text", at("/reason", json!("\n \n")), Invalid),
        // Enumerations.
        d("regime nasa", at("/regimes/1", json!("nasa")), Invalid),
        d(
            "regime capitalised",
            at("/regimes/1", json!("CWC")),
            Invalid,
        ),
        d(
            "role exporter",
            at("/parties/0/role", json!("exporter")),
            Invalid,
        ),
        d(
            "scheme vat",
            at("/parties/0/identifiers/0/scheme", json!("vat")),
            Invalid,
        ),
        d(
            "scheme lei",
            at("/parties/0/identifiers/0/scheme", json!("lei")),
            Valid,
        ),
        // List bounds and rules across elements.
        d("no regime", at("/regimes", json!([])), Invalid),
        d(
            "regime twice",
            at("/regimes", json!(["cwc", "cwc"])),
            Invalid,
        ),
        d(
            "six regimes",
            at(
                "/regimes",
                json!([
                    "wassenaar",
                    "nsg",
                    "australia_group",
                    "mtcr",
                    "cwc",
                    "national"
                ]),
            ),
            Valid,
        ),
        d("no item", at("/items", json!([])), Invalid),
        d("128 items", at("/items", repeated(&item, 128)), Valid),
        d("129 items", at("/items", repeated(&item, 129)), Invalid),
        d(
            "32 control entries",
            at("/items/0/control_entries", repeated(&json!("1C350.1"), 32)),
            Valid,
        ),
        d(
            "33 control entries",
            at("/items/0/control_entries", repeated(&json!("1C350.1"), 33)),
            Invalid,
        ),
        d(
            "no control entry",
            at("/items/0/control_entries", json!([])),
            Invalid,
        ),
        d(
            "a second item without",
            at("/items", json!([item, without(&item, "/control_entries")])),
            Valid,
        ),
        d("no party", at("/parties", json!([])), Invalid),
        d("64 parties", at("/parties", repeated(&party, 64)), Valid),
        d("65 parties", at("/parties", repeated(&party, 65)), Invalid),
        d(
            "only an intermediary",
            at(
                "/parties",
                json!([with(&party, "/role", json!("intermediary"))]),
            ),
            Invalid,
        ),
        d(
            "only an end user",
            at(
                "/parties",
                json!([with(&party, "/role", json!("end_user"))]),
            ),
            Valid,
        ),
        d(
            "16 aliases",
            at("/parties/0/aliases", repeated(&json!("QAP"), 16)),
            Valid,
        ),
        d(
            "17 aliases",
            at("/parties/0/aliases", repeated(&json!("QAP"), 17)),
            Invalid,
        ),
        d(
            "17 identifiers",
            at(
                "/parties/0/identifiers",
                repeated(&party["identifiers"][0], 17),
            ),
            Invalid,
        ),
        // Control entries.
        d(
            "letter O for zero",
            at("/items/0/control_entries/0", json!("1C35O")),
            Invalid,
        ),
        d(
            "product group F",
            at("/items/0/control_entries/0", json!("1F350")),
            Invalid,
        ),
        d(
            "ML22",
            at("/items/0/control_entries/0", json!("ML22")),
            Valid,
        ),
        d(
            "ML23",
            at("/items/0/control_entries/0", json!("ML23")),
            Invalid,
        ),
        d(
            "ML0",
            at("/items/0/control_entries/0", json!("ML0")),
            Invalid,
        ),
        d(
            "ML08",
            at("/items/0/control_entries/0", json!("ML08")),
            Invalid,
        ),
        d(
            "two letter groups",
            at("/items/0/control_entries/0", json!("5A002.a.b")),
            Invalid,
        ),
        d(
            "six sub-items",
            at("/items/0/control_entries/0", json!("2B001.b.2.c.1.a.3")),
            Valid,
        ),
        d(
            "seven sub-items",
            at("/items/0/control_entries/0", json!("2B001.b.2.c.1.a.3.b")),
            Invalid,
        ),
        d(
            "uppercase sub-item",
            at("/items/0/control_entries/0", json!("5A002.A")),
            Invalid,
        ),
        d(
            "national entry",
            at("/items/0/control_entries/0", json!("MX:SE-ANX3-12")),
            Valid,
        ),
        d(
            "national of no country",
            at("/items/0/control_entries/0", json!("XX:SE-1")),
            Invalid,
        ),
        d(
            "national starting with '-'",
            at("/items/0/control_entries/0", json!("MX:-1")),
            Invalid,
        ),
        d(
            "national of 32",
            at(
                "/items/0/control_entries/0",
                json!(format!("BR:{}", "9".repeat(32))),
            ),
            Valid,
        ),
        d(
            "national of 33",
            at(
                "/items/0/control_entries/0",
                json!(format!("BR:{}", "9".repeat(33))),
            ),
            Invalid,
        ),
        // HS codes.
        d(
            "HS of 6 digits",
            at("/items/0/hs_code", json!("880690")),
            Valid,
        ),
        d(
            "HS of 10 digits",
            at("/items/0/hs_code", json!("8457.10.01.99")),
            Valid,
        ),
        d(
            "HS of 5 digits",
            at("/items/0/hs_code", json!("2930.9")),
            Invalid,
        ),
        d(
            "HS of 11 digits",
            at("/items/0/hs_code", json!("84571001999")),
            Invalid,
        ),
        d(
            "HS with two dots",
            at("/items/0/hs_code", json!("2930..90")),
            Invalid,
        ),
        d(
            "HS ending in a dot",
            at("/items/0/hs_code", json!("293090.")),
            Invalid,
        ),
        // Dates.
        d(
            "29 February of a leap year",
            at("/decision_date", json!("2024-02-29")),
            Valid,
        ),
        d(
            "29 February of a common year",
            at("/decision_date", json!("2025-02-29")),
            Invalid,
        ),
        d(
            "29 February 1900",
            at("/decision_date", json!("1900-02-29")),
            Invalid,
        ),
        d(
            "29 February 2000",
            at("/decision_date", json!("2000-02-29")),
            Valid,
        ),
        d(
            "31 April",
            at("/decision_date", json!("2025-04-31")),
            Invalid,
        ),
        d("year 0", at("/decision_date", json!("0000-01-01")), Invalid),
        d(
            "one-digit month",
            at("/decision_date", json!("2025-1-01")),
            Invalid,
        ),
        d(
            "date and time",
            at("/decision_date", json!("2025-02-11T00:00:00Z")),
            Invalid,
        ),
        // Money and quantities.
        d(
            "amount 0.5",
            at("/items/0/quantity/amount", json!("0.5")),
            Valid,
        ),
        d(
            "leading zero",
            at("/items/0/quantity/amount", json!("04000")),
            Invalid,
        ),
        d(
            "negative amount",
            at("/items/0/quantity/amount", json!("-1")),
            Invalid,
        ),
        d(
            "exponent",
            at("/items/0/quantity/amount", json!("4e3")),
            Invalid,
        ),
        d(
            "trailing dot",
            at("/items/0/quantity/amount", json!("4000.")),
            Invalid,
        ),
        d(
            "amount of 33",
            at("/items/0/value/amount", json!("1".repeat(33))),
            Invalid,
        ),
        d(
            "lowercase currency",
            at("/items/0/value/currency", json!("usd")),
            Invalid,
        ),
        // Validity.
        d(
            "valid_until after",
            at("/valid_until", json!("2028-02-11")),
            Valid,
        ),
        d(
            "valid_until the same day",
            at("/valid_until", json!("2025-02-11")),
            CodeOnly("is not after decision_date"),
        ),
        d(
            "valid_until before",
            at("/valid_until", json!("2024-02-11")),
            CodeOnly("is not after decision_date"),
        ),
        d(
            "decided 9996-12-31, no expiry",
            at("/decision_date", json!("9996-12-31")),
            Valid,
        ),
        d(
            "decided 9997-01-01, no expiry",
            at("/decision_date", json!("9997-01-01")),
            Invalid,
        ),
        d(
            "decided 9997-01-01, null expiry",
            with(
                &at("/decision_date", json!("9997-01-01")),
                "/valid_until",
                Value::Null,
            ),
            Invalid,
        ),
        d(
            "decided 9997-01-01 with expiry",
            with(
                &at("/decision_date", json!("9997-01-01")),
                "/valid_until",
                json!("9999-12-31"),
            ),
            Valid,
        ),
    ];
    // A denial over the payload bound, every field within its own.
    let long_item = with(&item, "/description", json!("x".repeat(4096)));
    let huge = at("/items", repeated(&long_item, 128));
    assert!(huge.to_string().len() > MAX_PAYLOAD_BYTES);
    cases.push(d(
        "over 256 KiB",
        huge,
        CodeOnly("bytes, more than the 262144 allowed"),
    ));
    cases
}

fn other_cases() -> Vec<Case> {
    use Verdict::{CodeOnly, Invalid, Valid};
    let denial = sample("denials/cl-2024-pocl3.json");
    let amend = json!({"reason": "Dirección corregida", "denial": denial});
    let revoke = json!({"reason": "Licencia concedida tras revisión", "date": "2026-01-05"});
    let notice = sample("notices/pe-2025-callao-detention.json");
    let request = sample("consultation-requests/co-2026-thiodiglycol.json");
    let reply = sample("consultation-replies/mx-2026-thiodiglycol.json");
    let roster = json!({"version": 4, "signed_roster": "eyJtZW1iZXJzIjpbXX0="});
    let rotate = json!({
        "new_key": "pacific-alliance.concord/mx+1a2b3c4d+AeGz5Qp3bWUy8n1P0AB0mfeuP2V0Ax3yLY+ck2N9mYQ=",
        "reason": "Rotación programada",
    });
    let revoke_key =
        json!({"key_id": "1a2b3c4d", "from_index": 120, "reason": "Ключ скомпрометирован"});
    let c =
        |label: &str, kind: Kind, payload: Value, want: Verdict| case(label, kind, payload, want);
    let link = notice["denial_links"][0].clone();
    vec![
        // denial.amend
        c("amendment", Kind::DenialAmend, amend.clone(), Valid),
        c(
            "amendment without reason",
            Kind::DenialAmend,
            without(&amend, "/reason"),
            Invalid,
        ),
        c(
            "amendment, unknown field",
            Kind::DenialAmend,
            with(&amend, "/index", json!(0)),
            Invalid,
        ),
        c(
            "amended denial, unknown field",
            Kind::DenialAmend,
            with(&amend, "/denial/nickname", json!("x")),
            Invalid,
        ),
        c(
            "amended denial, bad country",
            Kind::DenialAmend,
            with(&amend, "/denial/denying_state", json!("ZZ")),
            Invalid,
        ),
        c(
            "amended denial, expiry before",
            Kind::DenialAmend,
            with(&amend, "/denial/valid_until", json!("2024-01-01")),
            CodeOnly("is not after decision_date"),
        ),
        // denial.revoke
        c("revocation", Kind::DenialRevoke, revoke.clone(), Valid),
        c(
            "revocation, bad date",
            Kind::DenialRevoke,
            with(&revoke, "/date", json!("2026-13-01")),
            Invalid,
        ),
        c(
            "revocation, unknown field",
            Kind::DenialRevoke,
            with(&revoke, "/denial", json!(0)),
            Invalid,
        ),
        c(
            "revocation, null date",
            Kind::DenialRevoke,
            with(&revoke, "/date", Value::Null),
            Invalid,
        ),
        // notice
        c("notice", Kind::Notice, notice.clone(), Valid),
        c(
            "notice kind raid",
            Kind::Notice,
            with(&notice, "/notice_kind", json!("raid")),
            Invalid,
        ),
        c(
            "notice without parties",
            Kind::Notice,
            without(&notice, "/parties"),
            Valid,
        ),
        c(
            "notice with empty parties",
            Kind::Notice,
            with(&notice, "/parties", json!([])),
            Valid,
        ),
        c(
            "notice without parties or items",
            Kind::Notice,
            without(&without(&notice, "/parties"), "/items"),
            Invalid,
        ),
        c(
            "notice with neither",
            Kind::Notice,
            with(&with(&notice, "/parties", json!([])), "/items", json!([])),
            Invalid,
        ),
        c(
            "notice, intermediary only",
            Kind::Notice,
            with(
                &notice,
                "/parties",
                json!([with(&notice["parties"][0], "/role", json!("intermediary"))]),
            ),
            Valid,
        ),
        c(
            "notice, null place",
            Kind::Notice,
            with(&notice, "/place", Value::Null),
            Valid,
        ),
        c(
            "notice, place unknown field",
            Kind::Notice,
            with(&notice, "/place/city", json!("Callao")),
            Invalid,
        ),
        c(
            "notice, item value",
            Kind::Notice,
            with(
                &notice,
                "/items/0/value",
                json!({"amount": "1", "currency": "USD"}),
            ),
            Invalid,
        ),
        c(
            "notice, link twice",
            Kind::Notice,
            with(&notice, "/denial_links", json!([link, link])),
            Invalid,
        ),
        c(
            "notice, link index 2^53 - 1",
            Kind::Notice,
            with(
                &notice,
                "/denial_links/0/index",
                json!(9_007_199_254_740_991_u64),
            ),
            Valid,
        ),
        c(
            "notice, link index 2^53",
            Kind::Notice,
            with(
                &notice,
                "/denial_links/0/index",
                json!(9_007_199_254_740_992_u64),
            ),
            Invalid,
        ),
        c(
            "notice, link index -1",
            Kind::Notice,
            with(&notice, "/denial_links/0/index", json!(-1)),
            Invalid,
        ),
        c(
            "notice, link index 1.0",
            Kind::Notice,
            with(&notice, "/denial_links/0/index", json!(1.0)),
            CodeOnly("invalid type: floating point"),
        ),
        c(
            "notice, origin with '+'",
            Kind::Notice,
            with(
                &notice,
                "/denial_links/0/origin",
                json!("pacific-alliance.concord/mx+1"),
            ),
            Invalid,
        ),
        c(
            "notice, origin with a space",
            Kind::Notice,
            with(&notice, "/denial_links/0/origin", json!("pacific alliance")),
            Invalid,
        ),
        c(
            "notice, origin of 128",
            Kind::Notice,
            with(&notice, "/denial_links/0/origin", json!("o".repeat(128))),
            Valid,
        ),
        c(
            "notice, origin of 129",
            Kind::Notice,
            with(&notice, "/denial_links/0/origin", json!("o".repeat(129))),
            Invalid,
        ),
        c(
            "notice, 65 links",
            Kind::Notice,
            with(
                &notice,
                "/denial_links",
                Value::Array(
                    (0..65)
                        .map(|i| json!({"origin": "o", "index": i}))
                        .collect(),
                ),
            ),
            Invalid,
        ),
        // consultation.request and reply
        c("request", Kind::ConsultationRequest, request.clone(), Valid),
        c(
            "request to itself",
            Kind::ConsultationRequest,
            with(
                &request,
                "/denying_state",
                request["requesting_state"].clone(),
            ),
            CodeOnly("is also the requesting_state"),
        ),
        c(
            "request, null summary",
            Kind::ConsultationRequest,
            with(&request, "/items_summary", Value::Null),
            Valid,
        ),
        c(
            "request, unknown field",
            Kind::ConsultationRequest,
            with(&request, "/urgent", json!(true)),
            Invalid,
        ),
        c(
            "request, no question",
            Kind::ConsultationRequest,
            without(&request, "/question"),
            Invalid,
        ),
        c("reply", Kind::ConsultationReply, reply.clone(), Valid),
        c(
            "reply maybe",
            Kind::ConsultationReply,
            with(&reply, "/answer", json!("maybe")),
            Invalid,
        ),
        c(
            "reply, request index a string",
            Kind::ConsultationReply,
            with(&reply, "/request/index", json!("3")),
            Invalid,
        ),
        // roster.update
        c("roster update", Kind::RosterUpdate, roster.clone(), Valid),
        c(
            "roster version 2^53",
            Kind::RosterUpdate,
            with(&roster, "/version", json!(9_007_199_254_740_992_u64)),
            Invalid,
        ),
        c(
            "roster, padding bits",
            Kind::RosterUpdate,
            with(&roster, "/signed_roster", json!("eyJtZW1iZXJzIjpbXX1=")),
            Invalid,
        ),
        c(
            "roster, no padding",
            Kind::RosterUpdate,
            with(&roster, "/signed_roster", json!("eyJtZW1iZXJzIjpbXX0")),
            Invalid,
        ),
        c(
            "roster, line break",
            Kind::RosterUpdate,
            with(&roster, "/signed_roster", json!("eyJtZW1i\nZXJzIjpbXX0=")),
            Invalid,
        ),
        c(
            "roster, URL alphabet",
            Kind::RosterUpdate,
            with(&roster, "/signed_roster", json!("-_8=")),
            Invalid,
        ),
        c(
            "roster, empty",
            Kind::RosterUpdate,
            with(&roster, "/signed_roster", json!("")),
            Invalid,
        ),
        // key.rotate and key.revoke
        c("rotation", Kind::KeyRotate, rotate.clone(), Valid),
        c(
            "rotation, two parts",
            Kind::KeyRotate,
            with(&rotate, "/new_key", json!("name+1a2b3c4d")),
            Invalid,
        ),
        c(
            "rotation, uppercase hash",
            Kind::KeyRotate,
            with(&rotate, "/new_key", json!("name+1A2B3C4D+AQ==")),
            Invalid,
        ),
        c(
            "rotation, name with a space",
            Kind::KeyRotate,
            with(&rotate, "/new_key", json!("my name+1a2b3c4d+AQ==")),
            Invalid,
        ),
        c(
            "rotation, padding bits",
            Kind::KeyRotate,
            with(&rotate, "/new_key", json!("name+1a2b3c4d+AR==")),
            Invalid,
        ),
        c(
            "rotation, no key",
            Kind::KeyRotate,
            with(&rotate, "/new_key", json!("name+1a2b3c4d+")),
            Invalid,
        ),
        c(
            "rotation, key of 513",
            Kind::KeyRotate,
            with(
                &rotate,
                "/new_key",
                json!(format!("{}+1a2b3c4d+AQ==", "n".repeat(499))),
            ),
            Invalid,
        ),
        c(
            "rotation, key of 512",
            Kind::KeyRotate,
            with(
                &rotate,
                "/new_key",
                json!(format!("{}+1a2b3c4d+AQ==", "n".repeat(498))),
            ),
            Valid,
        ),
        c("key revocation", Kind::KeyRevoke, revoke_key.clone(), Valid),
        c(
            "key id uppercase",
            Kind::KeyRevoke,
            with(&revoke_key, "/key_id", json!("ABCD1234")),
            Invalid,
        ),
        c(
            "key id of 9",
            Kind::KeyRevoke,
            with(&revoke_key, "/key_id", json!("1a2b3c4d5")),
            Invalid,
        ),
        c(
            "from_index 2^53",
            Kind::KeyRevoke,
            with(&revoke_key, "/from_index", json!(9_007_199_254_740_992_u64)),
            Invalid,
        ),
        c(
            "from_index 1e2",
            Kind::KeyRevoke,
            with(&revoke_key, "/from_index", json!(100.0)),
            CodeOnly("invalid type: floating point"),
        ),
    ]
}

#[test]
fn each_rule_gets_one_verdict_from_the_schema_and_the_code() {
    let cases: Vec<Case> = denial_cases().into_iter().chain(other_cases()).collect();
    for Case {
        label,
        kind,
        text,
        want,
    } in &cases
    {
        check_verdict(label, *kind, text, *want);
    }
    // A member named twice is refused by the code; a JSON Schema validator
    // sees the parsed object, which holds one of them.
    check_verdict(
        "duplicate member",
        Kind::DenialRevoke,
        r#"{"reason":"Licencia concedida","date":"2026-01-05","date":"2026-01-06"}"#,
        Verdict::CodeOnly("duplicate field"),
    );
    // Every rule beyond the schemas has a case.
    for why in BEYOND_SCHEMA {
        let n = cases
            .iter()
            .filter(|c| c.want == Verdict::CodeOnly(why))
            .count();
        assert!(why == "duplicate field" || n > 0, "no case for {why}");
    }
}

/// PROTOCOL.md §3.3's examples of the default validity, and its rule on
/// strings that are not Unicode.
#[test]
fn the_default_validity_and_lone_surrogates_are_as_documented() {
    let base = sample("denials/mx-2025-thiodiglycol.json");
    for (decided, until) in [
        ("2024-02-29", "2027-02-28"),
        ("2025-04-30", "2028-04-30"),
        ("2025-08-31", "2028-08-31"),
        ("2025-02-28", "2028-02-28"),
        ("9996-02-29", "9999-02-28"),
    ] {
        let denial = with(&base, "/decision_date", json!(decided));
        let bytes = serde_json::to_vec(&denial).expect("JSON");
        let Ok(Record::Denial(parsed)) = Record::parse(Kind::Denial, &bytes) else {
            panic!("{decided}: not a valid denial");
        };
        assert_eq!(
            parsed.valid_until.map(|d| d.to_string()).as_deref(),
            Some(until)
        );
        let dated = with(&denial, "/valid_until", json!(until));
        assert!(schema_accepts(schemas::DENIAL, &dated), "{decided}");
        assert!(schema_accepts(schemas::DENIAL, &denial), "{decided}");
    }
    let lone = r#"{"reason":"\ud800","date":"2026-01-05"}"#;
    assert!(Record::parse(Kind::DenialRevoke, lone.as_bytes()).is_err());
}

/// What the code says of a string: whether its type accepts it.
type CodeCheck = fn(&str) -> bool;

/// A definition's name, its validator and the code's check of the same value.
type Definition = (&'static str, Validator, CodeCheck);

/// A validator of one definition of `defs.schema.json`.
fn def_validator(def: &str) -> Validator {
    validator_for(&json!({"$ref": format!("{}#/$defs/{def}", schemas::DEFS.id())}))
}

/// Asserts that the definition and the code's type agree on `value`.
fn agree(validator: &Validator, def: &str, value: &str, code: impl Fn(&str) -> bool) {
    assert_eq!(
        validator.is_valid(&json!(value)),
        code(value),
        "{def} {value:?}: the schema says the first, the code the second"
    );
}

#[test]
fn countries_agree_on_every_pair_of_letters() {
    let validator = def_validator("country");
    let entry = def_validator("control_entry");
    let mut n_valid = 0;
    for a in b'A'..=b'Z' {
        for b in b'A'..=b'Z' {
            for code in [[a, b], [a.to_ascii_lowercase(), b]] {
                let code = std::str::from_utf8(&code).expect("ASCII");
                agree(&validator, "country", code, |s| Country::new(s).is_ok());
                agree(&entry, "control_entry", &format!("{code}:A-1"), |s| {
                    ControlEntry::new(s).is_ok()
                });
                n_valid += usize::from(Country::new(code).is_ok());
            }
        }
    }
    assert_eq!(n_valid, ASSIGNED_COUNTRIES.len());
}

#[test]
fn dates_agree_on_every_day_of_sample_years() {
    let validator = def_validator("date");
    for year in [
        0, 1, 4, 100, 400, 1900, 1999, 2000, 2023, 2024, 2025, 2100, 2400, 9996, 9999,
    ] {
        for month in 0..=13 {
            for day in 0..=32 {
                let date = format!("{year:04}-{month:02}-{day:02}");
                agree(&validator, "date", &date, |s| Date::parse(s).is_ok());
            }
        }
    }
}

/// Strings near the edges of the scalar definitions: their characters,
/// shapes and lengths, in every script users write.
fn near_edges() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "A",
        "z",
        "0",
        "9",
        "1C350",
        "ML",
        "ML1",
        "ML22",
        "2B001",
        ".",
        "..",
        ".a",
        ".b2",
        ".12",
        ".1234",
        ":",
        "MX:",
        "XX:",
        "-",
        "+",
        "/",
        "=",
        "==",
        "AQ",
        "8457",
        "10",
        "2024-02-29",
        "-02-",
        " ",
        "\t",
        "\n",
        "\r",
        "\u{0}",
        "\u{7f}",
        "\u{85}",
        "\u{9f}",
        "\u{a0}",
        "\u{2003}",
        "\u{3000}",
        "\u{feff}",
        "é",
        "ñ",
        "Ж",
        "北京",
        "مختبر",
        "𝔄",
    ]);
    prop::collection::vec(pieces, 0..8).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Each scalar definition accepts exactly what the code's type accepts.
    #[test]
    fn scalar_definitions_agree_with_the_types(value in near_edges(), long in 0usize..3) {
        static DEFS: LazyLock<Vec<Definition>> =
            LazyLock::new(|| {
                let defs: [(&'static str, CodeCheck); 11] = [
                    ("name", |s| Name::new(s).is_ok()),
                    ("text", |s| Text::new(s).is_ok()),
                    ("decimal", |s| Decimal::new(s).is_ok()),
                    ("currency", |s| Currency::new(s).is_ok()),
                    ("control_entry", |s| ControlEntry::new(s).is_ok()),
                    ("hs_code", |s| HsCode::new(s).is_ok()),
                    ("date", |s| Date::parse(s).is_ok()),
                    ("country", |s| Country::new(s).is_ok()),
                    ("key_id", |s| KeyId::new(s).is_ok()),
                    ("origin", |s| Origin::new(s).is_ok()),
                    ("base64", |s| SignedRoster::new(s).is_ok()),
                ];
                let new_key = validator_for(
                    &json!({"$ref": format!("{}#/properties/new_key", schemas::KEY_ROTATE.id())}),
                );
                defs.into_iter()
                    .map(|(def, code)| (def, def_validator(def), code))
                    .chain([("new_key", new_key, (|s| VerifierKey::new(s).is_ok()) as CodeCheck)])
                    .collect()
            });
        // Lengths past the bounds of names and text, now and then.
        let value = value.repeat([1, 40, 700][long]);
        for (def, validator, code) in DEFS.iter() {
            agree(validator, def, &value, code);
        }
    }

    /// Canonical base64 differs from its neighbours only in the padding
    /// bits of its last character: every character there gets one verdict,
    /// alone and as the key of a verifier key string.
    #[test]
    fn base64_agrees_on_every_last_character(
        bytes in prop::collection::vec(any::<u8>(), 1..8),
        replacement in 0usize..64,
    ) {
        static BASE64: LazyLock<(Validator, Validator)> = LazyLock::new(|| {
            let new_key = json!({"$ref": format!("{}#/properties/new_key", schemas::KEY_ROTATE.id())});
            (def_validator("base64"), validator_for(&new_key))
        });
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut text = base64::engine::general_purpose::STANDARD.encode(&bytes).into_bytes();
        let last = text.iter().rposition(|&c| c != b'=').expect("a character");
        text[last] = ALPHABET[replacement];
        let text = String::from_utf8(text).expect("ASCII");
        agree(&BASE64.0, "base64", &text, |s| SignedRoster::new(s).is_ok());
        agree(&BASE64.1, "new_key", &format!("name+1a2b3c4d+{text}"), |s| VerifierKey::new(s).is_ok());
    }

    /// A sample with one field removed, nulled, replaced or added gets
    /// one verdict from both, but for the rules beyond the schemas.
    #[test]
    fn mutated_samples_get_one_verdict(
        sample_idx in any::<prop::sample::Index>(),
        spot_idx in any::<prop::sample::Index>(),
        mutation in mutation(),
    ) {
        static SAMPLES: LazyLock<Vec<(Kind, Value)>> = LazyLock::new(|| {
            SAMPLE_FOLDERS
                .iter()
                .flat_map(|(folder, kind)| {
                    json_files(folder).into_iter().map(move |(_, bytes)| {
                        (*kind, serde_json::from_slice(&bytes).expect("JSON"))
                    })
                })
                .collect()
        });
        let (kind, base) = &SAMPLES[sample_idx.index(SAMPLES.len())];
        let mut spots = Vec::new();
        pointers(base, String::new(), &mut spots);
        let spot = &spots[spot_idx.index(spots.len())];
        let payload = mutation.apply(base, spot);
        let text = payload.to_string();
        let schema = schema_accepts(schema_of(*kind), &payload);
        match Record::parse(*kind, text.as_bytes()) {
            Ok(_) => prop_assert!(schema, "{} at {}: refused by the schema only: {}", kind, spot, text),
            Err(e) if schema => {
                let message = e.to_string();
                prop_assert!(
                    BEYOND_SCHEMA.iter().any(|why| message.contains(why)),
                    "{} at {}: refused by the code only: {}",
                    kind,
                    spot,
                    message
                );
            }
            Err(_) => {}
        }
    }
}

/// The JSON pointer of every value inside `value`, but the root.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    let children: Vec<(String, &Value)> = match value {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
        Value::Array(list) => list
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => Vec::new(),
    };
    for (step, child) in children {
        let pointer = format!("{at}/{step}");
        out.push(pointer.clone());
        pointers(child, pointer, out);
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Remove,
    Replace(Value),
    /// A member added beside the value.
    AddSibling(String),
}

impl Mutation {
    fn apply(&self, base: &Value, spot: &str) -> Value {
        let (parent, _) = spot.rsplit_once('/').expect("a pointer");
        let parent_is_list = base.pointer(parent).is_some_and(Value::is_array);
        match self {
            Mutation::Remove if parent_is_list => {
                let mut changed = base.clone();
                let (_, last) = spot.rsplit_once('/').expect("a pointer");
                let list = changed.pointer_mut(parent).and_then(Value::as_array_mut);
                list.expect("a list")
                    .remove(last.parse().expect("an index"));
                changed
            }
            Mutation::Remove => without(base, spot),
            Mutation::Replace(value) => with(base, spot, value.clone()),
            Mutation::AddSibling(name) if !parent_is_list => {
                with(base, &format!("{parent}/{name}"), json!("añadido"))
            }
            Mutation::AddSibling(_) => {
                let mut changed = base.clone();
                let list = changed.pointer_mut(parent).and_then(Value::as_array_mut);
                let list = list.expect("a list");
                list.push(list[0].clone());
                changed
            }
        }
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let scalar = prop_oneof![
        near_edges().prop_map(Value::from),
        prop::sample::select(vec![
            json!(null),
            json!(true),
            json!(0),
            json!(1),
            json!(-1),
            json!([]),
            json!({}),
            json!(9_007_199_254_740_991_u64),
            json!(9_007_199_254_740_992_u64),
            json!("MX"),
            json!("mx"),
            json!("XX"),
            json!("2024-02-29"),
            json!("2025-02-29"),
            json!("9999-12-31"),
            json!("1C350"),
            json!("ML23"),
            json!("MX:SE-1"),
            json!("2930.90"),
            json!("consignee"),
            json!("end_user"),
            json!("exporter"),
            json!("wassenaar"),
            json!("seizure"),
            json!("agree"),
            json!("tax_id"),
            json!("0.5"),
            json!("05"),
            json!("USD"),
            json!("pacific-alliance.concord/mx"),
            json!("1a2b3c4d"),
            json!(["1C350"]),
            json!([{"role": "intermediary", "name": "Орион", "country": "RU"}]),
        ]),
    ];
    prop_oneof![
        Just(Mutation::Remove),
        scalar.prop_map(Mutation::Replace),
        prop::sample::select(vec![
            "nickname",
            "valid_until",
            "end_use",
            "hs_code",
            "aliases",
            "place"
        ])
        .prop_map(|name| Mutation::AddSibling(name.to_owned())),
    ]
}

/// The sample application lines up with a denial of the demo federation:
/// its parties are denial parties, and its consignee, end user and item
/// are those Mexico denied.
#[test]
fn the_sample_application_is_valid_and_lines_up_with_a_denial() {
    let files = json_files("applications");
    assert!(!files.is_empty());
    for (name, bytes) in &files {
        let application: Value = serde_json::from_slice(bytes).expect("JSON");
        let errors: Vec<String> = VALIDATORS[schemas::APPLICATION.file]
            .iter_errors(&application)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
        for party in application["parties"].as_array().expect("parties") {
            let party: Party = serde_json::from_value(party.clone())
                .unwrap_or_else(|e| panic!("{name}: an application party is a denial party: {e}"));
            assert!(!normalise_name(party.name.as_str()).is_empty());
        }
    }
    let application: Value = sample("applications/co-2026-thiodiglycol.json");
    let Record::Denial(denial) = Record::parse(
        Kind::Denial,
        &serde_json::to_vec(&sample("denials/mx-2025-thiodiglycol.json")).expect("JSON"),
    )
    .expect("the sample denial") else {
        panic!("not a denial")
    };
    let denied: Vec<String> = Record::Denial(denial.clone()).index_terms().party_names;
    for role in ["consignee", "end_user"] {
        let party = application["parties"]
            .as_array()
            .expect("parties")
            .iter()
            .find(|p| p["role"] == role)
            .unwrap_or_else(|| panic!("no {role}"));
        let names = std::iter::once(&party["name"])
            .chain(party["aliases"].as_array().into_iter().flatten());
        assert!(
            names
                .map(|n| normalise_name(n.as_str().expect("a name")))
                .any(|n| denied.contains(&n)),
            "the {role} is not a party Mexico denied"
        );
    }
    let entries: Vec<ControlEntry> =
        serde_json::from_value(application["items"][0]["control_entries"].clone())
            .expect("entries");
    assert!(
        entries
            .iter()
            .any(|e| denial.items[0].control_entries.contains(e))
    );
    let hs_codes: Vec<HsCode> =
        serde_json::from_value(application["items"][0]["hs_codes"].clone()).expect("HS codes");
    assert!(
        hs_codes
            .iter()
            .any(|h| denial.items[0].hs_code.as_ref() == Some(h))
    );
}
