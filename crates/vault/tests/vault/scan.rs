use switchyard_model::Workflow;
use switchyard_vault::scan::{find_secrets, strip_secrets};

#[test]
fn secret_looking_parameters_are_found_and_stripped() {
    let mut wf: Workflow = serde_json::from_value(serde_json::json!({
        "switchyard": 1, "id": "w", "name": "w",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "h", "name": "Call API", "type": "http.request", "parameters": {
                "url": "https://api.example.com/?q={{ json.q }}",
                "headers": [
                    {"name": "Authorization", "value": "Bearer abc.def.ghi.jkl"},
                    {"name": "X-Trace", "value": "1"},
                    {"name": "Cookie", "value": "{{ json.cookie }}"}
                ],
                "jsonBody": {"note": "ghp_0123456789abcdefghijklmnop", "password": "hunter22"}
            }}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "h"}}]
    }))
    .unwrap();
    let found = find_secrets(&wf);
    let places: Vec<String> = found.iter().map(|f| format!("{}:{}", f.node, f.parameter)).collect();
    assert_eq!(
        places,
        ["Call API:headers[0].value", "Call API:jsonBody.note", "Call API:jsonBody.password"],
        "an expression is not a secret; a plain header is not one either: {found:?}"
    );
    strip_secrets(&mut wf, &found);
    assert!(find_secrets(&wf).is_empty());
    let h = &wf.nodes[1].parameters;
    assert_eq!(h["headers"][0]["value"], "");
    assert_eq!(h["headers"][1]["value"], "1");
    assert_eq!(h["jsonBody"]["password"], "");
}
