//! The live recorder: runs report what happened through a channel (a send, never a lock or
//! I/O on the run's path), and one aggregator thread folds the samples into per-workflow and
//! per-node series (minute buckets) plus totals since start. Readers (the dashboard, the
//! Prometheus text) take a snapshot under a short lock.

use crate::{Bucket, MINUTE_MS, Outcome, Series, floor};
use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex};

/// One thing that happened. Workflows are identified by id; `RunStarted` carries the name
/// shown for it.
#[derive(Debug, Clone)]
pub enum Sample {
    /// A run is waiting for a free slot (the concurrency limit).
    RunQueued,
    RunStarted {
        workflow: Arc<str>,
        name: Arc<str>,
        /// Whether it waited in the queue (and leaves it now).
        queued: bool,
        at_ms: i64,
    },
    RunFinished {
        workflow: Arc<str>,
        outcome: Outcome,
        millis: u64,
        at_ms: i64,
    },
    NodeFinished {
        workflow: Arc<str>,
        node: Arc<str>,
        outcome: Outcome,
        millis: u64,
        items_in: u64,
        items_out: u64,
        at_ms: i64,
    },
    Retry {
        workflow: Arc<str>,
        node: Arc<str>,
        at_ms: i64,
    },
    Error {
        workflow: Arc<str>,
        node: Arc<str>,
        class: Arc<str>,
        at_ms: i64,
    },
    /// A node's call waited for a rate limit.
    RateWait {
        workflow: Arc<str>,
        node: Arc<str>,
        millis: u64,
        at_ms: i64,
    },
    /// A node's call changed a circuit breaker's state.
    BreakerChange {
        workflow: Arc<str>,
        node: Arc<str>,
        at_ms: i64,
    },
    Delivery {
        status: u16,
        at_ms: i64,
    },
    /// An AI node's model call and the tokens it used.
    ModelUsage {
        workflow: Arc<str>,
        node: Arc<str>,
        model: Arc<str>,
        account: Arc<str>,
        tokens_in: u64,
        tokens_out: u64,
        at_ms: i64,
    },
}

enum Message {
    Sample(Sample),
    Flush(Sender<()>),
}

/// A workflow's minute buckets (the last hour: alert windows and the live view) and its
/// totals since the process started.
#[derive(Debug, Default)]
pub struct Tracked {
    pub series: Series,
    pub total: Option<Bucket>,
}

impl Tracked {
    fn at(&mut self, at_ms: i64) -> (&mut Bucket, &mut Bucket) {
        let total = self.total.get_or_insert_with(|| Bucket::new(0, i64::MAX));
        (self.series.minute(at_ms), total)
    }
}

fn total(slot: &mut Option<Bucket>) -> &mut Bucket {
    slot.get_or_insert_with(|| Bucket::new(0, i64::MAX))
}

/// The run queue: runs waiting for a slot, running, and finished since start.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Queue {
    pub waiting: i64,
    pub active: i64,
    pub completed: u64,
    pub failed: u64,
}

/// The key of a pending bucket: workflow id, node name ("" for the workflow) and minute.
pub type PendingKey = (Arc<str>, Arc<str>, i64);

/// What the aggregator knows.
#[derive(Debug, Default)]
pub struct Live {
    pub workflows: HashMap<Arc<str>, Tracked>,
    /// Per node (workflow id, node name): totals since start (its minutes go to the rollups).
    pub nodes: HashMap<(Arc<str>, Arc<str>), Option<Bucket>>,
    /// Names of the workflows seen, by id.
    pub names: HashMap<Arc<str>, Arc<str>>,
    pub queue: Queue,
    /// Webhook deliveries by HTTP status, since start.
    pub deliveries: BTreeMap<u16, u64>,
    /// Webhook deliveries per minute: (answered 2xx/3xx, answered 4xx/5xx).
    pub delivery_minutes: BTreeMap<i64, (u64, u64)>,
    /// Minute buckets not yet written to the rollups (what changed since the last drain).
    pending: BTreeMap<PendingKey, Bucket>,
}

fn no_node() -> Arc<str> {
    Arc::from("")
}

