//! Postgres Trigger against a real PostgreSQL started by the test: each NOTIFY while the
//! workflow is active starts one run with its payload, a connection the server ends is
//! opened again, and deactivating the workflow closes it.

use super::webhooks::{executions, open_with_host};
use super::{call, import_trusted};
use serde_json::{Value as Json, json};
use std::time::{Duration, Instant};
use switchyard_api::Api;
use switchyard_testkit::servers::Postgres;

/// The server processes of Switchyard's sessions that LISTEN (their last statement).
fn listeners(server: &Postgres) -> Vec<String> {
    let pids = server.psql(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'switchyard' AND query ILIKE 'LISTEN%' ORDER BY pid",
    );
    pids.lines().map(str::to_string).collect()
}

fn listening(server: &Postgres) -> usize {
    listeners(server).len()
}

async fn wait(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready() {
        assert!(Instant::now() < deadline, "{what} did not happen within 20 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The payloads of the workflow's runs, oldest first, once there are `n` (within 20 s).
async fn payloads(api: &Api, n: usize) -> Vec<Json> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let list = executions(api, "orders").await;
        if list.len() >= n || Instant::now() > deadline {
            let mut out = Vec::new();
            for summary in list.iter().rev() {
                let run = call(api, "execution_get", json!({"id": summary["id"]})).await.unwrap();
                assert_eq!(run["summary"]["mode"], "event");
                assert_eq!(run["summary"]["status"], "success", "{run}");
                out.push(run["nodes"][1]["outputs"][0]["items"][0]["json"].clone());
            }
            return out;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_notify_starts_a_run_and_a_dropped_connection_listens_again() {
    let server = Postgres::start();
    let (_dir, api, _clock, _host) = open_with_host();
    call(&api, "vault_unlock", json!({"password": "correct horse battery"})).await.unwrap();
    call(
        &api,
        "account_add",
        json!({"connectionType": "db.postgres", "label": "shop", "fields": {
            "host": "127.0.0.1", "port": server.port.to_string(), "database": server.database,
            "user": server.user, "password": server.password, "tls": "disable"}}),
    )
    .await
    .unwrap();
    let mut settings = call(&api, "settings_get", json!({})).await.unwrap();
    settings["webhookPort"] = json!(0);
    call(&api, "settings_update", settings).await.unwrap();
    api.start_triggers().await.unwrap();
    import_trusted(
        &api,
        &json!({"switchyard": 1, "id": "orders", "name": "Orders",
            "nodes": [
                {"id": "listen", "name": "New order", "type": "trigger.postgres", "parameters": {"channel": "new order"},
                 "credentials": {"database": {"connection": "db.postgres", "account": "shop"}}},
                {"id": "note", "name": "Note", "type": "data.set", "parameters": {
                    "assignments": [{"name": "seen", "value": "{{ json.channel }}"}]}}
            ],
            "connections": [{"from": {"node": "listen"}, "to": {"node": "note"}}]}),
    )
    .await;
    call(&api, "workflow_activate", json!({"id": "orders", "active": true})).await.unwrap();
    wait("LISTEN", || listening(&server) == 1).await;

    // A JSON payload arrives as its value, anything else as text; two in a row give two runs.
    server.psql(r#"NOTIFY "new order", '{"id": 7, "total": "19.90"}'"#);
    server.psql("SELECT pg_notify('new order', 'just text')");
    let seen = payloads(&api, 2).await;
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0]["payload"], json!({"id": 7, "total": "19.90"}));
    assert_eq!(seen[0]["channel"], "new order");
    assert_eq!(seen[0]["seen"], "new order");
    assert!(seen[0]["processId"].as_i64().unwrap() > 0);
    assert_eq!(seen[1]["payload"], "just text");

    // The server ends the session: the trigger connects and listens again.
    let before = listeners(&server);
    server.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'switchyard'");
    wait("LISTEN again in a new session", || {
        let now = listeners(&server);
        now.len() == 1 && now != before
    })
    .await;
    server.psql("NOTIFY \"new order\", 'after the reconnect'");
    let seen = payloads(&api, 3).await;
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen[2]["payload"], "after the reconnect");
    let listed = call(&api, "webhook_list", json!({})).await.unwrap();
    assert_eq!(listed["problems"], json!([]), "the connection problem cleared once it listens again");

    // Deactivated: the connection closes, notifications start nothing.
    call(&api, "workflow_activate", json!({"id": "orders", "active": false})).await.unwrap();
    wait("the LISTEN session to close", || listening(&server) == 0).await;
    server.psql("NOTIFY \"new order\", 'nobody listens'");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(executions(&api, "orders").await.len(), 3);

    // A server that is not there: the trigger keeps trying, and says so among the problems.
    let closed = switchyard_testkit::servers::free_port();
    call(
        &api,
        "account_add",
        json!({"connectionType": "db.postgres", "label": "gone", "fields": {
            "host": "127.0.0.1", "port": closed.to_string(), "database": "x", "user": "x", "password": "x"}}),
    )
    .await
    .unwrap();
    import_trusted(
        &api,
        &json!({"switchyard": 1, "id": "gone", "name": "Gone",
            "nodes": [{"id": "listen", "name": "Listen", "type": "trigger.postgres", "parameters": {"channel": "c"},
                       "credentials": {"database": {"connection": "db.postgres", "account": "gone"}}}],
            "connections": []}),
    )
    .await;
    call(&api, "workflow_activate", json!({"id": "gone", "active": true})).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let problems = loop {
        let listed = call(&api, "webhook_list", json!({})).await.unwrap();
        if listed["problems"].as_array().is_some_and(|p| !p.is_empty()) || Instant::now() > deadline {
            let all = listed["problems"].as_array().cloned().unwrap_or_default();
            break all.iter().filter_map(|p| p.as_str()).collect::<Vec<_>>().join("\n");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(problems.contains("workflow \"Gone\", node \"Listen\": cannot listen on \"c\""), "{problems}");
    assert!(problems.contains(&format!("127.0.0.1:{closed}: cannot reach the server")), "{problems}");
    api.stop_triggers().await;
}
