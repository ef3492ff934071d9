//! wrk, the HTTP load generator (apt `wrk`), for the benchmarks: a JSON POST for a while,
//! parsed from its summary.

use std::path::Path;
use std::process::Command;

/// The benchmarks' request body: one small order.
pub const ORDER: &str = r#"{"id":"A-17","qty":3,"price":4.5}"#;

/// Writes a wrk script into `dir` that POSTs `body` as JSON; returns its path.
pub fn post_script(dir: &Path, body: &str) -> std::path::PathBuf {
    let script = dir.join("post.lua");
    let text =
        format!("wrk.method = \"POST\"\nwrk.body = '{body}'\nwrk.headers[\"Content-Type\"] = \"application/json\"\n");
    std::fs::write(&script, text).expect("the wrk script");
    script
}

/// What one wrk run measured.
#[derive(Debug, Clone)]
pub struct Load {
    pub requests: u64,
    pub per_second: f64,
    pub p50: String,
    pub p99: String,
    /// Answers other than 2xx/3xx, and requests that timed out.
    pub errors: u64,
}

/// Runs wrk against `url` for `seconds` at `connections` (with at most 2 threads), sending
/// what the Lua `script` sets up, and parses its summary.
pub fn wrk(url: &str, connections: u32, seconds: u32, timeout_s: u32, script: &Path) -> Load {
    let output = Command::new("wrk")
        .args(["-t", &connections.clamp(1, 2).to_string(), "-c", &connections.to_string()])
        .args(["-d", &format!("{seconds}s"), "--timeout", &format!("{timeout_s}s"), "--latency", "-s"])
        .arg(script)
        .arg(url)
        .output()
        .expect("wrk runs (apt-get install wrk)");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "wrk failed: {text}{}", String::from_utf8_lossy(&output.stderr));
    let field = |prefix: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("?")
            .to_string()
    };
    let number = |needle: &str, pick: fn(&str) -> Option<&str>| -> u64 {
        text.lines().find(|l| l.contains(needle)).and_then(pick).and_then(|n| n.trim().parse().ok()).unwrap_or(0)
    };
    let timeouts = text
        .lines()
        .find(|l| l.contains("Socket errors"))
        .and_then(|l| l.split("timeout").nth(1))
        .and_then(|n| n.trim().parse::<u64>().ok())
        .unwrap_or(0);
    Load {
        requests: number("requests in", |l| l.split_whitespace().next()),
        per_second: field("Requests/sec:").parse().unwrap_or(0.0),
        p50: field("50%"),
        p99: field("99%"),
        errors: number("Non-2xx or 3xx responses", |l| l.split(':').nth(1)) + timeouts,
    }
}
