//! The federation as this node sees it: members and observers, each log
//! with its checkpoint and witnesses, quarantines, evidence, alerts, and
//! the audit of every log ([`crate::audit`]). It shows integrity only, so
//! an observer's token reads it all.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use concord_keys::roster::Role;

use super::{Frame, Visit, WebState, age, blocking, failed, html, member_of};
use crate::alerts::Alert;
use crate::audit::{AuditRequest, Report};
use crate::query::{LogView, StatusView};
use crate::tokens::Scope;

/// A participant of the roster and whether this node is connected to it.
struct Participant {
    id: String,
    name: String,
    country: String,
    member: bool,
    /// This node, connected to a peer of this participant, or neither.
    this_node: bool,
    connected: bool,
}

/// A witness's cosignature of a log's checkpoint.
struct Cosigner {
    witness: String,
    age: String,
}

/// A log with its member's id and its cosignatures' ages.
struct LogRow {
    id: String,
    log: LogView,
    cosigners: Vec<Cosigner>,
}

/// An alert with the member id of its denial's log, for the link.
struct AlertRow {
    log: String,
    alert: Alert,
}

#[derive(Template)]
#[template(path = "federation.html")]
struct FederationPage {
    f: Frame,
    /// Its logs are in `logs`.
    status: StatusView,
    participants: Vec<Participant>,
    logs: Vec<LogRow>,
    alerts: Vec<AlertRow>,
}

pub(super) async fn page(State(web): State<WebState>, visit: Visit) -> Response {
    let signed = match visit.require(&web, Scope::Read) {
        Ok(signed) => signed,
        Err(refusal) => return refusal.into_response(),
    };
    let mut status = match web.api.status().await {
        Ok(status) => status,
        Err(e) => return failed(signed.frame, e),
    };
    let store = web.api.queries.store.clone();
    let alerts: Vec<Alert> = match blocking(move || Ok(store.alerts()?)).await {
        Ok(alerts) => alerts,
        Err(e) => return failed(signed.frame, e),
    };
    let me = &web.api.queries.me;
    let participants = web
        .api
        .queries
        .roster
        .members
        .iter()
        .map(|m| Participant {
            id: m.id.to_string(),
            name: m.name.clone(),
            country: m.country.as_str().to_owned(),
            member: m.role == Role::Member,
            this_node: m.id.as_str() == me.id,
            connected: status
                .peers
                .iter()
                .any(|p| p.member.as_deref() == Some(m.id.as_str())),
        })
        .collect();
    let now = crate::clock::now();
    let logs = std::mem::take(&mut status.logs)
        .into_iter()
        .map(|log| LogRow {
            id: member_of(&web, &log.origin),
            cosigners: log
                .cosigned_by
                .iter()
                .map(|c| Cosigner {
                    witness: c.witness.clone(),
                    age: age(now.saturating_sub(c.time)),
                })
                .collect(),
            log,
        })
        .collect();
    // Newest first: the officer looks for what changed.
    let alerts = alerts
        .into_iter()
        .rev()
        .map(|alert| AlertRow {
            log: member_of(&web, &alert.denial.origin.to_string()),
            alert,
        })
        .collect();
    html(&FederationPage {
        f: signed.frame,
        status,
        participants,
        logs,
        alerts,
    })
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    f: Frame,
    report: Report,
}

/// The audit of every log this node holds, from headers and checkpoints:
/// what an observer checks without reading contents.
pub(super) async fn audit(State(web): State<WebState>, visit: Visit) -> Response {
    let signed = match visit.require(&web, Scope::Read) {
        Ok(signed) => signed,
        Err(refusal) => return refusal.into_response(),
    };
    match web.api.audit_report(AuditRequest::default()).await {
        Ok(report) => html(&AuditPage {
            f: signed.frame,
            report,
        }),
        Err(e) => failed(signed.frame, e),
    }
}
