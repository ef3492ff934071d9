//! Workflow validation. Every problem is reported at once, each with its JSONPath, the node
//! it concerns and, when checking a file, its line and column.

use crate::expr::{Evaluator, NoHistory, ScriptEnv, ScriptLimits, compile_script};
use crate::region::{DONE, Region};
use crate::registry::{CheckContext, Registry};
use petgraph::graph::{DiGraph, NodeIndex};
use serde_json::Value as Json;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use switchyard_model::descriptor::{CredentialSlot, NodeDescriptor, ParamKind, ParamSpec};
use switchyard_model::error::{ErrorCode, ValidationIssue};
use switchyard_model::json_pos::{self, Locations};
use switchyard_model::retry::RetryPolicy;
use switchyard_model::workflow::{BUNDLE_FORMAT_VERSION, FORMAT_VERSION, JsonMap, MAX_CONCURRENCY, Workflow};

/// The result of checking a workflow file.
#[derive(Debug)]
pub struct Report {
    pub issues: Vec<ValidationIssue>,
    /// The workflow, when the file could be read as one (even if it has semantic issues).
    pub workflow: Option<Workflow>,
}

impl Report {
    pub fn is_valid(&self) -> bool {
        self.issues.is_empty()
    }
}

/// Checks a workflow file's text: JSON syntax, structure, then meaning.
pub fn validate_text(text: &str, registry: &Registry) -> Report {
    let json: Json = match serde_json::from_str(text) {
        Ok(json) => json,
        Err(e) => {
            let mut issue = ValidationIssue::new(ErrorCode::InvalidJson, "$", json_error_message(&e));
            issue.line = Some(e.line() as u32);
            issue.column = Some(e.column() as u32);
            return Report { issues: vec![issue], workflow: None };
        }
    };
    let mut issues: Vec<ValidationIssue> = json_pos::duplicate_keys(text)
        .into_iter()
        .map(|d| {
            let key = d.path.rsplit_once(['.', '[']).map_or(d.path.as_str(), |(_, k)| k).trim_end_matches(']');
            let key = if key.starts_with('"') { key.to_string() } else { format!("\"{key}\"") };
            let mut issue = ValidationIssue::new(
                ErrorCode::DuplicateKey,
                d.path.clone(),
                format!(
                    "{key} is given twice in one object (first at line {}, column {}); which one counts would be a guess",
                    d.first.0, d.first.1
                ),
            );
            (issue.line, issue.column) = (Some(d.again.0), Some(d.again.1));
            issue
        })
        .collect();
    issues.extend(structure(&json));
    let mut workflow = None;
    if issues
        .iter()
        .all(|i| i.code != ErrorCode::UnsupportedFormatVersion && i.path != "$" && i.code != ErrorCode::DuplicateKey)
    {
        match serde_json::from_value::<Workflow>(json.clone()) {
            Ok(wf) => {
                if issues.is_empty() {
                    issues.extend(validate_workflow(&wf, registry));
                }
                workflow = Some(wf);
            }
            Err(e) if issues.is_empty() => {
                issues.push(ValidationIssue::new(ErrorCode::InvalidWorkflow, "$", e.to_string()));
            }
            Err(_) => {}
        }
    }
    if !issues.is_empty() {
        let locations = Locations::scan(text, issues.iter().map(|i| i.path.as_str()));
        for issue in issues.iter_mut().filter(|i| i.line.is_none()) {
            if let Some((line, column)) = locations.find(&issue.path) {
                issue.line = Some(line);
                issue.column = Some(column);
            }
        }
    }
    Report { issues, workflow }
}

/// The result of checking a file that holds a workflow or a bundle of them.
#[derive(Debug)]
pub struct FileReport {
    pub issues: Vec<ValidationIssue>,
    /// The workflows, the bundle's first (the one it is of) first; empty when the file
    /// could not be read.
    pub workflows: Vec<Workflow>,
    pub bundle: bool,
}

/// Checks a workflow file, or a bundle file (`{"switchyardBundle": 1, "workflows": […]}`):
/// each of its workflows as a file of its own, issues placed at `$.workflows[i]…` with the
/// bundle's lines and columns.
pub fn validate_file(text: &str, registry: &Registry) -> FileReport {
    let bundle = match serde_json::from_str::<Json>(text) {
        Ok(Json::Object(o)) if o.contains_key("switchyardBundle") => o,
        _ => {
            let report = validate_text(text, registry);
            return FileReport {
                issues: report.issues,
                workflows: report.workflow.into_iter().collect(),
                bundle: false,
            };
        }
    };
    let mut issues = Vec::new();
    let mut workflows = Vec::new();
    match bundle.get("switchyardBundle") {
        Some(v) if v.as_u64() == Some(u64::from(BUNDLE_FORMAT_VERSION)) => {}
        Some(v) => issues.push(ValidationIssue::new(
            ErrorCode::UnsupportedFormatVersion,
            "$.switchyardBundle",
            format!("bundle format {v} is not supported; this build reads version {BUNDLE_FORMAT_VERSION}"),
        )),
        None => {}
    }
    match bundle.get("workflows") {
        Some(Json::Array(list)) if !list.is_empty() => {
            let mut ids = HashSet::new();
            for (i, value) in list.iter().enumerate() {
                let report = validate_text(&value.to_string(), registry);
                for mut issue in report.issues {
                    issue.path = format!("$.workflows[{i}]{}", issue.path.strip_prefix('$').unwrap_or(&issue.path));
                    (issue.line, issue.column) = (None, None);
                    issues.push(issue);
                }
                if let Some(wf) = report.workflow {
                    if !ids.insert(wf.id.clone()) {
                        issues.push(ValidationIssue::new(
                            ErrorCode::InvalidWorkflow,
                            format!("$.workflows[{i}].id"),
                            format!("the bundle holds two workflows with id \"{}\"", wf.id),
                        ));
                    }
                    workflows.push(wf);
                }
            }
        }
        _ => issues.push(ValidationIssue::new(
            ErrorCode::InvalidWorkflow,
            "$",
            "a bundle file needs \"workflows\": a list of at least one workflow",
        )),
    }
    if !issues.is_empty() {
        let locations = Locations::scan(text, issues.iter().map(|i| i.path.as_str()));
        for issue in &mut issues {
            if let Some((line, column)) = locations.find(&issue.path) {
                issue.line = Some(line);
                issue.column = Some(column);
            }
        }
    }
    FileReport { issues, workflows, bundle: true }
}

