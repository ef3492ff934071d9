//! AI Orchestrate: several agents (each a name, a model and account, a system prompt and
//! the tools it may call) work on each item's task by a strategy:
//! - *sequential*: agent 1 gets the task, each next agent the previous one's answer; every
//!   step's answer is kept;
//! - *parallel*: all agents get the task at once; the node waits for all of them, or takes
//!   the first answer and cancels the rest (race); each agent may have a time limit;
//! - *consensus*: all agents answer, the answers are compared (exactly after trimming and
//!   case-folding, by the label they name, by their JSON fields, or grouped by a judge
//!   model) and the answer with the most votes wins — a majority of all agents, or the most
//!   votes; a tie (or no majority) is a `no_consensus` error unless a tie-breaker model
//!   chooses.
//!
//! Each item gets the answer, and a record of the orchestration: per agent its model,
//! account, a hash of its prompt, tokens, latency, answer, and (consensus) its vote.

use crate::access::Access;
use crate::llm::agent::{
    Conversed, Limits, Speaker, Tools, check_tools, converse, tool_access, tool_auth_slot, tools_parameter,
};
use crate::llm::{Answer, ChatModel, ChatRequest, Message, Role, Shape, shaped};
use crate::node::{NodeContext, NodeResult};
use crate::nodes::ai_chat::{Settings, model_parameters};
use crate::registry::{AgentOutline, AgentsOutline, CheckContext, NodeEntry};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde::Serialize;
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use switchyard_model::descriptor::{CredentialSlot, NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError, ValidationIssue};
use switchyard_model::item::{Item, Paired};
use switchyard_model::value::Value;
use switchyard_model::workflow::Node;

pub const TYPE: &str = "ai.orchestrate";

/// The credential slot of the model account the agents use unless they have their own.
pub const SLOT: &str = "model";
/// The per-agent slots: `agent:<name>`.
pub const AGENT_SLOT: &str = "agent";
/// The judge's account (else the node's).
pub const JUDGE_SLOT: &str = "judge";
/// The tie-breaker's account (else the node's).
pub const TIE_SLOT: &str = "tieBreaker";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx)))
        .with_check(check)
        .with_access(access)
        .with_agents(outline)
}

const STRATEGIES: &[(&str, &str)] = &[
    ("sequential", "Sequential: each agent works on the previous one's answer"),
    ("parallel", "Parallel: all agents get the task at once"),
    ("consensus", "Consensus: all agents answer, the majority wins"),
];

