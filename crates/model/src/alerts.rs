//! Alert rules over metrics and the alerts they raise. Pure data; the evaluation lives in
//! `switchyard-metrics`, the loop and the actions in the API.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What a rule watches. Rates and percentiles are over the rule's window; gauges are read
/// as they stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AlertMetric {
    /// Failed runs as a percentage of finished runs (0–100).
    ErrorRate,
    FailedRuns,
    Runs,
    /// Run duration percentiles, in milliseconds.
    P50Ms,
    P95Ms,
    P99Ms,
    Retries,
    /// Webhook requests answered with a 4xx or 5xx status.
    WebhookErrors,
    /// Gauges: runs in progress, runs waiting for a slot, process memory (MiB) and CPU (%).
    ActiveRuns,
    QueueWaiting,
    MemoryMb,
    CpuPercent,
}

impl AlertMetric {
    pub const ALL: [AlertMetric; 12] = [
        AlertMetric::ErrorRate,
        AlertMetric::FailedRuns,
        AlertMetric::Runs,
        AlertMetric::P50Ms,
        AlertMetric::P95Ms,
        AlertMetric::P99Ms,
        AlertMetric::Retries,
        AlertMetric::WebhookErrors,
        AlertMetric::ActiveRuns,
        AlertMetric::QueueWaiting,
        AlertMetric::MemoryMb,
        AlertMetric::CpuPercent,
    ];

    /// The name used in files, the CLI and the UI.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertMetric::ErrorRate => "errorRate",
            AlertMetric::FailedRuns => "failedRuns",
            AlertMetric::Runs => "runs",
            AlertMetric::P50Ms => "p50Ms",
            AlertMetric::P95Ms => "p95Ms",
            AlertMetric::P99Ms => "p99Ms",
            AlertMetric::Retries => "retries",
            AlertMetric::WebhookErrors => "webhookErrors",
            AlertMetric::ActiveRuns => "activeRuns",
            AlertMetric::QueueWaiting => "queueWaiting",
            AlertMetric::MemoryMb => "memoryMb",
            AlertMetric::CpuPercent => "cpuPercent",
        }
    }

    /// How the metric reads in a message ("error rate 12.5 %").
    pub fn label(self) -> &'static str {
        match self {
            AlertMetric::ErrorRate => "error rate (%)",
            AlertMetric::FailedRuns => "failed runs",
            AlertMetric::Runs => "runs",
            AlertMetric::P50Ms => "p50 run time (ms)",
            AlertMetric::P95Ms => "p95 run time (ms)",
            AlertMetric::P99Ms => "p99 run time (ms)",
            AlertMetric::Retries => "retries",
            AlertMetric::WebhookErrors => "webhook error responses",
            AlertMetric::ActiveRuns => "active runs",
            AlertMetric::QueueWaiting => "runs waiting",
            AlertMetric::MemoryMb => "memory (MiB)",
            AlertMetric::CpuPercent => "CPU (%)",
        }
    }

    pub fn parse(text: &str) -> Option<AlertMetric> {
        AlertMetric::ALL.into_iter().find(|m| m.as_str().eq_ignore_ascii_case(text))
    }

    /// Whether the metric is a gauge (read now) rather than counted over a window.
    pub fn is_gauge(self) -> bool {
        matches!(
            self,
            AlertMetric::ActiveRuns | AlertMetric::QueueWaiting | AlertMetric::MemoryMb | AlertMetric::CpuPercent
        )
    }

    /// Whether the metric is a rate or percentile that needs a few runs to mean anything.
    pub fn needs_runs(self) -> bool {
        matches!(self, AlertMetric::ErrorRate | AlertMetric::P50Ms | AlertMetric::P95Ms | AlertMetric::P99Ms)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Comparison {
    Gt,
    Gte,
    Lt,
    Lte,
}

impl Comparison {
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::Gt => value > threshold,
            Comparison::Gte => value >= threshold,
            Comparison::Lt => value < threshold,
            Comparison::Lte => value <= threshold,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Gt => ">",
            Comparison::Gte => ">=",
            Comparison::Lt => "<",
            Comparison::Lte => "<=",
        }
    }

    pub fn parse(text: &str) -> Option<Comparison> {
        match text {
            ">" | "gt" => Some(Comparison::Gt),
            ">=" | "gte" => Some(Comparison::Gte),
            "<" | "lt" => Some(Comparison::Lt),
            "<=" | "lte" => Some(Comparison::Lte),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Severity {
    Info,
    Warning,
    Error,
    Critical,
}

impl Severity {
    /// The severity an unacknowledged alert escalates to.
    pub fn next(self) -> Severity {
        match self {
            Severity::Info => Severity::Warning,
            Severity::Warning => Severity::Error,
            Severity::Error | Severity::Critical => Severity::Critical,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        [Severity::Info, Severity::Warning, Severity::Error, Severity::Critical]
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text))
    }
}

/// What happens when an alert fires, escalates or resolves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum AlertAction {
    /// A desktop notification (the desktop app; `serve` writes it to its log).
    Notify,
    /// POSTs `{"text": …, "content": …}`: a Slack or Discord incoming-webhook URL reads it.
    Webhook { url: String },
    /// Runs a workflow with the alert as its input item.
    #[serde(rename_all = "camelCase")]
    RunWorkflow { workflow_id: String },
    /// Sends an email through an `email.smtp` account (its label) to these addresses
    /// (comma-separated).
    Email { account: String, to: String },
}

