use crate::support::*;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use switchyard_engine::{Engine, Registry, RunDataLimits, RunRequest, Services, TokioClock};
use switchyard_model::error::ErrorCode;
use switchyard_model::events::RunEventKind;
use switchyard_model::execution::{NodeRunStatus, RunStatus};
use tokio_util::sync::CancellationToken;

fn wait_workflow(seconds: u32, timeout: u32) -> switchyard_model::workflow::Workflow {
    workflow(json!({
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "a", "name": "Wait A", "type": "flow.wait", "parameters": {"amount": seconds}},
            {"id": "b", "name": "Wait B", "type": "flow.wait", "parameters": {"amount": seconds}},
            {"id": "m", "name": "Merge", "type": "flow.merge"}
        ],
        "connections": [
            {"from": {"node": "t"}, "to": {"node": "a"}},
            {"from": {"node": "t"}, "to": {"node": "b"}},
            {"from": {"node": "a"}, "to": {"node": "m", "input": "main"}},
            {"from": {"node": "b"}, "to": {"node": "m", "input": "second"}}
        ],
        "settings": {"timeoutSeconds": timeout}
    }))
}

#[tokio::test(start_paused = true)]
async fn independent_branches_run_concurrently() {
    let started = tokio::time::Instant::now();
    let (outcome, collector) = run(&engine(), wait_workflow(10, 60), json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success);
    assert_eq!(started.elapsed(), Duration::from_secs(10), "two 10 s waits in parallel take 10 s");
    assert_eq!(outcome.result.len(), 2);
    let kinds = collector.kinds();
    assert_eq!(kinds.first().map(String::as_str), Some("runStarted"));
    assert_eq!(kinds.last().map(String::as_str), Some("runFinished"));
    // Both waits start before either finishes.
    let starts: Vec<_> = kinds.iter().enumerate().filter(|(_, k)| *k == "nodeStarted").map(|(i, _)| i).collect();
    let first_finish_of_wait = collector
        .events
        .lock()
        .unwrap()
        .iter()
        .position(|e| matches!(&e.kind, RunEventKind::NodeFinished { node_id, .. } if node_id == "a" || node_id == "b"))
        .unwrap();
    assert!(starts[2] < first_finish_of_wait, "{kinds:?}");
    // Sequence numbers count up from 0 with no gaps.
    let seqs: Vec<u32> = collector.events.lock().unwrap().iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (0..seqs.len() as u32).collect::<Vec<_>>());
    // The clock the run sees moved with tokio's timer.
    let last = collector.events.lock().unwrap().last().unwrap().at.clone();
    assert_eq!(last, "2026-01-31T12:00:10.000Z");
}

#[tokio::test(start_paused = true)]
async fn finished_events_carry_counts_and_durations() {
    let (_, collector) = run(&engine(), wait_workflow(3, 60), json!([{"a": 1}, {"a": 2}])).await;
    let events = collector.events.lock().unwrap();
    let merge = events
        .iter()
        .find_map(|e| match &e.kind {
            RunEventKind::NodeFinished { node_id, outputs, items_in, duration_ms, status, .. } if node_id == "m" => {
                Some((outputs.clone(), *items_in, *duration_ms, *status))
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(merge.0[0].items, 4);
    assert_eq!(merge.1, 4);
    assert_eq!(merge.3, NodeRunStatus::Success);
    let wait_duration = events
        .iter()
        .find_map(|e| match &e.kind {
            RunEventKind::NodeFinished { node_id, duration_ms, .. } if node_id == "a" => Some(*duration_ms),
            _ => None,
        })
        .unwrap();
    assert_eq!(wait_duration, 3000);
}

#[tokio::test(start_paused = true)]
async fn a_run_can_be_cancelled() {
    let engine = engine();
    let prepared = engine.prepare(wait_workflow(3600, 7200)).unwrap();
    let cancel = CancellationToken::new();
    let (mut request, collector) = request(vec![]);
    request.cancel = cancel.clone();
    let run = tokio::spawn({
        let engine = engine.clone();
        async move { engine.run(prepared, request).await }
    });
    tokio::time::sleep(Duration::from_secs(5)).await;
    cancel.cancel();
    let outcome = run.await.unwrap();
    assert_eq!(outcome.status, RunStatus::Cancelled);
    assert_eq!(outcome.error.unwrap().code, ErrorCode::Cancelled);
    assert_eq!(outcome.duration_ms, 5000);
    assert_eq!(collector.kinds().last().map(String::as_str), Some("runFinished"));
}

#[tokio::test(start_paused = true)]
async fn a_run_times_out() {
    let (outcome, _) = run(&engine(), wait_workflow(100, 30), json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Timeout);
    assert_eq!(outcome.error.unwrap().message, "the run took longer than its timeout of 30 s");
    assert_eq!(outcome.duration_ms, 30_000);
}

#[tokio::test]
async fn every_listener_gets_every_event() {
    let engine = engine();
    let prepared = engine.prepare(load("assets/examples/hello-world.json")).unwrap();
    let (mut request, first) = request(vec![]);
    let second = Arc::new(Collector::default());
    request.listeners.push(second.clone());
    engine.run(prepared, request).await;
    assert_eq!(first.kinds(), second.kinds());
    assert_eq!(
        first.kinds(),
        ["runStarted", "nodeStarted", "nodeFinished", "nodeStarted", "nodeFinished", "runFinished"]
    );
}

#[tokio::test]
async fn run_data_is_cut_to_the_limits_with_a_marker() {
    let clock = Arc::new(TokioClock::starting_at("2026-01-31T12:00:00Z".parse().unwrap()));
    let mut services = Services::new(clock, reqwest::Client::new());
    services.run_data = RunDataLimits { max_items: 3, max_bytes: 1024 };
    let engine = Engine::new(Registry::builtin(), services);
    let wf = workflow(json!({
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "c", "name": "Make", "type": "code.script", "parameters": {"code": "let out = []; for i in 0..50 { out.push(#{ i: i, pad: \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\" }); } out"}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "c"}}]
    }));
    let prepared = engine.prepare(wf).unwrap();
    let (request, collector) = request(vec![]);
    let outcome = engine.run(prepared, request).await;
    assert_eq!(outcome.result.len(), 50, "the result itself is complete");
    let data = node_data(&collector, "c");
    assert_eq!(data.outputs[0].total, 50);
    assert!(data.outputs[0].truncated);
    assert_eq!(data.outputs[0].items.len(), 2, "two items of ~450 bytes fit in 1 KiB");
}

