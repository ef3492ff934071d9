//! The tool-calling loop the agent nodes share (AI Agent, and each agent of AI Orchestrate):
//! the model is asked, the tools it calls run (saved workflows started at their "When called
//! by another workflow" trigger, whose declared input fields are the tool's JSON schema, and
//! HTTP requests whose arguments fill the URL's expressions and a POST's body), their results
//! go back to it, until it answers without a tool call — within a step limit and an optional
//! token budget. Every turn and tool call is a run event (the live transcript).

use crate::access::{Access, AccessKind, is_workflow_id};
use crate::http::{Auth, Read, guarded_send};
use crate::llm::{Answer, ChatModel, ChatRequest, Message, Role, Streamer, Tool, ToolCall, shaped};
use crate::node::NodeContext;
use crate::registry::CheckContext;
use crate::subflow::{Callable, Caller, ChildCall, Target, check_arguments, child_failed, json_schema};
use serde_json::{Value as Json, json};
use std::sync::Arc;
use std::time::Duration;
use switchyard_model::descriptor::{CredentialSlot, ParamSpec};
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError, ValidationIssue};
use switchyard_model::events::{AgentEntry, AgentRole};
use switchyard_model::execution::RunStatus;
use switchyard_model::item::Item;
use switchyard_model::value::Value;
use switchyard_model::workflow::Node;

/// The parameter holding the tools.
pub const TOOLS: &str = "tools";
/// The credential slot of the HTTP account HTTP tools may send with.
pub const TOOL_AUTH: &str = "toolAuth";

/// The slot of the HTTP account HTTP tools may send with.
pub fn tool_auth_slot() -> CredentialSlot {
    CredentialSlot {
        name: TOOL_AUTH.into(),
        label: "HTTP account for tools".into(),
        connection_types: vec![],
        required: false,
        url_parameter: None,
        per_entry: None,
    }
}

/// The longest tool result handed to the model (characters); longer ones are cut, saying so.
const MAX_RESULT_CHARS: usize = 16_000;

/// The tools list parameter (the same in every agent node).
pub fn tools_parameter() -> ParamSpec {
    ParamSpec::list(
        TOOLS,
        "Tools",
        "Add tool",
        vec![
            ParamSpec::options("type", "Tool", &[("workflow", "A saved workflow"), ("http", "An HTTP request")], "workflow"),
            ParamSpec::workflow("workflowId", "Workflow")
                .describe(
                    "It starts at its \"When called by another workflow\" trigger; its input fields are the tool's arguments.",
                )
                .show_if("type", &["workflow"]),
            ParamSpec::string("name", "Name")
                .literal()
                .placeholder("lookup_order")
                .describe("The tool's name for the model (letters, digits, _ and -); empty: made from the workflow's name."),
            ParamSpec::string("description", "What it does")
                .literal()
                .rows(2)
                .describe("Tells the model when to use it; empty: the workflow's description."),
            ParamSpec::options("method", "Method", &[("GET", "GET"), ("POST", "POST")], "GET").show_if("type", &["http"]),
            ParamSpec::string("url", "URL")
                .placeholder("https://api.example.com/weather?city={{ json.city }}")
                .describe("{{ json.<argument> }} is the model's argument. A POST sends the arguments as its JSON body.")
                .show_if("type", &["http"]),
            ParamSpec::json_schema("parameters", "Arguments")
                .default_value(json!({"type": "object", "properties": {}, "required": []}))
                .describe("A JSON schema of the arguments the model must give; they are checked before the request.")
                .show_if("type", &["http"]),
            ParamSpec::boolean("authenticate", "Send with the node's HTTP account", false).show_if("type", &["http"]),
        ],
    )
}

/// The tool entries as written.
fn tool_entries(node: &Node) -> Vec<Json> {
    node.parameters.get(TOOLS).and_then(|v| v.as_array()).cloned().unwrap_or_default()
}

fn text<'a>(entry: &'a Json, key: &str) -> &'a str {
    entry.get(key).and_then(|v| v.as_str()).map(str::trim).unwrap_or("")
}

fn is_http(entry: &Json) -> bool {
    text(entry, "type") == "http"
}

/// The saved workflows a node's tools call.
pub fn tool_access(node: &Node) -> Vec<Access> {
    tool_entries(node)
        .iter()
        .filter(|e| !is_http(e) && !text(e, "workflowId").is_empty())
        .map(|e| Access { kind: AccessKind::Call, pattern: text(e, "workflowId").to_string() })
        .collect()
}

