//! Convert Data against files made by other tools: Python's csv module (quotes, newlines in
//! fields, a BOM), openpyxl workbooks (dates, formulas' cached values, several sheets), XML
//! with namespaces; and the files it writes, read back by those tools.

use crate::support::{chain, engine, jsons, p, run};
use serde_json::{Value as Json, json};
use std::path::Path;
use std::sync::Arc;
use switchyard_core::blobs::BlobStore;
use switchyard_engine::access::LocalPolicy;
use switchyard_engine::binary::Blobs;
use switchyard_engine::{Engine, Registry};
use switchyard_model::error::ErrorCode;
use switchyard_model::execution::RunStatus;
use switchyard_testkit::run_python;

/// An engine whose blob store and allowed folder are `dir`.
fn in_folder(dir: &Path) -> Engine {
    let mut services = engine().services().clone();
    services.blobs = Blobs::new(Arc::new(BlobStore::new(dir.join("blobs"))), 1 << 30);
    services.local = Arc::new(LocalPolicy { roots: vec![dir.to_path_buf()], ..LocalPolicy::default() });
    Engine::new(Registry::builtin(), services)
}

fn read_file(path: &Path) -> (&'static str, Json) {
    ("file.read", json!({"path": p(path), "format": "file"}))
}

const WRITE_CSV: &str = r#"
import csv, sys
with open(sys.argv[1], "w", newline="", encoding="utf-8-sig") as f:
    w = csv.writer(f)
    w.writerow(["id", "name", "note", "amount"])
    w.writerow([1, "Doe, Jane", 'said "hi"\nthen left', "120.50"])
    w.writerow([2, "Ünal", "", "80"])
    w.writerow([3, "Zoë", "tab\there", "007"])
"#;

