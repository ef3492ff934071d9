//! What a node implementation sees: its parameters, its input items, services, and the
//! helpers that turn per-item failures into the behaviour its `onError` setting asks for.

use crate::expr::{Compiled, Evaluator, ScriptLimits};
use crate::services::Services;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchyard_model::descriptor::NodeDescriptor;
use switchyard_model::error::{ErrorCode, NodeError};
use switchyard_model::item::Item;
use switchyard_model::value::Value;
use switchyard_model::workflow::{ERROR_OUTPUT, MAIN, Node, OnError};
use tokio_util::sync::CancellationToken;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
pub type NodeResult = Result<Outputs, NodeError>;
pub type ExecuteFn = for<'a> fn(&'a mut NodeContext) -> BoxFuture<'a, NodeResult>;

/// A node's items on one input. Shared until a node asks to own them; owning is free when
/// nothing else holds the items.
#[derive(Debug, Clone, Default)]
pub struct Input {
    items: Arc<Vec<Item>>,
}

impl Input {
    pub fn new(items: Arc<Vec<Item>>) -> Input {
        Input { items }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn items(&self) -> &[Item] {
        &self.items
    }

    pub fn shared(&self) -> Arc<Vec<Item>> {
        self.items.clone()
    }

    /// The items, owned: moved when this is the only holder, copied otherwise.
    pub fn into_vec(self) -> Vec<Item> {
        Arc::unwrap_or_clone(self.items)
    }
}

/// Items per named output.
#[derive(Debug, Default)]
pub struct Outputs {
    ports: Vec<(String, Vec<Item>)>,
}

impl Outputs {
    pub fn new() -> Outputs {
        Outputs::default()
    }

    /// Everything on the main output.
    pub fn main(items: Vec<Item>) -> Outputs {
        Outputs { ports: vec![(MAIN.to_string(), items)] }
    }

    fn port_mut(&mut self, name: &str) -> &mut Vec<Item> {
        let index = match self.ports.iter().position(|(n, _)| n == name) {
            Some(i) => i,
            None => {
                self.ports.push((name.to_string(), Vec::new()));
                self.ports.len() - 1
            }
        };
        &mut self.ports[index].1
    }

    pub fn push(&mut self, port: &str, item: Item) {
        self.port_mut(port).push(item);
    }

    pub fn extend(&mut self, port: &str, items: impl IntoIterator<Item = Item>) {
        self.port_mut(port).extend(items);
    }

    /// Adds a list of items; the first list on a port is kept as it is (not copied).
    pub fn append(&mut self, port: &str, mut items: Vec<Item>) {
        let existing = self.port_mut(port);
        if existing.is_empty() {
            *existing = items;
        } else {
            existing.append(&mut items);
        }
    }

    pub fn get(&self, port: &str) -> &[Item] {
        self.ports.iter().find(|(n, _)| n == port).map_or(&[], |(_, items)| items)
    }

    pub fn into_ports(self) -> Vec<(String, Vec<Item>)> {
        self.ports
    }
}

/// Sink for progress of long nodes, and for their retries.
pub trait ProgressSink: Send + Sync {
    fn progress(&self, node_id: &str, done: usize, total: usize);

    /// A try failed and another starts after `delay` (`attempt` is the try about to start).
    fn retrying(&self, _node: &Node, _item: Option<usize>, _attempt: u32, _delay: Duration, _error: &NodeError) {}

    /// A call waited `waited` for the rate limit of `key`.
    fn throttled(&self, _node: &Node, _key: &str, _waited: Duration) {}

    /// A call moved the breaker of `key` to `state`.
    fn breaker_changed(&self, _node: &Node, _key: &str, _state: switchyard_model::retry::BreakerState) {}

    /// A model's answer for input item `item` grew by `text` (`fresh`: it starts over).
    fn streamed(&self, _node: &Node, _item: usize, _text: &str, _fresh: bool) {}

    /// A model call ended; what it used.
    fn model_usage(&self, _node: &Node, _usage: &crate::llm::ModelCall) {}

