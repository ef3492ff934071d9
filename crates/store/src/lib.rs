//! Switchyard's SQLite store. One database file per data folder, opened in WAL mode with
//! `synchronous=FULL`, so that a crash at any moment leaves every committed workflow and
//! execution intact. (The execution history's writer syncs only the commits someone waits on
//! and lets the next one carry the rest: see `executions.rs`.)
//!
//! Access is split by what a caller needs: [`Workflows`] (read and write workflows),
//! [`ExecutionLog`] (write runs, from a background writer so runs never wait on disk),
//! [`ExecutionHistory`] (read and prune runs) and [`Settings`].

pub mod backup;
mod db;
mod deployments;
mod error;
mod executions;
mod memory;
mod metrics;
mod owner;
pub mod paths;
mod secrets;
mod settings;
mod tokens;
mod triggers;
mod workflows;

pub use deployments::{DeploymentRow, Deployments};
pub use error::{Result, StoreError};
pub use executions::{
    Durable, ExecutionFilter, ExecutionHistory, ExecutionLog, ExecutionStart, Interrupted, PruneRule,
    QUEUE as HISTORY_QUEUE,
};
pub use memory::Conversations;
pub use metrics::{BucketRow, Metrics};
pub use secrets::{AccountRow, Secrets, VaultHeaderRow};
pub use settings::Settings;
pub use tokens::{ApiTokens, TokenRow};
pub use triggers::{ScheduleRow, Triggers};
pub use workflows::Workflows;

use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// Shared access to the database's main connection.
#[derive(Debug)]
pub(crate) struct Db {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl Db {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// An open store.
#[derive(Debug, Clone)]
pub struct Store {
    db: Arc<Db>,
    log: ExecutionLog,
    /// This store's lock file, held while any clone of it is open (see [`owner`]).
    _owner: Arc<owner::Owner>,
}

impl Store {
    /// Opens (creating if needed) the database at `path`, migrates it, and marks runs whose
    /// process is gone as interrupted.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::DataDir { path: dir.to_path_buf(), source: e })?;
        }
        let mut conn = db::connect(path)?;
        db::migrate(&mut conn, path)?;
        let owner = Arc::new(owner::Owner::claim(path)?);
        executions::mark_interrupted(&conn, path)?;
        workflows::record_missing_versions(&mut conn)?;
        let log = ExecutionLog::start(db::connect(path)?, owner.token().to_string());
        Ok(Store { db: Arc::new(Db { path: path.to_path_buf(), conn: Mutex::new(conn) }), log, _owner: owner })
    }

    /// Opens the store in a data folder (see [`paths::data_dir`]).
    pub fn open_in(data_dir: &Path) -> Result<Store> {
        Store::open(&paths::database_path(data_dir))
    }

    pub fn path(&self) -> &Path {
        &self.db.path
    }

    pub fn workflows(&self) -> Workflows {
        Workflows::new(self.db.clone())
    }

    pub fn log(&self) -> ExecutionLog {
        self.log.clone()
    }

    pub fn history(&self) -> ExecutionHistory {
        ExecutionHistory::new(self.db.clone())
    }

    /// The credential vault's rows (sealed bytes only).
    pub fn secrets(&self) -> Secrets {
        Secrets::new(self.db.clone())
    }

    /// The webhook delivery log and schedule state.
    pub fn triggers(&self) -> Triggers {
        Triggers::new(self.db.clone())
    }

    /// AI agents' conversations.
    pub fn conversations(&self) -> Conversations {
        Conversations::new(self.db.clone())
    }

    pub fn metrics(&self) -> Metrics {
        Metrics::new(self.db.clone())
    }

    /// Where workflows were deployed from here ("Deploy to…").
    pub fn deployments(&self) -> Deployments {
        Deployments::new(self.db.clone())
    }

    /// The REST API's tokens (hashes only).
    pub fn tokens(&self) -> ApiTokens {
        ApiTokens::new(self.db.clone())
    }

    pub fn settings(&self) -> Settings {
        Settings::new(self.db.clone())
    }

    /// `PRAGMA integrity_check`: "ok" when the file is sound.
    pub fn integrity_check(&self) -> Result<String> {
        Ok(self.db.lock().query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<u32> {
        Ok(self.db.lock().pragma_query_value(None, "user_version", |r| r.get(0))?)
    }
}
