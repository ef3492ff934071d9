//! Send Email: one message per item through an `email.smtp` account — recipients, subject,
//! text and HTML bodies from expressions, the item's files as attachments. Emits the
//! message id and the server's reply; a 4xx refusal is transient (the retry policy retries
//! it), a 5xx one permanent.

use crate::binary::file_of;
use crate::email::smtp::Sender;
use crate::node::{NodeContext, NodeResult, Outputs};
use crate::registry::NodeEntry;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, Mailboxes, MultiPart, SinglePart};
use switchyard_model::descriptor::{CredentialSlot, NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError};
use switchyard_model::item::{Item, Paired};
use switchyard_model::value::{Object, Value};
use switchyard_model::workflow::MAIN;

pub const TYPE: &str = "email.send";

/// The credential slot of the SMTP account.
pub const SLOT: &str = "smtp";

/// The most attachment bytes one message carries (mail servers refuse far less, typically
/// 25 MB).
const MAX_ATTACHMENTS: usize = 50 * 1024 * 1024;

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx)))
}

pub fn descriptor() -> NodeDescriptor {
    let mut d = super::descriptor(
        TYPE,
        "Send Email",
        "Sends an email for each item through an SMTP account: recipients, subject and bodies from expressions, the \
         item's files as attachments.",
        NodeGroup::Action,
        "mail",
        vec![Port::main()],
        vec![
            ParamSpec::string("to", "To")
                .required()
                .placeholder("{{ json.email }}")
                .describe("Comma-separated addresses."),
            ParamSpec::string("cc", "Cc"),
            ParamSpec::string("bcc", "Bcc").describe("Receive the message without being shown to the others."),
            ParamSpec::string("subject", "Subject").required(),
            ParamSpec::string("text", "Text").rows(6).describe("The plain-text body."),
            ParamSpec::string("html", "HTML")
                .rows(6)
                .describe("An HTML body; with a text body too, mail programs pick."),
            ParamSpec::string("attachments", "Attachments")
                .placeholder("report")
                .describe("Comma-separated names of the item's files to attach; * attaches all of them."),
            ParamSpec::string("from", "From").describe("Leave empty for the account's From address."),
            ParamSpec::string("replyTo", "Reply to"),
        ],
    );
    d.credentials = vec![CredentialSlot {
        name: SLOT.into(),
        label: "SMTP account".into(),
        connection_types: vec!["email.smtp".into()],
        required: true,
        url_parameter: None,
        per_entry: None,
    }];
    d.per_item_calls = true;
    d
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let (_, fields) = super::account_fields(ctx, SLOT, "SMTP account to send through").await?;
    let sender = Sender::open(&fields)?;
    let items = ctx.take_input(0).into_vec();
    let mut out = Outputs::new();
    let total = items.len();
    for (index, item) in items.into_iter().enumerate() {
        ctx.check_cancelled()?;
        let sent = async {
            let message = message(ctx, &sender, &item, index).await?;
            let id = message.headers().get_raw("Message-ID").unwrap_or_default().to_string();
            let recipients: Vec<Value> = message.envelope().to().iter().map(|a| Value::from(a.to_string())).collect();
            let response = ctx.retry_item(index, || sender.send(message.clone())).await?;
            let mut json = Object::new();
            json.insert("messageId", Value::from(id));
            json.insert("accepted", Value::Array(recipients.into()));
            json.insert("response", Value::from(response));
            Ok::<_, NodeError>(json)
        };
        match sent.await {
            Ok(json) => out.push(MAIN, Item::with_paired(Value::object(json), Paired::item(index))),
            Err(error) => ctx.item_failed(&mut out, item, index, error)?,
        }
        ctx.progress(index + 1, total);
    }
    Ok(out)
}

/// Addresses from a parameter (comma-separated, `Name <a@b>` allowed); an address that is
/// not one fails naming the parameter.
fn addresses(ctx: &NodeContext, name: &str, item: &Item, index: usize) -> Result<Vec<Mailbox>, NodeError> {
    let text = ctx.str_param(name, item, index)?;
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let parsed: Mailboxes = text.parse().map_err(|e| {
        NodeError::new(ErrorCode::InvalidParameter, format!("\"{text}\" is not a list of email addresses: {e}"))
            .with_class(ErrorClass::Permanent)
            .with_parameter(name)
            .with_item(index)
    })?;
    Ok(parsed.into_iter().collect())
}

