//! The desktop shell. It only wires things up: the window and its plugins, one command that
//! forwards every call into `switchyard-api`, a bridge that turns API events into Tauri
//! events for the UI, and the tray that keeps active workflows running when the window is
//! closed.

mod updates;

use futures::future::BoxFuture;
use std::path::PathBuf;
use std::sync::Arc;
use switchyard_api::types::{ApiEvent, UpdateOffer};
use switchyard_api::{Api, ApiError, ApiResult, Host, Installed};
use tauri::{AppHandle, Emitter, Manager, Runtime, State};

/// The Tauri event name the UI listens to.
pub const EVENT: &str = "api-event";

/// Delivers API events to the UI as Tauri events.
struct TauriHost<R: Runtime>(AppHandle<R>);

impl<R: Runtime> Host for TauriHost<R> {
    fn emit(&self, event: ApiEvent) {
        if let Err(e) = self.0.emit(EVENT, event) {
            tracing::warn!("cannot deliver an event to the window: {e}");
        }
    }

    /// The OAuth2 sign-in page, in the user's default browser.
    fn open_url(&self, url: &str) -> Result<(), String> {
        use tauri_plugin_opener::OpenerExt;
        self.0.opener().open_url(url, None::<&str>).map_err(|e| e.to_string())
    }

    /// Alerts, as desktop notifications (tauri-plugin-notification).
    fn notify(&self, title: &str, body: &str) -> Result<String, String> {
        use tauri_plugin_notification::NotificationExt;
        self.0.notification().builder().title(title).body(body).show().map_err(|e| e.to_string())?;
        Ok("notification shown".into())
    }

    fn set_start_at_login(&self, on: bool) -> Result<(), String> {
        use tauri_plugin_autostart::ManagerExt;
        let launcher = self.0.autolaunch();
        if on { launcher.enable() } else { launcher.disable() }.map_err(|e| e.to_string())
    }

    /// The webview may show untrusted content (workflow names, run data): it reads and writes
    /// only files the user chose in this shell's dialogs or dropped on the window. The
    /// end-to-end tests, which cannot drive the OS's dialogs, turn this off with
    /// `SWITCHYARD_TEST_ANY_PATH=1`.
    fn restricts_paths(&self) -> bool {
        std::env::var("SWITCHYARD_TEST_ANY_PATH").as_deref() != Ok("1")
    }

    /// The OS's file dialog (tauri-plugin-dialog), for a workflow file.
    fn choose_path(&self, save_as: Option<&str>) -> Result<Option<String>, String> {
        use tauri_plugin_dialog::DialogExt;
        let dialog = self.0.dialog().file().add_filter("Switchyard workflow", &["json"]);
        let chosen = match save_as {
            Some(name) => dialog.set_file_name(name).blocking_save_file(),
            None => dialog.blocking_pick_file(),
        };
        chosen.map(|p| p.into_path().map(|p| p.display().to_string()).map_err(|e| e.to_string())).transpose()
    }

    /// The OS's save dialog for an item's file (any type).
    fn choose_save_path(&self, name: &str) -> Result<Option<String>, String> {
        use tauri_plugin_dialog::DialogExt;
        let chosen = self.0.dialog().file().set_file_name(name).blocking_save_file();
        chosen.map(|p| p.into_path().map(|p| p.display().to_string()).map_err(|e| e.to_string())).transpose()
    }

    fn check_update(&self, url: String) -> BoxFuture<'static, ApiResult<Option<UpdateOffer>>> {
        let app = self.0.clone();
        Box::pin(async move { updates::check(&app, &url, None).await })
    }

    fn install_update(&self, version: String) -> BoxFuture<'static, ApiResult<Installed>> {
        let app = self.0.clone();
        Box::pin(async move { updates::install(&app, &version).await })
    }

    /// Quits as at the tray's Quit (triggers stopped, history written), then starts again.
    fn restart(&self) -> Result<(), String> {
        self.0.request_restart();
        Ok(())
    }
}

