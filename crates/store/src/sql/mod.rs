//! The store's one seam between its operations and a database: the [`Backend`] trait, with
//! two implementations, [`sqlite`] (the embedded default) and [`postgres`] (server mode).
//!
//! Every store operation (workflows, executions, the vault's rows, metrics…) is written once,
//! against this trait, in SQL both databases run: `?1`-style placeholders (rewritten to `$1`
//! for PostgreSQL), `INSERT … ON CONFLICT`, integers for flags, and `rowid` (an identity
//! column in PostgreSQL's schema). The trait carries what differs: connecting, binding and
//! reading values, transactions, migrations, and how a failure is classed (a full disk or a
//! lost connection is worth retrying; a constraint is the caller's). What only one database
//! can do (SQLite's file backups and `PRAGMA` checks) stays with that backend.

pub(crate) mod postgres;
pub(crate) mod sqlite;

use std::fmt;

/// A value bound to a placeholder, borrowed from the caller.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Param<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

/// Anything that can be bound to a placeholder.
pub(crate) trait ToParam {
    fn param(&self) -> Param<'_>;
}

macro_rules! int_param {
    ($($t:ty),*) => {$(
        impl ToParam for $t {
            fn param(&self) -> Param<'_> {
                Param::Int(i64::try_from(*self).unwrap_or(i64::MAX))
            }
        }
    )*};
}
int_param!(i64, i32, u32, u64, usize, u8, u16, i16);

impl ToParam for bool {
    fn param(&self) -> Param<'_> {
        Param::Int(i64::from(*self))
    }
}

impl ToParam for f64 {
    fn param(&self) -> Param<'_> {
        Param::Real(*self)
    }
}

impl ToParam for str {
    fn param(&self) -> Param<'_> {
        Param::Text(self)
    }
}

impl ToParam for String {
    fn param(&self) -> Param<'_> {
        Param::Text(self)
    }
}

impl ToParam for [u8] {
    fn param(&self) -> Param<'_> {
        Param::Blob(self)
    }
}

impl ToParam for Vec<u8> {
    fn param(&self) -> Param<'_> {
        Param::Blob(self)
    }
}

impl<T: ToParam> ToParam for Option<T> {
    fn param(&self) -> Param<'_> {
        match self {
            Some(v) => v.param(),
            None => Param::Null,
        }
    }
}

impl<T: ToParam + ?Sized> ToParam for &T {
    fn param(&self) -> Param<'_> {
        (**self).param()
    }
}

/// The parameters of one statement: `params![a, b]`.
macro_rules! params {
    () => { &[] as &[&dyn $crate::sql::ToParam] };
    ($($p:expr),+ $(,)?) => { &[$(&$p as &dyn $crate::sql::ToParam),+] as &[&dyn $crate::sql::ToParam] };
}
pub(crate) use params;

/// One value of a result row, owned.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// One result row.
#[derive(Debug, Clone, Default)]
pub(crate) struct Row(pub(crate) Vec<Cell>);

impl Row {
    /// Column `i`, converted; a missing column or a value of another type is an error.
    pub(crate) fn get<T: FromCell>(&self, i: usize) -> Result<T, SqlError> {
        let cell = self.0.get(i).ok_or_else(|| SqlError::new(ErrorKind::Type, format!("no column {i} in the row")))?;
        T::from_cell(cell).ok_or_else(|| {
            SqlError::new(ErrorKind::Type, format!("column {i} holds {cell:?}, not {}", std::any::type_name::<T>()))
        })
    }
}

/// A type a column's value converts to.
pub(crate) trait FromCell: Sized {
    fn from_cell(cell: &Cell) -> Option<Self>;
}

macro_rules! int_cell {
    ($($t:ty),*) => {$(
        impl FromCell for $t {
            fn from_cell(cell: &Cell) -> Option<$t> {
                match cell {
                    Cell::Int(i) => <$t>::try_from(*i).ok(),
                    Cell::Real(f) if f.fract() == 0.0 => <$t>::try_from(*f as i64).ok(),
                    _ => None,
                }
            }
        }
    )*};
}
int_cell!(i64, i32, u32, u64, u16);

