//! HTTP Request: one request per input item; the response becomes items. A body can be one
//! of the item's files or a multipart form with files; a response can become a file,
//! streamed to the blob store (a download of any size holds one chunk in memory at a time).

use crate::http::{Auth, Body, Read, file_name, guarded_send, status_error};
use crate::node::{NodeContext, NodeResult, describe};
use crate::registry::NodeEntry;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use std::time::Duration;
use switchyard_model::descriptor::{CredentialSlot, NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::{ErrorCode, NodeError};
use switchyard_model::item::{BinaryData, Item};
use switchyard_model::value::{Object, Value};

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
        per_entry: None,
    }];
    d
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let auth = Auth::for_slot(ctx, "auth").await?;
    let items = ctx.take_input(0).into_vec();
    let ctx: &NodeContext = ctx;
    let auth = &auth;
    ctx.each_item(items, |index, item| async move {
        let result = ctx.retry_item(index, || request(ctx, auth, &item, index)).await;
        (item, result)
    })
    .await
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
                builder =
                    builder.header(CONTENT_TYPE, data.mime_type.as_str()).body(Box::pin(file_body(ctx, data)).await?);
            }
            "multipart" => builder = builder.multipart(Box::pin(multipart(ctx, item, index)).await?),
            _ => {}
        }
    }
    builder = builder.headers(headers);

    let format = ctx.choice("responseFormat");
    if format == "file" {
        let property = crate::binary::property_name(ctx.raw_param("responseProperty"));
        // Boxed, like the bodies above: the rarer paths stay out of every call's future.
        return Box::pin(download(ctx, auth, builder, &url, &method, item, index, property)).await;
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
    out.set_binary(item.binary().cloned().unwrap_or_default());
    out.set_file(property, data);
    Ok(vec![out])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::as_number;

    #[test]
    fn as_number_parses_strings() {
        assert_eq!(as_number(&Value::from("2.5")), Some(2.5));
    }
}
