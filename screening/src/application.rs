//! A licence application as an officer submits it for screening.
//!
//! An application is a JSON object shaped like a denial, field by field, so
//! that each of its parties and items lines up with a denial's:
//!
//! ```json
//! {
//!   "reference": "SE-LIC-2026-1187",
//!   "parties": [{"role": "consignee", "name": "Química del Pacífico S.A. de C.V.",
//!                "aliases": ["QdP"], "address": "…", "country": "MX",
//!                "identifiers": [{"scheme": "tax_id", "value": "QPA0101019Z8"}]}],
//!   "items": [{"description": "Thiodiglycol, 99 %", "control_entries": ["1C350.1"],
//!              "hs_codes": ["2930.90"]}],
//!   "destination": "MX",
//!   "end_use": "…"
//! }
//! ```
//!
//! Values are the protocol's types ([`Name`], [`Text`], [`Country`],
//! [`ControlEntry`], [`HsCode`], [`Identifier`]), so an application refuses
//! what a denial refuses. A party's role may also be `purchaser`, `supplier`
//! or `other`, which a denial does not name. Rules beyond the field types:
//! 1 to [`MAX_PARTIES`] parties, with at most [`MAX_ALIASES`] aliases and
//! [`MAX_IDENTIFIERS`] identifiers each; 1 to [`MAX_ITEMS`] items, each with
//! at most [`MAX_CONTROL_ENTRIES`] control entries and [`MAX_HS_CODES`] HS
//! codes (an item may cite none: not every item is listed). Errors are
//! [`RecordError`]s naming the field (`parties[1].country`), as a record's
//! are.

use concord_protocol::record::denial::{
    MAX_ALIASES, MAX_CONTROL_ENTRIES, MAX_IDENTIFIERS, MAX_ITEMS, MAX_PARTIES,
};
use concord_protocol::record::{
    self, ControlEntry, Country, HsCode, Identifier, Name, RecordError, Text,
};
use serde::{Deserialize, Serialize};

/// Most HS codes on one item of an application.
pub const MAX_HS_CODES: usize = 16;

/// A licence application to screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Application {
    /// The licensing authority's own reference for the application.
    pub reference: Name,
    pub parties: Vec<ApplicationParty>,
    pub items: Vec<ApplicationItem>,
    /// Country of final destination.
    pub destination: Country,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_use: Option<Text>,
}

/// A party to the transaction applied for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationParty {
    pub role: Role,
    pub name: Name,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Text>,
    pub country: Country,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identifiers: Vec<Identifier>,
}

/// The part a party plays in an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Consignee,
    EndUser,
    Intermediary,
    Purchaser,
    Supplier,
    Other,
}

impl Role {
    /// The JSON spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Consignee => "consignee",
            Role::EndUser => "end_user",
            Role::Intermediary => "intermediary",
            Role::Purchaser => "purchaser",
            Role::Supplier => "supplier",
            Role::Other => "other",
        }
    }
}

/// One item applied for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Text>,
    /// Absent or empty when the item is listed on no control list.
    #[serde(default)]
    pub control_entries: Vec<ControlEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hs_codes: Vec<HsCode>,
}

fn check_count<T>(list: &[T], path: &str, min: usize, max: usize) -> Result<(), RecordError> {
    let n = list.len();
    let reason = if n < min {
        "must not be empty".to_owned()
    } else if n > max {
        format!("has {n} elements, more than the {max} allowed")
    } else {
        return Ok(());
    };
    Err(RecordError::Invalid {
        path: path.to_owned(),
        reason,
    })
}

impl Application {
    /// Parses and validates an application.
    ///
    /// # Errors
    /// - [`RecordError::TooLarge`] above [`record::MAX_PAYLOAD_BYTES`];
    /// - [`RecordError::NotUtf8`], [`RecordError::NotJson`] for bytes that
    ///   are not UTF-8 JSON;
    /// - [`RecordError::Schema`] for JSON that does not fit, with the path of
    ///   the field;
    /// - [`RecordError::Invalid`] for a broken list bound.
    pub fn parse(bytes: &[u8]) -> Result<Application, RecordError> {
        let application: Application = record::from_json(record::input_text(bytes)?)?;
        application.validate()?;
        Ok(application)
    }

