//! Retrying an execution: from the start with the same trigger items, or from the node that
//! failed, reusing what every node that succeeded emitted then. The new execution records
//! the one it retries.

use crate::Api;
use crate::error::{ApiError, ApiResult};
use crate::runs::LaunchOptions;
use crate::trust::RunSource;
use crate::types::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use switchyard_engine::{Reuse, RunOutcome};
use switchyard_model::error::ErrorCode;
use switchyard_model::execution::{Execution, NodeRunStatus, RunMode, RunStatus};
use switchyard_model::item::Item;
use switchyard_model::workflow::Workflow;
use tokio::task::JoinHandle;
use ts_rs::TS;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionRetryRequest {
    pub execution_id: String,
    /// Start at the node that failed, reusing the recorded output of every node that
    /// succeeded; otherwise from the start with the same trigger items.
    #[serde(default)]
    #[ts(optional, as = "Option<bool>")]
    pub from_failed: bool,
    /// Run the workflow as it ran then, not as it is saved now.
    #[serde(default)]
    #[ts(optional, as = "Option<bool>")]
    pub original: bool,
}

impl Api {
    pub async fn execution_retry(&self, request: ExecutionRetryRequest) -> ApiResult<RunStartResponse> {
        let (execution_id, _) = self.spawn_retry(request, false).await?;
        Ok(RunStartResponse { execution_id })
    }

