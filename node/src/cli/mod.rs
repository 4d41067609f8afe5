//! The `concord` command line: the clap tree, the dispatch to one command
//! per file ([`commands`]), exit codes ([`exit`]) and the one client through
//! which commands reach a node, running or stopped ([`client`]).
//!
//! This is the only module that knows clap or exit codes: the rooms it calls
//! return typed errors and report structs, and [`exit`] maps them.

mod client;
mod commands;
pub mod exit;
pub mod heap;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use concord_keys::roster::Role;

pub use exit::{CliError, CliResult};

/// Concord: a federation node for sharing signed licence denials and
/// enforcement notices, with logs every participant can audit.
#[derive(Debug, Parser)]
#[command(name = "concord", version, after_help = exit::HELP)]
pub struct Cli {
    /// Log output format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Human, global = true)]
    pub log_format: LogFormat,
    /// More log lines on stderr (-v debug, -vv trace); `CONCORD_LOG` or
    /// `RUST_LOG` (an env-filter directive) override both flags.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Fewer log lines on stderr: warnings and errors only.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print JSON instead of text, and errors as JSON on stderr
    /// (`{"error": {"code", "exit", "message"}}`); every command takes it.
    #[arg(long, global = true)]
    pub json: bool,
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

/// Whether the own log may be written without first confirming its head
/// with a peer.
#[derive(Debug, clap::Args)]
pub struct ForkRiskArg {
    /// Write the own log from the store's head without first learning from
    /// a peer or witness how far it goes. A store restored from a backup
    /// then signs indexes the federation already holds, a fork that
    /// quarantines the log everywhere: use it only where no peer can be
    /// reached and this store is known to be the newest.
    #[arg(long)]
    pub accept_fork_risk: bool,
}

impl ForkRiskArg {
    fn fork_risk(&self) -> crate::own_log::ForkRisk {
        if self.accept_fork_risk {
            crate::own_log::ForkRisk::Accepted
        } else {
            crate::own_log::ForkRisk::Refused
        }
    }
}

/// `concord run`'s arguments.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub home: HomeArg,
    #[command(flatten)]
    pub fork_risk: ForkRiskArg,
    /// Stop, as on SIGTERM, once process PID is no longer this node's
    /// parent: it ended, or had already ended when the node started
    /// (`concord demo` passes its own id, so its nodes never outlive it).
    #[arg(long, value_name = "PID")]
    pub stop_with_parent: Option<u32>,
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
    /// Run the node until SIGINT or SIGTERM. It publishes only once a peer
    /// or witness confirmed how far its own log goes (see
    /// `--accept-fork-risk`).
    Run(RunArgs),
    /// Publish a record on this agency's log.
    Publish(PublishArgs),
    /// Amend a denial of this agency's log (the file holds {"reason", "denial"}).
    Amend(ChangeArgs),
    /// Revoke a denial of this agency's log (the file holds {"reason", "date"}).
    Revoke(ChangeArgs),
    /// Consult the state that denied an essentially identical transaction,
    /// answer a consultation, list them (bilateral: only the two states
    /// read one).
    Consult {
        #[command(subcommand)]
        command: ConsultCommand,
    },
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
    /// Verify the whole store (of a running node through its API), or a
    /// bundle, offline; exit 6 on any finding.
    Audit(AuditArgs),
    /// Write a signed bundle of logs for offline transport.
    Export(ExportArgs),
    /// Audit a bundle, then store it; a bundle with any finding stores
    /// nothing. The node must be stopped (see `import --help`).
    ///
    /// The node must be stopped: an import audits the whole bundle against the
    /// store and only then writes it, and stores a bundle that audited clean
    /// whole, which holds only while nothing else writes the store between the
    /// audit and the last entry stored (a running node's gossip and sync
    /// append to the same logs, and may quarantine one of them, meanwhile).
    /// It also reads the bundle from a file, however large, which the API's
    /// bodies (bounded to a record's size, with a deadline) are not meant to
    /// carry.
    Import(ImportArgs),
    /// Purge payloads of denials whose validity ended; headers and proofs stay.
    Purge(PurgeArgs),
    /// Lift the quarantine of a log after equivocation, recording who decided.
    Quarantine {
        #[command(subcommand)]
        command: QuarantineCommand,
    },
    /// Start the Pacific Alliance demo federation on loopback.
    Demo(DemoArgs),
    /// Screen a licence application against every member's denials in
    /// force, with the checkpoints and proofs that make the result
    /// verifiable later (`verify-screening`).
    Screen(ScreenArgs),
    /// Verify a saved screening result offline: signatures, proofs and
    /// scores; with --home, also that no other denial of those logs
    /// matched. Exit 6 on any finding.
    VerifyScreening(VerifyScreeningArgs),
    /// Denials that arrived after an application was screened and meet it
    /// (applications screened in the last `[screening] rescreen_days`).
    Alerts(AlertsArgs),
    /// API tokens with scopes (read, screen, publish, admin), kept hashed
    /// in HOME/tokens.json; a running node sees changes at once.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token; its secret is printed this once.
    Create {
        #[command(flatten)]
        home: HomeArg,
        /// Who or what holds it, e.g. "licensing desk".
        #[arg(long)]
        name: String,
        /// Comma-separated: read, screen, publish, admin.
        #[arg(long)]
        scope: String,
    },
    /// Every token, revoked ones included (hashes only).
    List {
        #[command(flatten)]
        home: HomeArg,
    },
    /// Revoke a token, by id or name.
    Revoke {
        #[command(flatten)]
        home: HomeArg,
        /// The token's id (from `token list`) or name.
        token: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct AlertsArgs {
    #[command(flatten)]
    pub home: HomeArg,
}

#[derive(Debug, clap::Args)]
pub struct ScreenArgs {
    #[command(flatten)]
    pub home: HomeArg,
    /// The application as JSON (PROTOCOL.md §11; samples under
    /// scenarios/records/applications/); `-` reads standard input.
    #[arg(long, required_unless_present = "batch", conflicts_with = "batch")]
    pub file: Option<PathBuf>,
    /// Applications as JSON lines, one per line; the results go to --out,
    /// one JSON line each, in the same order.
    #[arg(long, requires = "out")]
    pub batch: Option<PathBuf>,
    /// Where to save the result (JSON, for `verify-screening`), or the
    /// batch's results (JSON lines).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Screen against the denials in force on this day (YYYY-MM-DD, UTC);
    /// default today.
    #[arg(long)]
    pub at: Option<String>,
    /// Least score of a hit, 0 to 1.
    #[arg(long, default_value_t = concord_screening::DEFAULT_THRESHOLD)]
    pub threshold: f64,
}

#[derive(Debug, clap::Args)]
pub struct VerifyScreeningArgs {
    /// A result saved by `concord screen --out` (or its --json output).
    pub result: PathBuf,
    /// Check signatures against this roster file rather than the one the
    /// result carries.
    #[arg(long, conflicts_with = "home")]
    pub roster: Option<PathBuf>,
    /// A node's home: its roster is trusted, and its store screens the
    /// same logs again to prove that no hit is missing.
    #[arg(long, env = "CONCORD_HOME")]
    pub home: Option<PathBuf>,
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
    Create(TestnetArgs),
}

#[derive(Debug, Subcommand)]
pub enum RosterCommand {
    /// Members with their C2SP verifier keys.
    Show {
        #[command(flatten)]
        home: HomeArg,
    },
    /// Write the roster document (every version's signed file and the
    /// members), the one format `roster install`, `audit --roster` and
    /// `verify-screening --roster` take, as they take a roster file.
    Export {
        #[command(flatten)]
        home: HomeArg,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify a signed roster file, or a roster document, and install the
    /// versions this home lacks.
    Install {
        #[command(flatten)]
        home: HomeArg,
        file: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// Record kind: denial, notice, consultation.request,
    /// consultation.reply, roster.update, key.rotate, key.revoke or
    /// equivocation.proof; denial.amend and denial.revoke also have their
    /// own commands, `amend` and `revoke`. The samples under
    /// scenarios/records/ show each.
    pub kind: String,
    #[command(flatten)]
    pub home: HomeArg,
    /// The record as JSON; `-` reads standard input.
    #[arg(long)]
    pub file: PathBuf,
    /// public, federation, members, or bilateral:XX,YY.
    #[arg(long, default_value = "federation")]
    pub visibility: String,
    /// Validate the record and show what would be published (the record
    /// as it would be signed, its digest and size, the visibility); send
    /// and sign nothing. The log's rules (own state's name, references)
    /// are checked when it is published.
    #[arg(long)]
    pub dry_run: bool,
    /// Publish even if the record is, byte for byte, that of an entry of
    /// this log still in force (refused otherwise, exit 8).
    #[arg(long)]
    pub force: bool,
    /// On a stopped node, which cannot ask its peers how far its log goes.
    #[command(flatten)]
    pub fork_risk: ForkRiskArg,
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
    /// On a stopped node, which cannot ask its peers how far its log goes.
    #[command(flatten)]
    pub fork_risk: ForkRiskArg,
}

#[derive(Debug, Subcommand)]
pub enum ConsultCommand {
    /// Ask the denying state about one of its denials before deciding on a
    /// licence application; published on this agency's log, readable by
    /// the two states only.
    Request(ConsultRequestArgs),
    /// Answer a consultation request this agency's state received.
    Reply(ConsultReplyArgs),
    /// The consultations this node can read, each pending, answered or
    /// overdue (`[consultations] overdue_days` in config.toml, default 30).
    List(ConsultListArgs),
}

#[derive(Debug, clap::Args)]
pub struct ConsultRequestArgs {
    #[command(flatten)]
    pub home: HomeArg,
    /// The denial, ORIGIN#INDEX, ORIGIN a member id or a log origin (e.g. `mx#1`).
    #[arg(long)]
    pub denial: String,
    /// This state's reference of the licence application.
    #[arg(long)]
    pub application: String,
    /// What this state asks the denying state.
    #[arg(long)]
    pub question: String,
    /// The items of the application, in a sentence.
    #[arg(long)]
    pub items_summary: Option<String>,
    /// On a stopped node, which cannot ask its peers how far its log goes.
    #[command(flatten)]
    pub fork_risk: ForkRiskArg,
}

#[derive(Debug, clap::Args)]
pub struct ConsultReplyArgs {
    #[command(flatten)]
    pub home: HomeArg,
    /// The consultation request, ORIGIN#INDEX (e.g. `co#4`).
    #[arg(long)]
    pub request: String,
    /// agree, object or need_more_information.
    #[arg(long)]
    pub answer: String,
    /// The reasons for the answer.
    #[arg(long)]
    pub comment: String,
    /// On a stopped node, which cannot ask its peers how far its log goes.
    #[command(flatten)]
    pub fork_risk: ForkRiskArg,
}

#[derive(Debug, clap::Args)]
pub struct ConsultListArgs {
    #[command(flatten)]
    pub home: HomeArg,
    /// Only requests this agency's state received.
    #[arg(long, conflicts_with = "outgoing")]
    pub incoming: bool,
    /// Only requests this agency's state made.
    #[arg(long)]
    pub outgoing: bool,
    /// Only consultations in this state: pending, answered or overdue.
    #[arg(long)]
    pub state: Option<String>,
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
    /// Most entries shown per log.
    #[arg(long, default_value_t = 100)]
    pub limit: u64,
    /// Only this record kind (denial, notice, denial.amend, ...).
    #[arg(long)]
    pub kind: Option<String>,
    /// Only denials in this state today: active, amended, revoked, expired.
    #[arg(long)]
    pub status: Option<String>,
    /// Only records published in this state's name (ISO code, e.g. MX).
    #[arg(long)]
    pub state: Option<String>,
    /// Only records naming a party like this (accents, case and legal
    /// forms aside; aliases too).
    #[arg(long)]
    pub party: Option<String>,
    /// Only records with this control-list entry, or one under it
    /// (`1C350` keeps `1C350.1`).
    #[arg(long)]
    pub control_entry: Option<String>,
    /// Only records dated (decision or notice date, else publication) on
    /// or after this day, YYYY-MM-DD.
    #[arg(long)]
    pub since: Option<String>,
    /// Only records dated on or before this day, YYYY-MM-DD.
    #[arg(long)]
    pub until: Option<String>,
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
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub home: HomeArg,
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
    /// List what would be purged, change nothing (a running node answers
    /// through its API; a purge itself needs the node stopped).
    #[arg(long)]
    pub dry_run: bool,
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

#[derive(Debug, clap::Args)]
pub struct TestnetArgs {
    /// Directory that receives one home per id.
    #[arg(long)]
    pub dir: PathBuf,
    /// Comma-separated member ids; the first two letters name the country
    /// unless written `id:CC`.
    #[arg(long, value_delimiter = ',', default_value = "cl,co,mx,pe,br")]
    pub members: Vec<String>,
    /// Comma-separated observer ids, `id:CC` for the seat's country.
    #[arg(long, value_delimiter = ',', default_value = "un1540:US,wco:BE")]
    pub observers: Vec<String>,
    #[arg(long, default_value = "pacific-alliance")]
    pub federation: String,
    /// Anti-entropy interval of every node, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub sync_interval_ms: u64,
}

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// The node's home directory: a running node audits its store through
    /// its API (each log up to the head it read when its turn came), a
    /// stopped one is audited here. With `--bundle`, only its roster is
    /// used.
    #[arg(long, env = "CONCORD_HOME")]
    pub home: Option<PathBuf>,
    /// Audit this bundle (from `concord export`) instead of a store.
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// A signed genesis roster file to verify against instead of the home's
    /// roster (or, for a bundle, the roster it carries).
    #[arg(long)]
    pub roster: Option<PathBuf>,
    /// Also validate every payload present as a record of its kind, as a
    /// node does before storing it. Integrity does not need it (each payload
    /// is bound to its signed header by its digest); it finds members that
    /// signed records a node would refuse. `concord import` always does it.
    #[arg(long)]
    pub records: bool,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The node's home directory: a running node streams the bundle through
    /// its API (each log up to the head it read when its turn came), a
    /// stopped one is exported here.
    #[arg(long, env = "CONCORD_HOME")]
    pub home: PathBuf,
    /// Where to write the bundle; it must not exist yet.
    #[arg(long)]
    pub out: PathBuf,
    /// Only these logs (member id or origin; repeatable). Default: every log.
    #[arg(long)]
    pub log: Vec<String>,
    /// Carry no payload at all.
    #[arg(long)]
    pub headers_only: bool,
    /// Carry the payloads this participant may read (member id). Default:
    /// public payloads only.
    #[arg(long = "for")]
    pub audience: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Where to put the federation's homes; default: a new temporary directory.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Stop after showing convergence instead of running until Ctrl-C.
    #[arg(long)]
    pub exit_after_sync: bool,
    /// Seconds to wait for every node to hold every entry.
    #[arg(long, default_value_t = 60)]
    pub timeout_secs: u64,
    /// Keep the federation's homes (and the nodes' logs) after the demo
    /// stops; a directory given with `--dir` is always kept.
    #[arg(long)]
    pub keep: bool,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The node's home directory (the node must be stopped).
    #[arg(long, env = "CONCORD_HOME")]
    pub home: PathBuf,
    /// The bundle to import.
    pub bundle: PathBuf,
}

/// Runs one parsed command.
///
/// # Errors
/// A [`CliError`] carrying the exit code.
pub fn dispatch(cli: Cli) -> CliResult {
    let json = cli.json;
    match cli.command {
        Command::Init(args) => commands::init::init(&args, json),
        Command::Testnet {
            command: TestnetCommand::Create(args),
        } => commands::init::testnet(&args, json),
        Command::Roster { command } => commands::roster::run(command, json),
        Command::Run(args) => commands::run::run(
            &args.home.home,
            args.fork_risk.fork_risk(),
            args.stop_with_parent,
        ),
        Command::Publish(args) => commands::publish::publish(&args, json),
        Command::Amend(args) => commands::publish::change(&args, "denial.amend", json),
        Command::Revoke(args) => commands::publish::change(&args, "denial.revoke", json),
        Command::Consult { command } => commands::consult::run(command, json),
        Command::List(args) => commands::read::list(&args, json),
        Command::Show(args) => commands::read::show(&args, json),
        Command::Status(args) => commands::read::status(&args, json),
        Command::Checkpoint(args) => commands::read::checkpoint(&args, json),
        Command::Proof { command } => commands::read::proof(command, json),
        Command::Audit(args) => commands::audit::audit(&args, json),
        Command::Export(args) => commands::bundle::export(&args, json),
        Command::Import(args) => commands::bundle::import(&args, json),
        Command::Purge(args) => commands::purge::purge(&args, json),
        Command::Quarantine {
            command:
                QuarantineCommand::Clear {
                    home,
                    log,
                    operator,
                    reason,
                },
        } => commands::quarantine::clear(&home.home, &log, &operator, &reason, json),
        Command::Demo(args) => commands::demo::demo(&args, cli.log_format),
        Command::Screen(args) => commands::screen::screen(&args, json),
        Command::VerifyScreening(args) => commands::screen::verify(&args, json),
        Command::Alerts(args) => commands::screen::alerts(&args, json),
        Command::Token { command } => commands::token::run(command, json),
    }
}

/// Sets up logging and runs the command line, returning the exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "warn",
        (false, 0) => "info,libp2p=warn",
        (false, 1) => "debug,libp2p=info",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CONCORD_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    // Colour codes only for a person at a terminal, never into a log file.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Human => builder.init(),
    }
    let json = cli.json;
    match dispatch(cli) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) if e.is_stdout_closed() => ExitCode::from(exit::OK),
        Err(e) => {
            report_error(e.code, &format!("{:#}", e.error), json);
            ExitCode::from(e.code)
        }
    }
}

/// Clap's own outcome: help and version on stdout (exit 0), a wrong
/// command line as an error (exit 2), in JSON when `--json` was asked for.
fn usage_error(e: &clap::Error) -> ExitCode {
    if !e.use_stderr() {
        let _ = e.print();
        return ExitCode::from(exit::OK);
    }
    let json = std::env::args_os().any(|a| a == "--json");
    if json {
        report_error(exit::USAGE, e.render().to_string().trim_end(), true);
    } else {
        let _ = e.print();
    }
    ExitCode::from(exit::USAGE)
}

/// An error on stderr: `error: …`, or with `--json` one line
/// `{"error":{"code":…,"exit":…,"message":…}}` (README, exit codes).
fn report_error(code: u8, message: &str, json: bool) {
    if json {
        let error = serde_json::json!({
            "error": { "code": exit::name(code), "exit": code, "message": message }
        });
        eprintln!("{error}");
    } else {
        eprintln!("error: {message}");
    }
}
