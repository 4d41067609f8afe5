//! Consultations between two states about a denial (PROTOCOL.md §3.3): the
//! second half of the no-undercut rule, by which a state that is about to
//! grant a licence an essentially identical denial refused asks the denying
//! state first.
//!
//! What an officer asks (`concord consult`, `/v1/consultations`) is checked
//! here against what the store holds before it becomes an entry of the own
//! log: a request is about a denial of another state, held and not
//! revoked; a reply answers a request this member's state received. Both
//! are `bilateral` between the two states. The ledger's rules
//! (`concord_protocol::ledger::check_denying_state`, `check_reply`) are
//! checked again by the writer, whatever path the entry took.
//!
//! A consultation this node can read is shown with its state: `answered`
//! once the denying state's log holds a reply to it, else `pending`, and
//! `overdue` after `[consultations] overdue_days` without one
//! ([`ConsultationState::of`]). Requests and replies are found through the
//! store's indexes, never by a scan of the logs.

use concord_protocol::entry::{EntryHeader, Visibility};
use concord_protocol::ledger::{self, DenialState, LedgerError};
use concord_protocol::origin::Origin;
use concord_protocol::record::{
    Answer, ConsultationReply, ConsultationRequest, Country, EntryRef, Kind, Record,
};
use serde::{Deserialize, Serialize};

use crate::publish::OwnEntry;
use crate::query::{Queries, QueryError, iso_utc};
use crate::store::StoreError;
use crate::store::keys::IndexKind;

/// Days a request waits for its reply before it is overdue, unless the
/// config says otherwise.
pub const DEFAULT_OVERDUE_DAYS: u32 = 30;

/// A consultation request as an officer asks it; the states and the
/// visibility follow from the roster and the denial.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    /// The denial, `ORIGIN#INDEX` (ORIGIN a member id or a log origin).
    pub denial: String,
    /// This state's reference of the licence application.
    pub application_reference: String,
    pub question: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items_summary: Option<String>,
}

/// A consultation reply as an officer gives it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReply {
    /// The request, `ORIGIN#INDEX`.
    pub request: String,
    /// `agree`, `object` or `need_more_information`.
    pub answer: String,
    pub comment: String,
}

/// Where a consultation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsultationState {
    Pending,
    Answered,
    /// Pending for more than the configured number of days.
    Overdue,
}

impl ConsultationState {
    /// The state of a request stamped `requested` (seconds since the Unix
    /// epoch), answered or not, for a reader whose clock reads `now`.
    pub fn of(requested: u64, answered: bool, now: u64, overdue_days: u32) -> Self {
        let waited = now.saturating_sub(requested);
        if answered {
            Self::Answered
        } else if waited > u64::from(overdue_days) * 86_400 {
            Self::Overdue
        } else {
            Self::Pending
        }
    }

    /// The state as JSON and the CLI name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Answered => "answered",
            Self::Overdue => "overdue",
        }
    }

    fn parse(text: &str) -> Result<Self, QueryError> {
        [Self::Pending, Self::Answered, Self::Overdue]
            .into_iter()
            .find(|state| state.as_str() == text)
            .ok_or_else(|| {
                QueryError::BadRequest(format!(
                    "state {text:?} is not pending, answered or overdue"
                ))
            })
    }
}

/// Which way a consultation goes for this node's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// This state denied, and is asked.
    Incoming,
    /// This state asks.
    Outgoing,
    /// Between two other states, published readable beyond them.
    Between,
}

impl Direction {
    fn parse(text: &str) -> Result<Self, QueryError> {
        match text {
            "incoming" => Ok(Self::Incoming),
            "outgoing" => Ok(Self::Outgoing),
            other => Err(QueryError::BadRequest(format!(
                "direction {other:?} is not incoming or outgoing"
            ))),
        }
    }
}

/// Which consultations a listing keeps, as text from a command line or a
/// URL's query.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConsultationFilter {
    /// `incoming` or `outgoing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    /// `pending`, `answered` or `overdue`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