fn json_error_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    // serde_json appends " at line X column Y"; the location is reported separately.
    let text = text.rsplit_once(" at line ").map_or(text.as_str(), |(m, _)| m);
    format!("malformed JSON: {text}")
}

/// Structural checks on raw JSON, before it is read as a workflow.
fn structure(root: &Json) -> Vec<ValidationIssue> {
    let mut c = Checker::default();
    let Some(obj) = root.as_object() else {
        c.issue(
            ErrorCode::InvalidWorkflow,
            "$",
            format!("a workflow file must be a JSON object, found {}", kind(root)),
        );
        return c.issues;
    };
    match obj.get("switchyard") {
        None => c.issue(
            ErrorCode::UnsupportedFormatVersion,
            "$",
            format!("missing \"switchyard\" format version; a workflow file starts with {{\"switchyard\": {FORMAT_VERSION}, …}}"),
        ),
        Some(v) if v.as_u64() == Some(u64::from(FORMAT_VERSION)) => {}
        Some(v) if v.is_u64() => c.issue(
            ErrorCode::UnsupportedFormatVersion,
            "$.switchyard",
            format!("format version {v} is not supported; this build reads version {FORMAT_VERSION}"),
        ),
        Some(v) => c.issue(
            ErrorCode::UnsupportedFormatVersion,
            "$.switchyard",
            format!("\"switchyard\" must be the format version number {FORMAT_VERSION}, found {}", kind(v)),
        ),
    }
    c.string(obj, "$", "id", true, true);
    c.string(obj, "$", "name", true, true);
    c.string(obj, "$", "description", false, false);

    match obj.get("nodes") {
        None => c.issue(ErrorCode::InvalidWorkflow, "$", "missing \"nodes\" (a list of nodes)".into()),
        Some(Json::Array(nodes)) => {
            for (i, node) in nodes.iter().enumerate() {
                c.node(node, &format!("$.nodes[{i}]"));
            }
        }
        Some(other) => {
            c.issue(ErrorCode::InvalidWorkflow, "$.nodes", format!("\"nodes\" must be a list, found {}", kind(other)))
        }
    }
    match obj.get("connections") {
        None => {}
        Some(Json::Array(conns)) => {
            for (i, conn) in conns.iter().enumerate() {
                let path = format!("$.connections[{i}]");
                let Some(conn) = c.object(conn, &path) else { continue };
                for (end, port) in [("from", "output"), ("to", "input")] {
                    let end_path = format!("{path}.{end}");
                    match conn.get(end) {
                        None => c.issue(ErrorCode::InvalidWorkflow, &path, format!("missing \"{end}\"")),
                        Some(v) => {
                            if let Some(o) = c.object(v, &end_path) {
                                c.string(o, &end_path, "node", true, true);
                                c.string(o, &end_path, port, false, true);
                            }
                        }
                    }
                }
            }
        }
        Some(other) => c.issue(
            ErrorCode::InvalidWorkflow,
            "$.connections",
            format!("\"connections\" must be a list, found {}", kind(other)),
        ),
    }
    if let Some(settings) = obj.get("settings")
        && let Some(s) = c.object(settings, "$.settings")
    {
        c.string(s, "$.settings", "timezone", false, true);
        if let Some(tz) = s.get("timezone").and_then(Json::as_str)
            && tz.parse::<chrono_tz::Tz>().is_err()
        {
            c.issue(
                ErrorCode::InvalidWorkflow,
                "$.settings.timezone",
                format!("unknown time zone \"{tz}\" (use an IANA name such as Europe/Paris)"),
            );
        }
        if let Some(t) = s.get("timeoutSeconds")
            && !t.as_u64().is_some_and(|t| t > 0 && t <= u64::from(u32::MAX))
        {
            c.issue(
                ErrorCode::InvalidWorkflow,
                "$.settings.timeoutSeconds",
                format!("\"timeoutSeconds\" must be a whole number of seconds above 0, found {}", short(t)),
            );
        }
        if let Some(e) = s.get("errorWorkflow")
            && !(e.is_null() || e.is_string())
        {
            c.issue(
                ErrorCode::InvalidWorkflow,
                "$.settings.errorWorkflow",
                format!("\"errorWorkflow\" must be a workflow id or null, found {}", kind(e)),
            );
        }
    }
    match obj.get("notes") {
        None => {}
        Some(Json::Array(notes)) => {
            for (i, note) in notes.iter().enumerate() {
                c.note(note, &format!("$.notes[{i}]"));
            }
        }
        Some(other) => {
            c.issue(ErrorCode::InvalidWorkflow, "$.notes", format!("\"notes\" must be a list, found {}", kind(other)))
        }
    }
    if let Some(pins) = obj.get("pinData")
        && let Some(pins) = c.object(pins, "$.pinData")
    {
        for (node_id, items) in pins {
            let path = format!("$.pinData{}", key_path(node_id));
            match items {
                Json::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let item_path = format!("{path}[{i}]");
                        if let Some(item) = c.object(item, &item_path) {
                            match item.get("json") {
                                Some(Json::Object(_)) => {}
                                Some(other) => c.issue(
                                    ErrorCode::InvalidWorkflow,
                                    &format!("{item_path}.json"),
                                    format!("an item's \"json\" must be an object, found {}", kind(other)),
                                ),
                                None => c.issue(
                                    ErrorCode::InvalidWorkflow,
                                    &item_path,
                                    "an item needs a \"json\" object".into(),
                                ),
                            }
                        }
                    }
                }
                other => c.issue(
                    ErrorCode::InvalidWorkflow,
                    &path,
                    format!("pinned data must be a list of items, found {}", kind(other)),
                ),
            }
        }
    }
    c.issues
}

