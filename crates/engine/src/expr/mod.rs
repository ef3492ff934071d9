//! Expressions: `{{ … }}` inside string parameters, evaluated with rhai.
//!
//! A parameter is compiled once per node run into a [`Compiled`] tree and evaluated once per
//! item. Plain paths into the current item (`{{ json.a.b }}`) skip the script engine
//! entirely; everything else runs in a sandboxed rhai engine with operation, size and depth
//! limits. A string that is exactly one expression keeps the value's type.

pub mod convert;
pub mod template;

use crate::clock::{SharedClock, rfc3339};
use rhai::{AST, Dynamic, Engine, EvalAltResult, ImmutableString, Map, Scope};
use std::cell::Cell;
use std::sync::{Arc, Mutex};
use switchyard_model::item::Item;
use switchyard_model::path::Segment;
use switchyard_model::value::{Excess, MAX_DEPTH, Object, Value};
use template::Part;

/// Sandbox limits for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScriptLimits {
    pub max_operations: u64,
    pub max_string_size: usize,
    pub max_array_size: usize,
    pub max_map_size: usize,
    pub max_expr_depth: usize,
    pub max_call_levels: usize,
}

impl ScriptLimits {
    /// Limits for `{{ … }}` expressions.
    pub const EXPRESSION: ScriptLimits = ScriptLimits {
        max_operations: 1_000_000,
        max_string_size: 16 * 1024 * 1024,
        max_array_size: 1_000_000,
        max_map_size: 100_000,
        max_expr_depth: 64,
        max_call_levels: 32,
    };
}

/// What expressions can see besides the current item: other nodes' output in this run.
pub trait History: Send + Sync {
    /// The items node `name` emitted on its main output in this run.
    fn items_of(&self, name: &str) -> Result<Arc<Vec<Item>>, String>;
    /// The item of node `name` that the current node's input item `index` derives from.
    fn paired_of(&self, name: &str, index: usize) -> Result<Value, String>;
}

/// A history with no other nodes, for previews and tests.
#[derive(Debug, Default)]
pub struct NoHistory;

impl History for NoHistory {
    fn items_of(&self, name: &str) -> Result<Arc<Vec<Item>>, String> {
        Err(format!("node \"{name}\" has no output in this run"))
    }
    fn paired_of(&self, name: &str, _index: usize) -> Result<Value, String> {
        Err(format!("node \"{name}\" has no output in this run"))
    }
}

/// Run-wide facts visible to scripts.
#[derive(Clone)]
pub struct ScriptEnv {
    pub clock: SharedClock,
    pub history: Arc<dyn History>,
    pub workflow_id: String,
    pub workflow_name: String,
    pub execution_id: String,
    pub mode: String,
    pub limits: ScriptLimits,
    /// Cancelled when the run is cancelled or times out: a long expression stops at once.
    pub cancel: tokio_util::sync::CancellationToken,
}

impl std::fmt::Debug for ScriptEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptEnv")
            .field("workflow_id", &self.workflow_id)
            .field("execution_id", &self.execution_id)
            .finish()
    }
}

thread_local! {
    /// The item index being evaluated, for `item("Name")`. Evaluation never awaits, so a
    /// thread-local set around each call is exact.
    static CURRENT_INDEX: Cell<usize> = const { Cell::new(0) };
}

thread_local! {
    /// The run environment of the expression being evaluated, for the shared engine's
    /// functions (`node`, `item`, `now`). Set around each evaluation, like the index.
    static CURRENT_ENV: std::cell::RefCell<Option<Arc<ScriptEnv>>> = const { std::cell::RefCell::new(None) };
}

/// Where an engine's functions find the run's environment: one run's (an engine built for
/// it), or the one being evaluated on this thread (the shared expression engine).
#[derive(Clone)]
enum EnvSource {
    Fixed(Arc<ScriptEnv>),
    Current,
}

