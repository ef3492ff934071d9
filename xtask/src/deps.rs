//! The dependency rule, checked on `cargo metadata`: every crate sits on a layer and may
//! depend (for its library and binaries) only on crates of lower layers; no crate under
//! `crates/` reaches tauri, directly or through another crate. Tests (dev-dependencies) may
//! use any crate. The README's architecture map and docs/architecture.md draw the same
//! layers.

use crate::util::{self, Result};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Each workspace crate and its layer, lowest first. A new crate must be added here: the
/// check refuses crates it does not know.
pub const LAYERS: &[(&str, u8)] = &[
    ("switchyard-model", 0),
    ("switchyard-testkit", 0),
    ("switchyard-core", 1),
    ("switchyard-engine", 2),
    ("switchyard-triggers", 2),
    ("switchyard-metrics", 2),
    ("switchyard-store", 2),
    ("switchyard-queue", 2),
    ("switchyard-vault", 3),
    ("switchyard-fuzzing", 3),
    ("switchyard-api", 4),
    ("switchyard-cli", 5),
    // The desktop app's binary is also the CLI (`switchyard-app --cli`, the Linux packages'
    // /usr/bin/switchyard): it sits above the CLI's library.
    ("switchyard-app", 6),
    ("xtask", 7),
];

/// Runs `cargo metadata` and fails with every broken rule.
pub fn check() -> Result {
    // This machine's platform only: the others' packages (Windows, macOS) need not be fetched.
    let rustc = util::output(std::process::Command::new("rustc").arg("-vV"))?;
    let host = rustc.lines().find_map(|l| l.strip_prefix("host: ")).ok_or("`rustc -vV` names no host")?.trim();
    let text =
        util::output(util::cargo().args(["metadata", "--format-version", "1", "--locked", "--filter-platform", host]))?;
    let metadata: Value = serde_json::from_str(&text).map_err(|e| format!("cargo metadata printed no JSON: {e}"))?;
    let problems = problems(&metadata);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("the dependency rule is broken (see docs/architecture.md):\n  {}", problems.join("\n  ")))
    }
}

fn layer(name: &str) -> Option<u8> {
    LAYERS.iter().find(|(n, _)| *n == name).map(|(_, l)| *l)
}

/// What breaks the rule in `metadata` (cargo metadata's JSON, with `resolve`).
pub fn problems(metadata: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let members: BTreeSet<&str> =
        metadata["workspace_members"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let packages: Vec<&Value> = metadata["packages"].as_array().into_iter().flatten().collect();
    let name_of: BTreeMap<&str, &str> =
        packages.iter().filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?))).collect();

    for package in packages.iter().filter(|p| p["id"].as_str().is_some_and(|id| members.contains(id))) {
        let name = package["name"].as_str().unwrap_or("?");
        let Some(own) = layer(name) else {
            out.push(format!("{name} has no layer: add it to LAYERS in xtask/src/deps.rs"));
            continue;
        };
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            let dep_name = dep["name"].as_str().unwrap_or("?");
            if dep["kind"].as_str() == Some("dev") {
                continue;
            }
            if let Some(theirs) = layer(dep_name)
                && theirs >= own
            {
                out.push(format!(
                    "{name} (layer {own}) depends on {dep_name} (layer {theirs}): a crate may only use lower layers"
                ));
            }
        }
    }

    // Normal and build dependencies, followed through the resolved graph.
    let nodes: BTreeMap<&str, Vec<&str>> = metadata["resolve"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|node| {
            let deps = node["deps"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|d| d["dep_kinds"].as_array().into_iter().flatten().any(|k| k["kind"].as_str() != Some("dev")))
                .filter_map(|d| d["pkg"].as_str())
                .collect();
            Some((node["id"].as_str()?, deps))
        })
        .collect();
    for package in packages.iter().filter(|p| {
        p["id"].as_str().is_some_and(|id| members.contains(id))
            && p["manifest_path"].as_str().is_some_and(|m| m.replace('\\', "/").contains("/crates/"))
    }) {
        let (Some(id), Some(name)) = (package["id"].as_str(), package["name"].as_str()) else { continue };
        if let Some(path) = path_to(&nodes, &name_of, id, |n| n == "tauri" || n.starts_with("tauri-")) {
            out.push(format!("{name} reaches tauri: {}", path.join(" -> ")));
        }
    }
    out
}

