//! Respond to Webhook: answers the request that started the run (when its Webhook trigger
//! responds "with a Respond to Webhook node"), then passes its items on.

use crate::node::{NodeContext, NodeResult, Outputs};
use crate::registry::NodeEntry;
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::{ErrorCode, NodeError};
use switchyard_model::item::Item;
use switchyard_model::value::Value;
use switchyard_model::webhook::WebhookReply;
use switchyard_model::webhook::is_framing_header;

pub const TYPE: &str = "flow.respond";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx)))
}

pub fn descriptor() -> NodeDescriptor {
    super::descriptor(
        TYPE,
        "Respond to Webhook",
        "Sends the answer to the webhook request that started this run: status, headers and body. \
         The first Respond node to run answers; in runs not started by a webhook it only passes its items on.",
        NodeGroup::Flow,
        "reply",
        vec![Port::main()],
        vec![
            ParamSpec::integer("status", "Status", Some(100.0), Some(599.0)).default_value(200),
            ParamSpec::options(
                "respondWith",
                "Respond with",
                &[
                    ("firstItem", "The first item's JSON"),
                    ("allItems", "All items, as a JSON list"),
                    ("json", "JSON"),
                    ("text", "Text"),
                    ("noData", "No body"),
                ],
                "firstItem",
            ),
            ParamSpec::json("body", "Body")
                .default_value(serde_json::json!({ "ok": true }))
                .describe("Evaluated against the first item.")
                .show_if("respondWith", &["json"]),
            ParamSpec::string("text", "Text").rows(4).show_if("respondWith", &["text"]),
            ParamSpec::key_value("headers", "Headers").describe(
                "Headers that frame the message (Content-Length, Transfer-Encoding, Connection, Keep-Alive, Upgrade, TE, \
                 Trailer) are set by the listener: given here they are dropped and named in the items' droppedHeaders.",
            ),
        ],
    )
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let mut items = ctx.take_input(0).into_vec();
    let mut dropped: Vec<String> = Vec::new();
    if let Some(slot) = ctx.services.reply.clone() {
        let first = items.first().cloned().unwrap_or_else(Item::empty);
        let status = ctx.f64_param("status", &first, 0)?;
        if !(100.0..=599.0).contains(&status) || status.fract() != 0.0 {
            return Err(NodeError::new(
                ErrorCode::InvalidParameter,
                format!("must be a whole number from 100 to 599, got {status}"),
            )
            .with_parameter("status"));
        }
        let mut headers = super::http_request::pairs(ctx, "headers", &first, 0)?;
        headers.iter_mut().for_each(|(name, _)| *name = name.trim().to_string());
        let framing: Vec<String> =
            headers.iter().filter(|(name, _)| is_framing_header(name)).map(|(name, _)| name.clone()).collect();
        headers.retain(|(name, _)| !is_framing_header(name));
        dropped = framing.into_iter().map(|name| name.to_ascii_lowercase()).collect();
        let body = match ctx.choice("respondWith").as_str() {
            "allItems" => serde_json::Value::Array(items.iter().map(|i| serde_json::Value::from(&i.json)).collect()),
            "json" => serde_json::Value::from(ctx.eval("body", &first, 0)?),
            "text" => serde_json::Value::String(ctx.str_param("text", &first, 0)?),
            "noData" => serde_json::Value::Null,
            _ => serde_json::Value::from(&first.json),
        };
        slot.send(WebhookReply { status: status as u16, headers, body });
    }
    if !dropped.is_empty() {
        // Said on the node's output, so the user sees why a header did not arrive.
        let list = Value::from(serde_json::json!(dropped));
        for item in &mut items {
            if let Some(obj) = item.json.as_object_mut() {
                obj.insert("droppedHeaders", list.clone());
            }
        }
    }
    Ok(Outputs::main(super::pass_through(items)))
}
