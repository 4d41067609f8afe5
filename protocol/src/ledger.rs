//! The ledger's rules: what may follow a log's state, where a denial
//! stands, who may read a payload, and which index terms an entry posts.
//!
//! This module implements the rules of PROTOCOL.md that depend on more
//! than one entry's bytes:
//!
//! - §3.2 and §7: entry `index` of `origin` is signed by the key the roster
//!   authorises for that origin and index ([`authorised_key`]);
//! - §8: a receiver stores entries in index order ([`check_position`]);
//! - §6: nothing is appended to a log, the own one included, while a
//!   proof that it equivocated is held and no operator cleared it
//!   ([`check_open`]);
//! - §3.1 `time`: a log's times never decrease, and none runs more than
//!   [`MAX_TIME_AHEAD`] seconds ahead of the verifier's clock
//!   ([`check_time`], part of [`check_follows`]);
//! - §3.3: a member publishes only in its own state's name, the roster's
//!   country of the log's member ([`publisher_country`], [`check_names`]);
//! - §3.1 `refers_to`: an amendment or revocation refers to an earlier
//!   denial of the same log, by index and leaf hash, and nothing follows a
//!   revocation ([`check_reference`]);
//! - the denial status that amendments and revocations move
//!   ([`DenialStatus`]), the validity the latest record held gives it,
//!   whichever order headers and payloads arrive in ([`payload_update`]),
//!   and its expiry on a given date;
//! - §3.3 consultations: a request names as its denying state the country
//!   of the denial's log ([`check_denying_state`]), a reply comes from the
//!   request's denying state, and a log replies once per request
//!   ([`check_reply`], reading other logs through [`Consultations`]);
//! - §3.1 `payload.visibility`: who may read a payload
//!   ([`Visibility::may_read`]);
//! - the terms an entry is indexed under for search and screening
//!   ([`postings`]), from its kind and its record's `IndexTerms`.
//!
//! Every path that writes or judges a log — the own log's writer, replica
//! ingest, the audits of a store and of a bundle — asks these functions,
//! so that each refuses the same entry for the same [`LedgerError`]. The
//! log's state is read through [`LogState`], so the rules run the same
//! over a store and over an audit's memory. Time comes in as an argument:
//! `now`, the verifier's clock in seconds since the Unix epoch.

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::entry::{EntryHeader, EntryRef, Visibility};
use crate::equivocation::{KeyLookup, KeyRefusal};
use crate::merkle::Hash;
use crate::origin::Origin;
use crate::record::{Country, Date, EntryRef as RecordRef, IndexTerms, Kind, Record};

/// How many seconds an entry's `time` may be ahead of a verifier's clock
/// (PROTOCOL.md §3.1): ten minutes, far beyond the skew of clocks kept by
/// NTP, so that only a broken clock or a lie is refused, and short enough
/// that no entry can claim a time long after it was shown to others.
pub const MAX_TIME_AHEAD: u64 = 600;

/// Why an entry may not follow a log's state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("origin {found} is not the log {expected}")]
    WrongLog { expected: Origin, found: Origin },
    #[error("index {found} is not the log's next index {expected}")]
    NotNext { expected: u64, found: u64 },
    #[error("{0}")]
    Key(#[from] KeyRefusal),
    #[error(
        "refers_to.index {index}: a {kind} must refer to an earlier denial of the same log, by its leaf hash"
    )]
    BadReference { kind: Kind, index: u64 },
    #[error("refers_to.index {0}: the denial was revoked and can no longer be amended or revoked")]
    AlreadyRevoked(u64),
    #[error(
        "log {0} is quarantined after equivocation; nothing of it is accepted until an operator clears it"
    )]
    Quarantined(Origin),
    #[error(
        "this node's own log {0} is quarantined after equivocation: a proof holds two \
         different entries or checkpoints it signed for one position, and its peers accept \
         nothing more of it; an operator must investigate (`concord status`, `concord audit`), \
         make this node hold the history the federation verified, and only then lift the \
         quarantine with `concord quarantine clear --log <id> --operator <name> --reason <why>`"
    )]
    OwnLogQuarantined(Origin),
    /// A field that names the publishing state names another one.
    #[error("{field} {found} is not this member's country \"{country}\"")]
    ForeignState {
        /// The field's path: `denying_state`, `payload.visibility.states`, ...
        field: &'static str,
        /// What it names, as JSON.
        found: String,
        country: Country,
    },
    #[error("time {time} is before the previous entry's time {previous}")]
    TimeBackwards { time: u64, previous: u64 },
    #[error(
        "time {time} is more than {MAX_TIME_AHEAD} seconds ahead of this verifier's clock ({now})"
    )]
    TimeAhead { time: u64, now: u64 },
    /// A consultation request names another denying state than the
    /// roster's country of the denial's log.
    #[error(
        "denying_state \"{found}\" is not the country \"{country}\" of the denial's log {origin}"
    )]
    DenyingStateMismatch {
        origin: Origin,
        found: Country,
        country: Country,
    },
    /// A consultation request is about an entry of no member's log.
    #[error("denial.origin {0} is no member's log")]
    DenialLogUnknown(Origin),
    /// A consultation reply from a log whose state is not the request's
    /// denying state.
    #[error(
        "request {request}: only its denying state \"{denying_state}\" may reply, not \"{country}\""
    )]
    ReplyFromWrongState {
        request: RecordRef,
        denying_state: Country,
        country: Country,
    },
    /// A consultation reply that names an entry held here that is no
    /// consultation request.
    #[error("request {0} is not a consultation.request entry")]
    NotARequest(RecordRef),
    /// A second consultation reply of one log to one request.
    #[error("request {request} was already answered by entry {index} of this log")]
    AlreadyReplied { request: RecordRef, index: u64 },
}

impl LedgerError {
    /// A stable code naming the rule broken, as audit findings report it.
    pub fn code(&self) -> &'static str {
        match self {
            Self::WrongLog { .. } | Self::NotNext { .. } => "header_position",
            Self::Key(_) => "unauthorised_key",
            Self::BadReference { .. } => "bad_reference",
            Self::AlreadyRevoked(_) => "already_revoked",
            Self::Quarantined(_) => "quarantined",
            Self::OwnLogQuarantined(_) => "own_log_quarantined",
            Self::ForeignState { .. } => "foreign_state",
            Self::TimeBackwards { .. } => "time_backwards",
            Self::TimeAhead { .. } => "time_ahead",
            Self::DenyingStateMismatch { .. } | Self::DenialLogUnknown(_) => {
                "consultation_denying_state"
            }
            Self::ReplyFromWrongState { .. } => "consultation_wrong_state",
            Self::NotARequest(_) => "consultation_not_a_request",
            Self::AlreadyReplied { .. } => "consultation_replied",
        }
    }
}

