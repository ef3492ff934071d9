//! Rename Keys: renames fields of each item, by name (`customer.e_mail` → `customer.email`)
//! or by a regular expression over the keys. The worked example of docs/architecture.md:
//! this file is everything the node type is (descriptor, execute, its own validation).

use crate::node::{NodeContext, NodeResult, Outputs, field_path};
use crate::registry::{CheckContext, NodeEntry};
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::{ErrorCode, NodeError, ValidationIssue};
use switchyard_model::item::Paired;
use switchyard_model::path::Segment;
use switchyard_model::value::{Object, Value};
use switchyard_model::workflow::Node;

pub const TYPE: &str = "data.rename_keys";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx))).with_check(check)
}

pub fn descriptor() -> NodeDescriptor {
    super::descriptor(
        TYPE,
        "Rename Keys",
        "Renames fields of each item: by name (a dotted path moves a field into or out of an object), \
         or every key matching a regular expression.",
        NodeGroup::Data,
        "pencil",
        vec![Port::main()],
        vec![
            ParamSpec::list(
                "renames",
                "Keys to rename",
                "Add key",
                vec![
                    ParamSpec::string("from", "Current key").required().literal().placeholder("customer.e_mail"),
                    ParamSpec::string("to", "New key").required().literal().placeholder("customer.email"),
                ],
            )
            .describe("Applied in order; an item without the current key is left as it is."),
            ParamSpec::boolean("dotNotation", "Dot notation", true)
                .describe("A key like \"a.b\" names field b inside object a; off, it is one key with a dot."),
            ParamSpec::string("pattern", "Rename keys matching")
                .literal()
                .placeholder("^e_(.*)$")
                .describe("A regular expression; every key it matches is renamed to the replacement. Empty: off."),
            ParamSpec::string("replacement", "Replace with")
                .literal()
                .placeholder("$1")
                .describe("$1, $2 … stand for the expression's groups."),
            ParamSpec::options(
                "depth",
                "Keys to match",
                &[("top", "Top-level keys"), ("all", "Keys at every level")],
                "top",
            ),
        ],
    )
}

/// One rename by name: where the field is and where it goes.
struct Rename {
    from: Vec<Segment>,
    to: Vec<Segment>,
}

/// The renames as written: (from, to) per entry of the list.
fn pairs(node: &Node) -> Vec<(String, String)> {
    let text = |entry: &serde_json::Value, field: &str| {
        entry.get(field).and_then(|v| v.as_str()).unwrap_or("").trim().to_string()
    };
    node.parameters
        .get("renames")
        .and_then(|r| r.as_array())
        .map(|entries| entries.iter().map(|e| (text(e, "from"), text(e, "to"))).collect())
        .unwrap_or_default()
}

/// A key as a path: parsed with dot notation, else the whole text as one key.
fn path(text: &str, dot: bool) -> Result<Vec<Segment>, String> {
    if dot { field_path("renames", text).map_err(|e| e.message) } else { Ok(vec![Segment::Key(text.to_string())]) }
}

fn dot_notation(node: &Node) -> bool {
    node.parameters.get("dotNotation").and_then(|v| v.as_bool()).unwrap_or(true)
}

fn pattern(node: &Node) -> Option<&str> {
    node.parameters.get("pattern").and_then(|v| v.as_str()).filter(|p| !p.is_empty())
}

/// Keys that are not field paths, a key renamed twice, and a pattern that does not
/// compile, each named at its parameter before anything runs (empty keys are the
/// descriptor's `required` check).
fn check(node: &Node, cx: &CheckContext<'_>) -> Vec<ValidationIssue> {
    let dot = dot_notation(node);
    let mut issues = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    let renames = pairs(node);
    for (i, (from, to)) in renames.iter().enumerate() {
        for (field, text) in [("from", from), ("to", to)] {
            if let Some(problem) = path(text, dot).err().filter(|_| !text.is_empty()) {
                issues.push(cx.parameter_issue(format!("renames[{i}].{field}: {problem}")));
            }
        }
        if !from.is_empty() && seen.contains(&from.as_str()) {
            issues.push(cx.parameter_issue(format!("renames[{i}].from: \"{from}\" is already renamed above")));
        }
        seen.push(from);
    }
    if let Some(p) = pattern(node)
        && let Err(e) = regex::Regex::new(p)
    {
        issues.push(cx.parameter_issue(format!("pattern: not a regular expression: {e}")));
    }
    issues
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let dot = dot_notation(&ctx.node);
    let renames = pairs(&ctx.node)
        .into_iter()
        .enumerate()
        .map(|(i, (from, to))| {
            let parse = |field: &str, text: &str| {
                path(text, dot).map_err(|m| {
                    NodeError::new(ErrorCode::InvalidParameter, m).with_parameter(format!("renames[{i}].{field}"))
                })
            };
            Ok(Rename { from: parse("from", &from)?, to: parse("to", &to)? })
        })
        .collect::<Result<Vec<_>, NodeError>>()?;
    let pattern = match pattern(&ctx.node) {
        Some(p) => Some(regex::Regex::new(p).map_err(|e| {
            NodeError::new(ErrorCode::InvalidParameter, format!("not a regular expression: {e}"))
                .with_parameter("pattern")
        })?),
        None => None,
    };
    let replacement = ctx.raw_param("replacement").as_str().unwrap_or("").to_string();
    let every_level = ctx.choice("depth") == "all";

    let items = ctx.take_input(0).into_vec();
    let out = items
        .into_iter()
        .enumerate()
        .map(|(index, mut item)| {
            let mut json = item.take_json();
            for rename in &renames {
                if let Some(value) = json.remove_path(&rename.from) {
                    json.set_path(&rename.to, value);
                }
            }
            if let Some(re) = &pattern {
                json = rename_matching(json, re, &replacement, every_level);
            }
            item.reshaped(json, Paired::item(index))
        })
        .collect();
    Ok(Outputs::main(out))
}

