//! Where workflows were deployed from this computer ("Deploy to…").

use crate::Db;
use crate::error::Result;
use crate::sql::{Row, SqlResult, params};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentRow {
    pub workflow_id: String,
    /// The `switchyard.server` account's label.
    pub server: String,
    pub url: String,
    /// The workflow's version on the server after the deploy.
    pub version: i64,
    pub deployed_ms: i64,
}

#[derive(Debug, Clone)]
pub struct Deployments {
    db: Arc<Db>,
}

const COLUMNS: &str = "workflow_id, server, url, version, deployed_ms";

fn row(r: &Row) -> SqlResult<DeploymentRow> {
    Ok(DeploymentRow {
        workflow_id: r.get(0)?,
        server: r.get(1)?,
        url: r.get(2)?,
        version: r.get(3)?,
        deployed_ms: r.get(4)?,
    })
}

impl Deployments {
    pub(crate) fn new(db: Arc<Db>) -> Deployments {
        Deployments { db }
    }

    /// Records a deploy (replacing the last one to the same server).
    pub fn record(&self, d: &DeploymentRow) -> Result<()> {
        self.db.lock().execute(
            &format!(
                "INSERT INTO deployments ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (workflow_id, server) DO UPDATE SET url = excluded.url, version = excluded.version,
                 deployed_ms = excluded.deployed_ms"
            ),
            params![d.workflow_id, d.server, d.url, d.version, d.deployed_ms],
        )?;
        Ok(())
    }

    pub fn get(&self, workflow_id: &str, server: &str) -> Result<Option<DeploymentRow>> {
        Ok(self.db.lock().query_opt(
            &format!("SELECT {COLUMNS} FROM deployments WHERE workflow_id = ?1 AND server = ?2"),
            params![workflow_id, server],
            row,
        )?)
    }

    /// A workflow's deployments, most recent first.
    pub fn list(&self, workflow_id: &str) -> Result<Vec<DeploymentRow>> {
        let sql = format!("SELECT {COLUMNS} FROM deployments WHERE workflow_id = ?1 ORDER BY deployed_ms DESC, server");
        Ok(self.db.lock().query_map(&sql, params![workflow_id], row)?)
    }
}
