//! The host side of Execute Workflow (see `switchyard_engine::subflow`): called workflows come
//! from the store (by id) or from files; each called run is launched like any run — recorded
//! in the history with its caller, its events sent to the host — with the services its own
//! trust allows, one level deeper, stopped with the calling node, and outside the run queue.

use crate::runs::{Called, LaunchOptions};
use crate::trust::RunSource;
use crate::types::{Empty, IdRequest};
use crate::workflows::{WorkflowImportRequest, WorkflowImportResponse};
use crate::{Api, ApiError, ApiResult, Inner};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};
use switchyard_engine::access::{AccessKind, is_workflow_id};
use switchyard_engine::node::BoxFuture;
use switchyard_engine::subflow::{Callable, Caller, ChildCall, ChildOutcome, SubWorkflows, Target, read_workflow_file};
use switchyard_engine::validate::Report;
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError, ValidationIssue};
use switchyard_model::execution::{CallLink, RunMode, RunStatus};
use switchyard_model::ids::new_id;
use switchyard_model::workflow::Workflow;
use tokio_util::sync::CancellationToken;

/// The sub-workflow host runs of `api` use (it holds the API weakly: the API's runs hold it).
pub(crate) fn host(api: &Api) -> Arc<dyn SubWorkflows> {
    Arc::new(Calls(Arc::downgrade(&api.inner)))
}

struct Calls(Weak<Inner>);

fn api_of(inner: &Weak<Inner>) -> Result<Api, NodeError> {
    inner
        .upgrade()
        .map(|inner| Api { inner })
        .ok_or_else(|| NodeError::new(ErrorCode::Internal, "the app is shutting down: no workflow can be called"))
}

/// An API failure while calling `what`, as the calling node's error (permanent: the same
/// call fails the same way).
fn call_error(what: &Target, e: ApiError) -> NodeError {
    NodeError::new(e.code, format!("cannot call {what}: {}", e.message))
        .with_class(ErrorClass::Permanent)
        .with_details(e.details)
}

impl SubWorkflows for Calls {
    fn load<'a>(&'a self, target: &'a Target, caller: &'a Caller) -> BoxFuture<'a, Result<Callable, NodeError>> {
        Box::pin(async move {
            let api = api_of(&self.0)?;
            let engine = &api.inner.engine;
            if let Target::Saved(id) = target
                && let Some(workflow) = caller.bundled(id)
            {
                // From the caller's bundle file: as if it were a file beside it.
                return Callable::new(engine, target.clone(), workflow, caller.file.clone());
            }
            match target {
                Target::Saved(id) => {
                    let record =
                        api.workflow_get(IdRequest { id: id.clone() }).await.map_err(|e| call_error(target, e))?;
                    Callable::new(engine, target.clone(), record.workflow, None)
                }
                Target::File(path) => {
                    let (workflow, file) = read_workflow_file(path, caller.file.as_deref()).await?;
                    Callable::new(engine, target.clone(), workflow, Some(file))
                }
            }
        })
    }

    fn run(&self, call: ChildCall) -> BoxFuture<'static, Result<ChildOutcome, NodeError>> {
        let inner = self.0.clone();
        Box::pin(async move {
            let api = api_of(&inner)?;
            let target = &call.callable.target;
            let settings = api.settings_get(Empty {}).await.map_err(|e| call_error(target, e))?;
            let mut base = api.run_services(&settings);
            base.call_depth = call.caller.depth + 1;
            base.workflow_file = call.callable.file.clone();
            base.bundle = call.caller.bundle.clone();
            // A saved workflow runs as its own trust allows (an imported one not trusted yet
            // is refused); a file the caller was allowed to call runs as the caller's own.
            let source = match (&call.callable.file, target) {
                (None, _) => RunSource::Saved,
                (Some(file), _) => RunSource::File { path: file.display().to_string(), trusted: true, bundle: vec![] },
            };
            let services = api
                .trusted_services(call.callable.workflow(), &source, base)
                .await
                .map_err(|e| call_error(target, e))?;
            // Waited for, the child stops with the calling node; not waited for, it runs on.
            let cancel = if call.wait { call.cancel.child_token() } else { CancellationToken::new() };
            let by = CallLink { execution_id: call.caller.execution_id.clone(), node_id: call.caller.node_id.clone() };
            let options = LaunchOptions {
                mode: RunMode::Called,
                start: Some(call.callable.start.clone()),
                called: Some(Called { by, cancel: cancel.clone() }),
                ..LaunchOptions::default()
            };
            let (execution_id, handle) = api.launch_with(call.callable.prepared.clone(), services, call.input, options);
            drop(api);
            if !call.wait {
                return Ok(ChildOutcome { execution_id, status: RunStatus::Running, error: None, items: Vec::new() });
            }
            // The calling node may be dropped while it waits (its run stopped): the child
            // stops with it.
            let guard = cancel.drop_guard();
            let outcome = handle.await.map_err(|e| {
                NodeError::new(ErrorCode::Internal, format!("called run {execution_id} failed to complete: {e}"))
            })?;
            guard.disarm();
            Ok(ChildOutcome {
                execution_id: outcome.execution_id,
                status: outcome.status,
                error: outcome.error,
                items: outcome.result,
            })
        })
    }
}

