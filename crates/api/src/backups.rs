//! Backups of the data folder: on demand (`backup_create`, `switchyard backup`) and daily
//! while the app or `serve` runs, kept for `backupKeepDays`. The archive format and restoring
//! live in `switchyard_store::backup`; a restore never runs inside the app (the database it
//! replaces is open here), only from `switchyard restore`.

use crate::Api;
use crate::error::{ApiError, ApiResult};
use crate::types::{ApiEvent, Empty};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;
use switchyard_model::alerts::{Alert, AlertState, Severity};
use switchyard_model::error::ErrorCode;
use ts_rs::TS;

/// How the app's own backups are named: `switchyard-backup-20261203T101500Z.zip`.
const PREFIX: &str = "switchyard-backup-";
const SUFFIX: &str = ".zip";
/// The last good backup and the last failure (store settings keys).
const LAST_OK: &str = "backup.lastSuccess";
const LAST_FAILURE: &str = "backup.lastFailure";
/// A scheduled backup is due this long after the last good one.
const DAILY: chrono::Duration = chrono::Duration::hours(24);
/// The rule id of the alert a failed scheduled backup raises.
pub const BACKUP_ALERT_RULE: &str = "system:backup";

/// A backup file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupEntry {
    pub path: String,
    pub created_at: String,
    /// The archive's size in bytes.
    pub size: u64,
    /// Files (binary data) it holds.
    pub files: u32,
    /// Whether the daily schedule made it (else by hand).
    #[serde(default)]
    pub scheduled: bool,
}

/// A backup that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupFailure {
    pub at: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct BackupCreateRequest {
    /// The file to write (must not exist); default: a new file in the backup folder.
    #[ts(optional)]
    pub to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupListResponse {
    /// Where the daily backups go.
    pub folder: String,
    /// The backups in that folder, newest first.
    pub backups: Vec<BackupEntry>,
    #[ts(optional)]
    pub last_success: Option<BackupEntry>,
    /// The last failure, when it came after the last good backup.
    #[ts(optional)]
    pub last_failure: Option<BackupFailure>,
}

fn io(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::Io, e.to_string())
}

/// The time part of a backup file name, as RFC 3339.
fn created_from_name(name: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let stamp = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    chrono::NaiveDateTime::parse_from_str(stamp.get(..16)?, "%Y%m%dT%H%M%SZ").ok().map(|t| t.and_utc())
}

impl Api {
    /// The folder daily backups go to: the setting, else `backups` in the data folder.
    pub fn backup_folder(&self) -> PathBuf {
        self.folder_in(&self.stored_settings())
    }

    fn folder_in(&self, settings: &crate::types::AppSettings) -> PathBuf {
        let configured = settings.backup_folder.trim();
        if configured.is_empty() { self.inner.data_dir.join("backups") } else { PathBuf::from(configured) }
    }

