//! The `concord` command line as an operator meets it, against real
//! processes and stores: refused input changes nothing and says why (exit
//! 3), a full disk is a clear storage error (exit 7, HTTP 507) that loses
//! nothing acknowledged, a second node on one home is refused (exit 5), key
//! files are encrypted unless asked otherwise, queries of what does not
//! exist exit 4, and proofs verify against the signed checkpoint.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use concord_protocol::checkpoint::SignedCheckpoint;
use concord_protocol::proof::Proof;
use concord_scenarios::api::{PublishError, Published, decode_hash, log_sizes};
use concord_scenarios::process::{Concord, NodeOptions, Run};
use concord_scenarios::records::{self, SampleRecord};
use concord_scenarios::testnet::Testnet;
use serde_json::Value;

const NODE: &str = "cl";

/// The binary Cargo built for these tests.
fn concord() -> Concord {
    Concord::isolated(env!("CARGO_BIN_EXE_concord"))
}

/// Exit codes documented by `concord --help`.
mod exit {
    pub const OK: i32 = 0;
    pub const USAGE: i32 = 2;
    pub const INVALID_INPUT: i32 = 3;
    pub const NOT_FOUND: i32 = 4;
    pub const UNAVAILABLE: i32 = 5;
    pub const AUDIT_FINDINGS: i32 = 6;
    pub const STORAGE: i32 = 7;
    pub const REFUSED: i32 = 8;
}

/// A record the node must refuse, and what the refusal must name.
struct BadInput {
    what: String,
    kind: String,
    bytes: Vec<u8>,
    message: String,
}

fn first_denial() -> SampleRecord {
    records::samples_of("CL")
        .into_iter()
        .find(|r| r.kind == "denial")
        .expect("a sample denial")
}

/// Hand-made faults, then every file of `scenarios/records/invalid/`.
fn bad_inputs() -> Vec<BadInput> {
    let denial = first_denial().bytes;
    let mut with_unknown_field = b"{\"nickname\": \"Andes\", ".to_vec();
    with_unknown_field.extend_from_slice(&denial[1..]);
    let mut oversized = b"{\"reference\": \"".to_vec();
    oversized.resize(600 * 1024, b'A');
    oversized.extend_from_slice(b"\"}");
    let mut inputs = vec![
        BadInput {
            what: "malformed JSON".into(),
            kind: "denial".into(),
            bytes: b"{\"reference\": MX-2025-001, }".to_vec(),
            message: "payload is not JSON".into(),
        },
        BadInput {
            what: "truncated JSON".into(),
            kind: "denial".into(),
            bytes: denial[..denial.len() / 2].to_vec(),
            message: "payload is not JSON: EOF while parsing".into(),
        },
        BadInput {
            what: "binary bytes".into(),
            kind: "notice".into(),
            bytes: vec![
                0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0xfe,
            ],
            message: "payload is not UTF-8".into(),
        },
        BadInput {
            what: "unknown field".into(),
            kind: "denial".into(),
            bytes: with_unknown_field,
            message: "unknown field `nickname`".into(),
        },
        BadInput {
            what: "unknown kind".into(),
            kind: "permit".into(),
            bytes: denial.clone(),
            message: "unknown record kind \"permit\"".into(),
        },
        BadInput {
            what: "oversized file".into(),
            kind: "denial".into(),
            bytes: oversized,
            message: "larger than the 524288 bytes".into(),
        },
    ];
    let dir = records::dir().join("invalid");
    let expected: Value = serde_json::from_slice(
        &std::fs::read(dir.join("expected.json")).expect("invalid/expected.json"),
    )
    .expect("expected.json parses");
    let expected = expected.as_object().expect("expected.json is an object");
    let mut n_files = 0;
    for entry in std::fs::read_dir(&dir).expect("scenarios/records/invalid") {
        let path = entry.expect("directory entry").path();
        let name = path
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        if name == "expected.json" {
            continue;
        }
        n_files += 1;
        let case = expected
            .get(&name)
            .unwrap_or_else(|| panic!("{name} is not in invalid/expected.json"));
        inputs.push(BadInput {
            what: format!("invalid/{name}"),
            kind: case["kind"].as_str().expect("kind").to_owned(),
            bytes: std::fs::read(&path).expect("invalid record"),
            message: case["error_contains"]
                .as_str()
                .expect("error_contains")
                .to_owned(),
        });
    }
    assert_eq!(
        n_files,
        expected.len(),
        "every expected.json case has a file"
    );
    inputs
}

fn write_temp(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("writing a temp record");
    path
}

/// `concord publish` on `NODE`; with its node stopped, or running while
/// its peer never runs, nothing confirms its log: the risk is accepted.
fn publish_file(net: &Testnet, kind: &str, file: &Path) -> Run {
    let mut command = net.concord().command();
    command
        .args(["publish", kind, "--json", "--accept-fork-risk", "--file"])
        .arg(file)
        .arg("--home")
        .arg(net.home(NODE));
    Run::of(command)
}

fn publish_stdin(net: &Testnet, kind: &str, bytes: &[u8]) -> Run {
    let mut command = net.concord().command();
    command
        .args(["publish", kind, "--json", "--file", "-", "--home"])
        .arg(net.home(NODE));
    Run::with_input(command, bytes)
}

