//! A node type is one file that owns everything about it: no other source file names its
//! type string (they use its `TYPE` constant), so adding or renaming a type touches one file.

use std::path::{Path, PathBuf};
use switchyard_engine::Registry;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The repository root and every Rust source file of the crates and the desktop shell.
fn sources() -> (PathBuf, Vec<PathBuf>) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    for crate_dir in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
        rust_files(&crate_dir.path().join("src"), &mut files);
    }
    rust_files(&root.join("src-tauri/src"), &mut files);
    assert!(files.len() > 50, "the source tree was not found from {}", root.display());
    (root, files)
}

#[test]
fn node_type_names_appear_only_in_their_own_files() {
    let (root, files) = sources();
    let types: Vec<String> = Registry::builtin().type_names().into_iter().map(str::to_string).collect();
    assert!(types.len() >= 20);
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        // Unit tests may write workflows as JSON, as users do.
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for ty in &types {
            let owner = format!("{}.rs", ty.replace('.', "_"));
            let owned = file.ends_with(Path::new("crates/engine/src/nodes").join(&owner));
            if !owned && code.contains(&format!("\"{ty}\"")) {
                found.push(format!("{} names \"{ty}\"", file.strip_prefix(&root).unwrap_or(file).display()));
            }
        }
    }
    assert!(found.is_empty(), "use the node's TYPE constant instead:\n{}", found.join("\n"));
}

/// Outside `nodes/`, a node file is reached only through the registry's entries (their
/// descriptor, check, trigger and region hooks) or for its `TYPE` name: no other crate reads
/// a node's parameters or calls its helpers.
#[test]
fn node_files_are_used_from_outside_only_for_their_type_name() {
    let (root, files) = sources();
    let nodes_dir = root.join("crates/engine/src/nodes");
    let pattern = regex::Regex::new(r"nodes::(\{|[a-z_0-9]+(::[A-Za-z_0-9]+)?)").unwrap();
    let mut found = Vec::new();
    for file in files.iter().filter(|f| !f.starts_with(&nodes_dir)) {
        let text = std::fs::read_to_string(file).unwrap();
        for m in pattern.find_iter(&text) {
            let used = m.as_str();
            let allowed = used == "nodes::all" || (used.ends_with("::TYPE") && used.matches("::").count() == 2);
            if !allowed {
                found.push(format!("{} uses {used}", file.strip_prefix(&root).unwrap_or(file).display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "ask the node's registry entry (check, trigger, region) instead of reaching into its file:\n{}",
        found.join("\n")
    );
}
