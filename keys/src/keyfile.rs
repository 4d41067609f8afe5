//! The `concord-keyfile/v1` format: an agency's secrets at rest.
//!
//! A key file is one JSON object (UTF-8, at most [`MAX_KEY_FILE_BYTES`]):
//!
//! ```json
//! {
//!   "format": "concord-keyfile/v1",
//!   "id": "mx-se",
//!   "protection": {
//!     "kind": "argon2id+xchacha20poly1305",
//!     "m_cost_kib": 65536, "t_cost": 3, "p_cost": 1,
//!     "salt": "<base64, 16 bytes>",
//!     "nonce": "<base64, 24 bytes>"
//!   },
//!   "ciphertext": "<base64>"
//! }
//! ```
//!
//! - `id` is the [`MemberId`] the secrets belong to.
//! - With `kind` `argon2id+xchacha20poly1305`, the 32-byte key is
//!   Argon2id (version 0x13) of the UTF-8 passphrase with `salt` and the three
//!   costs (`m_cost_kib` in KiB), and `ciphertext` is XChaCha20-Poly1305 of
//!   the secrets object below under that key and `nonce`, tag appended. The
//!   associated data is `concord-keyfile/v1` || 0x0A || `id`, so secrets
//!   cannot be moved under another id or format without failing to decrypt.
//! - With `kind` `insecure-plaintext` (for tests and local demos only) the
//!   protection object has no other field, and the file carries the secrets
//!   object in the clear as `"plaintext"` instead of `"ciphertext"`.
//!
//! The secrets object is `{"log_key":"<base64>","transport_seed":"<base64>"}`:
//! the 32-byte Ed25519 seed of the log key and the 32-byte Ed25519 seed of
//! the libp2p transport key. Base64 is standard with padding everywhere.
//! Unknown fields are refused at every level.
//!
//! [`seal`] and [`open`] are pure over bytes (apart from drawing salt and
//! nonce). [`write_key_file`] and [`read_key_file`] are the thin path
//! wrappers: the first creates the file with mode 0600 and never overwrites
//! one, the second refuses an encrypted file that group or others can read.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::{Zeroize as _, Zeroizing};

use crate::identity::{AgencyIdentity, IdentityError, MemberId};

/// The `format` of every key file this module writes and reads.
pub const FORMAT: &str = "concord-keyfile/v1";
/// The `protection.kind` of passphrase-encrypted key files.
pub const KIND_ENCRYPTED: &str = "argon2id+xchacha20poly1305";
/// The `protection.kind` of key files stored in the clear.
pub const KIND_INSECURE: &str = "insecure-plaintext";
/// Largest key file accepted.
pub const MAX_KEY_FILE_BYTES: usize = 64 * 1024;

const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 24;

