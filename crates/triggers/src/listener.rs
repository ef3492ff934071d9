//! The webhook listener: one axum server (127.0.0.1 unless the user chose another bind
//! address) that serves `/webhook/<workflow-id>/<path>` for the endpoints the host gives it,
//! and `/webhook-test/<workflow-id>/<path>` while the editor listens for a test event.
//!
//! Every request is checked in this order, and a refused one starts nothing: a `Host` that is
//! not this listener's (421: DNS rebinding), unknown endpoint (404), a browser's `Origin`
//! the webhook does not allow (403), method not allowed (405), body over the limit (413), bad
//! or missing signature, stale timestamp or replayed delivery id (401), malformed JSON (400).
//! What an accepted request starts, and what is answered, is the host's [`Target`].

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use futures::future::BoxFuture;
use std::any::Any;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use switchyard_core::signature::{Headers, Preset, SignatureError, equal_in_constant_time, hex};
use switchyard_model::webhook::{WebhookRequest, is_framing_header, normalize_path};
use tokio_util::sync::CancellationToken;

/// The default body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// How a delivery's signature is checked.
pub struct SignatureCheck {
    pub preset: Preset,
    pub secret: Vec<u8>,
    /// The header carrying a delivery id (X-GitHub-Delivery, …); without one, the signature
    /// itself identifies a delivery for replay protection.
    pub id_header: Option<String>,
}

impl Drop for SignatureCheck {
    fn drop(&mut self) {
        self.secret.iter_mut().for_each(|b| *b = 0);
    }
}

impl std::fmt::Debug for SignatureCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureCheck").field("preset", &self.preset).field("id_header", &self.id_header).finish()
    }
}

/// One served webhook: a Webhook trigger node of a workflow.
pub struct Endpoint {
    pub workflow_id: String,
    pub node_id: String,
    /// The path after the workflow id, without leading or trailing slashes.
    pub path: String,
    /// Allowed methods; empty allows any.
    pub methods: Vec<Method>,
    pub signature: Option<SignatureCheck>,
    pub keep_bodies: bool,
    /// Browser origins (`https://app.example`) allowed to call this webhook; a request with
    /// any other `Origin` header gets 403. Empty: no browser may call it.
    pub allowed_origins: Vec<String>,
    /// Whatever the host needs to start the run (its prepared workflow, …).
    pub attachment: Arc<dyn Any + Send + Sync>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("workflow_id", &self.workflow_id)
            .field("path", &self.path)
            .field("methods", &self.methods)
            .field("signature", &self.signature)
            .finish()
    }
}

fn key(workflow_id: &str, path: &str) -> String {
    format!("{workflow_id}/{}", normalize_path(path))
}

/// An accepted request.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The request as the webhook node makes its item from it.
    pub request: WebhookRequest,
    /// Whether it came in on a test listener.
    pub test: bool,
    /// The keys its delivery was remembered under (empty without a signature): the host
    /// forgets them when the run fails or never starts, so the sender's retry goes through.
    pub replay_keys: Vec<String>,
}

/// What the host answers for an accepted request.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: bytes::Bytes,
    pub execution_id: Option<String>,
    /// Why the run failed (for the delivery log).
    pub error: Option<String>,
}

impl Answer {
    pub fn json(status: u16, value: &serde_json::Value) -> Answer {
        Answer {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: bytes::Bytes::from(value.to_string()),
            execution_id: None,
            error: None,
        }
    }
}

/// One request the listener answered, for the delivery log.
#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    pub workflow_id: String,
    pub node_id: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    /// "none", "passed" or "failed".
    pub verification: &'static str,
    pub latency_ms: u32,
    pub execution_id: Option<String>,
    pub error: Option<String>,
    pub body: Option<String>,
    pub test: bool,
}

/// The host: starts what an accepted request starts and keeps the delivery log.
pub trait Target: Send + Sync + 'static {
    /// Handles an accepted request. The answer may wait for the run (response modes).
    fn deliver(&self, endpoint: Arc<Endpoint>, request: Incoming) -> BoxFuture<'static, Answer>;
    /// Records a delivery; must not block (the host queues it).
    fn record(&self, delivery: DeliveryRecord);
    /// The current time in Unix milliseconds (the host's clock: signature windows and
    /// replay windows follow it).
    fn now_ms(&self) -> i64;
    /// The Prometheus text for `/metrics`, or `None` while that endpoint is off.
    fn metrics(&self) -> Option<String> {
        None
    }
    /// Whether a delivery is new: none of `keys` was seen (and not forgotten) before `now_ms`;
    /// then they are remembered until `expires_ms`, durably (a restart does not reopen
    /// replays). False: a replay.
    fn first_delivery(&self, keys: &[String], now_ms: i64, expires_ms: i64) -> bool;
    /// Forgets a delivery's keys: it did not run after all.
    fn forget_delivery(&self, keys: &[String]);
    /// The bearer token `/metrics` requires (`None` while that endpoint is off).
    fn metrics_token(&self) -> Option<String> {
        None
    }
}

