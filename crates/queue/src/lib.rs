//! The run queue of server mode: Redis Streams (Redis 7).
//!
//! `switchyard serve --queue redis://…` (a *main*) puts each run a trigger starts on the
//! stream [`RUNS`] instead of running it; `switchyard worker` processes read it through the
//! consumer group [`GROUP`] and run them. The rules:
//!
//! - **Acknowledged after the final record.** A worker acknowledges (`XACK`) a run's message
//!   only once the run's final execution record is committed to the shared store.
//! - **At least once.** A worker that dies leaves its messages pending; after the visibility
//!   timeout another worker claims them (`XAUTOCLAIM`) and runs them again from the start.
//!   A message whose run already has a final record is only acknowledged.
//! - **Heartbeats.** A worker resets the idle time of the messages it is running every third
//!   of the visibility timeout (`XCLAIM … JUSTID`), so a long run is not claimed while alive.
//! - **Dead letters.** A message delivered [`QueueConfig::max_deliveries`] times (its run
//!   crashed that many workers) goes to the stream [`DEAD`] and is acknowledged.
//! - **Replies.** A main that waits for a run's answer (a webhook in "last node" or "respond
//!   node" mode) names its own reply stream in the message; the worker adds the Respond node's
//!   answer and the run's end there.
//!
//! Connections reconnect by themselves with exponential backoff (redis's connection
//! manager); blocking reads have connections of their own.

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Value, cmd};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use switchyard_model::webhook::WebhookReply;

/// The stream of runs to do.
pub const RUNS: &str = "switchyard:runs";
/// The consumer group the workers share.
pub const GROUP: &str = "switchyard-workers";
/// Runs that crashed workers too often.
pub const DEAD: &str = "switchyard:runs:dead";
/// Entries a reply stream keeps at most (they are read within moments).
const REPLY_KEEP: usize = 10_000;
/// The field each entry keeps its JSON in.
const FIELD: &str = "m";

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("the run queue at {url}: {message}")]
    Redis { url: String, message: String },
    #[error("a queue message cannot be read: {0}")]
    Message(String),
}

pub type Result<T> = std::result::Result<T, QueueError>;

/// How a queue behaves.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// How long a message may go without a heartbeat before another worker claims it.
    pub visibility: Duration,
    /// Deliveries after which a message is a dead letter.
    pub max_deliveries: u32,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig { visibility: Duration::from_secs(30), max_deliveries: 3 }
    }
}

/// A run to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunMessage {
    pub execution_id: String,
    /// The saved workflow to run (as saved when a worker starts the run).
    pub workflow_id: String,
    /// `webhook`, `schedule`, `trigger`…
    pub mode: String,
    /// The trigger node it starts from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_node: Option<String>,
    /// The trigger's items, as JSON.
    pub input: String,
    /// Where to send the run's answer, when a main waits for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// Whether the main waits for a Respond to Webhook node's answer.
    #[serde(default)]
    pub respond_node: bool,
    /// When it was put on the queue (Unix ms).
    pub enqueued_ms: i64,
}

/// A message read from the queue.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The stream entry's id.
    pub id: String,
    pub message: RunMessage,
    /// How often it was delivered (1 the first time).
    pub deliveries: u32,
}

/// What a worker tells the main that waits for a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Reply {
    /// A Respond to Webhook node's answer.
    Respond { execution_id: String, reply: WebhookReply },
    /// The run ended: its status (`success`, `error`…), its last nodes' items (JSON), and
    /// its error (JSON) if it failed.
    Finished {
        execution_id: String,
        status: String,
        result: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
}

impl Reply {
    pub fn execution_id(&self) -> &str {
        match self {
            Reply::Respond { execution_id, .. } | Reply::Finished { execution_id, .. } => execution_id,
        }
    }
}

/// How full the queue is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueStats {
    /// Entries in the stream (read or not, until trimmed).
    pub length: u64,
    /// Read by a worker and not acknowledged yet.
    pub pending: u64,
    /// Not yet read by any worker.
    pub waiting: u64,
    /// Dead letters.
    pub dead: u64,
}