/// What a participant may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Publishes its own log, approves rosters, witnesses.
    Member,
    /// Replicates, audits and witnesses; publishes nothing, approves nothing.
    Observer,
}

impl Visibility {
    /// Whether a participant of `role` from `country` may read a payload of
    /// this visibility (PROTOCOL.md §3.1). Headers are readable by all.
    pub fn may_read(&self, role: Role, country: &Country) -> bool {
        match self {
            Self::Public | Self::Federation => true,
            Self::Members => role == Role::Member,
            Self::Bilateral { states } => role == Role::Member && states.contains(country),
        }
    }
}

/// The key that must have signed the entry of `header`: the one the roster
/// authorises for its origin and index (PROTOCOL.md §3.2, §7).
///
/// # Errors
/// [`LedgerError::Key`] when the roster authorises none there.
pub fn authorised_key(
    roster: &impl KeyLookup,
    header: &EntryHeader,
) -> Result<VerifyingKey, LedgerError> {
    Ok(roster.entry_key(&header.origin, header.index)?)
}

/// Checks that `header` is of the log `origin` at its next index, `next`.
///
/// # Errors
/// [`LedgerError::WrongLog`] or [`LedgerError::NotNext`].
pub fn check_position(origin: &Origin, next: u64, header: &EntryHeader) -> Result<(), LedgerError> {
    if &header.origin != origin {
        return Err(LedgerError::WrongLog {
            expected: origin.clone(),
            found: header.origin.clone(),
        });
    }
    if header.index != next {
        return Err(LedgerError::NotNext {
            expected: next,
            found: header.index,
        });
    }
    Ok(())
}

/// Who appends to a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appender {
    /// The member's own writer, which signs what it appends.
    Own,
    /// A replica of another member's log (gossip, sync, import).
    Replica,
}

/// Whether a quarantine is held on a log: a node holds a valid proof that
/// the log equivocated, and no operator has cleared it since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quarantine {
    Clear,
    Held,
}

/// Checks that `origin`'s log may grow (PROTOCOL.md §6). A quarantined log
/// takes nothing more: a replica refuses the offender's entries and
/// checkpoints, and the offender's own writer signs nothing more, since
/// every peer holding the proof would refuse it.
///
/// # Errors
/// [`LedgerError::Quarantined`], or [`LedgerError::OwnLogQuarantined`]
/// for the own writer, which says what the operator must do.
pub fn check_open(
    origin: &Origin,
    quarantine: Quarantine,
    appender: Appender,
) -> Result<(), LedgerError> {
    match (quarantine, appender) {
        (Quarantine::Clear, _) => Ok(()),
        (Quarantine::Held, Appender::Own) => Err(LedgerError::OwnLogQuarantined(origin.clone())),
        (Quarantine::Held, Appender::Replica) => Err(LedgerError::Quarantined(origin.clone())),
    }
}

/// Checks the `time` of `header`, the entry after one stamped `previous`
/// (none for a log's first entry), against a verifier whose clock reads
/// `now`: never before the previous entry, never more than
/// [`MAX_TIME_AHEAD`] seconds after `now`.
///
/// # Errors
/// [`LedgerError::TimeBackwards`] or [`LedgerError::TimeAhead`].
pub fn check_time(
    previous: Option<u64>,
    header: &EntryHeader,
    now: u64,
) -> Result<(), LedgerError> {
    let time = header.time;
    if let Some(previous) = previous.filter(|&previous| time < previous) {
        return Err(LedgerError::TimeBackwards { time, previous });
    }
    if time > now.saturating_add(MAX_TIME_AHEAD) {
        return Err(LedgerError::TimeAhead { time, now });
    }
    Ok(())
}

/// The state the log `origin` publishes in the name of: its member's
/// country in the roster.
///
/// # Errors
/// [`LedgerError::Key`] when `origin` is no member's log.
pub fn publisher_country(roster: &impl KeyLookup, origin: &Origin) -> Result<Country, LedgerError> {
    Ok(roster.member_country(origin)?)
}

/// Checks that an entry of a log whose member is of `country` publishes in
/// that state's name only: a `bilateral` visibility names it, and so does
/// its record (`record`, when the payload is held): a denial's
/// `denying_state` (an amendment's too, so that it cannot move a denial to
/// another state), a notice's `issuing_state`, a consultation request's
/// `requesting_state`. Other records name no publishing state.
///
/// # Errors
/// [`LedgerError::ForeignState`] naming the first field that names another
/// state.
pub fn check_names(
    country: &Country,
    header: &EntryHeader,
    record: Option<&Record>,
) -> Result<(), LedgerError> {
    let foreign = |field, found: String| LedgerError::ForeignState {
        field,
        found,
        country: *country,
    };
    if let Visibility::Bilateral { states } = &header.payload.visibility
        && !states.contains(country)
    {
        let found = format!("[\"{}\",\"{}\"]", states[0], states[1]);
        return Err(foreign("payload.visibility.states", found));
    }
    let named = match record {
        Some(Record::Denial(denial)) => Some(("denying_state", denial.denying_state)),
        Some(Record::DenialAmend(amend)) => {
            Some(("denial.denying_state", amend.denial.denying_state))
        }
        Some(Record::Notice(notice)) => Some(("issuing_state", notice.issuing_state)),
        Some(Record::ConsultationRequest(request)) => {
            Some(("requesting_state", request.requesting_state))
        }
        Some(
            Record::DenialRevoke(_)
            | Record::ConsultationReply(_)
            | Record::RosterUpdate(_)
            | Record::KeyRotate(_)
            | Record::KeyRevoke(_),
        )
        | None => None,
    };
    match named {
        Some((field, state)) if state != *country => Err(foreign(field, format!("\"{state}\""))),
        _ => Ok(()),
    }
}

/// Checks that a consultation request names as its `denying_state` the
/// roster country of the log its `denial` is in: a state consults the state
/// that denied, never a third one. Other records pass. It needs the roster
/// only, so every verifier that holds the payload checks it.
///
/// # Errors
/// [`LedgerError::DenyingStateMismatch`], or
/// [`LedgerError::DenialLogUnknown`] when the denial's origin is no
/// member's log.
pub fn check_denying_state(roster: &impl KeyLookup, record: &Record) -> Result<(), LedgerError> {
    let Record::ConsultationRequest(request) = record else {
        return Ok(());
    };
    let origin = &request.denial.origin;
    let country = roster
        .member_country(origin)
        .map_err(|_| LedgerError::DenialLogUnknown(origin.clone()))?;
    if request.denying_state != country {
        return Err(LedgerError::DenyingStateMismatch {
            origin: origin.clone(),
            found: request.denying_state,
            country,
        });
    }
    Ok(())
}

