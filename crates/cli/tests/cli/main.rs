//! CLI tests: the real `switchyard` binary against real files, a real SQLite database and a
//! real HTTP server on 127.0.0.1.

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{Value as Json, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use switchyard_testkit::TestServer;

mod deploy;
mod postgres;
mod queue;
mod rest;
mod server;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// The CLI, run from the repository root with its own data folder.
fn cli(data: &Path) -> Command {
    let mut cmd = Command::cargo_bin("switchyard").unwrap();
    cmd.current_dir(repo()).env("SWITCHYARD_DATA_DIR", data).env_remove("SWITCHYARD_LOG");
    cmd
}

/// Workflow `uses-account`: a manual trigger and an HTTP Request to `url` with the
/// `http.bearer` account "work".
fn uses_account(url: &str) -> Json {
    json!({"switchyard": 1, "id": "uses-account", "name": "Uses an account",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "h", "name": "Fetch", "type": "http.request", "parameters": {"url": url},
             "credentials": {"auth": {"connection": "http.bearer", "account": "work"}}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "h"}}]})
}

/// Workflow `id`: a Webhook at path `in` that answers with its last node, a Set node that
/// keeps only `field`, computed by `value`.
fn answering_hook(id: &str, name: &str, field: &str, value: &str) -> Json {
    json!({
        "switchyard": 1, "id": id, "name": name,
        "nodes": [
            {"id": "hook", "name": "Hook", "type": "trigger.webhook", "parameters": {"path": "in", "responseMode": "lastNode"}},
            {"id": "set", "name": "Answer", "type": "data.set", "parameters": {
                "assignments": [{"name": field, "value": value}], "keep": "none"}}
        ],
        "connections": [{"from": {"node": "hook"}, "to": {"node": "set"}}]
    })
}

fn stdout_json(output: &std::process::Output) -> Json {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", String::from_utf8_lossy(&output.stdout)))
}

#[test]
fn every_invalid_file_is_reported_exactly() {
    let data = tempfile::tempdir().unwrap();
    let dir = repo().join("tests/fixtures/invalid");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let name = path.file_name().unwrap().to_str().unwrap();
        let expected = std::fs::read_to_string(path.with_extension("expected")).unwrap();
        let relative = format!("tests/fixtures/invalid/{name}");
        cli(data.path())
            .args(["validate", &relative])
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::eq(expected.as_str()));
        // Running an invalid file fails the same way and writes nothing.
        cli(data.path()).args(["run", &relative]).assert().code(2).stdout("").stderr(predicate::eq(expected.as_str()));
        checked += 1;
    }
    assert_eq!(checked, 14);
    assert_eq!(std::fs::read_dir(data.path()).unwrap().count(), 0, "no database was created for invalid input");
}

