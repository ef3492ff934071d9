//! Saved workflows.

use crate::Db;
use crate::error::{Result, StoreError};
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};
use std::sync::Arc;
use switchyard_model::records::{WorkflowRecord, WorkflowSummary};
use switchyard_model::workflow::Workflow;

#[derive(Debug, Clone)]
pub struct Workflows {
    db: Arc<Db>,
}

fn summary(row: &Row<'_>) -> rusqlite::Result<WorkflowSummary> {
    Ok(WorkflowSummary {
        id: row.get(0)?,
        name: row.get(1)?,
        description: row.get(2)?,
        version: row.get(3)?,
        active: row.get(4)?,
        node_count: row.get(5)?,
        created_at: row.get(6)?,
        updated_at: row.get(7)?,
        untrusted: row.get::<_, Option<String>>(8)?.is_some(),
    })
}

/// A workflow row as stored: id, definition, version, active, created and updated times,
/// where an untrusted import came from.
type StoredRow = (String, String, u32, bool, String, String, Option<String>);

const STORED_COLUMNS: &str = "id, definition, version, active, created_at, updated_at, untrusted";

fn stored_row(r: &Row<'_>) -> rusqlite::Result<StoredRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
}

fn record((id, definition, version, active, created_at, updated_at, untrusted): StoredRow) -> Result<WorkflowRecord> {
    let workflow: Workflow = serde_json::from_str(&definition)
        .map_err(|e| StoreError::Corrupt { what: format!("workflow {id}"), message: e.to_string() })?;
    Ok(WorkflowRecord { workflow, version, active, created_at, updated_at, untrusted })
}

