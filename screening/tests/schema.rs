//! `Application::parse` and `protocol/schemas/application.schema.json`
//! give one verdict: on the sample application, and on one fault per rule
//! (the application schema's own case-per-rule test).

use concord_protocol::schemas;
use concord_screening::Application;
use jsonschema::{Draft, Registry, Resource};
use serde_json::{Value, json};

fn sample() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/records/applications/co-2026-thiodiglycol.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("the sample")).expect("JSON")
}

/// `value` with the member at JSON pointer `at` set to `to`.
fn with(value: &Value, at: &str, to: Value) -> Value {
    let mut changed = value.clone();
    let (parent, key) = at.rsplit_once('/').expect("a pointer");
    let parent = changed.pointer_mut(parent).expect("the parent");
    match parent {
        Value::Object(map) => {
            map.insert(key.to_owned(), to);
        }
        Value::Array(list) => list[key.parse::<usize>().expect("an index")] = to,
        _ => panic!("{at} is in no container"),
    }
    changed
}

fn without(value: &Value, at: &str) -> Value {
    let mut changed = value.clone();
    let (parent, key) = at.rsplit_once('/').expect("a pointer");
    changed
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .expect("an object")
        .remove(key);
    changed
}

#[test]
fn the_parser_and_the_schema_agree() {
    let registry = Registry::new()
        .extend(schemas::ALL.iter().map(|schema| {
            let contents: Value = serde_json::from_str(schema.json).expect("a schema is JSON");
            (schema.id(), Resource::from_contents(contents))
        }))
        .expect("schema ids are URIs")
        .prepare()
        .expect("the references resolve");
    let validator = jsonschema::options()
        .with_draft(Draft::Draft202012)
        .with_registry(&registry)
        .build(&json!({"$ref": schemas::APPLICATION.id()}))
        .expect("the application schema");
    let base = sample();
    let party = base["parties"][0].clone();
    let cases = [
        ("the sample", base.clone(), true),
        (
            "unknown field",
            with(&base, "/licence_type", json!("definitiva")),
            false,
        ),
        (
            "unknown item field",
            with(&base, "/items/0/hs_code", json!("2930.90")),
            false,
        ),
        ("missing destination", without(&base, "/destination"), false),
        (
            "missing item description",
            without(&base, "/items/0/description"),
            true,
        ),
        (
            "missing item control entries",
            without(&base, "/items/0/control_entries"),
            true,
        ),
        (
            "item listed on none",
            with(&base, "/items/0/control_entries", json!([])),
            true,
        ),
        ("no HS codes", without(&base, "/items/0/hs_codes"), true),
        (
            "bad HS code",
            with(&base, "/items/0/hs_codes/0", json!("2930")),
            false,
        ),
        (
            "sixteen HS codes",
            with(&base, "/items/0/hs_codes", json!(vec!["2930.90"; 16])),
            true,
        ),
        (
            "seventeen HS codes",
            with(&base, "/items/0/hs_codes", json!(vec!["2930.90"; 17])),
            false,
        ),
        (
            "destination EU",
            with(&base, "/destination", json!("EU")),
            false,
        ),
        (
            "role exporter",
            with(&base, "/parties/0/role", json!("exporter")),
            false,
        ),
        (
            "a purchaser besides",
            with(&base, "/parties/1/role", json!("purchaser")),
            true,
        ),
        (
            "intermediary only",
            with(
                &base,
                "/parties",
                json!([with(&party, "/role", json!("intermediary"))]),
            ),
            true,
        ),
        ("no party", with(&base, "/parties", json!([])), false),
        ("null end use", with(&base, "/end_use", Value::Null), true),
        ("no item", with(&base, "/items", json!([])), false),
        (
            "blank reference",
            with(&base, "/reference", json!(" ")),
            false,
        ),
        (
            "Chinese name",
            with(&base, "/parties/0/name", json!("安第斯太平洋化学")),
            true,
        ),
    ];
    for (label, application, valid) in cases {
        let bytes = serde_json::to_vec(&application).expect("JSON");
        let parsed = Application::parse(&bytes);
        assert_eq!(validator.is_valid(&application), valid, "schema: {label}");
        assert_eq!(parsed.is_ok(), valid, "parser: {label}: {parsed:?}");
    }
}
