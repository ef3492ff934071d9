//! CSV and TSV: read row by row from any reader (UTF-8 with or without a BOM, or Latin-1),
//! written row by row to chunks.

use super::{Budget, cell_text, failed, infer, row_cost};
use std::io::Read;
use switchyard_model::error::NodeError;
use switchyard_model::item::Item;
use switchyard_model::value::{Key, Object, Value, intern};

#[derive(Debug, Clone)]
pub struct CsvOptions {
    pub delimiter: u8,
    pub quote: u8,
    /// The first row names the columns; without it they are `column1`, `column2`, ….
    pub header: bool,
    pub latin1: bool,
    /// Numbers and true/false become numbers and booleans (see [`infer`]).
    pub infer: bool,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions { delimiter: b',', quote: b'"', header: true, latin1: false, infer: true }
    }
}

/// Reads every row as an item's JSON.
pub fn read(reader: impl Read, options: &CsvOptions, budget: &mut Budget) -> Result<Vec<Value>, NodeError> {
    let mut csv = ::csv::ReaderBuilder::new()
        .delimiter(options.delimiter)
        .quote(options.quote)
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(256 * 1024)
        .from_reader(reader);
    let mut record = ::csv::ByteRecord::new();
    let mut keys: Vec<Key> = Vec::new();
    let mut rows = Vec::new();
    let mut first = true;
    let mut texts: Vec<String> = Vec::new();
    loop {
        let more = csv.read_byte_record(&mut record).map_err(|e| csv_error(&budget.name, &e))?;
        if !more {
            break;
        }
        let line = record.position().map_or(0, |p| p.line());
        texts.clear();
        for (column, field) in record.iter().enumerate() {
            let text = decode(field, options.latin1).map_err(|valid| not_utf8(&budget.name, line, column, valid))?;
            texts.push(text);
        }
        if first {
            first = false;
            if let Some(text) = texts.first_mut()
                && let Some(rest) = text.strip_prefix('\u{feff}')
            {
                *text = rest.to_string();
            }
            if options.header {
                keys = header_keys(&texts);
                continue;
            }
        }
        while keys.len() < texts.len() {
            keys.push(intern(&format!("column{}", keys.len() + 1)));
        }
        let bytes: usize = texts.iter().map(String::len).sum();
        budget.take(row_cost(keys.len(), bytes))?;
        if rows.len() % 4096 == 0 {
            budget.check()?;
        }
        let mut values: Vec<Value> =
            texts.drain(..).map(|t| if options.infer { infer(&t) } else { Value::from(t) }).collect();
        // A short row has empty fields for the columns it lacks.
        values.resize(keys.len(), Value::from(""));
        rows.push(Value::object(Object::from_keys(&keys, values)));
    }
    Ok(rows)
}

/// Column names from a header row: empty ones become `columnN`, repeated ones get `_2`, `_3`.
fn header_keys(texts: &[String]) -> Vec<Key> {
    let mut seen = std::collections::HashMap::<String, usize>::new();
    texts
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let name = if name.trim().is_empty() { format!("column{}", i + 1) } else { name.clone() };
            let count = seen.entry(name.clone()).or_insert(0);
            *count += 1;
            if *count == 1 { intern(&name) } else { intern(&format!("{name}_{count}")) }
        })
        .collect()
}

fn decode(field: &[u8], latin1: bool) -> Result<String, usize> {
    if latin1 {
        return Ok(field.iter().map(|&b| b as char).collect());
    }
    match std::str::from_utf8(field) {
        Ok(text) => Ok(text.to_string()),
        Err(e) => Err(e.valid_up_to()),
    }
}

fn not_utf8(file: &str, line: u64, column: usize, valid: usize) -> NodeError {
    failed(
        file,
        &format!("line {line}, column {}", column + 1),
        format!("byte {} of the field is not UTF-8 (choose the Latin-1 encoding for such files)", valid + 1),
    )
}

fn csv_error(file: &str, e: &::csv::Error) -> NodeError {
    let place = e.position().map_or(String::new(), |p| format!("line {}", p.line()));
    let message = match e.kind() {
        ::csv::ErrorKind::Io(io) => format!("cannot be read: {io}"),
        _ => e.to_string(),
    };
    failed(file, &place, message)
}

