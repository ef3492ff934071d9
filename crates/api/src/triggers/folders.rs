//! Folder watches: Folder Trigger nodes of active workflows, served by the watcher of
//! crates/triggers; what each saw is kept in the store, and a settled change becomes a run.

use crate::{Api, Inner};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use switchyard_core::folder::FolderEvent;
use switchyard_engine::{Prepared, Services};
use switchyard_model::execution::RunMode;
use switchyard_triggers::watcher::{Seen, Watch, WatchHost};

pub(super) struct Watched {
    /// The trigger node's type: it makes the run's item from the change.
    pub(super) item: fn(FolderEvent) -> switchyard_model::item::Item,
    pub(super) prepared: Arc<Prepared>,
    pub(super) node_id: String,
    pub(super) services: Services,
}

/// The watcher's host: what watches saw (the store) and starting runs.
pub(super) struct WatcherHost(pub(super) Weak<Inner>);

impl WatchHost for WatcherHost {
    fn known(&self, workflow_id: &str, node_id: &str) -> Option<HashMap<PathBuf, Seen>> {
        let api = Api::upgrade(&self.0)?;
        match api.inner.store.triggers().folder_files(workflow_id, node_id) {
            Ok(None) => None,
            Ok(Some(rows)) => {
                Some(rows.into_iter().map(|(path, size, modified)| (PathBuf::from(path), (size, modified))).collect())
            }
            Err(e) => {
                tracing::error!("cannot read what the folder watch {workflow_id}/{node_id} saw: {e}");
                None
            }
        }
    }

    fn replace(&self, workflow_id: &str, node_id: &str, files: &HashMap<PathBuf, Seen>) {
        let Some(api) = Api::upgrade(&self.0) else { return };
        let rows: Vec<(String, u64, i64)> =
            files.iter().map(|(p, (size, modified))| (p.display().to_string(), *size, *modified)).collect();
        if let Err(e) = api.inner.store.triggers().replace_folder_files(workflow_id, node_id, &rows) {
            tracing::error!("cannot store what the folder watch {workflow_id}/{node_id} saw: {e}");
        }
    }

    fn remember(&self, workflow_id: &str, node_id: &str, path: &Path, seen: Option<Seen>) {
        let Some(api) = Api::upgrade(&self.0) else { return };
        if let Err(e) =
            api.inner.store.triggers().set_folder_file(workflow_id, node_id, &path.display().to_string(), seen)
        {
            tracing::error!("cannot store a change the folder watch {workflow_id}/{node_id} saw: {e}");
        }
    }

    fn fire(&self, watch: &Arc<Watch>, event: FolderEvent) {
        let Some(api) = Api::upgrade(&self.0) else { return };
        let Some(w) = watch.attachment.downcast_ref::<Watched>() else { return };
        if let Some(full) = api.inner.queue.queue_full() {
            tracing::warn!(workflow = %w.prepared.workflow.name, path = %event.path.display(), "a folder change is skipped: {full}");
            return;
        }
        let item = (w.item)(event);
        api.launch(w.prepared.clone(), w.services.clone(), vec![item], RunMode::Folder, Some(w.node_id.clone()), None);
    }
}
