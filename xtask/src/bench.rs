//! `cargo xtask bench`: measured speed and memory, written to bench/REPORT.md. Each section
//! replaces its own block in the report, so sections can be run one at a time.

use crate::util::{self, Result, Step, root};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const SECTIONS: &[&str] =
    &["engine", "io", "db", "ui", "vault", "resilience", "webhooks", "metrics", "packages", "scale"];
const ITEMS: usize = 1_000_000;
const RUNS: usize = 3;

pub fn run(args: &[String]) -> Result {
    let sections: Vec<&str> =
        if args.is_empty() { SECTIONS.to_vec() } else { args.iter().map(String::as_str).collect() };
    for s in &sections {
        if !SECTIONS.contains(s) {
            return Err(format!("unknown bench section \"{s}\" (sections: {})", SECTIONS.join(", ")));
        }
    }
    crate::setup::apt()?;
    let out = root().join("bench/out");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(root().join("target/xtask")).map_err(|e| e.to_string())?;
    for section in sections {
        let text = match section {
            "engine" => engine(&out)?,
            "io" => io(&out)?,
            "db" => {
                // The example runs the release CLI against a PostgreSQL it starts.
                let step = Step::start("bench db: building the CLI (release)");
                util::run(util::cargo().args(["build", "--release", "--locked", "-p", "switchyard-cli"]))?;
                step.done();
                example(
                    "switchyard-cli",
                    "bench-db",
                    "1,000,000 rows into PostgreSQL by SQL Write and by psql \\copy, then queried back",
                )?
            }
            "scale" => {
                // The example runs the release CLI's serve and workers on a PostgreSQL and a
                // Redis it starts.
                let step = Step::start("bench scale: building the CLI (release)");
                util::run(util::cargo().args(["build", "--release", "--locked", "-p", "switchyard-cli"]))?;
                step.done();
                example(
                    "switchyard-cli",
                    "bench-scale",
                    "webhook → set → answer through the queue with 1, 2 and 3 workers, and the queue alone",
                )?
            }
            "ui" => ui(&out)?,
            "vault" => vault()?,
            "resilience" => {
                example("switchyard-engine", "bench-http", "HTTP node vs a plain reqwest loop, resilience overhead")?
            }
            "webhooks" => {
                crate::setup::node_red()?;
                example_with(
                    "switchyard-api",
                    "bench-webhook",
                    "webhook → set → respond under wrk at 1, 10 and 50 connections, next to Node-RED and a bare axum echo",
                    &[("SWITCHYARD_BENCH_NODERED", root().join("tests/nodered"))],
                )?
            }
            "metrics" => {
                let recording = example(
                    "switchyard-metrics",
                    "bench-metrics",
                    "recording cost per node run, aggregation rate, 30-day rollup ageing",
                )?;
                let dashboard = example(
                    "switchyard-api",
                    "bench-dashboard",
                    "dashboard queries over 30 days of rollups in SQLite",
                )?;
                format!("{recording}\n{dashboard}")
            }
            "packages" => {
                let packages = crate::bundle::make(true)?;
                format!(
                    "## Packages (`cargo xtask bench packages`)\n\n`cargo xtask bundle`: the release app and CLI in the Linux packages Tauri's bundler makes (AppImage: see docs/install.md).\n\n{}",
                    packages.sizes()?
                )
            }
            _ => unreachable!(),
        };
        write_section(section, &text)?;
    }
    eprintln!("\nWrote {}", root().join("bench/REPORT.md").display());
    Ok(())
}

/// One measured run: wall time and peak resident memory of the whole process.
struct Measure {
    seconds: f64,
    peak_kib: u64,
}

