import { cleanup, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { DataTable } from "./DataTable";

afterEach(cleanup);

interface Row {
  id: string;
  n: number;
}

const columns = [
  { header: "Id", cell: (r: Row) => r.id },
  { header: "N", className: (r: Row) => (r.n > 1 ? "error-text" : undefined), testId: "n", cell: (r: Row) => r.n },
];

describe("DataTable", () => {
  it("shows the empty message instead of a bare header, or nothing", () => {
    const { container, rerender } = render(<DataTable rows={[]} rowKey={(r: Row) => r.id} columns={columns} empty="Nothing yet." />);
    expect(screen.getByText("Nothing yet.")).toBeTruthy();
    expect(container.querySelector("table")).toBeNull();
    rerender(<DataTable rows={[]} rowKey={(r: Row) => r.id} columns={columns} />);
    expect(container.innerHTML).toBe("");
  });

  it("renders headers, a row per item with per-row classes, and detail rows", () => {
    const rows = [
      { id: "a", n: 1 },
      { id: "b", n: 2 },
    ];
    render(<DataTable rows={rows} rowKey={(r) => r.id} columns={columns} testId="t" rowTestId="row" detail={(r) => r.id === "b" && <em>more about b</em>} />);
    const table = screen.getByTestId("t");
    expect(within(table).getAllByRole("columnheader").map((h) => h.textContent)).toEqual(["Id", "N"]);
    const cells = screen.getAllByTestId("n");
    expect(cells.map((c) => [c.textContent, c.className])).toEqual([
      ["1", ""],
      ["2", "error-text"],
    ]);
    expect(screen.getAllByTestId("row")).toHaveLength(2);
    expect(screen.getByText("more about b").closest("td")?.getAttribute("colspan")).toBe("2");
  });
});
