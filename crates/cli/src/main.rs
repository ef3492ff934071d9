//! `switchyard`: run, validate, import and export workflows headless, from one binary.
//!
//! Exit codes: 0 success, 1 a run or an operation failed, 2 bad input (usage, an invalid
//! workflow file, malformed --input, an unknown id). Nothing is written on bad input.

mod alerts;
mod credentials;
mod progress;
mod serve;
mod trust;

/// mimalloc keeps each size of allocation on its own pages, so when a node reshapes a
/// million records the pages of the old shapes empty out and are reused; glibc's malloc
/// leaves a hole per record instead (peak 2.8x vs 3.9x the input's JSON size, see bench/).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use std::io::{BufReader, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use switchyard_api::types::*;
use switchyard_api::{Api, ApiError, Host, SilentHost};
use switchyard_engine::validate::validate_text;
use switchyard_model::error::{ErrorCode, ValidationIssue};
use switchyard_model::execution::{RunMode, RunStatus};
use switchyard_model::item::Item;
use switchyard_model::value::Value;
use switchyard_model::workflow::Workflow;

#[derive(Parser)]
#[command(name = "switchyard", version, about = "Run Switchyard workflows without a window", max_term_width = 100)]
struct Cli {
    /// Where Switchyard keeps its database (default: the OS's per-user data folder).
    #[arg(long, global = true, env = "SWITCHYARD_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
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
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Show one past run, node by node.
    Execution {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// The credential vault: status, unlock, change-password, rotate-key.
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
    /// The webhook delivery log, newest first.
    Deliveries {
        #[arg(long, value_name = "ID")]
        workflow: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
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

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Commands that run workflows also log to the data folder's rotating log file.
    let _log_guard = match &cli.command {
        Command::Run { .. } | Command::Serve { .. } => {
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
    match runtime.block_on(execute(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(failure) => {
            if !failure.message.is_empty() {
                eprintln!("{}", failure.message);
            }
            std::process::ExitCode::from(failure.code)
        }
    }
}

pub(crate) fn open_api(data_dir: Option<PathBuf>, host: Arc<dyn Host>) -> Result<Api, Failure> {
    let dir = switchyard_store::paths::data_dir(data_dir);
    Api::open(&dir, host).map_err(|e| Failure::failed(format!("switchyard: {}", e.message)))
}

async fn execute(cli: Cli) -> Outcome {
    let data_dir = cli.data_dir;
    match cli.command {
        Command::Run { workflow, input, json, until, quiet, trust } => {
            run(data_dir, &workflow, input.as_deref(), json, until, quiet, trust).await
        }
        Command::Trust { id, yes } => {
            let api = open_api(data_dir, Arc::new(SilentHost))?;
            trust::trust(&api, &id, yes).await
        }
        Command::Validate { file, json } => validate(&file, json),
        Command::Serve { port, bind, grace } => serve::serve(data_dir, port, bind, grace).await,
        Command::Activate { id } => serve::activate(data_dir, id, true).await,
        Command::Deactivate { id } => serve::activate(data_dir, id, false).await,
        Command::Triggers { json } => serve::triggers(data_dir, json).await,
        Command::Metrics { enable, token, port } => serve::metrics(data_dir, enable, token, port).await,
        Command::Alerts { command } => alerts::alerts(data_dir, command).await,
        Command::Deliveries { workflow, limit, json } => serve::deliveries(data_dir, workflow, limit, json).await,
        Command::Import { file, keep_id } => {
            let (text, _) = read_file(&file)?;
            check_file(&file, &text)?;
            let api = open_api(data_dir, Arc::new(SilentHost))?;
            let response = api
                .workflow_import(WorkflowImportRequest { text, file_name: Some(file.display().to_string()), keep_id })
                .await?;
            let wf = &response.record.workflow;
            println!("Imported \"{}\" as {}", wf.name, wf.id);
            for note in response.notes {
                eprintln!("note: {note}");
            }
            if response.review.needs_consent() {
                eprint!("{}", trust::describe(&response.review));
                eprintln!(
                    "It is not trusted yet and runs nothing that uses an account until you run `switchyard trust {}`.",
                    wf.id
                );
            }
            Ok(())
        }
        Command::Export { id, output, strip_secrets } => {
            let api = open_api(data_dir, Arc::new(SilentHost))?;
            let path = (output != "-").then(|| output.clone());
            let response =
                api.workflow_export(WorkflowExportRequest { id, path, strip_secrets }).await.map_err(|e| {
                    if e.code == ErrorCode::SecretsInExport {
                        Failure::invalid(format!("switchyard: {} (--strip-secrets)", e.message))
                    } else {
                        e.into()
                    }
                })?;
            match response.path {
                Some(path) => eprintln!("Wrote {path}"),
                None => print!("{}", response.text),
            }
            Ok(())
        }
        Command::List { search, json } => {
            let api = open_api(data_dir, Arc::new(SilentHost))?;
            let list = api.workflow_list(WorkflowListRequest { search }).await?;
            if json {
                print_json(&list.workflows);
            } else if list.workflows.is_empty() {
                eprintln!("No saved workflows. Import one with: switchyard import FILE");
            } else {
                let rows = list
                    .workflows
                    .iter()
                    .map(|w| vec![w.id.clone(), w.name.clone(), w.node_count.to_string(), w.updated_at.clone()])
                    .collect();
                print_table(&["ID", "NAME", "NODES", "UPDATED"], rows);
            }
            Ok(())
        }
        Command::Executions { workflow, limit, json } => {
            let api = open_api(data_dir, Arc::new(SilentHost))?;
            let list = api
                .execution_list(ExecutionListRequest {
                    workflow_id: workflow,
                    limit: Some(limit),
                    ..Default::default()
                })
                .await?;
            if json {
                print_json(&list.executions);
            } else if list.executions.is_empty() {
                eprintln!("No executions yet.");
            } else {
                let rows = list
                    .executions
                    .iter()
                    .map(|e| {
                        vec![
                            e.id.clone(),
                            e.workflow_name.clone(),
                            e.status.as_str().to_string(),
                            e.mode.as_str().to_string(),
                            e.started_at.clone(),
                            e.duration_ms.map_or("-".into(), |d| format!("{d} ms")),
                        ]
                    })
                    .collect();
                print_table(&["ID", "WORKFLOW", "STATUS", "MODE", "STARTED", "DURATION"], rows);
            }
            Ok(())
        }
        Command::Execution { id, json } => {
            let api = open_api(data_dir, Arc::new(SilentHost))?;
            let execution = api.execution_get(IdRequest { id }).await?;
            if json {
                print_json(&execution);
                return Ok(());
            }
            let s = &execution.summary;
            println!(
                "{} \"{}\" {} ({}), started {}",
                s.id,
                s.workflow_name,
                s.status.as_str(),
                s.mode.as_str(),
                s.started_at
            );
            if let Some(d) = s.duration_ms {
                println!("took {d} ms");
            }
            if let Some(e) = &s.error {
                println!("error: {}", e.describe());
            }
            let rows = execution
                .nodes
                .iter()
                .map(|n| {
                    let outputs: Vec<String> = n
                        .outputs
                        .iter()
                        .map(|o| format!("{} {}{}", o.name, o.total, if o.truncated { " (cut)" } else { "" }))
                        .collect();
                    vec![
                        n.node_name.clone(),
                        format!("{:?}", n.status).to_lowercase(),
                        n.items_in.to_string(),
                        outputs.join(", "),
                        format!("{} ms", n.duration_ms),
                    ]
                })
                .collect();
            print_table(&["NODE", "STATUS", "IN", "OUT", "TIME"], rows);
            Ok(())
        }
        Command::Vault { action } => {
            let api = open_api(data_dir, Arc::new(SilentHost))?;
            credentials::vault(&api, action).await
        }
        Command::Connections { action } => {
            let api = open_api(data_dir, Arc::new(SilentHost))?;
            credentials::connections(&api, action).await
        }
        Command::Prune { older_than, keep_last } => {
            let api = open_api(data_dir, Arc::new(SilentHost))?;
            let response =
                api.execution_prune(ExecutionPruneRequest { older_than_days: older_than, keep_last }).await?;
            println!("Deleted {} executions", response.deleted);
            Ok(())
        }
    }
}

fn read_file(path: &Path) -> Result<(String, String), Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::invalid(format!("switchyard: cannot read {}: {e}", path.display())))?;
    Ok((text, path.display().to_string()))
}

fn render_issues(issues: &[ValidationIssue], file: &str) -> String {
    let mut lines: Vec<String> = issues.iter().map(|i| i.render(file)).collect();
    let label = if file.is_empty() { "the workflow".to_string() } else { file.to_string() };
    lines.push(match issues.len() {
        1 => format!("{label}: 1 problem"),
        n => format!("{label}: {n} problems"),
    });
    lines.join("\n")
}

/// Validates a file's text; any issue is a bad-input failure listing them all.
fn check_file(path: &Path, text: &str) -> Result<Workflow, Failure> {
    let report = validate_text(text, &switchyard_engine::Registry::builtin());
    if !report.issues.is_empty() {
        return Err(Failure::invalid(render_issues(&report.issues, &path.display().to_string())));
    }
    report.workflow.ok_or_else(|| Failure::invalid(format!("{}: no workflow in the file", path.display())))
}

fn validate(file: &Path, json: bool) -> Outcome {
    let (text, _) = read_file(file)?;
    let report = validate_text(&text, &switchyard_engine::Registry::builtin());
    if json {
        print_json(&ValidationReport { valid: report.issues.is_empty(), issues: report.issues.clone() });
        return if report.issues.is_empty() { Ok(()) } else { Err(Failure::invalid("")) };
    }
    if !report.issues.is_empty() {
        return Err(Failure::invalid(render_issues(&report.issues, &file.display().to_string())));
    }
    let nodes = report.workflow.map_or(0, |w| w.nodes.len());
    println!("{}: valid ({} nodes)", file.display(), nodes);
    Ok(())
}

/// Reads `--input`: JSON text, @FILE, or - for stdin. Files are parsed as a stream.
fn read_input(input: &str) -> Result<Vec<Item>, Failure> {
    let bad = |what: &str, e: serde_json::Error| {
        let source = if what.is_empty() { String::new() } else { format!(" {what}") };
        Failure::invalid(format!(
            "switchyard: --input{source}: malformed JSON at line {} column {}: {}",
            e.line(),
            e.column(),
            strip_location(&e)
        ))
    };
    let value: Value = if input == "-" {
        serde_json::from_reader(BufReader::new(std::io::stdin().lock())).map_err(|e| bad("(stdin)", e))?
    } else if let Some(path) = input.strip_prefix('@') {
        let file = std::fs::File::open(path)
            .map_err(|e| Failure::invalid(format!("switchyard: --input: cannot read {path}: {e}")))?;
        serde_json::from_reader(BufReader::with_capacity(1 << 20, file)).map_err(|e| bad(path, e))?
    } else {
        serde_json::from_str(input).map_err(|e| bad("", e))?
    };
    Ok(Item::from_input(value))
}

fn strip_location(e: &serde_json::Error) -> String {
    let text = e.to_string();
    text.rsplit_once(" at line ").map_or(text.clone(), |(m, _)| m.to_string())
}

async fn run(
    data_dir: Option<PathBuf>,
    target: &str,
    input: Option<&str>,
    json: bool,
    until: Option<String>,
    quiet: bool,
    trust: bool,
) -> Outcome {
    let path = Path::new(target);
    let from_file = path.is_file();
    let workflow = if from_file {
        let (text, _) = read_file(path)?;
        Some(check_file(path, &text)?)
    } else if target.ends_with(".json") || target.contains(std::path::MAIN_SEPARATOR) {
        return Err(Failure::invalid(format!("switchyard: cannot read {target}: no such file")));
    } else {
        None
    };
    let items = input.map(read_input).transpose()?;
    let api = open_api(data_dir, Arc::new(progress::Progress::new(quiet)))?;
    let workflow = match workflow {
        Some(wf) => wf,
        None => {
            api.workflow_get(IdRequest { id: target.to_string() })
                .await
                .map_err(|e| {
                    if e.code == ErrorCode::NotFound {
                        Failure::invalid(format!(
                            "switchyard: \"{target}\" is neither a workflow file nor the id of a saved workflow"
                        ))
                    } else {
                        Failure::from(e)
                    }
                })?
                .workflow
        }
    };
    if workflow.nodes.iter().any(|n| !n.credentials.is_empty()) {
        credentials::unlock(&api).await?;
    }
    let source = match from_file {
        true => switchyard_api::RunSource::File { path: target.to_string(), trusted: trust },
        false => switchyard_api::RunSource::Saved,
    };
    if from_file && trust {
        trust::allow_file(&api, &workflow, target, quiet).await?;
    }
    let request =
        RunStartRequest { workflow: Some(workflow), until_node: until, mode: Some(RunMode::Cli), ..Default::default() };
    let (execution_id, handle) = api.spawn_run_from(request, items, RunMode::Cli, source).await?;
    let outcome =
        handle.await.map_err(|e| Failure::failed(format!("switchyard: run {execution_id} did not complete: {e}")))?;
    api.flush_history().await.map_err(|e| {
        Failure::failed(format!(
            "switchyard: run {execution_id} ended ({}), but its history could not be written: {}",
            outcome.status.as_str(),
            e.message
        ))
    })?;

    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let written = if json {
        let result = RunResult {
            execution_id: outcome.execution_id.clone(),
            status: outcome.status,
            error: outcome.error.clone(),
            duration_ms: outcome.duration_ms,
            items: outcome.result,
        };
        serde_json::to_writer_pretty(&mut out, &result).map_err(std::io::Error::other).and_then(|()| writeln!(out))
    } else {
        write_items(&mut out, &outcome.result, std::io::stdout().is_terminal())
    };
    written
        .and_then(|()| out.flush())
        .map_err(|e| Failure::failed(format!("switchyard: cannot write the result: {e}")))?;

    if !quiet {
        let verdict = match outcome.status {
            RunStatus::Success => "succeeded",
            RunStatus::Error => "failed",
            RunStatus::Cancelled => "was cancelled",
            RunStatus::Timeout => "timed out",
            RunStatus::Interrupted => "was interrupted",
            RunStatus::Running => "is still running",
        };
        eprintln!("Run {} {verdict} in {} ms", outcome.execution_id, outcome.duration_ms);
    }
    match outcome.status {
        RunStatus::Success => Ok(()),
        _ => Err(Failure::failed(match outcome.error {
            Some(e) => format!("error: {}", e.describe()),
            None => String::new(),
        })),
    }
}

/// The items' JSON as a JSON array, streamed (pretty on a terminal).
fn write_items(out: &mut impl Write, items: &[Item], pretty: bool) -> std::io::Result<()> {
    if items.is_empty() {
        return writeln!(out, "[]");
    }
    writeln!(out, "[")?;
    for (i, item) in items.iter().enumerate() {
        out.write_all(b"  ")?;
        if pretty {
            let text = serde_json::to_string_pretty(&item.json).map_err(std::io::Error::other)?;
            out.write_all(text.replace('\n', "\n  ").as_bytes())?;
        } else {
            serde_json::to_writer(&mut *out, &item.json).map_err(std::io::Error::other)?;
        }
        out.write_all(if i + 1 < items.len() { b",\n" } else { b"\n" })?;
    }
    writeln!(out, "]")
}

pub(crate) fn print_json<T: serde::Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("switchyard: cannot encode JSON: {e}"),
    }
}

pub(crate) fn print_table(headers: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells.iter().enumerate().map(|(i, c)| format!("{c:<w$}", w = widths[i])).collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row);
    }
}
