//! Execute Command: runs a program once per item, with its arguments passed as they are (no
//! shell unless asked for), in a clean environment, with a timeout and an output limit. A
//! stop (timeout, cancel) kills the program and every process it started.

use crate::access::{Access, AccessKind};
use crate::credentials::Secret;
use crate::node::{NodeContext, NodeResult, Outputs};
use crate::registry::NodeEntry;
use std::process::Stdio;
use std::time::{Duration, Instant};
use switchyard_model::descriptor::{CredentialSlot, NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError};
use switchyard_model::item::Item;
use switchyard_model::value::{Object, Value};
use switchyard_model::workflow::{MAIN, Node};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use zeroize::Zeroizing;

pub const TYPE: &str = "shell.exec";

/// Variables a program gets from Switchyard's own environment; everything else it gets is
/// declared on the node.
#[cfg(unix)]
pub const CLEAN_ENV: &[&str] = &["PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR"];
#[cfg(windows)]
pub const CLEAN_ENV: &[&str] = &[
    "PATH",
    "PATHEXT",
    "SYSTEMROOT",
    "SYSTEMDRIVE",
    "WINDIR",
    "COMSPEC",
    "TEMP",
    "TMP",
    "USERPROFILE",
    "USERNAME",
    "APPDATA",
    "LOCALAPPDATA",
    "PROGRAMDATA",
];

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx))).with_access(access)
}

pub fn descriptor() -> NodeDescriptor {
    let mut d = super::descriptor(
        TYPE,
        "Execute Command",
        "Runs a program once per item and emits {exitCode, stdout, stderr, durationMs}. Arguments are passed as they \
         are, without a shell, unless \"Run through the shell\" is on. The program gets a clean environment plus the \
         variables set here.",
        NodeGroup::Action,
        "terminal",
        vec![Port::main()],
        vec![
            ParamSpec::string("command", "Program")
                .required()
                .placeholder("/usr/local/bin/backup")
                .describe("The program to run: a path, or a name looked up in PATH. With the shell on: the script."),
            ParamSpec::list(
                "arguments",
                "Arguments",
                "Add argument",
                vec![ParamSpec::string("value", "Argument").placeholder("{{ json.file }}")],
            )
            .describe("Each is passed as one argument, spaces and quotes included; nothing is expanded."),
            ParamSpec::boolean("useShell", "Run through the shell", false).describe(
                "Runs the program text as a script with /bin/sh -c (cmd /C on Windows); the arguments become $1, $2 …",
            ),
            ParamSpec::string("workingDirectory", "Working folder").placeholder("/home/me/projects"),
            ParamSpec::list(
                "environment",
                "Environment variables",
                "Add variable",
                vec![
                    ParamSpec::string("name", "Name").required().literal().placeholder("BACKUP_TARGET"),
                    ParamSpec::options(
                        "source",
                        "From",
                        &[
                            ("text", "A value"),
                            ("secret", "The secret of the account below"),
                            ("user", "The user name of the account below"),
                        ],
                        "text",
                    ),
                    ParamSpec::string("value", "Value").show_if("source", &["text"]),
                ],
            )
            .describe(
                "Added to a clean environment (PATH, HOME, LANG and a few more are kept from the app's). A secret comes \
                 from the vault as the program starts and is never saved in the workflow.",
            ),
            ParamSpec::string("stdin", "Standard input")
                .placeholder("{{ json.text }}")
                .describe("Text sent to the program."),
            ParamSpec::number("timeout", "Timeout (seconds)").default_value(60).literal().describe(
                "Past it the program and everything it started are stopped; the item fails with timeout. 0: no limit.",
            ),
            ParamSpec::integer("maxOutputKb", "Output kept (KiB)", Some(1.0), Some(65536.0))
                .default_value(1024)
                .literal()
                .describe("Per stream; longer output is cut and marked."),
            ParamSpec::options(
                "nonZero",
                "When it exits with an error status",
                &[("fail", "Fail the item"), ("continue", "Emit the result anyway")],
                "fail",
            ),
        ],
    );
    d.credentials = vec![CredentialSlot {
        name: SECRETS_SLOT.into(),
        label: "Account for secrets".into(),
        connection_types: vec![],
        required: false,
        url_parameter: None,
        per_entry: None,
    }];
    d.per_item_calls = true;
    d
}

/// The credential slot whose account's secret (or user name) environment variables can hold.
pub const SECRETS_SLOT: &str = "secrets";

/// Where an environment variable's value comes from.
#[derive(Clone, Copy, PartialEq)]
enum Source {
    Text,
    Secret,
    User,
}

