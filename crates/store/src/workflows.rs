//! Saved workflows.

use crate::Db;
use crate::error::{Result, StoreError};
use crate::sql::{Backend, Row, SqlResult, params};
use std::sync::Arc;
use switchyard_model::records::{VersionSummary, WorkflowRecord, WorkflowSummary};
use switchyard_model::workflow::Workflow;

#[derive(Debug, Clone)]
pub struct Workflows {
    db: Arc<Db>,
}

fn summary(row: &Row) -> SqlResult<WorkflowSummary> {
    Ok(WorkflowSummary {
        id: row.get(0)?,
        name: row.get(1)?,
        description: row.get(2)?,
        version: row.get(3)?,
        active: row.get(4)?,
        node_count: row.get(5)?,
        created_at: row.get(6)?,
        updated_at: row.get(7)?,
        untrusted: row.get::<Option<String>>(8)?.is_some(),
    })
}

/// A workflow row as stored: id, definition, version, active, created and updated times,
/// where an untrusted import came from.
type StoredRow = (String, String, u32, bool, String, String, Option<String>);

const STORED_COLUMNS: &str = "id, definition, version, active, created_at, updated_at, untrusted";

fn stored_row(r: &Row) -> SqlResult<StoredRow> {
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

/// Records version `version` of `wf` (its JSON stored once, as a snapshot executions share).
fn record_version(conn: &mut dyn Backend, wf: &Workflow, version: u32, saved_at: &str, note: &str) -> SqlResult<()> {
    let text = to_text(wf);
    let hash = crate::executions::snapshot_hash(&text);
    conn.execute(
        "INSERT INTO workflow_snapshots (hash, definition) VALUES (?1, ?2) ON CONFLICT (hash) DO NOTHING",
        params![hash, text],
    )?;
    conn.execute(
        "INSERT INTO workflow_versions (workflow_id, version, snapshot, saved_at, note, name, node_count)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (workflow_id, version) DO UPDATE SET snapshot = excluded.snapshot, saved_at = excluded.saved_at,
             note = excluded.note, name = excluded.name, node_count = excluded.node_count",
        params![wf.id, version, hash, saved_at, note, wf.name, wf.nodes.len() as u32],
    )?;
    Ok(())
}

/// Records the current version of every workflow that has none recorded (workflows saved
/// before versions were kept; a crash between a save and its version).
pub(crate) fn record_missing_versions(conn: &mut dyn Backend) -> Result<()> {
    let mut tx = conn.transaction()?;
    let missing: Vec<(String, String, u32, String)> = tx.query_map(
        "SELECT id, definition, version, updated_at FROM workflows w WHERE NOT EXISTS
         (SELECT 1 FROM workflow_versions v WHERE v.workflow_id = w.id AND v.version = w.version)",
        params![],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    for (id, definition, version, updated_at) in missing {
        let Ok(wf) = serde_json::from_str::<Workflow>(&definition) else {
            tracing::warn!(workflow = %id, "cannot read a stored workflow to record its version");
            continue;
        };
        record_version(&mut *tx, &wf, version, &updated_at, "")?;
    }
    tx.commit()?;
    Ok(())
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
        // lower() on both sides: SQLite's LIKE ignores ASCII case, PostgreSQL's does not.
        let pattern = format!("%{}%", escape_like(search.unwrap_or("").trim()));
        Ok(self.db.lock().query_map(
            "SELECT id, name, description, version, active, node_count, created_at, updated_at, untrusted FROM workflows
             WHERE lower(name) LIKE lower(?1) ESCAPE '\\' OR lower(description) LIKE lower(?1) ESCAPE '\\'
             ORDER BY updated_at DESC, id DESC",
            params![pattern],
            summary,
        )?)
    }

    pub fn get(&self, id: &str) -> Result<WorkflowRecord> {
        self.find(id)?.ok_or_else(|| StoreError::WorkflowNotFound(id.to_string()))
    }

    pub fn find(&self, id: &str) -> Result<Option<WorkflowRecord>> {
        let row = self.db.lock().query_opt(
            &format!("SELECT {STORED_COLUMNS} FROM workflows WHERE id = ?1"),
            params![id],
            stored_row,
        )?;
        row.map(record).transpose()
    }

    /// Every saved workflow whole (or only the active ones), most recently changed first,
    /// in one query.
    pub fn records(&self, only_active: bool) -> Result<Vec<WorkflowRecord>> {
        let rows = self.db.lock().query_map(
            &format!(
                "SELECT {STORED_COLUMNS} FROM workflows WHERE ?1 = 0 OR active = 1 ORDER BY updated_at DESC, id DESC"
            ),
            params![only_active],
            stored_row,
        )?;
        rows.into_iter().map(record).collect()
    }

    /// Stores a new workflow; its id must be free. `untrusted` names where an imported
    /// workflow came from: it stays untrusted until [`Workflows::trust`].
    pub fn create(&self, wf: &Workflow, untrusted: Option<&str>, now: &str) -> Result<WorkflowRecord> {
        let mut lock = self.db.lock();
        let mut conn = lock.transaction()?;
        let inserted = conn.execute(
            "INSERT INTO workflows (id, name, description, active, definition, node_count, version, created_at, updated_at, untrusted)
             VALUES (?1, ?2, ?3, 0, ?4, ?5, 1, ?6, ?6, ?7) ON CONFLICT (id) DO NOTHING",
            params![wf.id, wf.name, wf.description, to_text(wf), wf.nodes.len() as u32, now, untrusted],
        )?;
        if inserted == 0 {
            return Err(StoreError::AlreadyExists(wf.id.clone()));
        }
        let note = untrusted.map(|from| format!("imported from {from}")).unwrap_or_default();
        record_version(&mut *conn, wf, 1, now, &note)?;
        conn.commit()?;
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
        let mut tx = conn.transaction()?;
        let stored: Option<u32> =
            tx.query_opt("SELECT version FROM workflows WHERE id = ?1", params![id], |r| r.get(0))?;
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
        let row =
            self.db.lock().query_opt("SELECT approved_access FROM workflows WHERE id = ?1", params![id], |r| {
                r.get::<Option<String>>(0)
            })?;
        Ok(row.flatten())
    }

    /// Stores `wf` (a new id) as a copy of workflow `from`: as untrusted as the original,
    /// and held to the local access the original was approved for, in one statement.
    pub fn create_copy(&self, from: &str, wf: &Workflow, now: &str) -> Result<WorkflowRecord> {
        let mut lock = self.db.lock();
        let mut conn = lock.transaction()?;
        let inserted = conn.execute(
            "INSERT INTO workflows (id, name, description, active, definition, node_count, version, created_at, updated_at, untrusted, approved_access)
             SELECT ?1, ?2, ?3, 0, ?4, ?5, 1, ?6, ?6, untrusted, approved_access FROM workflows WHERE id = ?7
             ON CONFLICT (id) DO NOTHING",
            params![wf.id, wf.name, wf.description, to_text(wf), wf.nodes.len() as u32, now, from],
        )?;
        if inserted == 0 {
            return Err(StoreError::AlreadyExists(wf.id.clone()));
        }
        record_version(&mut *conn, wf, 1, now, &format!("a copy of {from}"))?;
        conn.commit()?;
        drop(lock);
        self.get(&wf.id)
    }

    /// Saves a workflow: creates it, or updates it when `expected_version` (if given) is
    /// still the stored one. The check and the write are one transaction.
    pub fn save(&self, wf: &Workflow, expected_version: Option<u32>, now: &str) -> Result<WorkflowRecord> {
        self.save_with_note(wf, expected_version, now, "")
    }

    /// [`Workflows::save`], recording `note` with the new version in the version history.
    pub fn save_with_note(
        &self,
        wf: &Workflow,
        expected_version: Option<u32>,
        now: &str,
        note: &str,
    ) -> Result<WorkflowRecord> {
        let mut conn = self.db.lock();
        let mut tx = conn.transaction()?;
        let current: Option<(u32, bool, String, Option<String>)> = tx.query_opt(
            "SELECT version, active, created_at, untrusted FROM workflows WHERE id = ?1",
            params![wf.id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
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
        record_version(&mut *tx, wf, record.version, now, note)?;
        tx.commit()?;
        Ok(record)
    }

    /// Changes whenever what the active workflows ask to be served may have changed (one
    /// activated, paused, saved, trusted): other processes sharing the store reload then.
    pub fn active_fingerprint(&self) -> Result<String> {
        Ok(self.db.lock().query_row(
            "SELECT COUNT(*), COALESCE(MAX(updated_at), ''), COALESCE(SUM(version), 0), COUNT(untrusted),
                    COALESCE(MAX(length(approved_access)), 0)
             FROM workflows WHERE active = 1",
            params![],
            |r| {
                Ok(format!(
                    "{}/{}/{}/{}/{}",
                    r.get::<i64>(0)?,
                    r.get::<String>(1)?,
                    r.get::<i64>(2)?,
                    r.get::<i64>(3)?,
                    r.get::<i64>(4)?
                ))
            },
        )?)
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
        let mut tx = conn.transaction()?;
        let deleted = tx.execute("DELETE FROM workflows WHERE id = ?1", params![id])?;
        if deleted == 0 {
            return Err(StoreError::WorkflowNotFound(id.to_string()));
        }
        tx.execute("DELETE FROM executions WHERE workflow_id = ?1", params![id])?;
        tx.execute("DELETE FROM workflow_versions WHERE workflow_id = ?1", params![id])?;
        tx.execute("DELETE FROM agent_memory WHERE workflow_id = ?1", params![id])?;
        crate::executions::drop_unused_snapshots(&mut *tx)?;
        tx.commit()?;
        Ok(())
    }

    /// A workflow's saved versions, newest first.
    pub fn versions(&self, id: &str) -> Result<Vec<VersionSummary>> {
        let list: Vec<VersionSummary> = self.db.lock().query_map(
            "SELECT version, saved_at, note, name, node_count FROM workflow_versions WHERE workflow_id = ?1
             ORDER BY version DESC",
            params![id],
            |r| {
                Ok(VersionSummary {
                    version: r.get(0)?,
                    saved_at: r.get(1)?,
                    note: r.get(2)?,
                    name: r.get(3)?,
                    node_count: r.get(4)?,
                })
            },
        )?;
        if list.is_empty() && self.find(id)?.is_none() {
            return Err(StoreError::WorkflowNotFound(id.to_string()));
        }
        Ok(list)
    }

    /// Version `version` of a workflow, as it was saved.
    pub fn version(&self, id: &str, version: u32) -> Result<Workflow> {
        let text: Option<String> = self.db.lock().query_opt(
            "SELECT s.definition FROM workflow_versions v JOIN workflow_snapshots s ON s.hash = v.snapshot
                 WHERE v.workflow_id = ?1 AND v.version = ?2",
            params![id, version],
            |r| r.get(0),
        )?;
        let text = text.ok_or_else(|| StoreError::VersionNotFound { id: id.to_string(), version })?;
        serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
            what: format!("workflow {id} version {version}"),
            message: e.to_string(),
        })
    }

    /// Thins out a workflow's old versions: those saved before `keep_after` (RFC 3339) go,
    /// except every `every`-th version (by number; 0 keeps none of them) and the newest.
    /// Returns how many went.
    pub fn prune_versions(&self, id: &str, keep_after: &str, every: u32) -> Result<u32> {
        let mut conn = self.db.lock();
        let mut tx = conn.transaction()?;
        let deleted = tx.execute(
            "DELETE FROM workflow_versions WHERE workflow_id = ?1 AND saved_at < ?2
             AND (?3 = 0 OR version % ?3 != 0)
             AND version < (SELECT MAX(version) FROM workflow_versions WHERE workflow_id = ?1)",
            params![id, keep_after, every],
        )?;
        if deleted > 0 {
            crate::executions::drop_unused_snapshots(&mut *tx)?;
        }
        tx.commit()?;
        Ok(deleted as u32)
    }
}
