//! HTML: items as a table (a page of its own, every value escaped).

use super::cell_text;
use switchyard_model::item::Item;

/// A page with one table: a header of every field, then a row per item.
pub fn write_table(items: &[Item], title: &str) -> Vec<u8> {
    let columns = super::columns(items);
    let escape = |t: &str| quick_xml::escape::escape(t).into_owned();
    let mut out = String::from("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">");
    out.push_str(&format!("<title>{}</title></head><body>\n<table>\n<thead><tr>", escape(title)));
    for column in &columns {
        out.push_str(&format!("<th>{}</th>", escape(column)));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for item in items {
        out.push_str("<tr>");
        for column in &columns {
            let text = item.json.get(column).map(cell_text).unwrap_or_default();
            out.push_str(&format!("<td>{}</td>", escape(&text)));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</body></html>\n");
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_model::value::Value;

    #[test]
    fn values_are_escaped() {
        let items = vec![Item::new(Value::from(serde_json::json!({"a": "<script>x</script>", "b": 1})))];
        let page = String::from_utf8(write_table(&items, "T & U")).unwrap();
        assert!(page.contains("<title>T &amp; U</title>"));
        assert!(page.contains("<tr><td>&lt;script&gt;x&lt;/script&gt;</td><td>1</td></tr>"), "{page}");
    }
}
