// Choosing accounts: the credential slots of a node, and the workflow's account per
// connection type. References hold a connection type and an account label, never a secret.
import { type AccountsState, STATUS_TEXT, resolveRef, typeName, unlockVault, useAccounts, vaultNeed } from "../api/accounts";
import { errorMessage } from "../api/client";
import { askPassword } from "../components/dialogs";
import { toast } from "../components/toasts";
import type { CredentialRef } from "../gen/CredentialRef";
import type { CredentialSlot } from "../gen/CredentialSlot";
import type { Workflow } from "../gen/Workflow";

const NONE = "";

function encode(ref: CredentialRef): string {
  return JSON.stringify([ref.connection, ref.account ?? null]);
}

function decode(value: string): CredentialRef | null {
  if (value === NONE) return null;
  const [connection, account] = JSON.parse(value) as [string, string | null];
  return account === null ? { connection } : { connection, account };
}

/** What a reference without a label resolves to in this workflow. */
function inheritedLabel(state: AccountsState, workflow: Workflow, type: string): { label: string | undefined; from: "workflow" | "default" } {
  const chosen = workflow.settings.accounts?.[type];
  if (chosen !== undefined) return { label: chosen, from: "workflow" };
  return { label: state.accounts.find((a) => a.connectionType === type && a.isDefault)?.label, from: "default" };
}

/** Unlocks a password vault from wherever an account is needed. */
export function VaultNotice({ state, onManage }: { state: AccountsState; onManage: () => void }) {
  const need = vaultNeed(state.status);
  if (need === "none") return state.error ? <div className="problem">{state.error}</div> : null;
  const unlock = async () => {
    const password = await askPassword("Unlock the vault", "Your credentials are encrypted with your master password.", "Unlock");
    if (password === null) return;
    try {
      await unlockVault(password);
    } catch (e) {
      toast(errorMessage(e), "error");
    }
  };
  return (
    <div className="hint" data-testid="vault-notice">
      {need === "unlock" ? (
        <>
          The vault is locked.{" "}
          <button type="button" className="link" onClick={() => void unlock()}>
            Unlock…
          </button>
        </>
      ) : (
        <>
          No accounts yet.{" "}
          <button type="button" className="link" onClick={onManage}>
            Set up connections…
          </button>
        </>
      )}
    </div>
  );
}

function AccountStatusLine({ state, workflow, value }: { state: AccountsState; workflow: Workflow; value: CredentialRef | null }) {
  if (!value || !state.loaded || vaultNeed(state.status) !== "none" || state.error) return null;
  const label = value.account ?? inheritedLabel(state, workflow, value.connection).label;
  const account = label === undefined ? undefined : resolveRef(state.accounts, { connection: value.connection, account: label });
  const type = typeName(state.types, value.connection);
  if (!account) {
    return (
      <div className="problem" data-testid="credential-problem">
        {label === undefined ? `No ${type} account exists here: add one.` : `No ${type} account “${label}” exists here: add it, or choose another.`}
      </div>
    );
  }
  if (account.status !== "ready") {
    return (
      <div className="problem" data-testid="credential-problem">
        “{account.label}”: {STATUS_TEXT[account.status].toLowerCase()}; sign in again on the Connections page.
      </div>
    );
  }
  return null;
}

/** The slots to show: a per-entry slot becomes one slot per named entry of its list
 *  (`agent:critic` for the agent called critic), none of them required. */
export function expandSlots(
  slots: CredentialSlot[],
  parameters: Record<string, unknown> | undefined,
  credentials: Record<string, CredentialRef> | undefined,
  defaults: Record<string, unknown> = {},
): CredentialSlot[] {
  const out: CredentialSlot[] = [];
  for (const slot of slots) {
    if (!slot.perEntry) {
      out.push(slot);
      continue;
    }
    // The list as written, or its default (what a new node shows and runs with).
    const entries = parameters?.[slot.perEntry] ?? defaults[slot.perEntry];
    const names = Array.isArray(entries) ? entries.map((e) => (e && typeof e === "object" ? String((e as Record<string, unknown>).name ?? "").trim() : "")) : [];
    const named = new Set(names.filter((n) => n !== ""));
    for (const name of named) {
      out.push({ name: `${slot.name}:${name}`, label: `${slot.label} “${name}”`, connectionTypes: slot.connectionTypes, required: false });
    }
    // An account kept for an entry that was renamed or removed: shown so it can be cleared.
    for (const key of Object.keys(credentials ?? {})) {
      const name = key.slice(slot.name.length + 1);
      if (key.startsWith(`${slot.name}:`) && !named.has(name)) {
        out.push({ name: key, label: `${slot.label} “${name}” (no such entry: choose “The node's account”)`, connectionTypes: slot.connectionTypes, required: false });
      }
    }
  }
  return out;
}

