//! Region nodes: a node whose outputs lead into parts of the workflow that the executor
//! runs on the node's behalf (a Batch node's loop, a Parallel node's branches) before the
//! node itself is done. A node type says what its regions are through
//! [`crate::NodeEntry::with_region`]; the executor and validation ask the entry, never the
//! type name.

use std::time::Duration;

/// The output a region node's result leaves on, once its regions are done.
pub const DONE: &str = "done";

/// How a node with branches decides it is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Every branch finishes; the node fails if one failed.
    All,
    /// The first branch to succeed wins; the others are cancelled.
    Race,
    /// This many branches succeed; the others are cancelled.
    Quorum(usize),
}

/// What a region node's outputs lead into, read from its parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Region {
    /// The nodes after `output` run once per batch of `size` items, one batch after the
    /// other. Failed items stop the loop (`stop_on_error`) or are collected and run again
    /// (only them) up to `rounds` more times.
    Loop { output: String, size: usize, stop_on_error: bool, rounds: u32 },
    /// The nodes after each output run at the same time, each on its own copy of the
    /// items, waited for by `strategy`; a branch still running after `timeout` fails.
    Branches { outputs: Vec<String>, strategy: Strategy, timeout: Option<Duration> },
}

impl Region {
    /// The outputs whose downstream nodes form the regions.
    pub fn outputs(&self) -> Vec<String> {
        match self {
            Region::Loop { output, .. } => vec![output.clone()],
            Region::Branches { outputs, .. } => outputs.clone(),
        }
    }
}