impl EnvSource {
    fn get(&self) -> Result<Arc<ScriptEnv>, Box<EvalAltResult>> {
        match self {
            EnvSource::Fixed(env) => Ok(env.clone()),
            EnvSource::Current => CURRENT_ENV
                .with(|c| c.borrow().clone())
                .ok_or_else(|| "this function is only available while a run evaluates expressions".into()),
        }
    }
}

/// Sets the thread's run environment for the duration of one evaluation.
struct EnvGuard(Option<Arc<ScriptEnv>>);

impl EnvGuard {
    fn set(env: Arc<ScriptEnv>) -> EnvGuard {
        EnvGuard(CURRENT_ENV.with(|c| c.borrow_mut().replace(env)))
    }
}

impl Drop for EnvGuard {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT_ENV.with(|c| *c.borrow_mut() = previous);
    }
}

/// Builds a sandboxed engine with Switchyard's functions, bound to one run's environment.
pub fn build_engine(env: &ScriptEnv) -> Engine {
    build(EnvSource::Fixed(Arc::new(env.clone())), env.limits)
}

/// The engine every expression evaluator shares (per limits): building one costs far more
/// than evaluating a small expression, so it is built once per process, not per node run.
type SharedEngines = Mutex<Vec<(ScriptLimits, Arc<Engine>)>>;

fn shared_engine(limits: ScriptLimits) -> Arc<Engine> {
    static SHARED: std::sync::OnceLock<SharedEngines> = std::sync::OnceLock::new();
    let mut engines = SHARED.get_or_init(|| Mutex::new(Vec::new())).lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, engine)) = engines.iter().find(|(l, _)| *l == limits) {
        return engine.clone();
    }
    let engine = Arc::new(build(EnvSource::Current, limits));
    engines.push((limits, engine.clone()));
    engine
}

/// Scripts compiled once for the process, by their limits and source: a workflow's
/// expressions are parsed on their first run, not on every run (a webhook's Set node parsed
/// its expressions per request: a twentieth of the process's time under load). The same
/// source under the same limits always compiles to the same script, with the same variables
/// declared. Bounded: past [`COMPILED_MAX`] scripts it starts over; long sources are not kept.
fn compiled(engine: &Engine, limits: ScriptLimits, source: &str) -> Result<Arc<AST>, rhai::ParseError> {
    type Compiled = std::collections::HashMap<(ScriptLimits, Box<str>), Arc<AST>>;
    static CACHE: std::sync::OnceLock<Mutex<Compiled>> = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (limits, Box::<str>::from(source));
    if let Some(ast) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok(ast.clone());
    }
    let ast = Arc::new(engine.compile_with_scope(&compile_scope(), source)?);
    if source.len() <= COMPILED_MAX_SOURCE {
        let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= COMPILED_MAX {
            cache.clear();
        }
        cache.insert(key, ast.clone());
    }
    Ok(ast)
}

const COMPILED_MAX: usize = 1024;
const COMPILED_MAX_SOURCE: usize = 1024;

