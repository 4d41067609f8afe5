//! The `concord` command line (clap).
//!
//! Commands that read or publish go through the running node's HTTP API when
//! the node holds the store, and open the store directly when it does not;
//! both paths build the same views ([`crate::views`]) and publish through the
//! same group-commit writer ([`crate::publish`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use concord_keys::roster::Role;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{self, Published, StatusView};
use crate::home::Home;
use crate::store::{Store, StoreError};
use crate::views::{self, ViewError};

/// Exit codes, part of the command line's interface.
pub mod exit {
    pub const OK: u8 = 0;
    /// Something failed that fits no other code.
    pub const FAILURE: u8 = 1;
    /// The command line itself is wrong (clap's own code).
    pub const USAGE: u8 = 2;
    /// Input was refused: a malformed or invalid record, a bad argument.
    pub const INVALID_INPUT: u8 = 3;
    /// What was asked for does not exist.
    pub const NOT_FOUND: u8 = 4;
    /// The node could not be reached, or its store is held by another process.
    pub const UNAVAILABLE: u8 = 5;
    /// An audit found problems.
    pub const AUDIT_FINDINGS: u8 = 6;
    /// The disk refused a write; nothing unacknowledged may be relied on.
    pub const STORAGE: u8 = 7;
}

const EXIT_CODES_HELP: &str = "Exit codes: 0 ok; 1 failure; 2 usage error; 3 input refused (malformed or invalid record, bad argument); 4 not found; 5 node unreachable or store in use; 6 audit findings; 7 storage failure (disk full or failing).";

