//! `switchyard`: run, validate, import and export workflows headless, from one binary.
//! The command is this library's [`main_from`]: the `switchyard` binary (src/main.rs) calls
//! it, and so does the desktop app's binary given `--cli` first, which is how the Linux
//! packages install `/usr/bin/switchyard` (one binary instead of two).
//!
//! Exit codes: 0 success, 1 a run or an operation failed, 2 bad input (usage, an invalid
//! workflow file, malformed --input, an unknown id). Nothing is written on bad input.

mod commands;
mod output;
mod progress;

use commands::{alerts, credentials, tokens};

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;
use switchyard_api::{Api, ApiError, Host};
use switchyard_model::error::{ErrorCode, ValidationIssue};

#[derive(Parser)]
#[command(name = "switchyard", version, about = "Run Switchyard workflows without a window", max_term_width = 100)]
struct Cli {
    /// Where Switchyard keeps its database (default: the OS's per-user data folder).
    #[arg(long, global = true, env = "SWITCHYARD_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Keep workflows, runs and accounts in this database instead of the data folder's
    /// SQLite file: `postgres://user:password@host/db` (server mode, shared by several
    /// processes) or `sqlite:PATH`. Items' files and logs stay in the data folder.
    #[arg(long, global = true, env = "SWITCHYARD_DATABASE_URL", value_name = "URL", hide_env_values = true)]
    database: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a workflow file or a saved workflow; prints the last nodes' items on stdout.
    Run {
        /// A workflow file, or the id of a saved workflow.
        workflow: String,
        /// The trigger's items: JSON text, @FILE to read a file, or - for stdin.
        #[arg(long, value_name = "JSON")]
        input: Option<String>,
        /// Print the whole result (status, error, items) as JSON.
        #[arg(long)]
        json: bool,
        /// Run only this node (by id) and the nodes it depends on.
        #[arg(long, value_name = "NODE_ID")]
        until: Option<String>,
        /// No progress on stderr.
        #[arg(long, short)]
        quiet: bool,
        /// Trust the file: let it use the accounts it names and send them to the hosts its
        /// URLs name (added to those accounts). Without it, a file that uses accounts is
        /// refused: read it first.
        #[arg(long)]
        trust: bool,
        /// Pause before this node (name or id; repeatable) and ask on the terminal what to do:
        /// continue, step (run just that node, pause before the next), show the items going
        /// in, or stop.
        #[arg(long = "break", value_name = "NODE")]
        breaks: Vec<String>,
    },
    /// Run an execution again: from the start with the same trigger items, or from the node
    /// that failed, reusing what the nodes before it emitted.
    Retry {
        /// The execution's id (`switchyard executions`).
        execution: String,
        /// Start at the failed node; the nodes that succeeded are not run again.
        #[arg(long)]
        from_failed: bool,
        /// Run the workflow as it ran then, not as it is saved now.
        #[arg(long)]
        original: bool,
        #[arg(long)]
        json: bool,
        #[arg(long, short)]
        quiet: bool,
        /// Trust a workflow that is not saved here (the run of a file).
        #[arg(long)]
        trust: bool,
    },
    /// Show what an imported workflow would use (accounts, the hosts they go to) and trust
    /// it: until then it runs nothing that uses an account.
    Trust {
        /// The id of a saved workflow.
        id: String,
        /// Trust without asking.
        #[arg(long, short)]
        yes: bool,
    },
    /// Check a workflow file; every problem is listed with its line, column and path.
    Validate {
        file: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Save a workflow file into the local database, untrusted and with a new id.
    Import {
        file: PathBuf,
        /// Keep the file's workflow id (and so its webhook URLs). Without it the workflow
        /// gets a new id: whoever has the file knows its id.
        #[arg(long)]
        keep_id: bool,
    },
    /// Write a saved workflow to a file (- for stdout).
    Export {
        id: String,
        #[arg(short, long, value_name = "FILE", default_value = "-")]
        output: String,
        /// Blank parameter values that look like secrets instead of refusing.
        #[arg(long)]
        strip_secrets: bool,
        /// Write a bundle: the workflow and every saved workflow it calls, in one file
        /// (`switchyard run` and `import` read it).
        #[arg(long)]
        with_called: bool,
    },
    /// A saved workflow's versions, newest first (each save is one).
    Versions {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// What changed between two versions of a saved workflow (without TO: up to the
    /// version saved now).
    Diff {
        id: String,
        from: u32,
        to: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// `restore FILE`: restore a backup into the data folder (refused while the app or
    /// `serve` has it open; the database it replaces is kept beside it).
    /// `restore ID VERSION`: save an older version of a workflow again, as its newest.
    Restore {
        /// A backup file, or a workflow's id (with VERSION).
        target: String,
        version: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// List saved workflows.
    List {
        #[arg(long)]
        search: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List past runs, newest first.
    Executions {
        #[arg(long, value_name = "ID")]
        workflow: Option<String>,
        /// The workflow's runs on this Switchyard server (a `switchyard.server` account's
        /// label) instead of here; needs --workflow.
        #[arg(long, value_name = "LABEL")]
        server: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Show one past run, node by node.
    Execution {
        id: String,
        /// The run on this Switchyard server (a `switchyard.server` account's label) instead
        /// of here.
        #[arg(long, value_name = "LABEL")]
        server: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The credential vault: status, unlock, change-password, rotate-key, recovery-key, recover.
    Vault {
        #[command(subcommand)]
        action: credentials::VaultAction,
    },
    /// Connection accounts: list, add, test, login, default, rename, remove.
    Connections {
        #[command(subcommand)]
        action: credentials::ConnectionsAction,
    },
    /// Serve the active workflows without a window: the webhook listener and the scheduler.
    /// SIGTERM or Ctrl-C stops it cleanly: requests in progress are answered, runs finish
    /// (or are cancelled after --grace seconds) and everything is recorded.
    Serve {
        /// The listener's port (default: the settings', 5680).
        #[arg(long)]
        port: Option<u16>,
        /// The address to bind (default: the settings', 127.0.0.1). Anything but a loopback
        /// address lets other machines call your webhooks.
        #[arg(long, value_name = "ADDRESS")]
        bind: Option<String>,
        /// Seconds runs in progress get to finish at shutdown before they are cancelled.
        #[arg(long, default_value_t = 30, value_name = "SECONDS")]
        grace: u64,
        /// Requests per second each API token may send to the REST API at /api/v1 (bursts of
        /// twice that; more are answered 429).
        #[arg(long, default_value_t = switchyard_api::rest::DEFAULT_RATE_PER_SECOND, value_name = "PER_SECOND")]
        api_rate_limit: u32,
        /// Put the runs the triggers start on this Redis Streams queue for `switchyard
        /// worker` processes instead of running them here (needs --database postgres://…).
        #[arg(long, env = "SWITCHYARD_QUEUE_URL", value_name = "redis://…", hide_env_values = true)]
        queue: Option<String>,
    },
    /// Run the runs mains put on the queue (server mode: `serve --queue`), recording them in
    /// the shared PostgreSQL store (--database). SIGTERM or Ctrl-C stops taking runs and
    /// lets those going finish (up to --grace seconds).
    Worker {
        /// The Redis Streams queue: redis://host:6379/0.
        #[arg(long, env = "SWITCHYARD_QUEUE_URL", value_name = "redis://…", hide_env_values = true)]
        queue: String,
        /// Runs at once.
        #[arg(long, default_value_t = 10, value_name = "N")]
        concurrency: usize,
        /// Seconds a run's message may go without this worker's heartbeat before another
        /// worker takes it over (and runs it again from the start).
        #[arg(long, default_value_t = 30, value_name = "SECONDS")]
        visibility_timeout: u64,
        /// Deliveries after which a run that keeps crashing workers goes to the dead letters.
        #[arg(long, default_value_t = 3, value_name = "N")]
        max_deliveries: u32,
        #[arg(long, default_value_t = 30, value_name = "SECONDS")]
        grace: u64,
        /// Serve this worker's metrics (its runs by workflow, its process) as Prometheus text
        /// at http://ADDR/metrics, e.g. 127.0.0.1:9464, while the metrics endpoint is on, with
        /// its bearer token (`switchyard metrics --enable --token`). The mains' /metrics shows
        /// every worker's totals and the queue without it.
        #[arg(long, value_name = "ADDR:PORT")]
        metrics: Option<std::net::SocketAddr>,
    },
    /// The run queue's state: waiting, running (pending) and dead-letter runs.
    Queue {
        #[arg(long, env = "SWITCHYARD_QUEUE_URL", value_name = "redis://…", hide_env_values = true)]
        queue: String,
        #[arg(long)]
        json: bool,
    },
    /// Activate a saved workflow: its Webhook and Schedule triggers are served.
    Activate { id: String },
    /// Pause an active workflow.
    Deactivate { id: String },
    /// Webhook endpoints and schedules of the saved workflows.
    Triggers {
        #[arg(long)]
        json: bool,
    },
    /// The live metrics of the running app or `switchyard serve`, as Prometheus text (read
    /// from its /metrics endpoint on the webhook listener).
    Metrics {
        /// Turn the /metrics endpoint on first (a saved setting; the running instance sees it
        /// at once).
        #[arg(long)]
        enable: bool,
        /// Print the bearer token /metrics requires (for a Prometheus scrape config) instead.
        #[arg(long)]
        token: bool,
        /// The port it listens on, when `serve` was given --port.
        #[arg(long)]
        port: Option<u16>,
    },
    /// Alert rules and alerts (checked by the app or `switchyard serve`).
    Alerts {
        #[command(subcommand)]
        command: alerts::AlertsCommand,
    },
    /// Deploy a saved workflow to a Switchyard server (`switchyard serve`): pushed through its
    /// REST API with a `switchyard.server` account, trusted there, activated if asked; accounts
    /// go by reference and those the server lacks are listed.
    Deploy {
        id: String,
        /// The `switchyard.server` account (its label).
        #[arg(long, value_name = "LABEL")]
        to: String,
        /// Serve its triggers on the server (not while accounts are missing there).
        #[arg(long)]
        activate: bool,
        /// Replace it even if it was changed on the server since it was last deployed from here.
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },
    /// API tokens for the REST API that `serve` answers at /api/v1: list, create, revoke.
    Tokens {
        #[command(subcommand)]
        command: tokens::TokensCommand,
    },
    /// The webhook delivery log, newest first.
    Deliveries {
        #[arg(long, value_name = "ID")]
        workflow: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Back the data folder up (database and files) to a new file; the app may keep running.
    Backup {
        /// The file to write (must not exist); default: a new file in the backup folder.
        #[arg(long, value_name = "FILE")]
        to: Option<PathBuf>,
        /// List the backup folder's backups instead.
        #[arg(long)]
        list: bool,
        #[arg(long)]
        json: bool,
    },
    /// Copy everything a store holds (workflows, versions, runs, accounts, settings) into
    /// another, empty one: the data folder's SQLite file into a server's PostgreSQL, or back.
    /// Sealed account records move as they are; the vault opens the same way afterwards.
    /// Nothing may have the source open meanwhile.
    MigrateStore {
        /// The store to copy: `sqlite:PATH`, a path, or `postgres://…` (default: the data
        /// folder's, or --database).
        #[arg(long, value_name = "URL")]
        from: Option<String>,
        /// The empty store to copy into: `postgres://user:password@host/db` or `sqlite:PATH`.
        #[arg(long, value_name = "URL")]
        to: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete old runs from the history.
    Prune {
        #[arg(long, value_name = "DAYS")]
        older_than: Option<u32>,
        #[arg(long, value_name = "N")]
        keep_last: Option<u32>,
    },
}

/// A failure with its exit code.
pub(crate) struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    pub(crate) fn invalid(message: impl Into<String>) -> Failure {
        Failure { code: 2, message: message.into() }
    }
    pub(crate) fn failed(message: impl Into<String>) -> Failure {
        Failure { code: 1, message: message.into() }
    }
}

impl Failure {
    /// The message with `who: ` in front.
    pub(crate) fn prefixed(mut self, who: &str) -> Failure {
        if !self.message.is_empty() {
            self.message = format!("{who}: {}", self.message);
        }
        self
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Failure {
        let code = match e.code {
            ErrorCode::NotFound
            | ErrorCode::BadRequest
            | ErrorCode::InvalidWorkflow
            | ErrorCode::Conflict
            | ErrorCode::WorkflowUntrusted => 2,
            _ => 1,
        };
        let issues = e.issues();
        if issues.is_empty() {
            Failure { code, message: e.message }
        } else {
            Failure { code, message: render_issues(&issues, "") }
        }
    }
}

pub(crate) type Outcome = Result<(), Failure>;

/// Runs the command line `args` (the program's name first, as `std::env::args_os` gives it).
pub fn main_from<I, T>(args: I) -> std::process::ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    switchyard_api::prefer_small_pages();
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    // Commands that run workflows also log to the data folder's rotating log file.
    let _log_guard = match &cli.command {
        Command::Run { .. } | Command::Retry { .. } | Command::Serve { .. } => {
            Some(switchyard_api::logging::init(&switchyard_store::paths::data_dir(cli.data_dir.clone()), "warn"))
        }
        _ => {
            switchyard_api::logging::init_stderr("warn");
            None
        }
    };
    let runtime = match switchyard_api::runtime() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("switchyard: cannot start: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    match runtime.block_on(commands::dispatch(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(failure) => {
            if !failure.message.is_empty() {
                eprintln!("{}", failure.message);
            }
            std::process::ExitCode::from(failure.code)
        }
    }
}

/// Where the command's data is: the data folder (`--data-dir`) and, in server mode, the
/// database (`--database`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Place {
    pub(crate) dir: Option<PathBuf>,
    pub(crate) database: Option<String>,
}

impl Place {
    /// The data folder (see [`switchyard_store::paths::data_dir`]).
    pub(crate) fn folder(&self) -> PathBuf {
        switchyard_store::paths::data_dir(self.dir.clone())
    }

    pub(crate) fn location(&self) -> Option<switchyard_store::Location> {
        self.database.as_deref().filter(|d| !d.trim().is_empty()).map(switchyard_store::Location::parse)
    }
}

pub(crate) fn open_api(place: Place, host: Arc<dyn Host>) -> Result<Api, Failure> {
    let location = place.location();
    let opened = match &location {
        Some(location) => Api::open_at(&place.folder(), Some(location), host),
        None => Api::open(&place.folder(), host),
    };
    opened.map_err(|e| Failure::failed(format!("switchyard: {}", e.message)))
}

pub(crate) fn render_issues(issues: &[ValidationIssue], file: &str) -> String {
    let mut lines: Vec<String> = issues.iter().map(|i| i.render(file)).collect();
    let label = if file.is_empty() { "the workflow".to_string() } else { file.to_string() };
    lines.push(match issues.len() {
        1 => format!("{label}: 1 problem"),
        n => format!("{label}: {n} problems"),
    });
    lines.join("\n")
}
