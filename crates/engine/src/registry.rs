//! The node types this build knows, by type name and version. A node type is one
//! [`NodeEntry`], made by its own file under `nodes/`: its descriptor, its execute function
//! and, where it has them, its own validation, trigger wiring and regions.

use crate::access::Access;
use crate::node::{BoxFuture, ExecuteFn, NodeContext, NodeResult};
use crate::region::Region;
use crate::trigger::Trigger;
use std::collections::BTreeMap;
use std::sync::Arc;
use switchyard_model::descriptor::NodeDescriptor;
use switchyard_model::error::{ErrorCode, ValidationIssue};
use switchyard_model::workflow::{Node, Workflow};

/// A node type's own checks of a node, beyond what its descriptor's parameter specs say.
pub type CheckFn = fn(&Node, &CheckContext<'_>) -> Vec<ValidationIssue>;
/// A region node's regions, from its parameters.
pub type RegionFn = fn(&Node) -> Region;
/// What a node reaches on this machine, from its parameters.
pub type AccessFn = fn(&Node) -> Vec<Access>;
/// What a team of AI agents in one node is made of (the Orchestrations page lists them).
pub type AgentsFn = fn(&Node) -> AgentsOutline;

/// A node's agents, as configured.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentsOutline {
    /// How they work together (`sequential`, `parallel`, `consensus`).
    pub strategy: String,
    pub agents: Vec<AgentOutline>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AgentOutline {
    pub name: String,
    /// Its own model, or empty.
    pub model: String,
    /// The node's credential slot of its own account (filled or not).
    pub slot: String,
}

/// What a node type's check sees: the whole workflow and where the node is in it.
pub struct CheckContext<'a> {
    pub workflow: &'a Workflow,
    /// The node's position in `workflow.nodes`.
    pub index: usize,
}

impl CheckContext<'_> {
    /// An `invalid_parameter` issue at the node; `message` starts with the parameter's
    /// name and a colon (`"methods: …"`), which becomes its JSON path.
    pub fn parameter_issue(&self, message: impl Into<String>) -> ValidationIssue {
        let message = message.into();
        let node = &self.workflow.nodes[self.index];
        let param = message.split(':').next().unwrap_or("").trim().to_string();
        ValidationIssue::new(
            ErrorCode::InvalidParameter,
            format!("$.nodes[{}].parameters.{param}", self.index),
            message,
        )
        .at_node(&node.id, &node.name)
    }

    /// The nodes before this one, with their positions.
    pub fn earlier_nodes(&self) -> impl Iterator<Item = (usize, &Node)> {
        self.workflow.nodes[..self.index].iter().enumerate()
    }
}

/// A node type: its descriptor, its execute function and its optional hooks.
#[derive(Clone)]
pub struct NodeEntry {
    pub descriptor: Arc<NodeDescriptor>,
    execute: ExecuteFn,
    check: Option<CheckFn>,
    trigger: Option<Trigger>,
    region: Option<RegionFn>,
    access: Option<AccessFn>,
    agents: Option<AgentsFn>,
}

impl std::fmt::Debug for NodeEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeEntry({}@{})", self.descriptor.node_type, self.descriptor.version)
    }
}

impl NodeEntry {
    pub fn new(descriptor: NodeDescriptor, execute: ExecuteFn) -> NodeEntry {
        NodeEntry {
            descriptor: Arc::new(descriptor),
            execute,
            check: None,
            trigger: None,
            region: None,
            access: None,
            agents: None,
        }
    }

    /// Adds the type's own validation, run after the descriptor's parameter checks.
    pub fn with_check(mut self, check: CheckFn) -> NodeEntry {
        self.check = Some(check);
        self
    }

    /// Says how a trigger type starts its workflow.
    pub fn with_trigger(mut self, trigger: Trigger) -> NodeEntry {
        self.trigger = Some(trigger);
        self
    }

    /// Makes the type a region node: the executor runs its regions for it.
    pub fn with_region(mut self, region: RegionFn) -> NodeEntry {
        self.region = Some(region);
        self
    }

    /// Says what the type reaches on this machine (programs, paths): the trust review lists
    /// it and runs of imported workflows are held to what the user approved.
    pub fn with_access(mut self, access: AccessFn) -> NodeEntry {
        self.access = Some(access);
        self
    }

    /// Makes the type a team of AI agents: the Orchestrations page lists its nodes.
    pub fn with_agents(mut self, agents: AgentsFn) -> NodeEntry {
        self.agents = Some(agents);
        self
    }

    /// A team node's agents; `None` for other nodes.
    pub fn agents(&self, node: &Node) -> Option<AgentsOutline> {
        self.agents.map(|agents| agents(node))
    }

    pub fn execute<'a>(&self, ctx: &'a mut NodeContext) -> BoxFuture<'a, NodeResult> {
        (self.execute)(ctx)
    }

    /// The type's own issues with a node (none when it has no check).
    pub fn check(&self, node: &Node, cx: &CheckContext<'_>) -> Vec<ValidationIssue> {
        self.check.map(|check| check(node, cx)).unwrap_or_default()
    }

    /// What a node reaches on this machine (none for most types).
    pub fn access(&self, node: &Node) -> Vec<Access> {
        self.access.map(|access| access(node)).unwrap_or_default()
    }

    pub fn trigger(&self) -> Option<Trigger> {
        self.trigger
    }

    /// A region node's regions; `None` for other nodes.
    pub fn region(&self, node: &Node) -> Option<Region> {
        self.region.map(|region| region(node))
    }

    /// The output that carries a node's result: "done" for region nodes, else main.
    pub fn result_port(&self) -> &'static str {
        if self.region.is_some() { crate::region::DONE } else { switchyard_model::workflow::MAIN }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Registry {
    entries: BTreeMap<(String, u32), NodeEntry>,
}

impl Registry {
    pub fn empty() -> Registry {
        Registry::default()
    }

    pub fn add(&mut self, entry: NodeEntry) {
        let key = (entry.descriptor.node_type.clone(), entry.descriptor.version);
        self.entries.insert(key, entry);
    }

    pub fn get(&self, node_type: &str, version: u32) -> Option<&NodeEntry> {
        self.entries.get(&(node_type.to_string(), version))
    }

    /// The entry of a node's type and version.
    pub fn of(&self, node: &Node) -> Option<&NodeEntry> {
        self.get(&node.node_type, node.version)
    }

    /// How a node starts its workflow, if it is a trigger.
    pub fn trigger_of(&self, node: &Node) -> Option<Trigger> {
        self.of(node).and_then(NodeEntry::trigger)
    }

    /// The versions known for a type, oldest first.
    pub fn versions(&self, node_type: &str) -> Vec<u32> {
        self.entries.keys().filter(|(t, _)| t == node_type).map(|(_, v)| *v).collect()
    }

    /// Every descriptor, by type then version.
    pub fn descriptors(&self) -> Vec<NodeDescriptor> {
        self.entries.values().map(|e| (*e.descriptor).clone()).collect()
    }

    pub fn type_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.entries.keys().map(|(t, _)| t.as_str()).collect();
        names.dedup();
        names
    }
}
