//! API tests: the handlers over a real SQLite file, called through the same string
//! dispatcher the desktop shell uses.

mod ai;
mod ai_real;
mod backups;
mod calls;
mod credentials;
mod databases;
mod db_write;
mod debug;
mod email;
mod examples_mail;
mod files;
mod folders;
mod hardening;
mod help;
mod imap;
mod listen;
mod local;
mod metrics;
mod orchestrate;
mod queue_files;
mod retry;
mod secrets;
mod templates;
mod updates;
mod versions;
mod webhooks;

use serde_json::{Value as Json, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchyard_api::types::ApiEvent;
use switchyard_api::{Api, ApiError, COMMANDS, Host};
use switchyard_engine::{Services, TokioClock};
use switchyard_model::error::ErrorCode;

/// Records the events and the links the API would open in the browser.
#[derive(Default)]
pub struct RecordingHost(pub Mutex<Vec<ApiEvent>>, pub Mutex<Vec<String>>);

impl Host for RecordingHost {
    fn emit(&self, event: ApiEvent) {
        self.0.lock().unwrap().push(event);
    }

    fn open_url(&self, url: &str) -> Result<(), String> {
        self.1.lock().unwrap().push(url.to_string());
        Ok(())
    }
}

/// A sticky note's link opens in the browser only when it is a web or mail link: a shared
/// workflow's `file:` or `javascript:` link is refused before anything opens.
#[tokio::test]
async fn links_open_in_the_browser_only_for_web_and_mail() {
    let (_dir, api, host) = open();
    call(&api, "link_open", json!({"url": " https://example.com/docs?q=1 "})).await.unwrap();
    call(&api, "link_open", json!({"url": "mailto:ops@example.com"})).await.unwrap();
    for bad in ["file:///etc/passwd", "javascript:alert(1)", "smb://host/share", "not a link"] {
        let err = call(&api, "link_open", json!({"url": bad})).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::BadRequest, "{bad}");
        assert!(err.message.starts_with("url: "), "{}", err.message);
    }
    assert_eq!(*host.1.lock().unwrap(), vec!["https://example.com/docs?q=1", "mailto:ops@example.com"]);
}

/// A workflow file opened with the app (double-click, "Open with", a second launch) waits
/// for the UI, which is told, takes it once and may import it.
#[tokio::test]
async fn files_opened_with_the_app_wait_for_the_ui_once() {
    let (dir, api, host) = open();
    let file = dir.path().join("shared.switchyard.json");
    std::fs::write(&file, json!({"switchyard": 1, "id": "opened", "name": "Opened", "nodes": [{"id": "t", "name": "Start", "type": "trigger.manual"}], "connections": []}).to_string()).unwrap();
    api.request_open(&file);
    let told = host
        .0
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, ApiEvent::OpenFiles { paths } if paths == &[file.display().to_string()]));
    assert!(told, "the UI hears about it");
    let taken = call(&api, "open_requests", json!({})).await.unwrap();
    assert_eq!(taken["paths"], json!([file.display().to_string()]));
    assert_eq!(call(&api, "open_requests", json!({})).await.unwrap()["paths"], json!([]), "taken once");
    let imported = call(&api, "workflow_import_file", json!({"path": file})).await.unwrap();
    assert_eq!(imported["record"]["workflow"]["name"], "Opened");
}

fn open() -> (tempfile::TempDir, Api, Arc<RecordingHost>) {
    let dir = tempfile::tempdir().unwrap();
    let host = Arc::new(RecordingHost::default());
    let clock = Arc::new(TokioClock::starting_at("2026-03-01T09:00:00Z".parse().unwrap()));
    let services = Services::new(clock, switchyard_engine::services::default_http_client());
    let api = Api::open_with(dir.path(), host.clone(), services).unwrap();
    (dir, api, host)
}

pub async fn call(api: &Api, command: &str, payload: Json) -> Result<Json, ApiError> {
    api.dispatch(command, payload).await
}

