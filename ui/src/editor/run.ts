// What the canvas shows about a run: each node's live state and its data, built from API
// events while a run goes, or from a stored execution when looking at the history.
import type { AgentEntry } from "../gen/AgentEntry";
import type { ApiEvent } from "../gen/ApiEvent";
import type { Execution } from "../gen/Execution";
import type { Item } from "../gen/Item";
import type { NodeError } from "../gen/NodeError";
import type { NodeRunData } from "../gen/NodeRunData";
import type { OutputCount } from "../gen/OutputCount";
import type { OutputData } from "../gen/OutputData";
import type { RunStatus } from "../gen/RunStatus";
import type { Workflow } from "../gen/Workflow";
import { MAIN } from "./model";

export type NodeStatus = "waiting" | "paused" | "running" | "success" | "error" | "skipped" | "disabled" | "pinned" | "reused";

export interface NodeState {
  status: NodeStatus;
  itemsIn?: number;
  outputs?: OutputCount[];
  durationMs?: number;
  message?: string;
  progress?: { done: number; total: number; etaMs?: number };
  /** The latest retry: the try about to start, of how many, after how long, and why. */
  retry?: { attempt: number; maxTries: number; delayMs: number; itemIndex?: number; message: string; retries: number };
  /** A model's answers as they stream in, by item index (the last {@link STREAM_KEEP}
   * characters of each); `latest` is the item that streamed last. */
  streamed?: { byItem: Record<number, string>; latest: number };
  /** What the node's model calls used so far. */
  usage?: { model: string; tokensIn: number; tokensOut: number; calls: number };
  /** An AI agent's live transcript, by item index (the last {@link TRANSCRIPT_KEEP} entries). */
  transcript?: Record<number, AgentEntry[]>;
}

/** How many transcript entries the view keeps per item. */
export const TRANSCRIPT_KEEP = 200;

/** How much of a streamed answer the view keeps per item. */
export const STREAM_KEEP = 4000;

export interface RunView {
  executionId: string | null;
  workflowId: string | null;
  running: boolean;
  status: RunStatus | null;
  error: NodeError | null;
  durationMs: number | null;
  nodes: Record<string, NodeState>;
  data: Record<string, NodeRunData>;
  /** Set when the view shows a stored execution rather than a live run. */
  fromHistory: { startedAt: string } | null;
  /** The node a live run is paused before (a breakpoint, or after a step), with the items
   * about to go in. */
  paused: { nodeId: string; nodeName: string; itemsIn: number; inputs: OutputData[]; stepping: boolean } | null;
}

export function emptyRun(): RunView {
  return { executionId: null, workflowId: null, running: false, status: null, error: null, durationMs: null, nodes: {}, data: {}, fromHistory: null, paused: null };
}

