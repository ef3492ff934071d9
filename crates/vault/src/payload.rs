//! An account's sealed content: opening it, editing it and sealing it again under the
//! vault's current key, following a key rotation made by another process.

use crate::crypto::{self, account_aad};
use crate::{Result, Vault, VaultError, is_stale};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use switchyard_model::connection::{AccountInfo, ConnectionType};
use switchyard_model::hosts;
use switchyard_store::AccountRow;
use zeroize::{Zeroize, Zeroizing};

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

    /// The host an account is tested against: its test URL's (a chat model server's base
    /// URL's), or a database's `host:port`.
    pub(crate) fn test_host(&self) -> Option<String> {
        if let Some(host) = self.fields.get("host").map(|h| h.trim()).filter(|h| !h.is_empty()) {
            return Some(match self.fields.get("port").map(|p| p.trim()).filter(|p| !p.is_empty()) {
                Some(port) => format!("{host}:{port}"),
                None => host.to_string(),
            });
        }
        ["testUrl", "baseUrl"].iter().find_map(|f| self.fields.get(*f).and_then(|url| hosts::static_host(url)))
    }
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

impl Vault {
    /// [`Vault::open_payload`], following a rotation in another process: when the record
    /// does not open, either the key moved on since this process loaded it (the new key is
    /// loaded), or the row was read before a rotation this process has followed since (the
    /// row is read again). Only a record that still does not open is an error.
    pub(crate) async fn open_row(&self, row: &AccountRow) -> Result<Payload> {
        match self.open_payload(row) {
            Err(VaultError::Tampered { .. }) => {
                self.follow_rotation().await?;
                match self.open_payload(row) {
                    Err(tampered @ VaultError::Tampered { .. }) => {
                        let fresh = self.row(&row.id).await?;
                        if fresh.sealed == row.sealed { Err(tampered) } else { self.open_payload(&fresh) }
                    }
                    other => other,
                }
            }
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
        let (sealed, generation) = self.seal_payload(&row.id, &row.connection_type, payload)?;
        let (id, old, status, now) = (row.id.clone(), row.sealed.clone(), status.to_string(), self.now_text());
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

    /// Seals a payload; also returns the generation of the key that sealed it, taken from
    /// the same snapshot: a write checks that generation, so bytes sealed with a key another
    /// task replaced meanwhile are never stored under the new generation.
    pub(crate) fn seal_payload(&self, id: &str, connection_type: &str, payload: &Payload) -> Result<(Vec<u8>, i64)> {
        let unlocked = self.unlocked().ok_or_else(|| VaultError::Locked("unlock it first".into()))?;
        let plain = Zeroizing::new(serde_json::to_vec(payload).map_err(|e| VaultError::Internal(e.to_string()))?);
        Ok((crypto::seal(&unlocked.key, &account_aad(id, connection_type), &plain)?, unlocked.generation))
    }

    /// Opens an account, lets `edit` change its payload and re-seals it, compare-and-swap,
    /// up to `tries` times: a key rotated meanwhile is loaded and the edit redone; a record
    /// another writer changed fails with `changed`, or (when none) is edited again.
    pub(crate) async fn edit_payload(
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
}
