//! Sub-workflows through the API: called runs are recorded with their caller both ways,
//! cancel reaches every level's record, circles of calls are named before anything runs, a
//! full run queue does not wait on itself, and an imported file cannot call the user's
//! workflows until it is trusted.

use crate::{call, open};
use serde_json::{Value as Json, json};
use std::time::Duration;
use switchyard_model::error::ErrorCode;

/// A saved workflow that starts when called and runs `nodes` (ids as given) in a line.
fn callable(id: &str, name: &str, nodes: Vec<Json>) -> Json {
    let mut list = vec![json!({"id": "called", "name": "Called", "type": "trigger.workflow",
        "parameters": {"inputs": [{"name": "n", "type": "number", "required": true}]}})];
    let mut connections = Vec::new();
    let mut previous = "called".to_string();
    for node in nodes {
        let next = node["id"].as_str().unwrap().to_string();
        connections.push(json!({"from": {"node": previous}, "to": {"node": next}}));
        previous = next;
        list.push(node);
    }
    json!({"switchyard": 1, "id": id, "name": name, "nodes": list, "connections": connections})
}

/// Manual Trigger → Execute Workflow "Call" of saved workflow `target`.
fn caller(id: &str, name: &str, target: &str) -> Json {
    json!({
        "switchyard": 1, "id": id, "name": name,
        "nodes": [
            {"id": "start", "name": "Start", "type": "trigger.manual"},
            {"id": "call", "name": "Call", "type": "flow.execute_workflow", "parameters": {"workflowId": target}},
        ],
        "connections": [{"from": {"node": "start"}, "to": {"node": "call"}}],
    })
}

pub(crate) async fn save(api: &switchyard_api::Api, wf: Json) -> Json {
    call(api, "workflow_save", json!({"workflow": wf})).await.unwrap()
}

