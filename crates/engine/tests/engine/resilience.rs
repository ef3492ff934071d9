//! Retries, error classes, server-requested waits, circuit breakers, rate limits and item
//! concurrency, against the test server's injected faults on 127.0.0.1. Every test runs on
//! tokio's paused clock: delays are asserted exactly, and waiting costs no real time.

use crate::support::*;
use serde_json::{Value as Json, json};
use std::sync::Arc;
use std::time::Duration;
use switchyard_engine::resilience::{BreakerSettings, Resilience};
use switchyard_engine::{Engine, Registry, Services, TokioClock};
use switchyard_model::error::{ErrorClass, ErrorCode};
use switchyard_model::events::RunEventKind;
use switchyard_model::execution::RunStatus;
use switchyard_model::retry::{BreakerState, Rate};
use switchyard_testkit::TestServer;

/// Start → Call (HTTP); with `onError: errorOutput`, Call's error output feeds "Failed".
fn http_workflow(parameters: Json, settings: Json) -> switchyard_model::workflow::Workflow {
    let mut connections = vec![json!({"from": {"node": "t"}, "to": {"node": "h"}})];
    if settings["onError"] == "errorOutput" {
        connections.push(json!({"from": {"node": "h", "output": "error"}, "to": {"node": "failed"}}));
    }
    workflow(json!({
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "h", "name": "Call", "type": "http.request", "parameters": parameters, "settings": settings},
            {"id": "failed", "name": "Failed", "type": "flow.noop"}
        ],
        "connections": connections
    }))
}

/// Node settings with a retry policy: exponential 1 s, 2 s, 4 s… without jitter, retrying
/// the default classes.
fn retry(max_tries: u32) -> Json {
    json!({"retry": {"maxTries": max_tries, "backoff": "exponential", "initialDelayMs": 1000, "factor": 2, "jitter": "none"}})
}

fn retries(collector: &Collector) -> Vec<(Option<u32>, u32, u32, ErrorClass)> {
    collector.picked(|kind| match kind {
        RunEventKind::NodeRetrying { item_index, attempt, delay_ms, error, .. } => {
            Some((*item_index, *attempt, *delay_ms, error.class))
        }
        _ => None,
    })
}

fn engine_with(resilience: Resilience) -> Engine {
    let clock = Arc::new(TokioClock::starting_at("2026-01-31T12:00:00Z".parse().unwrap()));
    let services = Services::new(clock, switchyard_engine::services::default_http_client()).with_resilience(resilience);
    Engine::new(Registry::builtin(), services)
}

