//! The REST API `switchyard serve` answers under `/api/v1`: every command of the manifest
//! that has a scope, at the route the manifest gives it, with an API token
//! (`Authorization: Bearer syt_…`) whose scope allows it. Requests become the command's JSON
//! request (the path's fields, then the query's or the body's) and go through
//! [`Api::dispatch`], exactly as the desktop's do; errors are the same JSON with the same
//! codes. The OpenAPI document (`/api/v1/openapi.json`) and the docs page (`/api/v1/docs`)
//! are served without a token: they hold nothing that is not in the source.

use crate::openapi::{RouteShape, refusal};
use crate::tokens::{Caller, Scope};
use crate::{Api, ApiError, Inner};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, get};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;
use std::sync::{Arc, LazyLock, Weak};
use switchyard_model::error::ErrorCode;

/// Where the API is served.
pub const BASE: &str = "/api/v1";
/// The largest request body (a workflow file with pinned data fits).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Requests per second per token when `serve` is not told otherwise (bursts of twice that).
pub const DEFAULT_RATE_PER_SECOND: u32 = 50;

static DOCUMENT: LazyLock<(Value, Vec<RouteShape>)> = LazyLock::new(crate::manifest::openapi);
static DOCUMENT_TEXT: LazyLock<String> =
    LazyLock::new(|| serde_json::to_string_pretty(&DOCUMENT.0).unwrap_or_default() + "\n");
const REDOC: &[u8] = include_bytes!("../assets/redoc/redoc.standalone.js");
const DOCS_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchyard API</title>
<style>body { margin: 0; }</style>
</head>
<body>
<redoc spec-url="openapi.json" hide-download-button></redoc>
<script src="redoc.standalone.js"></script>
</body>
</html>
"#;
/// The docs page loads only what this server serves (no CDN, no fonts from elsewhere).
const DOCS_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src blob:; child-src blob:";

/// The OpenAPI 3.1 document, as `/api/v1/openapi.json` serves it (and `docs/api/openapi.json`
/// holds it).
pub fn openapi_json() -> &'static str {
    &DOCUMENT_TEXT
}

/// The routes the REST API serves.
pub fn routes() -> &'static [RouteShape] {
    &DOCUMENT.1
}

/// The HTTP status for an error code.
pub fn status(code: ErrorCode) -> StatusCode {
    use ErrorCode::*;
    match code {
        BadRequest | InvalidJson => StatusCode::BAD_REQUEST,
        Unauthorized => StatusCode::UNAUTHORIZED,
        Forbidden => StatusCode::FORBIDDEN,
        NotFound => StatusCode::NOT_FOUND,
        Conflict | WorkflowUntrusted => StatusCode::CONFLICT,
        VaultLocked => StatusCode::LOCKED,
        RateLimited => StatusCode::TOO_MANY_REQUESTS,
        Storage | Io | Internal | KeyringUnavailable => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

fn answer(error: ApiError) -> Response {
    let status = status(error.code);
    let mut response = (status, axum::Json(&error)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// What a request brings: its path's fields, its query string, its headers and its body.
struct Incoming {
    params: HashMap<String, String>,
    query: Option<String>,
    headers: HeaderMap,
    body: Body,
}

struct Rest {
    api: Weak<Inner>,
    limiter: DefaultKeyedRateLimiter<String>,
}

/// The API's router, to be nested under [`BASE`]. It holds the API weakly: the listener
/// that serves it belongs to the API.
pub(crate) fn router(api: Weak<Inner>, per_second: u32) -> Router {
    let rate = NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = rate.saturating_mul(NonZeroU32::new(2).unwrap_or(NonZeroU32::MIN));
    let rest = Arc::new(Rest { api, limiter: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)) });
    let mut by_path: BTreeMap<&str, MethodRouter> = BTreeMap::new();
    for shape in routes() {
        let filter = match shape.method {
            "GET" => MethodFilter::GET,
            "POST" => MethodFilter::POST,
            "PUT" => MethodFilter::PUT,
            "PATCH" => MethodFilter::PATCH,
            _ => MethodFilter::DELETE,
        };
        let (rest, shape, path) = (rest.clone(), shape.clone(), shape.path);
        let handler = move |params: Option<Path<HashMap<String, String>>>,
                            RawQuery(query): RawQuery,
                            headers: HeaderMap,
                            body: Body| {
            let (rest, shape) = (rest.clone(), shape.clone());
            let params = params.map(|Path(p)| p).unwrap_or_default();
            async move { rest.handle(&shape, Incoming { params, query, headers, body }).await }
        };
        let entry = by_path.remove(path).unwrap_or_default();
        by_path.insert(path, entry.on(filter, handler));
    }
    let mut router = Router::new();
    for (path, methods) in by_path {
        router = router.route(path, methods);
    }
    router
        .route("/openapi.json", get(|| async { ([(header::CONTENT_TYPE, "application/json")], openapi_json()) }))
        .route(
            "/docs",
            get(|| async { ([(header::CONTENT_SECURITY_POLICY, DOCS_POLICY)], axum::response::Html(DOCS_PAGE)) }),
        )
        .route(
            "/redoc.standalone.js",
            get(|| async {
                ([(header::CONTENT_TYPE, "text/javascript"), (header::CACHE_CONTROL, "public, max-age=86400")], REDOC)
            }),
        )
        .fallback(|method: Method, uri: axum::http::Uri| async move {
            answer(ApiError::not_found(format!(
                "there is no API route {method} {BASE}{}; {BASE}/openapi.json lists them",
                uri.path()
            )))
        })
}

impl Rest {
    async fn handle(&self, shape: &RouteShape, request: Incoming) -> Response {
        match self.run(shape, request).await {
            Ok(value) => (StatusCode::OK, axum::Json(value)).into_response(),
            Err(error) => {
                let retry = error.details.get("retryAfterSeconds").and_then(Value::as_u64);
                let mut response = answer(error);
                if let Some(seconds) = retry {
                    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
                }
                response
            }
        }
    }

    async fn run(&self, shape: &RouteShape, request: Incoming) -> Result<Value, ApiError> {
        let Incoming { params, query, headers, body } = request;
        let api = Api {
            inner: self
                .api
                .upgrade()
                .ok_or_else(|| ApiError::new(ErrorCode::Internal, "the server is shutting down"))?,
        };
        let caller = authenticate(&api, &headers)?;
        if caller.scope < shape.scope {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                format!(
                    "{} {BASE}{} ({}) needs a token with scope \"{}\"; this token's scope is \"{}\"",
                    shape.method,
                    shape.path,
                    shape.command,
                    shape.scope.as_str(),
                    caller.scope.as_str()
                ),
            ));
        }
        if let Err(not_until) = self.limiter.check_key(&caller.token_id) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Err(ApiError::new(
                ErrorCode::RateLimited,
                format!("too many requests with this token; try again in {seconds} s"),
            )
            .with_details(serde_json::json!({ "retryAfterSeconds": seconds.max(1) })));
        }
        let payload = payload(shape, params, query.as_deref(), body).await?;
        let mut answer = api.dispatch(shape.command, Value::Object(payload)).await?;
        // Where the server keeps its data is for its administrators: a read or run token sees
        // the version and the node types, not the paths or the database's address.
        if shape.command == "app_info" && caller.scope < Scope::Admin {
            for field in ["dataDir", "databasePath"] {
                answer[field] = Value::from("(shown to admin tokens only)");
            }
        }
        Ok(answer)
    }
}

