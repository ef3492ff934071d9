//! Webhook endpoints: what the listener serves for each webhook node (from its registry
//! entry), the delivery log, and a delivery becoming a run and its answer.

use super::{QUEUE_RETRY_AFTER_SECONDS, REFUSED_LOGGED_PER_SECOND};
use crate::error::ApiResult;
use crate::runs::LaunchOptions;
use crate::types::*;
use crate::{Api, Inner};
use futures::future::BoxFuture;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::{Arc, Weak};
use switchyard_engine::trigger::{Response, Trigger, WebhookConfig, WebhookRequest};
use switchyard_engine::{CredentialProvider, Prepared, ReplySlot, Services};
use switchyard_model::execution::{RunMode, RunStatus};
use switchyard_model::ids::new_id;
use switchyard_model::webhook::{Delivery, Verification, WebhookEndpoint, WebhookReply};
use switchyard_model::workflow::Node;
use switchyard_triggers::listener::{Answer, DeliveryRecord, Endpoint, Incoming, SignatureCheck, Target};
use ts_rs::TS;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookListResponse {
    pub endpoints: Vec<switchyard_model::webhook::WebhookEndpoint>,
    pub listener: ListenerStatus,
    /// Active workflows whose triggers could not be served, with why.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryListRequest {
    #[serde(default)]
    #[ts(optional)]
    pub workflow_id: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryListResponse {
    pub deliveries: Vec<switchyard_model::webhook::Delivery>,
}

/// What an endpoint needs to start its run.
pub(super) struct Hook {
    pub(super) prepared: Arc<Prepared>,
    pub(super) node_id: String,
    pub(super) response: Response,
    /// The webhook node's type: it makes the run's item from the request.
    pub(super) item: fn(WebhookRequest) -> switchyard_model::item::Item,
    pub(super) services: Services,
    pub(super) test: bool,
}

/// The webhook nodes of a workflow, each with how its type says to serve it.
pub(super) fn webhook_nodes<'a>(
    engine: &'a switchyard_engine::Engine,
    workflow: &'a switchyard_model::workflow::Workflow,
) -> impl Iterator<Item = (&'a Node, Result<WebhookConfig, String>)> + 'a {
    workflow.nodes.iter().filter_map(|node| match engine.registry().trigger_of(node) {
        Some(Trigger::Webhook { config, .. }) => Some((node, config(node))),
        _ => None,
    })
}

/// The listener's host: starts runs for deliveries and logs them.
pub(super) struct WebhookHost(pub(super) Weak<Inner>);

impl Target for WebhookHost {
    fn deliver(&self, endpoint: Arc<Endpoint>, request: Incoming) -> BoxFuture<'static, Answer> {
        let api = Api::upgrade(&self.0);
        Box::pin(async move {
            let Some(api) = api else {
                return Answer::json(503, &json!({ "error": { "message": "the app is shutting down" } }));
            };
            let Some(hook) = endpoint.attachment.downcast_ref::<Hook>() else {
                return Answer::json(500, &json!({ "error": { "message": "endpoint without a workflow" } }));
            };
            api.deliver(hook, request).await
        })
    }

    fn record(&self, d: DeliveryRecord) {
        let Some(api) = Api::upgrade(&self.0) else { return };
        api.record(switchyard_metrics::recorder::Sample::Delivery {
            status: d.status,
            at_ms: api.inner.engine.services().clock.now().timestamp_millis(),
        });
        if d.execution_id.is_none() && !api.log_refused(&d.workflow_id, &d.node_id) {
            return;
        }
        api.inner.store.log().delivery(Delivery {
            id: new_id(),
            workflow_id: d.workflow_id,
            node_id: d.node_id,
            received_at: api.now(),
            method: d.method,
            path: d.path,
            status: d.status,
            verification: Verification::parse(d.verification),
            latency_ms: d.latency_ms,
            execution_id: d.execution_id,
            error: d.error,
            body: d.body,
            test: d.test,
        });
    }

    fn now_ms(&self) -> i64 {
        Api::upgrade(&self.0).map(|api| api.now_ms()).unwrap_or_default()
    }

    fn metrics(&self) -> Option<String> {
        let api = Api::upgrade(&self.0)?;
        if !api.stored_settings().metrics_endpoint {
            return None;
        }
        Some(api.prometheus_text())
    }

    fn first_delivery(&self, keys: &[String], now_ms: i64, expires_ms: i64) -> bool {
        let Some(api) = Api::upgrade(&self.0) else { return false };
        if !api.inner.triggers.replay.first_time(keys, now_ms, expires_ms) {
            return false;
        }
        api.inner.store.log().replay_seen(keys, expires_ms);
        true
    }

    fn forget_delivery(&self, keys: &[String]) {
        if let Some(api) = Api::upgrade(&self.0) {
            api.forget_delivery(keys);
        }
    }

    fn metrics_token(&self) -> Option<String> {
        let settings = Api::upgrade(&self.0)?.stored_settings();
        settings.metrics_endpoint.then_some(settings.metrics_token)
    }
}

