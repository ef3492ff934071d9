//! HTTP Request: one request per input item; the response becomes items. A body can be one
//! of the item's files or a multipart form with files; a response can become a file,
//! streamed to the blob store (a download of any size holds one chunk in memory at a time).

use crate::credentials::Authorization;
use crate::node::{NodeContext, NodeResult, Outputs, describe};
use crate::registry::NodeEntry;
use crate::resilience::requested_wait;
use futures::StreamExt;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use switchyard_model::CredentialRef;
use switchyard_model::descriptor::{CredentialSlot, NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError};
use switchyard_model::item::{BinaryData, Item};
use switchyard_model::retry::BreakerState;
use switchyard_model::value::{Object, Value};
use switchyard_model::workflow::MAX_CONCURRENCY;

const METHODS: &[(&str, &str)] = &[
    ("GET", "GET"),
    ("POST", "POST"),
    ("PUT", "PUT"),
    ("PATCH", "PATCH"),
    ("DELETE", "DELETE"),
    ("HEAD", "HEAD"),
    ("OPTIONS", "OPTIONS"),
];
const WITH_BODY: &[&str] = &["POST", "PUT", "PATCH", "DELETE"];

pub const TYPE: &str = "http.request";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx)))
}

pub fn descriptor() -> NodeDescriptor {
    let mut d = super::descriptor(
        TYPE,
        "HTTP Request",
        "Calls a URL once per input item and turns the response into items.",
        NodeGroup::Action,
        "globe",
        vec![Port::main()],
        vec![
            ParamSpec::options("method", "Method", METHODS, "GET"),
            ParamSpec::string("url", "URL").required().placeholder("https://api.example.com/users/{{ json.id }}"),
            ParamSpec::key_value("query", "Query parameters"),
            ParamSpec::key_value("headers", "Headers"),
            ParamSpec::options(
                "bodyType",
                "Body",
                &[
                    ("none", "None"),
                    ("json", "JSON"),
                    ("form", "Form (urlencoded)"),
                    ("multipart", "Multipart form (fields and files)"),
                    ("raw", "Raw text"),
                    ("binary", "A file of the item (binary property)"),
                ],
                "json",
            )
            .show_if("method", WITH_BODY),
            ParamSpec::json("jsonBody", "JSON body")
                .default_value(serde_json::json!({}))
                .describe("A JSON value; strings in it may hold expressions, or the whole body may be one expression.")
                .show_if("method", WITH_BODY)
                .show_if("bodyType", &["json"]),
            ParamSpec::key_value("formBody", "Form fields")
                .show_if("method", WITH_BODY)
                .show_if("bodyType", &["form", "multipart"]),
            ParamSpec::key_value("multipartFiles", "File fields")
                .describe("Each pair: the form field's name → the item's file property that fills it (data, …).")
                .show_if("method", WITH_BODY)
                .show_if("bodyType", &["multipart"]),
            ParamSpec::string("bodyProperty", "File property")
                .default_value("data")
                .literal()
                .describe("Which of the item's files is the body; its media type is the Content-Type.")
                .show_if("method", WITH_BODY)
                .show_if("bodyType", &["binary"]),
            ParamSpec::string("rawBody", "Raw body").rows(6).show_if("method", WITH_BODY).show_if("bodyType", &["raw"]),
            ParamSpec::string("rawContentType", "Content type")
                .default_value("text/plain")
                .show_if("method", WITH_BODY)
                .show_if("bodyType", &["raw"]),
            ParamSpec::number("timeout", "Timeout (seconds)").default_value(30),
            ParamSpec::options(
                "responseFormat",
                "Response format",
                &[
                    ("auto", "Detect from Content-Type"),
                    ("json", "JSON"),
                    ("text", "Text"),
                    ("file", "File (binary property)"),
                ],
                "auto",
            ),
            ParamSpec::string("responseProperty", "File property")
                .default_value("data")
                .literal()
                .describe("The name the downloaded file gets in the item's files (binary.<name>).")
                .show_if("responseFormat", &["file"]),
            ParamSpec::boolean("splitArray", "Split a JSON list into items", true)
                .describe("A response that is a JSON list gives one item per element."),
            ParamSpec::boolean("fullResponse", "Full response", false)
                .describe("Emit {statusCode, headers, body} instead of the body alone."),
            ParamSpec::boolean("neverError", "Succeed on any status", false)
                .describe("Treat 4xx and 5xx responses as results, not errors."),
        ],
    );
    d.per_item_calls = true;
    d.credentials = vec![CredentialSlot {
        name: "auth".into(),
        label: "Authentication".into(),
        connection_types: vec![],
        required: false,
        url_parameter: Some("url".into()),
    }];
    d
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let auth = Auth::for_node(ctx).await?;
    let items = ctx.take_input(0).into_vec();
    let ctx: &NodeContext = ctx;
    let total = items.len();
    let concurrency = ctx.node.settings.concurrency.clamp(1, MAX_CONCURRENCY) as usize;
    let done = AtomicUsize::new(0);
    let (auth, done) = (&auth, &done);
    // Up to `concurrency` items in flight at any moment; results are put back in input
    // order before they are handed on, so a slow first item does not hold the others' slots.
    let mut results = futures::stream::iter(items.into_iter().enumerate().map(|(index, item)| async move {
        let result = ctx.retry_item(index, || request(ctx, auth, &item, index)).await;
        let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
        if total >= 10 {
            ctx.progress(finished, total);
        }
        (index, item, result)
    }))
    .buffer_unordered(concurrency);
    let mut out = Outputs::new();
    let mut waiting = std::collections::BTreeMap::new();
    let mut next = 0;
    while let Some((index, item, result)) = results.next().await {
        ctx.check_cancelled()?;
        waiting.insert(index, (item, result));
        while let Some((item, result)) = waiting.remove(&next) {
            match result {
                Ok(results) => out.extend("main", results),
                Err(error) => ctx.item_failed(&mut out, item, next, error)?,
            }
            next += 1;
        }
    }
    Ok(out)
}

