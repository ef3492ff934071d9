//! Small helpers for running commands and reporting steps.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Instant;

pub type Result<T = ()> = std::result::Result<T, String>;

/// The repository root (the parent of xtask/).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the repository").to_path_buf()
}

/// Prints a step header and times it.
pub struct Step {
    name: String,
    started: Instant,
}

impl Step {
    pub fn start(name: &str) -> Step {
        eprintln!("\n==> {name}");
        Step { name: name.to_string(), started: Instant::now() }
    }

    pub fn done(self) {
        eprintln!("<== {} ({:.1} s)", self.name, self.started.elapsed().as_secs_f64());
    }
}

pub fn describe(cmd: &Command) -> String {
    let mut text = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

/// Runs a command with inherited output; fails with the command line on a non-zero exit.
pub fn run(cmd: &mut Command) -> Result {
    let status = status(cmd)?;
    if status.success() { Ok(()) } else { Err(format!("`{}` failed ({status})", describe(cmd))) }
}

pub fn status(cmd: &mut Command) -> Result<ExitStatus> {
    eprintln!("$ {}", describe(cmd));
    cmd.status().map_err(|e| format!("cannot run `{}`: {e}", describe(cmd)))
}

/// Runs a command and returns its stdout.
pub fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd.stderr(Stdio::inherit()).output().map_err(|e| format!("cannot run `{}`: {e}", describe(cmd)))?;
    if !out.status.success() {
        return Err(format!("`{}` failed ({})", describe(cmd), out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

/// Whether a program is on PATH.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| p.is_file())
}

/// Lists files under `dir` (relative paths, sorted).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(base, &path, out);
            } else if let Ok(rel) = path.strip_prefix(base) {
                out.push(rel.to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// `apt-get` as root (directly, or through password-less sudo), non-interactive and waiting
/// up to 10 minutes for dpkg's lock; `None` when neither root nor sudo is at hand.
pub fn apt_get() -> Option<Command> {
    let mut cmd = if is_root() {
        Command::new("apt-get")
    } else if which("sudo").is_some() && Command::new("sudo").args(["-n", "true"]).status().is_ok_and(|s| s.success()) {
        let mut sudo = Command::new("sudo");
        sudo.args(["-n", "apt-get"]);
        sudo
    } else {
        return None;
    };
    cmd.args(["-o", "DPkg::Lock::Timeout=600"]).env("DEBIAN_FRONTEND", "noninteractive");
    Some(cmd)
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

/// `script` run by `sh -c` inside its own D-Bus session with a fresh, unlocked
/// gnome-keyring (under target/keyring-home): the OS keyring a desktop session would have.
/// A fresh keyring every time: gnome-keyring creates its login keyring with the password it
/// is unlocked with, and an older keyring with another password would stay locked.
pub fn in_keyring_session(script: &str) -> Result<Command> {
    let home = root().join("target/keyring-home");
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).map_err(|e| format!("{}: {e}", home.display()))?;
    let mut cmd = Command::new("dbus-run-session");
    cmd.args([
        "--",
        "sh",
        "-c",
        &format!("echo -n switchyard | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec {script}"),
    ])
    .env("XDG_DATA_HOME", home.join("share"))
    .env("XDG_CONFIG_HOME", home.join("config"));
    Ok(cmd)
}

/// The path of a binary that `cargo test --workspace` builds (an integration test, `kind`
/// "test", or an example, "example") of a workspace package, from cargo's JSON messages.
/// Built with the workspace's features, so nothing is rebuilt: `cargo test -p PACKAGE` or
/// `cargo run -p PACKAGE` would resolve that package's features on their own and rebuild
/// ~140 crates.
pub fn workspace_binary(package: &str, kind: &str, name: &str) -> Result<PathBuf> {
    let messages = output(cargo().args(["test", "--workspace", "--no-run", "--message-format=json"]))?;
    // Package ids read `path+file:///…#switchyard-vault@0.1.0` (older cargo: `switchyard-vault 0.1.0 (…)`).
    let package_marker = format!("#{package}@");
    let package_marker_old = format!("\"package_id\":\"{package} ");
    let target_marker = format!("\"kind\":[\"{kind}\"],\"crate_types\":[\"bin\"],\"name\":\"{name}\"");
    messages
        .lines()
        .filter(|l| l.contains("\"reason\":\"compiler-artifact\""))
        .filter(|l| l.contains(&package_marker) || l.contains(&package_marker_old))
        .filter(|l| l.contains(&target_marker))
        .find_map(|l| json_string_field(l, "executable"))
        .map(PathBuf::from)
        .ok_or_else(|| format!("cargo built no {kind} `{name}` of {package}"))
}

/// The value of `"field":"…"` in one line of JSON (no escapes other than `\\` and `\"`).
fn json_string_field(line: &str, field: &str) -> Option<String> {
    let start = line.find(&format!("\"{field}\":\""))? + field.len() + 4;
    let mut out = String::new();
    let mut chars = line[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => out.push(chars.next()?),
            c => out.push(c),
        }
    }
    None
}
