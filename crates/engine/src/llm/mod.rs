//! Chat models over OpenAI's `/v1/chat/completions`, which OpenAI, Ollama, LM Studio,
//! llama.cpp's server, Groq, OpenRouter and Mistral all speak. The AI nodes call a model
//! through [`ChatModel`]: the account (a `llm.openaiCompatible` connection) gives the base URL,
//! the key and extra headers, and calls go through the same breakers, rate limits, host
//! rules and error classes as HTTP Request. Answers stream in as server-sent events; a
//! stream that ends without its end marker is an error, never a shorter answer.

pub mod agent;
pub mod schema;
pub mod sse;

use crate::http::{Auth, Read, guarded_send, status_error};
use crate::node::NodeContext;
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use serde_json::{Value as Json, json};
use std::sync::Mutex;
use std::time::Duration;
use switchyard_model::descriptor::CredentialSlot;
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError};

/// The connection type of chat model accounts.
pub const CONNECTION: &str = "llm.openaiCompatible";

/// A credential slot for a chat model account.
pub fn slot(name: &str) -> CredentialSlot {
    CredentialSlot {
        name: name.into(),
        label: "Model account".into(),
        connection_types: vec![CONNECTION.into()],
        required: true,
        url_parameter: None,
        per_entry: None,
    }
}

/// Who says a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text.trim() {
            "system" => Some(Role::System),
            "user" => Some(Role::User),
            "assistant" => Some(Role::Assistant),
            "tool" => Some(Role::Tool),
            _ => None,
        }
    }
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: Role,
    pub content: String,
    /// Tools an assistant message asked for.
    pub tool_calls: Vec<ToolCall>,
    /// For a tool message: the call it answers.
    pub tool_call_id: Option<String>,
}

impl Message {
    pub fn new(role: Role, content: impl Into<String>) -> Message {
        Message { role, content: content.into(), tool_calls: Vec::new(), tool_call_id: None }
    }

    fn wire(&self) -> Json {
        let mut m = json!({"role": self.role.as_str(), "content": self.content});
        if !self.tool_calls.is_empty() {
            m["tool_calls"] = self
                .tool_calls
                .iter()
                .map(
                    |c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}),
                )
                .collect();
        }
        if let Some(id) = &self.tool_call_id {
            m["tool_call_id"] = json!(id);
        }
        m
    }
}

/// A tool the model asked to call; `arguments` is JSON text as the model wrote it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// A tool offered to the model.
#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    pub name: String,
    pub description: String,
    /// A JSON schema of its arguments.
    pub parameters: Json,
}

/// What shape the answer must have.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    Text,
    /// Any JSON object.
    Json,
    /// A JSON value valid for this schema (checked with [`schema::check`]).
    Schema(Json),
}

/// One call of a model.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<Message>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u64>,
    pub seed: Option<i64>,
    pub stop: Vec<String>,
    pub shape: Shape,
    pub tools: Vec<Tool>,
    pub stream: bool,
    pub timeout: Duration,
}

/// A model's answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answer {
    pub content: String,
    pub tool_calls: Vec<ToolCall>,
    /// `stop`, `length` (cut at the token limit), `tool_calls`, …
    pub finish_reason: String,
    /// The model that answered, as the server names it.
    pub model: String,
    pub tokens_in: u32,
    pub tokens_out: u32,
}

/// What one call used, for run events and metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelCall {
    pub model: String,
    /// `connection/label` of the account.
    pub account: String,
    pub tokens_in: u32,
    pub tokens_out: u32,
    pub duration: Duration,
}

/// Which conversation an agent keeps: a node of a workflow, and a session key (a chat id,
/// a user) its parameters computed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MemoryKey {
    pub workflow_id: String,
    pub node_id: String,
    pub session: String,
}

/// Where agents keep conversations between runs (the host's store): the user's prompts and
/// the agent's final answers, oldest first.
pub trait Memory: Send + Sync {
    /// The last `window` messages of the conversation (none for a new one).
    fn recall<'a>(
        &'a self,
        key: &'a MemoryKey,
        window: usize,
    ) -> crate::node::BoxFuture<'a, Result<Vec<(Role, String)>, NodeError>>;

    /// Adds messages to the end of the conversation.
    fn remember<'a>(
        &'a self,
        key: &'a MemoryKey,
        messages: Vec<(Role, String)>,
    ) -> crate::node::BoxFuture<'a, Result<(), NodeError>>;
}

