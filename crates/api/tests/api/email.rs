//! Send Email against a real SMTP server started by the tests (aiosmtpd): STARTTLS and TLS
//! on a certificate from the test's own CA, AUTH with a password, the received message's
//! MIME structure, headers and attachment bytes, Bcc kept out of the headers, and refusals
//! classed (4xx transient, 5xx permanent) without the password anywhere.

use crate::{call, open};
use mail_parser::MimeHeaders;
use serde_json::{Value as Json, json};
use switchyard_testkit::mail::{SmtpMode, SmtpServer};

async fn unlock(api: &switchyard_api::Api) {
    call(api, "vault_unlock", json!({"password": "correct horse battery"})).await.unwrap();
}

async fn add_smtp(api: &switchyard_api::Api, server: &SmtpServer, label: &str, fields: Json) -> String {
    let mut all = json!({"host": "127.0.0.1", "port": server.port.to_string(), "security": "starttls",
        "user": server.user, "password": server.password, "from": "Reports <reports@example.test>",
        "caFile": server.ca.display().to_string()});
    for (k, v) in fields.as_object().unwrap() {
        all[k] = v.clone();
    }
    let added =
        call(api, "account_add", json!({"connectionType": "email.smtp", "label": label, "fields": all})).await.unwrap();
    added["id"].as_str().unwrap().to_string()
}

/// Manual Trigger → Read Files (`file`, when given) → Send Email on `account`.
fn send_workflow(account: &str, file: Option<&std::path::Path>, parameters: Json) -> Json {
    let mut nodes = vec![json!({"id": "t", "name": "Start", "type": "trigger.manual"})];
    let mut connections = Vec::new();
    let mut last = "t";
    if let Some(path) = file {
        nodes.push(json!({"id": "r", "name": "Read", "type": "file.read",
            "parameters": {"path": path.display().to_string(), "format": "file"}}));
        connections.push(json!({"from": {"node": "t"}, "to": {"node": "r"}}));
        last = "r";
    }
    nodes.push(json!({"id": "m", "name": "Mail", "type": "email.send", "parameters": parameters,
        "credentials": {"smtp": {"connection": "email.smtp", "account": account}}}));
    connections.push(json!({"from": {"node": last}, "to": {"node": "m"}}));
    json!({"switchyard": 1, "id": "mail", "name": "Mail", "nodes": nodes, "connections": connections})
}

async fn run(api: &switchyard_api::Api, wf: Json) -> Json {
    call(api, "run_wait", json!({"workflow": wf})).await.unwrap()
}

