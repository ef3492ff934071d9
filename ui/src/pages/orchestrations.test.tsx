import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { setTransport } from "../api/client";
import type { OrchestrationListResponse } from "../gen/OrchestrationListResponse";
import { Orchestrations, answerText, asRecord } from "./Orchestrations";

afterEach(cleanup);

const agent = (name: string, answer: string, group: number | undefined, status = "answered") => ({
  agent: name,
  model: `say:${answer}`,
  account: "llm.openaiCompatible/local",
  promptHash: "0123456789abcdef",
  tokensIn: 10,
  tokensOut: 2,
  latencyMs: 42,
  status,
  answer,
  vote: answer,
  group,
});

const listed: OrchestrationListResponse = {
  nodes: [
    {
      workflowId: "orch",
      workflowName: "Tickets",
      nodeId: "o",
      nodeName: "Classify",
      strategy: "consensus",
      agents: [
        { name: "a", model: "", asked: 2, answered: 2, won: 1, tokensIn: 20, tokensOut: 4, meanLatencyMs: 42 },
        { name: "c", model: "llama3.2", account: "second", asked: 2, answered: 1, won: 0, tokensIn: 10, tokensOut: 2, meanLatencyMs: 40 },
      ],
      runs: [
        {
          executionId: "e2",
          startedAt: new Date().toISOString(),
          status: "error",
          durationMs: 12,
          records: [{ strategy: "consensus", groups: [{ answer: "billing", agents: ["a"], votes: 1 }, { answer: "bug", agents: ["c"], votes: 1 }], agents: [agent("a", "billing", 0), agent("c", "bug", 1)] }],
          error: { code: "no_consensus", class: "permanent", message: "the agents tied: a (1) vs c (1)" },
        },
        {
          executionId: "e1",
          startedAt: new Date().toISOString(),
          status: "success",
          durationMs: 10,
          records: [
            {
              strategy: "consensus",
              winner: "a",
              decidedBy: "tieBreaker",
              groups: [{ answer: "billing", agents: ["a"], votes: 1 }],
              agents: [agent("a", "billing", 0), { ...agent("c", "", undefined, "timedOut"), answer: undefined, error: "did not answer within 1 s" }],
              referees: [{ role: "tieBreaker", model: "referee", account: "llm.openaiCompatible/referee", tokensIn: 30, tokensOut: 3, latencyMs: 5, answer: { choice: 1 } }],
            },
            "not a record",
          ],
        },
      ],
    },
  ],
};

describe("the Orchestrations page", () => {
  it("shows each node's agents with their figures and every run's vote table", async () => {
    const opened: string[] = [];
    setTransport(async (command) => {
      if (command === "orchestration_list") return listed;
      throw new Error(`unexpected ${command}`);
    });
    render(<Orchestrations onOpen={(id) => opened.push(id)} onOpenRun={(id, e) => opened.push(`${id}/${e}`)} />);
    const node = await screen.findByTestId("orchestration-node");
    expect(node.textContent).toContain("Tickets · Classify (consensus)");
    const rows = within(screen.getByTestId("agent-figures")).getAllByTestId("agent-row");
    expect(rows[0].textContent).toContain("the node's");
    expect(rows[1].textContent).toContain("llama3.2");
    expect(rows[1].textContent).toContain("second");
    expect(rows[1].textContent).toContain("1 of 2");
    const runs = screen.getAllByTestId("orchestration-run");
    expect(runs).toHaveLength(2);
    expect(runs[0].textContent).toContain("the agents tied: a (1) vs c (1)");
    expect(within(runs[0]).getByTestId("record-tally").textContent).toContain("a (1) vs c (1)");
    expect(within(runs[1]).getByTestId("record-winner").textContent).toBe("a");
    expect(runs[1].textContent).toContain("by the tie-breaker");
    expect(runs[1].textContent).toContain("Tie-breaker referee");
    const votes = within(runs[1]).getAllByTestId("vote-row");
    expect(votes[0].textContent).toContain("group 1 ✓");
    expect(votes[1].textContent).toContain("timed out");
    expect(votes[1].textContent).toContain("did not answer within 1 s");
    expect(within(runs[1]).getAllByTestId("orchestration-record")).toHaveLength(1);
    fireEvent.click(within(runs[0]).getByTestId("open-run"));
    await waitFor(() => expect(opened).toEqual(["orch/e2"]));
  });

  it("says what to do when there is none, and reads records defensively", async () => {
    setTransport(async () => ({ nodes: [] }));
    render(<Orchestrations onOpen={() => {}} onOpenRun={() => {}} />);
    const page = await screen.findByTestId("orchestrations-page");
    await waitFor(() => expect(page.textContent).toContain("No saved workflow has an AI Orchestrate node yet"));
    expect(asRecord({ strategy: "race" })).toBeNull();
    expect(asRecord(null)).toBeNull();
    expect(answerText({ category: "bug" })).toBe('{"category":"bug"}');
    expect(answerText("x".repeat(200)).length).toBe(161);
  });
});
