// The metrics dashboard: runs per step, success rate and latency percentiles over a range
// (live from memory, or 1h/24h/7d/30d from the SQLite rollups), a per-workflow table with a
// trend marker and links to the workflow and its failed runs, errors by class, the run queue,
// the process, connection and listener health, and firing alerts. Refreshed every second.
import { useEffect, useRef, useState } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { call, errorMessage } from "../api/client";
import { onApiEvent } from "../api/events";
import { toast } from "../components/toasts";
import type { Alert } from "../gen/Alert";
import type { ClusterStatus } from "../gen/ClusterStatus";
import type { Dashboard as Data } from "../gen/Dashboard";
import type { MetricsPoint } from "../gen/MetricsPoint";
import type { MetricsRange } from "../gen/MetricsRange";
import type { NodeMetrics } from "../gen/NodeMetrics";
import type { Trend } from "../gen/Trend";
import type { WorkerStatus } from "../gen/WorkerStatus";
import type { WorkflowMetrics } from "../gen/WorkflowMetrics";
import { DataTable } from "../components/DataTable";
import { formatSize } from "../lib/size";
import { relativeTime } from "../lib/time";

const RANGES: { range: MetricsRange; label: string }[] = [
  { range: "live", label: "Live" },
  { range: "1h", label: "1 h" },
  { range: "24h", label: "24 h" },
  { range: "7d", label: "7 d" },
  { range: "30d", label: "30 d" },
];

export function ms(v: number | null | undefined): string {
  if (v === null || v === undefined) return "–";
  return v >= 1000 ? `${(v / 1000).toFixed(v >= 10_000 ? 0 : 1)} s` : `${Math.round(v)} ms`;
}

export function percent(rate: number | null | undefined): string {
  if (rate === null || rate === undefined) return "–";
  const p = rate * 100;
  return `${p >= 99.95 || p === 0 ? p.toFixed(0) : p.toFixed(1)} %`;
}

/** An estimated cost in dollars: cents below $100, whole dollars above; "–" without a price. */
export function dollars(v: number | null | undefined): string {
  if (v === null || v === undefined) return "–";
  if (v > 0 && v < 0.01) return "< $0.01";
  return v >= 100 ? `$${Math.round(v).toLocaleString()}` : `$${v.toFixed(2)}`;
}