fn authenticate(api: &Api, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let value = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("").trim();
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => {
            return Err(ApiError::new(
                ErrorCode::Unauthorized,
                "send an API token as \"Authorization: Bearer syt_…\" (Settings → API tokens, or `switchyard tokens create`)",
            ));
        }
    };
    api.authenticate(token)
}

/// The command's request: the path's fields, then the query's (GET, DELETE) or the body's.
async fn payload(
    shape: &RouteShape,
    params: HashMap<String, String>,
    query: Option<&str>,
    body: Body,
) -> Result<Map<String, Value>, ApiError> {
    let kind = |name: &str| shape.fields.iter().find(|(f, _)| f == name).map(|(_, k)| *k);
    let mut out = Map::new();
    if shape.body {
        let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES).await.map_err(|e| {
            ApiError::bad_request(format!("cannot read the request body (at most {} MiB): {e}", MAX_BODY_BYTES >> 20))
        })?;
        if !bytes.iter().all(u8::is_ascii_whitespace) {
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(fields)) => out = fields,
                Ok(_) => return Err(ApiError::bad_request("the request body must be a JSON object")),
                Err(e) => {
                    return Err(ApiError::new(
                        ErrorCode::InvalidJson,
                        format!("the request body is not JSON: {e} (line {}, column {})", e.line(), e.column()),
                    ));
                }
            }
        }
    } else if let Some(query) = query.filter(|q| !q.is_empty()) {
        let pairs: Vec<(String, String)> = serde_urlencoded_pairs(query)?;
        for (name, text) in pairs {
            refuse(shape, &name)?;
            let Some(k) = kind(&name).filter(|_| !params.contains_key(&name)) else {
                let known: Vec<&str> =
                    shape.fields.iter().map(|(f, _)| f.as_str()).filter(|f| !params.contains_key(*f)).collect();
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter \"{name}\"; {} {BASE}{} takes: {}",
                    shape.method,
                    shape.path,
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                )));
            };
            let value = convert(&name, &text, k, "query parameter")?;
            match (out.get_mut(&name), value) {
                (Some(Value::Array(items)), Value::Array(more)) => items.extend(more),
                (_, value) => {
                    out.insert(name, value);
                }
            }
        }
    }
    for (field, value) in &out {
        if !value.is_null() {
            refuse(shape, field)?;
        }
    }
    for (name, text) in params {
        let value = convert(&name, &text, kind(&name).unwrap_or("string"), "path segment")?;
        if let Some(given) = out.get(&name).filter(|given| **given != value) {
            return Err(ApiError::bad_request(format!(
                "{name}: the body says {given} but the path says {value}; leave it out of the body"
            )));
        }
        out.insert(name, value);
    }
    Ok(out)
}

