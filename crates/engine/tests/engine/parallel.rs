//! Parallel branches: all, race and quorum, branch timeouts, and the rules that keep
//! branches self-contained. Against the test server on tokio's paused clock.

use crate::support::*;
use serde_json::{Value as Json, json};
use std::time::Duration;
use switchyard_engine::Registry;
use switchyard_engine::validate::validate_text;
use switchyard_model::error::ErrorCode;
use switchyard_model::execution::{NodeRunStatus, RunStatus};
use switchyard_testkit::TestServer;

/// Start → Parallel with one HTTP node per branch (name, URL), optionally followed by
/// "After" on "done".
fn parallel(
    params: Json,
    branches: &[(&str, String)],
    after: bool,
    settings: Json,
) -> switchyard_model::workflow::Workflow {
    let mut nodes = vec![
        json!({"id": "t", "name": "Start", "type": "trigger.manual"}),
        json!({"id": "p", "name": "Parallel", "type": "flow.parallel", "settings": settings, "parameters": {
            "branches": branches.iter().map(|(name, _)| json!({"name": name})).collect::<Vec<_>>(),
        }}),
    ];
    for (k, v) in params.as_object().unwrap() {
        nodes[1]["parameters"][k] = v.clone();
    }
    let mut connections = vec![json!({"from": {"node": "t"}, "to": {"node": "p"}})];
    for (name, url) in branches {
        nodes.push(json!({"id": format!("h-{name}"), "name": format!("Call {name}"), "type": "http.request", "parameters": {"url": url}}));
        connections.push(json!({"from": {"node": "p", "output": name}, "to": {"node": format!("h-{name}")}}));
    }
    if after {
        nodes.push(json!({"id": "after", "name": "After", "type": "data.set", "parameters": {
            "assignments": [{"name": "seen", "value": "yes"}]
        }}));
        connections.push(json!({"from": {"node": "p", "output": "done"}, "to": {"node": "after"}}));
    }
    workflow(json!({"nodes": nodes, "connections": connections}))
}

fn status_of(collector: &Collector, node_id: &str) -> (NodeRunStatus, Option<String>) {
    let d = node_data(collector, node_id);
    (d.status, d.error.map(|e| e.message))
}

