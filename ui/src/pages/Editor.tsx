// The workflow editor: palette, canvas, node panel, inspector and history, with saving,
// running, undo/redo, clipboard and keyboard shortcuts.
import { ReactFlowProvider, useReactFlow } from "@xyflow/react";
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from "react";
import { ApiFailure, call, errorMessage } from "../api/client";
import { onApiEvent } from "../api/events";
import { chooseOpenPath, chooseSavePath, guardWindowClose, setWindowTitle } from "../api/platform";
import { Canvas } from "../canvas/Canvas";
import { Palette } from "../canvas/Palette";
import { ContextMenu, type MenuItem } from "../components/ContextMenu";
import { choose, prompt } from "../components/dialogs";
import { HelpOverlay } from "../components/HelpOverlay";
import { TrustDialog } from "../components/TrustDialog";
import { toast } from "../components/toasts";
import type { Execution } from "../gen/Execution";
import type { NodeDescriptor } from "../gen/NodeDescriptor";
import type { TrustReview } from "../gen/TrustReview";
import type { ValidationIssue } from "../gen/ValidationIssue";
import { copyText, PasteError, parseFragment } from "../editor/clipboard";
import { ActiveSwitch, TestListener } from "../editor/TriggerControls";
import { descriptorKey, type Position } from "../editor/model";
import { applyEvent, emptyRun, fromExecution, type RunView } from "../editor/run";
import * as S from "../editor/store";
import { marks } from "../marks";
import { History } from "../panels/History";
import { Inspector } from "../panels/Inspector";
import { NodePanel } from "../panels/NodePanel";
import { WorkflowSettingsPanel } from "../panels/WorkflowSettings";

interface Props {
  workflowId: string;
  /** A past run to show when the editor opens (from the dashboard). */
  initialExecution?: string;
  /** Open with the history showing failed runs only. */
  initialFailedRuns?: boolean;
  descriptors: NodeDescriptor[];
  onBack: () => void;
  /** Opens the Connections page. */
  onConnections: () => void;
  onOpenOther: (id: string) => void;
  /** Lets the app ask before leaving (dropping a file opens another workflow). */
  registerLeaveGuard: (guard: (() => Promise<boolean>) | null) => void;
}

export function Editor(props: Props) {
  return (
    <ReactFlowProvider>
      <EditorLoader {...props} />
    </ReactFlowProvider>
  );
}

function EditorLoader(props: Props) {
  const [store, setStore] = useState<S.Store<S.EditorState> | null>(null);
  const [untrusted, setUntrusted] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    marks().editorOpen = Date.now();
    marks().canvasReady = undefined;
    setStore(null);
    call("workflow_get", { id: props.workflowId })
      .then((record) => {
        setUntrusted(record.untrusted ?? null);
        setStore(new S.Store(S.initialState(record.workflow, record.version)));
      })
      .catch((e) => setError(errorMessage(e)));
  }, [props.workflowId]);
  if (error) {
    return (
      <div className="notice">
        <p className="error-text">{error}</p>
        <button onClick={props.onBack}>Back to workflows</button>
      </div>
    );
  }
  if (!store) return <div className="notice muted">Loading…</div>;
  return <EditorView {...props} store={store} initialUntrusted={untrusted} />;
}

function isTyping(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el) return false;
  return el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable;
}

function issuesByNode(issues: ValidationIssue[]): Map<string, ValidationIssue[]> {
  const map = new Map<string, ValidationIssue[]>();
  for (const i of issues) {
    if (!i.nodeId) continue;
    map.set(i.nodeId, [...(map.get(i.nodeId) ?? []), i]);
  }
  return map;
}

