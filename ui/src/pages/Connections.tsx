// The Connections page: the vault's state and every account, grouped by connection type.
// Add, edit, test, sign in (or reconnect), rename, make default and remove accounts.
import { type FormEvent, useMemo, useState } from "react";
import { STATUS_TEXT, refreshAccounts, typeName, unlockVault, useAccounts, vaultNeed } from "../api/accounts";
import { call, errorMessage } from "../api/client";
import { makeRecoveryKey, recoverVault } from "../components/RecoveryKit";
import { askPassword, confirm, prompt } from "../components/dialogs";
import { toast } from "../components/toasts";
import type { AccountInfo } from "../gen/AccountInfo";
import type { ConnectionType } from "../gen/ConnectionType";
import type { VaultStatusResponse } from "../gen/VaultStatusResponse";
import { relativeTime } from "../lib/time";

const SECRET_SET = "••••••••";
const MIN_PASSWORD = 8;

const AUTH_TEXT: Record<ConnectionType["auth"], string> = {
  apiKeyHeader: "API key in a header",
  apiKeyQuery: "API key in the query",
  bearer: "Bearer token",
  basic: "User name and password",
  oAuth2Code: "OAuth2 sign-in",
  oAuth2ClientCredentials: "OAuth2 client credentials",
  signingSecret: "Signing secret",
  database: "Database",
  mail: "Mail server",
  llm: "Chat model server (OpenAI's API)",
};

function until(iso: string, now = Date.now()): string {
  const ms = new Date(iso).getTime() - now;
  if (Number.isNaN(ms)) return iso;
  if (ms <= 0) return "expired";
  const m = Math.round(ms / 60000);
  if (m < 60) return `expires in ${m} min`;
  const h = Math.round(m / 60);
  return h < 48 ? `expires in ${h} h` : `expires in ${Math.round(h / 24)} days`;
}

/** The master password form: unlocking a password vault, or choosing the password of a new one. */
export function VaultGate({ status, onDone }: { status: VaultStatusResponse; onDone?: () => void }) {
  const need = vaultNeed(status);
  const [password, setPassword] = useState("");
  const [repeat, setRepeat] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (need === "none") return null;
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (need === "create") {
      if (password.length < MIN_PASSWORD) return setError(`The master password needs at least ${MIN_PASSWORD} characters.`);
      if (password !== repeat) return setError("The two passwords differ.");
    }
    setBusy(true);
    setError(null);
    try {
      await unlockVault(password);
      setPassword("");
      setRepeat("");
      onDone?.();
      if (need === "create") void offerRecoveryKey();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="vault-gate" onSubmit={submit} data-testid="vault-gate">
      {need === "unlock" ? (
        <>
          <h2>The vault is locked</h2>
          <p className="muted">Your credentials are encrypted with your master password. Enter it to use them in this session.</p>
        </>
      ) : (
        <>
          <h2>Choose a master password</h2>
          <p className="muted">
            No OS keyring is usable here{status.keyringMessage ? ` (${status.keyringMessage})` : ""}, so the key that encrypts your credentials is
            protected by a master password. It cannot be recovered: keep it safe. Headless runs can take it from <code>SWITCHYARD_MASTER_PASSWORD</code>.
          </p>
        </>
      )}
      <div className="field">
        <label htmlFor="vault-password">Master password</label>
        <input id="vault-password" type="password" autoFocus autoComplete={need === "create" ? "new-password" : "current-password"} value={password} onChange={(e) => setPassword(e.target.value)} />
      </div>
      {need === "create" && (
        <div className="field">
          <label htmlFor="vault-password-repeat">Repeat it</label>
          <input id="vault-password-repeat" type="password" autoComplete="new-password" value={repeat} onChange={(e) => setRepeat(e.target.value)} />
        </div>
      )}
      {error && (
        <div className="error-text" data-testid="vault-error">
          {error}
        </div>
      )}
      <div className="row">
        <button className="primary" type="submit" disabled={busy || password === ""}>
          {need === "unlock" ? "Unlock" : "Create the vault"}
        </button>
        {need === "unlock" && status.recoveryKeyCreatedAt !== undefined && (
          <button type="button" onClick={() => void recoverVault()} data-testid="vault-recover">
            Forgot it? Use the recovery key…
          </button>
        )}
      </div>
    </form>
  );
}

