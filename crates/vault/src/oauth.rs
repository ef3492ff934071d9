//! OAuth2 (oauth2 crate 5): sign-in with authorization code + PKCE (S256) through the system
//! browser and a loopback redirect on 127.0.0.1 with an ephemeral port (RFC 8252), client
//! credentials, single-flight refresh with rotated refresh tokens stored before use, and
//! revocation (RFC 7009).

use crate::{Payload, Tokens, Vault, VaultError};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use oauth2::basic::{BasicClient, BasicErrorResponse, BasicTokenResponse};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet, HttpClientError,
    PkceCodeChallenge, RedirectUrl, RefreshToken, RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use switchyard_core::clock::rfc3339;
use switchyard_model::connection::{AccountInfo, AuthKind, ConnectionType};
use switchyard_store::AccountRow;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zeroize::Zeroizing;

type TokenClient = BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;
type TokenError = RequestTokenError<HttpClientError<reqwest::Error>, BasicErrorResponse>;

fn field(payload: &Payload, name: &str) -> String {
    payload.fields.get(name).cloned().unwrap_or_default()
}

fn token_client(payload: &Payload) -> crate::Result<TokenClient> {
    let token_url = TokenUrl::new(field(payload, "tokenUrl"))
        .map_err(|e| VaultError::InvalidField(format!("the token URL is not valid: {e}")))?;
    let mut client = BasicClient::new(ClientId::new(field(payload, "clientId"))).set_token_uri(token_url);
    let secret = field(payload, "clientSecret");
    if !secret.is_empty() {
        client = client.set_client_secret(ClientSecret::new(secret));
    }
    Ok(client)
}

fn scopes(payload: &Payload) -> Vec<Scope> {
    field(payload, "scopes").split_whitespace().map(|s| Scope::new(s.to_string())).collect()
}

fn tokens_from(response: &BasicTokenResponse, previous_refresh: Option<&str>, now: DateTime<Utc>) -> Tokens {
    Tokens {
        access_token: response.access_token().secret().clone(),
        refresh_token: response
            .refresh_token()
            .map(|r| r.secret().clone())
            .or_else(|| previous_refresh.map(str::to_string)),
        expires_at: response
            .expires_in()
            .map(|d| rfc3339(now + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::hours(1)))),
    }
}

/// Whether the provider itself refused (the grant is gone), as opposed to a network error.
fn describe(e: &TokenError) -> (bool, String) {
    match e {
        RequestTokenError::ServerResponse(r) => {
            let mut text = r.error().to_string();
            if let Some(d) = r.error_description() {
                text.push_str(": ");
                text.push_str(d);
            }
            (true, text)
        }
        RequestTokenError::Request(e) => (false, format!("the token request failed: {e}")),
        RequestTokenError::Parse(e, _) => (false, format!("the token response is not valid: {e}")),
        RequestTokenError::Other(e) => (false, e.clone()),
    }
}

fn expiring(tokens: &Tokens, now: DateTime<Utc>, skew: std::time::Duration) -> bool {
    match tokens.expires_at.as_deref().and_then(|t| DateTime::parse_from_rfc3339(t).ok()) {
        Some(at) => at.with_timezone(&Utc) <= now + chrono::Duration::from_std(skew).unwrap_or_default(),
        None => false,
    }
}

fn not_usable(ty: &ConnectionType, row: &AccountRow) -> Option<VaultError> {
    match row.status.as_str() {
        "needsReconnect" => Some(VaultError::NeedsReconnect(format!(
            "account \"{}\" of {} needs to be reconnected: the provider refused to refresh its sign-in",
            row.label, ty.name
        ))),
        "notConnected" if ty.auth == AuthKind::OAuth2Code => Some(VaultError::NeedsReconnect(format!(
            "account \"{}\" of {} is not signed in yet; use Connect on the Connections page or `switchyard connections login`",
            row.label, ty.name
        ))),
        _ => None,
    }
}

