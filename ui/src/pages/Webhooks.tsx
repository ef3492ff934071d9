// The Webhooks page: the listener's state, every Webhook trigger with its URL (copy), its
// workflow's active state, recent deliveries and "send sample payload"; and the schedules.
import { Fragment, useCallback, useEffect, useState } from "react";
import { call, errorMessage } from "../api/client";
import { onApiEvent } from "../api/events";
import { toast } from "../components/toasts";
import type { Delivery } from "../gen/Delivery";
import type { SampleSendResponse } from "../gen/SampleSendResponse";
import type { ScheduleState } from "../gen/ScheduleState";
import type { WebhookEndpoint } from "../gen/WebhookEndpoint";
import type { WebhookListResponse } from "../gen/WebhookListResponse";
import { setActive } from "../api/workflows";
import { DataTable } from "../components/DataTable";
import { copyToClipboard } from "../lib/clipboard";
import { relativeTime } from "../lib/time";
import { sampleFor } from "./webhookSamples";

const MODES: Record<string, string> = { immediately: "202 at once", lastNode: "last node's output", respondNode: "Respond node" };

function DeliveryTable({ deliveries }: { deliveries: Delivery[] }) {
  return (
    <DataTable
      rows={deliveries}
      rowKey={(d) => d.id}
      empty="No deliveries yet."
      testId="deliveries"
      rowTestId="delivery-row"
      columns={[
        { header: "When", title: (d) => d.receivedAt, cell: (d) => `${relativeTime(d.receivedAt)}${d.test ? " (test)" : ""}` },
        { header: "Method", cell: (d) => d.method },
        { header: "Status", className: (d) => (d.status < 400 ? "ok-text" : "error-text"), cell: (d) => d.status },
        { header: "Signature", className: (d) => (d.verification === "failed" ? "error-text" : ""), cell: (d) => d.verification },
        { header: "Latency", cell: (d) => `${d.latencyMs} ms` },
        { header: "Run or error", className: "mono", title: (d) => d.body ?? undefined, cell: (d) => d.error ?? d.executionId ?? "" },
      ]}
    />
  );
}

