//! Running workflows: start, wait, cancel. Every run is recorded in the execution history
//! and its events go to the host.

use crate::error::{ApiError, ApiResult};
use crate::trust::RunSource;
use crate::types::*;
use crate::{Api, Host};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use switchyard_engine::access::LocalPolicy;
use switchyard_engine::binary::Blobs;
use switchyard_engine::clock::rfc3339;
use switchyard_engine::services::ItemLimits;
use switchyard_engine::trigger::Trigger;
use switchyard_engine::{Prepared, RunDataLimits, RunListener, RunOutcome, RunRequest, Services};
use switchyard_model::error::ErrorCode;
use switchyard_model::events::RunEvent;
use switchyard_model::execution::{DebugAction, NodeRunData, RunMode, RunStatus};
use switchyard_model::ids::new_id;
use switchyard_model::item::Item;
use switchyard_model::value::Value;
use switchyard_model::workflow::Workflow;
use switchyard_store::{ExecutionLog, ExecutionStart};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use ts_rs::TS;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct RunStartRequest {
    /// A saved workflow to run…
    #[ts(optional)]
    pub workflow_id: Option<String>,
    /// …or the workflow as the editor holds it (unsaved changes included).
    #[ts(optional)]
    pub workflow: Option<Workflow>,
    /// The trigger's items: a JSON object (one item) or a list (one item each).
    #[ts(optional, type = "unknown")]
    pub input: Option<serde_json::Value>,
    /// Run only this node and what it needs ("run up to here").
    #[ts(optional)]
    pub until_node: Option<String>,
    /// The trigger to start from (default: the manual triggers).
    #[ts(optional)]
    pub start_node: Option<String>,
    #[ts(optional)]
    pub mode: Option<RunMode>,
    /// Run this node and everything after it, feeding the nodes before it what they emitted
    /// in `fromExecution` (by default the workflow's newest run) instead of running them.
    #[ts(optional)]
    pub from_node: Option<String>,
    /// The run whose recorded outputs `fromNode` starts from.
    #[ts(optional)]
    pub from_execution: Option<String>,
    /// Breakpoints (node ids): the run pauses before each of these nodes until `run_debug`
    /// says what to do. Given (even empty), the run can take breakpoints while it goes.
    /// Only for runs started by hand.
    #[ts(optional)]
    pub breakpoints: Option<Vec<String>>,
}

/// Tells a run started with breakpoints what to do: continue, step or stop when paused,
/// and/or replace its breakpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunDebugRequest {
    pub execution_id: String,
    #[serde(default)]
    #[ts(optional)]
    pub action: Option<DebugAction>,
    #[serde(default)]
    #[ts(optional)]
    pub breakpoints: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunStartResponse {
    pub execution_id: String,
}