    async fn write_backup(&self, to: PathBuf, scheduled: bool) -> ApiResult<BackupEntry> {
        let db = self.inner.store.require_file("a backup")?.to_path_buf();
        let blobs = self.inner.engine.services().blobs.store.root().to_path_buf();
        let created_at = self.now();
        let stamp = created_at.clone();
        let info = tokio::task::spawn_blocking(move || {
            switchyard_store::backup::create(&db, &blobs, &to, &stamp, env!("CARGO_PKG_VERSION"))
        })
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("the backup task failed: {e}")))??;
        let entry = BackupEntry {
            path: info.path.display().to_string(),
            created_at,
            size: info.size,
            files: info.manifest.files,
            scheduled,
        };
        let saved = serde_json::to_value(&entry).map_err(io)?;
        self.blocking(move |store| Ok(store.settings().set(LAST_OK, &saved)?)).await?;
        Ok(entry)
    }

    /// A backup now, to `to` or a new file in the backup folder.
    pub async fn backup_create(&self, request: BackupCreateRequest) -> ApiResult<BackupEntry> {
        let to = match request.to.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            Some(path) => PathBuf::from(path),
            None => new_backup_path(&self.backup_folder(), self.inner.engine.services().clock.now()),
        };
        let entry = self.write_backup(to, false).await?;
        self.resolve_backup_alert(&entry).await;
        Ok(entry)
    }

    pub async fn backup_list(&self, _: Empty) -> ApiResult<BackupListResponse> {
        let folder = self.backup_folder();
        let (last_success, last_failure) = self.backup_state().await?;
        let scan = folder.clone();
        let mut backups = tokio::task::spawn_blocking(move || list_folder(&scan))
            .await
            .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
        if let Some(last) = &last_success {
            for b in &mut backups {
                b.scheduled = b.path == last.path && last.scheduled;
            }
        }
        Ok(BackupListResponse { folder: folder.display().to_string(), backups, last_success, last_failure })
    }

    /// The last good backup, and the last failure when it is newer.
    pub(crate) async fn backup_state(&self) -> ApiResult<(Option<BackupEntry>, Option<BackupFailure>)> {
        let (ok, failure) =
            self.blocking(|store| Ok((store.settings().get(LAST_OK)?, store.settings().get(LAST_FAILURE)?))).await?;
        let ok: Option<BackupEntry> = ok.and_then(|v| serde_json::from_value(v).ok());
        let failure: Option<BackupFailure> = failure.and_then(|v| serde_json::from_value(v).ok());
        let failure = failure.filter(|f| ok.as_ref().is_none_or(|o| f.at > o.created_at));
        Ok((ok, failure))
    }

    /// The daily backup, when one is due (the setting is on and the last good one is a day
    /// old or missing), then the retention. Returns the backup it made. A failure is kept,
    /// raises an alert (with a desktop notification) and is tried again at the next check.
    pub async fn run_due_backup(&self) -> ApiResult<Option<BackupEntry>> {
        let settings = self.stored_settings();
        if !settings.backup_daily {
            return Ok(None);
        }
        let now = self.inner.engine.services().clock.now();
        let (last, _) = self.backup_state().await?;
        let due = last
            .as_ref()
            .and_then(|l| chrono::DateTime::parse_from_rfc3339(&l.created_at).ok())
            .is_none_or(|t| now.signed_duration_since(t) >= DAILY);
        if !due {
            return Ok(None);
        }
        let folder = self.folder_in(&settings);
        match self.write_backup(new_backup_path(&folder, now), true).await {
            Ok(entry) => {
                tracing::info!(path = %entry.path, size = entry.size, "daily backup written");
                self.resolve_backup_alert(&entry).await;
                if settings.backup_keep_days > 0 {
                    let keep = chrono::Duration::days(settings.backup_keep_days.into());
                    let removed = tokio::task::spawn_blocking(move || remove_older(&folder, now - keep))
                        .await
                        .unwrap_or_default();
                    if removed > 0 {
                        tracing::info!(removed, "backups older than the retention removed");
                    }
                }
                Ok(Some(entry))
            }
            Err(e) => {
                let failure = BackupFailure { at: self.now(), message: e.message.clone() };
                tracing::warn!(error = %e.message, "the daily backup failed");
                if let Ok(v) = serde_json::to_value(&failure) {
                    let _ = self.blocking(move |store| Ok(store.settings().set(LAST_FAILURE, &v)?)).await;
                }
                self.raise_backup_alert(&failure).await;
                Err(e)
            }
        }
    }

    async fn firing_backup_alert(&self) -> Option<Alert> {
        self.blocking(|store| Ok(store.metrics().alerts(true, 10_000)?))
            .await
            .ok()?
            .into_iter()
            .find(|a| a.rule_id == BACKUP_ALERT_RULE)
    }

    async fn raise_backup_alert(&self, failure: &BackupFailure) {
        let mut alert = match self.firing_backup_alert().await {
            Some(mut a) => {
                a.last_value += 1.0;
                a.message = format!("The daily backup failed again: {}", failure.message);
                a
            }
            None => Alert {
                id: switchyard_model::ids::new_id(),
                rule_id: BACKUP_ALERT_RULE.into(),
                rule_name: "Daily backup".into(),
                severity: Severity::Error,
                state: AlertState::Firing,
                value: 1.0,
                last_value: 1.0,
                message: format!("The daily backup failed: {}", failure.message),
                fired_at: failure.at.clone(),
                escalated_at: None,
                acked_at: None,
                resolved_at: None,
                actions: Vec::new(),
            },
        };
        let outcome = self.inner.host.notify("Error: Daily backup", &alert.message);
        alert.actions.push(switchyard_model::alerts::ActionResult {
            at: failure.at.clone(),
            action: "notify".into(),
            ok: outcome.is_ok(),
            message: outcome.unwrap_or_else(|e| e),
        });
        self.save_backup_alert(alert).await;
    }

    async fn resolve_backup_alert(&self, entry: &BackupEntry) {
        if let Some(mut a) = self.firing_backup_alert().await {
            a.state = AlertState::Resolved;
            a.resolved_at = Some(entry.created_at.clone());
            a.message = format!("{} (resolved: a backup was written at {})", a.message, entry.created_at);
            self.save_backup_alert(a).await;
        }
    }

    async fn save_backup_alert(&self, alert: Alert) {
        let saved = alert.clone();
        if let Err(e) = self.blocking(move |store| Ok(store.metrics().save_alert(&saved)?)).await {
            tracing::warn!(error = %e.message, "cannot record the backup alert");
        }
        self.inner.host.emit(ApiEvent::Alert { alert });
    }

    /// Checks for a due daily backup 5 minutes after start, then every hour.
    pub(crate) fn spawn_backup_task(&self) -> tokio::task::JoinHandle<()> {
        let weak = std::sync::Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut every = tokio::time::interval_at(
                tokio::time::Instant::now() + Duration::from_secs(300),
                Duration::from_secs(3600),
            );
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                let _ = (Api { inner }).run_due_backup().await;
            }
        })
    }
}

