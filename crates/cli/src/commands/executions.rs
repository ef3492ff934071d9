//! Execution history commands: list, show one, prune.

use crate::output::{list, print_json, print_table};
use crate::{Outcome, open_api};
use std::sync::Arc;
use switchyard_api::SilentHost;
use switchyard_api::types::*;

pub(crate) async fn executions(
    data_dir: crate::Place,
    workflow: Option<String>,
    server: Option<String>,
    limit: u32,
    json: bool,
) -> Outcome {
    let api = open_api(data_dir, Arc::new(SilentHost))?;
    let response = match (server, workflow) {
        (Some(server), Some(id)) => {
            let request = switchyard_api::deploy::ServerExecutionsRequest { id, server, limit: Some(limit) };
            api.server_executions(request).await?
        }
        (Some(_), None) => {
            return Err(crate::Failure::invalid(
                "switchyard executions: --server needs --workflow (the deployed workflow whose runs to list)",
            ));
        }
        (None, workflow) => {
            let request = ExecutionListRequest { workflow_id: workflow, limit: Some(limit), ..Default::default() };
            api.execution_list(request).await?
        }
    };
    list(
        json,
        &response.executions,
        "No executions yet.",
        &["ID", "WORKFLOW", "STATUS", "MODE", "STARTED", "DURATION"],
        |e| {
            vec![
                e.id.clone(),
                e.workflow_name.clone(),
                e.status.as_str().to_string(),
                e.mode.as_str().to_string(),
                e.started_at.clone(),
                e.duration_ms.map_or("-".into(), |d| format!("{d} ms")),
            ]
        },
    );
    Ok(())
}

pub(crate) async fn execution(data_dir: crate::Place, id: String, server: Option<String>, json: bool) -> Outcome {
    let api = open_api(data_dir, Arc::new(SilentHost))?;
    let execution = match server {
        Some(server) => api.server_execution_get(switchyard_api::deploy::ServerExecutionRequest { id, server }).await?,
        None => api.execution_get(IdRequest { id }).await?,
    };
    if json {
        print_json(&execution);
        return Ok(());
    }
    let s = &execution.summary;
    println!("{} \"{}\" {} ({}), started {}", s.id, s.workflow_name, s.status.as_str(), s.mode.as_str(), s.started_at);
    if let Some(d) = s.duration_ms {
        println!("took {d} ms");
    }
    if let Some(e) = &s.error {
        println!("error: {}", e.describe());
    }
    if let Some(by) = &s.called_by {
        let node = execution_node_name(&api, &by.execution_id, &by.node_id).await;
        println!("called by {} (node \"{node}\")", by.execution_id);
    }
    for child in &execution.calls {
        let node = child.called_by.as_ref().map(|c| c.node_id.as_str()).unwrap_or("");
        let node = execution.workflow.nodes.iter().find(|n| n.id == node).map_or(node, |n| n.name.as_str());
        println!("calls {} \"{}\" {} (node \"{node}\")", child.id, child.workflow_name, child.status.as_str());
    }
    let rows = execution
        .nodes
        .iter()
        .map(|n| {
            let outputs: Vec<String> = n
                .outputs
                .iter()
                .map(|o| format!("{} {}{}", o.name, o.total, if o.truncated { " (cut)" } else { "" }))
                .collect();
            vec![
                n.node_name.clone(),
                format!("{:?}", n.status).to_lowercase(),
                n.items_in.to_string(),
                outputs.join(", "),
                format!("{} ms", n.duration_ms),
            ]
        })
        .collect();
    print_table(&["NODE", "STATUS", "IN", "OUT", "TIME"], rows);
    Ok(())
}

/// The name of node `node_id` in execution `id`'s workflow (its id when unknown).
async fn execution_node_name(api: &switchyard_api::Api, id: &str, node_id: &str) -> String {
    match api.execution_get(IdRequest { id: id.to_string() }).await {
        Ok(e) => e.workflow.nodes.iter().find(|n| n.id == node_id).map_or(node_id.to_string(), |n| n.name.clone()),
        Err(_) => node_id.to_string(),
    }
}

pub(crate) async fn prune(data_dir: crate::Place, older_than: Option<u32>, keep_last: Option<u32>) -> Outcome {
    let api = open_api(data_dir, Arc::new(SilentHost))?;
    let response = api.execution_prune(ExecutionPruneRequest { older_than_days: older_than, keep_last }).await?;
    println!("Deleted {} executions", response.deleted);
    Ok(())
}
