//! The scale-out benchmark, run by `cargo xtask bench scale` after it built the release CLI.
//! Prints the report section as Markdown on stdout.
//!
//! Real processes on this machine: a PostgreSQL 15 and a Redis 7 (AOF, `appendfsync always`)
//! started here (testkit), `switchyard serve` and `switchyard worker` from the release build.
//!
//! - **Through the queue, end to end:** Webhook → Set → answer with the last node's item
//!   (every answer computed by a worker and sent back through the main's reply stream),
//!   loaded by wrk for 10 s at 10 and 50 connections, with 1, 2 and 3 workers; next to the
//!   same workflow served without a queue by one process, on the desktop's SQLite store and on
//!   the PostgreSQL store. Every configuration gets a fresh database.
//! - **The queue alone:** 5,000 run messages of a workflow that only has its trigger (a no-op
//!   run) put straight on the queue, then the time until workers ran, recorded and
//!   acknowledged every one.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use switchyard_queue::{Queue, QueueConfig, RunMessage};
use switchyard_testkit::servers::{Postgres, Redis, psql_url};
use switchyard_testkit::wrk::{Load, wrk};

const SECONDS: u32 = 10;
const CONNECTIONS: &[u32] = &[10, 50];
const WORKERS: &[usize] = &[1, 2, 3];
/// Runs at once per worker.
const CONCURRENCY: usize = 16;
/// Messages of the queue-only measure.
const MESSAGES: usize = 5_000;
const ENV: [(&str, &str); 2] = [("SWITCHYARD_KEYRING", "off"), ("SWITCHYARD_MASTER_PASSWORD", "bench scale")];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the repository")
}

fn cli() -> PathBuf {
    root().join("target/release/switchyard")
}

/// One configuration's processes, killed when it ends however it ends.
struct Setup {
    folders: Vec<tempfile::TempDir>,
    database: Option<String>,
    children: Vec<Child>,
}

impl Drop for Setup {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        }
        for child in &mut self.children {
            let _ = child.wait();
        }
    }
}

impl Setup {
    fn new(database: Option<String>) -> Setup {
        Setup { folders: Vec::new(), database, children: Vec::new() }
    }

    fn folder(&mut self) -> PathBuf {
        self.folders.push(tempfile::tempdir().unwrap());
        self.folders.last().unwrap().path().to_path_buf()
    }

    /// The CLI on the configuration's store (the first folder holds the SQLite store).
    fn command(&mut self) -> Command {
        let folder = if self.database.is_some() || self.folders.is_empty() {
            self.folder()
        } else {
            self.folders[0].path().to_path_buf()
        };
        let mut cmd = Command::new(cli());
        cmd.env("SWITCHYARD_DATA_DIR", folder).envs(ENV).env_remove("SWITCHYARD_LOG");
        if let Some(url) = &self.database {
            cmd.args(["--database", url]);
        }
        cmd
    }

    fn ok(&mut self, args: &[&str]) {
        let out = self.command().args(args).output().expect("the release CLI (cargo xtask bench builds it)");
        assert!(out.status.success(), "switchyard {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Saves, trusts and activates a workflow.
    fn add(&mut self, workflow: &serde_json::Value) {
        let file = self.folder().join("workflow.json");
        std::fs::write(&file, workflow.to_string()).unwrap();
        let id = workflow["id"].as_str().unwrap();
        self.ok(&["import", file.to_str().unwrap(), "--keep-id"]);
        self.ok(&["trust", id, "--yes"]);
        self.ok(&["activate", id]);
    }

    /// `serve` (with `--queue` when given): its address.
    fn serve(&mut self, queue: Option<&str>) -> String {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
        let mut cmd = self.command();
        cmd.args(["serve", "--port", &port]);
        if let Some(url) = queue {
            cmd.args(["--queue", url]);
        }
        let mut child = cmd.stderr(Stdio::piped()).spawn().unwrap();
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        assert!(line.contains("listening on http://127.0.0.1:"), "{line}");
        std::thread::spawn(move || for _ in stderr.lines() {});
        self.children.push(child);
        format!("http://127.0.0.1:{port}")
    }

    fn worker(&mut self, queue: &str) {
        let mut child = self
            .command()
            .args(["worker", "--queue", queue, "--concurrency", &CONCURRENCY.to_string()])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        assert!(line.contains("switchyard worker: taking runs from"), "{line}");
        std::thread::spawn(move || for _ in stderr.lines() {});
        self.children.push(child);
    }
}

/// Webhook → Set → answer with the last node's item (the webhooks bench's workflow too).
fn answering() -> serde_json::Value {
    serde_json::from_str(include_str!("../../../bench/webhook-orders.json")).expect("bench/webhook-orders.json")
}

fn noop() -> serde_json::Value {
    serde_json::json!({
        "switchyard": 1, "id": "noop", "name": "No-op",
        "nodes": [{"id": "hook", "name": "Hook", "type": "trigger.webhook", "parameters": {"path": "noop", "responseMode": "immediately"}}],
        "connections": []
    })
}

/// Posts one order and checks the answer (the warm-up, and that the path works).
fn check(url: &str) {
    let body = switchyard_testkit::wrk::ORDER;
    let out = Command::new("curl")
        .args(["-s", "-X", "POST", "-H", "Content-Type: application/json", "-d", body, url])
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&text).ok(),
        Some(serde_json::json!({"order": "A-17", "total": 13.5})),
        "{url}: {text}"
    );
}

