import { act, cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resetAccounts, resolveRef, vaultNeed } from "../api/accounts";
import { setTransport } from "../api/client";
import { RecoveryKitHost } from "../components/RecoveryKit";
import { DialogHost } from "../components/dialogs";
import connectionTypes from "../gen/connection-types.json";
import type { AccountInfo } from "../gen/AccountInfo";
import type { ConnectionType } from "../gen/ConnectionType";
import type { CredentialRef } from "../gen/CredentialRef";
import type { VaultStatusResponse } from "../gen/VaultStatusResponse";
import * as model from "../editor/model";
import { CredentialSlots, WorkflowAccounts } from "../panels/Credentials";
import { descriptor, workflow } from "../test-support";
import { Connections } from "./Connections";

const types = connectionTypes as unknown as ConnectionType[];
const SECRET_SET = "••••••••";

/** The API as the page sees it, kept in memory: what Rust answers, minus the encryption. */
class FakeApi {
  status: VaultStatusResponse = { initialized: false, unlocked: false, keyringAvailable: false, keyringMessage: "no session bus", accounts: 0 };
  password: string | null = null;
  accounts: AccountInfo[] = [];
  calls: [string, unknown][] = [];

  account(connectionType: string, label: string, extra: Partial<AccountInfo> = {}): AccountInfo {
    const a: AccountInfo = {
      id: `id-${this.accounts.length + 1}`,
      connectionType,
      label,
      isDefault: !this.accounts.some((x) => x.connectionType === connectionType),
      status: "ready",
      fields: {},
      allowedHosts: [],
      createdAt: "2026-11-22T10:00:00Z",
      updatedAt: "2026-11-22T10:00:00Z",
      ...extra,
    };
    this.accounts.push(a);
    return a;
  }

  transport = async (command: string, payload: unknown): Promise<unknown> => {
    this.calls.push([command, payload]);
    const p = payload as Record<string, unknown>;
    const fail = (code: string, message: string) => Promise.reject({ code, message, details: null });
    switch (command) {
      case "connection_types":
        return { connectionTypes: types };
      case "vault_status":
        return { ...this.status, accounts: this.accounts.length };
      case "vault_unlock":
        if (!this.status.initialized) {
          this.password = p.password as string;
          this.status = { ...this.status, initialized: true, unlocked: true, keySource: "password" };
        } else if (p.password !== this.password) return fail("wrong_password", "wrong master password; nothing was changed");
        this.status = { ...this.status, unlocked: true };
        return this.status;
      case "account_list":
        if (this.status.initialized && !this.status.unlocked && this.status.keySource === "keyring")
          return fail("keyring_unavailable", "the OS keyring has no key for this vault (entry vault-1); it may have been deleted");
        return { accounts: this.accounts };
      case "account_add": {
        const type = types.find((t) => t.id === p.connectionType)!;
        const fields: Record<string, string> = {};
        for (const [k, v] of Object.entries(p.fields as Record<string, string>)) fields[k] = type.fields.find((f) => f.name === k)?.secret ? SECRET_SET : v;
        const testHost = fields.testUrl ? [new URL(fields.testUrl).host] : [];
        const a = this.account(type.id, p.label as string, { fields, allowedHosts: (p.allowedHosts as string[] | undefined) ?? [...type.hosts, ...testHost] });
        if (p.makeDefault) for (const x of this.accounts) if (x.connectionType === type.id) x.isDefault = x.id === a.id;
        return a;
      }
      case "account_update": {
        const a = this.accounts.find((x) => x.id === p.id)!;
        Object.assign(a.fields, p.fields);
        return a;
      }
      case "account_hosts": {
        const a = this.accounts.find((x) => x.id === p.id)!;
        a.allowedHosts = p.hosts as string[];
        return a;
      }
      case "account_test":
        return { ok: true, message: "200 OK", at: "2026-11-22T10:00:00Z" };
      case "vault_recovery_key":
        this.status = { ...this.status, recoveryKeyCreatedAt: "2026-12-03T10:00:00Z" };
        return { recoveryKey: "7KQ2-AB3C-DE4F-GH5J-KM6N-PQ7R-ST8V-WX9Y-Z0A1", createdAt: "2026-12-03T10:00:00Z" };
      case "vault_recover":
        if (p.recoveryKey !== "7KQ2-AB3C-DE4F-GH5J-KM6N-PQ7R-ST8V-WX9Y-Z0A1") return fail("wrong_password", "wrong recovery key: it does not open this vault; nothing was changed");
        this.status = { ...this.status, unlocked: true };
        return this.status;
      default:
        return fail("internal", `unexpected command ${command}`);
    }
  };
}

