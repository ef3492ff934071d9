//! Sub-workflows on tokio's paused clock: ordering and pairing, errors from the called
//! workflow, inputs checked against the declared fields, cancel through three levels, the
//! depth limit, waiting children and fire-and-forget, workflow files by relative path.

use crate::support::{Collector, jsons, workflow};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use switchyard_engine::subflow::InProcess;
use switchyard_engine::{Engine, Registry, RunOutcome, RunRequest, Services, TokioClock};
use switchyard_model::error::ErrorCode;
use switchyard_model::events::RunEventKind;
use switchyard_model::execution::RunStatus;
use switchyard_model::item::{Item, Paired};
use switchyard_model::value::Value;
use switchyard_model::workflow::Workflow;
use tokio_util::sync::CancellationToken;

/// An engine whose runs may call `saved` (by id) and workflow files; called runs report to
/// the returned collector.
fn engine_calling(saved: Vec<Workflow>, configure: impl FnOnce(&mut Services)) -> (Arc<Engine>, Arc<Collector>) {
    let collector = Arc::new(Collector::default());
    let host = InProcess::new(saved, vec![collector.clone()]);
    let clock = Arc::new(TokioClock::starting_at("2026-01-31T12:00:00Z".parse().expect("time")));
    let mut services = Services::new(clock, switchyard_engine::services::default_http_client());
    services.subflows = Some(host.clone());
    configure(&mut services);
    let engine = Arc::new(Engine::new(Registry::builtin(), services));
    host.attach(&engine);
    (engine, collector)
}

/// A workflow with id `id` that starts when called (declaring `inputs`) and runs `nodes`
/// in a line after it.
fn callable(id: &str, name: &str, inputs: serde_json::Value, nodes: Vec<serde_json::Value>) -> Workflow {
    let mut list =
        vec![json!({"id": "called", "name": "Called", "type": "trigger.workflow", "parameters": {"inputs": inputs}})];
    let mut connections = Vec::new();
    let mut previous = "called".to_string();
    for node in nodes {
        let id = node["id"].as_str().unwrap().to_string();
        connections.push(json!({"from": {"node": previous}, "to": {"node": id}}));
        previous = id;
        list.push(node);
    }
    let mut wf = workflow(json!({"nodes": list, "connections": connections}));
    wf.id = id.into();
    wf.name = name.into();
    wf
}

/// Manual Trigger → Execute Workflow (id `call`, named "Call") with `parameters`.
fn caller(id: &str, name: &str, parameters: serde_json::Value) -> Workflow {
    let mut wf = workflow(json!({
        "nodes": [
            {"id": "start", "name": "Start", "type": "trigger.manual"},
            {"id": "call", "name": "Call", "type": "flow.execute_workflow", "parameters": parameters},
        ],
        "connections": [{"from": {"node": "start"}, "to": {"node": "call"}}],
    }));
    wf.id = id.into();
    wf.name = name.into();
    wf
}

/// Waits `5 - n` seconds, then emits `{n, doubled}`.
fn doubler() -> Workflow {
    callable(
        "double",
        "Double",
        json!([{"name": "n", "type": "number", "required": true}]),
        vec![
            json!({"id": "w", "name": "Wait", "type": "flow.wait", "parameters": {"amount": "{{ 5 - json.n }}"}}),
            json!({"id": "s", "name": "Shape", "type": "data.set", "parameters": {"assignments": [{"name": "doubled", "value": "{{ json.n * 2 }}"}]}}),
        ],
    )
}

async fn run(engine: &Engine, wf: Workflow, input: serde_json::Value) -> RunOutcome {
    run_with(engine, wf, input, CancellationToken::new()).await
}

async fn run_with(engine: &Engine, wf: Workflow, input: serde_json::Value, cancel: CancellationToken) -> RunOutcome {
    let prepared = engine.prepare(wf).unwrap_or_else(|issues| panic!("{issues:?}"));
    let input = if input.is_null() { vec![] } else { Item::from_input(Value::from(input)) };
    let request = RunRequest { execution_id: "parent".into(), input, cancel, ..Default::default() };
    engine.run(prepared, request).await
}

fn paired(items: &[Item]) -> Vec<Paired> {
    items.iter().map(|i| i.paired()).collect()
}

