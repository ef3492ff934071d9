//! Running a workflow: nodes in dependency order, independent branches concurrently on
//! tokio, events to every listener, cancellation and a per-run timeout.

use crate::clock::{millis, rfc3339};
use crate::expr::{Evaluator, History, NoHistory, ScriptEnv};
use crate::node::{Input, NodeContext, Outputs, ProgressSink};
use crate::nodes::flow_parallel::{self, Strategy};
use crate::nodes::{self, flow_batch};
use crate::registry::{NodeEntry, Registry};
use crate::schedule::{Plan, Schedule};
use crate::services::{RunDataLimits, Services};
use crate::validate;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError, ValidationIssue};
use switchyard_model::events::{OutputCount, RunEvent, RunEventKind};
use switchyard_model::execution::{NodeRunData, NodeRunStatus, OutputData, RunMode, RunStatus};
use switchyard_model::item::{Item, Paired};
use switchyard_model::value::Value;
use switchyard_model::workflow::{ERROR_OUTPUT, MAIN, Node, OnError, Workflow};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Receives a run's events and node data. Called on the run's task: must not block.
pub trait RunListener: Send + Sync {
    fn event(&self, event: &RunEvent);
    /// A node's data as kept for the history (outputs cut to the run-data limits).
    fn node_data(&self, _execution_id: &str, _data: &NodeRunData) {}
}

/// The engine: node types plus the services runs use.
#[derive(Debug, Clone)]
pub struct Engine {
    registry: Arc<Registry>,
    services: Services,
}

/// A validated workflow with its node types resolved, ready to run any number of times.
#[derive(Debug)]
pub struct Prepared {
    pub workflow: Arc<Workflow>,
    entries: Vec<NodeEntry>,
    input_names: Vec<Vec<String>>,
    /// Whether any expression or script reads other nodes' items (`node(…)`, `item(…)`):
    /// only then are all outputs kept for the whole run.
    reads_history: bool,
}

impl Prepared {
    pub fn node_index(&self, id: &str) -> Option<usize> {
        self.workflow.nodes.iter().position(|n| n.id == id)
    }
}

#[derive(Default)]
pub struct RunRequest {
    pub execution_id: String,
    pub mode: Option<RunMode>,
    /// Items the starting trigger emits (none: one empty item).
    pub input: Vec<Item>,
    /// The trigger node to start from (default: the manual triggers, else every trigger).
    pub start: Option<String>,
    /// Run only this node and what it depends on.
    pub until: Option<String>,
    pub listeners: Vec<Arc<dyn RunListener>>,
    pub cancel: CancellationToken,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub execution_id: String,
    pub status: RunStatus,
    pub error: Option<NodeError>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_ms: u32,
    /// The main-output items of the last nodes (those nothing consumes), in file order.
    pub result: Vec<Item>,
    /// Each executed node's data, cut to the run-data limits.
    pub nodes: Vec<NodeRunData>,
}

impl Engine {
    pub fn new(registry: Registry, services: Services) -> Engine {
        Engine { registry: Arc::new(registry), services }
    }

    /// Built-in node types and system services.
    pub fn with_defaults() -> Engine {
        Engine::new(Registry::builtin(), Services::system())
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Checks a typed workflow against the node types (see [`validate`]).
    pub fn validate(&self, workflow: &Workflow) -> Vec<ValidationIssue> {
        validate::validate_workflow(workflow, &self.registry)
    }

    /// Validates and resolves a workflow for running.
    pub fn prepare(&self, workflow: Workflow) -> Result<Arc<Prepared>, Vec<ValidationIssue>> {
        let issues = self.validate(&workflow);
        if !issues.is_empty() {
            return Err(issues);
        }
        let mut entries = Vec::with_capacity(workflow.nodes.len());
        let mut input_names = Vec::with_capacity(workflow.nodes.len());
        for node in &workflow.nodes {
            let entry = self.registry.get(&node.node_type, node.version).cloned().ok_or_else(|| {
                vec![ValidationIssue::new(
                    ErrorCode::UnknownNodeType,
                    "$.nodes",
                    format!("unknown node type {}", node.node_type),
                )]
            })?;
            input_names.push(entry.descriptor.input_names());
            entries.push(entry);
        }
        let reads_history = workflow.nodes.iter().any(|n| n.parameters.values().any(mentions_history));
        Ok(Arc::new(Prepared { workflow: Arc::new(workflow), entries, input_names, reads_history }))
    }

    /// Runs a prepared workflow to the end (or until cancelled or timed out).
    pub async fn run(&self, prepared: Arc<Prepared>, request: RunRequest) -> RunOutcome {
        use tracing::Instrument as _;
        let span = tracing::info_span!(
            "run",
            workflow = %prepared.workflow.name,
            workflow_id = %prepared.workflow.id,
            execution = %request.execution_id,
            mode = request.mode.unwrap_or(RunMode::Manual).as_str(),
        );
        let outcome = Run::new(self.services.clone(), prepared, request).execute().instrument(span.clone()).await;
        span.in_scope(|| match &outcome.error {
            // Codes and names only: a node's message can quote a URL or a value.
            Some(e) => tracing::warn!(
                status = outcome.status.as_str(),
                duration_ms = outcome.duration_ms,
                node = e.node_name.as_deref().unwrap_or(""),
                code = ?e.code,
                class = ?e.class,
                "run finished"
            ),
            None => {
                tracing::debug!(status = outcome.status.as_str(), duration_ms = outcome.duration_ms, "run finished")
            }
        });
        outcome
    }
}

fn mentions_history(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => {
            let re = history_regex();
            re.is_match(s)
        }
        serde_json::Value::Array(a) => a.iter().any(mentions_history),
        serde_json::Value::Object(o) => o.values().any(mentions_history),
        _ => false,
    }
}

fn history_regex() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| regex::Regex::new(r"\b(node|item)\s*\(").expect("valid regex"))
}

/// Sends events to listeners with sequence numbers.
struct Emitter {
    execution_id: String,
    workflow_id: String,
    seq: AtomicU32,
    listeners: Vec<Arc<dyn RunListener>>,
    services: Services,
    progress_started: Mutex<HashMap<String, tokio::time::Instant>>,
}

impl Emitter {
    fn emit(&self, kind: RunEventKind) {
        if let RunEventKind::NodeStarted { node_id, .. } = &kind {
            // Progress estimates count from the node's start.
            let now = tokio::time::Instant::now();
            self.progress_started.lock().unwrap_or_else(|p| p.into_inner()).insert(node_id.clone(), now);
        }
        let event = RunEvent {
            execution_id: self.execution_id.clone(),
            workflow_id: self.workflow_id.clone(),
            seq: self.seq.fetch_add(1, Ordering::SeqCst),
            at: rfc3339(self.services.clock.now()),
            kind,
        };
        for listener in &self.listeners {
            listener.event(&event);
        }
    }

    fn node_data(&self, data: &NodeRunData) {
        for listener in &self.listeners {
            listener.node_data(&self.execution_id, data);
        }
    }
}

impl ProgressSink for Emitter {
    fn throttled(&self, node: &Node, key: &str, waited: Duration) {
        self.emit(RunEventKind::NodeThrottled {
            node_id: node.id.clone(),
            node_name: node.name.clone(),
            key: key.to_string(),
            waited_ms: millis(waited),
        });
    }

    fn breaker_changed(&self, node: &Node, key: &str, state: switchyard_model::retry::BreakerState) {
        self.emit(RunEventKind::BreakerChanged {
            node_id: node.id.clone(),
            node_name: node.name.clone(),
            key: key.to_string(),
            state,
        });
    }

