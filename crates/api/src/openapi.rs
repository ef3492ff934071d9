//! The OpenAPI 3.1 document of the REST API, built from the manifest's Rust types (the same
//! types the TypeScript types come from), and what the router needs to know of each route.

use crate::tokens::Scope;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value, json};

/// Request fields the REST API refuses: they name paths on the server's disk (the answer
/// carries the file instead) or run a workflow that was never saved (and so never reviewed).
pub const REFUSED_FIELDS: &[(&str, &str, &str)] = &[
    ("workflow_export", "path", "the answer carries the file's text; save it where you like"),
    ("backup_create", "to", "backups go to the server's backup folder"),
    ("run_start", "workflow", "run a saved workflow by workflowId"),
    ("run_wait", "workflow", "run a saved workflow by workflowId"),
];

/// How a route takes its request: the fields in its path, the fields in its query string
/// (GET and DELETE) with their JSON types, and whether it reads a JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteShape {
    pub command: &'static str,
    pub scope: Scope,
    pub method: &'static str,
    /// `/workflows/{id}`, below `/api/v1`.
    pub path: &'static str,
    /// Path and query fields with the JSON type their text becomes: `string`, `integer`,
    /// `number`, `boolean` or `array` (of strings, comma-separated or repeated).
    pub fields: Vec<(String, &'static str)>,
    pub body: bool,
}

fn refused(command: &str) -> impl Iterator<Item = &'static str> + '_ {
    REFUSED_FIELDS.iter().filter(move |(c, _, _)| *c == command).map(|(_, field, _)| *field)
}

/// Why `command` does not take `field` over HTTP, if it does not.
pub(crate) fn refusal(command: &str, field: &str) -> Option<&'static str> {
    REFUSED_FIELDS.iter().find(|(c, f, _)| *c == command && *f == field).map(|(_, _, why)| *why)
}

fn path_fields(path: &str) -> Vec<String> {
    path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')).map(str::to_string).collect()
}

pub(crate) struct Builder {
    generator: SchemaGenerator,
    paths: Map<String, Value>,
    shapes: Vec<RouteShape>,
}