/// One consultation as this node reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConsultationView {
    /// The request entry, `origin#index`.
    pub request: String,
    /// The denial it is about, `origin#index`.
    pub denial: String,
    /// ISO 3166-1 alpha-2.
    #[schema(value_type = String)]
    pub requesting_state: Country,
    /// ISO 3166-1 alpha-2.
    #[schema(value_type = String)]
    pub denying_state: Country,
    pub direction: Direction,
    pub application_reference: String,
    pub question: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items_summary: Option<String>,
    /// The request's `time`, seconds since the Unix epoch.
    pub time: u64,
    /// `time` as ISO 8601 UTC.
    pub requested_at: String,
    pub state: ConsultationState,
    /// The denying state's reply, once its log holds one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<ReplyView>,
}

/// The denying state's reply to a consultation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplyView {
    /// The reply entry, `origin#index`.
    pub entry: String,
    /// `agree`, `object` or `need_more_information`.
    #[schema(value_type = String)]
    pub answer: Answer,
    pub comment: String,
    pub time: u64,
    /// `time` as ISO 8601 UTC.
    pub replied_at: String,
}

/// Reads `ORIGIN#INDEX`, ORIGIN a member id or a log origin of the roster.
fn parse_reference(queries: &Queries, field: &str, text: &str) -> Result<EntryRef, QueryError> {
    let bad = |why: String| QueryError::BadRequest(format!("{field} {text:?}: {why}"));
    let (log, index) = text
        .rsplit_once('#')
        .ok_or_else(|| bad("expected ORIGIN#INDEX, e.g. mx#3".into()))?;
    let index = index
        .parse::<u64>()
        .map_err(|_| bad(format!("{index:?} is not an entry index")))?;
    let origin = queries.log(log).map_err(|e| bad(e.to_string()))?;
    Ok(EntryRef { origin, index })
}

/// A record of `kind` built from `value`, validated as any submitted one.
fn record_of(kind: Kind, value: &serde_json::Value) -> Result<Record, QueryError> {
    let bytes = serde_json::to_vec(value).expect("JSON values serialise");
    Record::parse(kind, &bytes)
        .map_err(|e| QueryError::BadRequest(format!("{kind} record refused: {e}")))
}

impl Queries {
    /// The header of entry `at`, which must be held.
    fn held_header(&self, field: &str, at: &EntryRef) -> Result<EntryHeader, QueryError> {
        let signed = self.store.entry(&at.origin, at.index)?.ok_or_else(|| {
            QueryError::BadRequest(format!("{field} {at}: this node holds no such entry"))
        })?;
        signed
            .decode_header()
            .map_err(|e| QueryError::Store(StoreError::Corrupt(format!("entry {at}: {e}"))))
    }

    /// The record of the entry with `header`, when this node holds its
    /// payload and may read it.
    fn readable_record(&self, header: &EntryHeader) -> Result<Option<Record>, QueryError> {
        if !header
            .payload
            .visibility
            .may_read(self.me.role, &self.me.country)
        {
            return Ok(None);
        }
        let bytes = self.store.payload(&header.payload.sha256.0)?;
        Ok(bytes.and_then(|bytes| Record::parse(header.kind, &bytes).ok()))
    }

    /// The own-log entry of a consultation request about `new.denial`: a
    /// denial this node holds, of another state, not revoked; asked in this
    /// member's state's name of the denial's state, `bilateral` between
    /// the two.
    ///
    /// # Errors
    /// [`QueryError::BadRequest`] naming what is wrong with the reference
    /// or a field.
    pub fn consultation_request(&self, new: &NewRequest) -> Result<OwnEntry, QueryError> {
        let denial = parse_reference(self, "denial", &new.denial)?;
        let header = self.held_header("denial", &denial)?;
        if header.kind != Kind::Denial {
            return Err(QueryError::BadRequest(format!(
                "denial {denial} is a {} entry, not a denial",
                header.kind
            )));
        }
        let status = self.store.denial_status(&denial.origin, denial.index)?;
        if status.is_some_and(|s| s.state == DenialState::Revoked) {
            return Err(QueryError::BadRequest(format!(
                "denial {denial} was revoked: there is nothing to consult about"
            )));
        }
        let denying_state = ledger::publisher_country(&*self.roster, &denial.origin)
            .map_err(|e| QueryError::BadRequest(format!("denial {denial}: {e}")))?;
        if denying_state == self.me.country {
            return Err(QueryError::BadRequest(format!(
                "denial {denial} is this member's own state's ({denying_state}): a state consults \
                 another state's denials"
            )));
        }
        let mut request = serde_json::json!({
            "denial": { "origin": denial.origin.as_str(), "index": denial.index },
            "requesting_state": self.me.country.as_str(),
            "denying_state": denying_state.as_str(),
            "application_reference": new.application_reference,
            "question": new.question,
        });
        if let Some(summary) = &new.items_summary {
            request["items_summary"] = summary.as_str().into();
        }
        Ok(OwnEntry {
            record: record_of(Kind::ConsultationRequest, &request)?,
            visibility: Visibility::Bilateral {
                states: [self.me.country, denying_state],
            },
            refers_to: None,
        })
    }