/// A usable access token for an OAuth2 account: the stored one while it is fresh, else a
/// new one. Refreshes are single-flight per account: concurrent callers wait for the one
/// refresh in flight and use its result.
pub(crate) async fn access_token(
    vault: &Vault,
    ty: &ConnectionType,
    row: AccountRow,
    force_refresh: bool,
) -> crate::Result<Zeroizing<String>> {
    if let Some(e) = not_usable(ty, &row) {
        return Err(e);
    }
    let skew = vault.inner.options.refresh_skew;
    {
        // open_row, not open_payload: the row may have been read before a rotation this
        // process follows meanwhile (or another process made since).
        let payload = vault.open_row(&row).await?;
        if let Some(tokens) = &payload.tokens
            && !force_refresh
            && !expiring(tokens, vault.now(), skew)
        {
            return Ok(Zeroizing::new(tokens.access_token.clone()));
        }
    }
    // The refresh runs in its own task: a run cancelled mid-refresh (its node task dropped)
    // must not lose a rotated refresh token the provider already issued.
    let (vault, ty) = (vault.clone(), ty.clone());
    let task = tokio::spawn(async move {
        let _guard = vault.refresh_lock(&row.id).lock_owned().await;
        // Someone else may have refreshed while we waited.
        let current = vault.row(&row.id).await?;
        if let Some(e) = not_usable(&ty, &current) {
            return Err(e);
        }
        if current.sealed != row.sealed {
            // Changed since: a refresh elsewhere, or a rotation re-sealed it under a key this
            // process may not have loaded yet.
            let payload = vault.open_row(&current).await?;
            if let Some(tokens) = &payload.tokens
                && !expiring(tokens, vault.now(), skew)
            {
                return Ok(Zeroizing::new(tokens.access_token.clone()));
            }
        }
        refresh_locked(&vault, &ty, &current).await
    });
    task.await.map_err(|e| VaultError::Internal(format!("the token refresh task failed: {e}")))?
}

/// Gets new tokens for an account whose refresh lock the caller holds, and stores them
/// before returning.
async fn refresh_locked(vault: &Vault, ty: &ConnectionType, row: &AccountRow) -> crate::Result<Zeroizing<String>> {
    let mut payload = vault.open_row(row).await?;
    let before = tokens_of(&payload);
    let client = token_client(&payload)?;
    let http = vault.inner.options.http.clone();
    let result = match ty.auth {
        AuthKind::OAuth2ClientCredentials => {
            client.exchange_client_credentials().add_scopes(scopes(&payload)).request_async(&http).await
        }
        _ => {
            let Some(refresh) = payload.tokens.as_ref().and_then(|t| t.refresh_token.clone()) else {
                mark_needs_reconnect(vault, row).await?;
                return Err(VaultError::NeedsReconnect(format!(
                    "account \"{}\" of {} has no refresh token; sign in again",
                    row.label, ty.name
                )));
            };
            let refresh = RefreshToken::new(refresh);
            client.exchange_refresh_token(&refresh).request_async(&http).await
        }
    };
    let response = match result {
        Ok(r) => r,
        Err(e) => {
            let (refused, text) = describe(&e);
            if refused && ty.auth == AuthKind::OAuth2Code {
                mark_needs_reconnect(vault, row).await?;
                return Err(VaultError::NeedsReconnect(format!(
                    "account \"{}\" of {} needs to be reconnected: the provider refused to refresh its sign-in ({text})",
                    row.label, ty.name
                )));
            }
            return Err(VaultError::OAuth(format!("account \"{}\" of {}: {text}", row.label, ty.name)));
        }
    };
    let previous = payload.tokens.as_ref().and_then(|t| t.refresh_token.clone());
    let tokens = tokens_from(&response, previous.as_deref(), vault.now());
    let access = Zeroizing::new(tokens.access_token.clone());
    let expires = tokens.expires_at.clone();
    payload.tokens = Some(tokens);
    store_tokens(vault, row, &before, &payload, expires).await?;
    tracing::debug!(account = %row.label, connection = %row.connection_type, "OAuth2 tokens refreshed");
    Ok(access)
}

