//! Server mode on PostgreSQL (docs/server.md): a desktop's SQLite store copied into a real
//! PostgreSQL 15 with `migrate-store`, then `serve --database` running from it in another
//! data folder, as a server would.

use super::rest::{call, stop};
use super::{answering_hook, cli, spawn_serve_any, stdout_json, uses_account};
use serde_json::json;

#[test]
fn a_desktop_store_moves_to_postgres_and_serve_runs_from_it() {
    let pg = switchyard_testkit::servers::Postgres::start();
    pg.psql("CREATE DATABASE server");
    let url = pg.url("server");
    let password = [("SWITCHYARD_KEYRING", "off"), ("SWITCHYARD_MASTER_PASSWORD", "moving day")];
    let on = |data: &std::path::Path| {
        let mut cmd = cli(data);
        cmd.envs(password);
        cmd
    };

    // The desktop: an account, a workflow that uses it (run once), and a webhook workflow.
    let desktop = tempfile::tempdir().unwrap();
    let server = switchyard_testkit::TestServer::start_in_thread();
    on(desktop.path())
        .args(["connections", "add", "http.bearer", "work", "--field", "token=@env:T", "--host", "127.0.0.1"])
        .env("T", "moved-token-7")
        .assert()
        .success();
    let files = [
        ("uses-account.json", uses_account(&server.url("/auth/inspect"))),
        ("hook.json", answering_hook("hook", "Hook", "doubled", "{{ json.body.n * 2 }}")),
    ];
    for (name, workflow) in &files {
        let path = desktop.path().join(name);
        std::fs::write(&path, workflow.to_string()).unwrap();
        on(desktop.path()).arg("import").arg(&path).arg("--keep-id").assert().success();
    }
    on(desktop.path()).args(["trust", "uses-account", "--yes"]).assert().success();
    on(desktop.path()).args(["trust", "hook", "--yes"]).assert().success();
    on(desktop.path()).args(["activate", "hook"]).assert().success();
    on(desktop.path()).args(["run", "uses-account", "--quiet"]).assert().success();

    // Copied: every table, the sealed account as it was.
    let copied = stdout_json(&on(desktop.path()).args(["migrate-store", "--to", &url, "--json"]).output().unwrap());
    assert_eq!(copied["tables"]["workflows"], 2, "{copied}");
    assert_eq!(copied["tables"]["accounts"], 1, "{copied}");
    assert_eq!(copied["tables"]["executions"], 1, "{copied}");
    assert_eq!(copied["tables"]["vault_header"], 1, "{copied}");
    assert!(copied["tables"]["workflow_versions"].as_u64().unwrap() >= 2, "{copied}");
    assert!(!copied["to"].as_str().unwrap().contains("pass'word"), "the password is not printed: {copied}");
    // A second copy into the same database is refused: nothing is merged.
    let again = on(desktop.path()).args(["migrate-store", "--to", &url]).output().unwrap();
    assert_eq!(again.status.code(), Some(2));
    let message = String::from_utf8_lossy(&again.stderr);
    assert!(message.contains("table workflows") && message.contains("empty database"), "{message}");

    // The server: its own data folder, the store in PostgreSQL.
    let data = tempfile::tempdir().unwrap();
    let token = on(data.path())
        .args(["--database", &url, "tokens", "create", "--name", "ops", "--scope", "run"])
        .output()
        .unwrap();
    assert!(token.status.success(), "{}", String::from_utf8_lossy(&token.stderr));
    let token = String::from_utf8(token.stdout).unwrap().trim().to_string();
    let (mut serve, _stderr, _port, addr) =
        spawn_serve_any(data.path(), &["--database", &url], &[password[0], password[1]]);
    let answer = call(&addr, "POST", "/webhook/hook/in", None, Some(&json!({"n": 21})));
    assert_eq!((answer.status, answer.json()["doubled"].clone()), (200, json!(42)), "{}", answer.body);
    // The account opens on the server: the vault's header moved with the sealed record.
    let ran =
        call(&addr, "POST", "/api/v1/runs/wait", Some(&token), Some(&json!({"workflowId": "uses-account"}))).json();
    assert_eq!(ran["status"], "success", "{ran}");
    let expected = switchyard_testkit::fingerprint("Bearer moved-token-7");
    assert_eq!(ran["items"][0]["json"]["authorization"], expected.as_str(), "{ran}");
    stop(&mut serve);

    // The server's history: the desktop's run and the two served; the desktop's is as it was.
    let runs = stdout_json(&on(data.path()).args(["--database", &url, "executions", "--json"]).output().unwrap());
    assert_eq!(runs.as_array().unwrap().len(), 3, "{runs}");
    let local = stdout_json(&on(desktop.path()).args(["executions", "--json"]).output().unwrap());
    assert_eq!(local.as_array().unwrap().len(), 1, "{local}");
    // The data folder holds no database of its own.
    assert!(!data.path().join("switchyard.db").exists());
    // A backup of a PostgreSQL store is refused with the reason.
    let backup = on(data.path()).args(["--database", &url, "backup"]).output().unwrap();
    assert_eq!(backup.status.code(), Some(2), "{}", String::from_utf8_lossy(&backup.stderr));
    assert!(String::from_utf8_lossy(&backup.stderr).contains("SQLite"), "{}", String::from_utf8_lossy(&backup.stderr));
}

