//! Schedule trigger: starts the workflow at the times a cron pattern names (in a time
//! zone) or at a fixed interval, while the workflow is active.

use crate::node::{NodeContext, NodeResult, Outputs};
use crate::registry::CheckContext;
use crate::registry::NodeEntry;
use crate::trigger::{ScheduleConfig, ScheduleFire, Trigger};
use switchyard_core::schedule::{Missed, Rule, RuleError};
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::ValidationIssue;
use switchyard_model::item::Item;
use switchyard_model::value::{Object, Value};
use switchyard_model::workflow::Node;

pub const TYPE: &str = "trigger.schedule";

/// When the node fires; the error names the parameter.
fn config(node: &Node) -> Result<ScheduleConfig, RuleError> {
    Ok(ScheduleConfig { rule: rule(node)?, missed: missed(node) })
}

/// A cron pattern or time zone that does not parse, or an interval under a second.
fn check(node: &Node, cx: &CheckContext<'_>) -> Vec<ValidationIssue> {
    rule(node).err().map(|e| cx.parameter_issue(e.to_string())).into_iter().collect()
}

/// The node's rule; the error names the parameter.
fn rule(node: &Node) -> Result<Rule, RuleError> {
    let text = |name: &str, default: &str| {
        node.parameters.get(name).and_then(|v| v.as_str()).map(str::to_string).unwrap_or_else(|| default.to_string())
    };
    if text("mode", "cron") == "interval" {
        let amount = node.parameters.get("interval").and_then(serde_json::Value::as_f64).unwrap_or(5.0);
        let unit = match text("unit", "minutes").as_str() {
            "seconds" => 1.0,
            "hours" => 3600.0,
            "days" => 86_400.0,
            _ => 60.0,
        };
        Rule::every_seconds(amount * unit)
    } else {
        Rule::cron(&text("cron", "0 9 * * *"), &text("timezone", "UTC"))
    }
}

fn missed(node: &Node) -> Missed {
    Missed::parse(node.parameters.get("missed").and_then(|v| v.as_str()).unwrap_or("skip"))
}

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx)))
        .with_trigger(Trigger::Schedule { config, item })
        .with_check(check)
}

pub fn descriptor() -> NodeDescriptor {
    super::descriptor(
        TYPE,
        "Schedule",
        "Starts the workflow on a schedule while it is active: a cron pattern in a time zone, or every so often. \
         Emits one item: {scheduledFor, firedAt, missed}.",
        NodeGroup::Trigger,
        "calendar",
        vec![Port::main()],
        vec![
            ParamSpec::options("mode", "Run", &[("cron", "On a cron pattern"), ("interval", "Every …")], "cron"),
            ParamSpec::string("cron", "Cron pattern")
                .literal()
                .default_value("0 9 * * *")
                .placeholder("0 9 * * 1-5")
                .describe("5 fields (minute hour day month weekday) or 6 (seconds first). Names like MON and JAN work.")
                .show_if("mode", &["cron"]),
            ParamSpec::string("timezone", "Time zone")
                .literal()
                .default_value("UTC")
                .placeholder("Europe/Paris")
                .describe("An IANA time zone; daylight-saving changes are followed.")
                .show_if("mode", &["cron"]),
            ParamSpec::number("interval", "Every").default_value(5).literal().show_if("mode", &["interval"]),
            ParamSpec::options(
                "unit",
                "Unit",
                &[("seconds", "Seconds"), ("minutes", "Minutes"), ("hours", "Hours"), ("days", "Days")],
                "minutes",
            )
            .show_if("mode", &["interval"]),
            ParamSpec::options(
                "missed",
                "Missed while closed",
                &[("skip", "Skip them"), ("runOnce", "Run once when the app starts")],
                "skip",
            )
            .describe("What to do with fire times that passed while Switchyard was not running."),
        ],
    )
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let items = ctx.take_run_input();
    if !items.is_empty() {
        return Ok(Outputs::main(items));
    }
    // Run by hand: one item as if it fired now.
    let now = ctx.services.clock.now();
    Ok(Outputs::main(vec![item(ScheduleFire { scheduled_for: now, fired_at: now, missed: false })]))
}

/// The item a fire starts the run with: `{scheduledFor, firedAt, missed}`.
fn item(fire: ScheduleFire) -> Item {
    let mut json = Object::new();
    json.insert("scheduledFor", Value::from(crate::clock::rfc3339(fire.scheduled_for)));
    json.insert("firedAt", Value::from(crate::clock::rfc3339(fire.fired_at)));
    json.insert("missed", Value::from(fire.missed));
    Item::new(Value::object(json))
}
