//! Serving active workflows: the webhook listener's endpoints, the scheduler's schedules,
//! test listening from the editor, the delivery log, and a graceful stop.

use crate::error::{ApiError, ApiResult};
use crate::types::*;
use crate::{Api, Inner};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use switchyard_engine::trigger::{Response, ScheduleFire, Trigger, WebhookConfig, WebhookRequest};
use switchyard_engine::{CredentialProvider, Prepared, ReplySlot, Services};
use switchyard_model::error::ErrorCode;
use switchyard_model::execution::{RunMode, RunStatus};
use switchyard_model::ids::new_id;
use switchyard_model::records::WorkflowRecord;
use switchyard_model::webhook::{Delivery, ScheduleState, Verification, WebhookEndpoint, WebhookReply};
use switchyard_model::workflow::Node;
use switchyard_triggers::listener::{Answer, DeliveryRecord, Endpoint, Incoming, Listener, SignatureCheck, Target};
use switchyard_triggers::scheduler::{Fire, Schedule, Scheduler, Stored};

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

#[derive(Clone)]
struct TestHook {
    prepared: Arc<Prepared>,
    node: Node,
}

/// What an endpoint needs to start its run.
struct Hook {
    prepared: Arc<Prepared>,
    node_id: String,
    response: Response,
    /// The webhook node's type: it makes the run's item from the request.
    item: fn(WebhookRequest) -> switchyard_model::item::Item,
    services: Services,
    test: bool,
}

struct Scheduled {
    /// The schedule node's type: it makes the run's item from the fire.
    item: fn(ScheduleFire) -> switchyard_model::item::Item,
    prepared: Arc<Prepared>,
    node_id: String,
    services: Services,
}