pub fn descriptor() -> NodeDescriptor {
    let mut params = vec![
        ParamSpec::list(
            "agents",
            "Agents",
            "Add agent",
            vec![
                ParamSpec::string("name", "Name").required().literal().placeholder("critic"),
                ParamSpec::string("model", "Model")
                    .literal()
                    .placeholder("the node's model")
                    .describe("Its model's name; empty: the node's Model, else its account's default."),
                ParamSpec::string("systemPrompt", "System prompt")
                    .rows(3)
                    .placeholder("You are a strict reviewer.")
                    .describe("How this agent behaves; may use the item's fields."),
                ParamSpec::string("tools", "Tools")
                    .literal()
                    .placeholder("lookup_order, weather")
                    .describe("Names of the node's tools this agent may call, separated by commas; empty: none."),
            ],
        )
        .required()
        .default_value(default_agents())
        .describe("Each agent may have its own account: choose it under Accounts (\"Account of agent …\")."),
        ParamSpec::string("prompt", "Task").required().rows(4).placeholder("Classify this ticket: {{ json.text }}"),
        ParamSpec::options("strategy", "Strategy", STRATEGIES, "consensus"),
        ParamSpec::options(
            "handOff",
            "Each next agent gets",
            &[("answer", "The previous answer"), ("both", "The task and the previous answer")],
            "answer",
        )
        .show_if("strategy", &["sequential"]),
        ParamSpec::options(
            "wait",
            "Wait for",
            &[("all", "All agents"), ("race", "The first answer (cancel the rest)")],
            "all",
        )
        .show_if("strategy", &["parallel"]),
        ParamSpec::number("agentTimeout", "Agent time limit (seconds)")
            .default_value(0)
            .literal()
            .describe("An agent still working after this long is stopped and counts as failed; 0: no limit."),
        ParamSpec::options(
            "compare",
            "Compare answers",
            &[
                ("auto", "Automatically: JSON answers by their fields, text exactly"),
                ("exact", "Same text (ignoring case, spaces and end punctuation)"),
                ("label", "By the label each answer names"),
                ("judge", "A judge model groups answers that mean the same"),
            ],
            "auto",
        )
        .show_if("strategy", &["consensus"]),
        ParamSpec::string("labels", "Labels")
            .rows(3)
            .literal()
            .placeholder("billing\nbug\nfeature request")
            .describe("One per line. An answer votes for the one label it names; naming none or several is no vote.")
            .show_if("compare", &["label"]),
        ParamSpec::string("compareFields", "Fields compared")
            .literal()
            .placeholder("all fields")
            .describe("JSON answers: the fields that must be equal, separated by commas; empty: all.")
            .show_if("compare", &["auto"]),
        ParamSpec::string("judgeModel", "Judge model")
            .literal()
            .placeholder("the node's model")
            .describe("Its account: \"Judge account\" under Accounts, else the node's.")
            .show_if("compare", &["judge"]),
        ParamSpec::string("judgeInstructions", "Judge instructions")
            .rows(2)
            .literal()
            .placeholder("Answers that name the same city agree.")
            .show_if("compare", &["judge"]),
        ParamSpec::options(
            "win",
            "Winner needs",
            &[("majority", "More than half of all agents"), ("plurality", "More votes than any other answer")],
            "majority",
        )
        .show_if("strategy", &["consensus"]),
        ParamSpec::options(
            "tieBreak",
            "Without a winner",
            &[("fail", "Fail (no_consensus)"), ("agent", "A tie-breaker model chooses")],
            "fail",
        )
        .show_if("strategy", &["consensus"]),
        ParamSpec::string("tieBreakerModel", "Tie-breaker model")
            .literal()
            .placeholder("the node's model")
            .describe("Its account: \"Tie-breaker account\" under Accounts, else the node's.")
            .show_if("tieBreak", &["agent"]),
        ParamSpec::string("tieBreakerInstructions", "Tie-breaker instructions")
            .rows(2)
            .literal()
            .show_if("tieBreak", &["agent"]),
    ];
    params.extend(model_parameters());
    params.extend([
        ParamSpec::options(
            "output",
            "Answers as",
            &[("text", "Text"), ("json", "A JSON object"), ("schema", "JSON matching a schema (structured output)")],
            "text",
        ),
        ParamSpec::json_schema("schema", "Output schema")
            .default_value(json!({
                "type": "object",
                "properties": {"answer": {"type": "string"}},
                "required": ["answer"],
                "additionalProperties": false
            }))
            .describe("Every agent's answer must match it; consensus compares its fields.")
            .show_if("output", &["schema"]),
        tools_parameter().describe("What agents may use; each agent names the ones it may call."),
        ParamSpec::integer("maxSteps", "Step limit per agent", Some(1.0), Some(100.0)).default_value(10),
        ParamSpec::integer("tokenBudget", "Token budget per agent", Some(1.0), None)
            .describe("Tokens in and out across one agent's turns at most; empty: no budget."),
        ParamSpec::number("toolTimeout", "Tool timeout (seconds)").default_value(60),
        ParamSpec::string("answerField", "Put the answer in").default_value("answer").literal().describe(
            "The winning (consensus), last (sequential) or first (race) answer; with Wait for all agents: every \
             agent's answer by name.",
        ),
        ParamSpec::boolean("records", "Add the record", true).describe(
            "Adds orchestration: per agent its model, account, prompt hash, tokens, latency, answer and vote.",
        ),
    ]);
    let mut d = super::descriptor(
        TYPE,
        "AI Orchestrate",
        "Several AI agents work on each item: one after another, all at once, or voting (the majority answer \
         wins). Each agent has its own model, prompt and tools; the record of who answered what comes with the item.",
        NodeGroup::Action,
        "sparkles",
        vec![Port::main()],
        params,
    );
    d.per_item_calls = true;
    let llm =
        |name: &str, label: &str| CredentialSlot { label: label.into(), required: false, ..crate::llm::slot(name) };
    d.credentials = vec![
        crate::llm::slot(SLOT),
        CredentialSlot { per_entry: Some("agents".into()), ..llm(AGENT_SLOT, "Account of agent") },
        llm(JUDGE_SLOT, "Judge account"),
        llm(TIE_SLOT, "Tie-breaker account"),
        tool_auth_slot(),
    ];
    d
}

fn access(node: &Node) -> Vec<Access> {
    tool_access(node)
}

/// Its agents and strategy, for the Orchestrations page.
fn outline(node: &Node) -> AgentsOutline {
    let strategy = node.parameters.get("strategy").and_then(|s| s.as_str()).unwrap_or("consensus").to_string();
    let agents = agent_entries(node)
        .iter()
        .map(|entry| AgentOutline {
            name: text(entry, "name").to_string(),
            model: text(entry, "model").to_string(),
            slot: format!("{AGENT_SLOT}:{}", text(entry, "name")),
        })
        .collect();
    AgentsOutline { strategy, agents }
}

/// A new node's agents.
fn default_agents() -> Json {
    json!([
        {"name": "first", "systemPrompt": ""},
        {"name": "second", "systemPrompt": ""},
        {"name": "third", "systemPrompt": ""}
    ])
}

/// The agents as written, or the default ones a new node shows (and runs with).
fn agent_entries(node: &Node) -> Vec<Json> {
    let agents = node.parameters.get("agents").cloned().unwrap_or_else(default_agents);
    agents.as_array().cloned().unwrap_or_default()
}

fn text<'a>(entry: &'a Json, key: &str) -> &'a str {
    entry.get(key).and_then(|v| v.as_str()).map(str::trim).unwrap_or("")
}