/// Imports a workflow and trusts it at once, as the user who wrote it would: imports start
/// untrusted.
pub async fn import_trusted(api: &Api, wf: &Json) -> Json {
    let imported = call(api, "workflow_import", json!({"text": wf.to_string(), "keepId": true})).await.unwrap();
    let id = &imported["record"]["workflow"]["id"];
    call(api, "workflow_trust", json!({"id": id, "version": imported["record"]["version"]})).await.unwrap();
    imported
}

pub fn example(name: &str) -> String {
    std::fs::read_to_string(format!("{}/../../assets/examples/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[tokio::test]
async fn workflow_lifecycle_through_the_dispatcher() {
    let (_dir, api, _) = open();
    let created = call(&api, "workflow_create", json!({"name": "  Daily report "})).await.unwrap();
    let id = created["workflow"]["id"].as_str().unwrap().to_string();
    assert_eq!(created["workflow"]["name"], "Daily report");
    assert_eq!(created["workflow"]["nodes"][0]["type"], "trigger.manual");
    assert_eq!(created["version"], 1);

    let mut wf = created["workflow"].clone();
    wf["description"] = json!("mail the numbers");
    wf["nodes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "s", "name": "Set", "type": "data.set", "parameters": {"bogus": 1}}));
    let saved = call(&api, "workflow_save", json!({"workflow": wf, "expectedVersion": 1})).await.unwrap();
    assert_eq!(saved["record"]["version"], 2);
    assert_eq!(saved["issues"][0]["code"], "unknown_parameter", "issues come back but the save happens");
    let conflict = call(&api, "workflow_save", json!({"workflow": wf, "expectedVersion": 1})).await.unwrap_err();
    assert_eq!(conflict.code, ErrorCode::Conflict);
    assert!(conflict.message.contains("changed elsewhere"), "{}", conflict.message);

    call(&api, "workflow_rename", json!({"id": id, "name": "Weekly report"})).await.unwrap();
    let copy = call(&api, "workflow_duplicate", json!({"id": id})).await.unwrap();
    assert_eq!(copy["workflow"]["name"], "Weekly report (copy)");
    let list = call(&api, "workflow_list", json!({"search": "weekly"})).await.unwrap();
    assert_eq!(list["workflows"].as_array().unwrap().len(), 2);
    call(&api, "workflow_delete", json!({"id": id})).await.unwrap();
    let missing = call(&api, "workflow_get", json!({"id": id})).await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::NotFound);
}

#[tokio::test]
async fn bad_requests_and_unknown_commands() {
    let (_dir, api, _) = open();
    let err = call(&api, "workflow_get", json!({"idd": 1})).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::BadRequest);
    assert!(err.message.contains("missing field `id`"), "{}", err.message);
    let err = call(&api, "workflow_explode", json!({})).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::BadRequest);
    assert_eq!(err.details["commands"].as_array().unwrap().len(), COMMANDS.len());
    let err = call(&api, "workflow_create", json!({"name": "  "})).await.unwrap_err();
    assert_eq!(err.message, "a workflow needs a name");
}

#[tokio::test]
async fn import_is_all_or_nothing_and_export_round_trips() {
    let (dir, api, _) = open();
    let bad =
        call(&api, "workflow_import", json!({"text": "{\"switchyard\": 1, \"id\": \"x\"", "fileName": "broken.json"}))
            .await
            .unwrap_err();
    assert_eq!(bad.code, ErrorCode::InvalidWorkflow);
    assert!(bad.message.starts_with("the workflow is not valid: broken.json:1:"), "{}", bad.message);
    assert_eq!(bad.issues()[0].code, ErrorCode::InvalidJson);
    let list = call(&api, "workflow_list", json!({})).await.unwrap();
    assert!(list["workflows"].as_array().unwrap().is_empty(), "nothing was written");

    let text = example("order-totals.json");
    let imported = call(&api, "workflow_import", json!({"text": text, "keepId": true})).await.unwrap();
    let id = imported["record"]["workflow"]["id"].as_str().unwrap().to_string();
    assert_eq!(id, serde_json::from_str::<Json>(&text).unwrap()["id"], "kept, as asked");
    assert!(imported["notes"].as_array().unwrap().is_empty());
    let again = call(&api, "workflow_import", json!({"text": text, "keepId": true})).await.unwrap();
    assert_ne!(again["record"]["workflow"]["id"].as_str().unwrap(), id);
    assert!(again["notes"][0].as_str().unwrap().contains("already exists"));

    let path = dir.path().join("out").join("exported.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let exported = call(&api, "workflow_export", json!({"id": id, "path": path})).await.unwrap();
    assert_eq!(exported["fileName"], "order-totals-per-customer.json");
    let written = std::fs::read_to_string(&path).unwrap();
    assert_eq!(written, exported["text"].as_str().unwrap());
    let original: switchyard_model::workflow::Workflow = serde_json::from_str(&text).unwrap();
    let round: switchyard_model::workflow::Workflow = serde_json::from_str(&written).unwrap();
    assert_eq!(round, original, "export gives back the imported workflow");
    assert!(
        written.contains("\"position\": [\n        260,\n        0\n      ]"),
        "whole positions stay integers:\n{written}"
    );

    let err = call(&api, "workflow_export", json!({"id": id, "path": dir.path().join("no/such/dir/x.json")}))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Io);
}

#[tokio::test]
async fn runs_are_recorded_and_streamed() {
    let (_dir, api, host) = open();
    let imported = call(&api, "workflow_import", json!({"text": example("hello-world.json")})).await.unwrap();
    let id = imported["record"]["workflow"]["id"].clone();
    let result = call(&api, "run_wait", json!({"workflowId": id, "input": {"name": "Grace"}})).await.unwrap();
    assert_eq!(result["status"], "success");
    assert_eq!(result["items"][0]["json"]["greeting"], "Hello, Grace!");
    let execution_id = result["executionId"].as_str().unwrap().to_string();

    let events = host.0.lock().unwrap().clone();
    let kinds: Vec<String> = events
        .iter()
        .map(|e| match e {
            ApiEvent::Run { event } => serde_json::to_value(&event.kind).unwrap()["type"].as_str().unwrap().to_string(),
            ApiEvent::NodeData { .. } => "nodeData".into(),
            ApiEvent::Account { .. } => "account".into(),
            ApiEvent::Triggers {} => "triggers".into(),
            ApiEvent::Alert { .. } => "alert".into(),
            ApiEvent::TestDelivery { .. } => "testDelivery".into(),
            ApiEvent::Notice { .. } => "notice".into(),
            ApiEvent::OpenFiles { .. } => "openFiles".into(),
            ApiEvent::UpdateAvailable { .. } => "updateAvailable".into(),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "runStarted",
            "nodeStarted",
            "nodeData",
            "nodeFinished",
            "nodeStarted",
            "nodeData",
            "nodeFinished",
            "runFinished"
        ]
    );

    let execution = call(&api, "execution_get", json!({"id": execution_id})).await.unwrap();
    assert_eq!(execution["summary"]["status"], "success");
    assert_eq!(execution["summary"]["mode"], "manual");
    assert!(
        execution["summary"]["startedAt"].as_str().unwrap().starts_with("2026-03-01T09:00:0"),
        "the injected clock is used"
    );
    assert_eq!(execution["nodes"][1]["outputs"][0]["items"][0]["json"]["greeting"], "Hello, Grace!");
    assert_eq!(execution["workflow"]["name"], "Hello world");
    let list = call(&api, "execution_list", json!({"workflowId": id})).await.unwrap();
    assert_eq!(list["executions"].as_array().unwrap().len(), 1);

    // An unsaved workflow from the editor runs too, and invalid ones are refused whole.
    let mut unsaved: Json = serde_json::from_str(&example("hello-world.json")).unwrap();
    unsaved["nodes"][1]["parameters"]["keep"] = json!("sometimes");
    let err = call(&api, "run_start", json!({"workflow": unsaved})).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidWorkflow);
    assert_eq!(err.issues()[0].path, "$.nodes[1].parameters.keep");
}

