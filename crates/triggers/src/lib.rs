//! Triggers: the webhook listener (axum on 127.0.0.1) with the signature checks webhook
//! senders use, and the scheduler's rules. What a delivery or a fire starts is up to the
//! host (crates/api), through [`listener::Target`] and [`scheduler::Fire`].

pub mod listener;
pub mod replay;
pub mod scheduler;
pub mod watcher;