/// Every bad input, from a file and on standard input, is refused through
/// `path` with exit 3 naming the problem, and the logs are unchanged after
/// each refusal.
/// The message of the JSON error a `--json` command printed last on
/// stderr.
#[track_caller]
fn error_message(run: &Run) -> String {
    let line = run.stderr.lines().last().unwrap_or_default();
    let error: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("stderr's last line is no JSON ({e}): {}", run.stderr));
    error["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message in {line}"))
        .to_owned()
}

fn refuse_all(net: &Testnet, scratch: &Path, inputs: &[BadInput], path: &str) {
    let before = net.log_sizes(NODE);
    for (n, input) in inputs.iter().enumerate() {
        let file = write_temp(scratch, &format!("bad-{n}.json"), &input.bytes);
        let from_file = publish_file(net, &input.kind, &file);
        let from_stdin = publish_stdin(net, &input.kind, &input.bytes);
        for (run, via) in [(from_file, "a file"), (from_stdin, "standard input")] {
            assert_eq!(
                run.code,
                Some(exit::INVALID_INPUT),
                "{path}: publishing {} from {via} did not exit 3:\nstdout: {}\nstderr: {}",
                input.what,
                run.stdout,
                run.stderr
            );
            assert!(
                error_message(&run).contains(&input.message),
                "{path}: refusal of {} from {via} does not name {:?}:\n{}",
                input.what,
                input.message,
                run.stderr
            );
        }
        assert_eq!(
            net.log_sizes(NODE),
            before,
            "{path}: refusing {} changed a log",
            input.what
        );
    }
}

#[test]
fn publish_refuses_bad_records_through_store_and_api_and_changes_nothing() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let inputs = bad_inputs();
    let mut net = Testnet::create(&concord(), &[NODE, "mx"], &[]);
    let good = first_denial();
    let good_file = write_temp(scratch.path(), "good.json", &good.bytes);

    // Node stopped: the command opens the store itself.
    publish_file(&net, good.kind, &good_file).ok();
    refuse_all(&net, scratch.path(), &inputs, "node stopped");

    // Node running: the command goes through the API.
    net.start_with(NODE, &NodeOptions::accepting_fork_risk());
    let api = net.api(NODE);
    refuse_all(&net, scratch.path(), &inputs, "node running");

    // And the API itself, as any client meets it.
    let before = api.read_log(NODE);
    for input in &inputs {
        let reply = api.post(
            &format!("/v1/records/{}?visibility=federation", input.kind),
            &input.bytes,
        );
        if input.what == "oversized file" {
            assert_eq!(reply.status, 413, "API: {}: {}", input.what, reply.body);
        } else {
            assert!(
                matches!(reply.status, 400 | 422),
                "API: {} answered {}: {}",
                input.what,
                reply.status,
                reply.body
            );
            assert!(
                reply.message().contains(&input.message),
                "API: refusal of {} does not name {:?}: {}",
                input.what,
                input.message,
                reply.body
            );
        }
        let after = api.status();
        let size = log_sizes(&after)[&before.origin];
        assert_eq!(
            size, before.size,
            "API: refusing {} grew the log",
            input.what
        );
    }
    let after = api.read_log(NODE);
    assert_eq!(after.root, before.root, "refusals changed the root");

    // Still accepting good records after all that (another one: the first
    // is in force, so repeating it would take --force).
    let mut another: Value = serde_json::from_slice(&good.bytes).expect("JSON");
    another["reference"] = "CL-OTHER-0001".into();
    let another_file = write_temp(
        scratch.path(),
        "another.json",
        &serde_json::to_vec(&another).expect("JSON"),
    );
    let published = Published::parse(&publish_file(&net, good.kind, &another_file).ok().json());
    assert_eq!(published.index, before.size);
    net.stop(NODE);
    assert_eq!(net.log_size(NODE, NODE), before.size + 1);
}

/// A tmpfs mounted for the length of a test; unmounted on drop.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. `3m`) on `dir`. `None` when mounting
    /// is impossible and `CONCORD_TEST_NO_MOUNT=1` allows going without;
    /// otherwise a failure to mount fails the test.
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).expect("mount point");
        let run = Run::of({
            let mut command = Command::new("mount");
            // A tmpfs is 1777 unless told otherwise, and a node refuses to
            // run on a store others can write.
            let options = format!("size={size},mode=0700");
            command
                .args(["-t", "tmpfs", "-o", &options, "tmpfs"])
                .arg(dir);
            command
        });
        if run.code == Some(0) {
            return Some(Tmpfs {
                dir: dir.to_path_buf(),
            });
        }
        let allowed = std::env::var("CONCORD_TEST_NO_MOUNT").is_ok_and(|v| v == "1");
        assert!(
            allowed,
            "cannot mount a tmpfs to fill (run as root, or set CONCORD_TEST_NO_MOUNT=1 to skip the full-disk test): {}",
            run.stderr
        );
        eprintln!("full-disk test skipped: CONCORD_TEST_NO_MOUNT=1 and mount failed");
        None
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            // Busy (a node still holds it): detach it now, freed when released.
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("creating a copy directory");
    for entry in std::fs::read_dir(from).expect("reading a directory to copy") {
        let entry = entry.expect("directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copying a file");
        }
    }
}

