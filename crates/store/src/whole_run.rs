//! A whole run's nodes as stored in its row (`executions.nodes`): a JSON list with an entry
//! per node. A trigger passes the run's input on as its output (a webhook's request, say), and
//! that input is already in the row's `input` column: such an output is stored without its
//! items, and its entry says which outputs take them from the input. For a webhook run that
//! is about a third less to write, and the same data reads back.

use serde::{Deserialize, Serialize};
use switchyard_model::execution::{NodeRunData, OutputData};
use switchyard_model::item::Item;

/// One entry of the list: a node's data as it is, or with outputs that are the run's input.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Entry<N> {
    #[serde(rename_all = "camelCase")]
    FromInput {
        /// Indexes of the node's outputs whose items are the run's input (stored empty).
        outputs_from_input: Vec<usize>,
        node: NodeRunData,
    },
    Plain(N),
}

/// The list for a run's nodes (in run order), given the run's input as stored (the JSON of
/// its items). Only the first node, the run's trigger, is compared with the input.
pub(crate) fn encode(nodes: &[&NodeRunData], input: Option<&str>) -> String {
    let (Some(first), Some(input)) = (nodes.first(), input) else {
        return serde_json::to_string(nodes).unwrap_or_default();
    };
    let same: Vec<usize> =
        first.outputs.iter().enumerate().filter(|(_, o)| serializes_as(&o.items, input)).map(|(i, _)| i).collect();
    if same.is_empty() {
        return serde_json::to_string(nodes).unwrap_or_default();
    }
    // The trigger's data without the items the input holds (a struct literal: a field added
    // to the model's type must be placed here too).
    let trimmed = NodeRunData {
        node_id: first.node_id.clone(),
        node_name: first.node_name.clone(),
        status: first.status,
        started_at: first.started_at.clone(),
        duration_ms: first.duration_ms,
        items_in: first.items_in,
        outputs: first
            .outputs
            .iter()
            .enumerate()
            .map(|(i, o)| OutputData {
                name: o.name.clone(),
                total: o.total,
                items: if same.contains(&i) { Vec::new() } else { o.items.clone() },
                truncated: o.truncated,
            })
            .collect(),
        error: first.error.clone(),
    };
    let entries: Vec<Entry<&NodeRunData>> =
        std::iter::once(Entry::FromInput { outputs_from_input: same, node: trimmed })
            .chain(nodes[1..].iter().map(|n| Entry::Plain(*n)))
            .collect();
    serde_json::to_string(&entries).unwrap_or_default()
}

/// The run's nodes from the stored list and the stored input. An entry that takes items from
/// an input the row does not have, or names an output its node lacks, is an error.
pub(crate) fn decode(text: &str, input: Option<&str>) -> Result<Vec<NodeRunData>, String> {
    // Most lists have no entry from the input, nor had any written before there were such
    // entries: read as they are, with serde's own message if damaged.
    if !text.contains("\"outputsFromInput\"") {
        return serde_json::from_str(text).map_err(|e| e.to_string());
    }
    let entries: Vec<Entry<NodeRunData>> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut items: Option<Vec<Item>> = None;
    let mut nodes = Vec::with_capacity(entries.len());
    for entry in entries {
        match entry {
            Entry::Plain(node) => nodes.push(node),
            Entry::FromInput { outputs_from_input, mut node } => {
                if items.is_none() {
                    let text =
                        input.ok_or_else(|| format!("node {} takes its items from a missing input", node.node_id))?;
                    items = Some(serde_json::from_str(text).map_err(|e| format!("the run's input: {e}"))?);
                }
                for index in outputs_from_input {
                    let output = node
                        .outputs
                        .get_mut(index)
                        .ok_or_else(|| format!("node {} has no output {index}", node.node_id))?;
                    output.items = items.clone().unwrap_or_default();
                }
                nodes.push(node);
            }
        }
    }
    Ok(nodes)
}

