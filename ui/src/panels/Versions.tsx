// The saved versions of the open workflow: pick one to see what changed since (marked on the
// canvas, listed here), and restore it as a new save.
import { useEffect, useState } from "react";
import { call, errorMessage } from "../api/client";
import type { NodeMark } from "../canvas/NodeCard";
import { confirm } from "../components/dialogs";
import type { FieldChange } from "../gen/FieldChange";
import type { Node } from "../gen/Node";
import type { VersionSummary } from "../gen/VersionSummary";
import type { WorkflowDiff } from "../gen/WorkflowDiff";
import type { WorkflowRecord } from "../gen/WorkflowRecord";

function when(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

function show(v: unknown): string {
  if (v === undefined) return "(not set)";
  const text = JSON.stringify(v);
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

function change(c: FieldChange): string {
  return `${c.path}: ${show(c.before)} → ${show(c.after)}`;
}

/** What the canvas marks for a diff from an older version to the one shown. */
export function marksOf(diff: WorkflowDiff): Map<string, NodeMark> {
  const marks = new Map<string, NodeMark>();
  for (const n of diff.added) marks.set(n.id, "added");
  for (const c of diff.changed) marks.set(c.id, c.changes.length > 0 ? "changed" : "moved");
  return marks;
}

/** A diff drawn on the canvas: marks on the nodes shown, and the nodes the older version had
 * that are gone now (drawn where they were, faded, struck out). */
export interface DiffMarks {
  marks: Map<string, NodeMark>;
  removed: Node[];
}

interface Props {
  workflowId: string;
  /** The saved version the editor holds, and whether it has unsaved edits. */
  version: number | null;
  dirty: boolean;
  refreshKey: unknown;
  onMarks: (marks: DiffMarks | null) => void;
  onRestored: (record: WorkflowRecord) => void;
  onClose: () => void;
}

export function Versions({ workflowId, version, dirty, refreshKey, onMarks, onRestored, onClose }: Props) {
  const [list, setList] = useState<VersionSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [picked, setPicked] = useState<number | null>(null);
  const [diff, setDiff] = useState<WorkflowDiff | null>(null);
  useEffect(() => {
    call("workflow_versions", { id: workflowId })
      .then((r) => {
        setList(r.versions);
        setError(null);
      })
      .catch((e) => setError(errorMessage(e)));
  }, [workflowId, refreshKey]);
  // Marks go when the panel closes.
  useEffect(() => () => onMarks(null), [onMarks]);

  const pick = async (v: number) => {
    setPicked(v);
    try {
      const d = await call("workflow_diff", { id: workflowId, from: v });
      // The removed nodes are drawn from the older version, where they stood.
      const older = d.removed.length > 0 ? await call("workflow_version_get", { id: workflowId, version: v }) : null;
      const gone = new Set(d.removed.map((n) => n.id));
      setDiff(d);
      onMarks({ marks: marksOf(d), removed: older?.nodes.filter((n) => gone.has(n.id)) ?? [] });
    } catch (e) {
      setError(errorMessage(e));
    }
  };
  const restore = async (v: number) => {
    const lose = dirty ? " Your unsaved changes will be lost." : "";
    if (!(await confirm("Restore version", `Save version ${v} again, as the newest version? The versions after it stay in the history.${lose}`, "Restore"))) return;
    try {
      const record = await call("workflow_restore", { id: workflowId, version: v });
      onMarks(null);
      setPicked(null);
      setDiff(null);
      onRestored(record);
    } catch (e) {
      setError(errorMessage(e));
    }
  };
  return (
    <aside className="side" aria-label="Versions" data-testid="versions">
      <header>
        <strong>Versions</strong>
        <span className="spacer" />
        <button className="icon" aria-label="Close versions" onClick={onClose}>
          ×
        </button>
      </header>
      <div className="body">
        {error && <div className="error-text">{error}</div>}
        {list && list.length === 0 && <div className="muted">Not saved yet.</div>}
        {list?.map((v) => (
          <div key={v.version} className={`history-row ${v.version === picked ? "active" : ""}`} onClick={() => void pick(v.version)} data-testid="version-row">
            <div style={{ minWidth: 0, flex: 1 }}>
              <div>
                Version {v.version}
                {v.version === version && <span className="muted"> · open now</span>}
              </div>
              <div className="muted">
                {when(v.savedAt)} · {v.nodeCount} nodes
              </div>
              {v.note && <div className="muted">{v.note}</div>}
              {v.version === picked && diff && (
                <div data-testid="version-diff">
                  <div className="muted">Since this version:</div>
                  <DiffList diff={diff} />
                  {v.version !== list[0]?.version && (
                    <button
                      className="primary"
                      onClick={(e) => {
                        e.stopPropagation();
                        void restore(v.version);
                      }}
                      data-testid="version-restore"
                    >
                      Restore version {v.version}
                    </button>
                  )}
                </div>
              )}
            </div>
          </div>
        ))}
      </div>
    </aside>
  );
}

function DiffList({ diff }: { diff: WorkflowDiff }) {
  const none =
    diff.added.length + diff.removed.length + diff.changed.length + diff.connectionsAdded.length + diff.connectionsRemoved.length + diff.workflow.length === 0;
  if (none) return <div className="muted">No changes.</div>;
  return (
    <ul className="diff-list">
      {diff.added.map((n) => (
        <li key={`a${n.id}`} className="added">
          + {n.name}
        </li>
      ))}
      {diff.removed.map((n) => (
        <li key={`r${n.id}`} className="removed">
          − {n.name}
        </li>
      ))}
      {diff.changed.map((n) =>
        n.changes.length === 0 ? (
          <li key={`m${n.id}`} className="muted">
            ~ {n.name}: moved
          </li>
        ) : (
          n.changes.map((c) => (
            <li key={`c${n.id}${c.path}`} className="changed">
              ~ {n.name}: {change(c)}
            </li>
          ))
        ),
      )}
      {(diff.connectionsAdded.length > 0 || diff.connectionsRemoved.length > 0) && (
        <li className="muted">
          connections: +{diff.connectionsAdded.length} −{diff.connectionsRemoved.length}
        </li>
      )}
      {diff.workflow.map((c) => (
        <li key={`w${c.path}`} className="changed">
          ~ workflow {change(c)}
        </li>
      ))}
    </ul>
  );
}
