//! The security review's defects (issue 13), each attacked from outside: real HTTP requests
//! to a real listener, accounts tested against real sockets, the SQLite files read as bytes.

use super::webhooks::{SECRET, clock_now, executions, import_and_activate, open, start, workflow};
use super::{call, import_trusted};
use serde_json::{Value as Json, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard_core::signature::Preset;
use switchyard_engine::{ManualClock, Services};
use switchyard_model::error::ErrorCode;

async fn add_secret(api: &switchyard_api::Api) -> Json {
    call(api, "vault_unlock", json!({"password": "correct horse battery"})).await.unwrap();
    call(
        api,
        "account_add",
        json!({"connectionType": "webhook.secret", "label": "shop", "fields": {"secret": SECRET}}),
    )
    .await
    .unwrap();
    json!({"secret": {"connection": "webhook.secret", "account": "shop"}})
}

/// A Stripe-Signature header with 60,000 `v1=` candidates over a 1 MiB body once cost one
/// HMAC of the body per candidate (60 GB hashed per request) on an async worker. Now the
/// header's length and candidate count are capped and the HMAC is computed once, off the
/// workers: four such requests are refused at once while a fifth, valid one is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_candidate_floods_are_refused_at_once_and_valid_requests_still_answered() {
    let (_dir, api, clock) = open();
    let secret = add_secret(&api).await;
    let base = start(&api).await;
    let mut stripe = workflow("st", json!({"path": "pay", "responseMode": "lastNode", "signature": "stripe"}), None);
    stripe["nodes"][0]["credentials"] = secret;
    import_and_activate(&api, stripe).await;
    let url = format!("{base}/webhook/st/pay");
    let http = reqwest::Client::new();
    let now = clock_now(&clock);
    let flood = format!("t={now},{}", "v1=aa,".repeat(60_000));
    let big = {
        let pad = "x".repeat(1024 * 1024 - 100);
        format!("{{\"id\": \"F\", \"qty\": 1, \"price\": 1, \"p\": \"{pad}\"}}")
    };
    assert!(big.len() <= 1024 * 1024);
    let attacks: Vec<_> = (0..4)
        .map(|_| {
            let request = http
                .post(&url)
                .header("content-type", "application/json")
                .header("Stripe-Signature", flood.clone())
                .body(big.clone());
            tokio::spawn(async move {
                let started = Instant::now();
                let response = request.send().await.unwrap();
                (response.status().as_u16(), response.text().await.unwrap(), started.elapsed())
            })
        })
        .collect();
    let body = br#"{"id": "OK-1", "qty": 2, "price": 3}"#.to_vec();
    let mut valid = http.post(&url).header("content-type", "application/json").body(body.clone());
    for (k, v) in Preset::Stripe.sign(&body, SECRET.as_bytes(), now) {
        valid = valid.header(k, v);
    }
    let answered = valid.send().await.unwrap();
    assert_eq!(answered.status(), 200);
    assert_eq!(answered.json::<Json>().await.unwrap(), json!({"order": "OK-1", "total": 6}));
    for attack in attacks {
        let (status, text, took) = attack.await.unwrap();
        assert_eq!(status, 401, "{text}");
        assert!(text.contains("longer than"), "{text}");
        assert!(took < Duration::from_secs(1), "refused in {took:?}");
    }
    assert_eq!(executions(&api, "st").await.len(), 1, "only the valid delivery ran");
    api.stop_triggers().await;
}

