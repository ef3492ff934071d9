//! Credentials through the API: accounts used by http.request, and no secret anywhere it
//! must not be (the SQLite file, logs, run data, events to the UI, exported files).

use super::{RecordingHost, call, import_trusted};
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use switchyard_api::Api;
use switchyard_engine::{Services, TokioClock};
use switchyard_model::error::ErrorCode;
use switchyard_testkit::{TestServer, fingerprint};

const TOKEN: &str = "sk-bearer-5d1c9e7a3f2b4c60";
const KEY: &str = "key-header-9a8b7c6d5e4f3a2b";
const QUERY_KEY: &str = "key-query-1f2e3d4c5b6a7980";
const PASSWORD: &str = "pw-basic-0c1d2e3f4a5b6c7d";

/// Every log line of this test binary, at every level.
fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || Writer(sink.clone()))
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buffer
    })
}

struct Writer(Arc<Mutex<Vec<u8>>>);

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn open() -> (tempfile::TempDir, Api, Arc<RecordingHost>) {
    let dir = tempfile::tempdir().unwrap();
    let host = Arc::new(RecordingHost::default());
    let clock = Arc::new(TokioClock::starting_at("2026-03-01T09:00:00Z".parse().unwrap()));
    let services = Services::new(clock.clone(), switchyard_engine::services::default_http_client());
    let mut vault = switchyard_vault::VaultOptions::system(clock);
    vault.keyring = None;
    let api = Api::open_custom(dir.path(), host.clone(), services, vault).unwrap();
    (dir, api, host)
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn request_node(id: &str, name: &str, url: &str, connection: &str, account: Option<&str>) -> serde_json::Value {
    let mut reference = json!({"connection": connection});
    if let Some(a) = account {
        reference["account"] = json!(a);
    }
    json!({"id": id, "name": name, "type": "http.request", "parameters": {"url": url},
           "credentials": {"auth": reference}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_authenticate_requests_and_secrets_never_leak() {
    let logs = logs().clone();
    let server = TestServer::start().await;
    let (dir, api, host) = open();
    let url = server.url("/auth/inspect");

    let locked = call(&api, "account_list", json!({})).await.unwrap_err();
    assert_eq!(locked.code, ErrorCode::VaultLocked, "{}", locked.message);
    let wrong = call(&api, "vault_unlock", json!({})).await.unwrap_err();
    assert!(wrong.message.contains("master password"), "{}", wrong.message);
    let status = call(&api, "vault_unlock", json!({"password": "correct horse battery"})).await.unwrap();
    assert_eq!((status["unlocked"].clone(), status["keySource"].clone()), (json!(true), json!("password")));

    for (ty, label, fields) in [
        ("http.bearer", "work", json!({"token": TOKEN})),
        ("http.bearer", "personal", json!({"token": "other-token-123456"})),
        ("http.apiKeyHeader", "keys", json!({"apiKey": KEY})),
        ("http.apiKeyQuery", "query", json!({"apiKey": QUERY_KEY, "paramName": "key"})),
        ("http.basic", "basic", json!({"username": "ada", "password": PASSWORD})),
    ] {
        let account = json!({"connectionType": ty, "label": label, "fields": fields, "allowedHosts": ["127.0.0.1"]});
        call(&api, "account_add", account).await.unwrap();
    }
    let types = call(&api, "connection_types", json!({})).await.unwrap();
    for preset in ["github", "slack", "google", "http.oauth2", "http.oauth2ClientCredentials"] {
        assert!(types["connectionTypes"].as_array().unwrap().iter().any(|t| t["id"] == preset), "{preset}");
    }

    // The workflow picks "personal" for bearer; one node overrides with "work".
    let edges: Vec<serde_json::Value> =
        ["a", "b", "c", "d", "e"].iter().map(|n| json!({"from": {"node": "t"}, "to": {"node": n}})).collect();
    let wf = json!({
        "switchyard": 1, "id": "0193a1c0-0000-7000-8000-0000000000c1", "name": "Authenticated calls",
        "settings": {"accounts": {"http.bearer": "personal"}},
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            request_node("a", "Bearer work", &url, "http.bearer", Some("work")),
            request_node("b", "Bearer workflow choice", &url, "http.bearer", None),
            request_node("c", "Header key", &url, "http.apiKeyHeader", None),
            request_node("d", "Query key", &url, "http.apiKeyQuery", None),
            request_node("e", "Basic", &url, "http.basic", None)
        ],
        "connections": edges
    });
    import_trusted(&api, &wf).await;
    let result = call(&api, "run_wait", json!({"workflowId": wf["id"]})).await.unwrap();
    assert_eq!(result["status"], "success", "{result}");
    let items: Vec<&serde_json::Value> = result["items"].as_array().unwrap().iter().map(|i| &i["json"]).collect();
    assert_eq!(items[0]["authorization"], fingerprint(&format!("Bearer {TOKEN}")));
    assert_eq!(items[1]["authorization"], fingerprint("Bearer other-token-123456"));
    assert_eq!(items[2]["apiKey"], fingerprint(KEY));
    assert_eq!(items[3]["query"]["key"], fingerprint(QUERY_KEY));
    assert_eq!(items[4]["authorization"], fingerprint(&format!("Basic {}", base64(&format!("ada:{PASSWORD}")))));

    // A missing account fails the run with the node and the account named.
    let mut missing = wf.clone();
    missing["id"] = json!("0193a1c0-0000-7000-8000-0000000000c2");
    missing["nodes"][1]["credentials"]["auth"]["account"] = json!("nope");
    let result = call(&api, "run_wait", json!({"workflow": missing})).await.unwrap();
    assert_eq!(result["status"], "error");
    let message = result["error"]["message"].as_str().unwrap();
    assert_eq!(result["error"]["code"], "credential_missing", "{message}");
    assert!(message.contains("\"nope\""), "{message}");
    assert_eq!(result["error"]["nodeName"], "Bearer work", "{}", result["error"]);

    // Export: references only, no secrets.
    let exported = call(&api, "workflow_export", json!({"id": wf["id"]})).await.unwrap();
    let text = exported["text"].as_str().unwrap();
    assert!(text.contains("\"connection\": \"http.bearer\""), "{text}");

    // Now look everywhere for the secrets.
    let execution = call(&api, "execution_get", json!({"id": result["executionId"]})).await.unwrap();
    let accounts = call(&api, "account_list", json!({})).await.unwrap();
    let events = serde_json::to_string(&*host.0.lock().unwrap()).unwrap();
    drop(api);
    let mut db = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            db.extend(std::fs::read(&path).unwrap());
        }
    }
    assert!(!db.is_empty());
    let log = logs.lock().unwrap().clone();
    for secret in [TOKEN, KEY, QUERY_KEY, PASSWORD] {
        assert!(!contains(&db, secret), "{secret} is in the data folder");
        assert!(!contains(&log, secret), "{secret} is in the logs");
        assert!(!events.contains(secret), "{secret} went to the UI in an event");
        assert!(!execution.to_string().contains(secret), "{secret} is in the run data");
        assert!(!accounts.to_string().contains(secret), "{secret} is in the account list");
        assert!(!text.contains(secret), "{secret} is in the exported file");
    }
}

fn base64(text: &str) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = text.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test]
async fn export_refuses_pasted_secrets_and_import_lists_missing_accounts() {
    let (dir, api, _) = open();
    let wf = json!({
        "switchyard": 1, "id": "0193a1c0-0000-7000-8000-0000000000c3", "name": "Pasted token",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "h", "name": "Call GitHub", "type": "http.request", "parameters": {
                "url": "https://api.github.com/user",
                "headers": [{"name": "Authorization", "value": "token ghp_abcdefghijklmnopqrstuvwxyz0123"}]},
             "credentials": {"auth": {"connection": "github", "account": "work"}}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "h"}}]
    });
    let imported = call(&api, "workflow_import", json!({"text": wf.to_string(), "keepId": true})).await.unwrap();
    let notes = imported["notes"].to_string();
    assert!(
        notes.contains("node \\\"Call GitHub\\\" (auth) needs account \\\"work\\\" of connection \\\"github\\\""),
        "{notes}"
    );

    let refused =
        call(&api, "workflow_export", json!({"id": wf["id"], "path": dir.path().join("out.json")})).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::SecretsInExport);
    assert!(refused.message.contains("node \"Call GitHub\", parameter headers[0].value"), "{}", refused.message);
    assert!(!dir.path().join("out.json").exists(), "nothing is written");

    let stripped = call(&api, "workflow_export", json!({"id": wf["id"], "stripSecrets": true})).await.unwrap();
    let text = stripped["text"].as_str().unwrap();
    assert!(!text.contains("ghp_"), "{text}");
    assert!(text.contains("\"account\": \"work\""), "references stay: {text}");
    // The stored workflow keeps its value; only the file is stripped.
    let stored = call(&api, "workflow_get", json!({"id": wf["id"]})).await.unwrap();
    assert!(stored.to_string().contains("ghp_"));
}

