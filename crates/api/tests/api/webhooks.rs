//! Webhooks end to end through the API: a real listener on 127.0.0.1, real HTTP requests,
//! real SQLite history and delivery log, secrets from the vault.

use super::{RecordingHost, call, import_trusted};
use serde_json::{Value as Json, json};
use std::sync::Arc;
use switchyard_api::Api;
use switchyard_core::signature::Preset;
use switchyard_engine::{ManualClock, Services};

pub(super) const SECRET: &str = "whsec-7c1e5a9d3b2f4e60";

pub(super) fn open() -> (tempfile::TempDir, Api, Arc<ManualClock>) {
    let (dir, api, clock, _) = open_with_host();
    (dir, api, clock)
}

pub(super) fn open_with_host() -> (tempfile::TempDir, Api, Arc<ManualClock>, Arc<RecordingHost>) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::starting_at("2026-11-30T09:00:00Z".parse().unwrap()));
    let services = Services::new(clock.clone(), switchyard_engine::services::default_http_client());
    let mut vault = switchyard_vault::VaultOptions::system(clock.clone());
    vault.keyring = None;
    let host = Arc::new(RecordingHost::default());
    let api = Api::open_custom(dir.path(), host.clone(), services, vault).unwrap();
    (dir, api, clock, host)
}

/// Starts the triggers on a free port and returns the listener's base URL.
pub(super) async fn start(api: &Api) -> String {
    let mut settings = call(api, "settings_get", json!({})).await.unwrap();
    settings["webhookPort"] = json!(0);
    call(api, "settings_update", settings).await.unwrap();
    let status = api.start_triggers().await.unwrap();
    assert!(status.running, "{status:?}");
    assert!(status.address.starts_with("127.0.0.1:"), "loopback by default: {}", status.address);
    assert!(!status.exposed);
    status.base_url
}

/// Webhook → Set → (Respond): the Set node answers with a total computed from the body.
pub(super) fn workflow(id: &str, hook: Json, respond: Option<Json>) -> Json {
    let mut nodes = vec![
        json!({"id": "hook", "name": "Hook", "type": "trigger.webhook", "parameters": hook}),
        json!({"id": "set", "name": "Total", "type": "data.set", "parameters": {
            "assignments": [
                {"name": "order", "value": "{{ json.body.id }}"},
                {"name": "total", "value": "{{ json.body.qty * json.body.price }}"}
            ],
            "keep": "none"
        }}),
    ];
    let mut connections = vec![json!({"from": {"node": "hook"}, "to": {"node": "set"}})];
    if let Some(respond) = respond {
        nodes.push(json!({"id": "respond", "name": "Respond", "type": "flow.respond", "parameters": respond}));
        connections.push(json!({"from": {"node": "set"}, "to": {"node": "respond"}}));
    }
    json!({"switchyard": 1, "id": id, "name": format!("Orders {id}"), "nodes": nodes, "connections": connections})
}

pub(super) async fn import_and_activate(api: &Api, wf: Json) {
    import_trusted(api, &wf).await;
    let record = call(api, "workflow_activate", json!({"id": wf["id"], "active": true})).await.unwrap();
    assert_eq!(record["active"], true);
}

pub(super) async fn executions(api: &Api, workflow: &str) -> Vec<Json> {
    api.flush_history().await.unwrap();
    let list = call(api, "execution_list", json!({"workflowId": workflow, "limit": 100_000})).await.unwrap();
    list["executions"].as_array().unwrap().clone()
}