type Table = Arc<HashMap<String, Arc<Endpoint>>>;

struct Shared {
    target: Arc<dyn Target>,
    endpoints: RwLock<Table>,
    tests: RwLock<Table>,
    body_limit: std::sync::atomic::AtomicUsize,
    /// How long a request's body may take to arrive, in milliseconds (408 after).
    body_deadline_ms: std::sync::atomic::AtomicU64,
    /// The address the socket is bound to, and the host names the user allows besides.
    bound: SocketAddr,
    allowed_hosts: RwLock<Arc<Vec<String>>>,
    /// Set once the first endpoints are: until then connections wait in the socket's queue
    /// instead of being answered 404 for an active workflow not loaded yet.
    ready: CancellationToken,
}

/// How long a client may take to send a request's headers (also the idle keep-alive time).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The default time a request's body may take to arrive.
pub const DEFAULT_BODY_DEADLINE: Duration = Duration::from_secs(30);
/// The default cap on open connections; past it, new ones wait in the OS's backlog.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

/// A running listener. Dropping it does not stop it: call [`Listener::shutdown`].
pub struct Listener {
    shared: Arc<Shared>,
    addr: SocketAddr,
    /// Stops accepting and asks every connection to finish its request and close.
    stop: CancellationToken,
    /// Drops the connections still open after the grace period.
    kill: CancellationToken,
    connections: tokio_util::task::TaskTracker,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener").field("addr", &self.addr).finish()
    }
}

impl Listener {
    /// Binds `addr` and starts serving (no endpoints yet), with the default connection cap.
    pub async fn bind(addr: SocketAddr, target: Arc<dyn Target>) -> std::io::Result<Listener> {
        Listener::bind_with(addr, target, DEFAULT_MAX_CONNECTIONS).await
    }

    /// Binds `addr` and serves at most `max_connections` connections at once.
    pub async fn bind_with(
        addr: SocketAddr,
        target: Arc<dyn Target>,
        max_connections: usize,
    ) -> std::io::Result<Listener> {
        Listener::bind_serving(addr, target, max_connections, None).await
    }

