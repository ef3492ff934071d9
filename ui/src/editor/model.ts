// Pure operations on a workflow document. Every edit returns a new workflow; nothing is
// mutated, so undo/redo is a list of earlier documents.
import type { Connection } from "../gen/Connection";
import type { CredentialRef } from "../gen/CredentialRef";
import type { Node } from "../gen/Node";
import type { NodeDescriptor } from "../gen/NodeDescriptor";
import type { NodeSettings } from "../gen/NodeSettings";
import type { StickyNote } from "../gen/StickyNote";
import type { Workflow } from "../gen/Workflow";
import type { WorkflowSettings } from "../gen/WorkflowSettings";

export const MAIN = "main";
export const ERROR_OUTPUT = "error";

export type Position = [number, number];

/** A stable id for a connection (connections have none in the file). */
export function connectionId(c: Connection): string {
  return `${c.from.node}:${c.from.output}->${c.to.node}:${c.to.input}`;
}

export function defaultSettings(): NodeSettings {
  return { onError: "stop", disabled: false, notes: "" };
}

/** A node id not used in the workflow. */
export function freshNodeId(workflow: Workflow, taken: Set<string> = new Set()): string {
  const used = new Set([...workflow.nodes.map((n) => n.id), ...taken]);
  for (;;) {
    const id = `n${Math.random().toString(36).slice(2, 10)}`;
    if (!used.has(id)) return id;
  }
}

/** `base`, or `base 2`, `base 3`… whichever is free. */
export function uniqueName(base: string, used: Iterable<string>): string {
  const taken = new Set(used);
  const stem = base.replace(/ \d+$/, "");
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) {
    const candidate = `${stem} ${i}`;
    if (!taken.has(candidate)) return candidate;
  }
}

export function addNode(workflow: Workflow, descriptor: NodeDescriptor, position: Position, id?: string): { workflow: Workflow; node: Node } {
  const node: Node = {
    id: id ?? freshNodeId(workflow),
    name: uniqueName(descriptor.displayName, workflow.nodes.map((n) => n.name)),
    type: descriptor.type,
    version: descriptor.version,
    position: [Math.round(position[0]), Math.round(position[1])],
    parameters: {},
    settings: defaultSettings(),
  };
  return { workflow: { ...workflow, nodes: [...workflow.nodes, node] }, node };
}

export function updateNode(workflow: Workflow, id: string, change: (node: Node) => Node): Workflow {
  return { ...workflow, nodes: workflow.nodes.map((n) => (n.id === id ? change(n) : n)) };
}

export function moveNodes(workflow: Workflow, positions: Record<string, Position>): Workflow {
  return {
    ...workflow,
    nodes: workflow.nodes.map((n) => {
      const p = positions[n.id];
      return p ? { ...n, position: [Math.round(p[0]), Math.round(p[1])] } : n;
    }),
  };
}

export function renameNode(workflow: Workflow, id: string, name: string): Workflow {
  const trimmed = name.trim();
  if (!trimmed) throw new Error("a node needs a name");
  if (workflow.nodes.some((n) => n.id !== id && n.name === trimmed)) {
    throw new Error(`another node is already called "${trimmed}"`);
  }
  return updateNode(workflow, id, (n) => ({ ...n, name: trimmed }));
}

export function setParameter(workflow: Workflow, id: string, name: string, value: unknown): Workflow {
  return updateNode(workflow, id, (n) => {
    const parameters = { ...n.parameters };
    if (value === undefined) delete parameters[name];
    else parameters[name] = value;
    return { ...n, parameters };
  });
}

export function setSettings(workflow: Workflow, id: string, settings: Partial<NodeSettings>): Workflow {
  return updateNode(workflow, id, (n) => ({ ...n, settings: { ...n.settings, ...settings } }));
}

/** Fills a node's credential slot with an account reference, or empties it (null). */
export function setCredential(workflow: Workflow, id: string, slot: string, ref: CredentialRef | null): Workflow {
  return updateNode(workflow, id, (n) => {
    const credentials = { ...(n.credentials ?? {}) };
    if (ref) credentials[slot] = ref;
    else delete credentials[slot];
    if (Object.keys(credentials).length > 0) return { ...n, credentials };
    const { credentials: _dropped, ...rest } = n;
    return rest;
  });
}

