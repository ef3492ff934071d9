//! Send Webhook against the test server on 127.0.0.1 (paused clock: the retry delays are
//! asserted exactly), and the checks validation makes on trigger nodes.

use crate::support::*;
use serde_json::{Value as Json, json};
use switchyard_engine::Registry;
use switchyard_engine::validate::validate_text;
use switchyard_model::error::{ErrorClass, ErrorCode};
use switchyard_model::execution::RunStatus;
use switchyard_testkit::TestServer;

fn send_workflow(url: String, extra: Json) -> switchyard_model::workflow::Workflow {
    let mut parameters = json!({"url": url});
    for (k, v) in extra.as_object().unwrap() {
        parameters[k] = v.clone();
    }
    workflow(json!({
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "s", "name": "Notify", "type": "webhook.send", "parameters": parameters}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "s"}}]
    }))
}

#[tokio::test(start_paused = true)]
async fn retries_408_429_and_5xx_after_1_2_4_8_16_seconds() {
    let server = TestServer::start().await;
    // Five failures, then success on the sixth try: every default delay is used.
    let wf = send_workflow(server.url("/fault/five?fail=5&status=503"), json!({}));
    let (outcome, _) = run(&engine_with_breaker(10), wf, json!({"order": 1})).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    assert_eq!(server.fault_log("five").await, (6, vec![0, 1000, 3000, 7000, 15000, 31000]));
    let result = &jsons(&outcome.result)[0];
    assert_eq!(
        (result["status"].clone(), result["ok"].clone(), result["attempts"].clone()),
        (json!(200), json!(true), json!(6))
    );
    assert!(result["deliveryId"].as_str().is_some_and(|id| !id.is_empty()));
    for (key, status) in [("timeout", 408), ("limited", 429)] {
        let wf = send_workflow(server.url(&format!("/fault/{key}?fail=1&status={status}")), json!({}));
        let (outcome, _) = run(&engine(), wf, json!({})).await;
        assert_eq!(outcome.status, RunStatus::Success, "{key}");
        assert_eq!(server.fault_log(key).await, (2, vec![0, 1000]), "{key}");
    }
    // A 400 is the receiver refusing the payload: no retry.
    let wf = send_workflow(server.url("/fault/refused?fail=9&status=400"), json!({}));
    let (outcome, _) = run(&engine(), wf, json!({})).await;
    assert_eq!(outcome.status, RunStatus::Error);
    let error = outcome.error.unwrap();
    assert_eq!((error.code, error.class), (ErrorCode::HttpStatus, ErrorClass::Permanent));
    let details = error.details.unwrap();
    assert_eq!((details["attempts"].clone(), details["status"].clone()), (json!(1), json!(400)));
    assert_eq!(server.fault_log("refused").await.0, 1);
    // Six failures: the node fails after the last try, saying how many there were.
    let wf = send_workflow(server.url("/fault/down?fail=99&status=502"), json!({}));
    let (outcome, _) = run(&engine_with_breaker(10), wf, json!({})).await;
    assert_eq!(outcome.error.unwrap().details.unwrap()["attempts"], 6);
}

#[tokio::test(start_paused = true)]
async fn posts_each_item_as_json_or_a_custom_body() {
    let server = TestServer::start().await;
    let wf = send_workflow(server.url("/echo"), json!({"headers": [{"name": "X-Team", "value": "{{ json.team }}"}]}));
    let (outcome, _) = run(&engine(), wf, json!([{"team": "a", "n": 1}, {"team": "b", "n": 2}])).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let results = jsons(&outcome.result);
    assert_eq!(results.len(), 2);
    for (result, (team, n)) in results.iter().zip([("a", 1), ("b", 2)]) {
        let echo = &result["response"];
        assert_eq!(echo["method"], "POST");
        assert_eq!(echo["json"], json!({"team": team, "n": n}));
        assert_eq!(echo["headers"]["content-type"], "application/json");
        assert_eq!(echo["headers"]["x-team"], team);
        assert_eq!(echo["headers"]["x-switchyard-delivery"], result["deliveryId"]);
    }
    let wf = send_workflow(
        server.url("/echo"),
        json!({"send": "json", "body": {"event": "order.created", "data": "{{ json }}"}}),
    );
    let (outcome, _) = run(&engine(), wf, json!({"id": 7})).await;
    assert_eq!(jsons(&outcome.result)[0]["response"]["json"], json!({"event": "order.created", "data": {"id": 7}}));
    // A signature format without a secret is refused before anything is sent.
    let wf = send_workflow(server.url("/fault/unsigned"), json!({"signature": "github"}));
    let (outcome, _) = run(&engine(), wf, json!({})).await;
    assert_eq!(outcome.error.unwrap().code, ErrorCode::CredentialMissing);
    assert_eq!(server.fault_log("unsigned").await.0, 0);
}

#[test]
fn trigger_parameters_are_checked_with_the_node_and_parameter_named() {
    let text = json!({
        "switchyard": 1, "id": "w", "name": "Triggers",
        "nodes": [
            {"id": "a", "name": "Nightly", "type": "trigger.schedule", "parameters": {"cron": "0 3 * *"}},
            {"id": "b", "name": "Paris", "type": "trigger.schedule", "parameters": {"cron": "0 9 * * *", "timezone": "Europe/Pari"}},
            {"id": "c", "name": "Often", "type": "trigger.schedule", "parameters": {"mode": "interval", "interval": 0, "unit": "seconds"}},
            {"id": "d", "name": "Hook", "type": "trigger.webhook", "parameters": {"path": "orders", "methods": "POST, FETCH"}},
            {"id": "e", "name": "Hook 2", "type": "trigger.webhook", "parameters": {"path": "/orders/"}}
        ],
        "connections": []
    })
    .to_string();
    let report = validate_text(&text, &Registry::builtin());
    let rendered: Vec<String> = report.issues.iter().map(|i| i.render("triggers.json")).collect();
    let expect = [
        ("$.nodes[0].parameters.cron", "Nightly", "4 fields"),
        ("$.nodes[1].parameters.timezone", "Paris", "\"Europe/Pari\" is not a known time zone"),
        ("$.nodes[2].parameters.interval", "Often", "at least 1 second"),
        ("$.nodes[3].parameters.methods", "Hook", "\"FETCH\" is not an HTTP method"),
        ("$.nodes[4].parameters.path", "Hook 2", "already the path of Webhook node \"Hook\""),
    ];
    assert_eq!(report.issues.len(), expect.len(), "{rendered:#?}");
    for (issue, (path, node, text)) in report.issues.iter().zip(expect) {
        assert_eq!(issue.path, path, "{rendered:#?}");
        assert_eq!(issue.node_name.as_deref(), Some(node));
        assert!(issue.message.contains(text), "{}", issue.message);
        assert_eq!(issue.code, ErrorCode::InvalidParameter);
    }
}
