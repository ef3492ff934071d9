//! Vault rows: the header and accounts. This module only moves sealed bytes; sealing and
//! opening happen in crates/vault, so nothing here ever sees a secret in plaintext.

use crate::Db;
use crate::error::{Result, StoreError};
use crate::sql::{Backend, Row, SqlResult, params};
use std::sync::Arc;

/// The vault's single header row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultHeaderRow {
    pub vault_id: String,
    /// `keyring` or `password`.
    pub key_source: String,
    pub key_id: String,
    /// Argon2id parameters and salt as JSON (password source only).
    pub kdf: Option<String>,
    pub wrapped_key: Option<Vec<u8>>,
    pub check_value: Vec<u8>,
    pub created_at: String,
    pub updated_at: String,
    /// Which master key seals the accounts; one more with every rotation.
    pub generation: i64,
    /// The master key sealed under the recovery key's derived key, when there is one.
    pub recovery_wrapped: Option<Vec<u8>>,
    /// The recovery key's derived key sealed under the master key (to re-wrap on rotation).
    pub recovery_sealed: Option<Vec<u8>>,
    pub recovery_created_at: Option<String>,
}

/// One account row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRow {
    pub id: String,
    pub connection_type: String,
    pub label: String,
    pub is_default: bool,
    pub status: String,
    pub sealed: Vec<u8>,
    pub token_expires_at: Option<String>,
    /// The last "Test connection" outcome as JSON.
    pub last_test: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

const ACCOUNT_COLUMNS: &str =
    "id, connection_type, label, is_default, status, sealed, token_expires_at, last_test, created_at, updated_at";

fn account(row: &Row) -> SqlResult<AccountRow> {
    Ok(AccountRow {
        id: row.get(0)?,
        connection_type: row.get(1)?,
        label: row.get(2)?,
        is_default: row.get(3)?,
        status: row.get(4)?,
        sealed: row.get(5)?,
        token_expires_at: row.get(6)?,
        last_test: row.get(7)?,
        created_at: row.get(8)?,
        updated_at: row.get(9)?,
    })
}

fn write_header(conn: &mut dyn Backend, header: &VaultHeaderRow) -> Result<()> {
    let n = conn.execute(
        "UPDATE vault_header SET key_source = ?1, key_id = ?2, kdf = ?3, wrapped_key = ?4, check_value = ?5,
         updated_at = ?6, generation = ?7, recovery_wrapped = ?8, recovery_sealed = ?9, recovery_created_at = ?10
         WHERE id = 1",
        params![
            header.key_source,
            header.key_id,
            header.kdf,
            header.wrapped_key,
            header.check_value,
            header.updated_at,
            header.generation,
            header.recovery_wrapped,
            header.recovery_sealed,
            header.recovery_created_at
        ],
    )?;
    if n != 1 {
        return Err(StoreError::Corrupt { what: "vault header".into(), message: "missing".into() });
    }
    Ok(())
}

