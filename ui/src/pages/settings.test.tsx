import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { setTransport } from "../api/client";
import { DialogHost } from "../components/dialogs";
import type { ApiToken } from "../gen/ApiToken";
import type { AppSettings } from "../gen/AppSettings";
import type { BackupListResponse } from "../gen/BackupListResponse";
import type { ResilienceState } from "../gen/ResilienceState";
import { SettingsPage } from "./Settings";

afterEach(cleanup);

const defaults: AppSettings = {
  runDataMaxItems: 1000,
  runDataMaxBytes: 1048576,
  pruneMaxAgeDays: 30,
  pruneKeepLast: 10000,
  rateLimits: [],
  breakerThreshold: 5,
  breakerResetSeconds: 30,
  webhookPort: 5680,
  webhookBind: "127.0.0.1",
  webhookMaxBodyBytes: 1048576,
  deliveryLogKeep: 1000,
  startAtLogin: false,
  metricsEndpoint: false,
  metricsToken: "",
  webhookAllowedHosts: [],
  webhookBodyTimeoutSeconds: 30,
  webhookMaxConnections: 512,
  maxConcurrentRuns: 0,
  maxWaitingRuns: 1000,
  metricsRetentionDays: 90,
  maxItemMb: 16,
  maxRunItemsMb: 1024,
  maxRunFilesMb: 8192,
  maxCallDepth: 16,
  versionKeepDays: 30,
  versionKeepEvery: 10,
  modelPrices: [{ model: "gpt-4o-mini*", inputPerMillion: 0.15, outputPerMillion: 0.6 }],
  allowCommands: true,
  localRoots: [],
  backupDaily: true,
  backupFolder: "",
  backupKeepDays: 30,
  updateUrl: "",
};

const state: ResilienceState = {
  breakers: [{ key: "api.example.com:443", state: "open", failures: 5, retryInMs: 12000, transitions: 1 }],
  limits: [{ host: "api.github.com", configured: { perSecond: 5000 / 3600, burst: 50 }, currentPerSecond: 0.69, waits: 3, waitedMs: 4200 }],
  presets: [{ host: "api.github.com", perSecond: 5000 / 3600, burst: 50 }],
};

let backups: BackupListResponse;
/** The update commands the page sent, with their payloads. */
let updateCalls: [string, unknown][];
/** The API tokens listed, and the token commands sent. */
let tokens: ApiToken[];
let tokenCalls: [string, unknown][];

/** Serves the settings and the resilience state; returns the saved settings, in order. */
function fakeSettingsApi(): AppSettings[] {
  const updates: AppSettings[] = [];
  let current = defaults;
  updateCalls = [];
  tokenCalls = [];
  tokens = [{ id: "t0", name: "Grafana", scope: "read", prefix: "syt_99887766", createdAt: "2026-12-01T12:00:00Z", lastUsedAt: "2026-12-03T11:59:00Z" }];
  backups = {
    folder: "/data/backups",
    backups: [{ path: "/data/backups/switchyard-backup-20261202T120000Z.zip", createdAt: "2026-12-02T12:00:00Z", size: 5 * 1024 * 1024, files: 3, scheduled: true }],
    lastFailure: { at: "2026-12-03T11:00:00Z", message: "/mnt/usb: No such file or directory" },
  };
  setTransport(async (command, payload) => {
    if (command === "settings_get") return current;
    if (command === "update_check" || command === "update_install" || command === "app_restart") {
      updateCalls.push([command, payload]);
      if (command === "update_check") {
        return {
          currentVersion: "0.1.0",
          checkedAt: "2026-12-03T12:00:00Z",
          update: { version: "0.2.0", currentVersion: "0.1.0", notes: "Faster webhooks.\n<b>not bold</b>", date: "2026-12-01T10:00:00Z" },
        };
      }
      if (command === "update_install") return { version: "0.2.0", message: "Switchyard 0.2.0 is installed: restart the app to use it", restartNeeded: true };
      return {};
    }
    if (command === "resilience_state") return state;
    if (command === "token_list") return { tokens: tokens.map((t) => ({ ...t })) };
    if (command === "token_create") {
      const { name, scope } = payload as { name: string; scope: "read" | "run" | "admin" };
      const token = { id: `t${tokens.length + 1}`, name, scope, prefix: "syt_0123abcd", createdAt: "2026-12-03T12:00:00Z" };
      tokens.unshift(token);
      tokenCalls.push([command, payload]);
      return { token, secret: `syt_${"0123abcd".repeat(8)}` };
    }
    if (command === "token_revoke") {
      tokenCalls.push([command, payload]);
      const token = tokens.find((t) => t.id === (payload as { id: string }).id)!;
      token.revokedAt = "2026-12-03T12:01:00Z";
      return token;
    }
    if (command === "backup_list") return backups;
    if (command === "backup_create") {
      const made = { path: "/data/backups/switchyard-backup-20261203T120000Z.zip", createdAt: "2026-12-03T12:00:00Z", size: 2048, files: 1, scheduled: false };
      backups.backups.unshift(made);
      backups.lastFailure = undefined;
      return made;
    }
    if (command === "settings_update") {
      updates.push(payload as AppSettings);
      current = payload as AppSettings;
      return payload;
    }
    throw { code: "internal", message: `unexpected ${command}` };
  });
  return updates;
}

