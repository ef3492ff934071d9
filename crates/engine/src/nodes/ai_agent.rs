//! AI Agent: a model that may call tools before it answers. Tools are saved workflows
//! (started at their "When called by another workflow" trigger; their declared input fields
//! are the tool's JSON schema, checked before the call) and HTTP requests (the model's
//! arguments fill the URL's expressions and a POST's body). The loop runs until the model
//! answers without asking for a tool, within a step limit and an optional token budget;
//! every turn and tool call is a run event (the live transcript), and the final answer and
//! the transcript are the output. With a conversation key, the conversation is kept between
//! runs (the last N messages), so a chat driven by webhooks keeps its context.

use crate::access::Access;
use crate::llm::agent::{Limits, Speaker, Tools, check_tools, converse, tool_access, tool_auth_slot, tools_parameter};
use crate::llm::{ChatModel, ChatRequest, Memory, MemoryKey, Message, Role, Shape};
use crate::node::{NodeContext, NodeResult};
use crate::nodes::ai_chat::{Settings, model_parameters, prompt_of};
use crate::registry::{CheckContext, NodeEntry};
use serde_json::Value as Json;
use std::sync::Arc;
use std::time::Duration;
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError, ValidationIssue};
use switchyard_model::events::AgentEntry;
use switchyard_model::item::{Item, Paired};
use switchyard_model::value::Value;
use switchyard_model::workflow::Node;

pub const TYPE: &str = "ai.agent";

/// The credential slot of the model account.
pub const SLOT: &str = "model";

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
        tools_parameter()
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
    d.credentials = vec![crate::llm::slot(SLOT), tool_auth_slot()];
    d
}

/// The saved workflows its tools call.
fn access(node: &Node) -> Vec<Access> {
    tool_access(node)
}

fn check(node: &Node, cx: &CheckContext<'_>) -> Vec<ValidationIssue> {
    check_tools(node, cx)
}

/// Everything the loop needs, read once per node run.
struct Agent {
    model: ChatModel,
    settings: Settings,
    tools: Tools,
    limits: Limits,
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
    let timeout = ctx.raw_param("toolTimeout").as_f64().unwrap_or(60.0);
    if !(timeout > 0.0 && timeout.is_finite()) {
        return Err(NodeError::new(ErrorCode::InvalidParameter, "the tool timeout must be above 0 seconds")
            .with_parameter("toolTimeout"));
    }
    let tools = Tools::prepare(ctx, Duration::from_secs_f64(timeout)).await?;
    Ok(Agent {
        model,
        settings,
        tools,
        limits: Limits {
            max_steps: ctx.raw_param("maxSteps").as_u64().unwrap_or(10).clamp(1, 100) as u32,
            token_budget: ctx.raw_param("tokenBudget").as_u64(),
        },
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
    let request = ChatRequest {
        model: model_name,
        messages,
        temperature: ctx.optional_f64_param("temperature", item, index)?,
        max_tokens: ctx.optional_f64_param("maxTokens", item, index)?.map(|n| n as u64),
        seed: ctx.optional_f64_param("seed", item, index)?.map(|n| n as i64),
        stop: agent.settings.stop.clone(),
        shape: Shape::Text,
        tools: agent.tools.offered(None),
        stream: agent.settings.stream,
        timeout: agent.settings.timeout,
    };
    let speaker = Speaker { index, agent: None, stream: true };
    let done = converse(ctx, &agent.tools, request, agent.limits, &agent.model, speaker).await?;
    if let Some((memory, key)) = &memory {
        memory.remember(key, vec![(Role::User, prompt), (Role::Assistant, done.answer.content.clone())]).await?;
    }
    Ok((done.answer.content, done.transcript))
}

/// The item with the answer (and the transcript) added.
fn merged(ctx: &NodeContext, item: Item, index: usize, answer: String, transcript: Vec<AgentEntry>) -> Item {
    let mut item = item;
    let json = item.take_json();
    let mut object = crate::llm::answer_object(json);
    let field = crate::llm::answer_field(ctx);
    object.insert(field.as_str(), Value::from(answer));
    if ctx.raw_param("transcript").as_bool().unwrap_or(true) {
        let entries = serde_json::to_value(&transcript).unwrap_or(Json::Null);
        object.insert("transcript", Value::from(entries));
    }
    item.reshaped(Value::object(object), Paired::item(index))
}
