//! Real inference: llama.cpp (node-llama-cpp 3.21.1's prebuilt build, tests/llm/server.mjs)
//! serving a tiny random-weight Llama model that tests/llm/make_model.py writes with the
//! `gguf` package. Its answers are noise, but the JSON schema sent as `response_format`
//! becomes a grammar, so structured answers are valid whatever the weights: AI Chat with a
//! schema, and AI Orchestrate voting with three agents (and a tie-breaker), go through a real
//! model end to end — streaming, token counts, records and metrics.
//!
//! Ignored in the plain test run; `cargo xtask test` runs it in its own stage (it needs
//! `cargo xtask setup`: the npm packages in tests/llm and the Python `gguf` package).

use crate::ai::{events, unlock};
use crate::{call, open};
use serde_json::{Value as Json, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use switchyard_model::events::RunEventKind;

/// The model server, stopped when dropped (its input closes).
struct RealModel {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl RealModel {
    fn start() -> RealModel {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let llm = root.join("tests/llm");
        assert!(
            llm.join("node_modules/node-llama-cpp").exists(),
            "tests/llm/node_modules is missing: run `cargo xtask setup`"
        );
        std::fs::create_dir_all(root.join("target")).unwrap();
        let dir = tempfile::Builder::new().prefix("real-llm-").tempdir_in(root.join("target")).unwrap();
        let model = dir.path().join("tiny.gguf");
        let python = std::env::var_os("SWITCHYARD_TEST_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target/test-venv/bin/python"));
        let made = Command::new(&python)
            .arg(llm.join("make_model.py"))
            .arg(&model)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {} (cargo xtask setup makes it): {e}", python.display()));
        assert!(made.status.success(), "make_model.py failed: {}", String::from_utf8_lossy(&made.stderr));
        let mut child = Command::new("node")
            .arg(llm.join("server.mjs"))
            .arg(&model)
            .arg("tiny")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node (Node.js 20 or newer) is needed");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| panic!("the model server did not start: {line:?}"));
        RealModel { child, port, _dir: dir }
    }
}

impl Drop for RealModel {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn workflow(id: &str, node: Json) -> Json {
    json!({"switchyard": 1, "id": id, "name": id,
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "s", "name": "Ticket", "type": "data.set", "parameters": {"assignments": [
                {"name": "text", "value": "My invoice is wrong", "type": "string"}]}},
            node
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "s"}}, {"from": {"node": "s"}, "to": {"node": "m"}}]})
}

fn schema() -> Json {
    json!({"type": "object",
        "properties": {"category": {"type": "string", "enum": ["billing", "bug", "question"]}, "urgent": {"type": "boolean"}},
        "required": ["category", "urgent"], "additionalProperties": false})
}