/// How long a delivery waits for its run's start to be on disk before it is answered 503
/// (a full or failing disk: the writer keeps trying, the sender should send again).
const DURABLE_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Why a run that did not succeed ended: its error, else its status.
pub(super) fn failure_message(outcome: switchyard_engine::RunOutcome) -> String {
    outcome.error.map(|e| e.message).unwrap_or_else(|| format!("the run ended {}", outcome.status.as_str()))
}

pub(super) fn error_answer(status: u16, message: &str, execution_id: &str) -> Answer {
    let mut answer = Answer::json(status, &json!({ "error": { "message": message }, "executionId": execution_id }));
    answer.execution_id = Some(execution_id.to_string());
    answer.error = Some(message.to_string());
    answer
}

pub(super) fn reply_answer(reply: WebhookReply, execution_id: String) -> Answer {
    let has_type = reply.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    let mut headers = reply.headers;
    let body = match reply.body {
        serde_json::Value::Null => bytes::Bytes::new(),
        serde_json::Value::String(text) => {
            if !has_type {
                headers.push(("content-type".into(), "text/plain; charset=utf-8".into()));
            }
            bytes::Bytes::from(text)
        }
        other => {
            if !has_type {
                headers.push(("content-type".into(), "application/json".into()));
            }
            bytes::Bytes::from(other.to_string())
        }
    };
    Answer { status: reply.status, headers, body, execution_id: Some(execution_id), error: None }
}

impl Api {
    /// Reads the unexpired replay keys back from the store, once.
    pub(super) async fn load_replay_keys(&self) {
        if self.inner.triggers.replay_loaded.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let now_ms = self.inner.engine.services().clock.now().timestamp_millis();
        match self.blocking(move |store| Ok(store.triggers().replay_keys(now_ms)?)).await {
            Ok(keys) => {
                for (key, expires) in keys {
                    self.inner.triggers.replay.remember(key, expires, now_ms);
                }
            }
            Err(e) => tracing::error!("cannot read the webhook replay keys: {}", e.message),
        }
    }

    /// Forgets a delivery's replay keys: its run failed or never started, so the sender's
    /// retry must run.
    pub(crate) fn forget_delivery(&self, keys: &[String]) {
        if keys.is_empty() {
            return;
        }
        self.inner.triggers.replay.forget(keys);
        self.inner.store.log().replay_forget(keys);
    }

    /// A Webhook node as a listener endpoint: its methods, its signature check with the
    /// secret from the vault, and what starting its run needs.
    pub(super) async fn endpoint(
        &self,
        prepared: &Arc<Prepared>,
        node: &Node,
        services: &Services,
        test: bool,
    ) -> Result<Endpoint, String> {
        let Some(Trigger::Webhook { config, item }) = self.inner.engine.registry().trigger_of(node) else {
            return Err("it is not a webhook trigger".into());
        };
        let config = config(node)?;
        let methods = config
            .methods
            .iter()
            .map(|m| m.parse().map_err(|_| format!("methods: \"{m}\" is not an HTTP method")))
            .collect::<Result<Vec<_>, _>>()?;
        let signature = match config.signature {
            None => None,
            Some(signature) => {
                let secret = self.inner.vault.secret(&signature.secret).await.map_err(|e| e.message)?;
                Some(SignatureCheck {
                    preset: signature.preset,
                    secret: secret.value.as_bytes().to_vec(),
                    id_header: signature.id_header.map(str::to_string),
                })
            }
        };
        Ok(Endpoint {
            workflow_id: prepared.workflow.id.clone(),
            node_id: node.id.clone(),
            path: config.path,
            methods,
            signature,
            keep_bodies: config.keep_bodies,
            allowed_origins: config.allowed_origins,
            attachment: Arc::new(Hook {
                prepared: prepared.clone(),
                node_id: node.id.clone(),
                response: config.response,
                item,
                services: services.clone(),
                test,
            }),
        })
    }

