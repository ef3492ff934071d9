//! The Prometheus text exposition of the live metrics (prometheus-client's encoder): run and
//! node counters by workflow, duration quantiles, items, retries, errors by class, the run
//! queue, webhook deliveries by status, breaker state changes, rate-limit waits, and the
//! process's CPU and memory.

use crate::process::ProcessStats;
use crate::recorder::Live;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

type Labels = Vec<(String, String)>;

/// Label pairs with their values escaped as the text format wants (prometheus-client 0.24
/// writes label values as they are: a workflow name with a quote would break the text).
fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (k.to_string(), escape(v))).collect()
}

fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// What the exposition shows besides the recorder's state (read by the caller at scrape
/// time from the engine and the process).
#[derive(Debug, Clone, Default)]
pub struct Extra {
    pub process: Option<ProcessStats>,
    /// Per breaker key: its state ("closed", "open", "halfOpen") and state changes so far.
    pub breakers: Vec<(String, String, u64)>,
    /// Per rate-limited host: calls that waited, and the total wait in seconds.
    pub rate_waits: Vec<(String, u64, f64)>,
    /// The execution history cannot be written right now (a full disk, a locked database).
    pub history_stalled: bool,
    /// The price of each model used that has one (US dollars per million tokens in, out),
    /// for the cost estimate.
    pub prices: std::collections::HashMap<String, (f64, f64)>,
    /// Server mode, on a main: the run queue's counts (waiting, pending, dead letters).
    pub queue: Option<(u64, u64, u64)>,
    /// Server mode, on a main: each worker as it last reported.
    pub workers: Vec<WorkerSample>,
}

/// A worker's last report (see the store's `workers` table).
#[derive(Debug, Clone, Default)]
pub struct WorkerSample {
    pub name: String,
    pub host: String,
    pub up: bool,
    pub concurrency: u32,
    pub running: u32,
    pub runs: u64,
    pub failed: u64,
    pub claimed: u64,
    pub dead_letters: u64,
    pub memory_bytes: Option<u64>,
}

/// The Prometheus text format (version 0.0.4, what `promtool check metrics` and every
/// scraper read). Duration percentiles are gauges with a `percentile` label (p50, p95, p99)
/// taken from the HDR histograms.
pub fn prometheus_text(live: &Live, extra: &Extra) -> String {
    classic(&openmetrics_text(live, extra))
}

