//! XML: elements become objects (attributes as `@name`, text beside children as `#text`,
//! repeated children as lists; names as written, namespace prefixes included), and back.
//! Read as a stream: with an item element, only those elements are built, one item each.

use super::{Budget, cell_text, failed};
use quick_xml::events::{BytesStart, Event};
use std::io::BufRead;
use switchyard_model::error::NodeError;
use switchyard_model::item::Item;
use switchyard_model::value::{Object, Value};

/// An element being read.
struct Frame {
    name: String,
    fields: Object,
    text: String,
}

impl Frame {
    fn new(start: &BytesStart<'_>, file: &str, at: u64, budget: &mut Budget) -> Result<Frame, NodeError> {
        let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
        let mut fields = Object::new();
        for attribute in start.attributes() {
            let attribute = attribute.map_err(|e| failed(file, &format!("at byte {at}"), e))?;
            let key = format!("@{}", String::from_utf8_lossy(attribute.key.as_ref()));
            let value = attribute.unescape_value().map_err(|e| failed(file, &format!("at byte {at}"), e))?;
            budget.take(key.len() + value.len() + 48)?;
            fields.insert(&key, Value::from(value.into_owned()));
        }
        budget.take(name.len() + 64)?;
        Ok(Frame { name, fields, text: String::new() })
    }

    /// The element as a value: text alone for an element with only text, else an object.
    fn finish(mut self) -> (String, Value) {
        let text = self.text.trim();
        if self.fields.is_empty() {
            return (self.name, Value::from(text));
        }
        if !text.is_empty() {
            self.fields.insert("#text", Value::from(text));
        }
        (self.name, Value::object(self.fields))
    }

    /// Adds a child: a second child of the same name turns the field into a list.
    fn add(&mut self, name: &str, value: Value) {
        match self.fields.get_mut(name) {
            None => {
                self.fields.insert(name, value);
            }
            Some(Value::Array(list)) if !name.starts_with('@') => {
                let mut all = std::mem::take(list).into_vec();
                all.push(value);
                *list = all.into_boxed_slice();
            }
            Some(existing) => {
                let first = std::mem::take(existing);
                *existing = Value::array(vec![first, value]);
            }
        }
    }
}

