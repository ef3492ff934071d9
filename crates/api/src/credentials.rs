//! Credential commands: the vault, connection types and accounts.

use crate::types::*;
use crate::{Api, ApiResult};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchyard_model::connection::{AccountInfo, TestOutcome};
use switchyard_vault::KeySource;
use ts_rs::TS;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultStatusResponse {
    pub initialized: bool,
    pub unlocked: bool,
    /// `keyring` or `password`; absent before the vault exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub key_source: Option<String>,
    pub keyring_available: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub keyring_message: Option<String>,
    pub accounts: u32,
    /// When the vault's recovery key was made; absent when it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub recovery_key_created_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
pub struct VaultUnlockRequest {
    /// The master password, for a vault that uses one (or to create one where no keyring works).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub password: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
pub struct VaultChangePasswordRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub current: Option<String>,
    pub new: String,
}

/// A new recovery key: shown once, never stored.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultRecoveryKeyResponse {
    /// Nine groups of four letters and digits.
    pub recovery_key: String,
    pub created_at: String,
}

impl std::fmt::Debug for VaultRecoveryKeyResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultRecoveryKeyResponse").field("created_at", &self.created_at).finish_non_exhaustive()
    }
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultRecoverRequest {
    pub recovery_key: String,
    /// Keep the master key behind this new master password; without it, in the OS keyring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub new_password: Option<String>,
}

