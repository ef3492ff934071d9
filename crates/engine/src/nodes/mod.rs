//! Built-in node types, one file each. A node file owns everything about its type: its
//! `TYPE` name, its `entry()` for the registry (descriptor, execute and the optional hooks of
//! [`NodeEntry`]: its own validation, trigger wiring, regions) and the helpers behind them.
//! Nothing outside the file names its type (a test greps the tree).

use crate::registry::{NodeEntry, Registry};
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError};
use switchyard_model::item::{Item, Paired};

// One line per node type: its file. `all()` lists every file of this folder (written by
// build.rs), so adding a node type is its file plus its line here.
pub mod ai_agent;
pub mod ai_chat;
pub mod ai_orchestrate;
pub mod code_script;
pub mod compression;
pub mod crypto_hash;
pub mod crypto_hmac;
pub mod data_aggregate;
pub mod data_convert;
pub mod data_filter;
pub mod data_limit;
pub mod data_rename_keys;
pub mod data_set;
pub mod data_sort;
pub mod data_split_out;
pub mod datetime;
pub mod db_query;
pub mod db_write;
pub mod email_send;
pub mod file_read;
pub mod file_write;
pub mod flow_batch;
pub mod flow_execute_workflow;
pub mod flow_if;
pub mod flow_merge;
pub mod flow_noop;
pub mod flow_parallel;
pub mod flow_respond;
pub mod flow_switch;
pub mod flow_wait;
pub mod html_extract;
pub mod http_request;
pub mod shell_exec;
pub mod trigger_error;
pub mod trigger_file;
pub mod trigger_imap;
pub mod trigger_manual;
pub mod trigger_postgres;
pub mod trigger_schedule;
pub mod trigger_webhook;
pub mod trigger_workflow;
pub mod util_uuid;
pub mod webhook_send;

/// Every built-in node type.
pub fn all() -> Vec<NodeEntry> {
    include!(concat!(env!("OUT_DIR"), "/node_entries.rs"))
}

impl Registry {
    /// A registry of every built-in node type.
    pub fn builtin() -> Registry {
        let mut registry = Registry::empty();
        for entry in all() {
            registry.add(entry);
        }
        registry
    }
}

/// A version-1 descriptor with one main input (none for triggers) and the given outputs.
pub(crate) fn descriptor(
    node_type: &str,
    display_name: &str,
    description: &str,
    group: NodeGroup,
    icon: &str,
    outputs: Vec<Port>,
    parameters: Vec<ParamSpec>,
) -> NodeDescriptor {
    NodeDescriptor {
        node_type: node_type.into(),
        version: 1,
        display_name: display_name.into(),
        description: description.into(),
        group,
        icon: icon.into(),
        inputs: if group == NodeGroup::Trigger { vec![] } else { vec![Port::main()] },
        outputs,
        dynamic_outputs: None,
        parameters,
        credentials: vec![],
        per_item_calls: false,
    }
}

/// Items passed on unchanged, each paired with its input position.
pub(crate) fn pass_through(items: Vec<Item>) -> Vec<Item> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, mut item)| {
            item.set_paired(Paired::item(i));
            item
        })
        .collect()
}

/// A file error naming the path.
pub(crate) fn file_error(path: &std::path::Path, what: &str, e: &std::io::Error) -> NodeError {
    let why = match e.kind() {
        std::io::ErrorKind::NotFound => "it does not exist".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::AlreadyExists => "it already exists".to_string(),
        _ => e.to_string(),
    };
    NodeError::new(ErrorCode::FileError, format!("cannot {what} {}: {why}", path.display()))
        .with_class(ErrorClass::Permanent)
        .with_details(serde_json::json!({ "path": path.display().to_string() }))
}

/// The item (paired with input `index`) with `value` set at the `field` parameter's path; an
/// item whose JSON has no place for it fails, naming the parameter.
pub(crate) fn with_field(
    item: Item,
    index: usize,
    field: &[switchyard_model::path::Segment],
    value: switchyard_model::value::Value,
) -> Result<Item, (Item, NodeError)> {
    let mut item = item;
    item.set_paired(Paired::item(index));
    if !item.json.set_path(field, value) {
        let problem = NodeError::new(
            ErrorCode::InvalidParameter,
            format!("the item's JSON is {}, which has no field to set", item.json.type_name()),
        )
        .with_parameter("field");
        return Err((item, problem));
    }
    Ok(item)
}

pub(crate) use crate::connect::account_fields;

/// Each entry's `field` of a list parameter `name`, compiled (expressions allowed) once per
/// workflow version; errors name the entry (`arguments[2].value`).
pub(crate) fn compile_list(
    ctx: &crate::node::NodeContext,
    name: &str,
    field: &str,
) -> Result<Vec<std::sync::Arc<crate::expr::Compiled>>, NodeError> {
    let entries = ctx.raw_param(name).as_array().cloned().unwrap_or_default();
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let raw = entry.get(field).unwrap_or(&serde_json::Value::Null);
            ctx.compiled_part(&format!("{name}[{i}].{field}"), raw)
        })
        .collect()
}