fn wait_for(url: &str, sql: &str, want: &str, limit: Duration) {
    let started = Instant::now();
    loop {
        let got = psql_url(url, sql);
        if got == want {
            return;
        }
        assert!(started.elapsed() < limit, "{sql}: {got}, waited for {want}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Row {
    name: String,
    loads: Vec<Load>,
}

fn main() {
    assert!(cli().exists(), "{} (cargo xtask bench scale builds it)", cli().display());
    let dir = tempfile::tempdir().unwrap();
    let script = switchyard_testkit::wrk::post_script(dir.path(), switchyard_testkit::wrk::ORDER);
    let pg = Postgres::start();
    let redis = Redis::start();
    let mut rows: Vec<Row> = Vec::new();
    let mut database = 0;
    let mut fresh = |pg: &Postgres| {
        database += 1;
        pg.psql(&format!("CREATE DATABASE bench{database}"));
        pg.url(&format!("bench{database}"))
    };
    let measure = |name: String, hook: &str| {
        check(hook);
        let loads: Vec<Load> = CONNECTIONS
            .iter()
            .map(|&c| {
                let load = wrk(hook, c, SECONDS, 10, &script);
                eprintln!(
                    "   {name}, {c} connections: {:.0} req/s, p50 {}, p99 {}",
                    load.per_second, load.p50, load.p99
                );
                assert_eq!(load.errors, 0, "{name}: every request answered 200 in time");
                load
            })
            .collect();
        Row { name, loads }
    };

    // Without a queue: one process runs and records everything.
    {
        let mut setup = Setup::new(None);
        setup.add(&answering());
        let base = setup.serve(None);
        rows.push(measure("one process, SQLite store (the desktop's)".into(), &format!("{base}/webhook/bench/orders")));
    }
    {
        let url = fresh(&pg);
        let mut setup = Setup::new(Some(url.clone()));
        setup.add(&answering());
        let base = setup.serve(None);
        let row = measure("one process, PostgreSQL store".into(), &format!("{base}/webhook/bench/orders"));
        let answered: u64 = row.loads.iter().map(|l| l.requests).sum::<u64>() + 1;
        drop(setup);
        let recorded: u64 = psql_url(&url, "SELECT COUNT(*) FROM executions").parse().unwrap();
        assert!(recorded >= answered, "every answered run recorded: {recorded} of {answered}");
        rows.push(row);
    }
    // Through the queue.
    for &workers in WORKERS {
        let url = fresh(&pg);
        redis.cli(&["FLUSHALL"]);
        let mut setup = Setup::new(Some(url.clone()));
        setup.add(&answering());
        for _ in 0..workers {
            setup.worker(&redis.url());
        }
        let base = setup.serve(Some(&redis.url()));
        let name = format!("main + {workers} worker{} ({CONCURRENCY} runs each)", if workers > 1 { "s" } else { "" });
        let row = measure(name, &format!("{base}/webhook/bench/orders"));
        let answered: u64 = row.loads.iter().map(|l| l.requests).sum::<u64>() + 1;
        wait_for(&url, "SELECT COUNT(*) FROM executions WHERE status <> 'success'", "0", Duration::from_secs(60));
        let recorded: u64 = psql_url(&url, "SELECT COUNT(*) FROM executions").parse().unwrap();
        assert!(recorded >= answered, "every answered run recorded: {recorded} of {answered}");
        rows.push(row);
    }

    // The queue alone: no-op runs enqueued directly.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut alone = Vec::new();
    for &workers in WORKERS {
        let url = fresh(&pg);
        redis.cli(&["FLUSHALL"]);
        let mut setup = Setup::new(Some(url.clone()));
        setup.add(&noop());
        for _ in 0..workers {
            setup.worker(&redis.url());
        }
        let started = Instant::now();
        let enqueued = runtime.block_on(async {
            let queue = Queue::connect(&redis.url(), QueueConfig::default()).await.unwrap();
            let sends = (0..MESSAGES).map(|i| {
                let queue = queue.clone();
                async move {
                    let message = RunMessage {
                        execution_id: format!("noop-{i:05}"),
                        workflow_id: "noop".into(),
                        mode: "webhook".into(),
                        start_node: None,
                        input: "[{\"n\":1}]".into(),
                        reply_to: None,
                        respond_node: false,
                        enqueued_ms: 0,
                    };
                    queue.enqueue(&message).await.unwrap();
                }
            });
            // 64 at a time, as many mains' webhook requests would.
            let mut sends = sends.collect::<Vec<_>>().into_iter();
            loop {
                let chunk: Vec<_> = sends.by_ref().take(64).collect();
                if chunk.is_empty() {
                    break;
                }
                futures_join(chunk).await;
            }
            started.elapsed()
        });
        let total = MESSAGES.to_string();
        wait_for(&url, "SELECT COUNT(*) FROM executions WHERE status = 'success'", &total, Duration::from_secs(600));
        let all = started.elapsed();
        let pending = redis.cli(&["XPENDING", "switchyard:runs", "switchyard-workers"]);
        let started_ack = Instant::now();
        let mut pending = pending.lines().next().unwrap_or("?").to_string();
        while pending != "0" && started_ack.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(50));
            pending =
                redis.cli(&["XPENDING", "switchyard:runs", "switchyard-workers"]).lines().next().unwrap_or("?").into();
        }
        assert_eq!(pending, "0", "every message acknowledged");
        let acked = started.elapsed();
        eprintln!(
            "   queue alone, {workers} worker(s): enqueued in {:.2} s, recorded in {:.2} s, acknowledged in {:.2} s",
            enqueued.as_secs_f64(),
            all.as_secs_f64(),
            acked.as_secs_f64()
        );
        alone.push((workers, enqueued, acked));
        drop(setup);
    }

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("## Scale-out: the run queue with 1, 2 and 3 workers (`cargo xtask bench scale`)\n");
    println!(
        "All on this {cores}-core machine: PostgreSQL 15 and Redis 7 (AOF, `appendfsync always`) started by the bench, \
         `switchyard serve` and `switchyard worker` from the release build. Webhook → Set → answer with the last node's \
         item, wrk POSTing a small JSON body for {SECONDS} s per column. Through the queue, every answer is computed by a \
         worker ({CONCURRENCY} runs at once each) and sent back on the main's reply stream; each run is recorded in \
         PostgreSQL (final record committed before its message is acknowledged). Every configuration starts on a fresh \
         database; every answered request is checked to have its execution record.\n"
    );
    print!("| configuration |");
    for c in CONNECTIONS {
        print!(" {c} conn. req/s | p50 | p99 |");
    }
    println!();
    print!("|---|");
    for _ in CONNECTIONS {
        print!("---:|---:|---:|");
    }
    println!();
    for row in &rows {
        print!("| {} |", row.name);
        for load in &row.loads {
            print!(" {:.0} | {} | {} |", load.per_second, load.p50, load.p99);
        }
        println!();
    }
    println!(
        "\n**The queue alone**: {MESSAGES} no-op runs (a workflow with only its trigger) put straight on the queue, 64 \
         at a time, until every one is run, recorded and acknowledged:\n"
    );
    println!("| workers | enqueue | all acknowledged | runs/s |");
    println!("|---:|---:|---:|---:|");
    for (workers, enqueued, acked) in &alone {
        println!(
            "| {workers} | {:.2} s | {:.2} s | {:.0} |",
            enqueued.as_secs_f64(),
            acked.as_secs_f64(),
            MESSAGES as f64 / acked.as_secs_f64()
        );
    }
    let at = |row: usize, column: usize| rows.get(row).and_then(|r| r.loads.get(column)).map_or(0.0, |l| l.per_second);
    let last = CONNECTIONS.len() - 1;
    let (postgres, queued) = (at(1, last), at(2, last));
    let best = (3..rows.len()).map(|r| at(r, last)).fold(0.0, f64::max);
    println!(
        "\n**What this machine shows.** Everything above shares {cores} cores: PostgreSQL, Redis (an fsync per write), the \
         main, the workers and wrk. At {c} connections one process on PostgreSQL answers {postgres:.0} req/s and the queue with one \
         worker {queued:.0} ({:.0} % of it: the queue's own cost is the enqueue, the worker's read, the reply and the \
         acknowledgement, four Redis round trips and fsyncs per run); with 2 or 3 workers the best is {best:.0}. More workers \
         cannot add CPU here, so the rows show the queue's overhead, not its scaling: the bound is the history's writes to \
         PostgreSQL (each process commits its runs' records in group commits under the store's write lock) and the CPU the \
         processes share. The embedded SQLite store in one process stays the fastest way to run one machine's webhooks, which \
         is why the desktop and a single `serve` keep it.",
        100.0 * queued / postgres.max(1.0),
        c = CONNECTIONS[last],
    );
    println!(
        "\n**What the design should give on more machines.** Workers share nothing but Redis and PostgreSQL: on separate \
         machines each adds its own CPU for the nodes' work (expressions, HTTP calls, code), which is where real workflows \
         spend their time, while the per-run cost on the shared servers is a few Redis commands and one group-committed \
         history transaction per batch of runs. The queue alone (the second table) is the ceiling of that shared part on \
         this machine; on a dedicated PostgreSQL and Redis it rises with their cores and disks, and a run that does real \
         work (hundreds of milliseconds) keeps each worker busy long enough that tens of workers fit under it."
    );
}

/// Awaits every future (no extra dependency for `join_all`).
async fn futures_join(futures: Vec<impl std::future::Future<Output = ()> + Send + 'static>) {
    let mut set = tokio::task::JoinSet::new();
    for f in futures {
        set.spawn(f);
    }
    while set.join_next().await.is_some() {}
}
