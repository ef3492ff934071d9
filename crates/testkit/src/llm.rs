//! A scripted chat model server speaking OpenAI's API (`/v1/models`, `/v1/chat/completions`,
//! streamed as server-sent events or whole), on 127.0.0.1, for the AI nodes' tests. What it
//! answers is either queued by the test ([`LlmServer::script`]) or chosen by the model's name:
//!
//! - `echo`: the last user message, back;
//! - `schema`: a value made from the request's JSON schema (first enum value, `"text"`, 1, true);
//! - `say:<text>`: `<text>` (e.g. `say:billing`);
//! - `malformed`: JSON cut in the middle (`{"category": "billing",`);
//! - `cut`: half an answer, then the stream ends without its end marker;
//! - `drop`: half an answer, then the connection breaks;
//! - `busy-once`: 429 with Retry-After: 1 on its first request, then like `echo`;
//! - `overflow`: 400 `context_length_exceeded`;
//! - `tools-forever`: always calls the first tool offered, with `{}`;
//! - `no-format`: 400 for any request with `response_format`, else `{"answer": "ok"}`;
//! - `slow`: like `echo`, one character every 40 ms.
//!
//! Streams send text 4 characters per event and tool-call arguments 5 characters per event.
//! Token counts are characters / 4, rounded up.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the server does for one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Turn {
    /// Answers with this text.
    Text(String),
    /// Asks for these tool calls: (name, arguments).
    ToolCalls(Vec<(String, Value)>),
    /// Answers with this status and JSON body, and a Retry-After (seconds) when given.
    Status(u16, Value, Option<u64>),
    /// Streams this text, then an error event with this message (as OpenRouter and
    /// llama.cpp's server report a failure that happens mid-answer).
    StreamError(String, String),
}

impl Turn {
    pub fn text(text: &str) -> Turn {
        Turn::Text(text.to_string())
    }

    pub fn tool(name: &str, arguments: Value) -> Turn {
        Turn::ToolCalls(vec![(name.to_string(), arguments)])
    }
}

#[derive(Default)]
struct Shared {
    key: Option<String>,
    scripts: Mutex<HashMap<String, VecDeque<Turn>>>,
    requests: Mutex<Vec<Value>>,
    seen: Mutex<HashMap<String, u32>>,
}

/// A running scripted model server. Dropping it stops the server.
pub struct LlmServer {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LlmServer {
    /// Starts the server on its own thread; with `key`, requests need `Authorization: Bearer <key>`.
    pub fn start(key: Option<&str>) -> LlmServer {
        let shared = Arc::new(Shared { key: key.map(str::to_string), ..Shared::default() });
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = router(shared.clone());
        let thread = std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
                tx.send(listener.local_addr().expect("local addr")).expect("send addr");
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        let addr = rx.recv().expect("server address");
        LlmServer { addr, shared, stop: Some(stop), thread: Some(thread) }
    }

    /// `http://127.0.0.1:PORT/v1`: an account's base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Queues turns for `model`: each request for it takes the next one (then the model
    /// name's behaviour applies again).
    pub fn script(&self, model: &str, turns: Vec<Turn>) {
        self.shared.scripts.lock().unwrap().entry(model.to_string()).or_default().extend(turns);
    }

    /// The bodies of every chat request so far, in order.
    pub fn requests(&self) -> Vec<Value> {
        self.shared.requests.lock().unwrap().clone()
    }
}

impl Drop for LlmServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The models `/v1/models` lists.
pub const MODELS: &[&str] =
    &["echo", "schema", "malformed", "cut", "drop", "busy-once", "overflow", "tools-forever", "no-format", "slow"];

fn router(shared: Arc<Shared>) -> Router {
    Router::new().route("/v1/models", get(models)).route("/v1/chat/completions", post(chat)).with_state(shared)
}

fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    match &shared.key {
        None => true,
        Some(key) => headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {key}")),
    }
}

fn error(status: u16, message: &str, code: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, axum::Json(json!({"error": {"message": message, "type": "invalid_request_error", "code": code}})))
        .into_response()
}