#[test]
fn validate_reports_valid_files_and_json() {
    let data = tempfile::tempdir().unwrap();
    cli(data.path())
        .args(["validate", "assets/examples/route-tickets.json"])
        .assert()
        .success()
        .stdout("assets/examples/route-tickets.json: valid (8 nodes)\n");
    let output = cli(data.path()).args(["validate", "--json", "tests/fixtures/invalid/cycle.json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let report = stdout_json(&output);
    assert_eq!(report["valid"], false);
    assert_eq!(report["issues"][0]["code"], "cycle");
    assert_eq!(report["issues"][0]["line"], 13);
    cli(data.path())
        .args(["validate", "nope.json"])
        .assert()
        .code(2)
        .stderr("switchyard: cannot read nope.json: No such file or directory (os error 2)\n");
}

#[test]
fn run_prints_items_and_progress() {
    let data = tempfile::tempdir().unwrap();
    let output = cli(data.path())
        .args(["run", "assets/examples/hello-world.json", "--input", r#"{"name": "Ada"}"#])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8(output.stdout).unwrap(), "[\n  {\"greeting\":\"Hello, Ada!\",\"length\":3}\n]\n");
    let stderr = String::from_utf8(output.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines[0].starts_with("Running \"Hello world\" ("), "{stderr}");
    assert!(lines[1].starts_with("  ✓ Start: 1 item in "), "{stderr}");
    assert!(lines[2].starts_with("  ✓ Greet: 1 item in "), "{stderr}");
    assert!(lines[3].starts_with("Run ") && lines[3].contains(" succeeded in "), "{stderr}");

    // --json gives the whole result; -q silences progress.
    let output = cli(data.path()).args(["run", "assets/examples/order-totals.json", "--json", "-q"]).output().unwrap();
    assert!(output.status.success());
    assert_eq!(output.stderr, b"");
    let result = stdout_json(&output);
    assert_eq!(result["status"], "success");
    assert_eq!(result["items"][0]["json"], json!({"customer": "globex", "total": 95, "orders": 1}));

    // Runs are recorded.
    let list = stdout_json(&cli(data.path()).args(["executions", "--json"]).output().unwrap());
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["workflowName"], "Order totals per customer");
    assert_eq!(list[0]["mode"], "cli");
    let id = list[0]["id"].as_str().unwrap();
    let shown = cli(data.path()).args(["execution", id]).output().unwrap();
    let shown = String::from_utf8(shown.stdout).unwrap();
    assert!(shown.contains("\"Order totals per customer\" success (cli)"), "{shown}");
    assert!(shown.contains("Sum per customer  success  4"), "{shown}");
}

#[test]
fn input_from_files_and_stdin_and_bad_input() {
    let data = tempfile::tempdir().unwrap();
    let input = data.path().join("tickets.json");
    std::fs::write(&input, r#"[{"id": 9, "priority": "urgent"}]"#).unwrap();
    let output = cli(data.path())
        .args(["run", "assets/examples/route-tickets.json", "-q", "--input", &format!("@{}", input.display())])
        .output()
        .unwrap();
    assert_eq!(stdout_json(&output), json!([{"id": 9, "priority": "urgent", "team": "on-call"}]));
    let output = cli(data.path())
        .args(["run", "assets/examples/hello-world.json", "-q", "--input", "-"])
        .write_stdin(r#"[{"name": "a"}, {"name": "bb"}]"#)
        .output()
        .unwrap();
    assert_eq!(
        stdout_json(&output),
        json!([{"greeting": "Hello, a!", "length": 1}, {"greeting": "Hello, bb!", "length": 2}])
    );

    cli(data.path())
        .args(["run", "assets/examples/hello-world.json", "--input", "{\"name\": "])
        .assert()
        .code(2)
        .stdout("")
        .stderr("switchyard: --input: malformed JSON at line 1 column 9: EOF while parsing a value\n");
    cli(data.path())
        .args(["run", "assets/examples/hello-world.json", "--input", "@missing.json"])
        .assert()
        .code(2)
        .stderr("switchyard: --input: cannot read missing.json: No such file or directory (os error 2)\n");
    cli(data.path())
        .args(["run", "no-such-workflow"])
        .assert()
        .code(2)
        .stderr("switchyard: \"no-such-workflow\" is neither a workflow file nor the id of a saved workflow\n");
    cli(data.path())
        .args(["run", "missing.json"])
        .assert()
        .code(2)
        .stderr("switchyard: cannot read missing.json: no such file\n");
}

#[test]
fn http_runs_against_a_local_server_and_failures_exit_1() {
    let server = TestServer::start_in_thread();
    let data = tempfile::tempdir().unwrap();
    let input = json!({"baseUrl": server.base_url()}).to_string();
    let output =
        cli(data.path()).args(["run", "assets/examples/fetch-users.json", "-q", "--input", &input]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let users = stdout_json(&output);
    assert_eq!(users.as_array().unwrap().len(), 5);
    assert_eq!(users[0]["city"], "Roscoeview");

    // The same workflow against a path that answers 404: the run fails with exit code 1.
    let input = json!({"baseUrl": server.url("/status/404?x=")}).to_string();
    let output =
        cli(data.path()).args(["run", "assets/examples/fetch-users.json", "--input", &input]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(output.stdout, b"[]\n");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("  ✗ Fetch users: GET "), "{stderr}");
    assert!(
        stderr.ends_with(&format!(
            "error: node \"Fetch users\", item 0: GET {}/status/404 answered 404 Not Found [http_status]\n",
            server.base_url()
        )),
        "{stderr}"
    );
    let list = stdout_json(&cli(data.path()).args(["executions", "--json"]).output().unwrap());
    assert_eq!(list[0]["status"], "error");
    assert_eq!(list[0]["error"]["nodeName"], "Fetch users");

    // The failure is in the data folder's log file, by name and code, with no URL, input or
    // secret in it.
    let input = json!({"baseUrl": server.url("/status/503?x="), "apiKey": "sk-live-NOT-IN-LOGS"}).to_string();
    let output =
        cli(data.path()).args(["run", "assets/examples/fetch-users.json", "--input", &input]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let logs: Vec<_> = std::fs::read_dir(data.path().join("logs")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    let name = logs[0].file_name().unwrap().to_string_lossy().to_string();
    assert!(name.starts_with("switchyard.") && name.ends_with(".log"), "{name}");
    let log = std::fs::read_to_string(&logs[0]).unwrap();
    assert!(log.contains("run finished") && log.contains("workflow=Fetch users"), "{log}");
    assert!(log.contains("node=\"Fetch users\"") && log.contains("code=HttpStatus"), "{log}");
    for secret in ["sk-live-NOT-IN-LOGS", "/status/", "baseUrl"] {
        assert!(!log.contains(secret), "{secret} is in the log:\n{log}");
    }
}

#[test]
fn import_list_run_by_id_export() {
    let data = tempfile::tempdir().unwrap();
    cli(data.path())
        .args(["import", "tests/fixtures/invalid/duplicates.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::ends_with("tests/fixtures/invalid/duplicates.json: 2 problems\n"));
    cli(data.path()).args(["list", "--json"]).assert().success().stdout("[]\n");

    cli(data.path())
        .args(["import", "assets/examples/hello-world.json", "--keep-id"])
        .assert()
        .success()
        .stdout("Imported \"Hello world\" as 0193a1c0-0000-7000-8000-000000000001\n");
    cli(data.path()).args(["import", "assets/examples/hello-world.json", "--keep-id"]).assert().success().stderr(
        predicate::str::contains("note: a workflow with id 0193a1c0-0000-7000-8000-000000000001 already exists"),
    );
    let list = stdout_json(&cli(data.path()).args(["list", "--json"]).output().unwrap());
    assert_eq!(list.as_array().unwrap().len(), 2);

    let output = cli(data.path())
        .args(["run", "0193a1c0-0000-7000-8000-000000000001", "-q", "--input", r#"{"name":"Id"}"#])
        .output()
        .unwrap();
    assert_eq!(stdout_json(&output)[0]["greeting"], "Hello, Id!");

    let exported = data.path().join("hello.json");
    cli(data.path())
        .args(["export", "0193a1c0-0000-7000-8000-000000000001", "-o", exported.to_str().unwrap()])
        .assert()
        .success();
    let text = std::fs::read_to_string(&exported).unwrap();
    let stdout = cli(data.path()).args(["export", "0193a1c0-0000-7000-8000-000000000001"]).output().unwrap().stdout;
    assert_eq!(text.as_bytes(), stdout.as_slice());
    cli(data.path()).args(["validate", exported.to_str().unwrap()]).assert().success();
    cli(data.path()).args(["export", "nope", "-o", "x.json"]).assert().code(2).stderr("workflow nope not found\n");
}

#[test]
fn a_run_killed_mid_way_leaves_a_sound_database() {
    let data = tempfile::tempdir().unwrap();
    let workflow = data.path().join("slow.json");
    std::fs::write(
        &workflow,
        json!({
            "switchyard": 1, "id": "w-slow", "name": "Slow",
            "nodes": [
                {"id": "t", "name": "Start", "type": "trigger.manual"},
                {"id": "c", "name": "Make", "type": "code.script", "parameters": {"code": "let out = []; for i in 0..500 { out.push(#{ i: i }); } out"}},
                {"id": "w", "name": "Wait", "type": "flow.wait", "parameters": {"amount": 600}}
            ],
            "connections": [{"from": {"node": "t"}, "to": {"node": "c"}}, {"from": {"node": "c"}, "to": {"node": "w"}}]
        })
        .to_string(),
    )
    .unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("switchyard"))
        .args(["run", workflow.to_str().unwrap()])
        .env("SWITCHYARD_DATA_DIR", data.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    for line in BufReader::new(stderr).lines() {
        if line.unwrap().contains("✓ Make: 500 items") {
            break;
        }
    }
    // Wait (bounded) until the background writer has committed the node data, then kill -9.
    let db = data.path().join("switchyard.db");
    let committed = (0..500).any(|_| {
        let rows = rusqlite::Connection::open(&db)
            .and_then(|c| c.query_row("SELECT COUNT(*) FROM execution_nodes", [], |r| r.get::<_, u32>(0)))
            .unwrap_or(0);
        rows >= 2 || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            false
        }
    });
    assert!(committed, "the node data was committed while the run waits");
    child.kill().unwrap();
    child.wait().unwrap();

    let conn = rusqlite::Connection::open(data.path().join("switchyard.db")).unwrap();
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    drop(conn);
    let list = stdout_json(&cli(data.path()).args(["executions", "--json"]).output().unwrap());
    assert_eq!(list[0]["status"], "interrupted", "{list}");
    let execution =
        stdout_json(&cli(data.path()).args(["execution", list[0]["id"].as_str().unwrap(), "--json"]).output().unwrap());
    assert_eq!(execution["nodes"][1]["outputs"][0]["total"], 500, "committed node data survived the kill");
}

/// The vault and accounts headless: the master password from the environment, a wrong one
/// refused, accounts added from environment variables, tested, rotated, removed.
#[test]
fn vault_and_connections_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in_thread();
    let run = |args: &[&str], password: &str| {
        let mut cmd = Command::cargo_bin("switchyard").unwrap();
        cmd.arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .env("SWITCHYARD_KEYRING", "off")
            .env("SWITCHYARD_MASTER_PASSWORD", password)
            .env("MY_TOKEN", "cli-secret-token-4b5c6d7e")
            .write_stdin("");
        cmd.assert()
    };
    let test_url = format!("testUrl={}", server.url("/auth/inspect"));
    run(
        &["connections", "add", "http.bearer", "work", "--field", "token=@env:MY_TOKEN", "--field", &test_url],
        "pass phrase 1",
    )
    .success()
    .stdout(predicate::str::contains("http.bearer/work (default)  ready"));
    run(&["vault", "status"], "pass phrase 1")
        .success()
        .stdout(predicate::str::contains("behind a master password").and(predicate::str::contains("accounts: 1")));
    run(&["connections", "list"], "wrong phrase")
        .code(1)
        .stderr(predicate::str::contains("wrong master password; nothing was changed"));
    run(&["connections", "list", "--json"], "pass phrase 1").success().stdout(
        predicate::str::contains("cli-secret-token").not().and(predicate::str::contains("\"label\": \"work\"")),
    );
    run(&["connections", "add", "http.bearer", "x", "--field", "tokn=1"], "pass phrase 1")
        .code(2)
        .stderr(predicate::str::contains("Bearer token has no field \"tokn\""));
    run(&["connections", "test", "http.bearer/work"], "pass phrase 1")
        .success()
        .stdout(predicate::str::contains("answered 200 OK"));
    run(&["vault", "rotate-key"], "pass phrase 1").success().stderr(predicate::str::contains("1 account(s) re-sealed"));
    run(&["connections", "test", "http.bearer/work"], "pass phrase 1").success();
    run(&["connections", "remove", "http.bearer/nope"], "pass phrase 1").code(2).stderr(
        predicate::str::contains("no account \"http.bearer/nope\"").and(predicate::str::contains("http.bearer/work")),
    );
    run(&["connections", "remove", "http.bearer/work"], "pass phrase 1").success();
    let db = std::fs::read(dir.path().join("switchyard.db")).unwrap();
    assert!(!db.windows(16).any(|w| w == b"cli-secret-token"));
}

/// One HTTP/1.1 request over a plain socket; returns the status and the body.
fn http_post(addr: &str, path: &str, body: &str) -> (u16, String) {
    let response = post_exchange(addr, path, body, None).unwrap();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

/// Sends one JSON POST (`Connection: close`) and reads the whole response as text.
fn post_exchange(addr: &str, path: &str, body: &str, timeout: Option<std::time::Duration>) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(timeout)?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    Ok(String::from_utf8_lossy(&response).into_owned())
}

/// `switchyard serve` on a free port with one active workflow: the process, its stderr
/// (after the "listening" line), the port and the listener's address.
fn spawn_serve(
    data: &Path,
    args: &[&str],
) -> (std::process::Child, BufReader<std::process::ChildStderr>, String, String) {
    let (server, stderr, port, addr, line) = start_serve(data, args, &[]);
    assert!(line.contains("1 active workflows"), "{line}");
    (server, stderr, port, addr)
}

/// [`spawn_serve`] on a data folder with any number of active workflows, with more
/// environment variables.
fn spawn_serve_any(
    data: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (std::process::Child, BufReader<std::process::ChildStderr>, String, String) {
    let (server, stderr, port, addr, _) = start_serve(data, args, env);
    (server, stderr, port, addr)
}

fn start_serve(
    data: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (std::process::Child, BufReader<std::process::ChildStderr>, String, String, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let mut server = std::process::Command::new(assert_cmd::cargo::cargo_bin("switchyard"))
        .args(["serve", "--port", &port])
        .args(args)
        .env("SWITCHYARD_DATA_DIR", data)
        .envs(env.iter().copied())
        .env_remove("SWITCHYARD_LOG")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(server.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.contains("listening on http://127.0.0.1:"), "{line}");
    let addr = line.split("http://").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    (server, stderr, port, addr, line)
}

#[test]
fn serve_answers_webhooks_and_stops_cleanly_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("slow-hook.json");
    std::fs::write(
        &file,
        json!({
            "switchyard": 1, "id": "slow-hook", "name": "Slow hook",
            "nodes": [
                {"id": "hook", "name": "Hook", "type": "trigger.webhook", "parameters": {"path": "slow", "responseMode": "lastNode"}},
                {"id": "wait", "name": "Wait", "type": "flow.wait", "parameters": {"amount": 2, "unit": "seconds"}},
                {"id": "set", "name": "Answer", "type": "data.set", "parameters": {
                    "assignments": [{"name": "got", "value": "{{ json.body.n }}"}], "keep": "none"}}
            ],
            "connections": [
                {"from": {"node": "hook"}, "to": {"node": "wait"}},
                {"from": {"node": "wait"}, "to": {"node": "set"}}
            ]
        })
        .to_string(),
    )
    .unwrap();
    cli(data.path()).arg("import").arg(&file).arg("--keep-id").assert().success();
    cli(data.path()).args(["activate", "slow-hook"]).assert().success().stdout(predicate::str::contains("is active"));

    let (mut server, mut stderr, port, addr) = spawn_serve(data.path(), &[]);

    // A request whose run takes 2 s is in flight when SIGTERM arrives: it is still answered.
    let request = {
        let addr = addr.clone();
        std::thread::spawn(move || http_post(&addr, "/webhook/slow-hook/slow", r#"{"n": 7}"#))
    };
    let running = (0..500).any(|_| {
        let out = cli(data.path()).args(["executions", "--json"]).output().unwrap();
        let list = stdout_json(&out);
        if list.as_array().is_some_and(|l| l.iter().any(|e| e["status"] == "running")) {
            return true;
        }
        std::thread::yield_now();
        false
    });
    assert!(running, "the webhook run started");
    // The live metrics: off until asked for, then the running server's Prometheus text.
    cli(data.path())
        .args(["metrics", "--port", &port])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("the metrics endpoint is off"));
    let text = cli(data.path()).args(["metrics", "--enable", "--port", &port]).output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("# TYPE switchyard_runs_total counter"), "{text}");
    assert!(text.contains("switchyard_active_runs 1"), "the slow run is in progress: {text}");
    // Without its token (a scraper that was not given it) /metrics answers 401.
    let token = cli(data.path()).args(["metrics", "--token"]).output().unwrap();
    let token = String::from_utf8(token.stdout).unwrap().trim().to_string();
    assert_eq!(token.len(), 64, "{token}");
    let plain = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", &format!("http://127.0.0.1:{port}/metrics")])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&plain.stdout), "401");
    let killed = std::process::Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    assert!(killed.success());
    assert_eq!(request.join().unwrap(), (200, r#"{"got":7}"#.to_string()));
    let status = server.wait().unwrap();
    assert!(status.success(), "serve exits 0 after SIGTERM: {status:?}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(rest.contains("stopped"), "{rest}");

    // Nothing lost: the run is recorded as a success, the delivery is logged.
    let out = cli(data.path()).args(["executions", "--json"]).output().unwrap();
    let list = stdout_json(&out);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!((list[0]["status"].clone(), list[0]["mode"].clone()), (json!("success"), json!("webhook")));
    let out = cli(data.path()).args(["deliveries", "--json"]).output().unwrap();
    let deliveries = stdout_json(&out);
    assert_eq!(deliveries[0]["status"], 200);
    assert_eq!(deliveries[0]["executionId"], list[0]["id"]);
    cli(data.path()).args(["triggers"]).assert().success().stdout(predicate::str::contains("/webhook/slow-hook/slow"));
    assert!(std::net::TcpStream::connect(&addr).is_err(), "the listener is closed");
}

#[test]
fn alert_rules_from_the_command_line() {
    let data = tempfile::tempdir().unwrap();
    // The predefined rules are there, switched off.
    let rules = stdout_json(&cli(data.path()).args(["alerts", "list", "--json"]).output().unwrap());
    let presets = rules.as_array().unwrap().len();
    assert!(presets >= 5 && rules.as_array().unwrap().iter().all(|r| r["enabled"] == false), "{rules}");

    let output = cli(data.path())
        .args(["alerts", "add", "Too many runs", "runs", ">=", "100", "--window", "10", "--severity", "error"])
        .args(["--escalate", "15", "--notify"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let said = String::from_utf8(output.stdout).unwrap();
    assert!(said.starts_with("Added \"Too many runs\" (runs >= 100 over 10 min) as "), "{said}");
    let id = said.trim().rsplit(' ').next().unwrap().to_string();

    let table = String::from_utf8(cli(data.path()).args(["alerts", "list"]).output().unwrap().stdout).unwrap();
    assert!(table.lines().any(|l| l.contains(&id) && l.contains(" on ") && l.contains("error")), "{table}");
    cli(data.path()).args(["alerts", "disable", &id]).assert().success().stdout("\"Too many runs\" is off\n");
    let test = cli(data.path()).args(["alerts", "test", &id]).output().unwrap();
    assert!(test.status.success());
    assert_eq!(String::from_utf8(test.stdout).unwrap(), "✓ notify: written to the log (no desktop here)\n");

    // Mistakes are named.
    cli(data.path())
        .args(["alerts", "add", "x", "latency", ">", "1"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("the metric must be one of errorRate, failedRuns"));
    cli(data.path())
        .args(["alerts", "add", "x", "runs", ">", "1", "--window", "0"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("windowMinutes: must be from 1 to 60, found 0"));
    cli(data.path()).args(["alerts", "remove", &id]).assert().success().stdout("Deleted \"Too many runs\"\n");
    cli(data.path()).args(["alerts", "remove", &id]).assert().code(1);
    cli(data.path()).args(["alerts", "history"]).assert().success().stderr("No alerts.\n");
}

/// A crafted file (issue 13): a 100 KB key over 100,000 array elements once made validation
/// build a 100 KB path string per element (about 10 GB). `switchyard validate` now reports
/// it in well under 2 s and 200 MB, measured from outside with GNU time.
#[test]
fn a_long_key_over_many_elements_validates_quickly_in_little_memory() {
    let data = tempfile::tempdir().unwrap();
    let key = "k".repeat(100_000);
    let elements = vec!["0"; 100_000].join(",");
    let text = format!(
        r#"{{"switchyard": 1, "id": "bomb", "name": "Bomb", "nodes": [
            {{"id": "t", "name": "Start", "type": "trigger.manual"}},
            {{"id": "s", "name": "Set", "type": "data.set", "parameters": {{"{key}": [{elements}]}}}},
            {{"id": "u", "name": "Unknown", "type": "no.such.type", "parameters": {{"{key}": [{elements}]}}}}
        ], "connections": []}}"#
    );
    assert!(text.len() < 1_000_000);
    let file = data.path().join("bomb.json");
    std::fs::write(&file, &text).unwrap();
    let binary = assert_cmd::cargo::cargo_bin("switchyard");
    let started = std::time::Instant::now();
    let out = std::process::Command::new("/usr/bin/time")
        .arg("-v")
        .arg(&binary)
        .arg("validate")
        .arg(&file)
        .env("SWITCHYARD_DATA_DIR", data.path())
        .output()
        .expect("GNU time (apt package time) runs the CLI");
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "an invalid file: {stderr}");
    assert!(stderr.contains("no.such.type"), "the unknown type is reported: {}", &stderr[..stderr.len().min(2000)]);
    assert!(stderr.contains("bomb.json:4:"), "with its line: {}", &stderr[..stderr.len().min(2000)]);
    let peak_kb: u64 = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes): "))
        .expect("GNU time reports the peak")
        .trim()
        .parse()
        .unwrap();
    assert!(took < std::time::Duration::from_secs(2), "validated in {took:?}");
    assert!(peak_kb < 200 * 1024, "peak {peak_kb} KiB");
}

/// Slow clients (issue 13): 200 connections send half a request and stall. A normal request
/// is still answered meanwhile, and SIGTERM stops `serve` within its grace period plus 5 s
/// (the stalled connections no longer hold the stop forever), with every accepted run recorded.
#[test]
fn serve_stops_within_grace_while_200_clients_stall() {
    use std::io::Write;
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("fast-hook.json");
    std::fs::write(&file, answering_hook("fast-hook", "Fast hook", "got", "{{ json.body.n }}").to_string()).unwrap();
    cli(data.path()).arg("import").arg(&file).arg("--keep-id").assert().success();
    cli(data.path()).args(["activate", "fast-hook"]).assert().success();
    const GRACE: u64 = 3;
    let (mut server, _stderr, _, addr) = spawn_serve(data.path(), &["--grace", &GRACE.to_string()]);

    // Half of them stop inside the headers, half inside the body.
    let stalled: Vec<std::net::TcpStream> = (0..200)
        .map(|i| {
            let mut stream = std::net::TcpStream::connect(&addr).unwrap();
            let head =
                format!("POST /webhook/fast-hook/in HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n");
            if i % 2 == 0 {
                stream.write_all(head.as_bytes()).unwrap();
            } else {
                stream.write_all(format!("{head}Content-Length: 100\r\n\r\n{{\"n\": ").as_bytes()).unwrap();
            }
            stream
        })
        .collect();
    for n in 0..3 {
        assert_eq!(
            http_post(&addr, "/webhook/fast-hook/in", &format!("{{\"n\": {n}}}")),
            (200, format!("{{\"got\":{n}}}"))
        );
    }
    let started = std::time::Instant::now();
    let killed = std::process::Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = server.wait().unwrap();
    let took = started.elapsed();
    assert!(status.success(), "serve exits 0 after SIGTERM: {status:?}");
    assert!(took < std::time::Duration::from_secs(GRACE + 5), "serve took {took:?} to stop");
    drop(stalled);
    let list = stdout_json(&cli(data.path()).args(["executions", "--json"]).output().unwrap());
    let statuses: Vec<&str> = list.as_array().unwrap().iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, vec!["success"; 3], "every accepted run is recorded");
}

/// Expressions once ignored cancellation and the run's timeout: 2,000 items with a CPU-heavy
/// expression ran for minutes past a 5 s timeout. The run now ends `timeout` within 6 s.
#[test]
fn a_cpu_heavy_expression_stops_at_the_run_timeout() {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("heavy.json");
    std::fs::write(
        &file,
        json!({
            "switchyard": 1, "id": "heavy", "name": "Heavy", "settings": {"timeoutSeconds": 5},
            "nodes": [
                {"id": "t", "name": "Start", "type": "trigger.manual"},
                {"id": "s", "name": "Crunch", "type": "data.set", "parameters": {"assignments": [
                    {"name": "sum", "value": "{{ let s = 0; for i in 0..150000 { s += i % 7; } s + json.n }}"}
                ]}}
            ],
            "connections": [{"from": {"node": "t"}, "to": {"node": "s"}}]
        })
        .to_string(),
    )
    .unwrap();
    let input: Vec<Json> = (0..2000).map(|n| json!({"n": n})).collect();
    std::fs::write(data.path().join("input.json"), serde_json::to_string(&input).unwrap()).unwrap();
    let started = std::time::Instant::now();
    let out = cli(data.path())
        .arg("run")
        .arg(&file)
        .arg("--input")
        .arg(format!("@{}", data.path().join("input.json").display()))
        .arg("--json")
        .output()
        .unwrap();
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let result = stdout_json(&out);
    assert_eq!(result["status"], "timeout", "{result}");
    // The run itself within 6 s; the process (start, validation, history) a little more.
    assert!(result["durationMs"].as_u64().unwrap() < 6000, "{result}");
    assert!(took < std::time::Duration::from_secs(10), "the process ended after {took:?}");
}

/// Deep nesting (issue 13): a script or expression nesting arrays 12,000 deep once overflowed
/// the 2 MiB stack of a runtime thread in the script engine or in the conversion to JSON and
/// aborted the process. The node now fails with a coded error and the process exits
/// normally. (Deeper nesting costs the script engine time quadratic in the depth, so it is
/// bounded by the run's timeout, not reached here.)
#[test]
fn deeply_nested_values_fail_the_node_instead_of_the_process() {
    let data = tempfile::tempdir().unwrap();
    for (name, node) in [
        (
            "code",
            json!({"id": "c", "name": "Nest", "type": "code.script", "parameters": {
            "mode": "runOnceForAll", "code": "let a = []; for i in 0..12000 { a = [a]; } [#{deep: a}]"}}),
        ),
        (
            "expression",
            json!({"id": "c", "name": "Nest", "type": "data.set", "parameters": {"assignments": [
            {"name": "deep", "value": "{{ let a = []; for i in 0..12000 { a = [a]; } a }}"}]}}),
        ),
        (
            "dropped",
            json!({"id": "c", "name": "Nest", "type": "data.set", "parameters": {"assignments": [
            {"name": "n", "value": "{{ let a = []; for i in 0..12000 { a = [a]; } 1 }}"}]}}),
        ),
    ] {
        let file = data.path().join(format!("{name}.json"));
        let wf = json!({"switchyard": 1, "id": name, "name": name,
            "nodes": [{"id": "t", "name": "Start", "type": "trigger.manual"}, node],
            "connections": [{"from": {"node": "t"}, "to": {"node": "c"}}]});
        std::fs::write(&file, wf.to_string()).unwrap();
        let out = cli(data.path()).arg("run").arg(&file).arg("--json").output().unwrap();
        if name == "dropped" {
            // Built and dropped inside the script: nothing to refuse, the run just succeeds.
            assert_eq!(out.status.code(), Some(0), "{name}: {}", String::from_utf8_lossy(&out.stderr));
            continue;
        }
        assert_eq!(out.status.code(), Some(1), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let result = stdout_json(&out);
        assert_eq!(result["error"]["code"], "value_too_large", "{name}: {result}");
        assert!(result["error"]["message"].as_str().unwrap().contains("deeper than 128"), "{name}: {result}");
        assert_eq!(result["error"]["nodeName"], "Nest");
    }
}

/// A shared file that names an account runs nothing with it until the user trusts it: by
/// path only with `--trust`, once imported only after `switchyard trust`; the account then
/// goes only to its allowed hosts, which `connections hosts` lists and changes.
#[test]
fn a_shared_file_uses_no_account_until_trusted_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in_thread();
    let run = |args: &[&str]| {
        let mut cmd = Command::cargo_bin("switchyard").unwrap();
        cmd.arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .env("SWITCHYARD_KEYRING", "off")
            .env("SWITCHYARD_MASTER_PASSWORD", "pass phrase 1")
            .env("MY_TOKEN", "cli-secret-token-4b5c6d7e")
            .write_stdin("");
        cmd.assert()
    };
    run(&["connections", "add", "http.bearer", "work", "--field", "token=@env:MY_TOKEN"])
        .success()
        .stdout(predicate::str::contains("hosts: no hosts yet"));
    let url = server.url("/auth/inspect");
    let host = url.trim_start_matches("http://").split('/').next().unwrap().to_string();
    let file = dir.path().join("shared.json");
    let shared = json!({"switchyard": 1, "id": "shared-cli", "name": "Shared",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "h", "name": "Fetch", "type": "http.request", "parameters": {"url": url},
             "credentials": {"auth": {"connection": "http.bearer"}}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "h"}}]});
    std::fs::write(&file, shared.to_string()).unwrap();
    let path = file.to_str().unwrap();

    run(&["run", path]).code(2).stderr(
        predicate::str::contains("is not trusted yet")
            .and(predicate::str::contains("the default Bearer token account"))
            .and(predicate::str::contains(&host)),
    );
    run(&["run", path, "--trust"])
        .success()
        .stderr(predicate::str::contains(format!("--trust: allowed {host} for http.bearer/work")))
        .stdout(predicate::str::contains("\"authorization\""));

    run(&["import", path, "--keep-id"]).success().stderr(
        predicate::str::contains("not trusted yet").and(predicate::str::contains("switchyard trust shared-cli")),
    );
    run(&["run", "shared-cli"]).code(2).stderr(predicate::str::contains("switchyard trust shared-cli"));
    run(&["trust", "shared-cli"]).code(2).stderr(predicate::str::contains("--yes"));
    run(&["trust", "shared-cli", "--yes"])
        .success()
        .stderr(predicate::str::contains(format!("sends it to {host}")))
        .stdout(predicate::str::contains("Trusted \"Shared\""));
    run(&["run", "shared-cli"]).success();

    run(&["connections", "hosts", "http.bearer/work", "--remove", &host])
        .success()
        .stdout(predicate::str::contains("hosts: no hosts yet"));
    run(&["run", "shared-cli"]).code(1).stderr(
        predicate::str::contains(format!("may not be sent to {host}"))
            .and(predicate::str::contains("switchyard connections hosts")),
    );
    run(&["connections", "hosts", "http.bearer/work", "--add", "*"])
        .code(2)
        .stderr(predicate::str::contains("wildcard"));
    run(&["connections", "hosts", "http.bearer/work", "--add", &host])
        .success()
        .stdout(predicate::str::contains(format!("hosts: {host}")));
    run(&["run", "shared-cli"]).success();
}

/// A workflow file calls another by a path relative to itself: the called run is recorded
/// with its caller (`switchyard execution` shows both ways); a shared file calls nothing
/// without `--trust`.
#[test]
fn a_workflow_file_calls_a_workflow_file_beside_it() {
    let home = tempfile::tempdir().unwrap();
    let (dir, data) = (home.path().join("flows"), home.path().join("data"));
    std::fs::create_dir_all(dir.join("lib")).unwrap();
    let child = json!({"switchyard": 1, "id": "tax", "name": "Add tax",
        "nodes": [
            {"id": "c", "name": "Called", "type": "trigger.workflow",
             "parameters": {"inputs": [{"name": "net", "type": "number", "required": true}]}},
            {"id": "s", "name": "Tax", "type": "data.set",
             "parameters": {"assignments": [{"name": "gross", "value": "{{ json.net * 1.25 }}"}]}}
        ],
        "connections": [{"from": {"node": "c"}, "to": {"node": "s"}}]});
    std::fs::write(dir.join("lib/tax.json"), child.to_string()).unwrap();
    let parent = json!({"switchyard": 1, "id": "invoice", "name": "Invoice",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "x", "name": "Price", "type": "flow.execute_workflow",
             "parameters": {"source": "file", "path": "lib/tax.json", "mode": "each", "concurrency": 2}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "x"}}]});
    let file = dir.join("invoice.json");
    std::fs::write(&file, parent.to_string()).unwrap();
    let run = |args: &[&str]| {
        let mut cmd = cli(&data);
        cmd.env("HOME", home.path()).args(args).write_stdin("");
        cmd
    };
    let path = file.to_str().unwrap();
    let input = r#"[{"net": 100}, {"net": 8}]"#;
    run(&["run", path, "--input", input])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is not trusted yet").and(predicate::str::contains("calls \"lib/tax.json\"")));
    let output = run(&["run", path, "--trust", "--json", "--quiet", "--input", input]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let result = stdout_json(&output);
    let gross: Vec<Json> = result["items"].as_array().unwrap().iter().map(|i| i["json"]["gross"].clone()).collect();
    assert_eq!(gross, vec![json!(125.0), json!(10.0)]);
    let execution = result["executionId"].as_str().unwrap();
    let shown = run(&["execution", execution]).output().unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout).into_owned();
    assert_eq!(shown.matches("calls ").count(), 2, "{shown}");
    assert!(shown.contains("\"Add tax\" success (node \"Price\")"), "{shown}");
    let child_id = shown.lines().find(|l| l.starts_with("calls ")).unwrap().split(' ').nth(1).unwrap().to_string();
    let shown = run(&["execution", &child_id]).output().unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout).into_owned();
    assert!(shown.contains(&format!("called by {execution} (node \"Price\")")), "{shown}");
    assert!(shown.contains("(called)"), "{shown}");
}

/// `export --with-called` writes a bundle; `run` of the bundle file on another machine (an
/// empty data folder) finds the called workflow in the bundle.
#[test]
fn a_bundle_runs_headless_without_importing_anything() {
    let home = tempfile::tempdir().unwrap();
    let (here, there) = (home.path().join("here"), home.path().join("there"));
    let child = json!({"switchyard": 1, "id": "tax", "name": "Add tax",
        "nodes": [
            {"id": "c", "name": "Called", "type": "trigger.workflow"},
            {"id": "s", "name": "Tax", "type": "data.set",
             "parameters": {"assignments": [{"name": "gross", "value": "{{ json.net * 2 }}"}]}}
        ],
        "connections": [{"from": {"node": "c"}, "to": {"node": "s"}}]});
    let parent = json!({"switchyard": 1, "id": "invoice", "name": "Invoice",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "x", "name": "Price", "type": "flow.execute_workflow", "parameters": {"workflowId": "tax"}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "x"}}]});
    for (name, wf) in [("tax.json", &child), ("invoice.json", &parent)] {
        let file = home.path().join(name);
        std::fs::write(&file, wf.to_string()).unwrap();
        cli(&here).args(["import", file.to_str().unwrap(), "--keep-id"]).assert().success();
    }
    let bundle = home.path().join("invoice.bundle.json");
    cli(&here).args(["export", "invoice", "--with-called", "-o", bundle.to_str().unwrap()]).assert().success();
    cli(&there)
        .args(["validate", bundle.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("valid bundle (2 workflows, 4 nodes)"));
    let output = cli(&there)
        .args(["run", bundle.to_str().unwrap(), "--trust", "--json", "--quiet", "--input", r#"{"net": 21}"#])
        .write_stdin("")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(stdout_json(&output)["items"][0]["json"]["gross"], 42);
    let saved = cli(&there).args(["list", "--json"]).output().unwrap();
    assert_eq!(stdout_json(&saved).as_array().map(Vec::len), Some(0), "nothing was imported");
}

/// `switchyard retry --from-failed` runs the failed node and what comes after it, reusing
/// what the nodes before it emitted (a request counter on the test server shows the first
/// call is not made again); `retry` from the start makes it again.
#[test]
fn retry_from_the_failed_node_runs_only_that_node_and_after() {
    let server = TestServer::start_in_thread();
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    let fetch =
        |name: &str, url: String| json!({"id": name, "name": name, "type": "http.request", "parameters": {"url": url}});
    let wf = json!({"switchyard": 1, "id": "flaky", "name": "Flaky",
    "nodes": [
        {"id": "t", "name": "Start", "type": "trigger.manual"},
        fetch("first", server.url("/fault/first")),
        fetch("second", server.url("/fault/second?fail=1")),
        {"id": "last", "name": "last", "type": "data.set",
         "parameters": {"assignments": [{"name": "done", "value": "{{ json.attempt }}"}]}}
    ],
    "connections": [
        {"from": {"node": "t"}, "to": {"node": "first"}},
        {"from": {"node": "first"}, "to": {"node": "second"}},
        {"from": {"node": "second"}, "to": {"node": "last"}}
    ]});
    let file = home.path().join("flaky.json");
    std::fs::write(&file, wf.to_string()).unwrap();
    let output = cli(&data)
        .args(["run", file.to_str().unwrap(), "--json", "--quiet", "--input", r#"{"order": 7}"#])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "the second call fails the first time");
    let failed = stdout_json(&output);
    let failed_id = failed["executionId"].as_str().unwrap().to_string();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let hits = |key: &str| runtime.block_on(server.fault_log(key)).0;
    assert_eq!((hits("first"), hits("second")), (1, 1));

    let output = cli(&data).args(["retry", &failed_id, "--from-failed", "--json", "--quiet"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let retried = stdout_json(&output);
    assert_eq!(retried["items"][0]["json"]["done"], 2, "the second call's second attempt");
    assert_eq!((hits("first"), hits("second")), (1, 2), "the first call was not made again");
    let retried_id = retried["executionId"].as_str().unwrap().to_string();
    let shown = cli(&data).args(["execution", &retried_id, "--json"]).output().unwrap();
    let shown = stdout_json(&shown);
    assert_eq!(shown["summary"]["retryOf"], failed_id.as_str());
    assert_eq!(shown["summary"]["mode"], "retry");
    let status =
        |id: &str| shown["nodes"].as_array().unwrap().iter().find(|n| n["nodeId"] == id).unwrap()["status"].clone();
    assert_eq!((status("first"), status("second")), (json!("reused"), json!("success")));

    // From the start, with the same trigger items: every call again.
    let output = cli(&data).args(["retry", &failed_id, "--json", "--quiet"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!((hits("first"), hits("second")), (2, 3));
    // A run that succeeded has no failed node to start from.
    cli(&data)
        .args(["retry", &retried_id, "--from-failed"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("has no failed node (success): retry it from the start"));
}

/// `versions`, `diff` and `restore` on the command line: an import is version 1, an
/// imported edit version 2; the diff names the changed parameter; restore saves 1 again.
#[test]
fn versions_diff_and_restore_from_the_command_line() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    let mut wf = json!({"switchyard": 1, "id": "orders", "name": "Orders",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "h", "name": "Fetch", "type": "http.request", "parameters": {"url": "https://a.example.test"}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "h"}}]});
    let file = home.path().join("orders.json");
    std::fs::write(&file, wf.to_string()).unwrap();
    cli(&data).args(["import", file.to_str().unwrap(), "--keep-id"]).assert().success();
    // An edit, saved through the same API the app uses.
    wf["nodes"][1]["parameters"]["url"] = json!("https://b.example.test");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let api = switchyard_api::Api::open(&data, std::sync::Arc::new(switchyard_api::SilentHost)).unwrap();
        let request =
            serde_json::from_value(json!({"workflow": wf, "expectedVersion": 1, "note": "new host"})).unwrap();
        api.workflow_save(request).await.unwrap();
    });
    cli(&data)
        .args(["versions", "orders"])
        .assert()
        .success()
        .stdout(predicate::str::contains("new host").and(predicate::str::contains("imported from")));
    cli(&data).args(["diff", "orders", "1", "2"]).assert().success().stdout(predicate::str::contains(
        "~ node \"Fetch\": parameters.url: \"https://a.example.test\" → \"https://b.example.test\"",
    ));
    cli(&data)
        .args(["restore", "orders", "1"])
        .assert()
        .success()
        .stdout("Restored version 1 of \"Orders\" as version 3\n");
    cli(&data).args(["diff", "orders", "1"]).assert().success().stdout("No changes.\n");
    cli(&data)
        .args(["restore", "orders", "9"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("workflow orders has no saved version 9"));
}

/// A shared file that runs a program runs nothing until the user approves it: by path only
/// with `--trust` (there is no terminal to ask on here), once imported only after `switchyard
/// trust`, which lists the program.
#[test]
fn a_shared_file_runs_no_program_without_consent() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("it-ran");
    let file = dir.path().join("nightly.json");
    let shared = json!({"switchyard": 1, "id": "nightly-cli", "name": "Nightly",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "c", "name": "Backup", "type": "shell.exec",
             "parameters": {"command": "touch", "arguments": [{"value": marker.to_str().unwrap()}]}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "c"}}]});
    std::fs::write(&file, shared.to_string()).unwrap();
    let path = file.to_str().unwrap();
    let run = |args: &[&str]| cli(dir.path()).args(args).write_stdin("").assert();

    run(&["run", path]).code(2).stderr(
        predicate::str::contains("is not trusted yet")
            .and(predicate::str::contains("runs \"touch\" (nodes \"Backup\")")),
    );
    assert!(!marker.exists(), "nothing ran");
    run(&["run", path, "--trust"]).success();
    assert!(marker.exists());
    std::fs::remove_file(&marker).unwrap();

    run(&["import", path, "--keep-id"])
        .success()
        .stderr(predicate::str::contains("runs touch").and(predicate::str::contains("not approved yet")));
    run(&["run", "nightly-cli"]).code(2).stderr(predicate::str::contains("switchyard trust nightly-cli"));
    assert!(!marker.exists());
    run(&["trust", "nightly-cli", "--yes"]).success().stderr(predicate::str::contains("runs touch"));
    run(&["run", "nightly-cli"]).success();
    assert!(marker.exists());
}

