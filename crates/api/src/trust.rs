//! Trust: a workflow imported from a file is someone else's choice of accounts and URLs. Until
//! the user reviews what it would use and trusts it, it runs nothing that uses an account
//! (runs are refused up front; runs that start anyway, from triggers, get a credential
//! provider that refuses). Trusting allows the hosts the review listed on each account.

use crate::Api;
use crate::error::{ApiError, ApiResult};
use crate::types::*;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use switchyard_engine::{Authorization, CredentialProvider, Secret, Services};
use switchyard_model::CredentialRef;
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError};
use switchyard_model::hosts;
use switchyard_model::records::WorkflowRecord;
use switchyard_model::workflow::Workflow;
use ts_rs::TS;

/// What a workflow uses that needs the user's consent before it runs: its accounts and the
/// hosts their credentials would go to. An imported workflow is untrusted until the user
/// confirms this ([`WorkflowTrustRequest`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct TrustReview {
    pub workflow_id: String,
    pub name: String,
    /// The version reviewed; trusting a later one needs a new review.
    pub version: u32,
    /// Where it came from while it is untrusted (a file name); none once trusted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub untrusted: Option<String>,
    pub accounts: Vec<TrustAccount>,
}

impl TrustReview {
    /// Whether running it needs the user's consent first: untrusted and using accounts.
    pub fn needs_consent(&self) -> bool {
        self.untrusted.is_some() && !self.accounts.is_empty()
    }
}