/// The headers a name/value-pairs parameter holds, each checked as an HTTP header.
pub(crate) fn header_map(ctx: &NodeContext, param: &str, item: &Item, index: usize) -> Result<HeaderMap, NodeError> {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs(ctx, param, item, index)? {
        let header = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
            NodeError::new(ErrorCode::InvalidParameter, format!("\"{name}\" is not a valid header name"))
                .with_parameter(param)
                .with_item(index)
        })?;
        let value = HeaderValue::from_str(&value).map_err(|_| {
            NodeError::new(ErrorCode::InvalidParameter, format!("the value of header \"{name}\" is not valid"))
                .with_parameter(param)
                .with_item(index)
        })?;
        headers.append(header, value);
    }
    Ok(headers)
}

/// A name/value-pairs parameter (a list of `{name, value}`, or an object) as pairs.
pub(crate) fn pairs(
    ctx: &NodeContext,
    name: &str,
    item: &Item,
    index: usize,
) -> Result<Vec<(String, String)>, NodeError> {
    match ctx.eval(name, item, index)? {
        Value::Array(entries) => Ok(entries
            .iter()
            .filter_map(|e| {
                let key = e.get("name")?.to_text();
                (!key.trim().is_empty()).then(|| (key, e.get("value").map(Value::to_text).unwrap_or_default()))
            })
            .collect()),
        Value::Object(o) => Ok(o.iter().map(|(k, v)| (k.to_string(), v.to_text())).collect()),
        Value::Null => Ok(Vec::new()),
        other => Err(NodeError::new(
            ErrorCode::InvalidParameter,
            format!("expected name/value pairs, got {}", describe(&other)),
        )
        .with_parameter(name)
        .with_item(index)),
    }
}

/// The account a node authenticates with, fetched once per node run and refreshed once when
/// the server answers 401. Shared by the node's concurrent calls: a generation number makes
/// several 401s for the same token cause one refresh.
pub(crate) struct Auth {
    reference: Option<CredentialRef>,
    current: tokio::sync::Mutex<(u64, Option<Arc<Authorization>>)>,
}

impl Auth {
    /// No account: requests go out as they are.
    pub(crate) fn none() -> Auth {
        Auth { reference: None, current: tokio::sync::Mutex::new((0, None)) }
    }

