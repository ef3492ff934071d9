use switchyard_engine::Registry;
use switchyard_engine::validate::validate_text;
use switchyard_model::error::{ErrorCode, ValidationIssue};

fn issues(text: &str) -> Vec<ValidationIssue> {
    validate_text(text, &Registry::builtin()).issues
}

fn rendered(text: &str) -> Vec<String> {
    issues(text).iter().map(|i| i.render("wf.json")).collect()
}

#[test]
fn malformed_json_gives_line_and_column() {
    let got = issues("{\n  \"switchyard\": 1,\n  \"nodes\": [,]\n}");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].code, ErrorCode::InvalidJson);
    assert_eq!((got[0].line, got[0].column), (Some(3), Some(13)));
    assert_eq!(got[0].message, "malformed JSON: expected value");
}

#[test]
fn format_version_is_required_and_checked() {
    assert_eq!(
        rendered(r#"{"id": "x", "name": "n", "nodes": []}"#),
        [
            "wf.json:1:1: $: missing \"switchyard\" format version; a workflow file starts with {\"switchyard\": 1, …} [unsupported_format_version]"
        ]
    );
    assert_eq!(
        rendered(r#"{"switchyard": 2, "id": "x", "name": "n", "nodes": []}"#),
        [
            "wf.json:1:16: $.switchyard: format version 2 is not supported; this build reads version 1 [unsupported_format_version]"
        ]
    );
}

#[test]
fn structural_errors_are_all_reported_with_paths() {
    let text = r#"{"switchyard": 1, "id": "", "name": 5, "nodes": [
  {"id": "a", "name": "A", "type": "trigger.manual", "position": [1], "settings": {"onError": "explode"}},
  {"name": "B", "type": "flow.noop", "credentials": {"auth": {"connection": "gh", "token": "abc"}}}
], "connections": [{"from": {"node": "a"}}], "settings": {"timezone": "Mars/Base", "timeoutSeconds": 0}}"#;
    let got = rendered(text);
    assert_eq!(
        got,
        [
            "wf.json:1:25: $.id: \"id\" must not be empty [invalid_workflow]",
            "wf.json:1:37: $.name: \"name\" must be a string, found a number [invalid_workflow]",
            "wf.json:2:66: $.nodes[0].position (node \"A\"): \"position\" must be [x, y], found [1] [invalid_workflow]",
            "wf.json:2:95: $.nodes[0].settings.onError (node \"A\"): \"onError\" must be \"stop\", \"continue\" or \"errorOutput\", found \"explode\" [invalid_workflow]",
            "wf.json:3:3: $.nodes[1] (node \"B\"): missing \"id\" [invalid_workflow]",
            "wf.json:3:92: $.nodes[1].credentials.auth.token (node \"B\"): a credential reference holds only \"connection\" and \"account\", never secrets; remove \"token\" [invalid_workflow]",
            "wf.json:4:20: $.connections[0]: missing \"to\" [invalid_workflow]",
            "wf.json:4:71: $.settings.timezone: unknown time zone \"Mars/Base\" (use an IANA name such as Europe/Paris) [invalid_workflow]",
            "wf.json:4:102: $.settings.timeoutSeconds: \"timeoutSeconds\" must be a whole number of seconds above 0, found 0 [invalid_workflow]",
        ]
    );
}

#[test]
fn semantic_errors_name_nodes() {
    let text = r#"{"switchyard": 1, "id": "w", "name": "W", "nodes": [
  {"id": "t", "name": "Start", "type": "trigger.manual"},
  {"id": "h", "name": "Call", "type": "http.requets"},
  {"id": "h2", "name": "Call 2", "type": "http.request", "version": 9},
  {"id": "s", "name": "Start", "type": "data.set", "parameters": {"mode": "sideways", "keep": "all", "dotNotation": "yes", "asignments": []}},
  {"id": "t", "name": "Limit", "type": "data.limit", "parameters": {"maxItems": 0}},
  {"id": "i", "name": "If", "type": "flow.if", "parameters": {"conditions": [{"left": "{{ json.a +* 1 }}", "operator": "equals"}]}}
], "connections": [
  {"from": {"node": "t"}, "to": {"node": "zz"}},
  {"from": {"node": "i", "output": "yes"}, "to": {"node": "t"}}
]}"#;
    assert_eq!(
        rendered(text),
        [
            "wf.json:5:23: $.nodes[3].name (node \"Start\"): node name \"Start\" is already used by $.nodes[0]; names must be unique [duplicate_node_name]",
            "wf.json:6:10: $.nodes[4].id (node \"Limit\"): node id \"t\" is already used by node \"Start\" ($.nodes[0]) [duplicate_node_id]",
            "wf.json:3:39: $.nodes[1].type (node \"Call\"): unknown node type \"http.requets\" (did you mean \"http.request\"?) [unknown_node_type]",
            "wf.json:4:69: $.nodes[2].version (node \"Call 2\"): node type \"http.request\" has no version 9 (this build has 1) [unknown_node_version]",
            "wf.json:5:138: $.nodes[3].parameters.asignments (node \"Start\"): unknown parameter \"asignments\" (did you mean \"assignments\"?) [unknown_parameter]",
            "wf.json:5:75: $.nodes[3].parameters.mode (node \"Start\"): \"sideways\" is not an option of \"mode\" (options: \"manual\", \"json\") [unknown_option]",
            "wf.json:5:117: $.nodes[3].parameters.dotNotation (node \"Start\"): parameter \"dotNotation\" must be true or false, found \"yes\" [invalid_parameter]",
            "wf.json:6:81: $.nodes[4].parameters.maxItems (node \"Limit\"): parameter \"maxItems\" must be a number at least 1, found 0 [invalid_parameter]",
            "wf.json:7:87: $.nodes[5].parameters.conditions[0].left (node \"If\"): invalid expression: in {{ json.a +* 1 }}: Unexpected '*' (line 1, position 10) [invalid_expression]",
            "wf.json:9:42: $.connections[0].to.node: connection to unknown node id \"zz\" [unknown_node]",
            "wf.json:10:36: $.connections[1].from.output (node \"If\"): node \"If\" has no output \"yes\" (its outputs: true, false) [unknown_output]",
        ]
    );
}

