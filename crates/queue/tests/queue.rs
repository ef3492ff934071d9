//! The run queue against a real Redis 7 (started per test, append-only file on).

use std::time::Duration;
use switchyard_queue::{Queue, QueueConfig, Reply, RunMessage};
use switchyard_testkit::servers::Redis;

fn message(n: u32) -> RunMessage {
    RunMessage {
        execution_id: format!("e{n}"),
        workflow_id: "w".into(),
        mode: "webhook".into(),
        start_node: Some("hook".into()),
        input: format!(r#"[{{"json":{{"n":{n}}}}}]"#),
        reply_to: None,
        respond_node: false,
        enqueued_ms: 0,
    }
}

fn quick() -> QueueConfig {
    QueueConfig { visibility: Duration::from_millis(600), max_deliveries: 3 }
}

#[tokio::test]
async fn messages_go_to_one_worker_and_stay_pending_until_acknowledged() {
    let redis = Redis::start();
    let queue = Queue::connect(&redis.url(), quick()).await.unwrap();
    for n in 0..5 {
        queue.enqueue(&message(n)).await.unwrap();
    }
    let (a, b) = (queue.reader().await.unwrap(), queue.reader().await.unwrap());
    let got_a = a.read("a", 3, Duration::from_millis(100)).await.unwrap();
    let got_b = b.read("b", 10, Duration::from_millis(100)).await.unwrap();
    assert_eq!((got_a.len(), got_b.len()), (3, 2), "each message to one consumer");
    let mut ids: Vec<_> = got_a.iter().chain(&got_b).map(|d| d.message.execution_id.clone()).collect();
    ids.sort();
    assert_eq!(ids, ["e0", "e1", "e2", "e3", "e4"]);
    assert_eq!(got_a[0].message, message(0), "the message as sent");
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.length, stats.pending, stats.waiting), (5, 5, 0));
    for d in got_a.iter().chain(&got_b) {
        queue.ack(&d.id).await.unwrap();
    }
    assert_eq!(queue.stats().await.unwrap().pending, 0);
    // Nothing new: a read waits and returns empty.
    assert!(a.read("a", 1, Duration::from_millis(100)).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_dead_workers_messages_are_claimed_after_the_visibility_timeout_unless_it_beats() {
    let redis = Redis::start();
    let queue = Queue::connect(&redis.url(), quick()).await.unwrap();
    queue.enqueue(&message(1)).await.unwrap();
    queue.enqueue(&message(2)).await.unwrap();
    let taken = queue.read("alive", 2, Duration::from_millis(100)).await.unwrap();
    assert_eq!(taken.len(), 2);
    // Not yet stale.
    assert!(queue.claim_stale("other", 10).await.unwrap().is_empty());
    // "alive" keeps beating for e1 only; e2's worker is as good as dead.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        queue.heartbeat("alive", &[taken[0].id.clone()]).await.unwrap();
    }
    let claimed = queue.claim_stale("other", 10).await.unwrap();
    assert_eq!(claimed.len(), 1, "{claimed:?}");
    assert_eq!((claimed[0].message.execution_id.as_str(), claimed[0].deliveries), ("e2", 2));
}

#[tokio::test]
async fn a_message_delivered_too_often_becomes_a_dead_letter() {
    let redis = Redis::start();
    let queue = Queue::connect(&redis.url(), quick()).await.unwrap();
    queue.enqueue(&message(7)).await.unwrap();
    let first = queue.read("w1", 1, Duration::from_millis(100)).await.unwrap().remove(0);
    let mut last = first;
    for worker in ["w2", "w3"] {
        tokio::time::sleep(Duration::from_millis(700)).await;
        last = queue.claim_stale(worker, 1).await.unwrap().remove(0);
    }
    assert_eq!(last.deliveries, 3);
    queue.dead_letter(&last, "crashed 3 workers").await.unwrap();
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.pending, stats.dead), (0, 1));
    let dead = queue.dead_letters(10).await.unwrap();
    assert_eq!(dead[0]["message"]["executionId"], "e7");
    assert_eq!(dead[0]["reason"], "crashed 3 workers");
    assert!(dead[0]["deadAtMs"].as_i64().is_some_and(|ms| ms > 1_700_000_000_000), "{}", dead[0]);
}

#[tokio::test]
async fn replies_reach_the_main_that_waits_on_its_stream() {
    let redis = Redis::start();
    let queue = Queue::connect(&redis.url(), quick()).await.unwrap();
    let reader = queue.reader().await.unwrap();
    let after = queue.last_id("replies:m1").await.unwrap();
    let waiting = tokio::spawn(async move { reader.replies("replies:m1", &after, Duration::from_secs(5)).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let reply =
        Reply::Finished { execution_id: "e1".into(), status: "success".into(), result: "[]".into(), error: None };
    queue.reply("replies:m1", &reply).await.unwrap();
    let (got, last) = waiting.await.unwrap().unwrap();
    assert_eq!(got, vec![reply]);
    assert_ne!(last, "0-0");
}

#[tokio::test]
async fn a_restarted_redis_keeps_what_was_enqueued_and_clients_reconnect() {
    let mut redis = Redis::start();
    let queue = Queue::connect(&redis.url(), quick()).await.unwrap();
    for n in 0..20 {
        queue.enqueue(&message(n)).await.unwrap();
    }
    redis.restart(Duration::from_millis(500));
    // The same client, reconnected with backoff.
    let mut read = Vec::new();
    for _ in 0..50 {
        match queue.read("w", 100, Duration::from_millis(100)).await {
            Ok(batch) => {
                read.extend(batch);
                if read.len() >= 20 {
                    break;
                }
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    assert_eq!(read.len(), 20, "every enqueued message survived the restart");
    queue.enqueue(&message(99)).await.unwrap();
}