/// Runs `cmd` under GNU time, sending stdout to `stdout_to`; returns the median wall time
/// and the largest peak RSS of `RUNS` runs.
fn measure(name: &str, mut make: impl FnMut() -> Command, stdout_to: &Path) -> Result<Measure> {
    let mut walls = Vec::new();
    let mut peak = 0;
    for i in 0..RUNS {
        let report = root().join("target/xtask/time.txt");
        let inner = make();
        let mut cmd = Command::new("/usr/bin/time");
        cmd.args(["-f", "%e %M", "-o"]).arg(&report).arg(inner.get_program()).args(inner.get_args());
        if let Some(dir) = inner.get_current_dir() {
            cmd.current_dir(dir);
        }
        for (k, v) in inner.get_envs() {
            if let Some(v) = v {
                cmd.env(k, v);
            }
        }
        let file = std::fs::File::create(stdout_to).map_err(|e| e.to_string())?;
        cmd.stdout(Stdio::from(file)).stderr(Stdio::inherit());
        let started = Instant::now();
        let status = util::status(&mut cmd)?;
        if !status.success() {
            return Err(format!("{name} failed ({status})"));
        }
        let text = std::fs::read_to_string(&report).map_err(|e| e.to_string())?;
        let mut parts = text.split_whitespace();
        let wall: f64 = parts.next().and_then(|w| w.parse().ok()).unwrap_or_else(|| started.elapsed().as_secs_f64());
        let kib: u64 = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
        eprintln!("   {name} run {}: {wall:.2} s, peak {} MiB", i + 1, kib / 1024);
        walls.push(wall);
        peak = peak.max(kib);
    }
    walls.sort_by(f64::total_cmp);
    Ok(Measure { seconds: walls[walls.len() / 2], peak_kib: peak })
}

