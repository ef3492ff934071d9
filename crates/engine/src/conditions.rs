//! Conditions shared by Filter, IF and Switch: `left operator right`, compiled once per node
//! run and tested per item.

use crate::expr::Compiled;
use crate::node::{NodeContext, as_bool, as_number};
use regex::Regex;
use std::collections::HashMap;
use std::sync::Mutex;
use switchyard_model::descriptor::ParamSpec;
use switchyard_model::error::{ErrorCode, NodeError};
use switchyard_model::item::Item;
use switchyard_model::value::Value;

pub const OPERATORS: &[(&str, &str)] = &[
    ("equals", "is equal to"),
    ("notEquals", "is not equal to"),
    ("gt", "is greater than"),
    ("gte", "is greater than or equal to"),
    ("lt", "is less than"),
    ("lte", "is less than or equal to"),
    ("contains", "contains"),
    ("notContains", "does not contain"),
    ("startsWith", "starts with"),
    ("endsWith", "ends with"),
    ("matches", "matches regex"),
    ("exists", "exists"),
    ("notExists", "does not exist"),
    ("isEmpty", "is empty"),
    ("isNotEmpty", "is not empty"),
    ("isTrue", "is true"),
    ("isFalse", "is false"),
];

const UNARY: &[&str] = &["exists", "notExists", "isEmpty", "isNotEmpty", "isTrue", "isFalse"];

/// The fields of one condition, for descriptors.
pub fn condition_fields() -> Vec<ParamSpec> {
    let binary: Vec<&str> = OPERATORS.iter().map(|(v, _)| *v).filter(|v| !UNARY.contains(v)).collect();
    vec![
        ParamSpec::string("left", "Value").required().placeholder("{{ json.status }}"),
        ParamSpec::options("operator", "Operator", OPERATORS, "equals"),
        ParamSpec::string("right", "Compare with").show_if("operator", &binary),
    ]
}

/// The `conditions` list parameter.
pub fn conditions_param() -> ParamSpec {
    ParamSpec::list("conditions", "Conditions", "Add condition", condition_fields())
        .required()
        .describe("Each condition compares a value (usually an expression on the item) with another.")
}

/// The `combinator` parameter: whether all or any conditions must hold.
pub fn combinator_param() -> ParamSpec {
    ParamSpec::options("combinator", "Combine", &[("and", "All conditions (AND)"), ("or", "Any condition (OR)")], "and")
}

struct Condition {
    left: Compiled,
    operator: String,
    right: Compiled,
}

/// Compiled conditions of one node run.
pub struct Conditions {
    parameter: String,
    conditions: Vec<Condition>,
    any: bool,
    regexes: Mutex<HashMap<String, Regex>>,
}

impl Conditions {
    /// Compiles the list parameter `parameter` (entries of left/operator/right) and the
    /// `combinator` parameter.
    pub fn compile(ctx: &NodeContext, parameter: &str) -> Result<Conditions, NodeError> {
        let raw = ctx.raw_param(parameter);
        let any = ctx.choice("combinator") == "or";
        Conditions::compile_list(ctx, parameter, raw.as_array().map_or(&[][..], Vec::as_slice), any)
    }

