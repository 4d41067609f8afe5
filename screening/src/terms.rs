//! The index terms of a denial: what a denial is found by.
//!
//! [`terms`] is a pure function of the denial, sorted and without
//! repetition, so a store can persist the same terms in the batch that
//! stores the denial and find the same candidates an in-memory [`Index`]
//! finds. A term is a short string, a kind letter and a value:
//!
//! | term | from | example |
//! |---|---|---|
//! | `w:` | a word of a name or alias (stopwords left out) | `w:pacifico` |
//! | `j:` | a whole name, words joined | `j:quimicadelpacifico` |
//! | `a:`, `z:` | the first and last 4 letters of a whole name of 8 or more, so names two edits apart (`samsungmulsan`, `samseongmulsan`) still meet | `a:quim`, `z:fico` |
//! | `d:` | a word or whole name of 4 or more letters, and of 5 or more each of its one-letter deletions, so one edit still meets | `d:pacifco` |
//! | `p:` | a Double Metaphone code of a word of 4 or more letters | `p:PSFK` |
//! | `k:` | the consonant skeleton of a word, and of a whole name, for names in Arabic script | `k:mhmd` |
//! | `i:` | an identifier's letters and digits, in uppercase | `i:QPA0101019Z8` |
//! | `c:` | a control entry, and its heading | `c:1C350.a`, `c:1C350` |
//! | `h:` | an HS code's subheading and heading | `h:293090`, `h:2930` |
//!
//! Party terms select candidates; control entries and HS codes are posted
//! for searches by item, and never select a denial alone: a hit needs a
//! party that matches.
//!
//! [`Index`]: crate::Index

use concord_protocol::record::{Denial, Identifier};
use serde::{Deserialize, Serialize};

use crate::application::Application;
use crate::name::{NameKey, skeleton};
use crate::score::{PreparedApplication, PreparedDenial, PreparedParty};

/// The version of [`terms`]: a store that persisted terms of another
/// version indexes its denials again when it opens. Raised whenever
/// [`terms`] or the normalisation under it gives other terms.
pub const TERMS_VERSION: u32 = 1;

/// Longest whole name whose deletions are terms: longer names have words
/// of their own that meet.
const MAX_JOINED_DELETIONS: usize = 24;

/// One index term (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Term(String);

/// What a [`Term`] was made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermKind {
    Word,
    Joined,
    JoinedStart,
    JoinedEnd,
    Deletion,
    Sound,
    Skeleton,
    Identifier,
    ControlEntry,
    HsCode,
}

impl TermKind {
    fn letter(self) -> char {
        match self {
            TermKind::Word => 'w',
            TermKind::Joined => 'j',
            TermKind::JoinedStart => 'a',
            TermKind::JoinedEnd => 'z',
            TermKind::Deletion => 'd',
            TermKind::Sound => 'p',
            TermKind::Skeleton => 'k',
            TermKind::Identifier => 'i',
            TermKind::ControlEntry => 'c',
            TermKind::HsCode => 'h',
        }
    }

    /// How much sharing a term of this kind says that a denial's party is
    /// the one screened: what candidates are ranked by.
    pub fn weight(self) -> f64 {
        match self {
            TermKind::Identifier => 8.0,
            TermKind::Joined => 4.0,
            TermKind::Word => 2.0,
            TermKind::Deletion | TermKind::Sound | TermKind::Skeleton => 1.0,
            TermKind::JoinedStart | TermKind::JoinedEnd => 0.5,
            TermKind::ControlEntry | TermKind::HsCode => 0.0,
        }
    }
}

impl Term {
    fn new(kind: TermKind, value: &str) -> Term {
        Term::of_parts(kind, [value, ""])
    }

    /// The term of `kind` whose value is the two parts joined.
    fn of_parts(kind: TermKind, parts: [&str; 2]) -> Term {
        let mut text = String::with_capacity(parts[0].len() + parts[1].len() + 2);
        text.push(kind.letter());
        text.push(':');
        text.push_str(parts[0]);
        text.push_str(parts[1]);
        Term(text)
    }

    /// The term as stored: kind letter, `:`, value.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The term's key in an index: FNV-1a of its text. Two terms whose
    /// keys collide share a posting list, which only adds candidates; the
    /// score decides. Keys rather than strings keep an index's memory down,
    /// and a store persists them, so this function is part of its format.
    pub fn key(&self) -> u64 {
        fnv1a(FNV_OFFSET, self.0.as_bytes())
    }

    /// The kind of the term.
    pub fn kind(&self) -> TermKind {
        match self.0.as_bytes()[0] {
            b'w' => TermKind::Word,
            b'j' => TermKind::Joined,
            b'a' => TermKind::JoinedStart,
            b'z' => TermKind::JoinedEnd,
            b'd' => TermKind::Deletion,
            b'p' => TermKind::Sound,
            b'k' => TermKind::Skeleton,
            b'i' => TermKind::Identifier,
            b'c' => TermKind::ControlEntry,
            _ => TermKind::HsCode,
        }
    }
}

