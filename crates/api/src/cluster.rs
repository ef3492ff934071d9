//! Server mode's cluster view (docs/server.md, "Metrics across workers"): every worker writes
//! its report into the shared store at each heartbeat ([`Api::report_worker`]); a main reads
//! the reports and the queue's counts for the dashboard ([`ClusterStatus`]) and Prometheus
//! (refreshed every few seconds into a cache the `/metrics` endpoint reads).

use crate::Api;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use switchyard_store::{Dialect, WorkerRow};
use ts_rs::TS;

/// How often a main refreshes what Prometheus shows of the queue and the workers.
pub(crate) const REFRESH_EVERY: Duration = Duration::from_secs(5);
/// Workers not seen for this long are no longer shown (and their rows are forgotten by the
/// hourly maintenance).
pub(crate) const FORGET_AFTER_MS: i64 = 24 * 3600 * 1000;
/// Dead letters the dashboard lists.
const DEAD_LETTERS_SHOWN: usize = 20;

/// The run queue's counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueCounts {
    /// On the queue, not taken by a worker yet.
    pub waiting: u64,
    /// Taken by a worker, not finished (acknowledged) yet.
    pub pending: u64,
    /// Among the dead letters.
    pub dead: u64,
}

/// One worker as it last reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkerStatus {
    /// Its name in the queue's consumer group (host, process id, a random part).
    pub name: String,
    pub host: String,
    pub pid: u32,
    /// Reported within three heartbeats and not stopped.
    pub up: bool,
    pub started_ms: i64,
    pub seen_ms: i64,
    /// When it stopped cleanly (a worker that died never says: it just stops being seen).
    #[ts(optional)]
    pub stopped_ms: Option<i64>,
    pub concurrency: u32,
    pub running: u32,
    /// Runs it finished since it started, and how many ended in an error.
    pub runs: u64,
    pub failed: u64,
    /// Runs of dead workers it took over and ran again.
    pub claimed: u64,
    pub dead_letters: u64,
    #[ts(optional)]
    pub memory_bytes: Option<u64>,
    #[ts(optional)]
    pub cpu_percent: Option<f64>,
}

/// Every worker together.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkerTotals {
    /// Workers up now.
    pub up: u32,
    pub running: u32,
    pub concurrency: u32,
    pub runs: u64,
    pub failed: u64,
    pub claimed: u64,
    pub dead_letters: u64,
}

/// A run among the queue's dead letters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    pub execution_id: String,
    pub workflow_id: String,
    /// How it was started ("webhook", "schedule", …).
    pub mode: String,
    /// Times it was delivered to a worker.
    pub deliveries: u32,
    pub reason: String,
    #[ts(optional)]
    pub dead_at_ms: Option<i64>,
}

/// Server mode's queue and workers, as a main sees them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    /// The queue's counts (absent when this process does not use the queue, or Redis cannot
    /// be reached: see `problem`).
    #[ts(optional)]
    pub queue: Option<QueueCounts>,
    /// Workers seen in the last day, by name.
    pub workers: Vec<WorkerStatus>,
    pub total: WorkerTotals,
    /// The newest dead letters first (at most 20).
    pub dead_letters: Vec<DeadLetter>,
    /// Why part of it is missing (the queue cannot be reached).
    #[ts(optional)]
    pub problem: Option<String>,
}

fn status(row: WorkerRow, now_ms: i64) -> WorkerStatus {
    WorkerStatus {
        up: row.up(now_ms),
        name: row.name,
        host: row.host,
        pid: row.pid,
        started_ms: row.started_ms,
        seen_ms: row.seen_ms,
        stopped_ms: row.stopped_ms,
        concurrency: row.concurrency,
        running: row.running,
        runs: row.runs,
        failed: row.failed,
        claimed: row.claimed,
        dead_letters: row.dead_letters,
        memory_bytes: row.memory_bytes,
        cpu_percent: row.cpu_percent,
    }
}

fn dead_letter(value: &serde_json::Value) -> DeadLetter {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let message = &value["message"];
    DeadLetter {
        execution_id: text(&message["executionId"]),
        workflow_id: text(&message["workflowId"]),
        mode: text(&message["mode"]),
        deliveries: value["deliveries"].as_u64().map_or(0, |d| d as u32),
        reason: text(&value["reason"]),
        dead_at_ms: value["deadAtMs"].as_i64(),
    }
}

/// This machine's name, for messages and worker names.
pub fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