/// Stores refreshed tokens. The provider may already have rotated the refresh token, so they
/// must not be lost: when another process rotated the vault key meanwhile, the record (the
/// same tokens, sealed under the new key) is swapped for the new tokens under the new key.
/// The tokens a record holds (to recognise it after a rotation re-sealed it).
type TokensSeen = Option<(Zeroizing<String>, Option<Zeroizing<String>>)>;

fn tokens_of(payload: &Payload) -> TokensSeen {
    payload
        .tokens
        .as_ref()
        .map(|t| (Zeroizing::new(t.access_token.clone()), t.refresh_token.clone().map(Zeroizing::new)))
}

/// `before` is what `row` held when the refresh started.
async fn store_tokens(
    vault: &Vault,
    row: &AccountRow,
    before: &TokensSeen,
    payload: &Payload,
    expires: Option<String>,
) -> crate::Result<()> {
    let mut current = row.clone();
    for _ in 0..3 {
        match vault.reseal(&current, payload, "ready", expires.clone()).await {
            Ok(true) => {
                (vault.inner.options.on_change)(&row.id);
                return Ok(());
            }
            Ok(false) => break,
            Err(e) if crate::is_stale(&e) => {
                let fresh = vault.row(&row.id).await?;
                let same = tokens_of(&vault.open_row(&fresh).await?);
                if &same != before {
                    break;
                }
                current = fresh;
            }
            Err(e) => return Err(e),
        }
    }
    Err(VaultError::OAuth(format!(
        "account \"{}\" was changed by another process during a token refresh; try again",
        row.label
    )))
}

async fn mark_needs_reconnect(vault: &Vault, row: &AccountRow) -> crate::Result<()> {
    let (id, now) = (row.id.clone(), vault.now_text());
    vault.blocking(move |s| s.secrets().set_status(&id, "needsReconnect", &now)).await?;
    (vault.inner.options.on_change)(&row.id);
    Ok(())
}

/// Refreshes every ready OAuth2 account whose token expires within the skew.
pub(crate) async fn refresh_due(vault: &Vault) -> crate::Result<()> {
    let rows = vault.blocking(|s| s.secrets().accounts()).await?;
    for row in rows {
        let Ok(ty) = vault.connection_type(&row.connection_type).cloned() else { continue };
        if ty.auth != AuthKind::OAuth2Code || row.status != "ready" {
            continue;
        }
        let due = {
            let payload = vault.open_row(&row).await?;
            payload.tokens.as_ref().is_some_and(|t| expiring(t, vault.now(), vault.inner.options.refresh_skew))
        };
        if due && let Err(e) = access_token(vault, &ty, row.clone(), false).await {
            tracing::warn!(account = %row.label, error = %e, "token refresh failed");
        }
    }
    Ok(())
}

/// A sign-in in progress: open `url` in a browser, then await [`PendingLogin::finish`].
pub struct PendingLogin {
    pub url: String,
    pub redirect_uri: String,
    done: BoxFuture<'static, crate::Result<AccountInfo>>,
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin").field("redirect_uri", &self.redirect_uri).finish_non_exhaustive()
    }
}

impl PendingLogin {
    /// Waits for the browser to come back (or the login timeout), exchanges the code and
    /// stores the tokens.
    pub async fn finish(self) -> crate::Result<AccountInfo> {
        self.done.await
    }
}

