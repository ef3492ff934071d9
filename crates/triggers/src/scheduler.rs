//! The scheduler: fires Schedule triggers at their rule's times. Next-fire times are kept by
//! the host (the database), so they survive restarts; fires missed while nothing ran follow
//! each trigger's policy. Waiting goes through tokio's timer and "now" through the host's
//! clock, so tests drive it on tokio's paused clock.

use chrono::{DateTime, Utc};
use std::any::Any;
use std::sync::Arc;
use switchyard_core::schedule::{Missed, Rule, catch_up};
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
type Command = (Vec<Schedule>, tokio::sync::oneshot::Sender<()>);

pub struct Scheduler {
    commands: mpsc::UnboundedSender<Command>,
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

    /// Replaces the schedules (the active workflows' Schedule triggers). The returned
    /// receiver completes once they are armed (next-fire times stored, missed fires started).
    pub fn set(&self, schedules: Vec<Schedule>) -> tokio::sync::oneshot::Receiver<()> {
        let (armed, done) = tokio::sync::oneshot::channel();
        let _ = self.commands.send((schedules, armed));
        done
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

async fn run(host: Arc<dyn Fire>, mut commands: mpsc::UnboundedReceiver<Command>, stop: CancellationToken) {
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
                Some((schedules, armed)) => {
                    entries = schedules.into_iter().map(|s| arm(host.as_ref(), s)).collect();
                    let _ = armed.send(());
                }
                None => return,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;
    use switchyard_core::schedule::Rule;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    /// A host whose clock follows tokio's (paused) timer from a start time, with an
    /// in-memory store that outlives schedulers (a restart keeps it, like the database).
    struct Host {
        start: DateTime<Utc>,
        started: tokio::time::Instant,
        /// Extra time, for "the app was closed for a while".
        offset: Mutex<chrono::Duration>,
        stored: Mutex<HashMap<(String, String), Stored>>,
        fires: Mutex<Vec<(String, DateTime<Utc>, bool)>>,
    }

    impl Host {
        fn new(start: &str) -> Arc<Host> {
            Arc::new(Host {
                start: at(start),
                started: tokio::time::Instant::now(),
                offset: Mutex::new(chrono::Duration::zero()),
                stored: Mutex::new(HashMap::new()),
                fires: Mutex::new(Vec::new()),
            })
        }

        fn fires(&self) -> Vec<(String, DateTime<Utc>, bool)> {
            self.fires.lock().unwrap().clone()
        }
    }

    impl Fire for Host {
        fn now(&self) -> DateTime<Utc> {
            let elapsed = chrono::Duration::from_std(self.started.elapsed()).unwrap();
            self.start + elapsed + *self.offset.lock().unwrap()
        }
        fn load(&self, workflow_id: &str, node_id: &str) -> Option<Stored> {
            self.stored.lock().unwrap().get(&(workflow_id.into(), node_id.into())).cloned()
        }
        fn store(
            &self,
            workflow_id: &str,
            node_id: &str,
            rule: &str,
            next: Option<DateTime<Utc>>,
            _fired: Option<DateTime<Utc>>,
        ) {
            self.stored
                .lock()
                .unwrap()
                .insert((workflow_id.into(), node_id.into()), Stored { rule: rule.into(), next_fire: next });
        }
        fn fire(&self, schedule: Arc<Schedule>, scheduled_for: DateTime<Utc>, missed: bool) {
            self.fires.lock().unwrap().push((schedule.node_id.clone(), scheduled_for, missed));
        }
    }

    fn schedule(node: &str, rule: Rule, missed: Missed) -> Schedule {
        Schedule { workflow_id: "w".into(), node_id: node.into(), rule, missed, attachment: Arc::new(()) }
    }

    /// Lets the scheduler task run (it is woken by the timer or a command).
    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn fires_at_the_rule_times_on_the_paused_clock() {
        let host = Host::new("2026-11-30T08:59:30Z");
        let scheduler = Scheduler::start(host.clone());
        scheduler
            .set(vec![
                schedule("cron", Rule::cron("0 * * * * *", "UTC").unwrap(), Missed::Skip),
                schedule("every", Rule::every_seconds(45.0).unwrap(), Missed::Skip),
            ])
            .await
            .unwrap();
        settle().await;
        assert!(host.fires().is_empty());
        tokio::time::sleep(std::time::Duration::from_secs(150)).await;
        settle().await;
        let fires = host.fires();
        let names: Vec<(&str, String)> =
            fires.iter().map(|(n, t, _)| (n.as_str(), t.format("%H:%M:%S").to_string())).collect();
        assert_eq!(
            names,
            vec![
                ("cron", "09:00:00".into()),
                ("every", "09:00:15".into()),
                // Due at the same moment: in the order they were given.
                ("cron", "09:01:00".into()),
                ("every", "09:01:00".into()),
                ("every", "09:01:45".into()),
                ("cron", "09:02:00".into()),
            ]
        );
        assert_eq!(
            host.load("w", "cron").unwrap(),
            Stored { rule: "cron 0 * * * * * (UTC)".into(), next_fire: Some(at("2026-11-30T09:03:00Z")) }
        );
        scheduler.shutdown().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_restart_keeps_next_fire_times_and_follows_the_missed_policy() {
        let host = Host::new("2026-11-30T09:00:10Z");
        let every = || Rule::every_seconds(60.0).unwrap();
        let scheduler = Scheduler::start(host.clone());
        scheduler
            .set(vec![schedule("skip", every(), Missed::Skip), schedule("once", every(), Missed::RunOnce)])
            .await
            .unwrap();
        settle().await;
        scheduler.shutdown().await;
        let next = at("2026-11-30T09:01:10Z");
        assert_eq!(host.load("w", "once").unwrap().next_fire, Some(next));

        // A restart 20 s later (nothing missed) keeps the stored time rather than starting afresh.
        tokio::time::sleep(std::time::Duration::from_secs(20)).await;
        let scheduler = Scheduler::start(host.clone());
        scheduler
            .set(vec![schedule("skip", every(), Missed::Skip), schedule("once", every(), Missed::RunOnce)])
            .await
            .unwrap();
        settle().await;
        assert_eq!(host.load("w", "once").unwrap().next_fire, Some(next));
        assert!(host.fires().is_empty());
        scheduler.shutdown().await;

        // Closed for three hours: "skip" forgets the missed fires, "run once" fires one
        // catch-up run; both go on from now.
        *host.offset.lock().unwrap() = chrono::Duration::hours(3);
        let now = host.now();
        let scheduler = Scheduler::start(host.clone());
        scheduler
            .set(vec![schedule("skip", every(), Missed::Skip), schedule("once", every(), Missed::RunOnce)])
            .await
            .unwrap();
        settle().await;
        assert_eq!(host.fires(), vec![("once".to_string(), next, true)]);
        let following = now + chrono::Duration::seconds(60);
        assert_eq!(host.load("w", "skip").unwrap().next_fire, Some(following));
        assert_eq!(host.load("w", "once").unwrap().next_fire, Some(following));
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        settle().await;
        assert_eq!(host.fires().len(), 3, "both fire on time again: {:?}", host.fires());

        // A changed rule starts afresh instead of using the stored time.
        scheduler.set(vec![schedule("once", Rule::every_seconds(600.0).unwrap(), Missed::RunOnce)]).await.unwrap();
        settle().await;
        assert_eq!(host.load("w", "once").unwrap().rule, "every 600 s");
        assert_eq!(host.load("w", "once").unwrap().next_fire, Some(host.now() + chrono::Duration::seconds(600)));
        scheduler.shutdown().await;
    }
}