    fn retrying(&self, node: &Node, item: Option<usize>, attempt: u32, delay: Duration, error: &NodeError) {
        self.emit(RunEventKind::NodeRetrying {
            node_id: node.id.clone(),
            node_name: node.name.clone(),
            item_index: item.map(|i| i as u32),
            attempt,
            max_tries: node.settings.retry.max_tries,
            delay_ms: millis(delay),
            error: error.clone(),
        });
    }

    fn progress(&self, node_id: &str, done: usize, total: usize) {
        let now = tokio::time::Instant::now();
        let started =
            *self.progress_started.lock().unwrap_or_else(|p| p.into_inner()).entry(node_id.to_string()).or_insert(now);
        let elapsed = now.saturating_duration_since(started);
        let eta_ms = (done > 0 && total >= done).then(|| {
            let per_item = elapsed.as_secs_f64() / done as f64;
            millis(Duration::from_secs_f64(per_item * (total - done) as f64))
        });
        self.emit(RunEventKind::NodeProgress {
            node_id: node_id.to_string(),
            done: done as u32,
            total: total as u32,
            eta_ms,
        });
    }
}

/// Where an input's items came from, for following item lineage.
#[derive(Debug, Clone)]
struct Segment {
    node: usize,
    output: String,
    count: usize,
}

#[derive(Default)]
struct NodeHistory {
    outputs: Vec<(String, Arc<Vec<Item>>)>,
    inputs: Vec<Vec<Segment>>,
}

/// All outputs of a run so far, kept only when expressions read them.
struct RunHistory {
    names: HashMap<String, usize>,
    nodes: RwLock<HashMap<usize, NodeHistory>>,
}

/// One node's view of the run history.
struct HistoryView {
    run: Arc<RunHistory>,
    inputs: Vec<Vec<Segment>>,
}

impl History for HistoryView {
    fn items_of(&self, name: &str) -> Result<Arc<Vec<Item>>, String> {
        let index = *self.run.names.get(name).ok_or_else(|| format!("there is no node named \"{name}\""))?;
        let nodes = self.run.nodes.read().unwrap_or_else(|p| p.into_inner());
        let node = nodes.get(&index).ok_or_else(|| format!("node \"{name}\" has not run before this node"))?;
        Ok(node.outputs.iter().find(|(n, _)| n == MAIN).map(|(_, items)| items.clone()).unwrap_or_default())
    }

    fn paired_of(&self, name: &str, index: usize) -> Result<Value, String> {
        let target = *self.run.names.get(name).ok_or_else(|| format!("there is no node named \"{name}\""))?;
        let nodes = self.run.nodes.read().unwrap_or_else(|p| p.into_inner());
        let mut segments = self.inputs.first().cloned().unwrap_or_default();
        let mut index = index;
        for _ in 0..=self.run.names.len() {
            let mut offset = 0;
            let segment = segments
                .iter()
                .find(|s| {
                    let hit = index < offset + s.count;
                    if !hit {
                        offset += s.count;
                    }
                    hit
                })
                .ok_or_else(|| format!("item {index} has no source on the way to \"{name}\""))?;
            let source =
                nodes.get(&segment.node).ok_or_else(|| format!("node \"{name}\" has not run before this node"))?;
            let items = source
                .outputs
                .iter()
                .find(|(n, _)| *n == segment.output)
                .map(|(_, items)| items.clone())
                .unwrap_or_default();
            let item = items.get(index - offset).ok_or_else(|| format!("item lineage to \"{name}\" is broken"))?;
            if segment.node == target {
                return Ok(item.json.clone());
            }
            let paired = item.paired.as_slice().first().copied().ok_or_else(|| {
                format!("item {index} has no lineage back to \"{name}\" (is \"{name}\" upstream of this node?)")
            })?;
            segments = source.inputs.get(paired.input as usize).cloned().unwrap_or_default();
            index = paired.item as usize;
        }
        Err(format!("no lineage back to \"{name}\""))
    }
}

enum Decision {
    Run,
    Skip,
    PassThrough,
    Pinned(Vec<Item>),
}

struct Finished {
    index: usize,
    /// Set for nodes that did not run: skipped, disabled or pinned.
    preset: Option<NodeRunStatus>,
    result: Result<Outputs, NodeError>,
    fallback_input: Option<Arc<Vec<Item>>>,
    started_at: DateTime<Utc>,
    elapsed: Duration,
    items_in: usize,
}

/// The key under which a Batch or Parallel node's own items are counted while it runs (no
/// output has this name).
fn held(node: usize) -> (usize, String) {
    (node, "\0held".to_string())
}

/// Items on one output and how many consumers still have to take them.
type Slot = (Arc<Vec<Item>>, usize);

struct Run {
    services: Services,
    prepared: Arc<Prepared>,
    request: RunRequest,
    emitter: Arc<Emitter>,
    history: Option<Arc<RunHistory>>,
    /// Outputs waiting for consumers: (node, output) → (items, consumers left).
    slots: HashMap<(usize, String), Slot>,
    node_data: Vec<NodeRunData>,
    leaves: Vec<usize>,
    results: HashMap<usize, Arc<Vec<Item>>>,
    run_input: Arc<Vec<Item>>,
    /// Triggers still to start: the last one gets the run input without a copy.
    triggers_left: usize,
    /// Parallel nodes whose branches are running, by node index.
    parallels: HashMap<usize, ParallelRun>,
    /// Batch nodes whose loop is running, by node index.
    batches: HashMap<usize, BatchRun>,
    /// The last nodes of every branch: their main output goes to their Parallel node.
    sinks: std::collections::HashSet<usize>,
    /// Node tasks in flight, so a cancelled branch can stop them.
    running: HashMap<usize, tokio::task::AbortHandle>,
    task_nodes: HashMap<tokio::task::Id, usize>,
    /// Nodes stopped because their branch was cancelled, with why.
    stopped: HashMap<usize, String>,
    /// About how many bytes of items the run holds (slots and results), and each slot's share.
    live_bytes: usize,
    slot_bytes: HashMap<(usize, String), usize>,
}

/// When a Parallel or Batch node started, for its record once it is done.
struct Started {
    at: DateTime<Utc>,
    clock: tokio::time::Instant,
    items_in: usize,
}

impl Started {
    /// From the node's first part (handing its items on).
    fn of(finished: &Finished) -> Started {
        Started {
            at: finished.started_at,
            clock: tokio::time::Instant::now() - finished.elapsed,
            items_in: finished.items_in,
        }
    }
}

/// A Parallel node between sending its items down its branches and its "done".
struct ParallelRun {
    strategy: Strategy,
    deadline: Option<tokio::time::Instant>,
    timeout: Option<Duration>,
    branches: Vec<BranchRun>,
    branch_items: Vec<(String, Arc<Vec<Item>>)>,
    started: Started,
    input: Arc<Vec<Item>>,
}

/// A Batch node running its loop: one batch of items at a time through its region.
struct BatchRun {
    size: usize,
    stop_on_error: bool,
    rounds_left: u32,
    members: Vec<usize>,
    /// The region's nodes from first to last, when they form a simple chain: then every
    /// result item can be traced back to the batch item it came from.
    chain: Option<Vec<usize>>,
    left: usize,
    /// Every item the node was given, and how many region inputs take each batch.
    all: Arc<Vec<Item>>,
    consumers: usize,
    /// Input positions still to run, and those of the batch running now.
    queue: std::collections::VecDeque<usize>,
    current: Vec<usize>,
    /// Per chain node: the item each of its output items came from.
    lineage: HashMap<usize, Vec<Option<u32>>>,
    sink_items: Vec<(usize, Arc<Vec<Item>>)>,
    /// Batch items that failed somewhere along the chain (with `onError: continue`).
    item_failures: std::collections::BTreeMap<usize, NodeError>,
    batch_error: Option<NodeError>,
    /// Results by input position (`usize::MAX`: not traceable), and failed positions.
    done: Vec<(usize, Item)>,
    failed: std::collections::BTreeMap<usize, Vec<Item>>,
    first_error: Option<NodeError>,
    batches_run: usize,
    started: Started,
}