#[test]
fn a_full_disk_is_a_clear_storage_error_and_loses_nothing_acknowledged() {
    let mut net = Testnet::create(&concord(), &[NODE], &[]);
    let db = net.home(NODE).join("db");
    let Some(tmpfs) = Tmpfs::mount(&db, "3m") else {
        return;
    };
    net.start(NODE);
    let api = net.api(NODE);
    let records = records::samples_of("CL");

    // Sixteen publishers until the disk refuses. The first refused write
    // stops the node (sled keeps a failed batch in memory, and a node that
    // went on serving it could sign a checkpoint of entries never stored),
    // so each publisher ends at a 507 naming the disk or at a closed
    // connection.
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let api = api.clone();
            let records = records.clone();
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                for n in t.. {
                    let record = &records[n % records.len()];
                    match api.try_publish(record.kind, &record.bytes) {
                        Ok(published) => acked.push(published),
                        Err(PublishError::Refused(reply)) => return (acked, Some(reply)),
                        Err(PublishError::Unreachable(_)) => return (acked, None),
                        Err(malformed @ PublishError::Malformed(_)) => panic!("{malformed}"),
                    }
                    assert!(acked.len() < 100_000, "3 MiB never filled");
                }
                unreachable!("the loop only ends by returning")
            })
        })
        .collect();
    let mut acked: Vec<Published> = Vec::new();
    let mut refusals = Vec::new();
    for thread in threads {
        let (thread_acked, refusal) = thread.join().expect("publisher thread");
        acked.extend(thread_acked);
        // 507 for the group the disk refused; 503 for a publish that arrived
        // while the node was stopping because of it.
        match refusal.map(|r| (r.status, r)) {
            Some((507, reply)) => refusals.push(reply.message()),
            Some((503, _)) | None => {}
            Some((status, reply)) => panic!("a full disk answered {status}: {}", reply.body),
        }
    }
    assert!(
        !refusals.is_empty(),
        "no publisher heard that the disk was full"
    );
    assert!(
        !acked.is_empty(),
        "nothing was published before the disk filled"
    );
    eprintln!(
        "{} publishes acknowledged before the disk filled",
        acked.len()
    );

    // The node stopped itself, reporting the storage failure (exit 7).
    let status = net.terminate(NODE, Duration::from_secs(30));
    assert_eq!(
        status.code(),
        Some(exit::STORAGE),
        "a node on a full disk stopped with {status}:\n{}",
        net.node_log(NODE)
    );
    assert!(
        net.node_log(NODE).contains("No space left on device"),
        "the node's log names the full disk"
    );

    // Publishing from the store while the disk is still full: exit 7 too.
    let scratch = tempfile::tempdir().expect("temp dir");
    let file = write_temp(scratch.path(), "record.json", &records[0].bytes);
    let run = publish_file(&net, records[0].kind, &file);
    assert_eq!(
        run.code,
        Some(exit::STORAGE),
        "from the store: {}",
        run.stderr
    );
    refusals.push(run.stderr);

    // Give the store room: copy it off the full tmpfs, unmount, put it back.
    let saved = scratch.path().join("db");
    copy_dir(&db, &saved);
    drop(tmpfs);
    std::fs::remove_dir_all(&db).expect("removing the unmounted mount point");
    copy_dir(&saved, &db);

    net.start(NODE);
    let log = api.read_log(NODE);
    for published in &acked {
        let entry = log
            .entries
            .get(usize::try_from(published.index).expect("fits"))
            .unwrap_or_else(|| panic!("acknowledged entry {} was lost", published.index));
        assert_eq!(
            entry.leaf_hash, published.leaf_hash,
            "entry {}",
            published.index
        );
    }
    // With room again, publishing works.
    let next = api.publish(records[1].kind, &records[1].bytes);
    assert_eq!(next.index, log.size);
    net.stop(NODE);
    let audit = net.cli(NODE, ["audit"]);
    assert_eq!(
        audit.code,
        Some(0),
        "audit after the full disk:\n{}\n{}",
        audit.stdout,
        audit.stderr
    );

    // Every refusal said why: the disk is full (not a symptom of it).
    let unclear: Vec<&String> = refusals
        .iter()
        .filter(|m| !m.contains("No space left on device"))
        .collect();
    assert!(
        unclear.is_empty(),
        "refusals that do not say the disk is full: {unclear:?}"
    );
}

#[test]
fn a_second_node_on_the_same_home_is_refused() {
    let mut net = Testnet::create(&concord(), &[NODE], &[]);
    net.start(NODE);
    let second_log = net.root().join("second.log");
    let mut second = net
        .concord()
        .spawn_node(
            "a second node",
            &net.home(NODE),
            &second_log,
            &NodeOptions::default(),
        )
        .expect("a second node starts");
    let status = second
        .wait_exit(Duration::from_secs(30))
        .expect("its status")
        .unwrap_or_else(|| panic!("a second node on the same home kept running"));
    let log = std::fs::read_to_string(&second_log).expect("second node's log");
    assert_eq!(status.code(), Some(exit::UNAVAILABLE), "{log}");
    assert!(
        log.contains("in use"),
        "message does not say the store is in use: {log}"
    );
    // The first node is unharmed.
    assert!(
        net.process(NODE).try_exit().expect("its status").is_none(),
        "the first node exited"
    );
    assert!(net.api(NODE).health());
    net.stop(NODE);
}

