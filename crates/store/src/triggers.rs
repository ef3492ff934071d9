//! The webhook delivery log (read side; deliveries are written by the execution log's
//! background writer) and the scheduler's stored next-fire times.

use crate::Db;
use crate::error::Result;
use crate::sql::params;
use std::sync::Arc;
use switchyard_model::webhook::{Delivery, Verification};

#[derive(Debug, Clone)]
pub struct Triggers {
    db: Arc<Db>,
}

/// A Schedule trigger's stored state.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleRow {
    pub rule: String,
    pub next_fire: Option<String>,
    pub last_fire: Option<String>,
}

impl Triggers {
    pub(crate) fn new(db: Arc<Db>) -> Triggers {
        Triggers { db }
    }

    /// A workflow's deliveries (or every workflow's), newest first.
    pub fn deliveries(&self, workflow_id: Option<&str>, limit: u32) -> Result<Vec<Delivery>> {
        let sql = "SELECT id, workflow_id, node_id, received_at, method, path, status, verification, latency_ms, execution_id, error, body, test
             FROM webhook_deliveries WHERE CAST(?1 AS TEXT) IS NULL OR workflow_id = ?1
             ORDER BY received_at DESC, rowid DESC LIMIT ?2";
        Ok(self.db.lock().query_map(sql, params![workflow_id, limit], |r| {
            Ok(Delivery {
                id: r.get(0)?,
                workflow_id: r.get(1)?,
                node_id: r.get(2)?,
                received_at: r.get(3)?,
                method: r.get(4)?,
                path: r.get(5)?,
                status: r.get(6)?,
                verification: Verification::parse(&r.get::<String>(7)?),
                latency_ms: r.get(8)?,
                execution_id: r.get(9)?,
                error: r.get(10)?,
                body: r.get(11)?,
                test: r.get(12)?,
            })
        })?)
    }

    /// How many deliveries a workflow has in the log.
    pub fn delivery_count(&self, workflow_id: &str) -> Result<u64> {
        let n: i64 = self.db.lock().query_row(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE workflow_id = ?1",
            params![workflow_id],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// The webhook replay keys that have not expired at `now_ms`, with when each expires
    /// (expired ones are deleted).
    pub fn replay_keys(&self, now_ms: i64) -> Result<Vec<(String, i64)>> {
        let mut conn = self.db.lock();
        conn.execute("DELETE FROM webhook_replay WHERE expires_at_ms <= ?1", params![now_ms])?;
        let sql = "SELECT key, expires_at_ms FROM webhook_replay ORDER BY expires_at_ms";
        Ok(conn.query_map(sql, params![], |r| Ok((r.get(0)?, r.get(1)?)))?)
    }

    /// Keeps the newest `keep` deliveries of each workflow; returns how many went.
    pub fn prune_deliveries(&self, keep: u32) -> Result<u32> {
        let n = self.db.lock().execute(
            "DELETE FROM webhook_deliveries WHERE rowid IN (
                 SELECT rowid FROM (
                     SELECT rowid, ROW_NUMBER() OVER (PARTITION BY workflow_id ORDER BY received_at DESC, rowid DESC) AS n
                     FROM webhook_deliveries) AS ranked
                 WHERE n > ?1)",
            params![keep],
        )?;
        Ok(n as u32)
    }

    pub fn schedule(&self, workflow_id: &str, node_id: &str) -> Result<Option<ScheduleRow>> {
        Ok(self.db.lock().query_opt(
            "SELECT rule, next_fire, last_fire FROM schedule_state WHERE workflow_id = ?1 AND node_id = ?2",
            params![workflow_id, node_id],
            |r| Ok(ScheduleRow { rule: r.get(0)?, next_fire: r.get(1)?, last_fire: r.get(2)? }),
        )?)
    }

    /// Stores the next fire time; `fired` (when given) becomes the last fire time.
    pub fn set_schedule(
        &self,
        workflow_id: &str,
        node_id: &str,
        rule: &str,
        next_fire: Option<&str>,
        fired: Option<&str>,
        now: &str,
    ) -> Result<()> {
        self.db.lock().execute(
            "INSERT INTO schedule_state (workflow_id, node_id, rule, next_fire, last_fire, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (workflow_id, node_id) DO UPDATE SET
                 rule = excluded.rule, next_fire = excluded.next_fire,
                 last_fire = COALESCE(excluded.last_fire, schedule_state.last_fire), updated_at = excluded.updated_at",
            params![workflow_id, node_id, rule, next_fire, fired, now],
        )?;
        Ok(())
    }

    /// The files a Folder Trigger saw: path → (size, modified ms); None when it never
    /// watched (a row with an empty path marks a watch that ran).
    pub fn folder_files(&self, workflow_id: &str, node_id: &str) -> Result<Option<Vec<(String, u64, i64)>>> {
        let rows: Vec<(String, u64, i64)> = self.db.lock().query_map(
            "SELECT path, size, modified_ms FROM folder_files WHERE workflow_id = ?1 AND node_id = ?2",
            params![workflow_id, node_id],
            |r| Ok((r.get(0)?, r.get::<i64>(1)? as u64, r.get(2)?)),
        )?;
        if rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(rows.into_iter().filter(|(path, _, _)| !path.is_empty()).collect()))
    }