/// Concord: a federation node for sharing signed licence denials and
/// enforcement notices, with logs every participant can audit.
#[derive(Debug, Parser)]
#[command(name = "concord", version, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// Log output format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Human, global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct HomeArg {
    /// The node's home directory.
    #[arg(long, env = "CONCORD_HOME")]
    pub home: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct JsonArg {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create keys and a config for one agency; print the facts a roster needs.
    Init(InitArgs),
    /// A complete local federation: keys, a signed roster, configs on loopback.
    Testnet {
        #[command(subcommand)]
        command: TestnetCommand,
    },
    /// Show or install the federation roster.
    Roster {
        #[command(subcommand)]
        command: RosterCommand,
    },
    /// Run the node until SIGINT or SIGTERM.
    Run(HomeArg),
    /// Publish a record on this agency's log.
    Publish(PublishArgs),
    /// Amend a denial of this agency's log (the file holds {"reason", "denial"}).
    Amend(ChangeArgs),
    /// Revoke a denial of this agency's log (the file holds {"reason", "date"}).
    Revoke(ChangeArgs),
    /// List entries of a log.
    List(ListArgs),
    /// Show one entry, with its verbatim header bytes.
    Show(ShowArgs),
    /// Every log's size, root, checkpoint and witnesses; peers and lag.
    Status(StatusArgs),
    /// A log's latest signed checkpoint note, exactly the signed bytes.
    Checkpoint(CheckpointArgs),
    /// Inclusion and consistency proofs as JSON.
    Proof {
        #[command(subcommand)]
        command: ProofCommand,
    },
    /// Verify the whole store, or a bundle, offline; exit 6 on any finding.
    Audit(crate::audit::AuditArgs),
    /// Write a signed bundle of logs for offline transport.
    Export(crate::bundle::ExportArgs),
    /// Audit a bundle, then store it; a bundle with any finding stores nothing.
    Import(crate::bundle::ImportArgs),
    /// Purge payloads of denials whose validity ended; headers and proofs stay.
    Purge(PurgeArgs),
    /// Lift the quarantine of a log after equivocation, recording who decided.
    Quarantine {
        #[command(subcommand)]
        command: QuarantineCommand,
    },
    /// Start the Pacific Alliance demo federation on loopback.
    Demo(crate::demo::DemoArgs),
}

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub home: HomeArg,
    /// Member id, e.g. `mx-se`.
    #[arg(long)]
    pub id: String,
    /// The agency's name.
    #[arg(long)]
    pub name: String,
    /// ISO 3166-1 alpha-2 country of the agency (its seat, for an international body).
    #[arg(long)]
    pub country: String,
    #[arg(long, value_enum, default_value_t = RoleArg::Member)]
    pub role: RoleArg,
    /// Federation name.
    #[arg(long, default_value = "pacific-alliance")]
    pub federation: String,
    /// libp2p listen port on 127.0.0.1 (TCP and QUIC); 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    pub p2p_port: u16,
    /// API port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    pub api_port: u16,
    /// Store the keys UNENCRYPTED. For tests and local demos only.
    #[arg(long)]
    pub insecure_demo_keys: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum RoleArg {
    Member,
    Observer,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Member => Role::Member,
            RoleArg::Observer => Role::Observer,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum TestnetCommand {
    /// Create one home per id under DIR, with a roster signed by every member.
    Create(crate::testnet::TestnetArgs),
}

#[derive(Debug, Subcommand)]
pub enum RosterCommand {
    /// Members with their C2SP verifier keys.
    Show {
        #[command(flatten)]
        home: HomeArg,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Verify a signed roster file and install it as the next version.
    Install {
        #[command(flatten)]
        home: HomeArg,
        file: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// Record kind: denial, notice, consultation.request, consultation.reply, ...
    pub kind: String,
    #[command(flatten)]
    pub home: HomeArg,
    /// The record as JSON; `-` reads standard input.
    #[arg(long)]
    pub file: PathBuf,
    /// public, federation, members, or bilateral:XX,YY.
    #[arg(long, default_value = "federation")]
    pub visibility: String,
    #[command(flatten)]
    pub json: JsonArg,
}

#[derive(Debug, clap::Args)]
pub struct ChangeArgs {
    #[command(flatten)]
    pub home: HomeArg,
    /// Index of the denial in this agency's log.
    #[arg(long)]
    pub index: u64,
    /// The amendment or revocation as JSON; `-` reads standard input.
    #[arg(long)]
    pub file: PathBuf,
    #[arg(long, default_value = "federation")]
    pub visibility: String,
    #[command(flatten)]
    pub json: JsonArg,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub home: HomeArg,
    /// Member id or log origin; default: every log.
    #[arg(long)]
    pub log: Option<String>,
    #[arg(long, default_value_t = 0)]
    pub start: u64,
    #[arg(long, default_value_t = 100)]
    pub limit: u64,
    #[command(flatten)]
    pub json: JsonArg,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub home: HomeArg,
    /// Member id or log origin.
    #[arg(long)]
    pub log: String,
    #[arg(long)]
    pub index: u64,
    #[command(flatten)]
    pub json: JsonArg,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub home: HomeArg,
    #[command(flatten)]
    pub json: JsonArg,
}

#[derive(Debug, clap::Args)]
pub struct CheckpointArgs {
    #[command(flatten)]
    pub home: HomeArg,
    /// Member id or log origin; default: this node's own log.
    #[arg(long)]
    pub log: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ProofCommand {
    /// Proof that entry INDEX is in the tree of SIZE entries.
    Inclusion {
        #[command(flatten)]
        home: HomeArg,
        #[arg(long)]
        log: String,
        #[arg(long)]
        index: u64,
        /// Tree size; default: the latest checkpoint's.
        #[arg(long)]
        size: Option<u64>,
    },
    /// Proof that the tree of FROM entries is a prefix of the tree of TO.
    Consistency {
        #[command(flatten)]
        home: HomeArg,
        #[arg(long)]
        log: String,
        #[arg(long)]
        from: u64,
        #[arg(long)]
        to: u64,
    },
}

#[derive(Debug, clap::Args)]
pub struct PurgeArgs {
    #[command(flatten)]
    pub home: HomeArg,
    /// Days after a denial's validity ends before its payloads go.
    #[arg(long, default_value_t = 0)]
    pub grace_days: u32,
    /// List what would be purged, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub json: JsonArg,
}

#[derive(Debug, Subcommand)]
pub enum QuarantineCommand {
    /// Accept the log's entries again.
    Clear {
        #[command(flatten)]
        home: HomeArg,
        #[arg(long)]
        log: String,
        /// Who decided (name and role).
        #[arg(long)]
        operator: String,
        #[arg(long)]
        reason: String,
    },
}

/// An error with the exit code it maps to.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub error: anyhow::Error,
}

impl CliError {
    pub fn new(code: u8, error: impl Into<anyhow::Error>) -> Self {
        Self {
            code,
            error: error.into(),
        }
    }
}

impl From<anyhow::Error> for CliError {
    fn from(error: anyhow::Error) -> Self {
        let code = if let Some(store) = error.downcast_ref::<StoreError>() {
            store_code(store)
        } else if let Some(view) = error.downcast_ref::<ViewError>() {
            view_code(view)
        } else {
            exit::FAILURE
        };
        Self { code, error }
    }
}

impl From<ViewError> for CliError {
    fn from(e: ViewError) -> Self {
        Self {
            code: view_code(&e),
            error: e.into(),
        }
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        Self {
            code: store_code(&e),
            error: e.into(),
        }
    }
}

fn store_code(e: &StoreError) -> u8 {
    match e {
        StoreError::Locked(_) => exit::UNAVAILABLE,
        StoreError::Io(_) => exit::STORAGE,
        StoreError::UnknownLog(_) | StoreError::OutOfRange { .. } => exit::NOT_FOUND,
        _ => exit::FAILURE,
    }
}

fn view_code(e: &ViewError) -> u8 {
    match e {
        ViewError::NotFound(_) => exit::NOT_FOUND,
        ViewError::BadRequest(_) => exit::INVALID_INPUT,
        ViewError::Store(s) => store_code(s),
    }
}

pub type CliResult = Result<(), CliError>;

/// Runs one parsed command.
///
/// # Errors
/// A [`CliError`] carrying the exit code.
pub fn dispatch(cli: Cli) -> CliResult {
    match cli.command {
        Command::Init(args) => crate::testnet::init(&args),
        Command::Testnet {
            command: TestnetCommand::Create(args),
        } => crate::testnet::create(&args),
        Command::Roster { command } => roster(command),
        Command::Run(home) => run_node(&home.home),
        Command::Publish(args) => {
            let body = read_input(&args.file)?;
            let published = publish(&args.home.home, &args.kind, &args.visibility, None, body)?;
            print_published(&published, args.json.json);
            Ok(())
        }
        Command::Amend(args) => change(args, "denial.amend"),
        Command::Revoke(args) => change(args, "denial.revoke"),
        Command::List(args) => list(&args),
        Command::Show(args) => show(&args),
        Command::Status(args) => status(&args),
        Command::Checkpoint(args) => checkpoint(&args),
        Command::Proof { command } => proof(command),
        Command::Audit(args) => crate::audit::command(&args),
        Command::Export(args) => crate::bundle::export_command(&args),
        Command::Import(args) => crate::bundle::import_command(&args),
        Command::Purge(args) => purge(&args),
        Command::Quarantine {
            command:
                QuarantineCommand::Clear {
                    home,
                    log,
                    operator,
                    reason,
                },
        } => clear_quarantine(&home.home, &log, &operator, &reason),
        Command::Demo(args) => crate::demo::run(&args),
    }
}

fn run_node(dir: &Path) -> CliResult {
    let home = Home::new(dir);
    let runtime = tokio::runtime::Runtime::new().map_err(|e| CliError::new(exit::FAILURE, e))?;
    runtime.block_on(async {
        let shutdown = tokio_util::sync::CancellationToken::new();
        let signals = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutdown requested");
            signals.cancel();
        });
        crate::run::run(&home, shutdown).await
    })?;
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn read_input(path: &Path) -> Result<Vec<u8>, CliError> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    let limit = api::MAX_BODY_BYTES as u64 + 1;
    let result = if path == Path::new("-") {
        std::io::stdin().take(limit).read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(limit).read_to_end(&mut bytes))
    };
    result.map_err(|e| {
        CliError::new(
            exit::INVALID_INPUT,
            anyhow::anyhow!("reading {}: {e}", path.display()),
        )
    })?;
    if bytes.len() > api::MAX_BODY_BYTES {
        return Err(CliError::new(
            exit::INVALID_INPUT,
            anyhow::anyhow!(
                "{} is larger than the {} bytes a record may have",
                path.display(),
                api::MAX_BODY_BYTES
            ),
        ));
    }
    Ok(bytes)
}

