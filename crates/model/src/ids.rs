//! Identifiers. Workflow and execution ids are UUIDv7: unique, and sortable by creation time.

/// A new id for a workflow or an execution.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A short id for a node, unique within its workflow.
pub fn new_node_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("n{}", &id[..8])
}
