//! Convert Data: a file (binary property) into items, or the items into a file, as CSV,
//! TSV, JSON, NDJSON, XML, XLSX or an HTML table. Files are read from the blob store in
//! chunks and reading stops once the items pass the run's limit, so a file's size alone
//! never decides the memory a run takes; CSV and NDJSON files are written as a stream.

use crate::binary::{file_of, property_name};
use crate::formats::{self, Budget, csv::CsvOptions};
use crate::node::{NodeContext, NodeResult, Outputs};
use crate::registry::{CheckContext, NodeEntry};
use std::io::BufReader;
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::{ErrorCode, NodeError, ValidationIssue};
use switchyard_model::item::{Item, Paired, PairedItem};
use switchyard_model::value::{Object, Value};
use switchyard_model::workflow::{MAIN, Node};

pub const TYPE: &str = "data.convert";

const FORMATS: &[(&str, &str)] = &[
    ("csv", "CSV"),
    ("tsv", "TSV (tab-separated)"),
    ("json", "JSON"),
    ("ndjson", "NDJSON (a JSON value per line)"),
    ("xml", "XML"),
    ("xlsx", "Excel (XLSX)"),
    ("html", "HTML table (to a file only)"),
];

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx))).with_check(check)
}

pub fn descriptor() -> NodeDescriptor {
    super::descriptor(
        TYPE,
        "Convert Data",
        "Parses a file (a binary property: CSV, TSV, JSON, NDJSON, XML, XLSX) into items, one per row or \
         element, or makes one file of all the items (CSV, TSV, JSON, NDJSON, XML, XLSX, HTML table).",
        NodeGroup::Data,
        "table",
        vec![Port::main()],
        vec![
            ParamSpec::options(
                "operation",
                "Convert",
                &[("toItems", "A file into items"), ("toFile", "The items into a file")],
                "toItems",
            ),
            ParamSpec::options("format", "Format", FORMATS, "csv"),
            ParamSpec::string("binaryProperty", "File property")
                .default_value("data")
                .literal()
                .describe("The item's file to read, or the name the new file gets (binary.<name>)."),
            ParamSpec::string("fileName", "File name")
                .placeholder("report.csv")
                .describe("The new file's name (default data.<format>); may use the first item's fields.")
                .show_if("operation", &["toFile"]),
            ParamSpec::string("delimiter", "Delimiter")
                .default_value(",")
                .literal()
                .describe("One character; \\t for a tab.")
                .show_if("format", &["csv"]),
            ParamSpec::string("quote", "Quote character")
                .default_value("\"")
                .literal()
                .show_if("format", &["csv", "tsv"]),
            ParamSpec::boolean("headerRow", "First row names the columns", true)
                .show_if("format", &["csv", "tsv", "xlsx"]),
            ParamSpec::options(
                "encoding",
                "Encoding",
                &[("utf8", "UTF-8"), ("latin1", "Latin-1 (ISO 8859-1)")],
                "utf8",
            )
            .show_if("format", &["csv", "tsv"]),
            ParamSpec::boolean("inferTypes", "Numbers and true/false as such", true)
                .describe("Off: every field is text. On: 42, -3.5, true become numbers and booleans (not 007 or 1e5).")
                .show_if("format", &["csv", "tsv"])
                .show_if("operation", &["toItems"]),
            ParamSpec::string("sheet", "Sheet")
                .literal()
                .describe("Its name; empty: the first sheet (reading) or Sheet1 (writing).")
                .show_if("format", &["xlsx"]),
            ParamSpec::string("itemElement", "Item element")
                .literal()
                .placeholder("entry")
                .describe(
                    "Reading: each element of this name is an item (empty: the whole document is one). Writing: \
                           each item's element (default item).",
                )
                .show_if("format", &["xml"]),
            ParamSpec::string("rootElement", "Root element")
                .default_value("items")
                .literal()
                .show_if("format", &["xml"])
                .show_if("operation", &["toFile"]),
            ParamSpec::boolean("pretty", "Indented", false)
                .show_if("format", &["json"])
                .show_if("operation", &["toFile"]),
        ],
    )
}

