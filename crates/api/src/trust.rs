//! Trust: a workflow imported from a file is someone else's choice of accounts, URLs, programs
//! and paths. Until the user reviews what it would use and trusts it, it runs nothing that
//! uses an account or reaches this machine (runs are refused up front; runs that start
//! anyway, from triggers, get a credential provider and a local policy that refuse).
//! Trusting allows the hosts the review listed on each account and approves the programs
//! and paths it listed: afterwards the workflow may run only those, and an edit that reaches
//! for anything else needs a new review.

use crate::Api;
use crate::error::{ApiError, ApiResult};
use crate::types::*;
use futures::future::BoxFuture;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use switchyard_engine::access::{Access, LocalPolicy};
use switchyard_engine::{Authorization, CredentialProvider, Fields, Secret, Services};
use switchyard_model::CredentialRef;
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError};
use switchyard_model::hosts;
use switchyard_model::records::WorkflowRecord;
use switchyard_model::workflow::{Node, Workflow};
use ts_rs::TS;

/// What a workflow uses that needs the user's consent before it runs: its accounts and the
/// hosts their credentials would go to. An imported workflow is untrusted until the user
/// confirms this ([`WorkflowTrustRequest`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
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
    /// The programs it runs and the paths it reads or writes.
    pub local: Vec<TrustLocal>,
}

impl TrustReview {
    /// Whether running it needs the user's consent first: untrusted and using accounts or
    /// reaching this machine, or reaching for something the user has not approved.
    pub fn needs_consent(&self) -> bool {
        (self.untrusted.is_some() && (!self.accounts.is_empty() || !self.local.is_empty()))
            || self.local.iter().any(|l| !l.approved)
    }
}

/// One program or path a workflow reaches on this machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrustLocal {
    /// `command`, `read`, `write`, `secret` (a node hands an account's secret to a program
    /// or signs with it: it is no longer held to the account's hosts), or `call` (a saved
    /// workflow's id or a workflow file it calls, which runs as the user's own).
    pub kind: String,
    /// The program or path (`connection` or `connection/account` for `secret`); one ending
    /// in `**` is computed while running and may be anything that starts so.
    pub target: String,
    /// The nodes that use it.
    pub nodes: Vec<String>,
    /// Whether the user approved it for this workflow (always, for the user's own).
    pub approved: bool,
}

impl TrustLocal {
    /// What the workflow does with the target, for messages: `runs`, `reads`, `writes`, …
    pub fn verb(&self) -> &'static str {
        match self.kind.as_str() {
            "command" => "runs",
            "read" => "reads",
            "secret" => "hands out the secret of",
            "call" => "calls",
            _ => "writes",
        }
    }
}

/// One account a workflow uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowTrustRequest {
    pub id: String,
    /// The version the user reviewed ([`TrustReview::version`]).
    pub version: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
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
    /// A bundle file's other workflows come along: its calls find them by id.
    File { path: String, trusted: bool, bundle: Vec<Workflow> },
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
        let approved = serde_json::to_string(&self.local_access(&record.workflow)).unwrap_or_else(|_| "[]".into());
        let (id, version) = (request.id.clone(), request.version);
        self.blocking(move |store| Ok(store.workflows().trust(&id, version, &approved)?)).await?;
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

    /// What a workflow file run by path would use, for the user to confirm (changes nothing).
    pub async fn file_review(&self, workflow: &Workflow, path: &str) -> TrustReview {
        self.review(workflow, 0, Some(path.to_string())).await
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

    /// Each access `workflow`'s nodes make on this machine, in node order, with its node.
    fn node_access<'a>(&'a self, workflow: &'a Workflow) -> impl Iterator<Item = (&'a Node, Access)> + 'a {
        let registry = self.inner.engine.registry();
        workflow.nodes.iter().flat_map(move |n| {
            // As it runs: an account chosen in the workflow's settings is the one it uses.
            let access = registry.of(n).map(|e| e.access(&workflow.with_default_accounts(n))).unwrap_or_default();
            access.into_iter().map(move |a| (n, a))
        })
    }

    /// What `workflow`'s nodes reach on this machine, each access once, in node order.
    pub(crate) fn local_access(&self, workflow: &Workflow) -> Vec<Access> {
        let mut all: Vec<Access> = Vec::new();
        for (_, access) in self.node_access(workflow) {
            if !all.contains(&access) {
                all.push(access);
            }
        }
        all
    }

    /// The local access approved for a saved workflow from someone else (`None` for the
    /// user's own).
    async fn approved_access(&self, id: &str) -> ApiResult<Option<Vec<Access>>> {
        let id = id.to_string();
        let text = self.blocking(move |store| Ok(store.workflows().approved_access(&id)?)).await?;
        Ok(text.as_deref().map(parse_approved))
    }

    /// The programs and paths `workflow` reaches, each marked approved or not: nothing is
    /// while it is untrusted, what is in `approved` once trusted, everything for the user's
    /// own (`approved` none).
    fn review_local(&self, workflow: &Workflow, untrusted: bool, approved: Option<&[Access]>) -> Vec<TrustLocal> {
        let mut out: Vec<(Access, TrustLocal)> = Vec::new();
        for (node, access) in self.node_access(workflow) {
            match out.iter_mut().find(|(a, _)| *a == access) {
                Some((_, entry)) => entry.nodes.push(node.name.clone()),
                None => {
                    let ok = !untrusted && approved.is_none_or(|list| list.contains(&access));
                    let entry = TrustLocal {
                        kind: access.kind.as_str().to_string(),
                        target: access.pattern.clone(),
                        nodes: vec![node.name.clone()],
                        approved: ok,
                    };
                    out.push((access, entry));
                }
            }
        }
        out.into_iter().map(|(_, l)| l).collect()
    }

    /// The accounts `workflow` uses, with the hosts its nodes would send them to, and what it
    /// reaches on this machine.
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
        let approved = self.approved_access(&workflow.id).await.ok().flatten();
        let local = self.review_local(workflow, untrusted.is_some(), approved.as_deref());
        TrustReview {
            workflow_id: workflow.id.clone(),
            name: workflow.name.clone(),
            version,
            untrusted,
            accounts,
            local,
        }
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
        let (untrusted, approved) = match source {
            RunSource::File { trusted: true, .. } => (None, None),
            RunSource::File { path, trusted: false, .. } => (Some(path.clone()), None),
            RunSource::Saved => {
                let id = workflow.id.clone();
                let (untrusted, approved) = self
                    .blocking(move |store| {
                        let workflows = store.workflows();
                        Ok((workflows.find(&id)?.and_then(|r| r.untrusted), workflows.approved_access(&id)?))
                    })
                    .await?;
                (untrusted, approved.as_deref().map(parse_approved))
            }
        };
        let local = self.local_access(workflow);
        if let Some(source) = untrusted {
            let uses_accounts = workflow.nodes.iter().any(|n| !n.credentials.is_empty());
            if uses_accounts || !local.is_empty() {
                let review = self.review(workflow, 0, Some(source.clone())).await;
                return Err(untrusted_error(&review));
            }
            return Ok(with_untrusted_local(
                with_untrusted_credentials(services, &workflow.name, &source),
                &workflow.name,
                &source,
            ));
        }
        // `--trust`: what the file names now is what the user approved.
        let approved = match (source, approved) {
            (RunSource::File { trusted: true, .. }, _) => local.clone(),
            (_, Some(approved)) => approved,
            (_, None) => return Ok(services),
        };
        if local.iter().any(|a| !approved.contains(a)) {
            let review = self.review(workflow, 0, None).await;
            return Err(unapproved_error(&review));
        }
        Ok(with_approved_local(services, approved))
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

