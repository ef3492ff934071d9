//! The master key's life: created on first use, kept in the OS keyring or wrapped by a
//! master password, unlocked, locked, re-wrapped under a new password, rotated.

use crate::crypto::{self, MasterKey, account_aad, check_aad, wrap_aad};
use crate::password::{self, KdfParams};
use crate::{
    KeySource, KeyStore, KeyringError, PASSWORD_CREDENTIAL, PASSWORD_ENV, PASSWORD_FILE_ENV, Result, Unlocked, Vault,
    VaultError, VaultStatus, is_stale,
};
use std::sync::Arc;
use std::time::Duration;
use switchyard_store::{StoreError, VaultHeaderRow};
use zeroize::Zeroizing;

impl Vault {
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

    pub(crate) fn unlocked(&self) -> Option<Arc<Unlocked>> {
        self.inner.key.read().ok().and_then(|k| k.clone())
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

    pub(crate) async fn keyring_call<T: Send + 'static>(
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

    pub(crate) async fn header(&self) -> Result<Option<VaultHeaderRow>> {
        self.blocking(|s| s.secrets().header()).await
    }

    pub(crate) fn set_key(&self, key: MasterKey, generation: i64, password: Option<Zeroizing<String>>) -> Result<()> {
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
            recovery_key_created_at: header.and_then(|h| h.recovery_created_at),
        })
    }

    /// The master password a headless run was given: `SWITCHYARD_MASTER_PASSWORD`, else the
    /// file `SWITCHYARD_MASTER_PASSWORD_FILE` names, else systemd's credential
    /// `$CREDENTIALS_DIRECTORY/switchyard-master-password` (one trailing newline dropped).
    /// A named file that cannot be read is an error naming it.
    pub fn headless_password() -> Result<Option<Zeroizing<String>>> {
        if let Some(password) = std::env::var(PASSWORD_ENV).ok().filter(|p| !p.is_empty()) {
            return Ok(Some(Zeroizing::new(password)));
        }
        let read = |path: &std::path::Path, from: &str| -> Result<Option<Zeroizing<String>>> {
            let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
                VaultError::Locked(format!("cannot read the master password from {} ({from}): {e}", path.display()))
            })?);
            let password = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text);
            Ok(Some(Zeroizing::new(password.to_string())).filter(|p| !p.is_empty()))
        };
        if let Some(file) = std::env::var_os(PASSWORD_FILE_ENV).filter(|f| !f.is_empty()) {
            return read(std::path::Path::new(&file), PASSWORD_FILE_ENV);
        }
        if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY").filter(|d| !d.is_empty()) {
            let file = std::path::Path::new(&dir).join(PASSWORD_CREDENTIAL);
            if file.exists() {
                return read(&file, "the service's credential");
            }
        }
        Ok(None)
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
        let password: Option<Zeroizing<String>> = match password {
            Some(p) => Some(Zeroizing::new(p.to_string())),
            None => Vault::headless_password()?,
        };
        let (key, generation) = match self.header().await? {
            None => self.create(password.as_deref().map(String::as_str)).await?,
            Some(header) => (self.open_key(&header, password.as_deref().map(String::as_str)).await?, header.generation),
        };
        self.set_key(key, generation, password)
    }

    pub(crate) async fn create(&self, password: Option<&str>) -> Result<(MasterKey, i64)> {
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
                recovery_wrapped: None,
                recovery_sealed: None,
                recovery_created_at: None,
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
                    recovery_wrapped: None,
                    recovery_sealed: None,
                    recovery_created_at: None,
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

    pub(crate) async fn open_key(&self, header: &VaultHeaderRow, password: Option<&str>) -> Result<MasterKey> {
        let key = match header.key_source.as_str() {
            "keyring" => {
                let entry = header.key_id.clone();
                let bytes = self.keyring_call(move |k| k.get(&entry)).await.map_err(|e| match e {
                    KeyringError::NoEntry => VaultError::KeyMissing(format!("entry {}", header.key_id)),
                    KeyringError::Unavailable(why) | KeyringError::Failed(why) => VaultError::KeyringUnavailable(
                        format!("{why}; the vault key of {} is kept there", self.inner.store.location()),
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
        let password: Option<Zeroizing<String>> = match password {
            Some(p) => Some(Zeroizing::new(p.to_string())),
            None => Vault::headless_password()?,
        };
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
            // The recovery key's wrapping moves to the new key too (its new keyring entry is
            // removed below if this fails).
            let recovery = match crate::recovery::rewrap(&header, &old, &new) {
                Ok(r) => r,
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            };
            let written = VaultHeaderRow {
                generation: header.generation + 1,
                updated_at: self.now_text(),
                recovery_wrapped: recovery.recovery_wrapped,
                recovery_sealed: recovery.recovery_sealed,
                recovery_created_at: recovery.recovery_created_at,
                ..new_header.clone()
            };
            let (from, old_key, new_key) = (header.generation, old.clone(), new.clone());
            let read_recovery = header.recovery_sealed.clone();
            let rotated = self
                .blocking(move |s| {
                    s.secrets().replace_key(&written, from, read_recovery.as_deref(), &mut |row| {
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
}

pub(crate) async fn wrap(key: &MasterKey, vault_id: &str, password: &str) -> Result<(String, Vec<u8>)> {
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
