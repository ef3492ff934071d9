//! The embedded backend: one SQLite file per data folder, in WAL mode with
//! `synchronous=FULL`, with its migrations in `migrations/` (the version is
//! `PRAGMA user_version`).

use super::{Backend, Cell, Dialect, ErrorKind, Param, Row, SqlError, SqlResult, ToParam};
use crate::error::{Result, StoreError};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;
use std::time::Duration;

/// Migrations in order; the schema version is `PRAGMA user_version`.
const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_vault.sql")),
    (3, include_str!("../migrations/0003_triggers.sql")),
    (4, include_str!("../migrations/0004_metrics.sql")),
    (5, include_str!("../migrations/0005_replay.sql")),
    (6, include_str!("../migrations/0006_owner.sql")),
    (7, include_str!("../migrations/0007_trust.sql")),
    (8, include_str!("../migrations/0008_key_generation.sql")),
    (9, include_str!("../migrations/0009_workflow_snapshots.sql")),
    (10, include_str!("../migrations/0010_local_access.sql")),
    (11, include_str!("../migrations/0011_blobs.sql")),
    (12, include_str!("../migrations/0012_folder_watch.sql")),
    (13, include_str!("../migrations/0013_trigger_state.sql")),
    (14, include_str!("../migrations/0014_called_runs.sql")),
    (15, include_str!("../migrations/0015_retries.sql")),
    (16, include_str!("../migrations/0016_workflow_versions.sql")),
    (17, include_str!("../migrations/0017_agent_memory.sql")),
    (18, include_str!("../migrations/0018_run_input.sql")),
    (19, include_str!("../migrations/0019_vault_recovery.sql")),
    (20, include_str!("../migrations/0020_api_tokens.sql")),
    (21, include_str!("../migrations/0021_deployments.sql")),
    (22, include_str!("../migrations/0022_attempts.sql")),
    (23, include_str!("../migrations/0023_workers.sql")),
    (24, include_str!("../migrations/0024_shared_blobs.sql")),
    (25, include_str!("../migrations/0025_compact_runs.sql")),
];

pub fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |(v, _)| *v)
}

/// Syncs the write-ahead log at `wal` (none yet: nothing to sync).
fn sync_wal(wal: &str) -> SqlResult<()> {
    match std::fs::OpenOptions::new().write(true).open(wal).and_then(|f| f.sync_all()) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(SqlError::new(ErrorKind::Resource, format!("cannot sync the write-ahead log {wal}: {e}")))
        }
        _ => Ok(()),
    }
}

/// Pages the write-ahead log holds before a commit copies them into the database.
const WAL_PAGES: u32 = 8000;

/// A connection to a SQLite file.
pub(crate) struct Sqlite {
    conn: Connection,
}

