//! HTTP calls as nodes make them: with an account's authorization (refreshed once after a
//! 401, never sent to a host the account does not allow, dropped on redirects to another
//! origin), under the host's and the account's circuit breakers and rate limits, with the
//! response read into memory (up to the largest item), into the blob store, or handed to a
//! sink as it streams in. HTTP Request, Send Webhook and the AI nodes call through here.

use crate::credentials::Authorization;
use crate::node::NodeContext;
use crate::resilience::requested_wait;
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use std::sync::Arc;
use switchyard_model::CredentialRef;
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError};
use switchyard_model::item::BinaryData;
use switchyard_model::retry::BreakerState;

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

    /// The account in the node's credential slot `slot`, if one is chosen.
    pub(crate) async fn for_slot(ctx: &NodeContext, slot: &str) -> Result<Auth, NodeError> {
        match ctx.node.credentials.get(slot).cloned() {
            Some(reference) => Auth::for_account(ctx, reference).await,
            None => Ok(Auth::none()),
        }
    }

    /// The account `reference` names, authorized now.
    pub(crate) async fn for_account(ctx: &NodeContext, reference: CredentialRef) -> Result<Auth, NodeError> {
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

    /// The authorization in force and its generation (none, without locking, when there
    /// is no account).
    async fn snapshot(&self) -> (u64, Option<Arc<Authorization>>) {
        if self.reference.is_none() {
            return (0, None);
        }
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

/// The name of a downloaded file: Content-Disposition's `filename`, else the URL's last
/// path segment, else `download`.
pub(crate) fn file_name(headers: &HeaderMap, url: &url::Url) -> String {
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
#[derive(Clone, Copy)]
pub(crate) enum Read<'a> {
    /// Into memory, up to the largest item.
    Memory,
    /// A success's body into the blob store; an error's into memory (for its message).
    File,
    /// A success's body handed to the sink chunk by chunk as it arrives, nothing kept (a
    /// model's streamed answer); an error's into memory.
    Stream(&'a (dyn Fn(&[u8]) -> Result<(), NodeError> + Sync)),
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
    read: Read<'_>,
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
    read: Read<'_>,
) -> Result<(reqwest::StatusCode, HeaderMap, Body), NodeError> {
    let send = |builder: reqwest::RequestBuilder, current: Option<Arc<Authorization>>| async move {
        let request = builder.build().map_err(|e| transport_error(&e, url).with_item(index))?;
        match current {
            None => send_request(ctx, &ctx.services.http, request, url, index).await,
            // Boxed: the account's path is the rarer one and would double every call's future.
            Some(auth) => Box::pin(follow_redirects(ctx, request, &auth.header_names(), url, index)).await,
        }
    };
    // A copy to send again after a 401, which only an account can answer.
    let retry_copy = if auth.reference.is_some() { builder.try_clone() } else { None };
    let (generation, current) = auth.snapshot().await;
    let mut response = send(apply(&current, builder, url, index)?, current).await?;
    if response.status() == reqwest::StatusCode::UNAUTHORIZED
        && let Some(again) = retry_copy
        && Box::pin(auth.refresh(ctx, generation)).await?
    {
        let (_, current) = auth.snapshot().await;
        response = send(apply(&current, again, url, index)?, current).await?;
    }
    let status = response.status();
    let body = tokio::select! {
        b = read_body(ctx, &mut response, url, index, if status.is_success() { read } else { Read::Memory }) => b?,
        () = ctx.cancel.cancelled() => return Err(NodeError::new(ErrorCode::Cancelled, "the run was cancelled")),
    };
    Ok((status, std::mem::take(response.headers_mut()), body))
}

/// Reads a response's body chunk by chunk: into the blob store, into a stream's sink, or
/// into memory up to the largest item (a server cannot make a run hold more).
async fn read_body(
    ctx: &NodeContext,
    response: &mut reqwest::Response,
    url: &url::Url,
    index: usize,
    read: Read<'_>,
) -> Result<Body, NodeError> {
    let failed = |e: reqwest::Error| transport_error(&e, url).with_item(index);
    if let Read::Stream(sink) = read {
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            sink(&chunk)?;
        }
        return Ok(Body::Bytes(bytes::Bytes::new()));
    }
    if matches!(read, Read::File) {
        // Boxed: the blob writer's futures would otherwise sit in every call's future.
        return Box::pin(read_into_file(ctx, response, url, index)).await;
    }
    let max = ctx.services.items.max_item_bytes;
    // Most bodies arrive as one chunk, kept as it is; a second one starts a copy.
    let mut first: Option<bytes::Bytes> = None;
    let mut bytes = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        let held = first.as_ref().map_or(0, bytes::Bytes::len);
        if held + bytes.len() + chunk.len() > max {
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
        if first.is_none() && bytes.is_empty() {
            first = Some(chunk);
            continue;
        }
        if let Some(head) = first.take() {
            bytes.reserve(head.len() + chunk.len());
            bytes.extend_from_slice(&head);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Body::Bytes(first.unwrap_or_else(|| bytes.freeze())))
}

/// A success's body streamed into the blob store, named by Content-Disposition or the URL.
async fn read_into_file(
    ctx: &NodeContext,
    response: &mut reqwest::Response,
    url: &url::Url,
    index: usize,
) -> Result<Body, NodeError> {
    let failed = |e: reqwest::Error| transport_error(&e, url).with_item(index);
    let name = file_name(response.headers(), url);
    let mime = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    let mut writer = ctx.services.blobs.writer().await?;
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        writer.write(&chunk).await.map_err(|e| crate::binary::blob_error(e).with_item(index))?;
    }
    let stored = writer.finish().await.map_err(crate::binary::blob_error)?;
    Ok(Body::File(crate::binary::describe(stored, &name, mime.as_deref())))
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
pub(crate) fn redact(url: &url::Url) -> String {
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
}