/// DNS rebinding and browsers: a web page whose name resolves to 127.0.0.1 sends its own
/// name as Host (421), a form posted from a page carries an Origin (403 unless the webhook
/// allows it), and /metrics names workflows so it needs its bearer token (401).
#[tokio::test]
async fn foreign_hosts_origins_and_metrics_without_token_are_refused() {
    let (_dir, api, _) = open();
    let base = start(&api).await;
    import_and_activate(&api, workflow("h", json!({"path": "in", "responseMode": "lastNode"}), None)).await;
    import_and_activate(
        &api,
        workflow(
            "o",
            json!({"path": "in", "responseMode": "lastNode", "allowedOrigins": "https://app.example/"}),
            None,
        ),
    )
    .await;
    let http = reqwest::Client::new();
    let order = json!({"id": "H-1", "qty": 1, "price": 2});
    let post = |path: &str| http.post(format!("{base}{path}")).json(&order);

    let r = post("/webhook/h/in").header("Host", "evil.example").send().await.unwrap();
    assert_eq!(r.status(), 421);
    assert!(r.text().await.unwrap().contains("Allowed host names"));
    let r = post("/webhook/h/in").header("Host", "evil.example:5680").send().await.unwrap();
    assert_eq!(r.status(), 421);
    // A form from a web page (text/plain, a CORS "simple" request): 403.
    let r = http
        .post(format!("{base}/webhook/h/in"))
        .header("Origin", "https://evil.example")
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("Allowed origins"));
    assert_eq!(post("/webhook/o/in").header("Origin", "https://evil.example").send().await.unwrap().status(), 403);
    assert!(executions(&api, "h").await.is_empty(), "nothing ran");
    assert!(executions(&api, "o").await.is_empty(), "nothing ran");

    // What is allowed: this listener's own address, localhost, a listed origin.
    assert_eq!(post("/webhook/h/in").send().await.unwrap().status(), 200);
    let port = base.rsplit(':').next().unwrap();
    assert_eq!(post("/webhook/h/in").header("Host", format!("localhost:{port}")).send().await.unwrap().status(), 200);
    assert_eq!(post("/webhook/o/in").header("Origin", "https://app.example").send().await.unwrap().status(), 200);

    // A tunnel's name, once the user lists it.
    let mut settings = call(&api, "settings_get", json!({})).await.unwrap();
    settings["webhookAllowedHosts"] = json!(["hooks.example.net"]);
    call(&api, "settings_update", settings.clone()).await.unwrap();
    // The listener restarted with the new names (on a new free port).
    let listed = call(&api, "webhook_list", json!({})).await.unwrap();
    let base = listed["listener"]["baseUrl"].as_str().unwrap().to_string();
    let r = http
        .post(format!("{base}/webhook/h/in"))
        .header("Host", "hooks.example.net")
        .json(&order)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    settings["webhookAllowedHosts"] = json!(["https://bad/"]);
    let e = call(&api, "settings_update", settings.clone()).await.unwrap_err();
    assert!(e.message.contains("webhookAllowedHosts[0]"), "{}", e.message);

    // /metrics: off 404; on without (or with a wrong) token 401; with the token 200.
    assert_eq!(http.get(format!("{base}/metrics")).send().await.unwrap().status(), 404);
    settings["webhookAllowedHosts"] = json!([]);
    settings["metricsEndpoint"] = json!(true);
    let saved = call(&api, "settings_update", settings).await.unwrap();
    let token = saved["metricsToken"].as_str().unwrap().to_string();
    let listed = call(&api, "webhook_list", json!({})).await.unwrap();
    let base = listed["listener"]["baseUrl"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 64, "a token is made when the endpoint is turned on");
    let r = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    assert!(!r.text().await.unwrap().contains("workflow_id"));
    let r = http.get(format!("{base}/metrics")).bearer_auth("0".repeat(64)).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http.get(format!("{base}/metrics")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("workflow_id=\"h\""));
    api.stop_triggers().await;
}

/// Respond to Webhook echoing the caller's headers (Content-Length among them) once sent a
/// wrong Content-Length; framing headers are now the listener's alone, and the node says
/// which it dropped.
#[tokio::test]
async fn respond_cannot_set_framing_headers() {
    let (_dir, api, _) = open();
    let base = start(&api).await;
    let wf = json!({"switchyard": 1, "id": "echo", "name": "Echo", "nodes": [
        {"id": "hook", "name": "Hook", "type": "trigger.webhook", "parameters": {"path": "e", "responseMode": "respondNode"}},
        {"id": "respond", "name": "Respond", "type": "flow.respond",
         "parameters": {"respondWith": "text", "text": "pong", "headers": "{{ json.headers }}"}}
    ], "connections": [{"from": {"node": "hook"}, "to": {"node": "respond"}}]});
    import_and_activate(&api, wf).await;
    let http = reqwest::Client::new();
    for _ in 0..2 {
        let r = http
            .post(format!("{base}/webhook/echo/e"))
            .header("X-Trace", "t-1")
            .json(&json!({"padding": "x".repeat(300)}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-trace"], "t-1", "other headers are echoed");
        assert_eq!(r.headers()["content-length"], "4");
        assert_eq!(r.text().await.unwrap(), "pong");
    }
    let runs = executions(&api, "echo").await;
    let execution = call(&api, "execution_get", json!({"id": runs[0]["id"]})).await.unwrap();
    let out = &execution["nodes"][1]["outputs"][0]["items"][0]["json"];
    let dropped: Vec<&str> = out["droppedHeaders"].as_array().unwrap().iter().map(|h| h.as_str().unwrap()).collect();
    assert!(dropped.contains(&"content-length"), "{out}");
    api.stop_triggers().await;
}

/// "Test connection" of an API key sent in the query string: the HTTP client's error names
/// the whole URL, key included, and the outcome is stored with the account. The key must
/// not be in the message, nor anywhere in the database file or its WAL.
#[tokio::test]
async fn a_failed_connection_test_stores_no_key() {
    const KEY: &str = "query-key-0d9c8b7a6f5e4d3c";
    let (dir, api, _) = open();
    call(&api, "vault_unlock", json!({"password": "correct horse battery"})).await.unwrap();
    let account = call(
        &api,
        "account_add",
        json!({"connectionType": "http.apiKeyQuery", "label": "q",
               "fields": {"apiKey": KEY, "paramName": "api_key", "testUrl": "http://127.0.0.1:1/v1/me"}}),
    )
    .await
    .unwrap();
    let outcome = call(&api, "account_test", json!({"id": account["id"]})).await.unwrap();
    assert_eq!(outcome["ok"], false);
    let message = outcome["message"].as_str().unwrap();
    assert!(message.contains("http://127.0.0.1:1/v1/me"), "the host is still named: {message}");
    assert!(!message.contains(KEY) && !message.contains("api_key="), "{message}");
    let listed = call(&api, "account_list", json!({})).await.unwrap();
    assert!(!listed.to_string().contains(KEY));
    let mut seen = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.contains(".db") && entry.path().is_file() {
            let bytes = std::fs::read(entry.path()).unwrap();
            assert!(!bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()), "the key is in {name}");
            seen += 1;
        }
    }
    assert!(seen >= 2, "the database and its WAL were read");
}

