//! The server-mode backend: PostgreSQL through sqlx.
//!
//! The store's operations are synchronous (SQLite answers in microseconds, and the callers
//! hold no async locks across them), while sqlx is async and cannot be driven from inside
//! another runtime's task. So each connection lives on a thread of its own with a
//! current-thread runtime, and a call sends its statement there and waits for the answer:
//! the same blocking shape as a SQLite call, whichever thread or runtime it comes from.
//!
//! Each statement is prepared first (sqlx caches it per connection), and each parameter is
//! sent as the type the server inferred for its place, so one store value (an integer, text,
//! bytes) binds to `bigint`, `integer`, `text` or `bytea` columns alike, and a null needs no
//! cast.

use super::{Backend, Cell, Dialect, ErrorKind, Param, Row, SqlError, SqlResult, ToParam, numbered_placeholders};
use crate::error::{Result, StoreError};
use sqlx_core::Either;
use sqlx_core::arguments::Arguments;
use sqlx_core::column::Column;
use sqlx_core::connection::{ConnectOptions, Connection};
use sqlx_core::executor::Executor;
use sqlx_core::row::Row as _;
use sqlx_core::sql_str::{AssertSqlSafe, SqlSafeStr};
use sqlx_core::statement::Statement;
use sqlx_core::type_info::TypeInfo;
use sqlx_core::value::ValueRef;
use sqlx_postgres::{PgArguments, PgConnectOptions, PgConnection, PgRow, PgTypeInfo};
use std::str::FromStr;
use std::sync::mpsc::{Sender, channel};

/// Migrations in order, numbered as the SQLite ones are: PostgreSQL starts at version 21 (the
/// schema SQLite reached through 1–21) and every later version has one file per backend.
const MIGRATIONS: &[(u32, &str)] = &[
    (21, include_str!("../migrations/postgres/0021_init.sql")),
    (22, include_str!("../migrations/postgres/0022_attempts.sql")),
    (23, include_str!("../migrations/postgres/0023_workers.sql")),
    (24, include_str!("../migrations/postgres/0024_shared_blobs.sql")),
    (25, include_str!("../migrations/postgres/0025_compact_runs.sql")),
];

/// The advisory lock key that serializes migrations across processes (any fixed number).
const MIGRATION_LOCK: i64 = 0x5357_5944_4d49_4752; // "SWYDMIGR"

/// The advisory lock key of the store's write lock (see [`Postgres::begin`]).
const WRITE_LOCK: i64 = 0x5357_5944_5752_4954; // "SWYDWRIT"

/// `postgres://user:***@host:port/db`: the URL with its password hidden, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "the PostgreSQL URL (unreadable)".into(),
    }
}

enum Request {
    Execute(String, Vec<Cell>, Sender<SqlResult<usize>>),
    Query(String, Vec<Cell>, Sender<SqlResult<Vec<Row>>>),
    Batch(String, Sender<SqlResult<()>>),
}

/// A connection to PostgreSQL, served by its own thread.
pub(crate) struct Postgres {
    requests: Sender<Request>,
    in_transaction: bool,
}