interface FormState {
  /** The account being edited; absent when adding. */
  account?: AccountInfo;
  type: string;
  label: string;
  fields: Record<string, string>;
  makeDefault: boolean;
  /** Allowed hosts, one per line; empty when adding means the type's and the test URL's. */
  hosts: string;
}

/** Host rules from the form's text: one per line (commas work too). */
function hostList(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((h) => h.trim())
    .filter((h) => h !== "");
}

/** The hosts a new account gets when none are given: the type's and the test URL's. */
function defaultHosts(type: ConnectionType | undefined, testUrl: string | undefined): string[] {
  const hosts = [...(type?.hosts ?? [])];
  try {
    if (testUrl && !testUrl.includes("{")) {
      const host = new URL(testUrl).host.toLowerCase();
      if (host && !hosts.includes(host)) hosts.push(host);
    }
  } catch {
    // Not a URL yet: no host from it.
  }
  return hosts;
}

function blankForm(type: ConnectionType, accounts: AccountInfo[]): FormState {
  const taken = new Set(accounts.filter((a) => a.connectionType === type.id).map((a) => a.label));
  let label = `${type.name} account`;
  for (let n = 2; taken.has(label); n++) label = `${type.name} account ${n}`;
  const fields: Record<string, string> = {};
  for (const f of type.fields) fields[f.name] = f.default ?? "";
  return { type: type.id, label, fields, makeDefault: taken.size === 0, hosts: "" };
}

