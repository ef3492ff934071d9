//! Folder watches: the OS's file notifications (notify: inotify, FSEvents,
//! ReadDirectoryChangesW) turned into one event per file once it has settled — its size
//! and time unchanged for the watch's settle time, so a file still being copied is not
//! reported half-way. The host remembers what each watch saw, so a watch that starts again
//! can report what changed while nothing watched.

use notify::{RecursiveMode, Watcher as _};
use std::any::Any;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use switchyard_core::folder::{Change, FolderConfig, FolderEvent, name_matches};
use tokio::task::JoinHandle;

/// A file's size and modification time (milliseconds since 1970).
pub type Seen = (u64, i64);

/// One folder trigger to serve.
pub struct Watch {
    pub workflow_id: String,
    pub node_id: String,
    pub config: FolderConfig,
    /// Whatever the host needs to start the run.
    pub attachment: Arc<dyn Any + Send + Sync>,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch").field("workflow_id", &self.workflow_id).field("config", &self.config).finish()
    }
}

/// What the watcher needs from its host: what a watch saw last time, and runs.
pub trait WatchHost: Send + Sync {
    /// The files the watch knew of when it last ran; None when it never ran (then nothing
    /// counts as missed: the files already there are not news).
    fn known(&self, workflow_id: &str, node_id: &str) -> Option<HashMap<PathBuf, Seen>>;
    /// Replaces what the watch knows (at start).
    fn replace(&self, workflow_id: &str, node_id: &str, files: &HashMap<PathBuf, Seen>);
    /// One file changed (None: it is gone).
    fn remember(&self, workflow_id: &str, node_id: &str, path: &Path, seen: Option<Seen>);
    /// A settled change: start the run.
    fn fire(&self, watch: &Arc<Watch>, event: FolderEvent);
}

struct Running {
    task: JoinHandle<()>,
    /// Dropping it stops the OS's notifications.
    _watcher: notify::RecommendedWatcher,
}

/// Serves folder watches; [`Watcher::set`] replaces them all.
pub struct Watcher {
    host: Arc<dyn WatchHost>,
    running: Mutex<Vec<Running>>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Watcher")
    }
}

/// How often pending files are looked at again.
const TICK: Duration = Duration::from_millis(100);

fn seen(meta: &std::fs::Metadata) -> Seen {
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as i64);
    (meta.len(), modified)
}

fn time_of(seen: Seen) -> Option<SystemTime> {
    (seen.1 > 0).then(|| SystemTime::UNIX_EPOCH + Duration::from_millis(seen.1 as u64))
}

impl Watcher {
    pub fn new(host: Arc<dyn WatchHost>) -> Watcher {
        Watcher { host, running: Mutex::new(Vec::new()) }
    }

    /// Stops the current watches and starts these; returns a message per watch that could
    /// not start (its folder is missing, say).
    pub fn set(&self, watches: Vec<Watch>) -> Vec<String> {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        for old in running.drain(..) {
            old.task.abort();
        }
        let mut problems = Vec::new();
        for watch in watches {
            let folder = watch.config.folder.clone();
            match start(self.host.clone(), Arc::new(watch)) {
                Ok(r) => running.push(r),
                Err(e) => problems.push(format!("cannot watch {}: {e}", folder.display())),
            }
        }
        problems
    }