/// How a run ended, with the items of its last nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunResult {
    pub execution_id: String,
    pub status: RunStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub error: Option<switchyard_model::error::NodeError>,
    pub duration_ms: u32,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunCancelRequest {
    pub execution_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct RunCancelResponse {
    /// False when the run had already finished.
    pub cancelled: bool,
}

/// How a run is launched beyond its workflow, services and input.
pub(crate) struct LaunchOptions {
    pub(crate) mode: RunMode,
    /// The trigger to start from; the node to stop after.
    pub(crate) start: Option<String>,
    pub(crate) until: Option<String>,
    /// For a run another run called: recorded with its caller, stopped with `cancel`, and
    /// outside the run queue (it is part of its caller's run, which holds a slot already:
    /// waiting for another would let a full queue wait on itself).
    pub(crate) called: Option<Called>,
    /// Outputs to reuse instead of running nodes (see `RunRequest::reuse`).
    pub(crate) reuse: switchyard_engine::Reuse,
    /// The execution this run retries.
    pub(crate) retry_of: Option<String>,
    /// Breakpoints, for a run started by hand (see `RunStartRequest::breakpoints`).
    pub(crate) breakpoints: Option<Vec<String>>,
    /// The execution id to use (a re-run claimed it before starting); a new one otherwise.
    pub(crate) execution_id: Option<String>,
    /// Told once the run's start, with its input, is committed to disk (a webhook answers
    /// only then); with `durable_at_end`, once its whole record is, when it has ended.
    pub(crate) durable: Option<tokio::sync::oneshot::Sender<Result<(), String>>>,
    /// See `durable`: for a webhook that answers with the run's result anyway, so its answer
    /// waits for one commit of the run written whole rather than a commit of its start.
    pub(crate) durable_at_end: bool,
}

impl Default for LaunchOptions {
    fn default() -> Self {
        LaunchOptions {
            mode: RunMode::Manual,
            start: None,
            until: None,
            called: None,
            reuse: Default::default(),
            retry_of: None,
            breakpoints: None,
            execution_id: None,
            durable: None,
            durable_at_end: false,
        }
    }
}

/// How a called run is tied to its caller.
pub(crate) struct Called {
    pub(crate) by: switchyard_model::execution::CallLink,
    pub(crate) cancel: CancellationToken,
}

/// How many runs may go at once (Settings → Runs at once) and how many may wait for a slot
/// (Settings → Runs that may wait); past that, new runs are refused rather than piled up.
#[derive(Default)]
pub(crate) struct RunQueue {
    /// The concurrency limit and its slots (none: no limit).
    slots: Mutex<(u32, Option<Arc<Semaphore>>)>,
    /// Runs waiting for a slot now, and how many may (0: no cap).
    pub(crate) waiting: Arc<AtomicUsize>,
    max_waiting: AtomicUsize,
}

impl RunQueue {
    /// Sets the concurrency limit (0: none). Runs already waiting keep their place.
    pub(crate) fn set_limit(&self, limit: u32) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if slots.0 != limit {
            *slots = (limit, (limit > 0).then(|| Arc::new(Semaphore::new(limit as usize))));
        }
    }

    /// Caps the runs waiting for a slot (0: no cap).
    pub(crate) fn set_max_waiting(&self, max: u32) {
        self.max_waiting.store(max as usize, Ordering::Relaxed);
    }

    /// Whether a new run would have to wait and the queue is full: then why, for the message
    /// each refusal gives.
    pub(crate) fn queue_full(&self) -> Option<String> {
        let (_, slots) = self.slots();
        let max = self.max_waiting.load(Ordering::Relaxed);
        let waiting = self.waiting.load(Ordering::SeqCst);
        let no_slot = slots.is_some_and(|s| s.available_permits() == 0);
        (max > 0 && no_slot && waiting >= max).then(|| {
            format!("{waiting} runs are already waiting for a free slot (Settings → Runs at once, Runs that may wait)")
        })
    }

    pub(crate) fn slots(&self) -> (u32, Option<Arc<Semaphore>>) {
        self.slots.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The folders file nodes may use, where they really are: those of Settings, or the home
/// folder. A folder that does not exist yet is kept as written.
pub(crate) fn local_roots(configured: &[String]) -> Vec<std::path::PathBuf> {
    use switchyard_engine::access::{expand_home, real_location};
    let mut given: Vec<&str> = configured.iter().map(|r| r.trim()).filter(|r| !r.is_empty()).collect();
    if given.is_empty() {
        given.push("~");
    }
    given.into_iter().map(|r| real_location(&expand_home(r))).collect()
}

/// Forwards run events and node data to the host.
struct HostForwarder(Arc<dyn Host>);

impl RunListener for HostForwarder {
    fn event(&self, event: &RunEvent) {
        self.0.emit(ApiEvent::Run { event: event.clone() });
    }
    fn node_data(&self, execution_id: &str, data: &NodeRunData) {
        self.0.emit(ApiEvent::NodeData { execution_id: execution_id.to_string(), data: data.clone() });
    }
}

/// Writes node data to the execution history (through the background writer).
struct Recorder(ExecutionLog);

impl RunListener for Recorder {
    fn event(&self, _event: &RunEvent) {}
    fn node_data(&self, execution_id: &str, data: &NodeRunData) {
        self.0.node(execution_id, data.clone());
    }
}

impl Api {
    pub async fn run_start(&self, request: RunStartRequest) -> ApiResult<RunStartResponse> {
        let (execution_id, _) = self.spawn_run(request, None, RunMode::Manual).await?;
        Ok(RunStartResponse { execution_id })
    }

    pub async fn run_wait(&self, request: RunStartRequest) -> ApiResult<RunResult> {
        let (execution_id, handle) = self.spawn_run(request, None, RunMode::Manual).await?;
        let outcome = handle
            .await
            .map_err(|e| ApiError::new(ErrorCode::Internal, format!("run {execution_id} failed to complete: {e}")))?;
        self.flush_history().await?;
        Ok(RunResult {
            execution_id: outcome.execution_id,
            status: outcome.status,
            error: outcome.error,
            duration_ms: outcome.duration_ms,
            items: outcome.result,
        })
    }

    pub async fn run_cancel(&self, request: RunCancelRequest) -> ApiResult<RunCancelResponse> {
        let token = self
            .inner
            .runs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&request.execution_id)
            .map(|r| r.cancel.clone());
        match token {
            Some(token) => {
                token.cancel();
                Ok(RunCancelResponse { cancelled: true })
            }
            None => {
                // Unknown, or already finished: tell which.
                let id = request.execution_id.clone();
                self.blocking(move |store| store.history().get(&id).map_err(ApiError::from)).await?;
                Ok(RunCancelResponse { cancelled: false })
            }
        }
    }

    /// Continue, step or stop a run paused at a breakpoint; change a run's breakpoints.
    pub async fn run_debug(&self, request: RunDebugRequest) -> ApiResult<Empty> {
        let entry = self.inner.runs.lock().unwrap_or_else(|p| p.into_inner()).get(&request.execution_id).cloned();
        let Some(entry) = entry else {
            let id = request.execution_id.clone();
            self.blocking(move |store| store.history().get(&id).map_err(ApiError::from)).await?;
            return Err(ApiError::new(
                ErrorCode::Conflict,
                format!("run {} has finished already", request.execution_id),
            ));
        };
        let Some(control) = entry.debug else {
            return Err(ApiError::bad_request(format!(
                "run {} was not started with breakpoints (only runs started in the editor or by `switchyard run --break` can pause)",
                request.execution_id
            )));
        };
        if let Some(nodes) = request.breakpoints {
            control.set_breakpoints(nodes);
        }
        if let Some(action) = request.action {
            control.send(action);
        }
        Ok(Empty {})
    }

    /// Waits until every execution record sent so far is on disk, and writes the metrics
    /// rollups.
    pub async fn flush_history(&self) -> ApiResult<()> {
        self.flush_metrics().await?;
        self.flush_runs().await
    }

    /// Waits until the execution history sent so far is committed (not the metrics: those
    /// are written every 10 s).
    pub(crate) async fn flush_runs(&self) -> ApiResult<()> {
        let log = self.inner.store.log();
        tokio::task::spawn_blocking(move || log.flush())
            .await
            .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))??;
        Ok(())
    }

    /// Validates and starts a run on its own task. The returned handle yields its outcome.
    /// `items`, when given, are the trigger's items instead of `request.input` (the CLI
    /// streams large inputs straight into items this way).
    pub async fn spawn_run(
        &self,
        request: RunStartRequest,
        items: Option<Vec<Item>>,
        default_mode: RunMode,
    ) -> ApiResult<(String, JoinHandle<RunOutcome>)> {
        self.spawn_run_from(request, items, default_mode, RunSource::Saved).await
    }

    /// [`Api::spawn_run`] of a workflow from `source`: an untrusted one that uses accounts
    /// is refused before anything runs.
    pub async fn spawn_run_from(
        &self,
        request: RunStartRequest,
        items: Option<Vec<Item>>,
        default_mode: RunMode,
        source: RunSource,
    ) -> ApiResult<(String, JoinHandle<RunOutcome>)> {
        let workflow = match (request.workflow, &request.workflow_id) {
            (Some(wf), _) => wf,
            (None, Some(id)) => self.workflow_get(IdRequest { id: id.clone() }).await?.workflow,
            (None, None) => return Err(ApiError::bad_request("give a workflow or a workflowId to run")),
        };
        let breakpoints = request.breakpoints.iter().flatten().map(|id| ("breakpoints", id));
        for (field, id) in
            [("untilNode", &request.until_node), ("startNode", &request.start_node), ("fromNode", &request.from_node)]
                .into_iter()
                .filter_map(|(field, id)| id.as_ref().map(|id| (field, id)))
                .chain(breakpoints)
        {
            if !workflow.nodes.iter().any(|n| &n.id == id) {
                return Err(ApiError::bad_request(format!("{field}: the workflow has no node with id \"{id}\"")));
            }
        }
        let mut input = match items {
            Some(items) => items,
            None => request.input.map(|v| Item::from_input(Value::from(v))).unwrap_or_default(),
        };
        let mode = request.mode.unwrap_or(default_mode);
        if request.breakpoints.is_some() && !matches!(mode, RunMode::Manual | RunMode::Cli | RunMode::Test) {
            return Err(ApiError::bad_request(format!(
                "breakpoints: only a run started by hand can pause at breakpoints, not a {} run",
                mode.as_str()
            )));
        }
        let mut options = LaunchOptions {
            mode,
            start: request.start_node,
            until: request.until_node,
            breakpoints: request.breakpoints,
            ..Default::default()
        };
        if let Some(node) = &request.from_node {
            let (start, items, reuse) = self.run_from(&workflow, node, request.from_execution.as_deref()).await?;
            (options.start, options.reuse, input) = (Some(start), reuse, items);
        }
        self.launch_checked(workflow, &source, input, options).await
    }

    /// Starts a run of `workflow` from `source` once it may: the services its trust allows
    /// (a file's folder and bundle for its calls), no circle of calls, valid, and room in
    /// the run queue.
    pub(crate) async fn launch_checked(
        &self,
        workflow: Workflow,
        source: &RunSource,
        input: Vec<Item>,
        options: LaunchOptions,
    ) -> ApiResult<(String, JoinHandle<RunOutcome>)> {
        let settings = self.settings_get(Empty {}).await?;
        let mut services = self.run_services(&settings);
        if let RunSource::File { path, bundle, .. } = source {
            // Its calls of workflow files by relative path start from its folder (a source
            // that is not a file, such as a retried run's, has none).
            services.workflow_file = std::path::absolute(path).ok().filter(|p| p.is_file());
            services.bundle = (!bundle.is_empty()).then(|| Arc::new(bundle.clone()));
        }
        let services = self.trusted_services(&workflow, source, services).await?;
        if let Some(cycle) = self.call_cycle(&workflow).await? {
            return Err(ApiError::invalid(vec![cycle], ""));
        }
        let prepared = self.inner.engine.prepare(workflow).map_err(|issues| ApiError::invalid(issues, ""))?;
        if let Some(full) = self.inner.queue.queue_full() {
            return Err(ApiError::new(ErrorCode::Conflict, format!("{full}; try again when some have finished")));
        }
        Ok(self.launch_with(prepared, services, input, options))
    }

    /// The engine's services with the settings' run-data limits.
    pub(crate) fn run_services(&self, settings: &AppSettings) -> Services {
        let mut services = self.inner.engine.services().clone();
        services.run_data = RunDataLimits {
            max_items: settings.run_data_max_items as usize,
            max_bytes: settings.run_data_max_bytes as usize,
        };
        let mib = |n: u32| (n.max(1) as usize).saturating_mul(1024 * 1024);
        services.items =
            ItemLimits { max_item_bytes: mib(settings.max_item_mb), max_live_bytes: mib(settings.max_run_items_mb) };
        services.blobs = Blobs::new(services.blobs.store.clone(), mib(settings.max_run_files_mb) as u64);
        services.local = Arc::new(LocalPolicy {
            commands: settings.allow_commands,
            roots: local_roots(&settings.local_roots),
            ..LocalPolicy::default()
        });
        services.max_call_depth = settings.max_call_depth.max(1);
        services.subflows = Some(crate::calls::host(self));
        services.memory = Some(crate::conversations::memory(self));
        services
    }

    /// Starts a prepared workflow on its own task: records it, forwards its events to the
    /// host, and starts the error workflow when it fails. No storage read on this path
    /// (webhooks and schedules start runs through it).
    pub(crate) fn launch(
        &self,
        prepared: Arc<Prepared>,
        services: Services,
        input: Vec<Item>,
        mode: RunMode,
        start: Option<String>,
        until: Option<String>,
    ) -> (String, JoinHandle<RunOutcome>) {
        self.launch_with(prepared, services, input, LaunchOptions { mode, start, until, ..LaunchOptions::default() })
    }

    /// [`Api::launch`] with every option: see [`LaunchOptions`].
    pub(crate) fn launch_with(
        &self,
        prepared: Arc<Prepared>,
        services: Services,
        input: Vec<Item>,
        options: LaunchOptions,
    ) -> (String, JoinHandle<RunOutcome>) {
        // Server mode's mains put their triggers' runs on the queue, for workers.
        if self.queues(&options)
            && let Some(remote) = self.remote()
        {
            return self.enqueue_run(remote, prepared, &services, input, options);
        }
        let LaunchOptions {
            mode,
            start,
            until,
            called,
            reuse,
            retry_of,
            breakpoints,
            execution_id,
            durable,
            durable_at_end,
        } = options;
        let engine = self.inner.engine.with_services(services);
        let execution_id = execution_id.unwrap_or_else(new_id);
        // With a concurrency limit, a run takes a free slot now or waits in the queue for one.
        // Taken here, not in the run's task: a burst of launches must see each other's slots.
        let slots = if called.is_some() { None } else { self.inner.queue.slots().1 };
        let slot = slots.as_ref().and_then(|s| s.clone().try_acquire_owned().ok());
        let queued = slots.is_some() && slot.is_none();
        let waiting = self.inner.queue.waiting.clone();
        if queued {
            waiting.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.record(switchyard_metrics::recorder::Sample::RunQueued);
        }
        let (cancel, called_by) = match called {
            Some(c) => (c.cancel, Some(c.by)),
            None => (CancellationToken::new(), None),
        };
        let (debug, debugger) = match breakpoints {
            Some(nodes) => {
                let (control, debugger) = switchyard_engine::DebugControl::new(nodes);
                (Some(control), Some(debugger))
            }
            None => (None, None),
        };
        let entry =
            crate::RunEntry { workflow_id: Arc::from(prepared.workflow.id.as_str()), cancel: cancel.clone(), debug };
        self.inner.runs.lock().unwrap_or_else(|p| p.into_inner()).insert(execution_id.clone(), entry);
        let log = self.inner.store.log();
        // A run's input is kept with it (to run it again after a crash) unless another run
        // called it: that one's input is its caller's business, and may be large.
        let kept_input = (called_by.is_none() && !input.is_empty()).then(|| run_input_json(&input)).flatten();
        let record = ExecutionStart {
            id: execution_id.clone(),
            workflow: prepared.workflow.clone(),
            mode,
            started_at: self.now(),
            called_by,
            retry_of,
            input: kept_input,
            start_node: start.clone(),
        };
        let durable: Option<switchyard_store::Durable> = durable.map(|tx| {
            Box::new(move |outcome| {
                let _ = tx.send(outcome);
            }) as switchyard_store::Durable
        });
        let (at_start, at_end) = if durable_at_end { (None, durable) } else { (durable, None) };
        match (at_start, &at_end) {
            (Some(durable), _) => log.started_durable(record, durable),
            // Its record is awaited at its end: it may wait to be written whole, as one row.
            (None, Some(_)) => log.started_held(record),
            (None, None) => log.started(record),
        }
        let run_request = RunRequest {
            execution_id: execution_id.clone(),
            mode: Some(mode),
            input,
            start,
            until,
            reuse,
            debugger,
            listeners: [
                Some(Arc::new(Recorder(log.clone())) as Arc<dyn RunListener>),
                self.inner.host.shows_runs().then(|| Arc::new(HostForwarder(self.inner.host.clone())) as _),
                Some(Arc::new(crate::metrics::MetricsListener {
                    recorder: self.inner.metrics.recorder.clone(),
                    clock: self.inner.engine.services().clock.clone(),
                    workflow_id: Arc::from(prepared.workflow.id.as_str()),
                    name: Arc::from(prepared.workflow.name.as_str()),
                    queued,
                    items_in: Default::default(),
                })),
            ]
            .into_iter()
            .flatten()
            .collect(),
            cancel,
        };
        let api = self.clone();
        let id = execution_id.clone();
        let failed_workflow = (prepared.workflow.id.clone(), prepared.workflow.name.clone());
        let error_workflow = prepared.workflow.settings.error_workflow.clone().filter(|w| !w.is_empty());
        let started_at = self.now();
        let handle = tokio::spawn(async move {
            let _slot = match (slot, slots) {
                (Some(taken), _) => Some(taken),
                (None, Some(s)) => {
                    let taken = s.acquire_owned().await.ok();
                    waiting.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    taken
                }
                (None, None) => None,
            };
            let outcome = engine.run(prepared, run_request).await;
            let finished_at = rfc3339(outcome.finished_at);
            match at_end {
                Some(durable) => log.finished_durable(
                    &id,
                    outcome.status,
                    &finished_at,
                    outcome.duration_ms,
                    outcome.error.clone(),
                    durable,
                ),
                None => log.finished(&id, outcome.status, &finished_at, outcome.duration_ms, outcome.error.clone()),
            }
            api.inner.runs.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
            api.prune_now_and_then();
            // A failed run starts its workflow's error workflow; a failing error workflow does
            // not start another (no chains, no loops).
            if outcome.status == RunStatus::Error
                && mode != RunMode::Error
                && let Some(target) = error_workflow
            {
                let failure = json!({
                    "execution": { "id": id, "mode": mode.as_str(), "startedAt": started_at },
                    "workflow": { "id": failed_workflow.0, "name": failed_workflow.1 },
                    "error": outcome.error.as_ref().map(|e| json!({
                        "node": e.node_name, "nodeId": e.node_id, "code": e.code, "class": e.class,
                        "message": e.message, "itemIndex": e.item_index,
                    })),
                });
                if let Err(e) = api.start_error_workflow(&target, failure).await {
                    tracing::warn!(workflow = %target, error = %e.message, "cannot start the error workflow");
                }
            }
            outcome
        });
        (execution_id, handle)
    }

    /// Runs again, from their kept input, the runs a crash interrupted of workflows whose
    /// "Re-run interrupted runs at start" setting is on. Each is claimed in the store first,
    /// so it is re-run once however often the app or `serve` starts. Returns how many started.
    pub(crate) async fn rerun_interrupted(&self) -> ApiResult<u32> {
        let interrupted = self.blocking(|store| Ok(store.history().interrupted_to_rerun()?)).await?;
        let mut started = 0;
        for run in interrupted {
            let Ok(record) = self.workflow_get(IdRequest { id: run.workflow_id.clone() }).await else { continue };
            if !record.workflow.settings.rerun_interrupted {
                continue;
            }
            let input: Vec<switchyard_model::item::Item> = match serde_json::from_str(&run.input) {
                Ok(input) => input,
                Err(e) => {
                    tracing::warn!(execution = %run.id, "the kept input of an interrupted run cannot be read: {e}");
                    continue;
                }
            };
            let rerun_id = new_id();
            let (id, claimed) = (run.id.clone(), rerun_id.clone());
            if !self.blocking(move |store| Ok(store.history().claim_rerun(&id, &claimed)?)).await? {
                continue;
            }
            let source = RunSource::Saved;
            let options = LaunchOptions {
                mode: run.mode,
                start: run.start_node.clone(),
                retry_of: Some(run.id.clone()),
                execution_id: Some(rerun_id),
                ..LaunchOptions::default()
            };
            match self.launch_checked(record.workflow, &source, input, options).await {
                Ok(_) => {
                    tracing::info!(execution = %run.id, "re-running a run a crash interrupted");
                    started += 1;
                }
                Err(e) => tracing::warn!(execution = %run.id, "cannot re-run the interrupted run: {}", e.message),
            }
        }
        Ok(started)
    }

    /// Starts `target` from its Error Trigger with the failure as the trigger's item. Boxed
    /// (a run that fails starts a run): the future's type names no run inside itself.
    fn start_error_workflow(
        &self,
        target: &str,
        failure: serde_json::Value,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ApiResult<String>> + Send>> {
        let (api, target) = (self.clone(), target.to_string());
        Box::pin(async move {
            let workflow = api.workflow_get(IdRequest { id: target }).await?.workflow;
            let trigger = workflow
                .nodes
                .iter()
                .find(|n| matches!(api.inner.engine.registry().trigger_of(n), Some(Trigger::Error)))
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "the error workflow \"{}\" has no Error Trigger node to start from",
                        workflow.name
                    ))
                })?;
            let request = RunStartRequest {
                workflow_id: None,
                start_node: Some(trigger.id.clone()),
                workflow: Some(workflow),
                input: Some(failure),
                until_node: None,
                mode: Some(RunMode::Error),
                ..RunStartRequest::default()
            };
            let (execution_id, _) = api.spawn_run(request, None, RunMode::Error).await?;
            Ok(execution_id)
        })
    }

    /// Applies the pruning settings at most once a minute.
    fn prune_now_and_then(&self) {
        {
            let mut last = self.inner.last_prune.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|t| t.elapsed() < std::time::Duration::from_secs(60)) {
                return;
            }
            *last = Some(std::time::Instant::now());
        }
        let api = self.clone();
        tokio::spawn(async move {
            // Not begun before the process ends (`switchyard run` exits after its run): the
            // next start prunes instead; nothing to warn of after the run's own output.
            if let Err(e) = api.apply_pruning().await
                && e.code != ErrorCode::Cancelled
            {
                tracing::warn!("pruning the execution history failed: {e}");
            }
        });
    }
}

/// A run's input as kept with it: the items as JSON, or none past 16 MiB (such a run is not
/// re-run after a crash; its error says it was interrupted all the same).
fn run_input_json(input: &[switchyard_model::item::Item]) -> Option<String> {
    const MAX_KEPT_INPUT: usize = 16 * 1024 * 1024;
    // Measured first (stopping at the limit): a million items given with `--input` are not
    // written out as text only to be thrown away.
    let mut left = MAX_KEPT_INPUT;
    for item in input {
        let size = item.json.measure(left, switchyard_model::value::MAX_DEPTH).ok()?;
        left = left.checked_sub(size + 64)?;
    }
    serde_json::to_string(input).ok().filter(|text| text.len() <= MAX_KEPT_INPUT)
}
