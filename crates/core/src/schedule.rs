//! Schedule rules: cron patterns with 5 or 6 fields (seconds optional) in a time zone, or a
//! fixed interval; and what to do about fires missed while nothing was running.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use std::time::Duration;

/// Why a rule cannot be used; the message names the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuleError {
    #[error("cron: \"{pattern}\" is not a valid pattern: {why}")]
    Cron { pattern: String, why: String },
    #[error("timezone: \"{0}\" is not a known time zone (use an IANA name such as Europe/Paris or UTC)")]
    TimeZone(String),
    #[error("interval: must be at least 1 second, got {0} s")]
    Interval(f64),
}

/// When a schedule fires.
#[derive(Debug, Clone)]
pub enum Rule {
    Cron { pattern: String, cron: Box<Cron>, zone: Tz },
    Every(Duration),
}

/// What to do with fires that fell while the app was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Missed {
    /// Forget them; fire next at the next time due.
    #[default]
    Skip,
    /// Fire once now for all of them, then go on.
    RunOnce,
}

impl Missed {
    pub fn parse(text: &str) -> Missed {
        if text == "runOnce" { Missed::RunOnce } else { Missed::Skip }
    }
}

impl Rule {
    /// A cron rule: 5 fields (minute hour day month weekday) or 6 (seconds first).
    pub fn cron(pattern: &str, zone: &str) -> Result<Rule, RuleError> {
        let fields = pattern.split_whitespace().count();
        let bad = |why: String| RuleError::Cron { pattern: pattern.to_string(), why };
        if !(5..=6).contains(&fields) && !pattern.trim_start().starts_with('@') {
            return Err(bad(format!(
                "it has {fields} fields; a pattern has 5 (minute hour day month weekday) or 6 (seconds first)"
            )));
        }
        // A list with an empty entry (`,` or `1,,5`) parses as a field that matches nothing,
        // and the search for its next time never ends (found by fuzzing): refused here.
        if let Some((n, field)) =
            pattern.split_whitespace().enumerate().find(|(_, f)| f.split(',').any(|part| part.trim().is_empty()))
        {
            return Err(bad(format!("field {} (\"{field}\") has an empty entry in its list", n + 1)));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build()
            .parse(pattern)
            .map_err(|e| bad(e.to_string()))?;
        let zone_name = if zone.trim().is_empty() { "UTC" } else { zone.trim() };
        let zone: Tz = zone_name.parse().map_err(|_| RuleError::TimeZone(zone_name.to_string()))?;
        // A pattern that can never match (31 February) is refused now, not at fire time.
        cron.find_next_occurrence(&Utc::now().with_timezone(&zone), false).map_err(|e| bad(e.to_string()))?;
        Ok(Rule::Cron { pattern: pattern.trim().to_string(), cron: Box::new(cron), zone })
    }

    pub fn every_seconds(seconds: f64) -> Result<Rule, RuleError> {
        if !(seconds >= 1.0 && seconds.is_finite()) {
            return Err(RuleError::Interval(seconds));
        }
        Ok(Rule::Every(Duration::from_secs_f64(seconds)))
    }

    /// The first fire strictly after `after` (for an interval: `after` + the interval).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Rule::Cron { cron, zone, .. } => {
                cron.find_next_occurrence(&after.with_timezone(zone), false).ok().map(|t| t.with_timezone(&Utc))
            }
            Rule::Every(every) => Some(after + chrono::Duration::from_std(*every).ok()?),
        }
    }

    /// How the rule reads in lists: "cron 0 9 * * 1-5 (Europe/Paris)", "every 300 s".
    pub fn describe(&self) -> String {
        match self {
            Rule::Cron { pattern, zone, .. } => format!("cron {pattern} ({zone})"),
            Rule::Every(every) => format!("every {} s", every.as_secs_f64()),
        }
    }
}

/// Where a schedule stands after the app was away: `next` is the stored next-fire time,
/// `now` the time it is. Returns whether to fire once now for missed fires, and the next
/// fire time to keep.
pub fn catch_up(rule: &Rule, missed: Missed, next: DateTime<Utc>, now: DateTime<Utc>) -> (bool, Option<DateTime<Utc>>) {
    if next > now {
        return (false, Some(next));
    }
    (missed == Missed::RunOnce, rule.next_after(now))
}