fn build(source: EnvSource, limits: ScriptLimits) -> Engine {
    let mut engine = Engine::new();
    engine.set_max_operations(limits.max_operations);
    engine.set_max_string_size(limits.max_string_size);
    engine.set_max_array_size(limits.max_array_size);
    engine.set_max_map_size(limits.max_map_size);
    engine.set_max_expr_depths(limits.max_expr_depth, limits.max_expr_depth / 2);
    engine.set_max_call_levels(limits.max_call_levels);
    engine.set_strict_variables(true);
    engine.disable_symbol("eval");
    // A cancelled or timed-out run stops a long expression within a few thousand operations.
    let env = source.clone();
    engine.on_progress(move |operations| {
        if operations % 4096 != 0 {
            return None;
        }
        let cancelled = env.get().is_ok_and(|env| env.cancel.is_cancelled());
        cancelled.then(|| Dynamic::from("the run was cancelled (or ran out of time)"))
    });
    engine.on_print(|text| tracing::debug!(target: "switchyard::script", "{text}"));
    engine.on_debug(|text, _, pos| tracing::debug!(target: "switchyard::script", "{pos:?} {text}"));

    let env = source.clone();
    engine.register_fn("node", move |name: &str| -> Result<Dynamic, Box<EvalAltResult>> {
        let items = env.get()?.history.items_of(name).map_err(|e| Box::new(EvalAltResult::from(e)))?;
        Ok(Dynamic::from_array(items.iter().map(|i| convert::to_dynamic(&i.json)).collect()))
    });
    let env = source.clone();
    engine.register_fn("item", move |name: &str| -> Result<Dynamic, Box<EvalAltResult>> {
        let index = CURRENT_INDEX.with(Cell::get);
        let value = env.get()?.history.paired_of(name, index).map_err(|e| Box::new(EvalAltResult::from(e)))?;
        Ok(convert::to_dynamic(&value))
    });
    let env = source.clone();
    engine.register_fn("now", move || -> Result<ImmutableString, Box<EvalAltResult>> {
        Ok(rfc3339(env.get()?.clock.now()).into())
    });
    let env = source;
    engine.register_fn("now_ms", move || -> Result<i64, Box<EvalAltResult>> {
        Ok(env.get()?.clock.now().timestamp_millis())
    });
    engine.register_fn("parse_date", |text: &str| -> Result<i64, Box<EvalAltResult>> {
        parse_date(text)
            .ok_or_else(|| format!("\"{text}\" is not a date (use RFC 3339, e.g. 2026-01-31T12:00:00Z)").into())
    });
    engine.register_fn("format_date", |ms: i64, format: &str| -> Result<ImmutableString, Box<EvalAltResult>> {
        format_date(ms, format, "UTC")
    });
    engine.register_fn(
        "format_date",
        |ms: i64, format: &str, tz: &str| -> Result<ImmutableString, Box<EvalAltResult>> {
            format_date(ms, format, tz)
        },
    );
    engine.register_fn("format_date", |text: &str, format: &str| -> Result<ImmutableString, Box<EvalAltResult>> {
        let ms =
            parse_date(text).ok_or_else(|| -> Box<EvalAltResult> { format!("\"{text}\" is not a date").into() })?;
        format_date(ms, format, "UTC")
    });
    engine.register_fn("to_json", |value: Dynamic| -> Result<ImmutableString, Box<EvalAltResult>> {
        let v = convert::from_dynamic(&value).map_err(|e| -> Box<EvalAltResult> { e.to_string().into() })?;
        Ok(v.to_json_string().into())
    });
    engine.register_fn("parse_json", |text: &str| -> Result<Dynamic, Box<EvalAltResult>> {
        let v: Value =
            serde_json::from_str(text).map_err(|e| -> Box<EvalAltResult> { format!("parse_json: {e}").into() })?;
        Ok(convert::to_dynamic(&v))
    });
    engine
}

fn parse_date(text: &str) -> Option<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis());
    }
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").ok().map(|t| t.and_utc().timestamp_millis())
}

fn format_date(ms: i64, format: &str, tz: &str) -> Result<ImmutableString, Box<EvalAltResult>> {
    use std::fmt::Write;
    let tz: chrono_tz::Tz =
        tz.parse().map_err(|_| -> Box<EvalAltResult> { format!("unknown time zone \"{tz}\"").into() })?;
    let t = chrono::DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| -> Box<EvalAltResult> { format!("{ms} is out of range for a date").into() })?
        .with_timezone(&tz);
    let mut out = String::new();
    write!(out, "{}", t.format(format))
        .map_err(|_| -> Box<EvalAltResult> { format!("bad date format \"{format}\"").into() })?;
    Ok(out.into())
}

/// A compiled expression.
#[derive(Debug, Clone)]
pub enum Expr {
    /// `json`, `json.a.b[0]`: read from the item directly.
    ItemPath(Vec<Segment>),
    Script {
        ast: Arc<AST>,
        source: String,
    },
}

#[derive(Debug, Clone)]
pub enum TextPart {
    Text(String),
    Expr(Expr),
}