fn source_of(entry: &serde_json::Value) -> Source {
    match entry.get("source").and_then(|v| v.as_str()) {
        Some("secret") => Source::Secret,
        Some("user") => Source::User,
        _ => Source::Text,
    }
}

/// The account an environment variable takes its value from, if any does.
fn secrets_account(node: &Node) -> Option<&switchyard_model::CredentialRef> {
    let entries = node.parameters.get("environment").and_then(|v| v.as_array())?;
    if entries.iter().all(|e| source_of(e) == Source::Text) {
        return None;
    }
    node.credentials.get(SECRETS_SLOT)
}

/// What the trust review shows and an approval pins: the program, or the script with the
/// shell on.
fn target(node: &Node, command: &str) -> String {
    if node.parameters.get("useShell").and_then(|v| v.as_bool()).unwrap_or(false) {
        format!("sh: {command}")
    } else {
        command.to_string()
    }
}

fn access(node: &Node) -> Vec<Access> {
    let command = node.parameters.get("command").and_then(|v| v.as_str()).unwrap_or("");
    let mut access = vec![Access::new(AccessKind::Command, &target(node, command))];
    // Handed to a program, a secret is beyond its account's allowed hosts.
    access.extend(secrets_account(node).map(Access::secret));
    access
}

/// One run's settings, read once for all items.
struct Settings {
    use_shell: bool,
    timeout: Option<Duration>,
    max_output: usize,
    continue_on_error: bool,
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let p = |name: &str| ctx.raw_param(name);
    let settings = Settings {
        use_shell: p("useShell").as_bool().unwrap_or(false),
        timeout: timeout_of(&p("timeout")),
        max_output: p("maxOutputKb").as_u64().unwrap_or(1024).clamp(1, 65536) as usize * 1024,
        continue_on_error: ctx.choice("nonZero") == "continue",
    };
    let arguments = super::compile_list(ctx, "arguments", "value")?;
    let environment = super::compile_list(ctx, "environment", "value")?;
    let entries = list(ctx, "environment");
    let names: Vec<String> =
        entries.iter().map(|e| e.get("name").and_then(|n| n.as_str()).unwrap_or("").trim().to_string()).collect();
    let sources: Vec<Source> = entries.iter().map(source_of).collect();
    let secret = account_secret(ctx, &sources).await?;
    let environment: Vec<Variable> = environment
        .into_iter()
        .zip(&sources)
        .map(|(compiled, source)| match (source, &secret) {
            (Source::Secret, Some(s)) => Variable::Fixed(s.value.clone()),
            (Source::User, Some(s)) => Variable::Fixed(s.user.clone().unwrap_or_default()),
            _ => Variable::Computed(compiled),
        })
        .collect();

    let items = ctx.take_input(0).into_vec();
    let mut out = Outputs::new();
    for (index, item) in items.into_iter().enumerate() {
        ctx.check_cancelled()?;
        match run_one(ctx, &item, index, &settings, &arguments, &names, &environment).await {
            Ok(json) => out.push(MAIN, Item::derived(json, index)),
            Err(error) if error.code == ErrorCode::Cancelled => return Err(error),
            Err(error) => ctx.item_failed(&mut out, item, index, error)?,
        }
    }
    Ok(out)
}

/// An environment variable's value: computed per item, or an account's secret.
enum Variable {
    Computed(std::sync::Arc<crate::expr::Compiled>),
    Fixed(Zeroizing<String>),
}

/// The secret of the account environment variables take values from, when one does: the
/// run's policy must allow handing it out (a workflow from a file: only what was approved).
async fn account_secret(ctx: &NodeContext, sources: &[Source]) -> Result<Option<Secret>, NodeError> {
    let Some(at) = sources.iter().position(|s| *s != Source::Text) else { return Ok(None) };
    let reference = ctx.node.credentials.get(SECRETS_SLOT).ok_or_else(|| {
        NodeError::new(
            ErrorCode::CredentialMissing,
            "an environment variable takes its value from an account, but no account is chosen: pick one under \
             \"Account for secrets\"",
        )
        .with_class(ErrorClass::Permanent)
        .with_parameter(format!("environment[{at}].source"))
    })?;
    ctx.services.local.check(AccessKind::Secret, &crate::access::secret_target(reference))?;
    let provider = ctx.services.credentials.clone().ok_or_else(|| {
        NodeError::new(ErrorCode::CredentialMissing, "no credential vault is available to this run")
            .with_class(ErrorClass::Permanent)
    })?;
    let secret = provider.expose(reference).await?;
    if let Some(i) = sources.iter().position(|s| *s == Source::User)
        && secret.user.is_none()
    {
        return Err(NodeError::new(
            ErrorCode::InvalidParameter,
            format!(
                "account \"{}\" of {} has no user name (only user-and-password accounts do)",
                secret.scope.account, secret.scope.connection
            ),
        )
        .with_class(ErrorClass::Permanent)
        .with_parameter(format!("environment[{i}].source")));
    }
    Ok(Some(secret))
}

