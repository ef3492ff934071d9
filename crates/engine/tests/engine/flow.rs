use crate::support::*;
use serde_json::{Value as Json, json};
use switchyard_model::execution::{NodeRunStatus, RunStatus};

/// Start → (the given node) with the input as the trigger's items.
async fn one_node(node_type: &str, parameters: Json, input: Json) -> Vec<Json> {
    let wf = workflow(json!({
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "n", "name": "Node", "type": node_type, "parameters": parameters}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "n"}}]
    }));
    let (outcome, _) = run(&engine(), wf, input).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    jsons(&outcome.result)
}

#[tokio::test]
async fn set_keeps_drops_and_picks() {
    let input = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": "x"});
    let assign = json!([{"name": "f", "value": "{{ json.a + 1 }}"}, {"name": "b.z", "value": "new"}]);
    assert_eq!(
        one_node("data.set", json!({"assignments": assign}), input.clone()).await,
        vec![json!({"a": 1, "b": {"c": 2, "d": 3, "z": "new"}, "e": "x", "f": 2})]
    );
    assert_eq!(
        one_node("data.set", json!({"assignments": assign, "keep": "none", "dotNotation": false}), input.clone()).await,
        vec![json!({"f": 2, "b.z": "new"})]
    );
    assert_eq!(
        one_node("data.set", json!({"assignments": [], "keep": "selected", "fields": "a, b.d"}), input.clone()).await,
        vec![json!({"a": 1, "b": {"d": 3}})]
    );
    assert_eq!(
        one_node("data.set", json!({"assignments": [], "keep": "except", "fields": "b.c, e"}), input.clone()).await,
        vec![json!({"a": 1, "b": {"d": 3}})]
    );
    assert_eq!(
        one_node(
            "data.set",
            json!({"mode": "json", "json": {"sum": "{{ json.a + json.b.c }}", "lit": [1]}}),
            input.clone()
        )
        .await,
        vec![json!({"a": 1, "b": {"c": 2, "d": 3}, "e": "x", "sum": 3, "lit": [1]})]
    );
    let typed = json!([
        {"name": "n", "value": "42", "type": "number"},
        {"name": "s", "value": "{{ json.a }}", "type": "string"},
        {"name": "b", "value": "true", "type": "boolean"},
        {"name": "j", "value": "{\"k\": [1]}", "type": "json"}
    ]);
    assert_eq!(
        one_node("data.set", json!({"assignments": typed, "keep": "none"}), input).await,
        vec![json!({"n": 42, "s": "1", "b": true, "j": {"k": [1]}})]
    );
}

#[tokio::test]
async fn filter_with_and_or() {
    let input = json!([{"n": 1, "tag": "a"}, {"n": 5, "tag": "b"}, {"n": 10, "tag": "a"}]);
    let conditions = json!([
        {"left": "{{ json.n }}", "operator": "gte", "right": "5"},
        {"left": "{{ json.tag }}", "operator": "equals", "right": "a"}
    ]);
    assert_eq!(
        one_node("data.filter", json!({"conditions": conditions}), input.clone()).await,
        vec![json!({"n": 10, "tag": "a"})]
    );
    assert_eq!(
        one_node("data.filter", json!({"conditions": conditions, "combinator": "or"}), input.clone()).await.len(),
        3
    );
    let regex = json!([{"left": "{{ json.tag }}", "operator": "matches", "right": "^[b-z]$"}]);
    assert_eq!(
        one_node("data.filter", json!({"conditions": regex}), input.clone()).await,
        vec![json!({"n": 5, "tag": "b"})]
    );
    let missing = json!([{"left": "{{ json.nope }}", "operator": "notExists"}]);
    assert_eq!(one_node("data.filter", json!({"conditions": missing}), input).await.len(), 3);
}

#[tokio::test]
async fn if_routes_and_skips_empty_branches() {
    let wf = workflow(json!({
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "if", "name": "Big?", "type": "flow.if", "parameters": {"conditions": [{"left": "{{ json.n }}", "operator": "gt", "right": "100"}]}},
            {"id": "yes", "name": "Yes", "type": "data.set", "parameters": {"assignments": [{"name": "big", "value": "{{ true }}"}]}},
            {"id": "no", "name": "No", "type": "data.set", "parameters": {"assignments": [{"name": "big", "value": "{{ false }}"}]}}
        ],
        "connections": [
            {"from": {"node": "t"}, "to": {"node": "if"}},
            {"from": {"node": "if", "output": "true"}, "to": {"node": "yes"}},
            {"from": {"node": "if", "output": "false"}, "to": {"node": "no"}}
        ]
    }));
    let (outcome, collector) = run(&engine(), wf, json!([{"n": 1}, {"n": 2}])).await;
    assert_eq!(outcome.status, RunStatus::Success);
    assert_eq!(node_data(&collector, "yes").status, NodeRunStatus::Skipped);
    assert_eq!(node_data(&collector, "no").status, NodeRunStatus::Success);
    assert_eq!(jsons(&outcome.result), vec![json!({"n": 1, "big": false}), json!({"n": 2, "big": false})]);
}

