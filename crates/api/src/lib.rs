//! Switchyard's one API surface. The desktop shell forwards every command to
//! [`Api::dispatch`]; the CLI calls the same handlers directly. Lower crates never depend on
//! this one.

mod alerts;
mod backups;
mod binary;
mod calls;
mod cluster;
mod conversations;
mod credentials;
pub mod deploy;
pub mod docs;
mod error;
mod executions;
pub mod files;
mod help;
pub mod logging;
mod manifest;
mod metrics;
mod openapi;
mod orchestrations;
mod preview;
mod queue;
pub mod rest;
mod retry;
mod runs;
mod settings;
mod templates;
pub mod tokens;
mod triggers;
mod trust;
pub mod types;
mod updates;
mod versions;
mod workflows;

pub use cluster::hostname;
pub use error::{ApiError, ApiResult};
pub use manifest::{COMMANDS, export_typescript};
pub use queue::{QueueStatus, REPLY_WAIT, WorkerOptions, WorkerReport, queue_status, queue_url_redacted};
pub use switchyard_core::memory::prefer_small_pages;
pub use switchyard_queue::QueueConfig;
pub use trust::RunSource;

use futures::future::BoxFuture;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use switchyard_engine::binary::Blobs;
use switchyard_engine::{Engine, Registry, Services};
use switchyard_model::error::ErrorCode;
use switchyard_store::{Location, Store};
use switchyard_vault::{Vault, VaultOptions};
use tokio_util::sync::CancellationToken;
use types::{ApiEvent, AppInfo, Empty, LinkOpenRequest, UpdateOffer};
pub use updates::Installed;

/// What the API needs from whoever hosts it (the desktop shell, the CLI, a test).
pub trait Host: Send + Sync + 'static {
    /// Delivers an event to the user interface. Called from run tasks: must not block.
    fn emit(&self, event: ApiEvent);

    /// Whether this host shows runs as they happen ([`ApiEvent::Run`] and
    /// [`ApiEvent::NodeData`]): one without a window drops them, and runs then do not make
    /// them for it (a copy of every node's data per run, under load).
    fn shows_runs(&self) -> bool {
        true
    }

    /// Opens a URL in the user's browser (OAuth2 sign-in).
    fn open_url(&self, url: &str) -> Result<(), String> {
        switchyard_vault::open_in_browser(url)
    }

    /// Shows a desktop notification (alerts). Hosts without a desktop say why not.
    fn notify(&self, _title: &str, _body: &str) -> Result<String, String> {
        Err("desktop notifications are shown by the desktop app".into())
    }

    /// Starts the app when the user logs in (or stops doing so). Only the desktop app can.
    fn set_start_at_login(&self, _on: bool) -> Result<(), String> {
        Err("only the desktop app can start at login".into())
    }

    /// Whether file paths in requests must have been granted first (see [`Api::grant_path`]):
    /// true for a host whose requests come from a webview, which may show untrusted content;
    /// false for the CLI, whose paths the user typed.
    fn restricts_paths(&self) -> bool {
        false
    }

    /// Asks the user for a workflow file in the OS's dialog: one to open, or (with
    /// `save_as`, the suggested name) one to write. None when the user cancelled.
    fn choose_path(&self, _save_as: Option<&str>) -> Result<Option<String>, String> {
        Err("file dialogs are shown by the desktop app".into())
    }

    /// Asks the user where to save a file of any type (an item's file), suggesting `name`.
    fn choose_save_path(&self, _name: &str) -> Result<Option<String>, String> {
        Err("file dialogs are shown by the desktop app".into())
    }

    /// Asks the update server at `url` for a version newer than this one, and remembers the
    /// offer for [`Host::install_update`].
    fn check_update(&self, _url: String) -> BoxFuture<'static, ApiResult<Option<UpdateOffer>>> {
        Box::pin(async { Err(ApiError::bad_request(NOT_UPDATED_HERE)) })
    }

    /// Downloads the offered `version`, verifies its signature and installs it. Nothing is
    /// replaced when any step fails.
    fn install_update(&self, _version: String) -> BoxFuture<'static, ApiResult<updates::Installed>> {
        Box::pin(async { Err(ApiError::bad_request(NOT_UPDATED_HERE)) })
    }

    /// Restarts the app (to run an installed update).
    fn restart(&self) -> Result<(), String> {
        Err("only the desktop app restarts itself".into())
    }
}

/// Why a host without a desktop does not update: the CLI and `serve` come with the app's
/// package and are updated with it (or by the system's package manager).
const NOT_UPDATED_HERE: &str =
    "only the desktop app updates itself; the command-line tool is updated with the app's package";

/// A host that drops events (for scripts and tests that only need results).
#[derive(Debug, Default)]
pub struct SilentHost;

impl Host for SilentHost {
    fn emit(&self, _event: ApiEvent) {}

