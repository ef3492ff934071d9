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
