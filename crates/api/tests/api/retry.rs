//! Retrying executions through the API: from the failed node (what succeeded is reused, the
//! new run links to the old one), and what the size cap on run data rules out.

use crate::calls::{save, settled};
use crate::{call, open};
use serde_json::json;

#[tokio::test]
async fn a_retry_from_the_failed_node_reuses_what_succeeded_and_links_to_the_old_run() {
    let server = switchyard_testkit::TestServer::start().await;
    let (_dir, api, _) = open();
    let fetch =
        |id: &str, url: String| json!({"id": id, "name": id, "type": "http.request", "parameters": {"url": url}});
    let wf = json!({"switchyard": 1, "id": "flaky", "name": "Flaky",
    "nodes": [
        {"id": "t", "name": "Start", "type": "trigger.manual"},
        fetch("first", server.url("/fault/api-first")),
        fetch("second", server.url("/fault/api-second?fail=1")),
    ],
    "connections": [
        {"from": {"node": "t"}, "to": {"node": "first"}},
        {"from": {"node": "first"}, "to": {"node": "second"}}
    ]});
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
