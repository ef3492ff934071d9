//! Live metrics and their history: every run's events go to the recorder (a channel send on
//! the run's path), the aggregator folds them, a background task writes what changed into
//! the SQLite rollups every few seconds and ages minutes into hours; the dashboard reads the
//! rollups (or, for "live", memory), the Prometheus text is written from the live state.

use crate::Api;
use crate::error::{ApiError, ApiResult};
use crate::types::Empty;
use crate::types::ListenerStatus;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchyard_engine::RunListener;
use switchyard_engine::clock::SharedClock;
use switchyard_metrics::process::{ProcessSampler, ProcessStats};
use switchyard_metrics::recorder::{Live, Recorder, Sample};
use switchyard_metrics::{Bucket, HOUR_MS, MINUTE_MS, Outcome, floor};
use switchyard_model::connection::AccountStatus;
use switchyard_model::error::ErrorCode;
use switchyard_model::events::{RunEvent, RunEventKind};
use switchyard_model::execution::{NodeRunData, NodeRunStatus, RunStatus};
use switchyard_store::{BucketRow, ExecutionFilter};
use ts_rs::TS;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricsTextResponse {
    /// The Prometheus text format (0.0.4).
    pub text: String,
}

/// A dashboard time range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
pub enum MetricsRange {
    /// The last 15 minutes, from memory.
    #[serde(rename = "live")]
    Live,
    #[serde(rename = "1h")]
    Hour,
    #[serde(rename = "24h")]
    Day,
    #[serde(rename = "7d")]
    Week,
    #[serde(rename = "30d")]
    Month,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct DashboardRequest {
    pub range: MetricsRange,
}

/// One step of a chart: runs that finished in it and their duration percentiles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricsPoint {
    /// Start of the step, Unix ms.
    pub t: i64,
    pub started: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// Whether a workflow got better or worse over the range (second half against first half).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Trend {
    Improving,
    Stable,
    Degrading,
    /// Too few runs in one of the halves to say.
    Unknown,
}

/// A workflow's latest failed run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastError {
    pub execution_id: String,
    pub at: String,
    pub message: String,
    #[ts(optional)]
    pub node: Option<String>,
}

/// A row of the dashboard's workflow table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowMetrics {
    pub workflow_id: String,
    pub name: String,
    pub started: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// Succeeded / finished, 0–1.
    pub success_rate: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub retries: u64,
    pub items_out: u64,
    pub trend: Trend,
    /// Why the trend reads as it does ("p95 1.2 s → 2.9 s").
    pub trend_reason: String,
    #[ts(optional)]
    pub last_error: Option<LastError>,
    /// Tokens its AI nodes used, in and out.
    pub tokens_in: u64,
    pub tokens_out: u64,
    /// What those tokens cost by the price table (Settings → Model prices), in US dollars;
    /// absent when none of its models has a price.
    #[ts(optional)]
    pub cost_usd: Option<f64>,
}

/// What one model (of one account) was used for over the range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelUsage {
    pub model: String,
    /// `connection/label` of the account.
    pub account: String,
    pub calls: u64,
    pub tokens_in: u64,
    pub tokens_out: u64,
    /// Absent when the price table has no price for the model.
    #[ts(optional)]
    pub cost_usd: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorClassCount {
    pub class: String,
    pub count: u64,
}

/// Runs waiting for a slot, running, and finished since the app started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueStatus {
    pub waiting: i64,
    pub active: i64,
    pub completed: u64,
    pub failed: u64,
    /// The concurrency limit (0: none).
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProcessStatus {
    pub memory_bytes: u64,
    pub cpu_percent: f64,
}

/// A connection account's health: its status and last "Test connection".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionHealth {
    pub id: String,
    pub label: String,
    pub connection_type: String,
    /// "ok", "failing", "needsReconnect" or "untested".
    pub health: String,
    #[ts(optional)]
    pub last_test: Option<switchyard_model::connection::TestOutcome>,
}

/// The webhook listener's health: its state and the deliveries answered since start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListenerHealth {
    pub listener: ListenerStatus,
    /// Deliveries by HTTP status since the app started.
    pub deliveries: Vec<(u16, u64)>,
    pub problems: Vec<String>,
}