/// What a server turned down once in this node run, so it is not sent again.
#[derive(Debug, Default, Clone, Copy)]
struct Refused {
    response_format: bool,
    stream_options: bool,
}

/// A chat model account, ready to call.
pub struct ChatModel {
    auth: Auth,
    /// The base URL, ending in `/`.
    base: url::Url,
    default_model: String,
    /// `connection/label`.
    pub account: String,
    refused: Mutex<Refused>,
}

impl ChatModel {
    /// The account in credential slot `slot`.
    pub async fn for_slot(ctx: &NodeContext, slot: &str) -> Result<ChatModel, NodeError> {
        let (reference, fields) =
            crate::connect::account_fields(ctx, slot, "model account (a chat model connection)").await?;
        if reference.connection != CONNECTION {
            return Err(NodeError::new(
                ErrorCode::CredentialMissing,
                format!("the account in \"{slot}\" is a {} account; pick a chat model account", reference.connection),
            )
            .with_class(ErrorClass::Permanent));
        }
        let account = format!("{}/{}", reference.connection, fields.scope.account);
        let base_text = format!("{}/", fields.get("baseUrl").trim().trim_end_matches('/'));
        let base = url::Url::parse(&base_text).map_err(|e| {
            NodeError::new(ErrorCode::InvalidParameter, format!("account \"{account}\": base URL \"{base_text}\": {e}"))
                .with_class(ErrorClass::Permanent)
        })?;
        let default_model = fields.get("model").trim().to_string();
        drop(fields);
        let auth = Auth::for_account(ctx, reference).await?;
        Ok(ChatModel { auth, base, default_model, account, refused: Mutex::new(Refused::default()) })
    }

    /// The model to call: the node's, else the account's default; neither is an error
    /// naming the parameter.
    pub fn model_name(&self, asked: &str, parameter: &str) -> Result<String, NodeError> {
        let asked = asked.trim();
        if !asked.is_empty() {
            return Ok(asked.to_string());
        }
        if !self.default_model.is_empty() {
            return Ok(self.default_model.clone());
        }
        Err(NodeError::new(
            ErrorCode::MissingParameter,
            format!("no model: name one here or set a default model on account \"{}\"", self.account),
        )
        .with_parameter(parameter)
        .with_class(ErrorClass::Permanent))
    }