impl std::fmt::Display for Term {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Where a denial's terms go: whole terms, or only their keys.
pub trait TermSink {
    /// Takes the term of `kind` whose value is `parts` joined.
    fn take(&mut self, kind: TermKind, parts: [&str; 2]);
}

impl TermSink for Vec<Term> {
    fn take(&mut self, kind: TermKind, parts: [&str; 2]) {
        self.push(Term::of_parts(kind, parts));
    }
}

/// Terms' keys ([`Term::key`]) made without the terms: a store that
/// persists keys makes about seventy a denial, and the strings cost more
/// than the hashing.
#[derive(Debug, Default)]
pub struct TermKeys(pub Vec<u64>);

impl TermSink for TermKeys {
    fn take(&mut self, kind: TermKind, parts: [&str; 2]) {
        let prefix = [kind.letter() as u8, b':'];
        let hash = fnv1a(FNV_OFFSET, &prefix);
        let hash = fnv1a(hash, parts[0].as_bytes());
        self.0.push(fnv1a(hash, parts[1].as_bytes()));
    }
}

/// Labels written in front of a number by some registers and not by
/// others (`IMO 9321483`, `TIN 100-234-567`): dropped when a space, `:` or
/// `#` separates them from the number.
const IDENTIFIER_LABELS: &[&str] = &[
    "CNPJ", "CPF", "DUNS", "IMO", "INN", "LEI", "NIT", "OGRN", "RFC", "RUC", "RUT", "TIN",
];

/// An identifier's value as compared: its ASCII letters and digits, in
/// uppercase, without a label in front (`76.123.456-k` → `76123456K`,
/// `IMO 9321483` → `9321483`).
pub fn identifier_value(identifier: &Identifier) -> String {
    let written = identifier.value.as_str().trim();
    let number = written
        .split_once([' ', ':', '#'])
        .filter(|(label, _)| {
            IDENTIFIER_LABELS
                .iter()
                .any(|known| known.eq_ignore_ascii_case(label))
        })
        .map_or(written, |(_, number)| number);
    number
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// The identifier term of a value of [`identifier_value`]. The scheme is
/// left out: registers spell schemes differently (a CNPJ is a `tax_id` for
/// one and `registration` for another), and the score weighs the schemes.
pub fn identifier_term(value: &str) -> Term {
    Term::new(TermKind::Identifier, value)
}

fn push_deletions(text: &str, out: &mut impl TermSink) {
    if text.len() < 4 || !text.is_ascii() {
        return;
    }
    // The text itself too: a deletion of one side is then the other side
    // when one letter was added or dropped, not only when one was changed;
    // a word of 4 letters may be one of 5 with a letter dropped.
    out.take(TermKind::Deletion, [text, ""]);
    if text.len() < 5 {
        return;
    }
    for at in 0..text.len() {
        out.take(TermKind::Deletion, [&text[..at], &text[at + 1..]]);
    }
}

/// The term of a whole normalised name.
pub fn joined_term(key: &NameKey) -> Term {
    Term::new(TermKind::Joined, &key.joined)
}

/// The terms of one normalised name.
pub fn name_terms(key: &NameKey, out: &mut impl TermSink) {
    if key.is_empty() {
        return;
    }
    out.take(TermKind::Joined, [&key.joined, ""]);
    if key.joined.len() <= MAX_JOINED_DELETIONS {
        push_deletions(&key.joined, out);
    }
    if key.joined.len() >= 8 && key.joined.is_ascii() {
        let n = key.joined.len();
        out.take(TermKind::JoinedStart, [&key.joined[..4], ""]);
        out.take(TermKind::JoinedEnd, [&key.joined[n - 4..], ""]);
    }
    if key.skeleton.len() >= 4 {
        out.take(TermKind::Skeleton, [&key.skeleton, ""]);
    }
    for word in &key.words {
        out.take(TermKind::Word, [&word.text, ""]);
        push_deletions(&word.text, out);
        if word.text.len() >= 4 {
            for code in word.sounds.iter().filter(|code| code.len() >= 2) {
                out.take(TermKind::Sound, [code, ""]);
            }
        }
        let word_skeleton = skeleton(&word.text);
        if word_skeleton.len() >= 2 {
            out.take(TermKind::Skeleton, [&word_skeleton, ""]);
        }
    }
}

/// What each party of `application` looks up (see [`crate::index`]): a
/// store that keeps the postings of [`terms`] selects candidates with them
/// by the rules of [`crate::index`].
pub fn query_terms(application: &Application) -> Vec<QueryTerms> {
    PreparedApplication::new(application)
        .parties
        .iter()
        .map(QueryTerms::of)
        .collect()
}

/// The terms one application party looks up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryTerms {
    /// Terms whose postings are weighed ([`TermKind::weight`]).
    pub names: Vec<Term>,
    /// Whole names and identifiers: every denial posted under them is a
    /// candidate.
    pub always: Vec<Term>,
}

impl QueryTerms {
    /// The terms of a prepared party, made as a denial party's are, so
    /// that the same spelling meets the same term.
    pub(crate) fn of(party: &PreparedParty) -> QueryTerms {
        let mut names = Vec::new();
        for (_, key) in &party.names {
            name_terms(key, &mut names);
        }
        names.sort_unstable();
        names.dedup();
        QueryTerms {
            names,
            always: party
                .names
                .iter()
                .map(|(_, key)| joined_term(key))
                .chain(party.identifiers.iter().map(|(_, v)| identifier_term(v)))
                .collect(),
        }
    }
}

/// Every term of a denial (see the module documentation), sorted, without
/// repetition.
pub fn terms(denial: &Denial) -> Vec<Term> {
    prepared_terms(&PreparedDenial::new(denial))
}

/// The terms of a denial already prepared for scoring: [`terms`], for a
/// caller that keeps the prepared denial too.
pub fn prepared_terms(denial: &PreparedDenial) -> Vec<Term> {
    let mut out = Vec::new();
    emit_terms(denial, &mut out);
    out.sort_unstable();
    out.dedup();
    out
}

/// The keys of [`prepared_terms`], sorted, without repetition, made
/// without the terms.
pub fn prepared_term_keys(denial: &PreparedDenial) -> Vec<u64> {
    let mut out = TermKeys::default();
    emit_terms(denial, &mut out);
    out.0.sort_unstable();
    out.0.dedup();
    out.0
}

fn emit_terms(denial: &PreparedDenial, out: &mut impl TermSink) {
    for party in &denial.parties {
        for (_, key) in &party.names {
            name_terms(key, out);
        }
        for (_, value) in &party.identifiers {
            out.take(TermKind::Identifier, [value, ""]);
        }
    }
    for entry in &denial.control_entries {
        out.take(TermKind::ControlEntry, [entry.as_str(), ""]);
        out.take(TermKind::ControlEntry, [entry.heading(), ""]);
    }
    for hs_code in &denial.hs_codes {
        let subheading = hs_code.subheading();
        out.take(TermKind::HsCode, [&subheading[..4], ""]);
        out.take(TermKind::HsCode, [&subheading, ""]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_protocol::record::{Kind, Record};

    const DENIAL: &str = r#"{"denying_state": "MX", "authority": "SE", "reference": "R-1",
      "decision_date": "2025-03-14", "regimes": ["australia_group"],
      "items": [{"description": "Thiodiglycol", "control_entries": ["1C350.a"], "hs_code": "2930.90"}],
      "parties": [{"role": "consignee", "name": "Química del Pacífico S.A. de C.V.", "country": "MX",
                   "identifiers": [{"scheme": "tax_id", "value": "qpa-010101.9z8"}]}],
      "reason": "r"}"#;

    #[test]
    fn terms_of_a_denial() {
        let Record::Denial(denial) =
            Record::parse(Kind::Denial, DENIAL.as_bytes()).expect("valid denial")
        else {
            unreachable!("parsed as a denial")
        };
        let found = terms(&denial);
        let has = |term: &str| found.iter().any(|t| t.as_str() == term);
        for term in [
            "w:quimica",
            "w:pacifico",
            "j:quimicadelpacifico",
            "d:pacifco",
            "d:quimicadelpacifco",
            "a:quim",
            "z:fico",
            "k:pcfc",
            "i:QPA0101019Z8",
            "c:1C350.a",
            "c:1C350",
            "h:2930",
            "h:293090",
        ] {
            assert!(has(term), "{term} missing from {found:?}");
        }
        // Stopwords and legal forms are not terms.
        for term in ["w:del", "w:sa", "w:cv", "w:de"] {
            assert!(!has(term), "{term} found");
        }
        assert!(
            found.windows(2).all(|pair| pair[0] < pair[1]),
            "sorted, unique"
        );
        assert_eq!(found, terms(&denial), "deterministic");
        assert!(
            found
                .iter()
                .all(|t| t.kind().letter() == t.as_str().chars().next().unwrap_or(' '))
        );

        // The keys made without the terms are the terms' keys.
        let prepared = PreparedDenial::new(&denial);
        let mut keys: Vec<u64> = found.iter().map(Term::key).collect();
        keys.sort_unstable();
        assert_eq!(prepared_term_keys(&prepared), keys);
    }

    /// The key is FNV-1a (64 bits) of the term's text: a store persists
    /// keys, so they may never change under it.
    #[test]
    fn term_keys_are_fnv_1a() {
        assert_eq!(Term::new(TermKind::Word, "").key(), 0x08cb_8c07_b56d_8384);
        assert_eq!(fnv1a(FNV_OFFSET, b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(FNV_OFFSET, b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(FNV_OFFSET, b"foobar"), 0x8594_4171_f739_67e8);
    }
}
