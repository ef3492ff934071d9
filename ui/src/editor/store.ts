// The editor's state: the document, the selection, and undo/redo history. Pure functions
// over an immutable state, plus a tiny observable store for React.
import type { Connection } from "../gen/Connection";
import type { CredentialRef } from "../gen/CredentialRef";
import type { Item } from "../gen/Item";
import type { NodeDescriptor } from "../gen/NodeDescriptor";
import type { NodeSettings } from "../gen/NodeSettings";
import type { Workflow } from "../gen/Workflow";
import type { WorkflowSettings } from "../gen/WorkflowSettings";
import { type Fragment, pasteFragment } from "./clipboard";
import { layout } from "./layout";
import * as model from "./model";

export const HISTORY_LIMIT = 200;

export interface Selection {
  nodes: string[];
  connections: string[];
  /** Sticky notes (their ids in the file). */
  notes?: string[];
}

export interface EditorState {
  workflow: Workflow;
  selection: Selection;
  past: Workflow[];
  future: Workflow[];
  /** The document as last saved (or loaded); `dirty` compares against it. */
  saved: Workflow;
  /** The stored version the edits started from. */
  version: number | null;
  /** Consecutive edits with the same key (typing in one field) make one undo step. */
  lastEditKey: string | null;
}

export function initialState(workflow: Workflow, version: number | null): EditorState {
  return {
    workflow,
    selection: { nodes: [], connections: [] },
    past: [],
    future: [],
    saved: workflow,
    version,
    lastEditKey: null,
  };
}

export function isDirty(state: EditorState): boolean {
  return state.workflow !== state.saved && JSON.stringify(state.workflow) !== JSON.stringify(state.saved);
}

/** Applies an edit; `key` coalesces consecutive edits of one field into one undo step. */
export function edit(state: EditorState, next: Workflow, key: string | null = null): EditorState {
  if (next === state.workflow) return state;
  const coalesce = key !== null && key === state.lastEditKey;
  const past = coalesce ? state.past : [...state.past, state.workflow].slice(-HISTORY_LIMIT);
  return { ...state, workflow: next, past, future: [], lastEditKey: key };
}

export function undo(state: EditorState): EditorState {
  const previous = state.past[state.past.length - 1];
  if (!previous) return state;
  return {
    ...state,
    workflow: previous,
    past: state.past.slice(0, -1),
    future: [state.workflow, ...state.future],
    selection: keepExisting(state.selection, previous),
    lastEditKey: null,
  };
}

export function redo(state: EditorState): EditorState {
  const next = state.future[0];
  if (!next) return state;
  return {
    ...state,
    workflow: next,
    past: [...state.past, state.workflow],
    future: state.future.slice(1),
    selection: keepExisting(state.selection, next),
    lastEditKey: null,
  };
}

function keepExisting(selection: Selection, workflow: Workflow): Selection {
  const nodes = new Set(workflow.nodes.map((n) => n.id));
  const connections = new Set(workflow.connections.map(model.connectionId));
  const notes = new Set((workflow.notes ?? []).map((n) => n.id));
  return {
    nodes: selection.nodes.filter((id) => nodes.has(id)),
    connections: selection.connections.filter((id) => connections.has(id)),
    notes: (selection.notes ?? []).filter((id) => notes.has(id)),
  };
}

export function select(state: EditorState, selection: Selection): EditorState {
  return { ...state, selection, lastEditKey: null };
}

export function markSaved(state: EditorState, workflow: Workflow, version: number): EditorState {
  return { ...state, saved: workflow, version, workflow: state.workflow === workflow ? workflow : state.workflow };
}

// Edits as state → state functions, so the UI and the tests use the same code.

export function addNode(state: EditorState, descriptor: NodeDescriptor, position: model.Position): EditorState {
  const { workflow, node } = model.addNode(state.workflow, descriptor, position);
  return { ...edit(state, workflow), selection: { nodes: [node.id], connections: [] } };
}

/** Moves nodes and sticky notes (keys of notes carry `model.NOTE_PREFIX`) in one step. */
export function moveNodes(state: EditorState, positions: Record<string, model.Position>): EditorState {
  const nodes: Record<string, model.Position> = {};
  const notes: Record<string, model.Position> = {};
  for (const [id, p] of Object.entries(positions)) {
    if (id.startsWith(model.NOTE_PREFIX)) notes[id.slice(model.NOTE_PREFIX.length)] = p;
    else nodes[id] = p;
  }
  return edit(state, model.moveNotes(model.moveNodes(state.workflow, nodes), notes));
}

