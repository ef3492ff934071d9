//! Connection-holding triggers (a database's LISTEN, a mailbox's IDLE) of active workflows:
//! each is a task running its node's `serve` while the workflow is active. A reload keeps a
//! task whose workflow did not change (so a save elsewhere does not drop its connection) and
//! restarts the others. What a trigger reports about its connection shows with the other
//! trigger problems.

use crate::{Api, Inner};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, Weak};
use switchyard_engine::trigger::{Listening, Started, TriggerState};
use switchyard_engine::{Prepared, Services};
use switchyard_model::execution::RunMode;
use switchyard_model::workflow::Node;

/// The tasks serving connection-holding triggers, by `workflow/node`.
#[derive(Default)]
pub(crate) struct Listens {
    tasks: Mutex<HashMap<String, Served>>,
    /// What each trigger last said about its connection (a problem while it is down).
    problems: Arc<Mutex<HashMap<String, String>>>,
}

struct Served {
    /// The workflow as it was served (a change restarts the task).
    fingerprint: u64,
    task: tokio::task::JoinHandle<()>,
}

/// One trigger to serve.
pub(super) struct Wanted {
    pub(super) prepared: Arc<Prepared>,
    pub(super) node: Node,
    pub(super) services: Services,
    pub(super) serve: fn(Listening) -> futures::future::BoxFuture<'static, ()>,
}

impl Listens {
    /// Serves exactly `wanted`: keeps unchanged tasks, starts new ones, stops the rest.
    pub(super) fn set(&self, inner: &Weak<Inner>, wanted: Vec<Wanted>) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        let mut keep = HashMap::new();
        for want in wanted {
            let workflow = &want.prepared.workflow;
            let key = format!("{}/{}", workflow.id, want.node.id);
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            serde_json::to_string(workflow.as_ref()).unwrap_or_default().hash(&mut hasher);
            let fingerprint = hasher.finish();
            if let Some(served) = tasks.remove(&key)
                && served.fingerprint == fingerprint
                && !served.task.is_finished()
            {
                keep.insert(key, served);
                continue;
            }
            let listening = self.listening(inner, &key, want.prepared.clone(), &want.node, &want.services);
            let task = tokio::spawn((want.serve)(listening));
            keep.insert(key, Served { fingerprint, task });
        }
        // What is left is no longer wanted.
        let mut problems = self.problems.lock().unwrap_or_else(|p| p.into_inner());
        for (key, served) in tasks.drain() {
            served.task.abort();
            problems.remove(&key);
        }
        *tasks = keep;
    }

    /// Stops every task.
    pub(super) fn stop(&self) {
        for (_, served) in self.tasks.lock().unwrap_or_else(|p| p.into_inner()).drain() {
            served.task.abort();
        }
        self.problems.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    pub(super) fn problems(&self) -> Vec<String> {
        let mut problems: Vec<String> =
            self.problems.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect();
        problems.sort();
        problems
    }

    fn listening(
        &self,
        inner: &Weak<Inner>,
        key: &str,
        prepared: Arc<Prepared>,
        node: &Node,
        services: &Services,
    ) -> Listening {
        let workflow_id = prepared.workflow.id.clone();
        let label = format!("workflow \"{}\", node \"{}\"", prepared.workflow.name, node.name);
        let fire = {
            let (inner, prepared, services, node_id) =
                (inner.clone(), prepared.clone(), services.clone(), node.id.clone());
            Arc::new(move |items: Vec<switchyard_model::item::Item>| {
                let api = Api::upgrade(&inner).ok_or_else(|| "the app is stopping".to_string())?;
                if let Some(full) = api.inner.queue.queue_full() {
                    return Err(full);
                }
                let (execution_id, run) =
                    api.launch(prepared.clone(), services.clone(), items, RunMode::Event, Some(node_id.clone()), None);
                let finished = Box::pin(async move { run.await.ok().map(|outcome| outcome.status) });
                Ok(Started { execution_id, finished })
            })
        };
        let status = {
            let (problems, key) = (self.problems.clone(), key.to_string());
            Arc::new(move |problem: Option<String>| {
                let mut problems = problems.lock().unwrap_or_else(|p| p.into_inner());
                match problem {
                    Some(p) => {
                        tracing::warn!("{label}: {p}");
                        problems.insert(key.clone(), format!("{label}: {p}"));
                    }
                    None => {
                        problems.remove(&key);
                    }
                }
            })
        };
        Listening {
            node: node.clone(),
            workflow_id: workflow_id.clone(),
            credentials: services.credentials.clone(),
            fire,
            state: Arc::new(StoredState { inner: inner.clone(), workflow_id, node_id: node.id.clone() }),
            status,
            clock: services.clock.clone(),
            blobs: services.blobs.clone(),
        }
    }
}

/// A trigger's values in the store.
struct StoredState {
    inner: Weak<Inner>,
    workflow_id: String,
    node_id: String,
}

impl TriggerState for StoredState {
    fn get(&self, key: &str) -> Option<String> {
        let api = Api::upgrade(&self.inner)?;
        api.inner.store.triggers().value(&self.workflow_id, &self.node_id, key).unwrap_or_else(|e| {
            tracing::error!("cannot read the trigger state {}/{}: {e}", self.workflow_id, self.node_id);
            None
        })
    }

    fn set(&self, key: &str, value: &str) -> Result<(), String> {
        let api = Api::upgrade(&self.inner).ok_or_else(|| "the app is stopping".to_string())?;
        api.inner.store.triggers().set_value(&self.workflow_id, &self.node_id, key, value).map_err(|e| e.to_string())
    }
}