#[tokio::test]
async fn a_message_goes_over_starttls_with_auth_bodies_attachment_and_hidden_bcc() {
    let server = SmtpServer::start(SmtpMode::StartTls);
    let (dir, api, _) = open();
    unlock(&api).await;
    let mut settings = call(&api, "settings_get", json!({})).await.unwrap();
    settings["localRoots"] = json!([dir.path().display().to_string()]);
    call(&api, "settings_update", settings).await.unwrap();
    let good = add_smtp(&api, &server, "reports", json!({})).await;
    let wrong_password = "not-the-smtp-password-5d2";
    let bad = add_smtp(&api, &server, "wrong", json!({"password": wrong_password})).await;

    // Test connection: EHLO, STARTTLS, AUTH.
    let tested = call(&api, "account_test", json!({"id": good})).await.unwrap();
    assert_eq!(tested["ok"], true, "{tested}");
    let tested = call(&api, "account_test", json!({"id": bad})).await.unwrap();
    assert_eq!(tested["ok"], false, "{tested}");
    let message = tested["message"].as_str().unwrap();
    assert!(message.contains("535"), "{message}");
    assert!(message.contains(&format!("SMTP \"wrong\" at 127.0.0.1:{}", server.port)), "{message}");
    assert!(!tested.to_string().contains(wrong_password));

    let bytes: Vec<u8> = (0..150_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let file = dir.path().join("report.bin");
    std::fs::write(&file, &bytes).unwrap();
    let wf = send_workflow(
        "reports",
        Some(&file),
        json!({"to": "Ann Example <ann@example.test>, bob@example.test", "cc": "carol@example.test",
               "bcc": "dave@example.test", "replyTo": "help@example.test",
               "subject": "Weekly report ✓ {{ json.fileName }}",
               "text": "Hello,\nthe report is attached ({{ binary.data.size }} bytes).",
               "html": "<p>Hello, the <b>report</b> is attached.</p>",
               "attachments": "*"}),
    );
    let result = run(&api, wf).await;
    assert_eq!(result["status"], "success", "{result}");
    let out = &result["items"][0]["json"];
    assert!(out["response"].as_str().unwrap().starts_with("250"), "{out}");
    assert_eq!(out["accepted"].as_array().unwrap().len(), 4, "to, cc and bcc: {out}");

    let received = server.wait_for(1);
    let mail = &received[0];
    assert!(mail.tls && mail.authenticated, "STARTTLS then AUTH");
    assert_eq!(mail.from, "reports@example.test");
    assert!(mail.to.contains(&"dave@example.test".to_string()), "Bcc is a recipient: {:?}", mail.to);
    let raw = String::from_utf8_lossy(&mail.raw);
    assert!(!raw.contains("dave@example.test"), "Bcc is not in the headers");

    let parsed = mail_parser::MessageParser::default().parse(&mail.raw).unwrap();
    assert_eq!(parsed.subject(), Some("Weekly report ✓ report.bin"));
    assert_eq!(parsed.from().unwrap().first().unwrap().address(), Some("reports@example.test"));
    let to: Vec<&str> = parsed.to().unwrap().iter().filter_map(|a| a.address()).collect();
    assert_eq!(to, ["ann@example.test", "bob@example.test"]);
    assert_eq!(parsed.to().unwrap().first().unwrap().name(), Some("Ann Example"));
    assert_eq!(parsed.cc().unwrap().first().unwrap().address(), Some("carol@example.test"));
    assert_eq!(parsed.reply_to().unwrap().first().unwrap().address(), Some("help@example.test"));
    assert_eq!(format!("<{}>", parsed.message_id().unwrap()), out["messageId"].as_str().unwrap());
    assert!(parsed.body_text(0).unwrap().contains("the report is attached (150000 bytes)"), "{raw}");
    assert!(parsed.body_html(0).unwrap().contains("<b>report</b>"));
    let attachment = parsed.attachment(0).expect("an attachment");
    assert_eq!(attachment.attachment_name(), Some("report.bin"));
    assert_eq!(switchyard_testkit::sha256_hex(attachment.contents()), switchyard_testkit::sha256_hex(&bytes));
    assert_eq!(parsed.attachment_count(), 1);

    // The wrong password in a run: a coded error, no password in it.
    let result =
        run(&api, send_workflow("wrong", None, json!({"to": "x@example.test", "subject": "s", "text": "t"}))).await;
    assert_eq!(result["error"]["code"], "mail_rejected", "{result}");
    assert!(!result.to_string().contains(wrong_password));
}

#[tokio::test]
async fn refusals_are_classed_and_tls_is_verified() {
    let server = SmtpServer::start(SmtpMode::Tls);
    let (_dir, api, _) = open();
    unlock(&api).await;
    add_smtp(&api, &server, "tls", json!({"security": "tls"})).await;
    let untrusted = add_smtp(&api, &server, "untrusted", json!({"security": "tls", "caFile": ""})).await;

    // The system does not trust the test's CA: refused, saying why.
    let tested = call(&api, "account_test", json!({"id": untrusted})).await.unwrap();
    assert_eq!(tested["ok"], false, "{tested}");
    assert!(tested["message"].as_str().unwrap().to_lowercase().contains("certificate"), "{tested}");

    let send = |to: &str| send_workflow("tls", None, json!({"to": to, "subject": "Hi", "text": "Hello"}));
    let result = run(&api, send("ok@example.test")).await;
    assert_eq!(result["status"], "success", "{result}");
    assert!(server.wait_for(1)[0].tls);

    // 550: permanent (no retry helps); 451: transient (the retry policy may retry).
    let result = run(&api, send("nobody@reject.test")).await;
    assert_eq!(result["error"]["code"], "mail_rejected", "{result}");
    assert_eq!(result["error"]["class"], "permanent", "{result}");
    assert!(result["error"]["message"].as_str().unwrap().contains("550"), "{result}");
    let result = run(&api, send("busy@later.test")).await;
    assert_eq!(result["error"]["code"], "mail_rejected", "{result}");
    assert_eq!(result["error"]["class"], "transient", "{result}");

    // Bad addresses name the parameter before anything is sent.
    let result = run(&api, send("not an address")).await;
    assert_eq!(result["error"]["code"], "invalid_parameter", "{result}");
    assert_eq!(result["error"]["parameter"], "to", "{result}");
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn a_plain_local_relay_and_a_host_the_account_does_not_allow() {
    let server = SmtpServer::start(SmtpMode::Plain);
    let (_dir, api, _) = open();
    unlock(&api).await;
    add_smtp(&api, &server, "relay", json!({"security": "none"})).await;
    let result =
        run(&api, send_workflow("relay", None, json!({"to": "a@example.test", "subject": "s", "html": "<i>x</i>"})))
            .await;
    assert_eq!(result["status"], "success", "{result}");
    let parsed = mail_parser::MessageParser::default().parse(&server.wait_for(1)[0].raw).unwrap().into_owned();
    assert_eq!(parsed.body_html(0).unwrap().trim(), "<i>x</i>");
    assert!(!server.received()[0].tls);

    // The account's allowed hosts hold: allow only another host, and the node refuses to
    // connect.
    let accounts = call(&api, "account_list", json!({})).await.unwrap();
    let id = accounts["accounts"][0]["id"].clone();
    call(&api, "account_hosts", json!({"id": id, "hosts": ["mail.example.com:587"]})).await.unwrap();
    let result =
        run(&api, send_workflow("relay", None, json!({"to": "a@example.test", "subject": "s", "text": "x"}))).await;
    assert_eq!(result["error"]["code"], "credential_host_not_allowed", "{result}");
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn an_alert_rule_emails_through_an_smtp_account() {
    let server = SmtpServer::start(SmtpMode::StartTls);
    let (_dir, api, _) = open();
    unlock(&api).await;
    add_smtp(&api, &server, "alerts", json!({})).await;
    let rules = call(&api, "alert_rules", json!({})).await.unwrap();
    let mut rule = rules["rules"][0].clone();
    rule["actions"] =
        json!([{"type": "email", "account": "alerts", "to": "Ops <ops@example.test>, oncall@example.test"}]);
    call(&api, "alert_rule_save", rule.clone()).await.unwrap();
    let results = call(&api, "alert_rule_test", json!({"id": rule["id"]})).await.unwrap()["results"].clone();
    assert_eq!(results[0]["ok"], true, "{results}");
    assert_eq!(results[0]["action"], "email");
    let mail = &server.wait_for(1)[0];
    assert_eq!(mail.to, ["ops@example.test", "oncall@example.test"]);
    let parsed = mail_parser::MessageParser::default().parse(&mail.raw).unwrap();
    assert!(parsed.subject().unwrap().contains(rule["name"].as_str().unwrap()), "{:?}", parsed.subject());
    assert!(parsed.body_text(0).unwrap().contains("Sent by Switchyard."));

    // An account that does not exist, and a rule without addresses: said plainly.
    rule["actions"] = json!([{"type": "email", "account": "nobody", "to": "ops@example.test"}]);
    call(&api, "alert_rule_save", rule.clone()).await.unwrap();
    let results = call(&api, "alert_rule_test", json!({"id": rule["id"]})).await.unwrap()["results"].clone();
    assert_eq!(results[0]["ok"], false, "{results}");
    assert!(results[0]["message"].as_str().unwrap().contains("SMTP account \"nobody\""), "{results}");
    rule["actions"] = json!([{"type": "email", "account": "alerts", "to": ""}]);
    let refused = call(&api, "alert_rule_save", rule).await.unwrap_err();
    assert!(refused.message.contains("actions[0].to"), "{}", refused.message);
}

#[tokio::test]
async fn a_shared_file_cannot_send_mail_with_the_users_account_until_trusted() {
    let server = SmtpServer::start(SmtpMode::StartTls);
    let (_dir, api, _) = open();
    unlock(&api).await;
    add_smtp(&api, &server, "reports", json!({})).await;
    // Someone else's file that would mail whatever it likes from the user's address.
    let mut shared =
        send_workflow("reports", None, json!({"to": "attacker@example.test", "subject": "s", "text": "t"}));
    shared["id"] = json!("shared-mail");
    let imported =
        call(&api, "workflow_import", json!({"text": shared.to_string(), "fileName": "mail.json", "keepId": true}))
            .await
            .unwrap();
    assert!(imported["review"].to_string().contains("reports"), "the review names the account: {}", imported["review"]);
    let refused = call(&api, "run_wait", json!({"workflowId": "shared-mail"})).await.unwrap_err();
    assert_eq!(refused.code, switchyard_model::error::ErrorCode::WorkflowUntrusted, "{}", refused.message);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(server.received().is_empty(), "nothing was sent");
    call(&api, "workflow_trust", json!({"id": "shared-mail", "version": 1})).await.unwrap();
    let result = call(&api, "run_wait", json!({"workflowId": "shared-mail"})).await.unwrap();
    assert_eq!(result["status"], "success", "{result}");
    assert_eq!(server.wait_for(1).len(), 1);
}
