//! Backups and restores of real data folders: taken while runs are being written, restored
//! into a new folder, and refused when the archive is damaged, foreign, too new, or the data
//! folder is in use.

use super::{cli_run, node_data, workflow};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use switchyard_model::execution::RunStatus;
use switchyard_store::Store;
use switchyard_store::backup::{self, BackupManifest};

fn start(store: &Store, id: &str) {
    store.log().started(cli_run(id, workflow("w1", "Backed up")));
    store.log().node(id, node_data("t", 20));
    store.log().finished(id, RunStatus::Success, "2026-01-01T00:00:01Z", 5, None);
}

fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A file in the blob store, referred to by execution `id`.
fn add_blob(dir: &Path, store: &Store, id: &str, content: &[u8]) -> String {
    let name = sha256_hex(content);
    let folder = dir.join("blobs").join(&name[..2]);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join(&name[2..]), content).unwrap();
    let conn = rusqlite::Connection::open(store.file().unwrap()).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    conn.execute("INSERT INTO execution_blobs (execution_id, blob) VALUES (?1, ?2)", [id, name.as_str()]).unwrap();
    name
}

/// The workflows in a database, read without opening it as a store.
fn workflows_in(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut stmt = conn.prepare("SELECT id FROM workflows ORDER BY id").unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().collect::<rusqlite::Result<_>>().unwrap()
}

fn leftovers(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("restoring") || n.contains("partial"))
        .collect();
    names.sort();
    names
}

/// Rewrites an archive with `change` applied to each entry (name, bytes) → entries.
fn rewrite(from: &Path, to: &Path, change: impl Fn(String, Vec<u8>) -> Vec<(String, Vec<u8>)>) {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(from).unwrap()).unwrap();
    let mut out = zip::ZipWriter::new(std::fs::File::create(to).unwrap());
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).unwrap();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        for (name, bytes) in change(entry.name().to_string(), bytes) {
            out.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
            out.write_all(&bytes).unwrap();
        }
    }
    out.finish().unwrap();
}

/// A store in `dir` with workflow w1 named `name`, one finished run `run` and a file of it;
/// returns the store and the file's blob name.
fn store_with_a_run(dir: &Path, name: &str, run: &str, file: &[u8]) -> (Store, String) {
    let store = Store::open_in(dir).unwrap();
    store.workflows().save(&workflow("w1", name), None, "2026-01-01T00:00:00Z").unwrap();
    start(&store, run);
    store.log().flush().unwrap();
    let blob = add_blob(dir, &store, run, file);
    (store, blob)
}

#[test]
fn a_backup_taken_while_runs_are_written_restores_into_a_new_folder() {
    let dir = tempfile::tempdir().unwrap();
    let (store, blob) = store_with_a_run(dir.path(), "Backed up", "first", b"an invoice, as bytes");
    // A file no execution refers to stays out of the backup.
    let folder = dir.path().join("blobs/00");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("f".repeat(62)), b"unreferenced").unwrap();

    // Runs keep being written while the backup is taken.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) && n < 5_000 {
                start(&store, &format!("during-{n}"));
                store.log().flush().unwrap();
                n += 1;
            }
            n
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(100));
    let dest = dir.path().join("backups/one.zip");
    let info = backup::create(store.file().unwrap(), &dir.path().join("blobs"), &dest, "2026-12-03T10:00:00Z", "0.1.0")
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert!(written > 0);
    assert_eq!(info.manifest.files, 1, "only referenced files: {:?}", info.manifest);
    assert_eq!(info.manifest.schema_version, store.schema_version().unwrap());
    assert_eq!(info.size, std::fs::metadata(&dest).unwrap().len());
    assert!(leftovers(dest.parent().unwrap()).is_empty());
    assert_eq!(backup::inspect(&dest).unwrap(), info.manifest);
    let e = backup::create(store.file().unwrap(), &dir.path().join("blobs"), &dest, "x", "0.1.0").unwrap_err();
    assert!(e.to_string().contains("never written over"), "{e}");

    // Restored on a "new machine": a fresh folder.
    let fresh = tempfile::tempdir().unwrap();
    let restored = backup::restore(&dest, fresh.path(), "t1").unwrap();
    assert_eq!(restored.replaced, None);
    assert_eq!(restored.files_added, 1);
    assert_eq!(
        std::fs::read(fresh.path().join("blobs").join(&blob[..2]).join(&blob[2..])).unwrap(),
        b"an invoice, as bytes"
    );
    let back = Store::open_in(fresh.path()).unwrap();
    assert_eq!(back.integrity_check().unwrap(), "ok");
    assert_eq!(back.workflows().get("w1").unwrap().workflow.name, "Backed up");
    let count = back.history().count().unwrap();
    assert!((1..=1 + written as u32).contains(&count), "{count} of {written}");
    // The copy is the database as of one commit: every run that finished there has its
    // node (written before the finish); one the copy caught mid-way reads as interrupted.
    for summary in back.history().list(&Default::default()).unwrap() {
        let e = back.history().get(&summary.id).unwrap();
        match e.summary.status {
            RunStatus::Success => assert_eq!(e.nodes.len(), 1, "{}", summary.id),
            status => assert_eq!(status, RunStatus::Interrupted, "{}", summary.id),
        }
    }
}