fn change(args: ChangeArgs, kind: &str) -> CliResult {
    let body = read_input(&args.file)?;
    let published = publish(
        &args.home.home,
        kind,
        &args.visibility,
        Some(args.index),
        body,
    )?;
    print_published(&published, args.json.json);
    Ok(())
}

fn print_published(published: &Published, json: bool) {
    if json {
        print_json(published);
    } else {
        println!(
            "published {} index {} leaf {}",
            published.origin, published.index, published.leaf_hash
        );
    }
}

/// Where the command's data comes from: the running node, or the store.
enum Backend {
    Remote { base: String, token: String },
    Local { store: Store },
}

fn backend(home: &Home) -> Result<Backend, CliError> {
    // A mistyped --home must not become an empty store: the config comes first.
    let config = home.config()?;
    let remote = || -> Result<Backend, CliError> {
        Ok(Backend::Remote {
            base: format!("http://{}", config.api.listen),
            token: home.token()?,
        })
    };
    // A running node answers on its API; asking it first spares the wait
    // for a store lock that will not be released.
    let listening = std::net::TcpStream::connect_timeout(
        &config.api.listen,
        std::time::Duration::from_millis(500),
    )
    .is_ok();
    if listening {
        return remote();
    }
    match Store::open(&home.db_path()) {
        Ok(store) => Ok(Backend::Local { store }),
        // Started, but its API is not up yet.
        Err(StoreError::Locked(_)) => remote(),
        Err(e) => Err(e.into()),
    }
}

