//! Alert rules and alerts: the rules are stored in SQLite, checked every 15 s against the
//! live metrics (`switchyard_metrics::alerts` decides), and what changes is stored, sent to
//! the UI as an event and acted on (desktop notification, Slack/Discord-style webhook, a
//! workflow run).

use crate::Api;
use crate::error::{ApiError, ApiResult};
use crate::types::{ApiEvent, Empty, IdRequest, RunStartRequest};
use chrono::DateTime;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;
use switchyard_engine::clock::rfc3339_ms;
use switchyard_metrics::alerts::{Firing, RuleState, Transition, step, value};
use switchyard_model::alerts::{ActionResult, Alert, AlertAction, AlertRule, AlertState as Firingness};
use switchyard_model::error::ErrorCode;
use switchyard_model::execution::RunMode;
use switchyard_model::ids::new_id;
use ts_rs::TS;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertRulesResponse {
    pub rules: Vec<switchyard_model::alerts::AlertRule>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertListRequest {
    #[serde(default)]
    pub firing_only: bool,
    #[serde(default)]
    #[ts(optional)]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertListResponse {
    pub alerts: Vec<switchyard_model::alerts::Alert>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertTestResponse {
    pub results: Vec<switchyard_model::alerts::ActionResult>,
}

/// How often the rules are checked.
pub(crate) const CHECK_EVERY: Duration = Duration::from_secs(15);
/// Alerts kept in the history (firing ones always stay).
const KEEP_ALERTS: u32 = 1000;

/// What the checker remembers between checks, per rule id.
#[derive(Default)]
pub(crate) struct AlertState {
    rules: tokio::sync::Mutex<Option<HashMap<String, RuleState>>>,
}

fn parse_ms(text: &str) -> i64 {
    DateTime::parse_from_rfc3339(text).map(|t| t.timestamp_millis()).unwrap_or_default()
}

impl Api {
    pub async fn alert_rules(&self, _: Empty) -> ApiResult<AlertRulesResponse> {
        Ok(AlertRulesResponse { rules: self.blocking(|store| Ok(store.metrics().rules()?)).await? })
    }

    /// Adds (an empty id) or replaces a rule, after checking it.
    pub async fn alert_rule_save(&self, mut rule: AlertRule) -> ApiResult<AlertRule> {
        if let Some(problem) = rule.problem() {
            return Err(ApiError::bad_request(format!("alert rule \"{}\": {problem}", rule.name)));
        }
        if rule.id.trim().is_empty() {
            rule.id = new_id();
        }
        let targets: Vec<String> = rule
            .actions
            .iter()
            .filter_map(|a| match a {
                AlertAction::RunWorkflow { workflow_id } => Some(workflow_id.clone()),
                _ => None,
            })
            .chain(rule.workflow_id.clone())
            .collect();
        let saved = rule.clone();
        self.blocking(move |store| {
            for id in targets {
                match store.workflows().get(&id) {
                    Ok(_) => {}
                    Err(switchyard_store::StoreError::WorkflowNotFound(_)) => {
                        return Err(ApiError::new(
                            ErrorCode::NotFound,
                            format!("alert rule \"{}\": there is no workflow with id \"{id}\"", saved.name),
                        ));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            store.metrics().save_rule(&saved)?;
            Ok(())
        })
        .await?;
        Ok(rule)
    }

    /// Deletes a rule; an alert it has firing resolves.
    pub async fn alert_rule_delete(&self, request: IdRequest) -> ApiResult<Empty> {
        let id = request.id.clone();
        if !self.blocking(move |store| Ok(store.metrics().delete_rule(&id)?)).await? {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!("there is no alert rule with id \"{}\"", request.id),
            ));
        }
        self.check_alerts().await?;
        Ok(Empty {})
    }

    pub async fn alerts_list(&self, request: AlertListRequest) -> ApiResult<AlertListResponse> {
        let limit = request.limit.unwrap_or(200).min(KEEP_ALERTS);
        let alerts = self.blocking(move |store| Ok(store.metrics().alerts(request.firing_only, limit)?)).await?;
        Ok(AlertListResponse { alerts })
    }

    /// Acknowledges an alert: it stops escalating; it still resolves when its condition
    /// clears.
    pub async fn alert_ack(&self, request: IdRequest) -> ApiResult<Alert> {
        let mut states = self.inner.metrics.alerts.rules.lock().await;
        let id = request.id.clone();
        let mut alert = self.blocking(move |store| Ok(store.metrics().alert(&id)?)).await?.ok_or_else(|| {
            ApiError::new(ErrorCode::NotFound, format!("there is no alert with id \"{}\"", request.id))
        })?;
        if alert.acked_at.is_none() {
            alert.acked_at = Some(self.now());
            if let Some(f) = states.as_mut().and_then(|s| s.get_mut(&alert.rule_id)).and_then(|s| s.firing.as_mut())
                && f.alert_id == alert.id
            {
                f.acked = true;
            }
            let saved = alert.clone();
            self.blocking(move |store| Ok(store.metrics().save_alert(&saved)?)).await?;
            self.inner.host.emit(ApiEvent::Alert { alert: alert.clone() });
        }
        drop(states);
        Ok(alert)
    }

    /// Runs a rule's actions once, with a message that says it is a test.
    pub async fn alert_rule_test(&self, request: IdRequest) -> ApiResult<AlertTestResponse> {
        let rules = self.blocking(|store| Ok(store.metrics().rules()?)).await?;
        let rule = rules.into_iter().find(|r| r.id == request.id).ok_or_else(|| {
            ApiError::new(ErrorCode::NotFound, format!("there is no alert rule with id \"{}\"", request.id))
        })?;
        let now = self.now();
        let alert = Alert {
            id: format!("test-{}", new_id()),
            rule_id: rule.id.clone(),
            rule_name: rule.name.clone(),
            severity: rule.severity,
            state: Firingness::Firing,
            value: rule.threshold,
            last_value: rule.threshold,
            message: format!("Test of \"{}\" ({})", rule.name, rule.condition()),
            fired_at: now,
            escalated_at: None,
            acked_at: None,
            resolved_at: None,
            actions: Vec::new(),
        };
        Ok(AlertTestResponse { results: self.act(&rule, &alert, true).await })
    }

    /// Checks every enabled rule once: fires, escalates and resolves alerts, and acts.
    pub async fn check_alerts(&self) -> ApiResult<()> {
        let mut guard = self.inner.metrics.alerts.rules.lock().await;
        let (rules, firing) =
            self.blocking(|store| Ok((store.metrics().rules()?, store.metrics().alerts(true, 10_000)?))).await?;
        // After a restart: pick up the alerts still firing.
        let states = guard.get_or_insert_with(|| {
            let mut states: HashMap<String, RuleState> = HashMap::new();
            for a in firing.iter().filter(|a| a.rule_id != crate::backups::BACKUP_ALERT_RULE) {
                states.entry(a.rule_id.clone()).or_default().firing = Some(Firing {
                    alert_id: a.id.clone(),
                    since_ms: parse_ms(&a.fired_at),
                    severity: a.severity,
                    raised_ms: parse_ms(a.escalated_at.as_deref().unwrap_or(&a.fired_at)),
                    acked: a.acked_at.is_some(),
                });
            }
            states
        });
        let now_ms = self.now_ms();
        self.inner.metrics.recorder.flush();
        let process = self.inner.metrics.process();
        let mut changes: Vec<(AlertRule, Transition, Option<f64>)> = Vec::new();
        {
            let live = self.inner.metrics.live();
            for rule in &rules {
                let state = states.entry(rule.id.clone()).or_default();
                let v = if rule.enabled { value(rule, &live, process, now_ms) } else { None };
                if let Some(t) = step(rule, state, v, now_ms, new_id) {
                    changes.push((rule.clone(), t, v));
                }
            }
        }
        // Alerts whose rule is gone resolve.
        let known: std::collections::HashSet<&str> = rules.iter().map(|r| r.id.as_str()).collect();
        let orphans: Vec<String> = states.keys().filter(|id| !known.contains(id.as_str())).cloned().collect();
        let mut resolved_orphans = Vec::new();
        for id in orphans {
            if let Some(f) = states.remove(&id).and_then(|s| s.firing) {
                resolved_orphans.push(f.alert_id);
            }
        }
        drop(guard);

        let by_id: HashMap<String, Alert> = firing.into_iter().map(|a| (a.id.clone(), a)).collect();
        for alert_id in resolved_orphans {
            if let Some(mut a) = by_id.get(&alert_id).cloned() {
                a.state = Firingness::Resolved;
                a.resolved_at = Some(rfc3339_ms(now_ms));
                a.message = format!("{} (resolved: the rule was deleted)", a.message);
                self.store_alert(&a).await?;
            }
        }
        for (rule, transition, v) in changes {
            let mut alert = match &transition {
                Transition::Fired { alert_id, severity, value } => Alert {
                    id: alert_id.clone(),
                    rule_id: rule.id.clone(),
                    rule_name: rule.name.clone(),
                    severity: *severity,
                    state: Firingness::Firing,
                    value: *value,
                    last_value: *value,
                    message: self.alert_message(&rule, *value).await,
                    fired_at: rfc3339_ms(now_ms),
                    escalated_at: None,
                    acked_at: None,
                    resolved_at: None,
                    actions: Vec::new(),
                },
                Transition::Escalated { alert_id, to, value, .. } => {
                    let Some(mut a) = by_id.get(alert_id).cloned() else { continue };
                    a.severity = *to;
                    a.escalated_at = Some(rfc3339_ms(now_ms));
                    a.last_value = *value;
                    a
                }
                Transition::Resolved { alert_id, .. } => {
                    let Some(mut a) = by_id.get(alert_id).cloned() else { continue };
                    a.state = Firingness::Resolved;
                    a.resolved_at = Some(rfc3339_ms(now_ms));
                    if let Some(v) = v {
                        a.last_value = v;
                    }
                    a
                }
            };
            // Run-workflow actions go on firing and escalating; notifications and webhooks
            // also say when it is over.
            tracing::info!(
                rule = %rule.name,
                severity = alert.severity.as_str(),
                state = ?alert.state,
                value = alert.last_value,
                "alert {}",
                match transition {
                    Transition::Fired { .. } => "fired",
                    Transition::Escalated { .. } => "escalated",
                    Transition::Resolved { .. } => "resolved",
                }
            );
            let results = self.act(&rule, &alert, false).await;
            alert.actions.extend(results);
            self.store_alert(&alert).await?;
        }
        self.blocking(|store| Ok(store.metrics().prune_alerts(KEEP_ALERTS)?)).await?;
        Ok(())
    }

    async fn store_alert(&self, alert: &Alert) -> ApiResult<()> {
        let saved = alert.clone();
        self.blocking(move |store| Ok(store.metrics().save_alert(&saved)?)).await?;
        self.inner.host.emit(ApiEvent::Alert { alert: alert.clone() });
        Ok(())
    }

    async fn alert_message(&self, rule: &AlertRule, value: f64) -> String {
        let scope = match &rule.workflow_id {
            Some(id) => {
                let id = id.clone();
                let name = self
                    .blocking(move |store| Ok(store.workflows().get(&id).map(|r| r.workflow.name).ok()))
                    .await
                    .ok()
                    .flatten();
                format!(" in \"{}\"", name.unwrap_or_else(|| rule.workflow_id.clone().unwrap_or_default()))
            }
            None => String::new(),
        };
        format!("{}: {} is {}{scope} ({})", rule.name, rule.metric.label(), round(value), rule.condition())
    }

    /// Runs a rule's actions for an alert; says how each went.
    async fn act(&self, rule: &AlertRule, alert: &Alert, test: bool) -> Vec<ActionResult> {
        let headline = match (alert.state, alert.escalated_at.is_some()) {
            (Firingness::Resolved, _) => format!("Resolved: {}", alert.rule_name),
            (_, true) => format!("Escalated to {}: {}", alert.severity.as_str(), alert.rule_name),
            _ => format!("{}: {}", capitalized(alert.severity.as_str()), alert.rule_name),
        };
        let mut results = Vec::new();
        for action in &rule.actions {
            let (name, outcome) = match action {
                AlertAction::Notify => ("notify", self.inner.host.notify(&headline, &alert.message)),
                AlertAction::Webhook { url } => ("webhook", self.post_alert(url, &headline, alert).await),
                AlertAction::RunWorkflow { workflow_id } => {
                    if alert.state == Firingness::Resolved && !test {
                        continue;
                    }
                    ("runWorkflow", self.run_for_alert(workflow_id, alert).await)
                }
                AlertAction::Email { account, to } => ("email", self.mail_alert(account, to, &headline, alert).await),
            };
            if let Err(e) = &outcome {
                tracing::warn!(rule = %rule.name, action = name, error = %e, "an alert action failed");
            }
            results.push(ActionResult {
                at: self.now(),
                action: name.to_string(),
                ok: outcome.is_ok(),
                message: outcome.unwrap_or_else(|e| e),
            });
        }
        results
    }

    /// POSTs `{"text", "content"}` (Slack and Discord incoming webhooks read one each) and
    /// the alert.
    async fn post_alert(&self, url: &str, headline: &str, alert: &Alert) -> Result<String, String> {
        let text = format!("{headline}\n{}", alert.message);
        let body = serde_json::json!({ "text": text, "content": text, "alert": alert });
        let response = self
            .inner
            .engine
            .services()
            .http
            .post(url)
            .timeout(Duration::from_secs(10))
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("POST {url}: {e}"))?;
        let status = response.status();
        if status.is_success() {
            Ok(format!("POST {url}: {status}"))
        } else {
            let text = response.text().await.unwrap_or_default();
            Err(format!("POST {url}: {status} {}", text.chars().take(200).collect::<String>()))
        }
    }

    /// Sends the alert by email through an `email.smtp` account of the vault.
    async fn mail_alert(&self, account: &str, to: &str, headline: &str, alert: &Alert) -> Result<String, String> {
        let reference = switchyard_model::CredentialRef::new("email.smtp".to_string(), Some(account.to_string()));
        let fields = switchyard_engine::CredentialProvider::fields(&self.inner.vault, &reference)
            .await
            .map_err(|e| format!("SMTP account \"{account}\": {}", e.message))?;
        let text = format!(
            "{headline}\n\n{}\n\nRule: {}\nSeverity: {}\nFired at: {}\n\nSent by Switchyard.",
            alert.message,
            alert.rule_name,
            alert.severity.as_str(),
            alert.fired_at
        );
        switchyard_engine::email::smtp::send_text(&fields, to, headline, &text)
            .await
            .map(|reply| format!("sent to {to}: {reply}"))
            .map_err(|e| e.message)
    }

    async fn run_for_alert(&self, workflow_id: &str, alert: &Alert) -> Result<String, String> {
        let request = RunStartRequest {
            workflow_id: Some(workflow_id.to_string()),
            workflow: None,
            input: Some(serde_json::to_value(alert).unwrap_or_default()),
            start_node: None,
            until_node: None,
            mode: Some(RunMode::Alert),
            ..RunStartRequest::default()
        };
        match self.spawn_run(request, None, RunMode::Alert).await {
            Ok((execution_id, _)) => Ok(format!("started run {execution_id}")),
            Err(e) => Err(e.message),
        }
    }
}

fn round(v: f64) -> String {
    if v.fract().abs() < 1e-9 { format!("{v:.0}") } else { format!("{v:.1}") }
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}
