//! Store tests on real SQLite files, including a real process killed mid-write, and the same
//! suite against a real PostgreSQL server: `the_suite_passes_on_postgres` starts one and runs
//! this binary again with `SWITCHYARD_STORE_TEST_POSTGRES` set, where every store the tests
//! open is a fresh database on that server (the SQLite-only tests, listed in `SQLITE_ONLY`,
//! are skipped there).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use switchyard_model::error::{ErrorCode, NodeError};
use switchyard_model::execution::{NodeRunData, NodeRunStatus, OutputData, RunMode, RunStatus};
use switchyard_model::item::Item;
use switchyard_model::value::Value;
use switchyard_model::workflow::{Node, Workflow};
use switchyard_store::{ExecutionFilter, ExecutionStart, Location, PruneRule, Store, StoreError};

mod backups;
mod versions;

/// The PostgreSQL server (an admin URL) this process's stores go to, in the suite's child.
fn postgres_server() -> Option<String> {
    std::env::var("SWITCHYARD_STORE_TEST_POSTGRES").ok()
}

/// Where one test keeps its store: a SQLite file in a temporary folder, or a new database on
/// the suite's PostgreSQL server.
pub(crate) struct Place {
    dir: tempfile::TempDir,
    location: Location,
}

impl Place {
    pub(crate) fn new() -> Place {
        let dir = tempfile::tempdir().unwrap();
        let location = match postgres_server() {
            Some(server) => {
                static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let name = format!("store_{}_{n}", std::process::id());
                switchyard_testkit::servers::psql_url(&server, &format!("CREATE DATABASE {name}"));
                let mut url = url::Url::parse(&server).unwrap();
                url.set_path(&name);
                Location::Postgres(url.to_string())
            }
            None => Location::File(dir.path().join("switchyard.db")),
        };
        Place { dir, location }
    }

    pub(crate) fn open(&self) -> Store {
        Store::open_at(&self.location).unwrap()
    }

    /// The location as the crash tests' children get it.
    fn arg(&self) -> String {
        match &self.location {
            Location::File(path) => path.display().to_string(),
            Location::Postgres(url) => url.clone(),
        }
    }
}

pub(crate) fn temp_store() -> (Place, Store) {
    let place = Place::new();
    let store = place.open();
    (place, store)
}

/// A count the tests check, read on the store's own connection (either backend).
pub(crate) fn count(store: &Store, sql: &str) -> i64 {
    store.raw_scalar(sql).unwrap().unwrap_or(0)
}

/// Tests of what only the SQLite backend has (its file, its locks, its pragmas, its backups).
const SQLITE_ONLY: &[&str] = &[
    "opens_with_wal_full_sync_and_migrations",
    "a_held_up_writer_makes_senders_wait_and_loses_nothing",
    "a_run_written_whole_keeps_its_nodes_in_its_row_and_reads_back_like_one_written_in_parts",
    "the_history_log_is_copied_into_the_database_file_by_a_thread_of_its_own",
    "a_live_process_keeps_its_runs_and_a_dead_owner_with_a_reused_pid_does_not",
    "versions::a_database_from_before_versions_gets_its_current_versions_recorded",
    "backups::",
    "the_suite_passes_on_postgres",
    "postgres_",
];

/// The whole suite against PostgreSQL 15: one server for this test, and this binary run
/// again against it.
#[test]
fn the_suite_passes_on_postgres() {
    if postgres_server().is_some() {
        return;
    }
    let server = switchyard_testkit::servers::Postgres::start();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env("SWITCHYARD_STORE_TEST_POSTGRES", server.url("postgres")).arg("--test-threads=2");
    for skip in SQLITE_ONLY {
        cmd.args(["--skip", skip]);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the suite failed on PostgreSQL:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // It ran: every test but the SQLite-only ones.
    let passed = stdout.lines().filter(|l| l.ends_with("... ok")).count();
    assert!(passed >= 15, "only {passed} tests ran on PostgreSQL:\n{stdout}");
}

/// PostgreSQL's own migrations: the schema is at the version SQLite's reached, a reopen does
/// not migrate again, a database newer than this build is refused by name, and a second
/// process opening at the same moment waits for the first one's migration.
#[test]
fn postgres_migrates_once_and_refuses_a_newer_schema() {
    if postgres_server().is_some() {
        return;
    }
    let server = switchyard_testkit::servers::Postgres::start();
    server.psql("CREATE DATABASE fresh");
    let url = server.url("fresh");
    let opens: Vec<_> = (0..3)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || Store::connect(&url).map(|s| s.schema_version().unwrap()))
        })
        .collect();
    for open in opens {
        assert_eq!(open.join().unwrap().unwrap(), 25);
    }
    let store = Store::connect(&url).unwrap();
    assert_eq!(store.schema_version().unwrap(), 25);
    assert_eq!(store.integrity_check().unwrap(), "ok");
    assert!(store.file().is_none());
    assert!(!store.location().to_string().contains("pass'word"), "the password is not shown: {}", store.location());
    drop(store);
    switchyard_testkit::servers::psql_url(&url, "UPDATE store_schema SET version = 99");
    let err = Store::connect(&url).unwrap_err();
    assert!(matches!(err, StoreError::TooNew { found: 99, known: 25, .. }), "{err}");
    assert!(err.to_string().contains("127.0.0.1") && !err.to_string().contains("pass'word"), "{err}");

    let wrong = server.url("fresh").replace("pass", "nope");
    let err = Store::connect(&wrong).unwrap_err();
    assert!(matches!(err, StoreError::Connect { .. }), "{err}");
    assert!(err.to_string().contains("127.0.0.1"), "names the server: {err}");
}

fn workflow(id: &str, name: &str) -> Workflow {
    let mut wf = Workflow::new(name);
    wf.id = id.into();
    wf.nodes.push(Node::new("t", "Start", "trigger.manual"));
    wf
}

