//! Resilience: retries under a node's policy (backon), server-requested waits (Retry-After,
//! rate-limit reset headers), a circuit breaker per host and a token-bucket rate limiter per
//! host (governor) that queues calls and slows down after a 429.
//!
//! Every wait goes through tokio's timer, so tests on tokio's paused clock control them all.

use backon::Retryable;
use governor::clock::{Clock as GovernorClock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use std::collections::HashMap;
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError};
use switchyard_model::retry::{BreakerInfo, BreakerState, HostRate, LimitInfo, MAX_DELAY_MS, Rate, RetryPolicy};
use tokio::time::Instant;

/// Delays of a policy as an iterator, the shape backon takes.
struct PolicyDelays {
    policy: RetryPolicy,
    retry: u32,
}

impl Iterator for PolicyDelays {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if self.retry + 1 >= self.policy.max_tries {
            return None;
        }
        self.retry += 1;
        Some(self.policy.delay(self.retry, fastrand::f64()))
    }
}

/// What a retry loop reports before each retry: the try about to start, the wait, the error.
pub type RetryObserver<'a> = &'a (dyn Fn(u32, Duration, &NodeError) + Send + Sync);

/// Runs `attempt` until it succeeds, fails with an error the policy does not retry, or the
/// tries run out. A server-requested wait (the error's `retry_after_ms`) replaces the
/// computed delay. Cancelled errors are never retried.
pub async fn retry<T, F, Fut>(policy: &RetryPolicy, observe: RetryObserver<'_>, attempt: F) -> Result<T, NodeError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, NodeError>>,
{
    if !policy.enabled() {
        let mut attempt = attempt;
        return attempt().await;
    }
    let delays = PolicyDelays { policy: policy.clone(), retry: 0 };
    let mut tries = 1u32;
    attempt
        .retry(delays)
        .sleep(tokio::time::sleep)
        .when(|e: &NodeError| e.code != ErrorCode::Cancelled && policy.retries(e.class))
        .adjust(|e: &NodeError, computed: Option<Duration>| {
            computed.map(|d| match e.retry_after_ms {
                Some(ms) => Duration::from_millis(ms.min(MAX_DELAY_MS)),
                None => d,
            })
        })
        .notify(|e: &NodeError, wait: Duration| {
            tries += 1;
            observe(tries, wait, e);
        })
        .await
}

/// A wait a server asked for: `Retry-After` (seconds or an HTTP date), else
/// `RateLimit-Reset` / `X-RateLimit-Reset` (seconds from now, or a Unix time when larger
/// than a day's worth of seconds). `now` is the current wall time.
pub fn requested_wait(headers: &reqwest::header::HeaderMap, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(value) = text("retry-after") {
        if let Ok(seconds) = value.parse::<f64>() {
            return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
        }
        if let Ok(date) = chrono::DateTime::parse_from_rfc2822(value) {
            let delta = date.with_timezone(&chrono::Utc) - now;
            return Some(delta.to_std().unwrap_or(Duration::ZERO));
        }
    }
    for name in ["ratelimit-reset", "x-ratelimit-reset"] {
        if let Some(seconds) = text(name).and_then(|v| v.parse::<f64>().ok()).filter(|s| s.is_finite() && *s >= 0.0) {
            const DAY: f64 = 86_400.0;
            let wait = if seconds > DAY { seconds - now.timestamp() as f64 } else { seconds };
            return Some(Duration::from_secs_f64(wait.max(0.0)));
        }
    }
    None
}

// --- Circuit breaker -------------------------------------------------------------------

/// When a breaker opens and how long it stays open.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerSettings {
    /// Failures in a row that open the breaker.
    pub threshold: u32,
    /// How long it stays open before a trial call.
    pub reset_timeout: Duration,
}

impl Default for BreakerSettings {
    fn default() -> BreakerSettings {
        BreakerSettings { threshold: 5, reset_timeout: Duration::from_secs(30) }
    }
}

#[derive(Debug)]
struct Breaker {
    state: BreakerState,
    failures: u32,
    opened_at: Option<Instant>,
    trial_in_flight: bool,
    /// State changes since the breaker was made (for metrics).
    transitions: u64,
}

impl Breaker {
    fn new() -> Breaker {
        Breaker { state: BreakerState::Closed, failures: 0, opened_at: None, trial_in_flight: false, transitions: 0 }
    }

    fn set(&mut self, state: BreakerState) {
        if self.state != state {
            self.state = state;
            self.transitions += 1;
        }
    }
}

