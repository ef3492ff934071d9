//! Folder trigger: starts the workflow when a file is added to a folder (or changed, or
//! removed), once the file has settled — its size unchanged for a while, so a file still
//! being copied is not read half-way. Served by the app and `switchyard serve` while the
//! workflow is active; can report what changed while neither was running.

use crate::access::{Access, AccessKind};
use crate::node::{NodeContext, NodeResult, Outputs};
use crate::registry::{CheckContext, NodeEntry};
use crate::trigger::{Change, FolderConfig, FolderEvent, Trigger};
use std::time::Duration;
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::{ErrorCode, NodeError, ValidationIssue};
use switchyard_model::item::Item;
use switchyard_model::value::{Object, Value};
use switchyard_model::workflow::Node;

pub const TYPE: &str = "trigger.file";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx)))
        .with_trigger(Trigger::Folder { config, item })
        .with_check(check)
        .with_access(access)
}

pub fn descriptor() -> NodeDescriptor {
    super::descriptor(
        TYPE,
        "Folder Trigger",
        "Starts the workflow when a file is added to a folder (or changed, or removed) while the workflow is \
         active, once the file stopped changing. Emits {event, path, fileName, size, modifiedAt, missed}; \
         Read Files as \"File\" then reads it.",
        NodeGroup::Trigger,
        "file",
        vec![Port::main()],
        vec![
            ParamSpec::string("folder", "Folder")
                .required()
                .literal()
                .placeholder("~/Invoices")
                .describe("A full path (or ~/…), inside the folders workflows may use (Settings → Local access)."),
            ParamSpec::string("pattern", "File names")
                .literal()
                .placeholder("*.csv")
                .describe("* any characters, ? one; empty: every file."),
            ParamSpec::boolean("recursive", "Include subfolders", false),
            ParamSpec::boolean("added", "When a file is added", true),
            ParamSpec::boolean("changed", "When a file changes", false),
            ParamSpec::boolean("removed", "When a file is removed", false),
            ParamSpec::number("settleSeconds", "Settled after (seconds)")
                .default_value(1)
                .literal()
                .describe("A file counts as written once its size and time stay the same this long."),
            ParamSpec::boolean("catchUp", "Report what changed while closed", false).describe(
                "When the watch starts again, files added, changed or removed since it last ran start runs too.",
            ),
        ],
    )
}

fn text(node: &Node, name: &str) -> String {
    node.parameters.get(name).and_then(|v| v.as_str()).unwrap_or("").to_string()
}

fn flag(node: &Node, name: &str, default: bool) -> bool {
    node.parameters.get(name).and_then(|v| v.as_bool()).unwrap_or(default)
}

fn config(node: &Node) -> Result<FolderConfig, String> {
    let folder = text(node, "folder");
    if folder.trim().is_empty() {
        return Err("folder: say which folder to watch".into());
    }
    let expanded = crate::access::expand_home(folder.trim());
    if !expanded.is_absolute() {
        return Err(format!("folder: \"{folder}\" is not a full path (start it with / or ~/)"));
    }
    let settle = node.parameters.get("settleSeconds").and_then(|v| v.as_f64()).unwrap_or(1.0);
    if !(0.0..=3600.0).contains(&settle) {
        return Err(format!("settleSeconds: must be between 0 and 3600, found {settle}"));
    }
    let config = FolderConfig {
        folder: expanded,
        recursive: flag(node, "recursive", false),
        pattern: text(node, "pattern").trim().to_string(),
        added: flag(node, "added", true),
        changed: flag(node, "changed", false),
        removed: flag(node, "removed", false),
        settle: Duration::from_secs_f64(settle),
        catch_up: flag(node, "catchUp", false),
    };
    if !(config.added || config.changed || config.removed) {
        return Err("added: choose at least one of added, changed or removed".into());
    }
    Ok(config)
}

fn check(node: &Node, cx: &CheckContext<'_>) -> Vec<ValidationIssue> {
    config(node).err().map(|e| cx.parameter_issue(e)).into_iter().collect()
}

/// The folder it watches (the files in it are read by the nodes after it, which ask for
/// their own access).
fn access(node: &Node) -> Vec<Access> {
    let folder = text(node, "folder");
    vec![Access::path(AccessKind::Read, folder.trim().trim_end_matches('/'))]
}

/// The item a change starts the run with.
fn item(event: FolderEvent) -> Item {
    let mut json = Object::new();
    json.insert("event", Value::from(event.change.as_str()));
    json.insert("path", Value::from(event.path.display().to_string()));
    let name = event.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    json.insert("fileName", Value::from(name));
    json.insert("size", Value::from(event.size as i64));
    let modified = event.modified.map(|t| crate::clock::rfc3339(chrono::DateTime::<chrono::Utc>::from(t)));
    json.insert("modifiedAt", modified.map_or(Value::Null, Value::from));
    json.insert("missed", Value::from(event.missed));
    Item::new(Value::object(json))
}

/// Run by hand: an "added" item for each matching file in the folder now (at most 100).
pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let items = ctx.take_run_input();
    if !items.is_empty() && items.iter().any(|i| i.json.get("event").is_some()) {
        return Ok(Outputs::main(items));
    }
    let config = config(&ctx.node).map_err(|e| NodeError::new(ErrorCode::InvalidParameter, e))?;
    let folder = ctx.services.local.check_path(AccessKind::Read, &config.folder.to_string_lossy())?;
    let listed = tokio::task::spawn_blocking(move || {
        let mut found = Vec::new();
        let mut folders = vec![folder];
        while let Some(dir) = folders.pop() {
            let entries = std::fs::read_dir(&dir).map_err(|e| super::file_error(&dir, "list", &e))?;
            for entry in entries.filter_map(Result::ok) {
                let (path, Ok(kind)) = (entry.path(), entry.file_type()) else { continue };
                let name = entry.file_name().to_string_lossy().into_owned();
                if kind.is_dir() && config.recursive {
                    folders.push(path);
                } else if kind.is_file() && switchyard_core::folder::name_matches(&config.pattern, &name) {
                    let meta = entry.metadata().ok();
                    found.push(FolderEvent {
                        change: Change::Added,
                        path,
                        size: meta.as_ref().map_or(0, |m| m.len()),
                        modified: meta.and_then(|m| m.modified().ok()),
                        missed: false,
                    });
                }
            }
        }
        found.sort_by(|a, b| a.path.cmp(&b.path));
        found.truncate(100);
        Ok::<_, NodeError>(found)
    })
    .await
    .map_err(|e| NodeError::new(ErrorCode::Internal, e.to_string()))??;
    Ok(Outputs::main(listed.into_iter().map(item).collect()))
}
