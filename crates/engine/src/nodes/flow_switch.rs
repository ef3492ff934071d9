//! Switch: routes items to named outputs by rules or by an expression.

use crate::conditions::{Conditions, condition_fields};
use crate::node::{NodeContext, NodeResult, Outputs};
use crate::registry::NodeEntry;
use switchyard_model::descriptor::{DynamicOutputs, NodeDescriptor, NodeGroup, ParamSpec};
use switchyard_model::error::{ErrorCode, NodeError};
use switchyard_model::item::Paired;

pub const FALLBACK: &str = "fallback";

pub const TYPE: &str = "flow.switch";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx)))
}

pub fn descriptor() -> NodeDescriptor {
    let mut rule_fields = vec![ParamSpec::string("output", "Output name").required().literal().placeholder("urgent")];
    rule_fields.extend(condition_fields());
    let mut d = super::descriptor(
        TYPE,
        "Switch",
        "Sends each item to the output of the first rule it meets (or of every rule), or to the output an expression names.",
        NodeGroup::Flow,
        "switch",
        vec![],
        vec![
            ParamSpec::options("mode", "Mode", &[("rules", "Rules"), ("expression", "Expression")], "rules"),
            ParamSpec::list("rules", "Routing rules", "Add rule", rule_fields)
                .required()
                .describe("Each rule names an output; in expression mode only the names are used."),
            ParamSpec::string("value", "Output name")
                .required()
                .placeholder("{{ json.priority }}")
                .describe("An expression giving the output name for each item.")
                .show_if("mode", &["expression"]),
            ParamSpec::boolean("allMatches", "Send to every matching output", false).show_if("mode", &["rules"]),
            ParamSpec::boolean("fallback", "Fallback output", false).describe(
                "Send items that match no rule to an output named \"fallback\" (otherwise they are dropped).",
            ),
        ],
    );
    d.dynamic_outputs = Some(DynamicOutputs {
        list_parameter: "rules".into(),
        field: "output".into(),
        fallback_parameter: Some("fallback".into()),
        fallback_name: FALLBACK.into(),
    });
    d
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let rules = ctx.raw_param("rules");
    let rules = rules.as_array().cloned().unwrap_or_default();
    let outputs = ctx.descriptor.output_names(&ctx.node);
    let fallback = ctx.raw_param("fallback").as_bool().unwrap_or(false);
    let by_expression = ctx.choice("mode") == "expression";
    let all_matches = ctx.raw_param("allMatches").as_bool().unwrap_or(false);
    let mut compiled = Vec::with_capacity(rules.len());
    for (i, rule) in rules.iter().enumerate() {
        let name = rule.get("output").and_then(|o| o.as_str()).unwrap_or_default().to_string();
        let conditions = if by_expression {
            None
        } else {
            let conditions = Conditions::compile_list(ctx, &format!("rules[{i}]"), std::slice::from_ref(rule), false)?;
            Some(conditions)
        };
        compiled.push((name, conditions));
    }

    let items = ctx.take_input(0).into_vec();
    let mut out = Outputs::new();
    for (index, mut item) in items.into_iter().enumerate() {
        item.set_paired(Paired::item(index));
        let targets: Result<Vec<String>, NodeError> = if by_expression {
            ctx.str_param("value", &item, index).and_then(|name| {
                if outputs.contains(&name) && name != FALLBACK {
                    Ok(vec![name])
                } else if fallback {
                    Ok(vec![FALLBACK.to_string()])
                } else {
                    Err(NodeError::new(
                        ErrorCode::InvalidParameter,
                        format!("there is no output named \"{name}\" (outputs: {})", outputs.join(", ")),
                    )
                    .with_parameter("value")
                    .with_item(index))
                }
            })
        } else {
            let mut targets = Vec::new();
            let mut failure = None;
            for (name, conditions) in &compiled {
                let Some(conditions) = conditions else { continue };
                match conditions.matches(ctx, &item, index) {
                    Ok(true) => {
                        if !targets.contains(name) {
                            targets.push(name.clone());
                        }
                        if !all_matches {
                            break;
                        }
                    }
                    Ok(false) => {}
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            match failure {
                Some(e) => Err(e),
                None if targets.is_empty() && fallback => Ok(vec![FALLBACK.to_string()]),
                None => Ok(targets),
            }
        };
        match targets {
            Ok(targets) => {
                if let Some((last, rest)) = targets.split_last() {
                    for name in rest {
                        out.push(name, item.clone());
                    }
                    out.push(last, item);
                }
            }
            Err(error) => ctx.item_failed(&mut out, item, index, error)?,
        }
    }
    Ok(out)
}