/// prometheus-client writes OpenMetrics: counter families are named without `_total` and
/// the text ends in `# EOF`. The classic format names them with it.
fn classic(text: &str) -> String {
    let counters: Vec<&str> =
        text.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter")).collect();
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters.contains(&name).then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// The OpenMetrics text prometheus-client writes.
fn openmetrics_text(live: &Live, extra: &Extra) -> String {
    let mut registry = Registry::with_prefix("switchyard");
    let runs = Family::<Labels, Counter>::default();
    let run_seconds = Family::<Labels, Gauge<f64, AtomicU64>>::default();
    let nodes = Family::<Labels, Counter>::default();
    let node_seconds = Family::<Labels, Gauge<f64, AtomicU64>>::default();
    let items = Family::<Labels, Counter>::default();
    let retries = Family::<Labels, Counter>::default();
    let errors = Family::<Labels, Counter>::default();
    let node_waits = Family::<Labels, Counter>::default();
    let node_wait_seconds = Family::<Labels, Counter<f64, AtomicU64>>::default();
    let node_breakers = Family::<Labels, Counter>::default();
    let deliveries = Family::<Labels, Counter>::default();
    let active = Gauge::<i64>::default();
    let waiting = Gauge::<i64>::default();
    let breaker_state = Family::<Labels, Gauge<i64>>::default();
    let breaker_changes = Family::<Labels, Counter>::default();
    let rate_waits = Family::<Labels, Counter>::default();
    let rate_wait_seconds = Family::<Labels, Counter<f64, AtomicU64>>::default();
    let model_calls = Family::<Labels, Counter>::default();
    let model_tokens = Family::<Labels, Counter>::default();
    let model_cost = Family::<Labels, Counter<f64, AtomicU64>>::default();

    let mut workflows: Vec<_> = live.workflows.iter().collect();
    workflows.sort_by(|a, b| a.0.cmp(b.0));
    for (id, tracked) in workflows {
        let Some(total) = &tracked.total else { continue };
        let name = live.name(id);
        let base = [("workflow", name.as_str()), ("workflow_id", &**id)];
        for (status, n) in
            [("started", total.counts.started), ("succeeded", total.counts.succeeded), ("failed", total.counts.failed)]
        {
            runs.get_or_create(&labels(&[base[0], base[1], ("status", status)])).inc_by(n);
        }
        for (q, p) in [("p50", 50.0), ("p95", 95.0), ("p99", 99.0)] {
            if let Some(millis) = total.percentile(p) {
                run_seconds.get_or_create(&labels(&[base[0], base[1], ("percentile", q)])).set(millis as f64 / 1e3);
            }
        }
    }
    let mut node_list: Vec<_> = live.nodes.iter().collect();
    node_list.sort_by(|a, b| a.0.cmp(b.0));
    for ((id, node), total) in node_list {
        let Some(total) = total else { continue };
        let name = live.name(id);
        let base = [("workflow", name.as_str()), ("node", &**node)];
        for (status, n) in [("succeeded", total.counts.succeeded), ("failed", total.counts.failed)] {
            nodes.get_or_create(&labels(&[base[0], base[1], ("status", status)])).inc_by(n);
        }
        for (q, p) in [("p50", 50.0), ("p95", 95.0), ("p99", 99.0)] {
            if let Some(millis) = total.percentile(p) {
                node_seconds.get_or_create(&labels(&[base[0], base[1], ("percentile", q)])).set(millis as f64 / 1e3);
            }
        }
        items.get_or_create(&labels(&[base[0], base[1], ("direction", "in")])).inc_by(total.counts.items_in);
        items.get_or_create(&labels(&[base[0], base[1], ("direction", "out")])).inc_by(total.counts.items_out);
        retries.get_or_create(&labels(&base)).inc_by(total.counts.retries);
        for (class, n) in &total.counts.errors {
            errors.get_or_create(&labels(&[base[0], base[1], ("class", class)])).inc_by(*n);
        }
        if total.counts.rate_waits > 0 {
            node_waits.get_or_create(&labels(&base)).inc_by(total.counts.rate_waits);
            node_wait_seconds.get_or_create(&labels(&base)).inc_by(total.counts.rate_wait_ms as f64 / 1000.0);
        }
        if total.counts.breaker_changes > 0 {
            node_breakers.get_or_create(&labels(&base)).inc_by(total.counts.breaker_changes);
        }
        for (key, used) in &total.counts.tokens {
            let (model, account) = crate::split_model_key(key);
            let model_base = [base[0], base[1], ("model", model), ("account", account)];
            model_calls.get_or_create(&labels(&model_base)).inc_by(used.calls);
            for (direction, n) in [("in", used.tokens_in), ("out", used.tokens_out)] {
                let mut with = model_base.to_vec();
                with.push(("direction", direction));
                model_tokens.get_or_create(&labels(&with)).inc_by(n);
            }
            if let Some((input, output)) = extra.prices.get(model) {
                let dollars = (used.tokens_in as f64 * input + used.tokens_out as f64 * output) / 1_000_000.0;
                model_cost.get_or_create(&labels(&model_base)).inc_by(dollars);
            }
        }
    }
    for (status, n) in &live.deliveries {
        deliveries.get_or_create(&labels(&[("status", &status.to_string())])).inc_by(*n);
    }
    active.set(live.queue.active);
    waiting.set(live.queue.waiting);
    for (key, state, changes) in &extra.breakers {
        for s in ["closed", "open", "halfOpen"] {
            breaker_state.get_or_create(&labels(&[("key", key), ("state", s)])).set(i64::from(s == state));
        }
        breaker_changes.get_or_create(&labels(&[("key", key)])).inc_by(*changes);
    }
    for (host, waits, seconds) in &extra.rate_waits {
        rate_waits.get_or_create(&labels(&[("host", host)])).inc_by(*waits);
        rate_wait_seconds.get_or_create(&labels(&[("host", host)])).inc_by(*seconds);
    }

    registry.register("runs", "Workflow runs by status (started, succeeded, failed)", runs);
    registry.register("run_duration_seconds", "Run duration quantiles since start", run_seconds);
    registry.register("node_runs", "Node runs by status", nodes);
    registry.register("node_duration_seconds", "Node run duration quantiles since start", node_seconds);
    registry.register("node_items", "Items into and out of nodes", items);
    registry.register("node_retries", "Retries of node calls", retries);
    registry.register("node_errors", "Node errors by class", errors);
    registry.register("node_rate_limit_waits", "Node calls that waited for a rate limit", node_waits);
    registry.register("node_rate_limit_wait_seconds", "Time node calls waited for rate limits", node_wait_seconds);
    registry.register("node_breaker_changes", "Circuit breaker state changes caused by node calls", node_breakers);
    registry.register("model_calls", "Model calls of AI nodes", model_calls);
    registry.register("model_tokens", "Tokens AI nodes' model calls used, in (prompt) and out (answer)", model_tokens);
    registry.register(
        "model_cost_dollars",
        "Estimated cost of AI nodes' model calls by the price table (US dollars)",
        model_cost,
    );
    registry.register("webhook_deliveries", "Webhook requests answered, by HTTP status", deliveries);
    registry.register("active_runs", "Runs in progress", active);
    registry.register("queued_runs", "Runs waiting for a free slot (the concurrency limit)", waiting);
    registry.register("breaker_state", "Circuit breakers: 1 for the state each is in", breaker_state);
    registry.register("breaker_state_changes", "Circuit breaker state changes", breaker_changes);
    registry.register("rate_limit_waits", "Calls that waited for a host's rate limit", rate_waits);
    registry.register("rate_limit_wait_seconds", "Time calls waited for a host's rate limit", rate_wait_seconds);
    let stalled = Gauge::<i64>::default();
    stalled.set(i64::from(extra.history_stalled));
    registry.register(
        "history_write_stalled",
        "1 while the execution history cannot be written (disk full, database locked); it is kept and written when it can",
        stalled,
    );
    register_cluster(&mut registry, extra);
    if let Some(p) = extra.process {
        let memory = Gauge::<i64>::default();
        memory.set(i64::try_from(p.memory_bytes).unwrap_or(i64::MAX));
        let cpu = Counter::<f64, AtomicU64>::default();
        cpu.inc_by(p.cpu_seconds);
        registry.register("process_resident_memory_bytes", "Resident memory of the process", memory);
        registry.register("process_cpu_seconds", "CPU time of the process (user and system)", cpu);
    }
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut out, &registry);
    out
}

