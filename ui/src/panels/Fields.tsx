// Form fields generated from parameter descriptors: one editor per parameter kind.
import { useEffect, useState } from "react";
import { call, errorMessage } from "../api/client";
import type { ParamSpec } from "../gen/ParamSpec";
import type { Workflow } from "../gen/Workflow";
import { inferSchema } from "../lib/schema";
import { type Field, formFields, hasExpression, newListEntry, parseNumberInput } from "./form";

/** What expression previews need: the workflow as edited and the node being edited. */
export interface PreviewContext {
  workflow: Workflow;
  nodeId: string;
  /** Changes when new run data arrives, so previews refresh. */
  runKey: string | null;
}

export function ExpressionPreview({ value, context }: { value: unknown; context: PreviewContext }) {
  const [result, setResult] = useState<{ text: string; error: boolean; note?: string } | null>(null);
  useEffect(() => {
    let cancelled = false;
    const timer = setTimeout(async () => {
      try {
        const r = await call("expression_preview", { workflow: context.workflow, nodeId: context.nodeId, value });
        if (cancelled) return;
        const note = r.hasInput ? undefined : "no input yet: evaluated with an empty item";
        if (r.error) setResult({ text: r.error, error: true, note });
        else setResult({ text: typeof r.value === "string" ? r.value : JSON.stringify(r.value, null, 1), error: false, note });
      } catch (e) {
        if (!cancelled) setResult({ text: errorMessage(e), error: true });
      }
    }, 250);
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
    // The workflow changes with every keystroke; the value and run data are what matter.
  }, [JSON.stringify(value), context.nodeId, context.runKey]);
  if (!result) return null;
  return (
    <div className={`preview ${result.error ? "error" : ""}`} data-testid="expression-preview" title={result.note}>
      {result.text === "" ? <span className="muted">(empty text)</span> : result.text}
      {result.note && <div className="muted">{result.note}</div>}
    </div>
  );
}

function TextInput({ field, onChange, context, rows }: { field: Field; onChange: (v: unknown) => void; context: PreviewContext; rows: number }) {
  const value = typeof field.value === "string" ? field.value : field.value === null || field.value === undefined ? "" : JSON.stringify(field.value);
  const expression = field.spec.expressions && hasExpression(value);
  const common = {
    id: `param-${field.spec.name}`,
    "aria-label": field.spec.label,
    value,
    placeholder: field.spec.placeholder,
    className: expression ? "expression" : "",
    onChange: (e: { target: { value: string } }) => onChange(e.target.value),
  };
  return (
    <>
      {rows > 1 || value.length > 60 ? <textarea rows={Math.max(rows, 2)} {...common} /> : <input type="text" {...common} />}
      {expression && <ExpressionPreview value={value} context={context} />}
    </>
  );
}

function NumberInput({ field, onChange, context }: { field: Field; onChange: (v: unknown) => void; context: PreviewContext }) {
  const [text, setText] = useState(field.value === null || field.value === undefined ? "" : String(field.value));
  useEffect(() => setText(field.value === null || field.value === undefined ? "" : String(field.value)), [field.value]);
  const expression = hasExpression(text);
  return (
    <>
      <input
        id={`param-${field.spec.name}`}
        aria-label={field.spec.label}
        type="text"
        inputMode="decimal"
        className={expression ? "expression" : ""}
        value={text}
        placeholder={field.spec.placeholder}
        onChange={(e) => {
          setText(e.target.value);
          onChange(parseNumberInput(e.target.value));
        }}
      />
      {expression && <ExpressionPreview value={text} context={context} />}
    </>
  );
}

/** Hands JSON typed into a field on as its value; returns why it is not JSON yet, or null.
 * With `expressions`, a whole-field expression (not an object or list) is kept as text. */
function applyJson(text: string, expressions: boolean, onChange: (v: unknown) => void): string | null {
  try {
    onChange(JSON.parse(text));
    return null;
  } catch (err) {
    const t = text.trim();
    if (expressions && hasExpression(text) && !t.startsWith("{") && !t.startsWith("[")) {
      onChange(text);
      return null;
    }
    return `not valid JSON yet: ${(err as Error).message}`;
  }
}

function JsonInput({ field, onChange, context }: { field: Field; onChange: (v: unknown) => void; context: PreviewContext }) {
  const [text, setText] = useState(() => JSON.stringify(field.value ?? null, null, 2));
  const [problem, setProblem] = useState<string | null>(null);
  return (
    <>
      <textarea
        aria-label={field.spec.label}
        rows={6}
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          setProblem(applyJson(e.target.value, true, onChange));
        }}
      />
      {problem && <div className="problem">{problem}</div>}
      {!problem && JSON.stringify(field.value).includes("{{") && <ExpressionPreview value={field.value} context={context} />}
    </>
  );
}

