//! Running a workflow: nodes in dependency order, independent branches concurrently on
//! tokio, events to every listener, cancellation and a per-run timeout.
//!
//! - this file: the engine, a prepared workflow, a run's request, outcome and state;
//! - [`run`]: a run from start to end (the scheduler loop) and taking in finished nodes;
//! - [`step`]: starting one node and storing what it produced, within the item limits;
//! - [`batch`] and [`parallel`]: the regions of Batch-like and Parallel-like nodes;
//! - [`history`]: the outputs expressions may read (`node(…)`, `item(…)`);
//! - [`emitter`]: events and node data to the run's listeners.

mod batch;
mod emitter;
mod history;
mod parallel;
mod run;
mod step;

pub use step::cut_outputs;

use crate::node::{CompiledParams, Outputs};
use crate::region::Region;
use crate::registry::{NodeEntry, Registry};
use crate::schedule::Plan;
use crate::services::Services;
use crate::validate;
use batch::BatchRun;
use chrono::{DateTime, Utc};
use emitter::Emitter;
use history::RunHistory;
use parallel::ParallelRun;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use switchyard_model::error::{ErrorCode, NodeError, ValidationIssue};
use switchyard_model::events::RunEvent;
use switchyard_model::execution::{NodeRunData, NodeRunStatus, RunMode, RunStatus};
use switchyard_model::item::Item;
use switchyard_model::workflow::Workflow;
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
    /// Each node as it runs (a slot without an account label takes the workflow's choice for
    /// its type), shared by every run rather than copied per node run.
    nodes: Vec<Arc<switchyard_model::workflow::Node>>,
    entries: Vec<NodeEntry>,
    input_names: Vec<Vec<String>>,
    /// Each node's regions, if it is a region node (Batch, Parallel).
    regions: Vec<Option<Region>>,
    /// Whether any expression or script reads other nodes' items (`node(…)`, `item(…)`):
    /// only then are all outputs kept for the whole run.
    reads_history: bool,
    /// Each node's parameters as compiled by its first run, reused by every later one.
    params: Vec<Arc<CompiledParams>>,
    /// Plans made so far, by start nodes and stop node: a version's runs mostly start alike.
    plans: std::sync::Mutex<Vec<KeptPlan>>,
}

/// A plan kept for the runs from `starts` that stop at `until`.
#[derive(Debug)]
struct KeptPlan {
    starts: Vec<usize>,
    until: Option<usize>,
    plan: Arc<Plan>,
}

/// Plans kept per prepared workflow; runs from other starts get a fresh one each.
const PLANS_KEPT: usize = 16;

impl Prepared {
    pub fn node_index(&self, id: &str) -> Option<usize> {
        self.workflow.nodes.iter().position(|n| n.id == id)
    }

    /// The plan of a run from `starts` (until `until`), made once and then shared.
    fn plan_for(&self, starts: &[usize], until: Option<usize>) -> Arc<Plan> {
        let mut plans = self.plans.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(kept) = plans.iter().find(|k| k.starts == starts && k.until == until) {
            return kept.plan.clone();
        }
        let plan = Arc::new(Plan::new(&self.workflow, &self.input_names, &self.regions, starts, until));
        if plans.len() < PLANS_KEPT {
            plans.push(KeptPlan { starts: starts.to_vec(), until, plan: plan.clone() });
        }
        plan
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
    /// Outputs (by output name) to use instead of running these nodes, by node id: a retry
    /// from the failed node reuses what succeeded before. Region nodes (Batch, Parallel) and
    /// the nodes in their regions run again all the same.
    pub reuse: Reuse,
    /// Breakpoints: the run pauses before marked nodes (see [`crate::debugger`]).
    pub debugger: Option<crate::debugger::Debugger>,
}

/// Recorded outputs that stand in for nodes (by node id): each output's name and items.
pub type Reuse = HashMap<String, Vec<(String, Vec<Item>)>>;

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