fn to_text(wf: &Workflow) -> String {
    serde_json::to_string(wf).unwrap_or_default()
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

impl Workflows {
    pub(crate) fn new(db: Arc<Db>) -> Workflows {
        Workflows { db }
    }

    /// Workflows, most recently changed first; `search` matches name or description.
    pub fn list(&self, search: Option<&str>) -> Result<Vec<WorkflowSummary>> {
        let conn = self.db.lock();
        let pattern = format!("%{}%", escape_like(search.unwrap_or("").trim()));
        let mut stmt = conn.prepare(
            "SELECT id, name, description, version, active, node_count, created_at, updated_at, untrusted FROM workflows
             WHERE name LIKE ?1 ESCAPE '\\' OR description LIKE ?1 ESCAPE '\\'
             ORDER BY updated_at DESC, id DESC",
        )?;
        let rows = stmt.query_map([pattern], summary)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn get(&self, id: &str) -> Result<WorkflowRecord> {
        self.find(id)?.ok_or_else(|| StoreError::WorkflowNotFound(id.to_string()))
    }

    pub fn find(&self, id: &str) -> Result<Option<WorkflowRecord>> {
        let row = self
            .db
            .lock()
            .query_row(&format!("SELECT {STORED_COLUMNS} FROM workflows WHERE id = ?1"), [id], stored_row)
            .optional()?;
        row.map(record).transpose()
    }

    /// Every saved workflow whole (or only the active ones), most recently changed first,
    /// in one query.
    pub fn records(&self, only_active: bool) -> Result<Vec<WorkflowRecord>> {
        let conn = self.db.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {STORED_COLUMNS} FROM workflows WHERE ?1 = 0 OR active = 1 ORDER BY updated_at DESC, id DESC"
        ))?;
        let rows = stmt.query_map([only_active], stored_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(record).collect()
    }

    /// Stores a new workflow; its id must be free. `untrusted` names where an imported
    /// workflow came from: it stays untrusted until [`Workflows::trust`].
    pub fn create(&self, wf: &Workflow, untrusted: Option<&str>, now: &str) -> Result<WorkflowRecord> {
        let conn = self.db.lock();
        let inserted = conn.execute(
            "INSERT INTO workflows (id, name, description, active, definition, node_count, version, created_at, updated_at, untrusted)
             VALUES (?1, ?2, ?3, 0, ?4, ?5, 1, ?6, ?6, ?7) ON CONFLICT (id) DO NOTHING",
            params![wf.id, wf.name, wf.description, to_text(wf), wf.nodes.len() as u32, now, untrusted],
        )?;
        if inserted == 0 {
            return Err(StoreError::AlreadyExists(wf.id.clone()));
        }
        Ok(WorkflowRecord {
            workflow: wf.clone(),
            version: 1,
            active: false,
            created_at: now.into(),
            updated_at: now.into(),
            untrusted: untrusted.map(str::to_string),
        })
    }

    /// Marks a workflow trusted, if it is still at `version` (what the user reviewed), with
    /// the local access the user approved (JSON; see migration 10).
    pub fn trust(&self, id: &str, version: u32, approved_access: &str) -> Result<()> {
        let mut conn = self.db.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let stored: Option<u32> =
            tx.query_row("SELECT version FROM workflows WHERE id = ?1", [id], |r| r.get(0)).optional()?;
        match stored {
            None => return Err(StoreError::WorkflowNotFound(id.to_string())),
            Some(stored) if stored != version => {
                return Err(StoreError::Conflict { id: id.to_string(), stored, expected: version });
            }
            Some(_) => {}
        }
        tx.execute(
            "UPDATE workflows SET untrusted = NULL, approved_access = ?2 WHERE id = ?1",
            params![id, approved_access],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The local access approved for a workflow from someone else (JSON), if any: `None`
    /// for the user's own workflows (and unknown ids).
    pub fn approved_access(&self, id: &str) -> Result<Option<String>> {
        let row = self
            .db
            .lock()
            .query_row("SELECT approved_access FROM workflows WHERE id = ?1", [id], |r| r.get::<_, Option<String>>(0))
            .optional()?;
        Ok(row.flatten())
    }

    /// Stores `wf` (a new id) as a copy of workflow `from`: as untrusted as the original,
    /// and held to the local access the original was approved for, in one statement.
    pub fn create_copy(&self, from: &str, wf: &Workflow, now: &str) -> Result<WorkflowRecord> {
        let conn = self.db.lock();
        let inserted = conn.execute(
            "INSERT INTO workflows (id, name, description, active, definition, node_count, version, created_at, updated_at, untrusted, approved_access)
             SELECT ?1, ?2, ?3, 0, ?4, ?5, 1, ?6, ?6, untrusted, approved_access FROM workflows WHERE id = ?7
             ON CONFLICT (id) DO NOTHING",
            params![wf.id, wf.name, wf.description, to_text(wf), wf.nodes.len() as u32, now, from],
        )?;
        if inserted == 0 {
            return Err(StoreError::AlreadyExists(wf.id.clone()));
        }
        drop(conn);
        self.get(&wf.id)
    }

    /// Saves a workflow: creates it, or updates it when `expected_version` (if given) is
    /// still the stored one. The check and the write are one transaction.
    pub fn save(&self, wf: &Workflow, expected_version: Option<u32>, now: &str) -> Result<WorkflowRecord> {
        let mut conn = self.db.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: Option<(u32, bool, String, Option<String>)> = tx
            .query_row("SELECT version, active, created_at, untrusted FROM workflows WHERE id = ?1", [&wf.id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?;
        let record = match current {
            None => {
                tx.execute(
                    "INSERT INTO workflows (id, name, description, active, definition, node_count, version, created_at, updated_at)
                     VALUES (?1, ?2, ?3, 0, ?4, ?5, 1, ?6, ?6)",
                    params![wf.id, wf.name, wf.description, to_text(wf), wf.nodes.len() as u32, now],
                )?;
                WorkflowRecord {
                    workflow: wf.clone(),
                    version: 1,
                    active: false,
                    created_at: now.into(),
                    updated_at: now.into(),
                    untrusted: None,
                }
            }
            Some((stored, active, created_at, untrusted)) => {
                if let Some(expected) = expected_version.filter(|e| *e != stored) {
                    return Err(StoreError::Conflict { id: wf.id.clone(), stored, expected });
                }
                let version = stored + 1;
                tx.execute(
                    "UPDATE workflows SET name = ?2, description = ?3, definition = ?4, node_count = ?5, version = ?6, updated_at = ?7
                     WHERE id = ?1",
                    params![wf.id, wf.name, wf.description, to_text(wf), wf.nodes.len() as u32, version, now],
                )?;
                WorkflowRecord { workflow: wf.clone(), version, active, created_at, updated_at: now.into(), untrusted }
            }
        };
        tx.commit()?;
        Ok(record)
    }

    /// Marks a workflow active (served by triggers) or not.
    pub fn set_active(&self, id: &str, active: bool, now: &str) -> Result<()> {
        let changed = self
            .db
            .lock()
            .execute("UPDATE workflows SET active = ?2, updated_at = ?3 WHERE id = ?1", params![id, active, now])?;
        if changed == 0 {
            return Err(StoreError::WorkflowNotFound(id.to_string()));
        }
        Ok(())
    }

    /// Deletes a workflow and its executions in one transaction.
    pub fn delete(&self, id: &str) -> Result<()> {
        let mut conn = self.db.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let deleted = tx.execute("DELETE FROM workflows WHERE id = ?1", [id])?;
        if deleted == 0 {
            return Err(StoreError::WorkflowNotFound(id.to_string()));
        }
        tx.execute("DELETE FROM executions WHERE workflow_id = ?1", [id])?;
        crate::executions::drop_unused_snapshots(&tx)?;
        tx.commit()?;
        Ok(())
    }
}
