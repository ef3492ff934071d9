import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { setTransport } from "../api/client";
import { Toasts } from "../components/toasts";
import type { Delivery } from "../gen/Delivery";
import type { WebhookListResponse } from "../gen/WebhookListResponse";
import { Webhooks } from "./Webhooks";
import { SAMPLES } from "./webhookSamples";

afterEach(cleanup);

const list = (active: boolean): WebhookListResponse => ({
  endpoints: [
    {
      workflowId: "w1",
      workflowName: "Orders",
      nodeId: "hook",
      nodeName: "GitHub push",
      path: "push",
      methods: ["POST"],
      url: "http://127.0.0.1:5680/webhook/w1/push",
      active,
      responseMode: "lastNode",
      signature: "github",
    },
  ],
  listener: { running: true, address: "127.0.0.1:5680", baseUrl: "http://127.0.0.1:5680", exposed: false, activeWorkflows: active ? 1 : 0, schedules: 1 },
  problems: ["workflow \"Broken\" is not valid and is not served: bad"],
});

const delivery: Delivery = {
  id: "d1",
  workflowId: "w1",
  nodeId: "hook",
  receivedAt: new Date().toISOString(),
  method: "POST",
  path: "/webhook/w1/push",
  status: 401,
  verification: "failed",
  latencyMs: 3,
  error: "signature check failed: the signature does not match the body",
  test: false,
};

describe("the Webhooks page", () => {
  it("lists endpoints with their URL, activates, shows deliveries and sends a signed sample", async () => {
    let active = false;
    const calls: [string, unknown][] = [];
    setTransport(async (command, payload) => {
      calls.push([command, payload]);
      switch (command) {
        case "webhook_list":
          return list(active);
        case "schedule_list":
          return {
            schedules: [{ workflowId: "w2", workflowName: "Nightly", nodeId: "s", nodeName: "Schedule", rule: "cron 0 3 * * * (Europe/Paris)", nextFire: "2026-12-01T02:00:00.000Z", active: true }],
          };
        case "workflow_activate":
          active = (payload as { active: boolean }).active;
          return {};
        case "webhook_deliveries":
          return { deliveries: [delivery] };
        case "webhook_send_sample":
          return { url: "http://127.0.0.1:5680/webhook/w1/push", status: 200, body: "{\"ok\":true}", latencyMs: 12, signedWith: ["X-Hub-Signature-256", "X-GitHub-Delivery"] };
      }
      throw { code: "internal", message: `unexpected ${command}` };
    });
    const writeText = vi.fn(async () => {});
    Object.assign(navigator, { clipboard: { writeText } });
    const opened: string[] = [];
    render(
      <>
        <Webhooks onOpen={(id) => opened.push(id)} />
        <Toasts />
      </>,
    );
    const url = await screen.findByTestId("endpoint-url");
    expect(url.textContent).toBe("http://127.0.0.1:5680/webhook/w1/push");
    expect(screen.getByTestId("listener-status").textContent).toContain("Listening on http://127.0.0.1:5680");
    expect(screen.getByTestId("trigger-problem").textContent).toContain("Broken");
    expect(screen.getByTestId("schedule-row").textContent).toContain("cron 0 3 * * * (Europe/Paris)");

    fireEvent.click(screen.getByTestId("copy-url"));
    await waitFor(() => expect(writeText).toHaveBeenCalledWith("http://127.0.0.1:5680/webhook/w1/push"));

    fireEvent.click(screen.getByTestId("endpoint-active"));
    await waitFor(() => expect(screen.getByTestId<HTMLInputElement>("endpoint-active").checked).toBe(true));
    expect(calls).toContainEqual(["workflow_activate", { id: "w1", active: true }]);

    fireEvent.click(screen.getByTestId("endpoint-details"));
    const row = await screen.findByTestId("delivery-row");
    expect(row.textContent).toContain("401");
    expect(row.textContent).toContain("signature check failed");
    const body = screen.getByTestId<HTMLTextAreaElement>("sample-body");
    expect(JSON.parse(body.value)).toEqual(SAMPLES.github);
    fireEvent.change(body, { target: { value: "{\"ref\": \"refs/heads/dev\"}" } });
    fireEvent.click(screen.getByTestId("send-sample"));
    const result = await screen.findByTestId("sample-result");
    expect(result.textContent).toContain("200");
    expect(result.textContent).toContain("X-Hub-Signature-256");
    expect(calls).toContainEqual(["webhook_send_sample", { workflowId: "w1", nodeId: "hook", body: "{\"ref\": \"refs/heads/dev\"}", test: false }]);

    fireEvent.click(screen.getByText("Orders"));
    expect(opened).toEqual(["w1"]);
  });

  it("says why the listener is down and warns when it is exposed", async () => {
    setTransport(async (command) => {
      if (command === "webhook_list") {
        const r = list(false);
        return { ...r, listener: { ...r.listener, running: false, exposed: true, address: "0.0.0.0:5680", error: "cannot listen on 0.0.0.0:5680: Address in use" } };
      }
      if (command === "schedule_list") return { schedules: [] };
      throw { code: "internal", message: `unexpected ${command}` };
    });
    render(<Webhooks onOpen={() => {}} />);
    const status = await screen.findByTestId("listener-status");
    expect(status.textContent).toContain("Address in use");
    expect(status.textContent).toContain("other machines can call these webhooks");
  });
});
