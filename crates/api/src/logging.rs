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

/// Lines waiting for the log writer thread at most.
const LOG_QUEUE: usize = 8192;

/// Installs the global subscriber. `SWITCHYARD_LOG` (an env-filter such as `debug` or
/// `switchyard_engine=trace`) sets the level of both; without it the file gets info and up,
/// stderr `stderr_level` and up. The log folder and file are made at the first line logged,
/// so a command that logs nothing (a run refused for an invalid file) writes nothing. Keep
/// the returned guard alive: dropping it flushes the file.
pub fn init(data_dir: &Path, stderr_level: &str) -> tracing_appender::non_blocking::WorkerGuard {
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_filter(filter(stderr_level));
    let file_filter = filter("info");
    // Lines waiting for the writer thread at most (past it new lines are dropped). The buffer
    // is allocated up front: the default 128,000 lines are 4 MB of every process's memory.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(LOG_QUEUE)
        .finish(LazyFile { dir: log_dir(data_dir), state: Lazy::NotYet });
    let file = tracing_subscriber::fmt::layer().with_ansi(false).with_writer(writer).with_filter(file_filter);
    let _ = tracing_subscriber::registry().with(stderr).with(file).try_init();
    guard
}

enum Lazy {
    NotYet,
    Open(tracing_appender::rolling::RollingFileAppender),
    /// The folder or file could not be made (said once on stderr); lines are dropped.
    Failed,
}

/// The daily-rolling log file, opened at the first write.
struct LazyFile {
    dir: PathBuf,
    state: Lazy,
}

impl LazyFile {
    fn open(&self) -> Result<tracing_appender::rolling::RollingFileAppender, String> {
        std::fs::create_dir_all(&self.dir).map_err(|e| e.to_string())?;
        tracing_appender::rolling::Builder::new()
            .rotation(tracing_appender::rolling::Rotation::DAILY)
            .filename_prefix("switchyard")
            .filename_suffix("log")
            .max_log_files(KEEP_LOG_FILES)
            .build(&self.dir)
            .map_err(|e| e.to_string())
    }
}

impl std::io::Write for LazyFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if matches!(self.state, Lazy::NotYet) {
            self.state = match self.open() {
                Ok(file) => Lazy::Open(file),
                Err(e) => {
                    eprintln!("switchyard: cannot write logs to {}: {e}", self.dir.display());
                    Lazy::Failed
                }
            };
        }
        match &mut self.state {
            Lazy::Open(file) => file.write(buf),
            _ => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.state {
            Lazy::Open(file) => file.flush(),
            _ => Ok(()),
        }
    }
}

/// Logging to stderr only (commands that do not run anything).
pub fn init_stderr(stderr_level: &str) {
    let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter(stderr_level)).try_init();
}

/// `SWITCHYARD_LOG` when set, else `default`.
fn filter(default: &str) -> EnvFilter {
    EnvFilter::try_from_env("SWITCHYARD_LOG").unwrap_or_else(|_| EnvFilter::new(default))
}