/// The timeout parameter: left out, 60 s; 0 (or less): no limit.
fn timeout_of(param: &serde_json::Value) -> Option<Duration> {
    param.as_f64().or(Some(60.0)).filter(|t| t.is_finite() && *t > 0.0).map(Duration::from_secs_f64)
}

fn list(ctx: &NodeContext, name: &str) -> Vec<serde_json::Value> {
    ctx.raw_param(name).as_array().cloned().unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
async fn run_one(
    ctx: &NodeContext,
    item: &Item,
    index: usize,
    settings: &Settings,
    arguments: &[std::sync::Arc<crate::expr::Compiled>],
    names: &[String],
    environment: &[Variable],
) -> Result<Value, NodeError> {
    let eval = |c: &crate::expr::Compiled, parameter: String| {
        ctx.evaluator()
            .eval(c, item, index)
            .map(|v| v.to_text())
            .map_err(|e| NodeError::new(e.code(), e.message).with_parameter(parameter).with_item(index))
    };
    let command = ctx.eval("command", item, index)?.to_text();
    if command.trim().is_empty() {
        return Err(NodeError::new(ErrorCode::InvalidParameter, "the program is empty")
            .with_parameter("command")
            .with_item(index));
    }
    ctx.services.local.check(AccessKind::Command, &target(&ctx.node, &command)).map_err(|e| e.with_item(index))?;
    let args = arguments
        .iter()
        .enumerate()
        .map(|(i, c)| eval(c, format!("arguments[{i}].value")))
        .collect::<Result<Vec<_>, _>>()?;
    let mut cmd = if settings.use_shell { shell(&command) } else { tokio::process::Command::new(&command) };
    cmd.args(&args);
    cmd.env_clear();
    for name in CLEAN_ENV {
        if let Some(value) = std::env::var_os(name) {
            cmd.env(name, value);
        }
    }
    for (i, (name, value)) in names.iter().zip(environment).enumerate() {
        if name.is_empty() || name.contains('=') || name.contains('\0') {
            return Err(NodeError::new(ErrorCode::InvalidParameter, format!("\"{name}\" is not a variable name"))
                .with_parameter(format!("environment[{i}].name"))
                .with_item(index));
        }
        match value {
            Variable::Computed(compiled) => cmd.env(name, eval(compiled, format!("environment[{i}].value"))?),
            Variable::Fixed(secret) => cmd.env(name, secret.as_str()),
        };
    }
    let folder = ctx.eval("workingDirectory", item, index)?.to_text();
    if !folder.trim().is_empty() {
        if !std::path::Path::new(&folder).is_dir() {
            return Err(NodeError::new(
                ErrorCode::InvalidParameter,
                format!("the working folder \"{folder}\" does not exist"),
            )
            .with_parameter("workingDirectory")
            .with_item(index));
        }
        cmd.current_dir(&folder);
    }
    let stdin = match ctx.raw_param("stdin") {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) if s.is_empty() => None,
        _ => Some(ctx.eval("stdin", item, index)?.to_text()),
    };
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    // Its own process group, so that a stop reaches everything it started.
    #[cfg(unix)]
    cmd.process_group(0);
    #[cfg(windows)]
    cmd.creation_flags(0x0000_0200); // CREATE_NEW_PROCESS_GROUP

    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|e| {
        NodeError::new(ErrorCode::CommandFailed, format!("cannot start \"{command}\": {e}"))
            .with_class(ErrorClass::Permanent)
            .with_parameter("command")
            .with_item(index)
    })?;
    let pid = child.id();
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A program that does not read its input must not block the run: written aside.
        tokio::spawn(async move {
            let _ = pipe.write_all(text.as_bytes()).await;
        });
    }
    let stdout = tokio::spawn(read_limited(child.stdout.take(), settings.max_output));
    let stderr = tokio::spawn(read_limited(child.stderr.take(), settings.max_output));
    let sleep = async {
        match settings.timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    let stopped = tokio::select! {
        status = child.wait() => Ok(status),
        () = sleep => Err(ErrorCode::Timeout),
        () = ctx.cancel.cancelled() => Err(ErrorCode::Cancelled),
    };
    let status = match stopped {
        Ok(status) => status.map_err(|e| {
            NodeError::new(ErrorCode::CommandFailed, format!("\"{command}\" could not be waited for: {e}"))
                .with_item(index)
        })?,
        Err(code) => {
            kill_group(pid, &mut child).await;
            stdout.abort();
            stderr.abort();
            let message = if code == ErrorCode::Timeout {
                format!(
                    "\"{command}\" ran longer than its timeout of {} s and was stopped, with every process it started",
                    settings.timeout.map_or(0.0, |t| t.as_secs_f64())
                )
            } else {
                format!("\"{command}\" was stopped with every process it started: the run was cancelled")
            };
            let class = if code == ErrorCode::Timeout { ErrorClass::Timeout } else { ErrorClass::Permanent };
            return Err(NodeError::new(code, message).with_class(class).with_item(index));
        }
    };
    // The program ended; anything it left running in its group goes with it, so its output
    // pipes close.
    kill_group(pid, &mut child).await;
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let (out_text, err_text) = (stdout.await.unwrap_or_default(), stderr.await.unwrap_or_default());
    let code = status.code();
    if !status.success() && !settings.continue_on_error {
        let last = err_text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
        let how = match code {
            Some(c) => format!("exited with status {c}"),
            None => "was ended by a signal".to_string(),
        };
        let tail =
            if last.is_empty() { String::new() } else { format!(": {}", last.chars().take(300).collect::<String>()) };
        return Err(NodeError::new(ErrorCode::CommandFailed, format!("\"{command}\" {how}{tail}"))
            .with_class(ErrorClass::Permanent)
            .with_item(index)
            .with_details(serde_json::json!({ "exitCode": code, "stderr": err_text, "stdout": out_text })));
    }
    let mut json = Object::new();
    json.insert("exitCode", code.map_or(Value::Null, |c| Value::from(i64::from(c))));
    json.insert("stdout", Value::from(out_text));
    json.insert("stderr", Value::from(err_text));
    json.insert("durationMs", Value::from(i64::try_from(duration_ms).unwrap_or(i64::MAX)));
    Ok(Value::object(json))
}

