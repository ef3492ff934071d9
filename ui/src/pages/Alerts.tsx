// Alert rules and alert history: rules over any metric (comparison, threshold, window,
// cooldown, severity with escalation, actions), switched on and off, edited, tested; alerts
// with acknowledge, updated as they fire, escalate and resolve.
import { useCallback, useEffect, useState } from "react";
import { useAccounts } from "../api/accounts";
import { call, errorMessage } from "../api/client";
import { onApiEvent } from "../api/events";
import { NumberField } from "../components/NumberField";
import { confirm } from "../components/dialogs";
import { toast } from "../components/toasts";
import type { Alert } from "../gen/Alert";
import type { AlertAction } from "../gen/AlertAction";
import type { AlertMetric } from "../gen/AlertMetric";
import type { AlertRule } from "../gen/AlertRule";
import type { Comparison } from "../gen/Comparison";
import type { Severity } from "../gen/Severity";
import type { WorkflowSummary } from "../gen/WorkflowSummary";
import { DataTable } from "../components/DataTable";
import { relativeTime } from "../lib/time";

export const METRICS: { value: AlertMetric; label: string; gauge?: boolean }[] = [
  { value: "errorRate", label: "Error rate (%)" },
  { value: "failedRuns", label: "Failed runs" },
  { value: "runs", label: "Runs" },
  { value: "p50Ms", label: "p50 run time (ms)" },
  { value: "p95Ms", label: "p95 run time (ms)" },
  { value: "p99Ms", label: "p99 run time (ms)" },
  { value: "retries", label: "Retries" },
  { value: "webhookErrors", label: "Webhook error responses" },
  { value: "activeRuns", label: "Active runs", gauge: true },
  { value: "queueWaiting", label: "Runs waiting", gauge: true },
  { value: "memoryMb", label: "Memory (MiB)", gauge: true },
  { value: "cpuPercent", label: "CPU (%)", gauge: true },
];
const COMPARISONS: { value: Comparison; label: string }[] = [
  { value: "gt", label: ">" },
  { value: "gte", label: "≥" },
  { value: "lt", label: "<" },
  { value: "lte", label: "≤" },
];
const SEVERITIES: Severity[] = ["info", "warning", "error", "critical"];

export function describe(rule: AlertRule): string {
  const metric = METRICS.find((m) => m.value === rule.metric);
  const cmp = COMPARISONS.find((c) => c.value === rule.comparison)?.label ?? rule.comparison;
  const over = metric?.gauge ? "" : ` over ${rule.windowMinutes} min`;
  return `${metric?.label ?? rule.metric} ${cmp} ${rule.threshold}${over}`;
}

export function emptyRule(): AlertRule {
  return {
    id: "",
    name: "",
    enabled: true,
    metric: "errorRate",
    workflowId: null,
    comparison: "gt",
    threshold: 10,
    windowMinutes: 5,
    minRuns: 5,
    cooldownMinutes: 30,
    severity: "warning",
    escalateAfterMinutes: 0,
    actions: [{ type: "notify" }],
  };
}

/** One action, as the rules table lists it. */
function actionText(a: AlertAction, workflowName: (id: string | null) => string): string {
  switch (a.type) {
    case "notify":
      return "notify";
    case "webhook":
      return "webhook";
    case "runWorkflow":
      return `run ${workflowName(a.workflowId)}`;
    case "email":
      return `email ${a.to}`;
  }
}

