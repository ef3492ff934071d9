//! Sort: orders items by one or more fields.

use crate::conditions::compare;
use crate::node::{NodeContext, NodeResult, Outputs, field_path};
use crate::registry::NodeEntry;
use std::cmp::Ordering;
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::item::Paired;
use switchyard_model::value::Value;

pub const TYPE: &str = "data.sort";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx)))
}

pub fn descriptor() -> NodeDescriptor {
    super::descriptor(
        TYPE,
        "Sort",
        "Orders items by fields. Numbers sort by value, text alphabetically; missing values go last.",
        NodeGroup::Data,
        "sort",
        vec![Port::main()],
        vec![
            ParamSpec::list(
                "fields",
                "Sort by",
                "Add field",
                vec![
                    ParamSpec::string("field", "Field").required().literal().placeholder("createdAt"),
                    ParamSpec::options("order", "Order", &[("asc", "Ascending"), ("desc", "Descending")], "asc"),
                ],
            )
            .required(),
        ],
    )
}

fn rank(v: &Value) -> u8 {
    match v {
        Value::Bool(_) => 0,
        Value::Int(_) | Value::Float(_) => 1,
        Value::String(_) => 2,
        Value::Array(_) => 3,
        Value::Object(_) => 4,
        Value::Null => 5,
    }
}

/// Orders two values of any types: by value when comparable, else by type.
fn order(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) | (Value::String(_), Value::String(_)) => {
            compare(a, b).unwrap_or(Ordering::Equal)
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let raw = ctx.raw_param("fields");
    let mut keys = Vec::new();
    for (i, entry) in raw.as_array().map_or(&[][..], Vec::as_slice).iter().enumerate() {
        let field = entry.get("field").and_then(|f| f.as_str()).unwrap_or_default();
        let path = field_path(&format!("fields[{i}].field"), field)?;
        let descending = entry.get("order").and_then(|o| o.as_str()) == Some("desc");
        keys.push((path, descending));
    }
    let items = ctx.take_input(0).into_vec();
    let mut indexed: Vec<(usize, _)> = items.into_iter().enumerate().collect();
    indexed.sort_by(|(_, a), (_, b)| {
        for (path, descending) in &keys {
            let va = a.json.get_path(path).unwrap_or(&Value::Null);
            let vb = b.json.get_path(path).unwrap_or(&Value::Null);
            // Missing values stay last whatever the direction.
            let o = match (va.is_null(), vb.is_null()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                _ if *descending => order(vb, va),
                _ => order(va, vb),
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
    Ok(Outputs::main(
        indexed
            .into_iter()
            .map(|(i, mut item)| {
                item.set_paired(Paired::item(i));
                item
            })
            .collect(),
    ))
}
