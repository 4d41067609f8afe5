//! Denials and their amendment and revocation (kinds `denial`,
//! `denial.amend`, `denial.revoke`).
//!
//! A `denial` payload is a JSON object:
//!
//! ```json
//! {
//!   "denying_state": "MX",
//!   "authority": "Secretaría de Economía — Dirección General de Comercio Exterior",
//!   "reference": "SE-DGCE-2025-0412",
//!   "decision_date": "2025-03-14",
//!   "regimes": ["australia_group"],
//!   "items": [{"description": "Thiodiglycol, 99 %", "control_entries": ["1C350.1"],
//!              "hs_code": "2930.90", "quantity": {"amount": "2000", "unit": "kg"},
//!              "value": {"amount": "48000.00", "currency": "USD"}}],
//!   "parties": [{"role": "consignee", "name": "Química del Pacífico S.A. de C.V.",
//!                "aliases": ["QdP"], "address": "…", "country": "MX",
//!                "identifiers": [{"scheme": "tax_id", "value": "QPA0101019Z8"}]}],
//!   "end_use": "…",
//!   "reason": "…",
//!   "valid_until": "2028-03-14"
//! }
//! ```
//!
//! Rules beyond the field types: 1 to [`MAX_REGIMES`] distinct regimes; 1 to
//! [`MAX_ITEMS`] items, each with at most [`MAX_CONTROL_ENTRIES`] control
//! entries and at least one control entry in the whole denial; 1 to
//! [`MAX_PARTIES`] parties of which at least one is a consignee or an end
//! user; at most [`MAX_ALIASES`] aliases and [`MAX_IDENTIFIERS`] identifiers
//! per party; `valid_until`, when present, after `decision_date`. When
//! `valid_until` is absent the normalised denial carries
//! `decision_date` + [`DEFAULT_VALIDITY_YEARS`] years, the regimes' common
//! practice.
//!
//! A `denial.amend` payload is `{"reason": text, "denial": denial}`: the full
//! replacement content. A `denial.revoke` payload is `{"reason": text,
//! "date": date}`. The denial they act on is named in the entry header.

use serde::{Deserialize, Serialize};

use super::RecordError;
use super::control::{ControlEntry, HsCode, Regime};
use super::country::Country;
use super::date::Date;
use super::text::{Currency, Decimal, Name, Text};
use super::validate::{Path, check_count, invalid};

/// Most regimes one denial may cite.
pub const MAX_REGIMES: usize = 6;
/// Most items in one denial or notice.
pub const MAX_ITEMS: usize = 128;
/// Most control entries on one item.
pub const MAX_CONTROL_ENTRIES: usize = 32;
/// Most parties in one denial or notice.
pub const MAX_PARTIES: usize = 64;
/// Most aliases of one party.
pub const MAX_ALIASES: usize = 16;
/// Most identifiers of one party.
pub const MAX_IDENTIFIERS: usize = 16;
/// Validity given to a denial that states none, in years after the decision.
pub const DEFAULT_VALIDITY_YEARS: u16 = 3;

/// A licence denial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct Denial {
    pub denying_state: Country,
    pub authority: Name,
    /// The denying authority's own reference for the decision.
    pub reference: Name,
    pub decision_date: Date,
    pub regimes: Vec<Regime>,
    pub items: Vec<Item>,
    pub parties: Vec<Party>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_use: Option<Text>,
    pub reason: Text,
    /// Last day the denial is in force; always present once normalised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<Date>,
}

/// One denied item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct Item {
    pub description: Text,
    #[serde(default)]
    pub control_entries: Vec<ControlEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hs_code: Option<HsCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Quantity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Money>,
}

/// An amount of something, in a unit (`"2000"` `"kg"`, `"3"` `"units"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct Quantity {
    pub amount: Decimal,
    pub unit: Name,
}

/// An amount of money.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct Money {
    pub amount: Decimal,
    pub currency: Currency,
}

/// A party to a transaction: a consignee, an end user or an intermediary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct Party {
    pub role: PartyRole,
    pub name: Name,
    #[serde(default)]
    pub aliases: Vec<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Text>,
    pub country: Country,
    #[serde(default)]
    pub identifiers: Vec<Identifier>,
}

/// The part a party plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartyRole {
    Consignee,
    EndUser,
    Intermediary,
}