#[test]
fn restore_checks_everything_first_refuses_an_open_folder_and_keeps_the_replaced_database() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store_with_a_run(dir.path(), "From the backup", "e1", b"attached");
    let archive = dir.path().join("b.zip");
    backup::create(store.file().unwrap(), &dir.path().join("blobs"), &archive, "2026-12-03T10:00:00Z", "0.1.0")
        .unwrap();

    // The folder it came from is open (this store): refused, nothing touched.
    let e = backup::restore(&archive, dir.path(), "t").unwrap_err();
    assert!(e.to_string().contains("is open in a running Switchyard"), "{e}");

    // Another folder with its own data.
    let other = tempfile::tempdir().unwrap();
    {
        let s = Store::open_in(other.path()).unwrap();
        s.workflows().save(&workflow("mine", "Already here"), None, "2026-01-01T00:00:00Z").unwrap();
    }
    let db = other.path().join("switchyard.db");
    let before = workflows_in(&db);
    assert_eq!(before, ["mine"]);
    let refused = |path: &Path, expect: &str| {
        let e = backup::restore(path, other.path(), "t").unwrap_err();
        assert!(e.to_string().contains(expect), "{e}");
        assert_eq!(workflows_in(&db), before, "the database is untouched");
        assert!(leftovers(other.path()).is_empty(), "{:?}", leftovers(other.path()));
        assert!(!other.path().join("blobs").exists(), "no files added");
    };

    let damaged = dir.path().join("damaged.zip");
    rewrite(&archive, &damaged, |name, mut bytes| {
        if name == "switchyard.db" {
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x55;
        }
        vec![(name, bytes)]
    });
    refused(&damaged, "does not match its checksum");

    let foreign = dir.path().join("foreign.zip");
    rewrite(&archive, &foreign, |name, bytes| {
        let mut out = vec![(name.clone(), bytes)];
        if name == "manifest.json" {
            out.push(("../../outside".into(), b"x".to_vec()));
        }
        out
    });
    refused(&foreign, "has an entry a backup cannot have: \"../../outside\"");

    let newer = dir.path().join("newer.zip");
    rewrite(&archive, &newer, |name, bytes| {
        if name != "manifest.json" {
            return vec![(name, bytes)];
        }
        let mut m: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        m["schemaVersion"] = 999.into();
        vec![(name, serde_json::to_vec(&m).unwrap())]
    });
    refused(&newer, "made by a newer Switchyard");

    let not_zip = dir.path().join("notes.txt");
    std::fs::write(&not_zip, "hello").unwrap();
    refused(&not_zip, "not a Switchyard backup");

    // And a good one: the old database moves aside and still opens.
    let restored = backup::restore(&archive, other.path(), "t2").unwrap();
    let aside = restored.replaced.clone().unwrap();
    assert!(aside.ends_with("switchyard.db.replaced-t2"), "{aside:?}");
    assert_eq!(restored.files_added, 1);
    let now = Store::open_in(other.path()).unwrap();
    assert_eq!(now.workflows().get("w1").unwrap().workflow.name, "From the backup");
    assert!(now.workflows().get("mine").is_err());
    drop(now);
    let old = Store::open(&aside).unwrap();
    assert_eq!(old.workflows().get("mine").unwrap().workflow.name, "Already here");
    let _: BackupManifest = restored.manifest;
}
