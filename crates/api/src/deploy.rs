//! "Deploy to…": pushes a saved workflow to a Switchyard server (`switchyard serve`, through its
//! REST API) with a `switchyard.server` account (the server's URL and an `admin` API token),
//! trusts it there at the pushed version, activates it, and lists the accounts it needs that
//! the server lacks (the server's own vault holds their secrets: references travel, secrets
//! never do). The server's executions of a deployed workflow are read back the same way.

use crate::types::{ExecutionListResponse, IdRequest};
use crate::{Api, ApiError, ApiResult};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchyard_core::credentials::{Authorization, CredentialProvider};
use switchyard_engine::clock::rfc3339_ms;
use switchyard_model::error::{ErrorCode, with_causes};
use switchyard_model::redact::redact_urls;
use switchyard_model::workflow::CredentialRef;
use switchyard_store::DeploymentRow;
use ts_rs::TS;

/// The connection type of a Switchyard server: `baseUrl` and an API `token`.
pub const SERVER_CONNECTION: &str = "switchyard.server";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowDeployRequest {
    /// The saved workflow to deploy (its newest version).
    pub id: String,
    /// The `switchyard.server` account (its label) to deploy with.
    pub server: String,
    /// Serve its triggers on the server once it is there (not while accounts are missing).
    #[serde(default)]
    pub activate: bool,
    /// Overwrite it even if it was changed on the server since this computer last deployed it.
    #[serde(default)]
    pub force: bool,
}

/// An account a deployed workflow uses that the server does not have yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MissingAccount {
    /// The connection type's id.
    pub connection: String,
    pub connection_name: String,
    /// The account's label; none for the type's default account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub account: Option<String>,
    /// The nodes that use it.
    pub nodes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowDeployResponse {
    pub server: String,
    /// The server's address, as the account names it.
    pub url: String,
    pub workflow_id: String,
    /// Its version on the server now.
    pub version: u32,
    /// It was new on the server (else a new version of what was there).
    pub created: bool,
    /// Its triggers are served there.
    pub active: bool,
    /// Accounts to add on the server (with the same connection and label) before it can run.
    pub missing_accounts: Vec<MissingAccount>,
    pub notes: Vec<String>,
}

/// Where a workflow was deployed from this computer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub server: String,
    pub url: String,
    pub version: u32,
    pub deployed_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct DeploymentsResponse {
    pub deployments: Vec<Deployment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerExecutionsRequest {
    pub id: String,
    pub server: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerExecutionRequest {
    /// The execution's id on the server.
    pub id: String,
    /// The `switchyard.server` account (its label).
    pub server: String,
}

/// What pushing one workflow did.
struct Pushed {
    created: bool,
    version: u32,
    missing: Vec<MissingAccount>,
}

/// Adds an account to the missing ones, or its nodes to the same account's entry.
fn merge_missing(missing: &mut Vec<MissingAccount>, account: MissingAccount) {
    match missing.iter_mut().find(|m| m.connection == account.connection && m.account == account.account) {
        Some(known) => known.nodes.extend(account.nodes),
        None => missing.push(account),
    }
}

/// One server, as an account names it, and how to call it.
struct Server<'a> {
    api: &'a Api,
    label: String,
    base: url::Url,
    /// The account's token, for its hosts only: opened once for all of a deploy's calls.
    authorization: Authorization,
}

impl Server<'_> {
    fn fail(&self, code: ErrorCode, message: impl std::fmt::Display) -> ApiError {
        ApiError::new(code, format!("server \"{}\" ({}): {message}", self.label, self.base))
    }

    /// Calls `/api/v1{path}` with the account's token (sent only to the account's hosts).
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> ApiResult<Value> {
        let url = self
            .base
            .join(&format!("api/v1{path}"))
            .map_err(|e| self.fail(ErrorCode::BadRequest, format!("{path}: {e}")))?;
        let services = self.api.inner.engine.services();
        let mut request = services.http_direct.request(method.clone(), url.clone());
        if let Some(body) = body {
            request = request.json(&body);
        }
        let request = self.authorization.apply(request, &url).map_err(|e| self.fail(e.code, e.message))?;
        let response = request.timeout(std::time::Duration::from_secs(60)).send().await.map_err(|e| {
            self.fail(ErrorCode::ConnectionFailed, format!("cannot reach it: {}", redact_urls(&with_causes(&e))))
        })?;
        let status = response.status();
        let text = response.text().await.map_err(|e| self.fail(ErrorCode::ConnectionFailed, e))?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(value);
        }
        let message = value["message"].as_str().map_or_else(|| format!("HTTP {status}"), str::to_string);
        let code = serde_json::from_value::<ErrorCode>(value["code"].clone()).unwrap_or(ErrorCode::HttpStatus);
        Err(match status.as_u16() {
            401 => self.fail(
                ErrorCode::CredentialMissing,
                format!(
                    "it refused the API token ({message}); make a new one there (`switchyard tokens create --scope admin`) and update the account"
                ),
            ),
            403 => self.fail(ErrorCode::Forbidden, format!("{message}; deploying needs a token with scope \"admin\"")),
            404 if method == reqwest::Method::GET && path == "/info" => {
                self.fail(ErrorCode::NotFound, "it does not answer the REST API at /api/v1: is it `switchyard serve`?")
            }
            _ => self.fail(code, format!("{method} {path}: {message}")),
        })
    }
}

