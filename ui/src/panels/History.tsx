// Execution history of the open workflow; opening a past run shows its data on the canvas.
// A workflow deployed to servers ("Deploy to…") also shows each server's runs of it, read
// through the server's REST API (those open on the server, not here).
import { useEffect, useState } from "react";
import { call, errorMessage } from "../api/client";
import type { Deployment } from "../gen/Deployment";
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
  /** A run here, or (`server`: an account's label) on a server: opened read-only. */
  onOpen: (executionId: string, server?: string) => void;
  onClose: () => void;
}

export function History({ workflowId, activeId, refreshKey, initialFailedOnly, onOpen, onClose }: Props) {
  const [list, setList] = useState<ExecutionSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [failedOnly, setFailedOnly] = useState(initialFailedOnly ?? false);
  const [deployments, setDeployments] = useState<Deployment[]>([]);
  /** "" is this computer; otherwise a server's account label. */
  const [source, setSource] = useState("");
  useEffect(() => {
    call("workflow_deployments", { id: workflowId })
      .then((r) => setDeployments(r.deployments))
      .catch(() => setDeployments([]));
  }, [workflowId]);
  useEffect(() => {
    setList(null);
    const listed =
      source === ""
        ? call("execution_list", { workflowId, limit: 100, status: failedOnly ? "error" : undefined })
        : call("server_executions", { id: workflowId, server: source, limit: 100 });
    listed
      .then((r) => {
        setList(failedOnly && source !== "" ? r.executions.filter((e) => e.status === "error") : r.executions);
        setError(null);
      })
      .catch((e) => setError(errorMessage(e)));
  }, [workflowId, refreshKey, failedOnly, source]);
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
        {deployments.length > 0 && (
          <select value={source} onChange={(e) => setSource(e.target.value)} aria-label="Runs on" data-testid="history-source">
            <option value="">This computer</option>
            {deployments.map((d) => (
              <option key={d.server} value={d.server}>
                {d.server} (version {d.version} deployed {when(d.deployedAt)})
              </option>
            ))}
          </select>
        )}
        {error && <div className="error-text">{error}</div>}
        {list && list.length === 0 && (
          <div className="muted">{failedOnly ? "No failed runs." : source === "" ? "No runs yet. Press Run (Ctrl+Enter)." : `No runs on ${source} yet.`}</div>
        )}
        {list?.map((e) => (
          <div
            key={e.id}
            className={`history-row ${e.id === activeId ? "active" : ""}`}
            onClick={() => onOpen(e.id, source === "" ? undefined : source)}
            title={source === "" ? undefined : `A run on ${source}: opens read-only, read from the server`}
            data-testid="history-row"
          >
            <span className={`status-dot ${e.status}`} />
            <div style={{ minWidth: 0 }}>
              <div>
                {e.status} <span className="muted">· {e.mode}</span>
                {e.attempt != null && e.attempt > 1 && (
                  <span
                    className="warning-text"
                    title="A worker running it died: another worker ran it again from the start (its nodes' side effects may have happened twice)"
                    data-testid="history-attempt"
                  >
                    {" "}
                    · attempt {e.attempt}
                  </span>
                )}
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