async fn message(ctx: &NodeContext, sender: &Sender, item: &Item, index: usize) -> Result<lettre::Message, NodeError> {
    let invalid = |parameter: &str, message: String| {
        NodeError::new(ErrorCode::InvalidParameter, message)
            .with_class(ErrorClass::Permanent)
            .with_parameter(parameter)
            .with_item(index)
    };
    let from_text = ctx.str_param("from", item, index)?;
    let from_text = if from_text.trim().is_empty() { sender.from.clone() } else { from_text.trim().to_string() };
    if from_text.is_empty() {
        return Err(invalid("from", "no sender: set From here or the From address of the SMTP account".into()));
    }
    let from: Mailbox =
        from_text.parse().map_err(|e| invalid("from", format!("\"{from_text}\" is not an email address: {e}")))?;
    let (to, cc, bcc) =
        (addresses(ctx, "to", item, index)?, addresses(ctx, "cc", item, index)?, addresses(ctx, "bcc", item, index)?);
    if to.is_empty() && cc.is_empty() && bcc.is_empty() {
        return Err(invalid("to", "no recipients: To, Cc and Bcc are all empty for this item".into()));
    }
    let domain = from.email.domain().to_string();
    let mut builder = lettre::Message::builder()
        .from(from)
        .subject(ctx.str_param("subject", item, index)?)
        .message_id(Some(format!("<{}@{domain}>", uuid::Uuid::now_v7())))
        .date_now()
        .user_agent("Switchyard".into());
    for mailbox in to {
        builder = builder.to(mailbox);
    }
    for mailbox in cc {
        builder = builder.cc(mailbox);
    }
    for mailbox in bcc {
        builder = builder.bcc(mailbox);
    }
    for mailbox in addresses(ctx, "replyTo", item, index)? {
        builder = builder.reply_to(mailbox);
    }

    let text = ctx.str_param("text", item, index)?;
    let html = ctx.str_param("html", item, index)?;
    let names = ctx.str_param("attachments", item, index)?;
    let names: Vec<String> = if names.trim() == "*" {
        item.binary().map(|files| files.keys().cloned().collect()).unwrap_or_default()
    } else {
        names.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
    };
    // Without attachments the message is just its body (no needless multipart/mixed).
    if names.is_empty() {
        let message = match (text.is_empty(), html.is_empty()) {
            (_, true) => builder.singlepart(SinglePart::plain(text)),
            (true, false) => builder.singlepart(SinglePart::html(html)),
            (false, false) => builder.multipart(MultiPart::alternative_plain_html(text, html)),
        };
        return message.map_err(|e| invalid("to", format!("the message cannot be built: {e}")));
    }
    let mut body = match (text.is_empty(), html.is_empty()) {
        (_, true) => MultiPart::mixed().singlepart(SinglePart::plain(text)),
        (true, false) => MultiPart::mixed().singlepart(SinglePart::html(html)),
        (false, false) => MultiPart::mixed().multipart(MultiPart::alternative_plain_html(text, html)),
    };
    let mut total = 0usize;
    for name in &names {
        let data = file_of(item, name, "attachments").map_err(|e| e.with_item(index))?;
        total += data.size as usize;
        if total > MAX_ATTACHMENTS {
            return Err(invalid(
                "attachments",
                format!(
                    "the attachments are over {} MiB, more than mail servers accept",
                    MAX_ATTACHMENTS / (1024 * 1024)
                ),
            ));
        }
        let bytes = ctx.services.blobs.read(data, MAX_ATTACHMENTS).await?;
        let file_name = if data.file_name.is_empty() { name.clone() } else { data.file_name.clone() };
        let mime = if data.mime_type.is_empty() { "application/octet-stream" } else { data.mime_type.as_str() };
        let content_type = ContentType::parse(mime)
            .unwrap_or_else(|_| ContentType::parse("application/octet-stream").expect("a valid media type"));
        body = body.singlepart(Attachment::new(file_name).body(bytes, content_type));
    }
    let message = builder.multipart(body);
    message.map_err(|e| invalid("to", format!("the message cannot be built: {e}")))
}
