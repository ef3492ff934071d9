//! A run from start to end: which triggers start it, the scheduler loop that starts ready
//! nodes and takes in finished ones, the run timeout and cancellation.

use super::emitter::Emitter;
use super::history::RunHistory;
use super::parallel::BranchState;
use super::{Finished, Prepared, Run, RunOutcome, RunRequest, Started};
use crate::clock::millis;
use crate::node::Outputs;
use crate::region::Region;
use crate::registry::NodeEntry;
use crate::schedule::{Plan, Schedule};
use crate::services::Services;
use crate::trigger::Trigger;
use std::collections::HashMap;
use std::sync::atomic::AtomicU32;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use switchyard_model::error::{ErrorCode, NodeError};
use switchyard_model::events::RunEventKind;
use switchyard_model::execution::{DebugAction, NodeRunStatus, RunStatus};
use switchyard_model::item::Item;
use switchyard_model::workflow::{OnError, Workflow};
use tokio::task::JoinSet;

impl Run {
    pub(super) fn new(mut services: Services, prepared: Arc<Prepared>, mut request: RunRequest) -> Run {
        // Each run counts the files it stores against its own quota.
        services.blobs = services.blobs.for_run();
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

    pub(super) fn workflow(&self) -> &Workflow {
        &self.prepared.workflow
    }

    /// Whether pinned data stands in for nodes: in runs started by hand (the editor,
    /// `switchyard run`, a test event), never in runs a trigger, another workflow or a retry
    /// started — an active workflow runs for real.
    pub(super) fn pins_apply(&self) -> bool {
        use switchyard_model::execution::RunMode;
        matches!(self.request.mode.unwrap_or(RunMode::Manual), RunMode::Manual | RunMode::Cli | RunMode::Test)
    }

    pub(super) fn start_nodes(&self) -> Result<Vec<usize>, NodeError> {
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
        let manual: Vec<usize> = triggers
            .iter()
            .copied()
            .filter(|&i| matches!(self.prepared.entries[i].trigger(), Some(Trigger::Manual)))
            .collect();
        let starts = if manual.is_empty() { triggers } else { manual };
        if starts.is_empty() {
            return Err(NodeError::new(ErrorCode::NoTrigger, "the workflow has no trigger node"));
        }
        Ok(starts)
    }

    pub(super) async fn execute(mut self) -> RunOutcome {
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

    pub(super) fn plan(&self) -> Result<Arc<Plan>, NodeError> {
        let starts = self.start_nodes()?;
        let until =
            match &self.request.until {
                Some(id) => Some(self.prepared.node_index(id).ok_or_else(|| {
                    NodeError::new(ErrorCode::UnknownNode, format!("there is no node with id \"{id}\""))
                })?),
                None => None,
            };
        Ok(self.prepared.plan_for(&starts, until))
    }

    pub(super) async fn drive(
        &mut self,
        plan: Arc<Plan>,
        deadline: tokio::time::Instant,
    ) -> (RunStatus, Option<NodeError>) {
        self.leaves = plan.leaves();
        self.sinks = plan.branches.values().flatten().flat_map(|(_, members)| plan.branch_sinks(members)).collect();
        self.triggers_left = plan.order.iter().filter(|&&i| self.prepared.entries[i].descriptor.is_trigger()).count();
        let mut schedule = Schedule::new(&plan);
        let mut tasks: JoinSet<Finished> = JoinSet::new();
        let cancel = self.request.cancel.child_token();
        let mut debug = self.request.debugger.take().map(|debugger| Paused { debugger, at: None, stepping: false });
        // Time spent paused does not count against the run's timeout.
        let mut deadline = deadline;
        let outcome = 'run: loop {
            while debug.as_ref().is_none_or(|d| d.at.is_none())
                && let Some(index) = schedule.next_ready()
            {
                if let Some(d) = debug.as_mut()
                    && (d.stepping || d.debugger.breaks_at(&self.workflow().nodes[index].id))
                    && self.runs_for_real(index, &plan)
                {
                    d.debugger.drain();
                    d.at = Some((index, tokio::time::Instant::now()));
                    self.emit_paused(index, &plan, d.stepping);
                    break;
                }
                if let Some(finished) = self.start_node(index, &plan, &mut tasks, &cancel)
                    && let Err(error) = self.complete(finished, &plan, &mut schedule)
                {
                    break 'run (RunStatus::Error, Some(error));
                }
            }
            let paused = debug.as_ref().and_then(|d| d.at).map(|(index, _)| index);
            if tasks.is_empty() && paused.is_none() {
                break (RunStatus::Success, None);
            }
            let branch_deadline = self.parallels.values().filter_map(|p| p.deadline).min();
            tokio::select! {
                joined = tasks.join_next_with_id(), if !tasks.is_empty() => {
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
                action = async {
                    match debug.as_mut() {
                        Some(d) => d.debugger.next().await,
                        None => std::future::pending().await,
                    }
                }, if paused.is_some() => {
                    let Some(d) = debug.as_mut() else { continue };
                    let Some((index, since)) = d.at.take() else { continue };
                    deadline += since.elapsed();
                    let node = &self.prepared.workflow.nodes[index];
                    self.emitter.emit(RunEventKind::RunResumed { node_id: node.id.clone(), action });
                    match action {
                        DebugAction::Stop => {
                            let message = format!("the run was stopped at the breakpoint before \"{}\"", node.name);
                            break (RunStatus::Cancelled, Some(NodeError::new(ErrorCode::Cancelled, message)));
                        }
                        DebugAction::Continue => d.stepping = false,
                        DebugAction::Step => d.stepping = true,
                    }
                    // Its branch may have been stopped while it waited.
                    if !schedule.is_finished(index)
                        && let Some(finished) = self.start_node(index, &plan, &mut tasks, &cancel)
                        && let Err(error) = self.complete(finished, &plan, &mut schedule)
                    {
                        break (RunStatus::Error, Some(error));
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
                () = tokio::time::sleep_until(deadline), if paused.is_none() => {
                    let seconds = self.workflow().settings.timeout_seconds;
                    break (RunStatus::Timeout, Some(NodeError::new(ErrorCode::Timeout, format!("the run took longer than its timeout of {seconds} s"))));
                }
            }
        };
        cancel.cancel();
        tasks.shutdown().await;
        outcome
    }

    /// Whether a node about to start would run for real: not reused from an earlier run,
    /// pinned, disabled (passed through) or skipped for want of items. Only those pause at
    /// a breakpoint.
    fn runs_for_real(&self, index: usize, plan: &Plan) -> bool {
        let node = &self.workflow().nodes[index];
        if (!self.in_region(index, plan) && self.request.reuse.contains_key(&node.id))
            || (self.pins_apply() && self.workflow().pin_data.contains_key(&node.id))
            || node.settings.disabled
        {
            return false;
        }
        self.prepared.entries[index].descriptor.is_trigger()
            || plan.inputs[index].iter().flatten().any(|source| {
                self.slots.get(&(source.node, source.output.clone())).is_some_and(|(items, _)| !items.is_empty())
            })
    }

    /// Reports a pause before `index` with the items waiting on each of its inputs.
    fn emit_paused(&self, index: usize, plan: &Plan, stepping: bool) {
        let limits = self.services.run_data;
        let mut inputs = Vec::new();
        let mut items_in = 0;
        for (name, sources) in self.prepared.input_names[index].iter().zip(&plan.inputs[index]) {
            let mut items = Vec::new();
            let mut total = 0;
            for source in sources {
                if let Some((waiting, _)) = self.slots.get(&(source.node, source.output.clone())) {
                    total += waiting.len();
                    items.extend(waiting.iter().take(limits.max_items.saturating_sub(items.len())).cloned());
                }
            }
            items_in += total;
            let mut cut = super::cut_outputs(&[(name.clone(), items)], limits);
            if let Some(data) = cut.first_mut() {
                data.truncated |= total > data.items.len();
                data.total = total as u32;
            }
            inputs.extend(cut);
        }
        let node = &self.workflow().nodes[index];
        self.emitter.emit(RunEventKind::NodePaused {
            node_id: node.id.clone(),
            node_name: node.name.clone(),
            items_in: items_in as u32,
            inputs,
            stepping,
        });
    }

    /// Takes in a finished node: stores its outputs, moves the schedule on, and keeps the
    /// books of Parallel nodes and their branches.
    pub(super) fn complete(
        &mut self,
        finished: Finished,
        plan: &Plan,
        schedule: &mut Schedule,
    ) -> Result<(), NodeError> {
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
            return match self.prepared.regions[index].clone() {
                Some(Region::Loop { output, size, stop_on_error, rounds }) => {
                    self.start_batches(finished, (output, size, stop_on_error, rounds), plan, schedule)
                }
                Some(Region::Branches { strategy, timeout, .. }) => {
                    self.start_branches(finished, strategy, timeout, plan, schedule)
                }
                None => Err(NodeError::new(ErrorCode::Internal, "a node with branches has no regions")),
            };
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

    /// Records and reports a Parallel or Batch node once it is done. Its *On error* applies
    /// as for any node: with *continue*, its input items leave "done" carrying the error.
    pub(super) fn owner_done(
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

    /// Marks unfinished `nodes` finished, stopping those that run (they are recorded as
    /// stopped, with `reason`, when their task ends).
    pub(super) fn stop_nodes(&mut self, nodes: &[usize], reason: &str, schedule: &mut Schedule) {
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
    pub(super) fn record_stopped(&mut self, index: usize) {
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
}

/// A run with breakpoints: its debugger, the node it is paused before (with since when),
/// and whether it steps (pauses before every node that runs).
struct Paused {
    debugger: crate::debugger::Debugger,
    at: Option<(usize, tokio::time::Instant)>,
    stepping: bool,
}

/// Items a node passes on without running, on its result port (main, or a region node's
/// "done").
pub(super) fn pass_on(entry: &NodeEntry, items: Vec<Item>) -> Outputs {
    let mut out = Outputs::new();
    out.extend(entry.result_port(), items);
    out
}

/// Joins the items of several sources into one input, without copying when there is one.
pub(super) fn concat(mut parts: Vec<Arc<Vec<Item>>>) -> Arc<Vec<Item>> {
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