impl Postgres {
    /// Connects (on the connection's own thread) to `url`.
    pub(crate) fn connect(url: &str) -> Result<Postgres> {
        let where_ = redact(url);
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Connect { url: where_.clone(), message: e.to_string() })?
            .application_name("switchyard");
        let (requests, inbox) = channel::<Request>();
        let (ready_tx, ready) = channel::<std::result::Result<(), String>>();
        std::thread::Builder::new()
            .name("switchyard-postgres".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let mut conn = match runtime.block_on(options.connect()) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                // Served until every sender is gone (the store was dropped).
                while let Ok(request) = inbox.recv() {
                    match request {
                        Request::Execute(sql, params, reply) => {
                            let _ = reply.send(runtime.block_on(execute(&mut conn, &sql, &params)));
                        }
                        Request::Query(sql, params, reply) => {
                            let _ = reply.send(runtime.block_on(query(&mut conn, &sql, &params)));
                        }
                        Request::Batch(sql, reply) => {
                            let run = sqlx_core::raw_sql::raw_sql(AssertSqlSafe(sql)).execute(&mut conn);
                            let _ = reply.send(runtime.block_on(run).map(|_| ()).map_err(classify));
                        }
                    }
                }
                let _ = runtime.block_on(conn.close());
            })
            .map_err(|e| StoreError::Connect { url: where_.clone(), message: e.to_string() })?;
        match ready.recv() {
            Ok(Ok(())) => Ok(Postgres { requests, in_transaction: false }),
            Ok(Err(message)) => Err(StoreError::Connect { url: where_, message }),
            Err(_) => Err(StoreError::Connect { url: where_, message: "the connection thread ended".into() }),
        }
    }

    fn call<T>(&self, request: impl FnOnce(Sender<SqlResult<T>>) -> Request) -> SqlResult<T> {
        let (reply, answer) = channel();
        let gone = || SqlError::new(ErrorKind::Resource, "the PostgreSQL connection's thread has ended");
        self.requests.send(request(reply)).map_err(|_| gone())?;
        answer.recv().map_err(|_| gone())?
    }

    /// Brings the schema up to date: the migrations run one transaction each, under an
    /// advisory lock, so processes starting together migrate once.
    pub(crate) fn migrate(&mut self, url: &str) -> Result<()> {
        let failed = |version: u32| move |e: SqlError| StoreError::Migration { version, source: e };
        let known = latest_version();
        loop {
            self.begin(true).map_err(failed(0))?;
            let step = (|| -> Result<Option<u32>> {
                let conn: &mut dyn Backend = self;
                conn.execute("SELECT pg_advisory_xact_lock(?1)", super::params![MIGRATION_LOCK]).map_err(failed(0))?;
                conn.batch("CREATE TABLE IF NOT EXISTS store_schema (version BIGINT NOT NULL)").map_err(failed(0))?;
                let current: u32 = conn
                    .query_opt("SELECT MAX(version) FROM store_schema", super::params![], |r| r.get::<Option<u32>>(0))
                    .map_err(failed(0))?
                    .flatten()
                    .unwrap_or(0);
                if current > known {
                    return Err(StoreError::TooNew { path: redact(url), found: current, known });
                }
                let Some((version, sql)) = MIGRATIONS.iter().find(|(v, _)| *v > current) else { return Ok(None) };
                conn.batch(sql).map_err(failed(*version))?;
                conn.execute("DELETE FROM store_schema", super::params![]).map_err(failed(*version))?;
                conn.execute("INSERT INTO store_schema (version) VALUES (?1)", super::params![*version])
                    .map_err(failed(*version))?;
                Ok(Some(*version))
            })();
            match step {
                Ok(Some(version)) => {
                    self.commit().map_err(failed(version))?;
                    tracing::info!(version, "PostgreSQL store migrated");
                }
                Ok(None) => {
                    self.commit().map_err(failed(0))?;
                    return Ok(());
                }
                Err(e) => {
                    let _ = self.rollback();
                    return Err(e);
                }
            }
        }
    }
}

pub fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |(v, _)| *v)
}

fn owned(params: &[&dyn ToParam]) -> Vec<Cell> {
    params
        .iter()
        .map(|p| match p.param() {
            Param::Null => Cell::Null,
            Param::Int(i) => Cell::Int(i),
            Param::Real(f) => Cell::Real(f),
            Param::Text(s) => Cell::Text(s.to_string()),
            Param::Blob(b) => Cell::Blob(b.to_vec()),
        })
        .collect()
}