/// A consultation request entry as a verifier holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeldRequest {
    /// No entry at that position is held: nothing can be checked.
    Unknown,
    /// The entry held there is of another kind.
    NotARequest,
    /// A request whose payload is not held (or not readable here): its
    /// denying state is unknown.
    Withheld,
    /// A request, payload held.
    Request { denying_state: Country },
}

/// What the reply rules read: entries of other logs as this node holds
/// them, and the replies already in the log being appended to.
pub trait Consultations {
    /// Why the state could not be read (a storage failure, never a rule).
    type Error;
    /// The entry `request` names, as held.
    ///
    /// # Errors
    /// The state cannot be read.
    fn request(&self, request: &RecordRef) -> Result<HeldRequest, Self::Error>;
    /// The first entry of the log being appended to, below index
    /// `before`, that replies to `request`, among those whose payload is
    /// held.
    ///
    /// # Errors
    /// The state cannot be read.
    fn replied(&self, request: &RecordRef, before: u64) -> Result<Option<u64>, Self::Error>;
}

/// Checks that a log of a member of `country` may hold a consultation
/// reply to `request` at `index`: no earlier entry of the log replies to
/// it (the first reply counts, whichever order a verifier received the
/// payloads in), and, when the
/// request is held, it is a request whose `denying_state` is `country`. A
/// verifier without the request's payload (an observer, a third state:
/// requests are bilateral) cannot judge the state, and does not.
///
/// # Errors
/// The outer error when `state` cannot be read; the inner one is
/// [`LedgerError::AlreadyReplied`], [`LedgerError::NotARequest`] or
/// [`LedgerError::ReplyFromWrongState`].
pub fn check_reply<C: Consultations>(
    state: &C,
    country: &Country,
    request: &RecordRef,
    index: u64,
) -> Result<Result<(), LedgerError>, C::Error> {
    if let Some(earlier) = state.replied(request, index)? {
        return Ok(Err(LedgerError::AlreadyReplied {
            request: request.clone(),
            index: earlier,
        }));
    }
    Ok(match state.request(request)? {
        HeldRequest::Unknown | HeldRequest::Withheld => Ok(()),
        HeldRequest::NotARequest => Err(LedgerError::NotARequest(request.clone())),
        HeldRequest::Request { denying_state } if denying_state != *country => {
            Err(LedgerError::ReplyFromWrongState {
                request: request.clone(),
                denying_state,
                country: *country,
            })
        }
        HeldRequest::Request { .. } => Ok(()),
    })
}

/// What the rules read of a log: the entries it already holds.
pub trait LogState {
    /// Why the state could not be read (a storage failure, never a rule).
    type Error;
    /// Entries the log holds, which is the index of the next one.
    fn size(&self) -> u64;
    /// The `time` of the log's last entry; `None` when it holds none.
    fn last_time(&self) -> Option<u64>;
    /// The leaf hash of entry `index`, below [`LogState::size`].
    ///
    /// # Errors
    /// The state cannot be read.
    fn leaf_hash(&self, index: u64) -> Result<Hash, Self::Error>;
    /// Where the denial at `index` stands; `None` when that entry is not a
    /// denial. Called only below [`LogState::size`].
    ///
    /// # Errors
    /// The state cannot be read.
    fn denial_state(&self, index: u64) -> Result<Option<DenialState>, Self::Error>;
}

/// Checks that `header`, already at its position, may follow `log` for a
/// verifier whose clock reads `now`: its time is as [`check_time`] says,
/// and an amendment or revocation refers to an earlier denial of the log,
/// by its leaf hash, that was not revoked.
///
/// # Errors
/// The outer error when `log` cannot be read; the inner one names the rule
/// broken.
pub fn check_follows<L: LogState>(
    log: &L,
    header: &EntryHeader,
    now: u64,
) -> Result<Result<(), LedgerError>, L::Error> {
    if let Err(refused) = check_time(log.last_time(), header, now) {
        return Ok(Err(refused));
    }
    match &header.refers_to {
        None => Ok(Ok(())),
        Some(reference) => check_reference(log, header.kind, reference),
    }
}

/// Checks that an entry of `kind` appended next to `log` may refer to
/// `reference`.
///
/// # Errors
/// As [`check_follows`].
pub fn check_reference<L: LogState>(
    log: &L,
    kind: Kind,
    reference: &EntryRef,
) -> Result<Result<(), LedgerError>, L::Error> {
    let bad = LedgerError::BadReference {
        kind,
        index: reference.index,
    };
    if reference.index >= log.size() {
        return Ok(Err(bad));
    }
    if log.leaf_hash(reference.index)? != reference.leaf_hash.0 {
        return Ok(Err(bad));
    }
    Ok(match log.denial_state(reference.index)? {
        None => Err(bad),
        Some(DenialState::Revoked) => Err(LedgerError::AlreadyRevoked(reference.index)),
        Some(_) => Ok(()),
    })
}

/// The reference an entry of `kind` appended next to `log` makes to entry
/// `index`, checked as [`check_reference`] does.
///
/// # Errors
/// As [`check_follows`].
pub fn refer_to<L: LogState>(
    log: &L,
    kind: Kind,
    index: u64,
) -> Result<Result<EntryRef, LedgerError>, L::Error> {
    if index >= log.size() {
        return Ok(Err(LedgerError::BadReference { kind, index }));
    }
    let reference = EntryRef {
        index,
        leaf_hash: crate::entry::Digest256(log.leaf_hash(index)?),
    };
    Ok(check_reference(log, kind, &reference)?.map(|()| reference))
}

/// Where a denial stands, as its log says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DenialState {
    Active,
    Amended,
    Revoked,
    /// Never stored: derived from `valid_until` and the reader's date.
    Expired,
}

impl DenialState {
    /// The state a denial is in after an entry of `kind` that refers to it.
    pub fn after(self, kind: Kind) -> Self {
        match kind {
            Kind::DenialRevoke => Self::Revoked,
            Kind::DenialAmend => Self::Amended,
            _ => self,
        }
    }
}

/// Status of one denial, kept under the index of the original denial entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DenialStatus {
    pub state: DenialState,
    /// The entry with the denial's current content (the last amendment), or
    /// the revocation.
    pub latest_index: u64,
    pub valid_until: Option<String>,
    /// Every amendment and revocation of the denial, in log order.
    #[serde(default)]
    pub history: Vec<u64>,
    /// The entry (the denial or an amendment) whose record gave
    /// `valid_until`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until_index: Option<u64>,
}

impl DenialStatus {
    /// The entry whose record gave `valid_until`. A status stored before
    /// this was kept says only that it was no later than `latest_index`;
    /// taking that bound keeps a late payload of an earlier entry from
    /// replacing it.
    fn validity_source(&self) -> Option<u64> {
        self.valid_until_index
            .or(self.valid_until.is_some().then_some(self.latest_index))
    }