/// A deterministic pseudo-random generator, so every machine benchmarks the same data.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Writes `count` user records like a typical API export (about 215 bytes each).
fn generate_items(path: &Path, count: usize) -> Result<u64> {
    use std::io::Write;
    let first = ["Ada", "Grace", "Alan", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Edsger", "Frances"];
    let last =
        ["Lovelace", "Hopper", "Turing", "Torvalds", "Liskov", "Thompson", "Hamilton", "Ritchie", "Dijkstra", "Allen"];
    let cities = ["London", "Paris", "Berlin", "Tokyo", "Lagos", "Lima", "Oslo", "Pune"];
    let tags = ["admin", "beta", "staff", "vip", "new"];
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut rng = Lcg(7);
    let io = |e: std::io::Error| e.to_string();
    w.write_all(b"[").map_err(io)?;
    for i in 0..count {
        let f = first[rng.below(10) as usize];
        let l = last[rng.below(10) as usize];
        let age = 18 + rng.below(73);
        let active = rng.below(10) < 7;
        let score = rng.below(10_000) as f64 / 100.0;
        let city = cities[rng.below(8) as usize];
        let zip = 10_000 + rng.below(90_000);
        let t1 = tags[rng.below(5) as usize];
        let t2 = tags[rng.below(5) as usize];
        let (month, day) = (1 + rng.below(9), rng.below(10));
        if i > 0 {
            w.write_all(b",").map_err(io)?;
        }
        write!(
            w,
            r#"{{"id":{i},"name":"{f} {l}","email":"{}.{}{i}@example.com","age":{age},"active":{active},"score":{score},"address":{{"city":"{city}","zip":"{zip}"}},"tags":["{t1}","{t2}"],"createdAt":"2026-0{month}-1{day}T10:00:00Z"}}"#,
            f.to_lowercase(),
            l.to_lowercase()
        )
        .map_err(io)?;
    }
    w.write_all(b"]").map_err(io)?;
    w.flush().map_err(io)?;
    Ok(std::fs::metadata(path).map_err(|e| e.to_string())?.len())
}

/// The same output, whitespace and key order aside (rhai maps sort their keys): both
/// outputs normalised by jq and compared.
fn same_json(a: &Path, b: &Path) -> Result<bool> {
    let norm = |p: &Path| util::output(Command::new("jq").args(["-S", "-c", "."]).arg(p));
    Ok(norm(a)? == norm(b)?)
}

fn count_items(path: &Path) -> Result<usize> {
    Ok(util::output(Command::new("jq").arg("length").arg(path))?.trim().parse().unwrap_or(0))
}

/// 1234567 → "1,234,567"
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn mib(kib: u64) -> String {
    format!("{:.0} MiB", kib as f64 / 1024.0)
}

fn engine(out: &Path) -> Result<String> {
    let step = Step::start("bench engine: building the CLI (release)");
    util::run(util::cargo().args(["build", "--release", "--locked", "-p", "switchyard-cli"]))?;
    step.done();
    let cli = root().join("target/release/switchyard");

    let items = out.join("items.json");
    let step = Step::start(&format!("bench engine: generating {ITEMS} records"));
    let json_bytes = generate_items(&items, ITEMS)?;
    step.done();
    eprintln!("   {} bytes of JSON", json_bytes);

    let data = out.join("data");
    let _ = std::fs::remove_dir_all(&data);
    let run_cli = |workflow: &'static str| {
        let (cli, items, data) = (cli.clone(), items.clone(), data.clone());
        move || {
            let mut cmd = Command::new(&cli);
            cmd.current_dir(root())
                .env("SWITCHYARD_DATA_DIR", &data)
                .args(["run", workflow, "-q", "--input"])
                .arg(format!("@{}", items.display()));
            cmd
        }
    };

    let step = Step::start("bench engine: Set → Filter → Limit");
    let sy_out = out.join("switchyard-set-filter-limit.json");
    let sy = measure("switchyard Set→Filter→Limit", run_cli("bench/set-filter-limit.json"), &sy_out)?;
    step.done();

    let step = Step::start("bench engine: the same in a rhai Code node");
    let code_out = out.join("switchyard-code.json");
    let code = measure("switchyard Code (rhai)", run_cli("bench/code-per-item.json"), &code_out)?;
    step.done();

    let step = Step::start("bench engine: the same with jq");
    let jq_out = out.join("jq.json");
    let filter =
        r#"[.[] | .city = .address.city | .source = "import" | select(.age >= 30 and .active == true)] | .[:100000]"#;
    let jq_version = util::output(Command::new("jq").arg("--version")).unwrap_or_default().trim().to_string();
    let items_for_jq = items.clone();
    let jq = measure(
        "jq",
        move || {
            let mut cmd = Command::new("jq");
            cmd.args(["-c", filter]).arg(&items_for_jq);
            cmd
        },
        &jq_out,
    )?;
    step.done();

    // The faster members of the jq family, on the same data with the same filter.
    let jaq_path = crate::setup::jaq()?;
    let mut peers = Vec::new();
    for (name, program) in [("jaq", jaq_path), ("gojq", std::path::PathBuf::from("gojq"))] {
        let step = Step::start(&format!("bench engine: the same with {name}"));
        let version = util::output(Command::new(&program).arg("--version")).unwrap_or_default().trim().to_string();
        let peer_out = out.join(format!("{name}.json"));
        let items_for_peer = items.clone();
        let measured = measure(
            name,
            move || {
                let mut cmd = Command::new(&program);
                cmd.args(["-c", filter]).arg(&items_for_peer);
                cmd
            },
            &peer_out,
        )?;
        step.done();
        if !same_json(&peer_out, &jq_out)? {
            return Err(format!("{name}'s output differs from jq's; see {}", out.display()));
        }
        let version = if version.starts_with(name) { version } else { format!("{name} {version}") };
        peers.push((version, measured));
    }

    let same = same_json(&sy_out, &jq_out)?;
    let same_code = same_json(&code_out, &jq_out)?;
    let kept = count_items(&sy_out)?;
    let json_kib = json_bytes / 1024;
    let rate = |m: &Measure| thousands((ITEMS as f64 / m.seconds) as u64);
    let ratio_mem = |m: &Measure| m.peak_kib as f64 / json_kib as f64;
    let time_ratio = sy.seconds / jq.seconds;
    let pass = |ok: bool| if ok { "**pass**" } else { "**FAIL**" };

    let mut text = String::new();
    text.push_str(&format!(
        "## Engine: {} items (`cargo xtask bench engine`)\n\n\
         Input: {} generated user records, {:.1} MiB of JSON (`bench/out/items.json`), read with `--input @file`. \
         The pipeline copies a nested field up, tags each record, keeps active people aged 30 or more \
         and then the first 100,000 of them ({} items out). Workflows: \
         [`bench/set-filter-limit.json`](set-filter-limit.json), [`bench/code-per-item.json`](code-per-item.json). \
         jq runs `{filter}`. Times are the median of {RUNS} runs of the whole process (start, parse, run, write the result); \
         memory is the highest peak RSS of those runs.\n\n\
         | Pipeline | Wall time | Items/s | Peak RSS | RSS / JSON size | Output equals jq's |\n\
         |---|---|---|---|---|---|\n",
        thousands(ITEMS as u64),
        thousands(ITEMS as u64),
        json_bytes as f64 / 1048576.0,
        thousands(kept as u64)
    ));
    for (name, m, same) in [
        ("Switchyard: Set → Filter → Limit", &sy, Some(same)),
        ("Switchyard: Code node (rhai, once per item) → Limit", &code, Some(same_code)),
        (&*format!("{jq_version}: the same transformation"), &jq, None),
        (&*format!("{}: the same", peers[0].0), &peers[0].1, None),
        (&*format!("{}: the same", peers[1].0), &peers[1].1, None),
    ] {
        text.push_str(&format!(
            "| {name} | {:.2} s | {} | {} | {:.2}x | {} |\n",
            m.seconds,
            rate(m),
            mib(m.peak_kib),
            ratio_mem(m),
            same.map_or("—".into(), |s| if s { "yes".to_string() } else { "**no**".to_string() })
        ));
    }
    let jaq_ratio = sy.seconds / peers[0].1.seconds;
    let gojq_ratio = sy.seconds / peers[1].1.seconds;
    text.push_str(&format!(
        "\nTargets:\n\n\
         - Set→Filter wall time ≤ jq's: {:.2} s vs {:.2} s, ratio {:.2} — {}\n\
         - Set→Filter wall time ≤ jaq's: {:.2} s vs {:.2} s, ratio {:.2} — {}\n\
         - Memory ≤ 3x the items' JSON size: {:.2}x — {}\n\n\
         For reference, gojq: {:.2} s, ratio {:.2}.\n",
        sy.seconds,
        jq.seconds,
        time_ratio,
        pass(time_ratio <= 1.0),
        sy.seconds,
        peers[0].1.seconds,
        jaq_ratio,
        pass(jaq_ratio <= 1.0),
        ratio_mem(&sy),
        pass(ratio_mem(&sy) <= 3.0),
        peers[1].1.seconds,
        gojq_ratio
    ));
    if !same || !same_code {
        return Err(format!("the benchmark outputs differ from jq's; see {}", out.display()));
    }
    Ok(text)
}