/// A run started from the CLI on 2026-01-01.
fn cli_run(id: impl Into<String>, workflow: Workflow) -> ExecutionStart {
    ExecutionStart {
        id: id.into(),
        workflow: workflow.into(),
        mode: RunMode::Cli,
        started_at: "2026-01-01T00:00:00Z".into(),
        called_by: None,
        retry_of: None,
        input: None,
        start_node: None,
    }
}

fn node_data(node_id: &str, items: usize) -> NodeRunData {
    NodeRunData {
        node_id: node_id.into(),
        node_name: node_id.to_uppercase(),
        status: NodeRunStatus::Success,
        started_at: "2026-01-01T00:00:00.000Z".into(),
        duration_ms: 3,
        items_in: 1,
        outputs: vec![OutputData {
            name: "main".into(),
            total: items as u32,
            items: (0..items).map(|i| Item::new(Value::from(i as i64))).collect(),
            truncated: false,
        }],
        error: None,
    }
}

#[test]
fn opens_with_wal_full_sync_and_migrations() {
    let (dir, store) = temp_store();
    assert_eq!(store.schema_version().unwrap(), 25);
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let conn = rusqlite::Connection::open(store.file().unwrap()).unwrap();
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    drop(store);
    // Reopening does not migrate again.
    let store = Store::open_in(dir.dir.path()).unwrap();
    assert_eq!(store.schema_version().unwrap(), 25);
    drop(store);
    conn.pragma_update(None, "user_version", 99).unwrap();
    let err = Store::open_in(dir.dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::TooNew { found: 99, known: 25, .. }), "{err}");
    assert!(err.to_string().contains("newer than this build knows"));
}

#[test]
fn an_imported_workflow_stays_untrusted_through_saves_until_trusted_at_the_reviewed_version() {
    let (_dir, store) = temp_store();
    let workflows = store.workflows();
    let mut wf = workflow("w1", "Shared");
    let created = workflows.create(&wf, Some("shared.json"), "2026-01-01T00:00:00Z").unwrap();
    assert_eq!(created.untrusted.as_deref(), Some("shared.json"));
    wf.name = "Shared, edited".into();
    let saved = workflows.save(&wf, Some(1), "2026-01-01T00:00:01Z").unwrap();
    assert_eq!(saved.untrusted.as_deref(), Some("shared.json"), "editing does not trust it");
    assert!(workflows.list(None).unwrap()[0].untrusted);
    let approved = r#"[{"kind":"command","pattern":"/usr/bin/backup"}]"#;
    assert!(matches!(workflows.trust("w1", 1, approved), Err(StoreError::Conflict { stored: 2, expected: 1, .. })));
    assert!(workflows.get("w1").unwrap().untrusted.is_some(), "a stale review trusts nothing");
    assert_eq!(workflows.approved_access("w1").unwrap(), None);
    workflows.trust("w1", 2, approved).unwrap();
    assert_eq!(workflows.get("w1").unwrap().untrusted, None);
    assert_eq!(workflows.approved_access("w1").unwrap().as_deref(), Some(approved));
    assert!(!workflows.list(None).unwrap()[0].untrusted);
    assert!(matches!(workflows.trust("nope", 1, "[]"), Err(StoreError::WorkflowNotFound(_))));
    // A copy is held to what its original was approved for; the user's own have no list.
    let own = workflow("w2", "Mine");
    workflows.create(&own, None, "2026-01-01T00:00:02Z").unwrap();
    assert_eq!(workflows.approved_access("w2").unwrap(), None);
    let copy = workflows.create_copy("w1", &workflow("w3", "Copy"), "2026-01-01T00:00:03Z").unwrap();
    assert_eq!((copy.version, copy.untrusted), (1, None));
    assert_eq!(workflows.approved_access("w3").unwrap().as_deref(), Some(approved));
    let untrusted = workflows.create(&workflow("w4", "Shared too"), Some("b.json"), "2026-01-01T00:00:04Z").unwrap();
    let copy = workflows.create_copy(&untrusted.workflow.id, &workflow("w5", "Copy"), "2026-01-01T00:00:05Z").unwrap();
    assert_eq!(copy.untrusted.as_deref(), Some("b.json"));
}

#[test]
fn workflow_crud_with_versions() {
    let (_dir, store) = temp_store();
    let workflows = store.workflows();
    let mut wf = workflow("w1", "Alpha");
    wf.extra.insert("x-team".into(), serde_json::json!("ops"));
    let created = workflows.create(&wf, None, "2026-01-01T00:00:00Z").unwrap();
    assert_eq!(created.version, 1);
    assert!(matches!(workflows.create(&wf, None, "2026-01-01T00:00:01Z"), Err(StoreError::AlreadyExists(_))));
    workflows.create(&workflow("w2", "Beta 50%"), None, "2026-01-02T00:00:00Z").unwrap();

    let list = workflows.list(None).unwrap();
    assert_eq!(list.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["Beta 50%", "Alpha"], "recent first");
    assert_eq!(list[0].node_count, 1);
    assert_eq!(workflows.list(Some("alp")).unwrap().len(), 1, "search ignores case");
    assert_eq!(workflows.list(Some("50%")).unwrap().len(), 1);
    assert_eq!(workflows.list(Some("a_p")).unwrap().len(), 0, "LIKE wildcards are escaped");

    wf.name = "Alpha 2".into();
    let saved = workflows.save(&wf, Some(1), "2026-01-03T00:00:00Z").unwrap();
    assert_eq!(saved.version, 2);
    let err = workflows.save(&wf, Some(1), "2026-01-03T00:00:01Z").unwrap_err();
    assert!(matches!(err, StoreError::Conflict { stored: 2, expected: 1, .. }), "{err}");
    let got = workflows.get("w1").unwrap();
    assert_eq!(
        (got.workflow.name.as_str(), got.version, got.created_at.as_str()),
        ("Alpha 2", 2, "2026-01-01T00:00:00Z")
    );
    assert_eq!(got.workflow.extra["x-team"], "ops", "unknown keys survive storage");

    workflows.set_active("w1", true, "2026-01-04T00:00:00Z").unwrap();
    assert!(workflows.get("w1").unwrap().active);
    workflows.delete("w1").unwrap();
    assert!(matches!(workflows.get("w1"), Err(StoreError::WorkflowNotFound(_))));
    assert!(matches!(workflows.delete("w1"), Err(StoreError::WorkflowNotFound(_))));
}

