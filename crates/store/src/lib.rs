//! Switchyard's store. Its operations are written once against one backend trait
//! (`sql::Backend`) with two implementations: an embedded SQLite file per data folder (the
//! desktop's, and `serve`'s by default), opened in WAL mode with `synchronous=FULL` so that a
//! crash at any moment leaves every committed workflow and execution intact (the execution
//! history's writer syncs only the commits someone waits on and lets the next one carry the
//! rest: see `executions.rs`); and PostgreSQL for server mode, shared by several processes.
//!
//! Access is split by what a caller needs: [`Workflows`] (read and write workflows),
//! [`ExecutionLog`] (write runs, from a background writer so runs never wait on disk),
//! [`ExecutionHistory`] (read and prune runs) and [`Settings`].

pub mod backup;
mod copy;
mod deployments;
mod error;
mod executions;
mod lease;
mod memory;
mod metrics;
mod owner;
pub mod paths;
mod secrets;
mod settings;
mod shared_blobs;
mod sql;
mod tokens;
mod triggers;
mod whole_run;
mod workers;
mod workflows;

pub use copy::{CopyReport, copy_store};
pub use deployments::{DeploymentRow, Deployments};
pub use error::{Result, SqlError, StoreError};
pub use executions::{
    Durable, ExecutionFilter, ExecutionHistory, ExecutionLog, ExecutionStart, Interrupted, PruneRule,
    QUEUE as HISTORY_QUEUE,
};
pub use lease::Lease;
pub use memory::Conversations;
pub use metrics::{BucketRow, Metrics};
pub use secrets::{AccountRow, Secrets, VaultHeaderRow};
pub use settings::Settings;
pub use shared_blobs::SharedBlobs;
pub use tokens::{ApiTokens, TokenRow};
pub use triggers::{ScheduleRow, Triggers};
pub use workers::{WorkerRow, Workers};
pub use workflows::Workflows;

use sql::Backend;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

pub use sql::Dialect;

/// Where a store keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An embedded SQLite file.
    File(PathBuf),
    /// A PostgreSQL database (server mode), by URL.
    Postgres(String),
}

impl Location {
    /// `sqlite:PATH`, a bare path, or `postgres://…` / `postgresql://…`.
    pub fn parse(text: &str) -> Location {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Location::Postgres(text.to_string())
        } else {
            Location::File(PathBuf::from(text.strip_prefix("sqlite:").unwrap_or(text)))
        }
    }
}

impl Location {
    pub fn dialect(&self) -> Dialect {
        match self {
            Location::File(_) => Dialect::Sqlite,
            Location::Postgres(_) => Dialect::Postgres,
        }
    }
}

impl std::fmt::Display for Location {
    /// The file, or the URL with its password hidden.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::File(path) => write!(f, "{}", path.display()),
            Location::Postgres(url) => f.write_str(&sql::postgres::redact(url)),
        }
    }
}

/// Shared access to the database's main connection.
pub(crate) struct Db {
    location: Location,
    conn: Mutex<Box<dyn Backend>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Db({})", self.location)
    }
}

