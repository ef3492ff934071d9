//! A run's events and node data, sent to its listeners with sequence numbers.

use super::RunListener;
use crate::clock::{millis, rfc3339};
use crate::node::ProgressSink;
use crate::services::Services;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchyard_model::error::NodeError;
use switchyard_model::events::{RunEvent, RunEventKind};
use switchyard_model::execution::NodeRunData;
use switchyard_model::workflow::Node;

/// Sends events to listeners with sequence numbers.
pub(super) struct Emitter {
    pub(super) execution_id: String,
    pub(super) workflow_id: String,
    pub(super) seq: AtomicU32,
    pub(super) listeners: Vec<Arc<dyn RunListener>>,
    pub(super) services: Services,
    pub(super) progress_started: Mutex<HashMap<String, tokio::time::Instant>>,
}

impl Emitter {
    pub(super) fn emit(&self, kind: RunEventKind) {
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

    pub(super) fn node_data(&self, data: &NodeRunData) {
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

    fn streamed(&self, node: &Node, item: usize, text: &str, fresh: bool) {
        self.emit(RunEventKind::NodeStreamed {
            node_id: node.id.clone(),
            item_index: item as u32,
            text: text.to_string(),
            fresh,
        });
    }

    fn model_usage(&self, node: &Node, usage: &crate::llm::ModelCall) {
        self.emit(RunEventKind::ModelUsage {
            node_id: node.id.clone(),
            node_name: node.name.clone(),
            model: usage.model.clone(),
            account: usage.account.clone(),
            tokens_in: usage.tokens_in,
            tokens_out: usage.tokens_out,
            duration_ms: millis(usage.duration),
        });
    }

    fn agent_step(&self, node: &Node, item: usize, step: u32, entry: &switchyard_model::events::AgentEntry) {
        // Events carry the start of long texts; the node's output keeps them whole.
        let mut entry = entry.clone();
        if entry.content.chars().count() > 2000 {
            entry.content = format!("{}…", entry.content.chars().take(2000).collect::<String>());
        }
        self.emit(RunEventKind::AgentStep { node_id: node.id.clone(), item_index: item as u32, step, entry });
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