#[tokio::test]
async fn switch_by_expression_and_all_matches() {
    let rules = json!([{"output": "a", "left": "{{ json.v }}", "operator": "gt", "right": "1"}, {"output": "b", "left": "{{ json.v }}", "operator": "gt", "right": "2"}]);
    let wf = |params: Json| {
        workflow(json!({
            "nodes": [
                {"id": "t", "name": "Start", "type": "trigger.manual"},
                {"id": "s", "name": "Switch", "type": "flow.switch", "parameters": params},
                {"id": "a", "name": "A", "type": "flow.noop"},
                {"id": "b", "name": "B", "type": "flow.noop"}
            ],
            "connections": [
                {"from": {"node": "t"}, "to": {"node": "s"}},
                {"from": {"node": "s", "output": "a"}, "to": {"node": "a"}},
                {"from": {"node": "s", "output": "b"}, "to": {"node": "b"}}
            ]
        }))
    };
    let input = json!([{"v": 1}, {"v": 2}, {"v": 3}]);
    let (_, c) = run(&engine(), wf(json!({"rules": rules, "allMatches": true})), input.clone()).await;
    assert_eq!((node_data(&c, "a").outputs[0].total, node_data(&c, "b").outputs[0].total), (2, 1));
    let (_, c) = run(&engine(), wf(json!({"rules": rules})), input.clone()).await;
    assert_eq!((node_data(&c, "a").outputs[0].total, node_data(&c, "b").status), (2, NodeRunStatus::Skipped));
    let (outcome, c) = run(
        &engine(),
        wf(json!({"mode": "expression", "rules": rules, "value": "{{ if json.v == 3 { \"b\" } else { \"a\" } }}"})),
        input.clone(),
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Success);
    assert_eq!((node_data(&c, "a").outputs[0].total, node_data(&c, "b").outputs[0].total), (2, 1));
    let (outcome, _) = run(&engine(), wf(json!({"mode": "expression", "rules": rules, "value": "zzz"})), input).await;
    assert_eq!(outcome.error.unwrap().message, "there is no output named \"zzz\" (outputs: a, b)");
}

#[tokio::test]
async fn merge_modes() {
    let wf = |params: Json| {
        workflow(json!({
            "nodes": [
                {"id": "t", "name": "Start", "type": "trigger.manual"},
                {"id": "l", "name": "Left", "type": "code.script", "parameters": {"code": "[#{k: 1, a: \"x\"}, #{k: 2, a: \"y\"}, #{k: 3, a: \"z\"}]"}},
                {"id": "r", "name": "Right", "type": "code.script", "parameters": {"code": "[#{k: 2, b: true, a: \"R\"}, #{k: 9, b: false}]"}},
                {"id": "m", "name": "Merge", "type": "flow.merge", "parameters": params}
            ],
            "connections": [
                {"from": {"node": "t"}, "to": {"node": "l"}},
                {"from": {"node": "t"}, "to": {"node": "r"}},
                {"from": {"node": "l"}, "to": {"node": "m", "input": "main"}},
                {"from": {"node": "r"}, "to": {"node": "m", "input": "second"}}
            ]
        }))
    };
    let result = |p| async move { jsons(&run(&engine(), wf(p), json!(null)).await.0.result) };
    assert_eq!(result(json!({"mode": "append"})).await.len(), 5);
    assert_eq!(
        result(json!({"mode": "byKey", "key1": "k", "key2": "k"})).await,
        vec![json!({"k": 2, "a": "R", "b": true})]
    );
    assert_eq!(result(json!({"mode": "byKey", "key1": "k", "key2": "k", "prefer": "input1"})).await[0]["a"], "y");
    assert_eq!(result(json!({"mode": "byKey", "key1": "k", "key2": "k", "join": "left"})).await.len(), 3);
    assert_eq!(result(json!({"mode": "byKey", "key1": "k", "key2": "k", "join": "outer"})).await.len(), 4);
    assert_eq!(
        result(json!({"mode": "byPosition"})).await,
        vec![json!({"k": 2, "a": "R", "b": true}), json!({"k": 9, "a": "y", "b": false})]
    );
    assert_eq!(result(json!({"mode": "byPosition", "includeUnpaired": true})).await.len(), 3);
}