/// The shell that runs a script: `/bin/sh -c SCRIPT sh ARGS…` (so the arguments are `$1`…),
/// or `cmd /C SCRIPT ARGS…` on Windows.
fn shell(script: &str) -> tokio::process::Command {
    #[cfg(windows)]
    {
        let mut cmd = tokio::process::Command::new("cmd");
        cmd.arg("/C").arg(script);
        cmd
    }
    #[cfg(not(windows))]
    {
        let mut cmd = tokio::process::Command::new("/bin/sh");
        cmd.arg("-c").arg(script).arg("sh");
        cmd
    }
}

/// Stops the program and its process group (everything it started that stayed in it).
async fn kill_group(pid: Option<u32>, child: &mut tokio::process::Child) {
    #[cfg(unix)]
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    }
    #[cfg(windows)]
    if let Some(pid) = pid {
        // The whole tree: taskkill follows parent links, which process groups do not give here.
        let _ = tokio::process::Command::new("taskkill").args(["/T", "/F", "/PID", &pid.to_string()]).status().await;
    }
    let _ = child.kill().await;
}

/// A stream's text, keeping the first `limit` bytes and reading (and counting) the rest so
/// the program never blocks on a full pipe; cut output ends with a marker.
async fn read_limited(stream: Option<impl AsyncRead + Unpin>, limit: usize) -> String {
    let Some(mut stream) = stream else { return String::new() };
    let mut kept = Vec::new();
    let mut total = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                total += n;
                if kept.len() < limit {
                    let take = n.min(limit - kept.len());
                    kept.extend_from_slice(&buf[..take]);
                }
            }
        }
    }
    let mut text = String::from_utf8_lossy(&kept).into_owned();
    if total > kept.len() {
        text.push_str(&format!("\n[… output cut: {total} bytes, the first {} kept]", kept.len()));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_left_out_is_a_minute_and_zero_is_none() {
        assert_eq!(timeout_of(&serde_json::Value::Null), Some(Duration::from_secs(60)));
        assert_eq!(timeout_of(&serde_json::json!(2.5)), Some(Duration::from_millis(2500)));
        assert_eq!(timeout_of(&serde_json::json!(0)), None);
    }
}
