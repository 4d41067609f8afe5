//! API tokens with scopes, kept hashed in `HOME/tokens.json`.
//!
//! A token is 32 random bytes, written as 64 hex digits, shown once when it
//! is made (`concord token create`). The file keeps its SHA-256 only: a
//! random 32-byte secret needs no slow KDF, since nobody can guess it. A
//! request's token is hashed and compared with every active token's hash
//! in constant time. Each token holds scopes (`read`, `screen`, `publish`,
//! `admin`, any of them), and each route of the API asks for one; `admin`
//! grants only what it names (quarantines, tokens), not the others.
//!
//! The file is the operator's: `concord token` writes it whether or not
//! the node runs (to a new file, renamed over the old one), and a running
//! node reads it again when it changed. A home made before tokens had
//! scopes holds `api.token`; it becomes the first token, with every scope
//! a participant of its role may hold, the first time the file is needed.
//! `api.token` stays where it is: it is the command line's own credential
//! for the node of its home.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use anyhow::Context as _;
use concord_keys::roster::Role;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::home::{Home, write_new};

const FORMAT: &str = "concord-tokens/v1";

/// What a token may do.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Everything a node shows: status, logs, proofs, audits, exports,
    /// alerts, consultations, metrics.
    Read,
    /// Screening applications.
    Screen,
    /// Publishing on the own log (records, consultations).
    Publish,
    /// Clearing quarantines and managing tokens.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::Read, Scope::Screen, Scope::Publish, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Screen => "screen",
            Scope::Publish => "publish",
            Scope::Admin => "admin",
        }
    }

    /// A comma-separated list: `read,screen`.
    ///
    /// # Errors
    /// An unknown scope, named with the ones that exist.
    pub fn parse_list(text: &str) -> Result<Vec<Scope>, String> {
        let mut scopes = Vec::new();
        for word in text.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            let scope = Scope::ALL
                .into_iter()
                .find(|s| s.as_str() == word)
                .ok_or_else(|| {
                    format!(
                        "unknown scope {word:?}: the scopes are read, screen, publish and admin"
                    )
                })?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        if scopes.is_empty() {
            return Err("a token needs at least one scope: read, screen, publish or admin".into());
        }
        scopes.sort();
        Ok(scopes)
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One token as the file keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRecord {
    /// 8 hex digits, to name it in `token revoke`.
    pub id: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    /// SHA-256 of the secret, hex.
    pub sha256: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenFile {
    format: String,
    tokens: Vec<TokenRecord>,
}

/// A token just made: its record and the secret, shown this once.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewToken {
    #[serde(flatten)]
    pub record: TokenRecord,
    pub secret: String,
}

fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.trim().as_bytes()).into()
}

/// `bytes` random bytes from the OS, as hex: token secrets and ids, web
/// session ids and CSRF tokens.
pub(crate) fn random_hex(bytes: usize) -> anyhow::Result<String> {
    let mut raw = vec![0u8; bytes];
    getrandom::fill(&mut raw).map_err(|e| anyhow::anyhow!("no randomness from the OS: {e}"))?;
    Ok(hex::encode(raw))
}

fn path(home: &Home) -> PathBuf {
    home.token_path().with_file_name("tokens.json")
}

/// The scopes a participant of `role` may give: an observer publishes
/// nothing.
pub fn allowed(role: Role) -> Vec<Scope> {
    Scope::ALL
        .into_iter()
        .filter(|s| role == Role::Member || *s != Scope::Publish)
        .collect()
}