impl Api {
    /// The first circle of calls through saved workflows that `workflow` starts (A calls B
    /// calls A), as a validation issue at its calling node naming the circle; none without
    /// one. Calls of files and computed targets are left to the depth limit.
    pub(crate) async fn call_cycle(&self, workflow: &Workflow) -> ApiResult<Option<ValidationIssue>> {
        if self.saved_calls(workflow).is_empty() {
            return Ok(None);
        }
        // Only the saved workflows its calls reach, each read once.
        let registry = self.inner.engine.registry().clone();
        let start = workflow.clone();
        let by_id = self
            .blocking(move |store| {
                let mut queue: Vec<String> = calls_of(&registry, &start).into_iter().map(|(_, id)| id).collect();
                let mut by_id = HashMap::from([(start.id.clone(), start)]);
                while let Some(id) = queue.pop() {
                    if by_id.contains_key(&id) {
                        continue;
                    }
                    if let Some(record) = store.workflows().find(&id)? {
                        queue.extend(calls_of(&registry, &record.workflow).into_iter().map(|(_, id)| id));
                        by_id.insert(id, record.workflow);
                    }
                }
                Ok(by_id)
            })
            .await?;
        for (index, first) in self.saved_calls(workflow) {
            if first == workflow.id {
                continue; // A workflow calling itself is the engine's validation issue.
            }
            let mut chain = vec![workflow.id.clone()];
            if self.leads_back(&by_id, &first, &workflow.id, &mut chain, &mut HashSet::new()) {
                let names: Vec<&str> =
                    chain.iter().map(|id| by_id.get(id).map_or(id.as_str(), |w| w.name.as_str())).collect();
                let node = &workflow.nodes[index];
                return Ok(Some(
                    ValidationIssue::new(
                        ErrorCode::CallCycle,
                        format!("$.nodes[{index}].parameters"),
                        format!("workflows call each other in a circle: {}", names.join(" → ")),
                    )
                    .at_node(&node.id, &node.name),
                ));
            }
        }
        Ok(None)
    }

    /// The saved workflows `workflow`'s nodes call, with the calling node's position.
    fn saved_calls(&self, workflow: &Workflow) -> Vec<(usize, String)> {
        calls_of(self.inner.engine.registry(), workflow)
    }

    /// Whether calls from `id` lead back to `start`; `chain` ends with the way there.
    fn leads_back(
        &self,
        by_id: &HashMap<String, Workflow>,
        id: &str,
        start: &str,
        chain: &mut Vec<String>,
        seen: &mut HashSet<String>,
    ) -> bool {
        chain.push(id.to_string());
        if id == start {
            return true;
        }
        if seen.insert(id.to_string())
            && let Some(next) = by_id.get(id)
        {
            for (_, callee) in self.saved_calls(next) {
                if self.leads_back(by_id, &callee, start, chain, seen) {
                    return true;
                }
            }
        }
        chain.pop();
        false
    }
}

impl Api {
    /// Every saved workflow `workflow` calls, and those they call, each once, ready to leave
    /// this computer (see [`crate::workflows::scrubbed`]). A call of a workflow not saved
    /// here fails the export, naming the node: the bundle would be incomplete.
    pub(crate) async fn called_workflows(&self, workflow: &Workflow, strip: bool) -> ApiResult<Vec<Workflow>> {
        let mut found: Vec<Workflow> = Vec::new();
        let mut queue = vec![workflow.clone()];
        while let Some(next) = queue.pop() {
            for (index, id) in self.saved_calls(&next) {
                if id == workflow.id || found.iter().any(|w| w.id == id) {
                    continue;
                }
                let called = match self.workflow_get(IdRequest { id: id.clone() }).await {
                    Ok(record) => record.workflow,
                    Err(e) if e.code == ErrorCode::NotFound => {
                        return Err(ApiError::not_found(format!(
                            "workflow \"{}\", node \"{}\" calls workflow {id}, which is not saved here: the bundle would be incomplete",
                            next.name, next.nodes[index].name
                        )));
                    }
                    Err(e) => return Err(e),
                };
                let name = called.name.clone();
                let called = crate::workflows::scrubbed(called, strip)
                    .map_err(|e| ApiError { message: format!("workflow \"{name}\": {}", e.message), ..e })?;
                queue.push(called.clone());
                found.push(called);
            }
        }
        Ok(found)
    }