    /// The same node types with other services (a run's), without copying the types.
    pub fn with_services(&self, services: Services) -> Engine {
        Engine { registry: self.registry.clone(), services }
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
        let mut regions = Vec::with_capacity(workflow.nodes.len());
        for node in &workflow.nodes {
            let entry = self.registry.get(&node.node_type, node.version).cloned().ok_or_else(|| {
                vec![ValidationIssue::new(
                    ErrorCode::UnknownNodeType,
                    "$.nodes",
                    format!("unknown node type {}", node.node_type),
                )]
            })?;
            input_names.push(entry.descriptor.input_names());
            regions.push(entry.region(node));
            entries.push(entry);
        }
        let reads_history = workflow.nodes.iter().any(|n| n.parameters.values().any(mentions_history));
        let nodes = workflow.nodes.iter().map(|n| Arc::new(workflow.with_default_accounts(n).into_owned())).collect();
        let params = workflow.nodes.iter().map(|_| Arc::default()).collect();
        Ok(Arc::new(Prepared {
            workflow: Arc::new(workflow),
            nodes,
            entries,
            input_names,
            regions,
            reads_history,
            params,
            plans: std::sync::Mutex::default(),
        }))
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

enum Decision {
    Run,
    Skip,
    PassThrough,
    Pinned(Vec<Item>),
    Reused(Vec<(String, Vec<Item>)>),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Registry, Services, SystemClock};
    use serde_json::Value as Json;
    use switchyard_model::value::Value;

    /// Two triggers, each → its own Set node with an expression.
    fn prepared(engine: &Engine) -> Arc<Prepared> {
        let text = serde_json::json!({
            "switchyard": 1, "id": "cache", "name": "Cache",
            "nodes": [
                {"id": "a", "name": "A", "type": "trigger.manual"},
                {"id": "b", "name": "B", "type": "trigger.manual"},
                {"id": "sa", "name": "Set A", "type": "data.set",
                 "parameters": {"assignments": [{"name": "twice", "value": "{{ json.n * 2 }}"}]}},
                {"id": "sb", "name": "Set B", "type": "data.set",
                 "parameters": {"assignments": [{"name": "thrice", "value": "{{ json.n * 3 }}"}]}}
            ],
            "connections": [
                {"from": {"node": "a"}, "to": {"node": "sa"}},
                {"from": {"node": "b"}, "to": {"node": "sb"}}
            ]
        })
        .to_string();
        let report = crate::validate::validate_text(&text, engine.registry());
        engine.prepare(report.workflow.expect("valid")).expect("prepared")
    }

    async fn run_from(engine: &Engine, prepared: &Arc<Prepared>, start: &str, n: i64) -> Vec<Item> {
        let input = vec![Item::wrap(Value::from(serde_json::json!({ "n": n })))];
        let request =
            RunRequest { execution_id: format!("{start}{n}"), input, start: Some(start.into()), ..Default::default() };
        let outcome = engine.run(prepared.clone(), request).await;
        assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
        outcome.result
    }

    fn compiled(prepared: &Prepared, node: usize) -> Vec<(String, Arc<crate::expr::Compiled>)> {
        let guard = prepared.params[node].0.lock().unwrap();
        let mut all: Vec<_> = guard.by_key.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        all.sort_by(|x, y| x.0.cmp(&y.0));
        all
    }

    #[tokio::test]
    async fn a_versions_runs_share_its_plans_and_compiled_parameters() {
        let engine = Engine::new(
            Registry::builtin(),
            Services::new(Arc::new(SystemClock), crate::services::default_http_client()),
        );
        let prepared = prepared(&engine);
        let [a, b, sa] = ["a", "b", "sa"].map(|id| prepared.node_index(id).unwrap());
        assert!(compiled(&prepared, sa).is_empty());

        let first = run_from(&engine, &prepared, "a", 2).await;
        assert_eq!(Json::from(&first[0].json), serde_json::json!({"n": 2, "twice": 4}));
        let after_first = compiled(&prepared, sa);
        let names: Vec<&str> = after_first.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["assignments[0].name", "assignments[0].value"]);

        // A second run gets the right answer from the same compiled parameters and plan.
        let second = run_from(&engine, &prepared, "a", 5).await;
        assert_eq!(Json::from(&second[0].json), serde_json::json!({"n": 5, "twice": 10}));
        let after_second = compiled(&prepared, sa);
        assert_eq!(after_first.len(), after_second.len());
        for ((_, x), (_, y)) in after_first.iter().zip(&after_second) {
            assert!(Arc::ptr_eq(x, y), "compiled again");
        }
        assert!(Arc::ptr_eq(&prepared.plan_for(&[a], None), &prepared.plan_for(&[a], None)));

        // Another start has a plan of its own, with its own nodes.
        let other = run_from(&engine, &prepared, "b", 2).await;
        assert_eq!(Json::from(&other[0].json), serde_json::json!({"n": 2, "thrice": 6}));
        let (plan_a, plan_b) = (prepared.plan_for(&[a], None), prepared.plan_for(&[b], None));
        assert!(!Arc::ptr_eq(&plan_a, &plan_b));
        assert!(plan_a.order.contains(&sa) && !plan_b.order.contains(&sa));
        assert_eq!(prepared.plans.lock().unwrap().len(), 2);
    }
}
