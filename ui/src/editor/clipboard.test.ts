import { describe, expect, it } from "vitest";
import { workflow } from "../test-support";
import { copyText, PasteError, parseFragment, pasteFragment } from "./clipboard";
import * as S from "./store";

describe("clipboard", () => {
  it("copies the selection as a workflow file and pastes it back", () => {
    const wf = { ...workflow(), pinData: { s: [{ json: { pinned: true } }] } };
    const text = copyText(wf, ["t", "s"]);
    const file = JSON.parse(text);
    expect(file.switchyard).toBe(1);
    expect(file.nodes.map((n: { id: string }) => n.id)).toEqual(["t", "s"]);
    expect(file.connections).toHaveLength(1);
    expect(file.pinData.s).toEqual([{ json: { pinned: true } }]);

    const { workflow: next, ids } = pasteFragment(wf, parseFragment(text), [1000, 500]);
    expect(ids).toHaveLength(2);
    expect(next.nodes).toHaveLength(4);
    const pasted = next.nodes.filter((n) => ids.includes(n.id));
    expect(pasted.map((n) => n.name)).toEqual(["Start 2", "Set 2"]);
    expect(pasted[0].position).toEqual([1000, 500]);
    expect(pasted[1].position).toEqual([1300, 500]);
    const wire = next.connections[1];
    expect([wire.from.node, wire.to.node]).toEqual(ids);
    expect(next.pinData?.[ids[1]]).toEqual([{ json: { pinned: true } }]);
  });

  it("copies only wires between copied nodes", () => {
    const file = JSON.parse(copyText(workflow(), ["s"]));
    expect(file.connections).toEqual([]);
  });

  it("round-trips through the store with undo", () => {
    let s = S.initialState(workflow(), 1);
    s = S.paste(s, parseFragment(copyText(s.workflow, ["s"])));
    expect(s.workflow.nodes).toHaveLength(3);
    expect(s.workflow.nodes[2].position).toEqual([340, 40]);
    s = S.undo(s);
    expect(s.workflow.nodes).toHaveLength(2);
  });

  it("explains what cannot be pasted", () => {
    expect(() => parseFragment("hello")).toThrow(PasteError);
    expect(() => parseFragment('{"a": 1}')).toThrow(/no "nodes" list/);
    expect(() => parseFragment('{"nodes": [{"name": "x"}]}')).toThrow(/nodes\[0\] needs an "id" and a "type"/);
    const bare = parseFragment('[{"id": "a", "type": "flow.noop"}]');
    expect(bare.nodes[0].settings.onError).toBe("stop");
    expect(bare.nodes[0].name).toBe("flow.noop");
  });
});
