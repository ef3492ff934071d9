//! The outputs of a run so far, kept only when expressions read them (`node(…)`,
//! `item(…)`), and each node's view of them with item lineage.

use crate::expr::History;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use switchyard_model::item::Item;
use switchyard_model::value::Value;
use switchyard_model::workflow::MAIN;

/// Where an input's items came from, for following item lineage.
#[derive(Debug, Clone)]
pub(super) struct Segment {
    pub(super) node: usize,
    pub(super) output: String,
    pub(super) count: usize,
}

#[derive(Default)]
pub(super) struct NodeHistory {
    pub(super) outputs: Vec<(String, Arc<Vec<Item>>)>,
    pub(super) inputs: Vec<Vec<Segment>>,
}

/// All outputs of a run so far, kept only when expressions read them.
pub(super) struct RunHistory {
    pub(super) names: HashMap<String, usize>,
    pub(super) nodes: RwLock<HashMap<usize, NodeHistory>>,
}

/// One node's view of the run history.
pub(super) struct HistoryView {
    pub(super) run: Arc<RunHistory>,
    pub(super) inputs: Vec<Vec<Segment>>,
}

impl History for HistoryView {
    fn items_of(&self, name: &str) -> Result<Arc<Vec<Item>>, String> {
        let index = *self.run.names.get(name).ok_or_else(|| format!("there is no node named \"{name}\""))?;
        let nodes = self.run.nodes.read().unwrap_or_else(|p| p.into_inner());
        let node = nodes.get(&index).ok_or_else(|| format!("node \"{name}\" has not run before this node"))?;
        Ok(node.outputs.iter().find(|(n, _)| n == MAIN).map(|(_, items)| items.clone()).unwrap_or_default())
    }

    fn paired_of(&self, name: &str, index: usize) -> Result<Value, String> {
        let target = *self.run.names.get(name).ok_or_else(|| format!("there is no node named \"{name}\""))?;
        let nodes = self.run.nodes.read().unwrap_or_else(|p| p.into_inner());
        let mut segments = self.inputs.first().cloned().unwrap_or_default();
        let mut index = index;
        for _ in 0..=self.run.names.len() {
            let mut offset = 0;
            let segment = segments
                .iter()
                .find(|s| {
                    let hit = index < offset + s.count;
                    if !hit {
                        offset += s.count;
                    }
                    hit
                })
                .ok_or_else(|| format!("item {index} has no source on the way to \"{name}\""))?;
            let source =
                nodes.get(&segment.node).ok_or_else(|| format!("node \"{name}\" has not run before this node"))?;
            let items = source
                .outputs
                .iter()
                .find(|(n, _)| *n == segment.output)
                .map(|(_, items)| items.clone())
                .unwrap_or_default();
            let item = items.get(index - offset).ok_or_else(|| format!("item lineage to \"{name}\" is broken"))?;
            if segment.node == target {
                return Ok(item.json.clone());
            }
            let paired = item.source().ok_or_else(|| {
                format!("item {index} has no lineage back to \"{name}\" (is \"{name}\" upstream of this node?)")
            })?;
            segments = source.inputs.get(paired.input as usize).cloned().unwrap_or_default();
            index = paired.item as usize;
        }
        Err(format!("no lineage back to \"{name}\""))
    }
}
