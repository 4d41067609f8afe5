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
//! - §3.1 `refers_to`: an amendment or revocation refers to an earlier
//!   denial of the same log, by index and leaf hash, and nothing follows a
//!   revocation ([`check_reference`]);
//! - the denial status that amendments and revocations move
//!   ([`DenialStatus`]), and its expiry on a given date;
//! - §3.1 `payload.visibility`: who may read a payload
//!   ([`Visibility::may_read`]);
//! - the terms an entry is indexed under for search and screening
//!   ([`postings`]), from its kind and its record's `IndexTerms`.
//!
//! Every path that writes or judges a log — the own log's writer, replica
//! ingest, the audits of a store and of a bundle — asks these functions,
//! so that each refuses the same entry for the same [`LedgerError`]. The
//! log's state is read through [`LogState`], so the rules run the same
//! over a store and over an audit's memory. Time comes in as an argument.

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::entry::{EntryHeader, EntryRef, Visibility};
use crate::equivocation::{KeyLookup, KeyRefusal};
use crate::merkle::Hash;
use crate::origin::Origin;
use crate::record::{Country, Date, IndexTerms, Kind};

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

/// What the rules read of a log: the entries it already holds.
pub trait LogState {
    /// Why the state could not be read (a storage failure, never a rule).
    type Error;
    /// Entries the log holds, which is the index of the next one.
    fn size(&self) -> u64;
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

/// Checks that `header`, already at its position, may follow `log`: an
/// amendment or revocation refers to an earlier denial of the log, by its
/// leaf hash, that was not revoked.
///
/// # Errors
/// The outer error when `log` cannot be read; the inner one names the rule
/// broken.
pub fn check_follows<L: LogState>(
    log: &L,
    header: &EntryHeader,
) -> Result<Result<(), LedgerError>, L::Error> {
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
}

impl DenialStatus {
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
    });
    if let Change::Follow(_) = change {
        status.history.push(index);
    }
    status.state = state;
    status.latest_index = index;
    // A revocation ends the denial as it stands; an amendment without a
    // record held leaves its validity as it was.
    let valid_until = terms.and_then(|t| t.valid_until.as_ref());
    if header.kind != Kind::DenialRevoke
        && let Some(until) = valid_until
    {
        status.valid_until = Some(until.to_string());
    }
    Ok(Some((denial, status)))
}

/// A log's state held in memory, as an audit replays the log: each entry's
/// leaf hash and, for a denial, where it stands.
#[derive(Debug, Default)]
pub struct Replay {
    entries: Vec<(Hash, Option<DenialState>)>,
}

impl Replay {
    /// Appends the next entry, whose leaf hash is `leaf`; `header` is absent
    /// when it did not decode or is not at its position, and then the entry
    /// counts for its leaf only. An entry that may not follow the log is
    /// kept the same way, and the rule it broke returned.
    ///
    /// # Errors
    /// The [`LedgerError`] of [`check_follows`].
    pub fn push(&mut self, leaf: Hash, header: Option<&EntryHeader>) -> Result<(), LedgerError> {
        let index = self.size();
        let result = match header {
            Some(header) => check_follows(self, header).unwrap_or_else(|never| match never {}),
            None => Ok(()),
        };
        self.entries.push((leaf, None));
        if let (Ok(()), Some(header)) = (&result, header)
            && let Some((denial, change)) = Change::of(header, index)
        {
            let slot = &mut self.entries[usize::try_from(denial).expect("below the size")].1;
            *slot = change.state(*slot);
        }
        result
    }
}

impl LogState for Replay {
    type Error = std::convert::Infallible;

    fn size(&self) -> u64 {
        self.entries.len() as u64
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
}

/// Calls `post` with every term the entry of `kind` is indexed under: its
/// kind always, and with its record's `terms` (when the payload is held)
/// normalised party names, countries, control entries and HS code digits.
pub fn postings(kind: Kind, terms: Option<&IndexTerms>, mut post: impl FnMut(Term, &str)) {
    post(Term::Kind, kind.as_str());
    let Some(terms) = terms else {
        return;
    };
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{Digest256, KeyId, PayloadCommitment};

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
                log.push(leaf(index), Some(&header))
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
        log.push(leaf(0), Some(&header(0, Kind::Denial, None)))
            .expect("a denial");
        let wrong = EntryRef {
            index: 0,
            leaf_hash: Digest256(leaf(5)),
        };
        let amend = header(1, Kind::DenialAmend, Some(wrong));
        assert_eq!(
            log.push(leaf(1), Some(&amend)),
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
        let moved = |state, until: &str| DenialStatus {
            state,
            latest_index: 5,
            valid_until: Some(until.into()),
            history: vec![5],
        };
        check(
            Kind::DenialAmend,
            Some(&terms("2029-06-30")),
            Some(moved(DenialState::Amended, "2029-06-30")),
        );
        check(
            Kind::DenialAmend,
            None,
            Some(moved(DenialState::Amended, "2028-01-01")),
        );
        check(
            Kind::DenialRevoke,
            None,
            Some(moved(DenialState::Revoked, "2028-01-01")),
        );
        check(Kind::Notice, None, None);
        let today = date("2028-01-02");
        assert_eq!(opened.1.state_on(&today), DenialState::Expired);
        assert_eq!(
            moved(DenialState::Revoked, "2028-01-01").state_on(&today),
            DenialState::Revoked
        );
        assert_eq!(opened.1.state_on(&date("2028-01-01")), DenialState::Active);
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
}
