//! How commands print: JSON for scripts (`--json`), a hint on stderr when there is nothing,
//! or an aligned table.

pub(crate) fn print_json<T: serde::Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("switchyard: cannot encode JSON: {e}"),
    }
}

pub(crate) fn print_table(headers: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells.iter().enumerate().map(|(i, c)| format!("{c:<w$}", w = widths[i])).collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row);
    }
}

/// Prints `items` as JSON (`json`), `empty` on stderr when there are none, or a table with
/// `headers` and a row per item.
pub(crate) fn list<T: serde::Serialize>(
    json: bool,
    items: &[T],
    empty: &str,
    headers: &[&str],
    row: impl Fn(&T) -> Vec<String>,
) {
    if json {
        print_json(&items);
    } else if items.is_empty() {
        eprintln!("{empty}");
    } else {
        print_table(headers, items.iter().map(row).collect());
    }
}
