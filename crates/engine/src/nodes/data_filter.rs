//! Filter: keeps the items that meet the conditions.

use crate::conditions::{Conditions, combinator_param, conditions_param};
use crate::node::{NodeContext, NodeResult, Outputs};
use crate::registry::NodeEntry;
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, Port};
use switchyard_model::item::Paired;

pub const TYPE: &str = "data.filter";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx)))
}

pub fn descriptor() -> NodeDescriptor {
    super::descriptor(
        TYPE,
        "Filter",
        "Keeps only the items that meet the conditions.",
        NodeGroup::Data,
        "filter",
        vec![Port::main()],
        vec![conditions_param(), combinator_param()],
    )
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let conditions = Conditions::compile(ctx, "conditions")?;
    let items = ctx.take_input(0).into_vec();
    let mut out = Outputs::new();
    let kept = ctx.map_items(items, &mut out, |mut item, index| match conditions.matches(ctx, &item, index) {
        Ok(true) => {
            item.set_paired(Paired::item(index));
            Ok(Some(item))
        }
        Ok(false) => Ok(None),
        Err(error) => Err((item, error)),
    })?;
    out.append("main", kept);
    Ok(out)
}
