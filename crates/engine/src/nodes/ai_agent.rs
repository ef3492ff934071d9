//! AI Agent: a model that may call tools before it answers. Tools are saved workflows
//! (started at their "When called by another workflow" trigger; their declared input fields
//! are the tool's JSON schema, checked before the call) and HTTP requests (the model's
//! arguments fill the URL's expressions and a POST's body). The loop runs until the model
//! answers without asking for a tool, within a step limit and an optional token budget;
//! every turn and tool call is a run event (the live transcript), and the final answer and
//! the transcript are the output. With a conversation key, the conversation is kept between
//! runs (the last N messages), so a chat driven by webhooks keeps its context.

use crate::access::{Access, AccessKind, is_workflow_id};
use crate::http::{Auth, Read, guarded_send};
use crate::llm::{Answer, ChatModel, ChatRequest, Memory, MemoryKey, Message, Role, Shape, Streamer, Tool, ToolCall};
use crate::node::{NodeContext, NodeResult};
use crate::nodes::ai_chat::{Settings, model_parameters, prompt_of};
use crate::registry::{CheckContext, NodeEntry};
use crate::subflow::{Callable, Caller, ChildCall, Target, check_arguments, child_failed, json_schema};
use serde_json::{Value as Json, json};
use std::sync::Arc;
use std::time::Duration;
use switchyard_model::descriptor::{CredentialSlot, NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError, ValidationIssue};
use switchyard_model::events::{AgentEntry, AgentRole};
use switchyard_model::execution::RunStatus;
use switchyard_model::item::{Item, Paired};
use switchyard_model::value::{Object, Value};
use switchyard_model::workflow::Node;

pub const TYPE: &str = "ai.agent";

/// The credential slot of the model account.
pub const SLOT: &str = "model";
/// The credential slot of the HTTP account HTTP tools may send with.
pub const TOOL_AUTH: &str = "toolAuth";

/// The longest tool result handed to the model (characters); longer ones are cut, saying so.
const MAX_RESULT_CHARS: usize = 16_000;

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx))).with_check(check).with_access(access)
}

pub fn descriptor() -> NodeDescriptor {
    let mut params = vec![
        ParamSpec::string("systemPrompt", "System prompt")
            .rows(3)
            .placeholder("You answer questions about orders. Use the tools to look them up.")
            .describe("How the agent should behave and when to use which tool; may use the item's fields."),
        ParamSpec::string("prompt", "Prompt").required().rows(4).placeholder("{{ json.question }}"),
        ParamSpec::list(
            "tools",
            "Tools",
            "Add tool",
            vec![
                ParamSpec::options(
                    "type",
                    "Tool",
                    &[("workflow", "A saved workflow"), ("http", "An HTTP request")],
                    "workflow",
                ),
                ParamSpec::workflow("workflowId", "Workflow")
                    .describe("It starts at its \"When called by another workflow\" trigger; its input fields are the tool's arguments.")
                    .show_if("type", &["workflow"]),
                ParamSpec::string("name", "Name")
                    .literal()
                    .placeholder("lookup_order")
                    .describe("The tool's name for the model (letters, digits, _ and -); empty: made from the workflow's name."),
                ParamSpec::string("description", "What it does")
                    .literal()
                    .rows(2)
                    .describe("Tells the model when to use it; empty: the workflow's description."),
                ParamSpec::options("method", "Method", &[("GET", "GET"), ("POST", "POST")], "GET")
                    .show_if("type", &["http"]),
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
        .describe("What the agent may use. Without tools it answers like AI Chat."),
        ParamSpec::integer("maxSteps", "Step limit", Some(1.0), Some(100.0))
            .default_value(10)
            .describe("Model turns at most; an agent still calling tools then fails (it does not loop forever)."),
        ParamSpec::integer("tokenBudget", "Token budget", Some(1.0), None)
            .describe("Tokens in and out across all its turns at most; empty: no budget."),
        ParamSpec::number("toolTimeout", "Tool timeout (seconds)").default_value(60),
        ParamSpec::string("sessionKey", "Conversation key").placeholder("{{ json.chatId }}").describe(
            "Keeps the conversation between runs under this key (e.g. a chat id from a webhook); empty: every run starts afresh.",
        ),
        ParamSpec::integer("memoryWindow", "Messages remembered", Some(1.0), Some(1000.0))
            .default_value(20)
            .describe("How many earlier messages of the conversation go to the model."),
        ParamSpec::string("answerField", "Put the answer in").default_value("answer").literal(),
        ParamSpec::boolean("transcript", "Add the transcript", true)
            .describe("Adds transcript: the model's turns, tool calls and results."),
    ];
    params.splice(2..2, model_parameters());
    let mut d = super::descriptor(
        TYPE,
        "AI Agent",
        "A chat model that calls tools (saved workflows, HTTP requests) until it can answer; every turn and tool \
         call shows on the canvas. The answer and the transcript are added to the item.",
        NodeGroup::Action,
        "sparkles",
        vec![Port::main()],
        params,
    );
    d.per_item_calls = true;
    d.credentials = vec![
        crate::llm::slot(SLOT),
        CredentialSlot {
            name: TOOL_AUTH.into(),
            label: "HTTP account for tools".into(),
            connection_types: vec![],
            required: false,
            url_parameter: None,
        },
    ];
    d
}

/// The tool entries as written.
fn tool_entries(node: &Node) -> Vec<Json> {
    node.parameters.get("tools").and_then(|v| v.as_array()).cloned().unwrap_or_default()
}

fn text<'a>(entry: &'a Json, key: &str) -> &'a str {
    entry.get(key).and_then(|v| v.as_str()).map(str::trim).unwrap_or("")
}

