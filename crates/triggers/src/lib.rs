//! Triggers. For now: checking the signatures webhook senders put on their requests.

pub mod signature;