function AccountForm({ types, accounts, initial, onClose, onSaved }: { types: ConnectionType[]; accounts: AccountInfo[]; initial: FormState; onClose: () => void; onSaved: (a: AccountInfo) => void }) {
  const [form, setForm] = useState(initial);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [preset, setPreset] = useState("");
  const [labelTouched, setLabelTouched] = useState(false);
  const editing = form.account !== undefined;
  const type = types.find((t) => t.id === form.type);
  const chosenPreset = type?.presets?.find((p) => p.id === preset);
  const groups = useMemo(
    () => [
      { name: "Generic HTTP", types: types.filter((t) => t.id.startsWith("http.")) },
      { name: "AI models", types: types.filter((t) => t.id.startsWith("llm.")) },
      { name: "Services", types: types.filter((t) => !t.id.startsWith("http.") && !t.id.startsWith("llm.")) },
    ],
    [types],
  );
  const setField = (name: string, value: string) => setForm((f) => ({ ...f, fields: { ...f.fields, [name]: value } }));
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!type) return;
    const missing = type.fields.find((f) => f.required && !(form.fields[f.name] ?? "").trim() && !(editing && f.secret));
    if (missing) return setError(`${missing.label} is required.`);
    if (!form.label.trim()) return setError("The account needs a label.");
    setBusy(true);
    setError(null);
    try {
      let saved: AccountInfo;
      if (form.account) {
        // Secret fields left empty keep their stored value.
        const fields: Record<string, string> = {};
        for (const f of type.fields) {
          const value = form.fields[f.name] ?? "";
          if (f.secret && value === "") continue;
          fields[f.name] = value;
        }
        const hosts = hostList(form.hosts);
        if (hosts.join("\n") !== form.account.allowedHosts.join("\n")) await call("account_hosts", { id: form.account.id, hosts });
        saved = await call("account_update", { id: form.account.id, fields });
        if (form.label.trim() !== form.account.label) saved = await call("account_rename", { id: saved.id, label: form.label.trim() });
        if (form.makeDefault && !form.account.isDefault) saved = await call("account_set_default", { id: saved.id });
      } else {
        const fields: Record<string, string> = {};
        for (const f of type.fields) if ((form.fields[f.name] ?? "") !== "") fields[f.name] = form.fields[f.name];
        const hosts = hostList(form.hosts);
        saved = await call("account_add", {
          connectionType: type.id,
          label: form.label.trim(),
          fields,
          makeDefault: form.makeDefault,
          allowedHosts: hosts.length > 0 ? hosts : undefined,
        });
      }
      await refreshAccounts();
      onSaved(saved);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="overlay" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <form className="dialog wide" role="dialog" aria-label={editing ? "Edit account" : "Add account"} onSubmit={submit} onKeyDown={(e) => e.key === "Escape" && onClose()} data-testid="account-form">
        <h2>{editing ? `Edit “${form.account?.label}”` : "Add account"}</h2>
        <div className="field">
          <label htmlFor="account-type">Connection type</label>
          <select
            id="account-type"
            value={form.type}
            disabled={editing}
            onChange={(e) => {
              const next = types.find((t) => t.id === e.target.value);
              if (next) setForm(blankForm(next, accounts));
              setPreset("");
            }}
          >
            {groups.map((g) => (
              <optgroup key={g.name} label={g.name}>
                {g.types.map((t) => (
                  <option key={t.id} value={t.id}>
                    {t.name}
                  </option>
                ))}
              </optgroup>
            ))}
          </select>
          {type && (
            <div className="muted">
              {type.description} · {AUTH_TEXT[type.auth]}
            </div>
          )}
        </div>
        <div className="field">
          <label htmlFor="account-label">Label</label>
          <input id="account-label" value={form.label} onChange={(e) => {
              setLabelTouched(true);
              setForm({ ...form, label: e.target.value });
            }} />
          <div className="muted">Workflows and nodes choose accounts by type and label.</div>
        </div>
        {type?.presets && type.presets.length > 0 && (
          <div className="field">
            <label htmlFor="account-preset">Preset</label>
            <select
              id="account-preset"
              value={preset}
              onChange={(e) => {
                const chosen = type.presets?.find((p) => p.id === e.target.value);
                setPreset(e.target.value);
                if (!chosen) return;
                setForm((f) => ({
                  ...f,
                  // A label still as it was made up follows the preset.
                  label: !editing && !labelTouched ? chosen.name : f.label,
                  fields: { ...f.fields, ...Object.fromEntries(type.fields.filter((x) => !x.secret && x.name !== "headers").map((x) => [x.name, chosen.fields[x.name] ?? ""])) },
                }));
              }}
            >
              <option value="">Choose a server…</option>
              {type.presets.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name}
                </option>
              ))}
            </select>
            {chosenPreset?.note && <div className="muted">{chosenPreset.note}</div>}
          </div>
        )}
        {type?.fields.map((f) => (
          <div className="field" key={f.name}>
            <label htmlFor={`account-field-${f.name}`}>
              {f.label}
              {f.required && !(editing && f.secret) ? " *" : ""}
            </label>
            {f.name === "headers" ? (
              <textarea id={`account-field-${f.name}`} rows={2} spellCheck={false} value={form.fields[f.name] ?? ""} onChange={(e) => setField(f.name, e.target.value)} />
            ) : (
              <input
                id={`account-field-${f.name}`}
                type={f.secret ? "password" : "text"}
                autoComplete="off"
                spellCheck={false}
                value={form.fields[f.name] ?? ""}
                placeholder={f.secret && editing && form.account?.fields[f.name] === SECRET_SET ? "saved; type to replace" : ""}
                onChange={(e) => setField(f.name, e.target.value)}
              />
            )}
            {f.description && <div className="muted">{f.description}</div>}
          </div>
        ))}
        <div className="field">
          <label htmlFor="account-hosts">Allowed hosts</label>
          <textarea
            id="account-hosts"
            rows={2}
            spellCheck={false}
            value={form.hosts}
            placeholder={editing ? "none yet" : defaultHosts(type, form.fields.testUrl || form.fields.baseUrl).join("\n") || "api.example.com"}
            onChange={(e) => setForm({ ...form, hosts: e.target.value })}
          />
          <div className="muted">
            Its credentials go only to these hosts, one per line (<code>api.example.com</code>, <code>127.0.0.1:8080</code>, <code>*.example.com</code>); a request
            elsewhere fails before anything is sent.{!editing && " Left empty: the service's hosts and the test URL's."}
          </div>
        </div>
        <div className="field row">
          <input id="account-default" type="checkbox" checked={form.makeDefault} disabled={form.account?.isDefault} onChange={(e) => setForm({ ...form, makeDefault: e.target.checked })} />
          <label htmlFor="account-default" style={{ margin: 0 }}>
            Default account for {type?.name ?? "this type"}
          </label>
        </div>
        {type?.auth === "oAuth2Code" && !editing && <div className="muted">After saving, your browser opens the provider's sign-in page.</div>}
        {error && (
          <div className="error-text" data-testid="account-error">
            {error}
          </div>
        )}
        <div className="buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button className="primary" type="submit" disabled={busy}>
            {editing ? "Save" : "Add"}
          </button>
        </div>
      </form>
    </div>
  );
}

