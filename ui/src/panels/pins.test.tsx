import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { cellValue, PinEditor } from "./PinEditor";

afterEach(cleanup);

describe("pinned data in the table view", () => {
  it("edits cells, adds and removes items and fields, and pins what the table shows", () => {
    const onSave = vi.fn();
    render(<PinEditor nodeName="Orders" items={[{ json: { a: 1, b: "x" } }]} onSave={onSave} onClose={() => undefined} />);
    fireEvent.click(screen.getByTestId("pin-table-view"));
    expect(screen.getByLabelText<HTMLInputElement>("Item 0 b").value).toBe("x");
    fireEvent.change(screen.getByLabelText("Item 0 a"), { target: { value: "5" } });
    fireEvent.change(screen.getByLabelText("New column"), { target: { value: "c" } });
    fireEvent.click(screen.getByText("Add column"));
    fireEvent.change(screen.getByLabelText("Item 0 c"), { target: { value: "hello" } });
    fireEvent.click(screen.getByTestId("pin-add-row"));
    fireEvent.change(screen.getByLabelText("Item 1 a"), { target: { value: "true" } });
    fireEvent.click(screen.getByLabelText("Remove column b"));
    expect(screen.queryByLabelText("Item 0 b")).toBeNull();
    // The JSON view shows the same items.
    fireEvent.click(screen.getByText("JSON"));
    expect(JSON.parse(screen.getByLabelText<HTMLTextAreaElement>("Pinned items (JSON)").value)).toEqual([{ a: 5, c: "hello" }, { a: true }]);
    fireEvent.click(screen.getByTestId("pin-table-view"));
    fireEvent.click(screen.getByLabelText("Remove item 1"));
    fireEvent.click(screen.getByText("Pin"));
    expect(onSave).toHaveBeenCalledWith([{ json: { a: 5, c: "hello" } }]);
  });

  it("keeps broken JSON in the JSON view and says why", () => {
    render(<PinEditor nodeName="Orders" items={[]} onSave={() => undefined} onClose={() => undefined} />);
    fireEvent.change(screen.getByLabelText("Pinned items (JSON)"), { target: { value: "[{oops" } });
    fireEvent.click(screen.getByTestId("pin-table-view"));
    expect(screen.getByText(/^not JSON: .*fix the JSON to see it as a table$/)).toBeTruthy();
    expect(screen.getByLabelText("Pinned items (JSON)")).toBeTruthy();
  });

  it("reads a cell as JSON where it can, else as text", () => {
    expect([cellValue("42"), cellValue("true"), cellValue("null"), cellValue('"42"'), cellValue("[1]"), cellValue("hi there"), cellValue("")]).toEqual([
      42,
      true,
      null,
      "42",
      [1],
      "hi there",
      undefined,
    ]);
  });
});
