//! Settings a user can change, and the resilience state they put into force.

use crate::Api;
use crate::error::{ApiError, ApiResult};
use crate::types::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchyard_engine::resilience::{BreakerSettings, preset_rates};
use switchyard_model::retry::{BreakerInfo, HostRate, LimitInfo};
use ts_rs::TS;

/// The webhook listener's default port.
pub const DEFAULT_WEBHOOK_PORT: u16 = 5680;

/// Settings a user can change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct AppSettings {
    /// Items kept per node output in the execution history.
    pub run_data_max_items: u32,
    /// JSON bytes kept per node in the execution history.
    pub run_data_max_bytes: u32,
    /// Executions older than this are deleted (0: never).
    pub prune_max_age_days: u32,
    /// Only this many executions are kept (0: no limit).
    pub prune_keep_last: u32,
    /// Rate limits per host, over the presets (0 calls per second turns a preset off).
    pub rate_limits: Vec<HostRate>,
    /// Failures in a row (5xx, timeouts, network errors) that open a host's circuit breaker.
    pub breaker_threshold: u32,
    /// Seconds an open breaker waits before letting a trial call through.
    pub breaker_reset_seconds: u32,
    /// The webhook listener's port.
    pub webhook_port: u16,
    /// The address the webhook listener binds: 127.0.0.1 (this computer only) unless you
    /// choose to expose it (e.g. 0.0.0.0 for every interface).
    pub webhook_bind: String,
    /// The largest webhook body accepted (413 above).
    pub webhook_max_body_bytes: u32,
    /// Deliveries kept in each workflow's delivery log.
    pub delivery_log_keep: u32,
    /// Start Switchyard (in the tray) when you log in, so active workflows keep running.
    pub start_at_login: bool,
    /// Serve the Prometheus text at `/metrics` on the webhook listener (127.0.0.1 unless the
    /// bind address says otherwise).
    pub metrics_endpoint: bool,
    /// The bearer token `/metrics` requires (`Authorization: Bearer …`); made when the
    /// endpoint is first turned on.
    pub metrics_token: String,
    /// Host names besides this computer's addresses and `localhost` that webhook requests may
    /// name in their `Host` header (a tunnel's or reverse proxy's name); others get 421.
    pub webhook_allowed_hosts: Vec<String>,
    /// Seconds a webhook request's body may take to arrive (408 after).
    pub webhook_body_timeout_seconds: u32,
    /// Webhook connections open at once; more wait until one closes.
    pub webhook_max_connections: u32,
    /// Runs allowed at once; more wait in the queue (0: no limit).
    pub max_concurrent_runs: u32,
    /// Runs that may wait for a slot; beyond it a webhook gets 503 with Retry-After, a run
    /// from the app or CLI an error, and a schedule fire is skipped (0: no cap).
    pub max_waiting_runs: u32,
    /// Days of metrics kept (per-minute for the last day, per-hour before).
    pub metrics_retention_days: u32,
    /// The largest an item may be, in MiB; a node that makes a larger one fails, naming it.
    pub max_item_mb: u32,
    /// MiB of items a run may hold at once (outputs waiting for the nodes after them, and its
    /// result); a node whose output would pass it fails the run.
    pub max_run_items_mb: u32,
    /// MiB of files (binary properties) one run may store; past it the node storing one
    /// fails. Their bytes are in the blob store, not in memory.
    pub max_run_files_mb: u32,
    /// Whether nodes may run programs (Execute Command). Off, every such node fails with
    /// `local_access_refused`.
    pub allow_commands: bool,
    /// Folders file nodes may read and write (and their subfolders); empty: the home folder.
    pub local_roots: Vec<String>,
    /// How deep workflows may call workflows (Execute Workflow within a called workflow …);
    /// a call past it fails with `call_depth`.
    pub max_call_depth: u32,
    /// Every saved version of a workflow is kept this many days (0: forever); older ones are
    /// thinned out to every `versionKeepEvery`-th.
    pub version_keep_days: u32,
    /// Of the versions older than `versionKeepDays`, every this-many-th is kept (by number;
    /// 0: none of them). The newest version is always kept.
    pub version_keep_every: u32,
    /// What models cost, for the dashboard's and Prometheus' cost estimates.
    pub model_prices: Vec<ModelPrice>,
    /// Back the data folder up once a day while the app or `serve` runs.
    pub backup_daily: bool,
    /// Where daily backups go (an absolute folder); empty: `backups` in the data folder.
    pub backup_folder: String,
    /// Daily backups older than this many days are removed (0: keep them all).
    pub backup_keep_days: u32,
    /// Where the app looks for updates (an https URL of a release manifest); empty: it never
    /// checks. Updates install only when you confirm, and only when signed with the
    /// release key built into the app.
    pub update_url: String,
}

