// Settings → API tokens: tokens for the REST API that `switchyard serve` answers at /api/v1
// on this data folder. A new token is shown once, to copy; the list never holds a token,
// only its first characters. Revoking asks first and takes effect at once in every process.
import { useCallback, useEffect, useState } from "react";
import { call, errorMessage } from "../api/client";
import type { ApiToken } from "../gen/ApiToken";
import type { Scope } from "../gen/Scope";
import { copyToClipboard } from "../lib/clipboard";
import { relativeTime } from "../lib/time";
import { DataTable } from "./DataTable";
import { confirm } from "./dialogs";
import { toast } from "./toasts";

const SCOPES: { value: Scope; label: string }[] = [
  { value: "read", label: "read: workflows, executions, metrics" },
  { value: "run", label: "run: also start and cancel runs" },
  { value: "admin", label: "admin: also change workflows, accounts, tokens" },
];

export function ApiTokens() {
  const [tokens, setTokens] = useState<ApiToken[] | null>(null);
  const [name, setName] = useState("");
  const [scope, setScope] = useState<Scope>("read");
  const [created, setCreated] = useState<{ name: string; secret: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const load = useCallback(() => {
    call("token_list", {})
      .then((r) => setTokens(r.tokens))
      .catch((e) => toast(errorMessage(e), "error"));
  }, []);
  useEffect(load, [load]);
  const create = async () => {
    setBusy(true);
    try {
      const made = await call("token_create", { name: name.trim(), scope });
      setCreated({ name: made.token.name, secret: made.secret });
      setName("");
      load();
    } catch (e) {
      toast(errorMessage(e), "error");
    } finally {
      setBusy(false);
    }
  };
  const revoke = async (token: ApiToken) => {
    const ok = await confirm(`Revoke "${token.name}"?`, `Requests with ${token.prefix}… are refused from now on, by every Switchyard on this data folder.`, "Revoke token");
    if (!ok) return;
    try {
      await call("token_revoke", { id: token.id });
      toast(`Revoked "${token.name}"`, "success");
      load();
    } catch (e) {
      toast(errorMessage(e), "error");
    }
  };
  return (
    <section className="settings-section" data-testid="api-tokens">
      <h2>API tokens</h2>
      <p className="muted">
        Scripts and other computers call the REST API of <code>switchyard serve</code> (on this data folder) at <code>/api/v1</code> with a token; its reference is at{" "}
        <code>/api/v1/docs</code>. Only a hash of each token is kept.
      </p>
      <div className="field-grid">
        <div className="field">
          <label htmlFor="token-name">Name</label>
          <input id="token-name" value={name} placeholder="CI deploys" maxLength={100} onChange={(e) => setName(e.target.value)} data-testid="token-name" />
        </div>
        <div className="field">
          <label htmlFor="token-scope">Scope</label>
          <select id="token-scope" value={scope} onChange={(e) => setScope(e.target.value as Scope)} data-testid="token-scope">
            {SCOPES.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </select>
        </div>
      </div>
      <div className="list-toolbar">
        <button onClick={() => void create()} disabled={busy || name.trim() === ""} data-testid="token-create">
          Create token
        </button>
      </div>
      {created && (
        <div className="token-created" data-testid="token-created">
          <p>
            <strong>{created.name}</strong>: copy the token now, it is not shown again.
          </p>
          <code className="mono" data-testid="token-secret">
            {created.secret}
          </code>
          <div className="list-toolbar">
            <button onClick={() => copyToClipboard(created.secret).then(() => toast("Token copied", "success"), (e) => toast(errorMessage(e), "error"))} data-testid="token-copy">
              Copy
            </button>
            <button onClick={() => setCreated(null)} data-testid="token-done">
              Done
            </button>
          </div>
        </div>
      )}
      {tokens && (
        <DataTable
          rows={tokens}
          rowKey={(t) => t.id}
          testId="token-list"
          rowTestId="token-row"
          empty="No API tokens."
          columns={[
            { header: "Name", cell: (t) => t.name },
            { header: "Scope", cell: (t) => t.scope },
            { header: "Token", cell: (t) => `${t.prefix}…`, className: "mono" },
            { header: "Created", cell: (t) => relativeTime(t.createdAt), title: (t) => t.createdAt },
            { header: "Last used", cell: (t) => (t.lastUsedAt ? relativeTime(t.lastUsedAt) : "never"), title: (t) => t.lastUsedAt ?? "" },
            {
              header: "",
              cell: (t) =>
                t.revokedAt ? (
                  <span className="muted" title={t.revokedAt}>
                    revoked {relativeTime(t.revokedAt)}
                  </span>
                ) : (
                  <button className="danger" onClick={() => void revoke(t)} data-testid="token-revoke">
                    Revoke
                  </button>
                ),
            },
          ]}
        />
      )}
    </section>
  );
}
