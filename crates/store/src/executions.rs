//! Executions: written by a background writer that commits in batches (so a run never waits
//! on the disk), read and pruned through [`ExecutionHistory`].

use crate::Db;
use crate::error::{Result, StoreError};
use crate::sql::{Backend, Row, SqlError, SqlResult, params};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchyard_model::error::NodeError;
use switchyard_model::execution::{CallLink, Execution, ExecutionSummary, NodeRunData, RunMode, RunStatus};
use switchyard_model::webhook::Delivery;
use switchyard_model::workflow::Workflow;

/// What is known when a run starts.
#[derive(Debug, Clone)]
pub struct ExecutionStart {
    pub id: String,
    /// The workflow as it runs: shared, not copied per run. The writer stores its JSON once
    /// per version (and serializes it once while the same `Arc` keeps coming).
    pub workflow: Arc<Workflow>,
    pub mode: RunMode,
    pub started_at: String,
    /// The run that called this one, if another run did.
    pub called_by: Option<CallLink>,
    /// The execution this one retries.
    pub retry_of: Option<String>,
    /// The items that started the run, as JSON (a trigger's), kept so that the run can be
    /// started again from them if a crash interrupts it.
    pub input: Option<String>,
    /// The trigger node the run started from, when one was named.
    pub start_node: Option<String>,
}

/// Called once the start it came with is committed to disk (or could not be): a webhook
/// answers its sender only then.
pub type Durable = Box<dyn FnOnce(std::result::Result<(), String>) + Send>;

enum Message {
    /// A run's start; whether someone waits for it to be on disk; whether its record may wait
    /// for its end (see [`ExecutionLog::started_held`]).
    Start(Box<ExecutionStart>, Option<Durable>, bool),
    Node(String, Box<NodeRunData>),
    Finish(Box<Finish>, Option<Durable>),
    Delivery(Box<Delivery>),
    Replay {
        keys: Vec<String>,
        expires_at_ms: i64,
    },
    ForgetReplay(Vec<String>),
    Flush(Sender<std::result::Result<(), String>>),
}

/// The write side of the execution history. Cheap to clone; every clone feeds one writer
/// thread with its own connection.
#[derive(Debug, Clone)]
pub struct ExecutionLog {
    tx: SyncSender<Message>,
    failure: Arc<Mutex<Option<String>>>,
    /// Why the writer cannot write right now (a full disk, a locked database), while it
    /// keeps its batch and tries again; none once it writes again.
    stalled: Arc<Mutex<Option<String>>>,
    /// Deliveries kept per workflow in the delivery log (pruned with every write).
    delivery_keep: Arc<std::sync::atomic::AtomicU32>,
}

/// How a run ended.
struct Finish {
    id: String,
    status: RunStatus,
    finished_at: String,
    duration_ms: u32,
    error: Option<NodeError>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Message")
    }
}

/// Messages taken into one transaction at most.
const BATCH: usize = 512;
/// Messages waiting for the writer at most: past it, senders wait (back-pressure, not loss)
/// while the writer catches up or a full disk or a lock holds it.
pub const QUEUE: usize = 8192;
/// Deliveries kept per workflow until told otherwise.
const DEFAULT_DELIVERY_KEEP: u32 = 1000;

impl ExecutionLog {
    pub(crate) fn start(conn: Box<dyn Backend>, owner: String) -> ExecutionLog {
        let (tx, rx) = sync_channel(QUEUE);
        let failure = Arc::new(Mutex::new(None));
        let thread_failure = failure.clone();
        let stalled = Arc::new(Mutex::new(None));
        let thread_stalled = stalled.clone();
        let delivery_keep = Arc::new(std::sync::atomic::AtomicU32::new(DEFAULT_DELIVERY_KEEP));
        let keep = delivery_keep.clone();
        std::thread::Builder::new()
            .name("switchyard-execution-log".into())
            .spawn(move || {
                writer(conn, rx, WriterState { failure: thread_failure, stalled: thread_stalled }, keep, owner)
            })
            .expect("spawn the execution log writer");
        ExecutionLog { tx, failure, stalled, delivery_keep }
    }