#[test]
fn executions_are_logged_listed_and_pruned() {
    let (_dir, store) = temp_store();
    let log = store.log();
    let wf = workflow("w1", "Alpha");
    for (i, status) in [RunStatus::Success, RunStatus::Error, RunStatus::Running].into_iter().enumerate() {
        let id = format!("e{i}");
        log.started(ExecutionStart {
            id: id.clone(),
            workflow: wf.clone().into(),
            mode: RunMode::Cli,
            started_at: format!("2026-01-0{}T00:00:00Z", i + 1),
            called_by: None,
            retry_of: None,
            input: None,
            start_node: None,
        });
        log.node(&id, node_data("t", 2));
        log.node(&id, node_data("s", 1));
        if status != RunStatus::Running {
            let error = (status == RunStatus::Error).then(|| NodeError::new(ErrorCode::NodeFailed, "boom"));
            log.finished(&id, status, &format!("2026-01-0{}T00:00:01Z", i + 1), 1000, error);
        }
    }
    log.flush().unwrap();
    let history = store.history();
    let all = history.list(&ExecutionFilter::default()).unwrap();
    assert_eq!(all.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["e2", "e1", "e0"]);
    assert_eq!(all[1].error.as_ref().unwrap().message, "boom");
    let errors = history.list(&ExecutionFilter { status: Some(RunStatus::Error), ..Default::default() }).unwrap();
    assert_eq!(errors.len(), 1);
    let paged =
        history.list(&ExecutionFilter { before: Some("2026-01-02T00:00:00Z".into()), ..Default::default() }).unwrap();
    assert_eq!(paged.len(), 1);

    let e0 = history.get("e0").unwrap();
    assert_eq!(e0.summary.mode, RunMode::Cli);
    assert_eq!(e0.summary.duration_ms, Some(1000));
    assert_eq!(e0.workflow.name, "Alpha");
    assert_eq!(e0.nodes.iter().map(|n| n.node_id.as_str()).collect::<Vec<_>>(), ["t", "s"]);
    assert_eq!(e0.nodes[0].outputs[0].items.len(), 2);

    assert_eq!(history.prune(&PruneRule { keep_last: Some(1), ..Default::default() }).unwrap(), 2);
    assert_eq!(history.count().unwrap(), 1, "the running execution is never pruned");
    assert!(matches!(history.get("e0"), Err(StoreError::ExecutionNotFound(_))));
}

/// Every execution once stored the whole workflow, pinned data and all: 1,000 runs of a
/// workflow with 1 MB of pinned items wrote 1 GB. Each version is now stored once and its
/// runs refer to it; a snapshot goes when its last run is pruned or its workflow deleted.
#[test]
fn each_workflow_version_is_stored_once_for_all_its_runs() {
    let (_dir, store) = temp_store();
    let log = store.log();
    let mut wf = workflow("w1", "Pinned");
    let big: Vec<serde_json::Value> =
        (0..1000).map(|i| serde_json::json!({"json": {"i": i, "pad": "x".repeat(1000)}})).collect();
    wf.pin_data.insert("t".into(), serde_json::from_value(serde_json::Value::Array(big)).unwrap());
    let run = |id: String, wf: &switchyard_model::Workflow, day: u32| {
        log.started(ExecutionStart {
            id: id.clone(),
            workflow: wf.clone().into(),
            mode: RunMode::Manual,
            started_at: format!("2026-01-{day:02}T00:00:00Z"),
            called_by: None,
            retry_of: None,
            input: None,
            start_node: None,
        });
        log.finished(&id, RunStatus::Success, "2026-02-01T00:00:00Z", 1, None);
    };
    for i in 0..200 {
        run(format!("a{i}"), &wf, 1);
    }
    let before = wf.clone();
    wf.name = "Pinned, renamed".into();
    run("b".into(), &wf, 2);
    log.flush().unwrap();
    let snapshots = || count(&store, "SELECT COUNT(*) FROM workflow_snapshots");
    assert_eq!(snapshots(), 2, "one per version");
    let stored = count(&store, "SELECT SUM(length(definition)) FROM workflow_snapshots");
    assert!(stored < 3_000_000, "{stored} bytes of workflow copies for 201 runs");
    assert_eq!(store.history().get("a7").unwrap().workflow, before);
    assert_eq!(store.history().get("b").unwrap().workflow.name, "Pinned, renamed");

    // Pruning the first version's runs drops its snapshot; the other stays.
    store.history().prune(&PruneRule { started_before: Some("2026-01-02T00:00:00Z".into()), keep_last: None }).unwrap();
    assert_eq!(snapshots(), 1);
    assert_eq!(store.history().get("b").unwrap().workflow.name, "Pinned, renamed");
    store.workflows().create(&wf, None, "2026-01-01T00:00:00Z").unwrap();
    store.workflows().delete("w1").unwrap();
    assert_eq!(snapshots(), 0);
}

