//! JSON (a list of items, or one) and NDJSON (one JSON value per line, read and written
//! line by line).

use super::{Budget, failed};
use std::io::BufRead;
use switchyard_model::error::NodeError;
use switchyard_model::item::Item;
use switchyard_model::value::Value;

/// A JSON file: a list gives an item per element, anything else one item. The whole file
/// is read, so it is bounded by the budget first.
pub fn read(bytes: &[u8], budget: &mut Budget) -> Result<Vec<Value>, NodeError> {
    budget.take(bytes.len().saturating_mul(2))?;
    let text = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    let value: Value = serde_json::from_slice(text).map_err(|e| {
        failed(&budget.name, &format!("line {}, column {}", e.line(), e.column()), format!("not valid JSON: {e}"))
    })?;
    Ok(match value {
        Value::Array(values) => values.into_vec(),
        other => vec![other],
    })
}

/// NDJSON: one value per line (blank lines skipped), read as it comes.
pub fn read_lines(reader: impl BufRead, budget: &mut Budget) -> Result<Vec<Value>, NodeError> {
    let mut out = Vec::new();
    for (number, line) in reader.lines().enumerate() {
        let line =
            line.map_err(|e| failed(&budget.name, &format!("line {}", number + 1), format!("cannot be read: {e}")))?;
        let line = if number == 0 { line.trim_start_matches('\u{feff}') } else { &line };
        if line.trim().is_empty() {
            continue;
        }
        budget.take(line.len() * 2 + 64)?;
        if out.len() % 4096 == 0 {
            budget.check()?;
        }
        let value: Value = serde_json::from_str(line).map_err(|e| {
            failed(&budget.name, &format!("line {}, column {}", number + 1, e.column()), format!("not valid JSON: {e}"))
        })?;
        out.push(value);
    }
    Ok(out)
}

/// A JSON list of the items' JSON, indented when `pretty`.
pub fn write(items: &[Item], pretty: bool) -> Vec<u8> {
    let values: Vec<&Value> = items.iter().map(|i| &i.json).collect();
    let mut out =
        if pretty { serde_json::to_vec_pretty(&values) } else { serde_json::to_vec(&values) }.unwrap_or_default();
    out.push(b'\n');
    out
}

/// One line per item, handed to `sink` in chunks of about 256 KiB.
pub fn write_lines(items: &[Item], mut sink: impl FnMut(Vec<u8>) -> Result<(), NodeError>) -> Result<(), NodeError> {
    let mut chunk = Vec::with_capacity(300 * 1024);
    for item in items {
        serde_json::to_writer(&mut chunk, &item.json)
            .map_err(|e| failed("the file", "", format!("cannot be written: {e}")))?;
        chunk.push(b'\n');
        if chunk.len() >= 256 * 1024 {
            sink(std::mem::replace(&mut chunk, Vec::with_capacity(300 * 1024)))?;
        }
    }
    if !chunk.is_empty() {
        sink(chunk)?;
    }
    Ok(())
}