/// Workflow id `a/b` with path `c` and id `a` with path `b/c` once shared the endpoint key
/// `a/b/c` and the first silently won. Ids are now letters, digits, - and _ only; an imported
/// file with another id gets a new one (and says so), so both are served, each at its URL.
#[tokio::test]
async fn ids_that_would_collide_in_webhook_urls_are_replaced_on_import() {
    let (_dir, api, _) = open();
    let base = start(&api).await;
    let mut slashed = workflow("a/b", json!({"path": "c", "responseMode": "lastNode"}), None);
    slashed["name"] = json!("Slashed");
    let imported = call(&api, "workflow_import", json!({"text": slashed.to_string(), "keepId": true})).await.unwrap();
    let new_id = imported["record"]["workflow"]["id"].as_str().unwrap().to_string();
    assert_ne!(new_id, "a/b");
    assert!(imported["notes"][0].as_str().unwrap().contains("\"a/b\""), "{imported}");
    call(&api, "workflow_activate", json!({"id": new_id, "active": true})).await.unwrap();
    import_and_activate(&api, workflow("a", json!({"path": "b/c", "responseMode": "lastNode"}), None)).await;
    let http = reqwest::Client::new();
    for (url, id) in [(format!("{base}/webhook/{new_id}/c"), "first"), (format!("{base}/webhook/a/b/c"), "second")] {
        let r = http.post(url).json(&json!({"id": id, "qty": 1, "price": 1})).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Json>().await.unwrap()["order"], id);
    }
    assert_eq!(executions(&api, &new_id).await.len(), 1);
    assert_eq!(executions(&api, "a").await.len(), 1);
    // Any other imported file gets a new id unless asked to keep it: whoever has the file
    // knows its id, and webhook URLs are made of it.
    let shared = workflow("known-id", json!({"path": "p"}), None);
    let fresh = call(&api, "workflow_import", json!({"text": shared.to_string()})).await.unwrap();
    assert_ne!(fresh["record"]["workflow"]["id"], "known-id");
    assert!(fresh["notes"][0].as_str().unwrap().contains("webhook URLs are new"), "{fresh}");
    let kept = call(&api, "workflow_import", json!({"text": shared.to_string(), "keepId": true})).await.unwrap();
    assert_eq!(kept["record"]["workflow"]["id"], "known-id");
    // Saving a new workflow under such an id is refused, naming it.
    let e = call(&api, "workflow_save", json!({"workflow": slashed})).await.unwrap_err();
    assert!(e.message.contains("\"a/b\""), "{}", e.message);
    api.stop_triggers().await;
}

fn open_at(dir: &std::path::Path, clock: Arc<ManualClock>) -> switchyard_api::Api {
    let services = Services::new(clock.clone(), switchyard_engine::services::default_http_client());
    let mut vault = switchyard_vault::VaultOptions::system(clock);
    vault.keyring = None;
    switchyard_api::Api::open_custom(dir, Arc::new(super::RecordingHost::default()), services, vault).unwrap()
}

