//! Write File: writes each item's JSON, a text, or one of its files (copied from the blob
//! store in chunks, so any size) to a path. Creating and overwriting are
//! atomic (a temporary file beside it, written and flushed to disk, then moved into place):
//! a crash leaves the old file or the new one, never a part. Appending adds to the end.

use super::file_error;
use crate::access::{Access, AccessKind};
use crate::node::{NodeContext, NodeResult, Outputs};
use crate::registry::NodeEntry;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::{ErrorCode, NodeError};
use switchyard_model::item::Paired;
use switchyard_model::value::{Object, Value};
use switchyard_model::workflow::{MAIN, Node};

pub const TYPE: &str = "file.write";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx))).with_access(access)
}

pub fn descriptor() -> NodeDescriptor {
    let mut d = super::descriptor(
        TYPE,
        "Write File",
        "Writes each item's JSON, a text, or one of its files (a binary property) to a file; emits the item with \
         written: {path, bytes}. Creating and \
         overwriting are atomic: a crash leaves the old file or the new one, never a part of it.",
        NodeGroup::Action,
        "file",
        vec![Port::main()],
        vec![
            ParamSpec::string("path", "File").required().placeholder("~/Reports/{{ json.id }}.json"),
            ParamSpec::options(
                "content",
                "Write",
                &[("json", "The item's JSON"), ("text", "A text"), ("file", "A file of the item (binary property)")],
                "json",
            ),
            ParamSpec::string("text", "Text").placeholder("{{ json.line }}").show_if("content", &["text"]),
            ParamSpec::string("binaryProperty", "File property")
                .default_value("data")
                .literal()
                .show_if("content", &["file"])
                .describe("Which of the item's files to write (binary.<name>)."),
            ParamSpec::options(
                "mode",
                "If the file exists",
                &[
                    ("overwrite", "Replace it"),
                    ("create", "Fail (create new files only)"),
                    ("append", "Add to its end"),
                ],
                "overwrite",
            ),
            ParamSpec::boolean("createFolders", "Create missing folders", false),
        ],
    );
    d.per_item_calls = true;
    d
}

fn access(node: &Node) -> Vec<Access> {
    let path = node.parameters.get("path").and_then(|v| v.as_str()).unwrap_or("");
    vec![Access::path(AccessKind::Write, path)]
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Overwrite,
    Create,
    Append,
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let mode = match ctx.choice("mode").as_str() {
        "create" => Mode::Create,
        "append" => Mode::Append,
        _ => Mode::Overwrite,
    };
    let content = ctx.choice("content");
    let property = crate::binary::property_name(ctx.raw_param("binaryProperty"));
    let folders = ctx.raw_param("createFolders").as_bool().unwrap_or(false);
    let items = ctx.take_input(0).into_vec();
    let mut out = Outputs::new();
    for (index, item) in items.into_iter().enumerate() {
        ctx.check_cancelled()?;
        let written = async {
            let text = ctx.eval("path", &item, index)?.to_text();
            let path = ctx.services.local.check_path(AccessKind::Write, &text).map_err(|e| e.with_parameter("path"))?;
            let source = match content.as_str() {
                "text" => Source::Bytes(ctx.eval("text", &item, index)?.to_text().into_bytes()),
                "file" => {
                    let data = crate::binary::file_of(&item, &property, "binaryProperty")?;
                    Source::Blob(ctx.services.blobs.path(data)?, data.size)
                }
                _ => {
                    let mut json = serde_json::to_vec_pretty(&serde_json::Value::from(&item.json))
                        .map_err(|e| NodeError::new(ErrorCode::Internal, e.to_string()))?;
                    json.push(b'\n');
                    Source::Bytes(json)
                }
            };
            let size = source.len();
            let target = path.clone();
            tokio::task::spawn_blocking(move || write(&target, &source, mode, folders))
                .await
                .map_err(|e| NodeError::new(ErrorCode::Internal, e.to_string()))??;
            Ok::<_, NodeError>((path, size))
        }
        .await;
        match written {
            Ok((path, size)) => {
                let mut item = item;
                let mut json = item.take_json();
                let mut info = Object::new();
                info.insert("path", Value::from(path.display().to_string()));
                info.insert("bytes", Value::from(size as i64));
                if let Some(object) = json.as_object_mut() {
                    object.insert("written", Value::object(info));
                }
                item.take_error();
                out.push(MAIN, item.reshaped(json, Paired::item(index)));
            }
            Err(error) => ctx.item_failed(&mut out, item, index, error.with_item(index))?,
        }
    }
    Ok(out)
}

/// What to write: bytes in memory, or a blob copied in chunks.
enum Source {
    Bytes(Vec<u8>),
    Blob(PathBuf, u64),
}

impl Source {
    fn len(&self) -> usize {
        match self {
            Source::Bytes(b) => b.len(),
            Source::Blob(_, size) => *size as usize,
        }
    }

    fn write_to(&self, file: &mut std::fs::File) -> std::io::Result<()> {
        match self {
            Source::Bytes(bytes) => file.write_all(bytes),
            Source::Blob(path, _) => {
                let mut blob = std::fs::File::open(path).map_err(|e| {
                    let missing = e.kind() == std::io::ErrorKind::NotFound;
                    let text = if missing { "the file is no longer in the blob store" } else { "cannot read the blob" };
                    std::io::Error::new(e.kind(), format!("{text} ({e})"))
                })?;
                std::io::copy(&mut blob, file).map(|_| ())
            }
        }
    }
}

fn write(path: &Path, source: &Source, mode: Mode, folders: bool) -> Result<(), NodeError> {
    let parent = path.parent().unwrap_or(Path::new("/"));
    if !parent.is_dir() {
        if !folders {
            return Err(NodeError::new(
                ErrorCode::FileError,
                format!("cannot write {}: its folder {} does not exist", path.display(), parent.display()),
            )
            .with_class(switchyard_model::error::ErrorClass::Permanent)
            .with_parameter("path"));
        }
        std::fs::create_dir_all(parent).map_err(|e| file_error(parent, "create the folder", &e))?;
    }
    if path.is_dir() {
        return Err(NodeError::new(ErrorCode::FileError, format!("cannot write {}: it is a folder", path.display()))
            .with_class(switchyard_model::error::ErrorClass::Permanent));
    }
    if mode == Mode::Append {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| file_error(path, "write", &e))?;
        source.write_to(&mut file).and_then(|()| file.sync_all()).map_err(|e| file_error(path, "write", &e))?;
        return Ok(());
    }
    // Beside the target, so that moving it into place is a rename on one file system.
    let temp = temp_path(path);
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(|e| file_error(&temp, "write", &e))?;
        source.write_to(&mut file).and_then(|()| file.sync_all()).map_err(|e| file_error(path, "write", &e))?;
        drop(file);
        match mode {
            // A hard link fails when the target exists: no other writer's file is replaced.
            Mode::Create => std::fs::hard_link(&temp, path).map_err(|e| file_error(path, "create", &e)),
            _ => std::fs::rename(&temp, path).map_err(|e| file_error(path, "replace", &e)),
        }
    })();
    let _ = std::fs::remove_file(&temp);
    result?;
    // The rename itself reaches the disk with the folder's entry.
    #[cfg(unix)]
    if let Ok(dir) = std::fs::File::open(parent) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// A hidden, unique name beside `path`.
fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", fastrand::u64(..)))
}
