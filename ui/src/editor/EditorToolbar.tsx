// The editor's toolbar: back, the workflow's name, save, undo/redo, tidy up, run or stop
// with the run's status, test listening, the active switch, and the panels' buttons.
import type { RunView } from "./run";
import * as S from "./store";
import { ActiveSwitch, TestListener } from "./TriggerControls";

export type Side = "node" | "history" | "versions" | "settings" | null;

interface Props {
  state: S.EditorState;
  dirty: boolean;
  saving: boolean;
  readOnly: boolean;
  run: RunView;
  side: Side;
  update: (f: (s: S.EditorState) => S.EditorState) => void;
  onBack: () => void;
  onSave: () => void;
  onRun: () => void;
  onStop: () => void;
  onSide: (side: Side) => void;
  onImport: () => void;
  onExport: () => void;
  onDeploy: () => void;
  onHelp: () => void;
}

export function EditorToolbar({ state, dirty, saving, readOnly, run, side, update, ...on }: Props) {
  const toggle = (which: Side) => on.onSide(side === which ? null : which);
  return (
    <div className="toolbar" role="toolbar" aria-label="Editor">
      <button onClick={on.onBack} title="Back to the workflows">
        ← Workflows
      </button>
      <input
        className="title"
        aria-label="Workflow name"
        value={state.workflow.name}
        onChange={(e) => update((s) => S.setWorkflowName(s, e.target.value))}
        disabled={readOnly}
      />
      {dirty && (
        <span className="dirty-dot" title="Unsaved changes" data-testid="dirty">
          ●
        </span>
      )}
      <button className="primary" onClick={on.onSave} disabled={saving || readOnly} title="Save (Ctrl+S)" data-testid="save">
        Save
      </button>
      <span className="sep" />
      <button onClick={() => update(S.undo)} disabled={readOnly || state.past.length === 0} title="Undo (Ctrl+Z)" aria-label="Undo">
        ↶
      </button>
      <button onClick={() => update(S.redo)} disabled={readOnly || state.future.length === 0} title="Redo (Shift+Ctrl+Z)" aria-label="Redo">
        ↷
      </button>
      <button onClick={() => update(S.autoLayout)} disabled={readOnly} title="Tidy up (Alt+L)">
        Tidy up
      </button>
      <span className="sep" />
      {run.running ? (
        <button className="danger" onClick={on.onStop} data-testid="stop">
          ■ Stop
        </button>
      ) : (
        <button className="primary" onClick={on.onRun} title="Run (Ctrl+Enter)" data-testid="run">
          ▶ Run
        </button>
      )}
      {run.status && (
        <span className={`run-status ${run.status}`} data-testid="run-status" title={run.error?.message}>
          {run.status}
          {run.durationMs !== null && ` · ${run.durationMs} ms`}
        </span>
      )}
      {run.running && <span className="run-status">running…</span>}
      {!readOnly && <TestListener workflow={state.workflow} />}
      <span className="spacer" />
      <ActiveSwitch workflowId={state.workflow.id} name={state.workflow.name} dirty={dirty} />
      <button onClick={() => toggle("settings")} data-testid="settings-button">
        Settings
      </button>
      <button onClick={() => toggle("history")} data-testid="history-button">
        History
      </button>
      <button onClick={() => toggle("versions")} data-testid="versions-button" title="Saved versions: compare and restore">
        Versions
      </button>
      <button onClick={on.onImport}>Import…</button>
      <button onClick={on.onExport} data-testid="export">
        Export…
      </button>
      <button onClick={on.onDeploy} disabled={readOnly} title="Push it to a Switchyard server (switchyard serve)" data-testid="deploy">
        Deploy…
      </button>
      <button className="icon" onClick={on.onHelp} title="Keyboard shortcuts (?)" aria-label="Keyboard shortcuts">
        ?
      </button>
    </div>
  );
}
