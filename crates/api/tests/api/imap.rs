//! Email Trigger against a real Dovecot started by the test (STARTTLS, a password user, a
//! maildir the test delivers into): each new message starts exactly one run — two arriving
//! together give two runs, a restart does not start old messages again (and starts those
//! that came meanwhile), a recreated mailbox (new UIDVALIDITY) starts over — IDLE wakes the
//! trigger, and messages are marked read once their run succeeded.

use super::webhooks::{executions, open_with_host};
use super::{call, import_trusted};
use base64::Engine as _;
use serde_json::{Value as Json, json};
use std::time::{Duration, Instant};
use switchyard_api::Api;
use switchyard_testkit::mail::{ImapMode, ImapServer};

pub(super) fn message(n: u32, subject: &str, attachment: &[u8]) -> Vec<u8> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(attachment);
    format!(
        "From: Ann Example <ann@example.test>\r\nTo: ops@example.test, Bob <bob@example.test>\r\n\
         Subject: {subject}\r\nDate: Wed, 2 Dec 2026 10:0{n}:00 +0100\r\nMessage-ID: <m{n}@example.test>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: multipart/alternative; boundary=\"b2\"\r\n\r\n\
         --b2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nOrder {n} is ready.\r\n\
         --b2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Order <b>{n}</b> is ready.</p>\r\n--b2--\r\n\
         --b1\r\nContent-Type: text/csv; name=\"order-{n}.csv\"\r\nContent-Disposition: attachment; filename=\"order-{n}.csv\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n--b1--\r\n"
    )
    .into_bytes()
}

