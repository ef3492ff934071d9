//! The scripted model server as other processes see it: the `llm-server` program answers
//! OpenAI's API on the port it prints, streams server-sent events, and stops when its stdin
//! closes.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[tokio::test]
async fn the_program_streams_answers_and_stops_with_its_input() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_llm-server"))
        .args(["--key", "sk-e2e"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = format!("http://127.0.0.1:{}/v1", line.trim());
    let client = reqwest::Client::new();
    let refused = client.get(format!("{base}/models")).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let models: serde_json::Value =
        client.get(format!("{base}/models")).bearer_auth("sk-e2e").send().await.unwrap().json().await.unwrap();
    assert!(models["data"].as_array().unwrap().iter().any(|m| m["id"] == "slow"));
    let body = serde_json::json!({"model": "echo", "stream": true, "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": "Hello, stream"}]});
    let text = client
        .post(format!("{base}/chat/completions"))
        .bearer_auth("sk-e2e")
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
    let pieces: String = events
        .iter()
        .filter_map(|e| serde_json::from_str::<serde_json::Value>(e.strip_prefix("data: ").unwrap()).ok())
        .filter_map(|e| e["choices"][0]["delta"]["content"].as_str().map(str::to_string))
        .collect();
    assert_eq!(pieces, "Hello, stream");
    assert!(events.iter().any(|e| e.contains("\"finish_reason\":\"stop\"")));
    assert!(events.iter().any(|e| e.contains("\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":4}")), "{text}");
    assert_eq!(events.last(), Some(&"data: [DONE]"));
    drop(child.stdin.take());
    let status = child.wait().unwrap();
    assert!(status.success());
}
