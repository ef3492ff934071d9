//! Compact JSON values for workflow items.
//!
//! Items flow through every node, often by the million, so their representation decides
//! how much memory a run needs. `serde_json::Value` with ordered maps costs about 13x the
//! JSON text; this type costs about 2.5x:
//! - a `Value` is 24 bytes, strings of up to 24 bytes are stored inline;
//! - an object sits inside the `Value` (no box of its own): a pointer to its key list (its
//!   *shape*, shared with every other object that has the same keys in the same order) and a
//!   pointer to exactly as many values as keys, so a million records parsed from one array
//!   hold one copy of their keys.
//!
//! Objects keep insertion order, like JSON objects in JavaScript. Shapes and keys are
//! interned in small per-thread caches that are bounded and simply cleared when full:
//! clearing only loses sharing for objects built later, never correctness.

use compact_str::CompactString;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smallvec::SmallVec;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};
use thin_vec::ThinVec;

/// An object key. Keys are shared between objects.
pub type Key = Arc<str>;

/// A list of keys shared by objects. Behind a thin pointer so that an object fits in a value.
#[derive(Debug)]
struct Keys(Box<[Key]>);
type Shape = Arc<Keys>;

impl std::ops::Deref for Keys {
    type Target = [Key];
    fn deref(&self) -> &[Key] {
        &self.0
    }
}

/// A JSON value as carried by items.
#[derive(Clone, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(CompactString),
    Array(Box<[Value]>),
    Object(Object),
}

/// Values nest at most this deep (as serde_json reads JSON): deeper ones would overflow
/// the stack when copied, measured or dropped.
pub const MAX_DEPTH: usize = 128;

/// How a value is over its limits ([`Value::exceeds`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Excess {
    /// Larger than this many bytes.
    Bytes(usize),
    /// Nested deeper than this many levels.
    Depth(usize),
}

impl std::fmt::Display for Excess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Excess::Bytes(limit) => write!(f, "larger than the limit of {} MiB", limit / (1024 * 1024)),
            Excess::Depth(limit) => write!(f, "nested deeper than {limit} levels"),
        }
    }
}

/// A JSON object that keeps insertion order and shares its key list.
#[derive(Clone)]
pub struct Object {
    keys: Shape,
    /// Exactly as many values as keys: no spare capacity in memory.
    values: ThinVec<Value>,
}

const MAX_INTERNED_KEY_LEN: usize = 128;
const MAX_CACHED_SHAPE_LEN: usize = 64;
const MAX_CACHE_ENTRIES: usize = 16_384;

#[derive(Default)]
struct Interner {
    keys: HashMap<Box<str>, Key>,
    /// Shapes by the addresses of their (interned) keys. Every entry holds its shape and so
    /// keeps those keys alive: an address in a live entry can never be reused.
    shapes: HashMap<Box<[usize]>, Shape>,
}

thread_local! {
    static INTERNER: RefCell<Interner> = RefCell::new(Interner::default());
}

fn empty_shape() -> Shape {
    static EMPTY: OnceLock<Shape> = OnceLock::new();
    EMPTY.get_or_init(|| Arc::new(Keys(Box::default()))).clone()
}

/// Returns the shared key for `name` (interned when short).
pub fn intern(name: &str) -> Key {
    if name.len() > MAX_INTERNED_KEY_LEN {
        return Arc::from(name);
    }
    INTERNER.with(|cell| {
        let mut interner = cell.borrow_mut();
        if let Some(key) = interner.keys.get(name) {
            return key.clone();
        }
        if interner.keys.len() >= MAX_CACHE_ENTRIES {
            *interner = Interner::default();
        }
        let key: Key = Arc::from(name);
        interner.keys.insert(name.into(), key.clone());
        key
    })
}

fn shape_of(keys: Vec<Key>) -> Shape {
    shape_from(&keys)
}

