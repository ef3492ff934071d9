//! Execution records: what a run did, as stored and shown in the history.

use crate::error::NodeError;
use crate::item::Item;
use crate::workflow::Workflow;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum RunStatus {
    Running,
    Success,
    Error,
    Cancelled,
    Timeout,
    /// The process ended (crash, kill) before the run finished.
    Interrupted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Success => "success",
            RunStatus::Error => "error",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Timeout => "timeout",
            RunStatus::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<RunStatus> {
        [
            RunStatus::Running,
            RunStatus::Success,
            RunStatus::Error,
            RunStatus::Cancelled,
            RunStatus::Timeout,
            RunStatus::Interrupted,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    pub fn is_finished(self) -> bool {
        !matches!(self, RunStatus::Running)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum NodeRunStatus {
    Success,
    Error,
    /// No input items arrived, so the node did not run.
    Skipped,
    /// The node is disabled and passed its input through.
    Disabled,
    /// The node did not run; its pinned items were used.
    Pinned,
    /// The node did not run; its outputs were taken from the run this one retries.
    Reused,
}

/// What a run paused at a breakpoint does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum DebugAction {
    /// Run on until the next breakpoint.
    Continue,
    /// Run just the node it paused before, then pause before the next one.
    Step,
    /// End the run here (recorded as cancelled).
    Stop,
}

impl DebugAction {
    pub fn as_str(self) -> &'static str {
        match self {
            DebugAction::Continue => "continue",
            DebugAction::Step => "step",
            DebugAction::Stop => "stop",
        }
    }
}

/// How a run was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum RunMode {
    Manual,
    Cli,
    Webhook,
    Schedule,
    /// Started by a Folder Trigger: a file added, changed or removed.
    Folder,
    /// Started by a trigger that holds a connection open: a database notification, a new
    /// email.
    Event,
    Error,
    Test,
    /// Started by an alert rule's "run workflow" action.
    Alert,
    /// Called by another workflow's Execute Workflow node.
    Called,
    /// A retry of an earlier execution (from the start, or from its failed node).
    Retry,
}

impl RunMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RunMode::Manual => "manual",
            RunMode::Cli => "cli",
            RunMode::Webhook => "webhook",
            RunMode::Schedule => "schedule",
            RunMode::Folder => "folder",
            RunMode::Event => "event",
            RunMode::Error => "error",
            RunMode::Test => "test",
            RunMode::Alert => "alert",
            RunMode::Called => "called",
            RunMode::Retry => "retry",
        }
    }

    pub fn parse(s: &str) -> Option<RunMode> {
        [
            RunMode::Manual,
            RunMode::Cli,
            RunMode::Webhook,
            RunMode::Schedule,
            RunMode::Folder,
            RunMode::Event,
            RunMode::Error,
            RunMode::Test,
            RunMode::Alert,
            RunMode::Called,
            RunMode::Retry,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionSummary {
    pub id: String,
    pub workflow_id: String,
    pub workflow_name: String,
    pub status: RunStatus,
    pub mode: RunMode,
    pub started_at: String,
    #[ts(optional)]
    pub finished_at: Option<String>,
    #[ts(optional)]
    pub duration_ms: Option<u32>,
    #[ts(optional)]
    pub error: Option<NodeError>,
    /// The run that called this one (Execute Workflow), and its calling node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub called_by: Option<CallLink>,
    /// The execution this one retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub retry_of: Option<String>,
    /// The saved version of the workflow it ran, when it ran one exactly as saved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub workflow_version: Option<u32>,
    /// Which attempt this is, when the run was run again from the start because the worker
    /// running it died (server mode's queue); absent for a run that ran once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub attempt: Option<u32>,
}

/// A call between runs: the calling execution and the Execute Workflow node that called.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallLink {
    pub execution_id: String,
    pub node_id: String,
}

/// The items a node emitted on one output, possibly cut to the stored size cap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputData {
    pub name: String,
    /// How many items the node emitted.
    pub total: u32,
    /// The stored items: all of them, or the first ones when `truncated`.
    pub items: Vec<Item>,
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeRunData {
    pub node_id: String,
    pub node_name: String,
    pub status: NodeRunStatus,
    pub started_at: String,
    pub duration_ms: u32,
    pub items_in: u32,
    pub outputs: Vec<OutputData>,
    #[ts(optional)]
    pub error: Option<NodeError>,
}

/// A whole execution: summary, the workflow as it ran, and each node's data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    pub summary: ExecutionSummary,
    pub workflow: Workflow,
    pub nodes: Vec<NodeRunData>,
    /// The runs this one called (their `calledBy` names the calling node), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[ts(as = "Option<Vec<ExecutionSummary>>", optional)]
    pub calls: Vec<ExecutionSummary>,
}