    /// Starts a retry; `trust_file` trusts a workflow that is not saved here (`switchyard
    /// retry --trust` of a file's run), which otherwise runs as an untrusted file.
    pub async fn spawn_retry(
        &self,
        request: ExecutionRetryRequest,
        trust_file: bool,
    ) -> ApiResult<(String, JoinHandle<RunOutcome>)> {
        let old = self.execution_get(IdRequest { id: request.execution_id.clone() }).await?;
        let id = &old.summary.id;
        if old.summary.status == RunStatus::Running {
            return Err(ApiError::new(ErrorCode::Conflict, format!("execution {id} is still running")));
        }
        // The workflow as saved now (a fix since takes effect), or as it ran.
        let saved = match request.original {
            true => None,
            false => self.workflow_get(IdRequest { id: old.workflow.id.clone() }).await.ok().map(|r| r.workflow),
        };
        let source = match saved {
            Some(_) => RunSource::Saved,
            None => RunSource::File { path: format!("execution {id}"), trusted: trust_file, bundle: vec![] },
        };
        let workflow = saved.unwrap_or_else(|| old.workflow.clone());
        let (trigger, input) = self.trigger_items(&old, &workflow)?;
        let reuse = if request.from_failed {
            let failed = old.nodes.iter().find(|d| d.status == NodeRunStatus::Error).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "execution {id} has no failed node ({}): retry it from the start",
                    old.summary.status.as_str()
                ))
            })?;
            self.reusable(&old, &workflow, &HashSet::from([failed.node_id.clone()]), "retried from the start")?
        } else {
            Reuse::new()
        };
        let options = LaunchOptions {
            mode: RunMode::Retry,
            start: Some(trigger),
            reuse,
            retry_of: Some(id.clone()),
            ..LaunchOptions::default()
        };
        self.launch_checked(workflow, &source, input, options).await
    }

    /// The trigger that started `old` and the items it emitted (they must be whole).
    fn trigger_items(&self, old: &Execution, workflow: &Workflow) -> ApiResult<(String, Vec<Item>)> {
        let registry = self.inner.engine.registry();
        let id = &old.summary.id;
        let data = old
            .nodes
            .iter()
            .find(|d| {
                old.workflow
                    .nodes
                    .iter()
                    .any(|n| n.id == d.node_id && registry.of(n).is_some_and(|e| e.descriptor.is_trigger()))
            })
            .ok_or_else(|| {
                ApiError::bad_request(format!("execution {id} has no recorded trigger items to start again from"))
            })?;
        if !workflow.nodes.iter().any(|n| n.id == data.node_id) {
            return Err(ApiError::bad_request(format!(
                "the trigger \"{}\" that started execution {id} is no longer in the workflow: retry it with the workflow as it ran (original)",
                data.node_name
            )));
        }
        let output = data.outputs.iter().find(|o| o.name == switchyard_model::workflow::MAIN);
        let items = match output {
            Some(o) if o.truncated => {
                return Err(ApiError::bad_request(format!(
                    "execution {id} kept only {} of the {} items its trigger \"{}\" emitted (Settings → run data), so it cannot be run again with them",
                    o.items.len(),
                    o.total,
                    data.node_name
                )));
            }
            Some(o) => o.items.clone(),
            None => Vec::new(),
        };
        Ok((data.node_id.clone(), items))
    }

    /// What a run that starts again part-way reuses from `old`: each node that ran once in
    /// it and succeeded (or used pinned data), except those in `run_again`, with all its
    /// outputs as recorded. Refused, naming the node, when a node's recorded output was cut
    /// (`instead` says what can run then).
    fn reusable(
        &self,
        old: &Execution,
        workflow: &Workflow,
        run_again: &HashSet<String>,
        instead: &str,
    ) -> ApiResult<Reuse> {
        let id = &old.summary.id;
        let mut runs: HashMap<&str, usize> = HashMap::new();
        for d in &old.nodes {
            *runs.entry(d.node_id.as_str()).or_default() += 1;
        }
        let mut reuse = HashMap::new();
        for data in &old.nodes {
            let ok = matches!(data.status, NodeRunStatus::Success | NodeRunStatus::Pinned | NodeRunStatus::Reused);
            if !ok || run_again.contains(&data.node_id) || runs[data.node_id.as_str()] != 1 {
                continue;
            }
            if !workflow.nodes.iter().any(|n| n.id == data.node_id) {
                continue;
            }
            if let Some(cut) = data.outputs.iter().find(|o| o.truncated) {
                return Err(ApiError::bad_request(format!(
                    "execution {id} kept only {} of the {} items node \"{}\" emitted (Settings → run data), so it can only be {instead}",
                    cut.items.len(),
                    cut.total,
                    data.node_name
                ))
                .with_details(serde_json::json!({ "fromStartOnly": true, "node": data.node_name })));
            }
            let outputs = data.outputs.iter().map(|o| (o.name.clone(), o.items.clone())).collect();
            reuse.insert(data.node_id.clone(), outputs);
        }
        Ok(reuse)
    }

    /// A run from `node`: the trigger and items that started `from` (by default the
    /// workflow's newest run), and what every node outside `node` and the nodes after it
    /// emitted then.
    pub(crate) async fn run_from(
        &self,
        workflow: &Workflow,
        node: &str,
        from: Option<&str>,
    ) -> ApiResult<(String, Vec<Item>, Reuse)> {
        let name = workflow.nodes.iter().find(|n| n.id == node).map_or(node, |n| n.name.as_str());
        let from = match from {
            Some(id) => id.to_string(),
            None => {
                let request = ExecutionListRequest {
                    workflow_id: Some(workflow.id.clone()),
                    limit: Some(1),
                    ..Default::default()
                };
                let newest = self.execution_list(request).await?.executions.into_iter().next();
                newest.map(|e| e.id).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "run the workflow once first: \"Run from here\" feeds node \"{name}\" what the nodes before it emitted in a run"
                    ))
                })?
            }
        };
        let old = self.execution_get(IdRequest { id: from }).await?;
        if old.summary.status == RunStatus::Running {
            return Err(ApiError::new(ErrorCode::Conflict, format!("execution {} is still running", old.summary.id)));
        }
        let (trigger, items) = self.trigger_items(&old, workflow)?;
        let mut again: HashSet<String> = HashSet::from([node.to_string()]);
        let mut queue = vec![node.to_string()];
        while let Some(next) = queue.pop() {
            for c in workflow.connections.iter().filter(|c| c.from.node == next) {
                if again.insert(c.to.node.clone()) {
                    queue.push(c.to.node.clone());
                }
            }
        }
        let reuse = self.reusable(&old, workflow, &again, "run from the start")?;
        Ok((trigger, items, reuse))
    }
}
