//! One node of a run: gathering its inputs, deciding whether it runs (skipped, disabled,
//! pinned), running it with its retry policy, and storing its outputs within the run's item
//! limits.

use super::history::{HistoryView, Segment};
use super::run::{concat, pass_on};
use super::{Decision, Finished, Run};
use crate::clock::{millis, rfc3339};
use crate::expr::{Evaluator, History, NoHistory, ScriptEnv};
use crate::node::{Input, NodeContext, Outputs, ProgressSink};
use crate::region::DONE;
use crate::schedule::Plan;
use crate::services::RunDataLimits;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError};
use switchyard_model::events::{OutputCount, RunEventKind};
use switchyard_model::execution::{NodeRunData, NodeRunStatus, OutputData, RunMode};
use switchyard_model::item::{Item, Paired};
use switchyard_model::workflow::{ERROR_OUTPUT, Node, OnError};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

impl Run {
    /// Gathers a node's inputs, then either finishes it at once (skipped, disabled, pinned)
    /// or spawns it.
    pub(super) fn start_node(
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
        let reused = if self.in_region(index, plan) { None } else { self.request.reuse.remove(&node.id) };
        let decision = if let Some(outputs) = reused {
            Decision::Reused(outputs)
        } else if let Some(pinned) = self.workflow().pin_data.get(&node.id).filter(|_| self.pins_apply()) {
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
            Decision::Pinned(items) => Some(immediate(NodeRunStatus::Pinned, Ok(pass_on(&entry, items)))),
            Decision::Reused(outputs) => {
                let mut out = Outputs::new();
                for (port, items) in outputs {
                    out.append(&port, items);
                }
                Some(immediate(NodeRunStatus::Reused, Ok(out)))
            }
            Decision::PassThrough => {
                let first = inputs.into_iter().next().map(Input::into_vec).unwrap_or_default();
                let items = first
                    .into_iter()
                    .enumerate()
                    .map(|(i, mut item)| {
                        item.set_paired(Paired::item(i));
                        item
                    })
                    .collect();
                Some(immediate(NodeRunStatus::Disabled, Ok(pass_on(&entry, items))))
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
                // A slot without an account label uses the workflow's choice for its type.
                let node = prepared.nodes[index].clone();
                let params = prepared.params[index].clone();
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
                                params.clone(),
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
                            params,
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

    /// Whether a node is a region node (Batch, Parallel) or in a region: such nodes run again
    /// on a retry rather than reuse their recorded outputs.
    pub(super) fn in_region(&self, index: usize, plan: &Plan) -> bool {
        self.prepared.regions[index].is_some()
            || plan.branches.values().flatten().any(|(_, members)| members.contains(&index))
    }

    /// A slot's items are no longer held: their bytes leave the run's count.
    pub(super) fn release(&mut self, key: &(usize, String)) {
        if let Some(bytes) = self.slot_bytes.remove(key) {
            self.live_bytes = self.live_bytes.saturating_sub(bytes);
        }
    }

    /// The size of each output of a finished node, checking every item against the item
    /// limit and all of them, with what the run holds already, against the run's limit.
    pub(super) fn measure_outputs(&self, node: &Node, ports: &[(String, Vec<Item>)]) -> Result<Vec<usize>, NodeError> {
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

    pub(super) fn take_slot(&mut self, node: usize, output: &str) -> Arc<Vec<Item>> {
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
    pub(super) fn finish_node(&mut self, finished: Finished, plan: &Plan, announce: bool) -> Result<(), NodeError> {
        let index = finished.index;
        let prepared = self.prepared.clone();
        let node = &prepared.workflow.nodes[index];
        let descriptor = self.prepared.entries[index].descriptor.clone();
        // A region node's result is its "done" output; once done, its region outputs have
        // been taken already.
        let result_port = self.prepared.entries[index].result_port();
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
                            node,
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
                        let port = if policy == OnError::Continue { result_port } else { ERROR_OUTPUT };
                        let items = Arc::unwrap_or_clone(input)
                            .into_iter()
                            .enumerate()
                            .map(|(i, mut item)| {
                                item.set_paired(Paired::item(i));
                                item.set_error(error.clone());
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

        let declared = descriptor.output_names(node);
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
            self.record(node, status, finished.started_at, finished.elapsed, finished.items_in, kept, error);
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
        let port_bytes = self.measure_outputs(node, &ports)?;
        let mut history_outputs = Vec::new();
        for ((name, items), bytes) in ports.into_iter().zip(port_bytes) {
            let consumers = if is_parallel && announce && name != DONE { 0 } else { plan.consumer_count(index, &name) };
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
    pub(super) fn record(
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
