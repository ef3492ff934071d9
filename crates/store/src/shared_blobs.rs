//! Server mode's shared files: the bytes of the files a queued run's trigger items carry,
//! put into the shared store by the main that received them and read by the worker that runs
//! the run (which may be on another machine, with another data folder). Content-addressed by
//! SHA-256, like the data folder's blob store, which stays where runs read files from.

use crate::Db;
use crate::error::Result;
use crate::sql::params;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct SharedBlobs {
    db: Arc<Db>,
}

impl SharedBlobs {
    pub(crate) fn new(db: Arc<Db>) -> SharedBlobs {
        SharedBlobs { db }
    }

    /// Whether the blob `sha256` is here.
    pub fn has(&self, sha256: &str) -> Result<bool> {
        let found: Option<i64> =
            self.db.lock().query_opt("SELECT 1 FROM shared_blobs WHERE sha256 = ?1", params![sha256], |r| r.get(0))?;
        Ok(found.is_some())
    }

    /// Puts a blob (kept as it is when one with this address is here already; its time is
    /// renewed, so that it is kept as long as runs keep using it).
    pub fn put(&self, sha256: &str, bytes: &[u8], now_ms: i64) -> Result<()> {
        self.db.lock().execute(
            "INSERT INTO shared_blobs (sha256, size, bytes, created_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (sha256) DO UPDATE SET created_ms = excluded.created_ms",
            params![sha256, bytes.len() as u64, bytes, now_ms],
        )?;
        Ok(())
    }

    /// Renews a blob's time (a run uses it again); false when it is not here.
    pub fn touch(&self, sha256: &str, now_ms: i64) -> Result<bool> {
        let changed = self
            .db
            .lock()
            .execute("UPDATE shared_blobs SET created_ms = ?2 WHERE sha256 = ?1", params![sha256, now_ms])?;
        Ok(changed > 0)
    }

    /// A blob's bytes.
    pub fn get(&self, sha256: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .db
            .lock()
            .query_opt("SELECT bytes FROM shared_blobs WHERE sha256 = ?1", params![sha256], |r| r.get(0))?)
    }

    /// Forgets blobs put (or renewed) before `before_ms`.
    pub fn forget(&self, before_ms: i64) -> Result<usize> {
        Ok(self.db.lock().execute("DELETE FROM shared_blobs WHERE created_ms < ?1", params![before_ms])?)
    }
}