#[test]
fn init_encrypts_keys_unless_told_otherwise_and_run_needs_the_passphrase() {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path().join("mx");
    let init = |envs: &[(&str, &str)], extra: &[&str]| {
        let mut command = concord().command();
        command
            .args([
                "init",
                "--id",
                "mx",
                "--name",
                "Secretaría de Economía",
                "--country",
                "MX",
            ])
            .args(extra)
            .arg("--home")
            .arg(&home)
            .envs(envs.iter().copied());
        Run::of(command)
    };

    init(&[], &[]).fails_with(exit::INVALID_INPUT, "CONCORD_PASSPHRASE");
    assert!(
        !home.join("identity.key").exists(),
        "a refused init wrote a key"
    );

    let passphrase = "correct horse battery staple";
    let facts = init(&[("CONCORD_PASSPHRASE", passphrase)], &[]).ok();
    assert!(
        facts
            .stdout
            .contains("verifier key  pacific-alliance.concord/mx+"),
        "{}",
        facts.stdout
    );
    let key_path = home.join("identity.key");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&key_path)
            .expect("key file")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "key file mode");
    let key: Value =
        serde_json::from_slice(&std::fs::read(&key_path).expect("key file")).expect("key JSON");
    assert_eq!(key["protection"]["kind"], "argon2id+xchacha20poly1305");
    assert!(key.get("ciphertext").is_some() && key.get("plaintext").is_none());

    let run = |envs: &[(&str, &str)]| {
        let mut command = concord().command();
        command
            .args(["run", "--home"])
            .arg(&home)
            .envs(envs.iter().copied());
        Run::with_timeout(command, Duration::from_secs(60))
    };
    let wrong = run(&[("CONCORD_PASSPHRASE", "wrong horse")]);
    assert_ne!(wrong.code, Some(0));
    assert!(
        wrong.stderr.contains("wrong passphrase"),
        "wrong passphrase: {}",
        wrong.stderr
    );
    let none = run(&[]);
    assert_ne!(none.code, Some(0));
    assert!(
        none.stderr.contains("passphrase is required"),
        "no passphrase: {}",
        none.stderr
    );
    // The right passphrase opens the key; this lone home then stops at the
    // roster it does not have yet.
    let right = run(&[("CONCORD_PASSPHRASE", passphrase)]);
    assert_ne!(right.code, Some(0));
    assert!(
        !right.stderr.contains("passphrase") && right.stderr.contains("roster"),
        "right passphrase: {}",
        right.stderr
    );

    // --insecure-demo-keys is the only way to a key in the clear.
    let demo = dir.path().join("demo");
    let mut command = concord().command();
    command
        .args(["init", "--id", "pe", "--name", "Produce", "--country", "PE"])
        .arg("--insecure-demo-keys")
        .arg("--home")
        .arg(&demo);
    Run::of(command).ok();
    let key: Value =
        serde_json::from_slice(&std::fs::read(demo.join("identity.key")).expect("key"))
            .expect("key JSON");
    assert_eq!(key["protection"]["kind"], "insecure-plaintext");
}

/// `show`, `list`, `checkpoint` and `proof` over one path (stopped or
/// running): unknown logs and positions exit 4, and the inclusion proof
/// verifies against the signed checkpoint's root.
fn check_queries(net: &Testnet, published: &[Published], path: &str) {
    let home = net.home(NODE);
    let q = |args: &[&str]| {
        let mut command = concord().command();
        command.args(args).arg("--home").arg(&home);
        Run::of(command)
    };
    let size = published.len() as u64;
    let beyond = size.to_string();
    for args in [
        vec!["show", "--log", "zz", "--index", "0"],
        vec!["show", "--log", NODE, "--index", &beyond],
        vec!["list", "--log", "zz"],
        vec!["checkpoint", "--log", "zz"],
        vec!["proof", "inclusion", "--log", "zz", "--index", "0"],
        vec!["proof", "inclusion", "--log", NODE, "--index", &beyond],
        vec![
            "proof",
            "consistency",
            "--log",
            NODE,
            "--from",
            "1",
            "--to",
            "99",
        ],
        vec![
            "proof",
            "consistency",
            "--log",
            "zz",
            "--from",
            "0",
            "--to",
            "1",
        ],
    ] {
        let run = q(&args);
        assert_eq!(
            run.code,
            Some(exit::NOT_FOUND),
            "{path}: {args:?} did not exit 4:\nstdout: {}\nstderr: {}",
            run.stdout,
            run.stderr
        );
        assert!(
            !run.stderr.trim().is_empty(),
            "{path}: {args:?} said nothing"
        );
    }
    // mx has published nothing: it has no checkpoint to show.
    let run = q(&["checkpoint", "--log", "mx"]);
    assert_eq!(run.code, Some(exit::NOT_FOUND), "{path}: {}", run.stderr);

    let status = q(&["status", "--json"]).ok().json();
    let sizes = log_sizes(&status);
    assert_eq!(sizes[&net.origin_of(NODE)], size, "{path}: status size");

    let list = q(&["list", "--log", NODE, "--json"]).ok().json();
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(published.len()),
        "{path}: list"
    );

    let note = q(&["checkpoint", "--log", NODE]).ok().stdout;
    let checkpoint = SignedCheckpoint::parse(note.as_bytes())
        .unwrap_or_else(|e| panic!("{path}: checkpoint note does not parse ({e}):\n{note}"))
        .checkpoint;
    assert_eq!(checkpoint.size, size, "{path}: checkpoint size");
    for entry in published {
        let index = entry.index.to_string();
        let show = q(&["show", "--log", NODE, "--index", &index, "--json"])
            .ok()
            .json();
        assert_eq!(
            decode_hash(show["leaf_hash"].as_str().expect("leaf_hash")),
            entry.leaf_hash
        );
        let proof = q(&[
            "proof",
            "inclusion",
            "--log",
            NODE,
            "--index",
            &index,
            "--json",
        ])
        .ok()
        .json();
        let proof: Proof = serde_json::from_value(proof)
            .unwrap_or_else(|e| panic!("{path}: not a proof document (PROTOCOL.md §4.1): {e}"));
        let Proof::Inclusion {
            index, leaf_hash, ..
        } = &proof
        else {
            panic!("{path}: an inclusion proof was asked for: {proof:?}");
        };
        assert_eq!((*index, leaf_hash.0), (entry.index, entry.leaf_hash));
        // The document carries the checkpoint it proves against.
        let carried = proof
            .verify()
            .unwrap_or_else(|e| panic!("{path}: inclusion proof of {index}: {e}"))
            .unwrap_or_else(|| panic!("{path}: inclusion proof of {index} has no checkpoint"));
        assert_eq!(carried.checkpoint, checkpoint, "{path}: proof's checkpoint");
    }
    // Consistency from every earlier size to the checkpoint's.
    for from in 1..size {
        let proof = q(&[
            "proof",
            "consistency",
            "--log",
            NODE,
            "--from",
            &from.to_string(),
            "--to",
            &size.to_string(),
            "--json",
        ])
        .ok()
        .json();
        let proof: Proof = serde_json::from_value(proof)
            .unwrap_or_else(|e| panic!("{path}: not a proof document: {e}"));
        let carried = proof
            .verify()
            .unwrap_or_else(|e| panic!("{path}: consistency {from}..{size}: {e}"));
        assert_eq!(
            carried.map(|c| c.checkpoint),
            Some(checkpoint.clone()),
            "{path}: consistency {from}..{size}"
        );
    }
}

