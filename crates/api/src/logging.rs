//! Logging for the desktop app and the CLI: warnings on stderr, and runs, nodes, triggers
//! and alerts (info and up) in a log file in the data folder that rolls over daily and
//! keeps a week. Log lines carry names, ids, codes and durations, never parameter values,
//! payloads or credentials (error messages of nodes are not logged: they can quote a URL).

use std::path::{Path, PathBuf};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Log files kept (one per day).
pub const KEEP_LOG_FILES: usize = 7;

/// Where the log files go.
pub fn log_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("logs")
}

/// Installs the global subscriber. `SWITCHYARD_LOG` (an env-filter such as `debug` or
/// `switchyard_engine=trace`) sets the level of both; without it the file gets info and up,
/// stderr `stderr_level` and up.
/// Keep the returned guard alive: dropping it flushes the file. Without a writable log
/// folder, logging goes to stderr only (and says why).
pub fn init(data_dir: &Path, stderr_level: &str) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let stderr_filter = EnvFilter::try_from_env("SWITCHYARD_LOG").unwrap_or_else(|_| EnvFilter::new(stderr_level));
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_filter(stderr_filter);
    let file_filter = EnvFilter::try_from_env("SWITCHYARD_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let appender = std::fs::create_dir_all(log_dir(data_dir)).map_err(|e| e.to_string()).and_then(|()| {
        tracing_appender::rolling::Builder::new()
            .rotation(tracing_appender::rolling::Rotation::DAILY)
            .filename_prefix("switchyard")
            .filename_suffix("log")
            .max_log_files(KEEP_LOG_FILES)
            .build(log_dir(data_dir))
            .map_err(|e| e.to_string())
    });
    match appender {
        Ok(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let file = tracing_subscriber::fmt::layer().with_ansi(false).with_writer(writer).with_filter(file_filter);
            let _ = tracing_subscriber::registry().with(stderr).with(file).try_init();
            Some(guard)
        }
        Err(e) => {
            let _ = tracing_subscriber::registry().with(stderr).try_init();
            tracing::warn!("cannot write logs to {}: {e}", log_dir(data_dir).display());
            None
        }
    }
}

/// Logging to stderr only (commands that do not run anything).
pub fn init_stderr(stderr_level: &str) {
    let filter = EnvFilter::try_from_env("SWITCHYARD_LOG").unwrap_or_else(|_| EnvFilter::new(stderr_level));
    let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter).try_init();
}
