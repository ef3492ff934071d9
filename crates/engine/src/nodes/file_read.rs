//! Read Files: reads a file, a folder's files, or the files a pattern matches (`*.csv`,
//! `**/*.json`), one item per file: as text, parsed JSON, or the file itself (its bytes in the
//! blob store, read in chunks, so any size). Only inside the folders workflows may use, and
//! for an imported workflow only what the user approved.

use super::file_error;
use crate::access::{Access, AccessKind};
use crate::node::{NodeContext, NodeResult, Outputs};
use crate::registry::NodeEntry;
use std::path::{Path, PathBuf};
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError};
use switchyard_model::item::{Item, Paired};
use switchyard_model::value::{Object, Value};
use switchyard_model::workflow::{MAIN, Node};

pub const TYPE: &str = "file.read";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx))).with_access(access)
}

pub fn descriptor() -> NodeDescriptor {
    let mut d = super::descriptor(
        TYPE,
        "Read Files",
        "Reads a file, a folder's files or the files a pattern matches (*.csv, **/*.json), one item per file: \
         {path, fileName, size, modifiedAt} with the text, the parsed JSON as data, or the file itself as a \
         binary property (any size; Convert Data parses it).",
        NodeGroup::Action,
        "file",
        vec![Port::main()],
        vec![
            ParamSpec::string("path", "File, folder or pattern")
                .required()
                .placeholder("~/Invoices/*.json")
                .describe("A full path (or ~/…). * matches within a folder name, ** any folders, ? one character."),
            ParamSpec::options(
                "format",
                "Read as",
                &[("text", "Text (UTF-8)"), ("json", "JSON"), ("file", "File (binary property)")],
                "text",
            ),
            ParamSpec::string("binaryProperty", "File property")
                .default_value("data")
                .literal()
                .show_if("format", &["file"])
                .describe("The name the file gets in the item's files (binary.<name>)."),
            ParamSpec::boolean("recursive", "Include subfolders", false)
                .describe("For a folder: its subfolders' files too. Patterns say so with **."),
            ParamSpec::integer("maxFiles", "At most (files)", Some(1.0), Some(100_000.0))
                .default_value(1000)
                .literal()
                .describe("More matches fail the node rather than read them all."),
            ParamSpec::boolean("followSymlinks", "Follow symbolic links", false)
                .describe("Off: links are skipped, so a link cannot lead outside the folder."),
        ],
    );
    d.per_item_calls = true;
    d
}

fn access(node: &Node) -> Vec<Access> {
    let path = node.parameters.get("path").and_then(|v| v.as_str()).unwrap_or("");
    vec![Access::path(AccessKind::Read, path)]
}

#[derive(Clone, PartialEq)]
enum Format {
    Text,
    Json,
    /// As a file under this property.
    File(String),
}

struct Options {
    format: Format,
    recursive: bool,
    max_files: usize,
    follow: bool,
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let options = Options {
        format: match ctx.choice("format").as_str() {
            "json" => Format::Json,
            "file" => Format::File(crate::binary::property_name(ctx.raw_param("binaryProperty"))),
            _ => Format::Text,
        },
        recursive: ctx.raw_param("recursive").as_bool().unwrap_or(false),
        max_files: ctx.raw_param("maxFiles").as_u64().unwrap_or(1000).clamp(1, 100_000) as usize,
        follow: ctx.raw_param("followSymlinks").as_bool().unwrap_or(false),
    };
    let items = ctx.take_input(0).into_vec();
    let mut out = Outputs::new();
    for (index, item) in items.into_iter().enumerate() {
        ctx.check_cancelled()?;
        match read_for(ctx, &item, index, &options).await {
            Ok(files) => {
                for file in files {
                    out.push(MAIN, file.reshaped_paired(Paired::item(index)));
                }
            }
            Err(error) => ctx.item_failed(&mut out, item, index, error)?,
        }
    }
    Ok(out)
}

async fn read_for(ctx: &NodeContext, item: &Item, index: usize, options: &Options) -> Result<Vec<Item>, NodeError> {
    let text = ctx.eval("path", item, index)?.to_text();
    let place = |e: NodeError| e.with_parameter("path").with_item(index);
    let checked = ctx.services.local.check_path(AccessKind::Read, &text).map_err(place)?;
    let pattern = checked.to_string_lossy().into_owned();
    let wildcard = pattern.contains(['*', '?']);
    let (base, matcher) = if wildcard {
        // The folder to walk: the pattern's part before its first wildcard's folder.
        let cut = pattern.find(['*', '?']).unwrap_or(pattern.len());
        let base = pattern[..cut].rfind('/').map_or("/", |at| if at == 0 { "/" } else { &pattern[..at] });
        (PathBuf::from(base), Some(pattern.clone()))
    } else {
        (checked.clone(), None)
    };
    let (follow, recursive, limit) = (options.follow, options.recursive || pattern.contains("**"), options.max_files);
    let found = tokio::task::spawn_blocking(move || list(&base, matcher.as_deref(), recursive, follow, limit))
        .await
        .map_err(|e| NodeError::new(ErrorCode::Internal, e.to_string()))?
        .map_err(place)?;
    let mut out = Vec::with_capacity(found.len());
    for path in found {
        ctx.check_cancelled()?;
        // Each file is checked where it really is (a pattern's matches as well).
        ctx.services.local.check_path(AccessKind::Read, &path.to_string_lossy()).map_err(place)?;
        out.push(read_one(ctx, &path, &options.format).await.map_err(|e| e.with_item(index))?);
    }
    Ok(out)
}