#[tokio::test(start_paused = true)]
async fn a_rate_limit_can_cover_every_account_of_a_connection_type() {
    let server = TestServer::start().await;
    let (_dir, api, _) = open();
    call(&api, "vault_unlock", json!({"password": "correct horse battery"})).await.unwrap();
    for label in ["one", "two"] {
        let fields = json!({"token": format!("token-{label}")});
        let account =
            json!({"connectionType": "http.bearer", "label": label, "fields": fields, "allowedHosts": ["127.0.0.1"]});
        call(&api, "account_add", account).await.unwrap();
    }
    let mut settings = call(&api, "settings_get", json!({})).await.unwrap();
    settings["rateLimits"] = json!([{"host": "connection:http.bearer", "perSecond": 2, "burst": 1}]);
    call(&api, "settings_update", settings).await.unwrap();
    // Two nodes, two accounts, one host without a limit: the type's limit spaces all calls.
    let wf = json!({
        "switchyard": 1, "id": "w-rate", "name": "Rate",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            request_node("a", "A", &server.url("/fault/typed?n={{ json.n }}"), "http.bearer", Some("one")),
            request_node("b", "B", &server.url("/fault/typed?n={{ json.n }}&b=1"), "http.bearer", Some("two"))
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "a"}}, {"from": {"node": "t"}, "to": {"node": "b"}}]
    });
    let result = call(&api, "run_wait", json!({"workflow": wf, "input": [{"n": 1}, {"n": 2}]})).await.unwrap();
    assert_eq!(result["status"], "success", "{result}");
    assert_eq!(server.fault_log("typed").await.1, [0, 500, 1000, 1500]);
}