    async fn for_node(ctx: &NodeContext) -> Result<Auth, NodeError> {
        let Some(reference) = ctx.node.credentials.get("auth").cloned() else {
            return Ok(Auth::none());
        };
        let current = Some(Arc::new(Auth::fetch(ctx, &reference, false).await?));
        Ok(Auth { reference: Some(reference), current: tokio::sync::Mutex::new((0, current)) })
    }

    async fn fetch(ctx: &NodeContext, reference: &CredentialRef, force: bool) -> Result<Authorization, NodeError> {
        let provider = ctx.services.credentials.as_ref().ok_or_else(|| {
            NodeError::new(
                ErrorCode::CredentialMissing,
                format!(
                    "credential slot \"auth\" refers to connection \"{}\", but no credential vault is available to this run",
                    reference.connection
                ),
            )
            .with_class(ErrorClass::Permanent)
        })?;
        provider.authorize(reference, force).await
    }

    /// The authorization in force and its generation.
    async fn snapshot(&self) -> (u64, Option<Arc<Authorization>>) {
        let current = self.current.lock().await;
        (current.0, current.1.clone())
    }

    /// After a 401 with generation `seen`: a refreshable token is replaced once (or was
    /// already replaced by another call). True when a retry is worth it.
    async fn refresh(&self, ctx: &NodeContext, seen: u64) -> Result<bool, NodeError> {
        let Some(reference) = &self.reference else { return Ok(false) };
        let mut current = self.current.lock().await;
        if current.0 != seen {
            return Ok(true);
        }
        if !current.1.as_ref().is_some_and(|a| a.refreshable) {
            return Ok(false);
        }
        *current = (seen + 1, Some(Arc::new(Auth::fetch(ctx, reference, true).await?)));
        Ok(true)
    }

    /// The breaker key of the account, so one broken account does not stop the others.
    fn account_key(&self) -> Option<String> {
        self.reference
            .as_ref()
            .map(|r| format!("account:{}/{}", r.connection, r.account.as_deref().unwrap_or("(default)")))
    }
}

fn apply(
    auth: &Option<Arc<Authorization>>,
    builder: reqwest::RequestBuilder,
    url: &url::Url,
    index: usize,
) -> Result<reqwest::RequestBuilder, NodeError> {
    match auth {
        Some(auth) => auth.apply(builder, url).map_err(|e| e.with_parameter("url").with_item(index)),
        None => Ok(builder),
    }
}

/// `host:port` of a URL: the key of its breaker and rate limit.
fn host_key(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    }
}