#[derive(Debug, Clone, PartialEq)]
enum BranchState {
    Running,
    Succeeded,
    Failed(NodeError),
}

struct BranchRun {
    name: String,
    members: Vec<usize>,
    sinks: Vec<usize>,
    left: usize,
    state: BranchState,
    /// The sinks' items, by sink.
    items: HashMap<usize, Arc<Vec<Item>>>,
}

impl Run {
    fn new(services: Services, prepared: Arc<Prepared>, mut request: RunRequest) -> Run {
        let emitter = Arc::new(Emitter {
            execution_id: request.execution_id.clone(),
            workflow_id: prepared.workflow.id.clone(),
            seq: AtomicU32::new(0),
            listeners: std::mem::take(&mut request.listeners),
            services: services.clone(),
            progress_started: Mutex::new(HashMap::new()),
        });
        let history = prepared.reads_history.then(|| {
            Arc::new(RunHistory {
                names: prepared.workflow.nodes.iter().enumerate().map(|(i, n)| (n.name.clone(), i)).collect(),
                nodes: RwLock::new(HashMap::new()),
            })
        });
        let run_input =
            Arc::new(if request.input.is_empty() { vec![Item::empty()] } else { std::mem::take(&mut request.input) });
        Run {
            services,
            prepared,
            request,
            emitter,
            history,
            slots: HashMap::new(),
            node_data: Vec::new(),
            leaves: Vec::new(),
            results: HashMap::new(),
            run_input,
            triggers_left: 0,
            parallels: HashMap::new(),
            batches: HashMap::new(),
            sinks: Default::default(),
            running: HashMap::new(),
            task_nodes: HashMap::new(),
            stopped: HashMap::new(),
            live_bytes: 0,
            slot_bytes: HashMap::new(),
        }
    }

    fn workflow(&self) -> &Workflow {
        &self.prepared.workflow
    }

    fn start_nodes(&self) -> Result<Vec<usize>, NodeError> {
        let nodes = &self.workflow().nodes;
        if let Some(id) = &self.request.start {
            let index = self
                .prepared
                .node_index(id)
                .ok_or_else(|| NodeError::new(ErrorCode::UnknownNode, format!("there is no node with id \"{id}\"")))?;
            return Ok(vec![index]);
        }
        let triggers: Vec<usize> =
            (0..nodes.len()).filter(|&i| self.prepared.entries[i].descriptor.is_trigger()).collect();
        let manual: Vec<usize> =
            triggers.iter().copied().filter(|&i| nodes[i].node_type == nodes::trigger_manual::TYPE).collect();
        let starts = if manual.is_empty() { triggers } else { manual };
        if starts.is_empty() {
            return Err(NodeError::new(ErrorCode::NoTrigger, "the workflow has no trigger node"));
        }
        Ok(starts)
    }

    async fn execute(mut self) -> RunOutcome {
        let started_at = self.services.clock.now();
        let started = tokio::time::Instant::now();
        let (status, error) = match self.plan() {
            Ok(plan) => {
                self.emitter.emit(RunEventKind::RunStarted {
                    workflow_name: self.workflow().name.clone(),
                    node_ids: plan.order.iter().map(|&i| self.workflow().nodes[i].id.clone()).collect(),
                });
                let timeout = Duration::from_secs(u64::from(self.workflow().settings.timeout_seconds.max(1)));
                self.drive(plan, started + timeout).await
            }
            Err(error) => {
                self.emitter
                    .emit(RunEventKind::RunStarted { workflow_name: self.workflow().name.clone(), node_ids: vec![] });
                (RunStatus::Error, Some(error))
            }
        };
        let duration_ms = millis(started.elapsed());
        self.emitter.emit(RunEventKind::RunFinished { status, duration_ms, error: error.clone() });
        let mut leaves = self.leaves.clone();
        leaves.sort_unstable();
        let result = leaves
            .iter()
            .filter_map(|i| self.results.remove(i))
            .flat_map(|items| Arc::unwrap_or_clone(items).into_iter())
            .collect();
        RunOutcome {
            execution_id: self.request.execution_id.clone(),
            status,
            error,
            started_at,
            finished_at: self.services.clock.now(),
            duration_ms,
            result,
            nodes: std::mem::take(&mut self.node_data),
        }
    }

    fn plan(&self) -> Result<Plan, NodeError> {
        let starts = self.start_nodes()?;
        let until =
            match &self.request.until {
                Some(id) => Some(self.prepared.node_index(id).ok_or_else(|| {
                    NodeError::new(ErrorCode::UnknownNode, format!("there is no node with id \"{id}\""))
                })?),
                None => None,
            };
        Ok(Plan::new(self.workflow(), &self.prepared.input_names, &starts, until))
    }

