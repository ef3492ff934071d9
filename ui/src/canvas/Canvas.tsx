// The canvas: React Flow showing the workflow's nodes and wires, with live run states.
// React Flow keeps its own node list (it measures nodes and moves them while dragging); the
// editor store stays the source of truth and gets one edit per finished drag.
import {
  applyEdgeChanges,
  applyNodeChanges,
  Background,
  type Connection as FlowConnection,
  ControlButton,
  Controls,
  type Edge,
  type EdgeChange,
  MarkerType,
  MiniMap,
  type NodeChange,
  ReactFlow,
  useNodesInitialized,
  useReactFlow,
  useStore,
} from "@xyflow/react";
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from "react";
import type { Connection } from "../gen/Connection";
import type { NodeDescriptor } from "../gen/NodeDescriptor";
import type { ValidationIssue } from "../gen/ValidationIssue";
import type { Workflow } from "../gen/Workflow";
import { connectionId, descriptorKey, inputNames, NOTE_PREFIX, outputNames, type Position, wouldCycle } from "../editor/model";
import type { RunView } from "../editor/run";
import type { Selection } from "../editor/store";
import { shownTheme } from "../lib/theme";
import { markAfterPaint } from "../marks";
import { groupColors } from "./icons";
import { NodeCard, type NodeCardData, type NodeCardNode, type NodeMark } from "./NodeCard";
import { NOTE_SWATCH, type NoteChange, StickyNoteCard, type StickyNode } from "./StickyNoteCard";

const nodeTypes = { switchyard: NodeCard, sticky: StickyNoteCard };

type CanvasNode = NodeCardNode | StickyNode;

export interface CanvasProps {
  workflow: Workflow;
  descriptors: Map<string, NodeDescriptor>;
  selection: Selection;
  run: RunView;
  issues: Map<string, ValidationIssue[]>;
  /** What changed since a version the user compares with, per node (a visual diff). */
  marks?: Map<string, NodeMark>;
  /** Nodes the version compared with had and the canvas no longer has: drawn faded where
   * they stood, marked removed. */
  removed?: Workflow["nodes"];
  /** Nodes with a breakpoint (ids). */
  breakpoints?: string[];
  readOnly: boolean;
  onSelect: (selection: Selection) => void;
  onMove: (positions: Record<string, Position>) => void;
  onConnect: (connection: Connection) => void;
  onOpenNode: (id: string) => void;
  /** `nodeId` or `noteId`: what was right-clicked (nothing: the canvas itself). */
  onContextMenu: (event: { x: number; y: number; nodeId?: string; noteId?: string; connectionId?: string }) => void;
  onNoteChange: (id: string, change: NoteChange) => void;
  onOpenLink: (url: string) => void;
  /** A node to keep in view (the one whose panel is open): panned to when the canvas
   * shrinks beside the panel, or when it opens, if it is not fully visible. */
  focusNode?: string | null;
}

const MINIMAP_KEY = "switchyard.minimap";

/** Where the viewport must move so the rectangle `node` (flow coordinates) is fully inside
 * a pane of `pane` size with `margin` around it; null when it already is. A node larger
 * than the pane is aligned to the pane's top left. */
export function panToShow(
  node: { x: number; y: number; width: number; height: number },
  viewport: { x: number; y: number; zoom: number },
  pane: { width: number; height: number },
  margin = 24,
): { x: number; y: number } | null {
  const shift = (start: number, size: number, room: number) => {
    if (start < margin || size > room - 2 * margin) return margin - start;
    if (start + size > room - margin) return room - margin - (start + size);
    return 0;
  };
  const left = node.x * viewport.zoom + viewport.x;
  const top = node.y * viewport.zoom + viewport.y;
  const dx = shift(left, node.width * viewport.zoom, pane.width);
  const dy = shift(top, node.height * viewport.zoom, pane.height);
  return dx === 0 && dy === 0 ? null : { x: viewport.x + dx, y: viewport.y + dy };
}

const NO_ISSUES: ValidationIssue[] = [];

/** Removed nodes of a compared version, drawn for the diff only. */
const GHOST_PREFIX = "removed:";
const isGhost = (id: string) => id.startsWith(GHOST_PREFIX);

