//! The metrics benchmark, run by `cargo xtask bench metrics` (release build). Prints the
//! report section as Markdown on stdout.
//!
//! The cost a run pays per recorded node run (building the sample and sending it), the rate
//! the aggregator folds samples at, and the time to total 30 days of per-workflow rollups
//! (43,200 minute buckets aged into 720 hour buckets) and to write the Prometheus text.

use std::sync::Arc;
use std::time::Instant;
use switchyard_metrics::recorder::{Recorder, Sample};
use switchyard_metrics::{HOUR_MS, MINUTE_MS, Outcome, Series};

const SAMPLES: u64 = 2_000_000;

fn main() {
    let (recorder, live) = Recorder::start();
    let workflow: Arc<str> = Arc::from("orders");
    let nodes: Vec<Arc<str>> = (0..10).map(|i| Arc::from(format!("Node {i}").as_str())).collect();
    // The run's side: one sample per node run, as the API's listener sends it.
    let started = Instant::now();
    for i in 0..SAMPLES {
        recorder.record(Sample::NodeFinished {
            workflow: workflow.clone(),
            node: nodes[(i % 10) as usize].clone(),
            outcome: if i % 50 == 0 { Outcome::Failure } else { Outcome::Success },
            millis: 1 + (i % 5000),
            items_in: 1,
            items_out: 1,
            at_ms: 1_800_000_000_000 + (i as i64 / 1000) * 1000,
        });
    }
    let send = started.elapsed();
    recorder.flush();
    let folded = started.elapsed();
    let per_record_ns = send.as_nanos() as f64 / SAMPLES as f64;

    // 30 days of minutes for one workflow, aged into hours, then totalled.
    let mut series = Series::default();
    let start_ms = 1_800_000_000_000 - (1_800_000_000_000 % HOUR_MS);
    for minute in 0..(30 * 24 * 60) {
        let bucket = series.minute(start_ms + minute * MINUTE_MS);
        bucket.counts.started += 10;
        for k in 0..10 {
            bucket.finished(Outcome::Success, 1 + (minute as u64 * 7 + k) % 90_000);
        }
    }
    let aged = Instant::now();
    series.age(start_ms + 30 * 24 * HOUR_MS);
    let age_time = aged.elapsed();
    let query = Instant::now();
    let total = series.total(start_ms, start_ms + 30 * 24 * HOUR_MS);
    let p99 = total.percentile(99.0).unwrap_or(0);
    let query_time = query.elapsed();
    let text_started = Instant::now();
    let text = switchyard_metrics::exposition::prometheus_text(&live.lock().unwrap(), &Default::default());
    let text_time = text_started.elapsed();

    println!("## Metrics: recording cost and rollup queries\n");
    println!("| what | measured | target |");
    println!("|---|---:|---:|");
    println!(
        "| recording one node run on the run's side (sample + channel send), {SAMPLES} runs | {per_record_ns:.0} ns | < 1 µs |"
    );
    println!(
        "| aggregator throughput (folding into minute buckets and totals, 10 nodes) | {:.1} M samples/s | |",
        SAMPLES as f64 / folded.as_secs_f64() / 1e6
    );
    println!(
        "| ageing 30 days of minute buckets (43,200) into hours (720) | {:.1} ms | |",
        age_time.as_secs_f64() * 1e3
    );
    println!(
        "| totalling 30 days of hour buckets with percentiles (p99 {} ms, {} runs) | {:.2} ms | |",
        p99,
        total.counts.succeeded,
        query_time.as_secs_f64() * 1e3
    );
    println!(
        "| Prometheus text for 1 workflow × 10 nodes ({} bytes) | {:.2} ms | |",
        text.len(),
        text_time.as_secs_f64() * 1e3
    );
    println!(
        "\nAgeing 30 days at once (in memory) is the worst case; running, ageing happens every hour in SQLite for \
         the minutes that turned a day old. The HDR histograms span 1 ms to a day at 2 significant digits (about \
         2,700 counts, 21 KiB), so each merge walks a few thousand counts."
    );
    println!("\nTarget < 1 µs per recorded node run: {}.", if per_record_ns < 1000.0 { "met" } else { "not met" });
}