#[derive(Default)]
struct Checker {
    issues: Vec<ValidationIssue>,
    node: Option<(String, String)>,
}

impl Checker {
    fn issue(&mut self, code: ErrorCode, path: &str, message: String) {
        let mut issue = ValidationIssue::new(code, path, message);
        if let Some((id, name)) = &self.node {
            issue = issue.at_node(id, name);
        }
        self.issues.push(issue);
    }

    fn object<'a>(&mut self, v: &'a Json, path: &str) -> Option<&'a JsonMap> {
        match v {
            Json::Object(o) => Some(o),
            other => {
                self.issue(ErrorCode::InvalidWorkflow, path, format!("expected an object, found {}", kind(other)));
                None
            }
        }
    }

    fn string(&mut self, obj: &JsonMap, path: &str, key: &str, required: bool, non_empty: bool) {
        match obj.get(key) {
            None if required => self.issue(ErrorCode::InvalidWorkflow, path, format!("missing \"{key}\"")),
            None => {}
            Some(Json::String(s)) if non_empty && s.trim().is_empty() => {
                self.issue(ErrorCode::InvalidWorkflow, &format!("{path}.{key}"), format!("\"{key}\" must not be empty"))
            }
            Some(Json::String(_)) => {}
            Some(other) => self.issue(
                ErrorCode::InvalidWorkflow,
                &format!("{path}.{key}"),
                format!("\"{key}\" must be a string, found {}", kind(other)),
            ),
        }
    }

    /// A sticky note's shape: an id, text, [x, y], [width, height] and a known colour (the
    /// limits are checked on the typed workflow, see [`note_issues`]).
    fn note(&mut self, note: &Json, path: &str) {
        let Some(obj) = self.object(note, path) else { return };
        self.string(obj, path, "id", true, true);
        self.string(obj, path, "content", false, false);
        for (key, shape) in [("position", "[x, y]"), ("size", "[width, height]")] {
            if let Some(p) = obj.get(key)
                && !p.as_array().is_some_and(|a| a.len() == 2 && a.iter().all(Json::is_number))
            {
                self.issue(
                    ErrorCode::InvalidWorkflow,
                    &format!("{path}.{key}"),
                    format!("\"{key}\" must be {shape}, found {}", short(p)),
                );
            }
        }
        let names = switchyard_model::workflow::NoteColor::NAMES;
        if let Some(color) = obj.get("color")
            && !color.as_str().is_some_and(|c| names.contains(&c))
        {
            self.issue(
                ErrorCode::InvalidWorkflow,
                &format!("{path}.color"),
                format!("\"color\" must be one of {}, found {}", names.join(", "), short(color)),
            );
        }
    }

    fn node(&mut self, node: &Json, path: &str) {
        let Some(obj) = self.object(node, path) else { return };
        let id = obj.get("id").and_then(Json::as_str).unwrap_or_default().to_string();
        let name = obj.get("name").and_then(Json::as_str).unwrap_or_default().to_string();
        self.node = Some((id, name));
        self.string(obj, path, "id", true, true);
        self.string(obj, path, "name", true, true);
        self.string(obj, path, "type", true, true);
        if let Some(v) = obj.get("version")
            && !v.as_u64().is_some_and(|v| v >= 1 && v <= u64::from(u32::MAX))
        {
            self.issue(
                ErrorCode::InvalidWorkflow,
                &format!("{path}.version"),
                format!("\"version\" must be a whole number from 1, found {}", short(v)),
            );
        }
        if let Some(p) = obj.get("position") {
            let ok = p.as_array().is_some_and(|a| a.len() == 2 && a.iter().all(Json::is_number));
            if !ok {
                self.issue(
                    ErrorCode::InvalidWorkflow,
                    &format!("{path}.position"),
                    format!("\"position\" must be [x, y], found {}", short(p)),
                );
            }
        }
        if let Some(p) = obj.get("parameters") {
            self.object(p, &format!("{path}.parameters"));
        }
        if let Some(creds) = obj.get("credentials") {
            let creds_path = format!("{path}.credentials");
            if let Some(creds) = self.object(creds, &creds_path) {
                for (slot, reference) in creds {
                    let slot_path = format!("{creds_path}{}", key_path(slot));
                    if let Some(r) = self.object(reference, &slot_path) {
                        self.string(r, &slot_path, "connection", true, true);
                        self.string(r, &slot_path, "account", false, true);
                        for key in r.keys().filter(|k| !["connection", "account"].contains(&k.as_str())) {
                            self.issue(
                                ErrorCode::InvalidWorkflow,
                                &format!("{slot_path}{}", key_path(key)),
                                format!("a credential reference holds only \"connection\" and \"account\", never secrets; remove \"{key}\""),
                            );
                        }
                    }
                }
            }
        }
        if let Some(settings) = obj.get("settings") {
            let spath = format!("{path}.settings");
            if let Some(s) = self.object(settings, &spath) {
                if let Some(r) = s.get("retry") {
                    self.retry(r, &format!("{spath}.retry"));
                }
                if let Some(c) = s.get("concurrency")
                    && !c.as_u64().is_some_and(|n| (1..=u64::from(MAX_CONCURRENCY)).contains(&n))
                {
                    self.issue(
                        ErrorCode::InvalidWorkflow,
                        &format!("{spath}.concurrency"),
                        format!(
                            "\"concurrency\" must be a whole number from 1 to {MAX_CONCURRENCY}, found {}",
                            short(c)
                        ),
                    );
                }
                if let Some(on_error) = s.get("onError")
                    && !matches!(on_error.as_str(), Some("stop" | "continue" | "errorOutput"))
                {
                    self.issue(
                        ErrorCode::InvalidWorkflow,
                        &format!("{spath}.onError"),
                        format!(
                            "\"onError\" must be \"stop\", \"continue\" or \"errorOutput\", found {}",
                            short(on_error)
                        ),
                    );
                }
                if let Some(d) = s.get("disabled")
                    && !d.is_boolean()
                {
                    self.issue(
                        ErrorCode::InvalidWorkflow,
                        &format!("{spath}.disabled"),
                        format!("\"disabled\" must be true or false, found {}", short(d)),
                    );
                }
                self.string(s, &spath, "notes", false, false);
            }
        }
        self.node = None;
    }
}

