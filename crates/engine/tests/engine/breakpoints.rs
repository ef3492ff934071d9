//! Breakpoints: a run started by hand pauses before marked nodes and waits for continue,
//! step or stop, on tokio's paused clock.

use crate::support::*;
use serde_json::{Value as Json, json};
use std::sync::Arc;
use std::time::Duration;
use switchyard_engine::{DebugControl, RunOutcome};
use switchyard_model::error::ErrorCode;
use switchyard_model::events::RunEventKind;
use switchyard_model::execution::{DebugAction, NodeRunStatus, RunStatus};
use switchyard_model::item::Item;
use switchyard_model::value::Value;
use tokio::task::JoinHandle;

/// Start → A → B → C, each adding its letter; `extra` merges into the file.
fn chain(extra: Json) -> switchyard_model::workflow::Workflow {
    let set = |id: &str, name: &str| json!({"id": id, "name": name, "type": "data.set", "parameters": {"assignments": [{"name": id, "value": "{{ json.n }}"}]}});
    let mut wf = json!({
        "nodes": [{"id": "t", "name": "Start", "type": "trigger.manual"}, set("a", "A"), set("b", "B"), set("c", "C")],
        "connections": [
            {"from": {"node": "t"}, "to": {"node": "a"}},
            {"from": {"node": "a"}, "to": {"node": "b"}},
            {"from": {"node": "b"}, "to": {"node": "c"}}
        ],
        "settings": {"timeoutSeconds": 5}
    });
    for (k, v) in extra.as_object().expect("object") {
        wf[k] = v.clone();
    }
    workflow(wf)
}

/// Starts `wf` with breakpoints on `nodes`, on its own task.
fn start(
    wf: switchyard_model::workflow::Workflow,
    nodes: &[&str],
) -> (JoinHandle<RunOutcome>, DebugControl, Arc<Collector>) {
    let engine = engine();
    let prepared = engine.prepare(wf).unwrap_or_else(|issues| panic!("{issues:?}"));
    let (mut request, collector) = request(Item::from_input(Value::from(json!([{"n": 1}, {"n": 2}]))));
    let (control, debugger) = DebugControl::new(nodes.iter().map(|n| n.to_string()));
    request.debugger = Some(debugger);
    (tokio::spawn(async move { engine.run(prepared, request).await }), control, collector)
}

/// The pauses so far: (node id, items in, stepping).
fn pauses(collector: &Collector) -> Vec<(String, u32, bool)> {
    collector.picked(|kind| match kind {
        RunEventKind::NodePaused { node_id, items_in, stepping, .. } => Some((node_id.clone(), *items_in, *stepping)),
        _ => None,
    })
}

fn started(collector: &Collector) -> Vec<String> {
    collector.picked(|kind| match kind {
        RunEventKind::NodeStarted { node_id, .. } => Some(node_id.clone()),
        _ => None,
    })
}

/// Lets the run go on until it has paused `count` times (bounded: 60 s on the paused clock).
async fn until_paused(collector: &Collector, count: usize) {
    for _ in 0..1200 {
        if pauses(collector).len() >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the run did not pause {count} time(s): {:?}", collector.kinds());
}

#[tokio::test(start_paused = true)]
async fn a_run_pauses_before_a_breakpoint_shows_its_input_and_continues() {
    let (run, control, collector) = start(chain(json!({})), &["b"]);
    until_paused(&collector, 1).await;
    assert_eq!(pauses(&collector), vec![("b".to_string(), 2, false)]);
    let inputs = collector
        .picked(|kind| match kind {
            RunEventKind::NodePaused { inputs, node_name, .. } => Some((node_name.clone(), inputs.clone())),
            _ => None,
        })
        .remove(0);
    assert_eq!(inputs.0, "B");
    assert_eq!(inputs.1.len(), 1);
    assert_eq!((inputs.1[0].name.as_str(), inputs.1[0].total, inputs.1[0].truncated), ("main", 2, false));
    assert_eq!(
        jsons(&inputs.1[0].items),
        vec![json!({"n": 1, "a": 1}), json!({"n": 2, "a": 2})],
        "A's items wait for B"
    );
    assert_eq!(started(&collector), vec!["t", "a"], "B has not started");

    // An hour paused: the 5 s run timeout does not count it.
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert!(!run.is_finished());
    assert!(control.send(DebugAction::Continue));
    let outcome = run.await.unwrap();
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    assert_eq!(
        jsons(&outcome.result),
        vec![json!({"n": 1, "a": 1, "b": 1, "c": 1}), json!({"n": 2, "a": 2, "b": 2, "c": 2})]
    );
    let kinds = collector.kinds();
    let paused = kinds.iter().position(|k| k == "nodePaused").unwrap();
    assert_eq!(kinds[paused + 1], "runResumed");
    assert_eq!(started(&collector), vec!["t", "a", "b", "c"]);
}

#[tokio::test(start_paused = true)]
async fn step_runs_just_that_node_and_pauses_before_the_next() {
    let (run, control, collector) = start(chain(json!({})), &["a"]);
    until_paused(&collector, 1).await;
    control.send(DebugAction::Step);
    until_paused(&collector, 2).await;
    assert_eq!(pauses(&collector), vec![("a".into(), 2, false), ("b".into(), 2, true)]);
    assert_eq!(started(&collector), vec!["t", "a"]);
    assert_eq!(node_data(&collector, "a").status, NodeRunStatus::Success);
    // Continue leaves stepping: C does not pause.
    control.send(DebugAction::Continue);
    let outcome = run.await.unwrap();
    assert_eq!(outcome.status, RunStatus::Success);
    assert_eq!(pauses(&collector).len(), 2);
}

#[tokio::test(start_paused = true)]
async fn stop_at_a_breakpoint_ends_the_run_cancelled_before_the_node() {
    let (run, control, collector) = start(chain(json!({})), &["b"]);
    until_paused(&collector, 1).await;
    control.send(DebugAction::Stop);
    let outcome = run.await.unwrap();
    assert_eq!(outcome.status, RunStatus::Cancelled);
    let error = outcome.error.unwrap();
    assert_eq!(error.code, ErrorCode::Cancelled);
    assert!(error.message.contains("breakpoint before \"B\""), "{}", error.message);
    assert_eq!(started(&collector), vec!["t", "a"]);
}

#[tokio::test(start_paused = true)]
async fn an_action_sent_before_the_pause_does_not_skip_it_and_a_lost_control_stops() {
    // Continue clicked while nothing is paused is forgotten at the pause.
    let (run, control, collector) = start(chain(json!({})), &["c"]);
    control.send(DebugAction::Continue);
    until_paused(&collector, 1).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!run.is_finished(), "the early continue did not pass the breakpoint");
    // Nobody left to resume it: the run stops rather than wait for ever.
    drop(control);
    let outcome = run.await.unwrap();
    assert_eq!(outcome.status, RunStatus::Cancelled);
}

