//! Switchyard's credential vault.
//!
//! A random 256-bit master key lives in the OS keyring, or, when no keyring is usable, is
//! wrapped by a key derived from a master password (Argon2id). Every account's secrets are
//! sealed with AES-256-GCM under that key, bound to the account's id and connection type.
//! The database only ever holds sealed bytes.

pub mod connections;
pub mod crypto;
mod error;
pub mod keyring;
mod oauth;
pub mod password;
mod provider;
pub mod scan;

pub use error::{Result, VaultError};
pub use keyring::{KeyStore, KeyringError, OsKeyring};
pub use oauth::PendingLogin;

use crate::crypto::{MasterKey, account_aad, check_aad, wrap_aad};
use crate::password::KdfParams;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use switchyard_core::SharedClock;
use switchyard_core::clock::rfc3339;
use switchyard_model::connection::{AccountInfo, AccountStatus, AuthKind, ConnectionType, SECRET_SET, TestOutcome};
use switchyard_model::hosts;
use switchyard_model::redact::redact_urls;
use switchyard_store::{AccountRow, Store, StoreError, VaultHeaderRow};
use zeroize::{Zeroize, Zeroizing};

/// The environment variable that supplies the master password to headless runs.
pub const PASSWORD_ENV: &str = "SWITCHYARD_MASTER_PASSWORD";

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

/// Opens a URL with the desktop's handler (xdg-open, open, start).
pub fn open_in_browser(url: &str) -> std::result::Result<(), String> {
    #[cfg(target_os = "macos")]
    let mut command = std::process::Command::new("open");
    #[cfg(target_os = "windows")]
    let mut command = {
        let mut c = std::process::Command::new("rundll32");
        c.arg("url.dll,FileProtocolHandler");
        c
    };
    #[cfg(not(any(target_os = "macos", target_os = "windows")))]
    let mut command = std::process::Command::new("xdg-open");
    command
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(|_| ())
        .map_err(|e| format!("cannot open a browser: {e}"))
}

/// An account's sealed content. Wiped from memory when dropped.
#[derive(Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Payload {
    pub fields: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Tokens>,
    /// The hosts the account may be sent to, once set; until then the type's and the test
    /// URL's ([`Payload::allowed_hosts`]). Sealed with the secrets, so the list cannot be
    /// changed without the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<String>>,
}

impl Payload {
    /// The hosts this account's credentials may be sent to.
    pub(crate) fn allowed_hosts(&self, ty: &ConnectionType) -> Vec<String> {
        if let Some(hosts) = &self.hosts {
            return hosts.clone();
        }
        let mut hosts = ty.hosts.clone();
        if let Some(host) = self.test_host()
            && !hosts.contains(&host)
        {
            hosts.push(host);
        }
        hosts
    }

    fn test_host(&self) -> Option<String> {
        self.fields.get("testUrl").and_then(|url| hosts::static_host(url))
    }
}

/// Host rules in their one written form, without repeats; an error names the bad entry.
fn normalize_hosts(label: &str, given: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for entry in given.iter().filter(|h| !h.trim().is_empty()) {
        let rule = hosts::normalize_rule(entry)
            .map_err(|e| VaultError::InvalidField(format!("account \"{label}\", allowed hosts: {e}")))?;
        if !out.contains(&rule) {
            out.push(rule);
        }
    }
    Ok(out)
}

#[derive(Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Tokens {
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

impl Drop for Payload {
    fn drop(&mut self) {
        for v in self.fields.values_mut() {
            v.zeroize();
        }
    }
}

