//! `switchyard alerts`: alert rules and the alert history, the same the app's Alerts page
//! manages. Rules are checked by the running app or `switchyard serve`.

use crate::output::list;
use crate::{Failure, Outcome, open_api};
use clap::Subcommand;
use std::sync::Arc;
use switchyard_api::types::{AlertListRequest, Empty, IdRequest};
use switchyard_api::{Api, Host, SilentHost};
use switchyard_model::alerts::{AlertAction, AlertMetric, AlertRule, Comparison, Severity};

#[derive(Subcommand)]
pub(crate) enum AlertsCommand {
    /// The rules (predefined ones start switched off).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Alerts, newest first.
    History {
        /// Only alerts still firing.
        #[arg(long)]
        firing: bool,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Add a rule, e.g. `alerts add "Orders failing" errorRate ">" 10 --window 5 --workflow ID --notify`.
    Add {
        name: String,
        /// errorRate, failedRuns, runs, p50Ms, p95Ms, p99Ms, retries, webhookErrors, activeRuns,
        /// queueWaiting, memoryMb, cpuPercent
        metric: String,
        /// >, >=, <, <= (or gt, gte, lt, lte)
        comparison: String,
        threshold: f64,
        /// Only this workflow (id); all workflows without it.
        #[arg(long)]
        workflow: Option<String>,
        /// Minutes counted (1–60).
        #[arg(long, default_value_t = 5)]
        window: u32,
        /// Finished runs needed before a rate or percentile counts.
        #[arg(long, default_value_t = 0)]
        min_runs: u32,
        #[arg(long, default_value_t = 30)]
        cooldown: u32,
        /// info, warning, error, critical
        #[arg(long, default_value = "warning")]
        severity: String,
        /// Minutes before an unacknowledged alert rises one severity (0: never).
        #[arg(long, default_value_t = 0)]
        escalate: u32,
        /// Show a desktop notification (the app; `serve` writes it to its log).
        #[arg(long)]
        notify: bool,
        /// POST the alert to this URL (Slack or Discord incoming webhook).
        #[arg(long, value_name = "URL")]
        webhook: Option<String>,
        /// Run this workflow (id) with the alert as its input.
        #[arg(long, value_name = "WORKFLOW_ID")]
        run: Option<String>,
        /// Email the alert to these addresses (comma-separated), through --email-account.
        #[arg(long, value_name = "ADDRESSES", requires = "email_account")]
        email: Option<String>,
        /// The email.smtp account (its label) that sends --email.
        #[arg(long, value_name = "LABEL", requires = "email")]
        email_account: Option<String>,
        /// Add it switched off.
        #[arg(long)]
        disabled: bool,
    },
    /// Switch a rule on.
    Enable { id: String },
    /// Switch a rule off.
    Disable { id: String },
    /// Delete a rule.
    Remove { id: String },
    /// Run a rule's actions once with a test message.
    Test { id: String },
    /// Acknowledge an alert (it stops escalating).
    Ack { id: String },
}

fn parse<T>(what: &str, text: &str, parsed: Option<T>, choices: &str) -> Result<T, Failure> {
    parsed.ok_or_else(|| {
        Failure::invalid(format!("switchyard alerts: {what} must be one of {choices}, found \"{text}\""))
    })
}

async fn rule(api: &Api, id: &str) -> Result<AlertRule, Failure> {
    let rules = api.alert_rules(Empty {}).await?.rules;
    rules.into_iter().find(|r| r.id == id).ok_or_else(|| {
        Failure::failed(format!("switchyard alerts: there is no rule with id \"{id}\" (see `switchyard alerts list`)"))
    })
}

pub(crate) async fn alerts(data_dir: crate::Place, command: AlertsCommand) -> Outcome {
    let api = open_api(data_dir, Arc::new(LogHost))?;
    match command {
        AlertsCommand::List { json } => {
            let rules = api.alert_rules(Empty {}).await?.rules;
            list(json, &rules, "No alert rules.", &["ID", "STATE", "NAME", "CONDITION", "SEVERITY"], |r| {
                vec![
                    r.id.clone(),
                    if r.enabled { "on" } else { "off" }.to_string(),
                    r.name.clone(),
                    r.condition(),
                    r.severity.as_str().to_string(),
                ]
            });
        }
        AlertsCommand::History { firing, limit, json } => {
            let alerts = api.alerts_list(AlertListRequest { firing_only: firing, limit: Some(limit) }).await?.alerts;
            list(json, &alerts, "No alerts.", &["ID", "FIRED", "SEVERITY", "STATE", "MESSAGE"], |a| {
                let state = match (&a.resolved_at, &a.acked_at) {
                    (Some(at), _) => format!("resolved {at}"),
                    (None, Some(_)) => "firing, acknowledged".into(),
                    (None, None) => "firing".into(),
                };
                vec![a.id.clone(), a.fired_at.clone(), a.severity.as_str().to_string(), state, a.message.clone()]
            });
        }
        AlertsCommand::Add {
            name,
            metric,
            comparison,
            threshold,
            workflow,
            window,
            min_runs,
            cooldown,
            severity,
            escalate,
            notify,
            webhook,
            run,
            email,
            email_account,
            disabled,
        } => {
            let metrics = AlertMetric::ALL.map(|m| m.as_str()).join(", ");
            let mut actions = Vec::new();
            if notify {
                actions.push(AlertAction::Notify);
            }
            if let Some(url) = webhook {
                actions.push(AlertAction::Webhook { url });
            }
            if let Some(workflow_id) = run {
                actions.push(AlertAction::RunWorkflow { workflow_id });
            }
            if let (Some(to), Some(account)) = (email, email_account) {
                actions.push(AlertAction::Email { account, to });
            }
            let rule = AlertRule {
                id: String::new(),
                name,
                enabled: !disabled,
                metric: parse("the metric", &metric, AlertMetric::parse(&metric), &metrics)?,
                workflow_id: workflow,
                comparison: parse("the comparison", &comparison, Comparison::parse(&comparison), ">, >=, <, <=")?,
                threshold,
                window_minutes: window,
                min_runs,
                cooldown_minutes: cooldown,
                severity: parse("--severity", &severity, Severity::parse(&severity), "info, warning, error, critical")?,
                escalate_after_minutes: escalate,
                actions,
            };
            let saved = api.alert_rule_save(rule).await?;
            println!("Added \"{}\" ({}) as {}", saved.name, saved.condition(), saved.id);
        }
        AlertsCommand::Enable { id } => switch(&api, &id, true).await?,
        AlertsCommand::Disable { id } => switch(&api, &id, false).await?,
        AlertsCommand::Remove { id } => {
            let r = rule(&api, &id).await?;
            api.alert_rule_delete(IdRequest { id }).await?;
            println!("Deleted \"{}\"", r.name);
        }
        AlertsCommand::Test { id } => {
            let results = api.alert_rule_test(IdRequest { id }).await?.results;
            if results.is_empty() {
                println!("The rule has no actions.");
            }
            let mut failed = false;
            for r in &results {
                println!("{} {}: {}", if r.ok { "✓" } else { "✗" }, r.action, r.message);
                failed |= !r.ok;
            }
            if failed {
                return Err(Failure::failed(""));
            }
        }
        AlertsCommand::Ack { id } => {
            let alert = api.alert_ack(IdRequest { id }).await?;
            println!("Acknowledged: {}", alert.message);
        }
    }
    Ok(())
}

async fn switch(api: &Api, id: &str, on: bool) -> Outcome {
    let mut r = rule(api, id).await?;
    r.enabled = on;
    let r = api.alert_rule_save(r).await?;
    println!("\"{}\" is {}", r.name, if on { "on" } else { "off" });
    Ok(())
}

/// The host of headless commands: events go nowhere, notifications go to the log (stderr and
/// the data folder's log file).
pub(crate) struct LogHost;

impl Host for LogHost {
    fn emit(&self, event: switchyard_api::types::ApiEvent) {
        SilentHost.emit(event);
    }

    fn shows_runs(&self) -> bool {
        false
    }

    fn notify(&self, title: &str, body: &str) -> Result<String, String> {
        tracing::warn!(target: "switchyard::alerts", "{title}: {body}");
        Ok("written to the log (no desktop here)".into())
    }
}