    /// An AI agent's step for item `item` (its model turn `step`).
    fn agent_step(&self, _node: &Node, _item: usize, _step: u32, _entry: &switchyard_model::events::AgentEntry) {}
}

/// Everything a node's execute function gets.
pub struct NodeContext {
    pub node: Arc<Node>,
    pub descriptor: Arc<NodeDescriptor>,
    pub services: Services,
    pub cancel: CancellationToken,
    /// The run's input items (what a trigger emits).
    pub run_input: Arc<Vec<Item>>,
    inputs: Vec<Input>,
    evaluator: Evaluator,
    /// This node run's parameters, looked up per item without touching the shared ones.
    compiled: Mutex<HashMap<String, Arc<Compiled>>>,
    /// The parameters compiled by any run of this node in the same workflow version.
    shared: Arc<CompiledParams>,
    progress: Option<Arc<dyn ProgressSink>>,
    /// The last percent step of progress reported, plus one (0: none yet).
    progress_step: AtomicU64,
}

/// A node's parameters as compiled for evaluation, kept with the prepared workflow: the
/// script limits they were compiled under, and each parameter by name.
#[derive(Debug, Default)]
pub struct CompiledParams(pub(crate) Mutex<CompiledSet>);

#[derive(Debug, Default)]
pub(crate) struct CompiledSet {
    pub(crate) limits: Option<ScriptLimits>,
    pub(crate) by_key: HashMap<String, Arc<Compiled>>,
}

impl std::fmt::Debug for NodeContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeContext").field("node", &self.node.name).finish()
    }
}