    /// Replaces what a Folder Trigger saw, in one transaction.
    pub fn replace_folder_files(&self, workflow_id: &str, node_id: &str, files: &[(String, u64, i64)]) -> Result<()> {
        let mut conn = self.db.lock();
        let mut tx = conn.transaction()?;
        tx.execute("DELETE FROM folder_files WHERE workflow_id = ?1 AND node_id = ?2", params![workflow_id, node_id])?;
        // The marker of a watch that ran.
        tx.execute(
            "INSERT INTO folder_files (workflow_id, node_id, path, size, modified_ms) VALUES (?1, ?2, '', 0, 0)",
            params![workflow_id, node_id],
        )?;
        for (path, size, modified) in files {
            tx.execute(
                "INSERT INTO folder_files (workflow_id, node_id, path, size, modified_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![workflow_id, node_id, path, *size as i64, modified],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// One file a Folder Trigger saw change (None: it is gone).
    pub fn set_folder_file(
        &self,
        workflow_id: &str,
        node_id: &str,
        path: &str,
        seen: Option<(u64, i64)>,
    ) -> Result<()> {
        let mut conn = self.db.lock();
        match seen {
            Some((size, modified)) => conn.execute(
                "INSERT INTO folder_files (workflow_id, node_id, path, size, modified_ms) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (workflow_id, node_id, path) DO UPDATE SET size = excluded.size, modified_ms = excluded.modified_ms",
                params![workflow_id, node_id, path, size as i64, modified],
            )?,
            None => conn.execute(
                "DELETE FROM folder_files WHERE workflow_id = ?1 AND node_id = ?2 AND path = ?3",
                params![workflow_id, node_id, path],
            )?,
        };
        Ok(())
    }

    /// A value a trigger node keeps (see [`Triggers::set_value`]).
    pub fn value(&self, workflow_id: &str, node_id: &str, key: &str) -> Result<Option<String>> {
        Ok(self.db.lock().query_opt(
            "SELECT value FROM trigger_state WHERE workflow_id = ?1 AND node_id = ?2 AND key = ?3",
            params![workflow_id, node_id, key],
            |r| r.get(0),
        )?)
    }

    /// Keeps a value for a trigger node across restarts (committed when this returns).
    pub fn set_value(&self, workflow_id: &str, node_id: &str, key: &str, value: &str) -> Result<()> {
        let mut conn = self.db.lock();
        conn.execute(
            "INSERT INTO trigger_state (workflow_id, node_id, key, value) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (workflow_id, node_id, key) DO UPDATE SET value = excluded.value",
            params![workflow_id, node_id, key, value],
        )?;
        Ok(())
    }

    /// Forgets the schedules of a workflow not in `keep_nodes` (triggers removed or the
    /// workflow deleted).
    pub fn retain_schedules(&self, workflow_id: &str, keep_nodes: &[String]) -> Result<()> {
        let mut conn = self.db.lock();
        let nodes: Vec<String> =
            conn.query_map("SELECT node_id FROM schedule_state WHERE workflow_id = ?1", params![workflow_id], |r| {
                r.get(0)
            })?;
        for node in nodes.iter().filter(|n| !keep_nodes.contains(n)) {
            conn.execute(
                "DELETE FROM schedule_state WHERE workflow_id = ?1 AND node_id = ?2",
                params![workflow_id, node],
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::Store;
    use switchyard_model::webhook::{Delivery, Verification};

    fn delivery(i: u32, workflow: &str) -> Delivery {
        Delivery {
            id: format!("d{i}"),
            workflow_id: workflow.into(),
            node_id: "hook".into(),
            received_at: format!("2026-11-30T10:00:{:02}.000Z", i % 60),
            method: "POST".into(),
            path: format!("/webhook/{workflow}/orders"),
            status: if i.is_multiple_of(2) { 202 } else { 401 },
            verification: if i.is_multiple_of(2) { Verification::Passed } else { Verification::Failed },
            latency_ms: i,
            execution_id: (i.is_multiple_of(2)).then(|| format!("run{i}")),
            error: (!i.is_multiple_of(2)).then(|| "signature check failed".to_string()),
            body: None,
            test: false,
        }
    }

    #[test]
    fn deliveries_are_logged_listed_and_pruned_per_workflow() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in(dir.path()).unwrap();
        let log = store.log();
        for i in 0..30 {
            log.delivery(delivery(i, if i < 20 { "a" } else { "b" }));
        }
        log.flush().unwrap();
        let a = store.triggers().deliveries(Some("a"), 100).unwrap();
        assert_eq!(a.len(), 20);
        assert_eq!(a[0], delivery(19, "a"), "newest first, every field back");
        assert_eq!(store.triggers().deliveries(None, 5).unwrap().len(), 5);
        assert_eq!(store.triggers().prune_deliveries(10).unwrap(), 10);
        assert_eq!(store.triggers().deliveries(Some("a"), 100).unwrap().len(), 10);
        assert_eq!(store.triggers().deliveries(Some("b"), 100).unwrap().len(), 10);
        assert_eq!(store.triggers().deliveries(Some("a"), 100).unwrap()[9].id, "d10");
    }

    #[test]
    fn schedule_state_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open_in(dir.path()).unwrap();
            let t = store.triggers();
            t.set_schedule("w", "s", "every 60 s", Some("2026-11-30T10:01:00.000Z"), None, "now").unwrap();
            t.set_schedule(
                "w",
                "s",
                "every 60 s",
                Some("2026-11-30T10:02:00.000Z"),
                Some("2026-11-30T10:01:00.000Z"),
                "now",
            )
            .unwrap();
            t.set_schedule("w", "s", "every 60 s", Some("2026-11-30T10:03:00.000Z"), None, "now").unwrap();
            t.set_schedule("w", "gone", "every 60 s", None, None, "now").unwrap();
            t.retain_schedules("w", &["s".to_string()]).unwrap();
        }
        let store = Store::open_in(dir.path()).unwrap();
        let row = store.triggers().schedule("w", "s").unwrap().unwrap();
        assert_eq!(row.next_fire.as_deref(), Some("2026-11-30T10:03:00.000Z"));
        assert_eq!(
            row.last_fire.as_deref(),
            Some("2026-11-30T10:01:00.000Z"),
            "a store without a fire keeps the last one"
        );
        assert_eq!(store.triggers().schedule("w", "gone").unwrap(), None);
    }
}
