//! Alert evaluation: a rule's metric read from the live state, and the state machine that
//! fires once per condition, escalates while nobody acknowledges, resolves on its own when
//! the condition clears, and keeps quiet for the cooldown after. Pure: times come in as Unix
//! milliseconds, so the API's loop can run on any clock.

use crate::process::ProcessStats;
use crate::recorder::Live;
use crate::{MINUTE_MS, floor};
use switchyard_model::alerts::{AlertAction, AlertMetric, AlertRule, Comparison, Severity};

/// The metric's value now; `None` when there is too little to judge (fewer finished runs
/// than the rule asks for a rate or percentile, or no process stats on this system).
pub fn value(rule: &AlertRule, live: &Live, process: Option<ProcessStats>, now_ms: i64) -> Option<f64> {
    let from = floor(now_ms, MINUTE_MS) - i64::from(rule.window_minutes.max(1) - 1) * MINUTE_MS;
    let to = i64::MAX;
    let workflow = rule.workflow_id.as_deref();
    let window = || live.window(workflow, from, to);
    let enough = |b: &crate::Bucket| {
        let finished = b.counts.succeeded + b.counts.failed;
        finished > 0 && finished >= u64::from(rule.min_runs)
    };
    let percentile = |p: f64| {
        let b = window();
        if enough(&b) { b.percentile(p).map(|ms| ms as f64) } else { None }
    };
    match rule.metric {
        AlertMetric::ErrorRate => {
            let b = window();
            enough(&b).then(|| 100.0 * b.counts.failed as f64 / (b.counts.succeeded + b.counts.failed) as f64)
        }
        AlertMetric::FailedRuns => Some(window().counts.failed as f64),
        AlertMetric::Runs => Some(window().counts.started as f64),
        AlertMetric::P50Ms => percentile(50.0),
        AlertMetric::P95Ms => percentile(95.0),
        AlertMetric::P99Ms => percentile(99.0),
        AlertMetric::Retries => Some(window().counts.retries as f64),
        AlertMetric::WebhookErrors => Some(live.delivery_errors(from, to) as f64),
        AlertMetric::ActiveRuns => Some(live.queue.active as f64),
        AlertMetric::QueueWaiting => Some(live.queue.waiting as f64),
        AlertMetric::MemoryMb => process.map(|p| p.memory_bytes as f64 / (1024.0 * 1024.0)),
        AlertMetric::CpuPercent => process.map(|p| p.cpu_percent),
    }
}

/// A rule's alert while it fires.
#[derive(Debug, Clone, PartialEq)]
pub struct Firing {
    pub alert_id: String,
    pub since_ms: i64,
    pub severity: Severity,
    /// When it fired or last escalated.
    pub raised_ms: i64,
    pub acked: bool,
}

/// What the evaluator remembers of a rule between checks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleState {
    pub firing: Option<Firing>,
    pub resolved_ms: Option<i64>,
}

/// What a check changed.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    Fired { alert_id: String, severity: Severity, value: f64 },
    Escalated { alert_id: String, from: Severity, to: Severity, value: f64 },
    Resolved { alert_id: String, value: Option<f64> },
}

/// One check of a rule: updates its state and says what changed. `new_id` names a new alert.
pub fn step(
    rule: &AlertRule,
    state: &mut RuleState,
    value: Option<f64>,
    now_ms: i64,
    new_id: impl FnOnce() -> String,
) -> Option<Transition> {
    let holds = value.is_some_and(|v| rule.comparison.holds(v, rule.threshold));
    match (&mut state.firing, holds) {
        (Some(f), true) => {
            let every = i64::from(rule.escalate_after_minutes) * MINUTE_MS;
            if every > 0 && !f.acked && f.severity < Severity::Critical && now_ms - f.raised_ms >= every {
                let from = f.severity;
                f.severity = from.next();
                f.raised_ms = now_ms;
                return Some(Transition::Escalated {
                    alert_id: f.alert_id.clone(),
                    from,
                    to: f.severity,
                    value: value.unwrap_or_default(),
                });
            }
            None
        }
        (Some(_), false) => {
            let f = state.firing.take()?;
            state.resolved_ms = Some(now_ms);
            Some(Transition::Resolved { alert_id: f.alert_id, value })
        }
        (None, true) => {
            let cooldown = i64::from(rule.cooldown_minutes) * MINUTE_MS;
            if state.resolved_ms.is_some_and(|r| now_ms - r < cooldown) {
                return None;
            }
            let alert_id = new_id();
            state.firing = Some(Firing {
                alert_id: alert_id.clone(),
                since_ms: now_ms,
                severity: rule.severity,
                raised_ms: now_ms,
                acked: false,
            });
            Some(Transition::Fired { alert_id, severity: rule.severity, value: value.unwrap_or_default() })
        }
        (None, false) => None,
    }
}

