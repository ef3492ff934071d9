//! Compression and Extract HTML: archives Python's zipfile and gzip read and write, bounds
//! against archives made to harm (a zip bomb, names that climb out of a folder), and CSS
//! selectors over a page.

use crate::support::{chain, engine, jsons, p, run};
use serde_json::json;
use std::sync::Arc;
use switchyard_core::blobs::BlobStore;
use switchyard_engine::access::LocalPolicy;
use switchyard_engine::binary::Blobs;
use switchyard_engine::{Engine, Registry};
use switchyard_model::error::ErrorCode;
use switchyard_model::execution::RunStatus;
use switchyard_testkit::{run_python, sha256_hex};

fn in_folder(dir: &std::path::Path) -> Engine {
    let mut services = engine().services().clone();
    services.blobs = Blobs::new(Arc::new(BlobStore::new(dir.join("blobs"))), 1 << 30);
    services.local = Arc::new(LocalPolicy { roots: vec![dir.to_path_buf()], ..LocalPolicy::default() });
    Engine::new(Registry::builtin(), services)
}

#[tokio::test]
async fn zip_and_gzip_round_trip_and_python_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "alpha ".repeat(1000)).unwrap();
    std::fs::write(dir.path().join("b.bin"), (0..=255u8).cycle().take(70_000).collect::<Vec<u8>>()).unwrap();
    let engine = in_folder(dir.path());
    // Two files on one item (merged by position), zipped, saved, unzipped.
    let wf = crate::support::workflow(json!({
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "a", "name": "A", "type": "file.read", "parameters": {"path": p(&dir.path().join("a.txt")), "format": "file", "binaryProperty": "first"}},
            {"id": "b", "name": "B", "type": "file.read", "parameters": {"path": p(&dir.path().join("b.bin")), "format": "file", "binaryProperty": "second"}},
            {"id": "m", "name": "Both", "type": "flow.merge", "parameters": {"mode": "byPosition"}},
            {"id": "z", "name": "Zip", "type": "compression", "parameters": {"operation": "zip", "binaryProperty": "", "fileName": "both.zip"}},
            {"id": "w", "name": "Save", "type": "file.write", "parameters": {"path": p(&dir.path().join("both.zip")), "content": "file"}},
            {"id": "u", "name": "Unzip", "type": "compression", "parameters": {"operation": "unzip"}}
        ],
        "connections": [
            {"from": {"node": "t"}, "to": {"node": "a"}}, {"from": {"node": "t"}, "to": {"node": "b"}},
            {"from": {"node": "a"}, "to": {"node": "m"}}, {"from": {"node": "b"}, "to": {"node": "m", "input": "second"}},
            {"from": {"node": "m"}, "to": {"node": "z"}}, {"from": {"node": "z"}, "to": {"node": "w"}},
            {"from": {"node": "w"}, "to": {"node": "u"}}
        ]
    }));
    let (outcome, _) = run(&engine, wf, json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let unpacked = jsons(&outcome.result);
    assert_eq!(unpacked.iter().map(|j| j["path"].as_str().unwrap()).collect::<Vec<_>>(), ["a.txt", "b.bin"]);
    let b = std::fs::read(dir.path().join("b.bin")).unwrap();
    assert_eq!(outcome.result[1].file("data").unwrap().sha256, sha256_hex(&b));
    let listed = run_python(
        "import json, sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nprint(json.dumps([[i.filename, len(z.read(i))] for i in z.infolist()]))",
        &[&p(&dir.path().join("both.zip"))],
    );
    assert_eq!(serde_json::from_str::<serde_json::Value>(&listed).unwrap(), json!([["a.txt", 6000], ["b.bin", 70000]]));

    // gzip, read by Python; Python's gzip, read here.
    let wf = chain(vec![
        ("file.read", json!({"path": p(&dir.path().join("b.bin")), "format": "file"})),
        ("compression", json!({"operation": "gzip"})),
        ("file.write", json!({"path": p(&dir.path().join("b.bin.gz")), "content": "file"})),
        ("compression", json!({"operation": "gunzip"})),
    ]);
    let (outcome, _) = run(&engine, wf, json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let back = outcome.result[0].file("data").unwrap();
    assert_eq!((back.file_name.as_str(), back.sha256.clone()), ("b.bin", sha256_hex(&b)));
    let length =
        run_python("import gzip, sys\nprint(len(gzip.open(sys.argv[1]).read()))", &[&p(&dir.path().join("b.bin.gz"))]);
    assert_eq!(length.trim(), "70000");
}

#[tokio::test]
async fn hostile_archives_stop_at_their_bounds_and_names_stay_inside() {
    let dir = tempfile::tempdir().unwrap();
    run_python(
        r#"
import sys, zipfile
with zipfile.ZipFile(sys.argv[1] + "/bomb.zip", "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("zeros.bin", b"\0" * (64 * 1024 * 1024))
with zipfile.ZipFile(sys.argv[1] + "/climb.zip", "w") as z:
    z.writestr("../../outside.txt", b"x")
    z.writestr("/etc/passwd", b"y")
"#,
        &[&p(dir.path())],
    );
    assert!(std::fs::metadata(dir.path().join("bomb.zip")).unwrap().len() < 200_000);
    let engine = in_folder(dir.path());
    let wf = chain(vec![
        ("file.read", json!({"path": p(&dir.path().join("bomb.zip")), "format": "file"})),
        ("compression", json!({"operation": "unzip", "maxMb": 16})),
    ]);
    let error = run(&engine, wf, json!(null)).await.0.error.unwrap();
    assert_eq!(error.code, ErrorCode::ValueTooLarge);
    assert_eq!(error.message, "bomb.zip unpacks to more than 16 MiB (the node's \"Largest unpacked size\")");
    assert_eq!(std::fs::read_dir(dir.path().join("blobs/tmp")).unwrap().count(), 0, "nothing half-written is left");

    let wf = chain(vec![
        ("file.read", json!({"path": p(&dir.path().join("climb.zip")), "format": "file"})),
        ("compression", json!({"operation": "unzip"})),
    ]);
    let (outcome, _) = run(&engine, wf, json!(null)).await;
    let paths: Vec<String> = jsons(&outcome.result).iter().map(|j| j["path"].as_str().unwrap().to_string()).collect();
    assert_eq!(paths, ["outside.txt", "passwd"], "names that climb out or start at the root keep only their last part");
    let wf = chain(vec![
        ("file.read", json!({"path": p(&dir.path().join("climb.zip")), "format": "file"})),
        ("compression", json!({"operation": "unzip", "maxEntries": 1})),
    ]);
    let error = run(&engine, wf, json!(null)).await.0.error.unwrap();
    assert!(error.message.contains("holds 2 entries, more than 1"), "{}", error.message);
}

#[tokio::test]
async fn css_selectors_pick_fields_and_an_item_per_match() {
    let page = r#"<html><body><h1> Shop </h1>
        <article class="product"><h2>Kettle</h2><a href="/k">more</a><span class="price">29.90</span></article>
        <article class="product"><h2>Toaster <b>XL</b></h2><a href="/t">more</a></article>
        </body></html>"#;
    let wf = chain(vec![(
        "html.extract",
        json!({"html": "{{ json.page }}", "fields": [
            {"name": "title", "selector": "h1"},
            {"name": "names", "selector": "article h2", "all": true}
        ]}),
    )]);
    let (outcome, _) = run(&engine(), wf, json!({"page": page})).await;
    let out = &jsons(&outcome.result)[0];
    assert_eq!(out["title"], "Shop");
    assert_eq!(out["names"], json!(["Kettle", "Toaster XL"]));
    assert_eq!(out["page"], page, "the item keeps its fields");

    let wf = chain(vec![(
        "html.extract",
        json!({"html": "{{ json.page }}", "itemSelector": "article.product", "fields": [
            {"name": "name", "selector": "h2"},
            {"name": "link", "selector": "a", "value": "attribute", "attribute": "href"},
            {"name": "price", "selector": ".price"},
            {"name": "markup", "selector": "h2", "value": "html"}
        ]}),
    )]);
    let (outcome, _) = run(&engine(), wf, json!({"page": page})).await;
    assert_eq!(
        jsons(&outcome.result),
        [
            json!({"name": "Kettle", "link": "/k", "price": "29.90", "markup": "Kettle"}),
            json!({"name": "Toaster XL", "link": "/t", "price": null, "markup": "Toaster <b>XL</b>"})
        ]
    );

    let mut wf = chain(vec![("html.extract", json!({"fields": [{"name": "x", "selector": "h1"}]}))]);
    wf.nodes[1].parameters.insert("fields".into(), json!([{"name": "x", "selector": "h1[["}]));
    let issues = engine().validate(&wf);
    assert_eq!(issues[0].path, "$.nodes[1].parameters.fields[0].selector", "{issues:?}");
}
