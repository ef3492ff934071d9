//! Daily backups while the app runs: made when due, kept for the retention, a failure raises
//! an alert with a notification and the next good backup resolves it.

use super::call;
use super::metrics::NotifyingHost;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use switchyard_api::Api;
use switchyard_engine::{Services, TokioClock};

const DAY: Duration = Duration::from_secs(25 * 3600);

#[tokio::test(start_paused = true)]
async fn daily_backups_are_made_when_due_kept_for_their_days_and_a_failure_raises_an_alert() {
    let dir = tempfile::tempdir().unwrap();
    let host = Arc::new(NotifyingHost::default());
    let clock = Arc::new(TokioClock::starting_at("2026-03-01T09:00:00Z".parse().unwrap()));
    let services = Services::new(clock, switchyard_engine::services::default_http_client());
    let api = Api::open_with(dir.path(), host.clone(), services).unwrap();
    let folder = dir.path().join("backups");

    let list = call(&api, "backup_list", json!({})).await.unwrap();
    assert_eq!(list["folder"], folder.display().to_string());
    assert_eq!(list["backups"], json!([]));

    let first = api.run_due_backup().await.unwrap().expect("none yet: due");
    assert_eq!(first.path, folder.join("switchyard-backup-20260301T090000Z.zip").display().to_string());
    assert!(first.scheduled);
    assert_eq!(api.run_due_backup().await.unwrap(), None, "not a day old yet");
    let d = call(&api, "metrics_dashboard", json!({"range": "live"})).await.unwrap();
    assert_eq!(d["lastBackup"]["path"], first.path.as_str());
    assert_eq!(d["lastBackup"]["size"], first.size);

    // Retention: two days; only the app's own backup files go.
    let mut settings = call(&api, "settings_get", json!({})).await.unwrap();
    settings["backupKeepDays"] = json!(2);
    call(&api, "settings_update", settings.clone()).await.unwrap();
    std::fs::write(folder.join("switchyard-backup-20200101T000000Z.zip"), b"old").unwrap();
    std::fs::write(folder.join("notes.zip"), b"mine").unwrap();
    tokio::time::advance(DAY).await;
    let second = api.run_due_backup().await.unwrap().expect("a day later: due");
    assert!(second.path.ends_with("switchyard-backup-20260302T100000Z.zip"), "{}", second.path);
    assert!(!folder.join("switchyard-backup-20200101T000000Z.zip").exists());
    assert!(folder.join("notes.zip").exists(), "other files stay");
    assert!(std::path::Path::new(&first.path).exists(), "a day old: kept");
    let list = call(&api, "backup_list", json!({})).await.unwrap();
    let paths: Vec<&str> = list["backups"].as_array().unwrap().iter().map(|b| b["path"].as_str().unwrap()).collect();
    assert_eq!(paths, [second.path.as_str(), first.path.as_str()], "newest first");

    // The folder cannot be written (a file stands where it should be): an alert, a notification.
    let blocked = dir.path().join("blocked");
    std::fs::write(&blocked, b"a file").unwrap();
    settings["backupFolder"] = json!(blocked.join("backups").display().to_string());
    call(&api, "settings_update", settings.clone()).await.unwrap();
    tokio::time::advance(DAY).await;
    let e = api.run_due_backup().await.unwrap_err();
    assert!(e.message.contains("blocked"), "names the folder: {}", e.message);
    let alerts = call(&api, "alerts_list", json!({"firingOnly": true})).await.unwrap();
    let alert = &alerts["alerts"][0];
    assert_eq!(alert["ruleId"], "system:backup");
    assert!(alert["message"].as_str().unwrap().starts_with("The daily backup failed: "), "{alert}");
    assert_eq!(host.notes.lock().unwrap().len(), 1);
    let d = call(&api, "metrics_dashboard", json!({"range": "live"})).await.unwrap();
    assert!(d["backupFailure"]["message"].as_str().unwrap().contains("blocked"), "{}", d["backupFailure"]);
    // The rules' checker leaves it alone (it has no rule to be deleted).
    api.check_alerts().await.unwrap();
    let still = call(&api, "alerts_list", json!({"firingOnly": true})).await.unwrap();
    assert_eq!(still["alerts"].as_array().unwrap().len(), 1);

    // Fixed: the next backup resolves it.
    settings["backupFolder"] = json!("");
    call(&api, "settings_update", settings.clone()).await.unwrap();
    api.run_due_backup().await.unwrap().expect("still due after the failure");
    let firing = call(&api, "alerts_list", json!({"firingOnly": true})).await.unwrap();
    assert_eq!(firing["alerts"], json!([]));
    let d = call(&api, "metrics_dashboard", json!({"range": "live"})).await.unwrap();
    assert!(d["backupFailure"].is_null(), "{}", d["backupFailure"]);

    // Off: nothing is made.
    settings["backupDaily"] = json!(false);
    call(&api, "settings_update", settings.clone()).await.unwrap();
    tokio::time::advance(DAY).await;
    assert_eq!(api.run_due_backup().await.unwrap(), None);

    settings["backupFolder"] = json!("relative/folder");
    let e = call(&api, "settings_update", settings).await.unwrap_err();
    assert!(e.message.contains("backupFolder must be an absolute folder"), "{}", e.message);
    let to = dir.path().join("by-hand.zip");
    call(&api, "backup_create", json!({"to": to})).await.unwrap();
    let e = call(&api, "backup_create", json!({"to": to})).await.unwrap_err();
    assert!(e.message.contains("never written over"), "{}", e.message);
}
