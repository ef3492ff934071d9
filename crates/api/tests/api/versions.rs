//! Version history through the API: saves with notes, the diff between versions, restoring
//! an older one as a new save, and a run naming the version it ran.

use crate::{call, open};
use serde_json::json;

#[tokio::test]
async fn versions_are_listed_compared_and_restored_as_a_new_save() {
    let (_dir, api, _) = open();
    let mut wf = json!({"switchyard": 1, "id": "orders", "name": "Orders",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "s", "name": "Shape", "type": "data.set", "parameters": {"assignments": [{"name": "v", "value": "one"}]}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "s"}}]});
    call(&api, "workflow_save", json!({"workflow": wf})).await.unwrap();
    wf["nodes"][1]["parameters"]["assignments"][0]["value"] = json!("two");
    wf["nodes"].as_array_mut().unwrap().push(json!({"id": "n", "name": "Note", "type": "flow.noop"}));
    call(&api, "workflow_save", json!({"workflow": wf, "expectedVersion": 1, "note": "second value"})).await.unwrap();

    let versions = call(&api, "workflow_versions", json!({"id": "orders"})).await.unwrap();
    let listed: Vec<(u64, &str)> = versions["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["version"].as_u64().unwrap(), v["note"].as_str().unwrap()))
        .collect();
    assert_eq!(listed, vec![(2, "second value"), (1, "")]);

    let diff = call(&api, "workflow_diff", json!({"id": "orders", "from": 1})).await.unwrap();
    assert_eq!(diff["added"][0]["name"], "Note");
    assert_eq!(diff["changed"][0]["name"], "Shape");
    assert_eq!(diff["changed"][0]["changes"][0]["path"], "parameters.assignments");
    assert_eq!(diff["changed"][0]["changes"][0]["after"][0]["value"], "two");

    // A run of the saved workflow names the version it ran.
    let run = call(&api, "run_wait", json!({"workflowId": "orders"})).await.unwrap();
    api.flush_history().await.unwrap();
    let execution = call(&api, "execution_get", json!({"id": run["executionId"]})).await.unwrap();
    assert_eq!(execution["summary"]["workflowVersion"], 2);

    let restored = call(&api, "workflow_restore", json!({"id": "orders", "version": 1})).await.unwrap();
    assert_eq!(restored["version"], 3);
    assert_eq!(restored["workflow"]["nodes"].as_array().unwrap().len(), 2);
    let versions = call(&api, "workflow_versions", json!({"id": "orders"})).await.unwrap();
    assert_eq!(versions["versions"][0]["note"], "restored version 1");
    assert_eq!(versions["versions"].as_array().unwrap().len(), 3, "nothing after version 1 was lost");
    let again = call(&api, "workflow_restore", json!({"id": "orders", "version": 1})).await.unwrap_err();
    assert!(again.message.contains("is the same as the workflow saved now"), "{}", again.message);
    let missing = call(&api, "workflow_version_get", json!({"id": "orders", "version": 7})).await.unwrap_err();
    assert_eq!(missing.code, switchyard_model::error::ErrorCode::NotFound);
    assert!(missing.message.contains("has no saved version 7"), "{}", missing.message);
}
