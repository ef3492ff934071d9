//! Workflow commands.

use crate::Api;
use crate::error::{ApiError, ApiResult};
use crate::files::{file_name_for, write_atomically};
use crate::types::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchyard_engine::trigger::Trigger;
use switchyard_engine::validate::{Report, validate_file};
use switchyard_model::descriptor::NodeDescriptor;
use switchyard_model::error::ErrorCode;
use switchyard_model::error::ValidationIssue;
use switchyard_model::ids::new_id;
use switchyard_model::records::WorkflowRecord;
use switchyard_model::records::WorkflowSummary;
use switchyard_model::workflow::{Node, Workflow};
use ts_rs::TS;

/// Workflow files opened with the app, waiting for the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
pub struct OpenRequestsResponse {
    pub paths: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkflowListRequest {
    /// Matches name or description, ignoring case.
    #[ts(optional)]
    pub search: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct WorkflowListResponse {
    pub workflows: Vec<WorkflowSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct WorkflowCreateRequest {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowSaveRequest {
    pub workflow: Workflow,
    /// The version the edit started from; a newer stored version makes the save fail
    /// with `conflict` instead of overwriting someone else's change.
    #[serde(default)]
    #[ts(optional)]
    pub expected_version: Option<u32>,
    /// A note for the version history ("fixed the retry policy").
    #[serde(default)]
    #[ts(optional)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct WorkflowSaveResponse {
    pub record: WorkflowRecord,
    /// Problems to show on the canvas; saving an unfinished workflow is allowed.
    pub issues: Vec<ValidationIssue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct WorkflowRenameRequest {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowImportRequest {
    /// The file's text.
    pub text: String,
    /// The file's name, for error messages.
    #[serde(default)]
    #[ts(optional)]
    pub file_name: Option<String>,
    /// Keep the file's workflow id (its webhook URLs stay the same). By default an imported
    /// workflow gets a new id: ids in shared files are known to whoever has the file, and
    /// webhook URLs are made of them.
    #[serde(default)]
    #[ts(optional, as = "Option<bool>")]
    pub keep_id: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct WorkflowImportResponse {
    pub record: WorkflowRecord,
    /// Things the user should know, e.g. that the workflow got a new id.
    pub notes: Vec<String>,
    /// What the imported (untrusted) workflow would use, for the user to confirm.
    pub review: TrustReview,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowExportRequest {
    pub id: String,
    /// Blank parameter values that look like secrets instead of refusing to export.
    #[serde(default)]
    #[ts(optional, as = "Option<bool>")]
    pub strip_secrets: bool,
    /// Where to write the file (atomically); without it only the text is returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub path: Option<String>,
    /// Write a bundle: the workflow and every saved workflow it calls (and they call), in
    /// one file (`{"switchyardBundle": 1, "workflows": […]}`).
    #[serde(default)]
    #[ts(optional, as = "Option<bool>")]
    pub with_called: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowExportResponse {
    pub text: String,
    /// A file name made from the workflow's name.
    pub file_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub path: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(default)]
pub struct WorkflowValidateRequest {
    /// A workflow as the editor holds it…
    #[ts(optional)]
    pub workflow: Option<Workflow>,
    /// …or a file's text (issues then carry line and column).
    #[ts(optional)]
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct ValidationReport {
    pub valid: bool,
    pub issues: Vec<ValidationIssue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeTypesResponse {
    pub node_types: Vec<NodeDescriptor>,
}

/// What the user chose in a file dialog; none when they cancelled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct ChosenPath {
    pub path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SaveDialogRequest {
    /// The file name the dialog suggests.
    pub default_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportFileRequest {
    /// A workflow file on this computer (from a file dialog or a file dropped on the window).
    pub path: String,
    /// Keep the file's workflow id (see [`WorkflowImportRequest::keep_id`]).
    #[serde(default)]
    #[ts(optional, as = "Option<bool>")]
    pub keep_id: bool,
}

impl Api {
    pub async fn workflow_list(&self, request: WorkflowListRequest) -> ApiResult<WorkflowListResponse> {
        self.blocking(move |store| {
            Ok(WorkflowListResponse { workflows: store.workflows().list(request.search.as_deref())? })
        })
        .await
    }

    pub async fn workflow_get(&self, request: IdRequest) -> ApiResult<WorkflowRecord> {
        self.blocking(move |store| Ok(store.workflows().get(&request.id)?)).await
    }

    pub async fn workflow_create(&self, request: WorkflowCreateRequest) -> ApiResult<WorkflowRecord> {
        let name = request.name.trim();
        if name.is_empty() {
            return Err(ApiError::bad_request("a workflow needs a name"));
        }
        let mut wf = Workflow::new(name);
        let mut trigger = Node::new("start", "Start", switchyard_engine::nodes::trigger_manual::TYPE);
        trigger.position = [120.0, 200.0];
        wf.nodes.push(trigger);
        let now = self.now();
        self.blocking(move |store| Ok(store.workflows().create(&wf, None, &now)?)).await
    }

    pub async fn workflow_save(&self, request: WorkflowSaveRequest) -> ApiResult<WorkflowSaveResponse> {
        if request.workflow.name.trim().is_empty() {
            return Err(ApiError::bad_request("a workflow needs a name"));
        }
        if request.workflow.id.trim().is_empty() {
            return Err(ApiError::bad_request("a workflow needs an id"));
        }
        let mut issues = self.inner.engine.validate(&request.workflow);
        issues.extend(self.call_cycle(&request.workflow).await?);
        let now = self.now();
        let record = self
            .blocking(move |store| {
                // A stored workflow from before ids were restricted can still be saved (its
                // issues say why it cannot be activated); a new one cannot get such an id.
                let id = &request.workflow.id;
                if !switchyard_model::ids::valid_workflow_id(id) && store.workflows().find(id)?.is_none() {
                    return Err(ApiError::bad_request(format!(
                        "workflow id \"{}\" may only hold letters, digits, - and _ (1 to 64 of them)",
                        id.chars().take(80).collect::<String>()
                    )));
                }
                let note = request.note.as_deref().map(str::trim).unwrap_or("");
                Ok(store.workflows().save_with_note(&request.workflow, request.expected_version, &now, note)?)
            })
            .await?;
        self.prune_versions(&record.workflow.id).await;
        if record.active {
            issues.extend(pinned_warnings(&record.workflow));
        }
        if record.active {
            self.triggers_changed();
        }
        Ok(WorkflowSaveResponse { record, issues })
    }

    pub async fn workflow_rename(&self, request: WorkflowRenameRequest) -> ApiResult<WorkflowRecord> {
        let name = request.name.trim().to_string();
        if name.is_empty() {
            return Err(ApiError::bad_request("a workflow needs a name"));
        }
        let now = self.now();
        let record = self
            .blocking(move |store| {
                let record = store.workflows().get(&request.id)?;
                let mut wf = record.workflow;
                let note = format!("renamed from \"{}\"", wf.name);
                wf.name = name;
                Ok(store.workflows().save_with_note(&wf, Some(record.version), &now, &note)?)
            })
            .await?;
        if record.active {
            self.triggers_changed();
        }
        Ok(record)
    }

    pub async fn workflow_duplicate(&self, request: IdRequest) -> ApiResult<WorkflowRecord> {
        let now = self.now();
        self.blocking(move |store| {
            // A copy of an untrusted workflow is as untrusted as the original, and a copy of
            // a trusted one from a file is held to what the original was approved for.
            let original = store.workflows().get(&request.id)?;
            let mut wf = original.workflow;
            wf.id = new_id();
            wf.name = format!("{} (copy)", wf.name);
            Ok(store.workflows().create_copy(&request.id, &wf, &now)?)
        })
        .await
    }

    pub async fn workflow_delete(&self, request: IdRequest) -> ApiResult<DeletedResponse> {
        // Its runs in progress are cancelled and recorded first: their history is deleted
        // with the workflow, and nothing of theirs is written after it.
        self.cancel_runs_of(&request.id).await;
        let deleted = self
            .blocking(move |store| {
                store.workflows().delete(&request.id)?;
                store.triggers().retain_schedules(&request.id, &[])?;
                Ok(DeletedResponse { id: request.id })
            })
            .await?;
        self.triggers_changed();
        Ok(deleted)
    }

    pub async fn workflow_import(&self, request: WorkflowImportRequest) -> ApiResult<WorkflowImportResponse> {
        let file = request.file_name.clone().unwrap_or_default();
        let report = validate_file(&request.text, self.inner.engine.registry());
        if report.bundle {
            if !report.issues.is_empty() {
                return Err(ApiError::invalid(report.issues, &file));
            }
            return self.import_bundle(report.workflows, request).await;
        }
        let report = Report { issues: report.issues, workflow: report.workflows.into_iter().next() };
        self.import_workflow(report, request).await
    }

    /// Imports one workflow file's workflow, as checked in `report`.
    pub(crate) async fn import_workflow(
        &self,
        mut report: Report,
        request: WorkflowImportRequest,
    ) -> ApiResult<WorkflowImportResponse> {
        let file = request.file_name.clone().unwrap_or_default();
        // An id that cannot name a webhook URL is replaced, not refused: ids in shared files
        // are the sender's choice.
        let bad_id = report.issues.iter().any(|i| i.code == ErrorCode::InvalidWorkflowId);
        report.issues.retain(|i| i.code != ErrorCode::InvalidWorkflowId);
        if !report.issues.is_empty() {
            return Err(ApiError::invalid(report.issues, &file));
        }
        let mut wf =
            report.workflow.ok_or_else(|| ApiError::new(ErrorCode::InvalidWorkflow, "the file holds no workflow"))?;
        let now = self.now();
        let registry = self.inner.engine.registry();
        let webhooks = wf.nodes.iter().any(|n| matches!(registry.trigger_of(n), Some(Trigger::Webhook { .. })));
        // Someone else's file: untrusted until the user reviews and trusts it.
        let source = match request.file_name.as_deref().map(str::trim) {
            Some(name) if !name.is_empty() => name.to_string(),
            _ => "an unnamed file".to_string(),
        };
        let (record, notes) = self
            .blocking(move |store| {
                let mut notes = Vec::new();
                if !request.keep_id && !bad_id {
                    let old = std::mem::replace(&mut wf.id, new_id());
                    if webhooks {
                        notes.push(format!(
                            "it got the new id {}, so its webhook URLs are new too (whoever has the file knows its id {old}); import it keeping its id to keep them",
                            wf.id
                        ));
                    }
                } else if bad_id {
                    let old = std::mem::replace(&mut wf.id, new_id());
                    notes.push(format!(
                        "the file's workflow id \"{}\" holds characters other than letters, digits, - and _, so it was imported with id {}",
                        old.chars().take(80).collect::<String>(),
                        wf.id
                    ));
                } else if store.workflows().find(&wf.id)?.is_some() {
                    let old = std::mem::replace(&mut wf.id, new_id());
                    notes.push(format!(
                    "a workflow with id {old} already exists, so this one was imported as a new workflow with id {}",
                    wf.id
                ));
                }
                let record = store.workflows().create(&wf, Some(&source), &now)?;
                Ok((record, notes))
            })
            .await?;
        let mut notes = notes;
        notes.extend(self.missing_accounts(&record.workflow).await);
        notes.extend(self.missing_calls(&record.workflow).await?);
        let review = self.review(&record.workflow, record.version, record.untrusted.clone()).await;
        Ok(WorkflowImportResponse { record, notes, review })
    }

    /// Notes naming each credential reference with no matching account (type + label).
    async fn missing_accounts(&self, workflow: &switchyard_model::Workflow) -> Vec<String> {
        let mut notes = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for node in &workflow.nodes {
            for (slot, reference) in &node.credentials {
                let label = reference
                    .account
                    .clone()
                    .or_else(|| workflow.settings.accounts.get(&reference.connection).cloned());
                if !seen.insert((reference.connection.clone(), label.clone())) {
                    continue;
                }
                if self.inner.vault.find(&reference.connection, label.as_deref()).await.is_err() {
                    let account = label.map(|l| format!("account \"{l}\"")).unwrap_or_else(|| "an account".into());
                    notes.push(format!(
                        "node \"{}\" ({slot}) needs {account} of connection \"{}\", which is not set up here",
                        node.name, reference.connection
                    ));
                }
            }
        }
        notes
    }

    /// Lets requests read or write `path` (the host's own file dialogs and file drops call
    /// this with what the user chose).
    pub fn grant_path(&self, path: impl Into<std::path::PathBuf>) {
        self.inner.granted_paths.lock().unwrap_or_else(|p| p.into_inner()).insert(path.into());
    }

    /// A workflow file the user opened with the app (the desktop entry's `%f`, a second
    /// launch forwarded by the single-instance plugin): the path is the user's choice, so it
    /// is granted; it waits until the UI takes it (`open_requests`) and the UI is told.
    pub fn request_open(&self, path: impl Into<std::path::PathBuf>) {
        let path = path.into();
        let text = path.display().to_string();
        self.grant_path(path);
        self.inner.open_requests.lock().unwrap_or_else(|p| p.into_inner()).push(text.clone());
        self.inner.host.emit(ApiEvent::OpenFiles { paths: vec![text] });
    }

    /// The files opened with the app since the UI last asked, once each.
    pub async fn open_requests(&self, _: Empty) -> ApiResult<OpenRequestsResponse> {
        let paths = std::mem::take(&mut *self.inner.open_requests.lock().unwrap_or_else(|p| p.into_inner()));
        Ok(OpenRequestsResponse { paths })
    }

    /// Refuses a path the user did not choose in this session, where the host restricts
    /// paths: the webview may show untrusted content, so a request naming any file on disk
    /// must not be able to read or overwrite it.
    pub(crate) fn check_path(&self, path: &str) -> ApiResult<()> {
        if !self.inner.host.restricts_paths()
            || self.inner.granted_paths.lock().unwrap_or_else(|p| p.into_inner()).contains(std::path::Path::new(path))
        {
            return Ok(());
        }
        Err(ApiError::bad_request(format!(
            "{path} was not chosen in a file dialog or dropped on the window: the app reads and writes only files you chose"
        )))
    }

    /// The OS's dialog for a workflow file to open; the chosen path may then be imported.
    pub async fn dialog_open_workflow(&self, _: Empty) -> ApiResult<ChosenPath> {
        self.choose(None, true).await
    }

    /// The OS's dialog for where to export a workflow; the chosen path may then be written.
    pub async fn dialog_save_workflow(&self, request: SaveDialogRequest) -> ApiResult<ChosenPath> {
        self.choose(Some(request.default_name), true).await
    }

    /// The OS's dialog (for a workflow file, or with `workflow` false any file to save);
    /// the chosen path may then be read or written.
    pub(crate) async fn choose(&self, save_as: Option<String>, workflow: bool) -> ApiResult<ChosenPath> {
        let host = self.inner.host.clone();
        let chosen = tokio::task::spawn_blocking(move || match (&save_as, workflow) {
            (Some(name), false) => host.choose_save_path(name),
            _ => host.choose_path(save_as.as_deref()),
        })
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?
        .map_err(ApiError::bad_request)?;
        if let Some(path) = &chosen {
            self.grant_path(path);
        }
        Ok(ChosenPath { path: chosen })
    }

    pub async fn workflow_import_file(&self, request: ImportFileRequest) -> ApiResult<WorkflowImportResponse> {
        const MAX_FILE: u64 = 64 * 1024 * 1024;
        self.check_path(&request.path)?;
        let path = std::path::PathBuf::from(&request.path);
        let read = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
            let size = std::fs::metadata(&path)?.len();
            if size > MAX_FILE {
                return Err(std::io::Error::other(format!(
                    "the file is {size} bytes; workflow files are at most {MAX_FILE}"
                )));
            }
            std::fs::read_to_string(&path)
        })
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
        let text = read.map_err(|e| ApiError::new(ErrorCode::Io, format!("cannot read {}: {e}", request.path)))?;
        self.workflow_import(WorkflowImportRequest { text, file_name: Some(request.path), keep_id: request.keep_id })
            .await
    }

    pub async fn workflow_export(&self, request: WorkflowExportRequest) -> ApiResult<WorkflowExportResponse> {
        let record = self.workflow_get(IdRequest { id: request.id.clone() }).await?;
        let workflow = scrubbed(record.workflow, request.strip_secrets)?;
        let record = WorkflowRecord { workflow, ..record };
        let text = if request.with_called {
            let mut workflows = vec![record.workflow.clone()];
            workflows.extend(self.called_workflows(&record.workflow, request.strip_secrets).await?);
            switchyard_model::workflow::Bundle::new(workflows).to_pretty_json()
        } else {
            record.workflow.to_pretty_json()
        };
        let file_name = file_name_for(&record.workflow.name);
        if let Some(path) = &request.path {
            self.check_path(path)?;
            let target = std::path::PathBuf::from(path);
            let bytes = text.clone().into_bytes();
            tokio::task::spawn_blocking(move || write_atomically(&target, &bytes))
                .await
                .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?
                .map_err(|e| ApiError::new(ErrorCode::Io, format!("cannot write {path}: {e}")))?;
        }
        Ok(WorkflowExportResponse { text, file_name, path: request.path })
    }

    pub async fn workflow_validate(&self, request: WorkflowValidateRequest) -> ApiResult<ValidationReport> {
        let issues = match (request.workflow, request.text) {
            (Some(wf), _) => {
                let mut issues = self.inner.engine.validate(&wf);
                issues.extend(self.call_cycle(&wf).await?);
                issues
            }
            (None, Some(text)) => validate_file(&text, self.inner.engine.registry()).issues,
            (None, None) => return Err(ApiError::bad_request("give a workflow or a file's text to validate")),
        };
        Ok(ValidationReport { valid: issues.is_empty(), issues })
    }

    pub async fn node_types(&self, _: Empty) -> ApiResult<NodeTypesResponse> {
        Ok(NodeTypesResponse { node_types: self.inner.engine.registry().descriptors() })
    }

    /// Cancels this process's runs of a workflow and waits (up to 10 s) until they ended and
    /// their history is written.
    async fn cancel_runs_of(&self, workflow_id: &str) {
        let of_workflow = || -> Vec<tokio_util::sync::CancellationToken> {
            let runs = self.inner.runs.lock().unwrap_or_else(|p| p.into_inner());
            runs.values().filter(|r| &*r.workflow_id == workflow_id).map(|r| r.cancel.clone()).collect()
        };
        let running = of_workflow();
        if running.is_empty() {
            return;
        }
        running.iter().for_each(|t| t.cancel());
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while !of_workflow().is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        if let Err(e) = self.flush_history().await {
            tracing::warn!("flushing the history before deleting workflow {workflow_id}: {}", e.message);
        }
    }
}

/// Warnings for an active workflow's pinned data: its triggered runs ignore pins.
pub(crate) fn pinned_warnings(workflow: &Workflow) -> Vec<ValidationIssue> {
    let mut ids: Vec<&String> = workflow.pin_data.keys().collect();
    ids.sort();
    ids.into_iter()
        .filter_map(|id| workflow.nodes.iter().find(|n| &n.id == id))
        .map(|node| {
            ValidationIssue::new(
                ErrorCode::PinnedData,
                format!("$.pinData.{}", node.id),
                format!(
                    "node \"{}\" has pinned data and the workflow is active: runs its triggers start ignore pins \
                     (pins stand in for nodes only in runs started by hand); unpin it when you are done",
                    node.name
                ),
            )
            .at_node(&node.id, &node.name)
        })
        .collect()
}

/// `workflow` as it may leave this computer: refused when a parameter looks like a secret
/// (naming the node and parameter), or with those blanked when `strip` says so.
pub(crate) fn scrubbed(mut workflow: Workflow, strip: bool) -> ApiResult<Workflow> {
    let findings = switchyard_vault::scan::find_secrets(&workflow);
    if !findings.is_empty() {
        if !strip {
            let first = &findings[0];
            let more = match findings.len() {
                1 => String::new(),
                n => format!(" (and {} more)", n - 1),
            };
            return Err(ApiError::new(
                ErrorCode::SecretsInExport,
                format!(
                    "node \"{}\", parameter {}: {}{more}. Move it into a connection account, or export with the secrets stripped",
                    first.node, first.parameter, first.reason
                ),
            )
            .with_details(serde_json::json!({ "findings": findings })));
        }
        switchyard_vault::scan::strip_secrets(&mut workflow, &findings);
    }
    Ok(workflow)
}
