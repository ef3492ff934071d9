//! Webhook trigger: starts the workflow when an HTTP request arrives at
//! `/webhook/<workflow-id>/<path>` on the webhook listener (the workflow must be active).

use crate::node::{NodeContext, NodeResult, Outputs};
use crate::registry::CheckContext;
use crate::registry::NodeEntry;
use crate::trigger::{Response, SignatureConfig, Trigger, WebhookConfig, WebhookRequest};
use switchyard_core::signature::{Encoding, Hash, Preset};
use switchyard_model::descriptor::{CredentialSlot, NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::ValidationIssue;
use switchyard_model::item::Item;
use switchyard_model::value::Value;
use switchyard_model::webhook::normalize_path;
use switchyard_model::workflow::Node;

pub const TYPE: &str = "trigger.webhook";
/// The credential slot holding the signing secret.
pub const SECRET_SLOT: &str = "secret";
/// The methods a webhook may allow.
pub const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// The parameters that choose a signature format (shared with Send Webhook).
pub fn signature_params(what: &str) -> Vec<ParamSpec> {
    let presets = [
        ("none", "None"),
        ("github", "GitHub (X-Hub-Signature-256)"),
        ("stripe", "Stripe (Stripe-Signature)"),
        ("slack", "Slack (X-Slack-Signature)"),
        ("shopify", "Shopify (X-Shopify-Hmac-Sha256)"),
        ("generic", "Generic HMAC"),
    ];
    let generic = &["generic"];
    vec![
        ParamSpec::options("signature", "Signature", &presets, "none").describe(what),
        ParamSpec::string("signatureHeader", "Signature header")
            .default_value("X-Signature")
            .literal()
            .show_if("signature", generic),
        ParamSpec::options(
            "signatureHash",
            "Hash",
            &[("sha1", "SHA-1"), ("sha256", "SHA-256"), ("sha512", "SHA-512")],
            "sha256",
        )
        .show_if("signature", generic),
        ParamSpec::options("signatureEncoding", "Encoding", &[("hex", "Hex"), ("base64", "Base64")], "hex")
            .show_if("signature", generic),
        ParamSpec::string("signaturePrefix", "Prefix")
            .literal()
            .placeholder("sha256=")
            .describe("Text before the signature in the header, if any.")
            .show_if("signature", generic),
    ]
}

/// The signature format a node's parameters choose (`None` for no signature).
pub fn preset(node: &Node) -> Result<Option<Preset>, String> {
    let text = |name: &str| node.parameters.get(name).and_then(|v| v.as_str()).unwrap_or("").to_string();
    Ok(Some(match text("signature").as_str() {
        "" | "none" => return Ok(None),
        "github" => Preset::GitHub,
        "stripe" => Preset::Stripe,
        "slack" => Preset::Slack,
        "shopify" => Preset::Shopify,
        "generic" => {
            let header = text("signatureHeader");
            let header = if header.trim().is_empty() { "X-Signature".to_string() } else { header.trim().to_string() };
            let hash = match text("signatureHash").as_str() {
                "sha1" => Hash::Sha1,
                "sha512" => Hash::Sha512,
                "" | "sha256" => Hash::Sha256,
                other => return Err(format!("signatureHash: unknown hash \"{other}\"")),
            };
            let encoding = match text("signatureEncoding").as_str() {
                "base64" => Encoding::Base64,
                "" | "hex" => Encoding::Hex,
                other => return Err(format!("signatureEncoding: unknown encoding \"{other}\"")),
            };
            Preset::Generic { header, hash, encoding, prefix: text("signaturePrefix") }
        }
        other => return Err(format!("signature: unknown preset \"{other}\"")),
    }))
}

/// How the listener serves the node; the error names the parameter.
fn config(node: &Node) -> Result<WebhookConfig, String> {
    let text =
        |name: &str, default: &'static str| node.parameters.get(name).and_then(|v| v.as_str()).unwrap_or(default);
    let signature = match preset(node)? {
        None => None,
        Some(preset) => {
            let secret = node.credentials.get(SECRET_SLOT).cloned().ok_or_else(|| {
                format!("a signature is checked but no signing secret is chosen (credential slot \"{SECRET_SLOT}\")")
            })?;
            Some(SignatureConfig { id_header: delivery_id_header(&preset), preset, secret })
        }
    };
    let response = match text("responseMode", "immediately") {
        "lastNode" => Response::LastNode { all_items: text("responseData", "firstItem") == "allItems" },
        "respondNode" => Response::RespondNode,
        _ => Response::Immediately,
    };
    Ok(WebhookConfig {
        path: normalize_path(text("path", "")),
        methods: methods(node)?,
        signature,
        response,
        keep_bodies: node.parameters.get("keepBodies").and_then(|v| v.as_bool()).unwrap_or(false),
        allowed_origins: allowed_origins(node),
    })
}

/// The item a delivery starts the run with: `{method, path, query, headers, body}`.
fn item(request: WebhookRequest) -> Item {
    let mut json = serde_json::Map::new();
    json.insert("method".into(), request.method.into());
    json.insert("path".into(), request.path.into());
    json.insert("query".into(), serde_json::Value::Object(request.query));
    json.insert("headers".into(), serde_json::Value::Object(request.headers));
    json.insert("body".into(), request.body);
    Item::new(Value::from(serde_json::Value::Object(json)))
}

/// Unknown methods and signature formats, and two Webhook nodes of one workflow on the
/// same path.
fn check(node: &Node, cx: &CheckContext<'_>) -> Vec<ValidationIssue> {
    let mut issues = Vec::new();
    if let Err(e) = methods(node) {
        issues.push(cx.parameter_issue(e));
    }
    if let Err(e) = preset(node) {
        issues.push(cx.parameter_issue(e));
    }
    let path_of = |n: &Node| normalize_path(n.parameters.get("path").and_then(|v| v.as_str()).unwrap_or(""));
    let path = path_of(node);
    if let Some((_, first)) = cx.earlier_nodes().find(|(_, n)| n.node_type == TYPE && path_of(n) == path) {
        issues.push(
            cx.parameter_issue(format!("path: \"/{path}\" is already the path of Webhook node \"{}\"", first.name)),
        );
    }
    issues
}

/// The header a preset's senders put their delivery id in.
fn delivery_id_header(preset: &Preset) -> Option<&'static str> {
    match preset {
        Preset::GitHub => Some("X-GitHub-Delivery"),
        Preset::Shopify => Some("X-Shopify-Webhook-Id"),
        _ => None,
    }
}

