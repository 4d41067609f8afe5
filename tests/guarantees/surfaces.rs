//! The node's surfaces to local users and clients: a home, its store, its
//! token and exported bundles are private to the node's user, and a node
//! refuses to run on a home others can write; a command whose output pipe
//! closes early (`concord list | head`) ends quietly.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use concord_node::home::Home;
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

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn first_denial() -> Vec<u8> {
    records::denials().remove(0).bytes
}

#[test]
fn homes_stores_tokens_and_bundles_are_private_to_the_node_user() {
    let net = Testnet::create(&concord(), &[NODE, "mx"], &[]);
    let home = Home::new(&net.home(NODE));
    // A store made by a stopped node's first publish, as by a running one.
    let mut command = net.concord().command();
    command
        .args(["publish", "denial", "--file", "-", "--home"])
        .arg(&home.dir);
    Run::with_input(command, &first_denial()).ok();
    for (path, want) in [
        (net.root().to_path_buf(), 0o700),
        (home.dir.clone(), 0o700),
        (home.roster_dir(), 0o700),
        (home.db_path(), 0o700),
        (home.token_path(), 0o600),
        (home.key_path(), 0o600),
    ] {
        assert_eq!(mode(&path), want, "{}: {:o}", path.display(), mode(&path));
    }
    let bundle = net.root().join("cl.bundle");
    let mut command = net.concord().command();
    command
        .args(["export", "--home"])
        .arg(&home.dir)
        .arg("--out")
        .arg(&bundle);
    Run::of(command).ok();
    assert_eq!(
        mode(&bundle),
        0o600,
        "{}: {:o}",
        bundle.display(),
        mode(&bundle)
    );
}

#[test]
fn a_node_refuses_to_run_on_a_home_others_can_write() {
    let mut net = Testnet::create(&concord(), &[NODE], &[]);
    let home = Home::new(&net.home(NODE));
    let chmod = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    };
    for (path, loose, fixed) in [
        (home.dir.clone(), 0o777, 0o700),
        (home.config_path(), 0o666, 0o644),
        (home.roster_dir(), 0o775, 0o700),
    ] {
        chmod(&path, loose);
        let mut command = net.concord().command();
        command.args(["run", "--home"]).arg(&home.dir);
        let run = Run::with_timeout(command, PROMPTLY);
        assert_eq!(
            run.code,
            Some(1),
            "run on a loose {}: {}",
            path.display(),
            run.stderr
        );
        let named = format!("{} is writable by other local users", path.display());
        let fix = format!("chmod go-w {}", path.display());
        assert!(
            run.stderr.contains(&named) && run.stderr.contains(&fix),
            "the refusal names {} and the fix: {}",
            path.display(),
            run.stderr
        );
        chmod(&path, fixed);
    }
    // Fixed as the error said, the home runs.
    net.start(NODE);
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