impl Checker {
    /// A retry policy: known keys with values of the right kind, then the policy's own
    /// range checks.
    fn retry(&mut self, value: &Json, path: &str) {
        let Some(obj) = self.object(value, path) else { return };
        let one_of = |v: &Json, names: &[&str]| v.as_str().is_some_and(|s| names.contains(&s));
        const BACKOFFS: &[&str] = &["fixed", "linear", "exponential", "fibonacci"];
        const JITTERS: &[&str] = &["none", "full", "quarter"];
        const CLASSES: &[&str] = &["transient", "permanent", "rate_limit", "timeout", "network", "unknown"];
        // The well-formed fields, for the range checks below.
        let mut clean = JsonMap::new();
        for (key, v) in obj {
            let field = format!("{path}{}", key_path(key));
            let problem = match key.as_str() {
                "maxTries" | "initialDelayMs" | "maxDelayMs" if v.as_u64().is_none() => {
                    Some(format!("\"{key}\" must be a whole number, found {}", short(v)))
                }
                "factor" if !v.is_number() => Some(format!("\"factor\" must be a number, found {}", short(v))),
                "backoff" if !one_of(v, BACKOFFS) => {
                    Some(format!("\"backoff\" must be one of {}, found {}", BACKOFFS.join(", "), short(v)))
                }
                "jitter" if !one_of(v, JITTERS) => {
                    Some(format!("\"jitter\" must be one of {}, found {}", JITTERS.join(", "), short(v)))
                }
                "retryOn" if !v.as_array().is_some_and(|a| a.iter().all(|c| one_of(c, CLASSES))) => Some(format!(
                    "\"retryOn\" must be a list of error classes ({}), found {}",
                    CLASSES.join(", "),
                    short(v)
                )),
                "maxTries" | "initialDelayMs" | "maxDelayMs" | "factor" | "backoff" | "jitter" | "retryOn" => None,
                other => Some(match suggest(other, RETRY_KEYS.iter().copied()) {
                    Some(s) => format!("unknown retry setting \"{other}\"; did you mean \"{s}\"?"),
                    None => format!("unknown retry setting \"{other}\" (known: {})", RETRY_KEYS.join(", ")),
                }),
            };
            match problem {
                Some(message) => self.issue(ErrorCode::InvalidWorkflow, &field, message),
                None => {
                    clean.insert(key.clone(), v.clone());
                }
            }
        }
        if let Ok(policy) = serde_json::from_value::<RetryPolicy>(Json::Object(clean)) {
            for (field, message) in policy.problems() {
                self.issue(ErrorCode::InvalidWorkflow, &format!("{path}.{field}"), format!("\"{field}\" {message}"));
            }
        }
    }
}

const RETRY_KEYS: &[&str] = &["maxTries", "backoff", "initialDelayMs", "factor", "maxDelayMs", "jitter", "retryOn"];

fn kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}

fn short(v: &Json) -> String {
    let text = v.to_string();
    if text.chars().count() > 40 { format!("{}…", text.chars().take(40).collect::<String>()) } else { text }
}

fn key_path(key: &str) -> String {
    switchyard_model::path::Segment::Key(key.to_string()).to_string()
}

/// Sticky notes: unique ids, text within the size limit, sizes within bounds.
fn note_issues(wf: &Workflow) -> Vec<ValidationIssue> {
    use switchyard_model::workflow::{NOTE_MAX_CHARS, NOTE_MAX_SIDE, NOTE_MIN_SIDE};
    let mut issues = Vec::new();
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for (i, note) in wf.notes.iter().enumerate() {
        let path = format!("$.notes[{i}]");
        let issue = |field: &str, message: String| {
            ValidationIssue::new(ErrorCode::InvalidWorkflow, format!("{path}.{field}"), message)
        };
        if note.id.trim().is_empty() {
            issues.push(issue("id", "a note needs an id".into()));
        } else if let Some(first) = ids.insert(&note.id, i) {
            issues.push(issue("id", format!("note id \"{}\" is already used by $.notes[{first}]", note.id)));
        }
        let chars = note.content.chars().count();
        if chars > NOTE_MAX_CHARS {
            issues.push(issue("content", format!("a note holds at most {NOTE_MAX_CHARS} characters, found {chars}")));
        }
        if !note.size.iter().all(|v| (NOTE_MIN_SIDE..=NOTE_MAX_SIDE).contains(v)) {
            issues.push(issue(
                "size",
                format!(
                    "a note's width and height must be from {NOTE_MIN_SIDE} to {NOTE_MAX_SIDE}, found [{}, {}]",
                    note.size[0], note.size[1]
                ),
            ));
        }
        if !note.position.iter().all(|v| v.is_finite()) {
            issues.push(issue("position", "a note's position must be two finite numbers".into()));
        }
    }
    issues
}

