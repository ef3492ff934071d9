//! Local access: an imported workflow runs no program until the user has seen and approved
//! it, runs only what was approved afterwards, and Settings can turn programs off.

use crate::{call, open};
use serde_json::{Value as Json, json};
use switchyard_model::error::ErrorCode;

/// Manual Trigger → Execute Command running `command` with `args`.
fn with_command(id: &str, command: &str, args: &[&str]) -> Json {
    json!({"switchyard": 1, "id": id, "name": "Nightly",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "c", "name": "Cmd", "type": "shell.exec",
             "parameters": {"command": command, "arguments": args.iter().map(|a| json!({"value": a})).collect::<Vec<_>>()}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "c"}}]})
}

#[tokio::test]
async fn an_imported_workflow_runs_no_program_until_approved_and_nothing_else_after() {
    let (dir, api, _) = open();
    let marker = dir.path().join("it-ran");
    let marker_text = marker.display().to_string();
    // Someone else's file that would create a file on this machine.
    let shared = with_command("shared", "touch", &[&marker_text]);
    let imported =
        call(&api, "workflow_import", json!({"text": shared.to_string(), "fileName": "nightly.json", "keepId": true}))
            .await
            .unwrap();
    let review = &imported["review"];
    assert_eq!(
        review["local"],
        json!([{"kind": "command", "target": "touch", "nodes": ["Cmd"], "approved": false}]),
        "{review}"
    );

    // Untrusted: refused before anything runs, naming the program and the node; the same
    // for activation.
    let refused = call(&api, "run_wait", json!({"workflowId": "shared"})).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::WorkflowUntrusted, "{}", refused.message);
    assert!(refused.message.contains("nightly.json"), "{}", refused.message);
    assert!(refused.message.contains("runs \"touch\" (nodes \"Cmd\")"), "{}", refused.message);
    let inline = call(&api, "run_wait", json!({"workflow": shared})).await.unwrap_err();
    assert_eq!(inline.code, ErrorCode::WorkflowUntrusted);
    assert!(!marker.exists(), "nothing ran");

    // Approved at the version reviewed: it runs.
    call(&api, "workflow_trust", json!({"id": "shared", "version": 1})).await.unwrap();
    let review = call(&api, "workflow_trust_review", json!({"id": "shared"})).await.unwrap();
    assert_eq!(review["local"][0]["approved"], true, "{review}");
    let result = call(&api, "run_wait", json!({"workflowId": "shared"})).await.unwrap();
    assert_eq!(result["status"], "success", "{result}");
    assert!(marker.exists());

    // An edit that runs another program is refused until approved again; the approved one
    // still is approved.
    let other = dir.path().join("other");
    let mut edited = with_command("shared", "mkdir", &[&other.display().to_string()]);
    edited["nodes"].as_array_mut().unwrap().push(json!({"id": "d", "name": "Again", "type": "shell.exec",
        "parameters": {"command": "touch", "arguments": [{"value": marker_text}]}}));
    edited["connections"].as_array_mut().unwrap().push(json!({"from": {"node": "c"}, "to": {"node": "d"}}));
    call(&api, "workflow_save", json!({"workflow": edited, "expectedVersion": 1})).await.unwrap();
    let refused = call(&api, "run_wait", json!({"workflowId": "shared"})).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::WorkflowUntrusted, "{}", refused.message);
    assert!(refused.message.contains("it now runs \"mkdir\" (nodes \"Cmd\")"), "{}", refused.message);
    assert!(!other.exists(), "nothing ran");
    let review = call(&api, "workflow_trust_review", json!({"id": "shared"})).await.unwrap();
    assert_eq!(
        review["local"],
        json!([
            {"kind": "command", "target": "mkdir", "nodes": ["Cmd"], "approved": false},
            {"kind": "command", "target": "touch", "nodes": ["Again"], "approved": true},
        ])
    );
    // A copy is held to the same approval.
    let copy = call(&api, "workflow_duplicate", json!({"id": "shared"})).await.unwrap();
    let copied = call(&api, "run_wait", json!({"workflowId": copy["workflow"]["id"]})).await.unwrap_err();
    assert_eq!(copied.code, ErrorCode::WorkflowUntrusted);
    assert!(!other.exists());

    call(&api, "workflow_trust", json!({"id": "shared", "version": 2})).await.unwrap();
    let result = call(&api, "run_wait", json!({"workflowId": "shared"})).await.unwrap();
    assert_eq!(result["status"], "success", "{result}");
    assert!(other.is_dir());
}

