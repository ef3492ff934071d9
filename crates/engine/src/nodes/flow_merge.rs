//! Merge: waits for both inputs, then appends them, pairs them by position, or joins them
//! by a key.

use crate::node::{NodeContext, NodeResult, Outputs, field_path};
use crate::registry::NodeEntry;
use std::collections::HashMap;
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::item::{Item, Paired, PairedItem};
use switchyard_model::value::{Object, Value};

pub const TYPE: &str = "flow.merge";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx)))
}

pub fn descriptor() -> NodeDescriptor {
    let mut d = super::descriptor(
        TYPE,
        "Merge",
        "Waits for both inputs, then appends them, combines them item by item, or joins them on a key.",
        NodeGroup::Flow,
        "merge",
        vec![Port::main()],
        vec![
            ParamSpec::options(
                "mode",
                "Mode",
                &[("append", "Append"), ("byPosition", "Combine by position"), ("byKey", "Join on a key")],
                "append",
            ),
            ParamSpec::string("key1", "Key in input 1")
                .required()
                .literal()
                .placeholder("id")
                .show_if("mode", &["byKey"]),
            ParamSpec::string("key2", "Key in input 2")
                .required()
                .literal()
                .placeholder("userId")
                .show_if("mode", &["byKey"]),
            ParamSpec::options(
                "join",
                "Keep",
                &[("inner", "Only matches"), ("left", "All of input 1"), ("outer", "Everything")],
                "inner",
            )
            .show_if("mode", &["byKey"]),
            ParamSpec::boolean("includeUnpaired", "Keep items with no partner", false).show_if("mode", &["byPosition"]),
            ParamSpec::options(
                "prefer",
                "On field clash",
                &[("input1", "Input 1 wins"), ("input2", "Input 2 wins")],
                "input2",
            )
            .show_if("mode", &["byPosition", "byKey"]),
        ],
    );
    d.inputs = vec![Port::new("main", "Input 1"), Port::new("second", "Input 2")];
    d
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let first = ctx.take_input(0).into_vec();
    let second = ctx.take_input(1).into_vec();
    let prefer_first = ctx.choice("prefer") == "input1";
    let items = match ctx.choice("mode").as_str() {
        "byPosition" => {
            by_position(first, second, ctx.raw_param("includeUnpaired").as_bool().unwrap_or(false), prefer_first)
        }
        "byKey" => {
            let key1 = field_path("key1", &ctx.choice("key1"))?;
            let key2 = field_path("key2", &ctx.choice("key2"))?;
            by_key(first, second, &key1, &key2, &ctx.choice("join"), prefer_first)
        }
        _ => {
            let mut items = Vec::with_capacity(first.len() + second.len());
            items.extend(first.into_iter().enumerate().map(|(i, item)| with_paired(item, Paired::from_input(0, i))));
            items.extend(second.into_iter().enumerate().map(|(i, item)| with_paired(item, Paired::from_input(1, i))));
            items
        }
    };
    Ok(Outputs::main(items))
}

fn with_paired(mut item: Item, paired: Paired) -> Item {
    item.set_paired(paired);
    item
}

fn combine(a: &Value, b: &Value, prefer_first: bool) -> Value {
    let (base, over) = if prefer_first { (b, a) } else { (a, b) };
    let mut object = base.as_object().cloned().unwrap_or_else(Object::new);
    if let Some(over) = over.as_object() {
        for (k, v) in over.iter() {
            object.insert(k, v.clone());
        }
    }
    Value::object(object)
}

fn pair(a: usize, b: usize) -> Paired {
    Paired::many(vec![PairedItem { item: a as u32, input: 0 }, PairedItem { item: b as u32, input: 1 }])
}

/// Both items' files; the first item's win on a name both use.
fn files(a: &Item, b: &Item) -> switchyard_model::item::Binaries {
    let mut all = b.binary().cloned().unwrap_or_default();
    all.extend(a.binary().into_iter().flatten().map(|(k, v)| (k.clone(), v.clone())));
    all
}

/// Two items merged into one, with both items' files.
fn merged(a: &Item, b: &Item, paired: Paired, prefer_first: bool) -> Item {
    let mut item = Item::with_paired(combine(&a.json, &b.json, prefer_first), paired);
    item.set_binary(files(a, b));
    item
}

fn by_position(first: Vec<Item>, second: Vec<Item>, include_unpaired: bool, prefer_first: bool) -> Vec<Item> {
    let n = first.len().max(second.len());
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        match (first.get(i), second.get(i)) {
            (Some(a), Some(b)) => out.push(merged(a, b, pair(i, i), prefer_first)),
            (Some(a), None) if include_unpaired => out.push(with_paired(a.clone(), Paired::from_input(0, i))),
            (None, Some(b)) if include_unpaired => out.push(with_paired(b.clone(), Paired::from_input(1, i))),
            _ => {}
        }
    }
    out
}

fn by_key(
    first: Vec<Item>,
    second: Vec<Item>,
    key1: &[switchyard_model::path::Segment],
    key2: &[switchyard_model::path::Segment],
    join: &str,
    prefer_first: bool,
) -> Vec<Item> {
    let key_of = |item: &Item, path| item.json.get_path(path).filter(|v| !v.is_null()).map(Value::to_json_string);
    let mut index: HashMap<String, Vec<usize>> = HashMap::new();
    for (j, b) in second.iter().enumerate() {
        if let Some(k) = key_of(b, key2) {
            index.entry(k).or_default().push(j);
        }
    }
    let mut matched_second = vec![false; second.len()];
    let mut out = Vec::new();
    for (i, a) in first.iter().enumerate() {
        let matches = key_of(a, key1).and_then(|k| index.get(&k));
        match matches {
            Some(js) => {
                for &j in js {
                    matched_second[j] = true;
                    out.push(merged(a, &second[j], pair(i, j), prefer_first));
                }
            }
            None if join == "left" || join == "outer" => out.push(with_paired(a.clone(), Paired::from_input(0, i))),
            None => {}
        }
    }
    if join == "outer" {
        for (j, b) in second.into_iter().enumerate() {
            if !matched_second[j] {
                out.push(with_paired(b, Paired::from_input(1, j)));
            }
        }
    }
    out
}