impl Db {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Box<dyn Backend>> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// An open store.
#[derive(Debug, Clone)]
pub struct Store {
    db: Arc<Db>,
    log: ExecutionLog,
    /// This store's claim on the runs it starts, held while any clone of it is open (see
    /// [`owner`]).
    _owner: Arc<owner::Owner>,
}

impl Store {
    /// Opens (creating if needed) the database at `path`, migrates it, and marks runs whose
    /// process is gone as interrupted.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::DataDir { path: dir.to_path_buf(), source: e })?;
        }
        let mut conn = sql::sqlite::Sqlite::connect(path)?;
        conn.migrate(path)?;
        let owner = owner::Owner::claim(path)?;
        let writer = sql::sqlite::Sqlite::connect(path)?;
        Store::start(Location::File(path.to_path_buf()), Box::new(conn), Box::new(writer), owner)
    }

    /// Opens the store in a data folder (see [`paths::data_dir`]).
    pub fn open_in(data_dir: &Path) -> Result<Store> {
        Store::open(&paths::database_path(data_dir))
    }

    /// Connects to a PostgreSQL store (server mode), creating its tables on first use.
    pub fn connect(url: &str) -> Result<Store> {
        let mut conn = sql::postgres::Postgres::connect(url)?;
        conn.migrate(url)?;
        let owner = owner::Owner::claim_postgres(url)?;
        let writer = sql::postgres::Postgres::connect(url)?;
        Store::start(Location::Postgres(url.to_string()), Box::new(conn), Box::new(writer), owner)
    }

    /// Opens the store at `location`.
    pub fn open_at(location: &Location) -> Result<Store> {
        match location {
            Location::File(path) => Store::open(path),
            Location::Postgres(url) => Store::connect(url),
        }
    }

    fn start(
        location: Location,
        mut conn: Box<dyn Backend>,
        writer: Box<dyn Backend>,
        owner: owner::Owner,
    ) -> Result<Store> {
        executions::mark_interrupted(&mut *conn, &|conn, token| owner.is_alive(conn, token))?;
        workflows::record_missing_versions(&mut *conn)?;
        let log = ExecutionLog::start(writer, owner.token().to_string());
        Ok(Store { db: Arc::new(Db { location, conn: Mutex::new(conn) }), log, _owner: Arc::new(owner) })
    }

    /// Where the store keeps its data.
    pub fn location(&self) -> &Location {
        &self.db.location
    }

    /// The SQLite file, for an embedded store.
    pub fn file(&self) -> Option<&Path> {
        match &self.db.location {
            Location::File(path) => Some(path),
            Location::Postgres(_) => None,
        }
    }

    /// The SQLite file, or [`StoreError::SqliteOnly`] naming `what` needs it.
    pub fn require_file(&self, what: &'static str) -> Result<&Path> {
        self.file().ok_or_else(|| StoreError::SqliteOnly(what, self.db.location.to_string()))
    }

    /// The lease `name` on this store's database (see [`Lease`]): one process at a time
    /// holds it on PostgreSQL; on SQLite every process does.
    pub fn lease(&self, name: &str) -> Lease {
        Lease::new(&self.db.location, name)
    }

    /// Which database the store is in (from where it is: no connection needed).
    pub fn dialect(&self) -> Dialect {
        self.db.location.dialect()
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

    /// Server mode's shared files: those of queued runs' trigger items.
    pub fn shared_blobs(&self) -> SharedBlobs {
        SharedBlobs::new(self.db.clone())
    }

    /// Server mode's workers, as they last reported.
    pub fn workers(&self) -> Workers {
        Workers::new(self.db.clone())
    }

    /// The REST API's tokens (hashes only).
    pub fn tokens(&self) -> ApiTokens {
        ApiTokens::new(self.db.clone())
    }

    pub fn settings(&self) -> Settings {
        Settings::new(self.db.clone())
    }

    /// "ok" when the database is sound (SQLite's `PRAGMA integrity_check`).
    pub fn integrity_check(&self) -> Result<String> {
        Ok(self.db.lock().integrity_check()?)
    }

    /// Runs SQL (no parameters) on the store's connection and returns the first column of
    /// its first row as an integer: for tests and diagnostics, on either backend.
    #[doc(hidden)]
    pub fn raw_scalar(&self, sql: &str) -> Result<Option<i64>> {
        Ok(self.db.lock().query_opt(sql, sql::params![], |r| r.get::<Option<i64>>(0))?.flatten())
    }

    /// Runs a statement (no parameters) on the store's connection: for tests and
    /// diagnostics. Returns how many rows it changed.
    #[doc(hidden)]
    pub fn raw_execute(&self, sql: &str) -> Result<usize> {
        Ok(self.db.lock().execute(sql, sql::params![])?)
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<u32> {
        let mut conn = self.db.lock();
        let sql = match conn.dialect() {
            Dialect::Sqlite => "PRAGMA user_version",
            Dialect::Postgres => "SELECT MAX(version) FROM store_schema",
        };
        Ok(conn.query_row(sql, sql::params![], |r| r.get(0))?)
    }
}
