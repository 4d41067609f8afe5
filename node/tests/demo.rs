//! The README's main command: `concord demo` starts the Pacific Alliance
//! federation as seven processes, publishes every sample record from its
//! state's node, and sees every node hold identical logs.

use std::process::Command;

#[test]
fn the_demo_federation_converges_on_identical_logs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_concord"))
        .args([
            "demo",
            "--exit-after-sync",
            "--timeout-secs",
            "120",
            "--dir",
        ])
        .arg(dir.path().join("pacific-alliance"))
        .output()
        .expect("the demo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "demo failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("every node holds every entry"), "{stdout}");
    assert!(
        stdout.contains("all 7 nodes hold identical logs"),
        "{stdout}"
    );
    for state in ["br", "cl", "co", "mx", "pe"] {
        let origin = format!("pacific-alliance.concord/{state}");
        assert!(
            stdout.contains(&origin),
            "{state} published nothing: {stdout}"
        );
        assert!(
            stdout.contains(&format!("un1540  received  {state}#0")),
            "the observer missed {state}: {stdout}"
        );
        // The publisher stores its own entries; it receives none of them.
        assert!(
            stdout.contains(&format!("{state:<7} stored    {state}#0")),
            "{state} did not report storing its own entry: {stdout}"
        );
        assert!(
            !stdout.contains(&format!("{state:<7} received  {state}#")),
            "{state} reported receiving its own entry: {stdout}"
        );
    }
    // Every node process was stopped: their stores open again.
    for id in ["cl", "co", "mx", "pe", "br", "un1540", "wco"] {
        let db = dir.path().join("pacific-alliance").join(id).join("db");
        concord_node::store::Store::open(&db).expect("the node stopped and released its store");
    }
}
