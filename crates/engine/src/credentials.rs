//! How nodes get credentials without seeing the vault: the host injects a
//! [`CredentialProvider`] into [`crate::Services`]; a node asks it to authorize a request for
//! one of its credential slots and gets back headers and query parameters to add.

use futures::future::BoxFuture;
use reqwest::header::{HeaderName, HeaderValue};
use switchyard_model::CredentialRef;
use switchyard_model::error::NodeError;
use zeroize::Zeroizing;

/// What to add to a request so it is authenticated. Values are wiped from memory when
/// dropped and never printed.
#[derive(Default)]
pub struct Authorization {
    pub headers: Vec<(String, Zeroizing<String>)>,
    pub query: Vec<(String, Zeroizing<String>)>,
    /// An OAuth2 token that can be refreshed: a 401 is worth one retry with `force_refresh`.
    pub refreshable: bool,
}

impl Authorization {
    /// The names of the headers [`Authorization::apply`] adds.
    pub fn header_names(&self) -> Vec<HeaderName> {
        self.headers.iter().filter_map(|(name, _)| HeaderName::from_bytes(name.as_bytes()).ok()).collect()
    }

    /// Adds the headers (marked sensitive, so they never show in debug output) and query
    /// parameters to a request.
    pub fn apply(&self, mut request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
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
        request
    }
}

impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = |v: &Vec<(String, Zeroizing<String>)>| v.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
        f.debug_struct("Authorization")
            .field("headers", &names(&self.headers))
            .field("query", &names(&self.query))
            .field("refreshable", &self.refreshable)
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

    /// The shared secret of a signing-secret account (webhook signatures).
    fn secret<'a>(&'a self, reference: &'a CredentialRef) -> BoxFuture<'a, Result<Zeroizing<String>, NodeError>> {
        Box::pin(async move {
            Err(NodeError::new(
                switchyard_model::error::ErrorCode::CredentialMissing,
                format!("no signing secret is available for connection \"{}\"", reference.connection),
            ))
        })
    }
}
