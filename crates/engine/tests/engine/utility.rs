//! Hash and UUID against other tools' answers; Date & Time in zones and business days.

use crate::support::{engine, jsons, run};
use serde_json::json;
use switchyard_model::error::ErrorCode;
use switchyard_model::execution::RunStatus;

use crate::support::after_start as one;

/// What `sha256sum`/`sha512sum`/`sha1sum` (coreutils) say of `text`.
fn coreutils(tool: &str, text: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new(tool)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string()
}

#[tokio::test]
async fn hashes_agree_with_coreutils() {
    let texts = json!([{"body": "abc"}, {"body": "Grüße, 世界\n"}, {"body": ""}]);
    for (algorithm, tool) in
        [("sha256", "sha256sum"), ("sha512", "sha512sum"), ("sha1", "sha1sum"), ("sha384", "sha384sum")]
    {
        let wf =
            one("crypto.hash", json!({"value": "{{ json.body }}", "algorithm": algorithm, "field": "meta.digest"}));
        let (outcome, _) = run(&engine(), wf, texts.clone()).await;
        assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
        for (item, text) in jsons(&outcome.result).iter().zip(["abc", "Grüße, 世界\n", ""]) {
            assert_eq!(item["meta"]["digest"], coreutils(tool, text), "{algorithm} of {text:?}");
            assert_eq!(item["body"], text, "the item keeps its fields");
        }
    }
    let wf = one("crypto.hash", json!({"value": "abc", "encoding": "base64"}));
    let (outcome, _) = run(&engine(), wf, json!(null)).await;
    assert_eq!(jsons(&outcome.result)[0]["hash"], "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
}

#[tokio::test]
async fn uuids_are_new_for_every_item_and_v7_sorts_by_time() {
    let wf = one("util.uuid", json!({"version": "v7", "field": "ref"}));
    let (outcome, _) = run(&engine(), wf, json!([{}, {}, {}])).await;
    let ids: Vec<String> = jsons(&outcome.result).iter().map(|o| o["ref"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().all(|id| id.len() == 36 && id.as_bytes()[14] == b'7'), "{ids:?}");
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(sorted, ids, "time-ordered");
    let (outcome, _) = run(&engine(), one("util.uuid", json!({})), json!([{}, {}])).await;
    let ids: Vec<String> = jsons(&outcome.result).iter().map(|o| o["id"].as_str().unwrap().to_string()).collect();
    assert!(ids[0] != ids[1] && ids.iter().all(|id| id.as_bytes()[14] == b'4'), "{ids:?}");
}

#[tokio::test]
async fn date_and_time_in_zones_with_business_days() {
    let wf = |params: serde_json::Value| crate::support::after_start("datetime", params);
    let input = json!([{"due": "2026-12-23 17:00", "opened": "2026-12-18", "closed": "2026-12-29"}]);
    let (outcome, _) = run(
        &engine(),
        wf(json!({"operation": "add", "value": "{{ json.due }}", "amount": 2, "unit": "businessDays",
                  "holidays": "2026-12-24, 2026-12-25", "timezone": "Europe/Paris", "field": "next"})),
        input.clone(),
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    assert_eq!(
        jsons(&outcome.result)[0]["next"],
        "2026-12-29T17:00:00+01:00",
        "Thu 24 and Fri 25 are off, then the weekend"
    );

    let (outcome, _) = run(
        &engine(),
        wf(json!({"operation": "difference", "value": "{{ json.opened }}", "other": "{{ json.closed }}", "unit": "businessDays", "field": "took"})),
        input.clone(),
    )
    .await;
    assert_eq!(jsons(&outcome.result)[0]["took"], 7);

    let (outcome, _) = run(
        &engine(),
        wf(json!({"operation": "now", "timezone": "Asia/Tokyo", "outputFormat": "%Y-%m-%d %H:%M %Z"})),
        json!(null),
    )
    .await;
    assert_eq!(jsons(&outcome.result)[0]["date"], "2026-01-31 21:00 JST", "the run clock's now, shown in Tokyo");

    let (outcome, _) =
        run(&engine(), wf(json!({"value": "{{ json.when }}"})), json!([{"when": "2026-01-01"}, {"when": "soon"}]))
            .await;
    let error = outcome.error.unwrap();
    assert_eq!(error.code, ErrorCode::ConversionFailed);
    assert_eq!(error.parameter.as_deref(), Some("value"));
    assert_eq!(error.item_index, Some(1));
    assert!(error.message.contains("\"soon\" is not a date"), "{}", error.message);

    let mut bad = wf(json!({}));
    bad.nodes[1].parameters.insert("timezone".into(), json!("Mars/Olympus"));
    let issues = engine().validate(&bad);
    assert_eq!(issues[0].path, "$.nodes[1].parameters.timezone", "{issues:?}");
}