    /// How many deliveries each workflow keeps in the delivery log: older ones are deleted
    /// as new ones are written, so the log never grows past it.
    pub fn set_delivery_keep(&self, keep: u32) {
        self.delivery_keep.store(keep.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    /// Sends to the writer; a message it can no longer take tells whoever waits on it.
    fn send(&self, message: Message) {
        if let Err(std::sync::mpsc::SendError(mut message)) = self.tx.send(message) {
            self.fail("the writer thread has stopped".into());
            settle(std::slice::from_mut(&mut message), Err("the execution history writer has stopped".into()));
        }
    }

    fn fail(&self, message: String) {
        let mut failure = self.failure.lock().unwrap_or_else(|p| p.into_inner());
        failure.get_or_insert(message);
    }

    /// Records that a run started (status `running`, owned by this process).
    pub fn started(&self, start: ExecutionStart) {
        self.send(Message::Start(Box::new(start), None, false));
    }

    /// [`ExecutionLog::started`] for a run whose record waits for its end anyway (a webhook
    /// answering with its last node's item waits on [`ExecutionLog::finished_durable`]): the
    /// writer keeps its start and nodes' data back for up to 200 ms, so that a short run is
    /// written whole, as one row, even when it is the only one. A longer run is written as
    /// any other, from then on; a flush or the writer's end writes what it kept.
    pub fn started_held(&self, start: ExecutionStart) {
        self.send(Message::Start(Box::new(start), None, true));
    }

    /// [`ExecutionLog::started`], calling `durable` once the start is committed (with the
    /// other messages of its batch: one fsync for many concurrent runs).
    pub fn started_durable(&self, start: ExecutionStart, durable: Durable) {
        self.send(Message::Start(Box::new(start), Some(durable), false));
    }

    /// Records one node's data.
    pub fn node(&self, execution_id: &str, data: NodeRunData) {
        self.send(Message::Node(execution_id.to_string(), Box::new(data)));
    }

    /// Records how a run ended.
    pub fn finished(&self, id: &str, status: RunStatus, finished_at: &str, duration_ms: u32, error: Option<NodeError>) {
        self.send(Message::Finish(Box::new(finish(id, status, finished_at, duration_ms, error)), None));
    }

    /// [`ExecutionLog::finished`], calling `durable` once the run's whole record (its start
    /// and input, its nodes' data and its end) is committed to disk. A run that starts and
    /// ends between two writes of the history is then written as one row: the cheapest way
    /// to make a short run durable (a webhook answering with its last node's item).
    pub fn finished_durable(
        &self,
        id: &str,
        status: RunStatus,
        finished_at: &str,
        duration_ms: u32,
        error: Option<NodeError>,
        durable: Durable,
    ) {
        self.send(Message::Finish(Box::new(finish(id, status, finished_at, duration_ms, error)), Some(durable)));
    }

    /// Records a webhook delivery.
    pub fn delivery(&self, delivery: Delivery) {
        self.send(Message::Delivery(Box::new(delivery)));
    }

    /// Remembers a webhook delivery's replay keys until `expires_at_ms`.
    pub fn replay_seen(&self, keys: &[String], expires_at_ms: i64) {
        self.send(Message::Replay { keys: keys.to_vec(), expires_at_ms });
    }

    /// Forgets a webhook delivery's replay keys (it did not run).
    pub fn replay_forget(&self, keys: &[String]) {
        self.send(Message::ForgetReplay(keys.to_vec()));
    }

    /// Why the history cannot be written right now (it is kept and written when it can).
    pub fn stalled(&self) -> Option<String> {
        self.stalled.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits until everything sent so far is committed; reports a write that failed.
    pub fn flush(&self) -> Result<()> {
        let (tx, rx) = channel();
        self.send(Message::Flush(tx));
        let outcome = rx.recv().map_err(|_| StoreError::WriterStopped("the writer thread has stopped".into()))?;
        if let Some(failure) = self.failure.lock().unwrap_or_else(|p| p.into_inner()).take() {
            return Err(StoreError::HistoryNotWritten(failure));
        }
        outcome.map_err(StoreError::HistoryNotWritten)
    }
}

fn finish(id: &str, status: RunStatus, finished_at: &str, duration_ms: u32, error: Option<NodeError>) -> Finish {
    Finish { id: id.to_string(), status, finished_at: finished_at.to_string(), duration_ms, error }
}

/// What the writer thread reports back.
struct WriterState {
    failure: Arc<Mutex<Option<String>>>,
    stalled: Arc<Mutex<Option<String>>>,
}

fn writer(
    mut conn: Box<dyn Backend>,
    rx: Receiver<Message>,
    state: WriterState,
    delivery_keep: Arc<std::sync::atomic::AtomicU32>,
    owner: String,
) {
    let owner = Owner { pid: std::process::id(), token: owner };
    let mut snapshots = Snapshots::default();
    let mut logs = DeliveryCounts::default();
    let mut sync = Syncing::new();
    let mut drain = switchyard_core::drain::Drain::new(TICK, BUSY_AT);
    let syncer = conn.syncer().map(SyncThread::spawn);
    let checkpoints = conn.checkpointer().map(CheckpointThread::spawn);
    let mut held = Held::default();
    let mut closed = false;
    while !closed {
        use switchyard_core::drain::Next;
        // What was held back comes first, in the order it came.
        let mut batch = held.take();
        let kept = batch.len();
        match drain.next(&rx, held.due_in().unwrap_or(SYNC_IDLE)) {
            Next::Message(first) => {
                batch.push(first);
                while batch.len() - kept < BATCH {
                    match rx.try_recv() {
                        Ok(m) => batch.push(m),
                        Err(_) => break,
                    }
                }
                drain.took(batch.len() - kept);
            }
            Next::Idle => {}
            Next::Closed => closed = true,
        }
        // Nothing came and nothing is held: what was committed without a sync is synced.
        if batch.is_empty() {
            sync.now(&mut *conn);
            continue;
        }
        let (flushes, mut batch): (Vec<Message>, Vec<Message>) =
            batch.into_iter().partition(|m| matches!(m, Message::Flush(_)));
        held.keep(&mut batch, flushes.is_empty() && !closed);
        if batch.is_empty() && flushes.is_empty() {
            continue;
        }
        // A batch with a record someone waits on is put on disk before they hear of it: by
        // the sync thread where the store has one (the writer commits without a sync and
        // goes on with the next batch meanwhile: one fsync for as many batches as came
        // during the last), else by committing it with an fsync (FULL), which puts every
        // earlier commit on disk too. The others are committed without (NORMAL), synced by
        // the next such batch, a flush, or half a second without messages.
        let durable = batch.iter().any(|m| matches!(m, Message::Start(_, Some(_), _) | Message::Finish(_, Some(_))));
        sync.mode(&mut *conn, durable && syncer.is_none());
        let written = |batch: &mut [Message]| {
            if let Some(checkpoints) = &checkpoints {
                checkpoints.due();
            }
            match &syncer {
                Some(syncer) => syncer.hand(batch),
                None => settle(batch, Ok(())),
            }
        };
        let mut outcome = Ok(());
        // One transaction for the batch; a disk that is full (or a database locked for
        // longer than the busy timeout) keeps the batch and tries again, so nothing is lost
        // while it lasts; any other failure is one message's, so the batch is written
        // message by message and only that one is dropped (other runs' history stays).
        let mut waited = Duration::ZERO;
        loop {
            let keep = delivery_keep.load(std::sync::atomic::Ordering::Relaxed);
            match write_batch(&mut *conn, &batch, &owner, keep, &mut snapshots, &mut logs) {
                Ok(()) => {
                    written(&mut batch);
                    break;
                }
                Err(e) if is_resource_error(&e) => {
                    let message = format!("writing the execution history failed: {e}; retrying");
                    if waited.is_zero() {
                        tracing::error!("{message}");
                    }
                    state.failure.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(message.clone());
                    *state.stalled.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
                    outcome = Err(message);
                    // Answer waiting flushes now (with the error): they must not hang.
                    answer(&flushes, &outcome);
                    std::thread::sleep(RETRY_PAUSE);
                    waited += RETRY_PAUSE;
                }
                Err(e) => {
                    tracing::warn!(
                        "writing a batch of the execution history failed ({e}); writing it message by message"
                    );
                    for message in batch.drain(..) {
                        let keep = delivery_keep.load(std::sync::atomic::Ordering::Relaxed);
                        let mut one = [message];
                        let result = write_batch(&mut *conn, &one, &owner, keep, &mut snapshots, &mut logs);
                        match result {
                            Ok(()) => written(&mut one),
                            Err(e) => {
                                tracing::error!("dropped {} from the history: {e}", describe(&one[0]));
                                settle(&mut one, Err(e.to_string()));
                            }
                        }
                    }
                    break;
                }
            }
        }
        if !waited.is_zero() {
            tracing::info!("the execution history is written again after {} s", waited.as_secs());
            state.failure.lock().unwrap_or_else(|p| p.into_inner()).take();
            state.stalled.lock().unwrap_or_else(|p| p.into_inner()).take();
            outcome = Ok(());
        }
        if !flushes.is_empty() {
            sync.now(&mut *conn);
        }
        answer(&flushes, &outcome);
    }
    sync.now(&mut *conn);
}

/// The runs whose record may wait for their end (see [`ExecutionLog::started_held`]) and
/// that have not ended yet: their start and nodes' data are kept out of a batch and put at
/// the head of the next, until they end or [`HOLD`] has passed since their start came.
#[derive(Default)]
struct Held {
    messages: Vec<Message>,
    /// Each held run, and when its start came.
    since: std::collections::HashMap<String, std::time::Instant>,
}

/// How long a run's start may be held back for its end.
const HOLD: Duration = Duration::from_millis(200);

impl Held {
    fn take(&mut self) -> Vec<Message> {
        std::mem::take(&mut self.messages)
    }

    /// How long until the oldest held run must be written; none when none is held.
    fn due_in(&self) -> Option<Duration> {
        let oldest = self.since.values().min()?;
        Some(HOLD.saturating_sub(oldest.elapsed()).max(Duration::from_millis(1)))
    }

    /// Takes out of `batch` the messages of the held runs that have not ended in it and may
    /// wait longer; the others are written now (all of them unless `may`: a flush, the end).
    fn keep(&mut self, batch: &mut Vec<Message>, may: bool) {
        if !may {
            self.since.clear();
            return;
        }
        if self.since.is_empty() && !batch.iter().any(|m| matches!(m, Message::Start(_, None, true))) {
            return;
        }
        let ended: std::collections::HashSet<&str> = batch
            .iter()
            .filter_map(|m| match m {
                Message::Finish(end, _) => Some(end.id.as_str()),
                _ => None,
            })
            .collect();
        let now = std::time::Instant::now();
        let mut holding = std::collections::HashMap::new();
        for message in batch.iter() {
            if let Message::Start(start, None, true) = message
                && !ended.contains(start.id.as_str())
            {
                let since = self.since.get(&start.id).copied().unwrap_or(now);
                if now.duration_since(since) < HOLD {
                    holding.insert(start.id.clone(), since);
                }
            }
        }
        self.since = holding;
        if self.since.is_empty() {
            return;
        }
        let (kept, written): (Vec<Message>, Vec<Message>) = std::mem::take(batch).into_iter().partition(|m| match m {
            Message::Start(start, ..) => self.since.contains_key(&start.id),
            Message::Node(id, _) => self.since.contains_key(id),
            _ => false,
        });
        self.messages = kept;
        *batch = written;
    }
}

/// How long the writer waits without messages before it syncs what it committed without.
const SYNC_IDLE: Duration = Duration::from_millis(500);
/// How long the writer sleeps between batches while messages keep coming (see
/// `switchyard_core::drain`): runs then send without waking it, and batches grow. A start
/// someone waits on waits at most this much longer for its commit.
const TICK: Duration = Duration::from_micros(500);
/// A batch this large means many runs at once: then the writer ticks (one run at a time
/// keeps waking it at once, so its start is committed without the tick's delay).
const BUSY_AT: usize = 16;

/// Whether the history writer's commits are synced to disk as they happen, and what it
/// committed without a sync since (see [`Backend::synced_commits`]).
struct Syncing {
    full: bool,
    unsynced: bool,
}

impl Syncing {
    fn new() -> Syncing {
        Syncing { full: true, unsynced: false }
    }

    /// Sets how the next commit is made: synced (with all before it) or not.
    fn mode(&mut self, conn: &mut dyn Backend, full: bool) {
        if full != self.full {
            if let Err(e) = conn.synced_commits(full) {
                tracing::warn!("cannot set the history writer's commits to synced={full}: {e}");
                return;
            }
            self.full = full;
        }
        self.unsynced = !full;
    }

    /// Puts everything committed so far on disk.
    fn now(&mut self, conn: &mut dyn Backend) {
        if !std::mem::take(&mut self.unsynced) {
            return;
        }
        if let Err(e) = conn.sync_now() {
            tracing::warn!("{e}");
            self.unsynced = true;
        }
    }
}

/// The thread that syncs the history writer's commits for the runs waiting on them: it takes
/// the waiting runs of every batch committed since its last sync, syncs once, and tells them.
struct SyncThread {
    tx: Sender<Vec<Durable>>,
}

impl SyncThread {
    fn spawn(mut sync: crate::sql::Syncer) -> SyncThread {
        let (tx, rx) = channel::<Vec<Durable>>();
        std::thread::Builder::new()
            .name("switchyard-history-sync".into())
            .spawn(move || {
                while let Ok(mut waiting) = rx.recv() {
                    while let Ok(more) = rx.try_recv() {
                        waiting.extend(more);
                    }
                    let outcome = sync().map_err(|e| {
                        tracing::error!("syncing the execution history failed: {e}");
                        format!("the history could not be synced to disk: {e}")
                    });
                    for durable in waiting {
                        durable(outcome.clone());
                    }
                }
            })
            .expect("spawn the execution history's sync thread");
        SyncThread { tx }
    }

    /// Hands over the runs of a committed batch that wait for it to be on disk.
    fn hand(&self, batch: &mut [Message]) {
        let waiting = waiting(batch);
        if waiting.is_empty() {
            return;
        }
        if let Err(std::sync::mpsc::SendError(waiting)) = self.tx.send(waiting) {
            for durable in waiting {
                durable(Err("the execution history's sync thread has stopped".into()));
            }
        }
    }
}

/// The thread that copies the history's committed pages from the write-ahead log into the
/// database (a checkpoint) while the writer goes on. SQLite's own checkpoint runs in the
/// commit that fills the log, so every run waiting on that commit waited for thousands of
/// pages to be copied and synced: the slowest answers under load. Here the writer only
/// checkpoints what this thread has not copied yet once the log is full (see
/// `sql::sqlite::WAL_PAGES`), which is little.
struct CheckpointThread {
    written: Arc<std::sync::atomic::AtomicBool>,
    /// Dropped with the writer: the thread then ends.
    _stop: Sender<()>,
}

/// How often the checkpoint thread copies what the writer committed since.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

impl CheckpointThread {
    fn spawn(mut checkpoint: crate::sql::Syncer) -> CheckpointThread {
        let written = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (stop, stopped) = channel::<()>();
        let seen = written.clone();
        std::thread::Builder::new()
            .name("switchyard-history-checkpoint".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_EVERY) {
                    if seen.swap(false, std::sync::atomic::Ordering::Relaxed)
                        && let Err(e) = checkpoint()
                    {
                        tracing::warn!("{e}");
                    }
                }
            })
            .expect("spawn the execution history's checkpoint thread");
        CheckpointThread { written, _stop: stop }
    }

    /// Says the writer committed something: the next round copies it.
    fn due(&self) {
        self.written.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Tells the runs waiting for their start (or whole record) to be on disk how it went.
fn settle(batch: &mut [Message], outcome: std::result::Result<(), String>) {
    for durable in waiting(batch) {
        durable(outcome.clone());
    }
}

/// Takes out of a batch the callbacks of the runs waiting for it to be on disk.
fn waiting(batch: &mut [Message]) -> Vec<Durable> {
    batch
        .iter_mut()
        .filter_map(|m| match m {
            Message::Start(_, durable, _) | Message::Finish(_, durable) => durable.take(),
            _ => None,
        })
        .collect()
}

/// Workflow snapshots (hash and JSON) by the `Arc` the runs share: a run of a version
/// already seen costs no serialization and no hashing. The `Arc`s are kept, so an address is
/// never reused for another workflow while it is in here.
#[derive(Default)]
struct Snapshots {
    known: Vec<(Arc<Workflow>, Arc<Snapshot>)>,
}

/// A workflow as stored for its runs: the hash of its JSON, and the JSON.
struct Snapshot {
    hash: String,
    definition: String,
}

impl Snapshots {
    const KEEP: usize = 64;

    /// The workflow's hash and JSON.
    fn of(&mut self, workflow: &Arc<Workflow>) -> Arc<Snapshot> {
        if let Some((_, known)) = self.known.iter().find(|(w, _)| Arc::ptr_eq(w, workflow)) {
            return known.clone();
        }
        let definition = serde_json::to_string(&**workflow).unwrap_or_default();
        let known = Arc::new(Snapshot { hash: snapshot_hash(&definition), definition });
        if self.known.len() >= Self::KEEP {
            self.known.remove(0);
        }
        self.known.push((workflow.clone(), known.clone()));
        known
    }
}

/// How many rows each workflow's delivery log has, as far as this writer knows: counted once,
/// then kept up as it writes, so that the log is pruned only once it is past its length (the
/// pruning query walks `keep` rows of the index: per batch, that was most of a busy writer's
/// time with a long log). Counted again now and then, for rows others added or removed.
#[derive(Default)]
struct DeliveryCounts {
    rows: std::collections::HashMap<String, u64>,
    batches: u32,
}

impl DeliveryCounts {
    const RECOUNT_EVERY: u32 = 1024;

    /// The workflow's row count once this batch's `added` rows are in (counted in the
    /// transaction the first time, which already holds them).
    fn add(&mut self, tx: &mut dyn Backend, workflow_id: &str, added: u64) -> SqlResult<u64> {
        if let Some(count) = self.rows.get_mut(workflow_id) {
            *count += added;
            return Ok(*count);
        }
        let n: i64 = tx.query_row(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE workflow_id = ?1",
            params![workflow_id],
            |r| r.get(0),
        )?;
        let n = n.max(0) as u64;
        self.rows.insert(workflow_id.to_string(), n);
        Ok(n)
    }
}

/// How long the writer waits before trying a batch again after a full disk.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

fn answer(flushes: &[Message], outcome: &std::result::Result<(), String>) {
    for flush in flushes {
        if let Message::Flush(ack) = flush {
            let _ = ack.send(outcome.clone());
        }
    }
}

/// Failures that writing again later can mend: a full disk or database, an I/O error, a
/// database locked past the busy timeout.
fn is_resource_error(e: &SqlError) -> bool {
    e.is_resource()
}

/// What a message is about, for the log line of a dropped one.
fn describe(message: &Message) -> String {
    match message {
        Message::Start(start, ..) => format!("the start of execution {}", start.id),
        Message::Node(id, data) => format!("node \"{}\" of execution {id}", data.node_name),
        Message::Finish(end, _) => format!("the end of execution {}", end.id),
        Message::Delivery(d) => format!("webhook delivery {} of workflow {}", d.id, d.workflow_id),
        Message::Replay { .. } | Message::ForgetReplay(_) => "webhook replay keys".into(),
        Message::Flush(_) => "a flush".into(),
    }
}

/// Who runs the executions this writer starts: the process and its store's lock token.
struct Owner {
    pid: u32,
    token: String,
}

/// The key of a workflow snapshot: the SHA-256 of its JSON, in hex.
pub(crate) fn snapshot_hash(definition: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, definition.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Deletes the snapshots no execution and no saved version refers to any more (after
/// executions or versions were deleted).
pub(crate) fn drop_unused_snapshots(tx: &mut dyn Backend) -> SqlResult<usize> {
    tx.execute(
        "DELETE FROM workflow_snapshots WHERE NOT EXISTS (SELECT 1 FROM executions WHERE executions.snapshot = workflow_snapshots.hash)
         AND NOT EXISTS (SELECT 1 FROM workflow_versions WHERE workflow_versions.snapshot = workflow_snapshots.hash)",
        params![],
    )
}

fn write_batch(
    conn: &mut dyn Backend,
    batch: &[Message],
    owner: &Owner,
    delivery_keep: u32,
    snapshots: &mut Snapshots,
    logs: &mut DeliveryCounts,
) -> SqlResult<()> {
    let mut tx = conn.transaction()?;
    let mut logged: Vec<(&str, u64)> = Vec::new();
    // Snapshots written in this transaction (runs of one workflow come in batches).
    let mut written: Vec<String> = Vec::new();
    let whole = WholeRuns::of(batch);
    for message in batch {
        match message {
            Message::Start(start, ..) => {
                // The workflow as it ran, stored once per version and referenced by hash.
                // (Inserted in every transaction that needs it: pruning may have deleted it
                // since; present, it is a primary-key lookup.)
                let snapshot = snapshots.of(&start.workflow);
                let hash = &snapshot.hash;
                if !written.iter().any(|h| h == hash) {
                    tx.execute(
                        "INSERT INTO workflow_snapshots (hash, definition) VALUES (?1, ?2) ON CONFLICT (hash) DO NOTHING",
                        params![hash, snapshot.definition],
                    )?;
                    written.push(hash.clone());
                }
                // A run whose end is in this batch too is written as it ended, with its
                // nodes' data in its row: one row, and no update.
                let (status, finished_at, duration_ms, error, nodes) = match whole.get(&start.id) {
                    Some(run) => (
                        run.end.status.as_str(),
                        Some(run.end.finished_at.as_str()),
                        Some(run.end.duration_ms),
                        run.end.error.as_ref().map(|e| serde_json::to_string(e).unwrap_or_default()),
                        Some(crate::whole_run::encode(&run.nodes, start.input.as_deref())),
                    ),
                    None => ("running", None, None, None, None),
                };
                let (owner_pid, owner_token) =
                    if finished_at.is_some() { (None, None) } else { (Some(owner.pid), Some(owner.token.as_str())) };
                tx.execute(
                    "INSERT INTO executions (id, workflow_id, workflow_name, workflow_definition, snapshot, status, mode, started_at, owner_pid, owner, parent_execution, parent_node, retry_of, input, start_node, finished_at, duration_ms, error, nodes)
                     VALUES (?1, ?2, ?3, '', ?4, ?14, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?15, ?16, ?17, ?18)
                     ON CONFLICT (id) DO UPDATE SET workflow_id = excluded.workflow_id, workflow_name = excluded.workflow_name,
                         workflow_definition = '', snapshot = excluded.snapshot, status = excluded.status, mode = excluded.mode,
                         started_at = excluded.started_at, finished_at = excluded.finished_at, duration_ms = excluded.duration_ms,
                         error = excluded.error, owner_pid = excluded.owner_pid, owner = excluded.owner,
                         parent_execution = excluded.parent_execution, parent_node = excluded.parent_node,
                         retry_of = excluded.retry_of, input = excluded.input, start_node = excluded.start_node,
                         nodes = excluded.nodes",
                    params![
                    start.id,
                    start.workflow.id,
                    start.workflow.name,
                    hash,
                    start.mode.as_str(),
                    start.started_at,
                    owner_pid,
                    owner_token,
                    start.called_by.as_ref().map(|c| &c.execution_id),
                    start.called_by.as_ref().map(|c| &c.node_id),
                    start.retry_of,
                    start.input,
                    start.start_node,
                    status,
                    finished_at,
                    duration_ms,
                    error,
                    nodes
                    ],
                )?;
            }
            Message::Node(id, data) => {
                if whole.get(id).is_none() {
                    tx.execute(
                        "INSERT INTO execution_nodes (execution_id, seq, node_id, data)
                         VALUES (?1, (SELECT COUNT(*) FROM execution_nodes WHERE execution_id = ?1), ?2, ?3)",
                        params![id, data.node_id, serde_json::to_string(&data).unwrap_or_default()],
                    )?;
                }
                // The files the stored items hold, so that pruning knows which blobs are used.
                for item in data.outputs.iter().flat_map(|o| &o.items) {
                    for blob in item.references() {
                        tx.execute(
                            "INSERT INTO execution_blobs (execution_id, blob) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                            params![id, blob],
                        )?;
                    }
                }
            }
            Message::Finish(end, durable) => {
                if whole.get(&end.id).is_none() {
                    let error = end.error.as_ref().map(|e| serde_json::to_string(e).unwrap_or_default());
                    let changed = tx.execute(
                        "UPDATE executions SET status = ?2, finished_at = ?3, duration_ms = ?4, error = ?5, owner_pid = NULL, owner = NULL WHERE id = ?1",
                        params![end.id, end.status.as_str(), end.finished_at, end.duration_ms, error],
                    )?;
                    // Someone waits for this run's whole record: a run whose start was not
                    // written (dropped from a failed batch) must not be reported on disk.
                    if changed == 0 && durable.is_some() {
                        return Err(SqlError::new(
                            crate::sql::ErrorKind::Other,
                            format!("execution {} has no recorded start to end", end.id),
                        ));
                    }
                }
            }
            Message::Delivery(d) => {
                match logged.iter_mut().find(|(w, _)| *w == d.workflow_id) {
                    Some((_, n)) => *n += 1,
                    None => logged.push((&d.workflow_id, 1)),
                }
                tx.execute(
                    "INSERT INTO webhook_deliveries (id, workflow_id, node_id, received_at, method, path, status, verification, latency_ms, execution_id, error, body, test)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                     ON CONFLICT (id) DO UPDATE SET workflow_id = excluded.workflow_id, node_id = excluded.node_id,
                         received_at = excluded.received_at, method = excluded.method, path = excluded.path,
                         status = excluded.status, verification = excluded.verification, latency_ms = excluded.latency_ms,
                         execution_id = excluded.execution_id, error = excluded.error, body = excluded.body, test = excluded.test",
                    params![
                    d.id,
                    d.workflow_id,
                    d.node_id,
                    d.received_at,
                    d.method,
                    d.path,
                    d.status,
                    d.verification.as_str(),
                    d.latency_ms,
                    d.execution_id,
                    d.error,
                    d.body,
                    d.test
                    ],
                )?;
            }
            Message::Replay { keys, expires_at_ms } => {
                for key in keys {
                    tx.execute(
                        "INSERT INTO webhook_replay (key, expires_at_ms) VALUES (?1, ?2)
                         ON CONFLICT (key) DO UPDATE SET expires_at_ms = excluded.expires_at_ms",
                        params![key, expires_at_ms],
                    )?;
                }
            }
            Message::ForgetReplay(keys) => {
                for key in keys {
                    tx.execute("DELETE FROM webhook_replay WHERE key = ?1", params![key])?;
                }
            }
            Message::Flush(_) => {}
        }
    }
    // The delivery log never grows past its length, however fast requests come.
    logs.batches += 1;
    if logs.batches.is_multiple_of(DeliveryCounts::RECOUNT_EVERY) {
        logs.rows.clear();
    }
    for (workflow_id, added) in logged {
        if logs.add(&mut *tx, workflow_id, added)? > u64::from(delivery_keep) {
            tx.execute(
                "DELETE FROM webhook_deliveries WHERE workflow_id = ?1 AND rowid < (
                     SELECT rowid FROM webhook_deliveries WHERE workflow_id = ?1 ORDER BY rowid DESC LIMIT 1 OFFSET ?2)",
                params![workflow_id, delivery_keep - 1],
            )?;
            logs.rows.insert(workflow_id.to_string(), u64::from(delivery_keep));
        }
    }
    let committed = tx.commit();
    if committed.is_err() {
        logs.rows.clear();
    }
    committed
}

/// The runs that start and end within one batch: each is written as one row, its nodes' data
/// in it, instead of a row for the start, one per node and an update for the end.
struct WholeRuns<'a> {
    runs: std::collections::HashMap<&'a str, WholeRun<'a>>,
}

struct WholeRun<'a> {
    end: &'a Finish,
    /// In run order.
    nodes: Vec<&'a NodeRunData>,
}

impl<'a> WholeRuns<'a> {
    fn of(batch: &'a [Message]) -> WholeRuns<'a> {
        let mut started: std::collections::HashMap<&str, Vec<&NodeRunData>> = std::collections::HashMap::new();
        let mut runs = std::collections::HashMap::new();
        for message in batch {
            match message {
                Message::Start(start, ..) => {
                    started.insert(&start.id, Vec::new());
                }
                Message::Node(id, data) => {
                    if let Some(nodes) = started.get_mut(id.as_str()) {
                        nodes.push(&**data);
                    }
                }
                Message::Finish(end, _) => {
                    if let Some(nodes) = started.remove(end.id.as_str()) {
                        runs.insert(end.id.as_str(), WholeRun { end, nodes });
                    }
                }
                _ => {}
            }
        }
        WholeRuns { runs }
    }

    fn get(&self, id: &str) -> Option<&WholeRun<'a>> {
        self.runs.get(id)
    }
}

/// Marks runs left `running` by a process that no longer exists as `interrupted`.
/// `owner_alive` says whether the store that wrote an owner token is still open.
pub(crate) fn mark_interrupted(
    conn: &mut dyn Backend,
    owner_alive: &dyn Fn(&mut dyn Backend, &str) -> bool,
) -> Result<()> {
    let rows: Vec<(String, Option<u32>, Option<String>)> =
        conn.query_map("SELECT id, owner_pid, owner FROM executions WHERE status = 'running'", params![], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    for (id, pid, owner) in rows {
        let alive = match owner {
            Some(token) => owner_alive(conn, &token),
            // Runs started before owners were recorded: by their process id.
            None => pid.is_some_and(process_alive),
        };
        if !alive {
            let error = NodeError::new(
                switchyard_model::error::ErrorCode::Internal,
                "the process running this execution ended before it finished",
            );
            conn.execute(
                "UPDATE executions SET status = 'interrupted', owner_pid = NULL, owner = NULL, error = ?2 WHERE id = ?1",
                params![id, serde_json::to_string(&error).unwrap_or_default()],
            )?;
        }
    }
    Ok(())
}

/// Whether a process id is alive. On Linux this reads /proc; elsewhere a run is only marked
/// interrupted when it has no owner recorded.
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if cfg!(target_os = "linux") { std::path::Path::new(&format!("/proc/{pid}")).exists() } else { true }
}

/// Which executions to list.
#[derive(Debug, Clone, Default)]
pub struct ExecutionFilter {
    pub workflow_id: Option<String>,
    pub status: Option<RunStatus>,
    /// Only executions that started before this time (for paging).
    pub before: Option<String>,
    pub limit: Option<u32>,
}

/// A run a crash interrupted, with the input that started it.
#[derive(Debug, Clone)]
pub struct Interrupted {
    pub id: String,
    pub workflow_id: String,
    pub mode: RunMode,
    /// The items that started it, as JSON.
    pub input: String,
    /// The trigger node it started from, if one was named.
    pub start_node: Option<String>,
}

/// Which executions pruning removes. Running executions are never pruned.
#[derive(Debug, Clone, Default)]
pub struct PruneRule {
    /// Remove executions that started before this RFC 3339 time.
    pub started_before: Option<String>,
    /// Keep only this many of the newest executions.
    pub keep_last: Option<u32>,
}

/// The read side of the execution history.
#[derive(Debug, Clone)]
pub struct ExecutionHistory {
    db: Arc<Db>,
}

const SUMMARY_COLUMNS: &str = "id, workflow_id, workflow_name, status, mode, started_at, finished_at, duration_ms, error, parent_execution, parent_node, retry_of,
     (SELECT MAX(version) FROM workflow_versions v WHERE v.workflow_id = executions.workflow_id AND v.snapshot = executions.snapshot),
     attempt";

fn summary(row: &Row) -> SqlResult<ExecutionSummary> {
    let status: String = row.get(3)?;
    let mode: String = row.get(4)?;
    let error: Option<String> = row.get(8)?;
    Ok(ExecutionSummary {
        id: row.get(0)?,
        workflow_id: row.get(1)?,
        workflow_name: row.get(2)?,
        status: RunStatus::parse(&status).unwrap_or(RunStatus::Error),
        mode: RunMode::parse(&mode).unwrap_or(RunMode::Manual),
        started_at: row.get(5)?,
        finished_at: row.get(6)?,
        duration_ms: row.get(7)?,
        error: error.and_then(|e| serde_json::from_str(&e).ok()),
        called_by: match (row.get::<Option<String>>(9)?, row.get::<Option<String>>(10)?) {
            (Some(execution_id), Some(node_id)) => Some(CallLink { execution_id, node_id }),
            _ => None,
        },
        retry_of: row.get(11)?,
        workflow_version: row.get(12)?,
        attempt: Some(row.get::<u32>(13)?).filter(|a| *a > 1),
    })
}

impl ExecutionHistory {
    pub(crate) fn new(db: Arc<Db>) -> ExecutionHistory {
        ExecutionHistory { db }
    }

    /// Executions, newest first.
    pub fn list(&self, filter: &ExecutionFilter) -> Result<Vec<ExecutionSummary>> {
        let mut conn = self.db.lock();
        Ok(conn.query_map(
            &format!(
                "SELECT {SUMMARY_COLUMNS} FROM executions
                 WHERE (CAST(?1 AS TEXT) IS NULL OR workflow_id = ?1) AND (CAST(?2 AS TEXT) IS NULL OR status = ?2) AND (CAST(?3 AS TEXT) IS NULL OR started_at < ?3)
                 ORDER BY started_at DESC, id DESC LIMIT ?4"
            ),
            params![
                filter.workflow_id,
                filter.status.map(RunStatus::as_str),
                filter.before,
                filter.limit.unwrap_or(100).min(10_000)
            ],
            summary,
        )?)
    }

    pub fn get(&self, id: &str) -> Result<Execution> {
        let mut conn = self.db.lock();
        // A run written whole keeps its nodes' data in its row (`nodes`); others have a row per
        // node. (A trigger's output that is the run's input is stored once, as the input.)
        let row = conn.query_opt(
            &format!(
                "SELECT {SUMMARY_COLUMNS}, COALESCE((SELECT definition FROM workflow_snapshots WHERE hash = executions.snapshot), workflow_definition), nodes, input
                 FROM executions WHERE id = ?1"
            ),
            params![id],
            |r| Ok((summary(r)?, r.get::<String>(14)?, r.get::<Option<String>>(15)?, r.get::<Option<String>>(16)?)),
        )?;
        let Some((summary, definition, inline, input)) = row else {
            return Err(StoreError::ExecutionNotFound(id.to_string()));
        };
        let workflow: Workflow = serde_json::from_str(&definition)
            .map_err(|e| StoreError::Corrupt { what: format!("execution {id}"), message: e.to_string() })?;
        let corrupt = |message: String| StoreError::Corrupt { what: format!("execution {id} node data"), message };
        let nodes = match inline {
            Some(text) => crate::whole_run::decode(&text, input.as_deref()).map_err(corrupt)?,
            None => conn
                .query_map("SELECT data FROM execution_nodes WHERE execution_id = ?1 ORDER BY seq", params![id], |r| {
                    r.get::<String>(0)
                })?
                .into_iter()
                .map(|text| serde_json::from_str::<NodeRunData>(&text).map_err(|e| corrupt(e.to_string())))
                .collect::<Result<Vec<_>>>()?,
        };
        let calls = conn.query_map(
            &format!("SELECT {SUMMARY_COLUMNS} FROM executions WHERE parent_execution = ?1 ORDER BY started_at, rowid"),
            params![id],
            self::summary,
        )?;
        Ok(Execution { summary, workflow, nodes, calls })
    }

    /// Deletes finished executions by age and count; returns how many went.
    pub fn prune(&self, rule: &PruneRule) -> Result<u32> {
        let mut conn = self.db.lock();
        let mut tx = conn.transaction()?;
        let mut deleted = 0;
        if let Some(before) = &rule.started_before {
            deleted +=
                tx.execute("DELETE FROM executions WHERE status != 'running' AND started_at < ?1", params![before])?;
        }
        if let Some(keep) = rule.keep_last {
            deleted += tx.execute(
                "DELETE FROM executions WHERE status != 'running' AND id NOT IN
                 (SELECT id FROM executions ORDER BY started_at DESC, id DESC LIMIT ?1)",
                params![keep],
            )?;
        }
        drop_unused_snapshots(&mut *tx)?;
        tx.commit()?;
        Ok(deleted as u32)
    }

    /// Runs a crash interrupted that kept their input and have not been run again (or whose
    /// re-run never got recorded), oldest first.
    pub fn interrupted_to_rerun(&self) -> Result<Vec<Interrupted>> {
        let mut conn = self.db.lock();
        let sql = "SELECT id, workflow_id, mode, input, start_node FROM executions e
             WHERE status = 'interrupted' AND input IS NOT NULL
               AND (rerun_as IS NULL OR NOT EXISTS (SELECT 1 FROM executions r WHERE r.id = e.rerun_as))
             ORDER BY started_at, rowid";
        Ok(conn.query_map(sql, params![], |r| {
            let mode: String = r.get(2)?;
            Ok(Interrupted {
                id: r.get(0)?,
                workflow_id: r.get(1)?,
                mode: RunMode::parse(&mode).unwrap_or(RunMode::Webhook),
                input: r.get(3)?,
                start_node: r.get(4)?,
            })
        })?)
    }

    /// Marks an interrupted run as run again by `rerun_id`, unless another process did so
    /// first (then false). Committed before the re-run starts, so a run is re-run once.
    pub fn claim_rerun(&self, id: &str, rerun_id: &str) -> Result<bool> {
        let changed = self.db.lock().execute(
            "UPDATE executions SET rerun_as = ?2 WHERE id = ?1 AND status = 'interrupted'
               AND (rerun_as IS NULL OR NOT EXISTS (SELECT 1 FROM executions r WHERE r.id = executions.rerun_as))",
            params![id, rerun_id],
        )?;
        Ok(changed == 1)
    }

    /// Readies execution `id` to be run again from the start as attempt `attempt` (server
    /// mode's queue, after the worker running it died): what the earlier attempt recorded of
    /// its nodes goes, and the record says which attempt it is. (Called again once the run is
    /// recorded, for a run whose earlier attempt left no record.)
    pub fn mark_attempt(&self, id: &str, attempt: u32, clear_nodes: bool) -> Result<()> {
        let mut conn = self.db.lock();
        let mut tx = conn.transaction()?;
        if clear_nodes {
            tx.execute("DELETE FROM execution_nodes WHERE execution_id = ?1", params![id])?;
            tx.execute("DELETE FROM execution_blobs WHERE execution_id = ?1", params![id])?;
            tx.execute("UPDATE executions SET nodes = NULL WHERE id = ?1", params![id])?;
        }
        tx.execute("UPDATE executions SET attempt = ?2 WHERE id = ?1", params![id, attempt])?;
        tx.commit()?;
        Ok(())
    }

    /// A run's status, if it is recorded.
    pub fn status(&self, id: &str) -> Result<Option<RunStatus>> {
        let status: Option<String> =
            self.db.lock().query_opt("SELECT status FROM executions WHERE id = ?1", params![id], |r| r.get(0))?;
        Ok(status.map(|s| RunStatus::parse(&s).unwrap_or(RunStatus::Error)))
    }

    /// Every blob the stored executions refer to.
    pub fn blob_references(&self) -> Result<std::collections::HashSet<String>> {
        let refs = self.db.lock().query_map("SELECT DISTINCT blob FROM execution_blobs", params![], |r| r.get(0))?;
        Ok(refs.into_iter().collect())
    }

    /// When the oldest run still going started (RFC 3339), if any runs.
    pub fn oldest_running(&self) -> Result<Option<String>> {
        Ok(self.db.lock().query_row(
            "SELECT MIN(started_at) FROM executions WHERE status = 'running'",
            params![],
            |r| r.get(0),
        )?)
    }

    /// How many executions are stored.
    pub fn count(&self) -> Result<u32> {
        Ok(self.db.lock().query_row("SELECT COUNT(*) FROM executions", params![], |r| r.get(0))?)
    }
}
