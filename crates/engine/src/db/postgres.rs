//! PostgreSQL through sqlx. The statement is prepared first so that each parameter is sent
//! as the type the server inferred for its place (`$1` compared with an `int4` column is
//! sent as an `int4`), converted from the item's value or refused with a message naming it.

use super::{Outcome, ReadOptions, Row, Tls, bad_parameter, decimal, sqlx_error, unsupported_column};
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
use sqlx_postgres::{PgArguments, PgConnectOptions, PgConnection, PgRow, PgSslMode, PgTypeInfo};
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError};
use switchyard_model::value::{Key, Template, Value, intern};

pub(super) async fn connect(fields: &Fields, host: &str, port: u16, tls: Tls) -> Result<PgConnection, NodeError> {
    options(fields, host, port, tls).connect().await.map_err(sqlx_error)
}

/// A LISTEN connection (through a pool of one, as sqlx's listener wants).
pub(super) async fn listener(
    fields: &Fields,
    host: &str,
    port: u16,
    tls: Tls,
) -> Result<sqlx_postgres::PgListener, NodeError> {
    // Connect once first: a refused connection or login then fails at once with its own
    // words (the pool would retry until its timeout and say only that).
    let probe = options(fields, host, port, tls).connect().await.map_err(sqlx_error)?;
    let _ = sqlx_core::connection::Connection::close(probe).await;
    let pool = sqlx_core::pool::PoolOptions::<sqlx_postgres::Postgres>::new()
        .max_connections(1)
        // The pool retries a refused connection until this timeout: fail within it, so the
        // trigger can say so and pause.
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect_lazy_with(options(fields, host, port, tls));
    sqlx_postgres::PgListener::connect_with(&pool).await.map_err(sqlx_error)
}

fn options(fields: &Fields, host: &str, port: u16, tls: Tls) -> PgConnectOptions {
    let mut options = PgConnectOptions::new_without_pgpass()
        .host(host)
        .port(port)
        .username(fields.get("user"))
        .database(fields.get("database"))
        .application_name("switchyard")
        .ssl_mode(match tls {
            Tls::Disable => PgSslMode::Disable,
            Tls::Prefer => PgSslMode::Prefer,
            Tls::Require => PgSslMode::Require,
            Tls::VerifyFull => PgSslMode::VerifyFull,
        });
    if !fields.get("password").is_empty() {
        options = options.password(fields.get("password"));
    }
    let ca = fields.get("caFile").trim();
    if !ca.is_empty() {
        options = options.ssl_root_cert(ca);
    }
    options
}

pub(super) async fn query(
    conn: &mut PgConnection,
    sql: &str,
    params: &[Value],
    options: ReadOptions,
) -> Result<Outcome, NodeError> {
    let mut rows = Vec::new();
    let affected = query_each(conn, sql, params, options, &mut |row| rows.push(row)).await?;
    Ok(Outcome { rows, affected })
}

/// Runs the statement and hands each row to `each` as it arrives (the rows count of a
/// statement without rows is returned instead).
pub(super) async fn query_each(
    conn: &mut PgConnection,
    sql: &str,
    params: &[Value],
    options: ReadOptions,
    each: &mut (dyn FnMut(Row) + Send),
) -> Result<Option<u64>, NodeError> {
    let statement = (&mut *conn).prepare(AssertSqlSafe(sql.to_string()).into_sql_str()).await.map_err(sqlx_error)?;
    let types: Vec<PgTypeInfo> = match statement.parameters() {
        Some(Either::Left(types)) => types.to_vec(),
        _ => Vec::new(),
    };
    if types.len() != params.len() {
        return Err(super::count_mismatch(types.len(), params.len(), "$1, $2 …"));
    }
    let mut args = PgArguments::default();
    for (index, (ty, value)) in types.iter().zip(params).enumerate() {
        bind(&mut args, index, ty, value)?;
    }
    if statement.columns().is_empty() {
        let done = statement.query_with(args).execute(&mut *conn).await.map_err(sqlx_error)?;
        return Ok(Some(done.rows_affected()));
    }
    // Rows become values as they arrive (no second copy of the whole result), and every
    // row shares one key list.
    let shape = Shape::of(statement.columns());
    let mut stream = statement.query_with(args).fetch(&mut *conn);
    while let Some(r) = futures::TryStreamExt::try_next(&mut stream).await.map_err(sqlx_error)? {
        each(row(&r, &shape, options)?);
    }
    Ok(None)
}