/// A tool name the model's API takes: letters, digits, `_` and `-`, at most 64.
pub fn valid_tool_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A tool name made from a workflow's name: `Look up order` → `look_up_order`.
fn tool_name_of(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out: String = out.trim_matches('_').chars().take(64).collect();
    if out.is_empty() { "workflow".into() } else { out }
}

/// What is wrong with a node's tools list, before it runs.
pub fn check_tools(node: &Node, cx: &CheckContext<'_>) -> Vec<ValidationIssue> {
    let mut issues = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for (i, entry) in tool_entries(node).iter().enumerate() {
        let name = text(entry, "name");
        if !name.is_empty() {
            if !valid_tool_name(name) {
                issues.push(cx.parameter_issue(format!(
                    "tools[{i}].name: \"{name}\" is not a tool name (letters, digits, _ and -, at most 64)"
                )));
            } else if names.iter().any(|n| n == name) {
                issues.push(cx.parameter_issue(format!("tools[{i}].name: another tool is already called \"{name}\"")));
            }
            names.push(name.to_string());
        }
        if is_http(entry) {
            if text(entry, "url").is_empty() {
                issues.push(cx.parameter_issue(format!("tools[{i}].url: an HTTP tool needs a URL")));
            }
            if name.is_empty() {
                issues.push(cx.parameter_issue(format!("tools[{i}].name: an HTTP tool needs a name")));
            }
        } else {
            let id = text(entry, "workflowId");
            if id.is_empty() {
                issues.push(cx.parameter_issue(format!("tools[{i}].workflowId: choose the workflow the tool runs")));
            } else if !is_workflow_id(id) {
                issues.push(cx.parameter_issue(format!("tools[{i}].workflowId: \"{id}\" is not a workflow id")));
            } else if id == cx.workflow.id {
                issues.push(
                    cx.parameter_issue(format!("tools[{i}].workflowId: a workflow cannot be its own agent's tool")),
                );
            }
        }
    }
    issues
}

/// A tool ready to offer.
enum ToolKind {
    Workflow(Arc<Callable>),
    Http { method: reqwest::Method, url: Arc<crate::expr::Compiled>, schema: Json, authenticate: bool },
}

struct AgentTool {
    spec: Tool,
    kind: ToolKind,
}

/// A node's tools, loaded once per node run.
pub struct Tools {
    tools: Vec<AgentTool>,
    caller: Caller,
    auth: Option<Auth>,
    timeout: Duration,
}

impl Tools {
    /// Loads the node's `tools` (the workflows they call, checked against the run's local
    /// access); HTTP tools that authenticate send with the account in [`TOOL_AUTH`]; each
    /// call may take `timeout` at most.
    pub async fn prepare(ctx: &NodeContext, timeout: Duration) -> Result<Tools, NodeError> {
        let caller = Caller::of(ctx);
        let mut tools = Vec::new();
        let entries = ctx.raw_param(TOOLS).as_array().cloned().unwrap_or_default();
        for (i, entry) in entries.iter().enumerate() {
            let at = |name: &str| format!("tools[{i}].{name}");
            let given_name = text(entry, "name").to_string();
            if is_http(entry) {
                let method = if text(entry, "method") == "POST" { reqwest::Method::POST } else { reqwest::Method::GET };
                let url = ctx
                    .evaluator()
                    .compile(&Json::from(text(entry, "url")))
                    .map_err(|e| NodeError::new(ErrorCode::InvalidExpression, e.message).with_parameter(at("url")))?;
                let schema = entry.get("parameters").cloned().unwrap_or_else(|| json!({"type": "object"}));
                crate::llm::schema::check(&schema)
                    .map_err(|m| NodeError::new(ErrorCode::InvalidParameter, m).with_parameter(at("parameters")))?;
                let description = match text(entry, "description") {
                    "" => format!("{method} {}", text(entry, "url")),
                    d => d.to_string(),
                };
                tools.push(AgentTool {
                    spec: Tool { name: given_name, description, parameters: schema.clone() },
                    kind: ToolKind::Http {
                        method,
                        url: Arc::new(url),
                        schema,
                        authenticate: entry.get("authenticate").and_then(Json::as_bool).unwrap_or(false),
                    },
                });
                continue;
            }
            let id = text(entry, "workflowId").to_string();
            if id.is_empty() {
                return Err(NodeError::new(ErrorCode::InvalidParameter, "choose the workflow the tool runs")
                    .with_parameter(at("workflowId")));
            }
            ctx.services.local.check(AccessKind::Call, &id)?;
            let host = ctx.services.subflows.clone().ok_or_else(|| {
                NodeError::new(ErrorCode::Internal, "this run cannot call workflows (its host loads none)")
                    .with_class(ErrorClass::Permanent)
            })?;
            let callable =
                host.load(&Target::Saved(id), &caller).await.map_err(|e| e.with_parameter(at("workflowId")))?;
            let workflow = callable.workflow();
            let name = if given_name.is_empty() { tool_name_of(&workflow.name) } else { given_name };
            let description = match (text(entry, "description"), workflow.description.trim()) {
                ("", "") => format!("Runs the workflow \"{}\".", workflow.name),
                ("", d) => d.to_string(),
                (d, _) => d.to_string(),
            };
            let parameters = json_schema(&callable.inputs);
            tools.push(AgentTool {
                spec: Tool { name, description, parameters },
                kind: ToolKind::Workflow(Arc::new(callable)),
            });
        }
        for (i, tool) in tools.iter().enumerate() {
            if tools[..i].iter().any(|t| t.spec.name == tool.spec.name) {
                return Err(NodeError::new(
                    ErrorCode::InvalidParameter,
                    format!("two tools are called \"{}\": give one another name", tool.spec.name),
                )
                .with_parameter(format!("tools[{i}].name")));
            }
        }
        let auth = match ctx.node.credentials.get(TOOL_AUTH).cloned() {
            Some(reference) if tools.iter().any(|t| matches!(t.kind, ToolKind::Http { authenticate: true, .. })) => {
                Some(Auth::for_account(ctx, reference).await?)
            }
            _ => None,
        };
        Ok(Tools { tools, caller, auth, timeout })
    }