impl Live {
    fn pending(&mut self, workflow: &Arc<str>, node: Option<&Arc<str>>, at_ms: i64) -> &mut Bucket {
        let start = floor(at_ms, MINUTE_MS);
        let key = (workflow.clone(), node.cloned().unwrap_or_else(no_node), start);
        self.pending.entry(key).or_insert_with(|| Bucket::new(start, MINUTE_MS))
    }

    fn apply(&mut self, sample: Sample) {
        match sample {
            Sample::RunQueued => self.queue.waiting += 1,
            Sample::RunStarted { workflow, name, queued, at_ms } => {
                if queued {
                    self.queue.waiting -= 1;
                }
                self.queue.active += 1;
                self.names.insert(workflow.clone(), name);
                self.pending(&workflow, None, at_ms).counts.started += 1;
                let (minute, total) = self.workflows.entry(workflow).or_default().at(at_ms);
                minute.counts.started += 1;
                total.counts.started += 1;
            }
            Sample::RunFinished { workflow, outcome, millis, at_ms } => {
                self.queue.active -= 1;
                match outcome {
                    Outcome::Success => self.queue.completed += 1,
                    Outcome::Failure => self.queue.failed += 1,
                }
                self.pending(&workflow, None, at_ms).finished(outcome, millis);
                let (minute, total) = self.workflows.entry(workflow).or_default().at(at_ms);
                minute.finished(outcome, millis);
                total.finished(outcome, millis);
            }
            Sample::NodeFinished { workflow, node, outcome, millis, items_in, items_out, at_ms } => {
                node_finished(self.pending(&workflow, Some(&node), at_ms), outcome, millis, items_in, items_out);
                node_finished(
                    total(self.nodes.entry((workflow, node)).or_default()),
                    outcome,
                    millis,
                    items_in,
                    items_out,
                );
            }
            Sample::Retry { workflow, node, at_ms } => self.count(workflow, node, at_ms, |c| c.retries += 1),
            Sample::Error { workflow, node, class, at_ms } => {
                self.pending(&workflow, Some(&node), at_ms).error(&class);
                self.pending(&workflow, None, at_ms).error(&class);
                let (minute, wf_total) = self.workflows.entry(workflow.clone()).or_default().at(at_ms);
                minute.error(&class);
                wf_total.error(&class);
                total(self.nodes.entry((workflow, node)).or_default()).error(&class);
            }
            Sample::RateWait { workflow, node, millis, at_ms } => {
                let count = |c: &mut crate::Counts| {
                    c.rate_waits += 1;
                    c.rate_wait_ms += millis;
                };
                self.count(workflow, node, at_ms, count);
            }
            Sample::BreakerChange { workflow, node, at_ms } => {
                self.count(workflow, node, at_ms, |c| c.breaker_changes += 1);
            }
            Sample::ModelUsage { workflow, node, model, account, tokens_in, tokens_out, at_ms } => {
                let key = crate::model_key(&model, &account);
                let used = crate::Tokens { calls: 1, tokens_in, tokens_out };
                self.count(workflow, node, at_ms, |c| c.tokens.entry(key.clone()).or_default().add(used));
            }
            Sample::Delivery { status, at_ms } => {
                *self.deliveries.entry(status).or_default() += 1;
                let minute = self.delivery_minutes.entry(floor(at_ms, MINUTE_MS)).or_default();
                if status >= 400 {
                    minute.1 += 1;
                } else {
                    minute.0 += 1;
                }
            }
        }
    }

    /// Counts something of a node's in every place it shows: the node's and its workflow's
    /// pending minute, the workflow's live minute and totals, the node's totals.
    fn count(&mut self, workflow: Arc<str>, node: Arc<str>, at_ms: i64, f: impl Fn(&mut crate::Counts)) {
        f(&mut self.pending(&workflow, Some(&node), at_ms).counts);
        f(&mut self.pending(&workflow, None, at_ms).counts);
        let (minute, wf_total) = self.workflows.entry(workflow.clone()).or_default().at(at_ms);
        f(&mut minute.counts);
        f(&mut wf_total.counts);
        f(&mut total(self.nodes.entry((workflow, node)).or_default()).counts);
    }

    /// Takes the buckets changed since the last drain, to add to the rollups.
    pub fn drain_pending(&mut self) -> Vec<(PendingKey, Bucket)> {
        std::mem::take(&mut self.pending).into_iter().collect()
    }

