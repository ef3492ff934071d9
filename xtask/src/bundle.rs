//! `cargo xtask bundle`: the app and the headless CLI, packaged by Tauri's bundler as .deb
//! and .rpm (packaging/: the Tauri CLI from npm, the desktop entry, the MIME type).
//!
//! `cargo xtask bundle` builds release binaries; `cargo xtask test` packages the debug
//! builds it already has (the same packaging, in a fraction of the time) and installs them.
//! AppImage is not built here: Tauri's AppImage bundler downloads linuxdeploy and its
//! plugins from GitHub at bundle time, which no package registry provides (docs/install.md).

use crate::setup;
use crate::util::{self, Result, Step, root};
use std::path::PathBuf;
use std::process::Command;

/// The packages one bundling made (under target/package-binaries/<profile>/bundle/).
pub struct Packages {
    pub deb: PathBuf,
    pub rpm: PathBuf,
    /// The desktop app they hold, which is also the CLI (`switchyard-app --cli`).
    pub app: PathBuf,
}

/// What the Linux packages install as /usr/bin/switchyard: a script running the app's binary
/// with `--cli`. The app and the CLI share nearly all their code, so one binary instead of
/// two halves the package.
const CLI_SCRIPT: &str = "packaging/linux/switchyard";

impl Packages {
    /// Sizes for bench/REPORT.md: the packages, what the .deb installs, the two binaries.
    pub fn sizes(&self) -> Result<String> {
        let size = |p: &PathBuf| std::fs::metadata(p).map(|m| m.len() as f64 / 1e6).unwrap_or(0.0);
        let installed_kib: f64 =
            text(Command::new("dpkg-deb").args(["-f"]).arg(&self.deb).arg("Installed-Size"))?.parse().unwrap_or(0.0);
        let deb = size(&self.deb);
        Ok(format!(
            "| what | size |\n|---|---|\n| .deb | {deb:.1} MB |\n| .rpm | {:.1} MB |\n| installed (.deb's Installed-Size) | {:.1} MB |\n| app binary (switchyard-app, stripped; also the CLI: /usr/bin/switchyard runs it with --cli) | {:.1} MB |\n\nTarget: .deb ≤ 15 MB: {:.1} MB, {}.\n",
            size(&self.rpm),
            installed_kib * 1024.0 / 1e6,
            size(&self.app),
            deb,
            if deb <= 15.0 { "met" } else { "not met" }
        ))
    }
}

pub fn run(args: &[String]) -> Result {
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    if let Some(target) = value("--target") {
        let bundles = value("--bundles").ok_or("--target needs --bundles (e.g. dmg,app or msi,nsis)")?;
        return pipeline(&target, &bundles, args.iter().any(|a| a == "--updater"));
    }
    let debug = args.iter().any(|a| a == "--debug");
    let packages = make(!debug)?;
    for p in [&packages.deb, &packages.rpm] {
        let size = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        println!("{} ({:.1} MB)", p.display(), size as f64 / 1e6);
    }
    if args.iter().any(|a| a == "--install-test") {
        let step = Step::start("the packages installed, used and removed");
        check_installed(&packages)?;
        step.done();
    }
    Ok(())
}