/// Fails with [`StoreError::StaleKey`] unless `generation` is the stored key generation.
fn check_generation(conn: &mut dyn Backend, generation: i64) -> Result<()> {
    let stored: i64 = conn.query_row("SELECT generation FROM vault_header WHERE id = 1", params![], |r| r.get(0))?;
    if stored != generation {
        return Err(StoreError::StaleKey { stored, expected: generation });
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct Secrets {
    db: Arc<Db>,
}

impl Secrets {
    pub(crate) fn new(db: Arc<Db>) -> Secrets {
        Secrets { db }
    }

    pub fn header(&self) -> Result<Option<VaultHeaderRow>> {
        let mut conn = self.db.lock();
        Ok(conn.query_opt(
            "SELECT vault_id, key_source, key_id, kdf, wrapped_key, check_value, created_at, updated_at, generation,
                        recovery_wrapped, recovery_sealed, recovery_created_at
                 FROM vault_header WHERE id = 1",
            params![],
            |r| {
                Ok(VaultHeaderRow {
                    vault_id: r.get(0)?,
                    key_source: r.get(1)?,
                    key_id: r.get(2)?,
                    kdf: r.get(3)?,
                    wrapped_key: r.get(4)?,
                    check_value: r.get(5)?,
                    created_at: r.get(6)?,
                    updated_at: r.get(7)?,
                    generation: r.get(8)?,
                    recovery_wrapped: r.get(9)?,
                    recovery_sealed: r.get(10)?,
                    recovery_created_at: r.get(11)?,
                })
            },
        )?)
    }

    /// Creates the header. Fails if the vault already has one (two processes creating a
    /// vault at once must not both win).
    pub fn create_header(&self, h: &VaultHeaderRow) -> Result<()> {
        let n = self.db.lock().execute(
            "INSERT INTO vault_header (id, vault_id, key_source, key_id, kdf, wrapped_key, check_value, created_at,
                 updated_at, generation, recovery_wrapped, recovery_sealed, recovery_created_at)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT DO NOTHING",
            params![
                h.vault_id,
                h.key_source,
                h.key_id,
                h.kdf,
                h.wrapped_key,
                h.check_value,
                h.created_at,
                h.updated_at,
                h.generation,
                h.recovery_wrapped,
                h.recovery_sealed,
                h.recovery_created_at
            ],
        )?;
        if n == 0 {
            return Err(StoreError::AlreadyExists("vault header".into()));
        }
        Ok(())
    }

    /// Replaces the header (its generation one more than `from_generation`) and every
    /// account's sealed secrets, re-sealed by `reseal` from the rows as they are inside the
    /// same write transaction: no other process can refresh a token or add an account
    /// between the read and the write, and each row is still swapped only if unchanged.
    /// `read_recovery` is the recovery key's wrapping (`recovery_sealed`) as the caller read
    /// it: if another process made a new recovery key since, nothing is written
    /// ([`StoreError::RecoveryChanged`]). Returns how many accounts were re-sealed.
    pub fn replace_key(
        &self,
        header: &VaultHeaderRow,
        from_generation: i64,
        read_recovery: Option<&[u8]>,
        reseal: &mut dyn FnMut(&AccountRow) -> Result<Vec<u8>>,
    ) -> Result<u32> {
        let mut conn = self.db.lock();
        let mut tx = conn.transaction()?;
        check_generation(&mut *tx, from_generation)?;
        // The recovery wrapping was re-made for the recovery key the caller read; a new one
        // made since (another process) must not be overwritten with the old one. Compared by
        // the sealed bytes (a random nonce each: unique per key), not by the time, which two
        // recovery keys made within a millisecond share.
        let recovery: Option<Vec<u8>> =
            tx.query_row("SELECT recovery_sealed FROM vault_header WHERE id = 1", params![], |r| r.get(0))?;
        if recovery.as_deref() != read_recovery {
            return Err(StoreError::RecoveryChanged);
        }
        let rows = tx.query_map(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts"), params![], account)?;
        for row in &rows {
            let sealed = reseal(row)?;
            let n = tx.execute(
                "UPDATE accounts SET sealed = ?3 WHERE id = ?1 AND sealed = ?2",
                params![row.id, row.sealed, sealed],
            )?;
            if n != 1 {
                return Err(StoreError::Corrupt {
                    what: format!("account {}", row.id),
                    message: "changed during the rotation".into(),
                });
            }
        }
        write_header(&mut *tx, header)?;
        tx.commit()?;
        Ok(rows.len() as u32)
    }

    /// Changes how the same master key is kept (e.g. a new master password); records are
    /// untouched. Refused with `StaleKey` when the key was rotated since `header` was read.
    pub fn update_header(&self, header: &VaultHeaderRow) -> Result<()> {
        let mut conn = self.db.lock();
        let mut tx = conn.transaction()?;
        check_generation(&mut *tx, header.generation)?;
        write_header(&mut *tx, header)?;
        tx.commit()?;
        Ok(())
    }

    pub fn accounts(&self) -> Result<Vec<AccountRow>> {
        Ok(self.db.lock().query_map(
            &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY connection_type, label"),
            params![],
            account,
        )?)
    }

    pub fn account(&self, id: &str) -> Result<Option<AccountRow>> {
        Ok(self.db.lock().query_opt(
            &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?1"),
            params![id],
            account,
        )?)
    }

    /// The account of a type with this label, or the type's default when `label` is None.
    pub fn find(&self, connection_type: &str, label: Option<&str>) -> Result<Option<AccountRow>> {
        let mut conn = self.db.lock();
        let row = match label {
            Some(label) => conn.query_opt(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE connection_type = ?1 AND label = ?2"),
                params![connection_type, label],
                account,
            )?,
            None => conn.query_opt(
                &format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE connection_type = ?1
                         ORDER BY is_default DESC, created_at LIMIT 1"
                ),
                params![connection_type],
                account,
            )?,
        };
        Ok(row)
    }

    /// Inserts an account sealed with key `generation`; the first account of a type becomes
    /// its default.
    pub fn insert_account(&self, row: &AccountRow, generation: i64) -> Result<()> {
        let mut conn = self.db.lock();
        let mut tx = conn.transaction()?;
        check_generation(&mut *tx, generation)?;
        let exists: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM accounts WHERE connection_type = ?1 AND label = ?2)",
            params![row.connection_type, row.label],
            |r| r.get(0),
        )?;
        if exists {
            return Err(StoreError::AlreadyExists(format!("account \"{}\" of {}", row.label, row.connection_type)));
        }
        let first: bool = tx.query_row(
            "SELECT NOT EXISTS (SELECT 1 FROM accounts WHERE connection_type = ?1)",
            params![row.connection_type],
            |r| r.get(0),
        )?;
        tx.execute(
            &format!("INSERT INTO accounts ({ACCOUNT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
            params![
                row.id,
                row.connection_type,
                row.label,
                row.is_default || first,
                row.status,
                row.sealed,
                row.token_expires_at,
                row.last_test,
                row.created_at,
                row.updated_at
            ],
        )?;
        if row.is_default && !first {
            tx.execute(
                "UPDATE accounts SET is_default = CASE WHEN id = ?1 THEN 1 ELSE 0 END WHERE connection_type = ?2",
                params![row.id, row.connection_type],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Replaces an account's sealed secrets (sealed with key `generation`) only if they are
    /// still `expected` (compare and swap), so a rotated refresh token is never overwritten
    /// by an older one. False when they changed; `StaleKey` when the key did.
    #[allow(clippy::too_many_arguments)]
    pub fn swap_sealed(
        &self,
        id: &str,
        expected: &[u8],
        sealed: &[u8],
        status: &str,
        token_expires_at: Option<&str>,
        now: &str,
        generation: i64,
    ) -> Result<bool> {
        let mut conn = self.db.lock();
        let mut tx = conn.transaction()?;
        check_generation(&mut *tx, generation)?;
        let n = tx.execute(
            "UPDATE accounts SET sealed = ?3, status = ?4, token_expires_at = ?5, updated_at = ?6
             WHERE id = ?1 AND sealed = ?2",
            params![id, expected, sealed, status, token_expires_at, now],
        )?;
        tx.commit()?;
        Ok(n == 1)
    }

    pub fn set_status(&self, id: &str, status: &str, now: &str) -> Result<()> {
        self.update(id, "UPDATE accounts SET status = ?2, updated_at = ?3 WHERE id = ?1", params![id, status, now])
    }

    pub fn set_last_test(&self, id: &str, outcome_json: &str) -> Result<()> {
        self.update(id, "UPDATE accounts SET last_test = ?2 WHERE id = ?1", params![id, outcome_json])
    }

    pub fn rename(&self, id: &str, label: &str, now: &str) -> Result<()> {
        let result = self
            .db
            .lock()
            .execute("UPDATE accounts SET label = ?2, updated_at = ?3 WHERE id = ?1", params![id, label, now]);
        match result {
            Ok(0) => Err(StoreError::Corrupt { what: format!("account {id}"), message: "not found".into() }),
            Ok(_) => Ok(()),
            Err(e) if e.is_constraint() => Err(StoreError::AlreadyExists(format!("account \"{label}\""))),
            Err(e) => Err(e.into()),
        }
    }

    /// Makes an account its type's only default.
    pub fn set_default(&self, id: &str) -> Result<()> {
        let n = self.db.lock().execute(
            "UPDATE accounts SET is_default = CASE WHEN id = ?1 THEN 1 ELSE 0 END
             WHERE connection_type = (SELECT connection_type FROM accounts WHERE id = ?1)",
            params![id],
        )?;
        if n == 0 {
            return Err(StoreError::Corrupt { what: format!("account {id}"), message: "not found".into() });
        }
        Ok(())
    }

    /// Deletes an account; if it was the default, the oldest remaining one of its type
    /// becomes the default.
    pub fn delete_account(&self, id: &str) -> Result<bool> {
        let mut conn = self.db.lock();
        let mut tx = conn.transaction()?;
        let row: Option<(String, bool)> =
            tx.query_opt("SELECT connection_type, is_default FROM accounts WHERE id = ?1", params![id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        let Some((connection_type, was_default)) = row else { return Ok(false) };
        tx.execute("DELETE FROM accounts WHERE id = ?1", params![id])?;
        if was_default {
            tx.execute(
                "UPDATE accounts SET is_default = 1 WHERE id =
                 (SELECT id FROM accounts WHERE connection_type = ?1 ORDER BY created_at LIMIT 1)",
                params![connection_type],
            )?;
        }
        tx.commit()?;
        Ok(true)
    }

    fn update(&self, id: &str, sql: &str, params: &[&dyn crate::sql::ToParam]) -> Result<()> {
        let n = self.db.lock().execute(sql, params)?;
        if n == 0 {
            return Err(StoreError::Corrupt { what: format!("account {id}"), message: "not found".into() });
        }
        Ok(())
    }
}
