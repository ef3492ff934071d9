import { describe, expect, it } from "vitest";
import type { ApiEvent } from "../gen/ApiEvent";
import { workflow } from "../test-support";
import { applyEvent, emptyRun, fromExecution, inputItems } from "./run";
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
