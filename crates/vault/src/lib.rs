//! Switchyard's credential vault.
//!
//! A random 256-bit master key lives in the OS keyring, or, when no keyring is usable, is
//! wrapped by a key derived from a master password (Argon2id). Every account's secrets are
//! sealed with AES-256-GCM under that key, bound to the account's id and connection type.
//! The database only ever holds sealed bytes.

mod accounts;
mod browser;
pub mod connections;
pub mod crypto;
mod error;
mod key;
pub mod keyring;
mod oauth;
pub mod password;
mod payload;
mod provider;
mod recovery;
mod refresher;
pub mod scan;
mod testing;

pub use browser::open_in_browser;
pub use error::{Result, VaultError};
pub use keyring::{KeyStore, KeyringError, OsKeyring};
pub use oauth::PendingLogin;
pub(crate) use payload::{Payload, Tokens};
pub use recovery::{Recovered, RecoveryKey};

use crate::crypto::MasterKey;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use switchyard_core::SharedClock;
use switchyard_core::clock::rfc3339;
use switchyard_model::connection::ConnectionType;
use switchyard_store::{Store, StoreError};
use zeroize::Zeroizing;

/// The environment variable that supplies the master password to headless runs.
pub const PASSWORD_ENV: &str = "SWITCHYARD_MASTER_PASSWORD";

/// The environment variable naming a file that holds the master password (a container's
/// secret, `/run/secrets/…`).
pub const PASSWORD_FILE_ENV: &str = "SWITCHYARD_MASTER_PASSWORD_FILE";

/// The systemd credential (`LoadCredential=`) read from `$CREDENTIALS_DIRECTORY` for the
/// master password.
pub const PASSWORD_CREDENTIAL: &str = "switchyard-master-password";

/// Set to `off` to keep the master key behind a master password even where a keyring works.
pub const KEYRING_ENV: &str = "SWITCHYARD_KEYRING";

/// Where the master key is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum KeySource {
    Keyring,
    Password,
}

impl KeySource {
    fn as_str(self) -> &'static str {
        match self {
            KeySource::Keyring => "keyring",
            KeySource::Password => "password",
        }
    }
}

/// The vault's state, for `switchyard vault status` and the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VaultStatus {
    pub initialized: bool,
    pub unlocked: bool,
    pub key_source: Option<KeySource>,
    pub keyring_available: bool,
    pub keyring_message: Option<String>,
    pub accounts: u32,
    /// When the vault's recovery key was made; none when it has none.
    pub recovery_key_created_at: Option<String>,
}

/// Opens a URL in the user's browser.
pub type UrlOpener = Arc<dyn Fn(&str) -> std::result::Result<(), String> + Send + Sync>;

/// How the vault is set up.
#[derive(Clone)]
pub struct VaultOptions {
    /// The keyring to keep the master key in; `None` means always use a master password.
    pub keyring: Option<Arc<dyn KeyStore>>,
    pub clock: SharedClock,
    /// Client for token requests and "Test connection". Should not follow redirects to
    /// other hosts with credentials; the default one doesn't.
    pub http: reqwest::Client,
    /// Refresh OAuth2 tokens this long before they expire.
    pub refresh_skew: Duration,
    /// Opens a URL in the user's browser (the OAuth2 sign-in).
    pub open_url: UrlOpener,
    /// How long a sign-in waits for the browser to come back.
    pub login_timeout: Duration,
    /// Told the id of an account whose tokens or status changed on their own (a token
    /// refresh, a refused refresh), so the UI can show it.
    pub on_change: AccountListener,
}

/// Hears about accounts that changed outside a user's command.
pub type AccountListener = Arc<dyn Fn(&str) + Send + Sync>;

impl std::fmt::Debug for VaultOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultOptions")
            .field("keyring", &self.keyring)
            .field("refresh_skew", &self.refresh_skew)
            .finish()
    }
}

impl VaultOptions {
    /// The OS keyring (unless `SWITCHYARD_KEYRING=off`), the system clock and browser.
    pub fn system(clock: SharedClock) -> VaultOptions {
        let keyring_off = std::env::var(KEYRING_ENV).is_ok_and(|v| matches!(v.as_str(), "off" | "0" | "false"));
        VaultOptions {
            keyring: (!keyring_off).then(|| Arc::new(OsKeyring::new()) as Arc<dyn KeyStore>),
            clock,
            http: oauth_http_client(),
            refresh_skew: Duration::from_secs(5 * 60),
            open_url: Arc::new(open_in_browser),
            login_timeout: Duration::from_secs(5 * 60),
            on_change: Arc::new(|_| {}),
        }
    }
}

/// A client that never follows redirects (token endpoints must answer directly; following
/// a redirect could hand credentials to another host).
pub fn oauth_http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Switchyard/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) options: VaultOptions,
    pub(crate) types: BTreeMap<String, ConnectionType>,
    key: RwLock<Option<Arc<Unlocked>>>,
    /// When this process last compared its key's generation with the stored one.
    generation_checked: Mutex<Option<std::time::Instant>>,
    /// One lock per account: token refreshes are single-flight.
    pub(crate) refresh_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// The master key in use, which generation of the vault's key it is, and the master password
/// it was opened with (to load the key again after another process rotates it).
struct Unlocked {
    key: Arc<MasterKey>,
    generation: i64,
    password: Option<Zeroizing<String>>,
}

/// The vault: cheap to clone, safe to share.
#[derive(Clone)]
pub struct Vault {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").field("unlocked", &self.is_unlocked()).finish()
    }
}

impl Vault {
    pub fn new(store: Store, options: VaultOptions) -> Vault {
        let types = connections::builtin().into_iter().map(|t| (t.id.clone(), t)).collect();
        Vault {
            inner: Arc::new(Inner {
                store,
                options,
                types,
                key: RwLock::new(None),
                generation_checked: Mutex::new(None),
                refresh_locks: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn connection_types(&self) -> Vec<ConnectionType> {
        self.inner.types.values().cloned().collect()
    }

    pub fn connection_type(&self, id: &str) -> Result<&ConnectionType> {
        self.inner.types.get(id).ok_or_else(|| VaultError::UnknownType(id.to_string()))
    }

    pub(crate) fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.options.clock.now()
    }

    pub(crate) fn now_text(&self) -> String {
        rfc3339(self.now())
    }

    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Store) -> std::result::Result<T, StoreError> + Send + 'static,
    ) -> Result<T> {
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || work(&store))
            .await
            .map_err(|e| VaultError::Internal(e.to_string()))?
            .map_err(VaultError::Store)
    }
}

/// Whether an error says the key in use was rotated by another process.
pub(crate) fn is_stale(e: &VaultError) -> bool {
    matches!(e, VaultError::Store(StoreError::StaleKey { .. } | StoreError::RecoveryChanged))
}
