//! Files in items: where their bytes go (the blob store, counted against the run's quota),
//! how nodes find an item's file by property name, and media types by file name.

use std::path::Path;
use std::sync::Arc;
use switchyard_core::blobs::{BlobError, BlobStore, BlobWriter, Quota, Stored};
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError};
use switchyard_model::item::{BinaryData, Item};

/// The blob store runs write to, and how much one run may write.
#[derive(Debug, Clone)]
pub struct Blobs {
    pub store: Arc<BlobStore>,
    quota: Arc<Quota>,
}

/// Files one run may store unless set otherwise: 8 GiB.
pub const DEFAULT_RUN_QUOTA: u64 = 8 * 1024 * 1024 * 1024;

impl Blobs {
    pub fn new(store: Arc<BlobStore>, run_quota: u64) -> Blobs {
        Blobs { store, quota: Quota::new(run_quota) }
    }

    /// A store in the system's temporary folder, for runs without a data folder (tests,
    /// tools). The app and the CLI use `<data folder>/blobs`.
    pub fn temporary() -> Blobs {
        Blobs::new(Arc::new(BlobStore::new(std::env::temp_dir().join("switchyard-blobs"))), DEFAULT_RUN_QUOTA)
    }

    /// The same store with a fresh count, for a new run.
    pub fn for_run(&self) -> Blobs {
        Blobs { store: self.store.clone(), quota: Quota::new(self.quota.limit()) }
    }

    /// Bytes this run has stored so far.
    pub fn used(&self) -> u64 {
        self.quota.used()
    }

    pub async fn writer(&self) -> Result<BlobWriter, NodeError> {
        self.store.writer(Some(self.quota.clone())).await.map_err(blob_error)
    }

    /// Stores `bytes` as a file named `file_name`.
    pub async fn put(&self, bytes: &[u8], file_name: &str, mime_type: Option<&str>) -> Result<BinaryData, NodeError> {
        let stored = self.store.put(bytes, Some(self.quota.clone())).await.map_err(blob_error)?;
        Ok(describe(stored, file_name, mime_type))
    }

    /// Stores a copy of the file at `path` (read in chunks).
    pub async fn put_file(&self, path: &Path) -> Result<BinaryData, NodeError> {
        let stored = self.store.put_file(path, Some(self.quota.clone())).await.map_err(blob_error)?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(describe(stored, &name, None))
    }

    /// A file's bytes, whole: only for files up to the largest item (`max`), so that a
    /// node that needs them in memory cannot be made to hold a huge file.
    pub async fn read(&self, data: &BinaryData, max: usize) -> Result<Vec<u8>, NodeError> {
        if data.size > max as u64 {
            return Err(NodeError::new(
                ErrorCode::ValueTooLarge,
                format!(
                    "the file {} is {} bytes: this node reads files of at most {} MiB (Settings → \"Largest item\")",
                    shown_name(data),
                    data.size,
                    max / (1024 * 1024)
                ),
            )
            .with_class(ErrorClass::Permanent));
        }
        self.store.read(&data.reference).await.map_err(blob_error)
    }

    /// Opens a file for reading in chunks.
    pub async fn open(&self, data: &BinaryData) -> Result<tokio::fs::File, NodeError> {
        self.store.open(&data.reference).await.map_err(blob_error)
    }

    /// Hands a file's bytes to `f` in chunks (for digests: never the whole file at once).
    pub async fn each_chunk(&self, data: &BinaryData, mut f: impl FnMut(&[u8])) -> Result<(), NodeError> {
        use tokio::io::AsyncReadExt;
        let mut file = self.open(data).await?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = file.read(&mut buf).await.map_err(|e| {
                NodeError::new(ErrorCode::FileError, format!("cannot read the file {}: {e}", shown_name(data)))
                    .with_class(ErrorClass::Transient)
            })?;
            if n == 0 {
                return Ok(());
            }
            f(&buf[..n]);
        }
    }

    /// Where a file's bytes are on disk (for copying them without reading them whole).
    pub fn path(&self, data: &BinaryData) -> Result<std::path::PathBuf, NodeError> {
        self.store.path_of(&data.reference).map_err(blob_error)
    }
}

impl Blobs {
    /// A writer for codecs on a blocking thread that want `std::io::Write` (zip, gzip):
    /// it hands its bytes to the async blob writer through the runtime's `handle`. Call it
    /// inside `spawn_blocking`.
    pub fn sync_writer(&self, handle: tokio::runtime::Handle) -> Result<SyncWriter, NodeError> {
        let writer = handle.block_on(self.writer())?;
        Ok(SyncWriter { handle, writer: Some(writer), buffer: Vec::with_capacity(SYNC_CHUNK), error: None })
    }
}

const SYNC_CHUNK: usize = 256 * 1024;

/// See [`Blobs::sync_writer`].
pub struct SyncWriter {
    handle: tokio::runtime::Handle,
    writer: Option<BlobWriter>,
    buffer: Vec<u8>,
    /// The blob store's error (quota, disk), kept for [`SyncWriter::finish`]: the codec only
    /// sees an I/O error.
    error: Option<NodeError>,
}

