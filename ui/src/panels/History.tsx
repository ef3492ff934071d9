// Execution history of the open workflow; opening a past run shows its data on the canvas.
import { useEffect, useState } from "react";
import { call, errorMessage } from "../api/client";
import type { ExecutionSummary } from "../gen/ExecutionSummary";

function when(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

interface Props {
  workflowId: string;
  activeId: string | null;
  refreshKey: unknown;
  /** Start with failed runs only. */
  initialFailedOnly?: boolean;
  onOpen: (executionId: string) => void;
  onClose: () => void;
}

export function History({ workflowId, activeId, refreshKey, initialFailedOnly, onOpen, onClose }: Props) {
  const [list, setList] = useState<ExecutionSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [failedOnly, setFailedOnly] = useState(initialFailedOnly ?? false);
  useEffect(() => {
    call("execution_list", { workflowId, limit: 100, status: failedOnly ? "error" : undefined })
      .then((r) => {
        setList(r.executions);
        setError(null);
      })
      .catch((e) => setError(errorMessage(e)));
  }, [workflowId, refreshKey, failedOnly]);
  return (
    <aside className="side" aria-label="Execution history" data-testid="history">
      <header>
        <strong>Executions</strong>
        <span className="spacer" />
        <label className="check small">
          <input type="checkbox" checked={failedOnly} onChange={(e) => setFailedOnly(e.target.checked)} data-testid="history-failed-only" />
          failed only
        </label>
        <button className="icon" aria-label="Close history" onClick={onClose}>
          ×
        </button>
      </header>
      <div className="body">
        {error && <div className="error-text">{error}</div>}
        {list && list.length === 0 && <div className="muted">{failedOnly ? "No failed runs." : "No runs yet. Press Run (Ctrl+Enter)."}</div>}
        {list?.map((e) => (
          <div key={e.id} className={`history-row ${e.id === activeId ? "active" : ""}`} onClick={() => onOpen(e.id)} data-testid="history-row">
            <span className={`status-dot ${e.status}`} />
            <div style={{ minWidth: 0 }}>
              <div>
                {e.status} <span className="muted">· {e.mode}</span>
              </div>
              <div className="muted">
                {when(e.startedAt)}
                {e.durationMs !== undefined && e.durationMs !== null && ` · ${e.durationMs} ms`}
              </div>
              {e.error && <div className="error-text" style={{ fontSize: 12 }}>{e.error.message}</div>}
            </div>
          </div>
        ))}
      </div>
    </aside>
  );
}
