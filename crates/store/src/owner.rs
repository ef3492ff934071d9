//! Which process owns a running execution. Each open store holds an exclusive lock on a file
//! of its own (`<database>-owners/<token>.lock`) for as long as it is open, and records its
//! token with the runs it starts. A run whose owner's file is no longer locked was left by a
//! process that ended (crashed, killed, power cut): it is marked interrupted. File locks work
//! on every OS (flock, LockFileEx) and, unlike process ids, are never reused.

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

/// This process's claim on its runs: the locked file, unlocked and removed when dropped.
#[derive(Debug)]
pub(crate) struct Owner {
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

impl Owner {
    /// Creates and locks a file of this store's own.
    pub(crate) fn claim(db_path: &Path) -> Result<Owner> {
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
        Ok(Owner { token, path, file })
    }

    pub(crate) fn token(&self) -> &str {
        &self.token
    }
}

impl Drop for Owner {
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