impl Api {
    /// The queue and the workers, on a PostgreSQL store (server mode); `None` on the
    /// desktop's SQLite store, and on a PostgreSQL store that has neither a queue nor
    /// workers.
    pub(crate) async fn cluster_status(&self) -> Option<ClusterStatus> {
        if self.inner.store.dialect() != Dialect::Postgres {
            return None;
        }
        let now = self.now_ms();
        let rows =
            self.blocking(move |store| Ok(store.workers().list(now - FORGET_AFTER_MS)?)).await.unwrap_or_else(|e| {
                tracing::warn!("cannot read the workers' reports: {}", e.message);
                Vec::new()
            });
        let remote = self.remote();
        if remote.is_none() && rows.is_empty() {
            return None;
        }
        let workers: Vec<WorkerStatus> = rows.into_iter().map(|r| status(r, now)).collect();
        let mut total = WorkerTotals::default();
        for w in workers.iter().filter(|w| w.up) {
            total.up += 1;
            total.running += w.running;
            total.concurrency += w.concurrency;
        }
        for w in &workers {
            total.runs += w.runs;
            total.failed += w.failed;
            total.claimed += w.claimed;
            total.dead_letters += w.dead_letters;
        }
        let (mut queue, mut dead_letters, mut problem) = (None, Vec::new(), None);
        if let Some(remote) = remote {
            let read = async {
                let stats = remote.queue().stats().await?;
                let dead = remote.queue().dead_letters(DEAD_LETTERS_SHOWN).await?;
                Ok::<_, switchyard_queue::QueueError>((stats, dead))
            };
            match tokio::time::timeout(Duration::from_secs(2), read).await {
                Ok(Ok((stats, dead))) => {
                    queue = Some(QueueCounts { waiting: stats.waiting, pending: stats.pending, dead: stats.dead });
                    dead_letters = dead.iter().map(dead_letter).collect();
                }
                Ok(Err(e)) => problem = Some(format!("the run queue cannot be read: {e}")),
                Err(_) => problem = Some("the run queue did not answer within 2 s".into()),
            }
        }
        Some(ClusterStatus { queue, workers, total, dead_letters, problem })
    }

    /// Refreshes what Prometheus shows of the queue and the workers (see [`REFRESH_EVERY`]).
    pub(crate) async fn refresh_cluster(&self) {
        let cluster = self.cluster_status().await;
        *self.inner.metrics.cluster.lock().unwrap_or_else(|p| p.into_inner()) = cluster;
    }

    /// The queue and workers part of the Prometheus text, from the last refresh.
    pub(crate) fn cluster_extra(&self, extra: &mut switchyard_metrics::exposition::Extra) {
        let cluster = self.inner.metrics.cluster.lock().unwrap_or_else(|p| p.into_inner());
        let Some(cluster) = cluster.as_ref() else { return };
        extra.queue = cluster.queue.as_ref().map(|q| (q.waiting, q.pending, q.dead));
        extra.workers = cluster
            .workers
            .iter()
            .map(|w| switchyard_metrics::exposition::WorkerSample {
                name: w.name.clone(),
                host: w.host.clone(),
                up: w.up,
                concurrency: w.concurrency,
                running: w.running,
                runs: w.runs,
                failed: w.failed,
                claimed: w.claimed,
                dead_letters: w.dead_letters,
                memory_bytes: w.memory_bytes,
            })
            .collect();
    }

    /// Serves this process's Prometheus text at `http://addr/metrics` (a worker's
    /// `--metrics`), until the API is dropped; returns the address bound. Like a main's
    /// `/metrics`, it answers only while Settings → Prometheus metrics is on, and only to
    /// callers with its bearer token (the text names workflows): the same token on every
    /// process of a store.
    pub async fn serve_metrics(&self, addr: std::net::SocketAddr) -> crate::ApiResult<std::net::SocketAddr> {
        use axum::http::{StatusCode, header};
        use axum::response::IntoResponse;
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            crate::ApiError::new(switchyard_model::error::ErrorCode::Io, format!("cannot listen on {addr}: {e}"))
        })?;
        let bound = listener.local_addr().unwrap_or(addr);
        let weak = std::sync::Arc::downgrade(&self.inner);
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move |headers: axum::http::HeaderMap| {
                let weak = weak.clone();
                async move {
                    let presented = switchyard_triggers::listener::bearer(&headers).to_string();
                    let answer = tokio::task::spawn_blocking(move || {
                        let api = Api { inner: weak.upgrade()? };
                        let settings = api.stored_settings();
                        if !settings.metrics_endpoint || settings.metrics_token.is_empty() {
                            return Some(Err(StatusCode::NOT_FOUND));
                        }
                        if !switchyard_core::signature::equal_in_constant_time(
                            presented.as_bytes(),
                            settings.metrics_token.as_bytes(),
                        ) {
                            return Some(Err(StatusCode::UNAUTHORIZED));
                        }
                        Some(Ok(api.prometheus_text()))
                    })
                    .await
                    .ok()
                    .flatten();
                    match answer {
                        Some(Ok(text)) => {
                            ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
                        }
                        Some(Err(StatusCode::UNAUTHORIZED)) => (
                            StatusCode::UNAUTHORIZED,
                            [(header::WWW_AUTHENTICATE, "Bearer")],
                            "the metrics endpoint needs its bearer token (`switchyard metrics --token`)\n",
                        )
                            .into_response(),
                        Some(Err(_)) => {
                            (StatusCode::NOT_FOUND, "the metrics endpoint is off (`switchyard metrics --enable`)\n")
                                .into_response()
                        }
                        None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
                    }
                }
            }),
        );
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!("the metrics endpoint stopped: {e}");
            }
        });
        Ok(bound)
    }

    /// Writes this worker's report into the shared store (see [`ClusterStatus`]).
    pub(crate) async fn report_worker(&self, mut row: WorkerRow) {
        if let Some(p) = self.inner.metrics.process() {
            row.memory_bytes = Some(p.memory_bytes);
            row.cpu_percent = Some(p.cpu_percent);
        }
        let name = row.name.clone();
        if let Err(e) = self.blocking(move |store| Ok(store.workers().report(&row)?)).await {
            tracing::warn!(worker = %name, "cannot write the worker's report: {}", e.message);
        }
    }
}
