//! The blob store: the bytes of the files items carry, content-addressed under the data
//! folder (`blobs/ab/cdef…`, named by their SHA-256), never inline in items, events or the
//! history.
//!
//! Writing is crash-safe: bytes go to a temporary file under `blobs/tmp/`, which is synced
//! and then renamed to its address, so a blob that exists under its address is complete.
//! A blob is written before any record refers to it; a crash in between leaves an orphan
//! that the next [`BlobStore::sweep`] removes. Sweeping keeps blobs written (or reused)
//! after a cut-off, so the blobs of runs still going are never swept.

use ring::digest;
use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;
use tokio::io::AsyncWriteExt;

/// Why a blob could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The run's files together would pass the per-run limit.
    #[error("the run's files would take more than {limit} bytes (the limit of files per run)")]
    Quota { limit: u64 },
    #[error("\"{0}\" is not a blob reference")]
    BadReference(String),
    #[error("the file {0} is no longer in the blob store (its run history was pruned?)")]
    Missing(String),
}

impl BlobError {
    fn io(action: &'static str, path: &Path, source: io::Error) -> BlobError {
        BlobError::Io { action, path: path.to_path_buf(), source }
    }
}

/// A blob as stored: its address and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// SHA-256 of the bytes, lowercase hex: also its reference.
    pub sha256: String,
    pub size: u64,
}

/// How many bytes of files one run may store.
#[derive(Debug)]
pub struct Quota {
    limit: u64,
    used: AtomicU64,
}

impl Quota {
    pub fn new(limit: u64) -> Arc<Quota> {
        Arc::new(Quota { limit, used: AtomicU64::new(0) })
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    fn take(&self, bytes: u64) -> Result<(), BlobError> {
        let before = self.used.fetch_add(bytes, Ordering::Relaxed);
        if before.saturating_add(bytes) > self.limit {
            self.used.fetch_sub(bytes, Ordering::Relaxed);
            return Err(BlobError::Quota { limit: self.limit });
        }
        Ok(())
    }
}

/// What a sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    pub removed: u32,
    pub bytes: u64,
    pub kept: u32,
}

