//! "Test connection" for accounts whose nodes connect to their server themselves (databases
//! and mail servers, not HTTP): connect, sign in, ask something harmless.

use crate::credentials::Fields;
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError};

/// Whether accounts of this connection type are tested by connecting (not by a request).
pub fn tests_itself(connection_type: &str) -> bool {
    crate::db::Kind::of(connection_type).is_some() || matches!(connection_type, "email.smtp" | "email.imap")
}

/// Connects with the account's fields; the message names the server and what it said.
pub async fn test(connection_type: &str, fields: &Fields) -> Result<String, NodeError> {
    if let Some(kind) = crate::db::Kind::of(connection_type) {
        return crate::db::test(kind, fields).await;
    }
    match connection_type {
        "email.smtp" => crate::email::smtp::test(fields).await,
        "email.imap" => crate::email::imap::test(fields).await,
        other => Err(NodeError::new(ErrorCode::Internal, format!("{other} accounts are tested by a request"))
            .with_class(ErrorClass::Permanent)),
    }
}
