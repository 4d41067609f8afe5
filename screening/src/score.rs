//! Scoring an application against denials, with the explanation of every
//! hit.
//!
//! A denial's score is its best party match, raised or lowered by the
//! context around it:
//!
//! 1. **Party.** Each application party is compared with each denial party:
//!    every name and alias of one with every name and alias of the other
//!    ([`crate::name::compare`]); the best pair is the party's name score.
//!    An identifier equal on both sides (same letters and digits) makes the
//!    party score at least [`IDENTIFIER_SCORE`], whatever the names say.
//! 2. **Context** of the best-matching pair, added to its score:
//!    - same country of the two parties [`SAME_COUNTRY`], another country
//!      [`OTHER_COUNTRY`] (lowered, never vetoed: companies move and
//!      register abroad);
//!    - identifiers of the same scheme on both sides, none equal:
//!      [`IDENTIFIER_CONFLICT`];
//!    - the application's destination among the countries of the denial's
//!      consignees and end users [`SAME_DESTINATION`], else
//!      [`OTHER_DESTINATION`];
//!    - items: a control entry cited on both sides [`SAME_CONTROL_ENTRY`];
//!      else one under the same heading (`1C350.a` and `1C350`)
//!      [`SAME_HEADING`]; else, when both sides cite entries,
//!      [`NO_COMMON_CONTROL_ENTRY`]; HS codes with the same six-digit
//!      subheading [`SAME_HS_SUBHEADING`], else the same four-digit heading
//!      [`SAME_HS_HEADING`];
//!    - each further application party that matches a further denial party
//!      at [`DEFAULT_THRESHOLD`] (whatever threshold the caller
//!      screens at, so a score never depends on it): [`MORE_PARTIES`], at
//!      most twice.
//!
//! The score is clamped to 0–1 and rounded to three decimals; a denial is a
//! hit at [`DEFAULT_THRESHOLD`] or above (or the caller's threshold).

use std::fmt;

use concord_protocol::record::{
    ControlEntry, Country, Denial, HsCode, IdentifierScheme, PartyRole,
};
use serde::{Deserialize, Serialize};

use crate::application::{Application, ApplicationParty, Role};
use crate::name::{How, NameKey, NameMatch, WordMatch, compare};
use crate::terms::identifier_value;

/// The score from which a denial is reported as a hit.
pub const DEFAULT_THRESHOLD: f64 = 0.80;
/// The least party score an equal identifier gives.
pub const IDENTIFIER_SCORE: f64 = 0.95;
/// The least party score that is reported as evidence at all.
pub const EVIDENCE_FLOOR: f64 = 0.6;

/// The matched parties are in the same country.
pub const SAME_COUNTRY: f64 = 0.02;
/// The matched parties are in different countries.
pub const OTHER_COUNTRY: f64 = -0.12;
/// Both parties carry an identifier of one scheme, and none is equal.
pub const IDENTIFIER_CONFLICT: f64 = -0.15;
/// The destination is the country of a denied consignee or end user.
pub const SAME_DESTINATION: f64 = 0.02;
/// The destination is no denied consignee's or end user's country.
pub const OTHER_DESTINATION: f64 = -0.03;
/// A control entry is cited on both sides.
pub const SAME_CONTROL_ENTRY: f64 = 0.05;
/// Control entries under the same heading (`1C350.a`, `1C350`).
pub const SAME_HEADING: f64 = 0.03;
/// Both sides cite control entries, none alike.
pub const NO_COMMON_CONTROL_ENTRY: f64 = -0.10;
/// HS codes with the same six-digit subheading.
pub const SAME_HS_SUBHEADING: f64 = 0.02;
/// HS codes with the same four-digit heading only.
pub const SAME_HS_HEADING: f64 = 0.01;
/// Each further pair of parties that matches at [`DEFAULT_THRESHOLD`].
pub const MORE_PARTIES: f64 = 0.03;
const MAX_MORE_PARTIES: usize = 2;