/// The history writer's queue once grew without bound while the writer was held up (a lock,
/// a full disk). It is bounded now: senders wait for it, and nothing is lost.
#[test]
fn a_held_up_writer_makes_senders_wait_and_loses_nothing() {
    let (_dir, store) = temp_store();
    // A second connection holds the write lock: the writer waits on it.
    let blocker = rusqlite::Connection::open(store.file().unwrap()).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let log = store.log();
    let runs = switchyard_store::HISTORY_QUEUE + 600;
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = sent.clone();
    let producer = std::thread::spawn(move || {
        for i in 0..runs {
            log.started(ExecutionStart {
                id: format!("e{i}"),
                workflow: workflow("w", "W").into(),
                mode: RunMode::Manual,
                started_at: "2026-01-01T00:00:00Z".into(),
                called_by: None,
                retry_of: None,
                input: None,
                start_node: None,
            });
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let waiting = sent.load(std::sync::atomic::Ordering::SeqCst);
    assert!(waiting < runs, "the sender waits once the queue is full ({waiting} of {runs} sent)");
    assert!(waiting >= switchyard_store::HISTORY_QUEUE, "{waiting}");
    blocker.execute_batch("COMMIT").unwrap();
    producer.join().unwrap();
    store.log().flush().unwrap();
    assert_eq!(store.history().count().unwrap() as usize, runs, "every run recorded");
}

#[test]
fn a_run_awaited_at_its_end_is_written_whole_even_alone_and_a_long_one_shows_while_it_runs() {
    let (_dir, store) = temp_store();
    let wf = workflow("w1", "Flow");
    let log = store.log();
    let pause = || std::thread::sleep(std::time::Duration::from_millis(20));
    let durable_end = |id: &str| {
        let (tx, rx) = std::sync::mpsc::channel();
        log.finished_durable(
            id,
            RunStatus::Success,
            "2026-01-01T00:00:01Z",
            1000,
            None,
            Box::new(move |outcome| tx.send(outcome).unwrap()),
        );
        rx.recv_timeout(std::time::Duration::from_secs(20)).unwrap().expect("on disk");
    };
    // A short run, alone: each message reaches an idle writer by itself, yet it is one row.
    log.started_held(cli_run("short", wf.clone()));
    pause();
    log.node("short", node_data("t", 2));
    pause();
    log.node("short", node_data("u", 1));
    pause();
    durable_end("short");
    let inline = store.raw_scalar("SELECT COUNT(*) FROM executions WHERE id = 'short' AND nodes IS NOT NULL");
    assert_eq!(inline.unwrap(), Some(1), "written whole");
    assert_eq!(count(&store, "SELECT COUNT(*) FROM execution_nodes WHERE execution_id = 'short'"), 0);
    assert_eq!(store.history().get("short").unwrap().nodes.len(), 2);
    // A long one is written as it runs once it has been held for a while: it shows running.
    log.started_held(cli_run("long", wf.clone()));
    log.node("long", node_data("t", 2));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while count(&store, "SELECT COUNT(*) FROM executions WHERE id = 'long' AND status = 'running'") == 0 {
        assert!(std::time::Instant::now() < deadline, "a long run's start was never written");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(count(&store, "SELECT COUNT(*) FROM execution_nodes WHERE execution_id = 'long'"), 1);
    log.node("long", node_data("u", 1));
    durable_end("long");
    let long = store.history().get("long").unwrap();
    assert_eq!(long.summary.status, RunStatus::Success);
    assert_eq!(long.nodes.iter().map(|n| n.node_id.as_str()).collect::<Vec<_>>(), ["t", "u"]);
    // A flush writes what is held at once.
    log.started_held(cli_run("flushed", wf.clone()));
    log.flush().unwrap();
    assert_eq!(count(&store, "SELECT COUNT(*) FROM executions WHERE id = 'flushed' AND status = 'running'"), 1);
}

#[test]
fn the_history_log_is_copied_into_the_database_file_by_a_thread_of_its_own() {
    // SQLite would copy the log into the database only once it held 8,000 pages, in the
    // commit of the writer that filled it (every run waiting on that commit waits for it).
    // The checkpoint thread copies it within a fraction of a second, so the database file
    // alone, without its log, soon holds every run written.
    let (dir, store) = temp_store();
    let wf = workflow("w1", "Flow");
    let log = store.log();
    for i in 0..50 {
        let id = format!("run-{i}");
        log.started(cli_run(&id, wf.clone()));
        log.node(&id, node_data("t", 2));
        log.finished(&id, RunStatus::Success, "2026-01-01T00:00:01Z", 1000, None);
    }
    log.flush().unwrap();
    let copy = dir.dir.path().join("without-its-log.db");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        for leftover in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{leftover}", copy.display()));
        }
        std::fs::copy(store.file().unwrap(), &copy).unwrap();
        // A copy taken mid-checkpoint (or before the schema is copied) may not read yet.
        let runs = rusqlite::Connection::open(&copy)
            .and_then(|c| c.query_row("SELECT COUNT(*) FROM executions", [], |r| r.get::<_, i64>(0)));
        if matches!(runs, Ok(50)) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the database file alone, without its log, reads {runs:?}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn a_run_written_whole_keeps_its_nodes_in_its_row_and_reads_back_like_one_written_in_parts() {
    let (_dir, store) = temp_store();
    let wf = workflow("w1", "Flow");
    let log = store.log();
    // Both started by a trigger that passes the run's input on, as a webhook does.
    let input = serde_json::to_string(&node_data("t", 2).outputs[0].items).unwrap();
    let triggered = |id: &str| ExecutionStart { input: Some(input.clone()), ..cli_run(id, wf.clone()) };
    // In parts: its start, each node and its end committed apart.
    log.started(triggered("parts"));
    log.flush().unwrap();
    log.node("parts", node_data("t", 2));
    log.flush().unwrap();
    log.node("parts", node_data("u", 1));
    log.finished("parts", RunStatus::Success, "2026-01-01T00:00:01Z", 1000, None);
    log.flush().unwrap();
    // Whole: a second connection holds the write lock while the writer has another run's
    // start in hand, so the whole run reaches the writer in its next batch.
    let blocker = rusqlite::Connection::open(store.file().unwrap()).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    log.started(cli_run("first", wf.clone()));
    std::thread::sleep(std::time::Duration::from_millis(300));
    log.started(triggered("whole"));
    log.node("whole", node_data("t", 2));
    log.node("whole", node_data("u", 1));
    let (tx, rx) = std::sync::mpsc::channel();
    log.finished_durable(
        "whole",
        RunStatus::Success,
        "2026-01-01T00:00:01Z",
        1000,
        None,
        Box::new(move |outcome| tx.send(outcome).unwrap()),
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(rx.try_recv().is_err(), "not told it is on disk while the writer cannot write");
    blocker.execute_batch("COMMIT").unwrap();
    rx.recv_timeout(std::time::Duration::from_secs(20)).unwrap().expect("the whole run is on disk");
    // Told once committed and synced: another connection reads it at once.
    let check = rusqlite::Connection::open(store.file().unwrap()).unwrap();
    let (status, owner, inline): (String, Option<String>, Option<String>) = check
        .query_row("SELECT status, owner, nodes FROM executions WHERE id = 'whole'", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!((status.as_str(), owner), ("success", None), "written as it ended, with no owner");
    let inline = inline.unwrap_or_default();
    assert!(inline.contains("\"nodeId\":\"u\""), "its nodes' data is in its row");
    // The trigger's output is the run's input: kept once, in the input column.
    assert!(inline.contains("\"outputsFromInput\":[0]"), "{inline}");
    assert_eq!(count(&store, "SELECT COUNT(*) FROM execution_nodes WHERE execution_id = 'whole'"), 0);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM execution_nodes WHERE execution_id = 'parts'"), 2);
    let (whole, parts) = (store.history().get("whole").unwrap(), store.history().get("parts").unwrap());
    assert_eq!(whole.nodes, parts.nodes, "both read back the same");
    assert_eq!(whole.nodes.iter().map(|n| n.node_id.as_str()).collect::<Vec<_>>(), ["t", "u"], "in run order");
    assert_eq!(whole.nodes[0].outputs[0].items.len(), 2);
    assert_eq!(
        (whole.summary.status, whole.summary.finished_at.as_deref(), whole.summary.duration_ms),
        (parts.summary.status, parts.summary.finished_at.as_deref(), parts.summary.duration_ms)
    );
    // Run again from the start as a second attempt (server mode): its first attempt's nodes go.
    store.history().mark_attempt("whole", 2, true).unwrap();
    assert!(store.history().get("whole").unwrap().nodes.is_empty());
    // A crash does not leave it running: it ended.
    assert_eq!(count(&store, "SELECT COUNT(*) FROM executions WHERE status = 'running' AND id != 'first'"), 0);
}

#[test]
fn the_end_of_a_run_whose_start_was_never_recorded_is_not_reported_on_disk() {
    let (_dir, store) = temp_store();
    let (tx, rx) = std::sync::mpsc::channel();
    store.log().finished_durable(
        "never-started",
        RunStatus::Success,
        "2026-01-01T00:00:01Z",
        1,
        None,
        Box::new(move |outcome| tx.send(outcome).unwrap()),
    );
    let outcome = rx.recv_timeout(std::time::Duration::from_secs(20)).unwrap();
    assert!(outcome.as_ref().is_err_and(|e| e.contains("never-started")), "{outcome:?}");
    // The writer carries on with the next runs.
    store.log().started(cli_run("next", workflow("w1", "Flow")));
    store.log().flush().unwrap();
    assert_eq!(store.history().count().unwrap(), 1);
}

#[test]
fn pruning_by_age() {
    let (_dir, store) = temp_store();
    let log = store.log();
    for day in 1..=5 {
        let id = format!("e{day}");
        log.started(ExecutionStart {
            id: id.clone(),
            workflow: workflow("w", "W").into(),
            mode: RunMode::Manual,
            started_at: format!("2026-01-0{day}T00:00:00Z"),
            called_by: None,
            retry_of: None,
            input: None,
            start_node: None,
        });
        log.finished(&id, RunStatus::Success, "2026-01-06T00:00:00Z", 1, None);
    }
    log.flush().unwrap();
    let deleted = store
        .history()
        .prune(&PruneRule { started_before: Some("2026-01-03T00:00:00Z".into()), keep_last: None })
        .unwrap();
    assert_eq!(deleted, 2);
    assert_eq!(store.history().count().unwrap(), 3);
}

#[test]
fn deleting_a_workflow_deletes_its_executions() {
    let (_dir, store) = temp_store();
    store.workflows().create(&workflow("w1", "A"), None, "2026-01-01T00:00:00Z").unwrap();
    store.log().started(ExecutionStart {
        id: "e".into(),
        workflow: workflow("w1", "A").into(),
        mode: RunMode::Manual,
        started_at: "2026-01-01T00:00:00Z".into(),
        called_by: None,
        retry_of: None,
        input: None,
        start_node: None,
    });
    store.log().node("e", node_data("t", 1));
    store.log().finished("e", RunStatus::Success, "2026-01-01T00:00:01Z", 1, None);
    store.log().flush().unwrap();
    store.workflows().delete("w1").unwrap();
    assert_eq!(store.history().count().unwrap(), 0);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM execution_nodes"), 0);
}

#[test]
fn settings_round_trip() {
    let (_dir, store) = temp_store();
    let settings = store.settings();
    assert_eq!(settings.get("runData.maxItems").unwrap(), None);
    settings.set("runData.maxItems", &serde_json::json!(500)).unwrap();
    settings.set("runData.maxItems", &serde_json::json!(250)).unwrap();
    assert_eq!(settings.get("runData.maxItems").unwrap(), Some(serde_json::json!(250)));
    assert_eq!(settings.all().unwrap().len(), 1);
}

/// Runs this test binary again as a child that performs `role` against `db`.
fn spawn_child(role: &str, db: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--ignored", "--nocapture", "--test-threads=1"])
        .env("SWITCHYARD_CRASH_ROLE", role)
        .env("SWITCHYARD_CRASH_DB", db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The child side of the crash tests: writes until killed, printing what it committed.
#[test]
#[ignore = "run by the crash tests as a child process"]
fn crash_child() {
    let (Ok(role), Ok(db)) = (std::env::var("SWITCHYARD_CRASH_ROLE"), std::env::var("SWITCHYARD_CRASH_DB")) else {
        return;
    };
    let store = Store::open_at(&Location::parse(&db)).unwrap();
    if role == "hold" {
        // Starts a run and keeps it going until killed.
        store.log().started(cli_run("held", workflow("w", "W")));
        store.log().flush().unwrap();
        println!("committed held");
        loop {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    if role == "race" {
        let (saved, conflicts) = save_race(&store, "child");
        println!("raced {saved} {conflicts}");
        return;
    }
    let big = "x".repeat(20_000);
    for i in 0.. {
        match role.as_str() {
            "save" => {
                let mut wf = workflow(&format!("w{}", i % 20), &format!("Workflow {i}"));
                wf.description = big.clone();
                let record = store.workflows().save(&wf, None, "2026-01-01T00:00:00Z").unwrap();
                println!("committed {} {} {}", wf.id, record.version, wf.name);
            }
            _ => {
                let id = format!("e{i}");
                store.log().started(cli_run(id.clone(), workflow("w", "W")));
                store.log().node(&id, node_data("t", 200));
                store.log().flush().unwrap();
                println!("committed {id}");
            }
        }
    }
}

fn kill_after(child: &mut std::process::Child, commits: usize) -> Vec<String> {
    let stdout = child.stdout.take().unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if line.starts_with("committed ") {
            lines.push(line);
            if lines.len() == commits {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL on Unix: no cleanup runs in the child.
    child.wait().unwrap();
    lines
}

#[test]
fn killed_during_saves_keeps_every_committed_workflow() {
    let place = Place::new();
    place.open();
    let mut child = spawn_child("save", &place.arg());
    let committed = kill_after(&mut child, 150);
    assert_eq!(committed.len(), 150, "the child committed saves before it was killed");

    let store = place.open();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    for line in &committed {
        let mut parts = line.splitn(4, ' ');
        let (_, id, version) = (parts.next(), parts.next().unwrap(), parts.next().unwrap().parse::<u32>().unwrap());
        let record = store.workflows().get(id).unwrap();
        assert!(record.version >= version, "{id}: committed version {version} is gone (stored {})", record.version);
        assert_eq!(record.workflow.description.len(), 20_000);
    }
}

#[test]
fn killed_during_a_run_leaves_it_interrupted() {
    let place = Place::new();
    place.open();
    let mut child = spawn_child("run", &place.arg());
    let committed = kill_after(&mut child, 40);

    let store = place.open();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    for line in &committed {
        let id = line.trim_start_matches("committed ");
        let execution = store.history().get(id).unwrap();
        assert_eq!(execution.summary.status, RunStatus::Interrupted, "{id}");
        assert_eq!(execution.nodes.len(), 1);
        assert_eq!(execution.nodes[0].outputs[0].items.len(), 200);
    }
}

/// Saves workflow "shared" 500 times, each time expecting the version just read: returns
/// (saved, version conflicts). Any other error fails.
fn save_race(store: &Store, who: &str) -> (u32, u32) {
    let (mut saved, mut conflicts) = (0, 0);
    for i in 0..500 {
        let current = store.workflows().get("shared").unwrap();
        let mut wf = current.workflow.clone();
        wf.name = format!("{who} {i}");
        match store.workflows().save(&wf, Some(current.version), "2026-01-01T00:00:00Z") {
            Ok(record) => {
                assert!(store.workflows().get("shared").unwrap().version >= record.version);
                saved += 1;
            }
            Err(StoreError::Conflict { .. }) => conflicts += 1,
            Err(e) => panic!("{who}: save {i} failed with something other than a version conflict: {e}"),
        }
    }
    (saved, conflicts)
}

/// Two processes save the same workflow 500 times each: the read-then-write transaction takes
/// the write lock first (BEGIN IMMEDIATE), so the only error is the designed version conflict
/// (a deferred one failed at once with SQLITE_BUSY, the busy timeout not applying).
#[test]
fn two_processes_saving_one_workflow_see_only_version_conflicts() {
    let place = Place::new();
    let store = place.open();
    store.workflows().save(&workflow("shared", "Shared"), None, "2026-01-01T00:00:00Z").unwrap();
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--ignored", "--nocapture", "--test-threads=1"])
        .env("SWITCHYARD_CRASH_ROLE", "race")
        .env("SWITCHYARD_CRASH_DB", place.arg())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (saved, conflicts) = save_race(&store, "parent");
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the child process failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    // The test harness may have written "test crash_child ... " before it on the line.
    let line = text.lines().find_map(|l| l.split("raced ").nth(1)).expect("the child reports its saves");
    let numbers: Vec<u32> = line.split(' ').map(|n| n.trim().parse().unwrap()).collect();
    assert_eq!(saved + conflicts + numbers[0] + numbers[1], 1000);
    // Every committed save is there: one version each, on top of the first.
    let stored = store.workflows().get("shared").unwrap();
    assert_eq!(stored.version, 1 + saved + numbers[0]);
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

/// One message that cannot be written (a node of an execution whose workflow was deleted
/// meanwhile: a foreign key fails) once rolled back the whole batch, other runs' history
/// with it. Now only that message is dropped.
#[test]
fn a_message_that_cannot_be_written_loses_no_other_runs_history() {
    let (_dir, store) = temp_store();
    store.workflows().save(&workflow("doomed", "Doomed"), None, "2026-01-01T00:00:00Z").unwrap();
    store.workflows().save(&workflow("other", "Other"), None, "2026-01-01T00:00:00Z").unwrap();
    let start = |id: &str, wf: &str| cli_run(id, workflow(wf, wf));
    let log = store.log();
    log.started(start("e-doomed", "doomed"));
    log.flush().unwrap();
    store.workflows().delete("doomed").unwrap();
    // One batch: the deleted run's node (foreign key fails) between another run's messages.
    log.started(start("e-other", "other"));
    log.node("e-doomed", node_data("t", 1));
    log.node("e-other", node_data("t", 2));
    log.finished("e-other", RunStatus::Success, "2026-01-01T00:00:01Z", 1000, None);
    log.flush().unwrap();
    let other = store.history().get("e-other").unwrap();
    assert_eq!(other.summary.status, RunStatus::Success);
    assert_eq!(other.nodes.len(), 1);
    assert!(store.history().get("e-doomed").is_err(), "deleted with its workflow");
}

/// Interrupted runs were found by reading /proc for their process id: Linux only, and a
/// reused id kept a dead run "running" forever. Each open store now holds a lock file; a run
/// whose owner's file is unlocked is interrupted, on every OS, whatever the process ids.
#[test]
fn a_live_process_keeps_its_runs_and_a_dead_owner_with_a_reused_pid_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("switchyard.db");
    Store::open(&db).unwrap();
    let mut child = spawn_child("hold", &db.display().to_string());
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    assert!(lines.any(|l| l.unwrap().contains("committed held")), "the child started its run");

    // A run of a store that is gone, recorded with a process id that is alive (this one's:
    // as when the system gave the dead process's id to another).
    let lock_dir = dir.path().join("switchyard.db-owners");
    std::fs::write(lock_dir.join("gone-1.lock"), b"").unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "INSERT INTO executions (id, workflow_id, workflow_name, workflow_definition, status, mode, started_at, owner_pid, owner)
         VALUES ('orphan', 'w', 'W', ?2, 'running', 'cli', '2026-01-01T00:00:00Z', ?1, 'gone-1')",
        rusqlite::params![std::process::id(), serde_json::to_string(&workflow("w", "W")).unwrap()],
    )
    .unwrap();
    drop(conn);

    let store = Store::open(&db).unwrap();
    assert_eq!(store.history().get("held").unwrap().summary.status, RunStatus::Running, "its process is alive");
    assert_eq!(store.history().get("orphan").unwrap().summary.status, RunStatus::Interrupted);
    assert!(!lock_dir.join("gone-1.lock").exists(), "the dead owner's file is cleared away");
    drop(store);

    child.kill().unwrap();
    child.wait().unwrap();
    let store = Store::open(&db).unwrap();
    assert_eq!(store.history().get("held").unwrap().summary.status, RunStatus::Interrupted, "killed");
    drop(store);
    let left: Vec<_> = std::fs::read_dir(&lock_dir).unwrap().collect();
    assert!(left.is_empty(), "closed stores remove their lock files: {left:?}");
}

#[test]
fn trigger_values_are_kept_per_workflow_and_node_across_a_reopen() {
    let (place, store) = temp_store();
    let triggers = store.triggers();
    assert_eq!(triggers.value("wf", "mail", "lastUid").unwrap(), None);
    triggers.set_value("wf", "mail", "uidValidity", "1796235793").unwrap();
    triggers.set_value("wf", "mail", "lastUid", "41").unwrap();
    triggers.set_value("wf", "mail", "lastUid", "42").unwrap();
    triggers.set_value("other", "mail", "lastUid", "7").unwrap();
    drop(store);
    let store = place.open();
    assert_eq!(store.triggers().value("wf", "mail", "lastUid").unwrap().as_deref(), Some("42"));
    assert_eq!(store.triggers().value("wf", "mail", "uidValidity").unwrap().as_deref(), Some("1796235793"));
    assert_eq!(store.triggers().value("other", "mail", "lastUid").unwrap().as_deref(), Some("7"));
}

/// A start is on disk, with its input, when its durable callback is told; an interrupted run
/// with input is listed for a re-run until a re-run that exists claims it, and is claimed once.
#[test]
fn interrupted_runs_keep_their_input_and_are_claimed_for_a_rerun_once() {
    let (_dir, store) = temp_store();
    let start = |id: &str, retry_of: Option<&str>| ExecutionStart {
        id: id.into(),
        workflow: workflow("w", "W").into(),
        mode: RunMode::Webhook,
        started_at: "2026-01-01T00:00:00Z".into(),
        called_by: None,
        retry_of: retry_of.map(str::to_string),
        input: Some(r#"[{"json":{"n":1}}]"#.into()),
        start_node: Some("hook".into()),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    store.log().started_durable(start("r1", None), Box::new(move |outcome| tx.send(outcome).unwrap()));
    rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap().unwrap();
    // Read by another connection than the writer's: committed, not only queued.
    assert_eq!(count(&store, "SELECT length(input) FROM executions WHERE id = 'r1'"), 18);
    let input = r#"[{"json":{"n":1}}]"#.to_string();
    // As a crash leaves it once the next start marks it.
    store
        .raw_execute("UPDATE executions SET status = 'interrupted', owner = NULL, owner_pid = NULL WHERE id = 'r1'")
        .unwrap();

    let history = store.history();
    let found = history.interrupted_to_rerun().unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].id.as_str(), found[0].mode, found[0].input.as_str()),
        ("r1", RunMode::Webhook, input.as_str())
    );
    assert_eq!(found[0].start_node.as_deref(), Some("hook"), "from the trigger it started at");
    assert!(history.claim_rerun("r1", "r2").unwrap());
    // r2 never got recorded (a crash right after the claim): r1 is still to be re-run.
    assert_eq!(history.interrupted_to_rerun().unwrap().len(), 1);
    assert!(history.claim_rerun("r1", "r3").unwrap());
    store.log().started(start("r3", Some("r1")));
    store.log().flush().unwrap();
    assert!(history.interrupted_to_rerun().unwrap().is_empty(), "claimed by a recorded re-run");
    assert!(!history.claim_rerun("r1", "r4").unwrap(), "a run is claimed once");
}

#[test]
fn worker_reports_replace_their_row_and_old_ones_are_forgotten() {
    let (_dir, store) = temp_store();
    let workers = store.workers();
    let mut row = switchyard_store::WorkerRow {
        name: "box-1-77-abc".into(),
        host: "box-1".into(),
        pid: 77,
        started_ms: 1_000,
        seen_ms: 1_000,
        beat_ms: 10_000,
        stopped_ms: None,
        concurrency: 8,
        running: 3,
        runs: 0,
        failed: 0,
        claimed: 0,
        dead_letters: 0,
        memory_bytes: Some(52_428_800),
        cpu_percent: Some(12.5),
    };
    workers.report(&row).unwrap();
    row.seen_ms = 11_000;
    row.runs = 40;
    row.failed = 2;
    row.claimed = 1;
    workers.report(&row).unwrap();
    let mut old = row.clone();
    old.name = "box-2-5-def".into();
    old.seen_ms = 500;
    old.memory_bytes = None;
    old.cpu_percent = None;
    workers.report(&old).unwrap();
    assert_eq!(workers.list(0).unwrap(), vec![row.clone(), old.clone()]);
    assert_eq!(workers.list(1_000).unwrap(), vec![row.clone()]);
    // Up within three heartbeats; stopped is down at once.
    assert!(row.up(41_000) && !row.up(41_001));
    row.stopped_ms = Some(12_000);
    workers.report(&row).unwrap();
    assert!(!workers.list(0).unwrap()[0].up(12_000));
    assert_eq!(workers.forget(1_000).unwrap(), 1);
    assert_eq!(workers.list(0).unwrap(), vec![row]);
}

#[test]
fn shared_blobs_keep_their_bytes_renew_their_time_and_age_out() {
    let (_dir, store) = temp_store();
    let blobs = store.shared_blobs();
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    assert!(!blobs.has("aa").unwrap());
    assert_eq!(blobs.get("aa").unwrap(), None);
    blobs.put("aa", &bytes, 1_000).unwrap();
    blobs.put("bb", b"", 1_000).unwrap();
    // Put again: the bytes stay, the time is renewed.
    blobs.put("aa", &bytes, 5_000).unwrap();
    assert!(blobs.has("aa").unwrap());
    assert_eq!(blobs.get("aa").unwrap(), Some(bytes.clone()));
    assert_eq!(blobs.get("bb").unwrap(), Some(Vec::new()));
    assert!(blobs.touch("bb", 2_000).unwrap() && !blobs.touch("cc", 2_000).unwrap());
    assert_eq!(blobs.forget(3_000).unwrap(), 1);
    assert_eq!((blobs.has("aa").unwrap(), blobs.has("bb").unwrap()), (true, false));
}

#[test]
fn api_tokens_are_found_by_hash_revoked_once_and_touched_forward() {
    let (_dir, store) = temp_store();
    let tokens = store.tokens();
    let row = |id: &str, created_ms: i64| switchyard_store::TokenRow {
        id: id.into(),
        name: format!("token {id}"),
        scope: "read".into(),
        hash: id.as_bytes().repeat(8),
        prefix: "syt_ab".into(),
        created_ms,
        last_used_ms: None,
        revoked_ms: None,
    };
    tokens.insert(&row("a", 1)).unwrap();
    tokens.insert(&row("b", 2)).unwrap();
    // The hash is unique: a second token with the same hash is refused.
    let mut same = row("c", 3);
    same.hash = row("a", 1).hash;
    assert!(tokens.insert(&same).is_err());
    assert_eq!(tokens.list().unwrap().iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["b", "a"]);
    assert_eq!(tokens.find(&row("b", 2).hash).unwrap().unwrap().id, "b");
    assert!(tokens.find(b"nothing").unwrap().is_none());
    tokens.touch("a", 50).unwrap();
    tokens.touch("a", 40).unwrap();
    assert_eq!(tokens.get("a").unwrap().unwrap().last_used_ms, Some(50));
    assert_eq!(tokens.revoke("a", 60).unwrap().unwrap().revoked_ms, Some(60));
    assert_eq!(tokens.revoke("a", 70).unwrap().unwrap().revoked_ms, Some(60));
    assert!(tokens.revoke("zzz", 70).unwrap().is_none());
}

/// A lease has one holder among the processes sharing a PostgreSQL store, keeps it while its
/// session lives, and passes on when it ends; on SQLite every process holds it.
#[test]
fn postgres_a_lease_has_one_holder_until_its_session_ends() {
    if postgres_server().is_some() {
        return;
    }
    let server = switchyard_testkit::servers::Postgres::start();
    server.psql("CREATE DATABASE leases");
    let store = Store::connect(&server.url("leases")).unwrap();
    let (mut first, mut second) = (store.lease("scheduler"), store.lease("scheduler"));
    assert!(first.check());
    assert!(!second.check(), "one holder");
    assert!(first.check(), "kept while its session lives");
    assert!(store.lease("mailbox").check(), "another name is another lease");
    // The holder's session ends (as when its process dies): the other takes over.
    server.psql("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND pid <> pg_backend_pid() AND granted");
    assert!(!first.check(), "a broken session has lost the lease");
    let started = std::time::Instant::now();
    while !second.check() {
        assert!(started.elapsed().as_secs() < 10, "the lease never passed on");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    drop(first);

    let (_place, sqlite) = {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in(dir.path()).unwrap();
        (dir, store)
    };
    assert!(sqlite.lease("scheduler").check() && sqlite.lease("scheduler").check(), "on SQLite every process holds it");
}
