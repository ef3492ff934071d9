//! Execute Command against real processes: arguments passed literally, a clean environment,
//! output limits, exit statuses, and a timeout that stops a whole process group.

use crate::support::{after_start, engine, jsons, run};
use serde_json::json;
use std::sync::Arc;
use switchyard_engine::access::LocalPolicy;
use switchyard_engine::{Engine, Registry};
use switchyard_model::error::ErrorCode;
use switchyard_model::execution::RunStatus;

/// Manual Trigger → Execute Command with `parameters`.
fn command(parameters: serde_json::Value) -> switchyard_model::workflow::Workflow {
    after_start("shell.exec", parameters)
}

fn args(values: &[&str]) -> serde_json::Value {
    values.iter().map(|v| json!({"value": v})).collect()
}

#[tokio::test]
async fn arguments_reach_the_program_exactly_as_written() {
    let tricky = ["a b", "it's \"quoted\"", "$(rm -rf ~)", "`id`; echo hi", "*"];
    let mut list = vec!["-c", "import sys, json; print(json.dumps(sys.argv[1:]))"];
    list.extend(tricky);
    let (outcome, _) =
        run(&engine(), command(json!({"command": "python3", "arguments": args(&list)})), json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let out = &jsons(&outcome.result)[0];
    assert_eq!(out["exitCode"], 0);
    let argv: Vec<String> = serde_json::from_str(out["stdout"].as_str().unwrap().trim()).unwrap();
    assert_eq!(argv, tricky);
}

#[tokio::test]
async fn arguments_and_input_come_from_each_item() {
    let wf = command(json!({"command": "cat", "stdin": "{{ json.text }}|"}));
    let (outcome, _) = run(&engine(), wf, json!([{"text": "one"}, {"text": "two"}])).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let out: Vec<String> = jsons(&outcome.result).iter().map(|o| o["stdout"].as_str().unwrap().to_string()).collect();
    assert_eq!(out, ["one|", "two|"]);
}

#[tokio::test]
async fn the_environment_is_clean_but_for_what_the_node_declares() {
    let wf = command(json!({
        "command": "env",
        "environment": [{"name": "BACKUP_TARGET", "value": "/srv/{{ 1 + 1 }}"}],
    }));
    let (outcome, _) = run(&engine(), wf, json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let stdout = jsons(&outcome.result)[0]["stdout"].as_str().unwrap().to_string();
    let names: Vec<&str> = stdout.lines().filter_map(|l| l.split_once('=').map(|(k, _)| k)).collect();
    assert!(stdout.lines().any(|l| l == "BACKUP_TARGET=/srv/2"), "{stdout}");
    let allowed = switchyard_engine::nodes::shell_exec::CLEAN_ENV;
    let extra: Vec<&&str> = names.iter().filter(|n| **n != "BACKUP_TARGET" && !allowed.contains(n)).collect();
    // The test process has CARGO_* and RUST_* variables: none may leak.
    assert!(std::env::vars().any(|(k, _)| k.starts_with("CARGO")));
    assert!(extra.is_empty(), "variables beyond the clean set: {extra:?}");
}

#[tokio::test]
async fn long_output_is_cut_with_a_marker() {
    let wf = command(json!({
        "command": "python3",
        "arguments": args(&["-c", "import sys; sys.stdout.write('x' * 5000); sys.stderr.write('done')"]),
        "maxOutputKb": 1,
    }));
    let (outcome, _) = run(&engine(), wf, json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let out = &jsons(&outcome.result)[0];
    let stdout = out["stdout"].as_str().unwrap();
    assert!(stdout.starts_with(&"x".repeat(1024)), "{}", &stdout[..40]);
    assert!(stdout.ends_with("[… output cut: 5000 bytes, the first 1024 kept]"), "{}", &stdout[1000..]);
    assert_eq!(out["stderr"], "done");
}

#[tokio::test]
async fn an_error_status_fails_the_item_naming_it_unless_told_to_go_on() {
    let script = ["-c", "import sys; print('partial'); sys.stderr.write('disk full\\n'); sys.exit(3)"];
    let (outcome, _) =
        run(&engine(), command(json!({"command": "python3", "arguments": args(&script)})), json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Error);
    let error = outcome.error.unwrap();
    assert_eq!(error.code, ErrorCode::CommandFailed);
    assert_eq!(error.message, "\"python3\" exited with status 3: disk full");
    assert_eq!(error.node_name.as_deref(), Some("Node"));
    assert_eq!(error.details.as_ref().unwrap()["exitCode"], 3);

    let wf = command(json!({"command": "python3", "arguments": args(&script), "nonZero": "continue"}));
    let (outcome, _) = run(&engine(), wf, json!(null)).await;
    assert_eq!(outcome.status, RunStatus::Success);
    assert_eq!(jsons(&outcome.result)[0]["exitCode"], 3);

    let (outcome, _) = run(&engine(), command(json!({"command": "/no/such/program"})), json!(null)).await;
    let error = outcome.error.unwrap();
    assert_eq!(error.code, ErrorCode::CommandFailed);
    assert!(error.message.starts_with("cannot start \"/no/such/program\""), "{}", error.message);
}

#[cfg(unix)]
#[tokio::test]
async fn a_timeout_stops_the_program_and_the_processes_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("grandchild.pid");
    // The shell starts a grandchild and waits for it.
    let script = format!("sleep 30 & echo $! > '{}'; wait", pid_file.display());
    let wf = command(json!({"command": script, "useShell": true, "timeout": 1}));
    let started = std::time::Instant::now();
    let (outcome, _) = run(&engine(), wf, json!(null)).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    let error = outcome.error.unwrap();
    assert_eq!(error.code, ErrorCode::Timeout);
    assert!(error.message.contains("ran longer than its timeout of 1 s"), "{}", error.message);
    let pid = std::fs::read_to_string(&pid_file).unwrap().trim().to_string();
    let proc_entry = std::path::PathBuf::from(format!("/proc/{pid}"));
    // Killed processes are reaped by init a moment later.
    for _ in 0..50 {
        if !proc_entry.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let state = std::fs::read_to_string(proc_entry.join("stat")).unwrap_or_default();
    assert!(state.is_empty() || state.contains(") Z "), "the grandchild {pid} still runs: {state}");
}

#[tokio::test]
async fn a_run_may_not_run_programs_when_the_settings_say_so() {
    let base = engine();
    let mut services = base.services().clone();
    services.local = Arc::new(LocalPolicy { commands: false, ..LocalPolicy::default() });
    let engine = Engine::new(Registry::builtin(), services);
    let (outcome, _) = run(&engine, command(json!({"command": "true"})), json!(null)).await;
    let error = outcome.error.unwrap();
    assert_eq!(error.code, ErrorCode::LocalAccessRefused);
    assert_eq!(error.message, "may not run \"true\": running programs is turned off (Settings → Local access)");
}