    /// Puts back buckets a failed write could not store (merged with newer changes).
    pub fn restore_pending(&mut self, buckets: Vec<(PendingKey, Bucket)>) {
        for (key, bucket) in buckets {
            match self.pending.get_mut(&key) {
                Some(b) => b.merge(&bucket),
                None => {
                    self.pending.insert(key, bucket);
                }
            }
        }
    }

    /// Forgets minute buckets that started before `before_ms` (kept in SQLite).
    pub fn trim(&mut self, before_ms: i64) {
        for t in self.workflows.values_mut() {
            t.series.trim(before_ms);
        }
        let keep = floor(before_ms, MINUTE_MS);
        self.delivery_minutes.retain(|start, _| *start >= keep);
    }

    /// One workflow's (or, with `None`, every workflow's) runs in the minute buckets that
    /// start in `[from_ms, to_ms)`, in one bucket.
    pub fn window(&self, workflow: Option<&str>, from_ms: i64, to_ms: i64) -> Bucket {
        let mut total = Bucket::new(from_ms, to_ms - from_ms);
        for (id, tracked) in &self.workflows {
            if workflow.is_none_or(|w| w == &**id) {
                for b in tracked.series.minutes(from_ms, to_ms) {
                    total.merge(b);
                }
            }
        }
        total
    }

    /// Webhook deliveries answered with 4xx/5xx in minutes starting in `[from_ms, to_ms)`.
    pub fn delivery_errors(&self, from_ms: i64, to_ms: i64) -> u64 {
        self.delivery_minutes.range(from_ms..to_ms).map(|(_, (_, failed))| failed).sum()
    }

    /// The display name of a workflow id (the id when no run was seen).
    pub fn name(&self, workflow: &str) -> String {
        self.names.get(workflow).map_or_else(|| workflow.to_string(), |n| n.to_string())
    }
}

fn node_finished(b: &mut Bucket, outcome: Outcome, millis: u64, items_in: u64, items_out: u64) {
    b.counts.started += 1;
    b.finished(outcome, millis);
    b.counts.items_in += items_in;
    b.counts.items_out += items_out;
}

/// Samples waiting for the aggregator at most; past it a sender waits for it to catch up
/// (it folds thousands a millisecond, so only a stalled aggregator makes anyone wait). The
/// queue's slots are allocated up front: 8,192 of them are under 1 MB.
pub const QUEUE: usize = 8192;

/// The sending side: cheap to clone; blocks only when [`QUEUE`] samples wait.
#[derive(Debug, Clone)]
pub struct Recorder {
    tx: SyncSender<Message>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Message")
    }
}

impl Recorder {
    /// Starts the aggregator thread; returns the recorder and the shared live state.
    pub fn start() -> (Recorder, Arc<Mutex<Live>>) {
        let (tx, rx) = sync_channel(QUEUE);
        let live = Arc::new(Mutex::new(Live::default()));
        let shared = live.clone();
        std::thread::Builder::new()
            .name("switchyard-metrics".into())
            .spawn(move || aggregate(rx, shared))
            .expect("spawn the metrics aggregator");
        (Recorder { tx }, live)
    }

    /// Records a sample (a channel send; dropped silently if the aggregator is gone).
    pub fn record(&self, sample: Sample) {
        let _ = self.tx.send(Message::Sample(sample));
    }

    /// Waits until every sample sent so far is folded in (tests, and before a snapshot
    /// that must be exact).
    pub fn flush(&self) {
        let (tx, rx) = channel();
        if self.tx.send(Message::Flush(tx)).is_ok() {
            let _ = rx.recv();
        }
    }
}

/// How long the aggregator sleeps between batches while samples keep coming (see
/// `switchyard_core::drain`): samples are folded a little later, and sent without a wake-up.
const TICK: std::time::Duration = std::time::Duration::from_millis(2);
/// A batch this large means samples come in numbers (not one request at a time).
const BUSY_AT: usize = 16;