#[tokio::test]
#[ignore = "real inference: cargo xtask test runs it in its own stage"]
async fn heavy_real_inference_chat_and_consensus_on_a_llama_cpp_model() {
    let server = RealModel::start();
    let (_dir, api, host) = open();
    unlock(&api).await;
    let base = format!("http://127.0.0.1:{}/v1", server.port);
    let added = call(
        &api,
        "account_add",
        json!({"connectionType": "llm.openaiCompatible", "label": "llama.cpp", "fields": {"baseUrl": base, "model": "tiny"}}),
    )
    .await
    .unwrap();
    let tested = call(&api, "account_test", json!({"id": added["id"]})).await.unwrap();
    assert_eq!(tested["ok"], true, "{tested}");
    assert!(tested["message"].as_str().unwrap().contains("1 model: tiny"), "{tested}");
    let account = json!({"model": {"connection": "llm.openaiCompatible", "account": "llama.cpp"}});

    // AI Chat with structured output: streamed, valid for the schema, counted.
    let chat = json!({"id": "m", "name": "Classify", "type": "ai.chat", "credentials": account,
        "parameters": {"prompt": "Classify: {{ json.text }}", "output": "schema", "schema": schema(),
                       "temperature": 0, "maxTokens": 80, "details": true}});
    let result = call(&api, "run_wait", json!({"workflow": workflow("real-chat", chat)})).await.unwrap();
    assert_eq!(result["status"], "success", "{result}");
    let item = &result["items"][0]["json"];
    assert!(["billing", "bug", "question"].contains(&item["category"].as_str().unwrap()), "{item}");
    assert!(item["urgent"].is_boolean(), "{item}");
    assert!(
        item["chat"]["tokensIn"].as_u64().unwrap() > 5 && item["chat"]["tokensOut"].as_u64().unwrap() > 3,
        "{item}"
    );
    let events = events(&host, result["executionId"].as_str().unwrap());
    let pieces = events.iter().filter(|e| matches!(e, RunEventKind::NodeStreamed { .. })).count();
    assert!(pieces >= 1, "the answer streamed onto the node");

    // Three agents with the same prompt at temperature 0 answer alike (greedy decoding is
    // deterministic): a unanimous vote on the answer's fields.
    let agents = json!([{"name": "a"}, {"name": "b"}, {"name": "c"}]);
    let orchestrate = |agents: Json, extra: Json| {
        let mut parameters = json!({"agents": agents, "prompt": "Classify: {{ json.text }}", "strategy": "consensus",
            "output": "schema", "schema": schema(), "temperature": 0, "maxTokens": 80});
        parameters.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        json!({"id": "m", "name": "Agents", "type": "ai.orchestrate", "credentials": account, "parameters": parameters})
    };
    let result = call(&api, "run_wait", json!({"workflow": workflow("real-vote", orchestrate(agents, json!({})))}))
        .await
        .unwrap();
    assert_eq!(result["status"], "success", "{result}");
    let record = &result["items"][0]["json"]["orchestration"];
    assert_eq!(record["decidedBy"], "majority", "{record}");
    assert_eq!(record["groups"][0]["votes"], 3, "{record}");
    assert_eq!(record["winner"], "a");
    for agent in record["agents"].as_array().unwrap() {
        assert_eq!(agent["status"], "answered");
        assert_eq!(agent["model"], "tiny");
        assert_eq!(agent["account"], "llm.openaiCompatible/llama.cpp");
        assert!(agent["tokensIn"].as_u64().unwrap() > 5 && agent["tokensOut"].as_u64().unwrap() > 3, "{agent}");
    }
    assert_eq!(result["items"][0]["json"]["answer"], record["agents"][0]["answer"]);

    // Different points of view may disagree; with a tie-breaker (a grammar-bound choice) and
    // the most votes needed, there is always a winner.
    let agents = json!([
        {"name": "lead", "systemPrompt": "You are a support lead."},
        {"name": "engineer", "systemPrompt": "You are an engineer. Broken things are bugs."},
        {"name": "clerk", "systemPrompt": "You handle invoices."}
    ]);
    let extra = json!({"win": "plurality", "tieBreak": "agent", "temperature": 0.9, "seed": 3});
    let result =
        call(&api, "run_wait", json!({"workflow": workflow("real-views", orchestrate(agents, extra))})).await.unwrap();
    assert_eq!(result["status"], "success", "{result}");
    let record = &result["items"][0]["json"]["orchestration"];
    let decided = record["decidedBy"].as_str().unwrap();
    assert!(["plurality", "tieBreaker"].contains(&decided), "{record}");
    if decided == "tieBreaker" {
        let choice = record["referees"][0]["answer"]["choice"].as_u64().unwrap();
        assert!((1..=3).contains(&choice), "{record}");
    }
    let winner = record["winner"].as_str().unwrap();
    assert!(["lead", "engineer", "clerk"].contains(&winner));

    // Every call's tokens reached the metrics, under the model and the account.
    let dashboard = call(&api, "metrics_dashboard", json!({"range": "live"})).await.unwrap();
    let row = dashboard["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "tiny" && m["account"] == "llm.openaiCompatible/llama.cpp")
        .unwrap_or_else(|| panic!("{dashboard}"))
        .clone();
    let referee_calls = u64::from(decided == "tieBreaker");
    assert_eq!(row["calls"].as_u64().unwrap(), 1 + 3 + 3 + referee_calls, "{row}");
    assert!(row["tokensIn"].as_u64().unwrap() > 30 && row["tokensOut"].as_u64().unwrap() > 20, "{row}");
}