impl std::fmt::Debug for VaultRecoverRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VaultRecoverRequest(redacted)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
pub struct VaultRotateResponse {
    /// How many accounts were re-sealed.
    pub resealed: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionTypesResponse {
    pub connection_types: Vec<switchyard_model::connection::ConnectionType>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct AccountListResponse {
    pub accounts: Vec<switchyard_model::connection::AccountInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountAddRequest {
    pub connection_type: String,
    pub label: String,
    #[serde(default)]
    pub fields: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    #[ts(optional, as = "Option<bool>")]
    pub make_default: bool,
    /// Hosts its credentials may go to; none given: the type's and the test URL's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub allowed_hosts: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct AccountUpdateRequest {
    pub id: String,
    /// Changed field values; a secret field left out (or sent as the "set" marker) keeps its value.
    pub fields: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct AccountRenameRequest {
    pub id: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct AccountRemoveResponse {
    pub id: String,
    /// Set when the provider's tokens could not be revoked (the account is removed anyway).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub note: Option<String>,
}

impl Api {
    pub fn vault(&self) -> &switchyard_vault::Vault {
        &self.inner.vault
    }

    pub async fn vault_status(&self, _: Empty) -> ApiResult<VaultStatusResponse> {
        let s = self.inner.vault.status().await?;
        Ok(VaultStatusResponse {
            initialized: s.initialized,
            unlocked: s.unlocked,
            key_source: s.key_source.map(|k| match k {
                KeySource::Keyring => "keyring".to_string(),
                KeySource::Password => "password".to_string(),
            }),
            keyring_available: s.keyring_available,
            keyring_message: s.keyring_message,
            accounts: s.accounts,
            recovery_key_created_at: s.recovery_key_created_at,
        })
    }

    pub async fn vault_unlock(&self, request: VaultUnlockRequest) -> ApiResult<VaultStatusResponse> {
        self.inner.vault.unlock(request.password.as_deref()).await?;
        self.vault_status(Empty {}).await
    }

    pub async fn vault_change_password(&self, request: VaultChangePasswordRequest) -> ApiResult<VaultStatusResponse> {
        self.inner.vault.change_password(request.current.as_deref(), &request.new).await?;
        self.vault_status(Empty {}).await
    }

    pub async fn vault_rotate_key(&self, request: VaultUnlockRequest) -> ApiResult<VaultRotateResponse> {
        let resealed = self.inner.vault.rotate_key(request.password.as_deref()).await?;
        Ok(VaultRotateResponse { resealed })
    }

    pub async fn vault_recovery_key(&self, request: VaultUnlockRequest) -> ApiResult<VaultRecoveryKeyResponse> {
        let key = self.inner.vault.create_recovery_key(request.password.as_deref()).await?;
        let created_at = self.vault_status(Empty {}).await?.recovery_key_created_at.unwrap_or_default();
        Ok(VaultRecoveryKeyResponse { recovery_key: key.display().to_string(), created_at })
    }

    pub async fn vault_recover(&self, request: VaultRecoverRequest) -> ApiResult<VaultStatusResponse> {
        self.inner.vault.recover(&request.recovery_key, request.new_password.as_deref()).await?;
        self.vault_status(Empty {}).await
    }

    pub async fn connection_types(&self, _: Empty) -> ApiResult<ConnectionTypesResponse> {
        Ok(ConnectionTypesResponse { connection_types: self.inner.vault.connection_types() })
    }

    pub async fn account_list(&self, _: Empty) -> ApiResult<AccountListResponse> {
        Ok(AccountListResponse { accounts: self.inner.vault.accounts().await? })
    }

    pub async fn account_add(&self, request: AccountAddRequest) -> ApiResult<AccountInfo> {
        let info = self
            .inner
            .vault
            .add_account_with_hosts(
                &request.connection_type,
                &request.label,
                request.fields,
                request.make_default,
                request.allowed_hosts,
            )
            .await?;
        self.account_changed(&info.id);
        Ok(info)
    }

    pub async fn account_update(&self, request: AccountUpdateRequest) -> ApiResult<AccountInfo> {
        let info = self.inner.vault.update_fields(&request.id, request.fields).await?;
        self.account_changed(&info.id);
        Ok(info)
    }

    pub async fn account_rename(&self, request: AccountRenameRequest) -> ApiResult<AccountInfo> {
        let info = self.inner.vault.rename(&request.id, &request.label).await?;
        self.account_changed(&info.id);
        Ok(info)
    }

    pub async fn account_set_default(&self, request: IdRequest) -> ApiResult<AccountInfo> {
        let info = self.inner.vault.set_default(&request.id).await?;
        self.account_changed(&info.id);
        Ok(info)
    }

    pub async fn account_remove(&self, request: IdRequest) -> ApiResult<AccountRemoveResponse> {
        let note = self.inner.vault.remove(&request.id).await?;
        self.account_changed(&request.id);
        Ok(AccountRemoveResponse { id: request.id, note })
    }

    pub async fn account_test(&self, request: IdRequest) -> ApiResult<TestOutcome> {
        let info = self.inner.vault.account(&request.id).await?;
        let outcome = match switchyard_engine::connect::tests_itself(&info.connection_type) {
            // A database or mail server: connect, sign in, ask for something harmless.
            true => {
                let reference =
                    switchyard_model::CredentialRef::new(info.connection_type.clone(), Some(info.label.clone()));
                let tested = match switchyard_engine::CredentialProvider::fields(&self.inner.vault, &reference).await {
                    Ok(fields) => switchyard_engine::connect::test(&info.connection_type, &fields).await,
                    Err(e) => Err(e),
                };
                let (ok, message) = match tested {
                    Ok(message) => (true, message),
                    Err(e) => (false, e.message),
                };
                self.inner.vault.record_test(&request.id, ok, &message).await?
            }
            false => self.inner.vault.test(&request.id).await?,
        };
        self.account_changed(&request.id);
        Ok(outcome)
    }

    /// Signs an OAuth2 account in (or reconnects it): opens the provider's page in the
    /// browser and waits for it to come back to the loopback redirect.
    pub async fn account_login(&self, request: IdRequest) -> ApiResult<AccountInfo> {
        let pending = self.inner.vault.begin_login(&request.id).await?;
        if let Err(e) = self.inner.host.open_url(&pending.url) {
            tracing::warn!(error = %e, "cannot open the browser; the sign-in URL is in the log");
            tracing::info!(url = %pending.url, "open this URL to sign in");
        }
        let info = pending.finish().await?;
        self.account_changed(&info.id);
        Ok(info)
    }

    pub(crate) fn account_changed(&self, id: &str) {
        self.inner.host.emit(ApiEvent::Account { id: id.to_string() });
        // A signing secret may have changed.
        self.triggers_changed();
    }
}
