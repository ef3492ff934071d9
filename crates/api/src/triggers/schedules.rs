//! Schedules: the schedule list, and the scheduler's host (stored fire times, and a fire
//! becoming a run).

use crate::error::ApiResult;
use crate::types::*;
use crate::{Api, Inner};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Weak};
use switchyard_engine::trigger::{ScheduleFire, Trigger};
use switchyard_engine::{Prepared, Services};
use switchyard_model::execution::RunMode;
use switchyard_model::webhook::ScheduleState;
use switchyard_triggers::scheduler::{Fire, Schedule, Stored};
use ts_rs::TS;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleListResponse {
    pub schedules: Vec<switchyard_model::webhook::ScheduleState>,
}

pub(super) struct Scheduled {
    /// The schedule node's type: it makes the run's item from the fire.
    pub(super) item: fn(ScheduleFire) -> switchyard_model::item::Item,
    pub(super) prepared: Arc<Prepared>,
    pub(super) node_id: String,
    pub(super) services: Services,
}

/// The scheduler's host: stored next-fire times and starting runs.
pub(super) struct SchedulerHost(pub(super) Weak<Inner>);

pub(super) fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

impl Fire for SchedulerHost {
    fn now(&self) -> DateTime<Utc> {
        Api::upgrade(&self.0).map(|api| api.inner.engine.services().clock.now()).unwrap_or_else(Utc::now)
    }

    fn load(&self, workflow_id: &str, node_id: &str) -> Option<Stored> {
        let api = Api::upgrade(&self.0)?;
        let row = api.inner.store.triggers().schedule(workflow_id, node_id).ok()??;
        Some(Stored { rule: row.rule, next_fire: row.next_fire.as_deref().and_then(parse_time) })
    }

    fn store(
        &self,
        workflow_id: &str,
        node_id: &str,
        rule: &str,
        next: Option<DateTime<Utc>>,
        fired: Option<DateTime<Utc>>,
    ) {
        let Some(api) = Api::upgrade(&self.0) else { return };
        let text = |t: Option<DateTime<Utc>>| t.map(switchyard_engine::clock::rfc3339);
        if let Err(e) = api.inner.store.triggers().set_schedule(
            workflow_id,
            node_id,
            rule,
            text(next).as_deref(),
            text(fired).as_deref(),
            &api.now(),
        ) {
            tracing::error!("cannot store the next fire time of {workflow_id}/{node_id}: {e}");
        }
    }

    fn fire(&self, schedule: Arc<Schedule>, scheduled_for: DateTime<Utc>, missed: bool) {
        let Some(api) = Api::upgrade(&self.0) else { return };
        let Some(s) = schedule.attachment.downcast_ref::<Scheduled>() else { return };
        // A process that just lost the scheduler lease fires nothing more.
        if !api.inner.triggers.coordination.is_leader() {
            return;
        }
        let fired_at = api.inner.engine.services().clock.now();
        let item = (s.item)(ScheduleFire { scheduled_for, fired_at, missed });
        if let Some(full) = api.inner.queue.queue_full() {
            tracing::warn!(workflow = %s.prepared.workflow.name, "a schedule fire is skipped: {full}");
            return;
        }
        api.launch(
            s.prepared.clone(),
            s.services.clone(),
            vec![item],
            RunMode::Schedule,
            Some(s.node_id.clone()),
            None,
        );
    }
}

impl Api {
    pub async fn schedule_list(&self, _: Empty) -> ApiResult<ScheduleListResponse> {
        let engine = self.inner.engine.clone();
        let schedules = self
            .blocking(move |store| {
                let registry = engine.registry();
                let mut out = Vec::new();
                for record in store.workflows().records(false)? {
                    let schedules = record.workflow.nodes.iter().filter_map(|node| match registry.trigger_of(node) {
                        Some(Trigger::Schedule { config, .. }) => Some((node, config(node))),
                        _ => None,
                    });
                    for (node, config) in schedules {
                        let row = store.triggers().schedule(&record.workflow.id, &node.id)?;
                        let rule = config.map(|c| c.rule.describe()).unwrap_or_else(|e| e.to_string());
                        out.push(ScheduleState {
                            workflow_id: record.workflow.id.clone(),
                            workflow_name: record.workflow.name.clone(),
                            node_id: node.id.clone(),
                            node_name: node.name.clone(),
                            rule,
                            next_fire: row.as_ref().and_then(|r| r.next_fire.clone()).filter(|_| record.active),
                            last_fire: row.and_then(|r| r.last_fire),
                            active: record.active,
                        });
                    }
                }
                Ok(out)
            })
            .await?;
        Ok(ScheduleListResponse { schedules })
    }
}
