//! Synthetic denials and export applications for the screening benchmarks,
//! in memory and over a store: seeded, so every run screens the same data.
//!
//! A denial has 1 to 3 parties (a quarter with a two-word alias, a third
//! with a tax number) and 1 or 2 items; names are drawn from 40 syllables,
//! 12 generic words and 10 legal forms. An application has 5 parties, two
//! of them a denied name with one letter dropped, and 3 items. Both come
//! as JSON, the form records and applications are parsed from.

use crate::rng::Rng;

const SYLLABLES: &[&str] = &[
    "an", "bar", "ca", "dor", "el", "fa", "gan", "hu", "ix", "ja", "kov", "lu", "mar", "na", "or",
    "pa", "qui", "ro", "sa", "ta", "ur", "va", "wen", "xi", "ya", "zan", "lin", "mo", "te", "ri",
    "sol", "ber", "chen", "dra", "go", "hai", "ko", "mir", "nes", "pol",
];
const GENERIC: &[&str] = &[
    "Trading",
    "Comercial",
    "Industrial",
    "Grupo",
    "Servicios",
    "International",
    "Química",
    "Metalúrgica",
    "Electrónica",
    "Logistics",
    "Technologies",
    "Importadora",
];
const FORMS: &[&str] = &[
    "S.A. de C.V.",
    "Ltda.",
    "S.A.C.",
    "S.A.S.",
    "E.I.R.L.",
    "GmbH",
    "LLC",
    "Co., Ltd.",
    "FZE",
    "",
];
const COUNTRIES: &[&str] = &[
    "MX", "CL", "CO", "PE", "BR", "AE", "CN", "RU", "IR", "KR", "TR", "IN",
];
/// The states that deny, one of them per denial.
pub const DENYING_STATES: &[&str] = &["MX", "CL", "CO", "PE", "BR"];
const ENTRIES: &[&str] = &[
    "1C350",
    "1C350.a",
    "1C351",
    "1C011",
    "1C116",
    "2B001",
    "2B001.b.2",
    "2B350",
    "3A001.a",
    "5A002",
    "6A003",
    "9A004",
    "9A012",
    "ML8",
    "ML10.a",
];
const HS: &[&str] = &[
    "2930.90", "2812.10", "8457.10", "8479.89", "8526.91", "9013.80",
];

fn pick<'a>(rng: &mut Rng, list: &[&'a str]) -> &'a str {
    list[rng.index(list.len())]
}

fn word(rng: &mut Rng) -> String {
    let n = 2 + rng.index(2);
    let mut word: String = (0..n).map(|_| pick(rng, SYLLABLES)).collect();
    word[..1].make_ascii_uppercase();
    word
}

fn name(rng: &mut Rng) -> String {
    let mut parts = vec![word(rng), word(rng)];
    if rng.index(2) == 0 {
        parts.insert(0, pick(rng, GENERIC).to_owned());
    }
    parts.push(pick(rng, FORMS).to_owned());
    parts.join(" ").trim().to_owned()
}

fn party_json(rng: &mut Rng, role: &str, name: &str) -> String {
    let alias = if rng.index(4) == 0 {
        format!(r#", "aliases": ["{} {}"]"#, word(rng), word(rng))
    } else {
        String::new()
    };
    let identifier = if rng.index(3) == 0 {
        format!(
            r#", "identifiers": [{{"scheme": "tax_id", "value": "{:011}"}}]"#,
            rng.next_u64() % 100_000_000_000
        )
    } else {
        String::new()
    };
    format!(
        r#"{{"role": "{role}", "name": "{name}", "country": "{}"{alias}{identifier}}}"#,
        pick(rng, COUNTRIES)
    )
}

/// A denial record's JSON, decided on 2026-01-15 by one of
/// [`DENYING_STATES`].
pub fn denial_json(rng: &mut Rng) -> String {
    let roles = ["consignee", "end_user", "intermediary"];
    let parties: Vec<String> = (0..1 + rng.index(3))
        .map(|i| {
            let name = name(rng);
            party_json(rng, roles[i], &name)
        })
        .collect();
    let items: Vec<String> = (0..1 + rng.index(2))
        .map(|_| {
            format!(
                r#"{{"description": "item", "control_entries": ["{}"], "hs_code": "{}"}}"#,
                pick(rng, ENTRIES),
                pick(rng, HS)
            )
        })
        .collect();
    format!(
        r#"{{"denying_state": "{}", "authority": "A", "reference": "R", "decision_date": "2026-01-15",
            "regimes": ["wassenaar"], "items": [{}], "parties": [{}], "reason": "r"}}"#,
        pick(rng, DENYING_STATES),
        items.join(","),
        parties.join(",")
    )
}

/// An application's JSON: five parties, the first two of them names drawn
/// from `denied` with one of their first letters dropped (a typo), and
/// three items.
///
/// # Panics
/// If `denied` is empty or holds a name shorter than two letters.
pub fn application_json(rng: &mut Rng, denied: &[&str]) -> String {
    let roles = [
        "consignee",
        "end_user",
        "intermediary",
        "purchaser",
        "supplier",
    ];
    let parties: Vec<String> = roles
        .iter()
        .enumerate()
        .map(|(i, role)| {
            let name = if i < 2 {
                let denied: Vec<char> = denied[rng.index(denied.len())].chars().collect();
                let at = 1 + rng.index(denied.len().min(6) - 1);
                denied[..at].iter().chain(&denied[at + 1..]).collect()
            } else {
                name(rng)
            };
            party_json(rng, role, &name)
        })
        .collect();
    let items: Vec<String> = (0..3)
        .map(|_| {
            format!(
                r#"{{"description": "item", "control_entries": ["{}"], "hs_codes": ["{}"]}}"#,
                pick(rng, ENTRIES),
                pick(rng, HS)
            )
        })
        .collect();
    format!(
        r#"{{"reference": "L", "parties": [{}], "items": [{}], "destination": "{}"}}"#,
        parties.join(","),
        items.join(","),
        pick(rng, COUNTRIES)
    )
}
