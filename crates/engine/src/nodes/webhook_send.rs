//! Send Webhook: POSTs each item as JSON to a URL, signed with an HMAC header in any
//! preset's format, retrying 408, 429 and 5xx answers (and network failures) after 1, 2, 4,
//! 8 and 16 s unless the node's retry settings say otherwise. Emits one delivery result per
//! item.

use super::http_request::header_map;
use super::trigger_webhook::{SECRET_SLOT, preset, secret_slot, signature_params};
use crate::credentials::Secret;
use crate::http::{Auth, Read, guarded_send, status_error};
use crate::node::{NodeContext, NodeResult, Outputs};
use crate::registry::{CheckContext, NodeEntry};
use reqwest::header::CONTENT_TYPE;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use switchyard_model::descriptor::{CredentialSlot, NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError, ValidationIssue};
use switchyard_model::item::Item;
use switchyard_model::retry::{Backoff, Jitter, RetryPolicy};
use switchyard_model::value::{Object, Value};

pub const TYPE: &str = "webhook.send";
/// The header carrying the delivery id, the same on every retry so receivers can dedupe.
pub const DELIVERY_HEADER: &str = "X-Switchyard-Delivery";

/// Six tries: the first, then after 1, 2, 4, 8 and 16 s.
pub fn default_policy() -> RetryPolicy {
    RetryPolicy {
        max_tries: 6,
        backoff: Backoff::Exponential,
        initial_delay_ms: 1000,
        factor: 2.0,
        max_delay_ms: 16_000,
        jitter: Jitter::None,
        retry_on: RetryPolicy::default_classes(),
    }
}

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx))).with_check(check)
}

/// A signature format that is not known.
fn check(node: &switchyard_model::workflow::Node, cx: &CheckContext<'_>) -> Vec<ValidationIssue> {
    preset(node).err().map(|e| cx.parameter_issue(e)).into_iter().collect()
}

pub fn descriptor() -> NodeDescriptor {
    let mut parameters = vec![
        ParamSpec::string("url", "URL").required().placeholder("https://example.com/hooks/orders"),
        ParamSpec::options("send", "Send", &[("item", "Each item's JSON"), ("json", "Custom JSON")], "item"),
        ParamSpec::json("body", "Body")
            .default_value(serde_json::json!({ "event": "order.created", "data": "{{ $json }}" }))
            .show_if("send", &["json"]),
        ParamSpec::key_value("headers", "Headers"),
        ParamSpec::number("timeout", "Timeout (seconds)").default_value(30),
    ];
    parameters.extend(signature_params("Signs each request with the secret of the connection below, in this format."));
    let mut d = super::descriptor(
        TYPE,
        "Send Webhook",
        "POSTs each item (or a JSON body) to a URL, signed with an HMAC header. Retries 408, 429, 5xx and network failures \
         after 1, 2, 4, 8 and 16 s (or as the node's retry settings say). Emits {url, status, ok, attempts, deliveryId, durationMs, response}.",
        NodeGroup::Action,
        "send",
        vec![Port::main()],
        parameters,
    );
    d.per_item_calls = true;
    // Signing with the secret vouches for the body: requests signed with it go only to the
    // hosts the secret's account allows (or any caller could use it as a signing oracle).
    d.credentials = vec![CredentialSlot { url_parameter: Some("url".into()), ..secret_slot() }];
    d
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let signer = preset(&ctx.node)
        .map_err(|e| NodeError::new(ErrorCode::InvalidParameter, e).with_class(ErrorClass::Permanent))?;
    let secret: Option<Secret> = match (&signer, ctx.node.credentials.get(SECRET_SLOT)) {
        (None, _) => None,
        (Some(_), None) => {
            return Err(NodeError::new(
                ErrorCode::CredentialMissing,
                "a signature format is chosen but no signing secret: pick a Webhook signing secret connection",
            )
            .with_class(ErrorClass::Permanent));
        }
        (Some(_), Some(reference)) => {
            let provider = ctx.services.credentials.clone().ok_or_else(|| {
                NodeError::new(ErrorCode::CredentialMissing, "no credential vault is available to this run")
                    .with_class(ErrorClass::Permanent)
            })?;
            Some(provider.secret(reference).await?)
        }
    };
    let policy = if ctx.node.settings.retry.enabled() { ctx.node.settings.retry.clone() } else { default_policy() };
    let items = ctx.take_input(0).into_vec();
    let total = items.len();
    let mut out = Outputs::new();
    let auth = Auth::none();
    for (index, item) in items.into_iter().enumerate() {
        ctx.check_cancelled()?;
        let delivery_id = switchyard_model::ids::new_id();
        let attempts = AtomicU32::new(0);
        let started = Instant::now();
        let result = ctx
            .retry_item_with(&policy, index, || {
                attempts.fetch_add(1, Ordering::Relaxed);
                send(ctx, &auth, &item, index, signer.as_ref(), secret.as_ref(), &delivery_id)
            })
            .await;
        match result {
            Ok((url, status, response)) => {
                let mut json = Object::new();
                json.insert("url", Value::from(url));
                json.insert("status", Value::from(status));
                json.insert("ok", Value::from(true));
                json.insert("attempts", Value::from(attempts.load(Ordering::Relaxed)));
                json.insert("deliveryId", Value::from(delivery_id));
                json.insert("durationMs", Value::from(started.elapsed().as_millis() as u64));
                json.insert("response", response);
                out.push("main", Item::derived(Value::object(json), index));
            }
            Err(mut error) => {
                // Keep what the error already tells (status, body) and add the delivery.
                let mut details = match error.details.take() {
                    Some(serde_json::Value::Object(map)) => map,
                    _ => serde_json::Map::new(),
                };
                details.insert("attempts".into(), attempts.load(Ordering::Relaxed).into());
                details.insert("deliveryId".into(), delivery_id.into());
                let error = error.with_details(serde_json::Value::Object(details));
                ctx.item_failed(&mut out, item, index, error)?;
            }
        }
        if total >= 10 {
            ctx.progress(index + 1, total);
        }
    }
    Ok(out)
}

