//! Server mode's workers: each `switchyard worker` writes its row at every heartbeat (what it
//! runs, what it ran, its memory and CPU), so that the mains' dashboard and Prometheus show
//! every worker and their total without reaching the workers themselves.

use crate::Db;
use crate::error::Result;
use crate::sql::{Row, SqlResult, params};
use std::sync::Arc;

/// One worker process as it last reported.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerRow {
    /// Its consumer name in the queue (unique per process).
    pub name: String,
    pub host: String,
    pub pid: u32,
    pub started_ms: i64,
    /// Its last report.
    pub seen_ms: i64,
    /// How often it reports (a worker not seen for three of these is presumed gone).
    pub beat_ms: i64,
    /// When it stopped cleanly (SIGTERM); a worker that died never says.
    pub stopped_ms: Option<i64>,
    pub concurrency: u32,
    /// Runs it has now.
    pub running: u32,
    /// Runs it finished (recorded and acknowledged) since it started, and how many of those
    /// ended in an error.
    pub runs: u64,
    pub failed: u64,
    /// Runs of dead workers it took over.
    pub claimed: u64,
    /// Runs it moved to the dead letters.
    pub dead_letters: u64,
    pub memory_bytes: Option<u64>,
    pub cpu_percent: Option<f64>,
}

impl WorkerRow {
    /// Whether it is presumably running at `now_ms`: not stopped, and seen within three
    /// heartbeats.
    pub fn up(&self, now_ms: i64) -> bool {
        self.stopped_ms.is_none() && now_ms - self.seen_ms <= 3 * self.beat_ms.max(1000)
    }
}

#[derive(Debug, Clone)]
pub struct Workers {
    db: Arc<Db>,
}

const COLUMNS: &str = "name, host, pid, started_ms, seen_ms, beat_ms, stopped_ms, concurrency, running, runs, failed, \
                       claimed, dead_letters, memory_bytes, cpu_percent";

fn row(r: &Row) -> SqlResult<WorkerRow> {
    Ok(WorkerRow {
        name: r.get(0)?,
        host: r.get(1)?,
        pid: r.get(2)?,
        started_ms: r.get(3)?,
        seen_ms: r.get(4)?,
        beat_ms: r.get(5)?,
        stopped_ms: r.get(6)?,
        concurrency: r.get(7)?,
        running: r.get(8)?,
        runs: r.get(9)?,
        failed: r.get(10)?,
        claimed: r.get(11)?,
        dead_letters: r.get(12)?,
        memory_bytes: r.get(13)?,
        cpu_percent: r.get(14)?,
    })
}

impl Workers {
    pub(crate) fn new(db: Arc<Db>) -> Workers {
        Workers { db }
    }

    /// Writes a worker's report (its row, replaced).
    pub fn report(&self, w: &WorkerRow) -> Result<()> {
        self.db.lock().execute(
            &format!(
                "INSERT INTO workers ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
                 ON CONFLICT (name) DO UPDATE SET host = excluded.host, pid = excluded.pid,
                 started_ms = excluded.started_ms, seen_ms = excluded.seen_ms, beat_ms = excluded.beat_ms,
                 stopped_ms = excluded.stopped_ms, concurrency = excluded.concurrency, running = excluded.running,
                 runs = excluded.runs, failed = excluded.failed, claimed = excluded.claimed,
                 dead_letters = excluded.dead_letters, memory_bytes = excluded.memory_bytes,
                 cpu_percent = excluded.cpu_percent"
            ),
            params![
                w.name,
                w.host,
                w.pid,
                w.started_ms,
                w.seen_ms,
                w.beat_ms,
                w.stopped_ms,
                w.concurrency,
                w.running,
                w.runs,
                w.failed,
                w.claimed,
                w.dead_letters,
                w.memory_bytes,
                w.cpu_percent
            ],
        )?;
        Ok(())
    }

    /// Every worker seen since `since_ms`, by name.
    pub fn list(&self, since_ms: i64) -> Result<Vec<WorkerRow>> {
        let sql = format!("SELECT {COLUMNS} FROM workers WHERE seen_ms >= ?1 ORDER BY name");
        Ok(self.db.lock().query_map(&sql, params![since_ms], row)?)
    }

    /// Forgets workers not seen since `before_ms`.
    pub fn forget(&self, before_ms: i64) -> Result<usize> {
        Ok(self.db.lock().execute("DELETE FROM workers WHERE seen_ms < ?1", params![before_ms])?)
    }
}