fn check(node: &Node, cx: &CheckContext) -> Vec<ValidationIssue> {
    let text = |name: &str| node.parameters.get(name).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let mut issues = Vec::new();
    if text("format") == "html" && text("operation") != "toFile" {
        issues.push(cx.parameter_issue(
            "format: an HTML table can only be written; to read a page, use Extract HTML with CSS selectors",
        ));
    }
    let delimiter = text("delimiter");
    if text("format") == "csv" && !delimiter.is_empty() && single_byte(&delimiter).is_none() {
        issues.push(cx.parameter_issue(format!("delimiter: must be one character (or \\t), found \"{delimiter}\"")));
    }
    issues
}

/// A one-byte ASCII character, `\t` spelled out included.
fn single_byte(text: &str) -> Option<u8> {
    match text {
        "\\t" | "\t" => Some(b'\t'),
        t if t.len() == 1 && t.is_ascii() => Some(t.as_bytes()[0]),
        _ => None,
    }
}

fn csv_options(ctx: &NodeContext, format: &str) -> CsvOptions {
    let text = |name: &str, default: &str| ctx.raw_param(name).as_str().unwrap_or(default).to_string();
    CsvOptions {
        delimiter: if format == "tsv" { b'\t' } else { single_byte(&text("delimiter", ",")).unwrap_or(b',') },
        quote: single_byte(&text("quote", "\"")).unwrap_or(b'"'),
        header: ctx.raw_param("headerRow").as_bool().unwrap_or(true),
        latin1: ctx.choice("encoding") == "latin1",
        infer: ctx.raw_param("inferTypes").as_bool().unwrap_or(true),
    }
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let format = ctx.choice("format");
    let property = property_name(ctx.raw_param("binaryProperty"));
    if ctx.choice("operation") == "toFile" {
        let items = ctx.take_input(0).shared();
        return to_file(ctx, items, &format, property).await;
    }
    let items = ctx.take_input(0).into_vec();
    let mut out = Outputs::new();
    for (index, item) in items.into_iter().enumerate() {
        ctx.check_cancelled()?;
        match to_items(ctx, &item, &format, &property).await {
            Ok(mut rows) => {
                for row in &mut rows {
                    row.set_paired(Paired::item(index));
                }
                out.append(MAIN, rows)
            }
            Err(error) => ctx.item_failed(&mut out, item, index, error.with_item(index))?,
        }
    }
    Ok(out)
}

async fn to_items(ctx: &NodeContext, item: &Item, format: &str, property: &str) -> Result<Vec<Item>, NodeError> {
    let data = file_of(item, property, "binaryProperty")?;
    let path = ctx.services.blobs.path(data)?;
    let name = crate::binary::display_name(data, property);
    let mut budget = Budget::new(ctx.services.items.max_live_bytes, ctx.cancel.clone(), &name);
    let options = csv_options(ctx, format);
    let (format, sheet, element) = (format.to_string(), ctx.choice("sheet"), ctx.choice("itemElement"));
    let max_whole = ctx.services.items.max_item_bytes;
    let size = data.size;
    tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&path).map_err(|e| {
            crate::binary::blob_error(if e.kind() == std::io::ErrorKind::NotFound {
                switchyard_core::blobs::BlobError::Missing(path.display().to_string())
            } else {
                switchyard_core::blobs::BlobError::Io { action: "read", path: path.clone(), source: e }
            })
        })?;
        let reader = BufReader::with_capacity(256 * 1024, file);
        let values = match format.as_str() {
            "csv" | "tsv" => return formats::csv::read(reader, &options, &mut budget),
            "ndjson" => formats::json::read_lines(reader, &mut budget),
            "xml" => formats::xml::read(reader, &element, &mut budget),
            "xlsx" => formats::xlsx::read(reader, &sheet, options.header, &mut budget),
            "json" => {
                // A JSON document is parsed whole: at most the largest item.
                if size > max_whole as u64 {
                    return Err(NodeError::new(
                        ErrorCode::ValueTooLarge,
                        format!(
                            "{name} is {size} bytes: a JSON file is read whole, at most {} MiB (Settings → \"Largest \
                             item\"); NDJSON is read line by line",
                            max_whole / (1024 * 1024)
                        ),
                    )
                    .with_class(switchyard_model::error::ErrorClass::Permanent));
                }
                let bytes =
                    std::fs::read(&path).map_err(|e| formats::failed(&name, "", format!("cannot be read: {e}")))?;
                formats::json::read(&bytes, &mut budget)
            }
            other => Err(NodeError::new(ErrorCode::UnknownOption, format!("cannot read \"{other}\" files into items"))
                .with_parameter("format")),
        };
        values.map(|values| values.into_iter().map(Item::wrap).collect())
    })
    .await
    .map_err(|e| NodeError::new(ErrorCode::Internal, e.to_string()))?
}