async fn request(ctx: &NodeContext, auth: &Auth, item: &Item, index: usize) -> Result<Vec<Item>, NodeError> {
    let method = ctx.choice("method");
    let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|_| {
        NodeError::new(ErrorCode::UnknownOption, format!("unknown method \"{method}\"")).with_parameter("method")
    })?;
    let url_text = ctx.str_param("url", item, index)?;
    let mut url = url::Url::parse(url_text.trim()).map_err(|e| {
        NodeError::new(ErrorCode::InvalidParameter, format!("\"{url_text}\" is not a valid URL: {e}"))
            .with_parameter("url")
            .with_item(index)
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(NodeError::new(
            ErrorCode::InvalidParameter,
            format!("only http and https URLs are supported, got \"{}\"", url.scheme()),
        )
        .with_parameter("url")
        .with_item(index));
    }
    let query = pairs(ctx, "query", item, index)?;
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    let headers = header_map(ctx, "headers", item, index)?;
    let timeout = ctx.f64_param("timeout", item, index)?;
    if !(timeout > 0.0 && timeout.is_finite()) {
        return Err(NodeError::new(ErrorCode::InvalidParameter, "the timeout must be above 0 seconds")
            .with_parameter("timeout")
            .with_item(index));
    }

    let mut builder = ctx.services.http.request(method.clone(), url.clone()).timeout(Duration::from_secs_f64(timeout));
    if WITH_BODY.contains(&method.as_str()) {
        match ctx.choice("bodyType").as_str() {
            "json" => {
                let body = ctx.eval("jsonBody", item, index)?;
                builder = builder.header(CONTENT_TYPE, "application/json").body(body.to_json_string());
            }
            "form" => {
                let fields = pairs(ctx, "formBody", item, index)?;
                builder = builder.form(&fields);
            }
            "raw" => {
                let body = ctx.str_param("rawBody", item, index)?;
                let content_type = ctx.str_param("rawContentType", item, index)?;
                builder = builder.header(CONTENT_TYPE, content_type).body(body);
            }
            "binary" => {
                let property = crate::binary::property_name(ctx.raw_param("bodyProperty"));
                let data = crate::binary::file_of(item, &property, "bodyProperty").map_err(|e| e.with_item(index))?;
                builder = builder.header(CONTENT_TYPE, data.mime_type.as_str()).body(file_body(ctx, data).await?);
            }
            "multipart" => builder = builder.multipart(multipart(ctx, item, index).await?),
            _ => {}
        }
    }
    builder = builder.headers(headers);

    let format = ctx.choice("responseFormat");
    if format == "file" {
        let property = crate::binary::property_name(ctx.raw_param("responseProperty"));
        return download(ctx, auth, builder, &url, &method, item, index, property).await;
    }
    let (status, response_headers, body) = guarded_send(ctx, auth, builder, &url, index, Read::Memory).await?;
    let bytes = body.bytes();
    let is_json =
        response_headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| ct.contains("json"));

    if !status.is_success() && !ctx.raw_param("neverError").as_bool().unwrap_or(false) {
        return Err(status_error(ctx, &method, &url, status, &response_headers, &bytes, index));
    }

    let body = if bytes.is_empty() {
        Value::Null
    } else if format == "json" || (format == "auto" && is_json) {
        serde_json::from_slice::<Value>(&bytes).map_err(|e| {
            NodeError::new(ErrorCode::HttpRequestFailed, format!("the response is not valid JSON: {e}"))
                .with_item(index)
        })?
    } else {
        Value::from(String::from_utf8_lossy(&bytes).into_owned())
    };

    let derived = |json: Value| Item::derived(json, index);
    if ctx.raw_param("fullResponse").as_bool().unwrap_or(false) {
        let mut header_object = Object::new();
        for (name, value) in &response_headers {
            header_object.insert(name.as_str(), Value::from(String::from_utf8_lossy(value.as_bytes()).into_owned()));
        }
        let mut json = Object::new();
        json.insert("statusCode", Value::from(status.as_u16()));
        json.insert("headers", Value::object(header_object));
        json.insert("body", body);
        return Ok(vec![derived(Value::object(json))]);
    }
    let split = ctx.raw_param("splitArray").as_bool().unwrap_or(true);
    Ok(match body {
        Value::Array(elements) if split => {
            elements.into_vec().into_iter().map(|e| derived(Item::wrap(e).json)).collect()
        }
        Value::Null => vec![derived(Value::object(Object::new()))],
        Value::String(text) => vec![derived(Value::object([("data", Value::String(text))].into_iter().collect()))],
        other => vec![derived(Item::wrap(other).json)],
    })
}

/// A file as a request body: in memory up to 8 MiB (so a 401 refresh or a redirect can
/// send it again), streamed from the blob store above.
async fn file_body(ctx: &NodeContext, data: &BinaryData) -> Result<reqwest::Body, NodeError> {
    if data.size <= IN_MEMORY_BODY {
        return Ok(reqwest::Body::from(ctx.services.blobs.read(data, IN_MEMORY_BODY as usize).await?));
    }
    let file = ctx.services.blobs.open(data).await?;
    Ok(reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024)))
}

const IN_MEMORY_BODY: u64 = 8 * 1024 * 1024;

