//! Denials and notices: browsing and searching every log with the
//! filters of [`ListFilter`], and one entry with its status, history,
//! consultations and inclusion proof. What a reader may not read shows as
//! its header only ([`crate::query::entry`] decides).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use concord_keys::roster::Role;
use concord_protocol::entry::Visibility;
use concord_protocol::proof::Proof;
use concord_protocol::record::Kind;
use serde_json::Value;

use super::consultations::Row;
use super::{Frame, Visit, WebState, blocking, failed, html, member_of};
use crate::consultation::ConsultationView;
use crate::query::{EntryLine, EntryView, ListFilter, visibility_name};
use crate::tokens::Scope;

/// Most entries one search shows of each log.
const MAX_PER_LOG: u64 = 200;

/// The kinds a search may ask for, as the filter spells them.
const KINDS: [&str; 6] = [
    "denial",
    "denial.amend",
    "denial.revoke",
    "notice",
    "consultation.request",
    "consultation.reply",
];
/// A denial's states, as the filter spells them.
const STATUSES: [&str; 4] = ["active", "amended", "revoked", "expired"];

/// A found entry with its log's member id, for the link.
struct Found {
    log: String,
    line: EntryLine,
}

#[derive(Template)]
#[template(path = "denials.html")]
struct SearchPage {
    f: Frame,
    /// The fields as submitted, to show them again.
    q: HashMap<String, String>,
    logs: Vec<String>,
    kinds: &'static [&'static str],
    statuses: &'static [&'static str],
    found: Vec<Found>,
    searched: bool,
}

impl SearchPage {
    fn value(&self, name: &str) -> &str {
        self.q.get(name).map_or("", String::as_str)
    }
}

