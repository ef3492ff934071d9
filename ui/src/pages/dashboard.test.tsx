import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { setTransport } from "../api/client";
import type { Alert } from "../gen/Alert";
import type { AlertRule } from "../gen/AlertRule";
import type { Dashboard as Data } from "../gen/Dashboard";
import { Alerts, describe as describeRule, emptyRule } from "./Alerts";
import { Dashboard, dollars, ms, percent } from "./Dashboard";

afterEach(cleanup);

const alert: Alert = {
  id: "a1",
  ruleId: "r1",
  ruleName: "Orders failing",
  severity: "error",
  state: "firing",
  value: 40,
  lastValue: 40,
  message: "Orders failing: error rate (%) is 40 in \"Orders\"",
  firedAt: new Date().toISOString(),
  escalatedAt: null,
  ackedAt: null,
  resolvedAt: null,
  actions: [{ at: new Date().toISOString(), action: "notify", ok: true, message: "shown" }],
};

function dashboard(runs: number): Data {
  return {
    range: "live",
    fromMs: 0,
    toMs: 900_000,
    stepMs: 60_000,
    points: [{ t: 0, started: runs, succeeded: runs - 2, failed: 2, p50Ms: 40, p95Ms: 1200, p99Ms: 2500 }],
    total: { t: 0, started: runs, succeeded: runs - 2, failed: 2, p50Ms: 40, p95Ms: 1200, p99Ms: 2500 },
    workflows: [
      {
        workflowId: "w1",
        name: "Orders",
        started: runs,
        succeeded: runs - 2,
        failed: 2,
        successRate: (runs - 2) / runs,
        p50Ms: 40,
        p95Ms: 1200,
        retries: 1,
        itemsOut: 30,
        trend: "degrading",
        trendReason: "success 100 % → 80 %",
        lastError: { executionId: "e9", at: new Date().toISOString(), message: "the API answered 503", node: "Fetch" },
        tokensIn: 1200,
        tokensOut: 300,
        costUsd: 0.42,
      },
    ],
    errors: [
      { class: "transient", count: 2 },
      { class: "rate_limit", count: 1 },
    ],
    queue: { waiting: 3, active: 2, completed: 10, failed: 2, limit: 2 },
    process: { memoryBytes: 150 * 1024 * 1024, cpuPercent: 12.5 },
    connections: [{ id: "acc", label: "GitHub main", connectionType: "github", health: "failing", lastTest: { ok: false, message: "401", at: new Date().toISOString() } }],
    listener: {
      listener: { running: true, address: "127.0.0.1:5680", baseUrl: "http://127.0.0.1:5680", exposed: false, activeWorkflows: 1, schedules: 0 },
      deliveries: [
        [200, 5],
        [401, 1],
      ],
      problems: [],
    },
    alertsFiring: [alert],
    models: [{ model: "gpt-4o-mini", account: "llm.openaiCompatible/work", calls: 4, tokensIn: 1200, tokensOut: 300, costUsd: 0.42 }],
    lastBackup: { path: "/data/backups/switchyard-backup-1.zip", createdAt: new Date(Date.now() - 3 * 3600_000).toISOString(), size: 3 * 1024 * 1024, files: 2, scheduled: true },
    backupFailure: { at: new Date().toISOString(), message: "/mnt/usb/backups: No such file or directory" },
  };
}

