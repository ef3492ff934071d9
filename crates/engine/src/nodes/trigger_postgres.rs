//! Postgres Trigger: LISTENs on a channel of a PostgreSQL account while the workflow is
//! active; each NOTIFY starts a run with its payload. A dropped connection is opened again
//! with growing pauses (1 s up to 60 s) and reported as a trigger problem meanwhile.
//! Notifications sent while no connection listens are lost: PostgreSQL keeps them for the
//! sessions listening when they are sent, not for later ones.

use crate::node::{NodeContext, NodeResult, Outputs};
use crate::registry::{CheckContext, NodeEntry};
use crate::trigger::{Backoff, Listening, Trigger};
use switchyard_model::descriptor::{CredentialSlot, NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::ValidationIssue;
use switchyard_model::item::Item;
use switchyard_model::value::{Object, Value};
use switchyard_model::workflow::Node;

pub const TYPE: &str = "trigger.postgres";

/// The credential slot of the PostgreSQL account.
pub const SLOT: &str = "database";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx)))
        .with_trigger(Trigger::Listen { check: config_check, serve: |l| Box::pin(serve(l)) })
        .with_check(check)
}

pub fn descriptor() -> NodeDescriptor {
    let mut d =
        super::descriptor(
            TYPE,
            "Postgres Trigger",
            "Starts the workflow for each NOTIFY on a PostgreSQL channel while the workflow is active. Emits {channel, \
         payload, processId, receivedAt}; a JSON payload arrives as an object.",
            NodeGroup::Trigger,
            "database",
            vec![Port::main()],
            vec![
                ParamSpec::string("channel", "Channel").required().literal().placeholder("orders").describe(
                    "Listens with LISTEN \"channel\"; send with NOTIFY orders, '…' or pg_notify('orders', …).",
                ),
                ParamSpec::boolean("parseJson", "Payload as JSON", true)
                    .describe("A payload that is JSON arrives as its value; anything else as text."),
            ],
        );
    d.credentials = vec![CredentialSlot {
        name: SLOT.into(),
        label: "PostgreSQL account".into(),
        connection_types: vec!["db.postgres".into()],
        required: true,
        url_parameter: None,
        per_entry: None,
    }];
    d
}

fn channel(node: &Node) -> String {
    node.parameters.get("channel").and_then(|v| v.as_str()).unwrap_or("").trim().to_string()
}

fn config_check(node: &Node) -> Result<(), String> {
    let channel = channel(node);
    if channel.is_empty() {
        return Err("channel: name the channel to LISTEN on".into());
    }
    if channel.len() > 63 || channel.contains('\0') {
        return Err(format!("channel: \"{channel}\" is not a PostgreSQL identifier (at most 63 bytes)"));
    }
    Ok(())
}

fn check(node: &Node, cx: &CheckContext<'_>) -> Vec<ValidationIssue> {
    crate::trigger::config_issues(node, cx, config_check)
}

/// The item a notification starts its run with.
fn item(channel: &str, payload: &str, process_id: u32, parse_json: bool, received_at: String) -> Item {
    let mut json = Object::new();
    json.insert("channel", Value::from(channel.to_string()));
    let value =
        if parse_json { serde_json::from_str::<serde_json::Value>(payload).ok().map(Value::from) } else { None };
    json.insert("payload", value.unwrap_or_else(|| Value::from(payload.to_string())));
    json.insert("processId", Value::Int(i64::from(process_id)));
    json.insert("receivedAt", Value::from(received_at));
    Item::new(Value::object(json))
}

/// Holds the LISTEN connection while served; starts a run per notification.
async fn serve(listening: Listening) {
    let channel = channel(&listening.node);
    let parse_json = listening.node.parameters.get("parseJson").and_then(|v| v.as_bool()).unwrap_or(true);
    let Some(reference) = listening.node.credentials.get(SLOT).cloned() else {
        return (listening.status)(Some("pick the PostgreSQL account to listen on".into()));
    };
    let mut pause = Backoff::default();
    loop {
        let connected = async {
            let provider = listening.credentials.clone().ok_or("no credential vault is available".to_string())?;
            let fields = provider.fields(&reference).await.map_err(|e| e.message)?;
            let mut listener = crate::db::listener(&fields).await.map_err(|e| e.message)?;
            listener.eager_reconnect(true);
            listener.listen(&channel).await.map_err(|e| crate::db::sqlx_error(e).message)?;
            Ok::<_, String>(listener)
        }
        .await;
        match connected {
            Ok(mut listener) => {
                (listening.status)(None);
                pause.reset();
                tracing::info!(workflow = %listening.workflow_id, channel = %channel, "listening for PostgreSQL notifications");
                let lost = loop {
                    match listener.try_recv().await {
                        Ok(Some(n)) => {
                            let received = crate::clock::rfc3339(listening.clock.now());
                            let item = item(n.channel(), n.payload(), n.process_id(), parse_json, received);
                            if let Err(why) = (listening.fire)(vec![item]) {
                                tracing::warn!(channel = %channel, "a notification starts no run: {why}");
                            }
                        }
                        // The connection dropped and sqlx opened it again and listens
                        // again (eager reconnect); notifications in between are lost.
                        Ok(None) => {
                            tracing::warn!(channel = %channel, "the LISTEN connection was lost and opened again")
                        }
                        Err(e) => break crate::db::sqlx_error(e).message,
                    }
                };
                (listening.status)(Some(format!("not listening on \"{channel}\": {lost}; connecting again")));
                tokio::time::sleep(pause.next()).await;
            }
            Err(why) => {
                (listening.status)(Some(format!(
                    "cannot listen on \"{channel}\": {why}; trying again in {} s",
                    pause.next().as_secs()
                )));
                pause.wait().await;
            }
        }
    }
}

/// Run by hand: the notification that started the run, or an item without a payload.
pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let items = ctx.take_run_input();
    if !items.is_empty() {
        return Ok(Outputs::main(items));
    }
    let now = crate::clock::rfc3339(ctx.services.clock.now());
    let mut item = item(&channel(&ctx.node), "", 0, false, now);
    if let Some(json) = item.json.as_object_mut() {
        json.insert("payload", Value::Null);
    }
    Ok(Outputs::main(vec![item]))
}
