//! "Deploy to…" from the command line (issue 19): a desktop data folder deploys workflows to
//! a real `switchyard serve` on another data folder through its REST API, with a
//! `switchyard.server` account; the server runs them and the desktop reads its executions.

use super::rest::{call, stop};
use super::{answering_hook, cli, spawn_serve_any, stdout_json};
use serde_json::{Value as Json, json};
use std::path::Path;

const PASSWORD: &str = "deploy test pass";

/// The CLI on a data folder whose vault opens with a master password.
fn on(data: &Path) -> assert_cmd::Command {
    let mut cmd = cli(data);
    cmd.env("SWITCHYARD_MASTER_PASSWORD", PASSWORD).env("SWITCHYARD_KEYRING", "off");
    cmd
}

fn write(dir: &Path, workflow: &Json) -> String {
    let file = dir.join(format!("{}.json", workflow["id"].as_str().unwrap()));
    std::fs::write(&file, workflow.to_string()).unwrap();
    file.to_str().unwrap().to_string()
}

fn server_token(server: &Path, scope: &str) -> String {
    let out = on(server).args(["tokens", "create", "--name", scope, "--scope", scope]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn add_server(desktop: &Path, label: &str, addr: &str, token: &str) {
    on(desktop)
        .args(["connections", "add", "switchyard.server", label])
        .args(["--field", &format!("baseUrl=http://{addr}"), "--field", "token=@env:SERVER_TOKEN"])
        .env("SERVER_TOKEN", token)
        .assert()
        .success();
}

fn post(addr: &str, path: &str, token: Option<&str>, body: &Json) -> (u16, Json) {
    let answer = call(addr, "POST", path, token, Some(body));
    (answer.status, answer.json())
}

#[test]
fn a_workflow_deployed_to_a_server_runs_there_with_its_accounts_by_reference() {
    let server = tempfile::tempdir().unwrap();
    let desktop = tempfile::tempdir().unwrap();
    let admin = server_token(server.path(), "admin");
    let read = server_token(server.path(), "read");
    let (mut serve, _stderr, _port, addr) =
        spawn_serve_any(server.path(), &[], &[("SWITCHYARD_MASTER_PASSWORD", PASSWORD)]);
    add_server(desktop.path(), "prod", &addr, &admin);
    add_server(desktop.path(), "viewer", &addr, &read);
    let listed = stdout_json(&on(desktop.path()).args(["connections", "list", "--json"]).output().unwrap());
    assert!(!listed.to_string().contains(&admin), "the token is sealed, never listed");

    // A webhook workflow without accounts: deployed, trusted there and activated.
    let hook = answering_hook("hooked", "Hooked", "doubled", "{{ json.body.n * 2 }}");
    on(desktop.path()).args(["import", &write(desktop.path(), &hook), "--keep-id"]).assert().success();
    let deployed =
        on(desktop.path()).args(["deploy", "hooked", "--to", "prod", "--activate", "--json"]).output().unwrap();
    assert!(deployed.status.success(), "{}", String::from_utf8_lossy(&deployed.stderr));
    let deployed = stdout_json(&deployed);
    assert_eq!(deployed["created"], true, "{deployed}");
    assert_eq!(deployed["active"], true, "{deployed}");
    assert_eq!(deployed["missingAccounts"], json!([]));
    let (status, answer) = post(&addr, "/webhook/hooked/in", None, &json!({"n": 21}));
    assert_eq!((status, answer), (200, json!({"doubled": 42})));

    // The desktop reads the server's executions of it.
    let runs =
        on(desktop.path()).args(["executions", "--workflow", "hooked", "--server", "prod", "--json"]).output().unwrap();
    assert!(runs.status.success(), "{}", String::from_utf8_lossy(&runs.stderr));
    let runs = stdout_json(&runs);
    assert_eq!(runs.as_array().unwrap().len(), 1, "{runs}");
    assert_eq!(runs[0]["status"], "success");
    // And one of them node by node, as the canvas shows it.
    let run = on(desktop.path())
        .args(["execution", runs[0]["id"].as_str().unwrap(), "--server", "prod", "--json"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let run = stdout_json(&run);
    assert_eq!(run["summary"]["workflowId"], "hooked", "{run}");
    let names: Vec<&str> = run["nodes"].as_array().unwrap().iter().map(|n| n["nodeName"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 2, "{run}");
    assert_eq!(run["nodes"][1]["outputs"][0]["items"][0]["json"], json!({"doubled": 42}), "{run}");
    let unknown = on(desktop.path()).args(["execution", "no-such-run", "--server", "prod"]).output().unwrap();
    assert!(!unknown.status.success());
    let message = String::from_utf8_lossy(&unknown.stderr);
    assert!(message.contains("server \"prod\"") && message.contains("no-such-run"), "{message}");
    // And none ran on the desktop.
    let local =
        stdout_json(&on(desktop.path()).args(["executions", "--workflow", "hooked", "--json"]).output().unwrap());
    assert_eq!(local, json!([]));

    // Deployed again: a new version of the same workflow, still active.
    let again = stdout_json(&on(desktop.path()).args(["deploy", "hooked", "--to", "prod", "--json"]).output().unwrap());
    assert_eq!(again["created"], false, "{again}");
    let version = again["version"].as_u64().unwrap();

    // Changed on the server since: refused unless forced.
    let (status, renamed) =
        post(&addr, "/api/v1/workflows/hooked/rename", Some(&admin), &json!({"name": "Renamed there"}));
    assert_eq!(status, 200, "{renamed}");
    let refused = on(desktop.path()).args(["deploy", "hooked", "--to", "prod"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("was changed there since this computer deployed it") && message.contains("prod"),
        "{message}"
    );
    let forced = stdout_json(
        &on(desktop.path()).args(["deploy", "hooked", "--to", "prod", "--force", "--json"]).output().unwrap(),
    );
    assert!(forced["version"].as_u64().unwrap() > version, "{forced}");

    // A workflow whose account the server lacks: pushed, the account listed, not activated.
    let fetch = json!({
        "switchyard": 1, "id": "fetches", "name": "Fetches",
        "nodes": [
            {"id": "hook", "name": "Hook", "type": "trigger.webhook", "parameters": {"path": "f"}},
            {"id": "get", "name": "Get", "type": "http.request", "parameters": {"url": "https://api.example.com/x"},
             "credentials": {"auth": {"connection": "http.bearer", "account": "work"}}}
        ],
        "connections": [{"from": {"node": "hook"}, "to": {"node": "get"}}]
    });
    on(desktop.path()).args(["import", &write(desktop.path(), &fetch), "--keep-id"]).assert().success();
    let partial = stdout_json(
        &on(desktop.path()).args(["deploy", "fetches", "--to", "prod", "--activate", "--json"]).output().unwrap(),
    );
    assert_eq!(partial["active"], false, "{partial}");
    assert_eq!(partial["missingAccounts"][0]["connection"], "http.bearer", "{partial}");
    assert_eq!(partial["missingAccounts"][0]["account"], "work");
    assert!(partial["notes"].to_string().contains("add the missing accounts"), "{partial}");
    let text = on(desktop.path()).args(["deploy", "fetches", "--to", "prod"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&text.stdout)
            .contains("missing on the server: Bearer token account \"work\" (used by Get)")
    );

    // A workflow that calls another (at two levels): the called ones go first, trusted there,
    // and the server's run calls them; an account a called one lacks is listed with its path.
    let leaf = json!({
        "switchyard": 1, "id": "leaf", "name": "Leaf",
        "nodes": [
            {"id": "in", "name": "Called", "type": "trigger.workflow"},
            {"id": "set", "name": "Triple", "type": "data.set", "parameters": {
                "assignments": [{"name": "tripled", "value": "{{ json.n * 3 }}"}], "keep": "none"}},
            {"id": "get", "name": "Lookup", "type": "http.request", "parameters": {"url": "https://api.example.com/y"},
             "settings": {"disabled": true},
             "credentials": {"auth": {"connection": "http.bearer", "account": "work"}}}
        ],
        "connections": [{"from": {"node": "in"}, "to": {"node": "set"}}]
    });
    let middle = json!({
        "switchyard": 1, "id": "middle", "name": "Middle",
        "nodes": [
            {"id": "in", "name": "Called", "type": "trigger.workflow"},
            {"id": "call", "name": "Call leaf", "type": "flow.execute_workflow", "parameters": {"workflowId": "leaf"}}
        ],
        "connections": [{"from": {"node": "in"}, "to": {"node": "call"}}]
    });
    let caller = json!({
        "switchyard": 1, "id": "caller", "name": "Caller",
        "nodes": [
            {"id": "hook", "name": "Hook", "type": "trigger.webhook", "parameters": {"path": "c", "responseMode": "lastNode"}},
            {"id": "pick", "name": "Pick", "type": "data.set", "parameters": {
                "assignments": [{"name": "n", "value": "{{ json.body.n }}"}], "keep": "none"}},
            {"id": "call", "name": "Call middle", "type": "flow.execute_workflow", "parameters": {"workflowId": "middle"}}
        ],
        "connections": [{"from": {"node": "hook"}, "to": {"node": "pick"}}, {"from": {"node": "pick"}, "to": {"node": "call"}}]
    });
    for wf in [&leaf, &middle, &caller] {
        on(desktop.path()).args(["import", &write(desktop.path(), wf), "--keep-id"]).assert().success();
    }
    let with_calls =
        stdout_json(&on(desktop.path()).args(["deploy", "caller", "--to", "prod", "--json"]).output().unwrap());
    let notes = with_calls["notes"].to_string();
    assert!(
        notes.contains("called workflow \\\"Middle\\\" deployed too") && notes.contains("\\\"Leaf\\\""),
        "{with_calls}"
    );
    assert_eq!(with_calls["missingAccounts"][0]["nodes"], json!(["Leaf → Lookup"]), "{with_calls}");
    // The leaf's account is for a disabled node: add it on the server anyway, then activate.
    on(server.path())
        .args(["connections", "add", "http.bearer", "work", "--field", "token=@env:WORK_TOKEN"])
        .env("WORK_TOKEN", "server-side-secret")
        .assert()
        .success();
    let activated = stdout_json(
        &on(desktop.path()).args(["deploy", "caller", "--to", "prod", "--activate", "--json"]).output().unwrap(),
    );
    assert_eq!(
        (activated["active"].clone(), activated["missingAccounts"].clone()),
        (json!(true), json!([])),
        "{activated}"
    );
    let (status, answer) = post(&addr, "/webhook/caller/c", None, &json!({"n": 5}));
    assert_eq!((status, answer), (200, json!({"tripled": 15})));
    // A called workflow that is not saved here: named, nothing pushed.
    let orphan = json!({
        "switchyard": 1, "id": "orphan", "name": "Orphan",
        "nodes": [
            {"id": "in", "name": "Start", "type": "trigger.manual"},
            {"id": "call", "name": "Call gone", "type": "flow.execute_workflow", "parameters": {"workflowId": "gone"}}
        ],
        "connections": [{"from": {"node": "in"}, "to": {"node": "call"}}]
    });
    on(desktop.path()).args(["import", &write(desktop.path(), &orphan), "--keep-id"]).assert().success();
    let refused = on(desktop.path()).args(["deploy", "orphan", "--to", "prod"]).output().unwrap();
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("node \"Call gone\" calls workflow gone, which is not saved here"), "{message}");
    let (status, _) = post(&addr, "/api/v1/workflows/orphan/activate", Some(&admin), &json!({"active": true}));
    assert_eq!(status, 404, "nothing was pushed");

    // A read token cannot deploy; an unknown server account is named.
    let viewer = on(desktop.path()).args(["deploy", "hooked", "--to", "viewer"]).output().unwrap();
    assert_eq!(viewer.status.code(), Some(1));
    let message = String::from_utf8_lossy(&viewer.stderr);
    assert!(message.contains("server \"viewer\"") && message.contains("scope \"admin\""), "{message}");
    let unknown = on(desktop.path()).args(["deploy", "hooked", "--to", "nowhere"]).output().unwrap();
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("Switchyard server account \"nowhere\""));

    // The token revoked on the server: the desktop is told what to do.
    let tokens = stdout_json(&on(server.path()).args(["tokens", "list", "--json"]).output().unwrap());
    let id =
        tokens.as_array().unwrap().iter().find(|t| t["scope"] == "admin").unwrap()["id"].as_str().unwrap().to_string();
    on(server.path()).args(["tokens", "revoke", &id]).assert().success();
    let revoked = on(desktop.path()).args(["deploy", "hooked", "--to", "prod"]).output().unwrap();
    let message = String::from_utf8_lossy(&revoked.stderr);
    assert!(message.contains("refused the API token") && message.contains("revoked"), "{message}");

    stop(&mut serve);
}
