//! The Orchestrations view: every node of the saved workflows whose type is a team of AI
//! agents (its registry entry outlines them: AI Orchestrate), with its agents, its last runs (each item's record: the vote table, every agent's answer, tokens
//! and latency — or the error and the records it kept) and per-agent figures over those runs.

use crate::Api;
use crate::error::ApiResult;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use switchyard_model::error::NodeError;
use switchyard_model::execution::NodeRunStatus;
use switchyard_store::ExecutionFilter;
use ts_rs::TS;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrchestrationListRequest {
    /// Runs per node, newest first (default 5, at most 50).
    #[serde(default)]
    #[ts(optional)]
    pub runs: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrchestrationListResponse {
    /// By workflow name, then node name.
    pub nodes: Vec<OrchestrationNode>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrchestrationNode {
    pub workflow_id: String,
    pub workflow_name: String,
    pub node_id: String,
    pub node_name: String,
    /// `sequential`, `parallel` or `consensus`.
    pub strategy: String,
    /// Its agents as configured now, with their figures over the runs shown.
    pub agents: Vec<OrchestrationAgent>,
    pub runs: Vec<OrchestrationRun>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrchestrationAgent {
    pub name: String,
    /// Its own model, if it names one.
    pub model: String,
    /// Its own account's label, if it has one (else the node's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub account: Option<String>,
    /// Items it was asked about, answered, and (consensus, race, sequential's last step) won.
    pub asked: u32,
    pub answered: u32,
    pub won: u32,
    pub tokens_in: u64,
    pub tokens_out: u64,
    /// The mean over its answers (ms).
    pub mean_latency_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrchestrationRun {
    pub execution_id: String,
    pub started_at: String,
    pub status: NodeRunStatus,
    pub duration_ms: u32,
    /// Each item's record (`strategy`, `winner`, `decidedBy`, `groups`, `agents`, `referees`);
    /// for a failed run, the one its error kept.
    #[ts(type = "unknown[]")]
    pub records: Vec<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub error: Option<NodeError>,
}

/// The records of one node run: each output item's `orchestration`, or the error's.
fn records_of(data: &switchyard_model::execution::NodeRunData) -> Vec<Json> {
    let mut records: Vec<Json> = data
        .outputs
        .iter()
        .flat_map(|o| o.items.iter())
        .filter_map(|item| Json::from(&item.json).get("orchestration").cloned())
        .collect();
    if let Some(kept) = data.error.as_ref().and_then(|e| e.details.as_ref()).and_then(|d| d.get("orchestration")) {
        records.push(kept.clone());
    }
    records
}

/// Adds one record's agents to the figures.
fn count(agents: &mut [OrchestrationAgent], record: &Json) {
    let winner = record.get("winner").and_then(Json::as_str);
    for entry in record.get("agents").and_then(Json::as_array).into_iter().flatten() {
        let Some(agent) = agents.iter_mut().find(|a| Some(a.name.as_str()) == entry["agent"].as_str()) else {
            continue;
        };
        let answered = entry["status"] == "answered";
        let latency = entry["latencyMs"].as_u64().unwrap_or(0);
        agent.asked += 1;
        if answered {
            // The running mean over answers.
            let n = u64::from(agent.answered);
            agent.mean_latency_ms = (agent.mean_latency_ms * n + latency) / (n + 1);
            agent.answered += 1;
        }
        if winner == Some(agent.name.as_str()) {
            agent.won += 1;
        }
        agent.tokens_in += entry["tokensIn"].as_u64().unwrap_or(0);
        agent.tokens_out += entry["tokensOut"].as_u64().unwrap_or(0);
    }
}

impl Api {
    pub async fn orchestration_list(&self, request: OrchestrationListRequest) -> ApiResult<OrchestrationListResponse> {
        let wanted = request.runs.unwrap_or(5).clamp(1, 50) as usize;
        let registry = self.inner.engine.registry().clone();
        self.blocking(move |store| {
            let mut nodes = Vec::new();
            let mut workflows = store.workflows().records(false)?;
            workflows.sort_by_key(|r| r.workflow.name.to_lowercase());
            for record in workflows {
                let wf = &record.workflow;
                let mut found: Vec<OrchestrationNode> = wf
                    .nodes
                    .iter()
                    .filter_map(|n| {
                        let outline = registry.get(&n.node_type, n.version)?.agents(n)?;
                        Some(OrchestrationNode {
                            workflow_id: wf.id.clone(),
                            workflow_name: wf.name.clone(),
                            node_id: n.id.clone(),
                            node_name: n.name.clone(),
                            strategy: outline.strategy,
                            agents: outline
                                .agents
                                .into_iter()
                                .map(|a| OrchestrationAgent {
                                    account: n
                                        .credentials
                                        .get(&a.slot)
                                        .map(|r| r.account.clone().unwrap_or_else(|| "default".into())),
                                    name: a.name,
                                    model: a.model,
                                    ..OrchestrationAgent::default()
                                })
                                .collect(),
                            runs: Vec::new(),
                        })
                    })
                    .collect();
                if found.is_empty() {
                    continue;
                }
                found.sort_by(|a, b| a.node_name.cmp(&b.node_name));
                let by_id: BTreeMap<String, usize> =
                    found.iter().enumerate().map(|(i, n)| (n.node_id.clone(), i)).collect();
                // Executions where the node did not run (an earlier failure) are passed over.
                let mut before = None;
                'pages: for _ in 0..5 {
                    let filter = ExecutionFilter {
                        workflow_id: Some(wf.id.clone()),
                        status: None,
                        before: before.clone(),
                        limit: Some((wanted * 2) as u32),
                    };
                    let page = store.history().list(&filter)?;
                    if page.is_empty() {
                        break;
                    }
                    for summary in &page {
                        before = Some(summary.started_at.clone());
                        let execution = store.history().get(&summary.id)?;
                        for data in &execution.nodes {
                            let Some(&i) = by_id.get(&data.node_id) else { continue };
                            let node = &mut found[i];
                            if node.runs.len() >= wanted
                                || !matches!(data.status, NodeRunStatus::Success | NodeRunStatus::Error)
                            {
                                continue;
                            }
                            let records = records_of(data);
                            for record in &records {
                                count(&mut node.agents, record);
                            }
                            node.runs.push(OrchestrationRun {
                                execution_id: summary.id.clone(),
                                started_at: data.started_at.clone(),
                                status: data.status,
                                duration_ms: data.duration_ms,
                                records,
                                error: data.error.clone(),
                            });
                        }
                        if found.iter().all(|n| n.runs.len() >= wanted) {
                            break 'pages;
                        }
                    }
                }
                nodes.extend(found);
            }
            Ok(OrchestrationListResponse { nodes })
        })
        .await
    }
}
