//! The database and email examples against real servers: the daily orders digest (PostgreSQL
//! → Send Email) and order mails saved into SQLite (Email Trigger → Code → SQL Query → SQL
//! Write).

use super::webhooks::{executions, open_with_host};
use super::{call, example, import_trusted, open};
use serde_json::json;
use std::time::{Duration, Instant};
use switchyard_testkit::mail::{ImapMode, ImapServer, SmtpMode, SmtpServer};
use switchyard_testkit::servers::Postgres;

#[tokio::test]
async fn the_orders_digest_mails_the_last_day_of_orders() {
    let db = Postgres::start();
    db.psql(
        "CREATE TABLE orders (id int PRIMARY KEY, customer text, total numeric(10,2), created_at timestamptz); \
         INSERT INTO orders VALUES (1, 'Ada', 19.90, now() - interval '2 hours'), (2, 'Lin', 5.10, now() - interval '3 hours'), \
         (3, 'Old', 99.00, now() - interval '3 days')",
    );
    let smtp = SmtpServer::start(SmtpMode::StartTls);
    let (_dir, api, _) = open();
    call(&api, "vault_unlock", json!({"password": "correct horse battery"})).await.unwrap();
    call(
        &api,
        "account_add",
        json!({"connectionType": "db.postgres", "label": "shop", "fields": {"host": "127.0.0.1",
            "port": db.port.to_string(), "database": db.database, "user": db.user, "password": db.password, "tls": "disable"}}),
    )
    .await
    .unwrap();
    call(
        &api,
        "account_add",
        json!({"connectionType": "email.smtp", "label": "reports", "fields": {"host": "127.0.0.1",
            "port": smtp.port.to_string(), "security": "starttls", "user": smtp.user, "password": smtp.password,
            "from": "Shop <shop@example.test>", "caFile": smtp.ca.display().to_string()}}),
    )
    .await
    .unwrap();
    let wf: serde_json::Value = serde_json::from_str(&example("orders-digest.json")).unwrap();
    import_trusted(&api, &wf).await;
    let result = call(&api, "run_wait", json!({"workflowId": "orders-digest"})).await.unwrap();
    assert_eq!(result["status"], "success", "{result}");
    let mail = &smtp.wait_for(1)[0];
    assert_eq!(mail.to, ["team@example.com"]);
    let parsed = mail_parser::MessageParser::default().parse(&mail.raw).unwrap();
    assert_eq!(parsed.subject(), Some("Orders in the last 24 hours: 2 (25.00)"));
    let text = parsed.body_text(0).unwrap().replace("\r\n", "\n");
    assert!(text.contains("#1  Ada  19.90\n#2  Lin  5.10"), "{text}");
    assert!(!text.contains("Old"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_mails_are_saved_into_sqlite_once_each() {
    let imap = ImapServer::start(ImapMode::StartTls);
    let (dir, api, _clock, _host) = open_with_host();
    call(&api, "vault_unlock", json!({"password": "correct horse battery"})).await.unwrap();
    call(
        &api,
        "account_add",
        json!({"connectionType": "email.imap", "label": "orders-inbox", "fields": {"host": "127.0.0.1",
            "port": imap.port.to_string(), "security": "starttls", "user": imap.user, "password": imap.password,
            "caFile": imap.ca.display().to_string()}}),
    )
    .await
    .unwrap();
    let file = dir.path().join("orders.sqlite");
    call(
        &api,
        "account_add",
        json!({"connectionType": "db.sqlite", "label": "orders-db", "fields": {"path": file.display().to_string()}}),
    )
    .await
    .unwrap();
    let mut settings = call(&api, "settings_get", json!({})).await.unwrap();
    settings["webhookPort"] = json!(0);
    call(&api, "settings_update", settings).await.unwrap();
    api.start_triggers().await.unwrap();
    let wf: serde_json::Value = serde_json::from_str(&example("mail-to-sqlite.json")).unwrap();
    import_trusted(&api, &wf).await;
    call(&api, "workflow_activate", json!({"id": "mail-to-sqlite", "active": true})).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !imap.signed_in() {
        assert!(Instant::now() < deadline, "the trigger did not sign in");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    for (n, subject) in [(1, "Order #1042 confirmed"), (2, "Order #1043 confirmed")] {
        imap.deliver(
            format!(
                "From: Shop <shop@example.test>\r\nTo: orders@example.test\r\nSubject: {subject}\r\n\
                 Date: Wed, 2 Dec 2026 11:00:0{n} +0000\r\nMessage-ID: <order-{n}@example.test>\r\n\r\nThanks!\r\n"
            )
            .as_bytes(),
        );
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let runs = executions(&api, "mail-to-sqlite").await;
        if runs.len() >= 2 && runs.iter().all(|r| r["status"] != "running") {
            assert!(runs.iter().all(|r| r["status"] == "success"), "{runs:?}");
            break;
        }
        assert!(Instant::now() < deadline, "two runs: {runs:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let query = json!({"switchyard": 1, "id": "q", "name": "Q",
        "nodes": [{"id": "t", "name": "Start", "type": "trigger.manual"},
                  {"id": "q", "name": "Q", "type": "db.query",
                   "parameters": {"query": "SELECT message_id, sender, order_no FROM messages ORDER BY order_no"},
                   "credentials": {"database": {"connection": "db.sqlite", "account": "orders-db"}}}],
        "connections": [{"from": {"node": "t"}, "to": {"node": "q"}}]});
    let rows = call(&api, "run_wait", json!({"workflow": query})).await.unwrap();
    let rows: Vec<serde_json::Value> = rows["items"].as_array().unwrap().iter().map(|i| i["json"].clone()).collect();
    assert_eq!(
        rows,
        [
            json!({"message_id": "<order-1@example.test>", "sender": "Shop <shop@example.test>", "order_no": "1042"}),
            json!({"message_id": "<order-2@example.test>", "sender": "Shop <shop@example.test>", "order_no": "1043"}),
        ]
    );
    api.stop_triggers().await;
}
