//! Account secrets used outside HTTP requests (an HMAC key, a program's environment): the
//! user's own workflows use them; a workflow from a file may only after the review listed
//! the account and the user approved it, and an edit naming another account asks again.

use crate::{call, open};
use serde_json::{Value as Json, json};
use switchyard_model::error::ErrorCode;

const SHOP_SECRET: &str = "whsec-shop-5d41402abc4b2a76";

async fn add_accounts(api: &switchyard_api::Api) {
    call(api, "vault_unlock", json!({"password": "correct horse battery"})).await.unwrap();
    for (label, secret) in [("shop", SHOP_SECRET), ("other", "other-secret")] {
        call(
            api,
            "account_add",
            json!({"connectionType": "webhook.secret", "label": label, "fields": {"secret": secret}}),
        )
        .await
        .unwrap();
    }
}

/// Manual Trigger → Set {body} → HMAC with the account `account`.
fn signer(id: &str, account: &str) -> Json {
    json!({"switchyard": 1, "id": id, "name": "Sign orders",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "s", "name": "Body", "type": "data.set",
             "parameters": {"assignments": [{"name": "body", "value": "{\"order\":42,\"total\":\"19.90\"}"}]}},
            {"id": "h", "name": "Sign", "type": "crypto.hmac",
             "parameters": {"value": "{{ json.body }}"},
             "credentials": {"key": {"connection": "webhook.secret", "account": account}}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "s"}}, {"from": {"node": "s"}, "to": {"node": "h"}}]})
}

/// What `openssl dgst -hmac` says of `text` signed with `key`.
fn openssl_hmac(key: &str, text: &str) -> String {
    let out = switchyard_testkit::tool_output("openssl", &["dgst", "-sha256", "-hmac", key], text.as_bytes());
    out.trim().rsplit(' ').next().unwrap().to_string()
}

#[tokio::test]
async fn an_own_workflow_signs_with_an_account_secret_as_openssl_does() {
    let (_dir, api, _) = open();
    add_accounts(&api).await;
    let created = call(&api, "workflow_create", json!({"name": "Sign orders"})).await.unwrap();
    let wf = signer(created["workflow"]["id"].as_str().unwrap(), "shop");
    call(&api, "workflow_save", json!({"workflow": wf, "expectedVersion": 1})).await.unwrap();
    let review = call(&api, "workflow_trust_review", json!({"id": wf["id"]})).await.unwrap();
    assert_eq!(
        review["local"],
        json!([{"kind": "secret", "target": "webhook.secret/shop", "nodes": ["Sign"], "approved": true}])
    );
    let result = call(&api, "run_wait", json!({"workflowId": wf["id"]})).await.unwrap();
    assert_eq!(result["status"], "success", "{result}");
    let out = &result["items"][0]["json"];
    assert_eq!(out["signature"], openssl_hmac(SHOP_SECRET, r#"{"order":42,"total":"19.90"}"#), "{out}");
    // The saved workflow holds the account's name, never its secret.
    let saved = call(&api, "workflow_get", json!({"id": wf["id"]})).await.unwrap();
    assert!(!saved.to_string().contains(SHOP_SECRET));
}

#[tokio::test]
async fn a_shared_file_cannot_sign_with_an_account_until_the_user_approves_that_account() {
    let (_dir, api, _) = open();
    add_accounts(&api).await;
    // Someone else's file that would sign what it likes with the user's shop secret (and
    // could then send the signature anywhere with a plain HTTP Request).
    let shared = signer("shared", "shop");
    let imported =
        call(&api, "workflow_import", json!({"text": shared.to_string(), "fileName": "signer.json", "keepId": true}))
            .await
            .unwrap();
    let review = &imported["review"];
    assert_eq!(
        review["local"],
        json!([{"kind": "secret", "target": "webhook.secret/shop", "nodes": ["Sign"], "approved": false}]),
        "{review}"
    );
    let refused = call(&api, "run_wait", json!({"workflowId": "shared"})).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::WorkflowUntrusted, "{}", refused.message);
    assert!(
        refused.message.contains("hands out the secret of \"webhook.secret/shop\" (nodes \"Sign\")"),
        "{}",
        refused.message
    );

    call(&api, "workflow_trust", json!({"id": "shared", "version": 1})).await.unwrap();
    let result = call(&api, "run_wait", json!({"workflowId": "shared"})).await.unwrap();
    assert_eq!(result["status"], "success", "{result}");
    assert_eq!(result["items"][0]["json"]["signature"], openssl_hmac(SHOP_SECRET, r#"{"order":42,"total":"19.90"}"#));

    // Switching to another account is a new approval.
    let edited = signer("shared", "other");
    call(&api, "workflow_save", json!({"workflow": edited, "expectedVersion": 1})).await.unwrap();
    let refused = call(&api, "run_wait", json!({"workflowId": "shared"})).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::WorkflowUntrusted, "{}", refused.message);
    assert!(refused.message.contains("hands out the secret of \"webhook.secret/other\""), "{}", refused.message);
}

/// Manual Trigger → Execute Command `printenv` of the variables, the account's secret and
/// user name among them.
fn printer(id: &str, account: Json) -> Json {
    json!({"switchyard": 1, "id": id, "name": "Deploy",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "c", "name": "Deploy", "type": "shell.exec",
             "parameters": {"command": "printenv",
                "arguments": [{"value": "DEPLOY_USER"}, {"value": "DEPLOY_TOKEN"}, {"value": "TARGET"}],
                "environment": [
                    {"name": "DEPLOY_USER", "source": "user"},
                    {"name": "DEPLOY_TOKEN", "source": "secret"},
                    {"name": "TARGET", "value": "{{ \"pr\" + \"od\" }}"}
                ]},
             "credentials": {"secrets": account}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "c"}}]})
}