async fn models(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !authorized(&shared, &headers) {
        return error(401, "Incorrect API key provided", "invalid_api_key");
    }
    let data: Vec<Value> = MODELS.iter().map(|m| json!({"id": m, "object": "model", "owned_by": "testkit"})).collect();
    axum::Json(json!({"object": "list", "data": data})).into_response()
}

fn tokens(chars: usize) -> usize {
    chars.div_ceil(4)
}

/// A value valid for a schema: the first enum value, "text", 1, true, one list entry.
pub fn example_of(schema: &Value, root: &Value) -> Value {
    if let Some(reference) = schema["$ref"].as_str() {
        return root.pointer(reference.trim_start_matches('#')).map_or(Value::Null, |s| example_of(s, root));
    }
    if let Some(first) = schema["enum"].get(0) {
        return first.clone();
    }
    if let Some(c) = schema.get("const") {
        return c.clone();
    }
    if let Some(first) = schema["anyOf"].get(0) {
        return example_of(first, root);
    }
    let kind = match &schema["type"] {
        Value::Array(list) => list.first().and_then(Value::as_str).unwrap_or("null").to_string(),
        Value::String(t) => t.clone(),
        _ => "object".to_string(),
    };
    match kind.as_str() {
        "object" => {
            let mut out = serde_json::Map::new();
            for (name, sub) in schema["properties"].as_object().into_iter().flatten() {
                out.insert(name.clone(), example_of(sub, root));
            }
            Value::Object(out)
        }
        "array" => {
            let count = schema["minItems"].as_u64().unwrap_or(1).max(1) as usize;
            Value::Array((0..count).map(|_| example_of(&schema["items"], root)).collect())
        }
        "string" => {
            let min = schema["minLength"].as_u64().unwrap_or(0) as usize;
            Value::from("text".to_string() + &"x".repeat(min.saturating_sub(4)))
        }
        "integer" | "number" => schema["minimum"].as_f64().map_or(json!(1), |m| json!(m.max(1.0) as i64)),
        "boolean" => json!(true),
        _ => Value::Null,
    }
}