    /// [`Listener::bind_with`], also serving `api` under `/api/v1` (the REST API of
    /// `switchyard serve`), behind the same host check and connection cap.
    pub async fn bind_serving(
        addr: SocketAddr,
        target: Arc<dyn Target>,
        max_connections: usize,
        api: Option<Router>,
    ) -> std::io::Result<Listener> {
        let socket = tokio::net::TcpListener::bind(addr).await?;
        let addr = socket.local_addr()?;
        let shared = Arc::new(Shared {
            target,
            endpoints: RwLock::new(Arc::new(HashMap::new())),
            tests: RwLock::new(Arc::new(HashMap::new())),
            body_limit: std::sync::atomic::AtomicUsize::new(DEFAULT_BODY_LIMIT),
            body_deadline_ms: std::sync::atomic::AtomicU64::new(DEFAULT_BODY_DEADLINE.as_millis() as u64),
            bound: addr,
            allowed_hosts: RwLock::new(Arc::new(Vec::new())),
            ready: CancellationToken::new(),
        });
        let app = router(shared.clone(), api);
        let (stop, kill) = (CancellationToken::new(), CancellationToken::new());
        let connections = tokio_util::task::TaskTracker::new();
        let slots = Arc::new(tokio::sync::Semaphore::new(max_connections.max(1)));
        let ready = shared.ready.clone();
        let (task_stop, task_kill, task_connections) = (stop.clone(), kill.clone(), connections.clone());
        let task = tokio::spawn(async move {
            tokio::select! {
                _ = ready.cancelled() => accept(socket, app, slots, task_stop, task_kill, task_connections).await,
                _ = task_stop.cancelled() => {}
            }
        });
        Ok(Listener { shared, addr, stop, kill, connections, task })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the served endpoints. Two endpoints with the same workflow and path: the
    /// first is served (the host reports the clash).
    /// The first call starts answering: connections made before wait in the socket's queue.
    pub fn set_endpoints(&self, endpoints: Vec<Endpoint>) {
        *self.shared.endpoints.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(table(endpoints));
        self.shared.ready.cancel();
    }

    /// The endpoints listening for a test event (replaced as a whole).
    pub fn set_test_endpoints(&self, endpoints: Vec<Endpoint>) {
        *self.shared.tests.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(table(endpoints));
    }

    /// Host names (besides this listener's address and `localhost`) that requests may name
    /// in their `Host` header: a tunnel's or reverse proxy's name.
    pub fn set_allowed_hosts(&self, hosts: Vec<String>) {
        let hosts = hosts.iter().map(|h| h.trim().to_ascii_lowercase()).filter(|h| !h.is_empty()).collect();
        *self.shared.allowed_hosts.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(hosts);
    }

    pub fn set_body_limit(&self, bytes: usize) {
        self.shared.body_limit.store(bytes.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    /// How long a request's body may take to arrive (408 after).
    pub fn set_body_deadline(&self, deadline: Duration) {
        let ms = u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX).max(1);
        self.shared.body_deadline_ms.store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// Stops accepting connections, lets requests in progress be answered for up to `grace`,
    /// then drops the connections still open (a stalled client never holds up a stop). Runs
    /// that accepted requests started go on: they are not the connection's.
    pub async fn shutdown(self, grace: Duration) {
        self.stop.cancel();
        let _ = self.task.await;
        self.connections.close();
        if tokio::time::timeout(grace, self.connections.wait()).await.is_err() {
            tracing::warn!(
                open = self.connections.len(),
                "dropping the webhook connections still open after {} s",
                grace.as_secs_f64()
            );
            self.kill.cancel();
            self.connections.wait().await;
        }
    }
}

/// Accepts connections while a slot is free, each served on its own task with a header
/// timeout (which also closes idle keep-alive connections).
async fn accept(
    socket: tokio::net::TcpListener,
    app: Router,
    slots: Arc<tokio::sync::Semaphore>,
    stop: CancellationToken,
    kill: CancellationToken,
    connections: tokio_util::task::TaskTracker,
) {
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => return,
            },
            _ = stop.cancelled() => return,
        };
        let stream = tokio::select! {
            accepted = socket.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!("the webhook listener cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.cancelled() => return,
        };
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let (stop, kill) = (stop.clone(), kill.clone());
        connections.spawn(async move {
            let _slot = slot;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT).keep_alive(true);
            let connection = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => return,
                _ = stop.cancelled() => connection.as_mut().graceful_shutdown(),
            }
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = kill.cancelled() => {}
            }
        });
    }
}

fn table(endpoints: Vec<Endpoint>) -> HashMap<String, Arc<Endpoint>> {
    let mut map = HashMap::new();
    for e in endpoints {
        map.entry(key(&e.workflow_id, &e.path)).or_insert_with(|| Arc::new(e));
    }
    map
}

fn router(shared: Arc<Shared>, api: Option<Router>) -> Router {
    let mut app = Router::new()
        .route("/webhook/{workflow}", any(production_root))
        .route("/webhook/{workflow}/{*path}", any(production))
        .route("/webhook-test/{workflow}", any(test_root))
        .route("/webhook-test/{workflow}/{*path}", any(test))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .with_state(shared.clone());
    if let Some(api) = api {
        app = app.nest("/api/v1", api);
    }
    app.fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "no webhook is served at this path") })
        .layer(axum::middleware::from_fn_with_state(shared, check_host))
}

/// Refuses requests naming another host than this listener (421): a web page on a name that
/// an attacker's DNS points at 127.0.0.1 must not reach the webhooks (DNS rebinding).
async fn check_host(State(s): State<Arc<Shared>>, request: Request, next: axum::middleware::Next) -> Response {
    let host = request.headers().get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let allowed = s.allowed_hosts.read().unwrap_or_else(|p| p.into_inner()).clone();
    if host_allowed(host, s.bound, &allowed) {
        return next.run(request).await;
    }
    let message = format!(
        "this listener does not answer for host \"{host}\"; add it under Settings → Allowed host names if a tunnel or proxy forwards it"
    );
    error(StatusCode::MISDIRECTED_REQUEST, "misdirected_request", &message)
}

