//! The scheduler: fires Schedule triggers at their rule's times. Next-fire times are kept by
//! the host (the database), so they survive restarts; fires missed while nothing ran follow
//! each trigger's policy. Waiting goes through tokio's timer and "now" through the host's
//! clock, so tests drive it on tokio's paused clock.

use crate::schedule::{Missed, Rule, catch_up};
use chrono::{DateTime, Utc};
use std::any::Any;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// One Schedule trigger.
pub struct Schedule {
    pub workflow_id: String,
    pub node_id: String,
    pub rule: Rule,
    pub missed: Missed,
    /// Whatever the host needs to start the run.
    pub attachment: Arc<dyn Any + Send + Sync>,
}

impl std::fmt::Debug for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schedule")
            .field("workflow_id", &self.workflow_id)
            .field("node_id", &self.node_id)
            .field("rule", &self.rule.describe())
            .finish()
    }
}

/// What the stored state says about a trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// The rule as described when the time was stored: a changed rule starts afresh.
    pub rule: String,
    pub next_fire: Option<DateTime<Utc>>,
}

/// The host: its clock, the stored next-fire times, and what a fire starts.
pub trait Fire: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
    fn load(&self, workflow_id: &str, node_id: &str) -> Option<Stored>;
    /// Keeps the next fire time (and the last one, when it just fired). Called before the
    /// fire it records is started, so a crash in between loses no schedule.
    fn store(
        &self,
        workflow_id: &str,
        node_id: &str,
        rule: &str,
        next: Option<DateTime<Utc>>,
        fired: Option<DateTime<Utc>>,
    );
    /// Starts a run. `scheduled_for` is the time the rule named; `missed` says it is the
    /// catch-up fire for times that passed while the app was closed.
    fn fire(&self, schedule: Arc<Schedule>, scheduled_for: DateTime<Utc>, missed: bool);
}

/// A running scheduler.
pub struct Scheduler {
    commands: mpsc::UnboundedSender<Vec<Schedule>>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scheduler")
    }
}

impl Scheduler {
    pub fn start(host: Arc<dyn Fire>) -> Scheduler {
        let (commands, rx) = mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(host, rx, stop.clone()));
        Scheduler { commands, stop, task }
    }

    /// Replaces the schedules (the active workflows' Schedule triggers).
    pub fn set(&self, schedules: Vec<Schedule>) {
        let _ = self.commands.send(schedules);
    }

    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

struct Entry {
    schedule: Arc<Schedule>,
    rule: String,
    next: Option<DateTime<Utc>>,
}

fn arm(host: &dyn Fire, schedule: Schedule) -> Entry {
    let now = host.now();
    let rule = schedule.rule.describe();
    let schedule = Arc::new(schedule);
    let stored = host.load(&schedule.workflow_id, &schedule.node_id).filter(|s| s.rule == rule);
    let next = match stored.and_then(|s| s.next_fire) {
        Some(next) => {
            let (fire_now, next_after) = catch_up(&schedule.rule, schedule.missed, next, now);
            if fire_now {
                host.store(&schedule.workflow_id, &schedule.node_id, &rule, next_after, Some(now));
                host.fire(schedule.clone(), next, true);
            } else if next_after != Some(next) {
                host.store(&schedule.workflow_id, &schedule.node_id, &rule, next_after, None);
            }
            next_after
        }
        None => {
            let next = schedule.rule.next_after(now);
            host.store(&schedule.workflow_id, &schedule.node_id, &rule, next, None);
            next
        }
    };
    Entry { schedule, rule, next }
}

async fn run(host: Arc<dyn Fire>, mut commands: mpsc::UnboundedReceiver<Vec<Schedule>>, stop: CancellationToken) {
    let mut entries: Vec<Entry> = Vec::new();
    loop {
        let now = host.now();
        for entry in &mut entries {
            let Some(next) = entry.next else { continue };
            if next > now {
                continue;
            }
            let s = &entry.schedule;
            let following = s.rule.next_after(if next > now { next } else { now });
            host.store(&s.workflow_id, &s.node_id, &entry.rule, following, Some(next));
            host.fire(s.clone(), next, false);
            entry.next = following;
        }
        let wait =
            entries.iter().filter_map(|e| e.next).min().map(|next| (next - host.now()).to_std().unwrap_or_default());
        let sleep = async {
            match wait {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = stop.cancelled() => return,
            () = sleep => {}
            command = commands.recv() => match command {
                Some(schedules) => {
                    entries = schedules.into_iter().map(|s| arm(host.as_ref(), s)).collect();
                }
                None => return,
            },
        }
    }
}