/// One account a workflow uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct TrustAccount {
    /// Connection type id and name.
    pub connection: String,
    pub connection_name: String,
    /// The account's label; none for the type's default account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub account: Option<String>,
    /// The account found here (its label when the reference names the default); none when
    /// there is no such account yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub resolved_label: Option<String>,
    /// The nodes that use it.
    pub nodes: Vec<String>,
    /// Hosts its credentials would go to, as the nodes' URLs name them.
    pub hosts: Vec<String>,
    /// Those the account does not allow yet: trusting the workflow allows them.
    pub new_hosts: Vec<String>,
    /// Nodes whose URL is computed while running: only the account's allowed hosts apply.
    pub computed_urls: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowTrustRequest {
    pub id: String,
    /// The version the user reviewed ([`TrustReview::version`]).
    pub version: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AccountHostsRequest {
    pub id: String,
    /// Host names, `host:port`, or `*.domain`.
    pub hosts: Vec<String>,
}

/// Where a run's workflow comes from, which decides whether it is trusted.
#[derive(Debug, Clone)]
pub enum RunSource {
    /// The app or a saved workflow: trusted unless the stored workflow with its id was
    /// imported and not trusted yet.
    Saved,
    /// A file run by path (`switchyard run FILE`): untrusted unless the user said `--trust`.
    File { path: String, trusted: bool },
}

impl Api {
    pub async fn workflow_trust_review(&self, request: IdRequest) -> ApiResult<TrustReview> {
        let record = self.workflow_get(request).await?;
        Ok(self.review(&record.workflow, record.version, record.untrusted).await)
    }

    pub async fn workflow_trust(&self, request: WorkflowTrustRequest) -> ApiResult<WorkflowRecord> {
        let record = self.workflow_get(IdRequest { id: request.id.clone() }).await?;
        if record.version != request.version {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                format!(
                    "workflow \"{}\" changed since it was reviewed (version {} now, {} reviewed): review it again",
                    record.workflow.name, record.version, request.version
                ),
            ));
        }
        let review = self.review(&record.workflow, record.version, record.untrusted).await;
        self.allow_reviewed_hosts(&review).await?;
        let (id, version) = (request.id.clone(), request.version);
        self.blocking(move |store| Ok(store.workflows().trust(&id, version)?)).await?;
        let record = self.workflow_get(IdRequest { id: request.id }).await?;
        if record.active {
            self.triggers_changed();
        }
        Ok(record)
    }

    pub async fn account_hosts(
        &self,
        request: AccountHostsRequest,
    ) -> ApiResult<switchyard_model::connection::AccountInfo> {
        let info = self.inner.vault.set_allowed_hosts(&request.id, request.hosts).await?;
        self.account_changed(&info.id);
        Ok(info)
    }

    /// Trusts a workflow file run by path (`switchyard run FILE --trust`): allows the hosts
    /// its URLs name on the accounts it uses, and returns what it allowed.
    pub async fn trust_file(&self, workflow: &Workflow, path: &str) -> ApiResult<TrustReview> {
        let review = self.review(workflow, 0, Some(path.to_string())).await;
        self.allow_reviewed_hosts(&review).await?;
        Ok(review)
    }

    /// Adds the hosts a review found new to each account it names.
    pub(crate) async fn allow_reviewed_hosts(&self, review: &TrustReview) -> ApiResult<()> {
        for account in &review.accounts {
            if let (Some(id), false) = (&account.account_id, account.new_hosts.is_empty()) {
                self.inner.vault.allow_hosts(id, account.new_hosts.clone()).await?;
                self.account_changed(id);
            }
        }
        Ok(())
    }

    /// The accounts `workflow` uses, with the hosts its nodes would send them to.
    pub(crate) async fn review(&self, workflow: &Workflow, version: u32, untrusted: Option<String>) -> TrustReview {
        let registry = self.inner.engine.registry();
        let mut by_account: BTreeMap<(String, Option<String>), TrustAccount> = BTreeMap::new();
        for node in &workflow.nodes {
            let descriptor = registry.get(&node.node_type, node.version).map(|e| &e.descriptor);
            for (slot, reference) in &node.credentials {
                let label = reference
                    .account
                    .clone()
                    .or_else(|| workflow.settings.accounts.get(&reference.connection).cloned());
                let entry =
                    by_account.entry((reference.connection.clone(), label.clone())).or_insert_with(|| TrustAccount {
                        connection: reference.connection.clone(),
                        connection_name: reference.connection.clone(),
                        account: label.clone(),
                        account_id: None,
                        resolved_label: None,
                        nodes: Vec::new(),
                        hosts: Vec::new(),
                        new_hosts: Vec::new(),
                        computed_urls: Vec::new(),
                    });
                if !entry.nodes.contains(&node.name) {
                    entry.nodes.push(node.name.clone());
                }
                let url_parameter = descriptor
                    .and_then(|d| d.credentials.iter().find(|s| &s.name == slot))
                    .and_then(|s| s.url_parameter.as_deref());
                let Some(parameter) = url_parameter else { continue };
                match node.parameters.get(parameter).and_then(|v| v.as_str()).and_then(hosts::static_host) {
                    Some(host) if !entry.hosts.contains(&host) => entry.hosts.push(host),
                    Some(_) => {}
                    None => {
                        if !entry.computed_urls.contains(&node.name) {
                            entry.computed_urls.push(node.name.clone());
                        }
                    }
                }
            }
        }
        let mut accounts: Vec<TrustAccount> = by_account.into_values().collect();
        for account in &mut accounts {
            if let Ok(ty) = self.inner.vault.connection_type(&account.connection) {
                account.connection_name = ty.name.clone();
            }
            let allowed = match self.inner.vault.find(&account.connection, account.account.as_deref()).await {
                Ok(row) => {
                    account.account_id = Some(row.id.clone());
                    account.resolved_label = Some(row.label.clone());
                    self.inner.vault.account(&row.id).await.map(|info| info.allowed_hosts).unwrap_or_default()
                }
                Err(_) => Vec::new(),
            };
            // Trusting allows hosts only on accounts that exist here.
            if account.account_id.is_some() {
                account.new_hosts = account.hosts.iter().filter(|host| !covered(&allowed, host)).cloned().collect();
            }
        }
        TrustReview { workflow_id: workflow.id.clone(), name: workflow.name.clone(), version, untrusted, accounts }
    }

    /// Whether a run of `workflow` from `source` may start, and the services it runs with:
    /// an untrusted workflow that uses accounts is refused with the accounts and hosts it
    /// would use; one that uses none runs, with a credential provider that refuses.
    pub(crate) async fn trusted_services(
        &self,
        workflow: &Workflow,
        source: &RunSource,
        services: Services,
    ) -> ApiResult<Services> {
        let untrusted = match source {
            RunSource::File { trusted: true, .. } => None,
            RunSource::File { path, trusted: false } => Some(path.clone()),
            RunSource::Saved => {
                let id = workflow.id.clone();
                self.blocking(move |store| Ok(store.workflows().find(&id)?)).await?.and_then(|r| r.untrusted)
            }
        };
        let Some(source) = untrusted else { return Ok(services) };
        let uses_accounts = workflow.nodes.iter().any(|n| !n.credentials.is_empty());
        if uses_accounts {
            let review = self.review(workflow, 0, Some(source.clone())).await;
            return Err(untrusted_error(&review));
        }
        Ok(with_untrusted_credentials(services, &workflow.name, &source))
    }
}

