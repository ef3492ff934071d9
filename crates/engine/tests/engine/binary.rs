//! Files in items: read from disk and downloaded into the blob store, seen by expressions
//! as metadata, written back and uploaded byte for byte, and bounded by the run's quota.

use crate::support::{chain, engine, jsons, p, run};
use serde_json::{Value as Json, json};
use std::path::Path;
use std::sync::Arc;
use switchyard_core::blobs::BlobStore;
use switchyard_engine::binary::Blobs;
use switchyard_engine::{Engine, Registry};
use switchyard_model::error::ErrorCode;
use switchyard_model::execution::RunStatus;
use switchyard_testkit::{TestServer, pattern_byte, sha256_hex};

/// An engine whose blob store is under `dir`, with a quota of `quota` bytes per run.
pub fn with_blobs(dir: &Path, quota: u64) -> Engine {
    let mut services = engine().services().clone();
    services.blobs = Blobs::new(Arc::new(BlobStore::new(dir.join("blobs"))), quota);
    Engine::new(Registry::builtin(), services)
}

#[tokio::test]
async fn a_file_read_as_binary_is_written_back_byte_for_byte_and_expressions_see_its_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("in/scan 01 é.pdf");
    std::fs::create_dir_all(source.parent().unwrap()).unwrap();
    let bytes: Vec<u8> = (0..300_000u64).map(pattern_byte).collect();
    std::fs::write(&source, &bytes).unwrap();
    let engine = with_blobs(dir.path(), 10 << 20);
    let wf = chain(vec![
        ("file.read", json!({"path": p(&source), "format": "file", "binaryProperty": "scan"})),
        (
            "data.set",
            json!({"assignments": [
                {"name": "name", "value": "{{ binary.scan.fileName }}"},
                {"name": "kind", "value": "{{ binary.scan.mimeType }}"},
                {"name": "bytes", "value": "{{ binary.scan.size }}"}
            ]}),
        ),
        (
            "file.write",
            json!({"path": format!("{}/out/{{{{ binary.scan.fileName }}}}", p(dir.path())), "content": "file",
                   "binaryProperty": "scan", "createFolders": true}),
        ),
    ]);
    let (outcome, collector) = run(&engine, wf, json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let item = &outcome.result[0];
    let json = jsons(&outcome.result)[0].clone();
    assert_eq!(json["name"], "scan 01 é.pdf");
    assert_eq!(json["kind"], "application/pdf");
    assert_eq!(json["bytes"], 300_000);
    assert_eq!(json["path"], p(&source));
    let file = item.file("scan").expect("the item still carries its file");
    assert_eq!(file.sha256, sha256_hex(&bytes));
    assert_eq!(file.reference, file.sha256);
    // The bytes are in the blob store, addressed by their hash; the copy is identical.
    let stored = dir.path().join("blobs").join(&file.sha256[..2]).join(&file.sha256[2..]);
    assert_eq!(std::fs::read(stored).unwrap(), bytes);
    assert_eq!(std::fs::read(dir.path().join("out/scan 01 é.pdf")).unwrap(), bytes);
    assert_eq!(json["written"]["bytes"], 300_000);
    // Events and the history carry the reference, never the bytes.
    let history = serde_json::to_string(&*collector.data.lock().unwrap()).unwrap();
    assert!(history.contains(&file.sha256));
    assert!(history.len() < 20_000, "the history holds metadata only ({} bytes)", history.len());
}

#[tokio::test]
async fn a_missing_file_property_names_the_files_the_item_has() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "x").unwrap();
    let engine = with_blobs(dir.path(), 1 << 20);
    let wf = chain(vec![
        ("file.read", json!({"path": p(&dir.path().join("a.txt")), "format": "file", "binaryProperty": "doc"})),
        ("file.write", json!({"path": p(&dir.path().join("b.txt")), "content": "file", "binaryProperty": "data"})),
    ]);
    let error = run(&engine, wf, json!(null)).await.0.error.unwrap();
    assert_eq!(error.code, ErrorCode::MissingBinary);
    assert_eq!(error.message, "the item has no file \"data\": it has \"doc\"");
    assert_eq!(error.parameter.as_deref(), Some("binaryProperty"));
    assert_eq!(error.node_name.as_deref(), Some("Step b"));
    assert!(!dir.path().join("b.txt").exists());
}

