//! Files in items through the API: their bytes in `<data folder>/blobs`, their references in
//! the history, and pruning that removes the blobs no execution refers to, and only those.

use crate::{call, import_trusted, open};
use serde_json::json;
use std::time::{Duration, SystemTime};

/// Manual Trigger → Read Files of `path` as a file.
fn reader(id: &str, path: &std::path::Path) -> serde_json::Value {
    json!({"switchyard": 1, "id": id, "name": "Read",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "r", "name": "Read", "type": "file.read", "parameters": {"path": path.display().to_string(), "format": "file"}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "r"}}]})
}

/// Sets a file's modification time `age` in the past.
fn age(path: &std::path::Path, age: Duration) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_times(std::fs::FileTimes::new().set_modified(SystemTime::now() - age)).unwrap();
}

#[tokio::test]
async fn pruning_removes_the_blobs_no_execution_refers_to_and_orphans_left_by_a_crash() {
    let (dir, api, _) = open();
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    let mut settings = call(&api, "settings_get", json!({})).await.unwrap();
    settings["localRoots"] = json!([files.display().to_string()]);
    call(&api, "settings_update", settings).await.unwrap();

    std::fs::write(files.join("old.bin"), b"the old run's file").unwrap();
    std::fs::write(files.join("new.bin"), b"the new run's file").unwrap();
    import_trusted(&api, &reader("old", &files.join("old.bin"))).await;
    import_trusted(&api, &reader("new", &files.join("new.bin"))).await;
    let first = call(&api, "run_wait", json!({"workflowId": "old"})).await.unwrap();
    assert_eq!(first["status"], "success", "{first}");
    let second = call(&api, "run_wait", json!({"workflowId": "new"})).await.unwrap();

    // The history holds the files' metadata and references; the bytes are in blobs/.
    let execution = call(&api, "execution_get", json!({"id": second["executionId"]})).await.unwrap();
    let file = execution["nodes"][1]["outputs"][0]["items"][0]["binary"]["data"].clone();
    assert_eq!(file["fileName"], "new.bin");
    assert_eq!(file["size"], 18);
    assert_eq!(file["mimeType"], "application/octet-stream");
    let store = api.engine().services().blobs.store.clone();
    assert_eq!(store.root(), dir.path().join("blobs"));
    let new_blob = store.path_of(file["ref"].as_str().unwrap()).unwrap();
    assert_eq!(std::fs::read(&new_blob).unwrap(), b"the new run's file");
    let old_execution = call(&api, "execution_get", json!({"id": first["executionId"]})).await.unwrap();
    let old_ref = old_execution["nodes"][1]["outputs"][0]["items"][0]["binary"]["data"]["ref"].clone();
    let old_blob = store.path_of(old_ref.as_str().unwrap()).unwrap();

    // A crash between writing a blob and writing the row that refers to it leaves an orphan.
    let orphan = store.put(b"written, never recorded", None).await.unwrap();
    let orphan_path = store.path_of(&orphan.sha256).unwrap();
    // A blob written a moment ago may belong to a run whose rows are not written yet: kept.
    call(&api, "execution_prune", json!({"keepLast": 1})).await.unwrap();
    assert!(orphan_path.exists());
    assert!(old_blob.exists(), "written a moment ago: kept for now");

    // An hour later every blob is old: the pruned execution's and the orphan go, the blob
    // the remaining execution refers to stays.
    for path in [&orphan_path, &old_blob, &new_blob] {
        age(path, Duration::from_secs(3600));
    }
    let pruned = call(&api, "execution_prune", json!({"keepLast": 1})).await.unwrap();
    assert_eq!(pruned["deleted"], 0, "the old execution went in the first prune");
    assert!(!orphan_path.exists(), "the orphan was swept");
    assert!(!old_blob.exists(), "the pruned execution's file was swept");
    assert_eq!(std::fs::read(&new_blob).unwrap(), b"the new run's file");
    let again = call(&api, "execution_get", json!({"id": second["executionId"]})).await.unwrap();
    assert_eq!(again["nodes"][1]["outputs"][0]["items"][0]["binary"]["data"]["ref"], file["ref"]);
}

#[tokio::test]
async fn the_inspector_previews_a_file_and_saves_a_copy() {
    let (dir, api, _) = open();
    let store = api.engine().services().blobs.store.clone();
    let csv = store.put(b"name,n\nAda,1\n", None).await.unwrap();
    let preview = call(&api, "file_preview", json!({"reference": csv.sha256, "mimeType": "text/csv"})).await.unwrap();
    assert_eq!(preview, json!({"kind": "text", "text": "name,n\nAda,1\n", "truncated": false, "size": 13}));
    let json_file = store.put(br#"{"a":[1,2]}"#, None).await.unwrap();
    let preview = call(&api, "file_preview", json!({"reference": json_file.sha256, "mimeType": "application/json"}))
        .await
        .unwrap();
    assert_eq!(preview["text"], "{\n  \"a\": [\n    1,\n    2\n  ]\n}");
    let png = store.put(b"\x89PNG\r\n\x1a\nrest", None).await.unwrap();
    let preview = call(&api, "file_preview", json!({"reference": png.sha256, "mimeType": "image/png"})).await.unwrap();
    assert_eq!(preview["kind"], "image");
    assert!(preview["dataUrl"].as_str().unwrap().starts_with("data:image/png;base64,iVBORw0KGg"), "{preview}");
    let zip = store.put(b"PK\x03\x04", None).await.unwrap();
    let preview =
        call(&api, "file_preview", json!({"reference": zip.sha256, "mimeType": "application/zip"})).await.unwrap();
    assert_eq!(preview["kind"], "none");
    let refused = call(&api, "file_preview", json!({"reference": "../../etc/passwd", "mimeType": "text/plain"})).await;
    assert_eq!(refused.unwrap_err().code, switchyard_model::error::ErrorCode::BadRequest);

    let target = dir.path().join("saved.csv");
    let saved =
        call(&api, "file_save", json!({"reference": csv.sha256, "path": target.display().to_string()})).await.unwrap();
    assert_eq!(saved["path"], target.display().to_string());
    assert_eq!(std::fs::read(&target).unwrap(), b"name,n\nAda,1\n");
}