impl NodeContext {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        node: Arc<Node>,
        descriptor: Arc<NodeDescriptor>,
        services: Services,
        cancel: CancellationToken,
        run_input: Arc<Vec<Item>>,
        inputs: Vec<Input>,
        evaluator: Evaluator,
        progress: Option<Arc<dyn ProgressSink>>,
        shared: Arc<CompiledParams>,
    ) -> NodeContext {
        NodeContext {
            node,
            descriptor,
            services,
            cancel,
            run_input,
            inputs,
            evaluator,
            compiled: Mutex::new(HashMap::new()),
            shared,
            progress,
            progress_step: AtomicU64::new(0),
        }
    }

    pub fn name(&self) -> &str {
        &self.node.name
    }

    pub fn on_error(&self) -> OnError {
        self.node.settings.on_error
    }

    pub fn evaluator(&self) -> &Evaluator {
        &self.evaluator
    }

    /// Input `index` (0 = the first input in the descriptor).
    pub fn input(&self, index: usize) -> &Input {
        static EMPTY: std::sync::OnceLock<Input> = std::sync::OnceLock::new();
        self.inputs.get(index).unwrap_or_else(|| EMPTY.get_or_init(Input::default))
    }

    /// Takes input `index` out of the context, so its items can be owned without a copy.
    pub fn take_input(&mut self, index: usize) -> Input {
        self.inputs.get_mut(index).map(std::mem::take).unwrap_or_default()
    }

    /// Takes the run's input items (what started the run) out of the context: a trigger
    /// node emits them.
    pub fn take_run_input(&mut self) -> Vec<Item> {
        Arc::unwrap_or_clone(std::mem::take(&mut self.run_input))
    }

    /// A parameter's raw value, or the descriptor's default.
    pub fn raw_param(&self, name: &str) -> serde_json::Value {
        self.node
            .parameters
            .get(name)
            .cloned()
            .or_else(|| self.descriptor.param(name).map(|p| p.default.clone()))
            .unwrap_or(serde_json::Value::Null)
    }

    /// A parameter compiled for per-item evaluation: once per workflow version (and script
    /// limits), shared by every run of the node.
    pub fn compiled(&self, name: &str) -> Result<Arc<Compiled>, NodeError> {
        self.cached(name, || {
            let raw = self.raw_param(name);
            if self.descriptor.param(name).is_some_and(|p| !p.expressions) {
                return Ok(Compiled::Literal(Value::from(&raw)));
            }
            self.evaluator
                .compile(&raw)
                .map_err(|e| NodeError::new(ErrorCode::InvalidExpression, e.message).with_parameter(name))
        })
    }

    /// A part of a parameter, named as errors name it (`assignments[2].value`), compiled
    /// once per workflow version like a whole parameter.
    pub fn compiled_part(&self, part: &str, raw: &serde_json::Value) -> Result<Arc<Compiled>, NodeError> {
        self.cached(part, || {
            self.evaluator
                .compile(raw)
                .map_err(|e| NodeError::new(ErrorCode::InvalidExpression, e.message).with_parameter(part))
        })
    }

    /// What `key` compiled to in this node run, else in an earlier run of the same version
    /// (under the same script limits), else `compile`'s result, kept for both.
    fn cached(
        &self,
        key: &str,
        compile: impl FnOnce() -> Result<Compiled, NodeError>,
    ) -> Result<Arc<Compiled>, NodeError> {
        let mut local = self.compiled.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = local.get(key) {
            return Ok(c.clone());
        }
        let limits = self.evaluator.env().limits;
        let mut shared = self.shared.0.lock().unwrap_or_else(|p| p.into_inner());
        if shared.limits != Some(limits) {
            shared.limits = Some(limits);
            shared.by_key.clear();
        }
        let cache = &mut shared.by_key;
        if let Some(c) = cache.get(key) {
            local.insert(key.to_string(), c.clone());
            return Ok(c.clone());
        }
        let compiled = Arc::new(compile()?);
        cache.insert(key.to_string(), compiled.clone());
        local.insert(key.to_string(), compiled.clone());
        Ok(compiled)
    }

    /// Evaluates a parameter for the item at `index`.
    pub fn eval(&self, name: &str, item: &Item, index: usize) -> Result<Value, NodeError> {
        let compiled = self.compiled(name)?;
        self.evaluator
            .eval(&compiled, item, index)
            .map_err(|e| NodeError::new(e.code(), e.message).with_parameter(name).with_item(index))
    }

    /// Evaluates a parameter that applies to the node as a whole, against the first input
    /// item (or an empty item).
    pub fn eval_once(&self, name: &str) -> Result<Value, NodeError> {
        let first = self.input(0).items().first().cloned().unwrap_or_else(Item::empty);
        self.eval(name, &first, 0)
    }

    pub fn str_param(&self, name: &str, item: &Item, index: usize) -> Result<String, NodeError> {
        Ok(self.eval(name, item, index)?.to_text())
    }

    pub fn f64_param(&self, name: &str, item: &Item, index: usize) -> Result<f64, NodeError> {
        let value = self.eval(name, item, index)?;
        as_number(&value).ok_or_else(|| {
            NodeError::new(ErrorCode::InvalidParameter, format!("expected a number, got {}", describe(&value)))
                .with_parameter(name)
                .with_item(index)
        })
    }

    pub fn bool_param(&self, name: &str, item: &Item, index: usize) -> Result<bool, NodeError> {
        let value = self.eval(name, item, index)?;
        as_bool(&value).ok_or_else(|| {
            NodeError::new(ErrorCode::InvalidParameter, format!("expected true or false, got {}", describe(&value)))
                .with_parameter(name)
                .with_item(index)
        })
    }

    /// An options parameter (never an expression).
    pub fn choice(&self, name: &str) -> String {
        self.raw_param(name).as_str().unwrap_or_default().to_string()
    }

    /// Reports progress of a long node: at most once per percent, and at the end. A view
    /// needs no more, and a node of 100,000 items would otherwise send as many events.
    pub fn progress(&self, done: usize, total: usize) {
        let Some(sink) = &self.progress else { return };
        let step = (done.saturating_mul(100) / total.max(1)) as u64 + 1;
        if done < total && self.progress_step.fetch_max(step, Ordering::Relaxed) >= step {
            return;
        }
        sink.progress(&self.node.id, done, total);
    }

    /// Runs one item's call under the node's retry policy, reporting each retry.
    pub async fn retry_item<T, F, Fut>(&self, index: usize, attempt: F) -> Result<T, NodeError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, NodeError>>,
    {
        self.retry_item_with(&self.node.settings.retry, index, attempt).await
    }

    /// Like [`NodeContext::retry_item`] with a given policy (a node type's own default).
    pub async fn retry_item_with<T, F, Fut>(
        &self,
        policy: &switchyard_model::retry::RetryPolicy,
        index: usize,
        attempt: F,
    ) -> Result<T, NodeError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, NodeError>>,
    {
        let observe = |next: u32, delay: Duration, error: &NodeError| {
            if let Some(sink) = &self.progress {
                sink.retrying(&self.node, Some(index), next, delay, error);
            }
        };
        crate::resilience::retry(policy, &observe, attempt).await.map_err(|e| e.with_item(index))
    }

    /// The sink for progress and retries (the executor's run events).
    pub fn progress_sink(&self) -> Option<Arc<dyn ProgressSink>> {
        self.progress.clone()
    }

    /// Reports that a call waited for a rate limit (metrics count it per node).
    pub fn report_throttled(&self, key: &str, waited: Duration) {
        if let Some(sink) = &self.progress {
            sink.throttled(&self.node, key, waited);
        }
    }

    /// Shows more of a model's answer for item `item` while it streams in.
    pub fn report_streamed(&self, item: usize, text: &str, fresh: bool) {
        if let Some(sink) = &self.progress {
            sink.streamed(&self.node, item, text, fresh);
        }
    }

    /// Reports what a model call used (tokens, time) for the metrics.
    pub fn report_model_usage(&self, usage: &crate::llm::ModelCall) {
        if let Some(sink) = &self.progress {
            sink.model_usage(&self.node, usage);
        }
    }

    /// Adds an entry to an AI agent's live transcript.
    pub fn report_agent_step(&self, item: usize, step: u32, entry: &switchyard_model::events::AgentEntry) {
        if let Some(sink) = &self.progress {
            sink.agent_step(&self.node, item, step, entry);
        }
    }

    /// Reports that a call changed a breaker's state.
    pub fn report_breaker(&self, key: &str, state: switchyard_model::retry::BreakerState) {
        if let Some(sink) = &self.progress {
            sink.breaker_changed(&self.node, key, state);
        }
    }

    /// Calls out once per item, up to the node's concurrency setting at once (a call starts
    /// as soon as any other ended), and hands the results on in the items' order: each
    /// item's result items on the main output, or its failure where `onError` says. `call`
    /// gets the item and gives it back with its result. Progress is reported from 10 items.
    pub async fn each_item<F, Fut>(&self, items: Vec<Item>, call: F) -> NodeResult
    where
        F: Fn(usize, Item) -> Fut,
        Fut: Future<Output = (Item, Result<Vec<Item>, NodeError>)>,
    {
        use futures::StreamExt;
        let total = items.len();
        let concurrency = self.node.settings.concurrency.clamp(1, switchyard_model::workflow::MAX_CONCURRENCY) as usize;
        let call = &call;
        let mut results = futures::stream::iter(items.into_iter().enumerate().map(|(index, item)| async move {
            let (item, result) = call(index, item).await;
            (index, item, result)
        }))
        .buffer_unordered(concurrency);
        let mut out = Outputs::new();
        let mut waiting = std::collections::BTreeMap::new();
        let (mut next, mut done) = (0, 0);
        while let Some((index, item, result)) = results.next().await {
            self.check_cancelled()?;
            done += 1;
            if total >= 10 {
                self.progress(done, total);
            }
            waiting.insert(index, (item, result));
            while let Some((item, result)) = waiting.remove(&next) {
                match result {
                    Ok(results) => out.extend(MAIN, results),
                    Err(error) => self.item_failed(&mut out, item, next, error)?,
                }
                next += 1;
            }
        }
        Ok(out)
    }

    /// A number parameter that may be left empty (`None`); otherwise as [`NodeContext::f64_param`].
    pub fn optional_f64_param(&self, name: &str, item: &Item, index: usize) -> Result<Option<f64>, NodeError> {
        match self.eval(name, item, index)? {
            Value::Null => Ok(None),
            Value::String(s) if s.trim().is_empty() => Ok(None),
            _ => self.f64_param(name, item, index).map(Some),
        }
    }

    /// Deals with a failure on one item as `onError` says: `stop` returns the error (the
    /// run fails), `continue` passes the item on with its error, `errorOutput` sends it to
    /// the error output.
    pub fn item_failed(&self, out: &mut Outputs, item: Item, index: usize, error: NodeError) -> Result<(), NodeError> {
        if let Some(item) = self.route_failure(out, item, index, error)? {
            out.push(MAIN, item);
        }
        Ok(())
    }

    /// The item with its error attached, where `onError` wants it: returned (to stay in the
    /// main output) for `continue`, pushed to the error output for `errorOutput`, or the
    /// error itself for `stop`.
    fn route_failure(
        &self,
        out: &mut Outputs,
        mut item: Item,
        index: usize,
        error: NodeError,
    ) -> Result<Option<Item>, NodeError> {
        let error = if error.item_index.is_none() { error.with_item(index) } else { error };
        if self.on_error() == OnError::Stop {
            return Err(error);
        }
        item.set_paired(switchyard_model::item::Paired::item(index));
        item.set_error(error);
        if self.on_error() == OnError::ErrorOutput {
            out.push(ERROR_OUTPUT, item);
            return Ok(None);
        }
        Ok(Some(item))
    }

    /// Maps items one by one into the same memory (no second list of items is allocated).
    /// `f` returns the output item, `None` to drop it, or the input item with an error,
    /// which goes where `onError` says: with `continue` it stays in place carrying the
    /// error, with `errorOutput` it goes to `out`'s error output, with `stop` the node fails.
    pub fn map_items(
        &self,
        items: Vec<Item>,
        out: &mut Outputs,
        mut f: impl FnMut(Item, usize) -> Result<Option<Item>, (Item, NodeError)>,
    ) -> Result<Vec<Item>, NodeError> {
        let mut failure = None;
        // Item loops are CPU work on an async worker: let the runtime move its other tasks
        // (the run's timeout among them) to another worker meanwhile, and stop between items
        // once the run is cancelled or out of time.
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let many = multi_thread && items_are_many(&items);
        let map = || {
            items
                .into_iter()
                .enumerate()
                .filter_map(|(index, item)| {
                    if failure.is_some() {
                        return None;
                    }
                    if self.cancel.is_cancelled() {
                        failure =
                            Some(NodeError::new(ErrorCode::Cancelled, "the run was cancelled (or ran out of time)"));
                        return None;
                    }
                    match f(item, index) {
                        Ok(result) => result,
                        Err((item, error)) => self.route_failure(out, item, index, error).unwrap_or_else(|e| {
                            failure = Some(e);
                            None
                        }),
                    }
                })
                .collect::<Vec<Item>>()
        };
        let mapped = if many { tokio::task::block_in_place(map) } else { map() };
        match failure {
            Some(error) => Err(error),
            None => Ok(mapped),
        }
    }

    /// Fails with `Cancelled` when the run was cancelled.
    pub fn check_cancelled(&self) -> Result<(), NodeError> {
        if self.cancel.is_cancelled() {
            Err(NodeError::new(ErrorCode::Cancelled, "the run was cancelled"))
        } else {
            Ok(())
        }
    }
}

/// Whether an item loop is long enough to be worth moving the worker's other tasks away.
fn items_are_many(items: &[Item]) -> bool {
    items.len() >= 64
}

/// Numbers, and strings that hold numbers.
pub fn as_number(value: &Value) -> Option<f64> {
    match value {
        Value::Int(_) | Value::Float(_) => value.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

/// Booleans, and the strings "true"/"false".
pub fn as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        Value::Int(i) => Some(*i != 0),
        _ => None,
    }
}

/// A short description of a value for error messages.
pub fn describe(value: &Value) -> String {
    let text = value.to_json_string();
    if text.len() > 60 {
        let cut: String = text.chars().take(57).collect();
        format!("{} {cut}...", value.type_name())
    } else {
        format!("{} {text}", value.type_name())
    }
}

/// Parses a field-path parameter, naming the parameter on error.
pub fn field_path(name: &str, text: &str) -> Result<Vec<switchyard_model::path::Segment>, NodeError> {
    let text = text.trim();
    let text = text.strip_prefix("json.").unwrap_or(text);
    switchyard_model::path::parse(text)
        .map_err(|e| NodeError::new(ErrorCode::InvalidParameter, e.to_string()).with_parameter(name))
}
