//! The sample records of `scenarios/records/`: denials and enforcement
//! notices of fictional parties, valid, for whatever needs real records to
//! publish (tests, benchmarks, scenarios). The invalid records beside them
//! are read by the tests of refusals, with `invalid/expected.json`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// `scenarios/records/`. This crate's own data, found from its own
/// manifest: the records are read where they are kept.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("records")
}

/// One sample record file.
#[derive(Debug, Clone)]
pub struct SampleRecord {
    /// `denial` or `notice`: the kind it is published as.
    pub kind: &'static str,
    /// The file name.
    pub name: String,
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

impl SampleRecord {
    /// The record as the member of `state` (ISO 3166-1 alpha-2, `MX`)
    /// would publish it: its denying or issuing state set to `state`. A
    /// member publishes only in its own state's name (PROTOCOL.md §3.3), so
    /// a log of many records from one member restates the samples.
    pub fn stated_by(&self, state: &str) -> Vec<u8> {
        let mut record: serde_json::Value =
            serde_json::from_slice(&self.bytes).expect("a sample record is JSON");
        let field = match self.kind {
            "denial" => "denying_state",
            _ => "issuing_state",
        };
        record[field] = state.into();
        serde_json::to_vec(&record).expect("JSON values serialise")
    }
}

/// Every valid sample record as the member of `state` would publish it
/// ([`SampleRecord::stated_by`]), in the order of [`samples`]; each `path`
/// still names the original file, whose bytes differ.
pub fn samples_of(state: &str) -> Vec<SampleRecord> {
    samples()
        .into_iter()
        .map(|r| SampleRecord {
            bytes: r.stated_by(state),
            ..r
        })
        .collect()
}

/// Every sample denial as the member of `state` would publish it
/// ([`SampleRecord::stated_by`]), sorted by file name.
pub fn denials_of(state: &str) -> Vec<Vec<u8>> {
    denials().iter().map(|r| r.stated_by(state)).collect()
}

/// The sample denials (`denials/*.json`), sorted by file name.
pub fn denials() -> Vec<SampleRecord> {
    of_kind("denials", "denial")
}

/// Every valid sample record: the denials, then the notices, each sorted by
/// file name.
pub fn samples() -> Vec<SampleRecord> {
    let mut records = denials();
    records.extend(of_kind("notices", "notice"));
    records
}

/// Panics if the folder cannot be read or is empty: every caller needs
/// records, and none are the harness's own failure to report.
fn of_kind(folder: &str, kind: &'static str) -> Vec<SampleRecord> {
    let folder = dir().join(folder);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("reading {}: {e}", folder.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension() == Some(OsStr::new("json")))
        .collect();
    paths.sort();
    assert!(
        !paths.is_empty(),
        "no sample records in {}",
        folder.display()
    );
    paths
        .into_iter()
        .map(|path| SampleRecord {
            kind,
            name: path
                .file_name()
                .expect("a file has a name")
                .to_string_lossy()
                .into_owned(),
            bytes: std::fs::read(&path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display())),
            path,
        })
        .collect()
}
