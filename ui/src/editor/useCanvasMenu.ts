// The canvas's context menu: for a node, a connection, or the empty canvas.
import { useReactFlow } from "@xyflow/react";
import { useCallback, useState } from "react";
import { NOTE_COLORS } from "../canvas/StickyNoteCard";
import type { MenuItem } from "../components/ContextMenu";
import type { NodeDescriptor } from "../gen/NodeDescriptor";
import type { Workflow } from "../gen/Workflow";
import type { Store } from "../lib/store";
import { pick } from "../components/dialogs";
import { toast } from "../components/toasts";
import { connectOptions, descriptorKey, type Position } from "./model";
import * as S from "./store";
import { readClipboard, writeClipboard } from "./useEditActions";

interface Options {
  store: Store<S.EditorState>;
  workflow: Workflow;
  descriptors: NodeDescriptor[];
  readOnly: boolean;
  update: (f: (s: S.EditorState) => S.EditorState) => void;
  openPanel: (id: string) => void;
  startRun: (untilNode?: string, fromNode?: string) => Promise<void>;
  rename: (id: string) => Promise<void>;
  copy: (cut: boolean) => string | null;
  pasteText: (text: string) => void;
  addAt: (descriptor: NodeDescriptor, position: Position) => void;
  breakpoints: string[];
  toggleBreakpoints: (nodeIds: string[]) => void;
}

export interface CanvasMenu {
  x: number;
  y: number;
  items: MenuItem[];
}

export function useCanvasMenu(o: Options) {
  const flow = useReactFlow();
  const [menu, setMenu] = useState<CanvasMenu | null>(null);
  const { store, workflow, descriptors, readOnly, update, openPanel, startRun, rename, copy, pasteText, addAt, breakpoints, toggleBreakpoints } = o;
  // Wiring without a pointer: the node's outputs to the other nodes' inputs, from a list.
  const connectFrom = useCallback(
    async (nodeId: string) => {
      const map = new Map(descriptors.map((d) => [descriptorKey(d.type, d.version), d]));
      const options = connectOptions(store.get().workflow, map, nodeId);
      const name = store.get().workflow.nodes.find((n) => n.id === nodeId)?.name ?? nodeId;
      if (options.length === 0) {
        toast(`“${name}” cannot be connected to any other node (no free input, or the wire would close a loop).`);
        return;
      }
      const chosen = await pick(`Connect “${name}” to`, "Choose the node (and port) the wire goes to.", options.map((o, i) => ({ value: String(i), label: o.label })), "Connect");
      if (chosen !== null) update((st) => S.connect(st, options[Number(chosen)].connection));
    },
    [descriptors, store, update],
  );
  const showMenu = useCallback(
    ({ x, y, nodeId, noteId, connectionId: edgeId }: { x: number; y: number; nodeId?: string; noteId?: string; connectionId?: string }) => {
      const at = flow.screenToFlowPosition({ x, y });
      let items: MenuItem[];
      if (noteId) {
        const note = workflow.notes?.find((n) => n.id === noteId);
        items = [
          ...NOTE_COLORS.map((color) => ({
            label: `${note?.color === color ? "✓ " : ""}Colour: ${color}`,
            action: () => update((st) => S.updateNote(st, noteId, { color })),
            disabled: readOnly,
          })),
          {
            label: "Delete note",
            action: () => update((st) => S.deleteSelection(S.select(st, { nodes: [], connections: [], notes: [noteId] }))),
            danger: true,
            disabled: readOnly,
            separatorBefore: true,
          },
        ];
      } else if (nodeId) {
        const s = store.get();
        const targets = s.selection.nodes.includes(nodeId) ? s.selection.nodes : [nodeId];
        if (!s.selection.nodes.includes(nodeId)) update((st) => S.select(st, { nodes: [nodeId], connections: [] }));
        const node = workflow.nodes.find((n) => n.id === nodeId);
        items = [
          { label: "Open", action: () => openPanel(nodeId) },
          { label: "Connect to…", action: () => void connectFrom(nodeId), disabled: readOnly || targets.length > 1 },
          { label: "Run up to here", action: () => void startRun(nodeId), disabled: readOnly },
          { label: "Run from here", action: () => void startRun(undefined, nodeId), disabled: readOnly },
          {
            label: targets.every((id) => breakpoints.includes(id)) ? "Remove breakpoint" : "Add breakpoint",
            action: () => toggleBreakpoints(targets),
            disabled: readOnly,
          },
          { label: "Rename…", action: () => void rename(nodeId), disabled: readOnly || targets.length > 1 },
          { label: "Duplicate", action: () => update((st) => S.duplicate(st, targets)), disabled: readOnly },
          {
            label: node?.settings.disabled ? "Enable" : "Disable",
            action: () => update((st) => S.toggleDisabled(st, targets)),
            disabled: readOnly,
          },
          { label: "Copy", action: () => writeClipboard(copy(false)) },
          {
            label: targets.length > 1 ? `Delete ${targets.length} nodes` : "Delete",
            action: () => update((st) => S.deleteSelection(S.select(st, { nodes: targets, connections: [] }))),
            danger: true,
            disabled: readOnly,
            separatorBefore: true,
          },
        ];
      } else if (edgeId) {
        items = [
          {
            label: "Delete connection",
            action: () => update((st) => S.deleteSelection(S.select(st, { nodes: [], connections: [edgeId] }))),
            danger: true,
            disabled: readOnly,
          },
        ];
      } else {
        items = [
          ...descriptors
            .filter((d) => d.group !== "trigger" || !workflow.nodes.some((n) => n.type === d.type))
            .slice(0, 40)
            .map((d, i) => ({ label: `Add ${d.displayName}`, action: () => addAt(d, [at.x, at.y] as Position), disabled: readOnly, separatorBefore: i === 0 ? false : undefined })),
          { label: "Add sticky note", action: () => update((st) => S.addNote(st, [at.x, at.y])), disabled: readOnly, separatorBefore: true },
          { label: "Paste", action: () => void readClipboard().then((t) => t && pasteText(t)), disabled: readOnly },
          { label: "Tidy up", action: () => update(S.autoLayout), disabled: readOnly },
          { label: "Fit view", action: () => void flow.fitView({ padding: 0.2 }) },
        ];
      }
      setMenu({ x, y, items });
    },
    [flow, store, update, workflow.nodes, workflow.notes, openPanel, startRun, readOnly, rename, copy, descriptors, addAt, pasteText, breakpoints, toggleBreakpoints, connectFrom],
  );
  const closeMenu = useCallback(() => setMenu(null), []);
  return { menu, showMenu, closeMenu };
}
