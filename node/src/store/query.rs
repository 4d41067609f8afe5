//! Reads for officers and auditors, and the operator's decisions: denial
//! status, index lookups, evidence of equivocation, quarantine, payload purges.
//!
//! A denial's status is `concord_protocol::ledger`'s; the store keeps it as
//! JSON, one record per denial in the log's status pages.

use concord_protocol::entry::Digest256;
use concord_protocol::equivocation::{Equivocation, EquivocationProof, KeyLookup, ProofError};
use concord_protocol::ledger::{DenialStatus, Quarantine};
use concord_protocol::origin::Origin;
use concord_protocol::record::Date;
use serde::{Deserialize, Serialize};

use super::keys::{self, IndexKind, log_item_key};
use super::{Store, StoreError, page};

/// A stored equivocation proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceRecord {
    pub origin: Origin,
    pub position: u64,
    pub found_at: u64,
    pub proof: EquivocationProof,
}

/// Why a log is quarantined, and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantineRecord {
    pub origin: Origin,
    pub since: u64,
    pub reason: String,
}

/// A payload removed when its retention ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeRecord {
    pub index: u64,
    pub sha256: Digest256,
    pub purged_at: u64,
    pub reason: String,
}

fn parse_status(json: &[u8]) -> Result<DenialStatus, StoreError> {
    serde_json::from_slice(json).map_err(|e| StoreError::Corrupt(format!("denial status: {e}")))
}

/// The status in `slot` of status page `number` of a log, if that entry is
/// a denial.
pub(super) fn status_in_page(
    page: &[u8],
    number: u64,
    slot: usize,
    log_id: u32,
) -> Result<Option<DenialStatus>, StoreError> {
    match page::records(page).nth(slot) {
        None | Some(Ok([])) => Ok(None),
        Some(Ok(json)) => parse_status(json).map(Some),
        Some(Err(page::Malformed)) => Err(malformed_status_page(number, log_id)),
    }
}

pub(super) fn malformed_status_page(number: u64, log_id: u32) -> StoreError {
    StoreError::Corrupt(format!("status page {number} of log {log_id} is malformed"))
}

impl Store {
    pub(super) fn status_by_id(
        &self,
        log_id: u32,
        index: u64,
    ) -> Result<Option<DenialStatus>, StoreError> {
        let (number, slot) = page::locate(index);
        match self.inner.data.get(keys::status_page_key(log_id, number))? {
            Some(raw) => status_in_page(&raw, number, slot, log_id),
            None => Ok(None),
        }
    }

    /// Status of the denial at `index` of `origin`.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure.
    pub fn denial_status(
        &self,
        origin: &Origin,
        index: u64,
    ) -> Result<Option<DenialStatus>, StoreError> {
        match self.log_id(origin) {
            Some(id) => self.status_by_id(id, index),
            None => Ok(None),
        }
    }

    /// Every (log, index) the index `kind` lists under `term`.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure.
    pub fn lookup(&self, kind: IndexKind, term: &str) -> Result<Vec<(Origin, u64)>, StoreError> {
        let mut out = Vec::new();
        for item in self.inner.data.scan_prefix(keys::index_prefix(kind, term)) {
            let (key, postings) = item?;
            let Some(origin) = keys::index_log(&key).and_then(|id| self.origin_of(id)) else {
                continue;
            };
            for index in postings.chunks_exact(8) {
                let index = u64::from_be_bytes(index.try_into().expect("chunks of eight bytes"));
                out.push((origin.clone(), index));
            }
        }
        Ok(out)
    }

    /// The first index of log `log_id` the index `kind` lists under `term`.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure.
    pub(super) fn first_posting(
        &self,
        kind: IndexKind,
        term: &str,
        log_id: u32,
    ) -> Result<Option<u64>, StoreError> {
        let mut prefix = keys::index_prefix(kind, term);
        prefix.extend_from_slice(&log_id.to_be_bytes());
        // Keys end with the first index of their group, big-endian: the
        // first key holds the log's first posting.
        match self.inner.data.scan_prefix(prefix).next() {
            Some(item) => {
                let (_, postings) = item?;
                Ok(postings
                    .get(..8)
                    .map(|first| u64::from_be_bytes(first.try_into().expect("eight bytes"))))
            }
            None => Ok(None),
        }
    }

