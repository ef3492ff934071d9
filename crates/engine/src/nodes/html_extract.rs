//! Extract HTML: CSS selectors → fields (text, inner HTML or an attribute), from a text
//! field or a file (binary property), optionally an item per match of a list selector.

use crate::binary::{file_of, property_name};
use crate::node::{NodeContext, NodeResult, Outputs};
use crate::registry::{CheckContext, NodeEntry};
use scraper::{ElementRef, Html, Selector};
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError, ValidationIssue};
use switchyard_model::item::Item;
use switchyard_model::value::Value;
use switchyard_model::workflow::{MAIN, Node};

pub const TYPE: &str = "html.extract";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx))).with_check(check)
}

pub fn descriptor() -> NodeDescriptor {
    super::descriptor(
        TYPE,
        "Extract HTML",
        "Picks values out of an HTML page with CSS selectors (text, inner HTML or an attribute), from a text field \
         or a file; with a list selector, an item per match.",
        NodeGroup::Data,
        "code_tags",
        vec![Port::main()],
        vec![
            ParamSpec::options(
                "source",
                "HTML from",
                &[("field", "A text (field)"), ("file", "A file (binary property)")],
                "field",
            ),
            ParamSpec::string("html", "HTML")
                .default_value("{{ json.data }}")
                .describe("The page's text, usually a field: {{ json.body }}.")
                .show_if("source", &["field"]),
            ParamSpec::string("binaryProperty", "File property")
                .default_value("data")
                .literal()
                .show_if("source", &["file"]),
            ParamSpec::string("itemSelector", "One item per").literal().placeholder("article.product").describe(
                "A CSS selector: each match becomes an item and the fields below are looked up inside it. \
                           Empty: one item for the page.",
            ),
            ParamSpec::list(
                "fields",
                "Fields",
                "Add field",
                vec![
                    ParamSpec::string("name", "Field").required().literal().placeholder("title"),
                    ParamSpec::string("selector", "CSS selector").required().literal().placeholder("h1.title"),
                    ParamSpec::options(
                        "value",
                        "Value",
                        &[("text", "Text"), ("html", "Inner HTML"), ("attribute", "Attribute")],
                        "text",
                    ),
                    ParamSpec::string("attribute", "Attribute").literal().placeholder("href"),
                    ParamSpec::boolean("all", "Every match (a list)", false),
                ],
            ),
        ],
    )
}

struct Field {
    name: String,
    selector: Selector,
    value: String,
    attribute: String,
    all: bool,
}

fn parse_selector(text: &str) -> Result<Selector, String> {
    Selector::parse(text).map_err(|e| format!("\"{text}\" is not a CSS selector: {e}"))
}

fn check(node: &Node, cx: &CheckContext) -> Vec<ValidationIssue> {
    let mut issues = Vec::new();
    let item_selector = node.parameters.get("itemSelector").and_then(|v| v.as_str()).unwrap_or("");
    if !item_selector.trim().is_empty()
        && let Err(e) = parse_selector(item_selector)
    {
        issues.push(cx.parameter_issue(format!("itemSelector: {e}")));
    }
    let fields = node.parameters.get("fields").and_then(|v| v.as_array()).cloned().unwrap_or_default();
    for (i, field) in fields.iter().enumerate() {
        let selector = field.get("selector").and_then(|v| v.as_str()).unwrap_or("");
        if let Err(e) = parse_selector(selector) {
            issues.push(cx.parameter_issue(format!("fields[{i}].selector: {e}")));
        }
        let wants_attribute = field.get("value").and_then(|v| v.as_str()) == Some("attribute");
        if wants_attribute && field.get("attribute").and_then(|v| v.as_str()).unwrap_or("").trim().is_empty() {
            issues.push(cx.parameter_issue(format!("fields[{i}].attribute: say which attribute (href, src, …)")));
        }
    }
    issues
}

