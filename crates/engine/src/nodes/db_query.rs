//! SQL Query: runs SQL on a PostgreSQL, MySQL/MariaDB or SQLite account with parameters bound
//! from expressions (`$1`… or `?` in the SQL, never spliced into its text), once per item or
//! once for all; each row becomes an item (binary columns become its files), and a statement
//! without rows gives `{affectedRows}`.

use crate::db::{Connection, Kind, ReadOptions};
use crate::node::{NodeContext, NodeResult, Outputs};
use crate::registry::{CheckContext, NodeEntry};
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::{ErrorClass, NodeError, ValidationIssue};
use switchyard_model::item::{Item, Paired};
use switchyard_model::value::Value;
use switchyard_model::workflow::{MAIN, Node};

pub const TYPE: &str = "db.query";

/// The credential slot of the database account.
pub const SLOT: &str = "database";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx))).with_check(check)
}

pub fn descriptor() -> NodeDescriptor {
    let mut d = super::descriptor(
        TYPE,
        "SQL Query",
        "Runs SQL on a PostgreSQL, MySQL/MariaDB or SQLite database with parameters bound from expressions ($1, $2 … \
         for PostgreSQL, ? for the others); each row becomes an item.",
        NodeGroup::Action,
        "database",
        vec![Port::main()],
        vec![
            ParamSpec::code("query", "SQL", "sql").required().describe(
                "Values go in as parameters, never into this text: write $1, $2 … (PostgreSQL) or ? (MySQL, SQLite) \
                 and set each below.",
            ),
            ParamSpec::list(
                "parameters",
                "Query parameters",
                "Add parameter",
                vec![ParamSpec::string("value", "Value").placeholder("{{ json.email }}")],
            )
            .describe("In order: the first fills $1 (or the first ?). Numbers, text, true/false, null and JSON keep their type."),
            ParamSpec::options(
                "mode",
                "Run",
                &[("perItem", "Once for each item"), ("once", "Once for all items (parameters from the first)")],
                "perItem",
            ),
            ParamSpec::options(
                "decimals",
                "Decimals (NUMERIC, DECIMAL)",
                &[("string", "As text (exact)"), ("number", "As numbers (may round)")],
                "string",
            ),
        ],
    );
    d.credentials = vec![crate::db::slot(SLOT)];
    d
}

/// An expression in the SQL text would splice an item's values into SQL: refused, with the
/// way to do it instead.
fn check(node: &Node, cx: &CheckContext<'_>) -> Vec<ValidationIssue> {
    let sql = node.parameters.get("query").and_then(|v| v.as_str()).unwrap_or("");
    if sql.contains("{{") {
        return vec![cx.parameter_issue(
            "query: an expression in the SQL text would put values into the SQL itself (SQL injection); write a \
             placeholder ($1 or ?) there and the expression under Query parameters",
        )];
    }
    Vec::new()
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let (reference, fields) = super::account_fields(ctx, SLOT, "database account to run the SQL on").await?;
    let kind = Kind::of_account(&reference)?;
    let place = crate::db::describe(kind, &fields.scope.account, &fields);
    let sql = ctx.raw_param("query").as_str().unwrap_or("").to_string();
    let options = ReadOptions { decimals_as_numbers: ctx.choice("decimals") == "number" };
    let parameters = super::compile_list(ctx, "parameters", "value")?;
    let once = ctx.choice("mode") == "once";
    let items = ctx.take_input(0).into_vec();

    let mut connection = Connection::open(kind, &fields).await?;
    let result = run(ctx, &mut connection, &sql, &parameters, items, once, options, &place).await;
    connection.close().await;
    result
}

#[allow(clippy::too_many_arguments)]
async fn run(
    ctx: &NodeContext,
    connection: &mut Connection,
    sql: &str,
    parameters: &[std::sync::Arc<crate::expr::Compiled>],
    items: Vec<Item>,
    once: bool,
    options: ReadOptions,
    place: &str,
) -> NodeResult {
    let mut out = Outputs::new();
    let batches: Vec<(usize, Item)> = if once {
        vec![(0, items.into_iter().next().unwrap_or_else(Item::empty))]
    } else {
        items.into_iter().enumerate().collect()
    };
    for (index, item) in batches {
        ctx.check_cancelled()?;
        let values = parameters
            .iter()
            .enumerate()
            .map(|(i, c)| {
                ctx.evaluator().eval(c, &item, index).map_err(|e| {
                    NodeError::new(e.code(), e.message)
                        .with_parameter(format!("parameters[{i}].value"))
                        .with_item(index)
                })
            })
            .collect::<Result<Vec<Value>, NodeError>>();
        // Rows become items as they arrive; their binary columns are stored afterwards.
        let mut items: Vec<Item> = Vec::new();
        let mut files: Vec<(usize, crate::db::Files)> = Vec::new();
        let outcome = match values {
            Ok(values) => connection
                .query_each(sql, &values, options, &mut |row| {
                    if !row.files.is_empty() {
                        files.push((items.len(), row.files));
                    }
                    items.push(Item::with_paired(Value::object(row.json), Paired::item(index)));
                })
                .await
                .map_err(|e| named(e, place)),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(affected) => {
                // A statement without rows (UPDATE, DELETE, DDL) says how many rows it changed.
                if let Some(affected) = affected {
                    let mut json = switchyard_model::value::Object::new();
                    json.insert("affectedRows", Value::Int(i64::try_from(affected).unwrap_or(i64::MAX)));
                    out.push(MAIN, Item::with_paired(Value::object(json), Paired::item(index)));
                }
                for (at, row_files) in files {
                    for (column, bytes) in row_files {
                        let data = ctx.services.blobs.put(&bytes, &column, Some("application/octet-stream")).await?;
                        items[at].set_file(column, data);
                    }
                }
                out.append(MAIN, items);
            }
            Err(error) if error.class == ErrorClass::Transient => return Err(error),
            Err(error) => ctx.item_failed(&mut out, item, index, error.with_item(index))?,
        }
    }
    Ok(out)
}

/// An error with the database it came from in front.
fn named(e: NodeError, place: &str) -> NodeError {
    NodeError { message: format!("{place}: {}", e.message), ..e }
}
