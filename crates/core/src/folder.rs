//! Folder watching, as a trigger node describes it (which folder, which files, which
//! changes) and as the watcher reports it: one settled change of one file.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// What a folder trigger watches.
#[derive(Debug, Clone, PartialEq)]
pub struct FolderConfig {
    /// An absolute folder (`~` already expanded).
    pub folder: PathBuf,
    pub recursive: bool,
    /// Which file names count (`*.csv`, `report-??.xlsx`); empty: every file.
    pub pattern: String,
    pub added: bool,
    pub changed: bool,
    pub removed: bool,
    /// How long a file's size and time must stay the same before it counts as written
    /// (a file being copied is not read half-way).
    pub settle: Duration,
    /// On start, report what was added, changed or removed while nothing watched (compared
    /// with what the last watch saw).
    pub catch_up: bool,
}

/// What happened to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Added,
    Changed,
    Removed,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Changed => "changed",
            Change::Removed => "removed",
        }
    }
}

/// One settled change of one file.
#[derive(Debug, Clone, PartialEq)]
pub struct FolderEvent {
    pub change: Change,
    pub path: PathBuf,
    /// Size and modification time as last seen (for a removed file: before it went).
    pub size: u64,
    pub modified: Option<SystemTime>,
    /// Happened while nothing watched (found when the watch started again).
    pub missed: bool,
}

/// Whether a file name matches a pattern: `*` any run of characters, `?` one character,
/// anything else itself; an empty pattern matches every name.
pub fn name_matches(pattern: &str, name: &str) -> bool {
    if pattern.is_empty() {
        return true;
    }
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // Linear-time matching with one backtrack point, as for shell globs.
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(name_matches("*.csv", "a b.csv"));
        assert!(!name_matches("*.csv", "a.csv.part"));
        assert!(name_matches("report-??.xlsx", "report-07.xlsx"));
        assert!(!name_matches("report-??.xlsx", "report-7.xlsx"));
        assert!(name_matches("", "anything"));
        assert!(name_matches("*", ""));
        assert!(!name_matches(&"*a".repeat(30), &"a".repeat(29)));
    }
}