/// The tool names an agent entry lists.
fn listed_tools(entry: &Json) -> Vec<String> {
    text(entry, "tools").split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

fn check(node: &Node, cx: &CheckContext<'_>) -> Vec<ValidationIssue> {
    let mut issues = check_tools(node, cx);
    let agents = agent_entries(node);
    let p = |name: &str| node.parameters.get(name).and_then(|v| v.as_str()).unwrap_or("");
    if agents.is_empty() {
        issues.push(cx.parameter_issue("agents: add at least one agent".to_string()));
    }
    let strategy = match p("strategy") {
        "" => "consensus",
        s => s,
    };
    if strategy == "consensus" && agents.len() < 2 {
        issues.push(
            cx.parameter_issue("agents: a consensus needs at least two agents (three can break a tie)".to_string()),
        );
    }
    let named_tools: Vec<&str> = node
        .parameters
        .get("tools")
        .and_then(|v| v.as_array())
        .map(|t| t.iter().map(|e| text(e, "name")).collect())
        .unwrap_or_default();
    // Workflow tools without a name are named after their workflow when the node runs.
    let all_named = !named_tools.contains(&"");
    let mut names: Vec<&str> = Vec::new();
    for (i, entry) in agents.iter().enumerate() {
        let name = text(entry, "name");
        if name.is_empty() {
            issues.push(cx.parameter_issue(format!("agents[{i}].name: give the agent a name")));
        } else if names.contains(&name) {
            issues.push(cx.parameter_issue(format!("agents[{i}].name: another agent is already called \"{name}\"")));
        }
        names.push(name);
        for tool in listed_tools(entry) {
            if all_named && !named_tools.contains(&tool.as_str()) {
                issues.push(cx.parameter_issue(format!(
                    "agents[{i}].tools: there is no tool \"{tool}\" (the node's tools: {})",
                    if named_tools.is_empty() { "none".to_string() } else { named_tools.join(", ") }
                )));
            }
        }
    }
    if strategy == "consensus" && p("compare") == "label" && labels_of(p("labels")).is_empty() {
        issues.push(cx.parameter_issue("labels: list the labels answers may name, one per line".to_string()));
    }
    if let Some(t) = node.parameters.get("temperature").and_then(|v| v.as_f64())
        && !(0.0..=2.0).contains(&t)
    {
        issues.push(cx.parameter_issue(format!("temperature: {t} is outside 0–2")));
    }
    issues
}

fn labels_of(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()
}

#[derive(Clone, Copy, PartialEq)]
enum Strategy {
    Sequential { both: bool },
    Parallel { race: bool },
    Consensus,
}

impl Strategy {
    fn name(self) -> &'static str {
        match self {
            Strategy::Sequential { .. } => "sequential",
            Strategy::Parallel { race: false } => "parallel",
            Strategy::Parallel { race: true } => "race",
            Strategy::Consensus => "consensus",
        }
    }
}

enum Compare {
    Exact,
    Fields(Vec<String>),
    Label(Vec<String>),
    Judge,
}

/// One agent, read once per node run.
struct AgentSpec {
    name: String,
    /// Its own model name, or empty.
    model: String,
    system: std::sync::Arc<crate::expr::Compiled>,
    tools: Vec<String>,
    account: Arc<ChatModel>,
}

/// A model that is not an agent: the judge or the tie-breaker.
struct Referee {
    account: Arc<ChatModel>,
    model: String,
    instructions: String,
    /// The node's model timeout.
    timeout: Duration,
}

struct Plan {
    agents: Vec<AgentSpec>,
    settings: Settings,
    tools: Tools,
    limits: Limits,
    strategy: Strategy,
    timeout: Option<Duration>,
    compare: Compare,
    majority: bool,
    judge: Option<Referee>,
    tie_breaker: Option<Referee>,
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let plan = prepare(ctx).await?;
    let items = ctx.take_input(0).into_vec();
    let ctx: &NodeContext = ctx;
    let plan = &plan;
    ctx.each_item(items, |index, item| async move {
        let result =
            orchestrate(ctx, plan, &item, index).await.map(|done| vec![merged(ctx, item.clone(), index, done)]);
        (item, result)
    })
    .await
}

/// The account in `slot` (cached: agents sharing one account share its connection state).
async fn account_in(
    ctx: &NodeContext,
    slot: &str,
    cache: &mut BTreeMap<String, Arc<ChatModel>>,
) -> Result<Arc<ChatModel>, NodeError> {
    let slot = if ctx.node.credentials.contains_key(slot) { slot } else { SLOT };
    if let Some(model) = cache.get(slot) {
        return Ok(model.clone());
    }
    let model = Arc::new(ChatModel::for_slot(ctx, slot).await?);
    cache.insert(slot.to_string(), model.clone());
    Ok(model)
}