let api: FakeApi;

beforeEach(() => {
  resetAccounts();
  api = new FakeApi();
  setTransport(api.transport);
});
afterEach(cleanup);

describe("vault state", () => {
  it("says what the vault needs before accounts can be used", () => {
    const base = { initialized: true, unlocked: false, keyringAvailable: true, accounts: 0 };
    expect(vaultNeed({ ...base, keySource: "password" })).toBe("unlock");
    expect(vaultNeed({ ...base, keySource: "keyring" })).toBe("none");
    expect(vaultNeed({ ...base, initialized: false })).toBe("none");
    expect(vaultNeed({ ...base, initialized: false, keyringAvailable: false })).toBe("create");
    expect(vaultNeed({ ...base, unlocked: true, keySource: "password" })).toBe("none");
  });

  it("resolves references by label or to the type's default", () => {
    api.account("github", "work");
    api.account("github", "personal");
    expect(resolveRef(api.accounts, { connection: "github" })?.label).toBe("work");
    expect(resolveRef(api.accounts, { connection: "github", account: "personal" })?.label).toBe("personal");
    expect(resolveRef(api.accounts, { connection: "github", account: "gone" })).toBeUndefined();
  });
});

describe("the Connections page", () => {
  it("asks for a new master password where no keyring works, and checks it", async () => {
    render(<Connections />);
    await screen.findByText("Choose a master password");
    expect(screen.getByText(/no session bus/)).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Master password"), { target: { value: "short" } });
    fireEvent.click(screen.getByText("Create the vault"));
    expect(screen.getByTestId("vault-error").textContent).toContain("at least 8");
    fireEvent.change(screen.getByLabelText("Master password"), { target: { value: "correct horse" } });
    fireEvent.change(screen.getByLabelText("Repeat it"), { target: { value: "correct h0rse" } });
    fireEvent.click(screen.getByText("Create the vault"));
    expect(screen.getByTestId("vault-error").textContent).toContain("differ");
    expect(api.calls.some(([c]) => c === "vault_unlock")).toBe(false);
    fireEvent.change(screen.getByLabelText("Repeat it"), { target: { value: "correct horse" } });
    fireEvent.click(screen.getByText("Create the vault"));
    await screen.findByTestId("add-account");
    expect(api.password).toBe("correct horse");
    expect(screen.getByTestId("vault-bar").textContent).toContain("master password");
  });

  it("unlocks a password vault and reports a wrong password", async () => {
    api.status = { initialized: true, unlocked: false, keySource: "password", keyringAvailable: false, accounts: 0 };
    api.password = "the right one";
    render(<Connections />);
    await screen.findByText("The vault is locked");
    fireEvent.change(screen.getByLabelText("Master password"), { target: { value: "a wrong one" } });
    fireEvent.click(screen.getByText("Unlock"));
    expect((await screen.findByTestId("vault-error")).textContent).toContain("wrong master password");
    fireEvent.change(screen.getByLabelText("Master password"), { target: { value: "the right one" } });
    fireEvent.click(screen.getByText("Unlock"));
    await screen.findByTestId("add-account");
  });

  it("adds an account from the type's fields, with secrets in password inputs", async () => {
    api.status = { initialized: true, unlocked: true, keySource: "keyring", keyringAvailable: true, accounts: 0 };
    render(<Connections />);
    fireEvent.click(await screen.findByTestId("add-account"));
    const form = screen.getByTestId("account-form");
    fireEvent.change(within(form).getByLabelText("Connection type"), { target: { value: "http.bearer" } });
    expect(within(form).getByLabelText<HTMLInputElement>("Label").value).toBe("Bearer token account");
    const token = within(form).getByLabelText<HTMLInputElement>(/^Token/);
    expect(token.type).toBe("password");
    fireEvent.click(within(form).getByText("Add"));
    expect(within(form).getByTestId("account-error").textContent).toContain("Token is required");
    fireEvent.change(within(form).getByLabelText("Label"), { target: { value: "ci" } });
    fireEvent.change(token, { target: { value: "s3cret-token" } });
    fireEvent.change(within(form).getByLabelText("Test URL"), { target: { value: "http://127.0.0.1:9/me" } });
    // Left empty, the hosts are the test URL's: the placeholder says so.
    expect(within(form).getByLabelText<HTMLTextAreaElement>("Allowed hosts").placeholder).toBe("127.0.0.1:9");
    fireEvent.click(within(form).getByText("Add"));
    const row = await screen.findByTestId("account-ci");
    // The list refreshes before the form closes: wait for both.
    await waitFor(() => expect(screen.queryByTestId("account-form")).toBeNull());
    expect(api.calls.find(([c]) => c === "account_add")?.[1]).toEqual({
      connectionType: "http.bearer",
      label: "ci",
      fields: { token: "s3cret-token", testUrl: "http://127.0.0.1:9/me" },
      makeDefault: true,
    });
    expect(row.textContent).toContain("default");
    expect(row.textContent).toContain("Ready");
    expect(within(row).getByTestId("account-hosts").textContent).toContain("sent only to 127.0.0.1:9");
    expect(document.body.textContent).not.toContain("s3cret-token");

    // Editing leaves an untouched secret out, so the stored one stays.
    fireEvent.click(within(row).getByText("Edit"));
    const edit = screen.getByTestId("account-form");
    expect(within(edit).getByLabelText<HTMLInputElement>(/^Token/).value).toBe("");
    fireEvent.change(within(edit).getByLabelText("Test URL"), { target: { value: "http://127.0.0.1:9/whoami" } });
    expect(within(edit).getByLabelText<HTMLTextAreaElement>("Allowed hosts").value).toBe("127.0.0.1:9");
    fireEvent.change(within(edit).getByLabelText("Allowed hosts"), { target: { value: "127.0.0.1:9\napi.example.com, *.example.org" } });
    fireEvent.click(within(edit).getByText("Save"));
    await waitFor(() => expect(api.calls.some(([c]) => c === "account_update")).toBe(true));
    expect(api.calls.find(([c]) => c === "account_update")?.[1]).toEqual({ id: "id-1", fields: { testUrl: "http://127.0.0.1:9/whoami" } });
    expect(api.calls.find(([c]) => c === "account_hosts")?.[1]).toEqual({ id: "id-1", hosts: ["127.0.0.1:9", "api.example.com", "*.example.org"] });
  });

  it("shows accounts that need reconnecting and offers to sign in again", async () => {
    api.status = { initialized: true, unlocked: true, keySource: "keyring", keyringAvailable: true, accounts: 0 };
    api.account("github", "work", { status: "needsReconnect" });
    api.account("github", "personal");
    render(<Connections />);
    const work = await screen.findByTestId("account-work");
    expect(within(work).getByTestId("account-status").textContent).toBe("Needs reconnect");
    expect(within(work).getByText("Reconnect").className).toContain("primary");
    expect(within(screen.getByTestId("account-personal")).getByText("Make default")).toBeTruthy();
  });
});

