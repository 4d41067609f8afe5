//! Key files: both protection kinds, tampering, the path wrappers' file
//! modes and their refusal to overwrite.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::identity;
use concord_keys::AgencyIdentity;
use concord_keys::keyfile::{
    self, KdfParams, KeyFileError, Passphrase, Protection, read_key_file, write_key_file,
};

const KDF: KdfParams = KdfParams::INSECURE_FAST;

fn passphrase() -> Passphrase {
    Passphrase::new("correct horse battery staple")
}

fn encrypted(identity: &AgencyIdentity, passphrase: &Passphrase) -> Vec<u8> {
    keyfile::seal(
        identity,
        Protection::Passphrase {
            passphrase,
            params: KDF,
        },
    )
    .expect("seals")
}

fn assert_same(a: &AgencyIdentity, b: &AgencyIdentity) {
    assert_eq!(a.id, b.id);
    assert_eq!(a.log_key.to_bytes(), b.log_key.to_bytes());
    assert_eq!(a.transport_seed, b.transport_seed);
}

fn edit(bytes: &[u8], edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut file: serde_json::Value = serde_json::from_slice(bytes).expect("key files are JSON");
    edit(&mut file);
    serde_json::to_vec(&file).expect("serialises")
}

#[test]
fn production_parameters() {
    assert_eq!(
        KdfParams::default(),
        KdfParams {
            m_cost_kib: 64 * 1024,
            t_cost: 3,
            p_cost: 1
        }
    );
}

#[test]
fn encrypted_round_trip() {
    let mx = identity("mx-se", 3);
    let bytes = encrypted(&mx, &passphrase());
    let file: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
    assert_eq!(file["format"], "concord-keyfile/v1");
    assert_eq!(file["id"], "mx-se");
    assert_eq!(file["protection"]["kind"], "argon2id+xchacha20poly1305");
    assert_eq!(file["protection"]["m_cost_kib"], KDF.m_cost_kib);
    assert!(file.get("plaintext").is_none());
    let seed_b64 = BASE64.encode(mx.log_key.to_bytes());
    assert!(
        !String::from_utf8_lossy(&bytes).contains(&seed_b64),
        "the seed is not in the clear"
    );
    let opened = keyfile::open(&bytes, Some(&passphrase())).expect("opens");
    assert_same(&opened, &mx);
    // Fresh salt and nonce each time.
    assert_ne!(encrypted(&mx, &passphrase()), bytes);
}

#[test]
fn insecure_round_trip() {
    let un = identity("un1540", 6);
    let bytes = keyfile::seal(&un, Protection::InsecurePlaintext).expect("seals");
    let file: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
    assert_eq!(
        file["protection"],
        serde_json::json!({"kind": "insecure-plaintext"})
    );
    assert_eq!(
        file["plaintext"]["log_key"],
        BASE64.encode(un.log_key.to_bytes())
    );
    assert_eq!(
        file["plaintext"]["transport_seed"],
        BASE64.encode(un.transport_seed)
    );
    assert_same(&keyfile::open(&bytes, None).expect("opens"), &un);
}

#[test]
fn generated_identity_round_trips() {
    let generated = AgencyIdentity::generate(common::member_id("br-secex")).expect("os randomness");
    let bytes = encrypted(&generated, &passphrase());
    assert_same(
        &keyfile::open(&bytes, Some(&passphrase())).expect("opens"),
        &generated,
    );
}