fn http_error(e: ureq::Error) -> CliError {
    match e {
        ureq::Error::StatusCode(code) => CliError::new(
            exit::FAILURE,
            anyhow::anyhow!("the node answered HTTP {code}"),
        ),
        other => CliError::new(
            exit::UNAVAILABLE,
            anyhow::anyhow!("the node's API cannot be reached: {other}"),
        ),
    }
}

/// Sends a request to the node's API and decodes its JSON answer; API errors
/// come back with their message and the matching exit code.
fn remote<T: DeserializeOwned>(
    base: &str,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Vec<u8>>,
) -> Result<T, CliError> {
    let text = remote_text(base, token, method, path, body)?;
    serde_json::from_str(&text).map_err(|e| {
        CliError::new(
            exit::FAILURE,
            anyhow::anyhow!("the node's answer does not parse: {e}"),
        )
    })
}

fn remote_text(
    base: &str,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Vec<u8>>,
) -> Result<String, CliError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{base}{path}");
    let auth = format!("Bearer {token}");
    let response = match (method, body) {
        ("POST", body) => agent
            .post(&url)
            .header("Authorization", &auth)
            .header("Content-Type", "application/json")
            .send(body.unwrap_or_default()),
        _ => agent.get(&url).header("Authorization", &auth).call(),
    }
    .map_err(http_error)?;
    let status = response.status().as_u16();
    let text = response.into_body().read_to_string().map_err(|e| {
        CliError::new(
            exit::UNAVAILABLE,
            anyhow::anyhow!("reading the node's answer: {e}"),
        )
    })?;
    if status >= 400 {
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or(text);
        let code = match status {
            400 | 413 | 422 => exit::INVALID_INPUT,
            404 => exit::NOT_FOUND,
            507 => exit::STORAGE,
            401 | 403 | 409 => exit::FAILURE,
            _ => exit::UNAVAILABLE,
        };
        return Err(CliError::new(code, anyhow::anyhow!("{message}")));
    }
    Ok(text)
}

fn publish(
    dir: &Path,
    kind: &str,
    visibility: &str,
    refers_to: Option<u64>,
    body: Vec<u8>,
) -> Result<Published, CliError> {
    let home = Home::new(dir);
    // Parse first: a refused record changes nothing, whichever path follows.
    let entry = api::own_entry(kind, Some(visibility), refers_to, &body)?;
    match backend(&home)? {
        Backend::Remote { base, token } => {
            let mut path = format!("/v1/records/{kind}?visibility={visibility}");
            if let Some(index) = refers_to {
                path.push_str(&format!("&refers_to={index}"));
            }
            remote(&base, &token, "POST", &path, Some(body))
        }
        Backend::Local { store } => {
            let identity = home.identity()?;
            let roster = home.roster()?;
            let me = roster.member(&identity.id).ok_or_else(|| {
                CliError::new(
                    exit::FAILURE,
                    anyhow::anyhow!("{} is not in the roster", identity.id),
                )
            })?;
            if me.role != Role::Member {
                return Err(CliError::new(
                    exit::INVALID_INPUT,
                    anyhow::anyhow!("{} is an observer: observers cannot publish", me.id),
                ));
            }
            let origin =
                concord_protocol::origin::Origin::new(&me.origin).map_err(anyhow::Error::from)?;
            let runtime =
                tokio::runtime::Runtime::new().map_err(|e| CliError::new(exit::FAILURE, e))?;
            runtime.block_on(async {
                let shutdown = tokio_util::sync::CancellationToken::new();
                let writer = crate::publish::Writer {
                    store,
                    origin,
                    key: identity.log_key.clone(),
                    clock: crate::clock::now,
                };
                let (publisher, task) = crate::publish::spawn(writer, None, shutdown.clone());
                let outcome = publisher.publish(entry).await;
                shutdown.cancel();
                let _ = task.await;
                match outcome {
                    Ok(done) => Ok(Published {
                        origin: done.origin.to_string(),
                        index: done.index,
                        leaf_hash: base64_encode(&done.leaf_hash),
                    }),
                    Err(crate::publish::PublishError::Storage(m)) => {
                        Err(CliError::new(exit::STORAGE, anyhow::anyhow!("{m}")))
                    }
                    Err(e) => Err(CliError::new(exit::INVALID_INPUT, e)),
                }
            })
        }
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn print_json<T: Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("views serialise")
    );
}