describe("the dashboard", () => {
  it("formats durations and rates", () => {
    expect([ms(0.4), ms(250), ms(1500), ms(25_000), ms(null)]).toEqual(["0 ms", "250 ms", "1.5 s", "25 s", "–"]);
    expect([percent(1), percent(0.8), percent(0.987), percent(null)]).toEqual(["100 %", "80.0 %", "98.7 %", "–"]);
    expect([dollars(null), dollars(0), dollars(0.004), dollars(0.42), dollars(1234.4)]).toEqual(["–", "$0.00", "< $0.01", "$0.42", "$1,234"]);
  });

  it("shows live numbers, refreshes every second, links to the workflow and its failed run, switches range and acknowledges", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    let runs = 10;
    const calls: [string, unknown][] = [];
    setTransport(async (command, payload) => {
      calls.push([command, payload]);
      if (command === "metrics_dashboard") return dashboard(runs);
      if (command === "alert_ack") return { ...alert, ackedAt: new Date().toISOString() };
      if (command === "metrics_nodes")
        return {
          nodes: [{ node: "Fetch", runs: 10, failed: 2, p50Ms: 30, p95Ms: 1100, p99Ms: 2400, itemsIn: 10, itemsOut: 80, retries: 1, rateWaits: 3, rateWaitMs: 1500, breakerChanges: 2, errors: [{ class: "transient", count: 2 }] }],
        };
      throw { code: "bad_request", message: `unexpected ${command}` };
    });
    const onOpen = vi.fn();
    const onOpenRun = vi.fn();
    render(<Dashboard onOpen={onOpen} onOpenRun={onOpenRun} onAlerts={() => {}} />);
    await screen.findByTestId("workflow-metrics");
    expect(screen.getByTestId("stat-runs").textContent).toContain("10");
    expect(screen.getByTestId("wm-success").textContent).toBe("80.0 %");
    expect(screen.getByTestId("wm-p95").textContent).toBe("1.2 s");
    expect(screen.getByTestId("wm-trend").textContent).toContain("degrading");
    expect(screen.getByTestId("wm-trend").getAttribute("title")).toBe("success 100 % → 80 %");
    expect(screen.getByTestId("queue-waiting").textContent).toBe("3");
    expect(screen.getByTestId("wm-tokens").textContent).toBe((1500).toLocaleString());
    expect(screen.getByTestId("wm-tokens").getAttribute("title")).toBe("1200 in, 300 out · $0.42");
    expect(screen.getByTestId("mu-cost").textContent).toBe("$0.42");
    expect(screen.getByTestId("model-usage").textContent).toContain("gpt-4o-mini");
    expect(screen.getByTestId("errors-by-class").textContent).toContain("rate limit");
    expect(screen.getByTestId("connection-health").textContent).toContain("failing");
    expect(screen.getByTestId("listener-health").textContent).toContain("5× 200");
    expect(screen.getByTestId("stat-memory").textContent).toContain("150 MiB");
    expect(screen.getByTestId("last-backup").textContent).toMatch(/^last .*, 3\.0 MiB$/);
    expect(screen.getByTestId("backup-failed").textContent).toContain("/mnt/usb/backups: No such file or directory");

    runs = 12;
    await vi.advanceTimersByTimeAsync(1100);
    await waitFor(() => expect(screen.getByTestId("stat-runs").textContent).toContain("12"));

    fireEvent.click(within(screen.getByTestId("workflow-metrics-row")).getByText("Orders"));
    expect(onOpen).toHaveBeenCalledWith("w1");
    fireEvent.click(screen.getByTestId("wm-last-error"));
    expect(onOpenRun).toHaveBeenCalledWith("w1", "e9");
    fireEvent.click(screen.getByTestId("wm-failed-runs"));
    expect(onOpenRun).toHaveBeenCalledWith("w1", null);

    fireEvent.click(screen.getByTestId("wm-expand"));
    const node = await screen.findByTestId("node-metrics-row");
    expect(node.textContent).toContain("10 → 80");
    expect(node.textContent).toContain("2 transient");
    expect(node.textContent).toContain("3 (1.5 s)");
    expect(calls.some(([c, p]) => c === "metrics_nodes" && (p as { workflowId: string }).workflowId === "w1")).toBe(true);

    fireEvent.click(screen.getByTestId("range-7d"));
    await waitFor(() => expect(calls.some(([c, p]) => c === "metrics_dashboard" && (p as { range: string }).range === "7d")).toBe(true));
    fireEvent.click(screen.getByTestId("ack-alert"));
    await waitFor(() => expect(calls.some(([c, p]) => c === "alert_ack" && (p as { id: string }).id === "a1")).toBe(true));
    vi.useRealTimers();
  });

  it("shows server mode's workers, their total, the queue and its dead letters (a dead letter opens its run)", async () => {
    const now = Date.now();
    const worker = {
      name: "box-1-4242-abcdef12",
      host: "box-1",
      pid: 4242,
      up: true,
      startedMs: now - 3600_000,
      seenMs: now - 2000,
      concurrency: 8,
      running: 3,
      runs: 120,
      failed: 4,
      claimed: 2,
      deadLetters: 1,
      memoryBytes: 48 * 1024 * 1024,
      cpuPercent: 20,
    };
    setTransport(async (command) => {
      if (command === "metrics_dashboard")
        return {
          ...dashboard(10),
          cluster: {
            queue: { waiting: 5, pending: 3, dead: 1 },
            workers: [worker, { ...worker, name: "box-2-7-0000", host: "box-2", pid: 7, up: false, stoppedMs: now - 60_000, running: 0, runs: 30, failed: 0, claimed: 0, deadLetters: 0 }],
            total: { up: 1, running: 3, concurrency: 8, runs: 150, failed: 4, claimed: 2, deadLetters: 1 },
            deadLetters: [{ executionId: "exec-dead-1", workflowId: "orders", mode: "webhook", deliveries: 3, reason: "the run was delivered 3 times: it crashed every worker that ran it", deadAtMs: now - 5000 }],
          },
        };
      throw { code: "bad_request", message: `unexpected ${command}` };
    });
    const onOpenRun = vi.fn();
    render(<Dashboard onOpen={() => {}} onOpenRun={onOpenRun} onAlerts={() => {}} />);
    const panel = await screen.findByTestId("cluster-panel");
    expect(within(panel).getByTestId("cluster-queue").textContent).toBe("5 waiting · 3 running · 1 dead letter");
    const rows = within(panel).getAllByTestId("cluster-worker");
    expect(rows).toHaveLength(2);
    expect(within(rows[0]).getByTestId("cw-state").textContent).toMatch(/^up · seen /);
    expect(within(rows[0]).getByTestId("cw-running").textContent).toBe("3 of 8");
    expect(within(rows[1]).getByTestId("cw-state").textContent).toMatch(/^stopped/);
    expect(within(panel).getByTestId("cluster-total").textContent).toBe("All workers: 1 up, 3 of 8 running · 150 runs, 4 failed, 2 taken over, 1 dead letters");
    const letter = within(panel).getByTestId("dead-letter");
    expect(letter.textContent).toContain("delivered 3×");
    fireEvent.click(within(letter).getByRole("button"));
    expect(onOpenRun).toHaveBeenCalledWith("orders", "exec-dead-1");
  });

  it("shows no cluster panel on the desktop", async () => {
    setTransport(async (command) => {
      if (command === "metrics_dashboard") return dashboard(10);
      throw { code: "bad_request", message: `unexpected ${command}` };
    });
    render(<Dashboard onOpen={() => {}} onOpenRun={() => {}} onAlerts={() => {}} />);
    await screen.findByTestId("workflow-metrics");
    expect(screen.queryByTestId("cluster-panel")).toBeNull();
  });
});

