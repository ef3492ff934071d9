//! The JSON schemas of structured output: the part of JSON Schema that model servers take
//! as `response_format` (OpenAI's structured outputs, llama.cpp's and Ollama's grammars),
//! checked here before anything is sent, and every answer validated against it locally,
//! whatever the server promised. Errors name the place: `$.items[2].price`.

use serde_json::{Map, Value};

/// Keywords a schema may use. Others are refused rather than silently not enforced.
const KEYWORDS: &[&str] = &[
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "anyOf",
    "$ref",
    "$defs",
    "definitions",
    // Annotations: passed to the model, nothing to check.
    "description",
    "title",
    "default",
    "examples",
    "format",
    "$schema",
    "$id",
];

const TYPES: &[&str] = &["object", "array", "string", "number", "integer", "boolean", "null"];

/// Deepest nesting of schemas (and of `$ref`s followed while validating).
const MAX_DEPTH: usize = 64;

/// Checks that a schema only uses what is enforced here; the error names where
/// (`properties.tags.items.type: …`).
pub fn check(schema: &Value) -> Result<(), String> {
    check_at(schema, schema, "", 0)
}

fn place(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

fn check_at(root: &Value, schema: &Value, path: &str, depth: usize) -> Result<(), String> {
    let here = if path.is_empty() { "the schema".to_string() } else { path.to_string() };
    if depth > MAX_DEPTH {
        return Err(format!("{here}: nested deeper than {MAX_DEPTH} levels"));
    }
    let object = match schema {
        Value::Bool(_) => return Ok(()),
        Value::Object(o) => o,
        other => return Err(format!("{here}: a schema is an object, got {}", kind(other))),
    };
    for key in object.keys() {
        if !KEYWORDS.contains(&key.as_str()) {
            return Err(format!(
                "{}: \"{key}\" is not supported in output schemas (supported: {})",
                here,
                KEYWORDS.iter().filter(|k| !matches!(**k, "$schema" | "$id")).copied().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    if let Some(t) = object.get("type") {
        let names: Vec<&Value> = match t {
            Value::Array(list) => list.iter().collect(),
            one => vec![one],
        };
        for name in names {
            match name.as_str() {
                Some(n) if TYPES.contains(&n) => {}
                _ => {
                    return Err(format!("{}: unknown type {name} (types: {})", place(path, "type"), TYPES.join(", ")));
                }
            }
        }
    }
    if let Some(properties) = object.get("properties") {
        let Value::Object(properties) = properties else {
            return Err(format!("{}: expected an object of schemas", place(path, "properties")));
        };
        for (name, sub) in properties {
            check_at(root, sub, &place(path, &format!("properties.{name}")), depth + 1)?;
        }
    }
    if let Some(required) = object.get("required") {
        let names = required.as_array().filter(|l| l.iter().all(Value::is_string));
        let Some(names) = names else {
            return Err(format!("{}: expected a list of property names", place(path, "required")));
        };
        let properties = object.get("properties").and_then(Value::as_object);
        for name in names.iter().filter_map(Value::as_str) {
            if properties.is_some_and(|p| !p.contains_key(name)) {
                return Err(format!(
                    "{}: \"{name}\" is required but not among the properties",
                    place(path, "required")
                ));
            }
        }
    }
    for key in ["additionalProperties", "items"] {
        if let Some(sub) = object.get(key) {
            check_at(root, sub, &place(path, key), depth + 1)?;
        }
    }
    if let Some(list) = object.get("anyOf") {
        let Some(list) = list.as_array().filter(|l| !l.is_empty()) else {
            return Err(format!("{}: expected a list of schemas", place(path, "anyOf")));
        };
        for (i, sub) in list.iter().enumerate() {
            check_at(root, sub, &format!("{}[{i}]", place(path, "anyOf")), depth + 1)?;
        }
    }
    if let Some(values) = object.get("enum")
        && values.as_array().is_none_or(|l| l.is_empty())
    {
        return Err(format!("{}: expected a list of the allowed values", place(path, "enum")));
    }
    for key in ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"] {
        if object.get(key).is_some_and(|v| !v.is_number()) {
            return Err(format!("{}: expected a number", place(path, key)));
        }
    }
    for key in ["minLength", "maxLength", "minItems", "maxItems"] {
        if object.get(key).is_some_and(|v| !v.is_u64()) {
            return Err(format!("{}: expected a whole number of 0 or more", place(path, key)));
        }
    }
    if let Some(pattern) = object.get("pattern") {
        let valid = pattern.as_str().is_some_and(|p| regex::Regex::new(p).is_ok());
        if !valid {
            return Err(format!("{}: not a regular expression", place(path, "pattern")));
        }
    }
    for key in ["$defs", "definitions"] {
        if let Some(defs) = object.get(key) {
            let Value::Object(defs) = defs else {
                return Err(format!("{}: expected an object of schemas", place(path, key)));
            };
            for (name, sub) in defs {
                check_at(root, sub, &place(path, &format!("{key}.{name}")), depth + 1)?;
            }
        }
    }
    if let Some(reference) = object.get("$ref") {
        let target = reference.as_str().and_then(|r| resolve(root, r));
        if target.is_none() {
            return Err(format!(
                "{}: {reference} does not point into this schema (write #/$defs/<name>)",
                place(path, "$ref")
            ));
        }
    }
    Ok(())
}

/// A local reference (`#`, `#/$defs/name`, any JSON pointer into the schema).
fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    root.pointer(pointer)
}

/// Validates a value against a schema (already [`check`]ed); the first error names its place
/// in the value (`$.tags[1]`) and what was expected.
pub fn validate(schema: &Value, value: &Value) -> Result<(), String> {
    validate_at(schema, schema, value, "$", 0)
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "true/false",
        Value::Number(n) if n.is_i64() || n.is_u64() => "a whole number",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn has_type(value: &Value, name: &str) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.as_f64().is_some_and(|f| f.fract() == 0.0),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => false,
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 { format!("{}…", text.chars().take(60).collect::<String>()) } else { text }
}

fn validate_at(root: &Value, schema: &Value, value: &Value, at: &str, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("{at}: the schema refers to itself more than {MAX_DEPTH} levels deep"));
    }
    let object: &Map<String, Value> = match schema {
        Value::Bool(true) => return Ok(()),
        Value::Bool(false) => return Err(format!("{at}: no value is allowed here")),
        Value::Object(o) => o,
        _ => return Ok(()),
    };
    if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
        let target = resolve(root, reference).ok_or_else(|| format!("{at}: {reference} points nowhere"))?;
        validate_at(root, target, value, at, depth + 1)?;
    }
    if let Some(t) = object.get("type") {
        let names: Vec<&str> = match t {
            Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
            one => one.as_str().into_iter().collect(),
        };
        if !names.iter().any(|n| has_type(value, n)) {
            return Err(format!("{at}: expected {}, got {}", names.join(" or "), kind(value)));
        }
    }
    if let Some(allowed) = object.get("enum").and_then(Value::as_array)
        && !allowed.iter().any(|a| same(a, value))
    {
        let listed: Vec<String> = allowed.iter().map(short).collect();
        return Err(format!("{at}: expected one of {}, got {}", listed.join(", "), short(value)));
    }
    if let Some(constant) = object.get("const")
        && !same(constant, value)
    {
        return Err(format!("{at}: expected {}, got {}", short(constant), short(value)));
    }
    if let Some(options) = object.get("anyOf").and_then(Value::as_array) {
        let mut reasons = Vec::new();
        for option in options {
            match validate_at(root, option, value, at, depth + 1) {
                Ok(()) => {
                    reasons.clear();
                    break;
                }
                Err(reason) => reasons.push(reason),
            }
        }
        if !reasons.is_empty() {
            return Err(format!("{at}: matches none of the allowed forms ({})", reasons.join("; ")));
        }
    }
    match value {
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(0.0);
            let bound = |key: &str| object.get(key).and_then(Value::as_f64);
            if let Some(min) = bound("minimum").filter(|m| x < *m) {
                return Err(format!("{at}: {n} is below the minimum {min}"));
            }
            if let Some(max) = bound("maximum").filter(|m| x > *m) {
                return Err(format!("{at}: {n} is above the maximum {max}"));
            }
            if let Some(min) = bound("exclusiveMinimum").filter(|m| x <= *m) {
                return Err(format!("{at}: {n} must be above {min}"));
            }
            if let Some(max) = bound("exclusiveMaximum").filter(|m| x >= *m) {
                return Err(format!("{at}: {n} must be below {max}"));
            }
        }
        Value::String(text) => {
            let length = text.chars().count() as u64;
            if let Some(min) = object.get("minLength").and_then(Value::as_u64).filter(|m| length < *m) {
                return Err(format!("{at}: {length} characters, at least {min} expected"));
            }
            if let Some(max) = object.get("maxLength").and_then(Value::as_u64).filter(|m| length > *m) {
                return Err(format!("{at}: {length} characters, at most {max} expected"));
            }
            if let Some(pattern) = object.get("pattern").and_then(Value::as_str)
                && let Ok(re) = regex::Regex::new(pattern)
                && !re.is_match(text)
            {
                return Err(format!("{at}: {} does not match the pattern {pattern}", short(value)));
            }
        }
        Value::Array(list) => {
            let count = list.len() as u64;
            if let Some(min) = object.get("minItems").and_then(Value::as_u64).filter(|m| count < *m) {
                return Err(format!("{at}: {count} entries, at least {min} expected"));
            }
            if let Some(max) = object.get("maxItems").and_then(Value::as_u64).filter(|m| count > *m) {
                return Err(format!("{at}: {count} entries, at most {max} expected"));
            }
            if let Some(items) = object.get("items") {
                for (i, entry) in list.iter().enumerate() {
                    validate_at(root, items, entry, &format!("{at}[{i}]"), depth + 1)?;
                }
            }
        }
        Value::Object(fields) => {
            let properties = object.get("properties").and_then(Value::as_object);
            for name in object.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
            {
                if !fields.contains_key(name) {
                    return Err(format!("{at}: the field \"{name}\" is missing"));
                }
            }
            for (name, field) in fields {
                let field_at = field_path(at, name);
                match properties.and_then(|p| p.get(name)) {
                    Some(sub) => validate_at(root, sub, field, &field_at, depth + 1)?,
                    None => match object.get("additionalProperties") {
                        Some(Value::Bool(false)) => {
                            return Err(format!("{at}: the field \"{name}\" is not in the schema"));
                        }
                        Some(extra) => validate_at(root, extra, field, &field_at, depth + 1)?,
                        None => {}
                    },
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// `$.name`, or `$["odd name"]` for a name that is not a plain identifier.
fn field_path(at: &str, name: &str) -> String {
    let plain = !name.is_empty()
        && name.chars().all(|c| c.is_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if plain { format!("{at}.{name}") } else { format!("{at}[{}]", Value::from(name)) }
}

/// Numbers compare by value (1 and 1.0 are the same answer).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// A schema for answers shaped like `example`: its fields required, their types as seen,
/// lists typed by their first entry, no other fields allowed.
pub fn infer(example: &Value) -> Value {
    match example {
        Value::Object(fields) => {
            let properties: Map<String, Value> = fields.iter().map(|(k, v)| (k.clone(), infer(v))).collect();
            let required: Vec<Value> = fields.keys().map(|k| Value::from(k.as_str())).collect();
            serde_json::json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
        }
        Value::Array(list) => match list.first() {
            Some(first) => serde_json::json!({"type": "array", "items": infer(first)}),
            None => serde_json::json!({"type": "array"}),
        },
        Value::String(_) => serde_json::json!({"type": "string"}),
        Value::Number(n) if n.is_i64() || n.is_u64() => serde_json::json!({"type": "integer"}),
        Value::Number(_) => serde_json::json!({"type": "number"}),
        Value::Bool(_) => serde_json::json!({"type": "boolean"}),
        Value::Null => serde_json::json!({"type": "null"}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ticket() -> Value {
        json!({
            "type": "object",
            "properties": {
                "category": {"type": "string", "enum": ["billing", "bug", "question"]},
                "urgency": {"type": "integer", "minimum": 1, "maximum": 5},
                "tags": {"type": "array", "items": {"$ref": "#/$defs/tag"}, "maxItems": 3},
                "summary": {"type": ["string", "null"], "maxLength": 20}
            },
            "required": ["category", "urgency"],
            "additionalProperties": false,
            "$defs": {"tag": {"type": "string", "pattern": "^[a-z-]+$"}}
        })
    }

    #[test]
    fn answers_are_checked_with_the_place_named() {
        let schema = ticket();
        check(&schema).unwrap();
        validate(&schema, &json!({"category": "bug", "urgency": 3, "tags": ["ui", "crash"], "summary": null})).unwrap();
        validate(&schema, &json!({"category": "bug", "urgency": 3.0})).unwrap();
        let error = |v: Value| validate(&schema, &v).unwrap_err();
        assert_eq!(
            error(json!({"category": "sales", "urgency": 1})),
            "$.category: expected one of \"billing\", \"bug\", \"question\", got \"sales\""
        );
        assert_eq!(error(json!({"category": "bug"})), "$: the field \"urgency\" is missing");
        assert_eq!(error(json!({"category": "bug", "urgency": 9})), "$.urgency: 9 is above the maximum 5");
        assert_eq!(error(json!({"category": "bug", "urgency": 1.5})), "$.urgency: expected integer, got a number");
        assert_eq!(
            error(json!({"category": "bug", "urgency": 1, "tags": ["ok", "Not OK"]})),
            "$.tags[1]: \"Not OK\" does not match the pattern ^[a-z-]+$"
        );
        assert_eq!(
            error(json!({"category": "bug", "urgency": 1, "mood": "sad"})),
            "$: the field \"mood\" is not in the schema"
        );
        assert_eq!(error(json!(["bug"])), "$: expected object, got a list");
    }

    #[test]
    fn schemas_using_what_is_not_enforced_are_refused() {
        let refused = |s: Value| check(&s).unwrap_err();
        assert!(
            refused(json!({"type": "object", "patternProperties": {}}))
                .starts_with("the schema: \"patternProperties\" is not supported in output schemas")
        );
        assert_eq!(
            refused(json!({"type": "object", "properties": {"a": {"type": "strin"}}})),
            "properties.a.type: unknown type \"strin\" (types: object, array, string, number, integer, boolean, null)"
        );
        assert_eq!(
            refused(json!({"type": "object", "properties": {}, "required": ["a"]})),
            "required: \"a\" is required but not among the properties"
        );
        assert!(refused(json!({"$ref": "#/$defs/missing"})).contains("does not point into this schema"));
        assert_eq!(refused(json!("object")), "the schema: a schema is an object, got text");
    }

    #[test]
    fn a_schema_inferred_from_an_example_accepts_it() {
        let example = json!({"name": "Ada", "age": 36, "score": 0.5, "langs": ["en"], "meta": {"ok": true}});
        let schema = infer(&example);
        check(&schema).unwrap();
        validate(&schema, &example).unwrap();
        assert_eq!(schema["properties"]["age"]["type"], "integer");
        assert_eq!(schema["properties"]["langs"]["items"]["type"], "string");
        assert!(validate(&schema, &json!({"name": "Ada"})).is_err());
    }
}