/** The form for one rule. */
function RuleForm({ rule, workflows, onSave, onCancel }: { rule: AlertRule; workflows: WorkflowSummary[]; onSave: (r: AlertRule) => Promise<void>; onCancel: () => void }) {
  const [draft, setDraft] = useState<AlertRule>(rule);
  const [saving, setSaving] = useState(false);
  const set = <K extends keyof AlertRule>(key: K, value: AlertRule[K]) => setDraft((d) => ({ ...d, [key]: value }));
  const notify = draft.actions.some((a) => a.type === "notify");
  const webhook = draft.actions.find((a): a is Extract<AlertAction, { type: "webhook" }> => a.type === "webhook");
  const runWorkflow = draft.actions.find((a): a is Extract<AlertAction, { type: "runWorkflow" }> => a.type === "runWorkflow");
  const email = draft.actions.find((a): a is Extract<AlertAction, { type: "email" }> => a.type === "email");
  const smtpAccounts = useAccounts().accounts.filter((a) => a.connectionType === "email.smtp");
  type Choice = { notify: boolean; url: string | null; wf: string | null; mail: { account: string; to: string } | null };
  const current: Choice = { notify, url: webhook?.url ?? null, wf: runWorkflow?.workflowId ?? null, mail: email ? { account: email.account, to: email.to } : null };
  const setActions = (change: Partial<Choice>) => {
    const next = { ...current, ...change };
    const actions: AlertAction[] = [];
    if (next.notify) actions.push({ type: "notify" });
    if (next.url !== null) actions.push({ type: "webhook", url: next.url });
    if (next.wf !== null) actions.push({ type: "runWorkflow", workflowId: next.wf });
    if (next.mail !== null) actions.push({ type: "email", ...next.mail });
    set("actions", actions);
  };
  const gauge = METRICS.find((m) => m.value === draft.metric)?.gauge;
  return (
    <form
      className="rule-form"
      data-testid="rule-form"
      onSubmit={(e) => {
        e.preventDefault();
        setSaving(true);
        void onSave(draft).finally(() => setSaving(false));
      }}
    >
      <label>
        Name
        <input id="rule-name" value={draft.name} onChange={(e) => set("name", e.target.value)} placeholder="Orders failing" />
      </label>
      <div className="row">
        <label>
          Metric
          <select id="rule-metric" value={draft.metric} onChange={(e) => set("metric", e.target.value as AlertMetric)}>
            {METRICS.map((m) => (
              <option key={m.value} value={m.value}>
                {m.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Workflow
          <select id="rule-workflow" value={draft.workflowId ?? ""} onChange={(e) => set("workflowId", e.target.value || null)} disabled={gauge}>
            <option value="">All workflows</option>
            {workflows.map((w) => (
              <option key={w.id} value={w.id}>
                {w.name}
              </option>
            ))}
          </select>
        </label>
      </div>
      <div className="row">
        <label>
          Is
          <select id="rule-comparison" value={draft.comparison} onChange={(e) => set("comparison", e.target.value as Comparison)}>
            {COMPARISONS.map((c) => (
              <option key={c.value} value={c.value}>
                {c.label}
              </option>
            ))}
          </select>
        </label>
        <NumberField id="rule-threshold" label="Threshold" value={draft.threshold} min={0} onChange={(n) => set("threshold", n)} />
        {!gauge && <NumberField whole id="rule-window" label="Over (minutes)" value={draft.windowMinutes} min={1} max={60} onChange={(n) => set("windowMinutes", n)} />}
        <NumberField whole id="rule-min-runs" label="At least runs" value={draft.minRuns} min={0} onChange={(n) => set("minRuns", n)} />
      </div>
      <div className="row">
        <label>
          Severity
          <select id="rule-severity" value={draft.severity} onChange={(e) => set("severity", e.target.value as Severity)}>
            {SEVERITIES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <NumberField whole id="rule-escalate" label="Escalate after (min, 0: never)" value={draft.escalateAfterMinutes} min={0} onChange={(n) => set("escalateAfterMinutes", n)} />
        <NumberField whole id="rule-cooldown" label="Cooldown (min)" value={draft.cooldownMinutes} min={0} onChange={(n) => set("cooldownMinutes", n)} />
      </div>
      <fieldset>
        <legend>When it fires</legend>
        <label className="check">
          <input type="checkbox" id="rule-notify" checked={notify} onChange={(e) => setActions({ notify: e.target.checked })} />
          Desktop notification
        </label>
        <label className="check">
          <input type="checkbox" checked={webhook !== undefined} onChange={(e) => setActions({ url: e.target.checked ? "https://" : null })} />
          Post to a webhook (Slack or Discord incoming-webhook URL)
        </label>
        {webhook && <input id="rule-webhook" className="mono" value={webhook.url} onChange={(e) => setActions({ url: e.target.value })} />}
        <label className="check">
          <input type="checkbox" checked={runWorkflow !== undefined} onChange={(e) => setActions({ wf: e.target.checked ? (workflows[0]?.id ?? "") : null })} />
          Run a workflow (the alert is its input)
        </label>
        {runWorkflow && (
          <select id="rule-run-workflow" value={runWorkflow.workflowId} onChange={(e) => setActions({ wf: e.target.value })}>
            {workflows.map((w) => (
              <option key={w.id} value={w.id}>
                {w.name}
              </option>
            ))}
          </select>
        )}
        <label className="check">
          <input
            type="checkbox"
            id="rule-email"
            checked={email !== undefined}
            onChange={(e) => setActions({ mail: e.target.checked ? { account: smtpAccounts[0]?.label ?? "", to: "" } : null })}
          />
          Send an email (through an SMTP account of Connections)
        </label>
        {email && (
          <div className="row">
            <label>
              Account
              <select id="rule-email-account" value={email.account} onChange={(e) => setActions({ mail: { account: e.target.value, to: email.to } })}>
                {smtpAccounts.length === 0 && <option value="">No SMTP account yet: add one in Connections</option>}
                {smtpAccounts.map((a) => (
                  <option key={a.id} value={a.label}>
                    {a.label}
                  </option>
                ))}
              </select>
            </label>
            <label>
              To
              <input id="rule-email-to" value={email.to} placeholder="ops@example.com" onChange={(e) => setActions({ mail: { account: email.account, to: e.target.value } })} />
            </label>
          </div>
        )}
      </fieldset>
      <div className="row">
        <button type="submit" className="primary" disabled={saving} data-testid="rule-save">
          Save rule
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

export function Alerts() {
  const [rules, setRules] = useState<AlertRule[] | null>(null);
  const [alerts, setAlerts] = useState<Alert[]>([]);
  const [workflows, setWorkflows] = useState<WorkflowSummary[]>([]);
  const [editing, setEditing] = useState<AlertRule | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const [r, a, w] = await Promise.all([call("alert_rules", {}), call("alerts_list", { firingOnly: false, limit: 100 }), call("workflow_list", {})]);
      setRules(r.rules);
      setAlerts(a.alerts);
      setWorkflows(w.workflows);
      setError(null);
    } catch (e) {
      setError(errorMessage(e));
    }
  }, []);
  useEffect(() => void load(), [load]);
  useEffect(() => onApiEvent((e) => e.kind === "alert" && void load()), [load]);

  const save = async (rule: AlertRule) => {
    try {
      await call("alert_rule_save", rule);
      toast(`Saved “${rule.name}”`, "success");
      setEditing(null);
      await load();
    } catch (e) {
      toast(errorMessage(e), "error");
    }
  };
  const toggle = (rule: AlertRule) => save({ ...rule, enabled: !rule.enabled });
  const remove = async (rule: AlertRule) => {
    if (!(await confirm("Delete alert rule", `Delete the alert rule “${rule.name}”?`, "Delete", true))) return;
    try {
      await call("alert_rule_delete", { id: rule.id });
      await load();
    } catch (e) {
      toast(errorMessage(e), "error");
    }
  };
  const test = async (rule: AlertRule) => {
    try {
      const r = await call("alert_rule_test", { id: rule.id });
      if (r.results.length === 0) toast("The rule has no actions to test");
      for (const res of r.results) toast(`${res.action}: ${res.message}`, res.ok ? "success" : "error");
    } catch (e) {
      toast(errorMessage(e), "error");
    }
  };
  const ack = async (alert: Alert) => {
    try {
      await call("alert_ack", { id: alert.id });
      await load();
    } catch (e) {
      toast(errorMessage(e), "error");
    }
  };
  const workflowName = (id: string | null) => (id ? workflows.find((w) => w.id === id)?.name ?? id : "all workflows");

  return (
    <div className="list-page" data-testid="alerts-page">
      <h1>
        Alerts
        <span className="spacer" />
        <button className="primary" onClick={() => setEditing(emptyRule())} data-testid="rule-new">
          New rule
        </button>
      </h1>
      {error && <div className="error-text">{error}</div>}
      {editing && <RuleForm key={editing.id || "new"} rule={editing} workflows={workflows} onSave={save} onCancel={() => setEditing(null)} />}
      <section className="settings-section">
        <h2>Rules</h2>
        {rules && (
          <DataTable
            rows={rules}
            rowKey={(r) => r.id}
            empty="No rules. Add one with New rule."
            testId="rules"
            rowTestId="rule-row"
            columns={[
              {
                header: "On",
                cell: (r) => <input type="checkbox" className="switch" checked={r.enabled} onChange={() => void toggle(r)} aria-label={`${r.name} on`} data-testid="rule-enabled" />,
              },
              {
                header: "Rule",
                cell: (r) => (
                  <>
                    {r.name}
                    <div className="muted small">{workflowName(r.workflowId ?? null)}</div>
                  </>
                ),
              },
              {
                header: "Condition",
                cell: (r) => (
                  <>
                    {describe(r)}
                    <div className="muted small">
                      cooldown {r.cooldownMinutes} min{r.escalateAfterMinutes > 0 && ` · escalates every ${r.escalateAfterMinutes} min`}
                      {" · "}
                      {r.actions.length === 0 ? "no actions" : r.actions.map((a) => actionText(a, workflowName)).join(", ")}
                    </div>
                  </>
                ),
              },
              { header: "Severity", cell: (r) => <span className={`badge severity-${r.severity}`}>{r.severity}</span> },
              {
                className: "actions",
                cell: (r) => (
                  <>
                    <button onClick={() => setEditing(r)}>Edit</button>
                    <button onClick={() => void test(r)}>Test</button>
                    <button className="danger" onClick={() => void remove(r)}>
                      Delete
                    </button>
                  </>
                ),
              },
            ]}
          />
        )}
      </section>
      <section className="settings-section">
        <h2>History</h2>
        <DataTable
          rows={alerts}
          rowKey={(a) => a.id}
          empty="No alerts yet."
          testId="alert-history"
          rowTestId="alert-row"
          columns={[
            { header: "Fired", title: (a) => a.firedAt, cell: (a) => relativeTime(a.firedAt) },
            { header: "Severity", cell: (a) => <span className={`badge severity-${a.severity}`}>{a.severity}</span> },
            {
              header: "Alert",
              cell: (a) => (
                <>
                  {a.message}
                  {a.actions.length > 0 && (
                    <div className="muted small">
                      {a.actions.map((r, i) => (
                        <span key={i} className={r.ok ? "" : "error-text"}>
                          {i > 0 && " · "}
                          {r.action}: {r.message}
                        </span>
                      ))}
                    </div>
                  )}
                </>
              ),
            },
            {
              header: "State",
              testId: "alert-state",
              cell: (a) => (
                <>
                  {a.state === "firing" ? "firing" : `resolved ${a.resolvedAt ? relativeTime(a.resolvedAt) : ""}`}
                  {a.escalatedAt && <div className="muted small">escalated {relativeTime(a.escalatedAt)}</div>}
                  {a.ackedAt && <div className="muted small">acknowledged</div>}
                </>
              ),
            },
            {
              cell: (a) =>
                a.state === "firing" &&
                !a.ackedAt && (
                  <button onClick={() => void ack(a)} data-testid="alert-ack">
                    Acknowledge
                  </button>
                ),
            },
          ]}
        />
      </section>
    </div>
  );
}