#[tokio::test]
async fn a_computed_program_is_approved_as_a_pattern_and_held_to_it_while_running() {
    let (dir, api, _) = open();
    let marker = dir.path().join("escaped");
    // The program comes from the input item: the review can only show its fixed beginning.
    let shared = with_command("computed", "/usr/bin/{{ json.tool }}", &[&marker.display().to_string()]);
    let imported =
        call(&api, "workflow_import", json!({"text": shared.to_string(), "fileName": "tools.json", "keepId": true}))
            .await
            .unwrap();
    assert_eq!(imported["review"]["local"][0]["target"], "/usr/bin/**");
    call(&api, "workflow_trust", json!({"id": "computed", "version": 1})).await.unwrap();
    let ok = call(&api, "run_wait", json!({"workflowId": "computed", "input": {"tool": "true"}})).await.unwrap();
    assert_eq!(ok["status"], "success", "{ok}");
    // A value outside the approved pattern is refused while running, dots and all.
    let outside =
        call(&api, "run_wait", json!({"workflowId": "computed", "input": {"tool": "../../bin/touch"}})).await.unwrap();
    assert_eq!(outside["status"], "error", "{outside}");
    assert_eq!(outside["error"]["code"], "local_access_refused", "{outside}");
    assert!(outside["error"]["message"].as_str().unwrap().contains("not what was approved"), "{outside}");
    assert!(!marker.exists(), "nothing ran");
    let escaped = call(
        &api,
        "run_wait",
        json!({"workflowId": "computed", "input": {"tool": "true"}, "workflow": with_command("computed", "touch", &[])}),
    )
    .await
    .unwrap_err();
    assert_eq!(escaped.code, ErrorCode::WorkflowUntrusted, "an edit sent by the editor is held too");
}

#[tokio::test]
async fn settings_can_turn_programs_off_for_every_workflow() {
    let (dir, api, _) = open();
    let marker = dir.path().join("mine");
    // The user's own workflow: no review needed.
    let created = call(&api, "workflow_create", json!({"name": "Mine"})).await.unwrap();
    let mut wf = with_command(created["workflow"]["id"].as_str().unwrap(), "touch", &[&marker.display().to_string()]);
    wf["name"] = json!("Mine");
    call(&api, "workflow_save", json!({"workflow": wf, "expectedVersion": 1})).await.unwrap();
    let review = call(&api, "workflow_trust_review", json!({"id": wf["id"]})).await.unwrap();
    assert_eq!(review["local"][0]["approved"], true);
    let result = call(&api, "run_wait", json!({"workflowId": wf["id"]})).await.unwrap();
    assert_eq!(result["status"], "success", "{result}");
    assert!(marker.exists());
    std::fs::remove_file(&marker).unwrap();

    let mut settings = call(&api, "settings_get", json!({})).await.unwrap();
    assert_eq!(settings["allowCommands"], true);
    settings["allowCommands"] = json!(false);
    call(&api, "settings_update", settings).await.unwrap();
    let result = call(&api, "run_wait", json!({"workflowId": wf["id"]})).await.unwrap();
    assert_eq!(result["status"], "error");
    assert_eq!(result["error"]["code"], "local_access_refused", "{result}");
    assert_eq!(
        result["error"]["message"],
        "may not run \"touch\": running programs is turned off (Settings → Local access)"
    );
    assert!(!marker.exists());
}

#[tokio::test]
async fn the_review_lists_the_paths_file_nodes_read_and_write() {
    let (_dir, api, _) = open();
    let shared = json!({"switchyard": 1, "id": "files", "name": "Files",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "r", "name": "Read", "type": "file.read", "parameters": {"path": "/srv/in/*.json", "format": "json"}},
            {"id": "w", "name": "Write", "type": "file.write", "parameters": {"path": "/srv/out/{{ json.fileName }}"}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "r"}}, {"from": {"node": "r"}, "to": {"node": "w"}}]});
    let imported =
        call(&api, "workflow_import", json!({"text": shared.to_string(), "fileName": "files.json", "keepId": true}))
            .await
            .unwrap();
    assert_eq!(
        imported["review"]["local"],
        json!([
            {"kind": "read", "target": "/srv/in/*.json", "nodes": ["Read"], "approved": false},
            {"kind": "write", "target": "/srv/out/**", "nodes": ["Write"], "approved": false},
        ])
    );
    let refused = call(&api, "run_wait", json!({"workflowId": "files"})).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::WorkflowUntrusted);
    assert!(refused.message.contains("reads \"/srv/in/*.json\" (nodes \"Read\")"), "{}", refused.message);
    assert!(refused.message.contains("writes \"/srv/out/**\" (nodes \"Write\")"), "{}", refused.message);
}
