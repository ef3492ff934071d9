//! Server mode's run queue (docs/server.md, "Queue and workers"), over `switchyard_queue`.
//!
//! - A **main** (`serve --queue`) puts the runs its triggers start (webhooks, schedules,
//!   folder and event triggers) on the queue instead of running them ([`Api::use_queue`]);
//!   a webhook is answered once Redis has the run (or, in "last node" and "respond node"
//!   modes, once a worker sends the answer back on the main's reply stream).
//! - A **worker** (`switchyard worker`) runs them ([`Api::work`]): it records each run in the
//!   shared PostgreSQL store and acknowledges its message only once the final record is
//!   committed; it beats for the runs it has, claims those of dead workers after the
//!   visibility timeout and runs them again from the start (the record says which attempt it
//!   is), acknowledges without running a message whose run already has a final record, and
//!   puts a message that crashed workers too often among the dead letters.

use crate::error::{ApiError, ApiResult};
use crate::runs::LaunchOptions;
use crate::{Api, RunSource};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchyard_engine::ReplySlot;
use switchyard_engine::{Prepared, RunOutcome};
use switchyard_model::error::{ErrorCode, NodeError};
use switchyard_model::execution::{RunMode, RunStatus};
use switchyard_model::item::Item;
use switchyard_queue::{Delivery, Queue, QueueConfig, Reply, RunMessage};
use switchyard_store::Dialect;

/// How long queued runs' files are kept in the shared store after their last use.
pub(crate) const SHARED_FILES_DAYS: i64 = 7;

/// How long a main waits for a worker's answer to a run it waits on.
pub const REPLY_WAIT: Duration = Duration::from_secs(600);

/// A main's side of the queue: where it sends runs, and the runs it waits on.
pub(crate) struct Remote {
    queue: Queue,
    /// This main's reply stream.
    replies: String,
    pending: Mutex<HashMap<String, Pending>>,
}

struct Pending {
    done: tokio::sync::oneshot::Sender<RunOutcome>,
    respond: Option<Arc<ReplySlot>>,
}

/// The modes whose runs a main puts on the queue: those its triggers start.
fn queued_mode(mode: RunMode) -> bool {
    matches!(mode, RunMode::Webhook | RunMode::Schedule | RunMode::Folder | RunMode::Event)
}

fn queue_error(e: switchyard_queue::QueueError) -> ApiError {
    ApiError::new(ErrorCode::Io, e.to_string())
}

/// Whether a failure before a queued run starts may pass (the database or a disk briefly
/// unavailable): its message is then left pending, to be taken again, instead of being
/// answered and acknowledged as a run that cannot start.
fn passing(e: &ApiError) -> bool {
    matches!(e.code, ErrorCode::Storage | ErrorCode::Io)
}

/// An outcome for a run the main cannot learn the end of.
fn failed_outcome(id: &str, now: chrono::DateTime<chrono::Utc>, message: String) -> RunOutcome {
    RunOutcome {
        execution_id: id.to_string(),
        status: RunStatus::Error,
        error: Some(NodeError::new(ErrorCode::Internal, message)),
        started_at: now,
        finished_at: now,
        duration_ms: 0,
        result: Vec::new(),
        nodes: Vec::new(),
    }
}

impl Remote {
    pub(crate) fn queue(&self) -> &Queue {
        &self.queue
    }

    fn dispatch(&self, reply: Reply, now: chrono::DateTime<chrono::Utc>) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        match reply {
            Reply::Respond { execution_id, reply } => {
                if let Some(slot) = pending.get(&execution_id).and_then(|p| p.respond.clone()) {
                    slot.send(reply);
                }
            }
            Reply::Finished { execution_id, status, result, error } => {
                let Some(waiting) = pending.remove(&execution_id) else { return };
                let outcome = RunOutcome {
                    execution_id: execution_id.clone(),
                    status: RunStatus::parse(&status).unwrap_or(RunStatus::Error),
                    error: error.and_then(|e| serde_json::from_str(&e).ok()),
                    started_at: now,
                    finished_at: now,
                    duration_ms: 0,
                    result: serde_json::from_str::<Vec<Item>>(&result).unwrap_or_default(),
                    nodes: Vec::new(),
                };
                let _ = waiting.done.send(outcome);
            }
        }
    }
}

