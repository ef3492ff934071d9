//! API tokens for the REST API (`serve` at `/api/v1`): created with a scope, shown once,
//! stored as a SHA-256 hash, revocable, with the time each was last used.

use crate::types::{Empty, IdRequest};
use crate::{Api, ApiError, ApiResult};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchyard_engine::clock::rfc3339_ms;
use switchyard_model::error::ErrorCode;
use switchyard_store::TokenRow;
use ts_rs::TS;

/// What a token may do. Each scope includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Read workflows, executions, accounts (never their secrets), metrics and alerts.
    Read,
    /// Also start, cancel and retry runs, test accounts and acknowledge alerts.
    Run,
    /// Also create, change, import, activate and delete workflows, accounts, settings and
    /// tokens.
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Run => "run",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        match text {
            "read" => Some(Scope::Read),
            "run" => Some(Scope::Run),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }
}

/// A token as lists show it: never the token itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiToken {
    pub id: String,
    pub name: String,
    pub scope: Scope,
    /// The token's first characters, to tell tokens apart.
    pub prefix: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub last_used_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub revoked_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct TokenListResponse {
    pub tokens: Vec<ApiToken>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct TokenCreateRequest {
    /// What the token is for ("CI deploys"), 1 to 100 characters.
    pub name: String,
    pub scope: Scope,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct TokenCreateResponse {
    pub token: ApiToken,
    /// The token itself, shown this once: only its hash is kept.
    pub secret: String,
}

/// Tokens start with this, so secret scanners and people can tell what they are.
pub const TOKEN_PREFIX: &str = "syt_";
/// A token's last-used time is written at most this often.
const TOUCH_EVERY_MS: i64 = 60_000;

fn hash(secret: &str) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, secret.as_bytes()).as_ref().to_vec()
}

fn token(row: &TokenRow) -> ApiResult<ApiToken> {
    let scope = Scope::parse(&row.scope).ok_or_else(|| {
        ApiError::new(ErrorCode::Storage, format!("token {} has an unknown scope \"{}\"", row.id, row.scope))
    })?;
    Ok(ApiToken {
        id: row.id.clone(),
        name: row.name.clone(),
        scope,
        prefix: row.prefix.clone(),
        created_at: rfc3339_ms(row.created_ms),
        last_used_at: row.last_used_ms.map(rfc3339_ms),
        revoked_at: row.revoked_ms.map(rfc3339_ms),
    })
}

/// The token a caller proved to hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub token_id: String,
    pub scope: Scope,
}

impl Api {
    /// Every token, newest first, revoked ones included.
    pub async fn token_list(&self, _: Empty) -> ApiResult<TokenListResponse> {
        let rows = self.inner.store.tokens().list()?;
        Ok(TokenListResponse { tokens: rows.iter().map(token).collect::<ApiResult<_>>()? })
    }

    /// A new token; its secret is in the answer and nowhere else.
    pub async fn token_create(&self, request: TokenCreateRequest) -> ApiResult<TokenCreateResponse> {
        let name = request.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(ApiError::bad_request("name: a token needs a name of 1 to 100 characters"));
        }
        let mut bytes = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
            .map_err(|_| ApiError::new(ErrorCode::Internal, "the system's random number generator failed"))?;
        let secret = format!("{TOKEN_PREFIX}{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
        let row = TokenRow {
            id: switchyard_model::ids::new_id(),
            name: name.to_string(),
            scope: request.scope.as_str().to_string(),
            hash: hash(&secret),
            prefix: secret[..TOKEN_PREFIX.len() + 8].to_string(),
            created_ms: self.now_ms(),
            last_used_ms: None,
            revoked_ms: None,
        };
        self.inner.store.tokens().insert(&row)?;
        Ok(TokenCreateResponse { token: token(&row)?, secret })
    }

    /// Revokes a token: requests with it are refused (401) from now on, in every process.
    pub async fn token_revoke(&self, request: IdRequest) -> ApiResult<ApiToken> {
        let row = self.inner.store.tokens().revoke(&request.id, self.now_ms())?;
        token(&row.ok_or_else(|| ApiError::not_found(format!("token {}", request.id)))?)
    }

    /// Who holds `secret`: a token that exists and is not revoked (`unauthorized` otherwise).
    /// Notes the use (at most once a minute per token).
    pub fn authenticate(&self, secret: &str) -> ApiResult<Caller> {
        let unauthorized = |why: &str| ApiError::new(ErrorCode::Unauthorized, why.to_string());
        if !secret.starts_with(TOKEN_PREFIX) {
            return Err(unauthorized("this is not a Switchyard API token (they start with \"syt_\")"));
        }
        let tokens = self.inner.store.tokens();
        let row = tokens.find(&hash(secret))?.ok_or_else(|| unauthorized("unknown API token"))?;
        if row.revoked_ms.is_some() {
            return Err(unauthorized(&format!("API token \"{}\" ({}) was revoked", row.name, row.prefix)));
        }
        let scope = token(&row)?.scope;
        let now = self.now_ms();
        if row.last_used_ms.is_none_or(|last| now - last >= TOUCH_EVERY_MS)
            && let Err(e) = tokens.touch(&row.id, now)
        {
            tracing::warn!(token = %row.id, "cannot note the API token's use: {e}");
        }
        Ok(Caller { token_id: row.id, scope })
    }
}