/// Whether a `Host` header names this listener: `localhost`, the bound IP or a loopback IP
/// (any IP when bound to every interface: IP literals cannot be rebound), or a listed name.
pub fn host_allowed(host: &str, bound: SocketAddr, allowed: &[String]) -> bool {
    let host = host.trim();
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => {
            host.rsplit_once(':').map_or(host, |(name, port)| if port.parse::<u16>().is_ok() { name } else { host })
        }
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name.is_empty() {
        return false;
    }
    if name == "localhost" || allowed.contains(&name) {
        return true;
    }
    match name.parse::<std::net::IpAddr>() {
        Ok(ip) => bound.ip().is_unspecified() || ip == bound.ip() || ip.is_loopback(),
        Err(_) => false,
    }
}

/// Whether a request's `Origin` (if any) may call an endpoint: requests from web pages are
/// refused unless the webhook lists their origin (or `*`).
fn origin_allowed(origin: Option<&str>, allowed: &[String]) -> bool {
    let Some(origin) = origin else { return true };
    let origin = origin.trim().trim_end_matches('/');
    allowed.iter().any(|a| a == "*" || a.trim().trim_end_matches('/').eq_ignore_ascii_case(origin))
}

async fn production_root(State(s): State<Arc<Shared>>, Path(workflow): Path<String>, request: Request) -> Response {
    serve(s, workflow, String::new(), false, request).await
}

async fn production(
    State(s): State<Arc<Shared>>,
    Path((workflow, path)): Path<(String, String)>,
    request: Request,
) -> Response {
    serve(s, workflow, path, false, request).await
}

async fn test_root(State(s): State<Arc<Shared>>, Path(workflow): Path<String>, request: Request) -> Response {
    serve(s, workflow, String::new(), true, request).await
}

async fn test(
    State(s): State<Arc<Shared>>,
    Path((workflow, path)): Path<(String, String)>,
    request: Request,
) -> Response {
    serve(s, workflow, path, true, request).await
}

