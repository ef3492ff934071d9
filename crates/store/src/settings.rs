//! Key/value settings stored as JSON.

use crate::Db;
use crate::error::{Result, StoreError};
use crate::sql::params;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Settings {
    db: Arc<Db>,
}

impl Settings {
    pub(crate) fn new(db: Arc<Db>) -> Settings {
        Settings { db }
    }

    pub fn get(&self, key: &str) -> Result<Option<serde_json::Value>> {
        let text: Option<String> =
            self.db.lock().query_opt("SELECT value FROM settings WHERE key = ?1", params![key], |r| r.get(0))?;
        text.map(|t| {
            serde_json::from_str(&t)
                .map_err(|e| StoreError::Corrupt { what: format!("setting {key}"), message: e.to_string() })
        })
        .transpose()
    }

    pub fn set(&self, key: &str, value: &serde_json::Value) -> Result<()> {
        self.db.lock().execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value.to_string()],
        )?;
        Ok(())
    }

    pub fn all(&self) -> Result<serde_json::Map<String, serde_json::Value>> {
        let rows = self.db.lock().query_map("SELECT key, value FROM settings ORDER BY key", params![], |r| {
            Ok((r.get::<String>(0)?, r.get::<String>(1)?))
        })?;
        let mut out = serde_json::Map::new();
        for (k, v) in rows {
            out.insert(k, serde_json::from_str(&v).unwrap_or(serde_json::Value::String(v)));
        }
        Ok(out)
    }
}
