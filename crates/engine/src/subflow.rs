//! Sub-workflows: a workflow calls another through Execute Workflow; the called one starts
//! at its "When called by another workflow" trigger, which declares the input fields it
//! takes. The engine knows how to check a call and how to run one in this process
//! ([`InProcess`]); where called workflows come from and how their runs are recorded is the
//! host's ([`SubWorkflows`], implemented by crates/api over the store).
//!
//! The same interface serves any caller that has JSON arguments rather than items (an AI
//! agent's tool call): [`check_arguments`] validates them against the declared inputs, and
//! [`json_schema`] describes the inputs as a JSON schema.

use crate::node::BoxFuture;
use crate::registry::Registry;
use crate::trigger::Trigger;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, Weak};
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError};
use switchyard_model::execution::RunStatus;
use switchyard_model::item::Item;
use switchyard_model::value::Value;
use switchyard_model::workflow::Workflow;
use tokio_util::sync::CancellationToken;

/// How deep calls may nest unless Settings say otherwise.
pub const DEFAULT_MAX_DEPTH: u32 = 16;

/// Which workflow a call runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// A saved workflow, by id.
    Saved(String),
    /// A workflow file, by path (relative paths: from the calling workflow's file).
    File(String),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Saved(id) => write!(f, "workflow {id}"),
            Target::File(path) => write!(f, "workflow file {path}"),
        }
    }
}

/// The type of a declared input field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FieldKind {
    String,
    Number,
    Boolean,
    Object,
    Array,
    #[default]
    Any,
}

impl FieldKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldKind::String => "string",
            FieldKind::Number => "number",
            FieldKind::Boolean => "boolean",
            FieldKind::Object => "object",
            FieldKind::Array => "array",
            FieldKind::Any => "any",
        }
    }

    fn accepts(self, value: &Value) -> bool {
        match self {
            FieldKind::String => matches!(value, Value::String(_)),
            FieldKind::Number => matches!(value, Value::Int(_) | Value::Float(_)),
            FieldKind::Boolean => matches!(value, Value::Bool(_)),
            FieldKind::Object => matches!(value, Value::Object(_)),
            FieldKind::Array => matches!(value, Value::Array(_)),
            FieldKind::Any => true,
        }
    }
}

/// One input field a called workflow declares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputField {
    pub name: String,
    #[serde(rename = "type", default)]
    pub kind: FieldKind,
    #[serde(default)]
    pub required: bool,
}