/// Builds the app (serving the built UI; it is the CLI too), then the packages. `release`
/// picks the profile; the debug build is the one the e2e stage made.
pub fn make(release: bool) -> Result<Packages> {
    setup::packaging()?;
    let profile = if release { "release" } else { "debug" };
    let step = Step::start(&format!("building the UI and the app ({profile})"));
    util::run(Command::new("npm").current_dir(root().join("ui")).args(["run", "--silent", "build"]))?;
    if release {
        release_build(None)?;
    } else {
        // As the e2e stage builds it (nothing to rebuild after it).
        util::run(util::cargo().args(["build", "--locked", "-p", "switchyard-app", "--features", "custom-protocol"]))?;
    }
    step.done();

    let app = root().join("target").join(profile).join("switchyard-app");
    if !app.exists() {
        return Err(format!("{} was not built", app.display()));
    }
    let step = Step::start(&format!("packaging .deb and .rpm (Tauri's bundler, {profile})"));
    // Packages carry stripped copies (symbols are half a binary; the builds keep theirs for
    // profilers): the bundler reads them from a target folder of their own.
    let packed = root().join("target/package-binaries");
    let packed_dir = packed.join(profile);
    let _ = std::fs::remove_dir_all(&packed);
    std::fs::create_dir_all(&packed_dir).map_err(|e| format!("{}: {e}", packed_dir.display()))?;
    let copy = packed_dir.join("switchyard-app");
    std::fs::copy(&app, &copy).map_err(|e| format!("{}: {e}", copy.display()))?;
    util::run(Command::new("strip").arg(&copy))?;
    let app = copy;
    let out = packed_dir.join("bundle");
    let stage = stage_config(&root().join(CLI_SCRIPT), "linux", false, !release)?;
    let mut bundle = Command::new(root().join("packaging/node_modules/.bin/tauri"));
    bundle
        .current_dir(&stage)
        .args(["bundle", "--bundles", "deb,rpm"])
        .env("TAURI_APP_PATH", &stage)
        .env("CARGO_TARGET_DIR", &packed);
    if !release {
        bundle.arg("--debug");
    }
    util::run(&mut bundle)?;
    let find = |kind: &str| -> Result<PathBuf> {
        let dir = out.join(kind);
        std::fs::read_dir(&dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == kind))
            .ok_or_else(|| format!("the bundler made no .{kind} in {}", dir.display()))
    };
    let packages = Packages { deb: find("deb")?, rpm: find("rpm")?, app };
    // Tauri's bundler compresses the .deb with gzip; xz (what Debian's own packages use)
    // makes it less than half the size. Not for the test's debug packages.
    if release {
        let unpacked = packed.join("deb-tree");
        util::run(Command::new("dpkg-deb").arg("-R").arg(&packages.deb).arg(&unpacked))?;
        util::run(
            Command::new("dpkg-deb")
                .args(["--root-owner-group", "-Zxz", "-z9", "-Sextreme", "-b"])
                .arg(&unpacked)
                .arg(&packages.deb),
        )?;
        let _ = std::fs::remove_dir_all(&unpacked);
    }
    step.done();
    Ok(packages)
}

