//! Backups of a data folder and restoring them.
//!
//! A backup is one zip file: `switchyard.db`, a consistent copy of the database made with
//! SQLite's online backup API while the app keeps running (one read transaction: writers are
//! not blocked in WAL mode, and the copy is the database as of one commit); the files
//! (`blobs/ab/cdef…`) that copy's executions refer to; and `manifest.json` with the copy's
//! size and SHA-256. The archive is written beside its destination under a temporary name,
//! synced and renamed, so a backup file is either complete or absent.
//!
//! Restoring checks everything first (manifest, checksum, `PRAGMA integrity_check`, schema
//! version), refuses while any process has the data folder's database open, and keeps the
//! replaced database beside the new one.

use crate::error::{Result, StoreError};
use crate::{owner, paths};
use rusqlite::{Connection, OpenFlags};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The archive format this build writes and reads.
pub const FORMAT: u32 = 1;
const MANIFEST: &str = "manifest.json";
const DATABASE: &str = "switchyard.db";

/// What a backup holds, from its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupManifest {
    pub format: u32,
    pub created_at: String,
    pub app_version: String,
    pub schema_version: u32,
    pub database_size: u64,
    pub database_sha256: String,
    /// Files (binary data) in the archive.
    pub files: u32,
    pub files_size: u64,
    /// Files the database refers to that were gone (pruned) by the time they were copied.
    pub missing_files: u32,
}

/// A written backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    pub path: PathBuf,
    /// The archive's size in bytes.
    pub size: u64,
    pub manifest: BackupManifest,
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub manifest: BackupManifest,
    /// Where the database that was replaced is kept, if there was one.
    pub replaced: Option<PathBuf>,
    /// Files added to the data folder's blob store.
    pub files_added: u32,
}