/** A JSON schema: edited as JSON, or made from an example answer pasted in. */
function SchemaInput({ field, onChange }: { field: Field; onChange: (v: unknown) => void }) {
  const [text, setText] = useState(() => JSON.stringify(field.value ?? {}, null, 2));
  const [problem, setProblem] = useState<string | null>(null);
  const [example, setExample] = useState<string | null>(null);
  const fromExample = () => {
    if (example === null) return;
    try {
      const schema = inferSchema(JSON.parse(example));
      setText(JSON.stringify(schema, null, 2));
      onChange(schema);
      setProblem(null);
      setExample(null);
    } catch (err) {
      setProblem(`the example is not valid JSON: ${(err as Error).message}`);
    }
  };
  return (
    <>
      <textarea
        id={`param-${field.spec.name}`}
        aria-label={field.spec.label}
        rows={8}
        spellCheck={false}
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          setProblem(applyJson(e.target.value, false, onChange));
        }}
      />
      {example === null ? (
        <div>
          <button onClick={() => setExample("")} data-testid="schema-from-example">
            From an example…
          </button>
        </div>
      ) : (
        <div className="schema-example">
          <textarea aria-label="Example answer" rows={4} spellCheck={false} placeholder='{"category": "billing", "urgency": 3}' value={example} onChange={(e) => setExample(e.target.value)} />
          <div className="row">
            <button className="primary" onClick={fromExample} data-testid="schema-infer">
              Make the schema
            </button>
            <button onClick={() => setExample(null)}>Cancel</button>
          </div>
        </div>
      )}
      {problem && <div className="problem">{problem}</div>}
    </>
  );
}

function KeyValueInput({ field, onChange, context }: { field: Field; onChange: (v: unknown) => void; context: PreviewContext }) {
  const pairs = (Array.isArray(field.value) ? field.value : []) as { name: string; value: unknown }[];
  const set = (next: { name: string; value: unknown }[]) => onChange(next);
  return (
    <div className="pairs">
      {pairs.map((pair, i) => (
        <div key={i}>
          <div className="pair">
            <input aria-label={`${field.spec.label} name ${i + 1}`} placeholder="name" value={pair.name} onChange={(e) => set(pairs.map((p, j) => (j === i ? { ...p, name: e.target.value } : p)))} />
            <input
              aria-label={`${field.spec.label} value ${i + 1}`}
              placeholder="value"
              className={hasExpression(pair.value) ? "expression" : ""}
              value={typeof pair.value === "string" ? pair.value : JSON.stringify(pair.value ?? "")}
              onChange={(e) => set(pairs.map((p, j) => (j === i ? { ...p, value: e.target.value } : p)))}
            />
            <button className="icon" title="Remove" aria-label={`Remove ${field.spec.label} ${i + 1}`} onClick={() => set(pairs.filter((_, j) => j !== i))}>
              ×
            </button>
          </div>
          {hasExpression(pair.value) && <ExpressionPreview value={pair.value} context={context} />}
        </div>
      ))}
      <div>
        <button onClick={() => set([...pairs, { name: "", value: "" }])}>+ Add {field.spec.label.toLowerCase()}</button>
      </div>
    </div>
  );
}

function ListInput({ field, fields, addLabel, onChange, context }: { field: Field; fields: ParamSpec[]; addLabel: string; onChange: (v: unknown) => void; context: PreviewContext }) {
  const entries = (Array.isArray(field.value) ? field.value : []) as Record<string, unknown>[];
  const set = (next: Record<string, unknown>[]) => onChange(next);
  const move = (i: number, d: number) => {
    const next = [...entries];
    const [e] = next.splice(i, 1);
    next.splice(i + d, 0, e);
    set(next);
  };
  return (
    <div className="pairs" data-testid={`list-${field.spec.name}`}>
      {entries.map((entry, i) => (
        <div key={i} className="list-entry">
          <div className="entry-head">
            <span>#{i + 1}</span>
            <span className="row">
              <button className="icon" title="Move up" disabled={i === 0} onClick={() => move(i, -1)}>
                ↑
              </button>
              <button className="icon" title="Move down" disabled={i === entries.length - 1} onClick={() => move(i, 1)}>
                ↓
              </button>
              <button className="icon" title="Remove" aria-label={`Remove ${field.spec.label} ${i + 1}`} onClick={() => set(entries.filter((_, j) => j !== i))}>
                ×
              </button>
            </span>
          </div>
          <ParameterForm
            specs={fields}
            values={entry}
            context={context}
            idPrefix={`${field.spec.name}-${i}-`}
            onChange={(name, value) => set(entries.map((e, j) => (j === i ? { ...e, [name]: value } : e)))}
          />
        </div>
      ))}
      <div>
        <button onClick={() => set([...entries, newListEntry(fields)])}>+ {addLabel || "Add"}</button>
      </div>
    </div>
  );
}

