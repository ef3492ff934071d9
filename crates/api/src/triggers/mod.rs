//! Serving active workflows: the triggers' state, starting and stopping the webhook
//! listener and the scheduler, reloading what active workflows ask for, activation, and a
//! graceful stop. What each trigger node serves comes from its registry entry
//! ([`switchyard_engine::trigger::Trigger`]): this module only wires listener and scheduler
//! to the registry and to runs.
//!
//! - [`webhooks`]: endpoints from webhook nodes, the delivery log, and deliveries becoming runs;
//! - [`testing`]: the editor's test listening and its sample requests;
//! - [`schedules`]: schedules from schedule nodes and fires becoming runs;
//! - `folders`: folder watches; `listens`: triggers that hold a connection open.

mod folders;
pub(crate) mod leader;
mod listens;
pub(crate) mod schedules;
pub(crate) mod testing;
pub(crate) mod webhooks;

use schedules::{Scheduled, SchedulerHost};
use schemars::JsonSchema;
use testing::TestHook;
use webhooks::{WebhookHost, webhook_nodes};

use crate::error::{ApiError, ApiResult};
use crate::types::*;
use crate::{Api, Inner};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use switchyard_engine::trigger::Trigger;
use switchyard_model::records::WorkflowRecord;
use switchyard_triggers::listener::{Listener, Target};
use switchyard_triggers::scheduler::{Fire, Schedule, Scheduler};
use ts_rs::TS;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowActivateRequest {
    pub id: String,
    pub active: bool,
}

/// The webhook listener as it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListenerStatus {
    pub running: bool,
    /// host:port it listens on (or would).
    pub address: String,
    /// `http://host:port`, the start of every webhook URL.
    pub base_url: String,
    /// Why it is not running (port taken, …).
    #[ts(optional)]
    pub error: Option<String>,
    /// Whether it listens beyond this computer (a bind address other than loopback).
    pub exposed: bool,
    pub active_workflows: u32,
    pub schedules: u32,
}

/// The Retry-After of a webhook answered 503 because the run queue is full.
pub const QUEUE_RETRY_AFTER_SECONDS: u32 = 5;

/// How long requests in progress may take to be answered when the listener stops or moves.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// How long the editor listens for a test event.
pub const TEST_SECONDS: u32 = 120;

/// The triggers' running parts.
#[derive(Default)]
pub(crate) struct TriggerState {
    listener: Mutex<Option<Listener>>,
    scheduler: Mutex<Option<Scheduler>>,
    /// Whether this process fires the schedules, among several sharing a PostgreSQL store.
    pub(crate) coordination: leader::Coordination,
    watcher: Mutex<Option<Arc<switchyard_triggers::watcher::Watcher>>>,
    listens: listens::Listens,
    status: Mutex<Option<ListenerStatus>>,
    pub(crate) problems: Mutex<Vec<String>>,
    /// Workflows the editor listens for: their test endpoints and a generation number, so
    /// an expiry timer only removes the listening it started.
    tests: Mutex<HashMap<String, (u64, Vec<TestHook>)>>,
    test_generation: std::sync::atomic::AtomicU64,
    /// Reloads one at a time.
    reload: tokio::sync::Mutex<()>,
    /// Keys of accepted signed deliveries (replay protection), kept across listener
    /// restarts and, through the store, across app restarts.
    replay: switchyard_triggers::replay::ReplayGuard,
    replay_loaded: std::sync::atomic::AtomicBool,
    /// Refused requests logged this second, per endpoint: past [`REFUSED_LOGGED_PER_SECOND`]
    /// they are only counted (metrics), so a flood of bad requests cannot fill the log.
    refused: Mutex<HashMap<(String, String), (u64, u32)>>,
}

/// Refused requests per endpoint and second that get a row in the delivery log.
pub const REFUSED_LOGGED_PER_SECOND: u32 = 10;

/// The socket address of a bind setting: an IP address (IPv6 with or without brackets) or
/// `localhost`; `None` for anything else. Written back, IPv6 gets its brackets ([::1]:5680).
fn bind_address(bind: &str, port: u16) -> Option<SocketAddr> {
    let bind = bind.trim();
    let host = if bind == "localhost" { "127.0.0.1" } else { bind.trim_start_matches('[').trim_end_matches(']') };
    host.parse::<std::net::IpAddr>().ok().map(|ip| SocketAddr::new(ip, port))
}