impl Builder {
    pub(crate) fn new() -> Builder {
        let settings = SchemaSettings::draft2020_12().with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
        });
        Builder { generator: SchemaGenerator::new(settings), paths: Map::new(), shapes: Vec::new() }
    }

    /// The object schema a request type is (following its `$ref`), as properties and the
    /// required ones.
    fn object(&self, schema: &Schema) -> (Map<String, Value>, Vec<String>) {
        let resolved = self.resolve(schema.as_value());
        let properties = resolved.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
        let required = resolved
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        (properties, required)
    }

    fn resolve(&self, schema: &Value) -> Value {
        match schema.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/components/schemas/")) {
            Some(name) => self.generator.definitions().get(name).cloned().unwrap_or(Value::Null),
            None => schema.clone(),
        }
    }

    /// The JSON type a path or query value converts to.
    fn kind(&self, schema: &Value) -> Option<&'static str> {
        let schema = self.resolve(schema);
        if let Some(variants) = schema.get("anyOf").or_else(|| schema.get("oneOf")).and_then(Value::as_array) {
            // `Option<Enum>`: the enum and null.
            return variants.iter().filter(|v| v.get("type") != Some(&json!("null"))).find_map(|v| self.kind(v));
        }
        if schema.get("enum").is_some() || schema.get("const").is_some() {
            return Some("string");
        }
        let types: Vec<&str> = match schema.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        ["string", "integer", "number", "boolean", "array"]
            .into_iter()
            .find(|k| types.contains(k))
            .filter(|k| *k != "array" || schema.pointer("/items/type") == Some(&json!("string")))
    }

    pub(crate) fn operation<Req: JsonSchema, Res: JsonSchema>(
        &mut self,
        command: &'static str,
        scope: Scope,
        method: &'static str,
        path: &'static str,
        docs: &[&str],
    ) {
        let request = self.generator.subschema_for::<Req>();
        let response = self.generator.subschema_for::<Res>();
        let (mut properties, mut required) = self.object(&request);
        for field in refused(command) {
            properties.remove(field);
            required.retain(|r| r != field);
        }
        let mut parameters = Vec::new();
        let mut fields = Vec::new();
        let in_path = path_fields(path);
        for name in &in_path {
            let schema = properties.remove(name).unwrap_or_else(|| panic!("{command}: no field {name} for {path}"));
            let kind = self.kind(&schema).unwrap_or_else(|| panic!("{command}: {name} is not a scalar"));
            required.retain(|r| r != name);
            fields.push((name.clone(), kind));
            parameters.push(json!({ "name": name, "in": "path", "required": true, "schema": schema }));
        }
        let body = matches!(method, "POST" | "PUT" | "PATCH");
        let mut operation = json!({
            "operationId": command,
            "summary": summary(command, docs),
            "tags": [path.split('/').nth(1).unwrap_or("api")],
            "x-scope": scope.as_str(),
            "responses": {
                "200": { "description": "OK", "content": { "application/json": { "schema": response.as_value() } } },
                "400": { "$ref": "#/components/responses/Error" },
                "401": { "$ref": "#/components/responses/Error" },
                "403": { "$ref": "#/components/responses/Error" },
                "404": { "$ref": "#/components/responses/Error" },
                "409": { "$ref": "#/components/responses/Error" },
                "422": { "$ref": "#/components/responses/Error" },
                "423": { "$ref": "#/components/responses/Error" },
                "429": { "$ref": "#/components/responses/Error" },
                "500": { "$ref": "#/components/responses/Error" },
            },
        });
        let description = docs.iter().map(|d| d.trim()).collect::<Vec<_>>().join(" ");
        let description = format!("{description}\n\nScope: `{}`.", scope.as_str()).trim().to_string();
        operation["description"] = json!(description);
        if body {
            if !properties.is_empty() {
                let mut schema = json!({ "type": "object", "properties": properties });
                if !required.is_empty() {
                    schema["required"] = json!(required);
                }
                // A body without the path's fields is its own schema; the whole request is
                // the named one.
                let schema = if in_path.is_empty() && refused(command).next().is_none() {
                    request.as_value().clone()
                } else {
                    schema
                };
                operation["requestBody"] =
                    json!({ "required": true, "content": { "application/json": { "schema": schema } } });
            }
        } else {
            for (name, schema) in &properties {
                let kind = self.kind(schema).unwrap_or_else(|| panic!("{command}: query field {name} is not a scalar"));
                fields.push((name.clone(), kind));
                let mut parameter =
                    json!({ "name": name, "in": "query", "required": required.contains(name), "schema": schema });
                if kind == "array" {
                    parameter["style"] = json!("form");
                    parameter["explode"] = json!(false);
                }
                if let Some(d) = schema.get("description") {
                    parameter["description"] = d.clone();
                }
                parameters.push(parameter);
            }
        }
        if !parameters.is_empty() {
            operation["parameters"] = json!(parameters);
        }
        let entry = self.paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[method.to_ascii_lowercase()] = operation;
        self.shapes.push(RouteShape { command, scope, method, path, fields, body });
    }

    pub(crate) fn finish(mut self) -> (Value, Vec<RouteShape>) {
        let error = self.generator.subschema_for::<crate::ApiError>();
        let schemas = self.generator.take_definitions(true);
        let document = json!({
            "openapi": "3.1.0",
            "info": {
                "title": "Switchyard API",
                "version": env!("CARGO_PKG_VERSION"),
                "description": "Every command of Switchyard's API that makes sense away from the desktop, as `switchyard serve` answers it. Send an API token (Settings → API tokens, or `switchyard tokens create`) as `Authorization: Bearer syt_…`. A token's scope (`read`, `run`, `admin`; each includes the ones before) decides which operations it may call; errors are JSON with the same codes as the CLI's.",
                "license": { "name": "MIT OR Apache-2.0", "identifier": "MIT OR Apache-2.0" },
            },
            "servers": [{ "url": "/api/v1" }],
            "security": [{ "token": [] }],
            "paths": self.paths,
            "components": {
                "schemas": schemas,
                "responses": {
                    "Error": {
                        "description": "The command failed; `code` says why (the same codes as the CLI's).",
                        "content": { "application/json": { "schema": error.as_value() } },
                    },
                },
                "securitySchemes": {
                    "token": { "type": "http", "scheme": "bearer", "description": "An API token, `syt_` and 64 hex digits." },
                },
            },
        });
        (document, self.shapes)
    }
}

fn summary(command: &str, docs: &[&str]) -> String {
    let text = docs.iter().map(|d| d.trim()).collect::<Vec<_>>().join(" ");
    let sentence = text.split_inclusive(". ").next().unwrap_or(&text).trim().trim_end_matches('.');
    if sentence.is_empty() { command.replace('_', " ") } else { sentence.to_string() }
}
