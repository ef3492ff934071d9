// The output inspector: a node's input and output items, as a table or as JSON.
import { useMemo, useState } from "react";
import type { ExecutionSummary } from "../gen/ExecutionSummary";
import type { Item } from "../gen/Item";
import type { Node } from "../gen/Node";
import type { Workflow } from "../gen/Workflow";
import { inputItems, type NodeState, type RunView } from "../editor/run";
import { FilesView, filesOf } from "./FilesView";
import { PinEditor } from "./PinEditor";

const ROWS = 200;

function cell(value: unknown): string {
  if (value === undefined) return "";
  if (value === null) return "null";
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

export function ItemsTable({ items }: { items: Item[] }) {
  const columns = useMemo(() => {
    const keys: string[] = [];
    for (const item of items.slice(0, ROWS)) {
      const json = item.json;
      if (json && typeof json === "object" && !Array.isArray(json)) {
        for (const k of Object.keys(json)) if (!keys.includes(k)) keys.push(k);
      }
    }
    return keys.slice(0, 60);
  }, [items]);
  const hasErrors = items.some((i) => i.error);
  return (
    <table className="items-table" data-testid="items-table">
      <thead>
        <tr>
          <th>#</th>
          {columns.map((c) => (
            <th key={c}>{c}</th>
          ))}
          {hasErrors && <th>error</th>}
        </tr>
      </thead>
      <tbody>
        {items.slice(0, ROWS).map((item, i) => {
          const json = (item.json ?? {}) as Record<string, unknown>;
          return (
            <tr key={i}>
              <td className="muted">{i}</td>
              {columns.map((c) => (
                <td key={c} title={cell(json[c])}>
                  {cell(json[c])}
                </td>
              ))}
              {hasErrors && <td className="item-error">{item.error?.message ?? ""}</td>}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** A model's answers while they stream in (and after one broke off), with the tokens used. */
function StreamedAnswers({ state }: { state: NodeState | undefined }) {
  const s = state?.streamed;
  if (!state || (!s && !state.transcript) || (state.status !== "running" && state.status !== "error")) return null;
  const indexes = [...new Set([...Object.keys(s?.byItem ?? {}), ...Object.keys(state.transcript ?? {})])];
  const items = indexes.map((i) => [i, s?.byItem[Number(i)] ?? ""] as const);
  return (
    <div className="streamed-answers" data-testid="inspector-streamed">
      <div className="muted">
        {state.status === "running" ? "Answering…" : "What came in before the error:"}
        {state.usage && ` ${state.usage.tokensIn} tokens in, ${state.usage.tokensOut} out so far`}
      </div>
      {items.map(([index, text]) => (
        <div key={index}>
          {items.length > 1 && <strong>Item {index}</strong>}
          {(state.transcript?.[Number(index)] ?? []).map((entry, i) => (
            <div key={i} className={`transcript-entry ${entry.role}${entry.error ? " error-text" : ""}`} data-testid="transcript-entry">
              <span className="muted">{entry.agent ? `${entry.agent} ` : ""}{entry.role === "call" ? `→ ${entry.tool}` : entry.role === "result" ? `← ${entry.tool}` : entry.role}</span> {entry.role === "call" ? entry.arguments : entry.content}
            </div>
          ))}
          {text && <pre className="json">{text}</pre>}
        </div>
      ))}
    </div>
  );
}

interface Props {
  workflow: Workflow;
  node: Node | null;
  run: RunView;
  collapsed: boolean;
  onToggle: () => void;
  onPin: (items: Item[] | null) => void;
  readOnly: boolean;
  /** The runs the viewed execution called (Execute Workflow), each naming its calling node. */
  calls?: ExecutionSummary[];
  onOpenExecution?: (id: string) => void;
  /** Viewing a past run whose node is in the workflow being edited: its items can be pinned there. */
  canPinFromPast?: boolean;
}

export function Inspector({ workflow, node, run, collapsed, onToggle, onPin, readOnly, calls, onOpenExecution, canPinFromPast }: Props) {
  const [view, setView] = useState<"table" | "json" | "files">("table");
  const [editing, setEditing] = useState(false);
  const [tab, setTab] = useState<string>("output:main");
  const data = node ? run.data[node.id] : undefined;
  const inputs = node ? inputItems(workflow, run, node.id) : [];
  const tabs: { key: string; label: string; items: Item[]; total: number; truncated: boolean }[] = [
    ...inputs.map((i) => ({
      key: `input:${i.input}`,
      label: `${inputs.length > 1 ? `Input ${i.input}` : "Input"}${run.paused?.nodeId === node?.id ? " (about to go in)" : ""}`,
      items: i.items,
      total: i.total,
      truncated: i.truncated,
    })),
    ...(data?.outputs ?? []).map((o) => ({
      key: `output:${o.name}`,
      label: (data?.outputs.length ?? 0) > 1 ? `Output ${o.name}` : "Output",
      items: o.items,
      total: o.total,
      truncated: o.truncated,
    })),
  ];
  const current = tabs.find((t) => t.key === tab) ?? tabs.find((t) => t.key.startsWith("output")) ?? tabs[0];
  const pinned = node ? workflow.pinData?.[node.id] : undefined;
  const fileCount = current ? filesOf(current.items).length : 0;
  const called = node ? (calls ?? []).filter((c) => c.calledBy?.nodeId === node.id) : [];
  return (
    <section className={`inspector ${collapsed ? "collapsed" : ""}`} aria-label="Output inspector" data-testid="inspector">
      {editing && node && (
        <PinEditor
          nodeName={node.name}
          items={pinned ?? current?.items ?? []}
          onSave={(items) => {
            onPin(items);
            setEditing(false);
          }}
          onClose={() => setEditing(false)}
        />
      )}
      <header>
        <button className="icon" onClick={onToggle} aria-label={collapsed ? "Show the inspector" : "Hide the inspector"}>
          {collapsed ? "▴" : "▾"}
        </button>
        <strong>{node ? node.name : "Items"}</strong>
        {!collapsed && (
          <div className="tabs" style={{ border: "none", padding: 0 }}>
            {tabs.map((t) => (
              <button key={t.key} className={current?.key === t.key ? "active" : ""} onClick={() => setTab(t.key)}>
                {t.label} ({t.total})
              </button>
            ))}
          </div>
        )}
        <span className="spacer" />
        {!collapsed && node && !readOnly && (
          <button onClick={() => setEditing(true)} title="Pin items you write or paste as JSON" data-testid="edit-pin">
            {pinned ? "Edit pin…" : "Pin JSON…"}
          </button>
        )}
        {!collapsed && current && (
          <>
            {current.truncated && <span className="muted">showing {current.items.length} of {current.total}</span>}
            {current.items.length > ROWS && view === "table" && <span className="muted">first {ROWS} rows</span>}
            <button className={view === "table" ? "primary" : ""} onClick={() => setView("table")}>
              Table
            </button>
            <button className={view === "json" ? "primary" : ""} onClick={() => setView("json")}>
              JSON
            </button>
            {fileCount > 0 && (
              <button className={view === "files" ? "primary" : ""} onClick={() => setView("files")} data-testid="inspector-files">
                Files ({fileCount})
              </button>
            )}
            {node && current.key.startsWith("output") && (!readOnly || canPinFromPast) && (
              <button
                onClick={() => onPin(pinned && !readOnly ? null : current.items)}
                title={readOnly ? "Pin these items from the run shown on the node in the workflow you edit" : "A pinned node emits these items instead of running (in runs you start)"}
                data-testid="pin"
              >
                {readOnly ? "Pin from this run" : pinned ? "Unpin" : "Pin"}
              </button>
            )}
          </>
        )}
      </header>
      {!collapsed && (
        <div className="content">
          {!node && <div className="muted">Select a node to see its items.</div>}
          {node && !current && (
            <div className="muted">{run.nodes[node.id]?.status === "skipped" ? "This node was skipped: no items reached it." : "Run the workflow to see this node's items."}</div>
          )}
          {node && current && current.items.length === 0 && <div className="muted">No items.</div>}
          {node && current && current.items.length > 0 && view === "table" && <ItemsTable items={current.items} />}
          {node && current && current.items.length > 0 && view === "files" && <FilesView items={current.items} />}
          {node && current && current.items.length > 0 && view === "json" && (
            <pre className="json" data-testid="items-json">
              {JSON.stringify(
                current.items.slice(0, ROWS).map((i) => (i.error ? { json: i.json, error: i.error.message } : i.binary ? { json: i.json, binary: i.binary } : i.json)),
                null,
                2,
              )}
            </pre>
          )}
          {node && data?.error && <div className="error-text">Error: {data.error.message}</div>}
          {node && <StreamedAnswers state={run.nodes[node.id]} />}
          {called.length > 0 && (
            <div className="called-runs" data-testid="called-runs">
              <span className="muted">Called runs:</span>
              {called.slice(0, 50).map((c, i) => (
                <button key={c.id} onClick={() => onOpenExecution?.(c.id)} title={c.error?.message} data-testid="open-called-run">
                  <span className={`status-dot ${c.status}`} /> {called.length > 1 ? `#${i + 1} ` : ""}
                  {c.workflowName} ({c.status})
                </button>
              ))}
              {called.length > 50 && <span className="muted">and {called.length - 50} more</span>}
            </div>
          )}
        </div>
      )}
    </section>
  );
}
