//! Execution history and settings commands.

use crate::Api;
use crate::error::{ApiError, ApiResult};
use crate::types::*;
use switchyard_engine::resilience::{BreakerSettings, preset_rates};
use switchyard_model::execution::Execution;
use switchyard_model::retry::HostRate;
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
        let keep_deliveries = settings.delivery_log_keep.max(1);
        self.blocking(move |store| {
            store.triggers().prune_deliveries(keep_deliveries)?;
            Ok(store.history().prune(&rule)?)
        })
        .await
    }

    pub async fn settings_get(&self, _: Empty) -> ApiResult<AppSettings> {
        let api = self.clone();
        tokio::task::spawn_blocking(move || api.stored_settings())
            .await
            .map_err(|e| ApiError::new(switchyard_model::error::ErrorCode::Internal, e.to_string()))
    }

    /// The saved settings (defaults for anything missing or unreadable).
    pub(crate) fn stored_settings(&self) -> AppSettings {
        match self.inner.store.settings().get(SETTINGS_KEY) {
            Ok(value) => value.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the settings; using the defaults");
                AppSettings::default()
            }
        }
    }

    pub async fn settings_update(&self, mut settings: AppSettings) -> ApiResult<AppSettings> {
        if settings.run_data_max_items == 0 || settings.run_data_max_bytes < 1024 {
            return Err(ApiError::bad_request("runDataMaxItems must be at least 1 and runDataMaxBytes at least 1024"));
        }
        if settings.breaker_threshold == 0 || settings.breaker_reset_seconds == 0 {
            return Err(ApiError::bad_request("breakerThreshold and breakerResetSeconds must be at least 1"));
        }
        for (i, rate) in settings.rate_limits.iter().enumerate() {
            let host = rate.host.trim();
            let name = host.strip_prefix("connection:").unwrap_or(host);
            if name.is_empty() || name.contains(['/', ' ', ':']) {
                return Err(ApiError::bad_request(format!(
                    "rateLimits[{i}].host must be a host name such as api.example.com, or connection:TYPE \
                     for every account of a connection type, found \"{}\"",
                    rate.host
                )));
            }
            if !(rate.per_second.is_finite() && rate.per_second >= 0.0) || rate.burst == 0 {
                return Err(ApiError::bad_request(format!(
                    "rateLimits[{i}] ({host}): perSecond must be 0 or more and burst at least 1"
                )));
            }
        }
        if settings.metrics_retention_days == 0 {
            return Err(ApiError::bad_request("metricsRetentionDays must be at least 1"));
        }
        if settings.webhook_max_body_bytes < 1024 {
            return Err(ApiError::bad_request("webhookMaxBodyBytes must be at least 1024"));
        }
        if settings.webhook_bind.trim().parse::<std::net::IpAddr>().is_err()
            && settings.webhook_bind.trim() != "localhost"
        {
            return Err(ApiError::bad_request(format!(
                "webhookBind must be an IP address such as 127.0.0.1 (this computer only) or 0.0.0.0 (every interface), found \"{}\"",
                settings.webhook_bind
            )));
        }
        for (i, host) in settings.webhook_allowed_hosts.iter().enumerate() {
            let name = host.trim();
            if name.is_empty() || name.contains(['/', ' ', ':', '@', '*']) {
                return Err(ApiError::bad_request(format!(
                    "webhookAllowedHosts[{i}] must be a host name such as hooks.example.com (no scheme, port or path), found \"{host}\""
                )));
            }
        }
        if settings.webhook_body_timeout_seconds == 0 || settings.webhook_max_connections == 0 {
            return Err(ApiError::bad_request(
                "webhookBodyTimeoutSeconds and webhookMaxConnections must be at least 1",
            ));
        }
        settings.metrics_token = settings.metrics_token.trim().to_string();
        if settings.metrics_endpoint && settings.metrics_token.is_empty() {
            settings.metrics_token = crate::secret_token();
        }
        let before = self.stored_settings();
        if before.start_at_login != settings.start_at_login {
            self.inner
                .host
                .set_start_at_login(settings.start_at_login)
                .map_err(|e| ApiError::new(switchyard_model::error::ErrorCode::Io, format!("startAtLogin: {e}")))?;
        }
        let value = serde_json::to_value(&settings).unwrap_or_default();
        let settings = self
            .blocking(move |store| {
                store.settings().set(SETTINGS_KEY, &value)?;
                Ok(settings)
            })
            .await?;
        self.apply_resilience(&settings);
        let listening = self.inner.triggers_running();
        if listening
            && (before.webhook_port != settings.webhook_port
                || before.webhook_bind != settings.webhook_bind
                || before.webhook_allowed_hosts != settings.webhook_allowed_hosts
                || before.webhook_max_connections != settings.webhook_max_connections)
        {
            self.start_triggers().await?;
        } else {
            self.triggers_changed();
        }
        Ok(settings)
    }

    /// Puts the settings' breaker and rate limits into force.
    pub(crate) fn apply_resilience(&self, settings: &AppSettings) {
        let resilience = &self.inner.engine.services().resilience;
        resilience.set_breaker_settings(BreakerSettings {
            threshold: settings.breaker_threshold.max(1),
            reset_timeout: std::time::Duration::from_secs(u64::from(settings.breaker_reset_seconds.max(1))),
        });
        resilience.apply_rates(&settings.rate_limits);
        self.inner.metrics.set_limit(settings.max_concurrent_runs);
        self.inner.metrics.set_max_waiting(settings.max_waiting_runs);
        self.inner.store.log().set_delivery_keep(settings.delivery_log_keep);
    }

    /// Every circuit breaker and rate limit, as they stand.
    pub async fn resilience_state(&self, _: Empty) -> ApiResult<ResilienceState> {
        let resilience = &self.inner.engine.services().resilience;
        Ok(ResilienceState {
            breakers: resilience.breakers(),
            limits: resilience.limits(),
            presets: preset_rates()
                .into_iter()
                .map(|(host, r)| HostRate { host: host.into(), per_second: r.per_second, burst: r.burst })
                .collect(),
        })
    }
}