export function Canvas(props: CanvasProps) {
  const { workflow, descriptors, selection, run, issues, readOnly } = props;
  const cache = useRef(new Map<string, { deps: unknown[]; data: NodeCardData }>());

  /** Per-node data, rebuilt only when something it shows changed (big workflows stay fast). */
  const dataFor = useCallback(
    (node: Workflow["nodes"][number]): NodeCardData => {
      const descriptor = descriptors.get(descriptorKey(node.type, node.version));
      const state = run.nodes[node.id];
      const nodeIssues = issues.get(node.id) ?? NO_ISSUES;
      const pinned = Boolean(workflow.pinData?.[node.id]);
      const mark = props.marks?.get(node.id);
      const breakpoint = props.breakpoints?.includes(node.id) ?? false;
      const deps = [node, descriptor, state, nodeIssues, pinned, mark, breakpoint];
      const hit = cache.current.get(node.id);
      if (hit && hit.deps.every((d, i) => d === deps[i])) return hit.data;
      const data: NodeCardData = {
        node,
        descriptor,
        state,
        issues: nodeIssues,
        inputs: inputNames(descriptor),
        outputs: outputNames(descriptor, node),
        pinned,
        mark,
        breakpoint,
      };
      cache.current.set(node.id, { deps, data });
      return data;
    },
    [descriptors, run.nodes, issues, workflow.pinData, props.marks, props.breakpoints],
  );

  // Sticky notes sit behind the nodes; their canvas ids carry a prefix.
  const { onNoteChange, onOpenLink } = props;
  const notes = useMemo<StickyNode[]>(() => {
    const selected = new Set(selection.notes ?? []);
    return (workflow.notes ?? []).map((note) => ({
      id: NOTE_PREFIX + note.id,
      type: "sticky" as const,
      position: { x: note.position[0], y: note.position[1] },
      width: note.size[0],
      height: note.size[1],
      zIndex: -1,
      selected: selected.has(note.id),
      data: { note, readOnly, onChange: onNoteChange, onOpenLink },
    }));
  }, [workflow.notes, selection.notes, readOnly, onNoteChange, onOpenLink]);

  const built = useMemo<CanvasNode[]>(() => {
    const selected = new Set(selection.nodes);
    const cards: CanvasNode[] = workflow.nodes.map((n) => ({
      id: n.id,
      type: "switchyard" as const,
      position: { x: n.position[0], y: n.position[1] },
      selected: selected.has(n.id),
      data: dataFor(n),
    }));
    const ghosts: CanvasNode[] = (props.removed ?? []).map((n) => {
      const descriptor = descriptors.get(descriptorKey(n.type, n.version));
      return {
        id: GHOST_PREFIX + n.id,
        type: "switchyard" as const,
        position: { x: n.position[0], y: n.position[1] },
        selectable: false,
        draggable: false,
        connectable: false,
        data: { node: n, descriptor, state: undefined, issues: NO_ISSUES, inputs: [], outputs: [], pinned: false, mark: "removed" as const },
      };
    });
    return [...notes, ...cards, ...ghosts];
  }, [workflow.nodes, selection.nodes, dataFor, notes, props.removed, descriptors]);

  const [nodes, setNodes] = useState<CanvasNode[]>(built);
  useEffect(() => {
    // Keep React Flow's measurements, and the position of a node being dragged right now.
    setNodes((prev) => {
      const old = new Map(prev.map((n) => [n.id, n]));
      return built.map((n) => {
        const before = old.get(n.id);
        return before?.dragging ? { ...n, measured: before.measured, position: before.position, dragging: true } : { ...n, measured: before?.measured };
      });
    });
  }, [built]);

  // Clicks change node and edge selection in two callbacks of one event: track the latest.
  const latestSelection = useRef(selection);
  useEffect(() => {
    latestSelection.current = selection;
  }, [selection]);
  const changeSelection = useCallback(
    (kind: "nodes" | "connections" | "notes", changes: { id: string; selected: boolean }[]) => {
      const current = new Set(latestSelection.current[kind] ?? []);
      for (const c of changes) {
        if (c.selected) current.add(c.id);
        else current.delete(c.id);
      }
      const next = { ...latestSelection.current, [kind]: [...current] };
      latestSelection.current = next;
      props.onSelect(next);
    },
    [props],
  );

  const builtEdges = useMemo<Edge[]>(() => {
    const selected = new Set(selection.connections);
    const runningSources = new Set(Object.entries(run.nodes).filter(([, s]) => s.status === "running").map(([id]) => id));
    return workflow.connections.map((c) => {
      const id = connectionId(c);
      const isError = c.from.output === "error";
      return {
        id,
        source: c.from.node,
        sourceHandle: c.from.output,
        target: c.to.node,
        targetHandle: c.to.input,
        selected: selected.has(id),
        animated: runningSources.has(c.to.node),
        style: isError ? { stroke: "var(--danger)" } : undefined,
        markerEnd: { type: MarkerType.ArrowClosed, width: 16, height: 16 },
      };
    });
  }, [workflow.connections, selection.connections, run.nodes]);
  const [edges, setEdges] = useState<Edge[]>(builtEdges);
  useEffect(() => setEdges(builtEdges), [builtEdges]);

  const onNodesChange = useCallback(
    (changes: NodeChange<CanvasNode>[]) => {
      setNodes((ns) => applyNodeChanges(changes, ns));
      const selects = changes.flatMap((c) => (c.type === "select" ? [{ id: c.id, selected: c.selected }] : []));
      const isNote = (id: string) => id.startsWith(NOTE_PREFIX);
      const nodeSelects = selects.filter((c) => !isNote(c.id));
      const noteSelects = selects.filter((c) => isNote(c.id)).map((c) => ({ ...c, id: c.id.slice(NOTE_PREFIX.length) }));
      if (nodeSelects.length) changeSelection("nodes", nodeSelects);
      if (noteSelects.length) changeSelection("notes", noteSelects);
    },
    [changeSelection],
  );

  const onEdgesChange = useCallback(
    (changes: EdgeChange[]) => {
      const selects = changes.flatMap((c) => (c.type === "select" ? [{ id: c.id, selected: c.selected }] : []));
      if (selects.length === 0) return;
      setEdges((es) => applyEdgeChanges(changes.filter((c) => c.type === "select"), es));
      changeSelection("connections", selects);
    },
    [changeSelection],
  );

  const isValidConnection = useCallback(
    (c: FlowConnection | Edge) =>
      !readOnly && c.source !== c.target && !wouldCycle(workflow, c.source, c.target),
    [workflow, readOnly],
  );

  // Benchmarks read when a workflow's nodes are all laid out and painted.
  const initialized = useNodesInitialized();
  // Another workflow shown in place (a called run opened from its caller, and back): frame
  // it once its nodes are measured, as the first one was.
  const flow = useReactFlow();
  const shownId = useRef(workflow.id);
  const [refit, setRefit] = useState(false);
  useEffect(() => {
    if (shownId.current !== workflow.id) {
      shownId.current = workflow.id;
      setRefit(true);
    }
  }, [workflow.id]);
  // Removed nodes drawn for a diff may stand outside the view: frame them too.
  const removedCount = props.removed?.length ?? 0;
  useEffect(() => {
    if (removedCount > 0) setRefit(true);
  }, [removedCount]);
  useEffect(() => {
    if (refit && initialized) {
      setRefit(false);
      void flow.fitView({ padding: 0.2, maxZoom: 1.2 });
    }
  }, [refit, initialized, flow]);
  // The node whose panel is open stays in view when the canvas narrows beside the panel.
  const paneWidth = useStore((s) => s.width);
  const paneHeight = useStore((s) => s.height);
  const focusNode = props.focusNode ?? null;
  useEffect(() => {
    if (!focusNode || !initialized || paneWidth === 0) return;
    const node = flow.getInternalNode(focusNode);
    if (!node) return;
    const rect = {
      x: node.internals.positionAbsolute.x,
      y: node.internals.positionAbsolute.y,
      width: node.measured.width ?? 0,
      height: node.measured.height ?? 0,
    };
    const viewport = flow.getViewport();
    const to = panToShow(rect, viewport, { width: paneWidth, height: paneHeight });
    if (to) void flow.setViewport({ ...to, zoom: viewport.zoom }, { duration: 200 });
  }, [focusNode, paneWidth, paneHeight, initialized, flow]);
  const colorMode = useSyncExternalStore(shownTheme.subscribe, shownTheme.get);
  const [minimap, setMinimap] = useState(() => localStorage.getItem(MINIMAP_KEY) !== "hidden");
  const toggleMinimap = () => {
    const next = !minimap;
    setMinimap(next);
    try {
      localStorage.setItem(MINIMAP_KEY, next ? "shown" : "hidden");
    } catch {
      // Not kept: the choice holds for this session.
    }
  };
  useEffect(() => {
    if (initialized) {
      markAfterPaint((m, now) => {
        if (m.canvasReady === undefined) {
          m.canvasReady = now;
          m.canvasNodes = workflow.nodes.length;
        }
      });
    }
  }, [initialized, workflow.nodes.length]);

  const minimapColor = useCallback((n: CanvasNode) => {
    if (n.type === "sticky") return NOTE_SWATCH[n.data.note.color];
    return n.data.descriptor ? groupColors[n.data.descriptor.group] : "#999";
  }, []);

  return (
    <ReactFlow<CanvasNode, Edge>
      nodes={nodes}
      edges={edges}
      nodeTypes={nodeTypes}
      onNodesChange={onNodesChange}
      onEdgesChange={onEdgesChange}
      onConnect={(c) =>
        props.onConnect({ from: { node: c.source, output: c.sourceHandle ?? "main" }, to: { node: c.target, input: c.targetHandle ?? "main" } })
      }
      isValidConnection={isValidConnection}
      onNodeDragStop={(_, __, dragged) => {
        const positions: Record<string, Position> = {};
        for (const n of dragged) positions[n.id] = [n.position.x, n.position.y];
        props.onMove(positions);
      }}
      onNodeDoubleClick={(_, n) => n.type !== "sticky" && !isGhost(n.id) && props.onOpenNode(n.id)}
      onNodeContextMenu={(e, n) => {
        e.preventDefault();
        if (isGhost(n.id)) return;
        const target = n.type === "sticky" ? { noteId: n.data.note.id } : { nodeId: n.id };
        props.onContextMenu({ x: e.clientX, y: e.clientY, ...target });
      }}
      onEdgeContextMenu={(e, edge) => {
        e.preventDefault();
        props.onContextMenu({ x: e.clientX, y: e.clientY, connectionId: edge.id });
      }}
      onPaneContextMenu={(e) => {
        e.preventDefault();
        props.onContextMenu({ x: e.clientX, y: e.clientY });
      }}
      nodesDraggable={!readOnly}
      nodesConnectable={!readOnly}
      elementsSelectable
      deleteKeyCode={null}
      elevateNodesOnSelect={false}
      selectionKeyCode="Shift"
      multiSelectionKeyCode={["Meta", "Control"]}
      onlyRenderVisibleElements={workflow.nodes.length > 150}
      fitView
      fitViewOptions={{ padding: 0.2, maxZoom: 1.2 }}
      minZoom={0.05}
      maxZoom={2}
      proOptions={{ hideAttribution: true }}
      colorMode={colorMode}
    >
      <Background gap={20} />
      {minimap && <MiniMap pannable zoomable nodeColor={minimapColor} />}
      <Controls showInteractive={false}>
        <ControlButton onClick={toggleMinimap} title={minimap ? "Hide the minimap" : "Show the minimap"} aria-label={minimap ? "Hide the minimap" : "Show the minimap"} data-testid="toggle-minimap">
          <svg viewBox="0 0 16 16" width="12" height="12" aria-hidden="true">
            <rect x="1.5" y="2.5" width="13" height="11" rx="1.5" fill="none" stroke="currentColor" strokeWidth="1.5" />
            <rect x="8" y="8" width="5" height="4" fill={minimap ? "currentColor" : "none"} stroke="currentColor" />
          </svg>
        </ControlButton>
      </Controls>
    </ReactFlow>
  );
}