fn field<T: serde::de::DeserializeOwned>(server: &Server<'_>, value: &Value, what: &str) -> ApiResult<T> {
    serde_json::from_value(value.clone())
        .map_err(|e| server.fail(ErrorCode::InvalidOutput, format!("its answer has no valid {what}: {e}")))
}

impl Api {
    /// The server a `switchyard.server` account names.
    async fn server(&self, label: &str) -> ApiResult<Server<'_>> {
        let accounts = self.inner.vault.accounts().await?;
        let account = accounts
            .iter()
            .find(|a| a.connection_type == SERVER_CONNECTION && a.label == label)
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "Switchyard server account \"{label}\" (add one under Connections: Switchyard server, with the server's URL and an admin API token)"
                ))
            })?;
        let text = account.fields.get("baseUrl").map(|u| u.trim()).unwrap_or_default();
        let mut base = url::Url::parse(text)
            .map_err(|e| ApiError::bad_request(format!("account \"{label}\": \"{text}\" is not a server URL: {e}")))?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let reference = CredentialRef {
            connection: SERVER_CONNECTION.into(),
            account: Some(label.to_string()),
            extra: Default::default(),
        };
        let authorization = self
            .inner
            .vault
            .authorize(&reference, false)
            .await
            .map_err(|e| ApiError::new(e.code, format!("server \"{label}\" ({base}): {}", e.message)))?;
        Ok(Server { api: self, label: label.to_string(), base, authorization })
    }

    /// Deploys a saved workflow to a server: see the module's documentation.
    pub async fn workflow_deploy(&self, request: WorkflowDeployRequest) -> ApiResult<WorkflowDeployResponse> {
        let server = self.server(&request.server).await?;
        let record = self.workflow_get(IdRequest { id: request.id.clone() }).await?;
        let workflow = crate::workflows::scrubbed(record.workflow, true)?;
        // The workflows it calls (Execute Workflow nodes, at any depth) go too, first: a run
        // there may call them at once. One that is not saved here is an error naming it.
        let called = self.called_workflows(&workflow, true).await?;
        server.call(reqwest::Method::GET, "/info", None).await?;
        let mut notes = Vec::new();
        let mut missing: Vec<MissingAccount> = Vec::new();
        for sub in &called {
            let pushed = self.push(&server, sub, request.force, &mut notes).await?;
            notes.push(format!(
                "called workflow \"{}\" deployed too (version {} there{})",
                sub.name,
                pushed.version,
                if pushed.created { ", new" } else { "" }
            ));
            for mut account in pushed.missing {
                account.nodes = account.nodes.iter().map(|n| format!("{} → {n}", sub.name)).collect();
                merge_missing(&mut missing, account);
            }
        }
        let pushed = self.push(&server, &workflow, request.force, &mut notes).await?;
        for account in pushed.missing {
            merge_missing(&mut missing, account);
        }
        let id = &request.id;
        let mut active = false;
        if request.activate {
            if missing.is_empty() {
                let record = server
                    .call(reqwest::Method::POST, &format!("/workflows/{id}/activate"), Some(json!({ "active": true })))
                    .await?;
                active = record["active"].as_bool().unwrap_or(false);
            } else {
                notes.push("not activated: add the missing accounts on the server first, then deploy again".into());
            }
        }
        Ok(WorkflowDeployResponse {
            server: server.label.clone(),
            url: server.base.as_str().trim_end_matches('/').to_string(),
            workflow_id: id.clone(),
            version: pushed.version,
            created: pushed.created,
            active,
            missing_accounts: missing,
            notes,
        })
    }

    /// Pushes one workflow (new there, or a new version of what was deployed from here), trusts
    /// it there at the version pushed, and records the deploy.
    async fn push(
        &self,
        server: &Server<'_>,
        workflow: &switchyard_model::workflow::Workflow,
        force: bool,
        notes: &mut Vec<String>,
    ) -> ApiResult<Pushed> {
        let id = &workflow.id;
        let last = self.inner.store.deployments().get(id, &server.label)?;
        let existing = match server.call(reqwest::Method::GET, &format!("/workflows/{id}"), None).await {
            Ok(record) => Some(field::<u32>(server, &record["version"], "version")?),
            Err(e) if e.code == ErrorCode::NotFound => None,
            Err(e) => return Err(e),
        };
        let (created, version) = match existing {
            None => {
                let text = workflow.to_pretty_json();
                let file_name = crate::files::file_name_for(&workflow.name);
                let imported = server
                    .call(
                        reqwest::Method::POST,
                        "/workflows/import",
                        Some(json!({ "text": text, "fileName": file_name, "keepId": true })),
                    )
                    .await?;
                (true, field::<u32>(server, &imported["record"]["version"], "version")?)
            }
            Some(there) => {
                if let Some(last) = last.as_ref().filter(|l| l.version != there as i64 && !force) {
                    return Err(server.fail(
                        ErrorCode::Conflict,
                        format!(
                            "\"{}\" was changed there since this computer deployed it (version {there} there, {} deployed); deploy again with force to replace it",
                            workflow.name, last.version
                        ),
                    ));
                }
                if last.is_none() && !force {
                    notes.push(format!("a workflow with id {id} was there already (version {there}): replaced"));
                }
                let note = format!("deployed from {}", crate::cluster::hostname());
                let saved = server
                    .call(
                        reqwest::Method::PUT,
                        "/workflows",
                        Some(json!({ "workflow": workflow, "expectedVersion": there, "note": note })),
                    )
                    .await?;
                (false, field::<u32>(server, &saved["record"]["version"], "version")?)
            }
        };
        // The user deploying it trusts it: on the server, at the version pushed (which also lets
        // the server's accounts reach the hosts this version names, as a review there would).
        let review = server.call(reqwest::Method::GET, &format!("/workflows/{id}/trust"), None).await?;
        let reviewed = field::<u32>(server, &review["version"], "review")?;
        server
            .call(reqwest::Method::POST, &format!("/workflows/{id}/trust"), Some(json!({ "version": reviewed })))
            .await?;
        let missing: Vec<MissingAccount> = review["accounts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["accountId"].is_null())
            .map(|a| MissingAccount {
                connection: a["connection"].as_str().unwrap_or_default().to_string(),
                connection_name: a["connectionName"].as_str().unwrap_or_default().to_string(),
                account: a["account"].as_str().map(str::to_string),
                nodes: a["nodes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|n| n.as_str().map(str::to_string))
                    .collect(),
            })
            .collect();
        self.inner.store.deployments().record(&DeploymentRow {
            workflow_id: id.clone(),
            server: server.label.clone(),
            url: server.base.as_str().trim_end_matches('/').to_string(),
            version: i64::from(version),
            deployed_ms: self.now_ms(),
        })?;
        Ok(Pushed { created, version, missing })
    }

    /// The servers this computer deployed a workflow to, most recent first.
    pub async fn workflow_deployments(&self, request: IdRequest) -> ApiResult<DeploymentsResponse> {
        let rows = self.inner.store.deployments().list(&request.id)?;
        Ok(DeploymentsResponse {
            deployments: rows
                .into_iter()
                .map(|r| Deployment {
                    server: r.server,
                    url: r.url,
                    version: u32::try_from(r.version).unwrap_or(0),
                    deployed_at: rfc3339_ms(r.deployed_ms),
                })
                .collect(),
        })
    }

    /// One execution on a server, as its `GET /executions/{id}` gives it. Its files stay on
    /// the server (their previews say so).
    pub async fn server_execution_get(
        &self,
        request: ServerExecutionRequest,
    ) -> ApiResult<switchyard_model::execution::Execution> {
        let server = self.server(&request.server).await?;
        let id: String = url::form_urlencoded::byte_serialize(request.id.as_bytes()).collect();
        let execution = server.call(reqwest::Method::GET, &format!("/executions/{id}"), None).await?;
        field(&server, &execution, "execution")
    }

    /// A deployed workflow's executions on the server, newest first.
    pub async fn server_executions(&self, request: ServerExecutionsRequest) -> ApiResult<ExecutionListResponse> {
        let server = self.server(&request.server).await?;
        let limit = request.limit.unwrap_or(50).clamp(1, 500);
        let id: String = url::form_urlencoded::byte_serialize(request.id.as_bytes()).collect();
        let listed =
            server.call(reqwest::Method::GET, &format!("/executions?workflowId={id}&limit={limit}"), None).await?;
        field(&server, &listed, "execution list")
    }
}