fn roster(command: RosterCommand) -> CliResult {
    match command {
        RosterCommand::Show { home, json } => {
            let roster = Home::new(&home.home).roster()?;
            let view = views::roster(&roster);
            if json.json {
                print_json(&view);
            } else {
                println!(
                    "federation {} roster version {}",
                    roster.federation, roster.version
                );
                for m in &roster.members {
                    let role = if m.role == Role::Member {
                        "member"
                    } else {
                        "observer"
                    };
                    let key = m
                        .keys
                        .iter()
                        .rev()
                        .find(|k| k.is_current())
                        .map(|k| k.vkey.to_string())
                        .unwrap_or_default();
                    println!(
                        "  {:<10} {:<8} {} {}  {}",
                        m.id.as_str(),
                        role,
                        m.country.as_str(),
                        m.name,
                        key
                    );
                }
            }
            Ok(())
        }
        RosterCommand::Install { home, file } => {
            let bytes = std::fs::read(&file).map_err(|e| {
                CliError::new(
                    exit::INVALID_INPUT,
                    anyhow::anyhow!("reading {}: {e}", file.display()),
                )
            })?;
            let roster = Home::new(&home.home)
                .install_roster(&bytes)
                .map_err(|e| CliError::new(exit::INVALID_INPUT, e))?;
            println!(
                "installed roster version {} of {}",
                roster.version, roster.federation
            );
            Ok(())
        }
    }
}

fn list(args: &ListArgs) -> CliResult {
    let home = Home::new(&args.home.home);
    let roster = home.roster()?;
    let logs: Vec<String> = match &args.log {
        Some(log) => vec![log.clone()],
        None => roster
            .members
            .iter()
            .filter(|m| m.role == Role::Member)
            .map(|m| m.id.to_string())
            .collect(),
    };
    let mut lines = Vec::new();
    match backend(&home)? {
        Backend::Remote { base, token } => {
            for log in &logs {
                let path = format!(
                    "/v1/logs/{log}/entries?start={}&limit={}",
                    args.start, args.limit
                );
                lines.extend(remote::<Vec<views::EntryLine>>(
                    &base, &token, "GET", &path, None,
                )?);
            }
        }
        Backend::Local { store } => {
            for log in &logs {
                let origin = views::resolve_log(&roster, log)?;
                lines.extend(views::list(&store, &origin, args.start, args.limit)?);
            }
        }
    }
    if args.json.json {
        print_json(&lines);
    } else {
        for line in &lines {
            println!(
                "{} #{:<5} {:<14} {:<18} {}",
                line.origin, line.index, line.kind, line.visibility, line.summary
            );
        }
        if lines.is_empty() {
            println!("no entries");
        }
    }
    Ok(())
}