fn failed(path: &Path, message: impl std::fmt::Display) -> StoreError {
    StoreError::Backup(format!("{}: {message}", path.display()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Copies `reader` to `out`, returning its size and SHA-256.
fn copy_hashed(reader: &mut dyn Read, out: &mut dyn Write) -> std::io::Result<(u64, String)> {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
        out.write_all(&buf[..n])?;
        size += n as u64;
    }
    Ok((size, hex(ctx.finish().as_ref())))
}

fn sync_dir(dir: &Path) {
    // Directories cannot be opened for syncing on every OS (Windows); the rename is durable
    // there by other means.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Removes a file when dropped unless kept.
struct TempFile(Option<PathBuf>);

impl TempFile {
    fn keep(mut self) -> PathBuf {
        self.0.take().unwrap_or_default()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A consistent copy of the database at `db_path` into the new file `to`, via the online
/// backup API in one step (a single read transaction), retried while the source is busy.
fn snapshot(db_path: &Path, to: &Path) -> Result<()> {
    let src = Connection::open_with_flags(db_path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| failed(db_path, e))?;
    src.busy_timeout(Duration::from_secs(10)).map_err(|e| failed(db_path, e))?;
    let mut dst = Connection::open(to).map_err(|e| failed(to, e))?;
    {
        let backup = rusqlite::backup::Backup::new(&src, &mut dst).map_err(|e| failed(db_path, e))?;
        let mut waits = 0;
        loop {
            match backup.step(-1).map_err(|e| failed(db_path, e))? {
                rusqlite::backup::StepResult::Done => break,
                rusqlite::backup::StepResult::More => {}
                _ => {
                    waits += 1;
                    if waits > 200 {
                        return Err(failed(db_path, "the database stayed busy for 10 s; try again"));
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }
    // One self-contained file: no WAL beside it.
    dst.pragma_update(None, "journal_mode", "DELETE").map_err(|e| failed(to, e))?;
    let check: String = dst.query_row("PRAGMA quick_check", [], |r| r.get(0)).map_err(|e| failed(to, e))?;
    if check != "ok" {
        return Err(failed(db_path, format!("the copy failed its integrity check: {check}")));
    }
    dst.close().map_err(|(_, e)| failed(to, e))?;
    Ok(())
}

fn blob_references(db: &Path) -> Result<Vec<String>> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|e| failed(db, e))?;
    let mut stmt =
        conn.prepare("SELECT DISTINCT blob FROM execution_blobs ORDER BY blob").map_err(|e| failed(db, e))?;
    let refs = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(|e| failed(db, e))?;
    Ok(refs.into_iter().filter(|r| is_blob_name(r)).collect())
}

/// The two parts of an archive entry `blobs/ab/cdef…` (the folder and the file name).
fn blob_entry(name: &str) -> Option<(&str, &str)> {
    name.strip_prefix("blobs/")?.split_once('/')
}

/// A blob's name: the SHA-256 of its bytes in lowercase hex.
fn is_blob_name(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn manifest_json(m: &BackupManifest) -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "format": m.format,
        "createdAt": m.created_at,
        "appVersion": m.app_version,
        "schemaVersion": m.schema_version,
        "database": { "file": DATABASE, "size": m.database_size, "sha256": m.database_sha256 },
        "files": { "count": m.files, "size": m.files_size, "missing": m.missing_files },
    }))
    .unwrap_or_default()
}

fn parse_manifest(archive: &Path, text: &str) -> Result<BackupManifest> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| failed(archive, format!("{MANIFEST} is not JSON: {e}")))?;
    let field = |pointer: &str| {
        v.pointer(pointer).cloned().ok_or_else(|| failed(archive, format!("{MANIFEST} has no {pointer}")))
    };
    let number = |pointer: &str| -> Result<u64> {
        field(pointer)?.as_u64().ok_or_else(|| failed(archive, format!("{MANIFEST}: {pointer} is not a number")))
    };
    let text = |pointer: &str| -> Result<String> {
        field(pointer)?
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| failed(archive, format!("{MANIFEST}: {pointer} is not a string")))
    };
    let format = number("/format")? as u32;
    if format != FORMAT {
        return Err(failed(
            archive,
            format!("backup format {format}; this build reads format {FORMAT} (update Switchyard)"),
        ));
    }
    Ok(BackupManifest {
        format,
        created_at: text("/createdAt")?,
        app_version: text("/appVersion")?,
        schema_version: number("/schemaVersion")? as u32,
        database_size: number("/database/size")?,
        database_sha256: text("/database/sha256")?,
        files: number("/files/count")? as u32,
        files_size: number("/files/size")?,
        missing_files: number("/files/missing")? as u32,
    })
}

/// Writes a backup of the database at `db_path` (and of the files in `blobs` its executions
/// refer to) to `dest`, which must not exist yet.
pub fn create(db_path: &Path, blobs: &Path, dest: &Path, created_at: &str, app_version: &str) -> Result<BackupInfo> {
    if dest.exists() {
        return Err(failed(dest, "exists already; a backup is never written over another file"));
    }
    let dir = dest.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| failed(dir, e))?;
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tag = owner::unique_tag();
    let copy = TempFile(Some(dir.join(format!(".{name}.{tag}.db"))));
    let partial = TempFile(Some(dir.join(format!(".{name}.{tag}.partial"))));
    let copy_path = copy.0.clone().unwrap_or_default();
    let partial_path = partial.0.clone().unwrap_or_default();

    snapshot(db_path, &copy_path)?;
    let schema_version: u32 = Connection::open_with_flags(&copy_path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| c.pragma_query_value(None, "user_version", |r| r.get(0)))
        .map_err(|e| failed(&copy_path, e))?;
    let references = blob_references(&copy_path)?;

    let file = std::fs::File::create_new(&partial_path).map_err(|e| failed(&partial_path, e))?;
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
    let deflated =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated).large_file(true);
    let zipped = |e: zip::result::ZipError| failed(&partial_path, e);
    let io = |e: std::io::Error| failed(&partial_path, e);

    zip.start_file(DATABASE, deflated).map_err(zipped)?;
    let mut source = std::fs::File::open(&copy_path).map_err(|e| failed(&copy_path, e))?;
    let (database_size, database_sha256) = copy_hashed(&mut source, &mut zip).map_err(io)?;

    let (mut files, mut files_size, mut missing_files) = (0u32, 0u64, 0u32);
    for blob in &references {
        let path = blobs.join(&blob[..2]).join(&blob[2..]);
        let mut source = match std::fs::File::open(&path) {
            Ok(f) => f,
            // Pruned between the copy and now (its execution was deleted meanwhile).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                missing_files += 1;
                continue;
            }
            Err(e) => return Err(failed(&path, e)),
        };
        zip.start_file(format!("blobs/{}/{}", &blob[..2], &blob[2..]), deflated).map_err(zipped)?;
        let (size, _) = copy_hashed(&mut source, &mut zip).map_err(io)?;
        files += 1;
        files_size += size;
    }
    let manifest = BackupManifest {
        format: FORMAT,
        created_at: created_at.to_string(),
        app_version: app_version.to_string(),
        schema_version,
        database_size,
        database_sha256,
        files,
        files_size,
        missing_files,
    };
    zip.start_file(MANIFEST, deflated).map_err(zipped)?;
    zip.write_all(manifest_json(&manifest).as_bytes()).map_err(io)?;
    let file = zip.finish().map_err(zipped)?.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    drop(file);
    drop(copy);
    std::fs::rename(&partial_path, dest).map_err(|e| failed(dest, e))?;
    partial.keep();
    sync_dir(dir);
    let size = std::fs::metadata(dest).map_err(|e| failed(dest, e))?.len();
    Ok(BackupInfo { path: dest.to_path_buf(), size, manifest })
}

