//! Date & Time: parses, formats and shifts dates in time zones — add or subtract (calendar
//! units, or business days that skip weekends and listed holidays), the difference between
//! two dates, and the run clock's now — into a field of each item.

use crate::node::{NodeContext, NodeResult, Outputs};
use crate::registry::{CheckContext, NodeEntry};
use chrono::{DateTime, Datelike, Months, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError, ValidationIssue};
use switchyard_model::value::Value;
use switchyard_model::workflow::Node;

pub const TYPE: &str = "datetime";

const UNITS: &[(&str, &str)] = &[
    ("seconds", "Seconds"),
    ("minutes", "Minutes"),
    ("hours", "Hours"),
    ("days", "Days"),
    ("businessDays", "Business days (Mon–Fri, not holidays)"),
    ("weeks", "Weeks"),
    ("months", "Months"),
    ("years", "Years"),
];

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx))).with_check(check)
}

pub fn descriptor() -> NodeDescriptor {
    super::descriptor(
        TYPE,
        "Date & Time",
        "Parses, formats, adds to or subtracts from a date in a time zone (business days skip weekends and \
         holidays), or measures the time between two dates; the result goes into a field of each item.",
        NodeGroup::Data,
        "calendar_clock",
        vec![Port::main()],
        vec![
            ParamSpec::options(
                "operation",
                "Operation",
                &[
                    ("format", "Format a date"),
                    ("add", "Add to a date"),
                    ("subtract", "Subtract from a date"),
                    ("difference", "Time between two dates"),
                    ("now", "The current time"),
                ],
                "format",
            ),
            ParamSpec::string("value", "Date").placeholder("{{ json.createdAt }}").describe(
                "RFC 3339 (2026-03-14T09:30:00Z), a date (2026-03-14), a date and time (2026-03-14 09:30), \
                           milliseconds since 1970, or the input format below.",
            ),
            ParamSpec::string("inputFormat", "Input format")
                .literal()
                .placeholder("%d/%m/%Y %H:%M")
                .describe("strftime codes, for dates in other shapes; empty: the shapes above."),
            ParamSpec::string("timezone", "Time zone")
                .literal()
                .default_value("UTC")
                .placeholder("Europe/Paris")
                .describe(
                    "An IANA time zone: dates without an offset are read in it, results are shown in it, and \
                           days, months and business days follow its calendar.",
                ),
            ParamSpec::number("amount", "Amount").default_value(1).show_if("operation", &["add", "subtract"]),
            ParamSpec::options("unit", "Unit", UNITS, "days").show_if("operation", &["add", "subtract", "difference"]),
            ParamSpec::string("holidays", "Holidays")
                .literal()
                .placeholder("2026-12-25, 2026-12-26")
                .describe("Dates business days skip, besides Saturdays and Sundays.")
                .show_if("unit", &["businessDays"]),
            ParamSpec::string("other", "Until")
                .placeholder("{{ json.closedAt }}")
                .show_if("operation", &["difference"]),
            ParamSpec::string("outputFormat", "Output format")
                .literal()
                .placeholder("%A %d %B %Y, %H:%M")
                .describe("strftime codes; empty: RFC 3339 with the zone's offset.")
                .show_if("operation", &["format", "add", "subtract", "now"]),
            ParamSpec::string("field", "Put it in").literal().default_value("date").placeholder("date"),
        ],
    )
}

fn text(node: &Node, name: &str) -> String {
    node.parameters.get(name).and_then(|v| v.as_str()).unwrap_or("").to_string()
}

fn check(node: &Node, cx: &CheckContext) -> Vec<ValidationIssue> {
    let mut issues = Vec::new();
    let zone = text(node, "timezone");
    if !zone.trim().is_empty() && zone.trim().parse::<Tz>().is_err() {
        issues
            .push(cx.parameter_issue(format!("timezone: \"{zone}\" is not an IANA time zone (such as Europe/Paris)")));
    }
    if let Err(e) = holidays(&text(node, "holidays")) {
        issues.push(cx.parameter_issue(format!("holidays: {e}")));
    }
    issues
}

fn holidays(text: &str) -> Result<Vec<NaiveDate>, String> {
    text.split([',', '\n', ' '])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| format!("\"{t}\" is not a date like 2026-12-25")))
        .collect()
}

fn bad(parameter: &str, message: String) -> NodeError {
    NodeError::new(ErrorCode::ConversionFailed, message).with_class(ErrorClass::Permanent).with_parameter(parameter)
}

