import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { ContextMenu } from "./ContextMenu";

afterEach(cleanup);

describe("the context menu", () => {
  it("is driven by the keyboard: the first item focused, arrows, Home and End move, Escape closes", () => {
    const done: string[] = [];
    let closed = 0;
    render(
      <ContextMenu
        x={10}
        y={10}
        onClose={() => closed++}
        items={[
          { label: "Open", action: () => done.push("open") },
          { label: "Connect to…", action: () => done.push("connect"), disabled: true },
          { label: "Rename…", action: () => done.push("rename") },
          { label: "Delete", action: () => done.push("delete"), danger: true },
        ]}
      />,
    );
    const focused = () => (document.activeElement as HTMLElement).textContent;
    expect(focused()).toBe("Open");
    fireEvent.keyDown(window, { key: "ArrowDown" });
    expect(focused()).toBe("Rename…"); // the disabled item is skipped
    fireEvent.keyDown(window, { key: "End" });
    expect(focused()).toBe("Delete");
    fireEvent.keyDown(window, { key: "ArrowDown" });
    expect(focused()).toBe("Open");
    fireEvent.keyDown(window, { key: "ArrowUp" });
    expect(focused()).toBe("Delete");
    fireEvent.click(screen.getByRole("menuitem", { name: "Delete" }));
    expect(done).toEqual(["delete"]);
    fireEvent.keyDown(window, { key: "Escape" });
    expect(closed).toBe(2);
  });
});