    /// Notes naming the saved workflows `workflow` calls that are not here.
    pub(crate) async fn missing_calls(&self, workflow: &Workflow) -> ApiResult<Vec<String>> {
        let mut notes = Vec::new();
        for (index, id) in self.saved_calls(workflow) {
            let key = id.clone();
            if self.blocking(move |store| Ok(store.workflows().find(&key)?)).await?.is_none() {
                notes.push(format!(
                    "node \"{}\" calls workflow {id}, which is not here: import it too (the sender can export \
                     the workflow with its called workflows, as one bundle file)",
                    workflow.nodes[index].name
                ));
            }
        }
        Ok(notes)
    }

    /// Imports a bundle: the workflows it calls first (keeping their ids, so the calls find
    /// them; one whose id is taken by another workflow gets a new id and the bundle's calls
    /// are changed to it; one that is here already, the same, is not imported twice), then
    /// its first workflow as any import. Every imported workflow is untrusted.
    pub(crate) async fn import_bundle(
        &self,
        mut workflows: Vec<Workflow>,
        request: WorkflowImportRequest,
    ) -> ApiResult<WorkflowImportResponse> {
        let mut notes = Vec::new();
        let mut import = Vec::new();
        for index in 1..workflows.len() {
            let called = workflows[index].clone();
            let id = called.id.clone();
            let here = self.blocking(move |store| Ok(store.workflows().find(&id)?)).await?;
            match here {
                None => import.push(index),
                Some(record) if record.workflow == called => {
                    notes.push(format!("\"{}\" ({}) from the bundle is here already", called.name, called.id));
                }
                Some(_) => {
                    let new = new_id();
                    for wf in &mut workflows {
                        self.rewrite_calls(wf, &called.id, &new);
                    }
                    notes.push(format!(
                        "\"{}\" from the bundle got the new id {new} (another workflow here has its id {}); the \
                         bundle's calls of it were changed to match",
                        called.name, called.id
                    ));
                    workflows[index].id = new;
                    import.push(index);
                }
            }
        }
        let file_name = request.file_name.clone();
        for index in import {
            let report = Report { issues: Vec::new(), workflow: Some(workflows[index].clone()) };
            let request = WorkflowImportRequest { text: String::new(), file_name: file_name.clone(), keep_id: true };
            let response = self.import_workflow(report, request).await?;
            notes.push(format!(
                "also imported \"{}\" ({}), which it calls: it is not trusted yet either; review and trust it too",
                response.record.workflow.name, response.record.workflow.id
            ));
        }
        let main = Report { issues: Vec::new(), workflow: workflows.into_iter().next() };
        let mut response = self.import_workflow(main, request).await?;
        notes.append(&mut response.notes);
        response.notes = notes;
        Ok(response)
    }

    /// Changes `workflow`'s calls of saved workflow `old` to `new` (the parameter values of
    /// its calling nodes that name `old`).
    pub(crate) fn rewrite_calls(&self, workflow: &mut Workflow, old: &str, new: &str) {
        let registry = self.inner.engine.registry();
        for node in &mut workflow.nodes {
            let calls_old = registry
                .of(node)
                .map(|e| e.access(node))
                .unwrap_or_default()
                .iter()
                .any(|a| a.kind == AccessKind::Call && a.pattern == old);
            if calls_old {
                for value in node.parameters.values_mut() {
                    rename_calls(value, old, new);
                }
            }
        }
    }
}

/// `value` with every mention of workflow `old` as a whole string made `new`: a parameter
/// itself, or `workflowId` fields inside its lists and objects (an agent's tools).
fn rename_calls(value: &mut serde_json::Value, old: &str, new: &str) {
    match value {
        serde_json::Value::String(s) if s == old => *s = new.to_string(),
        serde_json::Value::Array(list) => {
            for entry in list {
                rename_calls(entry, old, new);
            }
        }
        serde_json::Value::Object(fields) => {
            for (key, v) in fields.iter_mut() {
                if key == "workflowId" || v.is_array() || v.is_object() {
                    rename_calls(v, old, new);
                }
            }
        }
        _ => {}
    }
}

/// The saved workflows `workflow`'s enabled nodes call, with the calling node's position.
fn calls_of(registry: &switchyard_engine::Registry, workflow: &Workflow) -> Vec<(usize, String)> {
    let mut calls = Vec::new();
    for (index, node) in workflow.nodes.iter().enumerate().filter(|(_, n)| !n.settings.disabled) {
        for access in registry.of(node).map(|e| e.access(node)).unwrap_or_default() {
            if access.kind == AccessKind::Call && is_workflow_id(&access.pattern) {
                calls.push((index, access.pattern));
            }
        }
    }
    calls
}