impl Vault {
    /// Starts an OAuth2 sign-in for an account (also "reconnect"): listens on
    /// 127.0.0.1:<ephemeral>, and returns the authorization URL to open.
    pub async fn begin_login(&self, id: &str) -> crate::Result<PendingLogin> {
        self.unlock(None).await?;
        let row = self.row(id).await?;
        let ty = self.connection_type(&row.connection_type)?.clone();
        if ty.auth != AuthKind::OAuth2Code {
            return Err(VaultError::InvalidField(format!("{} accounts do not sign in through a browser", ty.name)));
        }
        let payload = self.open_row(&row).await?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| VaultError::OAuth(format!("cannot listen for the sign-in redirect: {e}")))?;
        let port = listener.local_addr().map_err(|e| VaultError::OAuth(e.to_string()))?.port();
        let redirect_uri = format!("http://127.0.0.1:{port}/callback");
        let auth_url = AuthUrl::new(field(&payload, "authUrl"))
            .map_err(|e| VaultError::InvalidField(format!("the authorization URL is not valid: {e}")))?;
        let client = token_client(&payload)?
            .set_auth_uri(auth_url)
            .set_redirect_uri(RedirectUrl::new(redirect_uri.clone()).map_err(|e| VaultError::OAuth(e.to_string()))?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request =
            client.authorize_url(CsrfToken::new_random).add_scopes(scopes(&payload)).set_pkce_challenge(challenge);
        let extra: Vec<(String, String)> = url::form_urlencoded::parse(field(&payload, "authParams").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        for (k, v) in &extra {
            request = request.add_extra_param(k.clone(), v.clone());
        }
        let (url, state) = request.url();
        drop(payload);
        let vault = self.clone();
        let timeout = self.inner.options.login_timeout;
        let label = row.label.clone();
        let done = Box::pin(async move {
            let callback =
                tokio::time::timeout(timeout, wait_for_callback(listener, state.secret().clone())).await.map_err(
                    |_| VaultError::OAuth(format!("sign-in for \"{label}\" timed out; nothing was saved")),
                )??;
            let (code, mut stream) = callback;
            let row = vault.row(&row.id).await?;
            let mut payload = vault.open_row(&row).await?;
            let before = tokens_of(&payload);
            let http = vault.inner.options.http.clone();
            let result = client
                .exchange_code(AuthorizationCode::new(code.to_string()))
                .set_pkce_verifier(verifier)
                .request_async(&http)
                .await;
            match result {
                Ok(response) => {
                    let tokens = tokens_from(&response, None, vault.now());
                    let expires = tokens.expires_at.clone();
                    payload.tokens = Some(tokens);
                    store_tokens(&vault, &row, &before, &payload, expires).await?;
                    respond(&mut stream, 200, "Signed in. You can close this window and return to Switchyard.").await;
                    vault.account(&row.id).await
                }
                Err(e) => {
                    let (_, text) = describe(&e);
                    respond(&mut stream, 400, &format!("Sign-in failed: {text}")).await;
                    Err(VaultError::OAuth(format!("the code exchange failed: {text}")))
                }
            }
        });
        Ok(PendingLogin { url: url.to_string(), redirect_uri, done })
    }
}

/// How long one connection to the sign-in loopback may take to send its request.
const CALLBACK_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What one connection to the loopback brought.
enum Callback {
    /// The provider's redirect for this sign-in: its code, and the connection to answer on.
    Code(Zeroizing<String>, tokio::net::TcpStream),
    /// The provider's redirect for this sign-in, refusing it.
    Refused(String),
    /// Anything else (a favicon, a stale or forged link, a silent connection): answered or
    /// dropped, and the sign-in keeps waiting.
    Stray,
}

/// Serves connections, each on its own task with a read timeout, until one brings
/// `/callback` with this sign-in's state. Returns the code and the connection to answer on.
/// A request with another state (a forged or stale link) is answered and ignored: it must
/// not end the user's sign-in.
async fn wait_for_callback(
    listener: tokio::net::TcpListener,
    state: String,
) -> crate::Result<(Zeroizing<String>, tokio::net::TcpStream)> {
    let state = std::sync::Arc::new(state);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = accepted.map_err(|e| VaultError::OAuth(e.to_string()))?;
                let state = state.clone();
                connections.spawn(async move {
                    tokio::time::timeout(CALLBACK_READ_TIMEOUT, read_callback(stream, &state)).await.unwrap_or(Callback::Stray)
                });
            }
            Some(done) = connections.join_next(), if !connections.is_empty() => match done {
                Ok(Callback::Code(code, stream)) => return Ok((code, stream)),
                Ok(Callback::Refused(text)) => {
                    return Err(VaultError::OAuth(format!("the provider refused the sign-in ({text})")));
                }
                Ok(Callback::Stray) | Err(_) => {}
            },
        }
    }
}

