//! Metric rollups: what runs and nodes did, counted in time buckets. Durations
//! (milliseconds, as runs report them) go into HDR histograms (2 significant digits: 1 %
//! resolution in about 21 KiB per bucket), so percentiles stay correct when buckets are
//! merged: per-minute buckets age into per-hour buckets without losing counts or precision.
//! Buckets serialize (histograms in HDR's V2 format, base64) for storage.
//!
//! Pure data (no clock, no I/O; callers pass times as Unix milliseconds): the metrics
//! crate's recorder fills them, the store keeps and ages them.

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The longest duration recorded exactly (one day, in milliseconds); longer ones are clamped.
const MAX_MILLIS: u64 = 24 * 3600 * 1000;

pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 3_600_000;

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("a stored histogram cannot be read: {0}")]
    Histogram(String),
    #[error("buckets of different lengths cannot be merged ({0} ms and {1} ms)")]
    Width(i64, i64),
}

/// How a run or node ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

fn histogram() -> Histogram<u64> {
    // Fixed, valid bounds (1 ms to a day, 2 significant digits): this cannot fail. Runs
    // shorter than a millisecond count as 1 ms.
    Histogram::new_with_bounds(1, MAX_MILLIS, 2).expect("valid histogram bounds")
}

/// What a bucket counts, in memory and as stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub started: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub items_in: u64,
    pub items_out: u64,
    pub retries: u64,
    /// Errors by class (`transient`, `rate_limit`, …).
    pub errors: BTreeMap<String, u64>,
    /// Calls that waited for a rate limit, and how long they waited in all (ms).
    #[serde(default)]
    pub rate_waits: u64,
    #[serde(default)]
    pub rate_wait_ms: u64,
    /// Circuit breaker state changes the calls caused.
    #[serde(default)]
    pub breaker_changes: u64,
    /// What AI nodes' model calls used, by [`model_key`] (model and account).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tokens: BTreeMap<String, Tokens>,
}

/// Model calls and the tokens they used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tokens {
    pub calls: u64,
    #[serde(rename = "in")]
    pub tokens_in: u64,
    #[serde(rename = "out")]
    pub tokens_out: u64,
}

impl Tokens {
    pub fn add(&mut self, other: Tokens) {
        self.calls += other.calls;
        self.tokens_in += other.tokens_in;
        self.tokens_out += other.tokens_out;
    }
}

/// The key of a model's tokens in [`Counts::tokens`]: `model @ account`.
pub fn model_key(model: &str, account: &str) -> String {
    format!("{model} @ {account}")
}

/// The model and account of a [`model_key`].
pub fn split_model_key(key: &str) -> (&str, &str) {
    key.rsplit_once(" @ ").unwrap_or((key, ""))
}

impl Counts {
    fn merge(&mut self, other: &Counts) {
        self.started += other.started;
        self.succeeded += other.succeeded;
        self.failed += other.failed;
        self.items_in += other.items_in;
        self.items_out += other.items_out;
        self.retries += other.retries;
        self.rate_waits += other.rate_waits;
        self.rate_wait_ms += other.rate_wait_ms;
        self.breaker_changes += other.breaker_changes;
        for (class, n) in &other.errors {
            *self.errors.entry(class.clone()).or_default() += n;
        }
        for (key, t) in &other.tokens {
            self.tokens.entry(key.clone()).or_default().add(*t);
        }
    }

    /// Tokens in and out across every model.
    pub fn token_totals(&self) -> Tokens {
        let mut all = Tokens::default();
        for t in self.tokens.values() {
            all.add(*t);
        }
        all
    }
}

/// Counts and durations of one series (a workflow, or a node of it) over one time bucket.
#[derive(Debug, Clone)]
pub struct Bucket {
    /// Start of the bucket (Unix ms, a multiple of `width_ms`).
    pub start_ms: i64,
    pub width_ms: i64,
    pub counts: Counts,
    /// Durations of finished runs or node runs, in milliseconds.
    pub durations: Histogram<u64>,
}

impl Bucket {
    pub fn new(start_ms: i64, width_ms: i64) -> Bucket {
        Bucket { start_ms, width_ms, counts: Counts::default(), durations: histogram() }
    }

    /// A finished run (or node run) of `millis` milliseconds.
    pub fn finished(&mut self, outcome: Outcome, millis: u64) {
        match outcome {
            Outcome::Success => self.counts.succeeded += 1,
            Outcome::Failure => self.counts.failed += 1,
        }
        self.durations.saturating_record(millis.clamp(1, MAX_MILLIS));
    }

    pub fn error(&mut self, class: &str) {
        *self.counts.errors.entry(class.to_string()).or_default() += 1;
    }

    /// The duration at `percentile` (0–100), in milliseconds; `None` without finished runs.
    pub fn percentile(&self, percentile: f64) -> Option<u64> {
        (!self.durations.is_empty()).then(|| self.durations.value_at_percentile(percentile))
    }