/// Semantic checks of a typed workflow against the node types.
pub fn validate_workflow(wf: &Workflow, registry: &Registry) -> Vec<ValidationIssue> {
    let mut issues = note_issues(wf);
    if !switchyard_model::ids::valid_workflow_id(&wf.id) {
        issues.push(ValidationIssue::new(
            ErrorCode::InvalidWorkflowId,
            "$.id",
            format!(
                "workflow id \"{}\" may only hold letters, digits, - and _ (1 to 64 of them): it is part of webhook URLs",
                wf.id.chars().take(80).collect::<String>()
            ),
        ));
    }
    let mut ids: HashMap<&str, usize> = HashMap::new();
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (i, node) in wf.nodes.iter().enumerate() {
        let path = format!("$.nodes[{i}]");
        if let Some(first) = ids.insert(&node.id, i) {
            ids.insert(&node.id, first);
            issues.push(
                ValidationIssue::new(
                    ErrorCode::DuplicateNodeId,
                    format!("{path}.id"),
                    format!(
                        "node id \"{}\" is already used by node \"{}\" ($.nodes[{first}])",
                        node.id, wf.nodes[first].name
                    ),
                )
                .at_node(&node.id, &node.name),
            );
        }
        if let Some(first) = names.insert(&node.name, i) {
            names.insert(&node.name, first);
            issues.push(
                ValidationIssue::new(
                    ErrorCode::DuplicateNodeName,
                    format!("{path}.name"),
                    format!("node name \"{}\" is already used by $.nodes[{first}]; names must be unique", node.name),
                )
                .at_node(&node.id, &node.name),
            );
        }
    }

    let evaluator = Evaluator::new(ScriptEnv {
        clock: Arc::new(crate::clock::SystemClock),
        history: Arc::new(NoHistory),
        workflow_id: wf.id.clone(),
        workflow_name: wf.name.clone(),
        execution_id: String::new(),
        mode: "manual".into(),
        limits: ScriptLimits::EXPRESSION,
        cancel: Default::default(),
    });
    let script_engine = crate::expr::build_engine(evaluator.env());
    let mut descriptors: Vec<Option<Arc<NodeDescriptor>>> = Vec::with_capacity(wf.nodes.len());
    // Each type's own checks, reported after the graph's.
    let mut type_issues = Vec::new();
    let mut regions: Vec<Option<Region>> = Vec::with_capacity(wf.nodes.len());
    for (i, node) in wf.nodes.iter().enumerate() {
        let path = format!("$.nodes[{i}]");
        let versions = registry.versions(&node.node_type);
        let Some(entry) = registry.get(&node.node_type, node.version) else {
            let issue = if versions.is_empty() {
                let known = registry.type_names();
                let hint = suggest(&node.node_type, known.iter().copied())
                    .map_or_else(|| known_types_hint(&node.node_type, &known), |s| format!(" (did you mean \"{s}\"?)"));
                ValidationIssue::new(
                    ErrorCode::UnknownNodeType,
                    format!("{path}.type"),
                    format!("unknown node type \"{}\"{hint}", node.node_type),
                )
            } else {
                let list = versions.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
                ValidationIssue::new(
                    ErrorCode::UnknownNodeVersion,
                    format!("{path}.version"),
                    format!("node type \"{}\" has no version {} (this build has {list})", node.node_type, node.version),
                )
            };
            issues.push(issue.at_node(&node.id, &node.name));
            descriptors.push(None);
            regions.push(None);
            continue;
        };
        type_issues.extend(entry.check(node, &CheckContext { workflow: wf, index: i }));
        regions.push(entry.region(node));
        let descriptor = entry.descriptor.clone();
        let mut param_issues = Vec::new();
        check_params(
            &descriptor.parameters,
            &node.parameters,
            &format!("{path}.parameters"),
            &evaluator,
            &script_engine,
            &mut param_issues,
        );
        for slot in node.credentials.keys() {
            if descriptor.credentials.iter().any(|s| &s.name == slot && s.per_entry.is_none()) {
                continue;
            }
            let per_entry = CredentialSlot::split_entry_key(slot).and_then(|(name, entry)| {
                let list = descriptor.credentials.iter().find(|s| s.name == name)?.per_entry.as_deref()?;
                Some((list, entry))
            });
            let problem = match per_entry {
                None => format!("node type \"{}\" has no credential slot \"{slot}\"", node.node_type),
                Some((list, entry)) => {
                    // The list as written, or its default (what a new node shows and runs with).
                    let written = node.parameters.get(list).or_else(|| descriptor.param(list).map(|p| &p.default));
                    let named = written.and_then(|v| v.as_array()).is_some_and(|entries| {
                        entries.iter().any(|e| e.get("name").and_then(|n| n.as_str()).map(str::trim) == Some(entry))
                    });
                    if named {
                        continue;
                    }
                    format!("the account \"{slot}\" is for an entry of {list} called \"{entry}\", but there is none")
                }
            };
            param_issues.push(ValidationIssue::new(
                ErrorCode::InvalidParameter,
                format!("{path}.credentials{}", key_path(slot)),
                problem,
            ));
        }
        issues.extend(param_issues.into_iter().map(|i| i.at_node(&node.id, &node.name)));
        descriptors.push(Some(descriptor));
    }

    let index_of: HashMap<&str, usize> = wf.nodes.iter().enumerate().map(|(i, n)| (n.id.as_str(), i)).collect();
    let mut graph: DiGraph<usize, usize> = DiGraph::new();
    let graph_nodes: Vec<NodeIndex> = (0..wf.nodes.len()).map(|i| graph.add_node(i)).collect();
    for (ci, conn) in wf.connections.iter().enumerate() {
        let path = format!("$.connections[{ci}]");
        let from = index_of.get(conn.from.node.as_str()).copied();
        let to = index_of.get(conn.to.node.as_str()).copied();
        if from.is_none() {
            issues.push(ValidationIssue::new(
                ErrorCode::UnknownNode,
                format!("{path}.from.node"),
                format!("connection from unknown node id \"{}\"", conn.from.node),
            ));
        }
        if to.is_none() {
            issues.push(ValidationIssue::new(
                ErrorCode::UnknownNode,
                format!("{path}.to.node"),
                format!("connection to unknown node id \"{}\"", conn.to.node),
            ));
        }
        let mut ports_ok = true;
        if let Some(f) = from
            && let Some(d) = &descriptors[f]
        {
            let outputs = d.output_names(&wf.nodes[f]);
            if !outputs.contains(&conn.from.output) {
                ports_ok = false;
                let node = &wf.nodes[f];
                issues.push(
                    ValidationIssue::new(
                        ErrorCode::UnknownOutput,
                        format!("{path}.from.output"),
                        format!(
                            "node \"{}\" has no output \"{}\" (its outputs: {})",
                            node.name,
                            conn.from.output,
                            outputs.join(", ")
                        ),
                    )
                    .at_node(&node.id, &node.name),
                );
            }
        }
        if let Some(t) = to
            && let Some(d) = &descriptors[t]
        {
            let inputs = d.input_names();
            if !inputs.contains(&conn.to.input) {
                ports_ok = false;
                let node = &wf.nodes[t];
                let message = if inputs.is_empty() {
                    format!("node \"{}\" is a trigger and takes no input", node.name)
                } else {
                    format!(
                        "node \"{}\" has no input \"{}\" (its inputs: {})",
                        node.name,
                        conn.to.input,
                        inputs.join(", ")
                    )
                };
                issues.push(
                    ValidationIssue::new(ErrorCode::UnknownInput, format!("{path}.to.input"), message)
                        .at_node(&node.id, &node.name),
                );
            }
        }
        // Wires to ports that do not exist are reported above, not again as cycles.
        if let (Some(f), Some(t), true) = (from, to, ports_ok) {
            graph.add_edge(graph_nodes[f], graph_nodes[t], ci);
        }
    }

    for scc in petgraph::algo::tarjan_scc(&graph) {
        let self_loop = scc.len() == 1 && graph.find_edge(scc[0], scc[0]).is_some();
        if scc.len() < 2 && !self_loop {
            continue;
        }
        let members: HashSet<NodeIndex> = scc.iter().copied().collect();
        let (cycle, first_edge) = cycle_through(&graph, &members);
        let names: Vec<&str> = cycle.iter().map(|&n| wf.nodes[graph[n]].name.as_str()).collect();
        let first = &wf.nodes[graph[cycle[0]]];
        issues.push(
            ValidationIssue::new(
                ErrorCode::Cycle,
                format!("$.connections[{first_edge}]"),
                format!("connections form a cycle: {} → {}", names.join(" → "), names[0]),
            )
            .at_node(&first.id, &first.name),
        );
    }

    issues.extend(branch_issues(wf, &index_of, &regions));
    issues.extend(type_issues);

    if !descriptors.iter().flatten().any(|d| d.is_trigger()) && descriptors.iter().all(Option::is_some) {
        issues.push(ValidationIssue::new(
            ErrorCode::NoTrigger,
            "$.nodes",
            "the workflow has no trigger node; add one (e.g. \"trigger.manual\") to start it".to_string(),
        ));
    }
    for node_id in wf.pin_data.keys() {
        if !index_of.contains_key(node_id.as_str()) {
            issues.push(ValidationIssue::new(
                ErrorCode::UnknownNode,
                format!("$.pinData{}", key_path(node_id)),
                format!("pinned data for unknown node id \"{node_id}\""),
            ));
        }
    }
    issues
}