/// The argument the login item starts the app with: no window, only the tray.
pub const HIDDEN_ARG: &str = "--hidden";

/// As the first argument: run the `switchyard` command line instead of the app
/// (`switchyard-app --cli run flow.json`).
pub const CLI_ARG: &str = "--cli";

/// Shows the main window, making it again if it was closed.
fn show_window<R: Runtime>(app: &AppHandle<R>) {
    let window = match app.get_webview_window("main") {
        Some(w) => Some(w),
        None => app
            .config()
            .app
            .windows
            .iter()
            .find(|w| w.label == "main")
            .and_then(|config| tauri::WebviewWindowBuilder::from_config(app, config).ok()?.build().ok()),
    };
    if let Some(window) = window {
        #[cfg(target_os = "linux")]
        software_rendering::apply(&window);
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}

/// The tray: open the window, pause every active workflow, quit. A failure (no tray on
/// this desktop) is logged; the app then quits with its window as usual.
fn tray<R: Runtime>(app: &tauri::App<R>) -> tauri::Result<()> {
    use tauri::menu::{Menu, MenuItem};
    use tauri::tray::TrayIconBuilder;
    let open = MenuItem::with_id(app, "open", "Open Switchyard", true, None::<&str>)?;
    let pause = MenuItem::with_id(app, "pause", "Pause all workflows", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&open, &pause, &quit])?;
    let mut builder = TrayIconBuilder::with_id("main").tooltip("Switchyard").menu(&menu).on_menu_event(|app, event| {
        match event.id().as_ref() {
            "open" => show_window(app),
            "pause" => {
                let api = app.state::<Api>().inner().clone();
                tauri::async_runtime::spawn(async move {
                    if let Err(e) = api.pause_all().await {
                        tracing::error!("cannot pause the workflows: {}", e.message);
                    }
                });
            }
            "quit" => app.exit(0),
            _ => {}
        }
    });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    builder.build(app)?;
    app.manage(TrayReady);
    Ok(())
}

/// Present when the tray icon exists (so closing the window may leave the app running).
struct TrayReady;

/// Every API command goes through here, by name, as listed in the API manifest.
#[tauri::command]
async fn api(api: State<'_, Api>, command: String, payload: serde_json::Value) -> Result<serde_json::Value, ApiError> {
    api.dispatch(&command, payload).await
}

/// Adds Switchyard's plugins, state and command to a builder. `data_dir` overrides the data
/// folder (tests); by default it comes from `SWITCHYARD_DATA_DIR` or the OS. `with_tray`
/// adds the tray icon (not on the mock runtime of unit tests, which has no GTK).
pub fn configure<R: Runtime>(
    builder: tauri::Builder<R>,
    data_dir: Option<PathBuf>,
    with_tray: bool,
) -> tauri::Builder<R> {
    builder
        // A second launch shows the running app's window instead of starting another app
        // on the same database.
        // Files it was given (a double-click on a workflow file while the app runs) go to it.
        .plugin(tauri_plugin_single_instance::init(|app, args, cwd| {
            if let Some(api) = app.try_state::<Api>() {
                for path in opened_files(args.into_iter(), std::path::Path::new(&cwd)) {
                    api.request_open(path);
                }
            }
            show_window(app)
        }))
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec![HIDDEN_ARG]),
        ))
        // Used only through the API's update commands; the window has no updater permission.
        .plugin(tauri_plugin_updater::Builder::new().build())
        .manage(updates::Pending::default())
        .setup(move |app| {
            let dir = switchyard_store::paths::data_dir(data_dir.clone());
            let api = Api::open(&dir, Arc::new(TauriHost(app.handle().clone())))
                .map_err(|e| format!("cannot open the data folder {}: {}", dir.display(), e.message))?;
            let background = api.clone();
            tauri::async_runtime::spawn(async move {
                drop(background.start_background());
                match background.start_triggers().await {
                    Ok(status) if status.error.is_some() => {
                        tracing::error!("webhooks are not served: {}", status.error.unwrap_or_default())
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!("cannot start the triggers: {}", e.message),
                }
            });
            if let Ok(cwd) = std::env::current_dir() {
                for path in opened_files(std::env::args(), &cwd) {
                    api.request_open(path);
                }
            }
            app.manage(api);
            if with_tray && let Err(e) = tray(app) {
                tracing::warn!("no tray icon ({e}): closing the window quits the app");
            }
            if let Some(window) = app.get_webview_window("main") {
                #[cfg(target_os = "linux")]
                software_rendering::apply(&window);
                if std::env::args().any(|a| a == HIDDEN_ARG) && app.try_state::<TrayReady>().is_some() {
                    let _ = window.destroy();
                }
            }
            Ok(())
        })
        // Files dropped on the window are the user's choice: the UI may import them.
        .on_window_event(|window, event| {
            if let tauri::WindowEvent::DragDrop(tauri::DragDropEvent::Drop { paths, .. }) = event
                && let Some(api) = window.try_state::<Api>()
            {
                for path in paths {
                    api.grant_path(path.clone());
                }
            }
        })
        .invoke_handler(tauri::generate_handler![api])
}