/// A party, its names normalised, ready for comparison.
#[derive(Debug, Clone)]
pub struct PreparedParty {
    /// The name, then the aliases, as written and normalised.
    pub names: Vec<(String, NameKey)>,
    pub identifiers: Vec<(IdentifierScheme, String)>,
    pub country: Country,
}

impl PreparedParty {
    fn new<'a>(
        names: impl Iterator<Item = &'a str>,
        identifiers: &[concord_protocol::record::Identifier],
        country: Country,
    ) -> PreparedParty {
        PreparedParty {
            names: names.map(|n| (n.to_owned(), NameKey::new(n))).collect(),
            identifiers: identifiers
                .iter()
                .map(|i| (i.scheme, identifier_value(i)))
                .filter(|(_, value)| !value.is_empty())
                .collect(),
            country,
        }
    }
}

/// A denial ready for scoring: what [`crate::Index`] keeps of each.
#[derive(Debug, Clone)]
pub struct PreparedDenial {
    pub parties: Vec<PreparedParty>,
    pub roles: Vec<PartyRole>,
    pub control_entries: Vec<ControlEntry>,
    pub hs_codes: Vec<HsCode>,
    /// Countries of the consignees and end users.
    pub destinations: Vec<Country>,
}

impl PreparedDenial {
    pub fn new(denial: &Denial) -> PreparedDenial {
        let mut destinations: Vec<Country> = denial
            .parties
            .iter()
            .filter(|p| matches!(p.role, PartyRole::Consignee | PartyRole::EndUser))
            .map(|p| p.country)
            .collect();
        destinations.sort_unstable();
        destinations.dedup();
        PreparedDenial {
            parties: denial
                .parties
                .iter()
                .map(|p| {
                    let names = std::iter::once(&p.name)
                        .chain(&p.aliases)
                        .map(|n| n.as_str());
                    PreparedParty::new(names, &p.identifiers, p.country)
                })
                .collect(),
            roles: denial.parties.iter().map(|p| p.role).collect(),
            control_entries: denial
                .items
                .iter()
                .flat_map(|i| i.control_entries.iter().cloned())
                .collect(),
            hs_codes: denial
                .items
                .iter()
                .filter_map(|i| i.hs_code.clone())
                .collect(),
            destinations,
        }
    }
}

/// An application ready for scoring.
#[derive(Debug, Clone)]
pub struct PreparedApplication<'a> {
    pub application: &'a Application,
    pub parties: Vec<PreparedParty>,
}

impl<'a> PreparedApplication<'a> {
    pub fn new(application: &'a Application) -> PreparedApplication<'a> {
        let prepare = |p: &ApplicationParty| {
            let names = std::iter::once(&p.name)
                .chain(&p.aliases)
                .map(|n| n.as_str());
            PreparedParty::new(names, &p.identifiers, p.country)
        };
        PreparedApplication {
            application,
            parties: application.parties.iter().map(prepare).collect(),
        }
    }
}

/// One field of an application party that met one of a denial party.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldMatch {
    /// JSON path in the application: `parties[0].name`,
    /// `parties[0].aliases[1]`, `parties[0].identifiers[0]`.
    pub application_field: String,
    pub application_value: String,
    /// JSON path in the denial.
    pub denial_field: String,
    pub denial_value: String,
    /// 0 to 1.
    pub score: f64,
    pub how: Vec<How>,
    /// The words that met, when the names were compared word by word.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub words: Vec<WordMatch>,
}

/// An application party that met a denial party.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartyMatch {
    pub application_party: usize,
    pub application_role: Role,
    pub denial_party: usize,
    pub denial_role: PartyRole,
    /// The party score, before the context of the denial.
    pub score: f64,
    pub fields: Vec<FieldMatch>,
}

/// Which way a control entry or an HS code met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    Same,
    /// Same control-list heading, or same HS heading.
    SameHeading,
    /// Same six-digit HS subheading.
    SameSubheading,
}

