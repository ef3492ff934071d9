//! Items: the unit of data that flows between nodes.

use crate::error::NodeError;
use crate::value::{Object, Value};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use ts_rs::TS;

mod tail;
use tail::{Tail, View};

/// Which input item an output item came from: the index of the item in the node's input
/// `input` (0 for the first input).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
pub struct PairedItem {
    pub item: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    #[ts(as = "Option<u32>", optional)]
    pub input: u32,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

/// Lineage of one item: none (a trigger's items), one source item, or several (aggregates,
/// merges).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Paired {
    #[default]
    None,
    One(PairedItem),
    /// Boxed twice so that `Paired` stays 16 bytes: most items have exactly one source.
    Many(Box<Vec<PairedItem>>),
}

impl Paired {
    pub fn item(index: usize) -> Paired {
        Paired::One(PairedItem { item: index as u32, input: 0 })
    }

    pub fn from_input(input: usize, index: usize) -> Paired {
        Paired::One(PairedItem { item: index as u32, input: input as u32 })
    }

    pub fn many(items: Vec<PairedItem>) -> Paired {
        match items.len() {
            0 => Paired::None,
            1 => Paired::One(items[0]),
            _ => Paired::Many(Box::new(items)),
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Paired::None)
    }

    pub fn as_slice(&self) -> &[PairedItem] {
        match self {
            Paired::None => &[],
            Paired::One(p) => std::slice::from_ref(p),
            Paired::Many(ps) => ps,
        }
    }
}

impl Serialize for Paired {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Paired::None => s.serialize_none(),
            Paired::One(p) => p.serialize(s),
            Paired::Many(ps) => ps.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Paired {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Paired, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Index(u32),
            One(PairedItem),
            Many(Vec<PairedItem>),
            Null(()),
        }
        Ok(match Repr::deserialize(d)? {
            Repr::Index(i) => Paired::One(PairedItem { item: i, input: 0 }),
            Repr::One(p) => Paired::One(p),
            Repr::Many(ps) => Paired::many(ps),
            Repr::Null(()) => Paired::None,
        })
    }
}

/// A file carried by an item: its metadata here, its bytes in the blob store under `ref`
/// (never inline in items, events or the history).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BinaryData {
    /// The file's name, as read or downloaded (`report.csv`); may be empty.
    pub file_name: String,
    /// Its media type (`text/csv`), guessed from the name or given by a server.
    pub mime_type: String,
    #[ts(type = "number")]
    pub size: u64,
    /// SHA-256 of the bytes, lowercase hex.
    pub sha256: String,
    /// Where the blob store keeps the bytes (the content address: the SHA-256).
    #[serde(rename = "ref")]
    pub reference: String,
}

impl BinaryData {
    /// Metadata as expressions see it (`binary.<name>.fileName` …), without the reference.
    pub fn to_value(&self) -> Value {
        let mut o = Object::new();
        o.insert("fileName", Value::from(self.file_name.as_str()));
        o.insert("mimeType", Value::from(self.mime_type.as_str()));
        o.insert("size", Value::from(self.size as i64));
        o.insert("sha256", Value::from(self.sha256.as_str()));
        Value::object(o)
    }
}

/// An item's files by property name, in name order.
pub type Binaries = std::collections::BTreeMap<String, BinaryData>;

/// One item: its JSON, its files, where it came from, and the error it carries when a node
/// set to "continue" failed on it.
// An item is 32 bytes: its JSON and one word for the rest (see `Tail`), so a million items
// take 32 MB besides their JSON.
#[derive(Clone, Default, PartialEq, TS)]
#[ts(as = "ItemShape")]
pub struct Item {
    pub json: Value,
    tail: Tail,
}

/// What an item looks like outside (JSON, the UI's types).
#[derive(Serialize, Deserialize, TS, JsonSchema)]
#[ts(rename = "Item")]
#[schemars(rename = "Item")]
struct ItemShape {
    #[ts(as = "serde_json::Value")]
    #[schemars(with = "serde_json::Value")]
    json: Value,
    #[serde(rename = "pairedItem", default, skip_serializing_if = "Paired::is_none")]
    #[ts(as = "Option<PairedShape>", optional)]
    #[schemars(with = "Option<PairedShape>")]
    paired: Paired,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    error: Option<NodeError>,
    /// Files by property name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, as = "Option<std::collections::BTreeMap<String, BinaryData>>")]
    binary: Option<Binaries>,
}

