//! Accounts whose nodes connect to their server themselves (databases, mail servers, model
//! servers): the account's fields for a node ([`account_fields`]), and "Test connection"
//! for them (not HTTP): connect, sign in, ask something harmless.

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

/// The account in credential slot `slot` and its fields, for nodes that connect to a server
/// themselves (databases, mail); `pick` is what the user should pick when the slot is empty.
pub(crate) async fn account_fields(
    ctx: &crate::node::NodeContext,
    slot: &str,
    pick: &str,
) -> Result<(switchyard_model::CredentialRef, crate::credentials::Fields), NodeError> {
    let reference = ctx.node.credentials.get(slot).cloned().ok_or_else(|| {
        NodeError::new(ErrorCode::CredentialMissing, format!("pick the {pick}")).with_class(ErrorClass::Permanent)
    })?;
    let provider = ctx.services.credentials.clone().ok_or_else(|| {
        NodeError::new(ErrorCode::CredentialMissing, "no credential vault is available to this run")
            .with_class(ErrorClass::Permanent)
    })?;
    let fields = provider.fields(&reference).await?;
    Ok((reference, fields))
}