/// The trigger items of the workflow's runs, oldest first, once there are `n` (within 20 s).
async fn mails(api: &Api, n: usize) -> Vec<Json> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let list = executions(api, "mail").await;
        if list.len() >= n || Instant::now() > deadline {
            let mut out = Vec::new();
            for summary in list.iter().rev() {
                let run = call(api, "execution_get", json!({"id": summary["id"]})).await.unwrap();
                assert_eq!(run["summary"]["mode"], "event");
                let item = &run["nodes"][0]["outputs"][0]["items"][0];
                let mut json = item["json"].clone();
                json["files"] = item["binary"].clone();
                out.push(json);
            }
            return out;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(super) async fn wait_signed_in(server: &ImapServer) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !server.signed_in() {
        assert!(Instant::now() < deadline, "the trigger did not sign in within 20 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Signed in; give it the moment to SELECT and start IDLE.
    tokio::time::sleep(Duration::from_millis(700)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_new_message_starts_exactly_one_run_across_restarts_and_a_recreated_mailbox() {
    let server = ImapServer::start(ImapMode::StartTls);
    let (_dir, api, _clock, _host) = open_with_host();
    call(&api, "vault_unlock", json!({"password": "correct horse battery"})).await.unwrap();
    let account = |label: &str, password: &str| {
        json!({"connectionType": "email.imap", "label": label, "fields": {
            "host": "127.0.0.1", "port": server.port.to_string(), "security": "starttls", "user": server.user,
            "password": password, "mailbox": "INBOX", "caFile": server.ca.display().to_string()}})
    };
    let good = call(&api, "account_add", account("inbox", &server.password)).await.unwrap();
    let wrong = "not-the-imap-password-3e1";
    let bad = call(&api, "account_add", account("wrong", wrong)).await.unwrap();

    // Test connection: STARTTLS, LOGIN, SELECT.
    server.deliver(&message(0, "Before the trigger", b"old"));
    let tested = call(&api, "account_test", json!({"id": good["id"]})).await.unwrap();
    assert_eq!(tested["ok"], true, "{tested}");
    assert!(tested["message"].as_str().unwrap().contains("mailbox \"INBOX\" holds 1 message(s)"), "{tested}");
    let tested = call(&api, "account_test", json!({"id": bad["id"]})).await.unwrap();
    assert_eq!(tested["ok"], false, "{tested}");
    assert!(tested["message"].as_str().unwrap().contains("signing in as \"alice\""), "{tested}");
    assert!(!tested.to_string().contains(wrong));

    let mut settings = call(&api, "settings_get", json!({})).await.unwrap();
    settings["webhookPort"] = json!(0);
    call(&api, "settings_update", settings).await.unwrap();
    api.start_triggers().await.unwrap();
    import_trusted(
        &api,
        &json!({"switchyard": 1, "id": "mail", "name": "Mail",
            "nodes": [{"id": "in", "name": "New mail", "type": "trigger.imap", "parameters": {"afterRun": "read"},
                       "credentials": {"imap": {"connection": "email.imap", "account": "inbox"}}},
                      {"id": "check", "name": "Check", "type": "code.script", "parameters": {"code":
                        "items.map(|m| { if m.subject.contains(\"FAIL\") { throw \"refused\"; } m })"}}],
            "connections": [{"from": {"node": "in"}, "to": {"node": "check"}}]}),
    )
    .await;
    call(&api, "workflow_activate", json!({"id": "mail", "active": true})).await.unwrap();
    wait_signed_in(&server).await;

    // Two messages in the same second: two runs (IDLE wakes the trigger). The message that
    // was there before starts nothing.
    let csv = b"order,total\n1,19.90\n";
    server.deliver(&message(1, "Order 1", csv));
    server.deliver(&message(2, "Order 2 ✓", b"second"));
    let seen = mails(&api, 2).await;
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0]["subject"], "Order 1");
    assert_eq!(seen[1]["subject"], "Order 2 ✓");
    assert_eq!(seen[0]["from"], "Ann Example <ann@example.test>");
    assert_eq!(seen[0]["to"], json!(["ops@example.test", "Bob <bob@example.test>"]));
    assert_eq!(seen[0]["date"], "2026-12-02T10:01:00+01:00");
    assert_eq!(seen[0]["messageId"], "<m1@example.test>");
    assert!(seen[0]["text"].as_str().unwrap().contains("Order 1 is ready."));
    assert!(seen[0]["html"].as_str().unwrap().contains("<b>1</b>"));
    assert_eq!(seen[0]["headers"]["subject"], "Order 1");
    let file = &seen[0]["files"]["attachment_0"];
    assert_eq!(file["fileName"], "order-1.csv", "{seen:?}");
    assert_eq!(file["mimeType"], "text/csv");
    assert_eq!(file["sha256"], switchyard_testkit::sha256_hex(csv));
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.seen_flags().iter().filter(|f| f.contains('S')).count() < 2 {
        assert!(Instant::now() < deadline, "marked read: {:?}", server.seen_flags());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A restart (as when the app closes and opens again): what started runs does not start
    // them again; a message that came while it was stopped does.
    api.stop_triggers().await;
    server.deliver(&message(3, "While stopped", b"3"));
    api.start_triggers().await.unwrap();
    let seen = mails(&api, 3).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let seen_after = mails(&api, 3).await;
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen_after.len(), 3, "no message started twice");
    assert_eq!(seen[2]["subject"], "While stopped");

    // A message whose run fails is not marked read: it stays for someone to look at.
    server.deliver(&message(5, "FAIL: broken order", b"5"));
    let seen = mails(&api, 4).await;
    assert_eq!(seen[3]["subject"], "FAIL: broken order");
    let runs = executions(&api, "mail").await;
    assert_eq!(runs[0]["status"], "error", "{runs:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.seen_flags().iter().filter(|f| f.contains('S')).count() < 3 {
        assert!(Instant::now() < deadline, "the third message marked read: {:?}", server.seen_flags());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let flags = server.seen_flags();
    assert_eq!(flags.iter().filter(|f| f.contains('S')).count(), 3, "the failed one stays unread: {flags:?}");

    // The mailbox is removed and made again (a new UIDVALIDITY): the trigger starts over, so
    // the message in the new mailbox starts a run although its UID is low again.
    api.stop_triggers().await;
    server.recreate_inbox();
    server.deliver(&message(4, "New mailbox", b"4"));
    api.start_triggers().await.unwrap();
    let seen = mails(&api, 5).await;
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert_eq!(seen[4]["subject"], "New mailbox");
    assert_eq!(seen[4]["uid"], 1);
    api.stop_triggers().await;
}