/** One select per credential slot of a node. */
export function CredentialSlots({
  slots: declared,
  parameters,
  defaults,
  credentials,
  workflow,
  onChange,
  onManage,
}: {
  slots: CredentialSlot[];
  parameters?: Record<string, unknown>;
  /** The node type's parameter defaults (for lists not written yet). */
  defaults?: Record<string, unknown>;
  credentials: Record<string, CredentialRef> | undefined;
  workflow: Workflow;
  onChange: (slot: string, ref: CredentialRef | null) => void;
  onManage: () => void;
}) {
  const state = useAccounts();
  const slots = expandSlots(declared, parameters, credentials, defaults);
  if (slots.length === 0) return null;
  return (
    <div className="credential-slots" data-testid="credential-slots">
      <VaultNotice state={state} onManage={onManage} />
      {slots.map((slot) => {
        const current = credentials?.[slot.name] ?? null;
        const allowed = (t: string) => slot.connectionTypes.length === 0 || slot.connectionTypes.includes(t);
        const typeIds = new Set(state.accounts.map((a) => a.connectionType).filter(allowed));
        if (current) typeIds.add(current.connection);
        const optionsFor = (type: string) => {
          const accounts = state.accounts.filter((a) => a.connectionType === type);
          const inherited = inheritedLabel(state, workflow, type);
          const options = [
            {
              value: encode({ connection: type }),
              text: inherited.from === "workflow" ? `Workflow's account (${inherited.label})` : `Default account${inherited.label ? ` (${inherited.label})` : ""}`,
            },
          ];
          for (const a of accounts) options.push({ value: encode({ connection: type, account: a.label }), text: a.status === "ready" ? a.label : `${a.label} (${STATUS_TEXT[a.status].toLowerCase()})` });
          return options;
        };
        const currentMissing = current && !optionsFor(current.connection).some((o) => o.value === encode(current));
        return (
          <div className="field credential-slot" key={slot.name}>
            <label htmlFor={`credential-${slot.name}`}>
              {slot.label}
              {slot.required ? " *" : ""}
            </label>
            <select id={`credential-${slot.name}`} aria-label={slot.label} value={current ? encode(current) : NONE} onChange={(e) => onChange(slot.name, decode(e.target.value))}>
              <option value={NONE}>{slot.required ? "Choose an account…" : slot.name.includes(":") ? "The node's account" : "None"}</option>
              {[...typeIds]
                .sort((a, b) => typeName(state.types, a).localeCompare(typeName(state.types, b)))
                .map((type) => (
                <optgroup key={type} label={typeName(state.types, type)}>
                  {optionsFor(type).map((o) => (
                    <option key={o.value} value={o.value}>
                      {o.text}
                    </option>
                  ))}
                </optgroup>
              ))}
              {current && currentMissing && <option value={encode(current)}>{`${typeName(state.types, current.connection)}: ${current.account} (missing)`}</option>}
            </select>
            <AccountStatusLine state={state} workflow={workflow} value={current} />
            <div className="hint">
              <button type="button" className="link" onClick={onManage}>
                Manage connections…
              </button>
            </div>
          </div>
        );
      })}
    </div>
  );
}

/** The workflow's account per connection type its nodes use. */
export function WorkflowAccounts({ workflow, onChange, onManage }: { workflow: Workflow; onChange: (type: string, label: string | null) => void; onManage: () => void }) {
  const state = useAccounts();
  const used = new Set<string>(Object.keys(workflow.settings.accounts ?? {}));
  for (const n of workflow.nodes) for (const ref of Object.values(n.credentials ?? {})) used.add(ref.connection);
  return (
    <div className="field" data-testid="workflow-accounts">
      <label>Accounts</label>
      <VaultNotice state={state} onManage={onManage} />
      {used.size === 0 && <div className="hint">No node of this workflow uses a connection yet.</div>}
      {[...used]
        .sort((a, b) => typeName(state.types, a).localeCompare(typeName(state.types, b)))
        .map((type) => {
        const chosen = workflow.settings.accounts?.[type];
        const accounts = state.accounts.filter((a) => a.connectionType === type);
        const def = accounts.find((a) => a.isDefault);
        const missing = chosen !== undefined && !accounts.some((a) => a.label === chosen);
        return (
          <div className="field credential-slot" key={type}>
            <label htmlFor={`workflow-account-${type}`} style={{ fontWeight: 400 }}>
              {typeName(state.types, type)}
            </label>
            <select id={`workflow-account-${type}`} value={chosen ?? NONE} onChange={(e) => onChange(type, e.target.value === NONE ? null : e.target.value)}>
              <option value={NONE}>{`Default account${def ? ` (${def.label})` : ""}`}</option>
              {accounts.map((a) => (
                <option key={a.id} value={a.label}>
                  {a.label}
                </option>
              ))}
              {missing && <option value={chosen}>{`${chosen} (missing)`}</option>}
            </select>
            {missing && <div className="problem">No {typeName(state.types, type)} account “{chosen}” exists here.</div>}
          </div>
        );
      })}
      <div className="hint">
        Nodes that name no account use the one chosen here.{" "}
        <button type="button" className="link" onClick={onManage}>
          Manage connections…
        </button>
      </div>
    </div>
  );
}