describe("the Alerts page", () => {
  it("describes rules, saves a new one, switches one off and acknowledges an alert", async () => {
    const preset: AlertRule = { ...emptyRule(), id: "preset-error-rate", name: "Error rate above 10 %", enabled: false };
    const calls: [string, unknown][] = [];
    setTransport(async (command, payload) => {
      calls.push([command, payload]);
      switch (command) {
        case "alert_rules":
          return { rules: [preset] };
        case "alerts_list":
          return { alerts: [alert] };
        case "workflow_list":
          return { workflows: [{ id: "w1", name: "Orders", description: "", nodeCount: 2, updatedAt: "", createdAt: "", version: 1, active: false }] };
        case "alert_rule_save":
          return payload;
        case "alert_ack":
          return { ...alert, ackedAt: new Date().toISOString() };
      }
      throw { code: "bad_request", message: `unexpected ${command}` };
    });
    expect(describeRule(preset)).toBe("Error rate (%) > 10 over 5 min");
    expect(describeRule({ ...preset, metric: "memoryMb", comparison: "gte", threshold: 1024 })).toBe("Memory (MiB) ≥ 1024");
    render(<Alerts />);
    await screen.findByTestId("rules");
    expect(screen.getByTestId("rule-row").textContent).toContain("Error rate (%) > 10 over 5 min");

    fireEvent.click(screen.getByTestId("rule-enabled"));
    await waitFor(() => expect(calls.some(([c, p]) => c === "alert_rule_save" && (p as AlertRule).enabled === true)).toBe(true));

    fireEvent.click(screen.getByTestId("rule-new"));
    const form = screen.getByTestId("rule-form");
    fireEvent.change(within(form).getByLabelText("Name"), { target: { value: "Slow orders" } });
    fireEvent.change(form.querySelector("#rule-metric")!, { target: { value: "p95Ms" } });
    fireEvent.change(form.querySelector("#rule-workflow")!, { target: { value: "w1" } });
    fireEvent.change(form.querySelector("#rule-threshold")!, { target: { value: "2000" } });
    fireEvent.change(form.querySelector("#rule-escalate")!, { target: { value: "15" } });
    fireEvent.click(within(form).getByText("Post to a webhook (Slack or Discord incoming-webhook URL)"));
    fireEvent.change(form.querySelector("#rule-webhook")!, { target: { value: "https://hooks.slack.com/services/T/B/x" } });
    fireEvent.click(screen.getByTestId("rule-save"));
    await waitFor(() => expect(calls.some(([c, p]) => c === "alert_rule_save" && (p as AlertRule).name === "Slow orders")).toBe(true));
    const saved = calls.find(([c, p]) => c === "alert_rule_save" && (p as AlertRule).name === "Slow orders")![1] as AlertRule;
    expect(saved).toMatchObject({
      id: "",
      metric: "p95Ms",
      workflowId: "w1",
      threshold: 2000,
      escalateAfterMinutes: 15,
      actions: [{ type: "notify" }, { type: "webhook", url: "https://hooks.slack.com/services/T/B/x" }],
    });

    expect(screen.getByTestId("alert-row").textContent).toContain("notify: shown");
    fireEvent.click(screen.getByTestId("alert-ack"));
    await waitFor(() => expect(calls.some(([c]) => c === "alert_ack")).toBe(true));
  });
});

describe("the locale guard", () => {
  it("turns the POSIX locale WebKitGTK reports into a tag Intl accepts", async () => {
    const { usableLanguage } = await import("../locale");
    expect(usableLanguage("C")).toBe("en-US");
    expect(usableLanguage("en-GB")).toBeNull();
  });
});
