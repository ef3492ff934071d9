//! Leases: which one of several processes sharing a PostgreSQL store does a thing that must
//! happen once (firing the schedules, polling a mailbox). A lease is a session advisory lock
//! held on a connection of its own: the server releases it when that session ends, so when
//! the holder dies (SIGKILL, a lost machine, a cut network) another process takes it at its
//! next try. On SQLite, one machine's store, every process holds every lease.

use crate::Location;
use crate::sql::postgres::Postgres;
use crate::sql::{Backend, params};

/// A named lease on the store's database.
pub struct Lease {
    name: String,
    url: Option<String>,
    key: i64,
    conn: Option<Postgres>,
    held: bool,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Lease({}, held: {})", self.name, self.held)
    }
}

impl Lease {
    pub(crate) fn new(location: &Location, name: &str) -> Lease {
        let url = match location {
            Location::Postgres(url) => Some(url.clone()),
            Location::File(_) => None,
        };
        Lease {
            name: name.to_string(),
            url,
            key: crate::owner::advisory_key(&format!("lease:{name}")),
            conn: None,
            held: false,
        }
    }

    /// Whether this process holds the lease now: taken when it is free, and a held one
    /// checked to be still held (its session alive; a connection that broke has lost it).
    /// Failures to reach the database count as not holding it.
    pub fn check(&mut self) -> bool {
        let Some(url) = &self.url else { return true };
        if self.conn.is_none() {
            self.held = false;
            match Postgres::connect(url) {
                Ok(conn) => self.conn = Some(conn),
                Err(e) => {
                    tracing::warn!(lease = %self.name, "cannot reach the database for the lease: {e}");
                    return false;
                }
            }
        }
        let Some(conn) = self.conn.as_mut() else { return false };
        let conn: &mut dyn Backend = conn;
        let answer = if self.held {
            conn.query_row("SELECT 1", params![], |r| r.get::<i64>(0)).map(|_| true)
        } else {
            conn.query_row("SELECT pg_try_advisory_lock(?1)", params![self.key], |r| r.get::<bool>(0))
        };
        match answer {
            Ok(held) => self.held = held,
            Err(e) => {
                tracing::warn!(lease = %self.name, "lost the connection that holds the lease: {e}");
                self.conn = None;
                self.held = false;
            }
        }
        self.held
    }

    /// Gives the lease up at once (another process may take it at its next try).
    pub fn release(&mut self) {
        self.conn = None;
        self.held = false;
    }
}