/// Write File replaces a file atomically: a `switchyard` process killed (SIGKILL) at any
/// moment of writing a 12 MB file leaves the old file or the new one, never a mix or a part.
#[cfg(unix)]
#[test]
fn a_writer_killed_mid_write_leaves_the_old_file_or_the_new_one() {
    let home = tempfile::tempdir().unwrap();
    let (data, target) = (home.path().join("data"), home.path().join("report.txt"));
    let size = 12 * 1024 * 1024;
    let old = "a".repeat(size);
    std::fs::write(&target, &old).unwrap();
    let input = home.path().join("input.json");
    std::fs::write(&input, json!({"blob": "b".repeat(size)}).to_string()).unwrap();
    let file = home.path().join("write.json");
    let wf = json!({"switchyard": 1, "id": "writer", "name": "Writer",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "w", "name": "Write", "type": "file.write",
             "parameters": {"path": target.to_str().unwrap(), "content": "text", "text": "{{ json.blob }}", "mode": "overwrite"}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "w"}}]});
    std::fs::write(&file, wf.to_string()).unwrap();
    let start = || {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("switchyard"))
            .args(["run", file.to_str().unwrap(), "--trust", "--quiet", "--input"])
            .arg(format!("@{}", input.display()))
            .env("SWITCHYARD_DATA_DIR", &data)
            // The home folder is the folder file nodes may use.
            .env("HOME", home.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let whole = |when: &str| {
        let text = std::fs::read(&target).unwrap();
        let whole = text.len() == size && (text.iter().all(|&b| b == b'a') || text.iter().all(|&b| b == b'b'));
        assert!(whole, "{when}: {} bytes, torn", text.len());
        text[0]
    };
    // A whole run, timed, then runs killed at points spread over that time.
    let started = std::time::Instant::now();
    let output = start().wait_with_output().unwrap();
    let took = started.elapsed();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(whole("a whole run"), b'b');
    let mut seen = Vec::new();
    for step in 1..=12 {
        std::fs::write(&target, &old).unwrap();
        let mut child = start();
        std::thread::sleep(took.mul_f64(f64::from(step) / 13.0));
        let _ = child.kill();
        child.wait().unwrap();
        seen.push(whole(&format!("killed after {}/13 of a run", step)));
    }
    assert!(seen.contains(&b'a'), "some kill came before the file was replaced: {seen:?}");
}

