//! AI agents' conversations: the messages of each (workflow, agent node, conversation key),
//! in order; the oldest go once a conversation holds more than it may keep.

use crate::Db;
use crate::error::Result;
use crate::sql::params;
use std::sync::Arc;

/// Messages a conversation keeps at most (agents read a window of the last ones).
pub const KEEP: i64 = 1000;

#[derive(Debug, Clone)]
pub struct Conversations {
    db: Arc<Db>,
}

impl Conversations {
    pub(crate) fn new(db: Arc<Db>) -> Conversations {
        Conversations { db }
    }

    /// The last `window` messages (role, content), oldest first.
    pub fn recall(
        &self,
        workflow_id: &str,
        node_id: &str,
        session: &str,
        window: u32,
    ) -> Result<Vec<(String, String)>> {
        Ok(self.db.lock().query_map(
            "SELECT role, content FROM (SELECT seq, role, content FROM agent_memory
               WHERE workflow_id = ?1 AND node_id = ?2 AND session = ?3 ORDER BY seq DESC LIMIT ?4) AS recent
             ORDER BY seq",
            params![workflow_id, node_id, session, window],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    /// Adds messages (role, content) at the end, in one transaction, and forgets what is
    /// beyond [`KEEP`].
    pub fn remember(
        &self,
        workflow_id: &str,
        node_id: &str,
        session: &str,
        messages: &[(String, String)],
        at: &str,
    ) -> Result<()> {
        let mut conn = self.db.lock();
        // Write-locked from the start: a read that turns into a write fails at once when
        // another connection wrote meanwhile.
        let mut tx = conn.transaction()?;
        let last: Option<i64> = tx
            .query_opt(
                "SELECT MAX(seq) FROM agent_memory WHERE workflow_id = ?1 AND node_id = ?2 AND session = ?3",
                params![workflow_id, node_id, session],
                |r| r.get(0),
            )?
            .flatten();
        let mut seq = last.unwrap_or(0);
        for (role, content) in messages {
            seq += 1;
            tx.execute(
                "INSERT INTO agent_memory (workflow_id, node_id, session, seq, role, content, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![workflow_id, node_id, session, seq, role, content, at],
            )?;
        }
        tx.execute(
            "DELETE FROM agent_memory WHERE workflow_id = ?1 AND node_id = ?2 AND session = ?3 AND seq <= ?4",
            params![workflow_id, node_id, session, seq - KEEP],
        )?;
        tx.commit()?;
        Ok(())
    }
}

impl Conversations {
    /// Forgets the conversations whose last message is older than `before` (RFC 3339), with
    /// the execution history's age limit: a webhook caller inventing new keys cannot make
    /// them pile up forever. Returns how many messages went.
    pub fn forget_before(&self, before: &str) -> Result<u64> {
        let deleted = self.db.lock().execute(
            "DELETE FROM agent_memory WHERE (workflow_id, node_id, session) IN
               (SELECT workflow_id, node_id, session FROM agent_memory
                GROUP BY workflow_id, node_id, session HAVING MAX(at) < ?1)",
            params![before],
        )?;
        Ok(deleted as u64)
    }
}

#[cfg(test)]
mod tests {
    use crate::Store;

    #[test]
    fn conversations_keep_their_order_and_only_the_window_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in(dir.path()).unwrap();
        let c = store.conversations();
        let m = |r: &str, t: &str| (r.to_string(), t.to_string());
        c.remember("w", "agent", "chat-1", &[m("user", "hi"), m("assistant", "hello")], "t1").unwrap();
        c.remember("w", "agent", "chat-1", &[m("user", "again"), m("assistant", "yes")], "t2").unwrap();
        c.remember("w", "agent", "chat-2", &[m("user", "other")], "t2").unwrap();
        assert_eq!(
            c.recall("w", "agent", "chat-1", 3).unwrap(),
            vec![m("assistant", "hello"), m("user", "again"), m("assistant", "yes")]
        );
        assert_eq!(c.recall("w", "agent", "chat-2", 10).unwrap(), vec![m("user", "other")]);
        assert!(c.recall("w", "other-node", "chat-1", 10).unwrap().is_empty());
        // A conversation is forgotten whole, once its last message is old.
        c.remember("w", "agent", "chat-2", &[m("user", "later")], "t4").unwrap();
        assert_eq!(c.forget_before("t3").unwrap(), 4, "chat-1 ended at t2");
        assert!(c.recall("w", "agent", "chat-1", 10).unwrap().is_empty());
        assert_eq!(c.recall("w", "agent", "chat-2", 10).unwrap(), vec![m("user", "other"), m("user", "later")]);
    }
}