/// The predefined rules: sensible starting points, all switched off.
pub fn presets() -> Vec<AlertRule> {
    let rule = |id: &str, name: &str, metric, comparison, threshold, window, min_runs, severity, escalate| AlertRule {
        id: id.to_string(),
        name: name.to_string(),
        enabled: false,
        metric,
        workflow_id: None,
        comparison,
        threshold,
        window_minutes: window,
        min_runs,
        cooldown_minutes: 30,
        severity,
        escalate_after_minutes: escalate,
        actions: vec![AlertAction::Notify],
    };
    vec![
        rule(
            "preset-error-rate",
            "Error rate above 10 %",
            AlertMetric::ErrorRate,
            Comparison::Gt,
            10.0,
            5,
            5,
            Severity::Warning,
            15,
        ),
        rule(
            "preset-failures",
            "Runs failing",
            AlertMetric::FailedRuns,
            Comparison::Gte,
            3.0,
            5,
            0,
            Severity::Error,
            30,
        ),
        rule(
            "preset-slow",
            "Slow runs (p95 over 30 s)",
            AlertMetric::P95Ms,
            Comparison::Gt,
            30_000.0,
            15,
            5,
            Severity::Warning,
            0,
        ),
        rule(
            "preset-webhook-errors",
            "Webhook requests refused",
            AlertMetric::WebhookErrors,
            Comparison::Gte,
            10.0,
            5,
            0,
            Severity::Warning,
            0,
        ),
        rule(
            "preset-queue",
            "Runs piling up",
            AlertMetric::QueueWaiting,
            Comparison::Gt,
            20.0,
            1,
            0,
            Severity::Warning,
            10,
        ),
        rule(
            "preset-memory",
            "Memory above 1 GiB",
            AlertMetric::MemoryMb,
            Comparison::Gt,
            1024.0,
            1,
            0,
            Severity::Info,
            0,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: i64 = MINUTE_MS;

    fn rule() -> AlertRule {
        let mut r = presets().remove(0);
        r.enabled = true;
        r.cooldown_minutes = 10;
        r.escalate_after_minutes = 15;
        r
    }

    #[test]
    fn fires_once_escalates_resolves_and_cools_down() {
        let r = rule();
        let mut s = RuleState::default();
        let mut ids = 0;
        let mut id = || {
            ids += 1;
            format!("a{ids}")
        };
        assert_eq!(step(&r, &mut s, Some(5.0), 0, &mut id), None, "below the threshold");
        assert_eq!(step(&r, &mut s, None, 0, &mut id), None, "too few runs");
        let fired = step(&r, &mut s, Some(20.0), M, &mut id);
        assert_eq!(fired, Some(Transition::Fired { alert_id: "a1".into(), severity: Severity::Warning, value: 20.0 }));
        assert_eq!(step(&r, &mut s, Some(30.0), 2 * M, &mut id), None, "one condition alerts once");
        let up = step(&r, &mut s, Some(30.0), 16 * M, &mut id);
        assert_eq!(
            up,
            Some(Transition::Escalated {
                alert_id: "a1".into(),
                from: Severity::Warning,
                to: Severity::Error,
                value: 30.0
            })
        );
        assert_eq!(step(&r, &mut s, Some(30.0), 20 * M, &mut id), None, "the next escalation waits 15 min more");
        assert!(matches!(
            step(&r, &mut s, Some(30.0), 31 * M, &mut id),
            Some(Transition::Escalated { to: Severity::Critical, .. })
        ));
        assert_eq!(step(&r, &mut s, Some(30.0), 60 * M, &mut id), None, "critical is the top");
        let resolved = step(&r, &mut s, Some(2.0), 61 * M, &mut id);
        assert_eq!(resolved, Some(Transition::Resolved { alert_id: "a1".into(), value: Some(2.0) }));
        assert_eq!(step(&r, &mut s, Some(50.0), 65 * M, &mut id), None, "inside the cooldown");
        assert!(
            matches!(step(&r, &mut s, Some(50.0), 71 * M, &mut id), Some(Transition::Fired { alert_id, .. }) if alert_id == "a2")
        );
    }

    #[test]
    fn acknowledged_alerts_do_not_escalate() {
        let r = rule();
        let mut s = RuleState::default();
        step(&r, &mut s, Some(20.0), 0, || "a".into());
        s.firing.as_mut().unwrap().acked = true;
        assert_eq!(step(&r, &mut s, Some(20.0), 60 * M, || "b".into()), None);
        assert!(matches!(step(&r, &mut s, Some(0.0), 61 * M, || "c".into()), Some(Transition::Resolved { .. })));
    }

    #[test]
    fn presets_are_valid_and_off() {
        for p in presets() {
            assert_eq!(p.problem(), None, "{}", p.name);
            assert!(!p.enabled);
        }
    }
}