impl Api {
    /// Makes this process a main: the runs its triggers start go on the queue at `url`, for
    /// workers. Needs a PostgreSQL store (the workers read the workflows from it and record
    /// the runs in it).
    pub async fn use_queue(&self, url: &str) -> ApiResult<()> {
        if self.inner.store.dialect() != Dialect::Postgres {
            return Err(ApiError::bad_request(format!(
                "--queue needs --database postgres://…: the workers read the workflows from the shared store and record their runs there (this store is {})",
                self.inner.store.location()
            )));
        }
        let queue = Queue::connect(url, QueueConfig::default()).await.map_err(queue_error)?;
        let reader = queue.reader().await.map_err(queue_error)?;
        let replies = format!("switchyard:replies:{}", switchyard_model::ids::new_id());
        let remote = Arc::new(Remote { queue, replies: replies.clone(), pending: Mutex::new(HashMap::new()) });
        if self.inner.remote.set(remote.clone()).is_err() {
            return Err(ApiError::bad_request("this process already uses a queue"));
        }
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut after = "0-0".to_string();
            loop {
                let read = reader.replies(&replies, &after, Duration::from_secs(2)).await;
                let Some(api) = weak.upgrade().map(|inner| Api { inner }) else { return };
                match read {
                    Ok((got, last)) => {
                        after = last;
                        let now = api.inner.engine.services().clock.now();
                        for reply in got {
                            remote.dispatch(reply, now);
                        }
                    }
                    Err(e) => {
                        tracing::warn!("reading the workers' replies: {e}; trying again");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Ok(())
    }

    /// The queue, when this process is a main with one.
    pub(crate) fn remote(&self) -> Option<Arc<Remote>> {
        self.inner.remote.get().cloned()
    }

    /// Whether a run with these options goes on the queue (see [`Api::use_queue`]).
    pub(crate) fn queues(&self, options: &LaunchOptions) -> bool {
        self.inner.remote.get().is_some()
            && queued_mode(options.mode)
            && options.called.is_none()
            && options.breakpoints.is_none()
            && options.until.is_none()
    }

    /// Puts a run on the queue. The handle ends with the outcome the worker sends back (or a
    /// failure when the queue cannot take it, or no worker answers within [`REPLY_WAIT`]);
    /// `durable` hears once Redis has it.
    pub(crate) fn enqueue_run(
        &self,
        remote: Arc<Remote>,
        prepared: Arc<Prepared>,
        services: &switchyard_engine::Services,
        input: Vec<Item>,
        options: LaunchOptions,
    ) -> (String, tokio::task::JoinHandle<RunOutcome>) {
        let execution_id = options.execution_id.clone().unwrap_or_else(switchyard_model::ids::new_id);
        let (done, answer) = tokio::sync::oneshot::channel();
        remote
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(execution_id.clone(), Pending { done, respond: services.reply.clone() });
        let message = RunMessage {
            execution_id: execution_id.clone(),
            workflow_id: prepared.workflow.id.clone(),
            mode: options.mode.as_str().to_string(),
            start_node: options.start.clone(),
            input: serde_json::to_string(&input).unwrap_or_else(|_| "[]".into()),
            reply_to: Some(remote.replies.clone()),
            respond_node: services.reply.is_some(),
            enqueued_ms: self.now_ms(),
        };
        let durable = options.durable;
        let clock = self.inner.engine.services().clock.clone();
        let id = execution_id.clone();
        // The files the trigger items carry go into the shared store first, for a worker on
        // another machine (see `share_files`).
        let files = files_of(&input);
        let sharing = (!files.is_empty())
            .then(|| (self.inner.store.clone(), self.inner.engine.services().blobs.store.clone(), self.now_ms()));
        let handle = tokio::spawn(async move {
            let forget = || remote.pending.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
            let shared = match sharing {
                Some((store, blobs, now_ms)) => share_files(store, blobs, files, now_ms).await,
                None => Ok(()),
            };
            let taken = match shared {
                Ok(()) => remote.queue.enqueue(&message).await.map_err(|e| e.to_string()),
                Err(e) => Err(e.message),
            };
            if let Err(e) = taken {
                forget();
                let message = format!("the run queue did not take the run: {e}");
                if let Some(durable) = durable {
                    let _ = durable.send(Err(message.clone()));
                }
                return failed_outcome(&id, clock.now(), message);
            }
            if let Some(durable) = durable {
                let _ = durable.send(Ok(()));
            }
            match tokio::time::timeout(REPLY_WAIT, answer).await {
                Ok(Ok(outcome)) => outcome,
                _ => {
                    forget();
                    let wait = REPLY_WAIT.as_secs();
                    failed_outcome(&id, clock.now(), format!("no worker reported the run's end within {wait} s"))
                }
            }
        });
        (execution_id, handle)
    }
}

/// The files (blob references, with their names) that items carry.
fn files_of(items: &[Item]) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = items
        .iter()
        .filter_map(Item::binary)
        .flat_map(|binaries| binaries.values().map(|b| (b.reference.clone(), b.file_name.clone())))
        .collect();
    files.sort();
    files.dedup_by(|a, b| a.0 == b.0);
    files
}

/// A main's side of a queued run's files: each goes from the data folder's blob store into
/// the shared store (one already there only has its time renewed), so that the worker that
/// runs it finds it whatever machine it is on.
async fn share_files(
    store: switchyard_store::Store,
    blobs: Arc<switchyard_core::blobs::BlobStore>,
    files: Vec<(String, String)>,
    now_ms: i64,
) -> ApiResult<()> {
    for (reference, name) in files {
        let (shared, r) = (store.shared_blobs(), reference.clone());
        let known = tokio::task::spawn_blocking(move || shared.touch(&r, now_ms))
            .await
            .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))??;
        if known {
            continue;
        }
        let bytes = blobs.read(&reference).await.map_err(|e| {
            ApiError::new(ErrorCode::Io, format!("the file \"{name}\" of the run's trigger items cannot be read: {e}"))
        })?;
        let shared = store.shared_blobs();
        tokio::task::spawn_blocking(move || shared.put(&reference, &bytes, now_ms))
            .await
            .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))??;
    }
    Ok(())
}

