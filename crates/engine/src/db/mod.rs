//! Databases for the SQL nodes: a connection to PostgreSQL or MySQL/MariaDB (sqlx) or to a
//! SQLite file (rusqlite), SQL run with bound parameters (values never go into the SQL
//! text), and rows turned into items' values: integers as integers, decimals as strings or
//! numbers, timestamps as RFC 3339, JSON as objects, binary columns as files.

mod mysql;
mod postgres;
mod sqlite;
pub mod write;

use crate::credentials::Fields;
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError};
use switchyard_model::value::{Object, Value};

/// Which database an account is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Postgres,
    MySql,
    Sqlite,
}

impl Kind {
    /// The kind of a connection type (`db.postgres`, `db.mysql`, `db.sqlite`).
    pub fn of(connection_type: &str) -> Option<Kind> {
        match connection_type {
            "db.postgres" => Some(Kind::Postgres),
            "db.mysql" => Some(Kind::MySql),
            "db.sqlite" => Some(Kind::Sqlite),
            _ => None,
        }
    }

    /// The kind of the account a node was given, or an error naming its type.
    pub(crate) fn of_account(reference: &switchyard_model::CredentialRef) -> Result<Kind, NodeError> {
        Kind::of(&reference.connection).ok_or_else(|| {
            NodeError::new(
                ErrorCode::InvalidParameter,
                format!("connection type \"{}\" is not a database (PostgreSQL, MySQL or SQLite)", reference.connection),
            )
            .with_class(ErrorClass::Permanent)
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Postgres => "PostgreSQL",
            Kind::MySql => "MySQL",
            Kind::Sqlite => "SQLite",
        }
    }
}

/// The credential slot of a node that works on any database account.
pub(crate) fn slot(name: &str) -> switchyard_model::descriptor::CredentialSlot {
    switchyard_model::descriptor::CredentialSlot {
        name: name.into(),
        label: "Database".into(),
        connection_types: vec!["db.postgres".into(), "db.mysql".into(), "db.sqlite".into()],
        required: true,
        url_parameter: None,
        per_entry: None,
    }
}

/// How rows become values.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOptions {
    /// DECIMAL/NUMERIC as JSON numbers (may lose digits) instead of strings.
    pub decimals_as_numbers: bool,
}

/// Binary columns of a row: name and bytes.
pub type Files = Vec<(String, Vec<u8>)>;

/// One row: its columns as an object, and its binary columns' bytes (stored as the item's
/// files by the node).
#[derive(Debug, Default)]
pub struct Row {
    pub json: Object,
    pub files: Files,
}

/// What a statement gave back: its rows (for a query, or a write with `RETURNING`), and the
/// number of rows it changed (for a write without rows).
#[derive(Debug, Default)]
pub struct Outcome {
    pub rows: Vec<Row>,
    /// `Some` for statements that return no rows: how many rows they changed.
    pub affected: Option<u64>,
}

/// An open connection, for one node run.
pub enum Connection {
    Postgres(sqlx_postgres::PgConnection),
    MySql(sqlx_mysql::MySqlConnection),
    Sqlite(sqlite::Connection),
}

/// Where an account connects, for messages: `PostgreSQL "shop" at db.example.com:5432`.
pub fn describe(kind: Kind, account: &str, fields: &Fields) -> String {
    match kind {
        Kind::Sqlite => format!("SQLite \"{account}\" ({})", fields.get("path")),
        _ => format!("{} \"{account}\" at {}:{}", kind.name(), fields.get("host"), fields.get("port")),
    }
}

/// The port in an account's fields, or the database's default.
fn port(kind: Kind, fields: &Fields) -> Result<u16, NodeError> {
    let text = fields.get("port").trim();
    if text.is_empty() {
        return Ok(if kind == Kind::Postgres { 5432 } else { 3306 });
    }
    text.parse().map_err(|_| {
        NodeError::new(ErrorCode::InvalidParameter, format!("the account's port \"{text}\" is not a port number"))
            .with_class(ErrorClass::Permanent)
    })
}

/// TLS as an account asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tls {
    Disable,
    Prefer,
    Require,
    VerifyFull,
}

fn tls(fields: &Fields) -> Result<Tls, NodeError> {
    match fields.get("tls").trim().to_ascii_lowercase().as_str() {
        "" | "prefer" => Ok(Tls::Prefer),
        "disable" | "off" => Ok(Tls::Disable),
        "require" => Ok(Tls::Require),
        "verify-full" | "verify_full" => Ok(Tls::VerifyFull),
        other => Err(NodeError::new(
            ErrorCode::InvalidParameter,
            format!("the account's TLS setting \"{other}\" is not one of disable, prefer, require, verify-full"),
        )
        .with_class(ErrorClass::Permanent)),
    }
}

