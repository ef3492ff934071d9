// The workflow editor page: the toolbar, palette, canvas, inspector and side panels, put
// together from the editor's hooks (editor/use*.ts) and parts.
import { ReactFlowProvider, useReactFlow } from "@xyflow/react";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { call, errorMessage } from "../api/client";
import { Canvas } from "../canvas/Canvas";
import type { NoteChange } from "../canvas/StickyNoteCard";
import { Palette } from "../canvas/Palette";
import { ContextMenu } from "../components/ContextMenu";
import { HelpOverlay } from "../components/HelpOverlay";
import { choose } from "../components/dialogs";
import { toast } from "../components/toasts";
import { DeployDialog } from "../components/DeployDialog";
import { TrustDialog } from "../components/TrustDialog";
import { EditorToolbar, type Side } from "../editor/EditorToolbar";
import { descriptorKey } from "../editor/model";
import { SidePanels } from "../editor/SidePanels";
import * as S from "../editor/store";
import { useBreakpoints } from "../editor/useBreakpoints";
import { useCanvasMenu } from "../editor/useCanvasMenu";
import { useEditActions } from "../editor/useEditActions";
import { useRunView } from "../editor/useRunView";
import { useShortcuts } from "../editor/useShortcuts";
import { useTrustReview } from "../editor/useTrustReview";
import { useWorkflowDocument } from "../editor/useWorkflowDocument";
import type { NodeDescriptor } from "../gen/NodeDescriptor";
import { Store } from "../lib/store";
import { marks } from "../marks";
import { Inspector } from "../panels/Inspector";
import type { DiffMarks } from "../panels/Versions";

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
  const [store, setStore] = useState<Store<S.EditorState> | null>(null);
  const [untrusted, setUntrusted] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    marks().editorOpen = Date.now();
    marks().canvasReady = undefined;
    setStore(null);
    call("workflow_get", { id: props.workflowId })
      .then((record) => {
        setUntrusted(record.untrusted ?? null);
        setStore(new Store(S.initialState(record.workflow, record.version)));
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

/** A link in a sticky note: the note may come from someone else's file, so the full address
 * is shown and confirmed before the browser opens it. */
async function openLink(url: string) {
  const choice = await choose("Open this link?", `${url}\n\nIt opens in your browser. Links in notes come from whoever wrote the workflow: open it only if you trust where it goes.`, [
    { label: "Cancel", value: "no" },
    { label: "Open in browser", value: "open", kind: "primary" },
  ]);
  if (choice !== "open") return;
  try {
    await call("link_open", { url });
  } catch (e) {
    toast(errorMessage(e), "error");
  }
}

function EditorView(props: Props & { store: Store<S.EditorState>; initialUntrusted: string | null }) {
  const { store, descriptors, onBack, onConnections, onOpenOther, registerLeaveGuard, initialExecution, initialFailedRuns } = props;
  const canvasRef = useRef<HTMLDivElement>(null);
  const flow = useReactFlow();
  const paletteSearch = useRef<HTMLInputElement>(null);
  const descriptorMap = useMemo(() => new Map(descriptors.map((d) => [descriptorKey(d.type, d.version), d])), [descriptors]);
  const [openNode, setOpenNode] = useState<string | null>(null);
  const [side, setSide] = useState<Side>(initialFailedRuns ? "history" : null);
  const [inspectorCollapsed, setInspectorCollapsed] = useState(false);
  const [help, setHelp] = useState(false);
  const [deploying, setDeploying] = useState(false);
  const [diffMarks, setDiffMarks] = useState<DiffMarks | null>(null);

  const doc = useWorkflowDocument(store, registerLeaveGuard);
  const { state, update, save, askToLeave } = doc;
  const trust = useTrustReview(state.workflow.id, props.initialUntrusted);
  const showInspector = useCallback(() => setInspectorCollapsed(false), []);
  const breakpointIds = useRef<string[]>([]);
  const currentBreakpoints = useCallback(() => breakpointIds.current, []);
  const runs = useRunView({ store, openReview: trust.openReview, setIssues: doc.setIssues, onShow: showInspector, breakpoints: currentBreakpoints });
  const { run, viewing, viewingServer } = runs;
  const breakpoints = useBreakpoints(state.workflow.id, run.running ? run.executionId : null);
  breakpointIds.current = breakpoints.ids;
  const workflow = viewing ? viewing.workflow : state.workflow;
  const readOnly = viewing !== null;
  const edit = useEditActions({ store, canvasRef, viewing, save, askToLeave, onOpenOther });
  const openPanel = useCallback((id: string) => {
    setOpenNode(id);
    setSide("node");
  }, []);
  const menu = useCanvasMenu({
    store,
    workflow,
    descriptors,
    readOnly,
    update,
    openPanel,
    startRun: runs.startRun,
    rename: edit.rename,
    copy: edit.copy,
    pasteText: edit.pasteText,
    addAt: edit.addAt,
    breakpoints: breakpoints.ids,
    toggleBreakpoints: breakpoints.toggle,
  });
  const selectedIds = state.selection.nodes;
  useShortcuts({
    workflow,
    selectedIds,
    readOnly,
    overlayOpen: help || menu.menu !== null,
    sideOpen: side !== null,
    paletteSearch,
    update,
    save,
    startRun: runs.startRun,
    rename: edit.rename,
    openPanel,
    closeSide: () => setSide(null),
    showHelp: () => setHelp(true),
    copy: edit.copy,
    pasteText: edit.pasteText,
    toggleBreakpoints: breakpoints.toggle,
    nodeMenu: (id) => {
      const box = document.querySelector(`.react-flow__node[data-id="${CSS.escape(id)}"]`)?.getBoundingClientRect();
      if (box) menu.showMenu({ x: box.left + box.width / 2, y: box.bottom + 4, nodeId: id });
    },
    paused: run.paused !== null,
    debugRun: (action) => void runs.debugRun(action),
    addNote: () => {
      const rect = canvasRef.current?.getBoundingClientRect();
      const p = flow.screenToFlowPosition({ x: (rect?.left ?? 0) + (rect?.width ?? 800) / 2, y: (rect?.top ?? 0) + (rect?.height ?? 600) / 2 });
      update((s) => S.addNote(s, [p.x - 130, p.y - 80]));
    },
  });
  const changeNote = useCallback((id: string, change: NoteChange) => update((s) => S.updateNote(s, id, change)), [update]);

  // Opened from the dashboard on a failed run: show it.
  const { openExecution } = runs;
  useEffect(() => {
    if (initialExecution) void openExecution(initialExecution);
  }, [initialExecution, openExecution]);
  const manageConnections = useCallback(async () => {
    if (await askToLeave()) onConnections();
  }, [askToLeave, onConnections]);

  const openNodeData = openNode ? workflow.nodes.find((n) => n.id === openNode) : undefined;
  const inspected = selectedIds.length === 1 ? workflow.nodes.find((n) => n.id === selectedIds[0]) ?? null : openNodeData ?? null;

  return (
    <main className="editor">
      <h1 className="visually-hidden">{workflow.name}</h1>
      <EditorToolbar
        state={state}
        dirty={doc.dirty}
        saving={doc.saving}
        readOnly={readOnly}
        run={run}
        side={side}
        update={update}
        onBack={async () => {
          if (await askToLeave()) onBack();
        }}
        onSave={() => void save()}
        onRun={() => void runs.startRun()}
        onStop={() => void runs.stopRun()}
        onSide={setSide}
        onImport={() => void edit.importFile()}
        onExport={() => void edit.exportFile()}
        onDeploy={() => setDeploying(true)}
        onHelp={() => setHelp(true)}
      />

      <Palette ref={paletteSearch} descriptors={descriptors} onDrop={edit.dropFromPalette} onAdd={edit.addAtCenter} disabled={readOnly} />

      <div className="canvas" ref={canvasRef} tabIndex={0} data-testid="canvas">
        {viewing && (
          <div className="viewing-banner" data-testid="viewing-banner">
            <span>
              Viewing the run {viewingServer && <>on {viewingServer} </>}of {viewing.summary.workflowId !== state.workflow.id && <>“{viewing.summary.workflowName}” </>}
              {new Date(viewing.summary.startedAt).toLocaleString()} ({viewing.summary.status}), read-only
            </span>
            {!viewingServer && viewing.summary.workflowId === state.workflow.id && ["error", "cancelled", "timeout", "interrupted"].includes(viewing.summary.status) && (
              <>
                {viewing.nodes.some((n) => n.status === "error") && (
                  <button onClick={() => void runs.retryExecution(viewing.summary.id, true)} data-testid="retry-failed" title="Run the failed node and what follows; the nodes that succeeded are not run again">
                    Retry from failed node
                  </button>
                )}
                <button onClick={() => void runs.retryExecution(viewing.summary.id, false)} data-testid="retry-start" title="Run it again with the same trigger items">
                  Retry
                </button>
              </>
            )}
            {viewing.summary.calledBy && (
              <button onClick={() => void openExecution(viewing.summary.calledBy!.executionId, viewingServer ?? undefined)} data-testid="open-caller">
                Called by… ↑
              </button>
            )}
            <button className="primary" onClick={runs.backToEditing}>
              Back to editing
            </button>
          </div>
        )}
        {run.paused && !viewing && (
          <div className="paused-banner" data-testid="paused-banner" role="status">
            Paused before “{run.paused.nodeName}”{run.paused.stepping ? " (step)" : ""}: {run.paused.itemsIn} item{run.paused.itemsIn === 1 ? "" : "s"} about to go in.
            <button onClick={() => update((s) => S.select(s, { nodes: [run.paused!.nodeId], connections: [] }))} data-testid="paused-show" title="Show the items in the inspector">
              Show items
            </button>
            <button className="primary" onClick={() => void runs.debugRun("continue")} data-testid="debug-continue" title="Run on to the next breakpoint (F8)">
              ▶ Continue
            </button>
            <button onClick={() => void runs.debugRun("step")} data-testid="debug-step" title="Run just this node, then pause before the next (F10)">
              Step
            </button>
            <button className="danger" onClick={() => void runs.debugRun("stop")} data-testid="debug-stop" title="End the run here">
              ■ Stop
            </button>
          </div>
        )}
        {trust.untrusted && !viewing && (
          <div className="trust-banner" data-testid="trust-banner">
            Imported from {trust.untrusted}: not trusted yet, so it runs nothing that uses an account or reaches this computer (programs, files).
            <button onClick={() => void trust.openReview()} data-testid="trust-review">
              Review…
            </button>
          </div>
        )}
        <Canvas
          focusNode={side === "node" ? openNode : null}
          workflow={workflow}
          descriptors={descriptorMap}
          selection={state.selection}
          run={run}
          issues={viewing ? new Map() : doc.issueMap}
          marks={viewing ? undefined : diffMarks?.marks}
          removed={viewing ? undefined : diffMarks?.removed}
          breakpoints={viewing ? undefined : breakpoints.ids}
          readOnly={readOnly}
          onSelect={(selection) => update((s) => S.select(s, selection))}
          onMove={(positions) => update((s) => S.moveNodes(s, positions))}
          onConnect={(c) => update((s) => S.connect(s, c))}
          onOpenNode={openPanel}
          onContextMenu={menu.showMenu}
          onNoteChange={changeNote}
          onOpenLink={openLink}
        />
      </div>

      <Inspector
        workflow={workflow}
        node={inspected}
        run={run}
        collapsed={inspectorCollapsed}
        onToggle={() => setInspectorCollapsed(!inspectorCollapsed)}
        onPin={(items) => {
          if (!inspected) return;
          update((s) => S.pin(s, inspected.id, items));
          if (viewing) toast(`Pinned ${items?.length ?? 0} items on “${inspected.name}” from this run (save to keep them)`, "success");
        }}
        canPinFromPast={viewing !== null && inspected !== null && state.workflow.nodes.some((n) => n.id === inspected.id)}
        readOnly={readOnly}
        calls={viewing?.calls}
        onOpenExecution={(id) => void openExecution(id, viewingServer ?? undefined)}
      />

      <SidePanels
        side={side}
        workflow={workflow}
        workflowId={state.workflow.id}
        openNode={openNode}
        descriptors={descriptorMap}
        issues={doc.issueMap}
        run={run}
        viewing={viewing}
        initialFailedRuns={initialFailedRuns}
        update={update}
        onManageConnections={() => void manageConnections()}
        onOpenExecution={(id, server) => void openExecution(id, server)}
        version={state.version}
        dirty={doc.dirty}
        onMarks={setDiffMarks}
        onRestored={(record) => {
          store.set(S.initialState(record.workflow, record.version));
          toast(`Restored: saved as version ${record.version}`, "success");
        }}
        onClose={() => setSide(null)}
      />

      {menu.menu && <ContextMenu x={menu.menu.x} y={menu.menu.y} items={menu.menu.items} onClose={menu.closeMenu} />}
      {help && <HelpOverlay onClose={() => setHelp(false)} />}
      {deploying && (
        <DeployDialog
          workflowId={state.workflow.id}
          name={state.workflow.name}
          dirty={doc.dirty}
          onManageConnections={() => {
            setDeploying(false);
            void manageConnections();
          }}
          onClose={() => setDeploying(false)}
        />
      )}
      {trust.review && <TrustDialog review={trust.review} busy={trust.trusting} onTrust={() => void trust.trust()} onClose={trust.closeReview} />}
    </main>
  );
}
