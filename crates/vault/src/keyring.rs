//! The master key's home in the OS keyring (keyring-core with the per-OS stores: macOS
//! Keychain, Windows Credential Manager, Linux Secret Service). Every call blocks (a desktop
//! may show an unlock prompt), so callers run them with `spawn_blocking`.

use std::sync::Arc;
use zeroize::Zeroizing;

/// The keyring service name entries are stored under.
pub const SERVICE: &str = "switchyard";

#[derive(Debug, Clone, thiserror::Error)]
pub enum KeyringError {
    /// No usable keyring (no D-Bus session, no Secret Service, locked and no prompt): the
    /// vault falls back to a master password.
    #[error("{0}")]
    Unavailable(String),
    #[error("no entry")]
    NoEntry,
    #[error("{0}")]
    Failed(String),
}

/// Where the master key can be kept. The OS keyring in the app; tests may bring their own.
pub trait KeyStore: Send + Sync + std::fmt::Debug {
    fn get(&self, user: &str) -> Result<Zeroizing<Vec<u8>>, KeyringError>;
    fn set(&self, user: &str, secret: &[u8]) -> Result<(), KeyringError>;
    fn delete(&self, user: &str) -> Result<(), KeyringError>;
}

fn map(e: keyring_core::Error) -> KeyringError {
    match e {
        keyring_core::Error::NoEntry => KeyringError::NoEntry,
        keyring_core::Error::PlatformFailure(p) | keyring_core::Error::NoStorageAccess(p) => {
            KeyringError::Unavailable(p.to_string())
        }
        keyring_core::Error::NoDefaultStore => KeyringError::Unavailable("no credential store".into()),
        other => KeyringError::Failed(other.to_string()),
    }
}

/// The OS keyring, connected on first use (connecting blocks, so it happens inside the
/// vault's `spawn_blocking` calls, never on the async runtime).
#[derive(Default)]
pub struct OsKeyring {
    store: std::sync::OnceLock<Result<Arc<keyring_core::CredentialStore>, KeyringError>>,
}

impl std::fmt::Debug for OsKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.store.get() {
            Some(Ok(store)) => write!(f, "OsKeyring({})", store.vendor()),
            Some(Err(e)) => write!(f, "OsKeyring(unavailable: {e})"),
            None => f.write_str("OsKeyring(not connected)"),
        }
    }
}

impl OsKeyring {
    pub fn new() -> OsKeyring {
        OsKeyring::default()
    }

    fn entry(&self, user: &str) -> Result<keyring_core::Entry, KeyringError> {
        let store = self.store.get_or_init(platform_store).clone()?;
        store.build(SERVICE, user, None).map_err(map)
    }
}

#[cfg(target_os = "linux")]
fn platform_store() -> Result<Arc<keyring_core::CredentialStore>, KeyringError> {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() && std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        return Err(KeyringError::Unavailable("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)".into()));
    }
    let store = zbus_secret_service_keyring_store::Store::new().map_err(map)?;
    Ok(store)
}

#[cfg(target_os = "macos")]
fn platform_store() -> Result<Arc<keyring_core::CredentialStore>, KeyringError> {
    let store = apple_native_keyring_store::keychain::Store::new().map_err(map)?;
    Ok(store)
}

#[cfg(target_os = "windows")]
fn platform_store() -> Result<Arc<keyring_core::CredentialStore>, KeyringError> {
    let store = windows_native_keyring_store::Store::new().map_err(map)?;
    Ok(store)
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
fn platform_store() -> Result<Arc<keyring_core::CredentialStore>, KeyringError> {
    Err(KeyringError::Unavailable("no keyring support on this operating system".into()))
}

impl KeyStore for OsKeyring {
    fn get(&self, user: &str) -> Result<Zeroizing<Vec<u8>>, KeyringError> {
        self.entry(user)?.get_secret().map(Zeroizing::new).map_err(map)
    }

    fn set(&self, user: &str, secret: &[u8]) -> Result<(), KeyringError> {
        self.entry(user)?.set_secret(secret).map_err(map)
    }

    fn delete(&self, user: &str) -> Result<(), KeyringError> {
        match self.entry(user)?.delete_credential().map_err(map) {
            Err(KeyringError::NoEntry) => Ok(()),
            other => other,
        }
    }
}