/// Server mode's queue and workers (on a main): per worker, labelled `worker` and `host`;
/// the whole is their sum (`sum(switchyard_worker_runs_total)`).
fn register_cluster(registry: &mut Registry, extra: &Extra) {
    if let Some((waiting, pending, dead)) = extra.queue {
        for (name, help, value) in [
            ("queue_waiting_runs", "Runs on the queue no worker has taken yet", waiting),
            ("queue_pending_runs", "Runs workers have taken and not finished (acknowledged) yet", pending),
            (
                "queue_dead_letters",
                "Runs among the queue's dead letters (they crashed every worker that ran them)",
                dead,
            ),
        ] {
            let gauge = Gauge::<i64>::default();
            gauge.set(i64::try_from(value).unwrap_or(i64::MAX));
            registry.register(name, help, gauge);
        }
    }
    if extra.workers.is_empty() {
        return;
    }
    let up = Family::<Labels, Gauge<i64>>::default();
    let concurrency = Family::<Labels, Gauge<i64>>::default();
    let running = Family::<Labels, Gauge<i64>>::default();
    let runs = Family::<Labels, Counter>::default();
    let claimed = Family::<Labels, Counter>::default();
    let dead = Family::<Labels, Counter>::default();
    let memory = Family::<Labels, Gauge<i64>>::default();
    for w in &extra.workers {
        let base = [("worker", w.name.as_str()), ("host", w.host.as_str())];
        up.get_or_create(&labels(&base)).set(i64::from(w.up));
        concurrency.get_or_create(&labels(&base)).set(i64::from(w.concurrency));
        running.get_or_create(&labels(&base)).set(i64::from(w.running));
        let succeeded = w.runs.saturating_sub(w.failed);
        for (status, n) in [("succeeded", succeeded), ("failed", w.failed)] {
            runs.get_or_create(&labels(&[base[0], base[1], ("status", status)])).inc_by(n);
        }
        claimed.get_or_create(&labels(&base)).inc_by(w.claimed);
        dead.get_or_create(&labels(&base)).inc_by(w.dead_letters);
        if let Some(bytes) = w.memory_bytes {
            memory.get_or_create(&labels(&base)).set(i64::try_from(bytes).unwrap_or(i64::MAX));
        }
    }
    registry.register("worker_up", "1 for a worker that reported within three heartbeats and has not stopped", up);
    registry.register("worker_concurrency", "Runs a worker runs at once at most", concurrency);
    registry.register("worker_running_runs", "Runs a worker has now", running);
    registry.register("worker_runs", "Runs a worker finished since it started, by status", runs);
    registry.register("worker_claims", "Runs of dead workers a worker took over and ran again", claimed);
    registry.register("worker_dead_letters", "Runs a worker moved to the dead letters", dead);
    registry.register("worker_resident_memory_bytes", "A worker's resident memory at its last report", memory);
}

