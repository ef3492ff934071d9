pub use crate::sql::SqlError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {path}: {source}")]
    Open { path: PathBuf, source: SqlError },
    #[error("cannot connect to the database {url}: {message}")]
    Connect { url: String, message: String },
    #[error("cannot create the data folder {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("the database {path} has schema version {found}, newer than this build knows ({known}); update Switchyard")]
    TooNew { path: String, found: u32, known: u32 },
    #[error("migration {version} failed: {source}")]
    Migration { version: u32, source: SqlError },
    #[error("workflow {0} not found")]
    WorkflowNotFound(String),
    #[error("execution {0} not found")]
    ExecutionNotFound(String),
    #[error("workflow {id} has no saved version {version} (`switchyard versions {id}` lists them)")]
    VersionNotFound { id: String, version: u32 },
    #[error(
        "workflow {id} was changed elsewhere (stored version {stored}, this edit started from {expected}); reload it"
    )]
    Conflict { id: String, stored: u32, expected: u32 },
    #[error("a workflow with id {0} already exists")]
    AlreadyExists(String),
    #[error("stored data is damaged ({what}): {message}")]
    Corrupt { what: String, message: String },
    #[error(
        "the vault key was rotated by another process (key generation {stored}, this process has {expected}); the key must be loaded again"
    )]
    StaleKey { stored: i64, expected: i64 },
    #[error("{0}")]
    HistoryNotWritten(String),
    #[error("the execution log writer stopped: {0}")]
    WriterStopped(String),
    #[error("the vault's recovery key was replaced by another process meanwhile; read the header again")]
    RecoveryChanged,
    #[error("backup: {0}")]
    Backup(String),
    #[error("{0} needs the embedded SQLite store; this one is PostgreSQL ({1})")]
    SqliteOnly(&'static str, String),
    #[error("database error: {0}")]
    Database(#[from] SqlError),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

pub type Result<T> = std::result::Result<T, StoreError>;
