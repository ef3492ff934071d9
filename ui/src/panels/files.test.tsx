import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { setTransport } from "../api/client";
import type { Item } from "../gen/Item";
import { formatSize } from "../lib/size";
import { FilesView } from "./FilesView";

afterEach(cleanup);

const ref = "a".repeat(64);
const items: Item[] = [
  { json: { path: "/in/a.csv" }, binary: { data: { fileName: "a.csv", mimeType: "text/csv", size: 2048, sha256: ref, ref } } },
  { json: {} },
];

describe("the files view", () => {
  it("lists each file with its type and size, previews it and saves it where the dialog says", async () => {
    const calls: [string, unknown][] = [];
    setTransport(async (command, payload) => {
      calls.push([command, payload]);
      if (command === "file_preview") return { kind: "text", text: "name,n\nAda,1", truncated: false, size: 2048 };
      if (command === "file_save") return { path: (payload as { path: string }).path };
      throw { code: "bad_request", message: `unexpected ${command}` };
    });
    render(<FilesView items={items} />);
    const rows = screen.getAllByTestId("file-row");
    expect(rows).toHaveLength(1);
    expect(rows[0].textContent).toContain("a.csv");
    expect(rows[0].textContent).toContain("text/csv");
    expect(rows[0].textContent).toContain("2.0 KiB");

    fireEvent.click(screen.getByText("Preview"));
    await waitFor(() => expect(screen.getByTestId("file-preview").textContent).toContain("Ada,1"));
    expect(calls[0]).toEqual(["file_preview", { reference: ref, mimeType: "text/csv" }]);

    window.__SWITCHYARD_TEST_DIALOG_PATHS__ = ["/home/me/copy.csv"];
    fireEvent.click(screen.getByTestId("file-save"));
    await waitFor(() => expect(calls.some(([c]) => c === "file_save")).toBe(true));
    expect(calls.find(([c]) => c === "file_save")?.[1]).toEqual({ reference: ref, path: "/home/me/copy.csv" });
  });

  it("does not keep another node's preview open when the items change", async () => {
    setTransport(async () => ({ kind: "text", text: "first file", truncated: false, size: 10 }));
    const { rerender } = render(<FilesView items={items} />);
    fireEvent.click(screen.getByText("Preview"));
    await waitFor(() => expect(screen.getByTestId("file-preview").textContent).toContain("first file"));
    // The inspector shows another node: a file under the same item and name, other bytes.
    const other = "b".repeat(64);
    rerender(<FilesView items={[{ json: {}, binary: { data: { fileName: "b.pdf", mimeType: "application/pdf", size: 9, sha256: other, ref: other } } }]} />);
    expect(screen.queryByTestId("file-preview")).toBeNull();
    expect(screen.getByText("Preview")).toBeTruthy();
  });

  it("says when items carry no files, and sizes read well", () => {
    render(<FilesView items={[{ json: {} }]} />);
    expect(screen.getByText("These items carry no files.")).toBeTruthy();
    expect(formatSize(512)).toBe("512 B");
    expect(formatSize(3 * 1024 * 1024 * 1024)).toBe("3.0 GiB");
  });
});