    fn shows_runs(&self) -> bool {
        false
    }
}

pub(crate) struct Inner {
    pub(crate) host: Arc<dyn Host>,
    pub(crate) store: Store,
    pub(crate) engine: Engine,
    pub(crate) vault: switchyard_vault::Vault,
    pub(crate) data_dir: PathBuf,
    /// Runs in progress in this process, by execution id.
    pub(crate) runs: Mutex<HashMap<String, RunEntry>>,
    pub(crate) last_prune: Mutex<Option<std::time::Instant>>,
    pub(crate) triggers: triggers::TriggerState,
    /// Paths the user chose in a file dialog or dropped on the window in this session: the
    /// only ones a path-restricting host's requests may read or write.
    pub(crate) granted_paths: Mutex<std::collections::HashSet<PathBuf>>,
    /// Files opened with the app that the UI has not taken yet (see [`Api::request_open`]).
    pub(crate) open_requests: Mutex<Vec<String>>,
    /// The live metrics, the run queue's slots and the alert checker's state.
    pub(crate) metrics: metrics::MetricsState,
    /// The concurrency limit runs wait for, and the runs waiting.
    pub(crate) queue: runs::RunQueue,
    /// Requests per second per token, when the webhook listener also serves the REST API
    /// (`switchyard serve`); `None` in the desktop app.
    pub(crate) rest_rate: Mutex<Option<u32>>,
    /// The run queue, when this process is a main of server mode (`serve --queue`).
    pub(crate) remote: std::sync::OnceLock<Arc<queue::Remote>>,
}

/// The API: cheap to clone, safe to share.
#[derive(Clone)]
pub struct Api {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").field("data_dir", &self.inner.data_dir).finish()
    }
}

impl Api {
    /// Opens the API on a data folder with the built-in node types and system services.
    pub fn open(data_dir: &Path, host: Arc<dyn Host>) -> ApiResult<Api> {
        Api::open_with(data_dir, host, Services::system())
    }

    /// Opens the API with injected services (clock, HTTP client), as tests do.
    pub fn open_with(data_dir: &Path, host: Arc<dyn Host>, services: Services) -> ApiResult<Api> {
        let vault = VaultOptions::system(services.clock.clone());
        Api::open_custom(data_dir, host, services, vault)
    }

    /// Opens the API with injected services and vault options (keyring, OAuth2 client).
    /// The browser opener is always the host's.
    pub fn open_custom(
        data_dir: &Path,
        host: Arc<dyn Host>,
        services: Services,
        vault_options: VaultOptions,
    ) -> ApiResult<Api> {
        Api::open_custom_at(data_dir, None, host, services, vault_options)
    }

    /// Opens the API on the store at `database` (server mode's PostgreSQL; `None`: the data
    /// folder's SQLite file). The data folder still holds items' files and the log.
    pub fn open_at(data_dir: &Path, database: Option<&Location>, host: Arc<dyn Host>) -> ApiResult<Api> {
        let services = Services::system();
        let vault = VaultOptions::system(services.clock.clone());
        Api::open_custom_at(data_dir, database, host, services, vault)
    }

