//! Connection types (how a service authenticates, as data) and accounts (one user's
//! credentials for a type, by label). Secrets never appear in these types: an account's
//! fields are shown with secret values replaced by a marker.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// How requests are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AuthKind {
    /// A key in a request header (field `headerName`, secret `apiKey`).
    ApiKeyHeader,
    /// A key in the query string (field `paramName`, secret `apiKey`).
    ApiKeyQuery,
    /// `Authorization: Bearer <token>` (secret `token`).
    Bearer,
    /// `Authorization: Basic` (field `username`, secret `password`).
    Basic,
    /// OAuth2 authorization code with PKCE through the system browser.
    OAuth2Code,
    /// OAuth2 client credentials (machine to machine).
    OAuth2ClientCredentials,
    /// A shared secret that signs or verifies webhooks (secret `secret`); adds nothing to
    /// requests.
    SigningSecret,
    /// A database server or file the node connects to itself (fields `host`, `port`,
    /// `database`, `user`, secret `password`, `tls`, `caFile`; or `path` for SQLite); its
    /// allowed hosts start with `host:port`.
    Database,
    /// A mail server the node connects to itself, SMTP or IMAP (fields `host`, `port`,
    /// `security`, `user`, secret `password`, `caFile`, and `from` or `mailbox`); its allowed
    /// hosts start with `host:port`.
    Mail,
    /// A chat model server speaking OpenAI's API (fields `baseUrl`, `model`, `headers`,
    /// secret `apiKey` sent as a bearer token when set); its allowed hosts start with the
    /// base URL's host.
    Llm,
}

impl AuthKind {
    pub fn is_oauth2(self) -> bool {
        matches!(self, AuthKind::OAuth2Code | AuthKind::OAuth2ClientCredentials)
    }
}

/// One field of a connection's form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionField {
    pub name: String,
    pub label: String,
    /// Sealed in the vault, never shown again once saved.
    pub secret: bool,
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub default: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[ts(optional, as = "Option<String>")]
    pub description: String,
}

impl ConnectionField {
    pub fn text(name: &str, label: &str) -> ConnectionField {
        ConnectionField {
            name: name.into(),
            label: label.into(),
            secret: false,
            required: true,
            default: None,
            description: String::new(),
        }
    }

    pub fn secret(name: &str, label: &str) -> ConnectionField {
        ConnectionField { secret: true, ..ConnectionField::text(name, label) }
    }

    pub fn optional(mut self) -> ConnectionField {
        self.required = false;
        self
    }

    pub fn default_value(mut self, value: &str) -> ConnectionField {
        self.default = Some(value.into());
        self
    }

    pub fn describe(mut self, text: &str) -> ConnectionField {
        self.description = text.into();
        self
    }
}

/// A request that proves an account works ("Test connection").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestRequest {
    pub method: String,
    /// May name fields as `{field}`, e.g. `{baseUrl}/user`.
    pub url: String,
}

/// A connection type: the form, how it authenticates and how it is tested.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionType {
    pub id: String,
    pub name: String,
    pub description: String,
    pub auth: AuthKind,
    pub fields: Vec<ConnectionField>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub test: Option<TestRequest>,
    /// Hosts a new account of this type may send its credentials to (see
    /// [`crate::hosts`]); generic types add the host of the account's test URL.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Ready-made field values for well-known services (the form's "Preset" list).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[ts(optional, as = "Option<Vec<ConnectionPreset>>")]
    pub presets: Vec<ConnectionPreset>,
}

/// Field values that set a connection up for one service (e.g. Ollama's base URL).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionPreset {
    pub id: String,
    pub name: String,
    pub fields: std::collections::BTreeMap<String, String>,
    /// A hint shown under the list (where to get a key, what to start first).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[ts(optional, as = "Option<String>")]
    pub note: String,
}

/// Whether an account can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AccountStatus {
    Ready,
    /// OAuth2 account not signed in yet.
    NotConnected,
    /// The provider refused a refresh: sign in again.
    NeedsReconnect,
}

/// An account as the UI and CLI see it: secret field values are replaced by [`SECRET_SET`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountInfo {
    pub id: String,
    pub connection_type: String,
    pub label: String,
    pub is_default: bool,
    pub status: AccountStatus,
    /// Non-secret field values; secret fields map to [`SECRET_SET`] when set.
    pub fields: std::collections::BTreeMap<String, String>,
    /// Hosts its credentials may be sent to (rules of [`crate::hosts`]); a request to any
    /// other host fails before anything is sent.
    pub allowed_hosts: Vec<String>,
    /// When an OAuth2 access token expires (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub token_expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub last_test: Option<TestOutcome>,
    pub created_at: String,
    pub updated_at: String,
}

/// Shown instead of a secret value that is set.
pub const SECRET_SET: &str = "••••••••";

/// The result of "Test connection".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestOutcome {
    pub ok: bool,
    pub message: String,
    pub at: String,
}
