//! Retrying executions through the API: from the failed node (what succeeded is reused, the
//! new run links to the old one), and what the size cap on run data rules out.

use crate::calls::{save, settled};
use crate::{call, open};
use serde_json::{Value as Json, json};

/// Manual Trigger (`t`) → GET `first` → GET `second` (node ids "first" and "second").
fn two_calls(id: &str, first: String, second: String) -> Json {
    let fetch =
        |id: &str, url: String| json!({"id": id, "name": id, "type": "http.request", "parameters": {"url": url}});
    json!({"switchyard": 1, "id": id, "name": id,
    "nodes": [{"id": "t", "name": "Start", "type": "trigger.manual"}, fetch("first", first), fetch("second", second)],
    "connections": [
        {"from": {"node": "t"}, "to": {"node": "first"}},
        {"from": {"node": "first"}, "to": {"node": "second"}}
    ]})
}

#[tokio::test]
async fn a_retry_from_the_failed_node_reuses_what_succeeded_and_links_to_the_old_run() {
    let server = switchyard_testkit::TestServer::start().await;
    let (_dir, api, _) = open();
    let wf = two_calls("flaky", server.url("/fault/api-first"), server.url("/fault/api-second?fail=1"));
    save(&api, wf).await;
    let failed = call(&api, "run_wait", json!({"workflowId": "flaky", "input": {"n": 1}})).await.unwrap();
    assert_eq!(failed["status"], "error");
    let old = failed["executionId"].as_str().unwrap().to_string();
    let started = call(&api, "execution_retry", json!({"executionId": old, "fromFailed": true})).await.unwrap();
    let retried = settled(&api, started["executionId"].as_str().unwrap()).await;
    assert_eq!(retried["summary"]["status"], "success", "{retried}");
    assert_eq!(retried["summary"]["retryOf"], old.as_str());
    assert_eq!(server.fault_log("api-first").await.0, 1, "the first call was reused");
    assert_eq!(server.fault_log("api-second").await.0, 2);

    // Where the history kept only part of a node's items, only "from the start" can run.
    let mut settings = call(&api, "settings_get", json!({})).await.unwrap();
    settings["runDataMaxItems"] = json!(1);
    call(&api, "settings_update", settings).await.unwrap();
    let wf = json!({"switchyard": 1, "id": "two", "name": "Two",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "s", "name": "Split", "type": "code.script", "parameters": {"code": "[#{a: 1}, #{a: 2}]"}},
            {"id": "b", "name": "Boom", "type": "code.script", "parameters": {"code": "throw \"no\""}},
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "s"}}, {"from": {"node": "s"}, "to": {"node": "b"}}]});
    save(&api, wf).await;
    let failed = call(&api, "run_wait", json!({"workflowId": "two", "input": {"n": 1}})).await.unwrap();
    let refused = call(&api, "execution_retry", json!({"executionId": failed["executionId"], "fromFailed": true}))
        .await
        .unwrap_err();
    assert!(refused.message.contains("kept only 1 of the 2 items node \"Split\" emitted"), "{}", refused.message);
    assert!(refused.message.contains("can only be retried from the start"), "{}", refused.message);
    assert_eq!(refused.details["fromStartOnly"], true);
    let again = call(&api, "execution_retry", json!({"executionId": failed["executionId"]})).await.unwrap();
    let again = settled(&api, again["executionId"].as_str().unwrap()).await;
    assert_eq!(again["summary"]["retryOf"], failed["executionId"]);
    // A trigger whose items were cut cannot start again with them.
    let failed = call(&api, "run_wait", json!({"workflowId": "two", "input": [{"n": 1}, {"n": 2}]})).await.unwrap();
    let refused = call(&api, "execution_retry", json!({"executionId": failed["executionId"]})).await.unwrap_err();
    assert!(
        refused.message.contains("kept only 1 of the 2 items its trigger \"Start\" emitted"),
        "{}",
        refused.message
    );
}

#[tokio::test]
async fn run_from_here_feeds_a_node_what_the_nodes_before_it_emitted_last_time() {
    let server = switchyard_testkit::TestServer::start().await;
    let (_dir, api, _) = open();
    let mut wf = two_calls("from", server.url("/fault/from-first"), server.url("/fault/from-second"));
    let refused = call(&api, "run_wait", json!({"workflow": wf, "fromNode": "second"})).await.unwrap_err();
    assert!(refused.message.contains("run the workflow once first"), "{}", refused.message);
    let first = call(&api, "run_wait", json!({"workflow": wf})).await.unwrap();
    assert_eq!(first["status"], "success");
    // The second node changed in the editor: from here, only it runs, on what "first" emitted.
    wf["nodes"][2]["parameters"]["url"] = json!(server.url("/fault/from-second-edited"));
    let again = call(&api, "run_wait", json!({"workflow": wf, "fromNode": "second"})).await.unwrap();
    assert_eq!(again["status"], "success", "{again}");
    assert_eq!(server.fault_log("from-first").await.0, 1, "the first call was not made again");
    assert_eq!(server.fault_log("from-second-edited").await.0, 1);
    api.flush_history().await.unwrap();
    let execution = call(&api, "execution_get", json!({"id": again["executionId"]})).await.unwrap();
    let status =
        |id: &str| execution["nodes"].as_array().unwrap().iter().find(|n| n["nodeId"] == id).unwrap()["status"].clone();
    assert_eq!((status("t"), status("first"), status("second")), (json!("reused"), json!("reused"), json!("success")));
    // From a chosen run: the first one.
    let chosen =
        call(&api, "run_wait", json!({"workflow": wf, "fromNode": "second", "fromExecution": first["executionId"]}))
            .await
            .unwrap();
    assert_eq!(chosen["status"], "success");
    assert_eq!(server.fault_log("from-first").await.0, 1);
}

#[tokio::test]
async fn an_active_workflow_with_pinned_data_is_warned_about() {
    let (_dir, api, _) = open();
    let wf = json!({"switchyard": 1, "id": "pins", "name": "Pins",
        "nodes": [
            {"id": "t", "name": "Every hour", "type": "trigger.schedule", "parameters": {"mode": "interval", "interval": 1, "unit": "hours"}},
            {"id": "s", "name": "Shape", "type": "data.set", "parameters": {"assignments": [{"name": "x", "value": "1"}]}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "s"}}],
        "pinData": {"s": [{"json": {"x": "pinned"}}]}});
    let saved = save(&api, wf.clone()).await;
    assert!(saved["issues"].as_array().unwrap().is_empty(), "an inactive workflow may hold pins");
    call(&api, "workflow_activate", json!({"id": "pins", "active": true})).await.unwrap();
    let saved = save(&api, wf).await;
    let issue = saved["issues"].as_array().unwrap().iter().find(|i| i["code"] == "pinned_data").expect("a warning");
    assert!(issue["message"].as_str().unwrap().contains("node \"Shape\" has pinned data and the workflow is active"));
}
