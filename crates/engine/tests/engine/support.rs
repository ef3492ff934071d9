use serde_json::Value as Json;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use switchyard_engine::validate::validate_text;
use switchyard_engine::{Engine, Registry, RunListener, RunOutcome, RunRequest, Services, TokioClock};
use switchyard_model::events::RunEvent;
use switchyard_model::execution::NodeRunData;
use switchyard_model::item::Item;
use switchyard_model::value::Value;
use switchyard_model::workflow::Workflow;

pub fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(relative)
}

/// Reads and validates a workflow file; panics with every issue if it is invalid.
pub fn load(relative: &str) -> Workflow {
    let text = std::fs::read_to_string(repo_path(relative)).expect("read workflow file");
    parse(&text)
}

pub fn parse(text: &str) -> Workflow {
    let report = validate_text(text, &Registry::builtin());
    let rendered: Vec<String> = report.issues.iter().map(|i| i.render("")).collect();
    assert!(report.issues.is_empty(), "invalid workflow:\n{}", rendered.join("\n"));
    report.workflow.expect("workflow")
}

/// A workflow from a JSON literal (nodes and connections), validated.
pub fn workflow(json: Json) -> Workflow {
    let mut full = serde_json::json!({ "switchyard": 1, "id": "wf-test", "name": "Test" });
    for (k, v) in json.as_object().expect("object").iter() {
        full[k] = v.clone();
    }
    parse(&full.to_string())
}

/// Manual Trigger → one node (id `n`, named "Node") of `node_type` with `parameters`.
pub fn after_start(node_type: &str, parameters: Json) -> Workflow {
    workflow(serde_json::json!({
        "nodes": [
            {"id": "start", "name": "Start", "type": "trigger.manual"},
            {"id": "n", "name": "Node", "type": node_type, "parameters": parameters},
        ],
        "connections": [{"from": {"node": "start"}, "to": {"node": "n"}}],
    }))
}

/// Manual Trigger → the given nodes in a line (ids a, b, c…, named "Step a", …).
pub fn chain(nodes: Vec<(&str, Json)>) -> Workflow {
    let ids = ["a", "b", "c", "d", "e", "f", "g", "h"];
    let mut list = vec![serde_json::json!({"id": "start", "name": "Start", "type": "trigger.manual"})];
    let mut connections = Vec::new();
    let mut previous = "start".to_string();
    for (i, (node_type, parameters)) in nodes.into_iter().enumerate() {
        list.push(serde_json::json!({"id": ids[i], "name": format!("Step {}", ids[i]), "type": node_type, "parameters": parameters}));
        connections.push(serde_json::json!({"from": {"node": previous}, "to": {"node": ids[i]}}));
        previous = ids[i].to_string();
    }
    workflow(serde_json::json!({"nodes": list, "connections": connections}))
}

/// A path as text.
pub fn p(path: &std::path::Path) -> String {
    path.to_str().expect("a UTF-8 path").to_string()
}

/// An engine on a clock that starts at 2026-01-31T12:00:00Z and moves with tokio's timer.
pub fn engine() -> Engine {
    let clock = Arc::new(TokioClock::starting_at("2026-01-31T12:00:00Z".parse().expect("time")));
    Engine::new(Registry::builtin(), Services::new(clock, switchyard_engine::services::default_http_client()))
}

#[derive(Default)]
pub struct Collector {
    pub events: Mutex<Vec<RunEvent>>,
    pub data: Mutex<Vec<NodeRunData>>,
}

impl RunListener for Collector {
    fn event(&self, event: &RunEvent) {
        self.events.lock().unwrap().push(event.clone());
    }
    fn node_data(&self, _execution_id: &str, data: &NodeRunData) {
        self.data.lock().unwrap().push(data.clone());
    }
}

impl Collector {
    /// What `pick` takes from each event it matches, in order.
    pub fn picked<T>(&self, pick: impl Fn(&switchyard_model::events::RunEventKind) -> Option<T>) -> Vec<T> {
        self.events.lock().unwrap().iter().filter_map(|e| pick(&e.kind)).collect()
    }

    pub fn kinds(&self) -> Vec<String> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(|e| serde_json::to_value(&e.kind).unwrap()["type"].as_str().unwrap().to_string())
            .collect()
    }
}

pub fn request(input: Vec<Item>) -> (RunRequest, Arc<Collector>) {
    let collector = Arc::new(Collector::default());
    let request =
        RunRequest { execution_id: "exec-1".into(), input, listeners: vec![collector.clone()], ..Default::default() };
    (request, collector)
}

pub async fn run(engine: &Engine, wf: Workflow, input: Json) -> (RunOutcome, Arc<Collector>) {
    let prepared = engine.prepare(wf).unwrap_or_else(|issues| panic!("{issues:?}"));
    let input = if input.is_null() { vec![] } else { Item::from_input(Value::from(input)) };
    let (request, collector) = request(input);
    (engine.run(prepared, request).await, collector)
}

/// The result items' JSON.
pub fn jsons(items: &[Item]) -> Vec<Json> {
    items.iter().map(|i| Json::from(&i.json)).collect()
}

pub fn node_data(collector: &Collector, node_id: &str) -> NodeRunData {
    collector.data.lock().unwrap().iter().find(|d| d.node_id == node_id).cloned().expect("node data")
}

/// [`engine`] with a breaker that opens only after `threshold` failures in a row.
pub fn engine_with_breaker(threshold: u32) -> Engine {
    use switchyard_engine::resilience::{BreakerSettings, Resilience};
    let clock = Arc::new(TokioClock::starting_at("2026-01-31T12:00:00Z".parse().expect("time")));
    let services = Services::new(clock, switchyard_engine::services::default_http_client())
        .with_resilience(Resilience::new(BreakerSettings { threshold, ..BreakerSettings::default() }));
    Engine::new(Registry::builtin(), services)
}