    async fn drive(&mut self, plan: Plan, deadline: tokio::time::Instant) -> (RunStatus, Option<NodeError>) {
        self.leaves = plan.leaves();
        self.sinks = plan.branches.values().flatten().flat_map(|(_, members)| plan.branch_sinks(members)).collect();
        self.triggers_left = plan.order.iter().filter(|&&i| self.prepared.entries[i].descriptor.is_trigger()).count();
        let mut schedule = Schedule::new(&plan);
        let mut tasks: JoinSet<Finished> = JoinSet::new();
        let cancel = self.request.cancel.child_token();
        let outcome = 'run: loop {
            while let Some(index) = schedule.next_ready() {
                if let Some(finished) = self.start_node(index, &plan, &mut tasks, &cancel)
                    && let Err(error) = self.complete(finished, &plan, &mut schedule)
                {
                    break 'run (RunStatus::Error, Some(error));
                }
            }
            if tasks.is_empty() {
                break (RunStatus::Success, None);
            }
            let branch_deadline = self.parallels.values().filter_map(|p| p.deadline).min();
            tokio::select! {
                joined = tasks.join_next_with_id() => {
                    let Some(joined) = joined else { continue };
                    let finished = match joined {
                        Ok((_, f)) => f,
                        Err(e) if e.is_cancelled() => {
                            // A node of a cancelled branch, stopped in flight.
                            if let Some(index) = self.task_nodes.remove(&e.id()) {
                                self.record_stopped(index);
                            }
                            continue;
                        }
                        Err(e) => break (RunStatus::Error, Some(NodeError::new(ErrorCode::Internal, format!("a node task failed: {e}")))),
                    };
                    if let Err(error) = self.complete(finished, &plan, &mut schedule) {
                        let status = if error.code == ErrorCode::Cancelled { RunStatus::Cancelled } else { RunStatus::Error };
                        break (status, Some(error));
                    }
                }
                () = async {
                    match branch_deadline {
                        Some(d) => tokio::time::sleep_until(d).await,
                        None => std::future::pending().await,
                    }
                } => {
                    if let Err(error) = self.expire_branches(&plan, &mut schedule) {
                        break (RunStatus::Error, Some(error));
                    }
                }
                () = self.request.cancel.cancelled() => {
                    break (RunStatus::Cancelled, Some(NodeError::new(ErrorCode::Cancelled, "the run was cancelled")));
                }
                () = tokio::time::sleep_until(deadline) => {
                    let seconds = self.workflow().settings.timeout_seconds;
                    break (RunStatus::Timeout, Some(NodeError::new(ErrorCode::Timeout, format!("the run took longer than its timeout of {seconds} s"))));
                }
            }
        };
        cancel.cancel();
        tasks.shutdown().await;
        outcome
    }

    /// Takes in a finished node: stores its outputs, moves the schedule on, and keeps the
    /// books of Parallel nodes and their branches.
    fn complete(&mut self, finished: Finished, plan: &Plan, schedule: &mut Schedule) -> Result<(), NodeError> {
        let index = finished.index;
        if let Some(handle) = self.running.remove(&index) {
            self.task_nodes.remove(&handle.id());
        }
        if schedule.is_finished(index) {
            // Its branch was cancelled while it ran; it finished before it could be stopped.
            self.record_stopped(index);
            return Ok(());
        }
        if plan.branches.contains_key(&index) && finished.preset.is_none() && finished.result.is_ok() {
            if self.prepared.workflow.nodes[index].node_type == flow_batch::TYPE {
                return self.start_batches(finished, plan, schedule);
            }
            return self.start_branches(finished, plan, schedule);
        }
        let result = self.finish_node(finished, plan, true);
        let Some((parallel, branch)) = plan.region[index].clone() else {
            result?;
            schedule.finish(index);
            return Ok(());
        };
        if self.batches.contains_key(&parallel) {
            if let Err(error) = &result
                && error.code == ErrorCode::Cancelled
                && self.request.cancel.is_cancelled()
            {
                return result;
            }
            schedule.finish(index);
            return self.batch_member_done(parallel, index, result.err(), plan, schedule);
        }
        match result {
            Err(error) if error.code == ErrorCode::Cancelled && self.request.cancel.is_cancelled() => {
                return Err(error);
            }
            Err(error) => {
                schedule.finish(index);
                self.branch_done(parallel, &branch, Err(error), plan, schedule)?;
            }
            Ok(()) => {
                let sink_items = self.sinks.contains(&index).then(|| self.results.remove(&index).unwrap_or_default());
                if let Some(run) = self.parallels.get_mut(&parallel)
                    && let Some(b) = run.branches.iter_mut().find(|b| b.name == branch)
                {
                    if let Some(items) = sink_items {
                        b.items.insert(index, items);
                    }
                    b.left = b.left.saturating_sub(1);
                    let finished_branch = b.left == 0 && b.state == BranchState::Running;
                    schedule.finish(index);
                    if finished_branch {
                        self.branch_done(parallel, &branch, Ok(()), plan, schedule)?;
                    }
                } else {
                    schedule.finish(index);
                }
            }
        }
        Ok(())
    }

    /// A Batch node handed on its items: the first batch starts.
    fn start_batches(&mut self, finished: Finished, plan: &Plan, schedule: &mut Schedule) -> Result<(), NodeError> {
        let index = finished.index;
        let node = self.prepared.workflow.nodes[index].clone();
        let (size, stop_on_error, rounds) = flow_batch::settings(&node);
        let started = Started::of(&finished);
        let all = match &finished.result {
            Ok(outputs) => outputs.get(flow_batch::BATCH).len(),
            Err(_) => 0,
        };
        self.finish_node(finished, plan, false)?;
        let key = (index, flow_batch::BATCH.to_string());
        // The Batch node keeps all its items while it loops: they stay in the run's count.
        if let Some(bytes) = self.slot_bytes.remove(&key) {
            self.slot_bytes.insert(held(index), bytes);
        }
        let (items, consumers) = self.slots.remove(&key).unwrap_or_default();
        debug_assert!(items.len() == all || consumers == 0);
        let members = plan.branches[&index].first().map(|(_, m)| m.clone()).unwrap_or_default();
        let chain = chain_of(&members, plan);
        let run = BatchRun {
            size,
            stop_on_error,
            rounds_left: rounds,
            chain,
            left: 0,
            queue: (0..items.len()).collect(),
            all: items,
            consumers,
            current: Vec::new(),
            lineage: HashMap::new(),
            sink_items: Vec::new(),
            item_failures: Default::default(),
            batch_error: None,
            done: Vec::new(),
            failed: Default::default(),
            first_error: None,
            batches_run: 0,
            started,
            members,
        };
        self.batches.insert(index, run);
        self.next_batch(index, plan, schedule, true)
    }

    /// Starts the next batch (the first one when `first`), or finishes the node.
    fn next_batch(&mut self, owner: usize, plan: &Plan, schedule: &mut Schedule, first: bool) -> Result<(), NodeError> {
        let Some(run) = self.batches.get_mut(&owner) else { return Ok(()) };
        if run.queue.is_empty() && run.rounds_left > 0 && !run.failed.is_empty() {
            // Another round, for the failed items only.
            run.rounds_left -= 1;
            run.queue = std::mem::take(&mut run.failed).into_keys().collect();
        }
        if run.queue.is_empty() || run.members.is_empty() {
            if run.members.is_empty() {
                // Nothing is wired after "batch": the items go straight to "done".
                let all = run.all.clone();
                run.done.extend(run.queue.drain(..).map(|i| (i, all[i].clone())));
            }
            if first {
                schedule.finish(owner);
            }
            return self.finish_batches(owner, plan);
        }
        let take = run.size.min(run.queue.len());
        run.current = run.queue.drain(..take).collect();
        let items: Vec<Item> = run.current.iter().map(|&i| run.all[i].clone()).collect();
        run.left = run.members.len();
        run.lineage.clear();
        run.sink_items.clear();
        run.item_failures.clear();
        run.batch_error = None;
        let (members, consumers) = (run.members.clone(), run.consumers);
        // Each batch is part of the items the Batch node holds (counted once, as `held`).
        self.slots.insert((owner, flow_batch::BATCH.to_string()), (Arc::new(items), consumers));
        if first {
            schedule.finish(owner);
        } else {
            schedule.reset(&members, &plan.upstream);
        }
        Ok(())
    }

    /// A node of a Batch node's loop finished (with its error when it failed and stopped).
    fn batch_member_done(
        &mut self,
        owner: usize,
        index: usize,
        error: Option<NodeError>,
        plan: &Plan,
        schedule: &mut Schedule,
    ) -> Result<(), NodeError> {
        let sink_items = self.sinks.contains(&index).then(|| self.results.remove(&index).unwrap_or_default());
        let main_out = self.slots.get(&(index, MAIN.to_string())).map(|(items, _)| items.clone());
        let Some(run) = self.batches.get_mut(&owner) else { return Ok(()) };
        if let Some(chain) = &run.chain
            && chain.contains(&index)
        {
            let items = sink_items.clone().or(main_out).unwrap_or_default();
            run.lineage.insert(index, items.iter().map(|i| i.paired.as_slice().first().map(|p| p.item)).collect());
            // Items that failed here (and went on carrying their error) fail their batch item.
            for item in items.iter().filter(|i| i.error.is_some()) {
                let origin = run.trace(index, item);
                if origin != usize::MAX
                    && let Some(error) = item.error.as_deref()
                {
                    run.item_failures.entry(origin).or_insert_with(|| error.clone());
                }
            }
        }
        if let Some(items) = sink_items {
            run.sink_items.push((index, items));
        }
        run.left = run.left.saturating_sub(1);
        if let Some(error) = error {
            run.batch_error.get_or_insert(error);
            // The rest of this batch's loop stops.
            let members = run.members.clone();
            self.stop_nodes(&members, "stopped: another node of this batch failed", schedule);
            if let Some(run) = self.batches.get_mut(&owner) {
                run.left = 0;
            }
        }
        if self.batches.get(&owner).is_some_and(|r| r.left == 0) {
            self.batch_finished(owner, plan, schedule)?;
        }
        Ok(())
    }

    /// One batch went through: sort its results and failures, then go on.
    fn batch_finished(&mut self, owner: usize, plan: &Plan, schedule: &mut Schedule) -> Result<(), NodeError> {
        let node_id = self.prepared.workflow.nodes[owner].id.clone();
        let Some(run) = self.batches.get_mut(&owner) else { return Ok(()) };
        run.batches_run += 1;
        let mut failures: Vec<(usize, Item, NodeError)> = Vec::new();
        if let Some(error) = run.batch_error.take() {
            for &i in &run.current {
                let mut item = run.all[i].clone();
                item.error = Some(Box::new(error.clone()));
                failures.push((i, item, error.clone()));
            }
        } else {
            let failed = std::mem::take(&mut run.item_failures);
            let sinks = std::mem::take(&mut run.sink_items);
            for (sink, items) in sinks {
                for item in Arc::unwrap_or_clone(items) {
                    let origin = run.trace(sink, &item);
                    if failed.contains_key(&origin) {
                        continue;
                    }
                    match item.error.as_deref().cloned() {
                        Some(error) => failures.push((origin, item, error)),
                        None => run.done.push((origin, item)),
                    }
                }
            }
            // A batch item that failed along the way leaves as itself, with its error.
            for (origin, error) in failed {
                let mut item = run.all[origin].clone();
                item.paired = Paired::item(origin);
                item.error = Some(Box::new(error.clone()));
                failures.push((origin, item, error));
            }
            failures.sort_by_key(|(origin, ..)| *origin);
        }
        for (origin, item, error) in failures {
            run.first_error.get_or_insert(error);
            if run.stop_on_error {
                break;
            }
            run.failed.entry(origin).or_default().push(item);
        }
        let remaining_batches = run.queue.len().div_ceil(run.size);
        let (done, total) = (run.batches_run, run.batches_run + remaining_batches);
        let stop = run.stop_on_error && run.first_error.is_some();
        self.emitter.progress(&node_id, done, total.max(done));
        if stop {
            return self.finish_batches(owner, plan);
        }
        self.next_batch(owner, plan, schedule, false)
    }

    /// The loop is over: "done" gets every result in input order, or the node fails.
    fn finish_batches(&mut self, owner: usize, plan: &Plan) -> Result<(), NodeError> {
        let Some(run) = self.batches.remove(&owner) else { return Ok(()) };
        self.release(&held(owner));
        let mut outputs = Outputs::new();
        outputs.extend(flow_batch::BATCH, run.all.iter().cloned());
        let result = match (&run.first_error, run.stop_on_error) {
            (Some(error), true) => {
                let message = format!("batch {} (of {} items) failed: {}", run.batches_run, run.size, error.message);
                Err(NodeError { message, node_id: None, node_name: None, item_index: None, ..error.clone() })
            }
            _ => {
                let mut done = run.done;
                done.extend(run.failed.into_iter().flat_map(|(i, items)| items.into_iter().map(move |item| (i, item))));
                done.sort_by_key(|(i, _)| *i);
                outputs.extend(flow_parallel::DONE, done.into_iter().map(|(_, item)| item));
                Ok(outputs)
            }
        };
        self.owner_done(owner, result, run.all, &run.started, plan)
    }

    /// Records and reports a Parallel or Batch node once it is done. Its *On error* applies
    /// as for any node: with *continue*, its input items leave "done" carrying the error.
    fn owner_done(
        &mut self,
        index: usize,
        result: Result<Outputs, NodeError>,
        input: Arc<Vec<Item>>,
        started: &Started,
        plan: &Plan,
    ) -> Result<(), NodeError> {
        let on_error = self.prepared.workflow.nodes[index].settings.on_error;
        let finished = Finished {
            index,
            preset: None,
            result,
            fallback_input: (on_error != OnError::Stop).then_some(input),
            started_at: started.at,
            elapsed: started.clock.elapsed(),
            items_in: started.items_in,
        };
        self.finish_node(finished, plan, true)
    }

    /// A Parallel node handed its items to its branches: the branches start.
    fn start_branches(&mut self, finished: Finished, plan: &Plan, schedule: &mut Schedule) -> Result<(), NodeError> {
        let index = finished.index;
        let node = self.prepared.workflow.nodes[index].clone();
        let (strategy, timeout) = flow_parallel::settings(&node);
        let input = finished.fallback_input.clone().unwrap_or_default();
        let started = Started::of(&finished);
        self.finish_node(finished, plan, false)?;
        // The Parallel node keeps its branches' items until it is done: they stay in the run's
        // count after the branches take them.
        let kept: usize =
            plan.branches[&index].iter().filter_map(|(name, _)| self.slot_bytes.get(&(index, name.clone()))).sum();
        self.live_bytes += kept;
        self.slot_bytes.insert(held(index), kept);
        let branch_items = plan.branches[&index]
            .iter()
            .map(|(name, _)| {
                let items = self.slots.get(&(index, name.clone())).map(|(items, _)| items.clone()).unwrap_or_default();
                (name.clone(), items)
            })
            .collect();
        let branches = plan.branches[&index]
            .iter()
            .map(|(name, members)| BranchRun {
                name: name.clone(),
                members: members.clone(),
                sinks: plan.branch_sinks(members),
                left: members.len(),
                state: BranchState::Running,
                items: HashMap::new(),
            })
            .collect::<Vec<_>>();
        let empty: Vec<String> = branches.iter().filter(|b| b.members.is_empty()).map(|b| b.name.clone()).collect();
        self.parallels.insert(
            index,
            ParallelRun {
                strategy,
                deadline: timeout.map(|t| tokio::time::Instant::now() + t),
                timeout,
                branches,
                branch_items,
                started,
                input,
            },
        );
        schedule.finish(index);
        // A branch with no nodes succeeds at once, with no items.
        for name in empty {
            self.branch_done(index, &name, Ok(()), plan, schedule)?;
        }
        if self.parallels.get(&index).is_some_and(|p| p.branches.is_empty()) {
            self.resolve(index, plan, schedule)?;
        }
        Ok(())
    }

    /// A branch succeeded or failed: maybe the Parallel node is done.
    fn branch_done(
        &mut self,
        parallel: usize,
        branch: &str,
        outcome: Result<(), NodeError>,
        plan: &Plan,
        schedule: &mut Schedule,
    ) -> Result<(), NodeError> {
        let Some(run) = self.parallels.get_mut(&parallel) else { return Ok(()) };
        let Some(b) = run.branches.iter_mut().find(|b| b.name == branch) else { return Ok(()) };
        if b.state != BranchState::Running {
            return Ok(());
        }
        let failed = outcome.is_err();
        b.state = match outcome {
            Ok(()) => BranchState::Succeeded,
            Err(e) => BranchState::Failed(e),
        };
        if failed {
            let reason = format!("stopped: branch \"{branch}\" failed");
            self.stop_branch(parallel, branch, &reason, schedule);
        }
        self.resolve(parallel, plan, schedule)
    }

    /// Marks a branch's unfinished nodes finished, stopping those that run.
    fn stop_branch(&mut self, parallel: usize, branch: &str, reason: &str, schedule: &mut Schedule) {
        let members = self
            .parallels
            .get(&parallel)
            .and_then(|p| p.branches.iter().find(|b| b.name == branch))
            .map(|b| b.members.clone())
            .unwrap_or_default();
        self.stop_nodes(&members, reason, schedule);
    }

    /// Marks unfinished `nodes` finished, stopping those that run (they are recorded as
    /// stopped, with `reason`, when their task ends).
    fn stop_nodes(&mut self, nodes: &[usize], reason: &str, schedule: &mut Schedule) {
        for &m in nodes {
            if schedule.is_finished(m) {
                continue;
            }
            if let Some(handle) = self.running.get(&m) {
                handle.abort();
                self.stopped.insert(m, reason.to_string());
            }
            schedule.finish(m);
        }
    }

    /// Records a node stopped with its branch.
    fn record_stopped(&mut self, index: usize) {
        let Some(reason) = self.stopped.remove(&index) else { return };
        let node = self.prepared.workflow.nodes[index].clone();
        let error = NodeError {
            node_id: Some(node.id.clone()),
            node_name: Some(node.name.clone()),
            ..NodeError::new(ErrorCode::Cancelled, reason)
        };
        self.emitter.emit(RunEventKind::NodeFailed {
            node_id: node.id.clone(),
            node_name: node.name.clone(),
            error: error.clone(),
            duration_ms: 0,
        });
        self.record(&node, NodeRunStatus::Error, self.services.clock.now(), Duration::ZERO, 0, Vec::new(), Some(error));
    }

    /// Fails the branches still running past their Parallel node's branch timeout.
    fn expire_branches(&mut self, plan: &Plan, schedule: &mut Schedule) -> Result<(), NodeError> {
        let now = tokio::time::Instant::now();
        let due: Vec<(usize, Vec<String>, Duration)> = self
            .parallels
            .iter()
            .filter(|(_, p)| p.deadline.is_some_and(|d| d <= now))
            .map(|(&i, p)| {
                let running = p.branches.iter().filter(|b| b.state == BranchState::Running).map(|b| b.name.clone());
                (i, running.collect(), p.timeout.unwrap_or_default())
            })
            .collect();
        for (parallel, names, timeout) in due {
            if let Some(p) = self.parallels.get_mut(&parallel) {
                p.deadline = None;
            }
            for name in names {
                let error = NodeError::new(
                    ErrorCode::Timeout,
                    format!("branch \"{name}\" took longer than its timeout of {} s", timeout.as_secs_f64()),
                )
                .with_class(ErrorClass::Timeout);
                let reason = format!("stopped: branch \"{name}\" timed out");
                self.stop_branch(parallel, &name, &reason, schedule);
                self.branch_done(parallel, &name, Err(error), plan, schedule)?;
            }
        }
        Ok(())
    }

    /// Finishes a Parallel node once its strategy is met or can no longer be met: its
    /// "done" output gets the succeeded branches' items (in branch order) and the branches
    /// still running are stopped.
    fn resolve(&mut self, parallel: usize, plan: &Plan, schedule: &mut Schedule) -> Result<(), NodeError> {
        let Some(run) = self.parallels.get(&parallel) else { return Ok(()) };
        let total = run.branches.len();
        let succeeded = run.branches.iter().filter(|b| b.state == BranchState::Succeeded).count();
        let running = run.branches.iter().filter(|b| b.state == BranchState::Running).count();
        let first_failure = run.branches.iter().find_map(|b| match &b.state {
            BranchState::Failed(e) => Some((b.name.clone(), e.clone())),
            _ => None,
        });
        let needed = match run.strategy {
            Strategy::All => total,
            Strategy::Race => 1.min(total),
            Strategy::Quorum(n) => n.min(total.max(1)),
        };
        let outcome = if succeeded >= needed && (run.strategy != Strategy::All || running == 0) {
            if run.strategy == Strategy::All && first_failure.is_some() { None } else { Some(true) }
        } else if succeeded + running < needed || (run.strategy == Strategy::All && running == 0) {
            Some(false)
        } else {
            None
        };
        let outcome = match (outcome, run.strategy, &first_failure, running) {
            (None, Strategy::All, Some(_), 0) => Some(false),
            (o, ..) => o,
        };
        let Some(success) = outcome else { return Ok(()) };
        let Some(mut run) = self.parallels.remove(&parallel) else { return Ok(()) };
        self.release(&held(parallel));
        // Stop what still runs; nodes after "done" wait for every branch node.
        for b in run.branches.iter().filter(|b| b.state == BranchState::Running) {
            let reason = if success {
                format!("stopped: the Parallel node was done without branch \"{}\"", b.name)
            } else {
                format!("stopped: the Parallel node failed before branch \"{}\" finished", b.name)
            };
            let members = b.members.clone();
            self.stop_nodes(&members, &reason, schedule);
        }
        let mut outputs = Outputs::new();
        for (name, items) in &run.branch_items {
            outputs.extend(name, items.iter().cloned());
        }
        let result = if success {
            let mut done = Vec::new();
            // A race or quorum hands on the first successes it needed, in branch order.
            let limit = if run.strategy == Strategy::All { usize::MAX } else { needed };
            for b in run.branches.iter_mut().filter(|b| b.state == BranchState::Succeeded).take(limit) {
                for sink in &b.sinks {
                    if let Some(items) = b.items.remove(sink) {
                        done.extend(Arc::unwrap_or_clone(items));
                    }
                }
            }
            outputs.extend(flow_parallel::DONE, done);
            Ok(outputs)
        } else {
            let (branch, cause) = first_failure
                .unwrap_or_else(|| (String::new(), NodeError::new(ErrorCode::NodeFailed, "no branch succeeded")));
            let message = match run.strategy {
                Strategy::All => format!("branch \"{branch}\" failed: {}", cause.message),
                Strategy::Race => format!("no branch succeeded; branch \"{branch}\" failed: {}", cause.message),
                Strategy::Quorum(n) => format!(
                    "only {succeeded} of {total} branches succeeded, {n} needed; branch \"{branch}\" failed: {}",
                    cause.message
                ),
            };
            Err(NodeError { message, node_id: None, node_name: None, item_index: None, ..cause })
        };
        self.owner_done(parallel, result, run.input, &run.started, plan)
    }

    /// Gathers a node's inputs, then either finishes it at once (skipped, disabled, pinned)
    /// or spawns it.
    fn start_node(
        &mut self,
        index: usize,
        plan: &Plan,
        tasks: &mut JoinSet<Finished>,
        cancel: &CancellationToken,
    ) -> Option<Finished> {
        let prepared = self.prepared.clone();
        let node = &prepared.workflow.nodes[index];
        let entry = prepared.entries[index].clone();
        let mut inputs = Vec::new();
        let mut segments = Vec::new();
        for sources in &plan.inputs[index] {
            let mut parts = Vec::with_capacity(sources.len());
            let mut input_segments = Vec::new();
            for source in sources {
                let items = self.take_slot(source.node, &source.output);
                input_segments.push(Segment { node: source.node, output: source.output.clone(), count: items.len() });
                parts.push(items);
            }
            inputs.push(Input::new(concat(parts)));
            segments.push(input_segments);
        }
        let items_in: usize = inputs.iter().map(Input::len).sum();
        let started_at = self.services.clock.now();
        let decision = if let Some(pinned) = self.workflow().pin_data.get(&node.id) {
            Decision::Pinned(pinned.iter().map(|p| p.item.clone()).collect())
        } else if node.settings.disabled {
            Decision::PassThrough
        } else if entry.descriptor.is_trigger() || items_in > 0 {
            Decision::Run
        } else {
            Decision::Skip
        };
        if let Some(history) = &self.history {
            let mut nodes = history.nodes.write().unwrap_or_else(|p| p.into_inner());
            nodes.entry(index).or_default().inputs = segments.clone();
        }
        let immediate = |preset: NodeRunStatus, result: Result<Outputs, NodeError>| Finished {
            index,
            preset: Some(preset),
            result,
            fallback_input: None,
            started_at,
            elapsed: Duration::ZERO,
            items_in,
        };
        match decision {
            Decision::Skip => Some(immediate(NodeRunStatus::Skipped, Ok(Outputs::new()))),
            // A pinned or disabled Parallel node sends its items straight out of "done".
            Decision::Pinned(items) => Some(immediate(NodeRunStatus::Pinned, Ok(pass_on(node, items)))),
            Decision::PassThrough => {
                let first = inputs.into_iter().next().map(Input::into_vec).unwrap_or_default();
                let items = first
                    .into_iter()
                    .enumerate()
                    .map(|(i, mut item)| {
                        item.paired = Paired::item(i);
                        item
                    })
                    .collect();
                Some(immediate(NodeRunStatus::Disabled, Ok(pass_on(node, items))))
            }
            Decision::Run => {
                self.emitter.emit(RunEventKind::NodeStarted {
                    node_id: node.id.clone(),
                    node_name: node.name.clone(),
                    items_in: items_in as u32,
                });
                let history: Arc<dyn History> = match &self.history {
                    Some(run) => Arc::new(HistoryView { run: run.clone(), inputs: segments }),
                    None => Arc::new(NoHistory),
                };
                let env = ScriptEnv {
                    clock: self.services.clock.clone(),
                    history,
                    workflow_id: self.workflow().id.clone(),
                    workflow_name: self.workflow().name.clone(),
                    execution_id: self.request.execution_id.clone(),
                    mode: self.request.mode.unwrap_or(RunMode::Manual).as_str().to_string(),
                    limits: self.services.limits,
                    cancel: cancel.clone(),
                };
                let fallback_input = (node.settings.on_error != OnError::Stop)
                    .then(|| inputs.first().map(Input::shared).unwrap_or_default());
                let run_input = if entry.descriptor.is_trigger() {
                    self.triggers_left = self.triggers_left.saturating_sub(1);
                    if self.triggers_left == 0 { std::mem::take(&mut self.run_input) } else { self.run_input.clone() }
                } else {
                    Arc::default()
                };
                let mut node = node.clone();
                // A slot without an account label uses the workflow's choice for its type.
                for reference in node.credentials.values_mut() {
                    if reference.account.is_none() {
                        reference.account = self.workflow().settings.accounts.get(&reference.connection).cloned();
                    }
                }
                let node = Arc::new(node);
                let sink = Some(self.emitter.clone() as Arc<dyn ProgressSink>);
                let services = self.services.clone();
                let node_cancel = cancel.child_token();
                // Nodes that call out per item retry each item themselves; others are retried
                // whole, with their inputs kept for the next try.
                let whole_node_retry = node.settings.retry.enabled() && !entry.descriptor.per_item_calls;
                let emitter = self.emitter.clone();
                let span = tracing::info_span!("node", node = %node.name, node_type = %node.node_type, items_in);
                let handle = tasks.spawn(tracing::Instrument::instrument(async move {
                    let clock_start = tokio::time::Instant::now();
                    let result = if whole_node_retry {
                        let observe = |next: u32, delay: Duration, error: &NodeError| {
                            emitter.retrying(&node, None, next, delay, error);
                        };
                        crate::resilience::retry(&node.settings.retry, &observe, || {
                            let mut ctx = NodeContext::new(
                                node.clone(),
                                entry.descriptor.clone(),
                                services.clone(),
                                node_cancel.clone(),
                                run_input.clone(),
                                inputs.clone(),
                                Evaluator::new(env.clone()),
                                sink.clone(),
                            );
                            let entry = entry.clone();
                            async move { entry.execute(&mut ctx).await }
                        })
                        .await
                    } else {
                        // One try: the inputs move into the node, so it can own them without a copy.
                        let descriptor = entry.descriptor.clone();
                        let evaluator = Evaluator::new(env);
                        let mut ctx = NodeContext::new(
                            node,
                            descriptor,
                            services,
                            node_cancel,
                            run_input,
                            inputs,
                            evaluator,
                            sink,
                        );
                        entry.execute(&mut ctx).await
                    };
                    let elapsed = clock_start.elapsed();
                    match &result {
                        Ok(_) => tracing::debug!(duration_ms = millis(elapsed), "node finished"),
                        Err(e) => tracing::info!(duration_ms = millis(elapsed), code = ?e.code, class = ?e.class, "node failed"),
                    }
                    Finished { index, preset: None, result, fallback_input, started_at, elapsed, items_in }
                }, span));
                self.task_nodes.insert(handle.id(), index);
                self.running.insert(index, handle);
                None
            }
        }
    }

    /// A slot's items are no longer held: their bytes leave the run's count.
    fn release(&mut self, key: &(usize, String)) {
        if let Some(bytes) = self.slot_bytes.remove(key) {
            self.live_bytes = self.live_bytes.saturating_sub(bytes);
        }
    }

    /// The size of each output of a finished node, checking every item against the item
    /// limit and all of them, with what the run holds already, against the run's limit.
    fn measure_outputs(&self, node: &Node, ports: &[(String, Vec<Item>)]) -> Result<Vec<usize>, NodeError> {
        let limits = self.services.items;
        let mib = |b: usize| b / (1024 * 1024);
        let placed =
            |e: NodeError| NodeError { node_id: Some(node.id.clone()), node_name: Some(node.name.clone()), ..e };
        let mut sizes = Vec::with_capacity(ports.len());
        let mut total = self.live_bytes;
        for (name, items) in ports {
            let mut bytes = 0usize;
            for (i, item) in items.iter().enumerate() {
                let size = item.json.measure(limits.max_item_bytes, switchyard_model::value::MAX_DEPTH).map_err(|excess| {
                    let e = NodeError::new(
                        ErrorCode::ValueTooLarge,
                        format!(
                            "item {i} of output \"{name}\" is {excess}: an item may have at most {} MiB (Settings → \"Largest item\")",
                            mib(limits.max_item_bytes)
                        ),
                    )
                    .with_class(ErrorClass::Permanent)
                    .with_item(i);
                    placed(e)
                })?;
                bytes += size;
            }
            total += bytes;
            if total > limits.max_live_bytes {
                return Err(placed(NodeError::new(
                    ErrorCode::ValueTooLarge,
                    format!(
                        "its output \"{name}\" would make the run hold over {} MiB of items at once (Settings → \"Items a run may hold\"); \
                         split the work with a Batch node or keep fewer fields",
                        mib(limits.max_live_bytes)
                    ),
                )
                .with_class(ErrorClass::Permanent)));
            }
            sizes.push(bytes);
        }
        Ok(sizes)
    }

    fn take_slot(&mut self, node: usize, output: &str) -> Arc<Vec<Item>> {
        let key = (node, output.to_string());
        let Some((items, remaining)) = self.slots.get_mut(&key) else { return Arc::default() };
        *remaining -= 1;
        if *remaining == 0 {
            self.release(&key);
            self.slots.remove(&key).map(|(items, _)| items).unwrap_or_default()
        } else {
            items.clone()
        }
    }

    /// Stores a finished node's outputs and reports it. An error means the run must stop.
    /// `announce` false: a Parallel node that just sent its items down its branches; it is
    /// recorded and reported once it is done.
    fn finish_node(&mut self, finished: Finished, plan: &Plan, announce: bool) -> Result<(), NodeError> {
        let index = finished.index;
        let node = self.prepared.workflow.nodes[index].clone();
        let descriptor = self.prepared.entries[index].descriptor.clone();
        let (outputs, status, error) = match finished.result {
            Ok(outputs) => (outputs, finished.preset.unwrap_or(NodeRunStatus::Success), None),
            Err(error) => {
                let mut error = error;
                error.node_id = Some(node.id.clone());
                error.node_name = Some(node.name.clone());
                match (node.settings.on_error, finished.fallback_input, error.code) {
                    (OnError::Stop, _, _) | (_, None, _) | (_, _, ErrorCode::Cancelled) => {
                        self.emitter.emit(RunEventKind::NodeFailed {
                            node_id: node.id.clone(),
                            node_name: node.name.clone(),
                            error: error.clone(),
                            duration_ms: millis(finished.elapsed),
                        });
                        self.record(
                            &node,
                            NodeRunStatus::Error,
                            finished.started_at,
                            finished.elapsed,
                            finished.items_in,
                            Vec::new(),
                            Some(error.clone()),
                        );
                        return Err(error);
                    }
                    (policy, Some(input), _) => {
                        let port = if policy == OnError::Continue { nodes::result_port(&node) } else { ERROR_OUTPUT };
                        let items = Arc::unwrap_or_clone(input)
                            .into_iter()
                            .enumerate()
                            .map(|(i, mut item)| {
                                item.paired = Paired::item(i);
                                item.error = Some(Box::new(error.clone()));
                                item
                            })
                            .collect::<Vec<_>>();
                        let mut outputs = Outputs::new();
                        outputs.extend(port, items);
                        (outputs, NodeRunStatus::Error, Some(error))
                    }
                }
            }
        };

        let declared = descriptor.output_names(&node);
        let mut ports: Vec<(String, Vec<Item>)> = Vec::with_capacity(declared.len());
        let mut produced = outputs.into_ports();
        if let Some((name, _)) = produced.iter().find(|(name, _)| !declared.contains(name)) {
            let error = NodeError::new(
                ErrorCode::Internal,
                format!("the node emitted items on an output it does not have: \"{name}\""),
            );
            return Err(NodeError { node_id: Some(node.id.clone()), node_name: Some(node.name.clone()), ..error });
        }
        for name in &declared {
            let items = produced
                .iter_mut()
                .find(|(n, _)| n == name)
                .map(|(_, items)| std::mem::take(items))
                .unwrap_or_default();
            ports.push((name.clone(), items));
        }

        if announce {
            let counts: Vec<OutputCount> = ports
                .iter()
                .map(|(name, items)| OutputCount { name: name.clone(), items: items.len() as u32 })
                .collect();
            let kept = cut_outputs(&ports, self.services.run_data);
            self.record(&node, status, finished.started_at, finished.elapsed, finished.items_in, kept, error);
            self.emitter.emit(RunEventKind::NodeFinished {
                node_id: node.id.clone(),
                node_name: node.name.clone(),
                status,
                items_in: finished.items_in as u32,
                outputs: counts,
                duration_ms: millis(finished.elapsed),
            });
        }

        let is_leaf = self.leaves.contains(&index) || self.sinks.contains(&index);
        let is_parallel = plan.branches.contains_key(&index);
        let port_bytes = self.measure_outputs(&node, &ports)?;
        // A Parallel or Batch node's result is its "done" output; once done, its branch
        // outputs have been taken already.
        let result_port = nodes::result_port(&node);
        let mut history_outputs = Vec::new();
        for ((name, items), bytes) in ports.into_iter().zip(port_bytes) {
            let consumers = if is_parallel && announce && name != flow_parallel::DONE {
                0
            } else {
                plan.consumer_count(index, &name)
            };
            if consumers == 0 && !(is_leaf && name == result_port) && self.history.is_none() {
                continue;
            }
            let items = Arc::new(items);
            if self.history.is_some() {
                history_outputs.push((name.clone(), items.clone()));
            }
            if is_leaf && name == result_port {
                // The run's result is held to its end.
                self.live_bytes += bytes;
                self.results.insert(index, items.clone());
            }
            if consumers > 0 {
                self.live_bytes += bytes;
                self.slot_bytes.insert((index, name.clone()), bytes);
                self.slots.insert((index, name), (items, consumers));
            }
        }
        if let Some(history) = &self.history {
            let mut nodes = history.nodes.write().unwrap_or_else(|p| p.into_inner());
            nodes.entry(index).or_default().outputs = history_outputs;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        node: &Node,
        status: NodeRunStatus,
        started_at: DateTime<Utc>,
        elapsed: Duration,
        items_in: usize,
        outputs: Vec<OutputData>,
        error: Option<NodeError>,
    ) {
        let data = NodeRunData {
            node_id: node.id.clone(),
            node_name: node.name.clone(),
            status,
            started_at: rfc3339(started_at),
            duration_ms: millis(elapsed),
            items_in: items_in as u32,
            outputs,
            error,
        };
        self.emitter.node_data(&data);
        self.node_data.push(data);
    }
}

