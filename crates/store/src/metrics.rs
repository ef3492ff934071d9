//! Metrics rollups (per-minute buckets aged into per-hour buckets) and alert rules and
//! alerts.

use crate::Db;
use crate::error::{Result, StoreError};
use crate::sql::{Backend, SqlResult, params};
use std::collections::HashMap;
use std::sync::Arc;
use switchyard_core::rollup::{Bucket, BucketRecord, HOUR_MS, MINUTE_MS, floor};
use switchyard_model::alerts::{Alert, AlertRule, AlertState};

#[derive(Debug, Clone)]
pub struct Metrics {
    db: Arc<Db>,
}

/// One stored bucket: a workflow's (node "") or one of its nodes'.
#[derive(Debug, Clone)]
pub struct BucketRow {
    pub workflow_id: String,
    pub node: String,
    pub bucket: Bucket,
}

fn decode(workflow_id: &str, node: &str, start_ms: i64, json: &str) -> Result<Bucket> {
    let corrupt = |message: String| StoreError::Corrupt {
        what: format!("metric bucket of workflow {workflow_id} node {node:?} at {start_ms}"),
        message,
    };
    let record: BucketRecord = serde_json::from_str(json).map_err(|e| corrupt(e.to_string()))?;
    Bucket::from_record(&record).map_err(|e| corrupt(e.to_string()))
}

fn encode(bucket: &Bucket) -> String {
    // A BucketRecord is strings and numbers: serializing cannot fail.
    serde_json::to_string(&bucket.to_record()).unwrap_or_default()
}

/// Adds a bucket into its stored row (or stores it as the row).
fn add_to_row(tx: &mut dyn Backend, workflow_id: &str, node: &str, bucket: &Bucket) -> Result<()> {
    let (width, start) = (bucket.width_ms, bucket.start_ms);
    let stored: Option<String> = tx.query_opt(
        "SELECT record FROM metric_buckets WHERE workflow_id = ?1 AND node = ?2 AND width_ms = ?3 AND start_ms = ?4",
        params![workflow_id, node, width, start],
        |r| r.get(0),
    )?;
    let merged = match stored {
        Some(json) => {
            let mut old = decode(workflow_id, node, start, &json)?;
            old.merge(bucket);
            old
        }
        None => bucket.clone(),
    };
    tx.execute(
        "INSERT INTO metric_buckets (workflow_id, node, width_ms, start_ms, record) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (workflow_id, node, width_ms, start_ms) DO UPDATE SET record = excluded.record",
        params![workflow_id, node, width, start, encode(&merged)],
    )?;
    Ok(())
}

impl Metrics {
    pub(crate) fn new(db: Arc<Db>) -> Metrics {
        Metrics { db }
    }

