//! How trigger nodes start their workflow. A trigger node type says so through
//! [`crate::NodeEntry::with_trigger`]: the host (crates/api) serves webhooks and arms
//! schedules from what the entry returns, and never reads a trigger's parameters itself.

use chrono::{DateTime, Utc};
pub use switchyard_core::folder::{Change, FolderConfig, FolderEvent};
use switchyard_core::schedule::{Missed, Rule, RuleError};
use switchyard_core::signature::Preset;
use switchyard_model::CredentialRef;
use switchyard_model::item::Item;
pub use switchyard_model::webhook::WebhookRequest;
use switchyard_model::workflow::Node;

/// What starts a trigger node's workflow.
#[derive(Clone, Copy)]
pub enum Trigger {
    /// "Run workflow" in the editor, `switchyard run`, the API's run command.
    Manual,
    /// A failed run of a workflow that names this workflow as its error workflow.
    Error,
    /// A call from another workflow (Execute Workflow, an agent's tool call): `inputs` are
    /// the fields the node declares (see [`crate::subflow`]).
    Called { inputs: fn(&Node) -> Vec<crate::subflow::InputField> },
    /// An HTTP request on the webhook listener, while the workflow is active or the
    /// editor listens for a test event.
    Webhook { config: fn(&Node) -> Result<WebhookConfig, String>, item: fn(WebhookRequest) -> Item },
    /// The times a schedule rule names, while the workflow is active.
    Schedule { config: fn(&Node) -> Result<ScheduleConfig, RuleError>, item: fn(ScheduleFire) -> Item },
    /// A file added, changed or removed in a folder, while the workflow is active.
    Folder { config: fn(&Node) -> Result<FolderConfig, String>, item: fn(FolderEvent) -> Item },
    /// A connection the node holds open while the workflow is active (a database's LISTEN,
    /// a mailbox's IDLE): `serve` runs until the host drops it, reconnecting as it sees fit,
    /// and starts runs through its [`Listening`]. `check` says before activation whether
    /// the node's settings can be served.
    Listen { check: fn(&Node) -> Result<(), String>, serve: fn(Listening) -> futures::future::BoxFuture<'static, ()> },
}

/// What a connection-holding trigger gets from its host while it is served.
#[derive(Clone)]
pub struct Listening {
    pub node: Node,
    pub workflow_id: String,
    /// The accounts this workflow may use (refusing ones its trust does not cover).
    pub credentials: Option<std::sync::Arc<dyn crate::credentials::CredentialProvider>>,
    /// Starts a run with these items, or says why it was not started (the run queue is
    /// full).
    pub fire: std::sync::Arc<dyn Fn(Vec<Item>) -> Result<Started, String> + Send + Sync>,
    /// Values this trigger keeps across restarts (in the store, per workflow and node).
    pub state: std::sync::Arc<dyn TriggerState>,
    /// How the connection stands: `Some(problem)` while it is down, `None` once it is up.
    pub status: std::sync::Arc<dyn Fn(Option<String>) + Send + Sync>,
    pub clock: crate::clock::SharedClock,
    /// Where files the trigger receives go (email attachments).
    pub blobs: crate::binary::Blobs,
}

/// Pauses between attempts of a connection-holding trigger to connect again: 1 s, doubling
/// up to a minute; back to 1 s once it is connected.
#[derive(Debug)]
pub struct Backoff(std::time::Duration);

impl Default for Backoff {
    fn default() -> Self {
        Backoff(std::time::Duration::from_secs(1))
    }
}

impl Backoff {
    pub const MAX: std::time::Duration = std::time::Duration::from_secs(60);

    /// The pause the next [`Backoff::wait`] takes.
    pub fn next(&self) -> std::time::Duration {
        self.0
    }

    pub fn reset(&mut self) {
        self.0 = std::time::Duration::from_secs(1);
    }

    /// Sleeps the current pause and doubles it (up to [`Backoff::MAX`]).
    pub async fn wait(&mut self) {
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(Backoff::MAX);
    }
}

/// The validation issue of a trigger whose settings `config` refuses (`"param: why"`).
pub(crate) fn config_issues(
    node: &Node,
    cx: &crate::registry::CheckContext<'_>,
    config: fn(&Node) -> Result<(), String>,
) -> Vec<switchyard_model::error::ValidationIssue> {
    config(node).err().map(|e| cx.parameter_issue(e)).into_iter().collect()
}

/// A run a connection-holding trigger started.
pub struct Started {
    pub execution_id: String,
    /// Resolves with the run's final status when it ends (`None` if it could not be told).
    pub finished: futures::future::BoxFuture<'static, Option<switchyard_model::execution::RunStatus>>,
}

/// A trigger node's durable values (an IMAP mailbox's last UID): written before the run they
/// concern starts.
pub trait TriggerState: Send + Sync {
    fn get(&self, key: &str) -> Option<String>;
    fn set(&self, key: &str, value: &str) -> Result<(), String>;
}

impl std::fmt::Debug for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Trigger::Manual => "Manual",
            Trigger::Error => "Error",
            Trigger::Called { .. } => "Called",
            Trigger::Webhook { .. } => "Webhook",
            Trigger::Schedule { .. } => "Schedule",
            Trigger::Folder { .. } => "Folder",
            Trigger::Listen { .. } => "Listen",
        })
    }
}

/// How the webhook listener serves one webhook node.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookConfig {
    /// Normalised: no leading or trailing slash.
    pub path: String,
    /// Upper case; empty means any method.
    pub methods: Vec<String>,
    pub signature: Option<SignatureConfig>,
    pub response: Response,
    /// Whether the delivery log keeps request bodies.
    pub keep_bodies: bool,
    /// Browser origins allowed to call it.
    pub allowed_origins: Vec<String>,
}

/// The signature a webhook checks, and the account holding its secret.
#[derive(Debug, Clone, PartialEq)]
pub struct SignatureConfig {
    pub preset: Preset,
    pub secret: CredentialRef,
    /// The header the senders put their delivery id in (replay keys), if the preset has one.
    pub id_header: Option<&'static str>,
}

/// When and with what a webhook answers its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Response {
    /// At once: 202 with the execution id.
    Immediately,
    /// When the run ends: the last node's first item, or all its items as a list.
    LastNode { all_items: bool },
    /// What a Respond to Webhook node of the run sends.
    RespondNode,
}

impl Response {
    /// The name the API shows.
    pub fn as_str(&self) -> &'static str {
        match self {
            Response::Immediately => "immediately",
            Response::LastNode { .. } => "lastNode",
            Response::RespondNode => "respondNode",
        }
    }
}

/// One fire of a schedule, as a schedule node makes its item from it.
#[derive(Debug, Clone, Copy)]
pub struct ScheduleFire {
    /// The time the rule named.
    pub scheduled_for: DateTime<Utc>,
    /// When it really fired (later for a fire missed while the app was closed).
    pub fired_at: DateTime<Utc>,
    pub missed: bool,
}

/// When a schedule node fires.
#[derive(Debug, Clone)]
pub struct ScheduleConfig {
    pub rule: Rule,
    pub missed: Missed,
}