    pub fn stop(&self) {
        self.set(Vec::new());
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The matching files under the folder now.
fn scan(config: &FolderConfig) -> HashMap<PathBuf, Seen> {
    let mut found = HashMap::new();
    let mut folders = vec![config.folder.clone()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else { continue };
        for entry in entries.filter_map(Result::ok) {
            let Ok(kind) = entry.file_type() else { continue };
            let path = entry.path();
            if kind.is_dir() && config.recursive {
                folders.push(path);
            } else if kind.is_file()
                && matches(config, &path)
                && let Ok(meta) = entry.metadata()
            {
                found.insert(path, seen(&meta));
            }
        }
    }
    found
}

fn matches(config: &FolderConfig, path: &Path) -> bool {
    let inside = match path.parent() {
        Some(parent) if config.recursive => parent.starts_with(&config.folder),
        Some(parent) => parent == config.folder,
        None => false,
    };
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    inside && name_matches(&config.pattern, &name)
}

fn start(host: Arc<dyn WatchHost>, watch: Arc<Watch>) -> Result<Running, String> {
    let config = watch.config.clone();
    if !config.folder.is_dir() {
        return Err("it is not a folder (or does not exist)".into());
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<notify::Result<notify::Event>>();
    let mut watcher = notify::recommended_watcher(move |event| {
        let _ = tx.send(event);
    })
    .map_err(|e| e.to_string())?;
    let mode = if config.recursive { RecursiveMode::Recursive } else { RecursiveMode::NonRecursive };
    watcher.watch(&config.folder, mode).map_err(|e| e.to_string())?;

    let task = tokio::spawn(async move {
        let (wf, node) = (watch.workflow_id.clone(), watch.node_id.clone());
        // What is there now, and (catching up) what changed since the last watch.
        let scan_config = config.clone();
        let mut known = tokio::task::spawn_blocking(move || scan(&scan_config)).await.unwrap_or_default();
        let before = host.known(&wf, &node);
        // Files changing now: their last size and time, and when those last changed. A file
        // written within the settle time (being copied as the watch starts: at start-up, or
        // when a save reloads the triggers) waits to settle like any other; until then the
        // watch knows it as it was stored, so it is reported once, as added or changed.
        // (Those found at start are marked missed when they settle: they changed unwatched.)
        let mut pending: HashMap<PathBuf, (Seen, Instant, bool)> = HashMap::new();
        let cutoff = SystemTime::now().checked_sub(config.settle).unwrap_or(SystemTime::UNIX_EPOCH);
        // (A first watch knows every file there: none is news.)
        let recent: Vec<PathBuf> = known
            .iter()
            .filter(|(_, s)| before.is_some() && time_of(**s).is_none_or(|t| t > cutoff))
            .map(|(p, _)| p.clone())
            .collect();
        for path in recent {
            let Some(now) = known.remove(&path) else { continue };
            if let Some(then) = before.as_ref().and_then(|b| b.get(&path)) {
                known.insert(path.clone(), *then);
            }
            pending.insert(path, (now, Instant::now(), true));
        }
        if config.catch_up
            && let Some(before) = before
        {
            let mut paths: Vec<&PathBuf> = known.keys().chain(before.keys()).collect();
            paths.sort();
            paths.dedup();
            for path in paths {
                let event = match (before.get(path), known.get(path)) {
                    (None, Some(now)) if config.added => Some((Change::Added, *now)),
                    (Some(then), Some(now)) if then != now && config.changed => Some((Change::Changed, *now)),
                    (Some(then), None) if config.removed => Some((Change::Removed, *then)),
                    _ => None,
                };
                if let Some((change, s)) = event {
                    let event =
                        FolderEvent { change, path: path.clone(), size: s.0, modified: time_of(s), missed: true };
                    host.fire(&watch, event);
                }
            }
        }
        host.replace(&wf, &node, &known);
        let mut tick = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                event = rx.recv() => {
                    let Some(event) = event else { break };
                    let Ok(event) = event else { continue };
                    for path in event.paths {
                        if !matches(&config, &path) {
                            continue;
                        }
                        match std::fs::metadata(&path) {
                            Ok(meta) if meta.is_file() => {
                                let now = seen(&meta);
                                let entry = pending.entry(path).or_insert((now, Instant::now(), false));
                                if entry.0 != now {
                                    (entry.0, entry.1) = (now, Instant::now());
                                }
                            }
                            Ok(_) => {}
                            Err(_) => {
                                pending.remove(&path);
                                if let Some(then) = known.remove(&path) {
                                    host.remember(&wf, &node, &path, None);
                                    if config.removed {
                                        let event = FolderEvent { change: Change::Removed, path, size: then.0, modified: time_of(then), missed: false };
                                        host.fire(&watch, event);
                                    }
                                }
                            }
                        }
                    }
                }
                _ = tick.tick() => {
                    let due: Vec<PathBuf> = pending
                        .iter()
                        .filter(|(_, (_, since, _))| since.elapsed() >= config.settle)
                        .map(|(p, _)| p.clone())
                        .collect();
                    for path in due {
                        let Some((last, _, missed)) = pending.remove(&path) else { continue };
                        let Ok(meta) = std::fs::metadata(&path) else { continue };
                        let now = seen(&meta);
                        if now != last {
                            // Still changing: wait again.
                            pending.insert(path, (now, Instant::now(), missed));
                            continue;
                        }
                        let change = match known.get(&path) {
                            None => Change::Added,
                            Some(before) if *before != now => Change::Changed,
                            Some(_) => continue,
                        };
                        known.insert(path.clone(), now);
                        host.remember(&wf, &node, &path, Some(now));
                        let wanted = match change {
                            Change::Added => config.added,
                            Change::Changed => config.changed,
                            Change::Removed => config.removed,
                        };
                        if wanted {
                            host.fire(&watch, FolderEvent { change, path, size: now.0, modified: time_of(now), missed });
                        }
                    }
                }
            }
        }
    });
    Ok(Running { task, _watcher: watcher })
}