#[test]
fn triggers_take_no_input_and_inputs_must_exist() {
    let text = r#"{"switchyard": 1, "id": "w", "name": "W", "nodes": [
  {"id": "t", "name": "Start", "type": "trigger.manual"},
  {"id": "m", "name": "Merge", "type": "flow.merge"}
], "connections": [
  {"from": {"node": "m"}, "to": {"node": "t"}},
  {"from": {"node": "t"}, "to": {"node": "m", "input": "third"}}
]}"#;
    assert_eq!(
        rendered(text),
        [
            "wf.json:5:33: $.connections[0].to.input (node \"Start\"): node \"Start\" is a trigger and takes no input [unknown_input]",
            "wf.json:6:56: $.connections[1].to.input (node \"Merge\"): node \"Merge\" has no input \"third\" (its inputs: main, second) [unknown_input]",
        ]
    );
}

#[test]
fn cycles_name_the_nodes_on_the_cycle() {
    let text = r#"{"switchyard": 1, "id": "w", "name": "W", "nodes": [
  {"id": "t", "name": "Start", "type": "trigger.manual"},
  {"id": "a", "name": "A", "type": "flow.noop"},
  {"id": "b", "name": "B", "type": "flow.noop"},
  {"id": "c", "name": "C", "type": "flow.noop"}
], "connections": [
  {"from": {"node": "t"}, "to": {"node": "a"}},
  {"from": {"node": "a"}, "to": {"node": "b"}},
  {"from": {"node": "b"}, "to": {"node": "c"}},
  {"from": {"node": "c"}, "to": {"node": "a"}}
]}"#;
    assert_eq!(
        rendered(text),
        ["wf.json:8:3: $.connections[1] (node \"A\"): connections form a cycle: A → B → C → A [cycle]"]
    );
}

#[test]
fn a_workflow_needs_a_trigger_and_required_parameters() {
    let text = r#"{"switchyard": 1, "id": "w", "name": "W", "nodes": [
  {"id": "h", "name": "Call", "type": "http.request", "parameters": {"url": "  "}},
  {"id": "m", "name": "Merge", "type": "flow.merge", "parameters": {"mode": "byKey", "key1": "id"}}
]}"#;
    assert_eq!(
        rendered(text),
        [
            "wf.json:2:77: $.nodes[0].parameters.url (node \"Call\"): parameter \"url\" (URL) must not be empty [missing_parameter]",
            "wf.json:3:68: $.nodes[1].parameters (node \"Merge\"): parameter \"key2\" (Key in input 2) is required [missing_parameter]",
            "wf.json:1:52: $.nodes: the workflow has no trigger node; add one (e.g. \"trigger.manual\") to start it [no_trigger]",
        ]
    );
}

#[test]
fn pinned_data_must_name_nodes_and_hold_items() {
    let text = r#"{"switchyard": 1, "id": "w", "name": "W", "nodes": [{"id": "t", "name": "Start", "type": "trigger.manual"}],
 "pinData": {"t": [{"json": 1}], "ghost": []}}"#;
    assert_eq!(
        rendered(text),
        ["wf.json:2:29: $.pinData.t[0].json: an item's \"json\" must be an object, found a number [invalid_workflow]"]
    );
    let text = r#"{"switchyard": 1, "id": "w", "name": "W", "nodes": [{"id": "t", "name": "Start", "type": "trigger.manual"}],
 "pinData": {"ghost": []}}"#;
    assert_eq!(
        rendered(text),
        ["wf.json:2:23: $.pinData.ghost: pinned data for unknown node id \"ghost\" [unknown_node]"]
    );
}

#[test]
fn sticky_notes_are_checked_for_unique_ids_text_length_and_size() {
    let long = "x".repeat(switchyard_model::workflow::NOTE_MAX_CHARS + 1);
    let text = serde_json::json!({
        "switchyard": 1, "id": "notes", "name": "Notes",
        "nodes": [{"id": "t", "name": "Start", "type": "trigger.manual"}],
        "notes": [
            {"id": "a", "content": "**ok**", "size": [300, 200], "color": "green"},
            {"id": "a", "content": long},
            {"id": "tiny", "size": [10, 9000]}
        ]
    })
    .to_string();
    let got: Vec<(String, String)> = issues(&text).into_iter().map(|i| (i.path, i.message)).collect();
    assert_eq!(
        got,
        vec![
            ("$.notes[1].id".to_string(), "note id \"a\" is already used by $.notes[0]".to_string()),
            ("$.notes[1].content".to_string(), "a note holds at most 20000 characters, found 20001".to_string()),
            (
                "$.notes[2].size".to_string(),
                "a note's width and height must be from 60 to 4000, found [10, 9000]".to_string()
            ),
        ]
    );
    // Notes round-trip: defaults filled in, whole numbers written as such.
    let wf: switchyard_model::workflow::Workflow =
        serde_json::from_str(r#"{"switchyard": 1, "id": "n", "name": "N", "nodes": [], "notes": [{"id": "a"}]}"#)
            .unwrap();
    assert_eq!(
        serde_json::to_value(&wf.notes).unwrap(),
        serde_json::json!([{"id": "a", "content": "", "position": [0, 0], "size": [260, 160], "color": "yellow"}])
    );
}
