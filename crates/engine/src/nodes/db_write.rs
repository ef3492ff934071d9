//! SQL Write: inserts, updates or upserts items as rows of a table on a PostgreSQL,
//! MySQL/MariaDB or SQLite account. Columns come from the items' fields (auto) or from a
//! mapping of column → expression; rows go in batches of multi-row statements (PostgreSQL
//! inserts by COPY), all in one transaction per node run (all or nothing) or one per batch.
//! Values are bound or streamed as data, never written into the SQL text.

use crate::db::write::{self, Conflict};
use crate::db::{Connection, Kind, ReadOptions, Row};
use crate::node::{NodeContext, NodeResult, Outputs};
use crate::registry::{CheckContext, NodeEntry};
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError, ValidationIssue};
use switchyard_model::item::{Item, Paired};
use switchyard_model::value::{Object, Value};
use switchyard_model::workflow::{MAIN, Node};

pub const TYPE: &str = "db.write";

/// The credential slot of the database account.
pub const SLOT: &str = "database";

/// The batch size when the node does not say.
const DEFAULT_BATCH: usize = 1000;

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx))).with_check(check)
}

pub fn descriptor() -> NodeDescriptor {
    let mut d = super::descriptor(
        TYPE,
        "SQL Write",
        "Inserts, updates or upserts items as rows of a PostgreSQL, MySQL/MariaDB or SQLite table, in batches and \
         in one transaction: all rows are written or none.",
        NodeGroup::Action,
        "database",
        vec![Port::main()],
        vec![
            ParamSpec::string("table", "Table").required().placeholder("orders").describe("table or schema.table"),
            ParamSpec::options(
                "operation",
                "Operation",
                &[
                    ("insert", "Insert"),
                    ("update", "Update (rows matching the key columns)"),
                    ("upsert", "Insert, or update when the key exists"),
                ],
                "insert",
            ),
            ParamSpec::string("keyColumns", "Key columns")
                .placeholder("id")
                .describe(
                    "Comma-separated columns that identify a row. Upsert needs a primary key or unique index on them \
                     (MySQL uses the table's own keys).",
                )
                .show_if("operation", &["update", "upsert"]),
            ParamSpec::options(
                "mapping",
                "Columns",
                &[("auto", "From the items' fields (same names)"), ("manual", "Map each column")],
                "auto",
            ),
            ParamSpec::string("skipFields", "Fields to leave out")
                .placeholder("internalNote, tmp")
                .describe("Comma-separated item fields that are not columns of the table.")
                .show_if("mapping", &["auto"]),
            ParamSpec::list(
                "columns",
                "Column values",
                "Add column",
                vec![
                    ParamSpec::string("column", "Column").literal(),
                    ParamSpec::string("value", "Value").placeholder("{{ json.email }}"),
                ],
            )
            .show_if("mapping", &["manual"]),
            ParamSpec::integer("batchSize", "Rows per statement", Some(1.0), Some(100_000.0))
                .default_value(DEFAULT_BATCH as u64),
            ParamSpec::options(
                "transaction",
                "Transaction",
                &[
                    ("run", "One for the whole run (all rows or none)"),
                    ("batch", "One per batch (earlier batches stay when one fails)"),
                ],
                "run",
            ),
            ParamSpec::options(
                "output",
                "Output",
                &[("counts", "A summary (rows written)"), ("rows", "The written rows, as the database returns them")],
                "counts",
            ),
        ],
    );
    d.credentials = vec![crate::db::slot(SLOT)];
    d
}

fn check(node: &Node, cx: &CheckContext<'_>) -> Vec<ValidationIssue> {
    let text = |name: &str| node.parameters.get(name).and_then(|v| v.as_str()).unwrap_or("").trim().to_string();
    let operation = text("operation");
    let mut issues = Vec::new();
    if matches!(operation.as_str(), "update" | "upsert") && text("keyColumns").is_empty() {
        issues.push(cx.parameter_issue(format!("keyColumns: {operation} needs the key columns that identify a row")));
    }
    if text("mapping") == "manual" {
        let entries = node.parameters.get("columns").and_then(|v| v.as_array()).cloned().unwrap_or_default();
        if entries.is_empty() {
            issues.push(
                cx.parameter_issue("columns: map at least one column, or take the columns from the items' fields"),
            );
        }
        for (i, entry) in entries.iter().enumerate() {
            if entry.get("column").and_then(|v| v.as_str()).unwrap_or("").trim().is_empty() {
                issues.push(cx.parameter_issue(format!("columns[{i}].column: name the column")));
            }
        }
    }
    issues
}

