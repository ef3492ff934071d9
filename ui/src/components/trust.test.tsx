import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { TrustReview } from "../gen/TrustReview";
import { TrustDialog } from "./TrustDialog";

afterEach(cleanup);

const review: TrustReview = {
  workflowId: "shared",
  name: "Looks harmless",
  version: 2,
  untrusted: "shared.json",
  accounts: [
    {
      connection: "http.bearer",
      connectionName: "Bearer token",
      accountId: "a1",
      resolvedLabel: "work",
      nodes: ["Fetch", "Post"],
      hosts: ["api.example.com", "127.0.0.1:9999"],
      newHosts: ["127.0.0.1:9999"],
      computedUrls: ["Post"],
    },
    { connection: "github", connectionName: "GitHub", account: "ops", nodes: ["Issues"], hosts: ["api.github.com"], newHosts: [], computedUrls: [] },
  ],
  local: [
    { kind: "command", target: "/usr/local/bin/backup", nodes: ["Backup"], approved: false },
    { kind: "command", target: "/opt/tools/**", nodes: ["Tool"], approved: true },
    { kind: "read", target: "/home/me/in/*.csv", nodes: ["Read"], approved: true },
    { kind: "secret", target: "webhook.secret/shop", nodes: ["Sign"], approved: false },
  ],
};

describe("the trust dialog", () => {
  it("names the file, each account, its nodes and the hosts trusting would allow", () => {
    const onTrust = vi.fn();
    const onClose = vi.fn();
    render(<TrustDialog review={review} onTrust={onTrust} onClose={onClose} />);
    const dialog = screen.getByTestId("trust-dialog");
    expect(dialog.textContent).toContain("shared.json");
    const [bearer, github] = within(dialog).getAllByTestId("trust-account");
    expect(bearer.textContent).toContain("work");
    expect(bearer.textContent).toContain("“Fetch”, “Post”");
    expect(bearer.textContent).toContain("sends it to 127.0.0.1:9999new: trusting allows this host");
    expect(bearer.textContent).not.toContain("api.example.comnew");
    expect(bearer.textContent).toContain("compute");
    expect(github.textContent).toContain("no such account here yet");
    const [backup, tool, , sign] = within(dialog).getAllByTestId("trust-local-item");
    expect(sign.textContent).toContain("hands out the secret of webhook.secret/shopnew: trusting approves it");
    expect(sign.textContent).toContain("the account's allowed hosts cannot follow it");
    expect(backup.textContent).toContain("runs /usr/local/bin/backupnew: trusting approves it");
    expect(backup.textContent).toContain("used by “Backup”");
    expect(tool.textContent).not.toContain("new:");
    expect(tool.textContent).toContain("computed while running");
    fireEvent.click(within(dialog).getByText("Not now"));
    expect(onClose).toHaveBeenCalled();
    fireEvent.click(within(dialog).getByTestId("trust-confirm"));
    expect(within(dialog).getByTestId("trust-confirm").textContent).toBe("Trust and allow these hosts");
    expect(onTrust).toHaveBeenCalledTimes(1);
  });

  it("asks only to trust when every host is already allowed", () => {
    const quiet = { ...review, accounts: [{ ...review.accounts[1], accountId: "g1" }] };
    render(<TrustDialog review={quiet} onTrust={() => undefined} onClose={() => undefined} />);
    expect(screen.getByTestId("trust-confirm").textContent).toBe("Trust");
  });
});
