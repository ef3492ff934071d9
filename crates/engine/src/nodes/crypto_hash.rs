//! Hash: a digest of a text (SHA-256, SHA-384, SHA-512, or SHA-1 for old checksums), as hex or
//! base64, into a field of each item.

use crate::node::{NodeContext, NodeResult, Outputs};
use crate::registry::NodeEntry;
use base64::Engine as _;
use ring::digest;
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::value::Value;

pub const TYPE: &str = "crypto.hash";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx)))
}

pub fn descriptor() -> NodeDescriptor {
    super::descriptor(
        TYPE,
        "Hash",
        "Puts a digest of a text (SHA-256, SHA-384, SHA-512 or SHA-1) into a field of each item, as hex or base64.",
        NodeGroup::Data,
        "hash",
        vec![Port::main()],
        vec![
            ParamSpec::string("value", "Text").required().placeholder("{{ json.body }}"),
            ParamSpec::options(
                "algorithm",
                "Algorithm",
                &[
                    ("sha256", "SHA-256"),
                    ("sha384", "SHA-384"),
                    ("sha512", "SHA-512"),
                    ("sha1", "SHA-1 (old checksums only)"),
                ],
                "sha256",
            ),
            ParamSpec::options("encoding", "Encoding", &[("hex", "Hex"), ("base64", "Base64")], "hex"),
            ParamSpec::string("field", "Put it in").literal().default_value("hash").placeholder("hash"),
        ],
    )
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let algorithm = match ctx.choice("algorithm").as_str() {
        "sha384" => &digest::SHA384,
        "sha512" => &digest::SHA512,
        "sha1" => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        _ => &digest::SHA256,
    };
    let base64 = ctx.choice("encoding") == "base64";
    let field = match ctx.raw_param("field").as_str().map(str::trim) {
        Some(f) if !f.is_empty() => crate::node::field_path("field", f)?,
        _ => crate::node::field_path("field", "hash")?,
    };
    let items = ctx.take_input(0).into_vec();
    let mut out = Outputs::new();
    let mapped = ctx.map_items(items, &mut out, |item, index| {
        let text = match ctx.eval("value", &item, index) {
            Ok(v) => v.to_text(),
            Err(e) => return Err((item, e)),
        };
        let hash = digest::digest(algorithm, text.as_bytes());
        let encoded = if base64 {
            base64::engine::general_purpose::STANDARD.encode(hash.as_ref())
        } else {
            hash.as_ref().iter().map(|b| format!("{b:02x}")).collect()
        };
        super::with_field(item, index, &field, Value::from(encoded)).map(Some)
    })?;
    out.extend("main", mapped);
    Ok(out)
}
