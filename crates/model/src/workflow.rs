//! The workflow file format, version 1 (see docs/workflow-format.md).

use crate::item::Item;
use crate::retry::RetryPolicy;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use ts_rs::TS;

/// The format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// The format version of a bundle file: a workflow and the workflows it calls, in one file
/// (`{"switchyardBundle": 1, "workflows": [main, called…]}`).
pub const BUNDLE_FORMAT_VERSION: u32 = 1;

/// A bundle file's contents; the first workflow is the one the bundle is of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    pub switchyard_bundle: u32,
    pub workflows: Vec<Workflow>,
}

impl Bundle {
    pub fn new(workflows: Vec<Workflow>) -> Bundle {
        Bundle { switchyard_bundle: BUNDLE_FORMAT_VERSION, workflows }
    }

    pub fn to_pretty_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// The name of the default input and output of a node.
pub const MAIN: &str = "main";

/// The extra output that exists when a node's `onError` is `errorOutput`.
pub const ERROR_OUTPUT: &str = "error";

pub type JsonMap = serde_json::Map<String, serde_json::Value>;

/// A workflow as stored in a `.json` file and shared between people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Workflow {
    /// The format version; always [`FORMAT_VERSION`] when written by this build.
    pub switchyard: u32,
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub nodes: Vec<Node>,
    #[serde(default)]
    pub connections: Vec<Connection>,
    #[serde(default)]
    pub settings: WorkflowSettings,
    /// Items pinned on a node: the node does not run and emits these instead.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[ts(as = "Option<BTreeMap<String, Vec<Item>>>", optional)]
    pub pin_data: BTreeMap<String, Vec<PinnedItem>>,
    /// Sticky notes on the canvas (markdown); they take no part in runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[ts(as = "Option<Vec<StickyNote>>", optional)]
    pub notes: Vec<StickyNote>,
    /// Top-level keys this version does not know, kept so that a round trip loses nothing.
    #[serde(flatten)]
    #[ts(skip)]
    pub extra: JsonMap,
}

/// A sticky note on the canvas: markdown text in a coloured box, positioned and sized like
/// nodes. Shown, never run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StickyNote {
    pub id: String,
    /// Markdown (shown without raw HTML; links open in the browser after a confirmation).
    #[serde(default)]
    pub content: String,
    #[serde(default, serialize_with = "position_as_written")]
    pub position: [f64; 2],
    /// Width and height on the canvas.
    #[serde(default = "default_note_size", serialize_with = "position_as_written")]
    pub size: [f64; 2],
    #[serde(default)]
    pub color: NoteColor,
}

/// The longest note text a file may hold (characters).
pub const NOTE_MAX_CHARS: usize = 20_000;
/// The smallest and largest width or height of a note.
pub const NOTE_MIN_SIDE: f64 = 60.0;
pub const NOTE_MAX_SIDE: f64 = 4000.0;

fn default_note_size() -> [f64; 2] {
    [260.0, 160.0]
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum NoteColor {
    #[default]
    Yellow,
    Blue,
    Green,
    Pink,
    Purple,
    Gray,
}

impl NoteColor {
    pub const NAMES: &[&str] = &["yellow", "blue", "green", "pink", "purple", "gray"];
}

/// One node on the canvas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    /// Stable id; connections refer to nodes by id so renaming never breaks them.
    pub id: String,
    /// Unique display name; expressions refer to other nodes by name.
    pub name: String,
    #[serde(rename = "type")]
    pub node_type: String,
    #[serde(default = "default_version")]
    pub version: u32,
    #[serde(default, serialize_with = "position_as_written")]
    pub position: [f64; 2],
    #[serde(default)]
    #[ts(type = "Record<string, unknown>")]
    pub parameters: JsonMap,
    /// Credential slots filled with references (never secrets).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[ts(as = "Option<BTreeMap<String, CredentialRef>>", optional)]
    pub credentials: BTreeMap<String, CredentialRef>,
    #[serde(default)]
    pub settings: NodeSettings,
    #[serde(flatten)]
    #[ts(skip)]
    pub extra: JsonMap,
}

/// Whole coordinates are written as integers, as people write them.
fn position_as_written<S: serde::Serializer>(position: &[f64; 2], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeTuple;
    let mut tuple = s.serialize_tuple(2)?;
    for v in position {
        if v.fract() == 0.0 && v.abs() < 1e15 {
            tuple.serialize_element(&(*v as i64))?;
        } else {
            tuple.serialize_element(v)?;
        }
    }
    tuple.end()
}