/// `text`, or `None` when the field was left empty.
fn given(q: &HashMap<String, String>, name: &str) -> Option<String> {
    q.get(name)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

pub(super) async fn search(
    State(web): State<WebState>,
    Query(q): Query<HashMap<String, String>>,
    visit: Visit,
) -> Response {
    let signed = match visit.require(&web, Scope::Read) {
        Ok(signed) => signed,
        Err(refusal) => return refusal.into_response(),
    };
    let logs: Vec<String> = web
        .api
        .queries
        .roster
        .members
        .iter()
        .filter(|m| m.role == Role::Member)
        .map(|m| m.id.to_string())
        .collect();
    let filter = ListFilter {
        kind: given(&q, "kind"),
        status: given(&q, "status"),
        state: given(&q, "state").map(|s| s.to_uppercase()),
        party: given(&q, "party"),
        control_entry: given(&q, "control_entry"),
        since: given(&q, "since"),
        until: given(&q, "until"),
    };
    let searched: Vec<String> = match given(&q, "log") {
        Some(log) => vec![log],
        None => logs.clone(),
    };
    let queries = web.api.queries.clone();
    let lines = blocking(move || {
        let mut lines = Vec::new();
        for log in &searched {
            lines.extend(queries.entries(log, 0, MAX_PER_LOG, &filter)?);
        }
        Ok(lines)
    })
    .await;
    let mut lines = match lines {
        Ok(lines) => lines,
        Err(e) => return failed(signed.frame, e),
    };
    // Newest first, as an officer looks for what changed.
    lines.sort_by_key(|line| std::cmp::Reverse(line.time));
    let found = lines
        .into_iter()
        .map(|line| Found {
            log: member_of(&web, &line.origin),
            line,
        })
        .collect();
    let searched = q.iter().any(|(k, v)| k != "lang" && !v.is_empty());
    html(&SearchPage {
        f: signed.frame,
        q,
        logs,
        kinds: &KINDS,
        statuses: &STATUSES,
        found,
        searched,
    })
}

/// An amendment or revocation of a denial.
struct Change {
    index: u64,
    kind: String,
    published_at: String,
}

/// The inclusion proof of an entry in its log's latest tree.
struct InclusionView {
    tree_size: u64,
    root: String,
    hashes: Vec<String>,
    checkpoint: Option<String>,
}

#[derive(Template)]
#[template(path = "entry.html")]
struct EntryPage {
    f: Frame,
    log: String,
    entry: EntryView,
    /// The payload as a denial, when it is one and readable.
    denial: Option<DenialView>,
    /// The denial as its last amendment states it, when amended and
    /// readable.
    current: Option<(u64, DenialView)>,
    /// Any other readable payload, as indented JSON.
    other: Option<String>,
    visibility: String,
    state: Option<String>,
    valid_until: Option<String>,
    history: Vec<Change>,
    consultations: Vec<Row>,
    proof: Option<InclusionView>,
}

/// What the entry page reads besides the entry.
struct Around {
    history: Vec<Change>,
    consultations: Vec<ConsultationView>,
    proof: Option<InclusionView>,
}

pub(super) async fn entry(
    State(web): State<WebState>,
    Path((log, index)): Path<(String, u64)>,
    visit: Visit,
) -> Response {
    let signed = match visit.require(&web, Scope::Read) {
        Ok(signed) => signed,
        Err(refusal) => return refusal.into_response(),
    };
    let queries = web.api.queries.clone();
    let at = log.clone();
    let read = blocking(move || {
        let entry = queries.entry(&at, index)?;
        let origin = queries.log(&at)?;
        let mut history = Vec::new();
        if let Some(status) = queries.store.denial_status(&origin, index)? {
            for change in status.history {
                let view = queries.entry(&at, change)?;
                history.push(Change {
                    index: change,
                    kind: view.kind,
                    published_at: view.published_at,
                });
            }
        }
        let consultations = queries.consultations_about(&origin, index)?;
        // An entry past the latest checkpoint has no proof in a signed tree
        // yet: the page says so rather than failing.
        let proof = match queries.inclusion(&at, index, None) {
            Ok(Proof::Inclusion {
                tree_size,
                root,
                hashes,
                checkpoint,
                ..
            }) => Some(InclusionView {
                tree_size,
                root: root.to_string(),
                hashes: hashes.iter().map(ToString::to_string).collect(),
                checkpoint,
            }),
            _ => None,
        };
        Ok((
            entry,
            Around {
                history,
                consultations,
                proof,
            },
        ))
    })
    .await;
    let (entry, around) = match read {
        Ok(read) => read,
        Err(e) => return failed(signed.frame, e),
    };
    let denial = entry
        .payload
        .as_ref()
        .filter(|_| entry.kind == Kind::Denial.as_str())
        .map(DenialView::of);
    let other = entry
        .payload
        .as_ref()
        .filter(|_| denial.is_none())
        .and_then(|p| serde_json::to_string_pretty(p).ok());
    let current = entry
        .current
        .as_ref()
        .and_then(|c| Some((c.index, DenialView::of(c.denial.as_ref()?))));
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let visibility = entry
        .header
        .pointer("/payload/visibility")
        .and_then(|v| serde_json::from_value::<Visibility>(v.clone()).ok())
        .map(|v| visibility_name(&v))
        .unwrap_or_default();
    html(&EntryPage {
        log: member_of(&web, &entry.origin),
        visibility,
        state: text(entry.status.as_ref().and_then(|s| s.get("state"))),
        valid_until: text(entry.status.as_ref().and_then(|s| s.get("valid_until"))),
        f: signed.frame,
        denial,
        current,
        other,
        entry,
        history: around.history,
        consultations: around
            .consultations
            .into_iter()
            .map(|view| Row::of(&web, view))
            .collect(),
        proof: around.proof,
    })
}

/// A denial's record as the page shows it, read from its JSON (the record
/// was validated when it was published).
struct DenialView {
    reference: String,
    authority: String,
    denying_state: String,
    decision_date: String,
    valid_until: String,
    regimes: String,
    items: Vec<ItemView>,
    parties: Vec<PartyView>,
    end_use: String,
    reason: String,
}

struct ItemView {
    description: String,
    control_entries: String,
    hs_code: String,
}

struct PartyView {
    role: String,
    name: String,
    aliases: String,
    address: String,
    country: String,
    identifiers: String,
}

/// The text at `key` of `value`, empty when absent.
fn field(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The texts of the array at `key` of `value`, joined by commas.
fn joined(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

fn list(value: &Value, key: &str) -> Vec<Value> {
    value
        .get(key)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

impl DenialView {
    fn of(denial: &Value) -> DenialView {
        DenialView {
            reference: field(denial, "reference"),
            authority: field(denial, "authority"),
            denying_state: field(denial, "denying_state"),
            decision_date: field(denial, "decision_date"),
            valid_until: field(denial, "valid_until"),
            regimes: joined(denial, "regimes"),
            items: list(denial, "items")
                .iter()
                .map(|item| ItemView {
                    description: field(item, "description"),
                    control_entries: joined(item, "control_entries"),
                    hs_code: field(item, "hs_code"),
                })
                .collect(),
            parties: list(denial, "parties")
                .iter()
                .map(|party| PartyView {
                    role: field(party, "role"),
                    name: field(party, "name"),
                    aliases: joined(party, "aliases"),
                    address: field(party, "address"),
                    country: field(party, "country"),
                    identifiers: list(party, "identifiers")
                        .iter()
                        .map(|id| format!("{} {}", field(id, "scheme"), field(id, "value")))
                        .collect::<Vec<_>>()
                        .join(", "),
                })
                .collect(),
            end_use: field(denial, "end_use"),
            reason: field(denial, "reason"),
        }
    }
}