/// Renames the keys `re` matches (in objects at the top, or at every level), keeping
/// their order; a renamed key replaces a field of the same name.
fn rename_matching(value: Value, re: &regex::Regex, replacement: &str, every_level: bool) -> Value {
    let recurse = |v: Value| if every_level { rename_matching(v, re, replacement, true) } else { v };
    match value {
        Value::Object(object) => {
            let mut renamed = Object::new();
            for (key, v) in object {
                let key: &str = key.as_ref();
                renamed.insert(&re.replace_all(key, replacement), recurse(v));
            }
            Value::object(renamed)
        }
        Value::Array(values) if every_level => Value::array(values.into_vec().into_iter().map(recurse).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use crate::{Engine, RunRequest};
    use switchyard_model::execution::RunStatus;
    use switchyard_model::value::Value;

    /// A workflow: Manual Trigger → Rename Keys with `parameters`, on `input` items.
    fn workflow(parameters: serde_json::Value) -> switchyard_model::workflow::Workflow {
        let json = serde_json::json!({
            "switchyard": 1, "id": "rename", "name": "Rename",
            "nodes": [
                {"id": "start", "name": "Start", "type": "trigger.manual"},
                {"id": "rename", "name": "Rename", "type": super::TYPE, "parameters": parameters},
            ],
            "connections": [{"from": {"node": "start"}, "to": {"node": "rename"}}],
        });
        serde_json::from_value(json).unwrap()
    }

    async fn run(parameters: serde_json::Value, input: serde_json::Value) -> Vec<serde_json::Value> {
        let engine = Engine::with_defaults();
        let prepared = engine.prepare(workflow(parameters)).map_err(|i| format!("{i:?}")).unwrap();
        let items = input
            .as_array()
            .unwrap()
            .iter()
            .map(|v| switchyard_model::item::Item::new(Value::from(v.clone())))
            .collect();
        let outcome = engine.run(prepared, RunRequest { input: items, ..RunRequest::default() }).await;
        assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
        outcome.result.iter().map(|i| serde_json::Value::from(&i.json)).collect()
    }

    #[tokio::test]
    async fn renames_by_name_move_fields_into_and_out_of_objects() {
        let out = run(
            serde_json::json!({"renames": [
                {"from": "e_mail", "to": "contact.email"},
                {"from": "customer.name", "to": "name"},
                {"from": "missing", "to": "nowhere"},
            ]}),
            serde_json::json!([
                {"e_mail": "a@example.com", "customer": {"name": "Ada", "id": 1}, "n": 1},
                {"n": 2},
            ]),
        )
        .await;
        assert_eq!(
            out,
            vec![
                serde_json::json!({"customer": {"id": 1}, "n": 1, "contact": {"email": "a@example.com"}, "name": "Ada"}),
                serde_json::json!({"n": 2}),
            ]
        );
    }

    #[tokio::test]
    async fn without_dot_notation_a_dotted_key_is_one_key() {
        let out = run(
            serde_json::json!({"dotNotation": false, "renames": [{"from": "a.b", "to": "c.d"}]}),
            serde_json::json!([{"a.b": 1, "a": {"b": 2}}]),
        )
        .await;
        assert_eq!(out, vec![serde_json::json!({"a": {"b": 2}, "c.d": 1})]);
    }

    #[tokio::test]
    async fn a_pattern_renames_matching_keys_in_place_at_the_top_or_every_level() {
        let input = serde_json::json!([{"e_id": 1, "keep": {"e_x": 2}, "list": [{"e_y": 3}]}]);
        let top = run(serde_json::json!({"pattern": "^e_(.*)$", "replacement": "$1"}), input.clone()).await;
        assert_eq!(top, vec![serde_json::json!({"id": 1, "keep": {"e_x": 2}, "list": [{"e_y": 3}]})]);
        let all = run(serde_json::json!({"pattern": "^e_(.*)$", "replacement": "$1", "depth": "all"}), input).await;
        assert_eq!(all, vec![serde_json::json!({"id": 1, "keep": {"x": 2}, "list": [{"y": 3}]})]);
    }

    #[test]
    fn validation_names_bad_keys_repeats_and_bad_patterns() {
        let engine = Engine::with_defaults();
        let issues = engine.validate(&workflow(serde_json::json!({
            "renames": [{"from": "a", "to": "z"}, {"from": "a", "to": "b"}, {"from": "x[", "to": "y"}],
            "pattern": "(",
        })));
        let found: Vec<(String, String)> = issues.iter().map(|i| (i.path.clone(), i.message.clone())).collect();
        let paths: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "$.nodes[1].parameters.renames[1].from",
                "$.nodes[1].parameters.renames[2].from",
                "$.nodes[1].parameters.pattern",
            ],
            "{found:#?}"
        );
        assert!(found[0].1.contains("\"a\" is already renamed above"), "{found:#?}");
        assert!(found[1].1.contains("invalid field path"), "{found:#?}");
        assert!(found[2].1.contains("not a regular expression"), "{found:#?}");
        assert!(issues.iter().all(|i| i.node_name.as_deref() == Some("Rename")));
    }
}