/// The browser origins allowed to call the webhook (`allowedOrigins`, comma-separated).
fn allowed_origins(node: &Node) -> Vec<String> {
    let text = node.parameters.get("allowedOrigins").and_then(|v| v.as_str()).unwrap_or("");
    text.split(',').map(|o| o.trim().trim_end_matches('/').to_string()).filter(|o| !o.is_empty()).collect()
}

/// The allowed methods, upper case; an error names the bad one.
fn methods(node: &Node) -> Result<Vec<String>, String> {
    let text = node.parameters.get("methods").and_then(|v| v.as_str()).unwrap_or("POST");
    let mut out = Vec::new();
    for m in text.split(',').map(|m| m.trim().to_ascii_uppercase()).filter(|m| !m.is_empty()) {
        if m == "*" || m == "ANY" {
            return Ok(Vec::new());
        }
        if !METHODS.contains(&m.as_str()) {
            return Err(format!("methods: \"{m}\" is not an HTTP method (use {})", METHODS.join(", ")));
        }
        if !out.contains(&m) {
            out.push(m);
        }
    }
    if out.is_empty() {
        return Err("methods: give at least one method, or * for any".into());
    }
    Ok(out)
}

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx)))
        .with_trigger(Trigger::Webhook { config, item })
        .with_check(check)
}

pub fn descriptor() -> NodeDescriptor {
    let mut parameters = vec![
        ParamSpec::string("path", "Path").literal().placeholder("orders/new").describe(
            "The URL is /webhook/<workflow id>/<path> on the webhook listener. Leave empty for /webhook/<workflow id>.",
        ),
        ParamSpec::string("methods", "Methods")
            .literal()
            .default_value("POST")
            .describe("Allowed HTTP methods, separated by commas, or * for any. Others get 405."),
        ParamSpec::options(
            "responseMode",
            "Respond",
            &[
                ("immediately", "Immediately (202 with the run id)"),
                ("lastNode", "When the last node finishes"),
                ("respondNode", "With a Respond to Webhook node"),
            ],
            "immediately",
        ),
        ParamSpec::options(
            "responseData",
            "Response data",
            &[("firstItem", "The first item's JSON"), ("allItems", "All items, as a JSON list")],
            "firstItem",
        )
        .show_if("responseMode", &["lastNode"]),
    ];
    parameters.extend(signature_params(
        "Requests must carry this signature, made with the secret of the connection below; others get 401 and run nothing.",
    ));
    parameters.push(
        ParamSpec::string("allowedOrigins", "Allowed origins").literal().placeholder("https://app.example.com").describe(
            "Web pages (browsers send an Origin header) may call this webhook only from these origins, separated by commas \
             (* for any). Empty: requests from web pages get 403; servers and scripts send no Origin and are not affected.",
        ),
    );
    parameters.push(
        ParamSpec::boolean("keepBodies", "Keep request bodies in the delivery log", false)
            .describe("Off: the log keeps time, method, status, verification, latency and run, not the body."),
    );
    let mut d = super::descriptor(
        TYPE,
        "Webhook",
        "Starts the workflow when an HTTP request arrives at its URL (while the workflow is active, or while the editor listens for a test event). \
         Emits one item: {method, path, query, headers, body}.",
        NodeGroup::Trigger,
        "webhook",
        vec![Port::main()],
        parameters,
    );
    d.credentials = vec![secret_slot()];
    d
}

/// The optional slot for a Webhook signing secret connection.
pub fn secret_slot() -> CredentialSlot {
    CredentialSlot {
        name: SECRET_SLOT.into(),
        label: "Signing secret".into(),
        connection_types: vec!["webhook.secret".into()],
        required: false,
        url_parameter: None,
        per_entry: None,
    }
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let items = ctx.take_run_input();
    // Run by hand, without a request, it emits one empty item.
    Ok(Outputs::main(if items.is_empty() { vec![Item::empty()] } else { items }))
}
