//! IF: routes each item to the `true` or `false` output.

use crate::conditions::{Conditions, combinator_param, conditions_param};
use crate::node::{NodeContext, NodeResult, Outputs};
use crate::registry::NodeEntry;
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, Port};
use switchyard_model::item::Paired;

pub const TYPE: &str = "flow.if";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx)))
}

pub fn descriptor() -> NodeDescriptor {
    super::descriptor(
        TYPE,
        "IF",
        "Sends items that meet the conditions to \"true\" and the others to \"false\".",
        NodeGroup::Flow,
        "split",
        vec![Port::new("true", "true"), Port::new("false", "false")],
        vec![conditions_param(), combinator_param()],
    )
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let conditions = Conditions::compile(ctx, "conditions")?;
    let items = ctx.take_input(0).into_vec();
    let mut out = Outputs::new();
    for (index, mut item) in items.into_iter().enumerate() {
        match conditions.matches(ctx, &item, index) {
            Ok(pass) => {
                item.set_paired(Paired::item(index));
                out.push(if pass { "true" } else { "false" }, item);
            }
            Err(error) => ctx.item_failed(&mut out, item, index, error)?,
        }
    }
    Ok(out)
}
