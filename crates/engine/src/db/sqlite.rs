//! SQLite files through rusqlite (the store's own library), on a blocking thread. Parameters
//! go as their JSON types; columns come back as SQLite's storage classes.

use super::{Outcome, Row};
use std::sync::{Arc, Mutex};
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError};
use switchyard_model::value::{Object, Value};

pub struct Connection(Arc<Mutex<rusqlite::Connection>>);

fn error(e: rusqlite::Error) -> NodeError {
    match e {
        rusqlite::Error::SqliteFailure(code, message) => {
            let text = message.unwrap_or_else(|| code.to_string());
            let class = if matches!(code.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            {
                ErrorClass::Transient
            } else {
                ErrorClass::Permanent
            };
            NodeError::new(ErrorCode::QueryFailed, format!("{text} (SQLite error {})", code.extended_code))
                .with_class(class)
        }
        other => NodeError::new(ErrorCode::QueryFailed, other.to_string()).with_class(ErrorClass::Permanent),
    }
}

impl Connection {
    pub(super) fn open(path: &str) -> Result<Connection, NodeError> {
        let path = crate::access::expand_home(path.trim());
        if !path.is_absolute() {
            return Err(NodeError::new(
                ErrorCode::InvalidParameter,
                format!("the account's database file \"{}\" is not a full path", path.display()),
            )
            .with_class(ErrorClass::Permanent));
        }
        let connection = rusqlite::Connection::open(&path).map_err(error)?;
        // Another program may be writing: wait for its lock rather than fail at once.
        connection.busy_timeout(std::time::Duration::from_secs(5)).map_err(error)?;
        Ok(Connection(Arc::new(Mutex::new(connection))))
    }

    pub(super) async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Outcome, NodeError> {
        let (connection, sql, params) = (self.0.clone(), sql.to_string(), params.to_vec());
        tokio::task::spawn_blocking(move || {
            let connection = connection.lock().unwrap_or_else(|p| p.into_inner());
            run(&connection, &sql, &params)
        })
        .await
        .map_err(|e| NodeError::new(ErrorCode::Internal, e.to_string()))?
    }
}

fn run(connection: &rusqlite::Connection, sql: &str, params: &[Value]) -> Result<Outcome, NodeError> {
    let mut statement = connection.prepare(sql).map_err(error)?;
    let count = statement.parameter_count();
    if count != params.len() {
        return Err(super::count_mismatch(count, params.len(), "?"));
    }
    let values: Vec<rusqlite::types::Value> = params
        .iter()
        .map(|v| match v {
            Value::Null => rusqlite::types::Value::Null,
            Value::Bool(b) => rusqlite::types::Value::Integer(i64::from(*b)),
            Value::Int(i) => rusqlite::types::Value::Integer(*i),
            Value::Float(f) => rusqlite::types::Value::Real(*f),
            Value::String(s) => rusqlite::types::Value::Text(s.to_string()),
            other => rusqlite::types::Value::Text(other.to_json_string()),
        })
        .collect();
    if statement.column_count() == 0 {
        let changed = statement.execute(rusqlite::params_from_iter(values)).map_err(error)?;
        return Ok(Outcome { rows: Vec::new(), affected: Some(changed as u64) });
    }
    let names: Vec<String> = statement.column_names().map(|n| n.to_string()).collect();
    let mut rows = statement.query(rusqlite::params_from_iter(values)).map_err(error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(error)? {
        let mut item = Row { json: Object::new(), files: Vec::new() };
        for (i, name) in names.iter().enumerate() {
            let value = match row.get_ref(i).map_err(error)? {
                rusqlite::types::ValueRef::Null => Value::Null,
                rusqlite::types::ValueRef::Integer(n) => Value::Int(n),
                rusqlite::types::ValueRef::Real(f) => Value::Float(f),
                rusqlite::types::ValueRef::Text(t) => Value::from(String::from_utf8_lossy(t).into_owned()),
                rusqlite::types::ValueRef::Blob(b) => {
                    item.files.push((name.clone(), b.to_vec()));
                    continue;
                }
            };
            item.json.insert(name, value);
        }
        out.push(item);
    }
    Ok(Outcome { rows: out, affected: None })
}