/// The replay guard once keyed on the unsigned delivery-id header (a new id replayed the
/// same signed body) or on the raw header text (upper-case hex passed again), lived in
/// memory only (a restart reopened every replay), and refused the sender's retry of a
/// delivery whose run had failed. Keys are now the verified HMAC and the delivery id, kept
/// in SQLite, and forgotten when the run fails.
#[tokio::test]
async fn replays_are_refused_by_signed_content_across_restarts_but_failed_runs_can_be_retried() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::starting_at("2026-11-30T09:00:00Z".parse().unwrap()));
    let api = open_at(dir.path(), clock.clone());
    let secret = add_secret(&api).await;
    let base = start(&api).await;
    let mut github = workflow("gh", json!({"path": "push", "responseMode": "lastNode", "signature": "github"}), None);
    github["nodes"][0]["credentials"] = secret;
    import_and_activate(&api, github).await;
    let http = reqwest::Client::new();
    let post = |base: &str, body: &[u8], delivery: &str, upper: bool| {
        let mut request =
            http.post(format!("{base}/webhook/gh/push")).header("content-type", "application/json").body(body.to_vec());
        for (k, v) in Preset::GitHub.sign(body, SECRET.as_bytes(), 0) {
            let v = if upper { format!("sha256={}", v.trim_start_matches("sha256=").to_uppercase()) } else { v };
            request = request.header(k, v);
        }
        request.header("X-GitHub-Delivery", delivery).send()
    };
    let body = br#"{"id": "R-1", "qty": 1, "price": 5}"#;
    assert_eq!(post(&base, body, "d-1", false).await.unwrap().status(), 200);
    let r = post(&base, body, "d-2", false).await.unwrap();
    assert_eq!(r.status(), 401, "the same signed body under a new delivery id");
    assert!(r.text().await.unwrap().contains("already received"));
    assert_eq!(post(&base, body, "d-3", true).await.unwrap().status(), 401, "upper-case hex of a seen signature");
    let other = br#"{"id": "R-2", "qty": 2, "price": 5}"#;
    assert_eq!(post(&base, other, "d-1", false).await.unwrap().status(), 401, "a seen delivery id");

    // A run that fails (the Set node multiplies a missing field) does not use up its delivery.
    let failing = br#"{"id": "R-3"}"#;
    assert_eq!(post(&base, failing, "d-4", false).await.unwrap().status(), 500);
    let mut retried = 500;
    for _ in 0..100 {
        // The keys are forgotten as the run ends, just after its answer.
        retried = post(&base, failing, "d-4", false).await.unwrap().status().as_u16();
        if retried != 401 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(retried, 500, "the identical retry ran");
    assert_eq!(executions(&api, "gh").await.len(), 3);

    // A restart keeps what was seen.
    api.stop_triggers().await;
    api.flush_history().await.unwrap();
    drop(api);
    let api = open_at(dir.path(), clock.clone());
    call(&api, "vault_unlock", json!({"password": "correct horse battery"})).await.unwrap();
    let base = start(&api).await;
    assert_eq!(post(&base, body, "d-1", false).await.unwrap().status(), 401, "replayed after a restart");
    assert_eq!(post(&base, body, "d-9", false).await.unwrap().status(), 401);
    assert_eq!(post(&base, other, "d-10", false).await.unwrap().status(), 200, "new content still runs");
    // A day later the keys have expired.
    clock.advance(chrono::Duration::hours(25));
    assert_eq!(post(&base, body, "d-1", false).await.unwrap().status(), 200);
    api.stop_triggers().await;
}

/// The delivery log once wrote a row (with its body) for every refused request and was
/// pruned only after runs: a flood of bad signatures grew the database without bound. Now
/// refused requests past 10 a second per endpoint are only counted, and the log is pruned
/// to its length with every write.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_bad_signatures_keeps_the_delivery_log_at_its_length() {
    const REQUESTS: usize = 20_000;
    let (dir, api, _) = open();
    let secret = add_secret(&api).await;
    let mut settings = call(&api, "settings_get", json!({})).await.unwrap();
    settings["deliveryLogKeep"] = json!(100);
    call(&api, "settings_update", settings).await.unwrap();
    let base = start(&api).await;
    let mut github = workflow(
        "bad",
        json!({"path": "in", "responseMode": "lastNode", "signature": "github", "keepBodies": true}),
        None,
    );
    github["nodes"][0]["credentials"] = secret;
    import_and_activate(&api, github).await;
    api.flush_history().await.unwrap();
    let size = |dir: &std::path::Path| -> u64 {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("switchyard.db"))
            .map(|e| e.metadata().unwrap().len())
            .sum()
    };
    let before = size(dir.path());
    let url = format!("{base}/webhook/bad/in");
    let http = reqwest::Client::builder().pool_max_idle_per_host(50).build().unwrap();
    let padding = "p".repeat(2000);
    let flood = async {
        use futures::StreamExt;
        futures::stream::iter(0..REQUESTS)
            .map(|i| {
                let (http, url, padding) = (&http, &url, &padding);
                async move {
                    let body = format!("{{\"id\": {i}, \"pad\": \"{padding}\"}}");
                    let r = http
                        .post(url)
                        .header("X-Hub-Signature-256", format!("sha256={}", "ab".repeat(32)))
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 401, "request {i}");
                }
            })
            .buffer_unordered(50)
            .count()
            .await
    };
    assert_eq!(tokio::time::timeout(Duration::from_secs(60), flood).await.expect("the flood took over 60 s"), REQUESTS);
    api.flush_history().await.unwrap();
    let log = call(&api, "webhook_deliveries", json!({"workflowId": "bad", "limit": 100_000})).await.unwrap();
    let rows = log["deliveries"].as_array().unwrap();
    assert!(!rows.is_empty() && rows.len() <= 100, "{} rows", rows.len());
    assert!(rows.iter().all(|d| d["body"].is_null() && d["status"] == 401), "refused requests keep no body");
    let grown = size(dir.path()).saturating_sub(before);
    assert!(grown < 5 * 1024 * 1024, "the database grew by {grown} bytes");
    // Every refused request is still counted.
    let text = call(&api, "metrics_text", json!({})).await.unwrap()["text"].as_str().unwrap().to_string();
    assert!(text.contains(&format!("switchyard_webhook_deliveries_total{{status=\"401\"}} {REQUESTS}")), "{text}");
    api.stop_triggers().await;
}