/// A new file in `folder` named for `now` (`-2`, `-3`… when that name is taken).
fn new_backup_path(folder: &Path, now: chrono::DateTime<chrono::Utc>) -> PathBuf {
    let base = format!("{PREFIX}{}", now.format("%Y%m%dT%H%M%SZ"));
    let mut path = folder.join(format!("{base}{SUFFIX}"));
    let mut n = 1;
    while path.exists() {
        n += 1;
        path = folder.join(format!("{base}-{n}{SUFFIX}"));
    }
    path
}

/// The app's backups in `folder` (by their names), newest first.
fn list_folder(folder: &Path) -> Vec<BackupEntry> {
    let Ok(entries) = std::fs::read_dir(folder) else { return Vec::new() };
    let mut out: Vec<BackupEntry> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            created_from_name(&name)?;
            let path = e.path();
            let size = e.metadata().ok()?.len();
            let manifest = switchyard_store::backup::inspect(&path).ok();
            Some(BackupEntry {
                path: path.display().to_string(),
                created_at: manifest.as_ref().map(|m| m.created_at.clone()).unwrap_or_default(),
                size,
                files: manifest.map_or(0, |m| m.files),
                scheduled: false,
            })
        })
        .collect();
    out.sort_by(|a, b| b.path.cmp(&a.path));
    out
}

/// Removes the app's backups in `folder` made before `cutoff` (by the time in their names;
/// other files are never touched). Returns how many went.
fn remove_older(folder: &Path, cutoff: chrono::DateTime<chrono::Utc>) -> u32 {
    let Ok(entries) = std::fs::read_dir(folder) else { return 0 };
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if created_from_name(&name).is_some_and(|t| t < cutoff) && std::fs::remove_file(e.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}
