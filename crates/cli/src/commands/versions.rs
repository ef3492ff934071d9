//! Version history commands: versions, diff, restore.

use crate::output::{list, print_json};
use crate::{Outcome, open_api};
use std::sync::Arc;
use switchyard_api::SilentHost;
use switchyard_api::types::*;
use switchyard_model::diff::FieldChange;
use switchyard_model::workflow::Connection;

pub(crate) async fn versions(data_dir: crate::Place, id: String, json: bool) -> Outcome {
    let api = open_api(data_dir, Arc::new(SilentHost))?;
    let response = api.workflow_versions(IdRequest { id }).await?;
    list(json, &response.versions, "No saved versions.", &["VERSION", "SAVED", "NODES", "NOTE"], |v| {
        vec![v.version.to_string(), v.saved_at.clone(), v.node_count.to_string(), v.note.clone()]
    });
    Ok(())
}

pub(crate) async fn diff(data_dir: crate::Place, id: String, from: u32, to: Option<u32>, json: bool) -> Outcome {
    let api = open_api(data_dir, Arc::new(SilentHost))?;
    let diff = api.workflow_diff(WorkflowDiffRequest { id: id.clone(), from, to }).await?;
    if json {
        print_json(&diff);
        return Ok(());
    }
    // Connections name nodes by id: show the names of the newer version (or the older).
    let newer = match to {
        Some(version) => api.workflow_version_get(WorkflowVersionRequest { id: id.clone(), version }).await?,
        None => api.workflow_get(IdRequest { id: id.clone() }).await?.workflow,
    };
    let older = api.workflow_version_get(WorkflowVersionRequest { id, version: from }).await?;
    let name = |node: &str| {
        newer.nodes.iter().chain(&older.nodes).find(|n| n.id == node).map_or(node.to_string(), |n| n.name.clone())
    };
    let wire =
        |c: &Connection| format!("{}.{} → {}.{}", name(&c.from.node), c.from.output, name(&c.to.node), c.to.input);
    if diff.is_empty() {
        println!("No changes.");
        return Ok(());
    }
    for n in &diff.added {
        println!("+ node \"{}\" ({})", n.name, n.node_type);
    }
    for n in &diff.removed {
        println!("- node \"{}\" ({})", n.name, n.node_type);
    }
    for n in &diff.changed {
        if n.moved {
            println!("~ node \"{}\": moved", n.name);
        }
        for c in &n.changes {
            println!("~ node \"{}\": {}", n.name, change(c));
        }
    }
    for c in &diff.connections_added {
        println!("+ connection {}", wire(c));
    }
    for c in &diff.connections_removed {
        println!("- connection {}", wire(c));
    }
    for c in &diff.workflow {
        println!("~ workflow {}", change(c));
    }
    Ok(())
}

/// `path: before → after`, values as JSON (long ones cut).
fn change(c: &FieldChange) -> String {
    let show = |v: &Option<serde_json::Value>| match v {
        None => "(not set)".to_string(),
        Some(v) => {
            let text = v.to_string();
            if text.chars().count() > 80 { format!("{}…", text.chars().take(79).collect::<String>()) } else { text }
        }
    };
    format!("{}: {} → {}", c.path, show(&c.before), show(&c.after))
}

pub(crate) async fn restore(data_dir: crate::Place, id: String, version: u32) -> Outcome {
    let api = open_api(data_dir, Arc::new(SilentHost))?;
    let record = api.workflow_restore(WorkflowVersionRequest { id, version }).await?;
    println!("Restored version {version} of \"{}\" as version {}", record.workflow.name, record.version);
    Ok(())
}
