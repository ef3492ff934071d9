//! Live metrics: every run's events go to the recorder (a channel send on the run's path),
//! the aggregator folds them, and the Prometheus text is written from its snapshot.

use crate::Api;
use crate::error::ApiResult;
use crate::types::{Empty, MetricsTextResponse};
use std::sync::Arc;
use switchyard_engine::RunListener;
use switchyard_engine::clock::SharedClock;
use switchyard_metrics::Outcome;
use switchyard_metrics::recorder::{Recorder, Sample};
use switchyard_model::events::{RunEvent, RunEventKind};
use switchyard_model::execution::{NodeRunData, NodeRunStatus, RunStatus};

/// Turns one run's events into samples.
pub(crate) struct MetricsListener {
    pub(crate) recorder: Recorder,
    pub(crate) clock: SharedClock,
    pub(crate) workflow: Arc<str>,
}

impl RunListener for MetricsListener {
    fn event(&self, event: &RunEvent) {
        let at_ms = self.clock.now().timestamp_millis();
        let workflow = self.workflow.clone();
        let sample = match &event.kind {
            RunEventKind::RunStarted { .. } => Sample::RunStarted { workflow, at_ms },
            RunEventKind::RunFinished { status, duration_ms, .. } => Sample::RunFinished {
                workflow,
                outcome: if *status == RunStatus::Success { Outcome::Success } else { Outcome::Failure },
                micros: u64::from(*duration_ms) * 1000,
                at_ms,
            },
            RunEventKind::NodeFinished { node_name, status, items_in, outputs, duration_ms, .. } => {
                let outcome = match status {
                    NodeRunStatus::Success => Outcome::Success,
                    NodeRunStatus::Error => Outcome::Failure,
                    _ => return,
                };
                Sample::NodeFinished {
                    workflow,
                    node: Arc::from(node_name.as_str()),
                    outcome,
                    micros: u64::from(*duration_ms) * 1000,
                    items_in: u64::from(*items_in),
                    items_out: outputs.iter().map(|o| u64::from(o.items)).sum(),
                    at_ms,
                }
            }
            RunEventKind::NodeRetrying { node_name, .. } => {
                Sample::Retry { workflow, node: Arc::from(node_name.as_str()), at_ms }
            }
            RunEventKind::NodeFailed { node_name, error, duration_ms, .. } => {
                // A failed node run: counted with its duration, and its error by class.
                let node: Arc<str> = Arc::from(node_name.as_str());
                self.recorder.record(Sample::NodeFinished {
                    workflow: workflow.clone(),
                    node: node.clone(),
                    outcome: Outcome::Failure,
                    micros: u64::from(*duration_ms) * 1000,
                    items_in: 0,
                    items_out: 0,
                    at_ms,
                });
                let class = serde_json::to_value(error.class).ok().and_then(|v| v.as_str().map(str::to_string));
                Sample::Error { workflow, node, class: Arc::from(class.as_deref().unwrap_or("unknown")), at_ms }
            }
            _ => return,
        };
        self.recorder.record(sample);
    }

    fn node_data(&self, _execution_id: &str, _data: &NodeRunData) {}
}

impl Api {
    /// The Prometheus text of this process's live metrics.
    pub async fn metrics_text(&self, _: Empty) -> ApiResult<MetricsTextResponse> {
        self.inner.metrics.0.flush();
        let live = self.inner.metrics.1.lock().unwrap_or_else(|p| p.into_inner());
        Ok(MetricsTextResponse { text: switchyard_metrics::exposition::prometheus_text(&live) })
    }

    pub(crate) fn record(&self, sample: Sample) {
        self.inner.metrics.0.record(sample);
    }
}
