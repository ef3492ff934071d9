//! Events a run streams to its listeners (the editor, the CLI, metrics).

use crate::error::NodeError;
use crate::execution::{DebugAction, NodeRunStatus, OutputData, RunStatus};
use crate::retry::BreakerState;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunEvent {
    pub execution_id: String,
    pub workflow_id: String,
    /// Increases by one for each event of a run.
    pub seq: u32,
    /// RFC 3339 time from the run's clock.
    pub at: String,
    #[serde(flatten)]
    pub kind: RunEventKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum RunEventKind {
    RunStarted {
        workflow_name: String,
        /// The nodes this run will execute, in a valid order.
        node_ids: Vec<String>,
    },
    NodeStarted {
        node_id: String,
        node_name: String,
        items_in: u32,
    },
    NodeProgress {
        node_id: String,
        done: u32,
        total: u32,
        #[ts(optional)]
        eta_ms: Option<u32>,
    },
    /// A try failed with an error the node's retry policy retries; the next try starts
    /// after `delayMs`.
    NodeRetrying {
        node_id: String,
        node_name: String,
        /// The item being retried; absent when the whole node is retried.
        #[ts(optional)]
        item_index: Option<u32>,
        /// The try about to start (2 for the first retry).
        attempt: u32,
        max_tries: u32,
        delay_ms: u32,
        error: NodeError,
    },
    /// A node's call waited for a rate limit (`key`: a host, or `connection:TYPE`).
    NodeThrottled {
        node_id: String,
        node_name: String,
        key: String,
        waited_ms: u32,
    },
    /// A node's call moved a circuit breaker (`key`: a host, or an account) to `state`.
    BreakerChanged {
        node_id: String,
        node_name: String,
        key: String,
        state: BreakerState,
    },
    /// A model's answer as it streams in (AI nodes): `text` follows what the item's answer
    /// showed so far; `fresh` starts the answer over (a new try).
    NodeStreamed {
        node_id: String,
        item_index: u32,
        text: String,
        fresh: bool,
    },
    /// An AI agent's step, for the live transcript: the model's text, a tool it called (with
    /// the arguments), or a tool's result. `step` counts the model's turns from 1.
    AgentStep {
        node_id: String,
        item_index: u32,
        step: u32,
        entry: AgentEntry,
    },
    /// What one model call used (AI nodes), for the node's metrics and the cost estimate.
    ModelUsage {
        node_id: String,
        node_name: String,
        model: String,
        /// `connection/label` of the account called.
        account: String,
        tokens_in: u32,
        tokens_out: u32,
        duration_ms: u32,
    },
    NodeFinished {
        node_id: String,
        node_name: String,
        status: NodeRunStatus,
        items_in: u32,
        outputs: Vec<OutputCount>,
        duration_ms: u32,
    },
    NodeFailed {
        node_id: String,
        node_name: String,
        error: NodeError,
        duration_ms: u32,
    },
    /// A manual run stopped before a node with a breakpoint (or the next node, after a
    /// step): nothing new starts until it is told to continue, step or stop. `inputs` are
    /// the items about to go in, per input, cut to the run-data limits.
    NodePaused {
        node_id: String,
        node_name: String,
        items_in: u32,
        inputs: Vec<OutputData>,
        /// Paused after a step rather than at a breakpoint.
        stepping: bool,
    },
    /// A paused run goes on (`continue` or `step`; `stop` ends it as cancelled).
    RunResumed {
        node_id: String,
        action: DebugAction,
    },
    RunFinished {
        status: RunStatus,
        duration_ms: u32,
        #[ts(optional)]
        error: Option<NodeError>,
    },
}

/// One entry of an AI agent's transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentEntry {
    pub role: AgentRole,
    /// The model's text, or the tool's result (cut to 2,000 characters in events).
    pub content: String,
    /// The tool called, for calls and results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub tool: Option<String>,
    /// A call's arguments as the model wrote them (JSON text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub arguments: Option<String>,
    /// A result that is an error (the tool failed, timed out or got bad arguments).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[ts(optional, as = "Option<bool>")]
    pub error: bool,
    /// Which agent of an orchestration this is (none for an AI Agent node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub agent: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AgentRole {
    /// The user's prompt.
    User,
    /// The model's text.
    Assistant,
    /// The model asked for a tool.
    Call,
    /// A tool's answer.
    Result,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
pub struct OutputCount {
    pub name: String,
    pub items: u32,
}
