use crate::support::*;
use serde_json::{Value as Json, json};
use switchyard_model::error::{ErrorClass, ErrorCode};
use switchyard_model::execution::RunStatus;
use switchyard_testkit::TestServer;

fn http_workflow(parameters: Json, settings: Json) -> switchyard_model::workflow::Workflow {
    workflow(json!({
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "h", "name": "Call", "type": "http.request", "parameters": parameters, "settings": settings}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "h"}}]
    }))
}

#[tokio::test]
async fn get_sends_query_and_headers_per_item() {
    let server = TestServer::start().await;
    let wf = http_workflow(
        json!({
            "url": format!("{}/echo", server.base_url()),
            "query": [{"name": "id", "value": "{{ json.id }}"}, {"name": "q", "value": "a b"}],
            "headers": [{"name": "X-Trace", "value": "t-{{ json.id }}"}]
        }),
        json!({}),
    );
    let (outcome, _) = run(&engine(), wf, json!([{"id": 1}, {"id": 2}])).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let items = jsons(&outcome.result);
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["method"], "GET");
    assert_eq!(items[1]["query"], json!({"id": "2", "q": "a b"}));
    assert_eq!(items[1]["headers"]["x-trace"], "t-2");
    assert!(items[0]["headers"]["user-agent"].as_str().unwrap().starts_with("Switchyard/"));
    assert_eq!(outcome.result[1].paired(), switchyard_model::item::Paired::item(1));
}

#[tokio::test]
async fn bodies_json_form_and_raw() {
    let server = TestServer::start().await;
    let url = format!("{}/echo", server.base_url());
    let (outcome, _) = run(
        &engine(),
        http_workflow(json!({"method": "POST", "url": url, "jsonBody": {"name": "{{ json.name }}", "n": "{{ json.n * 2 }}", "fixed": [1, true]}}), json!({})),
        json!({"name": "Ada", "n": 21}),
    )
    .await;
    let item = &jsons(&outcome.result)[0];
    assert_eq!(item["json"], json!({"name": "Ada", "n": 42, "fixed": [1, true]}));
    assert_eq!(item["headers"]["content-type"], "application/json");

    let (outcome, _) = run(
        &engine(),
        http_workflow(json!({"method": "PUT", "url": url, "bodyType": "form", "formBody": [{"name": "a", "value": "1 2"}, {"name": "b", "value": "{{ json.b }}"}]}), json!({})),
        json!({"b": "x&y"}),
    )
    .await;
    let item = &jsons(&outcome.result)[0];
    assert_eq!(item["method"], "PUT");
    assert_eq!(item["body"], "a=1+2&b=x%26y");
    assert_eq!(item["headers"]["content-type"], "application/x-www-form-urlencoded");

    let (outcome, _) = run(
        &engine(),
        http_workflow(json!({"method": "PATCH", "url": url, "bodyType": "raw", "rawBody": "<a>{{ json.v }}</a>", "rawContentType": "application/xml"}), json!({})),
        json!({"v": 7}),
    )
    .await;
    let item = &jsons(&outcome.result)[0];
    assert_eq!(item["body"], "<a>7</a>");
    assert_eq!(item["headers"]["content-type"], "application/xml");
}

#[tokio::test]
async fn response_shapes() {
    let server = TestServer::start().await;
    let one = |path: &str, extra: Json| {
        let mut params = json!({"url": server.url(path)});
        for (k, v) in extra.as_object().unwrap() {
            params[k] = v.clone();
        }
        http_workflow(params, json!({}))
    };
    let (outcome, _) = run(&engine(), one("/users", json!({})), json!(null)).await;
    assert_eq!(outcome.result.len(), 10, "a JSON list becomes one item per element");
    let (outcome, _) = run(&engine(), one("/users", json!({"splitArray": false})), json!(null)).await;
    assert_eq!(jsons(&outcome.result)[0]["value"].as_array().unwrap().len(), 10);
    let (outcome, _) = run(&engine(), one("/text", json!({})), json!(null)).await;
    assert_eq!(jsons(&outcome.result), vec![json!({"data": "plain text"})]);
    let (outcome, _) = run(&engine(), one("/empty", json!({})), json!(null)).await;
    assert_eq!(jsons(&outcome.result), vec![json!({})]);
    let (outcome, _) = run(&engine(), one("/text", json!({"fullResponse": true})), json!(null)).await;
    let item = &jsons(&outcome.result)[0];
    assert_eq!(item["statusCode"], 200);
    assert_eq!(item["headers"]["content-type"], "text/plain");
    assert_eq!(item["body"], "plain text");
    let (outcome, _) =
        run(&engine(), one("/status/503", json!({"neverError": true, "fullResponse": true})), json!(null)).await;
    assert_eq!(jsons(&outcome.result)[0]["statusCode"], 503);
}

