//! The SQL that SQL Write sends: multi-row `INSERT`s (with each database's upsert clause),
//! per-row `UPDATE`s, and PostgreSQL's COPY text format. Names are quoted as identifiers
//! (a quote inside a name is doubled), values only ever go as bound parameters or through
//! COPY's escaped data stream, never into the SQL text.

use super::Kind;
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError};
use switchyard_model::value::Value;

/// Most parameters one statement may carry (PostgreSQL's and MySQL's wire protocols count
/// them in 16 bits; SQLite's default limit is 32,766).
pub fn max_parameters(kind: Kind) -> usize {
    match kind {
        Kind::Postgres | Kind::MySql => 65_535,
        Kind::Sqlite => 32_766,
    }
}

/// `name` quoted as an identifier for `kind` (`"a""b"` or `` `a``b` ``).
pub fn quote(kind: Kind, name: &str) -> Result<String, NodeError> {
    if name.is_empty() || name.contains('\0') {
        return Err(NodeError::new(
            ErrorCode::InvalidParameter,
            format!("\"{name}\" cannot be a table or column name"),
        )
        .with_class(ErrorClass::Permanent));
    }
    Ok(match kind {
        Kind::MySql => format!("`{}`", name.replace('`', "``")),
        _ => format!("\"{}\"", name.replace('"', "\"\"")),
    })
}

/// A table name as written by the user, `table` or `schema.table`, quoted part by part.
pub fn table(kind: Kind, name: &str) -> Result<String, NodeError> {
    let name = name.trim();
    let parts: Vec<&str> = name.split('.').map(str::trim).collect();
    if parts.len() > 2 || parts.iter().any(|p| p.is_empty()) {
        return Err(NodeError::new(
            ErrorCode::InvalidParameter,
            format!("\"{name}\" is not a table name (write table or schema.table)"),
        )
        .with_class(ErrorClass::Permanent)
        .with_parameter("table"));
    }
    Ok(parts.iter().map(|p| quote(kind, p)).collect::<Result<Vec<_>, _>>()?.join("."))
}

/// The placeholder for the `n`th parameter (0-based).
fn placeholder(kind: Kind, n: usize) -> String {
    match kind {
        Kind::Postgres => format!("${}", n + 1),
        _ => "?".into(),
    }
}

/// What to do with a row whose key is already there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// Plain insert: the database refuses a duplicate key.
    Fail,
    /// Upsert on these key columns: the other columns are updated.
    Update(Vec<String>),
}

/// `INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4) [upsert] [RETURNING *]` for `rows` rows.
pub fn insert(
    kind: Kind,
    table: &str,
    columns: &[String],
    rows: usize,
    conflict: &Conflict,
    returning: bool,
) -> Result<String, NodeError> {
    let quoted: Vec<String> = columns.iter().map(|c| quote(kind, c)).collect::<Result<_, _>>()?;
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", quoted.join(", "));
    let mut n = 0;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..columns.len() {
            if column > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&placeholder(kind, n));
            n += 1;
        }
        sql.push(')');
    }
    if let Conflict::Update(keys) = conflict {
        let others: Vec<&String> =
            columns.iter().zip(&quoted).filter(|(c, _)| !keys.contains(c)).map(|(_, q)| q).collect();
        match kind {
            Kind::MySql => {
                // MySQL has no conflict target: the table's primary and unique keys decide.
                let sets: Vec<String> = if others.is_empty() {
                    vec![format!("{0} = {0}", quote(kind, &keys[0])?)]
                } else {
                    others.iter().map(|q| format!("{q} = VALUES({q})")).collect()
                };
                sql.push_str(&format!(" ON DUPLICATE KEY UPDATE {}", sets.join(", ")));
            }
            _ => {
                let target: Vec<String> = keys.iter().map(|k| quote(kind, k)).collect::<Result<_, _>>()?;
                if others.is_empty() {
                    sql.push_str(&format!(" ON CONFLICT ({}) DO NOTHING", target.join(", ")));
                } else {
                    let sets: Vec<String> = others.iter().map(|q| format!("{q} = EXCLUDED.{q}")).collect();
                    sql.push_str(&format!(" ON CONFLICT ({}) DO UPDATE SET {}", target.join(", "), sets.join(", ")));
                }
            }
        }
    }
    if returning {
        sql.push_str(" RETURNING *");
    }
    Ok(sql)
}

/// `UPDATE t SET a = $1, b = $2 WHERE k = $3 [RETURNING *]`: the `set` columns' parameters
/// first, then the keys'.
pub fn update(kind: Kind, table: &str, set: &[String], keys: &[String], returning: bool) -> Result<String, NodeError> {
    let mut n = 0;
    let mut next = || {
        n += 1;
        placeholder(kind, n - 1)
    };
    let sets: Vec<String> =
        set.iter().map(|c| Ok(format!("{} = {}", quote(kind, c)?, next()))).collect::<Result<_, NodeError>>()?;
    let wheres: Vec<String> =
        keys.iter().map(|c| Ok(format!("{} = {}", quote(kind, c)?, next()))).collect::<Result<_, NodeError>>()?;
    let mut sql = format!("UPDATE {table} SET {} WHERE {}", sets.join(", "), wheres.join(" AND "));
    if returning {
        sql.push_str(" RETURNING *");
    }
    Ok(sql)
}