/// The Tauri CLI wants tauri.conf.json beside a Cargo.toml with a `[package]`; ours sits at
/// the repository root (beside the workspace manifest) and the app's package in src-tauri.
/// So the bundler gets a folder of its own under target/: the configuration with every path
/// made absolute and the CLI added (`cli`: on Linux the script, elsewhere the CLI's binary),
/// and a manifest naming the app's
/// binary (its own workspace; CARGO_TARGET_DIR points the bundler at the real builds).
fn stage_config(cli: &std::path::Path, os: &str, updater: bool, quick: bool) -> Result<PathBuf> {
    let stage = root().join("target/bundle-config");
    let _ = std::fs::remove_dir_all(&stage);
    std::fs::create_dir_all(&stage).map_err(|e| format!("{}: {e}", stage.display()))?;
    let read = |path: PathBuf| std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()));
    let mut config: serde_json::Value =
        serde_json::from_str(&read(root().join("tauri.conf.json"))?).map_err(|e| format!("tauri.conf.json: {e}"))?;
    let absolute = |relative: &str| root().join(relative).display().to_string();
    config["build"]["frontendDist"] = absolute("ui/dist").into();
    if let Some(icons) = config["bundle"]["icon"].as_array_mut() {
        for icon in icons {
            *icon = absolute(icon.as_str().unwrap_or_default()).into();
        }
    }
    for kind in ["deb", "rpm"] {
        let linux = &mut config["bundle"]["linux"][kind];
        for key in ["desktopTemplate", "postInstallScript", "postRemoveScript"] {
            if let Some(path) = linux[key].as_str().map(str::to_string) {
                linux[key] = absolute(&path).into();
            }
        }
        let mut files = serde_json::Map::new();
        if let Some(listed) = linux["files"].as_object() {
            for (to, from) in listed {
                files.insert(to.clone(), absolute(from.as_str().unwrap_or_default()).into());
            }
        }
        if os == "linux" {
            files.insert("/usr/bin/switchyard".into(), cli.display().to_string().into());
        }
        linux["files"] = files.into();
    }
    // The CLI beside the app on the other systems too: in the .app's MacOS folder, and in
    // the Windows install folder.
    if os == "macos" {
        config["bundle"]["macOS"]["files"] = serde_json::json!({"MacOS/switchyard": cli.display().to_string()});
    }
    if os == "windows" {
        config["bundle"]["resources"] = serde_json::json!({cli.display().to_string(): "switchyard.exe"});
        // Authenticode with the certificate the pipeline imported (its thumbprint).
        if let Ok(thumbprint) = std::env::var("WINDOWS_CERTIFICATE_THUMBPRINT")
            && !thumbprint.is_empty()
        {
            config["bundle"]["windows"]["certificateThumbprint"] = thumbprint.into();
            config["bundle"]["windows"]["digestAlgorithm"] = "sha256".into();
            config["bundle"]["windows"]["timestampUrl"] = "http://timestamp.digicert.com".into();
        }
    }
    // The test's packages of the debug builds: fast compression (their size means nothing).
    if quick {
        config["bundle"]["linux"]["rpm"]["compression"] = serde_json::json!({"type": "gzip", "level": 1});
    }
    // Signed updater artifacts (.sig beside each package) need TAURI_SIGNING_PRIVATE_KEY.
    if updater {
        config["bundle"]["createUpdaterArtifacts"] = true.into();
    }
    let text = serde_json::to_string_pretty(&config).map_err(|e| e.to_string())?;
    std::fs::write(stage.join("tauri.conf.json"), text).map_err(|e| e.to_string())?;
    let manifest = format!(
        "[package]\nname = \"switchyard-app\"\nversion = \"{version}\"\nedition = \"2024\"\n\
         description = \"A native workflow builder: drag nodes onto a canvas, wire them, run workflows locally and share them as files\"\n\
         license = \"MIT OR Apache-2.0\"\npublish = false\n\n[[bin]]\nname = \"switchyard-app\"\npath = \"main.rs\"\n\n[workspace]\n",
        version = config["version"].as_str().unwrap_or("0.0.0")
    );
    std::fs::write(stage.join("Cargo.toml"), manifest).map_err(|e| e.to_string())?;
    std::fs::write(stage.join("main.rs"), "fn main() {}\n").map_err(|e| e.to_string())?;
    Ok(stage)
}

/// The app (serving the built UI) and the CLI in one release build, so that their
/// dependencies' features are resolved once; for `target` when given.
fn release_build(target: Option<&str>) -> Result {
    let mut cmd = util::cargo();
    cmd.args(["build", "--locked", "--release"]);
    if let Some(triple) = target {
        cmd.args(["--target", triple]);
    }
    util::run(cmd.args([
        "-p",
        "switchyard-app",
        "-p",
        "switchyard-cli",
        "--features",
        "switchyard-app/custom-protocol",
    ]))
}

/// The release pipeline's bundling (`.github/workflows/release.yml`, on GitHub's runners):
/// release builds for `target` (`universal-apple-darwin` builds both Mac architectures and
/// joins them with lipo), then Tauri's bundler for `bundles`; signing and notarisation come
/// from the environment the bundler reads (docs/platforms.md, "Release pipeline").
fn pipeline(target: &str, bundles: &str, updater: bool) -> Result {
    // The app verifies updates with the release key built into it; an updater build without
    // it would make installers whose app never updates.
    if updater && std::env::var("SWITCHYARD_UPDATER_PUBKEY").map_or(true, |k| k.trim().is_empty()) {
        return Err("--updater needs SWITCHYARD_UPDATER_PUBKEY (the release key's public half, built into the app) \
                    and TAURI_SIGNING_PRIVATE_KEY (its secret half); docs/platforms.md, \"Updates\""
            .into());
    }
    setup::packaging()?;
    let step = Step::start(&format!("release builds for {target}"));
    util::run(Command::new("npm").current_dir(root().join("ui")).args(["run", "--silent", "build"]))?;
    let build = |triple: &str| release_build(Some(triple));
    let exe = if target.contains("windows") { ".exe" } else { "" };
    let out = root().join("target").join(target).join("release");
    if target == "universal-apple-darwin" {
        let arches = ["aarch64-apple-darwin", "x86_64-apple-darwin"];
        for triple in arches {
            build(triple)?;
        }
        std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
        for binary in ["switchyard-app", "switchyard"] {
            let mut lipo = Command::new("lipo");
            lipo.arg("-create").arg("-output").arg(out.join(binary));
            for triple in arches {
                lipo.arg(root().join("target").join(triple).join("release").join(binary));
            }
            util::run(&mut lipo)?;
        }
    } else {
        build(target)?;
    }
    step.done();
    let os = if target.contains("apple") {
        "macos"
    } else if target.contains("windows") {
        "windows"
    } else {
        "linux"
    };
    let cli = if os == "linux" { root().join(CLI_SCRIPT) } else { out.join(format!("switchyard{exe}")) };
    let stage = stage_config(&cli, os, updater, false)?;
    let step = Step::start(&format!("bundling {bundles} for {target}"));
    util::run(
        Command::new(root().join("packaging/node_modules/.bin").join(if exe.is_empty() {
            "tauri"
        } else {
            "tauri.cmd"
        }))
        .current_dir(&stage)
        .args(["bundle", "--target", target, "--bundles", bundles])
        .env("TAURI_APP_PATH", &stage)
        .env("CARGO_TARGET_DIR", root().join("target")),
    )?;
    step.done();
    if updater {
        let step = Step::start("updater signatures bound to the version");
        sign_for_version(&out.join("bundle"), &app_version()?)?;
        step.done();
    }
    println!("{}", out.join("bundle").display());
    Ok(())
}