#[cfg(test)]
mod tests {
    use crate::Outcome;
    use crate::recorder::{Recorder, Sample};
    use std::sync::Arc;

    fn live_with_samples() -> String {
        let (recorder, live) = Recorder::start();
        let wf: Arc<str> = Arc::from("wf-1");
        let name: Arc<str> = Arc::from("wf-\"quoted\"");
        let node: Arc<str> = Arc::from("Fetch users");
        for i in 0..20u64 {
            recorder.record(Sample::RunStarted { workflow: wf.clone(), name: name.clone(), queued: false, at_ms: 0 });
            recorder.record(Sample::NodeFinished {
                workflow: wf.clone(),
                node: node.clone(),
                outcome: Outcome::Success,
                millis: i + 1,
                items_in: 1,
                items_out: 3,
                at_ms: 0,
            });
            recorder.record(Sample::RunFinished {
                workflow: wf.clone(),
                outcome: Outcome::Success,
                millis: 2 * (i + 1),
                at_ms: 0,
            });
        }
        recorder.record(Sample::Error {
            workflow: wf.clone(),
            node: node.clone(),
            class: Arc::from("rate_limit"),
            at_ms: 0,
        });
        recorder.record(Sample::RateWait { workflow: wf.clone(), node: node.clone(), millis: 1500, at_ms: 0 });
        recorder.record(Sample::BreakerChange { workflow: wf.clone(), node: node.clone(), at_ms: 0 });
        for _ in 0..2 {
            recorder.record(Sample::ModelUsage {
                workflow: wf.clone(),
                node: node.clone(),
                model: Arc::from("gpt-4o-mini"),
                account: Arc::from("llm.openaiCompatible/work"),
                tokens_in: 1000,
                tokens_out: 250,
                at_ms: 0,
            });
        }
        recorder.record(Sample::RunStarted { workflow: wf, name, queued: false, at_ms: 0 });
        recorder.record(Sample::Delivery { status: 202, at_ms: 0 });
        recorder.flush();
        let extra = super::Extra {
            process: crate::process::ProcessSampler::default().sample(),
            breakers: vec![("api.example.com".into(), "open".into(), 3)],
            rate_waits: vec![("api.github.com".into(), 4, 1.5)],
            history_stalled: false,
            prices: [("gpt-4o-mini".to_string(), (0.15, 0.60))].into_iter().collect(),
            queue: Some((4, 2, 1)),
            workers: vec![super::WorkerSample {
                name: "box-1-4242".into(),
                host: "box-1".into(),
                up: true,
                concurrency: 8,
                running: 2,
                runs: 120,
                failed: 3,
                claimed: 5,
                dead_letters: 1,
                memory_bytes: Some(50_000_000),
            }],
        };
        super::prometheus_text(&live.lock().unwrap(), &extra)
    }

