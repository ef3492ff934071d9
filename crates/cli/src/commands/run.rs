//! `switchyard run`: a saved workflow or a workflow file, with input items, printing the
//! result items (or the run's record with `--json`).

use crate::commands::workflows::{check_file, read_file};
use crate::commands::{credentials, trust};
use crate::{Failure, Outcome, open_api, progress};
use std::io::{BufReader, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use switchyard_api::types::*;
use switchyard_model::error::ErrorCode;
use switchyard_model::execution::{RunMode, RunStatus};
use switchyard_model::item::Item;
use switchyard_model::value::Value;

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

/// `switchyard run`'s options.
pub(crate) struct RunOptions {
    pub(crate) input: Option<String>,
    pub(crate) json: bool,
    pub(crate) until: Option<String>,
    pub(crate) quiet: bool,
    pub(crate) trust: bool,
    /// Nodes (names or ids) to pause before.
    pub(crate) breaks: Vec<String>,
}

pub(crate) async fn run(data_dir: crate::Place, target: &str, options: RunOptions) -> Outcome {
    let RunOptions { input, json, until, quiet, trust, breaks } = options;
    if !breaks.is_empty() && input.as_deref() == Some("-") {
        return Err(Failure::invalid(
            "switchyard: --break asks what to do on stdin, so --input cannot read stdin too (use --input @FILE)",
        ));
    }
    let path = Path::new(target);
    let from_file = path.is_file();
    let (workflow, bundle) = if from_file {
        let (text, _) = read_file(path)?;
        let (workflow, bundle) = check_file(path, &text)?;
        (Some(workflow), bundle)
    } else if target.ends_with(".json") || target.contains(std::path::MAIN_SEPARATOR) {
        return Err(Failure::invalid(format!("switchyard: cannot read {target}: no such file")));
    } else {
        (None, Vec::new())
    };
    let items = input.as_deref().map(read_input).transpose()?;
    let (pauses, paused) = tokio::sync::mpsc::unbounded_channel();
    let progress = progress::Progress::new(quiet);
    let progress = if breaks.is_empty() { progress } else { progress.with_pauses(pauses) };
    let api = open_api(data_dir, Arc::new(progress))?;
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
    // An untrusted file that needs consent: asked on a terminal, refused without one.
    let trust = trust
        || (from_file && {
            let review = api.file_review(&workflow, target).await;
            review.needs_consent() && {
                eprint!("{}", trust::describe(&review));
                trust::confirm(&format!("{target} is not trusted. Run it, trusting what it uses?"))?
            }
        });
    let source = match from_file {
        true => switchyard_api::RunSource::File { path: target.to_string(), trusted: trust, bundle },
        false => switchyard_api::RunSource::Saved,
    };
    if from_file && trust {
        trust::allow_file(&api, &workflow, target, quiet).await?;
    }
    let breakpoints = if breaks.is_empty() { None } else { Some(breakpoint_ids(&workflow, &breaks)?) };
    let request = RunStartRequest {
        workflow: Some(workflow),
        until_node: until,
        mode: Some(RunMode::Cli),
        breakpoints,
        ..Default::default()
    };
    let (execution_id, handle) = api.spawn_run_from(request, items, RunMode::Cli, source).await?;
    let debugger = (!breaks.is_empty()).then(|| tokio::spawn(debug_prompt(api.clone(), paused)));
    let reported = report(&api, execution_id, handle, json, quiet).await;
    if let Some(task) = debugger {
        task.abort();
    }
    reported
}

/// The ids of the nodes `--break` names (by name or id).
fn breakpoint_ids(workflow: &switchyard_model::workflow::Workflow, breaks: &[String]) -> Result<Vec<String>, Failure> {
    breaks
        .iter()
        .map(|wanted| {
            workflow.nodes.iter().find(|n| &n.name == wanted || &n.id == wanted).map(|n| n.id.clone()).ok_or_else(
                || {
                    let names: Vec<&str> = workflow.nodes.iter().map(|n| n.name.as_str()).collect();
                    Failure::invalid(format!(
                        "switchyard: --break {wanted}: \"{}\" has no node of that name or id (its nodes: {})",
                        workflow.name,
                        names.join(", ")
                    ))
                },
            )
        })
        .collect()
}

/// Asks on stderr/stdin what a paused run does next: continue, step, show the items going
/// in, or stop (also at the end of stdin).
async fn debug_prompt(
    api: switchyard_api::Api,
    mut paused: tokio::sync::mpsc::UnboundedReceiver<switchyard_model::events::RunEvent>,
) {
    use switchyard_model::events::RunEventKind;
    use switchyard_model::execution::DebugAction;
    while let Some(event) = paused.recv().await {
        let RunEventKind::NodePaused { node_name, inputs, .. } = event.kind else { continue };
        let action = loop {
            let prompt = format!("  ⏸ paused before {node_name}: [c]ontinue, [s]tep, [i]tems, [q]uit? ");
            let line = tokio::task::spawn_blocking(move || {
                eprint!("{prompt}");
                let mut line = String::new();
                match std::io::stdin().read_line(&mut line) {
                    Ok(0) | Err(_) => None,
                    Ok(_) => Some(line.trim().to_lowercase()),
                }
            })
            .await
            .ok()
            .flatten();
            match line.as_deref() {
                None | Some("q" | "quit" | "stop") => break DebugAction::Stop,
                Some("c" | "continue" | "") => break DebugAction::Continue,
                Some("s" | "step") => break DebugAction::Step,
                Some("i" | "items") => {
                    for input in &inputs {
                        let shown: Vec<&Value> = input.items.iter().map(|i| &i.json).collect();
                        let more = if input.truncated {
                            format!(" (first {} of {})", shown.len(), input.total)
                        } else {
                            String::new()
                        };
                        eprintln!(
                            "  {} → {node_name}{more}:\n{}",
                            input.name,
                            serde_json::to_string_pretty(&shown).unwrap_or_default()
                        );
                    }
                }
                Some(other) => eprintln!("  \"{other}\": type c, s, i or q"),
            }
        };
        let request =
            RunDebugRequest { execution_id: event.execution_id.clone(), action: Some(action), breakpoints: None };
        if let Err(e) = api.run_debug(request).await {
            eprintln!("switchyard: {}", e.message);
        }
    }
}

/// `switchyard retry`: an execution again, from the start or from its failed node.
pub(crate) async fn retry(
    data_dir: crate::Place,
    execution: String,
    from_failed: bool,
    original: bool,
    options: (bool, bool, bool),
) -> Outcome {
    let (json, quiet, trust) = options;
    let api = open_api(data_dir, Arc::new(progress::Progress::new(quiet)))?;
    let old = api.execution_get(IdRequest { id: execution.clone() }).await?;
    if old.workflow.nodes.iter().any(|n| !n.credentials.is_empty()) {
        credentials::unlock(&api).await?;
    }
    let request = ExecutionRetryRequest { execution_id: execution, from_failed, original };
    let (execution_id, handle) = api.spawn_retry(request, trust).await?;
    report(&api, execution_id, handle, json, quiet).await
}

/// Waits for a run, writes its history, prints its items (or its record with `--json`)
/// and how it ended.
async fn report(
    api: &switchyard_api::Api,
    execution_id: String,
    handle: tokio::task::JoinHandle<switchyard_engine::RunOutcome>,
    json: bool,
    quiet: bool,
) -> Outcome {
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