async fn chat(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if !authorized(&shared, &headers) {
        return error(401, "Incorrect API key provided", "invalid_api_key");
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(400, "the body is not JSON", "invalid_json");
    };
    shared.requests.lock().unwrap().push(request.clone());
    let model = request["model"].as_str().unwrap_or("").to_string();
    let stream = request["stream"].as_bool().unwrap_or(false);
    let usage = request["stream_options"]["include_usage"].as_bool().unwrap_or(false) || !stream;
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
    let prompt_chars: usize = messages.iter().map(|m| m["content"].as_str().map_or(0, |c| c.chars().count())).sum();
    let last_user = messages
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .and_then(|m| m["content"].as_str())
        .unwrap_or("")
        .to_string();
    let seen = {
        let mut seen = shared.seen.lock().unwrap();
        let n = seen.entry(model.clone()).or_default();
        *n += 1;
        *n
    };
    let scripted = shared.scripts.lock().unwrap().get_mut(&model).and_then(VecDeque::pop_front);
    let turn = match scripted {
        Some(turn) => turn,
        None => match model.as_str() {
            "echo" | "slow" => Turn::Text(last_user),
            "schema" => {
                let schema = &request["response_format"]["json_schema"]["schema"];
                Turn::Text(example_of(schema, schema).to_string())
            }
            "malformed" => Turn::text("{\"category\": \"billing\","),
            "cut" | "drop" => Turn::Text("This answer will not be finished".into()),
            "busy-once" if seen == 1 => Turn::Status(
                429,
                json!({"error": {"message": "Rate limit reached, try again in 1s", "code": "rate_limit_exceeded"}}),
                Some(1),
            ),
            "busy-once" => Turn::Text(last_user),
            "overflow" => Turn::Status(
                400,
                json!({"error": {"message": format!("This model's maximum context length is 16 tokens, however you requested {} tokens", tokens(prompt_chars)), "code": "context_length_exceeded"}}),
                None,
            ),
            "tools-forever" => {
                let name = request["tools"][0]["function"]["name"].as_str().unwrap_or("none").to_string();
                Turn::ToolCalls(vec![(name, json!({}))])
            }
            "no-format" if request.get("response_format").is_some() => Turn::Status(
                400,
                json!({"error": {"message": "response_format is not supported by this server"}}),
                None,
            ),
            "no-format" => Turn::text("{\"answer\": \"ok\"}"),
            other if other.starts_with("say:") => Turn::Text(other["say:".len()..].to_string()),
            other => Turn::Status(404, json!({"error": {"message": format!("model \"{other}\" not found")}}), None),
        },
    };
    let (text, calls) = match turn {
        Turn::Status(status, body, retry_after) => {
            let mut response =
                (StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), axum::Json(body)).into_response();
            if let Some(seconds) = retry_after {
                response.headers_mut().insert(header::RETRY_AFTER, seconds.to_string().parse().unwrap());
            }
            return response;
        }
        Turn::Text(text) => (text, Vec::new()),
        Turn::ToolCalls(calls) => (String::new(), calls),
        Turn::StreamError(text, message) => {
            let first = json!({"id": "chatcmpl-error", "object": "chat.completion.chunk", "model": model,
                "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]});
            let body = format!("data: {first}\n\ndata: {}\n\n", json!({"error": {"message": message, "code": 502}}));
            return Response::builder()
                .header(header::CONTENT_TYPE, "text/event-stream")
                .body(Body::from(body))
                .unwrap();
        }
    };
    let finish = if calls.is_empty() { "stop" } else { "tool_calls" };
    let usage_json = json!({
        "prompt_tokens": tokens(prompt_chars),
        "completion_tokens": tokens(text.chars().count() + calls.iter().map(|(_, a)| a.to_string().len()).sum::<usize>()),
    });
    let id = format!("chatcmpl-{seen}");
    if !stream {
        let tool_calls: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, (name, args))| json!({"id": format!("call_{seen}_{i}"), "type": "function", "function": {"name": name, "arguments": args.to_string()}}))
            .collect();
        let mut message =
            json!({"role": "assistant", "content": if calls.is_empty() { json!(text) } else { Value::Null }});
        if !tool_calls.is_empty() {
            message["tool_calls"] = json!(tool_calls);
        }
        return axum::Json(json!({"id": id, "object": "chat.completion", "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage_json}))
        .into_response();
    }
    // Streamed: the events, then how the stream ends.
    let chunk = |delta: Value, finish: Value| {
        json!({"id": id, "object": "chat.completion.chunk", "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let mut events = vec![chunk(json!({"role": "assistant", "content": ""}), Value::Null)];
    let chars: Vec<char> = text.chars().collect();
    for piece in chars.chunks(4) {
        events.push(chunk(json!({"content": piece.iter().collect::<String>()}), Value::Null));
    }
    for (i, (name, args)) in calls.iter().enumerate() {
        events.push(chunk(
            json!({"tool_calls": [{"index": i, "id": format!("call_{seen}_{i}"), "type": "function", "function": {"name": name, "arguments": ""}}]}),
            Value::Null,
        ));
        let text: Vec<char> = args.to_string().chars().collect();
        for piece in text.chunks(5) {
            events.push(chunk(
                json!({"tool_calls": [{"index": i, "function": {"arguments": piece.iter().collect::<String>()}}]}),
                Value::Null,
            ));
        }
    }
    if matches!(model.as_str(), "cut" | "drop") {
        events.truncate(events.len() / 2 + 1);
    } else {
        events.push(chunk(json!({}), json!(finish)));
        if usage {
            events.push(json!({"id": id, "object": "chat.completion.chunk", "model": model, "choices": [], "usage": usage_json}));
        }
    }
    let mut frames: Vec<Result<Bytes, std::io::Error>> =
        events.into_iter().map(|e| Ok(Bytes::from(format!("data: {e}\n\n")))).collect();
    match model.as_str() {
        "cut" => {}
        "drop" => frames.push(Err(std::io::Error::other("connection dropped"))),
        _ => frames.push(Ok(Bytes::from_static(b"data: [DONE]\n\n"))),
    }
    let delay = if model == "slow" { Duration::from_millis(40) } else { Duration::ZERO };
    let body = futures_util::stream::iter(frames).then(move |frame| async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        // The events before a break reach the client first (hyper flushes them meanwhile).
        if frame.is_err() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        frame
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(body))
        .unwrap()
}

use futures_util::StreamExt as _;
