// The vault's recovery key: made (and shown once) from the Connections page, offered right
// after the vault is created, and used to open the vault when its keyring entry is gone or
// its master password is forgotten.
import { useState, useSyncExternalStore } from "react";
import { refreshAccounts } from "../api/accounts";
import { call, errorMessage } from "../api/client";
import type { VaultStatusResponse } from "../gen/VaultStatusResponse";
import { Store } from "../lib/store";
import { askPassword, confirm, prompt } from "./dialogs";
import { toast } from "./toasts";

interface Shown {
  key: string;
  createdAt: string;
}

const shown = new Store<Shown | null>(null);

/** Makes a new recovery key (after asking) and shows it once. */
export async function makeRecoveryKey(status: VaultStatusResponse, offered = false): Promise<void> {
  const replacing = status.recoveryKeyCreatedAt !== undefined;
  const question = offered
    ? "Your credential vault was created. Make a recovery key now? It opens the vault on a new computer or if the OS keyring loses its key. It is shown once: print it or keep it offline."
    : replacing
      ? "Make a new recovery key? The one you have stops working."
      : "Make a recovery key? It opens the vault on a new computer, after the OS keyring loses its key, or when the master password is forgotten. It is shown once.";
  if (!(await confirm("Recovery key", question, offered ? "Make one" : "Make a recovery key"))) return;
  const password = status.keySource === "password" ? await askPassword("Recovery key", "Enter the master password.", "Next") : undefined;
  if (password === null) return;
  try {
    const r = await call("vault_recovery_key", { password });
    shown.set({ key: r.recoveryKey, createdAt: r.createdAt });
    await refreshAccounts();
  } catch (e) {
    toast(errorMessage(e), "error");
  }
}

/** Opens the vault with its recovery key; asks for a new master password where no keyring works. */
export async function recoverVault(): Promise<boolean> {
  const key = await prompt("Recover the vault", "", "Recovery key: XXXX-XXXX-…");
  if (key === null || key.trim() === "") return false;
  try {
    await call("vault_recover", { recoveryKey: key });
  } catch (e) {
    const message = errorMessage(e);
    if (!message.includes("choose a new master password")) {
      toast(message, "error");
      return false;
    }
    const next = await askPassword("Recover the vault", `${message}\nThe new master password (at least 8 characters):`, "Recover");
    if (next === null) return false;
    try {
      await call("vault_recover", { recoveryKey: key, newPassword: next });
    } catch (e2) {
      toast(errorMessage(e2), "error");
      return false;
    }
  }
  toast("The vault is open again", "success");
  await refreshAccounts();
  return true;
}

/** The key, shown once, with Copy and Print. */
export function RecoveryKitHost() {
  const kit = useSyncExternalStore(shown.subscribe, shown.get);
  const [kept, setKept] = useState(false);
  if (!kit) return null;
  const close = () => {
    shown.set(null);
    setKept(false);
  };
  return (
    <div className="overlay recovery-overlay">
      <div className="dialog wide recovery-kit" role="dialog" aria-label="Your recovery key" data-testid="recovery-kit">
        <h2>Switchyard vault recovery kit</h2>
        <p>This key opens your credential vault when its OS keyring entry is gone (a new computer, a reinstalled system) or its master password is forgotten:</p>
        <div className="recovery-key mono" data-testid="recovery-key">
          {kit.key}
        </div>
        <p className="muted">
          Made {kit.createdAt}. Restore a backup, then run <code>switchyard vault recover</code> or use Connections → Recover. Anyone with this key and a copy of your data can read
          every credential: print it or keep it offline, not beside your backups. It is not shown again.
        </p>
        <label className="switch no-print">
          <input type="checkbox" checked={kept} onChange={(e) => setKept(e.target.checked)} data-testid="recovery-kept" />
          I have printed or stored it
        </label>
        <div className="buttons no-print">
          <button
            onClick={() =>
              void navigator.clipboard
                ?.writeText(kit.key)
                .then(() => toast("Recovery key copied", "success"))
                .catch(() => toast("Copying is not allowed here; select the key instead", "error"))
            }
          >
            Copy
          </button>
          <button onClick={() => window.print()}>Print…</button>
          <button className="primary" disabled={!kept} onClick={close} data-testid="recovery-done">
            Done
          </button>
        </div>
      </div>
    </div>
  );
}
