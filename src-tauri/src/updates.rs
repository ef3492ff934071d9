//! App updates with tauri-plugin-updater: the API's `update_check` and `update_install` land
//! here (through [`crate::TauriHost`]). An update is a release manifest at the user's update
//! URL naming, per platform, a file and its minisign signature; the file is installed only
//! when that signature verifies with the release key built into this app and binds the
//! announced version, and only the version the user was shown and confirmed.

use std::path::PathBuf;
use std::sync::Mutex;
use switchyard_api::types::UpdateOffer;
use switchyard_api::{ApiError, ApiResult, Installed};
use switchyard_model::error::ErrorCode;
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_updater::{Update, UpdaterExt};

/// The release key (a minisign public key, base64 as Tauri writes it) the release pipeline
/// builds in (`SWITCHYARD_UPDATER_PUBKEY` at build time; its secret half signs the release).
const BUILT_IN_KEY: Option<&str> = option_env!("SWITCHYARD_UPDATER_PUBKEY");

/// The update the last check offered: the only one `install` installs.
#[derive(Default)]
pub struct Pending(Mutex<Option<Update>>);

/// The key updates must be signed with: the built-in one, else tauri.conf.json's
/// `plugins.updater.pubkey`. None for a build made outside the release pipeline.
fn release_key<R: Runtime>(app: &AppHandle<R>) -> Option<String> {
    let configured = || {
        let key = app.config().plugins.0.get("updater")?.get("pubkey")?.as_str()?;
        Some(key.to_string())
    };
    BUILT_IN_KEY.map(str::to_string).or_else(configured).filter(|k| !k.trim().is_empty())
}

/// Asks `url` for a newer version and keeps the offer for [`install`]. `executable` replaces
/// the file an install would replace (tests; by default the running AppImage or app).
pub async fn check<R: Runtime>(
    app: &AppHandle<R>,
    url: &str,
    executable: Option<PathBuf>,
) -> ApiResult<Option<UpdateOffer>> {
    let Some(key) = release_key(app) else {
        return Err(ApiError::new(
            ErrorCode::UpdateRejected,
            "this build of Switchyard has no release key to verify updates with (it was not built by the \
             release pipeline), so it installs none: install new versions from their packages",
        ));
    };
    let endpoint = url.parse().map_err(|e| ApiError::bad_request(format!("updateUrl: \"{url}\" is not a URL: {e}")))?;
    let mut builder = app
        .updater_builder()
        .pubkey(key)
        .timeout(std::time::Duration::from_secs(120))
        .endpoints(vec![endpoint])
        .map_err(describe)?;
    if let Some(executable) = executable {
        builder = builder.executable_path(executable);
    }
    let update = builder.build().map_err(describe)?.check().await.map_err(describe)?;
    let offer = update.as_ref().map(|update| UpdateOffer {
        version: update.version.clone(),
        current_version: update.current_version.clone(),
        notes: update.body.clone().filter(|n| !n.trim().is_empty()),
        date: update.raw_json.get("pub_date").and_then(|d| d.as_str()).map(str::to_string),
    });
    *app.state::<Pending>().0.lock().unwrap_or_else(|e| e.into_inner()) = update;
    Ok(offer)
}

/// Downloads the offered `version`, verifies it and installs it. Any failure leaves the
/// installed app as it was.
pub async fn install<R: Runtime>(app: &AppHandle<R>, version: &str) -> ApiResult<Installed> {
    let update = {
        let pending = app.state::<Pending>();
        let mut pending = pending.0.lock().unwrap_or_else(|e| e.into_inner());
        match pending.take() {
            Some(update) if update.version == version => update,
            other => {
                let offered = other.as_ref().map(|u| format!("the last check offered {}", u.version));
                *pending = other;
                return Err(ApiError::bad_request(format!(
                    "{}, not {version}: check for updates again",
                    offered.unwrap_or_else(|| "no update was offered since the app started".into())
                )));
            }
        }
    };
    let bytes = update.download(|_, _| {}, || {}).await.map_err(describe)?;
    update.install(&bytes).map_err(describe)?;
    Ok(Installed {
        message: format!("Switchyard {version} is installed: restart the app to use it"),
        restart_needed: true,
    })
}