/// What `pairedItem` may hold: one source as an object, several as a list, or (in files
/// written by hand) just an item index.
#[derive(TS, JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum PairedShape {
    One(PairedItem),
    Many(Vec<PairedItem>),
    Index(u32),
}

/// The JSON form of an item, borrowing it.
#[derive(Serialize)]
struct ItemOut<'a> {
    json: &'a Value,
    #[serde(rename = "pairedItem", skip_serializing_if = "<[PairedItem]>::is_empty", serialize_with = "lineage")]
    paired: &'a [PairedItem],
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a NodeError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    binary: Option<&'a Binaries>,
}

/// One source as an object, several as a list (as [`Paired`] serializes).
fn lineage<S: Serializer>(paired: &&[PairedItem], s: S) -> Result<S::Ok, S::Error> {
    match paired {
        [one] => one.serialize(s),
        many => many.serialize(s),
    }
}

impl JsonSchema for Item {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        ItemShape::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        ItemShape::json_schema(generator)
    }
}

impl Serialize for Item {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let one;
        let paired = match self.tail.view() {
            View::Empty => &[][..],
            View::One(p) => {
                one = [p];
                &one[..]
            }
            View::Extra(e) => e.paired.as_slice(),
        };
        ItemOut { json: &self.json, paired, error: self.error(), binary: self.binary() }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Item, D::Error> {
        let shape = ItemShape::deserialize(d)?;
        let mut item = Item::with_paired(shape.json, shape.paired);
        if let Some(error) = shape.error {
            item.set_error(error);
        }
        if let Some(binary) = shape.binary {
            item.set_binary(binary);
        }
        Ok(item)
    }
}

impl std::fmt::Debug for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Item");
        d.field("json", &self.json).field("paired", &self.paired());
        if let Some(error) = self.error() {
            d.field("error", error);
        }
        if let Some(binary) = self.binary() {
            d.field("binary", binary);
        }
        d.finish()
    }
}

impl Item {
    pub fn new(json: Value) -> Item {
        Item { json, tail: Tail::default() }
    }

    /// An item derived from input item `index` of the first input.
    pub fn derived(json: Value, index: usize) -> Item {
        Item::with_paired(json, Paired::item(index))
    }

    /// An item with this JSON and lineage and no files.
    pub fn with_paired(json: Value, paired: Paired) -> Item {
        Item { json, tail: Tail::from_paired(paired) }
    }

    /// Where the item came from.
    pub fn paired(&self) -> Paired {
        match self.tail.view() {
            View::Empty => Paired::None,
            View::One(p) => Paired::One(p),
            View::Extra(e) => e.paired.clone(),
        }
    }

    /// The first item it came from, if any.
    pub fn source(&self) -> Option<PairedItem> {
        match self.tail.view() {
            View::Empty => None,
            View::One(p) => Some(p),
            View::Extra(e) => e.paired.as_slice().first().copied(),
        }
    }

    pub fn set_paired(&mut self, paired: Paired) {
        match self.tail.view() {
            View::Extra(_) => {
                self.tail.extra_mut().paired = paired;
                self.tail.settle();
            }
            _ => self.tail = Tail::from_paired(paired),
        }
    }

    /// The error a node set to "continue" failed with on this item.
    pub fn error(&self) -> Option<&NodeError> {
        match self.tail.view() {
            View::Extra(e) => e.error.as_ref(),
            _ => None,
        }
    }

    pub fn set_error(&mut self, error: NodeError) {
        self.tail.extra_mut().error = Some(error);
    }

    pub fn take_error(&mut self) -> Option<NodeError> {
        let View::Extra(_) = self.tail.view() else { return None };
        let error = self.tail.extra_mut().error.take();
        self.tail.settle();
        error
    }

    /// The item with this error set.
    pub fn with_error(mut self, error: NodeError) -> Item {
        self.set_error(error);
        self
    }

