//! Switchyard's data model: the workflow file format, items, node descriptors, run events,
//! execution records and error codes. Pure data with serde and TypeScript bindings; no I/O.

pub mod alerts;
pub mod connection;
pub mod descriptor;
pub mod diff;
pub mod error;
pub mod events;
pub mod execution;
pub mod hosts;
pub mod ids;
pub mod item;
pub mod json_pos;
pub mod path;
pub mod records;
pub mod redact;
pub mod retry;
pub mod value;
pub mod webhook;
pub mod workflow;

pub use descriptor::{NodeDescriptor, NodeGroup, ParamKind, ParamSpec, Port};
pub use error::{ErrorClass, ErrorCode, NodeError, ValidationIssue};
pub use events::{OutputCount, RunEvent, RunEventKind};
pub use execution::{Execution, ExecutionSummary, NodeRunData, NodeRunStatus, OutputData, RunMode, RunStatus};
pub use item::{Item, Paired, PairedItem};
pub use records::{WorkflowRecord, WorkflowSummary};
pub use retry::{Backoff, Jitter, RetryPolicy};
pub use value::{Object, Value};
pub use workflow::{
    Connection, CredentialRef, InputRef, Node, NodeSettings, OnError, OutputRef, PinnedItem, Workflow, WorkflowSettings,
};
