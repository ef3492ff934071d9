//! Server mode's queue with files, against a real PostgreSQL, Redis and Dovecot: an email's
//! attachment that a main received reaches a worker with another data folder through the
//! shared store, and the worker's run reads it.

use super::imap::{message, wait_signed_in};
use super::{call, import_trusted};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard_api::{Api, QueueConfig, SilentHost, WorkerOptions};
use switchyard_engine::Services;
use switchyard_store::Location;
use switchyard_testkit::mail::{ImapMode, ImapServer};
use switchyard_testkit::servers::{Postgres, Redis, psql_url};

const PASSWORD: &str = "queued files";

fn open(dir: &Path, location: &Location) -> Api {
    let services = Services::system();
    let mut vault = switchyard_vault::VaultOptions::system(services.clock.clone());
    vault.keyring = None;
    Api::open_custom_at(dir, Some(location), Arc::new(SilentHost), services, vault).unwrap()
}

type Working = tokio::task::JoinHandle<switchyard_api::ApiResult<switchyard_api::WorkerReport>>;

/// `worker` working the queue at `url` until the sender is used (or dropped).
fn work(worker: &Api, url: &str, concurrency: usize) -> (tokio::sync::oneshot::Sender<()>, Working) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (worker, url) = (worker.clone(), url.to_string());
    let working = tokio::spawn(async move {
        // A short visibility timeout: a run left on the queue is taken again within seconds.
        let queue = QueueConfig { visibility: Duration::from_secs(2), max_deliveries: 5 };
        let options = WorkerOptions { concurrency, consumer: "w1".into(), queue };
        let stop = async {
            let _ = stopped.await;
        };
        worker.work(&url, options, stop, Duration::from_secs(5)).await
    });
    (stop, working)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_attachment_a_main_received_is_read_by_a_worker_with_another_data_folder() {
    let pg = Postgres::start();
    pg.psql("CREATE DATABASE files");
    let location = Location::parse(&pg.url("files"));
    let redis = Redis::start();
    let imap = ImapServer::start(ImapMode::StartTls);
    let (main_dir, worker_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());

    let main = open(main_dir.path(), &location);
    call(&main, "vault_unlock", json!({"password": PASSWORD})).await.unwrap();
    call(
        &main,
        "account_add",
        json!({"connectionType": "email.imap", "label": "inbox", "fields": {
        "host": "127.0.0.1", "port": imap.port.to_string(), "security": "starttls", "user": imap.user,
        "password": imap.password, "mailbox": "INBOX", "caFile": imap.ca.display().to_string()}}),
    )
    .await
    .unwrap();
    import_trusted(
        &main,
        &json!({"switchyard": 1, "id": "orders", "name": "Orders by mail",
            "nodes": [{"id": "in", "name": "New mail", "type": "trigger.imap", "parameters": {"afterRun": "read"},
                       "credentials": {"imap": {"connection": "email.imap", "account": "inbox"}}},
                      {"id": "rows", "name": "Rows", "type": "data.convert", "parameters": {
                        "operation": "toItems", "format": "csv", "binaryProperty": "attachment_0"}}],
            "connections": [{"from": {"node": "in"}, "to": {"node": "rows"}}]}),
    )
    .await;
    call(&main, "workflow_activate", json!({"id": "orders", "active": true})).await.unwrap();
    main.use_queue(&redis.url()).await.unwrap();
    let mut settings = call(&main, "settings_get", json!({})).await.unwrap();
    settings["webhookPort"] = json!(0);
    call(&main, "settings_update", settings).await.unwrap();
    main.start_triggers().await.unwrap();

    let worker = open(worker_dir.path(), &location);
    call(&worker, "vault_unlock", json!({"password": PASSWORD})).await.unwrap();
    let (stop, working) = work(&worker, &redis.url(), 2);

    wait_signed_in(&imap).await;
    let csv = b"order,total\n1,19.90\n2,5.00\n";
    imap.deliver(&message(1, "Orders", csv));
    let deadline = Instant::now() + Duration::from_secs(30);
    let run = loop {
        let list = call(&worker, "execution_list", json!({"workflowId": "orders"})).await.unwrap();
        if let Some(first) = list["executions"].as_array().and_then(|l| l.first())
            && first["status"] != "running"
        {
            break call(&worker, "execution_get", json!({"id": first["id"]})).await.unwrap();
        }
        assert!(Instant::now() < deadline, "no finished run within 30 s: {list}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(run["summary"]["status"], "success", "{run}");
    assert_eq!(run["summary"]["mode"], "event");
    let rows: Vec<_> =
        run["nodes"][1]["outputs"][0]["items"].as_array().unwrap().iter().map(|i| i["json"].clone()).collect();
    assert_eq!(rows, vec![json!({"order": 1, "total": 19.9}), json!({"order": 2, "total": 5.0})], "{run}");

    // The bytes went main → shared store → the worker's own blob store.
    let sha = switchyard_testkit::sha256_hex(csv);
    let blob = |dir: &Path| dir.join("blobs").join(&sha[..2]).join(&sha[2..]);
    assert_eq!(std::fs::read(blob(worker_dir.path())).unwrap(), csv, "the worker has the file in its own folder");
    assert!(blob(main_dir.path()).exists());
    assert!(main.store().shared_blobs().has(&sha).unwrap());
    // The message is marked read once the worker's run succeeded.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !imap.seen_flags().iter().any(|f| f.contains('S')) {
        assert!(Instant::now() < deadline, "marked read: {:?}", imap.seen_flags());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let _ = stop.send(());
    let report = working.await.unwrap().unwrap();
    assert_eq!((report.runs, report.failed), (1, 0));
    main.stop_triggers().await;
}

/// Puts a run of workflow "files" on the queue whose trigger item carries a file that is in
/// no store.
async fn enqueue(queue: &switchyard_queue::Queue, id: &str) {
    let sha = "ab".repeat(32);
    let item = json!([{"json": {}, "binary": {"data": {"fileName": "report.pdf", "mimeType": "application/pdf",
        "size": 3, "sha256": sha, "ref": sha}}}]);
    queue
        .enqueue(&switchyard_queue::RunMessage {
            execution_id: id.into(),
            workflow_id: "files".into(),
            mode: "webhook".into(),
            start_node: None,
            input: item.to_string(),
            reply_to: Some("switchyard:replies:test".into()),
            respond_node: false,
            enqueued_ms: 0,
        })
        .await
        .unwrap();
}

/// A queued run whose file is not in the shared store (a main of an older version put it on
/// the queue, or it aged out) is refused by the worker with the file's name, and nothing runs;
/// while the shared store cannot be read at all, the run waits on the queue instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_refuses_a_run_whose_file_is_missing_naming_it() {
    let pg = Postgres::start();
    pg.psql("CREATE DATABASE missing");
    let location = Location::parse(&pg.url("missing"));
    let redis = Redis::start();
    let dir = tempfile::tempdir().unwrap();
    let worker = open(dir.path(), &location);
    call(&worker, "vault_unlock", json!({"password": PASSWORD})).await.unwrap();
    import_trusted(
        &worker,
        &json!({"switchyard": 1, "id": "files", "name": "Files",
            "nodes": [{"id": "in", "name": "In", "type": "trigger.webhook", "parameters": {"path": "in"}}],
            "connections": []}),
    )
    .await;
    let queue = switchyard_queue::Queue::connect(&redis.url(), QueueConfig::default()).await.unwrap();
    enqueue(&queue, "lost-file").await;
    let reader = queue.reader().await.unwrap();
    let (stop, working) = work(&worker, &redis.url(), 1);
    // While the shared store cannot be read (its table is gone for a moment), the run is not
    // refused: its message stays pending and is taken again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    psql_url(&pg.url("missing"), "ALTER TABLE shared_blobs RENAME TO shared_blobs_away");
    enqueue(&queue, "lost-file-2").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (early, _) = reader.replies("switchyard:replies:test", "0-0", Duration::from_millis(200)).await.unwrap();
    let waiting = queue.stats().await.unwrap();
    psql_url(&pg.url("missing"), "ALTER TABLE shared_blobs_away RENAME TO shared_blobs");
    assert_eq!(early.len(), 1, "only the first run was answered meanwhile: {early:?}");
    assert_eq!(waiting.pending, 1, "the second stays pending while the store cannot be read");
    let deadline = Instant::now() + Duration::from_secs(30);
    let replies = loop {
        let (replies, _) = reader.replies("switchyard:replies:test", "0-0", Duration::from_millis(500)).await.unwrap();
        if replies.len() >= 2 {
            break replies;
        }
        assert!(Instant::now() < deadline, "the second run was taken again within 30 s: {replies:?}");
    };
    for reply in &replies {
        let reply = serde_json::to_value(reply).unwrap();
        assert_eq!(reply["status"], "error", "{reply}");
        let error = reply["error"].as_str().unwrap();
        assert!(error.contains("report.pdf") && error.contains("not in the shared store"), "{error}");
    }
    assert_eq!(queue.stats().await.unwrap().pending, 0, "refused and acknowledged, not run again");
    let _ = stop.send(());
    working.await.unwrap().unwrap();
}