impl Drop for Tokens {
    fn drop(&mut self) {
        self.access_token.zeroize();
        if let Some(r) = &mut self.refresh_token {
            r.zeroize();
        }
    }
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payload").field("fields", &self.fields.keys().collect::<Vec<_>>()).finish_non_exhaustive()
    }
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

    pub fn is_unlocked(&self) -> bool {
        self.inner.key.read().map(|k| k.is_some()).unwrap_or(false)
    }

    /// Forgets the master key (the next use unlocks again).
    pub fn lock(&self) {
        if let Ok(mut k) = self.inner.key.write() {
            *k = None;
        }
    }

    pub(crate) fn key(&self) -> Result<Arc<MasterKey>> {
        self.unlocked().map(|u| u.key.clone()).ok_or_else(|| VaultError::Locked("unlock it first".into()))
    }

    fn unlocked(&self) -> Option<Arc<Unlocked>> {
        self.inner.key.read().ok().and_then(|k| k.clone())
    }

    /// The generation of the key in use (what every write of sealed bytes is checked against).
    pub(crate) fn generation(&self) -> i64 {
        self.unlocked().map_or(0, |u| u.generation)
    }

    /// Loads the key again when another process rotated it since this one was loaded; true
    /// when it did. A password vault uses the password it was unlocked with; when that no
    /// longer opens it (the password changed too) the vault locks and says so.
    pub(crate) async fn follow_rotation(&self) -> Result<bool> {
        let Some(current) = self.unlocked() else { return Ok(false) };
        let header = self.header().await?.ok_or_else(|| VaultError::Header("the vault header vanished".into()))?;
        if header.generation == current.generation {
            return Ok(false);
        }
        let password = current.password.clone();
        match self.open_key(&header, password.as_deref().map(String::as_str)).await {
            Ok(key) => {
                tracing::info!(
                    generation = header.generation,
                    "the vault key was rotated elsewhere: loaded the new one"
                );
                self.set_key(key, header.generation, password)?;
                Ok(true)
            }
            Err(e) => {
                self.lock();
                Err(VaultError::Locked(format!(
                    "the vault key was rotated by another process and cannot be loaded again here ({e}); unlock the vault again"
                )))
            }
        }
    }

    async fn keyring_call<T: Send + 'static>(
        &self,
        work: impl FnOnce(&dyn KeyStore) -> std::result::Result<T, KeyringError> + Send + 'static,
    ) -> std::result::Result<T, KeyringError> {
        let Some(keyring) = self.inner.options.keyring.clone() else {
            return Err(KeyringError::Unavailable("the keyring is turned off for this vault".into()));
        };
        tokio::task::spawn_blocking(move || work(keyring.as_ref()))
            .await
            .unwrap_or_else(|e| Err(KeyringError::Failed(format!("keyring task failed: {e}"))))
    }

    async fn header(&self) -> Result<Option<VaultHeaderRow>> {
        self.blocking(|s| s.secrets().header()).await
    }

    fn set_key(&self, key: MasterKey, generation: i64, password: Option<Zeroizing<String>>) -> Result<()> {
        let unlocked = Unlocked { key: Arc::new(key), generation, password };
        *self.inner.key.write().map_err(|_| VaultError::Internal("key lock poisoned".into()))? =
            Some(Arc::new(unlocked));
        Ok(())
    }

    pub async fn status(&self) -> Result<VaultStatus> {
        let header = self.header().await?;
        let probe = self.keyring_call(|k| match k.get("probe") {
            Ok(_) | Err(KeyringError::NoEntry) => Ok(()),
            Err(e) => Err(e),
        });
        let (keyring_available, keyring_message) = match probe.await {
            Ok(()) => (true, None),
            Err(e) => (false, Some(e.to_string())),
        };
        let accounts = self.blocking(|s| s.secrets().accounts()).await?.len() as u32;
        Ok(VaultStatus {
            initialized: header.is_some(),
            unlocked: self.is_unlocked(),
            key_source: header
                .as_ref()
                .map(|h| if h.key_source == "password" { KeySource::Password } else { KeySource::Keyring }),
            keyring_available,
            keyring_message,
            accounts,
        })
    }

    fn password_from_env() -> Option<Zeroizing<String>> {
        std::env::var(PASSWORD_ENV).ok().filter(|p| !p.is_empty()).map(Zeroizing::new)
    }

    /// Unlocks the vault, creating it on first use. The key comes from the OS keyring, or
    /// from `password` (else `SWITCHYARD_MASTER_PASSWORD`) when the vault uses a master
    /// password. A new vault uses the keyring when it answers, else the password.
    pub async fn unlock(&self, password: Option<&str>) -> Result<()> {
        if self.is_unlocked() {
            // Another process (the CLI) may have rotated the key meanwhile. Checked at most
            // once a second: writes check the generation themselves, and reads of a record
            // re-sealed since load the new key when it does not open.
            let due = {
                let mut last = self.inner.generation_checked.lock().unwrap_or_else(|p| p.into_inner());
                let due = last.is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
                if due {
                    *last = Some(std::time::Instant::now());
                }
                due
            };
            return if due { self.follow_rotation().await.map(|_| ()) } else { Ok(()) };
        }
        let password: Option<Zeroizing<String>> =
            password.map(|p| Zeroizing::new(p.to_string())).or_else(Vault::password_from_env);
        let (key, generation) = match self.header().await? {
            None => self.create(password.as_deref().map(String::as_str)).await?,
            Some(header) => (self.open_key(&header, password.as_deref().map(String::as_str)).await?, header.generation),
        };
        self.set_key(key, generation, password)
    }

    async fn create(&self, password: Option<&str>) -> Result<(MasterKey, i64)> {
        let key = MasterKey::generate()?;
        let vault_id = uuid::Uuid::new_v4().to_string();
        let key_id = format!("vault-{vault_id}");
        let now = self.now_text();
        let check_value = crypto::seal(&key, &check_aad(&vault_id), crypto::CHECK_PLAINTEXT)?;
        let bytes = Zeroizing::new(key.bytes().to_vec());
        let entry = key_id.clone();
        let stored = self.keyring_call(move |k| k.set(&entry, &bytes)).await;
        let header = match stored {
            Ok(()) => VaultHeaderRow {
                vault_id,
                key_source: KeySource::Keyring.as_str().into(),
                key_id: key_id.clone(),
                kdf: None,
                wrapped_key: None,
                check_value,
                created_at: now.clone(),
                updated_at: now,
                generation: 1,
            },
            Err(KeyringError::Unavailable(why)) | Err(KeyringError::Failed(why)) => {
                let Some(password) = password else {
                    return Err(VaultError::Locked(format!(
                        "no OS keyring is usable ({why}); choose a master password (or set {PASSWORD_ENV})"
                    )));
                };
                tracing::info!(reason = %why, "no usable keyring: the vault key is wrapped by a master password");
                let (kdf, wrapped_key) = wrap(&key, &vault_id, password).await?;
                VaultHeaderRow {
                    vault_id,
                    key_source: KeySource::Password.as_str().into(),
                    key_id: key_id.clone(),
                    kdf: Some(kdf),
                    wrapped_key: Some(wrapped_key),
                    check_value,
                    created_at: now.clone(),
                    updated_at: now,
                    generation: 1,
                }
            }
            Err(KeyringError::NoEntry) => return Err(VaultError::Internal("keyring set returned no entry".into())),
        };
        match self.blocking(move |s| s.secrets().create_header(&header)).await {
            Ok(()) => Ok((key, 1)),
            // Another process created the vault first: use theirs.
            Err(VaultError::Store(StoreError::AlreadyExists(_))) => {
                let header = self.header().await?.ok_or_else(|| VaultError::Header("vanished".into()))?;
                if header.key_id != key_id {
                    let _ = self.keyring_call(move |k| k.delete(&key_id)).await;
                }
                Ok((self.open_key(&header, password).await?, header.generation))
            }
            Err(e) => Err(e),
        }
    }

    async fn open_key(&self, header: &VaultHeaderRow, password: Option<&str>) -> Result<MasterKey> {
        let key = match header.key_source.as_str() {
            "keyring" => {
                let entry = header.key_id.clone();
                let bytes = self.keyring_call(move |k| k.get(&entry)).await.map_err(|e| match e {
                    KeyringError::NoEntry => VaultError::KeyMissing(format!("entry {}", header.key_id)),
                    KeyringError::Unavailable(why) | KeyringError::Failed(why) => VaultError::KeyringUnavailable(
                        format!("{why}; the vault key of {} is kept there", self.inner.store.path().display()),
                    ),
                })?;
                MasterKey::from_slice(&bytes)
                    .ok_or_else(|| VaultError::Header("the keyring entry is not a 256-bit key".into()))?
            }
            "password" => {
                let Some(password) = password else {
                    return Err(VaultError::Locked(format!(
                        "this vault uses a master password: enter it (or set {PASSWORD_ENV})"
                    )));
                };
                unwrap(header, password).await?
            }
            other => return Err(VaultError::Header(format!("unknown key source \"{other}\""))),
        };
        match crypto::open(&key, &check_aad(&header.vault_id), &header.check_value, "the vault key check") {
            Ok(_) => Ok(key),
            Err(VaultError::Tampered { .. }) if header.key_source == "keyring" => Err(VaultError::Header(
                "the key in the OS keyring does not open this vault (was the keyring entry replaced?)".into(),
            )),
            Err(e) => Err(e),
        }
    }

    /// Sets a new master password. A keyring vault moves to the password (and its keyring
    /// entry is removed); a password vault needs the current password.
    pub async fn change_password(&self, current: Option<&str>, new: &str) -> Result<()> {
        if new.chars().count() < 8 {
            return Err(VaultError::InvalidField("the new master password must have at least 8 characters".into()));
        }
        let header = self.header().await?.ok_or_else(|| VaultError::Locked("the vault is not set up yet".into()))?;
        let key = self.open_key(&header, current).await?;
        let (kdf, wrapped) = wrap(&key, &header.vault_id, new).await?;
        let new_header = VaultHeaderRow {
            key_source: KeySource::Password.as_str().into(),
            kdf: Some(kdf),
            wrapped_key: Some(wrapped),
            updated_at: self.now_text(),
            ..header.clone()
        };
        self.blocking(move |s| s.secrets().update_header(&new_header)).await?;
        if header.key_source == "keyring" {
            let entry = header.key_id.clone();
            let _ = self.keyring_call(move |k| k.delete(&entry)).await;
        }
        self.set_key(key, header.generation, Some(Zeroizing::new(new.to_string())))
    }

    /// Replaces the master key and re-seals every record under the new one, in one write
    /// transaction that reads the records, re-seals them and moves the key generation on: a
    /// token refresh or a new account in another process waits for it, then finds the key
    /// rotated and loads the new one before writing. A keyring vault stores the new key under
    /// a new entry first and removes the old entry only after the database switched over.
    pub async fn rotate_key(&self, password: Option<&str>) -> Result<u32> {
        let password: Option<Zeroizing<String>> =
            password.map(|p| Zeroizing::new(p.to_string())).or_else(Vault::password_from_env);
        let pw = password.as_deref().map(String::as_str);
        let mut header =
            self.header().await?.ok_or_else(|| VaultError::Locked("the vault is not set up yet".into()))?;
        let mut old = Arc::new(self.open_key(&header, pw).await?);
        let new = Arc::new(MasterKey::generate()?);
        let mut new_header = VaultHeaderRow {
            check_value: crypto::seal(&new, &check_aad(&header.vault_id), crypto::CHECK_PLAINTEXT)?,
            ..header.clone()
        };
        if header.key_source == "keyring" {
            new_header.key_id = format!("vault-{}-{}", header.vault_id, uuid::Uuid::new_v4().simple());
            let (entry, bytes) = (new_header.key_id.clone(), Zeroizing::new(new.bytes().to_vec()));
            self.keyring_call(move |k| k.set(&entry, &bytes))
                .await
                .map_err(|e| VaultError::KeyringUnavailable(e.to_string()))?;
        } else {
            let pw = pw.ok_or_else(|| VaultError::Locked("rotating needs the master password".into()))?;
            let (kdf, wrapped) = wrap(&new, &header.vault_id, pw).await?;
            new_header.kdf = Some(kdf);
            new_header.wrapped_key = Some(wrapped);
        }
        let mut outcome = Err(VaultError::Internal("the vault key kept being rotated elsewhere; try again".into()));
        for _ in 0..3 {
            let written =
                VaultHeaderRow { generation: header.generation + 1, updated_at: self.now_text(), ..new_header.clone() };
            let (from, old_key, new_key) = (header.generation, old.clone(), new.clone());
            let rotated = self
                .blocking(move |s| {
                    s.secrets().replace_key(&written, from, &mut |row| {
                        let aad = account_aad(&row.id, &row.connection_type);
                        let what = format!("account \"{}\"", row.label);
                        let corrupt =
                            |e: VaultError| StoreError::Corrupt { what: what.clone(), message: e.to_string() };
                        let plain = crypto::open(&old_key, &aad, &row.sealed, &what).map_err(corrupt)?;
                        crypto::seal(&new_key, &aad, &plain).map_err(corrupt)
                    })
                })
                .await;
            match rotated {
                Ok(count) => {
                    outcome = Ok(count);
                    break;
                }
                // Another process rotated first: rotate from its key.
                Err(e) if is_stale(&e) => {
                    header =
                        self.header().await?.ok_or_else(|| VaultError::Header("the vault header vanished".into()))?;
                    match self.open_key(&header, pw).await {
                        Ok(k) => old = Arc::new(k),
                        Err(e) => {
                            outcome = Err(e);
                            break;
                        }
                    }
                }
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
        let count = match outcome {
            Ok(count) => count,
            Err(e) => {
                if header.key_source == "keyring" {
                    let entry = new_header.key_id.clone();
                    let _ = self.keyring_call(move |k| k.delete(&entry)).await;
                }
                return Err(e);
            }
        };
        if header.key_source == "keyring" {
            let entry = header.key_id.clone();
            let _ = self.keyring_call(move |k| k.delete(&entry)).await;
        }
        let new = Arc::try_unwrap(new).map_err(|_| VaultError::Internal("the new key is still shared".into()))?;
        self.set_key(new, header.generation + 1, password)?;
        Ok(count)
    }

    // Accounts

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

    /// [`Vault::open_payload`], loading the key again first when the record was sealed by a
    /// rotation in another process since this one loaded it.
    pub(crate) async fn open_row(&self, row: &AccountRow) -> Result<Payload> {
        match self.open_payload(row) {
            Err(VaultError::Tampered { .. }) if self.follow_rotation().await? => self.open_payload(row),
            other => other,
        }
    }

    /// Seals `payload` for `row` under the key in use and swaps it in only if the record is
    /// still `row.sealed` and the key still the stored generation. Ok(false) when the record
    /// changed; on a rotated key the new key is loaded and [`is_stale`] errors tell the
    /// caller to start again from a fresh row.
    pub(crate) async fn reseal(
        &self,
        row: &AccountRow,
        payload: &Payload,
        status: &str,
        token_expires_at: Option<String>,
    ) -> Result<bool> {
        let sealed = self.seal_payload(&row.id, &row.connection_type, payload)?;
        let (id, old, status, now, generation) =
            (row.id.clone(), row.sealed.clone(), status.to_string(), self.now_text(), self.generation());
        let swapped = self
            .blocking(move |s| {
                s.secrets().swap_sealed(&id, &old, &sealed, &status, token_expires_at.as_deref(), &now, generation)
            })
            .await;
        if let Err(e) = &swapped
            && is_stale(e)
        {
            self.follow_rotation().await?;
        }
        swapped
    }

    pub(crate) fn open_payload(&self, row: &AccountRow) -> Result<Payload> {
        let key = self.key()?;
        let plain = crypto::open(
            &key,
            &account_aad(&row.id, &row.connection_type),
            &row.sealed,
            &format!("account \"{}\" of {}", row.label, row.connection_type),
        )?;
        serde_json::from_slice(&plain).map_err(|e| VaultError::Crypto(format!("account \"{}\": {e}", row.label)))
    }

    pub(crate) fn seal_payload(&self, id: &str, connection_type: &str, payload: &Payload) -> Result<Vec<u8>> {
        let key = self.key()?;
        let plain = Zeroizing::new(serde_json::to_vec(payload).map_err(|e| VaultError::Internal(e.to_string()))?);
        crypto::seal(&key, &account_aad(id, connection_type), &plain)
    }

    fn info(&self, row: &AccountRow) -> Result<AccountInfo> {
        let ty = self.connection_type(&row.connection_type)?;
        let payload = self.open_payload(row)?;
        let fields = ty
            .fields
            .iter()
            .filter_map(|f| {
                let value = payload.fields.get(&f.name)?;
                Some((f.name.clone(), if f.secret { SECRET_SET.to_string() } else { value.clone() }))
            })
            .collect();
        Ok(AccountInfo {
            id: row.id.clone(),
            connection_type: row.connection_type.clone(),
            label: row.label.clone(),
            is_default: row.is_default,
            status: status_from(&row.status),
            allowed_hosts: payload.allowed_hosts(ty),
            fields,
            token_expires_at: row.token_expires_at.clone(),
            last_test: row.last_test.as_deref().and_then(|t| serde_json::from_str(t).ok()),
            created_at: row.created_at.clone(),
            updated_at: row.updated_at.clone(),
        })
    }

    pub async fn accounts(&self) -> Result<Vec<AccountInfo>> {
        self.unlock(None).await?;
        let rows = self.blocking(|s| s.secrets().accounts()).await?;
        match rows.iter().map(|r| self.info(r)).collect() {
            // Re-sealed by a rotation in another process since this one checked.
            Err(VaultError::Tampered { .. }) if self.follow_rotation().await? => {
                rows.iter().map(|r| self.info(r)).collect()
            }
            other => other,
        }
    }

    pub(crate) async fn row(&self, id: &str) -> Result<AccountRow> {
        let key = id.to_string();
        self.blocking(move |s| s.secrets().account(&key))
            .await?
            .ok_or_else(|| VaultError::NoAccount(format!("with id {id}")))
    }

    pub async fn account(&self, id: &str) -> Result<AccountInfo> {
        self.unlock(None).await?;
        let row = self.row(id).await?;
        match self.info(&row) {
            Err(VaultError::Tampered { .. }) if self.follow_rotation().await? => self.info(&row),
            other => other,
        }
    }

    /// Finds an account by connection type and label (the type's default without a label).
    pub async fn find(&self, connection_type: &str, label: Option<&str>) -> Result<AccountRow> {
        let (t, l) = (connection_type.to_string(), label.map(str::to_string));
        self.blocking(move |s| s.secrets().find(&t, l.as_deref())).await?.ok_or_else(|| {
            let name = self.connection_type(connection_type).map(|t| t.name.clone()).unwrap_or(connection_type.into());
            match label {
                Some(label) => VaultError::NoAccount(format!(
                    "\"{label}\" for {name}; add it on the Connections page or with `switchyard connections add`"
                )),
                None => VaultError::NoAccount(format!(
                    "for {name}; add one on the Connections page or with `switchyard connections add`"
                )),
            }
        })
    }

    /// Checks field values against the type: required fields set, no unknown fields.
    /// Defaults fill fields not given.
    fn complete_fields(ty: &ConnectionType, mut given: BTreeMap<String, String>) -> Result<BTreeMap<String, String>> {
        for name in given.keys() {
            if !ty.fields.iter().any(|f| &f.name == name) {
                let known: Vec<&str> = ty.fields.iter().map(|f| f.name.as_str()).collect();
                return Err(VaultError::InvalidField(format!(
                    "{} has no field \"{name}\" (fields: {})",
                    ty.name,
                    known.join(", ")
                )));
            }
        }
        let mut out = BTreeMap::new();
        for f in &ty.fields {
            let value = given.remove(&f.name).or_else(|| f.default.clone()).unwrap_or_default();
            if f.required && value.trim().is_empty() {
                return Err(VaultError::InvalidField(format!("{}: \"{}\" ({}) is required", ty.name, f.label, f.name)));
            }
            if !value.is_empty() {
                out.insert(f.name.clone(), value);
            }
        }
        Ok(out)
    }

    /// Adds an account. OAuth2 sign-in accounts start as "not connected" until [`Vault::begin_login`].
    pub async fn add_account(
        &self,
        connection_type: &str,
        label: &str,
        fields: BTreeMap<String, String>,
        make_default: bool,
    ) -> Result<AccountInfo> {
        self.add_account_with_hosts(connection_type, label, fields, make_default, None).await
    }

    /// [`Vault::add_account`] with the hosts its credentials may go to (none given: the
    /// type's and the test URL's).
    pub async fn add_account_with_hosts(
        &self,
        connection_type: &str,
        label: &str,
        fields: BTreeMap<String, String>,
        make_default: bool,
        allowed_hosts: Option<Vec<String>>,
    ) -> Result<AccountInfo> {
        let label = label.trim();
        if label.is_empty() {
            return Err(VaultError::InvalidField("an account needs a label".into()));
        }
        let ty = self.connection_type(connection_type)?.clone();
        let fields = Vault::complete_fields(&ty, fields)?;
        let hosts = allowed_hosts.map(|h| normalize_hosts(label, &h)).transpose()?;
        self.unlock(None).await?;
        let id = uuid::Uuid::now_v7().to_string();
        let payload = Payload { fields, tokens: None, hosts };
        let status = if ty.auth == AuthKind::OAuth2Code { "notConnected" } else { "ready" };
        // Sealed with the key in use; if another process rotated it meanwhile, with the new one.
        for _ in 0..3 {
            let sealed = self.seal_payload(&id, connection_type, &payload)?;
            let now = self.now_text();
            let row = AccountRow {
                id: id.clone(),
                connection_type: connection_type.into(),
                label: label.into(),
                is_default: make_default,
                status: status.into(),
                sealed,
                token_expires_at: None,
                last_test: None,
                created_at: now.clone(),
                updated_at: now,
            };
            let (ct, lb, generation) = (connection_type.to_string(), label.to_string(), self.generation());
            match self.blocking(move |s| s.secrets().insert_account(&row, generation)).await {
                Ok(()) => return self.account(&id).await,
                Err(e) if is_stale(&e) => {
                    self.follow_rotation().await?;
                }
                Err(VaultError::Store(StoreError::AlreadyExists(_))) => {
                    return Err(VaultError::DuplicateLabel { connection_type: ct, label: lb });
                }
                Err(e) => return Err(e),
            }
        }
        Err(VaultError::Internal("the vault key kept changing while the account was added; try again".into()))
    }

    /// Changes field values (secret fields left out keep their value).
    pub async fn update_fields(&self, id: &str, changes: BTreeMap<String, String>) -> Result<AccountInfo> {
        let edit = move |payload: &mut Payload, ty: &ConnectionType, _: &AccountRow| {
            let mut merged = payload.fields.clone();
            for (k, v) in &changes {
                if v == SECRET_SET {
                    continue;
                }
                merged.insert(k.clone(), v.clone());
            }
            let old_test_host = payload.test_host();
            payload.fields = Vault::complete_fields(ty, merged)?;
            // A test URL the user sets is a host they mean the account for.
            let new_test_host = payload.test_host();
            if let (Some(hosts), Some(host)) = (payload.hosts.as_mut(), new_test_host)
                && old_test_host.as_ref() != Some(&host)
                && !hosts.contains(&host)
            {
                hosts.push(host);
            }
            Ok(())
        };
        let gave_up = "the vault key kept changing while the account was edited; try again";
        self.edit_payload(id, 3, Some("the account changed while it was being edited; try again"), gave_up, edit).await
    }

    /// Replaces the hosts an account's credentials may be sent to.
    pub async fn set_allowed_hosts(&self, id: &str, allowed: Vec<String>) -> Result<AccountInfo> {
        self.change_hosts(id, move |_, label| normalize_hosts(label, &allowed)).await
    }

    /// Adds hosts an account's credentials may be sent to (what trusting a workflow does).
    pub async fn allow_hosts(&self, id: &str, more: Vec<String>) -> Result<AccountInfo> {
        self.change_hosts(id, move |mut current, label| {
            for host in normalize_hosts(label, &more)? {
                if !current.contains(&host) {
                    current.push(host);
                }
            }
            Ok(current)
        })
        .await
    }

    /// Re-seals an account with a new host list, made from its current one by `change`;
    /// tried again when another writer got there first.
    async fn change_hosts(
        &self,
        id: &str,
        change: impl Fn(Vec<String>, &str) -> Result<Vec<String>>,
    ) -> Result<AccountInfo> {
        let edit = move |payload: &mut Payload, ty: &ConnectionType, row: &AccountRow| {
            payload.hosts = Some(change(payload.allowed_hosts(ty), &row.label)?);
            Ok(())
        };
        let gave_up = "the account kept changing while its hosts were being saved; try again";
        self.edit_payload(id, 5, None, gave_up, edit).await
    }

    /// Opens an account, lets `edit` change its payload and re-seals it, compare-and-swap,
    /// up to `tries` times: a key rotated meanwhile is loaded and the edit redone; a record
    /// another writer changed fails with `changed`, or (when none) is edited again.
    async fn edit_payload(
        &self,
        id: &str,
        tries: usize,
        changed: Option<&str>,
        gave_up: &str,
        edit: impl Fn(&mut Payload, &ConnectionType, &AccountRow) -> Result<()>,
    ) -> Result<AccountInfo> {
        self.unlock(None).await?;
        for _ in 0..tries {
            let row = self.row(id).await?;
            let ty = self.connection_type(&row.connection_type)?.clone();
            let mut payload = self.open_row(&row).await?;
            edit(&mut payload, &ty, &row)?;
            match self.reseal(&row, &payload, &row.status, row.token_expires_at.clone()).await {
                Ok(true) => return self.account(id).await,
                Ok(false) => match changed {
                    Some(message) => return Err(VaultError::Internal(message.into())),
                    None => continue,
                },
                Err(e) if is_stale(&e) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(VaultError::Internal(gave_up.into()))
    }

    pub async fn rename(&self, id: &str, label: &str) -> Result<AccountInfo> {
        let label = label.trim().to_string();
        if label.is_empty() {
            return Err(VaultError::InvalidField("an account needs a label".into()));
        }
        let row = self.row(id).await?;
        let (rid, lb, now) = (id.to_string(), label.clone(), self.now_text());
        self.blocking(move |s| s.secrets().rename(&rid, &lb, &now)).await.map_err(|e| match e {
            VaultError::Store(StoreError::AlreadyExists(_)) => {
                VaultError::DuplicateLabel { connection_type: row.connection_type.clone(), label }
            }
            other => other,
        })?;
        self.account(id).await
    }

    pub async fn set_default(&self, id: &str) -> Result<AccountInfo> {
        let rid = id.to_string();
        self.blocking(move |s| s.secrets().set_default(&rid)).await?;
        self.account(id).await
    }

    /// Removes an account, revoking its OAuth2 tokens first when the provider has a
    /// revocation endpoint. Returns a note when revocation failed (the account is removed
    /// anyway).
    pub async fn remove(&self, id: &str) -> Result<Option<String>> {
        self.unlock(None).await?;
        let row = self.row(id).await?;
        let note = match self.open_payload(&row) {
            Ok(payload) => oauth::revoke(self, &payload).await.err(),
            Err(e) => Some(format!("its tokens could not be revoked: {e}")),
        };
        let rid = id.to_string();
        self.blocking(move |s| s.secrets().delete_account(&rid)).await?;
        Ok(note)
    }

    /// "Test connection": an authenticated request to the type's test URL.
    pub async fn test(&self, id: &str) -> Result<TestOutcome> {
        self.unlock(None).await?;
        let row = self.row(id).await?;
        let ty = self.connection_type(&row.connection_type)?.clone();
        let payload = self.open_payload(&row)?;
        let outcome = match &ty.test {
            None => TestOutcome {
                ok: false,
                message: "this connection type has no test request".into(),
                at: self.now_text(),
            },
            Some(test) => {
                let mut url = test.url.clone();
                for f in &ty.fields {
                    if !f.secret {
                        url = url.replace(&format!("{{{}}}", f.name), payload.fields.get(&f.name).map_or("", |v| v));
                    }
                }
                drop(payload);
                if url.trim().is_empty() || url.contains('{') {
                    TestOutcome {
                        ok: false,
                        message: "set a test URL on this account to test it".into(),
                        at: self.now_text(),
                    }
                } else {
                    self.run_test(&row, &test.method, &url).await
                }
            }
        };
        let (rid, json) = (id.to_string(), serde_json::to_string(&outcome).unwrap_or_default());
        self.blocking(move |s| s.secrets().set_last_test(&rid, &json)).await?;
        Ok(outcome)
    }

    async fn run_test(&self, row: &AccountRow, method: &str, url: &str) -> TestOutcome {
        let at = self.now_text();
        let reference = switchyard_model::CredentialRef::new(row.connection_type.clone(), Some(row.label.clone()));
        let auth = match provider::authorize(self, &reference, false).await {
            Ok(a) => a,
            Err(e) => return TestOutcome { ok: false, message: redact_urls(&e.to_string()), at },
        };
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let parsed = match url::Url::parse(url) {
            Ok(u) => u,
            Err(e) => return TestOutcome { ok: false, message: redact_urls(&format!("{url}: {e}")), at },
        };
        let request = match auth.apply(self.inner.options.http.request(method, parsed.clone()), &parsed) {
            Ok(r) => r,
            Err(e) => return TestOutcome { ok: false, message: redact_urls(&e.message), at },
        };
        // The outcome is stored with the account: no URL in it keeps its query string (an
        // API key in the query would otherwise sit there in plain text).
        let (ok, message) = match request.send().await {
            Ok(response) => (response.status().is_success(), format!("{url} answered {}", response.status())),
            Err(e) => (false, format!("{url}: {e}")),
        };
        TestOutcome { ok, message: redact_urls(&message), at }
    }

    /// Refreshes now every OAuth2 account whose token expires within the skew (what the
    /// background refresher does each period).
    pub async fn refresh_due(&self) -> Result<()> {
        oauth::refresh_due(self).await
    }

    pub(crate) fn refresh_lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.inner.refresh_locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(id.to_string()).or_default().clone()
    }

    /// Refreshes OAuth2 tokens that expire within the skew, every `period` until the vault
    /// is dropped. Run it on the app's runtime.
    pub fn spawn_refresher(&self, period: Duration) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                let vault = Vault { inner };
                if vault.is_unlocked()
                    && let Err(e) = oauth::refresh_due(&vault).await
                {
                    tracing::warn!(error = %e, "background token refresh");
                }
            }
        })
    }
}