/// Comma-separated names, trimmed, empty ones dropped.
fn names(text: &str) -> Vec<String> {
    text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

fn invalid(parameter: &str, message: String) -> NodeError {
    NodeError::new(ErrorCode::InvalidParameter, message).with_class(ErrorClass::Permanent).with_parameter(parameter)
}

/// What the node was asked to do, read once per run.
struct Plan {
    kind: Kind,
    table: String,
    /// The table as the user wrote it, for messages.
    table_name: String,
    operation: Operation,
    columns: Vec<String>,
    keys: Vec<String>,
    batch: usize,
    per_batch: bool,
    returning: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Insert,
    Update,
    Upsert,
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let (reference, fields) = super::account_fields(ctx, SLOT, "database account to write to").await?;
    let kind = Kind::of_account(&reference)?;
    // Whole-node settings may be expressions over the first item: read before taking them.
    let text = |name: &str| Ok::<_, NodeError>(ctx.eval_once(name)?.to_text().trim().to_string());
    let (table_name, key_text, skip_text) = (text("table")?, text("keyColumns")?, text("skipFields")?);
    let items = ctx.take_input(0).into_vec();
    if items.is_empty() {
        return Ok(Outputs::new());
    }
    let rows = values(ctx, &items, &names(&skip_text))?;
    let plan = plan(ctx, kind, &rows.columns, table_name, names(&key_text))?;
    let place = crate::db::describe(kind, &fields.scope.account, &fields);
    let mut connection = Connection::open(kind, &fields).await?;
    let result = run(ctx, &mut connection, &plan, items, rows.values).await;
    connection.close().await;
    result.map_err(|e| NodeError { message: format!("{place}, table {}: {}", plan.table_name, e.message), ..e })
}

/// The items' values, row by row, in the order of `columns`.
struct Rows {
    columns: Vec<String>,
    values: Vec<Vec<Value>>,
}

fn values(ctx: &NodeContext, items: &[Item], skip: &[String]) -> Result<Rows, NodeError> {
    if ctx.choice("mapping") == "manual" {
        let entries = ctx.raw_param("columns").as_array().cloned().unwrap_or_default();
        let columns: Vec<String> =
            entries.iter().map(|e| e.get("column").and_then(|v| v.as_str()).unwrap_or("").trim().to_string()).collect();
        if let Some(i) = columns.iter().position(String::is_empty) {
            return Err(invalid(&format!("columns[{i}].column"), "name the column".into()));
        }
        let compiled = super::compile_list(ctx, "columns", "value")?;
        let values = items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                compiled
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        ctx.evaluator().eval(c, item, index).map_err(|e| {
                            NodeError::new(e.code(), e.message)
                                .with_parameter(format!("columns[{i}].value"))
                                .with_item(index)
                        })
                    })
                    .collect::<Result<Vec<Value>, NodeError>>()
            })
            .collect::<Result<_, _>>()?;
        return Ok(Rows { columns, values });
    }
    // Auto: every field any item has, in the order they first appear; a field an item
    // lacks is NULL in its row.
    let mut columns: Vec<String> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let object = item.json.as_object().ok_or_else(|| {
            invalid(
                "mapping",
                format!("the item's JSON is {}, not an object with a field per column", item.json.type_name()),
            )
            .with_item(index)
        })?;
        for key in object.keys() {
            if !skip.iter().any(|s| s == key) && !columns.iter().any(|c| c == key) {
                columns.push(key.to_string());
            }
        }
    }
    if columns.is_empty() {
        return Err(invalid("mapping", "the items have no fields to write as columns".into()));
    }
    let values = items
        .iter()
        .map(|item| columns.iter().map(|c| item.json.get(c).cloned().unwrap_or(Value::Null)).collect())
        .collect();
    Ok(Rows { columns, values })
}

