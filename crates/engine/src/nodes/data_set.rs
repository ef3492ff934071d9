//! Set: assigns fields on each item, keeping, dropping or picking the others.

use crate::expr::Compiled;
use crate::node::{NodeContext, NodeResult, Outputs, as_bool, as_number, describe, field_path};
use crate::registry::NodeEntry;
use std::sync::Arc;
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::{ErrorCode, NodeError};
use switchyard_model::item::{Item, Paired};
use switchyard_model::path::Segment;
use switchyard_model::value::{Object, Value};

pub const TYPE: &str = "data.set";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx)))
}

pub fn descriptor() -> NodeDescriptor {
    super::descriptor(
        TYPE,
        "Set",
        "Sets fields on each item from values or expressions, and keeps, drops or picks the other fields.",
        NodeGroup::Data,
        "pencil",
        vec![Port::main()],
        vec![
            ParamSpec::options("mode", "Mode", &[("manual", "Field by field"), ("json", "JSON object")], "manual"),
            ParamSpec::list(
                "assignments",
                "Fields to set",
                "Add field",
                vec![
                    ParamSpec::string("name", "Name").required().placeholder("address.city"),
                    ParamSpec::string("value", "Value").placeholder("{{ json.city }}"),
                    ParamSpec::options(
                        "type",
                        "Type",
                        &[
                            ("auto", "Keep as is"),
                            ("string", "Text"),
                            ("number", "Number"),
                            ("boolean", "Boolean"),
                            ("json", "JSON"),
                        ],
                        "auto",
                    ),
                ],
            )
            .show_if("mode", &["manual"]),
            ParamSpec::json("json", "JSON")
                .default_value(serde_json::json!({}))
                .describe("An object whose fields are set on each item; strings may hold expressions.")
                .show_if("mode", &["json"]),
            ParamSpec::options(
                "keep",
                "Other fields",
                &[("all", "Keep all"), ("none", "Drop all"), ("selected", "Keep only"), ("except", "Keep all except")],
                "all",
            ),
            ParamSpec::string("fields", "Fields")
                .describe("Comma-separated field names.")
                .placeholder("id, name")
                .show_if("keep", &["selected", "except"]),
            ParamSpec::boolean("dotNotation", "Dot notation", true)
                .describe("A name like \"a.b\" sets field b inside object a."),
        ],
    )
}

struct Assignment {
    name: Arc<Compiled>,
    value: Arc<Compiled>,
    kind: String,
}

enum Keep {
    All,
    None,
    Selected(Vec<Vec<Segment>>),
    Except(Vec<Vec<Segment>>),
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let keep = match ctx.choice("keep").as_str() {
        "none" => Keep::None,
        "selected" => Keep::Selected(field_list(ctx)?),
        "except" => Keep::Except(field_list(ctx)?),
        _ => Keep::All,
    };
    let dot = ctx.raw_param("dotNotation").as_bool().unwrap_or(true);
    let json_mode = ctx.choice("mode") == "json";
    let mut assignments = Vec::new();
    if !json_mode {
        let raw = ctx.raw_param("assignments");
        for (i, entry) in raw.as_array().map_or(&[][..], Vec::as_slice).iter().enumerate() {
            let compile = |field: &str| {
                let raw = entry.get(field).unwrap_or(&serde_json::Value::Null);
                ctx.compiled_part(&format!("assignments[{i}].{field}"), raw)
            };
            assignments.push(Assignment {
                name: compile("name")?,
                value: compile("value")?,
                kind: entry.get("type").and_then(|t| t.as_str()).unwrap_or("auto").to_string(),
            });
        }
    }

    let items = ctx.take_input(0).into_vec();
    let mut out = Outputs::new();
    let result = ctx.map_items(items, &mut out, |item, index| {
        match evaluate(ctx, &item, index, dot, json_mode, &assignments) {
            // The item is owned here: its JSON is changed in place, not copied.
            Ok(values) => {
                let mut item = item;
                let json = item.take_json();
                item.take_error();
                Ok(Some(item.reshaped(apply(json, &keep, values), Paired::item(index))))
            }
            Err(error) => Err((item, error)),
        }
    })?;
    out.extend("main", result);
    Ok(out)
}

