//! Version history: every save of a workflow is a version (its JSON stored once, shared with
//! the executions that ran it); versions can be listed, read, compared and restored (as a new
//! save), and old ones are thinned out by the retention settings.

use crate::Api;
use crate::error::{ApiError, ApiResult};
use crate::types::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchyard_model::diff::{WorkflowDiff, diff};
use switchyard_model::records::{VersionSummary, WorkflowRecord};
use switchyard_model::workflow::Workflow;
use ts_rs::TS;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct WorkflowVersionsResponse {
    /// Newest first.
    pub versions: Vec<VersionSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct WorkflowVersionRequest {
    pub id: String,
    pub version: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowDiffRequest {
    pub id: String,
    /// The older version.
    pub from: u32,
    /// The newer version; none: the workflow as saved now.
    #[serde(default)]
    #[ts(optional)]
    pub to: Option<u32>,
}

impl Api {
    pub async fn workflow_versions(&self, request: IdRequest) -> ApiResult<WorkflowVersionsResponse> {
        self.blocking(move |store| Ok(WorkflowVersionsResponse { versions: store.workflows().versions(&request.id)? }))
            .await
    }

    pub async fn workflow_version_get(&self, request: WorkflowVersionRequest) -> ApiResult<Workflow> {
        self.blocking(move |store| Ok(store.workflows().version(&request.id, request.version)?)).await
    }

    pub async fn workflow_diff(&self, request: WorkflowDiffRequest) -> ApiResult<WorkflowDiff> {
        let old =
            self.workflow_version_get(WorkflowVersionRequest { id: request.id.clone(), version: request.from }).await?;
        let new = match request.to {
            Some(version) => self.workflow_version_get(WorkflowVersionRequest { id: request.id, version }).await?,
            None => self.workflow_get(IdRequest { id: request.id }).await?.workflow,
        };
        Ok(diff(&old, &new))
    }

    /// Saves version `version` again, as the newest version (nothing is lost: the versions
    /// after it stay in the history).
    pub async fn workflow_restore(&self, request: WorkflowVersionRequest) -> ApiResult<WorkflowRecord> {
        let current = self.workflow_get(IdRequest { id: request.id.clone() }).await?;
        let old = self.workflow_version_get(request.clone()).await?;
        if old == current.workflow {
            return Err(ApiError::bad_request(format!(
                "version {} is the same as the workflow saved now (version {}): nothing to restore",
                request.version, current.version
            )));
        }
        let saved = self
            .workflow_save(WorkflowSaveRequest {
                workflow: old,
                expected_version: Some(current.version),
                note: Some(format!("restored version {}", request.version)),
            })
            .await?;
        Ok(saved.record)
    }

    /// Applies the version retention settings to a workflow's history (failures only logged:
    /// a save must not fail for it).
    pub(crate) async fn prune_versions(&self, id: &str) {
        let settings = self.stored_settings();
        if settings.version_keep_days == 0 {
            return;
        }
        let now = self.inner.engine.services().clock.now();
        let keep_after =
            switchyard_engine::clock::rfc3339(now - chrono::Duration::days(i64::from(settings.version_keep_days)));
        let (id, every) = (id.to_string(), settings.version_keep_every);
        let pruned = self.blocking(move |store| Ok(store.workflows().prune_versions(&id, &keep_after, every)?)).await;
        if let Err(e) = pruned {
            tracing::warn!("thinning out old workflow versions failed: {}", e.message);
        }
    }
}
