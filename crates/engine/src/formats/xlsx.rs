//! XLSX: a sheet's rows as items (calamine: cached values of formulas, dates as ISO text,
//! whole numbers as integers), and items as a sheet (rust_xlsxwriter).

use super::{Budget, cell_text, failed};
use calamine::{Data, Reader, Xlsx};
use std::io::{Read, Seek};
use switchyard_model::error::NodeError;
use switchyard_model::item::Item;
use switchyard_model::value::{Key, Object, Value, intern};

/// Reads sheet `sheet` (empty: the first) of a workbook; with `header`, its first row
/// names the columns, else they are `A`, `B`, ….
pub fn read(reader: impl Read + Seek, sheet: &str, header: bool, budget: &mut Budget) -> Result<Vec<Value>, NodeError> {
    let file = budget.name.clone();
    let mut workbook: Xlsx<_> = calamine::open_workbook_from_rs(reader)
        .map_err(|e| failed(&file, "", format!("is not an XLSX workbook: {e}")))?;
    let names = workbook.sheet_names();
    let name = if sheet.trim().is_empty() {
        names.first().cloned().ok_or_else(|| failed(&file, "", "has no sheets"))?
    } else {
        names.iter().find(|n| n.as_str() == sheet.trim()).cloned().ok_or_else(|| {
            let list = names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ");
            failed(&file, "", format!("has no sheet \"{}\"; its sheets are {list}", sheet.trim()))
        })?
    };
    let range = workbook.worksheet_range(&name).map_err(|e| failed(&file, &format!("sheet \"{name}\""), e))?;
    let mut rows = range.rows();
    let mut keys: Vec<Key> = Vec::new();
    if header && let Some(first) = rows.next() {
        let mut seen = std::collections::HashMap::<String, usize>::new();
        for (i, cell) in first.iter().enumerate() {
            let text = match cell {
                Data::Empty => column_letters(i),
                other => text_of(other),
            };
            let count = seen.entry(text.clone()).or_insert(0);
            *count += 1;
            keys.push(intern(&if *count == 1 { text } else { format!("{text}_{count}") }));
        }
    }
    let mut out = Vec::new();
    for row in rows {
        // Rows with nothing in them (formatting only) are not items.
        if row.iter().all(|c| matches!(c, Data::Empty)) {
            continue;
        }
        while keys.len() < row.len() {
            keys.push(intern(&column_letters(keys.len())));
        }
        let values: Vec<Value> = (0..keys.len()).map(|i| row.get(i).map_or(Value::Null, value_of)).collect();
        budget.take(super::row_cost(values.len(), values.iter().map(|v| v.as_str().map_or(8, str::len)).sum()))?;
        if out.len() % 4096 == 0 {
            budget.check()?;
        }
        out.push(Value::object(Object::from_keys(&keys, values)));
    }
    Ok(out)
}