/// The schedule ticks the runs in the store were fired for (`scheduledFor`), in order.
fn ticks(pg: &switchyard_testkit::servers::Postgres, database: &str) -> Vec<String> {
    let url = pg.url(database);
    let out = switchyard_testkit::servers::psql_url(
        &url,
        "SELECT t FROM (
             SELECT data::json->'outputs'->0->'items'->0->'json'->>'scheduledFor' AS t FROM execution_nodes WHERE node_id = 'tick'
             UNION ALL
             SELECT n->'outputs'->0->'items'->0->'json'->>'scheduledFor' FROM executions, json_array_elements(nodes::json) n
             WHERE n->>'nodeId' = 'tick'
         ) ticks ORDER BY 1",
    );
    out.lines().map(str::to_string).filter(|l| !l.is_empty()).collect()
}

/// Two mains on one PostgreSQL store: both serve, one fires the schedule, each tick once;
/// the standby fires the next ticks after the leader is killed (SIGKILL).
#[test]
fn two_mains_fire_each_schedule_once_and_the_standby_takes_over() {
    let pg = switchyard_testkit::servers::Postgres::start();
    pg.psql("CREATE DATABASE mains");
    let url = pg.url("mains");
    let env = [("SWITCHYARD_KEYRING", "off"), ("SWITCHYARD_MASTER_PASSWORD", "two mains")];
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let on = |data: &std::path::Path| {
        let mut cmd = cli(data);
        cmd.envs(env).args(["--database", &url]);
        cmd
    };
    let ticking = json!({"switchyard": 1, "id": "ticking", "name": "Every second",
        "nodes": [
            {"id": "tick", "name": "Tick", "type": "trigger.schedule",
             "parameters": {"mode": "interval", "interval": 1, "unit": "seconds"}},
            {"id": "set", "name": "Mark", "type": "data.set", "parameters": {
                "assignments": [{"name": "ok", "value": "yes"}], "keep": "none"}}
        ],
        "connections": [{"from": {"node": "tick"}, "to": {"node": "set"}}]});
    let file = a.path().join("ticking.json");
    std::fs::write(&file, ticking.to_string()).unwrap();
    on(a.path()).arg("import").arg(&file).arg("--keep-id").assert().success();
    on(a.path()).args(["trust", "ticking", "--yes"]).assert().success();
    on(a.path()).args(["activate", "ticking"]).assert().success();

    // Main A alone: it holds the lease and fires.
    let args = ["--database", url.as_str()];
    let (mut main_a, _ea, _pa, _addr_a) = spawn_serve_any(a.path(), &args, &env);
    let wait_for = |n: usize, limit: u64| {
        let started = std::time::Instant::now();
        while ticks(&pg, "mains").len() < n {
            assert!(started.elapsed().as_secs() < limit, "only {:?} fired", ticks(&pg, "mains"));
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    };
    wait_for(2, 20);
    // Main B joins: a standby. Both serve the webhooks (B answers one of A's workflows).
    let hook = b.path().join("hook.json");
    std::fs::write(&hook, answering_hook("hook-b", "Hook", "got", "{{ json.body.n }}").to_string()).unwrap();
    on(b.path()).arg("import").arg(&hook).arg("--keep-id").assert().success();
    on(b.path()).args(["trust", "hook-b", "--yes"]).assert().success();
    on(b.path()).args(["activate", "hook-b"]).assert().success();
    let (mut main_b, _eb, _pb, addr_b) = spawn_serve_any(b.path(), &args, &env);
    let (before, joined) = (ticks(&pg, "mains").len(), std::time::Instant::now());
    wait_for(before + 4, 20);
    let answer = call(&addr_b, "POST", "/webhook/hook-b/in", None, Some(&json!({"n": 5})));
    assert_eq!((answer.status, answer.json()["got"].clone()), (200, json!(5)), "{}", answer.body);
    // A, which started before B saved hook-b, serves it too once it notices.
    let addr_a = _addr_a.clone();
    let started = std::time::Instant::now();
    loop {
        let answer = call(&addr_a, "POST", "/webhook/hook-b/in", None, Some(&json!({"n": 6})));
        if answer.status == 200 {
            break;
        }
        assert!(started.elapsed().as_secs() < 10, "main A never served hook-b: {}", answer.status);
        std::thread::sleep(std::time::Duration::from_millis(200));
    }

    // One process fired meanwhile: at most one run per second (two would make about two).
    let (fired, seconds) = (ticks(&pg, "mains").len() - before, joined.elapsed().as_secs_f64());
    assert!(fired as f64 <= seconds.ceil() + 1.0, "{fired} runs in {seconds:.1} s: both mains fired");

    // The leader dies without a word: the standby fires the next ticks.
    main_a.kill().unwrap();
    main_a.wait().unwrap();
    let killed_at = ticks(&pg, "mains");
    wait_for(killed_at.len() + 3, 20);
    stop(&mut main_b);

    let all = ticks(&pg, "mains");
    let mut unique = all.clone();
    unique.dedup();
    assert_eq!(unique.len(), all.len(), "a tick fired twice: {all:?}");
    assert!(all.len() >= killed_at.len() + 3, "{all:?}");
}
