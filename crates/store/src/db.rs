//! Opening the database: pragmas and embedded, versioned migrations.

use crate::error::{Result, StoreError};
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;
use std::time::Duration;

/// Migrations in order; the schema version is `PRAGMA user_version`.
const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("migrations/0001_init.sql")),
    (2, include_str!("migrations/0002_vault.sql")),
    (3, include_str!("migrations/0003_triggers.sql")),
    (4, include_str!("migrations/0004_metrics.sql")),
    (5, include_str!("migrations/0005_replay.sql")),
    (6, include_str!("migrations/0006_owner.sql")),
    (7, include_str!("migrations/0007_trust.sql")),
    (8, include_str!("migrations/0008_key_generation.sql")),
    (9, include_str!("migrations/0009_workflow_snapshots.sql")),
    (10, include_str!("migrations/0010_local_access.sql")),
    (11, include_str!("migrations/0011_blobs.sql")),
    (12, include_str!("migrations/0012_folder_watch.sql")),
    (13, include_str!("migrations/0013_trigger_state.sql")),
    (14, include_str!("migrations/0014_called_runs.sql")),
    (15, include_str!("migrations/0015_retries.sql")),
    (16, include_str!("migrations/0016_workflow_versions.sql")),
    (17, include_str!("migrations/0017_agent_memory.sql")),
    (18, include_str!("migrations/0018_run_input.sql")),
    (19, include_str!("migrations/0019_vault_recovery.sql")),
    (20, include_str!("migrations/0020_api_tokens.sql")),
    (21, include_str!("migrations/0021_deployments.sql")),
];

pub fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |(v, _)| *v)
}

/// Opens a connection with Switchyard's pragmas: WAL, synchronous=FULL (every commit is on
/// disk before it returns), foreign keys, and a busy timeout for concurrent writers.
pub fn connect(path: &Path) -> Result<Connection> {
    let open = |e| StoreError::Open { path: path.to_path_buf(), source: e };
    let conn = Connection::open(path).map_err(open)?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(open)?;
    conn.pragma_update(None, "journal_mode", "WAL").map_err(open)?;
    conn.pragma_update(None, "synchronous", "FULL").map_err(open)?;
    conn.pragma_update(None, "foreign_keys", "ON").map_err(open)?;
    Ok(conn)
}

/// Brings the schema up to date, one migration per transaction. Each transaction takes the
/// write lock first (IMMEDIATE) and reads the version inside it, so two processes opening the
/// same new file at once never run a migration twice.
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let known = latest_version();
    loop {
        let next = |current: u32| MIGRATIONS.iter().find(|(v, _)| *v > current);
        let failed = |version: u32| move |e: rusqlite::Error| StoreError::Migration { version, source: e };
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(failed(0))?;
        let current: u32 = tx.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(failed(0))?;
        if current > known {
            return Err(StoreError::TooNew { path: path.to_path_buf(), found: current, known });
        }
        let Some((version, sql)) = next(current) else { return Ok(()) };
        tx.execute_batch(sql).map_err(failed(*version))?;
        tx.pragma_update(None, "user_version", version).map_err(failed(*version))?;
        tx.commit().map_err(failed(*version))?;
        tracing::info!(version, "database migrated");
    }
}