    /// The own-log entry of a reply to `new.request`: a request this node
    /// reads whose denying state is this member's, `bilateral` between the
    /// two states. That the log has not replied to it yet is the writer's
    /// check (`ledger::check_reply`), against the log as it is then.
    ///
    /// # Errors
    /// [`QueryError::BadRequest`] naming what is wrong with the reference
    /// or a field.
    pub fn consultation_reply(&self, new: &NewReply) -> Result<OwnEntry, QueryError> {
        let request = parse_reference(self, "request", &new.request)?;
        let header = self.held_header("request", &request)?;
        if header.kind != Kind::ConsultationRequest {
            return Err(QueryError::BadRequest(format!(
                "request {request} is a {} entry, not a consultation.request",
                header.kind
            )));
        }
        let Some(Record::ConsultationRequest(asked)) = self.readable_record(&header)? else {
            return Err(QueryError::BadRequest(format!(
                "request {request}: this node cannot read it (a consultation is read by its two \
                 states only), so this member's state {} is not the one it asks",
                self.me.country
            )));
        };
        if asked.denying_state != self.me.country {
            let refused = LedgerError::ReplyFromWrongState {
                request: request.clone(),
                denying_state: asked.denying_state,
                country: self.me.country,
            };
            return Err(QueryError::BadRequest(refused.to_string()));
        }
        let reply = serde_json::json!({
            "request": { "origin": request.origin.as_str(), "index": request.index },
            "answer": new.answer,
            "comment": new.comment,
        });
        Ok(OwnEntry {
            record: record_of(Kind::ConsultationReply, &reply)?,
            visibility: Visibility::Bilateral {
                states: [self.me.country, asked.requesting_state],
            },
            refers_to: None,
        })
    }

    /// Every consultation this node can read that `filter` keeps, oldest
    /// first, as of `now`.
    ///
    /// # Errors
    /// [`QueryError::BadRequest`] for a filter that does not parse,
    /// [`QueryError::Store`] on a read failure.
    pub fn consultations(
        &self,
        filter: &ConsultationFilter,
        now: u64,
    ) -> Result<Vec<ConsultationView>, QueryError> {
        let direction = filter
            .direction
            .as_deref()
            .map(Direction::parse)
            .transpose()?;
        let state = filter
            .state
            .as_deref()
            .map(ConsultationState::parse)
            .transpose()?;
        let requests = self
            .store
            .lookup(IndexKind::Kind, Kind::ConsultationRequest.as_str())?;
        let mut views = self.views(requests, now)?;
        views.retain(|view| {
            direction.is_none_or(|d| view.direction == d) && state.is_none_or(|s| view.state == s)
        });
        Ok(views)
    }

    /// The consultations this node can read about the denial at
    /// `denial_index` of `denial_origin`, oldest first, each with its state
    /// as of now: what screening shows beside a denial an application
    /// resembles.
    ///
    /// # Errors
    /// [`QueryError::Store`] on a read failure.
    pub fn consultations_about(
        &self,
        denial_origin: &Origin,
        denial_index: u64,
    ) -> Result<Vec<ConsultationView>, QueryError> {
        let denial = EntryRef {
            origin: denial_origin.clone(),
            index: denial_index,
        };
        let requests = self
            .store
            .lookup(IndexKind::ConsultedDenial, &denial.to_string())?;
        self.views(requests, crate::clock::now())
    }

    /// The requests at `positions` this node can read, with their replies.
    fn views(
        &self,
        positions: Vec<(Origin, u64)>,
        now: u64,
    ) -> Result<Vec<ConsultationView>, QueryError> {
        let mut views = Vec::new();
        for (origin, index) in positions {
            if let Some(view) = self.view(EntryRef { origin, index }, now)? {
                views.push(view);
            }
        }
        views.sort_by(|a, b| (a.time, &a.request).cmp(&(b.time, &b.request)));
        Ok(views)
    }

