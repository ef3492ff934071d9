//! A node's retry policy: how many tries, how long to wait between them, and which error
//! classes are worth another try; and the state of breakers and rate limits as the API
//! shows it. Pure data and arithmetic; the engine does the waiting.

use crate::error::ErrorClass;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use ts_rs::TS;

/// The most tries a policy may ask for (the first included).
pub const MAX_TRIES: u32 = 20;
/// The longest wait between two tries.
pub const MAX_DELAY_MS: u64 = 60 * 60 * 1000;

/// How the wait grows from one retry to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Backoff {
    /// The initial delay every time.
    Fixed,
    /// initial, 2×initial, 3×initial, …
    Linear,
    /// initial, initial×factor, initial×factor², …
    #[default]
    Exponential,
    /// initial × 1, 1, 2, 3, 5, 8, …
    Fibonacci,
}

/// Randomness added to each wait, so many clients do not retry in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Jitter {
    None,
    /// Anywhere between 0 and the computed delay ("full jitter").
    Full,
    /// The computed delay ±25 %.
    #[default]
    Quarter,
}

/// Retry settings of a node. The empty object means one try (no retries).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct RetryPolicy {
    /// Tries in all, the first included: 1 means no retry.
    pub max_tries: u32,
    pub backoff: Backoff,
    /// The wait before the first retry, in milliseconds.
    pub initial_delay_ms: u64,
    /// Growth factor of the exponential backoff.
    pub factor: f64,
    /// No wait is longer than this (a server's Retry-After may ask for longer, up to
    /// [`MAX_DELAY_MS`]).
    pub max_delay_ms: u64,
    pub jitter: Jitter,
    /// Error classes worth another try.
    pub retry_on: Vec<ErrorClass>,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_tries: 1,
            backoff: Backoff::Exponential,
            initial_delay_ms: 1000,
            factor: 2.0,
            max_delay_ms: 30_000,
            jitter: Jitter::Quarter,
            retry_on: RetryPolicy::default_classes(),
        }
    }
}

impl RetryPolicy {
    /// Transient failures, rate limits, timeouts, network errors and a model's answer in the
    /// wrong shape: the classes a retry can fix. Permanent errors (most 4xx, bad parameters)
    /// are not retried by default.
    pub fn default_classes() -> Vec<ErrorClass> {
        vec![
            ErrorClass::Transient,
            ErrorClass::RateLimit,
            ErrorClass::Timeout,
            ErrorClass::Network,
            ErrorClass::InvalidOutput,
        ]
    }

    /// Whether the policy retries at all.
    pub fn enabled(&self) -> bool {
        self.max_tries > 1
    }

    pub fn is_default(&self) -> bool {
        *self == RetryPolicy::default()
    }

    /// Whether an error of this class gets another try.
    pub fn retries(&self, class: ErrorClass) -> bool {
        self.retry_on.contains(&class)
    }

    /// The wait before retry number `retry` (1 = the first retry), before jitter, capped at
    /// the maximum delay.
    pub fn base_delay(&self, retry: u32) -> Duration {
        let initial = self.initial_delay_ms as f64;
        let n = retry.max(1);
        let ms = match self.backoff {
            Backoff::Fixed => initial,
            Backoff::Linear => initial * f64::from(n),
            Backoff::Exponential => initial * self.factor.max(1.0).powi(n as i32 - 1),
            Backoff::Fibonacci => initial * fibonacci(n) as f64,
        };
        Duration::from_millis(ms.min(self.max_delay_ms as f64).max(0.0) as u64)
    }

    /// The wait before retry `retry`, with jitter from `random` (uniform in [0, 1)).
    pub fn delay(&self, retry: u32, random: f64) -> Duration {
        let base = self.base_delay(retry).as_secs_f64();
        let r = random.clamp(0.0, 1.0);
        let secs = match self.jitter {
            Jitter::None => base,
            Jitter::Full => base * r,
            Jitter::Quarter => base * (0.75 + 0.5 * r),
        };
        Duration::from_secs_f64(secs)
    }

    /// Problems with the policy's values, as (field, message) pairs.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if !(1..=MAX_TRIES).contains(&self.max_tries) {
            problems.push(("maxTries", format!("must be between 1 and {MAX_TRIES}, found {}", self.max_tries)));
        }
        if self.initial_delay_ms > MAX_DELAY_MS {
            problems.push(("initialDelayMs", format!("must be at most {MAX_DELAY_MS} (one hour)")));
        }
        if self.max_delay_ms > MAX_DELAY_MS {
            problems.push(("maxDelayMs", format!("must be at most {MAX_DELAY_MS} (one hour)")));
        }
        if !(self.factor.is_finite() && (1.0..=10.0).contains(&self.factor)) {
            problems.push(("factor", format!("must be between 1 and 10, found {}", self.factor)));
        }
        problems
    }
}

