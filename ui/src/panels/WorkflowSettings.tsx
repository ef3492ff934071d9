// Workflow settings: run timeout, time zone, error workflow, re-running interrupted runs, and
// the account each connection type uses in this workflow.
import { useEffect, useMemo, useState } from "react";
import { call } from "../api/client";
import { NumberField } from "../components/NumberField";
import type { Workflow } from "../gen/Workflow";
import type { WorkflowSettings as Settings } from "../gen/WorkflowSettings";
import type { WorkflowSummary } from "../gen/WorkflowSummary";
import { WorkflowAccounts } from "./Credentials";

interface Props {
  workflow: Workflow;
  readOnly: boolean;
  onChange: (change: Partial<Omit<Settings, "accounts">>, accounts?: Record<string, string | null>) => void;
  onManageConnections: () => void;
  onClose: () => void;
}

function timeZones(): string[] {
  try {
    return (Intl as unknown as { supportedValuesOf(k: string): string[] }).supportedValuesOf("timeZone");
  } catch {
    return ["UTC"];
  }
}

export function WorkflowSettingsPanel({ workflow, readOnly, onChange, onManageConnections, onClose }: Props) {
  const [others, setOthers] = useState<WorkflowSummary[]>([]);
  useEffect(() => {
    call("workflow_list", {})
      .then((r) => setOthers(r.workflows.filter((w) => w.id !== workflow.id)))
      .catch(() => setOthers([]));
  }, [workflow.id]);
  const zones = useMemo(timeZones, []);
  const errorWorkflowMissing = workflow.settings.errorWorkflow !== null && !others.some((w) => w.id === workflow.settings.errorWorkflow);
  return (
    <aside className="side" aria-label="Workflow settings" data-testid="workflow-settings">
      <header>
        <strong style={{ flex: 1 }}>Workflow settings</strong>
        <button className="icon" title="Close" aria-label="Close workflow settings" onClick={onClose}>
          ×
        </button>
      </header>
      <fieldset className="body" disabled={readOnly} style={{ border: "none", margin: 0, minInlineSize: 0 }}>
        <NumberField
          id="wf-timeout"
          label="Run timeout (seconds)"
          value={workflow.settings.timeoutSeconds}
          min={1}
          whole
          hint="The whole run is cancelled after this long."
          onChange={(n) => onChange({ timeoutSeconds: n })}
        />
        <div className="field">
          <label htmlFor="wf-timezone">Time zone</label>
          <input id="wf-timezone" list="wf-timezones" value={workflow.settings.timezone} onChange={(e) => onChange({ timezone: e.target.value })} />
          <datalist id="wf-timezones">
            {zones.map((z) => (
              <option key={z} value={z} />
            ))}
          </datalist>
          <div className="hint">Used by schedules and date expressions.</div>
        </div>
        <div className="field">
          <label htmlFor="wf-error-workflow">Error workflow</label>
          <select id="wf-error-workflow" value={workflow.settings.errorWorkflow ?? ""} onChange={(e) => onChange({ errorWorkflow: e.target.value || null })}>
            <option value="">None</option>
            {others.map((w) => (
              <option key={w.id} value={w.id}>
                {w.name}
              </option>
            ))}
            {errorWorkflowMissing && <option value={workflow.settings.errorWorkflow ?? ""}>{`${workflow.settings.errorWorkflow} (missing)`}</option>}
          </select>
          <div className="hint">Started when a run of this workflow fails.</div>
        </div>
        <div className="field">
          <label>
            <input
              type="checkbox"
              data-testid="wf-rerun-interrupted"
              checked={workflow.settings.rerunInterrupted ?? false}
              onChange={(e) => onChange({ rerunInterrupted: e.target.checked })}
            />{" "}
            Re-run interrupted runs at start
          </label>
          <div className="hint">
            When the app or switchyard serve starts, runs of this workflow that a crash stopped run again from the input that started them, once each.
            Their side effects before the crash (sent requests, written rows) happen again.
          </div>
        </div>
        <WorkflowAccounts workflow={workflow} onChange={(type, label) => onChange({}, { [type]: label })} onManage={onManageConnections} />
      </fieldset>
    </aside>
  );
}
