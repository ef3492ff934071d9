//! `switchyard deploy`: pushes a saved workflow to a Switchyard server (`switchyard serve`)
//! through its REST API, with a `switchyard.server` account (see docs/server.md).

use crate::output::print_json;
use crate::{Outcome, open_api};
use std::sync::Arc;
use switchyard_api::SilentHost;
use switchyard_api::deploy::WorkflowDeployRequest;

pub(crate) async fn deploy(
    data_dir: crate::Place,
    id: String,
    server: String,
    activate: bool,
    force: bool,
    json: bool,
) -> Outcome {
    let api = open_api(data_dir, Arc::new(SilentHost))?;
    let done = api.workflow_deploy(WorkflowDeployRequest { id, server, activate, force }).await?;
    if json {
        print_json(&done);
        return Ok(());
    }
    println!(
        "{} \"{}\" on {} ({}): version {}{}",
        if done.created { "Deployed" } else { "Updated" },
        done.workflow_id,
        done.server,
        done.url,
        done.version,
        if done.active { ", active" } else { "" }
    );
    for missing in &done.missing_accounts {
        println!(
            "missing on the server: {} account {} (used by {}); add it there with the same label",
            missing.connection_name,
            missing.account.as_deref().map_or_else(|| "(the default)".to_string(), |a| format!("\"{a}\"")),
            missing.nodes.join(", ")
        );
    }
    for note in &done.notes {
        println!("note: {note}");
    }
    Ok(())
}