describe("choosing accounts", () => {
  it("lists a slot's accounts by type and reports missing or broken ones", async () => {
    api.status = { initialized: true, unlocked: true, keySource: "keyring", keyringAvailable: true, accounts: 0 };
    api.account("github", "work");
    api.account("github", "old", { status: "needsReconnect" });
    api.account("http.bearer", "ci");
    const slots = descriptor("http.request").credentials;
    const chosen: [string, CredentialRef | null][] = [];
    const wf = workflow();
    const { rerender } = render(<CredentialSlots slots={slots} credentials={undefined} workflow={wf} onChange={(s, r) => chosen.push([s, r])} onManage={() => {}} />);
    const select = await screen.findByLabelText<HTMLSelectElement>("Authentication");
    await waitFor(() => expect(select.querySelectorAll("optgroup").length).toBe(2));
    const texts = [...select.options].map((o) => o.textContent);
    expect(texts).toEqual(["None", "Default account (ci)", "ci", "Default account (work)", "work", "old (needs reconnect)"]);
    fireEvent.change(select, { target: { value: JSON.stringify(["github", "work"]) } });
    fireEvent.change(select, { target: { value: JSON.stringify(["github", null]) } });
    fireEvent.change(select, { target: { value: "" } });
    expect(chosen).toEqual([
      ["auth", { connection: "github", account: "work" }],
      ["auth", { connection: "github" }],
      ["auth", null],
    ]);

    rerender(<CredentialSlots slots={slots} credentials={{ auth: { connection: "github", account: "old" } }} workflow={wf} onChange={() => {}} onManage={() => {}} />);
    expect(screen.getByTestId("credential-problem").textContent).toContain("needs reconnect");
    rerender(<CredentialSlots slots={slots} credentials={{ auth: { connection: "slack", account: "team" } }} workflow={wf} onChange={() => {}} onManage={() => {}} />);
    expect(screen.getByTestId("credential-problem").textContent).toContain("No Slack account “team”");
    expect(select.value).toBe(JSON.stringify(["slack", "team"]));

    // A workflow's choice is what a node without a label gets.
    const withChoice = model.setWorkflowSettings(wf, {}, { github: "old" });
    rerender(<CredentialSlots slots={slots} credentials={{ auth: { connection: "github" } }} workflow={withChoice} onChange={() => {}} onManage={() => {}} />);
    expect([...select.options].map((o) => o.textContent)).toContain("Workflow's account (old)");
    expect(screen.getByTestId("credential-problem").textContent).toContain("“old”");
  });

  it("offers the workflow's account per connection type its nodes use", async () => {
    api.status = { initialized: true, unlocked: true, keySource: "keyring", keyringAvailable: true, accounts: 0 };
    api.account("github", "work");
    api.account("github", "personal");
    const wf = model.setCredential(workflow(), "s", "auth", { connection: "github" });
    const changes: [string, string | null][] = [];
    render(<WorkflowAccounts workflow={wf} onChange={(t, l) => changes.push([t, l])} onManage={() => {}} />);
    const select = await screen.findByLabelText<HTMLSelectElement>("GitHub");
    await waitFor(() => expect(select.options.length).toBe(3));
    fireEvent.change(select, { target: { value: "personal" } });
    fireEvent.change(select, { target: { value: "" } });
    expect(changes).toEqual([
      ["github", "personal"],
      ["github", null],
    ]);
  });

  it("asks for the master password where an account is chosen", async () => {
    api.status = { initialized: true, unlocked: false, keySource: "password", keyringAvailable: false, accounts: 0 };
    api.password = "the right one";
    render(
      <>
        <CredentialSlots slots={descriptor("http.request").credentials} credentials={undefined} workflow={workflow()} onChange={() => {}} onManage={() => {}} />
        <DialogHost />
      </>,
    );
    fireEvent.click(await screen.findByText("Unlock…"));
    const input = await screen.findByPlaceholderText<HTMLInputElement>("Master password");
    expect(input.type).toBe("password");
    fireEvent.change(input, { target: { value: "the right one" } });
    await act(async () => fireEvent.click(screen.getByText("Unlock")));
    await waitFor(() => expect(screen.queryByTestId("vault-notice")).toBeNull());
  });
});