/** Updates the view with an event for `workflowId`; events of other workflows are ignored. */
export function applyEvent(view: RunView, workflowId: string, event: ApiEvent): RunView {
  if (event.kind === "nodeData") {
    if (event.executionId !== view.executionId) return view;
    return { ...view, data: { ...view.data, [event.data.nodeId]: event.data } };
  }
  if (event.kind !== "run") return view;
  const e = event.event;
  if (e.workflowId !== workflowId) return view;
  if (e.type === "runStarted") {
    const nodes: Record<string, NodeState> = {};
    for (const id of e.nodeIds) nodes[id] = { status: "waiting" };
    return { ...emptyRun(), executionId: e.executionId, workflowId, running: true, nodes };
  }
  if (e.executionId !== view.executionId) return view;
  const setNode = (id: string, state: NodeState) => ({ ...view, nodes: { ...view.nodes, [id]: state } });
  switch (e.type) {
    case "nodeStarted":
      return setNode(e.nodeId, { status: "running", itemsIn: e.itemsIn });
    case "nodePaused":
      return {
        ...setNode(e.nodeId, { status: "paused", itemsIn: e.itemsIn }),
        paused: { nodeId: e.nodeId, nodeName: e.nodeName, itemsIn: e.itemsIn, inputs: e.inputs, stepping: e.stepping },
      };
    case "runResumed":
      return { ...setNode(e.nodeId, { status: "waiting" }), paused: null };
    case "nodeProgress":
      return setNode(e.nodeId, { ...view.nodes[e.nodeId], status: "running", progress: { done: e.done, total: e.total, etaMs: e.etaMs } });
    case "nodeRetrying": {
      const before = view.nodes[e.nodeId];
      return setNode(e.nodeId, {
        ...before,
        status: "running",
        retry: { attempt: e.attempt, maxTries: e.maxTries, delayMs: e.delayMs, itemIndex: e.itemIndex, message: e.error.message, retries: (before?.retry?.retries ?? 0) + 1 },
      });
    }
    case "nodeStreamed": {
      const before = view.nodes[e.nodeId] ?? { status: "running" };
      const byItem = { ...before.streamed?.byItem };
      byItem[e.itemIndex] = ((e.fresh ? "" : byItem[e.itemIndex] ?? "") + e.text).slice(-STREAM_KEEP);
      return setNode(e.nodeId, { ...before, streamed: { byItem, latest: e.itemIndex } });
    }
    case "agentStep": {
      const before = view.nodes[e.nodeId] ?? { status: "running" };
      const entries = [...(before.transcript?.[e.itemIndex] ?? []), e.entry].slice(-TRANSCRIPT_KEEP);
      return setNode(e.nodeId, { ...before, transcript: { ...before.transcript, [e.itemIndex]: entries } });
    }
    case "modelUsage": {
      const before = view.nodes[e.nodeId] ?? { status: "running" };
      const u = before.usage;
      return setNode(e.nodeId, {
        ...before,
        usage: { model: e.model, tokensIn: (u?.tokensIn ?? 0) + e.tokensIn, tokensOut: (u?.tokensOut ?? 0) + e.tokensOut, calls: (u?.calls ?? 0) + 1 },
      });
    }
    case "nodeFinished": {
      const before = view.nodes[e.nodeId];
      return setNode(e.nodeId, {
        status: e.status,
        itemsIn: e.itemsIn,
        outputs: e.outputs,
        durationMs: e.durationMs,
        message: e.status === "error" ? view.data[e.nodeId]?.error?.message : undefined,
        retry: before?.retry,
        usage: before?.usage,
      });
    }
    case "nodeFailed": {
      const before = view.nodes[e.nodeId];
      // A failed answer stays visible: what came in before it broke off.
      return setNode(e.nodeId, { status: "error", message: e.error.message, durationMs: e.durationMs, retry: before?.retry, usage: before?.usage, streamed: before?.streamed, transcript: before?.transcript });
    }
    case "runFinished": {
      // Nodes that never started stay visible as waiting only while the run goes.
      const nodes = Object.fromEntries(Object.entries(view.nodes).filter(([, s]) => s.status !== "waiting"));
      return { ...view, running: false, status: e.status, error: e.error ?? null, durationMs: e.durationMs, nodes, paused: null };
    }
  }
  return view;
}

/** A stored execution as a (finished) run view. */
export function fromExecution(execution: Execution): RunView {
  const nodes: Record<string, NodeState> = {};
  const data: Record<string, NodeRunData> = {};
  for (const d of execution.nodes) {
    data[d.nodeId] = d;
    nodes[d.nodeId] = {
      status: d.status,
      itemsIn: d.itemsIn,
      outputs: d.outputs.map((o) => ({ name: o.name, items: o.total })),
      durationMs: d.durationMs,
      message: d.error?.message,
    };
  }
  const s = execution.summary;
  return {
    executionId: s.id,
    workflowId: s.workflowId,
    running: s.status === "running",
    status: s.status,
    error: s.error ?? null,
    durationMs: s.durationMs ?? null,
    nodes,
    data,
    fromHistory: { startedAt: s.startedAt },
    paused: null,
  };
}

/** The items a node received on each input, rebuilt from its sources' stored outputs; for
 * the node a run is paused before, the items waiting to go in. */
export function inputItems(workflow: Workflow, view: RunView, nodeId: string): { input: string; items: Item[]; total: number; truncated: boolean }[] {
  if (view.paused?.nodeId === nodeId) return view.paused.inputs.map((i) => ({ input: i.name, items: i.items, total: i.total, truncated: i.truncated }));
  const byInput = new Map<string, { items: Item[]; truncated: boolean }>();
  for (const c of workflow.connections) {
    if (c.to.node !== nodeId) continue;
    const source = view.data[c.from.node];
    const output = source?.outputs.find((o) => o.name === c.from.output);
    if (!output) continue;
    const entry = byInput.get(c.to.input) ?? { items: [], truncated: false };
    entry.items.push(...output.items);
    entry.truncated ||= output.truncated;
    byInput.set(c.to.input, entry);
  }
  return [...byInput.entries()].map(([input, v]) => ({ input, total: v.items.length, ...v }));
}

/** Total items a node emitted, for its badge. */
export function emitted(state: NodeState | undefined): number | null {
  if (!state?.outputs) return null;
  return state.outputs.reduce((sum, o) => sum + o.items, 0);
}

export function mainOutput(data: NodeRunData | undefined) {
  return data?.outputs.find((o) => o.name === MAIN) ?? data?.outputs[0];
}
