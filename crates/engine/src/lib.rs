//! Switchyard's workflow engine: validation (petgraph), the executor (tokio), expressions and
//! the Code node (rhai), and the built-in node types.

pub mod access;
pub mod binary;
pub mod conditions;
pub mod connect;
pub mod db;
pub mod debugger;
pub mod email;
pub mod executor;
pub mod expr;
pub mod formats;
pub mod http;
pub mod llm;
pub mod node;
pub mod nodes;
pub mod region;
pub mod registry;
pub mod resilience;
pub mod schedule;
pub mod services;
pub mod subflow;
pub mod trigger;
pub mod validate;

/// The clock and credential pieces nodes use, from the layer below.
pub use switchyard_core::{clock, credentials};

pub use clock::{Clock, ManualClock, SharedClock, SystemClock, TokioClock};
pub use credentials::{Authorization, CredentialProvider, Fields, HostScope, Secret};
pub use debugger::{DebugControl, Debugger};
pub use executor::{Engine, Prepared, Reuse, RunListener, RunOutcome, RunRequest};
pub use registry::{CheckContext, NodeEntry, Registry};
pub use services::{ReplySlot, RunDataLimits, Services};