/// A connection to the queue.
#[derive(Clone)]
pub struct Queue {
    url: String,
    conn: ConnectionManager,
    config: QueueConfig,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Queue({})", self.url)
    }
}

/// `redis://host:port/db` with any password hidden, for messages.
pub fn redact(url: &str) -> String {
    match url.split_once('@') {
        Some((scheme_user, host)) => match scheme_user.rsplit_once(':') {
            Some((scheme_and_user, _password)) if scheme_and_user.contains("//") => {
                format!("{scheme_and_user}:***@{host}")
            }
            _ => format!("{scheme_user}@{host}"),
        },
        None => url.to_string(),
    }
}

impl Queue {
    /// Connects (waiting up to 10 s for the server) and makes sure the stream and the
    /// workers' group exist.
    pub async fn connect(url: &str, config: QueueConfig) -> Result<Queue> {
        let conn = Queue::manager(url, None).await?;
        let queue = Queue { url: url.to_string(), conn, config };
        let created: redis::RedisResult<Value> = cmd("XGROUP")
            .arg("CREATE")
            .arg(RUNS)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut queue.conn())
            .await;
        match created {
            Ok(_) => {}
            Err(e) if e.to_string().contains("BUSYGROUP") => {}
            Err(e) => return Err(queue.error(e)),
        }
        Ok(queue)
    }

    async fn manager(url: &str, response_timeout: Option<Duration>) -> Result<ConnectionManager> {
        let error = |e: redis::RedisError| QueueError::Redis { url: redact(url), message: e.to_string() };
        let client = redis::Client::open(url).map_err(error)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(10)))
            .set_response_timeout(response_timeout.or(Some(Duration::from_secs(30))))
            .set_min_delay(Duration::from_millis(100))
            .set_max_delay(Duration::from_secs(5))
            .set_number_of_retries(8);
        ConnectionManager::new_with_config(client, config).await.map_err(error)
    }

    /// Another connection to the same queue, for blocking reads (a blocked connection holds
    /// up every command behind it).
    pub async fn reader(&self) -> Result<Queue> {
        let conn = Queue::manager(&self.url, Some(Duration::from_secs(60))).await?;
        Ok(Queue { url: self.url.clone(), conn, config: self.config.clone() })
    }

    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    /// The URL, its password hidden.
    pub fn describe(&self) -> String {
        redact(&self.url)
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    fn error(&self, e: redis::RedisError) -> QueueError {
        QueueError::Redis { url: redact(&self.url), message: e.to_string() }
    }

    /// Puts a run on the queue; returns its entry's id. Redis has it (and, with AOF, on
    /// disk per its `appendfsync`) when this returns.
    pub async fn enqueue(&self, message: &RunMessage) -> Result<String> {
        let json = serde_json::to_string(message).map_err(|e| QueueError::Message(e.to_string()))?;
        cmd("XADD")
            .arg(RUNS)
            .arg("*")
            .arg(FIELD)
            .arg(json)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.error(e))
    }

    /// Up to `count` new messages for `consumer`, waiting up to `block` for the first.
    pub async fn read(&self, consumer: &str, count: usize, block: Duration) -> Result<Vec<Delivery>> {
        let value: Value = cmd("XREADGROUP")
            .arg("GROUP")
            .arg(GROUP)
            .arg(consumer)
            .arg("COUNT")
            .arg(count.max(1))
            .arg("BLOCK")
            .arg(block.as_millis() as u64)
            .arg("STREAMS")
            .arg(RUNS)
            .arg(">")
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.error(e))?;
        let mut out = Vec::new();
        for stream in array(&value) {
            let parts = array(stream);
            if let Some(entries) = parts.get(1) {
                for (id, json) in entries_of(entries) {
                    out.push(Delivery { id, message: parse(&json)?, deliveries: 1 });
                }
            }
        }
        Ok(out)
    }

    /// Claims up to `count` messages other workers read and left without a heartbeat for
    /// the visibility timeout (dead workers'), with how often each was delivered.
    pub async fn claim_stale(&self, consumer: &str, count: usize) -> Result<Vec<Delivery>> {
        let value: Value = cmd("XAUTOCLAIM")
            .arg(RUNS)
            .arg(GROUP)
            .arg(consumer)
            .arg(self.config.visibility.as_millis() as u64)
            .arg("0-0")
            .arg("COUNT")
            .arg(count.max(1))
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.error(e))?;
        let parts = array(&value);
        let Some(entries) = parts.get(1) else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for (id, json) in entries_of(entries) {
            let deliveries = self.deliveries(&id).await?;
            out.push(Delivery { id, message: parse(&json)?, deliveries });
        }
        Ok(out)
    }

    /// How often the message `id` was delivered (XPENDING).
    async fn deliveries(&self, id: &str) -> Result<u32> {
        let value: Value = cmd("XPENDING")
            .arg(RUNS)
            .arg(GROUP)
            .arg(id)
            .arg(id)
            .arg(1)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.error(e))?;
        Ok(array(&value).first().and_then(|entry| array(entry).get(3).and_then(int)).unwrap_or(1) as u32)
    }

    /// Resets the idle time of messages `consumer` is still running.
    pub async fn heartbeat(&self, consumer: &str, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut c = cmd("XCLAIM");
        c.arg(RUNS).arg(GROUP).arg(consumer).arg(0);
        for id in ids {
            c.arg(id);
        }
        let _: Value = c.arg("JUSTID").query_async(&mut self.conn()).await.map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Acknowledges a message: its run's final record is committed.
    pub async fn ack(&self, id: &str) -> Result<()> {
        let _: Value =
            cmd("XACK").arg(RUNS).arg(GROUP).arg(id).query_async(&mut self.conn()).await.map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Moves a message to the dead letters (with why) and acknowledges it, atomically.
    pub async fn dead_letter(&self, delivery: &Delivery, reason: &str) -> Result<()> {
        let json = serde_json::json!({
            "id": delivery.id, "deliveries": delivery.deliveries, "reason": reason, "message": delivery.message,
        });
        let _: Value = redis::pipe()
            .atomic()
            .cmd("XADD")
            .arg(DEAD)
            .arg("*")
            .arg(FIELD)
            .arg(json.to_string())
            .cmd("XACK")
            .arg(RUNS)
            .arg(GROUP)
            .arg(&delivery.id)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// The newest dead letters first (at most `count`), each with `deadAtMs`: when it became
    /// one (its entry's time).
    pub async fn dead_letters(&self, count: usize) -> Result<Vec<serde_json::Value>> {
        let value: Value = cmd("XREVRANGE")
            .arg(DEAD)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(count.max(1))
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.error(e))?;
        entries_of(&value)
            .into_iter()
            .map(|(id, json)| {
                let mut letter: serde_json::Value =
                    serde_json::from_str(&json).map_err(|e| QueueError::Message(e.to_string()))?;
                let at: Option<i64> = id.split('-').next().and_then(|ms| ms.parse().ok());
                if let (Some(object), Some(at)) = (letter.as_object_mut(), at) {
                    object.insert("deadAtMs".into(), at.into());
                }
                Ok(letter)
            })
            .collect()
    }

    /// Sends a reply to the main that waits on stream `to`.
    pub async fn reply(&self, to: &str, reply: &Reply) -> Result<()> {
        let json = serde_json::to_string(reply).map_err(|e| QueueError::Message(e.to_string()))?;
        let _: Value = cmd("XADD")
            .arg(to)
            .arg("MAXLEN")
            .arg("~")
            .arg(REPLY_KEEP)
            .arg("*")
            .arg(FIELD)
            .arg(json)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Replies on stream `key` after entry `after` (`$`: only new ones), waiting up to
    /// `block`; returns them with the id to read after next.
    pub async fn replies(&self, key: &str, after: &str, block: Duration) -> Result<(Vec<Reply>, String)> {
        let value: Value = cmd("XREAD")
            .arg("COUNT")
            .arg(1000)
            .arg("BLOCK")
            .arg(block.as_millis() as u64)
            .arg("STREAMS")
            .arg(key)
            .arg(after)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.error(e))?;
        let mut last = after.to_string();
        let mut out = Vec::new();
        for stream in array(&value) {
            if let Some(entries) = array(stream).get(1) {
                for (id, json) in entries_of(entries) {
                    last = id;
                    out.push(serde_json::from_str(&json).map_err(|e| QueueError::Message(e.to_string()))?);
                }
            }
        }
        Ok((out, last))
    }

    /// The id of the newest entry of stream `key` (`0-0` when empty): read replies after it.
    pub async fn last_id(&self, key: &str) -> Result<String> {
        let value: Value = cmd("XREVRANGE")
            .arg(key)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.error(e))?;
        Ok(entries_of(&value).into_iter().next().map(|(id, _)| id).unwrap_or_else(|| "0-0".into()))
    }

    /// Deletes a reply stream (a main that stops).
    pub async fn drop_stream(&self, key: &str) -> Result<()> {
        let _: Value = cmd("DEL").arg(key).query_async(&mut self.conn()).await.map_err(|e| self.error(e))?;
        Ok(())
    }

    /// The queue's length, pending and waiting messages, and dead letters.
    pub async fn stats(&self) -> Result<QueueStats> {
        let length: u64 = cmd("XLEN").arg(RUNS).query_async(&mut self.conn()).await.map_err(|e| self.error(e))?;
        let dead: u64 = cmd("XLEN").arg(DEAD).query_async(&mut self.conn()).await.map_err(|e| self.error(e))?;
        let groups: Value =
            cmd("XINFO").arg("GROUPS").arg(RUNS).query_async(&mut self.conn()).await.map_err(|e| self.error(e))?;
        let (mut pending, mut waiting) = (0, 0);
        for group in array(&groups) {
            let fields = pairs(group);
            if fields.iter().any(|(k, v)| k == "name" && text(v).as_deref() == Some(GROUP)) {
                for (k, v) in &fields {
                    match k.as_str() {
                        "pending" => pending = int(v).unwrap_or(0) as u64,
                        "lag" => waiting = int(v).unwrap_or(0) as u64,
                        _ => {}
                    }
                }
            }
        }
        Ok(QueueStats { length, pending, waiting, dead })
    }
}

