//! Execution history commands: list, get, prune.

use crate::Api;
use crate::error::{ApiError, ApiResult};
use crate::types::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchyard_model::error::ErrorCode;
use switchyard_model::execution::Execution;
use switchyard_model::execution::ExecutionSummary;
use switchyard_model::execution::RunStatus;
use switchyard_store::{ExecutionFilter, PruneRule};
use ts_rs::TS;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct ExecutionListRequest {
    #[ts(optional)]
    pub workflow_id: Option<String>,
    #[ts(optional)]
    pub status: Option<RunStatus>,
    /// Only runs that started before this time (paging).
    #[ts(optional)]
    pub before: Option<String>,
    #[ts(optional)]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct ExecutionListResponse {
    pub executions: Vec<ExecutionSummary>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct ExecutionPruneRequest {
    #[ts(optional)]
    pub older_than_days: Option<u32>,
    #[ts(optional)]
    pub keep_last: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct ExecutionPruneResponse {
    pub deleted: u32,
}

impl Api {
    pub async fn execution_list(&self, request: ExecutionListRequest) -> ApiResult<ExecutionListResponse> {
        let filter = ExecutionFilter {
            workflow_id: request.workflow_id,
            status: request.status,
            before: request.before,
            limit: request.limit,
        };
        self.blocking(move |store| Ok(ExecutionListResponse { executions: store.history().list(&filter)? })).await
    }

    pub async fn execution_get(&self, request: IdRequest) -> ApiResult<Execution> {
        self.blocking(move |store| Ok(store.history().get(&request.id)?)).await
    }

    pub async fn execution_prune(&self, request: ExecutionPruneRequest) -> ApiResult<ExecutionPruneResponse> {
        if request.older_than_days.is_none() && request.keep_last.is_none() {
            return Err(ApiError::bad_request("say what to prune: olderThanDays, keepLast, or both"));
        }
        let rule = PruneRule {
            started_before: request.older_than_days.map(|days| self.days_ago(days)),
            keep_last: request.keep_last,
        };
        let blobs = self.inner.engine.services().blobs.store.clone();
        self.blocking(move |store| {
            let deleted = store.history().prune(&rule)?;
            sweep_blobs(store, &blobs)?;
            Ok(ExecutionPruneResponse { deleted })
        })
        .await
    }

    /// Removes blobs no stored execution refers to (see [`sweep_blobs`]).
    pub async fn sweep_files(&self) -> ApiResult<switchyard_core::blobs::Swept> {
        let blobs = self.inner.engine.services().blobs.store.clone();
        self.blocking(move |store| sweep_blobs(store, &blobs)).await
    }

    fn days_ago(&self, days: u32) -> String {
        let now = self.inner.engine.services().clock.now();
        switchyard_engine::clock::rfc3339(now - chrono::Duration::days(i64::from(days)))
    }

    /// Prunes by the settings' age and count limits.
    pub async fn apply_pruning(&self) -> ApiResult<u32> {
        let settings = self.settings_get(Empty {}).await?;
        let rule = PruneRule {
            started_before: (settings.prune_max_age_days > 0).then(|| self.days_ago(settings.prune_max_age_days)),
            keep_last: (settings.prune_keep_last > 0).then_some(settings.prune_keep_last),
        };
        let keep_deliveries = settings.delivery_log_keep.max(1);
        let blobs = self.inner.engine.services().blobs.store.clone();
        self.blocking(move |store| {
            store.triggers().prune_deliveries(keep_deliveries)?;
            if let Some(before) = &rule.started_before {
                store.conversations().forget_before(before)?;
            }
            let deleted = store.history().prune(&rule)?;
            sweep_blobs(store, &blobs)?;
            Ok(deleted)
        })
        .await
    }
}

/// Mark and sweep: blobs that no stored execution refers to go, except those written since
/// the oldest run still going started (its rows may not be written yet) — a blob is written
/// before the row that refers to it, and reusing a blob marks it as just written.
fn sweep_blobs(
    store: &switchyard_store::Store,
    blobs: &switchyard_core::blobs::BlobStore,
) -> ApiResult<switchyard_core::blobs::Swept> {
    // Read the cut-off before the references: a run starting in between is younger than it.
    let now = std::time::SystemTime::now();
    let oldest = store.history().oldest_running()?;
    let cutoff = oldest
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| std::time::SystemTime::from(t.with_timezone(&chrono::Utc)))
        .map_or(now, |t| t.min(now))
        // Clocks of file systems are coarse: a minute of margin.
        - std::time::Duration::from_secs(60);
    let keep = store.history().blob_references()?;
    blobs.sweep(&keep, cutoff).map_err(|e| ApiError::new(ErrorCode::Io, e.to_string()))
}