/// Waits until `id`'s record is no longer running; returns the execution.
pub(crate) async fn settled(api: &switchyard_api::Api, id: &str) -> Json {
    for _ in 0..500 {
        api.flush_history().await.unwrap();
        let execution = call(api, "execution_get", json!({"id": id})).await.unwrap();
        if execution["summary"]["status"] != "running" {
            return execution;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("execution {id} still running");
}

#[tokio::test]
async fn a_called_run_is_recorded_with_its_caller_and_the_caller_lists_it() {
    let (_dir, api, _) = open();
    let child = callable(
        "child",
        "Enrich",
        vec![
            json!({"id": "s", "name": "Shape", "type": "data.set", "parameters": {"assignments": [{"name": "tripled", "value": "{{ json.n * 3 }}"}]}}),
        ],
    );
    save(&api, child).await;
    save(&api, caller("parent", "Orders", "child")).await;
    let result = call(&api, "run_wait", json!({"workflowId": "parent", "input": [{"n": 1}, {"n": 2}]})).await.unwrap();
    assert_eq!(result["status"], "success", "{result}");
    let items: Vec<Json> = result["items"].as_array().unwrap().iter().map(|i| i["json"]["tripled"].clone()).collect();
    assert_eq!(items, vec![json!(3), json!(6)]);

    let parent = settled(&api, result["executionId"].as_str().unwrap()).await;
    let calls = parent["calls"].as_array().expect("the parent lists its calls");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["workflowName"], "Enrich");
    assert_eq!(calls[0]["mode"], "called");
    assert_eq!(calls[0]["calledBy"], json!({"executionId": result["executionId"], "nodeId": "call"}));
    let child = settled(&api, calls[0]["id"].as_str().unwrap()).await;
    assert_eq!(child["summary"]["status"], "success");
    assert_eq!(child["summary"]["calledBy"]["executionId"], result["executionId"]);
    assert_eq!(child["workflow"]["name"], "Enrich", "the child's record keeps the workflow as it ran");

    // A missing field fails in the caller, naming the workflow and the field; no child ran.
    let bad = call(&api, "run_wait", json!({"workflowId": "parent", "input": {"m": 1}})).await.unwrap();
    assert_eq!(bad["status"], "error");
    let message = bad["error"]["message"].as_str().unwrap();
    assert!(message.contains("calling workflow \"Enrich\": input field \"n\" is required and missing"), "{message}");
    assert!(settled(&api, bad["executionId"].as_str().unwrap()).await.get("calls").is_none());
}

#[tokio::test]
async fn cancelling_a_run_stops_the_runs_it_called_and_theirs() {
    let (_dir, api, _) = open();
    let wait = json!({"id": "w", "name": "Wait", "type": "flow.wait", "parameters": {"amount": 1, "unit": "hours"}});
    save(&api, callable("c", "Grandchild", vec![wait])).await;
    let middle =
        json!({"id": "x", "name": "Call C", "type": "flow.execute_workflow", "parameters": {"workflowId": "c"}});
    save(&api, callable("b", "Child", vec![middle])).await;
    save(&api, caller("a", "Top", "b")).await;
    let started = call(&api, "run_start", json!({"workflowId": "a", "input": {"n": 1}})).await.unwrap();
    let top = started["executionId"].as_str().unwrap().to_string();
    // Wait until the grandchild runs.
    let mut grandchild = None;
    for _ in 0..500 {
        api.flush_history().await.unwrap();
        let list = call(&api, "execution_list", json!({"workflowId": "c"})).await.unwrap();
        if let Some(first) = list["executions"].as_array().and_then(|l| l.first()) {
            grandchild = first["id"].as_str().map(str::to_string);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let grandchild = grandchild.expect("the grandchild started");
    assert_eq!(call(&api, "run_cancel", json!({"executionId": top})).await.unwrap()["cancelled"], true);
    assert_eq!(settled(&api, &top).await["summary"]["status"], "cancelled");
    let grandchild = settled(&api, &grandchild).await;
    assert_eq!(grandchild["summary"]["status"], "cancelled");
    let child = settled(&api, grandchild["summary"]["calledBy"]["executionId"].as_str().unwrap()).await;
    assert_eq!(child["summary"]["status"], "cancelled");
    assert_eq!(child["summary"]["calledBy"]["executionId"], top.as_str());
}

#[tokio::test]
async fn workflows_that_call_each_other_in_a_circle_are_named_and_do_not_run() {
    let (_dir, api, _) = open();
    let b = json!({"id": "y", "name": "Call Ping", "type": "flow.execute_workflow", "parameters": {"workflowId": "a"}});
    save(&api, callable("b", "Pong", vec![b])).await;
    let saved = save(&api, caller("a", "Ping", "b")).await;
    let issue = saved["issues"].as_array().unwrap().iter().find(|i| i["code"] == "call_cycle").expect("a cycle issue");
    assert_eq!(issue["message"], "workflows call each other in a circle: Ping → Pong → Ping");
    assert_eq!(issue["nodeName"], "Call");
    let refused = call(&api, "run_wait", json!({"workflowId": "a"})).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::InvalidWorkflow);
    assert!(refused.message.contains("Ping → Pong → Ping"), "{}", refused.message);
    let report = call(&api, "workflow_validate", json!({"workflow": caller("a", "Ping", "b")})).await.unwrap();
    assert_eq!(report["valid"], false);
}

#[tokio::test]
async fn a_caller_holding_the_only_run_slot_still_gets_its_child_run() {
    let (_dir, api, _) = open();
    let mut settings = call(&api, "settings_get", json!({})).await.unwrap();
    settings["maxConcurrentRuns"] = json!(1);
    call(&api, "settings_update", settings).await.unwrap();
    let echo = json!({"id": "s", "name": "Shape", "type": "data.set", "parameters": {"assignments": [{"name": "ok", "value": "{{ true }}"}]}});
    save(&api, callable("child", "Child", vec![echo])).await;
    save(&api, caller("parent", "Parent", "child")).await;
    let result = tokio::time::timeout(
        Duration::from_secs(20),
        call(&api, "run_wait", json!({"workflowId": "parent", "input": {"n": 1}})),
    )
    .await
    .expect("no deadlock")
    .unwrap();
    assert_eq!(result["status"], "success", "{result}");
    assert_eq!(result["items"][0]["json"]["ok"], true);
}

#[tokio::test]
async fn an_imported_file_cannot_call_the_users_workflows_until_it_is_trusted() {
    // The user's own workflow sends the items it gets with the user's account.
    let (_dir, api, _) = open();
    let echo = json!({"id": "s", "name": "Send", "type": "data.set", "parameters": {"assignments": [{"name": "sent", "value": "{{ true }}"}]}});
    save(&api, callable("send-invoice", "Send invoice", vec![echo])).await;
    // A shared file calls it by id.
    let crafted = caller("shared", "Handy helper", "send-invoice");
    let imported = call(&api, "workflow_import", json!({"text": crafted.to_string(), "keepId": true})).await.unwrap();
    assert_eq!(imported["record"]["workflow"]["id"], "shared");
    let refused = call(&api, "run_wait", json!({"workflowId": "shared", "input": {"n": 1}})).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::WorkflowUntrusted);
    assert!(refused.message.contains("calls \"send-invoice\" (nodes \"Call\")"), "{}", refused.message);
    let review = call(&api, "workflow_trust_review", json!({"id": "shared"})).await.unwrap();
    assert_eq!(review["local"][0]["kind"], "call");
    assert_eq!(review["local"][0]["target"], "send-invoice");
    assert!(
        call(&api, "execution_list", json!({"workflowId": "send-invoice"})).await.unwrap()["executions"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Trusted, it calls what the user approved; an edit that calls another needs a review.
    let version = imported["record"]["version"].clone();
    call(&api, "workflow_trust", json!({"id": "shared", "version": version})).await.unwrap();
    let result = call(&api, "run_wait", json!({"workflowId": "shared", "input": {"n": 1}})).await.unwrap();
    assert_eq!(result["status"], "success", "{result}");
    let record = call(&api, "workflow_get", json!({"id": "shared"})).await.unwrap();
    let mut edited = record["workflow"].clone();
    edited["nodes"][1]["parameters"]["workflowId"] = json!("other");
    call(&api, "workflow_save", json!({"workflow": edited})).await.unwrap();
    let refused = call(&api, "run_wait", json!({"workflowId": "shared", "input": {"n": 1}})).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::WorkflowUntrusted);
    assert!(refused.message.contains("calls \"other\""), "{}", refused.message);
}

#[tokio::test]
async fn a_workflow_exports_with_its_called_workflows_and_the_bundle_imports_elsewhere() {
    let (_dir, api, _) = open();
    let tax = json!({"id": "s", "name": "Tax", "type": "data.set", "parameters": {"assignments": [{"name": "gross", "value": "{{ json.n * 2 }}"}]}});
    save(&api, callable("tax", "Add tax", vec![tax])).await;
    let nested =
        json!({"id": "x", "name": "Call tax", "type": "flow.execute_workflow", "parameters": {"workflowId": "tax"}});
    save(&api, callable("price", "Price", vec![nested])).await;
    save(&api, caller("invoice", "Invoice", "price")).await;
    let single = call(&api, "workflow_export", json!({"id": "invoice"})).await.unwrap();
    assert!(single["text"].as_str().unwrap().starts_with("{\n  \"switchyard\": 1"));
    let bundle = call(&api, "workflow_export", json!({"id": "invoice", "withCalled": true})).await.unwrap();
    let text = bundle["text"].as_str().unwrap().to_string();
    let parsed: Json = serde_json::from_str(&text).unwrap();
    assert_eq!(parsed["switchyardBundle"], 1);
    let names: Vec<&str> =
        parsed["workflows"].as_array().unwrap().iter().map(|w| w["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["Invoice", "Price", "Add tax"]);

    // Elsewhere, a workflow of another kind already has the id "tax".
    let (_other_dir, other, _) = open();
    save(&other, callable("tax", "Someone else's tax", vec![])).await;
    // The caller alone: the note names what is missing.
    let alone =
        call(&other, "workflow_import", json!({"text": single["text"], "fileName": "invoice.json"})).await.unwrap();
    let notes = alone["notes"].as_array().unwrap();
    assert!(
        notes.iter().any(|n| n.as_str().unwrap().contains("node \"Call\" calls workflow price, which is not here")),
        "{notes:?}"
    );

    let imported =
        call(&other, "workflow_import", json!({"text": text, "fileName": "invoice.bundle.json", "keepId": true}))
            .await
            .unwrap();
    assert_eq!(imported["record"]["workflow"]["name"], "Invoice");
    let notes: Vec<String> =
        imported["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect();
    assert!(notes.iter().any(|n| n.contains("\"Add tax\" from the bundle got the new id")), "{notes:?}");
    assert!(notes.iter().any(|n| n.contains("also imported \"Price\" (price)")), "{notes:?}");
    let new_tax =
        notes.iter().find_map(|n| n.split("got the new id ").nth(1)).unwrap().split(' ').next().unwrap().to_string();
    let price = call(&other, "workflow_get", json!({"id": "price"})).await.unwrap();
    assert_eq!(price["workflow"]["nodes"][1]["parameters"]["workflowId"], new_tax.as_str());
    assert!(price["untrusted"].is_string(), "imported workflows are untrusted");
    // Trusted one by one, the three run together as they did where they were written.
    for id in ["invoice", "price", new_tax.as_str()] {
        let record = call(&other, "workflow_get", json!({"id": id})).await.unwrap();
        call(&other, "workflow_trust", json!({"id": id, "version": record["version"]})).await.unwrap();
    }
    let result = call(&other, "run_wait", json!({"workflowId": "invoice", "input": {"n": 21}})).await.unwrap();
    assert_eq!(result["status"], "success", "{result}");
    assert_eq!(result["items"][0]["json"]["gross"], 42);
    // Where the called workflows are already, the same, they are not imported twice.
    let again = call(&api, "workflow_import", json!({"text": text, "fileName": "invoice.bundle.json"})).await.unwrap();
    let notes = again["notes"].as_array().unwrap();
    assert!(
        notes.iter().any(|n| n.as_str().unwrap().contains("\"Price\" (price) from the bundle is here already")),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|n| n.as_str().unwrap().contains("\"Add tax\" (tax) from the bundle is here already")),
        "{notes:?}"
    );
    let listed = call(&api, "workflow_list", json!({})).await.unwrap();
    assert_eq!(listed["workflows"].as_array().unwrap().len(), 4, "only the caller was imported again");
}