function EditorView({
  store,
  descriptors,
  onBack,
  onConnections,
  onOpenOther,
  registerLeaveGuard,
  initialExecution,
  initialFailedRuns,
  initialUntrusted,
}: Props & { store: S.Store<S.EditorState>; initialUntrusted: string | null }) {
  const state = useSyncExternalStore(store.subscribe, store.get);
  const flow = useReactFlow();
  const canvasRef = useRef<HTMLDivElement>(null);
  const paletteSearch = useRef<HTMLInputElement>(null);
  const descriptorMap = useMemo(() => new Map(descriptors.map((d) => [descriptorKey(d.type, d.version), d])), [descriptors]);

  const [run, setRun] = useState<RunView>(emptyRun);
  const [viewing, setViewing] = useState<Execution | null>(null);
  // An imported workflow until the user trusts it: the review of what it would use.
  const [untrusted, setUntrusted] = useState<string | null>(initialUntrusted);
  const [review, setReview] = useState<TrustReview | null>(null);
  const [trusting, setTrusting] = useState(false);
  const openReview = useCallback(async () => {
    try {
      setReview(await call("workflow_trust_review", { id: store.get().workflow.id }));
    } catch (e) {
      toast(errorMessage(e), "error");
    }
  }, [store]);
  useEffect(() => {
    if (!initialUntrusted) return;
    // Opened untrusted: ask at once when it uses accounts (it cannot run them until then).
    void call("workflow_trust_review", { id: store.get().workflow.id })
      .then((r) => r.accounts.length > 0 && setReview(r))
      .catch(() => undefined);
  }, [initialUntrusted, store]);
  const trust = useCallback(async () => {
    if (!review) return;
    setTrusting(true);
    try {
      const record = await call("workflow_trust", { id: review.workflowId, version: review.version });
      setUntrusted(record.untrusted ?? null);
      setReview(null);
      toast(`Trusted “${record.workflow.name}”`, "success");
    } catch (e) {
      toast(errorMessage(e), "error");
      if (e instanceof ApiFailure && e.code === "conflict") void openReview();
    } finally {
      setTrusting(false);
    }
  }, [review, openReview]);
  const [issues, setIssues] = useState<ValidationIssue[]>([]);
  const [openNode, setOpenNode] = useState<string | null>(null);
  const [side, setSide] = useState<"node" | "history" | "settings" | null>(initialFailedRuns ? "history" : null);
  const [inspectorCollapsed, setInspectorCollapsed] = useState(false);
  const [menu, setMenu] = useState<{ x: number; y: number; items: MenuItem[] } | null>(null);
  const [help, setHelp] = useState(false);
  const [saving, setSaving] = useState(false);

  const workflow = viewing ? viewing.workflow : state.workflow;
  const readOnly = viewing !== null;
  const dirty = S.isDirty(state);
  const update = useCallback((f: (s: S.EditorState) => S.EditorState) => store.set(f), [store]);

  // Live run events for this workflow.
  useEffect(() => onApiEvent((event) => setRun((view) => applyEvent(view, state.workflow.id, event))), [state.workflow.id]);

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

  // Title, close guard and the guard for leaving to another workflow.
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
  const manageConnections = useCallback(async () => {
    if (await askToLeave()) onConnections();
  }, [askToLeave, onConnections]);
  useEffect(() => {
    let unlisten: (() => void) | null = null;
    void guardWindowClose(askToLeave).then((u) => (unlisten = u));
    registerLeaveGuard(askToLeave);
    return () => {
      unlisten?.();
      registerLeaveGuard(null);
    };
  }, [askToLeave, registerLeaveGuard]);

  // Running.
  const startRun = useCallback(
    async (untilNode?: string) => {
      if (viewing) setViewing(null);
      try {
        const r = await call("run_start", { workflow: store.get().workflow, untilNode });
        setRun((view) => (view.executionId === r.executionId ? view : { ...emptyRun(), executionId: r.executionId, workflowId: store.get().workflow.id, running: true }));
        setInspectorCollapsed(false);
      } catch (e) {
        if (e instanceof ApiFailure && e.code === "workflow_untrusted") {
          toast(errorMessage(e), "error");
          void openReview();
        } else if (e instanceof ApiFailure && e.code === "invalid_workflow") {
          const found = ((e.details as { issues?: ValidationIssue[] })?.issues ?? []) as ValidationIssue[];
          setIssues(found);
          toast(`Fix ${found.length} problem${found.length === 1 ? "" : "s"} first: ${found[0]?.message ?? e.message}`, "error");
        } else {
          toast(errorMessage(e), "error");
        }
      }
    },
    [store, viewing, openReview],
  );
  // A run that failed because an account may not go to a host: offer to allow it (the
  // account's first use of a host is the user's to confirm).
  const askedHost = useRef<string | null>(null);
  useEffect(() => {
    const e = run.error;
    if (run.running || run.fromHistory || !run.executionId || e?.code !== "credential_host_not_allowed" || askedHost.current === run.executionId) return;
    askedHost.current = run.executionId;
    const d = (e.details ?? {}) as { connection?: string; account?: string; host?: string };
    if (!d.connection || !d.account || !d.host) return;
    const { connection, account, host } = d;
    void (async () => {
      const choice = await choose(
        "Allow this host?",
        `Account “${account}” (${connection}) may not be sent to ${host}, so node “${e.nodeName ?? ""}” stopped before sending anything. Allow ${host} for this account? Only do so if that host should get its credentials.`,
        [
          { label: "Not now", value: "no" },
          { label: `Allow ${host}`, value: "allow", kind: "primary" },
        ],
      );
      if (choice !== "allow") return;
      try {
        const accounts = (await call("account_list", {})).accounts;
        const found = accounts.find((a) => a.connectionType === connection && a.label === account);
        if (!found) return toast(`No account “${account}” of ${connection} here`, "error");
        await call("account_hosts", { id: found.id, hosts: [...found.allowedHosts, host] });
        toast(`${host} allowed for “${account}”; run again`, "success");
      } catch (err) {
        toast(errorMessage(err), "error");
      }
    })();
  }, [run]);
  const stopRun = useCallback(async () => {
    if (run.executionId) await call("run_cancel", { executionId: run.executionId }).catch((e) => toast(errorMessage(e), "error"));
  }, [run.executionId]);

  // Editing helpers.
  const selectedIds = state.selection.nodes;
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
    [flow, addAt],
  );
  const dropFromPalette = useCallback(
    (descriptor: NodeDescriptor, x: number, y: number) => {
      const rect = canvasRef.current?.getBoundingClientRect();
      if (!rect || x < rect.left || x > rect.right || y < rect.top || y > rect.bottom) return;
      const p = flow.screenToFlowPosition({ x, y });
      addAt(descriptor, [p.x - 90, p.y - 30]);
    },
    [flow, addAt],
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
  const openPanel = useCallback((id: string) => {
    setOpenNode(id);
    setSide("node");
  }, []);

  const exportFile = useCallback(async () => {
    if (S.isDirty(store.get()) && !(await save())) return;
    const wf = store.get().workflow;
    try {
      const preview = await call("workflow_export", { id: wf.id });
      const path = await chooseSavePath(preview.fileName);
      if (!path) return;
      await call("workflow_export", { id: wf.id, path });
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

  const openExecution = useCallback(async (id: string) => {
    try {
      const execution = await call("execution_get", { id });
      setViewing(execution);
      setRun(fromExecution(execution));
      setInspectorCollapsed(false);
    } catch (e) {
      toast(errorMessage(e), "error");
    }
  }, []);
  const backToEditing = useCallback(() => {
    setViewing(null);
  }, []);
  // Opened from the dashboard on a failed run: show it.
  useEffect(() => {
    if (initialExecution) void openExecution(initialExecution);
  }, [initialExecution, openExecution]);

  // Keyboard shortcuts.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const mod = e.ctrlKey || e.metaKey;
      const key = e.key.toLowerCase();
      if (mod && key === "s") {
        e.preventDefault();
        void save();
        return;
      }
      if (mod && e.key === "Enter") {
        e.preventDefault();
        void startRun();
        return;
      }
      if (help || menu) return;
      if (e.key === "Escape" && side) {
        // Escape closes the side panel, even from one of its fields.
        (document.activeElement as HTMLElement | null)?.blur();
        setSide(null);
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
        update((s) => S.select(s, { nodes: workflow.nodes.map((n) => n.id), connections: [] }));
      } else if (mod && key === "d") {
        e.preventDefault();
        if (!readOnly && selectedIds.length) update((s) => S.duplicate(s, selectedIds));
      } else if ((e.key === "Delete" || e.key === "Backspace") && !readOnly) {
        e.preventDefault();
        update(S.deleteSelection);
      } else if (e.key === "F2" && selectedIds.length === 1 && !readOnly) {
        e.preventDefault();
        void rename(selectedIds[0]);
      } else if (e.key === "Enter" && selectedIds.length === 1) {
        e.preventDefault();
        openPanel(selectedIds[0]);
      } else if (e.altKey && key === "l" && !readOnly) {
        e.preventDefault();
        update(S.autoLayout);
        requestAnimationFrame(() => flow.fitView({ padding: 0.2, duration: 200 }));
      } else if (e.altKey && key === "f") {
        e.preventDefault();
        void flow.fitView({ padding: 0.2, duration: 200 });
      } else if (e.key === "/") {
        e.preventDefault();
        paletteSearch.current?.focus();
      } else if (e.key === "?") {
        e.preventDefault();
        setHelp(true);
      } else if (e.key === "Escape") {
        setSide(null);
        update((s) => S.select(s, { nodes: [], connections: [] }));
      }
    };
    const onCopy = (e: ClipboardEvent) => {
      if (isTyping(e.target) || !e.clipboardData) return;
      const text = copy(e.type === "cut");
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
        pasteText(text);
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
  }, [save, startRun, update, readOnly, selectedIds, workflow.nodes, rename, openPanel, flow, copy, pasteText, help, menu, side]);

  const showMenu = useCallback(
    ({ x, y, nodeId, connectionId: edgeId }: { x: number; y: number; nodeId?: string; connectionId?: string }) => {
      const at = flow.screenToFlowPosition({ x, y });
      let items: MenuItem[];
      if (nodeId) {
        const s = store.get();
        const targets = s.selection.nodes.includes(nodeId) ? s.selection.nodes : [nodeId];
        if (!s.selection.nodes.includes(nodeId)) update((st) => S.select(st, { nodes: [nodeId], connections: [] }));
        const node = workflow.nodes.find((n) => n.id === nodeId);
        items = [
          { label: "Open", action: () => openPanel(nodeId) },
          { label: "Run up to here", action: () => void startRun(nodeId), disabled: readOnly },
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
          { label: "Paste", action: () => void readClipboard().then((t) => t && pasteText(t)), disabled: readOnly, separatorBefore: true },
          { label: "Tidy up", action: () => update(S.autoLayout), disabled: readOnly },
          { label: "Fit view", action: () => void flow.fitView({ padding: 0.2 }) },
        ];
      }
      setMenu({ x, y, items });
    },
    [flow, store, update, workflow.nodes, openPanel, startRun, readOnly, rename, copy, descriptors, addAt, pasteText],
  );

  const openNodeData = openNode ? workflow.nodes.find((n) => n.id === openNode) : undefined;
  const inspected = selectedIds.length === 1 ? workflow.nodes.find((n) => n.id === selectedIds[0]) ?? null : openNodeData ?? null;

  return (
    <div className="editor">
      <div className="toolbar" role="toolbar" aria-label="Editor">
        <button
          onClick={async () => {
            if (await askToLeave()) onBack();
          }}
          title="Back to the workflows"
        >
          ← Workflows
        </button>
        <input
          className="title"
          aria-label="Workflow name"
          value={state.workflow.name}
          onChange={(e) => update((s) => S.setWorkflowName(s, e.target.value))}
          disabled={readOnly}
        />
        {dirty && (
          <span className="dirty-dot" title="Unsaved changes" data-testid="dirty">
            ●
          </span>
        )}
        <button className="primary" onClick={() => void save()} disabled={saving || readOnly} title="Save (Ctrl+S)" data-testid="save">
          Save
        </button>
        <span className="sep" />
        <button onClick={() => update(S.undo)} disabled={readOnly || state.past.length === 0} title="Undo (Ctrl+Z)" aria-label="Undo">
          ↶
        </button>
        <button onClick={() => update(S.redo)} disabled={readOnly || state.future.length === 0} title="Redo (Shift+Ctrl+Z)" aria-label="Redo">
          ↷
        </button>
        <button onClick={() => update(S.autoLayout)} disabled={readOnly} title="Tidy up (Alt+L)">
          Tidy up
        </button>
        <span className="sep" />
        {run.running ? (
          <button className="danger" onClick={() => void stopRun()} data-testid="stop">
            ■ Stop
          </button>
        ) : (
          <button className="primary" onClick={() => void startRun()} title="Run (Ctrl+Enter)" data-testid="run">
            ▶ Run
          </button>
        )}
        {run.status && (
          <span className={`run-status ${run.status}`} data-testid="run-status" title={run.error?.message}>
            {run.status}
            {run.durationMs !== null && ` · ${run.durationMs} ms`}
          </span>
        )}
        {run.running && <span className="run-status">running…</span>}
        {!readOnly && <TestListener workflow={state.workflow} />}
        <span className="spacer" />
        <ActiveSwitch workflowId={state.workflow.id} name={state.workflow.name} dirty={dirty} />
        <button onClick={() => setSide(side === "settings" ? null : "settings")} data-testid="settings-button">
          Settings
        </button>
        <button onClick={() => setSide(side === "history" ? null : "history")} data-testid="history-button">
          History
        </button>
        <button onClick={() => void importFile()}>Import…</button>
        <button onClick={() => void exportFile()} data-testid="export">
          Export…
        </button>
        <button className="icon" onClick={() => setHelp(true)} title="Keyboard shortcuts (?)" aria-label="Keyboard shortcuts">
          ?
        </button>
      </div>

      <Palette ref={paletteSearch} descriptors={descriptors} onDrop={dropFromPalette} onAdd={addAtCenter} disabled={readOnly} />

      <div className="canvas" ref={canvasRef} tabIndex={0} data-testid="canvas">
        {viewing && (
          <div className="viewing-banner" data-testid="viewing-banner">
            Viewing the run of {new Date(viewing.summary.startedAt).toLocaleString()} ({viewing.summary.status}), read-only
            <button className="primary" onClick={backToEditing}>
              Back to editing
            </button>
          </div>
        )}
        {untrusted && !viewing && (
          <div className="trust-banner" data-testid="trust-banner">
            Imported from {untrusted}: not trusted yet, so it runs nothing that uses an account.
            <button onClick={() => void openReview()} data-testid="trust-review">
              Review…
            </button>
          </div>
        )}
        <Canvas
          workflow={workflow}
          descriptors={descriptorMap}
          selection={state.selection}
          run={run}
          issues={viewing ? new Map() : issueMap}
          readOnly={readOnly}
          onSelect={(selection) => update((s) => S.select(s, selection))}
          onMove={(positions) => update((s) => S.moveNodes(s, positions))}
          onConnect={(c) => update((s) => S.connect(s, c))}
          onOpenNode={openPanel}
          onContextMenu={showMenu}
        />
      </div>

      <Inspector
        workflow={workflow}
        node={inspected}
        run={run}
        collapsed={inspectorCollapsed}
        onToggle={() => setInspectorCollapsed(!inspectorCollapsed)}
        onPin={(items) => inspected && update((s) => S.pin(s, inspected.id, items))}
        readOnly={readOnly}
      />

      {side === "node" && openNodeData && (
        <NodePanel
          key={openNodeData.id}
          node={openNodeData}
          descriptor={descriptorMap.get(descriptorKey(openNodeData.type, openNodeData.version))}
          issues={issueMap.get(openNodeData.id) ?? []}
          context={{ workflow, nodeId: openNodeData.id, runKey: run.executionId && !run.running ? run.executionId : null }}
          readOnly={readOnly}
          onRename={(name) => {
            try {
              update((s) => S.renameNode(s, openNodeData.id, name));
            } catch (e) {
              toast(errorMessage(e), "error");
            }
          }}
          onParameter={(name, value) => update((s) => S.setParameter(s, openNodeData.id, name, value, descriptorMap))}
          onSettings={(settings) => update((s) => S.setSettings(s, openNodeData.id, settings, descriptorMap))}
          onCredential={(slot, ref) => update((s) => S.setCredential(s, openNodeData.id, slot, ref))}
          onManageConnections={() => void manageConnections()}
          onClose={() => setSide(null)}
        />
      )}
      {side === "settings" && (
        <WorkflowSettingsPanel
          workflow={workflow}
          readOnly={readOnly}
          onChange={(change, accounts) => update((s) => S.setWorkflowSettings(s, change, accounts))}
          onManageConnections={() => void manageConnections()}
          onClose={() => setSide(null)}
        />
      )}
      {side === "history" && (
        <History
          workflowId={state.workflow.id}
          activeId={viewing?.summary.id ?? null}
          refreshKey={run.status}
          initialFailedOnly={initialFailedRuns}
          onOpen={(id) => void openExecution(id)}
          onClose={() => setSide(null)}
        />
      )}

      {menu && <ContextMenu x={menu.x} y={menu.y} items={menu.items} onClose={() => setMenu(null)} />}
      {help && <HelpOverlay onClose={() => setHelp(false)} />}
      {review && <TrustDialog review={review} busy={trusting} onTrust={() => void trust()} onClose={() => setReview(null)} />}
    </div>
  );
}

function writeClipboard(text: string | null) {
  if (text !== null) void navigator.clipboard?.writeText(text).catch(() => toast("The clipboard is not available", "error"));
}

async function readClipboard(): Promise<string | null> {
  try {
    return (await navigator.clipboard?.readText()) ?? null;
  } catch {
    toast("The clipboard cannot be read here: use Ctrl+V", "error");
    return null;
  }
}
