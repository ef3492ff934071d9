//! Run progress on stderr: a progress bar on a terminal, plain lines otherwise.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;
use switchyard_api::Host;
use switchyard_api::types::ApiEvent;
use switchyard_model::events::{RunEvent, RunEventKind};
use switchyard_model::execution::NodeRunStatus;

pub struct Progress {
    quiet: bool,
    terminal: bool,
    state: Mutex<State>,
    /// Where pauses at breakpoints go (`run --break`), to ask what to do next.
    pauses: Option<tokio::sync::mpsc::UnboundedSender<RunEvent>>,
}

#[derive(Default)]
struct State {
    overall: Option<ProgressBar>,
    /// Per-node bars for long nodes that report progress.
    nodes: HashMap<String, ProgressBar>,
}

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        Progress { quiet, terminal: std::io::stderr().is_terminal(), state: Mutex::new(State::default()), pauses: None }
    }

    /// Sends pauses at breakpoints to `pauses`.
    pub fn with_pauses(self, pauses: tokio::sync::mpsc::UnboundedSender<RunEvent>) -> Progress {
        Progress { pauses: Some(pauses), ..self }
    }

    fn line(&self, state: &State, text: String) {
        match (&state.overall, self.terminal) {
            (Some(bar), true) => bar.println(text),
            _ => eprintln!("{text}"),
        }
    }

    fn bar(&self, len: u64, template: &str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        if !self.terminal {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        bar.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()));
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }
}

fn plural(n: u32, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

impl Host for Progress {
    fn emit(&self, event: ApiEvent) {
        let ApiEvent::Run { event } = event else { return };
        if let (RunEventKind::NodePaused { .. }, Some(pauses)) = (&event.kind, &self.pauses) {
            // The prompt takes the terminal: no bar redraws over it for the rest of the run.
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            for bar in state.overall.take().into_iter().chain(state.nodes.drain().map(|(_, b)| b)) {
                bar.finish_and_clear();
            }
            let _ = pauses.send(event);
            return;
        }
        if self.quiet {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match event.kind {
            RunEventKind::RunStarted { workflow_name, node_ids } => {
                let bar = self.bar(node_ids.len() as u64, "{spinner} {msg} [{bar:30}] {pos}/{len} nodes {elapsed}");
                bar.set_message(workflow_name.clone());
                state.overall = Some(bar);
                self.line(&state, format!("Running \"{workflow_name}\" ({})", event.execution_id));
            }
            RunEventKind::NodeStarted { node_name, .. } => {
                if let Some(bar) = &state.overall {
                    bar.set_message(node_name);
                }
            }
            RunEventKind::NodeProgress { node_id, done, total, .. } => {
                if !state.nodes.contains_key(&node_id) {
                    let bar = self.bar(u64::from(total), "  {spinner} [{bar:30}] {pos}/{len} items, {eta} left");
                    state.nodes.insert(node_id.clone(), bar);
                }
                if let Some(bar) = state.nodes.get(&node_id) {
                    bar.set_length(u64::from(total));
                    bar.set_position(u64::from(done));
                }
            }
            RunEventKind::NodeFinished { node_id, node_name, status, outputs, duration_ms, .. } => {
                if let Some(bar) = state.nodes.remove(&node_id) {
                    bar.finish_and_clear();
                }
                if let Some(bar) = &state.overall {
                    bar.inc(1);
                }
                let counts: Vec<String> = match outputs.as_slice() {
                    [only] => vec![plural(only.items, "item")],
                    many => many.iter().filter(|o| o.items > 0).map(|o| format!("{} {}", o.name, o.items)).collect(),
                };
                let text = match status {
                    NodeRunStatus::Skipped => format!("  - {node_name}: skipped (no input items)"),
                    NodeRunStatus::Disabled => format!("  - {node_name}: disabled, passed items through"),
                    NodeRunStatus::Pinned => format!("  * {node_name}: pinned data, {}", counts.join(", ")),
                    NodeRunStatus::Reused => {
                        format!("  * {node_name}: reused from the retried run, {}", counts.join(", "))
                    }
                    NodeRunStatus::Error => {
                        format!("  ! {node_name}: failed items passed on, {} in {duration_ms} ms", counts.join(", "))
                    }
                    NodeRunStatus::Success => format!(
                        "  ✓ {node_name}: {} in {duration_ms} ms",
                        if counts.is_empty() { "no items".into() } else { counts.join(", ") }
                    ),
                };
                self.line(&state, text);
            }
            RunEventKind::NodeRetrying { node_name, item_index, attempt, max_tries, delay_ms, error, .. } => {
                let item = item_index.map(|i| format!(" item {i}:")).unwrap_or_default();
                self.line(
                    &state,
                    format!(
                        "  ↻ {node_name}:{item} {} [{}]; try {attempt} of {max_tries} in {:.1} s",
                        error.message,
                        serde_json::to_value(error.class)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default(),
                        f64::from(delay_ms) / 1000.0
                    ),
                );
            }
            RunEventKind::NodeFailed { node_id, node_name, error, .. } => {
                if let Some(bar) = state.nodes.remove(&node_id) {
                    bar.finish_and_clear();
                }
                self.line(&state, format!("  ✗ {node_name}: {} [{}]", error.message, error.code));
            }
            RunEventKind::RunResumed { action, .. } => {
                self.line(&state, format!("  ▶ {}", action.as_str()));
            }
            RunEventKind::ModelUsage { node_name, model, tokens_in, tokens_out, duration_ms, .. } => {
                self.line(
                    &state,
                    format!("  · {node_name}: {model}, {tokens_in} tokens in, {tokens_out} out, {duration_ms} ms"),
                );
            }
            RunEventKind::NodeThrottled { .. }
            | RunEventKind::BreakerChanged { .. }
            | RunEventKind::NodeStreamed { .. }
            | RunEventKind::AgentStep { .. }
            | RunEventKind::NodePaused { .. } => {}
            RunEventKind::RunFinished { .. } => {
                for (_, bar) in state.nodes.drain() {
                    bar.finish_and_clear();
                }
                if let Some(bar) = state.overall.take() {
                    bar.finish_and_clear();
                }
            }
        }
    }
}