#[tokio::test]
async fn sort_limit_split_aggregate() {
    let input = json!([{"n": 2, "s": "b"}, {"s": "z"}, {"n": 10, "s": "a"}, {"n": 1, "s": "c"}]);
    let sorted = one_node("data.sort", json!({"fields": [{"field": "n"}]}), input.clone()).await;
    assert_eq!(sorted.iter().map(|j| j["s"].as_str().unwrap()).collect::<String>(), "cbaz");
    let sorted = one_node("data.sort", json!({"fields": [{"field": "n", "order": "desc"}]}), input.clone()).await;
    assert_eq!(sorted.iter().map(|j| j["s"].as_str().unwrap()).collect::<String>(), "abcz", "missing values stay last");
    assert_eq!(
        one_node("data.limit", json!({"maxItems": 2, "keep": "last"}), input.clone()).await,
        vec![json!({"n": 10, "s": "a"}), json!({"n": 1, "s": "c"})]
    );

    let order = json!({"id": 7, "lines": [{"sku": "A"}, {"sku": "B"}]});
    assert_eq!(
        one_node("data.split_out", json!({"field": "lines"}), order.clone()).await,
        vec![json!({"sku": "A"}), json!({"sku": "B"})]
    );
    assert_eq!(
        one_node("data.split_out", json!({"field": "lines", "include": "all", "destination": "line"}), order).await,
        vec![json!({"id": 7, "line": {"sku": "A"}}), json!({"id": 7, "line": {"sku": "B"}})]
    );
    assert_eq!(
        one_node("data.split_out", json!({"field": "tags"}), json!({"tags": [1, 2]})).await,
        vec![json!({"tags": 1}), json!({"tags": 2})]
    );

    assert_eq!(
        one_node(
            "data.aggregate",
            json!({"mode": "fields", "fields": [{"field": "n"}, {"field": "s", "rename": "names"}]}),
            input.clone()
        )
        .await,
        vec![json!({"n": [2, 10, 1], "names": ["b", "z", "a", "c"]})]
    );
    assert_eq!(
        one_node("data.aggregate", json!({}), json!([{"a": 1}, {"a": 2}])).await,
        vec![json!({"data": [{"a": 1}, {"a": 2}]})]
    );
    assert_eq!(
        one_node(
            "data.aggregate",
            json!({"mode": "summarize", "summaries": [{"field": "n", "operation": "avg"}, {"field": "n", "operation": "max"}, {"field": "s", "operation": "concat"}]}),
            input
        )
        .await,
        vec![json!({"avg_n": 13.0 / 3.0, "max_n": 10, "concat_s": "b, z, a, c"})]
    );
}

#[tokio::test]
async fn code_per_item_and_for_all() {
    let per_item = one_node(
        "code.script",
        json!({"mode": "runOncePerItem", "code": "if json.n > 1 { #{ double: json.n * 2, at: index } }"}),
        json!([{"n": 1}, {"n": 2}, {"n": 3}]),
    )
    .await;
    assert_eq!(per_item, vec![json!({"double": 4, "at": 1}), json!({"double": 6, "at": 2})]);
    let all = one_node(
        "code.script",
        json!({"code": "let total = 0; for i in items { total += i.n; } #{ total: total, count: items.len() }"}),
        json!([{"n": 1}, {"n": 2}]),
    )
    .await;
    assert_eq!(all, vec![json!({"total": 3, "count": 2})]);
}

#[tokio::test]
async fn disabled_nodes_pass_through_and_pins_replace_output() {
    let wf = workflow(json!({
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "off", "name": "Off", "type": "data.set", "parameters": {"assignments": [{"name": "x", "value": "1"}]}, "settings": {"disabled": true}},
            {"id": "pinned", "name": "Pinned", "type": "http.request", "parameters": {"url": "http://127.0.0.1:1/never"}}
        ],
        "connections": [
            {"from": {"node": "t"}, "to": {"node": "off"}},
            {"from": {"node": "off"}, "to": {"node": "pinned"}}
        ],
        "pinData": {"pinned": [{"json": {"from": "pin"}}]}
    }));
    let (outcome, collector) = run(&engine(), wf, json!({"a": 1})).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    assert_eq!(node_data(&collector, "off").status, NodeRunStatus::Disabled);
    assert_eq!(node_data(&collector, "off").outputs[0].items[0].json, switchyard_model::value!({"a": 1}));
    assert_eq!(node_data(&collector, "pinned").status, NodeRunStatus::Pinned);
    assert_eq!(jsons(&outcome.result), vec![json!({"from": "pin"})]);

    // A run a trigger started (here: a webhook) runs the node for real: pins are for runs
    // started by hand.
    let engine = engine();
    let prepared = engine.prepare(wf_with_pin()).unwrap();
    let (mut request, collector) = request(vec![]);
    request.mode = Some(switchyard_model::execution::RunMode::Webhook);
    let outcome = engine.run(prepared, request).await;
    assert_eq!(outcome.status, RunStatus::Error, "the pinned node ran and could not connect");
    assert_eq!(node_data(&collector, "pinned").status, NodeRunStatus::Error);
}

fn wf_with_pin() -> switchyard_model::workflow::Workflow {
    workflow(json!({
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "pinned", "name": "Pinned", "type": "http.request", "parameters": {"url": "http://127.0.0.1:1/never"}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "pinned"}}],
        "pinData": {"pinned": [{"json": {"from": "pin"}}]}
    }))
}