#[test]
fn open_errors() {
    let mx = identity("mx-se", 3);
    let sealed = encrypted(&mx, &passphrase());
    let insecure = keyfile::seal(&mx, Protection::InsecurePlaintext).expect("seals");
    let wrong = Passphrase::new("Tr0ub4dor&3");

    let check = |bytes: &[u8], passphrase: Option<&Passphrase>, expected: &str| {
        let error = keyfile::open(bytes, passphrase).expect_err(expected);
        assert!(
            error.to_string().contains(expected),
            "{error:?} does not contain {expected:?}"
        );
    };
    check(
        &sealed,
        Some(&wrong),
        "wrong passphrase or corrupted key file",
    );
    check(&sealed, None, "a passphrase is required");
    check(
        &insecure,
        Some(&passphrase()),
        "stored in the clear (insecure-plaintext) but a passphrase was given",
    );

    let tampered = edit(&sealed, |file| {
        let mut ciphertext = BASE64
            .decode(file["ciphertext"].as_str().expect("string"))
            .expect("base64");
        ciphertext[5] ^= 0x80;
        file["ciphertext"] = BASE64.encode(ciphertext).into();
    });
    check(
        &tampered,
        Some(&passphrase()),
        "wrong passphrase or corrupted key file",
    );
    // The secrets of mx-se cannot be passed off as pe-mincetur's.
    let swapped = edit(&sealed, |file| file["id"] = "pe-mincetur".into());
    check(
        &swapped,
        Some(&passphrase()),
        "wrong passphrase or corrupted key file",
    );
    let other_salt = edit(&sealed, |file| {
        file["protection"]["salt"] = BASE64.encode([7u8; 16]).into()
    });
    check(
        &other_salt,
        Some(&passphrase()),
        "wrong passphrase or corrupted key file",
    );

    check(b"{", Some(&passphrase()), "key file is malformed");
    check(b"[]", None, "missing field `format`");
    check(
        &edit(&sealed, |f| f["format"] = "concord-keyfile/v2".into()),
        None,
        "format \"concord-keyfile/v2\" is not supported",
    );
    check(
        &edit(&sealed, |f| f["format"] = 1.into()),
        None,
        "field format must be a string",
    );
    check(
        &edit(&sealed, |f| {
            f["protection"]["kind"] = "scrypt+aes-gcm".into()
        }),
        None,
        "protection kind \"scrypt+aes-gcm\" is not supported",
    );
    check(
        &edit(&sealed, |f| f["id"] = "MX".into()),
        None,
        "invalid member id \"MX\"",
    );
    check(
        &edit(&sealed, |f| f["comment"] = "hi".into()),
        None,
        "unknown field `comment`",
    );
    check(
        &edit(&sealed, |f| {
            f["protection"]
                .as_object_mut()
                .expect("object")
                .remove("salt");
        }),
        None,
        "missing field `salt`",
    );
    check(
        &edit(&sealed, |f| f["protection"]["pepper"] = 1.into()),
        None,
        "unknown field `pepper`",
    );
    check(
        &edit(&sealed, |f| {
            f["protection"]["salt"] = BASE64.encode([0u8; 8]).into()
        }),
        Some(&passphrase()),
        "field protection.salt is invalid: must be 16 bytes, not 8",
    );
    check(
        &edit(&sealed, |f| f["protection"]["nonce"] = "***".into()),
        Some(&passphrase()),
        "field protection.nonce is invalid: not canonical base64",
    );
    check(
        &edit(&sealed, |f| f["ciphertext"] = "***".into()),
        Some(&passphrase()),
        "field ciphertext is invalid: not canonical base64",
    );
    check(
        &edit(&sealed, |f| {
            f["plaintext"] = serde_json::json!({"log_key": "", "transport_seed": ""})
        }),
        Some(&passphrase()),
        "needs field `ciphertext` and no field `plaintext`",
    );
    check(
        &edit(&insecure, |f| f["ciphertext"] = "AAAA".into()),
        None,
        "needs field `plaintext` and no field `ciphertext`",
    );
    // A hostile file cannot make open allocate a terabyte.
    check(
        &edit(&sealed, |f| f["protection"]["m_cost_kib"] = u32::MAX.into()),
        Some(&passphrase()),
        "kdf parameter m_cost_kib is 4294967295",
    );
    check(
        &edit(&sealed, |f| f["protection"]["t_cost"] = 0.into()),
        Some(&passphrase()),
        "kdf parameter t_cost is 0",
    );
    check(
        &edit(&insecure, |f| {
            f["plaintext"]["log_key"] = BASE64.encode([1u8; 31]).into()
        }),
        None,
        "field plaintext is invalid: log_key must be 32 bytes",
    );
    check(
        &edit(&insecure, |f| {
            f["plaintext"]["transport_seed"] = f["plaintext"]["log_key"].clone()
        }),
        None,
        "transport seed equals the log key seed",
    );
    check(&vec![b' '; 70 * 1024], None, "more than the 65536 allowed");
}