#[test]
fn queries_exit_4_for_what_does_not_exist_and_proofs_verify() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let mut net = Testnet::create(&concord(), &[NODE, "mx"], &[]);
    let mut published = Vec::new();
    for (n, record) in records::samples_of("CL").iter().take(5).enumerate() {
        let file = write_temp(scratch.path(), &format!("r{n}.json"), &record.bytes);
        let run = publish_file(&net, record.kind, &file).ok();
        published.push(Published::parse(&run.json()));
    }
    let indexes: Vec<u64> = published.iter().map(|p| p.index).collect();
    assert_eq!(indexes, vec![0, 1, 2, 3, 4]);
    check_queries(&net, &published, "node stopped");
    net.start(NODE);
    check_queries(&net, &published, "node running");
    net.stop(NODE);
}

#[test]
fn queries_of_a_directory_that_is_no_home_fail_and_create_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let typo = dir.path().join("not-a-home");
    std::fs::create_dir(&typo).expect("an empty directory");
    for args in [
        vec!["status", "--json"],
        vec!["list", "--log", NODE],
        vec!["show", "--log", NODE, "--index", "0"],
        vec!["checkpoint", "--log", NODE],
    ] {
        let mut command = concord().command();
        command.args(&args).arg("--home").arg(&typo);
        let run = Run::of(command);
        assert_ne!(
            run.code,
            Some(0),
            "{args:?} on an empty directory succeeded"
        );
        assert!(
            run.stderr.contains("config.toml"),
            "{args:?}: the error does not say this is no Concord home: {}",
            run.stderr
        );
        let created: Vec<_> = std::fs::read_dir(&typo)
            .expect("the directory")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert!(
            created.is_empty(),
            "{args:?}, a read, created {created:?} in a directory that is no home"
        );
    }
}

/// The JSON error a command printed on stderr with `--json`: its exit
/// code, its name, a message naming `says`.
#[track_caller]
fn assert_json_error(run: &Run, code: i32, name: &str, says: &str) {
    assert_eq!(run.code, Some(code), "{}\n{}", run.stdout, run.stderr);
    let line = run.stderr.lines().last().unwrap_or_default();
    let error: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("stderr's last line is no JSON ({e}): {}", run.stderr));
    assert_eq!(error["error"]["exit"], code, "{line}");
    assert_eq!(error["error"]["code"], name, "{line}");
    let message = error_message(run);
    assert!(message.contains(says), "{message:?} does not name {says:?}");
}

