//! Aggregate: combines items into one (or one per group): collected fields, all items in a
//! list, or summaries such as count, sum and average.

use crate::node::{NodeContext, NodeResult, Outputs, as_number, field_path};
use crate::registry::NodeEntry;
use std::collections::{HashMap, HashSet};
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::{ErrorCode, NodeError};
use switchyard_model::item::{Item, Paired, PairedItem};
use switchyard_model::path::{self, Segment};
use switchyard_model::value::{Object, Value};

const OPERATIONS: &[(&str, &str)] = &[
    ("count", "Count"),
    ("countUnique", "Count unique"),
    ("sum", "Sum"),
    ("avg", "Average"),
    ("min", "Minimum"),
    ("max", "Maximum"),
    ("concat", "Join as text"),
    ("list", "Collect in a list"),
];

pub const TYPE: &str = "data.aggregate";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx)))
}

pub fn descriptor() -> NodeDescriptor {
    super::descriptor(
        TYPE,
        "Aggregate",
        "Combines all items into one: collected fields, the whole items in a list, or summaries (count, sum, average, …) optionally per group.",
        NodeGroup::Data,
        "sigma",
        vec![Port::main()],
        vec![
            ParamSpec::options(
                "mode",
                "Aggregate",
                &[("allItems", "All items into a list"), ("fields", "Individual fields"), ("summarize", "Summaries")],
                "allItems",
            ),
            ParamSpec::string("destination", "Put the list in")
                .literal()
                .default_value("data")
                .show_if("mode", &["allItems"]),
            ParamSpec::list(
                "fields",
                "Fields",
                "Add field",
                vec![
                    ParamSpec::string("field", "Field").required().literal(),
                    ParamSpec::string("rename", "Output name").literal().describe("Empty keeps the field's name."),
                ],
            )
            .required()
            .show_if("mode", &["fields"]),
            ParamSpec::list(
                "summaries",
                "Summaries",
                "Add summary",
                vec![
                    ParamSpec::string("field", "Field").required().literal(),
                    ParamSpec::options("operation", "Operation", OPERATIONS, "count"),
                    ParamSpec::string("output", "Output name")
                        .literal()
                        .describe("Empty gives operation_field, e.g. sum_amount."),
                ],
            )
            .required()
            .show_if("mode", &["summarize"]),
            ParamSpec::string("groupBy", "Group by")
                .literal()
                .describe("Comma-separated fields; one output item per distinct combination.")
                .show_if("mode", &["summarize"]),
        ],
    )
}

fn last_name(path: &[Segment], fallback: &str) -> String {
    match path.last() {
        Some(Segment::Key(k)) => k.clone(),
        _ => fallback.to_string(),
    }
}

fn all_paired(indexes: impl Iterator<Item = usize>) -> Paired {
    Paired::many(indexes.map(|i| PairedItem { item: i as u32, input: 0 }).collect())
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let items = ctx.take_input(0).into_vec();
    let count = items.len();
    let item = match ctx.choice("mode").as_str() {
        "fields" => {
            let raw = ctx.raw_param("fields");
            let mut object = Object::new();
            for (i, spec) in raw.as_array().map_or(&[][..], Vec::as_slice).iter().enumerate() {
                let field = spec.get("field").and_then(|f| f.as_str()).unwrap_or_default();
                let path = field_path(&format!("fields[{i}].field"), field)?;
                let rename = spec.get("rename").and_then(|r| r.as_str()).unwrap_or_default();
                let name = if rename.trim().is_empty() { last_name(&path, field) } else { rename.to_string() };
                let values: Vec<Value> = items.iter().filter_map(|it| it.json.get_path(&path).cloned()).collect();
                object.insert(&name, Value::array(values));
            }
            vec![Item::with_paired(Value::object(object), all_paired(0..count))]
        }
        "summarize" => summarize(ctx, items)?,
        _ => {
            let destination = ctx.choice("destination");
            let destination = if destination.trim().is_empty() { "data".to_string() } else { destination };
            let list = Value::array(items.into_iter().map(|it| it.json).collect());
            vec![Item::with_paired(
                Value::object([(destination.as_str(), list)].into_iter().collect()),
                all_paired(0..count),
            )]
        }
    };
    Ok(Outputs::main(item))
}

