//! Execution history and settings commands.

use crate::Api;
use crate::error::{ApiError, ApiResult};
use crate::types::*;
use switchyard_model::execution::Execution;
use switchyard_store::{ExecutionFilter, PruneRule};

const SETTINGS_KEY: &str = "app";

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
        self.blocking(move |store| Ok(ExecutionPruneResponse { deleted: store.history().prune(&rule)? })).await
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
        self.blocking(move |store| Ok(store.history().prune(&rule)?)).await
    }

    pub async fn settings_get(&self, _: Empty) -> ApiResult<AppSettings> {
        self.blocking(|store| {
            Ok(store.settings().get(SETTINGS_KEY)?.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default())
        })
        .await
    }

    pub async fn settings_update(&self, settings: AppSettings) -> ApiResult<AppSettings> {
        if settings.run_data_max_items == 0 || settings.run_data_max_bytes < 1024 {
            return Err(ApiError::bad_request("runDataMaxItems must be at least 1 and runDataMaxBytes at least 1024"));
        }
        let value = serde_json::to_value(&settings).unwrap_or_default();
        self.blocking(move |store| {
            store.settings().set(SETTINGS_KEY, &value)?;
            Ok(settings)
        })
        .await
    }
}