#[tokio::test(start_paused = true)]
async fn pinned_disabled_and_skipped_nodes_do_not_pause() {
    // A is pinned, B disabled; an IF sends nothing to D: none of them runs, none pauses.
    let wf = workflow(json!({
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "a", "name": "A", "type": "data.set", "parameters": {"assignments": [{"name": "a", "value": "1"}]}},
            {"id": "b", "name": "B", "type": "data.set", "settings": {"disabled": true}},
            {"id": "if", "name": "If", "type": "flow.if", "parameters": {"conditions": [{"left": "{{ json.n }}", "operator": "gt", "right": "100"}]}},
            {"id": "d", "name": "D", "type": "data.set"}
        ],
        "connections": [
            {"from": {"node": "t"}, "to": {"node": "a"}},
            {"from": {"node": "a"}, "to": {"node": "b"}},
            {"from": {"node": "b"}, "to": {"node": "if"}},
            {"from": {"node": "if", "output": "true"}, "to": {"node": "d"}}
        ],
        "pinData": {"a": [{"json": {"n": 1}}]}
    }));
    let (run, _control, collector) = start(wf, &["a", "b", "d"]);
    let outcome = run.await.unwrap();
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    assert!(pauses(&collector).is_empty(), "{:?}", collector.kinds());
    assert_eq!(node_data(&collector, "a").status, NodeRunStatus::Pinned);
    assert_eq!(node_data(&collector, "d").status, NodeRunStatus::Skipped);
}

#[tokio::test(start_paused = true)]
async fn a_breakpoint_set_while_the_run_goes_pauses_the_node_and_others_finish_meanwhile() {
    // Start → Wait 10 s → B, and Start → Wait 30 s (another branch). B gets its breakpoint
    // while the first wait runs; the second wait finishes while the run is paused.
    let wf = workflow(json!({
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "w", "name": "Wait", "type": "flow.wait", "parameters": {"amount": 10}},
            {"id": "b", "name": "B", "type": "data.set"},
            {"id": "long", "name": "Long wait", "type": "flow.wait", "parameters": {"amount": 30}}
        ],
        "connections": [
            {"from": {"node": "t"}, "to": {"node": "w"}},
            {"from": {"node": "w"}, "to": {"node": "b"}},
            {"from": {"node": "t"}, "to": {"node": "long"}}
        ],
        "settings": {"timeoutSeconds": 60}
    }));
    let (run, control, collector) = start(wf, &[]);
    tokio::time::sleep(Duration::from_secs(5)).await;
    control.set_breakpoints(["b".to_string()]);
    until_paused(&collector, 1).await;
    tokio::time::sleep(Duration::from_secs(40)).await;
    assert_eq!(node_data(&collector, "long").status, NodeRunStatus::Success, "the other branch went on");
    assert!(!started(&collector).contains(&"b".to_string()));
    control.send(DebugAction::Continue);
    let outcome = run.await.unwrap();
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
}
