//! `cargo xtask fuzz [--seconds N] [TARGET…]`: runs each cargo-fuzz target (fuzz/, nightly,
//! libFuzzer) for N seconds (default 60), saves every crashing input into
//! `tests/fixtures/fuzz/<target>/` (which `cargo xtask test` replays on stable through
//! crates/fuzzing) and writes the executions and crashes into bench/REPORT.md's "Fuzzing"
//! section. After a crash the target starts again for the rest of its time.

use crate::util::{self, Result, root};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The targets, as fuzz/Cargo.toml and crates/fuzzing name them.
const TARGETS: &[&str] = &["workflow_file", "expression", "signature", "webhook_body", "schedule", "cli_input"];

/// What one target's run found.
struct Outcome {
    target: String,
    seconds: u64,
    executions: u64,
    crashes: Vec<String>,
}

pub fn run(args: &[String]) -> Result {
    let mut seconds = 60u64;
    let mut targets: Vec<String> = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--seconds" => {
                let value = rest.next().ok_or("--seconds needs a number")?;
                seconds = value.parse().map_err(|_| format!("--seconds: \"{value}\" is not a number of seconds"))?;
            }
            name if TARGETS.contains(&name) => targets.push(name.to_string()),
            other => {
                return Err(format!("unknown fuzz target or option \"{other}\" (targets: {})", TARGETS.join(", ")));
            }
        }
    }
    if targets.is_empty() {
        targets = TARGETS.iter().map(|t| t.to_string()).collect();
    }
    ensure_tools()?;
    let step = util::Step::start("building the fuzz targets (nightly, sanitizer)");
    util::run(fuzz_command().arg("build"))?;
    step.done();

    let mut outcomes = Vec::new();
    for target in &targets {
        let step = util::Step::start(&format!("fuzzing {target} for {seconds} s"));
        let outcome = fuzz_target(target, seconds)?;
        eprintln!(
            "{target}: {} executions, {} crash(es){}",
            outcome.executions,
            outcome.crashes.len(),
            if outcome.crashes.is_empty() { String::new() } else { format!(": {}", outcome.crashes.join(", ")) }
        );
        outcomes.push(outcome);
        step.done();
    }
    write_report(&outcomes)?;
    let crashed: Vec<&str> = outcomes.iter().filter(|o| !o.crashes.is_empty()).map(|o| o.target.as_str()).collect();
    if crashed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "crashes in {}: the inputs are in tests/fixtures/fuzz/<target>/ and `cargo xtask test` replays them",
            crashed.join(", ")
        ))
    }
}

fn fuzz_command() -> Command {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(root()).args(["+nightly", "fuzz"]);
    cmd
}

/// cargo-fuzz (installed when missing) and the nightly toolchain.
fn ensure_tools() -> Result {
    let nightly = util::output(Command::new("rustup").args(["toolchain", "list"])).unwrap_or_default();
    if !nightly.lines().any(|l| l.starts_with("nightly")) {
        return Err("fuzzing needs the nightly toolchain (`rustup toolchain install nightly`)".into());
    }
    let has_fuzz = Command::new("cargo")
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_fuzz {
        util::run(Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]))?;
    }
    Ok(())
}

