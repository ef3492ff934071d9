//! Code: runs a rhai script over all items at once or over each item.

use crate::expr::{ScriptLimits, build_engine, compile_script, convert, run_script};
use crate::node::{NodeContext, NodeResult, Outputs};
use crate::registry::NodeEntry;
use rhai::Dynamic;
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::{ErrorCode, NodeError};
use switchyard_model::item::{Item, Paired};
use switchyard_model::value::{MAX_DEPTH, Value};

const DEFAULT_CODE: &str = "// `items` holds the JSON of every input item.\n// Return a list of objects: one output item each.\nitems.map(|item| {\n    item.seen = true;\n    item\n})\n";

pub const TYPE: &str = "code.script";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx)))
}

pub fn descriptor() -> NodeDescriptor {
    super::descriptor(
        TYPE,
        "Code",
        "Runs a rhai script: once with all items (`items`), or once per item (`json`, `index`). Return objects to emit items.",
        NodeGroup::Data,
        "code",
        vec![Port::main()],
        vec![
            ParamSpec::options(
                "mode",
                "Run",
                &[("runOnceForAll", "Once for all items"), ("runOncePerItem", "Once per item")],
                "runOnceForAll",
            ),
            ParamSpec::code("code", "Script", "rhai").required().default_value(DEFAULT_CODE),
        ],
    )
}

/// Script limits scale with the input: a script may touch every item a few times.
fn limits(items: usize, per_item: bool) -> ScriptLimits {
    ScriptLimits {
        max_operations: if per_item { 10_000_000 } else { 10_000_000 + 1_000 * items as u64 },
        max_array_size: (items * 2).max(1_000_000),
        ..ScriptLimits::EXPRESSION
    }
}

fn script_error(message: impl Into<String>) -> NodeError {
    NodeError::new(ErrorCode::ScriptFailed, message).with_parameter("code")
}

/// The largest item a script may emit.
pub const MAX_ITEM_BYTES: usize = 16 * 1024 * 1024;

/// The stack of the thread scripts run on: rhai copies and drops nested values recursively,
/// so a script nesting arrays 200,000 deep needs tens of MiB (only what is touched is used).
const SCRIPT_STACK: usize = 1024 * 1024 * 1024;

/// JSON for an item from a script's value: objects as they are, other values wrapped. Values
/// nested deeper than [`MAX_DEPTH`] or larger than [`MAX_ITEM_BYTES`] are errors.
fn to_item_json(d: &Dynamic) -> Result<Value, NodeError> {
    let value = convert::from_dynamic(d).map_err(|e| {
        let code = if e.too_deep() { ErrorCode::ValueTooLarge } else { ErrorCode::ScriptFailed };
        NodeError::new(code, e.to_string()).with_parameter("code")
    })?;
    if let Some(excess) = value.exceeds(MAX_ITEM_BYTES, MAX_DEPTH) {
        return Err(NodeError::new(ErrorCode::ValueTooLarge, format!("an item the script returned is {excess}"))
            .with_parameter("code"));
    }
    Ok(match value {
        Value::Object(_) => value,
        other => Value::object([("value", other)].into_iter().collect()),
    })
}

/// One item's result: its output item, or the input item, its index and the error.
type ItemOutcome = Result<Item, (Item, usize, NodeError)>;

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let per_item = ctx.choice("mode") == "runOncePerItem";
    let source = ctx.raw_param("code").as_str().unwrap_or_default().to_string();
    let items = ctx.take_input(0).into_vec();
    let mut env = ctx.evaluator().env().clone();
    env.limits = limits(items.len(), per_item);
    let cancel = ctx.cancel.clone();

    let work = move || -> Result<Vec<ItemOutcome>, NodeError> {
        let mut engine = build_engine(&env);
        engine.on_progress(move |_| cancel.is_cancelled().then(|| Dynamic::from("the run was cancelled")));
        let vars: &[&'static str] =
            if per_item { &["json", "index", "workflow", "execution"] } else { &["items", "workflow", "execution"] };
        let ast = compile_script(&engine, &source, vars)
            .map_err(|e| script_error(format!("the script does not compile: {e}")))?;
        let context_vars = |vars: &mut Vec<(&'static str, Dynamic)>| {
            let mut workflow = rhai::Map::new();
            workflow.insert("id".into(), env.workflow_id.clone().into());
            workflow.insert("name".into(), env.workflow_name.clone().into());
            vars.push(("workflow", workflow.into()));
            let mut execution = rhai::Map::new();
            execution.insert("id".into(), env.execution_id.clone().into());
            execution.insert("mode".into(), env.mode.clone().into());
            vars.push(("execution", execution.into()));
        };
        if per_item {
            let mut out = Vec::with_capacity(items.len());
            for (index, item) in items.into_iter().enumerate() {
                let mut vars =
                    vec![("json", convert::to_dynamic(&item.json)), ("index", Dynamic::from_int(index as i64))];
                context_vars(&mut vars);
                match run_script(&engine, &ast, vars) {
                    Ok(d) if d.is_unit() => {}
                    // The item's files stay with it.
                    Ok(d) => match to_item_json(&d) {
                        Ok(json) => {
                            let mut made = Item::derived(json, index);
                            made.set_binary(item.binary().cloned().unwrap_or_default());
                            out.push(Ok(made))
                        }
                        Err(e) => out.push(Err((item, index, e))),
                    },
                    Err(message) => out.push(Err((item, index, script_error(message)))),
                }
            }
            return Ok(out);
        }
        let count = items.len();
        let array: rhai::Array = items.iter().map(|i| convert::to_dynamic(&i.json)).collect();
        drop(items);
        let mut vars = vec![("items", Dynamic::from_array(array))];
        context_vars(&mut vars);
        let result = run_script(&engine, &ast, vars).map_err(script_error)?;
        let values: Vec<Dynamic> = if result.is_unit() {
            Vec::new()
        } else if result.is_array() {
            result.into_array().map_err(|t| script_error(format!("unexpected {t}")))?
        } else {
            vec![result]
        };
        let pair = values.len() == count;
        values
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let json = to_item_json(d)?;
                Ok(Ok(Item::with_paired(json, if pair { Paired::item(i) } else { Paired::None })))
            })
            .collect()
    };
    // On a thread of its own with a large stack (see SCRIPT_STACK), waited for from the
    // blocking pool: the runtime then knows work is in flight (a paused test clock does not
    // jump ahead meanwhile).
    let outcome = tokio::task::spawn_blocking(move || {
        std::thread::Builder::new()
            .name("switchyard-code".into())
            .stack_size(SCRIPT_STACK)
            .spawn(work)
            .map_err(|e| NodeError::new(ErrorCode::Internal, format!("cannot start the script's thread: {e}")))?
            .join()
            .map_err(|_| NodeError::new(ErrorCode::Internal, "the script's thread stopped without an answer"))?
    })
    .await
    .map_err(|e| NodeError::new(ErrorCode::Internal, format!("the script task failed: {e}")))??;

    ctx.check_cancelled()?;
    let mut out = Outputs::new();
    for result in outcome {
        match result {
            Ok(item) => out.push("main", item),
            Err((item, index, error)) => ctx.item_failed(&mut out, item, index, error)?,
        }
    }
    Ok(out)
}
