//! Conversions between item JSON and rhai values.

use rhai::{Array, Dynamic, ImmutableString, Map};
use switchyard_model::value::{MAX_DEPTH, Object, Value};

pub fn to_dynamic(value: &Value) -> Dynamic {
    match value {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from_bool(*b),
        Value::Int(i) => Dynamic::from_int(*i),
        Value::Float(f) => Dynamic::from_float(*f),
        Value::String(s) => Dynamic::from(ImmutableString::from(s.as_str())),
        Value::Array(a) => Dynamic::from_array(a.iter().map(to_dynamic).collect::<Array>()),
        Value::Object(o) => Dynamic::from_map(object_to_map(o)),
    }
}

pub fn object_to_map(o: &Object) -> Map {
    o.iter().map(|(k, v)| (k.into(), to_dynamic(v))).collect()
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotJson(pub String);

impl NotJson {
    /// Whether the value was refused for nesting deeper than [`MAX_DEPTH`].
    pub fn too_deep(&self) -> bool {
        self.0.starts_with(TOO_DEEP)
    }

    fn of_type(type_name: &str) -> NotJson {
        NotJson(format!("a script value of type {type_name} cannot become JSON"))
    }
}

const TOO_DEEP: &str = "a value nested deeper than";

pub fn from_dynamic(d: &Dynamic) -> Result<Value, NotJson> {
    from_dynamic_at(d, 1)
}

/// [`from_dynamic`] of a value at nesting `depth`: deeper than [`MAX_DEPTH`] is refused
/// before the stack could overflow.
fn from_dynamic_at(d: &Dynamic, depth: usize) -> Result<Value, NotJson> {
    if depth > MAX_DEPTH && (d.is_array() || d.is_map()) {
        return Err(NotJson(format!("{TOO_DEEP} {MAX_DEPTH} levels")));
    }
    if d.is_unit() {
        return Ok(Value::Null);
    }
    if let Ok(b) = d.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Ok(i) = d.as_int() {
        return Ok(Value::Int(i));
    }
    if let Ok(f) = d.as_float() {
        return Ok(Value::Float(f));
    }
    if let Ok(c) = d.as_char() {
        return Ok(Value::String(c.to_string().into()));
    }
    if d.is_string() {
        let s = d.clone().into_immutable_string().map_err(NotJson::of_type)?;
        return Ok(Value::String(s.as_str().into()));
    }
    if d.is_array() {
        let guard = d.read_lock::<Array>().ok_or_else(|| NotJson::of_type("array"))?;
        return Ok(Value::array(guard.iter().map(|v| from_dynamic_at(v, depth + 1)).collect::<Result<_, _>>()?));
    }
    if d.is_map() {
        let guard = d.read_lock::<Map>().ok_or_else(|| NotJson::of_type("map"))?;
        let mut object = Object::new();
        for (k, v) in guard.iter() {
            object.insert(k, from_dynamic_at(v, depth + 1)?);
        }
        return Ok(Value::object(object));
    }
    if d.is_blob() {
        let guard = d.read_lock::<rhai::Blob>().ok_or_else(|| NotJson::of_type("blob"))?;
        return Ok(Value::array(guard.iter().map(|b| Value::Int(i64::from(*b))).collect()));
    }
    Err(NotJson::of_type(d.type_name()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_model::value;

    #[test]
    fn round_trip() {
        let v = value!({"a": [1, 2.5, "x", null, true], "b": {"c": "d"}});
        assert_eq!(from_dynamic(&to_dynamic(&v)).unwrap(), v);
    }
}