    #[test]
    fn the_text_has_every_family_with_escaped_labels() {
        let text = live_with_samples();
        assert!(
            text.contains(
                "switchyard_runs_total{workflow=\"wf-\\\"quoted\\\"\",workflow_id=\"wf-1\",status=\"succeeded\"} 20"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "switchyard_node_items_total{workflow=\"wf-\\\"quoted\\\"\",node=\"Fetch users\",direction=\"out\"} 60"
            ),
            "{text}"
        );
        assert!(text.contains(
            "switchyard_node_errors_total{workflow=\"wf-\\\"quoted\\\"\",node=\"Fetch users\",class=\"rate_limit\"} 1"
        ));
        assert!(text.contains("switchyard_webhook_deliveries_total{status=\"202\"} 1"));
        assert!(text.contains("switchyard_active_runs 1"));
        assert!(text.contains("switchyard_breaker_state{key=\"api.example.com\",state=\"open\"} 1"), "{text}");
        assert!(text.contains("switchyard_breaker_state_changes_total{key=\"api.example.com\"} 3"));
        assert!(text.contains("switchyard_rate_limit_wait_seconds_total{host=\"api.github.com\"} 1.5"));
        assert!(text.contains("switchyard_process_resident_memory_bytes "));
        assert!(text.contains(
            "switchyard_node_rate_limit_wait_seconds_total{workflow=\"wf-\\\"quoted\\\"\",node=\"Fetch users\"} 1.5"
        ));
        assert!(
            text.contains(
                "switchyard_node_breaker_changes_total{workflow=\"wf-\\\"quoted\\\"\",node=\"Fetch users\"} 1"
            )
        );
        let model = "workflow=\"wf-\\\"quoted\\\"\",node=\"Fetch users\",model=\"gpt-4o-mini\",account=\"llm.openaiCompatible/work\"";
        assert!(text.contains(&format!("switchyard_model_calls_total{{{model}}} 2")), "{text}");
        assert!(text.contains(&format!("switchyard_model_tokens_total{{{model},direction=\"in\"}} 2000")), "{text}");
        assert!(text.contains(&format!("switchyard_model_tokens_total{{{model},direction=\"out\"}} 500")), "{text}");
        // 2000 × $0.15 + 500 × $0.60 per million.
        assert!(text.contains(&format!("switchyard_model_cost_dollars_total{{{model}}} 0.0006")), "{text}");
        assert!(text.contains("percentile=\"p99\""));
        assert!(text.contains("# TYPE switchyard_runs_total counter"));
        assert!(!text.contains("# EOF"));
        assert!(text.contains("switchyard_queue_waiting_runs 4"), "{text}");
        assert!(text.contains("switchyard_queue_pending_runs 2"), "{text}");
        assert!(text.contains("switchyard_queue_dead_letters 1"), "{text}");
        let worker = "worker=\"box-1-4242\",host=\"box-1\"";
        assert!(text.contains(&format!("switchyard_worker_up{{{worker}}} 1")), "{text}");
        assert!(text.contains(&format!("switchyard_worker_runs_total{{{worker},status=\"succeeded\"}} 117")), "{text}");
        assert!(text.contains(&format!("switchyard_worker_runs_total{{{worker},status=\"failed\"}} 3")), "{text}");
        assert!(text.contains(&format!("switchyard_worker_claims_total{{{worker}}} 5")), "{text}");
        assert!(text.contains(&format!("switchyard_worker_running_runs{{{worker}}} 2")), "{text}");
    }

    /// `promtool check metrics` (Debian package prometheus, installed by `cargo xtask setup`)
    /// accepts the exposition.
    #[test]
    fn promtool_accepts_the_exposition() {
        use std::io::Write;
        let text = live_with_samples();
        let mut child = std::process::Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("promtool is installed (apt-get install prometheus; cargo xtask setup does it)");
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "promtool refused the exposition:\n{report}\n---\n{text}");
        assert!(report.trim().is_empty(), "promtool warns:\n{report}\n---\n{text}");
    }
}