/// A multipart form: the text fields, then a file part per file field.
async fn multipart(ctx: &NodeContext, item: &Item, index: usize) -> Result<reqwest::multipart::Form, NodeError> {
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in pairs(ctx, "formBody", item, index)? {
        form = form.text(name, value);
    }
    for (field, property) in pairs(ctx, "multipartFiles", item, index)? {
        let property = if property.trim().is_empty() { "data".to_string() } else { property.trim().to_string() };
        let data = crate::binary::file_of(item, &property, "multipartFiles").map_err(|e| e.with_item(index))?;
        let body = file_body(ctx, data).await?;
        let part = reqwest::multipart::Part::stream_with_length(body, data.size)
            .file_name(data.file_name.clone())
            .mime_str(&data.mime_type)
            .map_err(|_| {
                NodeError::new(
                    ErrorCode::InvalidParameter,
                    format!("the file \"{property}\" has the media type \"{}\", which is not valid", data.mime_type),
                )
                .with_parameter("multipartFiles")
                .with_item(index)
            })?;
        form = form.part(field, part);
    }
    Ok(form)
}

/// Downloads the response into the blob store: the item gets it as a file (named by the
/// server's Content-Disposition, else the URL's last segment).
#[allow(clippy::too_many_arguments)]
async fn download(
    ctx: &NodeContext,
    auth: &Auth,
    builder: reqwest::RequestBuilder,
    url: &url::Url,
    method: &reqwest::Method,
    item: &Item,
    index: usize,
    property: String,
) -> Result<Vec<Item>, NodeError> {
    let (status, headers, body) = guarded_send(ctx, auth, builder, url, index, Read::File).await?;
    let data = match body {
        Body::File(stored) if status.is_success() => stored,
        other => {
            if !status.is_success() && !ctx.raw_param("neverError").as_bool().unwrap_or(false) {
                return Err(status_error(ctx, method, url, status, &headers, &other.bytes(), index));
            }
            // An error answer accepted as a result: its (small) body is the file.
            let name = file_name(&headers, url);
            let mime = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
            ctx.services.blobs.put(&other.bytes(), &name, mime.as_deref()).await?
        }
    };
    let mut json = Object::new();
    if ctx.raw_param("fullResponse").as_bool().unwrap_or(false) {
        let mut header_object = Object::new();
        for (name, value) in &headers {
            header_object.insert(name.as_str(), Value::from(String::from_utf8_lossy(value.as_bytes()).into_owned()));
        }
        json.insert("statusCode", Value::from(status.as_u16()));
        json.insert("headers", Value::object(header_object));
    }
    let mut out = Item::derived(Value::object(json), index);
    // The input item's files stay; the download is added under its property.
    out.binary = item.binary.clone();
    out.set_file(property, data);
    Ok(vec![out])
}

/// The name of a downloaded file: Content-Disposition's `filename`, else the URL's last
/// path segment, else `download`.
fn file_name(headers: &HeaderMap, url: &url::Url) -> String {
    let disposition = headers.get(reqwest::header::CONTENT_DISPOSITION).and_then(|v| v.to_str().ok()).unwrap_or("");
    let from_header = disposition.split(';').map(str::trim).find_map(|part| {
        let value = part.strip_prefix("filename=")?;
        Some(value.trim_matches('"').to_string())
    });
    let name = from_header
        .or_else(|| url.path_segments().and_then(|mut s| s.next_back()).map(str::to_string))
        .unwrap_or_default();
    // Only the last component: a server cannot name a path.
    let name = name.rsplit(['/', '\\']).next().unwrap_or("").trim().to_string();
    if name.is_empty() || name == "." || name == ".." { "download".to_string() } else { name }
}

/// How a response's body is read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Read {
    /// Into memory, up to the largest item.
    Memory,
    /// A success's body into the blob store; an error's into memory (for its message).
    File,
}

/// A response's body as read.
pub(crate) enum Body {
    Bytes(bytes::Bytes),
    File(BinaryData),
}

impl Body {
    /// The body's bytes (none for one stored as a file).
    pub(crate) fn bytes(&self) -> bytes::Bytes {
        match self {
            Body::Bytes(b) => b.clone(),
            Body::File(_) => bytes::Bytes::new(),
        }
    }
}