/// Which columns go into the item's JSON (the rest, binary, become files) and their keys.
struct Shape {
    json: Vec<usize>,
    files: Vec<usize>,
    template: Template,
}

impl Shape {
    fn of(columns: &[sqlx_postgres::PgColumn]) -> Shape {
        let (files, json): (Vec<usize>, Vec<usize>) =
            (0..columns.len()).partition(|&i| columns[i].type_info().name() == "BYTEA");
        let keys: Vec<Key> = json.iter().map(|&i| intern(columns[i].name())).collect();
        Shape { json, files, template: Template::new(&keys) }
    }
}

pub(super) async fn copy_in(conn: &mut PgConnection, statement: &str, data: Vec<u8>) -> Result<u64, NodeError> {
    let mut copy = conn.copy_in_raw(statement).await.map_err(sqlx_error)?;
    if let Err(e) = copy.send(data).await {
        let _ = copy.abort("the rows could not be sent").await;
        return Err(sqlx_error(e));
    }
    copy.finish().await.map_err(sqlx_error)
}

/// `value` or null, converted by `convert`; `None` when it cannot be.
fn typed<T>(value: &Value, convert: impl Fn(&Value) -> Option<T>) -> Option<Option<T>> {
    if value.is_null() { Some(None) } else { convert(value).map(Some) }
}

fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Int(i) => Some(*i),
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

