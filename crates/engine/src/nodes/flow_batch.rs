//! Batch: runs the nodes after its "batch" output once per batch of N items, one batch
//! after the other, then hands everything they produced to "done". Failed items stop the
//! loop or are collected, and can be run again (only them) for a number of rounds. The
//! executor drives the loop (see `executor/batch.rs`); this node only hands on the items.

use crate::node::{NodeContext, NodeResult, Outputs};
use crate::region::{DONE, Region};
use crate::registry::NodeEntry;
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::item::Paired;

pub const TYPE: &str = "flow.batch";
pub const BATCH: &str = "batch";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx))).with_region(region)
}

pub fn descriptor() -> NodeDescriptor {
    super::descriptor(
        TYPE,
        "Batch",
        "Runs the nodes after \"batch\" once per batch of items, one batch at a time; \"done\" gets all they produced, \
         in input order. Failed items stop the loop, or are collected and can be tried again.",
        NodeGroup::Flow,
        "split-out",
        vec![Port::new(BATCH, "Batch"), Port::new(DONE, "Done")],
        vec![
            ParamSpec::integer("batchSize", "Items per batch", Some(1.0), None).default_value(10).literal(),
            ParamSpec::options(
                "itemErrors",
                "When items fail",
                &[
                    ("stop", "Stop the loop (the node fails)"),
                    ("continue", "Go on; failed items leave \"done\" with their error"),
                ],
                "stop",
            ),
            ParamSpec::integer("retryRounds", "Extra rounds for failed items", Some(0.0), Some(5.0))
                .default_value(0)
                .literal()
                .describe(
                    "After the last batch, the failed items (only them) run again in batches, this many times at most.",
                )
                .show_if("itemErrors", &["continue"]),
        ],
    )
}

/// The loop the executor runs: batch size, whether failures stop the loop, retry rounds.
fn region(node: &switchyard_model::workflow::Node) -> Region {
    let p = |name: &str| node.parameters.get(name);
    let size = p("batchSize").and_then(|v| v.as_u64()).unwrap_or(10).max(1) as usize;
    let stop_on_error = p("itemErrors").and_then(|v| v.as_str()).unwrap_or("stop") != "continue";
    let rounds = if stop_on_error { 0 } else { p("retryRounds").and_then(|v| v.as_u64()).unwrap_or(0).min(5) as u32 };
    Region::Loop { output: BATCH.to_string(), size, stop_on_error, rounds }
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let items = ctx.take_input(0).into_vec();
    let mut out = Outputs::new();
    out.extend(
        BATCH,
        items.into_iter().enumerate().map(|(i, mut item)| {
            item.set_paired(Paired::item(i));
            item
        }),
    );
    Ok(out)
}