/// Everything the dashboard shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Dashboard {
    pub range: MetricsRange,
    pub from_ms: i64,
    pub to_ms: i64,
    pub step_ms: i64,
    /// Every workflow together, step by step (steps without runs included, as zeros).
    pub points: Vec<MetricsPoint>,
    /// The whole range in one.
    pub total: MetricsPoint,
    pub workflows: Vec<WorkflowMetrics>,
    pub errors: Vec<ErrorClassCount>,
    pub queue: QueueStatus,
    #[ts(optional)]
    pub process: Option<ProcessStatus>,
    pub connections: Vec<ConnectionHealth>,
    pub listener: ListenerHealth,
    pub alerts_firing: Vec<switchyard_model::alerts::Alert>,
    /// AI models used over the range, the most tokens first.
    pub models: Vec<ModelUsage>,
    /// The last good backup of the data folder.
    #[ts(optional)]
    pub last_backup: Option<crate::backups::BackupEntry>,
    /// The last backup failure, when it came after the last good backup.
    #[ts(optional)]
    pub backup_failure: Option<crate::backups::BackupFailure>,
    /// Server mode: the run queue and its workers (absent on the desktop).
    #[ts(optional)]
    pub cluster: Option<crate::cluster::ClusterStatus>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeMetricsRequest {
    pub workflow_id: String,
    pub range: MetricsRange,
}

/// A node's numbers over a range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeMetrics {
    pub node: String,
    pub runs: u64,
    pub failed: u64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub items_in: u64,
    pub items_out: u64,
    pub retries: u64,
    /// Calls that waited for a rate limit, and the time they waited in all.
    pub rate_waits: u64,
    pub rate_wait_ms: u64,
    /// Circuit breaker state changes its calls caused.
    pub breaker_changes: u64,
    pub errors: Vec<ErrorClassCount>,
    /// Tokens its model calls used (AI nodes).
    pub tokens_in: u64,
    pub tokens_out: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeMetricsResponse {
    pub nodes: Vec<NodeMetrics>,
}

/// How often what changed is written to the rollups.
pub(crate) const FLUSH_EVERY: Duration = Duration::from_secs(10);
/// Minute buckets older than this are aged into hour buckets.
const KEEP_MINUTES_MS: i64 = 24 * HOUR_MS;
/// Minute buckets the live state keeps in memory (alert windows are at most an hour).
const LIVE_KEEP_MS: i64 = 61 * MINUTE_MS;

/// The metrics side of the API.
pub(crate) struct MetricsState {
    pub(crate) recorder: Recorder,
    pub(crate) live: Arc<Mutex<Live>>,
    process: Mutex<(ProcessSampler, Option<(std::time::Instant, ProcessStats)>)>,
    pub(crate) alerts: crate::alerts::AlertState,
    /// Server mode: the queue and the workers as last read (see `crate::cluster`).
    pub(crate) cluster: Mutex<Option<crate::cluster::ClusterStatus>>,
}

impl MetricsState {
    pub(crate) fn start() -> MetricsState {
        let (recorder, live) = Recorder::start();
        MetricsState {
            recorder,
            live,
            process: Mutex::new((ProcessSampler::default(), None)),
            alerts: crate::alerts::AlertState::default(),
            cluster: Mutex::new(None),
        }
    }

    pub(crate) fn live(&self) -> std::sync::MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The process's memory and CPU, sampled at most twice a second (CPU is a rate between
    /// samples).
    pub(crate) fn process(&self) -> Option<ProcessStats> {
        let mut guard = self.process.lock().unwrap_or_else(|p| p.into_inner());
        let (sampler, last) = &mut *guard;
        if let Some((at, stats)) = last
            && at.elapsed() < Duration::from_millis(500)
        {
            return Some(*stats);
        }
        let stats = sampler.sample()?;
        *last = Some((std::time::Instant::now(), stats));
        Some(stats)
    }
}

/// Turns one run's events into samples.
pub(crate) struct MetricsListener {
    pub(crate) recorder: Recorder,
    pub(crate) clock: SharedClock,
    pub(crate) workflow_id: Arc<str>,
    pub(crate) name: Arc<str>,
    /// Whether the run waited for a slot.
    pub(crate) queued: bool,
    /// Items into nodes that started and have not finished (a failure reports none).
    pub(crate) items_in: Mutex<HashMap<String, u32>>,
}