/// A redirect to another host once carried an account's custom header along (reqwest drops
/// only Authorization and Cookie): a server could bounce an API key anywhere. Authenticated
/// requests now follow redirects themselves and drop the account's headers at another origin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_another_host_does_not_carry_the_accounts_headers() {
    const KEY: &str = "header-key-5e4d3c2b1a09f8e7";
    let (a, b) = (switchyard_testkit::TestServer::start().await, switchyard_testkit::TestServer::start().await);
    let (_dir, api, _) = open();
    call(&api, "vault_unlock", json!({"password": "correct horse battery"})).await.unwrap();
    call(
        &api,
        "account_add",
        json!({"connectionType": "http.apiKeyHeader", "label": "k", "fields": {"apiKey": KEY, "headerName": "X-API-Key"},
               // Any port of 127.0.0.1: the redirect target is allowed too, and still gets no key.
               "allowedHosts": ["127.0.0.1"]}),
    )
    .await
    .unwrap();
    let via = |server: &switchyard_testkit::TestServer, to: String, status: u16| {
        let mut url = reqwest::Url::parse(&server.url("/redirect")).unwrap();
        url.query_pairs_mut().append_pair("to", &to).append_pair("status", &status.to_string());
        url.to_string()
    };
    let node = |id: &str, url: String, method: &str| {
        json!({"id": id, "name": id, "type": "http.request",
               "parameters": {"url": url, "method": method, "bodyType": "json", "jsonBody": {"x": 1}},
               "credentials": {"auth": {"connection": "http.apiKeyHeader"}}})
    };
    let edges: Vec<Json> = ["away", "away307", "home", "post303"]
        .iter()
        .map(|n| json!({"from": {"node": "t"}, "to": {"node": n}}))
        .collect();
    let wf = json!({"switchyard": 1, "id": "redirects", "name": "Redirects",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            node("away", via(&a, b.url("/echo"), 302), "GET"),
            node("away307", via(&a, b.url("/echo"), 307), "POST"),
            node("home", via(&a, a.url("/echo"), 302), "GET"),
            node("post303", via(&a, a.url("/echo"), 303), "POST")
        ],
        "connections": edges
    });
    import_trusted(&api, &wf).await;
    let result = call(&api, "run_wait", json!({"workflowId": "redirects"})).await.unwrap();
    assert_eq!(result["status"], "success", "{result}");
    let execution = call(&api, "execution_get", json!({"id": result["executionId"]})).await.unwrap();
    let echoed = |name: &str| -> Json {
        let node = execution["nodes"].as_array().unwrap().iter().find(|n| n["nodeName"] == name).unwrap().clone();
        node["outputs"][0]["items"][0]["json"].clone()
    };
    for name in ["away", "away307"] {
        let echo = echoed(name);
        let headers = echo["headers"].as_object().unwrap();
        assert!(!headers.contains_key("x-api-key") && !headers.contains_key("authorization"), "{name}: {echo}");
        assert!(!echo.to_string().contains(KEY), "{name}");
    }
    assert_eq!(echoed("away307")["method"], "POST", "307 keeps the method and body");
    assert_eq!(echoed("away307")["json"], json!({"x": 1}));
    // The same origin keeps the key; 303 continues with a GET.
    assert_eq!(echoed("home")["headers"]["x-api-key"], KEY);
    assert_eq!(echoed("post303")["method"], "GET");
    assert_eq!(echoed("post303")["headers"]["x-api-key"], KEY);
}