fn default_version() -> u32 {
    1
}

/// A reference to a stored connection account. The secret stays in the vault.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialRef {
    /// The connection type, e.g. `github`.
    pub connection: String,
    /// The account label; absent means the type's default account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub account: Option<String>,
    /// Keys this version does not know, kept so that a round trip loses nothing.
    #[serde(flatten)]
    #[ts(skip)]
    pub extra: JsonMap,
}

impl CredentialRef {
    pub fn new(connection: impl Into<String>, account: Option<String>) -> CredentialRef {
        CredentialRef { connection: connection.into(), account, extra: JsonMap::new() }
    }
}

/// What a node does when it fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum OnError {
    /// The run fails.
    #[default]
    Stop,
    /// Failed items pass on through the main output, carrying their error.
    Continue,
    /// Failed items leave through an extra `error` output.
    ErrorOutput,
}

/// The most items a node may call out for at the same time.
pub const MAX_CONCURRENCY: u32 = 50;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeSettings {
    /// Retry policy (see docs/workflow-format.md); absent or empty means one try.
    #[serde(default, skip_serializing_if = "RetryPolicy::is_default")]
    #[ts(as = "Option<RetryPolicy>", optional)]
    pub retry: RetryPolicy,
    /// For nodes that call out once per item (HTTP Request): how many items are in flight
    /// at once, 1 to 50. The output keeps the input's order.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    #[ts(as = "Option<u32>", optional)]
    pub concurrency: u32,
    #[serde(default)]
    pub on_error: OnError,
    /// A disabled node passes its input items through unchanged.
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub notes: String,
    #[serde(flatten)]
    #[ts(skip)]
    pub extra: JsonMap,
}

impl Default for NodeSettings {
    fn default() -> NodeSettings {
        NodeSettings {
            retry: RetryPolicy::default(),
            concurrency: 1,
            on_error: OnError::default(),
            disabled: false,
            notes: String::new(),
            extra: JsonMap::default(),
        }
    }
}

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

/// A wire from a node's output to another node's input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
pub struct Connection {
    pub from: OutputRef,
    pub to: InputRef,
    /// Keys this version does not know, kept so that a round trip loses nothing.
    #[serde(flatten)]
    #[ts(skip)]
    pub extra: JsonMap,
}