    /// Where the server is, for messages (`127.0.0.1:11434`).
    pub fn host(&self) -> String {
        let host = self.base.host_str().unwrap_or("");
        match self.base.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        }
    }

    /// Calls the model once: `on_text` sees the answer's text as it streams in. A server
    /// that refuses `response_format` (or `stream_options`) is asked again without it, the
    /// schema then given in the system message instead; the answer is validated either way
    /// by the caller.
    pub async fn chat(
        &self,
        ctx: &NodeContext,
        request: &ChatRequest,
        index: usize,
        on_text: &(dyn Fn(&str) + Sync),
    ) -> Result<Answer, NodeError> {
        let url = self.base.join("chat/completions").map_err(|e| {
            NodeError::new(ErrorCode::InvalidParameter, format!("account \"{}\": {e}", self.account))
                .with_class(ErrorClass::Permanent)
        })?;
        let started = tokio::time::Instant::now();
        for _ in 0..3 {
            let refused = *self.refused.lock().unwrap_or_else(|p| p.into_inner());
            let body = wire(request, refused);
            let builder = ctx
                .services
                .http
                .post(url.clone())
                .timeout(request.timeout)
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string());
            let stream = Mutex::new(StreamState::default());
            let sink = |chunk: &[u8]| -> Result<(), NodeError> {
                let mut state = stream.lock().unwrap_or_else(|p| p.into_inner());
                state.received += chunk.len();
                let StreamState { parser, answer, done, .. } = &mut *state;
                let max = ctx.services.items.max_item_bytes;
                let read =
                    parser.feed(chunk, &mut |data: &str| stream_event(data, answer, done, on_text, max, &self.host()));
                // What the server said (an error event, a bad event) is its own error, not a cut.
                state.refused = read.is_err();
                read
            };
            let read = if request.stream { Read::Stream(&sink) } else { Read::Memory };
            let sent = guarded_send(ctx, &self.auth, builder, &url, index, read).await;
            let (status, headers, body) = match sent {
                Ok(answer) => answer,
                Err(e)
                    if e.code == ErrorCode::HttpRequestFailed
                        && stream.lock().is_ok_and(|s| s.received > 0 && !s.refused) =>
                {
                    return Err(self.cut(&stream, &e.message).with_item(index));
                }
                Err(e) => return Err(e),
            };
            let bytes = body.bytes();
            if !status.is_success() {
                let said = server_message(&bytes).to_ascii_lowercase();
                let mut refused = self.refused.lock().unwrap_or_else(|p| p.into_inner());
                if matches!(status.as_u16(), 400 | 422) {
                    if !refused.response_format
                        && request.shape != Shape::Text
                        && (said.contains("response_format") || said.contains("json_schema"))
                    {
                        refused.response_format = true;
                        continue;
                    }
                    if !refused.stream_options && request.stream && said.contains("stream_options") {
                        refused.stream_options = true;
                        continue;
                    }
                }
                return Err(self.status_error(ctx, &url, status, &headers, &bytes, &request.model, index));
            }
            let answer = if request.stream {
                let mut state = stream.into_inner().unwrap_or_else(|p| p.into_inner());
                let StreamState { parser, answer, done, .. } = &mut state;
                let max = ctx.services.items.max_item_bytes;
                parser
                    .finish(&mut |data: &str| stream_event(data, answer, done, on_text, max, &self.host()))
                    .map_err(|e| e.with_item(index))?;
                if !state.done && state.answer.finish_reason.is_empty() {
                    return Err(self.cut_after(state.answer.content.chars().count(), "").with_item(index));
                }
                state.answer
            } else {
                let answer = whole_answer(&bytes, &self.host()).map_err(|e| e.with_item(index))?;
                on_text(&answer.content);
                answer
            };
            let answer =
                Answer { model: if answer.model.is_empty() { request.model.clone() } else { answer.model }, ..answer };
            ctx.report_model_usage(&ModelCall {
                model: answer.model.clone(),
                account: self.account.clone(),
                tokens_in: answer.tokens_in,
                tokens_out: answer.tokens_out,
                duration: started.elapsed(),
            });
            return Ok(answer);
        }
        Err(NodeError::new(
            ErrorCode::HttpRequestFailed,
            format!("model server {} kept refusing the request's options", self.host()),
        )
        .with_class(ErrorClass::Permanent)
        .with_item(index))
    }

    fn cut(&self, stream: &Mutex<StreamState>, why: &str) -> NodeError {
        let chars = stream.lock().map_or(0, |s| s.answer.content.chars().count());
        self.cut_after(chars, why)
    }

    fn cut_after(&self, chars: usize, why: &str) -> NodeError {
        let why = if why.is_empty() { String::new() } else { format!(" ({why})") };
        NodeError::new(
            ErrorCode::StreamCut,
            format!(
                "the answer from model server {} broke off after {chars} characters, before its end{why}; \
                 the partial answer is not used",
                self.host()
            ),
        )
        .with_class(ErrorClass::Network)
    }

    /// A 4xx/5xx answer: its class as for any HTTP call (429 and Retry-After, 5xx
    /// transient), the server's own words, and a context overflow named as such.
    #[allow(clippy::too_many_arguments)]
    fn status_error(
        &self,
        ctx: &NodeContext,
        url: &url::Url,
        status: reqwest::StatusCode,
        headers: &HeaderMap,
        bytes: &[u8],
        model: &str,
        index: usize,
    ) -> NodeError {
        let said = server_message(bytes);
        if matches!(status.as_u16(), 400 | 413 | 422) && is_context_overflow(bytes) {
            return NodeError::new(
                ErrorCode::ContextTooLong,
                format!(
                    "the prompt does not fit the context window of model \"{model}\" on {}: {said}. Shorten the \
                     prompt or the earlier messages, or lower Max tokens",
                    self.host()
                ),
            )
            .with_class(ErrorClass::Permanent)
            .with_item(index);
        }
        let base = status_error(ctx, &reqwest::Method::POST, url, status, headers, bytes, index);
        NodeError {
            message: format!("model server {} answered {status} for model \"{model}\": {said}", self.host()),
            ..base
        }
    }
}