/// A parameter value compiled for evaluation.
#[derive(Debug, Clone)]
pub enum Compiled {
    Literal(Value),
    /// A string that is exactly one expression: keeps the result's type.
    Whole(Expr),
    /// Text with expressions: always a string.
    Template(Vec<TextPart>),
    Array(Vec<Compiled>),
    Object(Vec<(String, Compiled)>),
}

impl Compiled {
    /// Whether evaluation can depend on the item (so it must run per item).
    pub fn is_literal(&self) -> bool {
        matches!(self, Compiled::Literal(_))
    }
}

/// An expression error, with the position inside the parameter's value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ExprError {
    pub message: String,
    /// `ValueTooLarge` for a value over the size or depth limit; otherwise the evaluation
    /// failed (`ExpressionFailed`).
    pub too_large: bool,
}

impl ExprError {
    pub fn new(message: impl Into<String>) -> ExprError {
        ExprError { message: message.into(), too_large: false }
    }

    /// The error code a node reports for it.
    pub fn code(&self) -> switchyard_model::error::ErrorCode {
        use switchyard_model::error::ErrorCode;
        if self.too_large { ErrorCode::ValueTooLarge } else { ErrorCode::ExpressionFailed }
    }

    fn too_large(excess: switchyard_model::value::Excess) -> ExprError {
        ExprError { message: format!("the value it builds is {excess}"), too_large: true }
    }
}

/// Compiles and evaluates expressions for one node run.
pub struct Evaluator {
    env: Arc<ScriptEnv>,
    engine: std::sync::OnceLock<Arc<Engine>>,
    /// The last item converted for scripts, reused while several parameters of the same
    /// item are evaluated.
    cached_item: Mutex<Option<(usize, usize, Dynamic)>>,
    /// `workflow` and `execution` for scripts, made once per node run: each evaluation
    /// clones them (their strings are shared) instead of building them again.
    run_vars: std::sync::OnceLock<(Dynamic, Dynamic)>,
}

impl std::fmt::Debug for Evaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator").field("env", &self.env).finish()
    }
}

/// The variables expressions may use, declared for strict-variable checking. They are
/// plain variables here, not constants: the optimizer would fold constants into the AST.
fn compile_scope() -> Scope<'static> {
    let mut scope = Scope::new();
    for name in ["json", "binary", "index", "error", "workflow", "execution"] {
        scope.push(name, Dynamic::UNIT);
    }
    scope
}

impl Evaluator {
    pub fn new(env: ScriptEnv) -> Evaluator {
        Evaluator {
            env: Arc::new(env),
            engine: std::sync::OnceLock::new(),
            cached_item: Mutex::new(None),
            run_vars: std::sync::OnceLock::new(),
        }
    }

    pub fn env(&self) -> &ScriptEnv {
        &self.env
    }

    fn engine(&self) -> &Engine {
        self.engine.get_or_init(|| shared_engine(self.env.limits))
    }

    /// Compiles a parameter value: every string in it may hold expressions.
    pub fn compile(&self, value: &serde_json::Value) -> Result<Compiled, ExprError> {
        Ok(match value {
            serde_json::Value::String(s) => self.compile_str(s)?,
            serde_json::Value::Array(a) => {
                let parts = a.iter().map(|v| self.compile(v)).collect::<Result<Vec<_>, _>>()?;
                if parts.iter().all(Compiled::is_literal) {
                    Compiled::Literal(Value::from(value))
                } else {
                    Compiled::Array(parts)
                }
            }
            serde_json::Value::Object(o) => {
                let parts =
                    o.iter().map(|(k, v)| Ok((k.clone(), self.compile(v)?))).collect::<Result<Vec<_>, ExprError>>()?;
                if parts.iter().all(|(_, c)| c.is_literal()) {
                    Compiled::Literal(Value::from(value))
                } else {
                    Compiled::Object(parts)
                }
            }
            other => Compiled::Literal(Value::from(other)),
        })
    }