    /// The tools' names, in order.
    pub fn names(&self) -> Vec<&str> {
        self.tools.iter().map(|t| t.spec.name.as_str()).collect()
    }

    /// What the model is offered: all tools, or those named.
    pub fn offered(&self, only: Option<&[String]>) -> Vec<Tool> {
        self.tools
            .iter()
            .filter(|t| only.is_none_or(|names| names.contains(&t.spec.name)))
            .map(|t| t.spec.clone())
            .collect()
    }
}

/// How long a conversation may go on.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_steps: u32,
    pub token_budget: Option<u64>,
}

/// A finished conversation.
#[derive(Debug, Clone)]
pub struct Conversed {
    /// The last answer (no tool calls in it).
    pub answer: Answer,
    /// Its JSON, when the request asked for JSON (validated).
    pub value: Option<Json>,
    pub transcript: Vec<AgentEntry>,
    /// Tokens in and out across all turns.
    pub tokens_in: u64,
    pub tokens_out: u64,
}

/// Who is talking, for the transcript and the canvas.
#[derive(Clone, Copy)]
pub struct Speaker<'a> {
    pub index: usize,
    /// The orchestration's agent, if any.
    pub agent: Option<&'a str>,
    /// Stream the answers' text onto the node (only one speaker per item may).
    pub stream: bool,
}

impl Speaker<'_> {
    fn entry(&self, role: AgentRole, content: String) -> AgentEntry {
        AgentEntry { role, content, tool: None, arguments: None, error: false, agent: self.agent.map(str::to_string) }
    }
}