impl RunListener for MetricsListener {
    fn event(&self, event: &RunEvent) {
        let at_ms = self.clock.now().timestamp_millis();
        let workflow = self.workflow_id.clone();
        let sample = match &event.kind {
            RunEventKind::NodeStarted { node_id, items_in, .. } => {
                self.items_in.lock().unwrap_or_else(|p| p.into_inner()).insert(node_id.clone(), *items_in);
                return;
            }
            RunEventKind::RunStarted { .. } => {
                Sample::RunStarted { workflow, name: self.name.clone(), queued: self.queued, at_ms }
            }
            RunEventKind::RunFinished { status, duration_ms, .. } => Sample::RunFinished {
                workflow,
                outcome: if *status == RunStatus::Success { Outcome::Success } else { Outcome::Failure },
                millis: u64::from(*duration_ms),
                at_ms,
            },
            RunEventKind::NodeFinished { node_id, node_name, status, items_in, outputs, duration_ms, .. } => {
                self.items_in.lock().unwrap_or_else(|p| p.into_inner()).remove(node_id);
                let outcome = match status {
                    NodeRunStatus::Success => Outcome::Success,
                    NodeRunStatus::Error => Outcome::Failure,
                    _ => return,
                };
                Sample::NodeFinished {
                    workflow,
                    node: Arc::from(node_name.as_str()),
                    outcome,
                    millis: u64::from(*duration_ms),
                    items_in: u64::from(*items_in),
                    items_out: outputs.iter().map(|o| u64::from(o.items)).sum(),
                    at_ms,
                }
            }
            RunEventKind::NodeThrottled { node_name, waited_ms, .. } => {
                Sample::RateWait { workflow, node: Arc::from(node_name.as_str()), millis: u64::from(*waited_ms), at_ms }
            }
            RunEventKind::ModelUsage { node_name, model, account, tokens_in, tokens_out, .. } => Sample::ModelUsage {
                workflow,
                node: Arc::from(node_name.as_str()),
                model: Arc::from(model.as_str()),
                account: Arc::from(account.as_str()),
                tokens_in: u64::from(*tokens_in),
                tokens_out: u64::from(*tokens_out),
                at_ms,
            },
            RunEventKind::BreakerChanged { node_name, .. } => {
                Sample::BreakerChange { workflow, node: Arc::from(node_name.as_str()), at_ms }
            }
            RunEventKind::NodeRetrying { node_name, .. } => {
                Sample::Retry { workflow, node: Arc::from(node_name.as_str()), at_ms }
            }
            RunEventKind::NodeFailed { node_id, node_name, error, duration_ms } => {
                // A failed node run: counted with its duration and inputs, and its error by class.
                let node: Arc<str> = Arc::from(node_name.as_str());
                let items_in = self.items_in.lock().unwrap_or_else(|p| p.into_inner()).remove(node_id).unwrap_or(0);
                self.recorder.record(Sample::NodeFinished {
                    workflow: workflow.clone(),
                    node: node.clone(),
                    outcome: Outcome::Failure,
                    millis: u64::from(*duration_ms),
                    items_in: u64::from(items_in),
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

/// The estimated cost of tokens by model, in US dollars; `None` when no model used has a price.
pub(crate) fn cost(
    prices: &[crate::settings::ModelPrice],
    tokens: &BTreeMap<String, switchyard_metrics::Tokens>,
) -> Option<f64> {
    let mut sum = None;
    for (key, used) in tokens {
        let (model, _) = switchyard_metrics::split_model_key(key);
        if let Some(price) = crate::settings::price_of(prices, model) {
            *sum.get_or_insert(0.0) += price.cost(used.tokens_in, used.tokens_out);
        }
    }
    sum
}

/// Rows of the dashboard's models table, the most tokens first.
fn model_usage(
    prices: &[crate::settings::ModelPrice],
    tokens: &BTreeMap<String, switchyard_metrics::Tokens>,
) -> Vec<ModelUsage> {
    let mut rows: Vec<ModelUsage> = tokens
        .iter()
        .map(|(key, used)| {
            let (model, account) = switchyard_metrics::split_model_key(key);
            ModelUsage {
                model: model.to_string(),
                account: account.to_string(),
                calls: used.calls,
                tokens_in: used.tokens_in,
                tokens_out: used.tokens_out,
                cost_usd: crate::settings::price_of(prices, model).map(|p| p.cost(used.tokens_in, used.tokens_out)),
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        (b.tokens_in + b.tokens_out).cmp(&(a.tokens_in + a.tokens_out)).then_with(|| a.model.cmp(&b.model))
    });
    rows
}

fn point(t: i64, b: &Bucket) -> MetricsPoint {
    MetricsPoint {
        t,
        started: b.counts.started,
        succeeded: b.counts.succeeded,
        failed: b.counts.failed,
        p50_ms: b.percentile(50.0).map(|v| v as f64),
        p95_ms: b.percentile(95.0).map(|v| v as f64),
        p99_ms: b.percentile(99.0).map(|v| v as f64),
    }
}

/// The window and step of a range ending now.
fn steps(range: MetricsRange, now_ms: i64) -> (i64, i64, i64) {
    let (step, count) = match range {
        MetricsRange::Live => (MINUTE_MS, 15),
        MetricsRange::Hour => (MINUTE_MS, 60),
        MetricsRange::Day => (15 * MINUTE_MS, 96),
        MetricsRange::Week => (HOUR_MS, 168),
        MetricsRange::Month => (6 * HOUR_MS, 120),
    };
    let to = floor(now_ms, step) + step;
    (to - step * count, to, step)
}

/// Fewer finished runs than this in either half of the range: no trend.
const TREND_MIN_RUNS: u64 = 5;

/// Second half of the range against the first: success rate first, then p95.
pub(crate) fn trend(first: &Bucket, second: &Bucket) -> (Trend, String) {
    let finished = |b: &Bucket| b.counts.succeeded + b.counts.failed;
    if finished(first) < TREND_MIN_RUNS || finished(second) < TREND_MIN_RUNS {
        return (Trend::Unknown, format!("fewer than {TREND_MIN_RUNS} runs in a half of the range"));
    }
    let (a, b) = (first.success_rate().unwrap_or(1.0), second.success_rate().unwrap_or(1.0));
    let pct = |r: f64| format!("{:.0} %", r * 100.0);
    if b - a <= -0.05 {
        return (Trend::Degrading, format!("success {} → {}", pct(a), pct(b)));
    }
    if b - a >= 0.05 {
        return (Trend::Improving, format!("success {} → {}", pct(a), pct(b)));
    }
    let (p, q) = (first.percentile(95.0).unwrap_or(0) as f64, second.percentile(95.0).unwrap_or(0) as f64);
    let reason = format!("p95 {} → {}", ms_text(p), ms_text(q));
    if q >= p * 1.25 && q - p >= 50.0 {
        (Trend::Degrading, reason)
    } else if q <= p * 0.8 && p - q >= 50.0 {
        (Trend::Improving, reason)
    } else {
        (Trend::Stable, reason)
    }
}

fn ms_text(ms: f64) -> String {
    if ms >= 1000.0 { format!("{:.1} s", ms / 1000.0) } else { format!("{ms:.0} ms") }
}

/// Per workflow over a range: the whole, the first half and the second half.
#[derive(Default)]
struct Halves {
    all: Option<Bucket>,
    first: Option<Bucket>,
    second: Option<Bucket>,
}

fn add(slot: &mut Option<Bucket>, b: &Bucket) {
    match slot {
        Some(s) => s.merge(b),
        None => *slot = Some(b.clone()),
    }
}

impl Api {
    /// The Prometheus text of this process's live metrics.
    pub async fn metrics_text(&self, _: Empty) -> ApiResult<MetricsTextResponse> {
        Ok(MetricsTextResponse { text: self.prometheus_text() })
    }

    pub(crate) fn prometheus_text(&self) -> String {
        let m = &self.inner.metrics;
        m.recorder.flush();
        let resilience = &self.inner.engine.services().resilience;
        let extra = switchyard_metrics::exposition::Extra {
            process: m.process(),
            breakers: resilience
                .breakers()
                .into_iter()
                .map(|b| {
                    let state = serde_json::to_value(b.state).ok().and_then(|v| v.as_str().map(str::to_string));
                    (b.key, state.unwrap_or_default(), b.transitions)
                })
                .collect(),
            rate_waits: resilience
                .limits()
                .into_iter()
                .map(|l| (l.host, l.waits, l.waited_ms as f64 / 1000.0))
                .collect(),
            history_stalled: self.inner.store.log().stalled().is_some(),
            prices: HashMap::new(),
            queue: None,
            workers: Vec::new(),
        };
        let table = self.stored_settings().model_prices;
        let mut extra = extra;
        self.cluster_extra(&mut extra);
        let live = m.live();
        for bucket in live.nodes.values().flatten() {
            for key in bucket.counts.tokens.keys() {
                let (model, _) = switchyard_metrics::split_model_key(key);
                if let Some(price) = crate::settings::price_of(&table, model) {
                    extra.prices.insert(model.to_string(), (price.input_per_million, price.output_per_million));
                }
            }
        }
        switchyard_metrics::exposition::prometheus_text(&live, &extra)
    }

    pub(crate) fn record(&self, sample: Sample) {
        self.inner.metrics.recorder.record(sample);
    }

    /// Writes what the recorder folded since the last flush into the rollups (a failed write
    /// keeps the buckets for the next try), and forgets live minutes older than an hour.
    pub async fn flush_metrics(&self) -> ApiResult<()> {
        let api = self.clone();
        let now = self.now_ms();
        tokio::task::spawn_blocking(move || {
            let m = &api.inner.metrics;
            m.recorder.flush();
            let pending = {
                let mut live = m.live();
                // Memory holds the last hour only (alert windows, the live view).
                live.trim(now - LIVE_KEEP_MS);
                live.drain_pending()
            };
            if pending.is_empty() {
                return Ok(());
            }
            let rows: Vec<BucketRow> = pending
                .iter()
                .map(|((wf, node, _), b)| BucketRow {
                    workflow_id: wf.to_string(),
                    node: node.to_string(),
                    bucket: b.clone(),
                })
                .collect();
            if let Err(e) = api.inner.store.metrics().merge(&rows) {
                m.live().restore_pending(pending);
                return Err(ApiError::from(e));
            }
            Ok(())
        })
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("writing metrics failed: {e}")))?
    }

    /// Ages minute buckets older than a day into hours and drops hours past the retention.
    pub(crate) async fn maintain_metrics(&self) -> ApiResult<()> {
        let now = self.now_ms();
        let retention = i64::from(self.stored_settings().metrics_retention_days.max(1)) * 24 * HOUR_MS;
        self.blocking(move |store| {
            let metrics = store.metrics();
            metrics.age(now - KEEP_MINUTES_MS)?;
            metrics.forget(now - retention)?;
            if store.dialect() == switchyard_store::Dialect::Postgres {
                store.workers().forget(now - crate::cluster::FORGET_AFTER_MS)?;
                store.shared_blobs().forget(now - crate::queue::SHARED_FILES_DAYS * 24 * HOUR_MS)?;
            }
            Ok(())
        })
        .await
    }

    /// The background work of metrics: flush every 10 s, age and trim every hour, check
    /// alert rules every 15 s. Ends when the API is dropped.
    pub(crate) fn spawn_metrics_tasks(&self) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut flush = tokio::time::interval(FLUSH_EVERY);
            let mut maintain = tokio::time::interval(Duration::from_secs(3600));
            let mut alerts = tokio::time::interval(crate::alerts::CHECK_EVERY);
            let mut health = tokio::time::interval(Duration::from_secs(1));
            let mut cluster = tokio::time::interval(crate::cluster::REFRESH_EVERY);
            let mut stalled: Option<String> = None;
            for t in [&mut flush, &mut maintain, &mut alerts, &mut health, &mut cluster] {
                t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            }
            loop {
                tokio::select! {
                    _ = flush.tick() => {
                        let Some(inner) = weak.upgrade() else { break };
                        if let Err(e) = (Api { inner }).flush_metrics().await {
                            tracing::warn!(error = %e.message, "writing metrics failed; trying again later");
                        }
                    }
                    _ = maintain.tick() => {
                        let Some(inner) = weak.upgrade() else { break };
                        if let Err(e) = (Api { inner }).maintain_metrics().await {
                            tracing::warn!(error = %e.message, "ageing metrics failed");
                        }
                    }
                    _ = alerts.tick() => {
                        let Some(inner) = weak.upgrade() else { break };
                        // Among several processes on one PostgreSQL store (mains, workers),
                        // the one that fires the schedules checks the alert rules: once.
                        if inner.store.dialect() == switchyard_store::Dialect::Postgres
                            && !inner.triggers.coordination.is_leader()
                        {
                            continue;
                        }
                        if let Err(e) = (Api { inner }).check_alerts().await {
                            tracing::warn!(error = %e.message, "checking alert rules failed");
                        }
                    }
                    _ = health.tick() => {
                        let Some(inner) = weak.upgrade() else { break };
                        (Api { inner }).report_history_health(&mut stalled);
                    }
                    _ = cluster.tick() => {
                        let Some(inner) = weak.upgrade() else { break };
                        // A main with the queue: what Prometheus shows of it and its workers.
                        if inner.remote.get().is_some() {
                            (Api { inner }).refresh_cluster().await;
                        }
                    }
                }
            }
        })
    }

    /// Tells the user when the execution history stops being written (a full disk, a locked
    /// database) and when it is written again; `last` is what was reported before.
    fn report_history_health(&self, last: &mut Option<String>) {
        let now = self.inner.store.log().stalled();
        if now.is_some() == last.is_some() {
            return;
        }
        let (level, message) = match &now {
            Some(why) => (
                "error",
                format!(
                    "The execution history cannot be written ({why}). Runs go on and their history is kept until it can be written: free some disk space."
                ),
            ),
            None => ("success", "The execution history is written again; nothing was lost.".to_string()),
        };
        self.inner.host.emit(crate::types::ApiEvent::Notice { level: level.into(), message });
        *last = now;
    }

    /// Everything the dashboard shows for a range.
    pub async fn metrics_dashboard(&self, request: DashboardRequest) -> ApiResult<Dashboard> {
        let now = self.now_ms();
        let (from, to, step) = steps(request.range, now);
        let mid = from + (to - from) / 2;
        let count = ((to - from) / step) as usize;
        let mut points: Vec<Bucket> = (0..count).map(|i| Bucket::new(from + i as i64 * step, step)).collect();
        let mut per_workflow: BTreeMap<String, Halves> = BTreeMap::new();
        let mut fold = |wf: &str, b: &Bucket| {
            if b.start_ms < from || b.start_ms >= to {
                return;
            }
            let i = ((b.start_ms - from) / step) as usize;
            points[i.min(count - 1)].merge(b);
            let h = per_workflow.entry(wf.to_string()).or_default();
            add(if b.start_ms < mid { &mut h.first } else { &mut h.second }, b);
        };
        // On a PostgreSQL store several processes run (mains, workers) and each writes its
        // minutes into the shared rollups: the live range reads those, like the others.
        let shared = self.inner.store.dialect() == switchyard_store::Dialect::Postgres;
        if request.range == MetricsRange::Live && !shared {
            self.inner.metrics.recorder.flush();
            let live = self.inner.metrics.live();
            for (wf, tracked) in &live.workflows {
                for b in tracked.series.minutes(from, to) {
                    fold(wf, b);
                }
            }
        } else {
            self.flush_metrics().await?;
            let rows = self.blocking(move |store| Ok(store.metrics().buckets(from, to, false, None)?)).await?;
            for row in &rows {
                fold(&row.workflow_id, &row.bucket);
            }
        }
        // Each workflow's whole range: its two halves together.
        for h in per_workflow.values_mut() {
            if let Some(first) = &h.first {
                add(&mut h.all, first);
            }
            if let Some(second) = &h.second {
                add(&mut h.all, second);
            }
        }
        let prices = self.stored_settings().model_prices;
        let mut total = Bucket::new(from, to - from);
        let mut errors: BTreeMap<String, u64> = BTreeMap::new();
        for h in per_workflow.values() {
            if let Some(all) = &h.all {
                total.merge(all);
                for (class, n) in &all.counts.errors {
                    *errors.entry(class.clone()).or_default() += n;
                }
            }
        }
        // Names as stored now (a renamed workflow shows its new name), and the last failure.
        let ids: Vec<String> = per_workflow.keys().cloned().collect();
        let (names, failures) = self
            .blocking(move |store| {
                let names: HashMap<String, String> =
                    store.workflows().list(None)?.into_iter().map(|w| (w.id, w.name)).collect();
                let mut failures = HashMap::new();
                for id in ids {
                    let filter = ExecutionFilter {
                        workflow_id: Some(id.clone()),
                        status: Some(RunStatus::Error),
                        limit: Some(1),
                        ..Default::default()
                    };
                    if let Some(last) = store.history().list(&filter)?.into_iter().next() {
                        failures.insert(id, last);
                    }
                }
                Ok((names, failures))
            })
            .await?;
        let live_names: HashMap<String, String> = {
            let live = self.inner.metrics.live();
            live.names.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let mut workflows: Vec<WorkflowMetrics> = per_workflow
            .into_iter()
            .filter_map(|(id, h)| {
                let all = h.all?;
                let (trend, trend_reason) = trend(
                    &h.first.unwrap_or_else(|| Bucket::new(from, mid - from)),
                    &h.second.unwrap_or_else(|| Bucket::new(mid, to - mid)),
                );
                let name = names.get(&id).or_else(|| live_names.get(&id)).cloned().unwrap_or_else(|| id.clone());
                let last_error = failures.get(&id).map(|e| LastError {
                    execution_id: e.id.clone(),
                    at: e.started_at.clone(),
                    message: e.error.as_ref().map_or_else(|| "failed".to_string(), |err| err.message.clone()),
                    node: e.error.as_ref().and_then(|err| err.node_name.clone()),
                });
                let tokens = all.counts.token_totals();
                Some(WorkflowMetrics {
                    tokens_in: tokens.tokens_in,
                    tokens_out: tokens.tokens_out,
                    cost_usd: cost(&prices, &all.counts.tokens),
                    workflow_id: id,
                    name,
                    started: all.counts.started,
                    succeeded: all.counts.succeeded,
                    failed: all.counts.failed,
                    success_rate: all.success_rate(),
                    p50_ms: all.percentile(50.0).map(|v| v as f64),
                    p95_ms: all.percentile(95.0).map(|v| v as f64),
                    retries: all.counts.retries,
                    items_out: all.counts.items_out,
                    trend,
                    trend_reason,
                    last_error,
                })
            })
            .collect();
        workflows.sort_by(|a, b| b.started.cmp(&a.started).then_with(|| a.name.cmp(&b.name)));

        let (limit, _) = self.inner.queue.slots();
        let (queue, deliveries) = {
            let live = self.inner.metrics.live();
            let q = live.queue;
            (
                QueueStatus { waiting: q.waiting, active: q.active, completed: q.completed, failed: q.failed, limit },
                live.deliveries.iter().map(|(s, n)| (*s, *n)).collect::<Vec<_>>(),
            )
        };
        // A locked vault (no keyring, no password yet) has no accounts to show.
        let accounts = self.inner.vault.accounts().await.unwrap_or_else(|e| {
            tracing::debug!(error = %e, "the dashboard shows no connections");
            Vec::new()
        });
        let connections = accounts
            .into_iter()
            .map(|a| {
                let health = match (&a.status, &a.last_test) {
                    (AccountStatus::NeedsReconnect, _) => "needsReconnect",
                    (AccountStatus::NotConnected, _) => "notConnected",
                    (_, Some(t)) if t.ok => "ok",
                    (_, Some(_)) => "failing",
                    (_, None) => "untested",
                };
                ConnectionHealth {
                    id: a.id,
                    label: a.label,
                    connection_type: a.connection_type,
                    health: health.to_string(),
                    last_test: a.last_test,
                }
            })
            .collect();
        let problems = self.inner.trigger_problems();
        let alerts_firing = self.blocking(|store| Ok(store.metrics().alerts(true, 50)?)).await?;
        let (last_backup, backup_failure) = self.backup_state().await?;
        Ok(Dashboard {
            range: request.range,
            from_ms: from,
            to_ms: to,
            step_ms: step,
            points: points.iter().map(|b| point(b.start_ms, b)).collect(),
            total: point(from, &total),
            workflows,
            errors: errors.into_iter().map(|(class, count)| ErrorClassCount { class, count }).collect(),
            queue,
            process: self
                .inner
                .metrics
                .process()
                .map(|p| ProcessStatus { memory_bytes: p.memory_bytes, cpu_percent: p.cpu_percent }),
            connections,
            listener: ListenerHealth { listener: self.listener_status(), deliveries, problems },
            alerts_firing,
            models: model_usage(&prices, &total.counts.tokens),
            last_backup,
            backup_failure,
            cluster: self.cluster_status().await,
        })
    }

    /// One workflow's nodes over a range, from the rollups (the live range reads the last
    /// 15 minutes of them too, after a flush).
    pub async fn metrics_nodes(&self, request: NodeMetricsRequest) -> ApiResult<NodeMetricsResponse> {
        let now = self.now_ms();
        let (from, to, _) = steps(request.range, now);
        self.flush_metrics().await?;
        let id = request.workflow_id.clone();
        let rows = self.blocking(move |store| Ok(store.metrics().buckets(from, to, true, Some(&id))?)).await?;
        let mut nodes: BTreeMap<String, Bucket> = BTreeMap::new();
        for row in &rows {
            match nodes.get_mut(&row.node) {
                Some(b) => b.merge(&row.bucket),
                None => {
                    nodes.insert(row.node.clone(), row.bucket.clone());
                }
            }
        }
        let mut list: Vec<NodeMetrics> = nodes
            .into_iter()
            .map(|(node, b)| NodeMetrics {
                node,
                runs: b.counts.succeeded + b.counts.failed,
                failed: b.counts.failed,
                p50_ms: b.percentile(50.0).map(|v| v as f64),
                p95_ms: b.percentile(95.0).map(|v| v as f64),
                p99_ms: b.percentile(99.0).map(|v| v as f64),
                items_in: b.counts.items_in,
                items_out: b.counts.items_out,
                retries: b.counts.retries,
                rate_waits: b.counts.rate_waits,
                rate_wait_ms: b.counts.rate_wait_ms,
                breaker_changes: b.counts.breaker_changes,
                tokens_in: b.counts.token_totals().tokens_in,
                tokens_out: b.counts.token_totals().tokens_out,
                errors: b
                    .counts
                    .errors
                    .iter()
                    .map(|(class, n)| ErrorClassCount { class: class.clone(), count: *n })
                    .collect(),
            })
            .collect();
        // The slowest first: where the time goes.
        list.sort_by(|a, b| b.p95_ms.partial_cmp(&a.p95_ms).unwrap_or(std::cmp::Ordering::Equal));
        Ok(NodeMetricsResponse { nodes: list })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(ok: u64, failed: u64, millis: u64) -> Bucket {
        let mut b = Bucket::new(0, MINUTE_MS);
        for _ in 0..ok {
            b.finished(Outcome::Success, millis);
        }
        for _ in 0..failed {
            b.finished(Outcome::Failure, millis);
        }
        b
    }

    #[test]
    fn trends() {
        assert_eq!(trend(&bucket(2, 0, 10), &bucket(10, 0, 10)).0, Trend::Unknown);
        assert_eq!(trend(&bucket(10, 0, 100), &bucket(10, 0, 100)).0, Trend::Stable);
        let (t, why) = trend(&bucket(10, 0, 100), &bucket(8, 2, 100));
        assert_eq!((t, why.as_str()), (Trend::Degrading, "success 100 % → 80 %"));
        assert_eq!(trend(&bucket(8, 2, 100), &bucket(10, 0, 100)).0, Trend::Improving);
        let (t, why) = trend(&bucket(10, 0, 200), &bucket(10, 0, 250));
        assert_eq!((t, why.as_str()), (Trend::Degrading, "p95 200 ms → 250 ms"));
        assert_eq!(trend(&bucket(10, 0, 2000), &bucket(10, 0, 900)).0, Trend::Improving);
        assert_eq!(trend(&bucket(10, 0, 10), &bucket(10, 0, 30)).0, Trend::Stable, "a few ms is noise");
    }

    #[test]
    fn ranges_end_with_the_current_step() {
        let now = 1_800_000_123_456;
        for (range, n) in [
            (MetricsRange::Live, 15),
            (MetricsRange::Hour, 60),
            (MetricsRange::Day, 96),
            (MetricsRange::Week, 168),
            (MetricsRange::Month, 120),
        ] {
            let (from, to, step) = steps(range, now);
            assert_eq!((to - from) / step, n);
            assert!(from <= now && now < to);
            assert_eq!(from % step, 0);
        }
    }
}