/// Why a key file could not be written, read or opened.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("key file is {0} bytes, more than the {MAX_KEY_FILE_BYTES} allowed")]
    TooLarge(usize),
    #[error("key file is malformed: {0}")]
    Malformed(String),
    #[error("key file field {field} is invalid: {reason}")]
    BadField { field: &'static str, reason: String },
    #[error("key file format {0:?} is not supported; expected \"{FORMAT}\"")]
    UnknownFormat(String),
    #[error(
        "key file protection kind {0:?} is not supported; expected \"{KIND_ENCRYPTED}\" or \"{KIND_INSECURE}\""
    )]
    UnknownProtection(String),
    #[error("wrong passphrase or corrupted key file")]
    WrongPassphrase,
    #[error("key file is encrypted; a passphrase is required to open it")]
    PassphraseRequired,
    #[error(
        "key file is stored in the clear ({KIND_INSECURE}) but a passphrase was given; refusing it in case it replaced an encrypted one"
    )]
    InsecureWithPassphrase,
    #[error(
        "passphrase too weak: it has {chars} characters and {distinct} different ones; a new key file needs at least {MIN_PASSPHRASE_CHARS} characters with at least {MIN_PASSPHRASE_DISTINCT} different ones (several words are easiest)"
    )]
    WeakPassphrase { chars: usize, distinct: usize },
    #[error("kdf parameter {field} is {value}; it must be between {min} and {max}")]
    KdfOutOfRange {
        field: &'static str,
        value: u32,
        min: u32,
        max: u32,
    },
    #[error("key derivation failed: {0}")]
    Kdf(String),
    #[error("key file secrets are invalid: {0}")]
    Identity(#[from] IdentityError),
    #[error("operating system randomness unavailable: {0}")]
    Randomness(String),
    #[error("key file {} already exists; refusing to overwrite it", path.display())]
    AlreadyExists { path: PathBuf },
    #[error(
        "key file {} can be read by group or others (mode {mode:03o}); restrict it with `chmod 600`",
        path.display()
    )]
    PermissionsTooOpen { path: PathBuf, mode: u32 },
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory, in KiB.
    pub m_cost_kib: u32,
    /// Passes over memory.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl KdfParams {
    /// What operators get: 64 MiB, 3 passes, 1 lane.
    pub const PRODUCTION: Self = Self {
        m_cost_kib: 64 * 1024,
        t_cost: 3,
        p_cost: 1,
    };
    /// Cheap parameters for tests; never for a real key.
    pub const INSECURE_FAST: Self = Self {
        m_cost_kib: 64,
        t_cost: 1,
        p_cost: 1,
    };

    // Bounds on what a file may ask for, so that a hostile file cannot make
    // `open` allocate gigabytes or spin for hours.
    const M_COST_KIB: (u32, u32) = (8, 1024 * 1024);
    const T_COST: (u32, u32) = (1, 64);
    const P_COST: (u32, u32) = (1, 16);

    fn check(&self) -> Result<(), KeyFileError> {
        let p_cost_floor = self.p_cost.saturating_mul(8).max(Self::M_COST_KIB.0);
        for (field, value, (min, max)) in [
            ("p_cost", self.p_cost, Self::P_COST),
            ("t_cost", self.t_cost, Self::T_COST),
            (
                "m_cost_kib",
                self.m_cost_kib,
                (p_cost_floor, Self::M_COST_KIB.1),
            ),
        ] {
            if !(min..=max).contains(&value) {
                return Err(KeyFileError::KdfOutOfRange {
                    field,
                    value,
                    min,
                    max,
                });
            }
        }
        Ok(())
    }

    fn derive_key(
        &self,
        passphrase: &Passphrase,
        salt: &[u8],
    ) -> Result<Zeroizing<[u8; 32]>, KeyFileError> {
        self.check()?;
        let params = argon2::Params::new(self.m_cost_kib, self.t_cost, self.p_cost, Some(32))
            .map_err(|e| KeyFileError::Kdf(e.to_string()))?;
        let argon2 =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut key = Zeroizing::new([0u8; 32]);
        argon2
            .hash_password_into(passphrase.0.as_bytes(), salt, key.as_mut())
            .map_err(|e| KeyFileError::Kdf(e.to_string()))?;
        Ok(key)
    }
}

impl Default for KdfParams {
    fn default() -> Self {
        Self::PRODUCTION
    }
}

/// A passphrase, wiped on drop and never printed.
pub struct Passphrase(Zeroizing<String>);

/// Fewest characters (Unicode scalar values) of a passphrase that seals a
/// new key file: with Argon2id in front, 12 characters of a phrase are out
/// of reach of a guessing attack on a stolen file, 1 or 6 are not.
pub const MIN_PASSPHRASE_CHARS: usize = 12;
/// Fewest different characters, which refuses `aaaaaaaaaaaa`.
pub const MIN_PASSPHRASE_DISTINCT: usize = 5;

impl Passphrase {
    /// Wraps the passphrase text (taken as UTF-8 bytes by Argon2id).
    pub fn new(passphrase: impl Into<String>) -> Self {
        Self(Zeroizing::new(passphrase.into()))
    }

    /// Whether this passphrase may seal a new key file. Opening an existing
    /// one takes whatever passphrase sealed it.
    ///
    /// # Errors
    /// [`KeyFileError::WeakPassphrase`] below [`MIN_PASSPHRASE_CHARS`]
    /// characters or [`MIN_PASSPHRASE_DISTINCT`] different ones.
    pub fn check_strength(&self) -> Result<(), KeyFileError> {
        let chars = self.0.chars().count();
        let distinct = self
            .0
            .chars()
            .collect::<std::collections::HashSet<_>>()
            .len();
        if chars < MIN_PASSPHRASE_CHARS || distinct < MIN_PASSPHRASE_DISTINCT {
            return Err(KeyFileError::WeakPassphrase { chars, distinct });
        }
        Ok(())
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<secret>)")
    }
}