    pub(super) fn endpoint_url(base: &str, workflow_id: &str, path: &str, test: bool) -> String {
        let prefix = if test { "webhook-test" } else { "webhook" };
        let path = switchyard_model::webhook::normalize_path(path);
        if path.is_empty() {
            format!("{base}/{prefix}/{workflow_id}")
        } else {
            format!("{base}/{prefix}/{workflow_id}/{path}")
        }
    }

    pub async fn webhook_list(&self, _: Empty) -> ApiResult<WebhookListResponse> {
        let records = self.blocking(|store| Ok(store.workflows().records(false)?)).await?;
        let listener = self.listener_status();
        let mut endpoints = Vec::new();
        let mut problems = self.inner.trigger_problems();
        for record in records {
            for (node, config) in webhook_nodes(&self.inner.engine, &record.workflow) {
                let config = match config {
                    Ok(config) => config,
                    Err(e) => {
                        // Not servable as it is: listed as a problem, with no URL.
                        let problem = format!("workflow \"{}\", node \"{}\": {e}", record.workflow.name, node.name);
                        if !problems.contains(&problem) {
                            problems.push(problem);
                        }
                        continue;
                    }
                };
                endpoints.push(WebhookEndpoint {
                    workflow_id: record.workflow.id.clone(),
                    workflow_name: record.workflow.name.clone(),
                    node_id: node.id.clone(),
                    node_name: node.name.clone(),
                    url: Api::endpoint_url(&listener.base_url, &record.workflow.id, &config.path, false),
                    path: config.path,
                    methods: config.methods,
                    active: record.active,
                    response_mode: config.response.as_str().to_string(),
                    signature: config.signature.map_or("none", |s| s.preset.name()).to_string(),
                });
            }
        }
        Ok(WebhookListResponse { endpoints, listener, problems })
    }

    pub async fn webhook_deliveries(&self, request: DeliveryListRequest) -> ApiResult<DeliveryListResponse> {
        let limit = request.limit.unwrap_or(100).clamp(1, 100_000);
        self.flush_history().await?;
        let deliveries =
            self.blocking(move |store| Ok(store.triggers().deliveries(request.workflow_id.as_deref(), limit)?)).await?;
        Ok(DeliveryListResponse { deliveries })
    }

