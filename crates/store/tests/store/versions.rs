//! The version history: each save is a version whose JSON is stored once (shared with the
//! executions that ran it), versions are read back and thinned out by age, and a database
//! from before versions were kept gets the current ones recorded when it opens.

use crate::{count, temp_store, workflow};
use switchyard_model::execution::{RunMode, RunStatus};
use switchyard_model::workflow::Node;
use switchyard_store::{ExecutionStart, Store, StoreError};

#[test]
fn every_save_is_a_version_and_runs_of_a_saved_version_name_it() {
    let (_dir, store) = temp_store();
    let mut wf = workflow("w", "Orders");
    store.workflows().create(&wf, Some("orders.json"), "2026-01-01T00:00:00Z").unwrap();
    wf.nodes.push(Node::new("n", "Next", "flow.noop"));
    store.workflows().save_with_note(&wf, Some(1), "2026-01-02T00:00:00Z", "added Next").unwrap();
    wf.name = "Orders v3".into();
    store.workflows().save(&wf, Some(2), "2026-01-03T00:00:00Z").unwrap();

    let versions = store.workflows().versions("w").unwrap();
    let listed: Vec<(u32, &str, &str, u32)> =
        versions.iter().map(|v| (v.version, v.note.as_str(), v.name.as_str(), v.node_count)).collect();
    assert_eq!(
        listed,
        vec![(3, "", "Orders v3", 2), (2, "added Next", "Orders", 2), (1, "imported from orders.json", "Orders", 1)]
    );
    assert_eq!(store.workflows().version("w", 1).unwrap().nodes.len(), 1);
    assert_eq!(store.workflows().version("w", 3).unwrap(), wf);
    let missing = store.workflows().version("w", 9).unwrap_err();
    assert!(matches!(missing, StoreError::VersionNotFound { version: 9, .. }), "{missing}");
    assert!(matches!(store.workflows().versions("nope").unwrap_err(), StoreError::WorkflowNotFound(_)));

    // A run of version 3 as saved shares its stored JSON and names the version; a run of
    // an unsaved edit names none.
    let start = |id: &str, wf: &switchyard_model::workflow::Workflow| ExecutionStart {
        id: id.into(),
        workflow: wf.clone().into(),
        mode: RunMode::Manual,
        started_at: "2026-01-04T00:00:00Z".into(),
        called_by: None,
        retry_of: None,
        input: None,
        start_node: None,
    };
    store.log().started(start("saved", &wf));
    let mut edited = wf.clone();
    edited.description = "not saved".into();
    store.log().started(start("edited", &edited));
    for id in ["saved", "edited"] {
        store.log().finished(id, RunStatus::Success, "2026-01-04T00:00:01Z", 1, None);
    }
    store.log().flush().unwrap();
    assert_eq!(store.history().get("saved").unwrap().summary.workflow_version, Some(3));
    assert_eq!(store.history().get("edited").unwrap().summary.workflow_version, None);
    let snapshots = count(&store, "SELECT COUNT(*) FROM workflow_snapshots");
    assert_eq!(snapshots, 4, "versions 1–3 and the edited run: the saved run shares version 3's");

    store.workflows().delete("w").unwrap();
    let left = count(&store, "SELECT COUNT(*) FROM workflow_versions");
    let snapshots = count(&store, "SELECT COUNT(*) FROM workflow_snapshots");
    assert_eq!((left, snapshots), (0, 0));
}

#[test]
fn old_versions_are_thinned_out_to_every_tenth_and_the_newest_stays() {
    let (_dir, store) = temp_store();
    let mut wf = workflow("w", "Orders");
    store.workflows().create(&wf, None, "2026-01-01T00:00:00Z").unwrap();
    for v in 2..=25u32 {
        wf.description = format!("edit {v}");
        let day = if v <= 22 { 2 } else { 20 };
        store.workflows().save(&wf, Some(v - 1), &format!("2026-01-{day:02}T00:00:00Z")).unwrap();
    }
    let pruned = store.workflows().prune_versions("w", "2026-01-10T00:00:00Z", 10).unwrap();
    let kept: Vec<u32> = store.workflows().versions("w").unwrap().iter().map(|v| v.version).collect();
    assert_eq!(kept, vec![25, 24, 23, 20, 10], "the last days' versions, and every tenth before");
    assert_eq!(pruned, 20);
    // Only the newest is old: it stays.
    store.workflows().prune_versions("w", "2027-01-01T00:00:00Z", 0).unwrap();
    let kept: Vec<u32> = store.workflows().versions("w").unwrap().iter().map(|v| v.version).collect();
    assert_eq!(kept, vec![25]);
    assert_eq!(store.workflows().version("w", 25).unwrap(), wf);
}

#[test]
fn a_database_from_before_versions_gets_its_current_versions_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_in(dir.path()).unwrap();
    let mut wf = workflow("w", "Orders");
    store.workflows().create(&wf, None, "2026-01-01T00:00:00Z").unwrap();
    wf.description = "second".into();
    store.workflows().save(&wf, Some(1), "2026-01-02T00:00:00Z").unwrap();
    let path = store.file().unwrap().to_path_buf();
    drop(store);
    // As a database migrated from version 15 has it: workflows, no versions.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("DELETE FROM workflow_versions", []).unwrap();
    drop(conn);
    let store = Store::open_in(dir.path()).unwrap();
    let versions = store.workflows().versions("w").unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!((versions[0].version, versions[0].saved_at.as_str()), (2, "2026-01-02T00:00:00Z"));
    assert_eq!(store.workflows().version("w", 2).unwrap(), wf);
}