/// Reads one request on the loopback and answers it unless it is this sign-in's code.
async fn read_callback(mut stream: tokio::net::TcpStream, state: &str) -> Callback {
    let mut buf = vec![0u8; 16 * 1024];
    let mut len = 0;
    while let Ok(n) = stream.read(&mut buf[len..]).await {
        len += n;
        if n == 0 || buf[..len].windows(4).any(|w| w == b"\r\n\r\n") || len == buf.len() {
            break;
        }
    }
    let head = String::from_utf8_lossy(&buf[..len]).to_string();
    let target = head.lines().next().and_then(|l| l.split_whitespace().nth(1)).unwrap_or("");
    let Ok(url) = url::Url::parse(&format!("http://127.0.0.1{target}")) else {
        respond(&mut stream, 400, "Bad request.").await;
        return Callback::Stray;
    };
    if url.path() != "/callback" {
        respond(&mut stream, 404, "Not found.").await;
        return Callback::Stray;
    }
    let param = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    if param("state").as_deref() != Some(state) {
        respond(
            &mut stream,
            400,
            "This sign-in link does not belong to the sign-in Switchyard is waiting for; nothing was saved.",
        )
        .await;
        return Callback::Stray;
    }
    if let Some(error) = param("error") {
        let text = match param("error_description") {
            Some(d) => format!("{error}: {d}"),
            None => error,
        };
        respond(&mut stream, 400, &format!("Sign-in refused: {text}")).await;
        return Callback::Refused(text);
    }
    match param("code") {
        Some(code) => Callback::Code(Zeroizing::new(code), stream),
        None => {
            respond(&mut stream, 400, "No authorization code.").await;
            Callback::Refused("the redirect carried no authorization code".into())
        }
    }
}

async fn respond(stream: &mut tokio::net::TcpStream, status: u16, message: &str) {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Bad Request",
    };
    let body = format!(
        "<!doctype html><meta charset=utf-8><title>Switchyard</title><body style=\"font-family:sans-serif;padding:3em\"><h1>Switchyard</h1><p>{}</p>",
        message.replace('&', "&amp;").replace('<', "&lt;")
    );
    let text = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(text.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Revokes an account's tokens at the provider (RFC 7009) when it has an endpoint.
pub(crate) async fn revoke(vault: &Vault, payload: &Payload) -> Result<(), String> {
    let url = field(payload, "revokeUrl");
    let Some(tokens) = &payload.tokens else { return Ok(()) };
    if url.trim().is_empty() {
        return Ok(());
    }
    let (token, hint) = match &tokens.refresh_token {
        Some(r) => (r.clone(), "refresh_token"),
        None => (tokens.access_token.clone(), "access_token"),
    };
    let token = Zeroizing::new(token);
    let client_id = field(payload, "clientId");
    let secret = Zeroizing::new(field(payload, "clientSecret"));
    let mut form = vec![("token", token.as_str()), ("token_type_hint", hint)];
    let mut request = vault.inner.options.http.post(url.trim());
    if secret.is_empty() {
        form.push(("client_id", client_id.as_str()));
    } else {
        request = request.basic_auth(&client_id, Some(secret.as_str()));
    }
    match request.form(&form).send().await {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(format!("the provider answered {} to the revocation", r.status())),
        Err(e) => Err(format!("the revocation request failed: {e}")),
    }
}