async fn prepare(ctx: &NodeContext) -> Result<Plan, NodeError> {
    let settings = Settings::read(ctx)?;
    let mut accounts = BTreeMap::new();
    let entries = ctx.raw_param("agents").as_array().cloned().unwrap_or_default();
    if entries.is_empty() {
        return Err(NodeError::new(ErrorCode::MissingParameter, "add at least one agent").with_parameter("agents"));
    }
    let systems = super::compile_list(ctx, "agents", "systemPrompt")?;
    let mut agents = Vec::new();
    for (i, (entry, system)) in entries.iter().zip(systems).enumerate() {
        let name = text(entry, "name").to_string();
        if name.is_empty() || agents.iter().any(|a: &AgentSpec| a.name == name) {
            return Err(NodeError::new(ErrorCode::InvalidParameter, "every agent needs its own name")
                .with_parameter(format!("agents[{i}].name")));
        }
        let account = account_in(ctx, &format!("{AGENT_SLOT}:{name}"), &mut accounts).await?;
        agents.push(AgentSpec {
            model: text(entry, "model").to_string(),
            system,
            tools: listed_tools(entry),
            account,
            name,
        });
    }
    let timeout = |name: &str, default: f64| -> Result<f64, NodeError> {
        let t = ctx.raw_param(name).as_f64().unwrap_or(default);
        if t.is_finite() && t >= 0.0 {
            Ok(t)
        } else {
            Err(NodeError::new(ErrorCode::InvalidParameter, "a time limit must be 0 seconds or more")
                .with_parameter(name))
        }
    };
    let tool_timeout = timeout("toolTimeout", 60.0)?;
    let tools = Tools::prepare(ctx, Duration::from_secs_f64(tool_timeout.max(0.001))).await?;
    let known = tools.names();
    for (i, agent) in agents.iter().enumerate() {
        if let Some(unknown) = agent.tools.iter().find(|t| !known.contains(&t.as_str())) {
            return Err(NodeError::new(
                ErrorCode::InvalidParameter,
                format!("agent \"{}\" names tool \"{unknown}\", but the node has none by that name", agent.name),
            )
            .with_parameter(format!("agents[{i}].tools")));
        }
    }
    let strategy = match ctx.choice("strategy").as_str() {
        "sequential" => Strategy::Sequential { both: ctx.choice("handOff") == "both" },
        "parallel" => Strategy::Parallel { race: ctx.choice("wait") == "race" },
        _ => Strategy::Consensus,
    };
    let compare = match ctx.choice("compare").as_str() {
        "exact" => Compare::Exact,
        "label" => {
            let labels = labels_of(ctx.raw_param("labels").as_str().unwrap_or(""));
            if labels.is_empty() && strategy == Strategy::Consensus {
                return Err(NodeError::new(ErrorCode::MissingParameter, "list the labels answers may name")
                    .with_parameter("labels"));
            }
            Compare::Label(labels)
        }
        "judge" => Compare::Judge,
        _ if settings.shape == Shape::Text => Compare::Exact,
        _ => Compare::Fields(
            ctx.choice("compareFields")
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        ),
    };
    let consensus = strategy == Strategy::Consensus;
    let judge = if consensus && matches!(compare, Compare::Judge) {
        Some(Referee {
            account: account_in(ctx, JUDGE_SLOT, &mut accounts).await?,
            model: ctx.choice("judgeModel").trim().to_string(),
            instructions: ctx.choice("judgeInstructions"),
            timeout: settings.timeout,
        })
    } else {
        None
    };
    let tie_breaker = if consensus && ctx.choice("tieBreak") == "agent" {
        Some(Referee {
            account: account_in(ctx, TIE_SLOT, &mut accounts).await?,
            model: ctx.choice("tieBreakerModel").trim().to_string(),
            instructions: ctx.choice("tieBreakerInstructions"),
            timeout: settings.timeout,
        })
    } else {
        None
    };
    let agent_timeout = timeout("agentTimeout", 0.0)?;
    Ok(Plan {
        agents,
        settings,
        tools,
        limits: Limits {
            max_steps: ctx.raw_param("maxSteps").as_u64().unwrap_or(10).clamp(1, 100) as u32,
            token_budget: ctx.raw_param("tokenBudget").as_u64(),
        },
        strategy,
        timeout: (agent_timeout > 0.0).then(|| Duration::from_secs_f64(agent_timeout)),
        compare,
        majority: ctx.choice("win") != "plurality",
        judge,
        tie_breaker,
    })
}

/// What one agent did, as the item's record shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    agent: String,
    model: String,
    account: String,
    /// The first 16 hex digits of the SHA-256 of its system prompt and input: runs with the
    /// same hash asked the same thing.
    prompt_hash: String,
    tokens_in: u64,
    tokens_out: u64,
    latency_ms: u64,
    /// `answered`, `failed`, `timedOut` or `cancelled` (a race another agent won).
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    answer: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// Consensus: what its answer counted as (the label, the normalised text), or why it
    /// did not count.
    #[serde(skip_serializing_if = "Option::is_none")]
    vote: Option<String>,
    /// Consensus: the index of its answer's group.
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<usize>,
}

impl Record {
    /// An agent's record before it did anything.
    fn new(spec: &AgentSpec, status: &'static str) -> Record {
        Record {
            agent: spec.name.clone(),
            model: String::new(),
            account: spec.account.account.clone(),
            prompt_hash: String::new(),
            tokens_in: 0,
            tokens_out: 0,
            latency_ms: 0,
            status,
            answer: None,
            error: None,
            vote: None,
            group: None,
        }
    }
}

/// A judge's or tie-breaker's call.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct RefereeRecord {
    role: &'static str,
    model: String,
    account: String,
    tokens_in: u64,
    tokens_out: u64,
    latency_ms: u64,
    answer: Json,
}

/// One group of equal answers.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Group {
    /// The first member's answer.
    answer: Json,
    agents: Vec<String>,
    votes: usize,
}

/// An item's orchestration, finished.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Done {
    strategy: &'static str,
    /// The answer the item gets.
    #[serde(skip)]
    answer: Json,
    /// Who gave it (sequential: the last agent; race and consensus: the winner).
    #[serde(skip_serializing_if = "Option::is_none")]
    winner: Option<String>,
    /// Consensus: how the winner was found (`majority`, `plurality`, `tieBreaker`).
    #[serde(skip_serializing_if = "Option::is_none")]
    decided_by: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    groups: Vec<Group>,
    agents: Vec<Record>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    referees: Vec<RefereeRecord>,
}