fn show(args: &ShowArgs) -> CliResult {
    let home = Home::new(&args.home.home);
    let view: views::EntryView = match backend(&home)? {
        Backend::Remote { base, token } => remote(
            &base,
            &token,
            "GET",
            &format!("/v1/logs/{}/entries/{}", args.log, args.index),
            None,
        )?,
        Backend::Local { store } => {
            let roster = home.roster()?;
            let identity = home.identity()?;
            let me = roster.member(&identity.id).ok_or_else(|| {
                CliError::new(
                    exit::FAILURE,
                    anyhow::anyhow!("{} is not in the roster", identity.id),
                )
            })?;
            let origin = views::resolve_log(&roster, &args.log)?;
            views::entry(&store, &origin, args.index, (me.role, &me.country))?
        }
    };
    if args.json.json {
        print_json(&view);
    } else {
        println!(
            "{} #{}  {}  time {}",
            view.origin, view.index, view.kind, view.time
        );
        println!("leaf hash  {}", view.leaf_hash);
        println!(
            "header     {}",
            serde_json::to_string(&view.header).unwrap_or_default()
        );
        if let Some(status) = &view.status {
            println!("status     {status}");
        }
        println!("payload    {}", view.payload_state);
        if let Some(payload) = &view.payload {
            println!(
                "{}",
                serde_json::to_string_pretty(payload).unwrap_or_default()
            );
        }
    }
    Ok(())
}

fn status(args: &StatusArgs) -> CliResult {
    let home = Home::new(&args.home.home);
    let view: StatusView = match backend(&home)? {
        Backend::Remote { base, token } => remote(&base, &token, "GET", "/v1/status", None)?,
        Backend::Local { store } => offline_status(&home, &store)?,
    };
    if args.json.json {
        print_json(&view);
        return Ok(());
    }
    println!(
        "{} ({}, {:?}) in federation {} roster v{}",
        view.me.id, view.me.origin, view.me.role, view.federation, view.roster_version
    );
    println!("peers: {}", view.peers.len());
    for peer in &view.peers {
        println!(
            "  {} {}",
            peer.member.as_deref().unwrap_or("?"),
            peer.peer_id
        );
    }
    println!(
        "{:<40} {:>8} {:>8} {:>8} {:<6} witnesses",
        "log", "size", "ckpt", "behind", "final"
    );
    for log in &view.logs {
        let witnesses: Vec<&str> = log.cosigned_by.iter().map(|c| c.witness.as_str()).collect();
        println!(
            "{:<40} {:>8} {:>8} {:>8} {:<6} {}{}",
            log.origin,
            log.size,
            log.checkpoint_size
                .map(|s| s.to_string())
                .unwrap_or_else(|| "-".into()),
            log.behind_by,
            if log.is_final { "yes" } else { "no" },
            witnesses.join(","),
            if log.quarantined { "  QUARANTINED" } else { "" }
        );
    }
    if view.evidence > 0 {
        println!("equivocation proofs held: {}", view.evidence);
    }
    Ok(())
}

fn offline_status(home: &Home, store: &Store) -> Result<StatusView, CliError> {
    let roster = home.roster()?;
    let config = home.config()?;
    let identity = home.identity()?;
    let me = roster.member(&identity.id).ok_or_else(|| {
        CliError::new(
            exit::FAILURE,
            anyhow::anyhow!("{} is not in the roster", identity.id),
        )
    })?;
    Ok(StatusView {
        me: api::Me {
            id: me.id.to_string(),
            origin: me.origin.clone(),
            role: me.role,
            country: me.country,
        },
        federation: roster.federation.clone(),
        roster_version: roster.version,
        peers: Vec::new(),
        logs: views::logs(
            store,
            &roster,
            config.witness.required_cosignatures,
            &Default::default(),
        )?,
        quarantined: store
            .quarantines()?
            .into_iter()
            .map(|q| q.origin.to_string())
            .collect(),
        evidence: store.evidence()?.len(),
        sync: serde_json::json!({"node": "not running"}),
    })
}

fn checkpoint(args: &CheckpointArgs) -> CliResult {
    let home = Home::new(&args.home.home);
    let roster = home.roster()?;
    let log = match &args.log {
        Some(log) => log.clone(),
        None => home.config()?.id,
    };
    let text = match backend(&home)? {
        Backend::Remote { base, token } => remote_text(
            &base,
            &token,
            "GET",
            &format!("/v1/logs/{log}/checkpoint"),
            None,
        )?,
        Backend::Local { store } => {
            let origin = views::resolve_log(&roster, &log)?;
            let cp = store.checkpoint(&origin)?.ok_or_else(|| {
                CliError::new(
                    exit::NOT_FOUND,
                    anyhow::anyhow!("no checkpoint of {origin} yet"),
                )
            })?;
            String::from_utf8_lossy(&cp.to_bytes()).into_owned()
        }
    };
    print!("{text}");
    Ok(())
}

