//! Updates of the desktop app: off until the user sets an update URL (Settings → Updates).
//! Then the app checks it a minute after it starts and once a day, tells the window when a
//! newer version is there, and installs it only when the user confirms. Checking, download,
//! signature verification and install are the host's (the desktop shell uses Tauri's updater
//! with a minisign key built into the release): this crate knows the setting, the schedule
//! and the commands.

use crate::Api;
use crate::error::{ApiError, ApiResult};
use crate::types::{ApiEvent, Empty};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use switchyard_model::error::ErrorCode;
use ts_rs::TS;

/// What an update server offers: a version newer than this one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateOffer {
    pub version: String,
    /// The version running now.
    pub current_version: String,
    /// The release notes as the server sent them (plain text; shown as text, never as HTML).
    #[ts(optional)]
    pub notes: Option<String>,
    /// When the release was published (RFC 3339), when the server says.
    #[ts(optional)]
    pub date: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateCheckResponse {
    /// The newer version, or none when this one is the newest.
    #[ts(optional)]
    pub update: Option<UpdateOffer>,
    pub current_version: String,
    pub checked_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateInstallRequest {
    /// The version the user confirmed (the last check's offer); anything else is refused.
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateInstallResponse {
    pub version: String,
    /// What happened, for the user ("restart to use it", …).
    pub message: String,
    /// Whether the app must restart to run the new version (`app_restart`).
    pub restart_needed: bool,
}

/// What the host did with an install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub message: String,
    pub restart_needed: bool,
}

/// The update URL as saved: empty (updates off), or an https URL. Tauri's placeholders
/// `{{target}}`, `{{arch}}` and `{{current_version}}` may appear in it.
pub(crate) fn check_update_url(url: &str) -> Result<String, String> {
    let url = url.trim();
    if url.is_empty() {
        return Ok(String::new());
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("updateUrl: \"{url}\" is not a URL: {e}"))?;
    if parsed.scheme() != "https" {
        return Err(format!(
            "updateUrl must use https (the release manifest says which file to install), found \"{url}\""
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) || !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!("updateUrl must name a host and no user name or password, found \"{url}\""));
    }
    Ok(url.to_string())
}

impl Api {
    /// Asks the update URL whether a newer version exists.
    pub async fn update_check(&self, _: Empty) -> ApiResult<UpdateCheckResponse> {
        let url = self.stored_settings().update_url;
        if url.is_empty() {
            return Err(ApiError::bad_request(
                "updates are off: set an update URL in Settings → Updates (updateUrl) first",
            ));
        }
        let update = self.inner.host.check_update(url.clone()).await.map_err(|e| {
            let message = format!("cannot check {url} for updates: {}", e.message);
            ApiError { message, ..e }.with_details(serde_json::json!({ "url": url }))
        })?;
        Ok(UpdateCheckResponse {
            update,
            current_version: env!("CARGO_PKG_VERSION").to_string(),
            checked_at: self.now(),
        })
    }

    /// Downloads, verifies and installs the version the last check offered.
    pub async fn update_install(&self, request: UpdateInstallRequest) -> ApiResult<UpdateInstallResponse> {
        let version = request.version.trim().to_string();
        if version.is_empty() {
            return Err(ApiError::bad_request("version: say which version to install (the last check's offer)"));
        }
        let installed =
            self.inner.host.install_update(version.clone()).await.map_err(|e| ApiError {
                message: format!("version {version} was not installed: {}", e.message),
                ..e
            })?;
        self.inner.host.emit(ApiEvent::Notice { level: "success".into(), message: installed.message.clone() });
        Ok(UpdateInstallResponse { version, message: installed.message, restart_needed: installed.restart_needed })
    }

    /// Restarts the app (after an update). Runs are stopped as at quit.
    pub async fn app_restart(&self, _: Empty) -> ApiResult<Empty> {
        self.inner.host.restart().map_err(|e| ApiError::new(ErrorCode::Internal, format!("cannot restart: {e}")))?;
        Ok(Empty {})
    }

    /// One scheduled check: when an update URL is set, asks it and tells the window about a
    /// newer version. Failures are logged (a laptop offline is not an error to shout about).
    pub(crate) async fn scheduled_update_check(&self) {
        if self.stored_settings().update_url.is_empty() {
            return;
        }
        match self.update_check(Empty {}).await {
            Ok(UpdateCheckResponse { update: Some(offer), .. }) => {
                self.inner.host.emit(ApiEvent::UpdateAvailable { offer });
            }
            Ok(_) => {}
            Err(e) => tracing::info!("update check: {}", e.message),
        }
    }

    /// A minute after the start, then every day.
    pub(crate) fn spawn_update_task(&self) -> tokio::task::JoinHandle<()> {
        let weak = std::sync::Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut every = tokio::time::interval_at(
                tokio::time::Instant::now() + Duration::from_secs(60),
                Duration::from_secs(24 * 3600),
            );
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                (Api { inner }).scheduled_update_check().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::check_update_url;

    #[test]
    fn update_urls_are_https_with_a_host() {
        assert_eq!(check_update_url("  ").unwrap(), "");
        assert_eq!(
            check_update_url(" https://releases.example.com/{{target}}/{{arch}}/latest.json ").unwrap(),
            "https://releases.example.com/{{target}}/{{arch}}/latest.json"
        );
        let refused = check_update_url("http://releases.example.com/latest.json").unwrap_err();
        assert!(refused.contains("must use https"), "{refused}");
        let refused = check_update_url("https://me:pw@releases.example.com/latest.json").unwrap_err();
        assert!(refused.contains("no user name or password"), "{refused}");
        let refused = check_update_url("releases.example.com").unwrap_err();
        assert!(refused.starts_with("updateUrl: \"releases.example.com\" is not a URL"), "{refused}");
    }
}
