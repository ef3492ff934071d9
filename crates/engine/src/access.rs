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
    /// Uses an account's secret outside an HTTP request (a program's environment, an HMAC
    /// key), where the account's allowed hosts cannot follow it. The target is the account
    /// as the node names it: `connection` (its default account) or `connection/label`.
    Secret,
    /// Calls another workflow (which then runs with the user's accounts and access): the
    /// target is a saved workflow's id, or a workflow file's path as the node writes it.
    Call,
}

impl AccessKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessKind::Command => "command",
            AccessKind::Read => "read",
            AccessKind::Write => "write",
            AccessKind::Secret => "secret",
            AccessKind::Call => "call",
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

    /// The access a path parameter's text names: like [`Access::new`], with `~/` as the home
    /// folder, so that the pattern compares with the paths the node will use.
    pub fn path(kind: AccessKind, text: &str) -> Access {
        let pattern = pattern_of(text);
        let expanded = expand_home(&pattern).to_string_lossy().into_owned();
        Access { kind, pattern: expanded }
    }

    /// The access of a node that hands out the secret of the account `reference` names.
    pub fn secret(reference: &switchyard_model::CredentialRef) -> Access {
        Access { kind: AccessKind::Secret, pattern: secret_target(reference) }
    }

    /// Whether `value` (a program or path as the node is about to use it) is within this.
    pub fn covers(&self, kind: AccessKind, value: &str) -> bool {
        self.kind == kind
            && match kind {
                AccessKind::Command => matches(&self.pattern, value),
                AccessKind::Secret => self.pattern == value,
                AccessKind::Call if is_workflow_id(&self.pattern) => self.pattern == value,
                AccessKind::Call => path_matches(&self.pattern, value),
                AccessKind::Read | AccessKind::Write => path_matches(&self.pattern, value),
            }
    }
}

/// A pattern for a parameter's text: the text itself, or, when part of it is computed while
/// running (`{{ … }}`), its fixed beginning and `**` (any value starting so).
pub fn pattern_of(text: &str) -> String {
    let text = text.trim();
    match text.find("{{") {
        Some(at) => format!("{}**", &text[..at]),
        None => text.to_string(),
    }
}

/// Whether a call's target is a saved workflow's id (letters, digits, `-` and `_`) rather
/// than a file's path.
pub fn is_workflow_id(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// An account as a [`AccessKind::Secret`] access names it: `connection` for the type's
/// default account, else `connection/label`.
pub fn secret_target(reference: &switchyard_model::CredentialRef) -> String {
    match &reference.account {
        Some(label) => format!("{}/{label}", reference.connection),
        None => reference.connection.clone(),
    }
}

/// Whether a program matches an approved pattern: the same text, or, for a pattern ending
/// in `**`, any program starting so once its `.` and `..` are resolved (so `/usr/bin/**` does
/// not cover `/usr/bin/../../bin/rm`).
pub fn matches(pattern: &str, value: &str) -> bool {
    match pattern.strip_suffix("**") {
        Some(prefix) => !climbs_out(value) && resolve_dots(value).starts_with(prefix),
        None => pattern == value,
    }
}

/// Whether a path matches an approved path pattern, with the path's `.` and `..` resolved:
/// `**` stands for any characters, `*` for any within one folder name, `?` for one.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    if climbs_out(path) {
        return false;
    }
    glob(pattern, &resolve_dots(path))
}

/// A glob match in time proportional to the pattern's length times the value's (patterns
/// come from imported files: no backtracking blow-up).
fn glob(pattern: &str, value: &str) -> bool {
    enum Token {
        Char(char),
        One,
        Any,
        Deep,
        /// `**/`: no folders, or any folders.
        Folders,
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        tokens.push(match chars[i] {
            '*' if chars.get(i + 1) == Some(&'*') && chars.get(i + 2) == Some(&'/') => {
                i += 2;
                Token::Folders
            }
            '*' if chars.get(i + 1) == Some(&'*') => {
                i += 1;
                Token::Deep
            }
            '*' => Token::Any,
            '?' => Token::One,
            c => Token::Char(c),
        });
        i += 1;
    }
    let v: Vec<char> = value.chars().collect();
    let m = v.len();
    // next[j]: tokens[t + 1..] match v[j..]; row[j]: tokens[t..] match v[j..].
    let mut next: Vec<bool> = (0..=m).map(|j| j == m).collect();
    for token in tokens.iter().rev() {
        let mut row = vec![false; m + 1];
        // For `**/`: some later position just after a `/` continues the match.
        let mut after_slash = vec![false; m + 1];
        for j in (0..=m).rev() {
            if j < m {
                after_slash[j] = (v[j] == '/' && next[j + 1]) || after_slash[j + 1];
            }
            row[j] = match token {
                Token::Folders => next[j] || after_slash[j],
                Token::Char(c) => j < m && v[j] == *c && next[j + 1],
                Token::One => j < m && v[j] != '/' && next[j + 1],
                Token::Any => next[j] || (j < m && v[j] != '/' && row[j + 1]),
                Token::Deep => next[j] || (j < m && row[j + 1]),
            };
        }
        next = row;
    }
    next[0]
}