#[tokio::test]
async fn response_modes_answer_and_every_run_is_recorded() {
    let (_dir, api, _) = open();
    let base = start(&api).await;
    import_and_activate(&api, workflow("last", json!({"path": "orders", "responseMode": "lastNode"}), None)).await;
    import_and_activate(&api, workflow("now", json!({"path": "/orders/", "responseMode": "immediately"}), None)).await;
    import_and_activate(
        &api,
        workflow(
            "reply",
            json!({"path": "", "methods": "POST, PUT", "responseMode": "respondNode"}),
            Some(json!({"status": 201, "respondWith": "json", "body": {"saved": "{{ json.order }}", "sum": "{{ json.total }}"},
                        "headers": [{"name": "X-Order", "value": "{{ json.order }}"}]})),
        ),
    )
    .await;
    let http = reqwest::Client::new();
    let order = json!({"id": "A-17", "qty": 3, "price": 4.5});

    let r = http.post(format!("{base}/webhook/last/orders")).json(&order).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Json>().await.unwrap(), json!({"order": "A-17", "total": 13.5}));

    let r = http.post(format!("{base}/webhook/now/orders?src=shop&tag=a&tag=b")).json(&order).send().await.unwrap();
    assert_eq!(r.status(), 202);
    let started: Json = r.json().await.unwrap();
    let id = started["executionId"].as_str().unwrap().to_string();

    let r = http.put(format!("{base}/webhook/reply")).json(&order).send().await.unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["x-order"], "A-17");
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.json::<Json>().await.unwrap(), json!({"saved": "A-17", "sum": 13.5}));

    // The 202 run finishes on its own and is in the history with the request as its input.
    let mut execution = Json::Null;
    for _ in 0..200 {
        api.flush_history().await.unwrap();
        execution = call(&api, "execution_get", json!({"id": id})).await.unwrap();
        if execution["summary"]["status"] == "success" {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(execution["summary"]["status"], "success", "{execution}");
    assert_eq!(execution["summary"]["mode"], "webhook");
    let hook_out = &execution["nodes"][0]["outputs"][0]["items"][0]["json"];
    assert_eq!(hook_out["method"], "POST");
    assert_eq!(hook_out["query"], json!({"src": "shop", "tag": ["a", "b"]}));
    assert_eq!(hook_out["body"], order);
    assert_eq!(hook_out["headers"]["content-type"], "application/json");

    for wf in ["last", "now", "reply"] {
        assert_eq!(executions(&api, wf).await.len(), 1, "{wf}");
    }
    let log = call(&api, "webhook_deliveries", json!({"workflowId": "reply"})).await.unwrap();
    let d = &log["deliveries"][0];
    assert_eq!(
        (d["status"].clone(), d["method"].clone(), d["verification"].clone()),
        (json!(201), json!("PUT"), json!("none"))
    );
    assert!(d["executionId"].is_string());
    assert!(d["body"].is_null(), "bodies are not kept unless asked");

    let list = call(&api, "webhook_list", json!({})).await.unwrap();
    let urls: Vec<&str> = list["endpoints"].as_array().unwrap().iter().map(|e| e["url"].as_str().unwrap()).collect();
    assert!(urls.contains(&format!("{base}/webhook/last/orders").as_str()), "{urls:?}");
    assert!(urls.contains(&format!("{base}/webhook/reply").as_str()), "{urls:?}");

    // Pausing a workflow stops serving it.
    call(&api, "workflow_activate", json!({"id": "last", "active": false})).await.unwrap();
    let r = http.post(format!("{base}/webhook/last/orders")).json(&order).send().await.unwrap();
    assert_eq!(r.status(), 404);
    api.stop_triggers().await;
}

#[tokio::test]
async fn refused_requests_run_nothing_and_say_why() {
    let (_dir, api, clock) = open();
    call(&api, "vault_unlock", json!({"password": "correct horse battery"})).await.unwrap();
    call(
        &api,
        "account_add",
        json!({"connectionType": "webhook.secret", "label": "shop", "fields": {"secret": SECRET}}),
    )
    .await
    .unwrap();
    let base = start(&api).await;
    let secret = json!({"secret": {"connection": "webhook.secret", "account": "shop"}});
    let mut github = workflow(
        "gh",
        json!({"path": "push", "responseMode": "lastNode", "signature": "github", "keepBodies": true}),
        None,
    );
    github["nodes"][0]["credentials"] = secret.clone();
    let mut stripe = workflow("st", json!({"path": "pay", "responseMode": "lastNode", "signature": "stripe"}), None);
    stripe["nodes"][0]["credentials"] = secret.clone();
    import_and_activate(&api, github).await;
    import_and_activate(&api, stripe).await;
    let http = reqwest::Client::new();
    let body = br#"{"id": "B-2", "qty": 2, "price": 10}"#.to_vec();
    let now = || clock_now(&clock);
    let post = |url: String, headers: Vec<(String, String)>, body: Vec<u8>| {
        let mut request = http.post(url).header("content-type", "application/json").body(body);
        for (k, v) in headers {
            request = request.header(k, v);
        }
        request.send()
    };
    let gh_url = format!("{base}/webhook/gh/push");
    let signed = |body: &[u8], delivery: &str| {
        let mut headers = Preset::GitHub.sign(body, SECRET.as_bytes(), 0);
        headers.push(("X-GitHub-Delivery".into(), delivery.into()));
        headers
    };

    // Missing and wrong signatures: 401.
    let r = post(gh_url.clone(), vec![], body.clone()).await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("X-Hub-Signature-256 header is missing"));
    let wrong = Preset::GitHub.sign(&body, b"not the secret", 0);
    assert_eq!(post(gh_url.clone(), wrong, body.clone()).await.unwrap().status(), 401);
    let tampered = signed(&body, "d-0");
    assert_eq!(
        post(gh_url.clone(), tampered, br#"{"id": "B-2", "qty": 200, "price": 10}"#.to_vec()).await.unwrap().status(),
        401
    );

    // Right: 200; the same delivery again: 401.
    let r = post(gh_url.clone(), signed(&body, "d-1"), body.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Json>().await.unwrap(), json!({"order": "B-2", "total": 20}));
    let r = post(gh_url.clone(), signed(&body, "d-1"), body.clone()).await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("already received"));
    // A day later the id is forgotten (the window is 24 h).
    clock.advance(chrono::Duration::hours(25));
    assert_eq!(post(gh_url.clone(), signed(&body, "d-1"), body.clone()).await.unwrap().status(), 200);

    // Malformed JSON with a good signature: 400 with where; the sender may retry the id.
    let broken = b"{\"id\": \"B-3\",\n \"qty\": }".to_vec();
    let r = post(gh_url.clone(), signed(&broken, "d-2"), broken.clone()).await.unwrap();
    assert_eq!(r.status(), 400);
    let text = r.text().await.unwrap();
    assert!(text.contains("not valid JSON") && text.contains("line 2 column"), "{text}");
    // Too large: 413. Wrong method: 405 with Allow.
    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(1024 * 1024 + 10)).into_bytes();
    assert_eq!(post(gh_url.clone(), signed(&big, "d-3"), big).await.unwrap().status(), 413);
    let r = http.get(&gh_url).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "POST");

    // Stripe: 5-minute tolerance on the signed timestamp (the clock is the app's).
    let st_url = format!("{base}/webhook/st/pay");
    let stale = Preset::Stripe.sign(&body, SECRET.as_bytes(), now() - 301);
    let r = post(st_url.clone(), stale, body.clone()).await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("away from now"));
    let fresh = Preset::Stripe.sign(&body, SECRET.as_bytes(), now() - 299);
    assert_eq!(post(st_url.clone(), fresh.clone(), body.clone()).await.unwrap().status(), 200);
    assert_eq!(post(st_url.clone(), fresh, body.clone()).await.unwrap().status(), 401, "a replayed Stripe signature");

    // Only the accepted deliveries ran.
    assert_eq!(executions(&api, "gh").await.len(), 2);
    assert_eq!(executions(&api, "st").await.len(), 1);
    let log = call(&api, "webhook_deliveries", json!({"workflowId": "gh"})).await.unwrap();
    let statuses: Vec<u64> =
        log["deliveries"].as_array().unwrap().iter().map(|d| d["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, vec![405, 413, 400, 200, 401, 200, 401, 401, 401]);
    let verifications: Vec<&str> =
        log["deliveries"].as_array().unwrap().iter().map(|d| d["verification"].as_str().unwrap()).collect();
    assert_eq!(
        verifications,
        vec!["failed", "failed", "passed", "passed", "failed", "passed", "failed", "failed", "failed"]
    );
    assert_eq!(log["deliveries"][3]["body"], String::from_utf8(body).unwrap(), "kept: the node asks for bodies");
    api.stop_triggers().await;
}

pub(super) fn clock_now(clock: &ManualClock) -> i64 {
    use switchyard_engine::Clock;
    clock.now().timestamp()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bounded_flood_gets_every_answer_right_and_loses_no_record() {
    const REQUESTS: usize = 20_000;
    const CONNECTIONS: usize = 50;
    let (_dir, api, _) = open();
    // Keep every execution and delivery (the defaults keep the last 10,000 and 1,000).
    let mut settings = call(&api, "settings_get", json!({})).await.unwrap();
    settings["pruneKeepLast"] = json!(0);
    settings["deliveryLogKeep"] = json!(100_000);
    call(&api, "settings_update", settings).await.unwrap();
    let base = start(&api).await;
    import_and_activate(&api, workflow("flood", json!({"path": "in", "responseMode": "lastNode"}), None)).await;
    let url = format!("{base}/webhook/flood/in");
    let http = reqwest::Client::builder().pool_max_idle_per_host(CONNECTIONS).build().unwrap();
    let flood = async {
        use futures::StreamExt;
        futures::stream::iter(0..REQUESTS)
            .map(|i| {
                let (http, url) = (&http, &url);
                async move {
                    let r = http.post(url).json(&json!({"id": i, "qty": i, "price": 2})).send().await.unwrap();
                    assert_eq!(r.status(), 200, "request {i}");
                    let body: Json = r.json().await.unwrap();
                    assert_eq!(body, json!({"order": i, "total": i * 2}), "request {i}");
                }
            })
            .buffer_unordered(CONNECTIONS)
            .count()
            .await
    };
    let started = std::time::Instant::now();
    // A guard against a hang, not a speed target (that is `cargo xtask bench webhooks`): on a
    // busy 2-core machine beside the other tests the flood takes 15–25 s.
    let answered =
        tokio::time::timeout(std::time::Duration::from_secs(120), flood).await.expect("the flood took over 120 s");
    eprintln!("flood: {REQUESTS} requests in {:?}", started.elapsed());
    assert_eq!(answered, REQUESTS);
    api.stop_triggers().await;
    api.flush_history().await.unwrap();
    let history = api.store().history();
    assert_eq!(history.count().unwrap() as usize, REQUESTS, "one execution record per request");
    use switchyard_model::execution::RunStatus;
    for status in
        [RunStatus::Running, RunStatus::Error, RunStatus::Cancelled, RunStatus::Timeout, RunStatus::Interrupted]
    {
        let filter = switchyard_store::ExecutionFilter { status: Some(status), ..Default::default() };
        assert_eq!(history.list(&filter).unwrap().len(), 0, "no run ended {status:?}");
    }
    let log = call(&api, "webhook_deliveries", json!({"workflowId": "flood", "limit": 100_000})).await.unwrap();
    assert_eq!(log["deliveries"].as_array().unwrap().len(), REQUESTS, "one delivery record per request");
}

#[tokio::test]
async fn send_webhook_signs_what_the_listener_verifies() {
    let (_dir, api, _) = open();
    call(&api, "vault_unlock", json!({"password": "correct horse battery"})).await.unwrap();
    call(
        &api,
        "account_add",
        json!({"connectionType": "webhook.secret", "label": "peer", "fields": {"secret": SECRET}, "allowedHosts": ["127.0.0.1"]}),
    )
    .await
    .unwrap();
    let base = start(&api).await;
    let secret = json!({"secret": {"connection": "webhook.secret", "account": "peer"}});
    for preset in ["github", "stripe", "slack", "shopify"] {
        let id = format!("in-{preset}");
        let mut receiver = workflow(&id, json!({"path": "in", "responseMode": "lastNode", "signature": preset}), None);
        receiver["nodes"][0]["credentials"] = secret.clone();
        import_and_activate(&api, receiver).await;
        let sender = json!({
            "switchyard": 1, "id": format!("out-{preset}"), "name": format!("Send {preset}"),
            "nodes": [
                {"id": "t", "name": "Start", "type": "trigger.manual"},
                {"id": "s", "name": "Send", "type": "webhook.send", "credentials": secret,
                 "parameters": {"url": format!("{base}/webhook/{id}/in"), "signature": preset}}
            ],
            "connections": [{"from": {"node": "t"}, "to": {"node": "s"}}]
        });
        let result = call(&api, "run_wait", json!({"workflow": sender, "input": {"id": preset, "qty": 2, "price": 3}}))
            .await
            .unwrap();
        assert_eq!(result["status"], "success", "{preset}: {result}");
        let sent = &result["items"][0]["json"];
        assert_eq!((sent["status"].clone(), sent["attempts"].clone()), (json!(200), json!(1)), "{preset}");
        assert_eq!(sent["response"], json!({"order": preset, "total": 6}), "{preset}: the receiver ran");
        let log = call(&api, "webhook_deliveries", json!({"workflowId": id})).await.unwrap();
        assert_eq!(log["deliveries"][0]["verification"], "passed", "{preset}");
    }
    // The same sender with another secret is refused: 401 is permanent, no retry.
    call(
        &api,
        "account_add",
        json!({"connectionType": "webhook.secret", "label": "other", "fields": {"secret": "nope"}, "allowedHosts": ["127.0.0.1"]}),
    )
    .await
    .unwrap();
    let sender = json!({
        "switchyard": 1, "id": "out-wrong", "name": "Send wrong",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "s", "name": "Send", "type": "webhook.send",
             "credentials": {"secret": {"connection": "webhook.secret", "account": "other"}},
             "parameters": {"url": format!("{base}/webhook/in-github/in"), "signature": "github"}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "s"}}]
    });
    let result = call(&api, "run_wait", json!({"workflow": sender, "input": {"id": 1}})).await.unwrap();
    assert_eq!(result["status"], "error");
    assert_eq!(result["error"]["details"]["status"], 401);
    assert_eq!(result["error"]["details"]["attempts"], 1);
    api.stop_triggers().await;
}