#[tokio::test(start_paused = true)]
async fn a_race_takes_the_first_success_and_stops_the_others() {
    let server = TestServer::start().await;
    let branches = [
        ("slow", server.url("/fault/slow?delayMs=5000")),
        ("fast", server.url("/fault/fast?delayMs=1000")),
        ("broken", server.url("/fault/broken?fail=9&status=404")),
    ];
    let wf = parallel(json!({"strategy": "race"}), &branches, true, json!({}));
    let started = tokio::time::Instant::now();
    let (outcome, collector) = run(&engine(), wf, json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    assert_eq!(started.elapsed(), Duration::from_secs(1), "done when the fast branch is");
    let items = jsons(&outcome.result);
    assert_eq!(items.len(), 1);
    assert_eq!((items[0]["key"].clone(), items[0]["seen"].clone()), (json!("fast"), json!("yes")));
    let (status, message) = status_of(&collector, "h-slow");
    assert_eq!(status, NodeRunStatus::Error);
    assert!(message.unwrap().contains("without branch \"slow\""), "the slow call was stopped");
    assert_eq!(status_of(&collector, "p").0, NodeRunStatus::Success);
    let p = node_data(&collector, "p");
    let done = p.outputs.iter().find(|o| o.name == "done").unwrap();
    assert_eq!(done.total, 1);
}

#[tokio::test(start_paused = true)]
async fn a_quorum_waits_for_enough_successes_or_fails_when_it_cannot_get_them() {
    let server = TestServer::start().await;
    let branches = [
        ("a", server.url("/fault/qa?delayMs=1000")),
        ("b", server.url("/fault/qb?fail=9&status=404&delayMs=500")),
        ("c", server.url("/fault/qc?delayMs=2000")),
        ("d", server.url("/fault/qd?delayMs=9000")),
    ];
    let wf = parallel(json!({"strategy": "quorum", "quorum": 2}), &branches, false, json!({}));
    let started = tokio::time::Instant::now();
    let (outcome, _) = run(&engine(), wf, json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    let keys: Vec<Json> = jsons(&outcome.result).iter().map(|j| j["key"].clone()).collect();
    assert_eq!(keys, [json!("qa"), json!("qc")], "the successes, in branch order");

    let branches = [
        ("a", server.url("/fault/fa?fail=9&status=500")),
        ("b", server.url("/fault/fb?fail=9&status=404")),
        ("c", server.url("/fault/fc?delayMs=60000")),
    ];
    let wf = parallel(json!({"strategy": "quorum", "quorum": 2}), &branches, true, json!({}));
    let started = tokio::time::Instant::now();
    let (outcome, collector) = run(&engine(), wf, json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Error);
    assert!(started.elapsed() < Duration::from_secs(1), "it fails as soon as the quorum is out of reach");
    let error = outcome.error.unwrap();
    assert!(error.message.starts_with("only 0 of 3 branches succeeded, 2 needed"), "{}", error.message);
    assert_eq!(error.node_name.as_deref(), Some("Parallel"));
    assert!(collector.data.lock().unwrap().iter().all(|d| d.node_id != "after"), "nothing ran after it");
}

#[tokio::test(start_paused = true)]
async fn all_branches_with_a_timeout_and_the_on_error_setting() {
    let server = TestServer::start().await;
    let branches = [("a", server.url("/fault/ta?delayMs=1000")), ("b", server.url("/fault/tb?delayMs=10000"))];
    let params = json!({"strategy": "all", "branchTimeout": 3});
    let started = tokio::time::Instant::now();
    let (outcome, _) = run(&engine(), parallel(params.clone(), &branches, true, json!({})), json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Error);
    assert_eq!(started.elapsed(), Duration::from_secs(3));
    let error = outcome.error.unwrap();
    assert_eq!(error.code, ErrorCode::Timeout);
    assert!(error.message.contains("branch \"b\" took longer than its timeout of 3 s"), "{}", error.message);

    // With "continue", the items leave "done" carrying the error and the run goes on.
    let wf = parallel(params, &branches, true, json!({"onError": "continue"}));
    let (outcome, collector) = run(&engine(), wf, json!([{"n": 1}])).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    assert_eq!(outcome.result.len(), 1);
    assert_eq!(Json::from(&outcome.result[0].json)["seen"], "yes");
    let p = node_data(&collector, "p");
    let done = p.outputs.iter().find(|o| o.name == "done").unwrap();
    assert_eq!(done.items[0].error().unwrap().code, ErrorCode::Timeout);
    assert_eq!(Json::from(&done.items[0].json), json!({"n": 1}));
    assert_eq!(status_of(&collector, "h-b").0, NodeRunStatus::Error);

    // All succeed: every branch's items, in branch order, whatever order they finished in.
    let branches = [("a", server.url("/fault/sa?delayMs=2000")), ("b", server.url("/fault/sb?delayMs=1000"))];
    let (outcome, _) = run(&engine(), parallel(json!({}), &branches, false, json!({})), json!([{}, {}])).await;
    let keys: Vec<Json> = jsons(&outcome.result).iter().map(|j| j["key"].clone()).collect();
    assert_eq!(keys, [json!("sa"), json!("sa"), json!("sb"), json!("sb")]);
}

#[tokio::test(start_paused = true)]
async fn a_branch_is_every_node_after_its_output() {
    let server = TestServer::start().await;
    let wf = workflow(json!({
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "p", "name": "Parallel", "type": "flow.parallel", "parameters": {
                "branches": [{"name": "long"}, {"name": "short"}], "strategy": "race"}},
            {"id": "l1", "name": "Long 1", "type": "http.request", "parameters": {"url": server.url("/fault/l1?delayMs=500")}},
            {"id": "l2", "name": "Long 2", "type": "http.request", "parameters": {"url": server.url("/fault/l2?delayMs=500")}},
            {"id": "s1", "name": "Short", "type": "http.request", "parameters": {"url": server.url("/fault/s1?delayMs=800")}}
        ],
        "connections": [
            {"from": {"node": "t"}, "to": {"node": "p"}},
            {"from": {"node": "p", "output": "long"}, "to": {"node": "l1"}},
            {"from": {"node": "l1"}, "to": {"node": "l2"}},
            {"from": {"node": "p", "output": "short"}, "to": {"node": "s1"}}
        ]
    }));
    let (outcome, collector) = run(&engine(), wf, json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    assert_eq!(jsons(&outcome.result)[0]["key"], "s1", "the one-node branch (0.8 s) beat the two-node one (1 s)");
    assert_eq!(server.fault_log("l2").await.0, 1, "the second node of the losing branch had started");
    let events = collector.kinds();
    assert_eq!(events.iter().filter(|k| *k == "nodeFailed").count(), 1, "Long 2 was stopped: {events:?}");
}

#[test]
fn branches_must_not_leak_into_the_rest_of_the_workflow() {
    let text = json!({
        "switchyard": 1, "id": "w", "name": "Leaky",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "p", "name": "Parallel", "type": "flow.parallel", "parameters": {"branches": [{"name": "a"}, {"name": "b"}]}},
            {"id": "a", "name": "A", "type": "flow.noop"},
            {"id": "b", "name": "B", "type": "flow.noop"},
            {"id": "j", "name": "Join", "type": "flow.noop"},
            {"id": "x", "name": "Outside", "type": "flow.noop"}
        ],
        "connections": [
            {"from": {"node": "t"}, "to": {"node": "p"}},
            {"from": {"node": "p", "output": "a"}, "to": {"node": "a"}},
            {"from": {"node": "p", "output": "b"}, "to": {"node": "b"}},
            {"from": {"node": "a"}, "to": {"node": "j"}},
            {"from": {"node": "b"}, "to": {"node": "j"}},
            {"from": {"node": "t"}, "to": {"node": "x"}},
            {"from": {"node": "x"}, "to": {"node": "a"}}
        ]
    })
    .to_string();
    let report = validate_text(&text, &Registry::builtin());
    let lines: Vec<String> = report.issues.iter().map(|i| format!("{}: {}", i.path, i.message)).collect();
    assert!(
        lines.contains(&"$.nodes[4]: \"Join\" is in branch \"b\" of \"Parallel\" and in branch \"a\" of \"Parallel\"; a node belongs to one branch (join branches after \"done\")".to_string()),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&"$.connections[6]: \"A\" is in branch \"a\" of \"Parallel\", so only its branch may feed it, not \"Outside\"".to_string()),
        "{lines:#?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_disabled_parallel_node_passes_its_items_out_of_done() {
    let server = TestServer::start().await;
    let branches = [("a", server.url("/fault/da")), ("b", server.url("/fault/db"))];
    let wf = parallel(json!({}), &branches, true, json!({"disabled": true}));
    let (outcome, collector) = run(&engine(), wf, json!([{"n": 1}, {"n": 2}])).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    assert_eq!(jsons(&outcome.result), [json!({"n": 1, "seen": "yes"}), json!({"n": 2, "seen": "yes"})]);
    assert_eq!(status_of(&collector, "h-a").0, NodeRunStatus::Skipped);
    assert_eq!(server.fault_log("da").await.0, 0);
}