#[tokio::test(start_paused = true)]
async fn a_started_run_can_be_cancelled() {
    let (_dir, api, _) = open();
    let wf = json!({
        "switchyard": 1, "id": "w-wait", "name": "Wait",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "w", "name": "Wait", "type": "flow.wait", "parameters": {"amount": 1, "unit": "hours"}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "w"}}]
    });
    let started = call(&api, "run_start", json!({"workflow": wf})).await.unwrap();
    let execution_id = started["executionId"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cancelled = call(&api, "run_cancel", json!({"executionId": execution_id})).await.unwrap();
    assert_eq!(cancelled["cancelled"], true);
    let mut status = Json::Null;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        api.flush_history().await.unwrap();
        status = call(&api, "execution_get", json!({"id": execution_id})).await.unwrap()["summary"]["status"].clone();
        if status != "running" {
            break;
        }
    }
    assert_eq!(status, "cancelled");
    let again = call(&api, "run_cancel", json!({"executionId": execution_id})).await.unwrap();
    assert_eq!(again["cancelled"], false);
    let unknown = call(&api, "run_cancel", json!({"executionId": "nope"})).await.unwrap_err();
    assert_eq!(unknown.code, ErrorCode::NotFound);
}

#[tokio::test]
async fn settings_cap_the_stored_run_data() {
    let (_dir, api, _) = open();
    let defaults = call(&api, "settings_get", json!({})).await.unwrap();
    assert_eq!(defaults["runDataMaxItems"], 1000);
    let mut changed = defaults.clone();
    changed["runDataMaxItems"] = json!(2);
    call(&api, "settings_update", changed).await.unwrap();
    let bad = call(&api, "settings_update", json!({"runDataMaxItems": 0})).await.unwrap_err();
    assert_eq!(bad.code, ErrorCode::BadRequest);

    let wf = json!({
        "switchyard": 1, "id": "w-many", "name": "Many",
        "nodes": [{"id": "t", "name": "Start", "type": "trigger.manual"}]
    });
    let result =
        call(&api, "run_wait", json!({"workflow": wf, "input": [{"a": 1}, {"a": 2}, {"a": 3}]})).await.unwrap();
    assert_eq!(result["items"].as_array().unwrap().len(), 3);
    let execution = call(&api, "execution_get", json!({"id": result["executionId"]})).await.unwrap();
    let output = &execution["nodes"][0]["outputs"][0];
    assert_eq!((output["total"].clone(), output["truncated"].clone()), (json!(3), json!(true)));
    assert_eq!(output["items"].as_array().unwrap().len(), 2);

    let pruned = call(&api, "execution_prune", json!({"keepLast": 0})).await.unwrap();
    assert_eq!(pruned["deleted"], 1);
}

