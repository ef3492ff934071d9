//! Time, injected so that runs are deterministic under test.

use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

/// Where a run gets "now" from. Waiting always goes through tokio's timer, so tests that
/// pause tokio's clock control both.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that starts at a fixed time and advances with tokio's timer, so that a test on
/// tokio's paused clock sees `now()` move exactly as far as the timers it advanced.
#[derive(Debug, Clone)]
pub struct TokioClock {
    start_wall: DateTime<Utc>,
    start: tokio::time::Instant,
}

impl TokioClock {
    pub fn starting_at(start_wall: DateTime<Utc>) -> TokioClock {
        TokioClock { start_wall, start: tokio::time::Instant::now() }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = tokio::time::Instant::now().saturating_duration_since(self.start);
        self.start_wall + chrono::Duration::from_std(elapsed).unwrap_or_default()
    }
}

/// A clock that moves only when told to: for tests and benchmarks that talk to real
/// servers (where tokio's paused clock would also fire their I/O timeouts) but need to jump
/// past an expiry.
#[derive(Debug)]
pub struct ManualClock(std::sync::Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn starting_at(start: DateTime<Utc>) -> ManualClock {
        ManualClock(std::sync::Mutex::new(start))
    }

    pub fn advance(&self, by: chrono::Duration) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub type SharedClock = Arc<dyn Clock>;

/// Milliseconds as u32 for events and records, saturating.
pub fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

/// RFC 3339 text with milliseconds, as used in events and records.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    // Every run event carries one: written digit by digit for years 0–9999 (chrono's
    // formatter costs several times more), by chrono otherwise.
    let year = t.year();
    if !(0..=9999).contains(&year) {
        return t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    }
    let millis = t.timestamp_subsec_millis().min(999);
    let mut out = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut value: u32| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year as u32);
    put(5, 2, t.month());
    put(8, 2, t.day());
    put(11, 2, t.hour());
    put(14, 2, t.minute());
    put(17, 2, t.second().min(59));
    put(20, 3, millis);
    std::str::from_utf8(&out).map(str::to_owned).unwrap_or_default()
}

/// [`rfc3339`] of Unix milliseconds (the epoch for a time out of range).
pub fn rfc3339_ms(ms: i64) -> String {
    rfc3339(DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_writes_what_chrono_writes() {
        let chrono = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        // Every field's carry, leap days, the ends of the fast path's years, and a spread of
        // instants between them.
        let mut instants: Vec<i64> =
            vec![0, -1, 951_782_399_999, 951_782_400_000, 1_700_000_000_123, 253_402_300_799_999, -62_167_219_200_000];
        let mut x: i64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            instants.push(x.rem_euclid(253_402_300_800_000 + 62_167_219_200_000) - 62_167_219_200_000);
        }
        for ms in instants {
            let t = DateTime::<Utc>::from_timestamp_millis(ms).unwrap();
            assert_eq!(rfc3339(t), chrono(t), "{ms}");
        }
        // Outside years 0–9999 chrono's own form.
        for ms in [253_402_300_800_000, -62_167_219_200_001] {
            let t = DateTime::<Utc>::from_timestamp_millis(ms).unwrap();
            assert_eq!(rfc3339(t), chrono(t));
        }
        // Below a millisecond is cut, as chrono cuts it.
        let t = DateTime::<Utc>::from_timestamp(1_700_000_000, 123_999_999).unwrap();
        assert_eq!(
            (rfc3339(t), chrono(t).as_str()),
            ("2023-11-14T22:13:20.123Z".to_string(), "2023-11-14T22:13:20.123Z")
        );
        assert_eq!(rfc3339_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }
}
