//! The in-memory candidate index: which denials an application may meet,
//! found by shared terms, never by a scan of every denial.
//!
//! Each denial is posted under its [`terms`](crate::terms::terms) and kept
//! prepared for scoring. To screen an application, each of its parties
//! looks up its [`QueryTerms`] (made by the same functions); a denial
//! gathers the weight ([`TermKind::weight`](crate::terms::TermKind::weight))
//! of every name term it shares with the party. A term posted by more than
//! [`MAX_POSTINGS`] denials (a word such as `trading` in a large
//! federation) selects none: it says too little about which denial is
//! meant, and it still counts in the score of a denial selected by another
//! term. The [`MAX_CANDIDATES_PER_PARTY`] heaviest denials of each party
//! that gathered at least [`MIN_WEIGHT`], and every denial sharing a whole
//! normalised name or an identifier with it, are then scored whole by
//! [`score_denial`], as [`screen`](crate::screen) scores denials the caller
//! selected.
//!
//! A removed denial leaves an empty slot behind (slots are never reused,
//! so posting lists stay sorted): a node rebuilds its index from the
//! denials in force when it starts.

use std::collections::HashMap;
use std::hash::Hash;

use concord_protocol::record::Denial;

use crate::application::Application;
use crate::name::NameKey;
use crate::score::{Hit, PreparedApplication, PreparedDenial, score_denial, sort_hits};
use crate::terms::{QueryTerms, Term, prepared_terms};

/// Longest posting list that still selects candidates.
pub const MAX_POSTINGS: usize = 300;
/// Most denials selected for one application party by shared terms.
pub const MAX_CANDIDATES_PER_PARTY: usize = 16;
/// Least weight of shared terms that selects a denial: one deletion,
/// sound or skeleton, or both ends of a whole name; the ends alone are not
/// enough.
pub const MIN_WEIGHT: f64 = 1.0;

/// Where candidate selection reads posting lists: the in-memory [`Index`],
/// or a store that persisted every denial's [`terms`](crate::terms::terms)
/// under the denial's key.
pub trait Postings {
    type Key: Clone + Eq + Hash + Ord;
    type Error;

    /// The keys posted under `term`, each once, or `None` when more than
    /// `limit` are.
    ///
    /// # Errors
    /// The source's own, when it cannot be read.
    fn postings(&self, term: &Term, limit: usize) -> Result<Option<Vec<Self::Key>>, Self::Error>;

    /// Whether the denial of `key` is screened at all: a store's postings
    /// outlive the denials revoked, expired or beyond the checkpoint
    /// screened.
    ///
    /// # Errors
    /// The source's own, when it cannot be read.
    fn admits(&self, key: &Self::Key) -> Result<bool, Self::Error>;
}

