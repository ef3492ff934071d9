// The Orchestrations page: every AI Orchestrate node of the saved workflows, its agents with
// their figures over the last runs (answered, won, tokens, latency), and each run's record —
// who answered what, how the votes fell, who won and how.
import { useCallback, useEffect, useState } from "react";
import { call, errorMessage } from "../api/client";
import { DataTable } from "../components/DataTable";
import type { OrchestrationNode } from "../gen/OrchestrationNode";
import type { OrchestrationRun } from "../gen/OrchestrationRun";
import { relativeTime } from "../lib/time";

/** One agent's line of a record, as the node writes it. */
export interface AgentRecord {
  agent: string;
  model: string;
  account: string;
  promptHash: string;
  tokensIn: number;
  tokensOut: number;
  latencyMs: number;
  status: "answered" | "failed" | "timedOut" | "cancelled";
  answer?: unknown;
  error?: string;
  vote?: string;
  group?: number;
}

/** One item's record. */
export interface OrchestrationRecord {
  strategy: string;
  winner?: string;
  decidedBy?: "majority" | "plurality" | "tieBreaker";
  groups?: { answer: unknown; agents: string[]; votes: number }[];
  agents: AgentRecord[];
  referees?: { role: string; model: string; account: string; tokensIn: number; tokensOut: number; latencyMs: number; answer: unknown }[];
}

/** A record from the run data, or null when it is not one. */
export function asRecord(value: unknown): OrchestrationRecord | null {
  if (!value || typeof value !== "object") return null;
  const r = value as Partial<OrchestrationRecord>;
  return typeof r.strategy === "string" && Array.isArray(r.agents) ? (r as OrchestrationRecord) : null;
}

/** An answer in one line. */
export function answerText(answer: unknown): string {
  if (answer === undefined || answer === null) return "";
  const text = typeof answer === "string" ? answer : JSON.stringify(answer);
  return text.length > 160 ? `${text.slice(0, 160)}…` : text;
}

const DECIDED: Record<string, string> = { majority: "by majority", plurality: "by the most votes", tieBreaker: "by the tie-breaker" };
const STATUS: Record<string, string> = { answered: "answered", failed: "failed", timedOut: "timed out", cancelled: "cancelled" };

function RecordView({ record, index }: { record: OrchestrationRecord; index: number }) {
  return (
    <div className="orchestration-record" data-testid="orchestration-record">
      <div>
        {index > 0 && <span className="muted">item {index} · </span>}
        {record.winner ? (
          <>
            Winner <strong data-testid="record-winner">{record.winner}</strong>
            {record.decidedBy && <span className="muted"> {DECIDED[record.decidedBy] ?? record.decidedBy}</span>}
          </>
        ) : (
          <span className="muted">No winner</span>
        )}
        {record.groups && record.groups.length > 0 && (
          <span className="muted" data-testid="record-tally">
            {" "}
            · {record.groups.map((g) => `${g.agents.join(", ")} (${g.votes})`).join(" vs ")}
          </span>
        )}
      </div>
      <DataTable
        rows={record.agents}
        rowKey={(a) => a.agent}
        rowTestId="vote-row"
        columns={[
          { header: "Agent", cell: (a) => a.agent },
          { header: "Model", className: "mono", cell: (a) => a.model, title: (a) => `${a.account} · prompt ${a.promptHash}` },
          { header: "Status", className: (a) => (a.status === "answered" ? "" : "error-text"), cell: (a) => STATUS[a.status] ?? a.status, title: (a) => a.error },
          { header: "Answer", className: "mono", cell: (a) => answerText(a.answer) || a.error || "" },
          { header: "Vote", cell: (a) => (a.group === undefined ? (a.vote ?? "") : `group ${a.group + 1}${a.agent === record.winner ? " ✓" : ""}`), title: (a) => a.vote },
          { header: "Tokens", cell: (a) => `${a.tokensIn} / ${a.tokensOut}` },
          { header: "Latency", cell: (a) => `${a.latencyMs} ms` },
        ]}
      />
      {record.referees?.map((r) => (
        <div key={r.role} className="muted">
          {r.role === "judge" ? "Judge" : "Tie-breaker"} {r.model} ({r.account}): {answerText(r.answer)} · {r.tokensIn} / {r.tokensOut} tokens · {r.latencyMs} ms
        </div>
      ))}
    </div>
  );
}

