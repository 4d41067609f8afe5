//! `concord verify-screening`: what a saved screening result proves, checked
//! offline (PROTOCOL.md §11.3).
//!
//! Proven from the result alone: each screened checkpoint was signed by
//! its log's key in the roster; each hit's entries are signed by their
//! member, are in that checkpoint's tree, and their payloads are the ones
//! their headers commit to; each hit's version is the last of its chain;
//! and its score and explanation are what this build's matcher gives the
//! application and that version. Not proven from the result alone: that
//! no other denial of those logs matched, since the result does not carry
//! them. A store that holds the same checkpoints settles that too: the
//! application is screened again over each log cut at the result's
//! checkpoint, on the result's date, and the hit sets compared.

use std::collections::HashMap;

use concord_keys::roster::Roster;
use concord_protocol::base64;
use concord_protocol::checkpoint::SignedCheckpoint;
use concord_protocol::entry::{Digest256, SignedEntry};
use concord_protocol::equivocation::KeyLookup;
use concord_protocol::ledger;
use concord_protocol::origin::Origin;
use concord_protocol::proof::Proof;
use concord_protocol::record::{Kind, Record};
use concord_screening::{PreparedApplication, PreparedDenial};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{EntryKey, HitView, RESULT_FORMAT, ScreeningResult, hits_of};
use crate::store::Store;

/// What a verification found.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Verdict {
    /// Which roster the signatures were checked against, and its
    /// fingerprint.
    pub roster: String,
    pub logs: usize,
    pub hits: usize,
    /// Empty when everything the result claims holds.
    pub findings: Vec<String>,
    /// What was established about denials that are not hits.
    pub absent_hits: String,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Verifies `result` against `trusted` (a roster and where it came from),
/// or else the roster the result carries; with `store`, also that its hit
/// set is the whole of what the store's logs give at the same checkpoints.
pub fn verify(
    result: &ScreeningResult,
    trusted: Option<(Roster, String)>,
    store: Option<&Store>,
) -> Verdict {
    let mut findings = Vec::new();
    if result.format != RESULT_FORMAT {
        findings.push(format!(
            "format {:?} is not {RESULT_FORMAT:?}",
            result.format
        ));
    }
    let (roster, source) = match trusted {
        Some(trusted) => trusted,
        None => match carried_roster(&result.rosters) {
            Ok(roster) => {
                let version = roster.version;
                (
                    roster,
                    format!(
                        "v{version} carried by the result, not checked against a roster this verification trusts (give --roster FILE or --home DIR, or compare the fingerprint with your federation's)"
                    ),
                )
            }
            Err(why) => {
                findings.push(why);
                return Verdict {
                    roster: "none".into(),
                    logs: result.logs.len(),
                    hits: result.hits.len(),
                    findings,
                    absent_hits: "not examined: no roster to check the result against".into(),
                };
            }
        },
    };
    let roster_source = format!("{source}; fingerprint {}", roster.fingerprint());

    let mut checkpoints: HashMap<Origin, (SignedCheckpoint, String)> = HashMap::new();
    let mut sizes = HashMap::new();
    for log in &result.logs {
        sizes.insert(log.origin.clone(), log.size);
        let Some(note) = &log.checkpoint else {
            if log.size > 0 {
                findings.push(format!(
                    "{}: {} entries screened without a checkpoint",
                    log.origin, log.size
                ));
            }
            continue;
        };
        match SignedCheckpoint::parse(note.as_bytes())
            .map_err(|e| e.to_string())
            .and_then(|signed| {
                let body = &signed.checkpoint;
                if body.origin != log.origin || body.size != log.size {
                    return Err(format!(
                        "the checkpoint is of {} at size {}",
                        body.origin, body.size
                    ));
                }
                signed
                    .verify(&log.origin, &roster.checkpoint_verifiers(&log.origin))
                    .map_err(|e| e.to_string())?;
                Ok(signed)
            }) {
            Ok(signed) => {
                checkpoints.insert(log.origin.clone(), (signed, note.clone()));
            }
            Err(why) => findings.push(format!("{}: checkpoint: {why}", log.origin)),
        }
    }

    let application = PreparedApplication::new(&result.application);
    for hit in &result.hits {
        let at = format!("hit {}#{}", hit.entry.origin, hit.entry.index);
        match checkpoints.get(&hit.entry.origin) {
            None => findings.push(format!("{at}: its log has no verified checkpoint here")),
            Some(checkpoint) => {
                if let Err(why) = check_hit(hit, checkpoint, &roster, &application) {
                    findings.push(format!("{at}: {why}"));
                }
            }
        }
    }

    let absent_hits = match store {
        None => "not proven: the result carries its hits only; verify with --home DIR of a node that holds these checkpoints to screen the same logs again".to_owned(),
        Some(store) => match rescreen(result, store, &sizes, &checkpoints) {
            Ok(()) => "proven: the same logs, cut at the result's checkpoints, give exactly these hits".to_owned(),
            Err(why) => {
                findings.push(format!("hit set: {why}"));
                "not proven (see the findings)".to_owned()
            }
        },
    };
    Verdict {
        roster: roster_source,
        logs: result.logs.len(),
        hits: result.hits.len(),
        findings,
        absent_hits,
    }
}