/// The webhook nodes of a workflow, each with how its type says to serve it.
fn webhooks<'a>(
    engine: &'a switchyard_engine::Engine,
    workflow: &'a switchyard_model::workflow::Workflow,
) -> impl Iterator<Item = (&'a Node, Result<WebhookConfig, String>)> + 'a {
    workflow.nodes.iter().filter_map(|node| match engine.registry().trigger_of(node) {
        Some(Trigger::Webhook { config, .. }) => Some((node, config(node))),
        _ => None,
    })
}

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
        let parsed = bind_address(&bind, settings.webhook_port);
        let wanted = parsed.map_or_else(|| format!("{bind}:{}", settings.webhook_port), |a| a.to_string());
        let (running, address, error) = match parsed {
            None => (false, wanted.clone(), Some(format!("webhookBind: \"{bind}\" is not an IP address"))),
            Some(addr) => match Listener::bind_with(addr, target, settings.webhook_max_connections as usize).await {
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
        self.reload_triggers().await;
        Ok(self.listener_status())
    }

    /// Reads the unexpired replay keys back from the store, once.
    async fn load_replay_keys(&self) {
        if self.inner.triggers.replay_loaded.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let now_ms = self.inner.engine.services().clock.now().timestamp_millis();
        match self.blocking(move |store| Ok(store.triggers().replay_keys(now_ms)?)).await {
            Ok(keys) => {
                for (key, expires) in keys {
                    self.inner.triggers.replay.remember(key, expires, now_ms);
                }
            }
            Err(e) => tracing::error!("cannot read the webhook replay keys: {}", e.message),
        }
    }

    /// Forgets a delivery's replay keys: its run failed or never started, so the sender's
    /// retry must run.
    pub(crate) fn forget_delivery(&self, keys: &[String]) {
        if keys.is_empty() {
            return;
        }
        self.inner.triggers.replay.forget(keys);
        self.inner.store.log().replay_forget(keys);
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
        for record in &active {
            let name = record.workflow.name.clone();
            // Activation refuses untrusted workflows that use accounts; one that got active
            // anyway (trust is per file, edits can add accounts) is served without them.
            let services = match &record.untrusted {
                Some(source) if record.workflow.nodes.iter().any(|n| !n.credentials.is_empty()) => {
                    problems.push(format!(
                        "workflow \"{name}\" comes from {source} and is not trusted yet: it is not served until you trust it"
                    ));
                    continue;
                }
                Some(source) => crate::trust::with_untrusted_credentials(services.clone(), &name, source),
                None => services.clone(),
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

    /// A Webhook node as a listener endpoint: its methods, its signature check with the
    /// secret from the vault, and what starting its run needs.
    async fn endpoint(
        &self,
        prepared: &Arc<Prepared>,
        node: &Node,
        services: &Services,
        test: bool,
    ) -> Result<Endpoint, String> {
        let Some(Trigger::Webhook { config, item }) = self.inner.engine.registry().trigger_of(node) else {
            return Err("it is not a webhook trigger".into());
        };
        let config = config(node)?;
        let methods = config
            .methods
            .iter()
            .map(|m| m.parse().map_err(|_| format!("methods: \"{m}\" is not an HTTP method")))
            .collect::<Result<Vec<_>, _>>()?;
        let signature = match config.signature {
            None => None,
            Some(signature) => {
                let secret = self.inner.vault.secret(&signature.secret).await.map_err(|e| e.message)?;
                Some(SignatureCheck {
                    preset: signature.preset,
                    secret: secret.value.as_bytes().to_vec(),
                    id_header: signature.id_header.map(str::to_string),
                })
            }
        };
        Ok(Endpoint {
            workflow_id: prepared.workflow.id.clone(),
            node_id: node.id.clone(),
            path: config.path,
            methods,
            signature,
            keep_bodies: config.keep_bodies,
            allowed_origins: config.allowed_origins,
            attachment: Arc::new(Hook {
                prepared: prepared.clone(),
                node_id: node.id.clone(),
                response: config.response,
                item,
                services: services.clone(),
                test,
            }),
        })
    }

    async fn rebuild_test_endpoints(&self) {
        let hooks: Vec<TestHook> = self
            .inner
            .triggers
            .tests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .flat_map(|(_, hooks)| hooks.clone())
            .collect();
        let services = self.run_services(&self.stored_settings());
        let mut endpoints = Vec::new();
        for hook in hooks {
            match self.endpoint(&hook.prepared, &hook.node, &services, true).await {
                Ok(e) => endpoints.push(e),
                Err(e) => tracing::warn!("test listener for node \"{}\": {e}", hook.node.name),
            }
        }
        if let Some(listener) = self.inner.triggers.listener.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            listener.set_test_endpoints(endpoints);
        }
    }

    fn endpoint_url(base: &str, workflow_id: &str, path: &str, test: bool) -> String {
        let prefix = if test { "webhook-test" } else { "webhook" };
        let path = switchyard_model::webhook::normalize_path(path);
        if path.is_empty() {
            format!("{base}/{prefix}/{workflow_id}")
        } else {
            format!("{base}/{prefix}/{workflow_id}/{path}")
        }
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
            if !wf
                .nodes
                .iter()
                .any(|n| matches!(registry.trigger_of(n), Some(Trigger::Webhook { .. } | Trigger::Schedule { .. })))
            {
                return Err(ApiError::bad_request(format!(
                    "workflow \"{}\" has no Webhook or Schedule trigger: activating it would start nothing",
                    wf.name
                )));
            }
            let services = self.run_services(&self.stored_settings());
            let services = self.trusted_services(wf, &crate::RunSource::Saved, services).await?;
            let prepared = self.inner.engine.prepare(wf.clone()).map_err(|issues| ApiError::invalid(issues, ""))?;
            for (node, _) in webhooks(&self.inner.engine, wf) {
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
        let id = request.id;
        self.blocking(move |store| Ok(store.workflows().get(&id)?)).await
    }

    pub async fn webhook_list(&self, _: Empty) -> ApiResult<WebhookListResponse> {
        let records = self.blocking(|store| Ok(store.workflows().records(false)?)).await?;
        let listener = self.listener_status();
        let mut endpoints = Vec::new();
        let mut problems = self.inner.triggers.problems.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for record in records {
            for (node, config) in webhooks(&self.inner.engine, &record.workflow) {
                let config = match config {
                    Ok(config) => config,
                    Err(e) => {
                        // Not servable as it is: listed as a problem, with no URL.
                        let problem = format!("workflow \"{}\", node \"{}\": {e}", record.workflow.name, node.name);
                        if !problems.contains(&problem) {
                            problems.push(problem);
                        }
                        continue;
                    }
                };
                endpoints.push(WebhookEndpoint {
                    workflow_id: record.workflow.id.clone(),
                    workflow_name: record.workflow.name.clone(),
                    node_id: node.id.clone(),
                    node_name: node.name.clone(),
                    url: Api::endpoint_url(&listener.base_url, &record.workflow.id, &config.path, false),
                    path: config.path,
                    methods: config.methods,
                    active: record.active,
                    response_mode: config.response.as_str().to_string(),
                    signature: config.signature.map_or("none", |s| s.preset.name()).to_string(),
                });
            }
        }
        Ok(WebhookListResponse { endpoints, listener, problems })
    }

    pub async fn webhook_deliveries(&self, request: DeliveryListRequest) -> ApiResult<DeliveryListResponse> {
        let limit = request.limit.unwrap_or(100).clamp(1, 100_000);
        self.flush_history().await?;
        let deliveries =
            self.blocking(move |store| Ok(store.triggers().deliveries(request.workflow_id.as_deref(), limit)?)).await?;
        Ok(DeliveryListResponse { deliveries })
    }

    pub async fn webhook_listen_test(&self, request: TestListenRequest) -> ApiResult<TestListenResponse> {
        let wf = request.workflow;
        let status = self.listener_status();
        if !status.running {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                format!(
                    "the webhook listener is not running{}",
                    status.error.map(|e| format!(": {e}")).unwrap_or_default()
                ),
            ));
        }
        let prepared = self.inner.engine.prepare(wf.clone()).map_err(|issues| ApiError::invalid(issues, ""))?;
        let mut nodes = Vec::new();
        for (node, config) in webhooks(&self.inner.engine, &wf) {
            let config = config.map_err(|e| ApiError::bad_request(format!("node \"{}\": {e}", node.name)))?;
            nodes.push((node.clone(), config.path));
        }
        if nodes.is_empty() {
            return Err(ApiError::bad_request("the workflow has no Webhook trigger to listen with"));
        }
        let services = self.run_services(&self.stored_settings());
        let services = self.trusted_services(&wf, &crate::RunSource::Saved, services).await?;
        for (node, _) in &nodes {
            self.endpoint(&prepared, node, &services, true)
                .await
                .map_err(|e| ApiError::bad_request(format!("node \"{}\": {e}", node.name)))?;
        }
        let urls = nodes.iter().map(|(_, path)| Api::endpoint_url(&status.base_url, &wf.id, path, true)).collect();
        let generation = self.inner.triggers.test_generation.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let hooks = nodes.into_iter().map(|(node, _)| TestHook { prepared: prepared.clone(), node }).collect();
        self.inner.triggers.tests.lock().unwrap_or_else(|p| p.into_inner()).insert(wf.id.clone(), (generation, hooks));
        self.rebuild_test_endpoints().await;
        let api = self.clone();
        let id = wf.id.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(u64::from(TEST_SECONDS))).await;
            api.end_test(&id, Some(generation)).await;
        });
        let expires = self.inner.engine.services().clock.now() + chrono::Duration::seconds(i64::from(TEST_SECONDS));
        Ok(TestListenResponse { urls, expires_at: switchyard_engine::clock::rfc3339(expires), seconds: TEST_SECONDS })
    }

    /// Stops test listening for a workflow (only the listening of `generation`, if given).
    async fn end_test(&self, workflow_id: &str, generation: Option<u64>) {
        let removed = {
            let mut tests = self.inner.triggers.tests.lock().unwrap_or_else(|p| p.into_inner());
            match tests.get(workflow_id) {
                Some((g, _)) if generation.is_none_or(|want| *g == want) => tests.remove(workflow_id).is_some(),
                _ => false,
            }
        };
        if removed {
            self.rebuild_test_endpoints().await;
        }
    }

    pub async fn webhook_stop_test(&self, request: IdRequest) -> ApiResult<Empty> {
        self.end_test(&request.id, None).await;
        Ok(Empty {})
    }

    pub async fn webhook_send_sample(&self, request: SampleSendRequest) -> ApiResult<SampleSendResponse> {
        let id = request.workflow_id.clone();
        let record = self.blocking(move |store| Ok(store.workflows().get(&id)?)).await?;
        let (node, config) =
            webhooks(&self.inner.engine, &record.workflow).find(|(n, _)| n.id == request.node_id).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::NotFound,
                    format!("workflow \"{}\" has no Webhook node \"{}\"", record.workflow.name, request.node_id),
                )
            })?;
        let config = config.map_err(|e| ApiError::bad_request(format!("node \"{}\": {e}", node.name)))?;
        let status = self.listener_status();
        let url = Api::endpoint_url(&status.base_url, &record.workflow.id, &config.path, request.test);
        let method = config.methods.first().cloned().unwrap_or_else(|| "POST".into());
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::POST);
        let content_type = request.content_type.clone().unwrap_or_else(|| "application/json".into());
        let body = request.body.into_bytes();
        let mut builder = self
            .inner
            .engine
            .services()
            .http
            .request(method, &url)
            .timeout(Duration::from_secs(60))
            .header("content-type", content_type);
        let mut signed_with = Vec::new();
        if let Some(signature) = config.signature {
            let secret =
                self.inner.vault.secret(&signature.secret).await.map_err(|e| ApiError::new(e.code, e.message))?;
            let now = self.inner.engine.services().clock.now().timestamp();
            let mut headers = signature.preset.sign(&body, secret.value.as_bytes(), now);
            if let Some(h) = signature.id_header {
                headers.push((h.to_string(), new_id()));
            }
            for (name, value) in headers {
                signed_with.push(name.clone());
                builder = builder.header(name, value);
            }
        }
        let started = std::time::Instant::now();
        let response = builder.body(body).send().await.map_err(|e| {
            ApiError::new(ErrorCode::HttpRequestFailed, format!("sending the sample to {url} failed: {e}"))
        })?;
        let code = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        Ok(SampleSendResponse {
            url,
            status: code,
            body: text,
            latency_ms: u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX),
            signed_with,
        })
    }

    pub async fn schedule_list(&self, _: Empty) -> ApiResult<ScheduleListResponse> {
        let engine = self.inner.engine.clone();
        let schedules = self
            .blocking(move |store| {
                let registry = engine.registry();
                let mut out = Vec::new();
                for record in store.workflows().records(false)? {
                    let schedules = record.workflow.nodes.iter().filter_map(|node| match registry.trigger_of(node) {
                        Some(Trigger::Schedule { config, .. }) => Some((node, config(node))),
                        _ => None,
                    });
                    for (node, config) in schedules {
                        let row = store.triggers().schedule(&record.workflow.id, &node.id)?;
                        let rule = config.map(|c| c.rule.describe()).unwrap_or_else(|e| e.to_string());
                        out.push(ScheduleState {
                            workflow_id: record.workflow.id.clone(),
                            workflow_name: record.workflow.name.clone(),
                            node_id: node.id.clone(),
                            node_name: node.name.clone(),
                            rule,
                            next_fire: row.as_ref().and_then(|r| r.next_fire.clone()).filter(|_| record.active),
                            last_fire: row.and_then(|r| r.last_fire),
                            active: record.active,
                        });
                    }
                }
                Ok(out)
            })
            .await?;
        Ok(ScheduleListResponse { schedules })
    }
}