/// A stored approval; one that cannot be read approves nothing.
fn parse_approved(text: &str) -> Vec<Access> {
    serde_json::from_str(text).unwrap_or_default()
}

/// `services` whose local policy refuses every program and path, naming the workflow.
pub(crate) fn with_untrusted_local(mut services: Services, workflow: &str, source: &str) -> Services {
    let refused =
        format!("workflow \"{workflow}\" comes from {source} and is not trusted yet; review and trust it first");
    services.local = Arc::new(LocalPolicy { refused: Some(refused), ..(*services.local).clone() });
    services
}

/// `services` whose local policy allows only what the user approved for the workflow.
pub(crate) fn with_approved_local(mut services: Services, approved: Vec<Access>) -> Services {
    services.local = Arc::new(LocalPolicy { approved: Some(approved), ..(*services.local).clone() });
    services
}

/// The programs and paths a review lists, for messages: `run "x" (nodes "A", "B")`.
fn describe_local(local: &[&TrustLocal]) -> String {
    local
        .iter()
        .map(|l| {
            let nodes = l.nodes.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ");
            format!("{} \"{}\" (nodes {nodes})", l.verb(), l.target)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A trusted workflow from someone else now reaches for programs or paths the user did not
/// approve: nothing runs until it is reviewed again.
fn unapproved_error(review: &TrustReview) -> ApiError {
    let new: Vec<&TrustLocal> = review.local.iter().filter(|l| !l.approved).collect();
    ApiError::new(
        ErrorCode::WorkflowUntrusted,
        format!(
            "workflow \"{}\" came from a file and was approved for other programs and paths; it now {}. Nothing ran: \
             review and trust it again (in the app, or with `switchyard trust {}`)",
            review.name,
            describe_local(&new),
            review.workflow_id
        ),
    )
    .with_details(serde_json::to_value(review).unwrap_or_default())
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
    let mut what = Vec::new();
    if !uses.is_empty() {
        what.push(format!("uses {}", uses.join("; ")));
    }
    if !review.local.is_empty() {
        what.push(describe_local(&review.local.iter().collect::<Vec<_>>()));
    }
    let source = review.untrusted.as_deref().unwrap_or("a file");
    ApiError::new(
        ErrorCode::WorkflowUntrusted,
        format!(
            "workflow \"{}\" comes from {source} and is not trusted yet, and it {}. Nothing ran: review what it \
             uses and trust it first (in the app, or with `switchyard trust {}`)",
            review.name,
            what.join("; it "),
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

    fn expose<'a>(&'a self, reference: &'a CredentialRef) -> BoxFuture<'a, Result<Secret, NodeError>> {
        Box::pin(async move { Err(self.refuse(reference)) })
    }

    fn fields<'a>(&'a self, reference: &'a CredentialRef) -> BoxFuture<'a, Result<Fields, NodeError>> {
        Box::pin(async move { Err(self.refuse(reference)) })
    }
}
