import { describe, expect, it } from "vitest";
import { descriptor, descriptorMap, workflow } from "../test-support";
import { connectionId } from "./model";
import * as S from "./store";

describe("editor history", () => {
  it("undoes and redoes every edit", () => {
    let s = S.initialState(workflow(), 1);
    s = S.addNode(s, descriptor("data.filter"), [600, 0]);
    const filter = s.workflow.nodes[2];
    expect(filter.name).toBe("Filter");
    expect(s.selection.nodes).toEqual([filter.id]);
    s = S.connect(s, { from: { node: "s", output: "main" }, to: { node: filter.id, input: "main" } });
    s = S.moveNodes(s, { [filter.id]: [620.4, 40.6] });
    expect(s.workflow.nodes[2].position).toEqual([620, 41]);
    expect(s.past).toHaveLength(3);

    s = S.undo(s);
    expect(s.workflow.nodes[2].position).toEqual([600, 0]);
    s = S.undo(s);
    expect(s.workflow.connections).toHaveLength(1);
    s = S.undo(s);
    expect(s.workflow.nodes).toHaveLength(2);
    expect(s.selection.nodes).toEqual([]); // the undone node is no longer selected
    expect(S.undo(s)).toBe(s);

    s = S.redo(S.redo(S.redo(s)));
    expect(s.workflow.nodes).toHaveLength(3);
    expect(s.workflow.connections).toHaveLength(2);
    expect(s.future).toHaveLength(0);
  });

  it("a new edit clears the redo list", () => {
    let s = S.initialState(workflow(), 1);
    s = S.setWorkflowName(s, "A");
    s = S.undo(s);
    expect(s.future).toHaveLength(1);
    s = S.toggleDisabled(s, ["s"]);
    expect(s.future).toHaveLength(0);
  });

  it("typing in one field makes one undo step", () => {
    let s = S.initialState(workflow(), 1);
    for (const text of ["h", "he", "hel", "hello"]) s = S.setParameter(s, "s", "fields", text);
    expect(s.past).toHaveLength(1);
    s = S.setParameter(s, "s", "keep", "none");
    expect(s.past).toHaveLength(2);
    s = S.undo(s);
    expect(s.workflow.nodes[1].parameters).toEqual({ fields: "hello" });
    s = S.undo(s);
    expect(s.workflow.nodes[1].parameters).toEqual({});
  });

  it("tracks unsaved changes against the saved document", () => {
    let s = S.initialState(workflow(), 3);
    expect(S.isDirty(s)).toBe(false);
    s = S.setWorkflowName(s, "Renamed");
    expect(S.isDirty(s)).toBe(true);
    s = S.markSaved(s, s.workflow, 4);
    expect(S.isDirty(s)).toBe(false);
    expect(s.version).toBe(4);
    s = S.undo(s);
    expect(S.isDirty(s)).toBe(true);
  });

  it("keeps at most HISTORY_LIMIT steps", () => {
    let s = S.initialState(workflow(), 1);
    for (let i = 0; i < S.HISTORY_LIMIT + 20; i++) s = S.moveNodes(s, { s: [i, i] });
    expect(s.past).toHaveLength(S.HISTORY_LIMIT);
  });
});