    /// Verifies `proof` against `roster` and, if it proves an equivocation,
    /// keeps it and quarantines its log, both durably, as found at
    /// `found_at`. Every path that comes upon a proof (gossip, sync, a
    /// conflicting checkpoint, an import) records it here, so each keeps the
    /// same evidence and the same quarantine.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be written; a proof that does
    /// not verify is the inner error, and nothing is kept.
    pub async fn record_equivocation(
        &self,
        proof: EquivocationProof,
        roster: &impl KeyLookup,
        found_at: u64,
    ) -> Result<Result<Equivocation, ProofError>, StoreError> {
        let found = match proof.verify(roster) {
            Ok(found) => found,
            Err(e) => return Ok(Err(e)),
        };
        let record = EvidenceRecord {
            origin: found.origin.clone(),
            position: found.position,
            found_at,
            proof,
        };
        let json = serde_json::to_vec(&record).expect("evidence holds only strings and integers");
        self.inner
            .evidence
            .insert(evidence_id(&record.proof), json)?;
        if self.quarantined(&record.origin)?.is_none() {
            let quarantine = QuarantineRecord {
                origin: record.origin.clone(),
                since: record.found_at,
                reason: format!("equivocation at position {}", record.position),
            };
            self.inner.quarantine.insert(
                record.origin.as_str(),
                serde_json::to_vec(&quarantine).expect("serialisable"),
            )?;
        }
        self.flush().await?;
        Ok(Ok(found))
    }

    /// Whether this very proof is held. Sync offers a peer's proofs every
    /// round; one already held is not verified or recorded again, so a
    /// quarantine an operator cleared stays cleared.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure.
    pub fn holds_evidence(&self, proof: &EquivocationProof) -> Result<bool, StoreError> {
        Ok(self.inner.evidence.contains_key(evidence_id(proof))?)
    }

    /// Every equivocation proof held.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure.
    pub fn evidence(&self) -> Result<Vec<EvidenceRecord>, StoreError> {
        self.inner
            .evidence
            .iter()
            .values()
            .map(|raw| {
                serde_json::from_slice(&raw?)
                    .map_err(|e| StoreError::Corrupt(format!("evidence record: {e}")))
            })
            .collect()
    }

    /// The quarantine record of `origin`, if it is quarantined.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure.
    pub fn quarantined(&self, origin: &Origin) -> Result<Option<QuarantineRecord>, StoreError> {
        match self.inner.quarantine.get(origin.as_str())? {
            None => Ok(None),
            Some(raw) => serde_json::from_slice(&raw)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("quarantine record of {origin}: {e}"))),
        }
    }

    /// Whether `origin` is quarantined, as the ledger's rules read it.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure.
    pub fn quarantine(&self, origin: &Origin) -> Result<Quarantine, StoreError> {
        Ok(if self.inner.quarantine.contains_key(origin.as_str())? {
            Quarantine::Held
        } else {
            Quarantine::Clear
        })
    }

    /// Every quarantined log.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure.
    pub fn quarantines(&self) -> Result<Vec<QuarantineRecord>, StoreError> {
        self.inner
            .quarantine
            .iter()
            .values()
            .map(|raw| {
                serde_json::from_slice(&raw?)
                    .map_err(|e| StoreError::Corrupt(format!("quarantine record: {e}")))
            })
            .collect()
    }

    /// Lifts the quarantine of `origin`, recording who decided and why.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be written.
    pub async fn clear_quarantine(
        &self,
        origin: &Origin,
        operator: &str,
        reason: &str,
        now: u64,
    ) -> Result<bool, StoreError> {
        let Some(record) = self.quarantined(origin)? else {
            return Ok(false);
        };
        let decision = serde_json::json!({
            "origin": origin, "cleared_at": now, "operator": operator, "reason": reason, "quarantine": record,
        });
        let mut key = now.to_be_bytes().to_vec();
        key.extend_from_slice(origin.as_str().as_bytes());
        self.inner
            .decisions
            .insert(key, serde_json::to_vec(&decision).expect("serialisable"))?;
        self.inner.quarantine.remove(origin.as_str())?;
        self.flush().await?;
        Ok(true)
    }

    /// Operator decisions recorded so far, oldest first.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure.
    pub fn decisions(&self) -> Result<Vec<serde_json::Value>, StoreError> {
        self.inner
            .decisions
            .iter()
            .values()
            .map(|raw| {
                serde_json::from_slice(&raw?)
                    .map_err(|e| StoreError::Corrupt(format!("decision record: {e}")))
            })
            .collect()
    }

    /// Removes the payload of entry `index` of `origin` and records the purge.
    /// Headers, hashes and proofs are untouched, so the log still verifies.
    ///
    /// # Errors
    /// [`StoreError::OutOfRange`] for an index not stored.
    pub async fn purge_payload(
        &self,
        origin: &Origin,
        index: u64,
        reason: &str,
        now: u64,
    ) -> Result<bool, StoreError> {
        let log_id = self
            .log_id(origin)
            .ok_or_else(|| StoreError::UnknownLog(origin.clone()))?;
        let entry = self
            .entry_by_id(log_id, index)?
            .ok_or_else(|| StoreError::OutOfRange {
                origin: origin.clone(),
                index,
                size: self.head_of(log_id).map(|h| h.size).unwrap_or(0),
            })?;
        let header = entry
            .decode_header()
            .map_err(|e| StoreError::Corrupt(format!("entry {index} of {origin}: {e}")))?;
        let digest = header.payload.sha256;
        if self.inner.data.get(keys::payload_key(&digest.0))?.is_none() {
            return Ok(false);
        }
        let purge = PurgeRecord {
            index,
            sha256: digest,
            purged_at: now,
            reason: reason.to_owned(),
        };
        let mut batch = sled::Batch::default();
        batch.remove(&keys::payload_key(&digest.0)[..]);
        batch.insert(
            &log_item_key(keys::PURGE, log_id, index),
            serde_json::to_vec(&purge).expect("serialisable"),
        );
        let row = self.forget_row(&mut batch, log_id, index)?;
        self.apply_forgetting(batch, log_id, index, row)?;
        self.flush().await?;
        Ok(true)
    }

    /// The purge record of entry `index` of `origin`, if its payload was purged.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure.
    pub fn purge_record(
        &self,
        origin: &Origin,
        index: u64,
    ) -> Result<Option<PurgeRecord>, StoreError> {
        match self.log_id(origin) {
            Some(log_id) => self.purge_record_by_id(log_id, index),
            None => Ok(None),
        }
    }

    /// Every purge record of `origin`, in index order.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure or a record that does not parse.
    pub fn purge_records(&self, origin: &Origin) -> Result<Vec<PurgeRecord>, StoreError> {
        let Some(log_id) = self.log_id(origin) else {
            return Ok(Vec::new());
        };
        self.inner
            .data
            .scan_prefix(keys::log_key(keys::PURGE, log_id))
            .map(|item| {
                let (_, raw) = item?;
                serde_json::from_slice(&raw).map_err(|e| {
                    StoreError::Corrupt(format!("a purge record of log {log_id}: {e}"))
                })
            })
            .collect()
    }

    pub(super) fn purge_record_by_id(
        &self,
        log_id: u32,
        index: u64,
    ) -> Result<Option<PurgeRecord>, StoreError> {
        match self
            .inner
            .data
            .get(log_item_key(keys::PURGE, log_id, index))?
        {
            None => Ok(None),
            Some(raw) => serde_json::from_slice(&raw).map(Some).map_err(|e| {
                StoreError::Corrupt(format!(
                    "purge record of entry {index} of log {log_id}: {e}"
                ))
            }),
        }
    }
}