/// Sends a request under the host's (and account's) breaker and rate limit and reads the
/// whole response: open breakers fail at once, 5xx/408/transport failures count against the
/// breakers, 429s slow the host's rate down.
pub(crate) async fn guarded_send(
    ctx: &NodeContext,
    auth: &Auth,
    builder: reqwest::RequestBuilder,
    url: &url::Url,
    index: usize,
    read: Read,
) -> Result<(reqwest::StatusCode, HeaderMap, Body), NodeError> {
    // Credentials for a host their account does not allow fail before anything else: no
    // breaker, rate limit or retry counts them.
    if let (_, Some(current)) = auth.snapshot().await {
        current.scope.check(url).map_err(|e| e.with_parameter("url").with_item(index))?;
    }
    let resilience = &ctx.services.resilience;
    let host = host_key(url);
    let limited_host = url.host_str().unwrap_or("").to_ascii_lowercase();
    // An open breaker fails at once rather than after queueing for the rate limit.
    resilience.check(&host).map_err(|e| e.with_item(index))?;
    if let Some(key) = auth.account_key() {
        resilience.check(&key).map_err(|e| e.with_item(index))?;
    }
    // The host's rate, then the connection type's (`connection:<type>` in the settings).
    let connection_key = auth.reference.as_ref().map(|r| format!("connection:{}", r.connection));
    let throttled = async {
        for key in std::iter::once(&limited_host).chain(&connection_key) {
            let waited = resilience.throttle(key).await;
            if !waited.is_zero() {
                ctx.report_throttled(key, waited);
            }
        }
    };
    tokio::select! {
        () = throttled => {}
        () = ctx.cancel.cancelled() => return Err(NodeError::new(ErrorCode::Cancelled, "the run was cancelled")),
    }
    let host_admission = resilience.admit(&host).map_err(|e| e.with_item(index))?;
    if host_admission.is_trial() {
        ctx.report_breaker(&host, BreakerState::HalfOpen);
    }
    let account_key = auth.account_key();
    let account_admission = match &account_key {
        Some(key) => match resilience.admit(key) {
            Ok(a) => {
                if a.is_trial() {
                    ctx.report_breaker(key, BreakerState::HalfOpen);
                }
                Some(a)
            }
            Err(e) => {
                if let Some(state) = resilience.record(host_admission, Ok(())) {
                    ctx.report_breaker(&host, state);
                }
                return Err(e.with_item(index));
            }
        },
        None => None,
    };
    let outcome = exchange(ctx, auth, builder, url, index, read).await;
    let verdict = match &outcome {
        Ok((status, _, _)) if status.is_server_error() || *status == reqwest::StatusCode::REQUEST_TIMEOUT => {
            Err(class_of_status(status.as_u16()))
        }
        Ok(_) => Ok(()),
        Err(e) => Err(e.class),
    };
    if let Some(state) = resilience.record(host_admission, verdict) {
        ctx.report_breaker(&host, state);
    }
    if let (Some(a), Some(key)) = (account_admission, &account_key)
        && let Some(state) = resilience.record(a, verdict)
    {
        ctx.report_breaker(key, state);
    }
    let (status, response_headers, bytes) = outcome?;
    let rate_limited = status == reqwest::StatusCode::TOO_MANY_REQUESTS;
    resilience.rate_feedback(&limited_host, rate_limited);
    if let Some(key) = &connection_key {
        resilience.rate_feedback(key, rate_limited);
    }
    Ok((status, response_headers, bytes))
}

/// Sends a request with `client`, unless the run is cancelled first.
async fn send_request(
    ctx: &NodeContext,
    client: &reqwest::Client,
    request: reqwest::Request,
    url: &url::Url,
    index: usize,
) -> Result<reqwest::Response, NodeError> {
    tokio::select! {
        r = client.execute(request) => r.map_err(|e| transport_error(&e, url).with_item(index)),
        () = ctx.cancel.cancelled() => Err(NodeError::new(ErrorCode::Cancelled, "the run was cancelled")),
    }
}

/// Redirects an authenticated request follows at most.
const MAX_REDIRECTS: usize = 10;

