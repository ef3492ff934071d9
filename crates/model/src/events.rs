//! Events a run streams to its listeners (the editor, the CLI, metrics).

use crate::error::NodeError;
use crate::execution::{DebugAction, NodeRunStatus, OutputData, RunStatus};
use crate::retry::BreakerState;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct OutputCount {
    pub name: String,
    pub items: u32,
}
