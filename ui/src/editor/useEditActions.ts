// What the user does to the document from the canvas, the palette, menus and shortcuts:
// copy, cut and paste, adding nodes, renaming, and exporting or importing files.
import { useReactFlow } from "@xyflow/react";
import { type RefObject, useCallback } from "react";
import { call, errorMessage } from "../api/client";
import { chooseOpenPath, chooseSavePath } from "../api/platform";
import { choose, prompt } from "../components/dialogs";
import { toast } from "../components/toasts";
import type { Execution } from "../gen/Execution";
import type { NodeDescriptor } from "../gen/NodeDescriptor";
import type { Store } from "../lib/store";
import { copyText, PasteError, parseFragment } from "./clipboard";
import type { Position } from "./model";
import * as S from "./store";

interface Options {
  store: Store<S.EditorState>;
  canvasRef: RefObject<HTMLDivElement | null>;
  /** A past run shown read-only, if any: copying copies from it, nothing edits. */
  viewing: Execution | null;
  save: () => Promise<boolean>;
  askToLeave: () => Promise<boolean>;
  onOpenOther: (id: string) => void;
}

export function useEditActions({ store, canvasRef, viewing, save, askToLeave, onOpenOther }: Options) {
  const flow = useReactFlow();
  const readOnly = viewing !== null;
  const copy = useCallback(
    (cut: boolean): string | null => {
      const s = store.get();
      if (s.selection.nodes.length === 0) return null;
      const text = copyText(viewing ? viewing.workflow : s.workflow, s.selection.nodes);
      if (cut && !viewing) store.set(S.deleteSelection);
      toast(`${cut ? "Cut" : "Copied"} ${s.selection.nodes.length} node${s.selection.nodes.length === 1 ? "" : "s"}`);
      return text;
    },
    [store, viewing],
  );
  const pasteText = useCallback(
    (text: string) => {
      if (readOnly) return;
      try {
        const fragment = parseFragment(text);
        const center = flow.screenToFlowPosition({ x: window.innerWidth / 2, y: window.innerHeight / 2 });
        store.set((s) => S.paste(s, fragment, [center.x, center.y]));
      } catch (e) {
        toast(e instanceof PasteError ? `Cannot paste: ${e.message}` : errorMessage(e), "error");
      }
    },
    [store, flow, readOnly],
  );
  const addAt = useCallback(
    (descriptor: NodeDescriptor, position: Position) => {
      if (readOnly) return;
      store.set((s) => S.addNode(s, descriptor, position));
    },
    [store, readOnly],
  );
  const addAtCenter = useCallback(
    (descriptor: NodeDescriptor) => {
      const rect = canvasRef.current?.getBoundingClientRect();
      const p = flow.screenToFlowPosition({ x: (rect?.left ?? 0) + (rect?.width ?? 800) / 2, y: (rect?.top ?? 0) + (rect?.height ?? 600) / 2 });
      addAt(descriptor, [p.x - 90, p.y - 30]);
    },
    [flow, addAt, canvasRef],
  );
  const dropFromPalette = useCallback(
    (descriptor: NodeDescriptor, x: number, y: number) => {
      const rect = canvasRef.current?.getBoundingClientRect();
      if (!rect || x < rect.left || x > rect.right || y < rect.top || y > rect.bottom) return;
      const p = flow.screenToFlowPosition({ x, y });
      addAt(descriptor, [p.x - 90, p.y - 30]);
    },
    [flow, addAt, canvasRef],
  );
  const rename = useCallback(
    async (id: string) => {
      const node = store.get().workflow.nodes.find((n) => n.id === id);
      if (!node) return;
      const name = await prompt("Rename node", node.name);
      if (name === null || name === node.name) return;
      try {
        store.set((s) => S.renameNode(s, id, name));
      } catch (e) {
        toast(errorMessage(e), "error");
      }
    },
    [store],
  );
  const exportFile = useCallback(async () => {
    if (S.isDirty(store.get()) && !(await save())) return;
    const wf = store.get().workflow;
    try {
      const preview = await call("workflow_export", { id: wf.id });
      // A workflow that calls saved workflows may take them along, as one bundle file.
      let withCalled = false;
      const bundle = await call("workflow_export", { id: wf.id, withCalled: true }).catch(() => null);
      if (bundle && (JSON.parse(bundle.text).workflows?.length ?? 0) > 1) {
        const choice = await choose("Export", `“${wf.name}” calls other saved workflows. Export them with it, as one bundle file?`, [
          { label: "With called workflows", value: "bundle", kind: "primary" },
          { label: "Only this workflow", value: "single" },
        ]);
        if (!choice) return;
        withCalled = choice === "bundle";
      }
      const path = await chooseSavePath(preview.fileName);
      if (!path) return;
      await call("workflow_export", { id: wf.id, path, withCalled });
      toast(`Exported to ${path}`, "success");
    } catch (e) {
      toast(errorMessage(e), "error");
    }
  }, [store, save]);
  const importFile = useCallback(async () => {
    const path = await chooseOpenPath();
    if (!path || !(await askToLeave())) return;
    try {
      const r = await call("workflow_import_file", { path });
      for (const note of r.notes) toast(note);
      toast(`Imported “${r.record.workflow.name}”`, "success");
      onOpenOther(r.record.workflow.id);
    } catch (e) {
      toast(errorMessage(e), "error");
    }
  }, [askToLeave, onOpenOther]);
  return { copy, pasteText, addAt, addAtCenter, dropFromPalette, rename, exportFile, importFile };
}

/** Writes text to the system clipboard (from a menu, where no clipboard event is at hand). */
export function writeClipboard(text: string | null) {
  if (text !== null) void navigator.clipboard?.writeText(text).catch(() => toast("The clipboard is not available", "error"));
}

/** Reads the system clipboard, or says to use the keyboard where that is refused. */
export async function readClipboard(): Promise<string | null> {
  try {
    return (await navigator.clipboard?.readText()) ?? null;
  } catch {
    toast("The clipboard cannot be read here: use Ctrl+V", "error");
    return null;
  }
}