    /// Compiles one string; no expression means a literal.
    pub fn compile_str(&self, s: &str) -> Result<Compiled, ExprError> {
        if !template::has_expression(s) {
            return Ok(Compiled::Literal(Value::from(s)));
        }
        let parts = template::split(s).map_err(|e| ExprError::new(e.to_string()))?;
        if let [Part::Expr(source, _)] = parts.as_slice() {
            return Ok(Compiled::Whole(self.compile_expr(source)?));
        }
        let mut out = Vec::with_capacity(parts.len());
        for part in parts {
            out.push(match part {
                Part::Text(t) => TextPart::Text(t.to_string()),
                Part::Expr(source, _) => TextPart::Expr(self.compile_expr(source)?),
            });
        }
        Ok(Compiled::Template(out))
    }

    fn compile_expr(&self, source: &str) -> Result<Expr, ExprError> {
        if let Some(path) = template::as_item_path(source) {
            return Ok(Expr::ItemPath(path));
        }
        let ast = compiled(self.engine(), self.env.limits, source)
            .map_err(|e| ExprError::new(format!("in {{{{{source}}}}}: {e}")))?;
        Ok(Expr::Script { ast, source: source.trim().to_string() })
    }

    /// Evaluates a compiled parameter for the item at `index`. A value larger than the
    /// limits' string size or nested deeper than [`MAX_DEPTH`] is an error, not a value.
    pub fn eval(&self, compiled: &Compiled, item: &Item, index: usize) -> Result<Value, ExprError> {
        let value = self.eval_part(compiled, item, index)?;
        if matches!(compiled, Compiled::Literal(_) | Compiled::Whole(Expr::ItemPath(_))) {
            return Ok(value);
        }
        match value.exceeds(self.env.limits.max_string_size, MAX_DEPTH) {
            Some(excess) => Err(ExprError::too_large(excess)),
            None => Ok(value),
        }
    }

    fn eval_part(&self, compiled: &Compiled, item: &Item, index: usize) -> Result<Value, ExprError> {
        match compiled {
            Compiled::Literal(v) => Ok(v.clone()),
            Compiled::Whole(expr) => self.eval_expr(expr, item, index),
            Compiled::Template(parts) => {
                let mut out = String::new();
                for part in parts {
                    match part {
                        TextPart::Text(t) => out.push_str(t),
                        TextPart::Expr(e) => out.push_str(&self.eval_expr(e, item, index)?.to_text()),
                    }
                    if out.len() > self.env.limits.max_string_size {
                        return Err(ExprError::too_large(Excess::Bytes(self.env.limits.max_string_size)));
                    }
                }
                Ok(Value::from(out))
            }
            Compiled::Array(parts) => {
                Ok(Value::array(parts.iter().map(|p| self.eval_part(p, item, index)).collect::<Result<_, _>>()?))
            }
            Compiled::Object(parts) => {
                let mut object = Object::new();
                for (k, p) in parts {
                    object.insert(k, self.eval_part(p, item, index)?);
                }
                Ok(Value::object(object))
            }
        }
    }

    fn eval_expr(&self, expr: &Expr, item: &Item, index: usize) -> Result<Value, ExprError> {
        match expr {
            Expr::ItemPath(path) => Ok(item.json.get_path(path).cloned().unwrap_or(Value::Null)),
            Expr::Script { ast, source } => {
                let mut scope = self.scope_for(item, index);
                CURRENT_INDEX.with(|c| c.set(index));
                let _env = EnvGuard::set(self.env.clone());
                let result = self
                    .engine()
                    .eval_ast_with_scope::<Dynamic>(&mut scope, ast)
                    .map_err(|e| ExprError::new(format!("in {{{{ {source} }}}}: {e}")))?;
                convert::from_dynamic(&result)
                    .map_err(|e| ExprError { message: format!("in {{{{ {source} }}}}: {e}"), too_large: e.too_deep() })
            }
        }
    }

