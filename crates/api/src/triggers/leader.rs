//! Several `serve` processes on one PostgreSQL store (docs/server.md, "Several mains"). Every
//! one serves the webhooks and the REST API; one at a time — the holder of the store's
//! `scheduler` lease — fires the schedules and runs the triggers that poll or listen
//! (mailboxes, database notifications), so each of those fires once. Each process checks the
//! lease every [`POLL`]: when the holder dies its session ends and the next check elsewhere
//! takes it over, with the stored next-fire times (the missed-fire policy decides about a tick
//! that passed meanwhile). The same check notices workflows activated, paused or saved by
//! another process and reloads. On SQLite (one machine) every process fires, as before.

use crate::{Api, Inner};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use switchyard_store::Dialect;

/// How often a process checks the lease and the active workflows.
pub(crate) const POLL: Duration = Duration::from_secs(1);

/// This process's part among several sharing the store.
#[derive(Default)]
pub(crate) struct Coordination {
    /// Whether this process fires the schedules and runs the polling triggers.
    leader: AtomicBool,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Coordination {
    pub(crate) fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Acquire)
    }

    /// Stops checking and gives the lease up (the task holds it).
    pub(crate) fn stop(&self) {
        if let Some(task) = self.task.lock().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
        self.leader.store(false, Ordering::Release);
    }
}

impl Api {
    /// Decides whether this process fires the schedules (at once: a lone process does) and,
    /// on PostgreSQL, keeps checking in the background.
    pub(crate) async fn start_coordination(&self) {
        let coordination = &self.inner.triggers.coordination;
        coordination.stop();
        if self.inner.store.dialect() == Dialect::Sqlite {
            coordination.leader.store(true, Ordering::Release);
            return;
        }
        let mut lease = self.inner.store.lease("scheduler");
        let (held, lease) = tokio::task::spawn_blocking(move || (lease.check(), lease))
            .await
            .unwrap_or_else(|_| (false, self.inner.store.lease("scheduler")));
        coordination.leader.store(held, Ordering::Release);
        if held {
            tracing::info!("this process fires the schedules (it holds the store's scheduler lease)");
        } else {
            tracing::info!("another process fires the schedules; this one stands by");
        }
        let seen = self.blocking(|store| Ok(store.workflows().active_fingerprint()?)).await.ok();
        let task = tokio::spawn(watch(Arc::downgrade(&self.inner), lease, seen));
        *coordination.task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
    }
}

async fn watch(inner: Weak<Inner>, mut lease: switchyard_store::Lease, mut seen: Option<String>) {
    loop {
        tokio::time::sleep(POLL).await;
        let Some(api) = Api::upgrade(&inner) else { return };
        let Ok((held, back)) = tokio::task::spawn_blocking(move || (lease.check(), lease)).await else { return };
        lease = back;
        let was = api.inner.triggers.coordination.leader.swap(held, Ordering::AcqRel);
        if was != held {
            if held {
                tracing::warn!("this process now fires the schedules: the one that did is gone");
            } else {
                tracing::warn!("this process no longer holds the scheduler lease: its schedules stop");
            }
        }
        let now = api.blocking(|store| Ok(store.workflows().active_fingerprint()?)).await.ok();
        let changed = now.is_some() && now != seen;
        if changed {
            seen = now;
        }
        if was != held || changed {
            api.reload_triggers().await;
        }
    }
}
