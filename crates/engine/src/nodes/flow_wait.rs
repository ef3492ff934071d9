//! Wait: pauses the branch for a duration or until a time, then passes items on.

use crate::node::{NodeContext, NodeResult, Outputs, as_number, describe};
use crate::registry::NodeEntry;
use std::time::Duration;
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::{ErrorCode, NodeError};

pub const TYPE: &str = "flow.wait";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx)))
}

pub fn descriptor() -> NodeDescriptor {
    super::descriptor(
        TYPE,
        "Wait",
        "Waits for a while (or until a given time), then passes its items on.",
        NodeGroup::Flow,
        "clock",
        vec![Port::main()],
        vec![
            ParamSpec::options(
                "mode",
                "Wait",
                &[("duration", "For a duration"), ("until", "Until a time")],
                "duration",
            ),
            ParamSpec::number("amount", "Amount").default_value(1).required().show_if("mode", &["duration"]),
            ParamSpec::options(
                "unit",
                "Unit",
                &[("milliseconds", "Milliseconds"), ("seconds", "Seconds"), ("minutes", "Minutes"), ("hours", "Hours")],
                "seconds",
            )
            .show_if("mode", &["duration"]),
            ParamSpec::string("until", "Until")
                .required()
                .placeholder("2026-12-24T18:00:00Z")
                .describe("A date and time (RFC 3339). A time in the past does not wait.")
                .show_if("mode", &["until"]),
        ],
    )
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let delay = if ctx.choice("mode") == "until" {
        let text = ctx.eval_once("until")?.to_text();
        let target = chrono::DateTime::parse_from_rfc3339(text.trim()).map_err(|e| {
            NodeError::new(ErrorCode::InvalidParameter, format!("\"{text}\" is not an RFC 3339 time: {e}"))
                .with_parameter("until")
        })?;
        (target.with_timezone(&chrono::Utc) - ctx.services.clock.now()).to_std().unwrap_or(Duration::ZERO)
    } else {
        let amount = ctx.eval_once("amount")?;
        let n = as_number(&amount).filter(|n| *n >= 0.0 && n.is_finite()).ok_or_else(|| {
            NodeError::new(
                ErrorCode::InvalidParameter,
                format!("must be a number of at least 0, got {}", describe(&amount)),
            )
            .with_parameter("amount")
        })?;
        let unit_ms = match ctx.choice("unit").as_str() {
            "milliseconds" => 1.0,
            "minutes" => 60_000.0,
            "hours" => 3_600_000.0,
            _ => 1_000.0,
        };
        Duration::from_secs_f64((n * unit_ms / 1000.0).min(1.0e9))
    };
    tokio::select! {
        () = tokio::time::sleep(delay) => {}
        () = ctx.cancel.cancelled() => return Err(NodeError::new(ErrorCode::Cancelled, "the run was cancelled while waiting")),
    }
    Ok(Outputs::main(super::pass_through(ctx.take_input(0).into_vec())))
}
