//! Node descriptors: what a node type looks like as data. The editor renders a node's form
//! from its descriptor and the validator checks parameters against it.

use crate::workflow::{ERROR_OUTPUT, JsonMap, MAIN, Node, OnError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Where a node type sits in the palette.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum NodeGroup {
    Trigger,
    Flow,
    Data,
    Action,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeDescriptor {
    #[serde(rename = "type")]
    pub node_type: String,
    pub version: u32,
    pub display_name: String,
    pub description: String,
    pub group: NodeGroup,
    /// An icon name the UI knows (see ui/src/icons).
    pub icon: String,
    /// Named inputs; empty for triggers.
    pub inputs: Vec<Port>,
    /// Named outputs that always exist.
    pub outputs: Vec<Port>,
    /// Outputs named by the node's own parameters (e.g. switch rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub dynamic_outputs: Option<DynamicOutputs>,
    pub parameters: Vec<ParamSpec>,
    #[serde(default)]
    pub credentials: Vec<CredentialSlot>,
    /// The node calls out once per item: its `concurrency` setting applies, and its retry
    /// policy retries each failed item (not the whole node).
    #[serde(default)]
    pub per_item_calls: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
pub struct Port {
    pub name: String,
    pub label: String,
}

impl Port {
    pub fn new(name: &str, label: &str) -> Port {
        Port { name: name.into(), label: label.into() }
    }

    pub fn main() -> Port {
        Port::new(MAIN, "")
    }
}

/// Outputs taken from a list parameter: each entry's `field` names an output, plus an
/// optional fallback output enabled by a boolean parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DynamicOutputs {
    pub list_parameter: String,
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub fallback_parameter: Option<String>,
    pub fallback_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParamSpec {
    pub name: String,
    pub label: String,
    #[serde(default)]
    pub description: String,
    pub kind: ParamKind,
    #[serde(default)]
    pub required: bool,
    /// The value used when the parameter is absent.
    #[ts(type = "unknown")]
    pub default: serde_json::Value,
    #[serde(default)]
    pub placeholder: String,
    /// Whether `{{ … }}` expressions are allowed.
    #[serde(default)]
    pub expressions: bool,
    /// Show (and require) this parameter only when all conditions hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[ts(as = "Option<Vec<ShowIf>>", optional)]
    pub show_if: Vec<ShowIf>,
}

/// The parameter named `parameter` has one of `values`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct ShowIf {
    pub parameter: String,
    #[ts(type = "unknown[]")]
    pub values: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum ParamKind {
    String {
        #[serde(default)]
        rows: u32,
    },
    Number {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        min: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        max: Option<f64>,
        #[serde(default)]
        integer: bool,
    },
    Boolean,
    Options {
        choices: Vec<Choice>,
    },
    /// Any JSON value (object, array, …), edited as JSON text.
    Json,
    /// A JSON schema (the shape of a model's answer), edited as JSON text or made from an
    /// example; checked when the workflow is (only the keywords that are enforced).
    JsonSchema,
    /// A list of `{name, value}` pairs (headers, query parameters).
    KeyValue,
    /// A list of objects, each with the given fields.
    List {
        fields: Vec<ParamSpec>,
        #[serde(default)]
        add_label: String,
    },
    /// Script source in the given language.
    Code {
        language: String,
    },
    /// The id of a saved workflow, picked from the saved workflows.
    Workflow,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct Choice {
    #[ts(type = "unknown")]
    pub value: serde_json::Value,
    pub label: String,
}

impl Choice {
    pub fn new(value: &str, label: &str) -> Choice {
        Choice { value: value.into(), label: label.into() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialSlot {
    pub name: String,
    pub label: String,
    /// Connection types that fit this slot; empty means any.
    pub connection_types: Vec<String>,
    pub required: bool,
    /// The parameter holding the URL this slot's credentials are sent to (trust reviews
    /// read the host from it); none when the node sends them nowhere (e.g. it only
    /// verifies signatures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub url_parameter: Option<String>,
    /// One slot per entry of this list parameter instead of one slot: the node's credential
    /// `<name>:<the entry's name field>` is that entry's account (e.g. `agent:critic`); an
    /// entry without one uses the node's other slot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub per_entry: Option<String>,
}

impl CredentialSlot {
    /// The per-entry slot name `key` belongs to, and the entry's name: `agent:critic` →
    /// (`agent`, `critic`).
    pub fn split_entry_key(key: &str) -> Option<(&str, &str)> {
        key.split_once(':').filter(|(slot, entry)| !slot.is_empty() && !entry.is_empty())
    }
}

impl ParamSpec {
    pub fn new(name: &str, label: &str, kind: ParamKind) -> ParamSpec {
        ParamSpec {
            name: name.into(),
            label: label.into(),
            description: String::new(),
            kind,
            required: false,
            default: serde_json::Value::Null,
            placeholder: String::new(),
            expressions: true,
            show_if: Vec::new(),
        }
    }

    pub fn string(name: &str, label: &str) -> ParamSpec {
        ParamSpec::new(name, label, ParamKind::String { rows: 1 }).default_value("")
    }

    pub fn number(name: &str, label: &str) -> ParamSpec {
        ParamSpec::new(name, label, ParamKind::Number { min: None, max: None, integer: false })
    }

    pub fn integer(name: &str, label: &str, min: Option<f64>, max: Option<f64>) -> ParamSpec {
        ParamSpec::new(name, label, ParamKind::Number { min, max, integer: true })
    }

    pub fn boolean(name: &str, label: &str, default: bool) -> ParamSpec {
        ParamSpec::new(name, label, ParamKind::Boolean).default_value(default)
    }

    pub fn options(name: &str, label: &str, choices: &[(&str, &str)], default: &str) -> ParamSpec {
        let choices = choices.iter().map(|(v, l)| Choice::new(v, l)).collect();
        ParamSpec::new(name, label, ParamKind::Options { choices }).default_value(default).literal()
    }

    pub fn json(name: &str, label: &str) -> ParamSpec {
        ParamSpec::new(name, label, ParamKind::Json)
    }

    /// A JSON schema, never an expression.
    pub fn json_schema(name: &str, label: &str) -> ParamSpec {
        ParamSpec::new(name, label, ParamKind::JsonSchema).literal()
    }

    pub fn key_value(name: &str, label: &str) -> ParamSpec {
        ParamSpec::new(name, label, ParamKind::KeyValue).default_value(serde_json::json!([]))
    }

    pub fn list(name: &str, label: &str, add_label: &str, fields: Vec<ParamSpec>) -> ParamSpec {
        ParamSpec::new(name, label, ParamKind::List { fields, add_label: add_label.into() })
            .default_value(serde_json::json!([]))
            .literal()
    }

    /// A saved workflow's id, picked from a list (never an expression).
    pub fn workflow(name: &str, label: &str) -> ParamSpec {
        ParamSpec::new(name, label, ParamKind::Workflow).literal()
    }

    pub fn code(name: &str, label: &str, language: &str) -> ParamSpec {
        ParamSpec::new(name, label, ParamKind::Code { language: language.into() }).literal()
    }

    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub fn describe(mut self, description: &str) -> Self {
        self.description = description.into();
        self
    }

    pub fn placeholder(mut self, placeholder: &str) -> Self {
        self.placeholder = placeholder.into();
        self
    }

    pub fn default_value(mut self, value: impl Into<serde_json::Value>) -> Self {
        self.default = value.into();
        self
    }

    /// No expressions in this parameter.
    pub fn literal(mut self) -> Self {
        self.expressions = false;
        self
    }

    pub fn rows(mut self, rows: u32) -> Self {
        if let ParamKind::String { rows: r } = &mut self.kind {
            *r = rows;
        }
        self
    }

    pub fn show_if(mut self, parameter: &str, values: &[&str]) -> Self {
        self.show_if.push(ShowIf {
            parameter: parameter.into(),
            values: values.iter().map(|v| serde_json::Value::from(*v)).collect(),
        });
        self
    }

    pub fn show_if_value(mut self, parameter: &str, value: serde_json::Value) -> Self {
        self.show_if.push(ShowIf { parameter: parameter.into(), values: vec![value] });
        self
    }

    /// Whether the parameter applies given its siblings' values (defaults filled in).
    pub fn is_shown(&self, siblings: &JsonMap, specs: &[ParamSpec]) -> bool {
        self.show_if.iter().all(|cond| {
            let value = siblings
                .get(&cond.parameter)
                .cloned()
                .or_else(|| specs.iter().find(|s| s.name == cond.parameter).map(|s| s.default.clone()));
            value.is_some_and(|v| cond.values.contains(&v))
        })
    }
}

impl NodeDescriptor {
    pub fn is_trigger(&self) -> bool {
        self.inputs.is_empty()
    }

    pub fn param(&self, name: &str) -> Option<&ParamSpec> {
        self.parameters.iter().find(|p| p.name == name)
    }

    /// The outputs a node of this type has, given its parameters and settings.
    pub fn output_names(&self, node: &Node) -> Vec<String> {
        let mut names: Vec<String> = self.outputs.iter().map(|p| p.name.clone()).collect();
        if let Some(dynamic) = &self.dynamic_outputs {
            if let Some(serde_json::Value::Array(entries)) = node.parameters.get(&dynamic.list_parameter) {
                for entry in entries {
                    if let Some(name) = entry.get(&dynamic.field).and_then(|v| v.as_str())
                        && !name.is_empty()
                        && !names.iter().any(|n| n == name)
                    {
                        names.push(name.to_string());
                    }
                }
            }
            let fallback_on = dynamic.fallback_parameter.as_ref().is_some_and(|p| {
                node.parameters
                    .get(p)
                    .or_else(|| self.param(p).map(|s| &s.default))
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false)
            });
            if fallback_on && !names.contains(&dynamic.fallback_name) {
                names.push(dynamic.fallback_name.clone());
            }
        }
        if node.settings.on_error == OnError::ErrorOutput && !self.is_trigger() {
            names.push(ERROR_OUTPUT.to_string());
        }
        names
    }

    pub fn input_names(&self) -> Vec<String> {
        self.inputs.iter().map(|p| p.name.clone()).collect()
    }
}