fn aggregate(rx: Receiver<Message>, live: Arc<Mutex<Live>>) {
    use switchyard_core::drain::{Drain, Next};
    let mut drain = Drain::new(TICK, BUSY_AT);
    loop {
        let first = match drain.next(&rx, std::time::Duration::from_secs(3600)) {
            Next::Message(first) => first,
            Next::Idle => continue,
            Next::Closed => break,
        };
        // Fold everything waiting under one lock.
        let mut acks = Vec::new();
        let mut guard = live.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(message) = next {
            match message {
                Message::Sample(s) => guard.apply(s),
                Message::Flush(ack) => acks.push(ack),
            }
            taken += 1;
            next = rx.try_recv().ok();
        }
        drop(guard);
        drain.took(taken);
        for ack in acks {
            let _ = ack.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_fold_into_minutes_and_totals() {
        let (recorder, live) = Recorder::start();
        let wf: Arc<str> = Arc::from("orders");
        let node: Arc<str> = Arc::from("Fetch");
        for i in 0..100u64 {
            let at_ms = 1_800_000_000_000 + (i as i64) * 1000;
            recorder.record(Sample::RunStarted {
                workflow: wf.clone(),
                name: Arc::from("Orders"),
                queued: false,
                at_ms,
            });
            let outcome = if i % 10 == 0 { Outcome::Failure } else { Outcome::Success };
            recorder.record(Sample::NodeFinished {
                workflow: wf.clone(),
                node: node.clone(),
                outcome,
                millis: (i + 1) * 1000,
                items_in: 1,
                items_out: 2,
                at_ms,
            });
            if outcome == Outcome::Failure {
                recorder.record(Sample::Error {
                    workflow: wf.clone(),
                    node: node.clone(),
                    class: Arc::from("transient"),
                    at_ms,
                });
            }
            recorder.record(Sample::RunFinished { workflow: wf.clone(), outcome, millis: (i + 1) * 1000, at_ms });
        }
        recorder.record(Sample::RateWait {
            workflow: wf.clone(),
            node: node.clone(),
            millis: 250,
            at_ms: 1_800_000_000_000,
        });
        recorder.record(Sample::BreakerChange { workflow: wf.clone(), node: node.clone(), at_ms: 1_800_000_000_000 });
        recorder.record(Sample::Delivery { status: 200, at_ms: 1_800_000_000_000 });
        recorder.record(Sample::Delivery { status: 401, at_ms: 1_800_000_000_000 });
        recorder.flush();
        let mut live = live.lock().unwrap();
        assert_eq!(live.queue, Queue { waiting: 0, active: 0, completed: 90, failed: 10 });
        assert_eq!(live.name("orders"), "Orders");
        let window = live.window(Some("orders"), 1_800_000_000_000 - MINUTE_MS, 1_800_000_000_000 + 2 * MINUTE_MS);
        assert_eq!((window.counts.started, window.counts.failed, window.counts.errors["transient"]), (100, 10, 10));
        assert_eq!(live.delivery_errors(0, i64::MAX), 1);
        let total = live.workflows[&wf].total.as_ref().unwrap();
        assert_eq!((total.counts.started, total.counts.succeeded, total.counts.failed), (100, 90, 10));
        // 1 s … 100 s uniformly: p50 ≈ 50 s, p99 ≈ 99 s (2 significant digits).
        assert_eq!(total.percentile(50.0).unwrap() / 1000, 50);
        assert_eq!(total.percentile(99.0).unwrap() / 1000, 99);
        assert_eq!(live.workflows[&wf].series.minute_count(), 2, "100 s span two minutes");
        let n = live.nodes[&(wf.clone(), node.clone())].as_ref().unwrap();
        assert_eq!((n.counts.items_in, n.counts.items_out, n.counts.errors["transient"]), (100, 200, 10));
        assert_eq!((n.counts.rate_waits, n.counts.rate_wait_ms, n.counts.breaker_changes), (1, 250, 1));
        assert_eq!(live.deliveries, BTreeMap::from([(200, 1), (401, 1)]));
        // What changed goes to the rollups once: per workflow ("" node) and per node, per minute.
        let pending = live.drain_pending();
        assert_eq!(pending.len(), 4, "two minutes × (workflow, node)");
        let runs: u64 = pending.iter().filter(|((_, n, _), _)| n.is_empty()).map(|(_, b)| b.counts.started).sum();
        assert_eq!(runs, 100);
        assert!(live.drain_pending().is_empty());
        live.trim(i64::MAX);
        assert_eq!(live.workflows[&wf].series.minute_count(), 0);
    }
}
