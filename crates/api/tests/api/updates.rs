//! Updates at the API: the setting, and what a host without an updater says. Checking,
//! downloading, signature verification and install are the desktop shell's (Tauri's updater):
//! src-tauri's tests run them against a local update server.

use super::{call, open};
use serde_json::json;
use switchyard_model::error::ErrorCode;

#[tokio::test]
async fn updates_are_off_until_an_https_update_url_is_set() {
    let (_dir, api, _host) = open();
    let settings = call(&api, "settings_get", json!({})).await.unwrap();
    assert_eq!(settings["updateUrl"], "", "off by default");
    let off = call(&api, "update_check", json!({})).await.unwrap_err();
    assert_eq!(off.code, ErrorCode::BadRequest);
    assert!(off.message.starts_with("updates are off"), "{}", off.message);

    let mut changed = settings.clone();
    changed["updateUrl"] = json!("http://releases.example.com/latest.json");
    let refused = call(&api, "settings_update", changed.clone()).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::BadRequest);
    assert!(refused.message.starts_with("updateUrl must use https"), "{}", refused.message);
    assert_eq!(call(&api, "settings_get", json!({})).await.unwrap()["updateUrl"], "", "nothing was saved");

    changed["updateUrl"] = json!(" https://releases.example.com/{{target}}/latest.json ");
    let saved = call(&api, "settings_update", changed).await.unwrap();
    assert_eq!(saved["updateUrl"], "https://releases.example.com/{{target}}/latest.json");

    // The test's host, like the CLI's, has no updater: it says so, naming the URL it was given.
    let refused = call(&api, "update_check", json!({})).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::BadRequest);
    assert!(
        refused.message.contains("releases.example.com")
            && refused.message.contains("only the desktop app updates itself"),
        "{}",
        refused.message
    );
    let refused = call(&api, "update_install", json!({"version": "9.9.9"})).await.unwrap_err();
    assert!(
        refused.message.starts_with("version 9.9.9 was not installed: only the desktop app"),
        "{}",
        refused.message
    );
    let refused = call(&api, "update_install", json!({"version": " "})).await.unwrap_err();
    assert!(refused.message.starts_with("version: "), "{}", refused.message);
}