async fn send(
    ctx: &NodeContext,
    auth: &Auth,
    item: &Item,
    index: usize,
    signer: Option<&switchyard_core::signature::Preset>,
    secret: Option<&Secret>,
    delivery_id: &str,
) -> Result<(String, u16, Value), NodeError> {
    let url_text = ctx.str_param("url", item, index)?;
    let url =
        url::Url::parse(url_text.trim()).ok().filter(|u| matches!(u.scheme(), "http" | "https")).ok_or_else(|| {
            NodeError::new(ErrorCode::InvalidParameter, format!("\"{url_text}\" is not an http or https URL"))
                .with_parameter("url")
                .with_item(index)
                .with_class(ErrorClass::Permanent)
        })?;
    let body = if ctx.choice("send") == "json" { ctx.eval("body", item, index)? } else { item.json.clone() };
    let body = body.to_json_string().into_bytes();
    let timeout = ctx.f64_param("timeout", item, index)?;
    if !(timeout > 0.0 && timeout.is_finite()) {
        return Err(NodeError::new(ErrorCode::InvalidParameter, "the timeout must be above 0 seconds")
            .with_parameter("timeout")
            .with_item(index));
    }
    let mut builder = ctx
        .services
        .http
        .post(url.clone())
        .timeout(Duration::from_secs_f64(timeout))
        .header(CONTENT_TYPE, "application/json")
        .header(DELIVERY_HEADER, delivery_id);
    // A header that is not valid never becomes valid: no retry.
    builder =
        builder.headers(header_map(ctx, "headers", item, index).map_err(|e| e.with_class(ErrorClass::Permanent))?);
    // Signed on every try: timestamped formats must be fresh.
    if let (Some(signer), Some(secret)) = (signer, secret) {
        secret.scope.check(&url).map_err(|e| e.with_parameter("url").with_item(index))?;
        for (name, value) in signer.sign(&body, secret.value.as_bytes(), ctx.services.clock.now().timestamp()) {
            builder = builder.header(name, value);
        }
    }
    let (status, headers, body) = guarded_send(ctx, auth, builder.body(body), &url, index, Read::Memory).await?;
    let bytes = body.bytes();
    if !status.is_success() {
        return Err(status_error(ctx, &reqwest::Method::POST, &url, status, &headers, &bytes, index));
    }
    let response = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice::<Value>(&bytes)
            .unwrap_or_else(|_| Value::from(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Ok((url.to_string(), status.as_u16(), response))
}