describe("the Settings page", () => {
  it("edits breaker and rate-limit settings and shows their live state", async () => {
    const updates = fakeSettingsApi();
    render(
      <>
        <SettingsPage />
        <DialogHost />
      </>,
    );
    const threshold = await screen.findByLabelText("Failures in a row that open a breaker");
    expect(screen.getByTestId("breaker-row").textContent).toContain("trial in 12 s");
    expect(screen.getByTestId("resilience-state").textContent).toContain("41.4/min, bursts of 50");
    expect(screen.getByTestId<HTMLButtonElement>("settings-save").disabled).toBe(true);
    fireEvent.change(threshold, { target: { value: "0" } });
    expect(screen.getByText("A whole number, at least 1.")).toBeTruthy();
    fireEvent.change(threshold, { target: { value: "3" } });
    fireEvent.click(screen.getByText("+ Add a limit"));
    fireEvent.change(screen.getByLabelText("Host"), { target: { value: "connection:github" } });
    fireEvent.change(screen.getByLabelText("Calls per second"), { target: { value: "2" } });
    fireEvent.change(screen.getByLabelText("Burst"), { target: { value: "4" } });
    fireEvent.click(screen.getByTestId("settings-save"));
    await waitFor(() => expect(updates.length).toBe(1));
    expect(updates[0]).toEqual({ ...defaults, breakerThreshold: 3, rateLimits: [{ host: "connection:github", perSecond: 2, burst: 4 }] });
  });

  it("edits the AI model price table", async () => {
    const updates = fakeSettingsApi();
    render(<SettingsPage />);
    const model = await screen.findByLabelText<HTMLInputElement>("Model");
    expect(model.value).toBe("gpt-4o-mini*");
    fireEvent.click(screen.getByTestId("add-price"));
    const models = screen.getAllByLabelText("Model");
    fireEvent.change(models[1], { target: { value: "llama3.2" } });
    fireEvent.change(screen.getAllByLabelText("Dollars per million tokens out")[0], { target: { value: "0.75" } });
    fireEvent.click(screen.getByTestId("settings-save"));
    await waitFor(() => expect(updates.length).toBe(1));
    expect(updates[0].modelPrices).toEqual([
      { model: "gpt-4o-mini*", inputPerMillion: 0.15, outputPerMillion: 0.75 },
      { model: "llama3.2", inputPerMillion: 0, outputPerMillion: 0 },
    ]);
  });

  it("warns when the webhook listener would be reachable from other machines", async () => {
    const updates = fakeSettingsApi();
    render(<SettingsPage />);
    const bind = await screen.findByTestId<HTMLInputElement>("set-bind");
    expect(screen.queryByTestId("bind-warning")).toBeNull();
    fireEvent.change(bind, { target: { value: "0.0.0.0" } });
    expect(screen.getByTestId("bind-warning").textContent).toContain("Other machines on your network can reach 0.0.0.0");
    fireEvent.change(screen.getByLabelText("Webhook listener port"), { target: { value: "8080" } });
    fireEvent.click(screen.getByTestId("set-login"));
    fireEvent.click(screen.getByTestId("set-metrics"));
    fireEvent.click(screen.getByTestId("settings-save"));
    await waitFor(() => expect(updates).toHaveLength(1));
    expect(updates[0]).toMatchObject({ webhookBind: "0.0.0.0", webhookPort: 8080, startAtLogin: true, metricsEndpoint: true });
  });

  it("sets up daily backups, lists them, and backs up on demand", async () => {
    const updates = fakeSettingsApi();
    render(<SettingsPage />);
    const rows = await screen.findAllByTestId("backup-row");
    expect(rows).toHaveLength(1);
    expect(rows[0].textContent).toContain("5.0 MiB");
    expect(screen.getByTestId("backup-failure").textContent).toContain("/mnt/usb: No such file or directory");
    expect(screen.getByLabelText<HTMLInputElement>("Backup folder").placeholder).toBe("/data/backups");
    fireEvent.click(screen.getByTestId("backup-now"));
    await waitFor(() => expect(screen.getAllByTestId("backup-row")).toHaveLength(2));
    expect(screen.queryByTestId("backup-failure")).toBeNull();
    fireEvent.click(screen.getByTestId("set-backup-daily"));
    fireEvent.change(screen.getByLabelText("Backup folder"), { target: { value: "/mnt/usb/backups" } });
    fireEvent.change(screen.getByLabelText("Keep daily backups (days)"), { target: { value: "7" } });
    fireEvent.click(screen.getByTestId("settings-save"));
    await waitFor(() => expect(updates).toHaveLength(1));
    expect(updates[0]).toMatchObject({ backupDaily: false, backupFolder: "/mnt/usb/backups", backupKeepDays: 7 });
  });

  it("checks the update URL once saved, shows the release notes as text, and installs only when confirmed", async () => {
    const updates = fakeSettingsApi();
    render(
      <>
        <SettingsPage />
        <DialogHost />
      </>,
    );
    const check = await screen.findByTestId<HTMLButtonElement>("update-check");
    expect(check.disabled).toBe(true);
    fireEvent.change(screen.getByLabelText("Update URL"), { target: { value: "https://releases.example.com/latest.json" } });
    fireEvent.click(screen.getByTestId("settings-save"));
    await waitFor(() => expect(updates).toHaveLength(1));
    expect(updates[0].updateUrl).toBe("https://releases.example.com/latest.json");
    await waitFor(() => expect(check.disabled).toBe(false));
    fireEvent.click(check);
    const notes = await screen.findByTestId("update-notes");
    expect(notes.textContent).toBe("Faster webhooks.\n<b>not bold</b>");
    expect(notes.querySelector("b")).toBeNull();
    expect(screen.getByTestId("update-offer").textContent).toContain("Switchyard 0.2.0 is available (you have 0.1.0)");

    // Cancelled: nothing is installed.
    fireEvent.click(screen.getByTestId("update-install"));
    fireEvent.click(await screen.findByText("Cancel"));
    await waitFor(() => expect(screen.queryByText("Install Switchyard 0.2.0?")).toBeNull());
    expect(updateCalls.map(([c]) => c)).toEqual(["update_check"]);

    fireEvent.click(screen.getByTestId("update-install"));
    fireEvent.click(await screen.findByRole("button", { name: "Install 0.2.0" }));
    expect((await screen.findByTestId("update-installed")).textContent).toBe("Switchyard 0.2.0 is installed: restart the app to use it");
    fireEvent.click(screen.getByTestId("update-restart"));
    await waitFor(() => expect(updateCalls.map(([c]) => c)).toEqual(["update_check", "update_install", "app_restart"]));
    expect(updateCalls[1][1]).toEqual({ version: "0.2.0" });
  });

  it("creates an API token, shows it once, and revokes one only when confirmed", async () => {
    fakeSettingsApi();
    render(
      <>
        <SettingsPage />
        <DialogHost />
      </>,
    );
    const rows = await screen.findAllByTestId("token-row");
    expect(rows).toHaveLength(1);
    expect(rows[0].textContent).toContain("Grafana");
    expect(rows[0].textContent).toContain("syt_99887766…");
    const create = screen.getByTestId<HTMLButtonElement>("token-create");
    expect(create.disabled).toBe(true);
    fireEvent.change(screen.getByTestId("token-name"), { target: { value: "  CI deploys " } });
    fireEvent.change(screen.getByTestId("token-scope"), { target: { value: "run" } });
    fireEvent.click(create);
    expect((await screen.findByTestId("token-secret")).textContent).toBe(`syt_${"0123abcd".repeat(8)}`);
    expect(tokenCalls).toEqual([["token_create", { name: "CI deploys", scope: "run" }]]);
    await waitFor(() => expect(screen.getAllByTestId("token-row")).toHaveLength(2));
    // Dismissed, the token is gone from the page: the list holds only its first characters.
    fireEvent.click(screen.getByTestId("token-done"));
    expect(screen.queryByTestId("token-secret")).toBeNull();
    expect(document.body.textContent).not.toContain("0123abcd0123abcd");

    // Revoking asks first; cancelled, nothing is sent.
    const revoke = () => screen.getAllByTestId("token-row")[0].querySelector<HTMLButtonElement>("[data-testid=token-revoke]")!;
    fireEvent.click(revoke());
    fireEvent.click(await screen.findByText("Cancel"));
    expect(tokenCalls).toHaveLength(1);
    fireEvent.click(revoke());
    fireEvent.click(await screen.findByRole("button", { name: "Revoke token" }));
    await waitFor(() => expect(tokenCalls[1]).toEqual(["token_revoke", { id: "t2" }]));
    await waitFor(() => expect(screen.getAllByTestId("token-row")[0].textContent).toContain("revoked"));
  });
});