function RunView({ run, onOpenRun }: { run: OrchestrationRun; onOpenRun: () => void }) {
  const records = run.records.map(asRecord).filter((r): r is OrchestrationRecord => r !== null);
  return (
    <li className="orchestration-run" data-testid="orchestration-run">
      <div className="row">
        <span className={run.status === "error" ? "error-text" : "ok-text"}>{run.status === "error" ? "Failed" : "Done"}</span>
        <span className="muted" title={run.startedAt}>
          {relativeTime(run.startedAt)} · {run.durationMs} ms
        </span>
        <button className="link" onClick={onOpenRun} data-testid="open-run">
          Open the run
        </button>
      </div>
      {run.error && <div className="error-text">{run.error.message}</div>}
      {records.map((r, i) => (
        <RecordView key={i} record={r} index={i} />
      ))}
    </li>
  );
}

function NodeView({ node, onOpen, onOpenRun }: { node: OrchestrationNode; onOpen: () => void; onOpenRun: (execution: string) => void }) {
  return (
    <section className="settings-section" data-testid="orchestration-node">
      <h2>
        <button className="link" onClick={onOpen} title="Open the workflow">
          {node.workflowName}
        </button>{" "}
        · {node.nodeName} <span className="muted">({node.strategy})</span>
      </h2>
      <DataTable
        rows={node.agents}
        rowKey={(a) => a.name}
        testId="agent-figures"
        rowTestId="agent-row"
        columns={[
          { header: "Agent", cell: (a) => a.name },
          { header: "Model", className: "mono", cell: (a) => a.model || "the node's" },
          { header: "Account", cell: (a) => a.account ?? "the node's" },
          { header: "Answered", cell: (a) => `${a.answered} of ${a.asked}` },
          { header: "Won", cell: (a) => a.won },
          { header: "Tokens in / out", cell: (a) => `${a.tokensIn} / ${a.tokensOut}` },
          { header: "Mean latency", cell: (a) => (a.answered ? `${a.meanLatencyMs} ms` : "") },
        ]}
      />
      {node.runs.length === 0 ? (
        <div className="muted">It has not run yet.</div>
      ) : (
        <ul className="orchestration-runs">
          {node.runs.map((run) => (
            <RunView key={run.executionId} run={run} onOpenRun={() => onOpenRun(run.executionId)} />
          ))}
        </ul>
      )}
    </section>
  );
}

export function Orchestrations({ onOpen, onOpenRun }: { onOpen: (workflowId: string) => void; onOpenRun: (workflowId: string, executionId: string) => void }) {
  const [nodes, setNodes] = useState<OrchestrationNode[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const refresh = useCallback(() => {
    call("orchestration_list", { runs: 5 })
      .then((r) => {
        setNodes(r.nodes);
        setError(null);
      })
      .catch((e) => setError(errorMessage(e)));
  }, []);
  useEffect(() => {
    refresh();
    const timer = setInterval(refresh, 5000);
    return () => clearInterval(timer);
  }, [refresh]);
  return (
    <div className="list-page" data-testid="orchestrations-page">
      <h1>AI orchestrations</h1>
      {error && <div className="error-text">{error}</div>}
      {nodes && nodes.length === 0 && (
        <div className="empty">No saved workflow has an AI Orchestrate node yet. Add one in the editor: several agents working one after another, at once, or voting.</div>
      )}
      {nodes?.map((n) => (
        <NodeView key={`${n.workflowId}/${n.nodeId}`} node={n} onOpen={() => onOpen(n.workflowId)} onOpenRun={(execution) => onOpenRun(n.workflowId, execution)} />
      ))}
    </div>
  );
}
