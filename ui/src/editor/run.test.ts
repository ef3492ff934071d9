import { describe, expect, it } from "vitest";
import type { ApiEvent } from "../gen/ApiEvent";
import { workflow } from "../test-support";
import { STREAM_KEEP, applyEvent, emptyRun, fromExecution, inputItems } from "./run";
import { toggled } from "./useBreakpoints";

const base = { executionId: "e1", workflowId: "wf", at: "2026-01-01T00:00:00.000Z" };
const ev = (seq: number, kind: Record<string, unknown>): ApiEvent => ({ kind: "run", event: { ...base, seq, ...kind } as never });

describe("live run view", () => {
  it("follows a run's events", () => {
    let v = emptyRun();
    v = applyEvent(v, "wf", ev(0, { type: "runStarted", workflowName: "T", nodeIds: ["t", "s"] }));
    expect(v.nodes.s.status).toBe("waiting");
    v = applyEvent(v, "wf", ev(1, { type: "nodeStarted", nodeId: "t", nodeName: "Start", itemsIn: 0 }));
    expect(v.nodes.t.status).toBe("running");
    v = applyEvent(v, "wf", ev(2, { type: "nodeProgress", nodeId: "t", done: 5, total: 10, etaMs: 100 }));
    expect(v.nodes.t.progress).toEqual({ done: 5, total: 10, etaMs: 100 });
    v = applyEvent(v, "wf", ev(3, { type: "nodeFinished", nodeId: "t", nodeName: "Start", status: "success", itemsIn: 0, outputs: [{ name: "main", items: 2 }], durationMs: 4 }));
    expect(v.nodes.t).toMatchObject({ status: "success", outputs: [{ name: "main", items: 2 }] });
    v = applyEvent(v, "wf", { kind: "nodeData", executionId: "e1", data: { nodeId: "t", nodeName: "Start", status: "success", startedAt: "", durationMs: 4, itemsIn: 0, outputs: [{ name: "main", total: 2, items: [{ json: { a: 1 } }, { json: { a: 2 } }], truncated: false }] } });
    expect(inputItems(workflow(), v, "s")[0].items).toHaveLength(2);
    v = applyEvent(v, "wf", ev(4, { type: "nodeFailed", nodeId: "s", nodeName: "Set", error: { code: "expression_failed", class: "unknown", message: "boom" }, durationMs: 1 }));
    expect(v.nodes.s).toMatchObject({ status: "error", message: "boom" });
    v = applyEvent(v, "wf", ev(5, { type: "runFinished", status: "error", durationMs: 9, error: { code: "expression_failed", class: "unknown", message: "boom" } }));
    expect(v.running).toBe(false);
    expect(v.status).toBe("error");
  });

  it("shows a pause at a breakpoint with the items about to go in, until the run resumes", () => {
    let v = applyEvent(emptyRun(), "wf", ev(0, { type: "runStarted", workflowName: "T", nodeIds: ["t", "s"] }));
    const inputs = [{ name: "main", total: 3, items: [{ json: { a: 1 } }], truncated: true }];
    v = applyEvent(v, "wf", ev(1, { type: "nodePaused", nodeId: "s", nodeName: "Set", itemsIn: 3, inputs, stepping: false }));
    expect(v.nodes.s.status).toBe("paused");
    expect(v.paused).toMatchObject({ nodeId: "s", nodeName: "Set", itemsIn: 3 });
    // The inspector's input of the paused node is what waits to go in, not rebuilt from sources.
    expect(inputItems(workflow(), v, "s")).toEqual([{ input: "main", items: [{ json: { a: 1 } }], total: 3, truncated: true }]);
    v = applyEvent(v, "wf", ev(2, { type: "runResumed", nodeId: "s", action: "step" }));
    expect(v.paused).toBeNull();
    expect(v.nodes.s.status).toBe("waiting");
    v = applyEvent(v, "wf", ev(3, { type: "nodePaused", nodeId: "s", nodeName: "Set", itemsIn: 3, inputs, stepping: true }));
    v = applyEvent(v, "wf", ev(4, { type: "runFinished", status: "cancelled", durationMs: 9 }));
    expect(v.paused).toBeNull();
    expect(v.running).toBe(false);
  });

  it("toggles breakpoints on a selection: adds when any lacks one, removes when all have one", () => {
    expect(toggled([], ["a"])).toEqual(["a"]);
    expect(toggled(["a"], ["a", "b"])).toEqual(["a", "b"]);
    expect(toggled(["a", "b", "c"], ["a", "b"])).toEqual(["c"]);
    expect(toggled(["a"], [])).toEqual(["a"]);
  });

  it("ignores other workflows and other runs", () => {
    const v = applyEvent(emptyRun(), "other", ev(0, { type: "runStarted", workflowName: "T", nodeIds: [] }));
    expect(v.executionId).toBeNull();
    const w = applyEvent(emptyRun(), "wf", { kind: "nodeData", executionId: "zzz", data: {} as never });
    expect(w.data).toEqual({});
  });

  it("shows stored executions", () => {
    const v = fromExecution({
      summary: { id: "e9", workflowId: "wf", workflowName: "T", status: "success", mode: "manual", startedAt: "2026-01-01T00:00:00Z", durationMs: 3 },
      workflow: workflow(),
      nodes: [{ nodeId: "t", nodeName: "Start", status: "success", startedAt: "", durationMs: 1, itemsIn: 0, outputs: [{ name: "main", total: 3, items: [], truncated: true }] }],
    });
    expect(v.fromHistory).toEqual({ startedAt: "2026-01-01T00:00:00Z" });
    expect(v.nodes.t.outputs).toEqual([{ name: "main", items: 3 }]);
  });
});