/// The files to read: `base` itself when it is a file, else the files under it that match.
fn list(
    base: &Path,
    pattern: Option<&str>,
    recursive: bool,
    follow: bool,
    limit: usize,
) -> Result<Vec<PathBuf>, NodeError> {
    let meta = std::fs::symlink_metadata(base).map_err(|e| file_error(base, "read", &e))?;
    if pattern.is_none() && !meta.is_dir() {
        if meta.file_type().is_symlink() && !follow {
            return Err(NodeError::new(
                ErrorCode::FileError,
                format!("{} is a symbolic link; turn on \"Follow symbolic links\" to read it", base.display()),
            )
            .with_class(ErrorClass::Permanent));
        }
        return Ok(vec![base.to_path_buf()]);
    }
    let mut found = Vec::new();
    let mut folders = vec![base.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let entries = std::fs::read_dir(&folder).map_err(|e| file_error(&folder, "list", &e))?;
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else { continue };
            let (is_dir, is_file) = if kind.is_symlink() {
                if !follow {
                    continue;
                }
                let target = std::fs::metadata(&path);
                (target.as_ref().is_ok_and(|m| m.is_dir()), target.as_ref().is_ok_and(|m| m.is_file()))
            } else {
                (kind.is_dir(), kind.is_file())
            };
            if is_dir && recursive {
                folders.push(path);
            } else if is_file && pattern.is_none_or(|p| crate::access::path_matches(p, &path.to_string_lossy())) {
                if found.len() == limit {
                    return Err(NodeError::new(
                        ErrorCode::FileError,
                        format!("{} matches more than {limit} files (the node's \"At most\")", base.display()),
                    )
                    .with_class(ErrorClass::Permanent)
                    .with_parameter("maxFiles"));
                }
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

async fn read_one(ctx: &NodeContext, path: &Path, format: &Format) -> Result<Item, NodeError> {
    let meta = tokio::fs::metadata(path).await.map_err(|e| file_error(path, "read", &e))?;
    if meta.is_dir() {
        return Err(NodeError::new(ErrorCode::FileError, format!("cannot read {}: it is a folder", path.display()))
            .with_class(ErrorClass::Permanent));
    }
    let mut object = Object::new();
    object.insert("path", Value::from(path.display().to_string()));
    object.insert(
        "fileName",
        Value::from(path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()),
    );
    object.insert("size", Value::from(meta.len() as i64));
    let modified = meta.modified().ok().map(|t| crate::clock::rfc3339(chrono::DateTime::<chrono::Utc>::from(t)));
    object.insert("modifiedAt", modified.map_or(Value::Null, Value::from));
    if let Format::File(property) = format {
        // Copied in chunks: the message of a failure names the file or the blob store.
        let data = ctx.services.blobs.put_file(path).await?;
        let mut item = Item::new(Value::object(object));
        item.set_file(property.clone(), data);
        return Ok(item);
    }
    let limit = ctx.services.items.max_item_bytes;
    if meta.len() > limit as u64 {
        return Err(NodeError::new(
            ErrorCode::ValueTooLarge,
            format!(
                "{} is {} bytes: an item may have at most {} MiB (Settings → \"Largest item\")",
                path.display(),
                meta.len(),
                limit / (1024 * 1024)
            ),
        )
        .with_class(ErrorClass::Permanent));
    }
    let bytes = tokio::fs::read(path).await.map_err(|e| file_error(path, "read", &e))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        NodeError::new(
            ErrorCode::FileError,
            format!("{} is not UTF-8 text (byte {} is not)", path.display(), e.utf8_error().valid_up_to()),
        )
        .with_class(ErrorClass::Permanent)
    })?;
    if *format == Format::Json {
        let data: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            NodeError::new(
                ErrorCode::FileError,
                format!("{} is not valid JSON at line {} column {}: {e}", path.display(), e.line(), e.column()),
            )
            .with_class(ErrorClass::Permanent)
        })?;
        object.insert("data", Value::from(data));
    } else {
        object.insert("text", Value::from(text));
    }
    Ok(Item::new(Value::object(object)))
}
