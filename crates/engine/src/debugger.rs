//! Breakpoints for runs started by hand: the run pauses before a marked node, shows the
//! items about to go in, and waits to be told to continue, step (run just that node, then
//! pause before the next) or stop.
//!
//! A [`DebugControl`] is the outside's handle (the API keeps it by execution id); the run
//! holds the matching [`Debugger`]. Breakpoints can change while the run goes: a node marked
//! while an earlier one runs still pauses it.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use switchyard_model::execution::DebugAction;
use tokio::sync::mpsc;

/// The run's side: which nodes pause it, and the actions sent while it is paused.
#[derive(Debug)]
pub struct Debugger {
    breakpoints: Arc<RwLock<HashSet<String>>>,
    actions: mpsc::UnboundedReceiver<DebugAction>,
}

/// The outside's side: change the breakpoints, tell a paused run what to do.
#[derive(Debug, Clone)]
pub struct DebugControl {
    breakpoints: Arc<RwLock<HashSet<String>>>,
    actions: mpsc::UnboundedSender<DebugAction>,
}

impl DebugControl {
    /// A control and the debugger for a run, with breakpoints on `nodes` (node ids).
    pub fn new(nodes: impl IntoIterator<Item = String>) -> (DebugControl, Debugger) {
        let breakpoints = Arc::new(RwLock::new(nodes.into_iter().collect()));
        let (tx, rx) = mpsc::unbounded_channel();
        (DebugControl { breakpoints: breakpoints.clone(), actions: tx }, Debugger { breakpoints, actions: rx })
    }

    /// Replaces the breakpoints (node ids).
    pub fn set_breakpoints(&self, nodes: impl IntoIterator<Item = String>) {
        *self.breakpoints.write().unwrap_or_else(|p| p.into_inner()) = nodes.into_iter().collect();
    }

    /// Sends an action to the run; false once the run has ended. An action sent while the
    /// run is not paused is dropped when it next pauses (a late click does not skip a
    /// breakpoint).
    pub fn send(&self, action: DebugAction) -> bool {
        self.actions.send(action).is_ok()
    }
}

impl Debugger {
    pub(crate) fn breaks_at(&self, node_id: &str) -> bool {
        self.breakpoints.read().unwrap_or_else(|p| p.into_inner()).contains(node_id)
    }

    /// Forgets actions sent before the run paused.
    pub(crate) fn drain(&mut self) {
        while self.actions.try_recv().is_ok() {}
    }

    /// The next action; `Stop` when every control is gone (nobody can resume the run).
    pub(crate) async fn next(&mut self) -> DebugAction {
        self.actions.recv().await.unwrap_or(DebugAction::Stop)
    }
}