#[tokio::test]
async fn csv_from_pythons_csv_module_round_trips_through_a_filter() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("in.csv");
    run_python(WRITE_CSV, &[&p(&source)]);
    assert!(std::fs::read(&source).unwrap().starts_with(b"\xef\xbb\xbf"), "the file starts with a BOM");
    let engine = in_folder(dir.path());

    let (outcome, _) = run(&engine, chain(vec![read_file(&source), ("data.convert", json!({}))]), json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let rows = jsons(&outcome.result);
    assert_eq!(rows[0], json!({"id": 1, "name": "Doe, Jane", "note": "said \"hi\"\nthen left", "amount": 120.5}));
    assert_eq!(rows[1], json!({"id": 2, "name": "Ünal", "note": "", "amount": 80}));
    assert_eq!(rows[2]["amount"], "007", "codes with leading zeros stay text");
    assert_eq!(outcome.result[2].paired(), switchyard_model::item::Paired::item(0), "rows pair with the file's item");

    // Read → Convert → Filter → Convert → Write, read back by Python's csv module.
    let target = dir.path().join("out/big spenders.csv");
    let wf = chain(vec![
        read_file(&source),
        ("data.convert", json!({"format": "csv"})),
        ("data.filter", json!({"conditions": [{"left": "{{ json.amount }}", "operator": "gt", "right": "100"}]})),
        ("data.convert", json!({"operation": "toFile", "format": "csv", "fileName": "big spenders.csv"})),
        ("file.write", json!({"path": p(&target), "content": "file", "createFolders": true})),
    ]);
    let (outcome, _) = run(&engine, wf, json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let written = &outcome.result[0];
    assert_eq!(jsons(std::slice::from_ref(written))[0]["items"], 1);
    assert_eq!(written.file("data").unwrap().file_name, "big spenders.csv");
    assert_eq!(written.file("data").unwrap().mime_type, "text/csv");
    let back = run_python(
        "import csv, json, sys\nprint(json.dumps(list(csv.DictReader(open(sys.argv[1], newline='', encoding='utf-8')))))",
        &[&p(&target)],
    );
    let back: Json = serde_json::from_str(&back).unwrap();
    assert_eq!(back, json!([{"id": "1", "name": "Doe, Jane", "note": "said \"hi\"\nthen left", "amount": "120.5"}]));
}

#[tokio::test]
async fn tsv_latin1_and_json_lines_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("legacy.tsv");
    std::fs::write(&source, b"city\tcode\nK\xf6ln\t0221\nZ\xfcrich\t044\n").unwrap();
    let engine = in_folder(dir.path());
    let wf = chain(vec![
        read_file(&source),
        ("data.convert", json!({"format": "tsv", "encoding": "latin1", "inferTypes": false})),
        ("data.convert", json!({"operation": "toFile", "format": "ndjson"})),
        ("data.convert", json!({"format": "ndjson"})),
        ("data.convert", json!({"operation": "toFile", "format": "tsv", "encoding": "latin1"})),
        ("file.write", json!({"path": p(&dir.path().join("again.tsv")), "content": "file"})),
    ]);
    let (outcome, collector) = run(&engine, wf, json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let rows = jsons(&crate::support::node_data(&collector, "d").outputs[0].items);
    assert_eq!(rows, [json!({"city": "Köln", "code": "0221"}), json!({"city": "Zürich", "code": "044"})]);
    assert_eq!(std::fs::read(dir.path().join("again.tsv")).unwrap(), std::fs::read(&source).unwrap());

    // A character Latin-1 cannot hold names the item and the field.
    let wf = chain(vec![("data.convert", json!({"operation": "toFile", "format": "csv", "encoding": "latin1"}))]);
    let error = run(&engine, wf, json!([{"name": "ok"}, {"name": "日本"}])).await.0.error.unwrap();
    assert_eq!(error.code, ErrorCode::ConversionFailed);
    assert!(error.message.contains("item 1, field \"name\""), "{}", error.message);
}

const WRITE_XLSX: &str = r#"
import datetime, sys, zipfile, shutil, re
from openpyxl import Workbook
wb = Workbook()
ws = wb.active
ws.title = "Summary"
ws.append(["note"])
ws.append(["see Orders"])
orders = wb.create_sheet("Orders")
orders.append(["order", "placed", "at", "qty", "price", "total", "paid"])
orders.append(["A-1", datetime.date(2026, 3, 14), datetime.datetime(2026, 3, 14, 9, 30), 3, 2.5, "=D2*E2", True])
orders.append(["A-2", datetime.date(2026, 12, 1), datetime.datetime(2026, 12, 1, 17, 5, 9), 10, 1.25, "=D3*E3", False])
orders.append([])
orders.append(["A-3", None, None, 1, 4, "=D5*E5", None])
path = sys.argv[1]
wb.save(path)
# openpyxl writes formulas without results; Excel stores each formula's last value beside it
# (<f>…</f><v>…</v>). Add those values as Excel would, so the file is what a reader meets.
tmp = path + ".tmp"
with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
    for info in src.infolist():
        data = src.read(info.filename)
        if info.filename == "xl/worksheets/sheet2.xml":
            text = data.decode()
            for cell, value in (("F2", "7.5"), ("F3", "12.5"), ("F5", "4")):
                text = re.sub(r'(<c r="%s"[^>]*>)<f>([^<]*)</f>(<v\s*/>|<v></v>)?' % cell, r'\1<f>\2</f><v>%s</v>' % value, text)
            data = text.encode()
        dst.writestr(info, data)
shutil.move(tmp, path)
"#;

#[tokio::test]
async fn xlsx_from_openpyxl_with_dates_formulas_and_sheets_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("orders.xlsx");
    run_python(WRITE_XLSX, &[&p(&source)]);
    let engine = in_folder(dir.path());

    let (outcome, _) =
        run(&engine, chain(vec![read_file(&source), ("data.convert", json!({"format": "xlsx"}))]), json!(null)).await;
    assert_eq!(jsons(&outcome.result), [json!({"note": "see Orders"})], "the first sheet unless named");

    let wf = chain(vec![read_file(&source), ("data.convert", json!({"format": "xlsx", "sheet": "Orders"}))]);
    let (outcome, _) = run(&engine, wf, json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let rows = jsons(&outcome.result);
    assert_eq!(rows.len(), 3, "the empty row is not an item: {rows:?}");
    assert_eq!(
        rows[0],
        json!({"order": "A-1", "placed": "2026-03-14", "at": "2026-03-14T09:30:00", "qty": 3, "price": 2.5, "total": 7.5, "paid": true})
    );
    assert_eq!(rows[1]["at"], "2026-12-01T17:05:09");
    assert_eq!(rows[1]["total"], 12.5);
    assert_eq!(
        rows[2],
        json!({"order": "A-3", "placed": null, "at": null, "qty": 1, "price": 4, "total": 4, "paid": null})
    );

    let wf = chain(vec![read_file(&source), ("data.convert", json!({"format": "xlsx", "sheet": "Totals"}))]);
    let error = run(&engine, wf, json!(null)).await.0.error.unwrap();
    assert_eq!(error.message, "orders.xlsx has no sheet \"Totals\"; its sheets are \"Summary\", \"Orders\"");

    // Written by Convert Data, read by openpyxl.
    let target = dir.path().join("report.xlsx");
    let wf = chain(vec![
        (
            "data.convert",
            json!({"operation": "toFile", "format": "xlsx", "sheet": "Report", "fileName": "report.xlsx"}),
        ),
        ("file.write", json!({"path": p(&target), "content": "file"})),
    ]);
    let (outcome, _) = run(&engine, wf, json!([{"name": "Ada", "n": 3, "ok": true}, {"name": "Lin", "n": 2.5}])).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let back = run_python(
        "import json, sys\nfrom openpyxl import load_workbook\nwb = load_workbook(sys.argv[1])\n\
         print(json.dumps([wb.sheetnames, [list(r) for r in wb['Report'].iter_rows(values_only=True)]]))",
        &[&p(&target)],
    );
    let back: Json = serde_json::from_str(&back).unwrap();
    assert_eq!(back, json!([["Report"], [["name", "n", "ok"], ["Ada", 3, true], ["Lin", 2.5, null]]]));
}

#[tokio::test]
async fn xml_with_namespaces_from_python_into_items_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("feed.xml");
    run_python(
        r#"
import sys, xml.etree.ElementTree as ET
ET.register_namespace("", "http://www.w3.org/2005/Atom")
ET.register_namespace("dc", "http://purl.org/dc/elements/1.1/")
A, DC = "{http://www.w3.org/2005/Atom}", "{http://purl.org/dc/elements/1.1/}"
feed = ET.Element(A + "feed")
for i, title in [(1, "Fish & chips"), (2, "Tea <hot>")]:
    e = ET.SubElement(feed, A + "entry", {"id": str(i)})
    ET.SubElement(e, A + "title").text = title
    ET.SubElement(e, DC + "creator").text = "Ada"
ET.ElementTree(feed).write(sys.argv[1], encoding="utf-8", xml_declaration=True)
"#,
        &[&p(&source)],
    );
    let engine = in_folder(dir.path());
    let wf = chain(vec![
        read_file(&source),
        ("data.convert", json!({"format": "xml", "itemElement": "entry"})),
        (
            "data.convert",
            json!({"operation": "toFile", "format": "xml", "rootElement": "entries", "itemElement": "entry"}),
        ),
        ("data.convert", json!({"format": "xml", "itemElement": "entry"})),
    ]);
    let (outcome, collector) = run(&engine, wf, json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let first = jsons(&crate::support::node_data(&collector, "b").outputs[0].items);
    assert_eq!(first[0], json!({"@id": "1", "title": "Fish & chips", "dc:creator": "Ada"}));
    assert_eq!(first[1]["title"], "Tea <hot>");
    assert_eq!(jsons(&outcome.result), first, "written and read again, the items are the same");
}

#[tokio::test]
async fn bad_files_fail_with_the_file_and_place() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.ndjson"), "{\"a\": 1}\n\n{\"a\": oops}\n").unwrap();
    std::fs::write(dir.path().join("bad.csv"), b"a,b\n1,caf\xe9\n").unwrap();
    let engine = in_folder(dir.path());
    let wf = chain(vec![read_file(&dir.path().join("broken.ndjson")), ("data.convert", json!({"format": "ndjson"}))]);
    let error = run(&engine, wf, json!(null)).await.0.error.unwrap();
    assert_eq!(error.code, ErrorCode::ConversionFailed);
    assert!(error.message.starts_with("broken.ndjson line 3, column 7: not valid JSON"), "{}", error.message);
    assert_eq!(error.node_name.as_deref(), Some("Step b"));
    let wf = chain(vec![read_file(&dir.path().join("bad.csv")), ("data.convert", json!({}))]);
    let error = run(&engine, wf, json!(null)).await.0.error.unwrap();
    assert!(error.message.starts_with("bad.csv line 2, column 2: byte 4"), "{}", error.message);

    // An HTML table is written only; validation says what to use instead.
    let mut wf = chain(vec![("data.convert", json!({"format": "csv"}))]);
    wf.nodes[1].parameters.insert("format".into(), json!("html"));
    let issues = engine.validate(&wf);
    assert!(issues[0].message.contains("use Extract HTML"), "{issues:?}");
    assert_eq!(issues[0].path, "$.nodes[1].parameters.format");
}