/// Runs waiting for a slot once queued without a cap (each holding its request and items in
/// memory). Past Settings → "Runs that may wait", a webhook now gets 503 with Retry-After,
/// a run started from the app an error, and nothing more is queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_run_queue_answers_503_with_retry_after() {
    let (_dir, api, _) = open();
    let mut settings = call(&api, "settings_get", json!({})).await.unwrap();
    settings["maxConcurrentRuns"] = json!(1);
    settings["maxWaitingRuns"] = json!(2);
    call(&api, "settings_update", settings).await.unwrap();
    let base = start(&api).await;
    let wf = json!({"switchyard": 1, "id": "slow", "name": "Slow", "nodes": [
        {"id": "hook", "name": "Hook", "type": "trigger.webhook", "parameters": {"path": "in", "responseMode": "immediately"}},
        {"id": "wait", "name": "Wait", "type": "flow.wait", "parameters": {"amount": 1, "unit": "seconds"}}
    ], "connections": [{"from": {"node": "hook"}, "to": {"node": "wait"}}]});
    import_and_activate(&api, wf).await;
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    for i in 0..4 {
        let r = http.post(format!("{base}/webhook/slow/in")).json(&json!({"n": i})).send().await.unwrap();
        statuses.push(r.status().as_u16());
        if r.status() == 503 {
            assert_eq!(r.headers()["retry-after"], "5");
            assert!(r.text().await.unwrap().contains("already waiting"));
        }
    }
    assert_eq!(statuses, [202, 202, 202, 503], "one runs, two wait, the fourth is refused");
    let e = call(&api, "run_start", json!({"workflowId": "slow"})).await.unwrap_err();
    assert!(e.message.contains("already waiting"), "{}", e.message);
    // Once the queue drains, requests are taken again.
    let mut accepted = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let r = http.post(format!("{base}/webhook/slow/in")).json(&json!({"n": 9})).send().await.unwrap();
        if r.status() == 202 {
            accepted = true;
            break;
        }
    }
    assert!(accepted, "the queue drained");
    api.stop_triggers().await;
    api.drain(Duration::from_secs(10)).await.unwrap();
    let runs = executions(&api, "slow").await;
    assert!(runs.len() >= 4, "the refused request started no run: {}", runs.len());
    assert!(runs.iter().all(|r| r["status"] == "success"), "{runs:?}");
}

/// A server on 127.0.0.1 that records the head of every request it gets (what an attacker's
/// collector would see) and answers `{}`.
struct Collector {
    port: u16,
    seen: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Collector {
    async fn start() -> Collector {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let log = seen.clone();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut stream, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    log.lock().unwrap().push(String::from_utf8_lossy(&head).to_lowercase());
                    let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}";
                    let _ = stream.write_all(answer.as_bytes()).await;
                });
            }
        });
        Collector { port, seen }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/collect", self.port)
    }

    fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// A shared workflow file naming `{"connection": "http.bearer"}` once used the default