    /// Its files by property name, when it has any.
    pub fn binary(&self) -> Option<&Binaries> {
        match self.tail.view() {
            View::Extra(e) if !e.binary.is_empty() => Some(&e.binary),
            _ => None,
        }
    }

    /// Replaces its files (none when `binary` is empty).
    pub fn set_binary(&mut self, binary: Binaries) {
        if binary.is_empty() {
            self.take_binary();
        } else {
            self.tail.extra_mut().binary = binary;
        }
    }

    /// Takes its files out (empty when it has none).
    pub fn take_binary(&mut self) -> Binaries {
        let View::Extra(_) = self.tail.view() else { return Binaries::new() };
        let binary = std::mem::take(&mut self.tail.extra_mut().binary);
        self.tail.settle();
        binary
    }

    /// The same item (its files, its error) with new JSON and lineage.
    pub fn reshaped(mut self, json: Value, paired: Paired) -> Item {
        self.json = json;
        self.set_paired(paired);
        self
    }

    /// The same item with another lineage.
    pub fn reshaped_paired(mut self, paired: Paired) -> Item {
        self.set_paired(paired);
        self
    }

    /// Takes the JSON out, leaving null (to build the new JSON from it).
    pub fn take_json(&mut self) -> Value {
        std::mem::take(&mut self.json)
    }

    /// This item's file under `name`, if it has one.
    pub fn file(&self, name: &str) -> Option<&BinaryData> {
        self.binary().and_then(|b| b.get(name))
    }

    /// Adds (or replaces) a file under `name`.
    pub fn set_file(&mut self, name: impl Into<String>, data: BinaryData) {
        self.tail.extra_mut().binary.insert(name.into(), data);
    }

    /// The item's files' metadata as expressions see them (`{}` without files).
    pub fn binary_value(&self) -> Value {
        let mut o = Object::new();
        for (name, data) in self.binary().into_iter().flatten() {
            o.insert(name.as_str(), data.to_value());
        }
        Value::object(o)
    }

    /// Every blob reference the item holds.
    pub fn references(&self) -> impl Iterator<Item = &str> {
        self.binary().into_iter().flat_map(|b| b.values()).map(|d| d.reference.as_str())
    }

    /// An item with an empty object, as a manual trigger emits.
    pub fn empty() -> Item {
        Item::new(Value::object(Object::new()))
    }

    /// Turns any JSON value into an item: objects as they are, anything else wrapped as
    /// `{"value": …}` so that every item's JSON is an object.
    pub fn wrap(value: Value) -> Item {
        match value {
            Value::Object(_) => Item::new(value),
            other => Item::new(Value::object([("value", other)].into_iter().collect())),
        }
    }

    /// Items from user input: an array gives one item per element, anything else one item.
    pub fn from_input(value: Value) -> Vec<Item> {
        match value {
            Value::Array(values) => values.into_vec().into_iter().map(Item::wrap).collect(),
            other => vec![Item::wrap(other)],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value;

    #[test]
    fn paired_item_forms() {
        let a: Item = serde_json::from_str(r#"{"json":{},"pairedItem":3}"#).unwrap();
        assert_eq!(a.paired(), Paired::item(3));
        let b: Item = serde_json::from_str(r#"{"json":{},"pairedItem":[{"item":1},{"item":2,"input":1}]}"#).unwrap();
        assert_eq!(b.paired().as_slice().len(), 2);
        assert_eq!(serde_json::to_string(&b).unwrap(), r#"{"json":{},"pairedItem":[{"item":1},{"item":2,"input":1}]}"#);
        let c: Item = serde_json::from_str(r#"{"json":{"a":1}}"#).unwrap();
        assert_eq!(serde_json::to_string(&c).unwrap(), r#"{"json":{"a":1}}"#);
    }

    #[test]
    fn items_stay_small() {
        assert_eq!(std::mem::size_of::<Paired>(), 16);
        assert_eq!(std::mem::size_of::<Item>(), 32);
    }

    #[test]
    fn input_wraps_non_objects() {
        let items = Item::from_input(value!([1, {"a": 2}]));
        assert_eq!(items[0].json, value!({"value": 1}));
        assert_eq!(items[1].json, value!({"a": 2}));
    }
}