#[tokio::test]
async fn the_editor_listens_for_one_test_event() {
    let (_dir, api, _, host) = open_with_host();
    let base = start(&api).await;
    // Saved but not active: only the test listener answers.
    let wf = workflow("draft", json!({"path": "try", "responseMode": "lastNode"}), None);
    import_trusted(&api, &wf).await;
    let http = reqwest::Client::new();
    assert_eq!(http.post(format!("{base}/webhook/draft/try")).json(&json!({})).send().await.unwrap().status(), 404);
    let listening = call(&api, "webhook_listen_test", json!({"workflow": wf})).await.unwrap();
    assert_eq!(listening["urls"], json!([format!("{base}/webhook-test/draft/try")]));
    assert_eq!(listening["seconds"], 120);
    let r = http
        .post(format!("{base}/webhook-test/draft/try"))
        .json(&json!({"id": "T", "qty": 1, "price": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Json>().await.unwrap(), json!({"order": "T", "total": 5}));
    let test_run = host
        .0
        .lock()
        .unwrap()
        .iter()
        .find_map(|e| match e {
            switchyard_api::types::ApiEvent::TestDelivery { workflow_id, execution_id, .. }
                if workflow_id == "draft" =>
            {
                Some(execution_id.clone())
            }
            _ => None,
        })
        .expect("a testDelivery event names the run");
    api.flush_history().await.unwrap();
    let execution = call(&api, "execution_get", json!({"id": test_run})).await.unwrap();
    assert_eq!(execution["summary"]["mode"], "manual", "a test event runs as a manual run");
    // One event per listening.
    let mut gone = 0;
    for _ in 0..100 {
        let r = http.post(format!("{base}/webhook-test/draft/try")).json(&json!({})).send().await.unwrap();
        if r.status() == 404 {
            gone += 1;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(gone, 1, "the test listener stops after its event");
    let log = call(&api, "webhook_deliveries", json!({"workflowId": "draft"})).await.unwrap();
    assert_eq!(log["deliveries"][0]["test"], true);
    api.stop_triggers().await;
}

#[tokio::test]
async fn schedules_survive_a_restart_and_catch_up_once() {
    let dir = tempfile::tempdir().unwrap();
    let open_at = |time: &str| {
        let clock = Arc::new(ManualClock::starting_at(time.parse().unwrap()));
        let services = Services::new(clock, switchyard_engine::services::default_http_client());
        Api::open_with(dir.path(), Arc::new(RecordingHost::default()), services).unwrap()
    };
    let wf = json!({
        "switchyard": 1, "id": "hourly", "name": "Hourly",
        "nodes": [
            {"id": "tick", "name": "Every hour", "type": "trigger.schedule",
             "parameters": {"mode": "interval", "interval": 1, "unit": "hours", "missed": "runOnce"}},
            {"id": "n", "name": "Note", "type": "flow.noop"}
        ],
        "connections": [{"from": {"node": "tick"}, "to": {"node": "n"}}]
    });
    {
        let api = open_at("2026-11-30T09:00:00Z");
        start(&api).await;
        import_and_activate(&api, wf).await;
        let list = call(&api, "schedule_list", json!({})).await.unwrap();
        assert_eq!(list["schedules"][0]["rule"], "every 3600 s");
        assert_eq!(list["schedules"][0]["nextFire"], "2026-11-30T10:00:00.000Z");
        api.stop_triggers().await;
        api.drain(std::time::Duration::from_secs(5)).await.unwrap();
    }
    // Five hours later: one catch-up run for the missed fires, and the schedule goes on.
    let api = open_at("2026-11-30T14:00:00Z");
    start(&api).await;
    let mut runs = Vec::new();
    for _ in 0..200 {
        runs = executions(&api, "hourly").await;
        if runs.first().is_some_and(|r| r["status"] == "success") {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["mode"], "schedule");
    let execution = call(&api, "execution_get", json!({"id": runs[0]["id"]})).await.unwrap();
    let fired = &execution["nodes"][0]["outputs"][0]["items"][0]["json"];
    assert_eq!(
        (fired["scheduledFor"].clone(), fired["missed"].clone()),
        (json!("2026-11-30T10:00:00.000Z"), json!(true))
    );
    let list = call(&api, "schedule_list", json!({})).await.unwrap();
    assert_eq!(list["schedules"][0]["nextFire"], "2026-11-30T15:00:00.000Z");
    assert_eq!(list["schedules"][0]["lastFire"], "2026-11-30T14:00:00.000Z");
    api.stop_triggers().await;
}

#[tokio::test]
async fn runs_and_deliveries_show_in_the_prometheus_text_and_the_opt_in_endpoint() {
    let (_dir, api, _) = open();
    let base = start(&api).await;
    import_and_activate(&api, workflow("m", json!({"path": "in", "responseMode": "lastNode"}), None)).await;
    let http = reqwest::Client::new();
    for i in 0..3 {
        let r = http
            .post(format!("{base}/webhook/m/in"))
            .json(&json!({"id": i, "qty": 1, "price": 2}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    // A failing run: the Set node's expression multiplies a missing field.
    let r = http.post(format!("{base}/webhook/m/in")).json(&json!({"id": "x"})).send().await.unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(http.get(format!("{base}/webhook/m/in")).send().await.unwrap().status(), 405);
    let text = call(&api, "metrics_text", json!({})).await.unwrap()["text"].as_str().unwrap().to_string();
    for line in [
        "switchyard_runs_total{workflow=\"Orders m\",workflow_id=\"m\",status=\"succeeded\"} 3",
        "switchyard_runs_total{workflow=\"Orders m\",workflow_id=\"m\",status=\"failed\"} 1",
        "switchyard_node_runs_total{workflow=\"Orders m\",node=\"Total\",status=\"failed\"} 1",
        "switchyard_node_items_total{workflow=\"Orders m\",node=\"Hook\",direction=\"out\"} 4",
        "switchyard_webhook_deliveries_total{status=\"200\"} 3",
        "switchyard_webhook_deliveries_total{status=\"405\"} 1",
        "switchyard_active_runs 0",
    ] {
        assert!(text.contains(line), "missing {line} in:\n{text}");
    }
    // The endpoint is opt-in.
    assert_eq!(http.get(format!("{base}/metrics")).send().await.unwrap().status(), 404);
    let mut settings = call(&api, "settings_get", json!({})).await.unwrap();
    settings["metricsEndpoint"] = json!(true);
    let saved = call(&api, "settings_update", settings).await.unwrap();
    let token = saved["metricsToken"].as_str().unwrap();
    let r = http.get(format!("{base}/metrics")).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    assert!(r.text().await.unwrap().contains("switchyard_webhook_deliveries_total{status=\"500\"} 1"));
    api.stop_triggers().await;
}
