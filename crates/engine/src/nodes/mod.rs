//! Built-in node types, one file each: a `descriptor()` (data the editor renders) and an
//! async `execute()`.

pub mod code_script;
pub mod data_aggregate;
pub mod data_filter;
pub mod data_limit;
pub mod data_set;
pub mod data_sort;
pub mod data_split_out;
pub mod flow_batch;
pub mod flow_if;
pub mod flow_merge;
pub mod flow_noop;
pub mod flow_parallel;
pub mod flow_respond;
pub mod flow_switch;
pub mod flow_wait;
pub mod http_request;
pub mod trigger_error;
pub mod trigger_manual;
pub mod trigger_schedule;
pub mod trigger_webhook;
pub mod webhook_send;

use crate::node::{BoxFuture, NodeContext, NodeResult};
use crate::registry::NodeEntry;
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::item::{Item, Paired};

macro_rules! entries {
    ($($module:ident),* $(,)?) => {
        vec![$({
            fn execute(ctx: &mut NodeContext) -> BoxFuture<'_, NodeResult> {
                Box::pin($module::execute(ctx))
            }
            NodeEntry::new($module::descriptor(), execute)
        }),*]
    };
}

/// Every built-in node type.
pub fn all() -> Vec<NodeEntry> {
    entries![
        trigger_manual,
        trigger_webhook,
        trigger_schedule,
        trigger_error,
        http_request,
        webhook_send,
        data_set,
        data_filter,
        flow_if,
        flow_switch,
        flow_merge,
        flow_parallel,
        flow_batch,
        data_sort,
        data_limit,
        data_split_out,
        data_aggregate,
        code_script,
        flow_wait,
        flow_respond,
        flow_noop,
    ]
}

/// The outputs whose downstream nodes form regions the executor runs for the node (a
/// Parallel node's branches, a Batch node's loop); `None` for ordinary nodes.
pub fn region_outputs(node: &switchyard_model::workflow::Node) -> Option<Vec<String>> {
    match node.node_type.as_str() {
        flow_parallel::TYPE => Some(flow_parallel::branch_names(node)),
        flow_batch::TYPE => Some(vec![flow_batch::BATCH.to_string()]),
        _ => None,
    }
}

/// The output that carries a node's result: "done" for Parallel and Batch nodes, else main.
pub fn result_port(node: &switchyard_model::workflow::Node) -> &'static str {
    if region_outputs(node).is_some() { flow_parallel::DONE } else { switchyard_model::workflow::MAIN }
}

/// A version-1 descriptor with one main input (none for triggers) and the given outputs.
pub(crate) fn descriptor(
    node_type: &str,
    display_name: &str,
    description: &str,
    group: NodeGroup,
    icon: &str,
    outputs: Vec<Port>,
    parameters: Vec<ParamSpec>,
) -> NodeDescriptor {
    NodeDescriptor {
        node_type: node_type.into(),
        version: 1,
        display_name: display_name.into(),
        description: description.into(),
        group,
        icon: icon.into(),
        inputs: if group == NodeGroup::Trigger { vec![] } else { vec![Port::main()] },
        outputs,
        dynamic_outputs: None,
        parameters,
        credentials: vec![],
        per_item_calls: false,
    }
}

/// Items passed on unchanged, each paired with its input position.
pub(crate) fn pass_through(items: Vec<Item>) -> Vec<Item> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, mut item)| {
            item.paired = Paired::item(i);
            item
        })
        .collect()
}
