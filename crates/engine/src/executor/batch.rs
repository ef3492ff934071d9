//! The loop of a node whose region is a [`crate::region::Region::Loop`] (Batch): the region runs once per
//! batch of items, one batch after the other; failed items stop the loop or are collected
//! and run again; "done" gets every result in input order.

use super::{Finished, Run, Started, held};
use crate::node::{Outputs, ProgressSink};
use crate::region::DONE;
use crate::schedule::{Plan, Schedule};
use std::collections::HashMap;
use std::sync::Arc;
use switchyard_model::error::NodeError;
use switchyard_model::item::{Item, Paired};
use switchyard_model::workflow::MAIN;

/// A Batch node running its loop: one batch of items at a time through its region.
pub(super) struct BatchRun {
    /// The output the region hangs on.
    pub(super) output: String,
    pub(super) size: usize,
    pub(super) stop_on_error: bool,
    pub(super) rounds_left: u32,
    pub(super) members: Vec<usize>,
    /// The region's nodes from first to last, when they form a simple chain: then every
    /// result item can be traced back to the batch item it came from.
    pub(super) chain: Option<Vec<usize>>,
    pub(super) left: usize,
    /// Every item the node was given, and how many region inputs take each batch.
    pub(super) all: Arc<Vec<Item>>,
    pub(super) consumers: usize,
    /// Input positions still to run, and those of the batch running now.
    pub(super) queue: std::collections::VecDeque<usize>,
    pub(super) current: Vec<usize>,
    /// Per chain node: the item each of its output items came from.
    pub(super) lineage: HashMap<usize, Vec<Option<u32>>>,
    pub(super) sink_items: Vec<(usize, Arc<Vec<Item>>)>,
    /// Batch items that failed somewhere along the chain (with `onError: continue`).
    pub(super) item_failures: std::collections::BTreeMap<usize, NodeError>,
    pub(super) batch_error: Option<NodeError>,
    /// Results by input position (`usize::MAX`: not traceable), and failed positions.
    pub(super) done: Vec<(usize, Item)>,
    pub(super) failed: std::collections::BTreeMap<usize, Vec<Item>>,
    pub(super) first_error: Option<NodeError>,
    pub(super) batches_run: usize,
    pub(super) started: Started,
}

impl Run {
    /// A Batch node handed on its items: the first batch starts.
    pub(super) fn start_batches(
        &mut self,
        finished: Finished,
        (output, size, stop_on_error, rounds): (String, usize, bool, u32),
        plan: &Plan,
        schedule: &mut Schedule,
    ) -> Result<(), NodeError> {
        let index = finished.index;
        let started = Started::of(&finished);
        let all = match &finished.result {
            Ok(outputs) => outputs.get(&output).len(),
            Err(_) => 0,
        };
        self.finish_node(finished, plan, false)?;
        let key = (index, output.clone());
        // The Batch node keeps all its items while it loops: they stay in the run's count.
        if let Some(bytes) = self.slot_bytes.remove(&key) {
            self.slot_bytes.insert(held(index), bytes);
        }
        let (items, consumers) = self.slots.remove(&key).unwrap_or_default();
        debug_assert!(items.len() == all || consumers == 0);
        let members = plan.branches[&index].first().map(|(_, m)| m.clone()).unwrap_or_default();
        let chain = chain_of(&members, plan);
        let run = BatchRun {
            output,
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
    pub(super) fn next_batch(
        &mut self,
        owner: usize,
        plan: &Plan,
        schedule: &mut Schedule,
        first: bool,
    ) -> Result<(), NodeError> {
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
        self.slots.insert((owner, run.output.clone()), (Arc::new(items), consumers));
        if first {
            schedule.finish(owner);
        } else {
            schedule.reset(&members, &plan.upstream);
        }
        Ok(())
    }

    /// A node of a Batch node's loop finished (with its error when it failed and stopped).
    pub(super) fn batch_member_done(
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
            run.lineage.insert(index, items.iter().map(|i| i.source().map(|p| p.item)).collect());
            // Items that failed here (and went on carrying their error) fail their batch item.
            for item in items.iter().filter(|i| i.error().is_some()) {
                let origin = run.trace(index, item);
                if origin != usize::MAX
                    && let Some(error) = item.error()
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
    pub(super) fn batch_finished(
        &mut self,
        owner: usize,
        plan: &Plan,
        schedule: &mut Schedule,
    ) -> Result<(), NodeError> {
        let node_id = self.prepared.workflow.nodes[owner].id.clone();
        let Some(run) = self.batches.get_mut(&owner) else { return Ok(()) };
        run.batches_run += 1;
        let mut failures: Vec<(usize, Item, NodeError)> = Vec::new();
        if let Some(error) = run.batch_error.take() {
            for &i in &run.current {
                let mut item = run.all[i].clone();
                item.set_error(error.clone());
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
                    match item.error().cloned() {
                        Some(error) => failures.push((origin, item, error)),
                        None => run.done.push((origin, item)),
                    }
                }
            }
            // A batch item that failed along the way leaves as itself, with its error.
            for (origin, error) in failed {
                let mut item = run.all[origin].clone();
                item.set_paired(Paired::item(origin));
                item.set_error(error.clone());
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
    pub(super) fn finish_batches(&mut self, owner: usize, plan: &Plan) -> Result<(), NodeError> {
        let Some(run) = self.batches.remove(&owner) else { return Ok(()) };
        self.release(&held(owner));
        let mut outputs = Outputs::new();
        outputs.extend(&run.output, run.all.iter().cloned());
        let result = match (&run.first_error, run.stop_on_error) {
            (Some(error), true) => {
                let message = format!("batch {} (of {} items) failed: {}", run.batches_run, run.size, error.message);
                Err(NodeError { message, node_id: None, node_name: None, item_index: None, ..error.clone() })
            }
            _ => {
                let mut done = run.done;
                done.extend(run.failed.into_iter().flat_map(|(i, items)| items.into_iter().map(move |item| (i, item))));
                done.sort_by_key(|(i, _)| *i);
                outputs.extend(DONE, done.into_iter().map(|(_, item)| item));
                Ok(outputs)
            }
        };
        self.owner_done(owner, result, run.all, &run.started, plan)
    }
}

impl BatchRun {
    /// The input position a result item of `sink` came from, through the chain's lineage;
    /// `usize::MAX` when the loop is not a simple chain.
    pub(super) fn trace(&self, sink: usize, item: &Item) -> usize {
        let Some(chain) = &self.chain else { return usize::MAX };
        let Some(mut k) = chain.iter().position(|&n| n == sink) else { return usize::MAX };
        let mut position = item.source().map(|p| p.item as usize);
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
