//! `switchyard migrate-store`: copies everything one store holds into another (the desktop's
//! SQLite file into a server's PostgreSQL database, or back). Rows move as they are: sealed
//! vault records stay sealed (the vault header that opens them moves with them), workflow
//! snapshots keep their hashes, executions keep their order.
//!
//! The copy is one transaction on the target: it is all there, or (on any failure) nothing
//! is. A target that already holds data is refused, so a copy never merges two stores.

use crate::Store;
use crate::error::{Result, StoreError};
use crate::sql::{Cell, Param, ToParam, params};

/// The tables in an order that satisfies their foreign keys, with their columns and the
/// order their rows are read in (insertion order where the table has one).
const TABLES: &[(&str, &str, &str)] = &[
    (
        "workflows",
        "id, name, description, active, definition, node_count, version, created_at, updated_at, untrusted, approved_access",
        "id",
    ),
    ("workflow_snapshots", "hash, definition", "hash"),
    ("workflow_versions", "workflow_id, version, snapshot, saved_at, note, name, node_count", "workflow_id, version"),
    (
        "executions",
        "id, workflow_id, workflow_name, workflow_definition, status, mode, started_at, finished_at, duration_ms, error, owner_pid, owner, snapshot, parent_execution, parent_node, retry_of, input, start_node, rerun_as, attempt, nodes",
        "rowid",
    ),
    ("execution_nodes", "execution_id, seq, node_id, data", "execution_id, seq"),
    ("execution_blobs", "execution_id, blob", "execution_id, blob"),
    ("settings", "key, value", "key"),
    (
        "vault_header",
        "id, vault_id, key_source, key_id, kdf, wrapped_key, check_value, created_at, updated_at, generation, recovery_wrapped, recovery_sealed, recovery_created_at",
        "id",
    ),
    (
        "accounts",
        "id, connection_type, label, is_default, status, sealed, token_expires_at, last_test, created_at, updated_at",
        "id",
    ),
    (
        "webhook_deliveries",
        "id, workflow_id, node_id, received_at, method, path, status, verification, latency_ms, execution_id, error, body, test",
        "rowid",
    ),
    ("webhook_replay", "key, expires_at_ms", "key"),
    ("schedule_state", "workflow_id, node_id, rule, next_fire, last_fire, updated_at", "workflow_id, node_id"),
    ("metric_buckets", "workflow_id, node, width_ms, start_ms, record", "workflow_id, node, width_ms, start_ms"),
    ("alert_rules", "id, position, rule", "id"),
    ("alerts", "id, rule_id, state, fired_at, alert", "id"),
    ("folder_files", "workflow_id, node_id, path, size, modified_ms", "workflow_id, node_id, path"),
    ("trigger_state", "workflow_id, node_id, key, value", "workflow_id, node_id, key"),
    ("agent_memory", "workflow_id, node_id, session, seq, role, content, at", "workflow_id, node_id, session, seq"),
    ("api_tokens", "id, name, scope, hash, prefix, created_ms, last_used_ms, revoked_ms", "id"),
    ("deployments", "workflow_id, server, url, version, deployed_ms", "workflow_id, server"),
    // Not copied: `workers` (reports of processes running on the source) and `shared_blobs`
    // (files of queued runs in flight): both belong to a running server, not to its data.
    // The store's own notes (whether the alert presets were added); the target has its own
    // rows from its first migration, so these replace them.
    ("store_meta", "key, value", "key"),
];

/// Tables whose rows a store has before anything is saved in it.
const SEEDED: &[&str] = &["store_meta", "alert_rules"];

/// Rows read and written at a time.
const PAGE: usize = 500;

/// How many rows of each table were copied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyReport {
    pub tables: Vec<(String, u64)>,
}

impl CopyReport {
    pub fn rows(&self, table: &str) -> u64 {
        self.tables.iter().find(|(t, _)| t == table).map_or(0, |(_, n)| *n)
    }
}

impl ToParam for Cell {
    fn param(&self) -> Param<'_> {
        match self {
            Cell::Null => Param::Null,
            Cell::Int(i) => Param::Int(*i),
            Cell::Real(f) => Param::Real(*f),
            Cell::Text(s) => Param::Text(s),
            Cell::Blob(b) => Param::Blob(b),
        }
    }
}

/// Copies every row of `from` into `to`, which must hold nothing yet (no workflows,
/// executions, accounts, vault…). `progress` hears each table's name and rows so far.
pub fn copy_store(from: &Store, to: &Store, progress: &mut dyn FnMut(&str, u64)) -> Result<CopyReport> {
    if from.location() == to.location() {
        return Err(StoreError::AlreadyExists(format!("{}: a store cannot be copied into itself", to.location())));
    }
    // Both at the same schema: each was migrated to this build's latest when opened.
    let (a, b) = (from.schema_version()?, to.schema_version()?);
    if a != b {
        return Err(StoreError::Corrupt {
            what: format!("{} (schema {a}) and {} (schema {b})", from.location(), to.location()),
            message: "the stores have different schema versions".into(),
        });
    }
    from.log().flush()?;
    to.log().flush()?;
    let mut source = from.db.lock();
    let mut target = to.db.lock();
    for (table, _, _) in TABLES.iter().filter(|(t, _, _)| !SEEDED.contains(t)) {
        let n: i64 = target.query_row(&format!("SELECT COUNT(*) FROM {table}"), params![], |r| r.get(0))?;
        if n > 0 {
            return Err(StoreError::AlreadyExists(format!(
                "data in {} (table {table} has {n} rows): copy into an empty database",
                to.location()
            )));
        }
    }
    let mut tx = target.transaction()?;
    let mut report = CopyReport::default();
    for (table, columns, order) in TABLES {
        if SEEDED.contains(table) {
            tx.execute(&format!("DELETE FROM {table}"), params![])?;
        }
        let width = columns.split(',').count();
        let placeholders: Vec<String> = (1..=width).map(|i| format!("?{i}")).collect();
        let insert = format!("INSERT INTO {table} ({columns}) VALUES ({})", placeholders.join(", "));
        let select = format!("SELECT {columns} FROM {table} ORDER BY {order} LIMIT ?1 OFFSET ?2");
        let mut copied = 0u64;
        loop {
            let rows = source.query(&select, params![PAGE, copied])?;
            for row in &rows {
                let values: Vec<&dyn ToParam> = row.0.iter().map(|c| c as &dyn ToParam).collect();
                tx.execute(&insert, &values)?;
            }
            copied += rows.len() as u64;
            progress(table, copied);
            if rows.len() < PAGE {
                break;
            }
        }
        report.tables.push((table.to_string(), copied));
    }
    tx.commit()?;
    drop(source);
    Ok(report)
}