impl FromCell for bool {
    fn from_cell(cell: &Cell) -> Option<bool> {
        match cell {
            Cell::Int(i) => Some(*i != 0),
            _ => None,
        }
    }
}

impl FromCell for f64 {
    fn from_cell(cell: &Cell) -> Option<f64> {
        match cell {
            Cell::Int(i) => Some(*i as f64),
            Cell::Real(f) => Some(*f),
            _ => None,
        }
    }
}

impl FromCell for String {
    fn from_cell(cell: &Cell) -> Option<String> {
        match cell {
            Cell::Text(s) => Some(s.clone()),
            Cell::Blob(b) => String::from_utf8(b.clone()).ok(),
            _ => None,
        }
    }
}

impl FromCell for Vec<u8> {
    fn from_cell(cell: &Cell) -> Option<Vec<u8>> {
        match cell {
            Cell::Blob(b) => Some(b.clone()),
            Cell::Text(s) => Some(s.clone().into_bytes()),
            _ => None,
        }
    }
}

impl<T: FromCell> FromCell for Option<T> {
    fn from_cell(cell: &Cell) -> Option<Option<T>> {
        match cell {
            Cell::Null => Some(None),
            other => T::from_cell(other).map(Some),
        }
    }
}

/// What kind of failure a database reported: the store decides by it what to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// Mendable by trying again later: a full disk, an I/O error, a lock held past the
    /// timeout, a connection that dropped.
    Resource,
    /// A unique or foreign key constraint refused the write.
    Constraint,
    /// A query that must return a row returned none.
    NoRows,
    /// A value of an unexpected type.
    Type,
    Other,
}

/// A database failure, with the database's own words.
#[derive(Debug, Clone)]
pub struct SqlError {
    pub(crate) kind: ErrorKind,
    message: String,
}

impl SqlError {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> SqlError {
        SqlError { kind, message: message.into() }
    }

    /// Whether trying again later may succeed (a full disk, a lock, a dropped connection).
    pub fn is_resource(&self) -> bool {
        self.kind == ErrorKind::Resource
    }

    /// Whether a unique or foreign key constraint refused a write.
    pub fn is_constraint(&self) -> bool {
        self.kind == ErrorKind::Constraint
    }
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SqlError {}

pub(crate) type SqlResult<T> = std::result::Result<T, SqlError>;

/// Which database a backend talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// Puts every commit its connection made so far on disk (see [`Backend::syncer`]), or
/// does other upkeep of its database from another thread ([`Backend::checkpointer`]).
pub(crate) type Syncer = Box<dyn FnMut() -> SqlResult<()> + Send>;

/// One connection to the store's database. Every store operation runs through these few
/// calls; the helpers on `dyn Backend` (`query_row`, `query_map`, `transaction`…) build on
/// them.
pub(crate) trait Backend: Send {
    fn dialect(&self) -> Dialect;
    /// Runs a statement; returns how many rows it changed.
    fn execute(&mut self, sql: &str, params: &[&dyn ToParam]) -> SqlResult<usize>;
    /// Runs a query; returns its rows.
    fn query(&mut self, sql: &str, params: &[&dyn ToParam]) -> SqlResult<Vec<Row>>;
    /// Runs statements without parameters, one after the other.
    fn batch(&mut self, sql: &str) -> SqlResult<()>;
    /// Starts a transaction. `write`: one that will write, so SQLite takes its write lock at
    /// once (a read that turns into a write would fail when another connection wrote first).
    fn begin(&mut self, write: bool) -> SqlResult<()>;
    fn commit(&mut self) -> SqlResult<()>;
    fn rollback(&mut self) -> SqlResult<()>;
    /// Whether the next commits are on disk when they return (SQLite's `synchronous=FULL`,
    /// the default) or may be synced a moment later (`NORMAL`, for batches nobody waits on;
    /// [`Backend::sync_now`] then syncs them). PostgreSQL's commits are always synced.
    fn synced_commits(&mut self, _synced: bool) -> SqlResult<()> {
        Ok(())
    }
    /// Puts every commit made without a sync on disk.
    fn sync_now(&mut self) -> SqlResult<()> {
        Ok(())
    }
    /// [`Backend::sync_now`] for another thread: the history writer commits without a sync
    /// and goes on with its next batch while that thread syncs (and tells the runs waiting).
    /// None where commits are synced as they are made (PostgreSQL).
    fn syncer(&self) -> Option<Syncer> {
        None
    }
    /// Copies committed pages from a write-ahead log into the database on another thread,
    /// so the history writer does not stall on it (SQLite); None where the database does
    /// that itself (PostgreSQL).
    fn checkpointer(&self) -> Option<Syncer> {
        None
    }
    /// `"ok"` when the database is sound (SQLite's `PRAGMA integrity_check`).
    fn integrity_check(&mut self) -> SqlResult<String>;
}

impl dyn Backend + '_ {
    /// The first row of a query, converted by `f`; no row is an error ([`ErrorKind::NoRows`]).
    pub(crate) fn query_row<T>(
        &mut self,
        sql: &str,
        params: &[&dyn ToParam],
        f: impl FnOnce(&Row) -> SqlResult<T>,
    ) -> SqlResult<T> {
        self.query_opt(sql, params, f)?.ok_or_else(|| SqlError::new(ErrorKind::NoRows, "the query returned no rows"))
    }