#[tokio::test(start_paused = true)]
async fn a_run_of_503s_is_retried_with_exponential_delays() {
    let server = TestServer::start().await;
    let wf = http_workflow(json!({"url": server.url("/fault/a?fail=3")}), retry(5));
    let (outcome, collector) = run(&engine(), wf, json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    assert_eq!(jsons(&outcome.result)[0]["attempt"], 4);
    assert_eq!(server.fault_log("a").await, (4, vec![0, 1000, 3000, 7000]));
    let expected: Vec<_> = [(2, 1000), (3, 2000), (4, 4000)]
        .into_iter()
        .map(|(attempt, delay)| (Some(0), attempt, delay, ErrorClass::Transient))
        .collect();
    assert_eq!(retries(&collector), expected);
}

#[tokio::test(start_paused = true)]
async fn every_backoff_strategy_spaces_tries_as_named() {
    let server = TestServer::start().await;
    for (backoff, offsets) in [
        ("fixed", vec![0, 500, 1000, 1500, 2000]),
        ("linear", vec![0, 500, 1500, 3000, 5000]),
        ("fibonacci", vec![0, 500, 1000, 2000, 3500]),
        ("exponential", vec![0, 500, 2000, 6500, 20000]),
    ] {
        let key = format!("strategy-{backoff}");
        let policy = json!({"maxTries": 5, "backoff": backoff, "initialDelayMs": 500, "factor": 3, "maxDelayMs": 13500, "jitter": "none"});
        let wf = http_workflow(json!({"url": server.url(&format!("/fault/{key}?fail=4"))}), json!({"retry": policy}));
        let (outcome, _) = run(&engine(), wf, json!(null)).await;
        assert_eq!(outcome.status, RunStatus::Success, "{backoff}: {:?}", outcome.error);
        assert_eq!(server.fault_log(&key).await.1, offsets, "{backoff}");
    }
}

#[tokio::test(start_paused = true)]
async fn jitter_keeps_each_delay_in_its_band() {
    let server = TestServer::start().await;
    let policy = json!({"maxTries": 6, "backoff": "fixed", "initialDelayMs": 1000, "jitter": "quarter"});
    let wf = http_workflow(json!({"url": server.url("/fault/jitter?fail=5")}), json!({"retry": policy}));
    // Five failures in a row would open the default breaker; this test is about the delays.
    let engine = engine_with(Resilience::new(BreakerSettings { threshold: 10, ..BreakerSettings::default() }));
    let (outcome, collector) = run(&engine, wf, json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success);
    let delays: Vec<u32> = retries(&collector).iter().map(|r| r.2).collect();
    assert_eq!(delays.len(), 5);
    assert!(delays.iter().all(|d| (750..=1250).contains(d)), "{delays:?}");
    let offsets = server.fault_log("jitter").await.1;
    for (pair, delay) in offsets.windows(2).zip(&delays) {
        // tokio's timer has millisecond steps: the announced delay is truncated, the wait is not.
        assert!((pair[1] - pair[0]).abs_diff(u64::from(*delay)) <= 1, "the server saw the announced delay");
    }
}

#[tokio::test(start_paused = true)]
async fn retry_after_and_rate_limit_reset_set_the_next_delay() {
    let server = TestServer::start().await;
    // Seconds.
    let wf = http_workflow(json!({"url": server.url("/fault/ra?fail=1&status=429&retryAfter=7")}), retry(3));
    let (outcome, collector) = run(&engine(), wf, json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success);
    assert_eq!(server.fault_log("ra").await.1, vec![0, 7000]);
    assert_eq!(retries(&collector)[0].3, ErrorClass::RateLimit);
    // An HTTP date: the engine's clock reads 2026-01-31T12:00:00Z at the start.
    let date = "Sat,%2031%20Jan%202026%2012:00:12%20GMT";
    let wf =
        http_workflow(json!({"url": server.url(&format!("/fault/rd?fail=1&status=503&retryAfter={date}"))}), retry(3));
    let (outcome, _) = run(&engine(), wf, json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success);
    assert_eq!(server.fault_log("rd").await.1, vec![0, 12000]);
    // RateLimit-Reset and X-RateLimit-Reset.
    let wf = http_workflow(json!({"url": server.url("/fault/rr?fail=1&status=429&rateLimitReset=3")}), retry(3));
    run(&engine(), wf, json!(null)).await;
    assert_eq!(server.fault_log("rr").await.1, vec![0, 3000]);
    let wf = http_workflow(json!({"url": server.url("/fault/xr?fail=1&status=429&xRateLimitReset=5")}), retry(3));
    run(&engine(), wf, json!(null)).await;
    assert_eq!(server.fault_log("xr").await.1, vec![0, 5000]);
}

#[tokio::test(start_paused = true)]
async fn permanent_errors_are_not_retried_unless_asked() {
    let server = TestServer::start().await;
    let wf = http_workflow(json!({"url": server.url("/fault/p?fail=9&status=404")}), retry(5));
    let (outcome, collector) = run(&engine(), wf, json!(null)).await;
    let error = outcome.error.unwrap();
    assert_eq!((error.code, error.class), (ErrorCode::HttpStatus, ErrorClass::Permanent));
    assert_eq!(server.fault_log("p").await.0, 1);
    assert!(retries(&collector).is_empty());
    // 401 and 403 are permanent too; a policy may still list the class.
    let mut policy = retry(3);
    policy["retry"]["retryOn"] = json!(["permanent"]);
    let wf = http_workflow(json!({"url": server.url("/fault/q?fail=1&status=403")}), policy);
    let (outcome, _) = run(&engine(), wf, json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success);
    assert_eq!(server.fault_log("q").await.0, 2);
}

#[tokio::test(start_paused = true)]
async fn failed_items_reach_the_error_output_only_after_the_last_try() {
    let server = TestServer::start().await;
    let mut settings = retry(3);
    settings["onError"] = json!("errorOutput");
    let wf = http_workflow(json!({"url": server.url("/fault/{{ json.k }}?fail={{ json.fail }}")}), settings);
    let input = json!([{"k": "e1", "fail": 1}, {"k": "e2", "fail": 9}, {"k": "e3", "fail": 0}]);
    let (outcome, collector) = run(&engine(), wf, input).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let failed = node_data(&collector, "failed");
    assert_eq!(failed.outputs[0].total, 1);
    let error = failed.outputs[0].items[0].error().unwrap();
    assert_eq!((error.item_index, error.class), (Some(1), ErrorClass::Transient));
    assert_eq!(server.fault_log("e1").await.0, 2);
    assert_eq!(server.fault_log("e2").await.0, 3, "three tries, then the error output");
    assert_eq!(server.fault_log("e3").await.0, 1);
    assert_eq!(node_data(&collector, "h").outputs[0].total, 2);
}

#[tokio::test(start_paused = true)]
async fn slow_answers_time_out_and_are_retried() {
    let server = TestServer::start().await;
    let wf = http_workflow(json!({"url": server.url("/fault/slow?fail=1&slowMs=60000"), "timeout": 2}), retry(3));
    let (outcome, collector) = run(&engine(), wf, json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    assert_eq!(retries(&collector)[0].3, ErrorClass::Timeout);
    assert_eq!(server.fault_log("slow").await.1, vec![0, 3000], "2 s timeout, then 1 s delay");
}

/// On the real clock: on the paused one, a moment where the client waits for the dropped
/// connection's end with nothing else to do can jump the clock to the request's timeout
/// (it failed so, as a timeout, once in about twenty runs).
#[tokio::test]
async fn dropped_connections_are_network_errors_and_retried() {
    let server = TestServer::start().await;
    let policy = json!({"retry": {"maxTries": 3, "backoff": "fixed", "initialDelayMs": 10, "jitter": "none"}});
    let wf = http_workflow(json!({"url": server.url("/fault/drop?fail=2&drop=1")}), policy);
    let (outcome, collector) = run(&engine(), wf, json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let classes: Vec<ErrorClass> = retries(&collector).iter().map(|r| r.3).collect();
    assert_eq!(classes, [ErrorClass::Network, ErrorClass::Network]);
}

#[tokio::test(start_paused = true)]
async fn concurrency_overlaps_calls_and_keeps_item_order() {
    let server = TestServer::start().await;
    let input: Vec<Json> = (0..20).map(|i| json!({"k": format!("c{i}"), "ms": (20 - i) * 100})).collect();
    for (concurrency, total_ms) in [(1u32, 21_000u64), (10, 2_900)] {
        let wf = http_workflow(
            json!({"url": server.url("/fault/{{ json.k }}-{{ json.ms }}-x?delayMs={{ json.ms }}")}),
            json!({"concurrency": concurrency}),
        );
        let started = tokio::time::Instant::now();
        let (outcome, _) = run(&engine(), wf, Json::Array(input.clone())).await;
        assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
        let keys: Vec<String> = jsons(&outcome.result).iter().map(|j| j["key"].as_str().unwrap().to_string()).collect();
        let expected: Vec<String> =
            input.iter().map(|i| format!("{}-{}-x", i["k"].as_str().unwrap(), i["ms"])).collect();
        assert_eq!(keys, expected, "the output keeps the input's order");
        let elapsed = started.elapsed().as_millis() as u64;
        assert!(elapsed <= total_ms, "concurrency {concurrency}: {elapsed} ms");
        if concurrency == 10 {
            assert!(elapsed >= 2_000, "at most 10 at a time: {elapsed} ms");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_breaker_opens_after_failures_fails_fast_and_closes_after_a_good_trial() {
    let server = TestServer::start().await;
    let engine = engine_with(Resilience::new(BreakerSettings { threshold: 3, reset_timeout: Duration::from_secs(10) }));
    let wf = http_workflow(json!({"url": server.url("/fault/b?fail=4&status=503")}), json!({"onError": "continue"}));
    let input = json!([{}, {}, {}, {}, {}]);
    let (outcome, _) = run(&engine, wf.clone(), input.clone()).await;
    assert_eq!(outcome.status, RunStatus::Success);
    let codes: Vec<String> =
        outcome.result.iter().map(|i| i.error().map_or("ok".into(), |e| e.code.to_string())).collect();
    assert_eq!(codes, ["http_status", "http_status", "http_status", "circuit_open", "circuit_open"]);
    assert!(outcome.result[3].error().unwrap().message.contains("paused"), "a clear message");
    assert_eq!(server.fault_log("b").await.0, 3, "an open breaker sends nothing");
    let host = format!("127.0.0.1:{}", server.addr.port());
    let open = engine.services().resilience.breakers().into_iter().find(|b| b.key == host).unwrap();
    assert_eq!((open.state, open.failures, open.retry_in_ms), (BreakerState::Open, 3, Some(10_000)));

    // After the reset timeout one trial goes through: it fails (the 4th injected 503), so
    // the breaker opens again at once.
    tokio::time::advance(Duration::from_secs(10)).await;
    let (outcome, _) = run(&engine, wf.clone(), json!([{}, {}])).await;
    let codes: Vec<String> = outcome.result.iter().map(|i| i.error().unwrap().code.to_string()).collect();
    assert_eq!(codes, ["http_status", "circuit_open"]);
    // The next trial succeeds and closes it.
    tokio::time::advance(Duration::from_secs(10)).await;
    let (outcome, _) = run(&engine, wf, json!([{}, {}])).await;
    assert!(outcome.result.iter().all(|i| i.error().is_none()), "{:?}", outcome.result);
    let closed = engine.services().resilience.breakers().into_iter().find(|b| b.key == host).unwrap();
    assert_eq!(closed.state, BreakerState::Closed);
    assert_eq!(closed.transitions, 5, "open, half-open, open, half-open, closed");
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_is_waited_out_by_a_retry_policy() {
    let server = TestServer::start().await;
    let engine = engine_with(Resilience::new(BreakerSettings { threshold: 2, reset_timeout: Duration::from_secs(5) }));
    let wf = http_workflow(json!({"url": server.url("/fault/w?fail=2")}), retry(4));
    let (outcome, collector) = run(&engine, wf, json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    // Try 1 and 2 fail (the breaker opens), try 3 waits for the breaker's trial at 5 s.
    assert_eq!(server.fault_log("w").await.1, vec![0, 1000, 6000]);
    assert_eq!(retries(&collector).iter().map(|r| r.2).collect::<Vec<_>>(), [1000, 2000, 3000]);
}

#[tokio::test(start_paused = true)]
async fn rate_limits_queue_calls_and_slow_down_after_a_429() {
    let server = TestServer::start().await;
    let resilience = Resilience::default();
    resilience.set_rate("127.0.0.1", Some(Rate { per_second: 2.0, burst: 1 }));
    let engine = engine_with(resilience);
    let input: Vec<Json> = (0..5).map(|i| json!({"k": format!("r{i}")})).collect();
    let wf = http_workflow(
        json!({"url": server.url("/fault/rate?status=429&fail=0&n={{ json.k }}")}),
        json!({"concurrency": 5}),
    );
    let (outcome, _) = run(&engine, wf, Json::Array(input)).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    assert_eq!(server.fault_log("rate").await.1, vec![0, 500, 1000, 1500, 2000], "queued, not failed");
    let limit = engine.services().resilience.limits().into_iter().find(|l| l.host == "127.0.0.1").unwrap();
    assert_eq!((limit.waits, limit.current_per_second), (4, 2.0));

    // A 429 halves the rate: the next calls are a second apart.
    let wf = http_workflow(json!({"url": server.url("/fault/slowdown?status=429&fail=1")}), retry(2));
    let (outcome, _) = run(&engine, wf, json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success);
    let limit = engine.services().resilience.limits().into_iter().find(|l| l.host == "127.0.0.1").unwrap();
    assert_eq!(limit.current_per_second, 1.0);
    let wf = http_workflow(json!({"url": server.url("/fault/after?n={{ json.n }}")}), json!({"concurrency": 3}));
    run(&engine, wf, json!([{"n": 1}, {"n": 2}, {"n": 3}])).await;
    let offsets = server.fault_log("after").await.1;
    assert_eq!(offsets.windows(2).map(|w| w[1] - w[0]).collect::<Vec<_>>(), [1000, 1000]);
}

/// On the real clock: calls that no limit held back report no wait. Each used to report the
/// nanoseconds between two clock reads as a throttle, an event per call.
#[tokio::test]
async fn calls_a_rate_lets_through_at_once_report_no_wait() {
    let server = TestServer::start().await;
    let resilience = Resilience::default();
    resilience.set_rate("localhost", Some(Rate { per_second: 10_000.0, burst: 100 }));
    let engine = engine_with(resilience);
    for host in ["127.0.0.1", "localhost"] {
        let url = server.url("/ok").replace("127.0.0.1", host);
        let input: Vec<Json> = (0..50).map(|i| json!({"i": i})).collect();
        let wf = http_workflow(json!({"url": format!("{url}?i={{{{ json.i }}}}")}), json!({"concurrency": 10}));
        let (outcome, collector) = run(&engine, wf, Json::Array(input)).await;
        assert_eq!(outcome.status, RunStatus::Success, "{host}: {:?}", outcome.error);
        assert_eq!(outcome.result.len(), 50, "{host}");
        let throttled = collector.picked(|kind| match kind {
            RunEventKind::NodeThrottled { key, waited_ms, .. } => Some((key.clone(), *waited_ms)),
            _ => None,
        });
        assert_eq!(throttled, [], "{host}");
    }
    let limit = engine.services().resilience.limits().into_iter().find(|l| l.host == "localhost").unwrap();
    assert_eq!(limit.waits, 0);
}

/// A node of many items reports progress once per percent and at its end, in order.
#[tokio::test]
async fn progress_is_reported_once_per_percent() {
    let server = TestServer::start().await;
    let input: Vec<Json> = (0..1_000).map(|i| json!({"i": i})).collect();
    let wf =
        http_workflow(json!({"url": format!("{}?i={{{{ json.i }}}}", server.url("/ok"))}), json!({"concurrency": 20}));
    let (outcome, collector) = run(&engine(), wf, Json::Array(input)).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let progress: Vec<(u32, u32)> = collector.picked(|kind| match kind {
        RunEventKind::NodeProgress { done, total, .. } => Some((*done, *total)),
        _ => None,
    });
    let expected: Vec<(u32, u32)> = std::iter::once(1).chain((1..=100).map(|p| p * 10)).map(|d| (d, 1_000)).collect();
    assert_eq!(progress, expected);
}

#[tokio::test(start_paused = true)]
async fn nodes_that_do_not_call_out_per_item_are_retried_whole() {
    let wf = workflow(json!({
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "c", "name": "Code", "type": "code.script",
             "parameters": {"code": "throw \"always\";"},
             "settings": {"retry": {"maxTries": 3, "backoff": "fixed", "initialDelayMs": 250, "jitter": "none", "retryOn": ["unknown"]}}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "c"}}]
    }));
    let started = tokio::time::Instant::now();
    let (outcome, collector) = run(&engine(), wf, json!([{"a": 1}])).await;
    assert_eq!(outcome.status, RunStatus::Error);
    let retried: Vec<_> = retries(&collector).iter().map(|r| (r.0, r.1, r.2)).collect();
    assert_eq!(retried, [(None, 2, 250), (None, 3, 250)]);
    assert_eq!(started.elapsed(), Duration::from_millis(500));
}

#[tokio::test(start_paused = true)]
async fn cancelling_a_run_ends_a_retry_wait() {
    let server = TestServer::start().await;
    let mut policy = retry(3);
    policy["retry"]["initialDelayMs"] = json!(600_000);
    policy["retry"]["maxDelayMs"] = json!(600_000);
    let wf = http_workflow(json!({"url": server.url("/fault/cancel?fail=9")}), policy);
    let engine = engine();
    let prepared = engine.prepare(wf).unwrap();
    let (request, _) = request(vec![]);
    let cancel = request.cancel.clone();
    let started = tokio::time::Instant::now();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        cancel.cancel();
    });
    let outcome = engine.run(prepared, request).await;
    canceller.await.unwrap();
    assert_eq!(outcome.status, RunStatus::Cancelled);
    assert!(started.elapsed() < Duration::from_secs(6), "{:?}", started.elapsed());
}

#[tokio::test(start_paused = true)]
async fn long_nodes_report_progress_with_an_estimate_of_the_time_left() {
    let server = TestServer::start().await;
    let input: Vec<Json> = (0..20).map(|i| json!({"k": format!("eta{i}")})).collect();
    let wf = http_workflow(json!({"url": server.url("/fault/{{ json.k }}?delayMs=100")}), json!({}));
    let (outcome, collector) = run(&engine(), wf, Json::Array(input)).await;
    assert_eq!(outcome.status, RunStatus::Success);
    let progress: Vec<(u32, u32, Option<u32>)> = collector
        .events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match &e.kind {
            RunEventKind::NodeProgress { done, total, eta_ms, .. } => Some((*done, *total, *eta_ms)),
            _ => None,
        })
        .collect();
    assert_eq!(progress.len(), 20);
    // 100 ms an item: after 5 items, 15 are left, about 1.5 s.
    let (done, total, eta) = progress[4];
    assert_eq!((done, total), (5, 20));
    assert!((1_490..=1_560).contains(&eta.unwrap()), "{eta:?}");
    assert_eq!(progress[19].2, Some(0));
}

#[tokio::test]
async fn a_tls_failure_is_permanent_and_not_retried() {
    // The test server speaks plain HTTP: a TLS handshake with it fails.
    let server = TestServer::start().await;
    let url = server.url("/fault/tls").replacen("http://", "https://", 1);
    let wf = http_workflow(json!({"url": url}), retry(3));
    let (outcome, collector) = run(&engine(), wf, json!(null)).await;
    let error = outcome.error.unwrap();
    assert_eq!(error.class, ErrorClass::Permanent, "{}", error.message);
    assert!(retries(&collector).is_empty());
}

#[tokio::test]
async fn a_name_that_does_not_resolve_is_a_network_error() {
    // .invalid never resolves (RFC 6761): nothing is contacted but the resolver.
    let wf = http_workflow(json!({"url": "http://switchyard-test.invalid/x", "timeout": 20}), json!({}));
    let (outcome, _) = run(&engine(), wf, json!(null)).await;
    let error = outcome.error.unwrap();
    assert_eq!((error.code, error.class), (ErrorCode::HttpRequestFailed, ErrorClass::Network), "{}", error.message);
}