/// Runs one target until `seconds` are used, restarting after each crash (at most 20).
fn fuzz_target(target: &str, seconds: u64) -> Result<Outcome> {
    let corpus = root().join("fuzz/corpus").join(target);
    let seeds = root().join("tests/fixtures/fuzz").join(target);
    let artifacts = root().join("fuzz/artifacts").join(target);
    for dir in [&corpus, &seeds, &artifacts] {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    // The seeds start the corpus; saved crashes stay out of it (libFuzzer would stop on
    // them at once after each restart).
    for entry in std::fs::read_dir(&seeds).map_err(|e| format!("{}: {e}", seeds.display()))?.flatten() {
        if entry.file_name().to_string_lossy().starts_with("seed-") {
            let to = corpus.join(entry.file_name());
            std::fs::copy(entry.path(), &to).map_err(|e| format!("{}: {e}", to.display()))?;
        }
    }
    let started = Instant::now();
    let budget = Duration::from_secs(seconds);
    let mut outcome = Outcome { target: target.into(), seconds, executions: 0, crashes: Vec::new() };
    let log_dir = root().join("target/fuzz-logs");
    std::fs::create_dir_all(&log_dir).map_err(|e| format!("{}: {e}", log_dir.display()))?;
    for attempt in 0..20 {
        let left = budget.saturating_sub(started.elapsed()).as_secs();
        if left < 5 {
            break;
        }
        let log = log_dir.join(format!("{target}-{attempt}.log"));
        let file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let status = fuzz_command()
            .args(["run", target])
            .arg(&corpus)
            .arg("--")
            .arg(format!("-max_total_time={left}"))
            .args(["-print_final_stats=1", "-timeout=10", "-rss_limit_mb=4096"])
            .stdout(Stdio::null())
            .stderr(file)
            .status()
            .map_err(|e| format!("cannot run cargo fuzz: {e}"))?;
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        outcome.executions += executions(&text);
        let new = save_artifacts(&artifacts, &seeds)?;
        if status.success() {
            break;
        }
        if new.is_empty() {
            let tail: Vec<&str> = text.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(format!(
                "fuzzing {target} failed without a crash input ({}):\n{}",
                log.display(),
                tail.join("\n")
            ));
        }
        outcome.crashes.extend(new);
    }
    Ok(outcome)
}

/// libFuzzer's count of executed inputs from its final stats (or its last status line).
fn executions(log: &str) -> u64 {
    if let Some(n) = log
        .lines()
        .rev()
        .filter_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
        .find_map(|n| n.trim().parse().ok())
    {
        return n;
    }
    // A crash ends without final stats: the last "#N\t…" line counts.
    log.lines()
        .rev()
        .filter_map(|l| l.strip_prefix('#'))
        .find_map(|l| l.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .unwrap_or(0)
}

/// Moves new crash, timeout, out-of-memory and leak inputs into the fixtures; their names.
fn save_artifacts(artifacts: &Path, fixtures: &Path) -> Result<Vec<String>> {
    let mut saved = Vec::new();
    let Ok(entries) = std::fs::read_dir(artifacts) else { return Ok(saved) };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !["crash-", "timeout-", "oom-", "leak-", "slow-unit-"].iter().any(|p| name.starts_with(p)) {
            continue;
        }
        let to = fixtures.join(&name);
        std::fs::copy(entry.path(), &to).map_err(|e| format!("{}: {e}", to.display()))?;
        let _ = std::fs::remove_file(entry.path());
        if !name.starts_with("slow-unit-") {
            saved.push(name);
        }
    }
    Ok(saved)
}

/// Writes the "Fuzzing" section: a row per target run now, and the rows of targets not run
/// this time as they were. The crashes column counts this run's and the inputs saved in the
/// fixtures (crashes found earlier and fixed: `cargo xtask test` replays them).
fn write_report(outcomes: &[Outcome]) -> Result {
    let path = root().join("bench/REPORT.md");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let mut body = String::from(
        "## Fuzzing (`cargo xtask fuzz`)\n\n\
         libFuzzer through cargo-fuzz (nightly, AddressSanitizer), one target per parser that takes untrusted input; \
         each harness is in `crates/fuzzing` and also asserts properties (a valid report carries its workflow, what \
         `sign` writes `verify` accepts and another body does not, schedule fires move forward). Crash inputs are \
         saved in `tests/fixtures/fuzz/<target>/`, which `cargo xtask test` replays on stable.\n\n\
         | target | what it feeds | seconds | executions | crashes this run | saved crash inputs (fixed, replayed) |\n\
         |---|---|---:|---:|---:|---:|\n",
    );
    for target in TARGETS {
        let row = match outcomes.iter().find(|o| o.target == *target) {
            Some(o) => {
                let what = match o.target.as_str() {
                    "workflow_file" => "workflow file text → parse + validate (positions, duplicate keys, ids)",
                    "expression" => "template + item JSON → compile + evaluate (20,000-operation budget)",
                    "signature" => "header + body → every preset's parser, verifier and sign/verify round trip",
                    "webhook_body" => "content type + body → the listener's body parser → trigger items",
                    "schedule" => "cron pattern + time zone → rule + next fires",
                    "cli_input" => "`--input` JSON → items",
                    _ => "",
                };
                let crashes = if o.crashes.is_empty() {
                    "0".to_string()
                } else {
                    format!("{} ({})", o.crashes.len(), o.crashes.join(", "))
                };
                format!(
                    "| `{}` | {what} | {} | {} | {crashes} | {} |",
                    o.target,
                    o.seconds,
                    crate::bench::thousands(o.executions),
                    saved(target)
                )
            }
            // A row written before the saved-inputs column gets it.
            None => match old.lines().find(|l| l.starts_with(&format!("| `{target}` |"))) {
                Some(line) if line.matches('|').count() < 7 => format!("{line} {} |", saved(target)),
                Some(line) => line.to_string(),
                None => continue,
            },
        };
        body.push_str(&row);
        body.push('\n');
    }
    crate::bench::write_section("fuzzing", &body)
}

/// Crash inputs kept in a target's fixtures (everything but the seeds).
fn saved(target: &str) -> usize {
    std::fs::read_dir(root().join("tests/fixtures/fuzz").join(target))
        .map(|d| d.flatten().filter(|e| !e.file_name().to_string_lossy().starts_with("seed-")).count())
        .unwrap_or(0)
}
