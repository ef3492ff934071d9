//! Breakpoints through the API: `run_start` with breakpoints, `run_debug` to continue, step,
//! stop or change them, and the refusals.

use crate::{call, open};
use serde_json::{Value as Json, json};
use std::time::Duration;
use switchyard_api::types::ApiEvent;
use switchyard_model::error::ErrorCode;
use switchyard_model::events::RunEventKind;

fn chain() -> Json {
    json!({
        "switchyard": 1, "id": "w-debug", "name": "Debug me",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "a", "name": "A", "type": "data.set", "parameters": {"assignments": [{"name": "a", "value": "1"}]}},
            {"id": "b", "name": "B", "type": "data.set", "parameters": {"assignments": [{"name": "b", "value": "2"}]}},
            {"id": "c", "name": "C", "type": "data.set", "parameters": {"assignments": [{"name": "c", "value": "3"}]}}
        ],
        "connections": [
            {"from": {"node": "t"}, "to": {"node": "a"}},
            {"from": {"node": "a"}, "to": {"node": "b"}},
            {"from": {"node": "b"}, "to": {"node": "c"}}
        ]
    })
}

/// The nodes the host was told the run paused before, in order.
fn paused(host: &crate::RecordingHost) -> Vec<String> {
    host.0
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            ApiEvent::Run { event } => match &event.kind {
                RunEventKind::NodePaused { node_name, .. } => Some(node_name.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

async fn wait_paused(host: &crate::RecordingHost, count: usize) {
    for _ in 0..500 {
        if paused(host).len() >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no pause {count}: {:?}", paused(host));
}

#[tokio::test]
async fn a_run_pauses_at_its_breakpoints_and_steps_continues_and_stops_through_the_api() {
    let (_dir, api, host) = open();
    let started = call(&api, "run_start", json!({"workflow": chain(), "breakpoints": ["a"]})).await.unwrap();
    let id = started["executionId"].as_str().unwrap().to_string();
    wait_paused(&host, 1).await;
    assert_eq!(paused(&host), vec!["A"]);
    // Step: A runs, the run pauses before B. A breakpoint on C is added meanwhile.
    call(&api, "run_debug", json!({"executionId": id, "action": "step", "breakpoints": ["a", "c"]})).await.unwrap();
    wait_paused(&host, 2).await;
    call(&api, "run_debug", json!({"executionId": id, "action": "continue"})).await.unwrap();
    wait_paused(&host, 3).await;
    assert_eq!(paused(&host), vec!["A", "B", "C"]);
    call(&api, "run_debug", json!({"executionId": id, "action": "stop"})).await.unwrap();
    let execution = crate::calls::settled(&api, &id).await;
    assert_eq!(execution["summary"]["status"], "cancelled");
    assert!(execution["summary"]["error"]["message"].as_str().unwrap().contains("before \"C\""));
    let ran: Vec<&str> =
        execution["nodes"].as_array().unwrap().iter().map(|n| n["nodeName"].as_str().unwrap()).collect();
    assert_eq!(ran, vec!["Start", "A", "B"], "C never ran");

    // Once it has ended, the run takes no more actions.
    let late = call(&api, "run_debug", json!({"executionId": id, "action": "continue"})).await.unwrap_err();
    assert_eq!(late.code, ErrorCode::Conflict, "{}", late.message);
    let unknown = call(&api, "run_debug", json!({"executionId": "nope", "action": "continue"})).await.unwrap_err();
    assert_eq!(unknown.code, ErrorCode::NotFound);
}

#[tokio::test]
async fn breakpoints_are_refused_where_they_cannot_apply() {
    let (_dir, api, _host) = open();
    let wrong = call(&api, "run_start", json!({"workflow": chain(), "breakpoints": ["zz"]})).await.unwrap_err();
    assert_eq!(wrong.code, ErrorCode::BadRequest);
    assert!(wrong.message.starts_with("breakpoints: the workflow has no node with id \"zz\""), "{}", wrong.message);
    let webhook = call(&api, "run_start", json!({"workflow": chain(), "breakpoints": ["b"], "mode": "webhook"}))
        .await
        .unwrap_err();
    assert!(webhook.message.contains("only a run started by hand"), "{}", webhook.message);

    // A run without breakpoints cannot be paused.
    let mut slow = chain();
    slow["nodes"][1] = json!({"id": "a", "name": "A", "type": "flow.wait", "parameters": {"amount": 2}});
    let started = call(&api, "run_start", json!({"workflow": slow})).await.unwrap();
    let id = started["executionId"].as_str().unwrap();
    let refused = call(&api, "run_debug", json!({"executionId": id, "action": "step"})).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::BadRequest);
    assert!(refused.message.contains("not started with breakpoints"), "{}", refused.message);
    call(&api, "run_cancel", json!({"executionId": id})).await.unwrap();
}