#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    /// The store under `root` (`<data folder>/blobs`); folders are made when first written.
    pub fn new(root: impl Into<PathBuf>) -> BlobStore {
        BlobStore { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob `reference` lives; an error for anything but 64 lowercase hex digits.
    pub fn path_of(&self, reference: &str) -> Result<PathBuf, BlobError> {
        if reference.len() != 64 || !reference.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(BlobError::BadReference(reference.chars().take(80).collect()));
        }
        Ok(self.root.join(&reference[..2]).join(&reference[2..]))
    }

    /// A writer for a new blob, counted against `quota` as it is written.
    pub async fn writer(&self, quota: Option<Arc<Quota>>) -> Result<BlobWriter, BlobError> {
        let folder = self.root.join("tmp");
        tokio::fs::create_dir_all(&folder).await.map_err(|e| BlobError::io("create", &folder, e))?;
        let temp = folder.join(format!("{}.part", uuid_like()));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .await
            .map_err(|e| BlobError::io("create", &temp, e))?;
        Ok(BlobWriter {
            store: self.clone(),
            file: Some(tokio::io::BufWriter::with_capacity(256 * 1024, file)),
            temp,
            hash: digest::Context::new(&digest::SHA256),
            size: 0,
            quota,
        })
    }

    /// Stores `bytes`.
    pub async fn put(&self, bytes: &[u8], quota: Option<Arc<Quota>>) -> Result<Stored, BlobError> {
        let mut writer = self.writer(quota).await?;
        writer.write(bytes).await?;
        writer.finish().await
    }

    /// Stores a copy of the file at `path`, read in chunks (any size, little memory).
    pub async fn put_file(&self, path: &Path, quota: Option<Arc<Quota>>) -> Result<Stored, BlobError> {
        use tokio::io::AsyncReadExt;
        let mut file = tokio::fs::File::open(path).await.map_err(|e| BlobError::io("read", path, e))?;
        let mut writer = self.writer(quota).await?;
        let mut buffer = vec![0u8; 256 * 1024];
        loop {
            let n = file.read(&mut buffer).await.map_err(|e| BlobError::io("read", path, e))?;
            if n == 0 {
                break;
            }
            writer.write(&buffer[..n]).await?;
        }
        writer.finish().await
    }

    /// Opens a blob for reading.
    pub async fn open(&self, reference: &str) -> Result<tokio::fs::File, BlobError> {
        let path = self.path_of(reference)?;
        tokio::fs::File::open(&path).await.map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => BlobError::Missing(reference.to_string()),
            _ => BlobError::io("read", &path, e),
        })
    }

    /// A blob's bytes, whole.
    pub async fn read(&self, reference: &str) -> Result<Vec<u8>, BlobError> {
        let path = self.path_of(reference)?;
        tokio::fs::read(&path).await.map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => BlobError::Missing(reference.to_string()),
            _ => BlobError::io("read", &path, e),
        })
    }

    /// Removes every blob not in `keep` that was last written before `cutoff`, and
    /// unfinished temporary files from before `cutoff` (left by a crash).
    pub fn sweep(&self, keep: &HashSet<String>, cutoff: SystemTime) -> Result<Swept, BlobError> {
        let mut swept = Swept::default();
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(swept),
            Err(e) => return Err(BlobError::io("list", &self.root, e)),
        };
        for folder in entries.filter_map(Result::ok) {
            let name = folder.file_name().to_string_lossy().into_owned();
            let is_tmp = name == "tmp";
            if !is_tmp && (name.len() != 2 || !folder.path().is_dir()) {
                continue;
            }
            let files = std::fs::read_dir(folder.path()).map_err(|e| BlobError::io("list", &folder.path(), e))?;
            for file in files.filter_map(Result::ok) {
                let path = file.path();
                let reference = format!("{name}{}", file.file_name().to_string_lossy());
                if !is_tmp && keep.contains(&reference) {
                    swept.kept += 1;
                    continue;
                }
                let Ok(meta) = file.metadata() else { continue };
                if meta.modified().is_ok_and(|m| m >= cutoff) {
                    swept.kept += 1;
                    continue;
                }
                match std::fs::remove_file(&path) {
                    Ok(()) => {
                        swept.removed += 1;
                        swept.bytes += meta.len();
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(BlobError::io("remove", &path, e)),
                }
            }
        }
        Ok(swept)
    }
}

/// A blob being written; [`BlobWriter::finish`] puts it at its address. Dropped
/// unfinished, it removes its temporary file.
pub struct BlobWriter {
    store: BlobStore,
    file: Option<tokio::io::BufWriter<tokio::fs::File>>,
    temp: PathBuf,
    hash: digest::Context,
    size: u64,
    quota: Option<Arc<Quota>>,
}

impl std::fmt::Debug for BlobWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobWriter").field("temp", &self.temp).field("size", &self.size).finish()
    }
}

