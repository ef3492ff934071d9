//! Batch: the loop runs once per batch, one batch at a time; results come out of "done" in
//! input order; failed items stop the loop or are collected and retried (only them).

use crate::support::*;
use serde_json::{Value as Json, json};
use std::time::Duration;
use switchyard_model::error::ErrorCode;
use switchyard_model::events::RunEventKind;
use switchyard_model::execution::RunStatus;
use switchyard_testkit::TestServer;

/// Start → Batch → Call (HTTP, `url`) → Shape (data.set); "done" → After.
fn batch(params: Json, url: String, call_settings: Json) -> switchyard_model::workflow::Workflow {
    workflow(json!({
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "b", "name": "Batch", "type": "flow.batch", "parameters": params},
            {"id": "h", "name": "Call", "type": "http.request", "parameters": {"url": url, "timeout": 30}, "settings": call_settings},
            {"id": "s", "name": "Shape", "type": "data.set", "parameters": {"assignments": [{"name": "n", "value": "{{ item(\"Call\").key }}"}]}},
            {"id": "after", "name": "After", "type": "flow.noop"}
        ],
        "connections": [
            {"from": {"node": "t"}, "to": {"node": "b"}},
            {"from": {"node": "b", "output": "batch"}, "to": {"node": "h"}},
            {"from": {"node": "h"}, "to": {"node": "s"}},
            {"from": {"node": "b", "output": "done"}, "to": {"node": "after"}}
        ]
    }))
}

fn input(n: usize) -> Json {
    Json::Array((0..n).map(|i| json!({"k": format!("i{i}")})).collect())
}

#[tokio::test(start_paused = true)]
async fn batches_run_one_after_another_and_done_keeps_input_order() {
    let server = TestServer::start().await;
    // Every call takes 1 s; later items answer faster inside a batch, so order is tested.
    let wf = batch(
        json!({"batchSize": 4}),
        server.url("/fault/{{ json.k }}?delayMs={{ 1000 - index * 100 }}"),
        json!({"concurrency": 4}),
    );
    let started = tokio::time::Instant::now();
    let (outcome, collector) = run(&engine(), wf, input(10)).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    // 3 batches (4, 4, 2), each as slow as its first item: 1 s each.
    assert_eq!(started.elapsed(), Duration::from_millis(3000));
    let keys: Vec<Json> = jsons(&outcome.result).iter().map(|j| j["key"].clone()).collect();
    let expected: Vec<Json> = (0..10).map(|i| json!(format!("i{i}"))).collect();
    assert_eq!(keys, expected);
    // Each batch ran the loop's nodes once: three records of Call.
    let calls = collector.data.lock().unwrap().iter().filter(|d| d.node_id == "h").count();
    assert_eq!(calls, 3);
    let progress: Vec<(u32, u32)> = collector
        .events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match &e.kind {
            RunEventKind::NodeProgress { node_id, done, total, .. } if node_id == "b" => Some((*done, *total)),
            _ => None,
        })
        .collect();
    assert_eq!(progress, [(1, 3), (2, 3), (3, 3)]);
    let b = node_data(&collector, "b");
    assert_eq!(b.outputs.iter().find(|o| o.name == "done").unwrap().total, 10);
}

#[tokio::test(start_paused = true)]
async fn a_failing_item_stops_the_loop() {
    let server = TestServer::start().await;
    let wf = batch(
        json!({"batchSize": 2}),
        server.url("/fault/{{ json.k }}?fail={{ if json.k == \"i3\" { 9 } else { 0 } }}&status=500"),
        json!({}),
    );
    let (outcome, collector) = run(&engine(), wf, input(6)).await;
    assert_eq!(outcome.status, RunStatus::Error);
    let error = outcome.error.unwrap();
    assert_eq!(error.node_name.as_deref(), Some("Batch"));
    assert!(error.message.starts_with("batch 2 (of 2 items) failed: GET"), "{}", error.message);
    assert_eq!(server.fault_log("i4").await.0, 0, "the third batch never ran");
    assert!(collector.data.lock().unwrap().iter().all(|d| d.node_id != "after"));
}

#[tokio::test(start_paused = true)]
async fn failed_items_are_collected_and_only_they_run_again() {
    let server = TestServer::start().await;
    // i1 fails twice then works; i4 always fails. Call keeps going with failed items.
    let url = server.url(
        "/fault/{{ json.k }}?fail={{ if json.k == \"i1\" { 2 } else if json.k == \"i4\" { 99 } else { 0 } }}&status=503",
    );
    let wf =
        batch(json!({"batchSize": 3, "itemErrors": "continue", "retryRounds": 2}), url, json!({"onError": "continue"}));
    let (outcome, _) = run(&engine(), wf, input(6)).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let results = jsons(&outcome.result);
    assert_eq!(results.len(), 6, "{results:#?}");
    // In input order; i4 still failed after both extra rounds and leaves as itself, with
    // its error.
    assert_eq!((results[1]["key"].clone(), results[1]["attempt"].clone()), (json!("i1"), json!(3)));
    assert_eq!(results[4], json!({"k": "i4"}));
    assert!(outcome.result[4].error().is_some(), "i4 keeps its error");
    assert_eq!(outcome.result[4].error().unwrap().code, ErrorCode::HttpStatus);
    for (key, calls) in [("i0", 1), ("i1", 3), ("i2", 1), ("i3", 1), ("i4", 3), ("i5", 1)] {
        assert_eq!(server.fault_log(key).await.0, calls, "{key}: only failed items run again");
    }
}