    /// Checks the list bounds the field types cannot express.
    ///
    /// # Errors
    /// [`RecordError::Invalid`] naming the list.
    pub fn validate(&self) -> Result<(), RecordError> {
        check_count(&self.parties, "parties", 1, MAX_PARTIES)?;
        for (i, party) in self.parties.iter().enumerate() {
            check_count(
                &party.aliases,
                &format!("parties[{i}].aliases"),
                0,
                MAX_ALIASES,
            )?;
            check_count(
                &party.identifiers,
                &format!("parties[{i}].identifiers"),
                0,
                MAX_IDENTIFIERS,
            )?;
        }
        check_count(&self.items, "items", 1, MAX_ITEMS)?;
        for (i, item) in self.items.iter().enumerate() {
            check_count(
                &item.control_entries,
                &format!("items[{i}].control_entries"),
                0,
                MAX_CONTROL_ENTRIES,
            )?;
            check_count(
                &item.hs_codes,
                &format!("items[{i}].hs_codes"),
                0,
                MAX_HS_CODES,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"{
      "reference": "SE-LIC-2026-1187",
      "parties": [
        {"role": "consignee", "name": "Química del Pacífico S.A. de C.V.", "country": "MX",
         "identifiers": [{"scheme": "tax_id", "value": "QPA0101019Z8"}]},
        {"role": "end_user", "name": "Минеральные Технологии", "aliases": ["Mineral Tech"],
         "country": "KZ", "address": "Almaty"}
      ],
      "items": [{"description": "Thiodiglycol", "control_entries": ["1C350.1"], "hs_codes": ["2930.90"]},
                {"description": "Spare valves", "control_entries": []}],
      "destination": "KZ"
    }"#;

    #[test]
    fn parses_a_valid_application() {
        let application = Application::parse(VALID.as_bytes()).expect("valid");
        assert_eq!(application.parties[1].role, Role::EndUser);
        assert_eq!(application.items[0].hs_codes[0].as_str(), "2930.90");
        assert_eq!(application.destination.as_str(), "KZ");
    }

    /// Each refusal names the field, as a record's does.
    #[test]
    fn refusals_name_the_field() {
        let check = |from: &str, to: &str, path: &str| {
            let json = VALID.replacen(from, to, 1);
            let error = Application::parse(json.as_bytes()).expect_err(to);
            assert_eq!(error.path(), Some(path), "{to}: {error}");
        };
        check(
            "\"country\": \"KZ\"",
            "\"country\": \"XX\"",
            "parties[1].country",
        );
        check(
            "\"role\": \"end_user\"",
            "\"role\": \"buyer\"",
            "parties[1].role",
        );
        check("\"1C350.1\"", "\"1C350.1x\"", "items[0].control_entries[0]");
        check("\"2930.90\"", "\"29\"", "items[0].hs_codes[0]");
        check("\"destination\"", "\"destiny\"", "destiny");
        check(
            "\"scheme\": \"tax_id\"",
            "\"scheme\": \"vat\"",
            "parties[0].identifiers[0].scheme",
        );
        let no_items = VALID.replace(
            r#"[{"description": "Thiodiglycol", "control_entries": ["1C350.1"], "hs_codes": ["2930.90"]},
                {"description": "Spare valves", "control_entries": []}]"#,
            "[]",
        );
        let error = Application::parse(no_items.as_bytes()).expect_err("no items");
        assert_eq!(error.path(), Some("items"));
    }

    #[test]
    fn refuses_what_is_not_json() {
        assert!(matches!(
            Application::parse(b"{\"reference\": "),
            Err(RecordError::NotJson { .. })
        ));
        assert!(matches!(
            Application::parse(&[0xff, 0xfe]),
            Err(RecordError::NotUtf8 { offset: 0 })
        ));
        let trailing = format!("{VALID} x");
        assert!(matches!(
            Application::parse(trailing.as_bytes()),
            Err(RecordError::NotJson { .. })
        ));
    }
}
