//! Denials and applications written as JSON for the unit tests, parsed by
//! the same code as real ones.

use concord_protocol::record::{Denial, Kind, Record};

use crate::Application;

/// A denial by Mexico of `items` (JSON) to `parties` (JSON).
pub fn denial(parties: &str, items: &str) -> Denial {
    let json = format!(
        r#"{{"denying_state": "MX", "authority": "Secretaría de Economía", "reference": "SE-1",
            "decision_date": "2026-01-15", "regimes": ["australia_group"], "items": {items},
            "parties": {parties}, "reason": "risk of diversion"}}"#
    );
    match Record::parse(Kind::Denial, json.as_bytes()) {
        Ok(Record::Denial(denial)) => denial,
        other => panic!("test denial: {other:?}"),
    }
}

/// An application of `items` (JSON) to `parties` (JSON), bound for
/// `destination`.
pub fn application(parties: &str, items: &str, destination: &str) -> Application {
    let json = format!(
        r#"{{"reference": "LIC-1", "parties": {parties}, "items": {items},
            "destination": "{destination}"}}"#
    );
    Application::parse(json.as_bytes()).expect("test application")
}