/// A date from a value: milliseconds, RFC 3339, the usual local shapes (read in `zone`), or
/// `format`.
pub fn parse(value: &Value, format: &str, zone: Tz) -> Result<DateTime<Tz>, String> {
    if let Some(ms) = value.as_i64() {
        return DateTime::from_timestamp_millis(ms)
            .map(|t| t.with_timezone(&zone))
            .ok_or_else(|| format!("{ms} is out of range"));
    }
    let raw = value.to_text();
    let text = raw.trim();
    let local = |naive: NaiveDateTime| {
        zone.from_local_datetime(&naive)
            .earliest()
            .ok_or_else(|| format!("{text} does not exist in {zone} (a daylight-saving gap)"))
    };
    if !format.trim().is_empty() {
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Ok(t.with_timezone(&zone));
        }
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return local(t);
        }
        if let Ok(d) = NaiveDate::parse_from_str(text, format) {
            return local(d.and_hms_opt(0, 0, 0).unwrap_or_default());
        }
        return Err(format!("\"{text}\" does not match the input format \"{format}\""));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&zone));
    }
    for shape in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, shape) {
            return local(t);
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return local(d.and_hms_opt(0, 0, 0).unwrap_or_default());
    }
    Err(format!("\"{text}\" is not a date (RFC 3339, YYYY-MM-DD, YYYY-MM-DD HH:MM[:SS], or set an input format)"))
}

/// `t` moved by `amount` units (negative: back), in its zone's calendar.
pub fn shift(t: DateTime<Tz>, amount: f64, unit: &str, off: &[NaiveDate]) -> Result<DateTime<Tz>, String> {
    let whole = amount.trunc() as i64;
    let seconds = |s: f64| t + chrono::Duration::milliseconds((s * 1000.0).round() as i64);
    let calendar = |naive: NaiveDateTime| {
        t.timezone()
            .from_local_datetime(&naive)
            .earliest()
            .ok_or_else(|| "the result falls in a daylight-saving gap".to_string())
    };
    match unit {
        "seconds" => Ok(seconds(amount)),
        "minutes" => Ok(seconds(amount * 60.0)),
        "hours" => Ok(seconds(amount * 3600.0)),
        "days" | "weeks" => {
            let days = if unit == "weeks" { whole * 7 } else { whole };
            calendar(t.naive_local() + chrono::Duration::days(days))
        }
        "months" | "years" => {
            let months = if unit == "years" { whole * 12 } else { whole };
            let naive = t.naive_local();
            let moved = if months >= 0 {
                naive.checked_add_months(Months::new(months as u32))
            } else {
                naive.checked_sub_months(Months::new(months.unsigned_abs() as u32))
            };
            calendar(moved.ok_or("the result is out of range")?)
        }
        "businessDays" => {
            let step = if whole >= 0 { 1 } else { -1 };
            let mut left = whole.abs();
            let mut day = t.naive_local();
            while left > 0 {
                day += chrono::Duration::days(step);
                if is_business_day(day.date(), off) {
                    left -= 1;
                }
            }
            calendar(day)
        }
        other => Err(format!("unknown unit \"{other}\"")),
    }
}

fn is_business_day(day: NaiveDate, off: &[NaiveDate]) -> bool {
    !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !off.contains(&day)
}

/// The time from `a` to `b` in `unit` (whole business days; fractions for the others).
pub fn difference(a: DateTime<Tz>, b: DateTime<Tz>, unit: &str, off: &[NaiveDate]) -> Value {
    let ms = (b - a).num_milliseconds() as f64;
    let number =
        |n: f64| if n.fract() == 0.0 { Value::Int(n as i64) } else { Value::Float((n * 1000.0).round() / 1000.0) };
    match unit {
        "seconds" => number(ms / 1000.0),
        "minutes" => number(ms / 60_000.0),
        "hours" => number(ms / 3_600_000.0),
        "weeks" => number(ms / 604_800_000.0),
        "months" | "years" => {
            let (from, to) = (a.naive_local(), b.naive_local());
            let mut months = (to.year() - from.year()) as i64 * 12 + to.month() as i64 - from.month() as i64;
            // Whole months: the day and time reached.
            if months > 0 && (to.day(), to.time()) < (from.day(), from.time()) {
                months -= 1;
            } else if months < 0 && (to.day(), to.time()) > (from.day(), from.time()) {
                months += 1;
            }
            if unit == "years" { Value::Int(months / 12) } else { Value::Int(months) }
        }
        "businessDays" => {
            let (start, end, sign) =
                if a <= b { (a.date_naive(), b.date_naive(), 1) } else { (b.date_naive(), a.date_naive(), -1) };
            let mut count = 0i64;
            let mut day = start;
            while day < end {
                day = day.succ_opt().unwrap_or(day);
                if is_business_day(day, off) {
                    count += 1;
                }
            }
            Value::Int(sign * count)
        }
        _ => number(ms / 86_400_000.0),
    }
}