    fn scope_for(&self, item: &Item, index: usize) -> Scope<'static> {
        let address = std::ptr::from_ref(&item.json) as usize;
        let json = {
            let mut cache = self.cached_item.lock().unwrap_or_else(|p| p.into_inner());
            match cache.as_ref() {
                Some((a, i, d)) if *a == address && *i == index => d.clone(),
                _ => {
                    let d = convert::to_dynamic(&item.json);
                    *cache = Some((address, index, d.clone()));
                    d
                }
            }
        };
        let mut scope = Scope::new();
        scope.push_constant("json", json);
        // Files' metadata only (name, type, size, hash), never their bytes.
        scope.push_constant(
            "binary",
            if item.binary().is_some() { convert::to_dynamic(&item.binary_value()) } else { Dynamic::from(Map::new()) },
        );
        scope.push_constant("index", index as i64);
        scope.push_constant(
            "error",
            item.error().map_or(Dynamic::UNIT, |e| {
                convert::to_dynamic(&Value::from(serde_json::to_value(e).unwrap_or_default()))
            }),
        );
        let (workflow, execution) = self.run_vars.get_or_init(|| {
            let mut workflow = Map::new();
            workflow.insert("id".into(), self.env.workflow_id.clone().into());
            workflow.insert("name".into(), self.env.workflow_name.clone().into());
            let mut execution = Map::new();
            execution.insert("id".into(), self.env.execution_id.clone().into());
            execution.insert("mode".into(), self.env.mode.clone().into());
            (Dynamic::from_map(workflow), Dynamic::from_map(execution))
        });
        scope.push_constant_dynamic("workflow", workflow.clone());
        scope.push_constant_dynamic("execution", execution.clone());
        scope
    }
}

