//! Services injected into runs: the clock, the HTTP client, limits. Tests swap these for
//! deterministic ones.

use crate::access::LocalPolicy;
use crate::binary::Blobs;
use crate::clock::{SharedClock, SystemClock};
use crate::credentials::CredentialProvider;
use crate::expr::ScriptLimits;
use crate::resilience::Resilience;
use std::sync::Arc;
use std::time::Duration;
use switchyard_model::webhook::WebhookReply;

/// How much of each node's output a run keeps for the execution history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunDataLimits {
    /// Items kept per output.
    pub max_items: usize,
    /// JSON bytes kept per node, across its outputs.
    pub max_bytes: usize,
}

impl Default for RunDataLimits {
    fn default() -> Self {
        RunDataLimits { max_items: 1_000, max_bytes: 1024 * 1024 }
    }
}

/// How large a run's items may get: each item, and all the items a run holds at once
/// (outputs waiting for the nodes after them, and the run's result).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemLimits {
    pub max_item_bytes: usize,
    pub max_live_bytes: usize,
}

impl Default for ItemLimits {
    fn default() -> Self {
        ItemLimits { max_item_bytes: 16 * 1024 * 1024, max_live_bytes: 1024 * 1024 * 1024 }
    }
}

#[derive(Clone)]
pub struct Services {
    pub clock: SharedClock,
    pub http: reqwest::Client,
    /// The same client without following redirects: requests that carry an account's
    /// credentials follow redirects themselves, dropping the credentials at another host.
    pub http_direct: reqwest::Client,
    pub limits: ScriptLimits,
    pub run_data: RunDataLimits,
    pub items: ItemLimits,
    /// Where nodes get account credentials (the vault); none means runs cannot use any.
    pub credentials: Option<Arc<dyn CredentialProvider>>,
    /// Circuit breakers and rate limits, shared by every run.
    pub resilience: Arc<Resilience>,
    /// Where a Respond to Webhook node sends its answer: set for a run started by a webhook
    /// that waits for one.
    pub reply: Option<Arc<ReplySlot>>,
    /// What runs may reach on this machine (programs, paths).
    pub local: Arc<LocalPolicy>,
    /// Where the bytes of items' files go, and how much a run may store.
    pub blobs: Blobs,
    /// Where workflows called by Execute Workflow come from and how their runs start; none
    /// means runs cannot call workflows.
    pub subflows: Option<Arc<dyn crate::subflow::SubWorkflows>>,
    /// Where AI agents keep conversations between runs; none means agents cannot keep any.
    pub memory: Option<Arc<dyn crate::llm::Memory>>,
    /// How deep this run is in a chain of calls (0: not called by another run).
    pub call_depth: u32,
    /// How deep calls may nest (Settings → Call depth).
    pub max_call_depth: u32,
    /// The file this run's workflow came from, if it came from one (relative paths of its
    /// calls start there).
    pub workflow_file: Option<std::path::PathBuf>,
    /// The other workflows of the bundle file this run's workflow came from: its calls of
    /// saved workflows find them there first.
    pub bundle: Option<Arc<Vec<switchyard_model::workflow::Workflow>>>,
}

/// The answer a webhook caller waits for; the first Respond node to send wins.
#[derive(Debug)]
pub struct ReplySlot(std::sync::Mutex<Option<tokio::sync::oneshot::Sender<WebhookReply>>>);

impl ReplySlot {
    pub fn new() -> (Arc<ReplySlot>, tokio::sync::oneshot::Receiver<WebhookReply>) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        (Arc::new(ReplySlot(std::sync::Mutex::new(Some(tx)))), rx)
    }

    /// Sends the answer; false when one was already sent (or nobody waits any more).
    pub fn send(&self, reply: WebhookReply) -> bool {
        let sender = self.0.lock().unwrap_or_else(|p| p.into_inner()).take();
        sender.is_some_and(|tx| tx.send(reply).is_ok())
    }
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").field("clock", &self.clock).field("run_data", &self.run_data).finish()
    }
}

impl Services {
    pub fn new(clock: SharedClock, http: reqwest::Client) -> Services {
        Services {
            clock,
            http,
            http_direct: direct_http_client(),
            limits: ScriptLimits::EXPRESSION,
            run_data: RunDataLimits::default(),
            items: ItemLimits::default(),
            credentials: None,
            resilience: Arc::new(Resilience::default()),
            reply: None,
            local: Arc::new(LocalPolicy::default()),
            blobs: Blobs::temporary(),
            subflows: None,
            memory: None,
            call_depth: 0,
            max_call_depth: crate::subflow::DEFAULT_MAX_DEPTH,
            workflow_file: None,
            bundle: None,
        }
    }

    pub fn with_resilience(mut self, resilience: Resilience) -> Services {
        self.resilience = Arc::new(resilience);
        self
    }

    pub fn with_credentials(mut self, provider: Arc<dyn CredentialProvider>) -> Services {
        self.credentials = Some(provider);
        self
    }

    /// The system clock and a default HTTP client.
    pub fn system() -> Services {
        Services::new(Arc::new(SystemClock), default_http_client())
    }
}

/// The HTTP client used by nodes unless one is injected: rustls with the OS's roots,
/// connection pooling, and a user agent naming Switchyard.
pub fn default_http_client() -> reqwest::Client {
    client_builder().build().unwrap_or_else(|_| reqwest::Client::new())
}

/// [`default_http_client`] that never follows redirects (see [`Services::http_direct`]).
pub fn direct_http_client() -> reqwest::Client {
    client_builder().redirect(reqwest::redirect::Policy::none()).build().unwrap_or_else(|_| reqwest::Client::new())
}

fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(concat!("Switchyard/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        .pool_idle_timeout(Duration::from_secs(60))
}
