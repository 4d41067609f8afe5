//! Enforcement notices (kind `notice`).
//!
//! A `notice` payload is a JSON object:
//!
//! ```json
//! {
//!   "issuing_state": "PE",
//!   "agency": "SUNAT — Intendencia de Aduana Marítima del Callao",
//!   "date": "2025-06-02",
//!   "notice_kind": "seizure",
//!   "parties": [ /* as in a denial */ ],
//!   "items": [{"description": "…", "hs_code": "8457.10", "control_entries": ["2B001.b"],
//!              "quantity": {"amount": "2", "unit": "units"}}],
//!   "place": {"country": "PE", "locality": "Callao", "port": "Muelle Sur"},
//!   "summary": "…",
//!   "denial_links": [{"origin": "pacific-alliance.concord/mx-se", "index": 4}]
//! }
//! ```
//!
//! Rules beyond the field types: at most
//! [`MAX_PARTIES`](super::denial::MAX_PARTIES) parties and [`MAX_ITEMS`] items, and at least one of either; at most
//! [`MAX_CONTROL_ENTRIES`] control entries per item; at most
//! [`MAX_DENIAL_LINKS`] distinct denial links.

use serde::{Deserialize, Serialize};

use super::control::{ControlEntry, HsCode};
use super::country::Country;
use super::date::Date;
use super::denial::{MAX_CONTROL_ENTRIES, MAX_ITEMS, Party, Quantity, check_parties};
use super::text::{Name, Text};
use super::validate::{Path, check_count, invalid};
use super::{EntryRef, RecordError};

/// Most denial links in one notice.
pub const MAX_DENIAL_LINKS: usize = 64;

/// An enforcement notice from a customs or enforcement agency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct Notice {
    pub issuing_state: Country,
    pub agency: Name,
    pub date: Date,
    pub notice_kind: NoticeKind,
    #[serde(default)]
    pub parties: Vec<Party>,
    #[serde(default)]
    pub items: Vec<NoticeItem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<Place>,
    pub summary: Text,
    #[serde(default)]
    pub denial_links: Vec<EntryRef>,
}

/// What the agency did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    Seizure,
    Detention,
    Penalty,
    Alert,
    Investigation,
}

/// An item named in a notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct NoticeItem {
    pub description: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hs_code: Option<HsCode>,
    #[serde(default)]
    pub control_entries: Vec<ControlEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Quantity>,
}

/// Where it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct Place {
    pub country: Country,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<Name>,
}

impl Notice {
    pub(crate) fn validate(&mut self, path: &Path<'_>) -> Result<(), RecordError> {
        check_parties(&self.parties, &path.field("parties"), 0)?;
        let items_path = path.field("items");
        check_count(&self.items, &items_path, 0, MAX_ITEMS)?;
        for (i, item) in self.items.iter().enumerate() {
            check_count(
                &item.control_entries,
                &items_path.index(i).field("control_entries"),
                0,
                MAX_CONTROL_ENTRIES,
            )?;
        }
        if self.parties.is_empty() && self.items.is_empty() {
            return Err(invalid(
                &path.field("parties"),
                "a notice must name at least one party or one item",
            ));
        }
        let links_path = path.field("denial_links");
        check_count(&self.denial_links, &links_path, 0, MAX_DENIAL_LINKS)?;
        for (i, link) in self.denial_links.iter().enumerate() {
            let link_path = links_path.index(i);
            link.validate(&link_path)?;
            if self.denial_links[..i].contains(link) {
                return Err(invalid(&link_path, "links the same entry twice"));
            }
        }
        Ok(())
    }
}
