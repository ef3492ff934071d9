//! Data formats: items to and from CSV/TSV, JSON, NDJSON, XML, XLSX and HTML tables, for
//! Convert Data and the nodes that read or extract files. Readers take a file in chunks
//! and stop as soon as the items they make pass the run's limit, so a file larger than
//! memory fails early instead of filling it; CSV and NDJSON writers stream.

pub mod csv;
pub mod html;
pub mod json;
pub mod xlsx;
pub mod xml;

use switchyard_model::error::{ErrorClass, ErrorCode, NodeError};
use switchyard_model::item::Item;
use switchyard_model::value::Value;
use tokio_util::sync::CancellationToken;

/// How many bytes of items a reader may still make, and the run's cancellation.
#[derive(Debug, Clone)]
pub struct Budget {
    left: usize,
    limit: usize,
    cancel: CancellationToken,
    /// The file's name, for messages.
    pub name: String,
}

impl Budget {
    pub fn new(limit: usize, cancel: CancellationToken, name: &str) -> Budget {
        Budget { left: limit, limit, cancel, name: name.to_string() }
    }

    /// Counts `bytes` more; an error once past the limit (or when the run was cancelled).
    pub fn take(&mut self, bytes: usize) -> Result<(), NodeError> {
        if bytes > self.left {
            return Err(NodeError::new(
                ErrorCode::ValueTooLarge,
                format!(
                    "{} makes more than {} MiB of items (Settings → \"Items a run may hold\"); read it in parts \
                     or raise the limit",
                    self.name,
                    self.limit / (1024 * 1024)
                ),
            )
            .with_class(ErrorClass::Permanent));
        }
        self.left -= bytes;
        Ok(())
    }

    /// An error when the run was cancelled (readers ask every few thousand rows).
    pub fn check(&self) -> Result<(), NodeError> {
        if self.cancel.is_cancelled() {
            return Err(NodeError::new(ErrorCode::Cancelled, "the run was cancelled"));
        }
        Ok(())
    }
}

/// A conversion error: "`file` `message`", or at a place: "`file` `place`: `message`".
pub fn failed(file: &str, place: &str, message: impl std::fmt::Display) -> NodeError {
    let text = if place.is_empty() { format!("{file} {message}") } else { format!("{file} {place}: {message}") };
    NodeError::new(ErrorCode::ConversionFailed, text).with_class(ErrorClass::Permanent)
}

/// A text field as the value it spells: whole numbers, decimals and true/false become
/// numbers and booleans; anything else (leading zeros, `1e5`, spaces, empty) stays text, so
/// that codes like `007` are not changed.
pub fn infer(text: &str) -> Value {
    match text {
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        _ => {}
    }
    let digits = text.strip_prefix('-').unwrap_or(text);
    let plain = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().filter(|&b| b == b'.').count() <= 1
        && !digits.starts_with('.')
        && !digits.ends_with('.')
        && !(digits.len() > 1 && digits.starts_with('0') && !digits.starts_with("0."));
    if plain {
        if !digits.contains('.')
            && let Ok(n) = text.parse::<i64>()
        {
            return Value::Int(n);
        }
        if digits.contains('.')
            && let Ok(f) = text.parse::<f64>()
            && f.is_finite()
        {
            return Value::Float(f);
        }
    }
    Value::from(text)
}

/// A value as one cell of text: strings as they are, null as nothing, numbers and
/// booleans as JSON spells them, lists and objects as JSON.
pub fn cell_text(value: &Value) -> std::borrow::Cow<'_, str> {
    match value {
        Value::String(s) => std::borrow::Cow::Borrowed(s.as_str()),
        Value::Null => std::borrow::Cow::Borrowed(""),
        other => std::borrow::Cow::Owned(other.to_json_string()),
    }
}

/// The columns of a table of items: every top-level field, in the order first seen.
pub fn columns(items: &[Item]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut columns = Vec::new();
    let mut last: Option<&switchyard_model::value::Object> = None;
    for item in items {
        if let Some(object) = item.json.as_object() {
            // Rows of one table share their keys: seen once, they add nothing.
            if last.is_some_and(|l| l.shares_keys(object)) {
                continue;
            }
            last = Some(object);
            for key in object.keys() {
                if !seen.contains(key) {
                    seen.insert(key.to_string());
                    columns.push(key.to_string());
                }
            }
        }
    }
    columns
}

/// Rough bytes an item made of these texts holds (for [`Budget`]).
pub fn row_cost(fields: usize, text_bytes: usize) -> usize {
    text_bytes + fields * 24 + 64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inference_keeps_codes_as_text() {
        assert_eq!(infer("42"), Value::Int(42));
        assert_eq!(infer("-3.5"), Value::Float(-3.5));
        assert_eq!(infer("0.25"), Value::Float(0.25));
        assert_eq!(infer("0"), Value::Int(0));
        for text in ["007", "1e5", " 4", "", "1.", ".5", "1.2.3", "12345678901234567890", "True", "-"] {
            assert_eq!(infer(text), Value::from(text), "{text}");
        }
        assert_eq!(infer("true"), Value::Bool(true));
    }
}