/// `/metrics`: the host's Prometheus text, when the user turned the endpoint on, for callers
/// with its bearer token (it names workflows).
async fn metrics(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let off =
        || error(StatusCode::NOT_FOUND, "not_found", "the metrics endpoint is off (Settings → Prometheus metrics)");
    let target = s.target.clone();
    let Some(token) = target.metrics_token() else { return off() };
    let same = equal_in_constant_time(bearer(&headers).as_bytes(), token.as_bytes());
    if token.is_empty() || !same {
        let mut response = error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the metrics endpoint needs its bearer token (Settings → Prometheus metrics, or `switchyard metrics --token`)",
        );
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    match tokio::task::spawn_blocking(move || target.metrics()).await.ok().flatten() {
        Some(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response(),
        None => off(),
    }
}

/// The bearer token a request presents (`Authorization: Bearer …`); empty when none.
pub fn bearer(headers: &HeaderMap) -> &str {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .unwrap_or("")
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// Finds the endpoint: a test listener on `/webhook-test/…`; on `/webhook/…` the active
/// endpoint, else a test listener of a workflow that is not active.
fn find(s: &Shared, workflow: &str, path: &str, test: bool) -> Option<(Arc<Endpoint>, bool)> {
    let k = key(workflow, path);
    let tests = || s.tests.read().unwrap_or_else(|p| p.into_inner()).get(&k).cloned();
    if test {
        return tests().map(|e| (e, true));
    }
    let active = s.endpoints.read().unwrap_or_else(|p| p.into_inner()).get(&k).cloned();
    match active {
        Some(e) => Some((e, false)),
        None => tests().map(|e| (e, true)),
    }
}

async fn serve(s: Arc<Shared>, workflow: String, path: String, test: bool, request: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let Some((endpoint, test)) = find(&s, &workflow, &path, test) else {
        let what = if test { "no test listener is waiting" } else { "no active workflow serves" };
        return error(StatusCode::NOT_FOUND, "not_found", &format!("{what} /{}", key(&workflow, &path)));
    };
    let mut record = DeliveryRecord {
        workflow_id: endpoint.workflow_id.clone(),
        node_id: endpoint.node_id.clone(),
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        status: 0,
        verification: if endpoint.signature.is_some() { "failed" } else { "none" },
        latency_ms: 0,
        execution_id: None,
        error: None,
        body: None,
        test,
    };
    let refuse = |record: DeliveryRecord, response: Response| finish(&s, started, record, response);
    let origin = parts.headers.get(header::ORIGIN).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    if !origin_allowed(origin.as_deref(), &endpoint.allowed_origins) {
        let message = format!(
            "requests from web pages (Origin {}) may not call this webhook; list the origin in the Webhook node's \"Allowed origins\"",
            origin.unwrap_or_default()
        );
        record.error = Some(message.clone());
        return refuse(record, error(StatusCode::FORBIDDEN, "origin_not_allowed", &message));
    }
    if !endpoint.methods.is_empty() && !endpoint.methods.contains(&parts.method) {
        let allowed: Vec<&str> = endpoint.methods.iter().map(Method::as_str).collect();
        let message = format!("{} is not allowed here; use {}", parts.method, allowed.join(", "));
        record.error = Some(message.clone());
        let mut response = error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", &message);
        if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
            response.headers_mut().insert(header::ALLOW, v);
        }
        return refuse(record, response);
    }
    let limit = s.body_limit.load(std::sync::atomic::Ordering::Relaxed);
    let too_large = |record: &mut DeliveryRecord| {
        let message = format!("the body is larger than the limit of {limit} bytes");
        record.error = Some(message.clone());
        error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", &message)
    };
    let declared = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        let response = too_large(&mut record);
        return refuse(record, response);
    }
    let deadline = Duration::from_millis(s.body_deadline_ms.load(std::sync::atomic::Ordering::Relaxed));
    let bytes = match tokio::time::timeout(deadline, axum::body::to_bytes(Body::new(body), limit)).await {
        Ok(Ok(b)) => b,
        Ok(Err(_)) => {
            let response = too_large(&mut record);
            return refuse(record, response);
        }
        Err(_) => {
            let message = format!("the body did not arrive within {} s", deadline.as_secs_f64());
            record.error = Some(message.clone());
            return refuse(record, error(StatusCode::REQUEST_TIMEOUT, "body_timeout", &message));
        }
    };
    let mut replay_keys = Vec::new();
    if let Some(check) = &endpoint.signature {
        let now_ms = s.target.now_ms();
        let tag = match verify(&endpoint, &parts.headers, &bytes, now_ms.div_euclid(1000)).await {
            Ok(tag) => tag,
            Err(e) => {
                let message = format!("signature check failed: {e}");
                record.error = Some(message.clone());
                return refuse(record, error(StatusCode::UNAUTHORIZED, "bad_signature", &message));
            }
        };
        // The signed content itself (however the sender wrote the signature), and the
        // sender's delivery id where the format has one: either seen before is a replay.
        let endpoint_key = key(&endpoint.workflow_id, &endpoint.path);
        replay_keys.push(format!("{endpoint_key}\u{0}sig:{}", hex(&tag)));
        if let Some(id) = check.id_header.as_deref().and_then(|h| parts.headers.header(h)).filter(|id| !id.is_empty()) {
            replay_keys.push(format!("{endpoint_key}\u{0}id:{}", id.chars().take(200).collect::<String>()));
        }
        // A timestamped signature is refused as stale after the tolerance: its keys need
        // not be kept longer.
        let keep = if check.preset.is_timestamped() {
            2 * switchyard_core::signature::TOLERANCE
        } else {
            crate::replay::WINDOW
        };
        let expires_ms = now_ms.saturating_add(i64::try_from(keep.as_millis()).unwrap_or(i64::MAX));
        if !s.target.first_delivery(&replay_keys, now_ms, expires_ms) {
            let message = "this delivery was already received (the same signed content, or a delivery id seen before)";
            record.error = Some(message.to_string());
            return refuse(record, error(StatusCode::UNAUTHORIZED, "replayed", message));
        }
        record.verification = "passed";
    }
    let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let body = match parse_body(content_type, &bytes) {
        Ok(body) => body,
        Err(message) => {
            s.target.forget_delivery(&replay_keys);
            record.error = Some(message.clone());
            return refuse(record, error(StatusCode::BAD_REQUEST, "bad_body", &message));
        }
    };
    // Bodies are kept (when the node asks) only for accepted requests: a refused request's
    // body is anyone's text.
    if endpoint.keep_bodies {
        record.body = Some(String::from_utf8_lossy(&bytes).into_owned());
    }
    let incoming = Incoming {
        request: WebhookRequest {
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            query: query_object(parts.uri.query().unwrap_or("")),
            headers: parts
                .headers
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), serde_json::Value::from(String::from_utf8_lossy(v.as_bytes()))))
                .collect(),
            body,
        },
        test,
        replay_keys,
    };
    // On its own task: a caller that hangs up while the run goes on does not stop the run
    // or its delivery record (the record keeps the status the caller would have had).
    let shared = s.clone();
    let delivered = tokio::spawn(async move {
        let answer = shared.target.deliver(endpoint, incoming).await;
        record.execution_id = answer.execution_id.clone();
        record.error = answer.error.clone();
        let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = Response::new(Body::from(answer.body));
        *response.status_mut() = status;
        for (name, value) in answer.headers.iter().filter(|(name, _)| !is_framing_header(name)) {
            if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
                response.headers_mut().append(name, value);
            }
        }
        finish(&shared, started, record, response)
    });
    match delivered.await {
        Ok(response) => response,
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", &format!("the delivery failed: {e}")),
    }
}