    /// Adds another bucket's counts and durations into this one.
    pub fn merge(&mut self, other: &Bucket) {
        self.counts.merge(&other.counts);
        // Same bounds and precision on both sides: adding cannot fail.
        let _ = self.durations.add(&other.durations);
    }

    /// Success rate of the finished runs, 0–1.
    pub fn success_rate(&self) -> Option<f64> {
        let finished = self.counts.succeeded + self.counts.failed;
        (finished > 0).then(|| self.counts.succeeded as f64 / finished as f64)
    }

    /// The bucket as stored.
    pub fn to_record(&self) -> BucketRecord {
        let mut bytes = Vec::new();
        // Serializing into memory cannot fail.
        let _ = V2Serializer::new().serialize(&self.durations, &mut bytes);
        BucketRecord {
            start_ms: self.start_ms,
            width_ms: self.width_ms,
            counts: self.counts.clone(),
            durations: base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }

    pub fn from_record(record: &BucketRecord) -> Result<Bucket, MetricsError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&record.durations)
            .map_err(|e| MetricsError::Histogram(e.to_string()))?;
        let durations: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| MetricsError::Histogram(format!("{e:?}")))?;
        // Into a histogram of the usual bounds when the stored one has others.
        let merged = if durations.low() == 1 && durations.high() == MAX_MILLIS && durations.sigfig() == 2 {
            durations
        } else {
            let mut merged = histogram();
            merged.add(&durations).map_err(|e| MetricsError::Histogram(format!("{e:?}")))?;
            merged
        };
        let bucket = Bucket {
            start_ms: record.start_ms,
            width_ms: record.width_ms,
            counts: record.counts.clone(),
            durations: merged,
        };
        Ok(bucket)
    }
}

/// A bucket as stored (a JSON column, or a row's fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BucketRecord {
    pub start_ms: i64,
    pub width_ms: i64,
    #[serde(flatten)]
    pub counts: Counts,
    /// The duration histogram, HDR V2 format, base64.
    pub durations: String,
}

/// The buckets of one series: per-minute buckets for recent time, per-hour buckets after.
#[derive(Debug, Clone, Default)]
pub struct Series {
    minutes: BTreeMap<i64, Bucket>,
    hours: BTreeMap<i64, Bucket>,
}

/// The start of the `width`-long bucket that holds `ms`.
pub fn floor(ms: i64, width: i64) -> i64 {
    ms.div_euclid(width) * width
}

impl Series {
    /// The minute bucket that holds `at_ms`.
    pub fn minute(&mut self, at_ms: i64) -> &mut Bucket {
        let start = floor(at_ms, MINUTE_MS);
        self.minutes.entry(start).or_insert_with(|| Bucket::new(start, MINUTE_MS))
    }

    /// Merges the minute buckets older than `before_ms` into hour buckets. Counts and
    /// histograms are added, so totals and percentiles over any range stay the same.
    pub fn age(&mut self, before_ms: i64) {
        let old: Vec<i64> = self.minutes.range(..floor(before_ms, MINUTE_MS)).map(|(k, _)| *k).collect();
        for start in old {
            if let Some(bucket) = self.minutes.remove(&start) {
                let hour = floor(start, HOUR_MS);
                self.hours.entry(hour).or_insert_with(|| Bucket::new(hour, HOUR_MS)).merge(&bucket);
            }
        }
    }

    /// Drops minute and hour buckets that start before `before_ms` (the live view keeps
    /// recent time only; the rollups in SQLite keep the rest).
    pub fn trim(&mut self, before_ms: i64) {
        self.minutes.retain(|start, _| *start >= floor(before_ms, MINUTE_MS));
        self.hours.retain(|start, _| *start >= floor(before_ms, HOUR_MS));
    }

    /// The minute buckets starting in `[from_ms, to_ms)`, oldest first.
    pub fn minutes(&self, from_ms: i64, to_ms: i64) -> impl Iterator<Item = &Bucket> {
        self.minutes.range(from_ms..to_ms).map(|(_, b)| b)
    }

    /// Drops hour buckets older than `before_ms` (retention).
    pub fn forget(&mut self, before_ms: i64) {
        self.hours.retain(|start, _| *start >= floor(before_ms, HOUR_MS));
    }

    /// Everything between `from_ms` (inclusive) and `to_ms` (exclusive) in one bucket. A
    /// bucket counts when it starts inside the range.
    pub fn total(&self, from_ms: i64, to_ms: i64) -> Bucket {
        let mut total = Bucket::new(from_ms, to_ms - from_ms);
        for bucket in self.hours.range(from_ms..to_ms).chain(self.minutes.range(from_ms..to_ms)).map(|(_, b)| b) {
            total.merge(bucket);
        }
        total
    }

    /// The buckets as stored.
    pub fn records(&self) -> Vec<BucketRecord> {
        self.hours.values().chain(self.minutes.values()).map(Bucket::to_record).collect()
    }