/// The request's JSON as OpenAI's API takes it.
fn wire(request: &ChatRequest, refused: Refused) -> Json {
    let mut messages: Vec<Json> = request.messages.iter().map(Message::wire).collect();
    let mut body = json!({"model": request.model, "stream": request.stream});
    if request.stream && !refused.stream_options {
        body["stream_options"] = json!({"include_usage": true});
    }
    if let Some(t) = request.temperature {
        body["temperature"] = json!(t);
    }
    if let Some(n) = request.max_tokens {
        body["max_tokens"] = json!(n);
    }
    if let Some(seed) = request.seed {
        body["seed"] = json!(seed);
    }
    if !request.stop.is_empty() {
        body["stop"] = json!(request.stop);
    }
    match (&request.shape, refused.response_format) {
        (Shape::Text, _) => {}
        (Shape::Json, false) => body["response_format"] = json!({"type": "json_object"}),
        (Shape::Schema(schema), false) => {
            body["response_format"] = json!({"type": "json_schema", "json_schema": {
                "name": "output", "schema": schema, "strict": is_strict(schema)}});
        }
        // The server takes no response_format: the system message asks for the shape.
        (shape, true) => {
            let wanted = match shape {
                Shape::Schema(schema) => {
                    format!("Answer with one JSON value only, valid for this JSON schema: {schema}")
                }
                _ => "Answer with one JSON object only.".to_string(),
            };
            match messages.first_mut().filter(|m| m["role"] == "system") {
                Some(system) => {
                    let text = format!("{}\n\n{wanted}", system["content"].as_str().unwrap_or(""));
                    system["content"] = json!(text);
                }
                None => messages.insert(0, json!({"role": "system", "content": wanted})),
            }
        }
    }
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}))
            .collect();
    }
    body["messages"] = Json::Array(messages);
    body
}

/// Whether a schema meets OpenAI's strict mode (every object closed, every property
/// required), so the server can enforce it exactly.
fn is_strict(schema: &Json) -> bool {
    match schema {
        Json::Object(o) => {
            let own = match o.get("properties").and_then(Json::as_object) {
                Some(properties) => {
                    let required: Vec<&str> = o
                        .get("required")
                        .and_then(Json::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Json::as_str)
                        .collect();
                    o.get("additionalProperties") == Some(&Json::Bool(false))
                        && properties.keys().all(|k| required.contains(&k.as_str()))
                }
                None => true,
            };
            own && o.iter().all(|(k, v)| match k.as_str() {
                "properties" | "$defs" | "definitions" => v.as_object().is_some_and(|m| m.values().all(is_strict)),
                "items" | "additionalProperties" => is_strict(v),
                "anyOf" => v.as_array().is_some_and(|l| l.iter().all(is_strict)),
                _ => true,
            })
        }
        _ => true,
    }
}

/// A stream being read.
#[derive(Default)]
struct StreamState {
    parser: sse::SseParser,
    answer: Answer,
    done: bool,
    received: usize,
    /// The stream's own content failed it (an error event, an event that is not JSON).
    refused: bool,
}

/// One streamed event: text and tool-call pieces added to the answer, the end noted.
fn stream_event(
    data: &str,
    answer: &mut Answer,
    done: &mut bool,
    on_text: &(dyn Fn(&str) + Sync),
    max_bytes: usize,
    host: &str,
) -> Result<(), NodeError> {
    let data = data.trim();
    if data == "[DONE]" {
        *done = true;
        return Ok(());
    }
    if data.is_empty() {
        return Ok(());
    }
    let event: Json = serde_json::from_str(data).map_err(|e| {
        NodeError::new(
            ErrorCode::HttpRequestFailed,
            format!("model server {host} streamed an event that is not JSON ({e}): {}", snippet(data)),
        )
        .with_class(ErrorClass::Transient)
    })?;
    if let Some(error) = event.get("error") {
        return Err(NodeError::new(
            ErrorCode::HttpRequestFailed,
            format!("model server {host} failed while answering: {}", message_of(error)),
        )
        .with_class(ErrorClass::Transient));
    }
    if let Some(model) = event["model"].as_str() {
        answer.model = model.to_string();
    }
    read_usage(&event["usage"], answer);
    let Some(choice) = event["choices"].get(0) else { return Ok(()) };
    let delta = &choice["delta"];
    if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
        if answer.content.len() + text.len() > max_bytes {
            return Err(too_long(host, max_bytes));
        }
        answer.content.push_str(text);
        on_text(text);
    }
    for call in delta["tool_calls"].as_array().into_iter().flatten() {
        let at = call["index"].as_u64().map_or(answer.tool_calls.len().saturating_sub(1), |i| i as usize);
        if at > 128 {
            return Err(NodeError::new(
                ErrorCode::HttpRequestFailed,
                format!("model server {host} asked for more than 128 tool calls at once"),
            )
            .with_class(ErrorClass::Permanent));
        }
        while answer.tool_calls.len() <= at {
            answer.tool_calls.push(ToolCall::default());
        }
        let target = &mut answer.tool_calls[at];
        if let Some(id) = call["id"].as_str() {
            target.id = id.to_string();
        }
        if let Some(name) = call["function"]["name"].as_str() {
            target.name.push_str(name);
        }
        if let Some(arguments) = call["function"]["arguments"].as_str() {
            if target.arguments.len() + arguments.len() > max_bytes {
                return Err(too_long(host, max_bytes));
            }
            target.arguments.push_str(arguments);
        }
    }
    if let Some(reason) = choice["finish_reason"].as_str() {
        answer.finish_reason = reason.to_string();
    }
    Ok(())
}

