//! Hash and UUID against other tools' answers.

use crate::support::{engine, jsons, run};
use serde_json::json;
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
