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
import { relativeTime } from "./WorkflowList";
import { sampleFor } from "./webhookSamples";

/** Copies text; falls back to a selected text area where the clipboard API is refused. */
export async function copyToClipboard(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
    return;
  } catch {
    const area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    if (!ok) throw new Error("the clipboard is not available");
  }
}

export async function setActive(id: string, name: string, active: boolean): Promise<boolean> {
  try {
    await call("workflow_activate", { id, active });
    toast(active ? `“${name}” is active` : `“${name}” is paused`, "success");
    return true;
  } catch (e) {
    toast(errorMessage(e), "error");
    return false;
  }
}

const MODES: Record<string, string> = { immediately: "202 at once", lastNode: "last node's output", respondNode: "Respond node" };

function DeliveryTable({ deliveries }: { deliveries: Delivery[] }) {
  if (deliveries.length === 0) return <div className="muted">No deliveries yet.</div>;
  return (
    <table className="plain" data-testid="deliveries">
      <thead>
        <tr>
          <th>When</th>
          <th>Method</th>
          <th>Status</th>
          <th>Signature</th>
          <th>Latency</th>
          <th>Run or error</th>
        </tr>
      </thead>
      <tbody>
        {deliveries.map((d) => (
          <tr key={d.id} data-testid="delivery-row">
            <td title={d.receivedAt}>
              {relativeTime(d.receivedAt)}
              {d.test && " (test)"}
            </td>
            <td>{d.method}</td>
            <td className={d.status < 400 ? "ok-text" : "error-text"}>{d.status}</td>
            <td className={d.verification === "failed" ? "error-text" : ""}>{d.verification}</td>
            <td>{d.latencyMs} ms</td>
            <td className="mono" title={d.body ?? undefined}>
              {d.error ?? d.executionId ?? ""}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
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
        <h3>Webhook endpoints</h3>
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
        <h3>Schedules</h3>
        {schedules.length === 0 && <div className="empty">No workflow has a Schedule trigger yet.</div>}
        {schedules.length > 0 && (
          <table className="plain" data-testid="schedules">
            <thead>
              <tr>
                <th>Workflow</th>
                <th>Rule</th>
                <th>Next</th>
                <th>Last</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {schedules.map((s) => (
                <tr key={`${s.workflowId}/${s.nodeId}`} data-testid="schedule-row">
                  <td>
                    <button className="link" onClick={() => onOpen(s.workflowId)}>
                      {s.workflowName}
                    </button>
                  </td>
                  <td className="mono">{s.rule}</td>
                  <td title={s.nextFire}>{s.nextFire ? new Date(s.nextFire).toLocaleString() : "-"}</td>
                  <td title={s.lastFire}>{s.lastFire ? relativeTime(s.lastFire) : "-"}</td>
                  <td>
                    <label className="switch">
                      <input type="checkbox" checked={s.active} onChange={() => void toggle(s, s.workflowName)} />
                      {s.active ? "Active" : "Paused"}
                    </label>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}