/// `COPY t (a, b) FROM STDIN` (text format).
pub fn copy(table: &str, columns: &[String]) -> Result<String, NodeError> {
    let quoted: Vec<String> = columns.iter().map(|c| quote(Kind::Postgres, c)).collect::<Result<_, _>>()?;
    Ok(format!("COPY {table} ({}) FROM STDIN", quoted.join(", ")))
}

/// One row in COPY's text format, appended to `out`: tab-separated, `\N` for null,
/// backslash escapes for backslash, tab, newline and carriage return. Objects and arrays go
/// as JSON text, booleans as `t`/`f`.
pub fn copy_row(out: &mut Vec<u8>, values: &[&Value]) {
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        match value {
            Value::Null => out.extend_from_slice(b"\\N"),
            Value::Bool(b) => out.push(if *b { b't' } else { b'f' }),
            Value::Int(n) => out.extend_from_slice(n.to_string().as_bytes()),
            Value::Float(f) if f.is_nan() => out.extend_from_slice(b"NaN"),
            Value::Float(f) if f.is_infinite() => {
                out.extend_from_slice(if *f > 0.0 { b"Infinity" } else { b"-Infinity" })
            }
            Value::Float(f) => out.extend_from_slice(f.to_string().as_bytes()),
            Value::String(s) => escape(out, s),
            other => escape(out, &other.to_json_string()),
        }
    }
    out.push(b'\n');
}

fn escape(out: &mut Vec<u8>, text: &str) {
    for &b in text.as_bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            other => out.push(other),
        }
    }
}

/// The 1-based line of COPY data a PostgreSQL error points at (`COPY t, line 3, column n`).
pub fn copy_line(message: &str) -> Option<usize> {
    let at = message.find("COPY ")?;
    let rest = &message[at..];
    let line = rest.find(", line ")?;
    rest[line + 7..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_are_quoted_and_values_are_placeholders() {
        let t = table(Kind::Postgres, "public.Orders").unwrap();
        assert_eq!(t, r#""public"."Orders""#);
        let sql = insert(Kind::Postgres, &t, &cols(&["id", r#"we"ird"#]), 2, &Conflict::Fail, false).unwrap();
        assert_eq!(sql, r#"INSERT INTO "public"."Orders" ("id", "we""ird") VALUES ($1, $2), ($3, $4)"#);
        let t = table(Kind::MySql, "a`b").unwrap();
        assert_eq!(t, "`a``b`");
        assert!(table(Kind::Sqlite, "a.b.c").is_err());
        assert!(table(Kind::Sqlite, " ").is_err());
    }

    #[test]
    fn each_database_gets_its_upsert() {
        let c = cols(&["id", "name", "qty"]);
        let keys = Conflict::Update(cols(&["id"]));
        assert_eq!(
            insert(Kind::Postgres, "t", &c, 1, &keys, true).unwrap(),
            r#"INSERT INTO t ("id", "name", "qty") VALUES ($1, $2, $3) ON CONFLICT ("id") DO UPDATE SET "name" = EXCLUDED."name", "qty" = EXCLUDED."qty" RETURNING *"#
        );
        assert_eq!(
            insert(Kind::MySql, "t", &c, 2, &keys, false).unwrap(),
            "INSERT INTO t (`id`, `name`, `qty`) VALUES (?, ?, ?), (?, ?, ?) ON DUPLICATE KEY UPDATE `name` = VALUES(`name`), `qty` = VALUES(`qty`)"
        );
        assert_eq!(
            insert(Kind::Sqlite, "t", &cols(&["id"]), 1, &keys, false).unwrap(),
            r#"INSERT INTO t ("id") VALUES (?) ON CONFLICT ("id") DO NOTHING"#
        );
        assert_eq!(
            update(Kind::Postgres, "t", &cols(&["name"]), &cols(&["id", "shop"]), false).unwrap(),
            r#"UPDATE t SET "name" = $1 WHERE "id" = $2 AND "shop" = $3"#
        );
    }

    #[test]
    fn copy_text_escapes_what_would_break_a_row() {
        let mut out = Vec::new();
        let values = [
            Value::Int(1),
            Value::from("a\tb\nc\\d\re"),
            Value::Null,
            Value::Bool(true),
            Value::from(serde_json::json!({"k": [1]})),
        ];
        copy_row(&mut out, &values.iter().collect::<Vec<_>>());
        assert_eq!(String::from_utf8(out).unwrap(), "1\ta\\tb\\nc\\\\d\\re\t\\N\tt\t{\"k\":[1]}\n");
        assert_eq!(
            copy_line("invalid input syntax for type integer: \"x\" (SQLSTATE 22P02) COPY t, line 3, column n: \"x\""),
            Some(3)
        );
        assert_eq!(copy_line("no line here"), None);
    }
}
