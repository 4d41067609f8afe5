//! Consultations between two states about a denial (kinds
//! `consultation.request`, `consultation.reply`).
//!
//! Before granting a licence for an essentially identical transaction, a
//! state consults the state that denied it. A `consultation.request` payload:
//!
//! ```json
//! {"denial": {"origin": "pacific-alliance.concord/mx-se", "index": 12},
//!  "requesting_state": "CL", "denying_state": "MX",
//!  "application_reference": "SUBREI-LIC-2025-0091",
//!  "question": "…", "items_summary": "…"}
//! ```
//!
//! The requesting and denying states differ. A `consultation.reply` payload:
//!
//! ```json
//! {"request": {"origin": "pacific-alliance.concord/cl-subrei", "index": 3},
//!  "answer": "object", "comment": "…"}
//! ```
//!
//! with `answer` one of `agree`, `object`, `need_more_information`.

use serde::{Deserialize, Serialize};

use super::country::Country;
use super::text::{Name, Text};
use super::validate::{Path, invalid};
use super::{EntryRef, RecordError};

/// A request to the denying state about a denial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct ConsultationRequest {
    /// The denial entry the application resembles.
    pub denial: EntryRef,
    pub requesting_state: Country,
    pub denying_state: Country,
    /// The requesting state's reference for the licence application.
    pub application_reference: Name,
    pub question: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items_summary: Option<Text>,
}

/// The denying state's answer to a [`ConsultationRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct ConsultationReply {
    /// The request entry answered.
    pub request: EntryRef,
    pub answer: Answer,
    pub comment: Text,
}

/// The denying state's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Agree,
    Object,
    NeedMoreInformation,
}

impl ConsultationRequest {
    pub(crate) fn validate(&mut self, path: &Path<'_>) -> Result<(), RecordError> {
        self.denial.validate(&path.field("denial"))?;
        if self.requesting_state == self.denying_state {
            return Err(invalid(
                &path.field("denying_state"),
                format!("{} is also the requesting_state", self.denying_state),
            ));
        }
        Ok(())
    }
}

impl ConsultationReply {
    pub(crate) fn validate(&mut self, path: &Path<'_>) -> Result<(), RecordError> {
        self.request.validate(&path.field("request"))
    }
}
