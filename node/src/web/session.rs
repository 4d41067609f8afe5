//! Web sessions: an opaque random id in a cookie, the rest in this
//! process's memory.
//!
//! A session is made when a browser first asks for the sign-in page, so
//! that the sign-in form carries a CSRF token like every other form. Once a
//! token is presented and checked ([`crate::tokens::Tokens::check`]) the
//! session gets a new id (so an id planted before sign-in is worth
//! nothing) and holds the token's id, name and scopes, never its secret;
//! every request checks that the token is still active
//! ([`crate::tokens::Tokens::active`]), so a revoked token ends its
//! sessions at once. Sessions do not survive a restart of the node, which
//! only asks the officer to sign in again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use subtle::ConstantTimeEq;

use crate::screening::ScreeningResult;
use crate::tokens::{Scope, TokenRecord};

/// How long a signed-in session lasts, however active.
const SIGNED_IN_FOR: Duration = Duration::from_secs(12 * 3600);
/// How long a session that never signed in is kept.
const ANONYMOUS_FOR: Duration = Duration::from_secs(3600);
/// Most sessions held; past it the oldest goes, so that a client asking
/// for sign-in pages in a loop cannot exhaust the node's memory.
const MAX_SESSIONS: usize = 10_000;
/// Screening results a session keeps for their page and download.
const MAX_RESULTS: usize = 5;

/// The token a session signed in with, as it stood at the last request.
#[derive(Debug, Clone)]
pub(super) struct Officer {
    pub token_id: String,
    pub name: String,
    pub scopes: Vec<Scope>,
}

impl Officer {
    pub(super) fn of(token: &TokenRecord) -> Officer {
        Officer {
            token_id: token.id.clone(),
            name: token.name.clone(),
            scopes: token.scopes.clone(),
        }
    }
}

/// One browser's session.
#[derive(Debug, Clone)]
pub(super) struct Session {
    /// The value every form of this session carries in its `csrf` field.
    pub csrf: String,
    started: Instant,
    pub officer: Option<Officer>,
    /// The latest screening results, newest last, by their id.
    pub results: Vec<(String, Arc<ScreeningResult>)>,
    /// The fields of the screening form last refused, for its page to show
    /// them again in any language.
    pub draft: Option<Vec<(String, String)>>,
}

impl Session {
    fn expired(&self, now: Instant) -> bool {
        let lasts = match self.officer {
            Some(_) => SIGNED_IN_FOR,
            None => ANONYMOUS_FOR,
        };
        now.duration_since(self.started) > lasts
    }

    /// Whether `presented` is this session's CSRF token, compared in
    /// constant time.
    pub(super) fn csrf_matches(&self, presented: &str) -> bool {
        !presented.is_empty() && bool::from(self.csrf.as_bytes().ct_eq(presented.as_bytes()))
    }
}

/// Every session of the node, by id.
#[derive(Clone, Default)]
pub(super) struct Sessions(Arc<Mutex<HashMap<String, Session>>>);

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The session `id`, unless it ended.
    pub(super) fn get(&self, id: &str) -> Option<Session> {
        let mut sessions = self.lock();
        match sessions.get(id) {
            Some(session) if session.expired(Instant::now()) => {
                sessions.remove(id);
                None
            }
            other => other.cloned(),
        }
    }

    /// A new session for `officer` (none before sign-in); its id.
    ///
    /// # Errors
    /// The OS gave no randomness.
    pub(super) fn start(&self, officer: Option<Officer>) -> anyhow::Result<String> {
        let id = crate::tokens::random_hex(32)?;
        let session = Session {
            csrf: crate::tokens::random_hex(32)?,
            started: Instant::now(),
            officer,
            results: Vec::new(),
            draft: None,
        };
        let mut sessions = self.lock();
        let now = Instant::now();
        sessions.retain(|_, s| !s.expired(now));
        if sessions.len() >= MAX_SESSIONS {
            let oldest = sessions
                .iter()
                .min_by_key(|(_, s)| s.started)
                .map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(id.clone(), session);
        Ok(id)
    }

    pub(super) fn end(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Keeps the officer's token as it is now (its scopes may have changed).
    pub(super) fn refresh(&self, id: &str, officer: Officer) {
        if let Some(session) = self.lock().get_mut(id) {
            session.officer = Some(officer);
        }
    }

    /// Keeps `result` in session `id`; the id of the result.
    ///
    /// # Errors
    /// The OS gave no randomness.
    pub(super) fn keep_result(&self, id: &str, result: ScreeningResult) -> anyhow::Result<String> {
        let result_id = crate::tokens::random_hex(8)?;
        if let Some(session) = self.lock().get_mut(id) {
            session.results.push((result_id.clone(), Arc::new(result)));
            if session.results.len() > MAX_RESULTS {
                session.results.remove(0);
            }
        }
        Ok(result_id)
    }

    /// Keeps `fields`, a refused screening form, as session `id`'s draft.
    pub(super) fn keep_draft(&self, id: &str, fields: Vec<(String, String)>) {
        if let Some(session) = self.lock().get_mut(id) {
            session.draft = Some(fields);
        }
    }
}

/// The value of cookie `name` in a `Cookie` header's text.
pub(super) fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then_some(value)
    })
}