/// Something around the best party match that raised or lowered the score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Factor {
    SameCountry {
        country: Country,
    },
    OtherCountry {
        application: Country,
        denial: Country,
    },
    IdentifierConflict {
        scheme: IdentifierScheme,
        application: String,
        denial: String,
    },
    SameDestination {
        destination: Country,
    },
    OtherDestination {
        destination: Country,
        denial: Vec<Country>,
    },
    ControlEntry {
        application: ControlEntry,
        denial: ControlEntry,
        relation: Relation,
    },
    NoCommonControlEntry,
    HsCode {
        application: HsCode,
        denial: HsCode,
        relation: Relation,
    },
    MoreParties {
        n_parties: usize,
    },
}

/// One factor and what it added to the score (negative: lowered it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adjustment {
    /// Written in the same JSON object as `delta`: `{"kind":
    /// "other_country", "application": "GT", "denial": "MX", "delta": -0.12}`.
    #[serde(flatten)]
    pub factor: Factor,
    pub delta: f64,
}

/// A denial the application met, with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit<K> {
    /// The caller's key of the denial (for the node, its log and index).
    pub denial: K,
    /// 0 to 1, three decimals.
    pub score: f64,
    /// The best party match first, then the others at the evidence floor.
    pub parties: Vec<PartyMatch>,
    pub adjustments: Vec<Adjustment>,
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn name_field(party: usize, name_idx: usize) -> String {
    if name_idx == 0 {
        format!("parties[{party}].name")
    } else {
        format!("parties[{party}].aliases[{}]", name_idx - 1)
    }
}

/// The best name pair and the identifier evidence of two parties.
struct PartyScore {
    score: f64,
    fields: Vec<FieldMatch>,
    conflict: Option<Factor>,
}

fn score_party(
    application: &PreparedParty,
    app_idx: usize,
    denial: &PreparedParty,
    den_idx: usize,
) -> PartyScore {
    let mut best: Option<(NameMatch, usize, usize)> = None;
    for (i, (_, key_a)) in application.names.iter().enumerate() {
        for (j, (_, key_b)) in denial.names.iter().enumerate() {
            let found = compare(key_a, key_b);
            if best.as_ref().is_none_or(|(b, _, _)| found.score > b.score) {
                best = Some((found, i, j));
            }
        }
    }
    let equal_identifiers: Vec<(usize, usize)> = application
        .identifiers
        .iter()
        .enumerate()
        .filter_map(|(i, (_, value))| {
            let j = denial.identifiers.iter().position(|(_, v)| v == value)?;
            Some((i, j))
        })
        .collect();
    let name_score = best.as_ref().map_or(0.0, |(found, _, _)| found.score);
    let score = if equal_identifiers.is_empty() {
        name_score
    } else {
        name_score.max(IDENTIFIER_SCORE)
    };
    // Most pairs of parties are far apart: their evidence is not written.
    if score < EVIDENCE_FLOOR {
        return PartyScore {
            score,
            fields: Vec::new(),
            conflict: None,
        };
    }
    let mut fields = Vec::new();
    if let Some((mut found, i, j)) = best
        && found.score > 0.0
    {
        if i > 0 || j > 0 {
            found.how.push(How::Alias);
        }
        let (key_a, key_b) = (&application.names[i].1, &denial.names[j].1);
        fields.push(FieldMatch {
            application_field: name_field(app_idx, i),
            application_value: application.names[i].0.clone(),
            denial_field: name_field(den_idx, j),
            denial_value: denial.names[j].0.clone(),
            score: round3(found.score),
            words: found.words(key_a, key_b),
            how: found.how,
        });
    }
    for &(i, j) in &equal_identifiers {
        fields.push(FieldMatch {
            application_field: format!("parties[{app_idx}].identifiers[{i}]"),
            application_value: application.identifiers[i].1.clone(),
            denial_field: format!("parties[{den_idx}].identifiers[{j}]"),
            denial_value: denial.identifiers[j].1.clone(),
            score: 1.0,
            how: vec![How::Identifier],
            words: Vec::new(),
        });
    }
    let conflict = if !equal_identifiers.is_empty() {
        None
    } else {
        application
            .identifiers
            .iter()
            .filter(|(scheme, _)| *scheme != IdentifierScheme::Other)
            .find_map(|(scheme, value)| {
                denial
                    .identifiers
                    .iter()
                    .find(|(s, _)| s == scheme)
                    .map(|(_, other)| Factor::IdentifierConflict {
                        scheme: *scheme,
                        application: value.clone(),
                        denial: other.clone(),
                    })
            })
    };
    PartyScore {
        score,
        fields,
        conflict,
    }
}