/// Sends a request that carries an account's credentials, following redirects itself: to
/// another origin (scheme, host, port) without the headers the account added (nor
/// Authorization, Cookie, Proxy-Authorization), so a redirect never hands them to another
/// host. reqwest's own policy strips only Authorization and Cookie.
async fn follow_redirects(
    ctx: &NodeContext,
    mut request: reqwest::Request,
    credential_headers: &[reqwest::header::HeaderName],
    url: &url::Url,
    index: usize,
) -> Result<reqwest::Response, NodeError> {
    use reqwest::header::{AUTHORIZATION, CONTENT_LENGTH, COOKIE, LOCATION, PROXY_AUTHORIZATION};
    let origin = url.origin();
    for _ in 0..=MAX_REDIRECTS {
        let again = request.try_clone();
        let response = send_request(ctx, &ctx.services.http_direct, request, url, index).await?;
        let status = response.status().as_u16();
        let location = response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).map(str::to_string);
        let (Some(location), true, Some(mut next)) = (location, matches!(status, 301 | 302 | 303 | 307 | 308), again)
        else {
            return Ok(response);
        };
        let target = next.url().join(&location).map_err(|e| {
            NodeError::new(
                ErrorCode::HttpRequestFailed,
                format!("{} redirected to \"{location}\", which is not a URL: {e}", redact(next.url())),
            )
            .with_item(index)
        })?;
        // As browsers do: 303, and 301/302 after a POST, continue with a GET and no body.
        if status == 303 || (matches!(status, 301 | 302) && next.method() == reqwest::Method::POST) {
            *next.method_mut() = reqwest::Method::GET;
            *next.body_mut() = None;
            next.headers_mut().remove(CONTENT_TYPE);
            next.headers_mut().remove(CONTENT_LENGTH);
        }
        if target.origin() != origin {
            for name in credential_headers.iter().chain([&AUTHORIZATION, &COOKIE, &PROXY_AUTHORIZATION]) {
                next.headers_mut().remove(name);
            }
        }
        *next.url_mut() = target;
        request = next;
    }
    Err(NodeError::new(
        ErrorCode::HttpRequestFailed,
        format!("{} redirected more than {MAX_REDIRECTS} times", redact(url)),
    )
    .with_class(ErrorClass::Permanent)
    .with_item(index))
}

/// The error for a 4xx/5xx answer: its class decides retries; a server's Retry-After is
/// kept for the retry's wait.
pub(crate) fn status_error(
    ctx: &NodeContext,
    method: &reqwest::Method,
    url: &url::Url,
    status: reqwest::StatusCode,
    headers: &HeaderMap,
    bytes: &[u8],
    index: usize,
) -> NodeError {
    let snippet: String = String::from_utf8_lossy(bytes).chars().take(500).collect();
    let class = class_of_status(status.as_u16());
    let wait = match class {
        ErrorClass::RateLimit | ErrorClass::Transient | ErrorClass::Timeout => {
            requested_wait(headers, ctx.services.clock.now())
        }
        _ => None,
    };
    NodeError::new(ErrorCode::HttpStatus, format!("{} {} answered {}", method, redact(url), status))
        .with_class(class)
        .with_item(index)
        .with_retry_after(wait)
        .with_details(serde_json::json!({ "status": status.as_u16(), "body": snippet }))
}

/// Sends the request (with the account's authorization, refreshed and sent again once after
/// a 401) and reads the whole response.
async fn exchange(
    ctx: &NodeContext,
    auth: &Auth,
    builder: reqwest::RequestBuilder,
    url: &url::Url,
    index: usize,
    read: Read,
) -> Result<(reqwest::StatusCode, HeaderMap, Body), NodeError> {
    let send = |builder: reqwest::RequestBuilder, current: Option<Arc<Authorization>>| async move {
        let request = builder.build().map_err(|e| transport_error(&e, url).with_item(index))?;
        match current {
            None => send_request(ctx, &ctx.services.http, request, url, index).await,
            Some(auth) => follow_redirects(ctx, request, &auth.header_names(), url, index).await,
        }
    };
    let retry_copy = builder.try_clone();
    let (generation, current) = auth.snapshot().await;
    let mut response = send(apply(&current, builder, url, index)?, current).await?;
    if response.status() == reqwest::StatusCode::UNAUTHORIZED
        && let Some(again) = retry_copy
        && auth.refresh(ctx, generation).await?
    {
        let (_, current) = auth.snapshot().await;
        response = send(apply(&current, again, url, index)?, current).await?;
    }
    let status = response.status();
    let headers = response.headers().clone();
    let body = tokio::select! {
        b = read_body(ctx, response, url, index, read == Read::File && status.is_success()) => b?,
        () = ctx.cancel.cancelled() => return Err(NodeError::new(ErrorCode::Cancelled, "the run was cancelled")),
    };
    Ok((status, headers, body))
}

