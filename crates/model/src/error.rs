//! Error codes shared by every layer, so the UI and scripts can react without matching text.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;
use ts_rs::TS;

/// A stable, machine-readable error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    // Workflow files and validation
    InvalidJson,
    InvalidWorkflow,
    /// A workflow id with other characters than letters, digits, - and _ (or over 64).
    InvalidWorkflowId,
    /// A key given twice in one JSON object of a workflow file.
    DuplicateKey,
    UnsupportedFormatVersion,
    DuplicateNodeId,
    DuplicateNodeName,
    UnknownNodeType,
    UnknownNodeVersion,
    MissingParameter,
    InvalidParameter,
    UnknownParameter,
    UnknownOption,
    InvalidExpression,
    UnknownNode,
    UnknownOutput,
    UnknownInput,
    Cycle,
    NoTrigger,
    // Running
    ExpressionFailed,
    /// A value an expression or script built is larger, or nested deeper, than allowed.
    ValueTooLarge,
    NodeFailed,
    HttpStatus,
    HttpRequestFailed,
    Timeout,
    Cancelled,
    ScriptFailed,
    /// A program a node ran exited with a status other than 0.
    CommandFailed,
    /// A file or folder could not be read or written (not there, a folder, no permission,
    /// already there); the message names the path.
    FileError,
    /// An item has no file under the property a node was told to use; the message names
    /// the files it has.
    MissingBinary,
    /// Data could not be converted or parsed as the node was told (CSV, XML, XLSX, HTML,
    /// ZIP, a date); the message says where in the input.
    ConversionFailed,
    /// A circuit breaker is open: calls to the host fail fast until its reset timeout.
    CircuitOpen,
    /// A database or mail server could not be reached, or the connection broke (the
    /// message names the server).
    ConnectionFailed,
    /// A database refused a statement (SQL error, constraint, permission, login); the
    /// message keeps its words and SQLSTATE.
    QueryFailed,
    /// A mail server refused a message, a recipient or the sign-in (the message keeps its
    /// SMTP or IMAP reply); 4xx replies are transient, 5xx permanent.
    MailRejected,
    /// Calls of workflows by workflows nested deeper than Settings → Call depth allows.
    CallDepth,
    /// Workflows call each other in a circle (A calls B calls A); the message names it.
    CallCycle,
    /// A warning: an active workflow still has pinned data, which its triggered runs ignore.
    PinnedData,
    /// A model's answer did not match what the node asked for (not JSON, or not valid for
    /// the node's JSON schema); the message says where. Class `invalid_output`.
    InvalidOutput,
    /// The prompt (with the answer's room) is longer than the model's context window.
    ContextTooLong,
    /// A model server's streamed answer ended before it was complete (no end marker).
    StreamCut,
    /// An AI agent did not give its final answer within its step limit (it kept calling
    /// tools); the message names the tools it called.
    StepLimit,
    /// An AI agent's model calls used more tokens than its budget.
    TokenBudget,
    /// The agents of a consensus orchestration did not agree: no answer had the votes
    /// needed, or answers tied; the error's details hold the vote table.
    NoConsensus,
    // Credentials
    VaultLocked,
    WrongPassword,
    KeyringUnavailable,
    SecretTampered,
    CredentialMissing,
    /// An account's credentials were about to go to a host the account does not allow.
    CredentialHostNotAllowed,
    /// A workflow imported from a file uses accounts but the user has not trusted it yet.
    WorkflowUntrusted,
    /// A node was about to run a program or use a path this run may not reach (turned off in
    /// Settings, or outside what the user approved for an imported workflow).
    LocalAccessRefused,
    NeedsReconnect,
    OAuthFailed,
    SecretsInExport,
    // Updates
    /// An app update was refused before anything was replaced: its signature does not verify
    /// with the release key built into the app (a changed file, another key, no key), or it
    /// is not for this version or installation.
    UpdateRejected,
    // API and storage
    /// The REST API: no token, an unknown one or a revoked one (HTTP 401).
    Unauthorized,
    /// The REST API: the token's scope does not allow this command (HTTP 403).
    Forbidden,
    /// The REST API: too many requests with this token (HTTP 429, with `Retry-After`).
    RateLimited,
    NotFound,
    Conflict,
    BadRequest,
    Storage,
    Io,
    Internal,
}

/// An error with its causes, outermost first: "error sending request: connection refused".
/// The innermost cause often says most; the outer ones say what was being done.
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_string));
        f.write_str(text.as_deref().unwrap_or("internal"))
    }
}

