import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { setTransport } from "../api/client";
import { History } from "../panels/History";
import { DeployDialog } from "./DeployDialog";

afterEach(cleanup);

const server = (id: string, label: string, url: string) => ({
  id,
  connectionType: "switchyard.server",
  label,
  isDefault: false,
  status: "ready",
  fields: { baseUrl: url },
  allowedHosts: [],
  createdAt: "2026-12-01T00:00:00Z",
  updatedAt: "2026-12-01T00:00:00Z",
});

/** Serves accounts, deployments and deploys; returns the deploy requests sent. */
function fakeApi(deployed: string[] = []) {
  const sent: unknown[] = [];
  setTransport(async (command, payload) => {
    if (command === "account_list") {
      return {
        accounts: [
          server("s1", "staging", "http://127.0.0.1:5680"),
          { ...server("b1", "work", ""), connectionType: "http.bearer" },
          server("s2", "prod", "https://automation.example.com"),
        ],
      };
    }
    if (command === "workflow_deployments") {
      return { deployments: deployed.map((s) => ({ server: s, url: "https://automation.example.com/", version: 3, deployedAt: "2026-12-02T10:00:00Z" })) };
    }
    if (command === "workflow_deploy") {
      sent.push(payload);
      const { force } = payload as { force: boolean };
      if (!force) throw { code: "conflict", message: 'server "prod" (https://automation.example.com/): "Orders" was changed there since this computer deployed it' };
      return {
        server: "prod",
        url: "https://automation.example.com/",
        workflowId: "orders",
        version: 5,
        created: false,
        active: false,
        missingAccounts: [{ connection: "http.bearer", connectionName: "Bearer token", account: "work", nodes: ["Fetch"] }],
        notes: ["not activated: add the missing accounts on the server first, then deploy again"],
      };
    }
    if (command === "execution_list") return { executions: [{ id: "l1", workflowId: "orders", workflowName: "Orders", status: "success", mode: "manual", startedAt: "2026-12-02T09:00:00Z" }] };
    if (command === "server_executions") {
      sent.push(payload);
      return { executions: [{ id: "r1", workflowId: "orders", workflowName: "Orders", status: "error", mode: "webhook", startedAt: "2026-12-02T11:00:00Z", attempt: 2 }] };
    }
    throw { code: "internal", message: `unexpected ${command}` };
  });
  return sent;
}

describe("Deploy to…", () => {
  it("offers only Switchyard servers, the last one deployed to first, and replaces a changed copy only when asked", async () => {
    const sent = fakeApi(["prod"]);
    render(<DeployDialog workflowId="orders" name="Orders" dirty={false} onManageConnections={vi.fn()} onClose={vi.fn()} />);
    const select = await screen.findByTestId<HTMLSelectElement>("deploy-server");
    await waitFor(() => expect(select.value).toBe("prod"));
    expect([...select.options].map((o) => o.value)).toEqual(["staging", "prod"]);
    fireEvent.click(screen.getByTestId("deploy-confirm"));
    expect((await screen.findByTestId("deploy-error")).textContent).toContain("was changed there");
    expect(sent).toEqual([{ id: "orders", server: "prod", activate: true, force: false }]);
    fireEvent.click(screen.getByTestId("deploy-force"));
    const result = await screen.findByTestId("deploy-result");
    expect(result.textContent).toContain("Updated on prod (https://automation.example.com/): version 5.");
    expect(screen.getByTestId("deploy-missing").textContent).toContain("“work” (Bearer token), used by “Fetch”");
    expect(result.textContent).toContain("not activated");
    expect(sent[1]).toEqual({ id: "orders", server: "prod", activate: true, force: true });
  });

  it("asks to save first and says how to add a server when there is none", async () => {
    setTransport(async (command) => {
      if (command === "account_list") return { accounts: [] };
      if (command === "workflow_deployments") return { deployments: [] };
      throw { code: "internal", message: `unexpected ${command}` };
    });
    const manage = vi.fn();
    render(<DeployDialog workflowId="orders" name="Orders" dirty={true} onManageConnections={manage} onClose={vi.fn()} />);
    expect((await screen.findByTestId("deploy-no-servers")).textContent).toContain("switchyard tokens create --scope admin");
    expect(screen.getByText(/Save first/)).toBeTruthy();
    expect(screen.getByTestId<HTMLButtonElement>("deploy-confirm").disabled).toBe(true);
    fireEvent.click(screen.getByText("Open Connections"));
    expect(manage).toHaveBeenCalled();
  });

  it("shows a deployed workflow's runs on the server in the history panel", async () => {
    const sent = fakeApi(["prod"]);
    const open = vi.fn();
    render(<History workflowId="orders" activeId={null} refreshKey={0} onOpen={open} onClose={vi.fn()} />);
    await waitFor(() => expect(screen.getAllByTestId("history-row")[0].textContent).toContain("manual"));
    fireEvent.change(await screen.findByTestId("history-source"), { target: { value: "prod" } });
    await waitFor(() => expect(screen.getAllByTestId("history-row")[0].textContent).toContain("webhook"));
    // A run a worker ran again from the start (server mode's queue) says which attempt it is.
    expect(screen.getByTestId("history-attempt").textContent).toBe(" · attempt 2");
    expect(sent).toEqual([{ id: "orders", server: "prod", limit: 100 }]);
    // A server's run opens read-only on this canvas, read from that server.
    fireEvent.click(screen.getAllByTestId("history-row")[0]);
    expect(open).toHaveBeenCalledWith("r1", "prod");
  });
});
