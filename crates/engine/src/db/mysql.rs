//! MySQL and MariaDB through sqlx. Parameters go as their JSON types (the server converts
//! them to the column's type, as MySQL does for prepared statements).

use super::{Outcome, ReadOptions, Row, Tls, decimal, sqlx_error, unsupported_column};
use crate::credentials::Fields;
use sqlx_core::Either;
use sqlx_core::arguments::Arguments;
use sqlx_core::column::Column;
use sqlx_core::connection::ConnectOptions;
use sqlx_core::executor::Executor;
use sqlx_core::row::Row as _;
use sqlx_core::sql_str::{AssertSqlSafe, SqlSafeStr};
use sqlx_core::statement::Statement;
use sqlx_core::type_info::TypeInfo;
use sqlx_core::value::ValueRef;
use sqlx_mysql::{MySqlArguments, MySqlConnectOptions, MySqlConnection, MySqlRow, MySqlSslMode};
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError};
use switchyard_model::value::{Object, Value};

pub(super) async fn connect(fields: &Fields, host: &str, port: u16, tls: Tls) -> Result<MySqlConnection, NodeError> {
    let mut options = MySqlConnectOptions::new()
        .host(host)
        .port(port)
        .username(fields.get("user"))
        .database(fields.get("database"))
        .charset("utf8mb4")
        .ssl_mode(match tls {
            Tls::Disable => MySqlSslMode::Disabled,
            Tls::Prefer => MySqlSslMode::Preferred,
            Tls::Require => MySqlSslMode::Required,
            Tls::VerifyFull => MySqlSslMode::VerifyIdentity,
        });
    if !fields.get("password").is_empty() {
        options = options.password(fields.get("password"));
    }
    let ca = fields.get("caFile").trim();
    if !ca.is_empty() {
        options = options.ssl_ca(ca);
    }
    options.connect().await.map_err(sqlx_error)
}

pub(super) async fn query(
    conn: &mut MySqlConnection,
    sql: &str,
    params: &[Value],
    options: ReadOptions,
) -> Result<Outcome, NodeError> {
    let statement = (&mut *conn).prepare(AssertSqlSafe(sql.to_string()).into_sql_str()).await.map_err(sqlx_error)?;
    let count = match statement.parameters() {
        Some(Either::Right(n)) => n,
        Some(Either::Left(types)) => types.len(),
        None => 0,
    };
    if count != params.len() {
        return Err(super::count_mismatch(count, params.len(), "?"));
    }
    let mut args = MySqlArguments::default();
    for (index, value) in params.iter().enumerate() {
        let added = match value {
            Value::Null => args.add(Option::<String>::None),
            Value::Bool(b) => args.add(*b),
            Value::Int(i) => args.add(*i),
            Value::Float(f) => args.add(*f),
            Value::String(s) => args.add(s.to_string()),
            other => args.add(sqlx_core::types::Json(serde_json::Value::from(other))),
        };
        added.map_err(|e| {
            NodeError::new(ErrorCode::InvalidParameter, format!("query parameter {}: {e}", index + 1))
                .with_class(ErrorClass::Permanent)
                .with_parameter(format!("parameters[{index}].value"))
        })?;
    }
    // Rows and counts as they come: MariaDB's prepared `INSERT … RETURNING` announces no
    // columns, yet returns rows.
    let (mut rows, mut affected) = (Vec::new(), 0u64);
    {
        use futures::TryStreamExt;
        let mut steps = (&mut *conn).fetch_many(statement.query_with(args));
        while let Some(step) = steps.try_next().await.map_err(sqlx_error)? {
            match step {
                Either::Left(done) => affected += done.rows_affected(),
                Either::Right(r) => rows.push(row(&r, options)?),
            }
        }
    }
    let affected = (rows.is_empty() && statement.columns().is_empty()).then_some(affected);
    Ok(Outcome { rows, affected })
}

fn row(row: &MySqlRow, options: ReadOptions) -> Result<Row, NodeError> {
    let mut out = Row { json: Object::new(), files: Vec::new() };
    for (i, column) in row.columns().iter().enumerate() {
        let name = column.name();
        let ty = column.type_info().name();
        let raw = row.try_get_raw(i).map_err(sqlx_error)?;
        if raw.is_null() {
            out.json.insert(name, Value::Null);
            continue;
        }
        let get_err = |e: sqlx_core::Error| NodeError::new(ErrorCode::QueryFailed, format!("column \"{name}\": {e}"));
        let value = match ty {
            "BOOLEAN" => Value::Bool(row.try_get(i).map_err(get_err)?),
            "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" => {
                Value::Int(row.try_get::<i64, _>(i).map_err(get_err)?)
            }
            "TINYINT UNSIGNED" | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED" | "INT UNSIGNED" | "YEAR" => {
                Value::Int(row.try_get::<u32, _>(i).map(i64::from).map_err(get_err)?)
            }
            "BIGINT UNSIGNED" => {
                let n = row.try_get::<u64, _>(i).map_err(get_err)?;
                i64::try_from(n).map_or_else(|_| Value::from(n.to_string()), Value::Int)
            }
            "FLOAT" => Value::Float(f64::from(row.try_get::<f32, _>(i).map_err(get_err)?)),
            "DOUBLE" => Value::Float(row.try_get::<f64, _>(i).map_err(get_err)?),
            "DECIMAL" => {
                decimal(row.try_get::<sqlx_core::types::BigDecimal, _>(i).map_err(get_err)?.to_string(), options)
            }
            "JSON" => Value::from(row.try_get::<serde_json::Value, _>(i).map_err(get_err)?),
            "DATETIME" => Value::from(
                row.try_get::<chrono::NaiveDateTime, _>(i).map_err(get_err)?.format("%Y-%m-%dT%H:%M:%S%.f").to_string(),
            ),
            "TIMESTAMP" => Value::from(
                row.try_get::<chrono::DateTime<chrono::Utc>, _>(i)
                    .map_err(get_err)?
                    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            ),
            "DATE" => Value::from(row.try_get::<chrono::NaiveDate, _>(i).map_err(get_err)?.to_string()),
            "TIME" => Value::from(row.try_get::<chrono::NaiveTime, _>(i).map_err(get_err)?.to_string()),
            // A text column with a `_bin` collation is reported with the BINARY flag (MariaDB's
            // JSON columns are such text): only the binary collation means bytes.
            "BLOB" | "TINYBLOB" | "MEDIUMBLOB" | "LONGBLOB" | "BINARY" | "VARBINARY"
                if <String as sqlx_core::types::Type<sqlx_mysql::MySql>>::compatible(column.type_info()) =>
            {
                Value::from(row.try_get::<String, _>(i).map_err(get_err)?)
            }
            "BLOB" | "TINYBLOB" | "MEDIUMBLOB" | "LONGBLOB" | "BINARY" | "VARBINARY" => {
                out.files.push((name.to_string(), row.try_get::<Vec<u8>, _>(i).map_err(get_err)?));
                continue;
            }
            "VARCHAR" | "CHAR" | "TEXT" | "TINYTEXT" | "MEDIUMTEXT" | "LONGTEXT" | "ENUM" | "SET" => {
                Value::from(row.try_get::<String, _>(i).map_err(get_err)?)
            }
            other => return Err(unsupported_column(name, other)),
        };
        out.json.insert(name, value);
    }
    Ok(out)
}