#[tokio::test]
async fn a_program_gets_an_account_secret_in_its_environment_and_a_shared_file_only_once_approved() {
    let (_dir, api, _) = open();
    call(&api, "vault_unlock", json!({"password": "correct horse battery"})).await.unwrap();
    call(
        &api,
        "account_add",
        json!({"connectionType": "http.basic", "label": "deploy",
               "fields": {"username": "ci-bot", "password": "p@ss w0rd $(rm -rf ~)"}}),
    )
    .await
    .unwrap();
    let account = json!({"connection": "http.basic", "account": "deploy"});
    let created = call(&api, "workflow_create", json!({"name": "Deploy"})).await.unwrap();
    let wf = printer(created["workflow"]["id"].as_str().unwrap(), account.clone());
    call(&api, "workflow_save", json!({"workflow": wf, "expectedVersion": 1})).await.unwrap();
    let result = call(&api, "run_wait", json!({"workflowId": wf["id"]})).await.unwrap();
    assert_eq!(result["status"], "success", "{result}");
    assert_eq!(result["items"][0]["json"]["stdout"], "ci-bot\np@ss w0rd $(rm -rf ~)\nprod\n", "{result}");

    // The same from a shared file: the review names the program and the account.
    let imported = call(
        &api,
        "workflow_import",
        json!({"text": printer("shared", account).to_string(), "fileName": "deploy.json", "keepId": true}),
    )
    .await
    .unwrap();
    assert_eq!(
        imported["review"]["local"],
        json!([
            {"kind": "command", "target": "printenv", "nodes": ["Deploy"], "approved": false},
            {"kind": "secret", "target": "http.basic/deploy", "nodes": ["Deploy"], "approved": false},
        ])
    );
    let refused = call(&api, "run_wait", json!({"workflowId": "shared"})).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::WorkflowUntrusted);
    call(&api, "workflow_trust", json!({"id": "shared", "version": 1})).await.unwrap();
    let result = call(&api, "run_wait", json!({"workflowId": "shared"})).await.unwrap();
    assert_eq!(result["items"][0]["json"]["stdout"], "ci-bot\np@ss w0rd $(rm -rf ~)\nprod\n", "{result}");

    // A variable from an account with no account chosen names the variable.
    let created = call(&api, "workflow_create", json!({"name": "No account"})).await.unwrap();
    let mut wf = printer(created["workflow"]["id"].as_str().unwrap(), json!(null));
    wf["nodes"][1].as_object_mut().unwrap().remove("credentials");
    call(&api, "workflow_save", json!({"workflow": wf, "expectedVersion": 1})).await.unwrap();
    let result = call(&api, "run_wait", json!({"workflowId": wf["id"]})).await.unwrap();
    assert_eq!(result["error"]["code"], "credential_missing", "{result}");
    assert!(result["error"]["message"].as_str().unwrap().contains("Account for secrets"), "{result}");
    assert_eq!(result["error"]["parameter"], "environment[0].source", "{result}");
}