/// A server account's host, port and TLS, once the host is one the account may reach.
fn server(kind: Kind, fields: &Fields) -> Result<(&str, u16, Tls), NodeError> {
    let host = fields.get("host").trim();
    let port = port(kind, fields)?;
    let default = if kind == Kind::Postgres { 5432 } else { 3306 };
    fields.scope.check_address(host, port, default)?;
    Ok((host, port, tls(fields)?))
}

/// A connection that LISTENs on a PostgreSQL account (for the Postgres Trigger).
pub async fn listener(fields: &Fields) -> Result<sqlx_postgres::PgListener, NodeError> {
    let place = describe(Kind::Postgres, &fields.scope.account, fields);
    let (host, port, tls) = server(Kind::Postgres, fields)?;
    postgres::listener(fields, host, port, tls)
        .await
        .map_err(|e| NodeError { message: format!("{place}: {}", e.message), ..e })
}

impl Connection {
    /// Connects with an account's fields (after checking the host is one the account may
    /// reach). Errors name the server and never hold the password.
    pub async fn open(kind: Kind, fields: &Fields) -> Result<Connection, NodeError> {
        let place = describe(kind, &fields.scope.account, fields);
        let failed = |e: NodeError| NodeError { message: format!("{place}: {}", e.message), ..e };
        match kind {
            Kind::Sqlite => sqlite::Connection::open(fields.get("path")).map(Connection::Sqlite).map_err(failed),
            Kind::Postgres | Kind::MySql => {
                let (host, port, tls) = server(kind, fields)?;
                match kind {
                    Kind::Postgres => postgres::connect(fields, host, port, tls).await.map(Connection::Postgres),
                    _ => mysql::connect(fields, host, port, tls).await.map(Connection::MySql),
                }
                .map_err(failed)
            }
        }
    }

    /// Runs `sql` with `params` bound to its placeholders (`$1`… for PostgreSQL, `?` for
    /// MySQL and SQLite) and returns its rows, or the count of rows it changed.
    pub async fn query(&mut self, sql: &str, params: &[Value], options: ReadOptions) -> Result<Outcome, NodeError> {
        match self {
            Connection::Postgres(c) => postgres::query(c, sql, params, options).await,
            Connection::MySql(c) => mysql::query(c, sql, params, options).await,
            Connection::Sqlite(c) => c.query(sql, params).await,
        }
    }

    /// Like [`Connection::query`], handing each row to `each` as it comes instead of
    /// collecting them (PostgreSQL streams; the others read the result whole first). Returns
    /// the count of changed rows for a statement without rows.
    pub async fn query_each(
        &mut self,
        sql: &str,
        params: &[Value],
        options: ReadOptions,
        each: &mut (dyn FnMut(Row) + Send),
    ) -> Result<Option<u64>, NodeError> {
        if let Connection::Postgres(c) = self {
            return postgres::query_each(c, sql, params, options, each).await;
        }
        let outcome = self.query(sql, params, options).await?;
        outcome.rows.into_iter().for_each(&mut *each);
        Ok(outcome.affected)
    }

    /// Starts a transaction (SQLite takes its write lock at once, so a second writer waits
    /// here rather than failing halfway).
    pub async fn begin(&mut self) -> Result<(), NodeError> {
        self.simple(if matches!(self, Connection::Sqlite(_)) { "BEGIN IMMEDIATE" } else { "BEGIN" }).await
    }

    pub async fn commit(&mut self) -> Result<(), NodeError> {
        self.simple("COMMIT").await
    }

    /// Undoes the open transaction; a failure here is ignored (the server rolls back a
    /// transaction whose connection goes away).
    pub async fn rollback(&mut self) {
        let _ = self.simple("ROLLBACK").await;
    }

    async fn simple(&mut self, sql: &'static str) -> Result<(), NodeError> {
        use sqlx_core::executor::Executor;
        match self {
            Connection::Postgres(c) => c.execute(sqlx_core::raw_sql::raw_sql(sql)).await.map(drop).map_err(sqlx_error),
            Connection::MySql(c) => c.execute(sqlx_core::raw_sql::raw_sql(sql)).await.map(drop).map_err(sqlx_error),
            Connection::Sqlite(c) => c.query(sql, &[]).await.map(drop),
        }
    }

    /// PostgreSQL's `COPY … FROM STDIN` with `data` in COPY's text format; returns the rows
    /// copied. Only for PostgreSQL connections.
    pub async fn copy_in(&mut self, statement: &str, data: Vec<u8>) -> Result<u64, NodeError> {
        match self {
            Connection::Postgres(c) => postgres::copy_in(c, statement, data).await,
            _ => Err(NodeError::new(ErrorCode::Internal, "COPY is PostgreSQL's")),
        }
    }

    /// Closes the connection politely (a server sees a goodbye, not a dropped socket).
    pub async fn close(self) {
        use sqlx_core::connection::Connection as _;
        match self {
            Connection::Postgres(c) => {
                let _ = c.close().await;
            }
            Connection::MySql(c) => {
                let _ = c.close().await;
            }
            Connection::Sqlite(_) => {}
        }
    }
}