fn open_archive(archive: &Path) -> Result<zip::ZipArchive<std::io::BufReader<std::fs::File>>> {
    let file = std::fs::File::open(archive).map_err(|e| failed(archive, e))?;
    zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| failed(archive, format!("not a Switchyard backup (not a readable zip file: {e})")))
}

/// Reads a backup's manifest.
pub fn inspect(archive: &Path) -> Result<BackupManifest> {
    let mut zip = open_archive(archive)?;
    read_manifest(archive, &mut zip)
}

fn read_manifest(
    archive: &Path,
    zip: &mut zip::ZipArchive<std::io::BufReader<std::fs::File>>,
) -> Result<BackupManifest> {
    let mut text = String::new();
    zip.by_name(MANIFEST)
        .map_err(|_| failed(archive, format!("not a Switchyard backup (it has no {MANIFEST})")))?
        .take(1 << 20)
        .read_to_string(&mut text)
        .map_err(|e| failed(archive, format!("{MANIFEST}: {e}")))?;
    parse_manifest(archive, &text)
}

/// Whether a process (the app, `serve`, a `run`) has the database at `db_path` open.
pub fn in_use(db_path: &Path) -> bool {
    owner::any_alive(db_path)
}

/// Restores `archive` into `data_dir`. Everything is checked before anything in the data
/// folder changes; the database it replaces is kept as `switchyard.db.replaced-<tag>`.
pub fn restore(archive: &Path, data_dir: &Path, tag: &str) -> Result<Restored> {
    let db_path = paths::database_path(data_dir);
    if in_use(&db_path) {
        return Err(StoreError::Backup(format!(
            "{} is open in a running Switchyard (the app, `serve` or a run); close it first, then restore",
            db_path.display()
        )));
    }
    let mut zip = open_archive(archive)?;
    let manifest = read_manifest(archive, &mut zip)?;
    if manifest.schema_version > crate::sql::sqlite::latest_version() {
        return Err(failed(
            archive,
            format!(
                "made by a newer Switchyard (schema version {}, this build knows {}); update Switchyard first",
                manifest.schema_version,
                crate::sql::sqlite::latest_version()
            ),
        ));
    }
    // Only the names a backup has; anything else (another path, `..`) is refused.
    for i in 0..zip.len() {
        let name = zip.by_index_raw(i).map_err(|e| failed(archive, e))?.name().to_string();
        let blob = blob_entry(&name).map(|(a, b)| format!("{a}{b}"));
        let known = name == MANIFEST || name == DATABASE || blob.as_deref().is_some_and(is_blob_name);
        if !known {
            return Err(failed(
                archive,
                format!("has an entry a backup cannot have: \"{name}\"; nothing was restored"),
            ));
        }
    }
    std::fs::create_dir_all(data_dir).map_err(|e| failed(data_dir, e))?;

    // The database, checked before it goes anywhere near the live one.
    let incoming = TempFile(Some(data_dir.join(format!("switchyard.db.restoring-{tag}"))));
    let incoming_path = incoming.0.clone().unwrap_or_default();
    {
        let mut entry = zip
            .by_name(DATABASE)
            .map_err(|_| failed(archive, format!("not a Switchyard backup (it has no {DATABASE})")))?;
        let mut out = std::fs::File::create(&incoming_path).map_err(|e| failed(&incoming_path, e))?;
        let (size, sha) = copy_hashed(&mut entry, &mut out)
            .map_err(|e| failed(archive, format!("{DATABASE} cannot be read: {e} (the file is damaged)")))?;
        if size != manifest.database_size || sha != manifest.database_sha256 {
            return Err(failed(
                archive,
                "the database in it does not match its checksum (the file is damaged); nothing was restored",
            ));
        }
        out.sync_all().map_err(|e| failed(&incoming_path, e))?;
    }
    {
        let conn = Connection::open(&incoming_path).map_err(|e| failed(archive, e))?;
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(|e| failed(archive, format!("the database in it cannot be read: {e}")))?;
        if check != "ok" {
            return Err(failed(archive, format!("the database in it fails its integrity check: {check}")));
        }
        let version: u32 =
            conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(|e| failed(archive, e))?;
        if version != manifest.schema_version {
            return Err(failed(
                archive,
                format!("its database has schema version {version}, its manifest says {}", manifest.schema_version),
            ));
        }
    }

    // Files: content-addressed, so each one is checked against its name and never replaces one.
    let blobs = data_dir.join("blobs");
    let mut files_added = 0u32;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| failed(archive, e))?;
        let Some((a, b)) = blob_entry(entry.name()) else { continue };
        let (a, b) = (a.to_string(), b.to_string());
        let target = blobs.join(&a).join(&b);
        if target.exists() {
            continue;
        }
        std::fs::create_dir_all(blobs.join(&a)).map_err(|e| failed(&blobs, e))?;
        let temp = TempFile(Some(blobs.join(&a).join(format!(".{b}.restoring-{tag}"))));
        let temp_path = temp.0.clone().unwrap_or_default();
        let mut out = std::fs::File::create(&temp_path).map_err(|e| failed(&temp_path, e))?;
        let (_, sha) = copy_hashed(&mut entry, &mut out).map_err(|e| failed(archive, format!("blobs/{a}/{b}: {e}")))?;
        if sha != format!("{a}{b}") {
            return Err(failed(
                archive,
                format!("file blobs/{a}/{b} does not match its checksum (the backup is damaged)"),
            ));
        }
        out.sync_all().map_err(|e| failed(&temp_path, e))?;
        std::fs::rename(&temp_path, &target).map_err(|e| failed(&target, e))?;
        temp.keep();
        files_added += 1;
    }
    sync_dir(&blobs);

    // The swap: the old database (and its WAL, which belongs to it) moves aside, then the new one in.
    let mut replaced = None;
    if db_path.exists() {
        let aside = data_dir.join(format!("switchyard.db.replaced-{tag}"));
        std::fs::rename(&db_path, &aside).map_err(|e| failed(&db_path, e))?;
        let wal = data_dir.join("switchyard.db-wal");
        if wal.exists() {
            let aside_wal = data_dir.join(format!("switchyard.db.replaced-{tag}-wal"));
            std::fs::rename(&wal, &aside_wal).map_err(|e| failed(&wal, e))?;
        }
        let _ = std::fs::remove_file(data_dir.join("switchyard.db-shm"));
        replaced = Some(aside);
    }
    if let Err(e) = std::fs::rename(&incoming_path, &db_path) {
        // Put the old database back: the folder must never be left without one.
        if let Some(aside) = &replaced {
            let _ = std::fs::rename(aside, &db_path);
            let aside_wal = data_dir.join(format!("switchyard.db.replaced-{tag}-wal"));
            let _ = std::fs::rename(&aside_wal, data_dir.join("switchyard.db-wal"));
        }
        return Err(failed(&db_path, e));
    }
    incoming.keep();
    sync_dir(data_dir);
    Ok(Restored { manifest, replaced, files_added })
}