#[test]
fn seal_errors() {
    let mx = identity("mx-se", 3);
    // Too short, too few different characters, or empty: refused, with
    // what was counted (characters, not bytes: "ñandú" is 5).
    for (weak, chars, distinct) in [
        ("", 0, 0),
        ("x", 1, 1),
        ("ñandú ñandú", 11, 6),
        ("aaaaaaaaaaaaaaaa", 16, 1),
        ("abababababababab", 16, 2),
    ] {
        let result = keyfile::seal(
            &mx,
            Protection::Passphrase {
                passphrase: &Passphrase::new(weak),
                params: KDF,
            },
        );
        assert!(
            matches!(result, Err(KeyFileError::WeakPassphrase { chars: c, distinct: d }) if (c, d) == (chars, distinct)),
            "{weak:?}: {result:?}"
        );
    }
    assert!(Passphrase::new("ñandú ñandú ñ").check_strength().is_ok());
    let bad_kdf = KdfParams {
        m_cost_kib: 64,
        t_cost: 1,
        p_cost: 0,
    };
    let result = keyfile::seal(
        &mx,
        Protection::Passphrase {
            passphrase: &passphrase(),
            params: bad_kdf,
        },
    );
    assert!(
        matches!(
            result,
            Err(KeyFileError::KdfOutOfRange {
                field: "p_cost",
                ..
            })
        ),
        "{result:?}"
    );
}

#[test]
fn passphrase_debug_is_redacted() {
    assert_eq!(format!("{:?}", passphrase()), "Passphrase(<secret>)");
}

#[test]
fn write_creates_mode_0600_and_reads_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("mx-se.key");
    let mx = identity("mx-se", 3);
    let pass = passphrase();
    write_key_file(
        &path,
        &mx,
        Protection::Passphrase {
            passphrase: &pass,
            params: KDF,
        },
    )
    .expect("writes");
    let mode = fs::metadata(&path).expect("exists").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_same(&read_key_file(&path, Some(&pass)).expect("reads"), &mx);
    let names: Vec<_> = fs::read_dir(dir.path())
        .expect("lists")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from("mx-se.key")],
        "no temporary file is left behind"
    );
}

#[test]
fn write_refuses_to_overwrite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("mx-se.key");
    fs::write(&path, b"precious").expect("writes");
    let result = write_key_file(&path, &identity("mx-se", 3), Protection::InsecurePlaintext);
    assert!(
        matches!(&result, Err(KeyFileError::AlreadyExists { path: p }) if p == &path),
        "{result:?}"
    );
    assert_eq!(fs::read(&path).expect("reads"), b"precious");
    assert_eq!(fs::read_dir(dir.path()).expect("lists").count(), 1);
}

#[test]
fn read_refuses_encrypted_file_readable_by_others() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("mx-se.key");
    let pass = passphrase();
    write_key_file(
        &path,
        &identity("mx-se", 3),
        Protection::Passphrase {
            passphrase: &pass,
            params: KDF,
        },
    )
    .expect("writes");
    for mode in [0o640, 0o604, 0o644] {
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
        let error = read_key_file(&path, Some(&pass)).expect_err("too open");
        assert!(
            matches!(error, KeyFileError::PermissionsTooOpen { mode: m, .. } if m == mode),
            "{error:?}"
        );
        assert!(error.to_string().contains("chmod 600"), "{error}");
    }
    // Insecure demo files are in the clear anyway; their mode is not policed.
    let demo = dir.path().join("demo.key");
    write_key_file(&demo, &identity("wco", 7), Protection::InsecurePlaintext).expect("writes");
    fs::set_permissions(&demo, fs::Permissions::from_mode(0o644)).expect("chmod");
    assert_same(
        &read_key_file(&demo, None).expect("reads"),
        &identity("wco", 7),
    );
}

#[test]
fn read_missing_file_names_the_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("absent.key");
    let error = read_key_file(&path, None).expect_err("absent");
    assert!(matches!(error, KeyFileError::Io { .. }), "{error:?}");
    assert!(error.to_string().contains("absent.key"), "{error}");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = keyfile::open(&bytes, None);
            let _ = keyfile::open(&bytes, Some(&passphrase()));
        }

        /// Changing any one byte of an encrypted file either breaks it or
        /// yields the same secrets (say, a changed space between fields).
        #[test]
        fn one_changed_byte_never_yields_other_secrets(position in any::<prop::sample::Index>(), flip in 1u8..=255) {
            let mx = identity("mx-se", 3);
            let mut bytes = encrypted(&mx, &passphrase());
            let at = position.index(bytes.len());
            bytes[at] ^= flip;
            if let Ok(opened) = keyfile::open(&bytes, Some(&passphrase())) {
                prop_assert_eq!(&opened.id, &mx.id);
                prop_assert_eq!(opened.log_key.to_bytes(), mx.log_key.to_bytes());
                prop_assert_eq!(opened.transport_seed, mx.transport_seed);
            }
        }
    }
}
