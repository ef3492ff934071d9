//! Execute Workflow: calls another workflow (a saved one by id, or a workflow file by path)
//! that starts at its "When called by another workflow" trigger, once with all items or once
//! per item, and waits for its result or lets it run on. How a call is checked and started
//! is in [`crate::subflow`]; the host loads and records the called runs.

use crate::access::{Access, AccessKind, is_workflow_id};
use crate::node::{NodeContext, NodeResult, Outputs};
use crate::registry::{CheckContext, NodeEntry};
use crate::subflow::{Callable, Caller, ChildCall, Target, check_items, child_failed, depth_error, resolve_path};
use futures::StreamExt;
use std::sync::Arc;
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError, ValidationIssue};
use switchyard_model::execution::RunStatus;
use switchyard_model::item::{Item, Paired};
use switchyard_model::value::{Object, Value};
use switchyard_model::workflow::{MAIN, Node, OnError};

pub const TYPE: &str = "flow.execute_workflow";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx))).with_check(check).with_access(access)
}

pub fn descriptor() -> NodeDescriptor {
    let mut d = super::descriptor(
        TYPE,
        "Execute Workflow",
        "Calls another workflow, which starts at its \"When called by another workflow\" trigger with this node's \
         items. Waiting for it, the output is the called workflow's result (the items of its last nodes); not \
         waiting, it is {executionId} and the called run goes on by itself. A failure in the called workflow is \
         this node's error, naming the workflow and its node; retries and \"On error\" apply as to any node.",
        NodeGroup::Flow,
        "workflow",
        vec![Port::main()],
        vec![
            ParamSpec::options(
                "source",
                "Workflow",
                &[("saved", "A saved workflow"), ("file", "A workflow file")],
                "saved",
            ),
            ParamSpec::workflow("workflowId", "Saved workflow").required().show_if("source", &["saved"]),
            ParamSpec::string("path", "File")
                .required()
                .placeholder("~/workflows/enrich.switchyard.json")
                .describe("A full path, or one relative to this workflow's file when it runs from a file.")
                .show_if("source", &["file"]),
            ParamSpec::options(
                "mode",
                "Run",
                &[("once", "Once with all items"), ("each", "Once for each item")],
                "once",
            ),
            ParamSpec::integer("concurrency", "Calls at once", Some(1.0), Some(50.0))
                .default_value(1)
                .describe("How many items' calls run at the same time; the output keeps the items' order.")
                .show_if("mode", &["each"]),
            ParamSpec::boolean("wait", "Wait for the result", true).describe(
                "Off: the output is {executionId} as soon as the called workflow started, and it runs to its end \
                 even when this run ends first.",
            ),
        ],
    );
    // Each call is retried on its own (once per item in "each" mode).
    d.per_item_calls = true;
    d
}

fn target_of(node: &Node) -> Option<Target> {
    let text = |name: &str| node.parameters.get(name).and_then(|v| v.as_str()).map(str::trim).unwrap_or("");
    match text("source") {
        "file" => Some(Target::File(text("path").to_string())).filter(|_| !text("path").is_empty()),
        _ => Some(Target::Saved(text("workflowId").to_string())).filter(|_| !text("workflowId").is_empty()),
    }
}

/// A saved workflow it calls, or a workflow file as its path is written (a computed path:
/// the part before the expression).
fn access(node: &Node) -> Vec<Access> {
    match target_of(node) {
        Some(Target::Saved(id)) => vec![Access { kind: AccessKind::Call, pattern: id }],
        Some(Target::File(path)) => vec![Access::new(AccessKind::Call, &path)],
        None => vec![],
    }
}

fn check(node: &Node, cx: &CheckContext<'_>) -> Vec<ValidationIssue> {
    match target_of(node) {
        Some(Target::Saved(id)) if !is_workflow_id(&id) => {
            vec![cx.parameter_issue(format!("workflowId: \"{id}\" is not a workflow id"))]
        }
        Some(Target::Saved(id)) if id == cx.workflow.id => vec![
            ValidationIssue::new(
                ErrorCode::CallCycle,
                format!("$.nodes[{}].parameters.workflowId", cx.index),
                format!("workflow \"{}\" calls itself: {} → {}", cx.workflow.name, cx.workflow.name, cx.workflow.name),
            )
            .at_node(&node.id, &node.name),
        ],
        _ => vec![],
    }
}

