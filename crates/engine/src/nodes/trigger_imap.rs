//! Email Trigger (IMAP): starts the workflow for each new message in a mailbox while the
//! workflow is active, waiting with IDLE where the server offers it and polling otherwise.
//! Each message starts exactly one run: the mailbox's UIDVALIDITY and the highest UID that
//! started a run are stored before the run starts, so a restart does not start old messages
//! again, and messages that arrive together each start their own run. A mailbox whose
//! UIDVALIDITY changed (deleted and made again) starts over: its messages count as new.
//! Marking read or moving waits for the message's run and happens only when it succeeded.

use crate::node::{NodeContext, NodeResult, Outputs};
use crate::registry::{CheckContext, NodeEntry};
use crate::trigger::{Backoff, Listening, Trigger};
use mail_parser::{MessageParser, MimeHeaders};
use std::time::Duration;
use switchyard_model::descriptor::{CredentialSlot, NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::{ErrorCode, NodeError, ValidationIssue};
use switchyard_model::execution::RunStatus;
use switchyard_model::item::Item;
use switchyard_model::value::{Object, Value};
use switchyard_model::workflow::Node;

pub const TYPE: &str = "trigger.imap";

/// The credential slot of the IMAP account.
pub const SLOT: &str = "imap";

/// How long one IDLE lasts before it is renewed (servers end it after 30 minutes).
const IDLE_FOR: Duration = Duration::from_secs(25 * 60);

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx)))
        .with_trigger(Trigger::Listen { check: config_check, serve: |l| Box::pin(serve(l)) })
        .with_check(check)
}

pub fn descriptor() -> NodeDescriptor {
    let mut d = super::descriptor(
        TYPE,
        "Email Trigger (IMAP)",
        "Starts the workflow for each new email in a mailbox while the workflow is active (IDLE, or polling). \
         Emits {from, to, cc, subject, date, text, html, messageId, headers, uid}; attachments are the item's files.",
        NodeGroup::Trigger,
        "mail",
        vec![Port::main()],
        vec![
            ParamSpec::string("mailbox", "Mailbox")
                .literal()
                .placeholder("INBOX")
                .describe("Empty: the account's mailbox."),
            ParamSpec::options(
                "afterRun",
                "After a run that succeeded",
                &[("none", "Leave the message as it is"), ("read", "Mark it read"), ("move", "Move it to a mailbox")],
                "none",
            ),
            ParamSpec::string("moveTo", "Move to").literal().placeholder("Processed").show_if("afterRun", &["move"]),
            ParamSpec::boolean("attachments", "Attachments as files", true),
            ParamSpec::number("pollSeconds", "Check every (seconds)")
                .default_value(60)
                .literal()
                .describe("Only for servers without IDLE; with IDLE new mail starts a run at once."),
        ],
    );
    d.credentials = vec![CredentialSlot {
        name: SLOT.into(),
        label: "IMAP account".into(),
        connection_types: vec!["email.imap".into()],
        required: true,
        url_parameter: None,
        per_entry: None,
    }];
    d
}

fn text(node: &Node, name: &str) -> String {
    node.parameters.get(name).and_then(|v| v.as_str()).unwrap_or("").trim().to_string()
}

fn config_check(node: &Node) -> Result<(), String> {
    if text(node, "afterRun") == "move" && text(node, "moveTo").is_empty() {
        return Err("moveTo: name the mailbox to move messages to".into());
    }
    let poll = node.parameters.get("pollSeconds").and_then(|v| v.as_f64()).unwrap_or(60.0);
    if !(5.0..=86_400.0).contains(&poll) {
        return Err(format!("pollSeconds: must be between 5 and 86400, found {poll}"));
    }
    Ok(())
}

fn check(node: &Node, cx: &CheckContext<'_>) -> Vec<ValidationIssue> {
    crate::trigger::config_issues(node, cx, config_check)
}

/// The mailbox the node names, else the account's, else INBOX.
fn mailbox(node: &Node, fields: &crate::credentials::Fields) -> String {
    let own = text(node, "mailbox");
    if !own.is_empty() {
        return own;
    }
    match fields.get("mailbox").trim() {
        "" => "INBOX".into(),
        name => name.into(),
    }
}