#[test]
fn every_exit_code_of_the_help_table_is_what_commands_return() {
    let help = Run::of({
        let mut command = concord().command();
        command.arg("--help");
        command
    })
    .ok();
    for entry in [
        "0 ok",
        "1 failure",
        "2 usage",
        "3 input refused",
        "4 not found",
        "5 node unreachable",
        "6 audit findings",
        "7 storage",
        "8 refused",
    ] {
        assert!(help.stdout.contains(entry), "--help lacks {entry:?}");
    }

    let scratch = tempfile::tempdir().expect("temp dir");
    let mut net = Testnet::create(&concord(), &[NODE, "mx"], &["un1540:US"]);
    let denial = write_temp(scratch.path(), "denial.json", &first_denial().bytes);
    let with_json = |net: &Testnet, id: &str, args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.push("--json");
        net.cli(id, all)
    };

    // 2: clap's refusal, as JSON too.
    let usage = Run::of({
        let mut command = concord().command();
        command.args(["--json", "publsh"]);
        command
    });
    assert_json_error(&usage, exit::USAGE, "usage", "publsh");
    // 3: a kind that does not exist, with the kinds that do.
    let kind = with_json(
        &net,
        NODE,
        &[
            "publish",
            "denail",
            "--file",
            denial.to_str().expect("UTF-8"),
        ],
    );
    assert_json_error(&kind, exit::INVALID_INPUT, "invalid_input", "denial.amend");
    // 4: a home that is not there, an entry that is not there.
    let missing = {
        let mut command = concord().command();
        command
            .args(["status", "--json", "--home"])
            .arg(scratch.path().join("no-such-home"));
        Run::of(command)
    };
    assert_json_error(&missing, exit::NOT_FOUND, "not_found", "no-such-home");
    let entry = with_json(&net, NODE, &["show", "--log", NODE, "--index", "9"]);
    assert_json_error(&entry, exit::NOT_FOUND, "not_found", "no entry 9");
    // 8: an observer publishing.
    let observer = with_json(
        &net,
        "un1540",
        &[
            "publish",
            "denial",
            "--file",
            denial.to_str().expect("UTF-8"),
        ],
    );
    assert_json_error(&observer, exit::REFUSED, "refused", "observer");
    // A dry run validates and shows the record as it would be signed, and
    // publishes nothing.
    let dry = with_json(
        &net,
        NODE,
        &[
            "publish",
            "denial",
            "--dry-run",
            "--file",
            denial.to_str().expect("UTF-8"),
        ],
    )
    .ok()
    .json();
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["payload"]["sha256"].as_str().map(str::len), Some(64));
    assert!(
        dry["record"]["valid_until"].is_string(),
        "normalised: {dry}"
    );
    assert_eq!(net.log_size(NODE, NODE), 0, "a dry run published");
    let bad_dry = with_json(
        &net,
        NODE,
        &[
            "publish",
            "notice",
            "--dry-run",
            "--file",
            denial.to_str().expect("UTF-8"),
        ],
    );
    assert_json_error(
        &bad_dry,
        exit::INVALID_INPUT,
        "invalid_input",
        "notice record refused",
    );
    // 6: a bundle with one entry line changed.
    let published = publish_file(&net, "denial", &denial).ok();
    assert_eq!(Published::parse(&published.json()).index, 0);
    // 0, and `--json` on a command that printed only text before.
    let checkpoint = with_json(&net, NODE, &["checkpoint"]);
    assert_eq!(checkpoint.code, Some(exit::OK), "{}", checkpoint.stderr);
    assert_eq!(checkpoint.json()["tree_size"], 1);
    let bundle = scratch.path().join("cl.bundle");
    net.cli(
        NODE,
        ["export".as_ref(), "--out".as_ref(), bundle.as_os_str()],
    )
    .ok();
    let text = std::fs::read_to_string(&bundle).expect("bundle");
    // An audit of the bundle alone says it trusts the roster the bundle
    // carries, with the fingerprint to compare; with --home it checks
    // against the home's.
    let fingerprint = with_json(&net, NODE, &["roster", "show"]).json()["fingerprint"]
        .as_str()
        .expect("a fingerprint")
        .to_owned();
    assert_eq!(fingerprint.len(), 64);
    let alone = {
        let mut command = concord().command();
        command.args(["audit", "--json", "--bundle"]).arg(&bundle);
        Run::of(command).ok().json()
    };
    let roster = alone["roster"]
        .as_str()
        .expect("the roster audited against");
    assert!(
        roster.contains("carried by the bundle, not checked") && roster.contains(&fingerprint),
        "{roster}"
    );
    let against_home = with_json(
        &net,
        NODE,
        &["audit", "--bundle", bundle.to_str().expect("UTF-8")],
    )
    .ok()
    .json();
    let roster = against_home["roster"].as_str().expect("the roster");
    assert!(
        roster.contains("home") && !roster.contains("not checked") && roster.contains(&fingerprint),
        "{roster}"
    );
    // Its checkpoint line taken out.
    let tampered: String = text
        .lines()
        .filter(|line| !line.contains("\"type\":\"checkpoint\""))
        .map(|line| format!("{line}\n"))
        .collect();
    assert_ne!(tampered, text, "the bundle has a checkpoint line");
    let bad = write_temp(scratch.path(), "bad.bundle", tampered.as_bytes());
    let audit = {
        let mut command = concord().command();
        command.args(["audit", "--json", "--bundle"]).arg(&bad);
        Run::of(command)
    };
    assert_eq!(audit.code, Some(exit::AUDIT_FINDINGS), "{}", audit.stderr);
    // A stopped node's status says so, rather than "peers: 0".
    let stopped = net.cli(NODE, ["status"]).ok();
    assert!(stopped.stdout.contains("not running"), "{}", stopped.stdout);
    assert_eq!(with_json(&net, NODE, &["status"]).json()["running"], false);
    // 5: an import while the node holds its store.
    net.start(NODE);
    assert_eq!(with_json(&net, NODE, &["status"]).json()["running"], true);
    let held = with_json(&net, NODE, &["import", bundle.to_str().expect("UTF-8")]);
    assert_json_error(&held, exit::UNAVAILABLE, "unavailable", "");
    net.stop(NODE);
    // 7 is the full-disk test's (a_full_disk_is_a_clear_storage_error…).
}

