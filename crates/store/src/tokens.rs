//! API tokens: who may call the REST API, with which scope. Only hashes are stored.

use crate::Db;
use crate::error::Result;
use crate::sql::{Row, SqlResult, params};
use std::sync::Arc;

/// One token as stored (its hash, never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    /// `read`, `run` or `admin`.
    pub scope: String,
    pub hash: Vec<u8>,
    /// The token's first characters, to tell tokens apart in lists.
    pub prefix: String,
    pub created_ms: i64,
    pub last_used_ms: Option<i64>,
    pub revoked_ms: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct ApiTokens {
    db: Arc<Db>,
}

const COLUMNS: &str = "id, name, scope, hash, prefix, created_ms, last_used_ms, revoked_ms";

fn row(r: &Row) -> SqlResult<TokenRow> {
    Ok(TokenRow {
        id: r.get(0)?,
        name: r.get(1)?,
        scope: r.get(2)?,
        hash: r.get(3)?,
        prefix: r.get(4)?,
        created_ms: r.get(5)?,
        last_used_ms: r.get(6)?,
        revoked_ms: r.get(7)?,
    })
}

impl ApiTokens {
    pub(crate) fn new(db: Arc<Db>) -> ApiTokens {
        ApiTokens { db }
    }

    pub fn insert(&self, token: &TokenRow) -> Result<()> {
        self.db.lock().execute(
            &format!("INSERT INTO api_tokens ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
            params![
                token.id,
                token.name,
                token.scope,
                token.hash,
                token.prefix,
                token.created_ms,
                token.last_used_ms,
                token.revoked_ms
            ],
        )?;
        Ok(())
    }

    /// Every token, newest first (revoked ones too: the list shows when they were revoked).
    pub fn list(&self) -> Result<Vec<TokenRow>> {
        let sql = format!("SELECT {COLUMNS} FROM api_tokens ORDER BY created_ms DESC, id");
        Ok(self.db.lock().query_map(&sql, params![], row)?)
    }

    pub fn get(&self, id: &str) -> Result<Option<TokenRow>> {
        let mut conn = self.db.lock();
        Ok(conn.query_opt(&format!("SELECT {COLUMNS} FROM api_tokens WHERE id = ?1"), params![id], row)?)
    }

    /// The token with this hash, revoked or not.
    pub fn find(&self, hash: &[u8]) -> Result<Option<TokenRow>> {
        let mut conn = self.db.lock();
        Ok(conn.query_opt(&format!("SELECT {COLUMNS} FROM api_tokens WHERE hash = ?1"), params![hash], row)?)
    }

    /// Revokes a token (once: a second revocation keeps the first time). `None`: no such token.
    pub fn revoke(&self, id: &str, now_ms: i64) -> Result<Option<TokenRow>> {
        self.db.lock().execute(
            "UPDATE api_tokens SET revoked_ms = ?2 WHERE id = ?1 AND revoked_ms IS NULL",
            params![id, now_ms],
        )?;
        self.get(id)
    }

    /// Records a use of the token (the time only moves forward).
    pub fn touch(&self, id: &str, now_ms: i64) -> Result<()> {
        self.db.lock().execute(
            "UPDATE api_tokens SET last_used_ms = ?2 WHERE id = ?1 AND (last_used_ms IS NULL OR last_used_ms < ?2)",
            params![id, now_ms],
        )?;
        Ok(())
    }
}