/// Refuses a field this route does not take over HTTP (see [`crate::openapi::REFUSED_FIELDS`]).
fn refuse(shape: &RouteShape, field: &str) -> Result<(), ApiError> {
    match refusal(shape.command, field) {
        Some(why) => Err(ApiError::bad_request(format!("{field}: not taken over HTTP; {why}"))),
        None => Ok(()),
    }
}

fn serde_urlencoded_pairs(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(
        &format!("/?{query}").parse().map_err(|e| ApiError::bad_request(format!("bad query string: {e}")))?,
    )
    .map(|q| q.0)
    .map_err(|e| ApiError::bad_request(format!("bad query string: {e}")))
}

/// A path or query value as the JSON type its field has.
fn convert(name: &str, text: &str, kind: &str, what: &str) -> Result<Value, ApiError> {
    let bad = |expected: &str| ApiError::bad_request(format!("{what} {name}: \"{text}\" is not {expected}"));
    Ok(match kind {
        "integer" => Value::from(text.parse::<i64>().map_err(|_| bad("an integer"))?),
        "number" => serde_json::Number::from_f64(text.parse::<f64>().map_err(|_| bad("a number"))?)
            .map(Value::Number)
            .ok_or_else(|| bad("a finite number"))?,
        "boolean" => match text {
            "true" | "1" => Value::Bool(true),
            "false" | "0" => Value::Bool(false),
            _ => return Err(bad("true or false")),
        },
        "array" => Value::Array(text.split(',').filter(|s| !s.is_empty()).map(Value::from).collect()),
        _ => Value::from(text),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::REFUSED_FIELDS;

    fn shape(command: &str) -> RouteShape {
        routes().iter().find(|s| s.command == command).unwrap().clone()
    }

    #[tokio::test]
    async fn fields_naming_server_paths_or_unsaved_workflows_are_refused() {
        for (command, field, _) in REFUSED_FIELDS {
            let shape = shape(command);
            let (query, body) = if shape.body {
                (None, Body::from(serde_json::json!({ *field: {"x": 1} }).to_string()))
            } else {
                (Some(format!("{field}=x")), Body::empty())
            };
            let error = payload(&shape, HashMap::new(), query.as_deref(), body).await.unwrap_err();
            assert_eq!(error.code, ErrorCode::BadRequest, "{command}");
            assert!(error.message.starts_with(&format!("{field}: not taken over HTTP")), "{command}: {error}");
        }
    }

    #[tokio::test]
    async fn the_path_fills_the_request_and_must_agree_with_the_body() {
        let rename = shape("workflow_rename");
        let params = HashMap::from([("id".to_string(), "w1".to_string())]);
        let body = Body::from(r#"{"name": "New"}"#);
        let request = payload(&rename, params.clone(), None, body).await.unwrap();
        assert_eq!(Value::Object(request), serde_json::json!({"name": "New", "id": "w1"}));
        let body = Body::from(r#"{"name": "New", "id": "w2"}"#);
        let error = payload(&rename, params, None, body).await.unwrap_err();
        assert!(error.message.contains("the body says \"w2\" but the path says \"w1\""), "{error}");
        // Typed path segments and query values.
        let version = shape("workflow_version_get");
        let params = HashMap::from([("id".to_string(), "w1".to_string()), ("version".to_string(), "3".to_string())]);
        let request = payload(&version, params, None, Body::empty()).await.unwrap();
        assert_eq!(request["version"], 3);
        let list = shape("execution_list");
        let request = payload(&list, HashMap::new(), Some("limit=5&status=error"), Body::empty()).await.unwrap();
        assert_eq!(Value::Object(request), serde_json::json!({"limit": 5, "status": "error"}));
        let error = payload(&list, HashMap::new(), Some("limit=-"), Body::empty()).await.unwrap_err();
        assert_eq!(error.message, "query parameter limit: \"-\" is not an integer");
    }

    #[test]
    fn error_codes_map_to_http_statuses() {
        assert_eq!(status(ErrorCode::Unauthorized), StatusCode::UNAUTHORIZED);
        assert_eq!(status(ErrorCode::Forbidden), StatusCode::FORBIDDEN);
        assert_eq!(status(ErrorCode::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(status(ErrorCode::Conflict), StatusCode::CONFLICT);
        assert_eq!(status(ErrorCode::RateLimited), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(status(ErrorCode::InvalidWorkflow), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(status(ErrorCode::Internal), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