/** Picks a saved workflow (other than the one being edited) by name; stores its id. */
function WorkflowPicker({ field, onChange, context }: { field: Field; onChange: (v: unknown) => void; context: PreviewContext }) {
  const [workflows, setWorkflows] = useState<{ id: string; name: string }[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    call("workflow_list", {})
      .then((r) => setWorkflows(r.workflows.map((w) => ({ id: w.id, name: w.name }))))
      .catch((e) => setProblem(errorMessage(e)));
  }, []);
  const value = typeof field.value === "string" ? field.value : "";
  const choices = (workflows ?? []).filter((w) => w.id !== context.workflow.id);
  const known = value === "" || choices.some((w) => w.id === value);
  return (
    <>
      <select id={`param-${field.spec.name}`} aria-label={field.spec.label} value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">{workflows ? "Choose a workflow…" : "Loading…"}</option>
        {!known && <option value={value}>{value} (not saved here)</option>}
        {choices.map((w) => (
          <option key={w.id} value={w.id}>
            {w.name}
          </option>
        ))}
      </select>
      {problem && <div className="problem">{problem}</div>}
    </>
  );
}

function FieldEditor({ field, onChange, context }: { field: Field; onChange: (v: unknown) => void; context: PreviewContext }) {
  const kind = field.spec.kind;
  switch (kind.type) {
    case "string":
      return <TextInput field={field} onChange={onChange} context={context} rows={kind.rows} />;
    case "number":
      return <NumberInput field={field} onChange={onChange} context={context} />;
    case "boolean":
      return (
        <input
          type="checkbox"
          aria-label={field.spec.label}
          checked={field.value === true}
          onChange={(e) => onChange(e.target.checked)}
        />
      );
    case "options":
      return (
        <select aria-label={field.spec.label} value={JSON.stringify(field.value)} onChange={(e) => onChange(JSON.parse(e.target.value))}>
          {!kind.choices.some((c) => JSON.stringify(c.value) === JSON.stringify(field.value)) && (
            <option value={JSON.stringify(field.value)}>{String(field.value)} (not an option)</option>
          )}
          {kind.choices.map((c) => (
            <option key={JSON.stringify(c.value)} value={JSON.stringify(c.value)}>
              {c.label}
            </option>
          ))}
        </select>
      );
    case "json":
      return <JsonInput field={field} onChange={onChange} context={context} />;
    case "jsonSchema":
      return <SchemaInput field={field} onChange={onChange} />;
    case "keyValue":
      return <KeyValueInput field={field} onChange={onChange} context={context} />;
    case "workflow":
      return <WorkflowPicker field={field} onChange={onChange} context={context} />;
    case "list":
      return <ListInput field={field} fields={kind.fields} addLabel={kind.addLabel} onChange={onChange} context={context} />;
    case "code":
      return (
        <textarea
          aria-label={field.spec.label}
          rows={12}
          spellCheck={false}
          value={typeof field.value === "string" ? field.value : ""}
          onChange={(e) => onChange(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Tab") {
              e.preventDefault();
              const t = e.currentTarget;
              const { selectionStart: a, selectionEnd: b } = t;
              const next = `${t.value.slice(0, a)}    ${t.value.slice(b)}`;
              onChange(next);
              requestAnimationFrame(() => t.setSelectionRange(a + 4, a + 4));
            }
          }}
        />
      );
  }
}

/** A form for a list of parameter specs. */
export function ParameterForm({
  specs,
  values,
  onChange,
  context,
  idPrefix = "",
}: {
  specs: ParamSpec[];
  values: Record<string, unknown>;
  onChange: (name: string, value: unknown) => void;
  context: PreviewContext;
  idPrefix?: string;
}) {
  const fields = formFields(specs, values);
  return (
    <>
      {fields.map((field) => (
        <div className="field" key={field.spec.name} data-testid={`field-${idPrefix}${field.spec.name}`}>
          <label htmlFor={`param-${field.spec.name}`}>
            {field.spec.label}
            {field.spec.required && <span className="error-text"> *</span>}
          </label>
          <FieldEditor field={field} onChange={(v) => onChange(field.spec.name, v)} context={context} />
          {field.spec.description && <div className="hint">{field.spec.description}</div>}
          {field.problem && <div className="problem">{field.problem}</div>}
        </div>
      ))}
    </>
  );
}