/// bearer account against any URL the file named. Now an imported workflow runs nothing that
/// uses an account until the user trusts it (seeing the accounts and hosts), accounts go only
/// to their allowed hosts, and a signing secret signs only for its hosts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_workflow_cannot_send_an_account_anywhere_until_trusted() {
    const TOKEN: &str = "bearer-token-0f1e2d3c4b5a";
    let (collector, elsewhere) = (Collector::start().await, Collector::start().await);
    let (_dir, api, _) = open();
    call(&api, "vault_unlock", json!({"password": "correct horse battery"})).await.unwrap();
    let account = call(
        &api,
        "account_add",
        json!({"connectionType": "http.bearer", "label": "work", "fields": {"token": TOKEN}}),
    )
    .await
    .unwrap();
    assert_eq!(account["allowedHosts"], json!([]), "no test URL: no host yet");

    let shared = json!({"switchyard": 1, "id": "shared", "name": "Looks harmless",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "h", "name": "Fetch", "type": "http.request", "parameters": {"url": collector.url()},
             "credentials": {"auth": {"connection": "http.bearer"}}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "h"}}]});
    let imported =
        call(&api, "workflow_import", json!({"text": shared.to_string(), "fileName": "shared.json", "keepId": true}))
            .await
            .unwrap();
    let host = format!("127.0.0.1:{}", collector.port);
    assert_eq!(imported["record"]["untrusted"], "shared.json");
    let review = &imported["review"];
    assert_eq!(review["accounts"][0]["resolvedLabel"], "work", "{review}");
    assert_eq!(review["accounts"][0]["nodes"], json!(["Fetch"]));
    assert_eq!(review["accounts"][0]["newHosts"], json!([host]));

    // Untrusted: refused before anything runs, naming the account and the host.
    let refused = call(&api, "run_wait", json!({"workflowId": "shared"})).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::WorkflowUntrusted, "{}", refused.message);
    assert!(refused.message.contains("shared.json") && refused.message.contains(&host), "{}", refused.message);
    // As the editor sends it, and as a copy: still the same file's workflow.
    let inline = call(&api, "run_wait", json!({"workflow": shared})).await.unwrap_err();
    assert_eq!(inline.code, ErrorCode::WorkflowUntrusted);
    let copy = call(&api, "workflow_duplicate", json!({"id": "shared"})).await.unwrap();
    let copied = call(&api, "run_wait", json!({"workflowId": copy["workflow"]["id"]})).await.unwrap_err();
    assert_eq!(copied.code, ErrorCode::WorkflowUntrusted);
    assert!(collector.requests().is_empty(), "nothing was sent: {:?}", collector.requests());

    // A review of an older version trusts nothing.
    let saved = call(&api, "workflow_save", json!({"workflow": shared, "expectedVersion": 1})).await.unwrap();
    assert_eq!(saved["record"]["untrusted"], "shared.json", "editing is not trusting");
    let stale = call(&api, "workflow_trust", json!({"id": "shared", "version": 1})).await.unwrap_err();
    assert_eq!(stale.code, ErrorCode::Conflict, "{}", stale.message);

    // Trusted at the version reviewed: the host is allowed on the account and the run works.
    let trusted = call(&api, "workflow_trust", json!({"id": "shared", "version": 2})).await.unwrap();
    assert!(trusted.get("untrusted").is_none(), "{trusted}");
    let account = call(&api, "account_list", json!({})).await.unwrap()["accounts"][0].clone();
    assert_eq!(account["allowedHosts"], json!([host]));
    let result = call(&api, "run_wait", json!({"workflowId": "shared"})).await.unwrap();
    assert_eq!(result["status"], "success", "{result}");
    let seen = collector.requests();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].contains(&format!("authorization: bearer {TOKEN}")), "{seen:?}");

    // Trusted or not, the account goes nowhere else: another port is another host.
    let mut moved = shared.clone();
    moved["nodes"][1]["parameters"]["url"] = json!(elsewhere.url());
    let result = call(&api, "run_wait", json!({"workflow": moved})).await.unwrap();
    assert_eq!(result["status"], "error");
    assert_eq!(result["error"]["code"], "credential_host_not_allowed", "{result}");
    let message = result["error"]["message"].as_str().unwrap();
    let other = format!("127.0.0.1:{}", elsewhere.port);
    assert!(message.contains("\"work\"") && message.contains(&other), "{message}");
    assert!(elsewhere.requests().is_empty(), "{:?}", elsewhere.requests());

    // A signing secret signs only for its hosts: no signing oracle.
    call(
        &api,
        "account_add",
        json!({"connectionType": "webhook.secret", "label": "peer", "fields": {"secret": "s3cret-signing"},
               "allowedHosts": [host]}),
    )
    .await
    .unwrap();
    let sender = |url: String| {
        json!({"switchyard": 1, "id": "sender", "name": "Sender",
            "nodes": [
                {"id": "t", "name": "Start", "type": "trigger.manual"},
                {"id": "s", "name": "Send", "type": "webhook.send",
                 "parameters": {"url": url, "signature": "github"},
                 "credentials": {"secret": {"connection": "webhook.secret", "account": "peer"}}}
            ],
            "connections": [{"from": {"node": "t"}, "to": {"node": "s"}}]})
    };
    let result = call(&api, "run_wait", json!({"workflow": sender(elsewhere.url())})).await.unwrap();
    assert_eq!(result["error"]["code"], "credential_host_not_allowed", "{result}");
    assert!(elsewhere.requests().is_empty());
    let result = call(&api, "run_wait", json!({"workflow": sender(collector.url())})).await.unwrap();
    assert_eq!(result["status"], "success", "{result}");
    assert!(collector.requests()[1].contains("x-hub-signature-256: sha256="), "{:?}", collector.requests());

    // The user can change the hosts; bad entries are named.
    let id = account["id"].clone();
    let bad = call(&api, "account_hosts", json!({"id": id, "hosts": ["*"]})).await.unwrap_err();
    assert!(bad.message.contains("\"work\"") && bad.message.contains("wildcard"), "{}", bad.message);
    let changed = call(&api, "account_hosts", json!({"id": id, "hosts": ["https://API.example.com/v1", host]})).await;
    assert_eq!(changed.unwrap()["allowedHosts"], json!(["api.example.com", host]));
}