/// A message as an item: addresses, subject, date, bodies, headers, and its attachments as
/// files (when asked).
async fn item(raw: &[u8], uid: u32, mailbox: &str, blobs: Option<&crate::binary::Blobs>) -> Result<Item, NodeError> {
    let message = MessageParser::default().parse(raw).ok_or_else(|| {
        NodeError::new(ErrorCode::ConversionFailed, format!("message {uid} in \"{mailbox}\" is not a MIME message"))
    })?;
    let addresses = |list: Option<&mail_parser::Address<'_>>| -> Value {
        let shown: Vec<Value> = list
            .map(|a| {
                a.iter()
                    .map(|addr| {
                        let address = addr.address().unwrap_or("");
                        Value::from(match addr.name() {
                            Some(name) if !name.is_empty() => format!("{name} <{address}>"),
                            _ => address.to_string(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Value::Array(shown.into())
    };
    let mut json = Object::new();
    let from = addresses(message.from());
    json.insert("from", from.as_array().and_then(|a| a.first().cloned()).unwrap_or(Value::Null));
    json.insert("to", addresses(message.to()));
    json.insert("cc", addresses(message.cc()));
    json.insert("subject", message.subject().map_or(Value::Null, |s| Value::from(s.to_string())));
    json.insert("date", message.date().map_or(Value::Null, |d| Value::from(d.to_rfc3339())));
    json.insert("text", message.body_text(0).map_or(Value::Null, |t| Value::from(t.into_owned())));
    json.insert("html", message.body_html(0).map_or(Value::Null, |t| Value::from(t.into_owned())));
    json.insert("messageId", message.message_id().map_or(Value::Null, |s| Value::from(format!("<{s}>"))));
    let mut headers = Object::new();
    for (name, value) in message.headers_raw() {
        let key = name.to_ascii_lowercase();
        let value = Value::from(value.trim().replace("\r\n", "").replace('\n', ""));
        match headers.get(&key).cloned() {
            None => headers.insert(key.as_str(), value),
            Some(Value::Array(list)) => {
                let mut list = list.to_vec();
                list.push(value);
                headers.insert(key.as_str(), Value::Array(list.into()))
            }
            Some(first) => headers.insert(key.as_str(), Value::Array(vec![first, value].into())),
        };
    }
    json.insert("headers", Value::object(headers));
    json.insert("uid", Value::Int(i64::from(uid)));
    json.insert("mailbox", Value::from(mailbox.to_string()));
    let mut out = Item::new(Value::object(json));
    if let Some(blobs) = blobs {
        for (n, part) in message.attachments().enumerate() {
            let name = part.attachment_name().map_or_else(|| format!("attachment_{n}"), str::to_string);
            let mime = part
                .content_type()
                .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("octet-stream")))
                .unwrap_or_else(|| "application/octet-stream".into());
            let data = blobs.put(part.contents(), &name, Some(&mime)).await?;
            out.set_file(format!("attachment_{n}"), data);
        }
    }
    Ok(out)
}

/// Where the trigger stands in the mailbox: the UID of the last message that started a run.
/// The first time it starts after the newest message (old mail starts nothing); after a
/// UIDVALIDITY change it starts over.
fn start_after(listening: &Listening, validity: u32, next: u32) -> Result<u32, String> {
    let stored_validity = listening.state.get("uidValidity").and_then(|v| v.parse::<u32>().ok());
    let stored_last = listening.state.get("lastUid").and_then(|v| v.parse::<u32>().ok());
    let last = match (stored_validity, stored_last) {
        (Some(v), Some(last)) if v == validity => return Ok(last),
        (Some(_), _) => {
            tracing::warn!(workflow = %listening.workflow_id, "the mailbox's UIDVALIDITY changed: its messages count as new");
            0
        }
        (None, _) => next.saturating_sub(1),
    };
    listening.state.set("uidValidity", &validity.to_string())?;
    listening.state.set("lastUid", &last.to_string())?;
    Ok(last)
}

/// Holds the mailbox while served; starts a run per new message.
async fn serve(listening: Listening) {
    let Some(reference) = listening.node.credentials.get(SLOT).cloned() else {
        return (listening.status)(Some("pick the IMAP account to watch".into()));
    };
    let after_run = text(&listening.node, "afterRun");
    let move_to = text(&listening.node, "moveTo");
    let with_files = listening.node.parameters.get("attachments").and_then(|v| v.as_bool()).unwrap_or(true);
    let poll = listening.node.parameters.get("pollSeconds").and_then(|v| v.as_f64()).unwrap_or(60.0);
    let poll = Duration::from_secs_f64(poll.clamp(5.0, 86_400.0));
    let mut pause = Backoff::default();
    loop {
        let outcome: Result<(), String> = async {
            let provider = listening.credentials.clone().ok_or("no credential vault is available".to_string())?;
            let fields = provider.fields(&reference).await.map_err(|e| e.message)?;
            let name = mailbox(&listening.node, &fields);
            let mut connection = crate::email::imap::connect(&fields).await.map_err(|e| e.message)?;
            let selected = connection.select(&name).await.map_err(|e| e.message)?;
            let mut last = start_after(&listening, selected.validity, selected.next)?;
            (listening.status)(None);
            pause.reset();
            loop {
                connection.drain();
                let news = connection.uids_after(last).await.map_err(|e| e.message)?;
                // Wait only when nothing is new: mail that came while the last ones ran was
                // announced then, not during the next IDLE, and would wait for its renewal.
                if news.is_empty() {
                    connection = if connection.idle {
                        connection.idle_until_news(IDLE_FOR).await.map_err(|e| e.message)?
                    } else {
                        tokio::time::sleep(poll).await;
                        connection
                    };
                    continue;
                }
                for uid in news {
                    let raw = connection.fetch(uid).await.map_err(|e| e.message)?;
                    let blobs = with_files.then(|| listening.blobs.for_run());
                    let parsed = match &raw {
                        Some(raw) => Some(item(raw, uid, &name, blobs.as_ref()).await),
                        None => None,
                    };
                    // Stored before the run starts: a restart never starts it again.
                    listening.state.set("lastUid", &uid.to_string())?;
                    last = uid;
                    let started = match parsed {
                        Some(Ok(item)) => match (listening.fire)(vec![item]) {
                            Ok(started) => started,
                            Err(why) => {
                                tracing::warn!(uid, "a new message starts no run: {why}");
                                continue;
                            }
                        },
                        Some(Err(e)) => {
                            tracing::warn!(uid, "a new message starts no run: {}", e.message);
                            continue;
                        }
                        None => continue,
                    };
                    if after_run == "none" {
                        continue;
                    }
                    // After the run, and only when it succeeded: a message whose run failed
                    // stays unread where it was, for someone to look at.
                    let status = started.finished.await;
                    if status != Some(RunStatus::Success) {
                        tracing::warn!(uid, execution = %started.execution_id, ?status, "the run did not succeed: the message is left as it is");
                        continue;
                    }
                    match after_run.as_str() {
                        "read" => connection.mark_read(uid).await.map_err(|e| e.message)?,
                        "move" => connection.move_to(uid, &move_to).await.map_err(|e| e.message)?,
                        _ => {}
                    }
                }
            }
        }
        .await;
        if let Err(why) = outcome {
            (listening.status)(Some(format!(
                "not watching the mailbox: {why}; trying again in {} s",
                pause.next().as_secs()
            )));
            pause.wait().await;
        }
    }
}

/// Run by hand: the message that started the run, or the newest message of the mailbox (read
/// only: nothing is marked or stored).
pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let items = ctx.take_run_input();
    if !items.is_empty() {
        return Ok(Outputs::main(items));
    }
    let (_, fields) = super::account_fields(ctx, SLOT, "IMAP account to watch").await?;
    let name = mailbox(&ctx.node, &fields);
    let mut connection = crate::email::imap::connect(&fields).await?;
    let newest = async {
        connection.select(&name).await?;
        let Some(uid) = connection.uids_after(0).await?.last().copied() else { return Ok(None) };
        connection.fetch(uid).await.map(|raw| raw.map(|raw| (uid, raw)))
    }
    .await;
    connection.logout().await;
    let with_files = ctx.node.parameters.get("attachments").and_then(|v| v.as_bool()).unwrap_or(true);
    match newest? {
        Some((uid, raw)) => {
            let blobs = with_files.then_some(&ctx.services.blobs);
            Ok(Outputs::main(vec![item(&raw, uid, &name, blobs).await?]))
        }
        None => Ok(Outputs::new()),
    }
}