fn shape_from(keys: &[Key]) -> Shape {
    if keys.is_empty() {
        return empty_shape();
    }
    if keys.len() > MAX_CACHED_SHAPE_LEN {
        return Arc::new(Keys(keys.into()));
    }
    let id: Box<[usize]> = keys.iter().map(|k| k.as_ptr() as usize).collect();
    INTERNER.with(|cell| {
        let mut interner = cell.borrow_mut();
        if let Some(shape) = interner.shapes.get(&id) {
            // Equal addresses mean the very same key allocations: same names, same order.
            return shape.clone();
        }
        if interner.shapes.len() >= MAX_CACHE_ENTRIES {
            interner.shapes.clear();
        }
        let shape: Shape = Arc::new(Keys(keys.into()));
        interner.shapes.insert(id, shape.clone());
        shape
    })
}

impl Object {
    pub fn new() -> Self {
        Object { keys: empty_shape(), values: ThinVec::new() }
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.keys.iter().position(|k| &**k == key)
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position(key).map(|i| &self.values[i])
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.position(key).map(move |i| &mut self.values[i])
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Sets `key` to `value`, keeping the key's place if it exists and appending it if not.
    /// Returns the previous value.
    pub fn insert(&mut self, key: &str, value: Value) -> Option<Value> {
        if let Some(i) = self.position(key) {
            return Some(std::mem::replace(&mut self.values[i], value));
        }
        let mut keys = Vec::with_capacity(self.keys.len() + 1);
        keys.extend(self.keys.iter().cloned());
        keys.push(intern(key));
        self.keys = shape_of(keys);
        self.values.reserve_exact(1);
        self.values.push(value);
        None
    }

    /// Removes `key`, keeping the order of the others.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let i = self.position(key)?;
        let keys: Vec<Key> = self.keys.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, k)| k.clone()).collect();
        self.keys = shape_of(keys);
        let removed = self.values.remove(i);
        self.values.shrink_to_fit();
        Some(removed)
    }

    /// Keeps only the entries for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &Value) -> bool) {
        let mut keys = Vec::with_capacity(self.keys.len());
        let mut values = Vec::with_capacity(self.values.len());
        for (k, v) in self.keys.iter().zip(std::mem::take(&mut self.values)) {
            if keep(k, &v) {
                keys.push(k.clone());
                values.push(v);
            }
        }
        self.keys = shape_of(keys);
        self.values = values.into_iter().collect();
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Value)> {
        self.keys.iter().map(|k| &**k).zip(self.values.iter())
    }

    pub fn iter_mut(&mut self) -> impl ExactSizeIterator<Item = (&str, &mut Value)> {
        self.keys.iter().map(|k| &**k).zip(self.values.iter_mut())
    }

    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
        self.keys.iter().map(|k| &**k)
    }

    pub fn values(&self) -> impl ExactSizeIterator<Item = &Value> {
        self.values.iter()
    }

    /// Builds an object from key/value pairs; a repeated key keeps its first place and its
    /// last value, as JSON parsers do. Allocates exactly what the object needs.
    /// An object with these (interned) keys and values, in order: rows of a table share
    /// one key list.
    pub fn from_keys(keys: &[Key], values: Vec<Value>) -> Self {
        Object::from_pairs(keys, values.into_iter())
    }

    fn from_pairs(keys: &[Key], values: impl ExactSizeIterator<Item = Value>) -> Self {
        if has_duplicates(keys) {
            let mut object = Object::new();
            for (k, v) in keys.iter().zip(values) {
                object.insert(k, v);
            }
            return object;
        }
        let mut exact = ThinVec::with_capacity(values.len());
        exact.extend(values);
        Object { keys: shape_from(keys), values: exact }
    }
}

/// One key list for many objects (the rows of a table): [`Template::build`] makes each row
/// without looking its keys up again.
#[derive(Clone)]
pub struct Template {
    keys: Shape,
    /// The keys as given when some repeat (rows are then built one key at a time).
    repeated: Option<Vec<Key>>,
}

impl Template {
    pub fn new(keys: &[Key]) -> Template {
        if has_duplicates(keys) {
            return Template { keys: empty_shape(), repeated: Some(keys.to_vec()) };
        }
        Template { keys: shape_from(keys), repeated: None }
    }