/// Whether `host` (as a review names it: `host` or `host:port`) is allowed by `rules`.
fn covered(rules: &[String], host: &str) -> bool {
    match hosts::split_port(host) {
        Some((name, Some(port))) => hosts::allowed(rules, name, port),
        // No port: the URL used its scheme's default, so a rule must cover 80 and 443 alike
        // (a rule without a port covers both).
        Some((name, None)) => hosts::allowed(rules, name, 443) && hosts::allowed(rules, name, 80),
        None => false,
    }
}

/// `services` whose credential provider refuses every account, naming the workflow.
pub(crate) fn with_untrusted_credentials(services: Services, workflow: &str, source: &str) -> Services {
    services.with_credentials(Arc::new(Untrusted { workflow: workflow.to_string(), source: source.to_string() }))
}

fn untrusted_error(review: &TrustReview) -> ApiError {
    let uses: Vec<String> = review
        .accounts
        .iter()
        .map(|a| {
            let account = match &a.account {
                Some(label) => format!("account \"{label}\" of {}", a.connection_name),
                None => format!("the default {} account", a.connection_name),
            };
            let mut to: Vec<String> = a.hosts.clone();
            if !a.computed_urls.is_empty() {
                to.push("URLs computed while running".into());
            }
            let to = if to.is_empty() { String::new() } else { format!(" → {}", to.join(", ")) };
            format!(
                "{account} (nodes {}){to}",
                a.nodes.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ")
            )
        })
        .collect();
    let source = review.untrusted.as_deref().unwrap_or("a file");
    ApiError::new(
        ErrorCode::WorkflowUntrusted,
        format!(
            "workflow \"{}\" comes from {source} and is not trusted yet, and it uses {}. Nothing ran: review what it \
             uses and trust it first (in the app, or with `switchyard trust {}`)",
            review.name,
            uses.join("; "),
            review.workflow_id
        ),
    )
    .with_details(serde_json::to_value(review).unwrap_or_default())
}

/// The credential provider of an untrusted workflow's runs: every account is refused.
struct Untrusted {
    workflow: String,
    source: String,
}

impl Untrusted {
    fn refuse(&self, reference: &CredentialRef) -> NodeError {
        NodeError::new(
            ErrorCode::WorkflowUntrusted,
            format!(
                "workflow \"{}\" comes from {} and is not trusted yet: it may not use connection \"{}\" until you \
                 review and trust it",
                self.workflow, self.source, reference.connection
            ),
        )
        .with_class(ErrorClass::Permanent)
    }
}

impl CredentialProvider for Untrusted {
    fn authorize<'a>(
        &'a self,
        reference: &'a CredentialRef,
        _force_refresh: bool,
    ) -> BoxFuture<'a, Result<Authorization, NodeError>> {
        Box::pin(async move { Err(self.refuse(reference)) })
    }

    fn secret<'a>(&'a self, reference: &'a CredentialRef) -> BoxFuture<'a, Result<Secret, NodeError>> {
        Box::pin(async move { Err(self.refuse(reference)) })
    }
}