function AccountRow({ account, type, signingIn, onAction }: { account: AccountInfo; type?: ConnectionType; signingIn: boolean; onAction: (a: string) => void }) {
  const oauth = type?.auth === "oAuth2Code";
  return (
    <div className="workflow-row account-row" data-testid={`account-${account.label}`}>
      <div style={{ flex: 1, minWidth: 0 }}>
        <div className="name">
          {account.label}
          {account.isDefault && <span className="badge">default</span>}
          <span className={`badge status-${account.status}`} data-testid="account-status">
            {signingIn ? "Signing in… (finish in your browser)" : STATUS_TEXT[account.status]}
          </span>
        </div>
        <div className="meta">
          {account.lastTest ? (
            <span className={account.lastTest.ok ? "ok-text" : "error-text"} data-testid="account-test">
              {account.lastTest.ok ? "✓" : "✗"} {account.lastTest.message} · tested {relativeTime(account.lastTest.at)}
            </span>
          ) : (
            <span>not tested yet</span>
          )}
          {account.tokenExpiresAt && ` · token ${until(account.tokenExpiresAt)}`}
          <span data-testid="account-hosts">{account.allowedHosts.length ? ` · sent only to ${account.allowedHosts.join(", ")}` : " · no hosts allowed yet"}</span>
          {` · updated ${relativeTime(account.updatedAt)}`}
        </div>
      </div>
      <div className="actions">
        {oauth && (
          <button className={account.status === "ready" ? "" : "primary"} disabled={signingIn} onClick={() => onAction("login")}>
            {account.status === "notConnected" ? "Connect" : "Reconnect"}
          </button>
        )}
        <button
          onClick={() => onAction("test")}
          disabled={!type?.test && !account.fields.testUrl && type?.auth !== "database" && type?.auth !== "mail"}
          title={
            type?.auth === "database"
              ? "Connect and ask the server for its version"
              : type?.auth === "mail"
                ? "Connect and sign in to the mail server"
                : type?.test || account.fields.testUrl
                  ? "Send an authenticated request"
                  : "This type has no test request"
          }
        >
          Test
        </button>
        <button onClick={() => onAction("edit")}>Edit</button>
        <button onClick={() => onAction("rename")}>Rename</button>
        {!account.isDefault && <button onClick={() => onAction("default")}>Make default</button>}
        <button className="danger" onClick={() => onAction("remove")}>
          Remove
        </button>
      </div>
    </div>
  );
}

