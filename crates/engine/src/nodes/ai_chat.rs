//! AI Chat: asks a chat model once per item (a system prompt, earlier messages and a
//! prompt, all expressions over the item) and puts its answer into the item: as text, or
//! as the fields of a JSON answer that is validated against the node's JSON schema (an
//! answer that does not fit is an `invalid_output` error, which a retry policy may retry).
//! The answer streams onto the canvas while it comes in.

use crate::llm::{Answer, ChatModel, ChatRequest, Message, Role, Shape, Streamer, schema, shaped};
use crate::node::{NodeContext, NodeResult};
use crate::registry::{CheckContext, NodeEntry};
use std::time::Duration;
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError, ValidationIssue};
use switchyard_model::item::{Item, Paired};
use switchyard_model::value::{Object, Value};
use switchyard_model::workflow::Node;

pub const TYPE: &str = "ai.chat";

/// The credential slot of the model account.
pub const SLOT: &str = "model";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx))).with_check(check)
}

const SHAPES: &[(&str, &str)] =
    &[("text", "Text"), ("json", "A JSON object"), ("schema", "JSON matching a schema (structured output)")];

pub fn descriptor() -> NodeDescriptor {
    let mut d = super::descriptor(
        TYPE,
        "AI Chat",
        "Asks a chat model (OpenAI, Ollama, LM Studio, llama.cpp and other OpenAI-compatible servers) once per item \
         and adds its answer to the item: as text, or as fields of a JSON answer checked against a schema. The \
         answer streams onto the node while it comes in.",
        NodeGroup::Action,
        "sparkles",
        vec![Port::main()],
        parameters(),
    );
    d.per_item_calls = true;
    d.credentials = vec![crate::llm::slot(SLOT)];
    d
}

/// The model's settings (shared with the agent nodes).
pub(crate) fn model_parameters() -> Vec<ParamSpec> {
    vec![
        ParamSpec::string("model", "Model")
            .placeholder("the account's default model")
            .describe("The model's name on the server, e.g. llama3.2 or gpt-4o-mini; empty: the account's default."),
        ParamSpec::number("temperature", "Temperature").describe(
            "0 answers the same way each time, higher values vary more (usually 0–2); empty: the server's default.",
        ),
        ParamSpec::integer("maxTokens", "Max tokens", Some(1.0), None)
            .describe("The longest answer, in tokens; empty: the server's default."),
        ParamSpec::integer("seed", "Seed", None, None)
            .describe("Servers that support it answer the same prompt the same way for the same seed."),
        ParamSpec::string("stop", "Stop sequences")
            .rows(2)
            .describe("One per line: the answer ends before any of them."),
        ParamSpec::boolean("stream", "Stream the answer", true)
            .describe("Show the answer while it is written. Off: wait for the whole answer."),
        ParamSpec::number("timeout", "Timeout (seconds)").default_value(300),
    ]
}

fn parameters() -> Vec<ParamSpec> {
    let mut params = vec![
        ParamSpec::string("systemPrompt", "System prompt")
            .rows(3)
            .placeholder("You sort support tickets.")
            .describe("How the model should behave; may use the item's fields."),
        ParamSpec::list(
            "messages",
            "Earlier messages",
            "Add message",
            vec![
                ParamSpec::options(
                    "role",
                    "Role",
                    &[("user", "User"), ("assistant", "Assistant"), ("system", "System")],
                    "user",
                ),
                ParamSpec::string("content", "Text").rows(2),
            ],
        )
        .describe("Messages before the prompt (examples, or a conversation so far)."),
        ParamSpec::string("prompt", "Prompt").required().rows(5).placeholder("Sort this ticket: {{ json.text }}"),
        ParamSpec::options("output", "Answer as", SHAPES, "text"),
        ParamSpec::json_schema("schema", "Output schema")
            .default_value(serde_json::json!({
                "type": "object",
                "properties": {"answer": {"type": "string"}},
                "required": ["answer"],
                "additionalProperties": false
            }))
            .describe(
                "A JSON schema of the answer (type, properties, required, enum, items, minimum/maximum, pattern, \
                 anyOf, $defs). Sent to servers that take one; every answer is checked against it here.",
            )
            .show_if("output", &["schema"]),
        ParamSpec::string("answerField", "Put the answer in")
            .default_value("answer")
            .literal()
            .describe("The item's field that gets the answer's text.")
            .show_if("output", &["text"]),
        ParamSpec::string("fieldsUnder", "Put the fields under")
            .literal()
            .placeholder("the item itself")
            .describe("Empty: the answer's fields are merged into the item. A name: they go under that field.")
            .show_if("output", &["json", "schema"]),
        ParamSpec::boolean("details", "Add details", false)
            .describe("Adds chat: {model, tokensIn, tokensOut, finishReason} to each item."),
    ];
    params.splice(3..3, model_parameters());
    params
}

