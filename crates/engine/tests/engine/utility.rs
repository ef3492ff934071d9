//! Hash and UUID against other tools' answers; Date & Time in zones and business days.

use crate::support::{chain, engine, jsons, p, run};
use serde_json::json;
use switchyard_model::error::ErrorCode;
use switchyard_model::execution::RunStatus;

use crate::support::after_start as one;

/// What `sha256sum`/`sha512sum`/`sha1sum` (coreutils) say of `text`.
fn coreutils(tool: &str, text: &str) -> String {
    switchyard_testkit::tool_output(tool, &[], text.as_bytes()).split_whitespace().next().unwrap().to_string()
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

/// What `openssl dgst` says of a file, with `args` choosing the digest and key.
fn openssl(args: &[&str], file: &std::path::Path) -> String {
    let out = std::process::Command::new("openssl").args(["dgst"]).args(args).arg(file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().rsplit(' ').next().unwrap().to_string()
}

#[tokio::test]
async fn hmac_with_a_written_key_agrees_with_rfc_4231_and_openssl() {
    // RFC 4231 test case 2 (key "Jefe") and test case 1 (a hex key of twenty 0x0b bytes).
    let cases = [
        (
            json!({"value": "{{ json.text }}", "keySource": "text", "key": "Jefe"}),
            "what do ya want for nothing?",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
        (
            json!({"value": "{{ json.text }}", "keySource": "text", "key": "4a656665", "keyEncoding": "hex",
                   "algorithm": "sha512"}),
            "what do ya want for nothing?",
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
        ),
        (
            json!({"value": "{{ json.text }}", "keySource": "text", "key": "0b".repeat(20), "keyEncoding": "hex",
                   "field": "sig.v1"}),
            "Hi There",
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        ),
    ];
    for (params, text, expected) in cases {
        let field = params["field"].as_str().unwrap_or("signature").to_string();
        let (outcome, _) = run(&engine(), one("crypto.hmac", params), json!([{"text": text}])).await;
        assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
        let item = &jsons(&outcome.result)[0];
        let got = field.split('.').fold(item, |v, k| &v[k]);
        assert_eq!(got, expected, "{text}");
    }

    // A Svix-style `whsec_` key is base64 after its prefix; base64 output.
    let wf = one(
        "crypto.hmac",
        json!({"value": "msg_1.1700000000.{\"a\":1}", "keySource": "text", "key": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
               "keyEncoding": "base64", "encoding": "base64"}),
    );
    let (outcome, _) = run(&engine(), wf, json!(null)).await;
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("body");
    std::fs::write(&body, "msg_1.1700000000.{\"a\":1}").unwrap();
    let hex_key: String =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
    let expected_hex = openssl(&["-sha256", "-mac", "HMAC", "-macopt", &format!("hexkey:{hex_key}")], &body);
    let got = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        jsons(&outcome.result)[0]["signature"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(got.iter().map(|b| format!("{b:02x}")).collect::<String>(), expected_hex);

    // Bad keys name the parameter; an account key without an account names the slot.
    let wf = one("crypto.hmac", json!({"value": "x", "keySource": "text", "key": "zz", "keyEncoding": "hex"}));
    let (outcome, _) = run(&engine(), wf, json!(null)).await;
    let error = outcome.error.unwrap();
    assert_eq!((error.code, error.parameter.as_deref()), (ErrorCode::InvalidParameter, Some("keyEncoding")));
    let (outcome, _) = run(&engine(), one("crypto.hmac", json!({"value": "x"})), json!(null)).await;
    let error = outcome.error.unwrap();
    assert_eq!(error.code, ErrorCode::CredentialMissing, "{}", error.message);
    assert!(error.message.contains("pick the account"), "{}", error.message);
}

#[tokio::test]
async fn hash_and_hmac_of_a_file_read_it_in_chunks_and_agree_with_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("export 2026 é.bin");
    let bytes: Vec<u8> = (0..3_000_000u64).map(switchyard_testkit::pattern_byte).collect();
    std::fs::write(&source, &bytes).unwrap();
    let engine = crate::binary::with_blobs(dir.path(), 64 << 20);
    let wf = chain(vec![
        ("file.read", json!({"path": p(&source), "format": "file"})),
        ("crypto.hash", json!({"input": "file", "algorithm": "sha512"})),
        ("crypto.hmac", json!({"input": "file", "keySource": "text", "key": "k3y", "algorithm": "sha384"})),
    ]);
    let (outcome, _) = run(&engine, wf, json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let item = &jsons(&outcome.result)[0];
    assert_eq!(item["hash"], openssl(&["-sha512"], &source));
    assert_eq!(item["signature"], openssl(&["-sha384", "-hmac", "k3y"], &source));
    assert_eq!(outcome.result[0].file("data").unwrap().size, 3_000_000, "the file stays on the item");

    // An item without that file fails naming the property.
    let wf = chain(vec![("crypto.hash", json!({"input": "file", "binaryProperty": "scan"}))]);
    let (outcome, _) = run(&engine, wf, json!([{"a": 1}])).await;
    let error = outcome.error.unwrap();
    assert_eq!(error.code, ErrorCode::MissingBinary);
    assert_eq!(error.parameter.as_deref(), Some("binaryProperty"));
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
