//! Where AI agents keep their conversations between runs: the store's `agent_memory`, behind
//! the engine's [`Memory`].

use crate::{Api, Inner};
use std::sync::{Arc, Weak};
use switchyard_engine::llm::{Memory, MemoryKey, Role};
use switchyard_engine::node::BoxFuture;
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError};

pub(crate) fn memory(api: &Api) -> Arc<dyn Memory> {
    Arc::new(Conversations(Arc::downgrade(&api.inner)))
}

struct Conversations(Weak<Inner>);

impl Conversations {
    fn api(&self) -> Result<Api, NodeError> {
        self.0
            .upgrade()
            .map(|inner| Api { inner })
            .ok_or_else(|| NodeError::new(ErrorCode::Internal, "the app is shutting down: no conversation can be read"))
    }
}

fn failed(key: &MemoryKey, e: crate::ApiError) -> NodeError {
    NodeError::new(ErrorCode::Io, format!("conversation \"{}\": {}", key.session, e.message))
        .with_class(ErrorClass::Transient)
}

impl Memory for Conversations {
    fn recall<'a>(
        &'a self,
        key: &'a MemoryKey,
        window: usize,
    ) -> BoxFuture<'a, Result<Vec<(Role, String)>, NodeError>> {
        Box::pin(async move {
            let api = self.api()?;
            let k = key.clone();
            let window = u32::try_from(window).unwrap_or(u32::MAX);
            let rows = api
                .blocking(move |store| {
                    Ok(store.conversations().recall(&k.workflow_id, &k.node_id, &k.session, window)?)
                })
                .await
                .map_err(|e| failed(key, e))?;
            Ok(rows.into_iter().filter_map(|(role, content)| Some((Role::parse(&role)?, content))).collect())
        })
    }

    fn remember<'a>(
        &'a self,
        key: &'a MemoryKey,
        messages: Vec<(Role, String)>,
    ) -> BoxFuture<'a, Result<(), NodeError>> {
        Box::pin(async move {
            let api = self.api()?;
            let k = key.clone();
            let at = api.now();
            let rows: Vec<(String, String)> = messages.into_iter().map(|(r, c)| (r.as_str().to_string(), c)).collect();
            api.blocking(move |store| {
                Ok(store.conversations().remember(&k.workflow_id, &k.node_id, &k.session, &rows, &at)?)
            })
            .await
            .map_err(|e| failed(key, e))
        })
    }
}
