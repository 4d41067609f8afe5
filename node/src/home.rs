//! A node's home directory: configuration, keys, roster and database.
//!
//! ```text
//! HOME/config.toml     what the operator chose (id, federation, addresses)
//! HOME/identity.key    the agency's keys (concord-keyfile/v1), mode 0600
//! HOME/api.token       bearer token of the local HTTP API, mode 0600
//! HOME/roster/N.json   every signed roster version, 1 (genesis) to current
//! HOME/db/             the sled store
//! ```
//!
//! The key file's passphrase comes from `CONCORD_PASSPHRASE`; demo homes
//! made with insecure keys need none.
//!
//! A home holds members-only payloads (in `db/`) and secrets, so its
//! directories are created 0700 and its secret files 0600; a node refuses
//! to run on a home that another local user could write
//! ([`Home::check_permissions`]).

use std::io::Write as _;
use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroU64, NonZeroUsize};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use concord_keys::roster::{Roster, SignedRoster};
use concord_keys::{AgencyIdentity, Passphrase};
use serde::{Deserialize, Serialize};

/// Environment variable holding the key file passphrase.
pub const PASSPHRASE_ENV: &str = "CONCORD_PASSPHRASE";

/// `config.toml`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub id: String,
    pub federation: String,
    pub network: NetworkConfig,
    pub api: ApiConfig,
    #[serde(default)]
    pub witness: WitnessConfig,
    #[serde(default)]
    pub sync: SyncConfig,
    #[serde(default)]
    pub retention: RetentionConfig,
    #[serde(default)]
    pub replication: ReplicationConfig,
    #[serde(default)]
    pub screening: ScreeningConfig,
    #[serde(default)]
    pub consultations: ConsultationsConfig,
}

/// How long screenings are kept and screened again as denials arrive.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ScreeningConfig {
    /// Applications screened in this many last days are screened again
    /// when a partner's denial or amendment arrives (alerts).
    pub rescreen_days: u32,
}

impl Default for ScreeningConfig {
    fn default() -> Self {
        Self { rescreen_days: 90 }
    }
}

/// How this node shows consultations.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ConsultationsConfig {
    /// Days a request may wait for its reply before it shows as overdue.
    pub overdue_days: u32,
}

impl Default for ConsultationsConfig {
    fn default() -> Self {
        Self {
            overdue_days: crate::consultation::DEFAULT_OVERDUE_DAYS,
        }
    }
}

/// What this node keeps of other members' logs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ReplicationConfig {
    /// Keep headers only: verify every signature, tree and checkpoint, hold
    /// no payload at all (for observers that must not read contents).
    pub headers_only: bool,
}

/// When payloads of expired denials are purged (headers and proofs stay).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Purge a denial's payloads this many days after its validity ended;
    /// absent: never purge automatically.
    pub purge_after_days: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// libp2p listen multiaddrs.
    pub listen: Vec<String>,
    /// Local discovery by mDNS; for demos on one machine or LAN.
    #[serde(default)]
    pub mdns: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Loopback by default: the API is for this agency's own officers.
    pub listen: SocketAddr,
    /// What one client may hold of the server (`[api.limits]`).
    #[serde(default)]
    pub limits: ApiLimits,
    /// Serve `/metrics` without a token (for a Prometheus that holds
    /// none); otherwise it asks for a `read` token.
    #[serde(default)]
    pub metrics_open: bool,
}

/// Bounds on what clients may hold of the API server, so that a client
/// that opens many connections, sends half a request or publishes in a
/// loop cannot stop the node answering the others. Zero is refused where
/// it would make the API unusable.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ApiLimits {
    /// Milliseconds a client has to send a request's headers, counted
    /// from its connection or its previous request; then it is closed.
    pub header_timeout_ms: NonZeroU64,
    /// Milliseconds a client has to send a request's whole body; then it
    /// gets 408 and is closed.
    pub body_timeout_ms: NonZeroU64,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: NonZeroUsize,
    /// Publishes per second one bearer token may keep up.
    pub publish_per_second: NonZeroU32,
    /// Publishes one bearer token may make at once before the rate above
    /// holds it back (a 429 with `Retry-After`).
    pub publish_burst: NonZeroU32,
}