/// Reads a response's body chunk by chunk: into the blob store, or into memory up to the
/// largest item (a server cannot make a run hold more).
async fn read_body(
    ctx: &NodeContext,
    mut response: reqwest::Response,
    url: &url::Url,
    index: usize,
    to_file: bool,
) -> Result<Body, NodeError> {
    let failed = |e: reqwest::Error| transport_error(&e, url).with_item(index);
    if to_file {
        let name = file_name(response.headers(), url);
        let mime = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
        let mut writer = ctx.services.blobs.writer().await?;
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            writer.write(&chunk).await.map_err(|e| crate::binary::blob_error(e).with_item(index))?;
        }
        let stored = writer.finish().await.map_err(crate::binary::blob_error)?;
        return Ok(Body::File(crate::binary::describe(stored, &name, mime.as_deref())));
    }
    let max = ctx.services.items.max_item_bytes;
    let mut bytes = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        if bytes.len() + chunk.len() > max {
            return Err(NodeError::new(
                ErrorCode::ValueTooLarge,
                format!(
                    "the response of {} is larger than the largest item ({} MiB); \"Response format: File\" \
                     downloads it as a file of any size",
                    redact(url),
                    max / (1024 * 1024)
                ),
            )
            .with_class(ErrorClass::Permanent)
            .with_item(index));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Body::Bytes(bytes.freeze()))
}

/// The class of an HTTP status: whether retrying can help.
pub fn class_of_status(status: u16) -> ErrorClass {
    match status {
        408 => ErrorClass::Timeout,
        429 => ErrorClass::RateLimit,
        500..=599 => ErrorClass::Transient,
        400..=499 => ErrorClass::Permanent,
        _ => ErrorClass::Unknown,
    }
}

/// A URL without its query string and user info, for messages.
fn redact(url: &url::Url) -> String {
    switchyard_model::redact::redact_urls(url.as_str())
}

fn transport_error(e: &reqwest::Error, url: &url::Url) -> NodeError {
    let target = redact(url);
    if e.is_timeout() {
        return NodeError::new(ErrorCode::Timeout, format!("{target} did not answer in time"))
            .with_class(ErrorClass::Timeout);
    }
    let mut source: Option<&dyn std::error::Error> = Some(e);
    let mut chain = Vec::new();
    while let Some(s) = source {
        chain.push(s.to_string());
        source = s.source();
    }
    let detail = chain.last().cloned().unwrap_or_default();
    let all = chain.join(": ").to_ascii_lowercase();
    let class = if all.contains("certificate") || all.contains("tls") || all.contains("ssl") {
        // A certificate or handshake problem does not go away by trying again.
        ErrorClass::Permanent
    } else if e.is_connect() || e.is_request() || e.is_body() || e.is_decode() || all.contains("dns") {
        ErrorClass::Network
    } else {
        ErrorClass::Unknown
    };
    NodeError::new(ErrorCode::HttpRequestFailed, format!("request to {target} failed: {detail}")).with_class(class)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::as_number;

    #[test]
    fn status_classes() {
        assert_eq!(class_of_status(503), ErrorClass::Transient);
        assert_eq!(class_of_status(429), ErrorClass::RateLimit);
        assert_eq!(class_of_status(404), ErrorClass::Permanent);
        assert_eq!(class_of_status(401), ErrorClass::Permanent);
        assert_eq!(class_of_status(408), ErrorClass::Timeout);
    }

    #[test]
    fn redacts_query_and_password() {
        let url = url::Url::parse("https://user:pw@example.com/a?token=secret").unwrap();
        assert_eq!(redact(&url), "https://example.com/a");
    }

    #[test]
    fn as_number_parses_strings() {
        assert_eq!(as_number(&Value::from("2.5")), Some(2.5));
    }
}