/// Reads a document: every `item_element` (by its name as written, or without its prefix)
/// as an item, or with none, the whole document as one item `{root: …}`.
pub fn read(reader: impl BufRead, item_element: &str, budget: &mut Budget) -> Result<Vec<Value>, NodeError> {
    let file = budget.name.clone();
    let mut xml = quick_xml::Reader::from_reader(reader);
    xml.config_mut().trim_text(false);
    let mut buffer = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut items = Vec::new();
    let whole = item_element.trim().is_empty();
    let matches =
        |name: &str| name == item_element || name.rsplit_once(':').is_some_and(|(_, local)| local == item_element);
    loop {
        let at = xml.buffer_position();
        let event = xml.read_event_into(&mut buffer).map_err(|e| {
            failed(&file, &format!("at byte {}", xml.error_position()), format!("not well-formed XML: {e}"))
        })?;
        match event {
            Event::Start(start) => {
                let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                if !stack.is_empty() || whole || matches(&name) {
                    stack.push(Frame::new(&start, &file, at, budget)?);
                }
            }
            Event::Empty(start) => {
                let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                if !stack.is_empty() || whole || matches(&name) {
                    let frame = Frame::new(&start, &file, at, budget)?;
                    close(frame, &mut stack, &mut items, whole);
                }
            }
            Event::End(_) => {
                if let Some(frame) = stack.pop() {
                    close(frame, &mut stack, &mut items, whole);
                    if items.len() % 4096 == 0 {
                        budget.check()?;
                    }
                }
            }
            Event::Text(text) => {
                if let Some(frame) = stack.last_mut() {
                    let text = text.xml_content().map_err(|e| failed(&file, &format!("at byte {at}"), e))?;
                    budget.take(text.len())?;
                    frame.text.push_str(&text);
                }
            }
            Event::CData(data) => {
                if let Some(frame) = stack.last_mut() {
                    let text = data.decode().map_err(|e| failed(&file, &format!("at byte {at}"), e))?;
                    budget.take(text.len())?;
                    frame.text.push_str(&text);
                }
            }
            Event::GeneralRef(reference) => {
                if let Some(frame) = stack.last_mut() {
                    let resolved = match reference.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        _ => {
                            let name = reference.decode().map_err(|e| failed(&file, &format!("at byte {at}"), e))?;
                            quick_xml::escape::resolve_predefined_entity(&name).map(str::to_string).ok_or_else(
                                || failed(&file, &format!("at byte {at}"), format!("unknown entity &{name};")),
                            )?
                        }
                    };
                    frame.text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buffer.clear();
    }
    if !stack.is_empty() {
        return Err(failed(&file, "", format!("ends inside <{}>", stack[stack.len() - 1].name)));
    }
    Ok(items)
}

fn close(frame: Frame, stack: &mut [Frame], items: &mut Vec<Value>, whole: bool) {
    let (name, value) = frame.finish();
    match stack.last_mut() {
        Some(parent) => parent.add(&name, value),
        None if whole => items.push(Value::object([(name.as_str(), value)].into_iter().collect())),
        None => items.push(match value {
            Value::Object(_) => value,
            text => Value::object([("#text", text)].into_iter().collect()),
        }),
    }
}

/// Writes `<root><item>…</item>…</root>`: fields as child elements, `@name` fields as
/// attributes, `#text` as text, lists as repeated elements. Names that XML does not allow
/// are made valid (other characters become `_`).
pub fn write(items: &[Item], root: &str, item: &str) -> Vec<u8> {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let root = element_name(if root.trim().is_empty() { "items" } else { root });
    let item = if item.trim().is_empty() { "item" } else { item };
    out.push_str(&format!("<{root}>\n"));
    for each in items {
        out.push_str("  ");
        element(&mut out, item, &each.json);
        out.push('\n');
    }
    out.push_str(&format!("</{root}>\n"));
    out.into_bytes()
}

fn element(out: &mut String, name: &str, value: &Value) {
    let name = element_name(name);
    match value {
        Value::Array(list) => {
            for v in list.iter() {
                element(out, &name, v);
            }
        }
        Value::Object(object) => {
            out.push('<');
            out.push_str(&name);
            for (key, v) in object.iter() {
                if let Some(attribute) = key.strip_prefix('@') {
                    out.push_str(&format!(
                        " {}=\"{}\"",
                        element_name(attribute),
                        quick_xml::escape::escape(cell_text(v).as_ref())
                    ));
                }
            }
            out.push('>');
            for (key, v) in object.iter() {
                if key == "#text" {
                    out.push_str(&quick_xml::escape::escape(cell_text(v).as_ref()));
                } else if !key.starts_with('@') {
                    element(out, key, v);
                }
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::Null => out.push_str(&format!("<{name}/>")),
        other => {
            out.push_str(&format!("<{name}>{}</{name}>", quick_xml::escape::escape(cell_text(other).as_ref())));
        }
    }
}

/// A valid XML name: letters, digits, `_`, `-`, `.` and `:` (not first), else `_`.
fn element_name(name: &str) -> String {
    let mut out: String =
        name.chars().map(|c| if c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':') { c } else { '_' }).collect();
    if out.is_empty() || !out.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_') {
        out.insert(0, '_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tokio_util::sync::CancellationToken;

    fn budget() -> Budget {
        Budget::new(1 << 20, CancellationToken::new(), "feed.xml")
    }

    #[test]
    fn namespaces_attributes_lists_and_entities() {
        let doc = r#"<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/">
  <entry id="1"><title>Fish &amp; chips &#x263A;</title><media:thumbnail url="a.png"/><tag>x</tag><tag>y</tag></entry>
  <entry id="2"><title><![CDATA[<raw>]]></title></entry>
</feed>"#;
        let items: Vec<serde_json::Value> =
            read(doc.as_bytes(), "entry", &mut budget()).unwrap().iter().map(serde_json::Value::from).collect();
        assert_eq!(
            items[0],
            json!({"@id": "1", "title": "Fish & chips ☺", "media:thumbnail": {"@url": "a.png"}, "tag": ["x", "y"]})
        );
        assert_eq!(items[1], json!({"@id": "2", "title": "<raw>"}));
        // Whole document: one item.
        let whole = read(doc.as_bytes(), "", &mut budget()).unwrap();
        let whole = serde_json::Value::from(&whole[0]);
        assert_eq!(whole["feed"]["@xmlns:media"], "http://search.yahoo.com/mrss/");
        assert_eq!(whole["feed"]["entry"][1]["@id"], "2");
    }

    #[test]
    fn broken_documents_name_the_byte() {
        let e = read(&b"<a><b></a>"[..], "", &mut budget()).unwrap_err();
        assert!(e.message.starts_with("feed.xml at byte"), "{}", e.message);
    }

    #[test]
    fn writes_what_it_reads() {
        let items: Vec<Item> = [json!({"@id": "1", "name": "A & B", "tag": ["x", "y"], "2bad name": 3})]
            .into_iter()
            .map(|j| Item::new(Value::from(j)))
            .collect();
        let text = String::from_utf8(write(&items, "", "")).unwrap();
        assert!(
            text.contains(
                r#"<item id="1"><name>A &amp; B</name><tag>x</tag><tag>y</tag><_2bad_name>3</_2bad_name></item>"#
            ),
            "{text}"
        );
        let back = read(text.as_bytes(), "item", &mut budget()).unwrap();
        assert_eq!(serde_json::Value::from(&back[0])["tag"], json!(["x", "y"]));
    }
}