/// Writes `rows` order rows as CSV (about 100 bytes each): id, customer, email, city, amount,
/// placed, status.
fn generate_csv(path: &Path, rows: usize) -> Result<u64> {
    use std::io::Write;
    let names = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Linus Torvalds", "Barbara Liskov", "Ken Thompson"];
    let cities = ["Paris", "Köln", "New York", "São Paulo", "Zürich", "Tokyo", "Lagos", "Sydney"];
    let statuses = ["paid", "open", "refunded", "disputed, see notes"];
    let file = std::fs::File::create(path).map_err(|e| e.to_string())?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut rng = Lcg(42);
    let io = |e: std::io::Error| e.to_string();
    writeln!(w, "id,customer,email,city,amount,placed,status").map_err(io)?;
    for i in 0..rows {
        let name = names[rng.below(names.len() as u64) as usize];
        let email = format!("{}.{i}@example.com", name.split(' ').next().unwrap_or("x").to_lowercase());
        let status = statuses[rng.below(statuses.len() as u64) as usize];
        let status = if status.contains(',') { format!("\"{status}\"") } else { status.to_string() };
        writeln!(
            w,
            "{i},{name},{email},{},{}.{:02},2026-{:02}-{:02}T{:02}:{:02}:00Z,{status}",
            cities[rng.below(cities.len() as u64) as usize],
            rng.below(2000),
            rng.below(100),
            1 + rng.below(12),
            1 + rng.below(28),
            rng.below(24),
            rng.below(60)
        )
        .map_err(io)?;
    }
    w.flush().map_err(io)?;
    Ok(std::fs::metadata(path).map_err(|e| e.to_string())?.len())
}