    /// How many values a row has.
    pub fn len(&self) -> usize {
        self.repeated.as_ref().map_or(self.keys.len(), Vec::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// An object of these keys and `values` (one per key, in order), or the first error
    /// `values` yields.
    pub fn try_build<E>(&self, values: impl Iterator<Item = Result<Value, E>>) -> Result<Object, E> {
        if let Some(keys) = &self.repeated {
            let mut object = Object::new();
            for (k, v) in keys.iter().zip(values) {
                object.insert(k, v?);
            }
            return Ok(object);
        }
        let mut exact = ThinVec::with_capacity(self.keys.len());
        for value in values.take(self.keys.len()) {
            exact.push(value?);
        }
        exact.resize(self.keys.len(), Value::Null);
        Ok(Object { keys: self.keys.clone(), values: exact })
    }
}

impl Object {
    /// Whether both objects have the very same key list (rows from one [`Template`]): then
    /// a key's index in one is its index in the other.
    pub fn shares_keys(&self, other: &Object) -> bool {
        Arc::ptr_eq(&self.keys, &other.keys)
    }

    /// Where `key` is among the keys.
    pub fn index_of(&self, key: &str) -> Option<usize> {
        self.position(key)
    }

    /// The value at `index` (see [`Object::index_of`]).
    pub fn value_at(&self, index: usize) -> Option<&Value> {
        self.values.get(index)
    }
}

fn has_duplicates(keys: &[Key]) -> bool {
    if keys.len() <= 16 {
        keys.iter().enumerate().any(|(i, k)| keys[..i].iter().any(|o| o == k))
    } else {
        let mut seen = std::collections::HashSet::with_capacity(keys.len());
        keys.iter().any(|k| !seen.insert(&**k))
    }
}

impl Default for Object {
    fn default() -> Self {
        Object::new()
    }
}

impl PartialEq for Object {
    /// Objects are equal when they hold the same keys with equal values, in any order.
    fn eq(&self, other: &Self) -> bool {
        if Arc::ptr_eq(&self.keys, &other.keys) {
            return self.values == other.values;
        }
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl fmt::Debug for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: AsRef<str>> FromIterator<(K, Value)> for Object {
    fn from_iter<T: IntoIterator<Item = (K, Value)>>(iter: T) -> Self {
        let (keys, values): (Vec<Key>, Vec<Value>) = iter.into_iter().map(|(k, v)| (intern(k.as_ref()), v)).unzip();
        Object::from_pairs(&keys, values.into_iter())
    }
}

impl IntoIterator for Object {
    type Item = (Key, Value);
    type IntoIter = std::iter::Zip<std::vec::IntoIter<Key>, thin_vec::IntoIter<Value>>;
    fn into_iter(self) -> Self::IntoIter {
        self.keys.iter().cloned().collect::<Vec<_>>().into_iter().zip(self.values)
    }
}

impl Value {
    pub fn object(object: Object) -> Value {
        Value::Object(object)
    }

    pub fn array(values: Vec<Value>) -> Value {
        Value::Array(values.into_boxed_slice())
    }

    pub fn string(s: impl Into<CompactString>) -> Value {
        Value::String(s.into())
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value as a float when it is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The value as an integer when it is an integer, or a float with no fraction.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    pub fn as_object_mut(&mut self) -> Option<&mut Object> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The JSON type name, as used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) | Value::Float(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    /// Looks a key up when this is an object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object().and_then(|o| o.get(key))
    }

    /// Follows a parsed path (see [`crate::path`]).
    pub fn get_path(&self, path: &[crate::path::Segment]) -> Option<&Value> {
        let mut current = self;
        for segment in path {
            current = match (segment, current) {
                (crate::path::Segment::Key(k), Value::Object(o)) => o.get(k)?,
                (crate::path::Segment::Index(i), Value::Array(a)) => a.get(*i)?,
                _ => return None,
            };
        }
        Some(current)
    }

    /// Sets the value at `path`, creating objects along the way; an existing non-object in
    /// the way is replaced. Array indexes only address existing elements.
    pub fn set_path(&mut self, path: &[crate::path::Segment], value: Value) -> bool {
        let Some((first, rest)) = path.split_first() else {
            *self = value;
            return true;
        };
        match first {
            crate::path::Segment::Key(k) => {
                if !matches!(self, Value::Object(_)) {
                    *self = Value::object(Object::new());
                }
                let Value::Object(o) = self else { return false };
                if rest.is_empty() {
                    o.insert(k, value);
                    return true;
                }
                if o.get(k).is_none() {
                    o.insert(k, Value::object(Object::new()));
                }
                o.get_mut(k).is_some_and(|child| child.set_path(rest, value))
            }
            crate::path::Segment::Index(i) => match self {
                Value::Array(a) => a.get_mut(*i).is_some_and(|child| child.set_path(rest, value)),
                _ => false,
            },
        }
    }

    /// Removes the value at `path` from its object, returning it.
    pub fn remove_path(&mut self, path: &[crate::path::Segment]) -> Option<Value> {
        let (last, parents) = path.split_last()?;
        let mut current = self;
        for segment in parents {
            current = match (segment, current) {
                (crate::path::Segment::Key(k), Value::Object(o)) => o.get_mut(k)?,
                (crate::path::Segment::Index(i), Value::Array(a)) => a.get_mut(*i)?,
                _ => return None,
            };
        }
        match (last, current) {
            (crate::path::Segment::Key(k), Value::Object(o)) => o.remove(k),
            _ => None,
        }
    }

    /// Truthiness as in JavaScript: null, false, 0, NaN and "" are false.
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0 && !f.is_nan(),
            Value::String(s) => !s.is_empty(),
            Value::Array(_) | Value::Object(_) => true,
        }
    }

    /// Compact JSON text.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "null".into())
    }

    /// The value as display text: strings without quotes, everything else as JSON.
    pub fn to_text(&self) -> String {
        match self {
            Value::String(s) => s.to_string(),
            Value::Null => String::new(),
            other => other.to_json_string(),
        }
    }

    /// Whether this value is larger than `max_bytes` of JSON (roughly: strings count their
    /// bytes, other values a few) or nested deeper than `max_depth`; stops as soon as it
    /// knows, and walks without recursion (a value too deep for the stack is still told).
    pub fn exceeds(&self, max_bytes: usize, max_depth: usize) -> Option<Excess> {
        self.measure(max_bytes, max_depth).err()
    }

    /// About how many bytes the value takes as JSON (strings, keys and a few bytes per
    /// scalar and container), or how it is over `max_bytes` / `max_depth`. Walks without
    /// recursion and stops as soon as a limit is passed.
    pub fn measure(&self, max_bytes: usize, max_depth: usize) -> Result<usize, Excess> {
        // Most evaluated parameters are scalars: no walk (and no allocation) for them.
        let bytes = match self {
            Value::String(s) => s.len() + 2,
            Value::Array(_) | Value::Object(_) => return self.measure_nested(max_bytes, max_depth),
            _ => 8,
        };
        if bytes > max_bytes { Err(Excess::Bytes(max_bytes)) } else { Ok(bytes) }
    }

    fn measure_nested(&self, max_bytes: usize, max_depth: usize) -> Result<usize, Excess> {
        let mut stack: Vec<(&Value, usize)> = vec![(self, 1)];
        let mut bytes = 0usize;
        while let Some((value, depth)) = stack.pop() {
            if depth > max_depth {
                return Err(Excess::Depth(max_depth));
            }
            bytes += match value {
                Value::String(s) => s.len() + 2,
                Value::Array(items) => {
                    stack.extend(items.iter().map(|v| (v, depth + 1)));
                    items.len() + 2
                }
                Value::Object(object) => {
                    stack.extend(object.iter().map(|(_, v)| (v, depth + 1)));
                    object.iter().map(|(k, _)| k.len() + 4).sum::<usize>() + 2
                }
                _ => 8,
            };
            if bytes > max_bytes {
                return Err(Excess::Bytes(max_bytes));
            }
        }
        Ok(bytes)
    }

    /// Bytes of JSON text this value would take, computed without allocating the text.
    pub fn json_len(&self) -> usize {
        struct Counter(usize);
        impl std::io::Write for Counter {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0 += buf.len();
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut counter = Counter(0);
        let _ = serde_json::to_writer(&mut counter, self);
        counter.0
    }
}

impl PartialEq for Value {
    /// Numbers compare by value (1 == 1.0); objects ignore key order.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => self.as_f64() == other.as_f64(),
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Array(a), Value::Array(b)) => a == b,
            (Value::Object(a), Value::Object(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::String(s) => write!(f, "{s:?}"),
            Value::Array(a) => f.debug_list().entries(a.iter()).finish(),
            Value::Object(o) => o.fmt(f),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json_string())
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value { Value::Int(v as i64) }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32, isize);

impl From<u64> for Value {
    fn from(v: u64) -> Value {
        i64::try_from(v).map(Value::Int).unwrap_or(Value::Float(v as f64))
    }
}
impl From<usize> for Value {
    fn from(v: usize) -> Value {
        Value::from(v as u64)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Float(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Bool(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::String(v.into())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::String(v.into())
    }
}
impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Value {
        Value::array(v)
    }
}
impl From<Object> for Value {
    fn from(v: Object) -> Value {
        Value::object(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

impl From<&serde_json::Value> for Value {
    fn from(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => number_from_json(n),
            serde_json::Value::String(s) => Value::String(s.as_str().into()),
            serde_json::Value::Array(a) => Value::array(a.iter().map(Value::from).collect()),
            serde_json::Value::Object(o) => {
                Value::object(o.iter().map(|(k, v)| (k.as_str(), Value::from(v))).collect())
            }
        }
    }
}

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Value {
        Value::from(&v)
    }
}

fn number_from_json(n: &serde_json::Number) -> Value {
    if let Some(i) = n.as_i64() { Value::Int(i) } else { Value::Float(n.as_f64().unwrap_or(f64::NAN)) }
}

impl From<&Value> for serde_json::Value {
    fn from(v: &Value) -> serde_json::Value {
        match v {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => {
                serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, serde_json::Value::Number)
            }
            Value::String(s) => serde_json::Value::String(s.to_string()),
            Value::Array(a) => serde_json::Value::Array(a.iter().map(Into::into).collect()),
            Value::Object(o) => serde_json::Value::Object(o.iter().map(|(k, v)| (k.to_string(), v.into())).collect()),
        }
    }
}

impl From<Value> for serde_json::Value {
    fn from(v: Value) -> serde_json::Value {
        serde_json::Value::from(&v)
    }
}

/// Any JSON value, as `serde_json::Value` describes it.
impl schemars::JsonSchema for Value {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "AnyValue".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        serde_json::Value::json_schema(generator)
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(i) => serializer.serialize_i64(*i),
            Value::Float(f) if f.is_finite() => serializer.serialize_f64(*f),
            Value::Float(_) => serializer.serialize_unit(),
            Value::String(s) => serializer.serialize_str(s),
            Value::Array(a) => {
                let mut seq = serializer.serialize_seq(Some(a.len()))?;
                for v in a.iter() {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Value::Object(o) => o.serialize(serializer),
        }
    }
}

impl Serialize for Object {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(Value::from(u))
    }
    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Float(f))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.into()))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s.into()))
    }
    // Elements gather on the stack first, so the heap gets one allocation of exactly the
    // right size: growing and shrinking vectors would leave holes behind in the heap.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut values: SmallVec<[Value; 16]> = SmallVec::new();
        while let Some(v) = seq.next_element::<Value>()? {
            values.push(v);
        }
        Ok(Value::Array(values.into_iter().collect()))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut keys: SmallVec<[Key; 16]> = SmallVec::new();
        let mut values: SmallVec<[Value; 16]> = SmallVec::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            keys.push(key);
            values.push(map.next_value::<Value>()?);
        }
        Ok(Value::object(Object::from_pairs(&keys, values.into_iter())))
    }
}