/// A Parallel node's branches (and a Batch node's loop) must be self-contained: a branch's nodes connect only to
/// each other, nothing outside feeds them, no node belongs to two branches, and branches do
/// not hold another Parallel node. The rest of the workflow continues from "done".
fn branch_issues(wf: &Workflow, index_of: &HashMap<&str, usize>, regions: &[Option<Region>]) -> Vec<ValidationIssue> {
    let mut issues = Vec::new();
    let edges: Vec<(usize, usize, usize)> = wf
        .connections
        .iter()
        .enumerate()
        .filter_map(|(ci, c)| Some((ci, *index_of.get(c.from.node.as_str())?, *index_of.get(c.to.node.as_str())?)))
        .collect();
    let mut owner: HashMap<usize, (usize, String)> = HashMap::new();
    for (p, parallel) in wf.nodes.iter().enumerate() {
        let Some(outputs) = regions[p].as_ref().map(Region::outputs) else { continue };
        for branch in outputs {
            let mut members: Vec<usize> = Vec::new();
            let mut queue: Vec<usize> = wf
                .connections
                .iter()
                .filter(|c| c.from.node == parallel.id && c.from.output == branch)
                .filter_map(|c| index_of.get(c.to.node.as_str()).copied())
                .collect();
            while let Some(i) = queue.pop() {
                if members.contains(&i) || i == p {
                    continue;
                }
                members.push(i);
                queue.extend(edges.iter().filter(|(_, f, _)| *f == i).map(|(_, _, t)| *t));
            }
            for &m in &members {
                let node = &wf.nodes[m];
                if regions[m].is_some() {
                    issues.push(
                        ValidationIssue::new(
                            ErrorCode::InvalidWorkflow,
                            format!("$.nodes[{m}]"),
                            format!(
                                "branch \"{branch}\" of \"{}\" holds another Parallel or Batch node, \"{}\"; they cannot nest yet",
                                parallel.name, node.name
                            ),
                        )
                        .at_node(&node.id, &node.name),
                    );
                }
                if let Some((other, other_branch)) = owner.get(&m)
                    && (*other, other_branch.as_str()) != (p, branch.as_str())
                {
                    issues.push(
                        ValidationIssue::new(
                            ErrorCode::InvalidWorkflow,
                            format!("$.nodes[{m}]"),
                            format!(
                                "\"{}\" is in branch \"{branch}\" of \"{}\" and in branch \"{other_branch}\" of \"{}\"; \
                                 a node belongs to one branch (join branches after \"{DONE}\")",
                                node.name, parallel.name, wf.nodes[*other].name
                            ),
                        )
                        .at_node(&node.id, &node.name),
                    );
                }
                owner.insert(m, (p, branch.clone()));
            }
            for &(ci, from, to) in &edges {
                let (inside_from, inside_to) = (members.contains(&from), members.contains(&to));
                if inside_to && !inside_from && !(from == p && wf.connections[ci].from.output == branch) {
                    let node = &wf.nodes[to];
                    issues.push(
                        ValidationIssue::new(
                            ErrorCode::InvalidWorkflow,
                            format!("$.connections[{ci}]"),
                            format!(
                                "\"{}\" is in branch \"{branch}\" of \"{}\", so only its branch may feed it, not \"{}\"",
                                node.name, parallel.name, wf.nodes[from].name
                            ),
                        )
                        .at_node(&node.id, &node.name),
                    );
                }
                if inside_from && !inside_to {
                    let node = &wf.nodes[from];
                    issues.push(
                        ValidationIssue::new(
                            ErrorCode::InvalidWorkflow,
                            format!("$.connections[{ci}]"),
                            format!(
                                "\"{}\" is in branch \"{branch}\" of \"{}\" and cannot feed \"{}\" outside it; \
                                 wire the rest of the workflow after \"{DONE}\"",
                                node.name, parallel.name, wf.nodes[to].name
                            ),
                        )
                        .at_node(&node.id, &node.name),
                    );
                }
            }
        }
    }
    issues
}