impl Sqlite {
    /// Opens a connection with Switchyard's pragmas: WAL, synchronous=FULL (every commit is
    /// on disk before it returns), foreign keys, and a busy timeout for concurrent writers.
    pub(crate) fn connect(path: &Path) -> Result<Sqlite> {
        let open = |e: rusqlite::Error| StoreError::Open { path: path.to_path_buf(), source: classify(e) };
        let conn = Connection::open(path).map_err(open)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(open)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(open)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(open)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(open)?;
        // The log is copied into the database once it holds 8,000 pages (32 MiB) rather than
        // SQLite's 1,000: the history writer rewrites the same few pages (the ends of its
        // tables and indexes) at every commit, and each copy writes each page once however
        // often the log holds it. For the history writer's connection this is a backstop:
        // its checkpoint thread (see `checkpointer`) copies the log long before. The log
        // file is cut back to 64 MiB after a copy.
        conn.pragma_update(None, "wal_autocheckpoint", WAL_PAGES).map_err(open)?;
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024).map_err(open)?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(Sqlite { conn })
    }

    /// Brings the schema up to date, one migration per transaction. Each transaction takes
    /// the write lock first (IMMEDIATE) and reads the version inside it, so two processes
    /// opening the same new file at once never run a migration twice.
    pub(crate) fn migrate(&mut self, path: &Path) -> Result<()> {
        let known = latest_version();
        loop {
            let next = |current: u32| MIGRATIONS.iter().find(|(v, _)| *v > current);
            let failed =
                |version: u32| move |e: rusqlite::Error| StoreError::Migration { version, source: classify(e) };
            let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(failed(0))?;
            let current: u32 = tx.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(failed(0))?;
            if current > known {
                return Err(StoreError::TooNew { path: path.display().to_string(), found: current, known });
            }
            let Some((version, sql)) = next(current) else { return Ok(()) };
            tx.execute_batch(sql).map_err(failed(*version))?;
            tx.pragma_update(None, "user_version", version).map_err(failed(*version))?;
            tx.commit().map_err(failed(*version))?;
            tracing::info!(version, "database migrated");
        }
    }
}

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match *self {
            Param::Null => ValueRef::Null,
            Param::Int(i) => ValueRef::Integer(i),
            Param::Real(f) => ValueRef::Real(f),
            Param::Text(s) => ValueRef::Text(s.as_bytes()),
            Param::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

fn bind<'a>(params: &'a [&'a dyn ToParam]) -> impl rusqlite::Params + 'a {
    rusqlite::params_from_iter(params.iter().map(|p| p.param()))
}

/// A SQLite failure as the store classes it.
pub(crate) fn classify(e: rusqlite::Error) -> SqlError {
    use rusqlite::ErrorCode as C;
    let kind = match e.sqlite_error_code() {
        Some(C::DiskFull | C::SystemIoFailure | C::DatabaseBusy | C::DatabaseLocked | C::CannotOpen) => {
            ErrorKind::Resource
        }
        Some(C::ConstraintViolation) => ErrorKind::Constraint,
        _ if matches!(e, rusqlite::Error::QueryReturnedNoRows) => ErrorKind::NoRows,
        _ => ErrorKind::Other,
    };
    SqlError::new(kind, e.to_string())
}

impl Backend for Sqlite {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&mut self, sql: &str, params: &[&dyn ToParam]) -> SqlResult<usize> {
        self.conn.prepare_cached(sql).and_then(|mut s| s.execute(bind(params))).map_err(classify)
    }

    fn query(&mut self, sql: &str, params: &[&dyn ToParam]) -> SqlResult<Vec<Row>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(classify)?;
        let width = stmt.column_count();
        let mut rows = stmt.query(bind(params)).map_err(classify)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(classify)? {
            let mut cells = Vec::with_capacity(width);
            for i in 0..width {
                cells.push(match r.get_ref(i).map_err(classify)? {
                    ValueRef::Null => Cell::Null,
                    ValueRef::Integer(i) => Cell::Int(i),
                    ValueRef::Real(f) => Cell::Real(f),
                    ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Cell::Blob(b.to_vec()),
                });
            }
            out.push(Row(cells));
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> SqlResult<()> {
        self.conn.execute_batch(sql).map_err(classify)
    }

    fn begin(&mut self, write: bool) -> SqlResult<()> {
        self.conn.execute_batch(if write { "BEGIN IMMEDIATE" } else { "BEGIN" }).map_err(classify)
    }

    fn commit(&mut self) -> SqlResult<()> {
        self.conn.execute_batch("COMMIT").map_err(classify)
    }

    fn rollback(&mut self) -> SqlResult<()> {
        if self.conn.is_autocommit() {
            return Ok(());
        }
        self.conn.execute_batch("ROLLBACK").map_err(classify)
    }

    fn synced_commits(&mut self, synced: bool) -> SqlResult<()> {
        self.conn.pragma_update(None, "synchronous", if synced { "FULL" } else { "NORMAL" }).map_err(classify)
    }

    /// An fsync of the write-ahead log, which holds every commit not yet checkpointed (a
    /// checkpoint syncs the log before it copies).
    fn sync_now(&mut self) -> SqlResult<()> {
        match self.conn.path().filter(|p| !p.is_empty()) {
            Some(path) => sync_wal(&format!("{path}-wal")),
            None => Ok(()),
        }
    }

    /// An fsync of the write-ahead log from any thread: it puts on disk every frame written
    /// to the file before it, whichever connection wrote them. (A checkpoint syncs the log
    /// before it copies and the database after, so commits it already copied are on disk.)
    fn syncer(&self) -> Option<super::Syncer> {
        let wal = format!("{}-wal", self.conn.path().filter(|p| !p.is_empty())?);
        Some(Box::new(move || sync_wal(&wal)))
    }

    /// A passive checkpoint on a connection of its own: it copies what the log holds into
    /// the database without waiting for (or blocking) the writer, which goes on appending
    /// meanwhile. Run often enough, the log is mostly copied when it reaches
    /// [`WAL_PAGES`], so the writer's own checkpoint then (the backstop) copies little,
    /// and the log starts over from its beginning.
    fn checkpointer(&self) -> Option<super::Syncer> {
        let path = self.conn.path().filter(|p| !p.is_empty())?.to_string();
        let conn = match Connection::open(&path) {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!("cannot open {path} to checkpoint its log: {e}");
                return None;
            }
        };
        Some(Box::new(move || {
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                .map_err(|e| SqlError::new(ErrorKind::Resource, format!("cannot checkpoint {path}: {e}")))
        }))
    }

    fn integrity_check(&mut self) -> SqlResult<String> {
        self.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).map_err(classify)
    }
}