    /// Compiles a list of condition objects found under `parameter`.
    pub fn compile_list(
        ctx: &NodeContext,
        parameter: &str,
        entries: &[serde_json::Value],
        any: bool,
    ) -> Result<Conditions, NodeError> {
        let mut conditions = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            let field = |name: &str| entry.get(name).cloned().unwrap_or(serde_json::Value::Null);
            let compile = |name: &str| {
                ctx.evaluator().compile(&field(name)).map_err(|e| {
                    NodeError::new(ErrorCode::InvalidExpression, e.message)
                        .with_parameter(format!("{parameter}[{i}].{name}"))
                })
            };
            let operator = field("operator").as_str().unwrap_or("equals").to_string();
            if !OPERATORS.iter().any(|(v, _)| *v == operator) {
                return Err(NodeError::new(ErrorCode::UnknownOption, format!("unknown operator \"{operator}\""))
                    .with_parameter(format!("{parameter}[{i}].operator")));
            }
            conditions.push(Condition { left: compile("left")?, operator, right: compile("right")? });
        }
        Ok(Conditions { parameter: parameter.to_string(), conditions, any, regexes: Mutex::new(HashMap::new()) })
    }

    /// Whether the item passes. No conditions means every item passes.
    pub fn matches(&self, ctx: &NodeContext, item: &Item, index: usize) -> Result<bool, NodeError> {
        if self.conditions.is_empty() {
            return Ok(true);
        }
        for (i, c) in self.conditions.iter().enumerate() {
            let eval = |compiled: &Compiled, field: &str| {
                ctx.evaluator().eval(compiled, item, index).map_err(|e| {
                    NodeError::new(e.code(), e.message)
                        .with_parameter(format!("{}[{i}].{field}", self.parameter))
                        .with_item(index)
                })
            };
            let left = eval(&c.left, "left")?;
            let right = if UNARY.contains(&c.operator.as_str()) { Value::Null } else { eval(&c.right, "right")? };
            let ok = self.test(&left, &c.operator, &right).map_err(|message| {
                NodeError::new(ErrorCode::InvalidParameter, message)
                    .with_parameter(format!("{}[{i}].right", self.parameter))
                    .with_item(index)
            })?;
            if ok && self.any {
                return Ok(true);
            }
            if !ok && !self.any {
                return Ok(false);
            }
        }
        Ok(!self.any)
    }

    fn test(&self, left: &Value, operator: &str, right: &Value) -> Result<bool, String> {
        Ok(match operator {
            "equals" => loose_eq(left, right),
            "notEquals" => !loose_eq(left, right),
            "gt" => compare(left, right).is_some_and(|o| o.is_gt()),
            "gte" => compare(left, right).is_some_and(|o| o.is_ge()),
            "lt" => compare(left, right).is_some_and(|o| o.is_lt()),
            "lte" => compare(left, right).is_some_and(|o| o.is_le()),
            "contains" => contains(left, right),
            "notContains" => !contains(left, right),
            "startsWith" => !left.is_null() && left.to_text().starts_with(&right.to_text()),
            "endsWith" => !left.is_null() && left.to_text().ends_with(&right.to_text()),
            "matches" => {
                let pattern = right.to_text();
                let mut cache = self.regexes.lock().unwrap_or_else(|p| p.into_inner());
                if !cache.contains_key(&pattern) {
                    let re = Regex::new(&pattern).map_err(|e| format!("invalid regular expression: {e}"))?;
                    cache.insert(pattern.clone(), re);
                }
                !left.is_null() && cache[&pattern].is_match(&left.to_text())
            }
            "exists" => !left.is_null(),
            "notExists" => left.is_null(),
            "isEmpty" => is_empty(left),
            "isNotEmpty" => !is_empty(left),
            "isTrue" => as_bool(left) == Some(true),
            "isFalse" => as_bool(left) == Some(false),
            other => return Err(format!("unknown operator \"{other}\"")),
        })
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Equality that treats `5` and `"5"`, `true` and `"true"` as equal.
pub fn loose_eq(a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    match (a, b) {
        (Value::Int(_) | Value::Float(_), Value::String(_)) | (Value::String(_), Value::Int(_) | Value::Float(_)) => {
            matches!((as_number(a), as_number(b)), (Some(x), Some(y)) if x == y)
        }
        (Value::Bool(_), Value::String(_)) | (Value::String(_), Value::Bool(_)) => {
            matches!((as_bool(a), as_bool(b)), (Some(x), Some(y)) if x == y)
        }
        _ => false,
    }
}

/// Orders numbers (and numeric strings) by value and other strings as text.
pub fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    let numeric = |v: &Value| match v {
        Value::Bool(_) => None,
        other => as_number(other),
    };
    if let (Some(x), Some(y)) = (numeric(a), numeric(b)) {
        return x.partial_cmp(&y);
    }
    match (a, b) {
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn contains(haystack: &Value, needle: &Value) -> bool {
    match haystack {
        Value::Array(a) => a.iter().any(|v| loose_eq(v, needle)),
        Value::Object(o) => o.contains_key(&needle.to_text()),
        Value::Null => false,
        other => other.to_text().contains(&needle.to_text()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_model::value;

    #[test]
    fn loose_comparisons() {
        assert!(loose_eq(&Value::Int(5), &Value::from("5")));
        assert!(loose_eq(&Value::Bool(true), &Value::from("true")));
        assert!(!loose_eq(&Value::Int(5), &Value::from("five")));
        assert_eq!(compare(&Value::from("10"), &Value::Int(9)), Some(std::cmp::Ordering::Greater));
        assert_eq!(compare(&Value::from("b"), &Value::from("a")), Some(std::cmp::Ordering::Greater));
        assert_eq!(compare(&Value::Null, &Value::Int(1)), None);
        assert!(contains(&value!(["a", 1]), &Value::from("1")));
        assert!(contains(&value!({"k": 1}), &Value::from("k")));
    }
}