/// A cycle through the strongly connected `members`, in edge order, and the index of the
/// connection that leaves its first node.
fn cycle_through(graph: &DiGraph<usize, usize>, members: &HashSet<NodeIndex>) -> (Vec<NodeIndex>, usize) {
    let start = *members.iter().min_by_key(|n| graph[**n]).expect("non-empty component");
    // Depth-first search for a path back to `start`, staying inside the component.
    let mut stack = vec![(start, graph.neighbors(start).collect::<Vec<_>>())];
    let mut path = vec![start];
    let mut seen = HashSet::from([start]);
    while let Some((_, next)) = stack.last_mut() {
        let Some(n) = next.pop() else {
            stack.pop();
            path.pop();
            continue;
        };
        if n == start {
            let edge = graph.find_edge(start, path.get(1).copied().unwrap_or(start)).map_or(0, |e| graph[e]);
            return (path, edge);
        }
        if members.contains(&n) && seen.insert(n) {
            path.push(n);
            stack.push((n, graph.neighbors(n).collect()));
        }
    }
    (vec![start], 0)
}

fn check_params(
    specs: &[ParamSpec],
    values: &JsonMap,
    path: &str,
    evaluator: &Evaluator,
    script_engine: &rhai::Engine,
    issues: &mut Vec<ValidationIssue>,
) {
    for key in values.keys() {
        if !specs.iter().any(|s| &s.name == key) {
            let hint = suggest(key, specs.iter().map(|s| s.name.as_str())).map_or_else(
                || format!(" (known: {})", specs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")),
                |s| format!(" (did you mean \"{s}\"?)"),
            );
            issues.push(ValidationIssue::new(
                ErrorCode::UnknownParameter,
                format!("{path}{}", key_path(key)),
                format!("unknown parameter \"{key}\"{hint}"),
            ));
        }
    }
    for spec in specs {
        if !spec.is_shown(values, specs) {
            continue;
        }
        let value_path = format!("{path}{}", key_path(&spec.name));
        match values.get(&spec.name) {
            None | Some(Json::Null) => {
                if spec.required && is_empty(&spec.default) {
                    issues.push(ValidationIssue::new(
                        ErrorCode::MissingParameter,
                        path.to_string(),
                        format!("parameter \"{}\" ({}) is required", spec.name, spec.label),
                    ));
                }
            }
            Some(value) => {
                if spec.required && is_empty(value) {
                    issues.push(ValidationIssue::new(
                        ErrorCode::MissingParameter,
                        value_path.clone(),
                        format!("parameter \"{}\" ({}) must not be empty", spec.name, spec.label),
                    ));
                }
                check_value(spec, value, &value_path, evaluator, script_engine, issues);
            }
        }
    }
}

fn is_empty(v: &Json) -> bool {
    match v {
        Json::Null => true,
        Json::String(s) => s.trim().is_empty(),
        Json::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn is_expression(v: &Json, spec: &ParamSpec) -> bool {
    spec.expressions && v.as_str().is_some_and(crate::expr::template::has_expression)
}

fn check_value(
    spec: &ParamSpec,
    value: &Json,
    path: &str,
    evaluator: &Evaluator,
    script_engine: &rhai::Engine,
    issues: &mut Vec<ValidationIssue>,
) {
    let mut wrong = |expected: &str| {
        issues.push(ValidationIssue::new(
            ErrorCode::InvalidParameter,
            path.to_string(),
            format!("parameter \"{}\" must be {expected}, found {}", spec.name, short(value)),
        ));
    };
    if is_expression(value, spec) {
        check_expressions(value, path, evaluator, issues);
        return;
    }
    match &spec.kind {
        ParamKind::String { .. } | ParamKind::Workflow => {
            if !value.is_string() {
                wrong("text");
            }
        }
        ParamKind::Number { min, max, integer } => match value.as_f64() {
            None => wrong(if *integer { "a whole number" } else { "a number" }),
            Some(n) => {
                if *integer && n.fract() != 0.0 {
                    wrong("a whole number");
                } else if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                    let range = match (min, max) {
                        (Some(a), Some(b)) => format!("between {a} and {b}"),
                        (Some(a), None) => format!("at least {a}"),
                        (None, Some(b)) => format!("at most {b}"),
                        (None, None) => String::new(),
                    };
                    wrong(&format!("a number {range}"));
                }
            }
        },
        ParamKind::Boolean => {
            if !value.is_boolean() {
                wrong("true or false");
            }
        }
        ParamKind::Options { choices } => {
            if !choices.iter().any(|c| &c.value == value) {
                let list = choices.iter().map(|c| c.value.to_string()).collect::<Vec<_>>().join(", ");
                issues.push(ValidationIssue::new(
                    ErrorCode::UnknownOption,
                    path.to_string(),
                    format!("{} is not an option of \"{}\" (options: {list})", short(value), spec.name),
                ));
            }
        }
        ParamKind::Json => check_expressions(value, path, evaluator, issues),
        ParamKind::JsonSchema => {
            if let Err(message) = crate::llm::schema::check(value) {
                issues.push(ValidationIssue::new(
                    ErrorCode::InvalidParameter,
                    path.to_string(),
                    format!("{}: {message}", spec.name),
                ));
            }
        }
        ParamKind::KeyValue => match value {
            Json::Array(pairs) => {
                for (i, pair) in pairs.iter().enumerate() {
                    let pair_path = format!("{path}[{i}]");
                    match pair.as_object() {
                        Some(o) if o.get("name").is_some_and(Json::is_string) => {
                            for key in o.keys().filter(|k| !["name", "value"].contains(&k.as_str())) {
                                issues.push(ValidationIssue::new(
                                    ErrorCode::UnknownParameter,
                                    format!("{pair_path}{}", key_path(key)),
                                    format!("a name/value pair has no field \"{key}\""),
                                ));
                            }
                            check_expressions(pair, &pair_path, evaluator, issues);
                        }
                        _ => issues.push(ValidationIssue::new(
                            ErrorCode::InvalidParameter,
                            pair_path,
                            format!(
                                "each entry of \"{}\" must be {{\"name\": \"…\", \"value\": …}}, found {}",
                                spec.name,
                                short(pair)
                            ),
                        )),
                    }
                }
            }
            _ => wrong("a list of {\"name\", \"value\"} pairs"),
        },
        ParamKind::List { fields, .. } => match value {
            Json::Array(entries) => {
                for (i, entry) in entries.iter().enumerate() {
                    let entry_path = format!("{path}[{i}]");
                    match entry.as_object() {
                        Some(o) => check_params(fields, o, &entry_path, evaluator, script_engine, issues),
                        None => issues.push(ValidationIssue::new(
                            ErrorCode::InvalidParameter,
                            entry_path,
                            format!("each entry of \"{}\" must be an object, found {}", spec.name, short(entry)),
                        )),
                    }
                }
            }
            _ => wrong("a list"),
        },
        ParamKind::Code { language } => match value.as_str() {
            None => wrong("script text"),
            Some(source) if language == "rhai" => {
                let vars = ["items", "json", "index", "error", "workflow", "execution"];
                if let Err(e) = compile_script(script_engine, source, &vars) {
                    issues.push(ValidationIssue::new(
                        ErrorCode::InvalidExpression,
                        path.to_string(),
                        format!("the script does not compile: {e}"),
                    ));
                }
            }
            Some(_) => {}
        },
    }
}

/// Compiles every expression in a value, reporting failures.
fn check_expressions(value: &Json, path: &str, evaluator: &Evaluator, issues: &mut Vec<ValidationIssue>) {
    match value {
        Json::String(s) if crate::expr::template::has_expression(s) => {
            if let Err(e) = evaluator.compile_str(s) {
                issues.push(ValidationIssue::new(
                    ErrorCode::InvalidExpression,
                    path.to_string(),
                    format!("invalid expression: {}", e.message),
                ));
            }
        }
        Json::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                check_expressions(v, &format!("{path}[{i}]"), evaluator, issues);
            }
        }
        Json::Object(o) => {
            for (k, v) in o {
                check_expressions(v, &format!("{path}{}", key_path(k)), evaluator, issues);
            }
        }
        _ => {}
    }
}