/// The file format keeps keys it does not know: at the top, in nodes and their settings, and
/// (once lost) in connections and pinned items. Import then export gives the same JSON back.
/// (A credential reference is the one place an unknown key is refused: it could hold a
/// secret, and validation says where.)
#[test]
fn unknown_keys_survive_import_and_export() {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("extras.json");
    let original = json!({
        "switchyard": 1, "id": "extras", "name": "Extras", "description": "",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual", "version": 1, "position": [0, 0], "parameters": {},
             "settings": {"onError": "stop", "disabled": false, "notes": "", "x-setting": 1}, "x-node": true},
            {"id": "h", "name": "Fetch", "type": "http.request", "version": 1, "position": [200, 0],
             "parameters": {"url": "https://api.example.com/x"},
             "credentials": {"auth": {"connection": "http.bearer", "account": "work"}},
             "settings": {"onError": "stop", "disabled": false, "notes": ""}}
        ],
        "connections": [{"from": {"node": "t", "output": "main", "x-port": 2},
                         "to": {"node": "h", "input": "main", "x-side": "left"}, "x-label": "go"}],
        "settings": {"timezone": "UTC", "timeoutSeconds": 3600, "errorWorkflow": null, "x-team": "ops"},
        "pinData": {"h": [{"json": {"a": 1}, "x-captured": "2026-12-01"}]},
        "x-owner": {"team": "ops"}
    });
    std::fs::write(&file, serde_json::to_string_pretty(&original).unwrap()).unwrap();
    cli(data.path()).args(["import", file.to_str().unwrap(), "--keep-id"]).assert().success();
    let exported = cli(data.path()).args(["export", "extras"]).output().unwrap();
    assert!(exported.status.success(), "{}", String::from_utf8_lossy(&exported.stderr));
    assert_eq!(stdout_json(&exported), original);
}