/// Deserializes a key straight into its interned form, without an intermediate String.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Key;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Key, E> {
        Ok(intern(s))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

impl<'de> Deserialize<'de> for Object {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Object, D::Error> {
        match Value::deserialize(d)? {
            Value::Object(o) => Ok(o),
            other => Err(de::Error::custom(format!("expected an object, found {}", other.type_name()))),
        }
    }
}

/// Builds a [`Value`] with `serde_json::json!` syntax.
#[macro_export]
macro_rules! value {
    ($($json:tt)+) => {
        $crate::value::Value::from(::serde_json::json!($($json)+))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_from_one_template_share_keys_and_repeated_keys_keep_the_last_value() {
        let keys: Vec<Key> = ["id", "name"].iter().map(|k| intern(k)).collect();
        let template = Template::new(&keys);
        let a = template.try_build([Ok::<_, ()>(Value::Int(1)), Ok(Value::from("Ada"))].into_iter()).unwrap();
        let b = template.try_build([Ok::<_, ()>(Value::Int(2))].into_iter()).unwrap();
        assert!(a.shares_keys(&b));
        assert_eq!(b.get("name"), Some(&Value::Null), "a short row is filled with null");
        assert_eq!((a.index_of("name"), a.value_at(1)), (Some(1), Some(&Value::from("Ada"))));
        assert_eq!(template.try_build([Ok(Value::Int(3)), Err("bad")].into_iter()).unwrap_err(), "bad");
        let repeated: Vec<Key> = ["k", "k"].iter().map(|k| intern(k)).collect();
        let template = Template::new(&repeated);
        assert_eq!(template.len(), 2);
        let o = template.try_build([Ok::<_, ()>(Value::Int(1)), Ok(Value::Int(2))].into_iter()).unwrap();
        assert_eq!((o.len(), o.get("k")), (1, Some(&Value::Int(2))));
    }

    #[test]
    fn value_stays_24_bytes() {
        assert_eq!(std::mem::size_of::<Value>(), 24);
    }

    #[test]
    fn round_trips_and_keeps_key_order() {
        let text = r#"{"z":1,"a":[true,null,2.5,"x"],"m":{"k":"v"},"big":18446744073709551615}"#;
        let v: Value = serde_json::from_str(text).unwrap();
        assert_eq!(v.as_object().unwrap().keys().collect::<Vec<_>>(), ["z", "a", "m", "big"]);
        assert_eq!(v.get("big").unwrap().as_f64(), Some(18446744073709551615.0));
        let again: Value = serde_json::from_str(&v.to_json_string()).unwrap();
        assert_eq!(v, again);
    }

    #[test]
    fn objects_with_the_same_keys_share_their_shape() {
        let items: Vec<Value> = serde_json::from_str(r#"[{"id":1,"name":"a"},{"id":2,"name":"b"}]"#).unwrap();
        let (a, b) = (items[0].as_object().unwrap(), items[1].as_object().unwrap());
        assert!(Arc::ptr_eq(&a.keys, &b.keys));
        assert_eq!(std::mem::size_of::<Object>(), 16);
        let mut c = a.clone();
        c.insert("extra", Value::Bool(true));
        let mut d = b.clone();
        d.insert("extra", Value::Bool(false));
        assert!(Arc::ptr_eq(&c.keys, &d.keys));
        assert!(!Arc::ptr_eq(&a.keys, &c.keys));
    }

    #[test]
    fn duplicate_keys_keep_first_place_and_last_value() {
        let v: Value = serde_json::from_str(r#"{"a":1,"b":2,"a":3}"#).unwrap();
        assert_eq!(v.to_json_string(), r#"{"a":3,"b":2}"#);
    }

    #[test]
    fn insert_remove_retain() {
        let mut o = Object::new();
        assert_eq!(o.insert("a", 1.into()), None);
        o.insert("b", 2.into());
        o.insert("c", 3.into());
        assert_eq!(o.insert("a", 10.into()), Some(Value::Int(1)));
        assert_eq!(o.remove("b"), Some(Value::Int(2)));
        assert_eq!(Value::object(o.clone()).to_json_string(), r#"{"a":10,"c":3}"#);
        o.retain(|k, _| k != "a");
        assert_eq!(Value::object(o).to_json_string(), r#"{"c":3}"#);
    }

    #[test]
    fn equality_is_numeric_and_order_insensitive() {
        assert_eq!(value!({"a": 1, "b": 2.0}), value!({"b": 2, "a": 1.0}));
        assert_ne!(value!({"a": 1}), value!({"a": "1"}));
    }

    #[test]
    fn set_path_creates_objects() {
        let mut v = value!({"a": 1});
        let path = crate::path::parse("b.c").unwrap();
        assert!(v.set_path(&path, "x".into()));
        assert_eq!(v, value!({"a": 1, "b": {"c": "x"}}));
    }

    #[test]
    fn non_finite_floats_serialize_as_null() {
        assert_eq!(Value::Float(f64::NAN).to_json_string(), "null");
    }

    #[test]
    fn json_len_matches_text() {
        let v = value!({"a": [1, 2, {"b": "ç"}]});
        assert_eq!(v.json_len(), v.to_json_string().len());
    }
}