/** Right after the vault was created: offers to make its recovery key. */
async function offerRecoveryKey(): Promise<void> {
  const status = await call("vault_status", {});
  if (status.initialized && status.recoveryKeyCreatedAt === undefined) await makeRecoveryKey(status, true);
}

function VaultBar({ status }: { status: VaultStatusResponse }) {
  const password = status.keySource === "password";
  const changePassword = async () => {
    const current = password ? await askPassword("Change master password", "Enter the current master password.", "Next") : undefined;
    if (current === null) return;
    const next = await askPassword("Change master password", `The new master password (at least ${MIN_PASSWORD} characters).`, "Next");
    if (next === null) return;
    const again = await askPassword("Change master password", "Repeat the new master password.", "Change");
    if (again === null) return;
    if (next !== again) return toast("The two new passwords differ; nothing changed", "error");
    try {
      await call("vault_change_password", { current, new: next });
      await refreshAccounts();
      toast(password ? "Master password changed" : "The vault now uses a master password instead of the OS keyring", "success");
    } catch (e) {
      toast(errorMessage(e), "error");
    }
  };
  const rotate = async () => {
    if (!(await confirm("Rotate vault key", "Create a new master key and re-encrypt every account with it, in one step?", "Rotate"))) return;
    const pw = password ? await askPassword("Rotate vault key", "Enter the master password.", "Rotate") : undefined;
    if (pw === null) return;
    try {
      const r = await call("vault_rotate_key", { password: pw });
      toast(`New vault key; ${r.resealed} account${r.resealed === 1 ? "" : "s"} re-encrypted`, "success");
      await refreshAccounts();
    } catch (e) {
      toast(errorMessage(e), "error");
    }
  };
  return (
    <div className="vault-bar" data-testid="vault-bar">
      <span>
        Credentials are encrypted (AES-256-GCM) with a key {password ? "protected by your master password" : "kept in the OS keyring"}.
      </span>
      <span className={status.recoveryKeyCreatedAt ? "muted" : "warning-text"} data-testid="recovery-status">
        {status.recoveryKeyCreatedAt ? `Recovery key made ${relativeTime(status.recoveryKeyCreatedAt)}.` : "No recovery key yet: a lost keyring entry or password would lose every credential."}
      </span>
      <span className="spacer" />
      <button onClick={() => void makeRecoveryKey(status)} data-testid="make-recovery-key">
        {status.recoveryKeyCreatedAt ? "New recovery key…" : "Make a recovery key…"}
      </button>
      <button onClick={() => void changePassword()}>{password ? "Change master password" : "Use a master password"}</button>
      <button onClick={() => void rotate()}>Rotate key</button>
    </div>
  );
}

