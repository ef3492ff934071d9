//! Split Out: turns a list field into one item per element.

use crate::node::{NodeContext, NodeResult, Outputs, field_path};
use crate::registry::NodeEntry;
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::{ErrorCode, NodeError};
use switchyard_model::item::Item;
use switchyard_model::path::Segment;
use switchyard_model::value::{Object, Value};

pub const TYPE: &str = "data.split_out";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx)))
}

pub fn descriptor() -> NodeDescriptor {
    super::descriptor(
        TYPE,
        "Split Out",
        "Turns a list in each item into separate items, one per element.",
        NodeGroup::Data,
        "split-out",
        vec![Port::main()],
        vec![
            ParamSpec::string("field", "List field").required().literal().placeholder("orders"),
            ParamSpec::options("include", "Other fields", &[("none", "Drop"), ("all", "Copy into each new item")], "none"),
            ParamSpec::string("destination", "Put each element in")
                .literal()
                .describe("Field name for each element; empty means the list field's name. Object elements become the item when other fields are dropped."),
        ],
    )
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let field = ctx.choice("field");
    let path = field_path("field", &field)?;
    let include_all = ctx.choice("include") == "all";
    let destination = ctx.choice("destination");
    let destination = if destination.trim().is_empty() {
        match path.last() {
            Some(Segment::Key(k)) => k.clone(),
            _ => "value".to_string(),
        }
    } else {
        destination
    };
    let items = ctx.take_input(0).into_vec();
    let mut out = Outputs::new();
    for (index, item) in items.into_iter().enumerate() {
        let Some(list) = item.json.get_path(&path) else {
            let error = NodeError::new(ErrorCode::InvalidParameter, format!("the item has no field \"{field}\""))
                .with_parameter("field");
            ctx.item_failed(&mut out, item, index, error)?;
            continue;
        };
        let elements: Vec<Value> = match list {
            Value::Array(a) => a.to_vec(),
            Value::Null => Vec::new(),
            other => vec![other.clone()],
        };
        let base = include_all.then(|| {
            let mut base = item.json.clone();
            base.remove_path(&path);
            base
        });
        for element in elements {
            let json = match (&base, element) {
                (None, element @ Value::Object(_)) => element,
                (None, element) => Value::object([(destination.as_str(), element)].into_iter().collect::<Object>()),
                (Some(base), element) => {
                    let mut json = base.clone();
                    if let Some(o) = json.as_object_mut() {
                        o.insert(&destination, element);
                    }
                    json
                }
            };
            out.push("main", Item::derived(json, index));
        }
    }
    Ok(out)
}