fn fields(ctx: &NodeContext) -> Result<Vec<Field>, NodeError> {
    let raw = ctx.raw_param("fields");
    let list = raw.as_array().cloned().unwrap_or_default();
    list.iter()
        .enumerate()
        .map(|(i, f)| {
            let text = |k: &str| f.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
            let selector = parse_selector(&text("selector")).map_err(|e| {
                NodeError::new(ErrorCode::InvalidParameter, e).with_parameter(format!("fields[{i}].selector"))
            })?;
            let name = text("name");
            Ok(Field {
                name: if name.trim().is_empty() { format!("field{}", i + 1) } else { name },
                selector,
                value: if text("value").is_empty() { "text".into() } else { text("value") },
                attribute: text("attribute"),
                all: f.get("all").and_then(|v| v.as_bool()).unwrap_or(false),
            })
        })
        .collect()
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let fields = fields(ctx)?;
    let item_selector = ctx.choice("itemSelector");
    let item_selector = if item_selector.trim().is_empty() {
        None
    } else {
        Some(
            parse_selector(&item_selector)
                .map_err(|e| NodeError::new(ErrorCode::InvalidParameter, e).with_parameter("itemSelector"))?,
        )
    };
    let from_file = ctx.choice("source") == "file";
    let property = property_name(ctx.raw_param("binaryProperty"));
    let items = ctx.take_input(0).into_vec();
    let mut out = Outputs::new();
    for (index, item) in items.into_iter().enumerate() {
        ctx.check_cancelled()?;
        let page = async {
            if from_file {
                let data = file_of(&item, &property, "binaryProperty")?;
                let bytes = ctx.services.blobs.read(data, ctx.services.items.max_item_bytes).await?;
                Ok::<_, NodeError>(String::from_utf8_lossy(&bytes).into_owned())
            } else {
                Ok(ctx.eval("html", &item, index)?.to_text())
            }
        }
        .await;
        match page {
            Ok(page) => {
                let document = Html::parse_document(&page);
                let found = |root: ElementRef<'_>, base: Option<&Item>| {
                    let mut json = base.and_then(|b| b.json.as_object().cloned()).unwrap_or_default();
                    for field in &fields {
                        json.insert(&field.name, extract(root, field));
                    }
                    let mut made = Item::derived(Value::object(json), index);
                    if base.is_some() {
                        made.set_binary(item.binary().cloned().unwrap_or_default());
                    }
                    made
                };
                match &item_selector {
                    None => out.push(MAIN, found(document.root_element(), Some(&item))),
                    Some(selector) => {
                        for element in document.select(selector) {
                            out.push(MAIN, found(element, None));
                        }
                    }
                }
            }
            Err(error) => {
                ctx.item_failed(&mut out, item, index, error.with_item(index).with_class(ErrorClass::Permanent))?
            }
        }
    }
    Ok(out)
}

fn extract(root: ElementRef<'_>, field: &Field) -> Value {
    let one = |e: ElementRef<'_>| -> Value {
        match field.value.as_str() {
            "html" => Value::from(e.inner_html().trim().to_string()),
            "attribute" => e.value().attr(field.attribute.trim()).map_or(Value::Null, |a| Value::from(a.to_string())),
            _ => Value::from(e.text().collect::<String>().split_whitespace().collect::<Vec<_>>().join(" ")),
        }
    };
    if field.all {
        Value::array(root.select(&field.selector).map(one).collect())
    } else {
        root.select(&field.selector).next().map_or(Value::Null, one)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_whitespace_folded_and_attributes_read() {
        let page =
            Html::parse_document("<ul><li><a href='/a'> One\n  two </a></li><li><a href='/b'>Three</a></li></ul>");
        let field = |value: &str, all: bool| Field {
            name: "x".into(),
            selector: Selector::parse("a").unwrap(),
            value: value.into(),
            attribute: "href".into(),
            all,
        };
        assert_eq!(extract(page.root_element(), &field("text", false)), Value::from("One two"));
        let all = extract(page.root_element(), &field("attribute", true));
        assert_eq!(serde_json::Value::from(&all), serde_json::json!(["/a", "/b"]));
    }
}