impl BlobWriter {
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), BlobError> {
        if let Some(quota) = &self.quota {
            quota.take(chunk.len() as u64)?;
        }
        self.hash.update(chunk);
        self.size += chunk.len() as u64;
        let file = self.file.as_mut().expect("a writer is finished only once");
        file.write_all(chunk).await.map_err(|e| BlobError::io("write", &self.temp, e))
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Syncs the bytes to disk and moves them to their address. When the same bytes are
    /// already stored, that blob is kept (and marked as just written, so that a sweep
    /// running beside this run keeps it).
    pub async fn finish(mut self) -> Result<Stored, BlobError> {
        let mut file = self.file.take().expect("a writer is finished only once");
        file.flush().await.map_err(|e| BlobError::io("write", &self.temp, e))?;
        let file = file.into_inner();
        file.sync_all().await.map_err(|e| BlobError::io("sync", &self.temp, e))?;
        drop(file);
        let sha256 = hex(self.hash.clone().finish().as_ref());
        let target = self.store.path_of(&sha256)?;
        let folder = target.parent().expect("a blob has a folder").to_path_buf();
        tokio::fs::create_dir_all(&folder).await.map_err(|e| BlobError::io("create", &folder, e))?;
        let temp = std::mem::take(&mut self.temp);
        if tokio::fs::metadata(&target).await.is_ok() {
            let _ = tokio::fs::remove_file(&temp).await;
            let now = std::fs::FileTimes::new().set_modified(SystemTime::now());
            let touched = std::fs::File::options().write(true).open(&target).and_then(|f| f.set_times(now));
            touched.map_err(|e| BlobError::io("update", &target, e))?;
        } else {
            tokio::fs::rename(&temp, &target).await.map_err(|e| BlobError::io("store", &target, e))?;
            // The new name is durable once its folder is synced.
            if let Ok(dir) = std::fs::File::open(&folder) {
                let _ = dir.sync_all();
            }
        }
        Ok(Stored { sha256, size: self.size })
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if !self.temp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A unique temporary name: time, process and a counter.
fn uuid_like() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{nanos:x}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn store() -> (tempfile::TempDir, BlobStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path().join("blobs"));
        (dir, store)
    }

    #[tokio::test]
    async fn stores_by_content_and_reads_back() {
        let (_dir, store) = store();
        let a = store.put(b"hello", None).await.unwrap();
        assert_eq!(a.sha256, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
        assert_eq!(a.size, 5);
        assert!(store.root().join("2c").join(&a.sha256[2..]).is_file());
        let b = store.put(b"hello", None).await.unwrap();
        assert_eq!(a, b);
        assert_eq!(store.read(&a.sha256).await.unwrap(), b"hello");
        // Nothing is left in tmp/.
        assert_eq!(std::fs::read_dir(store.root().join("tmp")).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn rejects_references_that_are_not_addresses() {
        let (_dir, store) = store();
        for bad in ["../../etc/passwd", "AB", &"A".repeat(64), &format!("{}/x", "a".repeat(62))] {
            assert!(matches!(store.read(bad).await, Err(BlobError::BadReference(_))), "{bad}");
        }
        assert!(matches!(store.read(&"0".repeat(64)).await, Err(BlobError::Missing(_))));
    }

    #[tokio::test]
    async fn a_quota_stops_a_writer_mid_stream_and_leaves_nothing() {
        let (_dir, store) = store();
        let quota = Quota::new(10);
        store.put(b"12345", Some(quota.clone())).await.unwrap();
        let mut writer = store.writer(Some(quota.clone())).await.unwrap();
        writer.write(b"123").await.unwrap();
        assert!(matches!(writer.write(b"456").await, Err(BlobError::Quota { limit: 10 })));
        drop(writer);
        assert_eq!(std::fs::read_dir(store.root().join("tmp")).unwrap().count(), 0);
        assert_eq!(quota.used(), 8);
    }

    #[tokio::test]
    async fn sweep_removes_unreferenced_old_blobs_and_orphaned_temp_files() {
        let (_dir, store) = store();
        let kept = store.put(b"kept", None).await.unwrap();
        let gone = store.put(b"gone", None).await.unwrap();
        // A crash mid-write leaves a temporary file behind.
        let mut orphan = store.writer(None).await.unwrap();
        orphan.write(b"half").await.unwrap();
        std::mem::forget(orphan);
        let cutoff = SystemTime::now() + Duration::from_secs(1);
        let keep: HashSet<String> = [kept.sha256.clone()].into();
        // Blobs written after the cut-off stay, referenced or not.
        let early = store.sweep(&keep, SystemTime::now() - Duration::from_secs(3600)).unwrap();
        assert_eq!(early.removed, 0);
        let swept = store.sweep(&keep, cutoff).unwrap();
        assert_eq!(swept.removed, 2, "{swept:?}");
        assert!(store.read(&kept.sha256).await.is_ok());
        assert!(matches!(store.read(&gone.sha256).await, Err(BlobError::Missing(_))));
        assert_eq!(std::fs::read_dir(store.root().join("tmp")).unwrap().count(), 0);
    }
}
