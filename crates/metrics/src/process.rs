//! The process's own CPU time and memory (Linux `/proc/self`; other systems report none).

use std::time::Instant;

/// The process's resident memory and CPU use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessStats {
    pub memory_bytes: u64,
    /// CPU time used since the process started, in seconds (user + system).
    pub cpu_seconds: f64,
    /// CPU use since the previous sample, in percent of one core.
    pub cpu_percent: f64,
}

/// Reads the process's stats; keeps the previous reading to turn CPU time into a rate.
#[derive(Debug, Default)]
pub struct ProcessSampler {
    last: Option<(Instant, f64)>,
}

impl ProcessSampler {
    pub fn sample(&mut self) -> Option<ProcessStats> {
        let (memory_bytes, cpu_seconds) = read()?;
        let now = Instant::now();
        let cpu_percent = match self.last {
            Some((at, cpu)) => {
                let wall = now.saturating_duration_since(at).as_secs_f64();
                if wall > 0.0 { ((cpu_seconds - cpu) / wall * 100.0).max(0.0) } else { 0.0 }
            }
            None => 0.0,
        };
        self.last = Some((now, cpu_seconds));
        Some(ProcessStats { memory_bytes, cpu_seconds, cpu_percent })
    }
}

#[cfg(target_os = "linux")]
fn read() -> Option<(u64, f64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let rss_kib: u64 =
        status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command (which is in parentheses and may hold spaces): utime and
    // stime are the 12th and 13th of them, in clock ticks (100 a second on Linux).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some((rss_kib * 1024, ticks as f64 / 100.0))
}

#[cfg(not(target_os = "linux"))]
fn read() -> Option<(u64, f64)> {
    None
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let mut sampler = ProcessSampler::default();
        let first = sampler.sample().unwrap();
        // Spend some CPU so the rate has something to show.
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let second = sampler.sample().unwrap();
        assert!(first.memory_bytes > 1024 * 1024, "a test binary uses more than 1 MiB: {first:?}");
        assert!(second.cpu_seconds >= first.cpu_seconds);
        assert!(second.cpu_percent >= 0.0 && second.cpu_percent < 100.0 * 64.0, "{second:?}");
    }
}