#[test]
fn show_puts_the_version_in_force_first_and_list_names_parties_and_states() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let net = Testnet::create(&concord(), &[NODE, "mx"], &[]);
    let denial = first_denial();
    let file = write_temp(scratch.path(), "denial.json", &denial.bytes);
    publish_file(&net, "denial", &file).ok();
    let mut amended: Value = serde_json::from_slice(&denial.bytes).expect("a denial is JSON");
    amended["valid_until"] = "2031-01-31".into();
    let amendment = serde_json::json!({
        "reason": "Validez ampliada tras una segunda revisión.",
        "denial": amended,
    });
    let amendment = write_temp(
        scratch.path(),
        "amendment.json",
        amendment.to_string().as_bytes(),
    );
    net.cli(
        NODE,
        [
            "amend".as_ref(),
            "--accept-fork-risk".as_ref(),
            "--index".as_ref(),
            "0".as_ref(),
            "--file".as_ref(),
            amendment.as_os_str(),
        ],
    )
    .ok();

    let show = net
        .cli(NODE, ["show", "--log", NODE, "--index", "0"])
        .ok()
        .stdout;
    let lines: Vec<&str> = show.lines().collect();
    assert!(
        lines[0].contains("published 20") && lines[0].ends_with('Z'),
        "{show}"
    );
    assert_eq!(
        lines[1], "status     amended, valid until 2031-01-31 (UTC)",
        "{show}"
    );
    assert_eq!(lines[2], "in force   as amended by #1:", "{show}");
    let in_force = show.find("2031-01-31\"").expect("the amended validity");
    let first = show
        .find("as first published:")
        .expect("the original after");
    assert!(in_force < first, "{show}");
    let json = net
        .cli(NODE, ["show", "--log", NODE, "--index", "0", "--json"])
        .ok()
        .json();
    assert_eq!(json["current"]["index"], 1);
    assert_eq!(json["current"]["denial"]["valid_until"], "2031-01-31");

    let list = net.cli(NODE, ["list", "--log", NODE, "--json"]).ok().json();
    let line = &list[0];
    assert_eq!(line["state"], "amended", "{list:#}");
    assert_eq!(line["denying_state"], "CL");
    let parsed: Value = serde_json::from_slice(&denial.bytes).expect("JSON");
    let first_party = parsed["parties"][0]["name"].as_str().expect("a party");
    assert_eq!(line["parties"][0], first_party);
    let text = net.cli(NODE, ["list", "--log", NODE]).ok().stdout;
    assert!(
        text.contains(first_party) && text.contains(" amended "),
        "{text}"
    );

    // Filters, through the stopped node's store and the running node's API.
    let entry = parsed["items"][0]["control_entries"][0]
        .as_str()
        .expect("a control entry");
    let heading = &entry[..5];
    let party_word = first_party
        .split_whitespace()
        .next()
        .expect("a word")
        .to_lowercase();
    let date = parsed["decision_date"].as_str().expect("a decision date");
    let cases: Vec<(Vec<&str>, Vec<u64>)> = vec![
        (vec!["--kind", "denial.amend"], vec![1]),
        (vec!["--status", "amended"], vec![0]),
        (vec!["--status", "active"], vec![]),
        (vec!["--state", "cl"], vec![0, 1]),
        (vec!["--state", "MX"], vec![]),
        (vec!["--party", &party_word], vec![0, 1]),
        (vec!["--party", "Nadie en absoluto"], vec![]),
        (vec!["--control-entry", heading], vec![0, 1]),
        (
            vec!["--since", date, "--until", date, "--kind", "denial"],
            vec![0],
        ),
        (vec!["--since", "2100-01-01"], vec![]),
    ];
    let check = |net: &Testnet, path: &str| {
        for (filter, expected) in &cases {
            let mut args = vec!["list", "--log", NODE, "--json"];
            args.extend(filter.iter().copied());
            let listed = net.cli(NODE, &args).ok().json();
            let indexes: Vec<u64> = listed
                .as_array()
                .expect("a list")
                .iter()
                .map(|l| l["index"].as_u64().expect("an index"))
                .collect();
            assert_eq!(&indexes, expected, "{path}: list {filter:?}");
        }
        let bad = net.cli(NODE, ["list", "--log", NODE, "--status", "sleeping"]);
        bad.fails_with(exit::INVALID_INPUT, "--status");
    };
    check(&net, "node stopped");
    let mut net = net;
    net.start(NODE);
    check(&net, "node running");
    net.stop(NODE);
}

/// The README's "Using a node" block, run as it stands with `bash -e`
/// from a directory that holds the repository's `scenarios/`, with this
/// build's `concord` first on the `PATH`.
#[test]
fn every_readme_command_runs_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let section = &readme[readme.find("## Using a node").expect("the section")..];
    let start = section.find("```sh\n").expect("a sh block") + "```sh\n".len();
    let block = &section[start..start + section[start..].find("```").expect("its end")];
    let dir = tempfile::tempdir().expect("temp dir");
    std::os::unix::fs::symlink(root.join("scenarios"), dir.path().join("scenarios"))
        .expect("link scenarios/");
    let script = write_temp(dir.path(), "readme.sh", block.as_bytes());
    let bin = Path::new(env!("CARGO_BIN_EXE_concord"))
        .parent()
        .expect("the binary's directory");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = Command::new("bash");
    command
        .arg("-e")
        .arg(&script)
        .current_dir(dir.path())
        .env("PATH", path)
        .env("CONCORD_LOG", "warn,libp2p=error")
        .env_remove("CONCORD_HOME")
        .env_remove("CONCORD_PASSPHRASE");
    let run = Run::with_timeout(command, Duration::from_secs(240));
    assert_eq!(
        run.code,
        Some(0),
        "the README's commands failed:\n{}\n{}",
        run.stdout,
        run.stderr
    );
    for says in [
        "published pacific-alliance.concord/mx index 2",
        "denial cl#0 of CL",
        "verified: checkpoints signed",
        "revoked token",
        "imported mx.bundle",
    ] {
        assert!(
            run.stdout.contains(says),
            "{says:?} missing:\n{}",
            run.stdout
        );
    }
}