/// `redis://…` with its password hidden.
pub fn queue_url_redacted(url: &str) -> String {
    switchyard_queue::redact(url)
}

/// The queue's state and its dead letters (the newest 100), for `switchyard queue`.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueStatus {
    pub stats: switchyard_queue::QueueStats,
    pub dead_letters: Vec<serde_json::Value>,
}

/// Reads the queue's state at `url`.
pub async fn queue_status(url: &str) -> ApiResult<QueueStatus> {
    let queue = Queue::connect(url, QueueConfig::default()).await.map_err(queue_error)?;
    let stats = queue.stats().await.map_err(queue_error)?;
    let dead_letters = queue.dead_letters(100).await.map_err(queue_error)?;
    Ok(QueueStatus { stats, dead_letters })
}

/// How a worker works.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Runs at once.
    pub concurrency: usize,
    /// This worker's name in the consumer group (unique per process).
    pub consumer: String,
    pub queue: QueueConfig,
}

/// What a worker did before it stopped.
#[derive(Debug, Clone, Default)]
pub struct WorkerReport {
    pub runs: u64,
    /// Of `runs`, those that ended in an error.
    pub failed: u64,
    pub claimed: u64,
    pub dead_letters: u64,
}

/// A worker's state shared with its runs.
struct Work {
    queue: Queue,
    consumer: String,
    concurrency: usize,
    started_ms: i64,
    /// How often it beats (and reports into the store).
    beat_every: Duration,
    /// The messages being run (their ids), for heartbeats.
    running: Mutex<HashSet<String>>,
    prepared: Mutex<HashMap<(String, u32), Arc<Prepared>>>,
    report: Mutex<WorkerReport>,
}

impl Work {
    /// Resets the idle time of the messages this worker is running (see the queue's
    /// heartbeats), so that no other worker claims them.
    async fn beat(&self) {
        let ids: Vec<String> = self.running.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect();
        if let Err(e) = self.queue.heartbeat(&self.consumer, &ids).await {
            tracing::warn!("heartbeat: {e}");
        }
    }

    /// What it reports into the store (see `crate::cluster`).
    fn row(&self, now_ms: i64, stopped: bool) -> switchyard_store::WorkerRow {
        let report = self.report.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner()).len();
        switchyard_store::WorkerRow {
            name: self.consumer.clone(),
            host: crate::cluster::hostname(),
            pid: std::process::id(),
            started_ms: self.started_ms,
            seen_ms: now_ms,
            beat_ms: self.beat_every.as_millis() as i64,
            stopped_ms: stopped.then_some(now_ms),
            concurrency: self.concurrency as u32,
            running: running as u32,
            runs: report.runs,
            failed: report.failed,
            claimed: report.claimed,
            dead_letters: report.dead_letters,
            memory_bytes: None,
            cpu_percent: None,
        }
    }
}