function SampleSender({ endpoint }: { endpoint: WebhookEndpoint }) {
  const [body, setBody] = useState(() => sampleFor(endpoint.signature));
  const [result, setResult] = useState<SampleSendResponse | null>(null);
  const [sending, setSending] = useState(false);
  const send = async () => {
    setSending(true);
    try {
      setResult(await call("webhook_send_sample", { workflowId: endpoint.workflowId, nodeId: endpoint.nodeId, body, test: false }));
    } catch (e) {
      toast(errorMessage(e), "error");
    } finally {
      setSending(false);
    }
  };
  return (
    <div className="sample">
      <label htmlFor={`sample-${endpoint.nodeId}`}>
        Sample payload {endpoint.signature !== "none" && <span className="muted">(signed as {endpoint.signature} with the node's secret)</span>}
      </label>
      <textarea id={`sample-${endpoint.nodeId}`} rows={8} className="mono" value={body} onChange={(e) => setBody(e.target.value)} data-testid="sample-body" />
      <div className="row">
        <button className="primary" disabled={sending || !endpoint.active} onClick={() => void send()} data-testid="send-sample">
          Send sample payload
        </button>
        <button onClick={() => setBody(sampleFor(endpoint.signature))}>Reset sample</button>
        {!endpoint.active && <span className="muted">Activate the workflow to send to its URL.</span>}
      </div>
      {result && (
        <div className="sample-result" data-testid="sample-result">
          <span className={result.status < 400 ? "ok-text" : "error-text"}>{result.status}</span> in {result.latencyMs} ms
          {result.signedWith.length > 0 && <span className="muted"> · signed with {result.signedWith.join(", ")}</span>}
          <pre className="mono">{result.body}</pre>
        </div>
      )}
    </div>
  );
}

export function Webhooks({ onOpen }: { onOpen: (workflowId: string) => void }) {
  const [list, setList] = useState<WebhookListResponse | null>(null);
  const [schedules, setSchedules] = useState<ScheduleState[]>([]);
  const [open, setOpen] = useState<string | null>(null);
  const [deliveries, setDeliveries] = useState<Delivery[]>([]);
  const [error, setError] = useState<string | null>(null);
  const openEndpoint = list?.endpoints.find((e) => `${e.workflowId}/${e.nodeId}` === open) ?? null;

  const refresh = useCallback(() => {
    call("webhook_list", {})
      .then((r) => {
        setList(r);
        setError(null);
      })
      .catch((e) => setError(errorMessage(e)));
    call("schedule_list", {})
      .then((r) => setSchedules(r.schedules))
      .catch(() => {});
  }, []);
  const refreshDeliveries = useCallback(() => {
    if (!openEndpoint) return;
    call("webhook_deliveries", { workflowId: openEndpoint.workflowId, limit: 20 })
      .then((r) => setDeliveries(r.deliveries.filter((d) => d.nodeId === openEndpoint.nodeId)))
      .catch((e) => setError(errorMessage(e)));
  }, [openEndpoint]);

  useEffect(() => {
    refresh();
    const timer = setInterval(refresh, 3000);
    const off = onApiEvent((e) => {
      if (e.kind === "triggers") refresh();
    });
    return () => {
      clearInterval(timer);
      off();
    };
  }, [refresh]);
  useEffect(() => {
    refreshDeliveries();
    const timer = setInterval(refreshDeliveries, 2000);
    return () => clearInterval(timer);
  }, [refreshDeliveries]);

  const toggle = async (e: WebhookEndpoint | ScheduleState, name: string) => {
    if (await setActive(e.workflowId, name, !e.active)) refresh();
  };

  const listener = list?.listener;
  return (
    <div className="list-page" data-testid="webhooks-page">
      <h1>Webhooks and schedules</h1>
      {error && <div className="error-text">{error}</div>}
      {listener && (
        <div className={`listener ${listener.running ? "ok" : "down"}`} data-testid="listener-status">
          {listener.running ? (
            <>
              Listening on <span className="mono">{listener.baseUrl}</span> · {listener.activeWorkflows} active workflow{listener.activeWorkflows === 1 ? "" : "s"} ·{" "}
              {listener.schedules} schedule{listener.schedules === 1 ? "" : "s"}
            </>
          ) : (
            <>Not listening{listener.error ? `: ${listener.error}` : ""}. Change the port in Settings.</>
          )}
          {listener.exposed && <div className="warning-text">The listener is bound to {listener.address}: other machines can call these webhooks.</div>}
        </div>
      )}
      {list?.problems.map((p) => (
        <div key={p} className="warning-text" data-testid="trigger-problem">
          {p}
        </div>
      ))}
      <section className="settings-section">
        <h2>Webhook endpoints</h2>
        {list && list.endpoints.length === 0 && <div className="empty">No workflow has a Webhook trigger yet. Add one in the editor (Triggers → Webhook).</div>}
        <table className="plain endpoints">
          <tbody>
            {list?.endpoints.map((e) => {
              const key = `${e.workflowId}/${e.nodeId}`;
              return (
                <Fragment key={key}>
                  <tr data-testid="endpoint-row" className={open === key ? "open" : ""}>
                    <td>
                      <button className="link" onClick={() => onOpen(e.workflowId)} title="Open the workflow">
                        {e.workflowName}
                      </button>
                      <div className="muted">{e.nodeName}</div>
                    </td>
                    <td className="mono">{e.methods.length ? e.methods.join(", ") : "any"}</td>
                    <td className="mono url" data-testid="endpoint-url">
                      {e.url}
                    </td>
                    <td>
                      <button
                        onClick={() =>
                          copyToClipboard(e.url).then(
                            () => toast("URL copied", "success"),
                            (err) => toast(errorMessage(err), "error"),
                          )
                        }
                        data-testid="copy-url"
                      >
                        Copy URL
                      </button>
                    </td>
                    <td className="muted">
                      {MODES[e.responseMode] ?? e.responseMode}
                      {e.signature !== "none" && ` · ${e.signature} signature`}
                    </td>
                    <td>
                      <label className="switch">
                        <input type="checkbox" checked={e.active} onChange={() => void toggle(e, e.workflowName)} data-testid="endpoint-active" />
                        {e.active ? "Active" : "Paused"}
                      </label>
                    </td>
                    <td>
                      <button onClick={() => setOpen(open === key ? null : key)} data-testid="endpoint-details">
                        {open === key ? "Hide" : "Deliveries…"}
                      </button>
                    </td>
                  </tr>
                  {open === key && (
                    <tr className="details">
                      <td colSpan={7}>
                        <DeliveryTable deliveries={deliveries} />
                        <SampleSender key={key} endpoint={e} />
                      </td>
                    </tr>
                  )}
                </Fragment>
              );
            })}
          </tbody>
        </table>
      </section>
      <section className="settings-section">
        <h2>Schedules</h2>
        {schedules.length === 0 && <div className="empty">No workflow has a Schedule trigger yet.</div>}
        <DataTable
          rows={schedules}
          rowKey={(s) => `${s.workflowId}/${s.nodeId}`}
          testId="schedules"
          rowTestId="schedule-row"
          columns={[
            {
              header: "Workflow",
              cell: (s) => (
                <button className="link" onClick={() => onOpen(s.workflowId)}>
                  {s.workflowName}
                </button>
              ),
            },
            { header: "Rule", className: "mono", cell: (s) => s.rule },
            { header: "Next", title: (s) => s.nextFire, cell: (s) => (s.nextFire ? new Date(s.nextFire).toLocaleString() : "-") },
            { header: "Last", title: (s) => s.lastFire, cell: (s) => (s.lastFire ? relativeTime(s.lastFire) : "-") },
            {
              cell: (s) => (
                <label className="switch">
                  <input type="checkbox" checked={s.active} onChange={() => void toggle(s, s.workflowName)} />
                  {s.active ? "Active" : "Paused"}
                </label>
              ),
            },
          ]}
        />
      </section>
    </div>
  );
}