/// Checks one item's fields (or an agent's JSON arguments) against the declared inputs:
/// the first required field that is missing or null, or the first field of the wrong type,
/// named. No declared fields: anything goes.
pub fn check_arguments(fields: &[InputField], value: &Value) -> Result<(), String> {
    if fields.is_empty() {
        return Ok(());
    }
    let Value::Object(_) = value else {
        return Err(format!("expected an object with the input fields, got {}", value.type_name()));
    };
    for field in fields {
        match value.get(&field.name) {
            None | Some(Value::Null) if field.required => {
                return Err(format!("input field \"{}\" is required and missing", field.name));
            }
            None | Some(Value::Null) => {}
            Some(v) if !field.kind.accepts(v) => {
                return Err(format!(
                    "input field \"{}\" must be of type {}, got {}",
                    field.name,
                    field.kind.as_str(),
                    crate::node::describe(v)
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// The declared inputs as a JSON schema (an object with these properties), for callers
/// that describe a workflow as a tool.
pub fn json_schema(fields: &[InputField]) -> serde_json::Value {
    let properties: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|f| {
            let schema = match f.kind {
                FieldKind::Any => serde_json::json!({}),
                kind => serde_json::json!({ "type": kind.as_str() }),
            };
            (f.name.clone(), schema)
        })
        .collect();
    let required: Vec<&str> = fields.iter().filter(|f| f.required).map(|f| f.name.as_str()).collect();
    serde_json::json!({ "type": "object", "properties": properties, "required": required })
}

/// Where a called workflow starts, and what it takes: its "When called by another workflow"
/// trigger (the first one).
pub fn entry_point(registry: &Registry, workflow: &Workflow) -> Result<(String, Vec<InputField>), NodeError> {
    workflow
        .nodes
        .iter()
        .filter(|n| !n.settings.disabled)
        .find_map(|n| match registry.trigger_of(n) {
            Some(Trigger::Called { inputs }) => Some((n.id.clone(), inputs(n))),
            _ => None,
        })
        .ok_or_else(|| {
            NodeError::new(
                ErrorCode::InvalidParameter,
                format!(
                    "workflow \"{}\" cannot be called: it has no \"When called by another workflow\" trigger",
                    workflow.name
                ),
            )
            .with_class(ErrorClass::Permanent)
        })
}

/// Checks every item a call would hand to `workflow` against its declared inputs; the error
/// names the workflow, the item and the field.
pub fn check_items(workflow: &Workflow, fields: &[InputField], items: &[Item]) -> Result<(), NodeError> {
    for (index, item) in items.iter().enumerate() {
        check_arguments(fields, &item.json).map_err(|message| {
            NodeError::new(ErrorCode::InvalidParameter, format!("calling workflow \"{}\": {message}", workflow.name))
                .with_class(ErrorClass::Permanent)
                .with_item(index)
        })?;
    }
    Ok(())
}

/// The run that makes a call.
#[derive(Debug, Clone)]
pub struct Caller {
    pub execution_id: String,
    pub workflow_id: String,
    pub workflow_name: String,
    pub node_id: String,
    pub node_name: String,
    /// How deep the calling run is (0: not called by another run).
    pub depth: u32,
    /// The calling workflow's file, when it came from one: relative paths start there.
    pub file: Option<PathBuf>,
    /// The workflows of the bundle file the calling workflow came from, found by id before
    /// saved ones.
    pub bundle: Option<Arc<Vec<Workflow>>>,
}

impl Caller {
    /// The run of the node `ctx` runs, as a caller.
    pub fn of(ctx: &crate::node::NodeContext) -> Caller {
        let env = ctx.evaluator().env();
        Caller {
            execution_id: env.execution_id.clone(),
            workflow_id: env.workflow_id.clone(),
            workflow_name: env.workflow_name.clone(),
            node_id: ctx.node.id.clone(),
            node_name: ctx.node.name.clone(),
            depth: ctx.services.call_depth,
            file: ctx.services.workflow_file.clone(),
            bundle: ctx.services.bundle.clone(),
        }
    }

    /// The workflow with `id` in the caller's bundle, if it came from one that holds it.
    pub fn bundled(&self, id: &str) -> Option<Workflow> {
        self.bundle.as_ref().and_then(|b| b.iter().find(|w| w.id == id).cloned())
    }
}

/// A workflow ready to be called: prepared, with where it starts and what it takes.
#[derive(Debug, Clone)]
pub struct Callable {
    pub target: Target,
    pub prepared: Arc<crate::Prepared>,
    /// The called trigger's node id ([`entry_point`]).
    pub start: String,
    pub inputs: Vec<InputField>,
    /// The workflow's file, when it came from one (for the relative paths of its own calls).
    pub file: Option<PathBuf>,
}

impl Callable {
    /// Checks `workflow` can be called and prepares it.
    pub fn new(
        engine: &crate::Engine,
        target: Target,
        workflow: Workflow,
        file: Option<PathBuf>,
    ) -> Result<Callable, NodeError> {
        let (start, inputs) = entry_point(engine.registry(), &workflow)?;
        let name = workflow.name.clone();
        let prepared = engine.prepare(workflow).map_err(|issues| invalid_child(&name, &issues))?;
        Ok(Callable { target, prepared, start, inputs, file })
    }

    pub fn workflow(&self) -> &Workflow {
        &self.prepared.workflow
    }
}

/// One call: run the callable with `input` as its trigger's items.
pub struct ChildCall {
    pub callable: Arc<Callable>,
    pub input: Vec<Item>,
    pub caller: Caller,
    /// Wait for the end (the calling node's output is the child's result), or return once
    /// the child started (fire and forget: it runs on, whatever the caller does).
    pub wait: bool,
    /// Cancelled when the calling node stops (cancel, the caller's timeout); a child that
    /// is not waited for ignores it.
    pub cancel: CancellationToken,
}

/// How a called run ended (or, for one not waited for, that it started).
#[derive(Debug, Clone)]
pub struct ChildOutcome {
    pub execution_id: String,
    pub status: RunStatus,
    pub error: Option<NodeError>,
    /// The main-output items of the child's last nodes.
    pub items: Vec<Item>,
}

/// Where called workflows come from and how their runs start: the host's side of a call.
pub trait SubWorkflows: Send + Sync {
    /// Loads and prepares the workflow `target` names, for a call from `caller` (checking
    /// that the caller may call it).
    fn load<'a>(&'a self, target: &'a Target, caller: &'a Caller) -> BoxFuture<'a, Result<Callable, NodeError>>;

    /// Starts a run of the callable from its trigger, at depth `call.caller.depth + 1`;
    /// resolves once it ended when `call.wait`, else once it started (status `running`).
    fn run(&self, call: ChildCall) -> BoxFuture<'static, Result<ChildOutcome, NodeError>>;
}

/// Turns a child run that did not succeed into the calling node's error: the child
/// workflow, its failing node and the error class named; the code and class kept, so the
/// caller's retry policy treats it as the child's error.
pub fn child_failed(workflow: &Workflow, outcome: &ChildOutcome) -> NodeError {
    let inner = outcome.error.clone().unwrap_or_else(|| {
        NodeError::new(ErrorCode::Internal, format!("the run ended with status {}", outcome.status.as_str()))
    });
    let at = inner.node_name.as_deref().map(|n| format!(" in node \"{n}\"")).unwrap_or_default();
    let class = match inner.class {
        ErrorClass::Unknown => String::new(),
        c => format!(" ({})", c.as_str()),
    };
    NodeError::new(
        inner.code,
        format!(
            "called workflow \"{}\" (execution {}) failed{at}{class}: {}",
            workflow.name, outcome.execution_id, inner.message
        ),
    )
    .with_class(inner.class)
    .with_retry_after(inner.retry_after_ms.map(std::time::Duration::from_millis))
    .with_details(serde_json::json!({
        "executionId": outcome.execution_id,
        "workflowId": workflow.id,
        "workflow": workflow.name,
        "status": outcome.status.as_str(),
        "node": inner.node_name,
        "code": inner.code,
        "class": inner.class,
    }))
}

/// Resolves a workflow file's path as a call names it: `~/` is the home folder; a relative
/// path is relative to the folder of `from` (the calling workflow's file).
pub fn resolve_path(path: &str, from: Option<&Path>) -> Result<PathBuf, String> {
    let expanded = crate::access::expand_home(path.trim());
    if expanded.is_absolute() {
        return Ok(expanded);
    }
    match from.and_then(Path::parent) {
        Some(folder) => Ok(folder.join(expanded)),
        None => Err(format!(
            "\"{path}\" is a relative path, which only a workflow run from a file can use (relative to that file): give an absolute path"
        )),
    }
}

/// Runs called workflows in this process with an [`crate::Engine`], from workflows given up
/// front and files on disk; runs are not recorded anywhere. For embedding the engine and
/// for tests; the app and the CLI record called runs through crates/api.
pub struct InProcess {
    engine: OnceLock<Weak<crate::Engine>>,
    saved: HashMap<String, Workflow>,
    /// Listeners every called run reports to.
    listeners: Vec<Arc<dyn crate::RunListener>>,
    ids: std::sync::atomic::AtomicU64,
}

impl InProcess {
    /// Calls of the `saved` workflows (by id) and of workflow files; every called run
    /// reports to `listeners`.
    pub fn new(saved: Vec<Workflow>, listeners: Vec<Arc<dyn crate::RunListener>>) -> Arc<InProcess> {
        Arc::new(InProcess {
            engine: OnceLock::new(),
            saved: saved.into_iter().map(|w| (w.id.clone(), w)).collect(),
            listeners,
            ids: Default::default(),
        })
    }

    /// The engine child runs use (held weakly: the engine's services hold this).
    pub fn attach(&self, engine: &Arc<crate::Engine>) {
        let _ = self.engine.set(Arc::downgrade(engine));
    }

    fn engine(&self) -> Result<Arc<crate::Engine>, NodeError> {
        self.engine
            .get()
            .and_then(Weak::upgrade)
            .ok_or_else(|| NodeError::new(ErrorCode::Internal, "no engine is attached to run called workflows"))
    }
}

impl SubWorkflows for InProcess {
    fn load<'a>(&'a self, target: &'a Target, caller: &'a Caller) -> BoxFuture<'a, Result<Callable, NodeError>> {
        Box::pin(async move {
            let engine = self.engine()?;
            if let Target::Saved(id) = target
                && let Some(workflow) = caller.bundled(id)
            {
                return Callable::new(&engine, target.clone(), workflow, caller.file.clone());
            }
            match target {
                Target::Saved(id) => {
                    let workflow = self.saved.get(id).cloned().ok_or_else(|| {
                        NodeError::new(ErrorCode::NotFound, format!("there is no saved workflow with id \"{id}\""))
                            .with_class(ErrorClass::Permanent)
                    })?;
                    Callable::new(&engine, target.clone(), workflow, None)
                }
                Target::File(path) => {
                    let (workflow, file) = read_workflow_file(path, caller.file.as_deref()).await?;
                    Callable::new(&engine, target.clone(), workflow, Some(file))
                }
            }
        })
    }

    fn run(&self, call: ChildCall) -> BoxFuture<'static, Result<ChildOutcome, NodeError>> {
        let engine = self.engine();
        let n = self.ids.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let listeners = self.listeners.clone();
        Box::pin(async move {
            let engine = engine?;
            let mut services = engine.services().clone();
            services.call_depth = call.caller.depth + 1;
            services.workflow_file = call.callable.file.clone();
            services.bundle = call.caller.bundle.clone();
            let child = engine.with_services(services);
            let execution_id = format!("{}-call-{n}", call.caller.execution_id);
            let cancel = if call.wait { call.cancel.child_token() } else { CancellationToken::new() };
            let request = crate::RunRequest {
                execution_id: execution_id.clone(),
                mode: Some(switchyard_model::execution::RunMode::Called),
                input: call.input,
                start: Some(call.callable.start.clone()),
                cancel,
                listeners,
                ..Default::default()
            };
            let prepared = call.callable.prepared.clone();
            if call.wait {
                let outcome = child.run(prepared, request).await;
                Ok(ChildOutcome { execution_id, status: outcome.status, error: outcome.error, items: outcome.result })
            } else {
                tokio::spawn(async move { child.run(prepared, request).await });
                Ok(ChildOutcome { execution_id, status: RunStatus::Running, error: None, items: Vec::new() })
            }
        })
    }
}

/// The error of a call past the depth limit, naming the calling workflow.
pub fn depth_error(max_depth: u32, caller: &Caller) -> NodeError {
    NodeError::new(
        ErrorCode::CallDepth,
        format!(
            "workflow \"{}\" is already {} calls deep: calls may nest at most {max_depth} deep (Settings → Call depth)",
            caller.workflow_name, caller.depth
        ),
    )
    .with_class(ErrorClass::Permanent)
}

/// A called workflow that does not validate.
pub fn invalid_child(name: &str, issues: &[switchyard_model::error::ValidationIssue]) -> NodeError {
    let text: Vec<String> = issues.iter().take(3).map(|i| format!("{}: {}", i.path, i.message)).collect();
    NodeError::new(
        ErrorCode::InvalidWorkflow,
        format!("the called workflow \"{name}\" is not valid: {}", text.join("; ")),
    )
    .with_class(ErrorClass::Permanent)
}

/// Reads and parses a workflow file a call names, and says where it is; errors name the
/// file (and the line and column of a JSON error).
pub async fn read_workflow_file(path: &str, from: Option<&Path>) -> Result<(Workflow, PathBuf), NodeError> {
    let resolved = resolve_path(path, from)
        .map_err(|m| NodeError::new(ErrorCode::InvalidParameter, m).with_class(ErrorClass::Permanent))?;
    let text = tokio::fs::read_to_string(&resolved).await.map_err(|e| {
        NodeError::new(ErrorCode::NotFound, format!("cannot read workflow file {}: {e}", resolved.display()))
            .with_class(ErrorClass::Permanent)
    })?;
    Ok((parse_workflow(&text, &resolved)?, resolved))
}

/// Parses a workflow file's text; the error names the file, line and column.
pub fn parse_workflow(text: &str, file: &Path) -> Result<Workflow, NodeError> {
    serde_json::from_str(text).map_err(|e| {
        NodeError::new(
            ErrorCode::InvalidWorkflow,
            format!("{}:{}:{}: not a workflow file: {e}", file.display(), e.line(), e.column()),
        )
        .with_class(ErrorClass::Permanent)
    })
}