/// Signs every installer in `bundle` again with `tauri signer sign --app-version`: the
/// signature's trusted comment then names the version, and the app (`requireSignedVersion`)
/// refuses a manifest that pairs a newer version number with an older release's file.
fn sign_for_version(bundle: &std::path::Path, version: &str) -> Result {
    let installers = [".AppImage", ".deb", ".rpm", ".msi", ".exe", ".app.tar.gz"];
    let mut signed = 0;
    for dir in std::fs::read_dir(bundle).map_err(|e| format!("{}: {e}", bundle.display()))?.flatten() {
        for file in std::fs::read_dir(dir.path()).into_iter().flatten().flatten() {
            let path = file.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if !installers.iter().any(|suffix| name.ends_with(suffix)) {
                continue;
            }
            let tauri =
                root().join("packaging/node_modules/.bin").join(if cfg!(windows) { "tauri.cmd" } else { "tauri" });
            util::run(Command::new(tauri).args(["signer", "sign", "--app-version", version]).arg(&path))?;
            signed += 1;
        }
    }
    if signed == 0 {
        return Err(format!("no installers to sign in {}", bundle.display()));
    }
    Ok(())
}

/// The version the packages carry (tauri.conf.json's, as the workspace's crates have).
fn app_version() -> Result<String> {
    let text = std::fs::read_to_string(root().join("tauri.conf.json")).map_err(|e| e.to_string())?;
    let config: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    config["version"].as_str().map(str::to_string).ok_or_else(|| "tauri.conf.json has no version".into())
}

/// apt-get as root, or why the package test cannot run.
fn apt() -> Result<Command> {
    util::apt_get().ok_or_else(|| "installing the .deb needs root or password-less sudo".to_string())
}

fn text(cmd: &mut Command) -> Result<String> {
    util::output(cmd).map(|s| s.trim().to_string())
}

/// The package test: the .deb installed on this machine with apt, used (the CLI's version, an
/// example run, the app under Xvfb on its own and through the desktop entry's `Exec` line
/// with a workflow file, screenshots), then removed leaving nothing but the data folder;
/// the .rpm installed into a folder of its own (`rpm --root`) and removed.
pub fn check_installed(p: &Packages) -> Result {
    let work = root().join("target/package-test");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    deb(p, &work)?;
    rpm(p, &work)
}