/// A 1 GiB download streams through the blob store: `switchyard run` downloads it with HTTP
/// Request (Response format: File) and writes it with Write File while its peak memory
/// (GNU time's maximum resident set) stays under 200 MB; the file is whole and `--json`
/// lists it with its name, type, size and hash.
#[cfg(unix)]
#[test]
#[ignore = "heavy (1 GiB through loopback and disk): cargo xtask test runs it in its own stage"]
fn heavy_a_gigabyte_download_is_written_with_little_memory() {
    const SIZE: u64 = 1 << 30;
    let server = TestServer::start_in_thread();
    let home = tempfile::tempdir().unwrap();
    let target = home.path().join("big.bin");
    let file = home.path().join("download.json");
    let wf = json!({"switchyard": 1, "id": "download", "name": "Download",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "h", "name": "Fetch", "type": "http.request",
             "parameters": {"url": server.url(&format!("/bytes/{SIZE}")), "responseFormat": "file", "timeout": 600}},
            {"id": "w", "name": "Save", "type": "file.write",
             "parameters": {"path": target.to_str().unwrap(), "content": "file"}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "h"}}, {"from": {"node": "h"}, "to": {"node": "w"}}]});
    std::fs::write(&file, wf.to_string()).unwrap();
    let peak = home.path().join("peak-kb");
    let output = std::process::Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(&peak)
        .arg(assert_cmd::cargo::cargo_bin("switchyard"))
        .args(["run", file.to_str().unwrap(), "--trust", "--json", "--quiet"])
        .env("SWITCHYARD_DATA_DIR", home.path().join("data"))
        .env("HOME", home.path())
        .output()
        .expect("GNU time (apt package time, installed by cargo xtask setup)");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let result = stdout_json(&output);
    let listed = &result["items"][0]["binary"]["data"];
    assert_eq!(listed["fileName"], format!("pattern-{SIZE}.bin"));
    assert_eq!(listed["mimeType"], "application/octet-stream");
    assert_eq!(listed["size"], SIZE);
    assert_eq!(listed["ref"], listed["sha256"]);
    let peak_kb: u64 = std::fs::read_to_string(&peak).unwrap().trim().lines().last().unwrap().parse().unwrap();
    assert!(peak_kb < 200 * 1024, "peak resident memory {peak_kb} KiB for a 1 GiB download");
    // The written file is the server's bytes, checked in pieces.
    use std::io::Read;
    let mut written = std::fs::File::open(&target).unwrap();
    assert_eq!(written.metadata().unwrap().len(), SIZE);
    let mut buffer = vec![0u8; 1 << 20];
    let mut at = 0u64;
    while at < SIZE {
        let n = written.read(&mut buffer).unwrap();
        assert!(n > 0);
        let wrong =
            buffer[..n].iter().enumerate().find(|(i, b)| **b != switchyard_testkit::pattern_byte(at + *i as u64));
        assert!(wrong.is_none(), "byte {} differs", at + wrong.unwrap().0 as u64);
        at += n as u64;
    }
}

