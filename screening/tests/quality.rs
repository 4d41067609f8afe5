//! Precision and recall of screening on the labelled pairs of
//! `scenarios/screening/pairs.jsonl`, at the default threshold.
//!
//! Each line holds an application party, a denied party, the label
//! (`match` or `no_match`), a category and the reason in words; optionally
//! the control entries cited on each side. Every denied party becomes a
//! denial of its own in one [`Index`]; each application is screened through
//! the index, and the pair counts as found when its own denial is a hit.

use std::collections::BTreeMap;

use concord_protocol::record::{Denial, Kind, Record};
use concord_screening::{Application, DEFAULT_THRESHOLD, Index};
use serde::Deserialize;
use serde_json::{Value, json};

const MIN_PRECISION: f64 = 0.95;
const MIN_RECALL: f64 = 0.90;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Pair {
    category: String,
    label: Label,
    application: Value,
    denied: Value,
    #[serde(default)]
    application_control_entries: Vec<String>,
    #[serde(default)]
    denied_control_entries: Vec<String>,
    reason: String,
}

#[derive(Deserialize, PartialEq, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum Label {
    Match,
    NoMatch,
}

fn pairs() -> Vec<Pair> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/screening/pairs.jsonl"
    );
    let text = std::fs::read_to_string(path).expect("the labelled pairs are in the repository");
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("pairs.jsonl line {}: {e}", i + 1))
        })
        .collect()
}

fn with_role(party: &Value) -> Value {
    let mut party = party.clone();
    party["role"] = json!("consignee");
    party
}

fn denial(pair: &Pair) -> Denial {
    let entries = if pair.denied_control_entries.is_empty() {
        vec!["1C350".to_owned()]
    } else {
        pair.denied_control_entries.clone()
    };
    let payload = json!({
        "denying_state": "MX",
        "authority": "Secretaría de Economía",
        "reference": "SE-2026-0001",
        "decision_date": "2026-01-15",
        "regimes": ["wassenaar"],
        "items": [{"description": "controlled item", "control_entries": entries}],
        "parties": [with_role(&pair.denied)],
        "reason": "risk of diversion",
    });
    match Record::parse(Kind::Denial, payload.to_string().as_bytes()) {
        Ok(Record::Denial(denial)) => denial,
        other => panic!("denied party {}: {other:?}", pair.denied),
    }
}

fn application(pair: &Pair) -> Application {
    let payload = json!({
        "reference": "LIC-2026-0001",
        "parties": [with_role(&pair.application)],
        "items": [{"description": "item", "control_entries": pair.application_control_entries}],
        "destination": pair.application["country"],
    });
    Application::parse(payload.to_string().as_bytes())
        .unwrap_or_else(|e| panic!("application party {}: {e}", pair.application))
}

#[derive(Default)]
struct Counts {
    true_positive: usize,
    false_positive: usize,
    false_negative: usize,
    true_negative: usize,
}

impl Counts {
    fn add(&mut self, label: Label, found: bool) {
        match (label, found) {
            (Label::Match, true) => self.true_positive += 1,
            (Label::Match, false) => self.false_negative += 1,
            (Label::NoMatch, true) => self.false_positive += 1,
            (Label::NoMatch, false) => self.true_negative += 1,
        }
    }

    fn ratio(num: usize, den: usize) -> Option<f64> {
        (den > 0).then(|| num as f64 / den as f64)
    }

    fn precision(&self) -> Option<f64> {
        Self::ratio(self.true_positive, self.true_positive + self.false_positive)
    }

    fn recall(&self) -> Option<f64> {
        Self::ratio(self.true_positive, self.true_positive + self.false_negative)
    }

    fn f1(&self) -> Option<f64> {
        let (p, r) = (self.precision()?, self.recall()?);
        (p + r > 0.0).then(|| 2.0 * p * r / (p + r))
    }
}

fn shown(x: Option<f64>) -> String {
    x.map_or("   —".to_owned(), |x| format!("{x:.3}"))
}

#[test]
fn precision_and_recall_at_the_default_threshold() {
    let pairs = pairs();
    assert!(pairs.len() >= 400, "{} pairs", pairs.len());
    let mut index = Index::new();
    for (key, pair) in pairs.iter().enumerate() {
        index.insert(key, &denial(pair));
    }

    let mut total = Counts::default();
    let mut by_category: BTreeMap<&str, Counts> = BTreeMap::new();
    let mut wrong = Vec::new();
    for (key, pair) in pairs.iter().enumerate() {
        let hits = index.screen(&application(pair), DEFAULT_THRESHOLD);
        let own = hits.iter().find(|hit| hit.denial == key);
        let found = own.is_some();
        total.add(pair.label, found);
        by_category
            .entry(&pair.category)
            .or_default()
            .add(pair.label, found);
        if found != (pair.label == Label::Match) {
            let why = own.map_or("no hit".to_owned(), ToString::to_string);
            wrong.push(format!(
                "  {} {}: {} / {} ({}) — {why}",
                pair.category,
                if found { "false positive" } else { "missed" },
                pair.application["name"],
                pair.denied["name"],
                pair.reason
            ));
        }
    }

    println!("category              n  precision  recall     F1  false+  false-");
    for (category, counts) in &by_category {
        let n = counts.true_positive
            + counts.false_positive
            + counts.false_negative
            + counts.true_negative;
        println!(
            "{category:<18} {n:>4}  {:>9}  {:>6}  {:>5}  {:>6}  {:>6}",
            shown(counts.precision()),
            shown(counts.recall()),
            shown(counts.f1()),
            counts.false_positive,
            counts.false_negative
        );
    }
    println!(
        "all                {:>4}  {:>9}  {:>6}  {:>5}  {:>6}  {:>6}",
        pairs.len(),
        shown(total.precision()),
        shown(total.recall()),
        shown(total.f1()),
        total.false_positive,
        total.false_negative
    );
    println!(
        "wrong at threshold {DEFAULT_THRESHOLD}:\n{}",
        wrong.join("\n")
    );

    let precision = total.precision().expect("the set has matches");
    let recall = total.recall().expect("the set has matches");
    assert!(
        precision >= MIN_PRECISION,
        "precision {precision:.3} < {MIN_PRECISION}"
    );
    assert!(recall >= MIN_RECALL, "recall {recall:.3} < {MIN_RECALL}");
}
