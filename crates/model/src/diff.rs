//! What changed between two versions of a workflow: nodes added, removed and changed (each
//! parameter or setting that changed, by path, before and after), connections added and
//! removed, and the workflow's own fields. Pure: the store keeps the versions, the API and
//! the CLI show this.

use crate::workflow::{Connection, Workflow};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use ts_rs::TS;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowDiff {
    pub added: Vec<NodeRef>,
    pub removed: Vec<NodeRef>,
    pub changed: Vec<NodeChange>,
    pub connections_added: Vec<Connection>,
    pub connections_removed: Vec<Connection>,
    /// The workflow's name, description, settings, pinned data and sticky notes (by note id:
    /// `notes.<id>.content`), by path.
    pub workflow: Vec<FieldChange>,
}

impl WorkflowDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.connections_added.is_empty()
            && self.connections_removed.is_empty()
            && self.workflow.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeRef {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub node_type: String,
}

/// A node in both versions that differs: only moved on the canvas, or changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeChange {
    pub id: String,
    /// Its name in the newer version.
    pub name: String,
    pub moved: bool,
    /// Everything but the position, by path (`parameters.url`, `settings.retry.maxTries`,
    /// `name`).
    pub changes: Vec<FieldChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FieldChange {
    pub path: String,
    /// Absent where the field was not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "unknown")]
    pub before: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "unknown")]
    pub after: Option<Json>,
}

/// What changed from `old` to `new`; nodes are matched by id.
pub fn diff(old: &Workflow, new: &Workflow) -> WorkflowDiff {
    let mut out = WorkflowDiff::default();
    let node_ref =
        |n: &crate::workflow::Node| NodeRef { id: n.id.clone(), name: n.name.clone(), node_type: n.node_type.clone() };
    for n in &new.nodes {
        match old.nodes.iter().find(|o| o.id == n.id) {
            None => out.added.push(node_ref(n)),
            Some(o) => {
                let mut before = serde_json::to_value(o).unwrap_or_default();
                let mut after = serde_json::to_value(n).unwrap_or_default();
                let moved = before.get("position") != after.get("position");
                for v in [&mut before, &mut after] {
                    if let Some(map) = v.as_object_mut() {
                        map.remove("position");
                    }
                }
                let mut changes = Vec::new();
                compare("", Some(&before), Some(&after), &mut changes);
                if moved || !changes.is_empty() {
                    out.changed.push(NodeChange { id: n.id.clone(), name: n.name.clone(), moved, changes });
                }
            }
        }
    }
    out.removed = old.nodes.iter().filter(|o| !new.nodes.iter().any(|n| n.id == o.id)).map(node_ref).collect();
    out.connections_added = new.connections.iter().filter(|c| !old.connections.contains(c)).cloned().collect();
    out.connections_removed = old.connections.iter().filter(|c| !new.connections.contains(c)).cloned().collect();
    let whole = |w: &Workflow| {
        let mut v = serde_json::to_value(w).unwrap_or_default();
        if let Some(map) = v.as_object_mut() {
            for key in ["nodes", "connections", "id", "switchyard"] {
                map.remove(key);
            }
            // Sticky notes by id, so a change reads `notes.<id>.content` rather than the list.
            if let Some(Json::Array(notes)) = map.remove("notes") {
                let by_id = notes
                    .into_iter()
                    .map(|mut n| {
                        let id = n.as_object_mut().and_then(|o| o.remove("id"));
                        (id.and_then(|i| i.as_str().map(str::to_string)).unwrap_or_default(), n)
                    })
                    .collect();
                map.insert("notes".into(), Json::Object(by_id));
            }
        }
        v
    };
    compare("", Some(&whole(old)), Some(&whole(new)), &mut out.workflow);
    out
}

/// Records every leaf that differs between `a` and `b` under `path`; objects are compared
/// key by key, anything else (lists included) as a whole.
fn compare(path: &str, a: Option<&Json>, b: Option<&Json>, out: &mut Vec<FieldChange>) {
    match (a, b) {
        (Some(Json::Object(x)), Some(Json::Object(y))) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let child = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                compare(&child, x.get(key), y.get(key), out);
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(FieldChange { path: path.to_string(), before: a.cloned(), after: b.cloned() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wf(json: serde_json::Value) -> Workflow {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn names_added_removed_changed_and_moved_nodes() {
        let old = wf(serde_json::json!({"switchyard": 1, "id": "w", "name": "Orders",
            "nodes": [
                {"id": "t", "name": "Start", "type": "trigger.manual", "position": [0, 0]},
                {"id": "h", "name": "Fetch", "type": "http.request", "parameters": {"url": "https://a.test", "method": "GET"}},
                {"id": "x", "name": "Old", "type": "flow.noop"}
            ],
            "connections": [{"from": {"node": "t"}, "to": {"node": "h"}}]}));
        let new = wf(serde_json::json!({"switchyard": 1, "id": "w", "name": "Orders v2",
            "nodes": [
                {"id": "t", "name": "Start", "type": "trigger.manual", "position": [40, 0]},
                {"id": "h", "name": "Fetch", "type": "http.request", "parameters": {"url": "https://b.test", "method": "GET", "timeout": 5}},
                {"id": "n", "name": "New", "type": "flow.noop"}
            ],
            "connections": [{"from": {"node": "t"}, "to": {"node": "h"}}, {"from": {"node": "h"}, "to": {"node": "n"}}]}));
        let d = diff(&old, &new);
        assert_eq!(d.added.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), vec!["New"]);
        assert_eq!(d.removed.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), vec!["Old"]);
        let start = d.changed.iter().find(|c| c.id == "t").unwrap();
        assert!(start.moved && start.changes.is_empty());
        let fetch = d.changed.iter().find(|c| c.id == "h").unwrap();
        assert!(!fetch.moved);
        let paths: Vec<&str> = fetch.changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, vec!["parameters.timeout", "parameters.url"]);
        assert_eq!(fetch.changes[0].before, None);
        assert_eq!(fetch.changes[1].after, Some(serde_json::json!("https://b.test")));
        assert_eq!(d.connections_added.len(), 1);
        assert!(d.connections_removed.is_empty());
        assert_eq!(d.workflow.iter().map(|c| c.path.as_str()).collect::<Vec<_>>(), vec!["name"]);
        assert!(diff(&new, &new).is_empty());
    }

    #[test]
    fn sticky_notes_are_compared_by_id() {
        let base = |notes: serde_json::Value| {
            wf(serde_json::json!({"switchyard": 1, "id": "w", "name": "N", "nodes": [], "notes": notes}))
        };
        let old = base(serde_json::json!([{"id": "a", "content": "# Plan"}, {"id": "b", "content": "gone"}]));
        let new = base(
            serde_json::json!([{"id": "c", "content": "new"}, {"id": "a", "content": "# Plan v2", "color": "blue"}]),
        );
        let d = diff(&old, &new);
        let paths: Vec<&str> = d.workflow.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, vec!["notes.a.color", "notes.a.content", "notes.b", "notes.c"]);
        assert_eq!(d.workflow[1].after, Some(serde_json::json!("# Plan v2")));
        assert_eq!(d.workflow[2].after, None, "b was removed");
    }
}
