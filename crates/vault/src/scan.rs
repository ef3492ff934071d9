//! Finding secrets pasted into node parameters before a workflow leaves the machine.
//! Export writes only `{connection, account}` references; a secret typed into a header or a
//! field would otherwise travel with the file.

use serde_json::Value;
use switchyard_model::Workflow;
use switchyard_model::path::{self, Segment};

/// A parameter that looks like it holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretFinding {
    pub node: String,
    /// JSON path inside the node's parameters, e.g. `headers[0].value`.
    pub parameter: String,
    pub reason: String,
}

const SECRET_NAMES: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
    "apikey",
    "api_key",
    "x-auth-token",
    "token",
    "access_token",
    "accesstoken",
    "refresh_token",
    "client_secret",
    "clientsecret",
    "password",
    "passwd",
    "secret",
    "private_key",
];

const TOKEN_PREFIXES: &[(&str, &str)] = &[
    ("ghp_", "a GitHub token"),
    ("gho_", "a GitHub token"),
    ("github_pat_", "a GitHub token"),
    ("xoxb-", "a Slack token"),
    ("xoxp-", "a Slack token"),
    ("sk_live_", "a Stripe key"),
    ("rk_live_", "a Stripe key"),
    ("AKIA", "an AWS access key"),
    ("AIza", "a Google API key"),
    ("Bearer ", "a bearer token"),
    ("Basic ", "basic credentials"),
    ("-----BEGIN", "a private key"),
];

fn is_secret_name(name: &str) -> bool {
    let n = name.trim().to_ascii_lowercase();
    SECRET_NAMES.iter().any(|s| n == *s || n.ends_with(&format!("_{s}")) || n.ends_with(&format!("-{s}")))
}

/// A value worth flagging: not empty, not only an expression (`{{ … }}` reads data at run time).
fn literal(value: &str) -> bool {
    let t = value.trim();
    let only_expression = t.starts_with("{{") && t.ends_with("}}");
    !t.is_empty() && !only_expression
}

fn token_like(value: &str) -> Option<&'static str> {
    let t = value.trim();
    TOKEN_PREFIXES.iter().find(|(p, _)| t.starts_with(p) && t.len() > p.len() + 8).map(|(_, what)| *what)
}

fn finding(node: &str, path: &[Segment], reason: String) -> SecretFinding {
    SecretFinding { node: node.into(), parameter: path::format(path), reason }
}

fn walk(node: &str, at: &mut Vec<Segment>, value: &Value, out: &mut Vec<SecretFinding>) {
    match value {
        Value::Object(map) => {
            // A name/value pair (headers, query, form fields).
            if let (Some(Value::String(name)), Some(Value::String(v))) = (map.get("name"), map.get("value"))
                && is_secret_name(name)
                && literal(v)
            {
                at.push(Segment::Key("value".into()));
                out.push(finding(node, at, format!("\"{name}\" holds a literal value")));
                at.pop();
                return;
            }
            for (k, v) in map {
                at.push(Segment::Key(k.clone()));
                if let Value::String(s) = v
                    && is_secret_name(k)
                    && literal(s)
                {
                    out.push(finding(node, at, format!("\"{k}\" holds a literal value")));
                } else {
                    walk(node, at, v, out);
                }
                at.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                at.push(Segment::Index(i));
                walk(node, at, v, out);
                at.pop();
            }
        }
        Value::String(s) => {
            if let Some(what) = token_like(s) {
                out.push(finding(node, at, format!("looks like {what}")));
            }
        }
        _ => {}
    }
}

/// Every parameter of every node that looks like a secret.
pub fn find_secrets(workflow: &Workflow) -> Vec<SecretFinding> {
    let mut out = Vec::new();
    for node in &workflow.nodes {
        let params = Value::Object(node.parameters.clone());
        walk(&node.name, &mut Vec::new(), &params, &mut out);
    }
    out
}

/// Blanks the values [`find_secrets`] reported (the user confirmed stripping them).
pub fn strip_secrets(workflow: &mut Workflow, findings: &[SecretFinding]) {
    for finding in findings {
        let Some(node) = workflow.nodes.iter_mut().find(|n| n.name == finding.node) else { continue };
        let mut params = Value::Object(node.parameters.clone());
        if let Some(slot) = pointer_mut(&mut params, &finding.parameter) {
            *slot = Value::String(String::new());
        }
        if let Value::Object(map) = params {
            node.parameters = map;
        }
    }
}

fn pointer_mut<'a>(value: &'a mut Value, at: &str) -> Option<&'a mut Value> {
    let mut current = value;
    for segment in path::parse(at).ok()? {
        current = match segment {
            Segment::Key(k) => current.get_mut(k.as_str())?,
            Segment::Index(i) => current.get_mut(i)?,
        };
    }
    Some(current)
}
