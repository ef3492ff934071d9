//! The host side of Execute Workflow (see `switchyard_engine::subflow`): called workflows come
//! from the store (by id) or from files; each called run is launched like any run — recorded
//! in the history with its caller, its events sent to the host — with the services its own
//! trust allows, one level deeper, stopped with the calling node, and outside the run queue.

use crate::runs::Called;
use crate::trust::RunSource;
use crate::types::{Empty, IdRequest};
use crate::{Api, ApiError, ApiResult, Inner};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};
use switchyard_engine::access::{AccessKind, is_workflow_id};
use switchyard_engine::node::BoxFuture;
use switchyard_engine::subflow::{Callable, Caller, ChildCall, ChildOutcome, SubWorkflows, Target, read_workflow_file};
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError, ValidationIssue};
use switchyard_model::execution::{CallLink, RunMode, RunStatus};
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
            // A saved workflow runs as its own trust allows (an imported one not trusted yet
            // is refused); a file the caller was allowed to call runs as the caller's own.
            let source = match target {
                Target::Saved(_) => RunSource::Saved,
                Target::File(path) => RunSource::File { path: path.clone(), trusted: true },
            };
            let services = api
                .trusted_services(call.callable.workflow(), &source, base)
                .await
                .map_err(|e| call_error(target, e))?;
            // Waited for, the child stops with the calling node; not waited for, it runs on.
            let cancel = if call.wait { call.cancel.child_token() } else { CancellationToken::new() };
            let by = CallLink { execution_id: call.caller.execution_id.clone(), node_id: call.caller.node_id.clone() };
            let (execution_id, handle) = api.launch_run(
                call.callable.prepared.clone(),
                services,
                call.input,
                RunMode::Called,
                Some(call.callable.start.clone()),
                None,
                Some(Called { by, cancel: cancel.clone() }),
            );
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
        let saved = self.blocking(|store| Ok(store.workflows().records(false)?)).await?;
        let mut by_id: HashMap<String, Workflow> =
            saved.into_iter().map(|r| (r.workflow.id.clone(), r.workflow)).collect();
        by_id.insert(workflow.id.clone(), workflow.clone());
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
        let registry = self.inner.engine.registry();
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