fn is_http(entry: &Json) -> bool {
    text(entry, "type") == "http"
}

/// The saved workflows its tools call.
fn access(node: &Node) -> Vec<Access> {
    tool_entries(node)
        .iter()
        .filter(|e| !is_http(e) && !text(e, "workflowId").is_empty())
        .map(|e| Access { kind: AccessKind::Call, pattern: text(e, "workflowId").to_string() })
        .collect()
}

/// A tool name the model's API takes: letters, digits, `_` and `-`, at most 64.
fn valid_tool_name(name: &str) -> bool {
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

fn check(node: &Node, cx: &CheckContext<'_>) -> Vec<ValidationIssue> {
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

/// Everything the loop needs, read once per node run.
struct Agent {
    model: ChatModel,
    settings: Settings,
    tools: Vec<AgentTool>,
    caller: Caller,
    tool_auth: Option<Auth>,
    max_steps: u32,
    token_budget: Option<u64>,
    tool_timeout: Duration,
    memory_window: usize,
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let agent = prepare(ctx).await?;
    let items = ctx.take_input(0).into_vec();
    let ctx: &NodeContext = ctx;
    let agent = &agent;
    ctx.each_item(items, |index, item| async move {
        let result = run_item(ctx, agent, &item, index)
            .await
            .map(|(answer, transcript)| vec![merged(ctx, item.clone(), index, answer, transcript)]);
        (item, result)
    })
    .await
}

async fn prepare(ctx: &NodeContext) -> Result<Agent, NodeError> {
    let model = ChatModel::for_slot(ctx, SLOT).await?;
    let settings = Settings::read(ctx)?;
    let caller = Caller::of(ctx);
    let mut tools = Vec::new();
    let entries = ctx.raw_param("tools").as_array().cloned().unwrap_or_default();
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
        let callable = host.load(&Target::Saved(id), &caller).await.map_err(|e| e.with_parameter(at("workflowId")))?;
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
    let tool_auth = match ctx.node.credentials.get(TOOL_AUTH).cloned() {
        Some(reference) if tools.iter().any(|t| matches!(t.kind, ToolKind::Http { authenticate: true, .. })) => {
            Some(Auth::for_account(ctx, reference).await?)
        }
        _ => None,
    };
    let timeout = ctx.raw_param("toolTimeout").as_f64().unwrap_or(60.0);
    if !(timeout > 0.0 && timeout.is_finite()) {
        return Err(NodeError::new(ErrorCode::InvalidParameter, "the tool timeout must be above 0 seconds")
            .with_parameter("toolTimeout"));
    }
    Ok(Agent {
        model,
        settings,
        tools,
        caller,
        tool_auth,
        max_steps: ctx.raw_param("maxSteps").as_u64().unwrap_or(10).clamp(1, 100) as u32,
        token_budget: ctx.raw_param("tokenBudget").as_u64(),
        tool_timeout: Duration::from_secs_f64(timeout),
        memory_window: ctx.raw_param("memoryWindow").as_u64().unwrap_or(20).clamp(1, 1000) as usize,
    })
}

/// Where an item's conversation is kept, and under which key.
type Kept = (Arc<dyn Memory>, MemoryKey);

/// The conversation's memory and key, when the item has a conversation key.
fn memory_of(ctx: &NodeContext, item: &Item, index: usize) -> Result<Option<Kept>, NodeError> {
    let session = ctx.str_param("sessionKey", item, index)?;
    if session.trim().is_empty() {
        return Ok(None);
    }
    let memory = ctx.services.memory.clone().ok_or_else(|| {
        NodeError::new(
            ErrorCode::InvalidParameter,
            "this run has nowhere to keep conversations (it runs without the app's store): leave the conversation key empty",
        )
        .with_parameter("sessionKey")
        .with_class(ErrorClass::Permanent)
    })?;
    let env = ctx.evaluator().env();
    let key = MemoryKey {
        workflow_id: env.workflow_id.clone(),
        node_id: ctx.node.id.clone(),
        session: session.trim().to_string(),
    };
    Ok(Some((memory, key)))
}

/// One item's conversation: turns until the model answers without tools.
async fn run_item(
    ctx: &NodeContext,
    agent: &Agent,
    item: &Item,
    index: usize,
) -> Result<(String, Vec<AgentEntry>), NodeError> {
    let model_name = agent.model.model_name(&ctx.str_param("model", item, index)?, "model")?;
    let prompt = prompt_of(ctx, item, index)?;
    let mut messages = Vec::new();
    let system = ctx.str_param("systemPrompt", item, index)?;
    if !system.trim().is_empty() {
        messages.push(Message::new(Role::System, system));
    }
    let memory = memory_of(ctx, item, index)?;
    if let Some((memory, key)) = &memory {
        for (role, content) in memory.recall(key, agent.memory_window).await? {
            messages.push(Message::new(role, content));
        }
    }
    messages.push(Message::new(Role::User, prompt.clone()));
    let mut transcript =
        vec![AgentEntry { role: AgentRole::User, content: prompt.clone(), tool: None, arguments: None, error: false }];
    ctx.report_agent_step(index, 0, &transcript[0]);
    let tools: Vec<Tool> = agent.tools.iter().map(|t| t.spec.clone()).collect();
    let mut used: u64 = 0;
    let mut calls_made: Vec<String> = Vec::new();
    for step in 1..=agent.max_steps {
        ctx.check_cancelled()?;
        let request = ChatRequest {
            model: model_name.clone(),
            messages: messages.clone(),
            temperature: ctx.optional_f64_param("temperature", item, index)?,
            max_tokens: ctx.optional_f64_param("maxTokens", item, index)?.map(|n| n as u64),
            seed: ctx.optional_f64_param("seed", item, index)?.map(|n| n as i64),
            stop: agent.settings.stop.clone(),
            shape: Shape::Text,
            tools: tools.clone(),
            stream: agent.settings.stream,
            timeout: agent.settings.timeout,
        };
        let answer: Answer = ctx
            .retry_item(index, || async {
                let streamer = Streamer::start(ctx, index);
                let answer = agent.model.chat(ctx, &request, index, &|text| streamer.push(text)).await;
                streamer.flush();
                answer
            })
            .await?;
        used += u64::from(answer.tokens_in) + u64::from(answer.tokens_out);
        if !answer.content.trim().is_empty() {
            let entry = AgentEntry {
                role: AgentRole::Assistant,
                content: answer.content.clone(),
                tool: None,
                arguments: None,
                error: false,
            };
            ctx.report_agent_step(index, step, &entry);
            transcript.push(entry);
        }
        if let Some(budget) = agent.token_budget
            && used > budget
        {
            return Err(NodeError::new(
                ErrorCode::TokenBudget,
                format!("the agent used {used} tokens in {step} turns, more than its budget of {budget}"),
            )
            .with_class(ErrorClass::Permanent)
            .with_item(index)
            .with_details(json!({ "transcript": transcript })));
        }
        if answer.tool_calls.is_empty() {
            if let Some((memory, key)) = &memory {
                memory.remember(key, vec![(Role::User, prompt), (Role::Assistant, answer.content.clone())]).await?;
            }
            return Ok((answer.content, transcript));
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
        messages.push(Message {
            role: Role::Assistant,
            content: answer.content.clone(),
            tool_calls: calls.clone(),
            tool_call_id: None,
        });
        for call in calls {
            let entry = AgentEntry {
                role: AgentRole::Call,
                content: String::new(),
                tool: Some(call.name.clone()),
                arguments: Some(call.arguments.clone()),
                error: false,
            };
            ctx.report_agent_step(index, step, &entry);
            transcript.push(entry);
            calls_made.push(call.name.clone());
            let (content, error) = match use_tool(ctx, agent, &call, index).await {
                Ok(content) => (content, false),
                Err(problem) => (problem, true),
            };
            let entry = AgentEntry {
                role: AgentRole::Result,
                content: content.clone(),
                tool: Some(call.name.clone()),
                arguments: None,
                error,
            };
            ctx.report_agent_step(index, step, &entry);
            transcript.push(entry);
            let content = if error { json!({"error": content}).to_string() } else { content };
            messages.push(Message {
                role: Role::Tool,
                content,
                tool_calls: Vec::new(),
                tool_call_id: Some(call.id.clone()),
            });
        }
    }
    Err(NodeError::new(
        ErrorCode::StepLimit,
        format!(
            "the agent did not answer within {} steps; it kept calling tools ({})",
            agent.max_steps,
            summary(&calls_made)
        ),
    )
    .with_class(ErrorClass::Permanent)
    .with_item(index)
    .with_details(json!({ "transcript": transcript })))
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
/// model, which may try again differently.
async fn use_tool(ctx: &NodeContext, agent: &Agent, call: &ToolCall, index: usize) -> Result<String, String> {
    let Some(tool) = agent.tools.iter().find(|t| t.spec.name == call.name) else {
        let known: Vec<&str> = agent.tools.iter().map(|t| t.spec.name.as_str()).collect();
        return Err(format!("there is no tool \"{}\" (tools: {})", call.name, known.join(", ")));
    };
    let arguments: Json = if call.arguments.trim().is_empty() {
        json!({})
    } else {
        serde_json::from_str(&call.arguments).map_err(|e| format!("the arguments are not JSON: {e}"))?
    };
    let run = async {
        match &tool.kind {
            ToolKind::Workflow(callable) => workflow_tool(ctx, agent, callable, arguments).await,
            ToolKind::Http { method, url, schema, authenticate } => {
                crate::llm::schema::validate(schema, &arguments).map_err(|m| format!("invalid arguments: {m}"))?;
                http_tool(ctx, agent, method, url, arguments, *authenticate, index).await
            }
        }
    };
    match tokio::time::timeout(agent.tool_timeout, run).await {
        Ok(result) => result.map(|text| cut(&text)),
        Err(_) => Err(format!("the tool did not finish within {} s", agent.tool_timeout.as_secs_f64())),
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
    agent: &Agent,
    callable: &Arc<Callable>,
    arguments: Json,
) -> Result<String, String> {
    let value = Value::from(arguments);
    check_arguments(&callable.inputs, &value).map_err(|m| format!("invalid arguments: {m}"))?;
    if agent.caller.depth >= ctx.services.max_call_depth {
        return Err(crate::subflow::depth_error(ctx.services.max_call_depth, &agent.caller).message);
    }
    let host = ctx.services.subflows.clone().ok_or("this run cannot call workflows")?;
    let cancel = ctx.cancel.child_token();
    // A timed-out call is stopped: the guard cancels it when this future is dropped.
    let _stop = cancel.clone().drop_guard();
    let call = ChildCall {
        callable: callable.clone(),
        input: vec![Item::new(value)],
        caller: agent.caller.clone(),
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
    agent: &Agent,
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
    let mut builder = ctx.services.http.request(method.clone(), parsed.clone()).timeout(agent.tool_timeout);
    if *method == reqwest::Method::POST {
        builder = builder.header(reqwest::header::CONTENT_TYPE, "application/json").body(arguments.to_string());
    }
    let none = Auth::none();
    let auth = match (&agent.tool_auth, authenticate) {
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

/// The item with the answer (and the transcript) added.
fn merged(ctx: &NodeContext, item: Item, index: usize, answer: String, transcript: Vec<AgentEntry>) -> Item {
    let Item { json, error, binary, .. } = item;
    let mut object = match json {
        Value::Object(o) => o,
        other => [("data", other)].into_iter().collect::<Object>(),
    };
    let field = ctx.raw_param("answerField").as_str().unwrap_or("answer").trim().to_string();
    let field = if field.is_empty() { "answer".to_string() } else { field };
    object.insert(field.as_str(), Value::from(answer));
    if ctx.raw_param("transcript").as_bool().unwrap_or(true) {
        let entries = serde_json::to_value(&transcript).unwrap_or(Json::Null);
        object.insert("transcript", Value::from(entries));
    }
    Item { json: Value::object(object), paired: Paired::item(index), error, binary }
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