#[test]
fn typescript_export_lists_every_command() {
    let dir = tempfile::tempdir().unwrap();
    switchyard_api::export_typescript(dir.path()).unwrap();
    let commands = std::fs::read_to_string(dir.path().join("commands.ts")).unwrap();
    for name in COMMANDS {
        assert!(commands.contains(&format!("  {name}: {{ request: ")), "{name} is missing from commands.ts");
    }
    assert!(dir.path().join("RunEvent.ts").exists());
    assert!(dir.path().join("serde_json/JsonValue.ts").exists());
}

#[tokio::test]
async fn import_file_reads_paths_and_names_them_in_errors() {
    let (dir, api, _) = open();
    let path = format!("{}/../../assets/examples/route-tickets.json", env!("CARGO_MANIFEST_DIR"));
    let imported = call(&api, "workflow_import_file", json!({"path": path})).await.unwrap();
    assert_eq!(imported["record"]["workflow"]["name"], "Route support tickets");
    let missing = dir.path().join("nope.json");
    let err = call(&api, "workflow_import_file", json!({"path": missing})).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Io);
    assert!(err.message.starts_with(&format!("cannot read {}", missing.display())), "{}", err.message);
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"switchyard\": 1,\n  \"id\": 5}").unwrap();
    let err = call(&api, "workflow_import_file", json!({"path": broken})).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidWorkflow);
    assert!(err.message.contains(&format!("{}:2:9: $.id", broken.display())), "{}", err.message);
}

