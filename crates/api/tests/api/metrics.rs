//! Metrics history and alerts through the API: rollups in a real SQLite file that survive a
//! restart and ageing, the dashboard, the run queue, alert rules that fire, escalate, are
//! acknowledged, resolve and cool down on tokio's paused clock, and alert actions against a
//! real HTTP server on 127.0.0.1.

use super::{RecordingHost, call};
use serde_json::{Value as Json, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchyard_api::Api;
use switchyard_api::types::ApiEvent;
use switchyard_engine::{Services, TokioClock};
use switchyard_model::error::ErrorCode;

fn open_at(dir: &std::path::Path, host: Arc<RecordingHost>) -> Api {
    open_at_time(dir, host, "2026-03-01T09:00:00Z")
}

fn open_at_time(dir: &std::path::Path, host: Arc<RecordingHost>, time: &str) -> Api {
    let clock = Arc::new(TokioClock::starting_at(time.parse().unwrap()));
    let services = Services::new(clock, switchyard_engine::services::default_http_client());
    Api::open_with(dir, host, services).unwrap()
}

/// A workflow whose Set node multiplies `qty` by 2: it fails when the input has no number.
fn doubler(id: &str, name: &str) -> Json {
    json!({
        "switchyard": 1, "id": id, "name": name,
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "s", "name": "Double", "type": "data.set", "parameters": {
                "assignments": [{"name": "twice", "value": "{{ json.qty * 2 }}"}], "keep": "none"}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "s"}}]
    })
}

async fn import(api: &Api, wf: Json) {
    call(api, "workflow_import", json!({"text": wf.to_string(), "keepId": true})).await.unwrap();
}

async fn run(api: &Api, id: &str, ok: bool) -> Json {
    let input = if ok { json!({"qty": 2}) } else { json!({"qty": "lots"}) };
    call(api, "run_wait", json!({"workflowId": id, "input": input})).await.unwrap()
}

fn row<'a>(dashboard: &'a Json, id: &str) -> &'a Json {
    dashboard["workflows"].as_array().unwrap().iter().find(|w| w["workflowId"] == id).expect("the workflow's row")
}