fn parse(json: &str) -> Result<RunMessage> {
    serde_json::from_str(json).map_err(|e| QueueError::Message(format!("{e}: {json}")))
}

fn array(value: &Value) -> &[Value] {
    match value {
        Value::Array(items) | Value::Set(items) => items,
        _ => &[],
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

fn int(value: &Value) -> Option<i64> {
    match value {
        Value::Int(i) => Some(*i),
        other => text(other).and_then(|t| t.parse().ok()),
    }
}

/// A flat `[key, value, key, value…]` reply (or a map) as pairs.
fn pairs(value: &Value) -> Vec<(String, Value)> {
    match value {
        Value::Map(map) => map.iter().filter_map(|(k, v)| Some((text(k)?, v.clone()))).collect(),
        other => array(other).chunks(2).filter_map(|p| Some((text(p.first()?)?, p.get(1)?.clone()))).collect(),
    }
}

/// Stream entries `[[id, [field, value…]]…]` as (id, the JSON field), skipping entries
/// deleted meanwhile (a nil body).
fn entries_of(value: &Value) -> Vec<(String, String)> {
    array(value)
        .iter()
        .filter_map(|entry| {
            let parts = array(entry);
            let id = text(parts.first()?)?;
            let body = pairs(parts.get(1)?).into_iter().find(|(k, _)| k == FIELD).and_then(|(_, v)| text(&v))?;
            Some((id, body))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_hidden_in_urls() {
        assert_eq!(super::redact("redis://:s3cret@127.0.0.1:6379/0"), "redis://:***@127.0.0.1:6379/0");
        assert_eq!(super::redact("redis://user:pw@host/1"), "redis://user:***@host/1");
        assert_eq!(super::redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }
}
