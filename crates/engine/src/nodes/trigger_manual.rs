//! Manual Trigger: starts a run by hand (the Run button, `switchyard run`).

use crate::node::{NodeContext, NodeResult, Outputs};
use crate::registry::NodeEntry;
use crate::trigger::Trigger;
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, Port};

pub const TYPE: &str = "trigger.manual";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx))).with_trigger(Trigger::Manual)
}

pub fn descriptor() -> NodeDescriptor {
    super::descriptor(
        TYPE,
        "Manual Trigger",
        "Starts the workflow when you run it. Emits the run's input items (from --input), or one empty item.",
        NodeGroup::Trigger,
        "play",
        vec![Port::main()],
        vec![],
    )
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let input = std::mem::take(&mut ctx.run_input);
    Ok(Outputs::main(std::sync::Arc::unwrap_or_clone(input)))
}