/// Closing the last window keeps the app running in the tray while any workflow is active;
/// quitting stops the triggers cleanly (requests answered, runs finished or cancelled,
/// history flushed).
fn on_run_event<R: Runtime>(app: &AppHandle<R>, event: tauri::RunEvent) {
    match event {
        tauri::RunEvent::ExitRequested { code: None, api: exit, .. } => {
            let active = app.try_state::<Api>().is_some_and(|api| api.has_active_triggers());
            if active && app.try_state::<TrayReady>().is_some() {
                exit.prevent_exit();
            }
        }
        tauri::RunEvent::Exit => {
            if let Some(api) = app.try_state::<Api>() {
                let api = api.inner().clone();
                tauri::async_runtime::block_on(async move {
                    api.stop_triggers().await;
                    if let Err(e) = api.drain(std::time::Duration::from_secs(10)).await {
                        tracing::error!("the history was not fully written at exit: {}", e.message);
                    }
                });
            }
        }
        _ => {}
    }
}

#[cfg(target_os = "linux")]
mod software_rendering {
    //! Without a GPU, WebKitGTK's accelerated compositing runs OpenGL in software: slower, and
    //! about 90 MB more memory in the web process. On such machines (no `/dev/dri`: virtual
    //! machines, remote and virtual displays) the webview paints without compositing.
    //! `SWITCHYARD_COMPOSITING=on|off` overrides the choice.

    use tauri::{Runtime, WebviewWindow};

    pub fn wanted() -> bool {
        match std::env::var("SWITCHYARD_COMPOSITING").as_deref() {
            Ok("on") => true,
            Ok("off") => false,
            _ => std::path::Path::new("/dev/dri").exists(),
        }
    }

    pub fn apply<R: Runtime>(window: &WebviewWindow<R>) {
        if wanted() {
            return;
        }
        let result = window.with_webview(|webview| {
            use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt, WebViewExt};
            if let Some(settings) = webview.inner().settings() {
                settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
            }
        });
        if let Err(e) = result {
            tracing::warn!("cannot set the webview's rendering policy: {e}");
        }
    }
}

/// `--data-dir DIR` (or `--data-dir=DIR`) from the command line.
fn data_dir_argument(args: impl Iterator<Item = String>) -> Option<PathBuf> {
    let mut args = args.skip(1);
    while let Some(arg) = args.next() {
        if arg == "--data-dir" {
            return args.next().map(PathBuf::from);
        }
        if let Some(dir) = arg.strip_prefix("--data-dir=") {
            return Some(PathBuf::from(dir));
        }
    }
    None
}