/// The names on a path from `from` to a package `wanted` accepts, if there is one.
fn path_to<'a>(
    nodes: &BTreeMap<&'a str, Vec<&'a str>>,
    name_of: &BTreeMap<&'a str, &'a str>,
    from: &'a str,
    wanted: impl Fn(&str) -> bool,
) -> Option<Vec<&'a str>> {
    let mut seen = BTreeSet::from([from]);
    let mut queue = std::collections::VecDeque::from([(from, vec![name_of.get(from).copied().unwrap_or(from)])]);
    while let Some((id, path)) = queue.pop_front() {
        for &next in nodes.get(id).into_iter().flatten() {
            if !seen.insert(next) {
                continue;
            }
            let name = name_of.get(next).copied().unwrap_or(next);
            let mut path = path.clone();
            path.push(name);
            if wanted(name) {
                return Some(path);
            }
            queue.push_back((next, path));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn package(name: &str, path: &str, deps: &[(&str, Option<&str>)]) -> Value {
        json!({
            "id": format!("{name}-id"),
            "name": name,
            "manifest_path": format!("/repo/{path}/Cargo.toml"),
            "dependencies": deps.iter().map(|(n, kind)| json!({"name": n, "kind": kind})).collect::<Vec<_>>(),
        })
    }

    fn node(name: &str, deps: &[(&str, &str)]) -> Value {
        json!({
            "id": format!("{name}-id"),
            "deps": deps.iter().map(|(n, kind)| json!({
                "pkg": format!("{n}-id"),
                "dep_kinds": [{"kind": if *kind == "normal" { Value::Null } else { json!(kind) }}],
            })).collect::<Vec<_>>(),
        })
    }

    fn metadata(packages: Vec<Value>, nodes: Vec<Value>, members: &[&str]) -> Value {
        json!({
            "packages": packages,
            "workspace_members": members.iter().map(|m| format!("{m}-id")).collect::<Vec<_>>(),
            "resolve": {"nodes": nodes},
        })
    }

    #[test]
    fn downward_dependencies_and_upward_tests_pass() {
        let m = metadata(
            vec![
                package("switchyard-model", "crates/model", &[]),
                package("switchyard-engine", "crates/engine", &[("switchyard-model", None)]),
                package("switchyard-vault", "crates/vault", &[("switchyard-engine", Some("dev"))]),
            ],
            vec![
                node("switchyard-model", &[]),
                node("switchyard-engine", &[("switchyard-model", "normal")]),
                node("switchyard-vault", &[("switchyard-engine", "dev")]),
            ],
            &["switchyard-model", "switchyard-engine", "switchyard-vault"],
        );
        assert_eq!(problems(&m), Vec::<String>::new());
    }

    #[test]
    fn an_upward_or_sideways_dependency_is_named() {
        let m = metadata(
            vec![
                package("switchyard-store", "crates/store", &[("switchyard-metrics", None)]),
                package("switchyard-metrics", "crates/metrics", &[]),
                package("switchyard-model", "crates/model", &[("switchyard-api", None)]),
                package("switchyard-api", "crates/api", &[]),
            ],
            vec![],
            &["switchyard-store", "switchyard-metrics", "switchyard-model", "switchyard-api"],
        );
        assert_eq!(
            problems(&m),
            vec![
                "switchyard-store (layer 2) depends on switchyard-metrics (layer 2): a crate may only use lower layers",
                "switchyard-model (layer 0) depends on switchyard-api (layer 4): a crate may only use lower layers",
            ]
        );
    }

    #[test]
    fn a_crate_reaching_tauri_through_another_package_is_named_with_the_path() {
        let m = metadata(
            vec![
                package("switchyard-api", "crates/api", &[("helper", None)]),
                package("helper", "registry/helper", &[("tauri", None)]),
                package("tauri", "registry/tauri", &[]),
                package("switchyard-app", "src-tauri", &[("tauri", None)]),
            ],
            vec![
                node("switchyard-api", &[("helper", "normal")]),
                node("helper", &[("tauri", "build")]),
                node("tauri", &[]),
                node("switchyard-app", &[("tauri", "normal")]),
            ],
            &["switchyard-api", "switchyard-app"],
        );
        assert_eq!(problems(&m), vec!["switchyard-api reaches tauri: switchyard-api -> helper -> tauri"]);
    }

    #[test]
    fn an_unknown_crate_must_be_given_a_layer() {
        let m = metadata(vec![package("switchyard-new", "crates/new", &[])], vec![], &["switchyard-new"]);
        assert_eq!(problems(&m), vec!["switchyard-new has no layer: add it to LAYERS in xtask/src/deps.rs"]);
    }
}
