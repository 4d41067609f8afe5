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
