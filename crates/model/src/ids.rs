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

/// Whether `id` may be a workflow id: 1 to 64 letters, digits, `-` and `_`. Ids name webhook
/// URLs (`/webhook/<id>/<path>`) and files, so no `/`, `.` or spaces.
pub fn valid_workflow_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_ids() {
        assert!(valid_workflow_id(&new_id()));
        assert!(valid_workflow_id("orders_2-b"));
        for bad in ["", "a/b", "a b", "../x", "é", &"x".repeat(65)] {
            assert!(!valid_workflow_id(bad), "{bad}");
        }
    }
}
