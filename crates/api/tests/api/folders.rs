//! Folder Trigger through the API: real files in a real folder, the OS's notifications,
//! one run per settled change, and what changed while the app was closed.

use super::webhooks::{executions, open_with_host};
use super::{call, import_trusted};
use serde_json::{Value as Json, json};
use std::io::Write;
use std::time::{Duration, Instant};
use switchyard_api::Api;

fn watcher(folder: &std::path::Path) -> Json {
    json!({"switchyard": 1, "id": "inbox", "name": "Inbox",
        "nodes": [
            {"id": "watch", "name": "Watch", "type": "trigger.file", "parameters": {
                "folder": folder.display().to_string(), "pattern": "*.csv",
                "added": true, "changed": true, "removed": true, "settleSeconds": 0.6, "catchUp": true}},
            {"id": "note", "name": "Note", "type": "data.set", "parameters": {
                "assignments": [{"name": "seen", "value": "{{ json.event }} {{ json.fileName }}"}]}}
        ],
        "connections": [{"from": {"node": "watch"}, "to": {"node": "note"}}]})
}

async fn start(api: &Api, root: &std::path::Path) {
    let mut settings = call(api, "settings_get", json!({})).await.unwrap();
    settings["webhookPort"] = json!(0);
    settings["localRoots"] = json!([root.display().to_string()]);
    call(api, "settings_update", settings).await.unwrap();
    api.start_triggers().await.unwrap();
}

/// The trigger items of the inbox's runs, oldest first, once there are `n` (within 10 s).
async fn events(api: &Api, n: usize) -> Vec<Json> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list = executions(api, "inbox").await;
        if list.len() >= n || Instant::now() > deadline {
            let mut out = Vec::new();
            for summary in list.iter().rev() {
                let run = call(api, "execution_get", json!({"id": summary["id"]})).await.unwrap();
                assert_eq!(run["summary"]["mode"], "folder");
                out.push(run["nodes"][0]["outputs"][0]["items"][0]["json"].clone());
            }
            return out;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn short(events: &[Json]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            format!(
                "{} {}{}",
                e["event"].as_str().unwrap(),
                e["fileName"].as_str().unwrap(),
                if e["missed"] == true { " (missed)" } else { "" }
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_trigger_runs_once_per_settled_change_and_catches_up_after_a_restart() {
    let (dir, api, _clock, _host) = open_with_host();
    let inbox = dir.path().join("in box");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(inbox.join("before.csv"), "there before").unwrap();
    start(&api, dir.path()).await;
    import_trusted(&api, &watcher(&inbox)).await;
    call(&api, "workflow_activate", json!({"id": "inbox", "active": true})).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;

    // A new file; a file whose name does not match starts nothing.
    std::fs::write(inbox.join("a.csv"), "id\n1\n").unwrap();
    std::fs::write(inbox.join("notes.txt"), "ignored").unwrap();
    let seen = events(&api, 1).await;
    assert_eq!(short(&seen), ["added a.csv"]);
    assert_eq!(seen[0]["path"], inbox.join("a.csv").display().to_string());
    assert_eq!(seen[0]["size"], 5);

    // A file copied slowly (10 chunks, 200 ms apart) is one event, after it settled.
    let mut slow = std::fs::File::create(inbox.join("slow.csv")).unwrap();
    for i in 0..10 {
        writeln!(slow, "row {i}").unwrap();
        slow.flush().unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(slow);
    let seen = events(&api, 2).await;
    assert_eq!(short(&seen), ["added a.csv", "added slow.csv"]);
    assert_eq!(seen[1]["size"], 60, "the whole file, not a part");

    // Changed, renamed (removed + added), deleted.
    std::fs::write(inbox.join("a.csv"), "id\n1\n2\n").unwrap();
    events(&api, 3).await;
    std::fs::rename(inbox.join("a.csv"), inbox.join("renamed.csv")).unwrap();
    events(&api, 5).await;
    std::fs::remove_file(inbox.join("slow.csv")).unwrap();
    let seen = events(&api, 6).await;
    let mut tail = short(&seen[2..]);
    tail[1..3].sort();
    assert_eq!(tail, ["changed a.csv", "added renamed.csv", "removed a.csv", "removed slow.csv"]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(events(&api, 6).await.len(), 6, "nothing fired twice");

    // Closed: files come and go; the next start reports them, marked missed.
    api.stop_triggers().await;
    drop(api);
    std::fs::write(inbox.join("while closed.csv"), "x").unwrap();
    std::fs::remove_file(inbox.join("renamed.csv")).unwrap();
    std::fs::write(inbox.join("before.csv"), "changed while closed").unwrap();
    let reopened = Api::open_custom(
        dir.path(),
        std::sync::Arc::new(super::RecordingHost::default()),
        switchyard_engine::Services::system(),
        {
            let mut vault = switchyard_vault::VaultOptions::system(std::sync::Arc::new(switchyard_engine::SystemClock));
            vault.keyring = None;
            vault
        },
    )
    .unwrap();
    reopened.start_triggers().await.unwrap();
    let seen = events(&reopened, 9).await;
    let mut caught: Vec<String> = short(&seen[6..]);
    caught.sort();
    assert_eq!(
        caught,
        ["added while closed.csv (missed)", "changed before.csv (missed)", "removed renamed.csv (missed)"]
    );

    // A file still being copied when the watch starts again (a save reloads the triggers)
    // is reported once it settles, as added, never half-way.
    let mut copying = std::fs::File::create(inbox.join("copying.csv")).unwrap();
    writeln!(copying, "part 1").unwrap();
    call(&reopened, "workflow_activate", json!({"id": "inbox", "active": false})).await.unwrap();
    call(&reopened, "workflow_activate", json!({"id": "inbox", "active": true})).await.unwrap();
    for i in 2..=4 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        writeln!(copying, "part {i}").unwrap();
    }
    drop(copying);
    let seen = events(&reopened, 10).await;
    assert_eq!(short(&seen[9..]), ["added copying.csv (missed)"], "begun while the watch was off");
    assert_eq!(seen[9]["size"], 28, "the whole file");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(events(&reopened, 10).await.len(), 10, "reported once");
    reopened.stop_triggers().await;
}