/// Which failures count against a breaker: the other side failing, not our request being
/// wrong.
fn counts_against(class: ErrorClass) -> bool {
    matches!(class, ErrorClass::Transient | ErrorClass::Timeout | ErrorClass::Network)
}

// --- Rate limits ------------------------------------------------------------------------

/// Rates for hosts whose limits are published; user settings override them.
pub fn preset_rates() -> Vec<(&'static str, Rate)> {
    vec![
        // 5,000 requests an hour for a user token; bursts are allowed.
        ("api.github.com", Rate { per_second: 5000.0 / 3600.0, burst: 50 }),
        // Web API tier 3: about 50 calls a minute per method.
        ("slack.com", Rate { per_second: 50.0 / 60.0, burst: 20 }),
        // Most Google APIs: per-user quotas around 10 calls a second.
        ("www.googleapis.com", Rate { per_second: 10.0, burst: 10 }),
        // Discord: 50 requests a second globally.
        ("discord.com", Rate { per_second: 50.0, burst: 50 }),
        // Notion: an average of 3 requests a second.
        ("api.notion.com", Rate { per_second: 3.0, burst: 3 }),
        // OpenAI-style APIs vary by account; a cautious default.
        ("api.openai.com", Rate { per_second: 5.0, burst: 10 }),
    ]
}

/// governor's clock on tokio's timer, so queued calls follow tokio's (paused) clock.
#[derive(Debug, Clone, Default)]
struct TokioTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct TokioInstant(Instant);

impl std::ops::Add<governor::nanos::Nanos> for TokioInstant {
    type Output = TokioInstant;
    fn add(self, n: governor::nanos::Nanos) -> TokioInstant {
        TokioInstant(self.0 + Duration::from(n))
    }
}

impl Reference for TokioInstant {
    fn duration_since(&self, earlier: Self) -> governor::nanos::Nanos {
        governor::nanos::Nanos::from(self.0.saturating_duration_since(earlier.0))
    }

    fn saturating_sub(&self, duration: governor::nanos::Nanos) -> Self {
        TokioInstant(self.0.checked_sub(Duration::from(duration)).unwrap_or(self.0))
    }
}

impl GovernorClock for TokioTime {
    type Instant = TokioInstant;
    fn now(&self) -> TokioInstant {
        TokioInstant(Instant::now())
    }
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, TokioTime, NoOpMiddleware<TokioInstant>>;

/// One host's limiter. After a 429 the rate halves (down to a tenth of the configured
/// rate); every `RECOVER_AFTER` successes it grows back by a quarter.
struct HostLimit {
    configured: Rate,
    current: f64,
    limiter: Arc<Limiter>,
    successes: u32,
    waits: u64,
    waited: Duration,
}

const RECOVER_AFTER: u32 = 20;

fn limiter(per_second: f64, burst: u32) -> Arc<Limiter> {
    let per_second = per_second.max(0.001);
    let period = Duration::from_secs_f64(1.0 / per_second);
    let quota = Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN));
    Arc::new(RateLimiter::direct_with_clock(quota, TokioTime))
}

impl HostLimit {
    fn new(rate: Rate) -> HostLimit {
        HostLimit {
            configured: rate,
            current: rate.per_second,
            limiter: limiter(rate.per_second, rate.burst),
            successes: 0,
            waits: 0,
            waited: Duration::ZERO,
        }
    }

    fn set_rate(&mut self, per_second: f64) {
        let floor = self.configured.per_second / 10.0;
        let rate = per_second.clamp(floor, self.configured.per_second);
        if (rate - self.current).abs() > f64::EPSILON {
            self.current = rate;
            // The burst shrinks with the rate: a slowed host gets no burst of old size.
            let burst = ((self.configured.burst as f64) * rate / self.configured.per_second).ceil() as u32;
            self.limiter = limiter(rate, burst);
        }
    }
}

// --- Shared state -----------------------------------------------------------------------

/// Breakers and rate limits, shared by every run of an engine.
pub struct Resilience {
    breaker: Mutex<BreakerSettings>,
    breakers: Mutex<HashMap<String, Breaker>>,
    rates: Mutex<HashMap<String, Rate>>,
    limits: Mutex<HashMap<String, HostLimit>>,
}

impl std::fmt::Debug for Resilience {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resilience").field("breaker", &self.breaker_settings()).finish()
    }
}

impl Default for Resilience {
    fn default() -> Resilience {
        Resilience::new(BreakerSettings::default())
    }
}

/// A call admitted by a breaker: report how it went.
#[derive(Debug)]
pub struct Admission {
    key: String,
    trial: bool,
}

