//! Server mode's queue with real processes (docs/server.md, "Queue and workers"): a main
//! (`serve --queue`) and workers (`switchyard worker`) on a real Redis 7 and a real
//! PostgreSQL 15, all started by the tests.

use super::rest::{call, stop};
use super::{answering_hook, cli, spawn_serve_any};
use serde_json::json;
use std::io::BufRead;
use std::process::{Child, Stdio};
use switchyard_testkit::servers::{Postgres, Redis, psql_url};

const ENV: [(&str, &str); 2] = [("SWITCHYARD_KEYRING", "off"), ("SWITCHYARD_MASTER_PASSWORD", "queued up")];

/// A PostgreSQL database and a Redis for one test, and a data folder per process.
struct Cluster {
    /// Kept running for the test.
    _pg: Postgres,
    redis: Redis,
    url: String,
    folders: Vec<tempfile::TempDir>,
    /// The processes it started, killed when the test ends however it ends.
    pids: Vec<u32>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for pid in &self.pids {
            let _ = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).stderr(Stdio::null()).status();
        }
    }
}

impl Cluster {
    fn start(name: &str) -> Cluster {
        let pg = Postgres::start();
        pg.psql(&format!("CREATE DATABASE {name}"));
        let url = pg.url(name);
        Cluster { _pg: pg, redis: Redis::start(), url, folders: Vec::new(), pids: Vec::new() }
    }

    fn folder(&mut self) -> std::path::PathBuf {
        self.folders.push(tempfile::tempdir().unwrap());
        self.folders.last().unwrap().path().to_path_buf()
    }

    fn cli(&mut self) -> assert_cmd::Command {
        let folder = self.folder();
        let mut cmd = cli(&folder);
        cmd.envs(ENV).args(["--database", &self.url]);
        cmd
    }

    /// Saves, trusts and activates a workflow.
    fn add(&mut self, workflow: &serde_json::Value) {
        let folder = self.folder();
        let file = folder.join("workflow.json");
        std::fs::write(&file, workflow.to_string()).unwrap();
        let id = workflow["id"].as_str().unwrap();
        self.cli().arg("import").arg(&file).arg("--keep-id").assert().success();
        self.cli().args(["trust", id, "--yes"]).assert().success();
        self.cli().args(["activate", id]).assert().success();
    }

    /// `serve --queue` on its own folder: the process and its address.
    fn main(&mut self) -> (Child, String) {
        let folder = self.folder();
        let args = ["--database", self.url.as_str(), "--queue", &self.redis.url()];
        let (child, stderr, _port, addr) = spawn_serve_any(&folder, &args, &ENV);
        self.pids.push(child.id());
        // Read (and drop) its log, so that its last lines at shutdown have somewhere to go.
        std::thread::spawn(move || for _ in stderr.lines() {});
        (child, addr)
    }