#[tokio::test]
async fn expression_preview_uses_the_last_run() {
    let (_dir, api, _) = open();
    let wf: Json = serde_json::from_str(&example("hello-world.json")).unwrap();
    let preview = |value: Json| {
        let api = api.clone();
        let wf = wf.clone();
        async move {
            call(&api, "expression_preview", json!({"workflow": wf, "nodeId": "greet", "value": value})).await.unwrap()
        }
    };
    let before = preview(json!("{{ 1 + 1 }}")).await;
    assert_eq!((before["value"].clone(), before["hasInput"].clone()), (json!(2), json!(false)));

    call(&api, "run_wait", json!({"workflow": wf, "input": [{"name": "Ada"}, {"name": "Bob"}]})).await.unwrap();
    let after = preview(json!("Hi {{ json.name }}, one of {{ node(\"Start\").len() }}")).await;
    assert_eq!(after["value"], "Hi Ada, one of 2");
    assert_eq!(after["hasInput"], true);
    assert_eq!(preview(json!("{{ item(\"Start\").name }}")).await["value"], "Ada");
    let broken = preview(json!("{{ json.name + }}")).await;
    assert!(broken["error"].as_str().unwrap().contains("json.name +"), "{broken}");
    assert!(broken.get("value").is_none());
}

#[tokio::test(start_paused = true)]
async fn breaker_and_rate_settings_apply_at_once_and_after_a_restart() {
    let server = switchyard_testkit::TestServer::start().await;
    let (dir, api, _) = open();
    let state = call(&api, "resilience_state", json!({})).await.unwrap();
    assert!(state["presets"].as_array().unwrap().iter().any(|p| p["host"] == "api.github.com"));
    assert_eq!(state["breakers"], json!([]));

    let mut settings = call(&api, "settings_get", json!({})).await.unwrap();
    assert_eq!((settings["breakerThreshold"].clone(), settings["breakerResetSeconds"].clone()), (json!(5), json!(30)));
    settings["breakerThreshold"] = json!(2);
    settings["breakerResetSeconds"] = json!(60);
    settings["rateLimits"] = json!([{"host": "127.0.0.1", "perSecond": 1, "burst": 1}]);
    call(&api, "settings_update", settings.clone()).await.unwrap();
    let mut bad = settings.clone();
    bad["rateLimits"] = json!([{"host": "http://x/", "perSecond": 1, "burst": 1}]);
    let e = call(&api, "settings_update", bad).await.unwrap_err();
    assert!(e.message.contains("rateLimits[0].host"), "{}", e.message);

    let wf = json!({
        "switchyard": 1, "id": "w-flaky", "name": "Flaky",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "h", "name": "Call", "type": "http.request", "parameters": {"url": server.url("/fault/api?fail=9")},
             "settings": {"onError": "continue"}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "h"}}]
    });
    let started = tokio::time::Instant::now();
    let result = call(&api, "run_wait", json!({"workflow": wf, "input": [{}, {}, {}]})).await.unwrap();
    let codes: Vec<&str> =
        result["items"].as_array().unwrap().iter().map(|i| i["error"]["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["http_status", "http_status", "circuit_open"], "the breaker opened after 2 failures");
    assert_eq!(started.elapsed(), Duration::from_secs(1), "1 call a second: the second call waited");
    let state = call(&api, "resilience_state", json!({})).await.unwrap();
    let breaker = &state["breakers"][0];
    assert_eq!((breaker["state"].clone(), breaker["retryInMs"].clone()), (json!("open"), json!(60_000)));
    assert_eq!(state["limits"][0]["host"], "127.0.0.1");
    assert_eq!(state["limits"][0]["waits"], 1);
    drop(api);

    // A new process reads the saved settings.
    let host = Arc::new(RecordingHost::default());
    let clock = Arc::new(TokioClock::starting_at("2026-03-01T09:00:00Z".parse().unwrap()));
    let services = Services::new(clock, switchyard_engine::services::default_http_client());
    let api = Api::open_with(dir.path(), host, services).unwrap();
    let resilience = &api.engine().services().resilience;
    assert_eq!(resilience.breaker_settings().threshold, 2);
    let started = tokio::time::Instant::now();
    resilience.throttle("127.0.0.1").await;
    resilience.throttle("127.0.0.1").await;
    assert_eq!(started.elapsed(), Duration::from_secs(1));
}

#[tokio::test]
async fn a_failed_run_starts_its_error_workflow_once() {
    let server = switchyard_testkit::TestServer::start().await;
    let (_dir, api, _) = open();
    let handler = json!({
        "switchyard": 1, "id": "w-on-error", "name": "On error",
        "nodes": [
            {"id": "e", "name": "Failure", "type": "trigger.error"},
            {"id": "m", "name": "Manual", "type": "trigger.manual"},
            {"id": "s", "name": "Summary", "type": "data.set", "parameters": {"assignments": [
                {"name": "summary", "value": "{{ json.workflow.name }}/{{ json.error.node }}: {{ json.error.class }}"}
            ]}},
            {"id": "boom", "name": "Boom", "type": "http.request", "parameters": {"url": server.url("/status/500")}}
        ],
        "connections": [{"from": {"node": "e"}, "to": {"node": "s"}}, {"from": {"node": "s"}, "to": {"node": "boom"}}],
        "settings": {"timezone": "UTC", "timeoutSeconds": 60, "errorWorkflow": "w-on-error"}
    });
    call(&api, "workflow_import", json!({"text": handler.to_string(), "keepId": true})).await.unwrap();
    let failing = json!({
        "switchyard": 1, "id": "w-failing", "name": "Failing",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "h", "name": "Fetch", "type": "http.request", "parameters": {"url": server.url("/status/404")}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "h"}}],
        "settings": {"timezone": "UTC", "timeoutSeconds": 60, "errorWorkflow": "w-on-error"}
    });
    call(&api, "workflow_import", json!({"text": failing.to_string(), "keepId": true})).await.unwrap();
    let result = call(&api, "run_wait", json!({"workflowId": "w-failing"})).await.unwrap();
    assert_eq!(result["status"], "error");

    // The error workflow runs from its Error Trigger, in mode "error".
    let executions = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            api.flush_history().await.unwrap();
            let list = call(&api, "execution_list", json!({"workflowId": "w-on-error"})).await.unwrap();
            let done: Vec<Json> =
                list["executions"].as_array().unwrap().iter().filter(|e| e["status"] != "running").cloned().collect();
            if !done.is_empty() {
                return done;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the error workflow ran");
    assert_eq!(executions[0]["mode"], "error");
    let execution = call(&api, "execution_get", json!({"id": executions[0]["id"]})).await.unwrap();
    let summary = execution["nodes"].as_array().unwrap().iter().find(|n| n["nodeId"] == "s").unwrap();
    let item = &summary["outputs"][0]["items"][0]["json"];
    assert_eq!(item["summary"], "Failing/Fetch: permanent");
    assert_eq!(item["execution"]["id"], result["executionId"]);
    assert_eq!(item["error"]["code"], "http_status");
    assert!(item["error"]["message"].as_str().unwrap().contains("404"));
    assert!(
        execution["nodes"].as_array().unwrap().iter().all(|n| n["nodeId"] != "m"),
        "only the Error Trigger started"
    );
    // It failed too, and names itself as its error workflow: no second run.
    assert_eq!(execution["summary"]["status"], "error");
    tokio::time::sleep(Duration::from_millis(200)).await;
    api.flush_history().await.unwrap();
    let list = call(&api, "execution_list", json!({"workflowId": "w-on-error"})).await.unwrap();
    assert_eq!(list["executions"].as_array().unwrap().len(), 1);
}
