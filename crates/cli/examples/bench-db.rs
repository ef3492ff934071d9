//! The database benchmark, run by `cargo xtask bench db` after it built the release CLI.
//! Prints the report section as Markdown on stdout.
//!
//! A PostgreSQL started here (testkit: its own folder under target/, a port chosen now).
//! Insert: 1,000,000 generated rows of 5 columns from a CSV file, by Switchyard (`switchyard
//! run`: Read Files → Convert Data → SQL Write, one transaction, COPY in batches) and by
//! `psql \copy` of the same file, side by side; the table is emptied before every run.
//! Query: SQL Query `SELECT *` of the 1,000,000 rows into items, rows per second and the
//! whole process's peak memory next to the rows' size as JSON.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use switchyard_testkit::servers::Postgres;

const ROWS: usize = 1_000_000;
const RUNS: usize = 3;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the repository")
}

struct Measure {
    seconds: f64,
    peak_kib: u64,
}

/// Median wall time and highest peak RSS of `RUNS` runs of `cmd` (GNU time), with `before`
/// run ahead of each.
fn measure(name: &str, mut cmd: impl FnMut() -> Command, mut before: impl FnMut()) -> Measure {
    let mut walls = Vec::new();
    let mut peak = 0;
    let report = root().join("target/xtask/db-time.txt");
    for i in 0..RUNS {
        before();
        let inner = cmd();
        let mut timed = Command::new("/usr/bin/time");
        timed.args(["-f", "%e %M", "-o"]).arg(&report).arg(inner.get_program()).args(inner.get_args());
        for (k, v) in inner.get_envs() {
            if let Some(v) = v {
                timed.env(k, v);
            }
        }
        let out = timed.stdout(Stdio::null()).stderr(Stdio::piped()).output().expect("GNU time");
        assert!(out.status.success(), "{name} failed: {}", String::from_utf8_lossy(&out.stderr));
        let text = std::fs::read_to_string(&report).expect("time's report");
        let mut parts = text.split_whitespace();
        let wall: f64 = parts.next().and_then(|w| w.parse().ok()).expect("wall time");
        let kib: u64 = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
        eprintln!("   {name} run {}: {wall:.2} s, peak {} MiB", i + 1, kib / 1024);
        walls.push(wall);
        peak = peak.max(kib);
    }
    walls.sort_by(f64::total_cmp);
    Measure { seconds: walls[walls.len() / 2], peak_kib: peak }
}

/// The rows as CSV, and the size of the same rows as JSON objects (what items hold).
fn generate(path: &Path) -> (u64, u64) {
    use std::io::Write;
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).expect("CSV file"));
    writeln!(w, "id,customer,amount,paid,note").unwrap();
    let mut json_bytes = 0u64;
    let mut seed = 42u64;
    for id in 0..ROWS {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let customer = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra"][(seed >> 33) as usize % 4];
        let amount = format!("{}.{:02}", (seed >> 20) % 5000, (seed >> 8) % 100);
        let paid = (seed >> 40).is_multiple_of(2);
        let note = format!("order {id} for {customer}");
        writeln!(w, "{id},{customer},{amount},{paid},{note}").unwrap();
        json_bytes += serde_json::json!({"id": id, "customer": customer, "amount": amount, "paid": paid, "note": note})
            .to_string()
            .len() as u64;
    }
    w.flush().unwrap();
    (std::fs::metadata(path).unwrap().len(), json_bytes)
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn mib(kib: u64) -> String {
    format!("{:.0} MiB", kib as f64 / 1024.0)
}

