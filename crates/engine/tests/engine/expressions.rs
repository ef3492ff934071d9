use crate::support::*;
use serde_json::json;
use switchyard_model::error::ErrorCode;
use switchyard_model::execution::RunStatus;

#[tokio::test(start_paused = true)]
async fn expressions_see_item_index_history_and_clock() {
    let wf = workflow(json!({
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "s", "name": "Shape", "type": "data.set", "parameters": {"keep": "none", "assignments": [
                {"name": "i", "value": "{{ index }}"},
                {"name": "text", "value": "#{{ index }}: {{ json.name }} ({{ json.tags }})"},
                {"name": "upper", "value": "{{ json.name.to_upper() }}"},
                {"name": "inputs", "value": "{{ node(\"Start\").len() }}"},
                {"name": "original", "value": "{{ item(\"Start\").name }}"},
                {"name": "when", "value": "{{ now() }}"},
                {"name": "day", "value": "{{ format_date(now_ms(), \"%A\") }}"},
                {"name": "wf", "value": "{{ workflow.name }}/{{ execution.mode }}"}
            ]}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "s"}}]
    }));
    let (outcome, _) = run(&engine(), wf, json!([{"name": "ada", "tags": ["x"]}, {"name": "bob", "tags": []}])).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    assert_eq!(
        jsons(&outcome.result)[1],
        json!({"i": 1, "text": "#1: bob ([])", "upper": "BOB", "inputs": 2, "original": "bob", "when": "2026-01-31T12:00:00.000Z", "day": "Saturday", "wf": "Test/manual"})
    );
}

#[tokio::test]
async fn an_expression_error_names_node_parameter_and_item() {
    let wf = workflow(json!({
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "s", "name": "Compute", "type": "data.set", "parameters": {"assignments": [{"name": "x", "value": "{{ json.a / json.b }}"}]}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "s"}}]
    }));
    let (outcome, _) = run(&engine(), wf, json!([{"a": 1, "b": 1}, {"a": 1, "b": 0}])).await;
    let error = outcome.error.unwrap();
    assert_eq!(error.code, ErrorCode::ExpressionFailed);
    assert_eq!(error.node_name.as_deref(), Some("Compute"));
    assert_eq!(error.parameter.as_deref(), Some("assignments[0].value"));
    assert_eq!(error.item_index, Some(1));
    assert!(error.message.contains("json.a / json.b"), "{}", error.message);
    assert!(
        error.describe().starts_with("node \"Compute\", parameter \"assignments[0].value\", item 1: "),
        "{}",
        error.describe()
    );
}

#[tokio::test]
async fn runaway_scripts_are_stopped_by_the_sandbox() {
    let wf = workflow(json!({
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "s", "name": "Loop", "type": "data.set", "parameters": {"assignments": [{"name": "x", "value": "{{ let n = 0; while true { n += 1; } n }}"}]}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "s"}}]
    }));
    let (outcome, _) = run(&engine(), wf, json!(null)).await;
    let error = outcome.error.unwrap();
    assert!(error.message.to_lowercase().contains("too many operations"), "{}", error.message);
}