/// Puts the settings' limits and allowed host names into force on a running listener.
fn configure(listener: &Listener, settings: &AppSettings) {
    listener.set_body_limit(settings.webhook_max_body_bytes as usize);
    listener.set_body_deadline(Duration::from_secs(u64::from(settings.webhook_body_timeout_seconds)));
    listener.set_allowed_hosts(settings.webhook_allowed_hosts.clone());
}

fn is_loopback(bind: &str) -> bool {
    bind.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback()) || bind == "localhost"
}

impl Inner {
    /// What keeps active workflows' triggers from being served, and connections that are
    /// down.
    pub(crate) fn trigger_problems(&self) -> Vec<String> {
        let mut problems = self.triggers.problems.lock().unwrap_or_else(|p| p.into_inner()).clone();
        problems.extend(self.triggers.listens.problems());
        problems
    }

    /// Whether [`Api::start_triggers`] was called (and not stopped).
    pub(crate) fn triggers_running(&self) -> bool {
        self.triggers.scheduler.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }
}

impl Api {
    fn upgrade(inner: &Weak<Inner>) -> Option<Api> {
        inner.upgrade().map(|inner| Api { inner })
    }

    pub(crate) fn listener_status(&self) -> ListenerStatus {
        let stored = self.inner.triggers.status.lock().unwrap_or_else(|p| p.into_inner()).clone();
        stored.unwrap_or_else(|| {
            let settings = self.stored_settings();
            let address = bind_address(&settings.webhook_bind, settings.webhook_port).map_or_else(
                || format!("{}:{}", settings.webhook_bind.trim(), settings.webhook_port),
                |a| a.to_string(),
            );
            ListenerStatus {
                running: false,
                base_url: format!("http://{address}"),
                address,
                error: None,
                exposed: !is_loopback(&settings.webhook_bind),
                active_workflows: 0,
                schedules: 0,
            }
        })
    }

    /// Starts the webhook listener (on the settings' bind address and port) and the
    /// scheduler, and serves the active workflows. A port that is taken is reported in the
    /// status, not as an error: schedules still run.
    pub async fn start_triggers(&self) -> ApiResult<ListenerStatus> {
        self.start_triggers_on(None, None).await
    }