fn carried_roster(files: &[String]) -> Result<Roster, String> {
    let files = files
        .iter()
        .map(base64::decode)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("a roster file the result carries is {e}"))?;
    concord_keys::SignedRoster::verify_chain(&files)
        .map_err(|(position, e)| format!("roster file {} the result carries: {e}", position + 1))
}

/// One hit's entries, proofs, chain and score.
fn check_hit(
    hit: &HitView,
    (checkpoint, note): &(SignedCheckpoint, String),
    roster: &Roster,
    application: &PreparedApplication<'_>,
) -> Result<(), String> {
    let mut last = None;
    for (position, proven) in hit.entries.iter().enumerate() {
        let (entry, payload) = proven
            .entry
            .decode()
            .map_err(|e| format!("entry {}: {e}", proven.index))?;
        let header = entry
            .decode_header()
            .map_err(|e| format!("entry {}: {e}", proven.index))?;
        if header.origin != hit.entry.origin || header.index != proven.index {
            return Err(format!(
                "entry {} is {}#{}",
                proven.index, header.origin, header.index
            ));
        }
        let expected = if position == 0 {
            Kind::Denial
        } else {
            Kind::DenialAmend
        };
        let chained = position == 0 && proven.index == hit.entry.index
            || position > 0 && header.refers_to.map(|r| r.index) == Some(hit.entry.index);
        if header.kind != expected || !chained {
            return Err(format!(
                "entry {} is a {} that is not part of the denial's chain",
                proven.index, header.kind
            ));
        }
        let key = ledger::authorised_key(roster, &header).map_err(|e| e.to_string())?;
        entry
            .check_signature(&header, &key)
            .map_err(|e| format!("entry {}: {e}", proven.index))?;
        included(
            &entry,
            proven.index,
            &proven.proof,
            checkpoint,
            note,
            roster,
        )?;
        last = Some((proven.index, header, payload));
    }
    let Some((index, header, payload)) = last else {
        return Err("no entries".into());
    };
    if index != hit.current.index {
        return Err(format!(
            "the version scored is entry {}, but the chain ends at {index}",
            hit.current.index
        ));
    }
    let payload = payload.ok_or("the scored version's payload is missing")?;
    if Sha256::digest(&payload)[..] != header.payload.sha256.0[..] {
        return Err(format!(
            "entry {index}: the payload is not the one its header commits to"
        ));
    }
    let denial = match Record::parse(header.kind, &payload) {
        Ok(Record::Denial(denial)) => denial,
        Ok(Record::DenialAmend(amend)) => amend.denial,
        Ok(_) | Err(_) => return Err(format!("entry {index}: the payload is no denial")),
    };
    if denial != hit.current.denial {
        return Err("the denial shown is not the scored entry's payload".into());
    }
    let again = concord_screening::score_denial(
        application,
        hit.entry.clone(),
        &PreparedDenial::new(&denial),
    )
    .ok_or("the application does not meet this denial")?;
    if again.score != hit.score
        || again.parties != hit.explanation.parties
        || again.adjustments != hit.explanation.adjustments
    {
        return Err(format!(
            "scored again, the hit is {} with another explanation, not {}",
            again.score, hit.score
        ));
    }
    Ok(())
}

fn included(
    entry: &SignedEntry,
    index: u64,
    hashes: &[Digest256],
    checkpoint: &SignedCheckpoint,
    note: &str,
    roster: &Roster,
) -> Result<(), String> {
    let proof = Proof::Inclusion {
        origin: checkpoint.checkpoint.origin.clone(),
        index,
        leaf_hash: Digest256(entry.leaf_hash()),
        tree_size: checkpoint.checkpoint.size,
        root: Digest256(checkpoint.checkpoint.root),
        hashes: hashes.to_vec(),
        checkpoint: Some(note.to_owned()),
    };
    proof
        .verify_signed(roster)
        .map(|_| ())
        .map_err(|e| format!("entry {index}: inclusion: {e}"))
}

/// Screens the result's application again over `store`, each log cut at
/// the result's checkpoint, and compares the hit sets.
fn rescreen(
    result: &ScreeningResult,
    store: &Store,
    sizes: &HashMap<Origin, u64>,
    checkpoints: &HashMap<Origin, (SignedCheckpoint, String)>,
) -> Result<(), String> {
    for (origin, (checkpoint, _)) in checkpoints {
        let root = store
            .root_at(origin, checkpoint.checkpoint.size)
            .map_err(|e| format!("{origin}: the store cannot give the checkpoint's tree: {e}"))?;
        if root != checkpoint.checkpoint.root {
            return Err(format!(
                "{origin}: the store's tree of size {} is not the checkpoint's",
                checkpoint.checkpoint.size
            ));
        }
    }
    let again = hits_of(
        store,
        sizes,
        result.at,
        &result.application,
        result.threshold,
    )
    .map_err(|e| e.to_string())?;
    let keys = |hits: &[HitView]| {
        hits.iter()
            .map(|h| h.entry.clone())
            .collect::<Vec<EntryKey>>()
    };
    let (found, claimed) = (keys(&again), keys(&result.hits));
    if found != claimed {
        let show = |keys: &[EntryKey]| {
            keys.iter()
                .map(|k| format!("{}#{}", k.origin, k.index))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(format!(
            "screened again the logs give [{}], the result lists [{}]",
            show(&found),
            show(&claimed)
        ));
    }
    Ok(())
}