    /// Takes the validity of the record of entry `index` of the denial's
    /// chain (the denial or an amendment), unless the record of a later
    /// entry of the chain already gave it: the validity is always the
    /// latest record held, whichever order headers and payloads came in.
    /// Returns whether it changed the status.
    fn take_validity(&mut self, index: u64, terms: &IndexTerms) -> bool {
        let Some(until) = &terms.valid_until else {
            return false;
        };
        if self.validity_source().is_some_and(|source| source > index) {
            return false;
        }
        self.valid_until = Some(until.to_string());
        self.valid_until_index = Some(index);
        true
    }

    /// The state as of `today`: an active or amended denial past its validity
    /// is expired.
    pub fn state_on(&self, today: &Date) -> DenialState {
        let expired = self
            .valid_until
            .as_deref()
            .and_then(|d| Date::parse(d).ok())
            .is_some_and(|until| &until < today);
        match self.state {
            DenialState::Active | DenialState::Amended if expired => DenialState::Expired,
            other => other,
        }
    }
}

/// How an entry changes the status of a denial.
#[derive(Debug, Clone, Copy)]
enum Change {
    /// A denial opens, active.
    Open,
    /// An amendment or revocation of this kind moves it.
    Follow(Kind),
}

impl Change {
    /// The denial an entry appended at `index` changes, and how.
    fn of(header: &EntryHeader, index: u64) -> Option<(u64, Self)> {
        match (header.kind, header.refers_to) {
            (Kind::Denial, _) => Some((index, Self::Open)),
            (Kind::DenialAmend | Kind::DenialRevoke, Some(reference)) => {
                Some((reference.index, Self::Follow(header.kind)))
            }
            _ => None,
        }
    }

    /// The state it leaves a denial in that was in `current`.
    fn state(self, current: Option<DenialState>) -> Option<DenialState> {
        match self {
            Self::Open => Some(DenialState::Active),
            Self::Follow(kind) => current.map(|state| state.after(kind)),
        }
    }
}

/// The status an entry, appended at `index` after [`check_follows`] passed,
/// gives a denial: `(index of the denial, its new status)`, or `None` when it
/// changes none. `terms` are the entry's record's, when its payload is held;
/// the state follows the headers alone, so that a node without the payload
/// (an observer) still knows which denials are revoked, but validity needs
/// the payload. `current` reads the status of the denial at an index.
///
/// # Errors
/// What `current` returns.
pub fn denial_update<E>(
    header: &EntryHeader,
    index: u64,
    terms: Option<&IndexTerms>,
    current: impl FnOnce(u64) -> Result<Option<DenialStatus>, E>,
) -> Result<Option<(u64, DenialStatus)>, E> {
    let Some((denial, change)) = Change::of(header, index) else {
        return Ok(None);
    };
    let current = match change {
        Change::Open => None,
        Change::Follow(_) => current(denial)?,
    };
    let Some(state) = change.state(current.as_ref().map(|s| s.state)) else {
        return Ok(None);
    };
    let mut status = current.unwrap_or(DenialStatus {
        state,
        latest_index: index,
        valid_until: None,
        history: Vec::new(),
        valid_until_index: None,
    });
    if let Change::Follow(_) = change {
        status.history.push(index);
    }
    status.state = state;
    status.latest_index = index;
    // A revocation ends the denial as it stands; an amendment without a
    // record held leaves its validity as it was, until its payload comes
    // ([`payload_update`]).
    if header.kind != Kind::DenialRevoke
        && let Some(terms) = terms
    {
        status.take_validity(index, terms);
    }
    Ok(Some((denial, status)))
}

/// The status the payload of a stored entry gives a denial when it came
/// after the entry's header (gossip and sync carry a header without the
/// payload its receiver may not read, or that its sender does not hold):
/// `(index of the denial, its new status)`, or `None` when it changes
/// none. `terms` are the payload's record's. The state and history
/// followed the header already; the record of a denial or an amendment
/// gives the validity unless a later entry's record already did, so a
/// status ends the same as the origin's, whichever order headers and
/// payloads arrived in. `current` reads the status of the denial at an
/// index.
///
/// # Errors
/// What `current` returns.
pub fn payload_update<E>(
    header: &EntryHeader,
    index: u64,
    terms: &IndexTerms,
    current: impl FnOnce(u64) -> Result<Option<DenialStatus>, E>,
) -> Result<Option<(u64, DenialStatus)>, E> {
    let Some((denial, change)) = Change::of(header, index) else {
        return Ok(None);
    };
    if let Change::Follow(Kind::DenialRevoke) = change {
        return Ok(None);
    }
    let Some(mut status) = current(denial)? else {
        return Ok(None);
    };
    Ok(status
        .take_validity(index, terms)
        .then_some((denial, status)))
}

/// A log's state held in memory, as an audit replays the log: each entry's
/// leaf hash and, for a denial, where it stands.
#[derive(Debug, Default)]
pub struct Replay {
    entries: Vec<(Hash, Option<DenialState>)>,
    /// The time of the last entry that followed the log by the rules.
    last_time: Option<u64>,
}

impl Replay {
    /// Appends the next entry, whose leaf hash is `leaf`; `header` is absent
    /// when it did not decode or is not at its position, and then the entry
    /// counts for its leaf only. An entry that may not follow the log is
    /// kept the same way, and the rule it broke returned; the times of the
    /// entries after it are judged against the last one that followed.
    /// `now` is the verifier's clock.
    ///
    /// # Errors
    /// The [`LedgerError`] of [`check_follows`].
    pub fn push(
        &mut self,
        leaf: Hash,
        header: Option<&EntryHeader>,
        now: u64,
    ) -> Result<(), LedgerError> {
        let index = self.size();
        let result = match header {
            Some(header) => check_follows(self, header, now).unwrap_or_else(|never| match never {}),
            None => Ok(()),
        };
        self.entries.push((leaf, None));
        if let (Ok(()), Some(header)) = (&result, header) {
            self.last_time = Some(header.time);
            if let Some((denial, change)) = Change::of(header, index) {
                let slot = &mut self.entries[usize::try_from(denial).expect("below the size")].1;
                *slot = change.state(*slot);
            }
        }
        result
    }
}

impl LogState for Replay {
    type Error = std::convert::Infallible;

    fn size(&self) -> u64 {
        self.entries.len() as u64
    }

    fn last_time(&self) -> Option<u64> {
        self.last_time
    }

    fn leaf_hash(&self, index: u64) -> Result<Hash, Self::Error> {
        Ok(self.entries[usize::try_from(index).expect("below the size")].0)
    }

    fn denial_state(&self, index: u64) -> Result<Option<DenialState>, Self::Error> {
        Ok(self.entries[usize::try_from(index).expect("below the size")].1)
    }
}

