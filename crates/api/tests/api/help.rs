//! The user guide shipped in the app: every page of docs/ is there, in reading order, and
//! every link from one page to another leads to a page the app has.

use crate::{call, open};
use serde_json::json;
use switchyard_model::error::ErrorCode;

#[tokio::test]
async fn the_guide_has_every_page_and_its_links_lead_to_pages_it_has() {
    let (_dir, api, _) = open();
    let listed = call(&api, "help_pages", json!({})).await.unwrap();
    let pages: Vec<(String, String)> = listed["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap().to_string(), p["title"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(pages[0], ("desktop-app".to_string(), "The desktop app".to_string()), "first steps come first");
    // Every page of docs/ ships (a new page must be added to the guide's list).
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    let mut on_disk: Vec<String> = std::fs::read_dir(&docs)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".md").map(str::to_string))
        .collect();
    on_disk.sort();
    let mut shipped: Vec<String> = pages.iter().map(|(n, _)| n.clone()).collect();
    shipped.sort();
    assert_eq!(shipped, on_disk);
    // `](name.md)` and `](name.md#part)`: the pages a page links to.
    let targets = |text: &str| -> Vec<String> {
        text.split("](")
            .skip(1)
            .filter_map(|rest| {
                let target = rest.split(')').next()?.trim_start_matches("./");
                let name = target.split('#').next()?.strip_suffix(".md")?;
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-').then(|| name.to_string())
            })
            .collect()
    };
    for (name, title) in &pages {
        let page = call(&api, "help_page", json!({"name": name})).await.unwrap();
        let text = page["text"].as_str().unwrap();
        assert_eq!(page["title"], title.as_str());
        assert_eq!(
            text,
            std::fs::read_to_string(docs.join(format!("{name}.md"))).unwrap(),
            "{name} is the file's text"
        );
        for target in targets(text) {
            assert!(shipped.contains(&target), "{name}.md links to {target}.md, which the guide lacks");
        }
    }
    let missing = call(&api, "help_page", json!({"name": "../Cargo"})).await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::NotFound);
    assert!(
        missing.message.starts_with("the guide has no page \"../Cargo\" (its pages: desktop-app, "),
        "{}",
        missing.message
    );
}