/// CSV → items → filter → CSV next to Miller, and XLSX rows read per second.
fn io(out: &Path) -> Result<String> {
    const ROWS: usize = 1_000_000;
    const XLSX_ROWS: usize = 100_000;
    let step = Step::start("bench io: building the CLI (release)");
    util::run(util::cargo().args(["build", "--release", "--locked", "-p", "switchyard-cli"]))?;
    step.done();
    let cli = root().join("target/release/switchyard");
    let home = out.join("io");
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
    let csv = home.join("orders.csv");
    let step = Step::start(&format!("bench io: generating {ROWS} CSV rows"));
    let csv_bytes = generate_csv(&csv, ROWS)?;
    step.done();
    let filtered = home.join("switchyard-large.csv");
    let workflow = |name: &str, nodes: &str, links: &[(&str, &str)]| -> Result<std::path::PathBuf> {
        let connections: Vec<String> =
            links.iter().map(|(a, b)| format!(r#"{{"from": {{"node": "{a}"}}, "to": {{"node": "{b}"}}}}"#)).collect();
        let text = format!(
            r#"{{"switchyard": 1, "id": "{name}", "name": "{name}", "nodes": [{nodes}], "connections": [{}],
                "settings": {{"timeoutSeconds": 3600}}}}"#,
            connections.join(", ")
        );
        let path = home.join(format!("{name}.json"));
        std::fs::write(&path, text).map_err(|e| e.to_string())?;
        Ok(path)
    };
    let filter_wf = workflow(
        "csv-filter",
        &format!(
            r#"{{"id": "t", "name": "Start", "type": "trigger.manual"}},
               {{"id": "r", "name": "Read", "type": "file.read", "parameters": {{"path": "{}", "format": "file"}}}},
               {{"id": "c", "name": "Rows", "type": "data.convert", "parameters": {{"format": "csv"}}}},
               {{"id": "f", "name": "Large", "type": "data.filter", "parameters": {{"conditions": [{{"left": "{{{{ json.amount }}}}", "operator": "gt", "right": "1000"}}]}}}},
               {{"id": "o", "name": "As CSV", "type": "data.convert", "parameters": {{"operation": "toFile", "format": "csv"}}}},
               {{"id": "w", "name": "Write", "type": "file.write", "parameters": {{"path": "{}", "content": "file"}}}}"#,
            csv.display(),
            filtered.display()
        ),
        &[("t", "r"), ("r", "c"), ("c", "f"), ("f", "o"), ("o", "w")],
    )?;
    let run_cli = |wf: std::path::PathBuf| {
        let (cli, home) = (cli.clone(), home.clone());
        move || {
            let mut cmd = Command::new(&cli);
            // The home folder is the folder file nodes may use.
            cmd.env("SWITCHYARD_DATA_DIR", home.join("data"))
                .env("HOME", &home)
                .args(["run", "-q", "--trust"])
                .arg(&wf);
            cmd
        }
    };
    let step = Step::start("bench io: Read → Convert → Filter → Convert → Write");
    let sy = measure("switchyard CSV filter", run_cli(filter_wf), &home.join("switchyard.out"))?;
    step.done();
    let step = Step::start("bench io: the same with Miller");
    let mlr_out = home.join("mlr-large.csv");
    let mlr_version = util::output(Command::new("mlr").arg("--version")).unwrap_or_default().trim().to_string();
    let csv_for_mlr = csv.clone();
    let mlr = measure(
        "mlr",
        move || {
            let mut cmd = Command::new("mlr");
            cmd.args(["--icsv", "--ocsv", "filter", "$amount > 1000"]).arg(&csv_for_mlr);
            cmd
        },
        &mlr_out,
    )?;
    step.done();
    let lines = |p: &Path| std::fs::read_to_string(p).map(|t| t.lines().count()).unwrap_or(0);
    let (ours, theirs) = (lines(&filtered), lines(&mlr_out));
    if ours != theirs || ours < 2 {
        return Err(format!("Switchyard kept {ours} lines, Miller {theirs}; see {}", home.display()));
    }

    let xlsx = home.join("orders.xlsx");
    let step = Step::start(&format!("bench io: writing {XLSX_ROWS} XLSX rows with openpyxl"));
    let python = crate::setup::test_python()?;
    util::run(Command::new(python).arg("-c").arg(format!(
        "import sys\nfrom openpyxl import Workbook\nwb = Workbook(write_only=True)\nws = wb.create_sheet('Orders')\n\
         ws.append(['id', 'customer', 'amount', 'paid'])\nfor i in range({XLSX_ROWS}):\n    ws.append([i, 'Ada Lovelace', i * 1.5, i % 2 == 0])\n\
         wb.save(sys.argv[1])"
    )).arg(&xlsx))?;
    step.done();
    let xlsx_wf = workflow(
        "xlsx-read",
        &format!(
            r#"{{"id": "t", "name": "Start", "type": "trigger.manual"}},
               {{"id": "r", "name": "Read", "type": "file.read", "parameters": {{"path": "{}", "format": "file"}}}},
               {{"id": "c", "name": "Rows", "type": "data.convert", "parameters": {{"format": "xlsx"}}}},
               {{"id": "l", "name": "First", "type": "data.limit", "parameters": {{"maxItems": 1}}}}"#,
            xlsx.display()
        ),
        &[("t", "r"), ("r", "c"), ("c", "l")],
    )?;
    let step = Step::start("bench io: reading the workbook");
    let xl = measure("switchyard XLSX read", run_cli(xlsx_wf), &home.join("xlsx.out"))?;
    step.done();

    let csv_kib = csv_bytes / 1024;
    let pass = |ok: bool| if ok { "**pass**" } else { "**FAIL**" };
    let ratio = sy.seconds / mlr.seconds;
    let mem_ratio = sy.peak_kib as f64 / csv_kib as f64;
    Ok(format!(
        "## Local I/O: CSV and XLSX (`cargo xtask bench io`)\n\n\
         Input: {} generated order rows, {:.1} MiB of CSV (quoted fields included). Switchyard runs Read Files (as a \
         file) → Convert Data (CSV → items) → Filter (amount > 1000) → Convert Data (items → CSV) → Write File through \
         `switchyard run` (release build); Miller runs `mlr --icsv --ocsv filter '$amount > 1000'`. Both keep {} rows. \
         Median wall time of {RUNS} whole-process runs; highest peak RSS.\n\n\
         | Tool | Wall time | Rows/s | Peak RSS | RSS / CSV size |\n|---|---|---|---|---|\n\
         | Switchyard | {:.2} s | {} | {} | {:.2}x |\n\
         | {mlr_version} | {:.2} s | {} | {} | {:.2}x |\n\n\
         Targets:\n\n\
         - wall time ≤ Miller's: ratio {ratio:.2} — {}\n\
         - peak RSS ≤ 3x the CSV size: {mem_ratio:.2}x — {}\n\n\
         XLSX: {} rows (written by openpyxl) read by Read Files → Convert Data in {:.2} s: {} rows/s (whole process, \
         peak {}).\n",
        thousands(ROWS as u64),
        csv_bytes as f64 / 1048576.0,
        thousands(ours.saturating_sub(1) as u64),
        sy.seconds,
        thousands((ROWS as f64 / sy.seconds) as u64),
        mib(sy.peak_kib),
        mem_ratio,
        mlr.seconds,
        thousands((ROWS as f64 / mlr.seconds) as u64),
        mib(mlr.peak_kib),
        mlr.peak_kib as f64 / csv_kib as f64,
        pass(ratio <= 1.0),
        pass(mem_ratio <= 3.0),
        thousands(XLSX_ROWS as u64),
        xl.seconds,
        thousands((XLSX_ROWS as f64 / xl.seconds) as u64),
        mib(xl.peak_kib),
    ))
}

