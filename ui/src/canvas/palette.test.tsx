import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { NodeDescriptor } from "../gen/NodeDescriptor";
import { Palette, RECENT_MAX, remember } from "./Palette";

const descriptor = (type: string, displayName: string, group: NodeDescriptor["group"], description: string, version = 1) =>
  ({ type, displayName, group, description, version, icon: "box", inputs: [], outputs: [], parameters: [], credentials: [] }) as unknown as NodeDescriptor;

const all = [
  descriptor("trigger.manual", "Manual Trigger", "trigger", "Starts the workflow when you press Run."),
  descriptor("data.set", "Set", "data", "Adds or changes fields of each item."),
  descriptor("ai.chat", "AI Chat", "action", "Asks a chat model once per item."),
];

beforeEach(() => localStorage.clear());
afterEach(cleanup);

describe("the palette", () => {
  it("shows each node type's description and finds it by words of it", () => {
    render(<Palette descriptors={all} onDrop={() => {}} onAdd={() => {}} />);
    const set = screen.getByTestId("palette-data.set");
    expect(set.textContent).toContain("Adds or changes fields of each item.");
    expect(set.getAttribute("title")).toBe("Adds or changes fields of each item.\n(data.set)");
    fireEvent.change(screen.getByLabelText("Search nodes"), { target: { value: "chat model" } });
    expect(screen.queryByTestId("palette-data.set")).toBeNull();
    expect(screen.getByTestId("palette-ai.chat")).toBeTruthy();
  });

  it("lists the recently used node types first, kept between sessions", () => {
    const added: string[] = [];
    const { unmount } = render(<Palette descriptors={all} onDrop={() => {}} onAdd={(d) => added.push(d.type)} />);
    expect(screen.queryByTestId("palette-recent")).toBeNull();
    fireEvent.keyDown(screen.getByTestId("palette-ai.chat"), { key: "Enter" });
    fireEvent.keyDown(screen.getByTestId("palette-data.set"), { key: "Enter" });
    expect(added).toEqual(["ai.chat", "data.set"]);
    const recent = screen.getByTestId("palette-recent");
    expect(within(recent).getAllByRole("button").map((b) => b.getAttribute("data-testid"))).toEqual(["palette-recent-data.set", "palette-recent-ai.chat"]);
    unmount();
    render(<Palette descriptors={all} onDrop={() => {}} onAdd={() => {}} />);
    expect(screen.getByTestId("palette-recent").textContent).toContain("Set");
    // While searching, the groups alone show what matches.
    fireEvent.change(screen.getByLabelText("Search nodes"), { target: { value: "manual" } });
    expect(screen.queryByTestId("palette-recent")).toBeNull();
  });

  it("keeps the recent list short and without repeats", () => {
    let list: string[] = [];
    for (const t of ["a", "b", "c", "a", "d", "e", "f", "g"]) list = remember(list, t);
    expect(list).toEqual(["g", "f", "e", "d", "a"]);
    expect(list).toHaveLength(RECENT_MAX);
  });
});