    /// [`Api::open_custom`] on the store at `database`.
    pub fn open_custom_at(
        data_dir: &Path,
        database: Option<&Location>,
        host: Arc<dyn Host>,
        services: Services,
        mut vault_options: VaultOptions,
    ) -> ApiResult<Api> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            ApiError::new(ErrorCode::Io, format!("cannot create the data folder {}: {e}", data_dir.display()))
        })?;
        let store = match database {
            Some(location) => Store::open_at(location)?,
            None => Store::open_in(data_dir)?,
        };
        let opener = host.clone();
        vault_options.open_url = Arc::new(move |url| opener.open_url(url));
        let listener = host.clone();
        vault_options.on_change = Arc::new(move |id| listener.emit(ApiEvent::Account { id: id.to_string() }));
        let vault = Vault::new(store.clone(), vault_options);
        let mut services = services.with_credentials(Arc::new(vault.clone()));
        // Items' files live in the data folder, beside the database that refers to them.
        services.blobs = Blobs::new(
            Arc::new(switchyard_core::blobs::BlobStore::new(data_dir.join("blobs"))),
            switchyard_engine::binary::DEFAULT_RUN_QUOTA,
        );
        let engine = Engine::new(Registry::builtin(), services);
        let api = Api {
            inner: Arc::new(Inner {
                host,
                store,
                engine,
                vault,
                data_dir: data_dir.to_path_buf(),
                runs: Mutex::new(HashMap::new()),
                last_prune: Mutex::new(None),
                granted_paths: Mutex::new(std::collections::HashSet::new()),
                open_requests: Mutex::new(Vec::new()),
                triggers: triggers::TriggerState::default(),
                metrics: metrics::MetricsState::start(),
                queue: runs::RunQueue::default(),
                rest_rate: Mutex::new(None),
                remote: std::sync::OnceLock::new(),
            }),
        };
        api.apply_resilience(&api.stored_settings());
        api.inner.store.metrics().seed_rules(&switchyard_metrics::alerts::presets())?;
        Ok(api)
    }

    /// Starts the background work of a long-running host (the desktop app, `serve`):
    /// refreshing OAuth2 tokens before they expire, writing metrics rollups and checking
    /// alert rules. Call it inside the async runtime; the work goes on (until the API is
    /// dropped) whether or not the handles are kept.
    pub fn start_background(&self) -> Vec<tokio::task::JoinHandle<()>> {
        vec![
            self.inner.vault.spawn_refresher(std::time::Duration::from_secs(60)),
            self.spawn_metrics_tasks(),
            self.spawn_backup_task(),
            self.spawn_update_task(),
        ]
    }

    /// A worker's background work: OAuth2 refresh ahead of expiry, and its metrics written
    /// into the shared store (where the dashboard and Prometheus add every process's up).
    pub fn start_worker_background(&self) -> Vec<tokio::task::JoinHandle<()>> {
        vec![self.inner.vault.spawn_refresher(std::time::Duration::from_secs(60)), self.spawn_metrics_tasks()]
    }

    /// Makes the webhook listener also serve the REST API under `/api/v1` (for `serve`),
    /// allowing each API token `per_second` requests per second. Takes effect when the
    /// triggers start.
    pub fn serve_rest_api(&self, per_second: u32) {
        *self.inner.rest_rate.lock().unwrap_or_else(|p| p.into_inner()) = Some(per_second);
    }

    /// Now, in Unix milliseconds, on the injected clock.
    pub(crate) fn now_ms(&self) -> i64 {
        self.inner.engine.services().clock.now().timestamp_millis()
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The current time from the engine's clock, as stored.
    pub(crate) fn now(&self) -> String {
        switchyard_engine::clock::rfc3339(self.inner.engine.services().clock.now())
    }

    pub async fn app_info(&self, _: Empty) -> ApiResult<AppInfo> {
        Ok(AppInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            data_dir: self.inner.data_dir.display().to_string(),
            database_path: self.inner.store.location().to_string(),
            node_types: self.inner.engine.registry().descriptors().len() as u32,
        })
    }

    /// Opens a web or mail link in the user's browser or mail program. Only http, https and
    /// mailto: a link in a shared workflow must not start programs or open local files.
    pub async fn link_open(&self, request: LinkOpenRequest) -> ApiResult<Empty> {
        let shown: String = request.url.chars().take(200).collect();
        let url = reqwest::Url::parse(request.url.trim())
            .map_err(|e| ApiError::bad_request(format!("url: \"{shown}\" is not a link: {e}")))?;
        if !matches!(url.scheme(), "http" | "https" | "mailto") {
            return Err(ApiError::bad_request(format!(
                "url: only http, https and mailto links open from the app, not {}: (\"{shown}\")",
                url.scheme()
            )));
        }
        self.inner
            .host
            .open_url(url.as_str())
            .map_err(|e| ApiError::new(ErrorCode::Internal, format!("cannot open {url}: {e}")))?;
        Ok(Empty {})
    }

    /// Runs blocking store work off the async runtime.
    pub(crate) async fn blocking<T, F>(&self, work: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> ApiResult<T> + Send + 'static,
    {
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || work(&store)).await.map_err(|e| {
            if e.is_cancelled() {
                // The runtime is shutting down (the command line's run ended) before the work
                // began: nothing was done.
                ApiError::new(ErrorCode::Cancelled, "a storage task was not run: the process is ending")
            } else {
                ApiError::new(ErrorCode::Internal, format!("a storage task failed: {e}"))
            }
        })?
    }
}

/// A random token of 256 bits, as 64 hex digits (bearer tokens the app makes).
pub(crate) fn secret_token() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

/// A run in progress: its workflow, how to cancel it, and its breakpoints' control when it
/// was started with breakpoints.
#[derive(Clone)]
pub(crate) struct RunEntry {
    pub(crate) workflow_id: Arc<str>,
    pub(crate) cancel: CancellationToken,
    pub(crate) debug: Option<switchyard_engine::DebugControl>,
}

/// The stack of the runtime's threads. Expressions run on them, and the script engine copies
/// and drops nested values recursively: an imported workflow whose expression nests arrays
/// 20,000 deep overflowed the default 2 MiB and aborted the process. Only what is touched is
/// used; the rest is address space.
pub const THREAD_STACK: usize = 256 * 1024 * 1024;

/// The multi-threaded tokio runtime the CLI and the desktop app run on.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(THREAD_STACK).build()
}