fn plan(
    ctx: &NodeContext,
    kind: Kind,
    columns: &[String],
    table_name: String,
    keys: Vec<String>,
) -> Result<Plan, NodeError> {
    let table = write::table(kind, &table_name)?;
    let operation = match ctx.choice("operation").as_str() {
        "update" => Operation::Update,
        "upsert" => Operation::Upsert,
        _ => Operation::Insert,
    };
    let keys = if operation == Operation::Insert {
        Vec::new()
    } else {
        if keys.is_empty() {
            return Err(invalid("keyColumns", "name the key columns that identify a row".into()));
        }
        if let Some(missing) = keys.iter().find(|k| !columns.contains(k)) {
            return Err(invalid(
                "keyColumns",
                format!("key column \"{missing}\" is not among the columns written ({})", columns.join(", ")),
            ));
        }
        if operation == Operation::Update && keys.len() == columns.len() {
            return Err(invalid(
                "keyColumns",
                "every column written is a key column: there is nothing to update".into(),
            ));
        }
        keys
    };
    let returning = ctx.choice("output") == "rows";
    if returning && kind == Kind::MySql && operation == Operation::Update {
        return Err(invalid(
            "output",
            "MySQL and MariaDB cannot return the rows of an UPDATE; choose the summary output".into(),
        ));
    }
    let asked = ctx.raw_param("batchSize").as_u64().map_or(DEFAULT_BATCH, |n| n.max(1) as usize);
    // A statement carries at most so many parameters: fewer rows per statement when wide.
    let batch = asked.min((write::max_parameters(kind) / columns.len().max(1)).max(1));
    Ok(Plan {
        kind,
        table,
        table_name,
        operation,
        columns: columns.to_vec(),
        keys,
        batch,
        per_batch: ctx.choice("transaction") == "batch",
        returning,
    })
}

/// What the writes gave back so far.
#[derive(Default)]
struct Written {
    rows: usize,
    affected: u64,
    returned: Vec<(usize, Row)>,
}

async fn run(
    ctx: &NodeContext,
    connection: &mut Connection,
    plan: &Plan,
    items: Vec<Item>,
    values: Vec<Vec<Value>>,
) -> NodeResult {
    let mut out = Outputs::new();
    let mut written = Written::default();
    let total = values.len();
    if !plan.per_batch {
        connection.begin().await?;
    }
    let mut items = items.into_iter();
    for (number, batch) in values.chunks(plan.batch).enumerate() {
        let start = number * plan.batch;
        let batch_items: Vec<Item> = items.by_ref().take(batch.len()).collect();
        if let Err(e) = ctx.check_cancelled() {
            connection.rollback().await;
            return Err(e);
        }
        if plan.per_batch {
            connection.begin().await?;
        }
        let result = write_batch(connection, plan, start, batch, &mut written).await;
        let result = match result {
            Ok(()) if plan.per_batch => connection.commit().await,
            other => other,
        };
        if let Err(error) = result {
            connection.rollback().await;
            let error = located(error, start, batch.len());
            // With one transaction per batch, the earlier batches stay: the failed batch's
            // items go where onError says (with "stop" the node fails).
            if plan.per_batch && error.class != ErrorClass::Transient {
                for (i, item) in batch_items.into_iter().enumerate() {
                    ctx.item_failed(&mut out, item, start + i, error.clone())?;
                }
                continue;
            }
            return Err(if plan.per_batch {
                error
            } else {
                NodeError {
                    message: format!("{} (nothing was written: the whole run's rows were rolled back)", error.message),
                    ..error
                }
            });
        }
        ctx.progress(start + batch.len(), total);
    }
    if !plan.per_batch {
        connection.commit().await?;
    }
    if plan.returning {
        for (index, row) in written.returned {
            let mut item = Item::with_paired(Value::object(row.json), Paired::item(index));
            for (column, bytes) in row.files {
                let data = ctx.services.blobs.put(&bytes, &column, Some("application/octet-stream")).await?;
                item.set_file(column, data);
            }
            out.push(MAIN, item);
        }
    } else {
        let mut summary = Object::new();
        summary.insert("table", Value::from(plan.table_name.clone()));
        summary.insert("operation", Value::from(format!("{:?}", plan.operation).to_lowercase()));
        summary.insert("rows", Value::Int(written.rows as i64));
        summary.insert("affected", Value::Int(written.affected as i64));
        out.push(MAIN, Item::new(Value::object(summary)));
    }
    Ok(out)
}