/// The updater's errors in the user's words, with a code: a refused signature or file is
/// `update_rejected` (nothing was replaced), a network failure `http_request_failed`.
fn describe(error: tauri_plugin_updater::Error) -> ApiError {
    use tauri_plugin_updater::Error as E;
    let rejected = |message: String| ApiError::new(ErrorCode::UpdateRejected, message);
    match error {
        E::Minisign(e) => rejected(format!(
            "its signature does not verify with this app's release key ({e}): the file was changed on the way \
             or signed with another key. Nothing was replaced"
        )),
        E::Base64(_) | E::SignatureUtf8(_) => {
            rejected("the release manifest's signature is not a Tauri signature (base64 of a .sig file)".into())
        }
        E::SignedVersionMismatch { signed, announced } => rejected(format!(
            "the file was signed for version {signed}, but the release manifest announces {announced}. Nothing was replaced"
        )),
        E::MissingSignedVersion => rejected(
            "its signature does not say which version it was signed for, which this app requires. Nothing was replaced"
                .into(),
        ),
        E::InvalidUpdaterFormat => rejected(
            "the file is not an installer for this installation (an AppImage replaces an AppImage, a .deb a .deb …). \
             Nothing was replaced"
                .into(),
        ),
        E::TargetNotFound(target) => rejected(format!("the release manifest has no file for this system ({target})")),
        E::TargetsNotFound(targets) => {
            rejected(format!("the release manifest has no file for this system ({})", targets.join(", ")))
        }
        E::InsecureTransportProtocol => rejected("the update URL must use https".into()),
        E::Reqwest(e) => ApiError::new(ErrorCode::HttpRequestFailed, switchyard_model::error::with_causes(&e)),
        E::Network(message) => ApiError::new(ErrorCode::HttpRequestFailed, message),
        E::Serialization(e) => ApiError::bad_request(format!("the release manifest is not valid: {e}")),
        E::ReleaseNotFound => ApiError::bad_request("the update URL did not answer with a release manifest"),
        other => ApiError::new(ErrorCode::Io, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    //! Against a local update server: the download and the signature check run for real,
    //! and a good update replaces an "installed AppImage" (a file of the test's) with the
    //! served program, which then runs. A changed file, another key or a signature for an
    //! older version are refused, and the installed file stays as it was. (Plain http to
    //! 127.0.0.1: the updater allows it in debug builds only, with a warning; release builds
    //! and the update URL setting require https.)

    use super::*;
    use base64::Engine as _;
    use serde_json::json;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use tauri::test::{MockRuntime, mock_builder, noop_assets};

    /// Serves the files `files` makes for the server's base URL (path → body) on 127.0.0.1
    /// until the test ends; returns the base URL.
    fn serve(files: impl FnOnce(&str) -> Vec<(String, Vec<u8>)>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let files = files(&base);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&request).lines().next().unwrap_or_default().to_string();
                let path = line.split(' ').nth(1).unwrap_or_default().to_string();
                let (status, body) = match files.iter().find(|(p, _)| *p == path) {
                    Some((_, body)) => ("200 OK", body.clone()),
                    None => ("404 Not Found", b"not found".to_vec()),
                };
                let head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                let _ = stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(&body));
            }
        });
        base
    }

    fn b64(text: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    /// A Tauri-style signature (base64 of the .sig file) of `bytes`, bound to `version`.
    fn sign(key: &minisign::KeyPair, bytes: &[u8], version: &str) -> String {
        let trusted = format!("timestamp:1796300000\tfile:Switchyard.AppImage\tversion:{version}");
        let signature = minisign::sign(
            Some(&key.pk),
            &key.sk,
            std::io::Cursor::new(bytes),
            Some(&trusted),
            Some("signature from tauri secret key"),
        )
        .unwrap();
        b64(&signature.to_string())
    }

    fn manifest(version: &str, url: String, signature: String) -> Vec<u8> {
        let platform = json!({"url": url, "signature": signature});
        serde_json::to_vec(&json!({
            "version": version,
            "notes": "Faster webhooks.\n<script>alert(1)</script>",
            "pub_date": "2026-12-01T10:00:00Z",
            "platforms": {"linux-x86_64": platform, "darwin-aarch64": platform, "darwin-x86_64": platform,
                          "windows-x86_64": platform}
        }))
        .unwrap()
    }

    /// The desktop app on the mock runtime, with `key` as its release key.
    fn app(dir: &std::path::Path, key: &str) -> tauri::App<MockRuntime> {
        let mut context = tauri::generate_context!("../tauri.conf.json");
        context.set_assets(Box::new(noop_assets()));
        context.config_mut().plugins.0.insert("updater".into(), json!({"pubkey": key, "requireSignedVersion": true}));
        let mut app = crate::configure(mock_builder(), Some(dir.to_path_buf()), false).build(context).unwrap();
        #[allow(deprecated)]
        app.run_iteration(|_, _| {});
        app
    }

    #[test]
    fn signed_updates_install_and_changed_or_foreign_ones_are_refused() {
        let release = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        let stranger = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        // The new version: a real program, so the installed file can be run afterwards.
        let new = std::fs::read("/bin/true").unwrap();
        let mut changed = new.clone();
        let last = changed.len() - 1;
        changed[last] ^= 0xff;
        let base = serve(|base| {
            vec![
                ("/current.json".to_string(), manifest("0.1.0", format!("{base}/new"), sign(&release, &new, "0.1.0"))),
                ("/good.json".into(), manifest("9.9.9", format!("{base}/new"), sign(&release, &new, "9.9.9"))),
                ("/changed.json".into(), manifest("9.9.9", format!("{base}/changed"), sign(&release, &new, "9.9.9"))),
                ("/stranger.json".into(), manifest("9.9.9", format!("{base}/new"), sign(&stranger, &new, "9.9.9"))),
                // An older genuine release announced as a newer one (a downgrade).
                ("/older.json".into(), manifest("9.9.9", format!("{base}/new"), sign(&release, &new, "0.0.9"))),
                ("/not-json.json".into(), b"<html>maintenance</html>".to_vec()),
                ("/new".into(), new.clone()),
                ("/changed".into(), changed.clone()),
            ]
        });

        let dir = tempfile::tempdir().unwrap();
        let key = b64(&release.pk.to_box().unwrap().to_string());
        let app = app(dir.path(), &key);
        let handle = app.handle().clone();
        let installed = dir.path().join("Switchyard.AppImage");
        let old = b"\x7fELF the installed version".to_vec();
        let reset = || {
            std::fs::write(&installed, &old).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&installed, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        let check_at = |name: &str| {
            tauri::async_runtime::block_on(check(&handle, &format!("{base}/{name}"), Some(installed.clone())))
        };
        let install = |version: &str| tauri::async_runtime::block_on(install(&handle, version));
        reset();

        // The same version: nothing to do.
        assert_eq!(check_at("current.json").unwrap(), None);
        let refused = install("0.1.0").unwrap_err();
        assert!(
            refused.message.starts_with("no update was offered since the app started, not 0.1.0"),
            "{}",
            refused.message
        );

        // Changed on the way, signed by someone else, or an older release announced as new:
        // refused after the download, the installed file untouched.
        for (name, expected) in [
            ("changed.json", "its signature does not verify with this app's release key"),
            ("stranger.json", "its signature does not verify with this app's release key"),
            ("older.json", "the file was signed for version 0.0.9, but the release manifest announces 9.9.9"),
        ] {
            let offer = check_at(name).unwrap().expect("an offer");
            assert_eq!(offer.version, "9.9.9");
            let refused = install("9.9.9").unwrap_err();
            assert_eq!(refused.code, ErrorCode::UpdateRejected, "{name}: {}", refused.message);
            assert!(refused.message.starts_with(expected), "{name}: {}", refused.message);
            assert_eq!(std::fs::read(&installed).unwrap(), old, "{name}: nothing was replaced");
        }

        // A page that is not a manifest, and a server that is not there.
        let refused = check_at("not-json.json").unwrap_err();
        assert!(refused.message.contains("not-json.json): expected value at line 1 column 1"), "{}", refused.message);
        let refused =
            tauri::async_runtime::block_on(check(&handle, "http://127.0.0.1:9/latest.json", None)).unwrap_err();
        assert_eq!(refused.code, ErrorCode::HttpRequestFailed, "{}", refused.message);

        // The genuine update: shown with its notes, installed only as the version offered.
        let offer = check_at("good.json").unwrap().expect("an offer");
        assert_eq!(offer.current_version, "0.1.0");
        assert_eq!(offer.notes.as_deref(), Some("Faster webhooks.\n<script>alert(1)</script>"));
        assert_eq!(offer.date.as_deref(), Some("2026-12-01T10:00:00Z"));
        let refused = install("9.9.8").unwrap_err();
        assert!(refused.message.starts_with("the last check offered 9.9.9, not 9.9.8"), "{}", refused.message);
        let done = install("9.9.9").unwrap();
        assert!(done.restart_needed);
        assert_eq!(done.message, "Switchyard 9.9.9 is installed: restart the app to use it");
        assert_eq!(std::fs::read(&installed).unwrap(), new);
        let status = std::process::Command::new(&installed).status().unwrap();
        assert!(status.success(), "the installed program runs");
        // Installed once: a second install needs a new check.
        assert!(install("9.9.9").unwrap_err().message.starts_with("no update was offered"));
    }

    /// A build without a release key (anything not made by the release pipeline) installs
    /// nothing, and says why before asking any server.
    #[test]
    fn a_build_without_a_release_key_refuses_to_update() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path(), "");
        let refused =
            tauri::async_runtime::block_on(check(app.handle(), "https://127.0.0.1:9/latest.json", None)).unwrap_err();
        assert_eq!(refused.code, ErrorCode::UpdateRejected);
        assert!(refused.message.starts_with("this build of Switchyard has no release key"), "{}", refused.message);
    }
}