/// The keys of the denials `application` may meet (see the module
/// documentation), sorted.
///
/// # Errors
/// The first error of `source`.
pub fn candidates<P: Postings>(
    source: &P,
    application: &PreparedApplication<'_>,
) -> Result<Vec<P::Key>, P::Error> {
    let mut selected = Vec::new();
    for party in &application.parties {
        let query = QueryTerms::of(party);
        let mut weights: HashMap<P::Key, f64> = HashMap::new();
        for term in &query.names {
            if let Some(keys) = source.postings(term, MAX_POSTINGS)? {
                let weight = term.kind().weight();
                for key in keys {
                    *weights.entry(key).or_default() += weight;
                }
            }
        }
        let mut ranked: Vec<(P::Key, f64)> = weights
            .into_iter()
            .filter(|&(_, weight)| weight >= MIN_WEIGHT)
            .collect();
        ranked.sort_unstable_by(|x, y| y.1.total_cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
        let mut taken = 0;
        for (key, _) in ranked {
            if taken == MAX_CANDIDATES_PER_PARTY {
                break;
            }
            if source.admits(&key)? {
                selected.push(key);
                taken += 1;
            }
        }
        // A whole name equal after normalisation, or an identifier, is
        // always scored, however many denials share it.
        for term in &query.always {
            for key in source.postings(term, usize::MAX)?.unwrap_or_default() {
                if source.admits(&key)? {
                    selected.push(key);
                }
            }
        }
    }
    selected.sort_unstable();
    selected.dedup();
    Ok(selected)
}

/// Denials indexed by their terms, under the caller's key `K` (the node's
/// is a log and an index).
#[derive(Debug)]
pub struct Index<K> {
    /// Slot of each key.
    slots: HashMap<K, u32>,
    /// By slot: the key and its prepared denial; `None` once removed.
    denials: Vec<Option<(K, PreparedDenial)>>,
    postings: HashMap<u64, Vec<u32>>,
    n_denials: usize,
}

impl<K> Default for Index<K> {
    fn default() -> Self {
        Index {
            slots: HashMap::new(),
            denials: Vec::new(),
            postings: HashMap::new(),
            n_denials: 0,
        }
    }
}

impl<K: Clone + Eq + Hash + Ord> Index<K> {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many denials are indexed.
    pub fn len(&self) -> usize {
        self.n_denials
    }

    pub fn is_empty(&self) -> bool {
        self.n_denials == 0
    }

    /// Indexes `denial` under `key`, replacing what `key` held (an amended
    /// denial).
    pub fn insert(&mut self, key: K, denial: &Denial) {
        self.remove(&key);
        let slot = u32::try_from(self.denials.len())
            .expect("fewer than 2^32 denials are ever indexed in one process");
        let prepared = PreparedDenial::new(denial);
        for term in prepared_terms(&prepared) {
            let list = self.postings.entry(term.key()).or_default();
            // Two terms of one denial may share a key.
            if list.last() != Some(&slot) {
                list.push(slot);
            }
        }
        self.slots.insert(key.clone(), slot);
        self.denials.push(Some((key, prepared)));
        self.n_denials += 1;
    }

    /// Removes the denial of `key` (revoked, expired or purged); returns
    /// whether it was indexed.
    pub fn remove(&mut self, key: &K) -> bool {
        let Some(slot) = self.slots.remove(key) else {
            return false;
        };
        let held = self.denials[slot as usize]
            .take()
            .expect("a slot in the key map holds a denial");
        for term in prepared_terms(&held.1) {
            let key = term.key();
            if let Some(list) = self.postings.get_mut(&key) {
                if let Ok(at) = list.binary_search(&slot) {
                    list.remove(at);
                }
                if list.is_empty() {
                    self.postings.remove(&key);
                }
            }
        }
        self.n_denials -= 1;
        true
    }

    /// The keys of the denials posted under `term` (or a term whose key
    /// collides with it), in the order they were indexed.
    pub fn postings(&self, term: &Term) -> Vec<&K> {
        self.postings
            .get(&term.key())
            .map(|list| list.iter().filter_map(|&slot| self.key(slot)).collect())
            .unwrap_or_default()
    }

    fn key(&self, slot: u32) -> Option<&K> {
        self.denials[slot as usize].as_ref().map(|(key, _)| key)
    }

    /// Screens `application` against the indexed denials: the hits at
    /// `threshold` or above, best first, ties by key.
    pub fn screen(&self, application: &Application, threshold: f64) -> Vec<Hit<K>> {
        let prepared = PreparedApplication::new(application);
        let Ok(slots) = candidates(self, &prepared);
        let mut hits: Vec<Hit<K>> = slots
            .into_iter()
            .filter_map(|slot| {
                let (key, denial) = self.denials[slot as usize].as_ref()?;
                score_denial(&prepared, key.clone(), denial)
            })
            .filter(|hit| hit.score >= threshold)
            .collect();
        sort_hits(&mut hits);
        hits
    }

    /// An estimate of the memory the index holds, in bytes: every string's
    /// and list's capacity and the maps' entries, counted; the allocator's
    /// own overhead is not.
    pub fn approximate_bytes(&self) -> usize {
        use std::mem::size_of;
        let string = |s: &String| size_of::<String>() + s.capacity();
        let name_key = |k: &NameKey| {
            size_of::<NameKey>()
                + k.joined.capacity()
                + k.skeleton.capacity()
                + k.words
                    .iter()
                    .map(|w| {
                        size_of::<crate::name::Word>()
                            + w.text.capacity()
                            + w.skeleton.capacity()
                            + w.sounds.iter().map(String::capacity).sum::<usize>()
                    })
                    .sum::<usize>()
        };
        let denial = |d: &PreparedDenial| {
            size_of::<PreparedDenial>()
                + d.parties
                    .iter()
                    .map(|p| {
                        p.names
                            .iter()
                            .map(|(n, k)| string(n) + name_key(k))
                            .sum::<usize>()
                            + p.identifiers
                                .iter()
                                .map(|(_, v)| 8 + string(v))
                                .sum::<usize>()
                    })
                    .sum::<usize>()
                + d.control_entries.len() * 32
                + d.hs_codes.len() * 32
        };
        // A hashbrown entry costs its key and value plus one control byte.
        let postings: usize = self
            .postings
            .values()
            .map(|list| 8 + size_of::<Vec<u32>>() + 1 + list.capacity() * 4)
            .sum();
        let denials: usize = self
            .denials
            .iter()
            .flatten()
            .map(|(_, d)| size_of::<K>() + denial(d))
            .sum();
        let slots = self.slots.capacity() * (size_of::<K>() + 4 + 1);
        postings
            + denials
            + slots
            + self.denials.capacity() * size_of::<Option<(K, PreparedDenial)>>()
    }
}

/// The in-memory index's postings hold live denials only, by slot.
impl<K> Postings for Index<K> {
    type Key = u32;
    type Error = std::convert::Infallible;

    fn postings(&self, term: &Term, limit: usize) -> Result<Option<Vec<u32>>, Self::Error> {
        Ok(match self.postings.get(&term.key()) {
            Some(list) if list.len() > limit => None,
            Some(list) => Some(list.clone()),
            None => Some(Vec::new()),
        })
    }

    fn admits(&self, _slot: &u32) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{application, denial};
    use crate::{DEFAULT_THRESHOLD, screen};

    /// Denials of one party each, named from a small vocabulary so that
    /// many share words.
    fn denials() -> Vec<Denial> {
        let first = [
            "Química",
            "Aceros",
            "Electrónica",
            "Hidráulica",
            "Óptica",
            "Metalúrgica",
        ];
        let second = [
            "Pacífico",
            "Andinos",
            "Austral",
            "Sorocaba",
            "Altiplano",
            "Bajío",
            "Cóndor",
        ];
        let entries = ["1C350", "2B001.a", "6A003", "9A012"];
        let mut out = Vec::new();
        for (i, a) in first.iter().enumerate() {
            for (j, b) in second.iter().enumerate() {
                let parties = format!(
                    r#"[{{"role": "consignee", "name": "{a} {b} S.A.", "country": "CL"}}]"#
                );
                let items = format!(
                    r#"[{{"description": "d", "control_entries": ["{}"]}}]"#,
                    entries[(i + j) % entries.len()]
                );
                out.push(denial(&parties, &items));
            }
        }
        out
    }

    fn applications() -> Vec<Application> {
        [
            ("Quimica del Pacifco", "CL"),
            ("Andinos Aceros", "PE"),
            ("Electronica Austral Ltda", "CL"),
            ("Optica Cóndor", "MX"),
            ("Panadería Central", "CL"),
        ]
        .iter()
        .map(|(name, country)| {
            application(
                &format!(r#"[{{"role": "consignee", "name": "{name}", "country": "{country}"}}]"#),
                r#"[{"description": "item", "control_entries": ["1C350"]}]"#,
                country,
            )
        })
        .collect()
    }

    #[test]
    fn the_index_finds_what_a_scan_finds() {
        let denials = denials();
        let mut index = Index::new();
        for (key, denial) in denials.iter().enumerate() {
            index.insert(key, denial);
        }
        assert_eq!(index.len(), denials.len());
        for application in applications() {
            let scanned = screen(&application, denials.iter().enumerate(), 0.5);
            let indexed = index.screen(&application, 0.5);
            assert_eq!(indexed, scanned, "{}", application.parties[0].name);
        }
        let hits = index.screen(&applications()[0], DEFAULT_THRESHOLD);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert!(
            index
                .screen(&applications()[4], DEFAULT_THRESHOLD)
                .is_empty()
        );
    }

    #[test]
    fn removed_and_replaced_denials() {
        let denials = denials();
        let mut index = Index::new();
        for (key, denial) in denials.iter().enumerate() {
            index.insert(key, denial);
        }
        let quimica = &applications()[0];
        let key = index.screen(quimica, DEFAULT_THRESHOLD)[0].denial;
        assert!(index.remove(&key));
        assert!(!index.remove(&key));
        assert!(index.screen(quimica, DEFAULT_THRESHOLD).is_empty());
        assert_eq!(index.len(), denials.len() - 1);

        // An amendment replaces what the key held.
        index.insert(key, &denials[key]);
        index.insert(key, &denials[key + 1]);
        assert_eq!(index.len(), denials.len());
        assert!(index.screen(quimica, DEFAULT_THRESHOLD).is_empty());
        // Posted under the new denial's terms only.
        let old_terms = crate::terms::terms(&denials[key]);
        let new_terms = crate::terms::terms(&denials[key + 1]);
        for term in new_terms.iter().filter(|t| !old_terms.contains(t)) {
            assert!(index.postings(term).contains(&&key), "{term}");
        }
        for term in old_terms.iter().filter(|t| !new_terms.contains(t)) {
            assert!(!index.postings(term).contains(&&key), "{term}");
        }
    }

    /// What a store would look up finds the denial the index finds.
    #[test]
    fn query_terms_reach_the_hit() {
        let denials = denials();
        let mut index = Index::new();
        for (key, denial) in denials.iter().enumerate() {
            index.insert(key, denial);
        }
        let application = &applications()[2];
        let key = index.screen(application, DEFAULT_THRESHOLD)[0].denial;
        let query = &crate::terms::query_terms(application)[0];
        assert!(query.names.windows(2).all(|pair| pair[0] < pair[1]));
        let posted: Vec<&usize> = query
            .names
            .iter()
            .chain(&query.always)
            .flat_map(|term| index.postings(term))
            .collect();
        assert!(posted.contains(&&key));
    }

    #[test]
    fn memory_is_counted() {
        let mut index = Index::new();
        let empty = index.approximate_bytes();
        for (key, denial) in denials().iter().enumerate() {
            index.insert(key, denial);
        }
        assert!(index.approximate_bytes() > empty + denials().len() * 100);
    }
}