    /// A series from stored buckets.
    pub fn from_records(records: &[BucketRecord]) -> Result<Series, MetricsError> {
        let mut series = Series::default();
        for record in records {
            let bucket = Bucket::from_record(record)?;
            let map = match record.width_ms {
                MINUTE_MS => &mut series.minutes,
                HOUR_MS => &mut series.hours,
                other => return Err(MetricsError::Width(other, MINUTE_MS)),
            };
            map.insert(record.start_ms, bucket);
        }
        Ok(series)
    }

    pub fn minute_count(&self) -> usize {
        self.minutes.len()
    }

    pub fn hour_count(&self) -> usize {
        self.hours.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_763_800_000_000 - 1_763_800_000_000 % HOUR_MS;

    fn within(actual: u64, expected: u64) -> bool {
        // 2 significant digits: within 1 %.
        (actual as f64 - expected as f64).abs() <= expected as f64 * 0.01 + 1.0
    }

    #[test]
    fn percentiles_of_a_uniform_distribution() {
        let mut b = Bucket::new(T0, MINUTE_MS);
        for millis in 1..=100_000u64 {
            b.finished(Outcome::Success, millis);
        }
        for (p, expected) in [(50.0, 50_000), (95.0, 95_000), (99.0, 99_000), (100.0, 100_000)] {
            let got = b.percentile(p).unwrap();
            assert!(within(got, expected), "p{p}: {got} vs {expected}");
        }
        assert_eq!(b.success_rate(), Some(1.0));
        assert_eq!(Bucket::new(T0, MINUTE_MS).percentile(50.0), None);
    }

    #[test]
    fn percentiles_of_a_skewed_distribution() {
        // 990 fast calls (12 ms) and 10 slow ones (2 s): p99 is fast, p99.9 is slow.
        let mut b = Bucket::new(T0, MINUTE_MS);
        for _ in 0..990 {
            b.finished(Outcome::Success, 12);
        }
        for _ in 0..10 {
            b.finished(Outcome::Failure, 2_000);
        }
        assert!(within(b.percentile(99.0).unwrap(), 12));
        assert!(within(b.percentile(99.9).unwrap(), 2_000));
        assert_eq!(b.success_rate(), Some(0.99));
    }

    #[test]
    fn ageing_minutes_into_hours_keeps_counts_and_percentiles() {
        let mut series = Series::default();
        // Three hours of traffic, a run every 10 s with a duration that depends on the time.
        let mut reference = Bucket::new(T0, 3 * HOUR_MS);
        for i in 0..(3 * 360) {
            let at = T0 + i * 10_000;
            let millis = 1 + (i as u64 * 7_919) % 50_000;
            let outcome = if i % 25 == 0 { Outcome::Failure } else { Outcome::Success };
            let b = series.minute(at);
            b.counts.started += 1;
            b.finished(outcome, millis);
            if outcome == Outcome::Failure {
                b.error("transient");
            }
            reference.counts.started += 1;
            reference.finished(outcome, millis);
        }
        let before = series.total(T0, T0 + 3 * HOUR_MS);
        assert_eq!(series.minute_count(), 180);
        series.age(T0 + 2 * HOUR_MS + 30 * MINUTE_MS);
        assert_eq!((series.hour_count(), series.minute_count()), (3, 30), "the third hour is partly aged");
        let after = series.total(T0, T0 + 3 * HOUR_MS);
        assert_eq!(after.counts, before.counts);
        assert_eq!(after.counts.errors["transient"], 44);
        for p in [50.0, 95.0, 99.0] {
            assert_eq!(after.percentile(p), before.percentile(p), "p{p} unchanged by ageing");
            assert_eq!(after.percentile(p), reference.percentile(p), "p{p} as if recorded in one histogram");
        }
        // Retention drops whole hours.
        series.forget(T0 + HOUR_MS);
        assert_eq!(series.total(T0, T0 + HOUR_MS).counts.started, 0);
    }

    #[test]
    fn buckets_survive_storage() {
        let mut series = Series::default();
        for i in 0..500 {
            let b = series.minute(T0 + i * 1_000);
            b.counts.started += 1;
            b.counts.items_in += 3;
            b.finished(Outcome::Success, 25 + i as u64);
        }
        series.age(T0 + 5 * MINUTE_MS);
        let records = series.records();
        let json = serde_json::to_string(&records).unwrap();
        let restored = Series::from_records(&serde_json::from_str::<Vec<BucketRecord>>(&json).unwrap()).unwrap();
        let (a, b) = (series.total(T0, T0 + HOUR_MS), restored.total(T0, T0 + HOUR_MS));
        assert_eq!(a.counts, b.counts);
        assert_eq!(a.percentile(99.0), b.percentile(99.0));
        let mut broken = records[0].clone();
        broken.durations = "not base64!".into();
        assert!(matches!(Bucket::from_record(&broken), Err(MetricsError::Histogram(_))));
    }
}