/// What a model costs, in US dollars per million tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelPrice {
    /// The model's name as the server reports it, or a prefix ending in `*` (`gpt-4o-mini*`).
    pub model: String,
    pub input_per_million: f64,
    pub output_per_million: f64,
}

impl ModelPrice {
    /// Dollars for these tokens.
    pub fn cost(&self, tokens_in: u64, tokens_out: u64) -> f64 {
        (tokens_in as f64 * self.input_per_million + tokens_out as f64 * self.output_per_million) / 1_000_000.0
    }
}

/// The price of `model`: an entry naming it exactly, else the longest matching prefix.
pub(crate) fn price_of<'a>(prices: &'a [ModelPrice], model: &str) -> Option<&'a ModelPrice> {
    prices.iter().find(|p| p.model == model).or_else(|| {
        prices
            .iter()
            .filter_map(|p| {
                p.model.strip_suffix('*').filter(|prefix| model.starts_with(prefix)).map(|prefix| (prefix.len(), p))
            })
            .max_by_key(|(len, _)| *len)
            .map(|(_, p)| p)
    })
}

/// Prices as the providers published them (USD per million tokens, December 2026 lists;
/// edit them to your contract). Local models cost nothing here: add them at 0 to show so.
fn default_prices() -> Vec<ModelPrice> {
    let price = |model: &str, input: f64, output: f64| ModelPrice {
        model: model.into(),
        input_per_million: input,
        output_per_million: output,
    };
    vec![
        price("gpt-4o-mini*", 0.15, 0.60),
        price("gpt-4o*", 2.50, 10.00),
        price("gpt-4.1-mini*", 0.40, 1.60),
        price("gpt-4.1*", 2.00, 8.00),
        price("mistral-small*", 0.10, 0.30),
        price("llama-3.1-8b-instant", 0.05, 0.08),
    ]
}

impl Default for AppSettings {
    fn default() -> Self {
        AppSettings {
            run_data_max_items: 1_000,
            run_data_max_bytes: 1024 * 1024,
            prune_max_age_days: 30,
            prune_keep_last: 10_000,
            rate_limits: Vec::new(),
            breaker_threshold: 5,
            breaker_reset_seconds: 30,
            webhook_port: DEFAULT_WEBHOOK_PORT,
            webhook_bind: "127.0.0.1".into(),
            webhook_max_body_bytes: 1024 * 1024,
            delivery_log_keep: 1000,
            start_at_login: false,
            metrics_endpoint: false,
            metrics_token: String::new(),
            webhook_allowed_hosts: Vec::new(),
            webhook_body_timeout_seconds: 30,
            webhook_max_connections: 512,
            max_concurrent_runs: 0,
            max_waiting_runs: 1000,
            metrics_retention_days: 90,
            max_item_mb: 16,
            max_run_items_mb: 1024,
            max_run_files_mb: 8192,
            allow_commands: true,
            local_roots: Vec::new(),
            max_call_depth: switchyard_engine::subflow::DEFAULT_MAX_DEPTH,
            version_keep_days: 30,
            version_keep_every: 10,
            model_prices: default_prices(),
            backup_daily: true,
            backup_folder: String::new(),
            backup_keep_days: 30,
            update_url: String::new(),
        }
    }
}

/// Circuit breakers and rate limits as they stand, with the rate presets.
#[derive(Debug, Clone, PartialEq, Serialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResilienceState {
    pub breakers: Vec<BreakerInfo>,
    /// Hosts whose limits were used since the app started.
    pub limits: Vec<LimitInfo>,
    /// The built-in rates for well-known APIs.
    pub presets: Vec<HostRate>,
}

const SETTINGS_KEY: &str = "app";

impl Api {
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
        let folder = settings.backup_folder.trim();
        if !folder.is_empty() && !std::path::Path::new(folder).is_absolute() {
            return Err(ApiError::bad_request(format!(
                "backupFolder must be an absolute folder (or empty for the data folder's backups), found \"{folder}\""
            )));
        }
        settings.backup_folder = folder.to_string();
        settings.update_url = crate::updates::check_update_url(&settings.update_url).map_err(ApiError::bad_request)?;
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
        if !(1..=64).contains(&settings.max_call_depth) {
            return Err(ApiError::bad_request(format!(
                "maxCallDepth must be between 1 and 64, found {}",
                settings.max_call_depth
            )));
        }
        for (i, price) in settings.model_prices.iter_mut().enumerate() {
            price.model = price.model.trim().to_string();
            let finite = |x: f64| x.is_finite() && x >= 0.0;
            if price.model.is_empty() || !finite(price.input_per_million) || !finite(price.output_per_million) {
                return Err(ApiError::bad_request(format!(
                    "modelPrices[{i}]: a price needs a model name and prices of 0 or more per million tokens"
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
        self.inner.queue.set_limit(settings.max_concurrent_runs);
        self.inner.queue.set_max_waiting(settings.max_waiting_runs);
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