/// Writes one batch of rows (the items from `start` on) inside the open transaction.
async fn write_batch(
    connection: &mut Connection,
    plan: &Plan,
    start: usize,
    batch: &[Vec<Value>],
    written: &mut Written,
) -> Result<(), NodeError> {
    let options = ReadOptions::default();
    match plan.operation {
        Operation::Insert if plan.kind == Kind::Postgres && !plan.returning => {
            let mut data = Vec::with_capacity(batch.len() * 16 * plan.columns.len());
            for row in batch {
                write::copy_row(&mut data, &row.iter().collect::<Vec<_>>());
            }
            let copied = connection.copy_in(&write::copy(&plan.table, &plan.columns)?, data).await?;
            written.affected += copied;
        }
        Operation::Insert | Operation::Upsert => {
            for key in &plan.keys {
                let at = plan.columns.iter().position(|c| c == key).unwrap_or(0);
                if let Some(i) = batch.iter().position(|row| row[at].is_null()) {
                    return Err(NodeError::new(
                        ErrorCode::InvalidParameter,
                        format!("key column \"{key}\" has no value (null) in this item"),
                    )
                    .with_class(ErrorClass::Permanent)
                    .with_item(start + i));
                }
            }
            let conflict =
                if plan.operation == Operation::Upsert { Conflict::Update(plan.keys.clone()) } else { Conflict::Fail };
            let sql = write::insert(plan.kind, &plan.table, &plan.columns, batch.len(), &conflict, plan.returning)?;
            let params: Vec<Value> = batch.iter().flatten().cloned().collect();
            let outcome = connection.query(&sql, &params, options).await?;
            written.affected += outcome.affected.unwrap_or(outcome.rows.len() as u64);
            let pair = outcome.rows.len() == batch.len();
            for (i, row) in outcome.rows.into_iter().enumerate() {
                written.returned.push((if pair { start + i } else { start }, row));
            }
        }
        Operation::Update => {
            let set: Vec<String> = plan.columns.iter().filter(|c| !plan.keys.contains(c)).cloned().collect();
            let sql = write::update(plan.kind, &plan.table, &set, &plan.keys, plan.returning)?;
            for (i, row) in batch.iter().enumerate() {
                let value = |c: &String| row[plan.columns.iter().position(|x| x == c).unwrap_or(0)].clone();
                if let Some(key) = plan.keys.iter().find(|k| value(k).is_null()) {
                    return Err(NodeError::new(
                        ErrorCode::InvalidParameter,
                        format!("key column \"{key}\" has no value (null) in this item"),
                    )
                    .with_class(ErrorClass::Permanent)
                    .with_item(start + i));
                }
                let params: Vec<Value> = set.iter().chain(&plan.keys).map(value).collect();
                let outcome = connection.query(&sql, &params, options).await.map_err(|e| e.with_item(start + i))?;
                written.affected += outcome.affected.unwrap_or(outcome.rows.len() as u64);
                written.returned.extend(outcome.rows.into_iter().map(|row| (start + i, row)));
            }
        }
    }
    written.rows += batch.len();
    Ok(())
}

/// The error with the items it concerns: the item itself where known (an update, a COPY
/// line), else the batch's range.
fn located(error: NodeError, start: usize, len: usize) -> NodeError {
    if error.item_index.is_some() {
        let index = error.item_index.unwrap_or(0);
        return NodeError { message: format!("item {index}: {}", error.message), ..error };
    }
    if let Some(line) = write::copy_line(&error.message) {
        let index = start + line.saturating_sub(1);
        return NodeError { message: format!("item {index}: {}", error.message), ..error }.with_item(index);
    }
    if len == 1 {
        return NodeError { message: format!("item {start}: {}", error.message), ..error }.with_item(start);
    }
    NodeError { message: format!("items {start}–{}: {}", start + len - 1, error.message), ..error }
}