export function Connections() {
  const { status, types, accounts, error, loaded } = useAccounts();
  const [form, setForm] = useState<FormState | null>(null);
  const [filter, setFilter] = useState("");
  const [signingIn, setSigningIn] = useState<Set<string>>(new Set());
  const need = vaultNeed(status);

  const login = async (account: AccountInfo) => {
    setSigningIn((s) => new Set(s).add(account.id));
    try {
      await call("account_login", { id: account.id });
      toast(`Signed in “${account.label}”`, "success");
    } catch (e) {
      toast(`${account.label}: ${errorMessage(e)}`, "error");
    } finally {
      setSigningIn((s) => {
        const next = new Set(s);
        next.delete(account.id);
        return next;
      });
      void refreshAccounts();
    }
  };

  const act = async (account: AccountInfo, action: string) => {
    const type = types.find((t) => t.id === account.connectionType);
    try {
      switch (action) {
        case "login":
          return void login(account);
        case "test": {
          const r = await call("account_test", { id: account.id });
          toast(`${account.label}: ${r.message}`, r.ok ? "success" : "error");
          break;
        }
        case "edit":
          if (!type) return;
          return setForm({ account, type: type.id, label: account.label, fields: Object.fromEntries(type.fields.map((f) => [f.name, f.secret ? "" : account.fields[f.name] ?? ""])), makeDefault: account.isDefault, hosts: account.allowedHosts.join("\n") });
        case "rename": {
          const label = await prompt("Rename account", account.label);
          if (label === null || label.trim() === "" || label === account.label) return;
          await call("account_rename", { id: account.id, label: label.trim() });
          toast("Renamed. Workflows that named the old label need the new one.", "success");
          break;
        }
        case "default":
          await call("account_set_default", { id: account.id });
          break;
        case "remove": {
          const ok = await confirm(
            "Remove account",
            `Remove “${account.label}” (${typeName(types, account.connectionType)})? Its secrets are deleted${type?.auth.startsWith("oAuth2") ? " and its tokens revoked where the provider allows" : ""}. Workflows that use it fail until another account is chosen.`,
            "Remove",
            true,
          );
          if (!ok) return;
          const r = await call("account_remove", { id: account.id });
          toast(r.note ?? `Removed “${account.label}”`, r.note ? "info" : "success");
          break;
        }
      }
    } catch (e) {
      toast(errorMessage(e), "error");
    }
    await refreshAccounts();
  };

  const shown = accounts.filter((a) => !filter || `${a.label} ${typeName(types, a.connectionType)}`.toLowerCase().includes(filter.toLowerCase()));
  const byType = new Map<string, AccountInfo[]>();
  for (const a of shown) byType.set(a.connectionType, [...(byType.get(a.connectionType) ?? []), a]);
  const firstType = types[0];

  return (
    <div className="list-page" data-testid="connections-page">
      <h1>Connections</h1>
      {!loaded && <div className="muted">Loading…</div>}
      {status && need !== "none" && <VaultGate status={status} />}
      {status && need === "none" && (
        <>
          {status.initialized && <VaultBar status={status} />}
          {error && (
            <div className="error-text" data-testid="accounts-error">
              {error}
              {status.initialized && !status.unlocked && status.recoveryKeyCreatedAt !== undefined && (
                <div>
                  <button onClick={() => void recoverVault()} data-testid="vault-recover">
                    Recover with the recovery key…
                  </button>
                </div>
              )}
            </div>
          )}
          <div className="list-toolbar">
            <input type="search" placeholder="Search accounts" aria-label="Search accounts" value={filter} onChange={(e) => setFilter(e.target.value)} />
            <span className="spacer" />
            <button className="primary" disabled={!firstType} onClick={() => firstType && setForm(blankForm(firstType, accounts))} data-testid="add-account">
              Add account
            </button>
          </div>
          {loaded && accounts.length === 0 && !error && (
            <div className="empty">No accounts yet. Add one to let nodes call APIs as you: the secrets are encrypted and never leave this computer in a workflow file.</div>
          )}
          {[...byType.entries()].map(([typeId, list]) => (
            <section key={typeId} className="account-group">
              <h2>{typeName(types, typeId)}</h2>
              <div className="workflow-rows">
                {list.map((a) => (
                  <AccountRow key={a.id} account={a} type={types.find((t) => t.id === typeId)} signingIn={signingIn.has(a.id)} onAction={(action) => void act(a, action)} />
                ))}
              </div>
            </section>
          ))}
        </>
      )}
      {form && (
        <AccountForm
          key={form.account?.id ?? "new"}
          types={types}
          accounts={accounts}
          initial={form}
          onClose={() => setForm(null)}
          onSaved={(saved) => {
            const editing = form.account !== undefined;
            if (!editing && status && !status.initialized) void offerRecoveryKey();
            setForm(null);
            toast(editing ? `Saved “${saved.label}”` : `Added “${saved.label}”`, "success");
            const type = types.find((t) => t.id === saved.connectionType);
            if (!editing && type?.auth === "oAuth2Code") void login(saved);
          }}
        />
      )}
    </div>
  );
}