fn item_adjustments(application: &Application, denial: &PreparedDenial) -> Vec<Adjustment> {
    let mut adjustments = Vec::new();
    let entries: Vec<&ControlEntry> = application
        .items
        .iter()
        .flat_map(|i| &i.control_entries)
        .collect();
    let same = entries.iter().find_map(|a| {
        denial
            .control_entries
            .iter()
            .find(|b| *a == *b)
            .map(|b| (*a, b))
    });
    let heading = || {
        entries.iter().find_map(|a| {
            denial
                .control_entries
                .iter()
                .find(|b| a.heading() == b.heading())
                .map(|b| (*a, b))
        })
    };
    if let Some((a, b)) = same {
        adjustments.push(Adjustment {
            factor: Factor::ControlEntry {
                application: a.clone(),
                denial: b.clone(),
                relation: Relation::Same,
            },
            delta: SAME_CONTROL_ENTRY,
        });
    } else if let Some((a, b)) = heading() {
        adjustments.push(Adjustment {
            factor: Factor::ControlEntry {
                application: a.clone(),
                denial: b.clone(),
                relation: Relation::SameHeading,
            },
            delta: SAME_HEADING,
        });
    } else if !entries.is_empty() && !denial.control_entries.is_empty() {
        adjustments.push(Adjustment {
            factor: Factor::NoCommonControlEntry,
            delta: NO_COMMON_CONTROL_ENTRY,
        });
    }

    let hs_codes: Vec<&HsCode> = application.items.iter().flat_map(|i| &i.hs_codes).collect();
    let hs_match = |digits: usize, relation: Relation, delta: f64| {
        hs_codes.iter().find_map(|a| {
            denial
                .hs_codes
                .iter()
                .find(|b| a.subheading()[..digits] == b.subheading()[..digits])
                .map(|b| Adjustment {
                    factor: Factor::HsCode {
                        application: (*a).clone(),
                        denial: b.clone(),
                        relation,
                    },
                    delta,
                })
        })
    };
    if let Some(adjustment) = hs_match(6, Relation::SameSubheading, SAME_HS_SUBHEADING)
        .or_else(|| hs_match(4, Relation::SameHeading, SAME_HS_HEADING))
    {
        adjustments.push(adjustment);
    }
    adjustments
}