/// Runs the conversation `request` starts (its last message is the prompt): turns until the
/// model answers without a tool call. An answer in the wrong shape is retried by the item's
/// retry policy like a failed call.
pub async fn converse(
    ctx: &NodeContext,
    tools: &Tools,
    mut request: ChatRequest,
    limits: Limits,
    model: &ChatModel,
    speaker: Speaker<'_>,
) -> Result<Conversed, NodeError> {
    let index = speaker.index;
    let prompt = request.messages.last().map(|m| m.content.clone()).unwrap_or_default();
    let mut transcript = vec![speaker.entry(AgentRole::User, prompt)];
    ctx.report_agent_step(index, 0, &transcript[0]);
    let (mut tokens_in, mut tokens_out) = (0u64, 0u64);
    let mut calls_made: Vec<String> = Vec::new();
    let failed = |error: NodeError, transcript: &[AgentEntry]| {
        let mut details = error.details.clone().unwrap_or_else(|| json!({}));
        if let Some(object) = details.as_object_mut() {
            object.insert("transcript".into(), json!(transcript));
        }
        error.with_item(index).with_details(details)
    };
    for step in 1..=limits.max_steps {
        ctx.check_cancelled()?;
        let request_now = &request;
        let answered = ctx
            .retry_item(index, || async move {
                let answer = if speaker.stream {
                    let streamer = Streamer::start(ctx, index);
                    let answer = model.chat(ctx, request_now, index, &|text| streamer.push(text)).await;
                    streamer.flush();
                    answer?
                } else {
                    model.chat(ctx, request_now, index, &|_| {}).await?
                };
                // The shape matters for the final answer only, not for turns that call tools.
                let value = if answer.tool_calls.is_empty() {
                    shaped(&request_now.shape, &answer, &request_now.model).map_err(|e| e.with_item(index))?
                } else {
                    None
                };
                Ok((answer, value))
            })
            .await;
        let (answer, value) = answered.map_err(|e| failed(e, &transcript))?;
        tokens_in += u64::from(answer.tokens_in);
        tokens_out += u64::from(answer.tokens_out);
        if !answer.content.trim().is_empty() {
            let entry = speaker.entry(AgentRole::Assistant, answer.content.clone());
            ctx.report_agent_step(index, step, &entry);
            transcript.push(entry);
        }
        if let Some(budget) = limits.token_budget
            && tokens_in + tokens_out > budget
        {
            let error = NodeError::new(
                ErrorCode::TokenBudget,
                format!(
                    "the agent used {} tokens in {step} turns, more than its budget of {budget}",
                    tokens_in + tokens_out
                ),
            )
            .with_class(ErrorClass::Permanent);
            return Err(failed(error, &transcript));
        }
        if answer.tool_calls.is_empty() {
            return Ok(Conversed { answer, value, transcript, tokens_in, tokens_out });
        }
        let calls: Vec<ToolCall> = answer
            .tool_calls
            .iter()
            .enumerate()
            .map(|(i, c)| ToolCall {
                id: if c.id.is_empty() { format!("call_{step}_{i}") } else { c.id.clone() },
                ..c.clone()
            })
            .collect();
        request.messages.push(Message {
            role: Role::Assistant,
            content: answer.content.clone(),
            tool_calls: calls.clone(),
            tool_call_id: None,
        });
        for call in calls {
            let entry = AgentEntry {
                tool: Some(call.name.clone()),
                arguments: Some(call.arguments.clone()),
                ..speaker.entry(AgentRole::Call, String::new())
            };
            ctx.report_agent_step(index, step, &entry);
            transcript.push(entry);
            calls_made.push(call.name.clone());
            let offered = request.tools.iter().any(|t| t.name == call.name);
            let (content, error) = match use_tool(ctx, tools, offered, &call, index).await {
                Ok(content) => (content, false),
                Err(problem) => (problem, true),
            };
            let entry = AgentEntry {
                tool: Some(call.name.clone()),
                error,
                ..speaker.entry(AgentRole::Result, content.clone())
            };
            ctx.report_agent_step(index, step, &entry);
            transcript.push(entry);
            let content = if error { json!({"error": content}).to_string() } else { content };
            request.messages.push(Message {
                role: Role::Tool,
                content,
                tool_calls: Vec::new(),
                tool_call_id: Some(call.id.clone()),
            });
        }
    }
    let error = NodeError::new(
        ErrorCode::StepLimit,
        format!(
            "the agent did not answer within {} steps; it kept calling tools ({})",
            limits.max_steps,
            summary(&calls_made)
        ),
    )
    .with_class(ErrorClass::Permanent);
    Err(failed(error, &transcript))
}

/// `lookup ×3, weather` for messages.
fn summary(calls: &[String]) -> String {
    let mut counted: Vec<(&str, usize)> = Vec::new();
    for call in calls {
        match counted.iter_mut().find(|(n, _)| *n == call) {
            Some((_, n)) => *n += 1,
            None => counted.push((call, 1)),
        }
    }
    counted.iter().map(|(n, c)| if *c > 1 { format!("{n} ×{c}") } else { n.to_string() }).collect::<Vec<_>>().join(", ")
}