/// `value` with `.` and `..` segments resolved lexically (`/` and `\` both separate).
pub fn resolve_dots(value: &str) -> String {
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

/// A `local_access_refused` error naming what a node may not do and why.
fn refusal(kind: AccessKind, value: &str, why: &str) -> NodeError {
    let verb = match kind {
        AccessKind::Command => "run",
        AccessKind::Read => "read",
        AccessKind::Write => "write",
        AccessKind::Secret => "hand out the secret of",
        AccessKind::Call => "call",
    };
    NodeError::new(ErrorCode::LocalAccessRefused, format!("may not {verb} \"{value}\": {why}"))
        .with_class(ErrorClass::Permanent)
        .with_details(serde_json::json!({ "kind": kind.as_str(), "target": value }))
}

/// `~/…` with the user's home folder; other paths as they are.
pub fn expand_home(text: &str) -> PathBuf {
    let home = || std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE")).map(PathBuf::from);
    match text.strip_prefix("~/").or_else(|| text.strip_prefix("~\\")) {
        Some(rest) => home().map_or_else(|| PathBuf::from(text), |h| h.join(rest)),
        None if text == "~" => home().unwrap_or_else(|| PathBuf::from(text)),
        None => PathBuf::from(text),
    }
}

/// Where a path really is: its longest existing beginning with links followed, then the rest.
pub fn real_location(path: &std::path::Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return rest.iter().rev().fold(real, |p, part: &std::ffi::OsString| p.join(part));
        }
        match (existing.file_name().map(|n| n.to_os_string()), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent.to_path_buf();
            }
            _ => return path.to_path_buf(),
        }
    }
}

impl LocalPolicy {
    /// The path a node may read or write for `text`: `~/` expanded and `.`/`..` resolved; it
    /// must be absolute, inside one of the allowed folders where it really is (links
    /// followed), and within what the user approved. Errors name the path.
    pub fn check_path(&self, kind: AccessKind, text: &str) -> Result<PathBuf, NodeError> {
        let expanded = expand_home(text.trim());
        if !expanded.is_absolute() {
            return Err(refusal(kind, text, "give a full path (starting with / or ~/)"));
        }
        let path = PathBuf::from(resolve_dots(&expanded.to_string_lossy()));
        let shown = path.to_string_lossy().into_owned();
        self.check(kind, &shown)?;
        self.check_roots(kind, &path)?;
        Ok(path)
    }

    /// Fails with `local_access_refused` unless `path` (absolute, dots resolved) is inside
    /// one of the allowed folders where it really is.
    pub fn check_roots(&self, kind: AccessKind, path: &std::path::Path) -> Result<(), NodeError> {
        let shown = path.to_string_lossy().into_owned();
        if !self.roots.is_empty() {
            let real = real_location(path);
            if !self.roots.iter().any(|root| real.starts_with(root)) {
                let roots: Vec<String> = self.roots.iter().map(|r| r.display().to_string()).collect();
                let why = if real == path {
                    format!("it is outside the folders workflows may use ({})", roots.join(", "))
                } else {
                    format!(
                        "it is really {}, outside the folders workflows may use ({})",
                        real.display(),
                        roots.join(", ")
                    )
                };
                return Err(refusal(kind, &shown, &format!("{why}; Settings → Local access")));
            }
        }
        Ok(())
    }

    /// Fails with `local_access_refused`, naming what and why, unless a node may make this
    /// access now.
    pub fn check(&self, kind: AccessKind, value: &str) -> Result<(), NodeError> {
        let refuse = |why: String| Err(refusal(kind, value, &why));
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
        assert_eq!(pattern_of("/data/{{ json.name }}.csv"), "/data/**");
        assert!(matches("/data/**", "/data/x.csv"));
        assert!(!matches("/data/**", "/etc/passwd"));
        assert!(!matches("/data/**", "/data/../etc/passwd"), "dots are resolved first");
        assert!(!matches("/usr/bin/**", "/usr/bin/../../bin/touch"));
        assert!(matches("/data/**", "/data/./in/../x.csv"));
        assert!(!matches("tools/**", "tools/../../x"));
        assert!(matches("backup", "backup"));
        assert!(!matches("ls *.txt", "ls a.txt"), "a program's text is not a glob");
        assert!(!matches("backup", "backup2"));
    }

    #[test]
    fn paths_match_globs_with_dots_resolved() {
        assert!(path_matches("/in/*.csv", "/in/a b.csv"));
        assert!(!path_matches("/in/*.csv", "/in/sub/a.csv"), "* stays in one folder");
        assert!(path_matches("/in/**/*.csv", "/in/sub/deeper/a.csv"));
        assert!(path_matches("/in/**/*.csv", "/in/a.csv"), "**/ may be no folder at all");
        assert!(!path_matches("/in/**/*.csv", "/inx/a.csv"));
        assert!(path_matches("/in/**", "/in/x/y"));
        assert!(!path_matches("/in/**", "/in/../etc/shadow"));
        assert!(path_matches("/in/report-?.txt", "/in/report-1.txt"));
        assert!(!path_matches("/in/report-?.txt", "/in/report-10.txt"));
        assert!(path_matches("/in/résumé *.txt", "/in/résumé final.txt"));
        // Many wildcards against a long value stay fast.
        let pattern = "/**a**a**a**a**a**a**a**a**a**a**a**a**b";
        assert!(!path_matches(pattern, &format!("/{}", "a".repeat(2000))));
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