#[tokio::test]
async fn until_runs_only_what_a_node_needs() {
    let wf = load("assets/examples/order-totals.json");
    let engine = engine();
    let prepared = engine.prepare(wf).unwrap();
    let (mut request, collector) = request(vec![]);
    request.until = Some("lines".into());
    let outcome = engine.run(prepared, request).await;
    assert_eq!(outcome.status, RunStatus::Success);
    let ran: Vec<_> = collector.data.lock().unwrap().iter().map(|d| d.node_id.clone()).collect();
    assert_eq!(ran, ["start", "orders", "lines"]);
    assert_eq!(outcome.result.len(), 4);
}

#[tokio::test]
async fn a_failing_node_stops_the_run_and_names_itself() {
    let wf = workflow(json!({
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "c", "name": "Broken", "type": "code.script", "parameters": {"code": "throw \"boom\";"}},
            {"id": "after", "name": "After", "type": "flow.noop"}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "c"}}, {"from": {"node": "c"}, "to": {"node": "after"}}]
    }));
    let (outcome, collector) = run(&engine(), wf, json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Error);
    let error = outcome.error.unwrap();
    assert_eq!(error.code, ErrorCode::ScriptFailed);
    assert_eq!(error.node_name.as_deref(), Some("Broken"));
    assert!(error.message.contains("boom"), "{}", error.message);
    assert!(collector.data.lock().unwrap().iter().all(|d| d.node_id != "after"));
    let _ = RunRequest::default();
}

#[tokio::test(start_paused = true)]
async fn reused_outputs_stand_in_for_their_nodes_on_every_output() {
    use switchyard_model::item::Item;
    use switchyard_model::value::Value;
    // Start → Route (IF: true/false) → Shape on "false"; the recorded outputs of Route are
    // reused on both its outputs, Shape runs on what Route emitted then.
    let wf = workflow(json!({
        "nodes": [
            {"id": "start", "name": "Start", "type": "trigger.manual"},
            {"id": "if", "name": "Route", "type": "flow.if", "parameters": {"conditions": [{"left": "{{ json.n }}", "operator": "gt", "right": "1"}]}},
            {"id": "s", "name": "Shape", "type": "data.set", "parameters": {"assignments": [{"name": "small", "value": "{{ json.n }}"}]}},
        ],
        "connections": [
            {"from": {"node": "start"}, "to": {"node": "if"}},
            {"from": {"node": "if", "output": "false"}, "to": {"node": "s"}},
        ],
    }));
    let engine = engine();
    let prepared = engine.prepare(wf).unwrap();
    let (mut request, collector) = request(Item::from_input(Value::from(json!([{"n": 5}]))));
    let recorded = |n: i64| vec![Item::new(Value::from(json!({"n": n})))];
    request.reuse.insert("if".into(), vec![("true".into(), recorded(9)), ("false".into(), recorded(0))]);
    let outcome = engine.run(prepared, request).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    assert_eq!(node_data(&collector, "if").status, NodeRunStatus::Reused);
    assert_eq!(jsons(&outcome.result), vec![json!({"n": 0, "small": 0})], "Shape got what Route emitted then");
}