/// The closest candidate within a small edit distance.
/// The types of the unknown type's group (`data` of `data.frobnicate`); when there is no such
/// group, where the types are listed (a list of every type or group would change with each
/// one added).
fn known_types_hint(unknown: &str, known: &[&str]) -> String {
    let group_of = |t: &str| t.split('.').next().unwrap_or("").to_string();
    let group = group_of(unknown);
    let same: Vec<&str> = known.iter().copied().filter(|t| group_of(t) == group).collect();
    if same.is_empty() {
        format!("; there is no \"{group}\" group of node types (the editor's palette and docs/nodes.md list them all)")
    } else {
        format!("; the \"{group}\" types are {}", same.join(", "))
    }
}

fn suggest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (distance(&word.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_suggests() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(suggest("urll", ["url", "method"].into_iter()), Some("url"));
        assert_eq!(suggest("zzzz", ["url", "method"].into_iter()), None);
    }

    #[test]
    fn an_unknown_type_is_answered_with_its_group_or_the_groups() {
        let known = ["data.filter", "data.set", "flow.if", "http.request"];
        assert_eq!(known_types_hint("data.frobnicate", &known), "; the \"data\" types are data.filter, data.set");
        assert_eq!(
            known_types_hint("acme.send", &known),
            "; there is no \"acme\" group of node types (the editor's palette and docs/nodes.md list them all)"
        );
    }
}