/// The listener's host: starts runs for deliveries and logs them.
struct WebhookHost(Weak<Inner>);

impl Target for WebhookHost {
    fn deliver(&self, endpoint: Arc<Endpoint>, request: Incoming) -> BoxFuture<'static, Answer> {
        let api = Api::upgrade(&self.0);
        Box::pin(async move {
            let Some(api) = api else {
                return Answer::json(503, &json!({ "error": { "message": "the app is shutting down" } }));
            };
            let Some(hook) = endpoint.attachment.downcast_ref::<Hook>() else {
                return Answer::json(500, &json!({ "error": { "message": "endpoint without a workflow" } }));
            };
            api.deliver(hook, request).await
        })
    }

    fn record(&self, d: DeliveryRecord) {
        let Some(api) = Api::upgrade(&self.0) else { return };
        api.record(switchyard_metrics::recorder::Sample::Delivery {
            status: d.status,
            at_ms: api.inner.engine.services().clock.now().timestamp_millis(),
        });
        if d.execution_id.is_none() && !api.log_refused(&d.workflow_id, &d.node_id) {
            return;
        }
        api.inner.store.log().delivery(Delivery {
            id: new_id(),
            workflow_id: d.workflow_id,
            node_id: d.node_id,
            received_at: api.now(),
            method: d.method,
            path: d.path,
            status: d.status,
            verification: Verification::parse(d.verification),
            latency_ms: d.latency_ms,
            execution_id: d.execution_id,
            error: d.error,
            body: d.body,
            test: d.test,
        });
    }

    fn now_ms(&self) -> i64 {
        Api::upgrade(&self.0).map(|api| api.inner.engine.services().clock.now().timestamp_millis()).unwrap_or_default()
    }

    fn metrics(&self) -> Option<String> {
        let api = Api::upgrade(&self.0)?;
        if !api.stored_settings().metrics_endpoint {
            return None;
        }
        Some(api.prometheus_text())
    }

    fn first_delivery(&self, keys: &[String], now_ms: i64, expires_ms: i64) -> bool {
        let Some(api) = Api::upgrade(&self.0) else { return false };
        if !api.inner.triggers.replay.first_time(keys, now_ms, expires_ms) {
            return false;
        }
        api.inner.store.log().replay_seen(keys, expires_ms);
        true
    }

    fn forget_delivery(&self, keys: &[String]) {
        if let Some(api) = Api::upgrade(&self.0) {
            api.forget_delivery(keys);
        }
    }

    fn metrics_token(&self) -> Option<String> {
        let settings = Api::upgrade(&self.0)?.stored_settings();
        settings.metrics_endpoint.then_some(settings.metrics_token)
    }
}