impl SyncWriter {
    fn send(&mut self) -> std::io::Result<()> {
        let Some(writer) = self.writer.as_mut() else { return Ok(()) };
        if let Err(e) = self.handle.block_on(writer.write(&self.buffer)) {
            let error = blob_error(e);
            let message = error.message.clone();
            self.error = Some(error);
            return Err(std::io::Error::other(message));
        }
        self.buffer.clear();
        Ok(())
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.writer.as_ref().map_or(0, BlobWriter::size) + self.buffer.len() as u64
    }

    /// Stores the bytes; the blob store's own error if one stopped the codec.
    pub fn finish(mut self, file_name: &str, mime_type: Option<&str>) -> Result<BinaryData, NodeError> {
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        self.send().map_err(|e| NodeError::new(ErrorCode::FileError, e.to_string()))?;
        let writer = self.writer.take().expect("finished once");
        let stored = self.handle.block_on(writer.finish()).map_err(blob_error)?;
        Ok(describe(stored, file_name, mime_type))
    }

    /// The blob store's error, if one stopped the codec (else `other`).
    pub fn error_or(&mut self, other: NodeError) -> NodeError {
        self.error.take().unwrap_or(other)
    }
}

impl std::io::Write for SyncWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= SYNC_CHUNK {
            self.send()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The metadata of stored bytes.
pub fn describe(stored: Stored, file_name: &str, mime_type: Option<&str>) -> BinaryData {
    BinaryData {
        file_name: file_name.to_string(),
        mime_type: mime_type.filter(|m| !m.is_empty()).map_or_else(|| mime_for(file_name).to_string(), str::to_string),
        size: stored.size,
        reference: stored.sha256.clone(),
        sha256: stored.sha256,
    }
}

fn shown_name(data: &BinaryData) -> String {
    if data.file_name.is_empty() { format!("({} bytes)", data.size) } else { format!("\"{}\"", data.file_name) }
}

/// How messages name an item's file: its file name, else `the file "<property>"`.
pub fn display_name(data: &BinaryData, property: &str) -> String {
    if data.file_name.is_empty() { format!("the file \"{property}\"") } else { data.file_name.clone() }
}

/// A blob store failure as a node error.
pub fn blob_error(e: BlobError) -> NodeError {
    match e {
        BlobError::Quota { .. } => {
            NodeError::new(ErrorCode::ValueTooLarge, e.to_string()).with_class(ErrorClass::Permanent)
        }
        BlobError::BadReference(_) | BlobError::Missing(_) => {
            NodeError::new(ErrorCode::FileError, e.to_string()).with_class(ErrorClass::Permanent)
        }
        BlobError::Io { .. } => NodeError::new(ErrorCode::FileError, e.to_string()).with_class(ErrorClass::Transient),
    }
}

/// The item's file under `property` (a node parameter of that name says which), or an
/// error naming the property and the files the item does have.
pub fn file_of<'a>(item: &'a Item, property: &str, parameter: &str) -> Result<&'a BinaryData, NodeError> {
    item.file(property).ok_or_else(|| {
        let names: Vec<&str> = item.binary().into_iter().flat_map(|b| b.keys()).map(String::as_str).collect();
        let has = if names.is_empty() {
            "it has no files (Read Files as \"File\" or an HTTP Request with \"Response format: File\" add one)"
                .to_string()
        } else {
            format!("it has {}", names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", "))
        };
        NodeError::new(ErrorCode::MissingBinary, format!("the item has no file \"{property}\": {has}"))
            .with_class(ErrorClass::Permanent)
            .with_parameter(parameter)
    })
}

/// The file property a node reads or writes (parameter `parameter`, default `data`).
pub fn property_name(value: serde_json::Value) -> String {
    value.as_str().map(str::trim).filter(|s| !s.is_empty()).unwrap_or("data").to_string()
}

/// A media type from a file name's extension; `application/octet-stream` when unknown.
pub fn mime_for(file_name: &str) -> &'static str {
    let ext = file_name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "txt" | "log" => "text/plain",
        "csv" => "text/csv",
        "tsv" => "text/tab-separated-values",
        "json" => "application/json",
        "ndjson" | "jsonl" => "application/x-ndjson",
        "xml" => "application/xml",
        "html" | "htm" => "text/html",
        "md" => "text/markdown",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "yaml" | "yml" => "application/yaml",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_by_extension() {
        assert_eq!(mime_for("a.CSV"), "text/csv");
        assert_eq!(mime_for("report.tar.gz"), "application/gzip");
        assert_eq!(mime_for("noext"), "application/octet-stream");
    }

    #[test]
    fn a_missing_file_names_what_the_item_has() {
        let mut item = Item::empty();
        let e = file_of(&item, "data", "binaryProperty").unwrap_err();
        assert!(e.message.contains("no files"), "{}", e.message);
        item.set_file(
            "report",
            BinaryData {
                file_name: "r.csv".into(),
                mime_type: "text/csv".into(),
                size: 1,
                sha256: "a".repeat(64),
                reference: "a".repeat(64),
            },
        );
        let e = file_of(&item, "data", "binaryProperty").unwrap_err();
        assert!(e.message.contains("\"report\""), "{}", e.message);
    }
}