async fn to_file(ctx: &NodeContext, items: std::sync::Arc<Vec<Item>>, format: &str, property: String) -> NodeResult {
    let first = items.first().cloned().unwrap_or_else(Item::empty);
    let named = ctx.eval("fileName", &first, 0)?.to_text();
    let extension = if format == "html" { "html" } else { format };
    let file_name = if named.trim().is_empty() { format!("data.{extension}") } else { named.trim().to_string() };
    let mut writer = ctx.services.blobs.writer().await?;
    match format {
        "csv" | "tsv" | "ndjson" => {
            // Made on a blocking thread, written here chunk by chunk.
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
            let options = csv_options(ctx, format);
            let source = items.clone();
            let ndjson = format == "ndjson";
            let maker = tokio::task::spawn_blocking(move || {
                let sink = |chunk: Vec<u8>| {
                    tx.blocking_send(chunk).map_err(|_| NodeError::new(ErrorCode::Cancelled, "the run was cancelled"))
                };
                if ndjson {
                    formats::json::write_lines(&source, sink)
                } else {
                    formats::csv::write(&source, &options, sink).map(|_| ())
                }
            });
            while let Some(chunk) = rx.recv().await {
                ctx.check_cancelled()?;
                writer.write(&chunk).await.map_err(crate::binary::blob_error)?;
            }
            maker.await.map_err(|e| NodeError::new(ErrorCode::Internal, e.to_string()))??;
        }
        other => {
            let (source, sheet, header) =
                (items.clone(), ctx.choice("sheet"), ctx.raw_param("headerRow").as_bool().unwrap_or(true));
            let (root, element, pretty) = (
                ctx.choice("rootElement"),
                ctx.choice("itemElement"),
                ctx.raw_param("pretty").as_bool().unwrap_or(false),
            );
            let (other, title) = (other.to_string(), file_name.clone());
            let bytes = tokio::task::spawn_blocking(move || match other.as_str() {
                "json" => Ok(formats::json::write(&source, pretty)),
                "xml" => Ok(formats::xml::write(&source, &root, &element)),
                "xlsx" => formats::xlsx::write(&source, &sheet, header),
                "html" => Ok(formats::html::write_table(&source, &title)),
                unknown => Err(NodeError::new(ErrorCode::UnknownOption, format!("unknown format \"{unknown}\""))
                    .with_parameter("format")),
            })
            .await
            .map_err(|e| NodeError::new(ErrorCode::Internal, e.to_string()))??;
            writer.write(&bytes).await.map_err(crate::binary::blob_error)?;
        }
    }
    let stored = writer.finish().await.map_err(crate::binary::blob_error)?;
    let data = crate::binary::describe(stored, &file_name, Some(media_type(format)));
    let mut json = Object::new();
    json.insert("fileName", Value::from(file_name.as_str()));
    json.insert("items", Value::from(items.len() as i64));
    json.insert("size", Value::from(data.size as i64));
    // Lineage to every item, for tables of a reasonable size.
    let paired = if items.len() <= 10_000 {
        Paired::many((0..items.len()).map(|i| PairedItem { item: i as u32, input: 0 }).collect())
    } else {
        Paired::None
    };
    let mut item = Item::with_paired(Value::object(json), paired);
    item.set_file(property, data);
    Ok(Outputs::main(vec![item]))
}

fn media_type(format: &str) -> &'static str {
    match format {
        "csv" => "text/csv",
        "tsv" => "text/tab-separated-values",
        "json" => "application/json",
        "ndjson" => "application/x-ndjson",
        "xml" => "application/xml",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        _ => "text/html",
    }
}
