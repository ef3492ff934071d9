// The document being edited: its state, saving (with the conflict dialog), leaving with
// unsaved changes, the window title, and validation problems shown on the nodes.
import { useCallback, useEffect, useMemo, useState, useSyncExternalStore } from "react";
import { ApiFailure, call, errorMessage } from "../api/client";
import { guardWindowClose, setWindowTitle } from "../api/platform";
import { choose } from "../components/dialogs";
import { toast } from "../components/toasts";
import type { ValidationIssue } from "../gen/ValidationIssue";
import type { Store } from "../lib/store";
import * as S from "./store";

function issuesByNode(issues: ValidationIssue[]): Map<string, ValidationIssue[]> {
  const map = new Map<string, ValidationIssue[]>();
  for (const i of issues) {
    if (!i.nodeId) continue;
    map.set(i.nodeId, [...(map.get(i.nodeId) ?? []), i]);
  }
  return map;
}

export function useWorkflowDocument(
  store: Store<S.EditorState>,
  registerLeaveGuard: (guard: (() => Promise<boolean>) | null) => void,
) {
  const state = useSyncExternalStore(store.subscribe, store.get);
  const dirty = S.isDirty(state);
  const update = useCallback((f: (s: S.EditorState) => S.EditorState) => store.set(f), [store]);
  const [saving, setSaving] = useState(false);
  const [issues, setIssues] = useState<ValidationIssue[]>([]);

  // Validation problems, shown on the nodes they concern.
  useEffect(() => {
    const timer = setTimeout(() => {
      call("workflow_validate", { workflow: state.workflow })
        .then((r) => setIssues(r.issues))
        .catch(() => {});
    }, 300);
    return () => clearTimeout(timer);
  }, [state.workflow]);
  const issueMap = useMemo(() => issuesByNode(issues), [issues]);

  useEffect(() => {
    void setWindowTitle(`${dirty ? "• " : ""}${state.workflow.name} — Switchyard`);
  }, [dirty, state.workflow.name]);

  const save = useCallback(async (): Promise<boolean> => {
    const s = store.get();
    setSaving(true);
    try {
      const r = await call("workflow_save", { workflow: s.workflow, expectedVersion: s.version ?? undefined });
      store.set((cur) => S.markSaved(cur, s.workflow, r.record.version));
      setIssues(r.issues);
      toast(r.issues.length ? `Saved, with ${r.issues.length} problem${r.issues.length === 1 ? "" : "s"} to fix before it can run` : "Saved", r.issues.length ? "info" : "success");
      return true;
    } catch (e) {
      if (e instanceof ApiFailure && e.code === "conflict") {
        const choice = await choose("Changed elsewhere", `${e.message}`, [
          { label: "Cancel", value: "cancel" },
          { label: "Reload theirs", value: "reload" },
          { label: "Overwrite", value: "overwrite", kind: "danger" },
        ]);
        if (choice === "overwrite") {
          const r = await call("workflow_save", { workflow: s.workflow });
          store.set((cur) => S.markSaved(cur, s.workflow, r.record.version));
          return true;
        }
        if (choice === "reload") {
          const record = await call("workflow_get", { id: s.workflow.id });
          store.set(S.initialState(record.workflow, record.version));
        }
        return false;
      }
      toast(errorMessage(e), "error");
      return false;
    } finally {
      setSaving(false);
    }
  }, [store]);

  const askToLeave = useCallback(async (): Promise<boolean> => {
    if (!S.isDirty(store.get())) return true;
    const choice = await choose("Unsaved changes", `“${store.get().workflow.name}” has changes that are not saved.`, [
      { label: "Cancel", value: "cancel" },
      { label: "Discard", value: "discard", kind: "danger" },
      { label: "Save", value: "save", kind: "primary" },
    ]);
    if (choice === "save") return save();
    return choice === "discard";
  }, [store, save]);

  // Closing the window, or leaving for another workflow, asks first.
  useEffect(() => {
    let unlisten: (() => void) | null = null;
    void guardWindowClose(askToLeave).then((u) => (unlisten = u));
    registerLeaveGuard(askToLeave);
    return () => {
      unlisten?.();
      registerLeaveGuard(null);
    };
  }, [askToLeave, registerLeaveGuard]);

  return { state, update, dirty, saving, save, askToLeave, issues, setIssues, issueMap };
}