#[cfg(test)]
mod tests {

    #[test]
    fn empty_list_entries_are_refused_at_once() {
        for pattern in [" ,  0 2 * * *", ", * 2 * 0", "1,,5 * * * *", "* * * * 1,"] {
            let started = std::time::Instant::now();
            let e = Rule::cron(pattern, "UTC").unwrap_err();
            assert!(e.to_string().contains("empty entry"), "{pattern}: {e}");
            assert!(started.elapsed() < std::time::Duration::from_secs(1), "{pattern}");
        }
    }

    use super::*;
    use chrono::TimeZone;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn five_and_six_field_patterns() {
        let rule = Rule::cron("30 9 * * 1-5", "UTC").unwrap();
        // Saturday 2026-11-28 → Monday 09:30.
        assert_eq!(rule.next_after(at("2026-11-28T10:00:00Z")), Some(at("2026-11-30T09:30:00Z")));
        let rule = Rule::cron("*/15 * * * * *", "UTC").unwrap();
        assert_eq!(rule.next_after(at("2026-11-28T10:00:07Z")), Some(at("2026-11-28T10:00:15Z")));
        assert_eq!(rule.next_after(at("2026-11-28T10:00:15Z")), Some(at("2026-11-28T10:00:30Z")));
    }

    #[test]
    fn time_zones_shift_the_fire_and_follow_daylight_saving() {
        let rule = Rule::cron("0 9 * * *", "Europe/Paris").unwrap();
        // Winter: Paris is UTC+1.
        assert_eq!(rule.next_after(at("2026-11-28T10:00:00Z")), Some(at("2026-11-29T08:00:00Z")));
        // Summer: UTC+2.
        assert_eq!(rule.next_after(at("2026-07-01T10:00:00Z")), Some(at("2026-07-02T07:00:00Z")));
        let rule = Rule::cron("0 9 * * *", "America/New_York").unwrap();
        assert_eq!(
            rule.next_after(Utc.with_ymd_and_hms(2026, 3, 7, 15, 0, 0).unwrap()),
            Some(at("2026-03-08T13:00:00Z"))
        );
    }

    #[test]
    fn bad_rules_name_the_field() {
        let e = Rule::cron("0 9 * *", "UTC").unwrap_err();
        assert!(e.to_string().starts_with("cron: \"0 9 * *\""), "{e}");
        assert!(e.to_string().contains("4 fields"), "{e}");
        assert!(Rule::cron("0 0 9 * * * 2027", "UTC").is_err());
        assert!(Rule::cron("61 * * * *", "UTC").unwrap_err().to_string().starts_with("cron:"));
        assert_eq!(Rule::cron("0 9 * * *", "Mars/Olympus").unwrap_err(), RuleError::TimeZone("Mars/Olympus".into()));
        assert!(Rule::cron("0 0 31 2 *", "UTC").is_err(), "31 February never comes");
        assert_eq!(Rule::every_seconds(0.5).unwrap_err(), RuleError::Interval(0.5));
    }

    #[test]
    fn intervals_and_missed_fires() {
        let rule = Rule::every_seconds(300.0).unwrap();
        assert_eq!(rule.next_after(at("2026-11-28T10:00:00Z")), Some(at("2026-11-28T10:05:00Z")));
        assert_eq!(rule.describe(), "every 300 s");
        let next = at("2026-11-28T10:05:00Z");
        // Not missed yet.
        assert_eq!(catch_up(&rule, Missed::RunOnce, next, at("2026-11-28T10:01:00Z")), (false, Some(next)));
        // Missed (the app was closed for hours): skip or fire once, then go on from now.
        let now = at("2026-11-28T14:00:00Z");
        assert_eq!(catch_up(&rule, Missed::Skip, next, now), (false, Some(at("2026-11-28T14:05:00Z"))));
        assert_eq!(catch_up(&rule, Missed::RunOnce, next, now), (true, Some(at("2026-11-28T14:05:00Z"))));
    }
}