/// An index of search and screening an entry is posted under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Term {
    Kind,
    Party,
    Country,
    ControlEntry,
    HsCode,
    /// The denial a consultation request is about, `origin#index`.
    ConsultedDenial,
    /// The request a consultation reply answers, `origin#index`.
    AnsweredRequest,
}

/// Calls `post` with every term the entry of `kind` is indexed under: its
/// kind always, and with its record's `terms` (when the payload is held)
/// normalised party names, countries, control entries and HS code digits.
pub fn postings(kind: Kind, terms: Option<&IndexTerms>, mut post: impl FnMut(Term, &str)) {
    post(Term::Kind, kind.as_str());
    if let Some(terms) = terms {
        record_postings(terms, post);
    }
}

/// Calls `post` with every term a record's `terms` post an entry under:
/// what [`postings`] adds to the entry's kind once its payload is held.
pub fn record_postings(terms: &IndexTerms, mut post: impl FnMut(Term, &str)) {
    for name in &terms.party_names {
        post(Term::Party, name);
    }
    for country in &terms.countries {
        post(Term::Country, country.as_str());
    }
    for control in &terms.control_entries {
        post(Term::ControlEntry, control.as_str());
    }
    for hs in &terms.hs_codes {
        post(Term::HsCode, &hs.digits());
    }
    if let Some(denial) = &terms.consulted_denial {
        post(Term::ConsultedDenial, &denial.to_string());
    }
    if let Some(request) = &terms.answered_request {
        post(Term::AnsweredRequest, &request.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{Digest256, KeyId, PayloadCommitment};

    /// The verifier's clock in these tests.
    const NOW: u64 = 1_763_935_200;

    fn origin(id: &str) -> Origin {
        Origin::for_member("pacific-alliance", id).expect("origin")
    }

    fn header(index: u64, kind: Kind, refers_to: Option<EntryRef>) -> EntryHeader {
        EntryHeader {
            index,
            key_id: KeyId([0; 4]),
            kind,
            origin: origin("mx"),
            payload: PayloadCommitment {
                sha256: Digest256([0; 32]),
                size: 0,
                visibility: Visibility::Federation,
            },
            refers_to,
            time: 0,
            v: 1,
        }
    }

    /// The leaf hash the replayed logs below give entry `index`.
    fn leaf(index: u64) -> Hash {
        [u8::try_from(index).expect("small") + 1; 32]
    }

    fn reference(index: u64) -> Option<EntryRef> {
        Some(EntryRef {
            index,
            leaf_hash: Digest256(leaf(index)),
        })
    }

    /// Replays `kinds` (each with the index it refers to) and returns what
    /// each push answered, then the state of every entry.
    fn replay(
        kinds: &[(Kind, Option<u64>)],
    ) -> (Vec<Result<(), LedgerError>>, Vec<Option<DenialState>>) {
        let mut log = Replay::default();
        let results = (0..)
            .zip(kinds)
            .map(|(index, (kind, refers_to))| {
                let header = header(index, *kind, refers_to.and_then(reference));
                log.push(leaf(index), Some(&header), NOW)
            })
            .collect();
        let states = log.entries.iter().map(|(_, state)| *state).collect();
        (results, states)
    }

    fn check(
        kinds: &[(Kind, Option<u64>)],
        expected: (Vec<Result<(), LedgerError>>, Vec<Option<DenialState>>),
    ) {
        assert_eq!(replay(kinds), expected, "{kinds:?}");
    }

    #[test]
    fn amendments_and_revocations_follow_an_earlier_denial_until_it_is_revoked() {
        use DenialState::{Active, Amended, Revoked};
        use Kind::{Denial, DenialAmend as Amend, DenialRevoke as Revoke, Notice};
        let bad = |kind, index| Err(LedgerError::BadReference { kind, index });
        check(
            &[(Denial, None), (Amend, Some(0)), (Amend, Some(0))],
            (vec![Ok(()); 3], vec![Some(Amended), None, None]),
        );
        check(
            &[(Denial, None), (Revoke, Some(0)), (Amend, Some(0))],
            (
                vec![Ok(()), Ok(()), Err(LedgerError::AlreadyRevoked(0))],
                vec![Some(Revoked), None, None],
            ),
        );
        check(
            &[(Denial, None), (Revoke, Some(0)), (Revoke, Some(0))],
            (
                vec![Ok(()), Ok(()), Err(LedgerError::AlreadyRevoked(0))],
                vec![Some(Revoked), None, None],
            ),
        );
        // Only a denial, only an earlier entry.
        check(
            &[(Notice, None), (Amend, Some(0)), (Revoke, Some(2))],
            (
                vec![Ok(()), bad(Amend, 0), bad(Revoke, 2)],
                vec![None, None, None],
            ),
        );
        // An amendment is not a denial to amend.
        check(
            &[
                (Denial, None),
                (Amend, Some(0)),
                (Amend, Some(1)),
                (Denial, None),
            ],
            (
                vec![Ok(()), Ok(()), bad(Amend, 1), Ok(())],
                vec![Some(Amended), None, None, Some(Active)],
            ),
        );
    }

    #[test]
    fn a_reference_must_carry_the_denial_leaf_hash() {
        let mut log = Replay::default();
        log.push(leaf(0), Some(&header(0, Kind::Denial, None)), NOW)
            .expect("a denial");
        let wrong = EntryRef {
            index: 0,
            leaf_hash: Digest256(leaf(5)),
        };
        let amend = header(1, Kind::DenialAmend, Some(wrong));
        assert_eq!(
            log.push(leaf(1), Some(&amend), NOW),
            Err(LedgerError::BadReference {
                kind: Kind::DenialAmend,
                index: 0
            })
        );
        assert_eq!(
            refer_to(&log, Kind::DenialRevoke, 0),
            Ok(Ok(reference(0).expect("some")))
        );
        assert_eq!(
            refer_to(&log, Kind::DenialRevoke, 2),
            Ok(Err(LedgerError::BadReference {
                kind: Kind::DenialRevoke,
                index: 2
            }))
        );
    }

    #[test]
    fn an_entry_follows_only_at_its_log_next_index() {
        let check = |header: EntryHeader, expected: Result<(), LedgerError>| {
            assert_eq!(check_position(&origin("mx"), 3, &header), expected);
        };
        check(header(3, Kind::Notice, None), Ok(()));
        check(
            header(4, Kind::Notice, None),
            Err(LedgerError::NotNext {
                expected: 3,
                found: 4,
            }),
        );
        let mut other = header(3, Kind::Notice, None);
        other.origin = origin("cl");
        check(
            other,
            Err(LedgerError::WrongLog {
                expected: origin("mx"),
                found: origin("cl"),
            }),
        );
    }

    #[test]
    fn a_quarantined_log_takes_nothing_and_its_own_writer_is_told_why() {
        let cl = origin("cl");
        let check = |quarantine, appender, expected: Result<(), LedgerError>| {
            assert_eq!(
                check_open(&cl, quarantine, appender),
                expected,
                "{quarantine:?} {appender:?}"
            );
        };
        check(Quarantine::Clear, Appender::Own, Ok(()));
        check(Quarantine::Clear, Appender::Replica, Ok(()));
        check(
            Quarantine::Held,
            Appender::Own,
            Err(LedgerError::OwnLogQuarantined(cl.clone())),
        );
        check(
            Quarantine::Held,
            Appender::Replica,
            Err(LedgerError::Quarantined(cl.clone())),
        );
        // The own writer's refusal says what the operator must do; the
        // replica's has the code an audit reports a quarantine under.
        let own = LedgerError::OwnLogQuarantined(cl.clone()).to_string();
        assert!(own.contains("concord quarantine clear"), "{own}");
        assert_eq!(LedgerError::Quarantined(cl).code(), "quarantined");
    }

    #[test]
    fn times_never_decrease_nor_run_ahead_of_the_verifier_clock() {
        let at = |time| EntryHeader {
            time,
            ..header(0, Kind::Notice, None)
        };
        let check = |previous: Option<u64>, time: u64, expected: Result<(), LedgerError>| {
            assert_eq!(
                check_time(previous, &at(time), NOW),
                expected,
                "{previous:?} then {time}"
            );
        };
        let ahead = |time| Err(LedgerError::TimeAhead { time, now: NOW });
        check(None, 0, Ok(()));
        check(None, NOW, Ok(()));
        check(Some(NOW - 5), NOW - 5, Ok(()));
        check(Some(NOW - 5), NOW - 4, Ok(()));
        check(
            Some(NOW - 5),
            NOW - 6,
            Err(LedgerError::TimeBackwards {
                time: NOW - 6,
                previous: NOW - 5,
            }),
        );
        check(
            Some(NOW),
            0,
            Err(LedgerError::TimeBackwards {
                time: 0,
                previous: NOW,
            }),
        );
        check(None, NOW + MAX_TIME_AHEAD, Ok(()));
        check(
            None,
            NOW + MAX_TIME_AHEAD + 1,
            ahead(NOW + MAX_TIME_AHEAD + 1),
        );
        // 2100-01-01: ahead whatever came before.
        check(Some(NOW), 4_102_444_800, ahead(4_102_444_800));
        check(None, u64::MAX, ahead(u64::MAX));
    }

    #[test]
    fn a_replay_judges_each_time_against_the_last_entry_that_followed() {
        let mut log = Replay::default();
        let mut results = Vec::new();
        for (index, time) in (0..).zip([NOW - 60, NOW + 3_600, NOW - 30, 0, NOW]) {
            let header = EntryHeader {
                time,
                ..header(index, Kind::Notice, None)
            };
            results.push(log.push(leaf(index), Some(&header), NOW));
        }
        assert_eq!(
            results,
            [
                Ok(()),
                Err(LedgerError::TimeAhead {
                    time: NOW + 3_600,
                    now: NOW
                }),
                Ok(()),
                Err(LedgerError::TimeBackwards {
                    time: 0,
                    previous: NOW - 30
                }),
                Ok(()),
            ]
        );
        assert_eq!(log.last_time(), Some(NOW));
    }

    #[test]
    fn a_member_publishes_only_in_its_own_state_name() {
        let country = |code: &str| Country::new(code).expect("country");
        let sample = |path: &str, kind| {
            let bytes = std::fs::read(format!(
                "{}/../scenarios/records/{path}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .expect("a sample record");
            Record::parse(kind, &bytes).expect("a valid sample")
        };
        let mx_denial = sample("denials/mx-2025-thiodiglycol.json", Kind::Denial);
        let pe_denial = sample("denials/pe-2025-machine-tools.json", Kind::Denial);
        let Record::Denial(pe) = pe_denial.clone() else {
            unreachable!("parsed as a denial")
        };
        let amend_to_pe = Record::DenialAmend(crate::record::DenialAmend {
            reason: "moved".to_owned().try_into().expect("text"),
            denial: pe,
        });
        let pe_notice = sample("notices/pe-2025-callao-detention.json", Kind::Notice);
        let mx_notice = sample("notices/mx-2025-manzanillo-seizure.json", Kind::Notice);
        let request = |requesting: &str, denying: &str| {
            Record::ConsultationRequest(crate::record::ConsultationRequest {
                denial: crate::record::EntryRef {
                    origin: origin("pe"),
                    index: 0,
                },
                requesting_state: country(requesting),
                denying_state: country(denying),
                application_reference: "SE-LIC-1".to_owned().try_into().expect("name"),
                question: "same consignee?".to_owned().try_into().expect("text"),
                items_summary: None,
            })
        };
        let bilateral = |a: &str, b: &str| Visibility::Bilateral {
            states: [country(a), country(b)],
        };
        let foreign = |field, found: &str| {
            Err(LedgerError::ForeignState {
                field,
                found: found.to_owned(),
                country: country("MX"),
            })
        };
        let check =
            |visibility: Visibility, record: Option<&Record>, expected: Result<(), LedgerError>| {
                let mut header = header(0, Kind::Denial, None);
                header.payload.visibility = visibility.clone();
                assert_eq!(
                    check_names(&country("MX"), &header, record),
                    expected,
                    "{visibility:?} {record:?}"
                );
            };
        let federation = || Visibility::Federation;
        check(federation(), None, Ok(()));
        check(federation(), Some(&mx_denial), Ok(()));
        check(federation(), Some(&mx_notice), Ok(()));
        check(federation(), Some(&request("MX", "PE")), Ok(()));
        check(bilateral("PE", "MX"), Some(&mx_denial), Ok(()));
        check(
            federation(),
            Some(&pe_denial),
            foreign("denying_state", "\"PE\""),
        );
        check(
            federation(),
            Some(&amend_to_pe),
            foreign("denial.denying_state", "\"PE\""),
        );
        check(
            federation(),
            Some(&pe_notice),
            foreign("issuing_state", "\"PE\""),
        );
        check(
            federation(),
            Some(&request("CL", "MX")),
            foreign("requesting_state", "\"CL\""),
        );
        // Without the payload, the header's visibility is still judged.
        check(
            bilateral("CL", "PE"),
            None,
            foreign("payload.visibility.states", "[\"CL\",\"PE\"]"),
        );
        assert_eq!(
            check_names(
                &country("MX"),
                &header(0, Kind::Denial, None),
                Some(&pe_denial)
            )
            .expect_err("foreign")
            .to_string(),
            "denying_state \"PE\" is not this member's country \"MX\""
        );
    }

    #[test]
    fn a_status_opens_with_the_denial_and_follows_its_changes() {
        let date = |d: &str| Date::parse(d).expect("date");
        let terms = |until: &str| IndexTerms {
            valid_until: Some(date(until)),
            ..IndexTerms::default()
        };
        let opened = denial_update(
            &header(2, Kind::Denial, None),
            2,
            Some(&terms("2028-01-01")),
            |_| -> Result<_, ()> { unreachable!("a new denial reads nothing") },
        );
        let opened = opened.expect("no read").expect("a status");
        assert_eq!(
            opened,
            (
                2,
                DenialStatus {
                    state: DenialState::Active,
                    latest_index: 2,
                    valid_until: Some("2028-01-01".into()),
                    history: vec![],
                    valid_until_index: Some(2),
                }
            )
        );
        let check = |kind, terms: Option<&IndexTerms>, expected: Option<DenialStatus>| {
            let header = header(5, kind, reference(2));
            let update = denial_update(&header, 5, terms, |i| {
                assert_eq!(i, 2);
                Ok::<_, ()>(Some(opened.1.clone()))
            });
            assert_eq!(update, Ok(expected.map(|s| (2, s))), "{kind}");
        };
        let moved = |state, until: &str, from| DenialStatus {
            state,
            latest_index: 5,
            valid_until: Some(until.into()),
            history: vec![5],
            valid_until_index: Some(from),
        };
        check(
            Kind::DenialAmend,
            Some(&terms("2029-06-30")),
            Some(moved(DenialState::Amended, "2029-06-30", 5)),
        );
        check(
            Kind::DenialAmend,
            None,
            Some(moved(DenialState::Amended, "2028-01-01", 2)),
        );
        check(
            Kind::DenialRevoke,
            None,
            Some(moved(DenialState::Revoked, "2028-01-01", 2)),
        );
        check(Kind::Notice, None, None);
        let today = date("2028-01-02");
        assert_eq!(opened.1.state_on(&today), DenialState::Expired);
        assert_eq!(
            moved(DenialState::Revoked, "2028-01-01", 2).state_on(&today),
            DenialState::Revoked
        );
        assert_eq!(opened.1.state_on(&date("2028-01-01")), DenialState::Active);
    }

    /// A denial (index 0) amended twice (1, 2) and revoked (3): the status
    /// a node ends with once it holds every payload, whichever entries'
    /// payloads came with their headers and in whichever order the others
    /// came after, is the one of a node that had each with its header.
    #[test]
    fn a_status_ends_the_same_whichever_order_its_payloads_arrive_in() {
        let until = ["2021-01-01", "2029-06-30", "2027-03-31", "2030-12-31"];
        let terms = |index: usize| IndexTerms {
            valid_until: Some(Date::parse(until[index]).expect("date")),
            ..IndexTerms::default()
        };
        let chain = [
            header(0, Kind::Denial, None),
            header(1, Kind::DenialAmend, reference(0)),
            header(2, Kind::DenialAmend, reference(0)),
            header(3, Kind::DenialRevoke, reference(0)),
        ];
        // `with_header`: which entries carried their payload; `late`: the
        // order in which the payloads of the others came after.
        let replay = |with_header: &[usize], late: &[usize]| {
            let mut status: Option<DenialStatus> = None;
            for (index, header) in (0..).zip(&chain) {
                let carried = with_header.contains(&index).then(|| terms(index));
                let update = denial_update(header, index as u64, carried.as_ref(), |_| {
                    Ok::<_, ()>(status.clone())
                });
                status = Some(update.expect("no read").expect("a change").1);
            }
            for &index in late {
                let update = payload_update(&chain[index], index as u64, &terms(index), |d| {
                    assert_eq!(d, 0);
                    Ok::<_, ()>(status.clone())
                });
                if let Some((_, changed)) = update.expect("no read") {
                    status = Some(changed);
                }
            }
            status.expect("a status")
        };
        let origin = replay(&[0, 1, 2, 3], &[]);
        assert_eq!(origin.valid_until.as_deref(), Some("2027-03-31"));
        assert_eq!(origin.state, DenialState::Revoked);
        for late in [
            &[0, 1, 2, 3][..],
            &[3, 2, 1, 0],
            &[2, 0, 3, 1],
            &[1, 3, 0, 2],
        ] {
            assert_eq!(replay(&[], late), origin, "payloads late in order {late:?}");
        }
        assert_eq!(replay(&[0, 3], &[2, 1]), origin);
        assert_eq!(replay(&[1], &[0, 3, 2]), origin);
        // Until the last amendment's payload comes, the latest record held
        // gives the validity.
        assert_eq!(
            replay(&[0], &[1]).valid_until.as_deref(),
            Some("2029-06-30")
        );
        // A status stored before the index of its validity was kept takes
        // no earlier record's validity over its own.
        let mut stored = replay(&[0, 1], &[]);
        stored.valid_until_index = None;
        assert_eq!(
            payload_update(&chain[0], 0, &terms(0), |_| Ok::<_, ()>(Some(
                stored.clone()
            ))),
            Ok(None)
        );
    }

    #[test]
    fn who_may_read_a_payload() {
        let country = |code: &str| Country::new(code).expect("country");
        let bilateral = Visibility::Bilateral {
            states: [country("CL"), country("MX")],
        };
        let check = |role, state: &str, visibility: &Visibility, expected| {
            assert_eq!(
                visibility.may_read(role, &country(state)),
                expected,
                "{role:?} {state} {visibility:?}"
            );
        };
        check(Role::Observer, "US", &Visibility::Public, true);
        check(Role::Observer, "US", &Visibility::Federation, true);
        check(Role::Observer, "US", &Visibility::Members, false);
        check(Role::Member, "PE", &Visibility::Members, true);
        check(Role::Member, "MX", &bilateral, true);
        check(Role::Member, "CL", &bilateral, true);
        check(Role::Member, "PE", &bilateral, false);
        check(Role::Observer, "MX", &bilateral, false);
    }

    #[test]
    fn an_entry_posts_its_kind_and_its_record_terms() {
        let hs = crate::record::HsCode::try_from("8457.10.01".to_owned()).expect("hs code");
        let terms = IndexTerms {
            party_names: vec!["acme".into()],
            countries: vec![Country::new("MX").expect("country")],
            hs_codes: vec![hs],
            ..IndexTerms::default()
        };
        let check = |terms: Option<&IndexTerms>, expected: &[(Term, &str)]| {
            let mut posted = Vec::new();
            postings(Kind::Denial, terms, |term, text| {
                posted.push((term, text.to_owned()));
            });
            let expected: Vec<_> = expected
                .iter()
                .map(|(t, s)| (*t, (*s).to_owned()))
                .collect();
            assert_eq!(posted, expected);
        };
        check(None, &[(Term::Kind, "denial")]);
        check(
            Some(&terms),
            &[
                (Term::Kind, "denial"),
                (Term::Party, "acme"),
                (Term::Country, "MX"),
                (Term::HsCode, "84571001"),
            ],
        );
    }

    /// A roster of members named for their states (`mx` is Mexico's log);
    /// only their countries matter to the consultation rules.
    struct States;

    impl KeyLookup for States {
        fn entry_key(&self, origin: &Origin, _: u64) -> Result<VerifyingKey, KeyRefusal> {
            Err(KeyRefusal::UnknownOrigin(origin.clone()))
        }

        fn member_country(&self, origin: &Origin) -> Result<Country, KeyRefusal> {
            let id = origin.as_str().rsplit('/').next().unwrap_or_default();
            match id {
                "mx" | "co" | "pe" => Ok(Country::new(&id.to_uppercase()).expect("a country")),
                _ => Err(KeyRefusal::UnknownOrigin(origin.clone())),
            }
        }

        fn checkpoint_verifiers(&self, _: &Origin) -> Vec<crate::note::NoteVerifier> {
            Vec::new()
        }

        fn witnesses(&self, _: &Origin) -> Vec<crate::checkpoint::CosignatureVerifier> {
            Vec::new()
        }
    }

    fn country(code: &str) -> Country {
        Country::new(code).expect("country")
    }

    fn at(id: &str, index: u64) -> RecordRef {
        RecordRef {
            origin: origin(id),
            index,
        }
    }

    fn consultation(denial: RecordRef, requesting: &str, denying: &str) -> Record {
        Record::ConsultationRequest(crate::record::ConsultationRequest {
            denial,
            requesting_state: country(requesting),
            denying_state: country(denying),
            application_reference: "MINCIT-1".to_owned().try_into().expect("name"),
            question: "same end user?".to_owned().try_into().expect("text"),
            items_summary: None,
        })
    }

    #[test]
    fn a_request_consults_the_state_of_the_denial_log() {
        let check = |record: Record, expected: Result<(), LedgerError>| {
            assert_eq!(
                check_denying_state(&States, &record),
                expected,
                "{record:?}"
            );
        };
        check(consultation(at("mx", 1), "CO", "MX"), Ok(()));
        check(
            consultation(at("mx", 1), "CO", "PE"),
            Err(LedgerError::DenyingStateMismatch {
                origin: origin("mx"),
                found: country("PE"),
                country: country("MX"),
            }),
        );
        check(
            consultation(at("un1540", 0), "CO", "MX"),
            Err(LedgerError::DenialLogUnknown(origin("un1540"))),
        );
        // Other records name no denying state to check.
        let revoke = Record::DenialRevoke(crate::record::DenialRevoke {
            reason: "lifted".to_owned().try_into().expect("text"),
            date: Date::parse("2026-01-01").expect("date"),
        });
        check(revoke, Ok(()));
        let refused = check_denying_state(&States, &consultation(at("mx", 1), "CO", "PE"))
            .expect_err("refused");
        assert_eq!(refused.code(), "consultation_denying_state");
        assert_eq!(
            refused.to_string(),
            "denying_state \"PE\" is not the country \"MX\" of the denial's log \
             pacific-alliance.concord/mx"
        );
    }

    /// What a verifier holds of one request, and of the log's replies.
    struct Held {
        request: HeldRequest,
        replied: Option<u64>,
    }

    impl Consultations for Held {
        type Error = std::convert::Infallible;

        fn request(&self, _: &RecordRef) -> Result<HeldRequest, Self::Error> {
            Ok(self.request)
        }

        fn replied(&self, _: &RecordRef, before: u64) -> Result<Option<u64>, Self::Error> {
            Ok(self.replied.filter(|&index| index < before))
        }
    }

    #[test]
    fn a_reply_comes_once_from_the_denying_state() {
        let request = at("co", 4);
        let check = |held: Held, replier: &str, expected: Result<(), LedgerError>| {
            let verdict = check_reply(&held, &country(replier), &request, 9);
            assert_eq!(verdict, Ok(expected), "{:?} {replier}", held.request);
        };
        let from_mexico = HeldRequest::Request {
            denying_state: country("MX"),
        };
        let held = |request, replied| Held { request, replied };
        check(held(from_mexico, None), "MX", Ok(()));
        check(
            held(from_mexico, None),
            "PE",
            Err(LedgerError::ReplyFromWrongState {
                request: request.clone(),
                denying_state: country("MX"),
                country: country("PE"),
            }),
        );
        check(
            held(from_mexico, Some(7)),
            "MX",
            Err(LedgerError::AlreadyReplied {
                request: request.clone(),
                index: 7,
            }),
        );
        check(
            held(HeldRequest::NotARequest, None),
            "MX",
            Err(LedgerError::NotARequest(request.clone())),
        );
        // Without the request's payload the state cannot be judged; a
        // second reply still can, from the log's own postings.
        check(held(HeldRequest::Withheld, None), "PE", Ok(()));
        check(held(HeldRequest::Unknown, None), "PE", Ok(()));
        // A reply after the one judged (its payload came first) is no
        // earlier reply.
        check(held(from_mexico, Some(12)), "MX", Ok(()));
        check(
            held(HeldRequest::Withheld, Some(2)),
            "PE",
            Err(LedgerError::AlreadyReplied {
                request: request.clone(),
                index: 2,
            }),
        );
        let codes: Vec<_> = [
            LedgerError::ReplyFromWrongState {
                request: request.clone(),
                denying_state: country("MX"),
                country: country("PE"),
            },
            LedgerError::AlreadyReplied {
                request: request.clone(),
                index: 7,
            },
            LedgerError::NotARequest(request.clone()),
        ]
        .iter()
        .map(LedgerError::code)
        .collect();
        assert_eq!(
            codes,
            [
                "consultation_wrong_state",
                "consultation_replied",
                "consultation_not_a_request"
            ]
        );
    }

    #[test]
    fn consultations_post_the_entry_they_are_about() {
        let request = consultation(at("mx", 1), "CO", "MX");
        let reply = Record::ConsultationReply(crate::record::ConsultationReply {
            request: at("co", 4),
            answer: crate::record::Answer::Object,
            comment: "maintained".to_owned().try_into().expect("text"),
        });
        let posted = |record: &Record| {
            let mut posted = Vec::new();
            postings(record.kind(), Some(&record.index_terms()), |term, text| {
                posted.push((term, text.to_owned()));
            });
            posted
        };
        assert_eq!(
            posted(&request),
            [
                (Term::Kind, "consultation.request".to_owned()),
                (Term::Country, "CO".to_owned()),
                (Term::Country, "MX".to_owned()),
                (
                    Term::ConsultedDenial,
                    "pacific-alliance.concord/mx#1".to_owned()
                ),
            ]
        );
        assert_eq!(
            posted(&reply),
            [
                (Term::Kind, "consultation.reply".to_owned()),
                (
                    Term::AnsweredRequest,
                    "pacific-alliance.concord/co#4".to_owned()
                ),
            ]
        );
    }
}