/// The files on a command line (the desktop entry's `Exec=switchyard-app %F`): every
/// argument but the program, options and `--data-dir`'s value, relative to `cwd`.
fn opened_files(args: impl Iterator<Item = String>, cwd: &std::path::Path) -> Vec<PathBuf> {
    let mut args = args.skip(1);
    let mut files = Vec::new();
    while let Some(arg) = args.next() {
        if arg == "--data-dir" {
            args.next();
        } else if !arg.starts_with('-') && !arg.is_empty() {
            let arg = arg.strip_prefix("file://").unwrap_or(&arg);
            files.push(cwd.join(arg));
        }
    }
    files
}

/// Starts the desktop app. `--data-dir DIR` chooses the data folder (as does
/// `SWITCHYARD_DATA_DIR`).
pub fn run() {
    let data_dir = data_dir_argument(std::env::args());
    let _log_guard = switchyard_api::logging::init(&switchyard_store::paths::data_dir(data_dir.clone()), "warn");
    // Tauri's tasks (and so every API call) run on the API's runtime: its threads have the
    // stack expressions need.
    let runtime = switchyard_api::runtime().expect("cannot start the async runtime");
    tauri::async_runtime::set(runtime.handle().clone());
    configure(tauri::Builder::default(), data_dir, true)
        .build(tauri::generate_context!("../tauri.conf.json"))
        .expect("error while building Switchyard")
        .run(on_run_event);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use std::sync::{Arc as StdArc, Mutex};
    use tauri::Listener;
    use tauri::ipc::{CallbackFn, InvokeBody};
    use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder, noop_assets};
    use tauri::webview::InvokeRequest;

    fn app(dir: &std::path::Path) -> (tauri::App<MockRuntime>, tauri::WebviewWindow<MockRuntime>) {
        // The real context (with the capabilities from tauri.conf.json) on the mock runtime.
        let mut context = tauri::generate_context!("../tauri.conf.json");
        context.set_assets(Box::new(noop_assets()));
        let mut app = configure(mock_builder(), Some(dir.to_path_buf()), false).build(context).expect("app builds");
        // One iteration runs the setup hook, which opens the API.
        #[allow(deprecated)]
        app.run_iteration(|_, _| {});
        // The setup made the window from tauri.conf.json, as in the real app.
        let window = app.get_webview_window("main").expect("the main window");
        (app, window)
    }

    fn invoke(window: &tauri::WebviewWindow<MockRuntime>, command: &str, payload: Value) -> Result<Value, Value> {
        get_ipc_response(
            window,
            InvokeRequest {
                cmd: "api".into(),
                callback: CallbackFn(0),
                error: CallbackFn(1),
                url: "tauri://localhost".parse().expect("url"),
                body: InvokeBody::Json(json!({ "command": command, "payload": payload })),
                headers: Default::default(),
                invoke_key: INVOKE_KEY.to_string(),
            },
        )
        .map(|body| body.deserialize::<Value>().expect("JSON response"))
    }

    #[test]
    fn commands_reach_the_api_and_errors_keep_their_code() {
        let dir = tempfile::tempdir().unwrap();
        let (_app, window) = app(dir.path());
        let info = invoke(&window, "app_info", json!({})).unwrap();
        assert_eq!(info["dataDir"], dir.path().display().to_string());
        assert!(info["nodeTypes"].as_u64().unwrap() >= 14);

        let created = invoke(&window, "workflow_create", json!({"name": "From the shell"})).unwrap();
        let id = created["workflow"]["id"].clone();
        let listed = invoke(&window, "workflow_list", json!({})).unwrap();
        assert_eq!(listed["workflows"][0]["id"], id);

        let error = invoke(&window, "workflow_get", json!({"id": "missing"})).unwrap_err();
        assert_eq!(error["code"], "not_found");
        assert_eq!(error["message"], "workflow missing not found");
        let error = invoke(&window, "no_such_command", json!({})).unwrap_err();
        assert_eq!(error["code"], "bad_request");
    }

    #[test]
    fn run_events_are_forwarded_to_the_window() {
        let dir = tempfile::tempdir().unwrap();
        let (app, window) = app(dir.path());
        let seen = StdArc::new(Mutex::new(Vec::<Value>::new()));
        let sink = seen.clone();
        app.listen(EVENT, move |event| {
            sink.lock().unwrap().push(serde_json::from_str(event.payload()).unwrap());
        });
        let workflow = json!({
            "switchyard": 1, "id": "w", "name": "W",
            "nodes": [{"id": "t", "name": "Start", "type": "trigger.manual"}]
        });
        let result = invoke(&window, "run_wait", json!({"workflow": workflow, "input": {"a": 1}})).unwrap();
        assert_eq!(result["status"], "success");
        // Only this run's events (the triggers starting in the background announce themselves too).
        let events: Vec<Value> =
            seen.lock().unwrap().iter().filter(|e| e["kind"] == "run" || e["kind"] == "nodeData").cloned().collect();
        let kinds: Vec<String> = events
            .iter()
            .map(|e| {
                if e["kind"] == "run" {
                    e["event"]["type"].as_str().unwrap().to_string()
                } else {
                    e["kind"].as_str().unwrap().to_string()
                }
            })
            .collect();
        assert_eq!(kinds, ["runStarted", "nodeStarted", "nodeData", "nodeFinished", "runFinished"]);
        assert_eq!(events[0]["event"]["executionId"], result["executionId"]);
    }

    /// A webview showing untrusted content once could read or overwrite any file by naming
    /// it in `workflow_import_file` or `workflow_export`. Now only paths the user chose in
    /// this shell's dialogs or dropped on the window are used.
    #[test]
    fn the_webview_reads_and_writes_only_paths_the_user_chose() {
        let dir = tempfile::tempdir().unwrap();
        let (app, window) = app(dir.path());
        let created = invoke(&window, "workflow_create", json!({"name": "Exported"})).unwrap();
        let id = created["workflow"]["id"].clone();
        let target = dir.path().join("elsewhere.json");
        let path = target.display().to_string();
        std::fs::write(&target, "precious").unwrap();

        let refused = invoke(&window, "workflow_export", json!({"id": id, "path": path})).unwrap_err();
        assert_eq!(refused["code"], "bad_request");
        assert!(refused["message"].as_str().unwrap().contains("was not chosen in a file dialog"), "{refused}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious", "nothing was written");
        let refused = invoke(&window, "workflow_import_file", json!({"path": "/etc/passwd"})).unwrap_err();
        assert!(refused["message"].as_str().unwrap().contains("/etc/passwd was not chosen"), "{refused}");

        // What the user chose (here: dropped on the window) is fine.
        app.state::<Api>().grant_path(&target);
        invoke(&window, "workflow_export", json!({"id": id, "path": path})).unwrap();
        assert!(std::fs::read_to_string(&target).unwrap().contains("\"Exported\""));
        let imported = invoke(&window, "workflow_import_file", json!({"path": path})).unwrap();
        assert_eq!(imported["record"]["untrusted"], path);
    }

    #[test]
    fn the_data_dir_comes_from_the_command_line() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>().into_iter();
        assert_eq!(data_dir_argument(args(&["app", "--data-dir", "/x"])), Some(PathBuf::from("/x")));
        assert_eq!(data_dir_argument(args(&["app", "--data-dir=/y"])), Some(PathBuf::from("/y")));
        assert_eq!(data_dir_argument(args(&["app"])), None);
        let cwd = std::path::Path::new("/home/me");
        assert_eq!(
            opened_files(args(&["app", "--data-dir", "/x", "--hidden", "a.switchyard.json", "/tmp/b.json"]), cwd),
            [PathBuf::from("/home/me/a.switchyard.json"), PathBuf::from("/tmp/b.json")]
        );
        assert_eq!(opened_files(args(&["app", "--data-dir=/y"]), cwd), Vec::<PathBuf>::new());
    }
}