impl Api {
    /// Runs the queue's runs until `stop` resolves, then finishes the runs it has (up to
    /// `grace`). Needs a PostgreSQL store.
    pub async fn work(
        &self,
        url: &str,
        options: WorkerOptions,
        stop: impl std::future::Future<Output = ()>,
        grace: Duration,
    ) -> ApiResult<WorkerReport> {
        if self.inner.store.dialect() != Dialect::Postgres {
            return Err(ApiError::bad_request(format!(
                "a worker needs --database postgres://…, the store its mains use (this one is {})",
                self.inner.store.location()
            )));
        }
        let queue = Queue::connect(url, options.queue.clone()).await.map_err(queue_error)?;
        let reader = queue.reader().await.map_err(queue_error)?;
        let visibility = options.queue.visibility;
        let beat_every = visibility / 3;
        let work = Arc::new(Work {
            queue,
            consumer: options.consumer.clone(),
            concurrency: options.concurrency.max(1),
            started_ms: self.now_ms(),
            beat_every,
            running: Mutex::new(HashSet::new()),
            prepared: Mutex::new(HashMap::new()),
            report: Mutex::new(WorkerReport::default()),
        });
        let slots = Arc::new(tokio::sync::Semaphore::new(options.concurrency.max(1)));
        self.report_worker(work.row(self.now_ms(), false)).await;
        let block = (visibility / 6).clamp(Duration::from_millis(100), Duration::from_secs(1));
        let now = Instant::now();
        let (mut last_claim, mut last_beat) = (now.checked_sub(beat_every).unwrap_or(now), now);
        tokio::pin!(stop);
        loop {
            if last_beat.elapsed() >= beat_every {
                work.beat().await;
                self.report_worker(work.row(self.now_ms(), false)).await;
                last_beat = Instant::now();
            }
            let free = slots.available_permits();
            if free == 0 {
                // Every slot busy: wait for one to free (beating meanwhile), then read.
                let beat_due = beat_every.saturating_sub(last_beat.elapsed());
                tokio::select! {
                    _ = &mut stop => break,
                    permit = slots.acquire() => drop(permit),
                    _ = tokio::time::sleep(beat_due) => {}
                }
                continue;
            }
            let mut batch = Vec::new();
            if last_claim.elapsed() >= beat_every {
                match work.queue.claim_stale(&work.consumer, free).await {
                    Ok(claimed) => {
                        work.report.lock().unwrap_or_else(|p| p.into_inner()).claimed += claimed.len() as u64;
                        for d in &claimed {
                            tracing::warn!(execution = %d.message.execution_id, deliveries = d.deliveries, "claimed a run a worker left (it is run again from the start)");
                        }
                        batch = claimed;
                    }
                    Err(e) => tracing::warn!("claiming stale runs: {e}"),
                }
                last_claim = Instant::now();
            }
            if free > batch.len() {
                tokio::select! {
                    _ = &mut stop => break,
                    read = reader.read(&work.consumer, free - batch.len(), block) => match read {
                        Ok(more) => batch.extend(more),
                        Err(e) => {
                            tracing::warn!("reading the run queue: {e}; trying again");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    },
                }
            }
            for delivery in batch {
                let Ok(permit) = slots.clone().acquire_owned().await else { break };
                work.running.lock().unwrap_or_else(|p| p.into_inner()).insert(delivery.id.clone());
                let (api, work) = (self.clone(), work.clone());
                tokio::spawn(async move {
                    let id = delivery.id.clone();
                    api.process(&work, delivery).await;
                    work.running.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                    drop(permit);
                });
            }
        }
        // Stopping: no new runs; those going finish (beating meanwhile) within the grace.
        let started = Instant::now();
        while slots.available_permits() < options.concurrency.max(1) && started.elapsed() < grace {
            if last_beat.elapsed() >= beat_every {
                work.beat().await;
                last_beat = Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.report_worker(work.row(self.now_ms(), true)).await;
        let report = work.report.lock().unwrap_or_else(|p| p.into_inner()).clone();
        Ok(report)
    }

    /// Runs one message and acknowledges it once its final record is committed.
    async fn process(&self, work: &Work, delivery: Delivery) {
        let message = &delivery.message;
        let id = message.execution_id.clone();
        let queue = &work.queue;
        let reply = |status: RunStatus, result: String, error: Option<String>| Reply::Finished {
            execution_id: id.clone(),
            status: status.as_str().to_string(),
            result,
            error,
        };
        let send = |r: Reply| async move {
            if let Some(to) = &message.reply_to
                && let Err(e) = queue.reply(to, &r).await
            {
                tracing::warn!(execution = %message.execution_id, "cannot send the run's answer: {e}");
            }
        };
        // Recorded as final already (a worker died between the record and the ack): done.
        // (Only a message delivered before can have a record.)
        let recorded = if delivery.deliveries > 1 {
            let id = id.clone();
            self.blocking(move |store| Ok(store.history().status(&id)?)).await
        } else {
            Ok(None)
        };
        // (Running or interrupted: the worker that had it died; it runs again.)
        if let Ok(Some(status)) = recorded
            && !matches!(status, RunStatus::Running | RunStatus::Interrupted)
        {
            send(reply(status, "[]".into(), None)).await;
            let _ = queue.ack(&delivery.id).await;
            return;
        }
        if delivery.deliveries > queue.config().max_deliveries {
            let reason =
                format!("the run was delivered {} times: it crashed every worker that ran it", delivery.deliveries);
            let error = NodeError::new(ErrorCode::Internal, format!("{reason}; it is among the queue's dead letters"));
            self.inner.store.log().finished(&id, RunStatus::Error, &self.now(), 0, Some(error.clone()));
            let _ = self.flush_runs().await;
            send(reply(RunStatus::Error, "[]".into(), serde_json::to_string(&error).ok())).await;
            match queue.dead_letter(&delivery, &reason).await {
                Ok(()) => work.report.lock().unwrap_or_else(|p| p.into_inner()).dead_letters += 1,
                Err(e) => tracing::error!(execution = %id, "cannot move the run to the dead letters: {e}"),
            }
            return;
        }
        if delivery.deliveries > 1 {
            let (rid, attempt) = (id.clone(), delivery.deliveries);
            if let Err(e) = self.blocking(move |store| Ok(store.history().mark_attempt(&rid, attempt, true)?)).await {
                tracing::warn!(execution = %id, "cannot clear the earlier attempt's record: {}", e.message);
            }
        }
        let started = match self.prepare_queued(work, message).await {
            Ok(started) => started,
            Err(e) if passing(&e) => {
                tracing::warn!(execution = %id, "a queued run cannot start now ({}); it stays on the queue and is taken again after the visibility timeout", e.message);
                return;
            }
            Err(e) => {
                // Nothing to run (the workflow was deleted, is no longer trusted…): answered
                // and acknowledged, not retried.
                tracing::warn!(execution = %id, workflow = %message.workflow_id, "a queued run cannot start: {}", e.message);
                let error = NodeError::new(e.code, e.message);
                send(reply(RunStatus::Error, "[]".into(), serde_json::to_string(&error).ok())).await;
                let _ = queue.ack(&delivery.id).await;
                return;
            }
        };
        let (prepared, mut services) = started;
        let respond = if message.respond_node {
            let (slot, rx) = ReplySlot::new();
            services.reply = Some(slot);
            Some(rx)
        } else {
            None
        };
        let input: Vec<Item> = serde_json::from_str(&message.input).unwrap_or_default();
        if let Err(e) = self.fetch_files(&input).await {
            if passing(&e) {
                tracing::warn!(execution = %id, "a queued run's files cannot be read now ({}); it stays on the queue and is taken again after the visibility timeout", e.message);
                return;
            }
            tracing::warn!(execution = %id, "a queued run cannot start: {}", e.message);
            let error = NodeError::new(e.code, e.message);
            send(reply(RunStatus::Error, "[]".into(), serde_json::to_string(&error).ok())).await;
            let _ = queue.ack(&delivery.id).await;
            return;
        }
        let options = LaunchOptions {
            mode: RunMode::parse(&message.mode).unwrap_or(RunMode::Webhook),
            start: message.start_node.clone(),
            execution_id: Some(id.clone()),
            ..LaunchOptions::default()
        };
        let (_, mut handle) = self.launch_with(prepared, services, input, options);
        let outcome = match respond {
            None => handle.await,
            Some(mut rx) => {
                let outcome = tokio::select! {
                    answer = &mut rx => {
                        if let Ok(answer) = answer {
                            send(Reply::Respond { execution_id: id.clone(), reply: answer }).await;
                        }
                        handle.await
                    }
                    outcome = &mut handle => outcome,
                };
                if let Ok(answer) = rx.try_recv() {
                    send(Reply::Respond { execution_id: id.clone(), reply: answer }).await;
                }
                outcome
            }
        };
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(e) => failed_outcome(&id, self.inner.engine.services().clock.now(), format!("the run failed: {e}")),
        };
        if delivery.deliveries > 1 {
            let (rid, attempt) = (id.clone(), delivery.deliveries);
            let _ = self.blocking(move |store| Ok(store.history().mark_attempt(&rid, attempt, false)?)).await;
        }
        // The final record is committed before the message is acknowledged; if it cannot be,
        // the message stays pending and another worker runs it again.
        if let Err(e) = self.flush_runs().await {
            tracing::error!(execution = %id, "the run's record is not committed ({}); its message stays pending", e.message);
            return;
        }
        let result = serde_json::to_string(&outcome.result).unwrap_or_else(|_| "[]".into());
        let error = outcome.error.as_ref().and_then(|e| serde_json::to_string(e).ok());
        send(reply(outcome.status, result, error)).await;
        if let Err(e) = queue.ack(&delivery.id).await {
            tracing::warn!(execution = %id, "cannot acknowledge the run (it may run again): {e}");
        }
        let mut report = work.report.lock().unwrap_or_else(|p| p.into_inner());
        report.runs += 1;
        if outcome.status != RunStatus::Success {
            report.failed += 1;
        }
    }

    /// A worker's side of a queued run's files (see `share_files`): those its data folder
    /// lacks come from the shared store into its blob store, checked against their address.
    async fn fetch_files(&self, input: &[Item]) -> ApiResult<()> {
        let blobs = self.inner.engine.services().blobs.store.clone();
        for (reference, name) in files_of(input) {
            let path = blobs.path_of(&reference).map_err(|e| ApiError::bad_request(e.to_string()))?;
            if tokio::fs::try_exists(&path).await.unwrap_or(false) {
                continue;
            }
            let r = reference.clone();
            let bytes = self.blocking(move |store| Ok(store.shared_blobs().get(&r)?)).await?.ok_or_else(|| {
                ApiError::new(
                    ErrorCode::NotFound,
                    format!(
                        "the file \"{name}\" the run's trigger items carry is not in the shared store (kept for {} days after the main received it)",
                        SHARED_FILES_DAYS
                    ),
                )
            })?;
            let stored = blobs
                .put(&bytes, None)
                .await
                .map_err(|e| ApiError::new(ErrorCode::Io, format!("cannot store the file \"{name}\": {e}")))?;
            if stored.sha256 != reference {
                return Err(ApiError::new(
                    ErrorCode::Internal,
                    format!("the shared copy of the file \"{name}\" does not match its address {reference}"),
                ));
            }
        }
        Ok(())
    }

    /// The saved workflow a message names, prepared (once per version), with the services
    /// its trust allows.
    async fn prepare_queued(
        &self,
        work: &Work,
        message: &RunMessage,
    ) -> ApiResult<(Arc<Prepared>, switchyard_engine::Services)> {
        let wid = message.workflow_id.clone();
        let record = self.blocking(move |store| Ok(store.workflows().get(&wid)?)).await?;
        let settings = self.stored_settings();
        let services = self.run_services(&settings);
        let services = self.trusted_services(&record.workflow, &RunSource::Saved, services).await?;
        let key = (record.workflow.id.clone(), record.version);
        let known = work.prepared.lock().unwrap_or_else(|p| p.into_inner()).get(&key).cloned();
        let prepared = match known {
            Some(p) => p,
            None => {
                let p = self.inner.engine.prepare(record.workflow).map_err(|issues| ApiError::invalid(issues, ""))?;
                let mut cache = work.prepared.lock().unwrap_or_else(|p| p.into_inner());
                if cache.len() >= 256 {
                    cache.clear();
                }
                cache.insert(key, p.clone());
                p
            }
        };
        Ok((prepared, services))
    }
}
