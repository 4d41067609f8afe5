//! What re-screening needs kept: the applications screened lately, the
//! alerts raised, and how far each log was looked at for new denials. Each
//! in a tree of its own, as JSON the alerts room (`crate::alerts`) defines;
//! none of it is part of any log, so none of it is verified or exported.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `screenings` | screened at (u64 seconds) ‖ id (u64) | the application, threshold and hits |
//! | `alerts` | id (u64) | the alert |
//! | `alert_cursors` | origin | u64: the entries below it were looked at |

use serde::Serialize;
use serde::de::DeserializeOwned;

use concord_protocol::origin::Origin;

use super::{Store, StoreError};

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("alerts and screenings serialise")
}

fn decode<T: DeserializeOwned>(tree: &str, raw: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(raw).map_err(|e| StoreError::Corrupt(format!("{tree}: {e}")))
}

impl Store {
    fn tree(&self, name: &str) -> Result<sled::Tree, StoreError> {
        Ok(self.inner.db.open_tree(name)?)
    }

    /// Keeps a screening made at `at` (seconds); returns its key.
    ///
    /// # Errors
    /// [`StoreError`] when it cannot be written.
    pub fn keep_screening<T: Serialize>(&self, at: u64, record: &T) -> Result<Vec<u8>, StoreError> {
        let mut key = at.to_be_bytes().to_vec();
        key.extend_from_slice(&self.inner.db.generate_id()?.to_be_bytes());
        self.tree("screenings")?.insert(&key, encode(record))?;
        Ok(key)
    }

    /// The screenings kept from `since` (seconds) on, oldest first, with
    /// their keys; older ones are removed.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure or a record that does not parse.
    pub fn screenings_since<T: DeserializeOwned>(
        &self,
        since: u64,
    ) -> Result<Vec<(Vec<u8>, T)>, StoreError> {
        let tree = self.tree("screenings")?;
        let bound = since.to_be_bytes();
        for item in tree.range(..&bound[..]) {
            tree.remove(item?.0)?;
        }
        tree.range(&bound[..]..)
            .map(|item| {
                let (key, raw) = item?;
                Ok((key.to_vec(), decode("screenings", &raw)?))
            })
            .collect()
    }

    /// Replaces the screening kept under `key`.
    ///
    /// # Errors
    /// [`StoreError`] when it cannot be written.
    pub fn update_screening<T: Serialize>(&self, key: &[u8], record: &T) -> Result<(), StoreError> {
        self.tree("screenings")?.insert(key, encode(record))?;
        Ok(())
    }

    /// Keeps `alert` under a new id, which it returns.
    ///
    /// # Errors
    /// [`StoreError`] when it cannot be written.
    pub fn raise_alert<T: Serialize>(
        &self,
        alert: impl FnOnce(u64) -> T,
    ) -> Result<u64, StoreError> {
        let id = self.inner.db.generate_id()?;
        self.tree("alerts")?
            .insert(id.to_be_bytes(), encode(&alert(id)))?;
        Ok(id)
    }

    /// Every alert, oldest first.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure or an alert that does not parse.
    pub fn alerts<T: DeserializeOwned>(&self) -> Result<Vec<T>, StoreError> {
        self.tree("alerts")?
            .iter()
            .map(|item| decode("alerts", &item?.1))
            .collect()
    }

    /// How far `origin` was looked at for new denials, if ever.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure.
    pub fn alert_cursor(&self, origin: &Origin) -> Result<Option<u64>, StoreError> {
        Ok(self
            .tree("alert_cursors")?
            .get(origin.as_str())?
            .and_then(|raw| super::keys::item_of(&raw)))
    }

    /// Records that `origin`'s entries below `size` were looked at.
    ///
    /// # Errors
    /// [`StoreError`] when it cannot be written.
    pub fn set_alert_cursor(&self, origin: &Origin, size: u64) -> Result<(), StoreError> {
        self.tree("alert_cursors")?
            .insert(origin.as_str(), &size.to_be_bytes()[..])?;
        Ok(())
    }
}