    /// [`Api::start_triggers`] on another bind address or port than the settings' (for
    /// `switchyard serve --bind/--port`; the settings are not changed).
    pub async fn start_triggers_on(&self, bind: Option<String>, port: Option<u16>) -> ApiResult<ListenerStatus> {
        self.stop_triggers().await;
        self.load_replay_keys().await;
        let mut settings = self.settings_get(Empty {}).await?;
        if let Some(bind) = bind {
            settings.webhook_bind = bind;
        }
        if let Some(port) = port {
            settings.webhook_port = port;
        }
        let bind = settings.webhook_bind.trim().to_string();
        let exposed = !is_loopback(&bind);
        if exposed {
            tracing::warn!(bind = %bind, "the webhook listener is bound beyond this computer: other machines can call its webhooks");
        }
        let target: Arc<dyn Target> = Arc::new(WebhookHost(Arc::downgrade(&self.inner)));
        let rest_rate = *self.inner.rest_rate.lock().unwrap_or_else(|p| p.into_inner());
        let parsed = bind_address(&bind, settings.webhook_port);
        let wanted = parsed.map_or_else(|| format!("{bind}:{}", settings.webhook_port), |a| a.to_string());
        let (running, address, error) = match parsed {
            None => (false, wanted.clone(), Some(format!("webhookBind: \"{bind}\" is not an IP address"))),
            Some(addr) => match Listener::bind_serving(
                addr,
                target,
                settings.webhook_max_connections as usize,
                rest_rate.map(|rate| crate::rest::router(Arc::downgrade(&self.inner), rate)),
            )
            .await
            {
                Ok(listener) => {
                    let address = listener.local_addr().to_string();
                    configure(&listener, &settings);
                    *self.inner.triggers.listener.lock().unwrap_or_else(|p| p.into_inner()) = Some(listener);
                    (true, address, None)
                }
                Err(e) => (false, wanted.clone(), Some(format!("cannot listen on {wanted}: {e}"))),
            },
        };
        if let Some(e) = &error {
            tracing::error!("{e}");
        }
        let reachable = address.replacen("0.0.0.0:", "127.0.0.1:", 1).replacen("[::]:", "[::1]:", 1);
        *self.inner.triggers.status.lock().unwrap_or_else(|p| p.into_inner()) = Some(ListenerStatus {
            running,
            base_url: format!("http://{reachable}"),
            address,
            error,
            exposed,
            active_workflows: 0,
            schedules: 0,
        });
        let fire: Arc<dyn Fire> = Arc::new(SchedulerHost(Arc::downgrade(&self.inner)));
        *self.inner.triggers.scheduler.lock().unwrap_or_else(|p| p.into_inner()) = Some(Scheduler::start(fire));
        let host: Arc<dyn switchyard_triggers::watcher::WatchHost> =
            Arc::new(folders::WatcherHost(Arc::downgrade(&self.inner)));
        *self.inner.triggers.watcher.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(Arc::new(switchyard_triggers::watcher::Watcher::new(host)));
        self.start_coordination().await;
        self.reload_triggers().await;
        // Runs a crash interrupted, of workflows that want them run again (claimed first: once).
        // A main with a queue leaves that to the queue, which delivers them again.
        let rerun = if self.remote().is_some() { Ok(0) } else { self.rerun_interrupted().await };
        match rerun {
            Ok(0) => {}
            Ok(n) => tracing::info!("re-running {n} run(s) a crash interrupted"),
            Err(e) => tracing::warn!("cannot look for interrupted runs to re-run: {}", e.message),
        }
        Ok(self.listener_status())
    }

    /// Stops the listener (requests in progress get [`STOP_GRACE`] to be answered) and the
    /// scheduler.
    pub async fn stop_triggers(&self) {
        self.stop_triggers_within(STOP_GRACE).await
    }

