//! Lists the node files of `src/nodes/` for `nodes::all()`: every `src/nodes/<name>.rs`
//! (but mod.rs) is a node type whose `entry()` the registry holds.

use std::fmt::Write as _;

fn main() {
    println!("cargo::rerun-if-changed=src/nodes");
    let mut names: Vec<String> = std::fs::read_dir("src/nodes")
        .expect("src/nodes exists")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter_map(|name| name.strip_suffix(".rs").map(str::to_string))
        .filter(|name| name != "mod")
        .collect();
    names.sort();
    let mut out = String::from("vec![\n");
    for name in &names {
        let _ = writeln!(out, "    {name}::entry(),");
    }
    out.push(']');
    let dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(std::path::Path::new(&dir).join("node_entries.rs"), out).expect("OUT_DIR is writable");
}