describe("graph edits", () => {
  it("deletes selected nodes with their connections, and selected connections", () => {
    let s = S.initialState(workflow(), 1);
    s = S.select(s, { nodes: ["s"], connections: [] });
    s = S.deleteSelection(s);
    expect(s.workflow.nodes.map((n) => n.id)).toEqual(["t"]);
    expect(s.workflow.connections).toHaveLength(0);

    let t = S.initialState(workflow(), 1);
    t = S.select(t, { nodes: [], connections: [connectionId(t.workflow.connections[0])] });
    t = S.deleteSelection(t);
    expect(t.workflow.nodes).toHaveLength(2);
    expect(t.workflow.connections).toHaveLength(0);
  });

  it("refuses self-wires, duplicates and cycles", () => {
    let s = S.initialState(workflow(), 1);
    const before = s.workflow;
    s = S.connect(s, { from: { node: "s", output: "main" }, to: { node: "s", input: "main" } });
    s = S.connect(s, { from: { node: "t", output: "main" }, to: { node: "s", input: "main" } });
    s = S.addNode(s, descriptor("flow.noop"), [0, 0]);
    const noop = s.workflow.nodes[2].id;
    s = S.connect(s, { from: { node: "s", output: "main" }, to: { node: noop, input: "main" } });
    const withChain = s.workflow;
    s = S.connect(s, { from: { node: noop, output: "main" }, to: { node: "s", input: "main" } });
    expect(s.workflow).toBe(withChain);
    expect(withChain.connections).toHaveLength(before.connections.length + 1);
  });

  it("renames with unique names", () => {
    let s = S.initialState(workflow(), 1);
    expect(() => S.renameNode(s, "s", "Start")).toThrow(/already called "Start"/);
    s = S.renameNode(s, "s", "  Greeting ");
    expect(s.workflow.nodes[1].name).toBe("Greeting");
    s = S.addNode(s, descriptor("data.set"), [0, 0]);
    s = S.addNode(s, descriptor("data.set"), [0, 0]);
    expect(s.workflow.nodes.map((n) => n.name)).toEqual(["Start", "Greeting", "Set", "Set 2"]);
  });

  it("drops wires to outputs that no longer exist", () => {
    let s = S.initialState(workflow(), 1);
    s = S.addNode(s, descriptor("flow.switch"), [0, 0]);
    const sw = s.workflow.nodes[2].id;
    const map = descriptorMap();
    s = S.setParameter(s, sw, "rules", [{ output: "big", left: "x", operator: "equals", right: "y" }], map);
    s = S.connect(s, { from: { node: sw, output: "big" }, to: { node: "s", input: "main" } });
    expect(s.workflow.connections).toHaveLength(2);
    s = S.setParameter(s, sw, "rules", [{ output: "huge", left: "x", operator: "equals", right: "y" }], map);
    expect(s.workflow.connections).toHaveLength(1);
    s = S.setSettings(s, "s", { onError: "errorOutput" }, map);
    s = S.connect(s, { from: { node: "s", output: "error" }, to: { node: sw, input: "main" } });
    expect(s.workflow.connections).toHaveLength(2);
    s = S.setSettings(s, "s", { onError: "stop" }, map);
    expect(s.workflow.connections).toHaveLength(1);
  });

  it("duplicates with fresh ids and names, keeping inner wires", () => {
    let s = S.initialState(workflow(), 1);
    s = S.duplicate(s, ["t", "s"]);
    expect(s.workflow.nodes).toHaveLength(4);
    expect(s.workflow.nodes.slice(2).map((n) => n.name)).toEqual(["Start 2", "Set 2"]);
    expect(s.workflow.connections).toHaveLength(2);
    expect(s.selection.nodes).toEqual(s.workflow.nodes.slice(2).map((n) => n.id));
  });

  it("auto-layout puts nodes in columns by depth", () => {
    let s = S.initialState(workflow(), 1);
    s = S.addNode(s, descriptor("flow.noop"), [-500, -500]);
    s = S.connect(s, { from: { node: "s", output: "main" }, to: { node: s.workflow.nodes[2].id, input: "main" } });
    s = S.autoLayout(s);
    const xs = s.workflow.nodes.map((n) => n.position[0]);
    expect(xs[0]).toBeLessThan(xs[1]);
    expect(xs[1]).toBeLessThan(xs[2]);
    expect(S.undo(s).workflow.nodes[2].position).toEqual([-500, -500]);
  });

  it("pins and unpins items", () => {
    let s = S.initialState(workflow(), 1);
    s = S.pin(s, "s", [{ json: { a: 1 } }]);
    expect(s.workflow.pinData).toEqual({ s: [{ json: { a: 1 } }] });
    s = S.pin(s, "s", null);
    expect(s.workflow.pinData).toEqual({});
  });
});

describe("sticky notes", () => {
  it("adds, edits, moves with nodes, resizes within bounds and deletes notes, each undoable", () => {
    let s = S.initialState(workflow(), 1);
    s = S.addNote(s, [100.4, -200.6]);
    const note = s.workflow.notes![0];
    expect(note).toMatchObject({ content: "", position: [100, -201], size: [260, 160], color: "yellow" });
    expect(s.selection.notes).toEqual([note.id]);
    // Typing in one note is one undo step.
    s = S.updateNote(s, note.id, { content: "# Plan" });
    s = S.updateNote(s, note.id, { content: "# Plan\n- first" });
    expect(s.past).toHaveLength(2);
    s = S.updateNote(s, note.id, { color: "blue", size: [10, 99999] });
    expect(s.workflow.notes![0]).toMatchObject({ color: "blue", size: [60, 4000], content: "# Plan\n- first" });
    // One drag moves nodes and notes together, in one step.
    s = S.moveNodes(s, { s: [5, 5], [`note:${note.id}`]: [40, 50] });
    expect(s.workflow.notes![0].position).toEqual([40, 50]);
    expect(s.workflow.nodes.find((n) => n.id === "s")!.position).toEqual([5, 5]);
    s = S.deleteSelection(S.select(s, { nodes: [], connections: [], notes: [note.id] }));
    expect(s.workflow.notes).toEqual([]);
    s = S.undo(s);
    expect(s.workflow.notes).toHaveLength(1);
    expect(S.undo(S.undo(S.undo(S.undo(s)))).workflow.notes ?? []).toEqual([]);
  });
});
