//! Credential commands: the vault, connection types and accounts.

use crate::types::*;
use crate::{Api, ApiResult};
use switchyard_model::connection::{AccountInfo, TestOutcome};
use switchyard_vault::KeySource;

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
        let outcome = self.inner.vault.test(&request.id).await?;
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
