//! Hash: a digest of a text or of one of the item's files (SHA-256, SHA-384, SHA-512, or
//! SHA-1 for old checksums), as hex or base64, into a field of each item.

use crate::binary::{file_of, property_name};
use crate::node::{NodeContext, NodeResult, Outputs, field_path};
use crate::registry::NodeEntry;
use base64::Engine as _;
use ring::digest;
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::NodeError;
use switchyard_model::item::Item;
use switchyard_model::path::Segment;
use switchyard_model::value::Value;
use switchyard_model::workflow::MAIN;

pub const TYPE: &str = "crypto.hash";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx)))
}

pub fn descriptor() -> NodeDescriptor {
    let mut parameters = content_params("Hash");
    parameters.extend([algorithm_param(), encoding_param(), field_param("hash")]);
    super::descriptor(
        TYPE,
        "Hash",
        "Puts a digest of a text or of one of the item's files (SHA-256, SHA-384, SHA-512 or SHA-1) into a field of \
         each item, as hex or base64.",
        NodeGroup::Data,
        "hash",
        vec![Port::main()],
        parameters,
    )
}

/// What a digest is made of: a text, or one of the item's files (read in chunks).
pub(crate) fn content_params(verb: &str) -> Vec<ParamSpec> {
    vec![
        ParamSpec::options(
            "input",
            verb,
            &[("text", "A text"), ("file", "A file of the item (binary property)")],
            "text",
        ),
        ParamSpec::string("value", "Text").required().placeholder("{{ json.body }}").show_if("input", &["text"]),
        ParamSpec::string("binaryProperty", "File property")
            .default_value("data")
            .literal()
            .show_if("input", &["file"])
            .describe("Which of the item's files (binary.<name>)."),
    ]
}

pub(crate) fn algorithm_param() -> ParamSpec {
    ParamSpec::options(
        "algorithm",
        "Algorithm",
        &[("sha256", "SHA-256"), ("sha384", "SHA-384"), ("sha512", "SHA-512"), ("sha1", "SHA-1 (old checksums only)")],
        "sha256",
    )
}

pub(crate) fn encoding_param() -> ParamSpec {
    ParamSpec::options("encoding", "Encoding", &[("hex", "Hex"), ("base64", "Base64")], "hex")
}

pub(crate) fn field_param(default: &str) -> ParamSpec {
    ParamSpec::string("field", "Put it in").literal().default_value(default).placeholder(default)
}

/// The `field` parameter's path, `default` when empty.
pub(crate) fn field_of(ctx: &NodeContext, default: &str) -> Result<Vec<Segment>, NodeError> {
    match ctx.raw_param("field").as_str().map(str::trim) {
        Some(f) if !f.is_empty() => field_path("field", f),
        _ => field_path("field", default),
    }
}

/// `bytes` as the `encoding` parameter says: lowercase hex or standard base64.
pub(crate) fn encode(ctx: &NodeContext, bytes: &[u8]) -> String {
    if ctx.choice("encoding") == "base64" {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    } else {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Hands the item's content (the text, or the file in chunks) to `update`.
pub(crate) async fn feed(
    ctx: &NodeContext,
    item: &Item,
    index: usize,
    mut update: impl FnMut(&[u8]),
) -> Result<(), NodeError> {
    if ctx.choice("input") == "file" {
        let property = property_name(ctx.raw_param("binaryProperty"));
        let data = file_of(item, &property, "binaryProperty")?;
        ctx.services.blobs.each_chunk(data, update).await
    } else {
        update(ctx.eval("value", item, index)?.to_text().as_bytes());
        Ok(())
    }
}

/// Puts a digest of each item's content (see [`feed`]) at `field`, encoded as the node says:
/// `start` makes a fresh digest, `update` feeds it, `finish` ends it. An item whose content
/// cannot be read, or whose JSON has no place for the field, fails on its own.
pub(crate) async fn digest_each<D>(
    ctx: &mut NodeContext,
    field: &[Segment],
    start: impl Fn() -> D,
    update: impl Fn(&mut D, &[u8]),
    finish: impl Fn(D) -> Vec<u8>,
) -> NodeResult {
    let items = ctx.take_input(0).into_vec();
    let mut out = Outputs::new();
    for (index, item) in items.into_iter().enumerate() {
        let mut digest = start();
        if let Err(error) = feed(ctx, &item, index, |bytes| update(&mut digest, bytes)).await {
            ctx.item_failed(&mut out, item, index, error.with_item(index))?;
            continue;
        }
        let encoded = encode(ctx, &finish(digest));
        match super::with_field(item, index, field, Value::from(encoded)) {
            Ok(item) => out.push(MAIN, item),
            Err((item, error)) => ctx.item_failed(&mut out, item, index, error.with_item(index))?,
        }
    }
    Ok(out)
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let algorithm = match ctx.choice("algorithm").as_str() {
        "sha384" => &digest::SHA384,
        "sha512" => &digest::SHA512,
        "sha1" => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        _ => &digest::SHA256,
    };
    let field = field_of(ctx, "hash")?;
    digest_each(
        ctx,
        &field,
        || digest::Context::new(algorithm),
        |d, bytes| d.update(bytes),
        |d| d.finish().as_ref().to_vec(),
    )
    .await
}
