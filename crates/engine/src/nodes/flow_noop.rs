//! No Operation: passes items through. Useful as a junction or a placeholder.

use crate::node::{NodeContext, NodeResult, Outputs};
use crate::registry::NodeEntry;
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, Port};

pub const TYPE: &str = "flow.noop";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx)))
}

pub fn descriptor() -> NodeDescriptor {
    super::descriptor(
        TYPE,
        "No Operation",
        "Passes its input items through unchanged.",
        NodeGroup::Flow,
        "arrow-right",
        vec![Port::main()],
        vec![],
    )
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    Ok(Outputs::main(super::pass_through(ctx.take_input(0).into_vec())))
}