/// Why a run that did not succeed ended: its error, else its status.
fn failure_message(outcome: switchyard_engine::RunOutcome) -> String {
    outcome.error.map(|e| e.message).unwrap_or_else(|| format!("the run ended {}", outcome.status.as_str()))
}

fn error_answer(status: u16, message: &str, execution_id: &str) -> Answer {
    let mut answer = Answer::json(status, &json!({ "error": { "message": message }, "executionId": execution_id }));
    answer.execution_id = Some(execution_id.to_string());
    answer.error = Some(message.to_string());
    answer
}

fn reply_answer(reply: WebhookReply, execution_id: String) -> Answer {
    let has_type = reply.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    let mut headers = reply.headers;
    let body = match reply.body {
        serde_json::Value::Null => bytes::Bytes::new(),
        serde_json::Value::String(text) => {
            if !has_type {
                headers.push(("content-type".into(), "text/plain; charset=utf-8".into()));
            }
            bytes::Bytes::from(text)
        }
        other => {
            if !has_type {
                headers.push(("content-type".into(), "application/json".into()));
            }
            bytes::Bytes::from(other.to_string())
        }
    };
    Answer { status: reply.status, headers, body, execution_id: Some(execution_id), error: None }
}

impl Api {
    async fn deliver(&self, hook: &Hook, request: Incoming) -> Answer {
        let replay_keys = request.replay_keys;
        let item = (hook.item)(request.request);
        let mut services = hook.services.clone();
        let waits_for_reply = hook.response == Response::RespondNode;
        let receiver = if waits_for_reply {
            let (slot, rx) = ReplySlot::new();
            services.reply = Some(slot);
            Some(rx)
        } else {
            None
        };
        let mode = if hook.test { RunMode::Manual } else { RunMode::Webhook };
        // A full queue answers 503 at once rather than piling up waiting runs.
        if let Some(full) = self.inner.metrics.queue_full() {
            self.forget_delivery(&replay_keys);
            let message = format!("{full}; try again later");
            let mut answer = Answer::json(503, &json!({ "error": { "code": "queue_full", "message": message } }));
            answer.headers.push(("retry-after".into(), QUEUE_RETRY_AFTER_SECONDS.to_string()));
            answer.error = Some(message);
            return answer;
        }
        let (execution_id, handle) =
            self.launch(hook.prepared.clone(), services, vec![item], mode, Some(hook.node_id.clone()), None);
        let handle = self.forget_delivery_unless_success(handle, replay_keys);
        if hook.test {
            let workflow_id = hook.prepared.workflow.id.clone();
            self.inner.host.emit(ApiEvent::TestDelivery {
                workflow_id: workflow_id.clone(),
                node_id: hook.node_id.clone(),
                execution_id: execution_id.clone(),
            });
            let api = self.clone();
            tokio::spawn(async move { api.end_test(&workflow_id, None).await });
        }
        match hook.response {
            Response::LastNode { all_items } => match handle.await {
                Ok(outcome) if outcome.status == RunStatus::Success => {
                    let body = if all_items {
                        serde_json::Value::Array(
                            outcome.result.iter().map(|i| serde_json::Value::from(&i.json)).collect(),
                        )
                    } else {
                        outcome.result.first().map(|i| serde_json::Value::from(&i.json)).unwrap_or_else(|| json!({}))
                    };
                    let mut answer = Answer::json(200, &body);
                    answer.execution_id = Some(execution_id);
                    answer
                }
                Ok(outcome) => {
                    let message = failure_message(outcome);
                    error_answer(500, &message, &execution_id)
                }
                Err(e) => error_answer(500, &format!("the run failed: {e}"), &execution_id),
            },
            Response::RespondNode => {
                let Some(mut rx) = receiver else { return error_answer(500, "no reply channel", &execution_id) };
                let mut handle = handle;
                tokio::select! {
                    reply = &mut rx => match reply {
                        Ok(reply) => reply_answer(reply, execution_id),
                        Err(_) => error_answer(500, "the run ended without a Respond to Webhook node answering", &execution_id),
                    },
                    outcome = &mut handle => {
                        // The run ended: a Respond node may have answered just before.
                        if let Ok(reply) = rx.try_recv() {
                            return reply_answer(reply, execution_id);
                        }
                        match outcome {
                            Ok(o) if o.status != RunStatus::Success => {
                                let message = failure_message(o);
                                error_answer(500, &message, &execution_id)
                            }
                            _ => error_answer(500, "the run finished without reaching a Respond to Webhook node", &execution_id),
                        }
                    }
                }
            }
            Response::Immediately => {
                let mut answer = Answer::json(202, &json!({ "executionId": execution_id, "status": "started" }));
                answer.execution_id = Some(execution_id);
                answer
            }
        }
    }
}