struct Summary {
    path: Vec<Segment>,
    operation: String,
    output: String,
}

fn summarize(ctx: &NodeContext, items: Vec<Item>) -> Result<Vec<Item>, NodeError> {
    let raw = ctx.raw_param("summaries");
    let mut summaries = Vec::new();
    for (i, spec) in raw.as_array().map_or(&[][..], Vec::as_slice).iter().enumerate() {
        let field = spec.get("field").and_then(|f| f.as_str()).unwrap_or_default();
        let path = field_path(&format!("summaries[{i}].field"), field)?;
        let operation = spec.get("operation").and_then(|o| o.as_str()).unwrap_or("count").to_string();
        let output = spec.get("output").and_then(|o| o.as_str()).unwrap_or_default();
        let output = if output.trim().is_empty() {
            format!("{operation}_{}", path::format(&path).replace(['.', '[', ']', '"'], "_"))
        } else {
            output.to_string()
        };
        summaries.push(Summary { path, operation, output });
    }
    let group_fields: Vec<Vec<Segment>> = ctx
        .choice("groupBy")
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(|f| field_path("groupBy", f))
        .collect::<Result<_, _>>()?;

    // Groups in order of first appearance.
    let mut order: Vec<String> = Vec::new();
    let mut groups: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let key: Vec<Value> =
            group_fields.iter().map(|p| item.json.get_path(p).cloned().unwrap_or(Value::Null)).collect();
        let key = Value::array(key).to_json_string();
        groups.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            Vec::new()
        });
        if let Some(g) = groups.get_mut(&key) {
            g.push(i)
        }
    }
    let mut out = Vec::with_capacity(order.len());
    for key in order {
        let members = &groups[&key];
        let mut object = Object::new();
        if let Some(&first) = members.first() {
            for path in &group_fields {
                let value = items[first].json.get_path(path).cloned().unwrap_or(Value::Null);
                object.insert(&last_name(path, "group"), value);
            }
        }
        for s in &summaries {
            let values: Vec<&Value> =
                members.iter().filter_map(|&i| items[i].json.get_path(&s.path)).filter(|v| !v.is_null()).collect();
            object.insert(
                &s.output,
                apply(&s.operation, &values)
                    .map_err(|m| NodeError::new(ErrorCode::InvalidParameter, m).with_parameter("summaries"))?,
            );
        }
        out.push(Item::with_paired(Value::object(object), all_paired(members.iter().copied())));
    }
    Ok(out)
}

fn apply(operation: &str, values: &[&Value]) -> Result<Value, String> {
    let numbers = || -> Result<Vec<f64>, String> {
        values
            .iter()
            .map(|v| {
                as_number(v).ok_or_else(|| format!("{operation} needs numbers, found {}", crate::node::describe(v)))
            })
            .collect()
    };
    let number = |n: f64| if n.fract() == 0.0 && n.abs() < 9.0e15 { Value::Int(n as i64) } else { Value::Float(n) };
    Ok(match operation {
        "count" => Value::from(values.len()),
        "countUnique" => Value::from(values.iter().map(|v| v.to_json_string()).collect::<HashSet<_>>().len()),
        "sum" => number(numbers()?.iter().sum()),
        "avg" => {
            let n = numbers()?;
            if n.is_empty() { Value::Null } else { Value::Float(n.iter().sum::<f64>() / n.len() as f64) }
        }
        "min" => numbers()?.into_iter().reduce(f64::min).map_or(Value::Null, number),
        "max" => numbers()?.into_iter().reduce(f64::max).map_or(Value::Null, number),
        "concat" => Value::from(values.iter().map(|v| v.to_text()).collect::<Vec<_>>().join(", ")),
        "list" => Value::array(values.iter().map(|v| (*v).clone()).collect()),
        other => return Err(format!("unknown operation \"{other}\"")),
    })
}