/// Runs a script (the Code node) with the given variables; returns its last value.
pub fn run_script(engine: &Engine, ast: &AST, vars: Vec<(&'static str, Dynamic)>) -> Result<Dynamic, String> {
    let mut scope = Scope::new();
    for (name, value) in vars {
        scope.push(name, value);
    }
    engine.eval_ast_with_scope::<Dynamic>(&mut scope, ast).map_err(|e| e.to_string())
}

/// Compiles a script for the Code node, declaring the variables it may use.
pub fn compile_script(engine: &Engine, source: &str, vars: &[&'static str]) -> Result<AST, String> {
    let mut scope = Scope::new();
    for name in vars {
        scope.push(*name, Dynamic::UNIT);
    }
    engine.compile_with_scope(&scope, source).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::TokioClock;
    use switchyard_model::value;

    fn evaluator() -> Evaluator {
        Evaluator::new(ScriptEnv {
            clock: Arc::new(TokioClock::starting_at("2026-01-31T12:00:00Z".parse().unwrap())),
            history: Arc::new(NoHistory),
            workflow_id: "w".into(),
            workflow_name: "W".into(),
            execution_id: "e".into(),
            mode: "manual".into(),
            limits: ScriptLimits::EXPRESSION,
            cancel: Default::default(),
        })
    }

    fn eval(src: serde_json::Value, json: Value) -> Result<Value, ExprError> {
        let ev = evaluator();
        let compiled = ev.compile(&src)?;
        ev.eval(&compiled, &Item::new(json), 0)
    }

    /// A workflow's expressions are parsed once for the process: the next run (a new
    /// evaluator) gets the same script, and it still evaluates per item.
    #[tokio::test]
    async fn expressions_are_parsed_once_and_shared_by_later_runs() {
        let source = "{{ json.qty * json.price + 0.25 }}";
        let script = |e: &Evaluator| match e.compile_str(source).unwrap() {
            Compiled::Whole(Expr::Script { ast, .. }) => ast,
            _ => panic!("a script"),
        };
        let (first, second) = (evaluator(), evaluator());
        assert!(Arc::ptr_eq(&script(&first), &script(&second)));
        let compiled = second.compile_str(source).unwrap();
        assert_eq!(
            second.eval(&compiled, &Item::new(value!({"qty": 3, "price": 4.5})), 0).unwrap(),
            Value::from(13.75)
        );
        // A source that does not parse is an error every time, naming it.
        for _ in 0..2 {
            let error = first.compile_str("{{ json.qty * }}").unwrap_err();
            assert!(error.message.starts_with("in {{ json.qty * }}"), "{}", error.message);
        }
    }

    #[tokio::test]
    async fn values_built_outside_the_script_engine_are_capped_too() {
        // Each part is under the 16 MiB a script value may have; joined by a template, an
        // array or an object they are not.
        let big = Value::from("x".repeat(9 * 1024 * 1024));
        let json = Value::object([("s", big)].into_iter().collect());
        for src in [
            serde_json::json!("{{ json.s }}{{ json.s }}"),
            serde_json::json!(["{{ json.s }}", "{{ json.s }}"]),
            serde_json::json!({"a": "{{ json.s }}", "b": "{{ json.s }}"}),
        ] {
            let e = eval(src.clone(), json.clone()).unwrap_err();
            assert!(e.too_large && e.message.contains("16 MiB"), "{src}: {}", e.message);
            assert_eq!(e.code(), switchyard_model::error::ErrorCode::ValueTooLarge);
        }
        assert!(eval("{{ json.s }}".into(), json).is_ok(), "one part alone is fine");
    }

    #[tokio::test]
    async fn whole_expressions_keep_their_type() {
        assert_eq!(eval("{{ json.n }}".into(), value!({"n": 5})).unwrap(), Value::Int(5));
        assert_eq!(eval("{{ json.n * 2 }}".into(), value!({"n": 5})).unwrap(), Value::Int(10));
        assert_eq!(eval("n={{ json.n }}".into(), value!({"n": 5})).unwrap(), Value::from("n=5"));
        assert_eq!(eval("{{ json.missing }}".into(), value!({})).unwrap(), Value::Null);
        assert_eq!(
            eval(serde_json::json!({"a": ["{{ json.n + 1 }}", 2]}), value!({"n": 1})).unwrap(),
            value!({"a": [2, 2]})
        );
        assert_eq!(eval("{{ #{a: json.n} }}".into(), value!({"n": 1})).unwrap(), value!({"a": 1}));
    }

    #[tokio::test(start_paused = true)]
    async fn clock_and_helpers() {
        assert_eq!(eval("{{ now() }}".into(), value!({})).unwrap(), Value::from("2026-01-31T12:00:00.000Z"));
        assert_eq!(
            eval("{{ format_date(now_ms(), \"%Y/%m/%d %H:%M\", \"Europe/Paris\") }}".into(), value!({})).unwrap(),
            Value::from("2026/01/31 13:00")
        );
        assert_eq!(eval("{{ parse_json(\"[1]\")[0] }}".into(), value!({})).unwrap(), Value::Int(1));
    }

    #[tokio::test]
    async fn errors_name_the_expression() {
        let err = eval("{{ json.n + }}".into(), value!({})).unwrap_err();
        assert!(err.message.contains("json.n +"), "{}", err.message);
        let err = eval("{{ jsn.n }}".into(), value!({})).unwrap_err();
        assert!(err.message.contains("jsn"), "{}", err.message);
        let err = eval("{{ node(\"Other\") }}".into(), value!({})).unwrap_err();
        assert!(err.message.contains("has no output"), "{}", err.message);
    }

    #[tokio::test]
    async fn sandbox_limits_stop_runaway_scripts() {
        let err = eval("{{ let x = 0; loop { x += 1; } }}".into(), value!({})).unwrap_err();
        assert!(err.message.to_lowercase().contains("too many operations"), "{}", err.message);
        let err = eval("{{ let s = \"xxxxxxxxxxxxxxxx\"; loop { s += s; } }}".into(), value!({})).unwrap_err();
        assert!(err.message.to_lowercase().contains("length of string"), "{}", err.message);
        let err = eval("{{ eval(\"1\") }}".into(), value!({})).unwrap_err();
        assert!(!err.message.is_empty());
    }
}
