//! The live recorder: runs report what happened through a channel (a send, never a lock or
//! I/O on the run's path), and one aggregator thread folds the samples into per-workflow and
//! per-node series (minute buckets) plus totals since start. Readers (the dashboard, the
//! Prometheus text) take a snapshot under a short lock.

use crate::{Bucket, MINUTE_MS, Outcome, Series};
use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

/// One thing that happened.
#[derive(Debug, Clone)]
pub enum Sample {
    RunStarted {
        workflow: Arc<str>,
        at_ms: i64,
    },
    RunFinished {
        workflow: Arc<str>,
        outcome: Outcome,
        micros: u64,
        at_ms: i64,
    },
    NodeFinished {
        workflow: Arc<str>,
        node: Arc<str>,
        outcome: Outcome,
        micros: u64,
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
    Delivery {
        status: u16,
    },
}

enum Message {
    Sample(Sample),
    Flush(Sender<()>),
}

/// A series' minute buckets and its totals since the process started.
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

/// What the aggregator knows.
#[derive(Debug, Default)]
pub struct Live {
    pub workflows: HashMap<Arc<str>, Tracked>,
    pub nodes: HashMap<(Arc<str>, Arc<str>), Tracked>,
    /// Runs started and not finished.
    pub active_runs: i64,
    /// Webhook deliveries by HTTP status.
    pub deliveries: BTreeMap<u16, u64>,
}

impl Live {
    fn apply(&mut self, sample: Sample) {
        match sample {
            Sample::RunStarted { workflow, at_ms } => {
                self.active_runs += 1;
                let (minute, total) = self.workflows.entry(workflow).or_default().at(at_ms);
                minute.counts.started += 1;
                total.counts.started += 1;
            }
            Sample::RunFinished { workflow, outcome, micros, at_ms } => {
                self.active_runs -= 1;
                let (minute, total) = self.workflows.entry(workflow).or_default().at(at_ms);
                minute.finished(outcome, micros);
                total.finished(outcome, micros);
            }
            Sample::NodeFinished { workflow, node, outcome, micros, items_in, items_out, at_ms } => {
                let (minute, total) = self.nodes.entry((workflow, node)).or_default().at(at_ms);
                for b in [minute, total] {
                    b.counts.started += 1;
                    b.finished(outcome, micros);
                    b.counts.items_in += items_in;
                    b.counts.items_out += items_out;
                }
            }
            Sample::Retry { workflow, node, at_ms } => {
                let (minute, total) = self.nodes.entry((workflow, node)).or_default().at(at_ms);
                minute.counts.retries += 1;
                total.counts.retries += 1;
            }
            Sample::Error { workflow, node, class, at_ms } => {
                let (minute, total) = self.nodes.entry((workflow, node)).or_default().at(at_ms);
                minute.error(&class);
                total.error(&class);
            }
            Sample::Delivery { status } => *self.deliveries.entry(status).or_default() += 1,
        }
    }

    /// Ages minute buckets older than `before_ms` into hours (kept in memory for the live
    /// view; the rollups in SQLite are the long-term record).
    pub fn age(&mut self, before_ms: i64) {
        for t in self.workflows.values_mut().chain(self.nodes.values_mut()) {
            t.series.age(before_ms - before_ms.rem_euclid(MINUTE_MS));
        }
    }
}

/// The sending side: cheap to clone, never blocks.
#[derive(Debug, Clone)]
pub struct Recorder {
    tx: Sender<Message>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Message")
    }
}

impl Recorder {
    /// Starts the aggregator thread; returns the recorder and the shared live state.
    pub fn start() -> (Recorder, Arc<Mutex<Live>>) {
        let (tx, rx) = channel();
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

fn aggregate(rx: Receiver<Message>, live: Arc<Mutex<Live>>) {
    while let Ok(first) = rx.recv() {
        // Fold everything waiting under one lock.
        let mut acks = Vec::new();
        let mut guard = live.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = Some(first);
        while let Some(message) = next {
            match message {
                Message::Sample(s) => guard.apply(s),
                Message::Flush(ack) => acks.push(ack),
            }
            next = rx.try_recv().ok();
        }
        drop(guard);
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
            recorder.record(Sample::RunStarted { workflow: wf.clone(), at_ms });
            let outcome = if i % 10 == 0 { Outcome::Failure } else { Outcome::Success };
            recorder.record(Sample::NodeFinished {
                workflow: wf.clone(),
                node: node.clone(),
                outcome,
                micros: (i + 1) * 1000,
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
            recorder.record(Sample::RunFinished { workflow: wf.clone(), outcome, micros: (i + 1) * 1000, at_ms });
        }
        recorder.record(Sample::Delivery { status: 200 });
        recorder.record(Sample::Delivery { status: 401 });
        recorder.flush();
        let live = live.lock().unwrap();
        assert_eq!(live.active_runs, 0);
        let total = live.workflows[&wf].total.as_ref().unwrap();
        assert_eq!((total.counts.started, total.counts.succeeded, total.counts.failed), (100, 90, 10));
        // 1 ms … 100 ms uniformly: p50 ≈ 50 ms, p99 ≈ 99 ms (3 significant digits).
        assert_eq!(total.percentile(50.0).unwrap() / 1000, 50);
        assert_eq!(total.percentile(99.0).unwrap() / 1000, 99);
        assert_eq!(live.workflows[&wf].series.minute_count(), 2, "100 s span two minutes");
        let n = live.nodes[&(wf.clone(), node.clone())].total.as_ref().unwrap();
        assert_eq!((n.counts.items_in, n.counts.items_out, n.counts.errors["transient"]), (100, 200, 10));
        assert_eq!(live.deliveries, BTreeMap::from([(200, 1), (401, 1)]));
    }
}