    /// The request at `at`, when it is one this node can read.
    fn view(&self, at: EntryRef, now: u64) -> Result<Option<ConsultationView>, QueryError> {
        let Some(signed) = self.store.entry(&at.origin, at.index)? else {
            return Ok(None);
        };
        let Ok(header) = signed.decode_header() else {
            return Ok(None);
        };
        let Some(Record::ConsultationRequest(request)) = self.readable_record(&header)? else {
            return Ok(None);
        };
        let reply = self.reply_to(&at, &request)?;
        let direction = if request.denying_state == self.me.country {
            Direction::Incoming
        } else if request.requesting_state == self.me.country {
            Direction::Outgoing
        } else {
            Direction::Between
        };
        let state = ConsultationState::of(
            header.time,
            reply.is_some(),
            now,
            self.consultation_overdue_days,
        );
        let ConsultationRequest {
            denial,
            requesting_state,
            denying_state,
            application_reference,
            question,
            items_summary,
        } = request;
        Ok(Some(ConsultationView {
            request: at.to_string(),
            denial: denial.to_string(),
            requesting_state,
            denying_state,
            direction,
            application_reference: application_reference.as_str().to_owned(),
            question: question.as_str().to_owned(),
            items_summary: items_summary.map(|s| s.as_str().to_owned()),
            time: header.time,
            requested_at: iso_utc(header.time),
            state,
            reply,
        }))
    }

    /// The first reply to the request at `at` from a log of its denying
    /// state, as this node reads it. Replies from other logs answer
    /// nothing (the ledger refuses them where it can tell).
    fn reply_to(
        &self,
        at: &EntryRef,
        request: &ConsultationRequest,
    ) -> Result<Option<ReplyView>, QueryError> {
        let mut replies = self
            .store
            .lookup(IndexKind::AnsweredRequest, &at.to_string())?;
        replies.sort_by_key(|(_, index)| *index);
        for (origin, index) in replies {
            let from_denying_state = ledger::publisher_country(&*self.roster, &origin)
                .is_ok_and(|country| country == request.denying_state);
            if !from_denying_state {
                continue;
            }
            let entry = EntryRef { origin, index };
            let Some(signed) = self.store.entry(&entry.origin, entry.index)? else {
                continue;
            };
            let Ok(header) = signed.decode_header() else {
                continue;
            };
            if let Some(Record::ConsultationReply(ConsultationReply {
                answer, comment, ..
            })) = self.readable_record(&header)?
            {
                return Ok(Some(ReplyView {
                    entry: entry.to_string(),
                    answer,
                    comment: comment.as_str().to_owned(),
                    time: header.time,
                    replied_at: iso_utc(header.time),
                }));
            }
        }
        Ok(None)
    }
}

/// The answer as text, as the CLI prints it.
pub fn answer_name(answer: Answer) -> &'static str {
    match answer {
        Answer::Agree => "agree",
        Answer::Object => "object",
        Answer::NeedMoreInformation => "need_more_information",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 86_400;
    /// 2026-12-02T00:00:00Z.
    const REQUESTED: u64 = 1_796_169_600;

    #[test]
    fn a_request_is_overdue_only_unanswered_past_its_days() {
        let check = |answered, waited: u64, days, expected| {
            assert_eq!(
                ConsultationState::of(REQUESTED, answered, REQUESTED + waited, days),
                expected,
                "answered {answered}, waited {waited} s, {days} days allowed"
            );
        };
        use ConsultationState::{Answered, Overdue, Pending};
        check(false, 0, 30, Pending);
        check(false, 30 * DAY, 30, Pending);
        check(false, 30 * DAY + 1, 30, Overdue);
        check(true, 30 * DAY + 1, 30, Answered);
        check(true, 0, 30, Answered);
        check(false, 8 * DAY, 7, Overdue);
        check(false, 1, 0, Overdue);
        // A clock behind the request's time never makes it overdue.
        assert_eq!(
            ConsultationState::of(REQUESTED, false, REQUESTED - DAY, 0),
            Pending
        );
    }

    #[test]
    fn filters_name_their_values() {
        assert_eq!(Direction::parse("incoming").ok(), Some(Direction::Incoming));
        assert!(Direction::parse("between").is_err());
        let refused = ConsultationState::parse("late").expect_err("refused");
        assert_eq!(
            refused.to_string(),
            "state \"late\" is not pending, answered or overdue"
        );
    }
}
