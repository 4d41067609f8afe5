//! The node's surfaces to local users and clients: a command whose output
//! pipe closes early (`concord list | head`) ends quietly.

use std::process::Stdio;
use std::time::Duration;

use concord_scenarios::process::{Concord, Run};
use concord_scenarios::records;
use concord_scenarios::testnet::Testnet;
use concord_scenarios::wait::wait_until;

const NODE: &str = "cl";

/// How long anything here may take that should take well under a second.
const PROMPTLY: Duration = Duration::from_secs(15);

fn concord() -> Concord {
    Concord::isolated(env!("CARGO_BIN_EXE_concord"))
}

fn first_denial() -> Vec<u8> {
    records::denials().remove(0).bytes
}

#[test]
fn a_closed_stdout_ends_a_command_quietly() {
    let net = Testnet::create(&concord(), &[NODE], &[]);
    let home = net.home(NODE);
    let mut command = net.concord().command();
    command
        .args(["publish", "denial", "--file", "-", "--home"])
        .arg(&home);
    Run::with_input(command, &first_denial()).ok();
    let commands: [&[&str]; 4] = [
        &["list", "--log", NODE],
        &["list", "--json"],
        &["status"],
        &["roster", "show"],
    ];
    for args in commands {
        // `concord … | head -c0`: the reader is gone before the first line.
        let mut child = net
            .concord()
            .command()
            .args(args)
            .arg("--home")
            .arg(&home)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn concord");
        drop(child.stdout.take());
        wait_until(PROMPTLY, &format!("concord {args:?} exits"), || {
            child.try_wait().expect("try_wait").is_some()
        });
        let output = child.wait_with_output().expect("its output");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(0),
            "concord {args:?} with its stdout closed: {stderr}"
        );
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "concord {args:?} says nothing of the closed pipe: {stderr}"
        );
    }
}