#[tokio::test(start_paused = true)]
async fn the_dashboard_reads_rollups_that_survive_a_restart_and_ageing() {
    let dir = tempfile::tempdir().unwrap();
    let host = Arc::new(RecordingHost::default());
    let api = open_at(dir.path(), host.clone());
    import(&api, doubler("d", "Doubler")).await;
    for i in 0..10 {
        let result = run(&api, "d", i % 5 != 0).await;
        assert_eq!(result["status"], if i % 5 != 0 { "success" } else { "error" });
        tokio::time::advance(Duration::from_secs(20)).await;
    }
    let live = call(&api, "metrics_dashboard", json!({"range": "live"})).await.unwrap();
    assert_eq!(live["points"].as_array().unwrap().len(), 15);
    assert_eq!((live["total"]["started"].clone(), live["total"]["failed"].clone()), (json!(10), json!(2)));
    let d = row(&live, "d");
    assert_eq!(
        (d["name"].clone(), d["succeeded"].clone(), d["failed"].clone()),
        (json!("Doubler"), json!(8), json!(2))
    );
    assert_eq!(d["successRate"], 0.8);
    assert!(d["p95Ms"].is_number(), "{d}");
    assert!(d["lastError"]["message"].as_str().unwrap().contains("qty"), "{d}");
    let failed_run = d["lastError"]["executionId"].as_str().unwrap().to_string();
    assert_eq!(call(&api, "execution_get", json!({"id": failed_run})).await.unwrap()["summary"]["status"], "error");
    assert_eq!(live["errors"][0]["count"], 2, "{}", live["errors"]);
    assert_eq!(live["queue"]["completed"], 8);
    assert_eq!(live["queue"]["failed"], 2);
    assert!(live["process"]["memoryBytes"].as_u64().unwrap() > 0);

    // Node by node, from the rollups: Double failed twice with a class.
    let nodes = call(&api, "metrics_nodes", json!({"workflowId": "d", "range": "1h"})).await.unwrap()["nodes"].clone();
    let double = nodes.as_array().unwrap().iter().find(|n| n["node"] == "Double").expect("the Double node");
    assert_eq!((double["runs"].clone(), double["failed"].clone()), (json!(10), json!(2)), "{nodes}");
    assert_eq!((double["itemsIn"].clone(), double["itemsOut"].clone()), (json!(10), json!(8)));
    assert_eq!(double["errors"].as_array().unwrap().iter().map(|e| e["count"].as_u64().unwrap()).sum::<u64>(), 2);
    assert!(nodes.as_array().unwrap().iter().any(|n| n["node"] == "Start"));

    // From SQLite: the same numbers in the hour view, and after a restart.
    let hour = call(&api, "metrics_dashboard", json!({"range": "1h"})).await.unwrap();
    assert_eq!(hour["points"].as_array().unwrap().len(), 60);
    assert_eq!(hour["total"], {
        let mut t = live["total"].clone();
        t["t"] = hour["total"]["t"].clone();
        t
    });
    api.flush_history().await.unwrap();
    drop(api);
    let api = open_at_time(dir.path(), host.clone(), "2026-03-01T09:05:00Z");
    let again = call(&api, "metrics_dashboard", json!({"range": "1h"})).await.unwrap();
    assert_eq!(row(&again, "d")["started"], 10);
    assert_eq!(row(&again, "d")["p95Ms"], row(&hour, "d")["p95Ms"]);

    // Ageing minutes into hours keeps counts and percentiles (the week view reads both).
    let week = call(&api, "metrics_dashboard", json!({"range": "7d"})).await.unwrap();
    let store = api.store().metrics();
    let (minutes, hours) = store.bucket_counts().unwrap();
    assert!(minutes >= 2 && hours == 0, "{minutes} minute and {hours} hour buckets");
    store.age(i64::MAX / 2).unwrap();
    assert_eq!(store.bucket_counts().unwrap().0, 0);
    let aged = call(&api, "metrics_dashboard", json!({"range": "7d"})).await.unwrap();
    for field in ["started", "succeeded", "failed", "p50Ms", "p95Ms", "successRate"] {
        assert_eq!(row(&aged, "d")[field], row(&week, "d")[field], "{field}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_queue_holds_runs_beyond_the_concurrency_limit() {
    let dir = tempfile::tempdir().unwrap();
    let api = open_at(dir.path(), Arc::new(RecordingHost::default()));
    let mut settings = call(&api, "settings_get", json!({})).await.unwrap();
    settings["maxConcurrentRuns"] = json!(1);
    call(&api, "settings_update", settings).await.unwrap();
    import(
        &api,
        json!({"switchyard": 1, "id": "w", "name": "Waits",
            "nodes": [{"id": "t", "name": "Start", "type": "trigger.manual"},
                      {"id": "w", "name": "Wait", "type": "flow.wait", "parameters": {"amount": 10, "unit": "seconds"}}],
            "connections": [{"from": {"node": "t"}, "to": {"node": "w"}}]}),
    )
    .await;
    for _ in 0..3 {
        call(&api, "run_start", json!({"workflowId": "w"})).await.unwrap();
    }
    let d = call(&api, "metrics_dashboard", json!({"range": "live"})).await.unwrap();
    assert_eq!((d["queue"]["waiting"].clone(), d["queue"]["limit"].clone()), (json!(2), json!(1)), "{}", d["queue"]);
    // One at a time: the third finishes after three waits.
    tokio::time::sleep(Duration::from_secs(25)).await;
    let d = call(&api, "metrics_dashboard", json!({"range": "live"})).await.unwrap();
    assert_eq!((d["queue"]["waiting"].clone(), d["queue"]["completed"].clone()), (json!(0), json!(2)));
    tokio::time::sleep(Duration::from_secs(10)).await;
    let d = call(&api, "metrics_dashboard", json!({"range": "live"})).await.unwrap();
    assert_eq!((d["queue"]["active"].clone(), d["queue"]["completed"].clone()), (json!(0), json!(3)));
}

/// A host that keeps the desktop notifications it was asked to show.
#[derive(Default)]
pub struct NotifyingHost {
    pub events: RecordingHost,
    pub notes: Mutex<Vec<String>>,
}

impl switchyard_api::Host for NotifyingHost {
    fn emit(&self, event: ApiEvent) {
        self.events.emit(event);
    }

    fn notify(&self, title: &str, body: &str) -> Result<String, String> {
        self.notes.lock().unwrap().push(format!("{title} | {body}"));
        Ok("shown".into())
    }
}

async fn alerts(api: &Api) -> Vec<Json> {
    call(api, "alerts_list", json!({})).await.unwrap()["alerts"].as_array().unwrap().clone()
}

#[tokio::test(start_paused = true)]
async fn an_alert_fires_once_escalates_is_acknowledged_resolves_and_cools_down() {
    let dir = tempfile::tempdir().unwrap();
    let host = Arc::new(NotifyingHost::default());
    let clock = Arc::new(TokioClock::starting_at("2026-03-01T09:00:00Z".parse().unwrap()));
    let services = Services::new(clock, switchyard_engine::services::default_http_client());
    let api = Api::open_with(dir.path(), host.clone(), services).unwrap();
    import(&api, doubler("d", "Doubler")).await;
    import(&api, doubler("page", "Page someone")).await;
    let rule = call(
        &api,
        "alert_rule_save",
        json!({"id": "", "name": "Doubler failing", "enabled": true, "metric": "errorRate", "workflowId": "d",
               "comparison": "gt", "threshold": 50, "windowMinutes": 5, "minRuns": 2, "cooldownMinutes": 10,
               "severity": "warning", "escalateAfterMinutes": 5,
               "actions": [{"type": "notify"}, {"type": "runWorkflow", "workflowId": "page"}]}),
    )
    .await
    .unwrap();
    let minute = || tokio::time::advance(Duration::from_secs(60));

    // One failure is not enough (minRuns 2); two are.
    run(&api, "d", false).await;
    api.check_alerts().await.unwrap();
    assert!(alerts(&api).await.is_empty());
    run(&api, "d", false).await;
    api.check_alerts().await.unwrap();
    let fired = alerts(&api).await;
    assert_eq!(fired.len(), 1);
    assert_eq!((fired[0]["state"].clone(), fired[0]["severity"].clone()), (json!("firing"), json!("warning")));
    assert_eq!(fired[0]["value"], 100.0);
    assert!(fired[0]["message"].as_str().unwrap().contains("\"Doubler\""), "{}", fired[0]["message"]);
    assert_eq!(fired[0]["actions"].as_array().unwrap().len(), 2, "{}", fired[0]["actions"]);
    assert!(fired[0]["actions"].as_array().unwrap().iter().all(|a| a["ok"] == true), "{}", fired[0]["actions"]);
    assert!(host.notes.lock().unwrap()[0].starts_with("Warning: Doubler failing"));
    api.flush_history().await.unwrap();
    let paged = call(&api, "execution_list", json!({"workflowId": "page"})).await.unwrap();
    assert_eq!(paged["executions"][0]["mode"], "alert", "the alert ran the workflow: {paged}");

    // Still failing: no second alert; after 5 minutes it escalates, then the ack stops that.
    for _ in 0..4 {
        minute().await;
        run(&api, "d", false).await;
        api.check_alerts().await.unwrap();
    }
    assert_eq!(alerts(&api).await.len(), 1, "one condition alerts once");
    assert_eq!(alerts(&api).await[0]["severity"], "warning");
    minute().await;
    run(&api, "d", false).await;
    api.check_alerts().await.unwrap();
    let escalated = &alerts(&api).await[0];
    assert_eq!(escalated["severity"], "error");
    assert!(escalated["escalatedAt"].is_string());
    let id = escalated["id"].as_str().unwrap().to_string();
    let acked = call(&api, "alert_ack", json!({"id": id})).await.unwrap();
    assert!(acked["ackedAt"].is_string());
    for _ in 0..6 {
        minute().await;
        run(&api, "d", false).await;
        api.check_alerts().await.unwrap();
    }
    assert_eq!(alerts(&api).await[0]["severity"], "error", "an acknowledged alert does not escalate");

    // It clears by itself when the failures leave the window; it says so.
    for _ in 0..5 {
        minute().await;
        run(&api, "d", true).await;
        run(&api, "d", true).await;
        api.check_alerts().await.unwrap();
    }
    let resolved = &alerts(&api).await[0];
    assert_eq!(resolved["state"], "resolved", "{resolved}");
    assert!(host.notes.lock().unwrap().last().unwrap().starts_with("Resolved: Doubler failing"));
    let events = host.events.0.lock().unwrap().iter().filter(|e| matches!(e, ApiEvent::Alert { .. })).count();
    assert!(events >= 4, "fired, escalated, acknowledged, resolved: {events} events");

    // Failing again inside the cooldown: quiet. After it: a new alert.
    minute().await;
    run(&api, "d", false).await;
    run(&api, "d", false).await;
    api.check_alerts().await.unwrap();
    assert_eq!(alerts(&api).await.len(), 1, "inside the cooldown");
    for _ in 0..10 {
        minute().await;
        run(&api, "d", false).await;
        api.check_alerts().await.unwrap();
    }
    let all = alerts(&api).await;
    assert_eq!(all.len(), 2, "a new alert after the cooldown");
    assert_eq!(all[0]["state"], "firing");

    // The rule's deletion resolves its alert; a restart picks up what still fires.
    call(&api, "alert_rule_delete", json!({"id": rule["id"]})).await.unwrap();
    assert_eq!(alerts(&api).await[0]["state"], "resolved");
    assert!(
        call(&api, "alerts_list", json!({"firingOnly": true})).await.unwrap()["alerts"].as_array().unwrap().is_empty()
    );
}

#[tokio::test(start_paused = true)]
async fn the_background_task_checks_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    let api = open_at(dir.path(), Arc::new(RecordingHost::default()));
    import(&api, doubler("d", "Doubler")).await;
    call(
        &api,
        "alert_rule_save",
        json!({"id": "r", "name": "Any failure", "enabled": true, "metric": "failedRuns", "comparison": "gte",
               "threshold": 1, "windowMinutes": 5, "cooldownMinutes": 0, "severity": "info", "actions": []}),
    )
    .await
    .unwrap();
    let _tasks = api.start_background();
    run(&api, "d", false).await;
    for _ in 0..100 {
        if !alerts(&api).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(alerts(&api).await.len(), 1, "the loop fired the rule within its 15 s period");
}

#[tokio::test]
async fn rules_are_checked_presets_are_off_and_webhook_actions_post_slack_and_discord_json() {
    let dir = tempfile::tempdir().unwrap();
    let api = open_at(dir.path(), Arc::new(RecordingHost::default()));
    let presets = call(&api, "alert_rules", json!({})).await.unwrap()["rules"].as_array().unwrap().clone();
    assert!(presets.len() >= 5);
    assert!(presets.iter().all(|r| r["enabled"] == false), "predefined rules are off");

    // Bad rules name the field.
    let mut bad = presets[0].clone();
    bad["windowMinutes"] = json!(0);
    let e = call(&api, "alert_rule_save", bad).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::BadRequest);
    assert!(e.message.contains("windowMinutes"), "{}", e.message);
    let mut bad = presets[0].clone();
    bad["actions"] = json!([{"type": "runWorkflow", "workflowId": "nope"}]);
    let e = call(&api, "alert_rule_save", bad).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
    assert!(e.message.contains("\"nope\""), "{}", e.message);

    // A receiver on 127.0.0.1 that keeps what it gets; /fail answers 500.
    let got: Arc<Mutex<Vec<Json>>> = Arc::default();
    let keep = got.clone();
    let app = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(move |axum::Json(body): axum::Json<Json>| {
                let keep = keep.clone();
                async move {
                    keep.lock().unwrap().push(body);
                    "ok"
                }
            }),
        )
        .route("/fail", axum::routing::post(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "down") }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let mut rule = presets[0].clone();
    rule["actions"] =
        json!([{"type": "webhook", "url": format!("{base}/hook")}, {"type": "webhook", "url": format!("{base}/fail")}]);
    call(&api, "alert_rule_save", rule.clone()).await.unwrap();
    let results = call(&api, "alert_rule_test", json!({"id": rule["id"]})).await.unwrap()["results"].clone();
    assert_eq!(results[0]["ok"], true, "{results}");
    assert_eq!(results[1]["ok"], false);
    assert!(results[1]["message"].as_str().unwrap().contains("500"), "{results}");
    let body = got.lock().unwrap()[0].clone();
    assert!(body["text"].as_str().unwrap().contains("Error rate above 10 %"), "{body}");
    assert_eq!(body["text"], body["content"], "Slack reads text, Discord reads content");
    assert_eq!(body["alert"]["ruleId"], rule["id"]);

    // Deleted presets stay deleted after a restart.
    call(&api, "alert_rule_delete", json!({"id": presets[1]["id"]})).await.unwrap();
    drop(api);
    let api = open_at(dir.path(), Arc::new(RecordingHost::default()));
    let rules = call(&api, "alert_rules", json!({})).await.unwrap()["rules"].as_array().unwrap().len();
    assert_eq!(rules, presets.len() - 1);
}

