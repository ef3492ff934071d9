//! Where Switchyard keeps its data.

use std::path::PathBuf;

/// The environment variable that overrides the data folder.
pub const DATA_DIR_ENV: &str = "SWITCHYARD_DATA_DIR";

/// The data folder: `--data-dir`, else `SWITCHYARD_DATA_DIR`, else the OS's per-user data
/// folder (e.g. `~/.local/share/switchyard` on Linux).
pub fn data_dir(explicit: Option<PathBuf>) -> PathBuf {
    if let Some(dir) = explicit {
        return dir;
    }
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    directories::ProjectDirs::from("dev", "Switchyard", "switchyard")
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from(".switchyard"))
}

/// The database file inside a data folder.
pub fn database_path(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("switchyard.db")
}
