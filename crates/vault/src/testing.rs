//! "Test connection": an authenticated request to the connection type's test URL, sent
//! only to the account's allowed hosts; the stored outcome holds no secret.

use crate::{Result, Vault, provider};
use switchyard_model::connection::{AuthKind, TestOutcome};
use switchyard_model::redact::redact_urls;
use switchyard_store::AccountRow;

impl Vault {
    /// "Test connection": an authenticated request to the type's test URL.
    pub async fn test(&self, id: &str) -> Result<TestOutcome> {
        self.unlock(None).await?;
        let row = self.row(id).await?;
        let ty = self.connection_type(&row.connection_type)?.clone();
        let payload = self.open_row(&row).await?;
        let outcome = match &ty.test {
            None => TestOutcome {
                ok: false,
                message: "this connection type has no test request".into(),
                at: self.now_text(),
            },
            Some(test) => {
                let mut url = test.url.clone();
                for f in &ty.fields {
                    if !f.secret {
                        let value = payload.fields.get(&f.name).map_or("", |v| v.as_str());
                        // A base URL is a prefix: `{baseUrl}/models` with or without its last slash.
                        let value = if f.name == "baseUrl" { value.trim().trim_end_matches('/') } else { value };
                        url = url.replace(&format!("{{{}}}", f.name), value);
                    }
                }
                drop(payload);
                if url.trim().is_empty() || url.contains('{') {
                    TestOutcome {
                        ok: false,
                        message: "set a test URL on this account to test it".into(),
                        at: self.now_text(),
                    }
                } else {
                    self.run_test(&row, &test.method, &url).await
                }
            }
        };
        let (rid, json) = (id.to_string(), serde_json::to_string(&outcome).unwrap_or_default());
        self.blocking(move |s| s.secrets().set_last_test(&rid, &json)).await?;
        Ok(outcome)
    }

    /// Stores the outcome of a test made elsewhere (a database's `SELECT 1`, a mail
    /// server's login), with URLs in its message cut to their hosts.
    pub async fn record_test(&self, id: &str, ok: bool, message: &str) -> Result<TestOutcome> {
        let outcome = TestOutcome { ok, message: redact_urls(message), at: self.now_text() };
        let (rid, json) = (id.to_string(), serde_json::to_string(&outcome).unwrap_or_default());
        self.blocking(move |s| s.secrets().set_last_test(&rid, &json)).await?;
        Ok(outcome)
    }

    pub(crate) async fn run_test(&self, row: &AccountRow, method: &str, url: &str) -> TestOutcome {
        let at = self.now_text();
        let reference = switchyard_model::CredentialRef::new(row.connection_type.clone(), Some(row.label.clone()));
        let auth = match provider::authorize(self, &reference, false).await {
            Ok(a) => a,
            Err(e) => return TestOutcome { ok: false, message: redact_urls(&e.to_string()), at },
        };
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let parsed = match url::Url::parse(url) {
            Ok(u) => u,
            Err(e) => return TestOutcome { ok: false, message: redact_urls(&format!("{url}: {e}")), at },
        };
        let request = match auth.apply(self.inner.options.http.request(method, parsed.clone()), &parsed) {
            Ok(r) => r,
            Err(e) => return TestOutcome { ok: false, message: redact_urls(&e.message), at },
        };
        // The outcome is stored with the account: no URL in it keeps its query string (an
        // API key in the query would otherwise sit there in plain text).
        let lists_models = self.connection_type(&row.connection_type).is_ok_and(|t| t.auth == AuthKind::Llm);
        let (ok, message) = match request.send().await {
            Ok(response) if lists_models && response.status().is_success() => {
                let status = response.status();
                (true, format!("{url} answered {status}: {}", models_of(response).await))
            }
            Ok(response) => (response.status().is_success(), format!("{url} answered {}", response.status())),
            Err(e) => (false, format!("{url}: {e}")),
        };
        TestOutcome { ok, message: redact_urls(&message), at }
    }
}

/// The models a chat model server lists (`GET /models`: `{"data": [{"id": …}]}`), for the
/// test's message; the first 20 by name.
async fn models_of(response: reqwest::Response) -> String {
    const SHOWN: usize = 20;
    let body: serde_json::Value = match response.json().await {
        Ok(body) => body,
        Err(_) => return "its answer is not a model list (JSON)".into(),
    };
    let mut ids: Vec<&str> = body["data"].as_array().into_iter().flatten().filter_map(|m| m["id"].as_str()).collect();
    ids.sort_unstable();
    match ids.len() {
        0 => "it lists no models".into(),
        n if n <= SHOWN => format!("{n} model{}: {}", if n == 1 { "" } else { "s" }, ids.join(", ")),
        n => format!("{n} models: {}, …", ids[..SHOWN].join(", ")),
    }
}