/// Scores one denial for a prepared application; `None` when no party of
/// the application meets one of the denial at the evidence floor.
pub fn score_denial<K>(
    application: &PreparedApplication<'_>,
    key: K,
    denial: &PreparedDenial,
) -> Option<Hit<K>> {
    let mut matches: Vec<(PartyScore, usize, usize)> = Vec::new();
    for (a, party_a) in application.parties.iter().enumerate() {
        for (d, party_d) in denial.parties.iter().enumerate() {
            let party = score_party(party_a, a, party_d, d);
            if party.score >= EVIDENCE_FLOOR {
                matches.push((party, a, d));
            }
        }
    }
    // Best first; ties in the order of the parties.
    matches.sort_by(|x, y| {
        y.0.score
            .total_cmp(&x.0.score)
            .then((x.1, x.2).cmp(&(y.1, y.2)))
    });
    let (best, best_a, best_d) = matches.first()?;
    let app = application.application;

    let mut adjustments = Vec::new();
    let (country_a, country_d) = (
        application.parties[*best_a].country,
        denial.parties[*best_d].country,
    );
    adjustments.push(if country_a == country_d {
        Adjustment {
            factor: Factor::SameCountry { country: country_a },
            delta: SAME_COUNTRY,
        }
    } else {
        Adjustment {
            factor: Factor::OtherCountry {
                application: country_a,
                denial: country_d,
            },
            delta: OTHER_COUNTRY,
        }
    });
    if let Some(conflict) = &best.conflict {
        adjustments.push(Adjustment {
            factor: conflict.clone(),
            delta: IDENTIFIER_CONFLICT,
        });
    }
    adjustments.push(if denial.destinations.contains(&app.destination) {
        Adjustment {
            factor: Factor::SameDestination {
                destination: app.destination,
            },
            delta: SAME_DESTINATION,
        }
    } else {
        Adjustment {
            factor: Factor::OtherDestination {
                destination: app.destination,
                denial: denial.destinations.clone(),
            },
            delta: OTHER_DESTINATION,
        }
    });
    adjustments.extend(item_adjustments(app, denial));

    // Further parties count once each, on both sides.
    let base = best.score + adjustments.iter().map(|a| a.delta).sum::<f64>();
    let mut used_a = vec![*best_a];
    let mut used_d = vec![*best_d];
    let mut kept = vec![0];
    let mut n_more = 0;
    for (idx, (party, a, d)) in matches.iter().enumerate().skip(1) {
        if used_a.contains(a) || used_d.contains(d) {
            continue;
        }
        used_a.push(*a);
        used_d.push(*d);
        kept.push(idx);
        if party.score >= DEFAULT_THRESHOLD {
            n_more += 1;
        }
    }
    let n_more = n_more.min(MAX_MORE_PARTIES);
    if n_more > 0 {
        adjustments.push(Adjustment {
            factor: Factor::MoreParties { n_parties: n_more },
            delta: MORE_PARTIES * n_more as f64,
        });
    }
    let score = round3((base + MORE_PARTIES * n_more as f64).clamp(0.0, 1.0));
    let parties = kept
        .into_iter()
        .map(|idx| {
            let (party, a, d) = &matches[idx];
            PartyMatch {
                application_party: *a,
                application_role: app.parties[*a].role,
                denial_party: *d,
                denial_role: denial.roles[*d],
                score: round3(party.score),
                fields: party.fields.clone(),
            }
        })
        .collect();
    for adjustment in &mut adjustments {
        adjustment.delta = round3(adjustment.delta);
    }
    Some(Hit {
        denial: key,
        score,
        parties,
        adjustments,
    })
}

/// Screens `application` against `denials` (each with the caller's key):
/// the hits at `threshold` or above, best first, ties by key.
///
/// The node passes the denials its store's postings selected (see
/// [`crate::terms`](mod@crate::terms)); [`crate::Index::screen`] selects them in memory and
/// scores them the same way.
pub fn screen<'d, K: Ord>(
    application: &Application,
    denials: impl IntoIterator<Item = (K, &'d Denial)>,
    threshold: f64,
) -> Vec<Hit<K>> {
    let prepared = PreparedApplication::new(application);
    let mut hits: Vec<Hit<K>> = denials
        .into_iter()
        .filter_map(|(key, denial)| score_denial(&prepared, key, &PreparedDenial::new(denial)))
        .filter(|hit| hit.score >= threshold)
        .collect();
    sort_hits(&mut hits);
    hits
}

/// Best first, ties by key.
pub fn sort_hits<K: Ord>(hits: &mut [Hit<K>]) {
    hits.sort_by(|x, y| {
        y.score
            .total_cmp(&x.score)
            .then_with(|| x.denial.cmp(&y.denial))
    });
}

fn role_name(role: PartyRole) -> &'static str {
    match role {
        PartyRole::Consignee => "consignee",
        PartyRole::EndUser => "end_user",
        PartyRole::Intermediary => "intermediary",
    }
}

impl fmt::Display for Factor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Factor::SameCountry { country } => write!(f, "same country {country}"),
            Factor::OtherCountry {
                application,
                denial,
            } => write!(f, "country {application}, denied in {denial}"),
            Factor::IdentifierConflict {
                scheme,
                application,
                denial,
            } => write!(f, "{scheme:?} {application} differs from {denial}"),
            Factor::SameDestination { destination } => {
                write!(f, "destination {destination} as denied")
            }
            Factor::OtherDestination { destination, .. } => {
                write!(f, "destination {destination} not among the denial's")
            }
            Factor::ControlEntry {
                application,
                denial,
                relation,
            } => match relation {
                Relation::Same => write!(f, "control entry {application} as denied"),
                _ => write!(f, "control entry {application} under {}", denial.heading()),
            },
            Factor::NoCommonControlEntry => f.write_str("no control entry in common"),
            Factor::HsCode {
                application,
                denial,
                ..
            } => write!(f, "HS {application} near {denial}"),
            Factor::MoreParties { n_parties } => write!(f, "{n_parties} more parties match"),
        }
    }
}