/// A valid workflow of `count` nodes: a Manual Trigger feeding rows of 40 chained nodes of
/// several types, laid out on a grid.
fn big_workflow(count: usize) -> String {
    let kinds = [
        (r#""data.set""#, r#"{"assignments": [{"name": "seen", "value": "{{ index }}"}]}"#),
        (r#""flow.noop""#, "{}"),
        (r#""data.filter""#, r#"{"conditions": [{"left": "{{ json.id }}", "operator": "exists"}]}"#),
        (r#""data.limit""#, r#"{"maxItems": 10}"#),
        (r#""data.sort""#, r#"{"fields": [{"field": "id"}]}"#),
    ];
    let per_row = 40;
    let mut nodes =
        vec![r#"{"id": "start", "name": "Start", "type": "trigger.manual", "position": [-300, 0]}"#.to_string()];
    let mut connections = Vec::new();
    for i in 0..count - 1 {
        let (row, col) = (i / per_row, i % per_row);
        let (kind, params) = kinds[i % kinds.len()];
        nodes.push(format!(
            r#"{{"id": "n{i}", "name": "Node {i}", "type": {kind}, "position": [{}, {}], "parameters": {params}}}"#,
            col * 260,
            row * 120
        ));
        let from = if col == 0 { "start".to_string() } else { format!("n{}", i - 1) };
        connections.push(format!(r#"{{"from": {{"node": "{from}"}}, "to": {{"node": "n{i}"}}}}"#));
    }
    format!(
        r#"{{"switchyard": 1, "id": "0193a1c0-0000-7000-8000-0000000b1000", "name": "Benchmark: {count} nodes", "description": "Generated by cargo xtask bench ui.", "nodes": [{}], "connections": [{}]}}"#,
        nodes.join(",\n"),
        connections.join(",\n")
    )
}

fn ui(out: &Path) -> Result<String> {
    let step = Step::start("bench ui: building the UI and the app (release)");
    crate::setup::npm()?;
    util::run(Command::new("npm").current_dir(root().join("ui")).args(["run", "--silent", "build"]))?;
    util::run(util::cargo().args([
        "build",
        "--release",
        "--locked",
        "-p",
        "switchyard-cli",
        "-p",
        "switchyard-app",
        "--features",
        "switchyard-app/custom-protocol",
    ]))?;
    crate::setup::tauri_driver()?;
    let python = crate::setup::test_python()?;
    step.done();

    let data = out.join("ui-data");
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).map_err(|e| e.to_string())?;
    let big = out.join("big-1000.json");
    std::fs::write(&big, big_workflow(1000)).map_err(|e| e.to_string())?;
    let cli = root().join("target/release/switchyard");
    for file in [big.clone(), root().join("assets/examples/order-totals.json")] {
        util::run(Command::new(&cli).env("SWITCHYARD_DATA_DIR", &data).arg("import").arg(file))?;
    }

    let step = Step::start("bench ui: launching the app and opening workflows");
    let report = util::output(
        Command::new("xvfb-run")
            .current_dir(root())
            .args(["-a", "-s", "-screen 0 1400x900x24"])
            .arg(python)
            .arg(root().join("tests/e2e/bench_ui.py"))
            .arg("--app")
            .arg(root().join("target/release/switchyard-app"))
            .arg("--data-dir")
            .arg(&data)
            .args(["--small", "Order totals per customer", "--big", "Benchmark: 1000 nodes", "--out"])
            .arg(out),
    )?;
    step.done();
    let line = report.lines().rev().find(|l| l.starts_with('{')).ok_or("the UI benchmark printed no result")?;
    let number = |key: &str| -> f64 {
        let at = line.find(&format!("\"{key}\": ")).map(|i| i + key.len() + 4);
        at.and_then(|i| line[i..].split([',', '}']).next()).and_then(|v| v.trim().parse().ok()).unwrap_or(f64::NAN)
    };
    let (paint, small, big_ms, nodes) =
        (number("launch_to_first_paint_ms"), number("small_canvas_ms"), number("big_canvas_ms"), number("big_nodes"));
    let (idle_rss, idle_pss) = (number("idle_rss_kib"), number("idle_pss_kib"));
    let (big_rss, big_pss) = (number("big_rss_kib"), number("big_pss_kib"));
    let pass = |ok: bool| if ok { "**pass**" } else { "**FAIL**" };
    let rendering = if Path::new("/dev/dri").exists() {
        "This machine has a GPU device, so WebKit composites with it."
    } else {
        "This machine has no GPU device, so the app paints without WebKit's compositing (see the README)."
    };
    let mut text = format!(
        "## Desktop app (`cargo xtask bench ui`)\n\n\
         The release build of the app (UI served from the binary) under Xvfb, driven by tauri-driver and WebKitWebDriver. \
         Times are medians of 3 launches, each with a fresh process. Memory is the largest of the 3, \
         summed over the app and its WebKit processes, 5 s after a workflow opened (idle). {rendering}\n\n\
         | Measure | Result | Target |\n|---|---|---|\n"
    );
    text.push_str(&format!(
        "| Launch to first painted frame | {paint:.0} ms | ≤ 1,000 ms {} |\n",
        pass(paint <= 1000.0)
    ));
    text.push_str(&format!("| Open a 6-node workflow until its canvas is painted | {small:.0} ms | — |\n"));
    text.push_str(&format!(
        "| Open a {nodes:.0}-node workflow until every node is laid out and painted | {big_ms:.0} ms | ≤ 2,000 ms {} |\n",
        pass(big_ms <= 2000.0 && nodes >= 1000.0)
    ));
    text.push_str(&format!(
        "| Process tree RSS, idle with the 6-node workflow open | {} | — |\n",
        mib(idle_rss as u64)
    ));
    let idle_ok = idle_pss * 1024.0 <= 300e6;
    text.push_str(&format!(
        "| Process tree PSS, idle with the 6-node workflow open | {} | ≤ 300 MB {} |\n",
        mib(idle_pss as u64),
        pass(idle_ok)
    ));
    text.push_str(&format!(
        "| Process tree RSS, idle with the 1,000-node workflow open | {} | — |\n",
        mib(big_rss as u64)
    ));
    text.push_str(&format!(
        "| Process tree PSS, idle with the 1,000-node workflow open | {} | — |\n",
        mib(big_pss as u64)
    ));
    let shot = root().join("bench/ui-1000-nodes.png");
    std::fs::copy(out.join("bench-1000-nodes.png"), &shot).map_err(|e| format!("{}: {e}", shot.display()))?;
    text.push_str("\n![The 1,000-node workflow, fitted to the window](ui-1000-nodes.png)\n");
    Ok(text)
}

/// A benchmark that is an example program printing its own report section.
fn example(package: &str, name: &str, what: &str) -> Result<String> {
    example_with(package, name, what, &[])
}

/// [`example`] with environment variables for the example.
fn example_with(package: &str, name: &str, what: &str, env: &[(&str, std::path::PathBuf)]) -> Result<String> {
    let step = Step::start(&format!("bench {name}: building (release)"));
    util::run(util::cargo().args(["build", "--release", "--locked", "-p", package, "--example", name]))?;
    step.done();
    let step = Step::start(&format!("bench {name}: {what}"));
    let mut cmd = Command::new(root().join("target/release/examples").join(name));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let text = util::output(&mut cmd)?;
    step.done();
    Ok(text)
}

/// The vault's benchmark (crates/vault/examples/bench-vault.rs), in a D-Bus session with
/// gnome-keyring so the keyring unlock is measured against a real Secret Service.
fn vault() -> Result<String> {
    let step = Step::start("bench vault: building (release)");
    util::run(util::cargo().args([
        "build",
        "--release",
        "--locked",
        "-p",
        "switchyard-vault",
        "--example",
        "bench-vault",
    ]))?;
    step.done();
    crate::setup::npm()?;
    let step = Step::start("bench vault: unlock, seal/open, authorize, concurrent refresh");
    let bin = root().join("target/release/examples/bench-vault");
    let text = util::output(&mut util::in_keyring_session(&format!("'{}'", bin.display()))?)?;
    step.done();
    Ok(text)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| t.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<u64>().ok()))
        .map_or("?".into(), |kib| format!("{:.0} GiB", kib as f64 / 1048576.0));
    let commit = util::output(Command::new("git").current_dir(root()).args(["rev-parse", "--short", "HEAD"]))
        .unwrap_or_default();
    format!("{cpu}, {cores} cores, {mem} RAM; commit {}", commit.trim())
}

/// Replaces (or appends) a section's block in bench/REPORT.md.
pub(crate) fn write_section(name: &str, body: &str) -> Result {
    let path: PathBuf = root().join("bench/REPORT.md");
    let old = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        "# Benchmarks\n\nWritten by `cargo xtask bench`; each section records the machine it ran on.\n".to_string()
    });
    let begin = format!("<!-- section: {name} -->");
    let end = format!("<!-- end: {name} -->");
    let block = format!("{begin}\n{body}\nMeasured on: {}.\n{end}", machine());
    let new = match (old.find(&begin), old.find(&end)) {
        (Some(a), Some(b)) if b > a => format!("{}{block}{}", &old[..a], &old[b + end.len()..]),
        _ => format!("{}\n{block}\n", old.trim_end()),
    };
    std::fs::write(&path, new).map_err(|e| format!("{}: {e}", path.display()))
}