/// What kind of failure a node error is; decides whether a retry can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    Transient,
    Permanent,
    RateLimit,
    Timeout,
    Network,
    /// A model answered, but not in the shape asked for (a JSON schema); another try may
    /// answer better, so retry policies can name it.
    InvalidOutput,
    #[default]
    Unknown,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Transient => "transient",
            ErrorClass::Permanent => "permanent",
            ErrorClass::RateLimit => "rate_limit",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Network => "network",
            ErrorClass::InvalidOutput => "invalid_output",
            ErrorClass::Unknown => "unknown",
        }
    }
}

/// An error raised while running a node, with where it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeError {
    pub code: ErrorCode,
    #[serde(default)]
    pub class: ErrorClass,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub node_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub node_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub parameter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub item_index: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub details: Option<serde_json::Value>,
    /// How long the other side asked us to wait before trying again (Retry-After and
    /// rate-limit reset headers), in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub retry_after_ms: Option<u64>,
}

impl NodeError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> NodeError {
        NodeError {
            code,
            class: ErrorClass::Unknown,
            message: message.into(),
            node_id: None,
            node_name: None,
            parameter: None,
            item_index: None,
            details: None,
            retry_after_ms: None,
        }
    }

    pub fn with_retry_after(mut self, wait: Option<std::time::Duration>) -> Self {
        self.retry_after_ms = wait.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        self
    }

    pub fn with_class(mut self, class: ErrorClass) -> Self {
        self.class = class;
        self
    }

    pub fn with_parameter(mut self, parameter: impl Into<String>) -> Self {
        self.parameter = Some(parameter.into());
        self
    }

    pub fn with_item(mut self, index: usize) -> Self {
        self.item_index = Some(index as u32);
        self
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    /// A one-line description naming node, parameter and item.
    pub fn describe(&self) -> String {
        let mut where_ = Vec::new();
        if let Some(name) = &self.node_name {
            where_.push(format!("node \"{name}\""));
        }
        if let Some(p) = &self.parameter {
            where_.push(format!("parameter \"{p}\""));
        }
        if let Some(i) = self.item_index {
            where_.push(format!("item {i}"));
        }
        if where_.is_empty() {
            format!("{} [{}]", self.message, self.code)
        } else {
            format!("{}: {} [{}]", where_.join(", "), self.message, self.code)
        }
    }
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl std::error::Error for NodeError {}

/// One problem found in a workflow file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValidationIssue {
    pub code: ErrorCode,
    pub message: String,
    /// JSONPath of the offending value, e.g. `$.nodes[2].parameters.url`.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub column: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub node_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub node_name: Option<String>,
}

impl ValidationIssue {
    pub fn new(code: ErrorCode, path: impl Into<String>, message: impl Into<String>) -> Self {
        ValidationIssue {
            code,
            message: message.into(),
            path: path.into(),
            line: None,
            column: None,
            node_id: None,
            node_name: None,
        }
    }

    pub fn at_node(mut self, id: &str, name: &str) -> Self {
        self.node_id = Some(id.to_string());
        if !name.is_empty() {
            self.node_name = Some(name.to_string());
        }
        self
    }

    /// `file:line:column: path (node "Name"): message [code]`
    pub fn render(&self, file: &str) -> String {
        let mut out = String::new();
        if !file.is_empty() {
            out.push_str(file);
            out.push(':');
        }
        if let (Some(l), Some(c)) = (self.line, self.column) {
            out.push_str(&format!("{l}:{c}:"));
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&self.path);
        if let Some(name) = &self.node_name {
            out.push_str(&format!(" (node \"{name}\")"));
        }
        out.push_str(&format!(": {} [{}]", self.message, self.code));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_snake_case() {
        assert_eq!(ErrorCode::DuplicateNodeName.to_string(), "duplicate_node_name");
        assert_eq!(serde_json::to_string(&ErrorClass::RateLimit).unwrap(), "\"rate_limit\"");
    }

    #[test]
    fn issue_renders_with_location() {
        let mut issue =
            ValidationIssue::new(ErrorCode::MissingParameter, "$.nodes[0].parameters.url", "\"URL\" is required")
                .at_node("n1", "Fetch");
        issue.line = Some(4);
        issue.column = Some(9);
        assert_eq!(
            issue.render("wf.json"),
            "wf.json:4:9: $.nodes[0].parameters.url (node \"Fetch\"): \"URL\" is required [missing_parameter]"
        );
    }
}