fn too_long(host: &str, max_bytes: usize) -> NodeError {
    NodeError::new(
        ErrorCode::ValueTooLarge,
        format!(
            "the answer of model server {host} is longer than the largest item ({} MiB)",
            max_bytes / (1024 * 1024)
        ),
    )
    .with_class(ErrorClass::Permanent)
}

fn read_usage(usage: &Json, answer: &mut Answer) {
    let count = |key: &str| usage[key].as_u64().map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    if let Some(n) = count("prompt_tokens") {
        answer.tokens_in = n;
    }
    if let Some(n) = count("completion_tokens") {
        answer.tokens_out = n;
    }
}

/// A whole (not streamed) answer.
fn whole_answer(bytes: &[u8], host: &str) -> Result<Answer, NodeError> {
    let body: Json = serde_json::from_slice(bytes).map_err(|e| {
        NodeError::new(ErrorCode::HttpRequestFailed, format!("the answer of model server {host} is not JSON: {e}"))
            .with_class(ErrorClass::Transient)
    })?;
    let choice = body["choices"].get(0).ok_or_else(|| {
        NodeError::new(
            ErrorCode::HttpRequestFailed,
            format!("the answer of model server {host} has no choices: {}", snippet(&body.to_string())),
        )
        .with_class(ErrorClass::Transient)
    })?;
    let message = &choice["message"];
    let mut answer = Answer {
        content: message["content"].as_str().unwrap_or("").to_string(),
        finish_reason: choice["finish_reason"].as_str().unwrap_or("stop").to_string(),
        model: body["model"].as_str().unwrap_or("").to_string(),
        ..Answer::default()
    };
    answer.tool_calls = message["tool_calls"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| ToolCall {
            id: c["id"].as_str().unwrap_or("").to_string(),
            name: c["function"]["name"].as_str().unwrap_or("").to_string(),
            arguments: match &c["function"]["arguments"] {
                Json::String(text) => text.clone(),
                other => other.to_string(),
            },
        })
        .collect();
    read_usage(&body["usage"], &mut answer);
    Ok(answer)
}

/// The error text of a server's answer: `error.message`, `error` as text, or the body's start.
fn server_message(bytes: &[u8]) -> String {
    match serde_json::from_slice::<Json>(bytes) {
        Ok(body) if body.get("error").is_some() => message_of(&body["error"]),
        Ok(body) if body["message"].is_string() => snippet(body["message"].as_str().unwrap_or("")),
        _ => snippet(&String::from_utf8_lossy(bytes)),
    }
}

fn message_of(error: &Json) -> String {
    match error {
        Json::String(text) => snippet(text),
        other => snippet(other["message"].as_str().map_or_else(|| other.to_string(), str::to_string).as_str()),
    }
}

/// Whether an error answer says the prompt is too long for the model (OpenAI's
/// `context_length_exceeded`, llama.cpp's `exceed_context_size_error`, others' words).
fn is_context_overflow(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes).to_ascii_lowercase();
    [
        "context_length_exceeded",
        "exceed_context",
        "context length",
        "context window",
        "maximum context",
        "too many tokens",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

fn snippet(text: &str) -> String {
    let text = text.trim();
    if text.chars().count() > 300 {
        format!("{}…", text.chars().take(300).collect::<String>())
    } else {
        text.to_string()
    }
}

/// Shows a model's answer on the canvas while it streams: pieces are sent on at most every
/// 50 ms (or every 512 bytes), not once per token.
pub struct Streamer<'a> {
    ctx: &'a NodeContext,
    item: usize,
    pending: Mutex<(String, Option<tokio::time::Instant>)>,
}

impl<'a> Streamer<'a> {
    const EVERY: Duration = Duration::from_millis(50);
    const BYTES: usize = 512;