fn deb(p: &Packages, work: &std::path::Path) -> Result {
    let name = text(Command::new("dpkg-deb").args(["-f"]).arg(&p.deb).arg("Package"))?;
    let installed = |name: &str| {
        Command::new("dpkg-query")
            .args(["-W", "-f=${Status}", name])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
    };
    if installed(&name) {
        // Left by an interrupted run.
        util::run(apt()?.args(["remove", "--purge", "-y", &name]))?;
    }
    util::run(apt()?.args(["install", "-y"]).arg(&p.deb))?;
    let listed = text(Command::new("dpkg").args(["-L", &name]))?;
    let files: Vec<PathBuf> = listed.lines().map(PathBuf::from).filter(|p| p.is_file()).collect();
    let has = |path: &str| files.iter().any(|f| f == std::path::Path::new(path));
    for wanted in ["/usr/bin/switchyard", "/usr/bin/switchyard-app", "/usr/share/mime/packages/switchyard.xml"] {
        if !has(wanted) {
            return Err(format!("the .deb does not install {wanted}; it has:\n{listed}"));
        }
    }
    let icons = files.iter().filter(|f| f.starts_with("/usr/share/icons/hicolor")).count();
    if icons < 3 {
        return Err(format!("the .deb installs {icons} icon sizes; it has:\n{listed}"));
    }
    let desktop = files
        .iter()
        .find(|f| f.starts_with("/usr/share/applications") && f.extension().is_some_and(|e| e == "desktop"))
        .ok_or_else(|| format!("the .deb has no desktop entry; it has:\n{listed}"))?
        .clone();
    util::run(Command::new("desktop-file-validate").arg(&desktop))?;
    let entry = std::fs::read_to_string(&desktop).map_err(|e| format!("{}: {e}", desktop.display()))?;
    if !entry.lines().any(|l| l == "MimeType=application/x-switchyard-workflow;") {
        return Err(format!("{} names no workflow MIME type:\n{entry}", desktop.display()));
    }
    // The post-install script registered the type with the system's MIME database.
    let registered = std::path::Path::new("/usr/share/mime/application/x-switchyard-workflow.xml");
    if !registered.exists() {
        return Err(format!("{} is missing: the MIME type was not registered", registered.display()));
    }
    let exec = entry
        .lines()
        .find_map(|l| l.strip_prefix("Exec="))
        .ok_or_else(|| format!("{} has no Exec line", desktop.display()))?
        .to_string();
    if !exec.ends_with(" %F") {
        return Err(format!("the desktop entry's Exec line takes no files: {exec}"));
    }

    // The installed CLI.
    let version = text(Command::new("/usr/bin/switchyard").arg("--version"))?;
    if version != format!("switchyard {}", app_version()?) {
        return Err(format!("/usr/bin/switchyard --version says {version:?}"));
    }
    let data = work.join("data");
    let ran = text(
        Command::new("/usr/bin/switchyard")
            .args(["run", "--json", "--quiet"])
            .arg(root().join("assets/examples/order-totals.json"))
            .env("SWITCHYARD_DATA_DIR", &data)
            .env("SWITCHYARD_KEYRING", "off"),
    )?;
    if !ran.contains("\"status\": \"success\"") && !ran.contains("\"status\":\"success\"") {
        return Err(format!("the installed CLI ran the example as:\n{ran}"));
    }

    // The installed app: on its own (the workflows page), then a workflow file opened through
    // the desktop entry's Exec line, which the running app receives (single instance).
    let file = work.join("hello.switchyard.json");
    std::fs::copy(root().join("assets/examples/hello-world.json"), &file).map_err(|e| e.to_string())?;
    let open_line = exec.replace("%F", &format!("'{}'", file.display()));
    let data = work.join("app-data");
    let script = format!(
        r#"set -u
export SWITCHYARD_DATA_DIR='{data}' SWITCHYARD_KEYRING=off WEBKIT_DISABLE_COMPOSITING_MODE=1
/usr/bin/switchyard-app & app=$!
i=0; until [ -e '{data}/switchyard.db' ] || [ $i -ge 120 ]; do sleep 0.5; i=$((i+1)); done
sleep 6; import -window root '{work}/installed-app.png'
timeout 30 {open_line}; echo $? > '{work}/second-launch.txt'
i=0; until /usr/bin/switchyard list 2>/dev/null | grep -q 'Hello world' || [ $i -ge 120 ]; do sleep 0.5; i=$((i+1)); done
sleep 3; import -window root '{work}/opened-file.png'
/usr/bin/switchyard list > '{work}/list.txt' 2>&1
kill $app; wait $app
exit 0"#,
        data = data.display(),
        work = work.display(),
    );
    util::run(
        Command::new("xvfb-run")
            .args(["-a", "-s", "-screen 0 1280x800x24", "dbus-run-session", "--", "sh", "-c", &script])
            .current_dir(work),
    )?;
    let list = std::fs::read_to_string(work.join("list.txt")).unwrap_or_default();
    if !list.contains("Hello world") {
        return Err(format!(
            "the app did not import the file opened through its desktop entry ({open_line}); `switchyard list` says:\n{list}"
        ));
    }
    // The second launch handed the file to the running app and ended (single instance),
    // instead of opening a second app on the same data folder.
    let second = std::fs::read_to_string(work.join("second-launch.txt")).unwrap_or_default();
    if second.trim() != "0" {
        return Err(format!("the desktop entry's launch with a file did not end at once (exit {:?})", second.trim()));
    }
    for shot in ["installed-app.png", "opened-file.png"] {
        if std::fs::metadata(work.join(shot)).map(|m| m.len()).unwrap_or(0) < 10_000 {
            return Err(format!("no screenshot {}", work.join(shot).display()));
        }
    }

    // Removed: nothing of it is left but the user's data folder.
    util::run(apt()?.args(["remove", "--purge", "-y", &name]))?;
    let left: Vec<String> = files.iter().filter(|f| f.exists()).map(|f| f.display().to_string()).collect();
    if !left.is_empty() {
        return Err(format!("removing the .deb left {}", left.join(", ")));
    }
    if registered.exists() {
        return Err(format!("{} is still registered after removal", registered.display()));
    }
    if !data.join("switchyard.db").exists() || !work.join("data/switchyard.db").exists() {
        return Err("removing the package removed the user's data folder".into());
    }
    Ok(())
}

