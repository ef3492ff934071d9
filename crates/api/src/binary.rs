//! Files in items, for the output inspector: a preview of a blob (text, JSON, an image, a
//! PDF) and "Save as…" (the OS's dialog, then a copy of the blob written atomically).

use crate::Api;
use crate::error::{ApiError, ApiResult};
use crate::workflows::ChosenPath;
use base64::Engine as _;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchyard_model::error::ErrorCode;
use ts_rs::TS;

/// Text shown at most, and the largest image or PDF sent to the window whole.
const TEXT_PREVIEW: usize = 256 * 1024;
const MEDIA_PREVIEW: u64 = 10 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FilePreviewRequest {
    /// The file's `ref` (its SHA-256).
    pub reference: String,
    pub mime_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FilePreview {
    /// `text` (also JSON, CSV, XML…), `image`, `pdf`, or `none` (no preview for this type
    /// or size: save it to open it).
    pub kind: String,
    /// The text (its first 256 KiB), for `text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub text: Option<String>,
    /// The bytes as a `data:` URL, for `image` and `pdf`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub data_url: Option<String>,
    /// Whether the text is cut.
    pub truncated: bool,
    #[ts(type = "number")]
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileSaveRequest {
    pub reference: String,
    /// Where to write it: a path the user chose in the dialog (`dialog_save_file`).
    pub path: String,
}

fn is_text(mime: &str) -> bool {
    mime.starts_with("text/")
        || matches!(
            mime,
            "application/json" | "application/x-ndjson" | "application/xml" | "application/yaml" | "image/svg+xml"
        )
}

impl Api {
    pub async fn file_preview(&self, request: FilePreviewRequest) -> ApiResult<FilePreview> {
        let store = self.inner.engine.services().blobs.store.clone();
        let path = store.path_of(&request.reference).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let size = std::fs::metadata(&path)
            .map_err(|_| {
                ApiError::new(
                    ErrorCode::NotFound,
                    format!("the file {} is no longer stored (its run was pruned?)", request.reference),
                )
            })?
            .len();
        let mime = request.mime_type.to_ascii_lowercase();
        let none = FilePreview { kind: "none".into(), text: None, data_url: None, truncated: false, size };
        let read = |limit: usize| -> ApiResult<Vec<u8>> {
            use std::io::Read;
            let mut bytes = Vec::with_capacity(limit.min(size as usize));
            std::fs::File::open(&path)
                .and_then(|f| f.take(limit as u64).read_to_end(&mut bytes))
                .map_err(|e| ApiError::new(ErrorCode::Io, format!("cannot read {}: {e}", path.display())))?;
            Ok(bytes)
        };
        if is_text(&mime) {
            let bytes = read(TEXT_PREVIEW)?;
            let mut text = String::from_utf8_lossy(&bytes).into_owned();
            if mime == "application/json"
                && size <= TEXT_PREVIEW as u64
                && let Ok(value) = serde_json::from_str::<serde_json::Value>(&text)
            {
                text = serde_json::to_string_pretty(&value).unwrap_or(text);
            }
            return Ok(FilePreview {
                kind: "text".into(),
                text: Some(text),
                truncated: size > TEXT_PREVIEW as u64,
                ..none
            });
        }
        let kind = if mime.starts_with("image/") {
            "image"
        } else if mime == "application/pdf" {
            "pdf"
        } else {
            return Ok(none);
        };
        if size > MEDIA_PREVIEW {
            return Ok(none);
        }
        let bytes = read(MEDIA_PREVIEW as usize)?;
        let url = format!("data:{mime};base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes));
        Ok(FilePreview { kind: kind.into(), data_url: Some(url), ..none })
    }

    /// The OS's dialog for where to save a file of an item.
    pub async fn dialog_save_file(&self, request: crate::workflows::SaveDialogRequest) -> ApiResult<ChosenPath> {
        self.choose(Some(request.default_name), false).await
    }

    /// Writes a stored file to a path the user chose (atomically: the old file or the new).
    pub async fn file_save(&self, request: FileSaveRequest) -> ApiResult<ChosenPath> {
        self.check_path(&request.path)?;
        let store = self.inner.engine.services().blobs.store.clone();
        let source = store.path_of(&request.reference).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let target = std::path::PathBuf::from(&request.path);
        tokio::task::spawn_blocking(move || {
            crate::files::write_atomically_with(&target, |to| {
                std::io::copy(&mut std::fs::File::open(&source)?, to).map(|_| ())
            })
        })
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?
        .map_err(|e| ApiError::new(ErrorCode::Io, format!("cannot save {}: {e}", request.path)))?;
        Ok(ChosenPath { path: Some(request.path) })
    }
}
