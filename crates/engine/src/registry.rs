//! The node types this build knows, by type name and version.

use crate::node::{BoxFuture, ExecuteFn, NodeContext, NodeResult};
use std::collections::BTreeMap;
use std::sync::Arc;
use switchyard_model::descriptor::NodeDescriptor;

/// A node type: its descriptor and its execute function.
#[derive(Clone)]
pub struct NodeEntry {
    pub descriptor: Arc<NodeDescriptor>,
    execute: ExecuteFn,
}

impl std::fmt::Debug for NodeEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeEntry({}@{})", self.descriptor.node_type, self.descriptor.version)
    }
}

impl NodeEntry {
    pub fn new(descriptor: NodeDescriptor, execute: ExecuteFn) -> NodeEntry {
        NodeEntry { descriptor: Arc::new(descriptor), execute }
    }

    pub fn execute<'a>(&self, ctx: &'a mut NodeContext) -> BoxFuture<'a, NodeResult> {
        (self.execute)(ctx)
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

    /// Every built-in node type.
    pub fn builtin() -> Registry {
        let mut registry = Registry::empty();
        for entry in crate::nodes::all() {
            registry.add(entry);
        }
        registry
    }

    pub fn add(&mut self, entry: NodeEntry) {
        let key = (entry.descriptor.node_type.clone(), entry.descriptor.version);
        self.entries.insert(key, entry);
    }

    pub fn get(&self, node_type: &str, version: u32) -> Option<&NodeEntry> {
        self.entries.get(&(node_type.to_string(), version))
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
