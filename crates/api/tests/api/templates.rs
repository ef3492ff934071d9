//! Templates: the examples shipped with the app and the user's own templates folder, and a
//! new workflow made from each.

use crate::{call, open};
use serde_json::json;

#[tokio::test]
async fn new_workflows_come_from_the_examples_and_the_templates_folder() {
    let (dir, api, _) = open();
    let folder = dir.path().join("templates");
    std::fs::create_dir_all(&folder).unwrap();
    let mine = json!({"switchyard": 1, "id": "weekly", "name": "Weekly report", "description": "Mine.",
        "nodes": [{"id": "t", "name": "Start", "type": "trigger.manual"}], "connections": []});
    std::fs::write(folder.join("weekly.json"), mine.to_string()).unwrap();
    std::fs::write(folder.join("broken.json"), "{\"switchyard\": 1,").unwrap();
    std::fs::write(folder.join("notes.txt"), "not a template").unwrap();

    let list = call(&api, "template_list", json!({})).await.unwrap();
    let templates = list["templates"].as_array().unwrap();
    let hello = templates.iter().find(|t| t["id"] == "example:hello-world").expect("the hello-world example");
    assert_eq!(hello["source"], "example");
    assert_eq!(hello["name"], "Hello world");
    assert!(hello["description"].as_str().unwrap().starts_with("Greets"));
    let examples = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/examples"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "json"))
        .count();
    assert_eq!(templates.iter().filter(|t| t["source"] == "example").count(), examples, "every example is a template");
    let weekly = templates.iter().find(|t| t["id"] == "mine:weekly").expect("the user's template");
    assert_eq!(weekly["nodeCount"], 1);
    let problems = list["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].as_str().unwrap().starts_with("broken.json:1:"), "{problems:?}");

    let made = call(&api, "template_use", json!({"id": "example:hello-world"})).await.unwrap();
    assert_eq!(made["workflow"]["name"], "Hello world");
    assert_ne!(made["workflow"]["id"], "hello-world", "a new id");
    assert!(made.get("untrusted").is_none(), "the app's own examples are trusted");
    let result =
        call(&api, "run_wait", json!({"workflowId": made["workflow"]["id"], "input": {"name": "Ada"}})).await.unwrap();
    assert_eq!(result["status"], "success");
    let made = call(&api, "template_use", json!({"id": "mine:weekly"})).await.unwrap();
    assert_eq!(made["untrusted"], "the template weekly");
    let missing = call(&api, "template_use", json!({"id": "example:nope"})).await.unwrap_err();
    assert_eq!(missing.message, "there is no template example:nope");
}

/// A bundle example is a template too: using it saves the workflows it calls beside it, once.
#[tokio::test]
async fn a_bundle_template_brings_the_workflows_it_calls() {
    let (_dir, api, _) = open();
    let list = call(&api, "template_list", json!({})).await.unwrap();
    let assistant =
        list["templates"].as_array().unwrap().iter().find(|t| t["id"] == "example:order-assistant").cloned();
    let assistant = assistant.expect("the order assistant bundle as a template");
    assert_eq!(assistant["name"], "Order assistant");
    let lookup_id = "0193a1c0-0000-7000-8000-000000000021";
    let first = call(&api, "template_use", json!({"id": "example:order-assistant"})).await.unwrap();
    let tools = &first["workflow"]["nodes"][2]["parameters"]["tools"];
    assert_eq!(tools[0]["workflowId"], lookup_id);
    let lookup = call(&api, "workflow_get", json!({"id": lookup_id})).await.unwrap();
    assert_eq!(lookup["workflow"]["name"], "Look up order");
    assert!(lookup.get("untrusted").is_none(), "the app's own examples are trusted");
    // Used again: the lookup is there already, the same, and is not saved twice.
    let second = call(&api, "template_use", json!({"id": "example:order-assistant"})).await.unwrap();
    assert_ne!(second["workflow"]["id"], first["workflow"]["id"]);
    assert_eq!(second["workflow"]["nodes"][2]["parameters"]["tools"][0]["workflowId"], lookup_id);
    let all = call(&api, "workflow_list", json!({})).await.unwrap();
    let names: Vec<&str> = all["workflows"].as_array().unwrap().iter().map(|w| w["name"].as_str().unwrap()).collect();
    assert_eq!(names.iter().filter(|n| **n == "Look up order").count(), 1, "{names:?}");
    // Changed here, the called workflow keeps its id and the next copy calls a new one.
    let mut changed = lookup["workflow"].clone();
    changed["description"] = json!("my own lookup");
    call(&api, "workflow_save", json!({"workflow": changed})).await.unwrap();
    let third = call(&api, "template_use", json!({"id": "example:order-assistant"})).await.unwrap();
    let called = third["workflow"]["nodes"][2]["parameters"]["tools"][0]["workflowId"].as_str().unwrap().to_string();
    assert_ne!(called, lookup_id);
    let copy = call(&api, "workflow_get", json!({"id": called})).await.unwrap();
    assert_eq!(copy["workflow"]["description"], lookup["workflow"]["description"]);
}