fn proof(command: ProofCommand) -> CliResult {
    let (dir, log) = match &command {
        ProofCommand::Inclusion { home, log, .. } | ProofCommand::Consistency { home, log, .. } => {
            (home.home.clone(), log.clone())
        }
    };
    let home = Home::new(&dir);
    let view: views::ProofView = match backend(&home)? {
        Backend::Remote { base, token } => {
            let path = match &command {
                ProofCommand::Inclusion { index, size, .. } => {
                    let size = size.map(|s| format!("&size={s}")).unwrap_or_default();
                    format!("/v1/logs/{log}/proof/inclusion?index={index}{size}")
                }
                ProofCommand::Consistency { from, to, .. } => {
                    format!("/v1/logs/{log}/proof/consistency?from={from}&to={to}")
                }
            };
            remote(&base, &token, "GET", &path, None)?
        }
        Backend::Local { store } => {
            let origin = views::resolve_log(&home.roster()?, &log)?;
            match &command {
                ProofCommand::Inclusion { index, size, .. } => {
                    views::inclusion(&store, &origin, *index, *size)?
                }
                ProofCommand::Consistency { from, to, .. } => {
                    views::consistency(&store, &origin, *from, *to)?
                }
            }
        }
    };
    print_json(&view);
    Ok(())
}

fn purge(args: &PurgeArgs) -> CliResult {
    let home = Home::new(&args.home.home);
    let Backend::Local { store } = backend(&home)? else {
        return Err(CliError::new(
            exit::UNAVAILABLE,
            anyhow::anyhow!(
                "the node is running; stop it to purge by hand, or set [retention] purge_after_days in config.toml"
            ),
        ));
    };
    let now = crate::clock::now();
    let today = concord_protocol::record::Date::from_unix_seconds(now as i64).ok_or_else(|| {
        CliError::new(
            exit::FAILURE,
            anyhow::anyhow!("the system clock is out of range"),
        )
    })?;
    let expired = store.expired_denials(&today, args.grace_days)?;
    let purged = if args.dry_run {
        0
    } else {
        let runtime =
            tokio::runtime::Runtime::new().map_err(|e| CliError::new(exit::FAILURE, e))?;
        runtime.block_on(store.purge_expired(&today, args.grace_days, now))?
    };
    let listing: Vec<serde_json::Value> = expired
        .iter()
        .map(|(origin, chain)| serde_json::json!({ "origin": origin, "entries": chain }))
        .collect();
    if args.json.json {
        print_json(
            &serde_json::json!({ "expired_denials": listing, "payloads_purged": purged, "dry_run": args.dry_run }),
        );
    } else {
        for (origin, chain) in &expired {
            println!("{origin} denial #{} expired: entries {chain:?}", chain[0]);
        }
        println!(
            "{} expired denials; {purged} payloads purged{}",
            expired.len(),
            if args.dry_run { " (dry run)" } else { "" }
        );
    }
    Ok(())
}

fn clear_quarantine(dir: &Path, log: &str, operator: &str, reason: &str) -> CliResult {
    let home = Home::new(dir);
    let roster = home.roster()?;
    let origin = views::resolve_log(&roster, log)?;
    let cleared = match backend(&home)? {
        Backend::Remote { base, token } => {
            let body = serde_json::to_vec(&api::ClearRequest {
                operator: operator.into(),
                reason: reason.into(),
            })
            .expect("a request serialises");
            let answer: serde_json::Value = remote(
                &base,
                &token,
                "POST",
                &format!("/v1/quarantine/{log}/clear"),
                Some(body),
            )?;
            answer
                .get("cleared")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false)
        }
        Backend::Local { store } => {
            let runtime =
                tokio::runtime::Runtime::new().map_err(|e| CliError::new(exit::FAILURE, e))?;
            runtime.block_on(store.clear_quarantine(
                &origin,
                operator,
                reason,
                crate::clock::now(),
            ))?
        }
    };
    if cleared {
        println!("quarantine of {origin} lifted by {operator}");
        Ok(())
    } else {
        Err(CliError::new(
            exit::NOT_FOUND,
            anyhow::anyhow!("{origin} is not quarantined"),
        ))
    }
}

/// Sets up logging and runs the command line, returning the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("CONCORD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,libp2p=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Human => builder.init(),
    }
    match dispatch(cli) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) => {
            eprintln!("error: {:#}", e.error);
            ExitCode::from(e.code)
        }
    }
}
