//! The API's error: a stable code, a message for people, and details for the UI.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchyard_model::error::{ErrorCode, ValidationIssue};
use switchyard_store::StoreError;
use ts_rs::TS;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// Extra data, e.g. `{"issues": [...]}` for an invalid workflow.
    #[ts(type = "unknown")]
    pub details: serde_json::Value,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into(), details: serde_json::Value::Null }
    }

    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::NotFound, what)
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::BadRequest, message)
    }

    pub fn with_details(mut self, details: serde_json::Value) -> ApiError {
        self.details = details;
        self
    }

    /// A workflow that failed validation; every issue is in `details.issues`.
    pub fn invalid(issues: Vec<ValidationIssue>, file: &str) -> ApiError {
        let first = issues.first().map(|i| i.render(file)).unwrap_or_default();
        let message = match issues.len() {
            1 => format!("the workflow is not valid: {first}"),
            n => format!("the workflow has {n} problems; the first: {first}"),
        };
        ApiError::new(ErrorCode::InvalidWorkflow, message).with_details(serde_json::json!({ "issues": issues }))
    }

    /// The validation issues carried by an [`ApiError::invalid`] error.
    pub fn issues(&self) -> Vec<ValidationIssue> {
        self.details.get("issues").and_then(|i| serde_json::from_value(i.clone()).ok()).unwrap_or_default()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        let code = match &e {
            StoreError::WorkflowNotFound(_) | StoreError::ExecutionNotFound(_) | StoreError::VersionNotFound { .. } => {
                ErrorCode::NotFound
            }
            StoreError::Conflict { .. } | StoreError::AlreadyExists(_) => ErrorCode::Conflict,
            StoreError::DataDir { .. } | StoreError::Backup(_) => ErrorCode::Io,
            StoreError::SqliteOnly(..) => ErrorCode::BadRequest,
            _ => ErrorCode::Storage,
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> ApiError {
        ApiError::new(ErrorCode::Io, e.to_string())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

impl From<switchyard_vault::VaultError> for ApiError {
    fn from(e: switchyard_vault::VaultError) -> ApiError {
        ApiError::new(e.code(), e.to_string())
    }
}
