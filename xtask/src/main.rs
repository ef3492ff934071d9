//! `cargo xtask`: the project's two commands and their helpers.
//!
//! - `cargo xtask app`: set up the machine, build the UI and open the desktop app.
//! - `cargo xtask test`: set up the machine and run every check and test.
//! - `cargo xtask setup`, `cargo xtask bundle`, `cargo xtask deps`, `cargo xtask gen-types`, `cargo xtask bench [SECTION…]`,
//!   `cargo xtask fuzz [--seconds N] [TARGET…]`.

mod bench;
mod bundle;
mod deps;
mod fuzz;
mod setup;
mod test;
mod util;

use util::{Result, root};

fn usage() -> String {
    "usage: cargo xtask <command>

  app                 set up, build the UI and open the desktop app
  test                set up and run every check: fmt, clippy, tests, type drift, UI, end-to-end
  setup               install missing system packages, npm packages and tools
  bundle [--debug] [--install-test]
                      build the app and CLI (release, or debug) and package them as .deb and
                      .rpm; --install-test installs, uses and removes them (as root)
  bundle --target TRIPLE --bundles LIST [--updater]
                      the release pipeline's bundling for one platform (docs/platforms.md)
  deps                check that crates depend only on lower layers and never on tauri
  gen-types           regenerate ui/src/gen (TypeScript types) and docs/nodes.md from Rust
  bench [SECTION...]  run benchmarks and write bench/REPORT.md (sections: engine, io, db, ui, vault, resilience, webhooks, metrics, packages)
  fuzz [--seconds N] [TARGET...]
                      run each fuzz target N seconds (default 60), save crash inputs into
                      tests/fixtures/fuzz/ and write bench/REPORT.md's Fuzzing section"
        .to_string()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("app") => app(),
        Some("test") => test::all(),
        Some("setup") => setup::all(),
        Some("gen-types") => gen_types(),
        Some("deps") => deps::check(),
        Some("bench") => bench::run(&args[1..]),
        Some("bundle") => bundle::run(&args[1..]),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("-h" | "--help" | "help") | None => {
            println!("{}", usage());
            Ok(())
        }
        Some(other) => Err(format!("unknown command \"{other}\"\n\n{}", usage())),
    };
    if let Err(e) = result {
        eprintln!("\nxtask: {e}");
        std::process::exit(1);
    }
}

/// Writes the generated TypeScript types, node reference and OpenAPI document into `ui_gen`,
/// `nodes_doc` and `openapi`.
pub fn generate(ui_gen: &std::path::Path, nodes_doc: &std::path::Path, openapi: &std::path::Path) -> Result {
    if ui_gen.exists() {
        std::fs::remove_dir_all(ui_gen).map_err(|e| format!("cannot clear {}: {e}", ui_gen.display()))?;
    }
    // The example as the workspace's test build makes it (see `workspace_binary`).
    let generator = util::workspace_binary("switchyard-api", "example", "gen-types")?;
    if let Some(dir) = openapi.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    util::run(std::process::Command::new(generator).current_dir(root()).arg(ui_gen).arg(nodes_doc).arg(openapi))
}

fn gen_types() -> Result {
    let step = util::Step::start("generating TypeScript types, the node reference and the OpenAPI document");
    generate(&root().join("ui/src/gen"), &root().join("docs/nodes.md"), &root().join("docs/api/openapi.json"))?;
    step.done();
    Ok(())
}

fn app() -> Result {
    setup::all()?;
    let step = util::Step::start("building the UI");
    util::run(std::process::Command::new("npm").current_dir(root().join("ui")).args(["run", "--silent", "build"]))?;
    step.done();
    let step = util::Step::start("building and opening the desktop app (release)");
    // The release build serves the UI from the binary (custom-protocol); the app's data
    // lives in SQLite under the user's data folder.
    let mut cmd = util::cargo();
    cmd.args(["run", "--release", "--locked", "-p", "switchyard-app", "--features", "custom-protocol"]);
    let result = util::run(&mut cmd);
    step.done();
    result
}