impl Admission {
    /// Whether this call is the trial of an open breaker (which it just made half-open).
    pub fn is_trial(&self) -> bool {
        self.trial
    }
}

impl Resilience {
    pub fn new(breaker: BreakerSettings) -> Resilience {
        let rates = preset_rates().into_iter().map(|(h, r)| (h.to_string(), r)).collect();
        Resilience {
            breaker: Mutex::new(breaker),
            breakers: Mutex::new(HashMap::new()),
            rates: Mutex::new(rates),
            limits: Mutex::new(HashMap::new()),
        }
    }

    pub fn breaker_settings(&self) -> BreakerSettings {
        *self.breaker.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes when breakers open and how long they stay open (from now on).
    pub fn set_breaker_settings(&self, settings: BreakerSettings) {
        *self.breaker.lock().unwrap_or_else(|p| p.into_inner()) = settings;
    }

    /// The presets with the user's rates on top: an override replaces its host's preset, a
    /// rate of 0 calls per second turns the host's limit off.
    pub fn apply_rates(&self, overrides: &[HostRate]) {
        let mut rates: HashMap<String, Rate> = preset_rates().into_iter().map(|(h, r)| (h.to_string(), r)).collect();
        for o in overrides {
            let host = o.host.trim().to_ascii_lowercase();
            if o.per_second > 0.0 {
                rates.insert(host, Rate { per_second: o.per_second, burst: o.burst.max(1) });
            } else {
                rates.remove(&host);
            }
        }
        *self.rates.lock().unwrap_or_else(|p| p.into_inner()) = rates;
        self.limits.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Sets (or with `None` removes) the rate for a host, replacing any preset.
    pub fn set_rate(&self, host: &str, rate: Option<Rate>) {
        let host = host.to_ascii_lowercase();
        let mut rates = self.rates.lock().unwrap_or_else(|p| p.into_inner());
        match rate {
            Some(r) => rates.insert(host.clone(), r),
            None => rates.remove(&host),
        };
        self.limits.lock().unwrap_or_else(|p| p.into_inner()).remove(&host);
    }

    /// Fails fast when the breaker for `key` would refuse a call now (without taking the
    /// trial call): checked before a call queues for its rate limit.
    pub fn check(&self, key: &str) -> Result<(), NodeError> {
        self.decide(key, false).map(|_| ())
    }

    /// Asks the breaker for `key` to let a call through.
    pub fn admit(&self, key: &str) -> Result<Admission, NodeError> {
        self.decide(key, true)
    }

    fn decide(&self, key: &str, take: bool) -> Result<Admission, NodeError> {
        let settings = self.breaker_settings();
        let mut breakers = self.breakers.lock().unwrap_or_else(|p| p.into_inner());
        let b = breakers.entry(key.to_string()).or_insert_with(Breaker::new);
        match b.state {
            BreakerState::Closed => Ok(Admission { key: key.to_string(), trial: false }),
            BreakerState::Open | BreakerState::HalfOpen => {
                let opened = b.opened_at.unwrap_or_else(Instant::now);
                let elapsed = Instant::now().saturating_duration_since(opened);
                if elapsed >= settings.reset_timeout && !b.trial_in_flight {
                    if take {
                        b.set(BreakerState::HalfOpen);
                        b.trial_in_flight = true;
                    }
                    return Ok(Admission { key: key.to_string(), trial: take });
                }
                let wait = settings.reset_timeout.saturating_sub(elapsed);
                Err(NodeError::new(
                    ErrorCode::CircuitOpen,
                    format!(
                        "calls to {key} are paused: {} failed in a row; the next try goes through in {:.0} s",
                        b.failures,
                        wait.as_secs_f64().ceil()
                    ),
                )
                .with_class(ErrorClass::Transient)
                .with_retry_after(Some(wait.max(Duration::from_millis(1)))))
            }
        }
    }

    /// Reports how an admitted call went; returns the breaker's new state when it changed.
    pub fn record(&self, admission: Admission, outcome: Result<(), ErrorClass>) -> Option<BreakerState> {
        let threshold = self.breaker_settings().threshold;
        let mut breakers = self.breakers.lock().unwrap_or_else(|p| p.into_inner());
        let b = breakers.get_mut(&admission.key)?;
        let before = b.state;
        if admission.trial {
            b.trial_in_flight = false;
        }
        match outcome {
            Err(class) if counts_against(class) => {
                b.failures += 1;
                if admission.trial || b.failures >= threshold {
                    b.set(BreakerState::Open);
                    b.opened_at = Some(Instant::now());
                }
            }
            _ => {
                b.failures = 0;
                b.opened_at = None;
                b.set(BreakerState::Closed);
            }
        }
        (b.state != before).then_some(b.state)
    }

    /// Every breaker's state.
    pub fn breakers(&self) -> Vec<BreakerInfo> {
        let reset = self.breaker_settings().reset_timeout;
        let breakers = self.breakers.lock().unwrap_or_else(|p| p.into_inner());
        let mut list: Vec<BreakerInfo> = breakers
            .iter()
            .map(|(key, b)| BreakerInfo {
                key: key.clone(),
                state: b.state,
                failures: b.failures,
                retry_in_ms: (b.state != BreakerState::Closed).then(|| {
                    let elapsed = b.opened_at.map_or(Duration::ZERO, |t| Instant::now().saturating_duration_since(t));
                    reset.saturating_sub(elapsed).as_millis() as u64
                }),
                transitions: b.transitions,
            })
            .collect();
        list.sort_by(|a, b| a.key.cmp(&b.key));
        list
    }

    fn limiter_for(&self, host: &str) -> Option<Arc<Limiter>> {
        let rate = *self.rates.lock().unwrap_or_else(|p| p.into_inner()).get(host)?;
        let mut limits = self.limits.lock().unwrap_or_else(|p| p.into_inner());
        Some(limits.entry(host.to_string()).or_insert_with(|| HostLimit::new(rate)).limiter.clone())
    }

    /// Waits until the host's rate allows a call (no wait for hosts without a rate). Returns
    /// how long it waited.
    pub async fn throttle(&self, host: &str) -> Duration {
        let host = host.to_ascii_lowercase();
        // Only time spent asleep counts: a call the limiter lets through at once (or a host
        // without a rate) waited nothing, and reports no wait.
        let mut waited = Duration::ZERO;
        while let Some(limiter) = self.limiter_for(&host) {
            match limiter.check() {
                Ok(()) => break,
                Err(not_until) => {
                    let slept = Instant::now();
                    tokio::time::sleep(not_until.wait_time_from(TokioTime.now())).await;
                    waited += Instant::now().saturating_duration_since(slept);
                }
            }
        }
        if !waited.is_zero()
            && let Some(l) = self.limits.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&host)
        {
            l.waits += 1;
            l.waited += waited;
        }
        waited
    }

    /// Tells the host's limiter how a call went: a 429 halves its rate, successes bring it
    /// back.
    pub fn rate_feedback(&self, host: &str, rate_limited: bool) {
        let host = host.to_ascii_lowercase();
        let mut limits = self.limits.lock().unwrap_or_else(|p| p.into_inner());
        let Some(l) = limits.get_mut(&host) else { return };
        if rate_limited {
            l.successes = 0;
            let slower = l.current / 2.0;
            l.set_rate(slower);
        } else if l.current < l.configured.per_second {
            l.successes += 1;
            if l.successes >= RECOVER_AFTER {
                l.successes = 0;
                let faster = l.current * 1.25;
                l.set_rate(faster);
            }
        }
    }

    /// Every host limit in use.
    pub fn limits(&self) -> Vec<LimitInfo> {
        let limits = self.limits.lock().unwrap_or_else(|p| p.into_inner());
        let mut list: Vec<LimitInfo> = limits
            .iter()
            .map(|(host, l)| LimitInfo {
                host: host.clone(),
                configured: l.configured,
                current_per_second: l.current,
                waits: l.waits,
                waited_ms: l.waited.as_millis() as u64,
            })
            .collect();
        list.sort_by(|a, b| a.host.cmp(&b.host));
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn server_requested_waits() {
        let now: chrono::DateTime<chrono::Utc> = "2026-11-22T10:00:00Z".parse().unwrap();
        assert_eq!(requested_wait(&headers(&[("retry-after", "7")]), now), Some(Duration::from_secs(7)));
        assert_eq!(
            requested_wait(&headers(&[("retry-after", "Sun, 22 Nov 2026 10:00:30 GMT")]), now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            requested_wait(&headers(&[("retry-after", "Sun, 22 Nov 2026 09:00:00 GMT")]), now),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(requested_wait(&headers(&[("ratelimit-reset", "12")]), now), Some(Duration::from_secs(12)));
        let epoch = (now.timestamp() + 45).to_string();
        assert_eq!(requested_wait(&headers(&[("x-ratelimit-reset", &epoch)]), now), Some(Duration::from_secs(45)));
        assert_eq!(requested_wait(&headers(&[("retry-after", "soon")]), now), None);
        assert_eq!(requested_wait(&HeaderMap::new(), now), None);
    }
}