#[tokio::test]
async fn downloads_stream_into_the_blob_store_and_upload_as_body_or_multipart_file() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let engine = with_blobs(dir.path(), 64 << 20);
    let size = 3_000_000u64;
    let expected: Vec<u8> = (0..size).map(pattern_byte).collect();
    let wf = chain(vec![
        (
            "http.request",
            json!({"url": server.url(&format!("/bytes/{size}")), "responseFormat": "file", "fullResponse": true}),
        ),
        (
            "http.request",
            json!({"method": "POST", "url": server.url("/upload"), "bodyType": "binary", "responseFormat": "json"}),
        ),
    ]);
    let (outcome, collector) = run(&engine, wf, json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let download = &crate::support::node_data(&collector, "a").outputs[0].items[0];
    let file = download.file("data").unwrap();
    assert_eq!(file.file_name, format!("pattern-{size}.bin"));
    assert_eq!(file.mime_type, "application/octet-stream");
    assert_eq!(file.size, size);
    assert_eq!(file.sha256, sha256_hex(&expected));
    assert_eq!(Json::from(&download.json)["statusCode"], 200);
    // What the server received as the body is the file, with its media type.
    let received = &jsons(&outcome.result)[0];
    assert_eq!(received["bytes"], size);
    assert_eq!(received["sha256"], sha256_hex(&expected));
    assert_eq!(received["contentType"], "application/octet-stream");

    // A multipart form: text fields and file fields.
    let wf = chain(vec![
        (
            "http.request",
            json!({"url": server.url("/bytes/20000000"), "responseFormat": "file", "responseProperty": "big"}),
        ),
        (
            "http.request",
            json!({"url": server.url("/bytes/1000"), "responseFormat": "file", "responseProperty": "small"}),
        ),
        (
            "http.request",
            json!({"method": "POST", "url": server.url("/upload"), "bodyType": "multipart",
                   "formBody": [{"name": "title", "value": "Report {{ binary.small.size }}"}],
                   "multipartFiles": [{"name": "first", "value": "big"}, {"name": "second", "value": "small"}]}),
        ),
    ]);
    let (outcome, _) = run(&engine, wf, json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let parts = jsons(&outcome.result)[0]["parts"].clone();
    assert_eq!(parts[0]["name"], "title");
    assert_eq!(parts[0]["text"], "Report 1000");
    // Above 8 MiB the file is streamed from the blob store, not read into memory.
    let big: Vec<u8> = (0..20_000_000u64).map(pattern_byte).collect();
    assert_eq!(
        parts[1],
        json!({"name": "first", "fileName": "pattern-20000000.bin", "contentType": "application/octet-stream", "bytes": 20_000_000, "sha256": sha256_hex(&big), "text": null})
    );
    assert_eq!(parts[2]["name"], "second");
    assert_eq!(parts[2]["bytes"], 1000);
}

#[tokio::test]
async fn the_run_quota_stops_a_download_mid_stream_and_a_large_answer_needs_the_file_format() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let engine = with_blobs(dir.path(), 1_000_000);
    let wf = chain(vec![("http.request", json!({"url": server.url("/bytes/5000000"), "responseFormat": "file"}))]);
    let error = run(&engine, wf, json!(null)).await.0.error.unwrap();
    assert_eq!(error.code, ErrorCode::ValueTooLarge);
    assert!(error.message.contains("more than 1000000 bytes"), "{}", error.message);
    // Nothing half-written is left behind.
    assert_eq!(std::fs::read_dir(dir.path().join("blobs/tmp")).unwrap().count(), 0);

    // Read into memory, an answer may be at most the largest item.
    let mut services = engine.services().clone();
    services.items.max_item_bytes = 1 << 20;
    let small = Engine::new(Registry::builtin(), services);
    let wf = chain(vec![("http.request", json!({"url": server.url("/bytes/5000000"), "responseFormat": "text"}))]);
    let error = run(&small, wf, json!(null)).await.0.error.unwrap();
    assert_eq!(error.code, ErrorCode::ValueTooLarge);
    assert!(error.message.contains("\"Response format: File\""), "{}", error.message);
}