fn rpm(p: &Packages, work: &std::path::Path) -> Result {
    // Debian's rpm cannot resolve the package's dependencies (they are Fedora's names), so
    // it goes into a folder of its own without them or its scripts; the file list is checked.
    let tree = work.join("rpm-root");
    std::fs::create_dir_all(&tree).map_err(|e| e.to_string())?;
    util::run(Command::new("rpm").arg("--root").arg(&tree).arg("--initdb"))?;
    let listed = text(Command::new("rpm").args(["-qlp"]).arg(&p.rpm))?;
    let name = text(Command::new("rpm").args(["-qp", "--queryformat", "%{NAME}"]).arg(&p.rpm))?;
    for wanted in ["/usr/bin/switchyard", "/usr/bin/switchyard-app", "/usr/share/mime/packages/switchyard.xml"] {
        if !listed.lines().any(|l| l == wanted) {
            return Err(format!("the .rpm does not hold {wanted}; it has:\n{listed}"));
        }
    }
    util::run(Command::new("rpm").args(["-i", "--nodeps", "--noscripts", "--root"]).arg(&tree).arg(&p.rpm))?;
    let inside = |path: &str| tree.join(path.trim_start_matches('/'));
    let files: Vec<&str> = listed.lines().filter(|l| !inside(l).is_dir()).collect();
    let missing: Vec<&str> = files.iter().copied().filter(|f| !inside(f).exists()).collect();
    if !missing.is_empty() {
        return Err(format!("the .rpm installed without {}", missing.join(", ")));
    }
    // /usr/bin/switchyard runs /usr/bin/switchyard-app --cli: that, inside the folder.
    let script = std::fs::read_to_string(inside("/usr/bin/switchyard")).map_err(|e| e.to_string())?;
    if !script.contains("exec /usr/bin/switchyard-app --cli \"$@\"") {
        return Err(format!("the .rpm's /usr/bin/switchyard is not the CLI script:\n{script}"));
    }
    let version = text(Command::new(inside("/usr/bin/switchyard-app")).args(["--cli", "--version"]))?;
    if !version.ends_with(&app_version()?) {
        return Err(format!("the .rpm's switchyard-app --cli --version says {version:?}"));
    }
    util::run(Command::new("rpm").args(["-e", "--nodeps", "--noscripts", "--root"]).arg(&tree).arg(&name))?;
    let left: Vec<&str> = files.iter().copied().filter(|f| inside(f).exists()).collect();
    if !left.is_empty() {
        return Err(format!("removing the .rpm left {}", left.join(", ")));
    }
    Ok(())
}