/// "Test connection" for a database account: connect and `SELECT 1`. The message names the
/// server and, on success, its version.
pub async fn test(kind: Kind, fields: &Fields) -> Result<String, NodeError> {
    let mut connection = Connection::open(kind, fields).await?;
    let sql = match kind {
        Kind::Postgres | Kind::MySql => "SELECT version() AS v",
        Kind::Sqlite => "SELECT 'SQLite ' || sqlite_version() AS v",
    };
    let rows = connection.query(sql, &[], ReadOptions::default()).await;
    connection.close().await;
    let version = rows?.rows.first().and_then(|r| r.json.get("v").and_then(|v| v.as_str()).map(str::to_string));
    Ok(format!(
        "connected to {}: {}",
        describe(kind, &fields.scope.account, fields),
        version.unwrap_or_else(|| "it answered".into())
    ))
}

/// A database's error as a node error: connection trouble is transient (worth a retry),
/// everything the server refused (SQL, permissions, constraints, login) is permanent; the
/// message keeps the server's words and SQLSTATE.
pub(crate) fn sqlx_error(e: sqlx_core::Error) -> NodeError {
    match e {
        sqlx_core::Error::Database(db) => {
            let code = db.code().map(|c| format!(" (SQLSTATE {c})")).unwrap_or_default();
            // PostgreSQL says which key and which COPY line: worth keeping.
            let detail = db
                .try_downcast_ref::<sqlx_postgres::PgDatabaseError>()
                .map(|pg| {
                    [pg.detail(), pg.r#where()].into_iter().flatten().map(|t| format!(" {t}")).collect::<String>()
                })
                .unwrap_or_default();
            NodeError::new(ErrorCode::QueryFailed, format!("{}{code}{detail}", db.message()))
                .with_class(ErrorClass::Permanent)
                .with_details(serde_json::json!({ "sqlstate": db.code().map(|c| c.to_string()) }))
        }
        // rustls reports a certificate it refuses as an I/O error of the handshake.
        sqlx_core::Error::Io(io) if io.to_string().contains("certificate") => {
            NodeError::new(ErrorCode::ConnectionFailed, format!("TLS failed: {io}")).with_class(ErrorClass::Permanent)
        }
        sqlx_core::Error::Io(io) => {
            NodeError::new(ErrorCode::ConnectionFailed, format!("cannot reach the server: {io}"))
                .with_class(ErrorClass::Transient)
        }
        sqlx_core::Error::Tls(tls) => {
            NodeError::new(ErrorCode::ConnectionFailed, format!("TLS failed: {tls}")).with_class(ErrorClass::Permanent)
        }
        sqlx_core::Error::Protocol(p) => {
            NodeError::new(ErrorCode::ConnectionFailed, format!("the server answered unexpectedly: {p}"))
                .with_class(ErrorClass::Transient)
        }
        other => NodeError::new(ErrorCode::QueryFailed, other.to_string()).with_class(ErrorClass::Permanent),
    }
}

/// A parameter that cannot become the type the database expects.
pub(crate) fn bad_parameter(index: usize, value: &Value, wanted: &str) -> NodeError {
    let shown: String = value.to_json_string().chars().take(80).collect();
    NodeError::new(
        ErrorCode::InvalidParameter,
        format!("query parameter {} is {shown}, which is not a {wanted} (the type the SQL expects there)", index + 1),
    )
    .with_class(ErrorClass::Permanent)
    .with_parameter(format!("parameters[{index}].value"))
}

/// A column whose type the node cannot turn into a value.
pub(crate) fn unsupported_column(column: &str, type_name: &str) -> NodeError {
    NodeError::new(
        ErrorCode::QueryFailed,
        format!("column \"{column}\" has type {type_name}, which this node cannot read yet: cast it in the SQL (e.g. {column}::text)"),
    )
    .with_class(ErrorClass::Permanent)
}

/// A decimal as the options say: its exact text, or a JSON number.
pub(crate) fn decimal(text: String, options: ReadOptions) -> Value {
    if options.decimals_as_numbers
        && let Ok(f) = text.parse::<f64>()
        && f.is_finite()
    {
        return Value::Float(f);
    }
    Value::from(text)
}

/// The SQL's placeholders and the node's parameters do not match up.
pub(crate) fn count_mismatch(placeholders: usize, given: usize, spelled: &str) -> NodeError {
    NodeError::new(
        ErrorCode::InvalidParameter,
        format!(
            "the SQL has {placeholders} placeholder{} ({spelled}) but {given} query parameter{} {} set",
            if placeholders == 1 { "" } else { "s" },
            if given == 1 { "" } else { "s" },
            if given == 1 { "is" } else { "are" }
        ),
    )
    .with_class(ErrorClass::Permanent)
    .with_parameter("parameters")
}