/** Changes workflow settings; `accounts` entries set to null are removed. */
export function setWorkflowSettings(workflow: Workflow, change: Partial<Omit<WorkflowSettings, "accounts">>, accounts?: Record<string, string | null>): Workflow {
  const settings: WorkflowSettings = { ...workflow.settings, ...change };
  if (accounts) {
    const merged: Record<string, string> = { ...(workflow.settings.accounts ?? {}) };
    for (const [type, label] of Object.entries(accounts)) {
      if (label === null) delete merged[type];
      else merged[type] = label;
    }
    if (Object.keys(merged).length > 0) settings.accounts = merged;
    else delete settings.accounts;
  }
  return { ...workflow, settings };
}

export function toggleDisabled(workflow: Workflow, ids: string[]): Workflow {
  const targets = workflow.nodes.filter((n) => ids.includes(n.id));
  const disable = targets.some((n) => !n.settings.disabled);
  let next = workflow;
  for (const n of targets) next = setSettings(next, n.id, { disabled: disable });
  return next;
}

/** Adds a connection unless the same one exists or it would wire a node to itself. */
export function connect(workflow: Workflow, connection: Connection): Workflow {
  if (connection.from.node === connection.to.node) return workflow;
  const id = connectionId(connection);
  if (workflow.connections.some((c) => connectionId(c) === id)) return workflow;
  return { ...workflow, connections: [...workflow.connections, connection] };
}

/** Removes nodes (with their connections) and connections by id. */
export function remove(workflow: Workflow, nodeIds: string[], connectionIds: string[] = []): Workflow {
  const nodes = new Set(nodeIds);
  const edges = new Set(connectionIds);
  const pinData = { ...(workflow.pinData ?? {}) };
  for (const id of nodes) delete pinData[id];
  return {
    ...workflow,
    nodes: workflow.nodes.filter((n) => !nodes.has(n.id)),
    connections: workflow.connections.filter(
      (c) => !nodes.has(c.from.node) && !nodes.has(c.to.node) && !edges.has(connectionId(c)),
    ),
    pinData,
  };
}

/** The outputs a node has, given its descriptor, parameters and settings (mirrors Rust). */
export function outputNames(descriptor: NodeDescriptor | undefined, node: Node): string[] {
  if (!descriptor) return [MAIN];
  const names = descriptor.outputs.map((p) => p.name);
  const dynamic = descriptor.dynamicOutputs;
  if (dynamic) {
    const entries = node.parameters[dynamic.listParameter];
    if (Array.isArray(entries)) {
      for (const entry of entries) {
        const name = (entry as Record<string, unknown>)?.[dynamic.field];
        if (typeof name === "string" && name && !names.includes(name)) names.push(name);
      }
    }
    if (dynamic.fallbackParameter) {
      const raw = node.parameters[dynamic.fallbackParameter];
      const fallbackDefault = descriptor.parameters.find((p) => p.name === dynamic.fallbackParameter)?.default;
      if ((raw ?? fallbackDefault) === true && !names.includes(dynamic.fallbackName)) names.push(dynamic.fallbackName);
    }
  }
  if (node.settings.onError === "errorOutput" && descriptor.inputs.length > 0) names.push(ERROR_OUTPUT);
  return names;
}

export function inputNames(descriptor: NodeDescriptor | undefined): string[] {
  return descriptor ? descriptor.inputs.map((p) => p.name) : [MAIN];
}

/** Drops connections whose ports no longer exist (e.g. after a switch rule was removed). */
export function pruneDanglingConnections(workflow: Workflow, descriptors: Map<string, NodeDescriptor>): Workflow {
  const byId = new Map(workflow.nodes.map((n) => [n.id, n]));
  const connections = workflow.connections.filter((c) => {
    const from = byId.get(c.from.node);
    const to = byId.get(c.to.node);
    if (!from || !to) return false;
    const fromOk = outputNames(descriptors.get(from.type), from).includes(c.from.output);
    const toOk = inputNames(descriptors.get(to.type)).includes(c.to.input);
    return fromOk && toOk;
  });
  return connections.length === workflow.connections.length ? workflow : { ...workflow, connections };
}

