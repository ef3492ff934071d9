//! Fuzz harnesses: one function per parser that takes untrusted input, each fed raw bytes.
//! A harness panics only where the code under test is wrong (a crash, or a property that
//! must always hold, such as "what `sign` writes, `verify` accepts"). The cargo-fuzz targets
//! in `fuzz/` call these; `tests/replay.rs` runs every saved input in
//! `tests/fixtures/fuzz/<target>/` through them on stable, in `cargo xtask test`.

use std::sync::{Arc, OnceLock};
use switchyard_core::signature::{Encoding, Hash, Preset};
use switchyard_engine::Registry;
use switchyard_engine::expr::{Evaluator, NoHistory, ScriptEnv, ScriptLimits};
use switchyard_model::item::Item;
use switchyard_model::value::Value;

/// A harness: raw bytes in, a panic only for a bug.
pub type Harness = fn(&[u8]);

/// Every target, by the name `cargo xtask fuzz` and the fixture folders use.
pub const TARGETS: &[(&str, Harness)] = &[
    ("workflow_file", workflow_file),
    ("expression", expression),
    ("signature", signature),
    ("webhook_body", webhook_body),
    ("schedule", schedule),
    ("cli_input", cli_input),
];

/// A harness by target name.
pub fn target(name: &str) -> Option<Harness> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// Splits input at the first NUL: two independent parts from one byte string.
fn split(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[]),
    }
}

/// A workflow file: parsed and validated as `switchyard validate` and import do. Every issue
/// must name a place (a path), and a valid report must carry the workflow.
pub fn workflow_file(data: &[u8]) {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    let registry = REGISTRY.get_or_init(Registry::builtin);
    let text = String::from_utf8_lossy(data);
    let report = switchyard_engine::validate::validate_text(&text, registry);
    if report.issues.is_empty() {
        assert!(report.workflow.is_some(), "a report without issues carries the workflow");
    }
    for issue in &report.issues {
        assert!(!issue.message.is_empty(), "every issue says what is wrong: {issue:?}");
    }
}

/// An expression template (before the first NUL) compiled and evaluated on an item (the JSON
/// after it, or a fixed item when that is not JSON), with a small operation budget.
pub fn expression(data: &[u8]) {
    static EVALUATOR: OnceLock<Evaluator> = OnceLock::new();
    let evaluator = EVALUATOR.get_or_init(|| {
        Evaluator::new(ScriptEnv {
            clock: Arc::new(switchyard_engine::SystemClock),
            history: Arc::new(NoHistory),
            workflow_id: "fuzz".into(),
            workflow_name: "Fuzz".into(),
            execution_id: "fuzz".into(),
            mode: "manual".into(),
            limits: ScriptLimits { max_operations: 20_000, ..ScriptLimits::EXPRESSION },
            cancel: Default::default(),
        })
    });
    let (source, item) = split(data);
    let source = String::from_utf8_lossy(source);
    let json = serde_json::from_slice::<serde_json::Value>(item).map(Value::from).unwrap_or_else(|_| {
        Value::from(serde_json::json!({"a": 1, "s": "text", "l": [1, 2.5, null], "o": {"k": true}}))
    });
    let Ok(compiled) = evaluator.compile_str(&source) else { return };
    if let Ok(value) = evaluator.eval(&compiled, &Item::new(json), 0) {
        // Whatever an expression returns can be written as JSON.
        let _ = value.to_json_string();
    }
}

/// Every signature preset's header parser and verifier on a fuzzed header value (before the
/// first NUL) and body (after it); and for the same body, what `sign` writes must verify and
/// must not verify for another body.
pub fn signature(data: &[u8]) {
    let (header, body) = split(data);
    let header = String::from_utf8_lossy(header);
    let secret = b"fuzz-secret";
    let now = 1_767_225_600;
    let presets = [
        Preset::GitHub,
        Preset::Stripe,
        Preset::Slack,
        Preset::Shopify,
        Preset::Generic { header: "X-Sig".into(), hash: Hash::Sha1, encoding: Encoding::Hex, prefix: "sha1=".into() },
        Preset::Generic {
            header: "X-Sig".into(),
            hash: Hash::Sha512,
            encoding: Encoding::Base64,
            prefix: String::new(),
        },
    ];
    for preset in &presets {
        // The fuzzed text as the signature header (and as Slack's timestamp).
        let headers = [(preset.header(), header.as_ref()), ("X-Slack-Request-Timestamp", header.as_ref())];
        let _ = preset.verify(&headers[..], body, secret, now);

        let signed = preset.sign(body, secret, now);
        let pairs: Vec<(&str, &str)> = signed.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let tag = preset.verified_tag(&pairs[..], body, secret, now);
        assert!(tag.is_ok(), "{preset:?} refuses its own signature: {tag:?}");
        let mut other = body.to_vec();
        other.push(b'x');
        assert!(preset.verify(&pairs[..], &other, secret, now).is_err(), "{preset:?} accepts another body");
    }
}

/// A webhook body by content type (the first byte picks one), as the listener parses it,
/// then made the trigger's item.
pub fn webhook_body(data: &[u8]) {
    const TYPES: &[&str] = &[
        "application/json",
        "application/x-www-form-urlencoded",
        "text/plain; charset=utf-8",
        "",
        "application/vnd.api+json; charset=utf-8",
    ];
    let Some((first, body)) = data.split_first() else { return };
    let content_type = TYPES[usize::from(*first) % TYPES.len()];
    if let Ok(json) = switchyard_triggers::listener::parse_body(content_type, body) {
        let items = Item::from_input(Value::from(json));
        for item in items {
            let _ = item.json.to_json_string();
        }
    }
}

/// A cron pattern (before the first NUL) in a time zone (after it), and the next fires after
/// a fixed time: each strictly later than the one before.
pub fn schedule(data: &[u8]) {
    let (pattern, zone) = split(data);
    let (pattern, zone) = (String::from_utf8_lossy(pattern), String::from_utf8_lossy(zone));
    let zone = if zone.is_empty() { "UTC".into() } else { zone };
    let Ok(rule) = switchyard_core::schedule::Rule::cron(&pattern, &zone) else { return };
    let mut after =
        chrono::DateTime::parse_from_rfc3339("2026-03-29T00:30:00Z").map(|t| t.to_utc()).unwrap_or_default();
    for _ in 0..4 {
        match rule.next_after(after) {
            Some(next) => {
                assert!(next > after, "{pattern:?} in {zone}: {next} does not follow {after}");
                after = next;
            }
            None => break,
        }
    }
    if let Ok(seconds) = pattern.trim().parse::<f64>()
        && let Ok(rule) = switchyard_core::schedule::Rule::every_seconds(seconds)
        && let Some(next) = rule.next_after(after)
    {
        assert!(next > after, "every {seconds} s: {next} does not follow {after}");
    }
}

/// `switchyard run --input`: JSON text into the trigger's items.
pub fn cli_input(data: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        for item in Item::from_input(value) {
            let _ = item.json.to_json_string();
        }
    }
}
