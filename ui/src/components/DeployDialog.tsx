// "Deploy to…": pushes the saved workflow to a Switchyard server (`switchyard serve`) with a
// Switchyard server account (its URL and an admin API token, under Connections), trusts it
// there, optionally activates it, and lists the accounts the server still lacks: accounts
// travel as references, their secrets stay in each machine's own vault.
import { useEffect, useState } from "react";
import { call, errorMessage } from "../api/client";
import type { AccountInfo } from "../gen/AccountInfo";
import type { WorkflowDeployResponse } from "../gen/WorkflowDeployResponse";
import { Modal } from "./Modal";

interface Props {
  workflowId: string;
  name: string;
  dirty: boolean;
  onManageConnections: () => void;
  onClose: () => void;
}

export function DeployDialog({ workflowId, name, dirty, onManageConnections, onClose }: Props) {
  const [servers, setServers] = useState<AccountInfo[] | null>(null);
  const [server, setServer] = useState("");
  const [activate, setActivate] = useState(true);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<WorkflowDeployResponse | null>(null);
  const [error, setError] = useState<{ message: string; conflict: boolean } | null>(null);
  useEffect(() => {
    Promise.all([call("account_list", {}), call("workflow_deployments", { id: workflowId })])
      .then(([accounts, deployed]) => {
        const list = accounts.accounts.filter((a) => a.connectionType === "switchyard.server");
        setServers(list);
        setServer(deployed.deployments.find((d) => list.some((a) => a.label === d.server))?.server ?? list[0]?.label ?? "");
      })
      .catch((e) => setError({ message: errorMessage(e), conflict: false }));
  }, [workflowId]);
  const deploy = async (force: boolean) => {
    setBusy(true);
    setError(null);
    try {
      setDone(await call("workflow_deploy", { id: workflowId, server, activate, force }));
    } catch (e) {
      const code = (e as { code?: string }).code;
      setError({ message: errorMessage(e), conflict: code === "conflict" });
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal label="Deploy to a server" className="deploy-dialog" testId="deploy-dialog" onClose={onClose}>
      <h2>Deploy “{name}”</h2>
      {dirty && <p className="error-text">Save first: the saved version is what goes to the server.</p>}
      {servers && servers.length === 0 && (
        <p data-testid="deploy-no-servers">
          No Switchyard server yet. Add one under Connections → Switchyard server, with its URL and an <code>admin</code> API token made there (
          <code>switchyard tokens create --scope admin</code>).{" "}
          <button className="link" onClick={onManageConnections}>
            Open Connections
          </button>
        </p>
      )}
      {servers && servers.length > 0 && !done && (
        <>
          <div className="field">
            <label htmlFor="deploy-server">Server</label>
            <select id="deploy-server" value={server} onChange={(e) => setServer(e.target.value)} data-testid="deploy-server">
              {servers.map((s) => (
                <option key={s.id} value={s.label}>
                  {s.label} ({s.fields.baseUrl})
                </option>
              ))}
            </select>
          </div>
          <label className="check">
            <input type="checkbox" checked={activate} onChange={(e) => setActivate(e.target.checked)} data-testid="deploy-activate" />
            Activate it there (serve its triggers)
          </label>
          <p className="muted">Accounts go by reference: the server uses its own accounts with the same connection and label.</p>
        </>
      )}
      {error && (
        <div className="error-text" data-testid="deploy-error">
          {error.message}
        </div>
      )}
      {done && (
        <div data-testid="deploy-result">
          <p>
            {done.created ? "Deployed to" : "Updated on"} <strong>{done.server}</strong> ({done.url}): version {done.version}
            {done.active ? ", active." : "."}
          </p>
          {done.missingAccounts.length > 0 && (
            <>
              <p>Add these accounts on the server (same connection and label), then deploy again:</p>
              <ul data-testid="deploy-missing">
                {done.missingAccounts.map((m) => (
                  <li key={`${m.connection}/${m.account ?? ""}`}>
                    {m.account ? `“${m.account}”` : "the default account"} <span className="muted">({m.connectionName})</span>, used by {m.nodes.map((n) => `“${n}”`).join(", ")}
                  </li>
                ))}
              </ul>
            </>
          )}
          {done.notes.map((n) => (
            <p key={n} className="muted">
              {n}
            </p>
          ))}
        </div>
      )}
      <div className="buttons">
        <button onClick={onClose}>{done ? "Close" : "Cancel"}</button>
        {!done && error?.conflict && (
          <button className="danger" disabled={busy} onClick={() => void deploy(true)} data-testid="deploy-force">
            Replace it there
          </button>
        )}
        {!done && (
          <button className="primary" disabled={busy || dirty || !server} onClick={() => void deploy(false)} data-testid="deploy-confirm">
            {busy ? "Deploying…" : "Deploy"}
          </button>
        )}
      </div>
    </Modal>
  );
}