    /// Stops the listener, giving requests in progress up to `grace` to be answered (then
    /// their connections are dropped; the runs they started go on), and the scheduler.
    pub async fn stop_triggers_within(&self, grace: Duration) {
        let listener = self.inner.triggers.listener.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(listener) = listener {
            listener.shutdown(grace).await;
        }
        if let Some(watcher) = self.inner.triggers.watcher.lock().unwrap_or_else(|p| p.into_inner()).take() {
            watcher.stop();
        }
        self.inner.triggers.listens.stop();
        self.inner.triggers.coordination.stop();
        let scheduler = self.inner.triggers.scheduler.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(scheduler) = scheduler {
            scheduler.shutdown().await;
        }
        if let Some(status) = self.inner.triggers.status.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            status.running = false;
        }
    }

    /// Waits up to `grace` for runs in progress to finish, cancels those still going (and
    /// waits for them to record it), and flushes the history: nothing is lost on shutdown.
    pub async fn drain(&self, grace: Duration) -> ApiResult<()> {
        let running = || self.inner.runs.lock().unwrap_or_else(|p| p.into_inner()).len();
        let deadline = tokio::time::Instant::now() + grace;
        while running() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if running() > 0 {
            let tokens: Vec<_> =
                self.inner.runs.lock().unwrap_or_else(|p| p.into_inner()).values().map(|r| r.cancel.clone()).collect();
            tracing::warn!(runs = tokens.len(), "cancelling the runs still going at shutdown");
            tokens.iter().for_each(|t| t.cancel());
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while running() > 0 && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        self.flush_history().await
    }

    /// Serves what the active workflows ask for now. Called after anything that changes it.
    pub(crate) async fn reload_triggers(&self) {
        let _one_at_a_time = self.inner.triggers.reload.lock().await;
        if !self.inner.triggers_running() {
            return;
        }
        let settings = self.stored_settings();
        let active = self.blocking(|store| Ok(store.workflows().records(true)?)).await.unwrap_or_else(|e| {
            tracing::error!("cannot read the active workflows: {}", e.message);
            Vec::new()
        });
        let services = self.run_services(&settings);
        let (mut endpoints, mut schedules, mut problems) = (Vec::new(), Vec::new(), Vec::new());
        let (mut watches, mut listens) = (Vec::new(), Vec::new());
        for record in &active {
            let name = record.workflow.name.clone();
            // Activation refuses untrusted workflows that use accounts or reach this machine,
            // and trusted ones that reach beyond what was approved; one that got active anyway
            // (edits can add both) is not served. An untrusted one that uses neither is
            // served with a credential provider and a local policy that refuse.
            let services =
                match self.trusted_services(&record.workflow, &crate::RunSource::Saved, services.clone()).await {
                    Ok(services) => services,
                    Err(e) => {
                        problems.push(format!("workflow \"{name}\" is not served until you trust it: {}", e.message));
                        continue;
                    }
                };
            let prepared = match self.inner.engine.prepare(record.workflow.clone()) {
                Ok(p) => p,
                Err(issues) => {
                    let first = issues.first().map(|i| i.render("")).unwrap_or_default();
                    problems.push(format!("workflow \"{name}\" is not valid and is not served: {first}"));
                    continue;
                }
            };
            let mut schedule_nodes = Vec::new();
            for node in &record.workflow.nodes {
                match self.inner.engine.registry().trigger_of(node) {
                    Some(Trigger::Webhook { .. }) => match self.endpoint(&prepared, node, &services, false).await {
                        Ok(e) => endpoints.push(e),
                        Err(e) => problems.push(format!("workflow \"{name}\", node \"{}\": {e}", node.name)),
                    },
                    Some(Trigger::Schedule { config, item }) => match config(node) {
                        Ok(config) => {
                            schedule_nodes.push(node.id.clone());
                            schedules.push(Schedule {
                                workflow_id: record.workflow.id.clone(),
                                node_id: node.id.clone(),
                                rule: config.rule,
                                missed: config.missed,
                                attachment: Arc::new(Scheduled {
                                    item,
                                    prepared: prepared.clone(),
                                    node_id: node.id.clone(),
                                    services: services.clone(),
                                }),
                            });
                        }
                        Err(e) => problems.push(format!("workflow \"{name}\", node \"{}\": {e}", node.name)),
                    },
                    Some(Trigger::Folder { config, item }) => {
                        // The folder is checked as Read Files checks a path: allowed folders,
                        // and for an imported workflow what the user approved.
                        let checked = config(node).and_then(|c| {
                            services
                                .local
                                .check_path(switchyard_engine::access::AccessKind::Read, &c.folder.to_string_lossy())
                                .map(|folder| switchyard_core::folder::FolderConfig { folder, ..c })
                                .map_err(|e| e.message)
                        });
                        match checked {
                            Ok(config) => watches.push(switchyard_triggers::watcher::Watch {
                                workflow_id: record.workflow.id.clone(),
                                node_id: node.id.clone(),
                                config,
                                attachment: Arc::new(folders::Watched {
                                    item,
                                    prepared: prepared.clone(),
                                    node_id: node.id.clone(),
                                    services: services.clone(),
                                }),
                            }),
                            Err(e) => problems.push(format!("workflow \"{name}\", node \"{}\": {e}", node.name)),
                        }
                    }
                    Some(Trigger::Listen { check, serve }) => match check(node) {
                        Ok(()) => listens.push(listens::Wanted {
                            prepared: prepared.clone(),
                            node: node.clone(),
                            services: services.clone(),
                            serve,
                        }),
                        Err(e) => problems.push(format!("workflow \"{name}\", node \"{}\": {e}", node.name)),
                    },
                    _ => {}
                }
            }
            let id = record.workflow.id.clone();
            if let Err(e) =
                self.blocking(move |store| Ok(store.triggers().retain_schedules(&id, &schedule_nodes)?)).await
            {
                tracing::warn!("cannot tidy the schedule state: {}", e.message);
            }
        }
        let watcher = self.inner.triggers.watcher.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(watcher) = watcher {
            problems.extend(watcher.set(watches));
        }
        // Among several processes on one PostgreSQL store, only the lease holder fires the
        // schedules and polls (see leader.rs); every one serves the webhooks.
        if !self.inner.triggers.coordination.is_leader() {
            schedules.clear();
            listens.clear();
        }
        self.inner.triggers.listens.set(&Arc::downgrade(&self.inner), listens);
        for p in &problems {
            tracing::warn!("{p}");
        }
        let schedule_count = schedules.len() as u32;
        if let Some(listener) = self.inner.triggers.listener.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            configure(listener, &settings);
            listener.set_endpoints(endpoints);
        }
        let armed =
            self.inner.triggers.scheduler.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|s| s.set(schedules));
        if let Some(armed) = armed {
            let _ = armed.await;
        }
        if let Some(status) = self.inner.triggers.status.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            status.active_workflows = active.len() as u32;
            status.schedules = schedule_count;
        }
        *self.inner.triggers.problems.lock().unwrap_or_else(|p| p.into_inner()) = problems;
        self.inner.host.emit(ApiEvent::Triggers {});
    }

    /// Reloads in the background when the triggers run (after a save, an account change…).
    pub(crate) fn triggers_changed(&self) {
        if !self.inner.triggers_running() {
            return;
        }
        let api = self.clone();
        tokio::spawn(async move { api.reload_triggers().await });
    }

    /// Whether any workflow is served (the desktop app then stays in the tray).
    pub fn has_active_triggers(&self) -> bool {
        self.inner
            .triggers
            .status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|s| s.active_workflows > 0)
    }

    /// Pauses every active workflow (the tray's "Pause all").
    pub async fn pause_all(&self) -> ApiResult<u32> {
        let now = self.now();
        let paused = self
            .blocking(move |store| {
                let mut n = 0;
                for summary in store.workflows().list(None)?.into_iter().filter(|w| w.active) {
                    store.workflows().set_active(&summary.id, false, &now)?;
                    n += 1;
                }
                Ok(n)
            })
            .await?;
        self.reload_triggers().await;
        Ok(paused)
    }

    // ---- commands ----

    pub async fn workflow_activate(&self, request: WorkflowActivateRequest) -> ApiResult<WorkflowRecord> {
        let id = request.id.clone();
        let record = self.blocking(move |store| Ok(store.workflows().get(&id)?)).await?;
        if request.active {
            let wf = &record.workflow;
            let issues = self.inner.engine.validate(wf);
            if !issues.is_empty() {
                return Err(ApiError::invalid(issues, ""));
            }
            let registry = self.inner.engine.registry();
            if !wf.nodes.iter().any(|n| {
                matches!(
                    registry.trigger_of(n),
                    Some(
                        Trigger::Webhook { .. }
                            | Trigger::Schedule { .. }
                            | Trigger::Folder { .. }
                            | Trigger::Listen { .. }
                    )
                )
            }) {
                return Err(ApiError::bad_request(format!(
                    "workflow \"{}\" has no trigger that starts runs by itself (Webhook, Schedule, Folder, \
                     Postgres or Email): activating it would start nothing",
                    wf.name
                )));
            }
            let services = self.run_services(&self.stored_settings());
            let services = self.trusted_services(wf, &crate::RunSource::Saved, services).await?;
            let prepared = self.inner.engine.prepare(wf.clone()).map_err(|issues| ApiError::invalid(issues, ""))?;
            for (node, _) in webhook_nodes(&self.inner.engine, wf) {
                self.endpoint(&prepared, node, &services, false)
                    .await
                    .map_err(|e| ApiError::bad_request(format!("node \"{}\": {e}", node.name)))?;
            }
        }
        let now = self.now();
        let id = request.id.clone();
        let active = request.active;
        self.blocking(move |store| Ok(store.workflows().set_active(&id, active, &now)?)).await?;
        self.reload_triggers().await;
        if active {
            for warning in crate::workflows::pinned_warnings(&record.workflow) {
                self.inner.host.emit(ApiEvent::Notice { level: "warning".into(), message: warning.message });
            }
        }
        let id = request.id;
        self.blocking(move |store| Ok(store.workflows().get(&id)?)).await
    }
}