/// Whether `items` serialize to exactly `text`, found without writing them out: the
/// serializer's output is compared as it comes and stopped at the first difference.
fn serializes_as(items: &[Item], text: &str) -> bool {
    struct Compare<'a>(&'a [u8]);
    impl std::io::Write for Compare<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            match self.0.strip_prefix(buf) {
                Some(rest) => {
                    self.0 = rest;
                    Ok(buf.len())
                }
                None => Err(std::io::ErrorKind::InvalidData.into()),
            }
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut rest = Compare(text.as_bytes());
    serde_json::to_writer(&mut rest, items).is_ok() && rest.0.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_model::execution::NodeRunStatus;

    fn node(id: &str, outputs: Vec<Vec<Item>>) -> NodeRunData {
        NodeRunData {
            node_id: id.into(),
            node_name: id.to_uppercase(),
            status: NodeRunStatus::Success,
            started_at: "2026-01-01T00:00:00Z".into(),
            duration_ms: 3,
            items_in: 1,
            outputs: outputs
                .into_iter()
                .enumerate()
                .map(|(i, items)| OutputData {
                    name: format!("out{i}"),
                    total: items.len() as u32,
                    items,
                    truncated: false,
                })
                .collect(),
            error: None,
        }
    }

    fn items(json: serde_json::Value) -> Vec<Item> {
        let list = serde_json::from_value::<Vec<serde_json::Value>>(json).unwrap();
        list.into_iter().map(|json| serde_json::from_value(serde_json::json!({ "json": json })).unwrap()).collect()
    }

    #[test]
    fn a_triggers_output_that_is_the_input_is_stored_once_and_reads_back() {
        let input = items(serde_json::json!([{"body": {"qty": 2, "note": "\"quoted\" ü"}}, {"body": {}}]));
        let input_text = serde_json::to_string(&input).unwrap();
        let trigger = node("hook", vec![input.clone(), items(serde_json::json!([{"other": 1}]))]);
        let set = node("set", vec![items(serde_json::json!([{"total": 6}]))]);
        let stored = encode(&[&trigger, &set], Some(&input_text));
        assert_eq!(stored.matches("quoted").count(), 0, "the input's items are not stored again: {stored}");
        assert!(stored.contains("\"outputsFromInput\":[0]"), "{stored}");
        assert!(stored.contains("\"other\":1"), "an output that differs is stored as it is");
        assert_eq!(decode(&stored, Some(&input_text)).unwrap(), vec![trigger.clone(), set.clone()]);
        // The list stays a list, an entry per node (queries count its length).
        assert_eq!(serde_json::from_str::<Vec<serde_json::Value>>(&stored).unwrap().len(), 2);
        // Written by an earlier version (no entries from the input), it reads as it is.
        let plain = serde_json::to_string(&[&trigger, &set]).unwrap();
        assert_eq!(decode(&plain, Some(&input_text)).unwrap(), vec![trigger.clone(), set.clone()]);
        assert_eq!(decode(&plain, None).unwrap(), vec![trigger, set]);
    }

    #[test]
    fn outputs_that_differ_from_the_input_are_stored_whole() {
        let input = items(serde_json::json!([{"a": 1}, {"a": 2}]));
        let input_text = serde_json::to_string(&input).unwrap();
        // Its first item only (cut to the stored size), a longer list, another value, and a
        // later node that emits the input again: all stored as they are.
        let first = node("t", vec![input[..1].to_vec(), items(serde_json::json!([{"a": 1}, {"a": 2}, {"a": 3}]))]);
        let echo = node("e", vec![input.clone()]);
        for nodes in [vec![&first, &echo], vec![]] {
            let stored = encode(&nodes, Some(&input_text));
            assert_eq!(stored, serde_json::to_string(&nodes).unwrap());
            assert_eq!(decode(&stored, Some(&input_text)).unwrap(), nodes.into_iter().cloned().collect::<Vec<_>>());
        }
        assert_eq!(encode(&[&echo], None), serde_json::to_string(&[&echo]).unwrap(), "no input, nothing to compare");
        assert!(serializes_as(&input, &input_text));
        assert!(!serializes_as(&input, &input_text[..input_text.len() - 1]));
        assert!(!serializes_as(&input, &format!("{input_text} ")));
    }

    #[test]
    fn a_damaged_entry_is_an_error_that_names_the_node() {
        let input = items(serde_json::json!([{"a": 1}]));
        let input_text = serde_json::to_string(&input).unwrap();
        let stored = encode(&[&node("hook", vec![input])], Some(&input_text));
        let missing = decode(&stored, None).unwrap_err();
        assert!(missing.contains("hook") && missing.contains("missing input"), "{missing}");
        let beyond = stored.replace("\"outputsFromInput\":[0]", "\"outputsFromInput\":[3]");
        let beyond = decode(&beyond, Some(&input_text)).unwrap_err();
        assert!(beyond.contains("hook") && beyond.contains("no output 3"), "{beyond}");
        assert!(decode(&stored, Some("[{")).unwrap_err().contains("the run's input"));
    }
}