/// Runs one tool call; the error text (bad arguments, a failure, a timeout) goes back to the
/// model, which may try again differently. Tools not offered to this speaker are refused.
async fn use_tool(
    ctx: &NodeContext,
    tools: &Tools,
    offered: bool,
    call: &ToolCall,
    index: usize,
) -> Result<String, String> {
    let tool = tools.tools.iter().find(|t| t.spec.name == call.name).filter(|_| offered);
    let Some(tool) = tool else {
        return Err(format!("there is no tool \"{}\" here", call.name));
    };
    let arguments: Json = if call.arguments.trim().is_empty() {
        json!({})
    } else {
        serde_json::from_str(&call.arguments).map_err(|e| format!("the arguments are not JSON: {e}"))?
    };
    let run = async {
        match &tool.kind {
            ToolKind::Workflow(callable) => workflow_tool(ctx, tools, callable, arguments).await,
            ToolKind::Http { method, url, schema, authenticate } => {
                crate::llm::schema::validate(schema, &arguments).map_err(|m| format!("invalid arguments: {m}"))?;
                http_tool(ctx, tools, method, url, arguments, *authenticate, index).await
            }
        }
    };
    match tokio::time::timeout(tools.timeout, run).await {
        Ok(result) => result.map(|text| cut(&text)),
        Err(_) => Err(format!("the tool did not finish within {} s", tools.timeout.as_secs_f64())),
    }
}

fn cut(text: &str) -> String {
    if text.chars().count() <= MAX_RESULT_CHARS {
        return text.to_string();
    }
    let kept: String = text.chars().take(MAX_RESULT_CHARS).collect();
    format!("{kept}… (cut: the result is {} characters long)", text.chars().count())
}

async fn workflow_tool(
    ctx: &NodeContext,
    tools: &Tools,
    callable: &Arc<Callable>,
    arguments: Json,
) -> Result<String, String> {
    let value = Value::from(arguments);
    check_arguments(&callable.inputs, &value).map_err(|m| format!("invalid arguments: {m}"))?;
    if tools.caller.depth >= ctx.services.max_call_depth {
        return Err(crate::subflow::depth_error(ctx.services.max_call_depth, &tools.caller).message);
    }
    let host = ctx.services.subflows.clone().ok_or("this run cannot call workflows")?;
    let cancel = ctx.cancel.child_token();
    // A timed-out call is stopped: the guard cancels it when this future is dropped.
    let _stop = cancel.clone().drop_guard();
    let call = ChildCall {
        callable: callable.clone(),
        input: vec![Item::new(value)],
        caller: tools.caller.clone(),
        wait: true,
        cancel,
    };
    let outcome = host.run(call).await.map_err(|e| e.message)?;
    if outcome.status != RunStatus::Success {
        return Err(child_failed(callable.workflow(), &outcome).message);
    }
    let results: Vec<Json> = outcome.items.iter().map(|i| Json::from(&i.json)).collect();
    Ok(match results.as_slice() {
        [one] => one.to_string(),
        _ => Json::Array(results).to_string(),
    })
}

#[allow(clippy::too_many_arguments)]
async fn http_tool(
    ctx: &NodeContext,
    tools: &Tools,
    method: &reqwest::Method,
    url: &crate::expr::Compiled,
    arguments: Json,
    authenticate: bool,
    index: usize,
) -> Result<String, String> {
    let item = Item::new(Value::from(arguments.clone()));
    let text = ctx.evaluator().eval(url, &item, 0).map_err(|e| format!("the URL: {}", e.message))?.to_text();
    let parsed = url::Url::parse(text.trim()).map_err(|e| format!("\"{text}\" is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("only http and https URLs are supported, got \"{}\"", parsed.scheme()));
    }
    let mut builder = ctx.services.http.request(method.clone(), parsed.clone()).timeout(tools.timeout);
    if *method == reqwest::Method::POST {
        builder = builder.header(reqwest::header::CONTENT_TYPE, "application/json").body(arguments.to_string());
    }
    let none = Auth::none();
    let auth = match (&tools.auth, authenticate) {
        (Some(auth), true) => auth,
        (None, true) => return Err("this tool sends with the node's HTTP account, but none is chosen".into()),
        _ => &none,
    };
    let (status, _, body) =
        guarded_send(ctx, auth, builder, &parsed, index, Read::Memory).await.map_err(|e| e.message)?;
    let body = String::from_utf8_lossy(&body.bytes()).into_owned();
    let shown = switchyard_model::redact::redact_urls(parsed.as_str());
    if !status.is_success() {
        return Err(format!("{method} {shown} answered {status}: {}", body.chars().take(500).collect::<String>()));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_come_from_workflow_names() {
        assert_eq!(tool_name_of("Look up order #42"), "look_up_order_42");
        assert_eq!(tool_name_of("  ***  "), "workflow");
        assert!(valid_tool_name("lookup_order-2"));
        assert!(!valid_tool_name("look up"));
        assert_eq!(summary(&["a".into(), "b".into(), "a".into()]), "a ×2, b");
    }
}
