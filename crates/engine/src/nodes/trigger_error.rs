//! Error Trigger: starts a workflow when a run of another workflow that names it as its
//! error workflow (settings.errorWorkflow) fails.

use crate::node::{NodeContext, NodeResult, Outputs};
use crate::registry::NodeEntry;
use crate::trigger::Trigger;
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, Port};
use switchyard_model::item::Item;

pub const TYPE: &str = "trigger.error";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx))).with_trigger(Trigger::Error)
}

pub fn descriptor() -> NodeDescriptor {
    super::descriptor(
        TYPE,
        "Error Trigger",
        "Starts this workflow when a run of a workflow whose error workflow is this one fails. \
         Emits one item: {execution: {id, mode, startedAt}, workflow: {id, name}, error: {node, nodeId, code, class, message, itemIndex}}.",
        NodeGroup::Trigger,
        "alert",
        vec![Port::main()],
        vec![],
    )
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let input = std::mem::take(&mut ctx.run_input);
    let items = std::sync::Arc::unwrap_or_clone(input);
    // Run by hand (to try the workflow), it emits one empty item like the manual trigger.
    Ok(Outputs::main(if items.is_empty() { vec![Item::empty()] } else { items }))
}