#[tokio::test(start_paused = true)]
async fn calls_per_item_run_side_by_side_and_come_back_in_order_paired_with_their_items() {
    let (engine, _) = engine_calling(vec![doubler()], |_| {});
    let parent = caller("p", "Parent", json!({"workflowId": "double", "mode": "each", "concurrency": 3}));
    let started = tokio::time::Instant::now();
    let outcome = run(&engine, parent, json!([{"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}])).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let doubled: Vec<_> = jsons(&outcome.result).iter().map(|j| j["doubled"].clone()).collect();
    assert_eq!(doubled, vec![json!(2), json!(4), json!(6), json!(8)], "the items' order, not the finishing order");
    assert_eq!(paired(&outcome.result), (0..4).map(Paired::item).collect::<Vec<_>>());
    // Waits of 4, 3 and 2 s start together; the fourth call (1 s) starts when the 2 s one
    // ended: 4 s in all, not the 10 s of one call after another.
    assert_eq!(started.elapsed().as_secs(), 4);

    let one_at_a_time = caller("p", "Parent", json!({"workflowId": "double", "mode": "each"}));
    let started = tokio::time::Instant::now();
    run(&engine, one_at_a_time, json!([{"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}])).await;
    assert_eq!(started.elapsed().as_secs(), 10);
}

#[tokio::test(start_paused = true)]
async fn a_call_with_all_items_gets_them_all_and_its_result_pairs_one_to_one() {
    let (engine, _) = engine_calling(vec![doubler()], |_| {});
    let parent = caller("p", "Parent", json!({"workflowId": "double"}));
    let outcome = run(&engine, parent, json!([{"n": 4}, {"n": 5}])).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    assert_eq!(jsons(&outcome.result), vec![json!({"n": 4, "doubled": 8}), json!({"n": 5, "doubled": 10})]);
    assert_eq!(paired(&outcome.result), vec![Paired::item(0), Paired::item(1)]);
}

#[tokio::test(start_paused = true)]
async fn a_child_with_a_wait_node_still_returns_its_final_items() {
    // n8n's tracker: Execute Workflow returned the items from before a Wait node.
    let child = callable(
        "slow",
        "Slow",
        json!([]),
        vec![
            json!({"id": "w", "name": "Wait", "type": "flow.wait", "parameters": {"amount": 30}}),
            json!({"id": "s", "name": "Finish", "type": "data.set", "parameters": {"assignments": [{"name": "done", "value": "{{ true }}"}]}}),
        ],
    );
    let (engine, _) = engine_calling(vec![child], |_| {});
    let outcome = run(&engine, caller("p", "Parent", json!({"workflowId": "slow"})), json!({"x": 1})).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    assert_eq!(jsons(&outcome.result), vec![json!({"x": 1, "done": true})]);
}

#[tokio::test(start_paused = true)]
async fn a_failure_in_the_child_is_the_callers_error_naming_workflow_node_and_class() {
    let child = callable(
        "fails",
        "Failing",
        json!([]),
        vec![
            json!({"id": "b", "name": "Boom", "type": "code.script", "parameters": {"code": "throw \"no such customer\""}}),
        ],
    );
    let (engine, _) = engine_calling(vec![child], |_| {});
    let outcome = run(&engine, caller("p", "Parent", json!({"workflowId": "fails"})), json!({})).await;
    assert_eq!(outcome.status, RunStatus::Error);
    let error = outcome.error.expect("error");
    assert_eq!(error.node_name.as_deref(), Some("Call"), "the caller's node fails");
    assert_eq!(error.code, ErrorCode::ScriptFailed, "the child's code is kept");
    assert!(error.message.contains("called workflow \"Failing\""), "{}", error.message);
    assert!(error.message.contains("in node \"Boom\""), "{}", error.message);
    assert!(error.message.contains("no such customer"), "{}", error.message);
    let details = error.details.expect("details");
    assert_eq!(details["node"], "Boom");
    assert_eq!(details["workflow"], "Failing");
}

#[tokio::test(start_paused = true)]
async fn a_child_failing_under_continue_returns_its_error_items() {
    let child = callable(
        "fails",
        "Failing",
        json!([]),
        vec![
            json!({"id": "b", "name": "Boom", "type": "code.script", "parameters": {"mode": "runOncePerItem", "code": "if json.bad { throw \"bad item\" } json"}}),
        ],
    );
    let (engine, _) = engine_calling(vec![child], |_| {});
    let mut parent = caller("p", "Parent", json!({"workflowId": "fails", "mode": "each"}));
    parent.nodes[1].settings.on_error = switchyard_model::workflow::OnError::Continue;
    let outcome = run(&engine, parent, json!([{"bad": false}, {"bad": true}, {"bad": false}])).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    assert_eq!(outcome.result.len(), 3);
    assert!(outcome.result[0].error().is_none() && outcome.result[2].error().is_none());
    let error = outcome.result[1].error().expect("the failed item carries its error");
    assert!(error.message.contains("in node \"Boom\"") && error.message.contains("bad item"), "{}", error.message);
    assert_eq!(error.item_index, Some(1));
    assert_eq!(paired(&outcome.result), (0..3).map(Paired::item).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn items_missing_a_required_field_or_of_the_wrong_type_fail_before_the_child_runs() {
    let (engine, children) = engine_calling(vec![doubler()], |_| {});
    let parent = || caller("p", "Parent", json!({"workflowId": "double", "mode": "each"}));
    let outcome = run(&engine, parent(), json!([{"n": 1}, {"m": 2}])).await;
    let error = outcome.error.expect("error");
    assert_eq!(error.code, ErrorCode::InvalidParameter);
    assert_eq!(error.item_index, Some(1));
    assert!(
        error.message.contains("calling workflow \"Double\": input field \"n\" is required and missing"),
        "{}",
        error.message
    );
    let outcome = run(&engine, parent(), json!([{"n": "seven"}])).await;
    let message = outcome.error.expect("error").message;
    assert!(message.contains("input field \"n\" must be of type number, got string \"seven\""), "{message}");
    // Only the valid item's call started a run.
    let started = children.kinds().iter().filter(|k| *k == "runStarted").count();
    assert_eq!(started, 1);
}

#[tokio::test(start_paused = true)]
async fn cancelling_the_top_run_cancels_its_child_and_grandchild() {
    let grandchild = callable(
        "c",
        "Grandchild",
        json!([]),
        vec![json!({"id": "w", "name": "Wait", "type": "flow.wait", "parameters": {"amount": 1, "unit": "hours"}})],
    );
    let child = callable(
        "b",
        "Child",
        json!([]),
        vec![json!({"id": "x", "name": "Call C", "type": "flow.execute_workflow", "parameters": {"workflowId": "c"}})],
    );
    let (engine, children) = engine_calling(vec![child, grandchild], |_| {});
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(10)).await;
        stop.cancel();
    });
    let started = tokio::time::Instant::now();
    let outcome = run_with(&engine, caller("a", "Top", json!({"workflowId": "b"})), json!({}), cancel).await;
    assert_eq!(outcome.status, RunStatus::Cancelled);
    assert_eq!(started.elapsed().as_secs(), 10);
    // Both called runs started, and neither ran on to the end of the hour.
    tokio::time::sleep(Duration::from_secs(7200)).await;
    let events = children.events.lock().unwrap().clone();
    let started_runs = events.iter().filter(|e| matches!(e.kind, RunEventKind::RunStarted { .. })).count();
    assert_eq!(started_runs, 2);
    let finished_ok = events
        .iter()
        .filter(|e| matches!(e.kind, RunEventKind::RunFinished { status: RunStatus::Success, .. }))
        .count();
    assert_eq!(finished_ok, 0, "no called run finished its hour-long wait");
}

#[tokio::test(start_paused = true)]
async fn calls_nest_only_as_deep_as_the_limit() {
    // A calls B calls A …: the validation of one workflow cannot see it; the depth limit stops it.
    let a = {
        let mut wf = callable(
            "a",
            "Ping",
            json!([]),
            vec![
                json!({"id": "x", "name": "Call Pong", "type": "flow.execute_workflow", "parameters": {"workflowId": "b"}}),
            ],
        );
        wf.nodes.insert(
            0,
            serde_json::from_value(json!({"id": "start", "name": "Start", "type": "trigger.manual"})).unwrap(),
        );
        wf.connections.push(serde_json::from_value(json!({"from": {"node": "start"}, "to": {"node": "x"}})).unwrap());
        wf
    };
    let b = callable(
        "b",
        "Pong",
        json!([]),
        vec![
            json!({"id": "y", "name": "Call Ping", "type": "flow.execute_workflow", "parameters": {"workflowId": "a"}}),
        ],
    );
    let (engine, children) = engine_calling(vec![a.clone(), b], |s| s.max_call_depth = 4);
    let outcome = run(&engine, a, json!({})).await;
    assert_eq!(outcome.status, RunStatus::Error);
    let error = outcome.error.expect("error");
    assert_eq!(error.code, ErrorCode::CallDepth, "{}", error.message);
    assert!(error.message.contains("calls may nest at most 4 deep"), "{}", error.message);
    let started = children.kinds().iter().filter(|k| *k == "runStarted").count();
    assert_eq!(started, 4, "depths 1 to 4 ran, the fifth call was refused");
}

#[tokio::test(start_paused = true)]
async fn fire_and_forget_returns_the_execution_id_and_the_child_runs_to_its_end() {
    let child = callable(
        "slow",
        "Slow",
        json!([]),
        vec![json!({"id": "w", "name": "Wait", "type": "flow.wait", "parameters": {"amount": 60}})],
    );
    let (engine, children) = engine_calling(vec![child], |_| {});
    let started = tokio::time::Instant::now();
    let outcome = run(&engine, caller("p", "Parent", json!({"workflowId": "slow", "wait": false})), json!({})).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    assert!(started.elapsed() < Duration::from_secs(1), "the parent did not wait");
    let id = jsons(&outcome.result)[0]["executionId"].as_str().expect("executionId").to_string();
    assert!(id.starts_with("parent-call-"), "{id}");
    tokio::time::sleep(Duration::from_secs(61)).await;
    let events = children.events.lock().unwrap().clone();
    let finished = events.iter().find(|e| matches!(e.kind, RunEventKind::RunFinished { .. })).expect("child finished");
    assert_eq!(finished.execution_id, id);
    assert!(matches!(finished.kind, RunEventKind::RunFinished { status: RunStatus::Success, .. }));
}

#[tokio::test(start_paused = true)]
async fn workflow_files_are_found_relative_to_the_calling_file_and_bad_ones_are_named() {
    let dir = std::env::temp_dir().join(format!("switchyard-subflows-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("lib")).unwrap();
    std::fs::write(dir.join("lib/double.json"), serde_json::to_string(&doubler()).unwrap()).unwrap();
    std::fs::write(dir.join("lib/broken.json"), "{\n  \"switchyard\": 1,\n  \"nodes\": [,]\n}").unwrap();
    let (engine, _) = engine_calling(vec![], |s| s.workflow_file = Some(dir.join("parent.json")));
    let parent = caller("p", "Parent", json!({"source": "file", "path": "lib/double.json"}));
    let outcome = run(&engine, parent, json!({"n": 5})).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    assert_eq!(jsons(&outcome.result), vec![json!({"n": 5, "doubled": 10})]);

    let broken = caller("p", "Parent", json!({"source": "file", "path": "lib/broken.json"}));
    let message = run(&engine, broken, json!({})).await.error.expect("error").message;
    assert!(message.contains(&format!("{}:3:13", dir.join("lib/broken.json").display())), "{message}");
    let missing = caller("p", "Parent", json!({"source": "file", "path": "lib/nothing.json"}));
    let message = run(&engine, missing, json!({})).await.error.expect("error").message;
    assert!(message.contains("cannot read workflow file") && message.contains("nothing.json"), "{message}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_workflow_that_calls_itself_does_not_validate() {
    let text = json!({
        "switchyard": 1, "id": "loop", "name": "Loop",
        "nodes": [
            {"id": "start", "name": "Start", "type": "trigger.manual"},
            {"id": "call", "name": "Again", "type": "flow.execute_workflow", "parameters": {"workflowId": "loop"}},
        ],
        "connections": [{"from": {"node": "start"}, "to": {"node": "call"}}],
    });
    let report = switchyard_engine::validate::validate_text(&text.to_string(), &Registry::builtin());
    let issue = report.issues.iter().find(|i| i.code == ErrorCode::CallCycle).expect("a call cycle issue");
    assert!(issue.message.contains("Loop → Loop"), "{}", issue.message);
    assert_eq!(issue.path, "$.nodes[1].parameters.workflowId");
}

#[test]
fn declared_inputs_check_arguments_and_describe_a_json_schema() {
    use switchyard_engine::subflow::{FieldKind, InputField, check_arguments, json_schema};
    let fields = vec![
        InputField { name: "city".into(), kind: FieldKind::String, required: true },
        InputField { name: "days".into(), kind: FieldKind::Number, required: false },
        InputField { name: "extra".into(), kind: FieldKind::Any, required: false },
    ];
    let ok = Value::from(json!({"city": "Oslo", "days": 3, "extra": [1]}));
    assert!(check_arguments(&fields, &ok).is_ok());
    let wrong = Value::from(json!({"city": "Oslo", "days": "3"}));
    assert_eq!(
        check_arguments(&fields, &wrong).unwrap_err(),
        "input field \"days\" must be of type number, got string \"3\""
    );
    let missing = Value::from(json!({"city": null}));
    assert_eq!(check_arguments(&fields, &missing).unwrap_err(), "input field \"city\" is required and missing");
    assert_eq!(
        json_schema(&fields),
        json!({"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "number"}, "extra": {}}, "required": ["city"]})
    );
}