impl Api {
    /// Whether a refused request to this endpoint gets a row in the delivery log: the first
    /// [`REFUSED_LOGGED_PER_SECOND`] each second do, the rest are only counted.
    fn log_refused(&self, workflow_id: &str, node_id: &str) -> bool {
        let second = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut refused = self.inner.triggers.refused.lock().unwrap_or_else(|p| p.into_inner());
        if refused.len() > 10_000 {
            refused.retain(|_, (at, _)| *at == second);
        }
        let entry = refused.entry((workflow_id.to_string(), node_id.to_string())).or_insert((second, 0));
        if entry.0 != second {
            *entry = (second, 0);
        }
        entry.1 += 1;
        entry.1 <= REFUSED_LOGGED_PER_SECOND
    }

    /// Passes a run's outcome on, forgetting the delivery's replay keys when the run did not
    /// succeed: a sender retrying a delivery whose run failed gets a new run.
    fn forget_delivery_unless_success(
        &self,
        handle: tokio::task::JoinHandle<switchyard_engine::RunOutcome>,
        keys: Vec<String>,
    ) -> tokio::task::JoinHandle<switchyard_engine::RunOutcome> {
        if keys.is_empty() {
            return handle;
        }
        let api = self.clone();
        tokio::spawn(async move {
            match handle.await {
                Ok(outcome) => {
                    if outcome.status != RunStatus::Success {
                        api.forget_delivery(&keys);
                    }
                    outcome
                }
                Err(e) => {
                    api.forget_delivery(&keys);
                    std::panic::resume_unwind(e.try_into_panic().unwrap_or_else(|_| Box::new("the run was cancelled")))
                }
            }
        })
    }
}