/// Unmounts a test file system when dropped.
struct Mounted(std::path::PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A full disk once rolled back the history of every run in the batch. Now the writer keeps
/// the batch and tries again: the user is told (a notice in the app, the
/// `switchyard_history_write_stalled` gauge, the run's error), committed history stays
/// readable, and when space returns everything is written. The disk is a real 4 MB tmpfs
/// (mounting needs root, as `cargo xtask test` runs in CI; elsewhere the test says it was
/// skipped).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_reported_and_the_history_written_when_space_returns() {
    let base = tempfile::tempdir().unwrap();
    let disk = base.path().join("disk");
    std::fs::create_dir(&disk).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(&disk)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        assert!(
            std::env::var("SWITCHYARD_REQUIRE_DISK_TESTS").as_deref() != Ok("1"),
            "mounting a 4 MB tmpfs failed, and this run requires the disk-full test"
        );
        eprintln!(
            "SKIPPED a_full_disk_is_reported_and_the_history_written_when_space_returns: mounting a tmpfs needs root"
        );
        return;
    }
    let _unmount = Mounted(disk.clone());
    let host = Arc::new(super::RecordingHost::default());
    let api = switchyard_api::Api::open_with(&disk, host.clone(), Services::system()).unwrap();
    let background = api.start_background();
    let wf = |id: &str| {
        json!({"switchyard": 1, "id": id, "name": id, "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "s", "name": "Pad", "type": "code.script", "parameters": {"code": "let s = \"\"; s.pad(300000, \"x\"); [#{ pad: s }]"}}
        ], "connections": [{"from": {"node": "t"}, "to": {"node": "s"}}]})
    };
    let first = call(&api, "run_wait", json!({"workflow": wf("before")})).await.unwrap();
    assert_eq!(first["status"], "success", "{first}");

    // Fill the disk.
    let filler = disk.join("filler");
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while file.write_all(&chunk).and_then(|()| file.sync_data()).is_ok() {}
    }
    let full = call(&api, "run_wait", json!({"workflow": wf("during")})).await.unwrap_err();
    assert!(full.message.contains("full"), "{}", full.message);
    let notice = |level: &str| {
        host.0.lock().unwrap().iter().any(|e| {
            matches!(e, switchyard_api::types::ApiEvent::Notice { level: l, message } if l == level && (level != "error" || message.contains("full")))
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !notice("error") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(notice("error"), "the app was told: {:?}", host.0.lock().unwrap());
    let metrics = call(&api, "metrics_text", json!({})).await.unwrap();
    assert!(metrics["text"].as_str().unwrap().contains("switchyard_history_write_stalled 1"));
    // What was committed before stays readable.
    let listed = call(&api, "execution_get", json!({"id": first["executionId"]})).await.unwrap();
    assert_eq!(listed["summary"]["status"], "success");

    // Space returns: the kept history is written, and the app is told.
    std::fs::remove_file(&filler).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while api.flush_history().await.is_err() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    api.flush_history().await.unwrap();
    let during = call(&api, "execution_list", json!({"workflowId": "during"})).await.unwrap();
    assert_eq!(during["executions"][0]["status"], "success", "the run during the full disk is recorded: {during}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !notice("success") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(notice("success"));
    let metrics = call(&api, "metrics_text", json!({})).await.unwrap();
    assert!(metrics["text"].as_str().unwrap().contains("switchyard_history_write_stalled 0"));
    for task in background {
        task.abort();
    }
    api.stop_triggers().await;
    drop(api);
}

/// Values were capped per evaluated parameter, but nothing bounded an item or all the items
/// a run holds: a workflow could fill memory with items built of allowed parts. Each item
/// and the items a run holds at once are capped (Settings); the error names node and item.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_and_the_items_a_run_holds_are_capped() {
    let (_dir, api, _) = open();
    let mut settings = call(&api, "settings_get", json!({})).await.unwrap();
    settings["maxItemMb"] = json!(1);
    settings["maxRunItemsMb"] = json!(3);
    call(&api, "settings_update", settings).await.unwrap();
    let wf = |size: u32, count: u32| {
        json!({"switchyard": 1, "id": "big", "name": "Big", "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "s", "name": "Pad", "type": "code.script", "parameters": {"code": format!(
                "let s = \"\"; s.pad({size}, \"x\"); let out = []; for i in 0..{count} {{ out.push(#{{ pad: s }}); }} out"
            )}},
            {"id": "n", "name": "After", "type": "flow.noop"}
        ], "connections": [{"from": {"node": "t"}, "to": {"node": "s"}}, {"from": {"node": "s"}, "to": {"node": "n"}}]})
    };
    let one_big = call(&api, "run_wait", json!({"workflow": wf(1_200_000, 2)})).await.unwrap();
    assert_eq!(one_big["status"], "error", "{one_big}");
    let error = &one_big["error"];
    assert_eq!(error["code"], "value_too_large");
    assert_eq!((error["nodeName"].clone(), error["itemIndex"].clone()), (json!("Pad"), json!(0)));
    assert!(error["message"].as_str().unwrap().contains("at most 1 MiB"), "{error}");

    let many = call(&api, "run_wait", json!({"workflow": wf(600_000, 8)})).await.unwrap();
    assert_eq!(many["error"]["code"], "value_too_large", "{many}");
    assert_eq!(many["error"]["nodeName"], "Pad");
    assert!(many["error"]["message"].as_str().unwrap().contains("over 3 MiB of items"), "{many}");

    let fine = call(&api, "run_wait", json!({"workflow": wf(600_000, 4)})).await.unwrap();
    assert_eq!(fine["status"], "success", "{}", fine["error"]);
}