    /// `switchyard worker` on its own folder, started (its first line read).
    fn worker(&mut self, concurrency: usize, extra: &[&str]) -> Child {
        let folder = self.folder();
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("switchyard"))
            .args(["--database", &self.url, "worker", "--queue", &self.redis.url()])
            .args(["--concurrency", &concurrency.to_string(), "--visibility-timeout", "3"])
            .args(extra)
            .env("SWITCHYARD_DATA_DIR", &folder)
            .envs(ENV)
            .env_remove("SWITCHYARD_LOG")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        self.pids.push(child.id());
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        assert!(line.contains("switchyard worker: taking runs from"), "{line}");
        // Keep reading (and dropping) its log so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in stderr.lines() {});
        child
    }

    fn sql(&self, sql: &str) -> String {
        psql_url(&self.url, sql)
    }

    fn wait_for(&self, sql: &str, want: &str, limit_s: u64) {
        let started = std::time::Instant::now();
        loop {
            let got = self.sql(sql);
            if got == want {
                return;
            }
            assert!(started.elapsed().as_secs() < limit_s, "{sql}: {got}, waited for {want}");
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
}

fn stop_worker(child: &mut Child) {
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let status = child.wait().unwrap();
    assert!(status.success(), "a worker exits 0 after SIGTERM: {status:?}");
}

/// A workflow whose runs take `ms` milliseconds: a webhook answered at once, a Wait.
fn slow_hook(id: &str, ms: u32) -> serde_json::Value {
    json!({"switchyard": 1, "id": id, "name": "Slow",
        "nodes": [
            {"id": "hook", "name": "Hook", "type": "trigger.webhook", "parameters": {"path": "in", "responseMode": "immediately"}},
            {"id": "wait", "name": "Wait", "type": "flow.wait", "parameters": {"mode": "duration", "amount": ms, "unit": "milliseconds"}}
        ],
        "connections": [{"from": {"node": "hook"}, "to": {"node": "wait"}}]})
}

/// The scale test: 1 main and 3 workers, 1,000 webhook deliveries from 8 clients in "last
/// node" mode (each answer computed by a worker and sent back through the main's reply
/// stream): 1,000 executions, each recorded once, all final, nothing pending.
#[test]
#[ignore = "heavy: run by `cargo xtask test` in its own stage"]
fn heavy_one_main_and_three_workers_run_1000_deliveries_each_once() {
    let mut cluster = Cluster::start("scale");
    cluster.add(&answering_hook("doubler", "Doubler", "doubled", "{{ json.body.n * 2 }}"));
    let mut workers: Vec<Child> = (0..3).map(|_| cluster.worker(4, &[])).collect();
    let (mut main, addr) = cluster.main();
    let started = std::time::Instant::now();
    let senders: Vec<_> = (0..8)
        .map(|t| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                for i in 0..125 {
                    let n = t * 1000 + i;
                    let answer = call(&addr, "POST", "/webhook/doubler/in", None, Some(&json!({"n": n})));
                    assert_eq!(answer.status, 200, "{}", answer.body);
                    assert_eq!(answer.json()["doubled"], json!(n * 2), "{}", answer.body);
                }
            })
        })
        .collect();
    for s in senders {
        s.join().unwrap();
    }
    let seconds = started.elapsed().as_secs_f64();
    eprintln!("1000 deliveries through the queue in {seconds:.1} s ({:.0}/s)", 1000.0 / seconds);
    cluster.wait_for("SELECT COUNT(*) FROM executions WHERE status = 'success'", "1000", 60);
    assert_eq!(cluster.sql("SELECT COUNT(*), COUNT(DISTINCT id) FROM executions"), "1000|1000");
    assert_eq!(cluster.sql("SELECT COUNT(*) FROM executions WHERE attempt > 1"), "0");
    assert_eq!(cluster.redis.cli(&["XPENDING", "switchyard:runs", "switchyard-workers"]).lines().next(), Some("0"));
    stop(&mut main);
    for w in &mut workers {
        stop_worker(w);
    }
}

/// A worker killed (SIGKILL) in the middle of 50 runs of 1.5 s: its runs are taken over by
/// the other worker after the visibility timeout and run again from the start; every run
/// ends `success`, once, and the runs run twice say so (attempt 2).
#[test]
fn a_killed_workers_runs_end_success_on_another_each_recorded_once() {
    let mut cluster = Cluster::start("killed");
    cluster.add(&slow_hook("slow", 1500));
    let mut doomed = cluster.worker(25, &[]);
    let (mut main, addr) = cluster.main();
    for n in 0..50 {
        let answer = call(&addr, "POST", "/webhook/slow/in", None, Some(&json!({"n": n})));
        assert_eq!(answer.status, 202, "{}", answer.body);
    }
    // The doomed worker has started its first 25.
    cluster.wait_for("SELECT COUNT(*) >= 25 FROM executions WHERE status = 'running'", "t", 30);
    doomed.kill().unwrap();
    doomed.wait().unwrap();
    let mut survivor = cluster.worker(25, &[]);
    cluster.wait_for("SELECT COUNT(*) FROM executions WHERE status = 'success'", "50", 90);
    assert_eq!(cluster.sql("SELECT COUNT(*), COUNT(DISTINCT id) FROM executions"), "50|50");
    let again: u32 = cluster.sql("SELECT COUNT(*) FROM executions WHERE attempt = 2").parse().unwrap();
    assert!(again >= 1, "the killed worker's runs were run again and say so");
    // The runs run again have one record of their nodes (the earlier attempt's went).
    // (A run written whole keeps its nodes' data in its own row.)
    let nodes = "SELECT (SELECT COUNT(*) FROM execution_nodes) + (SELECT COALESCE(SUM(json_array_length(nodes::json)), 0) FROM executions)";
    assert_eq!(cluster.sql(nodes), "100", "hook and wait, once per run");
    let status = cluster.cli().args(["queue", "--queue", &cluster.redis.url(), "--json"]).output().unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!((status["stats"]["pending"].as_u64(), status["stats"]["dead"].as_u64()), (Some(0), Some(0)), "{status}");
    stop(&mut main);
    stop_worker(&mut survivor);
}

