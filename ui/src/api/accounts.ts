// What the UI knows about the vault and its accounts, shared by the Connections page, the
// node panel's credential pickers and the workflow settings. Refreshed when an account
// event arrives (a change made here, in the CLI's process, or by a background token refresh).
import { useEffect, useSyncExternalStore } from "react";
import { Store } from "../lib/store";
import type { AccountInfo } from "../gen/AccountInfo";
import type { ConnectionType } from "../gen/ConnectionType";
import type { CredentialRef } from "../gen/CredentialRef";
import type { VaultStatusResponse } from "../gen/VaultStatusResponse";
import { call, errorMessage } from "./client";
import { onApiEvent } from "./events";

export interface AccountsState {
  status: VaultStatusResponse | null;
  types: ConnectionType[];
  accounts: AccountInfo[];
  /** Why the accounts could not be listed (keyring trouble, a locked vault). */
  error: string | null;
  loaded: boolean;
}

const state = new Store<AccountsState>({ status: null, types: [], accounts: [], error: null, loaded: false });

/** What the vault needs before accounts can be used: nothing, a password, or a new password. */
export type VaultNeed = "none" | "unlock" | "create";

export function vaultNeed(status: VaultStatusResponse | null): VaultNeed {
  if (!status || status.unlocked) return "none";
  if (status.initialized) return status.keySource === "password" ? "unlock" : "none";
  return status.keyringAvailable ? "none" : "create";
}

let pending: Promise<void> | null = null;
let again = false;

/** Reloads the vault status and (when the vault can open without asking) the accounts. */
export function refreshAccounts(): Promise<void> {
  if (pending) {
    again = true;
    return pending;
  }
  pending = (async () => {
    try {
      const types = state.get().types.length > 0 ? state.get().types : (await call("connection_types", {})).connectionTypes;
      let status = await call("vault_status", {});
      let accounts: AccountInfo[] = [];
      let error: string | null = null;
      // A vault that does not exist yet is created when the first account is added, not
      // by looking at the page.
      if (status.initialized && vaultNeed(status) === "none") {
        try {
          accounts = (await call("account_list", {})).accounts;
          status = await call("vault_status", {});
        } catch (e) {
          error = errorMessage(e);
        }
      }
      state.set({ status, types, accounts, error, loaded: true });
    } catch (e) {
      state.set((s) => ({ ...s, error: errorMessage(e), loaded: true }));
    } finally {
      pending = null;
      if (again) {
        again = false;
        void refreshAccounts();
      }
    }
  })();
  return pending;
}

/** Forgets what was loaded, so the next use loads again (tests). */
export function resetAccounts(): void {
  state.set({ status: null, types: [], accounts: [], error: null, loaded: false });
}

let listening = false;

/** The shared accounts state, loaded on first use and kept current. */
export function useAccounts(): AccountsState {
  useEffect(() => {
    if (!listening) {
      listening = true;
      onApiEvent((event) => {
        if (event.kind === "account") void refreshAccounts();
      });
    }
    if (!state.get().loaded) void refreshAccounts();
  }, []);
  return useSyncExternalStore(state.subscribe, state.get);
}

/** Unlocks (or, with a new password, creates) the vault and reloads the accounts. */
export async function unlockVault(password?: string): Promise<void> {
  await call("vault_unlock", { password });
  await refreshAccounts();
}

export function typeName(types: ConnectionType[], id: string): string {
  return types.find((t) => t.id === id)?.name ?? id;
}

/** The account a reference points at: its label, else the type's default. */
export function resolveRef(accounts: AccountInfo[], ref: CredentialRef): AccountInfo | undefined {
  const ofType = accounts.filter((a) => a.connectionType === ref.connection);
  return ref.account === undefined ? ofType.find((a) => a.isDefault) : ofType.find((a) => a.label === ref.account);
}

export const STATUS_TEXT: Record<AccountInfo["status"], string> = {
  ready: "Ready",
  notConnected: "Not connected",
  needsReconnect: "Needs reconnect",
};