/// A rule: "error rate > 10 over 5 minutes", with what to do about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertRule {
    pub id: String,
    pub name: String,
    pub enabled: bool,
    pub metric: AlertMetric,
    /// The workflow watched; none: every workflow together.
    #[serde(default)]
    pub workflow_id: Option<String>,
    pub comparison: Comparison,
    pub threshold: f64,
    /// How far back counts and percentiles look (1–60 minutes; gauges ignore it).
    pub window_minutes: u32,
    /// Rates and percentiles need at least this many finished runs in the window.
    #[serde(default)]
    pub min_runs: u32,
    /// After an alert resolves, the same condition does not alert again for this long.
    pub cooldown_minutes: u32,
    pub severity: Severity,
    /// An alert nobody acknowledged rises one severity after this long (0: never).
    #[serde(default)]
    pub escalate_after_minutes: u32,
    #[serde(default)]
    pub actions: Vec<AlertAction>,
}

pub const MAX_WINDOW_MINUTES: u32 = 60;

impl AlertRule {
    /// What is wrong with the rule, naming the field; `None` when it can be saved.
    pub fn problem(&self) -> Option<String> {
        if self.name.trim().is_empty() {
            return Some("name: a rule needs a name".into());
        }
        if !self.threshold.is_finite() {
            return Some("threshold: must be a number".into());
        }
        if !(1..=MAX_WINDOW_MINUTES).contains(&self.window_minutes) {
            return Some(format!(
                "windowMinutes: must be from 1 to {MAX_WINDOW_MINUTES}, found {}",
                self.window_minutes
            ));
        }
        for (i, action) in self.actions.iter().enumerate() {
            match action {
                AlertAction::Webhook { url } if !(url.starts_with("http://") || url.starts_with("https://")) => {
                    return Some(format!("actions[{i}].url: must start with http:// or https://, found {url:?}"));
                }
                AlertAction::RunWorkflow { workflow_id } if workflow_id.trim().is_empty() => {
                    return Some(format!("actions[{i}].workflowId: choose the workflow to run"));
                }
                AlertAction::Email { account, .. } if account.trim().is_empty() => {
                    return Some(format!("actions[{i}].account: choose the SMTP account to send with"));
                }
                AlertAction::Email { to, .. } if !to.contains('@') => {
                    return Some(format!("actions[{i}].to: give the addresses to send to, found {to:?}"));
                }
                _ => {}
            }
        }
        None
    }

    /// "error rate (%) > 10 over 5 min"
    pub fn condition(&self) -> String {
        let over = if self.metric.is_gauge() { String::new() } else { format!(" over {} min", self.window_minutes) };
        format!("{} {} {}{}", self.metric.label(), self.comparison.symbol(), self.threshold, over)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AlertState {
    Firing,
    Resolved,
}

/// How one action went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionResult {
    pub at: String,
    /// "notify", "webhook", "runWorkflow"
    pub action: String,
    pub ok: bool,
    pub message: String,
}

/// An alert: a rule's condition held from `firedAt` until `resolvedAt`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub id: String,
    pub rule_id: String,
    pub rule_name: String,
    pub severity: Severity,
    pub state: AlertState,
    /// The metric's value when it fired, and the latest seen while firing.
    pub value: f64,
    pub last_value: f64,
    pub message: String,
    pub fired_at: String,
    pub escalated_at: Option<String>,
    pub acked_at: Option<String>,
    pub resolved_at: Option<String>,
    pub actions: Vec<ActionResult>,
}
