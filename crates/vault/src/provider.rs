//! Turning an account into request authorization, for nodes (through the engine's
//! [`CredentialProvider`]) and for "Test connection".

use crate::{Vault, VaultError, oauth};
use base64::Engine as _;
use futures::future::BoxFuture;
use switchyard_core::{Authorization, CredentialProvider, Fields, HostScope, Secret};
use switchyard_model::CredentialRef;
use switchyard_model::connection::{AuthKind, ConnectionType};
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError};
use switchyard_store::AccountRow;
use zeroize::Zeroizing;

pub(crate) async fn authorize(
    vault: &Vault,
    reference: &CredentialRef,
    force_refresh: bool,
) -> crate::Result<Authorization> {
    vault.unlock(None).await?;
    let ty = vault.connection_type(&reference.connection)?.clone();
    let row = vault.find(&reference.connection, reference.account.as_deref()).await?;
    let field =
        |payload: &crate::Payload, name: &str| Zeroizing::new(payload.fields.get(name).cloned().unwrap_or_default());
    let payload = vault.open_row(&row).await?;
    let mut auth = Authorization { scope: scope(&ty, &row, &payload), ..Authorization::default() };
    match ty.auth {
        AuthKind::ApiKeyHeader => {
            auth.headers.push((field(&payload, "headerName").to_string(), field(&payload, "apiKey")));
        }
        AuthKind::ApiKeyQuery => {
            auth.query.push((field(&payload, "paramName").to_string(), field(&payload, "apiKey")));
        }
        AuthKind::Bearer => {
            auth.headers
                .push(("Authorization".into(), Zeroizing::new(format!("Bearer {}", *field(&payload, "token")))));
        }
        AuthKind::Basic => {
            let pair = Zeroizing::new(format!("{}:{}", *field(&payload, "username"), *field(&payload, "password")));
            let encoded = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(pair.as_bytes()));
            auth.headers.push(("Authorization".into(), Zeroizing::new(format!("Basic {}", *encoded))));
        }
        AuthKind::SigningSecret | AuthKind::Database | AuthKind::Mail => {}
        AuthKind::Llm => {
            let key = field(&payload, "apiKey");
            if !key.trim().is_empty() {
                auth.headers.push(("Authorization".into(), Zeroizing::new(format!("Bearer {}", key.trim()))));
            }
            for line in field(&payload, "headers").lines() {
                if let Some((name, value)) = line.split_once(':')
                    && !name.trim().is_empty()
                {
                    auth.headers.push((name.trim().to_string(), Zeroizing::new(value.trim().to_string())));
                }
            }
        }
        AuthKind::OAuth2Code | AuthKind::OAuth2ClientCredentials => {
            drop(payload);
            let token = oauth::access_token(vault, &ty, row, force_refresh).await?;
            auth.headers.push(("Authorization".into(), Zeroizing::new(format!("Bearer {}", *token))));
            auth.refreshable = true;
        }
    }
    Ok(auth)
}

/// The account's name and the hosts it may be sent to.
fn scope(ty: &ConnectionType, row: &AccountRow, payload: &crate::Payload) -> HostScope {
    HostScope { connection: ty.id.clone(), account: row.label.clone(), hosts: payload.allowed_hosts(ty) }
}

pub(crate) fn node_error(e: VaultError, reference: &CredentialRef) -> NodeError {
    let code = e.code();
    let class = match &e {
        VaultError::OAuth(_) => ErrorClass::Transient,
        _ => ErrorClass::Permanent,
    };
    let account = reference.account.as_deref().map(|a| format!(" account \"{a}\"")).unwrap_or_default();
    NodeError::new(
        if code == ErrorCode::Internal { ErrorCode::NodeFailed } else { code },
        format!("credentials ({}{account}): {e}", reference.connection),
    )
    .with_class(class)
}

impl CredentialProvider for Vault {
    fn authorize<'a>(
        &'a self,
        reference: &'a CredentialRef,
        force_refresh: bool,
    ) -> BoxFuture<'a, Result<Authorization, NodeError>> {
        Box::pin(async move { authorize(self, reference, force_refresh).await.map_err(|e| node_error(e, reference)) })
    }

    fn secret<'a>(&'a self, reference: &'a CredentialRef) -> BoxFuture<'a, Result<Secret, NodeError>> {
        Box::pin(async move { secret(self, reference).await.map_err(|e| node_error(e, reference)) })
    }

    fn expose<'a>(&'a self, reference: &'a CredentialRef) -> BoxFuture<'a, Result<Secret, NodeError>> {
        Box::pin(async move { expose(self, reference).await.map_err(|e| node_error(e, reference)) })
    }

    fn fields<'a>(&'a self, reference: &'a CredentialRef) -> BoxFuture<'a, Result<Fields, NodeError>> {
        Box::pin(async move { fields(self, reference).await.map_err(|e| node_error(e, reference)) })
    }
}

/// Every field of an account, and where it may connect.
pub(crate) async fn fields(vault: &Vault, reference: &CredentialRef) -> crate::Result<Fields> {
    vault.unlock(None).await?;
    let ty = vault.connection_type(&reference.connection)?.clone();
    let row = vault.find(&reference.connection, reference.account.as_deref()).await?;
    let payload = vault.open_row(&row).await?;
    let values = payload.fields.iter().map(|(k, v)| (k.clone(), Zeroizing::new(v.clone()))).collect();
    Ok(Fields { values, scope: scope(&ty, &row, &payload) })
}

/// The `secret` field of a signing-secret account, and where requests signed with it may go.
pub(crate) async fn secret(vault: &Vault, reference: &CredentialRef) -> crate::Result<Secret> {
    vault.unlock(None).await?;
    let ty = vault.connection_type(&reference.connection)?.clone();
    if ty.auth != AuthKind::SigningSecret {
        return Err(VaultError::InvalidField(format!(
            "connection type \"{}\" holds no signing secret (use a \"Webhook signing secret\" connection)",
            ty.id
        )));
    }
    let row = vault.find(&reference.connection, reference.account.as_deref()).await?;
    let payload = vault.open_row(&row).await?;
    Ok(Secret {
        value: Zeroizing::new(payload.fields.get("secret").cloned().unwrap_or_default()),
        user: None,
        scope: scope(&ty, &row, &payload),
    })
}

/// The account's secret itself: the API key, token, password (with the user name), signing
/// secret, or a current OAuth2 access token (refreshed when due).
pub(crate) async fn expose(vault: &Vault, reference: &CredentialRef) -> crate::Result<Secret> {
    vault.unlock(None).await?;
    let ty = vault.connection_type(&reference.connection)?.clone();
    let row = vault.find(&reference.connection, reference.account.as_deref()).await?;
    let payload = vault.open_row(&row).await?;
    let field = |name: &str| Zeroizing::new(payload.fields.get(name).cloned().unwrap_or_default());
    let scope = scope(&ty, &row, &payload);
    let (value, user) = match ty.auth {
        AuthKind::ApiKeyHeader | AuthKind::ApiKeyQuery | AuthKind::Llm => (field("apiKey"), None),
        AuthKind::Bearer => (field("token"), None),
        AuthKind::Basic => (field("password"), Some(field("username"))),
        AuthKind::SigningSecret => (field("secret"), None),
        AuthKind::Database | AuthKind::Mail => (field("password"), Some(field("user"))),
        AuthKind::OAuth2Code | AuthKind::OAuth2ClientCredentials => {
            drop(payload);
            (oauth::access_token(vault, &ty, row, false).await?, None)
        }
    };
    Ok(Secret { value, user, scope })
}