fn float(value: &Value) -> Option<f64> {
    match value {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A value as text for a text parameter: strings as they are, anything else as JSON.
fn text(value: &Value) -> Option<String> {
    Some(match value {
        Value::String(s) => s.to_string(),
        other => other.to_json_string(),
    })
}

fn bind(args: &mut PgArguments, index: usize, ty: &PgTypeInfo, value: &Value) -> Result<(), NodeError> {
    let name = ty.name();
    let wrong = |wanted: &str| bad_parameter(index, value, wanted);
    let added = match name {
        "BOOL" => args.add(
            typed(value, |v| match v {
                Value::Bool(b) => Some(*b),
                Value::Int(0) => Some(false),
                Value::Int(1) => Some(true),
                Value::String(s) => match s.trim() {
                    "true" | "t" | "1" => Some(true),
                    "false" | "f" | "0" => Some(false),
                    _ => None,
                },
                _ => None,
            })
            .ok_or_else(|| wrong("boolean"))?,
        ),
        "INT2" => {
            args.add(typed(value, |v| integer(v).and_then(|i| i16::try_from(i).ok())).ok_or_else(|| wrong("smallint"))?)
        }
        "INT4" => {
            args.add(typed(value, |v| integer(v).and_then(|i| i32::try_from(i).ok())).ok_or_else(|| wrong("integer"))?)
        }
        "INT8" => args.add(typed(value, integer).ok_or_else(|| wrong("bigint"))?),
        "FLOAT4" => args.add(typed(value, |v| float(v).map(|f| f as f32)).ok_or_else(|| wrong("real"))?),
        "FLOAT8" => args.add(typed(value, float).ok_or_else(|| wrong("double precision"))?),
        "NUMERIC" => args.add(
            typed(value, |v| text(v).and_then(|t| t.trim().parse::<sqlx_core::types::BigDecimal>().ok()))
                .ok_or_else(|| wrong("numeric"))?,
        ),
        "JSON" | "JSONB" => args.add(typed(value, |v| Some(serde_json::Value::from(v))).ok_or_else(|| wrong("JSON"))?),
        "TIMESTAMPTZ" => args.add(
            typed(value, |v| {
                v.as_str().and_then(|s| chrono::DateTime::parse_from_rfc3339(s.trim()).ok()).map(|t| t.to_utc())
            })
            .ok_or_else(|| wrong("timestamp with time zone (RFC 3339 text)"))?,
        ),
        "TIMESTAMP" => args.add(
            typed(value, |v| {
                let s = v.as_str()?.trim();
                chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                    .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
                    .ok()
            })
            .ok_or_else(|| wrong("timestamp (YYYY-MM-DDTHH:MM:SS)"))?,
        ),
        "DATE" => args.add(
            typed(value, |v| chrono::NaiveDate::parse_from_str(v.as_str()?.trim(), "%Y-%m-%d").ok())
                .ok_or_else(|| wrong("date (YYYY-MM-DD)"))?,
        ),
        "UUID" => {
            args.add(typed(value, |v| uuid::Uuid::parse_str(v.as_str()?.trim()).ok()).ok_or_else(|| wrong("UUID"))?)
        }
        "BYTEA" => args.add(typed(value, |v| text(v).map(String::into_bytes)).ok_or_else(|| wrong("bytea"))?),
        // Text, and types the server reads from text (enums, domains over text…).
        _ => args.add(typed(value, text).ok_or_else(|| wrong("text"))?),
    };
    added.map_err(|e| {
        NodeError::new(ErrorCode::InvalidParameter, format!("query parameter {}: {e}", index + 1))
            .with_class(ErrorClass::Permanent)
            .with_parameter(format!("parameters[{index}].value"))
    })
}

fn row(row: &PgRow, shape: &Shape, options: ReadOptions) -> Result<Row, NodeError> {
    let mut json = shape.template.try_build(shape.json.iter().map(|&i| value(row, i, options)))?;
    let mut files = Vec::with_capacity(shape.files.len());
    for &i in &shape.files {
        let name = row.columns()[i].name();
        let bytes: Option<Vec<u8>> =
            row.try_get(i).map_err(|e| NodeError::new(ErrorCode::QueryFailed, format!("column \"{name}\": {e}")))?;
        match bytes {
            Some(bytes) => files.push((name.to_string(), bytes)),
            // A null binary column is a null field, not a file.
            None => {
                json.insert(name, Value::Null);
            }
        }
    }
    Ok(Row { json, files })
}

/// Column `i` of a row as a value.
fn value(row: &PgRow, i: usize, options: ReadOptions) -> Result<Value, NodeError> {
    let column = &row.columns()[i];
    let name = column.name();
    let ty = column.type_info().name();
    let raw = row.try_get_raw(i).map_err(sqlx_error)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let get_err = |e: sqlx_core::Error| NodeError::new(ErrorCode::QueryFailed, format!("column \"{name}\": {e}"));
    Ok(match ty {
        "BOOL" => Value::Bool(row.try_get(i).map_err(get_err)?),
        "INT2" => Value::Int(i64::from(row.try_get::<i16, _>(i).map_err(get_err)?)),
        "INT4" => Value::Int(i64::from(row.try_get::<i32, _>(i).map_err(get_err)?)),
        "INT8" => Value::Int(row.try_get::<i64, _>(i).map_err(get_err)?),
        "OID" => Value::Int(i64::from(row.try_get::<sqlx_postgres::types::Oid, _>(i).map_err(get_err)?.0)),
        "FLOAT4" => Value::Float(f64::from(row.try_get::<f32, _>(i).map_err(get_err)?)),
        "FLOAT8" => Value::Float(row.try_get::<f64, _>(i).map_err(get_err)?),
        "NUMERIC" => {
            let text = match raw.format() {
                sqlx_postgres::PgValueFormat::Binary => raw.as_bytes().ok().and_then(numeric_text),
                sqlx_postgres::PgValueFormat::Text => raw.as_str().ok().map(str::to_string),
            };
            decimal(text.ok_or_else(|| unsupported_column(name, "NUMERIC (NaN or infinite)"))?, options)
        }
        "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CHAR" | "CITEXT" | "UNKNOWN" => {
            Value::from(row.try_get::<&str, _>(i).map_err(get_err)?)
        }
        "JSON" | "JSONB" => Value::from(row.try_get::<serde_json::Value, _>(i).map_err(get_err)?),
        "TIMESTAMPTZ" => Value::from(
            row.try_get::<chrono::DateTime<chrono::Utc>, _>(i)
                .map_err(get_err)?
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        ),
        "TIMESTAMP" => Value::from(
            row.try_get::<chrono::NaiveDateTime, _>(i).map_err(get_err)?.format("%Y-%m-%dT%H:%M:%S%.f").to_string(),
        ),
        "DATE" => Value::from(row.try_get::<chrono::NaiveDate, _>(i).map_err(get_err)?.to_string()),
        "TIME" => Value::from(row.try_get::<chrono::NaiveTime, _>(i).map_err(get_err)?.to_string()),
        "UUID" => Value::from(row.try_get::<uuid::Uuid, _>(i).map_err(get_err)?.to_string()),
        "TEXT[]" | "VARCHAR[]" => {
            Value::from(serde_json::Value::from(row.try_get::<Vec<String>, _>(i).map_err(get_err)?))
        }
        "INT4[]" => Value::from(serde_json::Value::from(row.try_get::<Vec<i32>, _>(i).map_err(get_err)?)),
        "INT8[]" => Value::from(serde_json::Value::from(row.try_get::<Vec<i64>, _>(i).map_err(get_err)?)),
        other => return Err(unsupported_column(name, other)),
    })
}

/// A NUMERIC in PostgreSQL's binary form as exact text with its declared scale (`1234.50`
/// for `numeric(10,2)`): base-10000 digits, the weight of the first, the sign and the
/// number of decimal digits to show. `None` for NaN and infinities.
fn numeric_text(bytes: &[u8]) -> Option<String> {
    let word = |at: usize| bytes.get(at..at + 2).map(|b| i16::from_be_bytes([b[0], b[1]]));
    let (count, weight, sign, scale) = (word(0)?, word(2)?, word(4)? as u16, word(6)?);
    let digits: Vec<i16> = (0..usize::try_from(count).ok()?).map(|k| word(8 + 2 * k)).collect::<Option<_>>()?;
    let digit = |k: i64| usize::try_from(k).ok().and_then(|k| digits.get(k)).copied().unwrap_or(0);
    let negative = match sign {
        0x0000 => false,
        0x4000 => true,
        _ => return None,
    };
    let mut text = String::new();
    if weight < 0 {
        text.push('0');
    } else {
        for k in 0..=i64::from(weight) {
            if k == 0 {
                text.push_str(&digit(k).to_string());
            } else {
                text.push_str(&format!("{:04}", digit(k)));
            }
        }
    }
    let scale = usize::try_from(scale).unwrap_or(0);
    if scale > 0 {
        let mut fraction = String::new();
        let mut k = i64::from(weight) + 1;
        while fraction.len() < scale {
            fraction.push_str(&format!("{:04}", digit(k)));
            k += 1;
        }
        fraction.truncate(scale);
        text.push('.');
        text.push_str(&fraction);
    }
    let zero = text.bytes().all(|b| b == b'0' || b == b'.');
    Some(if negative && !zero { format!("-{text}") } else { text })
}

#[cfg(test)]
mod tests {
    use super::numeric_text;

    fn binary(weight: i16, sign: u16, scale: i16, digits: &[i16]) -> Vec<u8> {
        let mut out = Vec::new();
        for word in [digits.len() as i16, weight, sign as i16, scale] {
            out.extend(word.to_be_bytes());
        }
        for d in digits {
            out.extend(d.to_be_bytes());
        }
        out
    }

    #[test]
    fn numerics_keep_their_declared_scale() {
        assert_eq!(numeric_text(&binary(0, 0, 2, &[1234, 5000])).unwrap(), "1234.50");
        assert_eq!(numeric_text(&binary(1, 0x4000, 0, &[12, 3456])).unwrap(), "-123456");
        assert_eq!(numeric_text(&binary(-1, 0, 4, &[5])).unwrap(), "0.0005");
        assert_eq!(numeric_text(&binary(-1, 0, 6, &[42])).unwrap(), "0.004200");
        assert_eq!(numeric_text(&binary(-2, 0, 8, &[42])).unwrap(), "0.00000042");
        assert_eq!(numeric_text(&binary(0, 0, 0, &[])).unwrap(), "0");
        assert_eq!(numeric_text(&binary(2, 0, 1, &[1])).unwrap(), "100000000.0");
        assert_eq!(numeric_text(&binary(0, 0xC000, 0, &[])), None, "NaN");
    }
}
