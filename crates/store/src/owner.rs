//! Which process owns a running execution. Each open store holds a lock of its own for as
//! long as it is open, and records its token with the runs it starts. A run whose owner's
//! lock is no longer held was left by a process that ended (crashed, killed, power cut): it
//! is marked interrupted. Unlike process ids, tokens are never reused.
//!
//! - SQLite: an exclusive lock on a file (`<database>-owners/<token>.lock`); file locks work
//!   on every OS (flock, LockFileEx).
//! - PostgreSQL: a session advisory lock keyed by the token, held by a connection of its own
//!   (the server releases it when that session ends, on whichever machine it was).

use crate::error::{Result, StoreError};
use std::fs::{File, OpenOptions, TryLockError};
use std::hash::BuildHasher;
use std::path::{Path, PathBuf};

/// A name no other process or call makes: the process id and a random number
/// (`1234-9f0c…`), for lock files and temporary files.
pub(crate) fn unique_tag() -> String {
    let random =
        std::collections::hash_map::RandomState::new().hash_one((std::process::id(), std::time::SystemTime::now()));
    format!("{}-{random:016x}", std::process::id())
}

/// This process's claim on its runs.
#[derive(Debug)]
pub(crate) enum Owner {
    File(FileOwner),
    Postgres { token: String, _session: PgSession },
}

/// The connection that holds a PostgreSQL owner's advisory lock (released when it closes).
pub(crate) struct PgSession(#[allow(dead_code)] crate::sql::postgres::Postgres);

impl std::fmt::Debug for PgSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgSession")
    }
}

/// The advisory lock key of an owner token: the first 8 bytes of its SHA-256.
pub(crate) fn advisory_key(token: &str) -> i64 {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_ref()[..8]);
    i64::from_be_bytes(first)
}

impl Owner {
    pub(crate) fn claim(db_path: &Path) -> Result<Owner> {
        FileOwner::claim(db_path).map(Owner::File)
    }

    /// Takes an advisory lock of this store's own, on a connection kept for it.
    pub(crate) fn claim_postgres(url: &str) -> Result<Owner> {
        let mut conn = crate::sql::postgres::Postgres::connect(url)?;
        let token = unique_tag();
        let conn_ref: &mut dyn crate::sql::Backend = &mut conn;
        conn_ref.execute("SELECT pg_advisory_lock(?1)", crate::sql::params![advisory_key(&token)])?;
        Ok(Owner::Postgres { token, _session: PgSession(conn) })
    }

    pub(crate) fn token(&self) -> &str {
        match self {
            Owner::File(file) => &file.token,
            Owner::Postgres { token, .. } => token,
        }
    }

    /// Whether the store that wrote `token` is still open in some process (asked through
    /// `conn`, the store's main connection, for PostgreSQL).
    pub(crate) fn is_alive(&self, conn: &mut dyn crate::sql::Backend, token: &str) -> bool {
        match self {
            Owner::File(file) => is_alive(&file.db_path, token),
            Owner::Postgres { token: own, .. } if own == token => true,
            Owner::Postgres { .. } => {
                let key = advisory_key(token);
                let took =
                    conn.query_row("SELECT pg_try_advisory_lock(?1)", crate::sql::params![key], |r| r.get::<bool>(0));
                match took {
                    // Free: its session ended. Let it go again at once.
                    Ok(true) => {
                        let _ = conn.execute("SELECT pg_advisory_unlock(?1)", crate::sql::params![key]);
                        false
                    }
                    Ok(false) => true,
                    // Cannot tell: do not declare a possibly live run interrupted.
                    Err(_) => true,
                }
            }
        }
    }
}

/// A SQLite store's claim: the locked file, unlocked and removed when dropped.
#[derive(Debug)]
pub(crate) struct FileOwner {
    db_path: PathBuf,
    token: String,
    path: PathBuf,
    file: File,
}

fn owners_dir(db_path: &Path) -> PathBuf {
    let mut name = db_path.file_name().unwrap_or_default().to_os_string();
    name.push("-owners");
    db_path.with_file_name(name)
}

fn lock_path(db_path: &Path, token: &str) -> PathBuf {
    owners_dir(db_path).join(format!("{token}.lock"))
}

impl FileOwner {
    /// Creates and locks a file of this store's own.
    fn claim(db_path: &Path) -> Result<FileOwner> {
        let dir = owners_dir(db_path);
        let io = |source| StoreError::DataDir { path: dir.clone(), source };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let token = unique_tag();
        let path = lock_path(db_path, &token);
        let file = OpenOptions::new().create_new(true).read(true).write(true).open(&path).map_err(io)?;
        file.try_lock().map_err(|e| {
            io(match e {
                TryLockError::Error(e) => e,
                TryLockError::WouldBlock => std::io::Error::other("a new lock file is locked already"),
            })
        })?;
        Ok(FileOwner { db_path: db_path.to_path_buf(), token, path, file })
    }
}

impl Drop for FileOwner {
    fn drop(&mut self) {
        let _ = self.file.unlock();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether the store that wrote `token` is still open in some process. A lock file that can
/// be locked belongs to a process that ended: it is removed.
pub(crate) fn is_alive(db_path: &Path, token: &str) -> bool {
    if token.is_empty() || token.contains(['/', '\\', '.']) {
        return false;
    }
    let path = lock_path(db_path, token);
    match OpenOptions::new().read(true).write(true).open(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        // Cannot tell (permissions…): do not declare a possibly live run interrupted.
        Err(_) => true,
        Ok(file) => match file.try_lock() {
            Ok(()) => {
                drop(file);
                let _ = std::fs::remove_file(&path);
                false
            }
            Err(_) => true,
        },
    }
}

/// Whether any process has the database at `db_path` open now (a lock file of its owners
/// directory is still locked). Lock files of ended processes are removed on the way.
pub(crate) fn any_alive(db_path: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(owners_dir(db_path)) else { return false };
    entries.flatten().any(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        name.strip_suffix(".lock").is_some_and(|token| is_alive(db_path, token))
    })
}