#[tokio::test]
async fn error_statuses_fail_with_class_and_details() {
    let server = TestServer::start().await;
    let wf = http_workflow(json!({"url": server.url("/status/404?token=secret")}), json!({}));
    let (outcome, collector) = run(&engine(), wf, json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Error);
    let error = outcome.error.unwrap();
    assert_eq!(error.code, ErrorCode::HttpStatus);
    assert_eq!(error.class, ErrorClass::Permanent);
    assert_eq!(error.node_name.as_deref(), Some("Call"));
    assert_eq!(error.item_index, Some(0));
    assert_eq!(error.message, format!("GET {}/status/404 answered 404 Not Found", server.base_url()));
    assert!(!error.message.contains("secret"), "query strings stay out of messages");
    assert_eq!(error.details.unwrap()["body"], "status 404");
    assert!(collector.kinds().contains(&"nodeFailed".to_string()));

    let (outcome, _) =
        run(&engine(), http_workflow(json!({"url": server.url("/status/503")}), json!({})), json!(null)).await;
    assert_eq!(outcome.error.unwrap().class, ErrorClass::Transient);
    let (outcome, _) =
        run(&engine(), http_workflow(json!({"url": server.url("/not-json")}), json!({})), json!(null)).await;
    assert!(outcome.error.unwrap().message.starts_with("the response is not valid JSON"));
}

#[tokio::test]
async fn on_error_continue_and_error_output_handle_each_item() {
    let server = TestServer::start().await;
    let url = format!("{}/status/{{{{ json.code }}}}", server.base_url());
    let input = json!([{"code": 200}, {"code": 500}, {"code": 201}]);

    let (outcome, _) = run(
        &engine(),
        http_workflow(json!({"url": url, "fullResponse": true}), json!({"onError": "continue"})),
        input.clone(),
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Success);
    assert_eq!(outcome.result.len(), 3);
    let failed = &outcome.result[1];
    assert_eq!(Json::from(&failed.json), json!({"code": 500}));
    assert_eq!(failed.error().unwrap().code, ErrorCode::HttpStatus);

    let wf = workflow(json!({
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "h", "name": "Call", "type": "http.request", "parameters": {"url": url}, "settings": {"onError": "errorOutput"}},
            {"id": "ok", "name": "Ok", "type": "flow.noop"},
            {"id": "bad", "name": "Bad", "type": "flow.noop"}
        ],
        "connections": [
            {"from": {"node": "t"}, "to": {"node": "h"}},
            {"from": {"node": "h", "output": "main"}, "to": {"node": "ok"}},
            {"from": {"node": "h", "output": "error"}, "to": {"node": "bad"}}
        ]
    }));
    let (outcome, collector) = run(&engine(), wf, input).await;
    assert_eq!(outcome.status, RunStatus::Success);
    assert_eq!(node_data(&collector, "ok").outputs[0].total, 2);
    let bad = node_data(&collector, "bad");
    assert_eq!(bad.outputs[0].total, 1);
    assert_eq!(bad.outputs[0].items[0].error().unwrap().item_index, Some(1));
}

#[tokio::test(start_paused = true)]
async fn timeouts_are_reported_as_timeout_class() {
    let server = TestServer::start().await;
    let wf = http_workflow(json!({"url": server.url("/slow"), "timeout": 2}), json!({}));
    let started = tokio::time::Instant::now();
    let (outcome, _) = run(&engine(), wf, json!(null)).await;
    let error = outcome.error.unwrap();
    assert_eq!(error.code, ErrorCode::Timeout);
    assert_eq!(error.class, ErrorClass::Timeout);
    assert!(started.elapsed() >= std::time::Duration::from_secs(2));
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}

#[tokio::test]
async fn bad_urls_name_the_item() {
    let wf = http_workflow(json!({"url": "{{ json.u }}"}), json!({}));
    let (outcome, _) = run(&engine(), wf, json!([{"u": "ftp://x"}])).await;
    let error = outcome.error.unwrap();
    assert_eq!(error.parameter.as_deref(), Some("url"));
    assert_eq!(error.message, "only http and https URLs are supported, got \"ftp\"");
    let wf = http_workflow(json!({"url": "{{ json.u }}"}), json!({}));
    let (outcome, _) = run(&engine(), wf, json!([{"u": "http://127.0.0.1:1/x"}, {"u": "not a url"}])).await;
    let error = outcome.error.unwrap();
    assert_eq!(error.item_index, Some(0));
    assert_eq!(error.class, ErrorClass::Network);
}