fn show(t: DateTime<Tz>, format: &str) -> Result<String, String> {
    if format.trim().is_empty() {
        return Ok(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
    }
    use std::fmt::Write;
    let mut out = String::new();
    write!(out, "{}", t.format(format)).map_err(|_| format!("\"{format}\" is not a valid output format"))?;
    Ok(out)
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let operation = ctx.choice("operation");
    let zone_text = ctx.choice("timezone");
    let zone: Tz = if zone_text.trim().is_empty() {
        Tz::UTC
    } else {
        zone_text.trim().parse().map_err(|_| bad("timezone", format!("\"{zone_text}\" is not an IANA time zone")))?
    };
    let off = holidays(&ctx.choice("holidays")).map_err(|e| bad("holidays", e))?;
    let (input_format, output_format, unit) =
        (ctx.choice("inputFormat"), ctx.choice("outputFormat"), ctx.choice("unit"));
    let field = match ctx.raw_param("field").as_str().map(str::trim) {
        Some(f) if !f.is_empty() => crate::node::field_path("field", f)?,
        _ => crate::node::field_path("field", "date")?,
    };
    let now: DateTime<Utc> = ctx.services.clock.now();
    let items = ctx.take_input(0).into_vec();
    let mut out = Outputs::new();
    let mapped = ctx.map_items(items, &mut out, |item, index| {
        let result = (|| -> Result<Value, NodeError> {
            let date = |name: &str| -> Result<DateTime<Tz>, NodeError> {
                let value = ctx.eval(name, &item, index)?;
                parse(&value, &input_format, zone).map_err(|e| bad(name, e))
            };
            let shown = |t: DateTime<Tz>| show(t, &output_format).map(Value::from).map_err(|e| bad("outputFormat", e));
            match operation.as_str() {
                "now" => shown(now.with_timezone(&zone)),
                "add" | "subtract" => {
                    let amount = ctx.f64_param("amount", &item, index)?;
                    let amount = if operation == "subtract" { -amount } else { amount };
                    shown(shift(date("value")?, amount, &unit, &off).map_err(|e| bad("amount", e))?)
                }
                "difference" => Ok(difference(date("value")?, date("other")?, &unit, &off)),
                _ => shown(date("value")?),
            }
        })();
        match result {
            Ok(value) => super::with_field(item, index, &field, value).map(Some),
            Err(e) => Err((item, e.with_item(index))),
        }
    })?;
    out.extend("main", mapped);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, zone: &str) -> DateTime<Tz> {
        parse(&Value::from(text), "", zone.parse().unwrap()).unwrap()
    }

    #[test]
    fn calendar_units_follow_the_zone_across_daylight_saving() {
        // Paris moves to summer time on 2026-03-29: a day later is 09:00 again, 23 hours on.
        let t = at("2026-03-28 09:00", "Europe/Paris");
        let next = shift(t, 1.0, "days", &[]).unwrap();
        assert_eq!(next.to_rfc3339(), "2026-03-29T09:00:00+02:00");
        assert_eq!(difference(t, next, "hours", &[]), Value::Int(23));
        // The end of January plus a month is the end of February.
        assert_eq!(
            shift(at("2026-01-31", "UTC"), 1.0, "months", &[]).unwrap().to_rfc3339(),
            "2026-02-28T00:00:00+00:00"
        );
    }

    #[test]
    fn business_days_skip_weekends_and_holidays() {
        let friday = at("2026-12-18", "UTC");
        let off = holidays("2026-12-24, 2026-12-25").unwrap();
        // Fri 18 → Mon 21, Tue 22, Wed 23, (Thu 24, Fri 25 off), Mon 28.
        assert_eq!(shift(friday, 4.0, "businessDays", &off).unwrap().date_naive().to_string(), "2026-12-28");
        assert_eq!(shift(friday, -1.0, "businessDays", &off).unwrap().date_naive().to_string(), "2026-12-17");
        assert_eq!(difference(friday, at("2026-12-28", "UTC"), "businessDays", &off), Value::Int(4));
        assert!(holidays("2026-13-01").is_err());
    }

    #[test]
    fn shapes_and_formats() {
        let zone: Tz = "America/New_York".parse().unwrap();
        assert_eq!(
            parse(&Value::from("14/03/2026 09:30"), "%d/%m/%Y %H:%M", zone).unwrap().to_rfc3339(),
            "2026-03-14T09:30:00-04:00"
        );
        assert_eq!(parse(&Value::Int(0), "", zone).unwrap().to_rfc3339(), "1969-12-31T19:00:00-05:00");
        assert!(parse(&Value::from("yesterday"), "", zone).unwrap_err().contains("is not a date"));
        assert_eq!(show(at("2026-03-14T09:30:00Z", "UTC"), "%A %d %B").unwrap(), "Saturday 14 March");
        assert_eq!(difference(at("2026-01-31", "UTC"), at("2026-03-30", "UTC"), "months", &[]), Value::Int(1));
    }
}
