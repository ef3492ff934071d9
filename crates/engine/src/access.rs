//! Local access: what a node reaches on this machine (programs it runs, paths it reads or
//! writes), as its parameters say before it runs, and the policy a run enforces while it
//! runs. A node type declares its access through [`crate::NodeEntry::with_access`]; the API
//! shows it in the trust review, and a run of an imported workflow may only reach what the
//! user approved there (docs/local-io.md).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError};

/// What kind of local access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AccessKind {
    /// Runs a program (or a shell script: the target is then the shell).
    Command,
    Read,
    Write,
}

impl AccessKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessKind::Command => "command",
            AccessKind::Read => "read",
            AccessKind::Write => "write",
        }
    }
}

/// One access a node makes: a program or a path, as a pattern (see [`pattern_of`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Access {
    pub kind: AccessKind,
    pub pattern: String,
}

impl Access {
    /// The access a parameter's text names: a literal is itself, an expression is the text
    /// before its first `{{` followed by `*`.
    pub fn new(kind: AccessKind, text: &str) -> Access {
        Access { kind, pattern: pattern_of(text) }
    }

    /// Whether `value` (a program or path as the node is about to use it) is within this.
    pub fn covers(&self, kind: AccessKind, value: &str) -> bool {
        self.kind == kind && matches(&self.pattern, value)
    }
}

/// A pattern for a parameter's text: the text itself, or, when part of it is computed while
/// running (`{{ … }}`), its fixed beginning and `*` (any value starting so).
pub fn pattern_of(text: &str) -> String {
    let text = text.trim();
    match text.find("{{") {
        Some(at) => format!("{}*", &text[..at]),
        None => text.to_string(),
    }
}

/// Whether `value` matches `pattern` (exact, or a prefix when the pattern ends with `*`).
/// A computed value is compared with its `.` and `..` resolved, so `/data/../etc/passwd` is
/// not under `/data/`.
pub fn matches(pattern: &str, value: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => resolve_dots(value).starts_with(prefix) && !climbs_out(value),
        None => pattern == value,
    }
}

/// `value` with `.` and `..` segments resolved lexically (`/` and `\` both separate).
fn resolve_dots(value: &str) -> String {
    let absolute = value.starts_with('/') || value.starts_with('\\');
    let mut parts: Vec<&str> = Vec::new();
    for part in value.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    let trailing = value.ends_with('/') || value.ends_with('\\');
    match (absolute, trailing && !joined.is_empty()) {
        (true, true) => format!("/{joined}/"),
        (true, false) => format!("/{joined}"),
        (false, true) => format!("{joined}/"),
        (false, false) => joined,
    }
}

/// Whether a relative value's `..` would leave where it starts (`../x`).
fn climbs_out(value: &str) -> bool {
    let mut depth = 0i32;
    for part in value.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

/// What runs may reach on this machine.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalPolicy {
    /// Whether nodes may run programs at all (Settings → "Local access").
    pub commands: bool,
    /// Folders file nodes may use (Settings → "Local access"); empty: the home folder.
    pub roots: Vec<PathBuf>,
    /// The access the user approved for this workflow, when it came from someone else;
    /// `None` for the user's own workflows.
    pub approved: Option<Vec<Access>>,
    /// Why nothing local may be reached at all (a workflow imported and not trusted yet).
    pub refused: Option<String>,
}

impl Default for LocalPolicy {
    fn default() -> LocalPolicy {
        LocalPolicy { commands: true, roots: Vec::new(), approved: None, refused: None }
    }
}

impl LocalPolicy {
    /// Fails with `local_access_refused`, naming what and why, unless a node may make this
    /// access now.
    pub fn check(&self, kind: AccessKind, value: &str) -> Result<(), NodeError> {
        let what = match kind {
            AccessKind::Command => format!("run \"{value}\""),
            AccessKind::Read => format!("read \"{value}\""),
            AccessKind::Write => format!("write \"{value}\""),
        };
        let refuse = |why: String| {
            Err(NodeError::new(ErrorCode::LocalAccessRefused, format!("may not {what}: {why}"))
                .with_class(ErrorClass::Permanent)
                .with_details(serde_json::json!({ "kind": kind.as_str(), "target": value })))
        };
        if let Some(why) = &self.refused {
            return refuse(why.clone());
        }
        if kind == AccessKind::Command && !self.commands {
            return refuse("running programs is turned off (Settings → Local access)".into());
        }
        if let Some(approved) = &self.approved
            && !approved.iter().any(|a| a.covers(kind, value))
        {
            return refuse(
                "the workflow came from a file and this is not what was approved for it; review and trust it again"
                    .into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_text_is_exact_and_computed_text_is_a_prefix() {
        assert_eq!(pattern_of(" /usr/bin/backup "), "/usr/bin/backup");
        assert_eq!(pattern_of("/data/{{ json.name }}.csv"), "/data/*");
        assert!(matches("/data/*", "/data/x.csv"));
        assert!(!matches("/data/*", "/etc/passwd"));
        assert!(!matches("/data/*", "/data/../etc/passwd"), "dots are resolved first");
        assert!(!matches("/usr/bin/*", "/usr/bin/../../bin/touch"));
        assert!(matches("/data/*", "/data/./in/../x.csv"));
        assert!(!matches("tools/*", "tools/../../x"));
        assert!(matches("backup", "backup"));
        assert!(!matches("backup", "backup2"));
    }

    #[test]
    fn the_policy_names_what_it_refuses_and_why() {
        let approved = LocalPolicy {
            approved: Some(vec![Access::new(AccessKind::Command, "/usr/bin/backup")]),
            ..LocalPolicy::default()
        };
        assert!(approved.check(AccessKind::Command, "/usr/bin/backup").is_ok());
        let e = approved.check(AccessKind::Command, "/bin/rm").unwrap_err();
        assert_eq!(e.code, ErrorCode::LocalAccessRefused);
        assert!(e.message.contains("may not run \"/bin/rm\""), "{}", e.message);
        let off = LocalPolicy { commands: false, ..LocalPolicy::default() };
        assert!(off.check(AccessKind::Command, "ls").unwrap_err().message.contains("turned off"));
        let refused = LocalPolicy { refused: Some("not trusted yet".into()), ..LocalPolicy::default() };
        assert!(refused.check(AccessKind::Read, "/tmp/x").unwrap_err().message.contains("not trusted yet"));
    }
}