/** Whether adding `from → to` would close a cycle. */
export function wouldCycle(workflow: Workflow, from: string, to: string): boolean {
  const next = new Map<string, string[]>();
  for (const c of workflow.connections) next.set(c.from.node, [...(next.get(c.from.node) ?? []), c.to.node]);
  const stack = [to];
  const seen = new Set<string>();
  while (stack.length) {
    const n = stack.pop()!;
    if (n === from) return true;
    if (seen.has(n)) continue;
    seen.add(n);
    stack.push(...(next.get(n) ?? []));
  }
  return false;
}

/** The wires that may start at node `from` (each output to each input of every other node,
 * without cycles or repeats), labelled for a keyboard picker. */
export function connectOptions(
  workflow: Workflow,
  descriptors: Map<string, NodeDescriptor>,
  from: string,
): { label: string; connection: Connection }[] {
  const node = workflow.nodes.find((n) => n.id === from);
  if (!node) return [];
  const outputs = outputNames(descriptors.get(descriptorKey(node.type, node.version)), node);
  const existing = new Set(workflow.connections.map(connectionId));
  const out: { label: string; connection: Connection }[] = [];
  for (const target of workflow.nodes) {
    if (target.id === from || wouldCycle(workflow, from, target.id)) continue;
    const inputs = inputNames(descriptors.get(descriptorKey(target.type, target.version)));
    for (const output of outputs) {
      for (const input of inputs) {
        const connection: Connection = { from: { node: from, output }, to: { node: target.id, input } };
        if (existing.has(connectionId(connection))) continue;
        const label = `${output === MAIN ? "" : `${output} `}→ ${target.name}${input === MAIN ? "" : ` (input ${input})`}`;
        out.push({ label, connection });
      }
    }
  }
  return out;
}

export function descriptorKey(type: string, version: number): string {
  return `${type}@${version}`;
}

// Sticky notes. On the canvas their ids are prefixed, so they never clash with node ids.

export const NOTE_PREFIX = "note:";
export const NOTE_MIN_SIDE = 60;
export const NOTE_MAX_SIDE = 4000;

export function addNote(workflow: Workflow, position: Position, content = ""): { workflow: Workflow; note: StickyNote } {
  const notes = workflow.notes ?? [];
  let id = "";
  do id = `s${Math.random().toString(36).slice(2, 10)}`;
  while (notes.some((n) => n.id === id));
  const note: StickyNote = { id, content, position: [Math.round(position[0]), Math.round(position[1])], size: [260, 160], color: "yellow" };
  return { workflow: { ...workflow, notes: [...notes, note] }, note };
}

export function updateNote(workflow: Workflow, id: string, change: Partial<Omit<StickyNote, "id">>): Workflow {
  const clamp = (v: number) => Math.round(Math.min(NOTE_MAX_SIDE, Math.max(NOTE_MIN_SIDE, v)));
  return {
    ...workflow,
    notes: (workflow.notes ?? []).map((n) => {
      if (n.id !== id) return n;
      const next = { ...n, ...change };
      if (change.size) next.size = [clamp(change.size[0]), clamp(change.size[1])];
      if (change.position) next.position = [Math.round(change.position[0]), Math.round(change.position[1])];
      return next;
    }),
  };
}

export function removeNotes(workflow: Workflow, ids: string[]): Workflow {
  if (ids.length === 0) return workflow;
  const gone = new Set(ids);
  return { ...workflow, notes: (workflow.notes ?? []).filter((n) => !gone.has(n.id)) };
}

export function moveNotes(workflow: Workflow, positions: Record<string, Position>): Workflow {
  if (Object.keys(positions).length === 0) return workflow;
  return {
    ...workflow,
    notes: (workflow.notes ?? []).map((n) => {
      const p = positions[n.id];
      return p ? { ...n, position: [Math.round(p[0]), Math.round(p[1])] } : n;
    }),
  };
}