fn prompt_hash(system: &str, input: &str) -> String {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    context.update(system.as_bytes());
    context.update(b"\n\x00\n");
    context.update(input.as_bytes());
    context.finish().as_ref().iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The answer as the record and the item show it: text, or the JSON asked for.
fn answer_value(done: &Conversed) -> Json {
    done.value.clone().unwrap_or_else(|| Json::String(done.answer.content.clone()))
}

/// Runs one agent on `input`; never fails itself: the record says what happened.
async fn run_agent(
    ctx: &NodeContext,
    plan: &Plan,
    agent: usize,
    item: &Item,
    index: usize,
    input: &str,
    stream: bool,
) -> (Record, Result<Conversed, NodeError>) {
    let spec = &plan.agents[agent];
    let started = tokio::time::Instant::now();
    let mut record = Record::new(spec, "failed");
    let request = (|| -> Result<ChatRequest, NodeError> {
        let system = ctx
            .evaluator()
            .eval(&spec.system, item, index)
            .map_err(|e| {
                NodeError::new(e.code(), e.message)
                    .with_parameter(format!("agents[{agent}].systemPrompt"))
                    .with_item(index)
            })?
            .to_text();
        let asked = if spec.model.is_empty() { ctx.str_param("model", item, index)? } else { spec.model.clone() };
        let model = spec.account.model_name(&asked, &format!("agents[{agent}].model"))?;
        record.model = model.clone();
        record.prompt_hash = prompt_hash(&system, input);
        let mut messages = Vec::new();
        if !system.trim().is_empty() {
            messages.push(Message::new(Role::System, system));
        }
        messages.push(Message::new(Role::User, input.to_string()));
        Ok(ChatRequest {
            model,
            messages,
            temperature: ctx.optional_f64_param("temperature", item, index)?,
            max_tokens: ctx.optional_f64_param("maxTokens", item, index)?.map(|n| n as u64),
            seed: ctx.optional_f64_param("seed", item, index)?.map(|n| n as i64),
            stop: plan.settings.stop.clone(),
            shape: plan.settings.shape.clone(),
            tools: plan.tools.offered(Some(&spec.tools)),
            stream: plan.settings.stream,
            timeout: plan.settings.timeout,
        })
    })();
    let request = match request {
        Ok(request) => request,
        Err(e) => {
            record.error = Some(e.message.clone());
            return (record, Err(e));
        }
    };
    let speaker = Speaker { index, agent: Some(&spec.name), stream };
    let talk = converse(ctx, &plan.tools, request, plan.limits, &spec.account, speaker);
    let outcome = match plan.timeout {
        Some(limit) => tokio::time::timeout(limit, talk).await.map_err(|_| limit),
        None => Ok(talk.await),
    };
    record.latency_ms = started.elapsed().as_millis() as u64;
    match outcome {
        Ok(Ok(done)) => {
            record.status = "answered";
            record.tokens_in = done.tokens_in;
            record.tokens_out = done.tokens_out;
            record.answer = Some(answer_value(&done));
            (record, Ok(done))
        }
        Ok(Err(e)) => {
            record.error = Some(e.message.clone());
            (record, Err(e))
        }
        Err(limit) => {
            record.status = "timedOut";
            let message = format!("did not answer within {} s", limit.as_secs_f64());
            record.error = Some(message.clone());
            (record, Err(NodeError::new(ErrorCode::Timeout, message).with_class(ErrorClass::Timeout)))
        }
    }
}

/// The error for an orchestration that could not finish: the records go into its details.
fn failed(code: ErrorCode, message: String, class: ErrorClass, index: usize, done: &Done) -> NodeError {
    NodeError::new(code, message)
        .with_class(class)
        .with_item(index)
        .with_details(json!({ "orchestration": serde_json::to_value(done).unwrap_or(Json::Null) }))
}

fn failures(records: &[Record]) -> String {
    records
        .iter()
        .filter(|r| r.status != "answered")
        .map(|r| format!("{}: {}", r.agent, r.error.as_deref().unwrap_or(r.status)))
        .collect::<Vec<_>>()
        .join("; ")
}

async fn orchestrate(ctx: &NodeContext, plan: &Plan, item: &Item, index: usize) -> Result<Done, NodeError> {
    let task = ctx.str_param("prompt", item, index)?;
    if task.trim().is_empty() {
        return Err(NodeError::new(ErrorCode::InvalidParameter, "the task is empty for this item")
            .with_parameter("prompt")
            .with_item(index)
            .with_class(ErrorClass::Permanent));
    }
    let mut done = Done {
        strategy: plan.strategy.name(),
        answer: Json::Null,
        winner: None,
        decided_by: None,
        groups: Vec::new(),
        agents: Vec::new(),
        referees: Vec::new(),
    };
    match plan.strategy {
        Strategy::Sequential { both } => {
            let mut input = task.clone();
            for agent in 0..plan.agents.len() {
                let (record, answered) = run_agent(ctx, plan, agent, item, index, &input, true).await;
                done.agents.push(record);
                let answered = match answered {
                    Ok(answered) => answered,
                    Err(e) => {
                        let message =
                            format!("agent \"{}\" (step {}) failed: {}", plan.agents[agent].name, agent + 1, e.message);
                        return Err(failed(e.code, message, e.class, index, &done));
                    }
                };
                done.answer = answer_value(&answered);
                done.winner = Some(plan.agents[agent].name.clone());
                input = if both {
                    format!(
                        "{task}\n\nThe previous agent ({}) answered:\n{}",
                        plan.agents[agent].name, answered.answer.content
                    )
                } else {
                    answered.answer.content.clone()
                };
            }
            Ok(done)
        }
        Strategy::Parallel { race: false } => {
            let results = futures::future::join_all(
                (0..plan.agents.len()).map(|agent| run_agent(ctx, plan, agent, item, index, &task, false)),
            )
            .await;
            let mut answers = serde_json::Map::new();
            let mut first_error = None;
            for (record, answered) in results {
                match &answered {
                    Ok(answered) => {
                        answers.insert(record.agent.clone(), answer_value(answered));
                    }
                    Err(e) => {
                        first_error.get_or_insert((e.code, e.class));
                    }
                }
                done.agents.push(record);
            }
            if let Some((code, class)) = first_error {
                let message = format!("not every agent answered: {}", failures(&done.agents));
                return Err(failed(code, message, class, index, &done));
            }
            done.answer = Json::Object(answers);
            Ok(done)
        }
        Strategy::Parallel { race: true } => {
            let task = &task;
            let mut running: FuturesUnordered<_> = (0..plan.agents.len())
                .map(|agent| async move { (agent, run_agent(ctx, plan, agent, item, index, task, false).await) })
                .collect();
            let mut records: Vec<Option<Record>> = vec![None; plan.agents.len()];
            let mut first_error = None;
            while let Some((agent, (record, answered))) = running.next().await {
                records[agent] = Some(record);
                match answered {
                    Ok(answered) => {
                        done.answer = answer_value(&answered);
                        done.winner = Some(plan.agents[agent].name.clone());
                        break;
                    }
                    Err(e) => {
                        first_error.get_or_insert((e.code, e.class));
                    }
                }
            }
            // The rest are cancelled: their futures (and requests) are dropped here.
            drop(running);
            done.agents = records
                .into_iter()
                .enumerate()
                .map(|(agent, record)| record.unwrap_or_else(|| Record::new(&plan.agents[agent], "cancelled")))
                .collect();
            if let (None, Some((code, class))) = (&done.winner, first_error) {
                let message = format!("no agent answered: {}", failures(&done.agents));
                return Err(failed(code, message, class, index, &done));
            }
            Ok(done)
        }
        Strategy::Consensus => consensus(ctx, plan, &task, item, index, done).await,
    }
}

/// Text compared exactly: case-folded, spaces collapsed, end punctuation and quotes gone.
fn normalised(text: &str) -> String {
    let folded = text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    folded.trim_matches(|c: char| matches!(c, '.' | '!' | '?' | '"' | '\'' | '`' | '*' | ' ')).to_string()
}

/// JSON with its object keys sorted, so equal answers are equal text.
fn canonical(value: &Json) -> String {
    fn sorted(value: &Json) -> Json {
        match value {
            Json::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                Json::Object(keys.into_iter().map(|k| (k.clone(), sorted(&map[k]))).collect())
            }
            Json::Array(list) => Json::Array(list.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}

/// The label an answer names: the one label appearing in it as a whole word (case-folded).
fn label_of(answer: &str, labels: &[String]) -> Result<String, String> {
    let text = normalised(answer);
    if let Some(label) = labels.iter().find(|l| normalised(l) == text) {
        return Ok(label.clone());
    }
    let named: Vec<&String> = labels
        .iter()
        .filter(|label| {
            let needle = normalised(label);
            !needle.is_empty()
                && text.match_indices(&needle).any(|(at, _)| {
                    let before = text[..at].chars().next_back();
                    let after = text[at + needle.len()..].chars().next();
                    !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
                })
        })
        .collect();
    match named.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err("names none of the labels".into()),
        many => {
            Err(format!("names several labels ({})", many.iter().map(|l| l.as_str()).collect::<Vec<_>>().join(", ")))
        }
    }
}

/// What an answer counts as, or why it does not count.
fn vote_of(compare: &Compare, done: &Conversed) -> Result<String, String> {
    match compare {
        Compare::Exact => Ok(match &done.value {
            Some(value) => canonical(value),
            None => normalised(&done.answer.content),
        }),
        Compare::Label(labels) => label_of(&done.answer.content, labels),
        Compare::Fields(fields) => {
            let value = done.value.clone().unwrap_or(Json::Null);
            if fields.is_empty() {
                return Ok(canonical(&value));
            }
            let picked: serde_json::Map<String, Json> =
                fields.iter().map(|f| (f.clone(), value.get(f).cloned().unwrap_or(Json::Null))).collect();
            Ok(canonical(&Json::Object(picked)))
        }
        Compare::Judge => Ok(String::new()),
    }
}

async fn consensus(
    ctx: &NodeContext,
    plan: &Plan,
    task: &str,
    item: &Item,
    index: usize,
    mut done: Done,
) -> Result<Done, NodeError> {
    let results = futures::future::join_all(
        (0..plan.agents.len()).map(|agent| run_agent(ctx, plan, agent, item, index, task, false)),
    )
    .await;
    // Group the answers: by their vote, or as the judge says.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let answered: Vec<usize> = results.iter().enumerate().filter(|(_, (_, a))| a.is_ok()).map(|(i, _)| i).collect();
    let mut records: Vec<Record> = results.iter().map(|(r, _)| r.clone()).collect();
    match (&plan.compare, &plan.judge) {
        (Compare::Judge, Some(judge)) if answered.len() > 1 => {
            let answers: Vec<String> = answered
                .iter()
                .map(|&a| results[a].1.as_ref().map(|d| d.answer.content.clone()).unwrap_or_default())
                .collect();
            let (judged, record) = judge_groups(ctx, judge, task, &answers, item, index).await.map_err(|e| {
                done.agents = records.clone();
                let details = e.details.clone();
                let mut error = failed(e.code, format!("the judge failed: {}", e.message), e.class, index, &done);
                if let (Some(Json::Object(extra)), Some(Json::Object(mine))) = (details, error.details.as_mut()) {
                    mine.extend(extra);
                }
                error
            })?;
            done.referees.push(record);
            for members in judged {
                groups.push(members.into_iter().map(|m| answered[m]).collect());
            }
        }
        _ => {
            // The vote each group was made by, in the groups' order.
            let mut keys: Vec<String> = Vec::new();
            for &agent in &answered {
                let Ok(conversed) = &results[agent].1 else { continue };
                match vote_of(&plan.compare, conversed) {
                    Ok(key) => {
                        records[agent].vote = Some(match &plan.compare {
                            Compare::Label(_) | Compare::Exact => key.clone(),
                            _ => key.chars().take(200).collect(),
                        });
                        match keys.iter().position(|k| *k == key) {
                            Some(g) => groups[g].push(agent),
                            None => {
                                keys.push(key);
                                groups.push(vec![agent]);
                            }
                        }
                    }
                    Err(why) => records[agent].vote = Some(format!("no vote: its answer {why}")),
                }
            }
        }
    }
    // The most votes first (equal ones in the agents' order).
    groups.sort_by_key(|members| std::cmp::Reverse(members.len()));
    for (g, members) in groups.iter().enumerate() {
        for &agent in members {
            records[agent].group = Some(g);
        }
    }
    done.groups = groups
        .iter()
        .map(|members| Group {
            answer: records[members[0]].answer.clone().unwrap_or(Json::Null),
            agents: members.iter().map(|&a| records[a].agent.clone()).collect(),
            votes: members.len(),
        })
        .collect();
    done.agents = records;
    let total = plan.agents.len();
    let top = groups.iter().map(Vec::len).max().unwrap_or(0);
    let leaders: Vec<usize> = (0..groups.len()).filter(|&g| groups[g].len() == top).collect();
    let winner = match leaders.as_slice() {
        [one] if !plan.majority || top * 2 > total => {
            done.decided_by = Some(if plan.majority { "majority" } else { "plurality" });
            Some(*one)
        }
        _ => None,
    };
    let winner = match (winner, &plan.tie_breaker) {
        (Some(g), _) => g,
        (None, Some(tie)) if !groups.is_empty() => {
            // A tie: the tied groups; no majority: every group.
            let candidates: Vec<usize> = if leaders.len() > 1 { leaders.clone() } else { (0..groups.len()).collect() };
            let answers: Vec<String> = candidates
                .iter()
                .map(|&g| results[groups[g][0]].1.as_ref().map(|d| d.answer.content.clone()).unwrap_or_default())
                .collect();
            let (choice, record) = tie_break(ctx, tie, task, &answers, item, index)
                .await
                .map_err(|e| failed(e.code, format!("the tie-breaker failed: {}", e.message), e.class, index, &done))?;
            done.referees.push(record);
            done.decided_by = Some("tieBreaker");
            candidates[choice]
        }
        (None, _) => {
            let tally = done
                .groups
                .iter()
                .map(|g| format!("{} ({})", g.agents.join(", "), g.votes))
                .collect::<Vec<_>>()
                .join(" vs ");
            let answered_count = answered.len();
            let message = if groups.is_empty() {
                format!("no agent's answer counted as a vote ({answered_count} of {total} answered)")
            } else if leaders.len() > 1 {
                format!("the agents tied: {tally}")
            } else {
                format!("no answer got more than half of the {total} agents' votes: {tally}")
            };
            return Err(failed(ErrorCode::NoConsensus, message, ErrorClass::Permanent, index, &done));
        }
    };
    let first = groups[winner][0];
    done.answer = done.agents[first].answer.clone().unwrap_or(Json::Null);
    done.winner = Some(done.agents[first].agent.clone());
    Ok(done)
}

/// One structured call of a judge or tie-breaker, read by `parse`; retried by the item's
/// policy when the answer does not fit (`parse` says why not).
async fn ask_referee<T>(
    ctx: &NodeContext,
    referee: &Referee,
    role: &'static str,
    [system, user]: [String; 2],
    answer_schema: Json,
    (item, index): (&Item, usize),
    parse: &(dyn Fn(&Json) -> Result<T, String> + Sync),
) -> Result<(T, RefereeRecord), NodeError> {
    let asked = if referee.model.is_empty() { ctx.str_param("model", item, index)? } else { referee.model.clone() };
    let model = referee.account.model_name(&asked, if role == "judge" { "judgeModel" } else { "tieBreakerModel" })?;
    let request = ChatRequest {
        model: model.clone(),
        messages: vec![Message::new(Role::System, system), Message::new(Role::User, user)],
        temperature: Some(0.0),
        max_tokens: None,
        seed: None,
        stop: Vec::new(),
        shape: Shape::Schema(answer_schema),
        tools: Vec::new(),
        stream: false,
        timeout: referee.timeout,
    };
    let started = tokio::time::Instant::now();
    let (answer, value, parsed): (Answer, Json, T) = ctx
        .retry_item(index, || async {
            let answer = referee.account.chat(ctx, &request, index, &|_| {}).await?;
            let value = shaped(&request.shape, &answer, &model)?.unwrap_or(Json::Null);
            let parsed = parse(&value).map_err(|why| {
                NodeError::new(ErrorCode::InvalidOutput, format!("the {role} model \"{model}\" answered: {why}"))
                    .with_class(ErrorClass::InvalidOutput)
                    .with_item(index)
            })?;
            Ok((answer, value, parsed))
        })
        .await?;
    let record = RefereeRecord {
        role,
        model: model.clone(),
        account: referee.account.account.clone(),
        tokens_in: u64::from(answer.tokens_in),
        tokens_out: u64::from(answer.tokens_out),
        latency_ms: started.elapsed().as_millis() as u64,
        answer: value,
    };
    Ok((parsed, record))
}

fn numbered(answers: &[String]) -> String {
    answers.iter().enumerate().map(|(i, a)| format!("Answer {}:\n{}", i + 1, a.trim())).collect::<Vec<_>>().join("\n\n")
}

/// The judge's grouping of `answers` (indexes into it): every answer in exactly one group.
async fn judge_groups(
    ctx: &NodeContext,
    judge: &Referee,
    task: &str,
    answers: &[String],
    item: &Item,
    index: usize,
) -> Result<(Vec<Vec<usize>>, RefereeRecord), NodeError> {
    let n = answers.len();
    let system = format!(
        "You compare answers that several assistants gave to the same task, and group the answers that say the \
         same thing (the same decision, fact or label), however they are worded. Reply with JSON: \
         {{\"groups\": [[answer numbers that agree], …]}}; every answer number from 1 to {n} in exactly one group.{}",
        if judge.instructions.trim().is_empty() { String::new() } else { format!("\n{}", judge.instructions.trim()) }
    );
    let user = format!("Task:\n{task}\n\n{}", numbered(answers));
    let answer_schema = json!({
        "type": "object",
        "properties": {"groups": {"type": "array", "items": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": n}}}},
        "required": ["groups"],
        "additionalProperties": false
    });
    let parse = |value: &Json| partition(value, n);
    ask_referee(ctx, judge, "judge", [system, user], answer_schema, (item, index), &parse).await
}

/// The judge's groups as 0-based indexes, if they put every answer in exactly one group.
fn partition(value: &Json, n: usize) -> Result<Vec<Vec<usize>>, String> {
    let groups = value.get("groups").and_then(|g| g.as_array()).ok_or("no groups")?;
    let mut seen = vec![false; n];
    let mut out = Vec::new();
    for group in groups {
        let mut members = Vec::new();
        for number in group.as_array().ok_or("a group is not a list")? {
            let k = number
                .as_u64()
                .filter(|k| (1..=n as u64).contains(k))
                .ok_or(format!("{number} is not an answer number 1–{n}"))? as usize;
            if std::mem::replace(&mut seen[k - 1], true) {
                return Err(format!("answer {k} is in two groups"));
            }
            members.push(k - 1);
        }
        if !members.is_empty() {
            out.push(members);
        }
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        return Err(format!("answer {} is in no group", missing + 1));
    }
    Ok(out)
}

/// The tie-breaker's choice among `answers` (an index into it).
async fn tie_break(
    ctx: &NodeContext,
    tie: &Referee,
    task: &str,
    answers: &[String],
    item: &Item,
    index: usize,
) -> Result<(usize, RefereeRecord), NodeError> {
    let n = answers.len();
    let system = format!(
        "Several assistants answered the same task and their votes did not decide between these answers. Choose \
         the best answer. Reply with JSON: {{\"choice\": <its number, 1 to {n}>}}.{}",
        if tie.instructions.trim().is_empty() { String::new() } else { format!("\n{}", tie.instructions.trim()) }
    );
    let user = format!("Task:\n{task}\n\n{}", numbered(answers));
    let answer_schema = json!({
        "type": "object",
        "properties": {"choice": {"type": "integer", "minimum": 1, "maximum": n}},
        "required": ["choice"],
        "additionalProperties": false
    });
    // The schema bounds the number: 1 to n.
    let parse = |value: &Json| {
        value
            .get("choice")
            .and_then(Json::as_u64)
            .map(|k| k.clamp(1, n as u64) as usize - 1)
            .ok_or("no choice".to_string())
    };
    ask_referee(ctx, tie, "tieBreaker", [system, user], answer_schema, (item, index), &parse).await
}

/// The item with the answer and the record added.
fn merged(ctx: &NodeContext, item: Item, index: usize, done: Done) -> Item {
    let mut item = item;
    let json = item.take_json();
    let mut object = crate::llm::answer_object(json);
    let field = crate::llm::answer_field(ctx);
    object.insert(field.as_str(), Value::from(done.answer.clone()));
    if ctx.raw_param("records").as_bool().unwrap_or(true) {
        object.insert("orchestration", Value::from(serde_json::to_value(&done).unwrap_or(Json::Null)));
    }
    item.reshaped(Value::object(object), Paired::item(index))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_compared_after_normalising() {
        assert_eq!(normalised("  Billing.\n"), normalised("billing"));
        assert_eq!(normalised("\"Yes!\""), "yes");
        assert_ne!(normalised("bug"), normalised("bugs"));
        assert_eq!(canonical(&json!({"b": 1, "a": {"y": 2, "x": [1]}})), r#"{"a":{"x":[1],"y":2},"b":1}"#);
    }

    #[test]
    fn labels_are_found_as_whole_words() {
        let labels: Vec<String> = ["billing", "bug", "feature request"].iter().map(|s| s.to_string()).collect();
        assert_eq!(label_of("Billing", &labels).unwrap(), "billing");
        assert_eq!(label_of("This is a feature request.", &labels).unwrap(), "feature request");
        assert_eq!(label_of("I think: BUG", &labels).unwrap(), "bug");
        assert!(label_of("debugging", &labels).unwrap_err().contains("none"));
        assert!(label_of("a bug in billing", &labels).unwrap_err().contains("several"));
    }

    #[test]
    fn a_judge_must_place_every_answer_once() {
        assert_eq!(partition(&json!({"groups": [[1, 3], [2]]}), 3).unwrap(), vec![vec![0, 2], vec![1]]);
        assert!(partition(&json!({"groups": [[1, 2]]}), 3).unwrap_err().contains("answer 3 is in no group"));
        assert!(partition(&json!({"groups": [[1, 2], [2, 3]]}), 3).unwrap_err().contains("two groups"));
        assert!(partition(&json!({"groups": [[4]]}), 3).is_err());
    }

    #[test]
    fn prompt_hashes_name_what_was_asked() {
        assert_eq!(prompt_hash("s", "u"), prompt_hash("s", "u"));
        assert_ne!(prompt_hash("s", "u"), prompt_hash("su", ""));
        assert_eq!(prompt_hash("s", "u").len(), 16);
    }
}