/// kill -9 of `switchyard serve` while SQL Write (in a run a webhook started) is sending
/// 100,000 rows to a real PostgreSQL in one transaction: no row is left behind, the table is
/// not locked, and the run shows as interrupted.
#[test]
fn a_process_killed_during_a_database_write_leaves_no_partial_rows() {
    let server = switchyard_testkit::servers::Postgres::start();
    server.psql("CREATE TABLE big (id int PRIMARY KEY, name text NOT NULL, qty int, price numeric(10,2), note text)");
    let data = tempfile::tempdir().unwrap();
    let with_vault = |cmd: &mut Command| {
        cmd.env("SWITCHYARD_KEYRING", "off")
            .env("SWITCHYARD_MASTER_PASSWORD", "kill test pass")
            .env("PG_PASS", &server.password);
    };
    let mut add = cli(data.path());
    with_vault(&mut add);
    add.args(["connections", "add", "db.postgres", "local"])
        .args(["--field", "host=127.0.0.1", "--field", &format!("port={}", server.port)])
        .args(["--field", &format!("database={}", server.database), "--field", &format!("user={}", server.user)])
        .args(["--field", "password=@env:PG_PASS", "--field", "tls=disable"])
        .write_stdin("")
        .assert()
        .success();
    let csv = data.path().join("rows.csv");
    let mut rows = String::from("id,name,qty,price,note\n");
    for i in 0..100_000 {
        rows.push_str(&format!("{i},row {i},{},1.50,x\n", i % 7));
    }
    std::fs::write(&csv, rows).unwrap();
    let workflow = data.path().join("load.json");
    std::fs::write(
        &workflow,
        json!({
            "switchyard": 1, "id": "w-load", "name": "Load",
            "nodes": [
                {"id": "t", "name": "Load", "type": "trigger.webhook", "parameters": {"path": "load"}},
                {"id": "r", "name": "Read", "type": "file.read", "parameters": {"path": csv.display().to_string(), "format": "file"}},
                {"id": "c", "name": "Rows", "type": "data.convert", "parameters": {"operation": "toItems", "format": "csv"}},
                {"id": "w", "name": "Write", "type": "db.write", "parameters": {"table": "big", "batchSize": 500},
                 "credentials": {"database": {"connection": "db.postgres", "account": "local"}}}
            ],
            "connections": [{"from": {"node": "t"}, "to": {"node": "r"}}, {"from": {"node": "r"}, "to": {"node": "c"}},
                            {"from": {"node": "c"}, "to": {"node": "w"}}]
        })
        .to_string(),
    )
    .unwrap();
    // Home is the data folder: the CSV is inside the folders workflows may use by default.
    let with_env = |cmd: &mut std::process::Command| {
        cmd.env("HOME", data.path())
            .env("SWITCHYARD_DATA_DIR", data.path())
            .env("SWITCHYARD_KEYRING", "off")
            .env("SWITCHYARD_MASTER_PASSWORD", "kill test pass")
            .env_remove("SWITCHYARD_LOG");
    };
    for args in [
        vec!["import", workflow.to_str().unwrap(), "--keep-id"],
        vec!["trust", "w-load", "--yes"],
        vec!["activate", "w-load"],
    ] {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("switchyard"));
        with_env(&mut cmd);
        let out = cmd.args(&args).stdin(Stdio::null()).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let mut serve = std::process::Command::new(assert_cmd::cargo::cargo_bin("switchyard"));
    with_env(&mut serve);
    let mut child = serve
        .args(["serve", "--port", &port])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(data.path().join("run.log")).unwrap())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "serve did not listen");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (status, body) = http_post(&addr, "/webhook/w-load/load", "{}");
    assert_eq!(status, 202, "{body}");
    // Killed once the write's transaction holds rows (the server assigned it a transaction
    // id), well before it commits.
    let writing = || {
        server.psql(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'switchyard' AND backend_xid IS NOT NULL",
        ) == "1"
    };
    let started = std::time::Instant::now();
    while !writing() {
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "the write never started");
        assert!(
            child.try_wait().unwrap().is_none(),
            "serve ended before it could be killed: {}",
            std::fs::read_to_string(data.path().join("run.log")).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    // The server rolls the transaction back when the connection goes: no row, no lock.
    assert_eq!(server.psql("SELECT count(*) FROM big"), "0");
    let started = std::time::Instant::now();
    while server.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'switchyard'") != "0" {
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "the killed session stayed");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    server.psql("INSERT INTO big (id, name) VALUES (0, 'the table is not locked')");
    let list = stdout_json(&cli(data.path()).args(["executions", "--json"]).output().unwrap());
    assert_eq!(list[0]["status"], "interrupted", "{list}");
}

