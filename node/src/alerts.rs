//! Alerts: a denial that arrived after an application was screened.
//!
//! Every screening of today's denials is kept with its hits for
//! `[screening] rescreen_days` (default 90). A running node looks at every
//! partner's log for new denials and amendments ([`sweep`], every few
//! seconds) and scores each, in its version in force today, against every
//! application kept: a denial that meets one at its threshold and was not
//! among its hits raises an alert, kept in the store, logged, served by
//! `GET /v1/alerts` and shown by `concord alerts`. An officer thus learns of
//! a denial published after the licence was screened.
//!
//! A log is looked at from where the previous look stopped (the cursor is
//! kept in the store), so an alert is raised once, across restarts; the
//! first look at a member's log starts at its head (empty if none is held
//! yet), since entries the node held before are what a screening saw. A denial whose payload has not
//! arrived when its entry is looked at raises nothing.

use std::time::Duration;

use concord_keys::roster::Role;
use concord_protocol::origin::Origin;
use concord_protocol::record::{Country, Kind};
use concord_screening::{Application, PreparedApplication};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::query::{Queries, QueryError, iso_utc, today};
use crate::screening::{EntryKey, Explanation, ScreeningResult, denial_of, in_force};
use crate::store::Store;

/// How often a running node looks for new denials.
const SWEEP_EVERY: Duration = Duration::from_secs(2);

/// A screening kept for re-screening.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Kept {
    pub screened_at: u64,
    pub application: Application,
    pub threshold: f64,
    /// The denials it met so far: its hits, then those of its alerts.
    pub hits: Vec<EntryKey>,
}

/// A denial that met an application screened before it arrived.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Alert {
    pub id: u64,
    /// When it was raised (UTC, ISO 8601).
    pub raised_at: String,
    pub application_reference: String,
    /// When the application was screened (UTC, ISO 8601).
    pub screened_at: String,
    /// The denial's own entry.
    pub denial: EntryKey,
    /// The entry holding the version that met (the denial or an amendment).
    pub version: u64,
    /// ISO 3166-1 alpha-2.
    #[schema(value_type = String)]
    pub denying_state: Country,
    pub score: f64,
    /// Which parties met and how, and what moved the score.
    #[schema(value_type = Object)]
    pub explanation: Explanation,
}

/// Keeps a screening of today's denials for re-screening.
///
/// # Errors
/// [`QueryError::Store`] when it cannot be written.
pub fn keep(store: &Store, result: &ScreeningResult, now: u64) -> Result<(), QueryError> {
    let kept = Kept {
        screened_at: now,
        application: result.application.clone(),
        threshold: result.threshold,
        hits: result.hits.iter().map(|hit| hit.entry.clone()).collect(),
    };
    store.keep_screening(now, &kept)?;
    Ok(())
}

/// Looks at every partner's new entries and raises the alerts they call
/// for, with applications screened in the last `window_days` days.
///
/// # Errors
/// [`QueryError`] when the store cannot be read or written.
pub fn sweep(queries: &Queries, now: u64, window_days: u32) -> Result<Vec<Alert>, QueryError> {
    let store = &queries.store;
    let mut denials = Vec::new();
    let partners = queries
        .roster
        .members
        .iter()
        .filter(|m| m.role == Role::Member && m.origin != queries.me.origin);
    for member in partners {
        let origin = Origin::new(&member.origin)
            .map_err(|e| QueryError::NotFound(format!("{}: {e}", member.origin)))?;
        let head = store.head(&origin)?;
        let Some(from) = store.alert_cursor(&origin)? else {
            store.set_alert_cursor(&origin, head.size)?;
            continue;
        };
        for entry in store.entries(&origin, from, head.size.saturating_sub(from))? {
            let Ok(header) = entry.decode_header() else {
                continue;
            };
            let index = match header.kind {
                Kind::Denial => header.index,
                Kind::DenialAmend => match header.refers_to {
                    Some(refers_to) => refers_to.index,
                    None => continue,
                },
                _ => continue,
            };
            let key = EntryKey {
                origin: origin.clone(),
                index,
            };
            if !denials.contains(&key) {
                denials.push(key);
            }
        }
        store.set_alert_cursor(&origin, head.size)?;
    }
    if denials.is_empty() {
        return Ok(Vec::new());
    }
    let since = now.saturating_sub(u64::from(window_days) * 86_400);
    let mut kept: Vec<(Vec<u8>, Kept)> = store.screenings_since(since)?;
    let day = today(now)?;
    let mut raised = Vec::new();
    for key in denials {
        let Some(version) = in_force(store, &key, day)? else {
            continue;
        };
        for (record_key, screening) in &mut kept {
            if screening.hits.contains(&key) {
                continue;
            }
            let application = PreparedApplication::new(&screening.application);
            let Some(hit) =
                concord_screening::score_denial(&application, key.clone(), &version.prepared)
            else {
                continue;
            };
            if hit.score < screening.threshold {
                continue;
            }
            screening.hits.push(key.clone());
            store.update_screening(record_key, screening)?;
            let denying_state = denial_of(store, &key.origin, version.index)?.denying_state;
            let mut alert = None;
            store.raise_alert(|id| {
                let made = Alert {
                    id,
                    raised_at: iso_utc(now),
                    application_reference: screening.application.reference.to_string(),
                    screened_at: iso_utc(screening.screened_at),
                    denial: key.clone(),
                    version: version.index,
                    denying_state,
                    score: hit.score,
                    explanation: Explanation {
                        parties: hit.parties.clone(),
                        adjustments: hit.adjustments.clone(),
                    },
                };
                alert = Some(made.clone());
                made
            })?;
            raised.extend(alert);
        }
    }
    if !raised.is_empty() {
        store.flush_blocking()?;
    }
    Ok(raised)
}

/// Sweeps once now, so that every partner's log has its cursor before the
/// node answers a screening, then every [`SWEEP_EVERY`] until `shutdown`,
/// logging each alert.
///
/// # Errors
/// [`QueryError`] when the first sweep cannot read or write the store.
pub fn start(
    queries: Queries,
    window_days: u32,
    shutdown: CancellationToken,
) -> Result<(), QueryError> {
    log(sweep(&queries, crate::clock::now(), window_days)?);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(SWEEP_EVERY);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = every.tick() => {}
            }
            let queries = queries.clone();
            let swept = tokio::task::spawn_blocking(move || {
                sweep(&queries, crate::clock::now(), window_days)
            })
            .await;
            match swept {
                Ok(Ok(alerts)) => log(alerts),
                Ok(Err(e)) => tracing::error!(error = %e, "re-screening for alerts failed"),
                Err(e) => tracing::error!(error = %e, "re-screening for alerts stopped"),
            }
        }
    });
    Ok(())
}

fn log(alerts: Vec<Alert>) {
    for alert in alerts {
        tracing::warn!(
            application = %alert.application_reference,
            denial = %format!("{}#{}", alert.denial.origin, alert.denial.index),
            state = %alert.denying_state,
            score = alert.score,
            "alert: a denial that arrived after the application was screened meets it; consult the denying state"
        );
    }
}