/// The temperature stays in the range servers take.
fn check(node: &Node, cx: &CheckContext<'_>) -> Vec<ValidationIssue> {
    match node.parameters.get("temperature").and_then(|v| v.as_f64()) {
        Some(t) if !(0.0..=2.0).contains(&t) => vec![cx.parameter_issue(format!("temperature: {t} is outside 0–2"))],
        _ => Vec::new(),
    }
}

/// Settings read once per node run.
pub(crate) struct Settings {
    pub shape: Shape,
    pub stream: bool,
    pub timeout: Duration,
    pub stop: Vec<String>,
}

impl Settings {
    pub(crate) fn read(ctx: &NodeContext) -> Result<Settings, NodeError> {
        let shape = match ctx.choice("output").as_str() {
            "json" => Shape::Json,
            "schema" => {
                let schema = ctx.raw_param("schema");
                schema::check(&schema).map_err(|m| {
                    NodeError::new(ErrorCode::InvalidParameter, m)
                        .with_parameter("schema")
                        .with_class(ErrorClass::Permanent)
                })?;
                Shape::Schema(schema)
            }
            _ => Shape::Text,
        };
        let timeout = ctx.raw_param("timeout").as_f64().unwrap_or(300.0);
        if !(timeout > 0.0 && timeout.is_finite()) {
            return Err(NodeError::new(ErrorCode::InvalidParameter, "the timeout must be above 0 seconds")
                .with_parameter("timeout"));
        }
        let stop = ctx
            .raw_param("stop")
            .as_str()
            .unwrap_or("")
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        Ok(Settings {
            shape,
            stream: ctx.raw_param("stream").as_bool().unwrap_or(true),
            timeout: Duration::from_secs_f64(timeout),
            stop,
        })
    }
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let model = ChatModel::for_slot(ctx, SLOT).await?;
    let settings = Settings::read(ctx)?;
    let items = ctx.take_input(0).into_vec();
    let ctx: &NodeContext = ctx;
    let (model, settings) = (&model, &settings);
    ctx.each_item(items, |index, item| async move {
        let answered = match request(ctx, model, settings, &item, index) {
            Ok(request) => ctx.retry_item(index, || ask(ctx, model, settings, &request, index)).await,
            Err(e) => Err(e),
        };
        let result =
            answered.and_then(|(answer, value)| merged(ctx, item.clone(), index, &answer, value)).map(|i| vec![i]);
        (item, result)
    })
    .await
}

