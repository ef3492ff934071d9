//! The resilience benchmark, run by `cargo xtask bench resilience` (release build). Prints
//! the report section as Markdown on stdout.
//!
//! 30,000 items through the HTTP Request node at concurrency 50 against a server on
//! 127.0.0.1, next to a plain reqwest loop with the same concurrency and the same client
//! settings; and the cost per call of a retry policy that never retries and of the breaker
//! and rate-limit checks.

use futures::StreamExt;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard_engine::resilience::Resilience;
use switchyard_engine::validate::validate_text;
use switchyard_engine::{Engine, Registry, RunRequest, Services, SystemClock};
use switchyard_model::error::NodeError;
use switchyard_model::item::Item;
use switchyard_model::retry::RetryPolicy;
use switchyard_model::value::Value;
use switchyard_testkit::TestServer;

const ITEMS: usize = 30_000;
const CONCURRENCY: usize = 50;
const ROUNDS: usize = 9;
const CALLS: u32 = 1_000_000;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn plain_loop(client: &reqwest::Client, url: &str) -> Duration {
    let started = Instant::now();
    let bodies: Vec<serde_json::Value> = futures::stream::iter(0..ITEMS)
        .map(|i| {
            let client = client.clone();
            let url = format!("{url}?i={i}");
            async move { client.get(url).send().await.unwrap().json::<serde_json::Value>().await.unwrap() }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    assert_eq!(bodies.len(), ITEMS);
    started.elapsed()
}

async fn engine_run(engine: &Engine, url: &str, retry: bool) -> Duration {
    let mut settings = json!({ "concurrency": CONCURRENCY });
    if retry {
        settings["retry"] = json!({ "maxTries": 3 });
    }
    let wf = json!({
        "switchyard": 1, "id": "bench", "name": "Bench",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "h", "name": "Call", "type": "http.request",
             "parameters": {"url": format!("{url}?i={{{{ json.i }}}}")}, "settings": settings}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "h"}}]
    });
    let report = validate_text(&wf.to_string(), engine.registry());
    let prepared = engine.prepare(report.workflow.expect("valid workflow")).expect("prepared");
    let input: Vec<Item> = (0..ITEMS).map(|i| Item::wrap(Value::from(json!({ "i": i })))).collect();
    let started = Instant::now();
    let outcome = engine.run(prepared, RunRequest { execution_id: "bench".into(), input, ..Default::default() }).await;
    let elapsed = started.elapsed();
    assert_eq!(outcome.result.len(), ITEMS, "{:?}", outcome.error);
    elapsed
}

fn ns_per(calls: u32, d: Duration) -> f64 {
    d.as_nanos() as f64 / f64::from(calls)
}

#[tokio::main]
async fn main() {
    let server = TestServer::start_in_thread();
    let url = server.url("/ok");
    let client = switchyard_engine::services::default_http_client();
    let engine = Engine::new(Registry::builtin(), Services::new(Arc::new(SystemClock), client.clone()));

    // Warm up connections and code paths.
    plain_loop(&client, &url).await;
    engine_run(&engine, &url, false).await;

    let (mut plain, mut node, mut node_retry) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        plain.push(plain_loop(&client, &url).await);
        node.push(engine_run(&engine, &url, false).await);
        node_retry.push(engine_run(&engine, &url, true).await);
    }
    let (plain, node, node_retry) = (median(plain), median(node), median(node_retry));
    let rate = |d: Duration| (ITEMS as f64 / d.as_secs_f64()) as u64;
    let ratio = plain.as_secs_f64() / node.as_secs_f64();

    // The per-call cost of resilience that never has to act.
    let resilience = Resilience::default();
    let started = Instant::now();
    for _ in 0..CALLS {
        resilience.check("127.0.0.1:8080").unwrap();
        let admission = resilience.admit("127.0.0.1:8080").unwrap();
        resilience.record(admission, Ok(()));
        std::hint::black_box(resilience.throttle("127.0.0.1").await);
    }
    let breaker = ns_per(CALLS, started.elapsed());
    let policy = RetryPolicy { max_tries: 3, ..RetryPolicy::default() };
    let observe = |_: u32, _: Duration, _: &NodeError| {};
    let started = Instant::now();
    for i in 0..CALLS {
        let r = switchyard_engine::resilience::retry(&policy, &observe, || async { Ok::<u32, NodeError>(i) }).await;
        std::hint::black_box(r.ok());
    }
    let retry = ns_per(CALLS, started.elapsed());
    let started = Instant::now();
    for i in 0..CALLS {
        std::hint::black_box(async { Ok::<u32, NodeError>(i) }.await.ok());
    }
    let bare = ns_per(CALLS, started.elapsed());

    let pass = |ok: bool| if ok { "**pass**" } else { "**FAIL**" };
    println!(
        "## Resilience: HTTP throughput (`cargo xtask bench resilience`)\n\n\
         Release build. {ITEMS} items through the HTTP Request node at concurrency {CONCURRENCY} against a \
         `GET /ok` JSON endpoint of the test server on 127.0.0.1 (its own thread), next to a plain reqwest loop \
         (`buffer_unordered({CONCURRENCY})`, the same client, each body parsed as JSON). Median of {ROUNDS} rounds after a warm-up. \
         The node run includes building the items, expressions per item, the breaker and rate-limit checks, \
         ordering, events and the output items.\n\n\
         | Measure | Result |\n|---|---|\n\
         | Plain reqwest loop | {} ms, {} req/s |\n\
         | HTTP Request node, no retry policy | {} ms, {} req/s |\n\
         | HTTP Request node, retry policy (3 tries) that never retries | {} ms, {} req/s |\n\
         | Node throughput / plain loop | {ratio:.2} |\n\
         | Breaker check + admit + record and rate-limit check, per call | {breaker:.0} ns |\n\
         | Retry wrapper around a call that succeeds, per call | {:.0} ns (bare await: {bare:.0} ns) |\n\n\
         Target: node throughput ≥ 0.8 × the plain loop — {}\n",
        plain.as_millis(),
        rate(plain),
        node.as_millis(),
        rate(node),
        node_retry.as_millis(),
        rate(node_retry),
        retry,
        pass(ratio >= 0.8)
    );
}