/// Bodies larger than this are hashed on a blocking thread, not on an async worker.
const INLINE_HMAC_BYTES: usize = 64 * 1024;

/// Checks a delivery's signature and returns the HMAC it was verified with; the HMAC of a
/// large body is computed off the async workers so that slow checks never hold up others.
async fn verify(
    endpoint: &Arc<Endpoint>,
    headers: &HeaderMap,
    body: &bytes::Bytes,
    now_unix: i64,
) -> Result<Vec<u8>, SignatureError> {
    let Some(check) = &endpoint.signature else { return Ok(Vec::new()) };
    if body.len() <= INLINE_HMAC_BYTES {
        return check.preset.verified_tag(headers, body, &check.secret, now_unix);
    }
    let (endpoint, headers, body) = (endpoint.clone(), headers.clone(), body.clone());
    tokio::task::spawn_blocking(move || match &endpoint.signature {
        Some(check) => check.preset.verified_tag(&headers, &body, &check.secret, now_unix),
        None => Ok(Vec::new()),
    })
    .await
    .unwrap_or(Err(SignatureError::Mismatch))
}

/// Logs a delivery with the status answered and the time it took; returns the answer.
fn finish(s: &Shared, started: Instant, mut record: DeliveryRecord, response: Response) -> Response {
    record.status = response.status().as_u16();
    record.latency_ms = u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
    s.target.record(record);
    response
}

/// The body as the trigger's item holds it: JSON parsed (refused with the line and column
/// when malformed), form fields as an object, other text as a string, no body as null.
pub fn parse_body(content_type: &str, bytes: &[u8]) -> Result<serde_json::Value, String> {
    let ct = content_type.to_ascii_lowercase();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Value::Null);
    }
    if ct.contains("json")
        || (ct.is_empty() && matches!(bytes.iter().find(|b| !b.is_ascii_whitespace()), Some(b'{' | b'[')))
    {
        return serde_json::from_slice(bytes).map_err(|e| format!("the body is not valid JSON: {e}"));
    }
    if ct.starts_with("application/x-www-form-urlencoded") {
        return Ok(serde_json::Value::Object(query_object(&String::from_utf8_lossy(bytes))));
    }
    Ok(serde_json::Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// `a=1&b=2&b=3` as `{a: "1", b: ["2", "3"]}`.
fn query_object(query: &str) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    for (k, v) in form_pairs(query) {
        match out.get_mut(&k) {
            None => {
                out.insert(k, serde_json::Value::String(v));
            }
            Some(serde_json::Value::Array(list)) => list.push(serde_json::Value::String(v)),
            Some(first) => {
                let previous = first.take();
                *first = serde_json::Value::Array(vec![previous, serde_json::Value::String(v)]);
            }
        }
    }
    out
}

fn form_pairs(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_parse_by_content_type() {
        assert_eq!(parse_body("application/json", br#"{"a":1}"#).unwrap(), serde_json::json!({"a": 1}));
        assert_eq!(parse_body("", b"[1,2]").unwrap(), serde_json::json!([1, 2]));
        assert_eq!(parse_body("application/json", b"  ").unwrap(), serde_json::Value::Null);
        let e = parse_body("application/json; charset=utf-8", b"{\n \"a\": 1,\n}").unwrap_err();
        assert!(e.contains("line 3 column 1"), "{e}");
        assert_eq!(
            parse_body("application/x-www-form-urlencoded", b"name=Ada+L&tag=a&tag=b%26c").unwrap(),
            serde_json::json!({"name": "Ada L", "tag": ["a", "b&c"]})
        );
        assert_eq!(parse_body("text/plain", b"hello").unwrap(), serde_json::json!("hello"));
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%41%zz"), "A%zz");
    }
}