/// The call's settings, read once.
struct Settings {
    wait: bool,
    each: bool,
    concurrency: usize,
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let host = ctx.services.subflows.clone().ok_or_else(|| {
        NodeError::new(ErrorCode::Internal, "this run cannot call workflows (its host loads none)")
            .with_class(ErrorClass::Permanent)
    })?;
    let settings = Settings {
        wait: ctx.raw_param("wait").as_bool().unwrap_or(true),
        each: ctx.choice("mode") == "each",
        concurrency: ctx.raw_param("concurrency").as_u64().unwrap_or(1).clamp(1, 50) as usize,
    };
    let caller = Caller::of(ctx);
    if caller.depth >= ctx.services.max_call_depth {
        return Err(depth_error(ctx.services.max_call_depth, &caller));
    }
    let items = ctx.take_input(0).into_vec();
    let target = target(ctx, items.first().unwrap_or(&Item::empty()))?;
    let callable = Arc::new(ctx.retry_item(0, || host.load(&target, &caller)).await?);
    let mut out = Outputs::new();
    if !settings.each {
        if let Err(error) = check_items(callable.workflow(), &callable.inputs, &items) {
            let index = error.item_index.unwrap_or(0) as usize;
            return fail_all(ctx, &mut out, items, error.with_item(index)).map(|()| out);
        }
        let input = items.clone();
        match call(ctx, &*host, &callable, &caller, input, &settings, 0).await {
            Ok(result) => out.append(MAIN, pair_all(result, items.len())),
            Err(error) => fail_all(ctx, &mut out, items, error)?,
        }
        return Ok(out);
    }
    let total = items.len();
    let ctx: &NodeContext = ctx;
    let (callable, caller, host, settings) = (&callable, &caller, &*host, &settings);
    let calls = items.iter().cloned().enumerate().map(move |(index, item): (usize, Item)| async move {
        let result = match check_items(callable.workflow(), &callable.inputs, std::slice::from_ref(&item)) {
            Ok(()) => call(ctx, host, callable, caller, vec![item], settings, index).await,
            Err(e) => Err(e.with_item(index)),
        };
        (index, result)
    });
    // As many calls at once as asked; a call starts as soon as any other ended, and the
    // results are put back in the items' order.
    let mut results = futures::stream::iter(calls).buffer_unordered(settings.concurrency);
    let mut outcomes: Vec<Option<Result<Vec<Item>, NodeError>>> = (0..total).map(|_| None).collect();
    let mut done = 0;
    while let Some((index, result)) = results.next().await {
        done += 1;
        ctx.progress(done, total);
        // Stopping on errors: the first failed call fails the node, the others are stopped.
        if ctx.on_error() == OnError::Stop {
            result.as_ref().map_err(|e| e.clone())?;
        }
        outcomes[index] = Some(result);
    }
    drop(results);
    for ((index, item), outcome) in items.into_iter().enumerate().zip(outcomes) {
        match outcome.unwrap_or_else(|| Err(NodeError::new(ErrorCode::Internal, "a call gave no result"))) {
            Ok(result) => out.extend(
                MAIN,
                result.into_iter().map(|mut r| {
                    r.set_paired(Paired::item(index));
                    r
                }),
            ),
            Err(error) => ctx.item_failed(&mut out, item, index, error)?,
        }
    }
    Ok(out)
}

/// The workflow to call; a computed path is evaluated against the first item.
fn target(ctx: &NodeContext, first: &Item) -> Result<Target, NodeError> {
    if ctx.choice("source") == "file" {
        let path = ctx.str_param("path", first, 0)?;
        if path.trim().is_empty() {
            return Err(NodeError::new(ErrorCode::InvalidParameter, "no workflow file given").with_parameter("path"));
        }
        // The approval covers the path as written; the folders allowed cover where it is.
        ctx.services.local.check(AccessKind::Call, path.trim())?;
        let resolved = resolve_path(&path, ctx.services.workflow_file.as_deref())
            .map_err(|m| NodeError::new(ErrorCode::InvalidParameter, m).with_parameter("path"))?;
        let resolved = std::path::PathBuf::from(crate::access::resolve_dots(&resolved.to_string_lossy()));
        ctx.services.local.check_roots(AccessKind::Call, &resolved)?;
        Ok(Target::File(resolved.to_string_lossy().into_owned()))
    } else {
        let id = ctx.choice("workflowId");
        if id.trim().is_empty() {
            return Err(NodeError::new(ErrorCode::InvalidParameter, "no workflow chosen").with_parameter("workflowId"));
        }
        ctx.services.local.check(AccessKind::Call, id.trim())?;
        Ok(Target::Saved(id.trim().to_string()))
    }
}

/// One call under the node's retry policy: the child's result items, or `{executionId}`
/// when not waiting; a child that did not succeed is an error naming it.
async fn call(
    ctx: &NodeContext,
    host: &dyn crate::subflow::SubWorkflows,
    callable: &Arc<Callable>,
    caller: &Caller,
    input: Vec<Item>,
    settings: &Settings,
    index: usize,
) -> Result<Vec<Item>, NodeError> {
    ctx.retry_item(index, || {
        let call = ChildCall {
            callable: callable.clone(),
            input: input.clone(),
            caller: caller.clone(),
            wait: settings.wait,
            cancel: ctx.cancel.clone(),
        };
        let run = host.run(call);
        async move {
            let outcome = run.await?;
            match outcome.status {
                RunStatus::Success => Ok(outcome.items),
                RunStatus::Running if !settings.wait => {
                    let mut started = Object::new();
                    started.insert("executionId", Value::from(outcome.execution_id.as_str()));
                    Ok(vec![Item::new(Value::Object(started))])
                }
                _ => Err(child_failed(callable.workflow(), &outcome)),
            }
        }
    })
    .await
}

/// A whole-call failure, as `onError` says: the error itself, or every item with it.
fn fail_all(ctx: &NodeContext, out: &mut Outputs, items: Vec<Item>, error: NodeError) -> Result<(), NodeError> {
    for (index, item) in items.into_iter().enumerate() {
        ctx.item_failed(out, item, index, error.clone())?;
    }
    Ok(())
}

/// Pairs a child's result with the caller's items: all with the one item when there was
/// one, one to one when the counts match; otherwise the lineage is unknown (none).
fn pair_all(mut result: Vec<Item>, given: usize) -> Vec<Item> {
    let same = result.len() == given;
    for (i, item) in result.iter_mut().enumerate() {
        item.set_paired(match (given, same) {
            (1, _) => Paired::item(0),
            (_, true) => Paired::item(i),
            _ => Paired::None,
        });
    }
    result
}