    /// The first row of a query, if any, converted by `f`.
    pub(crate) fn query_opt<T>(
        &mut self,
        sql: &str,
        params: &[&dyn ToParam],
        f: impl FnOnce(&Row) -> SqlResult<T>,
    ) -> SqlResult<Option<T>> {
        self.query(sql, params)?.first().map(f).transpose()
    }

    /// Every row of a query, converted by `f`.
    pub(crate) fn query_map<T>(
        &mut self,
        sql: &str,
        params: &[&dyn ToParam],
        f: impl FnMut(&Row) -> SqlResult<T>,
    ) -> SqlResult<Vec<T>> {
        self.query(sql, params)?.iter().map(f).collect()
    }

    /// A transaction that writes (see [`Backend::begin`]): committed by [`Tx::commit`],
    /// rolled back when dropped without it.
    pub(crate) fn transaction(&mut self) -> SqlResult<Tx<'_>> {
        self.begin(true)?;
        Ok(Tx { conn: self, done: false })
    }
}

/// An open transaction; it derefs to its connection.
pub(crate) struct Tx<'a> {
    conn: &'a mut dyn Backend,
    done: bool,
}

impl Tx<'_> {
    pub(crate) fn commit(mut self) -> SqlResult<()> {
        self.done = true;
        match self.conn.commit() {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = self.conn.rollback();
                Err(e)
            }
        }
    }
}

impl<'a> std::ops::Deref for Tx<'a> {
    type Target = dyn Backend + 'a;
    fn deref(&self) -> &Self::Target {
        self.conn
    }
}

impl std::ops::DerefMut for Tx<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.conn
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.conn.rollback();
        }
    }
}

/// Rewrites `?N` placeholders as `$N` (PostgreSQL's), outside quoted text.
pub(crate) fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '?' => {
                out.push('$');
                continue;
            }
            None => {}
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres_outside_quotes() {
        assert_eq!(
            numbered_placeholders("SELECT a FROM t WHERE b = ?1 AND c LIKE '?x' ESCAPE '\\' AND d = ?12"),
            "SELECT a FROM t WHERE b = $1 AND c LIKE '?x' ESCAPE '\\' AND d = $12"
        );
    }

    #[test]
    fn cells_convert_with_their_range_checked() {
        let row = Row(vec![Cell::Int(7), Cell::Null, Cell::Int(-1), Cell::Text("x".into())]);
        assert_eq!(row.get::<u32>(0).unwrap(), 7);
        assert_eq!(row.get::<Option<String>>(1).unwrap(), None);
        assert!(row.get::<u32>(2).is_err());
        assert!(row.get::<i64>(3).is_err());
        assert!(row.get::<String>(9).is_err());
        assert!(row.get::<bool>(0).unwrap());
    }
}