/// Writes items as rows under a header of every field (see [`super::columns`]), handing
/// each full chunk of about 256 KiB to `sink`.
pub fn write(
    items: &[Item],
    options: &CsvOptions,
    sink: impl FnMut(Vec<u8>) -> Result<(), NodeError>,
) -> Result<usize, NodeError> {
    let columns = super::columns(items);
    let mut csv = ::csv::WriterBuilder::new()
        .delimiter(options.delimiter)
        .quote(options.quote)
        .flexible(true)
        .buffer_capacity(64 * 1024)
        .from_writer(Chunks { buffer: Vec::with_capacity(CHUNK + 64 * 1024), sink, error: None });
    let encode = |text: &str, row: usize, column: &str| -> Result<Vec<u8>, NodeError> {
        if !options.latin1 {
            return Ok(text.as_bytes().to_vec());
        }
        text.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect::<Option<Vec<u8>>>().ok_or_else(|| {
            NodeError::new(
                switchyard_model::error::ErrorCode::ConversionFailed,
                format!("item {row}, field \"{column}\" has characters Latin-1 cannot hold (choose UTF-8)"),
            )
            .with_class(switchyard_model::error::ErrorClass::Permanent)
            .with_item(row)
        })
    };
    let mut fields: Vec<Vec<u8>> = Vec::with_capacity(columns.len());
    let result = (|| {
        if options.header && !columns.is_empty() {
            let header: Vec<Vec<u8>> = columns.iter().map(|c| encode(c, 0, c)).collect::<Result<_, _>>()?;
            csv.write_record(&header).map_err(written)?;
        }
        for (row, item) in items.iter().enumerate() {
            fields.clear();
            match item.json.as_object() {
                Some(object) => {
                    for column in &columns {
                        let text = object.get(column).map(cell_text).unwrap_or_default();
                        fields.push(encode(&text, row, column)?);
                    }
                }
                None => fields.push(encode(&cell_text(&item.json), row, "")?),
            }
            csv.write_record(&fields).map_err(written)?;
        }
        csv.flush().map_err(|e| failed("the file", "", format!("cannot be written: {e}")))
    })();
    let mut chunks =
        csv.into_inner().map_err(|e| failed("the file", "", format!("cannot be written: {}", e.error())))?;
    if let Some(error) = chunks.error.take() {
        return Err(error);
    }
    result?;
    chunks.send()?;
    Ok(items.len())
}

const CHUNK: usize = 256 * 1024;

fn written(e: ::csv::Error) -> NodeError {
    failed("the file", "", format!("cannot be written: {e}"))
}

/// Collects written bytes and hands them on in chunks.
struct Chunks<F> {
    buffer: Vec<u8>,
    sink: F,
    /// The sink's error, kept for the caller (the CSV writer sees an I/O error).
    error: Option<NodeError>,
}

impl<F: FnMut(Vec<u8>) -> Result<(), NodeError>> Chunks<F> {
    fn send(&mut self) -> Result<(), NodeError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK + 64 * 1024));
        (self.sink)(chunk)
    }
}

impl<F: FnMut(Vec<u8>) -> Result<(), NodeError>> std::io::Write for Chunks<F> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= CHUNK
            && let Err(e) = self.send()
        {
            let message = e.message.clone();
            self.error = Some(e);
            return Err(std::io::Error::other(message));
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_util::sync::CancellationToken;

    fn budget() -> Budget {
        Budget::new(1 << 20, CancellationToken::new(), "t.csv")
    }

    fn rows(text: &[u8], options: &CsvOptions) -> Vec<serde_json::Value> {
        read(text, options, &mut budget()).unwrap().iter().map(serde_json::Value::from).collect()
    }

    #[test]
    fn quotes_newlines_bom_and_short_rows() {
        let text = "\u{feff}name,note,n\n\"Doe, Jane\",\"said \"\"hi\"\"\nthen left\",7\nshort\n".as_bytes();
        let out = rows(text, &CsvOptions::default());
        assert_eq!(out[0], serde_json::json!({"name": "Doe, Jane", "note": "said \"hi\"\nthen left", "n": 7}));
        assert_eq!(out[1], serde_json::json!({"name": "short", "note": "", "n": ""}));
    }

    #[test]
    fn latin1_and_errors_name_the_line() {
        let latin1 = CsvOptions { latin1: true, ..CsvOptions::default() };
        assert_eq!(rows(b"a\ncaf\xe9\n", &latin1)[0]["a"], "café");
        let e = read(&b"a,b\nok,ok\nx,caf\xe9\n"[..], &CsvOptions::default(), &mut budget()).unwrap_err();
        assert_eq!(
            e.message,
            "t.csv line 3, column 2: byte 4 of the field is not UTF-8 (choose the Latin-1 encoding for such files)"
        );
    }

    #[test]
    fn a_budget_stops_reading_early() {
        let text = format!("a\n{}", "x\n".repeat(10_000));
        let mut small = Budget::new(10_000, CancellationToken::new(), "big.csv");
        let e = read(text.as_bytes(), &CsvOptions::default(), &mut small).unwrap_err();
        assert_eq!(e.code, switchyard_model::error::ErrorCode::ValueTooLarge);
        assert!(e.message.starts_with("big.csv makes more than"), "{}", e.message);
    }
}