/// `switchyard run --break NODE` pauses before the node and asks on stdin: items shows what
/// goes in, step runs just that node and pauses before the next, continue runs on, quit
/// stops the run (recorded as cancelled).
#[test]
fn run_with_breakpoints_asks_what_to_do_at_each_pause() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    let set = |id: &str| {
        json!({"id": id, "name": id.to_uppercase(), "type": "data.set",
        "parameters": {"assignments": [{"name": id, "value": "{{ json.n }}"}]}})
    };
    let wf = json!({"switchyard": 1, "id": "steps", "name": "Steps",
    "nodes": [{"id": "t", "name": "Start", "type": "trigger.manual"}, set("a"), set("b"), set("c")],
    "connections": [
        {"from": {"node": "t"}, "to": {"node": "a"}},
        {"from": {"node": "a"}, "to": {"node": "b"}},
        {"from": {"node": "b"}, "to": {"node": "c"}}
    ]});
    let file = home.path().join("steps.json");
    std::fs::write(&file, wf.to_string()).unwrap();
    let file = file.to_str().unwrap();

    let output = cli(&data)
        .args(["run", file, "--break", "A", "--input", r#"{"n": 4}"#])
        .write_stdin("i\nwhat\ns\nc\n")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(stdout_json(&output), json!([{"n": 4, "a": 4, "b": 4, "c": 4}]));
    let prompts: Vec<&str> = stderr.lines().filter(|l| l.contains("⏸ paused before")).collect();
    assert!(stderr.contains("paused before A: [c]ontinue, [s]tep, [i]tems, [q]uit?"), "{stderr}");
    assert!(stderr.contains("main → A:\n[\n  {\n    \"n\": 4\n  }\n]"), "the items going in: {stderr}");
    assert!(stderr.contains("\"what\": type c, s, i or q"), "{stderr}");
    assert!(stderr.contains("paused before B"), "a step pauses before the next node: {stderr}");
    assert!(!stderr.contains("paused before C"), "continue runs on: {stderr}");
    assert!(!prompts.is_empty());

    // Quit stops the run before the node; the end of stdin does too.
    for stdin in ["q\n", ""] {
        let output =
            cli(&data).args(["run", file, "--break", "b", "--json", "-q"]).write_stdin(stdin).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
        let result = stdout_json(&output);
        assert_eq!(result["status"], "cancelled");
        assert!(result["error"]["message"].as_str().unwrap().contains("breakpoint before \"B\""), "{result}");
    }

    cli(&data).args(["run", file, "--break", "Nope"]).write_stdin("").assert().code(2).stderr(
        predicate::str::contains(r#"--break Nope: "Steps" has no node of that name or id (its nodes: Start, A, B, C)"#),
    );
    cli(&data)
        .args(["run", file, "--break", "A", "--input", "-"])
        .write_stdin("{}")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--input cannot read stdin too"));
}

/// One POST over a plain socket that may fail (the server may be killed meanwhile): the
/// status, or none when there was no complete answer.
fn try_post(addr: &str, path: &str, body: &str) -> Option<u16> {
    let text = post_exchange(addr, path, body, Some(std::time::Duration::from_secs(10))).ok()?;
    let (head, rest) = text.split_once("\r\n\r\n")?;
    let status: u16 = head.split(' ').nth(1)?.parse().ok()?;
    // Only a whole answer counts: a body cut by the kill was not received.
    let length: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
        .and_then(|v| v.parse().ok())?;
    (rest.len() >= length).then_some(status)
}

/// An execution row: id, status, input, retry_of, rerun_as.
type Run = (String, String, Option<String>, Option<String>, Option<String>);

/// Acknowledged means durable (issue 21). 16 clients post to two webhooks of `serve` (one
/// answers at once, one with its last node's item, both runs taking 200 ms) and `serve` is
/// killed with SIGKILL after 1–3 s, 20 times over one data folder. Every delivery answered
/// 2xx has its execution, with the request as its kept input. The workflow re-runs interrupted
/// runs: every interrupted run is run again exactly once at the next start, and its chain of
/// re-runs ends in a success once `serve` runs undisturbed.
#[test]
#[ignore = "heavy: its own stage of cargo xtask test"]
fn heavy_acknowledged_deliveries_survive_sigkill_under_load() {
    const ROUNDS: u64 = 20;
    const CLIENTS: u64 = 16;
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("durable.json");
    let hook = |id: &str, path: &str, mode: &str| json!({"id": id, "name": id, "type": "trigger.webhook", "parameters": {"path": path, "responseMode": mode}});
    std::fs::write(
        &file,
        json!({
            "switchyard": 1, "id": "durable", "name": "Durable",
            "settings": {"rerunInterrupted": true},
            "nodes": [
                hook("now", "now", "immediately"),
                hook("last", "last", "lastNode"),
                {"id": "wait", "name": "Wait", "type": "flow.wait", "parameters": {"amount": 200, "unit": "milliseconds"}},
                {"id": "set", "name": "Answer", "type": "data.set", "parameters": {
                    "assignments": [{"name": "got", "value": "{{ json.body.n }}"}], "keep": "none"}}
            ],
            "connections": [
                {"from": {"node": "now"}, "to": {"node": "wait"}},
                {"from": {"node": "last"}, "to": {"node": "wait"}},
                {"from": {"node": "wait"}, "to": {"node": "set"}}
            ]
        })
        .to_string(),
    )
    .unwrap();
    cli(data.path()).arg("import").arg(&file).arg("--keep-id").assert().success();
    cli(data.path()).args(["activate", "durable"]).assert().success();

    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u64>::new()));
    let mut sent = 0u64;
    for round in 0..ROUNDS {
        let (mut server, stderr, _port, addr) = spawn_serve(data.path(), &[]);
        // Drain its log so that a full pipe never blocks it.
        std::thread::spawn(move || std::io::copy(&mut stderr.into_inner(), &mut std::io::sink()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (addr, stop, acknowledged) = (addr.clone(), stop.clone(), acknowledged.clone());
                std::thread::spawn(move || {
                    let mut count = 0u64;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let n = (round * 100 + c) * 1_000_000 + count;
                        count += 1;
                        let path = if n.is_multiple_of(2) { "/webhook/durable/now" } else { "/webhook/durable/last" };
                        match try_post(&addr, path, &format!(r#"{{"n": {n}}}"#)) {
                            Some(status) if (200..300).contains(&status) => acknowledged.lock().unwrap().push(n),
                            Some(_) => {}
                            None => std::thread::sleep(std::time::Duration::from_millis(5)),
                        }
                    }
                    count
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(1000 + (round * 2000) / ROUNDS));
        server.kill().unwrap();
        server.wait().unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        sent += clients.into_iter().map(|c| c.join().unwrap()).sum::<u64>();
    }
    // A last start re-runs what the last kill interrupted; then a clean stop.
    let (server, stderr, _port, _addr) = spawn_serve(data.path(), &[]);
    std::thread::spawn(move || std::io::copy(&mut stderr.into_inner(), &mut std::io::sink()));
    let db = rusqlite::Connection::open(data.path().join("switchyard.db")).unwrap();
    let running = || -> i64 {
        db.query_row("SELECT COUNT(*) FROM executions WHERE status = 'running'", [], |r| r.get(0)).unwrap_or(1)
    };
    let started = std::time::Instant::now();
    while running() > 0 && started.elapsed() < std::time::Duration::from_secs(120) {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(std::process::Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap().success());
    let mut server = server;
    assert!(server.wait().unwrap().success());
    assert_eq!(running(), 0, "every run ended");

    // Every acknowledged delivery has an execution that kept its request.
    // A re-run starts from the trigger its run started at (not from both webhooks).
    let strays: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM executions r JOIN executions o ON r.retry_of = o.id
             WHERE r.start_node IS NOT o.start_node OR r.start_node IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(strays, 0, "re-runs start where their runs started");
    let mut stmt = db.prepare("SELECT id, status, input, retry_of, rerun_as FROM executions").unwrap();
    let rows: Vec<Run> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut recorded = std::collections::HashSet::new();
    for (_, _, input, retry_of, _) in &rows {
        let items: Json = serde_json::from_str(input.as_deref().expect("every webhook run keeps its input")).unwrap();
        let n = items[0]["json"]["body"]["n"].as_u64().expect("the request's body is the input");
        if retry_of.is_none() {
            assert!(recorded.insert(n), "one execution per delivery: {n} twice");
        }
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    let lost: Vec<&u64> = acknowledged.iter().filter(|n| !recorded.contains(n)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged deliveries have no execution: {lost:?}",
        lost.len(),
        acknowledged.len()
    );

    // Each interrupted run was run again exactly once, and each chain ends in a success.
    let by_id: std::collections::HashMap<&str, _> = rows.iter().map(|r| (r.0.as_str(), r)).collect();
    let mut reruns = std::collections::HashMap::<&str, u32>::new();
    for (_, _, _, retry_of, _) in &rows {
        if let Some(of) = retry_of {
            *reruns.entry(of.as_str()).or_default() += 1;
        }
    }
    let interrupted: Vec<_> = rows.iter().filter(|r| r.1 == "interrupted").collect();
    for (id, _, _, _, rerun_as) in &interrupted {
        assert_eq!(reruns.get(id.as_str()), Some(&1), "interrupted run {id} re-run once");
        let mut at = rerun_as.as_deref().expect("the re-run is named");
        let mut hops = 0;
        while by_id[at].1 == "interrupted" {
            at = by_id[at].4.as_deref().expect("an interrupted re-run is re-run too");
            hops += 1;
            assert!(hops < ROUNDS, "a chain of re-runs ends");
        }
        assert_eq!(by_id[at].1, "success", "the re-run of {id} ({at}) succeeded");
    }
    assert!(reruns.values().all(|&n| n == 1), "no run was re-run twice");
    assert!(!interrupted.is_empty(), "the kills interrupted runs ({} rows)", rows.len());
    eprintln!(
        "{ROUNDS} kills: {sent} requests sent, {} acknowledged and all recorded; {} runs interrupted, each re-run once",
        acknowledged.len(),
        interrupted.len()
    );
}

/// Issue 20: a backup restored on a "new machine" (another data folder, another
/// gnome-keyring that never held the vault's key) cannot read its credentials until the
/// vault's recovery key opens it; then a workflow using an account runs as before. Each
/// machine is a real gnome-keyring of its own, in a D-Bus session per command.
#[test]
fn a_backup_restored_on_a_new_machine_opens_with_the_recovery_key() {
    for tool in ["dbus-run-session", "gnome-keyring-daemon"] {
        assert!(
            std::process::Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .unwrap()
                .status
                .success(),
            "{tool} is missing: `cargo xtask setup` installs it"
        );
    }
    let root = tempfile::tempdir().unwrap();
    let server = TestServer::start_in_thread();
    let url = server.url("/auth/inspect");
    let host = url.trim_start_matches("http://").split('/').next().unwrap().to_string();
    let file = root.path().join("uses-account.json");
    std::fs::write(&file, uses_account(&url).to_string()).unwrap();
    let (kit, backup) = (root.path().join("kit.txt"), root.path().join("backup.zip"));
    let bin = assert_cmd::cargo::cargo_bin("switchyard");
    // One command on one machine: its own data folder and its own keyring.
    let on = |machine: &str, args: &[&str]| {
        let home = root.path().join(machine);
        let mut cmd = Command::new("dbus-run-session");
        cmd.args(["--", "sh", "-c"])
            .arg("echo -n switchyard | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec \"$@\"")
            .arg("sh")
            .arg(&bin)
            .args(args)
            .env("SWITCHYARD_DATA_DIR", home.join("data"))
            .env("XDG_DATA_HOME", home.join("share"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env_remove("SWITCHYARD_KEYRING")
            .env_remove("SWITCHYARD_MASTER_PASSWORD")
            .env_remove("SWITCHYARD_RECOVERY_KEY")
            .env("MY_TOKEN", "restored-token-5e6f7a8b")
            .write_stdin("");
        cmd.assert()
    };
    let path = file.to_str().unwrap();
    on("a", &["connections", "add", "http.bearer", "work", "--field", "token=@env:MY_TOKEN", "--host", &host])
        .success();
    let status = on("a", &["vault", "status", "--json"]).success().get_output().clone();
    assert_eq!(stdout_json(&status)["keySource"], "keyring", "machine a keeps the key in its keyring");
    let made = on("a", &["vault", "recovery-key", "--kit", kit.to_str().unwrap()]).success().get_output().clone();
    let key = String::from_utf8(made.stdout).unwrap().trim().to_string();
    assert_eq!(key.len(), 44, "nine groups of four: {key}");
    let kit_text = std::fs::read_to_string(&kit).unwrap();
    assert!(kit_text.contains(&format!("Recovery key: {key}")), "{kit_text}");
    on("a", &["vault", "recovery-key", "--kit", kit.to_str().unwrap()])
        .code(2)
        .stderr(predicate::str::contains("never written over another file"));
    let first = on("a", &["run", path, "--trust", "--json"]).success().get_output().clone();
    let authorization = stdout_json(&first)["items"][0]["json"]["authorization"].clone();
    assert!(authorization.is_string(), "{}", String::from_utf8_lossy(&first.stdout));
    let written = on("a", &["backup", "--to", backup.to_str().unwrap(), "--json"]).success().get_output().clone();
    assert_eq!(stdout_json(&written)["path"], backup.to_str().unwrap());

    // The new machine: the backup restores, but its keyring never held the vault's key.
    on("b", &["restore", backup.to_str().unwrap()])
        .success()
        .stderr(predicate::str::contains("Restored").and(predicate::str::contains("switchyard vault recover")));
    on("b", &["run", path, "--trust"]).code(1).stderr(predicate::str::contains("switchyard vault recover"));
    on("b", &["vault", "recover"]).code(1).stderr(predicate::str::contains("SWITCHYARD_RECOVERY_KEY"));
    let wrong_kit = root.path().join("wrong.txt");
    std::fs::write(&wrong_kit, format!("Recovery key: {}", key.replace(&key[..4], "ZZZZ"))).unwrap();
    on("b", &["vault", "recover", "--kit", wrong_kit.to_str().unwrap()])
        .code(2)
        .stderr(predicate::str::contains("has a typo"));
    on("b", &["vault", "recover", "--kit", kit.to_str().unwrap()])
        .success()
        .stderr(predicate::str::contains("in the OS keyring and its 1 account(s) can be read"));
    let after = on("b", &["run", path, "--trust", "--json"]).success().get_output().clone();
    assert_eq!(stdout_json(&after)["items"][0]["json"]["authorization"], authorization, "the same token");
    // Restoring again keeps the database it replaces.
    on("b", &["restore", backup.to_str().unwrap(), "--json"])
        .success()
        .stdout(predicate::str::contains("switchyard.db.replaced-"));

    // A data folder a running `serve` has open is never restored over.
    let data = root.path().join("b/data");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let mut serve = std::process::Command::new(&bin)
        .args(["serve", "--port", &port])
        .env("SWITCHYARD_DATA_DIR", &data)
        .env("SWITCHYARD_KEYRING", "off")
        .env_remove("SWITCHYARD_LOG")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(serve.stderr.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.contains("listening on"), "{line}");
    let before = std::fs::read_dir(&data).unwrap().count();
    on("b", &["restore", backup.to_str().unwrap()])
        .code(1)
        .stderr(predicate::str::contains("is open in a running Switchyard"));
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), before, "nothing added beside the database");
    serve.kill().unwrap();
    serve.wait().unwrap();
}
