// The node panel (double-click a node): its name, the form generated from its descriptor, and
// its settings.
import { useEffect, useState } from "react";
import type { Node } from "../gen/Node";
import type { NodeDescriptor } from "../gen/NodeDescriptor";
import type { NodeSettings } from "../gen/NodeSettings";
import type { ValidationIssue } from "../gen/ValidationIssue";
import type { CredentialRef } from "../gen/CredentialRef";
import { CredentialSlots } from "./Credentials";
import { ParameterForm, type PreviewContext } from "./Fields";
import { RetrySettings } from "./RetrySettings";

interface Props {
  node: Node;
  descriptor: NodeDescriptor | undefined;
  issues: ValidationIssue[];
  context: PreviewContext;
  readOnly: boolean;
  onRename: (name: string) => void;
  onParameter: (name: string, value: unknown) => void;
  onSettings: (settings: Partial<NodeSettings>) => void;
  onCredential: (slot: string, ref: CredentialRef | null) => void;
  onManageConnections: () => void;
  onClose: () => void;
}

const ON_ERROR: [NodeSettings["onError"], string][] = [
  ["stop", "Stop the run"],
  ["continue", "Continue (items carry their error)"],
  ["errorOutput", "Send failed items to an error output"],
];

export function NodePanel({ node, descriptor, issues, context, readOnly, onRename, onParameter, onSettings, onCredential, onManageConnections, onClose }: Props) {
  const [tab, setTab] = useState<"parameters" | "settings">("parameters");
  const [name, setName] = useState(node.name);
  useEffect(() => setName(node.name), [node.name]);
  const commitName = () => {
    if (name.trim() && name !== node.name) onRename(name);
    else setName(node.name);
  };
  return (
    <aside className="side" aria-label={`Node ${node.name}`} data-testid="node-panel">
      <header>
        <input
          aria-label="Node name"
          value={name}
          disabled={readOnly}
          onChange={(e) => setName(e.target.value)}
          onBlur={commitName}
          onKeyDown={(e) => {
            if (e.key === "Enter") commitName();
            if (e.key === "Escape") setName(node.name);
          }}
        />
        <button className="icon" title="Close (Escape)" aria-label="Close node panel" onClick={onClose}>
          ×
        </button>
      </header>
      <div className="tabs">
        <button className={tab === "parameters" ? "active" : ""} onClick={() => setTab("parameters")}>
          Parameters
        </button>
        <button className={tab === "settings" ? "active" : ""} onClick={() => setTab("settings")}>
          Settings
        </button>
      </div>
      <fieldset className="body" disabled={readOnly} style={{ border: "none", margin: 0, minInlineSize: 0 }}>
        {descriptor ? <div className="muted">{descriptor.description}</div> : <div className="error-text">Unknown node type {node.type} (version {node.version}).</div>}
        {issues.length > 0 && (
          <ul className="issue-list" data-testid="node-issues">
            {issues.map((i, n) => (
              <li key={n}>
                {i.message} <span className="muted">({i.path})</span>
              </li>
            ))}
          </ul>
        )}
        {tab === "parameters" && descriptor && descriptor.credentials.length > 0 && (
          <CredentialSlots slots={descriptor.credentials} parameters={node.parameters as Record<string, unknown>} defaults={Object.fromEntries(descriptor.parameters.map((p) => [p.name, p.default]))} credentials={node.credentials} workflow={context.workflow} onChange={onCredential} onManage={onManageConnections} />
        )}
        {tab === "parameters" &&
          (descriptor && descriptor.parameters.length > 0 ? (
            <ParameterForm specs={descriptor.parameters} values={node.parameters} onChange={onParameter} context={context} />
          ) : (
            <div className="muted">This node has no parameters.</div>
          ))}
        {tab === "settings" && (
          <>
            <div className="field">
              <label>On error</label>
              <select aria-label="On error" value={node.settings.onError} onChange={(e) => onSettings({ onError: e.target.value as NodeSettings["onError"] })}>
                {ON_ERROR.map(([value, label]) => (
                  <option key={value} value={value}>
                    {label}
                  </option>
                ))}
              </select>
            </div>
            <RetrySettings settings={node.settings} perItem={descriptor?.perItemCalls ?? false} onSettings={onSettings} />
            <div className="field row">
              <input id="node-disabled" type="checkbox" checked={node.settings.disabled} onChange={(e) => onSettings({ disabled: e.target.checked })} />
              <label htmlFor="node-disabled" style={{ margin: 0 }}>
                Disabled (pass items through without running)
              </label>
            </div>
            <div className="field">
              <label htmlFor="node-notes">Notes</label>
              <textarea id="node-notes" rows={4} value={node.settings.notes} onChange={(e) => onSettings({ notes: e.target.value })} />
            </div>
            <div className="muted">
              Id <span className="mono">{node.id}</span> · type <span className="mono">{node.type}</span> v{node.version}
            </div>
          </>
        )}
      </fieldset>
    </aside>
  );
}