describe("credential edits", () => {
  it("fills and empties slots and workflow accounts without touching the rest", () => {
    const wf = workflow();
    const one = model.setCredential(wf, "s", "auth", { connection: "github", account: "work" });
    expect(one.nodes.find((n) => n.id === "s")?.credentials).toEqual({ auth: { connection: "github", account: "work" } });
    const none = model.setCredential(one, "s", "auth", null);
    expect("credentials" in none.nodes.find((n) => n.id === "s")!).toBe(false);
    const chosen = model.setWorkflowSettings(wf, { timeoutSeconds: 60 }, { github: "work", slack: "team" });
    expect(chosen.settings).toEqual({ ...wf.settings, timeoutSeconds: 60, accounts: { github: "work", slack: "team" } });
    const cleared = model.setWorkflowSettings(model.setWorkflowSettings(chosen, {}, { github: null }), {}, { slack: null });
    expect("accounts" in cleared.settings).toBe(false);
  });

  it("makes a recovery key, shows it once, and closes only once it was kept", async () => {
    api.status = { initialized: true, unlocked: true, keySource: "keyring", keyringAvailable: true, accounts: 0 };
    render(
      <>
        <Connections />
        <DialogHost />
        <RecoveryKitHost />
      </>,
    );
    expect((await screen.findByTestId("recovery-status")).textContent).toContain("No recovery key yet");
    fireEvent.click(screen.getByTestId("make-recovery-key"));
    fireEvent.click(await screen.findByText("Make a recovery key"));
    const kit = await screen.findByTestId("recovery-kit");
    expect(within(kit).getByTestId("recovery-key").textContent).toBe("7KQ2-AB3C-DE4F-GH5J-KM6N-PQ7R-ST8V-WX9Y-Z0A1");
    expect(within(kit).getByTestId<HTMLButtonElement>("recovery-done").disabled).toBe(true);
    fireEvent.click(within(kit).getByTestId("recovery-kept"));
    fireEvent.click(within(kit).getByTestId("recovery-done"));
    expect(screen.queryByTestId("recovery-kit")).toBeNull();
    await waitFor(() => expect(screen.getByTestId("recovery-status").textContent).toContain("Recovery key made"));
    expect(screen.getByTestId("make-recovery-key").textContent).toBe("New recovery key…");
  });

  it("opens a vault whose keyring entry is gone with its recovery key", async () => {
    api.status = { initialized: true, unlocked: false, keySource: "keyring", keyringAvailable: true, accounts: 0, recoveryKeyCreatedAt: "2026-12-01T10:00:00Z" };
    api.account("github", "work");
    render(
      <>
        <Connections />
        <DialogHost />
      </>,
    );
    expect((await screen.findByTestId("accounts-error")).textContent).toContain("no key for this vault");
    fireEvent.click(screen.getByTestId("vault-recover"));
    const input = await screen.findByRole("textbox", { name: "Recover the vault" });
    fireEvent.change(input, { target: { value: "0000-1111-2222-3333-4444-5555-6666-7777-8888" } });
    fireEvent.click(screen.getByText("OK"));
    await waitFor(() => expect(api.calls.some(([c]) => c === "vault_recover")).toBe(true));
    expect(screen.queryByTestId("account-work")).toBeNull();
    fireEvent.click(screen.getByTestId("vault-recover"));
    fireEvent.change(await screen.findByRole("textbox", { name: "Recover the vault" }), { target: { value: "7KQ2-AB3C-DE4F-GH5J-KM6N-PQ7R-ST8V-WX9Y-Z0A1" } });
    fireEvent.click(screen.getByText("OK"));
    await screen.findByTestId("account-work");
    expect(screen.queryByTestId("accounts-error")).toBeNull();
  });
});