#[tokio::test]
async fn rate_limit_waits_and_breaker_changes_count_per_node() {
    let server = switchyard_testkit::TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let api = open_at(dir.path(), Arc::new(RecordingHost::default()));
    let mut settings = call(&api, "settings_get", json!({})).await.unwrap();
    // 20 calls a second with no burst: the second and third items wait about 50 ms each.
    settings["rateLimits"] = json!([{"host": "127.0.0.1", "perSecond": 20, "burst": 1}]);
    settings["breakerThreshold"] = json!(1);
    call(&api, "settings_update", settings).await.unwrap();
    let wf = |id: &str, url: String| {
        json!({"switchyard": 1, "id": id, "name": id,
            "nodes": [{"id": "t", "name": "Start", "type": "trigger.manual"},
                      {"id": "h", "name": "Call", "type": "http.request", "parameters": {"url": url}}],
            "connections": [{"from": {"node": "t"}, "to": {"node": "h"}}]})
    };
    import(&api, wf("paced", server.url("/ok"))).await;
    let result =
        call(&api, "run_wait", json!({"workflowId": "paced", "input": [{"n": 1}, {"n": 2}, {"n": 3}]})).await.unwrap();
    assert_eq!(result["status"], "success", "{result}");
    // A 503 with a breaker that opens after one failure.
    import(&api, wf("down", server.url("/status/503"))).await;
    let result = call(&api, "run_wait", json!({"workflowId": "down"})).await.unwrap();
    assert_eq!(result["status"], "error");

    let nodes = |id: &str| {
        let (api, id) = (api.clone(), id.to_string());
        async move {
            let r = call(&api, "metrics_nodes", json!({"workflowId": id, "range": "1h"})).await.unwrap();
            r["nodes"].as_array().unwrap().iter().find(|n| n["node"] == "Call").unwrap().clone()
        }
    };
    let paced = nodes("paced").await;
    assert!(paced["rateWaits"].as_u64().unwrap() >= 2, "{paced}");
    assert!(paced["rateWaitMs"].as_u64().unwrap() >= 50, "{paced}");
    let down = nodes("down").await;
    assert_eq!(down["breakerChanges"], 1, "closed → open: {down}");
    let text = call(&api, "metrics_text", json!({})).await.unwrap()["text"].as_str().unwrap().to_string();
    assert!(text.contains("switchyard_node_breaker_changes_total{workflow=\"down\",node=\"Call\"} 1"), "{text}");
    assert!(text.contains("switchyard_node_rate_limit_waits_total{workflow=\"paced\",node=\"Call\"}"), "{text}");
}