/// How [`seal`] protects the secrets.
#[derive(Debug, Clone, Copy)]
pub enum Protection<'a> {
    /// Argon2id with these costs, then XChaCha20-Poly1305.
    Passphrase {
        passphrase: &'a Passphrase,
        params: KdfParams,
    },
    /// Secrets in the clear: tests and local demos only.
    InsecurePlaintext,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileJson {
    format: String,
    id: MemberId,
    protection: ProtectionJson,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ciphertext: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    plaintext: Option<SecretsJson>,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", deny_unknown_fields)]
enum ProtectionJson {
    #[serde(rename = "argon2id+xchacha20poly1305")]
    Encrypted {
        m_cost_kib: u32,
        t_cost: u32,
        p_cost: u32,
        salt: String,
        nonce: String,
    },
    #[serde(rename = "insecure-plaintext")]
    Insecure {},
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretsJson {
    log_key: String,
    transport_seed: String,
}

impl Drop for SecretsJson {
    fn drop(&mut self) {
        self.log_key.zeroize();
        self.transport_seed.zeroize();
    }
}

impl SecretsJson {
    fn of(identity: &AgencyIdentity) -> Self {
        Self {
            log_key: BASE64.encode(identity.log_key.as_bytes()),
            transport_seed: BASE64.encode(identity.transport_seed),
        }
    }

    fn into_identity(
        self,
        id: MemberId,
        field: &'static str,
    ) -> Result<AgencyIdentity, KeyFileError> {
        let log_seed = decode_secret(&self.log_key, field, "log_key")?;
        let transport_seed = decode_secret(&self.transport_seed, field, "transport_seed")?;
        Ok(AgencyIdentity::from_secrets(
            id,
            &log_seed,
            &transport_seed,
        )?)
    }
}

fn decode_secret(
    b64: &str,
    field: &'static str,
    name: &str,
) -> Result<Zeroizing<[u8; 32]>, KeyFileError> {
    let bytes = Zeroizing::new(concord_protocol::base64::decode(b64).map_err(|_| {
        KeyFileError::BadField {
            field,
            reason: format!("{name} is not canonical base64"),
        }
    })?);
    let mut seed = Zeroizing::new([0u8; 32]);
    if bytes.len() != seed.len() {
        return Err(KeyFileError::BadField {
            field,
            reason: format!("{name} must be 32 bytes"),
        });
    }
    seed.copy_from_slice(&bytes);
    Ok(seed)
}

fn associated_data(id: &MemberId) -> Vec<u8> {
    format!("{FORMAT}\n{id}").into_bytes()
}

/// The key file bytes of `identity`, protected as asked. The salt and nonce
/// are drawn from the operating system.
///
/// # Errors
/// [`KeyFileError::WeakPassphrase`], [`KeyFileError::KdfOutOfRange`] for
/// unusable parameters, [`KeyFileError::Randomness`] when the OS has no
/// randomness, [`KeyFileError::Kdf`] when Argon2 cannot run (out of memory).
pub fn seal(
    identity: &AgencyIdentity,
    protection: Protection<'_>,
) -> Result<Vec<u8>, KeyFileError> {
    let (protection_json, ciphertext, plaintext) = match protection {
        Protection::InsecurePlaintext => (
            ProtectionJson::Insecure {},
            None,
            Some(SecretsJson::of(identity)),
        ),
        Protection::Passphrase {
            passphrase,
            params: kdf,
        } => {
            passphrase.check_strength()?;
            let mut salt = [0u8; SALT_LEN];
            let mut nonce = [0u8; NONCE_LEN];
            getrandom::fill(&mut salt)
                .and_then(|()| getrandom::fill(&mut nonce))
                .map_err(|e| KeyFileError::Randomness(e.to_string()))?;
            let key = kdf.derive_key(passphrase, &salt)?;
            let secrets = Zeroizing::new(
                serde_json::to_vec(&SecretsJson::of(identity))
                    .expect("two strings always serialise"),
            );
            let aad = associated_data(&identity.id);
            let cipher = XChaCha20Poly1305::new(&(*key).into());
            let ciphertext = cipher
                .encrypt(
                    &XNonce::from(nonce),
                    Payload {
                        msg: &secrets,
                        aad: &aad,
                    },
                )
                .map_err(|_| KeyFileError::Kdf("encryption failed".to_owned()))?;
            let protection_json = ProtectionJson::Encrypted {
                m_cost_kib: kdf.m_cost_kib,
                t_cost: kdf.t_cost,
                p_cost: kdf.p_cost,
                salt: BASE64.encode(salt),
                nonce: BASE64.encode(nonce),
            };
            (protection_json, Some(BASE64.encode(ciphertext)), None)
        }
    };
    let file = FileJson {
        format: FORMAT.to_owned(),
        id: identity.id.clone(),
        protection: protection_json,
        ciphertext,
        plaintext,
    };
    let mut bytes =
        serde_json::to_vec_pretty(&file).expect("strings and integers always serialise");
    bytes.push(b'\n');
    Ok(bytes)
}

/// Opens key file bytes. `passphrase` must be given for an encrypted file and
/// must not be for an `insecure-plaintext` one.
///
/// # Errors
/// [`KeyFileError::WrongPassphrase`] when decryption fails (wrong passphrase,
/// tampered ciphertext, changed id), [`KeyFileError::PassphraseRequired`],
/// [`KeyFileError::InsecureWithPassphrase`], [`KeyFileError::UnknownFormat`],
/// [`KeyFileError::UnknownProtection`], and [`KeyFileError::Malformed`] or
/// [`KeyFileError::BadField`] naming the field that is wrong.
pub fn open(bytes: &[u8], passphrase: Option<&Passphrase>) -> Result<AgencyIdentity, KeyFileError> {
    parse(bytes)?.open(passphrase)
}

/// A key file whose JSON is well formed, not yet opened.
struct ParsedKeyFile(FileJson);

fn parse(bytes: &[u8]) -> Result<ParsedKeyFile, KeyFileError> {
    if bytes.len() > MAX_KEY_FILE_BYTES {
        return Err(KeyFileError::TooLarge(bytes.len()));
    }
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| KeyFileError::Malformed(e.to_string()))?;
    // Format and kind are looked at before the full schema, so that a file from
    // a later version says so instead of failing on a field this one lacks.
    match value.get("format") {
        Some(serde_json::Value::String(format)) if format == FORMAT => {}
        Some(serde_json::Value::String(format)) => {
            return Err(KeyFileError::UnknownFormat(format.clone()));
        }
        Some(_) => {
            return Err(KeyFileError::Malformed(
                "field format must be a string".to_owned(),
            ));
        }
        None => return Err(KeyFileError::Malformed("missing field `format`".to_owned())),
    }
    if let Some(serde_json::Value::String(kind)) =
        value.get("protection").and_then(|p| p.get("kind"))
        && kind != KIND_ENCRYPTED
        && kind != KIND_INSECURE
    {
        return Err(KeyFileError::UnknownProtection(kind.clone()));
    }
    let file: FileJson =
        serde_json::from_value(value).map_err(|e| KeyFileError::Malformed(e.to_string()))?;
    match (&file.protection, &file.ciphertext, &file.plaintext) {
        (ProtectionJson::Encrypted { .. }, Some(_), None)
        | (ProtectionJson::Insecure {}, None, Some(_)) => Ok(ParsedKeyFile(file)),
        (ProtectionJson::Encrypted { .. }, _, _) => Err(KeyFileError::Malformed(format!(
            "kind {KIND_ENCRYPTED} needs field `ciphertext` and no field `plaintext`"
        ))),
        (ProtectionJson::Insecure {}, _, _) => Err(KeyFileError::Malformed(format!(
            "kind {KIND_INSECURE} needs field `plaintext` and no field `ciphertext`"
        ))),
    }
}

impl ParsedKeyFile {
    fn is_insecure(&self) -> bool {
        matches!(self.0.protection, ProtectionJson::Insecure {})
    }

    fn open(self, passphrase: Option<&Passphrase>) -> Result<AgencyIdentity, KeyFileError> {
        let FileJson {
            id,
            protection,
            ciphertext,
            plaintext,
            ..
        } = self.0;
        match protection {
            ProtectionJson::Insecure {} => {
                if passphrase.is_some() {
                    return Err(KeyFileError::InsecureWithPassphrase);
                }
                let secrets = plaintext.expect("parse checked that insecure files carry plaintext");
                secrets.into_identity(id, "plaintext")
            }
            ProtectionJson::Encrypted {
                m_cost_kib,
                t_cost,
                p_cost,
                salt,
                nonce,
            } => {
                let passphrase = passphrase.ok_or(KeyFileError::PassphraseRequired)?;
                let salt: [u8; SALT_LEN] = decode_fixed(&salt, "protection.salt")?;
                let nonce: [u8; NONCE_LEN] = decode_fixed(&nonce, "protection.nonce")?;
                let ciphertext =
                    ciphertext.expect("parse checked that encrypted files carry ciphertext");
                let ciphertext = concord_protocol::base64::decode(ciphertext).map_err(|_| {
                    KeyFileError::BadField {
                        field: "ciphertext",
                        reason: "not canonical base64".to_owned(),
                    }
                })?;
                let kdf = KdfParams {
                    m_cost_kib,
                    t_cost,
                    p_cost,
                };
                let key = kdf.derive_key(passphrase, &salt)?;
                let aad = associated_data(&id);
                let cipher = XChaCha20Poly1305::new(&(*key).into());
                let secrets = Zeroizing::new(
                    cipher
                        .decrypt(
                            &XNonce::from(nonce),
                            Payload {
                                msg: &ciphertext,
                                aad: &aad,
                            },
                        )
                        .map_err(|_| KeyFileError::WrongPassphrase)?,
                );
                let secrets: SecretsJson =
                    serde_json::from_slice(&secrets).map_err(|e| KeyFileError::BadField {
                        field: "ciphertext",
                        reason: format!("secrets: {e}"),
                    })?;
                secrets.into_identity(id, "ciphertext")
            }
        }
    }
}

fn decode_fixed<const N: usize>(b64: &str, field: &'static str) -> Result<[u8; N], KeyFileError> {
    let bytes = concord_protocol::base64::decode(b64).map_err(|_| KeyFileError::BadField {
        field,
        reason: "not canonical base64".to_owned(),
    })?;
    bytes
        .try_into()
        .map_err(|bytes: Vec<u8>| KeyFileError::BadField {
            field,
            reason: format!("must be {N} bytes, not {}", bytes.len()),
        })
}

/// Seals `identity` into a new key file at `path`, mode 0600.
///
/// The bytes go to a temporary file in the same directory, which is flushed
/// to disk and then linked to `path`; linking fails if `path` exists, so an
/// existing key is never overwritten, even by a concurrent writer. The
/// directory is flushed last so the new name survives a crash.
///
/// # Errors
/// [`KeyFileError::AlreadyExists`], [`KeyFileError::Io`], or any error of
/// [`seal`].
pub fn write_key_file(
    path: &Path,
    identity: &AgencyIdentity,
    protection: Protection<'_>,
) -> Result<(), KeyFileError> {
    let io = |action: &'static str, path: &Path| {
        let path = path.to_owned();
        move |source| KeyFileError::Io {
            action,
            path,
            source,
        }
    };
    if path.symlink_metadata().is_ok() {
        return Err(KeyFileError::AlreadyExists {
            path: path.to_owned(),
        });
    }
    let bytes = seal(identity, protection)?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| KeyFileError::Io {
            action: "write key file",
            path: path.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "path has no file name"),
        })?
        .to_string_lossy()
        .into_owned();
    let mut tag = [0u8; 8];
    getrandom::fill(&mut tag).map_err(|e| KeyFileError::Randomness(e.to_string()))?;
    let tag: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    let tmp_path = dir.join(format!(".{file_name}.{tag}.tmp"));

    let written = (|| {
        let mut tmp = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp_path)
            .map_err(io("create", &tmp_path))?;
        tmp.write_all(&bytes).map_err(io("write", &tmp_path))?;
        tmp.sync_all().map_err(io("flush", &tmp_path))?;
        fs::hard_link(&tmp_path, path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::AlreadyExists {
                KeyFileError::AlreadyExists {
                    path: path.to_owned(),
                }
            } else {
                KeyFileError::Io {
                    action: "link",
                    path: path.to_owned(),
                    source,
                }
            }
        })
    })();
    // The temporary name goes whether or not the link was made.
    let removed = fs::remove_file(&tmp_path);
    written?;
    removed.map_err(io("remove", &tmp_path))?;
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(io("flush directory", &dir))?;
    Ok(())
}

/// Reads and opens the key file at `path`.
///
/// # Errors
/// [`KeyFileError::PermissionsTooOpen`] when an encrypted file can be read by
/// group or others, [`KeyFileError::Io`], or any error of [`open`].
pub fn read_key_file(
    path: &Path,
    passphrase: Option<&Passphrase>,
) -> Result<AgencyIdentity, KeyFileError> {
    let io = |action: &'static str| {
        let path = path.to_owned();
        move |source| KeyFileError::Io {
            action,
            path,
            source,
        }
    };
    let file = File::open(path).map_err(io("open"))?;
    let mode = file.metadata().map_err(io("stat"))?.permissions().mode();
    let mut bytes = Vec::new();
    file.take(MAX_KEY_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io("read"))?;
    let bytes = Zeroizing::new(bytes);
    let parsed = parse(&bytes)?;
    if mode & 0o077 != 0 && !parsed.is_insecure() {
        return Err(KeyFileError::PermissionsTooOpen {
            path: path.to_owned(),
            mode: mode & 0o777,
        });
    }
    parsed.open(passphrase)
}