fn main() {
    let cli = root().join("target/release/switchyard");
    assert!(cli.exists(), "build the release CLI first (cargo xtask bench db does)");
    let home = root().join("bench/out/db");
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).unwrap();
    let server = Postgres::start();
    server.psql(
        "CREATE TABLE items (id bigint PRIMARY KEY, customer text, amount numeric(12,2), paid boolean, note text)",
    );
    let csv = home.join("rows.csv");
    eprintln!("   generating {} rows", thousands(ROWS as u64));
    let (csv_bytes, json_bytes) = generate(&csv);

    // The account, in a vault without the OS keyring (a master password instead).
    let env = |cmd: &mut Command| {
        cmd.env("SWITCHYARD_DATA_DIR", home.join("data"))
            .env("HOME", &home)
            .env("SWITCHYARD_KEYRING", "off")
            .env("SWITCHYARD_MASTER_PASSWORD", "bench pass")
            .env("PG_PASS", &server.password);
    };
    let mut add = Command::new(&cli);
    env(&mut add);
    add.args(["connections", "add", "db.postgres", "bench"])
        .args(["--field", "host=127.0.0.1", "--field", &format!("port={}", server.port)])
        .args(["--field", &format!("database={}", server.database), "--field", &format!("user={}", server.user)])
        .args(["--field", "password=@env:PG_PASS", "--field", "tls=disable"])
        .stdin(Stdio::null());
    let out = add.output().unwrap();
    assert!(out.status.success(), "connections add: {}", String::from_utf8_lossy(&out.stderr));

    let account = r#""credentials": {"database": {"connection": "db.postgres", "account": "bench"}}"#;
    let write_wf = home.join("write.json");
    std::fs::write(
        &write_wf,
        format!(
            r#"{{"switchyard": 1, "id": "bench-write", "name": "bench write", "settings": {{"timeoutSeconds": 3600}},
              "nodes": [{{"id": "t", "name": "Start", "type": "trigger.manual"}},
                {{"id": "r", "name": "Read", "type": "file.read", "parameters": {{"path": "{}", "format": "file"}}}},
                {{"id": "c", "name": "Rows", "type": "data.convert", "parameters": {{"format": "csv", "inferTypes": false}}}},
                {{"id": "w", "name": "Write", "type": "db.write", "parameters": {{"table": "items", "batchSize": 10000}}, {account}}}],
              "connections": [{{"from": {{"node": "t"}}, "to": {{"node": "r"}}}}, {{"from": {{"node": "r"}}, "to": {{"node": "c"}}}},
                              {{"from": {{"node": "c"}}, "to": {{"node": "w"}}}}]}}"#,
            csv.display()
        ),
    )
    .unwrap();
    let query_wf = home.join("query.json");
    std::fs::write(
        &query_wf,
        format!(
            r#"{{"switchyard": 1, "id": "bench-query", "name": "bench query", "settings": {{"timeoutSeconds": 3600}},
              "nodes": [{{"id": "t", "name": "Start", "type": "trigger.manual"}},
                {{"id": "q", "name": "Query", "type": "db.query", "parameters": {{"query": "SELECT * FROM items"}}, {account}}},
                {{"id": "l", "name": "First", "type": "data.limit", "parameters": {{"maxItems": 1}}}}],
              "connections": [{{"from": {{"node": "t"}}, "to": {{"node": "q"}}}}, {{"from": {{"node": "q"}}, "to": {{"node": "l"}}}}]}}"#
        ),
    )
    .unwrap();
    let run = |wf: &Path| {
        let (cli, wf) = (cli.clone(), wf.to_path_buf());
        move || {
            let mut cmd = Command::new(&cli);
            env(&mut cmd);
            cmd.args(["run", "-q", "--trust"]).arg(&wf);
            cmd
        }
    };
    let truncate = || {
        server.psql("TRUNCATE items");
    };
    let count = || server.psql("SELECT count(*) FROM items");

    eprintln!("   psql \\copy");
    let psql_bin = std::fs::read_dir("/usr/lib/postgresql")
        .ok()
        .and_then(|d| d.flatten().map(|e| e.path().join("bin/psql")).find(|p| p.exists()))
        .unwrap_or_else(|| PathBuf::from("psql"));
    let copy = measure(
        "psql \\copy",
        || {
            let mut cmd = Command::new(&psql_bin);
            cmd.args(["-X", "-q", "-h", "127.0.0.1", "-p", &server.port.to_string(), "-U", &server.user])
                .args(["-d", &server.database, "-c"])
                .arg(format!("\\copy items FROM '{}' WITH (FORMAT csv, HEADER true)", csv.display()))
                .env("PGPASSWORD", &server.password);
            cmd
        },
        truncate,
    );
    assert_eq!(count(), ROWS.to_string(), "psql copied every row");
    eprintln!("   switchyard SQL Write");
    let ours = measure("switchyard SQL Write", run(&write_wf), truncate);
    assert_eq!(count(), ROWS.to_string(), "SQL Write wrote every row");
    let same =
        server.psql("SELECT count(*) FROM items WHERE note = 'order 999999 for ' || customer AND amount IS NOT NULL");
    assert_eq!(same, "1", "the last row arrived whole");
    eprintln!("   switchyard SQL Query");
    let query = measure("switchyard SQL Query", run(&query_wf), || {});

    let version = server.psql("SHOW server_version");
    let ratio = (ROWS as f64 / ours.seconds) / (ROWS as f64 / copy.seconds);
    let mem_ratio = query.peak_kib as f64 * 1024.0 / json_bytes as f64;
    let pass = |ok: bool| if ok { "**pass**" } else { "**FAIL**" };
    println!(
        "## Databases: PostgreSQL insert and query (`cargo xtask bench db`)\n\n\
         PostgreSQL {version} started by the benchmark on 127.0.0.1 (fsync off, as in the tests). Input: {} generated \
         rows of 5 columns (bigint, text, numeric, boolean, text), {:.1} MiB of CSV, {:.1} MiB as JSON objects. Insert: \
         Switchyard runs Read Files → Convert Data (CSV → items) → SQL Write (insert, batches of 10,000 sent by COPY, \
         one transaction) through `switchyard run` (release build); `psql \\copy` reads the same file. The table is \
         emptied before every run. Median wall time of {RUNS} whole-process runs; highest peak RSS.\n\n\
         | Insert | Wall time | Rows/s | Peak RSS |\n|---|---|---|---|\n\
         | Switchyard (CSV → items → SQL Write) | {:.2} s | {} | {} |\n\
         | psql \\copy | {:.2} s | {} | {} |\n\n\
         Query: SQL Query `SELECT * FROM items` → {} items in {:.2} s ({} rows/s), peak RSS {} ({:.2}x the rows' JSON).\n\n\
         Targets:\n\n\
         - insert rows/s ≥ 0.5x `psql \\copy`: {ratio:.2}x — {}\n\
         - query peak RSS ≤ 3x the rows' JSON size: {mem_ratio:.2}x — {}\n",
        thousands(ROWS as u64),
        csv_bytes as f64 / 1048576.0,
        json_bytes as f64 / 1048576.0,
        ours.seconds,
        thousands((ROWS as f64 / ours.seconds) as u64),
        mib(ours.peak_kib),
        copy.seconds,
        thousands((ROWS as f64 / copy.seconds) as u64),
        mib(copy.peak_kib),
        thousands(ROWS as u64),
        query.seconds,
        thousands((ROWS as f64 / query.seconds) as u64),
        mib(query.peak_kib),
        mem_ratio,
        pass(ratio >= 0.5),
        pass(mem_ratio <= 3.0),
    );
}
