//! The branches of a node whose region is [`crate::region::Region::Branches`] (Parallel): they run at the
//! same time and are waited for by the node's strategy (all, race, quorum), with a branch
//! timeout; "done" gets the succeeded branches' items.

use super::{Finished, Run, Started, held};
use crate::node::Outputs;
use crate::region::{DONE, Strategy};
use crate::schedule::{Plan, Schedule};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError};
use switchyard_model::item::Item;

/// A Parallel node between sending its items down its branches and its "done".
pub(super) struct ParallelRun {
    pub(super) strategy: Strategy,
    pub(super) deadline: Option<tokio::time::Instant>,
    pub(super) timeout: Option<Duration>,
    pub(super) branches: Vec<BranchRun>,
    pub(super) branch_items: Vec<(String, Arc<Vec<Item>>)>,
    pub(super) started: Started,
    pub(super) input: Arc<Vec<Item>>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum BranchState {
    Running,
    Succeeded,
    Failed(NodeError),
}

pub(super) struct BranchRun {
    pub(super) name: String,
    pub(super) members: Vec<usize>,
    pub(super) sinks: Vec<usize>,
    pub(super) left: usize,
    pub(super) state: BranchState,
    /// The sinks' items, by sink.
    pub(super) items: HashMap<usize, Arc<Vec<Item>>>,
}

impl Run {
    /// A Parallel node handed its items to its branches: the branches start.
    pub(super) fn start_branches(
        &mut self,
        finished: Finished,
        strategy: Strategy,
        timeout: Option<Duration>,
        plan: &Plan,
        schedule: &mut Schedule,
    ) -> Result<(), NodeError> {
        let index = finished.index;
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
    pub(super) fn branch_done(
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
    pub(super) fn stop_branch(&mut self, parallel: usize, branch: &str, reason: &str, schedule: &mut Schedule) {
        let members = self
            .parallels
            .get(&parallel)
            .and_then(|p| p.branches.iter().find(|b| b.name == branch))
            .map(|b| b.members.clone())
            .unwrap_or_default();
        self.stop_nodes(&members, reason, schedule);
    }

    /// Fails the branches still running past their Parallel node's branch timeout.
    pub(super) fn expire_branches(&mut self, plan: &Plan, schedule: &mut Schedule) -> Result<(), NodeError> {
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
    pub(super) fn resolve(&mut self, parallel: usize, plan: &Plan, schedule: &mut Schedule) -> Result<(), NodeError> {
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
            outputs.extend(DONE, done);
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
}