export function connect(state: EditorState, connection: Connection): EditorState {
  if (model.wouldCycle(state.workflow, connection.from.node, connection.to.node)) return state;
  return edit(state, model.connect(state.workflow, connection));
}

export function deleteSelection(state: EditorState): EditorState {
  const { nodes, connections, notes = [] } = state.selection;
  if (nodes.length === 0 && connections.length === 0 && notes.length === 0) return state;
  const next = edit(state, model.removeNotes(model.remove(state.workflow, nodes, connections), notes));
  return { ...next, selection: { nodes: [], connections: [], notes: [] } };
}

/** A new sticky note at `position`, selected. */
export function addNote(state: EditorState, position: model.Position): EditorState {
  const { workflow, note } = model.addNote(state.workflow, position);
  return { ...edit(state, workflow), selection: { nodes: [], connections: [], notes: [note.id] } };
}

/** Changes a note; typing in one note's text is one undo step. */
export function updateNote(state: EditorState, id: string, change: Parameters<typeof model.updateNote>[2]): EditorState {
  const key = change.content !== undefined ? `note:${id}:content` : null;
  return edit(state, model.updateNote(state.workflow, id, change), key);
}

export function renameNode(state: EditorState, id: string, name: string): EditorState {
  return edit(state, model.renameNode(state.workflow, id, name));
}

export function setParameter(
  state: EditorState,
  id: string,
  name: string,
  value: unknown,
  descriptors?: Map<string, NodeDescriptor>,
): EditorState {
  let next = model.setParameter(state.workflow, id, name, value);
  if (descriptors) next = model.pruneDanglingConnections(next, descriptors);
  return edit(state, next, `param:${id}:${name}`);
}

export function setSettings(
  state: EditorState,
  id: string,
  settings: Partial<NodeSettings>,
  descriptors?: Map<string, NodeDescriptor>,
): EditorState {
  let next = model.setSettings(state.workflow, id, settings);
  if (descriptors) next = model.pruneDanglingConnections(next, descriptors);
  const key = settings.notes !== undefined ? `notes:${id}` : null;
  return edit(state, next, key);
}

export function setCredential(state: EditorState, id: string, slot: string, ref: CredentialRef | null): EditorState {
  return edit(state, model.setCredential(state.workflow, id, slot, ref));
}

export function setWorkflowSettings(
  state: EditorState,
  change: Partial<Omit<WorkflowSettings, "accounts">>,
  accounts?: Record<string, string | null>,
): EditorState {
  const key = change.timeoutSeconds !== undefined ? "settings:timeout" : change.timezone !== undefined ? "settings:timezone" : null;
  return edit(state, model.setWorkflowSettings(state.workflow, change, accounts), key);
}

export function toggleDisabled(state: EditorState, ids: string[]): EditorState {
  return edit(state, model.toggleDisabled(state.workflow, ids));
}

export function paste(state: EditorState, fragment: Fragment, at?: model.Position): EditorState {
  const { workflow, ids } = pasteFragment(state.workflow, fragment, at);
  return { ...edit(state, workflow), selection: { nodes: ids, connections: [] } };
}

export function duplicate(state: EditorState, ids: string[]): EditorState {
  const set = new Set(ids);
  const fragment: Fragment = {
    nodes: state.workflow.nodes.filter((n) => set.has(n.id)),
    connections: state.workflow.connections.filter((c) => set.has(c.from.node) && set.has(c.to.node)),
  };
  return paste(state, fragment);
}

export function autoLayout(state: EditorState): EditorState {
  return edit(state, model.moveNodes(state.workflow, layout(state.workflow)));
}

export function setWorkflowName(state: EditorState, name: string): EditorState {
  return edit(state, { ...state.workflow, name }, "workflow:name");
}

/** Pins items on a node (it will emit them instead of running), or unpins with `null`. */
export function pin(state: EditorState, nodeId: string, items: Item[] | null): EditorState {
  const pinData = { ...(state.workflow.pinData ?? {}) };
  if (items) pinData[nodeId] = items;
  else delete pinData[nodeId];
  return edit(state, { ...state.workflow, pinData });
}
