//! HMAC: a keyed signature of a text or of one of the item's files (HMAC-SHA-256, -384, -512,
//! or -SHA-1 for old APIs), as hex or base64, into a field of each item. The key is the secret
//! of an account (kept in the vault) or a key written on the node.
//!
//! Signing with an account's secret vouches for whatever is signed, wherever it goes next, so
//! the account's allowed hosts cannot hold it: the node declares an `AccessKind::Secret`
//! access, and a workflow from a file may sign only with the accounts its review approved.

use super::crypto_hash::{algorithm_param, content_params, digest_each, encoding_param, field_of, field_param};
use crate::access::{Access, AccessKind};
use crate::node::{NodeContext, NodeResult};
use crate::registry::NodeEntry;
use base64::Engine as _;
use ring::hmac;
use switchyard_model::descriptor::{CredentialSlot, NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError};
use switchyard_model::workflow::Node;
use zeroize::Zeroizing;

pub const TYPE: &str = "crypto.hmac";

/// The credential slot whose account's secret is the key.
pub const KEY_SLOT: &str = "key";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx))).with_access(access)
}

pub fn descriptor() -> NodeDescriptor {
    let mut parameters = content_params("Sign");
    parameters.extend([
        algorithm_param(),
        ParamSpec::options(
            "keySource",
            "Key",
            &[("account", "The secret of an account (kept in the vault)"), ("text", "A key written here")],
            "account",
        ),
        ParamSpec::string("key", "Key text")
            .required()
            .literal()
            .show_if("keySource", &["text"])
            .describe("Saved in the workflow as it is, and in every export: prefer an account for real secrets."),
        ParamSpec::options(
            "keyEncoding",
            "Key is",
            &[("text", "Text (its UTF-8 bytes)"), ("hex", "Hex"), ("base64", "Base64")],
            "text",
        )
        .describe("How to turn the key into bytes: Svix-style whsec_… keys are base64 after the prefix."),
        encoding_param(),
        field_param("signature"),
    ]);
    let mut d = super::descriptor(
        TYPE,
        "HMAC",
        "Puts a keyed signature (HMAC) of a text or of one of the item's files into a field of each item, as hex or \
         base64. The key is an account's secret from the vault, or a key written on the node.",
        NodeGroup::Data,
        "hash",
        vec![Port::main()],
        parameters,
    );
    d.credentials = vec![CredentialSlot {
        name: KEY_SLOT.into(),
        label: "Key account".into(),
        connection_types: vec![],
        required: false,
        url_parameter: None,
        per_entry: None,
    }];
    d
}

fn from_account(node: &Node) -> bool {
    node.parameters.get("keySource").and_then(|v| v.as_str()).unwrap_or("account") == "account"
}

fn access(node: &Node) -> Vec<Access> {
    match node.credentials.get(KEY_SLOT) {
        Some(reference) if from_account(node) => vec![Access::secret(reference)],
        _ => Vec::new(),
    }
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let algorithm = match ctx.choice("algorithm").as_str() {
        "sha384" => hmac::HMAC_SHA384,
        "sha512" => hmac::HMAC_SHA512,
        "sha1" => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        _ => hmac::HMAC_SHA256,
    };
    let field = field_of(ctx, "signature")?;
    let bytes = key_bytes(ctx).await?;
    let key = hmac::Key::new(algorithm, bytes.as_slice());
    digest_each(
        ctx,
        &field,
        || hmac::Context::with_key(&key),
        |c, bytes| c.update(bytes),
        |c| c.sign().as_ref().to_vec(),
    )
    .await
}

/// The key's bytes: the account's secret (after the run's policy allowed handing it out) or
/// the key text, decoded as `keyEncoding` says.
async fn key_bytes(ctx: &NodeContext) -> Result<Zeroizing<Vec<u8>>, NodeError> {
    let text: Zeroizing<String> = if ctx.choice("keySource") == "text" {
        Zeroizing::new(ctx.raw_param("key").as_str().unwrap_or("").to_string())
    } else {
        let reference = ctx.node.credentials.get(KEY_SLOT).ok_or_else(|| {
            NodeError::new(ErrorCode::CredentialMissing, "no key: pick the account whose secret is the key")
                .with_class(ErrorClass::Permanent)
        })?;
        let target = crate::access::secret_target(reference);
        ctx.services.local.check(AccessKind::Secret, &target)?;
        let provider = ctx.services.credentials.clone().ok_or_else(|| {
            NodeError::new(ErrorCode::CredentialMissing, "no credential vault is available to this run")
        })?;
        provider.expose(reference).await?.value
    };
    if text.is_empty() {
        return Err(NodeError::new(ErrorCode::InvalidParameter, "the key is empty")
            .with_class(ErrorClass::Permanent)
            .with_parameter("key"));
    }
    let decoded = match ctx.choice("keyEncoding").as_str() {
        "hex" => decode_hex(text.trim()),
        "base64" => {
            let body = text.trim();
            let body = body.strip_prefix("whsec_").unwrap_or(body);
            base64::engine::general_purpose::STANDARD.decode(body).ok()
        }
        _ => Some(text.as_bytes().to_vec()),
    };
    decoded.map(Zeroizing::new).ok_or_else(|| {
        NodeError::new(ErrorCode::InvalidParameter, format!("the key is not valid {}", ctx.choice("keyEncoding")))
            .with_class(ErrorClass::Permanent)
            .with_parameter("keyEncoding")
    })
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok()).collect()
}