/// A main's dashboard and Prometheus text show every worker (its runs, failures, what it
/// runs now), their total and the queue's counts; the live range adds up every worker's
/// minutes; a worker's own `--metrics` endpoint shows its runs by workflow.
#[test]
fn the_main_shows_each_worker_their_total_and_the_queue() {
    let mut cluster = Cluster::start("watched");
    cluster.add(&answering_hook("doubler", "Doubler", "doubled", "{{ json.body.n * 2 }}"));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut one = cluster.worker(2, &["--metrics", &format!("127.0.0.1:{port}")]);
    let mut two = cluster.worker(2, &[]);
    let (mut main, addr) = cluster.main();
    for n in 0..20 {
        let answer = call(&addr, "POST", "/webhook/doubler/in", None, Some(&json!({"n": n})));
        assert_eq!(answer.json()["doubled"], json!(n * 2), "{}", answer.body);
    }
    let created =
        cluster.cli().args(["tokens", "create", "--name", "watch", "--scope", "read", "--json"]).output().unwrap();
    let created: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    let token = created["secret"].as_str().unwrap().to_string();
    // Workers report every heartbeat (1 s here) and flush their minutes every 10 s.
    let started = std::time::Instant::now();
    let dashboard = loop {
        let answer = call(&addr, "GET", "/api/v1/metrics/dashboard?range=live", Some(&token), None);
        assert_eq!(answer.status, 200, "{}", answer.body);
        let dashboard = answer.json();
        let cluster = &dashboard["cluster"];
        if cluster["total"]["runs"] == 20 && dashboard["total"]["started"] == 20 {
            break dashboard;
        }
        assert!(started.elapsed().as_secs() < 40, "{dashboard}");
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    let view = &dashboard["cluster"];
    let workers = view["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 2, "{view}");
    assert!(workers.iter().all(|w| w["up"] == true && w["concurrency"] == 2 && w["failed"] == 0), "{view}");
    let runs: Vec<u64> = workers.iter().map(|w| w["runs"].as_u64().unwrap()).collect();
    assert_eq!(runs.iter().sum::<u64>(), 20, "{view}");
    assert_eq!(view["total"]["up"], 2, "{view}");
    assert_eq!(view["queue"], json!({"waiting": 0, "pending": 0, "dead": 0}), "{view}");
    assert_eq!(dashboard["workflows"][0]["workflowId"], "doubler", "{dashboard}");

    // Prometheus on the main: per worker, labelled; the whole is their sum.
    let text = loop {
        let answer = call(&addr, "GET", "/api/v1/metrics/prometheus", Some(&token), None);
        let text = answer.json()["text"].as_str().unwrap().to_string();
        if text.matches("switchyard_worker_up{").count() == 2 {
            break text;
        }
        assert!(started.elapsed().as_secs() < 60, "{text}");
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    assert!(text.contains("switchyard_queue_waiting_runs 0"), "{text}");
    assert!(text.contains("switchyard_queue_dead_letters 0"), "{text}");
    let succeeded: u64 = text
        .lines()
        .filter(|l| l.starts_with("switchyard_worker_runs_total{") && l.contains("status=\"succeeded\""))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert!(succeeded <= 20 && succeeded >= runs.iter().copied().min().unwrap(), "{text}");

    // The worker's own endpoint: its runs by workflow, behind the store's metrics token (the
    // same on every process), and only while the endpoint is on.
    let worker_addr = format!("127.0.0.1:{port}");
    assert_eq!(call(&worker_addr, "GET", "/metrics", None, None).status, 404, "off by default");
    let enabled = cluster.cli().args(["metrics", "--enable", "--token"]).output().unwrap();
    assert!(enabled.status.success(), "{}", String::from_utf8_lossy(&enabled.stderr));
    let metrics_token = String::from_utf8(enabled.stdout).unwrap().trim().to_string();
    assert_eq!(call(&worker_addr, "GET", "/metrics", None, None).status, 401);
    assert_eq!(call(&worker_addr, "GET", "/metrics", Some("wrong-token"), None).status, 401);
    let own = call(&worker_addr, "GET", "/metrics", Some(&metrics_token), None);
    assert_eq!(own.status, 200);
    assert!(
        own.body.contains("switchyard_runs_total{workflow=\"Doubler\",workflow_id=\"doubler\",status=\"succeeded\"}"),
        "{}",
        own.body
    );

    // A worker that stops says so.
    stop_worker(&mut two);
    let answer = call(&addr, "GET", "/api/v1/metrics/dashboard?range=1h", Some(&token), None);
    let workers = answer.json()["cluster"]["workers"].as_array().unwrap().clone();
    assert_eq!(workers.iter().filter(|w| w["up"] == true).count(), 1, "{workers:?}");
    assert!(workers.iter().any(|w| w["stoppedMs"].is_i64()), "{workers:?}");
    stop(&mut main);
    stop_worker(&mut one);
}

/// A run that crashes every worker that takes it (here: each is killed while running it)
/// goes to the dead letters after --max-deliveries, and its record says so.
#[test]
fn a_run_that_crashes_workers_too_often_becomes_a_dead_letter() {
    let mut cluster = Cluster::start("dead");
    cluster.add(&slow_hook("doomed", 60_000));
    let (mut main, addr) = cluster.main();
    assert_eq!(call(&addr, "POST", "/webhook/doomed/in", None, Some(&json!({}))).status, 202);
    for attempt in 1..=2 {
        let mut worker = cluster.worker(1, &["--max-deliveries", "2"]);
        cluster.wait_for("SELECT status || attempt FROM executions", &format!("running{attempt}"), 30);
        worker.kill().unwrap();
        worker.wait().unwrap();
    }
    let mut last = cluster.worker(1, &["--max-deliveries", "2"]);
    cluster.wait_for("SELECT status FROM executions", "error", 30);
    let error = cluster.sql("SELECT error FROM executions");
    assert!(error.contains("dead letters") && error.contains("3 times"), "{error}");
    let status = cluster.cli().args(["queue", "--queue", &cluster.redis.url(), "--json"]).output().unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["stats"]["dead"], 1, "{status}");
    assert_eq!(status["deadLetters"][0]["message"]["workflowId"], "doomed", "{status}");
    assert_eq!(status["stats"]["pending"], 0, "{status}");
    // The main's dashboard lists it.
    let created =
        cluster.cli().args(["tokens", "create", "--name", "watch", "--scope", "read", "--json"]).output().unwrap();
    let created: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    let token = created["secret"].as_str().unwrap();
    // (The worker reports its count at its next heartbeat.)
    let started = std::time::Instant::now();
    let dashboard = loop {
        let dashboard = call(&addr, "GET", "/api/v1/metrics/dashboard?range=1h", Some(token), None).json();
        if dashboard["cluster"]["total"]["deadLetters"] == 1 {
            break dashboard;
        }
        assert!(started.elapsed().as_secs() < 20, "{dashboard}");
        std::thread::sleep(std::time::Duration::from_millis(300));
    };
    let letter = &dashboard["cluster"]["deadLetters"][0];
    assert_eq!(letter["workflowId"], "doomed", "{dashboard}");
    assert_eq!(letter["deliveries"], 3, "{dashboard}");
    assert!(letter["reason"].as_str().unwrap().contains("crashed every worker"), "{dashboard}");
    assert_eq!(dashboard["cluster"]["queue"]["dead"], 1, "{dashboard}");
    assert_eq!(dashboard["cluster"]["total"]["deadLetters"], 1, "{dashboard}");
    stop(&mut main);
    stop_worker(&mut last);
}

/// The main killed (SIGKILL) with 500 runs queued and no worker up: none is lost. Workers
/// then run them all while Redis is restarted under them (append-only file on): they
/// reconnect, and every run ends `success`, once; a new main carries on.
#[test]
#[ignore = "heavy: run by `cargo xtask test` in its own stage"]
fn heavy_a_killed_main_and_a_restarted_redis_lose_no_queued_run() {
    let mut cluster = Cluster::start("restarts");
    cluster.add(&slow_hook("queued", 20));
    let (mut main, addr) = cluster.main();
    for n in 0..500 {
        let answer = call(&addr, "POST", "/webhook/queued/in", None, Some(&json!({"n": n})));
        assert_eq!(answer.status, 202, "{}", answer.body);
    }
    main.kill().unwrap();
    main.wait().unwrap();
    assert_eq!(cluster.sql("SELECT COUNT(*) FROM executions"), "0", "no worker ran any yet");
    assert_eq!(cluster.redis.cli(&["XLEN", "switchyard:runs"]), "500");

    let mut workers: Vec<Child> = (0..2).map(|_| cluster.worker(10, &[])).collect();
    cluster.wait_for("SELECT COUNT(*) >= 100 FROM executions WHERE status = 'success'", "t", 60);
    cluster.redis.restart(std::time::Duration::from_millis(500));
    cluster.wait_for("SELECT COUNT(*) FROM executions WHERE status = 'success'", "500", 120);
    assert_eq!(cluster.sql("SELECT COUNT(*), COUNT(DISTINCT id) FROM executions"), "500|500");

    let (mut main, addr) = cluster.main();
    for n in 0..10 {
        assert_eq!(call(&addr, "POST", "/webhook/queued/in", None, Some(&json!({"n": n}))).status, 202);
    }
    cluster.wait_for("SELECT COUNT(*) FROM executions WHERE status = 'success'", "510", 60);
    cluster.wait_for("SELECT COUNT(*) FROM executions WHERE status <> 'success'", "0", 10);
    stop(&mut main);
    for w in &mut workers {
        stop_worker(w);
    }
}