impl Default for ApiLimits {
    fn default() -> Self {
        let nonzero = "the defaults are not zero";
        Self {
            header_timeout_ms: NonZeroU64::new(10_000).expect(nonzero),
            body_timeout_ms: NonZeroU64::new(30_000).expect(nonzero),
            max_connections: NonZeroUsize::new(256).expect(nonzero),
            // An officer publishes a few records a day and a script a
            // backlog of thousands at once; a script gone wrong is held
            // to a hundred a second.
            publish_per_second: NonZeroU32::new(100).expect(nonzero),
            publish_burst: NonZeroU32::new(5_000).expect(nonzero),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WitnessConfig {
    /// Cosign every checkpoint this node verified.
    pub cosign: bool,
    /// Cosignatures a checkpoint needs before `status` calls it final.
    pub required_cosignatures: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// Milliseconds between anti-entropy rounds.
    pub interval_ms: u64,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self { interval_ms: 2000 }
    }
}

/// Paths of one home directory.
#[derive(Debug, Clone)]
pub struct Home {
    pub dir: PathBuf,
}

impl Home {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.toml")
    }

    pub fn key_path(&self) -> PathBuf {
        self.dir.join("identity.key")
    }

    pub fn token_path(&self) -> PathBuf {
        self.dir.join("api.token")
    }

    pub fn roster_dir(&self) -> PathBuf {
        self.dir.join("roster")
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.join("db")
    }

    /// Reads `config.toml`.
    ///
    /// # Errors
    /// A missing home, or a config that does not parse (the error names the
    /// field).
    pub fn config(&self) -> anyhow::Result<Config> {
        let path = self.config_path();
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "reading {} (is {} a Concord home? create one with `concord init`)",
                path.display(),
                self.dir.display()
            )
        })?;
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// Writes `config.toml`, refusing to replace one.
    ///
    /// # Errors
    /// An existing config or an I/O failure.
    pub fn write_config(&self, config: &Config) -> anyhow::Result<()> {
        let text = toml::to_string_pretty(config).context("encoding config")?;
        write_new(&self.config_path(), text.as_bytes(), 0o644)
    }

    /// Opens the key file, with the passphrase from `CONCORD_PASSPHRASE`.
    ///
    /// # Errors
    /// A missing or unreadable key file, or a wrong passphrase.
    pub fn identity(&self) -> anyhow::Result<AgencyIdentity> {
        let passphrase = std::env::var(PASSPHRASE_ENV).ok().map(Passphrase::new);
        concord_keys::keyfile::read_key_file(&self.key_path(), passphrase.as_ref())
            .with_context(|| format!("opening {}", self.key_path().display()))
    }

    /// The API bearer token.
    ///
    /// # Errors
    /// A missing token file.
    pub fn token(&self) -> anyhow::Result<String> {
        let text = std::fs::read_to_string(self.token_path())
            .with_context(|| format!("reading {}", self.token_path().display()))?;
        Ok(text.trim().to_owned())
    }

    /// Creates a fresh random API token, mode 0600.
    ///
    /// # Errors
    /// An existing token or an I/O failure.
    pub fn create_token(&self) -> anyhow::Result<()> {
        let mut raw = [0u8; 32];
        getrandom::fill(&mut raw).map_err(|e| anyhow::anyhow!("no randomness from the OS: {e}"))?;
        let token: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        write_new(&self.token_path(), format!("{token}\n").as_bytes(), 0o600)
    }

    /// Every installed roster version, verified as a chain from genesis.
    ///
    /// # Errors
    /// No roster installed, or a version that does not verify against the one
    /// before it.
    pub fn roster(&self) -> anyhow::Result<Roster> {
        let files = self.roster_files()?;
        SignedRoster::verify_chain(&files).map_err(|(position, e)| {
            let path = self.roster_dir().join(format!("{}.json", position + 1));
            anyhow::anyhow!("verifying {}: {e}", path.display())
        })
    }

    /// The bytes of every installed roster file, genesis first.
    ///
    /// # Errors
    /// Not a home, no roster installed, or an unreadable file.
    pub fn roster_files(&self) -> anyhow::Result<Vec<Vec<u8>>> {
        // Outside a home, say so rather than that a roster is missing.
        if !self.config_path().exists() {
            self.config()?;
        }
        let mut files = Vec::new();
        for version in 1.. {
            let path = self.roster_dir().join(format!("{version}.json"));
            if !path.exists() {
                break;
            }
            files
                .push(std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?);
        }
        if files.is_empty() {
            anyhow::bail!(
                "no roster installed in {} (install one with `concord roster install`)",
                self.roster_dir().display()
            );
        }
        Ok(files)
    }

    /// [`Home::roster_files`] as bundles and screening results carry them:
    /// RFC 8785 canonical, whatever spelling was installed (PROTOCOL.md §7).
    ///
    /// # Errors
    /// As [`Home::roster_files`], or a file that is no roster.
    pub fn canonical_roster_files(&self) -> anyhow::Result<Vec<Vec<u8>>> {
        self.roster_files()?
            .iter()
            .map(|file| Ok(concord_keys::SignedRoster::canonical_file(file)?))
            .collect()
    }

    /// Verifies `bytes` as the next roster version and installs it.
    ///
    /// # Errors
    /// A roster that does not verify as genesis or as the next version.
    ///
    /// A roster document (`concord roster export`, `roster show --json`)
    /// installs each of its versions this home lacks, in order.
    pub fn install_roster(&self, bytes: &[u8]) -> anyhow::Result<Roster> {
        let roster_dir = self.roster_dir();
        create_private_dir(&roster_dir)
            .with_context(|| format!("creating {}", roster_dir.display()))?;
        let files = crate::query::roster_files_in(bytes).map_err(anyhow::Error::msg)?;
        let mut installed = self.roster().ok();
        let whole_chain = files.len() > 1;
        for file in &files {
            let roster = match &installed {
                Some(previous)
                    if whole_chain
                        && SignedRoster::from_bytes(file)?.roster().version <= previous.version =>
                {
                    continue;
                }
                Some(previous) => SignedRoster::verify_update(file, previous)?,
                None => SignedRoster::verify_genesis(file)?,
            };
            let path = self.roster_dir().join(format!("{}.json", roster.version));
            write_new(&path, &SignedRoster::canonical_file(file)?, 0o644)?;
            installed = Some(roster);
        }
        installed.context("the roster document holds no roster file")
    }

    /// Refuses a home that another local user could write: the home
    /// directory, `config.toml`, the key file, the token, `roster/` or
    /// `db/` writable by its group or by everyone. Such a user could swap
    /// the roster or the config, or damage the store, under the node.
    ///
    /// # Errors
    /// The first such path, with the `chmod` that fixes it.
    pub fn check_permissions(&self) -> anyhow::Result<()> {
        let paths = [
            self.dir.clone(),
            self.config_path(),
            self.key_path(),
            self.token_path(),
            self.roster_dir(),
            self.db_path(),
        ];
        for path in paths {
            // What does not exist yet (the store before the first run) is
            // created private.
            let Ok(metadata) = std::fs::metadata(&path) else {
                continue;
            };
            let mode = metadata.permissions().mode() & 0o7777;
            if mode & 0o022 != 0 {
                bail!(
                    "{} is writable by other local users (mode {mode:04o}); refusing to run on it. \
                     Fix it with `chmod go-w {}`",
                    path.display(),
                    path.display()
                );
            }
        }
        Ok(())
    }
}

/// Creates `dir` and any missing parent, each mode 0700: a home, its
/// roster and its store are for the node's own user only. A directory that
/// exists keeps its mode.
///
/// # Errors
/// An I/O failure.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Writes a new file durably (temp file, fsync, rename), never replacing one.
///
/// # Errors
/// The file exists, or an I/O failure.
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    if path.exists() {
        bail!(
            "{} already exists; refusing to overwrite it",
            path.display()
        );
    }
    let dir = path.parent().context("path has no parent directory")?;
    create_private_dir(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("writing {}", tmp.display()))?;
    file.sync_all()
        .with_context(|| format!("syncing {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    Ok(())
}