function bytes(n: number): string {
  return n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(1)} GiB` : `${Math.round(n / 1024 ** 2)} MiB`;
}

const TREND: Record<Trend, { mark: string; label: string }> = {
  improving: { mark: "▲", label: "improving" },
  stable: { mark: "●", label: "stable" },
  degrading: { mark: "▼", label: "degrading" },
  unknown: { mark: "–", label: "not enough runs" },
};

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

let canvasWorks: boolean | null = null;

/** Whether this webview can draw on a canvas (it can; jsdom in tests cannot). */
function canDraw(): boolean {
  canvasWorks ??= document.createElement("canvas").getContext("2d") !== null;
  return canvasWorks;
}

interface ChartProps {
  title: string;
  points: MetricsPoint[];
  stepMs: number;
  series: { label: string; color: string; value: (p: MetricsPoint) => number | null; unit: (v: number) => string }[];
  testId: string;
  /** A fixed y range (a percentage chart). */
  yRange?: [number, number];
}

/** One uPlot chart; rebuilt when its series change, fed new data in place otherwise. */
function Chart({ title, points, stepMs, series, testId, yRange }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const labels = series.map((s) => s.label).join("|");
  const data: uPlot.AlignedData = [points.map((p) => p.t / 1000), ...series.map((s) => points.map((p) => s.value(p)))];
  useEffect(() => {
    const el = box.current;
    if (!el || !canDraw()) return;
    let chart: uPlot | null = null;
    try {
      chart = new uPlot(
        {
          width: Math.max(280, el.clientWidth || 420),
          height: 170,
          legend: { show: true },
          cursor: { drag: { x: false, y: false } },
          scales: { x: { time: true }, y: yRange ? { range: yRange } : {} },
          axes: [
            { stroke: cssVar("--muted", "#667085"), grid: { stroke: cssVar("--border", "#d9dde3"), width: 1 } },
            {
              stroke: cssVar("--muted", "#667085"),
              grid: { stroke: cssVar("--border", "#d9dde3"), width: 1 },
              values: (_u, ticks) => ticks.map((t) => series[0].unit(t)),
              size: 60,
            },
          ],
          series: [
            {},
            ...series.map((s) => ({
              label: s.label,
              stroke: s.color,
              width: 2,
              spanGaps: false,
              points: { show: stepMs >= 3_600_000 || points.length <= 20 },
              value: (_u: uPlot, v: number | null) => (v === null ? "–" : s.unit(v)),
            })),
          ],
        },
        data,
        el,
      );
    } catch (e) {
      console.warn("the chart cannot be drawn", e);
      chart = null;
    }
    plot.current = chart;
    const resize = new ResizeObserver(() => chart?.setSize({ width: Math.max(280, el.clientWidth), height: 170 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      chart?.destroy();
      plot.current = null;
    };
    // Rebuilt only when the set of series or the step changes.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [labels, stepMs]);
  useEffect(() => {
    plot.current?.setData(data);
  });
  return (
    <div className="chart" data-testid={testId}>
      <h2>{title}</h2>
      <div ref={box} />
    </div>
  );
}

function Stat({ label, value, testId, tone }: { label: string; value: string; testId: string; tone?: string }) {
  return (
    <div className={`stat ${tone ?? ""}`} data-testid={testId}>
      <div className="value">{value}</div>
      <div className="label">{label}</div>
    </div>
  );
}

/** A workflow's nodes over the range, slowest first (opened from its row). */
function NodeTable({ workflowId, range }: { workflowId: string; range: MetricsRange }) {
  const [nodes, setNodes] = useState<NodeMetrics[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    call("metrics_nodes", { workflowId, range })
      .then((r) => setNodes(r.nodes))
      .catch((e) => setError(errorMessage(e)));
  }, [workflowId, range]);
  if (error) return <div className="error-text">{error}</div>;
  if (!nodes) return <div className="muted">Loading…</div>;
  return (
    <DataTable
      rows={nodes}
      rowKey={(n) => n.node}
      empty="No node runs stored for this range yet."
      className="plain compact nodes"
      testId="node-metrics"
      rowTestId="node-metrics-row"
      columns={[
        { header: "Node", cell: (n) => n.node },
        { header: "Runs", cell: (n) => n.runs },
        { header: "Failed", className: (n) => (n.failed > 0 ? "error-text" : ""), cell: (n) => n.failed },
        { header: "p50", cell: (n) => ms(n.p50Ms) },
        { header: "p95", cell: (n) => ms(n.p95Ms) },
        { header: "p99", cell: (n) => ms(n.p99Ms) },
        { header: "Items in → out", cell: (n) => `${n.itemsIn} → ${n.itemsOut}` },
        { header: "Retries", cell: (n) => n.retries },
        { header: "Rate-limit waits", cell: (n) => (n.rateWaits > 0 ? `${n.rateWaits} (${ms(n.rateWaitMs)})` : "0") },
        { header: "Breaker changes", cell: (n) => n.breakerChanges },
        { header: "Errors", cell: (n) => n.errors.map((e) => `${e.count} ${e.class.replace("_", " ")}`).join(", ") || "–" },
      ]}
    />
  );
}

/** Server mode: the run queue, every worker and their total, and the dead letters. */
function Cluster({ cluster, onOpenRun }: { cluster: ClusterStatus; onOpenRun: Props["onOpenRun"] }) {
  const t = cluster.total;
  const state = (w: WorkerStatus) => (w.up ? "up" : w.stoppedMs != null ? "stopped" : "gone");
  return (
    <section className="settings-section" data-testid="cluster-panel">
      <h2>Workers and run queue</h2>
      {cluster.problem && <div className="warning-text small">{cluster.problem}</div>}
      {cluster.queue && (
        <div className="muted small" data-testid="cluster-queue">
          {cluster.queue.waiting} waiting · {cluster.queue.pending} running · {cluster.queue.dead} dead {cluster.queue.dead === 1 ? "letter" : "letters"}
        </div>
      )}
      <DataTable
        rows={cluster.workers}
        rowKey={(w) => w.name}
        empty="No worker has reported yet (switchyard worker)."
        testId="cluster-workers"
        rowTestId="cluster-worker"
        columns={[
          {
            header: "Worker",
            cell: (w) => (
              <span title={`${w.name} · pid ${w.pid} · started ${relativeTime(new Date(w.startedMs).toISOString())}`}>
                <span className={`status-dot ${w.up ? "success" : w.stoppedMs != null ? "" : "error"}`} /> {w.host} <span className="muted small">{w.pid}</span>
              </span>
            ),
          },
          { header: "State", testId: "cw-state", cell: (w) => `${state(w)} · seen ${relativeTime(new Date(w.seenMs).toISOString())}` },
          { header: "Running", testId: "cw-running", cell: (w) => `${w.running} of ${w.concurrency}` },
          { header: "Runs", testId: "cw-runs", cell: (w) => w.runs },
          { header: "Failed", className: (w) => (w.failed > 0 ? "error-text" : ""), cell: (w) => w.failed },
          { header: "Taken over", title: () => "Runs of dead workers this one ran again", cell: (w) => w.claimed },
          { header: "Dead letters", cell: (w) => w.deadLetters },
          { header: "Memory", cell: (w) => (w.memoryBytes != null ? bytes(w.memoryBytes) : "–") },
          { header: "CPU", cell: (w) => (w.cpuPercent != null ? `${w.cpuPercent.toFixed(0)} %` : "–") },
        ]}
      />
      <div className="muted small" data-testid="cluster-total">
        All workers: {t.up} up, {t.running} of {t.concurrency} running · {t.runs} runs, {t.failed} failed, {t.claimed} taken over, {t.deadLetters} dead letters
      </div>
      {cluster.deadLetters.length > 0 && (
        <>
          <h3>Dead letters</h3>
          <div className="muted small">Runs that crashed every worker that ran them; they are not run again (switchyard queue).</div>
          {cluster.deadLetters.map((d) => (
            <div key={`${d.executionId}-${d.deadAtMs}`} className="health-row" data-testid="dead-letter">
              <span className="status-dot error" />
              <button className="link" onClick={() => onOpenRun(d.workflowId, d.executionId)} title={d.reason}>
                {d.workflowId} · {d.executionId.slice(0, 8)}
              </button>
              <span className="muted small">
                {d.mode}, delivered {d.deliveries}×{d.deadAtMs != null && ` · ${relativeTime(new Date(d.deadAtMs).toISOString())}`} · {d.reason}
              </span>
            </div>
          ))}
        </>
      )}
    </section>
  );
}

interface Props {
  onOpen: (workflowId: string) => void;
  onOpenRun: (workflowId: string, executionId: string | null) => void;
  onAlerts: () => void;
}

export function Dashboard({ onOpen, onOpenRun, onAlerts }: Props) {
  const [range, setRange] = useState<MetricsRange>("live");
  const [data, setData] = useState<Data | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [updated, setUpdated] = useState<Date | null>(null);
  const [tick, setTick] = useState(0);
  const [expanded, setExpanded] = useState<string | null>(null);

  // Every second: the live view (cheap, from memory). Longer ranges read the SQLite
  // rollups, which takes longer over weeks of data: their charts and table refresh every
  // 10 s, while the gauges (running, waiting, memory, CPU, jobs, listener) stay per second.
  useEffect(() => {
    let cancelled = false;
    let busy = false;
    let ticks = 0;
    const long = range === "24h" || range === "7d" || range === "30d";
    const load = async () => {
      if (busy) return;
      busy = true;
      try {
        const full = !long || ticks % 10 === 0;
        ticks += 1;
        const d = await call("metrics_dashboard", { range: full ? range : "live" });
        if (!cancelled) {
          setData((old) =>
            full || !old
              ? d
              : { ...old, queue: d.queue, process: d.process, listener: d.listener, connections: d.connections, alertsFiring: d.alertsFiring, cluster: d.cluster },
          );
          setError(null);
          setUpdated(new Date());
        }
      } catch (e) {
        if (!cancelled) setError(errorMessage(e));
      } finally {
        busy = false;
      }
    };
    void load();
    const timer = setInterval(() => void load(), 1000);
    return () => {
      cancelled = true;
      clearInterval(timer);
    };
  }, [range, tick]);
  useEffect(() => onApiEvent((e) => e.kind === "alert" && setTick((t) => t + 1)), []);

  const ack = async (alert: Alert) => {
    try {
      await call("alert_ack", { id: alert.id });
      setTick((t) => t + 1);
    } catch (e) {
      toast(errorMessage(e), "error");
    }
  };

  const success = cssVar("--success", "#12a150");
  const danger = cssVar("--danger", "#d92d20");
  const accent = cssVar("--accent", "#2f6fed");
  const warning = cssVar("--warning", "#dc8a00");
  const stepLabel = data ? (data.stepMs >= 3_600_000 ? `${data.stepMs / 3_600_000} h` : `${data.stepMs / 60_000} min`) : "";
  const count = (v: number) => `${Math.round(v)}`;
  // The longest error bar: the most frequent class.
  const maxErrors = Math.max(1, ...(data?.errors.map((e) => e.count) ?? []));

  return (
    <div className="list-page dashboard" data-testid="dashboard">
      <h1>
        Dashboard
        <span className="spacer" />
        <span className="range-buttons" role="group" aria-label="Time range">
          {RANGES.map((r) => (
            <button key={r.range} className={r.range === range ? "active" : ""} onClick={() => setRange(r.range)} data-testid={`range-${r.range}`}>
              {r.label}
            </button>
          ))}
        </span>
      </h1>
      {error && <div className="error-text">{error}</div>}
      {!data && !error && <div className="muted">Loading…</div>}
      {data && (
        <>
          <div className="muted small" data-testid="dashboard-updated">
            {range === "live" ? "Last 15 minutes, live" : `Per ${stepLabel}`} · updated {updated?.toLocaleTimeString()}
          </div>
          {data.alertsFiring.length > 0 && (
            <div className="alert-strip" data-testid="firing-alerts">
              {data.alertsFiring.map((a) => (
                <div key={a.id} className={`alert-row severity-${a.severity}`}>
                  <span className={`badge severity-${a.severity}`}>{a.severity}</span>
                  <span className="message">{a.message}</span>
                  <span className="muted">{relativeTime(a.firedAt)}</span>
                  {a.ackedAt ? (
                    <span className="muted">acknowledged</span>
                  ) : (
                    <button onClick={() => void ack(a)} data-testid="ack-alert">
                      Acknowledge
                    </button>
                  )}
                </div>
              ))}
              <button className="link" onClick={onAlerts}>
                Alert rules →
              </button>
            </div>
          )}
          <div className="stats">
            <Stat label="runs" value={`${data.total.started}`} testId="stat-runs" />
            <Stat
              label="success"
              value={percent(data.total.succeeded + data.total.failed > 0 ? data.total.succeeded / (data.total.succeeded + data.total.failed) : null)}
              testId="stat-success"
              tone={data.total.failed > 0 ? "warn" : ""}
            />
            <Stat label="p95" value={ms(data.total.p95Ms)} testId="stat-p95" />
            <Stat label="running now" value={`${data.queue.active}`} testId="stat-active" />
            <Stat label="waiting" value={`${data.queue.waiting}`} testId="stat-waiting" />
            {data.process && <Stat label="memory" value={bytes(data.process.memoryBytes)} testId="stat-memory" />}
            {data.process && <Stat label="CPU" value={`${data.process.cpuPercent.toFixed(0)} %`} testId="stat-cpu" />}
          </div>
          <div className="charts" key={data.range}>
            <Chart
              title={`Runs per ${stepLabel}`}
              points={data.points}
              stepMs={data.stepMs}
              testId="chart-runs"
              series={[
                { label: "succeeded", color: success, value: (p) => p.succeeded, unit: count },
                { label: "failed", color: danger, value: (p) => p.failed, unit: count },
              ]}
            />
            <Chart
              title="Success rate"
              points={data.points}
              stepMs={data.stepMs}
              testId="chart-success"
              yRange={[0, 100]}
              series={[
                {
                  label: "success",
                  color: accent,
                  value: (p) => (p.succeeded + p.failed > 0 ? (100 * p.succeeded) / (p.succeeded + p.failed) : null),
                  unit: (v) => `${v.toFixed(0)} %`,
                },
              ]}
            />
            <Chart
              title="Run time"
              points={data.points}
              stepMs={data.stepMs}
              testId="chart-latency"
              series={[
                { label: "p50", color: success, value: (p) => p.p50Ms, unit: ms },
                { label: "p95", color: warning, value: (p) => p.p95Ms, unit: ms },
                { label: "p99", color: danger, value: (p) => p.p99Ms, unit: ms },
              ]}
            />
          </div>

          <section className="settings-section">
            <h2>Workflows</h2>
            <DataTable
              rows={data.workflows}
              rowKey={(w) => w.workflowId}
              empty="No runs in this range."
              testId="workflow-metrics"
              rowTestId="workflow-metrics-row"
              detail={(w) => expanded === w.workflowId && <NodeTable workflowId={w.workflowId} range={range} />}
              columns={[
                {
                  header: "Workflow",
                  cell: (w) => (
                    <>
                      <button
                        className="icon expand"
                        aria-label={`${expanded === w.workflowId ? "Hide" : "Show"} the nodes of ${w.name}`}
                        onClick={() => setExpanded(expanded === w.workflowId ? null : w.workflowId)}
                        data-testid="wm-expand"
                      >
                        {expanded === w.workflowId ? "▾" : "▸"}
                      </button>{" "}
                      <button className="link" onClick={() => onOpen(w.workflowId)}>
                        {w.name}
                      </button>
                    </>
                  ),
                },
                { header: "Runs", testId: "wm-runs", cell: (w) => w.started },
                { header: "Success", testId: "wm-success", cell: (w) => percent(w.successRate) },
                { header: "p50", cell: (w) => ms(w.p50Ms) },
                { header: "p95", testId: "wm-p95", cell: (w) => ms(w.p95Ms) },
                ...(data.workflows.some((w) => w.tokensIn + w.tokensOut > 0)
                  ? [{ header: "Tokens", testId: "wm-tokens", title: (w: WorkflowMetrics) => `${w.tokensIn} in, ${w.tokensOut} out · ${dollars(w.costUsd)}`, cell: (w: WorkflowMetrics) => (w.tokensIn + w.tokensOut).toLocaleString() }]
                  : []),
                {
                  header: "Trend",
                  testId: "wm-trend",
                  className: (w) => `trend ${w.trend}`,
                  title: (w) => w.trendReason,
                  cell: (w) => `${TREND[w.trend].mark} ${TREND[w.trend].label}`,
                },
                {
                  header: "Last error",
                  cell: (w) =>
                    w.lastError ? (
                      <>
                        <button className="link error-text" onClick={() => onOpenRun(w.workflowId, w.lastError?.executionId ?? null)} title={w.lastError.message} data-testid="wm-last-error">
                          {w.lastError.node ? `${w.lastError.node}: ` : ""}
                          {w.lastError.message.length > 60 ? `${w.lastError.message.slice(0, 60)}…` : w.lastError.message}
                        </button>
                        <div className="muted small">
                          {relativeTime(w.lastError.at)} ·{" "}
                          <button className="link" onClick={() => onOpenRun(w.workflowId, null)} data-testid="wm-failed-runs">
                            {w.failed} failed {w.failed === 1 ? "run" : "runs"}
                          </button>
                        </div>
                      </>
                    ) : (
                      <span className="muted">none</span>
                    ),
                },
              ]}
            />
          </section>

          {data.models.length > 0 && (
            <section className="settings-section" data-testid="model-usage">
              <h2>AI models</h2>
              <DataTable
                rows={data.models}
                rowKey={(m) => `${m.model} @ ${m.account}`}
                empty="No model calls in this range."
                testId="model-usage-table"
                rowTestId="model-usage-row"
                columns={[
                  { header: "Model", cell: (m) => m.model },
                  { header: "Account", cell: (m) => m.account.replace(/^llm\.openaiCompatible\//, "") },
                  { header: "Calls", cell: (m) => m.calls },
                  { header: "Tokens in", testId: "mu-in", cell: (m) => m.tokensIn.toLocaleString() },
                  { header: "Tokens out", testId: "mu-out", cell: (m) => m.tokensOut.toLocaleString() },
                  { header: "Cost (est.)", testId: "mu-cost", title: () => "From the price table in Settings → AI model prices", cell: (m) => dollars(m.costUsd) },
                ]}
              />
            </section>
          )}

          {data.cluster && <Cluster cluster={data.cluster} onOpenRun={onOpenRun} />}

          <div className="panels">
            <section className="settings-section" data-testid="errors-by-class">
              <h2>Errors by class</h2>
              {data.errors.length === 0 ? (
                <div className="muted">No errors in this range.</div>
              ) : (
                data.errors.map((e) => (
                  <div key={e.class} className="bar-row">
                    <span className="name">{e.class.replace("_", " ")}</span>
                    <span className="bar" style={{ width: `${(100 * e.count) / maxErrors}%` }} />
                    <span className="count">{e.count}</span>
                  </div>
                ))
              )}
            </section>
            <section className="settings-section" data-testid="queue-panel">
              <h2>Jobs</h2>
              <table className="plain compact">
                <tbody>
                  <tr>
                    <td>Waiting</td>
                    <td data-testid="queue-waiting">{data.queue.waiting}</td>
                  </tr>
                  <tr>
                    <td>Running</td>
                    <td data-testid="queue-active">{data.queue.active}</td>
                  </tr>
                  <tr>
                    <td>Completed</td>
                    <td data-testid="queue-completed">{data.queue.completed}</td>
                  </tr>
                  <tr>
                    <td>Failed</td>
                    <td data-testid="queue-failed">{data.queue.failed}</td>
                  </tr>
                </tbody>
              </table>
              <div className="muted small">{data.queue.limit > 0 ? `At most ${data.queue.limit} at once (Settings)` : "No concurrency limit (Settings)"} · since the app started</div>
            </section>
            <section className="settings-section" data-testid="connection-health">
              <h2>Connections</h2>
              {data.connections.length === 0 && <div className="muted">No accounts.</div>}
              {data.connections.map((c) => (
                <div key={c.id} className="health-row" title={c.lastTest?.message ?? ""}>
                  <span className={`status-dot ${c.health === "ok" ? "success" : c.health === "untested" ? "" : "error"}`} />
                  <span>{c.label}</span>
                  <span className="muted small">
                    {c.connectionType} · {c.health === "needsReconnect" ? "needs reconnect" : c.health === "notConnected" ? "not signed in" : c.health}
                    {c.lastTest && ` · tested ${relativeTime(c.lastTest.at)}`}
                  </span>
                </div>
              ))}
            </section>
            <section className="settings-section" data-testid="listener-health">
              <h2>Webhook listener</h2>
              <div className="health-row">
                <span className={`status-dot ${data.listener.listener.running ? "success" : data.listener.listener.error ? "error" : ""}`} />
                <span>{data.listener.listener.running ? `listening on ${data.listener.listener.address}` : data.listener.listener.error ?? "not running"}</span>
              </div>
              <div className="muted small">
                {data.listener.listener.activeWorkflows} active workflows ·{" "}
                {data.listener.deliveries.length === 0
                  ? "no requests since start"
                  : data.listener.deliveries.map(([status, n]) => `${n}× ${status}`).join(", ")}
              </div>
              {data.listener.problems.map((p) => (
                <div key={p} className="warning-text small">
                  {p}
                </div>
              ))}
            </section>
            <section className="settings-section" data-testid="backup-health">
              <h2>Backups</h2>
              <div className="health-row" title={data.lastBackup?.path ?? ""}>
                <span className={`status-dot ${data.backupFailure ? "error" : data.lastBackup ? "success" : ""}`} />
                <span data-testid="last-backup">
                  {data.lastBackup ? `last ${relativeTime(data.lastBackup.createdAt)}, ${formatSize(data.lastBackup.size)}` : "no backup yet"}
                </span>
              </div>
              {data.backupFailure && (
                <div className="error-text small" data-testid="backup-failed">
                  Failed {relativeTime(data.backupFailure.at)}: {data.backupFailure.message}
                </div>
              )}
              <div className="muted small">Daily while Switchyard runs (Settings → Backups)</div>
            </section>
          </div>
        </>
      )}
    </div>
  );
}
