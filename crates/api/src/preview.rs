//! Live previews of expressions in the node form: evaluated for the node's first input item
//! as the last run left it.

use crate::Api;
use crate::error::ApiResult;
use crate::types::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use switchyard_engine::expr::{Evaluator, History, ScriptEnv};
use switchyard_model::execution::{Execution, NodeRunData};
use switchyard_model::item::Item;
use switchyard_model::value::Value;
use switchyard_model::workflow::{MAIN, Workflow};
use ts_rs::TS;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExpressionPreviewRequest {
    /// The workflow as the editor holds it.
    pub workflow: Workflow,
    /// The node whose parameter is being edited.
    pub node_id: String,
    /// The parameter's value: a string with `{{ … }}`, or any JSON holding such strings.
    #[ts(type = "unknown")]
    pub value: serde_json::Value,
    /// The run whose data to use (default: the workflow's latest run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub execution_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExpressionPreviewResponse {
    /// The value for the node's first input item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "unknown")]
    pub value: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub error: Option<String>,
    /// Whether a past run gave the node an input item (else an empty item was used).
    pub has_input: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub execution_id: Option<String>,
}

/// Stored node outputs, used as the run history for previews.
struct StoredHistory {
    workflow: Workflow,
    data: HashMap<String, NodeRunData>,
    node_id: String,
}

impl StoredHistory {
    fn output(&self, node_id: &str, output: &str) -> Vec<Item> {
        self.data
            .get(node_id)
            .and_then(|d| d.outputs.iter().find(|o| o.name == output))
            .map(|o| o.items.clone())
            .unwrap_or_default()
    }

    /// The items a node received on its first input, in connection order.
    fn input(&self, node_id: &str) -> Vec<(String, String, Vec<Item>)> {
        self.workflow
            .connections
            .iter()
            .filter(|c| c.to.node == node_id && c.to.input == MAIN)
            .map(|c| (c.from.node.clone(), c.from.output.clone(), self.output(&c.from.node, &c.from.output)))
            .collect()
    }
}

impl History for StoredHistory {
    fn items_of(&self, name: &str) -> Result<Arc<Vec<Item>>, String> {
        let node = self.workflow.node_by_name(name).ok_or_else(|| format!("there is no node named \"{name}\""))?;
        if !self.data.contains_key(&node.id) {
            return Err(format!("node \"{name}\" has no data from the last run"));
        }
        Ok(Arc::new(self.output(&node.id, MAIN)))
    }

    fn paired_of(&self, name: &str, index: usize) -> Result<Value, String> {
        let target =
            self.workflow.node_by_name(name).ok_or_else(|| format!("there is no node named \"{name}\""))?.id.clone();
        let mut current = self.node_id.clone();
        let mut index = index;
        for _ in 0..=self.workflow.nodes.len() {
            let mut offset = 0;
            let mut found = None;
            for (source, _, items) in self.input(&current) {
                if index < offset + items.len() {
                    found = Some((source, items[index - offset].clone()));
                    break;
                }
                offset += items.len();
            }
            let (source, item) = found.ok_or_else(|| format!("no lineage back to \"{name}\" in the last run"))?;
            if source == target {
                return Ok(item.json);
            }
            let paired = item.source().ok_or_else(|| format!("no lineage back to \"{name}\""))?;
            current = source;
            index = paired.item as usize;
        }
        Err(format!("no lineage back to \"{name}\""))
    }
}

impl Api {
    pub async fn expression_preview(&self, request: ExpressionPreviewRequest) -> ApiResult<ExpressionPreviewResponse> {
        let execution = self.preview_execution(&request).await?;
        let execution_id = execution.as_ref().map(|e| e.summary.id.clone());
        let data: HashMap<String, NodeRunData> =
            execution.map(|e| e.nodes.into_iter().map(|n| (n.node_id.clone(), n)).collect()).unwrap_or_default();
        let history = StoredHistory { workflow: request.workflow.clone(), data, node_id: request.node_id.clone() };
        let first = history.input(&request.node_id).into_iter().flat_map(|(_, _, items)| items).next();
        let has_input = first.is_some();
        let item = first.unwrap_or_else(Item::empty);
        let services = self.inner.engine.services();
        let evaluator = Evaluator::new(ScriptEnv {
            clock: services.clock.clone(),
            history: Arc::new(history),
            workflow_id: request.workflow.id.clone(),
            workflow_name: request.workflow.name.clone(),
            execution_id: execution_id.clone().unwrap_or_default(),
            mode: "manual".into(),
            limits: services.limits,
            cancel: Default::default(),
        });
        let result = evaluator.compile(&request.value).and_then(|compiled| evaluator.eval(&compiled, &item, 0));
        Ok(match result {
            Ok(value) => ExpressionPreviewResponse { value: Some(value.into()), error: None, has_input, execution_id },
            Err(e) => ExpressionPreviewResponse { value: None, error: Some(e.message), has_input, execution_id },
        })
    }

    async fn preview_execution(&self, request: &ExpressionPreviewRequest) -> ApiResult<Option<Execution>> {
        let id = match &request.execution_id {
            Some(id) => Some(id.clone()),
            None => {
                let list = self
                    .execution_list(ExecutionListRequest {
                        workflow_id: Some(request.workflow.id.clone()),
                        limit: Some(1),
                        ..Default::default()
                    })
                    .await?;
                list.executions.first().map(|e| e.id.clone())
            }
        };
        match id {
            Some(id) => Ok(Some(self.execution_get(IdRequest { id }).await?)),
            None => Ok(None),
        }
    }
}