fn field_list(ctx: &NodeContext) -> Result<Vec<Vec<Segment>>, NodeError> {
    let raw = ctx.eval_once("fields")?.to_text();
    raw.split(',').map(str::trim).filter(|f| !f.is_empty()).map(|f| field_path("fields", f)).collect()
}

enum Target {
    Key(String),
    Path(Vec<Segment>),
}

/// Evaluates every assignment against the item as it came in.
fn evaluate(
    ctx: &NodeContext,
    item: &Item,
    index: usize,
    dot: bool,
    json_mode: bool,
    assignments: &[Assignment],
) -> Result<Vec<(Target, Value)>, NodeError> {
    let mut values = Vec::with_capacity(assignments.len());
    let target = |name: String| -> Result<Target, NodeError> {
        if dot && (name.contains('.') || name.contains('[')) {
            Ok(Target::Path(field_path("assignments", &name).map_err(|e| e.with_item(index))?))
        } else {
            Ok(Target::Key(name))
        }
    };
    if json_mode {
        match ctx.eval("json", item, index)? {
            Value::Object(o) => {
                for (k, v) in o {
                    values.push((Target::Key(k.to_string()), v));
                }
            }
            Value::Null => {}
            other => {
                return Err(NodeError::new(
                    ErrorCode::InvalidParameter,
                    format!("must be an object, got {}", describe(&other)),
                )
                .with_parameter("json")
                .with_item(index));
            }
        }
        return Ok(values);
    }
    for (i, a) in assignments.iter().enumerate() {
        let eval = |c: &Compiled, field: &str| {
            ctx.evaluator().eval(c, item, index).map_err(|e| {
                NodeError::new(e.code(), e.message).with_parameter(format!("assignments[{i}].{field}")).with_item(index)
            })
        };
        let name = eval(&a.name, "name")?.to_text();
        if name.trim().is_empty() {
            return Err(NodeError::new(ErrorCode::InvalidParameter, "the field name is empty")
                .with_parameter(format!("assignments[{i}].name"))
                .with_item(index));
        }
        let value = convert(eval(&a.value, "value")?, &a.kind).map_err(|m| {
            NodeError::new(ErrorCode::InvalidParameter, m)
                .with_parameter(format!("assignments[{i}].value"))
                .with_item(index)
        })?;
        values.push((target(name)?, value));
    }
    Ok(values)
}

/// Applies evaluated assignments to an item's JSON, after keeping the right fields.
fn apply(json: Value, keep: &Keep, values: Vec<(Target, Value)>) -> Value {
    let mut json = match keep {
        Keep::All => json,
        Keep::None => Value::object(Object::new()),
        Keep::Selected(paths) => {
            let mut picked = Value::object(Object::new());
            for path in paths {
                if let Some(v) = json.get_path(path) {
                    picked.set_path(path, v.clone());
                }
            }
            picked
        }
        Keep::Except(paths) => {
            let mut json = json;
            for path in paths {
                json.remove_path(path);
            }
            json
        }
    };
    if !matches!(json, Value::Object(_)) {
        json = Value::object(Object::new());
    }
    for (target, value) in values {
        match target {
            Target::Path(path) => {
                json.set_path(&path, value);
            }
            Target::Key(name) => {
                if let Some(o) = json.as_object_mut() {
                    o.insert(&name, value);
                }
            }
        }
    }
    json
}

fn convert(value: Value, kind: &str) -> Result<Value, String> {
    Ok(match kind {
        "string" => Value::from(value.to_text()),
        "number" => match &value {
            Value::Int(_) | Value::Float(_) => value,
            Value::Null => Value::Null,
            other => {
                let n = as_number(other).ok_or_else(|| format!("cannot turn {} into a number", describe(other)))?;
                if n.fract() == 0.0 && n.abs() < 9.0e15 { Value::Int(n as i64) } else { Value::Float(n) }
            }
        },
        "boolean" => match &value {
            Value::Null => Value::Null,
            other => Value::Bool(
                as_bool(other).ok_or_else(|| format!("cannot turn {} into true or false", describe(other)))?,
            ),
        },
        "json" => match value {
            Value::String(s) => serde_json::from_str(&s).map_err(|e| format!("not valid JSON: {e}"))?,
            other => other,
        },
        _ => value,
    })
}
