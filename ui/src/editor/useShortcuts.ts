// The editor's keyboard shortcuts and the clipboard events (copy, cut, paste of nodes).
// HelpOverlay lists the shortcuts.
import { useReactFlow } from "@xyflow/react";
import { type RefObject, useEffect, useLayoutEffect, useRef } from "react";
import type { Workflow } from "../gen/Workflow";
import * as S from "./store";

function isTyping(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el) return false;
  return el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable;
}

interface Options {
  workflow: Workflow;
  selectedIds: string[];
  readOnly: boolean;
  /** A dialog or menu is open: only saving and running stay on the keyboard. */
  overlayOpen: boolean;
  sideOpen: boolean;
  paletteSearch: RefObject<HTMLInputElement | null>;
  update: (f: (s: S.EditorState) => S.EditorState) => void;
  save: () => Promise<boolean>;
  startRun: () => Promise<void>;
  rename: (id: string) => Promise<void>;
  openPanel: (id: string) => void;
  closeSide: () => void;
  showHelp: () => void;
  copy: (cut: boolean) => string | null;
  pasteText: (text: string) => void;
  toggleBreakpoints: (nodeIds: string[]) => void;
  /** Opens a node's context menu from the keyboard (the menu key, Shift+F10). */
  nodeMenu: (id: string) => void;
  /** A run is paused at a breakpoint: F8 continues, F10 steps. */
  paused: boolean;
  debugRun: (action: "continue" | "step") => void;
  /** Adds a sticky note in the middle of the canvas (Shift+S). */
  addNote: () => void;
}

export function useShortcuts(options: Options) {
  const flow = useReactFlow();
  // The listeners are added once and always see the latest options.
  const latest = useRef(options);
  useLayoutEffect(() => {
    latest.current = options;
  });
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const o = latest.current;
      const { update, readOnly, selectedIds } = o;
      const mod = e.ctrlKey || e.metaKey;
      const key = e.key.toLowerCase();
      if (mod && key === "s") {
        e.preventDefault();
        void o.save();
        return;
      }
      if (mod && e.key === "Enter") {
        e.preventDefault();
        void o.startRun();
        return;
      }
      if (o.overlayOpen) return;
      if (e.key === "Escape" && o.sideOpen) {
        // Escape closes the side panel, even from one of its fields.
        (document.activeElement as HTMLElement | null)?.blur();
        o.closeSide();
        return;
      }
      if (isTyping(e.target)) return;
      if (mod && key === "z" && !e.shiftKey) {
        e.preventDefault();
        if (!readOnly) update(S.undo);
      } else if ((mod && key === "z" && e.shiftKey) || (mod && key === "y")) {
        e.preventDefault();
        if (!readOnly) update(S.redo);
      } else if (mod && key === "a") {
        e.preventDefault();
        update((s) => S.select(s, { nodes: o.workflow.nodes.map((n) => n.id), connections: [] }));
      } else if (mod && key === "d") {
        e.preventDefault();
        if (!readOnly && selectedIds.length) update((s) => S.duplicate(s, selectedIds));
      } else if ((e.key === "Delete" || e.key === "Backspace") && !readOnly) {
        e.preventDefault();
        update(S.deleteSelection);
      } else if ((e.key === "F8" || e.key === "F10") && o.paused) {
        e.preventDefault();
        o.debugRun(e.key === "F8" ? "continue" : "step");
      } else if (e.shiftKey && !mod && !e.altKey && key === "s" && !readOnly) {
        e.preventDefault();
        o.addNote();
      } else if (e.key === "F9" && selectedIds.length > 0 && !readOnly) {
        e.preventDefault();
        o.toggleBreakpoints(selectedIds);
      } else if ((e.key === "ContextMenu" || (e.shiftKey && e.key === "F10")) && selectedIds.length === 1) {
        e.preventDefault();
        o.nodeMenu(selectedIds[0]);
      } else if (e.key === "F2" && selectedIds.length === 1 && !readOnly) {
        e.preventDefault();
        void o.rename(selectedIds[0]);
      } else if (e.key === "Enter" && selectedIds.length === 1) {
        e.preventDefault();
        o.openPanel(selectedIds[0]);
      } else if (e.altKey && key === "l" && !readOnly) {
        e.preventDefault();
        update(S.autoLayout);
        requestAnimationFrame(() => flow.fitView({ padding: 0.2, duration: 200 }));
      } else if (e.altKey && key === "f") {
        e.preventDefault();
        void flow.fitView({ padding: 0.2, duration: 200 });
      } else if (e.key === "/") {
        e.preventDefault();
        o.paletteSearch.current?.focus();
      } else if (e.key === "?") {
        e.preventDefault();
        o.showHelp();
      } else if (e.key === "Escape") {
        o.closeSide();
        update((s) => S.select(s, { nodes: [], connections: [] }));
      }
    };
    const onCopy = (e: ClipboardEvent) => {
      if (isTyping(e.target) || !e.clipboardData) return;
      const text = latest.current.copy(e.type === "cut");
      if (text !== null) {
        e.clipboardData.setData("text/plain", text);
        e.preventDefault();
      }
    };
    const onPaste = (e: ClipboardEvent) => {
      if (isTyping(e.target) || !e.clipboardData) return;
      const text = e.clipboardData.getData("text/plain");
      if (text) {
        e.preventDefault();
        latest.current.pasteText(text);
      }
    };
    window.addEventListener("keydown", onKey);
    document.addEventListener("copy", onCopy);
    document.addEventListener("cut", onCopy);
    document.addEventListener("paste", onPaste);
    return () => {
      window.removeEventListener("keydown", onKey);
      document.removeEventListener("copy", onCopy);
      document.removeEventListener("cut", onCopy);
      document.removeEventListener("paste", onPaste);
    };
  }, [flow]);
}