    /// Starts (or starts over) item `item`'s answer.
    pub fn start(ctx: &'a NodeContext, item: usize) -> Streamer<'a> {
        ctx.report_streamed(item, "", true);
        Streamer { ctx, item, pending: Mutex::new((String::new(), None)) }
    }

    pub fn push(&self, text: &str) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.0.push_str(text);
        let now = tokio::time::Instant::now();
        let due =
            pending.1.is_none_or(|last| now.duration_since(last) >= Self::EVERY) || pending.0.len() >= Self::BYTES;
        if due {
            self.ctx.report_streamed(self.item, &pending.0, false);
            pending.0.clear();
            pending.1 = Some(now);
        }
    }

    /// Sends what is left.
    pub fn flush(&self) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if !pending.0.is_empty() {
            self.ctx.report_streamed(self.item, &pending.0, false);
            pending.0.clear();
        }
    }
}

/// The answer's JSON when the node asked for JSON: parsed and validated, or an
/// `invalid_output` error saying what is wrong (and that a retry may help).
pub fn shaped(shape: &Shape, answer: &Answer, model: &str) -> Result<Option<serde_json::Value>, NodeError> {
    let invalid = |why: String| {
        let cut = if answer.finish_reason == "length" { " (the answer was cut off at Max tokens)" } else { "" };
        NodeError::new(ErrorCode::InvalidOutput, format!("model \"{model}\" answered in the wrong shape{cut}: {why}"))
            .with_class(ErrorClass::InvalidOutput)
            .with_details(serde_json::json!({ "answer": answer.content.chars().take(2000).collect::<String>() }))
    };
    match shape {
        Shape::Text => Ok(None),
        Shape::Json => {
            let value = answer_json(&answer.content).map_err(invalid)?;
            if !value.is_object() {
                return Err(invalid(format!(
                    "expected a JSON object, got {}",
                    crate::node::describe(&switchyard_model::value::Value::from(&value))
                )));
            }
            Ok(Some(value))
        }
        Shape::Schema(s) => {
            let value = answer_json(&answer.content).map_err(invalid)?;
            schema::validate(s, &value).map_err(|m| invalid(format!("the answer does not match the schema: {m}")))?;
            Ok(Some(value))
        }
    }
}

/// The JSON in a model's answer: the whole text, or the inside of a ```json fence around it.
pub fn answer_json(content: &str) -> Result<Json, String> {
    let text = content.trim();
    let inner = text
        .strip_prefix("```json")
        .or_else(|| text.strip_prefix("```"))
        .and_then(|t| t.trim_end().strip_suffix("```"))
        .unwrap_or(text);
    serde_json::from_str(inner.trim()).map_err(|e| {
        format!("the answer is not JSON ({e}); it starts: {}", snippet(&text.chars().take(120).collect::<String>()))
    })
}

/// An item's fields as an object to add an answer to (a value that is not an object goes
/// under `data`).
pub fn answer_object(json: switchyard_model::value::Value) -> switchyard_model::value::Object {
    match json {
        switchyard_model::value::Value::Object(o) => o,
        other => [("data", other)].into_iter().collect(),
    }
}

/// The field the node puts its answer in (`answerField`, `answer` when empty).
pub fn answer_field(ctx: &NodeContext) -> String {
    match ctx.raw_param("answerField").as_str().map(str::trim) {
        Some(field) if !field.is_empty() => field.to_string(),
        _ => "answer".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_only_when_every_object_is_closed_and_fully_required() {
        let closed = json!({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"], "additionalProperties": false});
        assert!(is_strict(&closed));
        let open = json!({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]});
        assert!(!is_strict(&open));
        let nested =
            json!({"type": "object", "properties": {"x": open}, "required": ["x"], "additionalProperties": false});
        assert!(!is_strict(&nested));
    }

    #[test]
    fn json_answers_may_come_fenced() {
        assert_eq!(answer_json("```json\n{\"a\": 1}\n```").unwrap(), json!({"a": 1}));
        assert_eq!(answer_json(" {\"a\": 1} ").unwrap(), json!({"a": 1}));
        assert!(answer_json("Sure! {\"a\": 1}").unwrap_err().starts_with("the answer is not JSON"));
    }

    #[test]
    fn context_overflows_are_recognised_in_each_servers_words() {
        for body in [
            r#"{"error":{"message":"This model's maximum context length is 8192 tokens","code":"context_length_exceeded"}}"#,
            r#"{"error":{"code":400,"message":"the request exceeds the available context size","type":"exceed_context_size_error"}}"#,
        ] {
            assert!(is_context_overflow(body.as_bytes()), "{body}");
        }
        assert!(!is_context_overflow(br#"{"error":{"message":"model not found"}}"#));
    }
}
