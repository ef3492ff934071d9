//! Limit: keeps the first or last N items.

use crate::node::{NodeContext, NodeResult, Outputs, as_number};
use crate::registry::NodeEntry;
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::{ErrorCode, NodeError};
use switchyard_model::item::Paired;

pub const TYPE: &str = "data.limit";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx)))
}

pub fn descriptor() -> NodeDescriptor {
    super::descriptor(
        TYPE,
        "Limit",
        "Keeps only the first (or last) items.",
        NodeGroup::Data,
        "scissors",
        vec![Port::main()],
        vec![
            ParamSpec::integer("maxItems", "Max items", Some(1.0), None).default_value(1).required(),
            ParamSpec::options("keep", "Keep", &[("first", "First items"), ("last", "Last items")], "first"),
        ],
    )
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let max = ctx.eval_once("maxItems")?;
    let max = as_number(&max).filter(|n| *n >= 1.0 && n.fract() == 0.0).ok_or_else(|| {
        NodeError::new(
            ErrorCode::InvalidParameter,
            format!("must be a whole number from 1, got {}", crate::node::describe(&max)),
        )
        .with_parameter("maxItems")
    })? as usize;
    let keep_last = ctx.choice("keep") == "last";
    let mut items = ctx.take_input(0).into_vec();
    let total = items.len();
    let start = if keep_last { total.saturating_sub(max) } else { 0 };
    if keep_last {
        items.drain(..start);
    } else {
        items.truncate(max);
    }
    for (i, item) in items.iter_mut().enumerate() {
        item.set_paired(Paired::item(start + i));
    }
    Ok(Outputs::main(items))
}
