use crate::support::*;
use serde_json::json;
use switchyard_model::execution::{NodeRunStatus, RunStatus};
use switchyard_testkit::TestServer;

#[test]
fn every_example_is_valid() {
    let dir = repo_path("assets/examples");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            // A bundle holds a workflow and the workflows it calls; each must be valid.
            let report = switchyard_engine::validate::validate_file(&text, &switchyard_engine::Registry::builtin());
            let rendered: Vec<String> = report.issues.iter().map(|i| i.render("")).collect();
            assert!(report.issues.is_empty(), "{}:\n{}", path.display(), rendered.join("\n"));
            assert_eq!(report.bundle, path.to_string_lossy().ends_with(".bundle.json"), "{}", path.display());
            for wf in &report.workflows {
                assert!(!wf.description.is_empty(), "{} needs a description", path.display());
            }
            count += 1;
        }
    }
    assert!(count >= 5, "at least five examples, found {count}");
}

#[tokio::test]
async fn hello_world_greets_the_input() {
    let (outcome, _) = run(&engine(), load("assets/examples/hello-world.json"), json!({"name": "Ada"})).await;
    assert_eq!(outcome.status, RunStatus::Success);
    assert_eq!(jsons(&outcome.result), vec![json!({"greeting": "Hello, Ada!", "length": 3})]);
    let (outcome, _) = run(&engine(), load("assets/examples/hello-world.json"), json!(null)).await;
    assert_eq!(jsons(&outcome.result), vec![json!({"greeting": "Hello, world!", "length": 5})]);
}

#[tokio::test]
async fn fetch_users_against_a_local_server() {
    let server = TestServer::start().await;
    let (outcome, collector) =
        run(&engine(), load("assets/examples/fetch-users.json"), json!({"baseUrl": server.base_url()})).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let names: Vec<_> = outcome.result.iter().map(|i| i.json.get("name").unwrap().to_text()).collect();
    assert_eq!(names, ["Chelsey Dietrich", "Clementine Bauch", "Ervin Howell", "Leanne Graham", "Patricia Lebsack"]);
    assert_eq!(
        jsons(&outcome.result)[0],
        json!({"id": 5, "name": "Chelsey Dietrich", "email": "dietrich@example.com", "city": "Roscoeview"})
    );
    let fetch = node_data(&collector, "fetch");
    assert_eq!(fetch.outputs[0].total, 10);
}