impl Backend for Postgres {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&mut self, sql: &str, params: &[&dyn ToParam]) -> SqlResult<usize> {
        let (sql, params) = (numbered_placeholders(sql), owned(params));
        self.call(|reply| Request::Execute(sql, params, reply))
    }

    fn query(&mut self, sql: &str, params: &[&dyn ToParam]) -> SqlResult<Vec<Row>> {
        let (sql, params) = (numbered_placeholders(sql), owned(params));
        self.call(|reply| Request::Query(sql, params, reply))
    }

    fn batch(&mut self, sql: &str) -> SqlResult<()> {
        let sql = sql.to_string();
        self.call(|reply| Request::Batch(sql, reply))
    }

    /// A transaction that will write first takes the store's write lock (a transaction-level
    /// advisory lock), as SQLite's `BEGIN IMMEDIATE` does: the store's read-then-write
    /// transactions (a version check before a save, the vault's key generation before a
    /// write) then see no other writer between their read and their write, in any process.
    fn begin(&mut self, write: bool) -> SqlResult<()> {
        if write {
            self.batch(&format!("BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})"))?;
        } else {
            self.batch("BEGIN")?;
        }
        self.in_transaction = true;
        Ok(())
    }

    fn commit(&mut self) -> SqlResult<()> {
        self.in_transaction = false;
        self.batch("COMMIT")
    }

    fn rollback(&mut self) -> SqlResult<()> {
        if !std::mem::take(&mut self.in_transaction) {
            return Ok(());
        }
        self.batch("ROLLBACK")
    }

    /// The server checks its own pages; a query that reaches it is the check here.
    fn integrity_check(&mut self) -> SqlResult<String> {
        let conn: &mut dyn Backend = self;
        conn.query_row("SELECT 'ok'", super::params![], |r| r.get(0))
    }
}

/// A PostgreSQL failure as the store classes it (SQLSTATE classes 08, 53, 57, 40 and lost
/// connections can be retried; 23 is a constraint).
fn classify(e: sqlx_core::Error) -> SqlError {
    let kind = match &e {
        sqlx_core::Error::Io(_) | sqlx_core::Error::Tls(_) | sqlx_core::Error::PoolTimedOut => ErrorKind::Resource,
        sqlx_core::Error::Database(db) => match db.code().as_deref().map(|c| c.get(..2).unwrap_or(c)) {
            Some("23") => ErrorKind::Constraint,
            Some("08" | "53" | "57" | "40") => ErrorKind::Resource,
            _ => ErrorKind::Other,
        },
        sqlx_core::Error::RowNotFound => ErrorKind::NoRows,
        _ => ErrorKind::Other,
    };
    SqlError::new(kind, e.to_string())
}

async fn prepared(
    conn: &mut PgConnection,
    sql: &str,
    params: &[Cell],
) -> SqlResult<(sqlx_postgres::PgStatement, PgArguments)> {
    let statement = (&mut *conn).prepare(AssertSqlSafe(sql.to_string()).into_sql_str()).await.map_err(classify)?;
    let types: Vec<PgTypeInfo> = match statement.parameters() {
        Some(Either::Left(types)) => types.to_vec(),
        _ => Vec::new(),
    };
    if types.len() != params.len() {
        return Err(SqlError::new(
            ErrorKind::Other,
            format!("the statement takes {} parameters, {} were given: {sql}", types.len(), params.len()),
        ));
    }
    let mut args = PgArguments::default();
    for (index, (ty, value)) in types.iter().zip(params).enumerate() {
        bind(&mut args, index, ty, value)?;
    }
    Ok((statement, args))
}

async fn execute(conn: &mut PgConnection, sql: &str, params: &[Cell]) -> SqlResult<usize> {
    let (statement, args) = prepared(conn, sql, params).await?;
    let done = statement.query_with(args).execute(&mut *conn).await.map_err(classify)?;
    Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
}

async fn query(conn: &mut PgConnection, sql: &str, params: &[Cell]) -> SqlResult<Vec<Row>> {
    let (statement, args) = prepared(conn, sql, params).await?;
    let rows = statement.query_with(args).fetch_all(&mut *conn).await.map_err(classify)?;
    rows.iter().map(row).collect()
}

