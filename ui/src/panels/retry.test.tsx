import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { defaultSettings } from "../editor/model";
import { applyEvent, emptyRun } from "../editor/run";
import type { NodeSettings } from "../gen/NodeSettings";
import type { RetryPolicy } from "../gen/RetryPolicy";
import { descriptor } from "../test-support";
import { DEFAULT_RETRY, RetrySettings, plannedDelays } from "./RetrySettings";

afterEach(cleanup);

const policy = (p: Partial<RetryPolicy>): RetryPolicy => ({ ...DEFAULT_RETRY, maxTries: 7, initialDelayMs: 100, factor: 3, maxDelayMs: 2000, jitter: "none", ...p });

describe("retry settings", () => {
  it("plans the same waits as the engine", () => {
    // The same cases as crates/model/src/retry.rs.
    expect(plannedDelays(policy({ backoff: "fixed" }))).toEqual([100, 100, 100, 100, 100, 100]);
    expect(plannedDelays(policy({ backoff: "linear" }))).toEqual([100, 200, 300, 400, 500, 600]);
    expect(plannedDelays(policy({ backoff: "exponential" }))).toEqual([100, 300, 900, 2000, 2000, 2000]);
    expect(plannedDelays(policy({ backoff: "fibonacci" }))).toEqual([100, 100, 200, 300, 500, 800]);
  });

  it("turns retries on and off and edits the policy", () => {
    let settings: NodeSettings = defaultSettings();
    const onSettings = (s: Partial<NodeSettings>) => (settings = { ...settings, ...s });
    const { rerender } = render(<RetrySettings settings={settings} perItem={descriptor("http.request").perItemCalls} onSettings={onSettings} />);
    expect(screen.getByLabelText<HTMLInputElement>("Items at a time").value).toBe("1");
    fireEvent.change(screen.getByLabelText("Items at a time"), { target: { value: "60" } });
    expect(screen.getByText("From 1 to 50.")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Items at a time"), { target: { value: "8" } });
    expect(settings.concurrency).toBe(8);
    fireEvent.click(screen.getByLabelText(/Retry on failure/));
    expect(settings.retry?.maxTries).toBe(3);
    rerender(<RetrySettings settings={settings} perItem onSettings={onSettings} />);
    expect(screen.getByTestId("retry-plan").textContent).toContain("Waits: 1 s, 2 s");
    fireEvent.change(screen.getByLabelText("Wait grows"), { target: { value: "fibonacci" } });
    rerender(<RetrySettings settings={settings} perItem onSettings={onSettings} />);
    fireEvent.click(screen.getByLabelText("Retry Permanent"));
    expect(settings.retry?.backoff).toBe("fibonacci");
    expect(settings.retry?.retryOn).toContain("permanent");
    rerender(<RetrySettings settings={settings} perItem onSettings={onSettings} />);
    fireEvent.click(screen.getByLabelText(/Retry on failure/));
    expect(settings.retry).toBeUndefined();
  });

  it("has no concurrency for nodes that do not call out per item", () => {
    render(<RetrySettings settings={defaultSettings()} perItem={descriptor("data.set").perItemCalls} onSettings={() => {}} />);
    expect(screen.queryByLabelText("Items at a time")).toBeNull();
  });

  it("shows retries on the node while the run goes", () => {
    const wf = "wf";
    let view = applyEvent(emptyRun(), wf, { kind: "run", event: { executionId: "x", workflowId: wf, seq: 0, at: "", type: "runStarted", workflowName: "W", nodeIds: ["h"] } });
    const error = { code: "http_status" as const, class: "transient" as const, message: "GET /a answered 503" };
    for (const attempt of [2, 3]) {
      view = applyEvent(view, wf, { kind: "run", event: { executionId: "x", workflowId: wf, seq: 0, at: "", type: "nodeRetrying", nodeId: "h", nodeName: "Call", itemIndex: 4, attempt, maxTries: 5, delayMs: 2000, error } });
    }
    expect(view.nodes.h.retry).toEqual({ attempt: 3, maxTries: 5, delayMs: 2000, itemIndex: 4, message: "GET /a answered 503", retries: 2 });
    view = applyEvent(view, wf, { kind: "run", event: { executionId: "x", workflowId: wf, seq: 0, at: "", type: "nodeFinished", nodeId: "h", nodeName: "Call", status: "success", itemsIn: 5, outputs: [], durationMs: 9 } });
    expect(view.nodes.h.retry?.retries).toBe(2);
  });
});