#[tokio::test]
async fn order_totals_sum_per_customer() {
    let (outcome, _) = run(&engine(), load("assets/examples/order-totals.json"), json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    assert_eq!(
        jsons(&outcome.result),
        vec![
            json!({"customer": "globex", "total": 95, "orders": 1}),
            json!({"customer": "acme", "total": 51, "orders": 2})
        ]
    );
}

#[tokio::test]
async fn route_tickets_sends_each_to_its_team() {
    let (outcome, collector) = run(&engine(), load("assets/examples/route-tickets.json"), json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let teams: Vec<_> = outcome
        .result
        .iter()
        .map(|i| (i.json.get("id").unwrap().as_i64().unwrap(), i.json.get("team").unwrap().to_text()))
        .collect();
    assert_eq!(
        teams,
        [(101, "on-call".to_string()), (102, "support".into()), (103, "on-call".into()), (104, "triage".into())]
    );
    let route = node_data(&collector, "route");
    let counts: Vec<_> = route.outputs.iter().map(|o| (o.name.as_str(), o.total)).collect();
    assert_eq!(counts, [("urgent", 2), ("normal", 1), ("fallback", 1)]);

    // Own tickets through the input.
    let (outcome, _) = run(
        &engine(),
        load("assets/examples/route-tickets.json"),
        json!([{"id": 1, "priority": "high"}, {"id": 2, "priority": "urgent"}]),
    )
    .await;
    assert_eq!(
        jsons(&outcome.result),
        vec![
            json!({"id": 1, "priority": "high", "team": "support"}),
            json!({"id": 2, "priority": "urgent", "team": "on-call"})
        ]
    );
}

#[tokio::test]
async fn join_customers_uses_lineage_and_history() {
    let (outcome, collector) = run(&engine(), load("assets/examples/join-customers.json"), json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    assert_eq!(
        jsons(&outcome.result),
        vec![
            json!({"id": 1, "name": "Acme", "customerId": 1, "amount": 250, "vip": true, "label": "Acme spent 250"}),
            json!({"id": 1, "name": "Acme", "customerId": 1, "amount": 15, "vip": false, "customers": 3}),
            json!({"id": 2, "name": "Globex", "customerId": 2, "amount": 40, "vip": false, "customers": 3}),
            json!({"id": 3, "name": "Initech", "vip": false, "customers": 3}),
        ]
    );
    assert_eq!(node_data(&collector, "vip").status, NodeRunStatus::Success);
}

/// The nightly backup example with its settings pointed at `folder`, `archive` and `alert`.
fn nightly_backup(folder: &std::path::Path, archive: &std::path::Path, alert: &str) -> switchyard_model::Workflow {
    let text = std::fs::read_to_string(repo_path("assets/examples/nightly-backup.json")).unwrap();
    let mut wf: serde_json::Value = serde_json::from_str(&text).unwrap();
    wf["nodes"][1]["parameters"]["assignments"] = json!([
        {"name": "folder", "value": folder.to_str().unwrap()},
        {"name": "archive", "value": archive.to_str().unwrap()},
        {"name": "alertUrl", "value": alert},
    ]);
    parse(&wf.to_string())
}

#[tokio::test]
async fn nightly_backup_archives_the_folder_and_alerts_when_tar_fails() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("docs with spaces");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("report.txt"), "quarterly numbers").unwrap();
    let archive = dir.path().join("backup.tgz");
    let server = TestServer::start().await;
    let alert = server.url("/echo");

    let (outcome, collector) = run(&engine(), nightly_backup(&folder, &archive, &alert), json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let listing = std::process::Command::new("tar").arg("-tzf").arg(&archive).output().unwrap();
    assert!(String::from_utf8_lossy(&listing.stdout).contains("report.txt"), "{listing:?}");
    assert_eq!(node_data(&collector, "tar").status, NodeRunStatus::Success);
    let tar = node_data(&collector, "tar");
    assert_eq!(serde_json::Value::from(&tar.outputs[0].items[0].json)["exitCode"], 0);
    assert!(collector.data.lock().unwrap().iter().all(|d| d.node_id != "alert" || d.status == NodeRunStatus::Skipped));

    // A folder that is not there: tar fails, the alert says so.
    let missing = dir.path().join("gone");
    let (outcome, collector) = run(&engine(), nightly_backup(&missing, &archive, &alert), json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success, "the error output handled it: {:?}", outcome.error);
    let tar = node_data(&collector, "tar");
    assert_eq!(tar.outputs.iter().map(|o| (o.name.as_str(), o.total)).collect::<Vec<_>>(), [("main", 0), ("error", 1)]);
    // The alert went out: the echo server answered with what it got.
    let sent = jsons(&outcome.result).into_iter().find(|o| o.get("response").is_some()).expect("the alert's result");
    let text = sent["response"]["json"]["text"].as_str().unwrap().to_string();
    assert!(
        text.starts_with(&format!("Backup of {} failed: \"tar\" exited with status 2", missing.display())),
        "{text}"
    );
}

#[tokio::test]
async fn triage_reports_copies_the_failed_ones_with_a_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    std::fs::write(inbox.join("a.json"), r#"{"status": "ok", "n": 1}"#).unwrap();
    std::fs::write(inbox.join("b report.json"), r#"{"status": "failed", "n": 2}"#).unwrap();
    std::fs::write(inbox.join("notes.txt"), "not a report").unwrap();
    let text = std::fs::read_to_string(repo_path("assets/examples/triage-reports.json")).unwrap();
    let mut wf: serde_json::Value = serde_json::from_str(&text).unwrap();
    wf["nodes"][1]["parameters"]["path"] = json!(format!("{}/*.json", inbox.display()));
    wf["nodes"][4]["parameters"]["path"] = json!(format!("{}/failed/{{{{ json.fileName }}}}", dir.path().display()));
    let (outcome, _) = run(&engine(), parse(&wf.to_string()), json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let copied: Vec<String> = std::fs::read_dir(dir.path().join("failed"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(copied, ["b report.json"]);
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("failed/b report.json")).unwrap()).unwrap();
    assert_eq!(written["data"], json!({"status": "failed", "n": 2}));
    assert_eq!(written["sha256"].as_str().unwrap().len(), 64);
}

/// An example with its `~/…` paths moved under `home`.
fn example_in(name: &str, home: &std::path::Path) -> switchyard_model::Workflow {
    let text = std::fs::read_to_string(repo_path(&format!("assets/examples/{name}"))).unwrap();
    parse(&text.replace("~/", &format!("{}/", home.display())))
}

#[tokio::test]
async fn large_invoices_keeps_the_large_rows_of_a_new_csv() {
    let home = tempfile::tempdir().unwrap();
    let invoices = home.path().join("Invoices");
    std::fs::create_dir(&invoices).unwrap();
    let file = invoices.join("march 2026.csv");
    std::fs::write(&file, "invoice,customer,amount\nA-1,Ada,1200.50\nA-2,Lin,80\nA-3,\"Doe, Jane\",4000\n").unwrap();
    // The item the Folder Trigger starts a run with.
    let event = json!({"event": "added", "path": file.display().to_string(), "fileName": "march 2026.csv", "size": 60, "missed": false});
    let (outcome, _) = run(&engine(), example_in("large-invoices.json", home.path()), event).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let written: Vec<_> = std::fs::read_dir(invoices.join("large")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(written.len(), 1);
    assert_eq!(
        std::fs::read_to_string(&written[0]).unwrap(),
        "invoice,customer,amount\nA-1,Ada,1200.5\nA-3,\"Doe, Jane\",4000\n"
    );
}

#[tokio::test]
async fn xlsx_to_api_posts_the_sheet_as_json() {
    let server = TestServer::start().await;
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join("Exports")).unwrap();
    let book = home.path().join("Exports/orders.xlsx");
    switchyard_testkit::run_python(
        "import sys, datetime\nfrom openpyxl import Workbook\nwb = Workbook()\nwb.active.title = 'Notes'\n\
         ws = wb.create_sheet('Orders')\nws.append(['order', 'qty', 'day'])\nws.append(['A-1', 3, datetime.date(2026, 1, 2)])\n\
         ws.append(['A-2', 5, datetime.date(2026, 1, 3)])\nwb.save(sys.argv[1])",
        &[book.to_str().unwrap()],
    );
    let (outcome, _) = run(
        &engine(),
        example_in("xlsx-to-api.json", home.path()),
        json!({"url": format!("{}/echo", server.base_url())}),
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let echoed = &jsons(&outcome.result)[0];
    assert_eq!(echoed["method"], "POST");
    assert_eq!(echoed["headers"]["content-type"], "application/json");
    assert_eq!(
        echoed["json"],
        json!([{"order": "A-1", "qty": 3, "day": "2026-01-02"}, {"order": "A-2", "qty": 5, "day": "2026-01-03"}])
    );
}
