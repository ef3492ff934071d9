//! How nodes get credentials without seeing the vault: the host injects a
//! [`CredentialProvider`] into the engine's `Services`; a node asks it to authorize a request for
//! one of its credential slots and gets back headers and query parameters to add.

use futures::future::BoxFuture;
use reqwest::header::{HeaderName, HeaderValue};
use switchyard_model::CredentialRef;
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError};
use switchyard_model::hosts;
use zeroize::Zeroizing;

/// Which account credentials belong to and the hosts they may be sent to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostScope {
    /// Connection type id and account label, for messages.
    pub connection: String,
    pub account: String,
    /// Rules of [`switchyard_model::hosts`].
    pub hosts: Vec<String>,
}

impl HostScope {
    /// Fails with `credential_host_not_allowed`, naming the account and the host, unless
    /// the account may be sent to `url`'s host.
    pub fn check(&self, url: &url::Url) -> Result<(), NodeError> {
        let host = url.host_str().unwrap_or("");
        let port = url.port_or_known_default().unwrap_or(0);
        self.check_address(host, port, hosts::default_port(url.scheme()).unwrap_or(0))
    }

    /// [`HostScope::check`] for a server reached by host and port (a database, a mail
    /// server); `default_port` is its protocol's, left out of messages.
    pub fn check_address(&self, host: &str, port: u16, default_port: u16) -> Result<(), NodeError> {
        if hosts::allowed(&self.hosts, host, port) {
            return Ok(());
        }
        let target = hosts::label(host, (port != default_port).then_some(port), Some(default_port));
        let allowed = if self.hosts.is_empty() { "none yet".to_string() } else { self.hosts.join(", ") };
        Err(NodeError::new(
            ErrorCode::CredentialHostNotAllowed,
            format!(
                "account \"{}\" of {} may not be sent to {target} (its allowed hosts: {allowed}); if that host should \
                 get it, add it to the account's allowed hosts on the Connections page or with \
                 `switchyard connections hosts \"{}/{}\" --add {target}`",
                self.account, self.connection, self.connection, self.account
            ),
        )
        .with_class(ErrorClass::Permanent)
        .with_details(serde_json::json!({
            "connection": self.connection, "account": self.account, "host": target,
        })))
    }
}

/// What to add to a request so it is authenticated. Values are wiped from memory when
/// dropped and never printed.
#[derive(Default)]
pub struct Authorization {
    pub headers: Vec<(String, Zeroizing<String>)>,
    pub query: Vec<(String, Zeroizing<String>)>,
    /// An OAuth2 token that can be refreshed: a 401 is worth one retry with `force_refresh`.
    pub refreshable: bool,
    /// Where these credentials may go: [`Authorization::apply`] refuses other hosts.
    pub scope: HostScope,
}

/// A signing secret and the hosts requests signed with it may go to; or, from
/// [`CredentialProvider::expose`], an account's secret itself.
pub struct Secret {
    pub value: Zeroizing<String>,
    /// The account's user name, for accounts that have one (Basic).
    pub user: Option<Zeroizing<String>>,
    pub scope: HostScope,
}

/// An account's fields, for nodes that connect by themselves ([`CredentialProvider::fields`]).
pub struct Fields {
    pub values: std::collections::BTreeMap<String, Zeroizing<String>>,
    pub scope: HostScope,
}

impl Fields {
    /// A field's value, empty when unset.
    pub fn get(&self, name: &str) -> &str {
        self.values.get(name).map_or("", |v| v.as_str())
    }
}

impl Authorization {
    /// The names of the headers [`Authorization::apply`] adds.
    pub fn header_names(&self) -> Vec<HeaderName> {
        self.headers.iter().filter_map(|(name, _)| HeaderName::from_bytes(name.as_bytes()).ok()).collect()
    }

    /// Adds the headers (marked sensitive, so they never show in debug output) and query
    /// parameters to a request for `url`, if the account may be sent to its host.
    pub fn apply(
        &self,
        mut request: reqwest::RequestBuilder,
        url: &url::Url,
    ) -> Result<reqwest::RequestBuilder, NodeError> {
        self.scope.check(url)?;
        for (name, value) in &self.headers {
            if let (Ok(name), Ok(mut value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
                value.set_sensitive(true);
                request = request.header(name, value);
            }
        }
        if !self.query.is_empty() {
            let pairs: Vec<(&str, &str)> = self.query.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            request = request.query(&pairs);
        }
        Ok(request)
    }
}

impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = |v: &Vec<(String, Zeroizing<String>)>| v.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
        f.debug_struct("Authorization")
            .field("headers", &names(&self.headers))
            .field("query", &names(&self.query))
            .field("refreshable", &self.refreshable)
            .field("scope", &self.scope)
            .finish()
    }
}

/// Gives nodes authorization for an account. Implemented by the vault.
pub trait CredentialProvider: Send + Sync {
    /// Authorization for the account `reference` names (its type's default account when no
    /// label is given). `force_refresh` asks for a new OAuth2 access token even if the
    /// stored one has not expired (after a 401).
    fn authorize<'a>(
        &'a self,
        reference: &'a CredentialRef,
        force_refresh: bool,
    ) -> BoxFuture<'a, Result<Authorization, NodeError>>;

    /// The shared secret of a signing-secret account (webhook signatures), with the hosts
    /// requests signed with it may go to.
    fn secret<'a>(&'a self, reference: &'a CredentialRef) -> BoxFuture<'a, Result<Secret, NodeError>> {
        Box::pin(async move {
            Err(NodeError::new(
                ErrorCode::CredentialMissing,
                format!("no signing secret is available for connection \"{}\"", reference.connection),
            ))
        })
    }

    /// Every field of an account (secrets included) and the hosts it may reach, for a node
    /// that opens its own connection with them (databases, mail servers); the node checks
    /// the host it connects to against the scope first.
    fn fields<'a>(&'a self, reference: &'a CredentialRef) -> BoxFuture<'a, Result<Fields, NodeError>> {
        Box::pin(async move {
            Err(NodeError::new(
                ErrorCode::CredentialMissing,
                format!("no account is available for connection \"{}\"", reference.connection),
            ))
        })
    }

    /// The account's secret itself (the API key, token, password, signing secret, or a
    /// current OAuth2 access token), for a node that uses it outside an HTTP request: an
    /// environment variable of a program, an HMAC key. Its host scope does not apply to
    /// such uses; callers check the run's local policy (`AccessKind::Secret`) first.
    fn expose<'a>(&'a self, reference: &'a CredentialRef) -> BoxFuture<'a, Result<Secret, NodeError>> {
        Box::pin(async move {
            Err(NodeError::new(
                ErrorCode::CredentialMissing,
                format!("no secret is available for connection \"{}\"", reference.connection),
            ))
        })
    }
}