/// A registry identifier of a party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct Identifier {
    pub scheme: IdentifierScheme,
    pub value: Name,
}

/// The register an [`Identifier`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierScheme {
    /// National tax number (RFC, RUT, NIT, RUC, CNPJ).
    TaxId,
    /// ISO 17442 Legal Entity Identifier.
    Lei,
    /// Dun & Bradstreet number.
    Duns,
    /// IMO ship or company number.
    Imo,
    /// Company register number.
    Registration,
    Passport,
    Other,
}

/// New content for an earlier denial (kind `denial.amend`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct DenialAmend {
    pub reason: Text,
    pub denial: Denial,
}

/// Withdrawal of an earlier denial (kind `denial.revoke`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct DenialRevoke {
    pub reason: Text,
    /// Date from which the denial no longer applies.
    pub date: Date,
}

impl Denial {
    /// Last day the denial is in force: `valid_until`, or the default
    /// validity after the decision when it is absent.
    pub fn expires(&self) -> Option<Date> {
        self.valid_until
            .or_else(|| self.decision_date.add_years(DEFAULT_VALIDITY_YEARS))
    }

    /// Whether the denial is in force on `date`.
    pub fn in_force_on(&self, date: Date) -> bool {
        date >= self.decision_date && self.expires().is_some_and(|end| date <= end)
    }

    /// Checks the rules the field types cannot express, then fills in
    /// `valid_until`. `path` is the JSON path of this denial ("" at the root).
    pub(crate) fn validate(&mut self, path: &Path<'_>) -> Result<(), RecordError> {
        let regimes_path = path.field("regimes");
        check_count(&self.regimes, &regimes_path, 1, MAX_REGIMES)?;
        for (i, regime) in self.regimes.iter().enumerate() {
            if self.regimes[..i].contains(regime) {
                return Err(invalid(
                    &regimes_path.index(i),
                    format!("{regime} is listed twice"),
                ));
            }
        }

        let items_path = path.field("items");
        check_count(&self.items, &items_path, 1, MAX_ITEMS)?;
        for (i, item) in self.items.iter().enumerate() {
            check_count(
                &item.control_entries,
                &items_path.index(i).field("control_entries"),
                0,
                MAX_CONTROL_ENTRIES,
            )?;
        }
        if self
            .items
            .iter()
            .all(|item| item.control_entries.is_empty())
        {
            return Err(invalid(
                &items_path,
                "no item has a control entry: a denial must cite at least one",
            ));
        }

        let parties_path = path.field("parties");
        check_parties(&self.parties, &parties_path, 1)?;
        if !self
            .parties
            .iter()
            .any(|p| matches!(p.role, PartyRole::Consignee | PartyRole::EndUser))
        {
            return Err(invalid(
                &parties_path,
                "no party is a consignee or an end user",
            ));
        }

        let valid_until_path = path.field("valid_until");
        match self.valid_until {
            Some(valid_until) if valid_until <= self.decision_date => {
                return Err(invalid(
                    &valid_until_path,
                    format!(
                        "{valid_until} is not after decision_date {}",
                        self.decision_date
                    ),
                ));
            }
            Some(_) => {}
            None => {
                let default = self.expires().ok_or_else(|| {
                    invalid(
                        &valid_until_path,
                        "absent, and decision_date + 3 years is after 9999-12-31",
                    )
                })?;
                self.valid_until = Some(default);
            }
        }
        Ok(())
    }
}

/// Checks a party list: between `min` and [`MAX_PARTIES`] parties, each
/// within its alias and identifier bounds.
pub(crate) fn check_parties(
    parties: &[Party],
    path: &Path<'_>,
    min: usize,
) -> Result<(), RecordError> {
    check_count(parties, path, min, MAX_PARTIES)?;
    for (i, party) in parties.iter().enumerate() {
        let party_path = path.index(i);
        check_count(&party.aliases, &party_path.field("aliases"), 0, MAX_ALIASES)?;
        check_count(
            &party.identifiers,
            &party_path.field("identifiers"),
            0,
            MAX_IDENTIFIERS,
        )?;
    }
    Ok(())
}

impl DenialAmend {
    pub(crate) fn validate(&mut self, path: &Path<'_>) -> Result<(), RecordError> {
        self.denial.validate(&path.field("denial"))
    }
}