    pub(super) async fn deliver(&self, hook: &Hook, request: Incoming) -> Answer {
        let replay_keys = request.replay_keys;
        let item = (hook.item)(request.request);
        let mut services = hook.services.clone();
        let waits_for_reply = hook.response == Response::RespondNode;
        let receiver = if waits_for_reply {
            let (slot, rx) = ReplySlot::new();
            services.reply = Some(slot);
            Some(rx)
        } else {
            None
        };
        let mode = if hook.test { RunMode::Manual } else { RunMode::Webhook };
        // A full queue answers 503 at once rather than piling up waiting runs.
        if let Some(full) = self.inner.queue.queue_full() {
            self.forget_delivery(&replay_keys);
            let message = format!("{full}; try again later");
            let mut answer = Answer::json(503, &json!({ "error": { "code": "queue_full", "message": message } }));
            answer.headers.push(("retry-after".into(), QUEUE_RETRY_AFTER_SECONDS.to_string()));
            answer.error = Some(message);
            return answer;
        }
        // The run's start, with the request as its input, is on disk before any answer
        // leaves: a sender that got a 2xx does not send again, so it must not be lost. An
        // answer with the run's result waits for the run anyway: then its whole record is
        // committed before the answer (one row when the run is short).
        let (durable_tx, durable) = tokio::sync::oneshot::channel();
        let options = LaunchOptions {
            mode,
            start: Some(hook.node_id.clone()),
            durable: Some(durable_tx),
            durable_at_end: matches!(hook.response, Response::LastNode { .. }),
            ..LaunchOptions::default()
        };
        let (execution_id, handle) = self.launch_with(hook.prepared.clone(), services, vec![item], options);
        let durable = async move {
            match tokio::time::timeout(DURABLE_WAIT, durable).await {
                Ok(Ok(Ok(()))) => Ok(()),
                Ok(Ok(Err(e))) => Err(e),
                Ok(Err(_)) => Err("the history writer stopped".to_string()),
                Err(_) => Err(format!("not on disk after {} s", DURABLE_WAIT.as_secs())),
            }
        };
        let handle = self.forget_delivery_unless_success(handle, replay_keys);
        if hook.test {
            let workflow_id = hook.prepared.workflow.id.clone();
            self.inner.host.emit(ApiEvent::TestDelivery {
                workflow_id: workflow_id.clone(),
                node_id: hook.node_id.clone(),
                execution_id: execution_id.clone(),
            });
            let api = self.clone();
            tokio::spawn(async move { api.end_test(&workflow_id, None).await });
        }
        let answer = match hook.response {
            Response::LastNode { all_items } => match handle.await {
                Ok(outcome) if outcome.status == RunStatus::Success => {
                    let body = if all_items {
                        serde_json::Value::Array(
                            outcome.result.iter().map(|i| serde_json::Value::from(&i.json)).collect(),
                        )
                    } else {
                        outcome.result.first().map(|i| serde_json::Value::from(&i.json)).unwrap_or_else(|| json!({}))
                    };
                    let mut answer = Answer::json(200, &body);
                    answer.execution_id = Some(execution_id.clone());
                    answer
                }
                Ok(outcome) => {
                    let message = failure_message(outcome);
                    error_answer(500, &message, &execution_id)
                }
                Err(e) => error_answer(500, &format!("the run failed: {e}"), &execution_id),
            },
            Response::RespondNode => match receiver {
                None => error_answer(500, "no reply channel", &execution_id),
                Some(mut rx) => {
                    let mut handle = handle;
                    tokio::select! {
                        reply = &mut rx => match reply {
                            Ok(reply) => reply_answer(reply, execution_id.clone()),
                            Err(_) => error_answer(500, "the run ended without a Respond to Webhook node answering", &execution_id),
                        },
                        outcome = &mut handle => match (rx.try_recv(), outcome) {
                            // The run ended: a Respond node may have answered just before.
                            (Ok(reply), _) => reply_answer(reply, execution_id.clone()),
                            (_, Ok(o)) if o.status != RunStatus::Success => {
                                let message = failure_message(o);
                                error_answer(500, &message, &execution_id)
                            }
                            _ => error_answer(500, "the run finished without reaching a Respond to Webhook node", &execution_id),
                        }
                    }
                }
            },
            Response::Immediately => {
                let mut answer =
                    Answer::json(202, &json!({ "executionId": execution_id.clone(), "status": "started" }));
                answer.execution_id = Some(execution_id.clone());
                answer
            }
        };
        match durable.await {
            Ok(()) => answer,
            Err(e) => {
                tracing::error!(execution = %execution_id, "a webhook delivery could not be recorded: {e}");
                let mut answer = error_answer(
                    503,
                    &format!("the delivery could not be recorded ({e}); send it again"),
                    &execution_id,
                );
                answer.headers.push(("retry-after".into(), QUEUE_RETRY_AFTER_SECONDS.to_string()));
                answer
            }
        }
    }

    /// Whether a refused request to this endpoint gets a row in the delivery log: the first
    /// [`REFUSED_LOGGED_PER_SECOND`] each second do, the rest are only counted.
    pub(super) fn log_refused(&self, workflow_id: &str, node_id: &str) -> bool {
        let second = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut refused = self.inner.triggers.refused.lock().unwrap_or_else(|p| p.into_inner());
        if refused.len() > 10_000 {
            refused.retain(|_, (at, _)| *at == second);
        }
        let entry = refused.entry((workflow_id.to_string(), node_id.to_string())).or_insert((second, 0));
        if entry.0 != second {
            *entry = (second, 0);
        }
        entry.1 += 1;
        entry.1 <= REFUSED_LOGGED_PER_SECOND
    }

    /// Passes a run's outcome on, forgetting the delivery's replay keys when the run did not
    /// succeed: a sender retrying a delivery whose run failed gets a new run.
    pub(super) fn forget_delivery_unless_success(
        &self,
        handle: tokio::task::JoinHandle<switchyard_engine::RunOutcome>,
        keys: Vec<String>,
    ) -> tokio::task::JoinHandle<switchyard_engine::RunOutcome> {
        if keys.is_empty() {
            return handle;
        }
        let api = self.clone();
        tokio::spawn(async move {
            match handle.await {
                Ok(outcome) => {
                    if outcome.status != RunStatus::Success {
                        api.forget_delivery(&keys);
                    }
                    outcome
                }
                Err(e) => {
                    api.forget_delivery(&keys);
                    std::panic::resume_unwind(e.try_into_panic().unwrap_or_else(|_| Box::new("the run was cancelled")))
                }
            }
        })
    }
}
