//! Webhooks and schedules as the API shows them: endpoints, deliveries, replies of a
//! Respond node, and schedule state. Pure data.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What a Respond to Webhook node sends back to the caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The body: JSON (sent with Content-Type application/json unless a header says
    /// otherwise) or text.
    #[ts(type = "unknown")]
    pub body: serde_json::Value,
}

/// How a delivery's signature was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Verification {
    /// The endpoint checks no signature.
    None,
    Passed,
    Failed,
}

impl Verification {
    pub fn as_str(self) -> &'static str {
        match self {
            Verification::None => "none",
            Verification::Passed => "passed",
            Verification::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Verification {
        match text {
            "passed" => Verification::Passed,
            "failed" => Verification::Failed,
            _ => Verification::None,
        }
    }
}

/// One request the webhook listener answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub id: String,
    pub workflow_id: String,
    pub node_id: String,
    pub received_at: String,
    pub method: String,
    pub path: String,
    /// The HTTP status answered.
    pub status: u16,
    pub verification: Verification,
    pub latency_ms: u32,
    /// The run it started, if any.
    #[ts(optional)]
    pub execution_id: Option<String>,
    /// Why nothing ran (401/400/413/…), or why the run failed.
    #[ts(optional)]
    pub error: Option<String>,
    /// The request body, kept only when the user turned that on.
    #[ts(optional)]
    pub body: Option<String>,
    /// Whether it came in while the editor listened for a test event.
    pub test: bool,
}

/// A webhook endpoint: one Webhook trigger of a saved workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEndpoint {
    pub workflow_id: String,
    pub workflow_name: String,
    pub node_id: String,
    pub node_name: String,
    /// The path after `/webhook/<workflow-id>/`.
    pub path: String,
    pub methods: Vec<String>,
    /// The full URL on the listener (for copying).
    pub url: String,
    /// Whether the workflow is active (served).
    pub active: bool,
    pub response_mode: String,
    /// The signature preset checked ("none" when none).
    pub signature: String,
}

/// A Schedule trigger's state, kept in the database so next-fire times survive restarts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleState {
    pub workflow_id: String,
    pub workflow_name: String,
    pub node_id: String,
    pub node_name: String,
    /// "cron 0 9 * * 1-5 (Europe/Paris)" or "every 300 s".
    pub rule: String,
    /// When it fires next (RFC 3339, UTC), if it is scheduled.
    #[ts(optional)]
    pub next_fire: Option<String>,
    #[ts(optional)]
    pub last_fire: Option<String>,
    pub active: bool,
}

/// An accepted webhook request, as the webhook node makes its item from it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebhookRequest {
    pub method: String,
    /// The full request path.
    pub path: String,
    pub query: serde_json::Map<String, serde_json::Value>,
    /// Header names in lower case.
    pub headers: serde_json::Map<String, serde_json::Value>,
    /// Parsed JSON, form fields as an object, text, or null for no body.
    pub body: serde_json::Value,
}

/// Normalizes a path as endpoints are keyed: no leading or trailing slash.
pub fn normalize_path(path: &str) -> String {
    path.trim().trim_matches('/').to_string()
}

/// Headers that frame the HTTP message itself: the server sets them, a workflow never does
/// (a wrong `Content-Length` would cut or hang the answer, or smuggle a second one).
pub const FRAMING_HEADERS: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "proxy-connection",
    "te",
    "trailer",
];

/// Whether a header name is one of [`FRAMING_HEADERS`].
pub fn is_framing_header(name: &str) -> bool {
    FRAMING_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name.trim()))
}