fn mismatch(index: usize, value: &Cell, wanted: &str) -> SqlError {
    SqlError::new(ErrorKind::Type, format!("parameter {}: {value:?} cannot be sent as {wanted}", index + 1))
}

fn int(value: &Cell) -> Option<i64> {
    match value {
        Cell::Int(i) => Some(*i),
        Cell::Real(f) if f.fract() == 0.0 => Some(*f as i64),
        _ => None,
    }
}

fn bind(args: &mut PgArguments, index: usize, ty: &PgTypeInfo, value: &Cell) -> SqlResult<()> {
    let null = matches!(value, Cell::Null);
    let wrong = |wanted: &str| mismatch(index, value, wanted);
    macro_rules! add {
        ($t:ty, $convert:expr, $wanted:expr) => {{
            let v: Option<$t> = if null { None } else { Some($convert.ok_or_else(|| wrong($wanted))?) };
            args.add(v)
        }};
    }
    let added = match ty.name() {
        "INT8" => add!(i64, int(value), "bigint"),
        "INT4" => add!(i32, int(value).and_then(|i| i32::try_from(i).ok()), "integer"),
        "INT2" => add!(i16, int(value).and_then(|i| i16::try_from(i).ok()), "smallint"),
        "BOOL" => add!(bool, int(value).map(|i| i != 0), "boolean"),
        "FLOAT8" => add!(
            f64,
            match value {
                Cell::Real(f) => Some(*f),
                Cell::Int(i) => Some(*i as f64),
                _ => None,
            },
            "double precision"
        ),
        "BYTEA" => add!(
            Vec<u8>,
            match value {
                Cell::Blob(b) => Some(b.clone()),
                Cell::Text(s) => Some(s.clone().into_bytes()),
                _ => None,
            },
            "bytea"
        ),
        _ => add!(
            String,
            match value {
                Cell::Text(s) => Some(s.clone()),
                Cell::Int(i) => Some(i.to_string()),
                Cell::Real(f) => Some(f.to_string()),
                _ => None,
            },
            "text"
        ),
    };
    added.map_err(|e| SqlError::new(ErrorKind::Type, format!("parameter {}: {e}", index + 1)))
}

fn row(row: &PgRow) -> SqlResult<Row> {
    let mut cells = Vec::with_capacity(row.columns().len());
    for (i, column) in row.columns().iter().enumerate() {
        let raw = row.try_get_raw(i).map_err(classify)?;
        if raw.is_null() {
            cells.push(Cell::Null);
            continue;
        }
        let get = |e: sqlx_core::Error| SqlError::new(ErrorKind::Type, format!("column \"{}\": {e}", column.name()));
        cells.push(match column.type_info().name() {
            "INT8" => Cell::Int(row.try_get::<i64, _>(i).map_err(get)?),
            "INT4" => Cell::Int(i64::from(row.try_get::<i32, _>(i).map_err(get)?)),
            "INT2" => Cell::Int(i64::from(row.try_get::<i16, _>(i).map_err(get)?)),
            "BOOL" => Cell::Int(i64::from(row.try_get::<bool, _>(i).map_err(get)?)),
            "FLOAT8" => Cell::Real(row.try_get::<f64, _>(i).map_err(get)?),
            "FLOAT4" => Cell::Real(f64::from(row.try_get::<f32, _>(i).map_err(get)?)),
            "NUMERIC" => {
                let text = row.try_get::<sqlx_core::types::BigDecimal, _>(i).map_err(get)?.to_string();
                match text.parse::<i64>() {
                    Ok(n) => Cell::Int(n),
                    Err(_) => Cell::Real(text.parse().map_err(|_| get(sqlx_core::Error::RowNotFound))?),
                }
            }
            "BYTEA" => Cell::Blob(row.try_get::<Vec<u8>, _>(i).map_err(get)?),
            _ => Cell::Text(row.try_get::<String, _>(i).map_err(get)?),
        });
    }
    Ok(Row(cells))
}
