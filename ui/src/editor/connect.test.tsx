import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { DialogHost, pick } from "../components/dialogs";
import { descriptor, descriptorMap, workflow } from "../test-support";
import { connectOptions } from "./model";
import * as S from "./store";

afterEach(cleanup);

describe("connecting by keyboard", () => {
  it("offers every free wire from a node, none that closes a loop or exists", () => {
    let s = S.initialState(workflow(), 1);
    s = S.addNode(s, descriptor("flow.if"), [600, 0]);
    const iff = s.workflow.nodes[2].id;
    s = S.connect(s, { from: { node: "s", output: "main" }, to: { node: iff, input: "main" } });
    const fromIf = connectOptions(s.workflow, descriptorMap(), iff);
    // Start is a trigger (no input) and Set feeds IF: a wire back to Set would close a loop.
    expect(fromIf).toEqual([]);
    const fromStart = connectOptions(s.workflow, descriptorMap(), "t").map((o) => o.label);
    expect(fromStart).toEqual(["→ IF"]);
    s = S.addNode(s, descriptor("data.set"), [900, 0]);
    const set2 = s.workflow.nodes[3];
    const labels = connectOptions(s.workflow, descriptorMap(), iff).map((o) => o.label);
    expect(labels).toEqual([`true → ${set2.name}`, `false → ${set2.name}`]);
  });

  it("chooses from a list with the keyboard", async () => {
    render(<DialogHost />);
    let chosen: Promise<string | null> = Promise.resolve(null);
    act(() => {
      chosen = pick("Connect “If” to", "Choose", [
        { value: "0", label: "true → Set" },
        { value: "1", label: "false → Set" },
      ]);
    });
    const list = screen.getByTestId("dialog-list") as HTMLSelectElement;
    expect(list.value).toBe("0");
    fireEvent.change(list, { target: { value: "1" } });
    fireEvent.keyDown(list, { key: "Enter" });
    expect(await chosen).toBe("1");
  });
});
