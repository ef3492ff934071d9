//! When called by another workflow: starts this workflow from an Execute Workflow node of
//! another one (or an agent's tool call), with the caller's items. Declares the input
//! fields a call must bring; a call whose items lack a required field, or carry one of the
//! wrong type, fails in the caller before this workflow runs (see [`crate::subflow`]).

use crate::node::{NodeContext, NodeResult, Outputs};
use crate::registry::{CheckContext, NodeEntry};
use crate::subflow::{FieldKind, InputField};
use crate::trigger::Trigger;
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::ValidationIssue;
use switchyard_model::item::Item;
use switchyard_model::workflow::Node;

pub const TYPE: &str = "trigger.workflow";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx)))
        .with_trigger(Trigger::Called { inputs })
        .with_check(check)
}

pub fn descriptor() -> NodeDescriptor {
    super::descriptor(
        TYPE,
        "When Called by Another Workflow",
        "Starts this workflow when an Execute Workflow node (or an AI agent's tool call) calls it; emits the caller's \
         items. The input fields listed here are checked on every call: a missing required field or a field of the \
         wrong type fails the call, naming the field.",
        NodeGroup::Trigger,
        "workflow",
        vec![Port::main()],
        vec![
            ParamSpec::list(
                "inputs",
                "Input fields",
                "Add field",
                vec![
                    ParamSpec::string("name", "Name").required().literal().placeholder("customerId"),
                    ParamSpec::options(
                        "type",
                        "Type",
                        &[
                            ("any", "Any"),
                            ("string", "Text"),
                            ("number", "Number"),
                            ("boolean", "True/false"),
                            ("object", "Object"),
                            ("array", "List"),
                        ],
                        "any",
                    ),
                    ParamSpec::boolean("required", "Required", false),
                ],
            )
            .describe("The fields each item of a call must have. None listed: any items are accepted."),
        ],
    )
}

/// The input fields a node declares (entries without a name are left out).
fn inputs(node: &Node) -> Vec<InputField> {
    let entries = node.parameters.get("inputs").and_then(|v| v.as_array()).cloned().unwrap_or_default();
    entries
        .into_iter()
        .filter_map(|e| serde_json::from_value::<InputField>(e).ok())
        .filter(|f| !f.name.trim().is_empty())
        .map(|f| InputField { name: f.name.trim().to_string(), ..f })
        .collect()
}

fn check(node: &Node, cx: &CheckContext<'_>) -> Vec<ValidationIssue> {
    let mut issues = Vec::new();
    let entries = node.parameters.get("inputs").and_then(|v| v.as_array()).cloned().unwrap_or_default();
    let mut seen: Vec<String> = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let name = entry.get("name").and_then(|v| v.as_str()).unwrap_or("").trim().to_string();
        if name.is_empty() {
            issues.push(cx.parameter_issue(format!("inputs[{i}].name: an input field needs a name")));
        } else if seen.contains(&name) {
            issues.push(cx.parameter_issue(format!("inputs[{i}].name: the field \"{name}\" is listed twice")));
        } else {
            seen.push(name);
        }
        let kind = entry.get("type").cloned().unwrap_or(serde_json::Value::String("any".into()));
        if serde_json::from_value::<FieldKind>(kind.clone()).is_err() {
            issues.push(cx.parameter_issue(format!(
                "inputs[{i}].type: {kind} is not a field type (any, string, number, boolean, object, array)"
            )));
        }
    }
    issues
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let items = ctx.take_run_input();
    // Run by hand (to try the workflow), it emits one empty item like the manual trigger.
    Ok(Outputs::main(if items.is_empty() { vec![Item::empty()] } else { items }))
}
