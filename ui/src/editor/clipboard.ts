// Copy and paste as workflow-format JSON: what is copied is a valid workflow file holding the
// selected nodes and the wires between them, so it pastes into another workflow, into a text
// editor, or straight into `switchyard validate`.
import type { Node } from "../gen/Node";
import type { Workflow } from "../gen/Workflow";
import { defaultSettings, freshNodeId, uniqueName } from "./model";

export interface Fragment {
  nodes: Node[];
  connections: Workflow["connections"];
  pinData?: Workflow["pinData"];
}

/** The selected nodes as workflow-file text. */
export function copyText(workflow: Workflow, nodeIds: string[]): string {
  const ids = new Set(nodeIds);
  const nodes = workflow.nodes.filter((n) => ids.has(n.id));
  const connections = workflow.connections.filter((c) => ids.has(c.from.node) && ids.has(c.to.node));
  const pinData = Object.fromEntries(Object.entries(workflow.pinData ?? {}).filter(([id]) => ids.has(id)));
  const file: Record<string, unknown> = {
    switchyard: 1,
    id: "copied-nodes",
    name: `Copied from ${workflow.name}`,
    nodes,
    connections,
  };
  if (Object.keys(pinData).length) file.pinData = pinData;
  return JSON.stringify(file, null, 2);
}

export class PasteError extends Error {}

/** Reads clipboard text as a fragment: a workflow file, or a bare list of nodes. */
export function parseFragment(text: string): Fragment {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new PasteError(`the clipboard does not hold workflow JSON (${(e as Error).message})`);
  }
  const obj = (Array.isArray(value) ? { nodes: value } : value) as Record<string, unknown>;
  if (!obj || typeof obj !== "object" || !Array.isArray(obj.nodes)) {
    throw new PasteError("the clipboard JSON has no \"nodes\" list");
  }
  const nodes = obj.nodes.map((raw, i) => {
    const n = raw as Partial<Node>;
    if (typeof n?.id !== "string" || typeof n.type !== "string") {
      throw new PasteError(`nodes[${i}] needs an "id" and a "type"`);
    }
    return {
      id: n.id,
      name: typeof n.name === "string" && n.name ? n.name : n.type,
      type: n.type,
      version: typeof n.version === "number" ? n.version : 1,
      position: Array.isArray(n.position) && n.position.length === 2 ? n.position : [0, 0],
      parameters: n.parameters && typeof n.parameters === "object" ? n.parameters : {},
      credentials: n.credentials,
      settings: { ...defaultSettings(), ...(n.settings ?? {}) },
    } as Node;
  });
  const connections = Array.isArray(obj.connections) ? (obj.connections as Fragment["connections"]) : [];
  return { nodes, connections, pinData: obj.pinData as Fragment["pinData"] };
}

/**
 * Adds a fragment to a workflow with fresh ids and unique names, its top-left corner at
 * `at` (or offset from where it was). Returns the new workflow and the new node ids.
 */
export function pasteFragment(workflow: Workflow, fragment: Fragment, at?: [number, number]): { workflow: Workflow; ids: string[] } {
  if (fragment.nodes.length === 0) return { workflow, ids: [] };
  const minX = Math.min(...fragment.nodes.map((n) => n.position[0]));
  const minY = Math.min(...fragment.nodes.map((n) => n.position[1]));
  const [dx, dy] = at ? [at[0] - minX, at[1] - minY] : [40, 40];
  const idMap = new Map<string, string>();
  const names = workflow.nodes.map((n) => n.name);
  const taken = new Set<string>();
  const nodes = fragment.nodes.map((n) => {
    const id = freshNodeId(workflow, taken);
    taken.add(id);
    idMap.set(n.id, id);
    const name = uniqueName(n.name, names);
    names.push(name);
    return { ...n, id, name, position: [n.position[0] + dx, n.position[1] + dy] as [number, number] };
  });
  const connections = fragment.connections
    .filter((c) => idMap.has(c.from.node) && idMap.has(c.to.node))
    .map((c) => ({
      from: { node: idMap.get(c.from.node)!, output: c.from.output ?? "main" },
      to: { node: idMap.get(c.to.node)!, input: c.to.input ?? "main" },
    }));
  const pinData = { ...(workflow.pinData ?? {}) };
  for (const [oldId, items] of Object.entries(fragment.pinData ?? {})) {
    const id = idMap.get(oldId);
    if (id && items) pinData[id] = items;
  }
  return {
    workflow: { ...workflow, nodes: [...workflow.nodes, ...nodes], connections: [...workflow.connections, ...connections], pinData },
    ids: nodes.map((n) => n.id),
  };
}
