//! Compiles the sample records under `scenarios/records/` into the binary, so
//! that `concord demo` runs on embedded defaults from any directory.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let records = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/records");
    let mut out = String::from("&[\n");
    for (dir, kind) in [("denials", "denial"), ("notices", "notice")] {
        let folder = records.join(dir);
        println!("cargo:rerun-if-changed={}", folder.display());
        let mut files: Vec<_> = std::fs::read_dir(&folder)
            .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "json"));
        files.sort();
        for path in files {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            let absolute = path
                .canonicalize()
                .expect("a listed file has a canonical path");
            writeln!(
                out,
                "    ({kind:?}, {name:?}, include_str!({:?})),",
                absolute.display().to_string()
            )
            .expect("writing to a String cannot fail");
        }
    }
    out.push_str("]\n");
    let dest = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("samples.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}