impl BatchRun {
    /// The input position a result item of `sink` came from, through the chain's lineage;
    /// `usize::MAX` when the loop is not a simple chain.
    fn trace(&self, sink: usize, item: &Item) -> usize {
        let Some(chain) = &self.chain else { return usize::MAX };
        let Some(mut k) = chain.iter().position(|&n| n == sink) else { return usize::MAX };
        let mut position = item.paired.as_slice().first().map(|p| p.item as usize);
        while let Some(pos) = position {
            if k == 0 {
                return self.current.get(pos).copied().unwrap_or(usize::MAX);
            }
            k -= 1;
            position = self.lineage.get(&chain[k]).and_then(|l| l.get(pos).copied().flatten()).map(|p| p as usize);
        }
        usize::MAX
    }
}

/// The loop's nodes in order when each takes one input from the one before it (the first
/// from the Batch node) and the last is the only sink; otherwise `None`.
fn chain_of(members: &[usize], plan: &Plan) -> Option<Vec<usize>> {
    let in_region = |n: &usize| members.contains(n);
    let first: Vec<usize> = members.iter().copied().filter(|m| !plan.upstream[*m].iter().any(in_region)).collect();
    let &[mut at] = first.as_slice() else { return None };
    let mut chain = vec![at];
    loop {
        let next: Vec<usize> = plan.downstream[at].iter().copied().filter(|d| in_region(d)).collect();
        match next.as_slice() {
            [] => break,
            [n] if plan.inputs[*n].len() == 1 && plan.inputs[*n][0].len() == 1 => {
                at = *n;
                chain.push(at);
            }
            _ => return None,
        }
    }
    (chain.len() == members.len()).then_some(chain)
}