// --- Resilience state, as the API shows it -------------------------------------------

/// A breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum BreakerState {
    /// Calls pass.
    Closed,
    /// Calls fail at once until the reset timeout has passed.
    Open,
    /// One trial call passes; its outcome closes or re-opens the breaker.
    HalfOpen,
}

/// A breaker as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BreakerInfo {
    /// The host (`example.com:443`), or `account:<type>/<label>` for a connection account.
    pub key: String,
    pub state: BreakerState,
    /// Failures in a row.
    pub failures: u32,
    /// For an open breaker: milliseconds until the trial call.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_in_ms: Option<u64>,
    pub transitions: u64,
}

/// A rate: `per_second` sustained, bursts of up to `burst` calls.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rate {
    pub per_second: f64,
    pub burst: u32,
}

/// A rate for one host: a preset, or the user's override.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HostRate {
    /// The host name, e.g. `api.github.com`, or `connection:<type>` for every call made with
    /// an account of that connection type.
    pub host: String,
    pub per_second: f64,
    pub burst: u32,
}

/// A host's limit as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LimitInfo {
    pub host: String,
    pub configured: Rate,
    /// The rate in force now (lower than configured after 429s).
    pub current_per_second: f64,
    /// Calls that had to wait, and for how long in all.
    pub waits: u64,
    pub waited_ms: u64,
}

fn fibonacci(n: u32) -> u64 {
    let (mut a, mut b) = (1u64, 1u64);
    for _ in 1..n {
        (a, b) = (b, a.saturating_add(b));
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(backoff: Backoff) -> RetryPolicy {
        RetryPolicy {
            max_tries: 6,
            backoff,
            initial_delay_ms: 100,
            factor: 3.0,
            max_delay_ms: 2_000,
            jitter: Jitter::None,
            ..RetryPolicy::default()
        }
    }

    fn delays(p: &RetryPolicy) -> Vec<u64> {
        (1..=6).map(|n| p.base_delay(n).as_millis() as u64).collect()
    }

    #[test]
    fn strategies_grow_as_named_and_stop_at_the_cap() {
        assert_eq!(delays(&policy(Backoff::Fixed)), [100, 100, 100, 100, 100, 100]);
        assert_eq!(delays(&policy(Backoff::Linear)), [100, 200, 300, 400, 500, 600]);
        assert_eq!(delays(&policy(Backoff::Exponential)), [100, 300, 900, 2000, 2000, 2000]);
        assert_eq!(delays(&policy(Backoff::Fibonacci)), [100, 100, 200, 300, 500, 800]);
    }

    #[test]
    fn jitter_stays_in_its_band() {
        let mut p = policy(Backoff::Fixed);
        p.jitter = Jitter::Quarter;
        assert_eq!(p.delay(1, 0.0).as_millis(), 75);
        assert_eq!(p.delay(1, 0.999_999).as_millis(), 124);
        p.jitter = Jitter::Full;
        assert_eq!(p.delay(1, 0.0).as_millis(), 0);
        assert_eq!(p.delay(1, 0.5).as_millis(), 50);
    }

    #[test]
    fn the_empty_object_is_one_try_with_sensible_defaults() {
        let p: RetryPolicy = serde_json::from_str("{}").unwrap();
        assert!(!p.enabled());
        assert!(p.retries(ErrorClass::Transient) && !p.retries(ErrorClass::Permanent));
        let p: RetryPolicy =
            serde_json::from_str(r#"{"maxTries": 4, "backoff": "fibonacci", "retryOn": ["rate_limit"]}"#).unwrap();
        assert!(p.enabled() && p.retries(ErrorClass::RateLimit) && !p.retries(ErrorClass::Transient));
        assert_eq!(serde_json::to_value(RetryPolicy::default()).unwrap()["jitter"], "quarter");
    }

    #[test]
    fn problems_name_the_field() {
        let p = RetryPolicy { max_tries: 0, factor: 0.5, ..RetryPolicy::default() };
        let fields: Vec<_> = p.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["maxTries", "factor"]);
    }
}
