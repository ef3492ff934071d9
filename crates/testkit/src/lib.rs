//! A real HTTP server on 127.0.0.1 for tests, with routes that behave like the APIs
//! workflows call: a users list, an echo, chosen statuses, slow answers, and injected faults
//! on demand (sequences of failures, Retry-After, slow answers, dropped connections). [`oidc`] runs a
//! real OpenID provider.

pub mod llm;
pub mod mail;
pub mod oidc;
pub mod servers;
pub mod wrk;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// A running test server. Dropping it stops the server.
#[derive(Debug)]
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// How many requests a `/fault/{key}` saw, and when: milliseconds after the first.
    pub async fn fault_log(&self, key: &str) -> (u64, Vec<u64>) {
        let url = self.url(&format!("/fault/{key}/log"));
        let log: Value = reqwest::get(url).await.expect("fault log").json().await.expect("fault log JSON");
        let offsets = log["offsetsMs"].as_array().map_or(Vec::new(), |a| a.iter().filter_map(Value::as_u64).collect());
        (log["count"].as_u64().unwrap_or(0), offsets)
    }

    /// Starts the server on the current tokio runtime.
    pub async fn start() -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router())
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        TestServer { addr, stop: Some(stop), thread: None }
    }

    /// Starts the server on its own thread and runtime, for tests that are not async
    /// (e.g. ones that run the CLI binary).
    pub fn start_in_thread() -> TestServer {
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
                tx.send(listener.local_addr().expect("local addr")).expect("send addr");
                let _ = axum::serve(listener, router())
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        let addr = rx.recv().expect("server address");
        TestServer { addr, stop: Some(stop), thread: Some(thread) }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Ten users shaped like a typical public JSON API.
pub fn users() -> Value {
    let names = [
        "Leanne Graham",
        "Ervin Howell",
        "Clementine Bauch",
        "Patricia Lebsack",
        "Chelsey Dietrich",
        "Mrs. Dennis Schulist",
        "Kurtis Weissnat",
        "Nicholas Runolfsdottir V",
        "Glenna Reichert",
        "Clementina DuBuque",
    ];
    let cities = [
        "Gwenborough",
        "Wisokyburgh",
        "McKenziehaven",
        "South Elvis",
        "Roscoeview",
        "South Christy",
        "Howemouth",
        "Aliyaview",
        "Bartholomebury",
        "Lebsackbury",
    ];
    Value::Array(
        names
            .iter()
            .zip(cities)
            .enumerate()
            .map(|(i, (name, city))| {
                let user = name.split_whitespace().last().unwrap_or(name).to_lowercase();
                json!({
                    "id": i + 1,
                    "name": name,
                    "username": user,
                    "email": format!("{user}@example.com"),
                    "address": { "city": city, "zipcode": format!("{:05}", 10000 + i * 1111) },
                    "company": { "name": format!("Company {}", i + 1) }
                })
            })
            .collect(),
    )
}

/// Requests seen per fault key, with the (tokio) time of each.
#[derive(Default)]
struct Faults {
    hits: std::sync::Mutex<std::collections::HashMap<String, Vec<tokio::time::Instant>>>,
}

type FaultState = std::sync::Arc<Faults>;

/// `/fault/{key}`: the first `fail` requests to a key fail as asked, later ones succeed with
/// `{"key", "attempt"}`. How they fail: `status` (default 503) with an optional `retryAfter`,
/// `rateLimitReset` or `xRateLimitReset` header value; `slowMs` to answer only after that
/// long (past a client's timeout); `drop=1` to cut the connection in the middle of the body.
async fn fault(
    axum::extract::State(faults): axum::extract::State<FaultState>,
    Path(key): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let attempt = {
        let mut hits = faults.hits.lock().unwrap_or_else(|p| p.into_inner());
        let list = hits.entry(key.clone()).or_default();
        list.push(tokio::time::Instant::now());
        list.len()
    };
    let fail: usize = q.get("fail").and_then(|v| v.parse().ok()).unwrap_or(0);
    let delay = q.get("delayMs").and_then(|v| v.parse().ok()).unwrap_or(0);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if attempt > fail {
        return axum::Json(json!({ "key": key, "attempt": attempt })).into_response();
    }
    if let Some(ms) = q.get("slowMs").and_then(|v| v.parse().ok()) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        return axum::Json(json!({ "key": key, "attempt": attempt, "late": true })).into_response();
    }
    if q.get("drop").is_some_and(|v| v == "1") {
        // A body shorter than its Content-Length, then an error: the connection is cut.
        let chunks: Vec<Result<Bytes, std::io::Error>> =
            vec![Ok(Bytes::from_static(b"{\"partial\": ")), Err(std::io::Error::other("dropped"))];
        return Response::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONTENT_LENGTH, "100")
            .body(axum::body::Body::from_stream(futures_util::stream::iter(chunks)))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    }
    let status = q
        .get("status")
        .and_then(|v| v.parse().ok())
        .and_then(|c| StatusCode::from_u16(c).ok())
        .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut response = (status, axum::Json(json!({ "error": "injected", "attempt": attempt }))).into_response();
    for (param, name) in
        [("retryAfter", "retry-after"), ("rateLimitReset", "ratelimit-reset"), ("xRateLimitReset", "x-ratelimit-reset")]
    {
        if let Some(value) = q.get(param).and_then(|v| header::HeaderValue::from_str(v).ok()) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// `/fault/{key}/log`: how many requests a key saw, and when (milliseconds after the first).
async fn fault_log(
    axum::extract::State(faults): axum::extract::State<FaultState>,
    Path(key): Path<String>,
) -> Response {
    let hits = faults.hits.lock().unwrap_or_else(|p| p.into_inner());
    let times = hits.get(&key).cloned().unwrap_or_default();
    let first = times.first().copied();
    let offsets: Vec<u64> =
        times.iter().map(|t| first.map_or(0, |f| t.saturating_duration_since(f).as_millis() as u64)).collect();
    axum::Json(json!({ "count": times.len(), "offsetsMs": offsets })).into_response()
}

fn router() -> Router {
    Router::new()
        .route("/fault/{key}", any(fault))
        .route("/fault/{key}/log", get(fault_log))
        .with_state(FaultState::default())
        .route("/users", get(|| async { axum::Json(users()) }))
        .route("/ok", get(|| async { axum::Json(json!({ "ok": true })) }))
        .route("/echo", any(echo))
        .route("/status/{code}", any(status))
        .route("/redirect", any(redirect))
        .route("/slow", get(slow))
        .route("/text", get(|| async { ([(header::CONTENT_TYPE, "text/plain")], "plain text") }))
        .route("/empty", get(|| async { StatusCode::NO_CONTENT }))
        .route("/not-json", get(|| async { ([(header::CONTENT_TYPE, "application/json")], "{oops") }))
        .route("/auth/inspect", any(inspect))
        .route("/bytes/{n}", get(bytes))
        .route("/upload", any(upload).layer(axum::extract::DefaultBodyLimit::max(512 * 1024 * 1024)))
}

/// The Python the tests run to make files with other tools (csv, openpyxl):
/// `SWITCHYARD_TEST_PYTHON` (set by `cargo xtask test`), else the venv `cargo xtask setup`
/// makes, else `python3`.
pub fn python() -> std::path::PathBuf {
    if let Some(python) = std::env::var_os("SWITCHYARD_TEST_PYTHON").filter(|p| !p.is_empty()) {
        return python.into();
    }
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-venv/bin/python");
    if venv.exists() { venv } else { "python3".into() }
}

/// Runs a Python script with arguments; panics with its output when it fails.
pub fn run_python(script: &str, args: &[&str]) -> String {
    let output = std::process::Command::new(python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python().display()));
    assert!(
        output.status.success(),
        "python failed (run `cargo xtask setup` for its packages): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// What a tool (`sha256sum`, `openssl dgst …`) prints for `input` on its standard input;
/// panics when it fails.
pub fn tool_output(program: &str, args: &[&str], input: &[u8]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    child.stdin.take().expect("stdin").write_all(input).expect("write to the tool");
    let output = child.wait_with_output().expect("the tool's output");
    assert!(output.status.success(), "{program} failed");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Byte `i` of what `/bytes/{n}` sends: a pattern a test can check without keeping it.
pub fn pattern_byte(i: u64) -> u8 {
    (i.wrapping_mul(31).wrapping_add(i >> 13) % 251) as u8
}

/// `/bytes/{n}`: `n` bytes of [`pattern_byte`], made as they are sent (64 KiB at a time, so a
/// gigabyte costs the server no memory), named `pattern-{n}.bin`.
async fn bytes(Path(n): Path<u64>) -> Response {
    const CHUNK: u64 = 64 * 1024;
    let chunks = futures_util::stream::unfold(0u64, move |at| async move {
        (at < n).then(|| {
            let end = (at + CHUNK).min(n);
            let chunk: Vec<u8> = (at..end).map(pattern_byte).collect();
            (Ok::<_, std::io::Error>(Bytes::from(chunk)), end)
        })
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, n.to_string())
        .header(header::CONTENT_DISPOSITION, format!("attachment; filename=\"pattern-{n}.bin\""))
        .body(axum::body::Body::from_stream(chunks))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// SHA-256 as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// `/upload`: what arrived. A multipart form gives `{parts: [{name, fileName, contentType,
/// bytes, sha256, text?}]}`, any other body `{contentType, bytes, sha256}`.
async fn upload(request: axum::extract::Request) -> Response {
    use axum::extract::FromRequest;
    let content_type =
        request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    if content_type.starts_with("multipart/form-data") {
        let mut form = match axum::extract::Multipart::from_request(request, &()).await {
            Ok(form) => form,
            Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
        };
        let mut parts = Vec::new();
        loop {
            match form.next_field().await {
                Ok(Some(field)) => {
                    let name = field.name().unwrap_or("").to_string();
                    let file_name = field.file_name().map(str::to_string);
                    let part_type = field.content_type().map(str::to_string);
                    let Ok(data) = field.bytes().await else {
                        return (StatusCode::BAD_REQUEST, "a part was cut").into_response();
                    };
                    let text = file_name.is_none().then(|| String::from_utf8_lossy(&data).into_owned());
                    parts.push(json!({
                        "name": name, "fileName": file_name, "contentType": part_type,
                        "bytes": data.len(), "sha256": sha256_hex(&data), "text": text,
                    }));
                }
                Ok(None) => break,
                Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
            }
        }
        return axum::Json(json!({ "parts": parts })).into_response();
    }
    let body = match axum::body::to_bytes(request.into_body(), 512 * 1024 * 1024).await {
        Ok(body) => body,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    axum::Json(json!({ "contentType": content_type, "bytes": body.len(), "sha256": sha256_hex(&body) })).into_response()
}

/// FNV-1a, 64 bits, as hex: lets a test check which credential arrived without the server
/// ever echoing it (the run data must not hold secrets).
pub fn fingerprint(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// 401 without credentials; otherwise fingerprints of the Authorization header, the
/// X-API-Key header and every query value.
async fn inspect(Query(query): Query<BTreeMap<String, String>>, headers: HeaderMap) -> Response {
    let get = |name: &str| headers.get(name).map(|v| fingerprint(&String::from_utf8_lossy(v.as_bytes())));
    let (authorization, api_key) = (get("authorization"), get("x-api-key"));
    if authorization.is_none() && api_key.is_none() && query.is_empty() {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "no credentials"}))).into_response();
    }
    let query: BTreeMap<String, String> = query.iter().map(|(k, v)| (k.clone(), fingerprint(v))).collect();
    axum::Json(json!({ "authorization": authorization, "apiKey": api_key, "query": query })).into_response()
}

async fn echo(
    method: Method,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let headers: BTreeMap<String, String> = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let text = String::from_utf8_lossy(&body).into_owned();
    let parsed = serde_json::from_str::<Value>(&text).unwrap_or(Value::Null);
    axum::Json(json!({ "method": method.as_str(), "query": query, "headers": headers, "body": text, "json": parsed }))
        .into_response()
}

/// `/redirect?to=URL&status=302`: a redirect to `to` with that status (302 unless given).
async fn redirect(Query(query): Query<BTreeMap<String, String>>) -> Response {
    let status = query.get("status").and_then(|s| s.parse().ok()).and_then(|s| StatusCode::from_u16(s).ok());
    let to = query.get("to").cloned().unwrap_or_default();
    (status.unwrap_or(StatusCode::FOUND), [(header::LOCATION, to)]).into_response()
}

async fn status(Path(code): Path<u16>) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    (status, format!("status {code}")).into_response()
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(60)).await;
    "finally"
}
