// A node on the canvas: icon, name, type, its named ports, and its live run state.
import { Handle, type Node as FlowNode, type NodeProps, Position } from "@xyflow/react";
import { memo } from "react";
import type { Node } from "../gen/Node";
import type { NodeDescriptor } from "../gen/NodeDescriptor";
import type { ValidationIssue } from "../gen/ValidationIssue";
import { ERROR_OUTPUT, MAIN } from "../editor/model";
import { emitted, type NodeState } from "../editor/run";
import { NodeIcon } from "./icons";

export interface NodeCardData extends Record<string, unknown> {
  node: Node;
  descriptor: NodeDescriptor | undefined;
  state: NodeState | undefined;
  issues: ValidationIssue[];
  /** Added, changed or moved since the version being compared with. */
  mark?: NodeMark;
  inputs: string[];
  outputs: string[];
  pinned: boolean;
  /** A run started here pauses before this node. */
  breakpoint?: boolean;
}

export type NodeCardNode = FlowNode<NodeCardData, "switchyard">;

function plural(n: number, word: string) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function Badge({ state }: { state: NodeState | undefined }) {
  if (!state) return null;
  switch (state.status) {
    case "waiting":
      return <div className="badge muted">waiting</div>;
    case "paused":
      return (
        <div className="badge paused" data-testid="node-paused">
          paused · {plural(state.itemsIn ?? 0, "item")} in
        </div>
      );
    case "running": {
      const p = state.progress;
      return (
        <>
          <div className="badge running">
            running{p ? ` · ${p.done}/${p.total}` : "…"}
            {p?.etaMs !== undefined && p.etaMs !== null && ` · ${Math.ceil(p.etaMs / 1000)} s left`}
          </div>
          {p && (
            <div className="progress">
              <div style={{ width: `${(100 * p.done) / Math.max(1, p.total)}%` }} />
            </div>
          )}
          {state.retry && (
            <div className="badge retrying" data-testid="node-retry" title={state.retry.message}>
              ↻ {state.retry.itemIndex !== undefined ? `item ${state.retry.itemIndex}: ` : ""}try {state.retry.attempt}/{state.retry.maxTries} in {(state.retry.delayMs / 1000).toFixed(1)} s
            </div>
          )}
          <Streamed state={state} />
        </>
      );
    }
    case "success":
    case "pinned":
    case "reused":
    case "disabled": {
      const count = emitted(state) ?? 0;
      const label = state.status === "success" ? "✓" : state.status;
      return (
        <div className={`badge ${state.status === "success" ? "success" : "muted"}`} data-testid="node-badge">
          {label} {plural(count, "item")}
          {state.durationMs !== undefined && state.status === "success" && <span className="muted">· {state.durationMs} ms</span>}
          {state.retry && <span className="muted"> · {plural(state.retry.retries, "retry").replace("retrys", "retries")}</span>}
          {state.usage && (
            <span className="muted" data-testid="node-tokens" title={`${state.usage.model}: ${plural(state.usage.calls, "call")}`}>
              {" "}· {state.usage.tokensIn + state.usage.tokensOut} tokens
            </span>
          )}
        </div>
      );
    }
    case "skipped":
      return <div className="badge muted">skipped (no items)</div>;
    case "error":
      return (
        <>
          <div className="badge error" data-testid="node-badge" title={state.message}>
            ✗ <span className="message">{state.message ?? "failed"}</span>
          </div>
          <Streamed state={state} />
        </>
      );
  }
}

/** What an agent does now (its last tool call or result), or the end of the answer a model
 * is writing, while it runs. */
function Streamed({ state }: { state: NodeState }) {
  const s = state.streamed;
  const latest = s?.latest ?? 0;
  const last = state.transcript?.[latest]?.at(-1);
  // Agents of an orchestration that answer at once do not stream: their turns show instead.
  if (last && (last.role === "call" || last.role === "result" || (last.agent && !s))) {
    const who = last.agent ? `${last.agent} ` : "";
    const what =
      last.role === "call"
        ? `→ ${last.tool}(${last.arguments ?? ""})`
        : last.role === "result"
          ? `${last.error ? "✗" : "←"} ${last.tool}: ${last.content}`
          : `${last.role === "user" ? "asked" : "answered"}: ${last.content}`;
    const text = who + what;
    return (
      <div className="streamed" data-testid="node-agent-step">
        {text.slice(0, 160)}
      </div>
    );
  }
  if (!s) return null;
  const text = s.byItem[s.latest] ?? "";
  return (
    <div className="streamed" data-testid="node-streamed" aria-live="polite">
      {Object.keys(s.byItem).length > 1 && <span className="muted">item {s.latest}: </span>}
      {text.slice(-160) || "…"}
    </div>
  );
}

function ports(names: string[], type: "source" | "target") {
  const side = type === "source" ? Position.Right : Position.Left;
  return names.map((name, i) => {
    const top = `${((i + 1) * 100) / (names.length + 1)}%`;
    const showLabel = names.length > 1 || name !== MAIN;
    return (
      <div key={`${type}-${name}`}>
        <Handle
          id={name}
          type={type}
          position={side}
          style={{ top }}
          className={name === ERROR_OUTPUT && type === "source" ? "error-handle" : ""}
          data-testid={`${type === "source" ? "out" : "in"}-${name}`}
        />
        {showLabel && (
          <span className={`handle-label ${type === "source" ? "out" : "in"}`} style={{ top }}>
            {name}
          </span>
        )}
      </div>
    );
  });
}

/** How a node differs from the version it is compared with ("removed": a node of the older
 * version drawn where it stood). */
export type NodeMark = "added" | "changed" | "moved" | "removed";

export const NodeCard = memo(function NodeCard({ data, selected }: NodeProps<NodeCardNode>) {
  const { node, descriptor, state, issues } = data;
  const group = descriptor?.group ?? "action";
  const classes = [
    "node-card",
    selected ? "selected" : "",
    node.settings.disabled ? "disabled" : "",
    state ? `status-${state.status}` : "",
    issues.length ? "has-issues" : "",
    data.mark ? `mark-${data.mark}` : "",
  ];
  return (
    <div className={classes.join(" ")} data-testid={`node-${node.name}`} data-status={state?.status ?? "idle"} data-mark={data.mark}>
      {ports(data.inputs, "target")}
      {data.breakpoint && <span className="breakpoint" title="Breakpoint: a run started here pauses before this node (F9)" data-testid="breakpoint" />}
      <div className="head">
        <div className="icon" style={{ background: "var(--panel-2)" }}>
          <NodeIcon name={descriptor?.icon ?? ""} group={group} />
        </div>
        <div style={{ minWidth: 0 }}>
          <div className="name">{node.name}</div>
          <div className="type">{descriptor?.displayName ?? `unknown type ${node.type}`}</div>
        </div>
      </div>
      <Badge state={state} />
      {node.settings.notes.trim() !== "" && (
        <div className="node-notes" title={node.settings.notes} data-testid="node-notes">
          {node.settings.notes.length > 120 ? `${node.settings.notes.slice(0, 119)}…` : node.settings.notes}
        </div>
      )}
      {issues.length > 0 && (
        <div className="issues" title={issues.map((i) => i.message).join("\n")}>
          ⚠ {issues[0].message}
          {issues.length > 1 && ` (+${issues.length - 1})`}
        </div>
      )}
      {data.pinned && (
        <span className="pin" title="Pinned data: this node emits its pinned items instead of running">
          📌
        </span>
      )}
      {ports(data.outputs, "source")}
    </div>
  );
});