describe("streamed answers", () => {
  it("grow per item, start over on a fresh try, and keep the tokens used after the node ends", () => {
    let v = applyEvent(emptyRun(), "wf", ev(0, { type: "runStarted", workflowName: "W", nodeIds: ["c"] }));
    v = applyEvent(v, "wf", ev(1, { type: "nodeStarted", nodeId: "c", nodeName: "Chat", itemsIn: 2 }));
    v = applyEvent(v, "wf", ev(2, { type: "nodeStreamed", nodeId: "c", itemIndex: 0, text: "", fresh: true }));
    v = applyEvent(v, "wf", ev(3, { type: "nodeStreamed", nodeId: "c", itemIndex: 0, text: "Hel", fresh: false }));
    v = applyEvent(v, "wf", ev(4, { type: "nodeStreamed", nodeId: "c", itemIndex: 1, text: "Other", fresh: true }));
    v = applyEvent(v, "wf", ev(5, { type: "nodeStreamed", nodeId: "c", itemIndex: 0, text: "lo", fresh: false }));
    expect(v.nodes.c.streamed).toEqual({ byItem: { 0: "Hello", 1: "Other" }, latest: 0 });
    expect(v.nodes.c.status).toBe("running");
    // A retry starts item 0's answer over.
    v = applyEvent(v, "wf", ev(6, { type: "nodeStreamed", nodeId: "c", itemIndex: 0, text: "Again", fresh: true }));
    expect(v.nodes.c.streamed?.byItem[0]).toBe("Again");
    v = applyEvent(v, "wf", ev(7, { type: "modelUsage", nodeId: "c", nodeName: "Chat", model: "m", account: "llm.openaiCompatible/a", tokensIn: 10, tokensOut: 3, durationMs: 5 }));
    v = applyEvent(v, "wf", ev(8, { type: "modelUsage", nodeId: "c", nodeName: "Chat", model: "m", account: "llm.openaiCompatible/a", tokensIn: 4, tokensOut: 2, durationMs: 5 }));
    v = applyEvent(v, "wf", ev(9, { type: "nodeFinished", nodeId: "c", nodeName: "Chat", status: "success", itemsIn: 2, outputs: [{ name: "main", items: 2 }], durationMs: 20 }));
    expect(v.nodes.c.usage).toEqual({ model: "m", tokensIn: 14, tokensOut: 5, calls: 2 });
    expect(v.nodes.c.streamed).toBeUndefined();
  });

  it("keeps only the end of a very long answer", () => {
    let v = applyEvent(emptyRun(), "wf", ev(0, { type: "runStarted", workflowName: "W", nodeIds: ["c"] }));
    v = applyEvent(v, "wf", ev(1, { type: "nodeStreamed", nodeId: "c", itemIndex: 0, text: "x".repeat(STREAM_KEEP) + "END", fresh: true }));
    const text = v.nodes.c.streamed?.byItem[0] ?? "";
    expect(text.length).toBe(STREAM_KEEP);
    expect(text.endsWith("END")).toBe(true);
  });
});

describe("agent transcripts", () => {
  it("collect each item's steps while the agent runs and stay when it fails", () => {
    let v = applyEvent(emptyRun(), "wf", ev(0, { type: "runStarted", workflowName: "W", nodeIds: ["a"] }));
    v = applyEvent(v, "wf", ev(1, { type: "nodeStarted", nodeId: "a", nodeName: "Agent", itemsIn: 1 }));
    v = applyEvent(v, "wf", ev(2, { type: "agentStep", nodeId: "a", itemIndex: 0, step: 0, entry: { role: "user", content: "Where is A-42?" } }));
    v = applyEvent(v, "wf", ev(3, { type: "agentStep", nodeId: "a", itemIndex: 0, step: 1, entry: { role: "call", content: "", tool: "lookup", arguments: '{"id":"A-42"}' } }));
    v = applyEvent(v, "wf", ev(4, { type: "agentStep", nodeId: "a", itemIndex: 0, step: 1, entry: { role: "result", content: "no such order", tool: "lookup", error: true } }));
    expect(v.nodes.a.transcript?.[0].map((e) => e.role)).toEqual(["user", "call", "result"]);
    v = applyEvent(v, "wf", ev(5, { type: "nodeFailed", nodeId: "a", nodeName: "Agent", error: { code: "step_limit", class: "permanent", message: "gave up" }, durationMs: 9 }));
    expect(v.nodes.a.status).toBe("error");
    expect(v.nodes.a.transcript?.[0]).toHaveLength(3);
  });
});