/// Every token of `home`, revoked ones included; `api.token` becomes the
/// first one if the file does not exist yet.
///
/// # Errors
/// An unreadable or malformed file, or a home without a config.
pub fn load(home: &Home) -> anyhow::Result<Vec<TokenRecord>> {
    let path = path(home);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let file: TokenFile = serde_json::from_slice(&bytes)
                .with_context(|| format!("parsing {}", path.display()))?;
            if file.format != FORMAT {
                anyhow::bail!(
                    "{} is of format {:?}, not {FORMAT}",
                    path.display(),
                    file.format
                );
            }
            Ok(file.tokens)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => migrate(home),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn migrate(home: &Home) -> anyhow::Result<Vec<TokenRecord>> {
    let tokens = match home.token() {
        Ok(secret) => {
            let role = home_role(home)?;
            vec![TokenRecord {
                id: random_hex(4)?,
                name: "operator (api.token)".to_owned(),
                scopes: allowed(role),
                sha256: hex::encode(hash(&secret)),
                created_at: crate::query::iso_utc(crate::clock::now()),
                revoked_at: None,
            }]
        }
        Err(_) => Vec::new(),
    };
    save(home, &tokens)?;
    Ok(tokens)
}

fn home_role(home: &Home) -> anyhow::Result<Role> {
    let config = home.config()?;
    let roster = home.roster()?;
    let member = roster
        .members
        .iter()
        .find(|m| m.id.as_str() == config.id)
        .with_context(|| format!("{} is not in the roster", config.id))?;
    Ok(member.role)
}

fn save(home: &Home, tokens: &[TokenRecord]) -> anyhow::Result<()> {
    let path = path(home);
    let file = TokenFile {
        format: FORMAT.to_owned(),
        tokens: tokens.to_vec(),
    };
    let bytes = serde_json::to_vec_pretty(&file).expect("tokens serialise");
    let fresh = path.with_extension(format!("json.{}", random_hex(4)?));
    write_new(&fresh, &bytes, 0o600)?;
    std::fs::rename(&fresh, &path).with_context(|| format!("replacing {}", path.display()))
}

/// Makes a token named `name` with `scopes`.
///
/// # Errors
/// A scope the home's role may not give (an observer's `publish`), an
/// empty or taken name, or the file's errors.
pub fn create(home: &Home, name: &str, scopes: &[Scope]) -> anyhow::Result<NewToken> {
    let name = name.trim();
    if name.is_empty() {
        anyhow::bail!("a token needs a name, e.g. --name \"licensing desk\"");
    }
    let role = home_role(home)?;
    if let Some(scope) = scopes.iter().find(|s| !allowed(role).contains(s)) {
        anyhow::bail!("this node is an observer: it issues no {scope} token");
    }
    let mut tokens = load(home)?;
    if tokens
        .iter()
        .any(|t| t.name == name && t.revoked_at.is_none())
    {
        anyhow::bail!("a token named {name:?} exists; revoke it first or choose another name");
    }
    let secret = random_hex(32)?;
    let record = TokenRecord {
        id: random_hex(4)?,
        name: name.to_owned(),
        scopes: scopes.to_vec(),
        sha256: hex::encode(hash(&secret)),
        created_at: crate::query::iso_utc(crate::clock::now()),
        revoked_at: None,
    };
    tokens.push(record.clone());
    save(home, &tokens)?;
    Ok(NewToken { record, secret })
}

/// Revokes the active token whose id or name is `which`.
///
/// # Errors
/// No such active token, or the file's errors.
pub fn revoke(home: &Home, which: &str) -> anyhow::Result<TokenRecord> {
    let mut tokens = load(home)?;
    let token = tokens
        .iter_mut()
        .find(|t| t.revoked_at.is_none() && (t.id == which || t.name == which))
        .with_context(|| {
            format!("no active token with id or name {which:?} (see `concord token list`)")
        })?;
    token.revoked_at = Some(crate::query::iso_utc(crate::clock::now()));
    let revoked = token.clone();
    save(home, &tokens)?;
    Ok(revoked)
}

/// The tokens a running node checks requests against, read again when
/// the file changed.
#[derive(Clone)]
pub struct Tokens {
    home: Home,
    cached: Arc<Mutex<(Option<SystemTime>, Vec<TokenRecord>)>>,
}

impl Tokens {
    /// The tokens of `home`, migrating `api.token` if needed.
    ///
    /// # Errors
    /// As [`load`].
    pub fn open(home: &Home) -> anyhow::Result<Tokens> {
        let records = load(home)?;
        Ok(Tokens {
            home: home.clone(),
            cached: Arc::new(Mutex::new((modified(home), records))),
        })
    }

    /// The active token whose secret is `presented`, if any. Every active
    /// token's hash is compared, in constant time.
    pub fn check(&self, presented: &str) -> Option<TokenRecord> {
        let presented = hash(presented);
        let cached = self.current();
        let mut found = None;
        for token in cached.1.iter().filter(|t| t.revoked_at.is_none()) {
            let Ok(stored) = hex::decode(&token.sha256) else {
                continue;
            };
            if bool::from(stored.ct_eq(&presented)) {
                found = Some(token.clone());
            }
        }
        found
    }

    /// The token with `id` as the file says now, if it is still active:
    /// what a web session, which keeps no secret, checks on each request.
    pub fn active(&self, id: &str) -> Option<TokenRecord> {
        self.current()
            .1
            .iter()
            .find(|t| t.id == id && t.revoked_at.is_none())
            .cloned()
    }

    /// The cached tokens, read again first when the file changed.
    fn current(&self) -> std::sync::MutexGuard<'_, (Option<SystemTime>, Vec<TokenRecord>)> {
        let mut cached = self
            .cached
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = modified(&self.home);
        if now != cached.0 {
            match load(&self.home) {
                Ok(records) => *cached = (now, records),
                // A file being replaced, or broken by hand: keep the
                // tokens known, and say so.
                Err(e) => {
                    tracing::warn!(error = %e, "the token file cannot be read; using the tokens read before")
                }
            }
        }
        cached
    }
}

fn modified(home: &Home) -> Option<SystemTime> {
    std::fs::metadata(path(home))
        .and_then(|m| m.modified())
        .ok()
}
