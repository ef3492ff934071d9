import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { setTransport } from "../api/client";
import { defaultSettings } from "../editor/model";
import type { WorkflowDiff } from "../gen/WorkflowDiff";
import { workflow } from "../test-support";
import { parsePinned } from "./PinEditor";
import { marksOf, Versions } from "./Versions";

const diff: WorkflowDiff = {
  added: [{ id: "n", name: "New", type: "flow.noop" }],
  removed: [{ id: "o", name: "Old", type: "flow.noop" }],
  changed: [
    { id: "h", name: "Fetch", moved: false, changes: [{ path: "parameters.url", before: "https://a.test", after: "https://b.test" }] },
    { id: "t", name: "Start", moved: true, changes: [] },
  ],
  connectionsAdded: [],
  connectionsRemoved: [],
  workflow: [],
};

describe("versions", () => {
  it("marks added, changed and moved nodes", () => {
    expect([...marksOf(diff).entries()]).toEqual([
      ["n", "added"],
      ["h", "changed"],
      ["t", "moved"],
    ]);
  });

  it("lists versions, shows the changes since one and marks them", async () => {
    setTransport(async (command) => {
      if (command === "workflow_versions")
        return {
          versions: [
            { version: 2, savedAt: "2026-12-02T10:00:00Z", note: "new host", name: "Orders", nodeCount: 3 },
            { version: 1, savedAt: "2026-12-01T10:00:00Z", note: "", name: "Orders", nodeCount: 2 },
          ],
        };
      if (command === "workflow_diff") return diff;
      if (command === "workflow_version_get")
        return { ...workflow(), nodes: [{ id: "o", name: "Old", type: "flow.noop", version: 1, position: [300, 40], parameters: {}, settings: defaultSettings() }] };
      throw new Error(`unexpected ${command}`);
    });
    const onMarks = vi.fn();
    render(<Versions workflowId="w" version={2} dirty={false} refreshKey={2} onMarks={onMarks} onRestored={() => {}} onClose={() => {}} />);
    await screen.findByText("new host");
    fireEvent.click(screen.getByText("Version 1"));
    await screen.findByText(/parameters.url: "https:\/\/a.test" → "https:\/\/b.test"/);
    expect(screen.getByText("− Old")).toBeTruthy();
    // The removed node is drawn from version 1, where it stood.
    await vi.waitFor(() => expect(onMarks).toHaveBeenCalled());
    const drawn = onMarks.mock.lastCall![0];
    expect(drawn.marks).toEqual(marksOf(diff));
    expect(drawn.removed.map((n: { id: string; position: number[] }) => [n.id, n.position])).toEqual([["o", [300, 40]]]);
    expect(screen.getByTestId("version-restore").textContent).toBe("Restore version 1");
  });
});

describe("pinned data written as JSON", () => {
  it("takes a list of objects or one object, and names what is wrong", () => {
    expect(parsePinned('[{"a": 1}, {"b": 2}]')).toEqual([{ json: { a: 1 } }, { json: { b: 2 } }]);
    expect(parsePinned('{"a": 1}')).toEqual([{ json: { a: 1 } }]);
    expect(() => parsePinned("[1]")).toThrow("item 0 is not an object");
    expect(() => parsePinned("{oops")).toThrow(/^not JSON/);
  });
});