impl<K: fmt::Display> fmt::Display for Hit<K> {
    /// One line: score, denial, the best party's evidence, the adjustments.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2} {}", self.score, self.denial)?;
        if let Some(party) = self.parties.first() {
            write!(
                f,
                ": {} met {}",
                party.application_role.as_str(),
                role_name(party.denial_role)
            )?;
            for field in &party.fields {
                let how: Vec<String> = field.how.iter().map(How::to_string).collect();
                write!(
                    f,
                    " «{}» ~ «{}» ({})",
                    field.application_value,
                    field.denial_value,
                    how.join(", ")
                )?;
            }
        }
        for adjustment in &self.adjustments {
            write!(f, "; {} {:+.2}", adjustment.factor, adjustment.delta)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{application, denial};

    const QUIMICA: &str = r#"[{"role": "consignee", "name": "Química del Pacífico S.A. de C.V.",
        "country": "MX", "identifiers": [{"scheme": "tax_id", "value": "QPA-010101-9Z8"}]}]"#;
    const THIODIGLYCOL: &str =
        r#"[{"description": "Thiodiglycol", "control_entries": ["1C350"], "hs_code": "2930.90"}]"#;

    fn hit(parties: &str, items: &str, destination: &str) -> Option<Hit<u32>> {
        let denials = [denial(QUIMICA, THIODIGLYCOL)];
        screen(
            &application(parties, items, destination),
            denials.iter().map(|d| (7, d)),
            0.0,
        )
        .pop()
    }

    #[test]
    fn a_hit_explains_each_field_and_factor() {
        let found = hit(
            r#"[{"role": "purchaser", "name": "Quimica del Pacifco", "country": "MX"}]"#,
            r#"[{"description": "item", "control_entries": ["1C350.a"], "hs_codes": ["2930.90.01"]}]"#,
            "MX",
        )
        .expect("a hit");
        let field = &found.parties[0].fields[0];
        assert_eq!(field.application_field, "parties[0].name");
        assert_eq!(field.denial_field, "parties[0].name");
        assert_eq!(field.how, [How::SameKey, How::EditDistance { distance: 1 }]);
        assert_eq!(field.words[1].application, "pacifco");
        assert_eq!(field.words[1].denial, "pacifico");
        let factors: Vec<&Factor> = found.adjustments.iter().map(|a| &a.factor).collect();
        assert!(
            matches!(factors[0], Factor::SameCountry { .. }),
            "{factors:?}"
        );
        assert!(
            matches!(factors[1], Factor::SameDestination { .. }),
            "{factors:?}"
        );
        assert!(
            matches!(
                factors[2],
                Factor::ControlEntry {
                    relation: Relation::SameHeading,
                    ..
                }
            ),
            "{factors:?}"
        );
        assert!(
            matches!(
                factors[3],
                Factor::HsCode {
                    relation: Relation::SameSubheading,
                    ..
                }
            ),
            "{factors:?}"
        );
        // Name (2 + 2 × 0.9375) / 4, then +0.02 +0.02 +0.03 +0.02, clamped to 1.
        assert_eq!(found.score, 1.0);

        let json = serde_json::to_value(&found).expect("serialisable");
        assert_eq!(
            json["parties"][0]["fields"][0]["how"][1]["kind"],
            "edit_distance"
        );
        assert_eq!(json["parties"][0]["fields"][0]["how"][1]["distance"], 1);
        assert_eq!(json["adjustments"][2]["kind"], "control_entry");
        let back: Hit<u32> = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, found);

        let line = found.to_string();
        assert!(
            line.starts_with("1.00 7: purchaser met consignee"),
            "{line}"
        );
        assert!(line.contains("(same key, edit distance 1)"), "{line}");
        assert!(
            line.contains("control entry 1C350.a under 1C350 +0.03"),
            "{line}"
        );
    }

    #[test]
    fn another_country_lowers_without_veto() {
        let at_home = hit(
            r#"[{"role": "consignee", "name": "Quimica del Pacifico", "country": "MX"}]"#,
            "[{}]",
            "MX",
        )
        .expect("a hit");
        let abroad = hit(
            r#"[{"role": "consignee", "name": "Quimica del Pacifico", "country": "GT"}]"#,
            "[{}]",
            "GT",
        )
        .expect("a hit");
        // The same name: 1, raised at home (clamped), lowered abroad.
        assert_eq!(at_home.score, 1.0);
        assert_eq!(
            abroad.score,
            round3(1.0 + OTHER_COUNTRY + OTHER_DESTINATION)
        );
        assert!(abroad.score >= DEFAULT_THRESHOLD, "{abroad}");
    }

    #[test]
    fn identifiers_are_strong_evidence_both_ways() {
        let same_id = hit(
            r#"[{"role": "end_user", "name": "Sol Naciente Trading", "country": "MX",
                 "identifiers": [{"scheme": "tax_id", "value": "qpa0101019z8"}]}]"#,
            "[{}]",
            "MX",
        )
        .expect("a hit");
        assert!(same_id.score >= DEFAULT_THRESHOLD, "{same_id}");
        assert!(
            same_id.parties[0]
                .fields
                .iter()
                .any(|f| f.how == [How::Identifier])
        );

        let other_id = hit(
            r#"[{"role": "end_user", "name": "Quimica del Pacifico", "country": "MX",
                 "identifiers": [{"scheme": "tax_id", "value": "QPB-990101-AA1"}]}]"#,
            "[{}]",
            "MX",
        )
        .expect("a hit");
        assert!(
            other_id
                .adjustments
                .iter()
                .any(|a| matches!(a.factor, Factor::IdentifierConflict { .. })
                    && a.delta == IDENTIFIER_CONFLICT)
        );
    }

    #[test]
    fn other_items_lower_the_score() {
        let found = hit(
            r#"[{"role": "consignee", "name": "Quimica del Pacifico", "country": "MX"}]"#,
            r#"[{"description": "item", "control_entries": ["6A003"]}]"#,
            "MX",
        )
        .expect("a hit");
        assert!(found.adjustments.iter().any(
            |a| a.factor == Factor::NoCommonControlEntry && a.delta == NO_COMMON_CONTROL_ENTRY
        ));
    }

    #[test]
    fn aliases_meet_on_both_sides() {
        let denials = [denial(
            r#"[{"role": "end_user", "name": "Tehuantepec Holdings", "country": "MX",
                 "aliases": ["Grupo Istmo", "Istmo Industrial"]}]"#,
            THIODIGLYCOL,
        )];
        let application = application(
            r#"[{"role": "consignee", "name": "Oaxaca Trading", "country": "MX",
                 "aliases": ["Istmo Grupo"]}]"#,
            "[{}]",
            "MX",
        );
        let hits = screen(
            &application,
            denials.iter().map(|d| (1, d)),
            DEFAULT_THRESHOLD,
        );
        let field = &hits[0].parties[0].fields[0];
        assert_eq!(field.application_field, "parties[0].aliases[0]");
        assert_eq!(field.denial_field, "parties[0].aliases[0]");
        assert!(field.how.contains(&How::Alias), "{:?}", field.how);
        assert!(field.how.contains(&How::WordOrder), "{:?}", field.how);
    }

    #[test]
    fn unrelated_names_are_no_hit() {
        let found = hit(
            r#"[{"role": "consignee", "name": "Aceros Andinos", "country": "MX"}]"#,
            r#"[{"description": "item", "control_entries": ["1C350"]}]"#,
            "MX",
        );
        assert!(found.is_none(), "{found:?}");
    }
}