impl Store {
    /// Denials whose validity ended more than `grace_days` before `today`,
    /// each with every entry of its chain (the denial, its amendments and its
    /// revocation).
    ///
    /// # Errors
    /// [`StoreError`] on a read failure.
    pub fn expired_denials(
        &self,
        today: &Date,
        grace_days: u32,
    ) -> Result<Vec<(Origin, Vec<u64>)>, StoreError> {
        let mut out = Vec::new();
        for item in self.inner.data.scan_prefix([keys::STATUS_PAGE]) {
            let (key, raw) = item?;
            let Some((log_id, number)) = keys::log_item_of(&key) else {
                continue;
            };
            let Some(origin) = self.origin_of(log_id) else {
                continue;
            };
            for (index, json) in (number * page::ENTRIES..).zip(page::records(&raw)) {
                let json = json.map_err(|_| {
                    StoreError::Corrupt(format!("status page {number} of {origin} is malformed"))
                })?;
                if json.is_empty() {
                    continue;
                }
                let status = parse_status(json)?;
                let Some(until) = status
                    .valid_until
                    .as_deref()
                    .and_then(|d| Date::parse(d).ok())
                else {
                    continue;
                };
                let Some(purge_from) = until.add_days(i64::from(grace_days)) else {
                    continue;
                };
                if &purge_from < today {
                    let mut chain = vec![index];
                    chain.extend(&status.history);
                    out.push((origin.clone(), chain));
                }
            }
        }
        Ok(out)
    }

    /// Purges the payloads of every denial chain past its retention (see
    /// [`Store::expired_denials`]); returns how many payloads were removed.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be read or written.
    pub async fn purge_expired(
        &self,
        today: &Date,
        grace_days: u32,
        now: u64,
    ) -> Result<u64, StoreError> {
        let mut purged = 0;
        for (origin, chain) in self.expired_denials(today, grace_days)? {
            for index in chain {
                let reason = format!(
                    "retention: denial validity ended more than {grace_days} days before {today}"
                );
                if self.purge_payload(&origin, index, &reason, now).await? {
                    purged += 1;
                }
            }
        }
        Ok(purged)
    }
}

/// The key of a proof in the evidence tree: the digest of its JSON form.
fn evidence_id(proof: &EquivocationProof) -> [u8; 32] {
    Digest256::of(&serde_json::to_vec(proof).expect("a proof serialises")).0
}