    /// Adds buckets (deltas since the last flush) into the stored ones, in one transaction.
    pub fn merge(&self, rows: &[BucketRow]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut conn = self.db.lock();
        let mut tx = conn.transaction()?;
        for row in rows {
            add_to_row(&mut *tx, &row.workflow_id, &row.node, &row.bucket)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Merges minute buckets older than `before_ms` into hour buckets and deletes them, in
    /// one transaction. Returns how many minute buckets were aged.
    pub fn age(&self, before_ms: i64) -> Result<u32> {
        let mut conn = self.db.lock();
        let mut tx = conn.transaction()?;
        let mut hours: HashMap<(String, String, i64), Bucket> = HashMap::new();
        let mut aged = 0u32;
        let minutes: Vec<(String, String, i64, String)> = tx.query_map(
            "SELECT workflow_id, node, start_ms, record FROM metric_buckets WHERE width_ms = ?1 AND start_ms < ?2",
            params![MINUTE_MS, floor(before_ms, MINUTE_MS)],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        for (wf, node, start, record) in minutes {
            let minute = decode(&wf, &node, start, &record)?;
            let hour = floor(start, HOUR_MS);
            hours.entry((wf, node, hour)).or_insert_with(|| Bucket::new(hour, HOUR_MS)).merge(&minute);
            aged += 1;
        }
        for ((wf, node, _), bucket) in hours {
            add_to_row(&mut *tx, &wf, &node, &bucket)?;
        }
        tx.execute(
            "DELETE FROM metric_buckets WHERE width_ms = ?1 AND start_ms < ?2",
            params![MINUTE_MS, floor(before_ms, MINUTE_MS)],
        )?;
        tx.commit()?;
        Ok(aged)
    }

    /// Deletes hour buckets older than `before_ms` (retention). Returns how many went.
    pub fn forget(&self, before_ms: i64) -> Result<u32> {
        let n = self.db.lock().execute(
            "DELETE FROM metric_buckets WHERE width_ms = ?1 AND start_ms < ?2",
            params![HOUR_MS, floor(before_ms, HOUR_MS)],
        )?;
        Ok(n as u32)
    }

    /// Stored buckets that start in `[from_ms, to_ms)`: the workflows' own (`nodes` false)
    /// or their nodes', of one workflow or all, oldest first.
    pub fn buckets(&self, from_ms: i64, to_ms: i64, nodes: bool, workflow_id: Option<&str>) -> Result<Vec<BucketRow>> {
        let mut conn = self.db.lock();
        // One width at a time, with the node condition as the index wants it.
        let sql = if nodes {
            "SELECT workflow_id, node, start_ms, record FROM metric_buckets
             WHERE width_ms = ?1 AND node <> '' AND start_ms >= ?2 AND start_ms < ?3 AND (CAST(?4 AS TEXT) IS NULL OR workflow_id = ?4)"
        } else {
            "SELECT workflow_id, node, start_ms, record FROM metric_buckets
             WHERE width_ms = ?1 AND node = '' AND start_ms >= ?2 AND start_ms < ?3 AND (CAST(?4 AS TEXT) IS NULL OR workflow_id = ?4)"
        };
        let mut out = Vec::new();
        for width in [HOUR_MS, MINUTE_MS] {
            let rows: Vec<(String, String, i64, String)> =
                conn.query_map(sql, params![width, from_ms, to_ms, workflow_id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })?;
            for (wf, node, start, record) in rows {
                let bucket = decode(&wf, &node, start, &record)?;
                out.push(BucketRow { workflow_id: wf, node, bucket });
            }
        }
        out.sort_by_key(|row| row.bucket.start_ms);
        Ok(out)
    }

    /// How many buckets are stored, by width (minutes, hours).
    pub fn bucket_counts(&self) -> Result<(u64, u64)> {
        let mut conn = self.db.lock();
        let mut count = |w: i64| -> SqlResult<i64> {
            conn.query_row("SELECT COUNT(*) FROM metric_buckets WHERE width_ms = ?1", params![w], |r| r.get(0))
        };
        Ok((count(MINUTE_MS)? as u64, count(HOUR_MS)? as u64))
    }

    // --- Alert rules and alerts ------------------------------------------------------------

    pub fn rules(&self) -> Result<Vec<AlertRule>> {
        let rows =
            self.db.lock().query_map("SELECT id, rule FROM alert_rules ORDER BY position, id", params![], |r| {
                Ok((r.get::<String>(0)?, r.get::<String>(1)?))
            })?;
        let mut out = Vec::new();
        for (id, json) in rows {
            out.push(
                serde_json::from_str(&json)
                    .map_err(|e| StoreError::Corrupt { what: format!("alert rule {id}"), message: e.to_string() })?,
            );
        }
        Ok(out)
    }

    /// Inserts or replaces a rule (a new rule goes last).
    pub fn save_rule(&self, rule: &AlertRule) -> Result<()> {
        let json = serde_json::to_string(rule).unwrap_or_default();
        self.db.lock().execute(
            "INSERT INTO alert_rules (id, position, rule)
             VALUES (?1, (SELECT COALESCE(MAX(position), 0) + 1 FROM alert_rules), ?2)
             ON CONFLICT(id) DO UPDATE SET rule = excluded.rule",
            params![rule.id, json],
        )?;
        Ok(())
    }

    /// Deletes a rule; false when there was none with that id.
    pub fn delete_rule(&self, id: &str) -> Result<bool> {
        Ok(self.db.lock().execute("DELETE FROM alert_rules WHERE id = ?1", params![id])? > 0)
    }

    /// Adds the predefined rules the first time only (a user who deletes them keeps them
    /// deleted). Returns whether they were added.
    pub fn seed_rules(&self, presets: &[AlertRule]) -> Result<bool> {
        let mut conn = self.db.lock();
        let mut tx = conn.transaction()?;
        let pending: Option<String> =
            tx.query_opt("SELECT value FROM store_meta WHERE key = 'alert_presets'", params![], |r| r.get(0))?;
        if pending.as_deref() != Some("pending") {
            return Ok(false);
        }
        for (i, rule) in presets.iter().enumerate() {
            tx.execute(
                "INSERT INTO alert_rules (id, position, rule) VALUES (?1, ?2, ?3) ON CONFLICT (id) DO NOTHING",
                params![rule.id, i as i64, serde_json::to_string(rule).unwrap_or_default()],
            )?;
        }
        tx.execute("UPDATE store_meta SET value = 'done' WHERE key = 'alert_presets'", params![])?;
        tx.commit()?;
        Ok(true)
    }

    /// Inserts or replaces an alert.
    pub fn save_alert(&self, alert: &Alert) -> Result<()> {
        let state = match alert.state {
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
        };
        self.db.lock().execute(
            "INSERT INTO alerts (id, rule_id, state, fired_at, alert) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO UPDATE SET rule_id = excluded.rule_id, state = excluded.state,
                 fired_at = excluded.fired_at, alert = excluded.alert",
            params![alert.id, alert.rule_id, state, alert.fired_at, serde_json::to_string(alert).unwrap_or_default()],
        )?;
        Ok(())
    }

    pub fn alert(&self, id: &str) -> Result<Option<Alert>> {
        let json: Option<String> =
            self.db.lock().query_opt("SELECT alert FROM alerts WHERE id = ?1", params![id], |r| r.get(0))?;
        json.map(|j| parse_alert(id, &j)).transpose()
    }

    /// Alerts newest first: all, or only those still firing.
    pub fn alerts(&self, firing_only: bool, limit: u32) -> Result<Vec<Alert>> {
        let rows = self.db.lock().query_map(
            "SELECT id, alert FROM alerts WHERE (?1 = 0 OR state = 'firing') ORDER BY fired_at DESC, id DESC LIMIT ?2",
            params![firing_only, limit],
            |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)),
        )?;
        let mut out = Vec::new();
        for (id, json) in rows {
            out.push(parse_alert(&id, &json)?);
        }
        Ok(out)
    }

    /// Keeps the newest `keep` alerts (firing ones always stay).
    pub fn prune_alerts(&self, keep: u32) -> Result<u32> {
        let n = self.db.lock().execute(
            "DELETE FROM alerts WHERE state <> 'firing' AND id NOT IN (
                 SELECT id FROM alerts ORDER BY fired_at DESC, id DESC LIMIT ?1)",
            params![keep],
        )?;
        Ok(n as u32)
    }
}

fn parse_alert(id: &str, json: &str) -> Result<Alert> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt { what: format!("alert {id}"), message: e.to_string() })
}