/// Items a node passes on without running: on its main output, or a Parallel or Batch
/// node's "done".
fn pass_on(node: &Node, items: Vec<Item>) -> Outputs {
    let mut out = Outputs::new();
    out.extend(nodes::result_port(node), items);
    out
}

/// Joins the items of several sources into one input, without copying when there is one.
fn concat(mut parts: Vec<Arc<Vec<Item>>>) -> Arc<Vec<Item>> {
    match parts.len() {
        0 => Arc::default(),
        1 => parts.pop().unwrap_or_default(),
        _ => {
            let total = parts.iter().map(|p| p.len()).sum();
            let mut all = Vec::with_capacity(total);
            for part in parts {
                all.extend(Arc::unwrap_or_clone(part));
            }
            Arc::new(all)
        }
    }
}

/// Keeps the first items of each output within the run-data limits.
pub fn cut_outputs(ports: &[(String, Vec<Item>)], limits: RunDataLimits) -> Vec<OutputData> {
    let mut budget = limits.max_bytes;
    ports
        .iter()
        .map(|(name, items)| {
            let mut kept = Vec::new();
            for item in items.iter().take(limits.max_items) {
                let size = item.json.json_len() + 32;
                if size > budget {
                    break;
                }
                budget -= size;
                kept.push(item.clone());
            }
            OutputData {
                name: name.clone(),
                total: items.len() as u32,
                truncated: kept.len() < items.len(),
                items: kept,
            }
        })
        .collect()
}