/// Whether an error says the key in use was rotated by another process.
pub(crate) fn is_stale(e: &VaultError) -> bool {
    matches!(e, VaultError::Store(StoreError::StaleKey { .. }))
}

fn status_from(s: &str) -> AccountStatus {
    match s {
        "notConnected" => AccountStatus::NotConnected,
        "needsReconnect" => AccountStatus::NeedsReconnect,
        _ => AccountStatus::Ready,
    }
}

async fn wrap(key: &MasterKey, vault_id: &str, password: &str) -> Result<(String, Vec<u8>)> {
    let params = KdfParams::new_default()?;
    let pw = Zeroizing::new(password.to_string());
    let p = params.clone();
    let kek = tokio::task::spawn_blocking(move || password::derive(&pw, &p))
        .await
        .map_err(|e| VaultError::Internal(e.to_string()))??;
    let wrapped = crypto::seal(&kek, &wrap_aad(vault_id), key.bytes())?;
    Ok((serde_json::to_string(&params).map_err(|e| VaultError::Internal(e.to_string()))?, wrapped))
}

async fn unwrap(header: &VaultHeaderRow, password: &str) -> Result<MasterKey> {
    let kdf: KdfParams = serde_json::from_str(header.kdf.as_deref().unwrap_or(""))
        .map_err(|e| VaultError::Header(format!("key derivation parameters: {e}")))?;
    let wrapped = header.wrapped_key.clone().ok_or_else(|| VaultError::Header("no wrapped key".into()))?;
    let pw = Zeroizing::new(password.to_string());
    let kek = tokio::task::spawn_blocking(move || password::derive(&pw, &kdf))
        .await
        .map_err(|e| VaultError::Internal(e.to_string()))??;
    let bytes = crypto::open(&kek, &wrap_aad(&header.vault_id), &wrapped, "the wrapped vault key")
        .map_err(|_| VaultError::WrongPassword)?;
    MasterKey::from_slice(&bytes).ok_or_else(|| VaultError::Header("the wrapped key is not 256 bits".into()))
}