/// The messages for one item, from the node's parameters.
fn request(
    ctx: &NodeContext,
    model: &ChatModel,
    settings: &Settings,
    item: &Item,
    index: usize,
) -> Result<ChatRequest, NodeError> {
    let mut messages = Vec::new();
    let system = ctx.str_param("systemPrompt", item, index)?;
    if !system.trim().is_empty() {
        messages.push(Message::new(Role::System, system));
    }
    let contents = super::compile_list(ctx, "messages", "content")?;
    let entries = ctx.raw_param("messages").as_array().cloned().unwrap_or_default();
    for (i, (entry, content)) in entries.iter().zip(&contents).enumerate() {
        let role_text = entry.get("role").and_then(|r| r.as_str()).unwrap_or("user");
        let role = Role::parse(role_text).filter(|r| *r != Role::Tool).ok_or_else(|| {
            NodeError::new(ErrorCode::UnknownOption, format!("unknown role \"{role_text}\" (user, assistant, system)"))
                .with_parameter(format!("messages[{i}].role"))
        })?;
        let text = ctx.evaluator().eval(content, item, index).map_err(|e| {
            NodeError::new(e.code(), e.message).with_parameter(format!("messages[{i}].content")).with_item(index)
        })?;
        messages.push(Message::new(role, text.to_text()));
    }
    messages.push(Message::new(Role::User, prompt_of(ctx, item, index)?));
    let optional_number = |name: &str| ctx.optional_f64_param(name, item, index);
    let whole = |name: &str, value: Option<f64>| -> Result<Option<f64>, NodeError> {
        match value {
            Some(v) if v.fract() != 0.0 => {
                Err(NodeError::new(ErrorCode::InvalidParameter, format!("expected a whole number, got {v}"))
                    .with_parameter(name)
                    .with_item(index))
            }
            other => Ok(other),
        }
    };
    let max_tokens = whole("maxTokens", optional_number("maxTokens")?)?;
    if max_tokens.is_some_and(|n| n < 1.0) {
        return Err(
            NodeError::new(ErrorCode::InvalidParameter, "max tokens must be 1 or more").with_parameter("maxTokens")
        );
    }
    Ok(ChatRequest {
        model: model.model_name(&ctx.str_param("model", item, index)?, "model")?,
        messages,
        temperature: optional_number("temperature")?,
        max_tokens: max_tokens.map(|n| n as u64),
        seed: whole("seed", optional_number("seed")?)?.map(|n| n as i64),
        stop: settings.stop.clone(),
        shape: settings.shape.clone(),
        tools: Vec::new(),
        stream: settings.stream,
        timeout: settings.timeout,
    })
}

/// The item's prompt (the `prompt` parameter); an empty one is an error naming the item.
pub(crate) fn prompt_of(ctx: &NodeContext, item: &Item, index: usize) -> Result<String, NodeError> {
    let prompt = ctx.str_param("prompt", item, index)?;
    if prompt.trim().is_empty() {
        return Err(NodeError::new(ErrorCode::InvalidParameter, "the prompt is empty for this item")
            .with_parameter("prompt")
            .with_item(index)
            .with_class(ErrorClass::Permanent));
    }
    Ok(prompt)
}

/// One try: the answer streamed onto the canvas, and checked against the shape asked for.
async fn ask(
    ctx: &NodeContext,
    model: &ChatModel,
    settings: &Settings,
    request: &ChatRequest,
    index: usize,
) -> Result<(Answer, Option<serde_json::Value>), NodeError> {
    let streamer = Streamer::start(ctx, index);
    let answer = model.chat(ctx, request, index, &|text| streamer.push(text)).await;
    streamer.flush();
    let answer = answer?;
    let value = shaped(&settings.shape, &answer, &request.model).map_err(|e| e.with_item(index))?;
    Ok((answer, value))
}

/// The item with the answer added where the node says.
fn merged(
    ctx: &NodeContext,
    item: Item,
    index: usize,
    answer: &Answer,
    value: Option<serde_json::Value>,
) -> Result<Item, NodeError> {
    let mut item = item;
    let json = item.take_json();
    let mut object = crate::llm::answer_object(json);
    match value {
        None => {
            let field = crate::llm::answer_field(ctx);
            object.insert(field.as_str(), Value::from(answer.content.as_str()));
        }
        Some(value) => {
            let under = ctx.raw_param("fieldsUnder").as_str().unwrap_or("").trim().to_string();
            match (under.is_empty(), Value::from(value)) {
                (true, Value::Object(fields)) => {
                    for (k, v) in fields.iter() {
                        object.insert(k, v.clone());
                    }
                }
                (true, other) => {
                    object.insert("answer", other);
                }
                (false, value) => {
                    object.insert(under.as_str(), value);
                }
            }
        }
    }
    if ctx.raw_param("details").as_bool().unwrap_or(false) {
        let details: Object = [
            ("model", Value::from(answer.model.as_str())),
            ("tokensIn", Value::from(u64::from(answer.tokens_in))),
            ("tokensOut", Value::from(u64::from(answer.tokens_out))),
            ("finishReason", Value::from(answer.finish_reason.as_str())),
        ]
        .into_iter()
        .collect();
        object.insert("chat", Value::object(details));
    }
    Ok(item.reshaped(Value::object(object), Paired::item(index)))
}