/// `A`, `B`, … `Z`, `AA`, … for column `index` (from 0).
fn column_letters(mut index: usize) -> String {
    let mut letters = Vec::new();
    loop {
        letters.push(b'A' + (index % 26) as u8);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    letters.reverse();
    String::from_utf8(letters).unwrap_or_default()
}

fn value_of(cell: &Data) -> Value {
    match cell {
        Data::Int(n) => Value::Int(*n),
        // Spreadsheets store every number as a float: whole ones are integers here.
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::Int(*f as i64),
        Data::Float(f) => Value::Float(*f),
        Data::String(s) => Value::from(s.as_str()),
        Data::Bool(b) => Value::Bool(*b),
        Data::Empty => Value::Null,
        Data::Error(e) => Value::from(format!("#{e:?}")),
        other => Value::from(text_of(other)),
    }
}

fn text_of(cell: &Data) -> String {
    match cell {
        Data::DateTime(dt) if dt.is_datetime() => match dt.as_datetime() {
            // A whole day is a date; anything else a date and time (spreadsheets have no zone).
            Some(t) if t.time() == chrono::NaiveTime::MIN => t.format("%Y-%m-%d").to_string(),
            Some(t) => t.format("%Y-%m-%dT%H:%M:%S").to_string(),
            None => dt.as_f64().to_string(),
        },
        Data::DateTime(dt) => {
            dt.as_duration().map_or_else(|| dt.as_f64().to_string(), |d| format!("{}s", d.num_seconds()))
        }
        Data::DateTimeIso(s) | Data::DurationIso(s) | Data::String(s) => s.clone(),
        Data::Int(n) => n.to_string(),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::Error(e) => format!("#{e:?}"),
        Data::Empty => String::new(),
    }
}

/// A workbook with one sheet named `sheet`: a header row of every field, then a row per
/// item (numbers and booleans as such, lists and objects as JSON text).
pub fn write(items: &[Item], sheet: &str, header: bool) -> Result<Vec<u8>, NodeError> {
    let fail = |e: rust_xlsxwriter::XlsxError| failed("the workbook", "", format!("cannot be made: {e}"));
    let columns = super::columns(items);
    if columns.len() > 16_384 || items.len() >= 1_048_576 {
        return Err(failed(
            "the workbook",
            "",
            "cannot be made: a sheet holds at most 1,048,576 rows and 16,384 columns",
        ));
    }
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let worksheet = workbook.add_worksheet();
    worksheet.set_name(if sheet.trim().is_empty() { "Sheet1" } else { sheet.trim() }).map_err(fail)?;
    let mut row = 0u32;
    if header {
        for (col, name) in columns.iter().enumerate() {
            worksheet.write_string(0, col as u16, name).map_err(fail)?;
        }
        row = 1;
    }
    for item in items {
        for (col, name) in columns.iter().enumerate() {
            let col = col as u16;
            match item.json.get(name) {
                None | Some(Value::Null) => {}
                Some(Value::Int(n)) => {
                    worksheet.write_number(row, col, *n as f64).map_err(fail)?;
                }
                Some(Value::Float(f)) => {
                    worksheet.write_number(row, col, *f).map_err(fail)?;
                }
                Some(Value::Bool(b)) => {
                    worksheet.write_boolean(row, col, *b).map_err(fail)?;
                }
                Some(other) => {
                    let text = cell_text(other);
                    let text: String = text.chars().take(32_767).collect();
                    worksheet.write_string(row, col, text).map_err(fail)?;
                }
            }
        }
        row += 1;
    }
    workbook.save_to_buffer().map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tokio_util::sync::CancellationToken;

    #[test]
    fn letters() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(701), "ZZ");
        assert_eq!(column_letters(702), "AAA");
    }

    #[test]
    fn round_trip_through_a_workbook() {
        let items: Vec<Item> =
            [json!({"name": "A", "n": 3, "x": 1.5, "ok": true}), json!({"name": "B", "tags": [1, 2]})]
                .into_iter()
                .map(|j| Item::new(Value::from(j)))
                .collect();
        let bytes = write(&items, "Data", true).unwrap();
        let mut budget = Budget::new(1 << 20, CancellationToken::new(), "out.xlsx");
        let rows: Vec<serde_json::Value> = read(std::io::Cursor::new(bytes.clone()), "", true, &mut budget)
            .unwrap()
            .iter()
            .map(serde_json::Value::from)
            .collect();
        assert_eq!(rows[0], json!({"name": "A", "n": 3, "x": 1.5, "ok": true, "tags": null}));
        assert_eq!(rows[1], json!({"name": "B", "n": null, "x": null, "ok": null, "tags": "[1,2]"}));
        let e = read(std::io::Cursor::new(bytes), "Nope", true, &mut budget).unwrap_err();
        assert_eq!(e.message, "out.xlsx has no sheet \"Nope\"; its sheets are \"Data\"");
    }
}