impl Connection {
    /// A wire from `from`'s output `output` to `to`'s input `input`.
    pub fn new(from: &str, output: &str, to: &str, input: &str) -> Connection {
        Connection {
            from: OutputRef { node: from.into(), output: output.into(), extra: JsonMap::new() },
            to: InputRef { node: to.into(), input: input.into(), extra: JsonMap::new() },
            extra: JsonMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
pub struct OutputRef {
    pub node: String,
    #[serde(default = "main")]
    pub output: String,
    #[serde(flatten)]
    #[ts(skip)]
    pub extra: JsonMap,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
pub struct InputRef {
    pub node: String,
    #[serde(default = "main")]
    pub input: String,
    #[serde(flatten)]
    #[ts(skip)]
    pub extra: JsonMap,
}

/// An item pinned on a node, with keys this version does not know kept for the round trip.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PinnedItem {
    #[serde(flatten)]
    pub item: Item,
    #[serde(flatten)]
    pub extra: JsonMap,
}

fn main() -> String {
    MAIN.to_string()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowSettings {
    /// IANA time zone used by schedules and date expressions.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// The whole run is cancelled after this many seconds.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u32,
    /// Id of a workflow started when a run of this one fails.
    #[serde(default)]
    pub error_workflow: Option<String>,
    /// The account each connection type uses in this workflow (type id → account label),
    /// unless a node names its own. Types not listed use their default account.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    #[ts(optional, as = "Option<std::collections::BTreeMap<String, String>>")]
    pub accounts: std::collections::BTreeMap<String, String>,
    /// When the app or `switchyard serve` starts, run again, from their kept input, the runs
    /// of this workflow that a crash interrupted (each once). Off by default: a re-run repeats
    /// whatever side effects the interrupted run had already caused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[ts(optional, as = "Option<bool>")]
    pub rerun_interrupted: bool,
    #[serde(flatten)]
    #[ts(skip)]
    pub extra: JsonMap,
}

fn default_timezone() -> String {
    "UTC".into()
}

fn default_timeout() -> u32 {
    3600
}

impl Default for WorkflowSettings {
    fn default() -> Self {
        WorkflowSettings {
            timezone: default_timezone(),
            timeout_seconds: default_timeout(),
            error_workflow: None,
            accounts: Default::default(),
            rerun_interrupted: false,
            extra: JsonMap::new(),
        }
    }
}

impl Workflow {
    /// `node` as it runs: each credential slot without an account label names the account
    /// the workflow's settings choose for its connection type (if any).
    pub fn with_default_accounts<'a>(&self, node: &'a Node) -> std::borrow::Cow<'a, Node> {
        if node.credentials.values().all(|r| r.account.is_some() || !self.settings.accounts.contains_key(&r.connection))
        {
            return std::borrow::Cow::Borrowed(node);
        }
        let mut node = node.clone();
        for reference in node.credentials.values_mut() {
            if reference.account.is_none() {
                reference.account = self.settings.accounts.get(&reference.connection).cloned();
            }
        }
        std::borrow::Cow::Owned(node)
    }

    /// An empty workflow with a fresh id.
    pub fn new(name: impl Into<String>) -> Workflow {
        Workflow {
            switchyard: FORMAT_VERSION,
            id: crate::ids::new_id(),
            name: name.into(),
            description: String::new(),
            nodes: Vec::new(),
            connections: Vec::new(),
            settings: WorkflowSettings::default(),
            pin_data: BTreeMap::new(),
            notes: Vec::new(),
            extra: JsonMap::new(),
        }
    }

    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    pub fn node_by_name(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// Pretty JSON as written to files.
    pub fn to_pretty_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}

impl Node {
    pub fn new(id: impl Into<String>, name: impl Into<String>, node_type: impl Into<String>) -> Node {
        Node {
            id: id.into(),
            name: name.into(),
            node_type: node_type.into(),
            version: 1,
            position: [0.0, 0.0],
            parameters: JsonMap::new(),
            credentials: BTreeMap::new(),
            settings: NodeSettings::default(),
            extra: JsonMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"{ "switchyard": 1, "id": "0b6c", "name": "Users", "description": "d",
      "nodes": [ { "id": "n1", "name": "Fetch users", "type": "http.request", "version": 1,
                   "position": [240, 120], "parameters": { "url": "https://x", "method": "GET" },
                   "credentials": { "auth": { "connection": "github", "account": "work", "x-note": 1 } },
                   "settings": { "retry": { }, "onError": "stop", "disabled": false, "notes": "" } } ],
      "connections": [ { "from": { "node": "n1", "x-port": "a" }, "to": { "node": "n2", "input": "main" }, "x-label": "l" } ],
      "settings": { "timezone": "UTC", "timeoutSeconds": 3600, "errorWorkflow": null },
      "pinData": { "n1": [ { "json": { "a": 1 }, "x-source": "sample" } ] },
      "x-owner": { "team": "ops" } }"#;

    #[test]
    fn parses_the_documented_example_and_keeps_unknown_keys() {
        let wf: Workflow = serde_json::from_str(EXAMPLE).unwrap();
        assert_eq!(wf.nodes[0].credentials["auth"].account.as_deref(), Some("work"));
        assert_eq!(wf.connections[0].from.output, "main");
        assert_eq!(wf.extra["x-owner"]["team"], "ops");
        let written = serde_json::to_value(&wf).unwrap();
        assert_eq!(written["x-owner"]["team"], "ops");
        // Unknown keys deeper in the file survive too.
        assert_eq!(written["nodes"][0]["credentials"]["auth"]["x-note"], 1);
        assert_eq!(written["connections"][0]["x-label"], "l");
        assert_eq!(written["connections"][0]["from"]["x-port"], "a");
        assert_eq!(written["pinData"]["n1"][0]["x-source"], "sample");
        assert_eq!(written["pinData"]["n1"][0]["json"]["a"], 1);
        let keys: Vec<_> = written["nodes"][0]["parameters"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["url", "method"], "parameter order is kept");
        let again: Workflow = serde_json::from_value(written).unwrap();
        assert_eq!(again, wf);
    }
}
