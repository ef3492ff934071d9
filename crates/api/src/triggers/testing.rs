//! The editor's test listening (a workflow's webhooks served on /webhook-test/ for a
//! while) and sample requests sent to a webhook from the Webhooks page.

use super::TEST_SECONDS;
use super::webhooks::webhook_nodes;
use crate::Api;
use crate::error::{ApiError, ApiResult};
use crate::types::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use switchyard_engine::{CredentialProvider, Prepared};
use switchyard_model::error::ErrorCode;
use switchyard_model::ids::new_id;
use switchyard_model::workflow::Node;
use switchyard_model::workflow::Workflow;
use ts_rs::TS;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestListenRequest {
    /// The workflow as the editor holds it (saved or not).
    pub workflow: Workflow,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestListenResponse {
    /// The test URL of each Webhook trigger.
    pub urls: Vec<String>,
    pub expires_at: String,
    pub seconds: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SampleSendRequest {
    pub workflow_id: String,
    pub node_id: String,
    /// The body to send (the page's editable sample).
    pub body: String,
    #[serde(default)]
    #[ts(optional)]
    pub content_type: Option<String>,
    /// Send to the test URL (the editor listening) instead of the production one.
    #[serde(default)]
    pub test: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SampleSendResponse {
    pub url: String,
    pub status: u16,
    pub body: String,
    pub latency_ms: u32,
    /// Headers added to sign the sample (names only).
    pub signed_with: Vec<String>,
}

#[derive(Clone)]
pub(super) struct TestHook {
    pub(super) prepared: Arc<Prepared>,
    pub(super) node: Node,
}

impl Api {
    pub(super) async fn rebuild_test_endpoints(&self) {
        let hooks: Vec<TestHook> = self
            .inner
            .triggers
            .tests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .flat_map(|(_, hooks)| hooks.clone())
            .collect();
        let services = self.run_services(&self.stored_settings());
        let mut endpoints = Vec::new();
        for hook in hooks {
            match self.endpoint(&hook.prepared, &hook.node, &services, true).await {
                Ok(e) => endpoints.push(e),
                Err(e) => tracing::warn!("test listener for node \"{}\": {e}", hook.node.name),
            }
        }
        if let Some(listener) = self.inner.triggers.listener.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            listener.set_test_endpoints(endpoints);
        }
    }

    pub async fn webhook_listen_test(&self, request: TestListenRequest) -> ApiResult<TestListenResponse> {
        let wf = request.workflow;
        let status = self.listener_status();
        if !status.running {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                format!(
                    "the webhook listener is not running{}",
                    status.error.map(|e| format!(": {e}")).unwrap_or_default()
                ),
            ));
        }
        let prepared = self.inner.engine.prepare(wf.clone()).map_err(|issues| ApiError::invalid(issues, ""))?;
        let mut nodes = Vec::new();
        for (node, config) in webhook_nodes(&self.inner.engine, &wf) {
            let config = config.map_err(|e| ApiError::bad_request(format!("node \"{}\": {e}", node.name)))?;
            nodes.push((node.clone(), config.path));
        }
        if nodes.is_empty() {
            return Err(ApiError::bad_request("the workflow has no Webhook trigger to listen with"));
        }
        let services = self.run_services(&self.stored_settings());
        let services = self.trusted_services(&wf, &crate::RunSource::Saved, services).await?;
        for (node, _) in &nodes {
            self.endpoint(&prepared, node, &services, true)
                .await
                .map_err(|e| ApiError::bad_request(format!("node \"{}\": {e}", node.name)))?;
        }
        let urls = nodes.iter().map(|(_, path)| Api::endpoint_url(&status.base_url, &wf.id, path, true)).collect();
        let generation = self.inner.triggers.test_generation.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let hooks = nodes.into_iter().map(|(node, _)| TestHook { prepared: prepared.clone(), node }).collect();
        self.inner.triggers.tests.lock().unwrap_or_else(|p| p.into_inner()).insert(wf.id.clone(), (generation, hooks));
        self.rebuild_test_endpoints().await;
        let api = self.clone();
        let id = wf.id.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(u64::from(TEST_SECONDS))).await;
            api.end_test(&id, Some(generation)).await;
        });
        let expires = self.inner.engine.services().clock.now() + chrono::Duration::seconds(i64::from(TEST_SECONDS));
        Ok(TestListenResponse { urls, expires_at: switchyard_engine::clock::rfc3339(expires), seconds: TEST_SECONDS })
    }

    /// Stops test listening for a workflow (only the listening of `generation`, if given).
    pub(super) async fn end_test(&self, workflow_id: &str, generation: Option<u64>) {
        let removed = {
            let mut tests = self.inner.triggers.tests.lock().unwrap_or_else(|p| p.into_inner());
            match tests.get(workflow_id) {
                Some((g, _)) if generation.is_none_or(|want| *g == want) => tests.remove(workflow_id).is_some(),
                _ => false,
            }
        };
        if removed {
            self.rebuild_test_endpoints().await;
        }
    }

    pub async fn webhook_stop_test(&self, request: IdRequest) -> ApiResult<Empty> {
        self.end_test(&request.id, None).await;
        Ok(Empty {})
    }

    pub async fn webhook_send_sample(&self, request: SampleSendRequest) -> ApiResult<SampleSendResponse> {
        let id = request.workflow_id.clone();
        let record = self.blocking(move |store| Ok(store.workflows().get(&id)?)).await?;
        let (node, config) = webhook_nodes(&self.inner.engine, &record.workflow)
            .find(|(n, _)| n.id == request.node_id)
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::NotFound,
                    format!("workflow \"{}\" has no Webhook node \"{}\"", record.workflow.name, request.node_id),
                )
            })?;
        let config = config.map_err(|e| ApiError::bad_request(format!("node \"{}\": {e}", node.name)))?;
        let status = self.listener_status();
        let url = Api::endpoint_url(&status.base_url, &record.workflow.id, &config.path, request.test);
        let method = config.methods.first().cloned().unwrap_or_else(|| "POST".into());
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::POST);
        let content_type = request.content_type.clone().unwrap_or_else(|| "application/json".into());
        let body = request.body.into_bytes();
        let mut builder = self
            .inner
            .engine
            .services()
            .http
            .request(method, &url)
            .timeout(Duration::from_secs(60))
            .header("content-type", content_type);
        let mut signed_with = Vec::new();
        if let Some(signature) = config.signature {
            let secret =
                self.inner.vault.secret(&signature.secret).await.map_err(|e| ApiError::new(e.code, e.message))?;
            let now = self.inner.engine.services().clock.now().timestamp();
            let mut headers = signature.preset.sign(&body, secret.value.as_bytes(), now);
            if let Some(h) = signature.id_header {
                headers.push((h.to_string(), new_id()));
            }
            for (name, value) in headers {
                signed_with.push(name.clone());
                builder = builder.header(name, value);
            }
        }
        let started = std::time::Instant::now();
        let response = builder.body(body).send().await.map_err(|e| {
            ApiError::new(ErrorCode::HttpRequestFailed, format!("sending the sample to {url} failed: {e}"))
        })?;
        let code = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        Ok(SampleSendResponse {
            url,
            status: code,
            body: text,
            latency_ms: u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX),
            signed_with,
        })
    }
}