/// The scheduler's host: stored next-fire times and starting runs.
struct SchedulerHost(Weak<Inner>);

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

impl Fire for SchedulerHost {
    fn now(&self) -> DateTime<Utc> {
        Api::upgrade(&self.0).map(|api| api.inner.engine.services().clock.now()).unwrap_or_else(Utc::now)
    }

    fn load(&self, workflow_id: &str, node_id: &str) -> Option<Stored> {
        let api = Api::upgrade(&self.0)?;
        let row = api.inner.store.triggers().schedule(workflow_id, node_id).ok()??;
        Some(Stored { rule: row.rule, next_fire: row.next_fire.as_deref().and_then(parse_time) })
    }

    fn store(
        &self,
        workflow_id: &str,
        node_id: &str,
        rule: &str,
        next: Option<DateTime<Utc>>,
        fired: Option<DateTime<Utc>>,
    ) {
        let Some(api) = Api::upgrade(&self.0) else { return };
        let text = |t: Option<DateTime<Utc>>| t.map(switchyard_engine::clock::rfc3339);
        if let Err(e) = api.inner.store.triggers().set_schedule(
            workflow_id,
            node_id,
            rule,
            text(next).as_deref(),
            text(fired).as_deref(),
            &api.now(),
        ) {
            tracing::error!("cannot store the next fire time of {workflow_id}/{node_id}: {e}");
        }
    }

    fn fire(&self, schedule: Arc<Schedule>, scheduled_for: DateTime<Utc>, missed: bool) {
        let Some(api) = Api::upgrade(&self.0) else { return };
        let Some(s) = schedule.attachment.downcast_ref::<Scheduled>() else { return };
        let fired_at = api.inner.engine.services().clock.now();
        let item = (s.item)(ScheduleFire { scheduled_for, fired_at, missed });
        if let Some(full) = api.inner.metrics.queue_full() {
            tracing::warn!(workflow = %s.prepared.workflow.name, "a schedule fire is skipped: {full}");
            return;
        }
        api.launch(
            s.prepared.clone(),
            s.services.clone(),
            vec![item],
            RunMode::Schedule,
            Some(s.node_id.clone()),
            None,
        );
    }
}
