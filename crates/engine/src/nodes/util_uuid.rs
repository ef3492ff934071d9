//! UUID: puts a new UUID into a field of each item: random (v4) or time-ordered (v7, sorts by
//! creation time).

use crate::node::{NodeContext, NodeResult, Outputs, field_path};
use crate::registry::NodeEntry;
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::value::Value;

pub const TYPE: &str = "util.uuid";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx)))
}

pub fn descriptor() -> NodeDescriptor {
    super::descriptor(
        TYPE,
        "UUID",
        "Puts a new UUID into a field of each item: random (version 4) or time-ordered (version 7).",
        NodeGroup::Data,
        "hash",
        vec![Port::main()],
        vec![
            ParamSpec::options("version", "Kind", &[("v4", "Random (v4)"), ("v7", "Time-ordered (v7)")], "v4"),
            ParamSpec::string("field", "Put it in").literal().default_value("id").placeholder("id"),
        ],
    )
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let v7 = ctx.choice("version") == "v7";
    let name = ctx.raw_param("field").as_str().map(str::trim).filter(|f| !f.is_empty()).unwrap_or("id").to_string();
    let field = field_path("field", &name)?;
    let items = ctx.take_input(0).into_vec();
    let mut out = Outputs::new();
    let mapped = ctx.map_items(items, &mut out, |item, index| {
        let id = if v7 { uuid::Uuid::now_v7() } else { uuid::Uuid::new_v4() };
        super::with_field(item, index, &field, Value::from(id.to_string())).map(Some)
    })?;
    out.extend("main", mapped);
    Ok(out)
}
