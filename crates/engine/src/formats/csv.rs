//! CSV and TSV: read row by row from any reader (UTF-8 with or without a BOM, or Latin-1),
//! written row by row to chunks.

use super::{Budget, failed, infer, row_cost};
use std::io::Read;
use switchyard_model::error::NodeError;
use switchyard_model::item::Item;
use switchyard_model::value::{Key, Object, Template, Value, intern};

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

/// Reads every row as an item. Each field goes straight from the reader's buffer into its
/// value (short texts are stored inline, numbers parsed in place), and rows share one key list.
pub fn read(reader: impl Read, options: &CsvOptions, budget: &mut Budget) -> Result<Vec<Item>, NodeError> {
    let mut csv = ::csv::ReaderBuilder::new()
        .delimiter(options.delimiter)
        .quote(options.quote)
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(256 * 1024)
        .from_reader(reader);
    let mut record = ::csv::ByteRecord::new();
    let mut keys: Vec<Key> = Vec::new();
    let mut template: Option<Template> = None;
    let mut rows = Vec::new();
    let mut first = true;
    let name = budget.name.clone();
    loop {
        let more = csv.read_byte_record(&mut record).map_err(|e| csv_error(&name, &e))?;
        if !more {
            break;
        }
        let line = record.position().map_or(0, |p| p.line());
        if std::mem::take(&mut first) {
            if record.get(0).is_some_and(|f| f.starts_with(BOM)) {
                let fields: Vec<Vec<u8>> = record.iter().map(<[u8]>::to_vec).collect();
                record.clear();
                for (i, field) in fields.iter().enumerate() {
                    record.push_field(if i == 0 { &field[BOM.len()..] } else { field });
                }
            }
            if options.header {
                let texts = record
                    .iter()
                    .enumerate()
                    .map(|(column, field)| decode(field, options.latin1).map_err(|v| not_utf8(&name, line, column, v)))
                    .collect::<Result<Vec<String>, _>>()?;
                keys = header_keys(&texts);
                continue;
            }
        }
        if keys.len() < record.len() {
            while keys.len() < record.len() {
                keys.push(intern(&format!("column{}", keys.len() + 1)));
            }
            template = None;
        }
        let template = template.get_or_insert_with(|| Template::new(&keys));
        budget.take(row_cost(keys.len(), record.as_slice().len()))?;
        if rows.len() % 4096 == 0 {
            budget.check()?;
        }
        // A short row has empty fields for the columns it lacks.
        let values = (0..template.len()).map(|column| match record.get(column) {
            None => Ok(Value::from("")),
            Some(field) => field_value(field, options).map_err(|v| not_utf8(&name, line, column, v)),
        });
        rows.push(Item::wrap(Value::object(template.try_build(values)?)));
    }
    Ok(rows)
}

const BOM: &[u8] = "\u{feff}".as_bytes();

/// A field as a value: its text (numbers and booleans when inferring), or where its UTF-8
/// goes wrong.
fn field_value(field: &[u8], options: &CsvOptions) -> Result<Value, usize> {
    if options.latin1 {
        let text = decode(field, true)?;
        return Ok(if options.infer { infer(&text) } else { Value::from(text) });
    }
    let text = std::str::from_utf8(field).map_err(|e| e.valid_up_to())?;
    Ok(if options.infer { infer(text) } else { Value::from(text) })
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
    let mut text = Vec::new();
    let mut latin1 = Vec::new();
    // Writes one field: a value's text (numbers as JSON spells them), in Latin-1 if asked.
    let mut field = |csv: &mut ::csv::Writer<_>, value: Option<&Value>, row: usize, column: &str| {
        text.clear();
        let bytes: &[u8] = match value {
            None | Some(Value::Null) => b"",
            Some(Value::String(s)) => s.as_bytes(),
            Some(other) => {
                serde_json::to_writer(&mut text, other).map_err(|e| failed("the file", "", e))?;
                &text
            }
        };
        if !options.latin1 || bytes.is_ascii() {
            return csv.write_field(bytes).map_err(written);
        }
        latin1.clear();
        for c in String::from_utf8_lossy(bytes).chars() {
            latin1.push(u8::try_from(u32::from(c)).map_err(|_| {
                NodeError::new(
                    switchyard_model::error::ErrorCode::ConversionFailed,
                    format!("item {row}, field \"{column}\" has characters Latin-1 cannot hold (choose UTF-8)"),
                )
                .with_class(switchyard_model::error::ErrorClass::Permanent)
                .with_item(row)
            })?);
        }
        csv.write_field(&latin1).map_err(written)
    };
    let result = (|| {
        if options.header && !columns.is_empty() {
            for column in &columns {
                field(&mut csv, Some(&Value::from(column.as_str())), 0, column)?;
            }
            csv.write_record(None::<&[u8]>).map_err(written)?;
        }
        // Where each column is in the last row's keys, reused while rows share their keys.
        let mut last: Option<(&Object, Vec<Option<usize>>)> = None;
        for (row, item) in items.iter().enumerate() {
            match item.json.as_object() {
                Some(object) => {
                    if !last.as_ref().is_some_and(|(o, _)| o.shares_keys(object)) {
                        last = Some((object, columns.iter().map(|c| object.index_of(c)).collect()));
                    }
                    let indexes = last.as_ref().map(|(_, i)| i.as_slice()).unwrap_or_default();
                    for (column, index) in columns.iter().zip(indexes) {
                        field(&mut csv, index.and_then(|i| object.value_at(i)), row, column)?;
                    }
                }
                None => field(&mut csv, Some(&item.json), row, "")?,
            }
            csv.write_record(None::<&[u8]>).map_err(written)?;
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
        read(text, options, &mut budget()).unwrap().iter().map(|i| serde_json::Value::from(&i.json)).collect()
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
