//! Parallel: sends its items down several branches at once and waits for them by a
//! strategy: all of them, the first to succeed (the others are cancelled), or a quorum.
//! Each branch is everything wired after one of its branch outputs; what the branches'
//! last nodes produce comes out of `done`. The executor runs the branches (see
//! `executor/parallel.rs`); this node only hands each branch its copy of the items.

use crate::node::{NodeContext, NodeResult, Outputs};
use crate::region::{DONE, Region, Strategy};
use crate::registry::NodeEntry;
use switchyard_model::descriptor::{DynamicOutputs, NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::item::Paired;

pub const TYPE: &str = "flow.parallel";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx))).with_region(region)
}

pub fn descriptor() -> NodeDescriptor {
    let mut d = super::descriptor(
        TYPE,
        "Parallel",
        "Runs its branches at the same time and waits for all of them, the first to succeed (cancelling the rest), \
         or a quorum. What the branches' last nodes produce comes out of \"done\".",
        NodeGroup::Flow,
        "split",
        vec![Port::new(DONE, "Done")],
        vec![
            ParamSpec::list(
                "branches",
                "Branches",
                "Add branch",
                vec![ParamSpec::string("name", "Branch output").required().literal().placeholder("primary")],
            )
            .required()
            .default_value(serde_json::json!([{ "name": "a" }, { "name": "b" }]))
            .describe("One output per branch: wire the branch's nodes after it. Branches must not connect to each other or to the rest of the workflow; continue from \"done\"."),
            ParamSpec::options(
                "strategy",
                "Wait for",
                &[("all", "All branches"), ("race", "The first to succeed (race)"), ("quorum", "A quorum of successes")],
                "all",
            ),
            ParamSpec::integer("quorum", "Successes needed", Some(1.0), None)
                .default_value(2)
                .literal()
                .show_if("strategy", &["quorum"]),
            ParamSpec::number("branchTimeout", "Branch timeout (seconds)")
                .default_value(0)
                .literal()
                .describe("A branch still running after this long is cancelled and counts as failed; 0 means no limit."),
        ],
    );
    d.dynamic_outputs = Some(DynamicOutputs {
        list_parameter: "branches".into(),
        field: "name".into(),
        fallback_parameter: None,
        fallback_name: String::new(),
    });
    d
}

/// The branch output names of a Parallel node, in order.
fn branch_names(node: &switchyard_model::workflow::Node) -> Vec<String> {
    node.parameters
        .get("branches")
        .and_then(|b| b.as_array())
        .map(|entries| {
            entries
                .iter()
                .filter_map(|e| e.get("name").and_then(|n| n.as_str()))
                .filter(|n| !n.is_empty() && *n != DONE)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The branches the executor runs: their outputs, the strategy and the branch timeout.
fn region(node: &switchyard_model::workflow::Node) -> Region {
    let p = |name: &str| node.parameters.get(name);
    let strategy = match p("strategy").and_then(|s| s.as_str()).unwrap_or("all") {
        "race" => Strategy::Race,
        "quorum" => Strategy::Quorum(p("quorum").and_then(|q| q.as_u64()).unwrap_or(2).max(1) as usize),
        _ => Strategy::All,
    };
    let timeout = p("branchTimeout")
        .and_then(|t| t.as_f64())
        .filter(|t| t.is_finite() && *t > 0.0)
        .map(std::time::Duration::from_secs_f64);
    Region::Branches { outputs: branch_names(node), strategy, timeout }
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let items = ctx.take_input(0).into_vec();
    let mut out = Outputs::new();
    for name in branch_names(&ctx.node) {
        let copies = items.iter().enumerate().map(|(i, item)| {
            let mut item = item.clone();
            item.set_paired(Paired::item(i));
            item
        });
        out.extend(&name, copies);
    }
    Ok(out)
}