/// One roster format: what `roster export` writes and `roster show --json`
/// prints is taken by `roster install`, `audit --roster` and
/// `verify-screening --roster`, as a single roster file is; a changed one
/// is refused.
#[test]
fn every_command_takes_the_roster_document_that_export_and_show_give() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let net = Testnet::create(&concord(), &[NODE, "mx"], &[]);
    let exported = scratch.path().join("roster.json");
    let said = net
        .cli(
            NODE,
            [
                "roster".as_ref(),
                "export".as_ref(),
                "--out".as_ref(),
                exported.as_os_str(),
            ],
        )
        .ok();
    assert!(said.stdout.contains("fingerprint"), "{}", said.stdout);
    let shown = net.cli(NODE, ["roster", "show", "--json"]).ok().stdout;
    let shown = write_temp(scratch.path(), "shown.json", shown.as_bytes());
    let document: Value =
        serde_json::from_slice(&std::fs::read(&exported).expect("exported")).expect("JSON");
    assert_eq!(document["format"], "concord-roster-export/v1");
    assert_eq!(document["files"].as_array().map(Vec::len), Some(1));

    // A home with no roster installs it; a bundle audits against it.
    let fresh = scratch.path().join("fresh");
    let mut init = concord().command();
    init.args([
        "init",
        "--insecure-demo-keys",
        "--id",
        "co",
        "--name",
        "Ministerio",
        "--country",
        "CO",
        "--home",
    ])
    .arg(&fresh);
    Run::of(init).ok();
    let mut install = concord().command();
    install
        .args(["roster", "install", "--home"])
        .arg(&fresh)
        .arg(&shown);
    let installed = Run::of(install).ok();
    assert!(
        installed.stdout.contains("installed roster version 1"),
        "{}",
        installed.stdout
    );
    assert!(fresh.join("roster/1.json").exists());
    let bundle = scratch.path().join("cl.bundle");
    net.cli(
        NODE,
        ["export".as_ref(), "--out".as_ref(), bundle.as_os_str()],
    )
    .ok();
    for roster in [&exported, &shown] {
        let mut audit = concord().command();
        audit
            .args(["audit", "--json", "--bundle"])
            .arg(&bundle)
            .arg("--roster")
            .arg(roster);
        let report = Run::of(audit).ok().json();
        assert!(
            !report["roster"]
                .as_str()
                .expect("roster")
                .contains("not checked"),
            "{report}"
        );
    }
    let result = scratch.path().join("result.json");
    let application = records::dir().join("applications/co-2026-thiodiglycol.json");
    net.cli(
        NODE,
        [
            "screen".as_ref(),
            "--file".as_ref(),
            application.as_os_str(),
            "--out".as_ref(),
            result.as_os_str(),
        ],
    )
    .ok();
    let mut verify = concord().command();
    verify
        .args(["verify-screening"])
        .arg(&result)
        .arg("--roster")
        .arg(&exported);
    let verified = Run::of(verify).ok();
    assert!(
        !verified.stdout.contains("carried by the result"),
        "{}",
        verified.stdout
    );

    // A document whose roster file was changed is refused everywhere.
    let mut changed = document.clone();
    let file = changed["files"][0].as_str().expect("base64").to_owned();
    changed["files"][0] = format!("A{}", &file[1..]).into();
    let changed = write_temp(
        scratch.path(),
        "changed.json",
        &serde_json::to_vec(&changed).expect("JSON"),
    );
    let mut audit = concord().command();
    audit
        .args(["audit", "--bundle"])
        .arg(&bundle)
        .arg("--roster")
        .arg(&changed);
    Run::of(audit).fails_with(exit::INVALID_INPUT, "changed.json");
}

/// Publishing a record identical to one of the log still in force asks
/// for `--force`, running or stopped; a revoked one does not count.
#[test]
fn a_record_identical_to_one_in_force_takes_force() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let net = Testnet::create(&concord(), &[NODE], &[]);
    let denial = write_temp(
        scratch.path(),
        "denial.json",
        &first_denial().stated_by("CL"),
    );
    assert_eq!(
        Published::parse(&publish_file(&net, "denial", &denial).ok().json()).index,
        0
    );
    publish_file(&net, "denial", &denial).fails_with(exit::REFUSED, "--force");
    let forced = {
        let mut command = net.concord().command();
        command
            .args([
                "publish",
                "denial",
                "--json",
                "--force",
                "--accept-fork-risk",
                "--file",
            ])
            .arg(&denial)
            .arg("--home")
            .arg(net.home(NODE));
        Run::of(command).ok()
    };
    assert_eq!(Published::parse(&forced.json()).index, 1);
    // Both revoked: the record is in force nowhere, so it is news again.
    let revocation = write_temp(
        scratch.path(),
        "revoke.json",
        br#"{"reason": "appeal upheld", "date": "2026-06-01"}"#,
    );
    for index in ["0", "1"] {
        let mut command = net.concord().command();
        command
            .args(["revoke", "--accept-fork-risk", "--index", index, "--file"])
            .arg(&revocation)
            .arg("--home")
            .arg(net.home(NODE));
        Run::of(command).ok();
    }
    assert_eq!(
        Published::parse(&publish_file(&net, "denial", &denial).ok().json()).index,
        4
    );
}
